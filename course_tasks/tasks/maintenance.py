"""Periodic housekeeping tasks, the kind beat runs (guide 000 §2 scenario 2 and §8).

Chapters: 06_beat. ``celeryconfig.beat_schedule`` runs them on a schedule; they only touch
the app-data store, so they are safe to run at any time.
"""

from __future__ import annotations

import time

from course_tasks.app import app
from course_tasks.store import store


@app.task
def cleanup_expired_data(max_age_seconds: int = 7 * 24 * 3600) -> int:
    """Delete temporary files older than ``max_age_seconds`` (guide 000: nightly at 02:00).

    The "files" are members of the sorted set ``tmp-files``, scored by creation time.
    Returns how many were removed.
    """
    cutoff = time.time() - max_age_seconds
    return int(store().zremrangebyscore("tmp-files", "-inf", cutoff))


@app.task
def heartbeat() -> float:
    """Record that beat and a worker are alive: the time is stored under ``heartbeat``."""
    now = time.time()
    store().set("heartbeat", now)
    return now
