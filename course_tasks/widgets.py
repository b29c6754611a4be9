"""Widgets that watch a task: a live progress bar and a timeline of its states.

Chapter 05 (states and results)::

    from course_tasks import widgets

    widgets.progress(export_users_csv.delay(42), timeout=10)   # a bar driven by PROGRESS
    widgets.timeline(export_users_csv.delay(42), timeout=10)   # every state, with offsets

Both follow one ``AsyncResult`` with Celery's own ``AsyncResult.get(on_message=...)``: the
Redis result backend publishes every state a worker stores on the channel
``celery-task-meta-<id>``, and a producer subscribes to that channel *before* it sends the
task, so nothing is missed for a task this kernel has just sent: STARTED, each PROGRESS,
RETRY, and the final SUCCESS, FAILURE or REVOKED. (Watch a task right after sending it: a
``get()`` on another result in between may consume its messages.) Waiting is bounded by
``timeout``; the task itself is not touched, so the worker does exactly the same thing as
without a widget, in every mode.

In a notebook each function shows one output, whose bundle holds three renderings of
the same picture:

* ``application/vnd.jupyter.widget-view+json``: an ipywidgets ``HTML`` widget that moves
  while the task runs (JupyterLab with a kernel);
* ``text/html``: the final picture as static HTML, drawn by the same function as the
  widget's last frame, so GitHub, nbviewer and a notebook that has not been run yet show
  it without a kernel;
* ``text/plain``: the same facts as text (``+0.21 s  STARTED``, ``PROGRESS 1/5 … 5/5``),
  identical on every run once durations are sanitized.

While the task runs, the moving widget sits in an output of its own; when the task is
ready, that output is emptied (``update_display``) and the final bundle is displayed, its
widget view showing the same widget. A front end draws one picture, and nbval, which
compares ``text/plain`` and ``text/html`` of ``display_data`` and ignores both
``update_display_data`` and the widget view (its ``model_id`` changes every run), compares
the final picture and its text. Outside a kernel the text is printed.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import states
from celery.exceptions import TimeoutError as CeleryTimeoutError

#: Background colours of the states in the timeline (unknown custom states are grey).
COLOURS = {
    states.PENDING: "#9e9e9e",
    states.STARTED: "#1e88e5",
    "PROGRESS": "#3949ab",
    states.RETRY: "#fb8c00",
    states.SUCCESS: "#43a047",
    states.FAILURE: "#e53935",
    states.REVOKED: "#6d4c41",
}


@dataclass(frozen=True)
class Event:
    """One state of a task, as the notebook learned it ``offset`` seconds after watching."""

    offset: float
    state: str
    info: Any = None

    @property
    def progress(self) -> tuple[int, int] | None:
        """``(current, total)`` for a PROGRESS state whose meta has both, else ``None``."""
        info = self.info
        if isinstance(info, dict) and "current" in info and "total" in info:
            try:
                return int(info["current"]), int(info["total"])
            except (TypeError, ValueError):
                return None
        return None

    def label(self) -> str:
        """``PROGRESS 2/5``, ``RETRY (UploadUnavailable)``, ``SUCCESS``..."""
        if self.progress is not None:
            current, total = self.progress
            return f"{self.state} {current}/{total}"
        if self.state in (states.RETRY, states.FAILURE) and isinstance(self.info, BaseException):
            return f"{self.state} ({type(self.info).__name__})"
        return self.state


@dataclass
class Watch:
    """What :func:`follow` saw: the events in order, and whether the wait timed out."""

    events: list[Event]
    timed_out: bool
    timeout: float

    @property
    def final(self) -> str:
        return self.events[-1].state if self.events else states.PENDING

    def compact(self) -> list[tuple[float, str]]:
        """The events with each run of PROGRESS updates folded into one ``a … b`` entry.

        A run ends at any other state, or when the total changes or the count goes back.
        """
        rows: list[tuple[float, str]] = []
        run: list[Event] = []

        def flush() -> None:
            if run:
                first, last = run[0], run[-1]
                text = first.label()
                if len(run) > 1:
                    text += " … " + last.label().removeprefix(f"{last.state} ")
                rows.append((first.offset, text))
                run.clear()

        for event in self.events:
            if event.progress is not None:
                last = run[-1].progress if run else None
                if last is not None and (
                    event.progress[1] != last[1] or event.progress[0] < last[0]
                ):
                    flush()  # another total, or counting again from the start
                run.append(event)
                continue
            flush()
            rows.append((event.offset, event.label()))
        flush()
        if self.timed_out:
            rows.append((self.timeout, f"still {self.final} when the {self.timeout:g} s ran out"))
        return rows

    def summary(self) -> str:
        """One line: ``PENDING → STARTED → PROGRESS 1/5 … 5/5 → SUCCESS``."""
        return " → ".join(text for _, text in self.compact())


def follow(
    result: Any, timeout: float = 30.0, on_event: Callable[[Event], None] | None = None
) -> Watch:
    """Wait (at most ``timeout`` s) for ``result`` to be ready, recording each state.

    The first event is PENDING for a task this process sent (the backend has been
    listening since the send), otherwise the state stored when the watch began.
    ``on_event`` is called with every new :class:`Event` as it arrives. Never raises for
    the task's own failure or for the timeout: :attr:`Watch.timed_out` says.
    """
    started = time.monotonic()
    events: list[Event] = []

    def record(state: str, info: Any) -> None:
        event = Event(round(time.monotonic() - started, 3), state, info)
        if events and _same(events[-1], event):
            return  # the same state stored twice (a revoke, say): one event
        events.append(event)
        if on_event is not None:
            on_event(event)

    def on_message(meta: dict[str, Any]) -> None:
        if meta.get("task_id") == result.id:
            record(meta["status"], meta.get("result"))

    if _listening_since_send(result):
        record(states.PENDING, None)
        _drain_buffered(result, on_message)
    else:
        record(result.state, result.info)

    timed_out = False
    try:
        result.get(timeout=timeout, propagate=False, on_message=on_message)
    except CeleryTimeoutError:
        timed_out = True
    if not timed_out and events[-1].state != result.state:
        record(result.state, result.info)  # finished before the watch could see the steps
    return Watch(events, timed_out, timeout)


def _same(a: Event, b: Event) -> bool:
    """Whether two events say the same thing (exceptions compare by class and text)."""

    def key(info: Any) -> Any:
        if isinstance(info, BaseException):
            return (type(info), str(info))
        return info

    return a.state == b.state and key(a.info) == key(b.info)


def _listening_since_send(result: Any) -> bool:
    """Whether the backend subscribed to ``result``'s state channel when it was sent."""
    consumer = getattr(result.backend, "result_consumer", None)
    key_for = getattr(consumer, "_get_key_for_task", None)
    if consumer is None or key_for is None or getattr(result, "_cache", None):
        return False
    return key_for(result.id) in getattr(consumer, "subscribed_to", ())


