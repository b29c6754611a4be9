"""Chapter 08: the checks on right and wrong answers, and the dedicated workers they use."""

from __future__ import annotations

import threading
import time

import pytest
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import runtime, workers
from course_tasks.app import app
from course_tasks.tasks import demo
from course_tasks.tasks.ai import run_ai_text_generation
from course_tasks.tasks.demo import simple_calculation

pytestmark = pytest.mark.usefixtures("worker")


# --------------------------------------------------------------------------- 08.1

GOOD_ROUTES = {
    "ai_tasks.*": {"queue": "ai_processing"},
    "demo_tasks.*": {"queue": "demo_tasks"},
}


def test_routes_right() -> None:
    assert_passed(verdict("08.1", GOOD_ROUTES), "the rest -> celery")
    assert_passed(verdict("08.1", {"ai_tasks.*": "ai_processing", "demo_tasks.*": "demo_tasks"}))


def test_routes_stub_and_type() -> None:
    assert_fails(verdict("08.1", ...), "not yet")
    assert_fails(
        verdict("08.1", "ai_processing"), "routes is a str", "write a dict", hint_within=True
    )


def test_routes_exact_names() -> None:
    routes = {
        "ai_tasks.run_ai_text_generation": {"queue": "ai_processing"},
        "demo_tasks.simple_calculation": {"queue": "demo_tasks"},
    }
    assert_fails(
        verdict("08.1", routes),
        "ai_tasks.generate_user_profile goes to the queue 'celery'",
        "keys without a '*' match one task name exactly",
    )


def test_routes_module_path() -> None:
    routes = {"course_tasks.tasks.ai.*": "ai_processing", "course_tasks.tasks.demo.*": "demo_tasks"}
    assert_fails(verdict("08.1", routes), "goes to the queue 'celery'", "no pattern matches")


def test_routes_swapped_and_typo() -> None:
    swapped = {"ai_tasks.*": "demo_tasks", "demo_tasks.*": "ai_processing"}
    assert_fails(verdict("08.1", swapped), "not 'ai_processing'", "the two queues are swapped")
    typo = {"ai_tasks.*": "ai-processing", "demo_tasks.*": "demo_tasks"}
    assert_fails(verdict("08.1", typo), "'ai-processing'", "no worker reads 'ai-processing'")


def test_routes_catch_all_default() -> None:
    routes = {**GOOD_ROUTES, "*": {"queue": "default"}}
    assert_fails(
        verdict("08.1", routes),
        "course_tasks.tasks.basics.add goes to the queue 'default', not 'celery'",
        "a catch-all pattern",
    )


# --------------------------------------------------------------------------- 08.2


