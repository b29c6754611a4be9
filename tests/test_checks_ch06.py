"""Chapter 06: the checks on right and wrong answers, and the beat service, against a worker.

Each exercise: its right answers (every spelling the exercise text allows), then the wrong
ones, each with the problem and hint it gets; those named after an adversary round's answers
(``.adversary/ch06_rN.py``, rounds 1 to 8) keep its names as ids; a later round's answer that
is the very answer of an earlier row is that row, with a comment naming it.
"""

from __future__ import annotations

import collections
import copy
import fnmatch
import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from celery import Celery, Task, current_app
from celery._state import get_current_app
from celery.beat import ScheduleEntry
from celery.exceptions import NotRegistered
from celery.schedules import crontab, schedule
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
    # bound to the course's app: beat's ScheduleEntry binds it to the app beat runs with
    assert_passed(verdict("06.1", crontab(hour=7, minute=30, day_of_week="1-5", app=app)))
    # tried out on a copy (section 1's next_runs), or under an app in Shanghai (its time zone
    # is then cached, and is the one beat runs with): a beat in Asia/Shanghai fires at 07:30
    on_a_copy = crontab(hour=7, minute=30, day_of_week="1-5")
    next_runs(on_a_copy, SECTION_1_NOW)
    assert_passed(verdict("06.1", on_a_copy))
    in_shanghai = tried(crontab(hour=7, minute=30, day_of_week="1-5", app=SHANGHAI_APP))
    assert str(in_shanghai.tz) == "Asia/Shanghai"
    assert_passed(verdict("06.1", in_shanghai), "261 runs")
    # adversary round 8's cached-shanghai-own-app, judged right: tried out with is_due under
    # an app of its own in Asia/Shanghai, it keeps the desk's own zone (the exercise text
    # allows a kept zone that is Asia/Shanghai), and its fields hold the local time
    own_shanghai = Celery("desk-shanghai", set_as_current=False)
    own_shanghai.conf.timezone = "Asia/Shanghai"
    kept = crontab(hour=7, minute=30, day_of_week="1-5", app=own_shanghai)
    kept.is_due(SECTION_1_NOW)
    assert_passed(verdict("06.1", kept), "261 runs")


def desk(**fields: object) -> crontab:
    return crontab(**{"hour": 7, "minute": 30, "day_of_week": "1-5", **fields})


SUNDAY = 'in crontab 0 is Sunday, 1 Monday, ..., 6 Saturday, so Monday to Friday is "1-5"'
LOCAL_HOURS = "Shanghai time: beat reads crontab hours in app.conf.timezone"
OWN_CLOCK = "reads the time from its own nowfun= (given to it, or set on it since"
NO_NOWFUN = "leave nowfun out: beat asks the app for the time (in app.conf.timezone)"
#: Section 1's fixed "now", Monday 1 June 2026 00:05 UTC.
SECTION_1_NOW = datetime(2026, 6, 1, 0, 5, tzinfo=timezone.utc)
#: An app of its own in UTC, which a crontab can be bound to (beat binds it to its own app).
UTC_APP = Celery(set_as_current=False)
UTC_APP.conf.timezone = "UTC"
#: Section 6's app in Asia/Shanghai, which a crontab can be tried out under.
SHANGHAI_APP = Celery(set_as_current=False)
SHANGHAI_APP.conf.timezone = "Asia/Shanghai"


def tried(sched: crontab) -> crontab:
    """``sched`` once tried out in a cell (round 6): a crontab caches its app's time zone."""
    sched.remaining_estimate(SECTION_1_NOW)
    return sched


def next_runs(sched, now, count=3):
    """Section 1's next_runs: it tries a copy, and leaves the caller's schedule as it was."""
    sched = copy.copy(sched)
    for _ in range(count):
        sched.nowfun = lambda now=now: now
        now = (now.astimezone(timezone.utc) + sched.remaining_estimate(now)).astimezone(now.tzinfo)
    return now


def tried_in_place(sched):
    """``sched`` after section 1's next_runs without its copy (round 6): .nowfun is left set."""
    now = SECTION_1_NOW
    for _ in range(3):
        sched.nowfun = lambda now=now: now
        now = (now.astimezone(timezone.utc) + sched.remaining_estimate(now)).astimezone(now.tzinfo)
    return sched


def nowfun_set(sched):
    """``sched`` with a fixed clock set on it after it was built (round 6)."""
    sched.nowfun = lambda: SECTION_1_NOW
    return sched


BERLIN_APP = Celery(set_as_current=False)
BERLIN_APP.conf.timezone = "Europe/Berlin"
TZ_CACHED = (
    "desk_opens fires in {0}, not in Asia/Shanghai: it was used before it was handed "
    "in (remaining_estimate, is_due, a beat in this kernel) under an app in {0}, and a "
    "crontab keeps the time zone it read then (crontab.tz is a cached property); a beat "
    "binds it to its own app but keeps that zone, so 07:30 is {1} in Asia/Shanghai"
)
#: Round 8: a conversion to UTC by hand that keeps UTC fires right under the check's beat.
BY_HAND = (
    "desk_opens fires at 07:30 Shanghai time here only because of the time zone {} it keeps "
    "(crontab.tz, cached when it was tried out under an app in that zone, or set on it): its "
    'own fields say hour=23, minute=30, day_of_week="0-4" (23:30 on Sunday to Thursday), the '
    "desk's hours converted by hand"
)
WRITE_LOCAL = (
    'write the desk\'s local time, hour=7, minute=30, day_of_week="1-5", with no conversion to '
    "or from UTC and no time zone of its own (never set crontab.tz)"
)
NO_ZONE_OF_ITS_OWN = (
    "build it afresh with no time zone of its own (never set crontab.tz): the beat's "
    "app.conf.timezone, Asia/Shanghai for the desk, says which clock its hours are in"
)
TOKYO_APP = Celery(set_as_current=False)
TOKYO_APP.conf.timezone = "Asia/Tokyo"
SINGAPORE_APP = Celery(set_as_current=False)
SINGAPORE_APP.conf.timezone = "Asia/Singapore"


def tz_set(sched: crontab, zone: object) -> crontab:
    """``sched`` with a time zone set on it by hand (round 8)."""
    sched.tz = zone
    return sched


def due(sched: crontab) -> crontab:
    """``sched`` once asked is_due in a cell: it caches its app's time zone (round 8)."""
    sched.is_due(SECTION_1_NOW)
    return sched


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
                     f"it fires at 23:30 {LOCAL_HOURS}", id="utc-by-hand"),  # and round 2's
        pytest.param(desk(hour=15), "Mon 15:30", f"it fires at 15:30 {LOCAL_HOURS}",
                     id="utc-wrong-way"),  # round 2's utc-wrong-direction
        pytest.param(crontab(hour=7, minute=30, day_of_month="1-5"), "5 runs: Mon 07:30",
                     'day_of_month="1-5" picks days of the month (1-31), not weekdays',
                     id="day-of-month"),  # round 2's day-of-month-1-5
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
        # adversary round 2
        pytest.param(desk(nowfun=lambda: datetime.now(ZoneInfo("Asia/Shanghai"))),
                     f"desk_opens {OWN_CLOCK}", NO_NOWFUN, id="nowfun-shanghai-wall-clock"),
        pytest.param(desk(nowfun=lambda: SECTION_1_NOW), f"desk_opens {OWN_CLOCK}", NO_NOWFUN,
                     id="frozen-nowfun"),
        pytest.param("30 7 * * 1-5", "desk_opens is a str, not a schedule", "use crontab(...)",
                     id="cron-string"),
        pytest.param(desk(nowfun=lambda: SECTION_1_NOW, day_of_week="*"), OWN_CLOCK, NO_NOWFUN,
                     id="frozen-nowfun-every-day"),
        pytest.param(schedule(450.0, nowfun=lambda: SECTION_1_NOW), f"desk_opens {OWN_CLOCK}",
                     NO_NOWFUN, id="interval-with-nowfun"),
        # adversary round 3; its utc-by-hand, python-weekdays, nowfun-real-clock, dom-1-28,
        # fixed-nowfun and cron-string are the rows utc-by-hand, monday-is-zero,
        # nowfun-shanghai-wall-clock, no-29th-to-31st, frozen-nowfun and cron-string
        pytest.param(crontab(hour=23, minute=30, day_of_week="0-4", app=UTC_APP), "Mon 23:30",
                     f"it fires at 23:30 {LOCAL_HOURS}", id="utc-by-hand-pinned-app"),
        pytest.param(crontab(30, 7, "*", "*", "1-5"),
                     "in the two weeks from Mon 1 June 2026 (Asia/Shanghai) it never fired",
                     'month_of_year="1-5" keeps it to January to May: leave it out',
                     id="unix-positional"),
        pytest.param(crontab.from_string("30 7 1-5 * *"), "5 runs: Mon 07:30",
                     'day_of_month="1-5" picks days of the month (1-31), not weekdays',
                     id="from-string-dom"),
        # adversary round 6; its frozen-nowfun and utc-by-hand are the rows frozen-nowfun and
        # utc-by-hand
        pytest.param(desk(nowfun=datetime.now), f"desk_opens {OWN_CLOCK}", NO_NOWFUN,
                     id="naive-nowfun"),
        pytest.param(desk(day_of_month="1-30"),
                     "fired 256 times, not 261: no run at Fri 31 Jul 2026 07:30",
                     'day_of_month="1-30" picks days of the month (1-31), not weekdays',
                     id="day-of-month-1-30"),
        pytest.param(tried_in_place(desk()), f"desk_opens {OWN_CLOCK}", NO_NOWFUN,
                     id="tried-with-next-runs"),
        pytest.param(nowfun_set(desk()), f"desk_opens {OWN_CLOCK}", NO_NOWFUN,
                     id="nowfun-attribute"),
        pytest.param(tried(desk()),
                     "in the two weeks from Mon 1 June 2026 (Asia/Shanghai) it fired 10 runs: "
                     "Mon 15:30, Tue 15:30", TZ_CACHED.format("UTC", "15:30"), id="tz-cached"),
        # the same kind: tried under an app of its own in UTC, or in Berlin
        pytest.param(tried(desk(app=UTC_APP)), "it fired 10 runs: Mon 15:30",
                     TZ_CACHED.format("UTC", "15:30"), id="tz-cached-own-app"),
        pytest.param(tried(desk(app=BERLIN_APP)), "it fired 10 runs: Mon 13:30",
                     TZ_CACHED.format("Europe/Berlin", "13:30"), id="tz-cached-berlin"),
        # adversary round 7; its tried-out-caches-utc, frozen-nowfun and naive-local-nowfun
        # are the rows tz-cached, frozen-nowfun and naive-nowfun; its sets-course-app-timezone
        # is a row of test_an_answer_cell_that_changed_the_course_app
        pytest.param(desk(day_of_week=range(1, 5)), "it fired 8 runs: Mon 07:30, Tue 07:30",
                     f"day_of_week=range(1, 5) is Monday to Thursday: {SUNDAY}",
                     id="range-1-5"),
        # adversary round 8: converted to UTC by hand and kept in UTC (tried out, crontab.tz
        # set, is_due under the course app), so it fires at 07:30 Shanghai under the check's
        # beat; its hand-utc-pinned-app is the row utc-by-hand-pinned-app, and its
        # cached-shanghai-own-app a right answer
        pytest.param(tried(crontab(hour=23, minute=30, day_of_week="0-4")),
                     BY_HAND.format("UTC"), WRITE_LOCAL, id="hand-utc-tried-out"),
        pytest.param(tz_set(crontab(hour=23, minute=30, day_of_week="0-4"), timezone.utc),
                     BY_HAND.format("UTC"), WRITE_LOCAL, id="hand-utc-tz-set"),
        pytest.param(due(crontab(hour=23, minute=30, day_of_week="0-4", app=app)),
                     BY_HAND.format("UTC"), WRITE_LOCAL, id="hand-utc-is-due-course-app"),
        pytest.param(tz_set(desk(), ZoneInfo("Asia/Hong_Kong")),
                     "desk_opens keeps the time zone Asia/Hong_Kong (crontab.tz, set on it or "
                     "cached when it was tried out under an app in that zone), not the desk's "
                     "Asia/Shanghai: its offset from UTC is the same, so the times agree",
                     NO_ZONE_OF_ITS_OWN, id="primed-hong-kong-tz"),
        # the same kinds: a hand conversion to Tokyo time kept in Tokyo, another city of
        # Shanghai's offset cached from an app of its own
        pytest.param(tried(crontab(hour=8, minute=30, day_of_week="1-5", app=TOKYO_APP)),
                     "desk_opens fires at 07:30 Shanghai time here only because of the time zone "
                     "Asia/Tokyo it keeps", WRITE_LOCAL, id="hand-tokyo-kept"),
        pytest.param(tried(desk(app=SINGAPORE_APP)),
                     "desk_opens keeps the time zone Asia/Singapore", NO_ZONE_OF_ITS_OWN,
                     id="cached-singapore"),
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


