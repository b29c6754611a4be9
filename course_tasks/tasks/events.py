"""Guide 002's event-driven social app ("Threads"): publish/subscribe, chains and groups.

Chapter 07_canvas. Every task appends one line to the app-data list :data:`LOG_KEY`
(``"send_welcome_email(user 7)"``) instead of sending mail or touching a feed, so a
notebook can see what ran, and how many times:

* guide 002 §2 pub/sub: :func:`publish_user_registered_event` sends one message per
  subscriber with ``app.send_task`` (by name: the publisher imports none of them);
* guide 002 §4 the user-registered event, four steps that each take ``user_id`` only
  (the guide chains them with ``.s(user_id)``, which hands every step after the first the
  previous result as an extra first argument);
* guide 002 §4 the post-liked event, four independent steps for a ``group``;
* a fan-out over a list the task only learns when it runs (a user's followers, kept in the
  app-data store): :func:`notify_each_follower` replaces itself with a ``group``
  (``Task.replace``), :func:`send_to_each_follower` sends the same group from its body.
"""

from __future__ import annotations

from typing import Any

from celery import group

from course_tasks.app import app
from course_tasks.store import store

#: The app-data list every event task appends a line to.
LOG_KEY = "events:log"

#: The app-data list of a user's followers: ``FOLLOWERS_KEY.format(user_id=7)``.
FOLLOWERS_KEY = "events:followers:{user_id}"

#: Guide 002 §2: who subscribes to which event (task names, as ``send_task`` needs them).
SUBSCRIBERS = {
    "user.registered": [
        f"{__name__}.notify_followers",
        f"{__name__}.send_welcome_email",
        f"{__name__}.update_recommendations",
    ],
}


def _log(line: str) -> str:
    store().rpush(LOG_KEY, line)
    return line


def log() -> list[str]:
    """The lines the event tasks appended, oldest first."""
    return [
        line.decode() if isinstance(line, bytes) else line
        for line in store().lrange(LOG_KEY, 0, -1)
    ]


def clear_log() -> None:
    """Empty the event log (a chapter's set-up cell calls this)."""
    store().delete(LOG_KEY)


def set_followers(user_id: int, followers: list[int]) -> None:
    """Replace the user's followers in the app-data store (what a fan-out reads at run time)."""
    key = FOLLOWERS_KEY.format(user_id=user_id)
    store().delete(key)
    if followers:
        store().rpush(key, *followers)


def followers(user_id: int) -> list[int]:
    """The user's followers, as :func:`set_followers` left them."""
    return [int(f) for f in store().lrange(FOLLOWERS_KEY.format(user_id=user_id), 0, -1)]


# --------------------------------------------------------------------------- pub/sub (§2)


@app.task
def publish_user_registered_event(user_id: int) -> list[str]:
    """Publish ``user.registered``: one message per subscriber, sent by name (guide 002 §2).

    Returns the subscribers' short names; the publisher does not wait for any of them.
    """
    sent = []
    for name in SUBSCRIBERS["user.registered"]:
        app.send_task(name, args=[user_id])
        sent.append(name.rsplit(".", 1)[-1])
    return sent


@app.task
def notify_followers(user_id: int) -> str:
    """Tell the user's followers (simulated)."""
    return _log(f"notify_followers(user {user_id})")


@app.task
def send_welcome_email(user_id: int) -> str:
    """Send the welcome mail (simulated: a log line, not the outbox of chapter 01)."""
    return _log(f"send_welcome_email(user {user_id})")


@app.task
def update_recommendations(user_id: int) -> str:
    """Recompute the user's recommendations (simulated)."""
    return _log(f"update_recommendations(user {user_id})")


# --------------------------------------------------------------------------- user registered (§4)


@app.task
def create_default_follows(user_id: int) -> str:
    """Make a new user follow the default accounts (simulated)."""
    return _log(f"create_default_follows(user {user_id})")


@app.task
def generate_initial_recommendations(user_id: int) -> str:
    """First recommendations for a new user (simulated)."""
    return _log(f"generate_initial_recommendations(user {user_id})")


@app.task
def update_user_statistics(user_id: int) -> str:
    """Count the new user in the statistics (simulated)."""
    return _log(f"update_user_statistics(user {user_id})")


# --------------------------------------------------------------------------- post liked (§4)


@app.task
def update_post_stats(post_id: int) -> str:
    """Add one like to the post's counters (simulated)."""
    return _log(f"update_post_stats(post {post_id})")


@app.task
def notify_post_author(post_id: int, user_id: int) -> str:
    """Tell the post's author who liked it (simulated)."""
    return _log(f"notify_post_author(post {post_id}, user {user_id})")


@app.task
def update_user_recommendations(user_id: int) -> str:
    """Take the like into account for the liker's recommendations (simulated)."""
    return _log(f"update_user_recommendations(user {user_id})")


@app.task
def log_interaction(kind: str, post_id: int, user_id: int) -> str:
    """Keep the interaction for analytics (simulated)."""
    return _log(f"log_interaction({kind}, post {post_id}, user {user_id})")


# --------------------------------------------------------------------------- fan-out at run time


@app.task
def notify_follower(user_id: int, follower_id: int) -> str:
    """Tell one follower about the user's new post (simulated)."""
    return _log(f"notify_follower(user {user_id} -> {follower_id})")


@app.task(bind=True)
def notify_each_follower(self: Any, user_id: int) -> Any:
    """Fan out over the followers read when the task runs, by replacing itself (chapter 07).

    ``self.replace(group(...))`` sends the group with ``celery.accumulate`` as its chord
    callback, under this task's id, and ends this task (``Ignore``): the caller's handle gives
    the list of the group's results.
    """
    return self.replace(group(notify_follower.s(user_id, f) for f in followers(user_id)))


@app.task
def send_to_each_follower(user_id: int) -> int:
    """The same fan-out sent from the task's body: returns how many it sent, at once."""
    fan_out = group(notify_follower.s(user_id, f) for f in followers(user_id))
    fan_out.apply_async()
    return len(fan_out.tasks)


@app.task
def record_failure(request: Any, exc: BaseException, traceback: Any) -> str:
    """An error callback (``link_error``): log which task failed and why.

    Celery calls an errback that takes three arguments *inline*, in the worker that ran
    the failed task, with the failed task's request, its exception and the traceback
    (``Backend._call_task_errbacks``).
    """
    return _log(f"record_failure({request.task.rsplit('.', 1)[-1]}: {type(exc).__name__}: {exc})")
