"""Checks of chapter 05's exercises (``solutions/05_states_and_results_solutions.ipynb``).

Every check runs the learner's code on real results of the course's tasks, in every mode,
and bounds every wait (a learner's function that blocks is run in a helper thread):

* 05.1 ``check("05.1", status)``: ``status(task_id)`` answers guide 000's status endpoint as
  a json-ready dict for tasks in seven states (PENDING, STARTED, PROGRESS, SUCCESS, FAILURE,
  RETRY, REVOKED), without waiting for the task;
* 05.2 ``check("05.2", collect)``: ``collect(result, timeout)`` waits at most ``timeout``
  seconds and never raises: ``("SUCCESS", value)``, ``("FAILURE", "Name: message")`` or
  ``("TIMEOUT", None)``;
* 05.3 ``check("05.3", cancel)``: ``cancel(task_id)`` revokes a task that has not started
  and answers ``"cancelled"``, and answers ``"too late"`` for a running or finished task,
  which it leaves alone (no ``terminate=True``); the check watches ``app.control.revoke``;
* 05.4 ``check("05.4", lookup)``: ``lookup(task_id)`` tells an id the app never issued
  (``"unknown"``) from an issued task still waiting in its queue (``"waiting"``); both read
  PENDING. Issued ids are in the app-data set :data:`ISSUED_KEY`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_bounded,
    call_watched,
    delete_queue,
    is_stub_body,
    kind,
    need_function,
)
from course_tasks.store import store
from course_tasks.tasks.basics import add, process_items, sleepy_add
from course_tasks.tasks.reports import ReportError, monthly_sales_report

#: How long a check waits for a course task that should finish quickly.
WAIT_SECONDS = 5.0
#: How long a status, cancel or lookup function may take before the check stops waiting for
#: it (whether it waited for the task is seen, not timed: ``support.watching``).
STATUS_SECONDS = 2.0
#: A queue that no worker consumes: a task sent there stays PENDING until released.
PARKING_QUEUE = "course-check-parked-05"
#: The app-data set of task ids the app has handed out (exercise 05.4).
ISSUED_KEY = "issued-tasks"
#: What exercise 05.3's ``cancel`` may answer.
CANCEL_ANSWERS = ("cancelled", "too late")
BAD_MONTH = "2024-13"
#: The name of the helper thread that runs a learner's function with a time limit.
THREAD_NAME = "course-check-05"


# --------------------------------------------------------------------------- helpers


def _wait_for_state(result: AsyncResult, state: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while result.state != state:
        if time.monotonic() > deadline:
            raise Fail(
                f"a {result.name or 'course'} task did not reach {state} within {seconds:g} s",
                hint="is the worker running? Run the set-up cell at the top again",
            )
        time.sleep(0.005)


def _finish(result: AsyncResult) -> None:
    with suppress(CeleryTimeoutError):
        result.get(timeout=WAIT_SECONDS, propagate=False)


@contextmanager
def _parked(*args: Any) -> Iterator[AsyncResult]:
    """An ``add`` task waiting in a queue no worker reads; released (and purged) after."""
    result = add.apply_async(args or (1, 1), queue=PARKING_QUEUE)
    try:
        yield result
    finally:
        # A learner's get() still blocked on it returns once the id is REVOKED.
        app.backend.mark_as_revoked(result.id, reason="check finished")
        delete_queue(PARKING_QUEUE)
        app.AsyncResult(result.id).forget()


def _exception_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- 05.1


def _status_of(status: Callable[..., Any], task_id: str, case: str) -> dict[str, Any]:
    """Call the learner's ``status`` (bounded) and check that the answer is json-ready."""
    answer, seen = call_watched(status, task_id, seconds=STATUS_SECONDS,
                                thread_name=THREAD_NAME)  # fmt: skip
    if seen.waited:
        raise Fail(
            f"for {case}, status() waited for the task (it called get() on it)",
            hint="it waited for the task: read result.state, never get()",
        )
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, status() did not answer within {answer.seconds:g} s",
            hint="an endpoint must answer at once: read result.state and result.info, "
            "never get(), which waits for the task",
        )
    if answer is None:
        if is_stub_body(status, anywhere=True):
            raise NotYet("write the body of status")
        raise Fail(
            f"for {case}, status() returned None",
            hint="the guide's if/elif chain has no branch for some states: end it with a "
            'fallback such as {"status": state.lower()}',
        )
    if isinstance(answer, AsyncResult):
        raise Fail(
            f"for {case}, status() returned the AsyncResult itself",
            hint="an endpoint answers with json: return a dict such as "
            '{"status": "success", "result": ...}',
        )
    if not isinstance(answer, dict):
        raise Fail(
            f"for {case}, status() returned {kind(answer)}, not a dict",
            hint='return a dict with a "status" key, e.g. {"status": "pending"}',
        )
    try:
        json.dumps(answer)
    except (TypeError, ValueError):
        bad = ", ".join(
            f"{key!r} holds {kind(value)}" for key, value in answer.items() if not _json_ok(value)
        )
        raise Fail(
            f"for {case}, the dict cannot be sent as json ({bad})",
            hint="for a failed task, result.result (and .info) is the exception the task "
            "raised: send its text, str(...)",
        ) from None
    if "status" not in answer:
        raise Fail(
            f"for {case}, the dict has no 'status' key (keys: {', '.join(map(str, answer))})",
            hint='put the state, in lower case, under "status"',
        )
    return answer


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _expect_status(answer: dict[str, Any], expected: str, case: str) -> None:
    got = answer.get("status")
    if got == expected:
        return
    if isinstance(got, str) and got.lower() == expected:
        raise Fail(
            f"for {case}, status() said status={got!r}",
            hint=f'use lower case, as the guide does: "{expected}"',
        )
    hint = f'for this state the endpoint answers {{"status": "{expected}", ...}}'
    if expected == "started" and got == "success":
        hint = "it waited until the task finished: read result.state, never get()"
    raise Fail(f"for {case}, status() said status={got!r}", hint=hint)


