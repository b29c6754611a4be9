"""A real ``celery worker`` process for the labs that need one, in every mode.

Some lessons need an operating-system process: killing a pool child in the middle of a
task, a hard ``time_limit`` that really kills a runaway task, ``revoke(terminate=True)``,
prefork concurrency. The embedded worker is a thread of the kernel and cannot show them,
so a chapter that needs them starts a lab worker::

    from course_tasks import processes

    lab = processes.start(pool="prefork", concurrency=2, queues=("lab",), name="lab")
    result = lab.app.send_task("course_tasks.tasks.basics.add", args=(2, 3))
    result.get(timeout=5)                       # 5
    lab.pid, lab.child_pids()                   # the main process and its pool children
    lab.kill_child(signal.SIGKILL, task_id=result.id)   # kill the child running a task
    lab.stop()                                  # warm shutdown (SIGTERM); stop(cold=True): SIGQUIT
    processes.stop_all()                        # every lab worker (and the lab broker)

``start(pool="prefork", concurrency=2, queues=("lab",), name="lab", options=())`` runs
``celery -A course_tasks worker -P POOL -c N -Q QUEUES -n NAME-worker@HOST`` (mingle, gossip
and heartbeats off, log in ``$COURSE_HOME/logs/NAME-worker.log``; ``options`` are more
``celery worker`` options, such as ``("--max-tasks-per-child=1",)``; ``env`` is a mapping of
more environment variables for the process, such as ``{"REMAP_SIGTERM": "SIGQUIT"}``, with a
``PYTHONPATH`` of its own put after the course's) and waits until it answers a ping. It only
consumes its own queues, so it never takes the shared worker's tasks.

* **redis mode**: the process uses the course's Redis (broker, results, app data);
* **embedded mode**: a broker that crosses processes is needed, so the kernel serves its
  in-process fakeredis server (:mod:`course_tasks.embedded.server`, the one that holds the
  results and the app data) over TCP on a free ``127.0.0.1`` port with fakeredis's
  ``TcpFakeServer``, and the process connects to it as ``redis://127.0.0.1:PORT/0``: the
  notebook's :func:`course_tasks.store.store` and the lab worker see the same counters and
  locks. The TCP server is started with the first lab worker and stopped by
  :func:`stop_all`.

``lab.app`` is a Celery app (not the current app) configured like the course's app (json
only, ``task_track_started``, ``result_extended``...) whose broker and result backend reach
the lab worker, with ``task_default_queue`` set to the first lab queue. The worker process
imports the course's task modules, so tasks are called **by name**:
``lab.app.send_task(name, args=..., kwargs=...)``, or ``lab.app.signature(name, args=...)``
for a signature (``.apply_async()``, ``.set(...)``, canvas). Only tasks defined in
``course_tasks.tasks`` modules exist there: a task defined in a notebook cell does not.

Nothing outlives the kernel: each process starts in its own process group with
``PR_SET_PDEATHSIG`` = SIGKILL (the kernel dies -> the worker is killed; its prefork children
have the same setting from Celery's ``process_initializer``), is registered with
:func:`course_tasks.runtime.track` (so the chapter's ``runtime.stop()`` and interpreter exit
stop it), and ``stop()`` sends SIGTERM (or SIGQUIT) and then SIGKILL to the whole group.
Call :func:`start` from the main thread: Linux sends the death signal when the *thread* that
started the process ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from celery.utils.nodenames import gethostname

from course_tasks import runtime, services, settings
from course_tasks.errors import CourseError
from course_tasks.services import free_port

#: How long :func:`start` waits for the worker to answer a ping: a ceiling, generous for a
#: machine shared by a class (benchmarks/classroom.py).
READY_SECONDS = 60.0
#: How long ``stop()`` waits after SIGTERM/SIGQUIT before it sends SIGKILL to the group.
STOP_SECONDS = 10.0
ROOT = Path(__file__).resolve().parent.parent

_lock = threading.RLock()
_workers: dict[str, LabWorker] = {}
_broker: _TcpBroker | None = None


# --------------------------------------------------------------------------- the TCP broker


def _handler_class() -> type:
    """fakeredis's TCP request handler, with error replies that keep the connection open.

    Also sets ``TCP_NODELAY``. fakeredis 2.40's handler closes the connection after any
    error reply (it catches the ``ResponseError`` that its connection raises for one as if
    the socket had failed).
    kombu's first ``EVALSHA`` gets ``NOSCRIPT`` (normal: redis-py then sends ``SCRIPT LOAD``),
    so the worker's connection was cut at random at start-up.
    """
    import redis
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class Handler(TCPFakeRequestHandler):
        def setup(self) -> None:
            super().setup()
            # Real Redis sets TCP_NODELAY. Without it, the second reply of a pipeline (a
            # result's SET + PUBLISH) waited for the client's delayed ACK: ~45 ms each.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = self.current_client
            read = client.read_response

            def read_response(*args: Any, **kwargs: Any) -> Any:
                try:
                    return read(*args, **kwargs)
                except redis.ResponseError as exc:  # an error reply: send it, keep going
                    return exc

            client.read_response = read_response  # type: ignore[method-assign]

    return Handler


class _TcpBroker:
    """The kernel's fakeredis server, served over TCP on a free loopback port."""

    def __init__(self) -> None:
        from fakeredis import TcpFakeServer

        from course_tasks.embedded import server

        self.port = free_port()
        self.server = TcpFakeServer(("127.0.0.1", self.port))
        self.server.RequestHandlerClass = _handler_class()
        # Daemon connection threads: Python joins non-daemon threads at exit *before* atexit
        # hooks run, so a connection thread would keep a kernel that exits without stop().
        self.server.daemon_threads = True
        # Serve the databases the notebook already uses (results db 1, app data db 2).
        self.server.fake_server = server.SERVER
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="course-lab-broker",
            daemon=True,
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()  # ends serve_forever and every connection's loop
            self.thread.join(5)
        self.server.server_close()  # joins the connection threads


