"""Checks of chapter 04's exercises (``solutions/04_calling_tasks_solutions.ipynb``).

Every check calls the learner's function for real, in a helper thread that records the
task messages it publishes (Celery's ``before_task_publish`` signal) and the options each send
was given as written (``apply_async``/``send_task``/a signature's, None included), and stops
any wait for a task at once: a ``get()``/``wait()``
(:func:`course_tasks.checks.support.call_watched`), a second read of the state of an
unfinished task it sent (a ``ready()`` or ``.state`` loop), a ``time.sleep`` after it sent
one (:func:`_recording`). It follows the messages on the worker (embedded or redis mode) with
bounded waits:

* 04.1 ``check("04.1", remind)``: ``remind(to)`` schedules ``send_email`` with an aware
  ``eta`` 0.5 s after the moment it computes it (between the call and the message), with
  ``eta=`` (or ``countdown=``) and no other option, and returns the ``AsyncResult``; called
  twice, so an eta computed once shows; both mails reach the outbox;
* 04.2 ``check("04.2", call_by_name)``: ``call_by_name(name, *args)`` sends any task by name
  with ``app.send_task``, adding no options: ``subtract(50, 8)`` gives 42 (order matters),
  ``describe_request("ada", 3, 0, "", 3)`` receives exactly those positional arguments
  (repeats and false values too), and an unknown name and a call with one argument too many
  are left for the worker to reject (``NotRegistered``, ``TypeError``), not judged here
  against this process's task;
* 04.3 ``check("04.3", register)``: ``register(name, email)`` creates one user in the users
  table and queues ``users.send_welcome`` with that user's id (an int), not the object,
  while another account on the same address exists and another signs up the moment
  register's ``create_user`` returns (finding the user again by newest row or by address
  mails one of those);
* 04.4 ``check("04.4", ten_plus)``: ``ten_plus`` is a partial signature ``add(10)`` of the
  course's ``add`` that carries ``countdown=0.3`` and no other option (not even one set to
  None) in its options; ``ten_plus.delay(5)`` gives 15.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from celery import Celery, Signature, states
from celery.app.task import Task as CeleryTask
from celery.exceptions import NotRegistered
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult
from celery.signals import before_task_publish
from kombu import Queue
from kombu.exceptions import EncodeError

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    NON_UTC_ZONE,
    Seen,
    StillRunning,
    call_watched,
    failure_text,
    finished,
    is_stub_body,
    kind,
    local_zone,
    need_function,
    short,
)
from course_tasks.tasks import users
from course_tasks.tasks.basics import add, subtract
from course_tasks.tasks.email import outbox, send_email
from course_tasks.tasks.hooks import describe_request

#: How long a check waits for a quick task (add, a lookup).
WAIT_SECONDS = 5.0
#: How long a check waits for a mail: the eta, the simulated mail server (2 s), slack.
MAIL_WAIT_SECONDS = 10.0
#: How long the learner's function may run before a check calls it stuck (it never returns).
CALL_SECONDS = 30.0
#: 04.1: how far ahead the reminder is due. The eta must be 0.5 s after a moment between
#: the call to remind and the message it sent (the clock's resolution aside): the moment
#: remind computed it, whatever the machine's load.
REMINDER_SECONDS, CLOCK_SLACK = 0.5, 0.002
#: 04.1: how close to the local zone's offset an eta counts as local time labelled UTC.
LABEL_SLACK = 2.0
#: 04.4: the countdown the signature carries, and the window accepted around it.
COUNTDOWN_SECONDS, COUNTDOWN_WINDOW = 0.3, (0.2, 0.5)

REMINDER_ADDRESS = "reminder-check@example.com"
#: 04.1 calls remind twice, with these addresses: an eta computed once shows.
REMINDER_ADDRESSES = (REMINDER_ADDRESS, "reminder-check-2@example.com")
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
    #: the message's headers, and the task's positional and keyword arguments
    headers: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: 04.3: whether the user a send_welcome message names existed when it was published
    user_existed: bool | None = None
    #: the message's properties (priority, serializer...) and where it was published
    properties: dict[str, Any] = field(default_factory=dict)
    exchange: str | None = None
    routing_key: str | None = None


@contextmanager
def published(thread_name: str | None = None) -> Iterator[list[Sent]]:
    """Record the task messages published inside the ``with`` block by this thread, or by
    the threads called ``thread_name`` (where :func:`_call` runs the learner's code)."""
    sent: list[Sent] = []
    me = threading.get_ident()

    def ours() -> bool:
        if thread_name is None:
            return threading.get_ident() == me
        return threading.current_thread().name == thread_name

    def remember(
        sender: Any = None,
        headers: Any = None,
        body: Any = None,
        properties: Any = None,
        exchange: Any = None,
        routing_key: Any = None,
        **_: Any,
    ) -> None:
        if ours() and isinstance(headers, dict):
            args, kwargs = (), {}
            if isinstance(body, list | tuple) and len(body) >= 2:
                args, kwargs = tuple(body[0] or ()), dict(body[1] or {})
            sent.append(
                Sent(
                    str(headers.get("task") or sender),
                    str(headers.get("id")),
                    headers.get("eta"),
                    datetime.now(timezone.utc),
                    dict(headers),
                    args,
                    kwargs,
                    properties=dict(properties or {}),
                    exchange=getattr(exchange, "name", exchange),
                    routing_key=routing_key,
                    user_existed=_user_existed(headers, args, kwargs),
                )
            )

    before_task_publish.connect(remember, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(remember)


def _user_existed(headers: dict[str, Any], args: tuple[Any, ...], kwargs: dict) -> bool | None:
    """For a send_welcome message, whether its user is in the table as it is published."""
    if headers.get("task") != users.send_welcome.name:
        return None
    user_id = args[0] if args else kwargs.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    try:
        users.get_user(user_id)
    except LookupError:
        return False
    return True


class _Stopped(Exception):  # noqa: N818 (what the check raises in the learner's code)
    """Raised in the learner's code where it waits for a task it sent (a poll, a sleep)."""


@dataclass
class Watched:
    """What the learner's code did while a check ran it, beyond the messages it published."""

    #: its get()/wait() calls (:func:`call_watched`)
    seen: Seen
    #: the seconds of each ``time.sleep`` it called after it had sent a task (each stopped)
    slept: list[float] = field(default_factory=list)
    #: ids of unfinished tasks it sent whose state it read again (a polling loop; stopped)
    polled: list[str] = field(default_factory=list)
    #: the options of each send it made (``apply_async``/``send_task``/a signature's), as
    #: it passed them: the task's arguments aside, every keyword it gave, None included
    options: list[dict[str, Any]] = field(default_factory=list)

    @property
    def waited(self) -> list[str]:
        return self.seen.waited

    @property
    def got(self) -> list[str]:
        return self.seen.got

    @property
    def ran_here(self) -> list[str]:
        return self.seen.ran_here


#: Parameters of apply_async / send_task that carry the task's own arguments, not options.
_NOT_OPTIONS = {"self", "name", "args", "kwargs"}
_SEND_TASK = inspect.signature(Celery.send_task)
_APPLY_ASYNC = inspect.signature(CeleryTask.apply_async)


@contextmanager
def _recording(thread: str, learner: Any, sent: list[Sent]) -> Iterator[Watched]:
    """Meanwhile, in the thread called ``thread`` only, record and stop what
    :func:`call_watched` does not see of the ways to wait for a task: a second read of the
    state of an unfinished task the code sent (``ready()``, ``.state`` in a loop) and a
    ``time.sleep`` once it has sent one; and record the options of each send.

    Judged by what the code did, not by how long it took.
    """
    watched = Watched(Seen())
    reads: dict[str, int] = {}
    depth = threading.local()
    real_sleep = time.sleep
    meta_cls = next(c for c in type(app.backend).__mro__ if "get_task_meta" in c.__dict__)
    real_meta = meta_cls.get_task_meta
    real_apply_async = CeleryTask.apply_async
    real_send_task = type(app).send_task

    def ours() -> bool:
        return threading.current_thread().name == thread

    def sleep(seconds: float) -> None:
        if not (ours() and sent):
            return real_sleep(seconds)
        watched.slept.append(seconds)
        raise _Stopped(f"the check stopped time.sleep({seconds!r})")

    def get_task_meta(backend: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
        meta = real_meta(backend, task_id, *args, **kwargs)
        mine = ours() and any(m.id == task_id for m in sent)
        if mine and meta.get("status") not in states.READY_STATES:
            reads[task_id] = reads.get(task_id, 0) + 1
            if reads[task_id] > 1:  # one look is not a wait; a second is a loop
                watched.polled.append(task_id)
                raise _Stopped(f"the check stopped a loop waiting for {task_id}")
        return meta

    def entry(real: Any, signature: inspect.Signature) -> Any:
        def send(*args: Any, **kwargs: Any) -> Any:
            outer = ours() and not getattr(depth, "n", 0)
            if outer:
                try:
                    given = signature.bind(*args, **kwargs).arguments
                except TypeError:
                    given = {}
                options = {k: v for k, v in given.items() if k not in _NOT_OPTIONS}
                options.update(options.pop("options", {}) or {})
                watched.options.append(options)
            depth.n = getattr(depth, "n", 0) + 1
            try:
                return real(*args, **kwargs)
            finally:
                depth.n -= 1

        return send

    sending = entry(real_send_task, _SEND_TASK)

    def send_task(*args: Any, **kwargs: Any) -> Any:  # on the instance: no self
        return sending(app, *args, **kwargs)

    names = getattr(learner, "__globals__", None)
    own_sleeps = [n for n, v in names.items() if v is real_sleep] if isinstance(names, dict) else []
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(time, "sleep", sleep))
        stack.enter_context(mock.patch.object(meta_cls, "get_task_meta", get_task_meta))
        stack.enter_context(
            mock.patch.object(CeleryTask, "apply_async", entry(real_apply_async, _APPLY_ASYNC))
        )
        stack.enter_context(mock.patch.object(app, "send_task", send_task))
        for n in own_sleeps:  # from time import sleep: the learner's own name for it
            names[n] = sleep  # type: ignore[index]
            stack.callback(names.__setitem__, n, real_sleep)  # type: ignore[union-attr]
        yield watched


def _call(fn: Any, *args: Any, name: str, learner: Any = None) -> tuple[Any, list[Sent], Watched]:
    """``fn(*args)`` in a helper thread, watched (:func:`call_watched`, :func:`_recording`):
    its answer, the messages it published and what it did meanwhile (each wait stopped at
    once). ``learner`` is the learner's function, when ``fn`` wraps it.

    A Fail if it has not answered within ``CALL_SECONDS``: code that never returns.
    """
    thread = f"course-check-{name}"
    with published(thread) as sent, _recording(thread, learner or fn, sent) as watched:

        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                if watched.slept or watched.polled:
                    return exc  # the wait the check stopped is what it reports
                raise

        answer, seen = call_watched(guarded, *args, seconds=CALL_SECONDS, thread_name=thread)
        watched.seen = seen
    if isinstance(answer, StillRunning):
        _settle(sent, 0.1)
        raise Fail(
            f"{name} did not return within {CALL_SECONDS:g} s",
            hint="send the task and return its AsyncResult at once",
        )
    return answer, sent, watched


#: How a check names a task the learner's code waited for.
_TASK_WORDS = {
    send_email.name: "the reminder",
    users.send_welcome.name: "the welcome mail",
}


def _waited(
    seen: Watched, sent: list[Sent], name: str, expected: str, hint: str | None = None
) -> Fail | None:
    """A Fail if the learner's code waited for a task it had sent: ``get()``/``wait()``,
    a loop reading its state, a ``time.sleep`` after sending it. ``expected`` is the task
    the exercise is about; ``hint`` is for a wait on another one."""
    waited = seen.waited or seen.polled
    if not (waited or seen.slept):
        return None
    tasks = {m.id: m.task for m in sent}
    task = tasks.get(waited[0], expected) if waited else expected
    what = _TASK_WORDS.get(task, short(task))
    if seen.waited:
        how = ".get() on its result"
    elif seen.polled:
        how = "a loop reading its state: ready(), .state"
    else:
        how = f"time.sleep({seen.slept[0]!r:.20}) after sending it"
    plain = "return the AsyncResult at once; whoever needs the outcome can follow it later"
    return Fail(
        f"{name} waited for {what} ({how}) before returning: its caller would wait as long",
        hint=plain if task == expected or hint is None else hint,
    )


def _wait(result: AsyncResult, seconds: float, what: str, hint: str | None = None) -> Any:
    """The task's value (or its exception, not raised); a Fail if it does not finish in time."""
    return finished(
        result,
        seconds,
        what,
        hint=hint or "is the worker running (the set-up cell)? Did you send it to another queue?",
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


def _extra_option(
    sends: list[dict[str, Any]], allowed: tuple[set[str], ...] = (set(),)
) -> tuple[str, Any] | None:
    """The first option, in the sends the learner's code made (:class:`Watched`), that no
    set of ``allowed`` keys admits together with the others it gave (None too: given is
    given)."""
    for options in sends:
        if any(set(options) <= keys for keys in allowed):
            continue
        best = max(allowed, key=lambda keys: len(keys & set(options)))
        key = sorted(set(options) - best)[0]
        return key, options[key]
    return None


def _option_effect(key: str, value: Any) -> str:
    """What an option the exercise does not ask for does."""
    if value is None:
        return "an option set to None still is one"
    if key == "retry" and not value:
        return "if the broker does not answer at once, the message is lost instead of sent again"
    if key in ("queue", "routing_key", "exchange"):
        return (
            "a destination of its own choosing: the app's routing (task_routes) no longer "
            "decides where it goes"
        )
    if key == "countdown":
        return "a delay (countdown=0 asks for none, and is still an option)"
    return "an option that changes how the message is sent or run"


# --------------------------------------------------------------------------- 04.1


@dataclass
class Reminder:
    """One call to the learner's remind: when it started, what it sent and answered."""

    to: str
    start: datetime
    answer: Any
    mails: list[Sent]
    others: list[Sent]
    seen: Watched


@exercise("04.1", "a reminder at an aware eta", points=2)
def _remind(remind: Any) -> str:
    need_function(remind, "remind", "remind(to)")
    before = sum(1 for mail in outbox() if mail.get("to") in REMINDER_ADDRESSES)
    calls: list[Reminder] = []
    try:
        try:
            with local_zone():  # local time is not UTC here
                for to in REMINDER_ADDRESSES:
                    start = datetime.now(timezone.utc)
                    answer, sent, seen = _call(remind, to, name="remind")
                    mails = [s for s in sent if s.task == send_email.name]
                    others = [s for s in sent if s.task != send_email.name]
                    calls.append(Reminder(to, start, answer, mails, others, seen))
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
        return _judge_reminders(remind, calls, before)
    finally:
        for call in calls:
            _settle(call.mails + call.others, MAIL_WAIT_SECONDS)


def _judge_reminders(remind: Any, calls: list[Reminder], before: int) -> str:
    for call in calls:
        _judge_sending(remind, call)
    etas = [_eta_of(call) for call in calls]
    if all(eta.microsecond == 0 for eta in etas):
        raise Fail(
            "the eta is in whole seconds: it lands up to 1 s before the 0.5 s, often in the past",
            hint="keep the microseconds: no .replace(microsecond=0), no int() of a timestamp",
        )
    due = [eta - timedelta(seconds=REMINDER_SECONDS) for eta in etas]
    if all(moment.microsecond == 0 for moment in due):
        raise Fail(
            "the eta is 0.5 s after a whole second: now was cut to whole seconds before the "
            "0.5 s was added, so the reminder lands up to 1 s early, often before remind was "
            "even called",
            hint="keep the microseconds: no .replace(microsecond=0), no int() of a timestamp",
        )
    if len(set(etas)) < len(etas):
        raise Fail(
            f"remind gave both of its calls the same eta ({etas[0].isoformat()}): it was "
            "computed once, not each time remind runs",
            hint="compute datetime.now(timezone.utc) + timedelta(seconds=0.5) inside remind, "
            "not as a default argument or a variable outside it",
        )
    for call, eta in zip(calls, etas, strict=True):
        _judge_eta(call, eta)
    for call in calls:
        _judge_delivery(call)
    after = sum(1 for m in outbox() if m.get("to") in REMINDER_ADDRESSES)
    if after < before + len(calls):
        raise Fail("the reminder is not in the outbox", hint="send it with the course's send_email")
    return (
        f"eta {REMINDER_SECONDS} s after each call, aware (UTC); the worker delivered both "
        "reminders"
    )


def _judge_sending(remind: Any, call: Reminder) -> None:
    """The checks of what one call sent, before its eta is read."""
    answer = call.answer
    waited = _waited(call.seen, call.mails + call.others, "remind", send_email.name)
    if waited is not None:
        raise waited
    local = _local_call(answer, "remind", "schedule it with send_email.apply_async(..., eta=...)")
    if not call.mails:
        if call.others:
            raise Fail(
                f"remind sent {short(call.others[0].task)}, not send_email",
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
    if len(call.mails) > 1:
        raise Fail(f"remind sent {len(call.mails)} mails, not one", hint="send the reminder once")
    mail = call.mails[0]
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
    with local_zone():
        offset = datetime.now().astimezone().utcoffset()
    if offset and abs(ahead + offset.total_seconds()) <= LABEL_SLACK:
        raise Fail(
            f"the eta is {ahead / 3600:+.1f} h away: it is the UTC time read as local time "
            f"({NON_UTC_ZONE} here), so it lies in the past",
            hint="datetime.utcnow() is naive, and .astimezone() takes a naive time for the "
            "machine's local time. Take an aware time at once: datetime.now(timezone.utc)",
        )
    if mail.headers.get("expires"):
        raise Fail(
            f"the reminder carries an expiry (expires={mail.headers['expires']!r:.40}): if "
            "the worker has not started it by then, it drops it (REVOKED) and no mail goes",
            hint="schedule it with eta= alone; add no option the exercise does not ask for",
        )
    if offset and abs(ahead - offset.total_seconds()) <= LABEL_SLACK:
        raise Fail(
            f"the eta is {ahead / 3600:+.1f} h away: it is the local time ({NON_UTC_ZONE} "
            "here) labelled as UTC",
            hint="datetime.now() is the machine's local time; .replace(tzinfo=timezone.utc) "
            "only relabels it. Take the time in UTC: datetime.now(timezone.utc)",
        )
    extra = _extra_option(call.seen.options, ({"eta"}, {"countdown"}))
    if extra is not None:
        key, value = extra
        raise Fail(
            f"remind sent the reminder with {key}={value!r:.40}: {_option_effect(key, value)}; "
            "the exercise asks for eta= (or countdown=) and no other option",
            hint="schedule it with eta= alone: send_email.apply_async((to, subject, body), "
            "eta=...); add no option the exercise does not ask for",
        )


def _eta_of(call: Reminder) -> datetime:
    eta = _aware(call.mails[0].eta or "")
    assert eta is not None  # _judge_sending has read it
    return eta


def _seconds(value: float) -> str:
    """``0.25 s``, ``1.0 s``, ``30.0 s``: a measured delay in words."""
    return f"{value:.2f} s" if abs(value) < 1 else f"{value:.1f} s"


def _judge_eta(call: Reminder, eta: datetime) -> None:
    """The eta must be 0.5 s after a moment between the call and the message it sent."""
    mail = call.mails[0]
    due = eta - timedelta(seconds=REMINDER_SECONDS)
    early = (call.start - due).total_seconds()
    late = (due - mail.at).total_seconds()
    if early > CLOCK_SLACK:
        if eta < mail.at:
            raise Fail(
                "the eta is in the past: the worker runs the reminder at once",
                hint="add the 0.5 s to now (now + timedelta(seconds=0.5)), do not subtract it",
            )
        ahead = (eta - call.start).total_seconds()
        raise Fail(
            f"the eta is only {_seconds(ahead)} after remind was called, not {REMINDER_SECONDS} s",
            hint="timedelta(seconds=0.5); check the unit (milliseconds=500 is right too)",
        )
    if late > CLOCK_SLACK:
        ahead = (eta - call.start).total_seconds()
        raise Fail(
            f"the eta is {_seconds(ahead)} after remind was called, not {REMINDER_SECONDS} s",
            hint="now + timedelta(seconds=0.5); check the unit (minutes=0.5 is 30 s)",
        )


def _judge_delivery(call: Reminder) -> None:
    answer, mail = call.answer, call.mails[0]
    local = _local_call(answer, "remind", "schedule it with send_email.apply_async(..., eta=...)")
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
    if not isinstance(value, dict) or value.get("to") != call.to:
        to = value.get("to") if isinstance(value, dict) else value
        raise Fail(
            f"remind({call.to!r}) mailed {to!r:.60}",
            hint="send the reminder to the address remind receives",
        )


# --------------------------------------------------------------------------- 04.2


#: 04.2's calls: subtract, where the order of the arguments matters; describe_request,
#: which answers with the arguments it received (it has no named parameters); subtract
#: with one argument too many, which the worker, not the caller, must reject. The
#: arguments to describe_request repeat a value and hold a 0 and an empty string: "as they
#: are" is all of them, in order.
SUBTRACT_ARGS, SUBTRACT_VALUE = (50, 8), 42
DESCRIBE_ARGS = ("ada", 3, 0, "", 3)
TOO_MANY_ARGS = (50, 8, 1)

#: Why a separate service sends every name with send_task: it has no task code.
NO_TASK_CODE = (
    "a separate service does not have the task's code: app.send_task(name, args=args) sends "
    "just the name and the arguments, for every name, and lets the worker decide"
)


def _shown(name: str, args: tuple[Any, ...]) -> str:
    return f"call_by_name({short(name)!r}, {', '.join(map(repr, args))})"


#: 04.2: another app, current in the thread where call_by_name runs (as after a
#: ``Celery()`` made in a notebook): celery.current_app is then not the course's app.
_OTHER_APP = Celery("course-check-other-app", broker="memory://", set_as_current=False)


def _other_app_current(call_by_name: Any) -> Any:
    def call(*args: Any) -> Any:
        _OTHER_APP.set_current()  # this thread only
        try:
            return call_by_name(*args)
        finally:
            app.set_current()

    return call


def _by_name(call_by_name: Any, name: str, *args: Any) -> tuple[Any, list[Sent], Watched]:
    try:
        answer, sent, seen = _call(
            _other_app_current(call_by_name), name, *args, name="call_by_name", learner=call_by_name
        )
        if isinstance(answer, AsyncResult) and answer.app is _OTHER_APP:
            raise Fail(
                "call_by_name sent the task through celery.current_app, which was another "
                "app than the course's here: its broker is not the course's, no worker "
                "of the course sees the message",
                hint="send with the course's app itself: from course_tasks import app; "
                "app.send_task(name, args=args)",
            )
        return answer, sent, seen
    except NotRegistered:
        raise Fail(
            f"call_by_name raised NotRegistered here, in the caller, for {short(name)}",
            hint=f"you looked the task up in this process (app.tasks[name]); {NO_TASK_CODE}",
        ) from None
    except TypeError as exc:
        if "list or tuple" in str(exc) or "must be" in str(exc):
            raise Fail(
                f"sending raised TypeError: {exc}",
                hint="send_task takes the task's arguments in one list or tuple: "
                "app.send_task(name, args=args)",
            ) from None
        if "argument" not in str(exc):
            raise
        raise Fail(
            f"{_shown(name, args)} raised TypeError here, in the caller ({exc}): it checked "
            "the arguments against the task this process has",
            hint="app.tasks[name] and app.signature(name) use this process's task when there "
            f"is one; {NO_TASK_CODE}",
        ) from None


def _sent_by_name(
    call_by_name: Any, name: str, *args: Any, options: list[tuple[str, dict[str, Any]]]
) -> tuple[AsyncResult, list[Sent]]:
    """Call ``call_by_name(name, *args)``: its AsyncResult, or a Fail for what it did instead.
    The options of each send it made go to ``options``, with the call shown."""
    answer, sent, seen = _by_name(call_by_name, name, *args)
    try:
        _judge_sent(call_by_name, name, args, answer, sent, seen)
    except BaseException:
        _settle(sent, 1.0)  # a wrong answer's task: let it finish if it is quick, else revoke
        raise
    options.extend((_shown(name, args), given) for given in seen.options)
    return answer, sent


def _judge_sent(
    call_by_name: Any,
    name: str,
    args: tuple[Any, ...],
    answer: Any,
    sent: list[Sent],
    seen: Watched,
) -> None:
    shown = _shown(name, args)
    if seen.got:  # any get(): on a quick task, whether it had finished first is a race
        raise Fail(
            f"{shown} waited for the task's value (.get()) before returning",
            hint="do not wait for the value: return what app.send_task(name, args=args) "
            "returns, at once",
        )
    if seen.polled or seen.slept:
        how = "a loop reading its state" if seen.polled else f"time.sleep({seen.slept[0]!r:.20})"
        raise Fail(
            f"{shown} waited for the task ({how}) before returning",
            hint="do not wait for the value: return what app.send_task(name, args=args) "
            "returns, at once",
        )
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
    if names and name not in names:
        raise Fail(
            f"{shown} sent {short(sorted(names)[0])}, not {short(name)}",
            hint="send the task whose name you are given, not a fixed one",
        )
    for message in sent:
        headers = message.headers
        if headers.get("ignore_result"):
            raise Fail(
                f"{shown} sent the task with ignore_result=True: the worker stores no result, "
                "so the AsyncResult it returns never gives the value",
                hint="send just the name and the arguments: app.send_task(name, args=args)",
            )
        if headers.get("expires"):
            raise Fail(
                f"{shown} gave the task an expiry (expires): if it waits in the queue longer "
                "than that, the worker drops it (REVOKED) and the caller never gets a value",
                hint="send just the name and the arguments; add no option the exercise does "
                "not ask for",
            )
        if headers.get("eta"):
            raise Fail(
                f"{shown} delayed the task (an eta or countdown)",
                hint="send just the name and the arguments: app.send_task(name, args=args)",
            )


#: What differs between any two sends of the same call: ids, the sender, the reprs.
_PER_SEND_HEADERS = {"id", "root_id", "parent_id", "origin", "argsrepr", "kwargsrepr", "task"}
_PER_SEND_PROPERTIES = {"correlation_id", "reply_to"}
#: What an option the exercise does not ask for does, by the header or property it sets.
_OPTION_EFFECTS = {
    "timelimit": "a time limit (time_limit / soft_time_limit): the worker kills the task "
    "when it is up, whatever the task is",
    "priority": "a priority: the queue serves it before or after other messages",
    "queue": "a queue of its own choosing: the named task's own route is bypassed",
    "serializer": "a serializer of its own choosing",
}


#: 04.2: a name the check routes (task_routes) to a queue of its own while it calls
#: call_by_name with it: the message must go where the route says.
ROUTED_TASK = "course_tasks.checks.ch04.routed_probe"
ROUTED_QUEUE = "course-check-04-routed"


def _route_problem(call_by_name: Any) -> Fail | None:
    """A Fail if call_by_name sends a routed name elsewhere than its route says."""
    queue = Queue(ROUTED_QUEUE)

    def route(name: str, *_: Any, **__: Any) -> dict[str, Any] | None:
        return {"queue": queue} if name == ROUTED_TASK else None

    router = app.amqp.router
    routed = app.amqp.Router()
    routed.routes = (route, *router.routes)
    app.amqp.router = routed  # what app.send_task routes with, for this call only
    try:
        _, sent, _ = _by_name(call_by_name, ROUTED_TASK, 1)
    finally:
        app.amqp.router = router
        _purge(ROUTED_QUEUE)  # nothing consumes it: what went there is dropped
    mine = next((s for s in sent if s.task == ROUTED_TASK), None)
    if mine is None or mine.routing_key == ROUTED_QUEUE:
        return None
    _settle(sent, 1.0)
    return Fail(
        f"call_by_name sent a task that the app routes to the queue {ROUTED_QUEUE!r} "
        f"(task_routes) to {mine.routing_key!r}: an explicit queue overrides the named "
        "task's route, and its workers never see it",
        hint="send just the name and the arguments; send_task routes each name as the app's "
        "task_routes say",
    )


def _purge(queue: str) -> None:
    try:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    except Exception:  # noqa: BLE001, S110 (a queue that was never created)
        pass


def _plain_send(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args)


def _options_problem(shown: str, sent: list[Sent], name: str, args: tuple[Any, ...]) -> Fail | None:
    """A Fail if the learner's message differs from a plain ``app.send_task(name,
    args=args)``'s in any header, property or destination (an option it added)."""
    _, plain, _ = _call(_plain_send, name, *args, name="call_by_name")
    _settle(plain, WAIT_SECONDS)
    mine = next((s for s in sent if s.task == name), None)
    ref = next((s for s in plain if s.task == name), None)
    if mine is None or ref is None:
        return None
    diffs: list[tuple[str, Any]] = []
    for key in sorted((set(mine.headers) | set(ref.headers)) - _PER_SEND_HEADERS):
        theirs, plain = mine.headers.get(key), ref.headers.get(key)
        if key == "ignore_result":  # False (task.delay) and None (send_task) are the same
            theirs, plain = bool(theirs), bool(plain)
        if theirs != plain:
            diffs.append((key, mine.headers.get(key)))
    for key in sorted((set(mine.properties) | set(ref.properties)) - _PER_SEND_PROPERTIES):
        if mine.properties.get(key) != ref.properties.get(key):
            key_ = "serializer" if key in ("content_type", "content_encoding") else key
            diffs.append((key_, mine.properties.get(key)))
    if (mine.exchange, mine.routing_key) != (ref.exchange, ref.routing_key):
        diffs.append(("queue", mine.routing_key))
    if not diffs:
        return None
    key, value = diffs[0]
    effect = _OPTION_EFFECTS.get(key)
    what = f"gave the task {effect}" if effect else f"sent the task with {key}={value!r:.40}"
    return Fail(
        f"{shown} {what}; a plain app.send_task(name, args=args) adds no such option",
        hint="send just the name and the arguments; add no option the exercise does not ask for",
    )


@exercise("04.2", "call a task by name", points=2)
def _call_by_name(call_by_name: Any) -> str:
    need_function(call_by_name, "call_by_name", "call_by_name(name, *args)")
    given: list[tuple[str, dict[str, Any]]] = []  # the options of each send, as passed

    shown = _shown(subtract.name, SUBTRACT_ARGS)
    answer, sent = _sent_by_name(call_by_name, subtract.name, *SUBTRACT_ARGS, options=given)
    value = _wait(answer, WAIT_SECONDS, f"the task {shown} sent")
    if answer.failed():
        hint = "pass the arguments on as they are: args=args (not args=[args])"
        mine = next((m for m in sent if m.task == subtract.name), None)
        if mine is not None and mine.args == tuple(map(str, SUBTRACT_ARGS)):
            hint = "pass the arguments on as they are: args=args (not turned into text)"
        raise Fail(f"{shown} failed on the worker ({failure_text(answer)})", hint=hint)
    if value != SUBTRACT_VALUE:
        hint = "send the task whose name you are given, with the arguments as they are"
        x, y = SUBTRACT_ARGS
        if value == y - x:
            hint = "keep the arguments in their order: args=args (subtract(50, 8) is 42, "
            hint += "subtract(8, 50) is -42)"
        raise Fail(f"{shown} gave {value!r:.40}, not {SUBTRACT_VALUE}", hint=hint)
    extra = _options_problem(shown, sent, subtract.name, SUBTRACT_ARGS)
    if extra is not None:
        raise extra

    shown = _shown(describe_request.name, DESCRIBE_ARGS)
    answer, sent = _sent_by_name(call_by_name, describe_request.name, *DESCRIBE_ARGS, options=given)
    value = _wait(answer, WAIT_SECONDS, f"the task {shown} sent")
    got = (value.get("args"), value.get("kwargs")) if isinstance(value, dict) else None
    if answer.failed() or got != (list(DESCRIBE_ARGS), {}):
        received = f"args={got[0]!r}, kwargs={got[1]!r}" if got else f"{value!r:.40}"
        hint = "pass the arguments on as they are, positionally: args=args"
        if got and got[1]:
            hint += " (their names are the task's business: describe_request takes *args)"
        elif got and got[0] == list(dict.fromkeys(DESCRIBE_ARGS)):
            hint += " (a value given twice is two arguments: don't drop repeats)"
        elif got and got[0] == [a for a in DESCRIBE_ARGS if a]:
            hint += ' (0 and "" are arguments too: don\'t drop empty or false values)'
        raise Fail(f"{shown} reached the task as {received}", hint=hint)

    answer, _ = _sent_by_name(call_by_name, UNKNOWN_TASK, 1, 2, options=given)
    _wait(answer, WAIT_SECONDS, "the task with an unknown name")
    if answer.state != "FAILURE" or not isinstance(answer.result, NotRegistered):
        raise Fail(
            f"a task with an unknown name ended {answer.state}, not FAILURE with NotRegistered",
            hint="send the name you are given as it is",
        )

    shown = _shown(subtract.name, TOO_MANY_ARGS)
    answer, _ = _sent_by_name(call_by_name, subtract.name, *TOO_MANY_ARGS, options=given)
    _wait(answer, WAIT_SECONDS, f"the task {shown} sent")
    if answer.state != "FAILURE" or not isinstance(answer.result, TypeError):
        raise Fail(
            f"{shown} ended {answer.state}, not FAILURE with TypeError on the worker",
            hint="send the arguments you are given as they are: args=args",
        )
    routed = _route_problem(call_by_name)
    if routed is not None:
        raise routed
    for shown, options in given:
        extra = _extra_option([options])
        if extra is not None:
            key, value = extra
            raise Fail(
                f"{shown} sent the task with {key}={value!r:.40}: {_option_effect(key, value)}; "
                "the exercise asks for the name and the arguments and no other option",
                hint="send just the name and the arguments: app.send_task(name, args=args); "
                "add no option the exercise does not ask for",
            )
    return (
        "subtract and describe_request by name got their arguments as given; an unknown "
        "name and a call with one argument too many failed on the worker"
    )


# --------------------------------------------------------------------------- 04.3

#: 04.3: the names of the other accounts on the sign-up's address: one made before register
#: is called, one by another sign-up at the moment register's create_user returns.
EARLIER_USER, CONCURRENT_USER = "Check Earlier Account", "Check Concurrent Sign-up"


@contextmanager
def _other_sign_ups(register: Any, email: str, thread: str) -> Iterator[list[int]]:
    """Meanwhile, another account on ``email`` exists, and another sign-up on it happens
    right after the learner's first ``create_user`` returns (in the thread ``thread``): code
    that finds its user again (the newest row, a lookup by address) finds another one. The
    ids of those accounts."""
    real = users.create_user
    others = [real(EARLIER_USER, email).id]

    def create_user(*args: Any, **kwargs: Any) -> Any:
        user = real(*args, **kwargs)
        if threading.current_thread().name == thread and len(others) == 1:
            others.append(real(CONCURRENT_USER, email).id)
        return user

    names = getattr(register, "__globals__", None)
    own = [n for n, v in names.items() if v is real] if isinstance(names, dict) else []
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(users, "create_user", create_user))
        for n in own:  # from ...users import create_user: the learner's own name for it
            names[n] = create_user  # type: ignore[index]
            stack.callback(names.__setitem__, n, real)  # type: ignore[union-attr]
        yield others


@exercise("04.3", "pass ids, not objects", points=2)
def _register(register: Any) -> str:
    need_function(register, "register", "register(name, email)")
    name, email = NEW_USER
    known = {user.id for user in users.all_users()}
    try:
        with _other_sign_ups(register, email, "course-check-register") as others:
            answer, sent, seen = _call(register, name, email, name="register")
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
        waited = _waited(
            seen,
            sent,
            "register",
            users.send_welcome.name,
            hint="create the user here with create_user(name, email): it returns the User at "
            "once; then queue send_welcome.delay(user.id) and return without waiting",
        )
        if waited is not None:
            raise waited
        _judge_register(register, answer, sent, name, email, known | set(others))
        created = [u for u in users.all_users() if u.id not in known and u.id not in others]
        if len(created) > 1:
            raise Fail(
                f"register created {len(created)} users for one sign-up",
                hint="call create_user(name, email) once, and pass that user's .id",
            )
        return "one user created; the welcome mail was queued with its id and delivered"
    finally:
        _settle(sent, MAIL_WAIT_SECONDS)


def _judge_register(
    register: Any, answer: Any, sent: list[Sent], name: str, email: str, others: set[int]
) -> None:
    """``others``: the users that register did not create (before the call, and the other
    accounts on its address the check made)."""
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
    message = welcome[0]
    if message.user_existed is False and _user_exists(_welcome_id(message)):
        raise Fail(
            f"register queued the welcome mail for user {_welcome_id(message)} "
            "before that user existed: the id was guessed, and create_user ran after",
            hint="create the user first, then queue send_welcome.delay(user.id) with the id "
            "create_user returned (another sign-up at the same time may get the guessed id)",
        )
    if message.eta:
        raise Fail(
            "register delayed the welcome mail (a countdown or an eta): the user exists "
            "once create_user returns, so the mail can go at once",
            hint="create the user, then send_welcome.delay(user.id), no countdown",
        )
    value = _wait(
        answer,
        MAIL_WAIT_SECONDS,
        "the welcome mail",
        hint="is the worker running (the set-up cell)? Did you send it to another queue, or "
        'with another serializer than json (serializer="pickle"), which the worker refuses?',
    )
    if answer.failed():
        raise _welcome_failed(answer, welcome[0])
    user_id = value.get("user_id") if isinstance(value, dict) else None
    try:
        user = users.get_user(user_id)  # type: ignore[arg-type]
    except (TypeError, LookupError):
        user = None
    if user is not None and user_id in others and user.email == email:
        which = (
            "made earlier" if user.name != CONCURRENT_USER else "that signed up at the same moment"
        )
        raise Fail(
            f"the mail went to user {user_id} ({user.name!r}), another account on {email!r} "
            f"{which}, not to the user register's create_user returned: register found its "
            "user again (the newest row, a lookup by address) instead of using the one it had",
            hint="keep what create_user(name, email) returns and pass its .id: "
            "send_welcome.delay(user.id)",
        )
    if user is not None and (user.name, user.email) == (email, name):
        raise Fail(
            f"register created the user with the name and the address swapped "
            f"(name={user.name!r}, email={user.email!r})",
            hint="create_user(name, email): the name first, then the address",
        )
    if user is None or (user.name, user.email) != (name, email):
        raise Fail(
            f"the mail went to user {user_id}, not to the user register({name!r}, {email!r}) "
            "created",
            hint="create_user(name, email) with the arguments register receives, then pass "
            "that user's .id",
        )
    if not any(m.get("to") == email and name in m.get("body", "") for m in outbox()):
        raise Fail("the welcome mail is not in the outbox", hint="queue users.send_welcome")


def _user_exists(user_id: Any) -> bool:
    try:
        users.get_user(user_id)
    except (TypeError, LookupError):
        return False
    return True


def _welcome_id(message: Sent) -> Any:
    return message.args[0] if message.args else message.kwargs.get("user_id")


def _welcome_failed(answer: AsyncResult, message: Sent) -> Fail:
    exc = answer.result
    kind, text = type(exc).__name__, str(exc)
    if kind == "TypeError" and "got dict" in text:
        return Fail(
            "send_welcome received a dict, not an id",
            hint="you passed the user's fields (asdict(user) or user.__dict__); pass just "
            "user.id: the task loads the row as it is when it runs",
        )
    sent_id = message.args[0] if message.args else None
    if kind == "TypeError" and isinstance(sent_id, str) and sent_id.strip().isdigit():
        return Fail(
            f"send_welcome received the id as a str ({sent_id!r}), not an int",
            hint="pass user.id itself: str(user.id) is text, and get_user looks ids up as ints",
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
        if short(ten_plus.task) == short(add.name):
            raise Fail(
                f"ten_plus is a signature of {ten_plus.task}, another task called add (one "
                f"defined in the notebook?), not the course's {add.name}",
                hint="import the course's task: from course_tasks.tasks.basics import add",
            )
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
    if options.get("eta") is not None:
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
    if options.get("expires") is not None:
        raise Fail(
            f"ten_plus also carries expires={options['expires']!r:.30}: a task not started by "
            "then is dropped (REVOKED), and the worker starts it only when its countdown is up",
            hint="carry only the countdown: .set(countdown=0.3)",
        )
    extra = _extra_options(options)
    if extra is not None:
        raise extra
    with published() as sent:
        result = ten_plus.delay(5)
    try:
        if not sent or sent[0].eta is None:
            raise Fail("the message ten_plus.delay(5) sent has no eta")
        value = _wait(result, WAIT_SECONDS, "ten_plus.delay(5)")
        if result.failed() or value != 15:
            raise Fail(
                f"ten_plus.delay(5) gave {value!r:.40}, not 15",
                hint="add.s(10).set(countdown=0.3): the course's add, the 10, one option",
            )
    finally:
        _settle(sent, WAIT_SECONDS)
    return f"ten_plus.delay(5) waited for its {COUNTDOWN_SECONDS} s countdown and gave 15"


def _extra_options(options: dict[str, Any]) -> Fail | None:
    """A Fail for an option besides the countdown (one set to None too: the exercise asks
    for no other option)."""
    others = {key: value for key, value in options.items() if key != "countdown"}
    if "task_id" in others:
        return Fail(
            f"ten_plus carries a fixed task_id ({others['task_id']!r:.40}; freeze() puts it "
            "there): every ten_plus.delay(...) would send a task with that same id, and their "
            "results overwrite one another",
            hint="don't freeze the signature: each send gets its own id; carry only the "
            "countdown, .set(countdown=0.3)",
        )
    if others:
        key = sorted(others)[0]
        none = " (set to None, it is still an option)" if others[key] is None else ""
        return Fail(
            f"ten_plus also carries {key}={others[key]!r:.30}{none}: the exercise asks for "
            "the countdown and no other option",
            hint="carry only the countdown: .set(countdown=0.3)",
        )
    return None
