"""Checks of chapter 10's exercises (``solutions/10_best_practices_solutions.ipynb``).

* 10.1 ``check("10.1", pay)``: ``pay(order_id, amount)`` charges the card
  (:func:`course_tasks.tasks.practices.charge_card`) at most once per order, whichever pool
  process or worker a delivery runs on, even when two deliveries run at the same time and when
  a delivery died (after ``charge_card`` too) and comes again an hour later; answers
  ``"charged"`` or ``"already paid"``; the mark in the store expires, a day or more after each
  payment (not at one instant for every order, and as long on a machine whose local time is
  UTC+14 as on a UTC one), repeat deliveries (the same amount, another) leave it as it was, no
  other order's payment pushes its expiry back, and a redelivery an hour later across
  midnight (the workers' clocks, ``time`` and ``datetime``, read 23:30 then 00:30) finds it.
  Other keys an answer keeps beside the mark (an attempt record, an audit of the paid
  orders) are its own business.
* 10.2 ``check("10.2", RETRY_OPTIONS)``: the options of a task that calls a flaky service:
  retry :class:`~course_tasks.tasks.practices.TemporaryError` and nothing else,
  automatically, with countdowns of at most 1, 2, 4... s (never over 60 s), with jitter, at
  most 5 times (a plain or another library's ``ConnectionError``, a ``TimeoutError``, an
  ``OSError`` are not retried either); the messages a worker gets (the task's, a retry's) are
  json and go to the task's own queue, and a retry does not expire before its countdown.
* 10.3 ``check("10.3", acquire, release)``: a Redis lock at ``practices.key("lock", name)``
  with an expiry that a refused acquire does not push back, counted by Redis (a worker whose
  clock is ahead of Redis's holds it no longer), and a random token (two workers
  whose clocks agree get two; ``uuid.uuid1()``, redis-py's ``Lock``'s, is fine: its clock
  sequence is random); ``acquire`` answers ``None`` when the lock
  is held; ``release`` deletes it only for the token's holder (another holder's lock is never
  gone, not even for a moment) and answers ``True``/``False`` (the bools), ``False`` for a lock
  that expired.
* 10.4 ``check("10.4", encode)``: ``encode(name, parts)`` stops, removes its temporary file
  and returns ``"stopped"`` when ``SoftTimeLimitExceeded`` strikes, in a part or between two
  (at any store command or ``time.sleep`` of its own from ``open_temp`` to the last part);
  other errors propagate (a
  full disk, a bug, a ``TimeoutError``, a ``RuntimeError``), as they are (not wrapped in
  another type); parts encoded on other threads, which the limit never reaches, are named.

How they run the learner's code:

* Every store command of the learner's code goes through :func:`_watched_store`, a wrapper
  around the ``execute_command`` of the client that ``store()`` returns and of its pipelines
  (a command sent at once after ``WATCH`` is one command, a ``MULTI``/``EXEC`` one step: see
  :func:`_watch_pipeline`), for the check's duration, and only for the calls the check makes
  (:class:`_Run`). It records the commands
  and their keys, and can make a call die right after its n-th command (:class:`_Crash`, a
  ``BaseException``: a killed process runs no ``except``), run two calls in lockstep
  (:class:`_Lockstep`: each command waits until the other call has reached its own command of
  that number, so a ``GET`` then ``SET`` of two callers always interleaves), act between two
  commands (a lock that expires and is taken by another holder), or raise at a command
  (``SoftTimeLimitExceeded`` during a given part, a full disk).
* A second pool process is :class:`_Fork`: the learner's functions rebuilt over copies of what
  they reach in their module (a set, a dict, a counter, a lock, a closure, a default), as a
  prefork pool process gets its own copy of the worker's memory; it shares the store only.
  10.1 and 10.3 run their deliveries and holders on both "processes". Another worker is such
  a copy with what differs between interpreters: ``hash()`` of a ``str`` (salted per process)
  and the host name (:class:`_OtherHost`), for 10.1; a clock (:class:`_Clock`: ``time``,
  ``datetime``, the monotonic counters) that reads the same as another worker's, for 10.3's
  tokens (and one two days ahead, for 10.1's expiry instants; 23:30 and 00:30, for 10.1's
  redelivery across midnight; ten minutes ahead of Redis's, for 10.3's expiry). A clock
  reaches the names the learner's module imported (``import time``, ``from datetime import
  datetime``), not a module imported inside a function. 10.1 runs under the local time zone
  UTC+14 (``TZ``), and compares a mark's lifetime there and in UTC.
* A pipeline without ``MULTI``/``EXEC`` is as many commands as it holds (:func:`_watch_pipeline`).
* 10.2 builds a task with the options and runs it with ``task.apply()``: Celery's own retry
  code (``autoretry_for``'s wrapper, ``Task.retry``) computes every countdown, collected from
  the ``task_retry`` signal, without waiting them out (a schedule of 1 + 2 + 4 + 8 + 16 s
  would not fit a check). The service raises a temporary error, a permanent one, a bug
  (``KeyError``) or another error: :data:`OTHERS`. ``apply()`` sends no message, so the check
  also reads the ones a worker would get (:func:`_message_problem`): the task's options and the
  retry's signature (``Retry.sig``), serialized as a worker decodes them (``accept_content``)
  and routed by the app's router.
* 10.4 raises ``SoftTimeLimitExceeded`` inside ``encode`` during each part of a short run in
  turn (from the part's store command), and from a signal handler 0.2 s after the first part
  of a long run, as the prefork pool's child does (``billiard.pool.soft_timeout_sighandler``
  on ``SIGUSR1``; here ``SIGALRM`` from a timer); it counts the parts encoded after the limit
  (and those encoded in the ``except`` block that caught it). It also strikes at each wait of
  ``encode``'s own thread between ``open_temp`` and the last part (a store command other than
  a part's, a ``time.sleep`` seen by ``sys.setprofile``) in turn: a signal comes at any
  moment, most often while the process waits. Then part 1 fails with each of
  :func:`_failures` in turn.
"""

from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import copy
import datetime as _datetime
import errno
import functools
import inspect
import math
import os
import platform
import random
import signal
import socket
import sys
import textwrap
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any

from celery import signals
from celery.exceptions import SoftTimeLimitExceeded
from kombu.serialization import dumps as _dumps
from kombu.serialization import loads as _loads
from kombu.serialization import prepare_accept_content
from redis.exceptions import WatchError

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    error_text,
    is_stub_body,
    kind,
    local_zone,
    need_function,
    quiet_trace_log,
)
from course_tasks.namespace import prefix_command
from course_tasks.store import store
from course_tasks.tasks import practices
from course_tasks.tasks.practices import PermanentError, TemporaryError

#: What exercise 10.1's ``pay`` answers.
CHARGED, ALREADY = "charged", "already paid"
#: How long 10.1's mark must last at least (a redelivery can come an hour later), in seconds,
#: and the room the check leaves for the time between the SET and its reading of the TTL.
MARK_SECONDS, MARK_ROOM = 24 * 3600, 600
#: When 10.1 redelivers the order of a delivery that died (the visibility timeout, an hour),
#: and how long the keys of one payment have left when the next order is paid (seconds).
REDELIVERY, LATER = 3600, 600
#: How long 10.1 waits between two payments whose marks must not expire at the same instant.
PAUSE = 1.2
#: The local time zone 10.1 pays in: UTC+14 (the Line Islands, the furthest east), as a POSIX
#: TZ string, which needs no time zone database; and UTC.
EAST, EAST_NAME, UTC = "<+14>-14", "UTC+14", "UTC0"
#: What 10.3's holder has left of its lock when another acquire is refused (milliseconds).
HELD_MS = 2000
#: How far ahead of Redis's clock 10.3's skewed worker's clock is (seconds).
SKEW = 600
#: The schedule exercise 10.2 asks for (without jitter): 1 s, doubling, at most 60 s.
SCHEDULE = [1, 2, 4, 8, 16]
CAP, MAX_RETRIES = 60, 5
#: When the check's soft time limit strikes in exercise 10.4's long run (after the first part).
SOFT_SECONDS = 0.2
#: At most how many of encode's waits between parts (store commands, sleeps) 10.4 strikes at.
MAX_BLOCKS = 12
#: How long a call in lockstep waits for the other one at most (only a stuck call makes it wait
#: that long), and how long the check waits for calls running at the same time to return.
STEP_SECONDS, JOIN_SECONDS = 10.0, 60.0
_runs = count(1)
_MISSING = object()


def _order(tag: str) -> str:
    return f"check-{tag}-{uuid.uuid4().hex[:8]}"


def _charges(order_id: str) -> int:
    return sum(1 for entry in practices.charges() if entry.rsplit(":", 1)[0] == order_id)


# --------------------------------------------------------------------------- the store, watched


class _Crash(BaseException):  # noqa: N818 (not an error: the simulated death of a process)
    """The process running the learner's code dies here (no ``except Exception`` runs)."""


def _command(args: tuple[Any, ...]) -> tuple[str, list[str]]:
    """The name of a store command and its keys (as the learner named them)."""
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    marked = prefix_command("\0", args, strict=False)
    keys = [str(old) for new, old in zip(marked, args, strict=False) if new is not old]
    return name.split(" ", 1)[0].upper(), keys


class _Run:
    """One call of the learner's code, as the store sees it (see :func:`_watched_store`).

    ``commands``: ``(name, keys)`` of each command it sent. ``crash_after=n``: it dies right
    after its n-th command (and sends nothing more). ``gate``: a :class:`_Lockstep` it shares
    with calls running at the same time. ``before(run, name, keys, args)`` runs before each
    command (it may raise: a time limit, a full disk), ``between[n]()`` right after the n-th
    (outside any run: what other processes do meanwhile).
    """

    def __init__(
        self,
        *,
        crash_after: int | None = None,
        gate: _Lockstep | None = None,
        before: Callable[..., None] | None = None,
        between: dict[int, Callable[[], None]] | None = None,
    ) -> None:
        self.commands: list[tuple[str, list[str]]] = []
        self.piped: set[int] = set()  # indexes of commands sent by a pipeline without MULTI
        self.crash_after = crash_after
        self.gate = gate
        self.before = before
        self.between = between or {}
        self.dead = False

    def names(self) -> list[str]:
        return [name for name, _ in self.commands]

    def touched(self) -> list[str]:
        return list(dict.fromkeys(key for _, keys in self.commands for key in keys))

    def _before(self, name: str, keys: list[str], args: tuple[Any, ...]) -> None:
        if self.dead:
            raise _Crash()
        if self.gate is not None:
            self.gate.arrive(self)
        if self.before is not None:
            self.before(self, name, keys, args)

    def _after(self, name: str, keys: list[str]) -> None:
        self.commands.append((name, keys))
        done = len(self.commands)
        if done == self.crash_after:
            self.dead = True
            raise _Crash()
        action = self.between.get(done)
        if action is not None:
            with _running(None):
                action()

    def send(
        self, name: str, keys: list[str], args: tuple[Any, ...], call: Callable[[], Any]
    ) -> Any:
        """One store command (or a pipeline's batch, one step) of this run: ``call()``."""
        self._before(name, keys, args)
        reply = call()
        self._after(name, keys)
        return reply


_local = threading.local()


@contextmanager
def _running(run: _Run | None) -> Iterator[_Run | None]:
    """Calls of the learner's code in this thread, from here, belong to ``run``."""
    was = getattr(_local, "run", None)
    _local.run = run
    try:
        yield run
    finally:
        _local.run = was


def _unprefixed(prefix: str, keys: list[str]) -> list[str]:
    """Keys a namespaced pipeline sends (``learner:NAME:...``), as the learner named them."""
    if not prefix:
        return keys
    return [key[len(prefix) :] if key.startswith(prefix) else key for key in keys]


