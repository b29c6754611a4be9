"""Helpers shared by the chapters' check modules (``chNN_*.py``).

Words for values and task names, the text of a task's failure, bounded waits and calls,
seeing whether code waited for a task (:func:`watching`),
recognising an untouched stub, and clearing away a parking queue. Nothing here registers
an exercise: :func:`course_tasks.checks.load_all` imports only the ``ch*`` modules.
"""

from __future__ import annotations

import ast
import contextlib
import dis
import inspect
import logging
import os
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from celery.app.task import Task
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, ResultSet
from celery.signals import task_prerun

from course_tasks.app import app
from course_tasks.checks import Fail

# --------------------------------------------------------------------------- time zones

#: A local time zone that is not UTC and has no daylight saving: a check runs the learner's
#: code under it, so that local time passed off as UTC shows on every machine (CI, Docker
#: and Binder run in UTC, where the two are the same).
NON_UTC_ZONE = "Asia/Shanghai"


@contextmanager
def local_zone(zone: str = NON_UTC_ZONE) -> Iterator[None]:
    """Run the body with the process's local time zone set to ``zone`` (``TZ`` + tzset)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


# --------------------------------------------------------------------------- words


def kind(value: Any) -> str:
    """``a dict``, ``an int``, ``None``: the type of ``value`` in words."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def short(task_name: str | None) -> str:
    """The last part of a task's dotted name (``add`` for ``course_tasks.tasks.basics.add``)."""
    return (task_name or "an unknown task").rsplit(".", 1)[-1]