@exercise("05.1", "the status endpoint", points=3)
def _status(status: Any) -> str:
    status = need_function(status, "status", "status(task_id)", purpose="reads results")

    # SUCCESS
    done = add.delay(20, 22)
    done.get(timeout=WAIT_SECONDS)
    case = "a finished add(20, 22)"
    try:
        answer = _status_of(status, done.id, case)
    except AttributeError as exc:
        if "'str' object" not in str(exc):
            raise
        raise Fail(
            f"status() raised AttributeError: {exc}",
            hint="task_id is a plain str: make a handle with app.AsyncResult(task_id) first",
        ) from None
    _expect_status(answer, "success", case)
    if answer.get("result") != 42:
        raise Fail(
            f"for {case}, status() said result={answer.get('result')!r:.60}",
            hint='put the task\'s return value (result.result) under "result"',
        )

    # FAILURE
    failed = monthly_sales_report.delay(BAD_MONTH)
    _finish(failed)
    case = "a failed report"
    try:
        answer = _status_of(status, failed.id, case)
    except ReportError:
        raise Fail(
            "for a failed report, status() raised the task's ReportError",
            hint="did you call get()? It re-raises the task's exception (and waits): read "
            "result.state and result.info instead",
        ) from None
    except (TypeError, KeyError, AttributeError) as exc:
        raise Fail(
            f"for a failed report, status() raised {type(exc).__name__}: {exc}",
            hint="for a failed task result.result (and .info) is the exception the task "
            "raised, not a value: send its text, str(...)",
        ) from None
    _expect_status(answer, "failure", case)
    error = answer.get("error")
    message = f"no sales data for month {BAD_MONTH!r}"
    if error not in (message, f"ReportError: {message}"):
        hint = 'put the exception\'s text under "error": str(result.info)'
        if error == repr(ReportError(message)):
            hint = "that is the exception's repr(), for programmers: send str(result.info)"
        raise Fail(f"for {case}, status() said error={error!r:.80}", hint=hint)

    # STARTED
    running = sleepy_add.delay(1, 2, seconds=0.6)
    try:
        _wait_for_state(running, "STARTED")
        case = "a running task (STARTED)"
        try:
            answer = _status_of(status, running.id, case)
        except UnboundLocalError as exc:
            raise Fail(
                f"for a running task, status() raised UnboundLocalError: {exc}",
                hint="the guide's if/elif chain has no branch for STARTED (nor RETRY, "
                'REVOKED): end it with a fallback such as {"status": state.lower()}',
            ) from None
        _expect_status(answer, "started", case)
    finally:
        _finish(running)

    # PROGRESS
    busy = process_items.delay(list(range(4)), seconds_per_item=0.3)
    try:
        _wait_for_state(busy, "PROGRESS")
        case = "a task half-way (PROGRESS 1/4)"
        answer = _status_of(status, busy.id, case)
        _expect_status(answer, "in_progress", case)
        percent = answer.get("percent")
        if "percent" not in answer:
            raise Fail(
                f"for {case}, the dict has no 'percent' (keys: {', '.join(map(str, answer))})",
                hint="the front end wants a number for its bar: 100 * current / total, "
                "from result.info",
            )
        if not isinstance(percent, int | float) or isinstance(percent, bool):
            raise Fail(
                f"for {case}, percent is {kind(percent)} ({percent!r:.60})",
                hint="a number from 0 to 100: round(100 * info['current'] / info['total'])",
            )
        if percent not in (25, 50, 75, 100):
            hint = "round(100 * info['current'] / info['total'])"
            if percent in (0.25, 0.5, 0.75, 1):
                hint = f"that is a fraction; multiply by 100: {hint}"
            raise Fail(f"for 1, 2 or 3 items of 4, percent was {percent!r}", hint=hint)
    finally:
        _finish(busy)

    # PENDING
    case = "an id no worker has reported on"
    with _parked() as waiting:
        answer = _status_of(status, waiting.id, case)
        _expect_status(answer, "pending", case)

        # REVOKED
        waiting.revoke()
        _wait_for_state(waiting, "REVOKED")
        case = "a revoked task"
        answer = _status_of(status, waiting.id, case)
        _expect_status(answer, "revoked", case)

    # RETRY: the state a worker stores when the task raised self.retry(); the check stores it
    # for a parked task, so that it lasts as long as the learner's function needs to read it.
    case = "a task waiting for its retry (RETRY)"
    with _parked() as retrying:
        app.backend.mark_as_retry(retrying.id, ConnectionError("mail server down"))
        _wait_for_state(retrying, "RETRY")
        try:
            answer = _status_of(status, retrying.id, case)
        except UnboundLocalError as exc:
            raise Fail(
                f"for {case}, status() raised UnboundLocalError: {exc}",
                hint="there is no branch for RETRY: end the if/elif chain with a fallback "
                'such as {"status": state.lower()}',
            ) from None
        except (TypeError, KeyError) as exc:
            raise Fail(
                f"for {case}, status() raised {type(exc).__name__}: {exc}",
                hint="for RETRY, result.info is the exception that caused the retry, not a "
                "dict: only PROGRESS has current/total",
            ) from None
        _expect_status(answer, "retry", case)
    return "json for PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, RETRY and REVOKED, at once"


