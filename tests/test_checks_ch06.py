"""Chapter 06: the checks on right and wrong answers, and the beat service, against a worker.

Each exercise: its right answers (every spelling the exercise text allows), then the wrong
ones, each with the problem and hint it gets; those named after an adversary round's answers
(``.adversary/ch06_r1.py``) keep its names as ids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from celery.schedules import crontab
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import app, beat, runtime
from course_tasks.tasks import periodic

pytestmark = pytest.mark.usefixtures("worker")

# --------------------------------------------------------------------------- 06.1


def test_06_1_right_answers() -> None:
    assert_passed(verdict("06.1", crontab(hour=7, minute=30, day_of_week="1-5")), "261 runs")
    assert_passed(verdict("06.1", crontab(hour=7, minute=30, day_of_week="mon-fri")))
    assert_passed(verdict("06.1", crontab(hour="7", minute="30", day_of_week="1,2,3,4,5")))
    every_month = crontab(hour=7, minute=30, day_of_week="1-5", month_of_year="*")
    assert_passed(verdict("06.1", every_month))


def desk(**fields: object) -> crontab:
    return crontab(**{"hour": 7, "minute": 30, "day_of_week": "1-5", **fields})


SUNDAY = 'in crontab 0 is Sunday, 1 Monday, ..., 6 Saturday, so Monday to Friday is "1-5"'
LOCAL_HOURS = "Shanghai time: beat reads crontab hours in app.conf.timezone"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(desk(minute="*"), "over 100 runs",
                     "without minute=, crontab fires every minute of the hour: add minute=30",
                     id="minute-missing"),
        pytest.param(desk(day_of_week=1), "2 runs", f"day_of_week=1 is Monday only: {SUNDAY}",
                     id="monday-only"),
        pytest.param(crontab(hour=7, minute=30), "14 runs", "it fires at the weekend too",
                     id="every-day"),
        pytest.param(desk(day_of_week="0-4"), "10 runs: Mon 07:30",
                     f'day_of_week="0-4" is Sunday to Thursday: {SUNDAY}', id="monday-is-zero"),
        pytest.param(desk(day_of_week="2-6"), "10 runs: Tue 07:30",
                     f'day_of_week="2-6" is Tuesday to Saturday: {SUNDAY}',
                     id="sunday-is-one"),
        pytest.param(crontab(hour=23, minute=30, day_of_week="0-4"), "Mon 23:30",
                     f"it fires at 23:30 {LOCAL_HOURS}", id="utc-by-hand"),
        pytest.param(desk(hour=15), "Mon 15:30", f"it fires at 15:30 {LOCAL_HOURS}",
                     id="utc-wrong-way"),
        pytest.param(crontab(hour=7, minute=30, day_of_month="1-5"), "5 runs: Mon 07:30",
                     'day_of_month="1-5" picks days of the month (1-31), not weekdays',
                     id="day-of-month"),
        pytest.param(desk(day_of_month="1-14"),
                     "the first two weeks are right, but in the year from Mon 1 June 2026 it "
                     "fired 120 times, not 261: no run at Mon 15 Jun 2026 07:30",
                     'day_of_month="1-14" picks days of the month', id="first-two-weeks"),
        pytest.param(desk(day_of_month="1-28"), "no run at Mon 29 Jun 2026 07:30",
                     'day_of_month="1-28" picks days of the month', id="no-29th-to-31st"),
        pytest.param(desk(month_of_year=6),
                     "fired 22 times, not 261: no run at Wed 1 Jul 2026 07:30",
                     "month_of_year=6 keeps it to June only: leave it out", id="june-only"),
        pytest.param(desk(month_of_year="1-11"), "no run at Tue 1 Dec 2026 07:30",
                     "month_of_year=\"1-11\" keeps it to January to November: leave it out",
                     id="no-december"),
        pytest.param(450.0, "over 100 runs", "a number of seconds repeats", id="seconds"),
        pytest.param("7:30", "a str, not a schedule", "use crontab(...)", id="a-string"),
    ],
)  # fmt: skip
def test_06_1_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.1", answer), problem, hint)


# --------------------------------------------------------------------------- 06.2

TABLE = {
    "process-customer-service-queue": {
        "task": "platform.process_customer_service_queue",
        "schedule": 30.0,
    },
    "cancel-expired-tasks": {"task": "platform.cancel_expired_tasks", "schedule": 60.0},
    "update-all-users-statistics": {
        "task": "platform.update_all_users_statistics",
        "schedule": crontab(minute="*/10"),
    },
    "cleanup-long-inactive-chats": {
        "task": "platform.cleanup_long_inactive_chats",
        "schedule": crontab(hour=2, minute=0),
    },
}
CLEANUP = "cleanup-long-inactive-chats"
STATS = "update-all-users-statistics"
QUEUE = "process-customer-service-queue"
CANCEL = "cancel-expired-tasks"


def jobs(**changes: dict[str, object] | None) -> dict[str, dict[str, object]]:
    """The table with some entries changed (a dict of changes; None: left out), by their
    names with _ for -; a name not in the table adds an entry."""
    table = {name: dict(entry) for name, entry in TABLE.items()}
    for key, change in changes.items():
        name = key.replace("_", "-")
        if change is None:
            del table[name]
        else:
            table[name] = {**table.get(name, {}), **change}
    return table


def test_06_2_right_answers() -> None:
    assert_passed(verdict("06.2", jobs()), "every entry sent once and run by the worker")
    spelled = jobs(
        process_customer_service_queue={"schedule": timedelta(seconds=30)},
        cancel_expired_tasks={"schedule": crontab()},
        update_all_users_statistics={"schedule": 600},
    )
    assert_passed(verdict("06.2", spelled))
    # options that change nothing for the worker, and entries beyond the table's four
    options = jobs(
        process_customer_service_queue={"options": {"expires": 25}},
        cancel_expired_tasks={"options": {"queue": "celery"}, "args": ()},
        auto_end_timeout_chats={"task": "platform.auto_end_timeout_chats", "schedule": 30.0},
        heartbeat={"task": "course_tasks.tasks.maintenance.heartbeat", "schedule": 30.0},
    )
    assert_passed(verdict("06.2", options), "every entry (and 2 more entries) sent once")


ONCE_AT_2 = "expected once, at 02:00"
EVERY_DAY = "leave it out, and it runs every day"
UNREAD = "which no worker reads, so it never runs"
LEAVE_QUEUE_OUT = "leave the queue out of its options: the course's worker reads 'celery'"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(jobs(process_customer_service_queue={"schedule": 1800.0}),
                     "ran 48 times in 24 hours", "minutes and seconds mixed up?",
                     id="minutes-for-seconds"),
        pytest.param(jobs(cancel_expired_tasks={"schedule": 1.0}), "fired",
                     "a float schedule is in seconds", id="every-second"),
        pytest.param(jobs(update_all_users_statistics={"schedule": 10.0}),
                     "update-all-users-statistics ran 8640 times in 24 hours (first at "
                     "00:00:10); expected 144", "minutes and seconds mixed up? Every 10 minutes",
                     id="stats-10-seconds"),
        pytest.param(jobs(update_all_users_statistics={"schedule": crontab(minute=10)}),
                     "ran 24 times", "crontab(minute=10) is 10 past every hour",
                     id="ten-past-every-hour"),
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": crontab(hour=2)}),
                     f"ran 60 times in 24 hours (first at 02:00); {ONCE_AT_2}",
                     "without minute=, crontab(hour=2) fires every minute", id="cleanup-hour-only"),
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": crontab(hour=3, minute=0)}),
                     f"{CLEANUP} ran once in 24 hours, at 03:00, not at 02:00",
                     "hour=3 fires at 03:00: the check's app runs in UTC", id="at-three"),
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": crontab(hour=18, minute=0)}),
                     f"{CLEANUP} ran once in 24 hours, at 18:00, not at 02:00",
                     "hour=18 fires at 18:00: the check's app runs in UTC (timezone = 'UTC') and "
                     "beat reads crontab hours in it", id="cleanup-utc-by-hand"),
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": 86400.0}),
                     f"{CLEANUP} ran once in 24 hours, at 00:00, not at 02:00",
                     "a number of seconds repeats from when beat starts (here 00:00",
                     id="cleanup-every-24h"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": crontab(hour=2, minute=0, day_of_week=1)}),
                     f"Mon 1 Jun 2026 is right, but {CLEANUP} never ran on Sat 18 Jul 2026; "
                     f"{ONCE_AT_2}",
                     f"day_of_week=1 keeps it to Monday only: {EVERY_DAY}", id="cleanup-mondays"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": crontab(hour=2, minute=0, day_of_month=1)}),
                     f"{CLEANUP} never ran on Sat 18 Jul 2026",
                     f"day_of_month=1 keeps it to the 1st of the month only: {EVERY_DAY}",
                     id="cleanup-first-of-month"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": crontab(hour=2, minute=0, day_of_month="1-28")}),
                     f"{CLEANUP} never ran on Mon 30 Nov 2026",
                     'day_of_month="1-28" keeps it to the 1st to the 28th', id="cleanup-no-30th"),
        pytest.param(jobs(cancel_expired_tasks={"schedule": crontab(day_of_week="1-5")}),
                     f"Mon 1 Jun 2026 is right, but {CANCEL} ran 0 times on Sat 18 Jul 2026",
                     f'day_of_week="1-5" keeps it to Monday to Friday: {EVERY_DAY}',
                     id="cancel-workdays-only"),
        pytest.param(jobs(update_all_users_statistics={
                         "schedule": crontab(minute="*/10", month_of_year="1-11")}),
                     f"{STATS} ran 143 times on Mon 30 Nov 2026 (first at 00:10); expected 144",
                     f'month_of_year="1-11" keeps it to January to November: {EVERY_DAY}',
                     id="stats-not-in-december"),
        pytest.param(jobs(update_all_users_statistics={
                         "schedule": crontab(minute="*/10", hour="0-22")}),
                     f"{STATS} ran 138 times in 24 hours",
                     'hour="0-22" keeps it to 00:00 to 22:00: leave hour out',
                     id="stats-not-at-eleven-pm"),
        pytest.param({name.replace("-", "_"): entry for name, entry in TABLE.items()},
                     "no entry named 'process-customer-service-queue'", "use the entry names",
                     id="underscore-names"),
        pytest.param({name: {**entry, "task": str(entry["task"]).removeprefix("platform.")}
                      for name, entry in TABLE.items()},
                     "names the task 'process_customer_service_queue', which no worker knows",
                     "a typo or a module path", id="no-prefix"),
        pytest.param(jobs(cancel_expired_tasks={
                         "task": "course_tasks.tasks.periodic.cancel_expired_tasks"}),
                     "which no worker knows", "a typo or a module path", id="module-path"),
        pytest.param(jobs(cancel_expired_tasks={"task": "platform.cancel_expired_task"}),
                     "names the task 'platform.cancel_expired_task', which no worker knows",
                     "a typo or a module path", id="typo-task"),
        pytest.param(jobs(update_all_users_statistics=None),
                     "no entry named 'update-all-users-statistics'", "use the entry names",
                     id="missing-entry"),
        pytest.param({**jobs(update_all_users_statistics=None),
                      "update-all-user-statistics": TABLE[STATS]},
                     "no entry named 'update-all-users-statistics'", "use the entry names",
                     id="entry-name-typo"),
        pytest.param(jobs(process_customer_service_queue={"task": "platform.cancel_expired_tasks"},
                          cancel_expired_tasks={"task": "platform.process_customer_service_queue"}),
                     f"entry '{QUEUE}' sends platform.cancel_expired_tasks",
                     "this job is platform.process_customer_service_queue", id="swapped-tasks"),
        pytest.param({name: {**entry, "options": {"queue": "periodic"}}
                      for name, entry in TABLE.items()},
                     f"beat sent {QUEUE} (due Mon 1 Jun 2026 00:00:30) to the queue 'periodic', "
                     + UNREAD, LEAVE_QUEUE_OUT, id="unread-queue"),
        pytest.param(jobs(update_all_users_statistics={"options": {"queue": "statistics"}}),
                     f"beat sent {STATS} (due Mon 1 Jun 2026 00:10) to the queue 'statistics', "
                     + UNREAD, LEAVE_QUEUE_OUT, id="stats-unread-queue"),
        pytest.param(jobs(process_customer_service_queue={"args": (16, 16)}),
                     f"beat could not send {QUEUE} (due Mon 1 Jun 2026 00:00:30): TypeError: "
                     "process_customer_service_queue() takes 0 positional arguments but 2 were "
                     "given", 'guide 004\'s jobs take no arguments: leave out "args"',
                     id="guide001-args"),
        pytest.param(jobs(cleanup_long_inactive_chats={"args": (7,)}),
                     f"beat could not send {CLEANUP} (due Mon 1 Jun 2026 02:00): TypeError: "
                     "cleanup_long_inactive_chats() takes 0 positional arguments but 1 was given",
                     'guide 004\'s jobs take no arguments: leave out "args"', id="cleanup-args"),
        pytest.param(jobs(cleanup_long_inactive_chats={"kwargs": {"days": 7}}),
                     f"the worker ran {CLEANUP} with the arguments {{'days': 7}}",
                     'guide 004\'s jobs take no arguments: leave out "kwargs"',
                     id="cleanup-kwargs"),
        pytest.param(jobs(auto_end_timeout_chats={"task": "platform.auto_end_timeout_chat",
                                                  "schedule": 30.0}),
                     "entry 'auto-end-timeout-chats' names the task "
                     "'platform.auto_end_timeout_chat', which no worker knows",
                     "a typo or a module path", id="extra-entry-typo"),
        pytest.param(jobs(auto_end_timeout_chats={"task": "platform.auto_end_timeout_chats",
                                                  "schedule": 30.0, "options": {"queue": "x"}}),
                     "beat sent auto-end-timeout-chats (due Mon 1 Jun 2026 00:00:30) to the queue "
                     "'x', " + UNREAD, LEAVE_QUEUE_OUT, id="extra-entry-unread-queue"),
    ],
)  # fmt: skip
def test_06_2_wrong_answers(answer: dict, problem: str, hint: str) -> None:
    assert_fails(verdict("06.2", answer), problem, hint)


def test_06_2_wrong_shapes() -> None:
    assert_fails(verdict("06.2", [1, 2]), "not a dict", "beat_schedule is a dict")
    no_schedule = jobs(cancel_expired_tasks=None)
    no_schedule[CANCEL] = {"task": "platform.cancel_expired_tasks"}
    assert_fails(verdict("06.2", no_schedule), "is not a dict with 'task' and 'schedule'",
                 "each entry is")  # fmt: skip


# --------------------------------------------------------------------------- 06.3


def unknown_tasks(schedule):
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


def unknown_loop(schedule):
    known, unknown = set(app.tasks), []
    for name, entry in schedule.items():
        if entry["task"] not in known:
            unknown.append(name)
    return unknown


def unknown_stub(schedule): ...


def unknown_task_names(schedule):
    return [entry["task"] for entry in schedule.values() if entry["task"] not in app.tasks]


def unknown_lowercase(schedule):
    known = {name.lower() for name in app.tasks}
    return [name for name, entry in schedule.items() if entry["task"].lower() not in known]


def unknown_last_part(schedule):
    known = {name.rsplit(".", 1)[-1] for name in app.tasks}
    return [n for n, e in schedule.items() if e["task"].rsplit(".", 1)[-1] not in known]


def unknown_hard_coded(schedule):
    return ["cancel-expired", "coupons", "points"]


def unknown_nothing(schedule):
    return []


def unknown_generator(schedule):
    return (name for name, entry in schedule.items() if entry["task"] not in app.tasks)


def unknown_first_only(schedule):
    for name, entry in schedule.items():
        if entry["task"] not in app.tasks:
            return [name]
    return []


def unknown_chapter_jobs(schedule):
    return [name for name, entry in schedule.items()
            if entry["task"].removeprefix("platform.") not in periodic.JOBS
            or not entry["task"].startswith("platform.")]  # fmt: skip


def unknown_removes_entries(schedule):
    bad = [name for name, entry in schedule.items() if entry["task"] not in app.tasks]
    for name in bad:
        del schedule[name]
    return bad


def unknown_fixes_case(schedule):
    """Right names, but 'repairs' the entries it judged, in the caller's schedule."""
    bad = [name for name, entry in schedule.items() if entry["task"] not in app.tasks]
    for name in bad:
        schedule[name]["task"] = schedule[name]["task"].lower()
    return bad


