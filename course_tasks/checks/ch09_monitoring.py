"""Checks of chapter 09's exercises (``solutions/09_monitoring_solutions.ipynb``).

Every check runs the learner's code for real, in every mode:

* 09.1 ``check("09.1", worker_names)``: ``worker_names(app, timeout)`` returns the sorted
  names of the workers answering ``inspect().ping()``. It is called on an app that the
  course's worker and three dedicated workers (:mod:`course_tasks.workers`) serve, whose
  replies come back neither sorted nor reversed (:func:`crowd`), with ``timeout=1.5``; again
  on the same app with the same timeout once the dedicated workers stopped (a cached answer
  still lists them); twice more in a row, its pings answered as soon as the known workers
  replied (each call must ping: an answer kept "for timeout seconds" skips the second), then
  with ``timeout=0.75`` (an ``Inspect`` kept from an earlier call waits that call's timeout)
  (:func:`_again`); then on an app whose broker no worker listens to (:func:`nobody`), with
  ``timeout=0.25``. The command and timeout of each broadcast are read from
  ``app.control.broadcast`` (:class:`Ask`), not timed: it must be a ``ping`` that waits the
  whole timeout it was given (at least :data:`WHOLE` of it; not 1 s by default, not a
  constant), once;
* 09.2 ``check("09.2", make_handler)``: ``make_handler(task_id, counts)`` returns an
  ``EventReceiver`` handler that counts the events of that one task by type in ``counts``.
  Three handlers (three calls, three ids, three dicts) listen in one real receiver while a
  crawl that is retried twice (its ``task-received``, ``task-started`` and ``task-retried``
  come more than once), another crawl, a declined ``charge_card``, an accepted one and one
  that expired before it ran (``task-sent`` then ``task-revoked``) run, with a worker
  heartbeat (no ``uuid``) in the stream. What each event did to each dict is recorded, so
  the feedback names the first event that was counted wrong;
* 09.3 ``check("09.3", samples)``: ``samples(text, name)`` parses Prometheus text (written
  by ``prometheus_client`` itself) into ``[(labels, value), ...]`` for one metric name:
  exact names (``queue_length`` is not ``queue_length_max``; the counter family ``hits`` has
  no sample of that name), values of type float that are not whole (``0.125``,
  ``2.5e-06``), label values holding a comma, a space, an escaped quote, braces
  (``/orders/{id}``), ``=``, nothing, non-ASCII text or a trailing escaped backslash, a
  label named ``class`` (``eval`` breaks on it), metrics without labels, comment lines
  skipped, the text's order kept; a name with capitals and digits (``probe_HTTP_2xx``) whose
  label values hold ``#``, spaces around the text, an escaped newline and a backslash before
  a quote; ``NaN``, ``+Inf`` and ``-Inf`` values; a label value may come back as written or
  with all its escapes unescaped;
* 09.4 ``check("09.4", health)``: ``health(app, timeout)`` answers guide 004 §5's health
  check: healthy with ``"ok (N workers)"`` on the course's broker (its worker and the check's
  three, then, on the same app with the same ``timeout=1.5``, its worker alone: a cached
  answer is stale), twice more in a row and with ``timeout=0.75`` as in 09.1, every broker
  connection it made released when it returns; unhealthy
  with ``"no active workers"`` for an app nobody serves (``timeout=0.25``, the pings read as
  in 09.1), and unhealthy with ``"error: ..."`` for the broker of an app whose broker is
  down (:func:`dead_broker`: Redis on a closed port). That call runs meanwhile, in a thread
  of its own; how the learner's connections connect there is recorded
  (:func:`_watch_connects`): ``ensure_connection`` or ``connect`` with ``max_retries`` at
  most 1, not ``default_channel``, whose retries follow the transport's options. A call
  still running after :data:`DEAD_SECONDS` never answers. Whether the code tried to
  connect before its ping raised tells a lazy connection from a ping sent through a broker
  known to be down. The broker's text must hold what connecting raised, and no ping may be
  sent once the broker check failed. Last, one app whose write broker goes down between two
  calls while its ``broker_read_url`` stays up (:func:`_broker_dies`): a cached "ok", a
  connection left unreleased or a check on ``connection_for_read()`` shows there.

A right answer must pass in redis mode too, where the course's worker and the check's are
processes; other notebooks' workers on the same Redis answer the pings as well (grade chapter
09 with ``--jobs 1``).
"""

from __future__ import annotations

import datetime
import inspect
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from kombu.transport import memory as memory_transport
from kombu.transport import redis as redis_transport
from kombu.utils.imports import symbol_by_name
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from course_tasks import eventwatch, workers
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_bounded,
    delete_queue,
    error_text,
    is_stub_body,
    kind,
    need_function,
    short,
)
from course_tasks.embedded import transport as embedded_transport
from course_tasks.errors import CourseError
from course_tasks.store import store
from course_tasks.tasks import crawler
from course_tasks.tasks.payments import charge_card

#: The timeout for the app that the course's worker and two dedicated ones serve.
CROWD_TIMEOUT = 1.5
#: The timeout for an app nobody serves. No constant fits all of them: a ping must wait
#: between half its timeout and the whole of it.
SHORT_TIMEOUT = 0.25
#: The timeout for an app whose broker is down (its ping, if any, is not judged).
DEAD_TIMEOUT = 0.4
#: How much longer than its timeout a call may take before it counts as never answering.
SLACK_SECONDS = 10.0
#: The bound on ``health`` for a dead broker: ``ensure_connection(max_retries=1)`` gives up
#: after one retry 2 s later; ``ensure_connection()`` retries for ever.
DEAD_SECONDS = 20.0
WAIT_SECONDS = 5.0
#: How long a started dedicated worker may take to answer its first ping (a busy machine).
READY_SECONDS = 30.0
THREAD_NAME = "course-check-09"
#: 09.2's expired task: its ``expires`` is long past when the worker gets it.
EXPIRED = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
#: The dedicated workers of :func:`crowd`, and the queue they read (nothing is sent there).
CROWD_WORKERS = ("check09a", "check09b", "check09c")
IDLE_QUEUE = "ch09-check-idle"
#: 09.1's ping must wait the whole timeout it was given: at least this share of it.
WHOLE = 0.99
#: Floats added up from timeouts: a wait counts as within its timeout up to this much more.
EPSILON = 1e-6


# --------------------------------------------------------------------------- the apps


@dataclass
class Ask:
    """One ``app.control.broadcast`` that waited for replies (a ping, an inspect)."""

    command: str
    timeout: float
    limit: int | None
    plain: bool  # no destination, pattern or matcher: every worker may answer
    names: list[str] = field(default_factory=list)  # who answered, in the order given back
    raised: BaseException | None = None
    started: float = field(default_factory=time.monotonic)


def _recording(
    answering: Celery, asks: list[Ask], *, shuffle: bool = False, prompt: list[int] | None = None
) -> Celery:
    """Record in ``asks`` every broadcast of ``answering`` that waits for replies.

    While ``prompt`` holds a number N, a broadcast without a ``limit`` of its own stops
    collecting once N replies came (the workers the check knows), as a fast network would:
    the call returns well within its timeout, so a second call right after it comes while an
    answer kept "for timeout seconds" is still kept (the timeout recorded is the learner's).

    With ``shuffle``, the replies are handed back in the order of the workers' names turned
    by one (``b, c, a``), as a network may deliver them: with three workers or more, names
    kept in reply order are neither sorted nor sorted backwards.
    """
    control = answering.control
    real = control.broadcast
    signature = inspect.signature(real)

    def broadcast(*args: Any, **kwargs: Any) -> Any:
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        given = call.arguments
        if not given.get("reply"):
            return real(*args, **kwargs)
        extra = given.get("extra_kwargs") or {}
        plain = given.get("destination") is None and not (
            given.get("pattern") or given.get("matcher") or extra.get("pattern")
        )
        ask = Ask(str(given.get("command")), given.get("timeout"), given.get("limit"), plain)
        asks.append(ask)
        try:
            if prompt and given.get("limit") is None:
                call.arguments["limit"] = prompt[0]
                replies = real(*call.args, **call.kwargs)
            else:
                replies = real(*args, **kwargs)
        except BaseException as exc:
            ask.raised = exc
            raise
        if isinstance(replies, list):
            if shuffle:
                replies = sorted(replies, key=_reply_name)
                replies = replies[1:] + replies[:1]
            ask.names = [name for reply in replies if isinstance(reply, dict) for name in reply]
        return replies

    control.broadcast = broadcast  # type: ignore[method-assign]
    return answering


def _reply_name(reply: Any) -> str:
    return str(next(iter(reply), "")) if isinstance(reply, dict) else ""


def nobody(asks: list[Ask] | None = None) -> Celery:
    """An app whose broker (kombu's own ``memory://``, in this process) no worker reads.

    With ``asks``, every broadcast that waits for replies is recorded there (:class:`Ask`):
    whether the learner passed the timeout on is read, not timed.
    """
    answered_by_none = Celery("course-check-nobody", broker="memory://", set_as_current=False)
    if asks is not None:
        _recording(answered_by_none, asks)
    return answered_by_none