def _watch_pipeline(pipe: Any) -> Any:
    """``pipe``'s commands go through the current thread's :class:`_Run`, as the client's do.

    A command sent at once (``WATCH``, then a ``GET`` before ``multi()``, or a ``DEL`` with no
    ``multi()`` at all) is one command; ``execute()`` of a transaction sends its queued
    commands as one step (in ``MULTI``/``EXEC`` they run together: nothing comes between them,
    and a process that dies sends all or none), named ``MULTI SETNX EXPIRE EXEC``; a pipeline
    without a transaction (``transaction=False``) is as many commands as it holds: Redis runs
    them one by one, other clients' commands can come between them, and a client that dies
    (or loses its connection) in the middle has sent only the first ones.
    """
    prefix = getattr(pipe, "global_keyprefix", "") or ""
    immediate, execute = pipe.immediate_execute_command, pipe.execute
    inside: list[bool] = []  # execute() is running (its SCRIPT LOADs are part of it)

    def immediate_execute_command(*args: Any, **options: Any) -> Any:
        run = getattr(_local, "run", None)
        if run is None or inside:
            return immediate(*args, **options)
        name, keys = _command(args)
        return run.send(name, _unprefixed(prefix, keys), args, lambda: immediate(*args, **options))

    def one_by_one(run: _Run, raise_on_error: bool = True) -> list[Any]:
        """A pipeline without ``MULTI``/``EXEC``: Redis runs its commands one by one, like
        the client's own; each is one command here (a process can die between two)."""
        stack, replies = list(pipe.command_stack), []
        for command, command_options in stack:
            name, keys = _command(command)

            def call(command: Any = command, command_options: Any = command_options) -> Any:
                pipe.command_stack = [(command, command_options)]
                inside.append(True)
                try:
                    return execute(raise_on_error=False)[0]
                finally:
                    inside.pop()

            run.piped.add(len(run.commands))
            replies.append(run.send(name, _unprefixed(prefix, keys), command, call))
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if errors and raise_on_error:
            raise errors[0]
        return replies

    def execute_queued(*args: Any, **options: Any) -> Any:
        run = getattr(_local, "run", None)
        queued = [_command(command) for command, _ in pipe.command_stack]
        if run is None or not (queued or pipe.watching):
            return execute(*args, **options)
        if not (pipe.transaction or pipe.explicit_transaction or pipe.watching):
            return one_by_one(run, *args, **options)
        names = " ".join(name for name, _ in queued)
        if pipe.transaction or pipe.explicit_transaction:
            name = f"MULTI {names} EXEC".replace("  ", " ")
        else:  # a WATCH with no MULTI: as redis-py sends it
            name = f"PIPELINE {names}".strip()
        keys = _unprefixed(prefix, list(dict.fromkeys(k for _, ks in queued for k in ks)))

        def call() -> Any:
            inside.append(True)
            try:
                return execute(*args, **options)
            finally:
                inside.pop()

        return run.send(name, keys, (name, *keys), call)

    pipe.immediate_execute_command = immediate_execute_command
    pipe.execute = execute_queued
    return pipe


@contextmanager
def _watched_store() -> Iterator[None]:
    """The store client's commands go through the current thread's :class:`_Run`, if any.

    So do those of its pipelines (``MULTI``/``EXEC``, ``WATCH``): :func:`_watch_pipeline`.
    """
    client = store()
    real, real_pipeline = client.execute_command, client.pipeline
    before = {name: vars(client).get(name, _MISSING) for name in ("execute_command", "pipeline")}

    def execute_command(*args: Any, **options: Any) -> Any:
        run = getattr(_local, "run", None)
        if run is None:
            return real(*args, **options)
        name, keys = _command(args)
        return run.send(name, keys, args, lambda: real(*args, **options))

    def pipeline(*args: Any, **options: Any) -> Any:
        return _watch_pipeline(real_pipeline(*args, **options))

    client.execute_command = execute_command
    client.pipeline = pipeline
    try:
        yield
    finally:
        for name, was in before.items():
            if was is _MISSING:
                vars(client).pop(name, None)
            else:
                setattr(client, name, was)