def unknown_substring(schedule):
    return [name for name, entry in schedule.items()
            if not any(entry["task"] in registered for registered in app.tasks)]  # fmt: skip


def unknown_prefix_only(schedule):
    return [name for name, entry in schedule.items() if not entry["task"].startswith("platform.")]


def unknown_strips(schedule):
    return [name for name, entry in schedule.items() if entry["task"].strip() not in app.tasks]


def test_06_3_right_answers() -> None:
    assert_passed(verdict("06.3", unknown_tasks), "5 unknown names caught")
    assert_passed(verdict("06.3", unknown_loop))


WHOLE_NAMES = "compare whole names, entry['task'] not in app.tasks"
EXPECTED = "expected ['cancel-expired', 'coupons', 'points']"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(unknown_task_names, "it returned task names", "return the entries' names",
                     id="returns-task-names"),
        pytest.param(unknown_lowercase, f"it returned ['cancel-expired', 'points'], {EXPECTED}",
                     "task names are case-sensitive", id="ignore-case"),
        pytest.param(unknown_last_part, f"it returned ['cancel-expired'], {EXPECTED}",
                     WHOLE_NAMES, id="short-name"),
        pytest.param(unknown_hard_coded, "for a schedule with no typo",
                     "look the names up in app.tasks", id="hard-coded"),
        pytest.param(unknown_nothing, "it returned []", "beat sends whatever name you write",
                     id="nothing"),
        pytest.param(unknown_generator, "unknown_tasks returned a generator",
                     "return a list of entry names", id="generator"),
        pytest.param(unknown_first_only,
                     f"it returned ['cancel-expired'], {EXPECTED}: given alone, ['coupons'] are "
                     "found too, so it stops after the first unknown entry",
                     "collect every unknown entry and return the list after the loop",
                     id="first-only"),
        pytest.param(unknown_chapter_jobs,
                     "['cleanup', 'heartbeat'] send registered tasks "
                     "('course_tasks.tasks.maintenance.cleanup_expired_data' is in app.tasks)",
                     "a task need not be one of the chapter's jobs nor start with 'platform.'",
                     id="hard-coded-jobs"),
        pytest.param(unknown_prefix_only, "['cleanup', 'heartbeat'] send registered tasks",
                     "a task need not be one of the chapter's jobs", id="prefix-only"),
        pytest.param(unknown_substring, f"it returned ['coupons', 'points'], {EXPECTED}",
                     "'platform.cancel_expired_task' is part of the registered name",
                     id="substring"),
        pytest.param(unknown_removes_entries,
                     "unknown_tasks deleted the entries ['cancel-expired', 'coupons', 'points'] "
                     "of the schedule it was given", "only read the schedule and return the names",
                     id="removes-entries"),
        pytest.param(unknown_fixes_case,
                     "unknown_tasks changed the entries of the schedule it was given",
                     "only read the schedule", id="changes-entries"),
        pytest.param(unknown_strips,
                     "for the task names ' platform.check_and_end_activities', "
                     "'platform.check_expired_invitation_codes\\n' it returned [], expected "
                     "['activities', 'invitations']",
                     "beat sends the name as written, space or line break included",
                     id="strips"),
    ],
)  # fmt: skip
def test_06_3_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.3", answer), problem, hint)