@app.task(name="notebook.heartbeat_r4")
def notebook_heartbeat() -> str:
    """Round 4's extra job, defined where the learner's cell would define it."""
    return "beat"


def test_06_2_right_answers() -> None:
    assert_passed(verdict("06.2", jobs()), "every entry sent once and run by the worker")
    spelled = jobs(
        process_customer_service_queue={"schedule": timedelta(seconds=30)},
        cancel_expired_tasks={"schedule": crontab()},
        update_all_users_statistics={"schedule": 600},
    )
    assert_passed(verdict("06.2", spelled))
    # options that change nothing for the worker
    options = jobs(
        process_customer_service_queue={"options": {"expires": 25}},
        cancel_expired_tasks={"options": {"queue": "celery"}, "args": ()},
    )
    assert_passed(verdict("06.2", options), "every entry sent once")
    # nobody reads a periodic job's result (chapter section 8): the jobs' own records show
    # they ran; a routing_key with no exchange is replaced by the queue's name, 'celery'
    quiet = {name: {**entry, "options": {"ignore_result": True}} for name, entry in TABLE.items()}
    assert_passed(verdict("06.2", quiet), "every entry sent once and run")
    # round 6: an exchange with no routing_key is replaced by the anonymous exchange and the
    # queue's name, 'celery'; a daily crontab tried out in a cell under the course's app (UTC,
    # the time zone the check's beat runs with) keeps UTC, which is right here
    harmless = jobs(
        cleanup_long_inactive_chats={
            "schedule": tried(crontab(hour=2, minute=0)),
            "options": {"exchange": "periodic"},
        }
    )
    assert_passed(verdict("06.2", harmless), "every entry sent once and run")
    # round 8: publish retries on, said explicitly or with a policy of its own; last_run_at
    # None is beat's default
    retrying = jobs(
        process_customer_service_queue={"options": {"retry": True}},
        cancel_expired_tasks={"options": {"retry_policy": {"max_retries": 5}}},
        update_all_users_statistics={"last_run_at": None},
    )
    assert_passed(verdict("06.2", retrying), "every entry sent once and run")


ALSO_HOLDS = "which the exercise does not ask for"
ONLY_FOUR = "the table's four entries and nothing else"


@pytest.mark.parametrize(
    "extra",
    [
        # entries that run well, once allowed: every entry beyond the table now fails
        pytest.param({"auto-end-timeout-chats": {"task": "platform.auto_end_timeout_chats",
                                                 "schedule": 30.0}}, id="registered-extra"),
        pytest.param({"log-nightly": {"task": "course_tasks.tasks.hooks.log_action",
                                      "args": ("nightly",), "schedule": crontab(hour=1, minute=0)}},
                     id="extra-ignoring-results"),
        # adversary round 5: slips in entries the exercise does not ask for
        pytest.param({"update-featured-task-experts-response-time": {
                         "task": "platform.update_featured_task_experts_response_time",
                         "schedule": crontab(hour=3)}}, id="extra-entry-hour3-slip"),
        pytest.param({"check-expired-coupons": {"task": "platform.check_expired_coupons",
                                                "schedule": crontab(hour=2)}},
                     id="extra-entry-hour2-slip"),
        pytest.param({"heartbeat": {"task": "course_tasks.tasks.maintenance.heartbeat",
                                    "schedule": 0.3}}, id="extra-entry-demo-interval"),
        pytest.param({"expire-vip-memberships": {"task": "platform.expire_vip_memberships",
                                                 "schedule": 300.0,
                                                 "kwargs": {"batch_size": "100"}}},
                     id="extra-vip-str-kwarg"),
    ],
)  # fmt: skip
def test_06_2_only_the_four_entries(extra: dict) -> None:
    assert_fails(verdict("06.2", {**TABLE, **extra}), ALSO_HOLDS, ONLY_FOUR)
    routed = {name: {**entry, "options": {"routing_key": "periodic", "expires": 15}}
              for name, entry in TABLE.items()}  # fmt: skip
    assert_passed(verdict("06.2", routed))


ONCE_AT_2 = "expected once, at 02:00"
#: Round 8: the check's first "now", which an entry's last_run_at anchors every beat to.
MONDAY_UTC = datetime(2026, 6, 1, tzinfo=timezone.utc)
LAST_RUN_AT = "leave last_run_at out: beat sets it to the moment it starts"
KEEP_RETRIES = ("leave retry and retry_policy out: the app's task_publish_retry_policy retries "
                "a send that fails")  # fmt: skip
