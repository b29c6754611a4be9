"""Celery beat for chapter 06: a real beat service in this process, and beat on a virtual clock.

:func:`start` runs Celery's own beat (:class:`celery.beat.Service` with the
:class:`~celery.beat.PersistentScheduler` that ``celery beat`` uses) in a thread of this
process, on an app of its own whose ``beat_schedule`` is the one given. It sends to the
course's broker in every mode: the in-memory broker of the embedded worker, or the real Redis
that the worker processes read in redis mode. One thread per beat, so two beats can run at
once (chapter 06 shows that they send every job twice). Each beat keeps its schedule file
(``celerybeat-schedule`` by default) in a directory of its own under ``$COURSE_HOME/beat``,
and is registered with :func:`course_tasks.runtime.track`, so that ``runtime.stop()`` and
interpreter exit stop it.

:func:`simulate` drives Celery's own :meth:`Scheduler.tick` on a virtual clock that starts at
a fixed "now" and jumps straight to the next due entry: a week of a schedule takes
milliseconds, its send times are exact, and the messages (if ``send=True``) are real ones
that the worker runs. Both use Celery's scheduling code unchanged; only the clock differs.
"""

from __future__ import annotations

import itertools
import logging
import math
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery import beat as celery_beat
from celery.schedules import crontab, schedule

from course_tasks import runtime, settings

#: How long beat may sleep between looks at its schedule (``beat_max_loop_interval``,
#: 300 s by default): short, so that sub-second schedules keep time and stop() is quick.
MAX_INTERVAL = 0.05
_counter = itertools.count(1)


def beat_app(schedule: Mapping[str, Any] | None = None, **conf: Any) -> Celery:
    """A separate app with the course's settings (broker, serializers, time zone).

    ``beat_schedule`` and any other setting given in ``conf`` are set on it only, so that
    the course app, and the chapters after this one, never see them.
    """
    app = Celery("course_tasks", set_as_current=False)
    app.config_from_object("course_tasks.celeryconfig")
    if schedule is not None:
        app.conf.beat_schedule = dict(schedule)
    for key, value in conf.items():
        app.conf[key] = value
    return app


def log_path() -> Path:
    """The file beat's log goes to (``celery.beat`` logger), never a notebook cell."""
    return settings.from_env().log_dir / "beat.log"


