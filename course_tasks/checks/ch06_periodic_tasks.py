"""Checks of chapter 06's exercises (``solutions/06_periodic_tasks_solutions.ipynb``).

Every check runs the learner's schedule through Celery's own scheduler
(:func:`course_tasks.beat.simulate`: ``Scheduler.tick`` on a virtual clock from a fixed
"now", under the time zone the exercise names), compares the send times exactly, and sends
real messages that the worker runs, counted in the app-data list of
:mod:`course_tasks.tasks.periodic`:

* 06.1 ``check("06.1", desk_opens)``: a crontab for workdays at 07:30 in Asia/Shanghai;
  two weeks are scheduled and sent;
* 06.2 ``check("06.2", jobs)``: guide 004's table as a ``beat_schedule`` (every 30 s, every
  minute, every 10 minutes, daily at 02:00); one day is scheduled, two minutes sent;
* 06.3 ``check("06.3", unknown_tasks)``: ``unknown_tasks(schedule)`` names the entries whose
  task no worker knows (typos, a module path instead of an explicit ``name=``);
* 06.4 ``check("06.4", vip_entry)``: guide 004 §7's new job, by its explicit name, every
  5 minutes with ``kwargs``; 15 minutes are sent and the worker's runs read back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import BaseSchedule, crontab, schedule

from course_tasks import beat
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import call_bounded, is_stub_body, kind, need_function
from course_tasks.tasks import periodic

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
#: The fixed "now" every check starts from: Monday 1 June 2026, midnight.
MONDAY = datetime(2026, 6, 1)
WAIT_SECONDS = 5.0


def _fmt(when: datetime) -> str:
    return when.strftime("%a %H:%M")


def _need_schedule(value: Any, what: str) -> BaseSchedule:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return schedule(value)
    if not isinstance(value, BaseSchedule):
        raise Fail(
            f"{what} is {kind(value)}, not a schedule",
            hint="use crontab(...) from celery.schedules, or a number of seconds",
        )
    return value


def _worker_ran(job: str, expected: int) -> list[dict[str, Any]]:
    """The worker's runs of ``job``, once it has run ``expected`` of them (bounded wait)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        ran = [run for run in periodic.runs() if run["job"] == job]
        if len(ran) >= expected or time.monotonic() > deadline:
            return ran
        time.sleep(0.02)


def _sent_and_ran(entries: Mapping[str, Any], start: datetime, span: timedelta, tz: str) -> Any:
    """Schedule and really send ``entries`` over ``span``; the simulation, after the worker."""
    periodic.clear_runs()
    sim = beat.simulate(entries, start, span, timezone=tz, send=True, limit=200)
    for name, count in sim.counts().items():
        job = entries[name]["task"].removeprefix("platform.")
        ran = _worker_ran(job, count)
        if len(ran) != count:
            raise Fail(
                f"beat sent {name} {count} times but the worker ran it {len(ran)} times",
                hint="is the worker running? Run the set-up cell at the top again",
            )
    return sim


def _registry() -> None:
    """Register every task of the app's ``include=`` modules, as a worker does at start-up.

    In redis mode the notebook's app only knows the modules it imported; a worker imports
    them all (``app.loader.import_default_modules``), and so does this.
    """
    app.loader.import_default_modules()


# --------------------------------------------------------------------------- 06.1

DESK_JOB = "platform.process_customer_service_queue"


@exercise("06.1", "workdays at 07:30 in Shanghai", points=2)
def _desk(desk_opens: Any) -> str:
    sched = _need_schedule(desk_opens, "desk_opens")
    start = MONDAY.replace(tzinfo=SHANGHAI)
    entries = {"open-desk": {"task": DESK_JOB, "schedule": sched}}
    sim = beat.simulate(entries, start, timedelta(days=14), timezone="Asia/Shanghai", limit=100)
    times = [when.astimezone(SHANGHAI) for when in sim.times("open-desk")]
    expected = [start + timedelta(days=d, hours=7, minutes=30) for d in range(14) if d % 7 < 5]
    if times == expected:
        _sent_and_ran(entries, start, timedelta(days=14), "Asia/Shanghai")
        return "Mon-Fri 07:30 Shanghai time, 10 runs in two weeks, all run by the worker"
    seen = ", ".join(_fmt(t) for t in times[:4]) + (" ..." if len(times) > 4 else "")
    count = f"{'over 100' if sim.truncated else len(times)} runs"
    problem = f"in two weeks (Asia/Shanghai) it fired {count}: {seen or 'never'}"
    hours = {t.hour for t in times}
    minutes = {t.minute for t in times}
    days = {t.weekday() for t in times}
    if len(minutes) > 1 and hours == {7}:
        hint = "without minute=, crontab fires every minute of the hour: add minute=30"
    elif times and hours == {7} and minutes == {30} and days == {0}:
        hint = 'day_of_week=1 is Monday only: use day_of_week="1-5" (or "mon-fri")'
    elif times and hours == {7} and minutes == {30} and (5 in days or 6 in days):
        if days == {6, 0, 1, 2, 3}:
            hint = 'in crontab 0 is Sunday: Monday to Friday is "1-5"'
        else:
            hint = 'it fires at the weekend too: add day_of_week="1-5"'
    elif times and (hours, minutes) == ({23}, {30}):
        hint = (
            "beat reads crontab hours in app.conf.timezone (Asia/Shanghai here): write the "
            "local time, hour=7, not its UTC equivalent"
        )
    elif not isinstance(sched, crontab):
        hint = (
            "a number of seconds repeats from when beat starts; a time of day needs "
            'crontab(hour=7, minute=30, day_of_week="1-5")'
        )
    else:
        hint = 'crontab(hour=7, minute=30, day_of_week="1-5")'
    raise Fail(problem, hint=hint)


