"""Checks of chapter 04's exercises (``solutions/04_calling_tasks_solutions.ipynb``).

Every check calls the learner's function for real, records the task messages it publishes
(Celery's ``before_task_publish`` signal, in this process), and follows them on the worker
(embedded or redis mode) with bounded waits:

* 04.1 ``check("04.1", remind)``: ``remind(to)`` schedules ``send_email`` 0.5 s ahead with an
  aware ``eta`` and returns the ``AsyncResult``; the mail reaches the outbox;
* 04.2 ``check("04.2", call_by_name)``: ``call_by_name(name, *args)`` sends any task by name
  with ``app.send_task``: ``add`` and ``multiply`` give 42, and an unknown name is left for
  the worker to reject (``FAILURE`` with ``NotRegistered``), not looked up here;
* 04.3 ``check("04.3", register)``: ``register(name, email)`` creates a user in the users
  table and queues ``users.send_welcome`` with the user's id, not the object;
* 04.4 ``check("04.4", ten_plus)``: ``ten_plus`` is a partial signature ``add(10)`` that
  carries ``countdown=0.3`` in its options; ``ten_plus.delay(5)`` gives 15.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from celery import Signature
from celery.exceptions import NotRegistered
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult
from celery.signals import before_task_publish
from kombu.exceptions import EncodeError

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    NON_UTC_ZONE,
    failure_text,
    finished,
    is_stub_body,
    kind,
    local_zone,
    need_function,
    short,
)
from course_tasks.tasks import users
from course_tasks.tasks.basics import add, multiply
from course_tasks.tasks.email import outbox, send_email

#: How long a check waits for a quick task (add, a lookup).
WAIT_SECONDS = 5.0
#: How long a check waits for a mail: the eta, the simulated mail server (2 s), slack.
MAIL_WAIT_SECONDS = 10.0
#: 04.1: how far ahead the reminder is due, and the window a check accepts around it.
REMINDER_SECONDS, REMINDER_WINDOW = 0.5, (0.3, 1.0)
#: 04.4: the countdown the signature carries, and the window accepted around it.
COUNTDOWN_SECONDS, COUNTDOWN_WINDOW = 0.3, (0.2, 0.5)

REMINDER_ADDRESS = "reminder-check@example.com"
NEW_USER = ("Check Lovelace", "welcome-check@example.com")
UNKNOWN_TASK = "course_tasks.tasks.basics.no_such_task"

# --------------------------------------------------------------------------- helpers


@dataclass
class Sent:
    """One task message published while a check ran the learner's code."""

    task: str
    id: str
    eta: str | None
    at: datetime


