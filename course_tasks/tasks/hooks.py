"""Task options, the task request, and class-based tasks with handlers (guide 001 §3, §10).

Chapters: 03_defining_tasks (options read off ``send_notification``, ``self.request`` from
``describe_request``, ``ignore_result`` with ``log_action``, ``CallbackTask``) and its
exercise 03.4.

Handlers such as ``on_success`` run in the worker, not where the task was sent from; the
guide's ``CallbackTask`` prints, which lands in the worker's log. The course's version
writes what happened to the app-data store with :func:`record`, where a notebook in any
mode can read it back with :func:`events`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from celery import Task
from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store

logger = get_task_logger(__name__)

EVENTS_KEY = "hooks:events"
ACTIONS_KEY = "hooks:actions"
NOTIFICATIONS_KEY = "hooks:notifications"


def record(task_id: str, event: str, detail: Any = "") -> None:
    """Note that ``event`` happened to the task ``task_id`` (``detail`` is kept as text)."""
    entry = {"task_id": task_id, "event": event, "detail": str(detail)}
    store().rpush(EVENTS_KEY, json.dumps(entry))


def events(task_id: str | None = None, *, at_least: int = 0, timeout: float = 2.0) -> list[dict]:
    """The recorded events (of one task, if ``task_id`` is given), oldest first.

    Handlers run just *after* the worker stores the result, so a caller that has just seen
    the result waits up to ``timeout`` seconds for ``at_least`` events to arrive.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(raw) for raw in store().lrange(EVENTS_KEY, 0, -1)]
        if task_id is not None:
            found = [e for e in found if e["task_id"] == task_id]
        if len(found) >= at_least or time.monotonic() >= deadline:
            return found
        time.sleep(0.01)


def clear_events() -> None:
    """Forget every recorded event, logged action and notification."""
    store().delete(EVENTS_KEY, ACTIONS_KEY, NOTIFICATIONS_KEY)


class CallbackTask(Task):
    """Guide 001's task base class with handlers, recording instead of printing."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Called by the worker after the task returned ``retval`` (and it was stored)."""
        record(task_id, "success", retval)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called by the worker after the task raised ``exc`` and is marked FAILURE."""
        record(task_id, "failure", f"{type(exc).__name__}: {exc}")

    def on_retry(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called by the worker after the task asked to be retried because of ``exc``."""
        record(task_id, "retry", f"{type(exc).__name__}: {exc}")


class TemporaryError(ConnectionError):
    """A simulated error that goes away when the task is tried again."""


@app.task(base=CallbackTask, bind=True, max_retries=3, default_retry_delay=1.0)
def important_task(self: Any, data: list[float], fail_attempts: int = 0) -> float:
    """Guide 001's ``important_task(data)`` on a :class:`CallbackTask` base: sum ``data``.

    The first ``fail_attempts`` attempts fail with :class:`TemporaryError` and are retried
    after 1 s: long enough that, on a loaded prefork worker, the retry never succeeds (and
    records ``success``) before the failed attempt's ``on_retry`` has recorded ``retry``.
    Empty ``data`` fails for good with ``ValueError``.
    """
    if self.request.retries < fail_attempts:
        error = TemporaryError(f"attempt {self.request.retries + 1} failed")
        raise self.retry(exc=error)
    if not data:
        raise ValueError("no data to process")
    return sum(data)


@app.task(
    name="tasks.send_notification",
    bind=True,
    max_retries=3,
    default_retry_delay=0.1,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=300,
    soft_time_limit=240,
)
def send_notification(self: Any, user_id: int) -> str:
    """Guide 001 §3's task with every option it lists (a retry waits 0.1 s, not 60 s).

    Notifying the user is simulated: the message is appended to ``hooks:notifications``.
    """
    message = f"notification for user {user_id}"
    store().rpush(NOTIFICATIONS_KEY, message)
    return message


@app.task(bind=True)
def describe_request(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return what ``self.request`` says about this very call (``bind=True``)."""
    request = self.request
    return {
        "id": request.id,
        "args": list(request.args or ()),
        "kwargs": dict(request.kwargs or {}),
        "retries": request.retries,
        "queue": (request.delivery_info or {}).get("routing_key"),
        "is_eager": bool(request.is_eager),
        "called_directly": request.called_directly,
    }


@app.task(ignore_result=True)
def log_action(action: str) -> str:
    """Guide 001 §10: a task whose result nobody needs, so none is stored."""
    store().rpush(ACTIONS_KEY, action)
    logger.info("Action: %s", action)
    return action


def actions(*, at_least: int = 0, timeout: float = 2.0) -> list[str]:
    """The actions :func:`log_action` logged, waiting up to ``timeout`` s for ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        found = list(store().lrange(ACTIONS_KEY, 0, -1))
        if len(found) >= at_least or time.monotonic() >= deadline:
            return found
        time.sleep(0.01)