NO_SHADOW = "leave shadow out: the entry's name is beat's; each run goes by its task's registered"
#: Round 6's absolute expiry: ten minutes after the cell ran.
IN_10_MIN = datetime.now(timezone.utc) + timedelta(minutes=10)
BOTH_SEND = "both send platform.{}: beat sends each entry on its own schedule, so the job ran"
ONE_ENTRY = "one entry per job: delete {!r} (a leftover test entry or a copy)"
DAILY_STATS = "course_tasks.tasks.maintenance.generate_daily_stats"
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
                     "beat reads crontab hours in it", id="cleanup-utc-by-hand"),  # and round 2's
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": 86400.0}),
                     f"{CLEANUP} ran once in 24 hours, at 00:00, not at 02:00",
                     "a number of seconds repeats from when beat starts (here 00:00",
                     id="cleanup-every-24h"),  # round 2's daily-float-86400
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
        # also round 2's options-queue-periodic
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
        # adversary round 2
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": crontab(2, 0)}),
                     f"{CLEANUP} ran once in 24 hours, at 00:02, not at 02:00",
                     "minute=2 is not on the hour: 02:00 is hour=2, minute=0",
                     id="positional-crontab(2, 0)"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": crontab(hour=2, minute=0, nowfun=lambda: SECTION_1_NOW)}),
                     f"{CLEANUP} {OWN_CLOCK}", NO_NOWFUN, id="frozen-nowfun-cleanup"),
        pytest.param(jobs(update_all_users_statistics={"kwargs": {"batch_size": 100}}),
                     f"the worker ran {STATS} with the arguments {{'batch_size': 100}}",
                     'guide 004\'s jobs take no arguments: leave out "kwargs"', id="extra-kwargs"),
        pytest.param(jobs(cancel_expired_tasks={"task": periodic.cancel_expired_tasks}),
                     f"entry '{CANCEL}' has 'task': a", "'task' is the task's registered name",
                     id="task-object"),
        pytest.param(jobs(customer_service_queue=TABLE[QUEUE]),
                     f"the entries '{QUEUE}' and 'customer-service-queue' "
                     + BOTH_SEND.format("process_customer_service_queue")
                     + " 5760 times in 24 hours, not 2880 times",
                     ONE_ENTRY.format("customer-service-queue"), id="duplicate-entry-same-task"),
        pytest.param(jobs(daily_stats={"task": DAILY_STATS, "schedule": crontab(hour=1, minute=0)}),
                     "beat could not send daily-stats (due Mon 1 Jun 2026 01:00): TypeError: "
                     "generate_daily_stats() missing 1 required positional argument: 'day'",
                     "look at what the entry passes its task", id="extra-entry-fails"),
        pytest.param(jobs(cleanup_test={"task": "platform.cleanup_long_inactive_chats",
                                        "schedule": 30.0}),
                     f"the entries '{CLEANUP}' and 'cleanup-test' "
                     + BOTH_SEND.format("cleanup_long_inactive_chats")
                     + " 2881 times in 24 hours, not once",
                     ONE_ENTRY.format("cleanup-test"), id="leftover-fast-test-entry"),
        # the same kinds of mistake: a copy under another schedule, an entry sending the job
        # on a day the table's does not, expiries that drop runs, a task failing unseen
        pytest.param(jobs(cancel_every_minute={"task": "platform.cancel_expired_tasks",
                                               "schedule": crontab()}),
                     f"the entries '{CANCEL}' and 'cancel-every-minute' "
                     + BOTH_SEND.format("cancel_expired_tasks")
                     + " 2880 times in 24 hours, not 1440 times",
                     ONE_ENTRY.format("cancel-every-minute"), id="copy-under-another-name"),
        pytest.param(jobs(cleanup_yearly={"task": "platform.cleanup_long_inactive_chats",
                                          "schedule": crontab(hour=3, minute=0, day_of_month=1,
                                                              month_of_year=1)}),
                     "so the job also runs on the schedule of 'cleanup-yearly'",
                     ONE_ENTRY.format("cleanup-yearly"), id="extra-entry-another-day"),
        pytest.param(jobs(process_customer_service_queue={"options": {"expires": 5}}),
                     f"the options of {QUEUE} expire each run 5 s after beat sends it",
                     "expires is in seconds: give the worker at least 15 s", id="expires-5"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "options": {"expires": datetime(2026, 12, 31)}}),
                     f"the options of {CLEANUP} expire at a fixed moment (2026-12-31 00:00:00)",
                     "give expires in seconds, counted from each send", id="expires-fixed-date"),
        pytest.param(jobs(cancel_expired_tasks={"options": {"expires": timedelta(seconds=50)}}),
                     f"the options of {CANCEL} give expires as a timedelta",
                     "expires is a number of seconds, e.g. 50", id="expires-timedelta"),
        pytest.param(jobs(log_nightly={"task": "course_tasks.tasks.hooks.log_action",
                                       "args": (None,), "schedule": 3600.0}),
                     "the worker had not run log-nightly (due Mon 1 Jun 2026 01:00) 15 s after "
                     "it was sent, or it failed there: its task stores no result",
                     "look at what the entry passes its task", id="extra-entry-fails-unseen"),
        # adversary round 3; its args-copied, cleanup-18-utc, daily-float,
        # cleanup-first-of-month, extra-stats-no-args, hour-two-only, minute-ten and
        # fixed-nowfun-crontab are the rows guide001-args, cleanup-utc-by-hand,
        # cleanup-every-24h, cleanup-first-of-month, extra-entry-fails, cleanup-hour-only,
        # ten-past-every-hour and frozen-nowfun-cleanup
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": crontab(hour=14, minute=0)}),
                     f"{CLEANUP} ran once in 24 hours, at 14:00, not at 02:00",
                     "hour=14 fires at 14:00: the check's app runs in UTC", id="two-pm"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": crontab(hour=2, minute=0, day_of_week="1-5")}),
                     f"Mon 1 Jun 2026 is right, but {CLEANUP} never ran on Sat 18 Jul 2026",
                     f'day_of_week="1-5" keeps it to Monday to Friday: {EVERY_DAY}',
                     id="cleanup-workdays"),
        pytest.param(jobs(expire_vip_memberships={
                         "task": "course_tasks.tasks.periodic.expire_vip_memberships",
                         "schedule": 300.0, "kwargs": {"batch_size": 100}}),
                     "entry 'expire-vip-memberships' names the task "
                     "'course_tasks.tasks.periodic.expire_vip_memberships', which no worker knows",
                     "a typo or a module path", id="extra-vip-module-path"),
        pytest.param(jobs(process_customer_service_queue={"options": {
                         "expires": datetime.now(timezone.utc) + timedelta(minutes=1)}}),
                     f"the options of {QUEUE} expire at a fixed moment",
                     "give expires in seconds, counted from each send", id="expires-absolute"),
        pytest.param(jobs(heartbeat_every_30s={"task": "course_tasks.tasks.maintenance.heartbeat",
                                               "schedule": 30.0, "options": {"expires": 10}}),
                     "the options of heartbeat-every-30s expire each run 10 s after beat sends it",
                     "expires is in seconds: give the worker at least 15 s",
                     id="extra-heartbeat-expires-10"),
        pytest.param(jobs(process_customer_service_queue={"schedule": 60.0},
                          process_customer_service_queue_b={
                              "task": "platform.process_customer_service_queue",
                              "schedule": 60.0}),
                     f"the entries '{QUEUE}' and 'process-customer-service-queue-b' both send "
                     "platform.process_customer_service_queue",
                     ONE_ENTRY.format("process-customer-service-queue-b"), id="two-halves"),
        pytest.param({name: {**entry, "kwargs": {"batch_size": 100}}
                      for name, entry in TABLE.items()},
                     f"the worker ran {QUEUE} with the arguments {{'batch_size': 100}}",
                     'guide 004\'s jobs take no arguments: leave out "kwargs"', id="kwargs-copied"),
        pytest.param(jobs(process_customer_service_queue={
                         "schedule": schedule(30.0, nowfun=lambda: SECTION_1_NOW)}),
                     f"{QUEUE} {OWN_CLOCK}", NO_NOWFUN, id="fixed-nowfun-interval"),
        pytest.param(jobs(cleanup_long_inactive_chats={"options": {"task_id": CLEANUP}}),
                     f"the options of {CLEANUP} give every run the same task id ('{CLEANUP}')",
                     "leave task_id out: Celery gives each run an id of its own",
                     id="fixed-task-id"),
        pytest.param(jobs(cancel_expired_tasks={"options": {"serializer": "pickle"}}),
                     f"the worker had not run {CANCEL} (due Mon 1 Jun 2026 00:01) 15 s after it "
                     "was sent: it was sent with serializer='pickle'", "leave serializer out",
                     id="pickle"),
        pytest.param(jobs(update_all_users_statistics={
                         "options": {"exchange": "periodic", "routing_key": "periodic"}}),
                     f"the worker had not run {STATS} (due Mon 1 Jun 2026 00:10) 15 s after it "
                     "was sent", "send it with no options (queue, routing_key, exchange)",
                     id="exchange"),
        pytest.param(jobs(monthly_stats={"task": DAILY_STATS,
                                         "schedule": crontab(hour=0, minute=0, day_of_month=1)}),
                     "beat could not send monthly-stats (due Wed 1 Jul 2026 00:00): TypeError: "
                     "generate_daily_stats() missing 1 required positional argument: 'day'",
                     "look at what the entry passes its task", id="extra-monthly-no-args"),
        # adversary round 4: a countdown on a job, and an extra job defined in the notebook
        pytest.param(jobs(process_customer_service_queue={"options": {"countdown": 10}}),
                     f"the options of {QUEUE} hold countdown=10",
                     "leave countdown out: the schedule says when the job runs",
                     id="countdown-10"),
        pytest.param(jobs(heartbeat={"task": "notebook.heartbeat_r4", "schedule": 30.0}),
                     "entry 'heartbeat' sends 'notebook.heartbeat_r4', a task defined in "
                     f"{__name__}: only this kernel knows it",
                     "send tasks that live in the project's modules", id="extra-notebook-task"),
        pytest.param(jobs(weekly_stats={"task": DAILY_STATS,
                                        "schedule": crontab(hour=0, minute=0, day_of_week=1)}),
                     "beat could not send weekly-stats (due Mon 8 Jun 2026 00:00): TypeError: "
                     "generate_daily_stats() missing 1 required positional argument: 'day'",
                     "look at what the entry passes its task", id="extra-weekly-no-args"),
        # adversary round 6; its daily-as-86400, daily-hour-only, extra-kwargs and task-object
        # are the rows cleanup-every-24h, cleanup-hour-only, cleanup-kwargs and task-object
        pytest.param(jobs(process_customer_service_queue={"options": {"expires": IN_10_MIN}},
                          cancel_expired_tasks={"options": {"expires": IN_10_MIN}}),
                     f"the options of {QUEUE} expire at a fixed moment",
                     "give expires in seconds, counted from each send", id="absolute-expires"),
        pytest.param(jobs(process_customer_service_queue={
                         "options": {"expires": IN_10_MIN.isoformat()}}),
                     f"the options of {QUEUE} expire at a fixed moment",
                     "give expires in seconds, counted from each send", id="iso-expires"),
        pytest.param(jobs(cleanup_long_inactive_chats={"schedule": timedelta(days=1)}),
                     f"{CLEANUP} ran once in 24 hours, at 00:00, not at 02:00",
                     "a number of seconds repeats from when beat starts (here 00:00",
                     id="daily-as-timedelta"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": tried_in_place(crontab(hour=2, minute=0))}),
                     f"{CLEANUP} {OWN_CLOCK}", NO_NOWFUN, id="daily-tried-with-next-runs"),
        pytest.param(jobs(update_all_users_statistics={
                         "schedule": schedule(timedelta(minutes=10),
                                              nowfun=lambda: SECTION_1_NOW)}),
                     f"{STATS} {OWN_CLOCK}", NO_NOWFUN, id="schedule-frozen-nowfun"),
        pytest.param(jobs(cleanup_long_inactive_chats={"options": {"queue": "periodic"}}),
                     f"beat sent {CLEANUP} (due Mon 1 Jun 2026 02:00) to the queue 'periodic', "
                     + UNREAD, LEAVE_QUEUE_OUT, id="own-queue"),
        # exchange 'periodic' is bound to no queue; 'celery' binds its queue with the key
        # 'celery', not 'periodic'
        *[pytest.param(jobs(cleanup_long_inactive_chats={"options": {
                           "exchange": exchange, "routing_key": "periodic"}}),
                       f"the worker had not run {CLEANUP} (due Mon 1 Jun 2026 02:00) 15 s after "
                       "it was sent", "send it with no options (queue, routing_key, exchange)",
                       id=name)
          for name, exchange in [("exchange-and-key", "periodic"),
                                 ("default-exchange-other-key", "celery")]],
        pytest.param(jobs(update_all_users_statistics={"options": {"serializer": "pickle"}}),
                     f"the worker had not run {STATS} (due Mon 1 Jun 2026 00:10) 15 s after it "
                     "was sent: it was sent with serializer='pickle'", "leave serializer out",
                     id="pickle-stats"),
        pytest.param({(f"{CANCEL} " if name == CANCEL else name): entry
                      for name, entry in TABLE.items()},
                     f"no entry named '{CANCEL}'", "use the entry names", id="name-trailing-space"),
        # the same kind as 06.1's tz-cached: the daily crontab tried out under section 6's
        # Shanghai app keeps Asia/Shanghai, and the check's beat runs in UTC
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": tried(crontab(hour=2, minute=0, app=SHANGHAI_APP))}),
                     f"{CLEANUP} ran once in 24 hours, at 18:00, not at 02:00",
                     f"{CLEANUP} fires in Asia/Shanghai, not in UTC: it was used before it was "
                     "handed in", id="daily-tz-cached-shanghai"),
        # adversary round 7; its frozen-nowfun-intervals, expires-absolute, expires-5s,
        # daily-as-86400, cleanup-cached-shanghai, routing-key-nowhere and expires-iso-string
        # are the rows fixed-nowfun-interval, absolute-expires, expires-5, cleanup-every-24h,
        # daily-tz-cached-shanghai, default-exchange-other-key and iso-expires; its
        # jobs-on-course-app is a row of test_an_answer_cell_that_changed_the_course_app
        pytest.param(jobs(process_customer_service_queue={
                         "schedule": schedule(30.0, nowfun=datetime.now)}),
                     f"{QUEUE} {OWN_CLOCK}", NO_NOWFUN, id="naive-local-nowfun-intervals"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "schedule": timedelta(days=1), "relative": True}),
                     f"{CLEANUP} ran once in 24 hours, at 00:00, not at 02:00",
                     "a number of seconds repeats from when beat starts (here 00:00",
                     id="daily-relative-timedelta"),
        # adversary round 8; its fixed-task-id and cached-shanghai-crontab are the rows
        # fixed-task-id and daily-tz-cached-shanghai
        pytest.param({name: {**entry, "last_run_at": MONDAY_UTC} for name, entry in TABLE.items()},
                     f"entry '{QUEUE}' holds last_run_at = 2026-06-01 00:00:00+00:00: beat counts "
                     "the entry's runs from that moment instead of from when it starts",
                     LAST_RUN_AT, id="last-run-at-anchor"),
        pytest.param({name: {**entry, "options": {"retry": False}}
                      for name, entry in TABLE.items()},
                     f"the options of {QUEUE} turn publish retries off (retry=False)",
                     KEEP_RETRIES, id="no-publish-retry"),
        # the same kinds: a retry_policy with no retries, a shadow name, one anchored entry
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "options": {"retry_policy": {"max_retries": 0}}}),
                     f"the options of {CLEANUP} turn publish retries off (retry_policy="
                     "{'max_retries': 0})", KEEP_RETRIES, id="retry-policy-no-retries"),
        pytest.param(jobs(cancel_expired_tasks={"options": {"shadow": CANCEL}}),
                     f"the options of {CANCEL} send every run under the name '{CANCEL}' (shadow)",
                     NO_SHADOW, id="shadow-entry-name"),
        pytest.param(jobs(cleanup_long_inactive_chats={
                         "last_run_at": datetime(2026, 6, 1, 2, tzinfo=timezone.utc)}),
                     f"entry '{CLEANUP}' holds last_run_at = 2026-06-01 02:00:00+00:00",
                     LAST_RUN_AT, id="last-run-at-nightly"),
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