class _Lockstep:
    """Calls that send their store commands in turn.

    Before its n-th command a call waits until every other call has come to its own n-th
    command (or has returned): two callers' ``GET`` both run before either's ``SET``, however
    fast the machine. A call that waits for another stuck one goes on after STEP_SECONDS.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._at: dict[_Run, float] = {}

    def add(self, run: _Run) -> _Run:
        self._at[run] = 0
        run.gate = self
        return run

    def arrive(self, run: _Run) -> None:
        with self._ready:
            self._at[run] += 1
            n = self._at[run]
            self._ready.notify_all()
            self._ready.wait_for(lambda: min(self._at.values()) >= n, timeout=STEP_SECONDS)

    def leave(self, run: _Run) -> None:
        with self._ready:
            self._at[run] = math.inf
            self._ready.notify_all()


def _call(fn: Callable[..., Any], *args: Any, run: _Run | None = None) -> tuple[Any, _Run]:
    """``fn(*args)`` in this thread as one watched call: its answer, and its :class:`_Run`."""
    run = run if run is not None else _Run()
    with _running(run):
        return fn(*args), run


def _crashed(fn: Callable[..., Any], args: tuple[Any, ...], after: int) -> _Run:
    """``fn(*args)``, whose process dies right after its ``after``-th store command."""
    run = _Run(crash_after=after)
    with _running(run), quiet_trace_log():
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 (the call died: what it left is judged)
            if not isinstance(exc, (_Crash, Exception)):
                raise
    return run


def _its(name: str, keys: list[str]) -> str:
    return f"its {name}"


def _deaths(
    fn: Callable[..., Any],
    full: _Run,
    arguments: Callable[[], tuple[Any, ...]],
    label: Callable[[str, list[str]], str] = _its,
) -> Iterator[tuple[tuple[Any, ...], _Run, str]]:
    """``fn`` dying right after each store command of ``full`` (a whole run) in turn.

    Yields, once each call has died, its arguments (from ``arguments()``, new ones each time),
    its :class:`_Run` and where it died, each command named by ``label(name, keys)``: ``its
    SETNX (before its EXPIRE)``.
    """
    commands = full.commands
    for after in range(1, len(commands) + 1):
        args = arguments()
        died = _crashed(fn, args, after)
        last = died.commands[-1] if died.commands else commands[after - 1]
        then = f" (before {label(*commands[after])})" if after < len(commands) else ""
        yield args, died, f"{label(*last)}{then}"


def _at_once(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]], what: str) -> list[Any]:
    """Run ``calls`` at the same time, in lockstep; their answers (or the exceptions raised)."""
    gate = _Lockstep()
    runs = [gate.add(_Run()) for _ in calls]
    box: list[Any] = [None] * len(calls)

    def call(i: int) -> None:
        fn, args = calls[i]
        try:
            with _running(runs[i]):
                box[i] = fn(*args)
        except Exception as exc:  # reported by the caller
            box[i] = exc
        finally:
            gate.leave(runs[i])

    threads = [
        threading.Thread(target=call, args=(i,), name=f"course-check-10-{i}", daemon=True)
        for i in range(len(calls))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    if any(thread.is_alive() for thread in threads):
        raise Fail(f"{what} did not return within {JOIN_SECONDS:g} s when two ran at once")
    return box


# --------------------------------------------------------------------------- another process


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _Fork:
    """The learner's functions as another pool process of the same worker runs them.

    A prefork worker forks its pool processes when it starts: each gets its own copy of the
    worker's memory, and they share only what lives outside, the store. ``copy(fn)`` rebuilds
    ``fn`` over copies, made now, of what it reaches in its own module: containers (a set, a
    dict, a list...), counters, random generators, locks (new, free ones), closures, defaults,
    the module's other functions, classes and their objects. Modules, Redis clients and
    everything from other modules stay shared, as the store itself is.

    Another worker (a process started on its own, on this host or another) is a copy too, with
    what differs between interpreters: ``builtins`` replaces built-in names the module does not
    define itself (``hash``, salted per interpreter: :func:`_other_hash`), ``swap`` replaces
    objects it reaches by their ``id`` (the ``time`` module and ``time.time``, for a clock).
    """

    def __init__(
        self,
        *functions: Any,
        swap: dict[int, Any] | None = None,
        builtins: dict[str, Any] | None = None,
    ) -> None:
        self._swap = swap or {}
        self._builtins = builtins or {}
        self._memo: dict[int, Any] = {}
        self._kept: list[Any] = []  # what the memo's ids name stays alive
        self._spaces: dict[int, dict[str, Any]] = {}
        self._copied_names: dict[int, set[str]] = {}
        self._modules = {getattr(fn, "__module__", None) for fn in functions} - {None}
        self._globals = {id(fn.__globals__): fn.__globals__ for fn in functions
                         if isinstance(fn, types.FunctionType)}  # fmt: skip

    def copy(self, value: Any) -> Any:
        key = id(value)
        if key in self._swap:
            return self._swap[key]
        if key not in self._memo:
            self._kept.append(value)
            try:
                made = self._make(value)
            except Exception:  # something this copy cannot make: shared, as before
                made = value
            self._memo[key] = made
        return self._memo[key]

    def _learner(self, value: Any) -> bool:
        return getattr(value, "__module__", None) in self._modules

    def _make(self, value: Any) -> Any:
        memo = self._memo
        if isinstance(value, types.FunctionType):
            if id(value.__globals__) not in self._globals and not self._learner(value):
                return value
            return self._function(value)
        if isinstance(value, _LOCK_TYPES):
            return threading.RLock() if "RLock" in type(value).__name__ else threading.Lock()
        if isinstance(value, (str, bytes, int, float, complex, bool, type(None), frozenset)):
            return value
        if isinstance(value, dict):
            made = copy.copy(value)
            memo[id(value)] = made
            for name in list(made):
                made[name] = self.copy(made[name])
            return made
        if isinstance(value, list):
            made = copy.copy(value)
            memo[id(value)] = made
            made[:] = [self.copy(item) for item in value]
            return made
        if isinstance(value, collections.deque):
            made = collections.deque(maxlen=value.maxlen)
            memo[id(value)] = made
            made.extend(self.copy(item) for item in value)
            return made
        if isinstance(value, (set, bytearray, random.Random)):
            return copy.copy(value)
        if isinstance(value, count):
            state = ast.literal_eval(repr(value)[len("count") :])
            return count(*state) if isinstance(state, tuple) else count(state)
        if isinstance(value, functools.partial):
            return functools.partial(
                self.copy(value.func),
                *(self.copy(arg) for arg in value.args),
                **{name: self.copy(arg) for name, arg in value.keywords.items()},
            )
        if isinstance(value, types.MethodType):
            return types.MethodType(self.copy(value.__func__), self.copy(value.__self__))
        if hasattr(value, "cache_parameters") and hasattr(value, "__wrapped__"):  # lru_cache
            if not self._learner(value):
                return value
            wrapper = functools.lru_cache(**value.cache_parameters())
            return functools.update_wrapper(wrapper(self.copy(value.__wrapped__)), value)
        if isinstance(value, type):
            if not self._learner(value) or value.__module__ == "builtins":
                return value
            attributes = {
                name: attr for name, attr in vars(value).items()
                if name not in ("__dict__", "__weakref__")
            }  # fmt: skip
            made = type(value)(value.__name__, value.__bases__, {})
            memo[id(value)] = made
            for name, attr in attributes.items():
                setattr(made, name, self.copy(attr))
            return made
        if self._learner(type(value)) and hasattr(value, "__dict__"):
            made = copy.copy(value)
            memo[id(value)] = made
            made.__dict__.update({name: self.copy(v) for name, v in vars(value).items()})
            cls = self.copy(type(value))
            if cls is not type(value):
                made.__class__ = cls
            return made
        return value

    def _function(self, fn: types.FunctionType) -> types.FunctionType:
        space = self._space(fn.__globals__)
        cells = None
        if fn.__closure__ is not None:
            cells = tuple(types.CellType() for _ in fn.__closure__)
        made = types.FunctionType(fn.__code__, space, fn.__name__, None, cells)
        self._memo[id(fn)] = made
        made.__qualname__, made.__module__ = fn.__qualname__, fn.__module__
        made.__doc__ = fn.__doc__
        made.__dict__.update(fn.__dict__)
        if fn.__defaults__ is not None:
            made.__defaults__ = tuple(self.copy(v) for v in fn.__defaults__)
        if fn.__kwdefaults__ is not None:
            made.__kwdefaults__ = {name: self.copy(v) for name, v in fn.__kwdefaults__.items()}
        for old, new in zip(fn.__closure__ or (), cells or (), strict=True):
            with contextlib.suppress(ValueError):  # an empty cell (a name not assigned yet)
                new.cell_contents = self.copy(old.cell_contents)
        self._copy_names(fn.__code__, fn.__globals__)
        return made

    def _space(self, namespace: dict[str, Any]) -> dict[str, Any]:
        key = id(namespace)
        if key not in self._spaces:
            self._spaces[key] = dict(namespace)
            for name, value in self._builtins.items():
                self._spaces[key].setdefault(name, value)
            self._copied_names[key] = set()
        return self._spaces[key]

    def _copy_names(self, code: types.CodeType, namespace: dict[str, Any]) -> None:
        space, done = self._spaces[id(namespace)], self._copied_names[id(namespace)]
        for name in code.co_names:
            if name in namespace and name not in done and not name.startswith("__"):
                done.add(name)
                space[name] = self.copy(namespace[name])
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self._copy_names(const, namespace)


def _salted(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    return isinstance(value, (tuple, frozenset)) and any(_salted(item) for item in value)


def _other_hash(value: Any) -> int:
    """``hash()`` in another interpreter: a ``str``'s or ``bytes``' hash is salted per process
    (``PYTHONHASHSEED``), so another worker, or this one restarted, computes another value;
    numbers hash the same everywhere."""
    if _salted(value):
        return builtins.hash(("another interpreter's salt", value))
    return builtins.hash(value)


class _Clock:
    """A clock that reads the same as every other ``_Clock`` made from the same ``start``: the
    clocks of two workers that agree (1 µs further at each reading, so that it moves on).

    It is the wall clock (``time.time``, ``time.time_ns``, ``localtime``, ``gmtime``, ``ctime``
    and ``strftime`` with no time given, ``datetime``'s ``now``, ``utcnow``, ``today``), and
    the counters that start when a machine (or a process) does
    (``time.monotonic``, ``perf_counter``, ``process_time``, ``thread_time`` and their
    ``_ns``): two workers started together read the same there too."""

    #: The counters a worker reads, which :class:`_Clock` replaces: they read the seconds
    #: since ``start`` (plus a machine's uptime), the same on every clock of that start.
    COUNTERS = ("monotonic", "perf_counter", "process_time", "thread_time")

    def __init__(self, start: float) -> None:
        self._start, self._readings = start, count()
        real = time
        module = types.ModuleType("time", real.__doc__)
        module.__dict__.update({name: getattr(real, name) for name in dir(real)
                                if not name.startswith("__")})  # fmt: skip
        module.time, module.time_ns = self.time, self.time_ns
        self._counters: dict[int, Any] = {}
        for name in ("localtime", "gmtime", "ctime"):  # their default: the time now
            fake = self._now_default(getattr(real, name))
            setattr(module, name, fake)
            self._counters[id(getattr(real, name))] = fake

        def strftime(form: str, when: Any = None) -> str:
            return real.strftime(form, real.localtime(self.time()) if when is None else when)

        module.strftime = self._counters[id(real.strftime)] = strftime
        for name in self.COUNTERS:
            if hasattr(real, name):
                made = (self._counter, lambda: int(self._counter() * 1e9))
                for real_fn, fake in zip((getattr(real, name), getattr(real, f"{name}_ns")), made,
                                         strict=True):  # fmt: skip
                    setattr(module, real_fn.__name__, fake)
                    self._counters[id(real_fn)] = fake
        self.module = module
        self.datetime = self._datetime_module()

    def time(self) -> float:
        return self._start + next(self._readings) * 1e-6

    def time_ns(self) -> int:
        return int(self.time() * 1e9)

    def _now_default(self, real_fn: Callable[..., Any]) -> Callable[..., Any]:
        def fake(seconds: Any = None) -> Any:
            return real_fn(self.time() if seconds is None else seconds)

        return fake

    def _counter(self) -> float:
        return self.time() - self._start + 12345.0  # as if the machine started 3.4 h before

    def _datetime_module(self) -> types.ModuleType:
        real, clock = _datetime, self

        class date(real.date):  # noqa: N801 (the name the learner's code reads)
            @classmethod
            def today(cls) -> Any:
                return real.date.fromtimestamp(clock.time())

        class datetime(real.datetime):  # noqa: N801
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return real.datetime.fromtimestamp(clock.time(), tz)

            @classmethod
            def utcnow(cls) -> Any:
                return real.datetime.fromtimestamp(clock.time(), real.timezone.utc).replace(
                    tzinfo=None
                )

            @classmethod
            def today(cls) -> Any:
                return real.datetime.fromtimestamp(clock.time())

        module = types.ModuleType("datetime", real.__doc__)
        module.__dict__.update({name: getattr(real, name) for name in dir(real)
                                if not name.startswith("__")})  # fmt: skip
        module.date, module.datetime = date, datetime
        return module

    def swap(self) -> dict[int, Any]:
        """What :class:`_Fork` replaces: the modules ``time`` and ``datetime`` (and the
        functions and classes a module imported from them: ``from time import time``)."""
        return {
            id(time): self.module,
            id(time.time): self.time,
            id(time.time_ns): self.time_ns,
            **self._counters,
            id(_datetime): self.datetime,
            id(_datetime.date): self.datetime.date,
            id(_datetime.datetime): self.datetime.datetime,
        }


class _OtherHost:
    """What another machine's worker reads as its host name: ``socket.gethostname()``,
    ``socket.getfqdn()``, ``platform.node()``, ``os.uname().nodename``, ``HOSTNAME``."""

    NAME = "another-host.example"

    def __init__(self) -> None:
        name = self.NAME
        self.socket = self._module(socket, gethostname=lambda: name, getfqdn=lambda *_: name)
        self.platform = self._module(platform, node=lambda: name)
        real_uname = os.uname

        def uname() -> Any:
            return os.uname_result((*real_uname()[:1], name, *real_uname()[2:]))

        environ = dict(os.environ, HOSTNAME=name)
        self.os = self._module(os, uname=uname, environ=environ, getenv=environ.get)

    @staticmethod
    def _module(real: types.ModuleType, **changes: Any) -> types.ModuleType:
        module = types.ModuleType(real.__name__, real.__doc__)
        module.__dict__.update({name: getattr(real, name) for name in dir(real)
                                if not name.startswith("__")})  # fmt: skip
        module.__dict__.update(changes)
        return module

    @contextmanager
    def patched(self) -> Iterator[None]:
        """The real functions answer the other host's name meanwhile (for a module imported
        inside the learner's function, which no copy reaches); put back afterwards."""
        real = [
            (socket, "gethostname", self.socket.gethostname),
            (socket, "getfqdn", self.socket.getfqdn),
            (platform, "node", self.platform.node),
            (os, "uname", self.os.uname),
        ]
        saved = [(module, name, getattr(module, name)) for module, name, _ in real]
        try:
            for module, name, value in real:
                setattr(module, name, value)
            yield
        finally:
            for module, name, value in saved:
                setattr(module, name, value)

    def swap(self) -> dict[int, Any]:
        """What :class:`_Fork` replaces: those modules and functions."""
        return {
            id(socket): self.socket,
            id(socket.gethostname): self.socket.gethostname,
            id(socket.getfqdn): self.socket.getfqdn,
            id(platform): self.platform,
            id(platform.node): self.platform.node,
            id(os): self.os,
            id(os.uname): self.os.uname,
            id(os.environ): self.os.environ,
        }


# --------------------------------------------------------------------------- 10.1


def _pay(pay: Callable[..., Any], order_id: str, amount: int) -> tuple[Any, _Run]:
    answer, run = _call(pay, order_id, amount)
    if answer is None and is_stub_body(pay, unknown=False):
        raise NotYet("write the body of pay")
    return answer, run


def _left(order_id: str, run: _Run) -> dict[str, int]:
    """The keys a payment of ``order_id`` left (named after it, or touched), with their TTLs."""
    r = store()
    ledger = practices.key("charges")
    named = list(r.scan_iter(match=f"*{order_id}*", count=1000))
    keys = [key for key in dict.fromkeys(named + run.touched()) if key != ledger]
    ttls = {key: r.ttl(key) for key in keys}
    return {key: ttl for key, ttl in ttls.items() if ttl != -2}


def _pass_time(ttls: dict[str, int], seconds: float) -> list[str]:
    """Let ``seconds`` go by for these keys: those that would have expired are deleted."""
    gone = [key for key, ttl in ttls.items() if 0 <= ttl <= seconds]
    if gone:
        store().delete(*gone)
    return gone


def _for_ever(order_id: str, ttls: dict[str, int]) -> str:
    """The keys that never expire, those named after the order first."""
    keys = [key for key, ttl in ttls.items() if ttl == -1]
    return ", ".join([key for key in keys if order_id in key] or keys) or "the mark"


def _is_the_mark(order: str, run: Any, key: str, process: Any) -> bool:
    """Whether ``key`` is the order's mark: with only this key left, a redelivery answers
    "already paid" and charges nothing. (If not, that redelivery paid again and made every
    key anew.)"""
    others = [other for other in _left(order, run) if other != key]
    if others:
        store().delete(*others)
    charged = _charges(order)
    answer, _ = _call(process(), order, 30)
    return answer == ALREADY and _charges(order) == charged


def _lifetime(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.3g} h"


def _marks(run: _Run) -> list[str]:
    """The keys a payment touched, the card's ledger left out."""
    ledger = practices.key("charges")
    return [key for key in run.touched() if key != ledger]


def _charged(name: str, keys: list[str]) -> str:
    """A command of a payment, named for the feedback: the ledger's RPUSH is charge_card."""
    return "charge_card" if keys == [practices.key("charges")] else f"its {name}"


_EXPIRES = ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT")


def _expired_first(key: str, run: _Run) -> bool:
    """``run``'s first command on ``key`` was an EXPIRE, a command that made it came later."""
    names = [name for name, keys in run.commands if key in keys]
    return bool(names) and names[0] in _EXPIRES and any(n not in _EXPIRES for n in names)


@exercise("10.1", "an idempotent payment", points=2)
def _idempotent_payment(pay: Any) -> str:
    pay = need_function(pay, "pay", "pay(order_id, amount)", purpose="charges the card once")
    pristine = _Fork(pay).copy(pay)  # the process's memory now, before any payment: never run

    def process() -> Callable[..., Any]:
        """``pay`` on another pool process, forked from the worker before any payment."""
        return _Fork(pristine).copy(pristine)

    def worker() -> Callable[..., Any]:
        """``pay`` on another worker: another interpreter on another host, whose ``hash()`` of
        a str and host name differ."""
        swap = _OtherHost().swap()
        return _Fork(pristine, builtins={"hash": _other_hash}, swap=swap).copy(pristine)

    with _watched_store(), local_zone(EAST):  # a machine whose local time is not UTC
        return _judge_payments(pay, process, worker)


def _judge_payments(
    pay: Callable[..., Any],
    process: Callable[[], Callable[..., Any]],
    worker: Callable[[], Callable[..., Any]],
) -> str:
    other = process()
    # Two deliveries of the same message, one after the other, on one pool process.
    order = _order("a")
    first, run = _pay(pay, order, 30)
    second, _ = _pay(pay, order, 30)
    answers = [first, second]
    charged = _charges(order)
    if charged == 0:
        raise Fail(
            f"pay({order!r}, 30) answered {answers[0]!r} but charged nothing",
            hint="call practices.charge_card(order_id, amount) the first time",
        )
    if charged > 1:
        raise Fail(
            f"two deliveries of pay({order!r}, 30) charged the card {charged} times",
            hint="remember the order in the store (r.set(key, 1, nx=True)) and charge only "
            "when that SET succeeded",
        )
    if answers != [CHARGED, ALREADY]:
        raise Fail(
            f"two deliveries answered {answers!r}",
            hint=f'answer "{CHARGED}" the first time and "{ALREADY}" after',
        )
    # The same order again, with another amount: still paid.
    again, _ = _pay(pay, order, 45)
    if _charges(order) != 1 or again != ALREADY:
        raise Fail(
            f"order {order!r}, paid with 30, was sent again with 45: it answered {again!r} "
            f"and the card was charged {_charges(order)} times",
            hint="key the mark by the order alone (practices.key('paid', order_id)): an order "
            "is paid once, whatever the amount",
        )
    # Another order is a new payment.
    new = _order("b")
    answer, run_new = _pay(pay, new, 45)
    _new_payment(order, new, answer)
    # Time goes by for that payment's keys, then a third order is paid: the second's keys
    # must not live longer for it (a key every payment pushes back never expires).
    r = store()
    left = {key: min(ttl, LATER) for key, ttl in _left(new, run_new).items() if ttl >= 0}
    for key, ttl in left.items():
        r.expire(key, ttl)
    once = _order("e")
    answer, run_once = _pay(pay, once, 20)
    ttls_once = _left(once, run_once)  # read now: the feedback shows these lifetimes
    _new_payment(new, once, answer)
    pushed = {key: ttl for key in left if (ttl := r.ttl(key)) > left[key]}
    for key in pushed:
        if not _is_the_mark(order, run, key, process):
            continue
        raise Fail(
            f"the payment of order {once!r} pushed back the expiry of {key}, which the "
            f"payment of order {new!r} had set ({_lifetime(left[key])} left, then "
            f"{_lifetime(pushed[key])}): a key that every payment touches never expires while "
            "payments keep coming, and the marks in it stay for ever",
            hint="one mark per order, with its own expiry: "
            "r.set(practices.key('paid', order_id), 1, nx=True, ex=...)",
        )
    # A redelivery on another pool process (forked when the worker started).
    elsewhere, _ = _call(other, order, 30)
    if _charges(order) != 1 or elsewhere != ALREADY:
        raise Fail(
            f"a redelivery of order {order!r} on another pool process answered "
            f"{elsewhere!r} and the card was charged {_charges(order)} times: pay remembers "
            "the payments in its own process's memory, which the other pool processes, "
            "the other workers and a restarted worker do not see",
            hint="remember them in the store, which every process shares: "
            "store().set(practices.key('paid', order_id), 1, nx=True, ex=...)",
        )
    # A redelivery on another worker (or this one restarted): another interpreter.
    with _OtherHost().patched():
        there, run_there = _call(worker(), order, 30)
    if _charges(order) != 1 or there != ALREADY:
        problem = (
            f"a redelivery of order {order!r} on another worker (another Python process, "
            f"started on its own on another machine) answered {there!r} and the card was charged "
            f"{_charges(order)} times"
        )
        hint = "a key made from the order id, the same in every process: " + (
            "practices.key('paid', order_id)"
        )
        moved = [key for key in _marks(run_there) if key not in _marks(run)]
        host = socket.gethostname()
        if moved and host and any(host in key for key in _marks(run)):
            problem += (
                f": it looked for the mark under {moved[0]}, where the first delivery wrote "
                f"{', '.join(_marks(run))}. The key includes this machine's host name "
                f"({host!r}): a worker on another machine looks under another key"
            )
            hint += ", with no host name, process id or anything else of the worker in it"
        elif moved:
            problem += (
                f": it looked for the mark under {moved[0]}, where the first delivery wrote "
                f"{', '.join(_marks(run)) or 'elsewhere'}. The key depends on something that "
                "differs from one interpreter to the next, such as hash() of a str (salted per "
                "process, PYTHONHASHSEED)"
            )
            hint += " (hash() differs per process; hashlib's digests do not)"
        raise Fail(problem, hint=hint)
    # A redelivery an hour later, across midnight (the workers' clocks read then).
    _judge_midnight(process)
    # Two deliveries at the same time, on two pool processes.
    both = _order("c")
    box = _at_once([(pay, (both, 30)), (other, (both, 30))], "pay")
    errors = [item for item in box if isinstance(item, Exception)]
    if errors:
        hint = ""
        if isinstance(errors[0], WatchError):
            hint = (
                "catch redis.exceptions.WatchError: the EXEC of the delivery that comes "
                f'second fails, because the other one set the mark: answer "{ALREADY}" then'
            )
        raise Fail(f"pay raised {error_text(errors[0])} when two deliveries ran at once", hint=hint)
    if _charges(both) != 1:
        raise Fail(
            f"two deliveries of pay({both!r}, 30) at the same time charged the card "
            f"{_charges(both)} times",
            hint="a GET (is it paid?) then a SET (now it is) lets two deliveries both pass "
            "the check: check and mark in one step, r.set(key, 1, nx=True)",
        )
    if sorted(box, key=repr) != sorted([ALREADY, CHARGED], key=repr):
        raise Fail(f"two deliveries at the same time answered {box!r}")
    # The mark lasts a day or more, and not for ever, after one delivery and after several:
    # the check lets the time go by for the order's keys (deletes those that would have
    # expired) and redelivers it, to a pool process forked before any payment.
    _judge_lifetime(once, run_once, ttls_once, process)
    _judge_lifetime(order, run, _left(order, run), process)
    _judge_expiry_moves(pay, process)
    _judge_mark_kept(pay, process, amount_only=True)
    _judge_repeat_keeps_expiry(pay, process)
    _judge_mark_kept(pay, process, amount_only=False)
    # A delivery whose process dies after each of its store commands in turn; then the
    # time goes by, and the order is delivered again.
    for (dying, _), died, where in _deaths(pay, run, lambda: (_order("d"), 30), _charged):
        ttls = _left(dying, died)
        _pass_time(ttls, math.inf)
        if _call(process(), dying, 30)[0] == ALREADY:
            hint = (
                "set the mark and its expiry in one command: "
                "r.set(key, 1, nx=True, ex=...); SETNX then EXPIRE are two"
            )
            if len(died.commands) - 1 in died.piped:
                hint += (
                    ", also in a pipeline without MULTI/EXEC (transaction=False), which "
                    "Redis runs one command at a time"
                )
            raise Fail(
                f"a delivery that died right after {where} left {_for_ever(dying, ttls)} "
                "with no expiry: that order is marked for ever",
                hint=hint,
            )
    # The same, redelivered an hour later (acks_late: the broker's visibility timeout).
    for (dying, _), died, where in _deaths(pay, run, lambda: (_order("f"), 30), _charged):
        _pass_time(_left(dying, died), REDELIVERY)
        _call(process(), dying, 30)
        if _charges(dying) > 1:
            raise Fail(
                f"a delivery that died right after {where} was delivered again an hour "
                "later (acks_late: the broker's visibility timeout, section 5) and charged "
                f"the card again: {_charges(dying)} charges for one order",
                hint="mark the order before charging, in the command that checks it: "
                "r.set(key, 1, nx=True, ex=...), then charge_card; a mark written after the "
                "charge is missing when the delivery dies in between",
            )
    return (
        "one charge per order, on one pool process or two, on another worker, one after the "
        "other and at the same time, and after a delivery that died; the mark expires a day "
        "or more after each payment"
    )


def _expires_at(order_id: str, run: _Run) -> float | None:
    """When the first of the keys a payment of ``order_id`` left expires (ms since the epoch,
    read now), or None if none expires."""
    r = store()
    left = [ms for key in _left(order_id, run) if (ms := r.pttl(key)) >= 0]
    return time.time() * 1000 + min(left) if left else None


def _judge_expiry_moves(pay: Callable[..., Any], process: Callable[[], Callable[..., Any]]) -> None:
    """Two orders paid more than a second apart (the second also by a pool process whose clock
    reads two days later): their marks must not expire at the same instant."""
    first = _order("g")
    _, run_first = _call(pay, first, 30)
    at_first = _expires_at(first, run_first)
    time.sleep(PAUSE)
    second = _order("g")
    _, run_second = _call(pay, second, 30)
    at_second = _expires_at(second, run_second)
    if at_first is None or at_second is None or abs(at_second - at_first) >= PAUSE * 500:
        return
    later = _order("g")
    clock = _Clock(time.time() + 2 * 24 * 3600)
    pristine = process()
    _, run_later = _call(_Fork(pristine, swap=clock.swap()).copy(pristine), later, 30)
    at_later = _expires_at(later, run_later)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(round(at_first / 1000)))
    if at_later is None or abs(at_later - at_first) >= PAUSE * 500:
        raise Fail(
            f"orders {first!r} and {second!r}, paid {PAUSE:g} s apart, have marks that "
            f"expire at the same instant ({when} UTC): the expiry is a fixed moment of the "
            "day (a midnight?), not a time counted from each payment, so every order paid "
            "that day expires together and each mark lasts a different time",
            hint="count the expiry from each payment: ex=7 * 24 * 3600 in the SET, the same "
            "length for every mark",
        )
    raise Fail(
        f"orders {first!r} and {second!r}, paid {PAUSE:g} s apart (and a third paid on a "
        f"worker whose clock reads two days later), have marks that expire at the same "
        f"instant ({when} UTC): the expiry is a fixed moment (an EXAT computed once, when "
        "the module was imported?), not a time counted from each payment: the marks made "
        "late in the worker's life last less than a day, and once that moment has passed no "
        "mark is kept at all",
        hint="count the expiry from each payment: ex=7 * 24 * 3600 in the SET (or an exat "
        "computed inside pay, at each call)",
    )


