"""The checks of chapter 05 on right and wrong answers, against the embedded worker.

Each exercise has its right answers (the solution's and others the text allows) and a table of
wrong ones, each with the problem and the hint its feedback must name. The rows marked
"adversary round 1" (round 2, 3) are the wrong answers of ``.adversary/ch05_r1.py`` (``_r2.py``,
``_r3.py``).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import math
import threading
import time
import uuid
from time import sleep  # bound at import, as a learner's module-level import is
from typing import Any

import pytest
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeoutError
from checkhelpers import assert_fails, assert_passed, verdict
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from course_tasks import app
from course_tasks.checks.ch05_states_and_results import ISSUED_KEY
from course_tasks.store import store
from course_tasks.tasks.reports import ReportError

pytestmark = pytest.mark.usefixtures("worker")


# --------------------------------------------------------------------------- 05.1 answers


def status(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "PENDING":
        return {"status": "pending"}
    if state == "PROGRESS":
        return {"status": "in_progress", "percent": round(100 * info["current"] / info["total"])}
    if state == "SUCCESS":
        return {"status": "success", "result": info}
    if state == "FAILURE":
        return {"status": "failure", "error": str(info)}
    return {"status": state.lower()}


def status_match(task_id):
    """A match statement on the record read once through the handle's backend, extra keys."""
    result = app.AsyncResult(task_id)
    match result.backend.get_task_meta(result.id):
        case {"status": "PROGRESS", "result": meta}:
            done = meta["current"] * 100 / meta["total"]
            return {"status": "in_progress", "percent": round(done), "task_id": task_id}
        case {"status": "SUCCESS", "result": value}:
            return {"status": "success", "result": value, "task_id": task_id}
        case {"status": "FAILURE", "result": exc}:
            return {"status": "failure", "error": f"{type(exc).__name__}: {exc}"}
        case {"status": other}:
            return {"status": other.lower(), "task_id": task_id}


def _but_for(state, answer):
    """``status``, but for a task in ``state`` the (wrong) ``answer(result)``."""

    def status_but(task_id):
        result = app.AsyncResult(task_id)
        if result.state == state:
            return answer(result)
        return status(task_id)

    return status_but


def status_reads_all_first(task_id):
    """Reads the state and the info once each, up front, then answers from those two."""
    result = app.AsyncResult(task_id)
    state, info = result.state, result.info
    answer = {"status": state.lower()}
    if state == "PROGRESS":
        answer = {"status": "in_progress", "percent": round(100 * info["current"] / info["total"])}
    elif state == "SUCCESS":
        answer["result"] = info
    elif state == "FAILURE":
        answer["error"] = str(info)
    return answer


def status_stub(task_id): ...


def status_state_then_info(task_id):
    """The old solution: state, then result.info, which reads the backend again for PROGRESS."""
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


status_exception_in_json = _but_for(
    "FAILURE", lambda result: {"status": "failure", "error": result.result}
)


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


status_raw_progress = _but_for(
    "PROGRESS", lambda result: {"status": "in_progress", "progress": result.info}
)


status_fraction = _but_for(
    "PROGRESS",
    lambda result: {
        "status": "in_progress",
        "percent": result.info["current"] / result.info["total"],
    },
)


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


status_repr_of_the_error = _but_for(
    "FAILURE", lambda result: {"status": "failure", "error": repr(result.info)}
)


def status_from_str(task_id):
    return {"status": task_id.state.lower()}


def _with_percent(task_id, percent):
    """``status(task_id)``, with ``percent(current, total)`` for PROGRESS."""
    result = app.AsyncResult(task_id)
    state = result.state
    if state == "PROGRESS":
        info = result.info
        return {"status": "in_progress", "percent": percent(info["current"], info["total"])}
    return status(task_id)


def status_ceil(task_id):
    return _with_percent(task_id, lambda current, total: math.ceil(100 * current / total))