def unknown_jobs_table(schedule):
    known = {f"platform.{job}" for job in periodic.JOBS}
    return [name for name, entry in schedule.items() if entry["task"] not in known]


_registered_cache = None


def unknown_cached_registry(schedule):
    global _registered_cache
    if _registered_cache is None:
        _registered_cache = frozenset(app.tasks)
    return [name for name, entry in schedule.items() if entry["task"] not in _registered_cache]


def unknown_probe_worker(schedule):
    unknown = []
    for name, entry in schedule.items():
        result = app.send_task(entry["task"], args=entry.get("args", ()),
                               kwargs=entry.get("kwargs", {}))  # fmt: skip
        result.get(timeout=10, propagate=False)
        if result.state == "FAILURE" and type(result.result).__name__ == "NotRegistered":
            unknown.append(name)
    return unknown


def unknown_probe_no_wait(schedule):
    """Sends each task and reads the state at once: nothing waits, but the jobs run."""
    results = {name: app.send_task(entry["task"]) for name, entry in schedule.items()}
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks
            and results[name] is not None]  # fmt: skip


def unknown_probe_eagerly(schedule):
    """Runs each registered task right there to see whether it works."""
    unknown = []
    for name, entry in schedule.items():
        if entry["task"] not in app.tasks:
            unknown.append(name)
        else:
            app.tasks[entry["task"]].apply()
    return unknown


def unknown_suffix_match(schedule):
    return [name for name, entry in schedule.items()
            if not any(t.endswith(entry["task"]) for t in app.tasks)]  # fmt: skip


def unknown_shallow_copy(schedule):
    entries = dict(schedule)
    for entry in entries.values():
        entry["registered"] = entry["task"] in app.tasks
    return [name for name, entry in entries.items() if not entry["registered"]]


def unknown_function_names(schedule):
    known = {getattr(t, "__name__", "") for t in app.tasks.values()} | set(app.tasks)
    return [name for name, entry in schedule.items() if entry["task"] not in known]


def unknown_function_names_only(schedule):
    """Function names and registered names, leaving out empty ones."""
    known = {getattr(t, "__name__", "") for t in app.tasks.values()} | set(app.tasks)
    return [name for name, entry in schedule.items() if not entry["task"]
            or entry["task"] not in known]  # fmt: skip


def unknown_skips_empty(schedule):
    """An empty name taken as "no task given", not as a mistake."""
    return [name for name, entry in schedule.items()
            if entry["task"] and entry["task"] not in app.tasks]  # fmt: skip


def unknown_no_builtins(schedule):
    registered = {t for t in app.tasks if not t.startswith("celery.")}
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_live_view(schedule):
    registered = app.tasks.keys()  # a view of the registry, read when it is used
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_get(schedule):
    return [name for name, entry in schedule.items() if app.tasks.get(entry["task"]) is None]


def unknown_sorted(schedule):
    return sorted(name for name, entry in schedule.items() if entry["task"] not in app.tasks)


def unknown_own_copies(schedule):
    """Reads copies of its own (the caller's dict and entries untouched)."""
    mine = {name: dict(entry) for name, entry in sorted(schedule.items())}
    return [name for name, entry in mine.items() if entry.get("task") not in app.tasks]


# adversary round 3
def unknown_by_task(schedule):
    by_task = {entry["task"]: name for name, entry in schedule.items()}
    return [name for task, name in by_task.items() if task not in app.tasks]


def unknown_by_task_set(schedule):
    missing = {entry["task"] for entry in schedule.values()} - set(app.tasks)
    return [next(n for n, e in schedule.items() if e["task"] == task) for task in missing]


def unknown_registered_prefix(schedule):
    return [name for name, entry in schedule.items()
            if not any(known.startswith(entry["task"]) for known in app.tasks)]  # fmt: skip


def unknown_job_names(schedule):
    return [name for name, entry in schedule.items()
            if entry["task"].removeprefix("platform.") not in periodic.JOBS]  # fmt: skip


def unknown_regex(schedule):
    return [name for name, entry in schedule.items()
            if not any(re.fullmatch(entry["task"], known) for known in app.tasks)]  # fmt: skip


def unknown_sorted_in_place(schedule):
    items = sorted(schedule.items())
    schedule.clear()
    schedule.update(items)
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


@functools.cache
def _is_known(task):
    return task in app.tasks


def unknown_lru_cache(schedule):
    return [name for name, entry in schedule.items() if not _is_known(entry["task"])]


def unknown_setdefault(schedule):
    unknown = []
    for name, entry in schedule.items():
        entry.setdefault("args", ())
        entry.setdefault("kwargs", {})
        entry.setdefault("options", {})
        if entry["task"] not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_entries_copied(schedule):
    for name in schedule:
        schedule[name] = dict(schedule[name])
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


# the same kinds of mistake
def unknown_fnmatch(schedule):
    return [name for name, entry in schedule.items()
            if not fnmatch.filter(app.tasks, entry["task"])]  # fmt: skip


def unknown_counter(schedule):
    """Counts each unknown task once: a name per task."""
    counts = collections.Counter(e["task"] for e in schedule.values() if e["task"] not in app.tasks)
    return [next(n for n, e in schedule.items() if e["task"] == task) for task in counts]


def unknown_reversed_in_place(schedule):
    items = list(schedule.items())[::-1]
    schedule.clear()
    schedule.update(items)
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


def unknown_copies_one_entry(schedule):
    """'Normalises' the first entry by replacing it with an equal copy."""
    first = next(iter(schedule))
    schedule[first] = {**schedule[first]}
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


# adversary round 6
def unknown_joined(schedule):
    registered = " ".join(app.tasks)
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_ask_workers(schedule):
    replies = app.control.inspect(timeout=1.0).registered() or {}
    registered = {name for names in replies.values() for name in names}
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_none_when_clean(schedule):
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks] or None


def unknown_app_beat_schedule(schedule):
    return [name for name, entry in app.conf.beat_schedule.items()
            if entry["task"] not in app.tasks]  # fmt: skip


def unknown_mutable_default(schedule, found=[]):  # noqa: B006 (the mistake)
    for name, entry in schedule.items():
        if entry["task"] not in app.tasks and name not in found:
            found.append(name)
    return found


def unknown_global_list(schedule):
    """The same kind: a list at module level, copied on return."""
    for name, entry in schedule.items():
        if entry["task"] not in app.tasks and name not in _FOUND:
            _FOUND.append(name)
    return list(_FOUND)


_FOUND: list[str] = []


