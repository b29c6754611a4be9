"""Checks of chapter 07's exercises (``solutions/07_canvas_solutions.ipynb``).

Each exercise asks for a function that *builds* a canvas (a signature, not yet sent) or sends
one, from the course's tasks. The check calls it (a function that waits is caught, see
``support.call_watched``), noting what it did in the notebook meanwhile: tasks it sent itself
(``before_task_publish`` in the calling thread), tasks it ran here (``apply()``, a direct
call that writes to a log), arithmetic it did on its arguments (07.2 and 07.4 pass numbers
that note it, ``int()``, ``abs()`` and ``round()`` included; a generator in the canvas it
returns is read before the call ends, so what it computes counts), lines it wiped or removed
from the logs (each log holds one line of other work while it runs, and 07.1 and 07.3 the
lines an earlier run of the same user or image wrote: ``events.clear_log()`` or an ``lrem``
in the function), and signatures it shares with the canvas an earlier call returned (07.1,
07.2, 07.4: a signature kept at module level or cached is one object in every canvas, so a
later call re-pointing it, or a ``freeze()``, changes the earlier canvas; sending clones it,
so no run shows this, the check compares the objects). A function that sends its canvas
(07.3) has its sends held until it returns, so that no worker can finish them meanwhile: a
``get()``, a loop reading a task's state or a key of the app-data store (the image's stage)
or a ``time.sleep`` shows however fast the worker is. Then the canvas runs on the worker, and
the check reads what ran there from the result backend (``result_extended``: each task's
name, arguments, the task that sent it and its group), walking from the returned result to
its parents, members and children, in both modes:

* 07.1 ``check("07.1", registered_flow)``: guide 002's four user-registered steps, each
  once, for users 7, 8 and 7 again, and each one *sent* only when the step before it had
  finished (it was sent by that step, or by the last task of a chord header holding it): a
  group or a chord header runs in order on one worker only by chance (``.s(user_id)`` hands
  every step after the first the previous result: it needs ``.si()``); no task id given
  twice or holding a stored result already (an id built from the user id repeats in the
  second flow of user 7), and a new canvas in every call (a chain once sent keeps its id in
  ``options``: one kept between calls is sent again under it; this holds for 07.2 and 07.4
  too, across runs of the checks in one kernel);
* 07.2 ``check("07.2", total_of_doubles)``: a chord whose header ran exactly one
  ``add(n, n)`` per number (a repeated number too) and whose callback ``xsum`` added them
  (``xsum.s()``: a callback with numbers of its own ignores the header's results), with no
  task id given twice (in one canvas, across calls, or one already holding a stored result),
  and every add sent to run at once (a message with an ``eta``, from a countdown or an eta,
  holds it back: adds held back one after another run one after another); the caller's list
  left as it was (``numbers.sort()``); for a list of one number, ``chain(group(...), xsum.s())``
  is named (Celery unrolls a group of one, and xsum gets a number); every task's result
  stored: header adds that left none, or a chord whose header finished while its handle
  (the callback's) stays PENDING, name ``ignore_result``;
* 07.3 ``check("07.3", process_image)``: the five-step image pipeline sent as one chain
  with ``link_error=record_failure.s()``, returning the chain's handle at once; a good
  image runs five steps and records nothing; an image that fails at step 1 (a ``.bmp``) or
  step 2 (a size that is not a number), or at steps 3 to 5 (an upload that asks that step
  to fail, ``media.upload(..., fail_at=...)``, in every mode), records exactly one failure,
  naming that step and its exception; the good image is uploaded again to fail at step 2,
  and that second call must send a new chain under new task ids (a fixed ``task_id`` or a
  handle kept in a dict from the first call returns the first run's result); every step's
  result stored (no ``ignore_result``);
  the function runs no step in the notebook and leaves the upload as it was, and the handle
  it returns is the one sending gave (its ``.parent`` links lead back to validate_image);
* 07.4 ``check("07.4", price_after)``: ``(price - discount) * quantity``, a discount larger
  than the price, a negative discount and a quantity of 0 included, computed by ``subtract``
  then ``multiply`` on the worker, the difference handed on by the chain, under task ids of
  its own in every call.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from unittest import mock

from celery import states
from celery._state import get_current_task
from celery.canvas import Signature, _chain, _chord, group, maybe_signature
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult, GroupResult, ResultSet, result_from_tuple
from celery.signals import before_task_publish

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    Seen,
    StillRunning,
    call_watched,
    finished,
    is_stub_body,
    kind,
    short,
)
from course_tasks.checks.support import need_function as _need_function
from course_tasks.store import store
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


def _called(name: str, args: tuple[Any, ...]) -> str:
    """``price_after(30, 5, 2)``: a call as the learner would write it."""
    return f"{name}({', '.join(repr(a) for a in args)})"


def _words(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


# --------------------------------------------------------------------------- the notebook side


class Number(int):
    """An int argument that notes the arithmetic done on it (in the notebook, while building).

    It travels to the worker as a plain number (JSON), so only what the learner's function
    computes *here* is noted: ``price - discount`` written in the function, ``add(n, n)``
    called directly, ``-discount``, ``abs(discount)``, and conversions that change a number
    or its type (``int(price)``, ``float(price)``, ``round(price)``, ``math.floor(price)``).
    """

    noted: ClassVar[list[str] | None] = None

    def _note(self, text: str) -> None:
        if Number.noted is not None:
            Number.noted.append(text)


#: The plain int of a Number, without noting it (``int()`` on a Number is noted).
_raw = int.__int__


def _plain(value: Any) -> Any:
    return _raw(value) if isinstance(value, Number) else value


def _binary(template: str, method: str, reflected: bool = False) -> Callable[..., Any]:
    real = getattr(int, method)

    def operate(self: Number, other: Any, *rest: Any) -> Any:
        left, right = (other, self) if reflected else (self, other)
        self._note(template.format(repr(_plain(left)), repr(_plain(right))))
        return real(_raw(self), _plain(other), *rest)

    return operate


def _unary(template: str, method: str) -> Callable[..., Any]:
    real = getattr(int, method)

    def operate(self: Number, *rest: Any) -> Any:
        self._note(template.format(_raw(self)))
        return real(_raw(self), *rest)

    return operate


for _symbol, _name in (("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "truediv"),
                       ("//", "floordiv"), ("%", "mod"), ("**", "pow"), ("<<", "lshift"),
                       (">>", "rshift"), ("&", "and"), ("|", "or"), ("^", "xor")):  # fmt: skip
    setattr(Number, f"__{_name}__", _binary(f"{{}} {_symbol} {{}}", f"__{_name}__"))
    setattr(Number, f"__r{_name}__", _binary(f"{{}} {_symbol} {{}}", f"__r{_name}__", True))
Number.__divmod__ = _binary("divmod({}, {})", "__divmod__")  # type: ignore[method-assign]
Number.__rdivmod__ = _binary("divmod({}, {})", "__rdivmod__", True)  # type: ignore[method-assign]
for _template, _name in (("-{}", "neg"), ("+{}", "pos"), ("~{}", "invert"), ("abs({})", "abs"),
                         ("int({})", "int"), ("float({})", "float"), ("round({})", "round"),
                         ("math.trunc({})", "trunc"), ("math.floor({})", "floor"),
                         ("math.ceil({})", "ceil")):  # fmt: skip
    setattr(Number, f"__{_name}__", _unary(_template, f"__{_name}__"))


@dataclass
class Built:
    """What the learner's function returned, and what it did in the notebook meanwhile."""

    answer: Any
    #: short names of the tasks it sent itself (``delay()``, ``apply_async()``)
    sent: list[str] = field(default_factory=list)
    #: their ids
    sent_ids: list[str] = field(default_factory=list)
    #: short names of the tasks it ran right here (``apply()``)
    ran_here: list[str] = field(default_factory=list)
    #: arithmetic it did on its arguments (:class:`Number`), e.g. ``"30 - 5"``
    computed: list[str] = field(default_factory=list)
    #: the error callbacks (``link_error``) of the tasks it sent, while the check held them
    errbacks: list[dict[str, Any]] = field(default_factory=list)
    #: ``{what: lines}``: lines it wrote to the logs itself while its sends were held (a
    #: task called directly in the notebook)
    wrote_here: dict[str, list[str]] = field(default_factory=dict)
    #: short names of the tasks given as success callbacks (``link=``) in what it sent,
    #: at any depth (the steps of a chain it sent included)
    linked: list[str] = field(default_factory=list)
    #: ``(before, after)`` of what ``watch`` read, if the function changed it (07.3: the
    #: stored upload of the image, changed by a ``media.upload()`` in the function)
    changed: tuple[Any, Any] | None = None
    #: ``(ids, how)``: task ids of what it sent (a chain's steps included) that an earlier
    #: call had given its tasks, or that hold a stored result already (then nothing of it
    #: was published)
    reused: tuple[list[str], str] | None = None