def _route_logs() -> None:
    logger = logging.getLogger("celery.beat")
    if any(getattr(h, "_course_beat", False) for h in logger.handlers):
        return
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler._course_beat = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("[%(asctime)s: %(levelname)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def schedule_dir() -> Path:
    """Where the beats of this process keep their schedule files."""
    return settings.from_env().home / "beat"


class Beat:
    """One beat service running in a thread of this process (see :func:`start`)."""

    def __init__(
        self,
        app: Celery,
        name: str,
        folder: Path,
        *,
        remote_control: bool = False,
        hostname: str | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        #: The schedule file (``beat_schedule_filename``, ``celerybeat-schedule`` by default).
        self.schedule_file = folder / Path(app.conf.beat_schedule_filename).name
        self.service = celery_beat.Service(
            app,
            max_interval=MAX_INTERVAL,
            schedule_filename=str(self.schedule_file),
            remote_control=remote_control,
            hostname=hostname,
        )
        self.thread = threading.Thread(target=self.service.start, name=f"Beat-{name}", daemon=True)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        """Stop the service (it saves its schedule file first); idempotent."""
        self.service.stop()
        if self.thread.ident is not None:
            self.thread.join(5)
        runtime.untrack(f"beat:{self.name}")

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"<Beat {self.name} {state}, {len(self.app.conf.beat_schedule)} entries>"


def start(
    schedule: Mapping[str, Any] | None = None,
    *,
    app: Celery | None = None,
    name: str | None = None,
    fresh: bool = True,
    remote_control: bool = False,
    hostname: str | None = None,
) -> Beat:
    """Start a beat that sends ``schedule`` (a ``beat_schedule`` dict) until :func:`stop`.

    ``app``: a separate app (see :func:`beat_app`) whose settings beat uses, for instance
    another ``timezone``; its ``beat_schedule`` is replaced by ``schedule`` when one is given.
    ``name`` picks the schedule file's folder: start a beat again under the same name with
    ``fresh=False`` and it reads the file the last one left (``fresh=True`` deletes it).
    ``remote_control=True`` (Celery 5.7, ``celery beat --enable-remote-control``) makes it
    answer ``ping`` on the node ``celerybeat@<hostname>`` (``hostname``: the host part or a
    whole ``name@host``, this machine's name by default); other beat settings, such as
    ``beat_remote_control_max_tick_age``, go on the ``app`` (:func:`beat_app`).
    """
    _route_logs()
    app = app if app is not None else beat_app()
    if schedule is not None:
        app.conf.beat_schedule = dict(schedule)
    name = name or f"beat{next(_counter)}"
    folder = schedule_dir() / name
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    running = Beat(app, name, folder, remote_control=remote_control, hostname=hostname)
    runtime.track(f"beat:{name}", running.stop, running.alive)
    running.thread.start()
    return running


# --------------------------------------------------------------------------- virtual clock


class _ClockApp(Celery):
    """An app whose ``now()`` reads a virtual clock: what every schedule asks for the time."""

    clock: datetime

    def now(self) -> datetime:
        return self.clock.astimezone(self.timezone)


@dataclass
class Simulation:
    """What :func:`simulate` saw: every send, in order, at its virtual time."""

    start: datetime
    until: datetime
    sends: list[tuple[datetime, str]] = field(default_factory=list)
    #: With ``send=True``: the id of each task really sent, in order (``app.AsyncResult(id)``).
    task_ids: list[str] = field(default_factory=list)
    #: True when ``limit`` sends were reached before ``until``.
    truncated: bool = False

    def times(self, entry: str) -> list[datetime]:
        return [when for when, name in self.sends if name == entry]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for _, name in self.sends:
            found[name] = found.get(name, 0) + 1
        return found


class _RecordingScheduler(celery_beat.Scheduler):
    """Celery's in-memory scheduler, with a clock that never drifts and a log of sends."""

    simulation: Simulation
    send = True

    def adjust(self, n: float, drift: float = 0.0) -> float:
        return n  # beat wakes 10 ms early to be on time; a virtual clock is always on time

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        self.simulation.sends.append((self.app.now(), entry.name))
        if self.send:
            super().apply_entry(entry, producer=producer)

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True,
                    **kwargs: Any) -> Any:  # fmt: skip
        result = super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        self.simulation.task_ids.append(result.id)
        return result


def copy_schedule(value: Any) -> Any:
    """A fresh copy of a schedule (a crontab caches its app's time zone on first use)."""
    if isinstance(value, crontab):
        cls, args, kwargs = value.__reduce__()
        return cls(*args, **kwargs)
    if isinstance(value, schedule):
        return schedule(value.run_every, value.relative)
    return value


def simulate(
    beat_schedule: Mapping[str, Mapping[str, Any]],
    start: datetime,
    until: datetime | timedelta,
    *,
    timezone: str | None = None,
    send: bool = False,
    limit: int = 100_000,
) -> Simulation:
    """Run Celery's scheduler over ``beat_schedule`` from ``start`` to ``until``, virtually.

    Every entry is scheduled by Celery's :class:`~celery.beat.Scheduler` exactly as beat
    would, with the app's ``timezone`` (the course's, or ``timezone``) and a clock that
    starts at ``start`` (an aware datetime) and jumps to each next due time. With ``send``
    the due tasks are really sent to the course's broker (their ids in ``task_ids``); stops
    after ``limit`` sends.
    """
    _route_logs()
    until = start + until if isinstance(until, timedelta) else until
    entries = {
        name: {**entry, "schedule": copy_schedule(entry.get("schedule"))}
        for name, entry in beat_schedule.items()
    }
    app = _ClockApp("course_tasks", set_as_current=False)
    app.config_from_object("course_tasks.celeryconfig")
    if timezone is not None:
        app.conf.timezone = timezone
    app.conf.beat_schedule = entries
    app.clock = start
    result = Simulation(start, until)
    scheduler = _RecordingScheduler.__new__(_RecordingScheduler)
    scheduler.simulation = result
    scheduler.send = send
    scheduler.__init__(app, max_interval=24 * 3600)  # type: ignore[misc]
    try:
        while app.clock < until:
            if len(result.sends) >= limit:
                result.truncated = True
                break
            wait = scheduler.tick()
            if wait > 0:  # jump to the next due time, to the microsecond, never backwards
                app.clock += timedelta(microseconds=max(1, math.ceil(wait * 1e6)))
    finally:
        scheduler.close()
    result.sends = [(when, name) for when, name in result.sends if when < until]
    return result
