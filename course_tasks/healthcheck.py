"""Guide 004 §5's ``/health`` and ``/metrics`` endpoints, served for real (chapter 09).

A web service that hands work to Celery reports on it to its load balancer and to
Prometheus. This module holds both, on the standard library's HTTP server in a thread of
this process, on ``127.0.0.1`` and a free port:

* ``GET /health``: :func:`check`'s json, status 200 when healthy, 503 when not, with guide
  004's shape ``{"status": "healthy", "checks": {"broker": "ok", "result_backend": "ok",
  "celery_worker": "ok (1 workers)"}}``;
* ``GET /metrics``: Prometheus text for the course's own tasks: how many finished in each
  state per task (counted from the workers' events, see :mod:`course_tasks.eventwatch`),
  how long each queue is, and how many workers answer a ping.

:func:`start` registers the server with ``runtime.track`` so that ``runtime.stop()`` stops
its threads and closes its port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from course_tasks import eventwatch, runtime
from course_tasks.app import app as course_app

SERVICE = "health-server"
#: How long a ping waits for workers' replies when /health or /metrics is asked.
PING_SECONDS = 1.0
#: How long :meth:`HealthServer.start` waits for its event receiver to listen (a ceiling).
READY_SECONDS = 30.0


def ping_workers(app: Any, timeout: float = PING_SECONDS) -> list[str]:
    """The names of the workers that answer a ping within ``timeout`` (sorted)."""
    return sorted(app.control.inspect(timeout=timeout).ping() or {})


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}" + (f": {text}" if text else "")


def check(app: Any = None, timeout: float = PING_SECONDS) -> dict[str, Any]:
    """Broker, result backend and workers, in guide 004 §5's shape."""
    app = app or course_app
    checks: dict[str, str] = {}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = _error(exc)
    client = getattr(app.backend, "client", None)  # Celery's Redis backend has one
    try:
        if client is None:
            raise LookupError(f"no Redis result backend ({type(app.backend).__name__})")
        client.ping()
        checks["result_backend"] = "ok"
    except Exception as exc:
        checks["result_backend"] = _error(exc)
    try:
        workers = ping_workers(app, timeout) if checks["broker"] == "ok" else []
        checks["celery_worker"] = f"ok ({len(workers)} workers)" if workers else "no active workers"
    except Exception as exc:
        checks["celery_worker"] = _error(exc)
    healthy = all(value.startswith("ok") for value in checks.values())
    return {"status": "healthy" if healthy else "unhealthy", "checks": checks}


def queue_lengths(app: Any, names: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (a queue that does not exist counts 0).

    On Redis this is ``LLEN <queue>`` (guide 003 §6); through kombu it is a passive
    ``queue_declare``, which every transport answers with the message count.
    """
    lengths = {}
    with app.connection_for_write() as conn:
        for name in names:
            channel = conn.channel()
            try:
                lengths[name] = int(channel.queue_declare(name, passive=True).message_count)
            except conn.channel_errors:
                lengths[name] = 0
            finally:
                channel.close()
    return lengths


class _Collector:
    """Computes the course's metrics when Prometheus scrapes."""

    def __init__(self, server: HealthServer) -> None:
        self.server = server

    def collect(self) -> Any:
        server = self.server
        tasks = CounterMetricFamily(
            "course_tasks_finished", "Tasks finished, by task and final state",
            labels=["task", "state"],
        )  # fmt: skip
        with server.lock:
            counts = sorted(server.finished.items())
        for (task, state), value in counts:
            tasks.add_metric([task, state], value)
        yield tasks
        queues = GaugeMetricFamily("course_queue_length", "Messages waiting", labels=["queue"])
        for name, length in queue_lengths(server.app, server.queues).items():
            queues.add_metric([name], length)
        yield queues
        workers = ping_workers(server.app, PING_SECONDS)
        yield GaugeMetricFamily(
            "course_workers_online", "Workers answering a ping", value=len(workers)
        )


_FINAL_STATES = {
    "task-succeeded": "SUCCESS",
    "task-failed": "FAILURE",
    "task-revoked": "REVOKED",
    "task-rejected": "REJECTED",
}


class HealthServer:
    """``/health`` and ``/metrics`` over HTTP, with an event thread counting finished tasks."""

    def __init__(self, app: Any, queues: list[str]) -> None:
        self.app = app
        self.queues = list(queues)
        self.lock = threading.Lock()
        self.finished: Counter[tuple[str, str]] = Counter()
        self._names: dict[str, str] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        self.events = eventwatch.EventThread(app, self._on_event, "course-health-events")
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name="course-health-http", daemon=True,
        )  # fmt: skip
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def _on_event(self, event: dict[str, Any]) -> None:
        uuid, kind = event.get("uuid"), event.get("type", "")
        if not uuid:
            return
        with self.lock:
            if event.get("name"):
                self._names[uuid] = event["name"]
            if kind in _FINAL_STATES:
                name = self._names.pop(uuid, "unknown")
                self.finished[(name, _FINAL_STATES[kind])] += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/health":
                    report = check(server.app)
                    status = 200 if report["status"] == "healthy" else 503
                    self._send(status, "application/json", json.dumps(report).encode())
                elif self.path == "/metrics":
                    body = generate_latest(server.registry)
                    self._send(200, "text/plain; version=0.0.4", body)
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # no lines in cells
                pass

        return Handler

    def start(self) -> HealthServer:
        self.events.start()
        self.events.ready.wait(READY_SECONDS)
        self.thread.start()
        return self

    def alive(self) -> bool:
        if self.thread.is_alive() or self.events.is_alive():
            return True
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        """Stop serving, stop the event thread, close the port. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        self.events.stop()


def start(app: Any = None, queues: list[str] | None = None) -> HealthServer:
    """Serve ``/health`` and ``/metrics`` on a free port; ``runtime.stop()`` stops it."""
    server = HealthServer(app or course_app, queues or ["celery"]).start()
    runtime.track(SERVICE, server.stop, server.alive)
    return server
