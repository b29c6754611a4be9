"""Checks of chapter 05's exercises (``solutions/05_states_and_results_solutions.ipynb``).

Every check runs the learner's code on results of the course's tasks, in every mode. What the
code did is seen, never timed (a right answer on a busy machine can be slower than a wrong one
on a quiet machine): while it runs, the check records, in the thread it runs in, every
``get()``/``wait()`` (``support.watching`` stops one on an unfinished task at once), every
``time.sleep``, every read of a task's state from the result backend (a loop reading it again
and again is stopped), and every broadcast to the workers (revokes with their options, held
back until the code has answered, and commands that wait for the workers' replies). A time
limit is left only for code that never answers.

* 05.1 ``check("05.1", status)``: ``status(task_id)`` answers guide 000's status endpoint as
  a json-ready dict for tasks in seven states (PENDING, STARTED, PROGRESS, SUCCESS, FAILURE,
  RETRY, REVOKED; PROGRESS also at 1 and 2 of 3, where ``int()`` and ``round()`` differ, and at
  5 of 5), for a SUCCESS that returned ``None`` or a dict shaped like progress meta, for a state
  of the task's own, and for an id asked again after it moved on (PENDING, then REVOKED),
  without waiting (no ``get()``, even on a finished task, no sleep, no loop on the state), and
  reads the state once:
  for a task that finishes while it reads (STARTED for the first reads, SUCCESS after) its
  answer must be one of the two, not a mix;
* 05.2 ``check("05.2", collect)``: ``collect(result, timeout)`` waits at most about
  ``timeout`` seconds (the timeouts it passes to ``get()``, and its sleeps, are read: a task
  no worker runs gets Celery's ``TimeoutError`` at once) and answers ``("SUCCESS", value)``,
  ``("FAILURE", "Name: message")``, ``("REVOKED", None)`` or ``("TIMEOUT", None)``; it never
  revokes the task it stopped waiting for, and lets an error of the result backend (two kinds,
  raised by ``get()`` and by every read of the state, and one raised once by ``get()`` alone)
  propagate, not reported as a timeout; a task's own OSError and a two-line message are
  FAILUREs like any other;
* 05.3 ``check("05.3", cancel)``: ``cancel(task_id)`` revokes a task that has not started,
  without ``terminate`` and without waiting for the workers' replies, and answers
  ``"cancelled"``; it answers ``"too late"`` for a running, finished or failed task, and for
  the one it cancelled when asked again (REVOKED), and sends no revoke for it; it waits for
  nothing (no ``get()``, sleep or loop on the state);
* 05.4 ``check("05.4", lookup)``: ``lookup(task_id)`` answers ``"unknown"`` for an id the app
  never issued, whatever the backend says (one of them has a result stored), ``"waiting"`` for
  an issued task the backend has nothing on, and the stored state otherwise (SUCCESS, FAILURE,
  and STARTED and RETRY, which are not ready either). Issued ids are in the app-data set
  :data:`ISSUED_KEY`, and the check issues some of them between two calls of ``lookup`` (one it
  asked about before) and takes one out; ``lookup`` sends the store reads only
  (:data:`STORE_READS`), and lets the store's error through when it cannot be reached.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import kombu
import redis
import redis.client
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from celery.utils.functional import maybe_list
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    Seen,
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
from course_tasks.tasks.reports import ReportError, UploadUnavailable, monthly_sales_report

#: How long a check waits for a course task that should finish quickly.
WAIT_SECONDS = 5.0
#: How long the learner's function may run before the check stops waiting for it. Only code
#: that never answers meets it: every wait the check knows of is seen and stopped at once.
ANSWER_SECONDS = 5.0
#: How often a function may read the state of one task in one call (``state``, ``info``,
#: ``result``, ``ready()``, ...); the next read is a loop waiting for the task, and is stopped.
POLL_READS = 12
#: A queue that no worker consumes: a task sent there stays PENDING until released.
PARKING_QUEUE = "course-check-parked-05"
#: The app-data set of task ids the app has handed out (exercise 05.4).
ISSUED_KEY = "issued-tasks"
#: 05.4: the commands that only read the app-data store; any other one ``lookup`` sends to it
#: (SADD, EXPIRE, a write to another key) is a write.
# fmt: off
STORE_READS = frozenset((
    "SISMEMBER", "SMISMEMBER", "SMEMBERS", "SCARD", "SSCAN", "SRANDMEMBER", "SINTER", "SUNION",
    "SDIFF", "SINTERCARD", "EXISTS", "TYPE", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "GET",
    "MGET", "STRLEN", "GETRANGE", "KEYS", "SCAN", "RANDOMKEY", "HGET", "HMGET", "HGETALL",
    "HEXISTS", "HKEYS", "HVALS", "HLEN", "HSCAN", "LRANGE", "LLEN", "LINDEX", "LPOS", "ZSCORE",
    "ZMSCORE", "ZRANGE", "ZRANGEBYSCORE", "ZCARD", "ZCOUNT", "ZRANK", "ZSCAN", "OBJECT",
    "DBSIZE", "PING", "ECHO", "INFO", "WATCH", "UNWATCH",
))
# fmt: on
#: 05.4: what the app-data store raises when it cannot be reached.
STORE_DOWN: Callable[[], Exception] = lambda: RedisConnectionError(  # noqa: E731
    "Error 111 connecting to localhost:6379. Connection refused."
)
#: What exercise 05.3's ``cancel`` may answer.
CANCEL_ANSWERS = ("cancelled", "too late")
BAD_MONTH = "2024-13"
#: The name of the helper thread that runs a learner's function.
THREAD_NAME = "course-check-05"
#: Packages whose sleeps in the learner's thread (inside a ``get()`` the check lets through, a
#: reconnect) are not the learner's own.
LIBRARIES = frozenset({"celery", "kombu", "redis", "fakeredis", "course_tasks"})
#: 05.1: PROGRESS meta ``(current, total)`` where ``int()`` (or ``//``) and ``math.ceil``
#: give another percent than ``round()``: 33 and 67.
THIRDS = ((1, 3), (2, 3))
#: 05.1: PROGRESS at its last step (the course's ``export_users_csv`` stores one after its last
#: row): 100, not capped below.
LAST_STEP = (5, 5)
#: 05.1: a state of the task's own (``self.update_state(state=...)``): any state the exercise
#: does not name is answered ``state.lower()``, not looked up in a table of known ones.
CUSTOM_STATE, CUSTOM_META = "UPLOADING", {"file": "users.csv"}
#: 05.1: a finished task's value shaped like progress meta (a page of results, a counter).
PROGRESS_SHAPED = {"current": 10, "total": 10}
#: 05.1: how many reads of its state still say STARTED, for a task that finishes while
#: ``status()`` reads it; every later read says SUCCESS with :data:`RACE_VALUE`.
RACE_READS = (1, 2, 3, 4, 5)
RACE_VALUE = 7
#: 05.2: the timeouts ``collect`` gets for a task that no worker will run.
TIMEOUTS = (0.5, 1.2)
#: 05.2: how much more than ``timeout`` the waits ``collect`` asks for may add up to.
OVER_FACTOR, OVER_SECONDS = 1.25, 0.1
#: 05.2: errors of the result backend (redis-py's, when Redis is down or stalls), raised by
#: ``get()`` and by every read of the task's state.
BACKEND_ERRORS: tuple[Callable[[], Exception], ...] = (
    lambda: RedisConnectionError("Error 111 connecting to localhost:6379. Connection refused."),
    lambda: RedisTimeoutError("Timeout reading from socket"),
    # a client that lets the socket's own errors through (Python's built-in OSErrors)
    lambda: ConnectionRefusedError(111, "Connection refused"),
    lambda: TimeoutError("timed out"),
)
#: 05.2: the meta of a task that no worker runs while ``collect`` waits for it: what a status
#: page shows, and must still show after ``collect`` gave up.
STALLED_META = {"current": 1, "total": 3}
#: 05.2: a backend error that ``get()`` raises once; the result backend answers again after
#: (reads of the state work): the task has not finished, and still it is no timeout.
TRANSIENT_ERROR: Callable[[], Exception] = lambda: RedisConnectionError(  # noqa: E731
    "Connection reset by peer"
)
#: 05.2: a failure whose message has two lines (the traceback's last line is only the second).
TWO_LINES = f"no sales data for month {BAD_MONTH!r}\n(the sales import has not run)"


# --------------------------------------------------------------------------- what the code did


class _Stopped(CeleryTimeoutError):
    """Raised in the learner's code where it would wait: the check has seen the wait."""


