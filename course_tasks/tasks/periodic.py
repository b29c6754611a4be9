"""Guide 004's periodic jobs (§4's table) and §7's "new task with an explicit name".

Chapter: 06_periodic_tasks. Each job simulates its work (ending chats, expiring coupons, ...)
by recording one run in the app-data list ``periodic-runs``: the job's name, its keyword
arguments and the worker's clock. :func:`runs` and :func:`counts` read them back, so that a
notebook can count what beat sent and a worker really ran.

Like guide 004 (``@celery_app.task(name='app.celery_tasks.my_new_task')``), every job is
declared with an explicit ``name=`` (``platform.<job>``), so its beat entry names it the same
way whatever module it lives in.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from course_tasks.app import app
from course_tasks.store import store

RUNS_KEY = "periodic-runs"

#: Guide 004 §4: job -> what it does; the frequency is in the chapter's ``beat_schedule``.
JOBS = {
    "process_customer_service_queue": "hand waiting customers to free agents (every 30 s)",
    "auto_end_timeout_chats": "end chats idle for too long (every 30 s)",
    "send_timeout_warnings": "warn users whose chat is about to time out (every 30 s)",
    "cancel_expired_tasks": "cancel tasks past their deadline (every minute)",
    "check_expired_coupons": "expire coupons (every 5 minutes)",
    "check_expired_invitation_codes": "expire invitation codes (every 5 minutes)",
    "check_expired_points": "expire loyalty points (every 5 minutes)",
    "check_and_end_activities": "end finished activities (every 5 minutes)",
    "update_all_users_statistics": "recompute every user's statistics (every 10 minutes)",
    "cleanup_long_inactive_chats": "delete long-inactive chats (daily at 02:00)",
    "update_featured_task_experts_response_time": "refresh experts' response times (daily 03:00)",
    "expire_vip_memberships": "guide 004 §7: a new job, registered under an explicit name",
}


def record_run(job: str, **kwargs: Any) -> dict[str, Any]:
    """Append one run of ``job`` to :data:`RUNS_KEY`; return what was recorded."""
    run = {"job": job, "kwargs": kwargs, "at": time.time()}
    store().rpush(RUNS_KEY, json.dumps(run))
    return run


def runs() -> list[dict[str, Any]]:
    """Every recorded run, oldest first."""
    return [json.loads(raw) for raw in store().lrange(RUNS_KEY, 0, -1)]


def counts() -> Counter[str]:
    """How many times each job ran."""
    return Counter(run["job"] for run in runs())


def clear_runs() -> int:
    """Forget every recorded run; return how many there were."""
    n = store().llen(RUNS_KEY)
    store().delete(RUNS_KEY)
    return int(n)


def _declare(job: str, doc: str) -> Any:
    def run_job(**kwargs: Any) -> dict[str, Any]:
        return record_run(job, **kwargs)

    run_job.__name__ = run_job.__qualname__ = job
    run_job.__doc__ = f"Simulated: {doc}. Records one run in ``{RUNS_KEY}``."
    return app.task(name=f"platform.{job}")(run_job)


# One module-level task per job, each under its explicit name ``platform.<job>``.
for _job, _doc in JOBS.items():
    globals()[_job] = _declare(_job, _doc)
del _job, _doc