def _drain_buffered(result: Any, on_message: Callable[[dict[str, Any]], None]) -> None:
    """Hand ``on_message`` the state messages already waiting for this process.

    ``get()`` first reads the stored state, and returns at once if the task has already
    finished, without delivering the messages received since the send. Reading those
    first keeps the steps of a quick task (or of one watched a little late).
    """
    consumer = result.backend.result_consumer

    def waiting() -> bool:  # data on the pub/sub connection (messages, subscribe replies)
        connection = getattr(getattr(consumer, "_pubsub", None), "connection", None)
        try:
            return connection is not None and bool(connection.can_read(timeout=0))
        except Exception:  # closed or reconnecting: get() will deal with it
            return False

    previous, consumer.on_message = consumer.on_message, on_message
    try:
        for _ in range(10_000):  # a bound, far above any task's number of states
            if not waiting():
                return
            consumer.drain_events(timeout=0)
    finally:
        consumer.on_message = previous


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _Picture:
    """One task's picture in a notebook: a live widget while it runs, then the final bundle.

    ``None`` outside a kernel, where the functions print their text instead.
    """

    def __init__(self, kind: str) -> None:
        import ipywidgets
        from IPython.display import display

        self.widget = ipywidgets.HTML(value=f'<div class="course-{kind}"></div>')
        self._view = self.widget._repr_mimebundle_()[WIDGET_VIEW]
        self._live = display({WIDGET_VIEW: self._view}, raw=True, display_id=True)

    @classmethod
    def open(cls, kind: str) -> _Picture | None:
        return cls(kind) if _in_kernel() else None

    def draw(self, html_text: str) -> None:
        """Show ``html_text`` in the live widget."""
        self.widget.value = html_text

    def finish(self, html_text: str, text: str) -> None:
        """Empty the live output and show the final picture, as HTML and as text, once."""
        from IPython.display import display

        self.widget.value = html_text
        self._live.update({}, raw=True)
        display({WIDGET_VIEW: self._view, "text/html": html_text, "text/plain": text}, raw=True)