def status_floor_division(task_id):
    return _with_percent(task_id, lambda current, total: 100 * current // total)


def status_one_decimal(task_id):
    return _with_percent(task_id, lambda current, total: round(100 * current / total, 1))


def status_busy_loop(task_id):
    # waits for a queued task to start, without sleeping: a loop on the state
    result = app.AsyncResult(task_id)
    deadline = time.monotonic() + 1.0
    while result.state == "PENDING" and time.monotonic() < deadline:
        pass
    return status(task_id)


def status_asks_workers(task_id):
    # asks the workers whether one of them runs the task (and waits for their replies)
    active = app.control.inspect(timeout=0.5).active() or {}
    running = any(task["id"] == task_id for tasks in active.values() for task in tasks)
    return {"status": "started"} if running else status(task_id)


# adversary round 1


def status_int_percent(task_id):
    return _with_percent(task_id, lambda current, total: int(100 * current / total))


def status_fraction_percent(task_id):
    return _with_percent(task_id, lambda current, total: round(current / total, 2))


def status_hardcoded_total(task_id):
    return _with_percent(task_id, lambda current, total: round(100 * current / 5))


def status_not_ready_is_pending(task_id):
    result = app.AsyncResult(task_id)
    if not result.ready() and result.state != "PROGRESS":  # "not finished yet" = pending
        return {"status": "pending"}
    return status(task_id)


def status_exception_is_failure(task_id):
    result = app.AsyncResult(task_id)
    if result.state not in ("PENDING", "PROGRESS") and isinstance(result.info, Exception):
        return {"status": "failure", "error": str(result.info)}  # RETRY and REVOKED too
    return status(task_id)


status_started_in_progress = _but_for(
    "STARTED", lambda result: {"status": "in_progress", "percent": 0}
)


status_revoked_cancelled = _but_for("REVOKED", lambda result: {"status": "cancelled"})


def status_upper_fallback(task_id):
    state = app.AsyncResult(task_id).state
    if state in ("PENDING", "PROGRESS", "SUCCESS", "FAILURE"):
        return status(task_id)
    return {"status": state}


status_traceback_error = _but_for(
    "FAILURE", lambda result: {"status": "failure", "error": result.traceback}
)


# "to be safe for json"
status_str_result = _but_for(
    "SUCCESS", lambda result: {"status": "success", "result": str(result.result)}
)


def status_short_wait(task_id):
    result = app.AsyncResult(task_id)
    if not result.ready():
        # give a task that is about to finish a moment, so the page shows the result at once
        with contextlib.suppress(Exception):
            result.get(timeout=0.3, propagate=False)
    return status(task_id)


def status_waits_for_success(task_id):
    result = app.AsyncResult(task_id)
    if result.state == "STARTED":
        try:  # a started task is nearly done: wait for its value
            return {"status": "success", "result": result.get(timeout=2)}
        except Exception:
            return {"status": result.state.lower()}
    return status(task_id)


def status_reads_state_twice(task_id):
    # reads the backend once per branch: a task can move on between the reads
    result = app.AsyncResult(task_id)
    if result.state == "PENDING":
        return {"status": "pending"}
    if result.state == "PROGRESS":
        info = result.info
        return {"status": "in_progress", "percent": round(100 * info["current"] / info["total"])}
    if result.state == "SUCCESS":
        return {"status": "success", "result": result.result}
    if result.state == "FAILURE":
        return {"status": "failure", "error": str(result.info)}
    return {"status": result.state.lower()}


def status_notebook_copy(task_id):
    # section 7's task_status, copied: PROGRESS sends the raw meta under "progress"
    result = app.AsyncResult(task_id)
    state = result.state
    if state == "PENDING":
        return {"status": "pending", "message": "waiting to run (or an unknown id)"}
    if state == "PROGRESS":
        return {"status": "in_progress", "progress": result.info}
    return status(task_id)


def _poll_while(task_id, states):
    """``status(task_id)`` after polling (with a sleep) up to 1 s while it is in ``states``."""
    result = app.AsyncResult(task_id)
    deadline = time.monotonic() + 1.0
    while result.state in states and time.monotonic() < deadline:
        time.sleep(0.05)
    return status(task_id)


def status_poll_pending(task_id):
    # a task sent a moment ago reads PENDING: poll a little so the page does not flash "pending"
    return _poll_while(task_id, ("PENDING",))


def status_poll_running(task_id):
    # waits (polling state, no get()) up to 1 s for a running task to move on
    return _poll_while(task_id, ("STARTED", "RETRY"))


status_failure_args = _but_for(
    "FAILURE", lambda result: {"status": "failure", "error": str(result.info.args)}
)


# adversary round 2


def _status_r2(branch):
    """``status_state_then_info`` where ``branch(result, state)`` may answer first."""

    def status_r2(task_id):
        result = app.AsyncResult(task_id)
        state = result.state
        answer = branch(result, state)
        if answer is not None:
            return answer
        if state == "PENDING":
            return {"status": "pending"}
        if state == "PROGRESS":
            info = result.info
            return {"status": "in_progress",
                    "percent": round(100 * info["current"] / info["total"])}  # fmt: skip
        if state == "SUCCESS":
            return {"status": "success", "result": result.result}
        if state == "FAILURE":
            return {"status": "failure", "error": str(result.info)}
        return {"status": state.lower()}

    return status_r2


status_total_from_text = _status_r2(
    lambda result, state: {"status": "in_progress",
                           "percent": round(100 * result.info["current"] / 3)}
    if state == "PROGRESS" else None
)  # fmt: skip
status_error_traceback_r2 = _status_r2(
    lambda result, state: {"status": "failure", "error": result.traceback}
    if state == "FAILURE" else None
)  # fmt: skip
status_result_str_r2 = _status_r2(
    lambda result, state: {"status": "success", "result": str(result.result)}
    if state == "SUCCESS" else None
)  # fmt: skip
status_retry_as_pending = _status_r2(
    lambda result, state: {"status": "pending"} if state == "RETRY" else None
)
status_percent_one_decimal = _status_r2(
    lambda result, state: {"status": "in_progress",
                           "percent": round(100 * result.info["current"] / result.info["total"], 1)}
    if state == "PROGRESS" else None
)  # fmt: skip


def status_ready_first(task_id):
    result = app.AsyncResult(task_id)
    if result.successful():
        return {"status": "success", "result": result.result}
    if result.failed():
        return {"status": "failure", "error": str(result.info)}
    return status_state_then_info(task_id)


def status_grace_sleep(task_id):
    # on STARTED, sleep (module-level `from time import sleep`) and read again
    result = app.AsyncResult(task_id)
    if result.state == "STARTED":
        sleep(0.05)
    return status_state_then_info(task_id)


def status_event_wait(task_id):
    # on STARTED or PENDING, wait 50 ms with threading.Event().wait and read again
    result = app.AsyncResult(task_id)
    if result.state in ("STARTED", "PENDING"):
        threading.Event().wait(0.05)
    return status_state_then_info(task_id)


def status_success_via_wait(task_id):
    result = app.AsyncResult(task_id)
    if result.state in ("SUCCESS", "STARTED"):
        try:
            return {"status": "success", "result": result.wait(timeout=1, propagate=False)}
        except CeleryTimeoutError:
            return {"status": "started"}
    return status_state_then_info(task_id)


# adversary round 3


def _one_read(task_id):
    meta = app.backend.get_task_meta(task_id)
    return meta["status"], meta["result"]


def _info_then_state(task_id):
    # two reads: info first, then the state
    result = app.AsyncResult(task_id)
    info = result.info
    return result.state, info


def _meta_status(progress=None, other=None, shape=False, pending_if_none=False, read=_one_read):
    """The solution's ``status``, with one mistake: ``progress(info)`` for the percent,
    ``other(state)`` for the other states, ``shape``: progress told by the meta's keys,
    ``pending_if_none``: no result means pending, ``read(task_id)``: how it reads the state
    and the info."""

    def status_r3(task_id):
        state, info = read(task_id)
        if shape and isinstance(info, dict) and {"current", "total"} <= info.keys():
            return {"status": "in_progress",
                    "percent": round(100 * info["current"] / info["total"])}  # fmt: skip
        if state == "PENDING" or (pending_if_none and info is None):
            return {"status": "pending"}
        if state == "PROGRESS":
            percent = round(100 * info["current"] / info["total"])
            return {"status": "in_progress", "percent": progress(percent) if progress else percent}
        if state == "SUCCESS":
            return {"status": "success", "result": info}
        if state == "FAILURE":
            return {"status": "failure", "error": str(info)}
        return {"status": other(state) if other else state.lower()}

    return status_r3


@functools.cache
def status_lru_cached(task_id):
    # "a status endpoint is polled every second: cache it"
    return status(task_id)


def status_get_for_ready_value(task_id):
    # the state read once, then a finished task's value taken with get()
    meta = app.backend.get_task_meta(task_id)
    if meta["status"] == "SUCCESS":
        return {"status": "success", "result": app.AsyncResult(task_id).get(timeout=1)}
    return status(task_id)


def status_error_from_traceback(task_id):
    meta = app.backend.get_task_meta(task_id)
    if meta["status"] == "FAILURE":
        return {"status": "failure", "error": meta["traceback"].strip().splitlines()[-1]}
    return status(task_id)


def test_05_1_right_answer() -> None:
    assert_passed(
        verdict("05.1", status),
        "json for PENDING, STARTED, PROGRESS (1/4, 1/3, 2/3, 5/5), SUCCESS (also None and a "
        "dict shaped like progress), FAILURE, RETRY, REVOKED and a state of its own "
        "(UPLOADING); no get(), no wait, and the state read once while a task finished",
    )


STATUS_NOW = (
    "an endpoint answers at once with the state as it is now (read result.state once); the "
    "page asks again later"
)
GET_HINT = "get() waits until the task finishes, maybe for ever: " + STATUS_NOW
GOT_FINISHED = (
    "for a finished add(20, 22), status() called get() on the task (it had finished, so get() "
    "answered at once this time)"
)
GOT_HINT = (
    "get() waits whenever the task has not finished, and reads the result backend a second "
    "time: " + STATUS_NOW
)
STATE_FIRST = (
    'decide from the state (meta["status"]), not from the value: {"status": "success", '
    '"result": value} for every SUCCESS'
)
NO_BRANCH = "the guide's if/elif chain has no branch for some states: end it with a fallback"
STARTED = "for a running task (STARTED), status() "
THIRD = "for a task at 2 of 3 (PROGRESS, meta {'current': 2, 'total': 3}), percent was "
THIRD_1 = "for a task at 1 of 3 (PROGRESS, meta {'current': 1, 'total': 3}), percent was "
RACE = "for a task that finished while status() read it (STARTED for the first "
TRACEBACK_ERROR = (
    "for a failed report, status() said error='Traceback (most recent call last)",
    'put the exception\'s text under "error": str(result.info)',
)
STR_RESULT = (
    "for a finished add(20, 22), status() said result='42'",
    'put the task\'s return value (result.result) under "result"',
)
RACE_PROGRESS = "for a task that finished while status() read it (PROGRESS for the first "
RACE_HINT = (
    "read the task's record once, meta = app.backend.get_task_meta(task_id), and answer from "
    'meta["status"] and meta["result"]: each result.state or result.info asks the result '
    "backend again, and the task may finish in between"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(status_returns_result, "for a finished add(20, 22), status() returned the "
                     "AsyncResult itself", "an endpoint answers with json", id="returns-handle"),
        pytest.param(status_blocks, GOT_FINISHED, GOT_HINT, id="get-propagates"),
        pytest.param(status_blocks_no_propagate, GOT_FINISHED, GOT_HINT, id="get-no-propagate"),
        pytest.param(status_exception_in_json, "for a failed report, the dict cannot be sent as "
                     "json ('error' holds a ReportError)", "for a failed task, result.result",
                     id="exception-in-json"),
        pytest.param(status_guide, "for a running task, status() raised UnboundLocalError",
                     "the guide's if/elif chain has no branch for STARTED", id="guide"),
        pytest.param(status_raw_progress, "for a task half-way (PROGRESS 1/4), the dict has no "
                     "'percent' (keys: status, progress)", "the front end wants a number",
                     id="raw-progress"),
        pytest.param(status_fraction, "for 1, 2 or 3 items of 4, percent was 0.",
                     "that is a fraction; multiply by 100", id="fraction"),
        pytest.param(status_upper, "for a finished add(20, 22), status() said status='SUCCESS'",
                     'use lower case, as the guide does: "success"', id="upper"),
        pytest.param(status_no_fallback, STARTED + "returned None", NO_BRANCH, id="no-fallback"),
        pytest.param(status_from_str, "status() raised AttributeError: 'str' object has no "
                     "attribute 'state'", "task_id is a plain str", id="from-str"),
        pytest.param(status_six_states_no_fallback, "for a task waiting for its retry (RETRY), "
                     "status() returned None", NO_BRANCH, id="six-states"),
        pytest.param(status_info_always_a_dict, "(RETRY), status() raised TypeError: "
                     "'ConnectionError' object is not subscriptable", "for RETRY, result.info "
                     "is the exception", id="info-always-a-dict"),
        pytest.param(status_repr_of_the_error, "said error='ReportError(\"no sales data for "
                     "month \\'2024-13\\'\")'", "that is the exception's repr(), for "
                     "programmers: send str(result.info)", id="repr-of-the-error"),
        pytest.param(status_ceil, THIRD_1 + "34", "33.33 rounds to 33, not up: round(100 * "
                     "info['current'] / info['total']) gives 33", id="ceil"),
        pytest.param(status_floor_division, THIRD + "66", "66.67 rounds to 67: int() and // cut "
                     "the decimals off", id="floor-division"),
        pytest.param(status_one_decimal, THIRD_1 + "33.3", "a whole number, as the exercise "
                     "says", id="one-decimal"),
        pytest.param(status_busy_loop, "for an id no worker has reported on, status() read the "
                     "task's state again and again (13 times), waiting for it to change",
                     STATUS_NOW, id="busy-loop"),
        pytest.param(status_asks_workers, "for a finished add(20, 22), status() asked the "
                     "workers (active) and waited for their replies", "the result backend has "
                     "the state: " + STATUS_NOW, id="asks-workers"),
        # adversary round 1
        pytest.param(status_int_percent, THIRD + "66", "66.67 rounds to 67: int() and // cut the "
                     "decimals off; round(100 * info['current'] / info['total']) gives 67",
                     id="int-percent"),
        pytest.param(status_fraction_percent, "for 1, 2 or 3 items of 4, percent was 0.",
                     "that is a fraction; multiply by 100", id="fraction-percent"),
        pytest.param(status_hardcoded_total, "for 1, 2 or 3 items of 4, percent was ",
                     "compute it from the task's own meta", id="hardcoded-total"),
        pytest.param(status_not_ready_is_pending, STARTED + "said status='pending'",
                     'for this state the endpoint answers {"status": "started", ...}',
                     id="not-ready-is-pending"),
        pytest.param(status_exception_is_failure, "for a revoked task, status() said "
                     "status='failure'", 'for this state the endpoint answers {"status": '
                     '"revoked", ...}', id="exception-is-failure"),
        pytest.param(status_started_in_progress, STARTED + "said status='in_progress'",
                     'for this state the endpoint answers {"status": "started", ...}',
                     id="started-in-progress"),
        pytest.param(status_revoked_cancelled, "for a revoked task, status() said "
                     "status='cancelled'", 'for this state the endpoint answers {"status": '
                     '"revoked", ...}', id="revoked-cancelled"),
        pytest.param(status_upper_fallback, STARTED + "said status='STARTED'", "use lower case, "
                     'as the guide does: "started"', id="upper-fallback"),
        pytest.param(status_traceback_error, *TRACEBACK_ERROR, id="traceback-error"),
        pytest.param(status_repr_of_the_error, "status() said error='ReportError(", "that is "
                     "the exception's repr()", id="repr-error"),
        pytest.param(status_exception_in_json, "the dict cannot be sent as json ('error' holds a "
                     "ReportError)", "for a failed task, result.result (and .info) is the "
                     "exception the task raised: send its text", id="exception-object"),
        pytest.param(status_str_result, *STR_RESULT, id="str-result"),
        pytest.param(status_short_wait, STARTED + "waited for the task (it called get() on it)",
                     GET_HINT, id="short-wait"),
        pytest.param(status_waits_for_success, STARTED + "waited for the task (it called get() "
                     "on it)", GET_HINT, id="waits-for-success"),
        pytest.param(status_reads_state_twice, RACE + "1 read of its state, SUCCESS with 7 "
                     "after), status() read the task's state 2 times in one call", RACE_HINT,
                     id="reads-state-twice"),
        pytest.param(status_notebook_copy, "for a task half-way (PROGRESS 1/4), the dict has no "
                     "'percent' (keys: status, progress)", "the front end wants a number for "
                     "its bar", id="notebook-copy"),
        pytest.param(status_poll_pending, "for an id no worker has reported on, status() waited "
                     "before answering (it called time.sleep(0.05))", STATUS_NOW,
                     id="poll-pending"),
        pytest.param(status_poll_running, STARTED + "waited before answering (it called "
                     "time.sleep(0.05))", STATUS_NOW, id="poll-running"),
        pytest.param(status_failure_args, "for a failed report, status() said error='(\"no "
                     "sales data for month", "put the exception's text under \"error\": "
                     "str(result.info)", id="failure-args"),
        # the former solution, and the former right answer reading state and info up front
        pytest.param(status_state_then_info, RACE_PROGRESS + "1 read of its state, SUCCESS with 7 "
                     "after), status() raised TypeError", RACE_HINT, id="state-then-info"),
        pytest.param(status_reads_all_first, RACE + "1 read of its state, SUCCESS with 7 after), "
                     "status() read the task's state 2 times in one call", RACE_HINT,
                     id="reads-all-first"),
        # adversary round 2
        pytest.param(status_total_from_text, "for 1, 2 or 3 items of 4, percent was 33",
                     "compute it from the task's own meta", id="r2-total-hardcoded"),
        pytest.param(status_error_traceback_r2, *TRACEBACK_ERROR, id="r2-error-is-traceback"),
        pytest.param(status_result_str_r2, *STR_RESULT, id="r2-result-stringified"),
        pytest.param(status_ready_first, RACE + "1 read of its state, SUCCESS with 7 after), "
                     "status() read the task's state 3 times in one call", RACE_HINT,
                     id="r2-ready-first"),
        pytest.param(status_grace_sleep, STARTED + "waited before answering (it called "
                     "time.sleep(0.05))", STATUS_NOW, id="r2-started-grace-sleep"),
        pytest.param(status_event_wait, STARTED + "waited before answering (it called "
                     "threading.Event().wait(0.05))", STATUS_NOW, id="r2-started-event-wait"),
        pytest.param(status_success_via_wait, GOT_FINISHED, GOT_HINT, id="r2-success-via-wait"),
        pytest.param(status_retry_as_pending, "for a task waiting for its retry (RETRY), "
                     "status() said status='pending'", 'for this state the endpoint answers '
                     '{"status": "retry", ...}', id="r2-retry-as-pending"),
        pytest.param(status_percent_one_decimal, THIRD_1 + "33.3", "a whole number, as the "
                     "exercise says: round(100 * info['current'] / info['total']) gives 33",
                     id="r2-percent-one-decimal"),
        # adversary round 3
        pytest.param(_meta_status(progress=lambda percent: min(99, percent)), "for a task at 5 "
                     "of 5 (PROGRESS, meta {'current': 5, 'total': 5}), percent was 99", "the "
                     "task reports current == total, its last step done: that is 100, do not cap "
                     "it", id="r3-percent-capped-99"),
        pytest.param(_meta_status(pending_if_none=True), "for a finished task that returned None "
                     "(SUCCESS), status() said status='pending'", "a task that returned None "
                     "succeeded too: " + STATE_FIRST, id="r3-no-result-means-pending"),
        pytest.param(_meta_status(other=lambda state: {"STARTED": "started", "RETRY": "retry",
                                                       "REVOKED": "revoked"}.get(state, "unknown")),
                     "for a task in a state of its own (UPLOADING, meta {'file': 'users.csv'}), "
                     "status() said status='unknown'", "a task can store states of its own "
                     "(self.update_state(state=...)): answer any state not named in the exercise "
                     'with {"status": state.lower()}, here "uploading"', id="r3-fixed-state-table"),
        pytest.param(status_lru_cached, "for a revoked task, status() said status='pending', its "
                     "answer for the same id before it was revoked", "an answer kept from an "
                     "earlier call (a dict, lru_cache) goes stale: a task moves on, so read its "
                     "record on every call", id="r3-lru-cached"),
        pytest.param(_meta_status(read=_info_then_state), RACE + "1 read of its state, "
                     "SUCCESS with 7 after), status() answered {'status': 'success', "
                     "'result': {'pid': ", RACE_HINT,
                     id="r3-info-then-state"),
        pytest.param(_meta_status(shape=True), "for a finished task whose value is {'current': "
                     "10, 'total': 10} (SUCCESS), status() said status='in_progress'", "only the "
                     "PROGRESS state means in progress; a finished task may return a dict with "
                     "current and total", id="r3-dispatch-on-meta-shape"),
        pytest.param(status_get_for_ready_value, GOT_FINISHED, GOT_HINT,
                     id="r3-get-for-ready-value"),
        pytest.param(status_error_from_traceback, "for a failed report, status() said "
                     "error=\"course_tasks.tasks.reports.ReportError: no sales data",
                     'put the exception\'s text under "error": str(result.info)',
                     id="r3-error-from-traceback"),
    ],
)  # fmt: skip
def test_05_1_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("05.1", answer), problem, hint)


