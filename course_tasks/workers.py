"""Dedicated workers: one per queue, with its own concurrency and node name (chapter 08).

Guide 003 runs one worker per queue::

    celery -A course_tasks worker -Q ai_processing -c 1 -n ai-worker@%h
    celery -A course_tasks worker -Q demo_tasks    -c 4 -n demo-worker@%h

:func:`start` starts such workers, in whichever mode the course runs, and waits until each
one consumes its queues; :func:`stop` (or the chapter's ``runtime.stop()``, or interpreter
exit) stops them:

* **embedded**: a worker thread in this kernel on the in-process broker, built like
  Celery's :func:`celery.contrib.testing.worker.start_worker` (its ``TestWorkController``)
  with the ``threads`` pool, so that ``concurrency=4`` really runs four tasks at once.
  It is stopped with ``WorkController.stop()`` rather than by leaving ``start_worker``'s
  context: that sets the module-global ``celery.worker.state.should_terminate``, which
  would stop *every* worker of the process, the course's own embedded worker included.
* **redis**: a separate ``celery -A course_tasks worker -Q ... -c ... -n name@%h`` process
  (prefork pool) in a process group of its own, killed by the kernel if this process dies
  (``PR_SET_PDEATHSIG``), stopped with SIGTERM, then SIGKILL to its whole group.

Either way a worker consumes only the queues it was given: in redis mode the course's
shared worker (queue ``celery``) never takes their tasks, and they never take its tasks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery._state import _set_task_join_will_block
from celery.contrib.testing.worker import TestWorkController
from celery.utils.nodenames import gethostname, nodename
from kombu import Connection

from course_tasks import runtime, services, settings
from course_tasks.app import app
from course_tasks.embedded import redis_broker, transport
from course_tasks.embedded.consumer import EmbeddedConsumer
from course_tasks.errors import CourseError

#: How long :func:`start` waits for a worker process to answer (redis mode). A ceiling: start()
#: returns as soon as the worker answers; ten learners on two cores need far more than the
#: usual second or two (benchmarks/classroom.py).
START_SECONDS = float(os.environ.get("COURSE_DEDICATED_WAIT", "60"))
#: How long a worker gets to finish its tasks on stop before it is killed.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Spec:
    """One dedicated worker: its name, the queues it reads, how many tasks it runs at once."""

    name: str
    queues: tuple[str, ...]
    concurrency: int = 1
    prefetch_multiplier: int | None = None
    #: ``--disable-prefetch`` (Celery 5.7, Redis brokers only): take a message only when a
    #: pool slot is free.
    disable_prefetch: bool = False
    #: ``"redis"``: read the queues through kombu's Redis transport (see
    #: :func:`redis_connection`); ``None``: the course's broker, whatever it is.
    broker: str | None = None

    @property
    def node(self) -> str:
        """The node name, ``NAME-worker@HOST`` (``-n NAME-worker@%h``)."""
        return nodename(f"{self.name}-worker", gethostname())

    def command(self) -> list[str]:
        """The ``celery worker`` command line that runs this worker as a process."""
        cmd = ["celery", "-A", "course_tasks", "worker", "-Q", ",".join(self.queues),
               "-c", str(self.concurrency), "-n", f"{self.name}-worker@%h"]  # fmt: skip
        if self.prefetch_multiplier is not None:
            cmd.append(f"--prefetch-multiplier={self.prefetch_multiplier}")
        if self.disable_prefetch:
            cmd.append("--disable-prefetch")
        return cmd


@dataclass
class Dedicated:
    """A running dedicated worker (a thread or a process, depending on the mode)."""

    spec: Spec
    started_in: float = 0.0
    _controller: Any = None
    _thread: threading.Thread | None = None
    _process: subprocess.Popen[bytes] | None = None
    _log: Path | None = field(default=None, repr=False)

    @property
    def node(self) -> str:
        return self.spec.node

    def alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None or _group_alive(self._process.pid)
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the worker (warm), waiting at most :data:`STOP_SECONDS`; idempotent."""
        _stop_all([self])


_running: dict[str, Dedicated] = {}
_start_lock = threading.Lock()


#: The one entry in :func:`course_tasks.runtime.track` for all dedicated workers, which
#: are stopped together (a warm shutdown of several processes takes as long as one).
SERVICE = "dedicated workers"


def start(*specs: Spec) -> list[Dedicated]:
    """Start these workers (replacing any running under the same name); wait until ready.

    Prints nothing. Each worker is tracked by :func:`course_tasks.runtime.track`.
    """
    cfg = settings.from_env()
    _stop_all([_running[spec.name] for spec in specs if spec.name in _running])
    with _start_lock:
        if cfg.mode == settings.EMBEDDED:
            started = [_start_thread(spec) for spec in specs]
        elif cfg.mode == settings.REDIS:
            started = _start_processes(specs)
        else:
            raise CourseError(
                "eager mode runs tasks inline: there is no queue for a worker to read.",
                "unset COURSE_BROKER (embedded mode) or set it to a Redis URL, then restart "
                "the kernel.",
            )
    for worker in started:
        _running[worker.spec.name] = worker
    runtime.track(SERVICE, stop, lambda: bool(running()))
    return started