def test_06_3_stub_is_not_yet() -> None:
    assert "not yet" in verdict("06.3", unknown_stub).feedback


# --------------------------------------------------------------------------- 06.4

VIP = {"task": "platform.expire_vip_memberships", "schedule": 300.0, "kwargs": {"batch_size": 100}}


def vip(**changes: object) -> dict[str, object]:
    return {**VIP, **changes}


def test_06_4_right_answers() -> None:
    assert_passed(verdict("06.4", VIP), "the worker ran it with {'batch_size': 100}")
    assert_passed(verdict("06.4", vip(schedule=crontab(minute="*/5"))))
    assert_passed(verdict("06.4", vip(schedule=timedelta(minutes=5), args=())))
    assert_passed(verdict("06.4", vip(options={"expires": 60})))


FIRST_DAY = "in the 24 hours from Mon 1 June 2026 00:00 it fired"
EVERY_5 = "every 5 minutes: 300.0 (or crontab(minute='*/5'))"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(vip(task="course_tasks.tasks.periodic.expire_vip_memberships"),
                     "which no worker knows", "a typo or a module path", id="module-path"),
        pytest.param(vip(task=periodic.expire_vip_memberships), "has 'task': a",
                     "'task' is the task's registered name", id="task-object"),
        pytest.param({"expire-vip-memberships": VIP}, "is not a dict with 'task' and 'schedule'",
                     "each entry is", id="whole-schedule"),
        pytest.param(vip(schedule=5), f"{FIRST_DAY} over 400 times",
                     "a float schedule is in seconds", id="five-seconds"),
        pytest.param(vip(schedule=crontab(minute=5)), f"{FIRST_DAY} 24 times, not 288",
                     f"crontab(minute=5) is 5 past every hour; {EVERY_5}", id="hourly-at-5"),
        pytest.param(vip(schedule=crontab(minute="5-55/5")),
                     f"{FIRST_DAY} 264 times, not 288 (00:05 to 24:00, every 5 minutes): no run "
                     "at Mon 1 Jun 2026 01:00 (and 23 more missing)",
                     f'minute="5-55/5" leaves out :00 of every hour; {EVERY_5}',
                     id="skips-top-of-hour"),
        pytest.param(vip(schedule=crontab(minute="*/5", hour=0)),
                     f"{FIRST_DAY} 12 times, not 288",
                     'hour=0 keeps it to 00:00 only: leave hour out, and it runs all day',
                     id="only-hour-zero"),
        pytest.param(vip(schedule=crontab(minute="*/5", day_of_week=1)),
                     f"{FIRST_DAY} 287 times, not 288 (00:05 to 24:00, every 5 minutes): no run "
                     "at Tue 2 Jun 2026 00:00",
                     "day_of_week=1 keeps it to Monday only: leave it out, and it runs every day",
                     id="mondays-only"),
        pytest.param(vip(schedule=crontab(minute="*/5", day_of_week="mon-sat")),
                     "Mon 1 June 2026 is right, but on Sat 18 Jul 2026 it fired 287 times, not "
                     "288: no run at Sun 19 Jul 2026 00:00",
                     'day_of_week="mon-sat" keeps it to Monday to Saturday', id="no-sundays"),
        pytest.param(vip(schedule=crontab(minute="*/5", day_of_month="1-28")),
                     "Mon 1 June 2026 is right, but on Fri 28 Aug 2026 it fired 287 times",
                     'day_of_month="1-28" keeps it to the 1st to the 28th of the month only',
                     id="no-29th-to-31st"),
        pytest.param(vip(kwargs=None, args=(100,)), "keyword arguments only", 'pass "kwargs"',
                     id="positional"),
        pytest.param(vip(kwargs={"batch": 100}), "its kwargs are {'batch': 100}",
                     'the job expects "kwargs"', id="wrong-kwarg-name"),
        pytest.param(vip(kwargs={"batch_size": "100"}), "its kwargs are {'batch_size': '100'}",
                     'the job expects "kwargs"', id="string-100"),
        pytest.param(vip(kwargs={"batch_size": 100.0}), "its kwargs are {'batch_size': 100.0}",
                     "batch_size is a count: the int 100, not 100.0", id="float-100"),
        pytest.param(vip(kwargs={"batch_size": 100, "dry_run": True}),
                     "its kwargs are {'batch_size': 100, 'dry_run': True}",
                     'the job expects "kwargs"', id="extra-kwarg"),
        pytest.param(vip(options={"queue": "vip"}),
                     "beat sent expire-vip-memberships (due Mon 1 Jun 2026 00:05) to the queue "
                     "'vip', which no worker reads", "leave the queue out of its options",
                     id="unread-queue"),
    ],
)  # fmt: skip
def test_06_4_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.4", answer), problem, hint)