# --------------------------------------------------------------------------- 05.2 answers


def collect(result, timeout):
    try:
        value = result.get(timeout=timeout, propagate=False)
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    if result.failed():
        return ("FAILURE", f"{type(value).__name__}: {value}")
    if result.state == "REVOKED":
        return ("REVOKED", None)
    return ("SUCCESS", value)


def collect_propagating(result, timeout):
    """get() re-raises: the task's errors are caught by what they are, the backend's pass."""
    try:
        return ("SUCCESS", result.wait(timeout))
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    except TaskRevokedError:
        return ("REVOKED", None)
    except Exception as exc:
        if not result.failed():
            raise
        return ("FAILURE", f"{type(exc).__name__}: {exc}")


def collect_polls(result, timeout):
    """No get(): polls ready() with a deadline, sleeping between reads."""
    deadline = time.monotonic() + timeout
    while not result.ready():
        if time.monotonic() >= deadline:
            return ("TIMEOUT", None)
        time.sleep(0.05)
    if result.successful():
        return ("SUCCESS", result.result)
    if result.failed():
        return ("FAILURE", f"{type(result.result).__name__}: {result.result}")
    return (result.state, None)


def collect_stub(result, timeout): ...


def collect_propagates(result, timeout):
    try:
        return ("SUCCESS", result.get(timeout=timeout))
    except CeleryTimeoutError:
        return ("TIMEOUT", None)


def _timeout_caught_as(
    timeout_class, get_timeout=lambda timeout: timeout, tries=1, on_timeout=None, revoked=True
):
    """A ``collect`` that waits ``tries`` times ``get(timeout=get_timeout(timeout))`` and
    catches ``timeout_class`` as the timeout (after calling ``on_timeout(result)``); without
    ``revoked``, it has no branch for a revoked task (its TaskRevokedError is a SUCCESS)."""

    def collect(result, timeout):
        for _ in range(tries):
            try:
                value = result.get(timeout=get_timeout(timeout), propagate=False)
                break
            except timeout_class:
                continue
        else:
            if on_timeout is not None:
                on_timeout(result)
            return ("TIMEOUT", None)
        if result.failed():
            return ("FAILURE", f"{type(value).__name__}: {value}")
        if revoked and result.state == "REVOKED":
            return ("REVOKED", None)
        return ("SUCCESS", value)

    return collect


def collect_no_wait(result, timeout):
    return (result.state, result.result)


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


#: The chapter's first solution: a revoked task's TaskRevokedError passed as SUCCESS.
collect_no_revoked_branch = _timeout_caught_as(CeleryTimeoutError, revoked=False)


