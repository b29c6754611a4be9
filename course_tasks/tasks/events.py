"""Guide 002's event-driven social app ("Threads"): publish/subscribe, chains and groups.

Chapter 07_canvas. Every task appends one line to the app-data list :data:`LOG_KEY`
(``"send_welcome_email(user 7)"``) instead of sending mail or touching a feed, so a
notebook can see what ran, and how many times:

* guide 002 §2 pub/sub: :func:`publish_user_registered_event` sends one message per
  subscriber with ``app.send_task`` (by name: the publisher imports none of them);
* guide 002 §4 the user-registered event, four steps that each take ``user_id`` only
  (the guide chains them with ``.s(user_id)``, which hands every step after the first the
  previous result as an extra first argument);
* guide 002 §4 the post-liked event, four independent steps for a ``group``.
"""

from __future__ import annotations

from typing import Any

from course_tasks.app import app
from course_tasks.store import store

#: The app-data list every event task appends a line to.
LOG_KEY = "events:log"

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


@app.task
def record_failure(request: Any, exc: BaseException, traceback: Any) -> str:
    """An error callback (``link_error``): log which task failed and why.

    Celery calls an errback that takes three arguments *inline*, in the worker that ran
    the failed task, with the failed task's request, its exception and the traceback
    (``Backend._call_task_errbacks``).
    """
    return _log(f"record_failure({request.task.rsplit('.', 1)[-1]}: {type(exc).__name__}: {exc})")
