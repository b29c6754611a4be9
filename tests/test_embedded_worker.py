"""The embedded worker gives real asynchronous Celery behaviour (issue: foundation)."""

from __future__ import annotations

import time

import pytest
from celery import chain, chord, group

from course_tasks import app, runtime
from course_tasks.tasks import email
from course_tasks.tasks.basics import add, multiply, process_items, sleepy_add, xsum

pytestmark = pytest.mark.usefixtures("worker")


def states_of(result, timeout: float = 5.0) -> list[str]:
    """Every distinct state ``result`` goes through until it is ready, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = result.state
        if not seen or seen[-1] != state:
            seen.append(state)
        if result.ready():
            return seen
        time.sleep(0.005)
    raise AssertionError(f"not ready after {timeout} s; states so far {seen}")


def test_round_trip() -> None:
    assert add.delay(2, 3).get(timeout=5) == 5


def test_pending_started_success() -> None:
    result = sleepy_add.delay(1, 1, seconds=0.3)
    assert states_of(result) == ["PENDING", "STARTED", "SUCCESS"]
    assert result.result == 2


def test_progress_meta_is_visible_while_running() -> None:
    result = process_items.delay(list(range(4)), seconds_per_item=0.05)
    metas = []
    while not result.ready():
        if result.state == "PROGRESS":
            metas.append(result.info["current"])
        time.sleep(0.005)
    assert result.get(timeout=5) == {"processed": 4}
    assert metas and metas == sorted(metas) and set(metas) <= {1, 2, 3, 4}


def test_retry_with_countdown(fast_smtp: None) -> None:
    email.fail_next(1)
    result = email.send_email.delay("ada@example.com", "Hi", "Hello")
    states = states_of(result, timeout=8)
    assert "RETRY" in states and states[-1] == "SUCCESS"
    assert result.get(timeout=1)["to"] == "ada@example.com"
    assert [m["to"] for m in email.outbox()] == ["ada@example.com"]


def test_retries_exhausted_is_failure(fast_smtp: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email.send_email, "default_retry_delay", 0.01)
    email.fail_next(10)
    result = email.send_email.delay("bob@example.com", "Hi", "Hello")
    with pytest.raises(email.SMTPUnavailable):
        result.get(timeout=5)
    assert result.state == "FAILURE"
    assert email.outbox() == []


def test_canvas_chain_group_chord() -> None:
    assert chain(add.s(4, 4), multiply.s(8)).apply_async().get(timeout=5) == 64
    assert (add.s(4, 4) | multiply.s(8)).delay().get(timeout=5) == 64
    assert group(add.s(i, i) for i in (2, 4, 8, 16)).apply_async().get(timeout=5) == [4, 8, 16, 32]
    assert chord(add.s(i, i) for i in range(1, 5))(xsum.s()).get(timeout=5) == 20


def test_revoke_a_waiting_task() -> None:
    busy = sleepy_add.delay(0, 0, seconds=0.4)
    waiting = add.delay(1, 1)
    waiting.revoke()
    assert busy.get(timeout=5) == 0
    deadline = time.monotonic() + 3
    while waiting.state != "REVOKED" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waiting.state == "REVOKED"


def test_inspect_ping_answers() -> None:
    replies = app.control.inspect(timeout=0.5).ping()
    assert replies == {runtime.EMBEDDED_NODENAME: {"ok": "pong"}}


def test_task_defined_after_start_runs() -> None:
    @app.task(name="tests.late_defined")
    def late_defined(x: int) -> int:
        return x * 10

    assert late_defined.delay(4).get(timeout=5) == 40


def test_unknown_task_name_fails_clearly() -> None:
    result = app.send_task("course_tasks.tasks.basics.no_such_task", args=(1,))
    with pytest.raises(Exception, match="no_such_task"):
        result.get(timeout=5)
    assert result.state == "FAILURE"


def test_worker_logs_go_to_the_log_file_not_the_cell(capfd: pytest.CaptureFixture[str]) -> None:
    add.delay(20, 22).get(timeout=5)
    app.send_task("tests.unknown_for_log").get(timeout=5, propagate=False)
    out, err = capfd.readouterr()
    assert "Received" not in out + err and "unknown_for_log" not in out + err
    log = runtime.log_path().read_text()
    assert "succeeded" in log and "unknown_for_log" in log


def test_results_are_awaited_without_polling_a_file_descriptor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fakeredis sockets have made-up descriptor numbers; in a kernel one can be a real
    # ZeroMQ socket, and poll() on it made get() return a second late. The embedded
    # consumer waits on fakeredis's own event instead, and never polls.
    import celery.backends.redis as redis_backend

    def no_poll(sock: object, timeout: float) -> bool:
        raise AssertionError("the embedded result consumer polled a socket")

    monkeypatch.setattr(redis_backend, "_socket_readable", no_poll)
    assert sleepy_add.delay(2, 2, seconds=0.1).get(timeout=5) == 4
    assert add.apply_async((3, 3), countdown=0.1).get(timeout=5) == 6