def _value(key: str) -> Any:
    """What ``key`` holds, for the feedback (and to compare): any type of key."""
    r = store()
    kind_of = r.type(key)
    kind_of = kind_of.decode() if isinstance(kind_of, bytes) else kind_of
    if kind_of == "string":
        return r.get(key)
    if kind_of == "hash":
        return r.hgetall(key)
    if kind_of == "list":
        return r.lrange(key, 0, -1)
    if kind_of == "set":
        return sorted(r.smembers(key))
    if kind_of == "zset":
        return r.zrange(key, 0, -1, withscores=True)
    return r.dump(key)


def _judge_mark_kept(
    pay: Callable[..., Any], process: Callable[[], Callable[..., Any]], *, amount_only: bool
) -> None:
    """Repeat deliveries (the same amount, then another) must not rewrite the mark: the key
    that alone answers "already paid" keeps what the first payment wrote. Each key whose value
    the repeats changed is tried in turn (on a new order each: the try deletes the others).
    ``amount_only``: only a mark that now holds the second delivery's amount."""
    r = store()
    for candidate in range(4):
        order = _order("h")
        _, run = _call(pay, order, 30)
        before = {key: _value(key) for key in _left(order, run)}
        _call(pay, order, 30)
        _call(pay, order, 45)
        changed = [key for key, value in before.items() if _value(key) != value]
        if amount_only:
            changed = [key for key in changed if before[key] == "30" and _value(key) == "45"]
        if candidate >= len(changed):
            return
        key = changed[candidate]
        now = _value(key)
        others = [other for other in _left(order, run) if other != key]
        if others:
            r.delete(*others)
        charged = _charges(order)
        answer, _ = _call(process(), order, 30)
        if answer != ALREADY or _charges(order) != charged:
            continue
        if before[key] == "30" and now == "45":
            raise Fail(
                f"order {order!r}, paid with 30, was delivered again with 45, and the mark "
                f"{key} now says 45, an amount that was never charged: the second delivery "
                "wrote over the mark (a SET without NX, with GET or not), and pushed its "
                "expiry back",
                hint="write the mark only the first time: r.set(key, amount, nx=True, ex=...) "
                "leaves an existing mark as it is",
            )
        raise Fail(
            f"order {order!r} was paid with 30 and delivered again (with 30, then with 45), "
            f"and the mark {key} changed: it held {before[key]!r} after the payment and "
            f"{now!r} after the repeat deliveries: every repeat delivery writes the mark (an "
            "INCR that counts deliveries? a SET without NX?), which should stay as the first "
            "payment wrote it",
            hint="write the mark only the first time: r.set(key, amount, nx=True, ex=...) "
            "leaves an existing mark as it is, and says whether it was there",
        )


def _judge_repeat_keeps_expiry(
    pay: Callable[..., Any], process: Callable[[], Callable[..., Any]]
) -> None:
    """A repeat delivery of an order must leave its mark's expiry as the payment set it: the
    check lets time go by for the mark (shortens its TTL), redelivers, and compares. Only the
    mark counts, the key that alone answers "already paid" (found as in _judge_mark_kept);
    other keys an answer keeps beside it (an attempt record) may expire as the answer likes."""
    r = store()
    order = _order("k")
    _, run = _call(pay, order, 30)
    left = {key: min(ttl, LATER) for key, ttl in _left(order, run).items() if ttl >= 0}
    for key, ttl in left.items():
        r.expire(key, ttl)
    _call(pay, order, 30)
    pushed = {key: ttl for key in left if (ttl := r.ttl(key)) > left[key]}
    for key in pushed:
        if not _is_the_mark(order, run, key, process):
            continue
        raise Fail(
            f"order {order!r} was paid, time went by ({_lifetime(left[key])} left on "
            f"{key}), and a repeat delivery of the same order pushed that expiry back "
            f"({_lifetime(pushed[key])} left): the expiry is no longer counted from the "
            "payment, and an order redelivered or retried again and again keeps its mark "
            "for ever (an EXPIRE that runs on every delivery, also in a MULTI with SETNX?)",
            hint="set the expiry only when the mark is made, in the same command: "
            "r.set(key, 1, nx=True, ex=...); a repeat delivery sends nothing that touches "
            "the expiry",
        )


def _new_payment(before: str, new: str, answer: Any) -> None:
    if _charges(new) != 1 or answer != CHARGED:
        raise Fail(
            f"after order {before!r}, a new order {new!r} answered {answer!r} "
            f"and was charged {_charges(new)} times",
            hint="key the mark by the order: practices.key('paid', order_id), not one key "
            "for every order",
        )


