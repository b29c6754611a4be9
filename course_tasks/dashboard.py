"""Flower for chapter 09, started from a notebook in every mode and stopped by ``runtime.stop()``.

``celery -A course_tasks flower`` is how a team runs Flower (guide 000 §10, guide 001 §11):
a separate process beside the workers. In the course it runs *inside the kernel* instead,
which works in both modes:

* **embedded**: the broker is kombu's in-memory transport, which only carries messages
  between threads of one process, so Flower must live in the kernel to see the worker's
  events (the ``celeryev`` topic exchange) and to broadcast ``inspect`` commands;
* **redis**: Flower talks to the same Redis as the worker processes, from the kernel.

What runs: Flower's own :class:`flower.app.Flower` (its tornado application, handlers,
``Inspector`` and ``Events`` state), with a tornado ``IOLoop`` in a thread of its own, an
HTTP server on ``127.0.0.1`` on a free port, and Flower's event-capturing thread. Flower
stays behind HTTP basic auth with a user and password generated for each start (never
printed in full). :func:`start` registers the stopper with ``runtime.track("flower", ...)``,
so the chapter's last ``runtime.stop()`` (and interpreter exit) stops the loop, the event
thread, the executor threads and closes the port.

    from course_tasks import dashboard
    flower = dashboard.start()
    flower.get("/api/workers")            # json, authenticated
    flower.text("/metrics")               # Prometheus text
    flower.show("/tasks")                 # its page in the notebook, until Flower stops
    flower.stop()                         # or runtime.stop()

Used by chapter 09 (monitoring).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import secrets
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_tasks import eventwatch, runtime
from course_tasks.app import app as course_app

#: How long :func:`start` waits for Flower's HTTP server to answer and its event receiver to
#: listen: a ceiling, generous for a loaded machine (benchmarks/classroom.py).
START_SECONDS = 30.0
#: How long stopping waits for Flower's threads.
STOP_SECONDS = 5.0
#: Flower's ``--inspect_timeout`` (ms): how long /api/workers waits for worker replies.
INSPECT_TIMEOUT_MS = 1000.0
#: What Flower asks each worker when /api/workers?refresh=1 is called (one after another).
INSPECT_METHODS = ("stats", "active_queues", "registered")
#: The name of the service in ``runtime.track``.
SERVICE = "flower"
THREAD_PREFIX = "course-flower"

_lock = threading.Lock()
_current: Dashboard | None = None


def _flower_events_class() -> type:
    """Flower's ``Events`` with a capture loop that stops when asked (Flower's never does)."""
    from flower.events import Events

    class StoppableEvents(Events):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.name = f"{THREAD_PREFIX}-events"
            self.halt = threading.Event()
            self.capturing = threading.Event()

        def run(self) -> None:
            eventwatch.receive(self.capp, self.on_event, self.halt, self.capturing)

        def on_event(self, event: dict[str, Any]) -> None:
            if not self.halt.is_set():
                super().on_event(event)

    return StoppableEvents


class _StoppedFrame:
    """What a frame from :meth:`Dashboard.show` becomes once Flower has stopped."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<Flower dashboard {self.path}: Flower has stopped; run the chapter to see it>"

    def _repr_html_(self) -> str:
        return (
            f"<p><em>Flower's <code>{html.escape(self.path)}</code> page was shown here while "
            "Flower ran. Flower has stopped; run the chapter to see it.</em></p>"
        )


