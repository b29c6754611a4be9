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


def status_six_states_no_fallback(task_id):
    # a branch for every state the chapter's first sections showed, and none for RETRY
    result = app.AsyncResult(task_id)
    if result.state in ("PENDING", "STARTED", "REVOKED"):
        return {"status": result.state.lower()}
    if result.state in ("PROGRESS", "SUCCESS", "FAILURE"):
        return status(task_id)


def status_info_always_a_dict(task_id):
    # treats every unfinished state like PROGRESS: for RETRY, info is the exception
    result = app.AsyncResult(task_id)
    if result.state in ("SUCCESS", "FAILURE", "PENDING", "STARTED", "REVOKED"):
        return status(task_id)
    info = result.info
    return {"status": "in_progress", "percent": round(100 * info["current"] / info["total"])}


def status_repr_of_the_error(task_id):
    result = app.AsyncResult(task_id)
    if result.state == "FAILURE":
        return {"status": "failure", "error": repr(result.info)}
    return status(task_id)


def status_from_str(task_id):
    return {"status": task_id.state.lower()}


def test_05_1_right_answer() -> None:
    assert verdict("05.1", status) == (
        "PASS passed (json for PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, RETRY and REVOKED, "
        "at once)"
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (status_stub, "FAIL not yet: write the body of status, run that cell, then this one"),
        (status_returns_result, "returned the AsyncResult itself. Hint: an endpoint answers"),
        (status_blocks, "raised the task's ReportError. Hint: did you call get()?"),
        (status_blocks_no_propagate, "for a running task (STARTED), status() waited for the task"),
        (status_exception_in_json, "cannot be sent as json ('error' holds a ReportError)"),
        (status_guide, "raised UnboundLocalError"),
        (status_raw_progress, "has no 'percent' (keys: status, progress)"),
        (status_fraction, "that is a fraction; multiply by 100"),
        (status_upper, "said status='SUCCESS'. Hint: use lower case"),
        (status_no_fallback, "returned None. Hint: the guide's if/elif chain"),
        (status_from_str, "raised AttributeError"),
        (status_six_states_no_fallback, "for a task waiting for its retry (RETRY), status() "
         "returned None. Hint: the guide's if/elif chain"),
        (status_info_always_a_dict, "(RETRY), status() raised TypeError: 'ConnectionError' "
         "object is not subscriptable. Hint: for RETRY, result.info is the exception"),
        (status_repr_of_the_error, "said error='ReportError(\"no sales data for month "
         "\\'2024-13\\'\")'. Hint: that is the exception's repr(), for programmers: "
         "send str(result.info)"),
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


def cancel(task_id):
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return "too late"
    result.revoke()
    return "cancelled"


def cancel_stub(task_id): ...


def cancel_always(task_id):
    app.AsyncResult(task_id).revoke()
    return "cancelled"


def cancel_not_ready(task_id):
    # ready() is False for a running task too
    result = app.AsyncResult(task_id)
    if result.ready():
        return "too late"
    result.revoke()
    return "cancelled"


def cancel_terminates(task_id):
    result = app.AsyncResult(task_id)
    if result.ready():
        return "too late"
    result.revoke(terminate=True)
    return "cancelled" if result.state == "PENDING" else "too late"


def cancel_without_revoking(task_id):
    return "cancelled" if app.AsyncResult(task_id).state == "PENDING" else "too late"


def cancel_waits(task_id):
    result = app.AsyncResult(task_id)
    result.get(timeout=10, propagate=False)
    return "too late"


def cancel_booleans(task_id):
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return False
    result.revoke()
    return True


def test_05_3_right_answer() -> None:
    assert verdict("05.3", cancel) == (
        "PASS passed (too late for a finished and a running task, a waiting one revoked)"
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (cancel_stub, "FAIL not yet: write the body of cancel, run that cell, then this one"),
        (cancel_always, "FAIL for a finished task, cancel() said 'cancelled'. Hint: revoke() "
         "cannot undo a task that already ran"),
        (cancel_not_ready, "FAIL for a running task (STARTED), cancel() said 'cancelled'. Hint: "
         "revoke() does not stop a task that has started"),
        (cancel_terminates, "FAIL cancel() revoked a running task with terminate=True. Hint: "
         "terminate kills the process"),
        (cancel_without_revoking, "FAIL cancel() said \"cancelled\" but never revoked the task"),
        (cancel_waits, "FAIL for a task waiting in its queue, cancel() did not answer within 2 s. "
         "Hint: read result.state and revoke at once: never get()"),
        (cancel_booleans, "FAIL for a finished task, cancel() returned False. Hint: return "
         "\"cancelled\""),
        ("cancel", "got a str, not a function"),
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