def collect_revoked_as_failure(result, timeout):
    try:
        return ("SUCCESS", result.get(timeout=timeout))
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    except Exception as exc:  # the task's error, or its TaskRevokedError
        if isinstance(exc, TaskRevokedError) or result.failed():
            return ("FAILURE", f"{type(exc).__name__}: {exc}")
        raise


def collect_backend_error_as_failure(result, timeout):
    try:
        return ("SUCCESS", result.get(timeout=timeout))
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    except TaskRevokedError:
        return ("REVOKED", None)
    except Exception as exc:  # the task's error, or the result backend's
        return ("FAILURE", f"{type(exc).__name__}: {exc}")


def collect_wraps_backend_error(result, timeout):
    try:
        return collect(result, timeout)
    except Exception as exc:
        raise RuntimeError("cannot tell what became of the task") from exc


# adversary round 1


def collect_guide_order(result, timeout):
    # guide 001's code: the built-in TimeoutError, then a catch-all for failures
    try:
        value = result.get(timeout=timeout)
    except TimeoutError:
        return ("TIMEOUT", None)
    except Exception as exc:
        return ("FAILURE", f"{type(exc).__name__}: {exc}")
    return ("SUCCESS", value)


def _failure_text_as(text):
    """A ``collect`` that writes a failure's text with ``text(result, exception)``."""

    def collect(result, timeout):
        try:
            value = result.get(timeout=timeout, propagate=False)
        except CeleryTimeoutError:
            return ("TIMEOUT", None)
        return ("FAILURE", text(result, value)) if result.failed() else ("SUCCESS", value)

    return collect


def collect_no_wait_adversary(result, timeout):
    # reads the state without waiting at all
    if result.successful():
        return ("SUCCESS", result.result)
    if result.failed():
        return ("FAILURE", f"{type(result.result).__name__}: {result.result}")
    return ("TIMEOUT", None)


#: "never raises": any exception around get() is a timeout (adversary's, no REVOKED branch)
collect_catch_all = _timeout_caught_as(Exception, revoked=False)


# adversary round 2


def _propagating(failures, passed=()):
    """A ``collect`` with get()'s propagate=True: it catches the timeout, the revoke, and the
    ``failures`` as FAILURE; ``passed`` errors are raised again before."""

    def collect_p(result, timeout):
        try:
            value = result.get(timeout=timeout)
        except CeleryTimeoutError:
            return ("TIMEOUT", None)
        except TaskRevokedError:
            return ("REVOKED", None)
        except passed:
            raise
        except failures as exc:
            return ("FAILURE", f"{type(exc).__name__}: {exc}")
        return ("SUCCESS", value)

    return collect_p


#: catches the one failure the chapter showed: a TypeError of the task escapes
collect_only_report_error = _propagating(ReportError)


def collect_revoked_by_early_state(result, timeout):
    # decides REVOKED from the state read before waiting
    before = result.state
    try:
        value = result.get(timeout=timeout, propagate=False)
    except CeleryTimeoutError:
        return ("TIMEOUT", None)
    if isinstance(value, Exception) and not isinstance(value, TaskRevokedError):
        return ("FAILURE", f"{type(value).__name__}: {value}")
    if before == "REVOKED":
        return ("REVOKED", None)
    return ("SUCCESS", value)


# adversary round 3


def _timeout_if(is_timeout):
    """A ``collect`` that answers TIMEOUT for every exception of get() that
    ``is_timeout(exc, result)`` says is one, and raises the others."""

    def collect_r3(result, timeout):
        try:
            value = result.get(timeout=timeout, propagate=False)
        except Exception as exc:
            if is_timeout(exc, result):
                return ("TIMEOUT", None)
            raise
        if result.failed():
            return ("FAILURE", f"{type(value).__name__}: {value}")
        if result.state == "REVOKED":
            return ("REVOKED", None)
        return ("SUCCESS", value)

    return collect_r3


#: propagate=True; redis' and OS errors "are the backend's" (raised again), every other one the
#: task's
collect_propagate_and_sort_by_type = _propagating(Exception, passed=(RedisError, OSError))


#: any error of get() is a timeout as long as the task has not finished
collect_not_ready_means_timeout = _timeout_if(lambda exc, result: not result.ready())


def _from_last_line(result, exc):
    name, _, message = result.traceback.strip().splitlines()[-1].partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}"


def test_05_2_right_answer() -> None:
    assert_passed(
        verdict("05.2", collect),
        "SUCCESS with its value, FAILURE as text (a task's own OSError and a two-line message "
        "too), TIMEOUT after get(timeout=0.5) and (timeout=1.2) without revoking, the result "
        "backend's errors propagated (also one that failed only once), REVOKED",
    )


