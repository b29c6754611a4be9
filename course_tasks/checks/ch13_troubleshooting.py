"""Checks of chapter 13's exercises (``solutions/13_troubleshooting_solutions.ipynb``): diagnoses.

Each exercise starts from a broken set-up; the learner's fix is applied for real and the
check proves that it works (and that it does not only look as if it did):

* 13.1 ``check("13.1", unstick)``: ``unstick(queue)`` makes the running workers read
  ``queue``, so that reports waiting there run, once each, on a worker, and later ones too.
  Checked with two more workers of the check's own (:mod:`course_tasks.workers`), which must
  read the queue too (a fix sent to one worker by name leaves them out), and with a second
  queue in which nothing waits yet (a task sent there after ``unstick`` must run); every
  worker must still read the queues it read before (the default one too). Then the workers
  forget the queue (a restart) and a second ``unstick(queue)`` must tell them again (a fix
  that remembers what it did in a global does not), and again while one worker still reads
  it and the others do not. Last, a worker in a separate process (:mod:`course_tasks.processes`),
  whose app has never heard of the queue, must read it after ``unstick(queue)``, bound as the
  reports are sent (exchange and routing key the queue's name): ``exchange=``/``routing_key=``
  options would bind it otherwise there, e.g. copying every default task into it. What a
  wrong fix cancelled or bound is put back afterwards.
* 13.2 ``check("13.2", SHOP_RESULTS)``: the settings that make the shop keep its results
  between one hour and seven days (they expired after one second), still as json (nor
  accepting anything else), run on a worker (not eager). Checked on
  a lab app (:mod:`course_tasks.lab`) with a real worker, by the key's TTL in the result
  backend.
* 13.3 ``check("13.3", unique_tags)``: the body of a task whose result json can carry (the
  broken one returned a ``set``). Run as a task on a lab worker, on lists with repeats,
  capitals, spaces, the empty word, words of spaces only, no repeats, one distinct word, two
  Unicode forms of a word, more than ten distinct words, a long word, no words at all.
* 13.4 ``check("13.4", request_refund)``: ``request_refund(order_id)`` queues the course's
  refund under the name the worker knows (``billing.refund``, read from the message sent),
  at every call (one order is refunded twice), from the caller's thread, with no expiry,
  and returns its handle; called once more with the broker unreachable, it lets the
  broker's ``OperationalError`` reach the caller and refunds nothing.
"""

from __future__ import annotations

import inspect
import itertools
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import timedelta
from typing import Any

from celery.app.defaults import DEFAULTS
from celery.exceptions import NotRegistered
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult
from celery.signals import before_task_publish
from kombu import Connection, Exchange, Producer, Queue
from kombu.exceptions import ContentDisallowed, OperationalError
from kombu.pools import ProducerPool

from course_tasks import lab, processes, runtime, services, workers
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_watched,
    delete_queue,
    error_text,
    finished,
    is_stub_body,
    kind,
    need_function,
)
from course_tasks.errors import CourseError
from course_tasks.tasks import troubles
from course_tasks.tasks.basics import add

#: How long a check waits for a task that should finish quickly (a ceiling: a busy
#: classroom machine needs far more than the usual fraction of a second).
WAIT_SECONDS = 10.0
#: How long a worker gets to answer ``inspect()`` when the check knows who must answer.
INSPECT_SECONDS = 10.0
#: How long ``inspect()`` listens when the check asks every worker (it waits that long).
SURVEY_SECONDS = 1.5
#: How long the learner's function may take before the check stops waiting for it.
CALL_SECONDS = 30.0
#: The thread in which call_watched runs the learner's function (13.4).
CALL_THREAD = "course-check-call"
#: How long 13.4 watches, once the broker is back, for a refund sent late.
LATER_SECONDS = 3.0
#: How long a result must be kept at least (13.2), and at most.
MIN_EXPIRES = 3600
MAX_EXPIRES = 7 * 24 * 3600
#: A second queue nobody reads (13.1), so that a fix cannot hard-code the first one.
OTHER_QUEUE = "course-check-13-parked"
#: The queue the check's own two workers read when they start (13.1).
HELPERS_QUEUE = "course-check-13-helpers"
#: The check's worker process (13.1), started from the course's code: ``check13p-worker@HOST``,
#: reading :data:`PROCESS_QUEUE`.
PROCESS_NAME = "check13p"
PROCESS_QUEUE = "course-check-13-process"
#: The check's own workers (13.1): ``check13a-worker@HOST`` and ``check13b-worker@HOST``.
HELPERS = (workers.Spec("check13a", (HELPERS_QUEUE,)), workers.Spec("check13b", (HELPERS_QUEUE,)))
_serial = itertools.count(1)


def _active_queues(
    nodes: list[str] | None = None, seconds: float = SURVEY_SECONDS
) -> dict[str, dict[str, dict[str, Any]]]:
    """{worker: {queue name: the queue as inspect() gives it}}: of ``nodes`` (answering as
    soon as all have), or of every worker that answers within ``seconds``."""
    if nodes:
        inspect = app.control.inspect(destination=nodes, timeout=seconds, limit=len(nodes))
    else:
        inspect = app.control.inspect(timeout=seconds)
    replies = inspect.active_queues() or {}
    return {node: {q["name"]: q for q in queues or []} for node, queues in replies.items()}


def _queues_read(active: dict[str, dict[str, dict[str, Any]]] | None = None) -> set[str]:
    active = _active_queues() if active is None else active
    return {name for queues in active.values() for name in queues}


def _waiting(queue: str) -> int:
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_declare(queue).message_count)