def unknown_dict_result(schedule):
    return {name: entry["task"] for name, entry in schedule.items()
            if entry["task"] not in app.tasks}  # fmt: skip


def unknown_strip_in_place(schedule):
    """Round 7: 'normalises' each task name in the caller's entries on the way."""
    unknown = []
    for name, entry in schedule.items():
        entry["task"] = entry["task"].strip()
        if entry["task"] not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_validates_schedules(schedule):
    """Round 7: 'validates' each schedule on the caller's object: a crontab caches UTC."""
    unknown = []
    for name, entry in schedule.items():
        sched = entry.get("schedule")
        if hasattr(sched, "remaining_estimate"):
            sched.remaining_estimate(app.now())
        if entry["task"] not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_tries_out_schedules(schedule):
    """Round 7: section 1's trick without next_runs' copy: a frozen clock left behind."""
    unknown = []
    for name, entry in schedule.items():
        sched = entry.get("schedule")
        if hasattr(sched, "remaining_estimate"):
            sched.nowfun = lambda: SECTION_1_NOW
            sched.remaining_estimate(SECTION_1_NOW)
        if entry["task"] not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_via_app_conf(schedule):
    """Round 7: installs the schedule on the course app to read it from there."""
    app.conf.beat_schedule = schedule
    return [name for name, entry in app.conf.beat_schedule.items()
            if entry["task"] not in app.tasks]  # fmt: skip


def unknown_update_app_conf(schedule):
    """Round 7: merges the schedule into the course app's (celeryconfig's own) dict."""
    app.conf.beat_schedule.update(schedule)
    return [name for name in schedule if app.conf.beat_schedule[name]["task"] not in app.tasks]


def unknown_is_due(schedule):
    """The same kind as validates-schedules: is_due caches the zone as well."""
    for entry in schedule.values():
        if isinstance(entry["schedule"], crontab):
            entry["schedule"].is_due(app.now())
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


def unknown_intervals_tried(schedule):
    """The same kind as tries-out-schedules, on the interval objects only."""
    for entry in schedule.values():
        if isinstance(entry["schedule"], schedule_type):
            entry["schedule"].nowfun = lambda: SECTION_1_NOW
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


schedule_type = schedule


def unknown_sets_timezone(schedule):
    """The same kind as via-app-conf: another setting of the course app changed."""
    app.conf.timezone = "Asia/Shanghai"
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


def unknown_tries_copies(schedule):
    """Right: it tries each schedule out on a copy, as section 1's next_runs does."""
    for entry in schedule.values():
        if hasattr(entry["schedule"], "remaining_estimate"):
            trial = copy.copy(entry["schedule"])
            trial.nowfun = lambda: SECTION_1_NOW
            trial.remaining_estimate(SECTION_1_NOW)
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


# adversary round 8
def unknown_send_and_see(schedule):
    unknown = []
    for name, entry in schedule.items():
        result = app.send_task(entry["task"])
        result.get(timeout=10, propagate=False)
        if isinstance(result.result, NotRegistered):
            unknown.append(name)
    return unknown


def unknown_course_modules(schedule):
    """Known names: the Task objects of the course_tasks.tasks.* modules."""
    import importlib
    import pkgutil

    import course_tasks.tasks as package

    known = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"course_tasks.tasks.{info.name}")
        known |= {obj.name for obj in vars(module).values() if isinstance(obj, Task)}
    return [name for name, entry in schedule.items() if entry["task"] not in known]


def unknown_schedule_entry(schedule):
    """Builds each entry as beat does: ScheduleEntry binds the caller's crontab to app."""
    unknown = []
    for name, entry in schedule.items():
        parsed = ScheduleEntry(name=name, app=app, **entry)
        if parsed.task not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_current_app(schedule):
    return [name for name, entry in schedule.items() if entry["task"] not in current_app.tasks]


def unknown_task_objects(schedule):
    """A Task object taken as its name, "as add_periodic_task does"."""
    unknown = []
    for name, entry in schedule.items():
        task_name = getattr(entry["task"], "name", entry["task"])
        if task_name not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_trust_celery_prefix(schedule):
    """Celery's own names are never looked up."""
    return [name for name, entry in schedule.items()
            if not entry["task"].startswith("celery.")
            and entry["task"] not in app.tasks]  # fmt: skip


def unknown_plus_hour_slip(schedule):
    """Also reports a crontab with an hour and no minute, whose task is registered."""
    unknown = []
    for name, entry in schedule.items():
        sched = entry.get("schedule")
        slip = (isinstance(sched, crontab) and sched.minute == set(range(60))
                and sched.hour != set(range(24)))  # fmt: skip
        if entry["task"] not in app.tasks or slip:
            unknown.append(name)
    return unknown


# the same kinds: the default app's registry, names that are not str skipped, a demo interval
def unknown_default_app(schedule):
    registry = get_current_app().tasks
    return [name for name, entry in schedule.items() if entry["task"] not in registry]


def unknown_str_only(schedule):
    return [name for name, entry in schedule.items()
            if isinstance(entry["task"], str) and entry["task"] not in app.tasks]  # fmt: skip


def unknown_plus_fast_interval(schedule):
    """Also reports an interval under a second, whose task is registered."""
    return [name for name, entry in schedule.items()
            if entry["task"] not in app.tasks
            or (isinstance(entry["schedule"], float) and entry["schedule"] < 1)]  # fmt: skip


def unknown_names_only(schedule):
    """Right: a task that is not a str is no name beat can send, and is reported."""
    return [name for name, entry in schedule.items()
            if not isinstance(entry["task"], str) or entry["task"] not in app.tasks]  # fmt: skip


def test_06_3_right_answers() -> None:
    assert_passed(verdict("06.3", unknown_tasks), "15 unknown names caught")
    assert_passed(verdict("06.3", unknown_loop))
    assert_passed(verdict("06.3", unknown_live_view))
    assert_passed(verdict("06.3", unknown_get))
    assert_passed(verdict("06.3", unknown_sorted))
    assert_passed(
        verdict("06.3", unknown_own_copies),
        "(its entries and their schedules, in their order), and so was the course app",
    )
    # round 7: trying each schedule out on a copy leaves the caller's schedules as they were
    assert_passed(verdict("06.3", unknown_tries_copies))
    # round 8: what is not a str is reported without a look-up
    assert_passed(verdict("06.3", unknown_names_only), "15 unknown names caught")


WHOLE_NAMES = "compare whole names, entry['task'] not in app.tasks"
CLEANED_IN_PLACE = ("only read the schedule and return the names: beat sends an entry's 'task' "
                    "as the caller wrote it; a name cleaned up in place (strip(), lower(), a "
                    "fix) hides the typo")  # fmt: skip
TZ_LEFT = ("unknown_tasks changed the schedules of the entries it was given: the crontab of "
           "'cleanup' now holds the time zone UTC (crontab.tz is a cached property, which "
           "remaining_estimate() and is_due() fill in) and keeps it under any beat: a beat in "
           "Asia/Shanghai given this schedule fires it at 02:00 UTC, 10:00 in "
           "Shanghai")  # fmt: skip
TRY_A_COPY = "only read the schedule: to try a schedule out, use a copy (copy.copy(entry["
NOWFUN_LEFT = ("unknown_tasks changed the schedules of the entries it was given: the schedule of "
               "{!r} now reads the time from a nowfun of its own")  # fmt: skip
NOWFUN_STAYS = "only read the schedule: a nowfun set on the caller's schedule stays"
NO_APP_CONF = ("only read: look each entry of the schedule it is given (schedule.items()) up in "
               "app.tasks, and write nothing to app.conf")  # fmt: skip
EXPECTED = "expected ['cancel-expired', 'coupons', 'points']"
BARE = ("for the task names 'expire_vip_memberships', 'tasks.maintenance.heartbeat', '' it "
        "returned {}, expected ['blank', 'pulse', 'vip']")  # fmt: skip
ENDS = "'tasks.maintenance.heartbeat' is the end of the registered name"
SENT = "unknown_tasks sent the schedule's tasks (platform.auto_end_timeout_chats"
LOOK_UP = "a name is known when it is in app.tasks: look each entry's 'task' up there"
SHARED = ("for the entries 'warnings-eu' and 'warnings-us', which both send "
          "'platform.send_timeout_warning' (a typo), and a right one, it returned {}, expected "
          "['warnings-eu', 'warnings-us']")  # fmt: skip
ONE_PER_TASK = "each entry is a job of its own, and both never run: report every entry"
PATTERNS = ("for the task names 'platform.cancel.expired_tasks', 'platform.check_expired_*', "
            "'platform.check_expired_invitation_code.' it returned {}, expected "
            "['cancel-expired', 'coupons', 'invitations']")  # fmt: skip
NOT_A_PATTERN = "beat sends the name as written and no worker knows it: a '.' in a task name is"
REORDERED = ("unknown_tasks put the entries of the schedule it was given in another order (its "
             "keys were ['end-timeout-chats', 'cancel-expired', 'coupons', ...]")  # fmt: skip
SORT_YOURS = "only read the schedule: sort the list of names you return (sorted(...)), not"
COPIES = "unknown_tasks replaced entries of the schedule it was given with copies"
WRITE_NOTHING = "only read the schedule: loop over schedule.items() and write nothing back"
LATER = ("once a task was registered as 'platform.expire_trial_accounts' (a module imported, a "
         "job added as in guide 004 §7), it still returned ['trials']")  # fmt: skip
EVERY_CALL = "read app.tasks at every call: a copy kept from an earlier call"
CURRENT = ("called while another app was the current one (celery.current_app: a Celery() made in "
           "the kernel without set_as_current=False becomes it), for "
           "'platform.renew_pro_subscriptions', registered in app, and "
           "'platform.sync_partner_accounts', registered only in that other app, it returned {}, "
           "expected ['partners']")  # fmt: skip
APP_TASKS = "look the names up in app.tasks, the app whose beat and workers run the schedule"
TASK_OBJECT = ("for an entry 'cancel-expired' whose 'task' is the Task object "
               "platform.cancel_expired_tasks, not its name, and a right one, it {}")  # fmt: skip
