"""Checks of chapter 01's exercises (``solutions/01_concepts_solutions.ipynb``).

Every check sends real tasks to the worker (embedded or redis mode) through the learner's
objects and bounds every wait:

* 01.1 ``check("01.1", result)``: ``result`` is the ``AsyncResult`` of ``add(2, 3)`` run
  by the worker;
* 01.2 ``check("01.2", signup)``: ``signup(email, name)`` queues ``send_welcome_email``
  and answers with the task id (a ``str``) in under 100 ms; the mail reaches the outbox;
* 01.3 ``check("01.3", status_of)``: ``status_of(task_id)`` returns
  ``{"state": ..., "result": ...}`` from the id alone, at once, also for a task that is
  still queued (one parked in a queue no worker reads);
* 01.4 ``check("01.4", welcome)``: ``welcome(user)`` sends the welcome mail for a ``User``
  object with json-friendly arguments and returns the ``AsyncResult``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery.app.task import Task
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult
from kombu.exceptions import EncodeError

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_bounded,
    call_watched,
    delete_queue,
    failure_text,
    finished,
    is_stub_body,
    kind,
    need_function,
    short,
)
from course_tasks.tasks import email
from course_tasks.tasks.basics import add
from course_tasks.tasks.email import send_welcome_email

#: How long a check waits for a task that should finish quickly.
WAIT_SECONDS = 5.0
#: How long ``signup`` may take before the check stops waiting for it. Guide 000 §2 wants an
#: answer in under 100 ms; what makes it slower, waiting for the task, is seen rather than
#: timed (``support.watching``), so a loaded machine does not fail a right answer.
SIGNUP_SECONDS = 1.5
#: How long ``status_of`` may take before it counts as blocking.
STATUS_SECONDS = 1.5
#: A queue that no worker consumes: a task sent there stays PENDING.
PARKING_QUEUE = "course-check-parked"

SIGNUP_ADDRESS, SIGNUP_NAME = "grace@example.com", "Grace"


@dataclass
class User:
    """The kind of object exercise 01.4 hands to ``welcome``: an app's user record."""

    id: int
    email: str
    name: str


# --------------------------------------------------------------------------- helpers


def _returned_none(fn: Callable[..., Any], name: str, what: str) -> Fail:
    if is_stub_body(fn):
        return NotYet(f"write the body of {name}")
    return Fail(f"{name} returned None", hint=f"end it with a return statement: return {what}")


def _need_function(value: Any, name: str, signature: str) -> None:
    """A Fail unless ``value`` is a plain function; NotYet if its body is still the stub."""
    need_function(value, name, signature, hint=f"write it as a function: def {signature}:")
    if is_stub_body(value, unknown=False):
        raise NotYet(f"write the body of {name}")


def _as_sent(answer: Any, what: str, hint: str) -> AsyncResult:
    """``answer`` if it is the AsyncResult of a task sent to a worker, else a Fail."""
    if isinstance(answer, EagerResult) and not app.conf.task_always_eager:
        raise Fail(
            f"{what} is an EagerResult: the task ran here, in this process, not on the worker",
            hint=".apply() runs a task locally; send it to the worker instead",
        )
    if isinstance(answer, Task):
        raise Fail(
            f"{what} is the task {short(answer.name)} itself, not a result",
            hint="send it to the worker with its arguments and keep what that returns",
        )
    if not isinstance(answer, AsyncResult):
        if callable(answer):
            raise Fail(
                f"{what} is {kind(answer)}, not the result of calling it",
                hint="call it (with the task's arguments) and keep what it returns",
            )
        raise Fail(f"{what} is {kind(answer)}, not an AsyncResult", hint=hint)
    return answer


# --------------------------------------------------------------------------- 01.1


@exercise("01.1", "send a task to the worker", points=1)
def _send(result: Any) -> str:
    if isinstance(result, int | float) and not isinstance(result, bool):
        raise Fail(
            f"got a plain {type(result).__name__} ({result!r}), not an AsyncResult",
            hint="did you call add(2, 3) (or .get() the value) instead of keeping what "
            "add.delay(2, 3) returns?",
        )
    if isinstance(result, str):
        raise Fail(
            "got a str (a task id?), not an AsyncResult",
            hint="keep the whole handle that sending returns: it has .get() and .state",
        )
    result = _as_sent(result, "result", hint="keep what sending add to the worker returns")
    value = finished(
        result,
        WAIT_SECONDS,
        "the task",
        hint="no worker took it: did you send it to a queue that no worker reads "
        "(queue=...)? Is the worker running (the set-up cell)?",
    )
    if result.name and result.name != add.name:
        raise Fail(
            f"the worker ran {short(result.name)}, not add",
            hint="send the course's add task (from course_tasks.tasks.basics)",
        )
    if result.failed():
        raise Fail(
            f"the task failed on the worker ({failure_text(result)})",
            hint="send add two numbers, 2 and 3",
        )
    args, kwargs = result.args, result.kwargs or {}
    if args is None:  # no extended result: judge by the value
        if value != 5:
            raise Fail(f"the worker returned {value!r}, not 5", hint="send add 2 and 3")
    else:
        try:
            bound = inspect.signature(add.run).bind(*args, **kwargs).arguments
        except TypeError:
            bound = {}
        if (bound.get("x"), bound.get("y")) != (2, 3):
            shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            raise Fail(
                f"the worker ran add({shown}), not add(2, 3)", hint="send 2 and 3, in that order"
            )
    return f"add(2, 3) ran on the worker: state={result.state}, result={value}"