def _broker_url() -> str:
    """The broker URL a lab worker process uses (starting the TCP broker if needed)."""
    global _broker
    cfg = settings.from_env()
    if cfg.mode == settings.REDIS:
        return cfg.broker_url
    if cfg.mode != settings.EMBEDDED:
        raise CourseError(
            f"a lab worker process needs a broker, and {cfg.mode} mode has none.",
            "unset COURSE_BROKER (embedded mode) or set it to a Redis URL, then restart "
            "the kernel.",
        )
    if _broker is None or not _broker.alive():
        _broker = _TcpBroker()
        runtime.track("lab-broker", _stop_broker, lambda: _broker is not None and _broker.alive())
    return _broker.url


def _stop_broker() -> None:
    global _broker
    broker, _broker = _broker, None
    if broker is not None:
        broker.stop()


# --------------------------------------------------------------------------- the lab app


def lab_app(broker_url: str, queue: str) -> Celery:
    """A Celery app configured like the course's, on ``broker_url`` (db 0) and db 1 results."""
    from course_tasks import celeryconfig

    conf = {k: v for k, v in vars(celeryconfig).items() if k.islower() and not k.startswith("_")}
    for key in ("broker_transport", "override_backends", "beat_schedule"):
        conf.pop(key, None)
    base = broker_url.rsplit("/", 1)[0]
    cfg = settings.from_env()
    conf.update(
        broker_url=broker_url,
        result_backend=cfg.backend_url if cfg.mode == settings.REDIS else f"{base}/1",
        task_always_eager=False,
        task_default_queue=queue,
    )
    lab = Celery("course_tasks", set_as_current=False)
    lab.conf.update(conf)
    return lab


# --------------------------------------------------------------------------- the process


def _children(pid: int) -> list[int]:
    import psutil

    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    # A killed pool child stays a zombie until the pool reaps it (asynpool's maintain_pool,
    # on the child's exit or every 5 s): it is no longer a pool process.
    return sorted(child.pid for child in children if _alive(child))