def _zone_lifetimes(process: Callable[[], Callable[..., Any]]) -> tuple[int, int] | None:
    """How long a new order's keys last when paid in the local time zone EAST, and in UTC
    (the longest TTL of each payment's keys), if they differ by more than MARK_ROOM."""
    lasts = []
    for zone in (EAST, UTC):
        order = _order("z")
        with local_zone(zone):
            _, run = _call(process(), order, 30)
        ttls = [ttl for ttl in _left(order, run).values() if ttl >= 0]
        lasts.append(max(ttls, default=-1))
    east, utc = lasts
    return (east, utc) if east >= 0 and abs(utc - east) > MARK_ROOM else None


def _midnights() -> list[tuple[str, float]]:
    """The next midnight of the local time zone, and of UTC (seconds since the epoch)."""
    now = time.time()
    day = time.localtime(now)
    local = time.mktime((day.tm_year, day.tm_mon, day.tm_mday + 1, 0, 0, 0, 0, 0, -1))
    utc = (now // 86400 + 1) * 86400
    return [(f"local time, {EAST_NAME}", local), ("UTC", utc)]


def _judge_midnight(process: Callable[[], Callable[..., Any]]) -> None:
    """An order paid half an hour before midnight, delivered again an hour later: on the
    clocks of two workers (forked copies whose wall clock reads then), local and UTC."""
    for zone, midnight in _midnights():
        order = _order("m")
        runs = []
        for at in (midnight - 1800, midnight + 1800):
            pristine = process()
            _, run = _call(_Fork(pristine, swap=_Clock(at).swap()).copy(pristine), order, 30)
            runs.append(run)
        if _charges(order) <= 1:
            continue
        first, again = (_marks(run) for run in runs)
        moved = [key for key in again if key not in first]
        problem = (
            f"order {order!r} was paid at 23:30 ({zone}) and delivered again an hour later, "
            f"at 00:30 the next day: the card was charged {_charges(order)} times"
        )
        if moved:
            problem += (
                f": the redelivery looked for the mark under {moved[0]}, where the first "
                f"delivery wrote {', '.join(first) or 'elsewhere'}: the key holds the date (or "
                "another reading of the clock), and a new day makes a new key"
            )
        raise Fail(
            problem,
            hint="a key made from the order id alone: practices.key('paid', order_id); the "
            "expiry, not the key, decides when the mark is forgotten",
        )


def _judge_lifetime(
    order: str, run: _Run, ttls: dict[str, int], process: Callable[[], Callable[..., Any]]
) -> None:
    """``order``'s mark (``ttls``: its keys, left by ``run`` and later deliveries, and their
    TTLs) lasts a day, not for ever."""
    charged = _charges(order)
    gone = _pass_time(ttls, MARK_SECONDS - MARK_ROOM)
    if gone:
        later, _ = _call(process(), order, 30)
        if later != ALREADY or _charges(order) != charged:
            key = min(gone, key=lambda key: ttls[key])
            zoned = _zone_lifetimes(process)
            if zoned is not None:
                east, utc = zoned
                raise Fail(
                    f"the mark {key} expires in {_lifetime(east)} on a machine whose local "
                    f"time is {EAST_NAME}, and in {_lifetime(utc)} on one whose local time is "
                    "UTC: the expiry is computed from the local time taken for UTC (a naive "
                    "datetime such as datetime.utcnow(), which .timestamp() and redis-py's "
                    "exat read as local time); a redelivery after the broker's visibility "
                    "timeout charges the card again",
                    hint="give the expiry as a length: ex=7 * 24 * 3600 (or exat from an "
                    "aware datetime: datetime.now(timezone.utc) + timedelta(days=7))",
                )
            raise Fail(
                f"the mark {key} expires in {_lifetime(ttls[key])}: a redelivery after the "
                "broker's visibility timeout (an hour, section 5) charges the card again",
                hint="keep the mark a day or more: ex=7 * 24 * 3600",
            )
    _pass_time(ttls, math.inf)
    later, _ = _call(process(), order, 30)
    if later == ALREADY:
        problem = (
            f"{_for_ever(order, ttls)} never expires: the store keeps a mark for every order "
            "for ever"
        )
        hint = (
            "give the mark an expiry of a day or more in the same SET: "
            "r.set(key, 1, nx=True, ex=7 * 24 * 3600)"
        )
        first = [key for key, ttl in ttls.items() if ttl == -1 and _expired_first(key, run)]
        if first:
            problem += (
                f" (pay sent its EXPIRE of {first[0]} before the command that made the key, "
                "when there was nothing to expire: an EXPIRE of a missing key does nothing)"
            )
        raise Fail(problem, hint=hint)


# --------------------------------------------------------------------------- 10.2


@contextmanager
def _retries_of(task_name: str, reasons: list[Any] | None = None) -> Iterator[list[Any]]:
    """The countdowns of ``task_name``'s retries (and, in ``reasons``, the ``Retry`` raised:
    its ``sig`` is the retry message Celery would send)."""
    whens: list[Any] = []

    def on_retry(sender: Any = None, reason: Any = None, **_: Any) -> None:
        if getattr(sender, "name", None) == task_name:
            whens.append(getattr(reason, "when", None))
            if reasons is not None:
                reasons.append(reason)

    signals.task_retry.connect(on_retry, weak=False)
    try:
        yield whens
    finally:
        signals.task_retry.disconnect(on_retry)


class LibraryConnectionError(ConnectionError):
    """Another library's own connection error (a subclass of the built-in one)."""


#: What the check's service raises: its temporary and permanent errors, and errors that are
#: neither (a bug in the task, other connection errors, a timeout, another OS error).
ERRORS: dict[str, type[Exception]] = {
    "temporary": TemporaryError,
    "permanent": PermanentError,
    "bug": KeyError,
    "connection": ConnectionResetError,
    "plain connection": ConnectionError,
    "library connection": LibraryConnectionError,
    "timeout": TimeoutError,
    "os": OSError,
}
#: The errors after "bug" that must not be retried either, each as the feedback names it.
OTHERS = {
    "connection": "a ConnectionResetError (a ConnectionError, but not the service's "
    "TemporaryError)",
    "plain connection": "a plain ConnectionError (not the service's TemporaryError)",
    "library connection": "another library's ConnectionError subclass (not the service's "
    "TemporaryError)",
    "timeout": "a TimeoutError (not the service's TemporaryError)",
    "os": "an OSError (not the service's TemporaryError)",
}


def _build(options: dict[str, Any]) -> Any:
    """A task calling the flaky service, with the learner's ``options``; registered here."""
    name = f"course_tasks.checks.ch10.fetch_{next(_runs)}_{uuid.uuid4().hex[:6]}"
    attempts: list[int] = []

    def fetch(self: Any, failures: int, error: str = "temporary") -> str:
        attempts.append(self.request.retries)
        if len(attempts) <= failures and len(attempts) < 12:  # bounded, even with no limit
            raise ERRORS[error](f"{error} failure (attempt {len(attempts)})")
        return f"ok after {len(attempts)} attempts"

    task = app.task(bind=True, name=name, **options)(fetch)
    task.attempts = attempts
    return task


def _run(options: dict[str, Any], *args: Any, retries: int = 0) -> tuple[Any, list[Any], int]:
    """Run a task built with ``options`` locally (``apply``): result, countdowns, attempts."""
    task = _build(options)
    try:
        with _retries_of(task.name) as whens, quiet_trace_log():
            result = task.apply(args, retries=retries)
        return result, whens, len(task.attempts)
    finally:
        app.tasks.pop(task.name, None)


def _destination(options: dict[str, Any], task_name: str) -> tuple[str, str, str]:
    """Where a message of ``task_name`` published with ``options`` goes: the queue the router
    picks, the exchange and the routing key it is published with (as ``apply_async`` does)."""
    queue = app.amqp.router.route(dict(options), task_name, (), {})["queue"]
    exchange = options.get("exchange") or queue.exchange
    exchange = getattr(exchange, "name", exchange) or ""
    routing_key = options.get("routing_key") or queue.routing_key or queue.name
    return queue.name, str(exchange), str(routing_key)


def _refused(serializer: Any) -> bool:
    """The course's workers refuse a message serialized with ``serializer`` (as a worker
    decodes one: ``accept_content``)."""
    try:
        content_type, encoding, data = _dumps({"args": [50]}, serializer=serializer)
        _loads(data, content_type, encoding, accept=prepare_accept_content(app.conf.accept_content))
    except Exception:  # noqa: BLE001 (refused, or a serializer nobody installed)
        return True
    return False


def _seconds(value: Any) -> float | None:
    if isinstance(value, _datetime.timedelta):
        return value.total_seconds()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _message_problem(options: dict[str, Any]) -> tuple[str, str] | None:
    """What a worker would do with the messages of a task declared with ``options``: the first
    call's and a retry's (the signature Celery's retry code sends), which ``apply()`` never
    publishes. Their serializer must be one the workers accept, they must go where a task
    with no such options goes (a queue the workers consume), and a retry must not expire
    before its countdown is over."""
    task = _build(options)
    reasons: list[Any] = []
    try:
        with _retries_of(task.name, reasons), quiet_trace_log():
            task.apply((1,), retries=0)
        first = {k: v for k, v in task._get_exec_options().items() if v is not None}
    finally:
        app.tasks.pop(task.name, None)
    sig = getattr(reasons[0], "sig", None) if reasons else None
    retry = {**first, **{k: v for k, v in dict(getattr(sig, "options", None) or {}).items()
                         if v is not None}}  # fmt: skip
    default = _destination({}, task.name)
    for what, sent in (("the task's messages", first), ("every retry", retry)):
        serializer = sent.get("serializer") or app.conf.task_serializer
        if _refused(serializer):
            return (
                f"{what} would be serialized with {serializer!r}, which the course's workers "
                f"refuse (accept_content={list(app.conf.accept_content)!r}): apply() runs the "
                "task here without a message, but a worker never runs one of these. Section "
                "8: json, never pickle: a worker that accepts pickle runs whatever anybody who "
                "can write to the broker puts in a message",
                "leave the serializer out: the course's messages are json (the task's "
                "arguments are ids and plain values)",
            )
        goes = _destination(sent, task.name)
        if goes != default:
            queue, exchange, routing_key = goes
            routed = {k: sent[k] for k in ("queue", "exchange", "routing_key") if k in sent}
            kwargs = options.get("retry_kwargs")
            inside = isinstance(kwargs, dict) and any(k in kwargs for k in routed)
            return (
                f"{what} would go to queue {queue!r} (exchange {exchange!r}, routing key "
                f"{routing_key!r}), from {routed!r} in "
                f"{'retry_kwargs' if inside else 'the options'}, where a task declared "
                f"without them goes to {default[0]!r}, the queue the workers consume: apply() "
                "runs the retries here, but in a worker every one of them waits in a queue no "
                "worker reads, and the task never finishes",
                "leave routing out of the options (and out of retry_kwargs): a retry goes back "
                "to the task's own queue",
            )
        expires = _seconds(sent.get("expires"))
        if expires is not None and expires < CAP:
            return (
                f"{what} would expire {expires:g} s after it is sent (expires={sent['expires']!r}"
                f"), while a retry waits up to {CAP} s: the worker drops a retry that comes "
                "after its expiry as revoked, and the task never runs again",
                "leave expires out of the options",
            )
    return None


def _cap_problem(options: dict[str, Any], late: list[Any]) -> tuple[str, str]:
    waited = late[0] if late else None
    hint = f"cap the waits with retry_backoff_max={CAP} (seconds; Celery's default is 600)"
    if "retry_backoff_max" not in options:
        return f"with no retry_backoff_max the 9th retry would wait {waited!r} s", hint
    cap = options["retry_backoff_max"]
    if isinstance(waited, int) and waited < CAP:
        return (
            f"retry_backoff_max={cap!r} caps the waits at {waited} s, where 60 s was asked",
            f"retry_backoff_max={CAP}",
        )
    if isinstance(cap, (int, float)) and cap == CAP * 60:
        return (
            f"retry_backoff_max={cap!r} lets the 9th retry wait {waited!r} s: "
            f"retry_backoff_max is in seconds, and {cap!r} s is an hour: the cap of 60 "
            "asked for is 60 seconds, not 60 minutes",
            f"retry_backoff_max={CAP} (seconds)",
        )
    if isinstance(cap, (int, float)) and cap >= 1000 and cap % 1000 == 0:
        return (
            f"retry_backoff_max={cap!r} lets the 9th retry wait {waited!r} s: "
            "retry_backoff_max is in seconds, not milliseconds",
            f"retry_backoff_max={CAP} (seconds)",
        )
    return f"with retry_backoff_max={cap!r} the 9th retry would wait {waited!r} s", hint


def _others_hint(options: dict[str, Any]) -> str:
    """The hint for an answer that retries an error besides TemporaryError."""
    listed = options.get("autoretry_for")
    listed = tuple(listed) if isinstance(listed, (tuple, list)) else (listed,)
    if TimeoutError in listed:
        return (
            "autoretry_for=(TemporaryError,) alone: a TimeoutError is not the service's "
            "temporary error, and the task retries no other exception"
        )
    hint = (
        "autoretry_for=(TemporaryError,): a base class such as ConnectionError or OSError "
        "takes in every error of its kind"
    )
    if options.get("dont_autoretry_for"):
        hint += "; dont_autoretry_for cannot list them all (a plain one, another library's)"
    return hint


@exercise("10.2", "retry temporary errors with backoff", points=3)
def _retry_options(options: Any) -> str:
    if not isinstance(options, dict):
        raise Fail(
            f"RETRY_OPTIONS is {kind(options)}, not a dict",
            hint="a dict of task options: dict(autoretry_for=..., retry_backoff=..., ...)",
        )
    # A permanent error: one attempt.
    try:
        result, _, attempts = _run(options, 50, "permanent")
    except TypeError as exc:
        raise Fail(f"@app.task(bind=True, **RETRY_OPTIONS) failed: {error_text(exc)}") from None
    if attempts > 1:
        raise Fail(
            f"a PermanentError was retried ({attempts} attempts)",
            hint="retry the temporary errors only: autoretry_for=(TemporaryError,), not Exception",
        )
    # A bug in the task, and another connection error: neither is the service's temporary one.
    result, _, attempts = _run(options, 50, "bug")
    if attempts > 1:
        hint = "list TemporaryError alone: autoretry_for=(TemporaryError,)"
        if options.get("dont_autoretry_for"):
            hint += "; retrying Exception except PermanentError still retries every bug"
        raise Fail(
            f"a KeyError (a bug in the task, neither temporary nor permanent) was retried "
            f"({attempts} attempts)",
            hint=hint,
        )
    for error, what in OTHERS.items():
        result, _, attempts = _run(options, 50, error)
        if attempts > 1:
            raise Fail(f"{what} was retried ({attempts} attempts)", hint=_others_hint(options))
    # A service down for good: 1 + 5 attempts, then the error.
    result, whens, attempts = _run(options, 50)
    if attempts == 1:
        raise Fail(
            "a TemporaryError was not retried",
            hint="list it in autoretry_for=(TemporaryError,) (from course_tasks.tasks.practices)",
        )
    if attempts != MAX_RETRIES + 1 or result.state != "FAILURE":
        if attempts >= 12:
            problem = "with the service down for good, the task kept retrying (11 retries)"
        else:
            problem = f"with the service down for good, the task gave up after {attempts - 1} "
            problem += "retries"
        hint = f"set max_retries={MAX_RETRIES}"
        kwargs = options.get("retry_kwargs")
        if isinstance(kwargs, dict) and kwargs.get("max_retries", MAX_RETRIES) != MAX_RETRIES:
            problem += (
                f": retry_kwargs={kwargs!r} overrides max_retries (autoretry_for passes "
                "retry_kwargs to Task.retry, whose max_retries wins)"
            )
            hint = f"leave max_retries out of retry_kwargs, or make it {MAX_RETRIES} there too"
        raise Fail(problem, hint=hint)
    if not isinstance(result.result, TemporaryError):
        raise Fail(f"after the last retry the task failed with {error_text(result.result)}")
    if any(when == 180 for when in whens):  # Task.retry's countdown: default_retry_delay
        raise Fail(
            "every retry waits 180 s (Celery's default_retry_delay): there is no backoff",
            hint="retry_backoff=1: waits of 1, 2, 4... s",
        )
    # The schedule without jitter, from the same options.
    plain = {**options, "retry_jitter": False}
    _, exact, _ = _run(plain, 50)
    cap = options.get("retry_backoff_max")
    capped = isinstance(cap, (int, float)) and exact == [min(w, int(cap)) for w in SCHEDULE]
    if capped and exact != SCHEDULE:
        problem, hint = _cap_problem(options, exact[-1:])
        raise Fail(problem, hint=hint)
    if exact != SCHEDULE:
        raise Fail(
            f"the retries wait {exact!r} s (without jitter)",
            hint="retry_backoff=1 makes 1, 2, 4, 8, 16 s (retry_backoff * 2 ** retries)",
        )
    # The 9th retry: 2 ** 8 = 256 s without a cap (max_retries raised so that it retries).
    more = {**plain, "max_retries": 20}
    if isinstance(options.get("retry_kwargs"), dict) and "max_retries" in options["retry_kwargs"]:
        more["retry_kwargs"] = {**options["retry_kwargs"], "max_retries": 20}
    _, late, _ = _run(more, 1, retries=8)
    if late != [CAP]:
        problem, hint = _cap_problem(options, late)
        raise Fail(problem, hint=hint)
    if not options.get("retry_jitter", True):
        raise Fail(
            "retry_jitter=False: a thousand tasks that failed together all come back in the "
            "same second",
            hint="leave retry_jitter out (True by default) or set it to True",
        )
    if any(not 0 <= when <= cap for when, cap in zip(whens, SCHEDULE, strict=True)):
        raise Fail(f"with jitter the retries waited {whens!r} s")
    # Down for two attempts: retried, then the answer.
    result, _, attempts = _run(options, 2)
    if result.state != "SUCCESS" or attempts != 3:
        raise Fail(f"a service down for two attempts ended {result.state} after {attempts}")
    # The messages a worker gets, which apply() never sends: the task's and a retry's.
    problem = _message_problem(options)
    if problem is not None:
        raise Fail(problem[0], hint=problem[1])
    return (
        "permanent, a bug, other connection errors, a timeout: 1 attempt; temporary: 5 "
        "retries at 1, 2, 4, 8, 16 s at most, 60 s cap"
    )


# --------------------------------------------------------------------------- 10.3


def _millis(ms: int) -> str:
    """A lock's PTTL for the feedback: whole seconds (rounded up) from a second on."""
    return f"{math.ceil(ms / 1000)} s" if ms >= 1000 else f"{ms} ms"


def _clock_uuid(clock: _Clock) -> tuple[types.ModuleType, Callable[..., Any]]:
    """``uuid`` in a process whose clock is ``clock``: ``uuid1`` reads that clock and has its
    own last timestamp (a process's memory); its clock sequence is random, as the system's
    generator's is."""
    space = dict(uuid.__dict__)
    real_import = builtins.__import__

    def importer(name: str, *args: Any, **kwargs: Any) -> Any:
        return clock.module if name == "time" else real_import(name, *args, **kwargs)

    space["__builtins__"] = dict(builtins.__dict__, __import__=importer)
    space["_last_timestamp"] = None
    # Python's own uuid1, which reads that clock, not the system's generator (libuuid), which
    # reads the real one: the same fields (time, a random clock sequence, the node).
    space["_generate_time_safe"] = None
    real = uuid.uuid1
    uuid1 = types.FunctionType(real.__code__, space, real.__name__, real.__defaults__)
    module = types.ModuleType("uuid", uuid.__doc__)
    module.__dict__.update({k: v for k, v in uuid.__dict__.items() if not k.startswith("__")})
    module.uuid1 = uuid1
    return module, uuid1


def _clocked(acquire: Any, start: float) -> list[Any]:
    """``acquire`` on two workers started on their own on one host, whose clocks read the
    same from ``start``."""
    made = []
    for _ in range(2):
        clock = _Clock(start)
        module, uuid1 = _clock_uuid(clock)
        swap = {**clock.swap(), id(uuid): module, id(uuid.uuid1): uuid1}
        made.append(_Fork(acquire, swap=swap).copy(acquire))
    return made


@exercise("10.3", "a lock with an expiry and a token", points=3)
def _lock(acquire: Any, release: Any) -> str:
    acquire = need_function(acquire, "acquire", "acquire(name, seconds)", purpose="takes a lock")
    release = need_function(release, "release", "release(name, token)", purpose="releases a lock")
    fork = _Fork(acquire, release)  # a second pool process, forked before any lock
    other = (fork.copy(acquire), fork.copy(release))
    # Two more workers, started on their own, whose clocks read the same.
    clocked = [_clocked(acquire, start) for start in (time.time(), time.time() + 3600)]
    clocked = [one for pair in clocked for one in pair]  # two pairs, at two starts
    names: list[str] = []
    try:
        with _watched_store():
            return _judge_lock(acquire, release, *other, names, clocked)
    finally:
        if names:
            store().delete(*[practices.key("lock", name) for name in names])


def _judge_lock(
    acquire: Callable[..., Any],
    release: Callable[..., Any],
    acquire_2: Callable[..., Any],
    release_2: Callable[..., Any],
    names: list[str],
    clocked: list[Callable[..., Any]],
) -> str:
    r = store()

    def fresh() -> tuple[str, str]:
        names.append(_order("lock"))
        return names[-1], practices.key("lock", names[-1])

    name, lock = fresh()
    token, took = _call(acquire, name, 5)
    if token is None and is_stub_body(acquire, unknown=False):
        raise NotYet("write the bodies of acquire and release")
    if not token:
        raise Fail(
            f"acquire({name!r}, 5) on a free lock returned {token!r}",
            hint="return the token when SET ... NX succeeded",
        )
    if token is True:  # r.set(...) answers True: the token it stored is lost
        raise Fail(
            f"acquire({name!r}, 5) returned True (what SET answers), not the token",
            hint="return the token itself: release needs it to show that it holds the lock",
        )
    ttl = r.pttl(lock)
    if ttl == -2:
        raise Fail(
            f"after acquire there is no key {lock}",
            hint="the lock's key is practices.key('lock', name)",
        )
    if ttl == -1:
        raise Fail(
            "the lock has no expiry: if its holder dies, nobody gets it ever again",
            hint="set it with an expiry: r.set(key, token, nx=True, ex=seconds)",
        )
    if not 4000 < ttl <= 5000:
        raise Fail(
            f"acquire({name!r}, 5) set a lock that expires in {_millis(ttl)}",
            hint="expire after the seconds asked: ex=seconds",
        )
    if r.get(lock) != str(token):
        raise Fail(
            f"the lock holds {r.get(lock)!r}, not the token acquire returned",
            hint="store the token as the lock's value, so release can compare it",
        )
    r.pexpire(lock, HELD_MS)  # time went by: the holder has 2 s left
    refused, _ = _call(acquire, name, 5)
    if refused:
        raise Fail(
            "a second acquire took the lock while the first holder still had it",
            hint="nx=True: SET only if the key does not exist",
        )
    if refused is not None:
        raise Fail(
            f"acquire of a lock that was held returned {refused!r}, not None",
            hint="return None when SET ... NX did not take the lock (redis-py answers None "
            "there: return None, not the SET's answer turned into something else)",
        )
    if (left := r.pttl(lock)) > HELD_MS:
        raise Fail(
            f"an acquire that was refused pushed the holder's expiry back ({_millis(HELD_MS)} "
            f"left, then {_millis(left)}): while others keep trying, the lock of a holder "
            "that died never expires",
            hint="set the expiry only with the lock, in one command: r.set(key, token, "
            "nx=True, ex=seconds); an EXPIRE (even in one MULTI with the SETNX) runs for a "
            "refused caller too",
        )
    # The holder's lock expires (simulated); the next holder, on this pool process, takes it
    # and the first holder releases late.
    r.delete(lock)
    newer, _ = _call(acquire, name, 5)
    if newer == token:
        raise Fail(
            f"acquire returned the same token {token!r} twice: the holders cannot be told apart",
            hint="a new random token at every acquire: uuid.uuid4().hex",
        )
    if not newer:
        raise Fail(f"after the lock expired, acquire({name!r}, 5) returned {newer!r}")
    late, _ = _call(release, name, token)
    if r.get(lock) != str(newer):
        raise Fail(
            "a holder whose lock had expired released the lock the next holder had",
            hint="delete only if the key still holds your token, in one step: a Lua "
            "script (GET, compare, DEL)",
        )
    if late:
        raise Fail(
            "release with a stale token returned True; it released nothing",
            hint="return True only when the lock was deleted: the Lua script answers 1 "
            "after its DEL and 0 otherwise, so return its answer == 1 (a test such as "
            "`is not None` is True for 0 too)",
        )
    if late is not False:
        raise Fail(
            f"release with a stale token returned {late!r}, not False",
            hint="return True or False: bool(...) of what the script or DEL answered",
        )
    ours, freeing = _call(release, name, newer)
    if not ours or r.exists(lock):
        raise Fail(
            "the holder could not release its own lock",
            hint="delete the key when it holds the token, and return True",
        )
    if ours is not True:
        raise Fail(
            f"release of the holder's own lock returned {ours!r}, not True",
            hint="return True or False: bool(...) of what the script or DEL answered",
        )
    # The same on two pool processes: this one takes the lock, it expires, the other process
    # takes it (its first call: a forked copy of a per-process counter would give it this
    # process's tokens again), the first releases late.
    third, _ = _call(acquire, name, 5)
    if not third:
        raise Fail(
            f"after the lock was released, acquire({name!r}, 5) returned {third!r}",
            hint="the key in the store is the only record of who holds the lock",
        )
    issued = [token, newer, third]
    r.delete(lock)
    fourth, _ = _call(acquire_2, name, 5)
    if fourth in issued:
        raise Fail(
            f"acquire on another pool process returned {fourth!r}, a token this process had "
            "already handed out: the holders cannot be told apart",
            hint="a new random token at every acquire: uuid.uuid4().hex; a counter in "
            "memory starts again from the same value in every pool process",
        )
    if not fourth:
        raise Fail(
            f"after the lock expired, acquire({name!r}, 5) on another pool process "
            f"returned {fourth!r}",
            hint="the key in the store is the only record of who holds the lock",
        )
    if _call(acquire, name, 5)[0]:
        raise Fail(
            "an acquire took the lock while a holder on another pool process had it",
            hint="nx=True: SET only if the key does not exist",
        )
    _call(release, name, third)
    if r.get(lock) != str(fourth):
        raise Fail(
            "a holder whose lock had expired released the lock the next holder had, on "
            "another pool process: release compared the token with something its own "
            "process remembered, not with the lock in the store",
            hint="delete only if the key still holds your token, in one step: a Lua "
            "script (GET, compare, DEL)",
        )
    if not _call(release_2, name, fourth)[0] or r.exists(lock):
        raise Fail(
            "a holder on another pool process could not release its own lock",
            hint="compare the token with the lock's value in the store, and delete it there",
        )
    # Two workers whose clocks read the same take the lock in turn.
    same = []
    for one, two in (clocked[:2], clocked[2:]):  # twice: a random clock_seq may repeat once
        name_c, lock_c = fresh()
        mine, _ = _call(one, name_c, 5)
        r.delete(lock_c)
        theirs, _ = _call(two, name_c, 5)
        same.append(bool(mine) and mine == theirs)
    if all(same):
        raise Fail(
            f"acquire on two workers whose clocks read the same returned the same token "
            f"{mine!r}: a token made from the time is not unique, and two hosts' clocks can "
            "agree (or one goes back); on one host, so can two processes' (uuid1 with a "
            "fixed clock_seq is only the time and the host)",
            hint="a new random token at every acquire: uuid.uuid4().hex (or uuid.uuid1() "
            "with its random clock sequence), not the time",
        )
    # Another number of seconds.
    name_17, lock_17 = fresh()
    held, _ = _call(acquire, name_17, 17)
    if not held:
        raise Fail(f"acquire({name_17!r}, 17) on a free lock returned {held!r}")
    ttl = r.pttl(lock_17)
    if not 16000 < ttl <= 17000:
        raise Fail(
            f"acquire({name_17!r}, 17) set a lock that expires in {_millis(ttl)}",
            hint="expire after the seconds asked: ex=seconds",
        )
    # A worker whose clock is ten minutes ahead of Redis's: Redis counts the expiry on its own.
    name_s, lock_s = fresh()
    ahead = _Fork(acquire, swap=_Clock(time.time() + SKEW).swap()).copy(acquire)
    held, _ = _call(ahead, name_s, 5)
    ttl = r.pttl(lock_s)
    if held and not 4000 < ttl <= 5000:
        raise Fail(
            f"on a worker whose clock is {SKEW // 60} min ahead of Redis's, acquire({name_s!r}, "
            f"5) set a lock that expires in {_millis(ttl)}: the expiry is an instant read on "
            "the worker's clock (EXAT, PXAT, EXPIREAT), which Redis compares with its own "
            "clock; a worker whose clock is behind sets an instant that has already passed, "
            "and there is no lock at all",
            hint="give the expiry as a length, which Redis counts on its own clock: "
            "r.set(key, token, nx=True, ex=seconds)",
        )
    # Two acquires at the same time, on two pool processes.
    name_2, lock_2 = fresh()
    box = _at_once([(acquire, (name_2, 5)), (acquire_2, (name_2, 5))], "acquire")
    errors = [item for item in box if isinstance(item, Exception)]
    if errors:
        hint = ""
        if isinstance(errors[0], WatchError):
            hint = (
                "catch redis.exceptions.WatchError: the EXEC of the caller that comes second "
                "fails, because the other one took the lock: return None then"
            )
        raise Fail(
            f"acquire raised {error_text(errors[0])} when two callers ran at once", hint=hint
        )
    holders = [item for item in box if item]
    if len(holders) > 1:
        raise Fail(
            "two acquires at the same time (on two pool processes) both took the lock",
            hint="check and take in one command: r.set(key, token, nx=True, ex=seconds); "
            "EXISTS (or GET) then SET lets both pass",
        )
    if not holders or r.get(lock_2) != str(holders[0]):
        raise Fail(f"two acquires at the same time of a free lock answered {box!r}")
    # An acquire whose process dies after each of its store commands in turn.
    for (name_d, _), _, where in _deaths(acquire, took, lambda: (fresh()[0], 5)):
        if r.pttl(practices.key("lock", name_d)) == -1:
            raise Fail(
                f"a holder that died right after {where} left a lock that never expires: "
                "nobody gets it ever again",
                hint="take the lock and set its expiry in one command: "
                "r.set(key, token, nx=True, ex=seconds); SETNX then EXPIRE are two",
            )
    # A release during which the lock expires and another holder takes it, after each of its
    # store commands in turn.
    for after in range(1, len(freeing.commands) + 1):
        name_r, lock_r = fresh()
        mine, _ = _call(acquire, name_r, 5)
        taken: list[Any] = []

        def expire_and_take(
            lock_r: str = lock_r, name_r: str = name_r, taken: list[Any] = taken
        ) -> None:
            r.delete(lock_r)
            taken.append(_call(acquire_2, name_r, 5)[0])

        run = _Run(between={after: expire_and_take})
        try:
            _call(release, name_r, mine, run=run)
        except Exception as exc:  # noqa: BLE001 (judged: release must answer False)
            hint = ""
            if isinstance(exc, WatchError):
                hint = (
                    "catch redis.exceptions.WatchError around the EXEC: it fails because the "
                    "lock changed after the WATCH (it expired, another holder took it): the "
                    "lock is not yours any more, return False"
                )
            step = run.names()[after - 1] if len(run.names()) >= after else "a command"
            raise Fail(
                f"release raised {error_text(exc).rstrip('.')} when the lock expired right "
                f"after its {step} and another holder took it",
                hint=hint,
            ) from None
        if taken and taken[0] and r.get(lock_r) != str(taken[0]):
            done = run.names()
            hint = (
                "compare and delete in one step, a Lua script: if redis.call('get', "
                "KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
            )
            if "WATCH" in done and not any(name.startswith("MULTI") for name in done):
                hint = (
                    "WATCH guards only a transaction: after the GET, pipe.multi(), then "
                    "pipe.delete(key) and pipe.execute() (a DEL sent before multi() runs at "
                    "once, whatever changed); or a Lua script"
                )
            raise Fail(
                f"release deleted the next holder's lock: the lock expired right after its "
                f"{done[after - 1]} and another holder took it, then release went on with "
                f"{', '.join(done[after:]) or 'nothing'} and removed that holder's lock",
                hint=hint,
            )
    _judge_stale_release(acquire, release, acquire_2, fresh)
    # Release of a lock that expired, which nobody took since.
    name_e, lock_e = fresh()
    expired, _ = _call(acquire, name_e, 5)
    r.delete(lock_e)
    if _call(release, name_e, expired)[0]:
        raise Fail(
            "release of a lock that had expired, which nobody held any more, returned True: "
            "it released nothing",
            hint="return True only when release deleted the lock: the Lua script's DEL "
            "answers 1, and it should answer 0 when the key is gone",
        )
    return (
        "expiry set (and not pushed back), second acquire refused (also at the same time, on "
        "two pool processes), random tokens, only the token's holder releases"
    )


def _judge_stale_release(
    acquire: Callable[..., Any],
    release: Callable[..., Any],
    acquire_2: Callable[..., Any],
    fresh: Callable[[], tuple[str, str]],
) -> None:
    """A holder whose lock expired releases while the next holder (another pool process) has
    it: after each of release's store commands, a third caller tries to take the lock."""
    r = store()
    steps: int | None = None
    after = 0
    while steps is None or after <= steps:
        name, lock = fresh()
        stale, _ = _call(acquire, name, 5)
        r.delete(lock)
        holder, _ = _call(acquire_2, name, 5)
        if not stale or not holder:
            return
        third: list[Any] = []

        def take(name: str = name, third: list[Any] = third) -> None:
            third.append(_call(acquire, name, 5)[0])

        run = _Run(between={after: take} if after else None)
        try:
            _call(release, name, stale, run=run)
        except Exception:  # noqa: BLE001 (judged elsewhere)
            return
        if steps is None:
            steps = len(run.commands)
        if third and third[0]:
            done = run.names()
            raise Fail(
                f"a holder whose lock had expired called release while another holder had "
                f"taken it, and for a moment that holder's lock was gone: right after "
                f"release's {done[after - 1]}, a third acquire took it (two holders at once)"
                + (
                    f", then release went on with {', '.join(done[after:])}" if done[after:] else ""
                ),
                hint="never delete (or GETDEL) a lock that is not yours, even to put it back: "
                "compare and delete in one step, a Lua script (GET, compare, DEL)",
            )
        if r.get(lock) != str(holder):
            return  # judged by the other release checks
        after += 1


# --------------------------------------------------------------------------- 10.4


class _Limit:
    """Where the soft time limit strikes in one run of ``encode``, and what came after it.

    ``part``: it strikes at the store command that records that part (the part is not
    encoded); ``seconds``: from a SIGALRM handler that many seconds after the first part was
    recorded; ``error``: that part's store command fails with it instead (a full disk).
    """

    def __init__(
        self,
        name: str,
        *,
        part: int | None = None,
        seconds: float | None = None,
        error: Exception | None = None,
        block: int | None = None,
        parts: int = 0,
    ) -> None:
        self.key = practices.key("parts", name)
        self.temp = practices.key("tmp", name)
        self.part, self.seconds, self.error = part, seconds, error
        self.block, self.parts = block, parts
        self.struck = False
        self.opened = False  # encode's own thread has sent open_temp's SET
        self.blocks = 0  # waits met while encoding (see blocked)
        self.where = ""  # where the limit struck, at a wait
        self.seen = 0  # parts recorded by encode's own thread
        self.after: list[int] = []  # parts recorded after the limit struck
        self.handling: list[int] = []  # those of them recorded in an except block that caught it

    def blocked(self, what: str) -> None:
        """Encode's own thread waits for something (a store command, a sleep) that is not a
        part. With ``block=n`` (and ``parts``, how many this run encodes), the limit strikes
        at the n-th such wait from open_temp to the last part: a signal comes at any moment,
        most often while the process waits."""
        if self.block is None or self.struck or not self.opened or self.seen >= self.parts:
            return
        self.blocks += 1
        if self.blocks == self.block:
            self.struck = True
            between = f"between part {self.seen - 1} and part {self.seen}"
            self.where = f"{between if self.seen else 'after open_temp, before part 0'}, {what}"
            raise SoftTimeLimitExceeded()

    def profile(self, learner: dict[str, Any]) -> Callable[..., Any]:
        """A profile function (``sys.setprofile``) that sees the learner's ``time.sleep``."""

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event == "c_call" and arg is time.sleep and frame.f_globals is learner:
                self.blocked("during encode's time.sleep")

        return profile

    def before(self, run: _Run, name: str, keys: list[str], args: tuple[Any, ...]) -> None:
        if name == "SET" and keys == [self.temp] and not self.opened:
            self.opened = True
            return
        if name not in ("RPUSH", "LPUSH") or keys != [self.key]:
            self.blocked(f"during encode's store command {' '.join([name, *keys[:1]])}")
            return
        part = int(args[2]) if len(args) > 2 and str(args[2]).lstrip("-").isdigit() else None
        self.seen += 1
        if self.struck:
            self.after.append(part if part is not None else -1)
            if isinstance(sys.exc_info()[1], SoftTimeLimitExceeded):
                self.handling.append(self.after[-1])
        elif self.error is not None and part == self.part:
            raise self.error
        elif self.part is not None and part == self.part:
            self.struck = True
            raise SoftTimeLimitExceeded()
        elif self.seconds is not None:
            self.arm()

    def arm(self) -> None:
        if signal.getitimer(signal.ITIMER_REAL)[0] or self.seconds is None:
            return
        self.seconds, seconds = None, self.seconds
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def handler(self, signum: int, frame: Any) -> None:
        self.struck = True
        raise SoftTimeLimitExceeded()


def _encode_under(encode: Callable[..., Any], name: str, parts: int, limit: _Limit) -> Any:
    """``encode(name, parts)`` with ``limit``; the alarm handler is put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        raise Fail("the check must run in the kernel's main thread (a notebook cell)")
    previous = signal.signal(signal.SIGALRM, limit.handler)
    profiler = sys.getprofile()
    learner = getattr(encode, "__globals__", None)
    try:
        if limit.block is not None and learner is not None:
            sys.setprofile(limit.profile(learner))
        return _call(encode, name, parts, run=_Run(before=limit.before))[0]
    finally:
        sys.setprofile(profiler)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _source_tree(fn: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None


def _catches_hard_limit(fn: Callable[..., Any]) -> bool:
    """``fn``'s except clauses name ``TimeLimitExceeded`` and never ``SoftTimeLimitExceeded``."""
    tree = _source_tree(fn)
    caught: set[str] = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for name in ast.walk(node.type):
                if isinstance(name, ast.Name):
                    caught.add(name.id)
                elif isinstance(name, ast.Attribute):
                    caught.add(name.attr)
    return "TimeLimitExceeded" in caught and "SoftTimeLimitExceeded" not in caught


def _reraises_soft_limit(fn: Callable[..., Any]) -> bool:
    """An except clause of ``fn`` that names ``SoftTimeLimitExceeded`` raises again."""
    tree = _source_tree(fn)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node.type)
                     if isinstance(n, (ast.Name, ast.Attribute))}  # fmt: skip
            raises = any(isinstance(inner, ast.Raise) for inner in ast.walk(node))
            if "SoftTimeLimitExceeded" in names and raises:
                return True
    return False


