"""The checks of chapter 05 on right and wrong answers, against the embedded worker."""

from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError

from course_tasks import app
from course_tasks.checks import evaluate
from course_tasks.checks.ch05_states_and_results import ISSUED_KEY
from course_tasks.store import store

pytestmark = pytest.mark.usefixtures("worker")


def verdict(id: str, *args: Any) -> str:
    outcome = evaluate(id, *args)
    return ("PASS " if outcome.passed else "FAIL ") + outcome.feedback


# --------------------------------------------------------------------------- 05.1 answers


def status(task_id):
    result = app.AsyncResult(task_id)
    state = result.state
    if state == "PENDING":
        return {"status": "pending"}
    if state == "PROGRESS":
        info = result.info
        return {"status": "in_progress", "percent": round(100 * info["current"] / info["total"])}
    if state == "SUCCESS":
        return {"status": "success", "result": result.result}
    if state == "FAILURE":
        return {"status": "failure", "error": str(result.info)}
    return {"status": state.lower()}


def status_stub(task_id): ...


def status_returns_result(task_id):
    return app.AsyncResult(task_id)


def status_blocks(task_id):
    result = app.AsyncResult(task_id)
    return {"status": result.state.lower(), "result": result.get()}


def status_blocks_no_propagate(task_id):
    result = app.AsyncResult(task_id)
    value = result.get(propagate=False, timeout=10)
    if result.failed():
        return {"status": "failure", "error": str(value)}
    return {"status": result.state.lower(), "result": value}


def status_exception_in_json(task_id):
    result = app.AsyncResult(task_id)
    if result.state == "FAILURE":
        return {"status": "failure", "error": result.result}
    return status(task_id)


def status_guide(task_id):
    """Guide 000's endpoint as written: no branch for STARTED, RETRY or REVOKED."""
    task_result = app.AsyncResult(task_id)
    if task_result.state == "PENDING":
        response = {"status": "pending", "message": "waiting"}
    elif task_result.state == "PROGRESS":
        response = {"status": "in_progress", "progress": task_result.info}
    elif task_result.state == "SUCCESS":
        response = {"status": "success", "result": task_result.result}
    elif task_result.state == "FAILURE":
        response = {"status": "failure", "error": str(task_result.info)}
    return response  # noqa: F821 - UnboundLocalError for the other states, as in the guide


def status_raw_progress(task_id):
    result = app.AsyncResult(task_id)
    if result.state == "PROGRESS":
        return {"status": "in_progress", "progress": result.info}
    return status(task_id)


def status_fraction(task_id):
    result = app.AsyncResult(task_id)
    if result.state == "PROGRESS":
        return {"status": "in_progress", "percent": result.info["current"] / result.info["total"]}
    return status(task_id)


def status_upper(task_id):
    return {**status(task_id), "status": app.AsyncResult(task_id).state}


def status_no_fallback(task_id):
    state = app.AsyncResult(task_id).state
    if state in ("PENDING", "PROGRESS", "SUCCESS", "FAILURE"):
        return status(task_id)
    return None


def status_from_str(task_id):
    return {"status": task_id.state.lower()}


def test_05_1_right_answer() -> None:
    assert verdict("05.1", status) == (
        "PASS passed (json for PENDING, STARTED, PROGRESS, SUCCESS, FAILURE and REVOKED, at once)"
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (status_stub, "FAIL not yet: write the body of status, run that cell, then this one"),
        (status_returns_result, "returned the AsyncResult itself. Hint: an endpoint answers"),
        (status_blocks, "raised the task's ReportError. Hint: did you call get()?"),
        (status_blocks_no_propagate, "said status='success'. Hint: it waited until the task"),
        (status_exception_in_json, "cannot be sent as json ('error' holds a ReportError)"),
        (status_guide, "raised UnboundLocalError"),
        (status_raw_progress, "has no 'percent' (keys: status, progress)"),
        (status_fraction, "that is a fraction; multiply by 100"),
        (status_upper, "said status='SUCCESS'. Hint: use lower case"),
        (status_no_fallback, "returned None. Hint: the guide's if/elif chain"),
        (status_from_str, "raised AttributeError"),
        (42, "got an int, not a function"),
    ],
)
def test_05_1_wrong_answers(answer: Any, expected: str) -> None:
    got = verdict("05.1", answer)
    assert got.startswith("FAIL") and expected in got, got


# --------------------------------------------------------------------------- 05.2 answers


def collect(result, timeout):
    try:
        value = result.get(timeout=timeout, propagate=False)
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    if result.failed():
        return ("FAILURE", f"{type(value).__name__}: {value}")
    return ("SUCCESS", value)


def collect_stub(result, timeout): ...


def collect_propagates(result, timeout):
    try:
        return ("SUCCESS", result.get(timeout=timeout))
    except CeleryTimeoutError:
        return ("TIMEOUT", None)


def collect_builtin_timeout(result, timeout):
    try:
        value = result.get(timeout=timeout, propagate=False)
    except TimeoutError:  # Python's own: not the one Celery raises
        return ("TIMEOUT", None)
    if result.failed():
        return ("FAILURE", f"{type(value).__name__}: {value}")
    return ("SUCCESS", value)


def collect_no_wait(result, timeout):
    return (result.state, result.result)


def collect_ignores_timeout(result, timeout):
    try:
        value = result.get(timeout=3, propagate=False)
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    if result.failed():
        return ("FAILURE", f"{type(value).__name__}: {value}")
    return ("SUCCESS", value)