# --------------------------------------------------------------------------- 06.2

#: Guide 004 §4's jobs this exercise asks for: entry name -> (task, runs in a day, first run).
TABLE = {
    "process-customer-service-queue": ("platform.process_customer_service_queue", 2880, "00:00"),
    "cancel-expired-tasks": ("platform.cancel_expired_tasks", 1440, "00:01"),
    "update-all-users-statistics": ("platform.update_all_users_statistics", 144, "00:10"),
    "cleanup-long-inactive-chats": ("platform.cleanup_long_inactive_chats", 1, "02:00"),
}
#: 24 hours, midnight to midnight included.
DAY = timedelta(days=1, seconds=1)
EVERY = {
    "process-customer-service-queue": "30 seconds: 30.0",
    "cancel-expired-tasks": "minute: 60.0 (or crontab())",
    "update-all-users-statistics": "10 minutes: 600.0 (or crontab(minute='*/10'))",
}


def _need_entries(jobs: Any, names: list[str]) -> dict[str, Any]:
    _registry()
    if not isinstance(jobs, Mapping):
        raise Fail(
            f"jobs is {kind(jobs)}, not a dict",
            hint='beat_schedule is a dict: {"entry-name": {"task": ..., "schedule": ...}}',
        )
    missing = [name for name in names if name not in jobs]
    if missing:
        raise Fail(f"no entry named {missing[0]!r}", hint="use the entry names the table gives")
    entries = {}
    for name in names:
        entry = jobs[name]
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
        entries[name] = {**entry, "schedule": _need_schedule(entry["schedule"], name)}
    return entries


@exercise("06.2", "guide 004's table as a beat_schedule", points=2)
def _table(jobs: Any) -> str:
    entries = _need_entries(jobs, list(TABLE))
    start = MONDAY.replace(tzinfo=UTC)
    sim = beat.simulate(entries, start, DAY, timezone="UTC", limit=20_000)
    counts = sim.counts()
    if sim.truncated:
        name = max(counts, key=counts.__getitem__)
        late = sim.sends[-1][0].strftime("%H:%M")
        raise Fail(
            f"{name} fired {counts[name]} times before {late}",
            hint="a float schedule is in seconds: every 30 seconds is 30.0, every minute 60.0",
        )
    for name, (task, per_day, first) in TABLE.items():
        if entries[name]["task"] != task:
            raise Fail(
                f"entry {name!r} sends {entries[name]['task']}",
                hint=f"this job is {task}",
            )
        got = counts.get(name, 0)
        times = sim.times(name)
        first_seen = times[0].strftime("%H:%M") if times else "never"
        if got == per_day and first_seen == first:
            continue
        problem = f"{name} ran {got} times in 24 hours (first at {first_seen}); expected {per_day}"
        if name in EVERY:
            hint = f"a float schedule is in seconds; every {EVERY[name]}"
            if got == per_day // 60 or got == per_day * 60:
                hint = f"minutes and seconds mixed up? Every {EVERY[name]}"
            elif got == 24:
                hint = f"crontab(minute=10) is ten past every hour; every {EVERY[name]}"
        elif got == 60:
            hint = "without minute=, crontab(hour=2) fires every minute from 02:00 to 02:59"
        else:
            hint = "crontab(hour=2, minute=0)"
        raise Fail(problem, hint=hint)
    start_minutes = timedelta(minutes=2)
    sent = _sent_and_ran(entries, start, start_minutes, "UTC")
    return (
        f"2880, 1440, 144 and 1 runs a day, the daily one at 02:00; "
        f"{len(sent.sends)} sends in two minutes, all run by the worker"
    )


# --------------------------------------------------------------------------- 06.3