def _on_threads(name: str, parts: int) -> Fail:
    return Fail(
        f"encode({name!r}, {parts}) encoded its parts on other threads (a thread pool?), "
        "where the soft time limit never reaches them: Celery raises "
        "SoftTimeLimitExceeded in the task's own thread only (from a signal handler), "
        "so the pool's threads go on encoding after the limit, until the hard limit "
        "kills the process",
        hint="encode the parts in the task's own thread, in a plain loop inside "
        "try/except SoftTimeLimitExceeded",
    )


def _judge_stop(
    encode: Callable[..., Any], name: str, parts: int, limit: _Limit, earlier: int = 0
) -> None:
    where = f"{SOFT_SECONDS:g} s after the first part, from a signal handler"
    if limit.part is not None:
        where = f"during part {limit.part} of {parts}"
    try:
        answer = _encode_under(encode, name, parts, limit)
    except SoftTimeLimitExceeded:
        left = " and left its temporary file" if practices.temp_exists(name) else ""
        if limit.where and not _catches_hard_limit(encode) and not _reraises_soft_limit(encode):
            raise Fail(
                f"the soft time limit struck {limit.where}, outside the try that catches it, "
                f"and SoftTimeLimitExceeded escaped from encode{left}: the limit comes at any "
                "moment (a signal), most often while the task waits, not only inside "
                "encode_part",
                hint="put the try around all the work from open_temp on, the whole loop "
                "with what it does between two parts (progress writes, pauses)",
            ) from None
        hint = (
            "catch SoftTimeLimitExceeded (from celery.exceptions): TimeLimitExceeded "
            "is the hard limit, which kills the process before any except runs"
            if _catches_hard_limit(encode)
            else "catch it and stop there: remove the temporary file and return "
            '"stopped" from the except block instead of raising it again'
            if _reraises_soft_limit(encode)
            else "wrap the work in try/except SoftTimeLimitExceeded, remove the "
            'temporary file there and return "stopped"'
        )
        raise Fail(f"SoftTimeLimitExceeded escaped from encode{left}", hint=hint) from None
    if limit.block is not None and not limit.struck:
        return  # this run waited less often than the counting run: nothing to judge
    if limit.where:
        where = limit.where
    if not limit.struck and practices.parts(name) and not limit.seen:
        raise _on_threads(name, parts)
    if not limit.struck:
        raise Fail(f"encode({name!r}, {parts}) finished before the soft time limit struck")
    encoded = practices.parts(name)
    if limit.after:
        shown = ", ".join(str(part) for part in limit.after[:5])
        more = ", ..." if len(limit.after) > 5 else ""
        hint = (
            "stop working when SoftTimeLimitExceeded strikes: put the try around "
            "the whole loop; the hard time_limit would kill a task that goes on"
        )
        if limit.handling:
            hint = (
                "stop at once: don't encode in the except block (it encoded part "
                f"{limit.handling[0]} there); leave the interrupted part, remove the "
                'temporary file and return "stopped": the hard time_limit follows soon'
            )
        raise Fail(
            f"the soft time limit struck {where}, and encode went on: it encoded "
            f"{len(limit.after)} more part(s) after it ({shown}{more}), {len(encoded)} of "
            f"{parts} in all",
            hint=hint,
        )
    if practices.temp_exists(name):
        raise Fail(
            "encode stopped at the soft time limit but left its temporary file",
            hint="call practices.remove_temp(name) in the except block",
        )
    if answer == "done" and earlier:
        raise Fail(
            f"{name!r} was delivered again after a run that stopped in part {earlier} (its "
            f"parts {encoded[:earlier]!r} were recorded), and the soft time limit struck "
            f'{where}: encode answered "done". practices.parts(name) holds the earlier '
            "run's parts too, so counting them does not tell whether this run finished",
            hint='decide by what happened in this run: return "stopped" from the except '
            'block that caught SoftTimeLimitExceeded, "done" after the loop',
        )
    if answer == "done":
        raise Fail(
            f"the soft time limit struck {where} and encode stopped ({len(encoded)} of "
            f'{parts} parts encoded), but it answered "done"',
            hint='return "stopped" from the except block: "done" is for a run that '
            "encoded every part",
        )
    if answer != "stopped":
        raise Fail(f'after the soft time limit encode answered {answer!r}, not "stopped"')