# --------------------------------------------------------------------------- 05.2


def _collect(collect: Callable[..., Any], result: AsyncResult, timeout: float, case: str) -> Any:
    try:
        answer = call_bounded(
            collect, result, timeout, seconds=timeout + 1.5, thread_name=THREAD_NAME
        )
    except ReportError:
        raise Fail(
            "collect() let the failed task's ReportError escape",
            hint="get() re-raises a failed task's exception: pass propagate=False and look "
            "at what it returns",
        ) from None
    except CeleryTimeoutError:
        raise Fail(
            f"collect() let celery.exceptions.TimeoutError escape ({case})",
            hint="catch it: from celery.exceptions import TimeoutError (Python's built-in "
            "TimeoutError is another class, and does not catch it)",
        ) from None
    if isinstance(answer, StillRunning):
        raise Fail(
            f"collect(result, {timeout:g}) was still waiting after {answer.seconds:g} s ({case})",
            hint="wait no longer than you are told: get(timeout=timeout)",
        )
    if answer is None and is_stub_body(collect, anywhere=True):
        raise NotYet("write the body of collect")
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise Fail(
            f"for {case}, collect() returned {kind(answer)} ({answer!r:.60})",
            hint='return a pair: ("SUCCESS", value), ("FAILURE", text) or ("TIMEOUT", None)',
        )
    return answer