class _PatientTransport(embedded_transport.Transport):
    """The embedded transport, with a ``drain_events(timeout)`` that waits out the timeout.

    The course's embedded transport returns from ``drain_events`` at the first wake-up, and
    any message put anywhere in the process (a task event, a heartbeat) wakes it; kombu's
    ``Mailbox._collect`` then takes the empty wake-up for its timeout and stops collecting
    replies. A ping with ``timeout=1.5`` could end after 50 ms with only some of the workers'
    replies: here it waits its timeout, as on Redis.
    """

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        if timeout is None:
            return super().drain_events(connection, timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return super().drain_events(connection, max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise


def course_view(asks: list[Ask] | None = None, prompt: list[int] | None = None) -> Celery:
    """A second app on the course's broker (so the course's workers answer its pings). With
    ``asks``, its broadcasts are recorded there and its replies come back in an order that is
    neither sorted nor reversed. On the embedded broker its pings wait their whole timeout
    (:class:`_PatientTransport`).

    The learner's code gets this app, never the course's own: nothing else in the kernel
    (Flower, the health server) pings through it. Close it when done.
    """
    view = Celery(app.main, set_as_current=False)
    keep = ("accept_content", "task_serializer", "result_serializer", "event_serializer")
    view.conf.update(
        {
            key: value
            for key, value in app.conf.items()
            if value is not None and (key.startswith(("broker_", "control_")) or key in keep)
        }
    )
    transport = view.conf.broker_transport
    if transport and symbol_by_name(transport) is embedded_transport.Transport:
        view.conf.broker_transport = _PatientTransport
    return view if asks is None else _recording(view, asks, shuffle=True, prompt=prompt)


@contextmanager
def crowd() -> Iterator[list[str]]:
    """Two more workers (dedicated ones, reading a queue nobody sends to) while the block
    runs, besides the course's; yields their node names once they answer a ping."""
    specs = [workers.Spec(name, (IDLE_QUEUE,), 1) for name in CROWD_WORKERS]
    try:
        started = workers.start(*specs)
    except CourseError as exc:
        raise Fail(
            f"the check could not start its own workers: {exc.problem}",
            hint=exc.fix or "run the set-up cell at the top again",
        ) from None
    try:
        nodes = [worker.node for worker in started]
        view = course_view()
        try:
            deadline = time.monotonic() + READY_SECONDS
            while not set(nodes) <= set(_flat(view.control.ping(nodes, timeout=0.5))):
                if time.monotonic() > deadline:
                    raise Fail(
                        f"the check's own workers did not answer within {READY_SECONDS:g} s",
                        hint="run the check again; if it keeps failing, restart the kernel",
                    )
        finally:
            view.close()
        yield nodes
    finally:
        workers.stop(*CROWD_WORKERS)
        delete_queue(IDLE_QUEUE)


def _flat(replies: Any) -> list[str]:
    return [name for reply in replies or [] for name in reply]


class _DeadRedis(redis_transport.Transport):
    """kombu's Redis transport that notes when each connection attempt began; once
    :attr:`closed`, connecting raises an error that no retry loop catches, so a learner's
    ``ensure_connection()`` that retries for ever ends."""

    closed: threading.Event
    attempts: list[float]

    def establish_connection(self) -> Any:
        self.attempts.append(time.monotonic())
        if self.closed.is_set():
            raise RuntimeError("the check is over: this broker is gone")
        return super().establish_connection()


@dataclass
class DeadBroker:
    """:func:`dead_broker`'s app, the event that ends it, and when connecting was tried."""

    app: Celery
    closed: threading.Event
    attempts: list[float]
    #: (how, max_retries) of each connecting by a connection the learner made:
    #: how is "ensure_connection", "connect" or "other" (default_channel, channel()...)
    #: and the timeout it was given
    connects: list[tuple[str, Any, Any]] = field(default_factory=list)
    #: what connecting raised, each time it failed
    errors: list[BaseException] = field(default_factory=list)

    def bad_connect(self) -> tuple[str, Any, Any] | None:
        """The first connecting not bounded by a max_retries of at most 1, if any."""
        for how, retries, limit in list(self.connects):
            if how == "other" or retries is None or (_number(retries) and retries > 1):
                return how, retries, limit
        return None

    def connected_before(self, asks: list[Ask]) -> bool:
        """Whether connecting was tried before the first of ``asks`` (a ping) began."""
        return bool(asks) and any(t < asks[0].started for t in self.attempts)


def dead_broker(asks: list[Ask]) -> DeadBroker:
    """An app whose broker is down: Redis on 127.0.0.1:1, where nothing listens (connecting is
    refused at once). Its own pings give up at the first failure. Set ``closed`` when done:
    connecting then raises an error nobody retries."""
    closed, attempts = threading.Event(), []
    transport = type("DeadRedisTransport", (_DeadRedis,), {"closed": closed, "attempts": attempts})
    down = Celery("course-check-dead-broker", set_as_current=False)
    down.conf.update(
        broker_url="redis://127.0.0.1:1/0",
        broker_transport=transport,
        broker_connection_timeout=1.0,
        broker_connection_retry_on_startup=False,
        broker_transport_options={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
            "socket_connect_timeout": 1,
            "socket_timeout": 1,
        },
    )
    dead = DeadBroker(_recording(down, asks), closed, attempts)
    real = down._connection

    def connection(*args: Any, **kwargs: Any) -> Any:
        conn = real(*args, **kwargs)
        _watch_connects(conn, dead.connects, dead.errors)
        return conn

    down._connection = connection  # type: ignore[method-assign]
    return dead


def _watch_connects(
    conn: Any, connects: list[tuple[str, Any, Any]], errors: list[BaseException]
) -> None:
    """Note in ``connects`` each time ``conn`` connects: through ``ensure_connection``,
    ``connect`` or another way (``default_channel``...), and with which ``max_retries``; in
    ``errors`` what it raised when it failed."""
    ensure = conn._ensure_connection
    signature = inspect.signature(ensure)
    via = threading.local()

    def _ensure_connection(*args: Any, **kwargs: Any) -> Any:
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        how = getattr(via, "how", None) or "other"
        connects.append((how, call.arguments["max_retries"], call.arguments.get("timeout")))
        try:
            return ensure(*args, **kwargs)
        except BaseException as exc:
            errors.append(exc)
            raise

    def public(how: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def through(*args: Any, **kwargs: Any) -> Any:
            via.how = how
            try:
                return method(*args, **kwargs)
            finally:
                via.how = None

        return through

    conn._ensure_connection = _ensure_connection
    conn.ensure_connection = public("ensure_connection", conn.ensure_connection)
    conn.connect = public("connect", conn.connect)


def course_workers(timeout: float = 1.0) -> list[str]:
    """The names of the workers answering on the course's broker now."""
    view = course_view()
    try:
        return sorted(view.control.inspect(timeout=timeout).ping() or {})
    finally:
        view.close()


def _truth(asks: list[Ask], timeout: float) -> list[str]:
    """The workers that answered within ``timeout``: the names that the learner's own pings
    saw, when one of them was a plain ping with a fair wait (every worker could answer it);
    otherwise the check pings the course app itself."""
    fair = [
        a
        for a in asks
        if a.plain
        and a.limit is None
        and a.raised is None
        and _number(a.timeout)
        and a.timeout >= timeout / 2
    ]
    if fair:
        return sorted({name for ask in fair for name in ask.names})
    return course_workers(timeout)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bounded(fn: Callable[..., Any], *args: Any, what: str, seconds: float) -> Any:
    answer = call_bounded(fn, *args, seconds=seconds, thread_name=THREAD_NAME)
    if isinstance(answer, StillRunning):
        raise Fail(
            f"{what} did not return within {seconds:g} s",
            hint="pass the timeout on: app.control.inspect(timeout=timeout)",
        )
    return answer


def _on(
    fn: Callable[..., Any],
    answering: Celery,
    timeout: float,
    name: str,
    case: str,
    *,
    replies: bool = True,
) -> Any:
    """``fn(answering, timeout)``, bounded. Without ``replies`` (nobody answers), a Fail if it
    chokes on the None that a ping returns then."""
    what = f"{name}(app, {timeout:g})"
    try:
        return _bounded(fn, answering, timeout, what=what, seconds=timeout + SLACK_SECONDS)
    except (TypeError, AttributeError) as exc:
        if replies:
            raise
        raise Fail(
            f"for {case}, {name} raised {error_text(exc)}",
            hint="inspect().ping() returns None, not {}, when nobody answers: "
            "use (... .ping() or {})",
        ) from None


def _judge_waits(
    asks: list[Ask],
    timeout: float,
    name: str,
    slow_hint: str,
    *,
    least: float = 0.5,
    began: float | None = None,
) -> None:
    """A Fail unless the pings waited, in all, at most ``timeout``, and at least ``least`` of
    it (09.1 asks for the whole timeout: :data:`WHOLE`; 09.4's ping may get what is left of
    it after the broker check)."""
    waits = [a.timeout for a in asks]
    if not waits:
        return
    limit = _limit_hint(asks)
    if limit is not None:
        raise Fail(
            f"with timeout={timeout:g}, {name} pinged with limit=: it stops waiting once that "
            "many workers answered, before the timeout, and misses any other",
            hint=limit,
        )
    if not all(_number(w) for w in waits):
        odd = next(w for w in waits if not _number(w))
        raise Fail(
            f"with timeout={timeout:g}, {name} pinged with timeout={odd!r}",
            hint="pass the timeout on as it is: app.control.inspect(timeout=timeout)",
        )
    total = sum(waits)
    if len(waits) > 1 and total > timeout + EPSILON:
        raise Fail(
            f"with timeout={timeout:g}, {name} pinged {len(waits)} times, waiting "
            f"{total:g} s in all for replies",
            hint="ping once: a worker that did not answer within the timeout is not found by "
            "asking again, and each ping waits its whole timeout",
        )
    longest = max(waits)
    if longest > timeout + EPSILON:
        raise Fail(
            f"with timeout={timeout:g}, {name} waited {longest:g} s for replies", hint=slow_hint
        )
    floor = timeout * least
    if began is not None:  # 09.4: the ping may get what is left after the broker check
        floor = min(floor, timeout - (asks[0].started - began))
    if longest < floor - EPSILON:
        ms = math.isclose(longest * 1000, timeout)
        raise Fail(
            f"with timeout={timeout:g}, {name} waited only {longest:g} s for replies: "
            "a worker that answers later is missed",
            hint="timeout is in seconds already: pass it on as it is, without dividing by 1000"
            if ms
            else "inspect() waits 1 s by default: pass the timeout on, "
            "app.control.inspect(timeout=timeout)"
            if longest == 1
            else "pass the timeout it was given on, as it is: app.control.inspect(timeout=timeout)",
        )


def _limit_hint(asks: list[Ask]) -> str | None:
    limits = [a.limit for a in asks if a.limit is not None]
    if not limits:
        return None
    return (
        f"limit={limits[0]} stops waiting after {limits[0]} repl"
        f"{'y' if limits[0] == 1 else 'ies'}: leave limit out, so that every worker that "
        "answers within the timeout is counted"
    )


# --------------------------------------------------------------------------- 09.1


@exercise("09.1", "worker names from ping", points=1)
def _(worker_names: Any) -> str:
    fn = need_function(
        worker_names, "worker_names", "worker_names(app, timeout)", purpose="pings the workers"
    )
    if is_stub_body(fn):
        raise NotYet("write the body of worker_names")
    asks: list[Ask] = []
    prompt: list[int] = []
    served = course_view(asks, prompt)
    try:
        with crowd() as nodes:
            answer = _on(fn, served, CROWD_TIMEOUT, "worker_names", "an app four workers serve")
            expected = _truth(asks, CROWD_TIMEOUT)
        _judge_names(answer, expected, asks, least=len(CROWD_WORKERS) + 1)
        # the same app and timeout once the check's workers stopped: a fresh answer
        asks.clear()
        case = "the same app after the check's workers stopped"
        later = _on(fn, served, CROWD_TIMEOUT, "worker_names", case)
        still = _truth(asks, CROWD_TIMEOUT)
        _names_list(later)
        stale = [name for name in later if name in nodes and name not in still]
        if stale or (not asks and sorted(later) != still):
            raise Fail(
                f"called again on the same app with timeout={CROWD_TIMEOUT:g} after the check's "
                f"workers stopped, worker_names returned {later}"
                + (f": {stale} no longer run" if stale else ", without pinging"),
                hint="ping on every call, don't cache the answer: a worker that stopped must "
                "not be listed",
            )
        _judge_names(later, still, asks, least=1)
        _again(fn, served, asks, prompt, len(still), "worker_names")
    finally:
        served.close()
    asks.clear()
    empty = _on(
        fn,
        nobody(asks),
        SHORT_TIMEOUT,
        "worker_names",
        "an app that no worker serves",
        replies=False,
    )
    if empty is None:
        raise Fail(
            "for an app that no worker serves, worker_names returned None",
            hint="return an empty list when nobody answers: (... .ping() or {})",
        )
    if empty:
        raise Fail(
            f"for an app that no worker serves, worker_names returned {empty}",
            hint="ask the app you are given (app.control...), not the course's app",
        )
    _judge_waits(
        asks,
        SHORT_TIMEOUT,
        "worker_names",
        "pass the timeout on: app.control.inspect(timeout=timeout); inspect() waits 1 s by default",
        least=WHOLE,
    )
    _pinged(asks, "worker_names")
    return (
        f"sorted names of the course's worker(s) and three more (timeout {CROWD_TIMEOUT:g} s), "
        f"then of the course's alone once those stopped, a ping on each of two calls in a row, "
        f"timeout {OTHER_TIMEOUT:g} s passed on, [] within {SHORT_TIMEOUT:g} s for an app "
        "nobody serves"
    )


#: 09.1 and 09.4 call the same app once more with this timeout: the ping must wait it, not
#: an earlier call's.
OTHER_TIMEOUT = 0.75


def _again(
    fn: Callable[..., Any],
    served: Celery,
    asks: list[Ask],
    prompt: list[int],
    known: int,
    name: str,
) -> None:
    """Call ``fn`` on ``served`` twice in a row with :data:`CROWD_TIMEOUT`, its pings answered
    as soon as ``known`` workers replied (:func:`_recording`'s ``prompt``): each call must
    ping (an answer kept for a while skips it); then once with :data:`OTHER_TIMEOUT`, whose
    ping must wait that timeout (an ``Inspect`` kept from an earlier call waits that one's)."""
    prompt[:] = [max(known, 1)]
    try:
        pinged = []
        for _turn in ("first", "second"):
            asks.clear()
            _on(fn, served, CROWD_TIMEOUT, name, "the same app called twice in a row")
            pinged.append(bool(asks))
            if pinged == [True, False]:  # (an answer asking another app is judged later)
                raise Fail(
                    f"called twice in a row on the same app with timeout={CROWD_TIMEOUT:g} "
                    f"(the workers answered at once), {name} did not ping on the second call: "
                    "it gave back a kept answer",
                    hint="ping on every call, don't keep the answer, not even for timeout "
                    "seconds: a worker that stopped meanwhile would still be listed",
                )
        asks.clear()
        began = time.monotonic()
        _on(fn, served, OTHER_TIMEOUT, name, f"the same app with timeout={OTHER_TIMEOUT:g}")
    finally:
        prompt.clear()
    waits = [ask.timeout for ask in asks]
    if waits and all(w == CROWD_TIMEOUT for w in waits):
        raise Fail(
            f"called on the same app with timeout={OTHER_TIMEOUT:g} after timeout="
            f"{CROWD_TIMEOUT:g}, {name} pinged with timeout={CROWD_TIMEOUT:g}, an earlier "
            "call's",
            hint="make the inspect on every call, app.control.inspect(timeout=timeout): one "
            "kept from an earlier call keeps that call's timeout",
        )
    _judge_waits(
        asks,
        OTHER_TIMEOUT,
        name,
        SLOW_HEALTH
        if name == "health"
        else "pass the timeout on: app.control.inspect(timeout=timeout); inspect() waits 1 s "
        "by default",
        least=WHOLE,
        began=began if name == "health" else None,
    )
    _pinged(asks, name)


def _judge_names(answer: Any, expected: list[str], asks: list[Ask], *, least: int) -> None:
    """A Fail unless ``answer`` is ``expected`` (``least`` workers at least), found by a ping
    that waited its timeout."""
    if len(expected) < least:
        raise Fail(
            f"only {expected or 'no worker'} answered the check's ping"
            + (", with the check's own three workers running" if least > 1 else ""),
            hint="the check needs the course's worker: run the set-up cell at the top again",
        )
    _names_list(answer)
    _judge_waits(
        asks,
        CROWD_TIMEOUT,
        "worker_names",
        "pass the timeout on: app.control.inspect(timeout=timeout)",
        least=WHOLE,
    )
    _pinged(asks, "worker_names")
    if sorted(answer) == expected and answer != expected:
        if answer == expected[::-1]:
            hint = "sorted(names) is already ascending: leave reverse=True out"
        elif any(answer == ask.names for ask in asks):
            hint = "the replies come in any order: return sorted(names), not the reply order"
        else:
            hint = "return sorted(names), in ascending order"
        raise Fail(f"the names are not sorted: you returned {answer}", hint=hint)
    if answer != expected:
        raise Fail(
            f"for an app {len(expected)} workers serve you returned {answer}, the workers "
            f"answering are {expected}",
            hint=_limit_hint(asks)
            or "ping with app.control.inspect(timeout=timeout).ping() and keep its keys",
        )


def _pinged(asks: list[Ask], name: str) -> None:
    """A Fail if the workers were asked something (stats, active...) but never pinged."""
    if asks and all(ask.command != "ping" for ask in asks):
        raise Fail(
            f"{name} asked the workers for {asks[0].command}, not for a ping",
            hint="ping them, as the exercise asks: app.control.inspect(timeout=timeout).ping() "
            "(the smallest reply, from every worker that answers)",
        )


def _names_list(answer: Any) -> None:
    if isinstance(answer, dict):
        raise Fail(
            "worker_names returned the reply dict itself",
            hint="return the names only: the keys of the reply, sorted(reply)",
        )
    if not isinstance(answer, list):
        raise Fail(
            f"worker_names returned {kind(answer)}, not a list",
            hint="return a list of names, e.g. sorted(reply)",
        )
    if answer and any(not isinstance(item, str) for item in answer):
        odd = next(item for item in answer if not isinstance(item, str))
        raise Fail(
            f"worker_names returned a list holding {kind(odd)}",
            hint="each reply is {name: {'ok': 'pong'}}: keep the names (the keys)",
        )


# --------------------------------------------------------------------------- 09.2


@dataclass
class Watched:
    """One handler the check made, the task it counts, and what each event did to it."""

    what: str  # "the crawl retried twice", for the feedback
    task_id: str
    counts: dict[str, Any]
    handler: Callable[[dict[str, Any]], Any]
    #: (event, counts before, counts after, whether the other handlers' counts changed)
    log: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], bool]] = field(
        default_factory=list
    )
    raised: list[tuple[dict[str, Any], BaseException]] = field(default_factory=list)