NO_NAME = "beat sends entry['task'] as the message's task name, and a Task object is no name"
BUILTIN = ("for the task names 'celery.backend_clean' (a misspelt built-in), "
           "'celery.backend_cleanup' and 'platform.update_all_users_statistics' it returned {}, "
           "expected ['results-cleanup']")  # fmt: skip
LOOK_UP_CELERY = "'celery.backend_clean' starts like Celery's own names but is none of them"
SLIPS = ("for a schedule whose every task is registered, though its entries hold other slips "
         "(crontab(hour=2) without minute=, a 0.5 s interval, args a job does not take), it "
         "returned {}: their tasks are in app.tasks")  # fmt: skip
ONLY_UNKNOWN = "report the entries whose task is not registered, and only those"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(unknown_task_names, "it returned task names", "return the entries' names",
                     id="returns-task-names"),
        pytest.param(unknown_lowercase, f"it returned ['cancel-expired', 'points'], {EXPECTED}",
                     "task names are case-sensitive", id="ignore-case"),
        pytest.param(unknown_last_part, f"it returned ['cancel-expired'], {EXPECTED}",
                     WHOLE_NAMES, id="short-name"),  # round 2's last-dotted-part
        pytest.param(unknown_hard_coded, "for a schedule with no typo",
                     "look the names up in app.tasks", id="hard-coded"),
        pytest.param(unknown_nothing, "it reports none of the entries of the schedule it is "
                     "given", "loop over the schedule it is given", id="nothing"),
        pytest.param(unknown_generator, "unknown_tasks returned a generator",
                     "return a list of entry names", id="generator"),
        pytest.param(unknown_first_only,
                     f"it returned ['cancel-expired'], {EXPECTED}: given alone, ['coupons'] are "
                     "found too, so it stops after the first unknown entry",
                     "collect every unknown entry and return the list after the loop",
                     id="first-only"),  # round 2's first-unknown-only
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
        # adversary round 2
        pytest.param(unknown_jobs_table, "['cleanup', 'heartbeat'] send registered tasks",
                     "a task need not be one of the chapter's jobs", id="jobs-table-as-registry"),
        pytest.param(unknown_cached_registry, LATER, EVERY_CALL, id="cached-registry-global"),
        pytest.param(unknown_probe_worker,
                     f"{SENT}) to the worker, which runs them", LOOK_UP, id="probe-by-sending"),
        pytest.param(unknown_suffix_match, BARE.format("[]"), ENDS, id="suffix-match"),
        pytest.param(unknown_shallow_copy,
                     "unknown_tasks changed the entries of the schedule it was given",
                     "only read the schedule", id="shallow-copy-writes-back"),
        pytest.param(unknown_function_names, BARE.format("['blank', 'pulse']"),
                     "'expire_vip_memberships' is the function's name: the task is registered "
                     "as 'platform.expire_vip_memberships'", id="function-names-known"),
        pytest.param(unknown_no_builtins,
                     "for a schedule with no typo it returned ['backend-cleanup']: "
                     "'celery.backend_cleanup' is in app.tasks",
                     "Celery's own tasks are registered tasks too", id="builtins-not-registered"),
        # the same kinds of mistake
        pytest.param(unknown_probe_no_wait,
                     "unknown_tasks sent the schedule's tasks (Platform.check_expired_coupons, "
                     "course_tasks.tasks.maintenance.cleanup_expired_data, course_tasks.tasks."
                     "maintenance.heartbeat and 3 more) to the worker", LOOK_UP,
                     id="probe-without-waiting"),
        pytest.param(unknown_probe_eagerly,
                     "unknown_tasks ran the schedule's tasks (course_tasks.tasks.maintenance."
                     "cleanup_expired_data, course_tasks.tasks.maintenance.heartbeat, "
                     "platform.auto_end_timeout_chats) right there", LOOK_UP, id="probe-eagerly"),
        pytest.param(unknown_function_names_only, BARE.format("['blank', 'pulse']"),
                     "'expire_vip_memberships' is the function's name", id="function-names"),
        pytest.param(unknown_skips_empty, BARE.format("['pulse', 'vip']"),
                     "an empty 'task' names no task", id="skips-empty-name"),
        # adversary round 3; its generator, substring and user-tasks-only are the rows
        # generator, substring and builtins-not-registered; its snapshot is
        # test_06_3_registry_kept_before_the_set_up below
        pytest.param(unknown_by_task, SHARED.format("['warnings-us']"), ONE_PER_TASK,
                     id="by-task"),
        pytest.param(unknown_by_task_set, SHARED.format("['warnings-eu']"), ONE_PER_TASK,
                     id="by-task-set"),
        pytest.param(unknown_registered_prefix, f"it returned ['coupons', 'points'], {EXPECTED}",
                     "'platform.cancel_expired_task' is part of the registered name",
                     id="prefix"),
        pytest.param(unknown_job_names, "['cleanup', 'heartbeat'] send registered tasks",
                     "a task need not be one of the chapter's jobs", id="job-table"),
        pytest.param(unknown_regex, PATTERNS.format("['coupons']"), NOT_A_PATTERN, id="regex"),
        pytest.param(unknown_sorted_in_place, REORDERED, SORT_YOURS, id="sorted-in-place"),
        pytest.param(unknown_lru_cache, LATER, EVERY_CALL, id="lru-cache"),
        pytest.param(unknown_setdefault,
                     "unknown_tasks changed the entries of the schedule it was given",
                     "only read the schedule", id="setdefault"),
        pytest.param(unknown_entries_copied,
                     f"{COPIES} ('end-timeout-chats' is no longer the dict the caller put there)",
                     WRITE_NOTHING, id="entries-copied"),
        # the same kinds of mistake
        pytest.param(unknown_fnmatch, PATTERNS.format("['cancel-expired', 'invitations']"),
                     NOT_A_PATTERN, id="fnmatch"),
        pytest.param(unknown_counter, SHARED.format("['warnings-eu']"), ONE_PER_TASK,
                     id="one-name-per-task-counter"),
        pytest.param(unknown_reversed_in_place, REORDERED, SORT_YOURS, id="reversed-in-place"),
        pytest.param(unknown_copies_one_entry, f"{COPIES} ('end-timeout-chats'", WRITE_NOTHING,
                     id="copies-one-entry"),
        # adversary round 6; its prefix, snapshot, lru-cache, user-tasks-only, platform-jobs
        # and normalises are the rows prefix, test_06_3_registry_kept_before_the_set_up,
        # lru-cache, builtins-not-registered, jobs-table-as-registry and setdefault
        pytest.param(unknown_joined, f"it returned ['coupons', 'points'], {EXPECTED}",
                     "'platform.cancel_expired_task' is part of the registered name",
                     id="substring"),
        pytest.param(unknown_ask_workers,
                     "unknown_tasks asked the workers over the broker (a 'registered' broadcast",
                     "the exercise asks for the tasks registered in app: a name is known when it "
                     "is in app.tasks", id="ask-worker"),
        pytest.param(unknown_none_when_clean, "unknown_tasks returned None",
                     "return a list of entry names", id="none-when-clean"),
        pytest.param(unknown_app_beat_schedule,
                     f"it returned [], {EXPECTED}; given a schedule whose every task is unknown "
                     "('platform.nightly_report', 'crm.sync_contacts'), it returned []: it "
                     "reports none of the entries of the schedule it is given",
                     "loop over the schedule it is given (its argument: schedule.items(), not "
                     "app.conf.beat_schedule", id="reads-app-beat-schedule"),
        pytest.param(unknown_mutable_default,
                     "given a schedule with the entries ['end-timeout-chats', 'heartbeat', "
                     "'backend-cleanup'], it returned ['cancel-expired', 'coupons', 'points'], "
                     "which are not entries of that schedule: they are left over from an earlier "
                     "call", "it keeps its list from one call to the next (a default argument "
                     "such as found=[]", id="mutable-default"),
        # the same kind: a list kept at module level
        pytest.param(unknown_global_list, "they are left over from an earlier call",
                     "it keeps its list from one call to the next", id="global-list"),
        # NOT_WRONG_EXTRA dict-result: the text asks for the names, and it returns a dict
        pytest.param(unknown_dict_result, "unknown_tasks returned a dict",
                     "return a list of entry names", id="dict-result"),
        # adversary round 7; its cached-registry, no-builtins, inspect-registered and
        # generator are the rows cached-registry-global, builtins-not-registered, ask-worker
        # and generator
        pytest.param(unknown_strip_in_place,
                     "unknown_tasks changed the entries of the schedule it was given "
                     "('activities': its 'task' was ' platform.check_and_end_activities', now "
                     "'platform.check_and_end_activities')", CLEANED_IN_PLACE,
                     id="strip-in-place"),
        pytest.param(unknown_validates_schedules, TZ_LEFT, TRY_A_COPY, id="validates-schedules"),
        pytest.param(unknown_tries_out_schedules, NOWFUN_LEFT.format("heartbeat"), NOWFUN_STAYS,
                     id="tries-out-schedules"),
        pytest.param(unknown_via_app_conf,
                     "unknown_tasks set the course app's app.conf.beat_schedule to the schedule "
                     "it was given: a deployment check that should only read the schedule "
                     "installs it, typos included, on the course app", NO_APP_CONF,
                     id="via-app-conf"),
        pytest.param(unknown_update_app_conf,
                     "unknown_tasks changed the course app's app.conf.beat_schedule in place (it "
                     "is course_tasks.celeryconfig's own dict): added the entries "
                     "['end-timeout-chats', 'cancel-expired', 'coupons', ...]", NO_APP_CONF,
                     id="update-app-conf"),
        # the same kinds: is_due on the caller's crontabs, a nowfun set on its intervals only,
        # another setting of the course app
        pytest.param(unknown_is_due, TZ_LEFT, TRY_A_COPY, id="is-due-on-schedules"),
        pytest.param(unknown_intervals_tried, NOWFUN_LEFT.format("heartbeat"), NOWFUN_STAYS,
                     id="intervals-tried-in-place"),
        pytest.param(unknown_sets_timezone,
                     "unknown_tasks changed the course app's settings ['timezone']: a deployment "
                     "check that should only read the schedule changes the app the worker and "
                     "every check use", NO_APP_CONF, id="sets-course-timezone"),
        # adversary round 8; its inspect-registered, no-builtins and snapshot-global are the
        # rows ask-worker, builtins-not-registered and cached-registry-global
        pytest.param(unknown_send_and_see, f"{SENT}) to the worker, which runs them", LOOK_UP,
                     id="send-and-see"),
        pytest.param(unknown_course_modules,
                     "for a schedule with no typo it returned ['backend-cleanup']: "
                     "'celery.backend_cleanup' is in app.tasks",
                     "Celery's own tasks are registered tasks too", id="course-modules-only"),
        pytest.param(unknown_schedule_entry,
                     "unknown_tasks changed the schedules of the entries it was given: the "
                     "schedule of 'heartbeat' now has _app changed",
                     "only read the schedule: try a schedule out on a copy",
                     id="schedule-entry-parse"),
        pytest.param(unknown_current_app, CURRENT.format("['renewals']"), APP_TASKS,
                     id="current-app"),
        pytest.param(unknown_task_objects, TASK_OBJECT.format("returned []"), NO_NAME,
                     id="task-objects-accepted"),
        pytest.param(unknown_trust_celery_prefix, BUILTIN.format("[]"), LOOK_UP_CELERY,
                     id="trust-celery-prefix"),
        pytest.param(unknown_plus_hour_slip, SLIPS.format("['cleanup']"), ONLY_UNKNOWN,
                     id="plus-hour-slip"),
        # the same kinds
        pytest.param(unknown_default_app, CURRENT.format("['renewals']"), APP_TASKS,
                     id="get-current-app"),
        pytest.param(unknown_str_only, TASK_OBJECT.format("returned []"), NO_NAME,
                     id="str-names-only"),
        pytest.param(unknown_plus_fast_interval, SLIPS.format("['stats']"), ONLY_UNKNOWN,
                     id="plus-fast-interval"),
    ],
)  # fmt: skip
def test_06_3_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.3", answer), problem, hint)