def _finish(picture: _Picture | None, html_text: str, text: str) -> None:
    if picture is None:
        print(text)
    else:
        picture.finish(html_text, text)


def _task_name(result: Any, description: str | None) -> str:
    """``description``, else the task's short name once the backend has it (result_extended)."""
    if description:
        return description
    try:
        name = result.name
    except Exception:  # a backend without extended results
        name = None
    return str(name).rsplit(".", 1)[-1] if name else "task"


def progress(result: Any, timeout: float = 30.0, description: str | None = None) -> None:
    """Show a progress bar for ``result``, moved by its PROGRESS meta, until it is ready.

    The bar follows ``{"current": i, "total": n}`` (guide 000 §5); its colour turns green
    on SUCCESS and red on FAILURE or REVOKED. Waits at most ``timeout`` seconds; the bar
    then carries one stable line such as ``export_users_csv: 5 PROGRESS updates (1/5 …
    5/5), then SUCCESS``, which is also its text (printed outside a notebook).
    """
    picture = _Picture.open("progress")
    on_event: Callable[[Event], None] | None = None
    if picture is not None:
        drawn = picture
        last: list[tuple[int, int] | None] = [None]

        def on_event(event: Event) -> None:
            if event.progress is not None:
                last[0] = current, total = event.progress
                percent = round(100 * current / total) if total else 100
                drawn.draw(_progress_html(last[0], "PROGRESS", f"{current}/{total} ({percent}%)"))
            else:
                drawn.draw(_progress_html(last[0], event.state, event.label()))

    watch = follow(result, timeout, on_event)
    name = _task_name(result, description)
    updates = [e.progress for e in watch.events if e.progress is not None]
    if updates:
        first, last_seen = updates[0], updates[-1]
        seen = f"{len(updates)} PROGRESS update{'s' if len(updates) != 1 else ''}"
        span = f"{first[0]}/{first[1]}"
        if len(updates) > 1:
            span += f" … {last_seen[0]}/{last_seen[1]}"
        line = f"{name}: {seen} ({span})"
    else:
        line = f"{name}: no PROGRESS update"
    if watch.timed_out:
        line += f", still {watch.final} when the {timeout:g} s ran out"
    else:
        line += f", then {watch.events[-1].label()}"
    state = watch.final if not watch.timed_out else "PROGRESS"
    _finish(picture, _progress_html(updates[-1] if updates else None, state, line), line)


def _progress_html(done: tuple[int, int] | None, state: str, text: str) -> str:
    """A bar filled to ``done`` (full on SUCCESS), coloured by ``state``, then ``text``."""
    if state == states.SUCCESS:
        percent = 100
    elif done is None:
        percent = 0
    else:
        current, total = done
        percent = round(100 * min(max(current, 0), total) / total) if total > 0 else 100
    colour = COLOURS.get(state, COLOURS["PROGRESS"])
    return (
        '<div class="course-progress" style="display:flex;align-items:center;'
        'font-family:monospace">'
        '<div style="flex:none;width:240px;height:14px;border-radius:7px;'
        'background-color:#e0e0e0;overflow:hidden">'
        f'<div style="width:{percent}%;height:100%;background-color:{colour}"></div></div>'
        f'<span style="margin-left:10px">{html.escape(text)}</span></div>'
    )


