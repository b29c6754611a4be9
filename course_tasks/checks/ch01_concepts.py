"""Checks of chapter 01's exercises (``solutions/01_concepts_solutions.ipynb``).

Every check sends real tasks to the worker (embedded or redis mode) through the learner's
objects. Whether an answer waited is seen, never timed (a right answer on a busy machine can be
slower than a wrong one on a quiet one): while the learner's function runs, the check records,
in the thread it runs in, a ``get()``/``wait()`` on an unfinished task (``support.watching``),
a ``time.sleep``, repeated reads of the state of a task no worker has yet, a broadcast that
waits for the workers' replies (a ping), a mail delivered right there, and every task sent,
with its arguments and options. Each of those waits is stopped at once. A time limit is left
only for code that never answers. The learner's function runs in a thread of the check's own,
as a web server runs a request: there Celery's current app is its default app (no result
backend, a broker that refuses connections), not the course's, so an answer that leans on
``celery.current_app`` shows (in embedded mode the in-process worker made the course's app the
default for every thread, which a web server's process does not have).

* 01.1 ``check("01.1", result)``: ``result`` is the ``AsyncResult`` of ``add(2, 3)`` run
  by the worker, under an id Celery gave it (a uuid, not ``task_id="my-add"``), with its
  result stored (not ``ignore_result``) and still there afterwards (not ``forget()``), and no
  task started after it (a ``link=`` callback); a task still PENDING is told
  apart: its message waits in a queue no worker reads, or no queue holds it (never sent, or
  refused by the json-only worker: its message is gone then, so both are named). What leaves
  no trace on the handle or in the backend (a second send before it, ``expires``) is not
  judged: the exercise text says so;
* 01.2 ``check("01.2", signup)``: ``signup(email, name)``, called for two users, queues
  ``send_welcome_email(email, name)`` once, on the worker's queue, without waiting for it
  (the task is held back until signup has answered: as when every worker is busy), with the
  arguments exactly (the second user's name has two words and is not made from the address)
  and no option a plain ``.delay()`` does not set (``expires``, ``countdown``, ``eta``), nor
  a producer an earlier call used (one kept in a global, shared by request threads; the app's
  pool hands the same one out again after it was given back, which is right), and
  answers with that task's id (a ``str``); then the worker delivers both mails. The first
  address signs up again: a new mail must be queued (not an earlier call's id remembered in a
  global). Then a third sign-up while the broker is down (every send raises kombu's
  ``OperationalError``): the error must reach the caller, not ``None``, a made-up id or the
  mail sent in the request;
* 01.3 ``check("01.3", status_of)``: ``status_of(task_id)`` returns
  ``{"state": ..., "result": ...}`` from the id alone, without waiting, for tasks in every
  state the chapter shows (SUCCESS with 42 and with 0, FAILURE, STARTED, PENDING in a queue no
  worker reads), asked twice about two of them: a queued task that then finished, and a
  finished one (whose result must still be there), and last the finished one again once its
  result has expired (forgotten by the check): PENDING, not an answer kept in a global; read
  with the course's app (a new ``Celery`` app made in the call is named, and so is
  ``celery.current_app``, which a bare ``AsyncResult(task_id)`` uses);
* 01.4 ``check("01.4", welcome)``: ``welcome(user)`` sends the welcome mail for two ``User``
  objects, once each, with json arguments (the serializer the worker accepts), the fields as
  they are (a two-word name unlike the address) and no ``expires``/``countdown``/``eta``, and
  returns the ``AsyncResult`` without waiting; the worker delivers both mails. Then, as in
  01.2: the first user again (a new mail), a shared producer, ``celery.current_app``, and a
  third user while the broker is down (the error must reach the caller).
"""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from celery import Celery, Signature, _state, states
from celery.app import base as celery_base
from celery.app.task import Task
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult
from kombu.exceptions import EncodeError, OperationalError
from kombu.serialization import dumps, prepare_accept_content, registry

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    Seen,
    StillRunning,
    call_watched,
    delete_queue,
    error_text,
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

#: How long a check waits for a task that should finish quickly (01.1's text says 5 s).
WAIT_SECONDS = 5.0
#: How long the check waits for each welcome mail (the simulated mail server takes 2 s, and
#: the solo worker delivers one mail after the other).
MAIL_SECONDS = 10.0
#: How long the learner's function may run before the check stops waiting for it. Only code
#: that never answers meets it: every wait on a task is seen and stopped at once.
ANSWER_SECONDS = 5.0
#: How often ``status_of`` may read the state of a task that does not change while it runs
#: (``state``, ``result``, ``ready()``, ``successful()``, ...); more is a loop waiting for it.
STATUS_READS = 6
#: The thread the learner's function runs in: what the check records happens in it.
THREAD_NAME = "course-check-01"
#: A queue that no worker consumes: a task sent there stays PENDING.
PARKING_QUEUE = "course-check-parked"

#: 01.2's two sign-ups: a second user, so that a fixed address or name shows, whose name has
#: two words and cannot be made from the address (only the name signup receives greets her).
SIGNUPS = [("grace@example.com", "Grace"), ("countess@example.org", "Ada Lovelace")]


@dataclass
class User:
    """The kind of object exercise 01.4 hands to ``welcome``: an app's user record."""

    id: int
    email: str
    name: str


#: 01.2's sign-up while the broker is down.
DOWN_SIGNUP = ("alan@example.net", "Alan Turing")

#: 01.4's two users, at the same domain (a memo keyed by the domain would skip the second).
USERS = [User(id=7, email="lin@example.com", name="Lin"),
         User(id=12, email="rear.admiral@example.com", name="Grace Hopper")]  # fmt: skip
#: 01.4's user welcomed while the broker is down.
DOWN_USER = User(id=31, email="alan@example.net", name="Alan Turing")


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


def _bound(task: Task, args: Any, kwargs: Any) -> dict[str, Any] | None:
    """The task's parameters bound to ``args``/``kwargs``; None if they do not fit."""
    try:
        return dict(inspect.signature(task.run).bind(*(args or ()), **(kwargs or {})).arguments)
    except TypeError:
        return None


def _queue_name(options: dict[str, Any]) -> str | None:
    """The queue a send named explicitly (``queue="emails"`` or a ``Queue``), else None."""
    queue = options.get("queue")
    return getattr(queue, "name", queue) or None


class _Stopped(CeleryTimeoutError):
    """Raised in the learner's code where it would wait: the check has seen the wait."""