def error_text(exc: Any) -> str:
    """``Name: first line of the message`` (or just ``Name``) for an exception."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def failure_text(result: AsyncResult) -> str:
    """:func:`error_text` of the exception a failed task left in ``result``."""
    return error_text(result.result)


# --------------------------------------------------------------------------- the learner's code


def need_function(
    value: Any,
    name: str,
    signature: str,
    *,
    purpose: str = "sends the course's task",
    hint: str | None = None,
) -> Callable[..., Any]:
    """``value`` if it is a plain function, else a Fail.

    A Celery task is refused with a hint to keep ``name`` a plain function that does
    ``purpose``; anything not callable with ``hint`` (default: ``define def SIGNATURE: ...``).
    """
    if isinstance(value, Task):
        raise Fail(
            f"{name} is a Celery task",
            hint=f"keep {name} a plain function (def {signature}:) that {purpose}",
        )
    if not callable(value):
        raise Fail(
            f"got {kind(value)}, not a function",
            hint=hint if hint is not None else f"define def {signature}: ...",
        )
    return value


def is_stub_body(
    fn: Callable[..., Any],
    *,
    unknown: bool = True,
    anywhere: bool = False,
    bytecode: bool = False,
) -> bool:
    """Whether ``fn``'s body is still the stub (``...`` or ``pass``, after a docstring).

    The function judged is the ``def`` that ``fn``'s source starts with or, with
    ``anywhere``, the first ``def`` anywhere in it (a class's first method, say).
    ``unknown`` is the answer when there is no such ``def``, or when the source cannot be
    read; with ``bytecode``, an unreadable source is judged by ``fn``'s compiled code
    instead: a stub only returns a constant and names nothing.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        code = getattr(fn, "__code__", None) if bytecode else None
        if code is None:
            return unknown
        ops = [i.opname for i in dis.get_instructions(code) if i.opname not in ("RESUME", "NOP")]
        return ops in (["LOAD_CONST", "RETURN_VALUE"], ["RETURN_CONST"]) and not code.co_names
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    if anywhere:
        node = next((n for n in ast.walk(tree) if isinstance(n, defs)), None)
    else:
        node = tree.body[0] if tree.body else None
    if not isinstance(node, defs):
        return unknown
    body = list(node.body)
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body = body[1:] if isinstance(first.value.value, str) else body
    return all(
        isinstance(stmt, ast.Pass)
        or (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and stmt.value.value is Ellipsis
        )
        for stmt in body
    )


class StillRunning:
    """What :func:`call_bounded` returns when the call has not finished in time."""

    def __init__(self, thread: threading.Thread, seconds: float) -> None:
        #: The helper thread, still running the call.
        self.thread = thread
        #: How long the call was given.
        self.seconds = seconds


def call_bounded(
    fn: Callable[..., Any], *args: Any, seconds: float, thread_name: str = "course-check-call"
) -> Any:
    """``fn(*args)`` in a helper thread; a :class:`StillRunning` if it takes over ``seconds``.

    What ``fn`` raises is raised here. The thread is a daemon called ``thread_name``.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name=thread_name, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return StillRunning(thread, seconds)
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- waiting


@dataclass
class Seen:
    """What the learner's code did while it ran (:func:`watching`), beyond its answer."""

    #: ids of unfinished tasks it called ``get()`` or ``wait()`` on: it waited for them
    waited: list[str] = field(default_factory=list)
    #: ids of every task it called ``get()`` or ``wait()`` on, finished or not (a check for
    #: code that must never wait reads this: whether the task had finished first is a race)
    got: list[str] = field(default_factory=list)
    #: names of tasks it ran right there, eagerly (``apply()``, or ``task_always_eager``)
    ran_here: list[str] = field(default_factory=list)


@contextmanager
def watching() -> Iterator[Seen]:
    """Meanwhile, record the two ways code keeps its caller waiting for a task.

    * ``AsyncResult.get()`` (or its alias ``wait()``) on a task that has not finished, or
      ``get()``/``join()`` on a group's results that have not all finished: the id is
      recorded and Celery's ``TimeoutError`` raised at once. The check has seen the wait and
      needs no more. On a finished task ``get()`` answers as always (reading a finished result
      that way waits for nothing).
    * a task run eagerly (``task_prerun`` with ``request.is_eager``).

    Both are seen, not timed: on a busy machine a right answer can take longer than a wrong
    one does on a quiet machine.
    """
    seen = Seen()

    def stopping(real: Callable[..., Any]) -> Callable[..., Any]:
        def wait(self: Any, *args: Any, **kwargs: Any) -> Any:
            what = getattr(self, "id", None) or repr(self)
            seen.got.append(what)
            if not self.ready():
                seen.waited.append(what)
                raise CeleryTimeoutError(f"the check stopped a wait for {what}")
            return real(self, *args, **kwargs)

        return wait

    def prerun(task: Any = None, **kwargs: Any) -> None:
        if task is not None and task.request.is_eager:
            seen.ran_here.append(task.name)

    # a task's handle (get, and its alias wait), and a group's (get, join, join_native)
    waits = [(AsyncResult, "get"), (AsyncResult, "wait"), (ResultSet, "get"),
             (ResultSet, "join"), (ResultSet, "join_native")]  # fmt: skip
    task_prerun.connect(prerun, weak=False)
    try:
        with contextlib.ExitStack() as stack:
            for cls, name in waits:
                stack.enter_context(mock.patch.object(cls, name, stopping(getattr(cls, name))))
            yield seen
    finally:
        task_prerun.disconnect(prerun)


def call_watched(
    fn: Callable[..., Any], *args: Any, seconds: float, thread_name: str = "course-check-call"
) -> tuple[Any, Seen]:
    """:func:`call_bounded` under :func:`watching`: the answer (or StillRunning), and what
    ``fn`` did meanwhile.

    When ``fn`` raised after it waited for a task (the wait the check stopped, caught or not),
    the exception is the answer: what it did is what the caller reports.
    """
    with watching() as seen:
        try:
            answer = call_bounded(fn, *args, seconds=seconds, thread_name=thread_name)
        except Exception as exc:
            if not (seen.waited or seen.ran_here):
                raise
            answer = exc
    return answer, seen


# --------------------------------------------------------------------------- the worker


def finished(result: AsyncResult, seconds: float, what: str, hint: str) -> Any:
    """The task's value (or its exception, not raised), waiting at most ``seconds``.

    A Fail naming ``what``, with ``hint``, if the task has not finished by then.
    """
    try:
        return result.get(timeout=seconds, propagate=False, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        raise Fail(f"{what} is still {result.state} after {seconds:g} s", hint=hint) from None


def delete_queue(name: str) -> None:
    """Purge and delete the queue ``name`` (a parking queue that no worker reads)."""
    with app.connection_for_write() as conn:
        queue = app.amqp.queues[name].bind(conn.default_channel)
        queue.declare()  # so that this channel knows the bindings it deletes
        queue.purge()
        queue.delete()


@contextmanager
def quiet_trace_log() -> Iterator[None]:
    """Keep Celery's task log (a failure's traceback) out of the cell during ``apply()``.

    On a worker these lines go to the worker's log; here they would reach the cell.
    """
    trace_logger = logging.getLogger("celery.app.trace")
    was = trace_logger.disabled
    trace_logger.disabled = True
    try:
        yield
    finally:
        trace_logger.disabled = was