def collect_exception_object(result, timeout):
    try:
        value = result.get(timeout=timeout, propagate=False)
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    return ("FAILURE", value) if result.failed() else ("SUCCESS", value)


def collect_no_failed_check(result, timeout):
    try:
        return ("SUCCESS", result.get(timeout=timeout, propagate=False))
    except CeleryTimeoutError:
        return ("TIMEOUT", None)


def collect_message_only(result, timeout):
    try:
        value = result.get(timeout=timeout, propagate=False)
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    return ("FAILURE", str(value)) if result.failed() else ("SUCCESS", value)


def collect_value_only(result, timeout):
    return result.get(timeout=timeout)


def test_05_2_right_answer() -> None:
    assert verdict("05.2", collect) == (
        "PASS passed (SUCCESS with its value, FAILURE as text, TIMEOUT after 0.5 s; nothing raised)"
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (collect_stub, "FAIL not yet: write the body of collect"),
        (collect_propagates, "let the failed task's ReportError escape. Hint: get() re-raises"),
        (collect_builtin_timeout, "let celery.exceptions.TimeoutError escape"),
        (collect_no_wait, "it answered before the task finished"),
        (collect_ignores_timeout, "was still waiting after 2 s"),
        (collect_exception_object, "the second item is the exception object itself"),
        (collect_no_failed_check, "said 'SUCCESS'. Hint: with propagate=False get() returns"),
        (collect_message_only, "Hint: name the exception, then its message"),
        (collect_value_only, "returned an int (3)"),
    ],
)
def test_05_2_wrong_answers(answer: Any, expected: str) -> None:
    got = verdict("05.2", answer)
    assert got.startswith("FAIL") and expected in got, got


# --------------------------------------------------------------------------- 05.3 answers


def tally(self, words):
    total = len(words)
    letters = 0
    for i, word in enumerate(words, start=1):
        letters += len(word)
        self.update_state(state="PROGRESS", meta={"current": i, "total": total})
    return letters


def tally_stub(self, words): ...


def tally_no_progress(self, words):
    return sum(len(word) for word in words)


def tally_from_zero(self, words):
    for i, _word in enumerate(words):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(words)})
    return sum(len(word) for word in words)


def tally_once(self, words):
    self.update_state(state="PROGRESS", meta={"current": len(words), "total": len(words)})
    return sum(len(word) for word in words)


def tally_wrong_keys(self, words):
    for i, _word in enumerate(words, start=1):
        self.update_state(state="PROGRESS", meta={"done": i, "of": len(words)})
    return sum(len(word) for word in words)


def tally_lower_state(self, words):
    for i, _word in enumerate(words, start=1):
        self.update_state(state="progress", meta={"current": i, "total": len(words)})
    return sum(len(word) for word in words)


def tally_no_return(self, words):
    for i, _word in enumerate(words, start=1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(words)})


def tally_unbound(words):
    return len(words)


def tally_self_misused(self, words):
    for i, _word in enumerate(words, start=1):
        self.update(state="PROGRESS", meta={"current": i, "total": len(words)})
    return 0


def test_05_3_right_answer() -> None:
    assert verdict("05.3", tally) == "PASS passed (PROGRESS 1/4 … 4/4, then SUCCESS with 21)"


def test_05_3_accepts_a_decorated_task() -> None:
    task = app.task(bind=True, name="tests.ch05.tally_decorated")(tally)
    assert verdict("05.3", task).startswith("PASS")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (tally_stub, "FAIL not yet: write the body of tally"),
        (tally_no_progress, "tally reported no progress"),
        (tally_from_zero, "the updates go from 0/4 to 3/4"),
        (tally_once, "tally reported 1 update(s) for 4 words"),
        (tally_wrong_keys, "(keys ['done', 'of'])"),
        (tally_lower_state, "reported the state(s) progress"),
        (tally_no_return, "tally returned None, not the number of letters (21)"),
        (tally_unbound, "tally takes 1 parameter(s) (words)"),
        (tally_self_misused, "tally failed: AttributeError"),
        ("tally", "got a str, not a function"),
    ],
)
def test_05_3_wrong_answers(answer: Any, expected: str) -> None:
    got = verdict("05.3", answer)
    assert got.startswith("FAIL") and expected in got, got


# --------------------------------------------------------------------------- 05.4 answers


def lookup(task_id):
    if not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_stub(task_id): ...


def lookup_state_only(task_id):
    return app.AsyncResult(task_id).state


def lookup_backend_only(task_id):
    state = app.AsyncResult(task_id).state
    return "unknown" if state == "PENDING" else state


def lookup_pending_is_waiting(task_id):
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_wrong_set(task_id):
    if not store().sismember("issued", task_id):
        return "unknown"
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_result(task_id):
    return app.AsyncResult(task_id)


def test_05_4_right_answer() -> None:
    assert verdict("05.4", lookup) == (
        "PASS passed (unknown for ids never issued, waiting for a queued task, else the state)"
    )
    assert store().smembers(ISSUED_KEY) == set()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lookup_stub, "FAIL not yet: write the body of lookup"),
        (lookup_state_only, "said 'PENDING'. Hint: Celery says PENDING for any id"),
        (lookup_backend_only, "has nothing in the result backend either"),
        (lookup_pending_is_waiting, "said 'waiting'. Hint: PENDING alone cannot tell"),
        (lookup_wrong_set, "are in the set 'issued-tasks'"),
        (lookup_result, "returned the AsyncResult itself"),
    ],
)
def test_05_4_wrong_answers(answer: Any, expected: str) -> None:
    got = verdict("05.4", answer)
    assert got.startswith("FAIL") and expected in got, got