@dataclass
class _Sent:
    """A task the learner's code sent, as ``app.send_task`` got it."""

    name: str
    args: Any
    kwargs: Any
    options: dict[str, Any]
    #: the task id the learner's code chose itself (``task_id=...``), else None
    given_id: str | None = None

    @property
    def id(self) -> str:
        return self.options["task_id"]


@dataclass
class _Did:
    """What the learner's code did in its thread, beyond what :class:`Seen` records."""

    #: every task it sent; held back (not yet published) when the check holds sends
    sent: list[_Sent] = field(default_factory=list)
    #: reads of the state of each watched task (held back, or one that will not change)
    reads: Counter[str] = field(default_factory=Counter)
    #: ids of watched tasks it read again and again: a loop waiting for them
    polled: list[str] = field(default_factory=list)
    #: the seconds of each ``time.sleep`` it called
    slept: list[float] = field(default_factory=list)
    #: broadcast commands it waited for the workers' replies to (``ping``, ``inspect()``)
    asked: list[str] = field(default_factory=list)
    #: addresses of mails it delivered itself (a task called like a function)
    mailed: list[str] = field(default_factory=list)
    #: Celery apps it made (``Celery(...)``), each by its main name
    apps: list[str] = field(default_factory=list)
    #: ids of the tasks it called ``get()``/``wait()`` on, finished or not
    got: list[str] = field(default_factory=list)
    #: what it used of Celery's current app, which in its thread is not the course's app
    elsewhere: list[str] = field(default_factory=list)
    #: sends refused while the check kept the broker down
    refused: int = 0
    held: bool = False
    #: the thread the learner's function runs in (set when it starts)
    thread: threading.Thread | None = None

    def waited(self) -> bool:
        return bool(self.polled or self.slept or self.asked or self.mailed)

    def used(self, what: str) -> None:
        """Record a use of Celery's current app (:class:`_DefaultApp`) in the call's thread."""
        if threading.current_thread() is self.thread:
            self.elsewhere.append(what)

    def publish(self) -> None:
        """Send the held-back tasks now, as a worker that was busy until now gets them."""
        if self.held:
            for sent in self.sent:
                # through the app's pool: a producer (or connection) the call took from it
                # has been given back, and may be in use again
                options = {k: v for k, v in sent.options.items()
                           if k not in ("producer", "connection")}  # fmt: skip
                _REAL_SEND(sent.name, sent.args, sent.kwargs, **options)
        self.held = False


_REAL_SEND = app.send_task

#: What a send raises while the check keeps the broker down (as Celery raises it: kombu's
#: OperationalError, after the publish retries).
BROKER_DOWN = "[Errno 111] Connection refused"


class _DefaultApp(Celery):
    """Celery's default app, as ``celery.current_app`` is in a thread of a web server.

    Celery keeps the current app per thread: the course's app is current only in the thread
    that imported ``course_tasks`` (and, in embedded mode, everywhere once the in-process
    worker made it the default). The check makes this app current in the thread it calls the
    learner's function in, as a web server's request thread would have it (with no worker in
    its process): no result backend, a broker on amqp://localhost that refuses connections.
    Its uses there are recorded (``recorder``) and its sends refused, not attempted.
    """

    recorder: _Did | None = None

    def _used(self, what: str) -> None:
        if self.recorder is not None:
            self.recorder.used(what)

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._used("send_task")
        raise OperationalError(BROKER_DOWN)

    @property
    def backend(self) -> Any:
        self._used("backend")
        return super().backend

    @property
    def tasks(self) -> Any:  # type: ignore[override]
        self._used("tasks")
        return super().tasks


_DEFAULT_APP = _DefaultApp("default", fixups=[], set_as_current=False)