def timeline(result: Any, timeout: float = 30.0, *, offsets: bool = True) -> None:
    """Show every state ``result`` goes through until it is ready, with time offsets.

    Offsets count from the call (``+0.00 s`` is "sent, waiting"); runs of PROGRESS
    updates are folded into ``PROGRESS 1/5 … 5/5``. Waits at most ``timeout`` seconds.
    The states are drawn as coloured chips; the text (printed outside a notebook) is one
    line per state (``+0.21 s  STARTED``), or with ``offsets=False`` a single line
    ``PENDING → STARTED → ... → SUCCESS``.
    """
    picture = _Picture.open("timeline")
    on_event: Callable[[Event], None] | None = None
    if picture is not None:
        drawn = picture
        seen: list[Event] = []

        def on_event(event: Event) -> None:
            seen.append(event)
            drawn.draw(_timeline_html(Watch(list(seen), False, timeout), offsets))

    watch = follow(result, timeout, on_event)
    if offsets:
        text = "\n".join(f"+{offset:.2f} s  {label}" for offset, label in watch.compact())
    else:
        text = watch.summary()
    _finish(picture, _timeline_html(watch, offsets), text)


def _timeline_html(watch: Watch, offsets: bool = True) -> str:
    chips = []
    for offset, text in watch.compact():
        state = text.split(" ", 1)[0]
        colour = COLOURS.get(state, "#757575")
        chip = (
            '<span style="display:inline-block;margin:2px 0;padding:2px 8px;'
            f'border-radius:10px;background-color:{colour};color:white;font-family:monospace">'
            f"{html.escape(text)}</span>"
        )
        if offsets:
            chip += f'<span style="color:#757575;font-size:85%"> +{offset:.2f} s</span>'
        chips.append(chip)
    return '<div class="course-timeline" style="line-height:2">' + " → ".join(chips) + "</div>"


# --------------------------------------------------------------------------- canvas graph


@dataclass
class Step:
    """One task of a canvas: its short name, its result handle and the states seen."""

    name: str
    result: Any
    seen: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.seen[-1] if self.seen else states.PENDING

    def label(self) -> str:
        """``add: SUCCESS``, ``xsum: FAILURE (ChordError)``."""
        text = f"{self.name}: {self.state}"
        if self.state in (states.FAILURE, states.RETRY):
            error = self.result.result
            if isinstance(error, BaseException):
                text += f" ({type(error).__name__})"
        return text


def stages(result: Any, signature: Any = None) -> list[list[Step]]:
    """The steps of a canvas's result, in the order they run: one list per stage.

    A chain gives one stage per task, a group one stage of parallel tasks, a chord its
    header's stage then its callback. ``result`` is what ``apply_async()`` returned; the
    names come from ``signature`` (the canvas that was sent) or, without it, from the
    backend (``result_extended``), ``?`` for a task that has not started.
    """
    handles: list[list[Any]] = []
    node = result
    while node is not None:
        children = getattr(node, "results", None)
        handles.insert(0, list(children) if children is not None else [node])
        node = getattr(node, "parent", None)
    names = _signature_names(signature) if signature is not None else []
    if [len(stage) for stage in names] != [len(stage) for stage in handles]:
        names = [[_short_name(r) for r in stage] for stage in handles]
    return [
        [Step(name, handle) for name, handle in zip(stage_names, stage, strict=True)]
        for stage_names, stage in zip(names, handles, strict=True)
    ]