NO_WORKER = "for a task no worker will run, collect(result, "
REVOKED = "for a revoked task (cancelled before it ran), collect() returned "
REDIS_DOWN = "when get() raised redis.exceptions.ConnectionError (Error 111 connecting to "
ONLY_CELERY_TIMEOUT = (
    "only Celery's TimeoutError means that the time ran out: catch that one (from "
    "celery.exceptions import TimeoutError), not every exception, and let an error of the "
    "result backend reach the caller"
)
NAME_IT = "name the exception, then its message: ReportError: ..."
OS_ERROR_HINT = (
    "Python's built-in {} is an OSError, what a socket to the result backend raises; it does "
    "not come from get()'s timeout: catch only Celery's TimeoutError"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(collect_propagates, "collect() let the failed task's ReportError escape",
                     "get() re-raises a failed task's exception", id="propagates"),
        pytest.param(_timeout_caught_as(TimeoutError), "collect() let "
                     "celery.exceptions.TimeoutError escape (a task no worker will run)",
                     "catch it: from celery.exceptions import TimeoutError", id="builtin-timeout"),
        pytest.param(collect_no_wait, "for a task that takes 0.3 s returning 3, collect() "
                     "returned (", "it answered before the task finished",
                     id="state-and-result"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: 3), NO_WORKER +
                     "0.5) called get(timeout=3)", "wait no longer than you are told: "
                     "get(timeout=timeout)", id="ignores-timeout"),
        pytest.param(collect_exception_object, "for a failed report, the second item is the "
                     "exception object itself", "make it text", id="exception-object"),
        pytest.param(collect_no_failed_check, "for a failed report, collect() said 'SUCCESS'",
                     "with propagate=False get() returns the exception instead of raising it",
                     id="no-failed-check"),
        pytest.param(collect_message_only, "for a failed report, collect() said \"no sales "
                     "data for month '2024-13'\"", NAME_IT, id="message-only-short"),
        pytest.param(collect_value_only, "for a task that takes 0.3 s, collect() returned an int "
                     "(3)", "return a pair", id="value-only"),
        pytest.param(collect_no_revoked_branch, REVOKED + "('SUCCESS', "
                     "TaskRevokedError('revoked'))", "with propagate=False get() returns the "
                     "TaskRevokedError of a revoked task, and failed() is False",
                     id="no-revoked-branch"),
        pytest.param(collect_revoked_as_failure, REVOKED + "('FAILURE', 'TaskRevokedError: "
                     "revoked')", 'a revoked task did not fail, it never ran: answer '
                     '("REVOKED", None)', id="revoked-as-failure"),
        pytest.param(collect_backend_error_as_failure, REDIS_DOWN, "the task did not fail, the "
                     "result backend did: catch only Celery's TimeoutError around get()",
                     id="backend-error-as-failure"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: None), "for a task "
                     "that takes 0.3 s, collect(result, 5) called get() without a timeout",
                     "then get() waits as long as the task takes", id="no-timeout"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: timeout / 4),
                     NO_WORKER + "0.5) answered TIMEOUT, but only asked get() to wait 0.125 s",
                     "wait the whole timeout: get(timeout=timeout)", id="quarter-timeout"),
        pytest.param(_timeout_caught_as(Exception), REDIS_DOWN, ONLY_CELERY_TIMEOUT,
                     id="catch-all-revoked-branch"),
        # adversary round 1
        pytest.param(_timeout_caught_as(TimeoutError), "let celery.exceptions.TimeoutError "
                     "escape", "catch it: from celery.exceptions import TimeoutError (Python's "
                     "built-in TimeoutError is another class",
                     id="adversary-builtin-timeout"),
        pytest.param(collect_guide_order, NO_WORKER + "0.5) returned ('FAILURE', 'TimeoutError: "
                     "The operation timed out.'): get()'s timeout was reported as a failure of "
                     "the task", "your except TimeoutError did not catch it: that name is "
                     "Python's built-in TimeoutError, and get() raises "
                     "celery.exceptions.TimeoutError, another class", id="guide-order"),
        pytest.param(_failure_text_as(lambda result, exc: str(exc)), "for a failed report, "
                     "collect() said \"no sales data for month '2024-13'\"", NAME_IT,
                     id="message-only"),
        pytest.param(_failure_text_as(lambda result, exc: repr(exc)), "for a failed report, "
                     "collect() said 'ReportError(", NAME_IT, id="repr"),
        pytest.param(_failure_text_as(lambda result, exc: result.traceback.strip().splitlines()
                                      [-1]), "collect() said \"course_tasks.tasks.reports."
                     "ReportError: no sales data", NAME_IT, id="traceback-line"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: 5), NO_WORKER +
                     "0.5) called get(timeout=5)", "wait no longer than you are told: "
                     "get(timeout=timeout)", id="fixed-timeout"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, tries=2), NO_WORKER + "0.5) called "
                     "get() 2 times (timeout=0.5, 0.5): it could wait 1 s in all", "wait once, "
                     "get(timeout=timeout): each try waits the whole timeout again",
                     id="retry-once"),
        pytest.param(collect_no_wait_adversary, "for a task that takes 0.3 s, collect(result, 5) "
                     "answered TIMEOUT without waiting at all", "wait the whole timeout: "
                     "get(timeout=timeout)", id="no-wait"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, on_timeout=lambda r: r.revoke()),
                     "for a task no worker will run, collect() revoked the task it stopped "
                     "waiting for "
                     "(revoke())", "a timeout only means that you stopped waiting: the task is "
                     "fine and may still run", id="revokes-on-timeout"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: timeout + 1),
                     NO_WORKER + "0.5) called get(timeout=1.5)", "wait no longer than you are "
                     "told: get(timeout=timeout)", id="margin"),
        pytest.param(collect_catch_all, REDIS_DOWN + "localhost:6379. Connection refused.), "
                     "collect() returned ('TIMEOUT', None)", ONLY_CELERY_TIMEOUT,
                     id="catch-all"),
        pytest.param(_failure_text_as(lambda result, exc: f"{type(exc).__module__}."
                                      f"{type(exc).__name__}: {exc}"), "collect() said "
                     "\"course_tasks.tasks.reports.ReportError: no sales data", NAME_IT,
                     id="qualified-name"),
        # adversary round 2
        pytest.param(collect_only_report_error, 'for a failed add(1, "a"), collect() let the '
                     "task's TypeError escape", "a task can fail with any exception, and get() "
                     "re-raises it: pass propagate=False and ask result.failed()",
                     id="r2-only-report-error"),
        pytest.param(_timeout_caught_as((CeleryTimeoutError, OSError)), "when get() raised "
                     "builtins.ConnectionRefusedError ([Errno 111] Connection refused), collect() "
                     "returned ('TIMEOUT', None)", OS_ERROR_HINT.format("ConnectionRefusedError"),
                     id="r2-catches-oserror"),
        pytest.param(_timeout_caught_as((CeleryTimeoutError, builtins.TimeoutError)), "when "
                     "get() raised builtins.TimeoutError (timed out), collect() returned "
                     "('TIMEOUT', None)", OS_ERROR_HINT.format("TimeoutError"),
                     id="r2-catches-both-timeouts"),
        pytest.param(_timeout_caught_as((CeleryTimeoutError, RedisError)), REDIS_DOWN +
                     "localhost:6379. Connection refused.), collect() returned ('TIMEOUT', None)",
                     ONLY_CELERY_TIMEOUT, id="r2-catches-redis-errors"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: max(timeout - 1, 0.5)),
                     NO_WORKER + "1.2) answered TIMEOUT, but only asked get() to wait 0.5 s",
                     "wait the whole timeout: get(timeout=timeout)", id="r2-timeout-compensated"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError,
                                        on_timeout=lambda r: app.control.revoke(r.id)),
                     "for a task no worker will run, collect() revoked the task it stopped "
                     "waiting for (revoke())", "a timeout only means that you stopped waiting",
                     id="r2-timeout-control-revoke"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, on_timeout=lambda r: r.forget()),
                     NO_WORKER.removesuffix(", collect(result, ") + " (PROGRESS stored), "
                     "collect(result, 0.5) answered ('TIMEOUT', None) and the task now reads "
                     "PENDING", "a timeout only means that you stopped waiting: the task may "
                     "still run, and a status page still reads its state", id="r2-timeout-forget"),
        pytest.param(_failure_text_as(lambda result, exc: result.traceback.strip().splitlines()
                                      [-1]), "for a failed report, collect() said \"course_tasks."
                     "tasks.reports.ReportError: no sales data", NAME_IT,
                     id="r2-text-from-traceback"),
        pytest.param(collect_revoked_by_early_state, "for a task revoked while collect() waited "
                     "for it, collect() returned ('SUCCESS', TaskRevokedError('revoked'))",
                     "the task was revoked while you waited: read result.state after get() "
                     "returns, not before", id="r2-revoked-by-early-state"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError, lambda timeout: int(timeout)),
                     NO_WORKER + "0.5) answered TIMEOUT, but only asked get() to wait 0 s",
                     "wait the whole timeout: get(timeout=timeout)", id="r2-timeout-int"),
        # adversary round 3
        pytest.param(_timeout_caught_as((CeleryTimeoutError, builtins.TimeoutError)), "when "
                     "get() raised builtins.TimeoutError (timed out), collect() returned "
                     "('TIMEOUT', None)", OS_ERROR_HINT.format("TimeoutError"),
                     id="r3-both-timeouts"),
        pytest.param(_timeout_if(lambda exc, _: isinstance(exc, CeleryTimeoutError | RedisTimeout)),
                     "when get() raised redis.exceptions.TimeoutError (Timeout reading from "
                     "socket), collect() returned ('TIMEOUT', None)", ONLY_CELERY_TIMEOUT,
                     id="r3-redis-timeout-too"),
        pytest.param(_timeout_if(lambda exc, _: type(exc).__name__ == "TimeoutError"), "when get() "
                     "raised redis.exceptions.TimeoutError (Timeout reading from socket), "
                     "collect() returned ('TIMEOUT', None)", ONLY_CELERY_TIMEOUT,
                     id="r3-timeout-by-name"),
        pytest.param(collect_propagate_and_sort_by_type, "for an export that failed with "
                     "UploadUnavailable, a ConnectionError, collect() let the task's "
                     "UploadUnavailable escape", "the task itself failed with UploadUnavailable "
                     "(an OSError, as a task calling a server may): the class does not tell the "
                     "task's error from the result backend's", id="r3-propagate-sort-by-type"),
        pytest.param(collect_not_ready_means_timeout, "when get() raised "
                     "redis.exceptions.ConnectionError (Connection reset by peer), collect() "
                     "returned ('TIMEOUT', None); the backend answered again after, and the task "
                     "had not finished", "a task that is not ready() has not timed out: the time "
                     "ran out only when get() raises Celery's TimeoutError",
                     id="r3-not-ready-means-timeout"),
        pytest.param(_failure_text_as(_from_last_line), "for a failed report whose message has "
                     "two lines, collect() said '(the sales import has not run): '", "the message "
                     "has two lines: f\"{type(exc).__name__}: {exc}\" keeps it whole, the "
                     "traceback's last line is only the last line of it",
                     id="r3-traceback-last-line"),
        pytest.param(_timeout_caught_as(CeleryTimeoutError,
                                        on_timeout=lambda r: app.control.revoke(r.id)),
                     "for a task no worker will run, collect() revoked the task it stopped "
                     "waiting for (revoke())", "a timeout only means that you stopped waiting",
                     id="r3-control-revoke-on-timeout"),
    ],
)  # fmt: skip
def test_05_2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("05.2", answer), problem, hint)


# --------------------------------------------------------------------------- 05.3 answers


def cancel(task_id):
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return "too late"
    result.revoke()
    return "cancelled"


def cancel_control(task_id):
    """app.control.revoke with the id (in a list), terminate spelled out as False."""
    if app.AsyncResult(task_id).state == "PENDING":
        app.control.revoke([task_id], terminate=False)
        return "cancelled"
    return "too late"


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


def cancel_busy_confirm(task_id):
    # waits for REVOKED without sleeping
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return "too late"
    result.revoke()
    while result.state != "REVOKED":
        pass
    return "cancelled"


def cancel_other_id(task_id):
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return "too late"
    app.control.revoke(str(uuid.uuid4()))
    return "cancelled"


# adversary round 1


def _revoking(revoke):
    """The solution's ``cancel``, with ``revoke(result)`` in place of ``result.revoke()``."""

    def cancel(task_id):
        result = app.AsyncResult(task_id)
        if result.state != "PENDING":
            return "too late"
        revoke(result)
        return "cancelled"

    return cancel


def cancel_always_revoke(task_id):
    result = app.AsyncResult(task_id)
    state = result.state
    result.revoke()  # harmless on a finished task, isn't it?
    return "cancelled" if state == "PENDING" else "too late"


def cancel_only_started(task_id):
    result = app.AsyncResult(task_id)
    if result.state in ("STARTED", "PROGRESS"):  # finished tasks get revoked
        return "too late"
    result.revoke()
    return "cancelled"


_CANCELLED = set()


def cancel_python_set(task_id):
    # an app-side cancel list in a Python global: the worker never hears of it
    return _revoking(lambda result: _CANCELLED.add(result.id))(task_id)


def cancel_date_done(task_id):
    result = app.AsyncResult(task_id)
    if result.date_done is not None:  # a running task has no date_done either
        return "too late"
    result.revoke()
    return "cancelled"


def _confirm(result):
    result.revoke()
    deadline = time.monotonic() + 2  # wait until the worker confirms, up to 2 s
    while result.state != "REVOKED" and time.monotonic() < deadline:
        time.sleep(0.05)


def cancel_wait_then_decide(task_id):
    # "give it a moment: maybe it finishes by itself"
    result = app.AsyncResult(task_id)
    with contextlib.suppress(CeleryTimeoutError):
        result.get(timeout=0.5, propagate=False)
    return cancel(task_id)


# adversary round 2


def _too_late_in(states):
    """A ``cancel`` that lists the states that are too late, and revokes any other one."""

    def cancel_listed(task_id):
        result = app.AsyncResult(task_id)
        if result.state in states:
            return "too late"
        result.revoke()
        return "cancelled"

    return cancel_listed