def test_06_3_registry_kept_in_a_default_argument() -> None:
    app.loader.import_default_modules()  # every task a worker knows, as the check does

    def unknown(schedule, known=frozenset(app.tasks)):
        return [name for name, entry in schedule.items() if entry["task"] not in known]

    assert_fails(verdict("06.3", unknown), LATER, EVERY_CALL)
    assert "platform.expire_trial_accounts" not in app.tasks  # the check unregistered it


def test_06_3_registry_kept_before_the_set_up() -> None:
    """Round 3's snapshot: a copy of app.tasks taken before the set-up cell's worker imported
    the maintenance tasks (the adversary's script ran it before runtime.start())."""
    app.loader.import_default_modules()
    early = frozenset(t for t in app.tasks if not t.startswith("course_tasks.tasks.maintenance."))

    def unknown(schedule, known=early):
        return [name for name, entry in schedule.items() if entry["task"] not in known]

    assert_fails(verdict("06.3", unknown),
                 "['cleanup', 'heartbeat'] send registered tasks ('course_tasks.tasks.maintenance."
                 "cleanup_expired_data' is in app.tasks), though it knows 'celery.backend_cleanup'"
                 ": it reads a copy of the registry taken before these tasks were registered",
                 "read app.tasks at every call: a copy kept from an earlier moment")  # fmt: skip


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
    # the least expiry the exercise allows, and until the next run is due
    assert_passed(verdict("06.4", vip(options={"expires": 15})))
    assert_passed(verdict("06.4", vip(options={"expires": 300.0})))
    # no result stored: the job's own record shows the worker ran it
    ran = "the worker ran it with {'batch_size': 100}"
    assert_passed(verdict("06.4", vip(options={"ignore_result": True})), ran)
    # a routing_key with no exchange is replaced by the queue's name, 'celery'
    assert_passed(verdict("06.4", vip(options={"routing_key": "periodic"})), ran)
    # round 6: a crontab tried out under section 6's Shanghai app keeps Asia/Shanghai, but
    # every 5 minutes there is every 5 minutes in UTC: the same runs
    assert_passed(verdict("06.4", vip(schedule=tried(crontab(minute="*/5", app=SHANGHAI_APP)))))
    # round 8: publish retries on, with a policy of its own
    assert_passed(verdict("06.4", vip(options={"retry": True, "retry_policy": {"max_retries": 3}})))


FIRST_DAY = "in the 24 hours from Mon 1 June 2026 00:00 it fired"
EVERY_5 = "every 5 minutes: 300.0 (or crontab(minute='*/5'))"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(vip(task="course_tasks.tasks.periodic.expire_vip_memberships"),
                     "which no worker knows", "a typo or a module path", id="module-path"),
        pytest.param(vip(task=periodic.expire_vip_memberships), "has 'task': a",
                     "'task' is the task's registered name", id="task-object"),  # and round 2's
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
        # also round 2's batch-size-float
        pytest.param(vip(kwargs={"batch_size": 100.0}), "its kwargs are {'batch_size': 100.0}",
                     "batch_size is a count: the int 100, not 100.0", id="float-100"),
        pytest.param(vip(kwargs={"batch_size": 100, "dry_run": True}),
                     "its kwargs are {'batch_size': 100, 'dry_run': True}",
                     'the job expects "kwargs"', id="extra-kwarg"),  # round 2's extra-kwarg-dry-run
        pytest.param(vip(options={"queue": "vip"}),
                     "beat sent expire-vip-memberships (due Mon 1 Jun 2026 00:05) to the queue "
                     "'vip', which no worker reads", "leave the queue out of its options",
                     id="unread-queue"),
        # adversary round 2
        pytest.param(vip(options={"queue": "periodic"}),
                     "beat sent expire-vip-memberships (due Mon 1 Jun 2026 00:05) to the queue "
                     "'periodic', which no worker reads", "leave the queue out of its options",
                     id="options-queue-periodic"),
        pytest.param({"task": VIP["task"], "schedule": 300.0, "options": {"batch_size": 100}},
                     "its kwargs are None", 'the job expects "kwargs": {"batch_size": 100}',
                     id="kwargs-in-options"),
        pytest.param(vip(schedule=crontab(minute="*/5", day_of_week="1-5")),
                     "Mon 1 June 2026 is right, but on Sat 18 Jul 2026 it fired 0 times, not 288",
                     'day_of_week="1-5" keeps it to Monday to Friday', id="workdays-only"),
        pytest.param({"task": periodic.expire_vip_memberships.s(batch_size=100),
                      "schedule": 300.0},
                     "entry 'expire-vip-memberships' has 'task': a Signature",
                     "'task' is the task's registered name", id="signature-as-task"),
        pytest.param(vip(options={"expires": 5}),
                     "the options of expire-vip-memberships expire each run 5 s after beat sends "
                     "it: a run the worker starts later than that (a busy worker, a restart) is "
                     "dropped unrun", "expires is in seconds: give the worker at least 15 s",
                     id="expires-5-seconds"),
        pytest.param(vip(options={"serializer": "pickle"}),
                     "the worker had not run expire-vip-memberships (due Mon 1 Jun 2026 00:05) "
                     "15 s after it was sent: it was sent with serializer='pickle', which the "
                     "worker refuses to read (accept_content = ['json'])",
                     "leave serializer out", id="pickle-serializer"),
        pytest.param(vip(kwargs={"batch_size": [100]}), "its kwargs are {'batch_size': [100]}",
                     'the job expects "kwargs": {"batch_size": 100}', id="batch-size-list"),
        # the same kinds of mistake
        pytest.param(vip(options={"expires": 14.5}),
                     "the options of expire-vip-memberships expire each run 14.5 s after",
                     "expires is in seconds", id="expires-just-short"),
        pytest.param(vip(schedule=crontab(minute="*/5", nowfun=lambda: SECTION_1_NOW)),
                     f"expire-vip-memberships {OWN_CLOCK}", NO_NOWFUN, id="frozen-nowfun"),
        # adversary round 3; its float-batch, task-object, own-queue, crontab-minute-5,
        # module-name and pickle are the rows float-100, task-object, options-queue-periodic,
        # hourly-at-5, module-path and pickle-serializer
        pytest.param(vip(options={"expires": datetime.now(timezone.utc) + timedelta(minutes=5)}),
                     "the options of expire-vip-memberships expire at a fixed moment",
                     "give expires in seconds, counted from each send", id="expires-absolute"),
        pytest.param(vip(options={"expires": timedelta(minutes=5)}),
                     "the options of expire-vip-memberships give expires as a timedelta",
                     "expires is a number of seconds, e.g. 300", id="expires-timedelta"),
        pytest.param(vip(task="platform.expire_vip_memberships "),
                     "names the task 'platform.expire_vip_memberships ', which no worker knows",
                     "a typo or a module path", id="trailing-space"),
        pytest.param(vip(kwargs={"batch_size": 100, "dry_run": False}),
                     "its kwargs are {'batch_size': 100, 'dry_run': False}",
                     'the job expects "kwargs"', id="extra-kwarg-false"),
        pytest.param(vip(kwargs={"batch-size": 100}), "its kwargs are {'batch-size': 100}",
                     'the job expects "kwargs": {"batch_size": 100}', id="hyphen-key"),
        pytest.param(vip(options={"countdown": 30}),
                     "the options of expire-vip-memberships hold countdown=30: beat sends each "
                     "run when it is due", "leave countdown out", id="countdown"),
        # adversary round 4: a 10 s countdown on every run
        pytest.param(vip(options={"countdown": 10}),
                     "the options of expire-vip-memberships hold countdown=10",
                     "leave countdown out: the schedule says when the job runs",
                     id="countdown-10"),
        pytest.param(vip(schedule=schedule(300.0, nowfun=lambda: SECTION_1_NOW)),
                     f"expire-vip-memberships {OWN_CLOCK}", NO_NOWFUN, id="fixed-nowfun-interval"),
        pytest.param(vip(options={"task_id": "expire-vip-memberships"}),
                     "the options of expire-vip-memberships give every run the same task id "
                     "('expire-vip-memberships')",
                     "leave task_id out: Celery gives each run an id of its own",
                     id="fixed-task-id"),
        # adversary round 6; its float-batch, extra-kwarg, absolute-expires, own-queue,
        # pickle, task-object and schedule-frozen-nowfun are the rows float-100,
        # extra-kwarg-false, expires-absolute, options-queue-periodic, pickle-serializer,
        # task-object and fixed-nowfun-interval
        pytest.param(vip(options={"expires": IN_10_MIN.isoformat()}),
                     "the options of expire-vip-memberships expire at a fixed moment",
                     "give expires in seconds, counted from each send", id="iso-expires"),
        pytest.param(vip(options={"expires": datetime.now(timezone.utc)}),
                     "the options of expire-vip-memberships expire at a fixed moment",
                     "give expires in seconds, counted from each send", id="expires-now"),
        pytest.param(vip(options={"countdown": 5}),
                     "the options of expire-vip-memberships hold countdown=5",
                     "leave countdown out: the schedule says when the job runs", id="countdown-5"),
        pytest.param(vip(options={"exchange": "periodic", "routing_key": "periodic"}),
                     "the worker had not run expire-vip-memberships (due Mon 1 Jun 2026 00:05) "
                     "15 s after it was sent",
                     "send it with no options (queue, routing_key, exchange)",
                     id="exchange-and-key"),
        pytest.param(vip(schedule=tried_in_place(schedule(timedelta(minutes=5)))),
                     f"expire-vip-memberships {OWN_CLOCK}", NO_NOWFUN,
                     id="schedule-tried-with-next-runs"),
        # adversary round 7; its frozen-nowfun, expires-absolute, fixed-task-id,
        # expires-iso-string, queue-nobody-reads and countdown-10 are the rows
        # fixed-nowfun-interval, expires-absolute, fixed-task-id, iso-expires,
        # options-queue-periodic and countdown-10; its vip-on-course-app is a row of
        # test_an_answer_cell_that_changed_the_course_app
        pytest.param(vip(schedule=schedule(300.0, nowfun=datetime.now)),
                     f"expire-vip-memberships {OWN_CLOCK}", NO_NOWFUN, id="naive-local-nowfun"),
        pytest.param(vip(options={"expires": 3}),
                     "the options of expire-vip-memberships expire each run 3 s after beat sends "
                     "it", "expires is in seconds: give the worker at least 15 s", id="expires-3s"),
        # adversary round 8; its fixed-task-id, float-batch-size and countdown-10 are the rows
        # fixed-task-id, float-100 and countdown-10
        pytest.param(vip(last_run_at=MONDAY_UTC),
                     "entry 'expire-vip-memberships' holds last_run_at = 2026-06-01 "
                     "00:00:00+00:00", LAST_RUN_AT, id="last-run-at-anchor"),
        pytest.param(vip(options={"retry": False}),
                     "the options of expire-vip-memberships turn publish retries off "
                     "(retry=False): beat sends each run once", KEEP_RETRIES,
                     id="no-publish-retry"),
        pytest.param(vip(options={"shadow": "expire-vip-memberships"}),
                     "the options of expire-vip-memberships send every run under the name "
                     "'expire-vip-memberships' (shadow): the worker logs each run, and names it "
                     "in its events and results, by that name, which is no registered task, so "
                     "monitoring and alerts that look for platform.expire_vip_memberships never "
                     "see the job", NO_SHADOW, id="shadow-entry-name"),
        # the same kinds: retries turned off another way, a shadow with the job's short name
        pytest.param(vip(options={"retry": 0}),
                     "the options of expire-vip-memberships turn publish retries off (retry=0)",
                     KEEP_RETRIES, id="retry-zero"),
        pytest.param(vip(options={"shadow": "expire_vip_memberships"}),
                     "send every run under the name 'expire_vip_memberships' (shadow)", NO_SHADOW,
                     id="shadow-function-name"),
    ],
)  # fmt: skip
def test_06_4_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.4", answer), problem, hint)