@dataclass
class _Revoke:
    """One revoke the learner's code sent (``AsyncResult.revoke``, ``app.control.revoke``)."""

    task_ids: list[str]
    terminate: bool
    signal: Any
    #: it asked for the workers' replies (``wait=True``, ``reply=True``) and would wait for them
    reply: bool

    def call(self) -> str:
        """The options that matter, as sent: ``revoke(terminate=True, signal='SIGKILL')``."""
        options = []
        if self.terminate:
            options.append("terminate=True")
            if self.signal:
                options.append(f"signal={self.signal!r}")
        if self.reply:
            options.append("reply=True")
        return f"revoke({', '.join(options)})"


@dataclass
class _Did:
    """What the learner's code did in its thread, beyond what :class:`Seen` records."""

    #: the thread the learner's function runs in (set when it starts)
    thread: threading.Thread | None = None
    #: reads of each task's state from the result backend
    reads: Counter[str] = field(default_factory=Counter)
    #: ids of tasks it read again and again: a loop waiting for them (stopped)
    polled: list[str] = field(default_factory=list)
    #: the seconds of each ``time.sleep`` (or ``Event.wait``/``Condition.wait``) it called
    slept: list[float] = field(default_factory=list)
    #: each of those waits as called: ``time.sleep(0.05)``, ``Event.wait(0.05)``
    sleeps: list[str] = field(default_factory=list)
    #: how many times it purged a queue (``app.control.purge()``, a queue's ``purge()``)
    purged: int = 0
    #: broadcast commands (not revokes) whose replies it would have waited for
    asked: list[str] = field(default_factory=list)
    #: the revokes it sent
    revokes: list[_Revoke] = field(default_factory=list)
    #: the timeout of each ``get()``/``wait()`` it called (05.2 only)
    gets: list[Any] = field(default_factory=list)
    #: how many of its waits the check stopped by raising :class:`_Stopped` in its code
    stops: int = 0
    #: the commands it sent to the app-data store (05.4), as sent: ``["SISMEMBER", key, id]``
    store_commands: list[list[Any]] = field(default_factory=list)


#: A task whose state changes while the code reads it: ``{task_id: (meta of the first
#: ``reads`` reads, meta of every later read, reads)}``, as the result backend stores them.
Flips = dict[str, tuple[dict[str, Any], dict[str, Any], int]]
#: What a patched ``get()`` does instead (05.2): ``on_get(result, timeout, real_get)``.
OnGet = Callable[[AsyncResult, Any, Callable[[], Any]], Any]


@contextmanager
def _recording(
    fn: Callable[..., Any],
    *,
    reads_allowed: int | None = POLL_READS,
    flips: Flips | None = None,
    stop_sleeps: bool = True,
    on_get: OnGet | None = None,
    broken: dict[str, Exception] | None = None,
    watch_store: bool = False,
    store_down: Exception | None = None,
) -> Iterator[_Did]:
    """Meanwhile, record (and stop) what the learner's code does in its thread (:class:`_Did`).

    * reads of a task's state: after ``reads_allowed`` reads of one task the next is stopped
      (``None``: no limit); a task in ``flips`` changes state after some reads; a read of a
      task in ``broken`` raises its error, as a result backend that cannot be reached does;
    * ``time.sleep`` (also under the learner's own name for it): recorded, and stopped with
      ``stop_sleeps``, else slept; ``sleep(0)`` is no wait, and the sleeps of the libraries
      (:data:`LIBRARIES`: Celery's inside a ``get()``, say) are not the learner's: both pass;
    * broadcasts: nothing reaches the workers while the code runs. A revoke is recorded with
      its options (:func:`_send_revokes` sends it afterwards, as workers busy until then get
      it); a command that asks for replies is recorded in ``asked`` and answered ``[]`` at
      once;
    * with ``on_get``, every ``AsyncResult.get()``/``wait()`` records its timeout and calls
      ``on_get`` instead;
    * with ``watch_store``, every command sent to the app-data store (``store()``, its
      pipelines too) is recorded; with ``store_down``, each raises that error instead.
    """
    did = _Did()
    flips, broken = flips or {}, broken or {}

    def in_call() -> bool:
        return threading.current_thread() is did.thread

    backend_cls = type(app.backend)
    real_meta = backend_cls.get_task_meta
    real_sleep = time.sleep
    real_event_wait = threading.Event.wait
    real_condition_wait = threading.Condition.wait
    real_purge = kombu.Queue.purge
    real_broadcast = app.control.broadcast
    broadcast_signature = inspect.signature(real_broadcast)
    real_get = AsyncResult.get
    get_signature = inspect.signature(real_get)

    def get_task_meta(backend: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
        if not in_call():
            return real_meta(backend, task_id, *args, **kwargs)
        did.reads[task_id] += 1
        if task_id in broken:
            raise broken[task_id]
        if reads_allowed is not None and did.reads[task_id] > reads_allowed:
            did.polled.append(task_id)
            did.stops += 1
            raise _Stopped(f"the check stopped a loop waiting for {task_id}")
        if task_id in flips:
            before, after, reads = flips[task_id]
            return dict(before if did.reads[task_id] <= reads else after, task_id=task_id)
        return real_meta(backend, task_id, *args, **kwargs)

    def own_wait(seconds: Any, depth: int = 2) -> bool:
        """Whether a wait of ``seconds`` is the learner's own (see :func:`_recording`)."""
        caller = sys._getframe(depth).f_globals.get("__name__") or ""
        return (
            in_call()
            and caller.partition(".")[0] not in LIBRARIES | {"threading", "concurrent", "queue"}
            and isinstance(seconds, int | float)
            and seconds > 0
        )

    def waited(name: str, seconds: float) -> None:
        did.slept.append(seconds)
        did.sleeps.append(f"{name}({seconds!r})")
        if stop_sleeps:
            did.stops += 1
            raise _Stopped(f"the check stopped {name}({seconds!r})")

    def sleep(seconds: float) -> None:
        if own_wait(seconds):
            waited("time.sleep", seconds)
        return real_sleep(seconds)

    def event_wait(event: threading.Event, timeout: Any = None) -> Any:
        if own_wait(timeout):
            waited("threading.Event().wait", timeout)
        return real_event_wait(event, timeout)

    def condition_wait(condition: threading.Condition, timeout: Any = None) -> Any:
        if own_wait(timeout):
            waited("threading.Condition().wait", timeout)
        return real_condition_wait(condition, timeout)

    def purge(queue: Any, *args: Any, **kwargs: Any) -> Any:
        if not in_call():
            return real_purge(queue, *args, **kwargs)
        did.purged += 1
        return 0

    def broadcast(command: str, *args: Any, **kwargs: Any) -> Any:
        if not in_call():
            return real_broadcast(command, *args, **kwargs)
        given = broadcast_signature.bind(command, *args, **kwargs).arguments
        arguments = dict(given.get("arguments") or {}, **given.get("extra_kwargs", {}))
        reply = bool(given.get("reply"))
        if command == "revoke":
            ids = [str(task_id) for task_id in maybe_list(arguments.get("task_id")) or []]
            did.revokes.append(
                _Revoke(ids, bool(arguments.get("terminate")), arguments.get("signal"), reply)
            )
        elif reply:
            did.asked.append(command)
        return [] if reply else None

    def get(result: AsyncResult, *args: Any, **kwargs: Any) -> Any:
        if not in_call() or on_get is None:
            return real_get(result, *args, **kwargs)
        try:
            timeout = get_signature.bind(result, *args, **kwargs).arguments.get("timeout")
        except TypeError:
            return real_get(result, *args, **kwargs)  # raises what get() raises
        did.gets.append(timeout)
        return on_get(result, timeout, lambda: real_get(result, *args, **kwargs))

    pool = store().connection_pool if watch_store else None

    def store_command(real: Callable[..., Any]) -> Callable[..., Any]:
        def command(client: Any, *args: Any, **options: Any) -> Any:
            if in_call() and getattr(client, "connection_pool", None) is pool:
                did.store_commands.append(list(args))
                if store_down is not None:
                    raise store_down
            return real(client, *args, **options)

        return command

    names = getattr(fn, "__globals__", None)
    own_sleeps = [n for n, v in names.items() if v is real_sleep] if isinstance(names, dict) else []
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(backend_cls, "get_task_meta", get_task_meta))
        stack.enter_context(mock.patch.object(time, "sleep", sleep))
        stack.enter_context(mock.patch.object(threading.Event, "wait", event_wait))
        stack.enter_context(mock.patch.object(threading.Condition, "wait", condition_wait))
        stack.enter_context(mock.patch.object(kombu.Queue, "purge", purge))
        stack.enter_context(mock.patch.object(app.control, "broadcast", broadcast))
        if watch_store:
            for cls, name in ((redis.Redis, "execute_command"),
                              (redis.client.Pipeline, "pipeline_execute_command"),
                              (redis.client.Pipeline, "immediate_execute_command")):  # fmt: skip
                real = getattr(cls, name)
                stack.enter_context(mock.patch.object(cls, name, store_command(real)))
        if on_get is not None:
            stack.enter_context(mock.patch.object(AsyncResult, "get", get))
            stack.enter_context(mock.patch.object(AsyncResult, "wait", get))
        for name in own_sleeps:  # from time import sleep: the learner's own name for it
            names[name] = sleep
            stack.callback(names.__setitem__, name, real_sleep)
        yield did