def stop(*names: str) -> None:
    """Stop the named dedicated workers (all of them when no name is given), together."""
    _stop_all([_running[name] for name in (names or list(_running)) if name in _running])


def _stop_all(workers: list[Dedicated]) -> None:
    processes = [w._process for w in workers if w._process is not None]
    for process in processes:
        if process.poll() is None:
            process.terminate()  # SIGTERM: warm shutdown, all of them at once
    for worker in workers:
        if worker._thread is not None:
            worker._controller.stop()
            transport.set_stopping(False)  # wakes its consumer, which then sees it must stop
            worker._thread.join(STOP_SECONDS)
    for process in processes:
        _stop_process(process)
    for worker in workers:
        if _running.get(worker.spec.name) is worker:
            del _running[worker.spec.name]
    if not _running:
        runtime.untrack(SERVICE)


def running() -> list[str]:
    """Node names of the dedicated workers that run now."""
    return [w.node for w in _running.values() if w.alive()]


def redis_connection() -> Connection:
    """A broker connection through kombu's Redis transport, in every mode.

    redis mode: the course's broker. embedded mode: kombu's Redis transport on the
    in-process Redis (:mod:`course_tasks.embedded.redis_broker`), the broker that a
    ``Spec(..., broker="redis")`` worker reads there. Use it as ``with`` block.
    """
    if settings.from_env().mode == settings.REDIS:
        return app.connection_for_write()
    return redis_broker.connection()


# --------------------------------------------------------------------------- embedded


class _RedisTransportConsumer(EmbeddedConsumer):
    """The embedded consumer, reading through kombu's Redis transport on in-process Redis."""

    def connection_for_read(self, heartbeat: float | None = None) -> Connection:
        return self.ensure_connected(redis_broker.connection())

    def connection_for_write(
        self, url: str | None = None, heartbeat: float | None = None
    ) -> Connection:
        return self.ensure_connected(redis_broker.connection())


def _start_thread(spec: Spec) -> Dedicated:
    began = time.monotonic()
    runtime.start(quiet=True)  # logging to the course's log file, the shared worker running
    queues = app.amqp.queues
    # WorkController.setup_queues selects the worker's queues on the *app* (shared by every
    # worker of this process); the consumer reads that selection once, when it starts.
    saved = None if queues._consume_from is None else dict(queues._consume_from)
    # The consumer reads worker_disable_prefetch from the (shared) app once, as it starts.
    saved_disable_prefetch = app.conf.worker_disable_prefetch
    app.conf.worker_disable_prefetch = spec.disable_prefetch
    kwargs: dict[str, Any] = {}
    consumer_cls: type = EmbeddedConsumer
    if spec.broker == "redis":
        consumer_cls = _RedisTransportConsumer
    if spec.prefetch_multiplier is not None:
        kwargs["prefetch_multiplier"] = spec.prefetch_multiplier
    try:
        controller = TestWorkController(
            app=app,
            hostname=spec.node,
            queues=list(spec.queues),
            pool="threads",
            concurrency=spec.concurrency,
            loglevel="INFO",
            logfile=str(runtime.log_path()),
            ready_callback=None,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            consumer_cls=consumer_cls,
            timer_precision=0.05,
            **kwargs,
        )
        thread = threading.Thread(
            target=controller.start, name=f"course-{spec.name}-worker", daemon=True
        )
        thread.start()
        controller.ensure_started()
        # A worker marks its process as one where get() would block a pool; this kernel
        # is the notebook too (start_worker does the same).
        _set_task_join_will_block(False)
    finally:
        queues._consume_from = saved
        app.conf.worker_disable_prefetch = saved_disable_prefetch
    return Dedicated(spec, time.monotonic() - began, controller, thread)


# --------------------------------------------------------------------------- redis


def _start_processes(specs: Iterable[Spec]) -> list[Dedicated]:
    began = time.monotonic()
    log_dir = settings.from_env().log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for spec in specs:
        log = log_dir / f"{spec.name}-worker.log"
        cmd = [sys.executable, "-m", "celery", *spec.command()[1:]]
        cmd += ["--without-mingle", "--without-gossip", "--without-heartbeat",
                "--loglevel=INFO", f"--logfile={log}"]  # fmt: skip
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=services.die_with_parent,
        )
        started.append(Dedicated(spec, _process=process, _log=log))
    try:
        for worker in started:
            _wait_ready(worker, began + START_SECONDS)
            worker.started_in = time.monotonic() - began
    except BaseException:
        _stop_all(started)
        raise
    return started


def _wait_ready(worker: Dedicated, deadline: float) -> None:
    while True:
        if worker._process is not None and worker._process.poll() is not None:
            raise CourseError(
                f"the worker {worker.node} exited with status {worker._process.returncode}",
                f"read its log: {worker._log}",
            )
        replies = app.control.ping(destination=[worker.node], timeout=0.3) or []
        if any(worker.node in reply for reply in replies):
            return
        if time.monotonic() > deadline:
            raise CourseError(
                f"the worker {worker.node} did not answer within {START_SECONDS:g} s",
                f"read its log: {worker._log}",
            )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker (a warm shutdown), then SIGKILL to its whole process group."""
    if process.poll() is None:
        process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_SECONDS)
    deadline = time.monotonic() + 2.0
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(2.0)
