"""Periodic housekeeping tasks, the kind beat runs (guide 000 §2 scenario 2 and §8).

Chapters: 06_periodic_tasks. ``celeryconfig.beat_schedule`` runs them on a schedule; they
only touch the app-data store, so they are safe to run at any time. Guide 000 §11's daily
statistics (:func:`generate_daily_stats`) count the day's orders and mail them to the admin.
"""

from __future__ import annotations

import json
import time

from course_tasks.app import app
from course_tasks.store import store
from course_tasks.tasks.email import deliver


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


ORDERS_KEY = "orders"


def record_order(day: str, amount: float) -> None:
    """Simulate a shop order placed on ``day`` (``YYYY-MM-DD``) for ``amount``."""
    store().rpush(ORDERS_KEY, json.dumps({"day": day, "amount": amount}))


def clear_orders() -> None:
    """Forget every order and every day's stored statistics."""
    store().delete(ORDERS_KEY, *store().keys("daily-stats:*"))


@app.task
def generate_daily_stats(day: str) -> dict[str, float | int | str]:
    """Guide 000 §11: count ``day``'s orders and revenue, store them, mail the admin.

    The statistics are kept in the hash ``daily-stats:<day>``; the mail goes through the
    simulated mail server of :mod:`course_tasks.tasks.email` (it takes ``SMTP_SECONDS``).
    """
    orders = [o for o in map(json.loads, store().lrange(ORDERS_KEY, 0, -1)) if o["day"] == day]
    revenue = round(sum(o["amount"] for o in orders), 2)
    stats = {"day": day, "orders": len(orders), "revenue": revenue}
    store().hset(f"daily-stats:{day}", mapping=stats)
    deliver("admin@example.com", f"Daily statistics {day}", json.dumps(stats))
    return stats