def _send_revokes(did: _Did) -> None:
    """Send the revokes the learner's code asked for, without ``terminate`` or replies."""
    for revoke in did.revokes:
        if revoke.task_ids:
            app.control.revoke(revoke.task_ids)


def _run(
    fn: Callable[..., Any],
    *args: Any,
    watch_gets: bool = True,
    seconds: float = ANSWER_SECONDS,
    **recording: Any,
) -> tuple[Any, Seen, _Did]:
    """``fn(*args)`` in the check's thread, bounded, with what it did recorded (:func:`_recording`).

    With ``watch_gets``, a ``get()`` on an unfinished task is stopped at once
    (``support.call_watched``). The answer is what ``fn`` returned, a :class:`StillRunning`,
    or, when the check stopped a wait of ``fn``'s (caught or not), the exception ``fn`` raised.
    Other exceptions are raised here.
    """
    with _recording(fn, **recording) as did:

        def call(*call_args: Any) -> Any:
            did.thread = threading.current_thread()
            return fn(*call_args)

        try:
            if watch_gets:
                answer, seen = call_watched(call, *args, seconds=seconds, thread_name=THREAD_NAME)
            else:
                answer = call_bounded(call, *args, seconds=seconds, thread_name=THREAD_NAME)
                seen = Seen()
        except Exception as exc:
            if not did.stops:
                raise
            answer, seen = exc, Seen()
    return answer, seen, did


def _seconds(values: list[Any]) -> str:
    return ", ".join(f"{s:g}" if isinstance(s, int | float) else repr(s) for s in values[:3])


def _no_wait(who: str, case: str, seen: Seen, did: _Did, now: str, *, no_get: bool = False) -> None:
    """A Fail if ``who`` waited in a way the check saw; ``now`` says what to do instead.

    With ``no_get`` (the exercise says "no get()"), a ``get()`` on a task that had finished
    fails too: whether it had finished when the code asked is a race the code cannot win."""
    if seen.waited:
        raise Fail(
            f"for {case}, {who} waited for the task (it called get() on it)",
            hint=f"get() waits until the task finishes, maybe for ever: {now}",
        )
    if no_get and seen.got:
        raise Fail(
            f"for {case}, {who} called get() on the task (it had finished, so get() "
            "answered at once this time)",
            hint="get() waits whenever the task has not finished, and reads the result backend "
            f"a second time: {now}",
        )
    if did.polled:
        raise Fail(
            f"for {case}, {who} read the task's state again and again "
            f"({did.reads[did.polled[0]]} times), waiting for it to change",
            hint=now,
        )
    if did.slept:
        raise Fail(
            f"for {case}, {who} waited before answering (it called {did.sleeps[0]})",
            hint=now,
        )
    if did.asked:
        raise Fail(
            f"for {case}, {who} asked the workers ({did.asked[0]}) and waited for their replies",
            hint=f"the result backend has the state: {now}",
        )


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


@contextmanager
def _stored(state: str, result: Any) -> Iterator[str]:
    """A task id with ``state`` stored in the result backend as a worker stores it (for RETRY,
    ``result`` is the exception that caused the retry); forgotten after. The state lasts as
    long as the learner's function needs to read it."""
    task_id = str(uuid.uuid4())
    try:
        if state == "RETRY":
            app.backend.mark_as_retry(task_id, result)
        else:
            app.backend.store_result(task_id, result, state)
        yield task_id
    finally:
        app.backend.forget(task_id)


@contextmanager
def _stored_failure(error: Exception) -> Iterator[AsyncResult]:
    """A task that failed with ``error``, stored as a worker stores it (with its traceback);
    forgotten after."""
    task_id = str(uuid.uuid4())
    try:
        raise error
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        app.backend.mark_as_failure(task_id, exc, traceback=text)
    try:
        yield app.AsyncResult(task_id)
    finally:
        app.backend.forget(task_id)


def _started_meta() -> dict[str, Any]:
    """What a worker stores as STARTED's result (``task_track_started``)."""
    return {"pid": os.getpid(), "hostname": "check-05@course"}


# --------------------------------------------------------------------------- 05.1

#: What an endpoint does instead of waiting.
STATUS_NOW = (
    "an endpoint answers at once with the state as it is now (read result.state once); "
    "the page asks again later"
)
RACE_HINT = (
    "read the task's record once, meta = app.backend.get_task_meta(task_id), and answer from "
    'meta["status"] and meta["result"]: each result.state or result.info asks the result '
    "backend again, and the task may finish in between"
)


def _status_of(
    status: Callable[..., Any], task_id: str, case: str, flips: Flips | None = None
) -> dict[str, Any]:
    """Call the learner's ``status``, watched: the answer, checked to be a json-ready dict."""
    answer, seen, did = _run(status, task_id, flips=flips)
    _no_wait("status()", case, seen, did, STATUS_NOW, no_get=True)
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, status() did not answer within {answer.seconds:g} s",
            hint=f"it waited for something: {STATUS_NOW}",
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
    raise Fail(
        f"for {case}, status() said status={got!r}",
        hint=f'for this state the endpoint answers {{"status": "{expected}", ...}}',
    )


def _percent(answer: dict[str, Any], case: str) -> Any:
    """The answer's percent, a number (a Fail if it has none)."""
    if "percent" not in answer:
        raise Fail(
            f"for {case}, the dict has no 'percent' (keys: {', '.join(map(str, answer))})",
            hint="the front end wants a number for its bar: 100 * current / total, "
            "from result.info",
        )
    percent = answer["percent"]
    if not isinstance(percent, int | float) or isinstance(percent, bool):
        raise Fail(
            f"for {case}, percent is {kind(percent)} ({percent!r:.60})",
            hint="a number from 0 to 100: round(100 * info['current'] / info['total'])",
        )
    return percent


def _percent_hint(percent: float, current: int | None, total: int) -> str:
    """What is wrong with ``percent`` for ``current`` of ``total`` (``None``: not known)."""
    formula = "round(100 * info['current'] / info['total'])"
    if current is None:
        if percent in (0.25, 0.5, 0.75, 1):
            return f"that is a fraction; multiply by 100: {formula}"
        return f"compute it from the task's own meta: {formula}"
    exact = 100 * current / total
    rounded = f"{formula} gives {round(exact)}"
    if percent in (current / total, round(current / total, 2)):
        return f"that is a fraction; multiply by 100: {rounded}"
    if current == total and percent < exact:
        return (f"the task reports current == total, its last step done: that is 100, "
                f"do not cap it; {rounded}")  # fmt: skip
    if percent == math.floor(exact):
        return f"{exact:.2f} rounds to {round(exact)}: int() and // cut the decimals off; {rounded}"
    if percent == math.ceil(exact):
        return f"{exact:.2f} rounds to {round(exact)}, not up: {rounded}"
    if abs(percent - exact) < 1:
        return f"a whole number, as the exercise says: {rounded}"
    return f"compute it from the task's own meta: {rounded}"