def _signature_names(signature: Any) -> list[list[str]]:
    from celery.canvas import _chain, chord, group

    if isinstance(signature, _chain):
        return [stage for task in signature.tasks for stage in _signature_names(task)]
    if isinstance(signature, chord):
        header = [_signature_names(task)[-1][-1] for task in signature.tasks]
        return [header, *_signature_names(signature.body)]
    if isinstance(signature, group):
        return [[_signature_names(task)[-1][-1] for task in signature.tasks]]
    return [[str(signature.task).rsplit(".", 1)[-1]]]


def _short_name(result: Any) -> str:
    try:
        name = result.name
    except Exception:  # a backend without extended results
        name = None
    return str(name).rsplit(".", 1)[-1] if name else "?"


def watch_canvas(
    result: Any,
    signature: Any = None,
    timeout: float = 10.0,
    on_change: Callable[[list[list[Step]]], None] | None = None,
    interval: float = 0.02,
) -> tuple[list[list[Step]], bool]:
    """Poll every step's state until all are ready or ``timeout`` passes.

    Returns the stages (each step with the states seen, in order) and whether the wait
    timed out. ``on_change`` is called with the stages whenever a state changes. Only
    reads the backend: the tasks run exactly as without a watcher.
    """
    graph = stages(result, signature)
    steps = [step for stage in graph for step in stage]
    deadline = time.monotonic() + timeout
    while True:
        changed = False
        for step in steps:
            state = step.result.state
            if state != step.state or not step.seen:
                step.seen.append(state)
                changed = True
        if changed and on_change is not None:
            on_change(graph)
        if all(step.state in states.READY_STATES for step in steps):
            return graph, False
        if time.monotonic() >= deadline:
            return graph, True
        time.sleep(interval)


def canvas_text(graph: list[list[Step]]) -> str:
    """The final picture as text: one line per stage, parallel steps in brackets."""
    lines = []
    for number, stage in enumerate(graph, start=1):
        if len(stage) == 1:
            lines.append(f"{number}. {stage[0].label()}")
        else:
            lines.append(f"{number}. [{' | '.join(step.label() for step in stage)}]")
    return "\n".join(lines)


def canvas(result: Any, signature: Any = None, timeout: float = 10.0) -> None:
    """Draw a chain, group or chord as a graph of its steps, coloured by state as it runs.

    Waits at most ``timeout`` seconds for every step to be ready. The text of the final
    picture (printed outside a notebook) is one line per stage (``1. add: SUCCESS`` /
    ``2. [add: SUCCESS | add: FAILURE (TypeError)]``), the same on every run. Pass the
    canvas that was sent as ``signature`` for the names of steps that never ran.
    """
    picture = _Picture.open("canvas")
    on_change: Callable[[list[list[Step]]], None] | None = None
    if picture is not None:
        drawn = picture

        def on_change(graph: list[list[Step]]) -> None:
            drawn.draw(_canvas_html(graph))

    graph, timed_out = watch_canvas(result, signature, timeout, on_change)
    text = canvas_text(graph)
    note = f"(still running when the {timeout:g} s ran out)" if timed_out else ""
    _finish(picture, _canvas_html(graph, note), f"{text}\n{note}" if note else text)


def _canvas_html(graph: list[list[Step]], note: str = "") -> str:
    columns = []
    for stage in graph:
        boxes = "".join(
            f'<div style="margin:3px 0;padding:3px 10px;border-radius:6px;'
            f"background-color:{COLOURS.get(step.state, '#757575')};color:white;"
            f'font-family:monospace">{html.escape(step.label())}</div>'
            for step in stage
        )
        columns.append(f'<div style="display:flex;flex-direction:column">{boxes}</div>')
    arrow = '<div style="align-self:center;padding:0 6px;color:#757575">&#10140;</div>'
    picture = '<div style="display:flex;align-items:center">' + arrow.join(columns) + "</div>"
    if note:
        picture += f'<div style="color:#757575">{html.escape(note)}</div>'
    return f'<div class="course-canvas">{picture}</div>'


__all__ = ["Event", "Step", "Watch", "canvas", "follow", "progress", "stages", "timeline"]
