"""Quick calculations for guide 003's queue routing, and the runs they record.

Guide 003 routes ``demo_tasks.*`` to the queue ``demo_tasks``, served by a worker with
concurrency 4: many short tasks side by side. The tasks carry the guide's names
(``name="demo_tasks..."``) so that the guide's glob routes them as written. Chapter:
08_routing (dedicated workers, priorities, prefetch, guide 003 §7's registration).

Every task records its run in the app-data list :data:`RUNS_KEY`: what ran, from which
queue, when it started and ended (``time.time()``). :func:`runs` reads them
back, so a notebook can draw who ran what, and when, in every mode.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from course_tasks.app import app
from course_tasks.store import store

RUNS_KEY = "routing:runs"
STATS_KEY = "routing:user-stats"


@contextmanager
def record_run(task: Any, label: str) -> Iterator[None]:
    """Record that ``task`` ran ``label``: the queue it came from, start and end time.

    (The queue, not ``task.request.hostname``: a ``threads`` pool reports the machine's
    host name there, a ``prefork`` pool the worker's node name.)
    """
    start = time.time()
    try:
        yield
    finally:
        run = {"label": label, "queue": _queue(task), "start": start, "end": time.time()}
        store().rpush(RUNS_KEY, json.dumps(run))


def _queue(task: Any) -> str | None:
    info = task.request.delivery_info or {}
    return info.get("routing_key")


def runs() -> list[dict[str, Any]]:
    """Every recorded run, in the order they ended."""
    return [json.loads(raw) for raw in store().lrange(RUNS_KEY, 0, -1)]


def clear_runs() -> None:
    """Forget every recorded run (and the user statistics)."""
    store().delete(RUNS_KEY, STATS_KEY)


@app.task(bind=True, name="demo_tasks.simple_calculation")
def simple_calculation(self: Any, x: int, y: int, seconds: float = 0.2) -> int:
    """``x + y`` after ``seconds``: guide 003's quick task (1.86 s in the guide's log)."""
    with record_run(self, f"calc({x}, {y})"):
        time.sleep(seconds)
    return x + y


@app.task(bind=True, name="demo_tasks.update_user_statistics")
def update_user_statistics(self: Any, user_id: int) -> int:
    """Count one more registered user (guide 003 §7: a fast-queue task); the new count."""
    with record_run(self, f"stats({user_id})"):
        count = int(store().incr(STATS_KEY))
    return count


@app.task(bind=True, name="demo_tasks.record")
def record(self: Any, label: str, seconds: float = 0.05) -> str:
    """Record a run named ``label`` (priorities: the order in which tasks really ran)."""
    with record_run(self, label):
        time.sleep(seconds)
    return label


@app.task(bind=True, name="demo_tasks.long_job")
def long_job(self: Any, label: str, seconds: float = 1.5) -> str:
    """A long task acknowledged early, when it starts (Celery's default)."""
    with record_run(self, label):
        time.sleep(seconds)
    return label


@app.task(bind=True, name="demo_tasks.long_job_acks_late", acks_late=True)
def long_job_acks_late(self: Any, label: str, seconds: float = 1.5) -> str:
    """The same long task with ``acks_late=True``: acknowledged only when it has finished."""
    with record_run(self, label):
        time.sleep(seconds)
    return label