def _judge_race(status: Callable[..., Any]) -> None:
    """Ask about tasks that a worker finishes while ``status`` reads them: STARTED (then
    PROGRESS at 1 of 3) for the first reads of the task's record, SUCCESS after. An answer read
    from one record is ``started`` (``in_progress`` at 33), or ``success`` with the value; one
    that reads the record again mixes them up, or answers from a later read than the first."""
    started, progress, succeeded = (str(uuid.uuid4()) for _ in range(3))
    real_meta = type(app.backend).get_task_meta
    try:
        app.backend.store_result(started, _started_meta(), "STARTED")
        app.backend.store_result(progress, {"current": 1, "total": 3}, "PROGRESS")
        app.backend.store_result(succeeded, RACE_VALUE, "SUCCESS")
        after = real_meta(app.backend, succeeded, cache=False)
        for first, right in (
            (started, {"status": "started"}),
            (progress, {"status": "in_progress", "percent": 33}),
        ):
            before = real_meta(app.backend, first, cache=False)
            for reads in RACE_READS:
                task_id = str(uuid.uuid4())
                case = (f"a task that finished while status() read it ({before['status']} for "
                        f"the first {reads} read{'s' if reads > 1 else ''} of its state, "
                        f"SUCCESS with {RACE_VALUE} after)")  # fmt: skip
                flips = {task_id: (before, after, reads)}
                try:
                    answer, seen, did = _run(status, task_id, flips=flips)
                except Exception as exc:
                    raise Fail(f"for {case}, status() raised {type(exc).__name__}: {exc}",
                               hint=RACE_HINT) from None  # fmt: skip
                _no_wait("status()", case, seen, did, STATUS_NOW, no_get=True)
                if not isinstance(answer, dict):
                    answer = _status_of(status, task_id, case, flips=flips)
                got = {key: answer.get(key) for key in right}
                if got == right and did.reads[task_id] <= 1:
                    continue
                if got == right or (answer.get("status") == "success"
                                    and answer.get("result") == RACE_VALUE):  # fmt: skip
                    raise Fail(f"for {case}, status() read the task's state {did.reads[task_id]} "
                               f"times in one call (it answered {answer!r:.60})",
                               hint=RACE_HINT)  # fmt: skip
                raise Fail(f"for {case}, status() answered {answer!r:.80}: it read the state more "
                           "than once, and the reads disagreed", hint=RACE_HINT)  # fmt: skip
    finally:
        for task_id in (started, progress, succeeded):
            app.backend.forget(task_id)


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

    # STARTED: what a worker stores when it begins the task (task_track_started)
    case = "a running task (STARTED)"
    with _stored("STARTED", _started_meta()) as running:
        try:
            answer = _status_of(status, running, case)
        except UnboundLocalError as exc:
            raise Fail(
                f"for a running task, status() raised UnboundLocalError: {exc}",
                hint="the guide's if/elif chain has no branch for STARTED (nor RETRY, "
                'REVOKED): end it with a fallback such as {"status": state.lower()}',
            ) from None
    _expect_status(answer, "started", case)

    # PROGRESS: a real task half-way, then meta where int() and round() differ
    busy = process_items.delay(list(range(4)), seconds_per_item=0.3)
    try:
        _wait_for_state(busy, "PROGRESS")
        case = "a task half-way (PROGRESS 1/4)"
        answer = _status_of(status, busy.id, case)
        _expect_status(answer, "in_progress", case)
        percent = _percent(answer, case)
        if percent not in (25, 50, 75, 100):
            raise Fail(f"for 1, 2 or 3 items of 4, percent was {percent!r}",
                       hint=_percent_hint(percent, None, 4))  # fmt: skip
    finally:
        _finish(busy)
    for current, total in (*THIRDS, LAST_STEP):
        meta = {"current": current, "total": total}
        case = f"a task at {current} of {total} (PROGRESS, meta {meta})"
        with _stored("PROGRESS", meta) as halfway:
            answer = _status_of(status, halfway, case)
        _expect_status(answer, "in_progress", case)
        percent = _percent(answer, case)
        if percent != round(100 * current / total):
            raise Fail(f"for {case}, percent was {percent!r:.20}",
                       hint=_percent_hint(percent, current, total))  # fmt: skip

    # PENDING
    case = "an id no worker has reported on"
    with _parked() as waiting:
        answer = _status_of(status, waiting.id, case)
        _expect_status(answer, "pending", case)
        pending = answer

        # REVOKED: the same id again, now that it moved on
        waiting.revoke()
        _wait_for_state(waiting, "REVOKED")
        case = "a revoked task"
        answer = _status_of(status, waiting.id, case)
        if answer == pending and answer.get("status") == "pending":
            raise Fail(
                f"for {case}, status() said status='pending', its answer for the same id "
                "before it was revoked",
                hint="an answer kept from an earlier call (a dict, lru_cache) goes stale: a "
                "task moves on, so read its record on every call; the page asks again for that",
            )
        _expect_status(answer, "revoked", case)

    # RETRY: the state a worker stores when the task raised self.retry()
    case = "a task waiting for its retry (RETRY)"
    with _stored("RETRY", ConnectionError("mail server down")) as retrying:
        try:
            answer = _status_of(status, retrying, case)
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

    # Values and states that a branch on something other than the state gets wrong
    _judge_odd_records(status)

    # A task that finishes while status() reads it
    _judge_race(status)
    return (
        "json for PENDING, STARTED, PROGRESS (1/4, 1/3, 2/3, 5/5), SUCCESS (also None and a "
        f"dict shaped like progress), FAILURE, RETRY, REVOKED and a state of its own "
        f"({CUSTOM_STATE}); no get(), no wait, and the state read once while a task finished"
    )


def _judge_odd_records(status: Callable[..., Any]) -> None:
    """A finished task that returned ``None``, one whose value looks like progress meta, and a
    state of the task's own: each answered from the state, as the exercise says."""
    state_first = ("decide from the state (meta[\"status\"]), not from the value: "
                   '{"status": "success", "result": value} for every SUCCESS')  # fmt: skip
    for value, case, hint in (
        (None, "a finished task that returned None (SUCCESS)",
         "a task that returned None succeeded too: " + state_first),
        (PROGRESS_SHAPED, f"a finished task whose value is {PROGRESS_SHAPED} (SUCCESS)",
         "only the PROGRESS state means in progress; a finished task may return a dict with "
         "current and total (a page of results, a counter): " + state_first),
    ):  # fmt: skip
        with _stored("SUCCESS", value) as done:
            answer = _status_of(status, done, case)
        if answer.get("status") != "success":
            if answer.get("status") in ("pending", "in_progress"):
                raise Fail(f"for {case}, status() said status={answer.get('status')!r}",
                           hint=hint)  # fmt: skip
            _expect_status(answer, "success", case)
        if "result" not in answer or answer["result"] != value:
            shown = f"result={answer['result']!r:.60}" if "result" in answer else "no 'result'"
            raise Fail(f"for {case}, status() said {shown}",
                       hint='put the task\'s return value (meta["result"]) under "result", '
                       "whatever it is")  # fmt: skip

    own = CUSTOM_STATE.lower()
    case = f"a task in a state of its own ({CUSTOM_STATE}, meta {CUSTOM_META})"
    with _stored(CUSTOM_STATE, CUSTOM_META) as uploading:
        try:
            answer = _status_of(status, uploading, case)
        except (TypeError, KeyError) as exc:
            raise Fail(f"for {case}, status() raised {type(exc).__name__}: {exc}",
                       hint=f"only PROGRESS has current/total: any other state is "
                       f'{{"status": state.lower()}}, here "{own}"') from None  # fmt: skip
    if answer.get("status") != own:
        got = answer.get("status")
        if isinstance(got, str) and got.lower() == own:
            _expect_status(answer, own, case)
        raise Fail(
            f"for {case}, status() said status={got!r:.40}",
            hint="a task can store states of its own (self.update_state(state=...)): answer "
            f'any state not named in the exercise with {{"status": state.lower()}}, here '
            f'"{own}", rather than a table of the states you know',
        )


