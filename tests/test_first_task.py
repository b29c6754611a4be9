"""The first task a notebook sends after ``runtime.start()`` has nothing left to set up.

Celery builds a thread's result backend on first use: without the warm-up, the first
``delay()`` imported the backend and fakeredis and connected its pub/sub before the message
left, and the worker thread built its own backend while the task waited to be STARTED.
Timings are in ``benchmarks/``; these tests check what is built, in a fresh interpreter (the
imports are what a first task paid for).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import ROOT, course_env

PROBE = textwrap.dedent(
    """
    import json, sys
    from celery import signals
    from course_tasks import runtime
    from course_tasks.app import app
    from course_tasks.embedded import backend
    from course_tasks.tasks.basics import add

    worker_had_backend = []

    @signals.task_prerun.connect
    def before_started(**_):  # in the worker thread, before it stores STARTED
        worker_had_backend.append("backend" in vars(app._local))

    runtime.start(quiet=True)
    consumer = app.backend.result_consumer
    found = {
        "pubsub": consumer._pubsub is not None,
        "subscribed": sorted(consumer.subscribed_to),
        "warm_up_key": consumer._get_key_for_task(backend.WARM_UP_ID).decode(),
    }
    before = set(sys.modules)
    found["result"] = add.delay(2, 3).get(timeout=10)
    found["imported_by_first_task"] = sorted(set(sys.modules) - before)
    found["worker_had_backend"] = worker_had_backend
    runtime.stop(quiet=True)
    print(json.dumps(found))
    """
)


def test_start_builds_what_the_first_task_would_have_built() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=course_env(COURSE_BROKER=None),
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.splitlines()[-1])
    assert found["result"] == 5
    assert found["pubsub"], "the notebook's result consumer has no pub/sub connection yet"
    assert found["subscribed"] == [], "the warm-up left a subscription behind"
    assert found["warm_up_key"].startswith("celery-task-meta-")
    assert found["imported_by_first_task"] == []
    assert found["worker_had_backend"] == [True]
