"""Checks of chapter 07's exercises (``solutions/07_canvas_solutions.ipynb``).

Each exercise asks for a function that *builds* a canvas (a signature, not yet sent) from
the course's tasks; the check calls it (bounded: a function that waits is caught), sends
what it built to the worker, waits at most a few seconds and compares the result and the
side effects (the event and image logs) exactly, for more than one argument:

* 07.1 ``check("07.1", registered_flow)``: guide 002's four user-registered steps, in
  order, each once, for users 7 and 8 (``.s(user_id)`` hands every step after the first
  the previous result: it needs ``.si()``);
* 07.2 ``check("07.2", total_of_doubles)``: ``add(n, n)`` for each number in parallel,
  then ``xsum`` of them: a chord, returned unsent;
* 07.3 ``check("07.3", process_image)``: the five-step image pipeline sent with
  ``link_error=record_failure.s()``, returning the handle at once; a bad upload records
  exactly one failure, a good one none;
* 07.4 ``check("07.4", price_after)``: ``(price - discount) * quantity`` as a chain of
  ``subtract`` and ``multiply``, where the argument a partial signature receives first matters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from celery.canvas import Signature, chord, group
from celery.result import AsyncResult, GroupResult

from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_watched,
    finished,
    is_stub_body,
    kind,
)
from course_tasks.checks.support import need_function as _need_function
from course_tasks.tasks import events, media

WAIT_SECONDS = 5.0
#: How long a function that only builds (or sends) a canvas may take before the check stops
#: waiting for it (whether it waited for its tasks is seen, not timed: ``support.watching``).
BUILD_SECONDS = 3.0
THREAD_NAME = "course-check-07"
REGISTERED_STEPS = [
    "send_welcome_email",
    "create_default_follows",
    "generate_initial_recommendations",
    "update_user_statistics",
]
PIPELINE = list(media.STAGES)


def need_function(value: Any, name: str, signature: str) -> Callable[..., Any]:
    return _need_function(value, name, signature, purpose="builds a canvas from the course's tasks")


def _call(fn: Callable[..., Any], name: str, *args: Any) -> Any:
    answer, seen = call_watched(fn, *args, seconds=BUILD_SECONDS, thread_name=THREAD_NAME)
    if seen.waited or isinstance(answer, StillRunning):
        how = "it called get()" if seen.waited else f"no answer within {BUILD_SECONDS:g} s"
        raise Fail(
            f"{name}{args} waited for its tasks ({how})",
            hint="it waited for the tasks: never call get() where you build or send a "
            "canvas; let a chain or a chord carry the results",
        )
    if answer is None and is_stub_body(fn):
        raise NotYet(f"write the body of {name}")
    return answer


def _need_signature(answer: Any, name: str) -> Signature:
    if isinstance(answer, (AsyncResult, GroupResult)):
        # let what it sent finish, so that its side effects do not land in a later check
        answer.get(timeout=WAIT_SECONDS, propagate=False, disable_sync_subtasks=False)
        _settle(events.log)
        raise Fail(
            f"{name} sent the canvas and returned {kind(answer)}",
            hint="return the canvas itself (the signature), unsent: the check sends it",
        )
    if not isinstance(answer, Signature):
        raise Fail(
            f"{name} returned {kind(answer)}, not a signature",
            hint="build it from signatures (task.s(...), task.si(...)) with chain, group "
            "or chord, and return it without calling get()",
        )
    return answer


def _run(sig: Signature, what: str) -> Any:
    result = sig.apply_async()
    return result, finished(
        result, WAIT_SECONDS, what, "is the worker running? Run the set-up cell"
    )


def _settle(read: Callable[[], list[str]], seconds: float = 0.3, at_least: int = 0) -> list[str]:
    """The log once it has stopped growing (a straggler task may still be writing).

    Waits up to 2 s for ``at_least`` lines first: an error callback runs after the failure
    is stored, so a result can be ready before the callback has written its line.
    """
    lines = read()
    deadline = time.monotonic() + 2.0
    while len(lines) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
        lines = read()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        again = read()
        if again == lines:
            return lines
        lines = again
    return lines


# --------------------------------------------------------------------------- 07.1


@exercise("07.1", "the user-registered chain", points=2)
def _registered(registered_flow: Any) -> str:
    fn = need_function(registered_flow, "registered_flow", "registered_flow(user_id)")
    for user in (7, 8):
        events.clear_log()
        sig = _need_signature(_call(fn, "registered_flow", user), "registered_flow")
        result, value = _run(sig, f"the flow for user {user}")
        lines = _settle(events.log)
        if isinstance(value, TypeError) and "positional argument" in str(value):
            raise Fail(
                f"for user {user}, a step failed with TypeError: {value}",
                hint="in a chain, .s(user_id) also receives the previous step's result as "
                "its first argument: use .si(user_id), an immutable signature",
            )
        if isinstance(value, BaseException):
            raise Fail(f"for user {user}, the flow failed: {type(value).__name__}: {value}")
        expected = [f"{step}(user {user})" for step in REGISTERED_STEPS]
        if sorted(lines) == sorted(expected) and lines != expected:
            raise Fail(
                f"for user {user}, the steps ran in the order {[s.split('(')[0] for s in lines]}",
                hint="guide 002 runs them one after the other, in its order: a chain of "
                ".si() signatures, not a group",
            )
        if lines != expected:
            ran = [line.split("(")[0] for line in lines]
            wrong_user = [line for line in lines if f"(user {user})" not in line]
            hint = "chain the four steps of guide 002 §4, each once, each with .si(user_id)"
            if wrong_user:
                hint = "use the user_id argument, not a fixed id"
            raise Fail(f"for user {user}, these steps ran: {ran}", hint=hint)
        if isinstance(sig, group) and not isinstance(sig, chord):
            raise Fail(
                "the steps ran in order this time, but a group gives no order",
                hint="chain them with .si()",
            )
    return "4 steps in order, once each, for users 7 and 8"


# --------------------------------------------------------------------------- 07.2


@exercise("07.2", "a chord: add in parallel, then xsum", points=2)
def _doubles(total_of_doubles: Any) -> str:
    fn = need_function(total_of_doubles, "total_of_doubles", "total_of_doubles(numbers)")
    for numbers in ([1, 2, 3], [5, 10, 20, 40]):
        answer = _call(fn, "total_of_doubles", numbers)
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            raise Fail(
                f"total_of_doubles({numbers}) returned the number {answer}",
                hint="it waited for the group with get(): return a chord(header, "
                "xsum.s()) and let the worker call xsum when all adds are done",
            )
        sig = _need_signature(answer, "total_of_doubles")
        result, value = _run(sig, f"the canvas for {numbers}")
        expected = sum(2 * n for n in numbers)
        if isinstance(value, list):
            raise Fail(
                f"for {numbers}, the result is the list {value}",
                hint="a group only collects the results: a chord (group + callback "
                "xsum.s()) adds them up",
            )
        if isinstance(value, BaseException):
            raise Fail(f"for {numbers}, the canvas failed: {type(value).__name__}: {value}")
        header = _header_size(result)
        if value != expected:
            raise Fail(
                f"for {numbers}, the result is {value!r}, not {expected}",
                hint="one add.s(n, n) per number in the header, xsum.s() as the callback",
            )
        if header != len(numbers):
            raise Fail(
                f"for {numbers}, the callback added {header} task results, not {len(numbers)}",
                hint="one add.s(n, n) per number in the chord's header: the doubling "
                "happens on the worker, in parallel",
            )
    return "12 for [1, 2, 3] and 150 for [5, 10, 20, 40], one add per number"


def _header_size(result: Any) -> int:
    parent = getattr(result, "parent", None)
    return len(parent.results) if isinstance(parent, GroupResult) else 0


# --------------------------------------------------------------------------- 07.3


@exercise("07.3", "the image pipeline with link_error", points=2)
def _pipeline(process_image: Any) -> str:
    fn = need_function(process_image, "process_image", "process_image(image_id)")
    # A good upload: five steps, no failure recorded.
    media.clear()
    events.clear_log()
    media.upload(21, size_kb=1000, fmt="png")
    sent = _call(fn, "process_image", 21)
    result = _need_result(sent)
    value = finished(result, WAIT_SECONDS, "the pipeline of image 21", "is the worker running?")
    steps = _settle(media.log)
    failures = _settle(events.log)
    if isinstance(value, TypeError) and "record_failure" in str(value):
        raise Fail(
            f"a good image failed with TypeError: {value}",
            hint="record_failure belongs in link_error=, not link=: link runs on success, "
            "with the result",
        )
    if isinstance(value, TypeError) and "positional argument" in str(value):
        raise Fail(
            f"a good image failed with TypeError: {value}",
            hint="each step returns the image id: chain validate_image.s(image_id) with "
            "compress_image.s() and the others without arguments (or use .si(image_id))",
        )
    if steps != [f"{step}(image 21)" for step in PIPELINE]:
        raise Fail(
            f"for a good image these steps ran: {steps}",
            hint="chain the five steps of guide 002 §5 in order",
        )
    if failures:
        raise Fail(
            f"a good image recorded {failures}",
            hint="record_failure belongs in link_error=, not link=: link runs on success",
        )
    # A bad upload: validate refuses, the rest never runs, one failure recorded.
    media.clear()
    events.clear_log()
    media.upload(22, fmt="bmp")
    result = _need_result(_call(fn, "process_image", 22))
    finished(result, WAIT_SECONDS, "the pipeline of image 22", "is the worker running?")
    steps = _settle(media.log, 0.5)
    failures = _settle(events.log, 0.3, at_least=1)
    if steps != ["validate_image(image 22) refused bmp"]:
        raise Fail(f"for a .bmp upload these steps ran: {steps}", hint="chain the steps in order")
    if not failures:
        raise Fail(
            "a .bmp upload failed and nothing was recorded",
            hint="send the chain with apply_async(link_error=record_failure.s())",
        )
    if len(failures) > 1:
        raise Fail(
            f"a .bmp upload recorded {len(failures)} failures",
            hint="put link_error on the chain once (apply_async(link_error=...)), not on "
            "every step as well",
        )
    return "5 steps for a good image; a .bmp upload stops at validate_image, 1 failure recorded"


def _need_result(sent: Any) -> AsyncResult:
    if isinstance(sent, Signature):
        raise Fail(
            "process_image returned the canvas without sending it",
            hint="send it: return chain(...).apply_async(link_error=record_failure.s())",
        )
    if not isinstance(sent, AsyncResult):
        raise Fail(
            f"process_image returned {kind(sent)}, not the AsyncResult",
            hint="return what apply_async(...) returns, at once, without get()",
        )
    return sent


# --------------------------------------------------------------------------- 07.4


@exercise("07.4", "partial arguments come first", points=1)
def _price(price_after: Any) -> str:
    fn = need_function(price_after, "price_after", "price_after(price, discount, quantity)")
    for price, discount, quantity in ((30, 5, 2), (12, 2, 4), (9, 4, 1)):
        args = (price, discount, quantity)
        sig = _need_signature(_call(fn, "price_after", *args), "price_after")
        _, value = _run(sig, f"price_after{args}")
        expected = (price - discount) * quantity
        if value == expected:
            continue
        if isinstance(value, BaseException):
            raise Fail(f"price_after{args} failed: {type(value).__name__}: {value}")
        if value == 50:
            hint = "use the arguments price, discount and quantity, not fixed numbers"
        elif value == (discount - price) * quantity:
            hint = "subtract(x, y) is x - y: the price comes first, subtract.s(price, discount)"
        elif value == price * quantity - discount:
            hint = (
                "subtract first, then multiply: "
                "chain(subtract.s(price, discount), multiply.s(quantity))"
            )
        else:
            hint = (
                "the previous result is prepended: multiply.s(quantity) computes result * quantity"
            )
        raise Fail(f"price_after{args} gave {value!r}, not {expected}", hint=hint)
    return "(30-5)*2=50, (12-2)*4=40, (9-4)*1=5"