@dataclass
class Dashboard:
    """A Flower running in this process: its URL, credentials and a small HTTP client."""

    url: str
    user: str
    password: str = field(repr=False)
    _thread: threading.Thread = field(repr=False, default=None)  # type: ignore[assignment]
    _flower: Any = field(repr=False, default=None)
    _loop: Any = field(repr=False, default=None)
    _events: Any = field(repr=False, default=None)
    _server: Any = field(repr=False, default=None)
    # (display handle, path) of every frame show() displayed; stop() replaces them.
    _frames: list[tuple[Any, str]] = field(repr=False, default_factory=list)

    # ------------------------------------------------------------------ http
    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].rstrip("/"))

    def _auth_header(self, user: str | None, password: str | None) -> dict[str, str]:
        if user is None:
            return {}
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        auth: bool | tuple[str, str] = True,
        timeout: float = 5.0,
    ) -> tuple[int, str]:
        """``(status, body)`` of ``method path`` (with this Flower's credentials by default)."""
        if auth is True:
            headers = self._auth_header(self.user, self.password)
        elif auth:
            headers = self._auth_header(*auth)  # type: ignore[misc]
        else:
            headers = {}
        data = b"" if method == "POST" else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def get(self, path: str, **kwargs: Any) -> Any:
        """The json Flower answers to ``GET path``; raises if the status is not 200."""
        status, body = self.request(path, **kwargs)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]}")
        return json.loads(body)

    def post(self, path: str, **kwargs: Any) -> Any:
        status, body = self.request(path, method="POST", **kwargs)
        if status != 200:
            raise RuntimeError(f"POST {path} answered {status}: {body[:200]}")
        return json.loads(body)

    def text(self, path: str, **kwargs: Any) -> str:
        status, body = self.request(path, **kwargs)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]}")
        return body

    def masked_password(self) -> str:
        return self.password[:2] + "*" * (len(self.password) - 2)

    def describe(self) -> str:
        """One stable line: where Flower listens (host and port vary) and who may log in."""
        return (
            f"Flower {_flower_version()} on http://127.0.0.1:<port>/, basic auth as "
            f"{self.user!r} (password {len(self.password)} characters, generated for this run)"
        )

    def _frame(self, path: str, height: int) -> Any:
        """Flower's page in an IFrame, with a stable text form; displayed only by :meth:`show`,
        which also takes it down when Flower stops."""
        from IPython.display import IFrame

        class _Frame(IFrame):  # type: ignore[misc]
            def __repr__(self) -> str:
                return f"<Flower dashboard {path} in an IFrame, {height} px high>"

        return _Frame(self.url + path, width="100%", height=height)

    def show(self, path: str = "/", height: int = 420) -> None:
        """Display Flower's page ``path`` in the notebook for as long as this Flower runs.

        The frame is displayed with a display id, and :meth:`stop` replaces it with a line
        saying that Flower has stopped. Without that, the notebook, open or saved, would keep
        a frame pointing at a closed port: an error page in JupyterLab, and a frame that stops
        headless Chromium's menus from opening.
        """
        from IPython.display import display

        handle = display(self._frame(path, height), display_id=True)
        if handle is not None:  # None outside IPython, where display() only prints
            self._frames.append((handle, path))

    def _retire_frames(self) -> None:
        frames, self._frames = self._frames, []
        for handle, path in frames:
            # A kernel that is shutting down may have nowhere left to send the update.
            with contextlib.suppress(Exception):
                handle.update(_StoppedFrame(path))

    # ------------------------------------------------------------------ lifecycle
    def alive(self) -> bool:
        threads = [self._thread, self._events]
        return any(t is not None and t.is_alive() for t in threads) or _port_open(self.port)

    def stop(self) -> None:
        """Stop the event thread, the loop and the server; close the port. Idempotent."""
        global _current
        events, loop = self._events, self._loop
        if events is not None:
            events.halt.set()
        if loop is not None and self._thread is not None and self._thread.is_alive():
            loop.add_callback(self._shutdown_in_loop)
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
        if events is not None and events.is_alive():
            events.join(STOP_SECONDS)
        with _lock:
            if _current is self:
                _current = None
        if not self.alive():
            runtime.untrack(SERVICE)
            self._retire_frames()

    def _shutdown_in_loop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._flower is not None:
            self._flower.stop()
        else:
            self._loop.stop()