def _wait(results: list[AsyncResult], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(r.ready() for r in results):
            return True
        time.sleep(0.02)
    return all(r.ready() for r in results)


def _release(queue: str) -> None:
    with suppress(Exception):
        app.control.cancel_consumer(queue)
    with suppress(Exception):
        delete_queue(queue)


def _revoke_unfinished(results: list[AsyncResult]) -> None:
    for result in results:
        if not result.ready():  # a learner's get() on it returns once it is REVOKED
            with suppress(Exception):
                app.backend.mark_as_revoked(result.id, reason="check finished")


def _names(nodes: list[str]) -> str:
    return ", ".join(sorted(nodes))


# --------------------------------------------------------------------------- 13.1


def _start_helpers() -> list[str]:
    """Start the check's two workers (each reads only :data:`HELPERS_QUEUE`); their nodes."""
    with suppress(Exception):
        delete_queue(HELPERS_QUEUE)
    try:
        started = workers.start(*HELPERS)
    except CourseError as exc:
        raise Fail(
            f"the check could not start its two workers: {exc.problem}",
            hint=exc.fix or "run the set-up cell again",
        ) from None
    return [worker.node for worker in started]


def _restore(before: dict[str, dict[str, dict[str, Any]]], helpers: list[str]) -> None:
    """Make each worker (but the check's own) read again the queues it read before."""
    nodes = [node for node in before if node not in helpers]
    if not nodes:
        return
    with suppress(Exception):
        now = _active_queues(nodes, INSPECT_SECONDS)
        for node in nodes:
            if node not in now:
                continue
            for name, q in before[node].items():
                if name in now[node]:
                    continue
                exchange = q.get("exchange") or {}
                with suppress(Exception):
                    app.control.add_consumer(
                        name,
                        exchange=exchange.get("name") or None,
                        exchange_type=exchange.get("type") or None,
                        routing_key=q.get("routing_key") or None,
                        destination=[node],
                        reply=True,
                        timeout=INSPECT_SECONDS,
                    )


@contextmanager
def _controls() -> Iterator[list[tuple[str, dict[str, Any], list[str] | None]]]:
    """(command, arguments, destination) of every ``app.control`` broadcast sent meanwhile."""
    control = app.control
    real = control.broadcast
    sent: list[tuple[str, dict[str, Any], list[str] | None]] = []

    def broadcast(command: str, arguments: Any = None, destination: Any = None, *args: Any,
                  **kwargs: Any) -> Any:  # fmt: skip
        names = [destination] if isinstance(destination, str) else destination
        sent.append((command, dict(arguments or {}), list(names) if names else None))
        return real(command, arguments, destination, *args, **kwargs)

    control.broadcast = broadcast  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        vars(control).pop("broadcast", None)


def _told(controls: list[tuple[str, dict[str, Any], list[str] | None]], queue: str) -> bool:
    """Whether an add_consumer of ``queue`` is among the broadcasts ``controls``."""
    return any(command == "add_consumer" and args.get("queue") == queue
               for command, args, _ in controls)  # fmt: skip


def _not_run(
    queue: str,
    months: list[str],
    built: list[str],
    controls: list[tuple[str, dict[str, Any], list[str] | None]],
) -> Fail:
    """Why the parked reports' own tasks did not run (they are not ready)."""
    waiting = _waiting(queue)
    active = _active_queues()
    read = sorted(_queues_read(active))
    if waiting == 0 and any(m in built for m in months):
        problem = (
            f"the reports that waited in {queue!r} were built, but their own tasks never ran "
            "on a worker: the messages were taken off the queue (the reports built here or "
            "sent again), so their results stay PENDING"
        )
        if queue in read:
            return Fail(
                problem,
                hint="leave the waiting messages in the queue: once the "
                "workers read it (app.control.add_consumer(queue)) they run them",
            )
        return Fail(
            f"{problem}; and no worker reads {queue!r}, so the next report would be stuck again",
            hint="do not take the messages off the queue: make the workers read it, "
            "app.control.add_consumer(queue)",
        )
    if waiting == 0 and not built:
        return Fail(
            "the waiting reports are gone from the queue and never ran",
            hint="purging deletes the tasks; they must run: make a worker read the "
            "queue, app.control.add_consumer(queue)",
        )
    aimed = [to for command, args, to in controls
             if command == "add_consumer" and args.get("queue") == queue]  # fmt: skip
    if aimed and all(aimed):
        names = sorted({name for to in aimed if to for name in to})
        if not set(names) & set(active):
            return Fail(
                f"the reports still wait in {queue!r}: add_consumer went to {names}, and no "
                f"running worker has that name (the workers are {sorted(active)})",
                hint="leave out destination=: app.control.add_consumer(queue) tells every "
                "running worker, whatever its name",
            )
    if not controls:
        return Fail(
            f"the reports still wait in {queue!r}: unstick({queue!r}) sent the workers no "
            "command at all (no add_consumer), so none of them reads it",
            hint="tell the running workers on every call: app.control.add_consumer(queue); "
            "nothing remembered from an earlier call, and nothing set in app.conf, reaches "
            "them",
        )
    return Fail(
        f"the reports still wait in {queue!r}; the workers read {read}",
        hint="app.control.add_consumer(queue) with the queue the tasks wait in "
        "(the argument), not the default 'celery'",
    )


def _judge_readers(
    queue: str,
    helpers: list[str],
    before: dict[str, dict[str, dict[str, Any]]],
    controls: list[tuple[str, dict[str, Any], list[str] | None]],
    bindings: set[tuple[str, str, str]],
) -> None:
    """Every worker reads ``queue`` now (the check's own two included), bound under the
    queue's own name, and still reads every queue it read before."""
    nodes = sorted({*helpers, *before})
    now = _active_queues(nodes, INSPECT_SECONDS)
    _judge_binding(queue, now, bindings)
    silent = [node for node in helpers if node not in now]
    if silent:
        raise Fail(
            f"the check's worker {silent[0]} did not answer inspect() within {INSPECT_SECONDS:g} s",
            hint="the machine is very busy: run the check again",
        )
    readers = [node for node, queues in now.items() if queue in queues]
    added = _told(controls, queue)
    if not readers and not added:
        raise Fail(
            f"the waiting reports ran, but no worker reads {queue!r}: the messages were moved "
            "elsewhere, so the next report sent there would be stuck again",
            hint="leave the messages where they are and make the workers read the queue: "
            "app.control.add_consumer(queue)",
        )
    if not readers:
        raise Fail(
            "the waiting reports ran, but then the workers stopped reading the queue: "
            "the next report would be stuck again",
            hint="leave the consumer in place: do not cancel_consumer after add_consumer",
        )
    missing = [node for node in helpers if queue not in now[node]]
    if missing:
        raise Fail(
            f"only {_names(readers)} read{'s' if len(readers) == 1 else ''} {queue!r}; the "
            f"running worker{'s' if len(missing) > 1 else ''} {_names(missing)} do"
            f"{'' if len(missing) > 1 else 'es'} not",
            hint="app.control.add_consumer(queue) with no destination= tells every running "
            "worker; a list of worker names leaves out the others (on other machines too)",
        )
    default = app.conf.task_default_queue
    for node, queues in sorted(before.items()):
        if node in now and default in queues and default not in now[node]:
            raise Fail(
                f"after unstick the worker {node} no longer reads the default queue "
                f"{default!r}: every ordinary task would now stay PENDING",
                hint="add_consumer adds a queue to those a worker reads; do not "
                f"cancel_consumer({default!r})",
            )
    for node, queues in sorted(before.items()):
        lost = sorted(set(queues) - set(now.get(node, queues)))
        if lost:
            raise Fail(
                f"after unstick the worker {node} no longer reads {lost[0]!r}: the tasks "
                "sent there would now stay PENDING",
                hint="add the queue, cancel nothing: add_consumer(queue) keeps the queues a "
                "worker already reads",
            )


def _judge_again(unstick: Any, queue: str, nodes: list[str], sent: list[AsyncResult]) -> None:
    """The workers forget ``queue`` (as a restarted worker does); a report waits there
    again, and a second ``unstick(queue)`` makes them read it again."""
    with suppress(Exception):
        app.control.cancel_consumer(
            queue, destination=nodes, reply=True, timeout=INSPECT_SECONDS, limit=len(nodes)
        )
    again = troubles.send_report(f"2031-again-{next(_serial)}")
    sent.append(again)
    with _controls() as controls:
        unstick(queue)
    if _wait([again], WAIT_SECONDS):
        return
    told = _told(controls, queue)
    if not told:
        raise Fail(
            f"the workers were restarted (they no longer read {queue!r}) and a report waited "
            f"there again; unstick({queue!r}), called a second time, sent no add_consumer: "
            "it remembered that it had already done so, but the workers had forgotten",
            hint="send add_consumer(queue) on every call: keep no record of the queues "
            "already added (a worker started or restarted since has never heard of them)",
        )
    raise Fail(
        f"the workers were restarted (they no longer read {queue!r}) and a report waited "
        f"there again; after a second unstick({queue!r}) it is still {again.state} after "
        f"{WAIT_SECONDS:g} s",
        hint="app.control.add_consumer(queue) on every call, to every running worker",
    )


def _judge_binding(
    queue: str,
    replies: dict[str, dict[str, dict[str, Any]]],
    bindings: set[tuple[str, str, str]],
) -> None:
    """Every worker that reads ``queue`` has it bound as the shop sends to it: exchange and
    routing key both the queue's name (what add_consumer binds for a queue a worker does
    not know yet, when it is given neither). The bindings seen are added to ``bindings``
    (the clean-up removes them)."""
    for node, queues in sorted(replies.items()):
        q = queues.get(queue)
        if not q:
            continue
        exchange = q.get("exchange") or {}
        bound = (str(exchange.get("name") or ""), str(exchange.get("type") or "direct"),
                 str(q.get("routing_key") or ""))  # fmt: skip
        bindings.add(bound)
        if q.get("no_ack"):
            raise Fail(
                f"the worker {node} now reads {queue!r} with no_ack: each report is "
                "acknowledged as it is delivered, so a worker that stops or dies while it "
                "runs one loses it for good",
                hint="app.control.add_consumer(queue) with no options: the worker "
                "acknowledges a report as the course's tasks are acknowledged",
            )
        if (bound[0], bound[2]) == (queue, queue) and bound[1] != "direct":
            raise Fail(
                f"the worker {node} now reads {queue!r} through an exchange {bound[0]!r} of "
                f"type {bound[1]!r}: the shop sends the reports to a direct exchange of that "
                "name (RabbitMQ refuses the second declaration, PRECONDITION_FAILED)",
                hint="app.control.add_consumer(queue) with no exchange_type=: a worker that "
                "does not know the queue then binds it as the shop sends to it",
            )
        if (bound[0], bound[2]) == (queue, queue):
            continue
        default = (app.conf.task_default_exchange or app.conf.task_default_queue,
                   app.conf.task_default_routing_key or app.conf.task_default_queue)  # fmt: skip
        harm = (
            f"every ordinary task, sent to {default[0]!r} with the routing key "
            f"{default[1]!r}, is now copied into {queue!r} as well, and runs twice"
            if (bound[0] or default[0], bound[2]) == default
            else f"that is not how the reports reach it (exchange and routing key "
            f"{queue!r}): the binding is the worker's own invention"
        )
        raise Fail(
            f"the worker {node}, which did not know {queue!r} yet (a separate process), now "
            f"reads it bound to the exchange {bound[0]!r} with the routing key {bound[2]!r}: "
            f"{harm}",
            hint="app.control.add_consumer(queue) with no exchange= or routing_key=: a "
            "worker that does not know the queue then binds it under its own name",
        )


def _unbind(queue: str, bindings: set[tuple[str, str, str]], owner: Any) -> None:
    """Remove from ``owner``'s broker the bindings of ``queue`` that workers reported (a
    wrong one would keep copying other tasks into it), and the queue."""
    for exchange, type_, routing_key in sorted(bindings):
        if (exchange, routing_key) == (queue, queue):
            continue
        with suppress(Exception), owner.connection_for_write() as conn:
            bound = Queue(queue, Exchange(exchange, type_), routing_key=routing_key)
            bound = bound.bind(conn.default_channel)
            bound.declare()  # so that this channel knows the binding it deletes
            bound.purge()
            bound.delete()


def _judge_empty(unstick: Any, sent: list[AsyncResult]) -> None:
    """``unstick`` of a queue in which nothing waits yet (and that is not the first one):
    a task sent there afterwards runs."""
    with _controls() as controls:
        unstick(OTHER_QUEUE)
    other = add.apply_async((20, 22), queue=OTHER_QUEUE)
    sent.append(other)
    if _wait([other], WAIT_SECONDS):
        if other.get(timeout=WAIT_SECONDS, propagate=False) != 42:
            raise Fail("add(20, 22) in the second queue did not return 42")
        return
    added = [args.get("queue") for command, args, _ in controls if command == "add_consumer"]
    if not controls:
        raise Fail(
            f"unstick({OTHER_QUEUE!r}), called while nothing waited in that queue, sent the "
            f"workers no command, so a task sent there afterwards is still {other.state} "
            f"after {WAIT_SECONDS:g} s",
            hint="make the workers read the queue whether or not messages wait in it now: "
            "app.control.add_consumer(queue) on every call",
        )
    if OTHER_QUEUE not in added:
        raise Fail(
            f"a task sent to {OTHER_QUEUE!r} after unstick({OTHER_QUEUE!r}) is still "
            f"{other.state} after {WAIT_SECONDS:g} s: the workers were told to read "
            f"{sorted(filter(None, added)) or 'nothing'}",
            hint="use the queue you are given, not a fixed name",
        )
    raise Fail(
        f"a task sent to {OTHER_QUEUE!r} after unstick({OTHER_QUEUE!r}) is still "
        f"{other.state} after {WAIT_SECONDS:g} s",
        hint="app.control.add_consumer(queue), to every running worker, and leave it there",
    )


def _judge_some_read(unstick: Any, queue: str, nodes: list[str], reader: str) -> None:
    """One worker still reads ``queue``, the others forgot it (they were restarted):
    ``unstick(queue)`` makes them all read it."""
    others = [node for node in nodes if node != reader]
    with suppress(Exception):
        app.control.cancel_consumer(
            queue, destination=others, reply=True, timeout=INSPECT_SECONDS, limit=len(others)
        )
    with _controls() as controls:
        unstick(queue)
    now = _until_read(queue, nodes, lambda: _active_queues(nodes, INSPECT_SECONDS))
    missing = [node for node in others if node in now and queue not in now[node]]
    if not missing:
        return
    told = _told(controls, queue)
    if not told:
        raise Fail(
            f"with {reader} reading {queue!r} and the other workers not (they had been "
            f"restarted), unstick({queue!r}) sent no add_consumer: {_names(missing)} still "
            "do not read it",
            hint="send add_consumer(queue) on every call, whether or not some worker "
            "already reads the queue: the others may not",
        )
    raise Fail(
        f"with {reader} reading {queue!r} and the other workers not, after unstick({queue!r}) "
        f"{_names(missing)} still do not read it",
        hint="app.control.add_consumer(queue) with no destination= tells every running worker",
    )


def _until_read(
    queue: str, nodes: list[str], ask: Callable[[], dict[str, dict[str, dict[str, Any]]]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """What ``ask()`` answers (inspect().active_queues() by worker) once every one of
    ``nodes`` reads ``queue``, or after :data:`WAIT_SECONDS` (a worker applies add_consumer
    soon after it answers: an answer right after the broadcast may not show it yet)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = ask()
        if all(queue in now.get(node, {}) for node in nodes) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


@contextmanager
def _through(owner: Any) -> Iterator[None]:
    """Meanwhile, the course app connects to ``owner``'s broker (what the learner's
    ``app.control`` sends reaches ``owner``'s workers)."""
    saved = app._pool, app.amqp._producer_pool
    app.connection_for_write = owner.connection_for_write  # type: ignore[method-assign]
    app._pool = owner.pool
    app.amqp._producer_pool = ProducerPool(owner.pool, limit=owner.pool.limit)
    _forget_mailbox_producers()
    try:
        yield
    finally:
        del app.connection_for_write
        app._pool, app.amqp._producer_pool = saved
        _forget_mailbox_producers()


def _forget_mailbox_producers() -> None:
    """``app.control`` sends through the producer pool it first used (kombu's Mailbox keeps
    it in a cached_property): drop it, so that the next broadcast takes the app's current
    one."""
    vars(app.control.mailbox).pop("producer_pool", None)


def _judge_process(unstick: Any, queue: str, bindings: set[tuple[str, str, str]]) -> None:
    """A worker in a process of its own, which has never heard of ``queue`` (the kernel's
    workers share the app that sent the reports, and know it): after ``unstick(queue)`` it
    reads the queue, bound under the queue's own name."""
    try:
        worker = processes.start(pool="solo", concurrency=1, queues=(PROCESS_QUEUE,),
                                 name=PROCESS_NAME)  # fmt: skip
    except CourseError as exc:
        raise Fail(
            f"the check could not start its worker process: {exc.problem}",
            hint=exc.fix or "run the check again",
        ) from None
    seen: set[tuple[str, str, str]] = set()
    try:
        # In embedded mode the course app's broker is in this process: the learner's
        # app.control reaches the worker process through its broker. In redis mode it
        # reaches it as it is.
        with _through(worker.app) if runtime.mode() == "embedded" else nullcontext():
            unstick(queue)

        def ask() -> dict[str, dict[str, dict[str, Any]]]:
            inspect = worker.app.control.inspect(
                [worker.nodename], timeout=INSPECT_SECONDS, limit=1
            )
            replies = inspect.active_queues() or {}
            return {node: {q["name"]: q for q in queues or []} for node, queues in replies.items()}

        now = _until_read(queue, [worker.nodename], ask)
        if worker.nodename not in now:
            raise Fail(
                f"the check's worker process {worker.nodename} did not answer inspect() "
                f"within {INSPECT_SECONDS:g} s",
                hint="the machine is very busy: run the check again",
            )
        _judge_binding(queue, now, seen)
        if queue not in now[worker.nodename]:
            raise Fail(
                f"after unstick({queue!r}) the worker process {worker.nodename}, started "
                f"separately, does not read {queue!r}",
                hint="app.control.add_consumer(queue) on every call, with no destination=: "
                "it reaches every worker, in whatever process",
            )
    finally:
        bindings |= seen
        with suppress(Exception):
            _unbind(queue, seen | {(queue, "direct", queue)}, worker.app)
        with suppress(Exception):
            worker.stop()


@exercise("13.1", "reports stuck in PENDING", points=2)
def _unstick(unstick: Any) -> str:
    unstick = need_function(unstick, "unstick", "unstick(queue)", purpose="fixes the queue")
    queue = troubles.REPORTS_QUEUE
    _release(queue)
    _release(OTHER_QUEUE)
    if is_stub_body(unstick, unknown=False):
        raise NotYet("write the body of unstick")
    troubles.reset()
    helpers = _start_helpers()
    before: dict[str, dict[str, dict[str, Any]]] = {}
    bindings: set[tuple[str, str, str]] = set()
    try:
        before = _active_queues()
        months = [f"2031-{next(_serial) % 12 + 1:02d}-{uuid.uuid4().hex[:4]}" for _ in range(2)]
        parked = [troubles.send_report(m) for m in months]
        sent = [*parked]
        try:
            with _controls() as controls:
                answer = unstick(queue)
            if answer is None and is_stub_body(unstick):
                raise NotYet("write the body of unstick")
            ran = _wait(parked, WAIT_SECONDS)
            built = troubles.reports_built()
            if not ran:
                raise _not_run(queue, months, built, controls)
            twice = sorted({m for m in built if built.count(m) > 1})
            if twice:
                raise Fail(
                    f"report {twice[0]} was built twice",
                    hint="let the waiting tasks run; do not send them again",
                )
            _judge_readers(queue, helpers, before, controls, bindings)
            later = troubles.send_report("2031-later")
            sent.append(later)
            finished(
                later,
                WAIT_SECONDS,
                "a report sent after your fix",
                "leave the workers reading the queue",
            )
            _judge_empty(unstick, sent)
            nodes = sorted({*helpers, *before})
            _judge_again(unstick, queue, nodes, sent)
            _judge_some_read(unstick, queue, nodes, helpers[-1])
            _judge_process(unstick, queue, bindings)
        finally:
            _revoke_unfinished(sent)
            _unbind(queue, bindings, app)
            _release(queue)
            _release(OTHER_QUEUE)
    finally:
        _restore(before, helpers)
        workers.stop(*(spec.name for spec in HELPERS))
        with suppress(Exception):
            delete_queue(HELPERS_QUEUE)
    return (
        f"{len(parked)} waiting reports ran once each, and a later one too; every worker "
        f"reads {queue!r}, the check's {len(helpers)} included, and a worker process "
        "that had never heard of it, bound as the reports are sent"
    )


# --------------------------------------------------------------------------- 13.2


@exercise("13.2", "results that expire too soon", points=2)
def _expires(settings: Any) -> str:
    if not isinstance(settings, dict):
        raise Fail(
            f"SHOP_RESULTS is {kind(settings)}, not a dict",
            hint='a dict of Celery settings, e.g. {"result_expires": ...}',
        )
    if "expires" in settings:
        raise Fail(
            "expires is an option of apply_async, not a setting of results",
            hint="expires= discards a task that has not started in time; how long a result "
            "is kept is result_expires",
        )
    upper = [k for k in settings if isinstance(k, str) and k.isupper()]
    if upper:
        raise Fail(
            f"{upper[0]} is not a setting Celery reads here",
            hint="this app takes lower-case settings (result_expires); CELERY_… names work "
            "only with config_from_object(..., namespace='CELERY')",
        )
    unknown = [k for k in settings if k not in DEFAULTS]
    expires = settings.get("result_expires", 1)
    if expires is not None and (
        isinstance(expires, bool) or not isinstance(expires, (int, float, timedelta))
    ):
        raise Fail(
            f"result_expires is {kind(expires)} ({expires!r}): Celery reads it as a number "
            "of seconds (or a timedelta), and cannot use this one",
            hint="give result_expires seconds, e.g. 24 * 3600, or timedelta(days=1)",
        )
    shop = lab.make_app(f"shop-13-2-{next(_serial)}", result_expires=1)
    backend = shop.conf.result_backend
    shop.conf.update(settings)
    if shop.conf.result_backend != backend:
        where = shop.conf.result_backend
        what = (
            "no result backend at all: no result is stored anywhere"
            if not where
            else "each result goes back to the caller only (rpc://), nothing is kept in "
            "the backend for a status page to read later"
            if str(where).startswith("rpc")
            else "the results go to another store than the one the status page reads"
        )
        raise Fail(
            f"SHOP_RESULTS changes result_backend (to {where!r}): {what}",
            hint="change only how long results live: leave result_backend as it is",
        )
    if shop.conf.result_serializer != "json":
        raise Fail(
            f"results are now stored as {shop.conf.result_serializer}: the shop and its status "
            "page accept json only (and a worker should never unpickle what it reads)",
            hint="change only how long results live: leave result_serializer as it is (json)",
        )

    accepted = [
        c
        for setting in ("accept_content", "result_accept_content")
        for c in (shop.conf.get(setting) or ())
        if c not in ("json", "application/json")
    ]
    if accepted:
        raise Fail(
            f"the shop now accepts {accepted[0]!r} content (accept_content / "
            "result_accept_content): it would unpickle what it reads, and whoever can write "
            "to Redis could run code in it",
            hint="change only how long results live: leave the accepted content as it is "
            "(json only)",
        )
    if shop.conf.task_always_eager:
        raise Fail(
            "task_always_eager runs every task in the caller: nothing runs on a worker, and "
            "no result reaches the backend for the status page",
            hint="change only how long results live: leave task_always_eager out",
        )
    others = [
        k
        for k in settings
        if k in DEFAULTS
        and not str(k).startswith("result_")
        # (judged below, each with a hint of its own)
        and k
        not in (
            "accept_content",
            "task_ignore_result",
            "task_store_eager_result",
            "task_annotations",
            "task_store_errors_even_if_ignored",
        )
    ]
    if others:
        raise Fail(
            f"SHOP_RESULTS also sets {', '.join(map(str, others))}: that changes how every shop "
            "task is sent or run (a time limit, a rate limit, another queue...), not how long "
            "its result is kept",
            hint="change only how long results live: SHOP_RESULTS holds result_expires "
            f"(and result_... settings only); leave {others[0]} out",
        )

    @shop.task(name="shop.total")
    def total(prices: list[float]) -> float:
        return sum(prices)

    with lab.running(shop):
        result = total.delay([1.5, 2.5])
        try:
            value = finished(result, WAIT_SECONDS, "the shop's task", "run the set-up cell again")
        except ContentDisallowed as exc:
            raise Fail(
                f"the shop could not read its own result back ({error_text(exc)})",
                hint="change only how long results live: leave the serializers and the "
                "accepted content as they are (json)",
            ) from None
    key = shop.backend.get_key_for_task(result.id)
    ttl = lab.results_client().ttl(key)
    if ttl == -2 or value != 4.0:
        raise Fail(
            "no result was stored for the task",
            hint="results must be stored: do not set task_ignore_result",
        )
    if ttl == -1:
        raise Fail(
            "results are now kept for ever: Redis would fill up with them",
            hint="give result_expires a limit of hours or days (seconds or a timedelta)",
        )
    expires = shop.conf.result_expires
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else expires
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        seconds = ttl  # the bounds below then rest on what the backend did
    # The bounds are judged on the value configured, exactly (a TTL read back has already
    # lost a second or more, so a tolerance on it would let 3599 s or 7 days + 1 s through);
    # the key's TTL only confirms that the backend used that value.
    if ttl < MIN_EXPIRES - 5 or seconds < MIN_EXPIRES:
        if unknown and "result_expires" not in settings:
            raise Fail(
                f"{unknown[0]} is not a Celery setting: Celery ignores it, and a result is "
                f"still kept for {seconds} s only",
                hint="the setting is result_expires (in seconds, or a timedelta)",
            )
        raise Fail(
            f"a result is kept for {_secs(seconds)} s only",
            hint="result_expires is in seconds: at least 3600 (or timedelta(hours=1))",
        )
    if ttl > MAX_EXPIRES or seconds > MAX_EXPIRES:
        raise Fail(
            f"a result is kept for {_secs(seconds)} s, more than 7 days",
            hint="keep results no longer than someone may ask for them: at most 7 days",
        )
    return f"results now live {int(seconds)} s (the key's TTL in the backend)"


def _secs(seconds: float) -> str:
    if isinstance(seconds, float) and seconds.is_integer():
        return str(int(seconds))
    return str(seconds)


# --------------------------------------------------------------------------- 13.3

#: The words the task gets: repeats, words with capitals (kept as they are; in both a
#: plain and a case-blind sort they come first), no words at all, and one list where a
#: case-blind sort, strip(), merging two spellings of a word or dropping the empty word
#: each give another answer than sorted(set(words)).
TAG_CASES = [
    ["redis", "celery", "redis", "beat"],
    ["worker", "queue", "broker", "queue", "beat", "worker", "amqp"],
    ["celery", "AMQP", "worker", "Beat", "celery", "AMQP"],
    [],
    ["beat", "Redis", "Celery", "redis", " queue", "", "beat", "Redis"],
    # No repeats at all (still to be sorted), one distinct word (still a list), words that
    # differ only by a space or by their Unicode form (precomposed 'é', 'e' + accent).
    ["worker", "beat", "redis", "amqp"],
    ["redis", "redis"],
    ["queue ", " queue", "queue", "caf\u00e9", "cafe\u0301", "queue"],
    # A word of spaces only (a word too), more than ten distinct words, a long word.
    ["redis", " ", "beat", "  ", "redis", " "],
    ["rq", "ui", "ai", "db", "js", "go", "ml", "os", "qa", "ux", "vm", "ai", "api", "db"],
    ["redis", "a-very-long-tag-of-forty-characters-here", "celery"],
    # Words beyond latin-1, beyond the BMP and in U+E000..U+FFFF (a sort key that encodes
    # them, to latin-1 or UTF-16, orders them otherwise than sorted()).
    ["\u0101cme", "beta", "\U0001f680", "\uff21", "", "beta"],
]


@exercise("13.3", "a result json cannot carry", points=2)
def _unique_tags(unique_tags: Any) -> str:
    unique_tags = need_function(
        unique_tags, "unique_tags", "unique_tags(words)", purpose="returns the tags"
    )
    if is_stub_body(unique_tags):
        raise NotYet("write the body of unique_tags")
    serial = next(_serial)
    shop = lab.make_app(f"shop-13-3-{serial}")
    # A name of this run's own: an earlier cell's @app.task(name="shop.unique_tags") on the
    # course's app is shared, so Celery adds it to every app finalized later, this one too,
    # and a second task of that name would be refused (the worker would run the old one).
    name = f"shop.unique_tags.check-{serial}-{uuid.uuid4().hex[:8]}"
    shop.task(name=name)(unique_tags)
    task = shop.tasks[name]
    if task.run is not unique_tags:
        raise Fail(
            "the shop's task of that name runs another function, not the unique_tags handed in",
            hint="restart the kernel, run the set-up cell, then hand in unique_tags again",
        )
    with lab.running(shop):
        for words in TAG_CASES:
            result = task.delay(words)
            value = finished(result, WAIT_SECONDS, "the task", "run the set-up cell again")
            _judge_tags(words, result.state, value)
    return f"SUCCESS on the worker, e.g. {sorted(set(TAG_CASES[2]))}"


def _judge_tags(words: list[str], state: str, value: Any) -> None:
    expected = sorted(set(words))
    if state == "FAILURE":
        text = error_text(value)
        if "EncodeError" in text or "JSON" in text:
            raise Fail(
                f"the worker could not store the result ({text})",
                hint="json has no set (nor frozenset): return a list, sorted(set(words))",
            )
        raise Fail(f"for {words} the task failed: {text}")
    if isinstance(value, str) and len(expected) == 1 and value == expected[0]:
        raise Fail(
            f"for {words} the task returned the str {value!r}, not {expected}: one tag is "
            "still a list of tags, of one",
            hint="always return a list, whatever its length: sorted(set(words))",
        )
    if isinstance(value, str):
        hint = "return the list itself: Celery turns it into json for you"
        if not value.startswith("["):
            hint = "a str of the set is text, not a list: return sorted(set(words))"
        raise Fail(f"the task returned a str, {value[:40]!r}", hint=hint)
    if value is None and not words:
        raise Fail(
            "for no words the task returned None, not []",
            hint="no words, no tags: return an empty list, as sorted(set(words)) does",
        )
    if not isinstance(value, list):
        raise Fail(f"for {words} the task returned {kind(value)}", hint="return a list")
    if value == expected:
        return
    strings = all(isinstance(v, str) for v in value)
    blind = [v.lower() for v in value] if strings else []
    if strings and blind == sorted(blind) and sorted(value) == expected:
        raise Fail(
            f"for {words} the tags came back as {value}, not {expected}: sorted without "
            "regard to case",
            hint="sort plainly, sorted(set(words)): capitals come before lower case; "
            "no key=str.lower",
        )
    if sorted(value) == expected and value == list(words):
        raise Fail(
            f"for {words} (no repeats) the tags came back as {value}, in the words' order, "
            "not sorted",
            hint="sort them whether or not there are repeats: sorted(set(words)), with no "
            "shortcut that returns the words as they came",
        )
    if sorted(value) == expected:
        raise Fail(
            f"for {words} the tags came back as {value}, not sorted",
            hint="neither a set nor the words keep a sorted order: sort the tags as they "
            "are, sorted(set(words)), with no key= (no strip, no encode, no locale)",
        )
    if strings and "" in expected and value == [w for w in expected if w]:
        raise Fail(
            f"for {words} the task returned {value}, not {expected}: the empty word '' was dropped",
            hint="every string in words is a word, the empty one too: keep each as it is, "
            "sorted(set(words))",
        )
    missing = sorted(set(expected) - set(value)) if strings else []
    if missing and set(value) < set(expected) and value == sorted(value):
        if all(not w.strip() for w in missing) and any(missing):
            raise Fail(
                f"for {words} the task returned {value}, not {expected}: the word"
                f"{'s' if len(missing) > 1 else ''} of spaces only {missing} "
                f"{'were' if len(missing) > 1 else 'was'} dropped",
                hint="every string in words is a word, one of spaces only too: keep each "
                "as it is, sorted(set(words))",
            )
        if len(value) >= 10 and value == expected[: len(value)]:
            raise Fail(
                f"for {len(set(words))} distinct words the task returned only the first "
                f"{len(value)} tags: {missing} {'are' if len(missing) > 1 else 'is'} missing",
                hint="return every distinct word, however many there are: no cap, "
                "sorted(set(words))",
            )
        if all(len(w) > 20 for w in missing):
            raise Fail(
                f"for {words} the task returned {value}, not {expected}: the long word "
                f"{missing[0]!r} ({len(missing[0])} characters) was dropped",
                hint="a word is a word whatever its length: keep each as it is, sorted(set(words))",
            )
    if strings and any(
        value == sorted({unicodedata.normalize(form, w) for w in words}) != expected
        for form in ("NFC", "NFD", "NFKC", "NFKD")
    ):
        raise Fail(
            f"for {ascii(words)} the task returned {ascii(value)}, not {ascii(expected)}: the "
            "words were normalised (unicodedata.normalize), so two different strings (an 'e' "
            "followed by an accent, and the one character '\\u00e9') became one",
            hint="keep each word as it is, byte for byte: drop the exact repeats and sort, "
            "sorted(set(words))",
        )
    if strings and any(
        value == sorted({strip(w) for w in words}) != expected
        for strip in (str.strip, str.rstrip, str.lstrip)
    ):
        raise Fail(
            f"for {words} the task returned {value}, not {expected}: the spaces around a "
            "word were stripped",
            hint="keep each word as it is (no strip()): drop the repeats and sort, "
            "sorted(set(words))",
        )
    if (
        strings
        and set(value) < set(expected)
        and {v.strip() for v in value} == {w.strip() for w in words}
    ):
        raise Fail(
            f"for {words} the task returned {value}, not {expected}: words that differ "
            "only by their spaces (' queue', 'queue ' and 'queue') became one tag",
            hint="compare the words as they are (no strip() to find repeats): sorted(set(words))",
        )
    if (
        strings
        and set(value) < set(expected)
        and {v.casefold() for v in value} == {w.casefold() for w in words}
    ):
        raise Fail(
            f"for {words} the task returned {value}, not {expected}: two spellings of a word "
            "('Redis' and 'redis') became one tag",
            hint="words that differ in case are distinct words: keep each as it is, "
            "sorted(set(words))",
        )
    if strings and sorted(v.lower() for v in value) == sorted({w.lower() for w in words}):
        raise Fail(
            f"for {words} the task returned {value}, not {expected}: the words changed case",
            hint="keep each word as it is (no lower()): drop the repeats and sort, "
            "sorted(set(words))",
        )
    raise Fail(
        f"for {words} the task returned {value}, not {expected}",
        hint="each distinct word once, sorted",
    )


# --------------------------------------------------------------------------- 13.4


#: What :func:`_published` records of a task message: (task name, routing key, its expires
#: header, the name of the thread that published it, the exchange, its argsrepr header).
Sent = tuple[str, str, Any, str, str, str]


@contextmanager
def _published() -> Iterator[dict[str, Sent]]:
    """{task id: :data:`Sent`} of every task message published while inside."""
    sent: dict[str, Sent] = {}

    def record(sender: Any = None, headers: Any = None, routing_key: Any = None,
               exchange: Any = None, **_: Any) -> None:  # fmt: skip
        if isinstance(headers, dict):
            name = getattr(exchange, "name", exchange)
            sent[str(headers.get("id"))] = (
                str(headers.get("task") or sender),
                str(routing_key),
                headers.get("expires"),
                threading.current_thread().name,
                "" if name is None else str(name),
                str(headers.get("argsrepr") or ""),
            )

    before_task_publish.connect(record, weak=False, dispatch_uid="course-check-13.4")
    try:
        yield sent
    finally:
        before_task_publish.disconnect(dispatch_uid="course-check-13.4")


@contextmanager
def _broker_unreachable() -> Iterator[None]:
    """Meanwhile, the course app sends to a Redis port nothing listens on (as when Redis is
    down): ``delay()``, ``send_task()`` and ``app.connection_for_write()`` fail with
    ``OperationalError`` after the app's publish retry policy. The workers keep running."""
    url = f"redis://127.0.0.1:{services.free_port()}/0"

    def unreachable(*_: Any, **__: Any) -> Connection:
        return Connection(url, connect_timeout=1,
                          transport_options={"socket_connect_timeout": 1})  # fmt: skip

    saved = app._pool, app.amqp._producer_pool
    pool = unreachable().Pool(limit=app.conf.broker_pool_limit)
    app.connection_for_write = unreachable  # type: ignore[method-assign]
    app._pool = pool
    app.amqp._producer_pool = ProducerPool(pool, limit=pool.limit)
    real_publish = Producer._publish

    def refused(producer: Producer, *args: Any, **kwargs: Any) -> Any:
        # A connection the learner's code opened before the outage breaks too (as it does
        # when Redis goes down): what the learner's call publishes through it is refused.
        if threading.current_thread().name == CALL_THREAD:
            errors = tuple(getattr(producer.connection, "connection_errors", ()) or ())
            refused_by = next((e for e in errors if issubclass(e, OSError)), None)
            if refused_by is not None:
                raise refused_by(111, "Connection refused")
            raise (errors or (ConnectionRefusedError,))[0]("Connection refused")
        return real_publish(producer, *args, **kwargs)

    Producer._publish = refused  # type: ignore[method-assign]
    try:
        yield
    finally:
        Producer._publish = real_publish  # type: ignore[method-assign]
        del app.connection_for_write
        app._pool, app.amqp._producer_pool = saved
        with suppress(Exception):
            pool.force_close_all()


@contextmanager
def _no_worker() -> Iterator[None]:
    """Meanwhile, the course app sends to a broker that is up but that no worker reads (the
    lab's in-process broker, with no lab worker running): messages wait there, a ping gets
    no answer. The course's workers keep running on the real broker. What was sent is
    dropped afterwards."""

    def elsewhere(*_: Any, **__: Any) -> Connection:
        return Connection("memory://localhost/", transport=f"{lab.__name__}:Transport")

    saved = app._pool, app.amqp._producer_pool
    pool = elsewhere().Pool(limit=app.conf.broker_pool_limit)
    app.connection_for_write = elsewhere  # type: ignore[method-assign]
    app._pool = pool
    app.amqp._producer_pool = ProducerPool(pool, limit=pool.limit)
    real_publish = Producer._publish

    def redirected(producer: Producer, *args: Any, **kwargs: Any) -> Any:
        # A connection the learner's code opened before the check (passed to apply_async)
        # reaches the real broker: what the learner's call publishes through it goes to
        # the broker no worker reads, as everything else the call sends.
        transport = getattr(producer.connection, "transport", None)
        if threading.current_thread().name != CALL_THREAD or isinstance(transport, lab.Transport):
            return real_publish(producer, *args, **kwargs)
        call = inspect.signature(real_publish).bind(producer, *args, **kwargs)
        with elsewhere() as conn:
            channel = conn.default_channel
            call.arguments["self"] = Producer(channel, auto_declare=False)
            declare = call.arguments.get("declare") or ()
            call.arguments["declare"] = [e.bind(channel) if hasattr(e, "bind") else e
                                         for e in declare]  # fmt: skip
            return real_publish(*call.args, **call.kwargs)

    Producer._publish = redirected  # type: ignore[method-assign]
    try:
        yield
    finally:
        Producer._publish = real_publish  # type: ignore[method-assign]
        with suppress(Exception), elsewhere() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
        del app.connection_for_write
        app._pool, app.amqp._producer_pool = saved
        with suppress(Exception):
            pool.force_close_all()


def _judge_no_worker(request_refund: Any, order_id: int) -> None:
    """With the broker up but no worker reading it, the refund is queued (it waits for a
    worker) and nothing runs in the caller; refunded again while the first still waits,
    the order gets a second refund queued."""
    handles: list[AsyncResult] = []
    try:
        with _no_worker(), _published() as sent:
            for attempt in range(2):
                try:
                    answer, seen = call_watched(request_refund, order_id, seconds=CALL_SECONDS)
                except Exception as exc:
                    raise Fail(
                        f"with the broker up but no worker answering (the workers are "
                        f"restarting), request_refund({order_id}) raised {kind(exc)} "
                        f"({error_text(exc)}): the broker would have taken the refund, and "
                        "a queued refund simply waits for a worker",
                        hint="queue it whatever the workers are doing: no ping() or "
                        "inspect() before sending; return refund.delay(order_id)",
                    ) from None
                if (
                    seen.ran_here
                    or isinstance(answer, (EagerResult, dict))
                    or (troubles.refunds().get(order_id))
                ):
                    raise Fail(
                        f"with the broker up but no worker reading it, request_refund "
                        f"refunded order {order_id} here, in the notebook: a refund must run "
                        "on a worker, and one queued while the workers are away simply waits "
                        "for them",
                        hint="queue it whatever the workers are doing: return "
                        "refund.delay(order_id); never run the refund in the caller (no "
                        "apply(), no fallback)",
                    )
                handle = _handle(request_refund, answer, seen, order_id)
                if attempt and any(handle.id == h.id for h in handles):
                    raise Fail(
                        f"request_refund({order_id}), called again for the same order while "
                        "its first refund still waited for a worker, returned the handle of "
                        "that first refund: the second refund was never queued",
                        hint="queue a refund on every call (the shop decides when an order "
                        "is refunded again): keep no handles from earlier calls",
                    )
                handles.append(handle)
                deadline = time.monotonic() + LATER_SECONDS
                while handle.id not in sent and time.monotonic() < deadline:
                    time.sleep(0.05)  # a message sent late, from another thread, shows here
                _judge_message(sent.get(handle.id), order_id)
                if sent.get(handle.id, ("", ""))[0] != troubles.refund.name:
                    raise Fail(
                        f"with no worker reading the broker, request_refund({order_id}) sent "
                        f"no {troubles.refund.name!r} message",
                        hint="queue the refund every time: return refund.delay(order_id)",
                    )
    finally:
        _revoke_unfinished(handles)


def _judge_message(message: Sent | None, order_id: int) -> None:
    """The refund's message was published by request_refund itself, with no expiry."""
    if message is None:
        return
    if message[3] != CALL_THREAD:
        raise Fail(
            f"request_refund({order_id}) returned before the refund was sent: the message "
            f"was published later, by another thread ({message[3]}); with the broker down, "
            "delay()'s error is raised in that thread and never reaches the caller, who "
            "believes the refund was queued",
            hint="call delay() in request_refund itself and return what it returns: no "
            "thread, so that its error reaches the shop",
        )
    if message[2] is not None:
        raise Fail(
            f"the refund of order {order_id} was sent with an expiry ({message[2]}): if the "
            "workers are busy or away (a restart) for longer, the worker revokes it and the "
            "refund is lost for ever",
            hint="send it without expires=: a refund waits in the queue until a worker "
            "takes it, however long that is",
        )


def _handle(request_refund: Any, answer: Any, seen: Any, order_id: int) -> AsyncResult:
    """The handle request_refund returned for ``order_id``, or a Fail saying what it is."""
    if isinstance(answer, StillRunning):
        raise Fail(
            f"request_refund({order_id}) had not returned after {CALL_SECONDS:g} s",
            hint="queue the refund and return at once: return refund.delay(order_id)",
        )
    if answer is None and is_stub_body(request_refund):
        raise NotYet("write the body of request_refund")
    # get() on a refund the worker had already finished waits for nothing, but which came
    # first is a race: any get() is the mistake, and so is the result a get() returns.
    if seen.got or (isinstance(answer, dict) and answer.get("on_worker") is True):
        raise Fail(
            "request_refund waited for the refund to finish (get()) before returning: the "
            "shop's request hangs while the workers are busy, and fails when they are away "
            "although the refund was queued",
            hint="return what delay() returns, at once, without get(): the shop reads the "
            "handle's state when it needs it",
        )
    if seen.ran_here or isinstance(answer, EagerResult):
        raise Fail(
            "the refund ran here, in the notebook (apply() runs a task in the caller)",
            hint="send it to the worker: refund.delay(order_id), or "
            "app.send_task('billing.refund', args=[order_id])",
        )
    if isinstance(answer, dict):
        raise Fail(
            "request_refund returned the refund's result: it called the task directly, "
            "in the notebook",
            hint="queue it and return the handle: return refund.delay(order_id)",
        )
    if isinstance(answer, str):
        raise Fail(
            f"request_refund returned the task's id, {answer[:40]!r}, not its handle",
            hint="return what delay() (or send_task()) returns, the AsyncResult: the shop "
            "reads .state and .get() from it",
        )
    if not isinstance(answer, AsyncResult):
        raise Fail(
            f"request_refund returned {kind(answer)}, not the task's handle",
            hint="return what delay() (or send_task()) returns",
        )
    return answer


def _stuck(handle: AsyncResult, order_id: int, message: Sent | None) -> Fail:
    """Why the refund of ``order_id`` has not finished."""
    state = handle.state
    queue = message[1] if message else None
    read = _queues_read() if queue else set()
    if queue and queue not in read and _waiting(queue) > 0:
        return Fail(
            f"the refund of order {order_id} waits in {queue!r}, a queue no worker reads "
            f"(still {state} after {WAIT_SECONDS:g} s)",
            hint="send it where the workers read, the default queue: refund.delay(order_id), "
            "with no queue=",
        )
    if message and read and queue not in read:
        exchange = message[4] or "the default exchange"
        return Fail(
            f"the refund of order {order_id} was sent to {exchange!r} with the routing key "
            f"{queue!r}, which no queue the workers read is bound to: the broker had nowhere "
            f"to put it, and it is still {state} after {WAIT_SECONDS:g} s",
            hint="send it where the workers read, the default queue: refund.delay(order_id), "
            "with no queue=, exchange= or routing_key=",
        )
    return Fail(
        f"the refund of order {order_id} is still {state} after {WAIT_SECONDS:g} s",
        hint="is the worker running? Run the set-up cell again",
    )


def _judge_refund(handle: AsyncResult, order_id: int, message: Sent | None) -> None:
    """The refund behind ``handle`` ran on a worker, as the course's ``billing.refund``."""
    if getattr(handle, "ignored", False):
        raise Fail(
            f"the refund of order {order_id} was sent with ignore_result: no result is stored, "
            "so its handle says PENDING for ever and the shop never sees it done",
            hint="send it without ignore_result=True: the handle must carry the refund's result",
        )
    try:
        value = handle.get(timeout=WAIT_SECONDS, propagate=False, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        raise _stuck(handle, order_id, message) from None
    if isinstance(value, NotRegistered):
        raise Fail(
            f"the worker answered NotRegistered({value}): no worker knows that name",
            hint="inspect().registered() lists the names the workers know: the refund "
            "is registered as 'billing.refund'",
        )
    name = message[0] if message else None
    if handle.state == "SUCCESS" and name is not None and name != troubles.refund.name:
        raise Fail(
            f"the refund of order {order_id} ran as the task {name!r}, not as the course's "
            f"{troubles.refund.name!r}: a task registered in the notebook is known to this "
            "kernel's worker only; a worker started from the shop's code answers NotRegistered",
            hint="send the course's refund under the name the workers know: "
            "refund.delay(order_id), or app.send_task('billing.refund', ...); do not register "
            "a copy of it",
        )
    if handle.state != "SUCCESS":
        raise Fail(f"the refund of order {order_id} ended {handle.state}: {error_text(value)}")
    if value != {"order": order_id, "refunded": True, "on_worker": True}:
        hint = "pass the order id as the only argument"
        if isinstance(value, dict) and value.get("order") == str(order_id):
            hint = "pass the order id as it is, an int: not str(order_id)"
        raise Fail(f"the refund of order {order_id} returned {value!r}", hint=hint)


def _judge_outage(request_refund: Any, order_id: int) -> None:
    """With the broker unreachable, request_refund fails and refunds nothing (``order_id``
    may have been refunded before: that one refund stays the only one)."""
    raised = False
    error: Exception | None = None
    threads = set(threading.enumerate())
    refunded = troubles.refunds().get(order_id, 0)
    with _published() as sent:
        with _broker_unreachable():
            try:
                answer, seen = call_watched(request_refund, order_id, seconds=CALL_SECONDS)
            except Exception as exc:
                raised, answer, seen, error = True, None, None, exc
        # The broker is back: whatever the call left behind must not send the refund later.
        tried = set(sent)
        time.sleep(LATER_SECONDS)
        later = [
            tid
            for tid, (name, *_) in sent.items()
            if tid not in tried and name == troubles.refund.name
        ]
    left = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
    if isinstance(answer, StillRunning):
        raise Fail(
            f"with the broker unreachable, request_refund({order_id}) had not returned after "
            f"{CALL_SECONDS:g} s",
            hint="let delay()'s error reach the caller (it gives up after the app's publish "
            "retry policy): do not retry for ever",
        )
    if raised and (later or left):
        what = (
            f"sent the refund of order {order_id} again once the broker was back"
            if later
            else f"left a thread running ({left[0].name}) that may send it later"
        )
        raise Fail(
            f"with the broker unreachable the error reached the caller, but request_refund "
            f"{what}: the shop is told the refund failed, and it may happen anyway (twice, "
            "if the shop tries again)",
            hint="let delay()'s error reach the caller and do nothing more: no timer or "
            "thread that sends the refund later; the shop decides when to try again",
        )
    ran_here = bool(seen and seen.ran_here)
    if troubles.refunds().get(order_id, 0) > refunded or ran_here:
        raise Fail(
            f"with the broker unreachable, request_refund still refunded order {order_id}, "
            f"here in the notebook{' (apply())' if ran_here else ''}: the outage is hidden, "
            "and the refund ran outside the worker",
            hint="let delay()'s error reach the caller, so that the shop knows the refund was "
            "not queued; never refund any other way",
        )
    if raised and not isinstance(error, OperationalError):
        raise Fail(
            f"with the broker unreachable, request_refund raised {kind(error)} "
            f"({error_text(error)}), not the broker's own error: the shop, which catches "
            "kombu's OperationalError to know that a refund was not queued, misses it",
            hint="let delay()'s OperationalError reach the caller as it is: no try/except "
            "around it, or one that ends in a bare raise",
        )
    if not raised and not isinstance(answer, BaseException):
        raise Fail(
            f"with the broker unreachable, request_refund returned {kind(answer)} instead of "
            "failing: the shop would believe the refund was queued",
            hint="let delay()'s error (OperationalError) reach the caller: do not catch it",
        )
    if raised and not _from_library(error):
        raise Fail(
            f"with the broker unreachable, request_refund raised an OperationalError of its "
            f"own ({error_text(error)}), not the one delay() raised: the broker's error, "
            "which says what failed and where (its traceback goes into kombu), is not the "
            "one that reaches the shop",
            hint="let delay()'s OperationalError itself reach the caller: no try/except "
            "around it, or one that ends in a bare raise (not raise OperationalError(...))",
        )


def _from_library(error: BaseException | None) -> bool:
    """Whether ``error`` was raised by kombu or Celery (its traceback goes through their
    code), rather than made anew by the learner's function."""
    tb = error.__traceback__ if error is not None else None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.split(".")[0] in ("kombu", "celery", "redis", "amqp"):
            return True
        tb = tb.tb_next
    return False


def _judge_after_outage(request_refund: Any, failed: int, order_id: int) -> None:
    """The broker is back: the next call queues its own refund, and nothing of the refund
    that failed (the shop was told so, and refunds it again itself if it must)."""
    refunded = troubles.refunds().get(failed, 0)
    handle: AsyncResult | None = None
    try:
        with _published() as sent:
            answer, seen = call_watched(request_refund, order_id, seconds=CALL_SECONDS)
            handle = _handle(request_refund, answer, seen, order_id)
            _judge_refund(handle, order_id, sent.get(handle.id))
        again = [
            tid
            for tid, (name, *_, args) in sent.items()
            if tid != handle.id
            and name == troubles.refund.name
            and re.search(rf"(?<!\d){failed}(?!\d)", args)
        ]
        if again or troubles.refunds().get(failed, 0) > refunded:
            raise Fail(
                f"the refund of order {failed} failed with the broker unreachable (the shop "
                f"was told so by the error), and the next call, request_refund({order_id}), "
                f"sent it after all: the shop, which refunds order {failed} again itself, "
                "pays it twice",
                hint="let the error reach the caller and keep nothing: no list of failed "
                "refunds sent later; the shop decides whether to try again",
            )
    finally:
        if handle is not None:
            _revoke_unfinished([handle])


@exercise("13.4", "refunds that fail with NotRegistered", points=2)
def _refund(request_refund: Any) -> str:
    request_refund = need_function(
        request_refund, "request_refund", "request_refund(order_id)", purpose="queues the refund"
    )
    troubles.reset()
    first, second = 4100 + next(_serial), 4200 + next(_serial)
    # The first order twice: the shop refunds it again (a second, partial refund).
    orders = [first, second, first]
    handles: list[AsyncResult] = []
    try:
        for order_id in orders:
            with _published() as sent:
                answer, seen = call_watched(request_refund, order_id, seconds=CALL_SECONDS)
            handle = _handle(request_refund, answer, seen, order_id)
            if any(handle.id == h.id for h in handles) and handle.id in sent:
                raise Fail(
                    f"request_refund({order_id}), called again for the same order, queued "
                    f"the second refund under the task id of the first ({handle.id!r}): two "
                    "refunds share one id, so they share one result and one handle, the shop "
                    "cannot tell them apart, and revoking one revokes both",
                    hint="let Celery give each refund an id of its own: no task_id= (or a "
                    "fresh uuid() on every call)",
                )
            if any(handle.id == h.id for h in handles):
                raise Fail(
                    f"request_refund({order_id}), called again for the same order, returned "
                    "the handle of the first refund: the second refund was never queued",
                    hint="queue a refund on every call (the shop decides when an order is "
                    "refunded again): keep no handles from earlier calls",
                )
            handles.append(handle)
            _judge_message(sent.get(handle.id), order_id)
            _judge_refund(handle, order_id, sent.get(handle.id))
        # Only the check's orders: a refund left over from an earlier call may still land.
        counts = {order_id: troubles.refunds().get(order_id, 0) for order_id in (first, second)}
        if counts != {first: 2, second: 1}:
            raise Fail(
                f"refunds per order: {counts} (order {first} was refunded twice, by two "
                f"calls; order {second} once)",
                hint="queue each refund once per call",
            )
        _judge_no_worker(request_refund, 4400 + next(_serial))
        _judge_outage(request_refund, first)
        _judge_after_outage(request_refund, first, 4500 + next(_serial))
    finally:
        _revoke_unfinished(handles)
    return (
        "the three refunds (one order twice) ran on the worker as 'billing.refund', once "
        "each; with the broker "
        "unreachable the error reached the caller and nothing was refunded, then or later"
    )
