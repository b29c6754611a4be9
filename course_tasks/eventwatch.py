"""Celery events, captured in a thread and drawn as a timeline (chapter 09, monitoring).

A worker with task events on (``worker_send_task_events``, ``celery worker -E`` or
``app.control.enable_events()``) publishes ``task-received``, ``task-started``,
``task-succeeded``/``task-failed``... on the ``celeryev`` exchange; a producer with
``task_send_sent_event`` publishes ``task-sent``. Anybody may listen with a
:class:`celery.events.EventReceiver`: it binds a queue of its own to the exchange, and only
events published *after* that queue is bound reach it (on Redis the exchange is a fanout
over PUBLISH/SUBSCRIBE, see ``celery.events.event.get_exchange``).

* :class:`EventThread` runs an ``EventReceiver`` in a thread until :meth:`~EventThread.stop`;
  its ``ready`` flag is set once the queue is bound. Flower (:mod:`course_tasks.dashboard`)
  and the health server (:mod:`course_tasks.healthcheck`) use it.
* :func:`timeline` prints one task's events with their offsets from ``task-sent`` and, in a
  kernel, draws them as coloured chips (the colours of :mod:`course_tasks.widgets`).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from celery.events import EventReceiver

#: How often (s) a receiver with nothing to read looks at its stop flag.
POLL_SECONDS = 0.25
#: The events after which a task does nothing more.
FINAL_EVENTS = ("task-succeeded", "task-failed", "task-revoked", "task-rejected")

logger = logging.getLogger("course_tasks.eventwatch")


def receive(
    app: Any,
    handler: Callable[[dict[str, Any]], None],
    halt: threading.Event,
    ready: threading.Event | None = None,
) -> None:
    """Call ``handler(event)`` for every event until ``halt`` is set; set ``ready`` once listening.

    Reconnects after a lost connection (as Flower's own loop does).
    """

    class Receiver(EventReceiver):
        iterations = 0

        def on_iteration(self) -> None:
            # Called before each wait for events. On Redis the subscription to the event
            # channel is only made during the first wait, so the receiver counts as ready
            # once that first wait is over (an event came, or POLL_SECONDS passed).
            if halt.is_set():
                self.should_stop = True
            self.iterations += 1
            if self.iterations >= 2 and ready is not None:
                ready.set()

    while not halt.is_set():
        try:
            with app.connection() as conn:
                receiver = Receiver(conn, handlers={"*": handler}, app=app)
                for _ in receiver.consume(
                    limit=None, timeout=None, safety_interval=POLL_SECONDS, wakeup=True
                ):
                    pass
        except Exception as exc:  # a lost connection: try again unless stopping
            logger.warning("capturing events failed: %r", exc)
            if halt.wait(0.5):
                break


class EventThread(threading.Thread):
    """An :class:`~celery.events.EventReceiver` in a daemon thread; ``handler`` gets each event."""

    def __init__(self, app: Any, handler: Callable[[dict[str, Any]], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.app = app
        self.handler = handler
        self.halt = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        receive(self.app, self.handler, self.halt, self.ready)

    def stop(self, timeout: float = 5.0) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(timeout)


#: A task's life, in order: ``task-sent`` is published by the producer *after* the message,
#: so a fast worker may stamp ``task-received`` a hair earlier; the timeline keeps this order.
LIFE = ("task-sent", "task-received", "task-started", "task-retried", *FINAL_EVENTS)


def of_task(events: Iterable[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    """The events about ``task_id``, in the order of a task's life, then by timestamp."""
    mine = [e for e in events if e.get("uuid") == task_id]
    rank = {kind: i for i, kind in enumerate(LIFE)}
    return sorted(mine, key=lambda e: (rank.get(e["type"], len(LIFE)), e.get("timestamp", 0.0)))


def rows(events: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """``(seconds after the first event, type)`` for each event of one task (never negative)."""
    if not events:
        return []
    start = events[0].get("timestamp", 0.0)
    return [(max(e.get("timestamp", start) - start, 0.0), e["type"]) for e in events]


_COLOURS = {
    "task-sent": "PENDING",
    "task-received": "PENDING",
    "task-started": "STARTED",
    "task-succeeded": "SUCCESS",
    "task-failed": "FAILURE",
    "task-retried": "RETRY",
    "task-revoked": "REVOKED",
}


def _html(table: list[tuple[float, str]]) -> str:
    from course_tasks.widgets import COLOURS

    chips = []
    for offset, kind in table:
        colour = COLOURS.get(_COLOURS.get(kind, ""), "#757575")
        chips.append(
            f'<span style="display:inline-block;margin:2px 0;padding:2px 8px;'
            f'border-radius:10px;background:{colour};color:white;font-family:monospace">'
            f"{html.escape(kind)}</span>"
            f'<span style="color:#757575;font-size:85%"> +{offset:.3f} s</span>'
        )
    return '<div style="line-height:2">' + " → ".join(chips) + "</div>"


class _Chips:
    """An HTML timeline whose ``text/plain`` form is fixed (the offsets vary per run)."""

    def __init__(self, table: list[tuple[float, str]]) -> None:
        self.table = table

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": "[event timeline]", "text/html": _html(self.table)}


def timeline(events: list[dict[str, Any]]) -> None:
    """Print one task's events (``+0.012 s  task-started``) and draw them in a kernel."""
    table = rows(events)
    try:
        from IPython import get_ipython

        in_kernel = getattr(get_ipython(), "kernel", None) is not None
    except ImportError:
        in_kernel = False
    if in_kernel:
        from IPython.display import display

        display(_Chips(table))
    for offset, kind in table:
        print(f"+{offset:.3f} s  {kind}")