@contextmanager
def _recording(
    fn: Callable[..., Any], *, hold: bool, watch: set[str], reads_allowed: int, down: bool = False
) -> Iterator[_Did]:
    """Meanwhile, record (and stop) what the learner's code does in its thread (:class:`_Did`).

    With ``hold``, the tasks it sends are recorded and encoded but not published (the check
    publishes them afterwards, :meth:`_Did.publish`): as long as the code runs, no worker has
    them, as when every worker is busy. A held task's state, and that of each id in
    ``watch``, may be read ``reads_allowed`` times; the next read is a loop waiting for it.
    With ``down``, every send raises kombu's ``OperationalError``, as Celery does when the
    broker refuses connections. Celery's current app in that thread is :data:`_DEFAULT_APP`.
    """
    did = _Did(held=hold)
    held: set[str] = set()

    def _in_call() -> bool:
        return threading.current_thread() is did.thread

    backend_cls = type(app.backend)
    real_meta = backend_cls.get_task_meta
    real_sleep = time.sleep
    real_broadcast = app.control.broadcast
    real_deliver = email.deliver
    real_register = celery_base._register_app

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        if not _in_call():
            return _REAL_SEND(name, args, kwargs, **options)
        if down:
            did.refused += 1
            raise OperationalError(BROKER_DOWN)
        given = options.get("task_id")
        options["task_id"] = given or str(uuid.uuid4())
        did.sent.append(_Sent(name, args, kwargs, options, given_id=given))
        if not hold:
            return _REAL_SEND(name, args, kwargs, **options)
        # as publishing would: arguments the serializer cannot encode raise EncodeError here
        dumps((args or (), kwargs or {}, {}), options.get("serializer") or app.conf.task_serializer)
        held.add(options["task_id"])
        return (options.get("result_cls") or app.AsyncResult)(options["task_id"])

    def get_task_meta(backend: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
        if _in_call() and (task_id in held or task_id in watch):
            did.reads[task_id] += 1
            if did.reads[task_id] > reads_allowed:
                did.polled.append(task_id)
                raise _Stopped(f"the check stopped a loop waiting for {task_id}")
        return real_meta(backend, task_id, *args, **kwargs)

    def sleep(seconds: float) -> None:
        if not _in_call():
            return real_sleep(seconds)
        did.slept.append(seconds)
        raise _Stopped(f"the check stopped time.sleep({seconds!r})")

    def broadcast(command: str, *args: Any, **kwargs: Any) -> Any:
        if not (_in_call() and kwargs.get("reply")):
            return real_broadcast(command, *args, **kwargs)
        did.asked.append(command)
        return []  # no worker answered; nothing waited for one

    def deliver(to: str, *args: Any, **kwargs: Any) -> Any:
        if not _in_call():
            return real_deliver(to, *args, **kwargs)
        did.mailed.append(to)
        raise _Stopped(f"the check stopped a mail to {to} sent in the request")

    real_get, real_wait = AsyncResult.get, AsyncResult.wait

    def recording_get(real: Callable[..., Any]) -> Callable[..., Any]:
        def get(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _in_call():
                did.got.append(str(getattr(self, "id", None)))
            return real(self, *args, **kwargs)

        return get

    def register_app(made: Any) -> Any:
        if _in_call():
            did.apps.append(str(getattr(made, "main", None)))
        return real_register(made)

    names = getattr(fn, "__globals__", {})
    own_sleeps = [n for n, v in names.items() if v is real_sleep] if isinstance(names, dict) else []
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(app, "send_task", send_task))
        stack.enter_context(mock.patch.object(backend_cls, "get_task_meta", get_task_meta))
        stack.enter_context(mock.patch.object(time, "sleep", sleep))
        stack.enter_context(mock.patch.object(app.control, "broadcast", broadcast))
        stack.enter_context(mock.patch.object(email, "deliver", deliver))
        stack.enter_context(mock.patch.object(celery_base, "_register_app", register_app))
        stack.enter_context(mock.patch.object(AsyncResult, "get", recording_get(real_get)))
        stack.enter_context(mock.patch.object(AsyncResult, "wait", recording_get(real_wait)))
        stack.enter_context(mock.patch.object(_DEFAULT_APP, "recorder", did))
        for name in own_sleeps:  # from time import sleep: the learner's own name for it
            names[name] = sleep
            stack.callback(names.__setitem__, name, real_sleep)
        yield did


def _run(
    fn: Callable[..., Any],
    *args: Any,
    hold: bool,
    watch: set[str] | None = None,
    reads_allowed: int = 1,
    down: bool = False,
) -> tuple[Any, Seen, _Did]:
    """``fn(*args)`` in a thread of the check's own, bounded, with everything it did recorded.

    The thread is a new one, as a web server's request thread is: Celery's current app there
    is not the course's app but :data:`_DEFAULT_APP`. The answer is what ``fn`` returned, a
    :class:`StillRunning`, or, when the check stopped a wait of ``fn``'s (caught or not),
    used the current app, or kept the broker down (``down``), the exception ``fn`` raised.
    Other exceptions are raised here.
    """
    with _recording(fn, hold=hold, watch=watch or set(), reads_allowed=reads_allowed,
                    down=down) as did:  # fmt: skip

        def call(*args: Any) -> Any:
            did.thread = threading.current_thread()
            _state._set_current_app(_DEFAULT_APP)  # this thread only, as a request thread
            return fn(*args)

        try:
            answer, seen = call_watched(
                call, *args, seconds=ANSWER_SECONDS, thread_name=THREAD_NAME
            )
        except Exception as exc:
            if not (did.waited() or did.apps or did.elsewhere or down):
                raise
            answer, seen = exc, Seen()
    return answer, seen, did


def _current_app_used(who: str, did: _Did, *, reads: bool = False) -> None:
    """A Fail if ``who`` used Celery's current app, not the course's, in its thread."""
    if not did.elsewhere:
        return
    if reads:
        how = ("read the task through celery.current_app (AsyncResult(task_id) without app=, "
               "say)")  # fmt: skip
        there = "Celery's default app, which has no result backend (DisabledBackend)"
        hint = "read with the course's app: app.AsyncResult(task_id)"
    else:
        how = "sent the mail through celery.current_app"
        there = ("Celery's default app, which sends to amqp://localhost (OperationalError: "
                 f"{BROKER_DOWN})")  # fmt: skip
        hint = ("send with the course's objects: send_welcome_email.delay(...) (or the course's "
                "app.send_task)")  # fmt: skip
    raise Fail(
        f"{who} {how}: the current app is the course's app only in the thread that imported "
        "course_tasks (or next to a worker); the check called it from another thread, as a web "
        f"server runs each request, and there it is {there}",
        hint=hint,
    )


def _run_sending(fn: Callable[..., Any], *args: Any) -> tuple[Any, Seen, _Did]:
    """:func:`_run` with the mail held back; a Fail if sending it failed in the call."""
    try:
        return _run(fn, *args, hold=True)
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
            f"sending the mail task failed (TypeError: {exc})",
            hint="send_welcome_email takes two plain values: the address and the user's name",
        ) from None


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{s:g}" if isinstance(s, int | float) else repr(s) for s in values[:3])


def _ran_here(who: str, seen: Seen, did: _Did, hint: str) -> None:
    """A Fail if ``who`` ran the mail task in this process instead of sending it."""
    if (seen.ran_here or did.mailed) and app.conf.task_always_eager:
        raise Fail(
            f"{who} ran the mail task right here: task_always_eager is on, so delay() runs the "
            "task in this process",
            hint="this exercise needs a worker: switch task_always_eager off (in eager mode, "
            "COURSE_BROKER=eager, unset it) and run it again",
        )
    if seen.ran_here:
        raise Fail(
            f"{who} ran {short(seen.ran_here[0])} right here with apply(), in this process, "
            "not on the worker",
            hint=f".apply() runs a task locally; {hint}",
        )
    if did.mailed:
        raise Fail(
            f"{who} sent the mail itself, in this process: it called the task like a function, "
            "and the mail server's wait (2 s a mail) would be the caller's",
            hint=hint,
        )


def _mail_tasks(who: str, did: _Did, answer: Any) -> _Sent:
    """The one send_welcome_email that ``who`` sent, else a Fail naming what it sent."""
    mails = [s for s in did.sent if s.name == send_welcome_email.name]
    if not did.sent:
        raise Fail(
            f"{who} returned {answer!r:.60} but sent no task to the worker",
            hint="queue the course's send_welcome_email with .delay(...) and use what that returns",
        )
    if not mails:
        others = ", ".join(sorted({short(s.name) for s in did.sent}))
        raise Fail(
            f"{who} queued {others}, not send_welcome_email",
            hint="queue the course's send_welcome_email task",
        )
    if len(mails) > 1:
        raise Fail(
            f"{who} queued send_welcome_email {len(mails)} times: the user would get "
            f"{len(mails)} welcome mails",
            hint="queue it once, and use the handle that one .delay() returns",
        )
    return mails[0]


def _refused(who: str, sent: _Sent) -> None:
    """A Fail if the worker would refuse the message: a serializer it does not accept."""
    serializer = sent.options.get("serializer") or app.conf.task_serializer
    content_type = registry.name_to_type.get(serializer, serializer)
    if content_type not in prepare_accept_content(app.conf.accept_content):
        raise Fail(
            f"{who} sent the task as {serializer} (serializer={serializer!r}): the course's "
            f"worker accepts only {', '.join(app.conf.accept_content)} (accept_content) and "
            "refuses the message (ContentDisallowed), so the mail is never sent",
            hint="leave the serializer as it is (json) and send the user's plain fields: "
            "the address and the name",
        )