# --------------------------------------------------------------------------- 05.2


def _collect(
    collect: Callable[..., Any],
    result: AsyncResult,
    timeout: float,
    case: str,
    *,
    stalled: bool = False,
    broken: Exception | None = None,
    transient: bool = False,
) -> tuple[Any, _Did]:
    """``collect(result, timeout)``, recorded: its answer (a checked pair) and what it did.

    Every ``get()`` records its timeout. With ``stalled`` (a task no worker will run), it
    raises Celery's ``TimeoutError`` at once, as it would when its timeout ran out; with
    ``broken``, ``get()`` and every read of the task's state raise that error (with
    ``transient``, only ``get()`` does: the backend answers again afterwards).
    """

    def on_get(handle: AsyncResult, timeout: Any, real: Callable[[], Any]) -> Any:
        if broken is not None and handle.id == result.id:
            raise broken
        if stalled and handle.id == result.id:
            raise CeleryTimeoutError("The operation timed out.")
        return real()

    try:
        answer, _, did = _run(
            collect, result, timeout, watch_gets=False, seconds=timeout + ANSWER_SECONDS,
            reads_allowed=None, stop_sleeps=False, on_get=on_get,
            broken={result.id: broken} if broken is not None and not transient else None,
        )  # fmt: skip
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
            f"collect(result, {timeout:g}) was still running after {answer.seconds:g} s ({case})",
            hint="wait no longer than you are told, once: get(timeout=timeout)",
        )
    if answer is None and is_stub_body(collect, anywhere=True):
        raise NotYet("write the body of collect")
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise Fail(
            f"for {case}, collect() returned {kind(answer)} ({answer!r:.60})",
            hint='return a pair: ("SUCCESS", value), ("FAILURE", text), ("REVOKED", None) or '
            '("TIMEOUT", None)',
        )
    if did.revokes:
        gave_up = answer == ("TIMEOUT", None)
        raise Fail(
            f"for {case}, collect() revoked the task"
            + (" it stopped waiting for" if gave_up else "")
            + f" ({did.revokes[0].call()})",
            hint="a timeout only means that you stopped waiting: the task is fine and may still "
            "run. collect only reads: leave the task alone",
        )
    _judge_waits(did, timeout, case, answer)
    return answer, did


def _judge_waits(did: _Did, timeout: float, case: str, answer: Any) -> None:
    """A Fail if the waits ``collect`` asked for (``get()`` timeouts, sleeps) add up to more
    than about ``timeout``, or, for a TIMEOUT, to much less."""
    call = f"collect(result, {timeout:g})"
    if any(given is None for given in did.gets):
        raise Fail(
            f"for {case}, {call} called get() without a timeout",
            hint="then get() waits as long as the task takes, maybe for ever: get(timeout=timeout)",
        )
    odd = [t for t in did.gets if not isinstance(t, int | float) or isinstance(t, bool)]
    if odd:
        raise Fail(
            f"for {case}, {call} called get(timeout={odd[0]!r:.30})",
            hint="pass on the number collect receives: get(timeout=timeout)",
        )
    asked = sum(did.gets) + sum(did.slept)
    if asked > timeout * OVER_FACTOR + OVER_SECONDS:
        if len(did.gets) > 1:
            raise Fail(
                f"for {case}, {call} called get() {len(did.gets)} times (timeout="
                f"{_seconds(did.gets)}): it could wait {asked:g} s in all",
                hint="wait once, get(timeout=timeout): each try waits the whole timeout again",
            )
        if did.gets and did.gets[0] > timeout:
            raise Fail(
                f"for {case}, {call} called get(timeout={did.gets[0]:g})",
                hint="wait no longer than you are told: get(timeout=timeout)",
            )
        raise Fail(
            f"for {case}, {call} slept {sum(did.slept):g} s in all (time.sleep), more than "
            "its timeout",
            hint="wait at most timeout seconds in all: get(timeout=timeout)",
        )
    if answer == ("TIMEOUT", None) and asked < timeout / 2:
        waited = f"asked get() to wait {_seconds(did.gets)} s" if did.gets else "waited"
        if did.slept:
            waited += f" and slept {sum(did.slept):g} s"
        raise Fail(
            f"for {case}, {call} answered TIMEOUT, but only {waited}"
            if did.gets or did.slept
            else f"for {case}, {call} answered TIMEOUT without waiting at all",
            hint="wait the whole timeout: get(timeout=timeout)",
        )


def _chained(exc: BaseException | None, error: Exception) -> bool:
    """Whether ``exc`` is ``error`` or was raised from it (``raise ... from``, or in ``except``)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if exc is error:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _judge_backend_error(
    collect: Callable[..., Any], make: Callable[[], Exception], *, transient: bool = False
) -> None:
    """``get()`` raises an error of the result backend: ``collect`` must let it propagate.

    With ``transient``, only ``get()`` fails; the task's state reads (PENDING) work again."""
    error = make()
    name = f"{type(error).__module__}.{type(error).__name__}"
    case = f"a result backend that cannot be reached ({name}: {error})"
    if transient:
        case = (f"a result backend that failed once, in get() ({name}: {error}), and answered "
                "again after, the task not finished")  # fmt: skip
    with _parked() as parked:
        try:
            answer, did = _collect(collect, parked, 1.0, case, broken=error, transient=transient)
        except Fail:
            raise
        except Exception as exc:
            if _chained(exc, error):
                return
            raise Fail(
                f"when get() raised {name} ({case}), collect() raised {type(exc).__name__}: {exc}",
                hint="let the result backend's error reach the caller as it is: catch only "
                "Celery's TimeoutError around get()",
            ) from None
    if transient and not did.gets:
        return  # it never called get(), so get() never failed: the other cases judge it
    problem = f"when get() raised {name} ({error}), collect() returned {answer!r:.80}"
    if transient and answer == ("TIMEOUT", None):
        raise Fail(
            f"{problem}; the backend answered again after, and the task had not finished",
            hint="a task that is not ready() has not timed out: the time ran out only when "
            "get() raises Celery's TimeoutError. Catch that one alone and let any other error "
            "of get() reach the caller, whatever state the task is in",
        )
    if answer == ("TIMEOUT", None) and isinstance(error, OSError):
        raise Fail(
            problem,
            hint=f"Python's built-in {type(error).__name__} is an OSError, what a socket to the "
            "result backend raises; it does not come from get()'s timeout: catch only Celery's "
            "TimeoutError (from celery.exceptions import TimeoutError) and let this one reach "
            "the caller",
        )
    if answer == ("TIMEOUT", None):
        raise Fail(
            problem,
            hint="only Celery's TimeoutError means that the time ran out: catch that one "
            "(from celery.exceptions import TimeoutError), not every exception, and let an "
            "error of the result backend reach the caller",
        )
    if answer[0] == "FAILURE":
        raise Fail(
            problem,
            hint="the task did not fail, the result backend did: catch only Celery's "
            "TimeoutError around get(), and let any other error reach the caller",
        )
    raise Fail(problem, hint="let an error of the result backend reach the caller: catch "
               "only Celery's TimeoutError around get()")  # fmt: skip


def _judge_failure(
    collect: Callable[..., Any], failed: AsyncResult, case: str, expected: str
) -> None:
    """``collect`` on a task that fails: ``("FAILURE", expected)``, whatever its exception."""
    name = expected.partition(":")[0]
    try:
        answer, _ = _collect(collect, failed, WAIT_SECONDS - 1, case)
    except Fail:
        raise
    except Exception as exc:
        if type(exc).__name__ != name or f"{name}: {exc}" != expected:
            raise
        hint = ("a task can fail with any exception, and get() re-raises it: pass "
                "propagate=False and ask result.failed(), rather than catching the exceptions "
                "you know of")  # fmt: skip
        if isinstance(exc, OSError | RedisConnectionError | RedisTimeoutError):
            hint = (f"the task itself failed with {name} (an OSError, as a task calling a "
                    "server may): the class does not tell the task's error from the result "
                    "backend's. Pass propagate=False and ask result.failed(): it failed, "
                    'so ("FAILURE", text)')  # fmt: skip
        raise Fail(f"for {case}, collect() let the task's {name} escape",
                   hint=hint) from None  # fmt: skip
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
        hint = f"name the exception, then its message: {expected[: len(name) + 2]}..."
        if "\n" in expected:
            hint = ("the message has two lines: f\"{type(exc).__name__}: {exc}\" keeps it "
                    "whole, the traceback's last line is only the last line of it")  # fmt: skip
        raise Fail(f"for {case}, collect() said {answer[1]!r:.80}", hint=hint)