# --------------------------------------------------------------------------- the beat service


def _until(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Whether ``condition`` became true within ``seconds`` (a ceiling for loaded machines)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _sent(running: beat.Beat, entry: str) -> int:
    """How many times ``running`` has sent ``entry`` (its scheduler's own count)."""
    return int(running.service.scheduler.schedule[entry].total_run_count)


def _beat_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("Beat-")]


def test_a_beat_sends_and_stops_leaving_nothing() -> None:
    periodic.clear_runs()
    running = beat.start({"w": {"task": "platform.send_timeout_warnings", "schedule": 0.2}})
    assert running.alive() and f"beat:{running.name}" in runtime.services()
    assert _until(lambda: periodic.counts()["send_timeout_warnings"] >= 2)
    running.stop()
    ran = periodic.counts()["send_timeout_warnings"]
    time.sleep(0.6)  # three periods: a beat still running would send again
    assert periodic.counts()["send_timeout_warnings"] <= ran + 1  # at most one in flight
    assert not running.alive() and _beat_threads() == []
    assert running.schedule_file.parent == beat.schedule_dir() / running.name
    assert runtime.services() == []


def test_two_beats_send_twice_and_runtime_stop_stops_both() -> None:
    periodic.clear_runs()
    entry = {"w": {"task": "platform.send_timeout_warnings", "schedule": 0.2}}
    a, b = beat.start(entry, name="t-a"), beat.start(entry, name="t-b")
    # Each beat keeps its own schedule, so each sends the entry: twice the runs.
    assert _until(lambda: _sent(a, "w") >= 2 and _sent(b, "w") >= 2)
    assert _until(lambda: periodic.counts()["send_timeout_warnings"] >= 4)
    runtime.stop(quiet=True)  # stops both beats, and the worker
    assert not a.alive() and not b.alive() and _beat_threads() == []
    assert runtime.leftover_threads() == []
    runtime.start(quiet=True)  # the module's worker fixture expects it running


