"""Checks of chapter 06's exercises (``solutions/06_periodic_tasks_solutions.ipynb``).

Every check runs the learner's schedule through Celery's own scheduler
(:func:`course_tasks.beat.simulate`: ``Scheduler.tick`` on a virtual clock from a fixed
"now", under the time zone the exercise names) and compares the send times exactly, over
more than one stretch of the calendar: a schedule that is right on the first day only
(``day_of_week=1``, ``day_of_month=1``, ``month_of_year=6``, ``hour=0``) is wrong on the
others. A schedule with its own ``nowfun=`` (another clock than beat's, given or set on it
since) is refused before that, and a crontab that cached a time zone when it was tried out
(``BaseSchedule.tz`` is a cached property, which beat's ``maybe_schedule`` leaves) runs in
that zone, as it would in a beat (adversary round 6). Then it sends real messages, through
Celery's scheduler with each entry's ``args``, ``kwargs`` and ``options``, and reads back
what the worker did with each one: guide 004's jobs by their own record in
``periodic.runs()`` (so an ``ignore_result`` changes nothing), another task by its result:
run, failed (a ``TypeError`` from positional arguments), or never taken (a queue no worker
reads, a serializer the worker refuses). An ``expires`` shorter than the 15 s the check
gives the worker, or a fixed moment, is refused before sending, and so is a ``task_id``
(every run would share it). An answer is a value handed in, and the course app (the
worker's and every check's) stays as ``course_tasks.celeryconfig`` sets it: a check fails an
answer cell that changed it, as guide 004 does to a project's app (its ``timezone`` for 06.1,
the answer's entries in its ``beat_schedule`` for 06.1, 06.2 and 06.4; adversary round 7),
since the file's values are read afresh to compare. Each check:

* 06.1 ``check("06.1", desk_opens)``: a crontab for workdays at 07:30 in Asia/Shanghai; two
  weeks from Monday 1 June 2026 and then a whole year are scheduled, the two weeks sent; its
  fields must hold the local time and a zone it keeps must be Asia/Shanghai (a hand
  conversion to UTC kept in UTC, or another city of the same offset, fires right under the
  check's beat; adversary round 8);
* 06.2 ``check("06.2", jobs)``: guide 004's table as a ``beat_schedule`` (every 30 s, every
  minute, every 10 minutes, daily at 02:00); twelve days (every weekday, every month) are
  scheduled, runs counted per entry and per task (an extra entry may not send one of the
  four jobs again), and every entry is sent once and run by the worker; then an entry
  beyond the four fails, since nothing says when it should run (adversary round 5); an
  entry holding ``last_run_at``, or options that turn publish retries off or give a
  ``shadow`` name, fails too (06.4 as well; adversary round 8);
* 06.3 ``check("06.3", unknown_tasks)``: ``unknown_tasks(schedule)`` names the entries whose
  task no worker knows (typos, a module path instead of an explicit ``name=``, another case,
  a space around the name, a function's name, the end of a name, an empty name) and no
  other (Celery's own ``celery.backend_cleanup`` included), reports both entries of a typo two
  entries share, takes no name as a pattern (``.``, ``*``), sees a task registered between two
  calls, sends nothing and asks no worker (``app.control``), answers with entries of the
  schedule it is given only (none kept from an earlier call, as a default ``found=[]`` does),
  and leaves the schedule it is given as it was: the same entries (the same dicts, not
  copies, holding what they held) in the same order, each schedule object untouched (no
  ``nowfun`` set, no time zone cached by trying a crontab out: ``crontab.__eq__`` does not
  see them, beat does), and the course app's settings and ``beat_schedule`` too (a change
  made in place to ``celeryconfig``'s own dict is put back; adversary round 7); it looks
  ``celery.*`` names up too, reports an entry whose ``task`` is a Task object, reports no
  entry for another slip than its name, and reads ``app``'s registry while another app is
  ``current_app`` (adversary round 8);
* 06.4 ``check("06.4", vip_entry)``: guide 004 §7's new job, by its explicit name, every
  5 minutes with ``kwargs``; the same twelve days are scheduled, one run sent and the
  arguments the worker got read back.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from numbers import Real
from typing import Any
from zoneinfo import ZoneInfo

from celery import beat as celery_beat
from celery.app.control import Control
from celery.result import AsyncResult
from celery.schedules import BaseSchedule, crontab, schedule
from celery.signals import before_task_publish
from celery.utils import uuid

from course_tasks import beat
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_watched,
    delete_queue,
    error_text,
    is_stub_body,
    kind,
    need_function,
)
from course_tasks.store import store
from course_tasks.tasks import periodic

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
#: The fixed "now" every check starts from: Monday 1 June 2026, midnight.
MONDAY = datetime(2026, 6, 1)
#: The days every schedule of 06.2 and 06.4 is run over, each from its midnight to the next
#: one included: the first is the day the exercise text names; the others cover every
#: weekday, every month, early and late days of the month (the 29th, 30th, 31st, a 29
#: February), and two more years.
DAYS = [
    date(2026, 6, 1),  # Mon
    date(2026, 7, 18),  # Sat
    date(2026, 8, 28),  # Fri
    date(2026, 9, 9),  # Wed
    date(2026, 10, 25),  # Sun
    date(2026, 11, 30),  # Mon
    date(2026, 12, 31),  # Thu
    date(2027, 1, 12),  # Tue
    date(2027, 3, 21),  # Sun
    date(2027, 4, 7),  # Wed
    date(2027, 5, 29),  # Sat
    date(2028, 2, 29),  # Tue
]
#: One day from midnight: the runs after midnight up to the next midnight, included.
DAY = timedelta(days=1, seconds=1)
#: How long the worker may take to run what the check sent (a ceiling for a busy machine).
WAIT_SECONDS = 15.0
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
#: Every value of each crontab field: what a field left out means.
FIELDS = {
    "minute": set(range(60)),
    "hour": set(range(24)),
    "day_of_month": set(range(1, 32)),
    "month_of_year": set(range(1, 13)),
    "day_of_week": set(range(7)),
}


# --------------------------------------------------------------------------- words


def _clock(when: datetime) -> str:
    """``02:00``, or ``00:00:30`` when the seconds matter."""
    return when.strftime("%H:%M:%S" if when.second else "%H:%M")


def _day(when: datetime | date) -> str:
    """``Sat 18 Jul 2026``."""
    return f"{when:%a} {when.day} {when:%b %Y}"


def _at(when: datetime) -> str:
    """``Sat 18 Jul 2026 02:00``."""
    return f"{_day(when)} {_clock(when)}"


def _spell(value: Any) -> str:
    """A crontab field as the learner wrote it: ``"1-5"``, ``1``, ``'*/5'``."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _span(values: list[int], names: list[str]) -> str:
    """``Tuesday to Saturday``, ``Monday only``, ``Sunday, Tuesday and Friday``."""
    if len(values) == 1:
        return f"{names[values[0]]} only"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{names[values[0]]} to {names[values[-1]]}"
    return ", ".join(names[v] for v in values[:-1]) + f" and {names[values[-1]]}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"the {n}{suffix}"


def _keeps_to(field: str, values: set[int]) -> str:
    """What a restricted calendar field leaves: ``Monday only``, ``the 1st to the 14th ...``."""
    ordered = sorted(values)
    if field == "day_of_week":
        return _span(ordered, WEEKDAYS)
    if field == "month_of_year":
        return _span(ordered, MONTHS)
    days = [_ordinal(n) for n in range(32)]
    if len(ordered) > 6 and ordered != list(range(ordered[0], ordered[-1] + 1)):
        return f"{len(ordered)} days of the month"
    return _span(ordered, days).replace(" only", "") + " of the month only"


def _wrong_field(sched: Any, want: Mapping[str, set[int]]) -> tuple[str, Any, set[int]] | None:
    """The first field of a crontab that differs from ``want`` (a field not named: every
    value): its name, the learner's spelling and the values it holds."""
    if not isinstance(sched, crontab):
        return None
    for field, every in FIELDS.items():
        values = set(getattr(sched, field))
        if values != want.get(field, every):
            return field, getattr(sched, f"_orig_{field}"), values
    return None


def _calendar_hint(sched: Any, want: Mapping[str, set[int]], every_day: str) -> str | None:
    """A hint for a crontab whose day of week, day of month or month is wrong, or None."""
    wrong = _wrong_field(sched, want)
    if wrong is None or wrong[0] in ("minute", "hour"):
        return None
    field, spelled, values = wrong
    if field == "day_of_week" and field in want:
        return (
            f"day_of_week={_spell(spelled)} is {_keeps_to(field, values)}: in crontab 0 is "
            'Sunday, 1 Monday, ..., 6 Saturday, so Monday to Friday is "1-5"'
        )
    if field == "day_of_month" and "day_of_week" in want:
        return (
            f"day_of_month={_spell(spelled)} picks days of the month (1-31), not weekdays: "
            'leave it out; day_of_week="1-5" alone picks Monday to Friday of every month'
        )
    return f"{field}={_spell(spelled)} keeps it to {_keeps_to(field, values)}: {every_day}"


def _difference(times: list[datetime], expected: list[datetime], tz: ZoneInfo) -> str:
    """``no run at ...`` and/or ``an extra run at ...``: the first of each, and how many."""
    got, want = set(times), set(expected)
    missing = [t for t in expected if t not in got]
    extra = [t for t in times if t not in want]
    parts = []
    if missing:
        more = f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""
        parts.append(f"no run at {_at(missing[0].astimezone(tz))}{more}")
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        parts.append(f"a run at {_at(extra[0].astimezone(tz))}{more} that should not be")
    return "; ".join(parts)


def _need_schedule(value: Any, what: str) -> BaseSchedule:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return schedule(value)
    if isinstance(value, timedelta):
        return schedule(value)
    if not isinstance(value, BaseSchedule):
        raise Fail(
            f"{what} is {kind(value)}, not a schedule",
            hint="use crontab(...) from celery.schedules, or a number of seconds",
        )
    if getattr(value, "nowfun", None) is not None:
        raise Fail(
            f"{what} reads the time from its own nowfun= (given to it, or set on it since, as "
            "a helper that tries a schedule out may do), not from beat's clock, so on the "
            "check's clock (from Mon 1 Jun 2026) it never comes due when it should",
            hint="leave nowfun out: beat asks the app for the time (in app.conf.timezone); "
            "a nowfun replaces that clock for this schedule (a fixed one never moves), which is "
            "for trying a schedule out, as section 1 does, not for beat; a schedule a helper "
            "set .nowfun on keeps it: build it again, and try out copies (copy.copy(sched), as "
            "section 1's next_runs does)",
        )
    return _as_handed_in(value)