def _judge_revoked_meanwhile(collect: Callable[..., Any]) -> None:
    """A task revoked while ``collect`` waits for it (after any read before its ``get()``)."""
    case = "a task revoked while collect() waited for it"

    def revoked_meanwhile(handle: AsyncResult, timeout: Any, real: Callable[[], Any]) -> Any:
        if handle.id == parked.id:
            # what a worker stores when the revoke reaches it
            app.backend.mark_as_revoked(parked.id, reason="revoked")
        return real()

    with _parked() as parked:
        try:
            answer, _, did = _run(
                collect, app.AsyncResult(parked.id), WAIT_SECONDS - 2, watch_gets=False,
                seconds=WAIT_SECONDS - 2 + ANSWER_SECONDS, reads_allowed=None,
                stop_sleeps=False, on_get=revoked_meanwhile,
            )  # fmt: skip
        except Exception as exc:
            raise Fail(
                f"for {case}, collect() raised {type(exc).__name__}: {exc}",
                hint='a revoked task is no error of collect(): answer ("REVOKED", None)',
            ) from None
    if answer == ("REVOKED", None) or not did.gets:
        return  # without get(), the other cases judge how it waits
    hint = 'a revoked task neither succeeded nor failed: answer ("REVOKED", None)'
    if isinstance(answer, tuple) and answer and answer[0] == "SUCCESS":
        hint = (
            "the task was revoked while you waited: read result.state after get() returns, "
            "not before (get() returned its TaskRevokedError; failed() is False)"
        )
    raise Fail(f"for {case}, collect() returned {answer!r:.80}", hint=hint)


@exercise("05.2", "wait safely", points=2)
def _wait(collect: Any) -> str:
    collect = need_function(collect, "collect", "collect(result, timeout)", purpose="reads results")

    case = "a task that takes 0.3 s"
    slow = sleepy_add.delay(1, 2, seconds=0.3)
    answer, _ = _collect(collect, slow, WAIT_SECONDS, case)
    if answer != ("SUCCESS", 3):
        hint = 'for a task that succeeds: ("SUCCESS", the value)'
        if answer[0] in ("PENDING", "STARTED", "TIMEOUT") or answer[1] is None:
            hint = "it answered before the task finished: wait with get(timeout=timeout)"
        raise Fail(f"for {case} returning 3, collect() returned {answer!r:.80}", hint=hint)

    failed = monthly_sales_report.delay(BAD_MONTH)
    _judge_failure(collect, failed, "a failed report",
                   f"ReportError: no sales data for month {BAD_MONTH!r}")  # fmt: skip
    failed = add.delay(1, "a")
    _judge_failure(collect, failed, 'a failed add(1, "a")',
                   "TypeError: unsupported operand type(s) for +: 'int' and 'str'")  # fmt: skip
    # a task whose own error is an OSError (the course's export out of retries), and one
    # whose message has two lines
    upload = UploadUnavailable("the file storage refused users.csv")
    with _stored_failure(upload) as failed:
        _judge_failure(collect, failed, "an export that failed with UploadUnavailable, a "
                       "ConnectionError", f"UploadUnavailable: {upload}")  # fmt: skip
    with _stored_failure(ReportError(TWO_LINES)) as failed:
        _judge_failure(collect, failed, "a failed report whose message has two lines",
                       f"ReportError: {TWO_LINES}")  # fmt: skip

    for timeout in TIMEOUTS:
        case = "a task no worker will run"
        with _parked() as parked:
            # what a worker that began it stored, say: a status page shows it
            app.backend.store_result(parked.id, STALLED_META, "PROGRESS")
            answer, _ = _collect(collect, parked, timeout, case, stalled=True)
            meta = type(app.backend).get_task_meta(app.backend, parked.id, cache=False)
        if meta["status"] != "PROGRESS":
            raise Fail(
                f"for {case} (PROGRESS stored), collect(result, {timeout:g}) answered "
                f"{answer!r:.40} and the task now reads {meta['status']}: collect() deleted "
                "what the result backend had on it (forget()?)",
                hint="a timeout only means that you stopped waiting: the task may still run, "
                "and a status page still reads its state. Leave the task and its result alone",
            )
        if answer == ("TIMEOUT", None):
            continue
        problem = f"for {case}, collect(result, {timeout:g}) returned {answer!r:.80}"
        if answer[0] == "FAILURE" and str(answer[1]).startswith("TimeoutError"):
            raise Fail(
                f"{problem}: get()'s timeout was reported as a failure of the task",
                hint="your except TimeoutError did not catch it: that name is Python's built-in "
                "TimeoutError, and get() raises celery.exceptions.TimeoutError, another class. "
                "Import Celery's: from celery.exceptions import TimeoutError",
            )
        raise Fail(problem, hint='when get(timeout=...) raises Celery\'s TimeoutError, return '
                   '("TIMEOUT", None)')  # fmt: skip

    for make in BACKEND_ERRORS:
        _judge_backend_error(collect, make)
    _judge_backend_error(collect, TRANSIENT_ERROR, transient=True)

    case = "a revoked task (cancelled before it ran)"
    with _parked() as parked:
        parked.revoke()
        _wait_for_state(parked, "REVOKED")
        answer, _ = _collect(collect, app.AsyncResult(parked.id), WAIT_SECONDS - 2, case)
    if answer != ("REVOKED", None):
        hint = 'a revoked task neither succeeded nor failed: answer ("REVOKED", None)'
        if answer[0] == "SUCCESS":
            hint = (
                "with propagate=False get() returns the TaskRevokedError of a revoked task, and "
                'failed() is False: look at result.state and answer ("REVOKED", None)'
            )
        elif answer[0] == "FAILURE":
            hint = 'a revoked task did not fail, it never ran: answer ("REVOKED", None)'
        raise Fail(f"for {case}, collect() returned {answer!r:.80}", hint=hint)
    _judge_revoked_meanwhile(collect)
    return (
        "SUCCESS with its value, FAILURE as text (a task's own OSError and a two-line message "
        "too), TIMEOUT after get(timeout=0.5) and (timeout=1.2) without revoking, the result "
        "backend's errors propagated (also one that failed only once), REVOKED"
    )


# --------------------------------------------------------------------------- 05.3

#: What ``cancel`` does instead of waiting.
CANCEL_NOW = (
    "decide from result.state as it is now and answer at once: a revoke needs no waiting, "
    "the workers store REVOKED themselves"
)


def _cancel(cancel: Callable[..., Any], task_id: str, case: str) -> tuple[Any, _Did]:
    """``cancel(task_id)``, watched: the answer, one of :data:`CANCEL_ANSWERS`, and what it did.

    Its revokes reach no worker while it runs, so a loop waiting for REVOKED is seen as one in
    every mode (:func:`_send_revokes` sends them afterwards)."""
    answer, seen, did = _run(cancel, task_id)
    _no_wait("cancel()", case, seen, did, CANCEL_NOW, no_get=True)
    if did.purged:
        raise Fail(
            f"for {case}, cancel() purged the queues (app.control.purge(), or a queue's "
            "purge()): that deletes every task waiting in them, not only this one",
            hint="revoke() alone is enough: a worker that comes to the revoked task's message "
            "skips it. Purging throws away everyone else's waiting tasks too",
        )
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, cancel() did not answer within {answer.seconds:g} s",
            hint=f"it waited for something: {CANCEL_NOW}",
        )
    if answer is None and is_stub_body(cancel, anywhere=True):
        raise NotYet("write the body of cancel")
    if answer not in CANCEL_ANSWERS:
        raise Fail(
            f"for {case}, cancel() returned {answer!r:.60}",
            hint='return "cancelled" for a task that had not started, "too late" otherwise',
        )
    return answer, did