#: too-late states listed by hand, without PROGRESS and RETRY
cancel_forgets_progress = _too_late_in(("STARTED", "SUCCESS", "FAILURE", "REVOKED"))


def cancel_pending_or_retry(task_id):
    result = app.AsyncResult(task_id)
    if result.state in ("PENDING", "RETRY"):
        result.revoke()
        return "cancelled"
    return "too late"


def cancel_not_ready_r2(task_id):
    result = app.AsyncResult(task_id)
    if result.state in ("SUCCESS", "FAILURE", "REVOKED"):
        return "too late"
    result.revoke()
    return "cancelled"


def cancel_broadcast_terminate(task_id):
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return "too late"
    app.control.broadcast(
        "revoke", arguments={"task_id": task_id, "terminate": True, "signal": "SIGTERM"}
    )
    return "cancelled"


def cancel_then_purge(task_id):
    # revoke() leaves the message in the queue: purge "to be sure", every waiting task with it
    result = app.AsyncResult(task_id)
    if result.state != "PENDING":
        return "too late"
    result.revoke()
    app.control.purge()
    return "cancelled"


# adversary round 3


def cancel_revoked_again(task_id):
    # "cancel twice says cancelled twice": a REVOKED task is revoked again
    result = app.AsyncResult(task_id)
    if result.state not in ("PENDING", "REVOKED"):
        return "too late"
    result.revoke()
    return "cancelled"


_CANCELLED_R3 = set()


def cancel_remembers_in_global(task_id):
    # answers "cancelled" again from a Python set, without looking at the backend
    if task_id in _CANCELLED_R3:
        return "cancelled"
    answer = cancel(task_id)
    if answer == "cancelled":
        _CANCELLED_R3.add(task_id)
    return answer


#: asks the workers to confirm, with a short timeout (adversary rounds 2 and 3)
cancel_with_reply = _revoking(lambda result: app.control.revoke(result.id, reply=True, timeout=0.5))


def cancel_mark_as_revoked(task_id):
    # REVOKED written into the result backend: no worker is told
    return _revoking(lambda result: app.backend.mark_as_revoked(result.id, reason="user"))(task_id)


#: too late only for the states listed: FAILURE and REVOKED get revoked and "cancelled"
cancel_deny_list = _too_late_in(("STARTED", "PROGRESS", "RETRY", "SUCCESS"))


def test_05_3_right_answer() -> None:
    assert_passed(
        verdict("05.3", cancel),
        "too late for a finished task, running ones (STARTED, PROGRESS), RETRY, FAILURE and the "
        "one it cancelled, asked again (REVOKED), left alone; a waiting one revoked, nothing "
        "purged, no get()",
    )


RUNNING = "for a running task (STARTED), cancel() "
WAITING = "for a task waiting in its queue, cancel() "
CANCEL_NOW = (
    "decide from result.state as it is now and answer at once: a revoke needs no waiting, the "
    "workers store REVOKED themselves"
)
TOO_LATE_SAID_CANCELLED = (
    'a running task reads STARTED: revoke() would not stop it, so it is "too late". Only '
    "PENDING means that it has not started"
)
TERMINATE = "terminate kills the process running the task wherever it is"
GOT = "get() waits whenever the task has not finished, and reads the result backend a second time: "
WAITED_FOR_REPLIES = (
    WAITING + "waited for the workers' replies to its revoke (revoke(reply=True))",
    "send the revoke and answer: revoke() returns at once unless you ask for replies",
)
NEVER_REVOKED = 'cancel() said "cancelled" but never revoked the task'
CALL_REVOKE = "call app.AsyncResult(task_id).revoke(): that is what stops it running"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(cancel_always, "for a finished task, cancel() said 'cancelled'", "revoke() "
                     "cannot undo a task that already ran", id="always"),
        pytest.param(cancel_not_ready, RUNNING + "said 'cancelled'", TOO_LATE_SAID_CANCELLED,
                     id="not-ready-short"),
        pytest.param(cancel_terminates, "cancel() revoked a running task (STARTED) with "
                     "terminate=True", TERMINATE, id="terminates-running"),
        pytest.param(cancel_without_revoking, NEVER_REVOKED, CALL_REVOKE, id="without-revoking"),
        pytest.param(cancel_waits, "for a finished task, cancel() called get() on the task (it "
                     "had finished, so get() answered at once this time)", GOT + CANCEL_NOW,
                     id="waits"),
        pytest.param(cancel_booleans, "for a finished task, cancel() returned False", "return "
                     '"cancelled" for a task that had not started', id="booleans"),
        pytest.param(cancel_busy_confirm, WAITING + "read the task's state again and again (13 "
                     "times), waiting for it to change", CANCEL_NOW, id="busy-confirm"),
        pytest.param(cancel_other_id, NEVER_REVOKED, CALL_REVOKE, id="other-id"),
        # adversary round 1
        pytest.param(cancel_not_ready, RUNNING + "said 'cancelled'", TOO_LATE_SAID_CANCELLED,
                     id="not-ready"),
        pytest.param(_revoking(lambda result: result.revoke(terminate=True)), WAITING + "sent "
                     "revoke(terminate=True)", TERMINATE, id="terminate"),
        pytest.param(_revoking(lambda result: result.revoke(terminate=True, signal="SIGKILL")),
                     WAITING + "sent revoke(terminate=True, signal='SIGKILL')", "signal='SIGKILL' "
                     "does not take the task out of its queue (section 5)", id="guide-sigkill"),
        pytest.param(cancel_always_revoke, "for a finished task, cancel() answered \"too late\" "
                     "but sent a revoke for it (revoke())", "leave a task that is too late "
                     "alone: revoke only when result.state is PENDING", id="always-revoke"),
        pytest.param(_revoking(lambda result: app.control.revoke(result.id, reply=True,
                                                                 timeout=1.0)),
                     WAITING + "waited for the workers' replies to its revoke "
                     "(revoke(reply=True))", "send the revoke and answer: revoke() returns at "
                     "once unless you ask for replies", id="revoke-wait"),
        pytest.param(cancel_only_started, "for a finished task, cancel() said 'cancelled'",
                     "revoke() cannot undo a task that already ran", id="only-started"),
        pytest.param(_revoking(lambda result: result.forget()), NEVER_REVOKED, CALL_REVOKE,
                     id="forget"),
        pytest.param(cancel_python_set, NEVER_REVOKED, CALL_REVOKE, id="python-set"),
        pytest.param(cancel_date_done, RUNNING + "said 'cancelled'", TOO_LATE_SAID_CANCELLED,
                     id="date-done"),
        pytest.param(_revoking(_confirm), WAITING + "waited before answering (it called "
                     "time.sleep(0.05))", CANCEL_NOW, id="confirm-revoked"),
        pytest.param(cancel_wait_then_decide, "for a finished task, cancel() called get() on the "
                     "task (it had finished", GOT + CANCEL_NOW, id="wait-then-decide"),
        # adversary round 2
        pytest.param(cancel_forgets_progress, "for a task in PROGRESS, cancel() said "
                     "'cancelled'", "a task in PROGRESS is running (it reports how far it got): "
                     "revoke() would not stop it", id="r2-forgets-progress"),
        pytest.param(cancel_pending_or_retry, "for a task in RETRY, cancel() said 'cancelled'",
                     "RETRY means an attempt already ran; the next one may start at any moment",
                     id="r2-pending-or-retry"),
        pytest.param(cancel_with_reply, *WAITED_FOR_REPLIES, id="r2-control-reply"),
        pytest.param(cancel_not_ready_r2, RUNNING + "said 'cancelled'", TOO_LATE_SAID_CANCELLED,
                     id="r2-not-ready"),
        pytest.param(cancel_broadcast_terminate, WAITING + "sent revoke(terminate=True, "
                     "signal='SIGTERM')", TERMINATE, id="r2-broadcast-terminate"),
        pytest.param(cancel_then_purge, WAITING + "purged the queues (app.control.purge(), or a "
                     "queue's purge()): that deletes every task waiting in them", "revoke() alone "
                     "is enough", id="r2-then-purge"),
        # adversary round 3
        pytest.param(cancel_revoked_again, "for the task it cancelled, asked again (REVOKED now), "
                     "cancel() said 'cancelled' and revoked it again", "a revoked task is done "
                     'with, as the exercise says: answer "too late" and send no revoke',
                     id="r3-revoked-again"),
        pytest.param(cancel_remembers_in_global, "for the task it cancelled, asked again (REVOKED "
                     "now), cancel() said 'cancelled'", "it answered from an earlier call, not "
                     "from the backend (a set of the ids you cancelled lives in one process only",
                     id="r3-remembers-in-global"),
        pytest.param(cancel_mark_as_revoked, NEVER_REVOKED, CALL_REVOKE, id="r3-mark-as-revoked"),
        pytest.param(cancel_with_reply, *WAITED_FOR_REPLIES, id="r3-revoke-with-reply"),
        pytest.param(cancel_deny_list, "for a failed report (FAILURE), cancel() said 'cancelled'",
                     'a failed task already ran: it is "too late", as the exercise says. Only '
                     "PENDING means that it has not started", id="r3-deny-list-of-states"),
    ],
)  # fmt: skip
def test_05_3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("05.3", answer), problem, hint)


# --------------------------------------------------------------------------- 05.4 answers