def _failures() -> list[Exception]:
    """The real failures 10.4 makes part 1 raise, one run each."""
    return [
        OSError(errno.ENOSPC, "No space left on device"),
        KeyError("profile"),
        TimeoutError("the storage did not answer in 30 s"),
        RuntimeError("the encoder crashed"),
    ]


def _returns_in_finally(fn: Callable[..., Any]) -> bool:
    """``fn`` has a ``return`` in a ``finally`` block (which swallows the error going up)."""
    tree = _source_tree(fn)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Try) and any(
            isinstance(inner, ast.Return) for block in node.finalbody for inner in ast.walk(block)
        ):
            return True
    return False


def _swallowed_hint(encode: Callable[..., Any], swallowed: list[type[Exception]]) -> str:
    """The hint for an ``encode`` that answered when these errors should have gone up."""
    if _returns_in_finally(encode):
        return (
            "don't return inside finally: a return there drops the error that is going up; "
            "return after the try statement"
        )
    if len(swallowed) == len(_failures()):
        return (
            "catch SoftTimeLimitExceeded only: except Exception reports every real "
            "failure as a clean stop; let other errors fail the task"
        )
    if swallowed == [TimeoutError]:
        return (
            "catch SoftTimeLimitExceeded only: a TimeoutError (a network or disk that did "
            "not answer) is a real failure, not the task's time limit"
        )
    names = " and ".join(kind.__name__ for kind in swallowed)
    are = "is a real failure" if len(swallowed) == 1 else "are real failures"
    return (
        f"catch SoftTimeLimitExceeded only: {names} {are} too, not only a full disk; let "
        "every other error fail the task"
    )