# --------------------------------------------------------------------------- 01.2


@exercise("01.2", "queue the welcome mail", points=2)
def _signup(signup: Any) -> str:
    _need_function(signup, "signup", "signup(email, name)")
    answer, seen = call_watched(signup, SIGNUP_ADDRESS, SIGNUP_NAME, seconds=SIGNUP_SECONDS,
                                thread_name="course-check-01")  # fmt: skip
    if seen.waited or isinstance(answer, StillRunning):
        how = "it called get() on the task" if seen.waited else (
            f"no answer within {SIGNUP_SECONDS:g} s")  # fmt: skip
        raise Fail(
            f"signup waited for the mail before answering ({how})",
            hint="queue the mail and return; do not wait for the task to finish",
        )
    if answer is None:
        raise _returned_none(signup, "signup", "the task id")
    if isinstance(answer, dict):
        raise Fail(
            "signup returned the delivered message (a dict): it waited for the mail server",
            hint="did you call send_welcome_email(...) directly, or wait with .get()? "
            "Queue the task and return at once",
        )
    if isinstance(answer, AsyncResult):
        raise Fail(
            "signup returned an AsyncResult, not the task id",
            hint="a web handler answers with json: return the handle's id (a str)",
        )
    if not isinstance(answer, str):
        raise Fail(
            f"signup returned {kind(answer)}, not a task id (a str)",
            hint="return the id of the task you queued",
        )
    task = app.AsyncResult(answer)
    finished(
        task,
        WAIT_SECONDS,
        f"the task with the id signup returned ({answer[:40]!r})",
        hint="return the id of the task you queued (its .id)",
    )
    if task.name and task.name != send_welcome_email.name:
        raise Fail(
            f"that id belongs to the task {short(task.name)}, not send_welcome_email",
            hint="queue the course's send_welcome_email task",
        )
    if task.failed():
        raise Fail(
            f"the mail task failed on the worker ({failure_text(task)})",
            hint="send_welcome_email takes two arguments: the address and the user's name",
        )
    message = task.result if isinstance(task.result, dict) else {}
    if message.get("to") != SIGNUP_ADDRESS:
        raise Fail(
            f"signup({SIGNUP_ADDRESS!r}, {SIGNUP_NAME!r}) sent the mail to "
            f"{message.get('to')!r:.60}",
            hint="send the mail to the address signup receives, not a fixed one",
        )
    if SIGNUP_NAME not in message.get("body", ""):
        raise Fail(
            f"the welcome mail does not greet {SIGNUP_NAME}",
            hint="pass on the name signup receives as well",
        )
    if message not in email.outbox():
        raise Fail("the mail is not in the outbox", hint="queue the course's send_welcome_email")
    return f"answered with a task id at once; the worker delivered the mail to {SIGNUP_ADDRESS}"


# --------------------------------------------------------------------------- 01.3


def _status_answer(answer: Any, status_of: Callable[..., Any], case: str) -> dict[str, Any]:
    if answer is None:
        raise _returned_none(status_of, "status_of", '{"state": ..., "result": ...}')
    if isinstance(answer, AsyncResult):
        raise Fail(
            f"for {case}, status_of returned the AsyncResult itself",
            hint="return plain values a status endpoint can send as json: "
            '{"state": ..., "result": ...}',
        )
    if not isinstance(answer, dict):
        raise Fail(
            f"for {case}, status_of returned {kind(answer)} ({answer!r:.40}), not a dict",
            hint='return both the state and the result, as {"state": ..., "result": ...}',
        )
    if set(answer) != {"state", "result"}:
        keys = ", ".join(sorted(map(repr, answer))) or "none"
        hint = 'use exactly the keys "state" and "result"'
        if "status" in answer:
            hint += ' (Celery calls it the state: "state", not "status")'
        raise Fail(f"for {case}, the dict's keys are {keys}", hint=hint)
    return answer