@contextmanager
def published() -> Iterator[list[Sent]]:
    """Record the task messages this thread publishes inside the ``with`` block."""
    sent: list[Sent] = []
    me = threading.get_ident()

    def remember(sender: Any = None, headers: Any = None, **_: Any) -> None:
        if threading.get_ident() == me and isinstance(headers, dict):
            sent.append(
                Sent(
                    str(headers.get("task") or sender),
                    str(headers.get("id")),
                    headers.get("eta"),
                    datetime.now(timezone.utc),
                )
            )

    before_task_publish.connect(remember, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(remember)


def _wait(result: AsyncResult, seconds: float, what: str) -> Any:
    """The task's value (or its exception, not raised); a Fail if it does not finish in time."""
    return finished(
        result,
        seconds,
        what,
        hint="is the worker running (the set-up cell)? Did you send it to another queue?",
    )


def _settle(sent: list[Sent], seconds: float) -> None:
    """Let the tasks a check caused finish, or revoke them, so that none turns up later.

    A task due more than a few seconds from now (a wrong eta) is revoked at once.
    """
    for message in sent:
        result = app.AsyncResult(message.id)
        eta = _aware(message.eta) if message.eta else None
        if eta is not None and eta.tzinfo is None:
            eta = eta.replace(tzinfo=timezone.utc)  # what Celery does with a naive eta
        if eta is not None and (eta - datetime.now(timezone.utc)).total_seconds() > 2:
            result.revoke()
            continue
        try:
            result.get(timeout=seconds, propagate=False, disable_sync_subtasks=False)
        except CeleryTimeoutError:
            result.revoke()


def _aware(value: str) -> datetime | None:
    """The header ``eta`` as a datetime (naive if the header had no offset)."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _local_call(answer: Any, name: str, verb: str) -> Fail | None:
    """A Fail if ``answer`` shows that the task ran here instead of on the worker."""
    if isinstance(answer, EagerResult) and not app.conf.task_always_eager:
        return Fail(
            f"{name} returned an EagerResult: the task ran here, in this process",
            hint=f".apply() runs a task locally; {verb}",
        )
    if isinstance(answer, Signature):
        return Fail(
            f"{name} returned a signature: it describes the call, but nothing was sent",
            hint=f"a signature is sent with .delay() or .apply_async(); {verb}",
        )
    return None


# --------------------------------------------------------------------------- 04.1


@exercise("04.1", "a reminder at an aware eta", points=2)
def _remind(remind: Any) -> str:
    need_function(remind, "remind", "remind(to)")
    before = sum(1 for mail in outbox() if mail.get("to") == REMINDER_ADDRESS)
    try:
        with published() as sent, local_zone():  # local time is not UTC here
            answer = remind(REMINDER_ADDRESS)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc) and (
            "eta" in str(exc) or "countdown" in str(exc)
        ):
            raise Fail(
                f"sending raised TypeError: {exc}",
                hint="delay() hands every keyword to the task; scheduling options such as "
                "eta= go to apply_async(args, eta=...)",
            ) from None
        raise
    mails = [s for s in sent if s.task == send_email.name]
    others = [s for s in sent if s.task != send_email.name]
    try:
        return _judge_reminder(remind, answer, mails, others, before)
    finally:
        _settle(sent, MAIL_WAIT_SECONDS)


def _judge_reminder(
    remind: Any, answer: Any, mails: list[Sent], others: list[Sent], before: int
) -> str:
    local = _local_call(answer, "remind", "schedule it with send_email.apply_async(..., eta=...)")
    if not mails:
        if others:
            raise Fail(
                f"remind sent {short(others[0].task)}, not send_email",
                hint="the reminder is a mail: send it with send_email(to, subject, body) from "
                "course_tasks.tasks.email",
            )
        if local is not None:
            raise local
        if isinstance(answer, dict):
            raise Fail(
                "remind returned the delivered mail (a dict): send_email ran here and "
                "made the caller wait",
                hint="schedule it on the worker: send_email.apply_async((to, subject, body), "
                "eta=...)",
            )
        if answer is None and is_stub_body(remind, unknown=False, bytecode=True):
            raise NotYet("write the body of remind")
        raise Fail(
            f"remind sent nothing (it returned {kind(answer)})",
            hint="call send_email.apply_async((to, subject, body), eta=...) and return "
            "what it returns",
        )
    if len(mails) > 1:
        raise Fail(f"remind sent {len(mails)} mails, not one", hint="send the reminder once")
    mail = mails[0]
    if mail.eta is None:
        raise Fail(
            "the reminder was sent without an eta: the worker runs it at once",
            hint="pass eta=datetime.now(timezone.utc) + timedelta(seconds=0.5) to apply_async",
        )
    eta = _aware(mail.eta)
    if eta is None:
        raise Fail(f"the eta header {mail.eta!r:.60} is not a date and time")
    if eta.tzinfo is None:
        raise Fail(
            "the eta is a naive datetime (no time zone)",
            hint="datetime.utcnow() is deprecated and datetime.now() is the machine's local "
            "time, which Celery reads as UTC: use datetime.now(timezone.utc) + timedelta(...)",
        )
    ahead = (eta - mail.at).total_seconds()
    low, high = REMINDER_WINDOW
    with local_zone():
        offset = datetime.now().astimezone().utcoffset()
    if offset and abs(ahead - offset.total_seconds()) <= high:
        raise Fail(
            f"the eta is {ahead / 3600:+.1f} h away: it is the local time ({NON_UTC_ZONE} "
            "here) labelled as UTC",
            hint="datetime.now() is the machine's local time; .replace(tzinfo=timezone.utc) "
            "only relabels it. Take the time in UTC: datetime.now(timezone.utc)",
        )
    if ahead < 0:
        raise Fail(
            "the eta is in the past: the worker runs the reminder at once",
            hint="add the 0.5 s to now (now + timedelta(seconds=0.5)), do not subtract it",
        )
    if ahead < low:
        raise Fail(
            f"the eta is only {ahead:.2f} s after sending, not {REMINDER_SECONDS} s",
            hint="timedelta(seconds=0.5); check the unit (milliseconds=500 is right too)",
        )
    if ahead > high:
        raise Fail(
            f"the eta is {ahead:.0f} s after sending, not {REMINDER_SECONDS} s",
            hint="timedelta(seconds=0.5); check the unit (minutes=0.5 is 30 s)",
        )
    if local is not None:
        raise local
    if answer is None:
        raise Fail(
            "remind scheduled the reminder but returned None",
            hint="return the AsyncResult that apply_async gives you, so a caller can follow it",
        )
    if not isinstance(answer, AsyncResult) or answer.id != mail.id:
        raise Fail(
            f"remind returned {kind(answer)}, not the AsyncResult of the reminder",
            hint="return what send_email.apply_async(...) returns",
        )
    value = _wait(answer, MAIL_WAIT_SECONDS, "the reminder")
    if answer.failed():
        raise Fail(
            f"the reminder failed on the worker ({failure_text(answer)})",
            hint="send_email takes three arguments: to, subject and body",
        )
    if not isinstance(value, dict) or value.get("to") != REMINDER_ADDRESS:
        to = value.get("to") if isinstance(value, dict) else value
        raise Fail(
            f"remind({REMINDER_ADDRESS!r}) mailed {to!r:.60}",
            hint="send the reminder to the address remind receives",
        )
    after = sum(1 for m in outbox() if m.get("to") == REMINDER_ADDRESS)
    if after <= before:
        raise Fail("the reminder is not in the outbox", hint="send it with the course's send_email")
    return f"eta {REMINDER_SECONDS} s ahead, aware (UTC); the worker delivered the reminder"


# --------------------------------------------------------------------------- 04.2


def _by_name(call_by_name: Any, name: str, *args: Any) -> tuple[Any, list[Sent]]:
    try:
        with published() as sent:
            answer = call_by_name(name, *args)
    except NotRegistered:
        raise Fail(
            f"call_by_name raised NotRegistered here, in the caller, for {short(name)}",
            hint="you looked the task up in this process (app.tasks[name]); a separate "
            "service does not have the task's code: app.send_task(name, ...) sends just the "
            "name and lets the worker decide",
        ) from None
    except TypeError as exc:
        if "list or tuple" in str(exc) or "must be" in str(exc):
            raise Fail(
                f"sending raised TypeError: {exc}",
                hint="send_task takes the task's arguments in one list or tuple: "
                "app.send_task(name, args=args)",
            ) from None
        raise
    return answer, sent


@exercise("04.2", "call a task by name", points=2)
def _call_by_name(call_by_name: Any) -> str:
    need_function(call_by_name, "call_by_name", "call_by_name(name, *args)")
    values = []
    for task, args in ((add, (20, 22)), (multiply, (6, 7))):
        answer, sent = _by_name(call_by_name, task.name, *args)
        shown = f"call_by_name({short(task.name)!r}, {', '.join(map(repr, args))})"
        if isinstance(answer, int | float) and not isinstance(answer, bool) and not sent:
            raise Fail(
                f"{shown} returned a plain {type(answer).__name__}: the task ran here",
                hint="send a message instead: app.send_task(name, args=...) returns an "
                "AsyncResult at once",
            )
        local = _local_call(answer, "call_by_name", "send it by name with app.send_task")
        if local is not None:
            raise local
        if answer is None:
            if not sent and is_stub_body(call_by_name, unknown=False, bytecode=True):
                raise NotYet("write the body of call_by_name")
            raise Fail(
                f"{shown} returned None",
                hint="return the AsyncResult that app.send_task(...) gives you",
            )
        if not isinstance(answer, AsyncResult):
            hint = "return what app.send_task(name, args=args) returns"
            if isinstance(answer, str):
                hint = "that looks like the task id: return the whole AsyncResult (it has .id)"
            elif sent:
                hint = "do not wait for the value: " + hint
            raise Fail(f"{shown} returned {kind(answer)}, not an AsyncResult", hint=hint)
        names = {s.task for s in sent}
        if names and task.name not in names:
            raise Fail(
                f"{shown} sent {short(sorted(names)[0])}, not {short(task.name)}",
                hint="send the task whose name you are given, not a fixed one",
            )
        value = _wait(answer, WAIT_SECONDS, f"the task {shown} sent")
        if answer.failed():
            raise Fail(
                f"{shown} failed on the worker ({failure_text(answer)})",
                hint="pass the arguments on as they are: args=args (not args=[args])",
            )
        if value != 42:
            raise Fail(
                f"{shown} gave {value!r:.40}, not 42",
                hint="send the task whose name you are given, with the arguments as they are",
            )
        values.append(value)

    answer, _ = _by_name(call_by_name, UNKNOWN_TASK, 1, 2)
    if not isinstance(answer, AsyncResult):
        raise Fail(
            f"for an unknown name, call_by_name returned {kind(answer)}, not an AsyncResult",
            hint="send every name with app.send_task; the worker decides whether it knows it",
        )
    _wait(answer, WAIT_SECONDS, "the task with an unknown name")
    if answer.state != "FAILURE" or not isinstance(answer.result, NotRegistered):
        raise Fail(
            f"a task with an unknown name ended {answer.state}, not FAILURE with NotRegistered",
            hint="send the name you are given as it is",
        )
    return "add and multiply by name gave 42 and 42; an unknown name failed on the worker"


# --------------------------------------------------------------------------- 04.3


@exercise("04.3", "pass ids, not objects", points=2)
def _register(register: Any) -> str:
    need_function(register, "register", "register(name, email)")
    name, email = NEW_USER
    try:
        with published() as sent:
            answer = register(name, email)
    except EncodeError as exc:
        raise Fail(
            f"delay() could not encode the argument ({exc})",
            hint="a User object does not fit in a json message: pass user.id; send_welcome "
            "loads the row itself",
        ) from None
    except TypeError as exc:
        if "positional argument" not in str(exc):
            raise
        raise Fail(
            f"sending raised TypeError: {exc}",
            hint="send_welcome takes one argument, the user's id; it looks the rest up",
        ) from None
    try:
        return _judge_register(register, answer, sent, name, email)
    finally:
        _settle(sent, MAIL_WAIT_SECONDS)


def _judge_register(register: Any, answer: Any, sent: list[Sent], name: str, email: str) -> str:
    welcome = [s for s in sent if s.task == users.send_welcome.name]
    if isinstance(answer, dict) and "user_id" in answer and not welcome:
        raise Fail(
            "register returned the delivered mail (a dict): send_welcome ran here and made "
            "the sign-up wait for the mail server",
            hint="queue it: send_welcome.delay(user.id)",
        )
    if not welcome:
        if sent:
            raise Fail(
                f"register sent {short(sent[0].task)}, not users.send_welcome",
                hint="use send_welcome(user_id) from course_tasks.tasks.users: it takes the "
                "id and loads the user",
            )
        local = _local_call(answer, "register", "queue it with send_welcome.delay(user.id)")
        if local is not None:
            raise local
        if answer is None and is_stub_body(register, unknown=False, bytecode=True):
            raise NotYet("write the body of register")
        raise Fail(
            f"register queued nothing (it returned {kind(answer)})",
            hint="create the user, then send_welcome.delay(user.id), and return what it returns",
        )
    if answer is None:
        raise Fail(
            "register queued the mail but returned None",
            hint="return the AsyncResult that send_welcome.delay(...) gives you",
        )
    if not isinstance(answer, AsyncResult) or answer.id != welcome[0].id:
        raise Fail(
            f"register returned {kind(answer)}, not the AsyncResult of the welcome mail",
            hint="return what send_welcome.delay(user.id) returns",
        )
    value = _wait(answer, MAIL_WAIT_SECONDS, "the welcome mail")
    if answer.failed():
        raise _welcome_failed(answer)
    user_id = value.get("user_id") if isinstance(value, dict) else None
    try:
        user = users.get_user(user_id)  # type: ignore[arg-type]
    except (TypeError, LookupError):
        user = None
    if user is None or (user.name, user.email) != (name, email):
        raise Fail(
            f"the mail went to user {user_id}, not to the user register({name!r}, {email!r}) "
            "created",
            hint="create_user(name, email) with the arguments register receives, then pass "
            "that user's .id",
        )
    if not any(m.get("to") == email and name in m.get("body", "") for m in outbox()):
        raise Fail("the welcome mail is not in the outbox", hint="queue users.send_welcome")
    return "user created; the welcome mail was queued with the user's id and delivered"


def _welcome_failed(answer: AsyncResult) -> Fail:
    exc = answer.result
    kind, text = type(exc).__name__, str(exc)
    if kind == "TypeError" and "got dict" in text:
        return Fail(
            "send_welcome received a dict, not an id",
            hint="you passed the user's fields (asdict(user) or user.__dict__); pass just "
            "user.id: the task loads the row as it is when it runs",
        )
    if kind == "TypeError" and "got str" in text:
        return Fail(
            "send_welcome received a str, not an id",
            hint="you passed the email or the name; pass user.id",
        )
    if kind == "UserNotFound":
        return Fail(
            f"send_welcome found no such user ({text})",
            hint="create the user first with create_user(name, email) and pass its .id",
        )
    return Fail(
        f"the welcome mail failed on the worker ({failure_text(answer)})",
        hint="pass send_welcome the id of the user you created",
    )


# --------------------------------------------------------------------------- 04.4


@exercise("04.4", "a signature with options", points=1)
def _ten_plus(ten_plus: Any) -> str:
    if isinstance(ten_plus, AsyncResult):
        raise Fail(
            "ten_plus is an AsyncResult: the task was already sent",
            hint="build the call without sending it: add.s(...) makes a signature",
        )
    if isinstance(ten_plus, int | float) and not isinstance(ten_plus, bool):
        raise Fail(
            f"ten_plus is a plain {type(ten_plus).__name__}: add ran here",
            hint="build a signature with add.s(...) instead of calling add",
        )
    if not isinstance(ten_plus, Signature):
        raise Fail(f"ten_plus is {kind(ten_plus)}, not a signature", hint="use add.s(...)")
    if ten_plus.task != add.name:
        raise Fail(
            f"ten_plus is a signature of {short(ten_plus.task)}, not add",
            hint="use the course's add task: add.s(...)",
        )
    if "countdown" in (ten_plus.kwargs or {}):
        raise Fail(
            "countdown is in the task's keyword arguments: add would receive it",
            hint="options go in .set(countdown=...) (or add.signature(args, countdown=...)), "
            "not in add.s(...)",
        )
    args = tuple(ten_plus.args or ())
    if len(args) >= 2:
        raise Fail(
            f"ten_plus already holds {len(args)} arguments {args}: there is no room for the 5",
            hint="give it only the 10, so that delay(5) supplies the other one",
        )
    if args != (10,):
        raise Fail(
            f"ten_plus holds the arguments {args}, not (10,)",
            hint="the signature holds the 10; the 5 comes when it is sent",
        )
    if ten_plus.immutable:
        raise Fail(
            "ten_plus is immutable (.si): the 5 given to delay(5) would be dropped",
            hint="use .s(10), which accepts more arguments when it is sent",
        )
    options = ten_plus.options or {}
    if "eta" in options:
        raise Fail(
            "ten_plus carries an eta: a fixed moment, not a delay counted from sending",
            hint="use .set(countdown=...), which starts counting when the signature is sent",
        )
    countdown = options.get("countdown")
    if countdown is None:
        raise Fail(
            "ten_plus has no countdown in its options: it would run at once",
            hint=".set(countdown=...) stores an option in the signature",
        )
    low, high = COUNTDOWN_WINDOW
    if not isinstance(countdown, int | float) or not low <= countdown <= high:
        raise Fail(
            f"ten_plus's countdown is {countdown!r:.30}, not {COUNTDOWN_SECONDS}",
            hint="countdown counts seconds",
        )
    with published() as sent:
        result = ten_plus.delay(5)
    try:
        if not sent or sent[0].eta is None:
            raise Fail("the message ten_plus.delay(5) sent has no eta")
        value = _wait(result, WAIT_SECONDS, "ten_plus.delay(5)")
        if result.failed() or value != 15:
            raise Fail(f"ten_plus.delay(5) gave {value!r:.40}, not 15")
    finally:
        _settle(sent, WAIT_SECONDS)
    return f"ten_plus.delay(5) waited for its {COUNTDOWN_SECONDS} s countdown and gave 15"
