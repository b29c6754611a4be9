"""Start, stop and report on the workers a chapter needs, in whichever mode is selected.

A chapter's first code cell is ``runtime.start()`` and its last ``runtime.stop()``:

* **embedded** (default): ``start()`` runs a real Celery worker (solo pool) in a thread of
  this process, with Celery's own :func:`celery.contrib.testing.worker.start_worker`;
  ``stop()`` shuts it down in milliseconds. Worker logs go to a file, not into cells.
* **redis**: workers are separate ``celery -A course_tasks worker`` processes;
  ``start()`` checks that Redis answers and waits a few seconds for a worker to answer a
  ping, and says how to start one if none does. With ``COURSE_LEARNER`` (a classroom),
  only the learner's own workers, started with the same ``COURSE_LEARNER``, can answer;
  the banner names the namespace.
* **eager**: nothing to start; tasks run inline when called.

Both functions are idempotent; :func:`running` is the context-manager form, and whatever
was started is stopped at interpreter exit as well.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import signals
from celery.app.log import TaskFormatter
from celery.contrib.testing.worker import start_worker
from celery.utils.nodenames import gethostname, nodename

from course_tasks import joinguard, probe, settings
from course_tasks.app import app
from course_tasks.embedded import backend as embedded_backend
from course_tasks.embedded import transport
from course_tasks.embedded.consumer import EmbeddedConsumer
from course_tasks.errors import CourseError, NoWorker

#: How long ``start()`` waits for a separate worker to answer in redis mode.
WORKER_WAIT_SECONDS = float(os.environ.get("COURSE_WORKER_WAIT", "4"))
#: How long ``stop()`` waits for a task that is still running in the embedded worker.
SHUTDOWN_SECONDS = 5.0
EMBEDDED_NODENAME = nodename("embedded", gethostname())
LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(threadName)s] %(name)s: %(message)s"


@dataclass
class Status:
    """What :func:`start` found or started."""

    mode: str
    description: str
    workers: list[str] = field(default_factory=list)
    log_path: Path | None = None

    def banner(self) -> str:
        workers = ", ".join(self.workers) if self.workers else "none needed"
        return f"Course mode: {self.description}\nWorkers: {workers}"


_lock = threading.RLock()
_stack: ExitStack | None = None
_worker: Any = None
_status: Status | None = None


@dataclass
class _Service:
    stop: Callable[[], None]
    alive: Callable[[], bool]


#: Services a chapter started besides the worker (beat, a second worker, Flower, a worker
#: process), in the order they started; :func:`stop` stops them newest first.
_services: dict[str, _Service] = {}


def track(name: str, stop: Callable[[], None], alive: Callable[[], bool]) -> None:
    """Have :func:`stop` (and interpreter exit) stop a service a chapter started.

    ``stop`` must be idempotent and must not raise when the service already ended;
    ``alive`` says whether it still runs, so that :func:`stop` can report one that did
    not stop. Tracking a name again replaces the earlier entry.
    """
    with _lock:
        _services.pop(name, None)
        _services[name] = _Service(stop, alive)


def untrack(name: str) -> None:
    """Forget a service that its owner stopped itself."""
    with _lock:
        _services.pop(name, None)


def services() -> list[str]:
    """Names of the tracked services that are still running."""
    with _lock:
        return [name for name, service in _services.items() if service.alive()]


def mode() -> str:
    """``"embedded"``, ``"redis"`` or ``"eager"``, as selected by ``COURSE_BROKER``."""
    return _settings().mode


def _settings() -> settings.Settings:
    overrides = settings.celery_overrides()
    if overrides:
        raise CourseError(
            f"{' and '.join(overrides)} set in the environment: Celery would use it instead of "
            "the course's broker and results, so tasks would go somewhere else.",
            f"unset {' '.join(overrides)} and select the mode with COURSE_BROKER, then "
            "restart the kernel.",
        )
    try:
        return settings.from_env()
    except settings.SettingsError as exc:
        fix = "fix or unset COURSE_BROKER, then restart the kernel."
        raise CourseError(str(exc), fix) from None


def log_path() -> Path:
    """The file the embedded worker writes its log to."""
    return _settings().log_dir / "embedded-worker.log"


def start(*, quiet: bool = False) -> None:
    """Make sure tasks sent now will run; print the mode unless ``quiet``. Idempotent.

    Raises :class:`~course_tasks.errors.CourseError` with a fix when that is not possible
    (Redis unreachable, no worker answering). :func:`status` tells what was found.
    """
    global _status
    cfg = _settings()
    with _lock:
        if cfg.mode == settings.EMBEDDED:
            _status = _start_embedded(cfg)
        elif cfg.mode == settings.REDIS:
            _status = _check_redis(cfg)
        else:
            _status = Status(cfg.mode, cfg.describe())
    if not quiet:
        print(_status.banner())


def status() -> Status | None:
    """What the last :func:`start` found or started (``None`` before any start)."""
    return _status


def stop(*, quiet: bool = False) -> None:
    """Stop what this process started, and say whether anything is still running.

    Idempotent. :func:`leftover_threads` lists what did not stop (nothing, normally).
    """
    global _stack, _worker
    with _lock:
        failed = _stop_services()
        stack, _stack, _worker = _stack, None, None
        if stack is not None:
            transport.set_stopping(True)
            try:
                stack.close()
            except RuntimeError as exc:  # a task still running after SHUTDOWN_SECONDS
                raise CourseError(
                    f"The embedded worker did not stop: {exc}",
                    "a task is still running; wait for it (result.get(timeout=...)) or "
                    "restart the kernel.",
                ) from None
            finally:
                transport.set_stopping(False)
    left = leftover_threads() + failed
    if not quiet:
        if left:
            print(f"Course runtime stopped, but still running: {', '.join(left)}")
        else:
            print("Course runtime stopped: no worker left running.")


def _stop_services() -> list[str]:
    """Stop every tracked service, newest first; return the names that still run."""
    left = []
    for name in reversed(list(_services)):
        service = _services.pop(name)
        try:
            service.stop()
        except Exception as exc:  # one service must not keep the others running
            logging.getLogger(__name__).warning("stopping %s failed: %r", name, exc)
        if service.alive():
            left.append(name)
    return left


def leftover_threads() -> list[str]:
    """Names of live threads that run Celery or kombu code (a worker that did not stop)."""
    names = []
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        module = getattr(target, "__module__", None) or type(thread).__module__
        if thread.is_alive() and module.split(".")[0] in ("celery", "kombu", "billiard"):
            names.append(thread.name)
    return sorted(names)


def is_running() -> bool:
    """Whether this process runs an embedded worker now."""
    return _worker is not None


@contextmanager
def running(*, quiet: bool = True) -> Iterator[Status]:
    """``with running():`` starts what the mode needs and stops it afterwards."""
    start(quiet=quiet)
    try:
        yield _status  # type: ignore[misc]
    finally:
        stop(quiet=quiet)


def wait_for_workers(timeout: float = WORKER_WAIT_SECONDS) -> list[str]:
    """Ping until at least one worker answers or ``timeout`` passes; return their names."""
    deadline = time.monotonic() + timeout
    while True:
        names = probe.ping_workers(app, timeout=min(0.5, max(timeout, 0.1)))
        if names or time.monotonic() >= deadline:
            return names


def _start_embedded(cfg: settings.Settings) -> Status:
    global _stack, _worker
    path = log_path()
    if _worker is None:
        _route_worker_logs(path)
        transport.set_stopping(False)
        stack = ExitStack()
        _worker = stack.enter_context(
            start_worker(
                app,
                pool="solo",
                concurrency=1,
                loglevel="INFO",
                logfile=str(path),
                perform_ping_check=False,
                shutdown_timeout=SHUTDOWN_SECONDS,
                hostname=EMBEDDED_NODENAME,
                consumer_cls=EmbeddedConsumer,
                # worker_timer_precision: how long the ETA timer thread may sleep before
                # it looks at its schedule again (1 s by default). The embedded worker has
                # no event loop, so a short countdown queued behind a long one would
                # otherwise start up to a second late.
                timer_precision=0.05,
            )
        )
        # As in a worker process, a task may not wait on another task's result: the
        # refusal is per thread here, so the notebook itself can still call get().
        thread = joinguard.worker_thread(_worker)
        if thread is not None:
            joinguard.install(thread)
            stack.callback(joinguard.uninstall)
            _route_worker_warnings(thread)
        _stack = stack
        # The first task this thread sends would otherwise import and connect the result
        # backend while it is being sent (embedded/backend.py: warm_up).
        embedded_backend.warm_up(app)
        # app.log.setup() publishes these for child processes; this kernel has none.
        for name in ("CELERY_LOG_FILE", "CELERY_LOG_LEVEL"):
            os.environ.pop(name, None)
    return Status(cfg.mode, cfg.describe(), [EMBEDDED_NODENAME], path)


def _check_redis(cfg: settings.Settings) -> Status:
    probe.ping_redis(cfg.broker_url, role="broker")
    probe.ping_redis(cfg.backend_url, role="result backend")
    workers = wait_for_workers()
    if not workers and cfg.key_prefix:  # only this learner's workers can answer
        raise NoWorker(
            f"No Celery worker answered within {WORKER_WAIT_SECONDS:g} s in namespace "
            f"{cfg.learner} on {settings.redact(cfg.broker_url)}.",
            "start yours in a terminal with the same COURSE_BROKER and COURSE_LEARNER: "
            f"`COURSE_LEARNER={cfg.learner} python -m course_tasks worker`, then run this "
            "cell again (`python -m course_tasks doctor` shows where workers do answer).",
        )
    if not workers:
        raise NoWorker(
            f"No Celery worker answered within {WORKER_WAIT_SECONDS:g} s on "
            f"{settings.redact(cfg.broker_url)}.",
            "start one in a terminal with the same COURSE_BROKER: "
            "`python -m course_tasks worker` (or `docker compose up -d worker`), then run "
            "this cell again.",
        )
    return Status(cfg.mode, cfg.describe(), workers)


_show_warning = warnings.showwarning
_warning_threads: set[int] = set()


def _route_worker_warnings(thread: threading.Thread) -> None:
    """Send warnings raised in the worker thread to its log, not into the running cell.

    A worker process writes them to its own stderr (the worker log in redis mode); the
    embedded worker shares the kernel's stderr, which lands in whichever cell runs. Warnings
    raised by the notebook's own code are shown as before.
    """
    _warning_threads.intersection_update(t.ident for t in threading.enumerate())
    _warning_threads.add(thread.ident)  # type: ignore[arg-type]

    def show(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        if threading.get_ident() in _warning_threads:
            text = warnings.formatwarning(message, category, filename, lineno).rstrip()
            logging.getLogger("celery.worker").warning("%s", text)
        else:
            _show_warning(message, category, filename, lineno, *rest)

    warnings.showwarning = show


def _route_worker_logs(path: Path) -> None:
    """Send the embedded worker's log to ``path`` and keep it out of notebook cells.

    Celery calls the ``setup_logging`` signal instead of configuring logging itself when
    a receiver is connected; this one gives the ``celery`` loggers a file handler and
    stops them from reaching the kernel's root logger, whose output lands in cells. The
    ``celery.task`` logger (every ``get_task_logger`` logger hangs under it) gets Celery's own
    ``TaskFormatter`` with ``worker_task_log_format``, as a worker's
    ``Logging.setup_task_loggers`` does: its lines name the task and its id.
    """
    path.parent.mkdir(parents=True, exist_ok=True)

    def file_handler(logger: logging.Logger, formatter: logging.Formatter) -> None:
        for handler in list(logger.handlers):
            if getattr(handler, "_course_embedded", False):
                logger.removeHandler(handler)
                handler.close()
        handler = logging.FileHandler(path, encoding="utf-8")
        handler._course_embedded = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    def configure(**_: Any) -> None:
        file_handler(logging.getLogger("celery"), logging.Formatter(LOG_FORMAT))
        task_format = TaskFormatter(app.conf.worker_task_log_format, use_color=False)
        file_handler(logging.getLogger("celery.task"), task_format)

    signals.setup_logging.connect(configure, weak=False, dispatch_uid="course_tasks.embedded")


atexit.register(stop, quiet=True)
