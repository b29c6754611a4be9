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
  RETRY, REVOKED; PROGRESS also at 1 and 2 of 3, where ``int()`` and ``round()`` differ),
  without waiting (no ``get()``, no sleep, no loop on the state), and reads the state once:
  for a task that finishes while it reads (STARTED for the first reads, SUCCESS after) its
  answer must be one of the two, not a mix;
* 05.2 ``check("05.2", collect)``: ``collect(result, timeout)`` waits at most about
  ``timeout`` seconds (the timeouts it passes to ``get()``, and its sleeps, are read: a task
  no worker runs gets Celery's ``TimeoutError`` at once) and answers ``("SUCCESS", value)``,
  ``("FAILURE", "Name: message")``, ``("REVOKED", None)`` or ``("TIMEOUT", None)``; it never
  revokes the task it stopped waiting for, and lets an error of the result backend (two kinds,
  raised by ``get()`` and by every read of the state) propagate, not reported as a timeout;
* 05.3 ``check("05.3", cancel)``: ``cancel(task_id)`` revokes a task that has not started,
  without ``terminate`` and without waiting for the workers' replies, and answers
  ``"cancelled"``; it answers ``"too late"`` for a running or finished task and sends no
  revoke for it; it waits for nothing (no ``get()``, sleep or loop on the state);
* 05.4 ``check("05.4", lookup)``: ``lookup(task_id)`` answers ``"unknown"`` for an id the app
  never issued, whatever the backend says (one of them has a result stored), ``"waiting"`` for
  an issued task the backend has nothing on, and the stored state otherwise (SUCCESS, FAILURE,
  and STARTED and RETRY, which are not ready either). Issued ids are in the app-data set
  :data:`ISSUED_KEY`, and the check issues some of them between two calls of ``lookup``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import kombu
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
from course_tasks.tasks.reports import ReportError, monthly_sales_report

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
      ``on_get`` instead.
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

    names = getattr(fn, "__globals__", None)
    own_sleeps = [n for n, v in names.items() if v is real_sleep] if isinstance(names, dict) else []
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(backend_cls, "get_task_meta", get_task_meta))
        stack.enter_context(mock.patch.object(time, "sleep", sleep))
        stack.enter_context(mock.patch.object(threading.Event, "wait", event_wait))
        stack.enter_context(mock.patch.object(threading.Condition, "wait", condition_wait))
        stack.enter_context(mock.patch.object(kombu.Queue, "purge", purge))
        stack.enter_context(mock.patch.object(app.control, "broadcast", broadcast))
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