def _terminate_hint(revoke: _Revoke) -> str:
    signal = str(getattr(revoke.signal, "name", revoke.signal)).upper().removeprefix("SIG")
    if signal in ("KILL", "9"):
        return (
            "signal='SIGKILL' does not take the task out of its queue (section 5): with "
            "terminate=True it kills the process running the task. A plain result.revoke() "
            "is all a task that has not started needs"
        )
    return (
        "terminate kills the process running the task wherever it is (and the solo and "
        "threads pools cannot do it at all), which the exercise forbids: a plain "
        "result.revoke() is all a task that has not started needs"
    )


def _left_alone(did: _Did, case: str) -> None:
    """A Fail if ``cancel`` sent a revoke for a task that is too late."""
    if not did.revokes:
        return
    revoke = did.revokes[0]
    if revoke.terminate:
        raise Fail(f"cancel() revoked {case} with {revoke.call()[7:-1]}",
                   hint=_terminate_hint(revoke))  # fmt: skip
    raise Fail(
        f'for {case}, cancel() answered "too late" but sent a revoke for it ({revoke.call()})',
        hint="leave a task that is too late alone: revoke only when result.state is PENDING "
        "(the id stays in every worker's list of ids to skip)",
    )


def _too_late(cancel: Callable[..., Any], task_id: str, case: str, hint: str) -> None:
    """A Fail (with ``hint``) unless ``cancel`` answers "too late" for ``task_id``, sending no
    revoke."""
    answer, did = _cancel(cancel, task_id, case)
    if answer != "too late":
        raise Fail(f"for {case}, cancel() said {answer!r}", hint=hint)
    _left_alone(did, case)


@exercise("05.3", "cancel a task that has not started", points=2)
def _cancel_check(cancel: Any) -> str:
    cancel = need_function(cancel, "cancel", "cancel(task_id)", purpose="revokes tasks")

    # A finished task: nothing to cancel, and nothing may change.
    done = add.delay(2, 2)
    done.get(timeout=WAIT_SECONDS)
    _too_late(cancel, done.id, "a finished task",
              "revoke() cannot undo a task that already ran: look at result.state first and "
              'answer "too late" unless it is PENDING')  # fmt: skip
    if done.state != "SUCCESS":
        raise Fail(f"the finished task now reads {done.state}", hint="leave finished tasks alone")

    # A running task: revoke() without terminate would not stop it; terminate kills it.
    running = sleepy_add.delay(1, 2, seconds=0.6)
    try:
        _wait_for_state(running, "STARTED")
        _too_late(cancel, running.id, "a running task (STARTED)",
                  'a running task reads STARTED: revoke() would not stop it, so it is "too '
                  'late". Only PENDING means that it has not started')  # fmt: skip
    finally:
        _finish(running)

    # Running tasks that report progress, and one whose next attempt may start at any moment.
    for state, meta, hint in (
        ("PROGRESS", {"current": 1, "total": 3}, "a task in PROGRESS is running (it reports how "
         "far it got): revoke() would not stop it. Only PENDING means that it has not started: "
         "test the state against PENDING rather than listing the states that are too late"),
        ("RETRY", ConnectionError("mail server down"), "RETRY means an attempt already ran; "
         'the next one may start at any moment, or already has: it is "too late" as the '
         "exercise says. Only PENDING means that the task has not started"),
    ):  # fmt: skip
        with _stored(state, meta) as task_id:
            _too_late(cancel, task_id, f"a task in {state}", hint)

    # A task that failed: it ran.
    failed = monthly_sales_report.delay(BAD_MONTH)
    _finish(failed)
    _too_late(cancel, failed.id, "a failed report (FAILURE)",
              'a failed task already ran: it is "too late", as the exercise says. Only PENDING '
              "means that it has not started: test the state against PENDING rather than "
              "listing the states that are too late")  # fmt: skip

    # A task still waiting in its queue: revoke it, so that it will never run.
    case = "a task waiting in its queue"
    with _parked(3, 4) as waiting:
        answer, did = _cancel(cancel, waiting.id, case)
        if answer != "cancelled":
            raise Fail(
                f"for {case}, cancel() said {answer!r}",
                hint='a PENDING task has not started: revoke it and answer "cancelled"',
            )
        mine = [revoke for revoke in did.revokes if waiting.id in revoke.task_ids]
        if not mine:
            raise Fail(
                'cancel() said "cancelled" but never revoked the task',
                hint="call app.AsyncResult(task_id).revoke(): that is what stops it running",
            )
        for revoke in mine:
            if revoke.terminate:
                raise Fail(f"for {case}, cancel() sent {revoke.call()}",
                           hint=_terminate_hint(revoke))  # fmt: skip
            if revoke.reply:
                raise Fail(
                    f"for {case}, cancel() waited for the workers' replies to its revoke "
                    f"({revoke.call()})",
                    hint="send the revoke and answer: revoke() returns at once unless you ask "
                    "for replies (wait=True, reply=True); the workers store REVOKED themselves",
                )
        _send_revokes(did)
        _wait_for_state(waiting, "REVOKED")

        # The same id again: REVOKED now, which is too late
        case = "the task it cancelled, asked again (REVOKED now)"
        answer, did = _cancel(cancel, waiting.id, case)
        if answer != "too late":
            hint = (
                'a revoked task is done with, as the exercise says: answer "too late" and '
                "send no revoke. Only PENDING means that it has not started"
            )
            if not did.revokes:
                hint = (
                    "it answered from an earlier call, not from the backend (a set of the ids "
                    "you cancelled lives in one process only, and is gone on a restart): read "
                    'result.state on every call; REVOKED is "too late"'
                )
            raise Fail(f"for {case}, cancel() said {answer!r}"
                       + (" and revoked it again" if did.revokes else ""), hint=hint)  # fmt: skip
        _left_alone(did, case)
    return (
        "too late for a finished task, running ones (STARTED, PROGRESS), RETRY, FAILURE and the "
        "one it cancelled, asked again (REVOKED), left alone; a waiting one revoked, nothing "
        "purged, no get()"
    )


# --------------------------------------------------------------------------- 05.4

#: What ``lookup`` does instead of waiting.
LOOKUP_NOW = "look the id up in the issued set, read result.state once, and answer"