def _name_hint(greeted: Any, name: str, address: str, whole: str) -> str:
    """The hint for a mail that greets ``greeted`` instead of ``name`` (sent to ``address``)."""
    if isinstance(greeted, str) and greeted.strip():
        if greeted.split() != name.split() and set(greeted.split()) <= set(name.split()):
            return f"greet by the whole name, as it is: {whole}"
        local = "".join(ch for ch in address.split("@")[0].lower() if ch.isalnum())
        if "".join(ch for ch in greeted.lower() if ch.isalnum()) == local:
            return (f"that name is made from the address; a name need not match its address: "
                    f"{whole}")  # fmt: skip
    return whole


#: Options of a message that keep the mail from going out as soon as a worker is free.
_DELAYING = {
    "expires": (
        "when every worker is busy for longer than that, the worker that finally gets "
        "it revokes it unrun, and the user never gets the welcome mail",
        "leave out expires: the mail waits in the queue until a worker is free, "
        "however long that takes",
    ),
    "countdown": (
        "it waits that long even when a worker is free",
        "queue it with send_welcome_email.delay(...): it goes out as soon as a worker is free",
    ),
    "eta": (
        "it waits until then even when a worker is free",
        "queue it with send_welcome_email.delay(...): it goes out as soon as a worker is free",
    ),
}


def _delayed(who: str, sent: _Sent) -> None:
    """A Fail if the mail was queued with an option a plain ``.delay()`` does not set."""
    for option, (why, hint) in _DELAYING.items():
        if sent.options.get(option) is not None:
            raise Fail(f"{who} queued the mail with {option}={sent.options[option]!r}: {why}",
                       hint=hint)  # fmt: skip


#: Options of a send that are plumbing (or judged elsewhere: queue, serializer, delays).
_NOT_OPTIONS = {"task_id", "producer", "connection", "router", "result_cls", "task_type",
                "publisher", "add_to_parent", "route_name", "queue", "routing_key", "exchange",
                "serializer", "expires", "countdown", "eta"}  # fmt: skip

#: What each option a plain ``.delay()`` does not set does to the welcome mail.
_OPTION_WHY = {
    "time_limit": (
        "a time limit of {v!r} s on a mail the server takes 2 s to send: the embedded worker "
        "does not enforce it, but a prefork worker kills every welcome mail at {v!r} s",
        "leave out time_limit: a plain .delay(...) lets the mail take the time it needs",
    ),
    "soft_time_limit": (
        "a soft time limit of {v!r} s on a mail the server takes 2 s to send: the embedded "
        "worker does not enforce it, but a prefork worker raises SoftTimeLimitExceeded in "
        "every welcome mail",
        "leave out soft_time_limit: a plain .delay(...) lets the mail take the time it needs",
    ),
    "ignore_result": (
        "the worker sends the mail but stores no result, so the task's "
        "state can never be read by its id (it stays PENDING for ever)",
        "leave out ignore_result: the caller polls the task by its id",
    ),
    "retry": (
        "a broker hiccup while publishing fails the request instead of retrying "
        "the publish (task_publish_retry)",
        "leave out retry: a plain .delay(...) retries the publish",
    ),
}


def _extra_options(who: str, sent: _Sent, baseline: dict[str, Any]) -> None:
    """A Fail if the mail was sent with an option a plain ``.delay()`` does not set, or with
    a task id of the learner's own that is not unique (not a random uuid)."""
    if sent.given_id is not None:
        given = str(sent.given_id)
        try:
            version = uuid.UUID(given).version
        except ValueError:
            version = None
        if version not in (1, 4):
            raise Fail(
                f"{who} chose the mail task's id itself ({given!r:.60}): a task id must be "
                "unique, and one made from the user's data is not (a second send for the same "
                "user reuses it and overwrites the first one's result) and can be guessed",
                hint="leave out task_id: Celery gives every task a new random id",
            )
    defaults = {**baseline, "retry": app.conf.task_publish_retry}
    for option, value in sent.options.items():
        if option in _NOT_OPTIONS:
            continue
        if value == defaults.get(option):
            continue
        why, hint = _OPTION_WHY.get(option, (
            "an option nobody asked for: the exercise's mail is a plain send",
            f"leave out {option}=...: queue the mail with send_welcome_email.delay(...)",
        ))  # fmt: skip
        raise Fail(f"{who} queued the mail with {option}={value!r:.40}: "
                   + why.format(o=option, v=value), hint=hint)  # fmt: skip


def _plain_options() -> dict[str, Any]:
    """The options a plain ``send_welcome_email.delay(...)`` gives ``app.send_task``."""
    got: dict[str, Any] = {}

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        got.update(options)
        return app.AsyncResult(str(uuid.uuid4()))

    with mock.patch.object(app, "send_task", send_task):
        send_welcome_email.delay("plain@example.com", "Plain")
    return got


def _other_queue(who: str, sent: _Sent) -> None:
    """A Fail if the task went to a queue that the course's worker does not read."""
    queue, default = _queue_name(sent.options), app.conf.task_default_queue
    if queue is not None and queue != default:
        raise Fail(
            f"{who} queued the mail on the queue {queue!r}, which no worker reads (the course's "
            f"worker reads {default!r}): it would never be sent",
            hint=f"leave out queue=...: .delay(...) puts it on {default!r}",
        )


def _shared_producer(who: str, sent: _Sent, producers: list[Any] | None) -> None:
    """A Fail if ``who`` sent with a producer (or connection) an earlier call used too."""
    if producers is None:
        return
    # a producer or connection taken from the app's pools for the call, and given back after
    # it (with app.producer_or_acquire() as producer: ...), comes round again: that is right
    pooled = [*app.producer_pool._resource.queue, *app.pool._resource.queue]
    mine = [sent.options.get(o) for o in ("producer", "connection")]
    mine = [m for m in mine if m is not None and not any(m is p for p in pooled)]
    if any(m is p for m in mine for p in producers):
        raise Fail(
            f"{who} sent the mail with the producer (or connection) an earlier call used: one "
            "kept between calls and shared by every request thread, though a producer and its "
            "channel are for one thread at a time (kombu's are not thread-safe), and its "
            "connection is never given back",
            hint="leave out producer=...: .delay(...) takes a producer from the app's pool for "
            "each send and gives it back",
        )
    producers.extend(mine)