class _Pinned(crontab):
    """A copy of a learner's crontab that keeps the time zone the learner's object cached.

    ``BaseSchedule.tz`` is a cached property: the first ``remaining_estimate``/``is_due``
    reads the zone of the app the crontab then has, and the object keeps it for good. Beat's
    ``ScheduleEntry`` (``maybe_schedule``) binds the schedule to beat's app but leaves that
    cache, so the object fires in the zone it cached, whatever ``timezone`` beat runs with.
    :func:`course_tasks.beat.copy_schedule` rebuilds a crontab from ``__reduce__``, which
    drops the cache; this class puts it back in every copy, so the check runs the object as
    it is.
    """

    def __init__(self, *args: Any, pinned: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pinned = pinned
        if pinned is not None:
            self.tz = pinned

    def __reduce__(self) -> Any:
        cls, args, kwargs = super().__reduce__()
        return cls, args, {**kwargs, "pinned": self._pinned}


def _as_handed_in(sched: BaseSchedule) -> BaseSchedule:
    """``sched``, or for a crontab that cached a time zone, a :class:`_Pinned` copy of it.

    An interval (``schedule``) reads only aware times from beat, so a zone it cached changes
    nothing there.
    """
    cached = vars(sched).get("tz")
    if cached is None or type(sched) is not crontab:
        return sched
    cls, args, kwargs = sched.__reduce__()
    return _Pinned(*args, pinned=cached, **kwargs)


def _zone_name(zone: Any) -> str:
    return str(getattr(zone, "key", None) or zone)


def _zone_hint(sched: Any, what: str, zone: ZoneInfo) -> str | None:
    """The hint for a crontab that fires in a time zone it cached, not in beat's, or None."""
    if not isinstance(sched, _Pinned):
        return None
    cached = sched._pinned
    try:
        moments = [datetime(y, m, 1, 12, tzinfo=UTC) for y in (2026, 2027) for m in range(1, 13)]
        if all(t.astimezone(cached).utcoffset() == t.astimezone(zone).utcoffset() for t in moments):
            return None
    except Exception:  # not a time zone at all: its runs say what it does
        pass
    hour, minute = min(sched.hour), min(sched.minute)
    there = datetime(2026, 6, 1, hour, minute, tzinfo=cached)
    return (
        f"{what} fires in {_zone_name(cached)}, not in {zone.key}: it was used before it was "
        f"handed in (remaining_estimate, is_due, a beat in this kernel) under an app in "
        f"{_zone_name(cached)}, and a crontab keeps the time zone it read then (crontab.tz is "
        "a cached property); a beat binds it to its own app but keeps that zone, so "
        f"{hour:02d}:{minute:02d} is {_clock(there.astimezone(zone))} in {zone.key}. Run the "
        "cell that builds it again (a fresh crontab reads the zone of the beat that runs it), "
        "and try schedules out on a copy (copy.copy(sched), as section 1's next_runs does)"
    )


def _interval(sched: Any) -> bool:
    """Whether ``sched`` is a plain interval (every N seconds): the calendar cannot change it."""
    return type(sched) is schedule


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _registry() -> None:
    """Register every task of the app's ``include=`` modules, as a worker does at start-up.

    In redis mode the notebook's app only knows the modules it imported; a worker imports
    them all (``app.loader.import_default_modules``), and so does this.
    """
    app.loader.import_default_modules()


# --------------------------------------------------------------------------- the course app

#: What to do when a cell changed the course app (its timezone, its beat_schedule).
PUT_BACK = (
    "restart the kernel (Kernel > Restart), which sets the course app up again from "
    "course_tasks.celeryconfig, and run the cells again"
)


@functools.cache
def _configured() -> Any:
    """``course_tasks.celeryconfig`` as its file sets it: run again in a module of its own.

    The course app reads the module's own objects (``beat_schedule`` is the module's dict), so
    a cell that adds to ``app.conf.beat_schedule`` changes the module too; this copy keeps
    what the file says.
    """
    spec = importlib.util.find_spec("course_tasks.celeryconfig")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_entry(entry: Any, configured: Mapping[str, Any]) -> bool:
    if not isinstance(entry, Mapping) or set(entry) != set(configured):
        return False
    try:
        return all(bool(entry[key] == configured[key]) for key in configured)
    except Exception:  # a value that cannot be compared is not the configured one
        return False


@dataclass
class _CourseSchedule:
    """How the course app's ``beat_schedule`` differs from what ``celeryconfig`` sets."""

    #: The app's ``beat_schedule`` object itself.
    current: Any
    #: Entries the file does not set, or sets otherwise, by name.
    changed: dict[str, Any]
    #: The file's entries the app's ``beat_schedule`` no longer holds.
    gone: list[str]


def _course_schedule() -> _CourseSchedule:
    current = app.conf.beat_schedule
    configured = _configured().beat_schedule
    if not isinstance(current, Mapping):
        return _CourseSchedule(current, {}, list(configured))
    changed = {
        name: entry
        for name, entry in current.items()
        if name not in configured or not _same_entry(entry, configured[name])
    }
    gone = [name for name in configured if name not in current]
    return _CourseSchedule(current, changed, gone)


def _judge_course_schedule(what: str, mine: Callable[[str, Any], bool], hint: str) -> None:
    """A Fail when the course app's ``beat_schedule`` holds entries of the answer (``mine``
    says which entries are the answer's: the same object, its task) before the check ran.

    Such an entry was put there by a cell of this kernel, as guide 004 does in a project: on
    the course app it is what ``celery -A course_tasks beat`` (and every ``beat.beat_app()``
    built without a schedule of its own) sends, beside or instead of guide 000's entries.
    """
    found = _course_schedule()
    ours = [name for name, entry in found.changed.items() if mine(name, entry)]
    if not ours:
        return
    gone = f", and guide 000's entries {found.gone} are gone from it" if found.gone else ""
    raise Fail(
        f"the course app's app.conf.beat_schedule holds {what} {_keys(ours)}{gone}: a cell "
        "of this kernel put them on the app the worker and every check use (course_tasks."
        "celeryconfig gives it guide 000's two entries only), so a beat of the course app "
        "would send them too",
        hint=f"{hint}; then {PUT_BACK}",
    )


# --------------------------------------------------------------------------- real runs


@dataclass
class _Sent:
    """One run of an entry, really sent: its virtual time, and its result or send error."""

    name: str
    entry: Mapping[str, Any]
    when: datetime
    result: AsyncResult | None = None
    error: str = ""
    #: Guide 004's job it runs (``platform.<job>``), which records each of its runs, or "".
    job: str = ""
    #: How many runs ``periodic.runs()`` held before the check sent anything.
    mark: int = 0
    #: For another task whose result is not stored: a ``celery.accumulate`` linked to it,
    #: which the worker sends once the task has run, and whose result is stored.
    witness: AsyncResult | None = None


def _job_of(task: str) -> str:
    """``cleanup_long_inactive_chats`` for ``platform.cleanup_long_inactive_chats``, or ""."""
    job = task.removeprefix("platform.")
    return job if task.startswith("platform.") and job in periodic.JOBS else ""


def _options(entry: Mapping[str, Any]) -> dict[str, Any]:
    options = entry.get("options") or {}
    return dict(options) if isinstance(options, Mapping) else {}


def _result_ignored(entry: Mapping[str, Any]) -> bool:
    """Whether the worker stores no result for the entry's task (``ignore_result``)."""
    ignored = _options(entry).get("ignore_result")
    if ignored is None:
        return bool(getattr(app.tasks[entry["task"]], "ignore_result", False))
    return bool(ignored)


def _judge_expiry(name: str, entry: Mapping[str, Any]) -> None:
    """A Fail for an ``expires`` that drops runs a worker would start a little late.

    Beat sends an entry's options with every run; a number of seconds counts from each send.
    The check gives the worker :data:`WAIT_SECONDS` to run what it sent, and so may a busy
    worker: an expiry shorter than that drops runs; a fixed moment drops every run after it.
    """
    expires = _options(entry).get("expires")
    if expires is None:
        return
    if isinstance(expires, Real) and expires < WAIT_SECONDS:
        raise Fail(
            f"the options of {name} expire each run {expires:g} s after beat sends it: a run "
            "the worker starts later than that (a busy worker, a restart) is dropped unrun",
            hint=f"expires is in seconds: give the worker at least {WAIT_SECONDS:g} s (the "
            "job's interval, say, so that late runs do not pile up), or leave it out",
        )
    if isinstance(expires, timedelta):
        raise Fail(
            f"the options of {name} give expires as a timedelta, which apply_async cannot "
            "send (TypeError), so beat sends nothing",
            hint=f"expires is a number of seconds, e.g. {expires.total_seconds():g}",
        )
    if isinstance(expires, (datetime, date, str)):
        raise Fail(
            f"the options of {name} expire at a fixed moment ({expires}): beat sends the "
            "same options with every run, so every run after that moment is dropped unrun",
            hint="give expires in seconds, counted from each send, or leave it out",
        )


def _judge_task_id(name: str, entry: Mapping[str, Any]) -> None:
    """A Fail for a ``task_id`` in the options: beat sends it with every run, so every run of
    the entry has the same id."""
    options = _options(entry)
    if options.get("task_id") is None:
        return
    raise Fail(
        f"the options of {name} give every run the same task id ({options['task_id']!r}): "
        "beat sends the same options with every run, so each run's result overwrites the "
        "last one's, and a revoke of that id drops every later run",
        hint="leave task_id out: Celery gives each run an id of its own",
    )


def _judge_delay(name: str, entry: Mapping[str, Any]) -> None:
    """A Fail for a ``countdown`` or ``eta`` in the options: every run would start late."""
    options = _options(entry)
    for option in ("countdown", "eta"):
        if options.get(option) is not None:
            raise Fail(
                f"the options of {name} hold {option}={options[option]!r}: beat sends each "
                "run when it is due, and the worker then holds every run back by that much",
                hint=f"leave {option} out: the schedule says when the job runs",
            )


def _judge_publish(name: str, entry: Mapping[str, Any]) -> None:
    """A Fail for options that change how beat's sends are made or named: publish retries
    turned off (``retry`` false, a ``retry_policy`` with no retries), or a ``shadow`` name
    (adversary round 8)."""
    options = _options(entry)
    retry, policy = options.get("retry"), options.get("retry_policy")
    no_retries = isinstance(policy, Mapping) and policy.get("max_retries") == 0
    if (retry is not None and not retry) or no_retries:
        said = f"retry={retry!r}" if retry is not None and not retry else f"retry_policy={policy!r}"
        raise Fail(
            f"the options of {name} turn publish retries off ({said}): beat sends each run "
            "once, and if the broker is briefly unreachable then (a restart, a network blip) "
            "the send fails at once instead of retrying as the app's task_publish_retry_policy "
            "says; beat has already moved the entry on to its next run, so that run is lost",
            hint="leave retry and retry_policy out: the app's task_publish_retry_policy "
            "retries a send that fails",
        )
    shadow = options.get("shadow")
    if shadow is not None:
        raise Fail(
            f"the options of {name} send every run under the name {shadow!r} (shadow): the "
            "worker logs each run, and names it in its events and results, by that name, which "
            f"is no registered task, so monitoring and alerts that look for {entry['task']} "
            "never see the job run or fail",
            hint="leave shadow out: the entry's name is beat's; each run goes by its task's "
            "registered name",
        )


def _runs_recorded() -> int:
    return int(store().llen(periodic.RUNS_KEY))


def _send(
    entries: Mapping[str, Mapping[str, Any]],
    start: datetime,
    tz: str,
    *,
    until: timedelta = timedelta(days=366),
    runs: int = 1,
) -> list[_Sent]:
    """Each entry's first ``runs`` runs after ``start`` (within ``until``), really sent.

    The times come from the virtual clock; the messages are sent the way beat sends them,
    ``Scheduler.apply_async`` with the entry's ``args``, ``kwargs`` and ``options``, on the
    course's app and the real clock (an ``expires=`` counts from now, as in production). The
    course's app knows the tasks, as ``celery -A course_tasks beat`` does, so arguments the
    task cannot take are refused there, before anything is sent. A task other than guide
    004's jobs (which record their runs) whose result is not stored gets a witness linked
    (see :class:`_Sent`): the only change to what beat would send.
    """
    for name, entry in entries.items():
        _judge_task_id(name, entry)
        _judge_delay(name, entry)
        _judge_publish(name, entry)
        _judge_expiry(name, entry)
    scheduler = celery_beat.Scheduler(app, lazy=True)
    mark = _runs_recorded()
    sent = []
    for name, entry in entries.items():
        sim = beat.simulate({name: entry}, start, until, timezone=tz, limit=runs)
        for when, _ in sim.sends:
            fields = {**entry, "schedule": beat.copy_schedule(entry["schedule"])}
            run = _Sent(name, entry, when, job=_job_of(entry["task"]), mark=mark)
            options = _options(entry)
            if not run.job and "link" not in options and _result_ignored(entry):
                witness = uuid()
                link = app.signature("celery.accumulate", options={"task_id": witness})
                fields["options"] = {**options, "link": link}
                run.witness = app.AsyncResult(witness)
            try:
                beat_entry = scheduler.Entry(**dict(fields, name=name, app=app))
                run.result = scheduler.apply_async(beat_entry, advance=False)
            except Exception as exc:  # what beat logs as "Message Error", and does not send
                run.error = error_text(exc.__cause__ or exc.__context__ or exc)
            sent.append(run)
    return sent


def _queues_read() -> set[str]:
    """The queues the workers read (the default queue when none answers in time)."""
    replies = app.control.inspect(timeout=1.0).active_queues() or {}
    names = {q["name"] for queues in replies.values() for q in queues}
    return names or {app.conf.task_default_queue}


def _route(sent: _Sent) -> str:
    """The queue Celery routes the entry's message to (its ``options``, ``task_routes``)."""
    entry = sent.entry
    options = dict(entry.get("options") or {})
    route = app.amqp.router.route(
        options, entry["task"], tuple(entry.get("args") or ()), dict(entry.get("kwargs") or {})
    )
    queue = route.get("queue")
    return getattr(queue, "name", None) or str(queue or app.conf.task_default_queue)


def _label(sent: _Sent, tz: ZoneInfo) -> str:
    return f"{sent.name} (due {_at(sent.when.astimezone(tz))})"


#: What a message has come to when the worker has not (yet) run it.
_NOT_RUN = object()


def _what_ran(sent: list[_Sent]) -> list[Any]:
    """What the worker did with each message so far, or ``_NOT_RUN``.

    Guide 004's jobs by their own record in ``periodic.runs()`` (one record per run, matched
    to the messages of the same job in order), whether or not a result is stored; a task
    with a witness by the witness's result; any other task by its result.
    """
    mark = min(s.mark for s in sent)
    records: dict[str, list[dict[str, Any]]] = {}
    for raw in store().lrange(periodic.RUNS_KEY, mark, -1):
        record = json.loads(raw)
        records.setdefault(record["job"], []).append(record)
    found: list[Any] = []
    for s in sent:
        assert s.result is not None
        if s.job:
            found.append(records[s.job].pop(0) if records.get(s.job) else _NOT_RUN)
        elif s.witness is not None:
            ready = s.witness.state == "SUCCESS"
            found.append(s.witness.result[0] if ready else _NOT_RUN)
        else:
            found.append(s.result.result if s.result.state == "SUCCESS" else _NOT_RUN)
    return found


def _worker_runs(
    sent: list[_Sent], tz: ZoneInfo, failed_hint: Callable[[_Sent, str], str]
) -> list[Any]:
    """What the worker did with each message sent (a job's record, another task's result),
    once it has run them all.

    A Fail that says what happened to the first run that did not happen: refused by
    ``apply_async`` (``failed_hint`` gives the hint), sent to a queue no worker reads, failed
    on the worker (``failed_hint`` again), discarded, held back (``countdown``/``eta``),
    refused for its serializer, or left waiting with no worker answering.
    """
    for s in sent:
        if s.result is None:
            raise Fail(
                f"beat could not send {_label(s, tz)}: {s.error}", hint=failed_hint(s, s.error)
            )
    queues = {s.name: _route(s) for s in sent}
    default = app.conf.task_default_queue
    if any(queue != default for queue in queues.values()):
        read = _queues_read()
        for s in sent:
            if queues[s.name] not in read:
                for queue in set(queues.values()) - read:
                    delete_queue(queue)  # the messages parked there would wait for ever
                raise Fail(
                    f"beat sent {_label(s, tz)} to the queue {queues[s.name]!r}, which no "
                    "worker reads, so it never runs",
                    hint="leave the queue out of its options: the course's worker reads "
                    + ", ".join(repr(q) for q in sorted(read)),
                )
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = _what_ran(sent)
        settled = [
            f is not _NOT_RUN or (s.result is not None and s.result.state in ("FAILURE", "REVOKED"))
            for s, f in zip(sent, found, strict=True)
        ]
        if all(settled) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for s, f in zip(sent, found, strict=True):
        if f is not _NOT_RUN:
            continue
        result = s.result
        assert result is not None
        state = result.state
        if state == "FAILURE":
            error = error_text(result.result)
            raise Fail(
                f"the worker ran {_label(s, tz)} and it failed: {error}",
                hint=failed_hint(s, error),
            )
        if state == "STARTED":
            raise Fail(
                f"the worker was still running {_label(s, tz)} {WAIT_SECONDS:g} s after it "
                "was sent",
                hint="an entry sends a task that runs longer than the check waits: leave it "
                "out of this schedule",
            )
        result.revoke()
        options = _options(s.entry)
        if state == "REVOKED":
            raise Fail(
                f"the worker discarded {_label(s, tz)} without running it (REVOKED)",
                hint="an expires= in its options let it expire: leave it out"
                if "expires" in options
                else "send it without options that revoke or expire it",
            )
        held = [key for key in ("countdown", "eta") if key in options]
        if held:
            raise Fail(
                f"{_label(s, tz)} had not run {WAIT_SECONDS:g} s after it was sent: its "
                f"options hold it back ({held[0]}={options[held[0]]!r})",
                hint=f"leave {held[0]} out: beat already sends it at the time it is due",
            )
        serializer = options.get("serializer")
        accepted = list(app.conf.accept_content)
        if serializer is not None and serializer not in accepted:
            raise Fail(
                f"the worker had not run {_label(s, tz)} {WAIT_SECONDS:g} s after it was sent: "
                f"it was sent with serializer={serializer!r}, which the worker refuses to read "
                f"(accept_content = {accepted})",
                hint="leave serializer out: the app's task_serializer is what the worker reads",
            )
        if "expires" in options:
            raise Fail(
                f"the worker had not run {_label(s, tz)} {WAIT_SECONDS:g} s after it was sent "
                f"(expires={options['expires']!r} in its options)",
                hint="an expires= in its options let it expire: leave it out",
            )
        if s.witness is not None and app.control.ping(timeout=2.0):
            raise Fail(
                f"the worker had not run {_label(s, tz)} {WAIT_SECONDS:g} s after it was sent, "
                "or it failed there: its task stores no result (ignore_result), and it did "
                "not finish",
                hint=failed_hint(s, ""),
            )
        if not app.control.ping(timeout=2.0):
            raise Fail(
                f"beat sent {_label(s, tz)} but no worker answered ({state})",
                hint="is the worker running? Run the set-up cell at the top again",
            )
        raise Fail(
            f"the worker had not run {_label(s, tz)} {WAIT_SECONDS:g} s after it was sent "
            f"({state})",
            hint="send it with no options (queue, routing_key, exchange): the worker reads "
            f"the queue {default!r}",
        )
    return found


def _args_hint(text: str) -> Callable[[_Sent, str], str]:
    """``text`` when positional ``args`` made the job fail with a TypeError."""

    def hint(sent: _Sent, error: str) -> str:
        if sent.entry.get("args") and error.startswith("TypeError"):
            return text
        return "look at what the entry passes its task (args, kwargs, options)"

    return hint


# --------------------------------------------------------------------------- 06.1

DESK_JOB = "platform.process_customer_service_queue"
DESK_FIELDS = {"minute": {30}, "hour": {7}, "day_of_week": {1, 2, 3, 4, 5}}


def _desk_expected(start: datetime, days: int) -> list[datetime]:
    return [
        start + timedelta(days=d, hours=7, minutes=30)
        for d in range(days)
        if (start + timedelta(days=d)).weekday() < 5
    ]


def _desk_hint(sched: Any, times: list[datetime]) -> str:
    zone = _zone_hint(sched, "desk_opens", SHANGHAI)
    if zone:
        return zone
    hours = {t.hour for t in times}
    minutes = {t.minute for t in times}
    if not isinstance(sched, crontab):
        return (
            "a number of seconds repeats from when beat starts; a time of day on some days of "
            "the week is a crontab(minute=..., hour=..., day_of_week=...)"
        )
    wrong = _wrong_field(sched, DESK_FIELDS)
    if wrong is None:
        return (
            "its minute, hour and day_of_week are right, but beat did not fire it at them: "
            "look at what else the crontab is given"
        )
    field, spelled, values = wrong
    if field == "minute":
        if values == FIELDS["minute"]:
            return "without minute=, crontab fires every minute of the hour: add minute=30"
        return f"minute={_spell(spelled)} fires at minute {sorted(values)} of the hour: minute=30"
    if field == "hour":
        shown = ", ".join(f"{h:02d}:{min(minutes, default=30):02d}" for h in sorted(hours))
        return (
            f"it fires at {shown or 'another hour'} Shanghai time: beat reads crontab hours in "
            "app.conf.timezone (Asia/Shanghai here), so write the local time, hour=7, with no "
            "conversion to or from UTC"
        )
    if field == "day_of_week" and values == FIELDS["day_of_week"]:
        return (
            "it fires at the weekend too: a crontab without day_of_week fires every day; "
            'add day_of_week="1-5" (or "mon-fri")'
        )
    return _calendar_hint(sched, DESK_FIELDS, "leave it out") or "look at its day fields"


def _judge_course_zone() -> None:
    """A Fail when this kernel's course app runs in another time zone than the file says
    (``app.conf.timezone``, ``enable_utc``, or the zone ``app.timezone`` cached)."""
    configured = _configured()
    zone, utc = app.conf.timezone, app.conf.enable_utc
    cached = app.__dict__.get("timezone")  # a cached property, read once
    if cached is not None and _zone_name(cached) in ("UTC", "Etc/UTC", "UTC+00:00"):
        cached_name = "UTC"
    else:
        cached_name = _zone_name(cached) if cached is not None else configured.timezone
    if (zone, bool(utc), cached_name) == (configured.timezone, bool(configured.enable_utc),
                                          configured.timezone):  # fmt: skip
        return
    if zone != configured.timezone:
        now = f"its timezone is now {zone!r}"
    elif bool(utc) != bool(configured.enable_utc):
        now = f"its enable_utc is now {utc!r}"
    else:
        now = f"it keeps the time zone {cached_name} it cached (app.timezone)"
    raise Fail(
        f"a cell of this kernel changed the course app ({now}; course_tasks.celeryconfig sets "
        f"timezone = {configured.timezone!r}): that app is the worker's and every check's, "
        "and desk_opens does not need it: this check runs desk_opens under an app of its own "
        "in Asia/Shanghai, as the desk's beat would",
        hint="desk_opens is the crontab alone, and its hours are read in the timezone of the "
        "app whose beat runs it (section 6 makes an app of its own for that): leave the course "
        f"app's timezone as it is; {PUT_BACK}",
    )


def _judge_desk_as_written(desk_opens: Any) -> None:
    """A Fail for a crontab that fires at the desk's times under the check's beat only
    because of a time zone it keeps (``crontab.tz``, cached when it was tried out or set on
    it by hand; adversary round 8).

    Its fields must hold the desk's local time (a conversion to UTC by hand, kept in UTC,
    fires right here and at 23:30 under a beat that reads its hours in the desk's zone), and
    a zone it keeps must be the desk's own, not another city's with the same offset.
    """
    if not isinstance(desk_opens, crontab):
        return
    kept = vars(desk_opens).get("tz")
    where = (
        f"the time zone {_zone_name(kept)} it keeps (crontab.tz, cached when it was tried "
        "out under an app in that zone, or set on it)"
        if kept is not None
        else "something else it was given"
    )
    wrong = _wrong_field(desk_opens, DESK_FIELDS)
    if wrong is not None:
        hours = ", ".join(f"{h:02d}" for h in sorted(desk_opens.hour)[:3])
        minutes = ", ".join(f"{m:02d}" for m in sorted(desk_opens.minute)[:3])
        days = _span(sorted(desk_opens.day_of_week), WEEKDAYS).replace(" only", "")
        raise Fail(
            f"desk_opens fires at 07:30 Shanghai time here only because of {where}: its own "
            f"fields say hour={_spell(desk_opens._orig_hour)}, minute="
            f"{_spell(desk_opens._orig_minute)}, day_of_week="
            f"{_spell(desk_opens._orig_day_of_week)} ({hours}:{minutes} on {days}), the desk's "
            "hours converted by hand; a beat reads crontab hours in its app.conf.timezone, so "
            f"the same crontab built afresh for the desk's beat fires at {hours}:{minutes} "
            "Shanghai time",
            hint='write the desk\'s local time, hour=7, minute=30, day_of_week="1-5", with no '
            "conversion to or from UTC and no time zone of its own (never set crontab.tz); "
            "build it afresh and try out copies (copy.copy, as section 1's next_runs does)",
        )
    if kept is not None and _zone_name(kept) != SHANGHAI.key:
        raise Fail(
            f"desk_opens keeps the time zone {_zone_name(kept)} (crontab.tz, set on it or "
            "cached when it was tried out under an app in that zone), not the desk's "
            f"{SHANGHAI.key}: its offset from UTC is the same, so the times agree, but the "
            "crontab no longer reads its hours in the timezone of the beat that runs it; it "
            "follows another city's clock, whatever the desk's app says",
            hint="build it afresh with no time zone of its own (never set crontab.tz): the "
            "beat's app.conf.timezone, Asia/Shanghai for the desk, says which clock its hours "
            "are in; try out copies (copy.copy, as section 1's next_runs does)",
        )


@exercise("06.1", "workdays at 07:30 in Shanghai", points=2)
def _desk(desk_opens: Any) -> str:
    _judge_course_zone()
    _judge_course_schedule(
        "an entry with desk_opens as its schedule",
        lambda name, entry: isinstance(entry, Mapping) and entry.get("schedule") is desk_opens,
        "desk_opens is the crontab alone: leave the course app's beat_schedule as it is (the "
        "check puts desk_opens in a schedule of its own)",
    )
    sched = _need_schedule(desk_opens, "desk_opens")
    start = MONDAY.replace(tzinfo=SHANGHAI)
    entries = {"open-desk": {"task": DESK_JOB, "schedule": sched}}
    sim = beat.simulate(entries, start, timedelta(days=14), timezone="Asia/Shanghai", limit=100)
    times = [when.astimezone(SHANGHAI) for when in sim.times("open-desk")]
    if times != _desk_expected(start, 14):
        shown = ", ".join(f"{t:%a} {_clock(t)}" for t in times[:4])
        if len(times) > 4:
            shown += f" and {'over 100' if sim.truncated else len(times) - 4} more"
        count = f"{'over 100' if sim.truncated else len(times)} runs"
        problem = (
            f"in the two weeks from Mon 1 June 2026 (Asia/Shanghai) it fired {count}: {shown}"
            if times
            else "in the two weeks from Mon 1 June 2026 (Asia/Shanghai) it never fired"
        )
        raise Fail(problem, hint=_desk_hint(sched, times))
    year = beat.simulate(entries, start, timedelta(days=365), timezone="Asia/Shanghai", limit=600)
    expected = _desk_expected(start, 365)
    times = [when.astimezone(SHANGHAI) for when in year.times("open-desk")]
    if times != expected:
        count = f"over {len(times)}" if year.truncated else str(len(times))
        raise Fail(
            f"the first two weeks are right, but in the year from Mon 1 June 2026 it fired "
            f"{count} times, not {len(expected)}: {_difference(times, expected, SHANGHAI)}",
            hint=_desk_hint(sched, times),
        )
    _judge_desk_as_written(desk_opens)
    sent = _send(entries, start, "Asia/Shanghai", until=timedelta(days=14), runs=10)
    ran = _worker_runs(sent, SHANGHAI, _args_hint("the job takes no positional arguments"))
    return (
        f"Mon-Fri 07:30 Shanghai time: {len(expected)} runs in a year, none on a weekend; "
        f"the {len(ran)} of the first two weeks all run by the worker"
    )


# --------------------------------------------------------------------------- 06.2


@dataclass(frozen=True)
class _Job:
    """One row of guide 004's table: its task, and either every N seconds or a time of day."""

    task: str
    every: int = 0
    at: timedelta = timedelta(0)
    said: str = ""

    def times(self, midnight: datetime) -> list[datetime]:
        if not self.every:
            return [midnight + self.at]
        steps = range(1, 86400 // self.every + 1)
        return [midnight + timedelta(seconds=self.every * k) for k in steps]


#: Guide 004 §4's jobs this exercise asks for, by entry name.
TABLE = {
    "process-customer-service-queue": _Job(
        "platform.process_customer_service_queue", every=30, said="30 seconds: 30.0"
    ),
    "cancel-expired-tasks": _Job(
        "platform.cancel_expired_tasks", every=60, said="minute: 60.0 (or crontab())"
    ),
    "update-all-users-statistics": _Job(
        "platform.update_all_users_statistics",
        every=600,
        said="10 minutes: 600.0 (or crontab(minute='*/10'))",
    ),
    "cleanup-long-inactive-chats": _Job(
        "platform.cleanup_long_inactive_chats", at=timedelta(hours=2)
    ),
}
DAILY_FIELDS = {"minute": {0}, "hour": {2}}


def _fields_of(job: _Job) -> dict[str, set[int]]:
    if not job.every:
        return DAILY_FIELDS
    if job.every % 60 == 0 and job.every < 3600:
        return {"minute": set(range(0, 60, job.every // 60))}
    return {}


def _need_entry(name: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping) or "task" not in entry or "schedule" not in entry:
        raise Fail(
            f"entry {name!r} is not a dict with 'task' and 'schedule'",
            hint='each entry is {"task": "platform....", "schedule": ...}',
        )
    task = entry["task"]
    if not isinstance(task, str):
        raise Fail(
            f"entry {name!r} has 'task': {kind(task)}",
            hint="'task' is the task's registered name, a str such as 'platform.xyz'",
        )
    if task not in app.tasks:
        raise Fail(
            f"entry {name!r} names the task {task!r}, which no worker knows",
            hint="a typo or a module path: beat sends the name as written; copy the "
            "registered name (the task's name=, e.g. 'platform.cancel_expired_tasks')",
        )
    module = getattr(app.tasks[task], "__module__", "") or ""
    if not module.startswith(("course_tasks", "celery")):
        raise Fail(
            f"entry {name!r} sends {task!r}, a task defined in {module or 'this notebook'}: "
            "only this kernel knows it, so a beat and a worker started with "
            "celery -A course_tasks send it to a worker that refuses it as unregistered",
            hint="send tasks that live in the project's modules (course_tasks.tasks...), "
            "which every worker imports",
        )
    last = entry.get("last_run_at")
    if last is not None:
        raise Fail(
            f"entry {name!r} holds last_run_at = {last}: beat counts the entry's runs from "
            "that moment instead of from when it starts, so a beat started any later finds a "
            "run overdue and sends it at once, at start-up, whatever the schedule says",
            hint="leave last_run_at out: beat sets it to the moment it starts, and to each "
            "run's time after that",
        )
    return {**entry, "schedule": _need_schedule(entry["schedule"], name)}


def _need_entries(jobs: Any, names: list[str]) -> dict[str, Any]:
    """The named entries first, then any other entry of ``jobs``, each one checked."""
    _registry()
    if not isinstance(jobs, Mapping):
        raise Fail(
            f"jobs is {kind(jobs)}, not a dict",
            hint='beat_schedule is a dict: {"entry-name": {"task": ..., "schedule": ...}}',
        )
    missing = [name for name in names if name not in jobs]
    if missing:
        raise Fail(f"no entry named {missing[0]!r}", hint="use the entry names the table gives")
    order = names + [name for name in jobs if name not in names]
    return {name: _need_entry(name, jobs[name]) for name in order}


def _every_hint(job: _Job, sched: Any, got: int, what: str = "it") -> str:
    zone = _zone_hint(sched, what, UTC)
    if zone:
        return zone
    per_day = 86400 // job.every
    if _interval(sched):
        if got in (per_day // 60, per_day * 60):
            return f"minutes and seconds mixed up? Every {job.said}"
        return f"a float schedule is in seconds; every {job.said}"
    want = _fields_of(job)
    wrong = _wrong_field(sched, want)
    if wrong is not None and wrong[0] == "minute" and len(wrong[2]) == 1:
        minute = next(iter(wrong[2]))
        return f"crontab(minute={minute}) is {minute} past every hour; every {job.said}"
    if wrong is not None and wrong[0] == "minute":
        left_out = sorted(_fields_of(job).get("minute", FIELDS["minute"]) - wrong[2])
        if left_out and wrong[2] < _fields_of(job).get("minute", FIELDS["minute"]):
            shown = ", ".join(f":{m:02d}" for m in left_out[:4])
            return f"minute={_spell(wrong[1])} leaves out {shown} of every hour; every {job.said}"
        return f"minute={_spell(wrong[1])} is not every {job.said}"
    if wrong is not None and wrong[0] == "hour":
        hours = _span(sorted(wrong[2]), [f"{h:02d}:00" for h in range(24)])
        return (
            f"hour={_spell(wrong[1])} keeps it to {hours}: leave hour out, and it runs all "
            f"day; every {job.said}"
        )
    every_day = "leave it out, and it runs every day"
    return _calendar_hint(sched, want, every_day) or f"every {job.said}"


def _daily_hint(sched: Any, times: list[datetime], what: str = "it") -> str:
    zone = _zone_hint(sched, what, UTC)
    if zone:
        return zone
    if not isinstance(sched, crontab):
        first = _clock(times[0]) if times else "its start"
        return (
            f"a number of seconds repeats from when beat starts (here 00:00, so it fired at "
            f"{first}), not at a time of day: every day at 02:00 is a crontab, "
            "crontab(hour=2, minute=0)"
        )
    wrong = _wrong_field(sched, DAILY_FIELDS)
    if wrong is not None and wrong[0] == "minute" and wrong[2] == FIELDS["minute"]:
        return "without minute=, crontab(hour=2) fires every minute from 02:00 to 02:59"
    if wrong is not None and wrong[0] == "minute":
        return f"minute={_spell(wrong[1])} is not on the hour: 02:00 is hour=2, minute=0"
    if wrong is not None and wrong[0] == "hour":
        hours = ", ".join(f"{h:02d}:00" for h in sorted(wrong[2])[:3])
        return (
            f"hour={_spell(wrong[1])} fires at {hours}: the check's app runs in UTC "
            "(timezone = 'UTC') and beat reads crontab hours in it, so 02:00 is hour=2, with "
            "no conversion"
        )
    return _calendar_hint(sched, DAILY_FIELDS, "leave it out, and it runs every day") or (
        "crontab(hour=2, minute=0)"
    )


def _judge_day(entries: dict[str, Any], day: date, sim: beat.Simulation) -> None:
    """A Fail for the first entry of the table that did not run as it should on ``day``."""
    first = day == DAYS[0]
    midnight = _midnight(day, UTC)
    when = "in 24 hours" if first else f"on {_day(day)}"
    right = "" if first else f"{_day(DAYS[0])} is right, but "
    for name, job in TABLE.items():
        if name not in entries:
            continue
        sched = entries[name]["schedule"]
        times = sim.times(name)
        expected = job.times(midnight)
        if times == expected:
            continue
        got = len(times)
        shown = f"first at {_clock(times[0])}" if times else "never"
        if job.every:
            problem = f"{right}{name} ran {got} times {when} ({shown}); expected {len(expected)}"
            raise Fail(problem, hint=_every_hint(job, sched, got, name))
        at = ", ".join(_clock(t) for t in times[:3]) + (", ..." if got > 3 else "")
        if got == 1:
            problem = f"{right}{name} ran once {when}, at {at}, not at 02:00"
        elif got:
            problem = f"{right}{name} ran {got} times {when} ({shown}); expected once, at 02:00"
        else:
            problem = f"{right}{name} never ran {when}; expected once, at 02:00"
        raise Fail(problem, hint=_daily_hint(sched, times, name))


def _judge_once_each(entries: dict[str, Any]) -> None:
    """A Fail for an entry beyond the table's four that sends one of their tasks again.

    Runs are counted per entry and per task: beat sends each entry on its own schedule, so a
    second entry for a job (a leftover test entry, a copy under another name) runs it more
    often than the table says, however right each entry is on its own.
    """
    midnight = _midnight(DAYS[0], UTC)
    for extra, entry in entries.items():
        for name, job in TABLE.items():
            if extra in TABLE or entry["task"] != job.task:
                continue
            both = {name: entries[name], extra: entry}
            sim = beat.simulate(both, midnight, DAY, timezone="UTC", limit=20_000)
            want = len(job.times(midnight))
            count = f"over {len(sim.sends)}" if sim.truncated else str(len(sim.sends))
            expected = "once" if want == 1 else f"{want} times"
            effect = (
                f"so the job ran {count} times in 24 hours, not {expected}"
                if len(sim.sends) != want
                else f"so the job also runs on the schedule of {extra!r}"
            )
            raise Fail(
                f"the entries {name!r} and {extra!r} both send {job.task}: beat sends each "
                f"entry on its own schedule, {effect}",
                hint=f"one entry per job: delete {extra!r} (a leftover test entry or a copy); "
                "two entries for one task send it twice, as two beats do",
            )


@exercise("06.2", "guide 004's table as a beat_schedule", points=2)
def _table(jobs: Any) -> str:
    entries = _need_entries(jobs, list(TABLE))

    def mine(name: str, entry: Any) -> bool:
        return (
            app.conf.beat_schedule is jobs
            or name in TABLE
            or any(entry is ours for ours in jobs.values())
        )

    _judge_course_schedule(
        "jobs' entries",
        mine,
        "make jobs a dict of its own and leave the course app's beat_schedule as it is: the "
        "check, and the chapter's beats (beat.start(schedule), beat.beat_app(schedule)), take "
        "a schedule as an argument; guide 004's app.conf.beat_schedule = {...} is for the "
        "project's own app",
    )
    table = {name: entries[name] for name in TABLE}
    for name, job in TABLE.items():
        if table[name]["task"] != job.task:
            sends = table[name]["task"]
            raise Fail(f"entry {name!r} sends {sends}", hint=f"this job is {job.task}")
    _judge_once_each(entries)
    for day in DAYS:
        first = day == DAYS[0]
        # a plain interval (every N seconds) runs the same on every day: one day shows it
        todo = {n: e for n, e in table.items() if first or not _interval(e["schedule"])}
        if not todo:
            break
        sim = beat.simulate(todo, _midnight(day, UTC), DAY, timezone="UTC", limit=20_000)
        if sim.truncated:
            counts = sim.counts()
            name = max(counts, key=counts.__getitem__)
            late = _clock(sim.sends[-1][0])
            raise Fail(
                f"{name} fired {counts[name]} times before {late}",
                hint="a float schedule is in seconds: every 30 seconds is 30.0, every minute 60.0",
            )
        _judge_day(todo, day, sim)
    sent = _send(entries, _midnight(DAYS[0], UTC), "UTC")
    ran = _worker_runs(
        sent, UTC, _args_hint('guide 004\'s jobs take no arguments: leave out "args"')
    )
    for s, run in zip(sent, ran, strict=True):
        if s.name in TABLE and run.get("kwargs"):
            raise Fail(
                f"the worker ran {s.name} with the arguments {run['kwargs']}",
                hint='guide 004\'s jobs take no arguments: leave out "kwargs"',
            )
    extra = [name for name in entries if name not in TABLE]
    if extra:
        raise Fail(
            f"jobs also holds {', '.join(map(repr, extra))}, which the exercise does not ask "
            "for: the check cannot say when such an entry should run, so it cannot tell a slip "
            "in it (crontab(hour=3) without minute=, a demo interval, a str argument)",
            hint="the table's four entries and nothing else: give another job a schedule of "
            "its own when a table says when it runs",
        )
    return (
        f"2880, 1440, 144 and 1 runs a day, the daily one at 02:00, on {len(DAYS)} days of every "
        "weekday and month; every entry sent once and run by the worker"
    )


# --------------------------------------------------------------------------- 06.3

TYPO_SCHEDULE = {
    "end-timeout-chats": {"task": "platform.auto_end_timeout_chats", "schedule": 30.0},
    "cancel-expired": {"task": "platform.cancel_expired_task", "schedule": 60.0},
    "coupons": {"task": "Platform.check_expired_coupons", "schedule": 300.0},
    "points": {"task": "course_tasks.tasks.periodic.check_expired_points", "schedule": 300.0},
    "heartbeat": {"task": "course_tasks.tasks.maintenance.heartbeat",
                  "schedule": schedule(timedelta(seconds=30))},
    "cleanup": {"task": "course_tasks.tasks.maintenance.cleanup_expired_data",
                "schedule": crontab(hour=2, minute=0)},
}  # fmt: skip
TYPO_EXPECTED = ["cancel-expired", "coupons", "points"]
#: No mistake: a job, a task under its module path, and Celery's own result clean-up (which
#: beat schedules itself at 04:00 when results expire and the backend cannot expire them).
GOOD_SCHEDULE = {
    **{name: TYPO_SCHEDULE[name] for name in ("end-timeout-chats", "heartbeat")},
    "backend-cleanup": {"task": "celery.backend_cleanup", "schedule": crontab(hour=4, minute=0)},
}
#: Names with a space or a line break around them: beat sends them as written.
PADDED_SCHEDULE = {
    "warnings": {"task": "platform.send_timeout_warnings", "schedule": 30.0},
    "activities": {"task": " platform.check_and_end_activities", "schedule": 300.0},
    "invitations": {"task": "platform.check_expired_invitation_codes\n", "schedule": 300.0},
}
PADDED_EXPECTED = ["activities", "invitations"]
#: Parts of registered names: a job's function name, the end of a module path, nothing.
BARE_SCHEDULE = {
    "vip": {"task": "expire_vip_memberships", "schedule": 300.0},
    "pulse": {"task": "tasks.maintenance.heartbeat", "schedule": 30.0},
    "blank": {"task": "", "schedule": 60.0},
    "stats": {"task": "platform.update_all_users_statistics", "schedule": 600.0},
}
BARE_EXPECTED = ["blank", "pulse", "vip"]
#: Two entries (one job for two regions) sending the same misspelled task, and a right one:
#: both entries of the typo are jobs that never run, so both are reported.
SHARED_SCHEDULE = {
    "warnings-eu": {"task": "platform.send_timeout_warning", "schedule": 30.0,
                    "kwargs": {"region": "eu"}},
    "activities": {"task": "platform.check_and_end_activities", "schedule": 300.0},
    "warnings-us": {"task": "platform.send_timeout_warning", "schedule": 30.0,
                    "kwargs": {"region": "us"}},
}  # fmt: skip
SHARED_EXPECTED = ["warnings-eu", "warnings-us"]
#: Names that a pattern (a regular expression, a shell wildcard) would match to a registered
#: one: a dot for an underscore, a dot for the last letter, a star; and a right name.
PATTERN_SCHEDULE = {
    "cancel-expired": {"task": "platform.cancel.expired_tasks", "schedule": 60.0},
    "invitations": {"task": "platform.check_expired_invitation_code.", "schedule": 300.0},
    "coupons": {"task": "platform.check_expired_*", "schedule": 300.0},
    "stats": {"task": "platform.update_all_users_statistics", "schedule": 600.0},
}
PATTERN_EXPECTED = ["cancel-expired", "coupons", "invitations"]
#: A job registered after unknown_tasks' first calls (a module imported later, guide 004 §7).
LATER_TASK = "platform.expire_trial_accounts"
LATER_SCHEDULE = {
    "trials": {"task": LATER_TASK, "schedule": 300.0},
    "warnings": PADDED_SCHEDULE["warnings"],
}
CHECK_THREAD = "course-check-06"


@contextmanager
def _asked() -> Iterator[list[str]]:
    """Meanwhile, the control commands (``inspect().registered()``, ``ping``, ...) that
    :data:`CHECK_THREAD` broadcast to the workers."""
    commands: list[str] = []
    real = Control.broadcast

    def broadcast(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == CHECK_THREAD:
            commands.append(str(command))
        return real(self, command, *args, **kwargs)

    Control.broadcast = broadcast  # type: ignore[method-assign]
    try:
        yield commands
    finally:
        Control.broadcast = real  # type: ignore[method-assign]


#: The entries of the schedules given to ``unknown_tasks`` so far in this check.
_given_before: set[str] = set()
#: Schedules whose every task is unknown, to see whether the answer depends on the one given.
NOWHERE_A = {"nightly-report": {"task": "platform.nightly_report", "schedule": 60.0}}
NOWHERE_B = {"sync-crm": {"task": "crm.sync_contacts", "schedule": 300.0}}


@contextmanager
def _published() -> Iterator[list[str]]:
    """Meanwhile, the names of the tasks sent from this process (a beat's sends left out)."""
    sent: list[str] = []

    def record(sender: Any = None, headers: Any = None, **_: Any) -> None:
        if not threading.current_thread().name.startswith("Beat-"):
            task = headers.get("task") if isinstance(headers, dict) else None
            sent.append(str(task or sender))

    before_task_publish.connect(record, weak=False, dispatch_uid=CHECK_THREAD)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(dispatch_uid=CHECK_THREAD)


def _keys(names: list[str]) -> str:
    """``['a', 'b', 'c', ...]``: the first three names."""
    return f"{names[:3]}"[:-1] + (", ...]" if len(names) > 3 else "]")


def _unknown(unknown_tasks: Any, sched: dict[str, Any], *, current: Any = None) -> list[str]:
    """``unknown_tasks`` called on a copy of ``sched``: its answer, sorted; a Fail when it
    sent or ran a task, waited for one, changed the schedule or answered something else.

    ``current``: an app made the current one (``celery.current_app``) in the thread that
    calls it (a thread-local setting: the check's other threads keep theirs).
    """
    call = unknown_tasks
    if current is not None:

        def call(schedule: Any) -> Any:
            current.set_current()
            return unknown_tasks(schedule)

    given = copy.deepcopy(sched)
    order, held = list(given), dict(given)  # the keys in order, and each entry's dict
    # what each entry held, and the attributes of each schedule object (a crontab's cached
    # time zone, its nowfun): an answer that tries a schedule out changes them, and
    # crontab.__eq__ does not look at them
    contents = {name: dict(entry) for name, entry in given.items() if isinstance(entry, dict)}
    attributes = {
        name: (entry["schedule"], dict(vars(entry["schedule"])))
        for name, entry in given.items()
        if isinstance(entry, dict) and hasattr(entry.get("schedule"), "__dict__")
    }
    course = _CourseState()
    try:
        with _published() as sent, _asked() as asked:
            answer, seen = call_watched(call, given, seconds=5.0, thread_name=CHECK_THREAD)
    finally:
        changed = course.put_back(given)
    tasks = sorted(set(sent or seen.ran_here))
    if tasks:
        names = ", ".join(tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
        how = "sent" if sent else "ran"
        to = " to the worker, which runs them" if sent else " right there"
        raise Fail(
            f"unknown_tasks {how} the schedule's tasks ({names}){to}: a deployment check that "
            "starts the jobs (a nightly clean-up among them) instead of only reading the schedule",
            hint="a name is known when it is in app.tasks: look each entry's 'task' up there; "
            "nothing has to be sent (and nothing waits for a worker)",
        )
    if asked:
        raise Fail(
            f"unknown_tasks asked the workers over the broker (a {asked[0]!r} broadcast, "
            "app.control): a deployment check that needs a worker up and the broker "
            "reachable; before any worker answers (a deployment that starts beat first) it "
            "knows no task at all, and with the broker down it fails",
            hint="the exercise asks for the tasks registered in app: a name is known when it "
            "is in app.tasks, which this process holds; look each entry's 'task' up there, "
            "nothing has to ask a worker",
        )
    if seen.waited:
        raise Fail(
            "unknown_tasks waited for a task's result",
            hint="a name is known when it is in app.tasks: look each entry's 'task' up there",
        )
    if isinstance(answer, StillRunning):
        raise Fail(
            f"unknown_tasks had not answered after {answer.seconds:g} s",
            hint="it only reads the schedule and app.tasks: nothing in it waits",
        )
    if answer is None and is_stub_body(unknown_tasks):
        raise NotYet("write the body of unknown_tasks")
    if changed:
        effect = (
            "a deployment check that should only read the schedule installs it, typos "
            "included, on the course app (the worker's and every check's), whose beat (celery "
            "-A course_tasks beat, every beat.beat_app() built later in this kernel) then "
            "sends it"
            if "beat_schedule" in changed
            else "a deployment check that should only read the schedule changes the app the "
            "worker and every check use"
        )
        raise Fail(
            f"unknown_tasks {changed}: {effect}",
            hint="only read: look each entry of the schedule it is given (schedule.items()) "
            "up in app.tasks, and write nothing to app.conf; the deployment starts beat with "
            "the schedule once it knows it is right",
        )
    gone = [name for name in sched if name not in given]
    if gone:
        raise Fail(
            f"unknown_tasks deleted the entries {gone} of the schedule it was given",
            hint="only read the schedule and return the names: the deployment decides what to "
            "do with them (refuse to start beat), and a job deleted in silence never runs",
        )
    _judge_schedules_kept(given, held, attributes)
    _judge_entries_kept(given, sched, held, contents)
    if list(given) != order:
        raise Fail(
            "unknown_tasks put the entries of the schedule it was given in another order "
            f"(its keys were {_keys(order)}, now {_keys(list(given))}): it emptied and refilled "
            "the caller's dict",
            hint="only read the schedule: sort the list of names you return (sorted(...)), not "
            "the caller's dict, which beat and the deployment go on using as it was",
        )
    copied = [name for name in order if given[name] is not held[name]]
    if copied:
        raise Fail(
            "unknown_tasks replaced entries of the schedule it was given with copies "
            f"({copied[0]!r} is no longer the dict the caller put there): equal values, but "
            "whoever holds the entry (app.conf.beat_schedule, another table) now holds one the "
            "schedule has left",
            hint="only read the schedule: loop over schedule.items() and write nothing back; a "
            "copy you need (dict(entry)) stays in a variable of your own",
        )
    if not isinstance(answer, (list, tuple, set)):
        raise Fail(f"unknown_tasks returned {kind(answer)}", hint="return a list of entry names")
    _judge_foreign(unknown_tasks, sched, list(answer))
    _given_before.update(sched)
    return sorted(answer)


class _CourseState:
    """The course app's settings and ``beat_schedule`` (the dict and each entry's contents)
    before ``unknown_tasks`` runs, to say what it changed and put an in-place change back
    (:func:`course_tasks.checks.isolation.kept` puts back the settings, not the contents of
    the ``celeryconfig`` module's dict, which every ``beat.beat_app()`` reads)."""

    def __init__(self) -> None:
        self.changes = dict(app.conf.changes)
        self.schedule = app.conf.beat_schedule
        self.entries = dict(self.schedule) if isinstance(self.schedule, dict) else {}
        self.contents = {
            name: dict(entry) for name, entry in self.entries.items() if isinstance(entry, dict)
        }

    def put_back(self, given: Any) -> str:
        """What was changed ("" when nothing), once the in-place changes are put back."""
        said = []
        after = dict(app.conf.changes)
        settings = sorted(
            key
            for key in set(after) | set(self.changes)
            if key not in after or key not in self.changes or after[key] is not self.changes[key]
        )
        if "beat_schedule" in settings:
            to = "the schedule it was given" if app.conf.beat_schedule is given else "a dict"
            said.append(f"set the course app's app.conf.beat_schedule to {to}")
        others = [key for key in settings if key != "beat_schedule"]
        if others:
            said.append(f"changed the course app's settings {others}")
        if isinstance(self.schedule, dict):
            now = dict(self.schedule)
            added = [name for name in now if name not in self.entries]
            removed = [name for name in self.entries if name not in now]
            replaced = [
                name
                for name in now
                if name in self.entries
                and (
                    now[name] is not self.entries[name]
                    or (name in self.contents and dict(now[name]) != self.contents[name])
                )
            ]
            parts = [
                f"{how} {_keys(names)}"
                for how, names in (
                    ("added the entries", added),
                    ("removed the entries", removed),
                    ("changed the entries", replaced),
                )
                if names
            ]
            if parts:
                said.append(
                    "changed the course app's app.conf.beat_schedule in place (it is "
                    f"course_tasks.celeryconfig's own dict): {' and '.join(parts)}"
                )
                self.schedule.clear()
                self.schedule.update(self.entries)
                for name, entry in self.contents.items():
                    if self.entries[name] != entry:
                        self.entries[name].clear()
                        self.entries[name].update(entry)
        return "; ".join(said)


def _judge_schedules_kept(
    given: dict[str, Any], held: dict[str, Any], attributes: dict[str, tuple[Any, dict]]
) -> None:
    """A Fail when a schedule object of the given entries changed (a nowfun set on it, the
    time zone it cached when it was tried out): beat runs the object as it then is."""
    for name, (sched, before) in attributes.items():
        entry = held[name]
        if given.get(name) is not entry or entry.get("schedule") is not sched:
            continue  # the entry or its schedule replaced: judged with the entries
        after = vars(sched)
        new = [k for k in after if k not in before or after[k] is not before[k]]
        new += [k for k in before if k not in after]
        if not isinstance(sched, crontab):  # an interval's cached zone changes nothing in beat
            new = [k for k in new if k not in ("tz", "utc_enabled")]
        if not new:
            continue
        if "nowfun" in new:
            raise Fail(
                f"unknown_tasks changed the schedules of the entries it was given: the "
                f"schedule of {name!r} now reads the time from a nowfun of its own (set on the "
                "caller's object while trying it out), not from beat's clock",
                hint="only read the schedule: a nowfun set on the caller's schedule stays, and "
                "beat then reads that clock (a fixed one never moves: the job never comes due); "
                "try a schedule out on a copy (copy.copy(sched), as section 1's next_runs does)",
            )
        if "tz" in new and isinstance(sched, crontab):
            zone = after["tz"]
            hour, minute = min(sched.hour), min(sched.minute)
            there = datetime(2026, 6, 1, hour, minute, tzinfo=zone).astimezone(SHANGHAI)
            raise Fail(
                f"unknown_tasks changed the schedules of the entries it was given: the "
                f"crontab of {name!r} now holds the time zone {_zone_name(zone)} (crontab.tz is "
                "a cached property, which remaining_estimate() and is_due() fill in) and keeps "
                "it under any beat: a beat in Asia/Shanghai given this schedule fires it at "
                f"{hour:02d}:{minute:02d} {_zone_name(zone)}, {_clock(there)} in Shanghai",
                hint="only read the schedule: to try a schedule out, use a copy "
                "(copy.copy(entry['schedule']), as section 1's next_runs does), so the "
                "caller's crontab reads the zone of the beat that runs it",
            )
        raise Fail(
            f"unknown_tasks changed the schedules of the entries it was given: the "
            f"schedule of {name!r} now has {', '.join(sorted(new))} changed",
            hint="only read the schedule: try a schedule out on a copy (copy.copy(sched), as "
            "section 1's next_runs does), and write nothing to the caller's",
        )


def _judge_entries_kept(
    given: dict[str, Any],
    sched: dict[str, Any],
    held: dict[str, Any],
    contents: dict[str, dict[str, Any]],
) -> None:
    """A Fail when the entries of the given schedule hold other values than before."""
    for name, before in contents.items():
        entry = held[name]
        if given.get(name) is not entry:
            continue  # replaced by a copy: judged after the order
        after = dict(entry)
        for key in [*before, *(k for k in after if k not in before)]:
            old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
            if old is new or (old is not _ABSENT and new is not _ABSENT and _equal(old, new)):
                continue
            if new is _ABSENT:
                how = f"its {key!r} removed"
            elif old is _ABSENT:
                how = f"{key!r} added to it"
            else:
                how = f"its {key!r} was {old!r}, now {new!r}"
            hint = (
                "only read the schedule and return the names: write nothing into the caller's "
                "entries (a copy you need, dict(entry), stays in a variable of your own)"
            )
            if key == "task" and new is not _ABSENT:
                hint = (
                    "only read the schedule and return the names: beat sends an entry's 'task' "
                    "as the caller wrote it; a name cleaned up in place (strip(), lower(), a "
                    "fix) hides the typo the deployment should refuse and changes the caller's "
                    "schedule: compare entry['task'] as it is, and write nothing back"
                )
            raise Fail(
                f"unknown_tasks changed the entries of the schedule it was given ({name!r}: {how})",
                hint=hint,
            )
    if given != sched and list(given) == list(sched):
        raise Fail(
            "unknown_tasks changed the entries of the schedule it was given",
            hint="only read the schedule and return the names: write nothing into the "
            "caller's entries",
        )
    added = [name for name in given if name not in sched]
    if added:
        raise Fail(
            f"unknown_tasks added the entries {added} to the schedule it was given",
            hint="only read the schedule and return the names: beat would send an entry "
            "added to the caller's schedule",
        )


#: A key an entry does not hold.
_ABSENT = object()


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _in(name: Any, names: Any) -> bool:
    try:
        return name in names
    except TypeError:  # an unhashable "name": no entry has it
        return False


def _judge_foreign(unknown_tasks: Any, sched: dict[str, Any], answer: list[Any]) -> None:
    """A Fail when the answer names entries that are not in the schedule it was given.

    Names of an earlier call's schedule that a second pair of calls shows piling up: a list
    kept between calls (a default argument ``found=[]``, a global). Names of no schedule it
    was given, nor tasks (the hint for task names comes later): another table read. A hard-
    coded list of an earlier schedule's names is left to the later judgements.
    """
    foreign = [name for name in answer if not _in(name, sched)]
    if not foreign:
        return
    tasks = [entry.get("task") for entry in sched.values() if isinstance(entry, Mapping)]
    if any(_in(name, tasks) for name in foreign):
        return
    problem = (
        f"given a schedule with the entries {_keys(list(sched))}, it returned {sorted(foreign)}"
        f"{' among its names' if len(foreign) < len(answer) else ''}, which are not entries "
        "of that schedule"
    )
    try:
        for given in (dict(NOWHERE_A), dict(NOWHERE_B)):
            second, _ = call_watched(unknown_tasks, given, seconds=5.0, thread_name=CHECK_THREAD)
    except Exception:  # what it does on these schedules only picks the hint
        second = None
    if isinstance(second, (list, tuple, set)) and any(_in(n, second) for n in NOWHERE_A):
        raise Fail(
            f"{problem}: they are left over from an earlier call (given one schedule and then "
            f"another, the second answer was {sorted(second)}, the first one's entry included)",
            hint="it keeps its list from one call to the next (a default argument such as "
            "found=[] is made once, when the def runs, and so is a global): make a new list "
            "in every call",
        )
    if all(_in(name, _given_before) for name in foreign):
        return
    raise Fail(
        problem,
        hint="return names of the schedule it is given (its argument), not of "
        "app.conf.beat_schedule or a table of your own",
    )


def _judge_clean(unknown_tasks: Any) -> None:
    """A Fail when it reports an entry of a schedule with no mistake."""
    clean = _unknown(unknown_tasks, GOOD_SCHEDULE)
    if "backend-cleanup" in clean:
        raise Fail(
            f"for a schedule with no typo it returned {clean}: 'celery.backend_cleanup' "
            "is in app.tasks",
            hint="Celery's own tasks are registered tasks too (beat schedules "
            "celery.backend_cleanup itself when results expire and the backend cannot expire "
            "them): every name in app.tasks counts, leave none out",
        )
    if clean:
        raise Fail(
            f"for a schedule with no typo it returned {clean}",
            hint="look the names up in app.tasks rather than listing them by hand",
        )


def _judge_bare(unknown_tasks: Any) -> None:
    """A Fail when a part of a registered name (a function's name, an ending) counts."""
    got = _unknown(unknown_tasks, BARE_SCHEDULE)
    if got == BARE_EXPECTED:
        return
    names = ", ".join(repr(BARE_SCHEDULE[n]["task"]) for n in ("vip", "pulse", "blank"))
    problem = f"for the task names {names} it returned {got}, expected {BARE_EXPECTED}"
    if "stats" in got:
        hint = "'platform.update_all_users_statistics' is in app.tasks: look the whole name up"
    elif "pulse" not in got:
        hint = (
            "'tasks.maintenance.heartbeat' is the end of the registered name "
            "'course_tasks.tasks.maintenance.heartbeat', not that name (and every name ends "
            "with ''): beat sends it as written and no worker knows it; compare whole names, "
            "entry['task'] not in app.tasks, not endswith()"
        )
    elif "vip" not in got:
        hint = (
            "'expire_vip_memberships' is the function's name: the task is registered as "
            "'platform.expire_vip_memberships', and beat sends the name as written; look it up "
            "among app.tasks' names (its keys), not the functions' names"
        )
    else:
        hint = "an empty 'task' names no task: no worker knows ''; look it up as written"
    raise Fail(problem, hint=hint)


def _judge_shared(unknown_tasks: Any) -> None:
    """A Fail when two entries sending the same unknown task are not both reported."""
    got = _unknown(unknown_tasks, SHARED_SCHEDULE)
    if got == SHARED_EXPECTED:
        return
    task = SHARED_SCHEDULE["warnings-eu"]["task"]
    problem = (
        f"for the entries 'warnings-eu' and 'warnings-us', which both send {task!r} (a typo), "
        f"and a right one, it returned {got}, expected {SHARED_EXPECTED}"
    )
    if len(got) == 1 and set(got) < set(SHARED_EXPECTED):
        raise Fail(
            problem,
            hint="each entry is a job of its own, and both never run: report every entry whose "
            "task is unknown, not one per task name (a dict or a set keyed by the task keeps "
            "one of them)",
        )
    raise Fail(problem, hint="look each entry's 'task' up in app.tasks as written, entry by entry")


def _judge_patterns(unknown_tasks: Any) -> None:
    """A Fail when a name that is a pattern of a registered one (``.``, ``*``) counts."""
    got = _unknown(unknown_tasks, PATTERN_SCHEDULE)
    if got == PATTERN_EXPECTED:
        return
    names = ", ".join(repr(PATTERN_SCHEDULE[n]["task"]) for n in PATTERN_EXPECTED)
    problem = f"for the task names {names} it returned {got}, expected {PATTERN_EXPECTED}"
    if "stats" not in got:
        raise Fail(
            problem,
            hint="beat sends the name as written and no worker knows it: a '.' in a task name is "
            "a dot and a '*' a star, not a pattern; compare whole names, entry['task'] not in "
            "app.tasks, not re.match()/fullmatch() or fnmatch()",
        )
    raise Fail(
        problem,
        hint="'platform.update_all_users_statistics' is in app.tasks: look it up as written",
    )


def _judge_later(unknown_tasks: Any) -> None:
    """A Fail when a task registered between two calls is still reported as unknown."""
    if LATER_TASK in app.tasks:  # left by a check that was interrupted
        app.tasks.unregister(LATER_TASK)
    before = _unknown(unknown_tasks, LATER_SCHEDULE)
    if before != ["trials"]:
        raise Fail(
            f"for an entry 'trials' sending {LATER_TASK!r}, which no task is registered as, "
            f"and a job, it returned {before}, expected ['trials']",
            hint="look each entry's 'task' up in app.tasks as written",
        )

    def expire_trial_accounts(**kwargs: Any) -> dict[str, Any]:
        return periodic.record_run("expire_trial_accounts", **kwargs)

    app.task(name=LATER_TASK, shared=False)(expire_trial_accounts)
    try:
        after = _unknown(unknown_tasks, LATER_SCHEDULE)
    finally:
        app.tasks.unregister(LATER_TASK)
    if after:
        raise Fail(
            f"once a task was registered as {LATER_TASK!r} (a module imported, a job added "
            f"as in guide 004 §7), it still returned {after}",
            hint="read app.tasks at every call: a copy kept from an earlier call (a global, "
            "a default argument) misses the tasks registered since",
        )


#: A misspelt Celery built-in (the task is celery.backend_cleanup), the built-in itself, and
#: a job: Celery's own names are looked up like any other (adversary round 8).
BUILTIN_SCHEDULE = {
    "results-cleanup": {"task": "celery.backend_clean", "schedule": crontab(hour=4, minute=0)},
    "backend-cleanup": GOOD_SCHEDULE["backend-cleanup"],
    "stats": {"task": "platform.update_all_users_statistics", "schedule": 600.0},
}
BUILTIN_EXPECTED = ["results-cleanup"]
#: Every task registered, though the entries hold other slips (an hour without a minute, a
#: demo interval, arguments a job does not take): none is reported (adversary round 8).
SLIPS_SCHEDULE = {
    "cleanup": {"task": "platform.cleanup_long_inactive_chats", "schedule": crontab(hour=2)},
    "stats": {"task": "platform.update_all_users_statistics", "schedule": 0.5},
    "coupons": {"task": "platform.check_expired_coupons", "schedule": 300.0, "args": (7,)},
}
#: A job registered in the course app only, and one registered in another app only.
RENEW_TASK = "platform.renew_pro_subscriptions"
PARTNER_TASK = "platform.sync_partner_accounts"
CURRENT_SCHEDULE = {
    "renewals": {"task": RENEW_TASK, "schedule": 300.0},
    "partners": {"task": PARTNER_TASK, "schedule": 300.0},
    "stats": {"task": "platform.update_all_users_statistics", "schedule": 600.0},
}
CURRENT_EXPECTED = ["partners"]


def _judge_builtins_looked_up(unknown_tasks: Any) -> None:
    """A Fail when a misspelt ``celery.*`` name is not reported."""
    got = _unknown(unknown_tasks, BUILTIN_SCHEDULE)
    if got == BUILTIN_EXPECTED:
        return
    problem = (
        "for the task names 'celery.backend_clean' (a misspelt built-in), "
        f"'celery.backend_cleanup' and 'platform.update_all_users_statistics' it returned {got}, "
        f"expected {BUILTIN_EXPECTED}"
    )
    missed = "results-cleanup" not in got
    raise Fail(
        problem,
        hint="'celery.backend_clean' starts like Celery's own names but is none of them (the "
        "built-in is celery.backend_cleanup): beat sends it as written and no worker knows it; "
        "look every name up in app.tasks, celery.* ones too"
        if missed
        else "look each entry's 'task' up in app.tasks as written",
    )


def _judge_task_objects(unknown_tasks: Any) -> None:
    """A Fail when an entry whose ``task`` is a Task object, not a name, is not reported."""
    task = app.tasks["platform.cancel_expired_tasks"]
    sched = {
        "cancel-expired": {"task": task, "schedule": 60.0},
        "stats": {"task": "platform.update_all_users_statistics", "schedule": 600.0},
    }
    problem = (
        "for an entry 'cancel-expired' whose 'task' is the Task object "
        "platform.cancel_expired_tasks, not its name, and a right one"
    )
    hint = (
        "beat sends entry['task'] as the message's task name, and a Task object is no name: the "
        "worker refuses the run as NotRegistered, so the entry never runs; report it: look "
        "entry['task'] up in app.tasks as it is (its keys are names), not its .name"
    )
    try:
        got = _unknown(unknown_tasks, sched)
    except (Fail, NotYet):
        raise
    except Exception as exc:
        raise Fail(f"{problem}, it raised {error_text(exc)}", hint=hint) from None
    if got == ["cancel-expired"]:
        return
    raise Fail(f"{problem}, it returned {got}, expected ['cancel-expired']", hint=hint)


def _judge_names_only(unknown_tasks: Any) -> None:
    """A Fail when it reports an entry whose task is registered, for another slip."""
    got = _unknown(unknown_tasks, SLIPS_SCHEDULE)
    if not got:
        return
    raise Fail(
        "for a schedule whose every task is registered, though its entries hold other slips "
        "(crontab(hour=2) without minute=, a 0.5 s interval, args a job does not take), it "
        f"returned {got}: their tasks are in app.tasks",
        hint="report the entries whose task is not registered, and only those: whatever else "
        "is wrong with an entry is for another check to say, and a deployment refusing to "
        "start beat over a name that is right would look for a typo that is not there",
    )


@functools.cache
def _other_app() -> Any:
    """An app of its own (not the course's), which knows :data:`PARTNER_TASK` only."""
    from celery import Celery

    other = Celery("course-check-other", set_as_current=False)

    def sync_partner_accounts() -> None:
        return None

    other.task(name=PARTNER_TASK, shared=False)(sync_partner_accounts)
    return other


def _judge_current_app(unknown_tasks: Any) -> None:
    """A Fail when it reads another app's registry than ``app``'s (``celery.current_app``)."""
    if RENEW_TASK in app.tasks:  # left by a check that was interrupted
        app.tasks.unregister(RENEW_TASK)

    def renew_pro_subscriptions(**kwargs: Any) -> dict[str, Any]:
        return periodic.record_run("renew_pro_subscriptions", **kwargs)

    app.task(name=RENEW_TASK, shared=False)(renew_pro_subscriptions)
    try:
        got = _unknown(unknown_tasks, CURRENT_SCHEDULE, current=_other_app())
    finally:
        app.tasks.unregister(RENEW_TASK)
    if got == CURRENT_EXPECTED:
        return
    raise Fail(
        f"called while another app was the current one (celery.current_app: a Celery() made in "
        f"the kernel without set_as_current=False becomes it), for {RENEW_TASK!r}, registered "
        f"in app, and {PARTNER_TASK!r}, registered only in that other app, it returned {got}, "
        f"expected {CURRENT_EXPECTED}",
        hint="look the names up in app.tasks, the app whose beat and workers run the schedule: "
        "current_app is whichever app was made or set current last, which need not be that one",
    )


@exercise("06.3", "catch a task name typo", points=2)
def _typos(unknown_tasks: Any) -> str:
    unknown_tasks = need_function(
        unknown_tasks, "unknown_tasks", "unknown_tasks(schedule)", purpose="reads app.tasks"
    )
    _registry()
    _given_before.clear()
    got = _unknown(unknown_tasks, TYPO_SCHEDULE)
    if got == TYPO_EXPECTED:
        _judge_clean(unknown_tasks)
        padded = _unknown(unknown_tasks, PADDED_SCHEDULE)
        if padded != PADDED_EXPECTED:
            names = ", ".join(repr(PADDED_SCHEDULE[n]["task"]) for n in PADDED_EXPECTED)
            raise Fail(
                f"for the task names {names} it returned {padded}, expected {PADDED_EXPECTED}",
                hint="beat sends the name as written, space or line break included, and no "
                "worker knows that name: look it up exactly as written, without strip()",
            )
        _judge_bare(unknown_tasks)
        _judge_shared(unknown_tasks)
        _judge_patterns(unknown_tasks)
        _judge_later(unknown_tasks)
        _judge_builtins_looked_up(unknown_tasks)
        _judge_task_objects(unknown_tasks)
        _judge_names_only(unknown_tasks)
        _judge_current_app(unknown_tasks)
        return (
            "15 unknown names caught (a typo, the wrong case, a module path, a space or a line "
            "break around a name, a function's name, the end of a name, an empty name, two "
            "entries sharing a typo, a dot or a star where a pattern would match, a misspelt "
            "celery.* name, a Task object instead of a name), none invented (Celery's own tasks "
            "and entries with other slips included), a task registered between two calls "
            "found, app's tasks read while another app was current, nothing sent, the schedule "
            "left as it was (its entries and their schedules, in their order), and so was the "
            "course app"
        )
    tasks = sorted(TYPO_SCHEDULE[name]["task"] for name in TYPO_EXPECTED)
    if got == tasks:
        raise Fail(f"it returned task names {got}", hint="return the entries' names (the keys)")
    problem = f"it returned {got}, expected {TYPO_EXPECTED}"
    missed = [name for name in TYPO_EXPECTED if name not in got]
    if got and missed and set(got) < set(TYPO_EXPECTED):
        alone = _unknown(unknown_tasks, {name: TYPO_SCHEDULE[name] for name in missed})
        if alone:
            raise Fail(
                f"{problem}: given alone, {alone} are found too, so it stops after the first "
                "unknown entry",
                hint="collect every unknown entry and return the list after the loop (or a "
                "list comprehension), not from inside it",
            )
    invented = [name for name in got if name in TYPO_SCHEDULE and name not in TYPO_EXPECTED]
    if invented:
        task = TYPO_SCHEDULE[invented[0]]["task"]
        problem = f"{problem}: {invented} send registered tasks ({task!r} is in app.tasks)"
        if not _unknown(unknown_tasks, {"backend-cleanup": GOOD_SCHEDULE["backend-cleanup"]}):
            # it knows a task that is neither a chapter job nor 'platform.': a registry, but
            # one read before these tasks were registered
            raise Fail(
                f"{problem}, though it knows 'celery.backend_cleanup': it reads a copy of the "
                "registry taken before these tasks were registered (the set-up cell's worker "
                "imports their modules)",
                hint="read app.tasks at every call: a copy kept from an earlier moment (a "
                "global, a default argument) misses the tasks registered since",
            )
        raise Fail(
            problem,
            hint="a task need not be one of the chapter's jobs nor start with 'platform.': "
            "look each entry's 'task' up in app.tasks, the names the worker knows",
        )
    if set(got) == {"coupons", "points"}:
        hint = (
            "'platform.cancel_expired_task' is part of the registered name "
            "'platform.cancel_expired_tasks', not that name: compare whole names "
            "(entry['task'] not in app.tasks), not substrings"
        )
    elif set(got) == {"cancel-expired", "coupons"}:
        hint = (
            "check_expired_points is registered as 'platform.check_expired_points' (its "
            "name=), not under its module path: compare whole names (name in app.tasks)"
        )
    elif set(got) == {"cancel-expired", "points"}:
        hint = "task names are case-sensitive: do not lower() them"
    elif not got:
        nowhere = _unknown(unknown_tasks, {**NOWHERE_A, **NOWHERE_B})
        if not set(nowhere) & {*NOWHERE_A, *NOWHERE_B}:
            tasks = ", ".join(repr(e["task"]) for e in (*NOWHERE_A.values(), *NOWHERE_B.values()))
            raise Fail(
                f"{problem}; given a schedule whose every task is unknown ({tasks}), it "
                f"returned {nowhere}: it reports none of the entries of the schedule it is given",
                hint="loop over the schedule it is given (its argument: schedule.items(), not "
                "app.conf.beat_schedule or a table of your own) and report each entry whose "
                "'task' is not in app.tasks",
            )
        hint = "beat sends whatever name you write: look each entry's 'task' up in app.tasks"
    else:
        hint = (
            "compare whole names, entry['task'] not in app.tasks: a module path or another "
            "case is another name"
        )
    raise Fail(problem, hint=hint)


# --------------------------------------------------------------------------- 06.4

VIP_JOB = "platform.expire_vip_memberships"
VIP = _Job(VIP_JOB, every=300, said="5 minutes: 300.0 (or crontab(minute='*/5'))")


def _exactly(value: Any, want: Any) -> bool:
    """``value == want`` with the same types all the way down (100.0 and True are not 100)."""
    if type(value) is not type(want):
        return False
    if isinstance(want, dict):
        return value.keys() == want.keys() and all(_exactly(value[k], want[k]) for k in want)
    return bool(value == want)


def _vip_hint(sched: Any, times: list[datetime], truncated: bool) -> str:
    zone = _zone_hint(sched, "expire-vip-memberships", UTC)
    if zone:
        return zone
    if truncated or (_interval(sched) and len(times) > 288):
        return f"a float schedule is in seconds: every {VIP.said}"
    return _every_hint(VIP, sched, len(times), "expire-vip-memberships")


@exercise("06.4", "a job registered by its explicit name", points=2)
def _vip(vip_entry: Any) -> str:
    _registry()
    _judge_course_schedule(
        "vip_entry",
        lambda name, entry: (
            entry is vip_entry
            or name == "expire-vip-memberships"
            or (isinstance(entry, Mapping) and entry.get("task") == VIP_JOB)
        ),
        "make vip_entry a dict of its own and leave the course app's beat_schedule as it is: "
        "the check puts it in a schedule of its own; guide 004 §7 adds it to the project's "
        "app's beat_schedule, not to the course app's",
    )
    entry = _need_entry("expire-vip-memberships", vip_entry)
    if entry["task"] != VIP_JOB:
        raise Fail(f"it sends {entry['task']}", hint=f"the job is {VIP_JOB}")
    if entry.get("args"):
        raise Fail(
            f"it passes args={tuple(entry['args'])}: the job takes keyword arguments only",
            hint='pass "kwargs": {"batch_size": 100}',
        )
    kwargs = entry.get("kwargs")
    kwargs = dict(kwargs) if isinstance(kwargs, Mapping) else kwargs
    if not _exactly(kwargs, {"batch_size": 100}):
        hint = 'the job expects "kwargs": {"batch_size": 100}'
        if isinstance(kwargs, dict) and kwargs.get("batch_size") == 100 and len(kwargs) == 1:
            hint = "batch_size is a count: the int 100, not " + repr(kwargs["batch_size"])
        raise Fail(f"its kwargs are {kwargs!r}", hint=hint)
    entries = {"expire-vip-memberships": entry}
    for day in DAYS:
        midnight = _midnight(day, UTC)
        sim = beat.simulate(entries, midnight, DAY, timezone="UTC", limit=400)
        times = sim.times("expire-vip-memberships")
        expected = VIP.times(midnight)
        if times == expected:
            continue
        count = f"over {len(times)}" if sim.truncated else str(len(times))
        diff = _difference(times, expected, UTC)
        if day == DAYS[0]:
            problem = (
                f"in the 24 hours from Mon 1 June 2026 00:00 it fired {count} times, not 288 "
                f"(00:05 to 24:00, every 5 minutes): {diff}"
            )
        else:
            problem = (
                f"Mon 1 June 2026 is right, but on {_day(day)} it fired {count} times, not 288: "
                f"{diff}"
            )
        raise Fail(problem, hint=_vip_hint(entry["schedule"], times, sim.truncated))
    sent = _send(entries, _midnight(DAYS[0], UTC), "UTC")
    hint = _args_hint(
        'the job takes keyword arguments only: leave out "args", pass "kwargs": {"batch_size": 100}'
    )
    ran = _worker_runs(sent, UTC, hint)[0]["kwargs"]
    if not _exactly(ran, {"batch_size": 100}):
        raise Fail(
            f"the worker got the arguments {ran!r}", hint='pass "kwargs": {"batch_size": 100}'
        )
    return (
        f"sent as {VIP_JOB} every 5 minutes on {len(DAYS)} days of every weekday and month; "
        f"the worker ran it with {ran}"
    )