@contextmanager
def _sending(thread_name: str) -> Iterator[list[tuple[str, str]]]:
    """Meanwhile, ``(short name, id)`` of each task sent from the thread ``thread_name``."""
    sent: list[tuple[str, str]] = []

    def remember(sender: Any = None, headers: Any = None, **_: Any) -> None:
        if threading.current_thread().name == thread_name and isinstance(headers, dict):
            sent.append((short(str(headers.get("task") or sender)), str(headers.get("id"))))

    before_task_publish.connect(remember, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(remember)


#: The logs the chapter's tasks append to: ``{what: (key, read)}``.
LOGS = {
    "the event log": (events.LOG_KEY, events.log),
    "the image log": (media.LOG_KEY, media.log),
}
#: A line of earlier work in each log while the learner's function runs: a function that
#: builds or sends a canvas leaves what other users' and images' tasks recorded where it is.
EARLIER_USER = {
    "the event log": "send_welcome_email(user 6)",
    "the image log": "notify_processing_complete(image 20)",
}
EARLIER_IMAGE = {
    "the event log": "record_failure(validate_image: InvalidImage: image 20: unsupported "
    "format 'gif')",
    "the image log": "validate_image(image 20) refused gif",
}


def _own_lines_of_user(user: int) -> tuple[str, dict[str, list[str]]]:
    """07.1: the lines an earlier registration of ``user`` wrote to the event log (a user
    registered again): the function leaves them where they are too."""
    return f"an earlier flow of user {user}", {
        "the event log": [f"{step}(user {user})" for step in REGISTERED_STEPS],
    }


def _own_lines_of_image(image_id: int) -> tuple[str, dict[str, list[str]]]:
    """07.3: the lines an earlier upload of ``image_id`` left in the logs (a gif refused)."""
    return f"an earlier upload of image {image_id}", {
        "the event log": [
            f"record_failure(validate_image: InvalidImage: image {image_id}: unsupported "
            "format 'gif')"
        ],
        "the image log": [f"validate_image(image {image_id}) refused gif"],
    }


@contextmanager
def _earlier_lines(
    earlier: dict[str, str], own: dict[str, list[str]] | None = None
) -> Iterator[dict[str, list[str]]]:
    """Meanwhile, lines of earlier work in each log: the lines ``own`` gives (``{what:
    lines}``: what the same user's or image's earlier tasks wrote), then one line of other
    work at the end (``{what: line}``). Once the block is left, the dict holds, for each log
    that lost lines meanwhile, the lines it lost (all of them: the code emptied it,
    ``events.clear_log()``; some: it removed them, ``lrem``), and the lines put there are
    gone again."""
    lost: dict[str, list[str]] = {}
    before = {}
    placed = {what: [*(own or {}).get(what, []), line] for what, line in earlier.items()}
    for what, lines in placed.items():
        key, read = LOGS[what]
        store().rpush(key, *lines)
        before[what] = read()
    try:
        yield lost
    finally:
        for what, lines in placed.items():
            key, read = LOGS[what]
            now = read()
            if now[: len(before[what])] != before[what]:
                gone = Counter(before[what]) - Counter(now)
                lost[what] = [line for line in lines if gone[line] > 0] or lines
            for line in lines:
                store().lrem(key, 1, line)


class _Stopped(CeleryTimeoutError):
    """Raised in the learner's code where it would wait: the check has seen the wait."""


#: How often the learner's function may read one task's state (``ready()``, ``state``)
#: while it sends a canvas; reading it again is a loop waiting for the task.
READS_ALLOWED = 2


#: Redis commands that read a key: the same key read more often than :data:`READS_ALLOWED`
#: in the learner's function is a loop waiting for it (a write is judged apart: the upload
#: the function changed, the lines it removed from the logs).
STORE_READS = frozenset((
    "GET", "MGET", "GETRANGE", "STRLEN", "EXISTS", "TYPE", "TTL", "PTTL", "HGET", "HGETALL",
    "HMGET", "HKEYS", "HVALS", "HLEN", "HEXISTS", "HSTRLEN", "LRANGE", "LLEN", "LINDEX",
    "SMEMBERS", "SCARD", "SISMEMBER", "ZRANGE", "ZCARD", "ZSCORE", "XRANGE", "XLEN",
))  # fmt: skip


@dataclass
class _Held:
    """What the learner's function sent and how it waited, while the check held its sends."""

    #: ``(name, args, kwargs, options)`` of each task it sent, not yet published
    sent: list[tuple[str, Any, Any, dict[str, Any]]] = field(default_factory=list)
    #: reads of each task's state in its thread
    reads: Counter[str] = field(default_factory=Counter)
    #: ids of tasks whose state it read again and again: a loop waiting for them
    polled: list[str] = field(default_factory=list)
    #: the seconds of each ``time.sleep`` it called
    slept: list[float] = field(default_factory=list)
    #: reads of each key of the app-data store in its thread (``media.image(image_id)``)
    store_reads: Counter[str] = field(default_factory=Counter)
    #: keys of the app-data store it read again and again: a loop waiting for a task to
    #: change them (the image's stage)
    store_polled: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def waited(self) -> bool:
        return bool(self.polled or self.slept or self.store_polled)

    def calling(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            self.thread = threading.current_thread()
            return fn(*args)

        return call

    def publish(self) -> None:
        """Send the held tasks now, as a worker that was busy until now would get them."""
        for name, args, kwargs, options in self.sent:
            options = {k: v for k, v in options.items() if k not in ("producer", "connection")}
            app.send_task(name, args, kwargs, **options)
        self.sent = []


@contextmanager
def _holding(fn: Callable[..., Any], hold: bool) -> Iterator[_Held]:
    """With ``hold``, meanwhile the tasks the learner's function sends (in its thread) are
    recorded, not published: no worker can finish them while it runs, however fast, so any
    wait for them shows. A ``get()`` is stopped by ``support.watching``; a loop reading their
    state (``while not result.ready()``) is stopped at the read after :data:`READS_ALLOWED`,
    a ``time.sleep`` at once (:class:`_Stopped`), as chapter 01's checks do."""
    held = _Held()
    if not hold:
        yield held
        return

    def here() -> bool:
        return held.thread is not None and threading.current_thread() is held.thread

    real_send = app.send_task
    backend_cls = type(app.backend)
    real_meta = backend_cls.get_task_meta
    real_sleep = time.sleep

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        if not here():
            return real_send(name, args, kwargs, **options)
        options["task_id"] = options.get("task_id") or str(uuid.uuid4())
        held.sent.append((name, args, kwargs, options))
        return (options.get("result_cls") or app.AsyncResult)(options["task_id"])

    def get_task_meta(backend: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
        if here():
            held.reads[task_id] += 1
            if held.reads[task_id] > READS_ALLOWED:
                held.polled.append(task_id)
                raise _Stopped(f"the check stopped a loop waiting for {task_id}")
        return real_meta(backend, task_id, *args, **kwargs)

    def sleep(seconds: float) -> None:
        if not here():
            return real_sleep(seconds)
        held.slept.append(seconds)
        raise _Stopped(f"the check stopped time.sleep({seconds!r})")

    client = store()
    real_command = client.execute_command

    def execute_command(*args: Any, **options: Any) -> Any:
        # a key of the app-data store read again and again (the image's stage, a log): no
        # task it sent can change it while the check holds them, so this is a loop waiting
        # (not a task called right here, validate_image(image_id): it reads the image
        # itself, and running it in the notebook is named on its own)
        if (
            here()
            and len(args) > 1
            and str(args[0]).upper() in STORE_READS
            and get_current_task() is None
        ):
            key = str(args[1])
            held.store_reads[key] += 1
            if held.store_reads[key] > READS_ALLOWED:
                held.store_polled.append(key)
                raise _Stopped(f"the check stopped a loop reading {key} in the app-data store")
        return real_command(*args, **options)

    names = getattr(fn, "__globals__", None)
    own_sleeps = [n for n, v in names.items() if v is real_sleep] if isinstance(names, dict) else []
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(app, "send_task", send_task))
        stack.enter_context(mock.patch.object(backend_cls, "get_task_meta", get_task_meta))
        stack.enter_context(mock.patch.object(time, "sleep", sleep))
        stack.enter_context(mock.patch.object(client, "execute_command", execute_command))
        for name in own_sleeps:  # from time import sleep: the learner's own name for it
            names[name] = sleep
            stack.callback(names.__setitem__, name, real_sleep)
        yield held


def _read_through(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, then every part of the canvas it returned read once, in its thread, while the
    check still watches it. Celery keeps a generator given to a group or a chord's header
    (``chord((add.s(int(n), int(n)) for n in numbers), ...)``) unread until the canvas is
    iterated or sent: what the generator computes or runs is the function's doing all the
    same, and is seen here, not later, when the check sends the canvas."""

    def call(*args: Any) -> Any:
        answer = fn(*args)
        if isinstance(answer, Signature):
            for _ in _signatures(answer):
                pass
        return answer

    return call


def _call(
    fn: Callable[..., Any],
    name: str,
    *args: Any,
    hold: bool = False,
    doing: str = "built the canvas",
    earlier: dict[str, str] = EARLIER_USER,
    own: tuple[str, dict[str, list[str]]] | None = None,
    watch: Callable[[], Any] | None = None,
    fresh: dict[str, str] | None = None,
) -> Built:
    """``fn(*args)``, bounded and watched: what it returned and did (:class:`Built`).

    A Fail if it waited for a task, or wiped lines other work had written to the logs
    (:func:`_earlier_lines`). With ``hold`` (a function that sends its canvas), what it sends
    is published only once it has returned (:func:`_holding`), so the lines the logs gained
    meanwhile are its own (``Built.wrote_here``); ``watch`` is read before and after the call
    (``Built.changed``). With ``fresh`` (``{id: the call that gave it}``, filled in), what it
    sends is not published if it carries a task id an earlier call gave or that holds a stored
    result already (``Built.reused``).
    """
    Number.noted = []
    log_lengths = {what: len(read()) for what, (_, read) in LOGS.items()}
    watched = watch() if watch is not None else None
    try:
        with (
            _sending(THREAD_NAME) as sent,
            _earlier_lines(earlier, own[1] if own else None) as lost,
            _holding(fn, hold) as held,
        ):
            try:
                answer, seen = call_watched(
                    held.calling(_read_through(fn)),
                    *args,
                    seconds=BUILD_SECONDS,
                    thread_name=THREAD_NAME,
                )
            except Exception as exc:
                if not held.waited():
                    raise
                answer, seen = exc, Seen()
    finally:
        computed, Number.noted = Number.noted or [], None
    published = [task_id for _, task_id in sent]
    sent += [(short(task), options["task_id"]) for task, _, _, options in held.sent]
    if seen.waited or held.waited() or isinstance(answer, StillRunning):
        held.sent = []  # never published: nothing of it runs
        _let_finish(published)
        if seen.waited:
            how = "it called get()"
        elif held.polled:
            how = "it read the state of a task again and again: a loop on ready() or state"
        elif held.store_polled:
            how = (
                f"it read {held.store_polled[0]} in the app-data store again and again, "
                "though none of its tasks could run meanwhile: a loop waiting for a step to "
                "change it (media.image(image_id), the image's stage)"
            )
        elif held.slept and held.reads:
            how = (
                f"it read the state of a task, then called time.sleep({held.slept[0]!r}): "
                "a loop on ready() or state"
            )
        elif held.slept:
            how = f"it called time.sleep({held.slept[0]!r})"
        else:
            how = f"no answer within {BUILD_SECONDS:g} s"
        raise Fail(
            f"{_called(name, args)} waited for its tasks ({how})",
            hint="it waited for the tasks: never wait where you build or send a canvas (no "
            "get(), no loop on ready(), no sleep()); return at once and let a chain or a "
            "chord carry the results"
            if not held.store_polled or held.polled or held.slept
            else "it waited for the tasks: never wait where you send a canvas, not on the data "
            "its tasks change either (no loop on media.image(...) or the store, no get(), no "
            "sleep()); return the AsyncResult at once: the caller follows the pipeline through "
            "it",
        )
    if lost:
        held.sent = []
        _let_finish(published)
        placed = {what: [*(own[1] if own else {}).get(what, []), earlier[what]] for what in lost}
        emptied = [what for what, gone in lost.items() if len(gone) == len(placed[what])]
        if emptied:
            gone_lines = [earlier[what] for what in emptied]
            raise Fail(
                f"{_called(name, args)} emptied {_words(emptied)} while it {doing}: "
                f"{_words(gone_lines)}, written there before the call by other work, "
                f"{'is' if len(gone_lines) == 1 else 'are'} gone",
                hint="leave the logs alone in the function (no events.clear_log(), no "
                "media.clear()): the notebook clears them once, in its set-up cell; a function "
                "that builds or sends a canvas changes no data, and what other users' and "
                "images' tasks recorded is not its to wipe",
            )
        what, gone = next(iter(lost.items()))
        whose = "other work" if earlier[what] in gone or not own else own[0]
        raise Fail(
            f"{_called(name, args)} removed {_words(gone)} from {what} while it {doing}: "
            f"{'lines' if len(gone) > 1 else 'a line'} that {whose} had written there",
            hint="leave the logs as they are in the function, this one's own earlier lines "
            "included (no lrem(), no events.clear_log()): they record what ran, every earlier "
            "run too, and a function that builds or sends a canvas changes no data",
        )
    if answer is None and is_stub_body(fn):
        raise NotYet(f"write the body of {name}")
    errbacks = [
        dict(errback)
        for *_, options in held.sent
        for errback in _listed(options.get("link_error"))
        if isinstance(errback, dict)
    ]
    linked = _links_in([options for *_, options in held.sent])
    wrote_here = {}
    if hold:
        for what, (_, read) in LOGS.items():
            if new := read()[log_lengths[what] :]:
                wrote_here[what] = new
    changed = None
    if watch is not None and (now := watch()) != watched:
        changed = (watched, now)
    reused = None
    if fresh is not None:
        ids = _step_ids(held.sent)
        if again := [i for i in ids if i in fresh]:
            reused = (again, f"an earlier call, {fresh[again[0]]}, had given its tasks")
        elif stored := [
            i for i in ids if app.backend.get_task_meta(i).get("status") != states.PENDING
        ]:
            reused = (
                stored,
                f"{'holds' if len(stored) == 1 else 'hold'} the stored result of a task sent "
                "before this call",
            )
        if reused:
            held.sent = []  # never published: nothing of it runs
        fresh.update(dict.fromkeys(ids, _called(name, args)))
    held.publish()
    return Built(
        answer,
        sent=[task for task, _ in sent],
        sent_ids=[task_id for _, task_id in sent],
        ran_here=[short(t) for t in seen.ran_here],
        computed=computed,
        errbacks=errbacks,
        linked=linked,
        wrote_here=wrote_here,
        changed=changed,
        reused=reused,
    )


def _step_ids(sent: list[tuple[str, Any, Any, dict[str, Any]]]) -> list[str]:
    """The task ids of the messages held (``_Held.sent``) and of the steps a chain carries
    in them (the ``chain`` option: the steps still to come, each with the id it will run
    under), in order, each once."""
    ids: list[str] = []
    for *_, options in sent:
        ids.append(str(options.get("task_id")))
        for item in _listed(options.get("chain")):
            with contextlib.suppress(Exception):
                sig = maybe_signature(item, app=app)
                for step in _signatures(sig):
                    if step.options.get("task_id"):
                        ids.append(str(step.options["task_id"]))
    return list(dict.fromkeys(i for i in ids if i and i != "None"))


def _links_in(sent_options: list[dict[str, Any]]) -> list[str]:
    """Short names of the tasks given as ``link=`` (success callbacks) in the options of the
    messages sent, and in the steps of a chain they carry, at any depth."""
    names: list[str] = []
    for options in sent_options:
        names += [_link_name(link) for link in _listed(options.get("link"))]
        for item in _listed(options.get("link")) + _listed(options.get("chain"))[::-1]:
            with contextlib.suppress(Exception):
                for sig in _signatures(maybe_signature(item, app=app)):
                    names += [_link_name(link) for link in _listed(sig.options.get("link"))]
    return list(dict.fromkeys(n for n in names if n))


def _link_name(link: Any) -> str:
    """``compress_image``, or ``the chain compress_image | generate_thumbnails``."""
    try:
        sig = maybe_signature(link, app=app)
    except Exception:
        return ""
    if isinstance(sig, _chain):
        steps = [short(maybe_signature(t, app=app).task) for t in sig.tasks]
        return f"the chain {' | '.join(steps)}"
    return short(getattr(sig, "task", "") or "")


def _listed(option: Any) -> list[Any]:
    """A signature option that holds one signature or a list of them, as a list."""
    if not option:
        return []
    return list(option) if isinstance(option, (list, tuple)) else [option]


def _let_finish(task_ids: list[str]) -> None:
    """Wait (bounded) for the tasks the learner's code sent, and for the logs to settle, so
    that what a rejected answer sent does not land in the next run or the next check."""
    for task_id in task_ids:
        with contextlib.suppress(CeleryTimeoutError):
            AsyncResult(task_id, app=app).get(
                timeout=WAIT_SECONDS, propagate=False, disable_sync_subtasks=False
            )
    if task_ids:
        _settle(media.log)
        _settle(events.log)


def _need_signature(built: Built, name: str, args: tuple[Any, ...]) -> Signature:
    answer = built.answer
    if isinstance(answer, EagerResult):
        raise Fail(
            f"{_called(name, args)} ran the canvas in the notebook (apply()) and returned "
            f"{kind(answer)}: nothing ran on the worker",
            hint="return the canvas itself (the signature), unsent and not applied: the "
            "check sends it, and the worker runs it",
        )
    if isinstance(answer, (AsyncResult, GroupResult)):
        # let what it sent finish, so that its side effects do not land in a later check
        answer.get(timeout=WAIT_SECONDS, propagate=False, disable_sync_subtasks=False)
        _settle(events.log)
        raise Fail(
            f"{name} sent the canvas and returned {kind(answer)}",
            hint="return the canvas itself (the signature), unsent: the check sends it",
        )
    if built.ran_here:
        raise Fail(
            f"{_called(name, args)} ran {_words(built.ran_here)} in the notebook (apply()) "
            "while it built the canvas",
            hint="put signatures in the canvas (task.s(...), task.si(...)): the worker runs "
            "them when the check sends it",
        )
    if built.sent:
        _let_finish(built.sent_ids)
        raise Fail(
            f"{_called(name, args)} sent {_words(built.sent)} itself while it built the canvas",
            hint="return every task inside the canvas, unsent: a task sent on its own "
            "(delay()) is outside the canvas, and nothing orders it with the rest",
        )
    if not isinstance(answer, Signature):
        raise Fail(
            f"{name} returned {kind(answer)}, not a signature",
            hint="build it from signatures (task.s(...), task.si(...)) with chain, group "
            "or chord, and return it without calling get()",
        )
    return answer


#: Every canvas a check got from a learner's function and sent: ``[(weak reference to it,
#: the call that returned it, the run of the checks it was sent in)]``, kept across runs in
#: one kernel. Sending a chain stores the id Celery gave it in the chain itself (its
#: ``options["task_id"]``), so a canvas kept between calls (a global, a cache) is sent the
#: second time under the first time's id, and its handle reads the earlier result.
_SENT_CANVASES: list[tuple[weakref.ref[Any], str, int]] = []
_RUNS = itertools.count(1)
#: The run of the checks under way (:func:`_next_run`).
_this_run = 0


def _next_run() -> None:
    global _this_run
    _this_run = next(_RUNS)
    _SENT_CANVASES[:] = [entry for entry in _SENT_CANVASES if entry[0]() is not None]
    _BUILT_PARTS.clear()


@dataclass
class _Part:
    """A signature of a canvas a learner's function returned in this run of a check, kept
    (strongly: no other object can take its ``id()``) with the call that returned it and what
    it held then."""

    sig: Signature
    call: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: its ``kwargs`` dict, if it holds any: a dict shared between signatures is shared too
    kwargs_dict: dict[str, Any] | None


#: The signatures of every canvas returned in the run of a check under way (07.1, 07.2,
#: 07.4): a later call's canvas must share none of them (:func:`_new_canvas`).
_BUILT_PARTS: list[_Part] = []


def _shown(sig: Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``update_user_statistics.si(8)``: a signature as the learner would write it."""
    parts = [repr(_plain(a)) for a in args] + [f"{k}={_plain(v)!r}" for k, v in kwargs.items()]
    name = short(getattr(sig, "task", "") or "") or type(sig).__name__.lstrip("_")
    return f"{name}.{'si' if sig.immutable else 's'}({', '.join(parts)})"


def _shared_parts(canvas: Signature, call: str, hint: str) -> None:
    """A Fail if ``canvas`` holds a signature (or a signature's kwargs) that a canvas an
    earlier call returned holds too: a signature kept at module level, or cached
    (``lru_cache``), and put in every canvas. Sending clones the signatures, so each run
    looks right; but building the second canvas may change the first (``sig.args = ...``),
    and ``freeze()`` on one writes its task id into the other."""
    mine = [sig for sig in _signatures(canvas) if sig is not canvas]
    for part in _BUILT_PARTS:
        same = next(
            (
                sig
                for sig in mine
                if sig is part.sig
                or (part.kwargs_dict is not None and sig.kwargs is part.kwargs_dict)
            ),
            None,
        )
        if same is None:
            continue
        then = _shown(part.sig, part.args, part.kwargs)
        now = _shown(part.sig, tuple(part.sig.args), dict(part.sig.kwargs))
        what = "the same signature object" if same is part.sig else "a signature's kwargs dict"
        if now != then:
            effect = (
                f"building it changed that earlier canvas, whose {then} is now {now}: a canvas "
                "built first and sent later runs with the later call's arguments"
            )
        else:
            effect = (
                "the two canvases are one object there, so a freeze() of one writes its task "
                "id into the other (two tasks under one id, one handle reading the other's "
                "result), and a set() or link() on that signature changes both"
            )
        raise Fail(
            f"{call} returned a canvas holding {then if now == then else now} ({what}) that "
            f"the canvas {part.call} returned holds too: {effect}",
            hint=hint,
        )
    for sig in mine:
        kwargs = sig.kwargs if isinstance(sig.kwargs, dict) and sig.kwargs else None
        _BUILT_PARTS.append(_Part(sig, call, tuple(sig.args or ()), dict(sig.kwargs or {}), kwargs))


#: What 07.1, 07.2 and 07.4 say to a canvas that shares a signature with another call's.
_SHARED = (
    ": a signature kept at module level, or cached (lru_cache), is one object shared by "
    "every canvas that holds it, so a later call (or a freeze()) changes the earlier canvases"
)
SHARED_FLOW_HINT = (
    "build every signature in the call, from the user_id it gets (send_welcome_email.si("
    f"user_id) and the other three inside the function){_SHARED}"
)
SHARED_DOUBLES_HINT = (
    "build every signature in the call, xsum.s() too: chord((add.s(n, n) for n in numbers), "
    f"xsum.s()) inside the function{_SHARED}"
)
SHARED_PRICE_HINT = (
    "build both signatures in the call: subtract.s(price, discount) | multiply.s(quantity) "
    f"inside the function{_SHARED}"
)


def _new_canvas(canvas: Signature, call: str) -> None:
    """A Fail if ``canvas`` is an object a learner's function returned before (and the check
    sent): a canvas kept between calls."""
    for ref, earlier, run in _SENT_CANVASES:
        if ref() is canvas:
            when = "" if run == _this_run else " in an earlier run of this check"
            raise Fail(
                f"{call} returned the same canvas object that {earlier} had returned{when}, "
                "and the check has sent it already: a canvas kept from an earlier call",
                hint="build a new canvas in every call, from the arguments it gets: a canvas "
                "kept between calls (a global, a cache) holds the arguments of the call that "
                "built it, and once sent it keeps the id Celery gave it, so sending it again "
                "reuses that id and its handle reads the earlier run's result",
            )


def _run(sig: Signature, what: str, call: str = "") -> tuple[AsyncResult, Any]:
    with contextlib.suppress(TypeError):
        _SENT_CANVASES.append((weakref.ref(sig), call or what, _this_run))
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


# --------------------------------------------------------------------------- the worker side


@dataclass
class Ran:
    """One task of a canvas as the result backend recorded it (``result_extended``)."""

    id: str
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    #: the id of the task that sent this one (None: sent from the notebook)
    parent: str | None
    #: the group it ran in (a chord's callback carries its header's group)
    group: str | None
    state: str
    value: Any
    #: when it finished (the worker's clock): to describe what ran, never to judge order
    done: str
    #: the task's full name, to bind its arguments to its parameters
    full_name: str

    def call(self) -> str:
        """``add(1, 1)``: the call the worker made."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"

    def bound(self) -> dict[str, Any] | None:
        """Its arguments by parameter name (``{"x": 30, "y": 5}``), None if they do not fit."""
        task = app.tasks.get(self.full_name)
        if task is None:
            return None
        try:
            return dict(inspect.signature(task.run).bind(*self.args, **self.kwargs).arguments)
        except TypeError:
            return None


class Runs(dict[str, Ran]):
    """The tasks a worker recorded, by id (:func:`_ran`)."""

    #: ids reachable from the result with nothing stored: a task sent with
    #: ``ignore_result=True`` (or one that never ran)
    unstored: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.unstored = []


def _ran(result: Any) -> Runs:
    """Every task reachable from ``result`` (parents, a group's members, children) that a
    worker recorded, by id."""
    found = Runs()
    visited: set[str] = set()
    todo = [result]
    # a link, or a step after the one the check waited for, may still be storing its result
    deadline = time.monotonic() + WAIT_SECONDS
    while todo:
        res = todo.pop()
        rid = getattr(res, "id", None)
        if res is None or rid in visited:
            continue
        visited.add(rid)
        if isinstance(res, ResultSet):
            todo.extend(res.results)
            todo.append(getattr(res, "parent", None))
            continue
        if not isinstance(res, AsyncResult):
            continue
        meta = app.backend.get_task_meta(res.id)
        if meta.get("status") not in states.READY_STATES and time.monotonic() < deadline:
            with contextlib.suppress(CeleryTimeoutError):
                res.get(
                    timeout=max(deadline - time.monotonic(), 0.01),
                    propagate=False,
                    disable_sync_subtasks=False,
                )
            meta = app.backend.get_task_meta(res.id)
        # the local .parent last, so it is visited first: it knows its own parent even
        # when the backend stored nothing for it (ignore_result=True)
        if meta.get("parent_id"):
            todo.append(AsyncResult(meta["parent_id"], app=app))
        todo.append(res.parent)
        for child in meta.get("children") or []:
            try:
                todo.append(result_from_tuple(child, app))
            except Exception:  # a child the backend cannot rebuild: not one of ours
                continue
        if not meta.get("name"):
            if meta.get("status") == states.PENDING:
                found.unstored.append(res.id)
            continue
        found[res.id] = Ran(
            id=res.id,
            name=short(meta["name"]),
            args=list(meta.get("args") or []),
            kwargs=dict(meta.get("kwargs") or {}),
            parent=meta.get("parent_id"),
            group=meta.get("group_id"),
            state=meta.get("status", ""),
            value=meta.get("result"),
            done=str(meta.get("date_done") or ""),
            full_name=meta["name"],
        )
    return found


def _in_order(runs: dict[str, Ran]) -> list[Ran]:
    """The tasks in the order they finished (to describe what ran, never to judge order)."""
    return sorted(runs.values(), key=lambda run: run.done)


def _before(first: Ran, then: Ran, runs: dict[str, Ran]) -> bool:
    """Whether ``then`` was sent only after ``first`` had finished.

    It was if ``first`` sent it (a chain's next step, a link), or sent a task that did, and
    so on; a chord's callback is sent by the last task of its header to finish, and waits
    for all of them: every task of that group comes before it.
    """
    todo, seen = [then], {then.id}
    while todo:
        run = todo.pop()
        preds = []
        parent = runs.get(run.parent or "")
        if parent is not None:
            preds.append(parent)
            if run.group and parent.group == run.group:  # a chord's callback
                preds += [r for r in runs.values() if r.group == run.group and r is not run]
        for pred in preds:
            if pred.id == first.id:
                return True
            if pred.id not in seen:
                seen.add(pred.id)
                todo.append(pred)
    return False


# --------------------------------------------------------------------------- 07.1


@exercise("07.1", "the user-registered chain", points=2)
def _registered(registered_flow: Any) -> str:
    fn = need_function(registered_flow, "registered_flow", "registered_flow(user_id)")
    _next_run()
    used_ids: dict[str, str] = {}
    for turn, user in enumerate(USERS):
        events.clear_log()
        call = _called("registered_flow", (user,))
        built = _call(fn, "registered_flow", user, own=_own_lines_of_user(user))
        sig = _need_signature(built, "registered_flow", (user,))
        _new_canvas(sig, call)
        _shared_parts(sig, call, SHARED_FLOW_HINT)
        _fresh_ids(sig, call, used_ids, hint=FLOW_IDS_HINT, reads="its handle")
        early = _settle(events.log, 0.1)
        if early:
            raise Fail(
                f"registered_flow({user}) ran {early} in the notebook while it built the canvas",
                hint="calling a task (send_welcome_email(user_id)) runs it right here, not on "
                "the worker: put send_welcome_email.si(user_id) in the chain instead",
            )
        result, value = _run(sig, f"the flow for user {user}", call)
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
            hint = (
                "guide 002 runs them one after the other, in its order: a chain of .si() "
                "signatures, not a group"
            )
            if links := _linked_together(sig):
                parent, linked = next(iter(links.items()))
                hint = (
                    f"{_words(sorted(linked))} are all links of {parent}: when a task "
                    "finishes, Celery sends all its links at once (as one group); chain the "
                    "steps with .si() instead, each sent when the one before it has finished"
                )
            raise Fail(
                f"for user {user}, the steps ran in the order {[s.split('(')[0] for s in lines]}",
                hint=hint,
            )
        if lines != expected:
            hint = "chain the four steps of guide 002 §4, each once, each with .si(user_id)"
            if any("(user " in line.split("(user ", 1)[1] for line in lines if "(user " in line):
                hint = (
                    ".s() hands each step the previous step's result, here its log line, as "
                    "the user id: give every step .si(user_id)"
                )
            elif (again := _earlier_users(USERS[:turn], user, lines)) and [
                line for line in lines if f"(user {user})" in line
            ]:
                hint = (
                    f"registered_flow({user}) also ran the steps of {_words(again)} again: "
                    "build a new canvas in each call, "
                    "from the user_id it gets (a list of steps kept outside the function "
                    "grows with every call)"
                )
            elif [line for line in lines if f"(user {user})" not in line]:
                hint = "use the user_id argument, not a fixed id"
            raise Fail(f"for user {user}, these steps ran: {lines}", hint=hint)
        _in_sequence(user, _ran(result), sig)
    return (
        "4 steps for users 7, 8 and 7 again, once each, each sent when the one before it had "
        "finished"
    )


#: The users 07.1 sends a flow for: user 7 twice (a second flow for the same user must not
#: find the first one's results under the same ids, nor reuse its canvas).
USERS = (7, 8, 7)
FLOW_IDS_HINT = (
    "leave task_id out: Celery gives every task a new id when the canvas is sent; an id "
    "built from the user id (or a fixed one) repeats whenever a flow for the same user is "
    "sent again, and the new handle reads the earlier run's stored result before any step "
    "of this one has run"
)


def _earlier_users(earlier: tuple[int, ...], user: int, lines: list[str]) -> list[str]:
    """The other users of ``earlier`` (the check asked for them before) whose steps ran again."""
    return [
        f"user {u}"
        for u in dict.fromkeys(earlier)
        if u != user and any(f"(user {u})" in line for line in lines)
    ]


def _in_sequence(user: int, runs: dict[str, Ran], canvas: Signature) -> None:
    """Each step ran on the worker, in the canvas, sent only once the step before had finished."""
    _one_after_another(
        runs,
        REGISTERED_STEPS,
        {"user_id": user},
        f"for user {user}",
        outside=f"registered_flow({user}) returned",
        hint="put all four steps in the chain, each as step.si(user_id)",
        chain_hint="chain them with .si(): a chain sends each step when the one before it "
        "has finished",
        canvas=canvas,
    )


def _one_after_another(
    runs: dict[str, Ran],
    names: list[str],
    arguments: dict[str, Any],
    what: str,
    *,
    outside: str,
    hint: str,
    chain_hint: str,
    canvas: Any = None,
) -> None:
    """Each task of ``names`` ran once with ``arguments``, each sent only once the one before
    it had finished (:func:`_before`): on one worker a group runs in order only by chance.

    The caller has seen each of them run (in a log); ``canvas`` is what the learner's
    function built, if it returned it (it tells links from a group).
    """
    steps: list[Ran] = []
    unseen = [n for n in names if not any(r.name == n for r in runs.values())]
    for name in names:
        mine = [r for r in runs.values() if r.name == name and r.bound() == arguments]
        if not mine and getattr(runs, "unstored", None):
            name = unseen[0] if unseen else name
            raise Fail(
                f"{what}, {name} ran, but left no result in the result backend: its handle "
                "stays PENDING for good, so nobody holding the AsyncResult (result.parent, "
                "...) can see that step finish or fail",
                hint="send the canvas without ignore_result=True: it throws away the result "
                "(and the failure) of the task it is given to",
            )
        if not mine and (typed := _retyped(runs, name, arguments)):
            raise Fail(
                f"{what}, {name} ran as {typed.call()}: {_words(_typed_words(typed, arguments))}",
                hint="pass the argument as the function got it (step.si(user_id)): a str() or "
                "other conversion changes what the task receives, though its log line looks "
                "the same",
            )
        if len(mine) != 1:
            raise Fail(f"{what}, {name} ran, but not as a task of the canvas {outside}", hint=hint)
        steps.append(mine[0])
    links = _linked_together(canvas)
    for first, then in zip(steps, steps[1:], strict=False):
        if _before(first, then, runs):
            continue
        parent = next((p for p, linked in links.items() if {first.name, then.name} <= linked), "")
        if parent:
            problem = (
                f"{what}, {first.name} and {then.name} are both links of {parent}: when a "
                "task finishes, Celery sends all its links at once (as one group), so "
                f"{then.name} did not wait for {first.name}"
            )
        elif first.group and first.group == then.group and _timed(canvas):
            problem = (
                f"{what}, {first.name} and {then.name} ran in one group, sent together with "
                f"countdowns ({_words(_timed(canvas))}): they ran in this order only because "
                f"of the delays, and {then.name} did not wait for {first.name} to finish"
            )
        elif first.group and first.group == then.group:
            problem = (
                f"{what}, {first.name} and {then.name} ran in one group: a group gives no "
                "order, they ran in this order only because the worker took them first in, "
                "first out"
            )
        else:
            problem = (
                f"{what}, {then.name} was sent before {first.name} had finished: they ran in "
                "this order only because the worker took them first in, first out"
            )
        raise Fail(problem, hint=chain_hint)


def _timed(canvas: Any) -> list[str]:
    """``["create_default_follows: countdown=0.3", ...]``: the tasks of ``canvas`` held back
    by a countdown or an eta."""
    if canvas is None:
        return []
    timed = []
    for sig in _signatures(canvas):
        for option in ("countdown", "eta"):
            if sig.options.get(option):
                value = sig.options[option]
                shown = f"{value:g}" if isinstance(value, (int, float)) else repr(value)
                timed.append(f"{short(sig.task)}: {option}={shown}")
    return timed


def _retyped(runs: dict[str, Ran], name: str, arguments: dict[str, Any]) -> Ran | None:
    """A run of ``name`` whose arguments print like ``arguments`` but are of another type
    (``"7"`` for ``7``)."""
    for run in runs.values():
        bound = run.bound()
        if (
            run.name == name
            and bound is not None
            and bound != arguments
            and {k: str(v) for k, v in bound.items()} == {k: str(v) for k, v in arguments.items()}
        ):
            return run
    return None


def _typed_words(run: Ran, arguments: dict[str, Any]) -> list[str]:
    bound = run.bound() or {}
    return [
        f"{k} was {bound.get(k)!r} ({type(bound.get(k)).__name__}), not {v!r} ({type(v).__name__})"
        for k, v in arguments.items()
        if bound.get(k) != v
    ]


def _signatures(sig: Any) -> Iterator[Signature]:
    """``sig`` and every signature in it: a chain's, group's or chord's tasks, a chord's
    callback, the links and error callbacks of each."""
    if not isinstance(sig, Signature):
        return
    yield sig
    inner: list[Any] = []
    if isinstance(sig, _chord):
        inner += [*sig.tasks, sig.body]
    elif isinstance(sig, (group, _chain)):
        inner += list(sig.tasks)
    for option in ("link", "link_error"):
        inner += _listed(sig.options.get(option))
    for child in inner:
        yield from _signatures(maybe_signature(child, app=app))


def _linked_together(canvas: Any, at_least: int = 2) -> dict[str, set[str]]:
    """``{task: names of its links}`` for each signature in ``canvas`` with several links
    (``at_least`` of them)."""
    together: dict[str, set[str]] = {}
    for sig in _signatures(canvas):
        links = _listed(sig.options.get("link"))
        names = {short(link.get("task")) for link in links}
        if len(links) >= at_least:
            together.setdefault(short(sig.task), set()).update(names)
    return together


# --------------------------------------------------------------------------- 07.2

#: How :class:`Number` notes a conversion (``int(n)``): a computation that looks like none.
CONVERSIONS = ("int(", "float(", "round(", "math.")

#: A 0 and a one-number list too: add(0, 0) adds nothing to the total, and a chord of one
#: looks like overkill, but both still get one add per number and xsum.
DOUBLES_LISTS = ([1, 2, 3], [5, 10, 20, 40], [4, 9, 4, 4], [3, 0, 8], [6])


@exercise("07.2", "a chord: add in parallel, then xsum", points=2)
def _doubles(total_of_doubles: Any) -> str:
    fn = need_function(total_of_doubles, "total_of_doubles", "total_of_doubles(numbers)")
    _next_run()
    totals = []
    used_ids: dict[str, str] = {}
    for numbers in DOUBLES_LISTS:
        given = [Number(n) for n in numbers]
        built = _call(fn, "total_of_doubles", given)
        call = _called("total_of_doubles", (numbers,))
        if [_plain(n) for n in given] != numbers:
            raise Fail(
                f"{call} changed the list it was given: the caller's list is now "
                f"{[_plain(n) for n in given]}",
                hint="leave the list it gets as it is (no numbers.sort(), reverse(), append() "
                "or pop() on it): the function only builds the canvas, and the list belongs "
                "to its caller; the order of the adds changes nothing for xsum (sorted(numbers) "
                "would give a new list)",
            )
        answer = built.answer
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            raise Fail(
                f"total_of_doubles({numbers}) returned the number {answer}",
                hint="it waited for the group with get(): return a chord(header, "
                "xsum.s()) and let the worker call xsum when all adds are done",
            )
        sig = _need_signature(built, "total_of_doubles", (numbers,))
        _new_canvas(sig, call)
        _shared_parts(sig, call, SHARED_DOUBLES_HINT)
        _fresh_ids(sig, call, used_ids)
        with _published() as published:
            result, value = _run_chord(sig, numbers, call)
        expected = sum(2 * n for n in numbers)
        if isinstance(value, list):
            raise Fail(
                f"for {numbers}, the result is the list {value}",
                hint="a group only collects the results: a chord (group + callback "
                "xsum.s()) adds them up",
            )
        if isinstance(value, BaseException):
            if len(numbers) == 1 and isinstance(value, TypeError) and _unrolled(sig):
                raise Fail(
                    f"for the one-number list {numbers}, the canvas failed: TypeError: {value}: "
                    f"xsum got the number that add({numbers[0]}, {numbers[0]}) returned, not a "
                    "list",
                    hint="chain() turns a group of one task into that task alone (Celery "
                    "unrolls it), so chain(group(...), xsum.s()) hands xsum a number when the "
                    "list holds one; chord(header, xsum.s()) (or group(...) | xsum.s(), which "
                    "makes a chord) keeps the header a group for a list of any length",
                )
            raise Fail(f"for {numbers}, the canvas failed: {type(value).__name__}: {value}")
        members = _chord_of_adds(numbers, result, built, sig)
        _all_at_once(numbers, members, published)
        if value != expected:
            raise Fail(
                f"for {numbers}, the result is {value!r}, not {expected}",
                hint="one add.s(n, n) per number in the header, xsum.s() as the callback",
            )
        totals.append(f"{expected} for {numbers}")
    return f"{_words(totals)}: one add(n, n) per number on the worker, then xsum"


def _run_chord(sig: Signature, numbers: list[int], call: str) -> tuple[AsyncResult, Any]:
    """:func:`_run` for 07.2, and a Fail that names ``ignore_result`` on the callback if the
    chord's header finished but its handle (xsum's) never got a result."""
    with contextlib.suppress(TypeError):
        _SENT_CANVASES.append((weakref.ref(sig), call, _this_run))
    result = sig.apply_async()
    try:
        return result, finished(
            result,
            WAIT_SECONDS,
            f"the canvas for {numbers}",
            "is the worker running? Run the set-up cell",
        )
    except Fail:
        header = result.parent if isinstance(result.parent, GroupResult) else None
        if header is None or not header.results or not header.ready():
            raise
        returned = [r.result for r in header.results]
        raise Fail(
            f"for {numbers}, the chord's header finished (its tasks returned {returned}), "
            f"but the chord's handle, its callback's, is still {result.state} after "
            f"{WAIT_SECONDS:g} s: the callback's result was never stored",
            hint="xsum.s() as the callback, without ignore_result=True: the chord's handle is "
            "the callback's, and a task that ignores its result never makes it ready (its "
            "total is thrown away)",
        ) from None


#: 07.2's hint for a task id given in the canvas.
IDS_HINT = (
    "leave task_id out: Celery gives every task a new id when the canvas is sent; ids "
    "built from the number repeat for a repeated number, ids built from the position "
    "repeat in every call"
)


def _ids(ids: list[str]) -> str:
    """``the task id 'a'``, ``the task ids 'a' and 'b'``."""
    return f"the task id{'' if len(ids) == 1 else 's'} {_words([repr(i) for i in ids])}"


def _unrolled(canvas: Signature) -> bool:
    """Whether ``canvas`` is a chain of add then xsum with no group or chord in it: what
    ``chain(group(add.s(n, n)), xsum.s())`` becomes for one number (a group of one task is
    unrolled into the task)."""
    if not isinstance(canvas, _chain):
        return False
    steps = [maybe_signature(t, app=app) for t in canvas.tasks]
    return [short(getattr(t, "task", "") or "") for t in steps] == ["add", "xsum"] and not any(
        isinstance(t, (group, _chord)) for t in steps
    )


def _fresh_ids(
    canvas: Signature,
    call: str,
    used: dict[str, str],
    *,
    hint: str = IDS_HINT,
    reads: str = "the chord",
) -> None:
    """No task id given twice: not twice in one canvas, not again in a later call (``used``:
    ``{id: the call that gave it}``), not one that holds a stored result already. A task id
    names one task; a second task sent with it shares the first one's stored result, so
    ``reads`` (the chord, the handle) waits for, or reads, the wrong one."""
    ids = [str(sig.options["task_id"]) for sig in _signatures(canvas) if sig.options.get("task_id")]
    twice = sorted(i for i, n in Counter(ids).items() if n > 1)
    again = [i for i in dict.fromkeys(ids) if i in used]
    if twice:
        raise Fail(
            f"{call} gave several tasks the same task id ({_words([repr(i) for i in twice])}): "
            f"they share one stored result, so {reads} cannot tell them apart",
            hint=hint,
        )
    if again:
        raise Fail(
            f"{call} reused {_ids(again)}, which an earlier call, {used[again[0]]}, had "
            f"given its tasks already: {reads} finds the earlier results stored under "
            f"{'it' if len(again) == 1 else 'them'}",
            hint=hint,
        )
    stored = [
        i for i in dict.fromkeys(ids) if app.backend.get_task_meta(i).get("status") != "PENDING"
    ]
    if stored:
        raise Fail(
            f"{call} reused {_ids(stored)}: earlier tasks have results stored under "
            f"{'it' if len(stored) == 1 else 'them'} already, and {reads} finds those",
            hint=hint,
        )
    used.update(dict.fromkeys(ids, call))


def _chord_of_adds(
    numbers: list[int], result: AsyncResult, built: Built, canvas: Signature
) -> list[Ran]:
    """The canvas ended with xsum, called by a chord whose header ran one add(n, n) per number:
    the header's tasks, in its order."""
    runs = _ran(result)
    last = runs.get(result.id)
    chord_hint = "a chord: one add.s(n, n) per number in its header, xsum.s() as its callback"
    if last is None or last.name != "xsum":
        ran = [r.call() for r in _in_order(runs)]
        how = "" if any(r.group for r in runs.values()) else ", one after another"
        if len(numbers) == 1 and last is not None and last.name == "add":
            raise Fail(
                f"for the one-number list {numbers}, the canvas was {ran} alone, no chord "
                "and no xsum",
                hint="a list of one number gets the same chord as any other: one "
                "add.s(n, n) per number in its header, xsum.s() as its callback",
            )
        raise Fail(
            f"for {numbers}, the canvas ended with {last.name if last else 'no task'}, not "
            f"xsum: the worker ran {ran}{how}",
            hint=chord_hint,
        )
    header = result.parent if isinstance(result.parent, GroupResult) else None
    if header is None:
        parent = runs.get(last.parent or "")
        if parent is None:
            where = " computed in the notebook" if built.computed else ""
            raise Fail(
                f"for {numbers}, xsum ran alone, on {last.args[0] if last.args else []!r}"
                f"{where}: no add ran on the worker",
                hint=chord_hint,
            )
        raise Fail(
            f"for {numbers}, xsum added what one {parent.name} task returned, not the "
            f"results of {len(numbers)} add tasks run in parallel",
            hint=f"{parent.name} runs all the adds one after another inside one task: {chord_hint}",
        )
    members = [runs[m.id] for m in header.results if m.id in runs]
    unstored = [m.id for m in header.results if m.id in runs.unstored]
    if unstored:
        got = f"xsum got {last.args[0]!r} from them" if last.args else "xsum ran"
        raise Fail(
            f"for {numbers}, {len(unstored)} of the chord's {len(header.results)} header tasks "
            f"left no result in the result backend ({got}): their handles stay PENDING for "
            "good, so nobody holding the chord's result (result.parent) can see an add "
            "finish or fail",
            hint="add.s(n, n) in the header without ignore_result=True: the chord still "
            "hands their results to xsum, but each add's own result is thrown away",
        )
    calls = sorted(((r.name, r.bound()) for r in members), key=repr)
    wanted = sorted((("add", {"x": n, "y": n}) for n in numbers), key=repr)
    if calls == wanted and len(members) == len(header.results):
        _callback_gets_results(numbers, last, members, built, canvas)
        return members
    ran = [r.call() for r in members]
    others = sorted({r.name for r in members if r.name != "add"})
    if others:
        hint = f"the exercise doubles with add: add.s(n, n) for each number, not {_words(others)}"
    elif built.computed:
        hint = (
            f"it computed {_words(built.computed)} in the notebook (arithmetic written in the "
            "function, or add(n, n) called directly, runs right here): put add.s(n, n) in the "
            "header, each number as it is, so that the worker doubles each number"
        )
    elif len(members) < len(numbers) and {repr(c) for c in calls} <= {repr(w) for w in wanted}:
        left_out = [n for n in dict.fromkeys(numbers) if ("add", {"x": n, "y": n}) not in calls]
        hint = "one add per number, each time a number appears: loop over numbers, not set(numbers)"
        if left_out and not any(left_out) and 0 in numbers:
            hint = (
                "0 needs its add too: one add.s(n, n) for every number of the list, a 0 "
                "included, even though add(0, 0) changes nothing in the total"
            )
        elif left_out:
            hint = (
                f"one add.s(n, n) for each of the {len(numbers)} numbers, however many there "
                "are: loop over numbers itself, not a fixed count "
                f"({_words([str(n) for n in left_out])} got no add)"
            )
    else:
        hint = "one add.s(n, n) per number in the chord's header, and nothing else"
    raise Fail(
        f"for {numbers}, the chord's header ran {ran}, not one add(n, n) per number", hint=hint
    )


@contextmanager
def _published() -> Iterator[dict[str, float | None]]:
    """Meanwhile, ``{task id: seconds}`` of every task published, from any thread: how long
    its message asks the worker to hold it back before running it (its ``eta``, from a
    ``countdown`` or an ``eta``), None for a task sent to run at once. Read from the message
    the check itself sends, never timed."""
    delays: dict[str, float | None] = {}

    def remember(headers: Any = None, **_: Any) -> None:
        if not isinstance(headers, dict) or not headers.get("id"):
            return
        eta, delay = headers.get("eta"), None
        if eta:
            try:
                when = eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))
                now = datetime.now(when.tzinfo) if when.tzinfo else datetime.now()
                delay = max((when - now).total_seconds(), 0.0)
            except (TypeError, ValueError):
                delay = 0.0
        delays[str(headers["id"])] = delay

    before_task_publish.connect(remember, weak=False)
    try:
        yield delays
    finally:
        before_task_publish.disconnect(remember)


def _all_at_once(numbers: list[int], members: list[Ran], delays: dict[str, float | None]) -> None:
    """The header's adds were all sent to run at once: none held back by a countdown or an
    eta (members delayed one after another run one after another, not in parallel)."""
    held = {m.id: float(delays[m.id] or 0.0) for m in members if delays.get(m.id) is not None}
    if not held:
        return
    shown = [
        f"{m.call()} after {_about(held[m.id])}" if m.id in held else f"{m.call()} at once"
        for m in members
    ]
    # (the delays are read when each message is published, a moment apart: alike within
    # 0.05 s is one delay for all; this only words the problem, any delay is refused)
    spread = max(held.values()) - min(held.values())
    if len(held) < len(members) or spread >= 0.05:
        problem = (
            f"for {numbers}, the chord's header sent its adds to start at different times "
            f"({_words(shown)}: a countdown or an eta): they ran one after another, as the "
            "delays let them, not in parallel"
        )
    else:
        problem = (
            f"for {numbers}, every add of the chord's header was held back "
            f"{_about(max(held.values()))} after it was sent (a countdown or an eta): they "
            "waited before they ran, though nothing was running"
        )
    raise Fail(
        problem,
        hint="send the header's adds all at once, none held back by a countdown or an eta: "
        "the chord hands them to the worker together, to run in parallel, and calls xsum "
        "when the last one has finished",
    )


def _about(seconds: float) -> str:
    """``0.3 s``: a delay read from a message, to a tenth of a second (it is read a moment
    after the message's eta was set)."""
    return f"{round(seconds, 1):g} s" if seconds >= 0.05 else "less than 0.05 s"


def _callback_gets_results(
    numbers: list[int], last: Ran, members: list[Ran], built: Built, canvas: Signature
) -> None:
    """The header was right: xsum must have added what it returned, handed on by the chord,
    and the function must have computed nothing itself."""
    own = [
        s
        for s in _signatures(canvas)
        if short(s.task) == "xsum" and (s.immutable or s.args or s.kwargs)
    ]
    if own:
        callback = own[0]
        parts = [repr(a) for a in callback.args]
        parts += [f"{k}={v!r}" for k, v in callback.kwargs.items()]
        how = "si" if callback.immutable else "s"
        where = f" ({_words(built.computed)} computed in the notebook)" if built.computed else ""
        raise Fail(
            f"for {numbers}, the callback is xsum.{how}({', '.join(parts)}){where}: it adds "
            "numbers fixed when the canvas was built, not the results of the adds",
            hint="xsum.s() with no arguments as the chord's callback: the chord calls it with "
            "the list of its header's results; xsum.si(...) ignores them",
        )
    values = sorted((m.value for m in members), key=repr)
    received = last.bound() or {}
    if sorted(received.get("numbers") or [], key=repr) != values or len(received) != 1:
        raise Fail(
            f"for {numbers}, xsum ran as {last.call()}, not on the list of the adds' results "
            f"{[m.value for m in members]}",
            hint="xsum.s() with no arguments as the chord's callback: the chord calls it with "
            "the list of its header's results",
        )
    if built.computed:
        hint = (
            "compute nothing in the function: add.s(n, n) in the header, xsum.s() as "
            "the callback, and the worker does the arithmetic"
        )
        if any(c.startswith(CONVERSIONS) for c in built.computed):
            hint += (
                "; int(), float() or round() on a number is a computation too: it changes the "
                "number (2.5 becomes 2) or its type before the worker sees it, so give add "
                "each n as it is"
            )
        raise Fail(
            f"total_of_doubles({numbers}) computed {_words(built.computed)} in the notebook",
            hint=hint,
        )


# --------------------------------------------------------------------------- 07.3

#: Image ids, and how the check makes the pipeline fail at each step: step 1 refuses a
#: .bmp, step 2 cannot read a size that is not a number (the good image uploaded again: a
#: second run for one image id sends a new chain, under new task ids, and returns its own
#: handle); steps 3 to 5 fail because the upload asks them to (``media.upload(...,
#: fail_at=...)``, read by the worker in any mode).
GOOD_IMAGE = 21
BAD_UPLOADS = {
    "validate_image": (22, {"fmt": "bmp"}, "InvalidImage: image 22: unsupported format 'bmp'"),
    "compress_image": (
        GOOD_IMAGE,
        {"size_kb": "huge", "fmt": "png"},
        "ValueError: invalid literal for int() with base 10: 'huge'",
    ),
}
MADE_TO_FAIL = {
    "generate_thumbnails": (24, OSError, "disk full while writing the thumbnails of image 24"),
    "update_image_metadata": (25, RuntimeError, "metadata store refused image 25"),
    "notify_processing_complete": (26, ConnectionError, "uploader of image 26 unreachable"),
}


@exercise("07.3", "the image pipeline with link_error", points=2)
def _pipeline(process_image: Any) -> str:
    fn = need_function(process_image, "process_image", "process_image(image_id)")
    used: dict[str, str] = {}
    # A good upload: one message sent, five steps, the chain's handle, no failure recorded.
    media.clear()
    events.clear_log()
    media.upload(GOOD_IMAGE, size_kb=1000, fmt="png")
    built = _call(
        fn,
        "process_image",
        GOOD_IMAGE,
        hold=True,
        doing="sent the pipeline",
        earlier=EARLIER_IMAGE,
        own=_own_lines_of_image(GOOD_IMAGE),
        watch=lambda: media.image(GOOD_IMAGE),
        fresh=used,
    )
    _not_reused(built, GOOD_IMAGE)
    _only_sent(built, GOOD_IMAGE)
    result = _need_result(built)
    _sent_this_time(built, result, GOOD_IMAGE, used)
    value = _pipeline_finished(result, GOOD_IMAGE)
    if len(built.sent) > 1:
        _let_finish(built.sent_ids)
        raise Fail(
            f"process_image sent {len(built.sent)} messages itself ({_words(built.sent)}): "
            "only the first one's handle is returned, and nothing orders them",
            hint="send the five steps as one chain: chain(...).apply_async(link_error="
            "record_failure.s()) sends the first step, and the worker sends each next one when "
            "the step before it has succeeded",
        )
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
    returned = app.backend.get_task_meta(result.id).get("name")
    if returned and short(returned) != PIPELINE[-1]:
        _settle(media.log, 0.5)
        _settle(events.log)
        hint = (
            "return what chain(...).apply_async(link_error=record_failure.s()) returns: "
            "the handle of the chain's last step, ready only when the whole pipeline is"
        )
        if len(built.linked) == 1:
            hint += (
                f" ({built.linked[0]} sent by link= is a success callback outside the chain, "
                "and the handle returned is not its own)"
            )
        elif built.linked:
            hint += (
                f" ({_words(built.linked)} sent by link= are success callbacks outside the "
                "chain, and the handle returned is none of theirs)"
            )
        else:
            hint += (
                ", as it is: result.parent and the handles before it belong to the earlier "
                "steps, each ready as soon as its own step is"
            )
        raise Fail(
            f"process_image returned the AsyncResult of {short(returned)}, not of the "
            f"pipeline: it was ready when {short(returned)} was",
            hint=hint,
        )
    _reaches_first_step(result, built)
    if steps != [f"{step}(image {GOOD_IMAGE})" for step in PIPELINE]:
        raise Fail(
            f"for a good image these steps ran: {steps}",
            hint="chain the five steps of guide 002 §5 in order",
        )
    _one_after_another(
        _ran(result),
        PIPELINE,
        {"image_id": GOOD_IMAGE},
        "for a good image",
        outside="process_image sent",
        hint="send the five steps as one chain, each once",
        chain_hint="chain the five steps: a chain sends each step when the one before it has "
        "succeeded, a group runs its tasks in any order",
    )
    if failures:
        raise Fail(
            f"a good image recorded {failures}",
            hint="record_failure belongs in link_error=, not link=: link runs on success",
        )
    for step, (image_id, upload, error) in BAD_UPLOADS.items():
        _fails_at(fn, step, image_id, upload, error, used)
    for step, (image_id, exc_type, message) in MADE_TO_FAIL.items():
        upload = {"fail_at": step, "fail_with": exc_type.__name__, "message": message}
        _fails_at(fn, step, image_id, upload, f"{exc_type.__name__}: {message}", used)
    return (
        "5 steps for a good image; each failure recorded once, naming the step that failed, "
        f"image {GOOD_IMAGE} uploaded again included"
    )


def _not_reused(built: Built, image_id: int) -> None:
    """A Fail if what the function sent carries task ids that an earlier call gave or that
    hold a stored result (then the check published none of it)."""
    if built.reused is None:
        return
    ids, how = built.reused
    raise Fail(
        f"process_image({image_id}) sent its tasks under {_ids(ids)}, which {how}: the "
        "handle it returns is ready at once, with the earlier run's result, whatever this "
        "run does",
        hint="leave task_id out: Celery gives every task of the chain a new id when it is "
        "sent; an id built from the image id repeats whenever the same image is processed "
        "again (an image uploaded again), and its handle reads the earlier run's stored "
        "result",
    )


def _sent_this_time(built: Built, result: AsyncResult, image_id: int, used: dict[str, str]) -> None:
    """The function sent something in this call: a handle kept from an earlier call (or made
    up) belongs to no run of this upload."""
    if built.sent_ids:
        return
    state = app.backend.get_task_meta(result.id).get("status")
    if result.id in used:
        whose = (
            f"the handle that an earlier call, {used[result.id]}, had returned ({state} already)"
        )
    elif state != states.PENDING:
        whose = f"a handle that was {state} before the call, from an earlier run"
    else:
        whose = "a handle of a task nobody sent"
    raise Fail(
        f"process_image({image_id}) sent nothing: it returned {whose}",
        hint="send the pipeline in every call, even for an image id seen before: the image "
        "may have been uploaded again since, and a handle kept from an earlier call (in a "
        "dict outside the function) belongs to that call's run; return what chain(...)"
        ".apply_async(link_error=record_failure.s()) gives this time",
    )


def _fails_at(
    fn: Callable[..., Any],
    step: str,
    image_id: int,
    upload: dict[str, Any],
    error: str,
    used: dict[str, str],
) -> None:
    """Run the pipeline on an image that fails at ``step``: one failure, naming it, recorded."""
    media.clear()
    events.clear_log()
    media.upload(image_id, **upload)
    position = PIPELINE.index(step) + 1
    built = _call(
        fn,
        "process_image",
        image_id,
        hold=True,
        doing="sent the pipeline",
        earlier=EARLIER_IMAGE,
        own=_own_lines_of_image(image_id),
        watch=lambda: media.image(image_id),
        fresh=used,
    )
    _not_reused(built, image_id)
    _only_sent(built, image_id)
    result = _need_result(built)
    _sent_this_time(built, result, image_id, used)
    _pipeline_finished(result, image_id)
    steps = _settle(media.log, 0.5)
    failures = _settle(events.log, 0.3, at_least=1)
    ran = [f"{name}(image {image_id})" for name in PIPELINE[: position - 1]]
    if step == "validate_image":
        ran = [f"validate_image(image {image_id}) refused bmp"]
    what = f"an image that fails at {step} (step {position})"
    if steps != ran:
        raise Fail(f"for {what}, these steps ran: {steps}", hint="chain the steps in order")
    if not failures:
        hint = "send the chain with apply_async(link_error=record_failure.s())"
        if position > 1:
            hint = (
                "link_error on the chain covers every step: chain(...).apply_async("
                "link_error=record_failure.s()); on_error on one signature covers that step only"
            )
        if any(
            short(e.get("task")) == "record_failure" and e.get("immutable") for e in built.errbacks
        ):
            hint = (
                "record_failure.s(), not .si(): Celery calls an error callback with the failed "
                "task's request, exception and traceback; an immutable one gets none of them, "
                "so it fails itself and records nothing"
            )
        bound = [
            e
            for e in built.errbacks
            if short(e.get("task")) == "record_failure"
            and not e.get("immutable")
            and (e.get("args") or e.get("kwargs"))
        ]
        if bound:
            given = [repr(a) for a in bound[0].get("args") or []]
            given += [f"{k}={v!r}" for k, v in (bound[0].get("kwargs") or {}).items()]
            hint = (
                f"record_failure.s() with no arguments, not record_failure.s({', '.join(given)})"
                ": Celery calls an error callback with the failed task's request, exception "
                "and traceback, and an argument given in advance comes on top of them, so "
                "record_failure fails itself (too many arguments) and records nothing"
            )
        raise Fail(f"{what} failed and nothing was recorded", hint=hint)
    if len(failures) > 1:
        raise Fail(
            f"{what} recorded {len(failures)} failures",
            hint="put link_error on the chain once (apply_async(link_error=...)), not on "
            "every step as well",
        )
    if failures != [f"record_failure({step}: {error})"]:
        raise Fail(
            f"{what} recorded {failures}, not {step}'s {error.split(':')[0]}",
            hint="send the five steps as one chain, validate_image first, with "
            "link_error=record_failure.s()",
        )


def _pipeline_finished(result: AsyncResult, image_id: int) -> Any:
    """The value of the returned handle, or a Fail: one that names ``ignore_result`` if the
    worker did run the pipeline's last step but the handle never got its result."""
    try:
        return finished(
            result, WAIT_SECONDS, f"the pipeline of image {image_id}", "is the worker running?"
        )
    except Fail:
        last = f"{PIPELINE[-1]}(image {image_id})"
        if result.state == states.PENDING and last in _settle(media.log, 0.5):
            raise Fail(
                f"the pipeline of image {image_id} ran to its end ({last} is in the log), "
                f"but the returned handle of {PIPELINE[-1]} is still PENDING: its result "
                "was never stored",
                hint="send the chain without ignore_result=True on any step: it throws "
                "away the result (and the failure) of the task it is set on, so the "
                "AsyncResult never becomes ready",
            ) from None
        raise


def _only_sent(built: Built, image_id: int) -> None:
    """The function sent the pipeline and did nothing else to the image: it ran no step in
    the notebook (a task called directly writes its line at once, while the check holds the
    sends) and left the upload as it was (``media.upload()`` again erases its format, size
    and the failure it asks for)."""
    lines = [line for new in built.wrote_here.values() for line in new]
    if lines:
        _let_finish(built.sent_ids)
        ran = sorted({line.split("(")[0] for line in lines})
        raise Fail(
            f"process_image({image_id}) ran {_words(ran)} in the notebook while it sent the "
            f"pipeline: {lines} written before any of its tasks had reached the worker",
            hint=f"calling a task ({ran[0]}(image_id)) runs it right here, not on the worker: "
            "put it in the chain only (validate_image.s(image_id) first), so that it runs "
            "once, on the worker, with link_error covering it",
        )
    if built.changed is not None:
        _let_finish(built.sent_ids)
        before, after = built.changed
        raise Fail(
            f"process_image({image_id}) changed the uploaded image while it sent the pipeline: "
            f"{before} became {after}",
            hint="leave the image as it was uploaded (no media.upload() in the function): "
            "uploading it again replaces its format, size and everything else stored with it, "
            "so the pipeline no longer processes the upload it was given",
        )


def _reaches_first_step(result: AsyncResult, built: Built) -> None:
    """The returned handle is the one sending the chain gave: its ``.parent`` links lead
    back to the first step the function sent (validate_image)."""
    first = set(built.sent_ids[:1])
    node: Any = result
    while node is not None:
        if getattr(node, "id", None) in first:
            return
        node = getattr(node, "parent", None)
    raise Fail(
        f"process_image returned a handle of {PIPELINE[-1]} whose .parent links do not lead "
        f"back to validate_image (result.parent is {result.parent!r}): a new "
        "AsyncResult(id) knows its own task only, so the earlier steps cannot be reached "
        "from it",
        hint="return the AsyncResult that chain(...).apply_async(link_error=record_failure"
        ".s()) gives, as it is: its .parent links lead from the last step back to "
        "validate_image",
    )


def _need_result(built: Built) -> AsyncResult:
    sent = built.answer
    if not isinstance(sent, AsyncResult):
        # let what it sent finish, so that its steps do not land in a later run
        _let_finish(built.sent_ids)
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

#: (price, discount, quantity): the third one's discount is larger than its price; the
#: next two have no discount and a quantity of 1, where a step would change nothing; the
#: last two a negative discount (a surcharge) and a quantity of 0, where a default or a
#: bound on the arguments (``quantity or 1``, ``max(quantity, 1)``, ``max(discount, 0)``)
#: changes the price.
PRICES = ((30, 5, 2), (12, 2, 4), (5, 8, 3), (7, 0, 3), (9, 4, 1), (8, -2, 3), (6, 1, 0))
PRICE_IDS_HINT = (
    "leave task_id out: Celery gives every task a new id when the canvas is sent; a fixed "
    "id, or one built from the arguments, repeats in another call, and the chain reads the "
    "result stored under it by the earlier one"
)


@exercise("07.4", "partial arguments come first", points=1)
def _price(price_after: Any) -> str:
    fn = need_function(price_after, "price_after", "price_after(price, discount, quantity)")
    _next_run()
    used_ids: dict[str, str] = {}
    done = []
    for price, discount, quantity in PRICES:
        args = (price, discount, quantity)
        call = _called("price_after", args)
        built = _call(fn, "price_after", *(Number(a) for a in args))
        sig = _need_signature(built, "price_after", args)
        _new_canvas(sig, call)
        _shared_parts(sig, call, SHARED_PRICE_HINT)
        _fresh_ids(sig, call, used_ids, hint=PRICE_IDS_HINT, reads="the chain")
        result, value = _run(sig, call)
        expected = (price - discount) * quantity
        if isinstance(value, BaseException):
            raise Fail(f"{call} failed: {type(value).__name__}: {value}")
        if value != expected:
            if value == 50:
                hint = "use the arguments price, discount and quantity, not fixed numbers"
            elif value == (discount - price) * quantity and price > discount:
                hint = "subtract(x, y) is x - y: the price comes first, subtract.s(price, discount)"
                if any(r.name == "subtract" and r.parent for r in _ran(result).values()):
                    hint = (
                        "the previous result is prepended, not appended: subtract.s(price) "
                        "after a step that returns the discount computes discount - price; "
                        "start the chain with subtract.s(price, discount)"
                    )
            elif value == abs(expected) or price < discount:
                hint = (
                    "the discount can be larger than the price: subtract.s(price, discount) "
                    "whatever the values (no min(), max() or abs() on them), the result is "
                    "negative then"
                )
            elif value == price * quantity - discount:
                hint = (
                    "subtract first, then multiply: "
                    "chain(subtract.s(price, discount), multiply.s(quantity))"
                )
            elif wrapped := _wrapped_in_group(sig):
                hint = (
                    f"subtract is wrapped in a {wrapped}: multiply receives the list of its "
                    f"results ([{price - discount}]), not the difference; chain the two "
                    "signatures directly: subtract.s(price, discount) | multiply.s(quantity)"
                )
            elif value == price - discount and _linked_together(sig, at_least=1):
                hint = (
                    "multiply is a link= of subtract, not the next step of a chain: the "
                    "result of what is sent is subtract's, and the link runs apart; chain "
                    "them: subtract.s(price, discount) | multiply.s(quantity)"
                )
            elif quantity == 0 and value == price - discount:
                hint = (
                    "a quantity of 0 costs 0: give multiply the quantity as it is, "
                    "multiply.s(quantity), whatever its value (no `quantity or 1`, no "
                    "max(quantity, 1): a default for a missing quantity turns 0 into 1)"
                )
            elif discount < 0 and value == price * quantity:
                hint = (
                    "a negative discount is a surcharge: subtract.s(price, discount) whatever "
                    "its sign (no `if discount > 0`, no max(discount, 0)): price - discount "
                    "is then more than the price"
                )
            else:
                hint = (
                    "the previous result is prepended: multiply.s(quantity) computes "
                    "result * quantity"
                )
            raise Fail(f"{call} gave {value!r}, not {expected}", hint=hint)
        _subtract_then_multiply(call, args, result, built, sig)
        shown = f"({discount})" if discount < 0 else f"{discount}"
        done.append(f"({price}-{shown})*{quantity}={expected}")
    return f"{', '.join(done)}: subtract, then multiply on its result, on the worker"


def _wrapped_in_group(canvas: Signature) -> str:
    """``"group"`` or ``"chord"`` if subtract sits in a group or a chord's header of
    ``canvas`` (multiply then gets a list), else ``""``."""
    for sig in _signatures(canvas):
        if isinstance(sig, (group, _chord)):
            tasks = sig.tasks
            tasks = tasks.tasks if isinstance(tasks, group) else tasks
            members = [maybe_signature(t, app=app) for t in (tasks or [])]
            if any(short(getattr(m, "task", "") or "") == "subtract" for m in members):
                return "chord's header" if isinstance(sig, _chord) else "group"
    return ""


def _subtract_then_multiply(
    call: str, args: tuple[int, int, int], result: AsyncResult, built: Built, canvas: Signature
) -> None:
    price, discount, quantity = args
    runs = _ran(result)
    ran = _in_order(runs)
    names = [r.name for r in ran]
    here = f" ({_words(built.computed)} computed in the notebook)" if built.computed else ""
    # (``ran`` is in the order the tasks' results were stored, which several worker processes
    # may swap: a chain sends its next step before it stores the result of the one before,
    # so which of the two came first is read from which task sent which, :func:`_before`)
    if sorted(names) == ["multiply", "subtract"]:
        ran.sort(key=lambda r: r.name != "subtract")
        if _before(ran[1], ran[0], runs):
            ran.reverse()
        names = [r.name for r in ran]
    if names != ["subtract", "multiply"]:
        if "subtract" not in names and discount == 0 and "multiply" in names:
            hint = (
                "subtract runs even with no discount: always "
                "subtract.s(price, discount) | multiply.s(quantity), whatever the values"
            )
        elif "multiply" not in names and quantity == 1 and "subtract" in names:
            hint = (
                "multiply runs even for a quantity of 1: always "
                "subtract.s(price, discount) | multiply.s(quantity), whatever the values"
            )
        elif "subtract" not in names:
            hint = (
                "let subtract compute price - discount on the worker: "
                "subtract.s(price, discount) | multiply.s(quantity)"
            )
        elif "multiply" in names and names.index("multiply") < names.index("subtract"):
            hint = (
                "subtract first, then multiply: "
                "chain(subtract.s(price, discount), multiply.s(quantity))"
            )
        else:
            hint = "a chain of two tasks: subtract.s(price, discount) | multiply.s(quantity)"
        raise Fail(
            f"{call} ran {[r.call() for r in ran]} on the worker{here}, not subtract then multiply",
            hint=hint,
        )
    sub, mul = ran
    as_given = (
        "give the signatures price, discount and quantity as they are: "
        "subtract.s(price, discount) | multiply.s(quantity); abs(), int() or any other "
        "arithmetic in the function changes them before the worker sees them"
    )
    if sub.bound() != {"x": price, "y": discount}:
        swapped = sub.bound() == {"x": discount, "y": price}
        raise Fail(
            f"{call} ran {sub.call()} on the worker{here}, not subtract({price}, {discount})",
            hint=as_given
            if built.computed and not swapped
            else "subtract.s(price, discount): the price comes first",
        )
    hint = (
        "multiply.s(quantity) receives subtract's result from the chain as its first argument; "
        "multiply.si(...) of a number computed here ignores it"
    )
    if built.computed:
        fixed = any(short(s.task) == "multiply" and s.immutable for s in _signatures(canvas))
        raise Fail(
            f"{call} computed {_words(built.computed)} in the notebook, then ran {sub.call()} "
            f"and {mul.call()}: the arithmetic belongs to the tasks, on the worker",
            hint=hint if fixed else as_given,
        )
    if not _before(sub, mul, runs) or (mul.bound() or {}).get("x") != sub.value:
        raise Fail(
            f"{call} ran {sub.call()} and {mul.call()}, but multiply did not get subtract's "
            "result from the chain",
            hint=hint,
        )