def lookup(task_id):
    if not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_whole_set(task_id):
    """Reads the backend first, the whole set on every call, and decides from the set first."""
    state = app.AsyncResult(task_id).state
    if task_id not in store().smembers(ISSUED_KEY):
        return "unknown"
    return {"PENDING": "waiting"}.get(state, state)


def lookup_stub(task_id): ...


def lookup_state_only(task_id):
    return app.AsyncResult(task_id).state


def lookup_backend_only(task_id):
    state = app.AsyncResult(task_id).state
    return "unknown" if state == "PENDING" else state


def lookup_pending_is_waiting(task_id):
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def _in_set(key):
    """The solution's ``lookup``, reading the set ``key``."""

    def lookup(task_id):
        if not store().sismember(key, task_id):
            return "unknown"
        state = app.AsyncResult(task_id).state
        return "waiting" if state == "PENDING" else state

    return lookup


def lookup_result(task_id):
    return app.AsyncResult(task_id)


def lookup_waits(task_id):
    result = app.AsyncResult(task_id)
    if store().sismember(ISSUED_KEY, task_id):
        result.get(timeout=5, propagate=False)  # "a moment, and it will not be waiting"
    return lookup(task_id)


# adversary round 1


def lookup_backend_key(task_id):
    if not app.backend.client.exists(app.backend.get_key_for_task(task_id)):
        return "unknown"
    return app.AsyncResult(task_id).state


def lookup_backend_first(task_id):
    # asks the backend first; the issued set only for PENDING
    state = app.AsyncResult(task_id).state
    if state != "PENDING":
        return state
    return "waiting" if store().sismember(ISSUED_KEY, task_id) else "unknown"


def lookup_not_ready_waiting(task_id):
    if not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    result = app.AsyncResult(task_id)
    return "waiting" if not result.ready() else result.state  # STARTED/RETRY -> "waiting"


def lookup_cached_set():
    """A ``lookup`` that reads the issued set once, at its first call, into a cache."""
    cache = []

    def lookup(task_id):
        if not cache:
            cache.append(set(store().smembers(ISSUED_KEY)))
        if task_id not in cache[0]:
            return "unknown"
        state = app.AsyncResult(task_id).state
        return "waiting" if state == "PENDING" else state

    return lookup


def lookup_uuid_format(task_id):
    # an id that is not a uuid is unknown; any well-formed PENDING id is waiting
    try:
        uuid.UUID(task_id)
    except ValueError:
        return "unknown"
    return lookup_pending_is_waiting(task_id)


def lookup_name_none(task_id):
    # result_extended: no stored name -> nobody issued it
    result = app.AsyncResult(task_id)
    if result.name is None and result.state == "PENDING":
        return "unknown"
    return "waiting" if result.state == "PENDING" else result.state


def lookup_lowercase(task_id):
    answer = lookup(task_id)
    return answer if answer in ("unknown", "waiting") else answer.lower()


def lookup_pending_raw(task_id):
    if not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    return app.AsyncResult(task_id).state  # "PENDING", not "waiting"


def lookup_name_gate(task_id):
    # "waiting" only if a worker has seen the task (it has a stored name)
    if not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    result = app.AsyncResult(task_id)
    if result.state == "PENDING":
        return "waiting" if result.name else "unknown"
    return result.state


# adversary round 2


def lookup_memoized():
    """A ``lookup`` that keeps each id's answer in a dict."""
    seen = {}

    def lookup_memo(task_id):
        if task_id not in seen:
            seen[task_id] = lookup(task_id)
        return seen[task_id]

    return lookup_memo


def lookup_lru_cache():
    return functools.lru_cache(maxsize=None)(lambda task_id: lookup(task_id))


def lookup_sadd(task_id):
    # check-and-set: every unknown id asked about is recorded as issued
    if store().sadd(ISSUED_KEY, task_id):
        return "unknown"
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_backend_client(task_id):
    if not app.backend.client.sismember(ISSUED_KEY, task_id):
        return "unknown"
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_name_shortcut(task_id):
    # a task the backend has a name for is taken as real, issued or not
    result = app.AsyncResult(task_id)
    state = result.state
    if result.name is None and not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    return "waiting" if state == "PENDING" else state


def lookup_global_snapshot():
    """A ``lookup`` with the set kept in a global, refreshed once a minute."""
    kept = {}

    def lookup_snapshot(task_id):
        if kept.get("at") is None or time.monotonic() - kept["at"] > 60:
            kept["ids"], kept["at"] = set(store().smembers(ISSUED_KEY)), time.monotonic()
        if task_id not in kept["ids"]:
            return "unknown"
        state = app.AsyncResult(task_id).state
        return "waiting" if state == "PENDING" else state

    return lookup_snapshot


def _waiting_or_state(task_id):
    """What ``lookup`` answers for an issued id."""
    state = app.AsyncResult(task_id).state
    return "waiting" if state == "PENDING" else state


def lookup_pipeline_wraps_store_error(task_id):
    """Reads the set in a pipeline (reads only); an unreachable store becomes its own error."""
    try:
        issued, size = store().pipeline().sismember(ISSUED_KEY, task_id).scard(ISSUED_KEY).execute()
    except RedisError as exc:
        raise RuntimeError("the app-data store cannot be reached") from exc
    if not issued or not size:
        return "unknown"
    return _waiting_or_state(task_id)


# adversary round 3

_UNKNOWN_IDS = set()


def lookup_caches_unknown(task_id):
    # "an unknown id stays unknown": unknown ids kept in a Python global for ever
    if task_id in _UNKNOWN_IDS:
        return "unknown"
    if not store().sismember(ISSUED_KEY, task_id):
        _UNKNOWN_IDS.add(task_id)
        return "unknown"
    return lookup(task_id)


def lookup_copy_refreshed_on_miss():
    """A ``lookup`` with a local copy of the whole set, refreshed only when an id is missing."""
    copy = set()

    def lookup_copy(task_id):
        if task_id not in copy:
            copy.update(store().smembers(ISSUED_KEY))
        if task_id not in copy:
            return "unknown"
        return _waiting_or_state(task_id)

    return lookup_copy


def lookup_store_down_is_unknown(task_id):
    # a store it cannot reach makes every id "unknown" instead of an error
    try:
        issued = store().sismember(ISSUED_KEY, task_id)
    except Exception:
        issued = False
    if not issued:
        return "unknown"
    return _waiting_or_state(task_id)


def lookup_refreshes_ttl(task_id):
    # "keep the set from growing for ever": a one-day expiry on the whole set at every lookup
    store().expire(ISSUED_KEY, 24 * 3600)
    return lookup(task_id)


def lookup_logs_unknown(task_id):
    # records the unknown ids it is asked about in another set, for an audit
    if not store().sismember(ISSUED_KEY, task_id):
        store().sadd("unknown-lookups", task_id)
        return "unknown"
    return lookup(task_id)


def lookup_retry_is_waiting(task_id):
    if not store().sismember(ISSUED_KEY, task_id):
        return "unknown"
    state = app.AsyncResult(task_id).state
    return "waiting" if state in ("PENDING", "RETRY") else state


def test_05_4_right_answer() -> None:
    assert_passed(
        verdict("05.4", lookup),
        "unknown for ids never issued (with a result stored, or run by a worker) and one taken "
        "out of the set, nothing written to the store; waiting for a queued task and one issued "
        "after it was asked about, SUCCESS once it ran; else the state (STARTED and RETRY "
        "too); the store's error let through",
    )
    assert store().smembers(ISSUED_KEY) == set()