def _capture(watched: list[Watched]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Run every handler in one real receiver while five tasks run: a crawl retried twice
    (``watched[0]``'s task), another crawl, a declined charge (``watched[1]``'s task), an
    accepted one and one that expired before it ran (``watched[2]``'s: task-sent, then
    task-revoked); a worker heartbeat (no uuid) comes too. Return (every event seen, the name
    of each task by id)."""
    seen: list[dict[str, Any]] = []
    snapshot = threading.Lock()

    def on_event(event: dict[str, Any]) -> None:
        seen.append(event)
        with snapshot:
            for w in watched:
                before = [dict(other.counts) for other in watched]
                try:
                    w.handler(event)
                except Exception as exc:  # reported by the check, never into the receiver
                    w.raised.append((event, exc))
                after = [dict(other.counts) for other in watched]
                others = any(
                    b != a for o, b, a in zip(watched, before, after, strict=True) if o is not w
                )
                mine = watched.index(w)
                w.log.append((event, before[mine], after[mine], others))

    flaky, steady = (f"https://shop.example/ch09-check/{uuid.uuid4().hex}" for _ in range(2))
    for url in (flaky, steady):
        crawler.publish_page(url, "a page the check crawls")
    crawler.make_flaky(flaky, 2)
    sent_event = app.conf.task_send_sent_event
    app.conf.task_send_sent_event = True
    listener = eventwatch.EventThread(app, on_event, THREAD_NAME)
    names: dict[str, str] = {}
    try:
        app.control.enable_events()
        listener.start()
        listener.ready.wait(WAIT_SECONDS)
        app.control.heartbeat()  # a worker-heartbeat: an event without a uuid
        results = [
            crawler.crawl_website.apply_async((flaky,), task_id=watched[0].task_id),
            crawler.crawl_website.apply_async((steady,)),
            charge_card.apply_async((902, 0), task_id=watched[1].task_id),
            charge_card.apply_async((901, 5.0)),
            # expired when the worker gets it: task-sent, then task-revoked
            charge_card.apply_async((903, 1.0), task_id=watched[2].task_id, expires=EXPIRED),
        ]
        names = {
            result.id: task.name
            for result, task in zip(
                results,
                (
                    crawler.crawl_website,
                    crawler.crawl_website,
                    charge_card,
                    charge_card,
                    charge_card,
                ),
                strict=True,
            )
        }
        for result in results:
            result.get(timeout=WAIT_SECONDS * 2, propagate=False)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and not (
            set(names)
            <= {e.get("uuid") for e in list(seen) if e["type"] in eventwatch.FINAL_EVENTS}
            and any("uuid" not in e for e in list(seen))
        ):
            time.sleep(0.02)
    finally:
        listener.stop()
        app.conf.task_send_sent_event = sent_event
        db = store()
        for url in (flaky, steady):
            db.hdel(crawler.PAGES_KEY, url)
            db.hdel(crawler.FAILURES_KEY, url)
            db.delete(crawler.HITS_KEY + url)
    with snapshot:
        return list(seen), names


def _tally(seen: list[dict[str, Any]], task_id: str) -> dict[str, int]:
    counted: dict[str, int] = {}
    for event in seen:
        if event.get("uuid") == task_id:
            counted[event["type"]] = counted.get(event["type"], 0) + 1
    return counted


@exercise("09.2", "count one task's events", points=2)
def _(make_handler: Any) -> str:
    fn = need_function(
        make_handler,
        "make_handler",
        "make_handler(task_id, counts)",
        purpose="returns an event handler",
    )
    if is_stub_body(fn):
        raise NotYet("write the body of make_handler")
    watched = []
    for what in ("the crawl retried twice", "the declined charge", "the expired charge"):
        task_id, counts = str(uuid.uuid4()), {}
        handler = fn(task_id, counts)
        if not callable(handler):
            raise Fail(
                f"make_handler returned {kind(handler)}, not a function",
                hint="define def handler(event): ... inside make_handler, and return handler",
            )
        watched.append(Watched(what, task_id, counts, handler))
    seen, names = _capture(watched)
    expected = {w.task_id: _tally(seen, w.task_id) for w in watched}
    came = list(expected.values())
    if any("task-received" not in e or "task-started" not in e for e in came[:2]) or (
        "task-revoked" not in came[2]
    ):
        raise Fail(
            "no task event came from the worker",
            hint="run the set-up cell: it sets worker_send_task_events before the worker starts",
        )
    for w in watched:
        if w.raised:
            _raised(w)
    if not any(w.counts for w in watched):
        raise Fail(
            "counts is still empty after the tasks ran: no event of the tasks got counted "
            "into the dicts the check gave",
            hint="add to the dict you were given, counts[kind] = counts.get(kind, 0) + 1, "
            "every event whose event.get('uuid') is task_id, whatever else it holds (its "
            "hostname is the worker's node name, whatever that is)",
        )
    for w in watched:
        if dict(w.counts) != expected[w.task_id]:
            _miscounted(watched, expected, names)
    _probe(watched[0], seen)
    retried, declined, expired = (expected[w.task_id] for w in watched)
    return (
        f"three handlers, each counting its own task in its own dict: task-retried "
        f"{retried.get('task-retried')} and task-received {retried.get('task-received')} for "
        f"the crawl retried twice, task-failed {declined.get('task-failed')} for the declined "
        f"charge, task-revoked {expired.get('task-revoked')} for the expired one; other tasks' "
        "and the workers' events left out"
    )


def _probe(w: Watched, seen: list[dict[str, Any]]) -> None:
    """Hand ``w``'s handler five more events, as other senders could send them: a child task's
    (its ``root_id`` and ``parent_id`` are ``w``'s task), one of a task whose id shares the
    first 8 characters, a ``task-sent`` of its task that comes late (after its final event:
    the producer's events and the worker's travel apart), a ``task-rejected`` of its task,
    and a copy of its ``task-started`` from another worker whose Lamport clock has the same
    value."""
    tid = w.task_id
    started = next(e for e in seen if e.get("uuid") == tid and e["type"] == "task-started")
    final = [
        e["type"] for e in seen if e.get("uuid") == tid and e["type"] in eventwatch.FINAL_EVENTS
    ]
    last = final[-1] if final else "last event"
    clocks = [e.get("clock") for e in seen if _number(e.get("clock"))]
    base = {"hostname": "check09-other@course", "timestamp": time.time(), "pid": 1}
    child = {
        **base,
        "type": "task-received",
        "uuid": str(uuid.uuid4()),
        "root_id": tid,
        "parent_id": tid,
        "name": started.get("name"),
        "clock": started.get("clock"),
    }
    twin = str(uuid.uuid4())
    twin = tid[:8] + (twin[8:] if twin[8:] != tid[8:] else "-0000" + twin[13:])
    late = {
        **base,
        "type": "task-sent",
        "uuid": tid,
        "hostname": "check09-producer@course",
        "name": started.get("name"),
        "clock": max(clocks, default=0) + 1000,
    }
    probes = [
        (
            {**child},
            None,
            "a task-received of a child task (its root_id and parent_id are the task's id) "
            "was counted",
            "count only the events whose event.get('uuid') is task_id: a child task's events "
            "carry the id in root_id and parent_id, and are not the task's",
        ),
        (
            {**base, "type": "task-received", "uuid": twin, "clock": started.get("clock")},
            None,
            f"a task-received of another task, {twin}, whose id starts with the same 8 "
            "characters, was counted",
            "compare the whole id, event.get('uuid') == task_id: two ids may share their "
            "first characters",
        ),
        (
            late,
            "task-sent",
            f"a task-sent of the task that came after its {last} was not counted",
            "count every event of the task as long as events come, don't stop at its "
            f"{last}: the producer's events and the workers' travel apart, so one may come "
            "after the task's end",
        ),
        (
            {
                **base,
                "type": "task-rejected",
                "uuid": tid,
                "requeue": False,
                "clock": started.get("clock"),
            },
            "task-rejected",
            "a task-rejected of the task was not counted",
            "count every type of event the task sends, whatever it is: a list of the types "
            "you expect misses task-rejected and any other",
        ),
        (
            {**dict(started), "hostname": "check09-other@course"},
            "task-started",
            "a task-started from another worker with the same clock value as an earlier one "
            "was not counted",
            "count every event: each sender keeps its own Lamport clock, so two real events "
            "may share type and clock; don't drop one as a duplicate",
        ),
    ]
    for event, adds, problem, hint in probes:
        before = dict(w.counts)
        try:
            w.handler(event)
        except Exception as exc:
            raise Fail(
                f"your handler raised {error_text(exc)} on a {event['type']} event",
                hint="the handler gets every event: read event.get('uuid') and count "
                "event['type'] in counts",
            ) from None
        after = dict(w.counts)
        want = dict(before)
        if adds is not None:
            want[adds] = want.get(adds, 0) + 1
        if after != want:
            went = (
                f"counts stayed {after}"
                if after == before
                else f"counts went from {before} to {after}"
            )
            raise Fail(f"for {w.what}, {problem}: {went}", hint=hint)


def _raised(w: Watched) -> None:
    event, exc = w.raised[0]
    kind_ = event.get("type")
    if isinstance(exc, KeyError) and "uuid" not in event:
        raise Fail(
            f"your handler raised {error_text(exc)} on a worker event (a {kind_} has no uuid)",
            hint="the handler gets every event, the workers' too: read event.get('uuid')",
        )
    if isinstance(exc, KeyError) and exc.args and exc.args[0] == kind_:
        raise Fail(
            f"your handler raised {error_text(exc)} on the first {kind_} of its task: "
            "counts[kind] += 1 needs the key to be there already",
            hint="counts starts as an empty dict (not a defaultdict): "
            "counts[kind] = counts.get(kind, 0) + 1",
        )
    raise Fail(
        f"your handler raised {error_text(exc)} on a {kind_} event",
        hint="the handler gets every event, the workers' too: read event.get('uuid') and "
        "count event['type'] in counts",
    )


def _miscounted(
    watched: list[Watched], expected: dict[str, dict[str, int]], names: dict[str, str]
) -> None:
    """The Fail naming what the first handler with wrong counts did wrong, worst first."""
    for w in watched:  # a handler writing another's dict leaves its own log clean
        for event, before, after, others in w.log:
            problem = _event_problem(w, event, before, after, others, names)
            if problem is not None and problem[0] == "others":
                got, want = dict(w.counts), expected[w.task_id]
                raise Fail(f"for {w.what}, counts are {got}, expected {want}: {problem[1]}",
                           hint=problem[2])  # fmt: skip
    w = next(w for w in watched if dict(w.counts) != expected[w.task_id])
    got, want = dict(w.counts), expected[w.task_id]
    found: dict[str, tuple[str, str]] = {}
    for event, before, after, others in w.log:
        problem = _event_problem(w, event, before, after, others, names)
        if problem is not None and problem[0] not in found:
            found[problem[0]] = problem[1:]
    # a handler that sets 1 still counts every type once; one that stopped counting misses some
    repeated = "again" if set(got) == set(want) else "missed"
    for key in ("others", "foreign", "key", "more", repeated, "again", "missed"):
        if key in found:
            detail, hint = found[key]
            raise Fail(f"for {w.what}, counts are {got}, expected {want}: {detail}", hint=hint)
    raise Fail(
        f"for {w.what}, counts are {got}, expected {want}",
        hint="count every event of the task by event['type'], from task-sent to its last one",
    )


def _event_problem(
    w: Watched,
    event: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    others: bool,
    names: dict[str, str],
) -> tuple[str, str, str] | None:
    """(kind of mistake, what happened, hint) for what one event did to ``w``'s counts."""
    type_ = event.get("type", "?")
    keys = set(before) | set(after)
    delta = {
        k: _minus(after.get(k, 0), before.get(k, 0)) for k in keys if after.get(k) != before.get(k)
    }
    if others:
        return (
            "others",
            f"handling a {type_} event, the handler of {w.what} changed the "
            "other handler's counts too",
            "count into the counts of this make_handler call only: each call has its own "
            "task_id and its own dict, and no tally is shared between handlers",
        )
    mine = event.get("uuid") == w.task_id
    if not mine:
        if not delta:
            return None
        if "uuid" not in event:
            return (
                "foreign",
                f"a {type_} (a worker's event, with no uuid) was counted",
                "count only the events whose event.get('uuid') is task_id: the workers "
                "send events too",
            )
        other = event.get("uuid")
        same = names.get(other) is not None and names.get(other) == names.get(w.task_id)
        task = short(names.get(other))
        return (
            "foreign",
            f"a {type_} of another {task} task"
            f"{' (same name, another id)' if same else ''} was counted",
            "count only the events whose event.get('uuid') is task_id: "
            + (
                "another task of the same name sends events too"
                if same
                else "the other tasks send events too"
            ),
        )
    if delta == {type_: 1}:
        return None
    if not delta:
        if before.get(type_):
            return (
                "again",
                f"a repeated {type_} left counts[{type_!r}] at {before[type_]!r}",
                "add 1 for each event: counts[kind] = "
                "counts.get(kind, 0) + 1, a repeat too (a retried task sends task-received, "
                "task-started and task-retried again): don't skip an event as a duplicate",
            )
        how = " (the producer sends it, not a worker)" if type_ == "task-sent" else ""
        hint = (
            "count every event whose event.get('uuid') is task_id, by event['type'], as "
            "long as events come: other tasks' events, and their ends, come in between"
        )
        if type_ in ("task-revoked", "task-rejected"):
            how = " (a task that expired or was revoked sends it)"
            hint = (
                "count every type of event the task sends, whatever it is: a list of the types "
                "you expect misses task-revoked and task-rejected"
            )
        return ("missed", f"its {type_}{how} was not counted", hint)
    if type_ not in delta:
        key = next(iter(delta))
        return (
            "key",
            f"its {type_} was counted under {key!r}",
            "key the counts by the event's type itself, event['type'] "
            "('task-sent', 'task-received', ...)",
        )
    return (
        "more",
        f"one {type_} of the task changed counts from {before} to {after}",
        "add 1 to counts[event['type']] per event, in the dict this make_handler call was "
        "given: keep no tally shared between handlers (each call has its own task_id and "
        "counts)",
    )


def _minus(a: Any, b: Any) -> Any:
    try:
        return a - b
    except TypeError:
        return a


# --------------------------------------------------------------------------- 09.3


def metrics_text() -> str:
    """Prometheus text as ``prometheus_client`` writes it, with the traps 09.3 is about."""
    registry = CollectorRegistry()
    charges = Counter("course_charges", "Charges by outcome", ["task", "reason"], registry=registry)
    charges.labels("charge_card", "ok").inc(7)
    charges.labels("charge_card", "declined, card expired").inc(2)
    charges.labels("charge_card", 'bank said "no"').inc(1)
    queues = Gauge("queue_length", "Messages waiting", ["queue"], registry=registry)
    queues.labels("celery").set(0)
    queues.labels("ch09-parked").set(5)
    longest = Gauge("queue_length_max", "Longest queue seen", ["queue"], registry=registry)
    longest.labels("celery").set(12)
    Gauge("workers_online", "Workers answering a ping", registry=registry).set(2)
    runtime = Gauge("task_runtime_seconds", "The last run's time", ["task"], registry=registry)
    runtime.labels("charge_card").set(0.125)
    runtime.labels("add").set(2.5e-06)
    requests = Counter("http_requests", "Requests by route", ["method", "path"], registry=registry)
    requests.labels("GET", "/orders/{id}").inc(3)
    requests.labels("POST", "/orders/{id}/pay").inc(1)
    hits = Counter("hits", "Hits by path", ["path", "reason", "class"], registry=registry)
    hits.labels(*HITS[0]).inc(4)
    hits.labels(*HITS[1]).inc(2)
    latency = Histogram(
        "response_seconds", "Response time", ["status_code"], buckets=(0.5,), registry=registry
    )
    latency.labels("200").observe(0.25)
    latency.labels("200").observe(0.75)
    notes = Counter("notes", "Notes by text", ["text", "v2_kind"], registry=registry)
    notes.labels(*NOTES[0]).inc(1)
    notes.labels(*NOTES[1]).inc(2)
    probes = Gauge(PROBE, "Probe results by URL", ["url"], registry=registry)
    for number, url in enumerate(PROBE_URLS, 1):
        probes.labels(url).set(number)
    ratio = Gauge("load_ratio", "Load by core", ["core"], registry=registry)
    for core, value in enumerate(("nan", "inf", "-inf")):
        ratio.labels(str(core)).set(float(value))
    return generate_latest(registry).decode()


#: The labels of the counter ``hits`` (its samples are ``hits_total``): a value holding
#: ``=``, an empty value, a value ending in a backslash (written ``C:\\tmp\\``), a non-ASCII
#: value, and a label named like a Python keyword.
HITS = (("/search?q=1", "", "web"), ("C:\\tmp\\", "café", "file"))


#: The labels of the counter ``notes``: a value that ends in ``,x=`` (so ``,x="`` follows in
#: the text) and one that holds ``} ``.
NOTES = (("a,x=", "memo"), ("{a} b", "todo"))

#: A metric name with capitals and digits, and its label values (plain): one holding "#", one
#: with leading and trailing spaces, one holding a newline (written ``\n``), one with a
#: backslash before a quote (written ``a\\\"b``).
PROBE = "probe_HTTP_2xx"
PROBE_URLS = ("/a#b", " padded ", "l1\nl2", 'a\\"b')

#: The escaped quote as written in the text; a label value may keep it or unescape it.
QUOTED = ('bank said \\"no\\"', 'bank said "no"')

#: (name, expected samples) that 09.3 asks for; in ``course_charges_total`` the value holding
#: an escaped quote may come back as written (``\\"``) or unescaped (``"``).
CASES_093 = [
    ("queue_length", [({"queue": "celery"}, 0.0), ({"queue": "ch09-parked"}, 5.0)]),
    ("workers_online", [({}, 2.0)]),
    (
        "task_runtime_seconds",
        [({"task": "charge_card"}, 0.125), ({"task": "add"}, 2.5e-06)],
    ),
    (
        "course_charges_total",
        [
            ({"task": "charge_card", "reason": "ok"}, 7.0),
            ({"task": "charge_card", "reason": "declined, card expired"}, 2.0),
            ({"task": "charge_card", "reason": QUOTED[0]}, 1.0),
        ],
    ),
    (
        "http_requests_total",
        [
            ({"method": "GET", "path": "/orders/{id}"}, 3.0),
            ({"method": "POST", "path": "/orders/{id}/pay"}, 1.0),
        ],
    ),
    (
        "hits_total",
        [
            ({"path": "/search?q=1", "reason": "", "class": "web"}, 4.0),
            ({"path": "C:\\\\tmp\\\\", "reason": "café", "class": "file"}, 2.0),
        ],
    ),
    # label names with "_" and digits, label values that look like numbers (kept as str)
    (
        "response_seconds_bucket",
        [({"status_code": "200", "le": "0.5"}, 1.0), ({"status_code": "200", "le": "+Inf"}, 2.0)],
    ),
    (
        "notes_total",
        [
            ({"text": NOTES[0][0], "v2_kind": NOTES[0][1]}, 1.0),
            ({"text": NOTES[1][0], "v2_kind": NOTES[1][1]}, 2.0),
        ],
    ),
    # the counter's family name: no sample is named so
    ("hits", []),
    # a name with capitals and digits; "#", spaces around, \n and \\ before \" in values
    (
        PROBE,
        [
            ({"url": "/a#b"}, 1.0),
            ({"url": " padded "}, 2.0),
            ({"url": "l1\\nl2"}, 3.0),
            ({"url": 'a\\\\\\"b'}, 4.0),
        ],
    ),
    # values that are no decimal numbers: NaN, +Inf, -Inf
    (
        "load_ratio",
        [({"core": "0"}, math.nan), ({"core": "1"}, math.inf), ({"core": "2"}, -math.inf)],
    ),
]


def _unescape(value: str) -> str:
    """A label value as written in the text (``\\\\``, ``\\"``, ``\\n``) made plain."""
    plain = {"\\": "\\", '"': '"', "n": "\n"}
    return re.sub(r"\\(.)", lambda m: plain.get(m[1], m[0]), value)


def _same_sample(got: Any, want: tuple[dict[str, str], float]) -> bool:
    """Whether ``got`` is ``want``, each label value as written or unescaped."""
    labels, value = got
    want_labels, want_value = want
    return (
        _same_value(value, want_value)
        and isinstance(labels, dict)
        and labels.keys() == want_labels.keys()
        and all(labels[k] in (v, _unescape(v)) for k, v in want_labels.items())
    )


def _same_value(value: Any, want: float) -> bool:
    """Whether ``value`` is ``want``, NaN being NaN."""
    if isinstance(value, float) and math.isnan(want):
        return math.isnan(value)
    return bool(value == want)


def _alternatives(expected: list[tuple[dict[str, str], float]]) -> list[list[Any]]:
    """``expected``, and the same with its label values unescaped (when that differs)."""
    unescaped = [
        ({k: _unescape(v) for k, v in labels.items()}, value) for labels, value in expected
    ]
    return [expected] if unescaped == expected else [expected, unescaped]


#: The hint when ``samples`` raises on a case: what that case has that the others lack.
HINTS_093 = {
    "queue_length": "skip the # HELP / # TYPE lines and other metrics' lines; a sample is "
    "name{labels} value",
    "workers_online": "a sample may have no labels at all (workers_online 2.0): make the "
    "{...} part optional",
    "task_runtime_seconds": "the value is everything after the last space, e.g. 2.5e-06: "
    "read it with float(...)",
    "course_charges_total": 'read each label as name="value" with a regex: a value may hold '
    "a comma",
    "http_requests_total": 'a label value may hold braces (path="/orders/{id}"): the labels '
    'end at the last } before the value, and each label is name="value"',
    "hits_total": 'read each label as name="value" with a regex, "((?:[^"\\\\]|\\\\.)*)": '
    'a value may hold "=" (/search?q=1), be empty, end in an escaped backslash or hold any '
    "Unicode, and a label may be named like a Python keyword (class); never eval or "
    "json.loads scraped text",
    "response_seconds_bucket": 'a label name may hold "_" and digits (status_code, le): '
    'read it as [a-zA-Z_][a-zA-Z0-9_]*, and keep every label value a str, "0.5" and '
    '"200" too',
    "notes_total": 'a label value may hold any text, ",x=" or "} " too: read each label as '
    'name="value" with one regex over the whole line, "((?:[^"\\\\]|\\\\.)*)", and the value '
    "after the labels' closing brace",
    "hits": "hits is the family of the counter, no sample is named so: match the sample's "
    "name exactly",
    PROBE: "a metric name may hold capitals and digits ([a-zA-Z_:][a-zA-Z0-9_:]*), and a label "
    'value any text: "#", spaces around it, escapes such as \\n; read each value as '
    '"((?:[^"\\]|\\.)*)"',
    "load_ratio": "a value may be NaN, +Inf or -Inf: float(...) reads each of them",
}
SPACE_HINT = (
    'the value is what follows the last space: a label value may hold spaces ("declined, card '
    'expired"), so split off the value with line.rsplit(" ", 1)'
)


@exercise("09.3", "parse /metrics", points=2)
def _(samples: Any) -> str:
    fn = need_function(samples, "samples", "samples(text, name)", purpose="parses metrics")
    if is_stub_body(fn):
        raise NotYet("write the body of samples")
    text = metrics_text()
    for name, expected in CASES_093:
        try:
            got = fn(text, name)
        except Exception as exc:
            hint = HINTS_093[name]
            if name == "course_charges_total" and "convert string to float" in str(exc):
                hint = SPACE_HINT
            elif name == "hits_total" and isinstance(exc, SyntaxError):
                hint = (
                    "never eval scraped text (it runs whatever the server sends, and a label "
                    'named like a Python keyword, class="web", is a SyntaxError): read each '
                    'label as name="value" with a regex'
                )
            elif name == "hits_total" and type(exc).__name__ == "JSONDecodeError":
                hint = (
                    'a label value may hold "=" (path="/search?q=1"): don\'t rewrite the labels '
                    'into JSON, read each label as name="value" with a regex'
                )
            raise Fail(f"samples(text, {name!r}) raised {error_text(exc)}", hint=hint) from None
        _judge_samples(name, got, _alternatives(expected))
    return (
        "exact names (capitals and digits too), labels with commas, spaces, escaped quotes, "
        "newlines and backslashes, braces, '=', '#', empty values, Unicode, no-label samples, "
        "float values such as 2.5e-06 and NaN/+Inf/-Inf, in the text's order"
    )


def _judge_samples(name: str, got: Any, alternatives: list[list[Any]]) -> None:
    expected = alternatives[0]
    if not isinstance(got, list):
        raise Fail(
            f"samples(text, {name!r}) returned {kind(got)}, not a list",
            hint="return a list of (labels, value) pairs",
        )
    pairs = [tuple(p) if isinstance(p, (tuple, list)) else p for p in got]
    if any(not (isinstance(p, tuple) and len(p) == 2) for p in pairs):
        raise Fail(
            f"samples(text, {name!r}) holds items that are not (labels, value) pairs",
            hint="append (labels_dict, value) for each matching line",
        )
    if any(isinstance(v, str) for _, v in pairs):
        raise Fail(
            f"samples(text, {name!r}) returned the values as str",
            hint="convert each value with float(...)",
        )
    odds = [v for _, v in pairs if not isinstance(v, float)]
    if odds:
        odd = odds[0]
        raise Fail(
            f"samples(text, {name!r}) returned a value as {kind(odd)} ({odd!r}), not a float",
            hint="convert each value with float(...): a value need not be whole (0.125, 2.5e-06)",
        )
    if len(pairs) == len(expected) and all(map(_same_sample, pairs, expected)):
        return
    if len(pairs) > len(expected):
        raise Fail(
            f"samples(text, {name!r}) returned {len(pairs)} samples, expected "
            f"{len(expected)}: {pairs}",
            hint=HINTS_093["hits"]
            if not expected
            else f"match the name exactly: {name}_max or a # HELP line also start with {name}",
        )
    if len(pairs) < len(expected):
        missing = [e for e in expected if not any(_same_sample(p, e) for p in pairs)]
        if not pairs and name != name.lower() or not pairs and any(map(str.isdigit, name)):
            hint = (
                f"a metric name may hold capitals and digits ({name}): read it as "
                "[a-zA-Z_:][a-zA-Z0-9_:]*, the sample's name as written on its line"
            )
        elif any(not math.isfinite(value) for _, value in missing):
            hint = (
                "a value may be NaN, +Inf or -Inf (prometheus_client writes them so): take "
                "everything after the last space and let float(...) read it, not a pattern "
                "of digits"
            )
        elif any("#" in v for labels, _ in missing for v in labels.values()):
            hint = (
                "a # starts a comment only at the start of a line: a label value may hold "
                'one (url="/a#b"); skip the lines that start with #, don\'t cut lines at a #'
            )
        elif pairs or name not in ("workers_online", "course_charges_total"):
            hint = "keep every line of that metric, in order, with its value"
        elif name == "workers_online":
            hint = HINTS_093["workers_online"]
        else:
            hint = (
                f"match the sample's name as written on its lines, {name}: a counter's "
                "family name (course_charges) drops _total, and no line is named so"
            )
        raise Fail(
            f"samples(text, {name!r}) returned {len(pairs)} samples, expected "
            f"{len(expected)}: {pairs}",
            hint=hint,
        )
    near = max(alternatives, key=lambda alt: sum(p == e for p, e in zip(pairs, alt, strict=True)))
    if sorted(map(repr, pairs)) in (sorted(map(repr, alt)) for alt in alternatives):
        hint = "keep the samples in the order of their lines: don't sort them"
    else:
        hint = _sample_hint(pairs, near)
    raise Fail(f"samples(text, {name!r}) returned {pairs}, expected {near}", hint=hint)


def _sample_hint(pairs: list[Any], expected: list[Any]) -> str:
    """The hint for the first sample that differs from the one expected there."""
    for (labels, value), (want_labels, want) in zip(pairs, expected, strict=True):
        if labels != want_labels:
            return _label_hint(labels, want_labels)
        if not _same_value(value, want):
            if math.isfinite(want) and value == float(int(want)):
                return "keep the decimals: float(value_text), not int(...) first"
            return "the value is everything after the last space: float(value_text)"
    return "keep the lines of that metric, in order, with their values"


def _label_hint(labels: Any, want: dict[str, str]) -> str:
    default = 'read each label as name="value" with a regex: a value may hold a comma'
    if not isinstance(labels, dict):
        return "labels is a dict of label name to value, {} when a sample has none"
    if any(not isinstance(v, str) for v in labels.values()):
        return (
            'label values are str, even those that look like numbers (le="0.5", '
            'status_code="200"): keep the text between the quotes'
        )
    for key, value in want.items():
        mine = labels.get(key)
        if mine == value:
            continue
        if key not in labels and any(key.endswith(k) or key.startswith(k) for k in labels):
            return (
                'a label name may hold "_" and digits (status_code, v2_kind): read it as '
                "[a-zA-Z_][a-zA-Z0-9_]*, not [a-z]+"
            )
        if mine in (value, _unescape(value)):
            continue
        if isinstance(mine, str) and value.strip() != value and mine == value.strip():
            return (
                f'a label value may begin or end with spaces ("{value}"): keep the text '
                "between the quotes as it is, don't strip it"
            )
        if "\\n" in value:
            return (
                "a label value may hold an escaped newline, written \\n (prometheus_client "
                'writes one so): read each value as "((?:[^"\\\\]|\\\\.)*)", where a '
                'backslash escapes any one character, not only \\" and \\\\; keep \\n '
                "as written or make it a newline"
            )
        if isinstance(mine, str) and "\\\\" in value and '\\"' in value:
            return (
                f"{mine!r} is neither the value as written ({value!r}) nor unescaped "
                f"({_unescape(value)!r}): unescape all of its escapes in one pass, "
                're.sub(r"\\\\(.)", ...), or none; replacing \\" alone leaves \\\\ doubled'
            )
        if mine == f'"{value}"':
            return "the quotes are not part of the value: keep what is between them"
        if mine is None and value == "":
            return 'a label value may be empty (reason=""): read it with * in the regex, not +'
        if not value.isascii():
            return (
                "a label value may hold any Unicode (café): keep the text as it is, unescaping "
                'at most \\\\, \\" and \\n (unicode_escape garbles it)'
            )
        if value.endswith("\\"):
            return (
                "a label value may end in an escaped backslash (C:\\\\tmp\\\\): read each value "
                'as "((?:[^"\\\\]|\\\\.)*)", which takes \\\\ as one escape, so that the '
                "quote after it ends the value"
            )
        if ',x="' in f'{value}"':
            return HINTS_093["notes_total"]
        if "=" in value:
            return (
                'a label value may hold "=" (/search?q=1): read each label as name="value" '
                "with a regex"
            )
        if '"' in value or "\\" in value:
            return (
                'a label value may hold an escaped quote (\\"): read each value as '
                '"((?:[^"\\\\]|\\\\.)*)", so that \\" does not end it'
            )
        if "} " in value:
            return HINTS_093["notes_total"]
        if "{" in value or "}" in value:
            return HINTS_093["http_requests_total"]
        if "," in value or " " in value:
            return default
    return default


# --------------------------------------------------------------------------- 09.4


HEALTHY_WORDS = ("healthy", "unhealthy")
CHECK_KEYS = ("broker", "celery_worker")
SLOW_HEALTH = "a load balancer will not wait: app.control.inspect(timeout=timeout)"


@exercise("09.4", "a health check that sees a dead worker", points=2)
def _(health: Any) -> str:
    fn = need_function(health, "health", "health(app, timeout)", purpose="reports health")
    if is_stub_body(fn):
        raise NotYet("write the body of health")
    # the dead broker's call (2 s for a right answer: one retry) runs meanwhile
    down = _BrokerDown(fn)
    asks: list[Ask] = []
    prompt: list[int] = []
    served = course_view(asks, prompt)
    opened = _watch_connections(served)
    try:
        both, first = _healthy(fn, served, asks, opened, CROWDED, crowded=True)
        # the same app and timeout once the check's workers stopped: a fresh answer
        alone, _ = _healthy(fn, served, asks, opened, ALONE, crowded=False, before=first)
        _again(fn, served, asks, prompt, alone, "health")
        _no_worker(fn)
        down.judge()
        # a broker that was ok, then went down: judged on the same app
        _broker_dies(fn)
    finally:
        served.close()
        down.close()
    return (
        f"healthy with {both} workers, then with {alone} once the check's stopped, checked "
        f"afresh on each of two calls in a row, timeout {OTHER_TIMEOUT:g} s passed on, unhealthy "
        f'within {SHORT_TIMEOUT:g} s with none, unhealthy with the broker\'s "error: ..." and '
        "no ping when the broker is down"
    )


def _no_worker(fn: Callable[..., Any]) -> None:
    """Judge ``health`` on an app nobody serves."""
    asks: list[Ask] = []
    case = "an app no worker serves"
    answering, began = nobody(asks), time.monotonic()
    dead = _on(fn, answering, SHORT_TIMEOUT, "health", case, replies=False)
    _shape(dead, case)
    want_dead = {
        "status": "unhealthy",
        "checks": {"broker": "ok", "celery_worker": "no active workers"},
    }
    if dead.get("status") == "healthy":
        raise Fail(
            "an app with no worker was reported healthy",
            hint="ping the app you are given and report unhealthy when no worker answers",
        )
    if dead != want_dead:
        raise Fail(
            f"for an app no worker serves you answered {dead}, expected {want_dead}",
            hint='report "no active workers" under "celery_worker"',
        )
    _judge_waits(asks, SHORT_TIMEOUT, "health", SLOW_HEALTH, least=WHOLE, began=began)


#: The host of :func:`_broker_dies`'s read URL (``broker_read_url``), which stays up.
READ_HOST = "check09-reader"


class _DyingMemory(memory_transport.Transport):
    """kombu's memory transport, whose connecting fails once :attr:`down` is set, except on
    the app's read URL (host :data:`READ_HOST`): the write broker, which producers and pings
    use, is the one that goes down."""

    down: threading.Event

    def establish_connection(self) -> Any:
        if self.down.is_set() and self.client.hostname != READ_HOST:
            raise ConnectionRefusedError("the check stopped this broker (port 5672 refused)")
        return super().establish_connection()


def _track_connections(answering: Celery) -> list[dict[str, Any]]:
    """Every connection ``answering`` makes from now on, as ``{"conn", "tried",
    "released", "read", "errors"}``: whether it tried to connect, whether it was released (or
    closed), whether it is on the read URL, and what connecting raised."""
    made: list[dict[str, Any]] = []
    real = answering._connection

    def connection(*args: Any, **kwargs: Any) -> Any:
        conn = real(*args, **kwargs)
        record = {
            "conn": conn,
            "tried": False,
            "released": False,
            "read": conn.hostname == READ_HOST,
            "errors": [],
        }
        made.append(record)
        ensure, release = conn._ensure_connection, conn.release

        def _ensure_connection(*a: Any, **k: Any) -> Any:
            record["tried"] = True
            try:
                return ensure(*a, **k)
            except BaseException as exc:
                record["errors"].append(exc)
                raise

        def released(*a: Any, **k: Any) -> Any:
            record["released"] = True
            return release(*a, **k)

        conn._ensure_connection = _ensure_connection
        conn.release = conn.close = released
        return conn

    answering._connection = connection  # type: ignore[method-assign]
    return made


def _broker_dies(fn: Callable[..., Any]) -> None:
    """Judge ``health`` twice on one app: its broker up (no worker), then down (its write
    URL: its read URL, ``broker_read_url``, stays up)."""
    asks: list[Ask] = []
    down = threading.Event()
    transport = type("DyingMemoryTransport", (_DyingMemory,), {"down": down})
    dying = Celery("course-check-dying", broker="memory://", set_as_current=False)
    dying.conf.broker_transport = transport
    dying.conf.broker_read_url = f"memory://{READ_HOST}/"
    _recording(dying, asks)
    made = _track_connections(dying)
    case = "an app no worker serves"
    try:
        first = _on(fn, dying, SHORT_TIMEOUT, "health", case, replies=False)
        _shape(first, case)
        down.set()
        asks.clear()
        made.clear()
        case = "the same app once its broker went down"
        raised: Exception | None = None
        try:
            answer = _bounded(
                fn, dying, SHORT_TIMEOUT, what="health(app, 0.25)", seconds=DEAD_SECONDS
            )
        except Exception as exc:
            raised = exc
    finally:
        dying.close()
    tried = [r for r in made if r["tried"]]
    if tried and all(r["read"] for r in tried):
        raise Fail(
            f"for {case} (its write broker down, its broker_read_url up), health checked "
            "the broker on connection_for_read()"
            + (f" and then raised {error_text(raised)}" if raised is not None else ""),
            hint="check the broker that producers and the ping use, as the exercise asks: "
            "app.connection_for_write() (an app may read from another URL than it writes to)",
        )
    if raised is not None:
        raise Fail(
            f"for {case}, health raised {error_text(raised)}",
            hint="connecting to a broker that is down raises: catch it "
            '(except Exception as exc) and report f"error: {exc}"',
        )
    _shape(answer, case)
    broker = answer["checks"]["broker"]
    if broker == "ok":
        tried = any(r["tried"] for r in made)
        raise Fail(
            f"called again on the same app once its broker went down, health reported the "
            f"broker {broker!r}",
            hint="check the broker on every call, don't remember that it was ok: "
            "conn.ensure_connection(max_retries=1) each time"
            if not tried
            else "report the broker ok only when conn.ensure_connection(max_retries=1) "
            'returned, and its exception as f"error: {exc}"',
        )
    _released(made, case)
    _own_error(broker, [e for r in made for e in r["errors"]], case)
    _skipped_ping(asks, case, connected_first=True)
    want = {
        "status": "unhealthy",
        "checks": {"broker": broker, "celery_worker": "no active workers"},
    }
    if answer != want:
        raise Fail(
            f"for {case} you answered {answer}, expected {want}",
            hint='report the exception as f"error: {exc}", "no active workers" for the '
            'workers (none can be asked), and "unhealthy"',
        )


def _own_error(broker: Any, errors: list[BaseException], case: str) -> None:
    """A Fail unless the broker check's text holds what connecting raised (when known)."""
    if not isinstance(broker, str) or not errors:
        return
    texts = [text for exc in errors for text in (str(exc), repr(exc)) if str(exc)]
    if texts and not any(text in broker for text in texts):
        raise Fail(
            f"for {case} the broker check is {broker!r}, without the error connecting "
            f"raised: {str(errors[-1])!r}",
            hint='report the exception itself, f"error: {exc}": a fixed text hides why the '
            "broker is down (refused, wrong host, wrong password)",
        )


def _skipped_ping(asks: list[Ask], case: str, *, connected_first: bool) -> None:
    """A Fail if the workers were pinged although the broker was down."""
    if asks:
        raise Fail(
            f"for {case}, health pinged the workers "
            + ("after its broker check failed" if connected_first else "through it"),
            hint="check the broker first and ping only when it is ok: through a broker that "
            "is down a ping connects and retries before it raises, seconds a load balancer "
            'does not wait; report "no active workers" at once',
        )


def _released(made: list[dict[str, Any]], case: str) -> None:
    left = [r for r in made if r["tried"] and not r["released"]]
    if left:
        raise Fail(
            f"for {case}, health left {len(left)} broker connection(s) unreleased when "
            "connecting failed",
            hint="release the connection on every path, a failed one too: "
            "`with app.connection_for_write() as conn:` releases it even when "
            "ensure_connection raises",
        )


CROWDED = "the course app with the check's three workers"
ALONE = "the same app after the check's workers stopped"


def _watch_connections(answering: Celery) -> list[Any]:
    """Every connection ``answering`` makes from now on (``connection_for_write``,
    ``connection``...; its pool's template too, which never connects), in a list."""
    made: list[Any] = []
    real = answering._connection

    def connection(*args: Any, **kwargs: Any) -> Any:
        conn = real(*args, **kwargs)
        made.append(conn)
        return conn

    answering._connection = connection  # type: ignore[method-assign]
    return made


def _healthy(
    fn: Callable[..., Any],
    served: Celery,
    asks: list[Ask],
    opened: list[Any],
    case: str,
    *,
    crowded: bool,
    before: Any = None,
) -> tuple[int, Any]:
    """Judge ``health`` on the course's broker (with the check's three workers running too
    when ``crowded``); return how many workers answered, and the answer."""
    timeout = CROWD_TIMEOUT
    asks.clear()
    with crowd() if crowded else _nothing():
        began = time.monotonic()
        answer = _on(fn, served, timeout, "health", case)
        names = _truth(asks, timeout)
    if not names or (crowded and len(names) < len(CROWD_WORKERS) + 1):
        raise Fail(
            f"only {names or 'no worker'} answered the check's ping for {case}",
            hint="the check needs the course's worker: run the set-up cell at the top again",
        )
    left = [conn for conn in opened if getattr(conn, "_connection", None) is not None]
    if left:
        raise Fail(
            f"for {case}, health left {len(left)} broker connection(s) open after it returned",
            hint="close the connection when done: `with app.connection_for_write() as conn:` "
            "releases it at the end of the block (or call conn.release())",
        )
    _shape(answer, case)
    _judge_waits(asks, timeout, "health", SLOW_HEALTH, least=WHOLE, began=began)
    _pinged(asks, "health")
    want = {
        "status": "healthy",
        "checks": {"broker": "ok", "celery_worker": f"ok ({len(names)} workers)"},
    }
    if answer != want:
        worker = answer["checks"].get("celery_worker")
        hint = 'count the workers that answer: f"ok ({len(names)} workers)"'
        if before is not None and (answer == before or not asks):
            hint = (
                "the workers changed since the last call (the check's stopped) and your answer "
                "did not: check the broker and ping on every call, don't cache the answer"
            )
        elif worker == f"ok ({len(names)} worker)":
            hint = 'the text is "ok (N workers)" for every N, "ok (1 workers)" too'
        elif worker != want["checks"]["celery_worker"]:
            hint = _limit_hint(asks) or hint
        elif answer["checks"].get("broker") != "ok":
            hint = 'the broker answers: report it "ok" after conn.ensure_connection(max_retries=1)'
        elif answer.get("status") != "healthy":
            hint = '"healthy" when both checks are ok'
        raise Fail(f"for {case} you answered {answer}, expected {want}", hint=hint)
    return len(names), answer


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class _BrokerDown:
    """``health`` called on an app whose broker is down (:func:`dead_broker`), in a thread
    started at once; :meth:`judge` waits for it (at most :data:`DEAD_SECONDS` from the start)
    and judges its answer; :meth:`close` ends the app (and a call still retrying)."""

    case = "an app whose broker is down"

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.asks: list[Ask] = []
        self.down = dead_broker(self.asks)
        self.box: dict[str, Any] = {}
        self.began = time.monotonic()

        def call() -> None:
            try:
                self.box["value"] = fn(self.down.app, DEAD_TIMEOUT)
            except BaseException as exc:  # judged in judge()
                self.box["error"] = exc

        self.thread = threading.Thread(target=call, name=THREAD_NAME, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.down.closed.set()  # a call still retrying ends at its next attempt
        self.down.app.close()

    def judge(self) -> None:
        case = self.case
        deadline = self.began + DEAD_SECONDS
        while self.thread.is_alive() and time.monotonic() < deadline:
            if self.down.bad_connect() is not None:
                break
            self.thread.join(0.05)
        bad = self.down.bad_connect()
        if bad is not None:
            how, retries, limit = bad
            if how == "other":
                raise Fail(
                    f"for {case}, health connected through default_channel (or channel()), "
                    "whose retries follow the transport's options, not a bound of yours",
                    hint="check the broker with conn.ensure_connection(max_retries=1): it gives "
                    "up after one retry, whatever the transport's options",
                )
            if retries is None and limit is not None:
                raise Fail(
                    f"for {case}, health's {how}(timeout={limit!r}) had no max_retries: it "
                    f"retries, sleeping between tries, until {limit!r} s have passed, not once",
                    hint="bound the tries, not the time: ensure_connection(max_retries=1) gives "
                    "up after one retry",
                )
            if retries is None:
                raise Fail(
                    f"for {case}, health's {how}() had no max_retries: it retries for ever",
                    hint="ensure_connection() retries for ever by default: "
                    "ensure_connection(max_retries=1) gives up after one retry",
                )
            raise Fail(
                f"for {case}, health's {how}(max_retries={retries}) keeps a load balancer "
                f"waiting for {retries} retries",
                hint="give up after one retry: ensure_connection(max_retries=1), then report "
                'the error as "error: ..."',
            )
        if self.thread.is_alive():
            raise Fail(
                f"for {case}, health did not return within {DEAD_SECONDS:g} s",
                hint="ensure_connection() retries for ever by default: "
                "ensure_connection(max_retries=1) gives up after one retry",
            )
        if "error" in self.box:
            self._raised(self.box["error"])
        answer = self.box["value"]
        _shape(answer, case)
        broker = answer["checks"]["broker"]
        if broker == "ok":
            raise Fail(
                f"for {case} you reported the broker 'ok'",
                hint="connections are lazy: `with app.connection_for_write() as conn` does not "
                "connect; conn.ensure_connection(max_retries=1) does",
            )
        if (
            not isinstance(broker, str)
            or not broker.startswith("error: ")
            or not broker[7:].strip()
        ):
            raise Fail(
                f"for {case} the broker check is {broker!r}",
                hint='report the exception: f"error: {exc}"',
            )
        _own_error(broker, self.down.errors, case)
        _skipped_ping(self.asks, case, connected_first=self.down.connected_before(self.asks))
        if answer["status"] != "unhealthy":
            raise Fail(
                f"{case} was reported {answer['status']}",
                hint='"healthy" only when both checks are ok',
            )
        if answer["checks"]["celery_worker"] != "no active workers":
            raise Fail(
                f"for {case} celery_worker is {answer['checks']['celery_worker']!r}",
                hint='with the broker down no worker can be asked: report "no active workers"',
            )

    def _raised(self, exc: BaseException) -> None:
        case = self.case
        if any(ask.raised is not None for ask in self.asks):
            hint = (
                "a failed broker check says the broker is down: skip the ping then (it raises) "
                'and report "no active workers"'
                if self.down.connected_before(self.asks)
                else "connections are lazy: `with app.connection_for_write() as conn` does not "
                "connect; check the broker with conn.ensure_connection(max_retries=1) in "
                "try/except, and skip the ping when it fails"
            )
            raise Fail(f"for {case}, health's ping raised {error_text(exc)}", hint=hint)
        raise Fail(
            f"for {case}, health raised {error_text(exc)}",
            hint="connecting to a broker that is down raises: catch it (except Exception as exc) "
            'and report f"error: {exc}"',
        )


def _shape(answer: Any, case: str) -> None:
    if not isinstance(answer, dict) or not isinstance(answer.get("checks"), dict):
        raise Fail(
            f"for {case}, health returned {kind(answer)} without a 'checks' dict",
            hint='return {"status": ..., "checks": {"broker": ..., "celery_worker": ...}}',
        )
    if answer.get("status") not in HEALTHY_WORDS:
        raise Fail(
            f"for {case}, status is {answer.get('status')!r}",
            hint='guide 004 answers "healthy" or "unhealthy"',
        )
    keys = sorted(answer["checks"])
    if keys != sorted(CHECK_KEYS):
        extra = [k for k in keys if k not in CHECK_KEYS]
        missing = [k for k in CHECK_KEYS if k not in keys]
        detail = f"has {', '.join(map(repr, extra))} too" if extra else ""
        if missing:
            detail += (" and " if detail else "") + f"lacks {', '.join(map(repr, missing))}"
        raise Fail(
            f"for {case}, checks {detail}",
            hint="return exactly the two checks the exercise asks for: broker and celery_worker",
        )
    if sorted(answer) != ["checks", "status"]:
        raise Fail(
            f"for {case}, health returned the keys {sorted(answer)}",
            hint='return exactly {"status": ..., "checks": {...}}',
        )