def _lookup(lookup: Callable[..., Any], task_id: str, case: str) -> Any:
    answer, seen, did = _run(lookup, task_id, watch_store=True)
    _no_wait("lookup()", case, seen, did, LOOKUP_NOW)
    _only_reads(did, case)
    if isinstance(answer, StillRunning):
        raise Fail(
            f"for {case}, lookup() did not answer within {answer.seconds:g} s",
            hint=f"it waited for something: {LOOKUP_NOW}",
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


def _only_reads(did: _Did, case: str) -> None:
    """A Fail if ``lookup`` sent the app-data store a command that writes."""
    writes = [c for c in did.store_commands if c and str(c[0]).upper() not in STORE_READS]
    if not writes:
        return
    command = writes[0]
    sent = " ".join(str(part) for part in command[:3])
    name = str(command[0]).upper()
    hint = ("lookup only reads: store().sismember(...). Writing anything, to another key too, "
            "changes the app's data at every lookup")  # fmt: skip
    if name == "SADD" and str(command[1:2] and command[1]).endswith(ISSUED_KEY):
        hint = ("lookup only reads: store().sismember(...), not sadd (which adds the id as it "
                "checks it)")  # fmt: skip
    elif "EXPIRE" in name:
        hint = ("lookup only reads: store().sismember(...). An expiry on the issued set is "
                "not lookup's to set: a quiet day would lose every issued id")  # fmt: skip
    raise Fail(f"for {case}, lookup() sent {sent} to the app-data store: a write",
               hint=hint)  # fmt: skip


@exercise("05.4", "an unknown id or a waiting task?", points=2)
def _unknown(lookup: Any) -> str:
    lookup = need_function(lookup, "lookup", "lookup(task_id)", purpose="reads results")
    issued: list[str] = []
    #: issued ids lookup has answered right, and those issued before its first call: an id
    #: issued later that it calls "unknown" shows a copy of the set that went stale
    known: list[str] = []
    early: set[str] = set()
    #: ids never issued that lookup is asked about: none may end up in the set
    strangers: list[str] = []

    def issue(task_id: str) -> str:
        store().sadd(ISSUED_KEY, task_id)
        issued.append(task_id)
        return task_id

    def expect(task_id: str, case: str, want: str, hint: str, unknown_hint: str = "") -> None:
        answer = _lookup(lookup, task_id, case)
        if answer == want:
            known.append(task_id)
            return
        if answer == "unknown" and known and task_id not in early:
            raise Fail(
                f"for {case}, lookup() said 'unknown', though its id is in the set "
                f"{ISSUED_KEY!r} (issued after lookup's first call)",
                hint="read the issued set on every call (store().sismember(...)): a copy kept "
                "from an earlier call misses the ids issued since",
            )
        if answer == "unknown":
            hint = unknown_hint or (
                f"the app's issued ids are in the set {ISSUED_KEY!r} of the app-data store: "
                f"store().sismember({ISSUED_KEY!r}, task_id)"
            )
        raise Fail(f"for {case}, lookup() said {answer!r:.40}", hint=hint)

    state_hint = "for an issued id, answer the state the backend stores (result.state)"
    try:
        with (
            _parked() as parked,
            _stored("STARTED", _started_meta()) as running,
            _stored("RETRY", ConnectionError("mail server down")) as retrying,
            _stored("SUCCESS", 4) as stray,
        ):
            # issued before lookup's first call: a finished task and one waiting in its queue
            done = add.delay(2, 2)
            issue(done.id)
            issue(parked.id)
            early.update(issued)
            done.get(timeout=WAIT_SECONDS)
            expect(done.id, "an issued task that finished", "SUCCESS", state_hint)
            expect(parked.id, "an issued task still waiting in its queue", "waiting",
                   'an issued id that reads PENDING is "waiting": the backend has nothing on it '
                   "yet", unknown_hint="a task waiting in its queue has nothing in the result "
                   "backend either: the issued set is what tells it from a typo")  # fmt: skip

            # issued after it
            failed = monthly_sales_report.delay(BAD_MONTH)
            issue(failed.id)
            _finish(failed)
            expect(failed.id, "an issued task that failed", "FAILURE", state_hint)
            not_ready = (
                '"waiting" is only for PENDING, when the backend has nothing yet: this task '
                "has its state stored, though it is not ready(): return result.state"
            )
            expect(issue(running), "an issued task that is running (STARTED)", "STARTED",
                   not_ready)  # fmt: skip
            expect(issue(retrying), "an issued task waiting for its retry (RETRY)", "RETRY",
                   not_ready)  # fmt: skip

            # the task that was waiting has run since lookup's answer
            app.backend.store_result(parked.id, 7, "SUCCESS")
            case = "the issued task that was waiting, asked again after it ran (SUCCESS now)"
            answer = _lookup(lookup, parked.id, case)
            if answer != "SUCCESS":
                raise Fail(
                    f"for {case}, lookup() said {answer!r:.40}"
                    + (", as it did before it ran" if answer == "waiting" else ""),
                    hint="a task moves on: read the issued set and the state on every call; "
                    "an answer kept from an earlier call (a dict, lru_cache) goes stale",
                )

            case = "an id the app never issued"
            typo = done.id[:-1] + ("0" if done.id[-1] != "0" else "1")
            strangers.extend((str(uuid.uuid4()), typo))
            for task_id, again in ((strangers[0], ""), (typo, ""), (typo, ", asked again")):
                answer = _lookup(lookup, task_id, case + again)
                added = [t for t in strangers if store().sismember(ISSUED_KEY, t)]
                if added:
                    raise Fail(
                        f"for {case}, lookup() answered {answer!r:.40} and added the id to the "
                        f"set {ISSUED_KEY!r}: asked again, it is no longer unknown",
                        hint="lookup only reads: store().sismember(...), not sadd (which adds "
                        "the id as it checks it)",
                    )
                if answer != "unknown":
                    hint = 'an id nobody issued should read "unknown"'
                    if answer == "PENDING":
                        hint = ("Celery says PENDING for any id it has nothing on: check the "
                                "issued set first")  # fmt: skip
                    elif answer == "waiting":
                        hint = "PENDING alone cannot tell: look the id up in the issued set first"
                    raise Fail(f"for {case} (a typo or made up){again}, lookup() said "
                               f"{answer!r:.40}", hint=hint)  # fmt: skip

            # an id asked about before the app issued it (an app may choose its ids:
            # task_id=...), then issued
            later = str(uuid.uuid4())
            case = "an id the app had not issued yet"
            answer = _lookup(lookup, later, case)
            if answer != "unknown":
                raise Fail(f"for {case}, lookup() said {answer!r:.40}",
                           hint='an id nobody issued should read "unknown"')  # fmt: skip
            issue(later)
            case = "an id that was unknown, asked again once the app had issued it (PENDING)"
            answer = _lookup(lookup, later, case)
            if answer != "waiting":
                hint = 'an issued id that reads PENDING is "waiting"'
                if answer == "unknown":
                    hint = ("read the issued set on every call: an id unknown a moment ago may "
                            "have been issued since; a copy of the set, or of the unknown ids, "
                            "kept from an earlier call goes stale")  # fmt: skip
                raise Fail(f"for {case}, lookup() said {answer!r:.40}", hint=hint)

            # a task someone sent without the app: a worker ran it and stored its name too
            sent = add.delay(3, 3)
            strangers.append(sent.id)
            sent.get(timeout=WAIT_SECONDS)
            for task_id, case in (
                (stray, "an id the app never issued that has a result stored (SUCCESS)"),
                (sent.id, "an id the app never issued that a worker ran (SUCCESS, its task "
                 "name stored)"),
            ):  # fmt: skip
                answer = _lookup(lookup, task_id, case)
                if answer != "unknown":
                    raise Fail(
                        f"for {case}, lookup() said {answer!r:.40}",
                        hint='an id the app never issued is "unknown", whatever the backend '
                        "says (anyone can send a task or store a result, with a task name): "
                        "look in the issued set first",
                    )

            # an id the app took out of the set since (it expired, say): no longer issued
            store().srem(ISSUED_KEY, done.id)
            case = "an issued task that finished, asked again after the app took its id out of "
            case += f"the set {ISSUED_KEY!r}"
            answer = _lookup(lookup, done.id, case)
            if answer != "unknown":
                raise Fail(
                    f"for {case}, lookup() said {answer!r:.40}",
                    hint="the set is the record of the ids the app stands by: read it on every "
                    "call. A copy kept from an earlier call still has the ids taken out of it "
                    "since",
                )

            # the app-data store cannot be reached: an error, not an answer
            case = "an issued task that is running, while the app-data store cannot be reached"
            down = STORE_DOWN()
            try:
                answer, seen, did = _run(lookup, running, watch_store=True, store_down=down)
            except Exception as exc:
                if not _chained(exc, down):
                    raise
            else:
                _no_wait("lookup()", case, seen, did, LOOKUP_NOW)
                if not did.store_commands:
                    raise Fail(
                        f"for {case}, lookup() answered {answer!r:.40} without asking the store",
                        hint="read the issued set on every call: store().sismember(...)",
                    )
                raise Fail(
                    f"for {case} (redis.exceptions.ConnectionError: {down}), lookup() answered "
                    f"{answer!r:.40}",
                    hint="a store that cannot be reached says nothing about the id: let its "
                    "error reach the caller (the page shows an error and the user tries again), "
                    'rather than calling a real task "unknown"',
                )
    finally:
        if issued or strangers:
            store().srem(ISSUED_KEY, *issued, *strangers)
    return (
        "unknown for ids never issued (with a result stored, or run by a worker) and one taken "
        "out of the set, nothing written to the store; waiting for a queued task and one issued "
        "after it was asked about, SUCCESS once it ran; else the state (STARTED and RETRY "
        "too); the store's error let through"
    )