NEVER = "for an id the app never issued (a typo or made up), lookup() said "
QUEUED = "for an issued task still waiting in its queue, lookup() said "
KEY_HINT = (
    "the app's issued ids are in the set 'issued-tasks' of the app-data store: "
    "store().sismember('issued-tasks', task_id)"
)
NOTHING_EITHER = (
    "a task waiting in its queue has nothing in the result backend either: the issued set is "
    "what tells it from a typo"
)
STALE = "for the issued task that was waiting, asked again after it ran (SUCCESS now), "
STALE += "lookup() said "
STALE_HINT = (
    "a task moves on: read the issued set and the state on every call; an answer kept from an "
    "earlier call (a dict, lru_cache) goes stale"
)
NOT_READY = (
    '"waiting" is only for PENDING, when the backend has nothing yet: this task has its state '
    "stored, though it is not ready(): return result.state"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(lookup_state_only, QUEUED + "'PENDING'", 'an issued id that reads PENDING '
                     'is "waiting"', id="state-only"),
        pytest.param(lookup_backend_only, QUEUED + "'unknown'", NOTHING_EITHER,
                     id="backend-only"),
        pytest.param(lookup_pending_is_waiting, NEVER + "'waiting'", "PENDING alone cannot "
                     "tell: look the id up in the issued set first", id="pending-is-waiting"),
        pytest.param(_in_set("issued"), "for an issued task that finished, lookup() said "
                     "'unknown'", KEY_HINT, id="wrong-set"),
        pytest.param(lookup_result, "for an issued task that finished, lookup() returned the "
                     "AsyncResult itself", 'return a str: "unknown", "waiting" or the state',
                     id="result"),
        pytest.param(lookup_waits, "for an issued task still waiting in its queue, lookup() "
                     "waited for the task (it called get() on it)",
                     "get() waits until the task finishes, maybe for ever: look the id up in "
                     "the issued set, read result.state once, and answer", id="waits"),
        # adversary round 1
        pytest.param(lookup_pending_is_waiting, NEVER + "'waiting'", "PENDING alone cannot "
                     "tell: look the id up in the issued set first", id="ignores-issued"),
        pytest.param(lookup_backend_key, QUEUED + "'unknown'", NOTHING_EITHER,
                     id="backend-key"),
        pytest.param(lookup_backend_first, "for an id the app never issued that has a result "
                     "stored (SUCCESS), lookup() said 'SUCCESS'", 'an id the app never issued is '
                     '"unknown", whatever the backend says', id="backend-first"),
        pytest.param(lookup_not_ready_waiting, "for an issued task that is running (STARTED), "
                     "lookup() said 'waiting'", NOT_READY, id="not-ready-waiting"),
        pytest.param(lookup_cached_set(), "for an issued task that failed, lookup() said "
                     "'unknown', though its id is in the set 'issued-tasks' (issued after "
                     "lookup's first call)", "read the issued set on every call", id="cached-set"),
        pytest.param(lookup_uuid_format, NEVER + "'waiting'", "PENDING alone cannot tell",
                     id="uuid-format"),
        pytest.param(lookup_name_none, QUEUED + "'unknown'", NOTHING_EITHER, id="name-none"),
        pytest.param(lookup_lowercase, "for an issued task that finished, lookup() said "
                     "'success'", "for an issued id, answer the state the backend stores "
                     "(result.state)", id="lowercase"),
        pytest.param(lookup_pending_raw, QUEUED + "'PENDING'", 'an issued id that reads '
                     'PENDING is "waiting"', id="pending-raw"),
        pytest.param(_in_set("issued_tasks"), "for an issued task that finished, lookup() said "
                     "'unknown'", KEY_HINT, id="wrong-key"),
        pytest.param(lookup_name_gate, QUEUED + "'unknown'", NOTHING_EITHER, id="name-gate"),
        # adversary round 2
        pytest.param(lookup_memoized(), STALE + "'waiting', as it did before it ran", STALE_HINT,
                     id="r2-memoized"),
        pytest.param(lookup_lru_cache(), STALE + "'waiting', as it did before it ran", STALE_HINT,
                     id="r2-lru-cache"),
        pytest.param(lookup_sadd, "for an issued task that finished, lookup() sent SADD "
                     "issued-tasks ", "lookup only reads: store().sismember(...), not sadd",
                     id="r2-sadd"),
        pytest.param(lookup_backend_client, "for an issued task that finished, lookup() said "
                     "'unknown'", KEY_HINT, id="r2-backend-client"),
        pytest.param(lookup_name_shortcut, "for an id the app never issued that a worker ran "
                     "(SUCCESS, its task name stored), lookup() said 'SUCCESS'", 'an id the app '
                     'never issued is "unknown", whatever the backend says', id="r2-name-shortcut"),
        pytest.param(lookup_global_snapshot(), "for an issued task that failed, lookup() said "
                     "'unknown', though its id is in the set 'issued-tasks' (issued after "
                     "lookup's first call)", "read the issued set on every call",
                     id="r2-global-snapshot"),
        pytest.param(lookup_lowercase, "for an issued task that finished, lookup() said "
                     "'success'", "for an issued id, answer the state the backend stores "
                     "(result.state)", id="r2-lowercase-state"),
        # adversary round 3
        pytest.param(lookup_caches_unknown, "for an id that was unknown, asked again once the "
                     "app had issued it (PENDING), lookup() said 'unknown'", "read the issued "
                     "set on every call: an id unknown a moment ago may have been issued since",
                     id="r3-caches-unknown"),
        pytest.param(lookup_copy_refreshed_on_miss(), "for an issued task that finished, asked "
                     "again after the app took its id out of the set 'issued-tasks', lookup() "
                     "said 'SUCCESS'", "the set is the record of the ids the app stands by: read "
                     "it on every call. A copy kept from an earlier call still has the ids taken "
                     "out of it since", id="r3-local-copy-refreshed-on-miss"),
        pytest.param(lookup_store_down_is_unknown, "for an issued task that is running, while "
                     "the app-data store cannot be reached (redis.exceptions.ConnectionError: "
                     "Error 111 connecting to localhost:6379. Connection refused.), lookup() "
                     "answered 'unknown'", "a store that cannot be reached says nothing about "
                     "the id: let its error reach the caller", id="r3-store-down-is-unknown"),
        pytest.param(lookup_refreshes_ttl, "for an issued task that finished, lookup() sent "
                     "EXPIRE issued-tasks 86400 to the app-data store: a write", "lookup only "
                     "reads: store().sismember(...). An expiry on the issued set is not "
                     "lookup's to set", id="r3-refreshes-ttl"),
        pytest.param(lookup_logs_unknown, "for an id the app never issued, lookup() sent SADD "
                     "unknown-lookups ", "lookup only reads: store().sismember(...). Writing "
                     "anything, to another key too, changes the app's data at every lookup",
                     id="r3-logs-unknown"),
        pytest.param(lookup_retry_is_waiting, "for an issued task waiting for its retry (RETRY), "
                     "lookup() said 'waiting'", NOT_READY, id="r3-retry-is-waiting"),
    ],
)  # fmt: skip
def test_05_4_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("05.4", answer), problem, hint)
    assert store().smembers(ISSUED_KEY) == set()


# --------------------------------------------------------------------------- every exercise


@pytest.mark.parametrize(
    ("id", "answer"),
    [
        pytest.param("05.1", status_match, id="05.1-match-status-extra-keys"),
        pytest.param("05.2", collect_propagating, id="05.2-propagate-and-catch-by-kind"),
        pytest.param("05.2", collect_polls, id="05.2-polls-with-a-deadline"),
        pytest.param("05.2", collect_wraps_backend_error, id="05.2-backend-error-wrapped"),
        pytest.param("05.3", cancel_control, id="05.3-app-control-revoke"),
        pytest.param("05.4", lookup_whole_set, id="05.4-whole-set-backend-read-first"),
        pytest.param(
            "05.4", lookup_pipeline_wraps_store_error, id="05.4-pipeline-store-error-wrapped"
        ),
    ],
)
def test_other_right_answers(id: str, answer: Any) -> None:
    assert_passed(verdict(id, answer))


@pytest.mark.parametrize(
    ("id", "stub", "name"),
    [
        ("05.1", status_stub, "status"),
        ("05.2", collect_stub, "collect"),
        ("05.3", cancel_stub, "cancel"),
        ("05.4", lookup_stub, "lookup"),
    ],
)
def test_stubs_are_not_yet(id: str, stub: Any, name: str) -> None:
    assert verdict(id, stub).feedback == (
        f"not yet: write the body of {name}, run that cell, then this one"
    )


@pytest.mark.parametrize(
    ("id", "value", "problem", "hint"),
    [
        ("05.1", 42, "got an int, not a function", "define def status(task_id)"),
        ("05.3", "cancel", "got a str, not a function", "define def cancel(task_id)"),
    ],
)
def test_not_a_function(id: str, value: Any, problem: str, hint: str) -> None:
    assert_fails(verdict(id, value), problem, hint)


# --------------------------------------------------------------------------- redis mode

#: Right answers, and wrong ones whose mistake a worker process could hide (it marks REVOKED
#: sooner, runs tasks in another process): each must get the same verdict as in embedded mode.
REDIS_CASES = {
    "05.1": ["status", "status_reads_state_twice", "status_poll_pending", "status_lru_cached"],
    "05.2": ["collect", "collect_polls", "collect_catch_all", "collect_no_revoked_branch",
             "collect_not_ready_means_timeout"],
    "05.3": ["cancel", "cancel_busy_confirm", "cancel_always_revoke", "cancel_terminates",
             "cancel_remembers_in_global"],
    "05.4": ["lookup", "lookup_backend_first", "lookup_not_ready_waiting",
             "lookup_store_down_is_unknown", "lookup_refreshes_ttl"],
}  # fmt: skip


@pytest.mark.redis
def test_the_checks_judge_alike_with_a_worker_process(redis_worker: str) -> None:
    from conftest import run_python

    proc = run_python(
        "import sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from course_tasks import runtime\n"
        "from course_tasks.checks import evaluate\n"
        "import test_checks_ch05 as answers\n"
        "runtime.wait_for_workers(15)\n"
        "runtime.start(quiet=True)\n"
        f"for id, names in {REDIS_CASES!r}.items():\n"
        "    for name in names:\n"
        "        outcome = evaluate(id, getattr(answers, name))\n"
        "        print(id, name, outcome.passed, outcome.feedback.split('. Hint:')[0][:120])\n",
        timeout=180,
        COURSE_BROKER=redis_worker,
    )
    assert proc.returncode == 0, proc.stderr
    verdicts = {line.split()[1]: line for line in proc.stdout.splitlines() if line[:3] == "05."}
    right = {"status", "collect", "collect_polls", "cancel", "lookup"}
    for names in REDIS_CASES.values():
        for name in names:
            assert f" {name} {name in right} " in verdicts.get(name, ""), proc.stdout
    assert "read the task's state again and again" in verdicts["cancel_busy_confirm"]
    assert "(STARTED for the first" in verdicts["status_reads_state_twice"]
    assert "when get() raised redis.exceptions" in verdicts["collect_catch_all"]
    assert "(Connection reset by peer)" in verdicts["collect_not_ready_means_timeout"]
    assert "cannot be reached" in verdicts["lookup_store_down_is_unknown"]
    assert "sent EXPIRE" in verdicts["lookup_refreshes_ttl"]
