"""A lab bench for chapter 13: separate Celery apps and workers, in this process, in any mode.

Chapter 13 breaks things on purpose: a worker without a result backend, a worker started
before a task existed, results that expire in a second, two workers on two queues. Doing
that to the course's own worker would break the chapters that follow, and in redis mode
that worker is a separate process the notebook does not control. So the chapter builds a
small app of its own with :func:`make_app`, on a private in-process broker (kombu's memory
transport, woken on every put like the embedded one, with its own queues), and runs real
Celery workers for it with :func:`start` (Celery's own
:func:`celery.contrib.testing.worker.start_worker`, solo pool, the stock ``Consumer``: a
task registered after the worker started is unknown to it, as in a separate process).
Everything behaves the same whether ``COURSE_BROKER`` selects embedded or redis mode.

Results go to Celery's Redis backend on database :data:`RESULTS_DB` of the in-process
fakeredis server. Each worker is registered with :func:`course_tasks.runtime.track`, so
the chapter's last ``runtime.stop()`` (and interpreter exit) stops it.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery
from celery.contrib.testing.worker import TestWorkController
from celery.result import _set_task_join_will_block
from celery.worker.consumer import Consumer
from kombu.transport import virtual

from course_tasks import runtime
from course_tasks.embedded import redis_broker, server, transport

#: The fakeredis database that lab apps keep their results in (the course uses 1 and 2).
RESULTS_DB = 3
RESULT_BACKEND = f"fakeredis://localhost/{RESULTS_DB}"
#: Seconds a stopping lab worker may take to finish the task it is running.
SHUTDOWN_SECONDS = 5.0

_counter = itertools.count(1)


class Channel(transport.Channel):
    """The embedded memory channel, with queues of its own (not the course's)."""

    queues: dict[str, Any] = {}


class Transport(transport.Transport):
    """The embedded memory transport for lab apps: same wake-ups, separate state."""

    Channel = Channel
    global_state = virtual.BrokerState()


class LabConsumer(Consumer):
    """Celery's consumer, making its app the current one in the worker's thread.

    The solo pool runs a task through ``celery.app.trace.trace_task_ret``, which looks the
    task up in ``current_app``; in a process that also runs the course's worker, the lab's
    worker thread (and its timer thread, where countdown tasks come due) must say which app
    is current for it.
    """

    def start(self) -> None:
        self.app.set_current()
        super().start()

    def apply_eta_task(self, task: Any) -> None:
        # A countdown or ETA task comes due in the worker's timer thread, which runs it
        # there (solo pool): that thread must say which app is current too.
        self.app.set_current()
        super().apply_eta_task(task)


class LabApp(Celery):
    """A Celery app whose tasks belong to it alone.

    ``@app.task`` makes *shared* tasks by default: every app finalized later gets a copy.
    Lab apps come and go, several with the same task names, so their tasks are not shared.
    """

    def task(self, *args: Any, **opts: Any) -> Any:
        opts.setdefault("shared", False)
        return super().task(*args, **opts)


def make_app(name: str, *, backend: bool = True, **settings: Any) -> Celery:
    """A new Celery app on the lab broker, json only; results in fakeredis unless ``backend``
    is false (then the app has no result backend at all). ``settings`` are Celery settings
    applied on top (``result_expires=1``, ``task_routes=...``)."""
    lab = LabApp(name, set_as_current=False)
    lab.conf.update(
        broker_url="memory://localhost/",
        broker_transport=f"{__name__}:Transport",
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    if backend:
        lab.conf.result_backend = RESULT_BACKEND
        # What config_from_object would do with an override_backends setting.
        backend = "course_tasks.embedded.backend:FakeRedisBackend"
        lab.loader.override_backends = {"fakeredis": backend}
    lab.conf.update(settings)
    return lab


def results_client() -> Any:
    """A client of the fakeredis database that lab apps store their results in."""
    return server.client(RESULTS_DB)


def purge(lab: Celery, *queues: str) -> int:
    """Drop every message waiting in ``queues`` of ``lab``'s broker; return how many."""
    dropped = 0
    with lab.connection_for_write() as conn:
        for queue in queues:
            dropped += conn.default_channel.queue_purge(queue) or 0
    return dropped


def waiting(lab: Celery, queue: str) -> int:
    """How many messages wait in ``queue`` of ``lab``'s broker (a queue's length)."""
    with lab.connection_for_write() as conn:
        return int(conn.default_channel.queue_declare(queue).message_count)


def start(lab: Celery, *, queues: tuple[str, ...] = (), name: str | None = None) -> str:
    """Start a worker for ``lab`` (solo pool) reading ``queues`` (default: ``celery``).

    Returns its tracked name, for :func:`stop`. The worker knows the tasks registered on
    ``lab`` now; a task added later is unknown to it (``NotRegistered``), as it would be to
    a separate worker process started earlier.
    """
    label = name or f"lab-{next(_counter)}"
    _keep_logs_out_of_cells()
    lab.finalize()
    if queues:
        lab.conf.task_queues = None  # let the worker create the queues it is given
    # Celery's test worker, run as start_worker() runs it but stopped on its own:
    # start_worker() stops its worker through a process-wide flag that would stop the
    # course's embedded worker too, and makes its app the process's default app.
    worker = TestWorkController(
        app=lab,
        concurrency=1,
        hostname=f"{label}@lab",
        pool="solo",
        loglevel="INFO",
        logfile=None,
        ready_callback=None,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        consumer_cls=LabConsumer,
        timer_precision=0.05,
        queues=list(queues) or None,
    )
    thread = threading.Thread(target=worker.start, name=f"course-{label}", daemon=True)
    thread.start()
    worker.ensure_started()
    # The worker marked this process as one where get() would block a worker; the
    # notebook's own get() calls must keep working (start_worker() does the same).
    _set_task_join_will_block(False)

    def stop_it() -> None:
        if not thread.is_alive():
            return
        transport.set_stopping(True)
        try:
            worker.stop()
            thread.join(SHUTDOWN_SECONDS)
        finally:
            transport.set_stopping(False)

    runtime.track(f"lab worker {label}", stop_it, thread.is_alive)
    _workers[label] = stop_it
    return label


_workers: dict[str, Callable[[], None]] = {}


def stop(label: str) -> None:
    """Stop the lab worker ``label`` (idempotent)."""
    stop_it = _workers.pop(label, None)
    if stop_it is not None:
        stop_it()
        runtime.untrack(f"lab worker {label}")


def stop_all() -> None:
    """Stop every lab worker this process started."""
    for label in list(_workers):
        stop(label)


@contextmanager
def running(lab: Celery, *, queues: tuple[str, ...] = ()) -> Iterator[str]:
    """``with running(lab):`` a lab worker for the block."""
    label = start(lab, queues=queues)
    try:
        yield label
    finally:
        stop(label)


def log_path() -> Path:
    """The file lab workers write their log to.

    In embedded mode the runtime sends the ``celery`` loggers to the embedded worker's log
    (:func:`course_tasks.runtime.log_path`), and lab workers write there too; otherwise
    :func:`start` gives them ``ch13-lab-worker.log`` beside it.
    """
    for handler in logging.getLogger("celery").handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return runtime.log_path().with_name("ch13-lab-worker.log")


def _keep_logs_out_of_cells() -> None:
    """Send Celery's log records to a file when nothing else handles them.

    In embedded mode the runtime already sends the ``celery`` loggers to the embedded
    worker's log. In redis mode this process has no worker and Celery's loggers no
    handler but the ``NullHandler`` kombu's ``get_logger`` adds, and the lab worker's
    records would reach the root logger (and, with a handler there, the running cell)
    or nothing at all.
    """
    celery_logger = logging.getLogger("celery")
    if any(not isinstance(h, logging.NullHandler) for h in celery_logger.handlers):
        return
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(runtime.LOG_FORMAT))
    celery_logger.addHandler(handler)
    celery_logger.setLevel(logging.INFO)
    celery_logger.propagate = False


#: kombu's Redis transport (``redis://``) over the in-process Redis, on the URL's database:
#: for showing, by hand, what the Redis transport does with messages it delivered but that
#: were not acknowledged (``visibility_timeout``). Chapter 08 uses the same transport for
#: priorities (:mod:`course_tasks.embedded.redis_broker`).
FakeRedisTransport = redis_broker.Transport