def _no_wait(who: str, case: str, seen: Seen, did: _Did, now: str) -> None:
    """A Fail if ``who`` waited in a way the check saw; ``now`` says what to do instead."""
    if seen.waited:
        raise Fail(
            f"for {case}, {who} waited for the task (it called get() on it)",
            hint=f"get() waits until the task finishes, maybe for ever: {now}",
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
    _no_wait("status()", case, seen, did, STATUS_NOW)
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
                _no_wait("status()", case, seen, did, STATUS_NOW)
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
    for current, total in THIRDS:
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

        # REVOKED
        waiting.revoke()
        _wait_for_state(waiting, "REVOKED")
        case = "a revoked task"
        answer = _status_of(status, waiting.id, case)
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

    # A task that finishes while status() reads it
    _judge_race(status)
    return (
        "json for PENDING, STARTED, PROGRESS (1/4, 1/3, 2/3), SUCCESS, FAILURE, RETRY and "
        "REVOKED, without waiting, the state read once"
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
) -> tuple[Any, _Did]:
    """``collect(result, timeout)``, recorded: its answer (a checked pair) and what it did.

    Every ``get()`` records its timeout. With ``stalled`` (a task no worker will run), it
    raises Celery's ``TimeoutError`` at once, as it would when its timeout ran out; with
    ``broken``, ``get()`` and every read of the task's state raise that error.
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
            broken={result.id: broken} if broken is not None else None,
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


def _judge_backend_error(collect: Callable[..., Any], make: Callable[[], Exception]) -> None:
    """``get()`` raises an error of the result backend: ``collect`` must let it propagate."""
    error = make()
    name = f"{type(error).__module__}.{type(error).__name__}"
    case = f"a result backend that cannot be reached ({name}: {error})"
    with _parked() as parked:
        try:
            answer, _ = _collect(collect, parked, 1.0, case, broken=error)
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
    problem = f"when get() raised {name} ({error}), collect() returned {answer!r:.80}"
    if answer == ("TIMEOUT", None) and isinstance(error, OSError):
        raise Fail(
            problem,
            hint=f"Python's built-in {type(error).__name__} (an OSError, as are the built-in "
            "TimeoutError and socket errors) comes from the connection to the result backend, "
            "not from get()'s timeout: catch only Celery's TimeoutError (from celery.exceptions "
            "import TimeoutError) and let this one reach the caller",
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
        raise Fail(
            f"for {case}, collect() let the task's {name} escape",
            hint="a task can fail with any exception, and get() re-raises it: pass "
            "propagate=False and ask result.failed(), rather than catching the exceptions "
            "you know of",
        ) from None
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
            hint=f"name the exception, then its message: {expected[: len(name) + 2]}...",
        )


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
        "SUCCESS with its value, FAILURE as text, TIMEOUT after get(timeout=0.5) and "
        "(timeout=1.2) without revoking, the result backend's errors propagated, REVOKED"
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
    _no_wait("cancel()", case, seen, did, CANCEL_NOW)
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


@exercise("05.3", "cancel a task that has not started", points=2)
def _cancel_check(cancel: Any) -> str:
    cancel = need_function(cancel, "cancel", "cancel(task_id)", purpose="revokes tasks")

    # A finished task: nothing to cancel, and nothing may change.
    done = add.delay(2, 2)
    done.get(timeout=WAIT_SECONDS)
    case = "a finished task"
    answer, did = _cancel(cancel, done.id, case)
    if answer != "too late":
        raise Fail(
            f"for {case}, cancel() said {answer!r}",
            hint="revoke() cannot undo a task that already ran: look at result.state first "
            'and answer "too late" unless it is PENDING',
        )
    _left_alone(did, case)
    if done.state != "SUCCESS":
        raise Fail(f"the finished task now reads {done.state}", hint="leave finished tasks alone")

    # A running task: revoke() without terminate would not stop it; terminate kills it.
    running = sleepy_add.delay(1, 2, seconds=0.6)
    case = "a running task (STARTED)"
    try:
        _wait_for_state(running, "STARTED")
        answer, did = _cancel(cancel, running.id, case)
        if answer != "too late":
            raise Fail(
                f"for {case}, cancel() said {answer!r}",
                hint='a running task reads STARTED: revoke() would not stop it, so it is "too '
                'late". Only PENDING means that it has not started',
            )
        _left_alone(did, case)
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
        case = f"a task in {state}"
        with _stored(state, meta) as task_id:
            answer, did = _cancel(cancel, task_id, case)
        if answer != "too late":
            raise Fail(f"for {case}, cancel() said {answer!r}", hint=hint)
        _left_alone(did, case)

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
    return (
        "too late for a finished task and running ones (STARTED, PROGRESS) or RETRY, left "
        "alone; a waiting one revoked, nothing purged"
    )


# --------------------------------------------------------------------------- 05.4

#: What ``lookup`` does instead of waiting.
LOOKUP_NOW = "look the id up in the issued set, read result.state once, and answer"


def _lookup(lookup: Callable[..., Any], task_id: str, case: str) -> Any:
    answer, seen, did = _run(lookup, task_id)
    _no_wait("lookup()", case, seen, did, LOOKUP_NOW)
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
    finally:
        if issued or strangers:
            store().srem(ISSUED_KEY, *issued, *strangers)
    return (
        "unknown for ids never issued (with a result stored, or run by a worker), the set left "
        "as it was; waiting for a queued task, SUCCESS once it ran; else the state (STARTED and "
        "RETRY too); the set and the state read on every call"
    )