def _delivered(task: AsyncResult, to: str) -> None:
    """Wait for the worker to deliver the mail ``task`` sends to ``to``; a Fail if it did not."""
    finished(
        task,
        MAIL_SECONDS,
        f"the mail task for {to}",
        hint="no worker took it: is the worker running (the set-up cell)?",
    )
    if task.failed():
        raise Fail(
            f"the mail task for {to} failed on the worker ({failure_text(task)})",
            hint="send_welcome_email takes two plain values: the address and the user's name",
        )
    message = task.result if isinstance(task.result, dict) else {}
    if message.get("to") != to or message not in email.outbox():
        raise Fail(
            f"the mail for {to} is not in the outbox",
            hint="queue the course's send_welcome_email task",
        )


def _broker_down(fn: Callable[..., Any], who: str, shown: str, *args: Any) -> None:
    """``fn(*args)`` while the broker refuses connections: the error must reach the caller.

    A Fail if ``fn`` answered anyway (no mail queued, and nobody told), sent the mail itself
    in the request, or waited for the broker to come back.
    """
    answer, seen, did = _run(fn, *args, hold=True, down=True)
    _current_app_used(who, did)
    down = (f"while the broker was down (sending raised OperationalError: {BROKER_DOWN}), "
            f"{shown}")  # fmt: skip
    let_it = ("let the error reach the caller (don't catch it, or raise again): the request "
              "fails, and the sign-up can be tried again")  # fmt: skip
    if did.mailed or seen.ran_here:
        raise Fail(
            f"{down} sent the mail itself, in this process: the request waits for the mail "
            "server (2 s a mail), and the app never gets a task id",
            hint=let_it,
        )
    if did.slept or did.polled or did.asked or isinstance(answer, StillRunning):
        raise Fail(
            f"{down} waited for the broker to come back before answering",
            hint="Celery already retries the publish a few times (task_publish_retry); then "
            + let_it,
        )
    if isinstance(answer, BaseException):
        return  # the error reached the caller
    raise Fail(
        f"{down} returned {answer!r:.60}: no mail was queued, and nobody is told",
        hint=let_it,
    )


def _remembered(who: str, shown: str, answer: Any, did: _Did, earlier: set[str]) -> None:
    """A Fail if ``who`` sent nothing and answered with an earlier call's task."""
    answered = getattr(answer, "id", answer)
    if not did.sent and isinstance(answered, str) and answered in earlier:
        raise Fail(
            f"{shown}, called a second time (a new sign-up with the same address, after the "
            f"account was deleted, say), sent no mail and answered with the first call's task: "
            f"{who} remembered the earlier call in a Python variable",
            hint="send the mail on every call: a Python global lives in one process (a web app "
            "runs several, and restarts), and the worker does not need it",
        )


# --------------------------------------------------------------------------- 01.1


def _queue_holding(task_id: str) -> str | None:
    """The broker queue in which the message of ``task_id`` still waits, if any.

    Every queue this process sent to is in ``app.amqp.queues`` (a ``queue=`` names one there).
    Read without taking anything: the embedded broker's queues are in memory, redis's are lists.
    """
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        memory = getattr(type(channel), "queues", None)
        for name in list(app.amqp.queues):
            if isinstance(memory, dict):
                queue = memory.get(name)
                found = queue is not None and task_id in repr(list(queue.queue))
            else:
                client = getattr(channel, "client", None)
                if client is None:
                    return None
                key = f"{getattr(channel, 'global_keyprefix', '') or ''}{name}"
                found = any(task_id.encode() in m for m in client.lrange(key, 0, -1))
            if found:
                return name
    return None