TYPO_SCHEDULE = {
    "end-timeout-chats": {"task": "platform.auto_end_timeout_chats", "schedule": 30.0},
    "cancel-expired": {"task": "platform.cancel_expired_task", "schedule": 60.0},
    "coupons": {"task": "Platform.check_expired_coupons", "schedule": 300.0},
    "points": {"task": "course_tasks.tasks.periodic.check_expired_points", "schedule": 300.0},
    "heartbeat": {"task": "course_tasks.tasks.maintenance.heartbeat", "schedule": 30.0},
    "cleanup": {"task": "course_tasks.tasks.maintenance.cleanup_expired_data",
                "schedule": crontab(hour=2, minute=0)},
}  # fmt: skip
TYPO_EXPECTED = ["cancel-expired", "coupons", "points"]
GOOD_SCHEDULE = {name: TYPO_SCHEDULE[name] for name in ("end-timeout-chats", "heartbeat")}


def _unknown(unknown_tasks: Any, sched: dict[str, Any]) -> list[str]:
    answer = call_bounded(unknown_tasks, sched, seconds=5.0, thread_name="course-check-06")
    if answer is None and is_stub_body(unknown_tasks):
        raise NotYet("write the body of unknown_tasks")
    if not isinstance(answer, (list, tuple, set)):
        raise Fail(f"unknown_tasks returned {kind(answer)}", hint="return a list of entry names")
    return sorted(answer)


@exercise("06.3", "catch a task name typo", points=2)
def _typos(unknown_tasks: Any) -> str:
    unknown_tasks = need_function(
        unknown_tasks, "unknown_tasks", "unknown_tasks(schedule)", purpose="reads app.tasks"
    )
    _registry()
    got = _unknown(unknown_tasks, dict(TYPO_SCHEDULE))
    if got == TYPO_EXPECTED:
        clean = _unknown(unknown_tasks, dict(GOOD_SCHEDULE))
        if clean:
            raise Fail(
                f"for a schedule with no typo it returned {clean}",
                hint="look the names up in app.tasks rather than listing them by hand",
            )
        return "3 unknown names caught (a typo, the wrong case, a module path), none invented"
    tasks = sorted(TYPO_SCHEDULE[name]["task"] for name in TYPO_EXPECTED)
    if got == tasks:
        raise Fail(f"it returned task names {got}", hint="return the entries' names (the keys)")
    problem = f"it returned {got}, expected {TYPO_EXPECTED}"
    if set(got) == {"cancel-expired", "coupons"}:
        hint = (
            "check_expired_points is registered as 'platform.check_expired_points' (its "
            "name=), not under its module path: compare whole names (name in app.tasks)"
        )
    elif set(got) == {"cancel-expired", "points"}:
        hint = "task names are case-sensitive: do not lower() them"
    elif not got:
        hint = "beat sends whatever name you write: look each entry's 'task' up in app.tasks"
    else:
        hint = (
            "compare whole names, entry['task'] not in app.tasks: a module path or another "
            "case is another name"
        )
    raise Fail(problem, hint=hint)


# --------------------------------------------------------------------------- 06.4

VIP_JOB = "platform.expire_vip_memberships"


@exercise("06.4", "a job registered by its explicit name", points=2)
def _vip(vip_entry: Any) -> str:
    entries = _need_entries({"expire-vip-memberships": vip_entry}, ["expire-vip-memberships"])
    entry = entries["expire-vip-memberships"]
    if entry["task"] != VIP_JOB:
        raise Fail(f"it sends {entry['task']}", hint=f"the job is {VIP_JOB}")
    if entry.get("args"):
        raise Fail(
            f"it passes args={tuple(entry['args'])}: the job takes keyword arguments only",
            hint='pass "kwargs": {"batch_size": 100}',
        )
    if entry.get("kwargs") != {"batch_size": 100}:
        raise Fail(
            f"its kwargs are {entry.get('kwargs')!r}",
            hint='the job expects "kwargs": {"batch_size": 100}',
        )
    start = MONDAY.replace(tzinfo=UTC)
    sim = beat.simulate(entries, start, timedelta(minutes=15), timezone="UTC", limit=100)
    times = [t.strftime("%H:%M") for t in sim.times("expire-vip-memberships")]
    if times != ["00:05", "00:10"]:
        hint = "every 5 minutes: 300.0 seconds, or crontab(minute='*/5')"
        seen = ", ".join(times[:3]) or "no time"
        if len(times) > 3:
            seen += f", ... ({'over ' if sim.truncated else ''}{len(times)} runs)"
            hint = f"a float schedule is in seconds: {hint}"
        raise Fail(f"from 00:00 to 00:15 it fired at {seen}", hint=hint)
    _sent_and_ran(entries, start, timedelta(minutes=15), "UTC")
    ran = [r["kwargs"] for r in periodic.runs() if r["job"] == "expire_vip_memberships"]
    return f"sent as {VIP_JOB} at 00:05 and 00:10, the worker ran it with {ran[0]}"