def _alive(process: Any) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class LabWorker:
    """A ``celery worker`` process started by :func:`start`."""

    name: str
    nodename: str
    queues: tuple[str, ...]
    app: Celery
    process: subprocess.Popen[bytes]
    log_path: Path
    #: Seconds from ``Popen`` to the first answered ping.
    start_seconds: float = 0.0
    #: ``(pool, concurrency, queues, options)`` (and the ``env`` items, when given): :func:`start`
    #: reuses a worker with the same.
    spec: tuple[Any, ...] = ()
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def child_pids(self) -> list[int]:
        """The pids of the pool's child processes (prefork), sorted."""
        return _children(self.pid)

    def active_pid(self, task_id: str, timeout: float = 10.0) -> int | None:
        """The pid of the pool child running ``task_id`` (asks the worker), or ``None``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inspect = self.app.control.inspect([self.nodename], timeout=0.5, limit=1)
            reply = inspect.active() or {}
            for request in reply.get(self.nodename, []):
                if request.get("id") == task_id and request.get("worker_pid"):
                    return int(request["worker_pid"])
            time.sleep(0.05)
        return None

    def wait_for_pool(self, seconds: float = 30.0) -> bool:
        """Wait until the pool has its ``concurrency`` processes again (after a kill)."""
        deadline = time.monotonic() + seconds
        while len(self.child_pids()) < int(self.spec[1]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.child_pids()) >= int(self.spec[1])

    def kill_child(self, sig: int = signal.SIGKILL, *, task_id: str | None = None) -> int:
        """Send ``sig`` to one pool child: the one running ``task_id``, or the first one.

        Returns the pid that got the signal.
        """
        pid = self.active_pid(task_id) if task_id else None
        if pid is None:
            children = self.child_pids()
            if not children:
                raise CourseError(f"{self.nodename} has no pool child to kill (pool solo?).")
            pid = children[0]
        os.kill(pid, sig)
        return pid

    def stop(self, cold: bool = False, timeout: float = STOP_SECONDS) -> float:
        """Warm shutdown (SIGTERM: running tasks finish) or cold (SIGQUIT); then SIGKILL.

        Returns the seconds it took. Idempotent.
        """
        started = time.perf_counter()
        proc = self.process
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT if cold else signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # any child its main process left behind
        if not self._stopped:
            self._stopped = True
            self.app.close()
            with _lock:
                if _workers.get(self.name) is self:
                    del _workers[self.name]
                    runtime.untrack(f"lab-worker:{self.name}")
        return time.perf_counter() - started

    def group_alive(self) -> bool:
        """Whether any process of the worker's process group is still alive."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def start(
    pool: str = "prefork",
    concurrency: int = 2,
    queues: Iterable[str] = ("lab",),
    name: str = "lab",
    options: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> LabWorker:
    """Start a lab worker process (or return the running one with the same settings)."""
    queues = tuple(queues)
    options = tuple(options)
    extra_env = dict(env or {})
    spec: tuple[Any, ...] = (pool, concurrency, queues, options)
    if extra_env:
        spec += (tuple(sorted(extra_env.items())),)
    with _lock:
        current = _workers.get(name)
        if current is not None and current.alive():
            if current.spec == spec:
                return current
            current.stop()
        broker = _broker_url()
        cfg = settings.from_env()
        node = f"{name}-worker@{gethostname()}"
        log_path = cfg.log_dir / f"{name}-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "celery", "-A", "course_tasks", "worker",
               "-P", pool, "-c", str(concurrency), "-Q", ",".join(queues), "-n", node,
               "--without-mingle", "--without-gossip", "--without-heartbeat",
               "--loglevel=INFO", f"--logfile={log_path}", *options]  # fmt: skip
        proc_env = dict(os.environ)
        for key in settings.CELERY_OVERRIDES:
            proc_env.pop(key, None)
        proc_env.update(extra_env)
        proc_env["COURSE_BROKER"] = broker
        proc_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), proc_env.get("PYTHONPATH")])
        )
        began = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=proc_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=services.die_with_parent,
        )
        lab = LabWorker(name, node, queues, lab_app(broker, queues[0]), proc, log_path)
        lab.spec = spec
        _workers[name] = lab
        runtime.track(f"lab-worker:{name}", lab.stop, lab.alive)
        try:
            _wait_ready(lab)
        except BaseException:
            lab.stop(timeout=2)
            raise
        lab.start_seconds = time.perf_counter() - began
        return lab


def _wait_ready(lab: LabWorker) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if lab.process.poll() is not None:
            raise CourseError(
                f"the lab worker exited at start (status {lab.process.returncode}): "
                f"{_tail(lab.log_path)}",
                f"read its log: {lab.log_path}",
            )
        if lab.app.control.ping([lab.nodename], timeout=0.2):
            return
        if time.monotonic() >= deadline:
            raise CourseError(
                f"the lab worker {lab.nodename} did not answer within {READY_SECONDS:g} s",
                f"read its log: {lab.log_path}",
            )


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def workers() -> list[LabWorker]:
    """The lab workers started by this process that are still running."""
    with _lock:
        return [lab for lab in _workers.values() if lab.alive()]


def stop_all(cold: bool = False) -> None:
    """Stop every lab worker this process started, then the lab broker. Idempotent."""
    with _lock:
        for lab in list(_workers.values()):
            lab.stop(cold=cold)
        _stop_broker()
        runtime.untrack("lab-broker")


def time_roundtrip(
    lab: LabWorker, name: str, args: tuple[Any, ...] = (), n: int = 10
) -> list[float]:
    """Seconds for ``n`` send-and-get round trips of task ``name`` (for the benchmarks)."""
    times = []
    for _ in range(n):
        began = time.perf_counter()
        lab.app.send_task(name, args=args).get(timeout=10)
        times.append(time.perf_counter() - began)
    return times