@exercise("05.2", "wait safely", points=2)
def _wait(collect: Any) -> str:
    collect = need_function(collect, "collect", "collect(result, timeout)", purpose="reads results")

    case = "a task that takes 0.3 s"
    slow = sleepy_add.delay(1, 2, seconds=0.3)
    answer = _collect(collect, slow, 3.0, case)
    if answer != ("SUCCESS", 3):
        hint = 'for a task that succeeds: ("SUCCESS", the value)'
        if answer[0] in ("PENDING", "STARTED") or answer[1] is None:
            hint = "it answered before the task finished: wait with get(timeout=timeout)"
        raise Fail(f"for {case} returning 3, collect() returned {answer!r:.80}", hint=hint)

    case = "a failed report"
    failed = monthly_sales_report.delay(BAD_MONTH)
    answer = _collect(collect, failed, 3.0, case)
    expected = f"ReportError: no sales data for month {BAD_MONTH!r}"
    if answer[0] != "FAILURE":
        hint = 'for a task that fails: ("FAILURE", "ExceptionName: message")'
        if isinstance(answer[1], BaseException):
            hint = (
                "with propagate=False get() returns the exception instead of raising it: "
                "ask result.failed() before calling it a success"
            )
        raise Fail(f"for {case}, collect() said {answer[0]!r}", hint=hint)
    if isinstance(answer[1], BaseException):
        raise Fail(
            f"for {case}, the second item is the exception object itself",
            hint='make it text: f"{type(exc).__name__}: {exc}"',
        )
    if answer[1] != expected:
        raise Fail(
            f"for {case}, collect() said {answer[1]!r:.80}",
            hint=f"name the exception, then its message: {expected[:13]}...",
        )

    case = "a task no worker will run"
    with _parked() as parked:
        started = time.monotonic()
        answer = _collect(collect, parked, 0.5, case)
        took = time.monotonic() - started
    if answer != ("TIMEOUT", None):
        raise Fail(
            f"for {case}, collect(result, 0.5) returned {answer!r:.80}",
            hint='when get(timeout=...) raises TimeoutError, return ("TIMEOUT", None)',
        )
    if took < 0.4:
        raise Fail(
            f"for {case}, collect(result, 0.5) gave up after {took:.2f} s",
            hint="wait the whole timeout: get(timeout=timeout)",
        )
    return "SUCCESS with its value, FAILURE as text, TIMEOUT after 0.5 s; nothing raised"


# --------------------------------------------------------------------------- 05.3


@contextmanager
def _revoke_calls() -> Iterator[list[dict[str, Any]]]:
    """Record every ``app.control.revoke`` call (``AsyncResult.revoke`` goes through it)."""
    calls: list[dict[str, Any]] = []
    original = app.control.revoke

    def spy(task_id: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append({"task_id": task_id, "terminate": bool(kwargs.get("terminate"))})
        return original(task_id, *args, **kwargs)

    app.control.revoke = spy  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del app.control.revoke  # back to the class's method


def _cancel(cancel: Callable[..., Any], task_id: str, case: str) -> Any:
    answer = call_bounded(cancel, task_id, seconds=STATUS_SECONDS, thread_name=THREAD_NAME)
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, cancel() did not answer within {answer.seconds:g} s",
            hint="read result.state and revoke at once: never get(), which waits for the task",
        )
    if answer is None and is_stub_body(cancel, anywhere=True):
        raise NotYet("write the body of cancel")
    if answer not in CANCEL_ANSWERS:
        raise Fail(
            f"for {case}, cancel() returned {answer!r:.60}",
            hint='return "cancelled" for a task that had not started, "too late" otherwise',
        )
    return answer


@exercise("05.3", "cancel a task that has not started", points=2)
def _cancel_check(cancel: Any) -> str:
    cancel = need_function(cancel, "cancel", "cancel(task_id)", purpose="revokes tasks")

    # A finished task: nothing to cancel, and nothing may change.
    done = add.delay(2, 2)
    done.get(timeout=WAIT_SECONDS)
    with _revoke_calls() as calls:
        answer = _cancel(cancel, done.id, "a finished task")
    if answer != "too late":
        raise Fail(
            f"for a finished task, cancel() said {answer!r}",
            hint="revoke() cannot undo a task that already ran: look at result.state first "
            "and answer \"too late\" unless it is PENDING",
        )
    if done.state != "SUCCESS":
        raise Fail(f"the finished task now reads {done.state}", hint="leave finished tasks alone")

    # A running task: revoke() without terminate would not stop it; terminate kills it.
    running = sleepy_add.delay(1, 2, seconds=0.6)
    try:
        _wait_for_state(running, "STARTED")
        with _revoke_calls() as calls:
            answer = _cancel(cancel, running.id, "a running task (STARTED)")
        if any(call["terminate"] for call in calls):
            raise Fail(
                "cancel() revoked a running task with terminate=True",
                hint="terminate kills the process running the task wherever it is (and the "
                "solo and threads pools cannot do it at all): cancel only what has not started",
            )
        if answer != "too late":
            raise Fail(
                f"for a running task (STARTED), cancel() said {answer!r}",
                hint="revoke() does not stop a task that has started: only PENDING is still "
                "waiting (ready() is False for STARTED too)",
            )
    finally:
        _finish(running)
    if running.state != "SUCCESS":
        raise Fail(
            f"the running task ended {running.state}",
            hint="let a task that has started finish: answer \"too late\"",
        )

    # A task still waiting in its queue: revoke it, so that it will never run.
    with _parked(3, 4) as waiting, _revoke_calls() as calls:
        answer = _cancel(cancel, waiting.id, "a task waiting in its queue")
        if answer != "cancelled":
            raise Fail(
                f"for a task waiting in its queue, cancel() said {answer!r}",
                hint="a PENDING task has not started: revoke it and answer \"cancelled\"",
            )
        if not any(call["task_id"] == waiting.id for call in calls):
            raise Fail(
                "cancel() said \"cancelled\" but never revoked the task",
                hint="call app.AsyncResult(task_id).revoke(): that is what stops it running",
            )
        _wait_for_state(waiting, "REVOKED")
    return "too late for a finished and a running task, a waiting one revoked"