@exercise("10.4", "clean up on the soft time limit", points=2)
def _soft_time_limit(encode: Any) -> str:
    encode = need_function(encode, "encode", "encode(name, parts)", purpose="encodes a video")
    names: list[str] = []

    def fresh(tag: str) -> str:
        names.append(_order(tag))
        return names[-1]

    try:
        with _watched_store():
            return _judge_encode(encode, fresh)
    finally:
        for name in names:
            practices.remove_temp(name)
            store().delete(practices.key("parts", name))


def _judge_encode(encode: Callable[..., Any], fresh: Callable[[str], str]) -> str:
    short = fresh("short")
    counted = _Limit(short)  # no limit: it counts the parts recorded by encode's own thread
    answer, _ = _call(encode, short, 3, run=_Run(before=counted.before))
    if answer is None and is_stub_body(encode, unknown=False):
        raise NotYet("write the body of encode")
    if practices.parts(short) and not counted.seen:  # in any order: threads race
        raise _on_threads(short, 3)
    if practices.parts(short) != [0, 1, 2]:
        raise Fail(
            f"encode({short!r}, 3) encoded the parts {practices.parts(short)!r}",
            hint="call practices.encode_part(name, i) for i in range(parts)",
        )
    if practices.temp_exists(short):
        raise Fail(
            "a run that finished in time left its temporary file",
            hint="call practices.remove_temp(name) after the last part too",
        )
    if answer != "done":
        raise Fail(f'a run that finished in time answered {answer!r}, not "done"')
    # The limit strikes during each part in turn, the last one too.
    for part in (1, 2, 0):
        name = fresh("part")
        _judge_stop(encode, name, 3, _Limit(name, part=part))
    # A redelivery of a run that stopped in part 2: the name already has parts 0 and 1.
    name = fresh("again")
    _judge_stop(encode, name, 3, _Limit(name, part=2))
    _judge_stop(encode, name, 3, _Limit(name, part=1), earlier=len(practices.parts(name)))
    # Between two parts: at each wait of encode's own thread (a store command, a sleep) from
    # open_temp to the last part, in turn; counted in a run with no limit.
    name = fresh("count")
    counting = _Limit(name, block=0, parts=3)
    _encode_under(encode, name, 3, counting)
    for block in range(1, min(counting.blocks, MAX_BLOCKS) + 1):
        name = fresh("between")
        _judge_stop(encode, name, 3, _Limit(name, block=block, parts=3))
    # From a signal handler, in a long run.
    name = fresh("long")
    _judge_stop(encode, name, 100, _Limit(name, seconds=SOFT_SECONDS))
    # Other errors in part 1: a full disk, a bug, a timeout of the storage, a plain error.
    swallowed: list[tuple[Exception, Any]] = []
    for error in _failures():
        name = fresh("broken")
        try:
            answer = _encode_under(encode, name, 3, _Limit(name, part=1, error=error))
        except Fail:
            raise
        except Exception as exc:  # the error went up: it must be that error, as it was
            if isinstance(exc, SoftTimeLimitExceeded):
                raise Fail(
                    f"encode raised SoftTimeLimitExceeded when encode_part failed with "
                    f"{error_text(error)}"
                ) from None
            if not isinstance(exc, type(error)):
                raise Fail(
                    f"encode_part failed with {error_text(error)} (not the time limit), and "
                    f"encode raised {error_text(exc).rstrip('.')} instead: the failure went "
                    f"up as another type, so what handles it (an "
                    f"autoretry_for=({type(error).__name__},), a caller's except "
                    f"{type(error).__name__}) no longer matches it",
                    hint="let other errors go up as they are: don't catch them, or re-raise "
                    "with a bare raise",
                ) from None
            if exc is not error:
                raise Fail(
                    f"encode_part failed with {error_text(error)} (not the time limit), and "
                    f"encode raised {error_text(exc).rstrip('.')}: the same type, but a new "
                    "exception, which loses what the first one carried (an OSError's errno, "
                    "a KeyError's key, the traceback to the line that failed)",
                    hint="let other errors go up as they are: don't catch them, or re-raise "
                    "the very same exception with a bare raise",
                ) from None
        else:
            swallowed.append((error, answer))
    if swallowed:
        error, answer = swallowed[0]
        raise Fail(
            f"encode_part failed with {error_text(error)} (not the time limit), and "
            f"encode answered {answer!r}",
            hint=_swallowed_hint(encode, [type(error) for error, _ in swallowed]),
        )
    return (
        "in time: done; at the soft time limit (in any part, or from a signal): stopped at "
        "once; no temporary file left either way; other errors go up as they are"
    )