def _release(task_id: str, thread: threading.Thread | None) -> None:
    """Finish the parked task for good: a blocked ``get()`` on it returns; queue deleted."""
    try:
        if thread is not None:
            app.backend.mark_as_revoked(task_id, reason="check finished")
            thread.join(3.0)
        delete_queue(PARKING_QUEUE)
    finally:
        app.AsyncResult(task_id).forget()


@exercise("01.3", "a task's status from its id", points=2)
def _status(status_of: Any) -> str:
    _need_function(status_of, "status_of", "status_of(task_id)")
    done = add.delay(20, 22)
    done.get(timeout=WAIT_SECONDS)
    try:
        answer = call_bounded(status_of, done.id, seconds=WAIT_SECONDS)
    except AttributeError as exc:
        if "'str' object" in str(exc):
            raise Fail(
                f"status_of raised AttributeError: {exc}",
                hint="task_id is a plain str: make a result handle from it first, with the app",
            ) from None
        raise
    case = "a task that finished"
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, status_of did not return within {WAIT_SECONDS:g} s",
            hint="read the state and result, which never wait",
        )
    answer = _status_answer(answer, status_of, case)
    if answer["state"] != "SUCCESS":
        raise Fail(
            f"for add(20, 22), finished, status_of said state={answer['state']!r}",
            hint="make the handle from the id you are given, with the course's app, "
            "and read its state",
        )
    if answer["result"] != 42:
        raise Fail(
            f"for add(20, 22), status_of said result={answer['result']!r:.60}, not 42",
            hint='put the task\'s return value under "result"',
        )

    case = "a task still waiting in a queue"
    parked = add.apply_async((1, 1), queue=PARKING_QUEUE)  # no worker reads this queue
    blocked: threading.Thread | None = None
    try:
        try:
            answer = call_bounded(status_of, parked.id, seconds=STATUS_SECONDS)
        except CeleryTimeoutError:
            raise Fail(
                f"for {case}, status_of raised TimeoutError",
                hint="did you call .get(timeout=...)? It waits for the task to finish; "
                "read the state and result, which never wait",
            ) from None
        if isinstance(answer, StillRunning):
            blocked = answer.thread
            raise Fail(
                f"for {case}, status_of did not return within {STATUS_SECONDS:g} s",
                hint="did you call .get()? It waits until the task finishes, which may be "
                "never; read the state and result, which never wait",
            )
        answer = _status_answer(answer, status_of, case)
        if answer != {"state": "PENDING", "result": None}:
            raise Fail(
                f"for {case}, status_of said {answer!r:.80}",
                hint='a queued task is "PENDING" and has no result yet (None)',
            )
    finally:
        _release(parked.id, blocked)
    return "SUCCESS and 42 for a finished task, PENDING at once for a queued one"


# --------------------------------------------------------------------------- 01.4


@exercise("01.4", "only json travels", points=1)
def _welcome(welcome: Any) -> str:
    _need_function(welcome, "welcome", "welcome(user)")
    user = User(id=7, email="lin@example.com", name="Lin")
    try:
        answer = welcome(user)
    except EncodeError as exc:
        raise Fail(
            f"the task message could not be encoded ({exc})",
            hint="only json travels to the worker: send the user's plain fields "
            "(strings), not the User object",
        ) from None
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        raise Fail(
            f"sending the task failed (TypeError: {exc})",
            hint="send_welcome_email takes two plain values: the address and the name",
        ) from None
    if answer is None:
        raise _returned_none(welcome, "welcome", "the AsyncResult")
    if isinstance(answer, dict):
        raise Fail(
            "welcome returned the delivered message (a dict): the mail was sent here",
            hint="send the task to the worker and return what that returns",
        )
    result = _as_sent(answer, "what welcome returned", hint="return what sending the task returns")
    finished(result, WAIT_SECONDS, "the mail task", hint="send it to the worker's default queue")
    if result.name and result.name != send_welcome_email.name:
        raise Fail(
            f"welcome sent {short(result.name)}, not send_welcome_email",
            hint="send the course's send_welcome_email task",
        )
    if result.failed():
        raise Fail(
            f"the mail task failed on the worker ({failure_text(result)})",
            hint="send_welcome_email takes two plain values: the address and the name",
        )
    message = result.result if isinstance(result.result, dict) else {}
    if message.get("to") != user.email:
        raise Fail(
            f"the mail went to {message.get('to')!r:.60}, not to {user.email!r}",
            hint="send it to the user's email address",
        )
    if user.name not in message.get("body", ""):
        raise Fail("the welcome mail does not greet Lin by name", hint="pass the user's name too")
    return "sent with json arguments; the worker delivered the mail to lin@example.com"