# --------------------------------------------------------------------------- 05.4


def _lookup(lookup: Callable[..., Any], task_id: str, case: str) -> Any:
    answer = call_bounded(lookup, task_id, seconds=STATUS_SECONDS, thread_name=THREAD_NAME)
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, lookup() did not answer within {answer.seconds:g} s",
            hint="read result.state and the issued set: never get(), which waits",
        )
    if answer is None and is_stub_body(lookup, anywhere=True):
        raise NotYet("write the body of lookup")
    if isinstance(answer, AsyncResult):
        raise Fail(
            f"for {case}, lookup() returned the AsyncResult itself",
            hint='return a str: "unknown", "waiting" or the state',
        )
    if not isinstance(answer, str):
        raise Fail(
            f"for {case}, lookup() returned {kind(answer)}",
            hint='return a str: "unknown", "waiting" or the state',
        )
    return answer


@exercise("05.4", "an unknown id or a waiting task?", points=2)
def _unknown(lookup: Any) -> str:
    lookup = need_function(lookup, "lookup", "lookup(task_id)", purpose="reads results")
    issued: list[str] = []

    def issue(result: AsyncResult) -> AsyncResult:
        store().sadd(ISSUED_KEY, result.id)
        issued.append(result.id)
        return result

    try:
        done = issue(add.delay(2, 2))
        done.get(timeout=WAIT_SECONDS)
        case = "an issued task that finished"
        answer = _lookup(lookup, done.id, case)
        if answer != "SUCCESS":
            hint = "for an issued id, answer the state the backend stores (result.state)"
            if answer == "unknown":
                hint = (
                    f"the app's issued ids are in the set {ISSUED_KEY!r} of the app-data "
                    f"store: store().sismember({ISSUED_KEY!r}, task_id)"
                )
            raise Fail(f"for {case}, lookup() said {answer!r:.40}", hint=hint)

        failed = issue(monthly_sales_report.delay(BAD_MONTH))
        _finish(failed)
        case = "an issued task that failed"
        answer = _lookup(lookup, failed.id, case)
        if answer != "FAILURE":
            raise Fail(
                f"for {case}, lookup() said {answer!r:.40}",
                hint="for an issued id, answer the state the backend stores (result.state)",
            )

        case = "an id the app never issued"
        for task_id in (str(uuid.uuid4()), done.id[:-1] + ("0" if done.id[-1] != "0" else "1")):
            answer = _lookup(lookup, task_id, case)
            if answer != "unknown":
                hint = 'an id nobody issued should read "unknown"'
                if answer == "PENDING":
                    hint = (
                        "Celery says PENDING for any id it has nothing on: check the issued "
                        "set first"
                    )
                elif answer == "waiting":
                    hint = "PENDING alone cannot tell: look the id up in the issued set first"
                raise Fail(
                    f"for {case} (a typo or made up), lookup() said {answer!r:.40}", hint=hint
                )

        case = "an issued task still waiting in its queue"
        with _parked() as parked:
            issue(parked)
            answer = _lookup(lookup, parked.id, case)
        if answer != "waiting":
            hint = 'an issued id that reads PENDING is "waiting"'
            if answer == "unknown":
                hint = (
                    "a task waiting in its queue has nothing in the result backend either: "
                    "the issued set is what tells it from a typo"
                )
            raise Fail(f"for {case}, lookup() said {answer!r:.40}", hint=hint)
    finally:
        if issued:
            store().srem(ISSUED_KEY, *issued)
    return "unknown for ids never issued, waiting for a queued task, else the state"