def _never_ran(result: AsyncResult) -> Fail:
    """Why the task of ``result`` is still PENDING: parked in a queue, or it never reached a
    worker (never sent, or refused: its message is gone then, so the check cannot tell which)."""
    pending = f"the task is still {result.state} after {WAIT_SECONDS:g} s"
    queue = _queue_holding(result.id)
    if queue == app.conf.task_default_queue:
        return Fail(
            f"{pending}: its message waits in the queue {queue!r}, but no worker took it",
            hint="is the worker running (the set-up cell)?",
        )
    if queue is not None:
        return Fail(
            f"{pending}: its message waits in the queue {queue!r}, which no worker reads (the "
            f"course's worker reads {app.conf.task_default_queue!r})",
            hint="leave out queue=...: add.delay(2, 3) puts it where the worker reads",
        )
    return Fail(
        f"{pending}: no worker ran it, and no queue holds its message",
        hint="either it was never sent (a signature's freeze() only makes a handle: send it "
        "with add.delay(2, 3)), or the worker refused its message (it accepts only json: "
        "leave out serializer=...)",
    )


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
    if getattr(result, "ignored", False):
        raise Fail(
            "the task was sent with ignore_result=True: the worker runs it but stores no "
            "result, so its state and its value can never be read",
            hint="send it without ignore_result: add.delay(2, 3)",
        )
    _own_id(result)
    try:
        value = result.get(timeout=WAIT_SECONDS, propagate=False, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        raise _never_ran(result) from None
    stored = not isinstance(result, EagerResult)  # eager mode stores no result
    if stored and app.backend.get_task_meta(result.id, cache=False)["status"] == states.PENDING:
        raise Fail(
            "the task's result is gone from the result backend: its state reads PENDING "
            "again, and its value can no longer be read by its id (was forget() called on it?)",
            hint="keep the result: leave out forget() (results expire by themselves, "
            "result_expires)",
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
        bound = _bound(add, args, kwargs) or {}
        if (bound.get("x"), bound.get("y")) != (2, 3):
            shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            raise Fail(
                f"the worker ran add({shown}), not add(2, 3)", hint="send 2 and 3, in that order"
            )
    children = [c for c in (result.children or []) if c is not None]
    if children:
        names = ", ".join(sorted({short(getattr(c, "name", None)) for c in children}))
        raise Fail(
            f"add(2, 3) ran, and then the worker ran another task it started ({names}): a "
            "callback (link=...) nobody asked for",
            hint="send add(2, 3) alone: add.delay(2, 3)",
        )
    return f"add(2, 3) ran on the worker: state={result.state}, result={value}"


def _own_id(result: AsyncResult) -> None:
    """A Fail if the task's id is not one Celery (or a random uuid) gave it."""
    try:
        version = uuid.UUID(str(result.id)).version
    except ValueError:
        version = None
    if version not in (1, 4):
        raise Fail(
            f"the task's id is {result.id!r:.60}, one of your own (task_id=...): a task id "
            "must be unique, and a fixed one is reused every time the cell runs (the second "
            "task overwrites the first one's result)",
            hint="leave out task_id: Celery gives every task a new random id",
        )


# --------------------------------------------------------------------------- 01.2

#: What 01.2 says about every way of waiting before the answer.
_SIGNUP_WAIT_HINT = "queue the mail and return; do not wait for the task to finish"


def _signup_waits(shown: str, answer: Any, seen: Seen, did: _Did) -> None:
    """A Fail if the sign-up ``shown`` waited for anything before it answered."""
    _ran_here(shown, seen, did, hint="queue it with send_welcome_email.delay(email, name) and "
              "return the task's id")  # fmt: skip
    if seen.waited:
        raise Fail(
            "signup waited for the mail before answering (it called get() on the task)",
            hint=_SIGNUP_WAIT_HINT,
        )
    if did.polled:
        raise Fail(
            "signup waited for a worker to pick the mail up (it read the task's state again "
            "and again while the task was PENDING, every worker busy)",
            hint="answer at once with the task's id, whatever the workers are doing: with busy "
            "workers the mail stays PENDING, and so would the request",
        )
    if did.slept:
        raise Fail(
            f"signup waited before answering (it called time.sleep({_seconds(did.slept)}))",
            hint="queue the mail and return at once: the worker sends it meanwhile",
        )
    if did.asked:
        raise Fail(
            f"signup asked the workers ({did.asked[0]}) and waited for their replies before "
            "queueing the mail: every sign-up would wait for them, and fail while the only "
            "worker is busy",
            hint="queue the mail and answer at once: the broker keeps the message until a "
            "worker is free",
        )
    if isinstance(answer, StillRunning):
        raise Fail(
            f"signup waited before answering (no answer within {ANSWER_SECONDS:g} s)",
            hint=_SIGNUP_WAIT_HINT,
        )
    if isinstance(answer, BaseException):
        raise answer


def _signup_once(
    signup: Callable[..., Any],
    address: str,
    name: str,
    *,
    earlier: set[str] | None = None,
    producers: list[Any] | None = None,
    publish: bool = True,
) -> AsyncResult:
    """``signup(address, name)``, judged while its mail is held back; the mail's handle.

    ``earlier``: the ids the earlier calls answered with; ``producers``: the producer each
    earlier call sent with (this call's is added); ``publish``: whether the mail then goes
    to the worker.
    """
    shown = f"signup({address!r}, {name!r})"
    answer, seen, did = _run_sending(signup, address, name)
    _current_app_used("signup", did)
    _signup_waits(shown, answer, seen, did)
    if answer is None:
        raise _returned_none(signup, "signup", "the task id")
    if isinstance(answer, AsyncResult):
        raise Fail(
            "signup returned an AsyncResult, not the task id",
            hint="a web handler answers with json: return the handle's id (a str)",
        )
    if isinstance(answer, dict):
        raise Fail(
            f"signup returned a dict ({answer!r:.60}), not the task id",
            hint="return the id itself, a str (task.id): the web framework puts it in its json "
            "response",
        )
    if not isinstance(answer, str):
        raise Fail(
            f"signup returned {kind(answer)}, not a task id (a str)",
            hint="return the id of the task you queued",
        )
    _remembered("signup", shown, answer, did, earlier or set())
    sent = _mail_tasks("signup", did, answer)
    _shared_producer("signup", sent, producers)
    if answer != sent.id:
        other = next((s for s in did.sent if s.id == answer), None)
        if other is not None:
            raise Fail(
                f"that id belongs to the task {short(other.name)}, not send_welcome_email",
                hint="return the id of the send_welcome_email task you queued",
            )
        raise Fail(
            f"signup returned {answer[:40]!r}, not the id of the mail task it queued",
            hint="return the id of the task you queued (its .id)",
        )
    bound = _bound(send_welcome_email, sent.args, sent.kwargs)
    if bound is None:
        raise Fail(
            f"{shown} queued send_welcome_email with the arguments {sent.args!r:.40}: it takes two",
            hint="send_welcome_email takes two arguments: the address and the user's name",
        )
    to, greeted = bound.get("to"), bound.get("name")
    if (to, greeted) == (name, address):
        raise Fail(
            f"{shown} queued the mail to {to!r}, greeting {greeted!r}: the arguments are swapped",
            hint="send_welcome_email(to, name) takes the address first, then the name",
        )
    if to != address:
        raise Fail(
            f"{shown} addressed the mail to {to!r:.60}",
            hint="send the mail to the address signup receives, not a fixed one",
        )
    if greeted != name:
        raise Fail(
            f"the welcome mail for {address} greets {greeted!r:.60}, not {name!r}",
            hint=_name_hint(greeted, name, address, "pass on the name signup receives as well"),
        )
    _other_queue("signup", sent)
    _delayed(shown, sent)
    _extra_options("signup", sent, _plain_options())
    if publish:
        did.publish()  # the workers are free again: now the mail reaches one
    return app.AsyncResult(answer)


@exercise("01.2", "queue the welcome mail", points=2)
def _signup(signup: Any) -> str:
    _need_function(signup, "signup", "signup(email, name)")
    producers: list[Any] = []
    tasks: list[AsyncResult] = []
    for address, name in SIGNUPS:
        tasks.append(_signup_once(signup, address, name, producers=producers))
    for task, (address, _) in zip(tasks, SIGNUPS, strict=True):
        _delivered(task, address)
    # the first address signs up again: a new sign-up, a new mail (held back: not delivered)
    address, name = SIGNUPS[0]
    _signup_once(signup, address, name, earlier={t.id for t in tasks}, producers=producers,
                 publish=False)  # fmt: skip
    address, name = DOWN_SIGNUP
    _broker_down(signup, "signup", f"signup({address!r}, {name!r})", address, name)
    return (
        "answered with the mail task's id without waiting, for "
        f"{' and '.join(a for a, _ in SIGNUPS)} (the worker delivered both mails) and again "
        f"for {SIGNUPS[0][0]}; with the broker down, the error reached the caller"
    )


# --------------------------------------------------------------------------- 01.3


@dataclass
class _Case:
    """A task the check asks ``status_of`` about, and what the answer must say."""

    task_id: str
    what: str
    state: str
    #: the answers a right ``status_of`` may give under "result"
    results: list[Any]
    #: the exception a FAILURE left (an answer may give it or its text)
    error: BaseException | None = None
    #: asked again, after the task changed
    again: bool = False

    def result_ok(self, got: Any) -> bool:
        if self.error is not None:
            texts = {str(self.error), repr(self.error), error_text(self.error),
                     f"{type(self.error).__name__}: {self.error}"}  # fmt: skip
            same = type(got) is type(self.error) and getattr(got, "args", None) == self.error.args
            return same or (isinstance(got, str) and got in texts)
        return any(type(got) is type(want) and got == want for want in self.results)


def _status_answer(answer: Any, status_of: Callable[..., Any], case: _Case) -> dict[str, Any]:
    what = case.what
    if answer is None:
        raise _returned_none(status_of, "status_of", '{"state": ..., "result": ...}')
    if isinstance(answer, AsyncResult):
        raise Fail(
            f"for {what}, status_of returned the AsyncResult itself",
            hint="return plain values a status endpoint can send as json: "
            '{"state": ..., "result": ...}',
        )
    if not isinstance(answer, dict):
        raise Fail(
            f"for {what}, status_of returned {kind(answer)} ({answer!r:.40}), not a dict",
            hint='return both the state and the result, as {"state": ..., "result": ...}',
        )
    if set(answer) != {"state", "result"}:
        keys = ", ".join(sorted(map(repr, answer))) or "none"
        hint = 'use exactly the keys "state" and "result"'
        if "status" in answer:
            hint += ' (Celery calls it the state: "state", not "status")'
        raise Fail(f"for {what}, the dict's keys are {keys}", hint=hint)
    return answer


_STATUS_WAIT_HINT = "read the state and result, which never wait: the client asks again later"


def _ask(status_of: Callable[..., Any], case: _Case, watch: set[str]) -> dict[str, Any]:
    """``status_of(case.task_id)``, judged; its answer."""
    what = case.what
    try:
        answer, seen, did = _run(status_of, case.task_id, hold=False, watch=watch,
                                 reads_allowed=STATUS_READS)  # fmt: skip
    except AttributeError as exc:
        if "'str' object" in str(exc):
            raise Fail(
                f"status_of raised AttributeError: {exc}",
                hint="task_id is a plain str: make a result handle from it first, with the app",
            ) from None
        raise
    except Exception as exc:
        if case.error is not None and type(exc) is type(case.error):
            raise Fail(
                f"for {what}, status_of raised the task's own error ({error_text(exc)})",
                hint="get() raises a failed task's exception again: read result.state and "
                "result.result, which never raise",
            ) from None
        raise
    _current_app_used("status_of", did, reads=True)
    if seen.waited:
        raise Fail(
            f"for {what}, status_of waited for the task (it called get() on it)",
            hint="did you call .get()? It waits until the task finishes, which may be never; "
            + _STATUS_WAIT_HINT,
        )
    if did.got:
        raise Fail(
            f"for {what}, status_of called get() on the task (the exercise rules get() out, "
            "even on a finished task)",
            hint="did you call .get()? It waits until the task finishes, which may be never; "
            + _STATUS_WAIT_HINT,
        )
    if did.polled:
        raise Fail(
            f"for {what}, status_of read its state again and again ({did.reads[case.task_id]} "
            "times), waiting for it to change",
            hint="read it once and answer with what the backend says now; " + _STATUS_WAIT_HINT,
        )
    if did.slept:
        raise Fail(
            f"for {what}, status_of waited before answering (it called "
            f"time.sleep({_seconds(did.slept)}))",
            hint=_STATUS_WAIT_HINT,
        )
    if did.asked:
        raise Fail(
            f"for {what}, status_of asked the workers ({did.asked[0]}) and waited for their "
            "replies",
            hint="the result backend has the state: " + _STATUS_WAIT_HINT,
        )
    if did.apps:
        raise Fail(
            f"for {what}, status_of made a new Celery app ({did.apps[0]}) to read it: every "
            "request would build an app, with its own connections, and make it the current app",
            hint="read with the course's app, made once: app.AsyncResult(task_id)",
        )
    if isinstance(answer, StillRunning):
        raise _StillBlocked(answer.thread, what)
    if isinstance(answer, BaseException):
        raise answer
    answer = _status_answer(answer, status_of, case)
    got_state, got = answer["state"], answer["result"]
    if got_state != case.state:
        raise Fail(f"for {what}, status_of said state={got_state!r}, not {case.state!r}",
                   hint=_state_hint(case, got_state))  # fmt: skip
    if not case.result_ok(got):
        raise Fail(f"for {what}, status_of said result={got!r:.60}", hint=_result_hint(case, got))
    return answer


def _state_hint(case: _Case, got: Any) -> str:
    if case.again and case.state == states.PENDING:
        return (
            "read the state from the result backend on every call: a result expires "
            "(result_expires); an answer remembered from an earlier call does not"
        )
    if case.again:
        return ("read the state from the result backend on every call: an answer remembered "
                "from an earlier call goes stale")  # fmt: skip
    if case.state == "FAILURE" and got == "SUCCESS":
        return 'ready() is true for a failed task too: report result.state itself ("FAILURE")'
    if got == "PENDING" and case.state != "PENDING":
        return (f"report result.state as it is ({case.state!r}): PENDING only means the "
                "result backend knows nothing of the task yet")  # fmt: skip
    if case.state == "PENDING" and got != "PENDING":
        return 'a queued task is "PENDING" and has no result yet (None)'
    return "make the handle from the id you are given, with the course's app, and read its state"


def _result_hint(case: _Case, got: Any) -> str:
    if case.error is not None:
        return ('put the task\'s exception (result.result), or its text, under "result": it '
                "tells the client what went wrong")  # fmt: skip
    if case.state == "PENDING":
        return 'a queued task is "PENDING" and has no result yet (None)'
    if got is None and not case.results[0]:
        return ("give the result as it is: 0 is a result too (`value or None` turns 0, \"\" and "
                "[] into None)")  # fmt: skip
    return 'put the task\'s return value under "result", as it is'


class _StillBlocked(Fail):
    """status_of never answered: the check frees its thread before it says so."""

    def __init__(self, thread: threading.Thread, what: str) -> None:
        super().__init__(
            f"for {what}, status_of did not return within {ANSWER_SECONDS:g} s",
            hint="it waited for something: " + _STATUS_WAIT_HINT,
        )
        self.thread = thread


def _forgotten(case: _Case) -> None:
    """A Fail if the finished task's result is gone from the backend (``forget()``)."""
    if app.backend.get_task_meta(case.task_id, cache=False)["status"] == states.PENDING:
        raise Fail(
            f"after status_of answered for {case.what}, its result was gone from the result "
            "backend (forget()): the next status request would say PENDING",
            hint="only read the result: it expires by itself (result_expires)",
        )


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
    done, zero, broken = add.delay(20, 22), add.delay(0, 0), add.delay(2, "x")
    for task in (done, zero, broken):
        finished(task, WAIT_SECONDS, "the check's own add task",
                 hint="is the worker running (the set-up cell)?")  # fmt: skip
    started = str(uuid.uuid4())  # a task a worker has started: stored as the worker stores it
    info = {"pid": 4242, "hostname": "celery@course-check"}
    app.backend.store_result(started, info, states.STARTED)
    parked = add.apply_async((1, 1), queue=PARKING_QUEUE)  # no worker reads this queue
    error = broken.result
    cases = {
        "done": _Case(done.id, "add(20, 22), finished", "SUCCESS", [42]),
        "parked": _Case(parked.id, "a task still waiting in a queue", "PENDING", [None]),
        "zero": _Case(zero.id, "add(0, 0), finished with 0", "SUCCESS", [0]),
        "broken": _Case(
            broken.id,
            f"add(2, 'x'), which failed ({error_text(error)})",
            "FAILURE",
            [],
            error=error,
        ),  # fmt: skip
        "started": _Case(started, "a task a worker has started", "STARTED", [info, None]),
    }
    watch = {parked.id, started}
    blocked: threading.Thread | None = None
    try:
        try:
            for key in ("done", "parked", "zero", "broken", "started"):
                _ask(status_of, cases[key], watch)
                if key in ("done", "zero", "broken"):
                    _forgotten(cases[key])
            # the queued task finishes (stored as a worker stores it); asked again, as a client
            # polls: the answer must follow the backend, not an earlier answer
            app.backend.store_result(parked.id, 2, states.SUCCESS)
            later = _Case(parked.id, "the queued task, asked again after it finished with 2",
                          "SUCCESS", [2], again=True)  # fmt: skip
            _ask(status_of, later, set())
            _ask(status_of, cases["done"], set())
            # the started task finishes too: an answer kept from when it was STARTED is stale
            app.backend.store_result(started, 5, states.SUCCESS)
            _ask(status_of, _Case(started, "the started task, asked again after it finished "
                                  "with 5", "SUCCESS", [5], again=True), set())  # fmt: skip
            # the finished task's result expires (result_expires; forget() does the same now):
            # the backend knows nothing of it any more, and neither may status_of
            app.AsyncResult(done.id).forget()
            _ask(status_of, _Case(done.id, "add(20, 22), asked again after its result "
                                  "expired from the backend", "PENDING", [None], again=True),
                 set())  # fmt: skip
        except _StillBlocked as stuck:
            blocked = stuck.thread
            raise Fail(stuck.problem, hint=stuck.hint) from None
    finally:
        _release(parked.id, blocked)
        app.AsyncResult(started).forget()
    return ("SUCCESS with 42 and with 0, FAILURE with its error, STARTED, PENDING for a queued "
            "task, SUCCESS once each of the last two finished, and PENDING once a result "
            "expired, each read without waiting, from a thread of its own")  # fmt: skip


# --------------------------------------------------------------------------- 01.4


def _welcome_once(
    welcome: Callable[..., Any],
    user: User,
    *,
    earlier: set[str] | None = None,
    producers: list[Any] | None = None,
    publish: bool = True,
) -> AsyncResult:
    """``welcome(user)``, judged while its mail is held back; the handle it returned.

    ``earlier``, ``producers`` and ``publish`` as for :func:`_signup_once`.
    """
    answer, seen, did = _run_sending(welcome, user)
    _current_app_used("welcome", did)
    if seen.ran_here and isinstance(answer, EagerResult) and not app.conf.task_always_eager:
        _as_sent(answer, "what welcome returned", hint="")
    _ran_here("welcome", seen, did, hint="send the task to the worker and return what that "
              "returns")  # fmt: skip
    if seen.waited:
        raise Fail(
            "welcome waited for the mail (it called get() on the task)",
            hint="return the handle itself, what .delay() gives back, without waiting: the "
            "caller decides whether to wait",
        )
    if did.polled or did.slept or did.asked or isinstance(answer, StillRunning):
        raise Fail("welcome waited before returning",
                   hint="send the task and return its handle at once")  # fmt: skip
    if isinstance(answer, BaseException):
        raise answer
    if answer is None:
        raise _returned_none(welcome, "welcome", "the AsyncResult")
    if isinstance(answer, Signature):
        sent = "" if did.sent else ", and sent nothing"
        raise Fail(
            f"welcome returned a signature ({answer!r:.60}){sent}: a signature only describes "
            "a call, it is not the handle of a sent task",
            hint="send the task (send_welcome_email.delay(...)) and return what that returns",
        )
    if isinstance(answer, dict):
        raise Fail(
            f"welcome returned a dict ({answer!r:.60}), not the handle",
            hint="send the task to the worker and return what that returns",
        )
    if isinstance(answer, str) and answer in {s.id for s in did.sent}:
        raise Fail(
            "welcome returned the task's id (a str), not the AsyncResult",
            hint="return the handle itself, what .delay() gives back",
        )
    _remembered("welcome", f"welcome({user!r})", answer, did, earlier or set())
    result = _as_sent(answer, "what welcome returned", hint="return what sending the task returns")
    sent = _mail_tasks("welcome", did, answer)
    _shared_producer("welcome", sent, producers)
    _refused("welcome", sent)
    if result.id != sent.id:
        raise Fail(
            "welcome returned the handle of another task, not of the mail it sent",
            hint="return what sending the task returns",
        )
    bound = _bound(send_welcome_email, sent.args, sent.kwargs) or {}
    to, greeted = bound.get("to"), bound.get("name")
    if to != user.email:
        raise Fail(
            f"for {user!r}, welcome addressed the mail to {to!r:.60}, not to {user.email!r}",
            hint="send it to the user's email address",
        )
    if greeted != user.name:
        raise Fail(
            f"for {user!r}, the welcome mail greets {greeted!r:.60}, not {user.name!r}",
            hint=_name_hint(greeted, user.name, user.email, "pass the user's name too"),
        )
    _other_queue("welcome", sent)
    _delayed("welcome", sent)
    _extra_options("welcome", sent, _plain_options())
    if publish:
        did.publish()
    return result


@exercise("01.4", "only json travels", points=1)
def _welcome(welcome: Any) -> str:
    _need_function(welcome, "welcome", "welcome(user)")
    producers: list[Any] = []
    handles = [_welcome_once(welcome, user, producers=producers) for user in USERS]
    for handle, user in zip(handles, USERS, strict=True):
        _delivered(handle, user.email)
    # the first user is welcomed again: a new mail (held back: not delivered)
    _welcome_once(welcome, USERS[0], earlier={h.id for h in handles}, producers=producers,
                  publish=False)  # fmt: skip
    _broker_down(welcome, "welcome", f"welcome({DOWN_USER!r})", DOWN_USER)
    return (
        "sent with json arguments for two users, and again for the first; the worker "
        f"delivered the mails to {' and '.join(u.email for u in USERS)}; with the broker "
        "down, the error reached the caller"
    )