async def _when_capturing(events: Any, ready: threading.Event) -> None:
    """Set ``ready`` once the event receiver's queue is bound (or after a few seconds)."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, events.capturing.wait, START_SECONDS)
    ready.set()


def log_path() -> Path:
    """The file Flower and tornado log to (beside the embedded worker's log)."""
    return runtime.log_path().parent / "flower.log"


def _log() -> logging.Logger:
    return logging.getLogger("course_tasks.dashboard")


def _route_logs() -> None:
    """Flower's and tornado's log records go to :func:`log_path`, never into a cell."""
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not the "tornado" logger itself: ipykernel has a stderr handler of its own there.
    names = ("flower", "tornado.access", "tornado.application", "tornado.general",
             "course_tasks.dashboard", "course_tasks.eventwatch")  # fmt: skip
    for name in names:
        logger = logging.getLogger(name)
        if not any(getattr(h, "_course_flower", False) for h in logger.handlers):
            handler = logging.FileHandler(path, encoding="utf-8")
            handler._course_flower = True  # type: ignore[attr-defined]
            handler.setFormatter(logging.Formatter(runtime.LOG_FORMAT))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _flower_version() -> str:
    import flower

    return str(flower.__version__)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def current() -> Dashboard | None:
    """The Flower this process runs now, if any."""
    return _current


def start(app: Any = None, *, quiet: bool = True) -> Dashboard:
    """Start Flower in this process (or return the one running); idempotent.

    Binds 127.0.0.1 on a free port, requires basic auth with generated credentials, and
    registers with ``runtime.track`` so that ``runtime.stop()`` stops it.
    """
    global _current
    with _lock:
        if _current is not None and _current._thread is not None and _current._thread.is_alive():
            return _current
        capp = app or course_app
        dash = Dashboard(url="", user="course", password=secrets.token_urlsafe(18))
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                _serve(dash, capp, ready)
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
            finally:
                asyncio.set_event_loop(None)
                loop.close()

        thread = threading.Thread(target=serve, name=f"{THREAD_PREFIX}-loop", daemon=True)
        dash._thread = thread
        thread.start()
        if not ready.wait(START_SECONDS) or failure:
            dash.stop()
            raise RuntimeError(f"Flower did not start: {failure[0] if failure else 'timeout'}")
        _current = dash
    runtime.track(SERVICE, dash.stop, dash.alive)
    if not quiet:
        print(dash.describe())
    return dash


def _serve(dash: Dashboard, capp: Any, ready: threading.Event) -> None:
    """Run in the loop thread: build Flower, listen, capture events, until stopped."""
    from flower.app import Flower
    from flower.events import get_prometheus_metrics
    from flower.options import options
    from flower.urls import settings
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop
    from tornado.netutil import bind_sockets

    _route_logs()
    # Flower reads tornado's global options; set them for this run, put them back at the end.
    ours = {"basic_auth": [f"{dash.user}:{dash.password}"], "address": "127.0.0.1", "port": 0,
            "inspect_timeout": INSPECT_TIMEOUT_MS}  # fmt: skip
    before = {name: getattr(options, name) for name in ours}
    for name, value in ours.items():
        setattr(options, name, value)
    # Flower's Prometheus metrics live in prometheus_client's global registry: start each
    # Flower from zero, so that /metrics counts what this Flower saw.
    metrics = get_prometheus_metrics()
    for metric in vars(metrics).values():
        if hasattr(metric, "clear"):
            metric.clear()

    loop = IOLoop.current()
    events_cls = _flower_events_class()
    events = events_cls(
        capp,
        io_loop=loop,
        db=options.db,
        persistent=False,
        enable_events=options.enable_events,
        state_save_interval=0,
        max_workers_in_memory=options.max_workers,
        max_tasks_in_memory=options.max_tasks,
    )
    flower_app = Flower(capp=capp, options=options, io_loop=loop, events=events, **settings)
    # Flower sends its inspect commands from several executor threads at once; in this
    # process such concurrent broadcasts lose replies (measured: about 1 in 3 came back
    # empty), so the course's Flower asks one question at a time, and only three.
    flower_app.inspector.inspect_methods = INSPECT_METHODS
    flower_app.inspector._inspect_max_concurrency = 1
    sockets = bind_sockets(0, address="127.0.0.1")
    server = HTTPServer(flower_app)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    dash.url = f"http://127.0.0.1:{port}"
    dash._flower, dash._loop, dash._events, dash._server = flower_app, loop, events, server

    flower_app.events.start()
    flower_app.started = True
    loop.add_callback(flower_app.update_workers)
    loop.add_callback(_when_capturing, events, ready)
    try:
        loop.start()
    finally:
        # Flower's inspections still in flight (an asyncio task each): cancel them, so that
        # closing the loop does not complain about pending tasks.
        aloop = asyncio.get_event_loop()
        pending = [task for task in asyncio.all_tasks(aloop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            aloop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        flower_app.events.halt.set()
        server.stop()
        for sock in sockets:
            sock.close()
        flower_app.executor.shutdown(wait=True)
        flower_app.events.join(STOP_SECONDS)
        for name, value in before.items():
            setattr(options, name, value)