def rush(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent")


def rush_stub(x, y): ...


def rush_delay(x, y):
    return simple_calculation.delay(x, y, queue="urgent")


def rush_signature(x, y):
    return simple_calculation.s(x, y).set(queue="urgent")


def rush_default(x, y):
    return simple_calculation.apply_async((x, y))


def rush_fixed(x, y):
    return simple_calculation.apply_async((2, 3), queue="urgent")


def rush_id(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent").id


def _routes_unchanged() -> None:
    assert app.conf.task_routes is None
    assert app.amqp.router.route({}, simple_calculation.name)["queue"].name == "celery"


def test_rush_right() -> None:
    assert_passed(verdict("08.2", rush), "went to 'urgent'")
    _routes_unchanged()


def test_rush_wrong() -> None:
    assert_fails(verdict("08.2", rush_stub), "not yet")
    assert_fails(
        verdict("08.2", rush_delay), "unexpected keyword argument 'queue'", "delay() passes"
    )
    assert_fails(verdict("08.2", rush_signature), "returned a signature", "a signature is only")
    assert_fails(
        verdict("08.2", rush_default),
        "went to the queue 'course-check-demo-08', not 'urgent'",
        "queue='urgent' in apply_async",
    )
    assert_fails(
        verdict("08.2", rush_fixed), "rush(40, 2) sent args=[2, 3]", "pass the function's own"
    )
    assert_fails(verdict("08.2", rush_id), "returned the task id", "return the AsyncResult")
    assert_fails(
        verdict("08.2", simple_calculation), "rush is a Celery task", "keep rush a plain function"
    )
    _routes_unchanged()


# --------------------------------------------------------------------------- 08.3


def worker_command(queue, concurrency, name):
    return ["celery", "-A", "course_tasks", "worker", "-Q", queue, "-c", str(concurrency),
            "-n", f"{name}@%h"]  # fmt: skip


def test_worker_command_right() -> None:
    assert_passed(verdict("08.3", worker_command), "-n ai-worker@%h")

    def as_string(q, c, n):
        return f"celery -A course_tasks worker --queues={q} --concurrency={c} -n {n}@%h"

    assert_passed(verdict("08.3", as_string))


def test_worker_command_wrong() -> None:
    def no_app(q, c, n):
        return ["celery", "worker", "-Q", q, "-c", str(c), "-n", f"{n}@%h"]

    def no_at(q, c, n):
        return ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c", str(c), "-n", n]

    def no_c(q, c, n):
        return ["celery", "-A", "course_tasks", "worker", "-Q", q, "-n", f"{n}@%h"]

    def both_queues(q, c, n):
        return ["celery", "-A", "course_tasks", "worker", "-Q", "ai_processing,demo_tasks",
                "-c", str(c), "-n", f"{n}@%h"]  # fmt: skip

    def int_item(q, c, n):
        return ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c", c, "-n", f"{n}@%h"]

    def bad_option(q, c, n):
        return ["celery", "-A", "course_tasks", "worker", "--queue", q, "-c", str(c)]

    def stub(q, c, n): ...

    assert_fails(verdict("08.3", stub), "not yet")
    assert_fails(verdict("08.3", no_app), "runs the app None", "put -A course_tasks")
    assert_fails(
        verdict("08.3", no_at),
        "-n ai-worker gives the node name 'celery@ai-worker'",
        "a name without '@'",
    )
    assert_fails(verdict("08.3", no_c), "concurrency is None (one per CPU)", "-c 1")
    assert_fails(verdict("08.3", both_queues), "reads ['ai_processing', 'demo_tasks']", "-Q QUEUE")
    assert_fails(verdict("08.3", int_item), "holding an int", "return a list of strings")
    assert_fails(verdict("08.3", bad_option), "celery worker refuses it", "-Q QUEUE -c N")


# --------------------------------------------------------------------------- 08.4


def test_prefetch_right() -> None:
    good = {"worker_prefetch_multiplier": 1, "task_acks_late": True}
    assert_passed(verdict("08.4", good), "held no short task (2 stayed queued)")
    assert workers.running() == []


def test_prefetch_wrong() -> None:
    assert_fails(
        verdict("08.4", {"worker_prefetch_multiplier": ..., "task_acks_late": ...}), "not yet"
    )
    assert_fails(
        verdict("08.4", {"worker_prefetch_multiplier": 4, "task_acks_late": False}),
        "held 2 short task(s)",
        "the worker reserves 4 x concurrency",
    )
    assert_fails(
        verdict("08.4", {"worker_prefetch_multiplier": 1, "task_acks_late": False}),
        "held 1 short task(s)",
        "acknowledged early",
    )
    assert_fails(
        verdict("08.4", {"worker_prefetch_multiplier": 0, "task_acks_late": True}),
        "held 2 short task(s)",
        "0 means no limit",
    )
    assert_fails(
        verdict("08.4", {"worker_prefetch_multiplier": 1, "task_acks_late": "True"}),
        "task_acks_late is 'True'",
        "it is True or False",
    )
    assert_fails(verdict("08.4", {"worker_prefetch_multiplier": 1}), "no 'task_acks_late'", "set")
    assert workers.running() == []


# --------------------------------------------------------------------------- workers


def test_dedicated_workers_run_in_parallel_and_stop_cleanly() -> None:
    demo.clear_runs()
    before = set(threading.enumerate())
    ai, calc = workers.start(
        workers.Spec("t-ai", ("t_ai",), 1), workers.Spec("t-demo", ("t_demo",), 4)
    )
    assert runtime.services() == [workers.SERVICE]
    started = time.monotonic()
    slow = run_ai_text_generation.apply_async(("x", 0.6), queue="t_ai")
    quick = [simple_calculation.apply_async((i, i, 0.3), queue="t_demo") for i in range(4)]
    assert [q.get(timeout=5) for q in quick] == [0, 2, 4, 6]
    quick_done = time.monotonic() - started
    slow.get(timeout=5)
    assert quick_done < 0.6 + 0.3  # four at once, not one after the other behind the AI task
    queues = app.control.inspect(timeout=0.5, destination=[ai.node, calc.node]).active_queues()
    assert {node: [q["name"] for q in qs] for node, qs in queues.items()} == {
        ai.node: ["t_ai"],
        calc.node: ["t_demo"],
    }
    assert {r["queue"] for r in demo.runs()} == {"t_ai", "t_demo"}
    assert app.amqp.queues._consume_from is None  # the app's own selection is untouched
    workers.stop()
    assert workers.running() == [] and runtime.services() == []
    assert set(threading.enumerate()) <= before


def test_priority_worker_on_the_redis_transport() -> None:
    demo.clear_runs()
    before = set(threading.enumerate())
    with workers.redis_connection() as conn:
        conn.default_channel.queue_purge("t_priority")
        for label, priority in [("p9", 9), ("p0", 0), ("p5", 5), ("p3", 3)]:
            demo.record.apply_async((label, 0.0), queue="t_priority", priority=priority,
                                    connection=conn)  # fmt: skip
    workers.start(workers.Spec("t-prio", ("t_priority",), 1, prefetch_multiplier=1, broker="redis"))
    deadline = time.monotonic() + 5
    while len(demo.runs()) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers.stop()
    assert [r["label"] for r in demo.runs()] == ["p0", "p5", "p3", "p9"]
    assert set(threading.enumerate()) <= before


def test_stop_is_idempotent_and_tracked_by_runtime() -> None:
    workers.start(workers.Spec("t-once", ("t_once",), 2))
    runtime.stop(quiet=True)  # the chapter's last cell stops them too
    assert workers.running() == [] and runtime.services() == []
    workers.stop()
    runtime.start(quiet=True)


def test_starting_a_worker_leaves_the_others_running() -> None:
    (first,) = workers.start(workers.Spec("t-first", ("t_first",), 1))
    (second,) = workers.start(workers.Spec("t-second", ("t_second",), 1))
    replies = app.control.ping(destination=[first.node, second.node], timeout=0.5) or []
    assert sorted(node for reply in replies for node in reply) == [first.node, second.node]
    workers.stop("t-first")
    assert workers.running() == [second.node]
    workers.stop()


# --------------------------------------------------------------------------- redis mode

_REDIS_SNIPPET = """
import os, sys
from course_tasks import runtime, workers
runtime.start(quiet=True)
ai, demo = workers.start(workers.Spec("t-ai", ("t_ai",), 1), workers.Spec("t-demo", ("t_demo",), 2))
from course_tasks.tasks.demo import simple_calculation
print(simple_calculation.apply_async((2, 3, 0), queue="t_demo").get(timeout=10))
print(ai._process.pid, demo._process.pid, flush=True)
if sys.argv[-1] == "die":
    os._exit(0)          # the kernel dies: no atexit, no runtime.stop()
runtime.stop(quiet=True)
print(runtime.services())
"""


def _gone(pid: int, seconds: float = 10.0) -> bool:
    import os

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["stop", "die"])
def test_worker_processes_in_redis_mode_never_outlive_their_starter(
    redis_worker: str, how: str
) -> None:
    import subprocess
    import sys

    from conftest import ROOT, course_env

    done = subprocess.run(
        [sys.executable, "-c", _REDIS_SNIPPET, how],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env=course_env(COURSE_BROKER=redis_worker),
    )  # fmt: skip
    lines = done.stdout.split("\n")
    assert lines[0] == "5", done.stdout + done.stderr
    pids = [int(p) for p in lines[1].split()]
    if how == "stop":
        assert lines[2] == "[]"
    assert all(_gone(pid) for pid in pids), f"worker process groups {pids} still run"