def test_simulate_is_exact_and_sends_real_tasks() -> None:
    periodic.clear_runs()
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    entries = {"c": {"task": "platform.check_expired_coupons", "schedule": crontab(minute="*/5")}}
    sim = beat.simulate(entries, start, timedelta(minutes=21), send=True)
    assert [t.strftime("%H:%M") for t in sim.times("c")] == ["00:05", "00:10", "00:15", "00:20"]
    assert len(sim.task_ids) == 4 and len(set(sim.task_ids)) == 4
    for task_id in sim.task_ids:  # the ids of the tasks really sent: their results arrive
        assert app.AsyncResult(task_id).get(timeout=10)["job"] == "check_expired_coupons"
    assert periodic.counts()["check_expired_coupons"] == 4
    assert beat.simulate(entries, start, timedelta(minutes=21)).task_ids == []  # nothing sent


def test_simulate_reads_crontab_in_the_given_time_zone() -> None:
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    entries = {
        "n": {"task": "platform.cleanup_long_inactive_chats", "schedule": crontab(hour=2, minute=0)}
    }
    sim = beat.simulate(entries, start, timedelta(days=1), timezone="Asia/Shanghai")
    assert [t.astimezone(timezone.utc).strftime("%H:%M") for t in sim.times("n")] == ["18:00"]
    # the learner's crontab was copied, not bound to the simulation's app
    assert entries["n"]["schedule"]._app is None