# --------------------------------------------------------------------------- the course app


@contextmanager
def answer_cell() -> Iterator[None]:
    """Meanwhile a test's "answer cell" may change the course app; afterwards it is as
    before (what restarting the kernel does for a learner)."""
    conf = app.conf
    changes = dict(conf.changes)
    configured = conf.beat_schedule  # course_tasks.celeryconfig's own dict
    entries = dict(configured)
    cached = app.__dict__.get("timezone")
    try:
        yield
    finally:
        conf.changes.clear()
        conf.changes.update(changes)
        configured.clear()
        configured.update(entries)
        app.__dict__.pop("timezone", None)
        if cached is not None:
            app.__dict__["timezone"] = cached


def cell_course_app_in_shanghai() -> crontab:
    """Round 7's sets-course-app-timezone: the answer cell configures the course app."""
    app.conf.timezone = "Asia/Shanghai"
    return desk()


def cell_course_app_local_time() -> crontab:
    """The same kind: enable_utc switched off on the course app, as guide 000 does."""
    app.conf.enable_utc = False
    return desk()


def cell_desk_on_course_app() -> crontab:
    """The same kind as round 7's vip-on-course-app, for desk_opens."""
    desk_opens = desk()
    app.conf.beat_schedule["open-desk"] = {"task": "platform.process_customer_service_queue",
                                           "schedule": desk_opens}  # fmt: skip
    return desk_opens


def cell_jobs_on_course_app() -> dict:
    """Round 7's jobs-on-course-app: guide 004's line on the course app."""
    jobs = app.conf.beat_schedule = copy.deepcopy(TABLE)
    return jobs


def cell_jobs_merged_into_course_app() -> dict:
    """The same kind: the table merged into the course app's (celeryconfig's own) dict."""
    jobs = copy.deepcopy(TABLE)
    app.conf.beat_schedule.update(jobs)
    return jobs


def cell_vip_on_course_app() -> dict:
    """Round 7's vip-on-course-app: guide 004 §7 on the course app."""
    vip_entry = dict(VIP)
    app.conf.beat_schedule["expire-vip-memberships"] = vip_entry
    return vip_entry


SHARED_APP = ("that app is the worker's and every check's, and desk_opens does not need it: "
              "this check runs desk_opens under an app of its own in Asia/Shanghai")  # fmt: skip
ZONE_ALONE = ("desk_opens is the crontab alone, and its hours are read in the timezone of the "
              "app whose beat runs it")  # fmt: skip
ON_COURSE_APP = "the course app's app.conf.beat_schedule holds {}"
COURSE_BEAT = ("a cell of this kernel put them on the app the worker and every check use "
               "(course_tasks.celeryconfig gives it guide 000's two entries only)")  # fmt: skip
RESTART = "restart the kernel (Kernel > Restart), which sets the course app up again"


@pytest.mark.parametrize(
    ("exercise", "cell", "problem", "hint"),
    [
        pytest.param("06.1", cell_course_app_in_shanghai,
                     "a cell of this kernel changed the course app (its timezone is now "
                     "'Asia/Shanghai'; course_tasks.celeryconfig sets timezone = 'UTC'): "
                     + SHARED_APP, ZONE_ALONE, id="sets-course-app-timezone"),
        pytest.param("06.1", cell_course_app_local_time,
                     "a cell of this kernel changed the course app (its enable_utc is now False",
                     ZONE_ALONE, id="course-app-enable-utc-off"),
        pytest.param("06.1", cell_desk_on_course_app,
                     ON_COURSE_APP.format("an entry with desk_opens as its schedule ['open-desk']"),
                     "desk_opens is the crontab alone: leave the course app's beat_schedule as it "
                     "is", id="desk-on-course-app"),
        pytest.param("06.2", cell_jobs_on_course_app,
                     ON_COURSE_APP.format("jobs' entries ['process-customer-service-queue', "
                                          "'cancel-expired-tasks', 'update-all-users-statistics', "
                                          "...], and guide 000's entries ['cleanup-daily', "
                                          "'heartbeat-every-30s'] are gone from it: ")
                     + COURSE_BEAT,
                     "make jobs a dict of its own and leave the course app's beat_schedule as it "
                     "is", id="jobs-on-course-app"),
        pytest.param("06.2", cell_jobs_merged_into_course_app,
                     ON_COURSE_APP.format("jobs' entries ['process-customer-service-queue', "
                                          "'cancel-expired-tasks', 'update-all-users-statistics', "
                                          "...]: ") + COURSE_BEAT,
                     "make jobs a dict of its own", id="jobs-merged-into-course-app"),
        pytest.param("06.4", cell_vip_on_course_app,
                     ON_COURSE_APP.format("vip_entry ['expire-vip-memberships']: ") + COURSE_BEAT,
                     "make vip_entry a dict of its own and leave the course app's beat_schedule "
                     "as it is", id="vip-on-course-app"),
    ],
)  # fmt: skip
def test_an_answer_cell_that_changed_the_course_app(
    exercise: str, cell: Callable[[], object], problem: str, hint: str
) -> None:
    with answer_cell():
        outcome = verdict(exercise, cell())
    assert_fails(outcome, problem, hint)
    assert RESTART in outcome.feedback


def test_the_course_app_changed_for_another_exercise_or_not_at_all() -> None:
    """A right answer passes when the course app holds another exercise's mistake, or was
    given the values course_tasks.celeryconfig gives it."""
    with answer_cell():
        cell_jobs_on_course_app()
        assert_passed(verdict("06.1", desk()))
        assert_passed(verdict("06.4", dict(VIP)))
    with answer_cell():
        cell_vip_on_course_app()
        assert_passed(verdict("06.2", jobs()))
    with answer_cell():
        app.conf.timezone = "UTC"
        app.conf.enable_utc = True
        app.conf.beat_schedule = dict(app.conf.beat_schedule)
        assert_passed(verdict("06.1", desk()))
        assert_passed(verdict("06.2", jobs()))


def test_06_3_puts_the_course_app_back() -> None:
    """What unknown_tasks did to the course app is undone after its check, in place too."""
    before = dict(app.conf.beat_schedule)
    for answer in (unknown_via_app_conf, unknown_update_app_conf, unknown_sets_timezone):
        assert not verdict("06.3", answer).passed
        assert app.conf.beat_schedule == before
        assert app.conf.timezone == "UTC"
    assert_passed(verdict("06.3", unknown_tasks))


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
