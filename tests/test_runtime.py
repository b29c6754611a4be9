"""Starting and stopping: idempotent, fast enough to use per notebook, and leak-free."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import run_python
from course_tasks import runtime
from course_tasks.embedded import transport
from course_tasks.tasks.basics import add


def test_start_is_idempotent_and_stop_cleans_up() -> None:
    before = set(threading.enumerate())
    runtime.start(quiet=True)
    first = runtime.status()
    runtime.start(quiet=True)
    assert first is not None and first.mode == runtime.status().mode == "embedded"
    assert first.workers == [runtime.EMBEDDED_NODENAME]
    assert runtime.is_running()
    assert runtime.leftover_threads()  # the worker thread is there while it runs
    assert add.delay(1, 2).get(timeout=5) == 3
    runtime.stop(quiet=True)
    assert runtime.leftover_threads() == []
    runtime.stop(quiet=True)  # a second stop is harmless
    assert not runtime.is_running()
    assert set(threading.enumerate()) <= before


def test_context_manager_stops_even_after_an_error() -> None:
    try:
        with runtime.running() as status:
            assert status.mode == "embedded"
            assert add.delay(2, 2).get(timeout=5) == 4
            raise KeyError("boom")
    except KeyError:
        pass
    assert not runtime.is_running()
    assert runtime.leftover_threads() == []


def test_restart_after_stop_works() -> None:
    for n in range(3):
        with runtime.running():
            assert add.delay(n, n).get(timeout=5) == 2 * n


def test_stop_reports_what_it_did(capsys) -> None:
    runtime.start(quiet=True)
    runtime.stop()
    assert capsys.readouterr().out == "Course runtime stopped: no worker left running.\n"


def test_start_prints_the_mode(capsys) -> None:
    runtime.start()
    runtime.stop(quiet=True)
    out = capsys.readouterr().out
    assert out.startswith("Course mode: embedded (")
    assert f"Workers: {runtime.EMBEDDED_NODENAME}" in out


def test_messages_sent_while_stopped_run_after_restart() -> None:
    result = add.delay(5, 5)  # no worker yet: the message waits in the broker
    assert result.state == "PENDING"
    with runtime.running():
        assert result.get(timeout=5) == 10


def test_waiting_consumer_is_woken_by_stopping_flag() -> None:
    # drain_events would wait its whole timeout; set_stopping wakes it at once.
    from kombu import Queue

    from course_tasks import app

    with (
        app.connection_for_read() as conn,
        conn.Consumer(Queue("nobody-sends-here"), callbacks=[lambda body, message: None]),
    ):
        timer = threading.Timer(0.05, transport.set_stopping, args=(True,))
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError):
                conn.drain_events(timeout=30)
        finally:
            transport.set_stopping(False)
            timer.join()
        assert time.monotonic() - started < 5


def test_atexit_stops_the_worker_in_a_script() -> None:
    proc = run_python(
        "from course_tasks import runtime\n"
        "from course_tasks.tasks.basics import add\n"
        "runtime.start(quiet=True)\n"
        "print(add.delay(1, 1).get(timeout=5))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"


def test_unreachable_redis_is_a_clear_error_within_seconds() -> None:
    proc = run_python(
        "import time\n"
        "from course_tasks import runtime\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    runtime.start()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, '|', exc, '|', round(time.monotonic() - t))\n",
        COURSE_BROKER="redis://127.0.0.1:1/0",
    )
    name, message, seconds = proc.stdout.split(" | ")
    assert name == "BrokerUnreachable"
    assert "redis://127.0.0.1:1/0" in message and "Fix:" in message
    assert int(seconds) < 10


def test_start_refuses_a_celery_broker_override() -> None:
    proc = run_python(
        "from course_tasks import runtime\n"
        "try:\n"
        "    runtime.start()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n",
        CELERY_RESULT_BACKEND="redis://elsewhere/1",
    )
    assert proc.stdout.startswith("CourseError CELERY_RESULT_BACKEND set in the environment")
    assert "unset CELERY_RESULT_BACKEND" in proc.stdout


def test_course_error_renders_without_a_traceback_in_ipython() -> None:
    from course_tasks.errors import BrokerUnreachable

    exc = BrokerUnreachable("Cannot reach Redis at redis://x/0.", "start Redis.")
    assert exc._render_traceback_() == [
        "BrokerUnreachable: Cannot reach Redis at redis://x/0.\nFix: start Redis."
    ]


def test_stop_stops_tracked_services_newest_first_and_names_survivors(capsys) -> None:
    order: list[str] = []
    state = {"beat": True, "flower": True, "stubborn": True}

    def stopper(name: str):
        def stop() -> None:
            order.append(name)
            if name != "stubborn":
                state[name] = False

        return stop

    runtime.start(quiet=True)
    for name in ("beat", "stubborn", "flower"):
        runtime.track(name, stopper(name), lambda name=name: state[name])
    assert runtime.services() == ["beat", "stubborn", "flower"]
    runtime.stop()
    assert order == ["flower", "stubborn", "beat"]
    assert capsys.readouterr().out == "Course runtime stopped, but still running: stubborn\n"
    assert runtime.services() == []  # forgotten once stopped (or given up on)


def test_a_service_whose_stop_raises_does_not_keep_the_others_running() -> None:
    stopped: list[str] = []

    def broken() -> None:
        raise OSError("already gone")

    runtime.track("first", lambda: stopped.append("first"), lambda: "first" not in stopped)
    runtime.track("broken", broken, lambda: False)
    runtime.stop(quiet=True)
    assert stopped == ["first"] and runtime.services() == []


def test_get_after_stop_says_so_at_once_with_the_fix() -> None:
    from course_tasks.errors import WorkerStopped

    runtime.start(quiet=True)
    done = add.delay(1, 1)
    assert done.get(timeout=5) == 2
    runtime.stop(quiet=True)
    assert done.get(timeout=5) == 2  # a finished task is still there to read
    waiting = add.delay(2, 3)
    started = time.monotonic()
    with pytest.raises(WorkerStopped) as caught:
        waiting.get(timeout=5)
    assert time.monotonic() - started < 0.5
    assert "No worker is running in this kernel" in str(caught.value)
    assert "Fix: run `runtime.start()`" in str(caught.value)
    runtime.start(quiet=True)
    assert waiting.get(timeout=5) == 5  # the message waited in its queue
    runtime.stop(quiet=True)
