"""Adversary round 6: wrong answers to chapter 06's exercises, run through the real checks.

Run from the course root:  .venv/bin/python .adversary/ch06_r6.py
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
"""
import os
import sys

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402

from datetime import datetime, timedelta, timezone  # noqa: E402
from itertools import chain  # noqa: E402

from celery.schedules import crontab, schedule  # noqa: E402

from course_tasks import app  # noqa: E402
from course_tasks.tasks import periodic  # noqa: E402

# ---------------------------------------------------------------- 06.1
# The course app's time zone is UTC: binding the crontab to it pins its fields to UTC,
# whatever timezone the beat that runs it is configured with.
desk_opens_bound_to_course_app = crontab(hour=7, minute=30, day_of_week="1-5", app=app)

# Section 1's habit: a nowfun reading the machine's (naive, local) clock. In production the
# schedule then reads the server's clock instead of the app's time zone.
desk_opens_naive_nowfun = crontab(hour=7, minute=30, day_of_week="1-5", nowfun=datetime.now)

# Section 1's fixed "now" copied along: the schedule never sees time move.
_now = datetime(2026, 6, 1, 0, 5, tzinfo=timezone.utc)
desk_opens_frozen_nowfun = crontab(hour=7, minute=30, day_of_week="1-5", nowfun=lambda: _now)

# Converted to UTC by hand (07:30 CST = 23:30 UTC the day before, Sunday..Thursday).
desk_opens_utc_by_hand = crontab(hour=23, minute=30, day_of_week="0-4")

# "Every month" written as 1-30: the 31st of a month is skipped.
desk_opens_day_1_30 = crontab(hour=7, minute=30, day_of_week="1-5", day_of_month="1-30")

# ---------------------------------------------------------------- 06.2
def _jobs(**changes):
    jobs = {
        "process-customer-service-queue": {
            "task": "platform.process_customer_service_queue", "schedule": 30.0},
        "cancel-expired-tasks": {"task": "platform.cancel_expired_tasks", "schedule": 60.0},
        "update-all-users-statistics": {
            "task": "platform.update_all_users_statistics", "schedule": 600.0},
        "cleanup-long-inactive-chats": {
            "task": "platform.cleanup_long_inactive_chats",
            "schedule": crontab(hour=2, minute=0)},
    }
    for name, extra in changes.items():
        jobs[name.replace("_", "-")] = {**jobs[name.replace("_", "-")], **extra}
    return jobs


# An absolute expiry computed when the cell runs: every run sent more than 10 minutes
# after the schedule was defined is discarded by the worker (a real beat runs for months).
_defined = datetime.now(timezone.utc)
jobs_absolute_expires = _jobs(
    process_customer_service_queue={"options": {"expires": _defined + timedelta(minutes=10)}},
    cancel_expired_tasks={"options": {"expires": _defined + timedelta(minutes=10)}},
)

# The daily job as a 24-hour interval: one run a day, but at midnight (one day after beat
# starts), not at 02:00.
jobs_daily_as_interval = _jobs(cleanup_long_inactive_chats={"schedule": 86400.0})

# The daily job as a 24-hour timedelta (same mistake, different spelling).
jobs_daily_as_timedelta = _jobs(cleanup_long_inactive_chats={"schedule": timedelta(days=1)})

# Routed to a queue no worker consumes ("periodic"): beat sends, nobody runs it.
jobs_own_queue = _jobs(cleanup_long_inactive_chats={"options": {"queue": "periodic"}})

# A keyword argument the guide's table does not have ("with no arguments").
jobs_extra_kwargs = _jobs(cleanup_long_inactive_chats={"kwargs": {"days": 30}})

# The task object instead of its registered name.
jobs_task_object = _jobs(
    cancel_expired_tasks={"task": periodic.cancel_expired_tasks})

# A countdown hidden as an absolute eta equal to the definition time (every run "due" then,
# harmless today, but it is an eta the text forbids).
jobs_daily_hour_only = _jobs(cleanup_long_inactive_chats={"schedule": crontab(hour=2)})

# ---------------------------------------------------------------- 06.3
def unknown_tasks_substring(schedule):
    # "is it in the registry": tested as a substring of the registry's names
    registered = " ".join(app.tasks)
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


_KNOWN = set(app.tasks)


def unknown_tasks_snapshot(schedule):
    # the registry copied once, when the cell ran: tasks registered later are "unknown"
    return [name for name, entry in schedule.items() if entry["task"] not in _KNOWN]


def unknown_tasks_user_tasks_only(schedule):
    # Celery's own tasks (celery.backend_cleanup, ...) left out of "registered"
    registered = {n for n in app.tasks if not n.startswith("celery.")}
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_tasks_platform_jobs(schedule):
    # the chapter's job table taken as the registry
    registered = {f"platform.{job}" for job in periodic.JOBS}
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_tasks_ask_worker(schedule):
    # asks the running workers: with no worker up (a deployment starting beat first) every
    # entry is reported, and with the broker down it raises
    replies = app.control.inspect(timeout=1.0).registered() or {}
    registered = set(chain.from_iterable(replies.values()))
    return [name for name, entry in schedule.items() if entry["task"] not in registered]


def unknown_tasks_normalises(schedule):
    # "cleans up" the entries while reading them: adds missing keys to each entry
    unknown = []
    for name, entry in schedule.items():
        entry.setdefault("args", ())
        entry.setdefault("kwargs", {})
        if entry["task"] not in app.tasks:
            unknown.append(name)
    return unknown


def unknown_tasks_prefix(schedule):
    # accepts any name a registered name starts with
    return [name for name, entry in schedule.items()
            if not any(t.startswith(entry["task"]) for t in app.tasks)]


# ---------------------------------------------------------------- 06.4
vip_float_batch = {
    "task": "platform.expire_vip_memberships",
    "schedule": 300.0,
    "kwargs": {"batch_size": 1e2},
}

vip_absolute_expires = {
    "task": "platform.expire_vip_memberships",
    "schedule": 300.0,
    "kwargs": {"batch_size": 100},
    "options": {"expires": _defined + timedelta(minutes=10)},
}

vip_own_queue = {
    "task": "platform.expire_vip_memberships",
    "schedule": 300.0,
    "kwargs": {"batch_size": 100},
    "options": {"queue": "periodic"},
}

vip_task_object = {
    "task": periodic.expire_vip_memberships,
    "schedule": 300.0,
    "kwargs": {"batch_size": 100},
}

vip_countdown = {
    "task": "platform.expire_vip_memberships",
    "schedule": 300.0,
    "kwargs": {"batch_size": 100},
    "options": {"countdown": 5},
}

vip_bool_batch = {
    "task": "platform.expire_vip_memberships",
    "schedule": 300.0,
    "kwargs": {"batch_size": 100, "dry_run": False},
}

vip_ignore_result_time_limit = {
    "task": "platform.expire_vip_memberships",
    "schedule": 300.0,
    "kwargs": {"batch_size": 100},
    "options": {"expires": _defined},
}


SOLUTIONS = [
    ("06.1", "solution", "", (crontab(hour=7, minute=30, day_of_week="1-5"),)),
    ("06.2", "solution", "", (_jobs(),)),
    ("06.3", "solution", "", (lambda s: [n for n, e in s.items() if e["task"] not in app.tasks],)),
    ("06.4", "solution", "", ({"task": "platform.expire_vip_memberships", "schedule": 300.0,
                               "kwargs": {"batch_size": 100}},)),
]

WRONG = [
    ("06.1", "naive-nowfun", "nowfun=datetime.now reads the machine's naive local clock instead "
     "of the app's time zone", (desk_opens_naive_nowfun,)),
    ("06.1", "frozen-nowfun", "nowfun copied from section 1 returns a fixed moment, the schedule "
     "never sees time pass", (desk_opens_frozen_nowfun,)),
    ("06.1", "utc-by-hand", "07:30 Shanghai converted to 23:30 UTC by hand, Sunday to Thursday",
     (desk_opens_utc_by_hand,)),
    ("06.1", "day-of-month-1-30", "day_of_month='1-30' skips every 31st", (desk_opens_day_1_30,)),
    ("06.2", "absolute-expires", "options expires is a datetime fixed when the cell ran: every "
     "run after 10 minutes is discarded", (jobs_absolute_expires,)),
    ("06.2", "daily-as-86400", "daily job as a 86400 s interval fires at midnight, not 02:00",
     (jobs_daily_as_interval,)),
    ("06.2", "daily-as-timedelta", "daily job as timedelta(days=1) fires at midnight, not 02:00",
     (jobs_daily_as_timedelta,)),
    ("06.2", "own-queue", "the daily job routed to a queue no worker consumes",
     (jobs_own_queue,)),
    ("06.2", "extra-kwargs", "the daily job sends kwargs days=30 the table does not have",
     (jobs_extra_kwargs,)),
    ("06.2", "task-object", "'task' holds the task object, not its registered name",
     (jobs_task_object,)),
    ("06.2", "daily-hour-only", "crontab(hour=2) fires every minute of 02:00-02:59",
     (jobs_daily_hour_only,)),
    ("06.3", "substring", "tests the name as a substring of the joined registry: a truncated name "
     "passes", (unknown_tasks_substring,)),
    ("06.3", "snapshot", "the registry copied once at definition: tasks registered later are "
     "reported", (unknown_tasks_snapshot,)),
    ("06.3", "user-tasks-only", "Celery's own tasks (celery.backend_cleanup) are reported as "
     "unknown", (unknown_tasks_user_tasks_only,)),
    ("06.3", "platform-jobs", "the chapter's JOBS table used as the registry: every other "
     "registered task is reported", (unknown_tasks_platform_jobs,)),
    ("06.3", "ask-worker", "asks the running workers instead of app: no worker up means every "
     "entry is reported, broker down raises", (unknown_tasks_ask_worker,)),
    ("06.3", "normalises", "adds args/kwargs keys to the entries it reads (mutates the schedule)",
     (unknown_tasks_normalises,)),
    ("06.3", "prefix", "accepts a name that a registered name starts with (a truncated typo)",
     (unknown_tasks_prefix,)),
    ("06.4", "float-batch", "batch_size=1e2 is the float 100.0, not the int",
     (vip_float_batch,)),
    ("06.4", "absolute-expires", "expires is a datetime fixed when the cell ran: every run "
     "after 10 minutes is discarded", (vip_absolute_expires,)),
    ("06.4", "own-queue", "routed to a queue no worker consumes", (vip_own_queue,)),
    ("06.4", "task-object", "'task' holds the task object, not its registered name",
     (vip_task_object,)),
    ("06.4", "countdown", "every run delayed by 5 s (countdown)", (vip_countdown,)),
    ("06.4", "extra-kwarg", "an extra keyword argument dry_run=False", (vip_bool_batch,)),
    ("06.4", "expires-now", "expires = the moment the cell ran: every run is already expired",
     (vip_ignore_result_time_limit,)),
]

# ---------------------------------------------------------------- second batch
# 06.2 / 06.4: routing and serialisation options a learner copies from Celery's docs.
jobs_routing_key = _jobs(cleanup_long_inactive_chats={"options": {"routing_key": "periodic"}})
jobs_exchange = _jobs(cleanup_long_inactive_chats={"options": {"exchange": "periodic"}})
jobs_pickle = _jobs(update_all_users_statistics={"options": {"serializer": "pickle"}})
jobs_iso_expires = _jobs(
    process_customer_service_queue={"options": {"expires": (_defined + timedelta(hours=1)).isoformat()}})

jobs_exchange_key = _jobs(
    cleanup_long_inactive_chats={"options": {"exchange": "periodic", "routing_key": "periodic"}})
jobs_celery_exchange_key = _jobs(
    cleanup_long_inactive_chats={"options": {"exchange": "celery", "routing_key": "periodic"}})
vip_exchange_key = {**vip_own_queue, "options": {"exchange": "periodic", "routing_key": "periodic"}}
vip_routing_key = {**vip_own_queue, "options": {"routing_key": "periodic"}}
vip_pickle = {**vip_own_queue, "options": {"serializer": "pickle"}}
vip_iso_expires = {**vip_own_queue, "options": {"expires": (_defined + timedelta(hours=1)).isoformat()}}


def unknown_tasks_none_when_clean(schedule):
    # "nothing to report" as None instead of an empty list: len(...) / for-loops break
    unknown = [name for name, entry in schedule.items() if entry["task"] not in app.tasks]
    return unknown or None


def unknown_tasks_signature_type(schedule):
    # looks each name up through a signature; unknown names raise and are reported,
    # but a KeyError from anything else is swallowed too
    unknown = []
    for name, entry in schedule.items():
        try:
            app.signature(entry["task"]).type
        except Exception:
            unknown.append(name)
    return unknown


WRONG += [
    ("06.2", "exchange-and-key", "options exchange='periodic', routing_key='periodic': published "
     "to an exchange no worker queue is bound to, the message is dropped", (jobs_exchange_key,)),
    ("06.2", "default-exchange-other-key", "options exchange='celery', routing_key='periodic': the "
     "'celery' queue is bound with key 'celery', so the message matches no queue",
     (jobs_celery_exchange_key,)),
    ("06.2", "pickle", "options serializer='pickle': the worker only accepts json",
     (jobs_pickle,)),
    ("06.2", "iso-expires", "expires as an ISO string fixed when the cell ran (absolute)",
     (jobs_iso_expires,)),
    ("06.4", "exchange-and-key", "options exchange='periodic', routing_key='periodic': an "
     "exchange no worker queue is bound to", (vip_exchange_key,)),
    ("06.4", "pickle", "options serializer='pickle': the worker only accepts json",
     (vip_pickle,)),
    ("06.4", "iso-expires", "expires as an ISO string fixed when the cell ran (absolute)",
     (vip_iso_expires,)),
    ("06.3", "none-when-clean", "returns None instead of [] when every task is registered",
     (unknown_tasks_none_when_clean,)),
]

# ---------------------------------------------------------------- third batch
import functools  # noqa: E402


def _next_runs(sched, now, count=3):
    # the chapter's section-1 helper, verbatim: it sets sched.nowfun on the object it is given
    runs = []
    for _ in range(count):
        sched.nowfun = lambda now=now: now
        wait = sched.remaining_estimate(now)
        now = (now.astimezone(timezone.utc) + wait).astimezone(now.tzinfo)
        runs.append(now)
    return runs


# 06.1: the learner tries the crontab with section 1's next_runs before checking it: the
# object handed in now has a nowfun frozen at its third run (a real beat never sees time pass).
desk_opens_tried_with_next_runs = crontab(hour=7, minute=30, day_of_week="1-5")
_next_runs(desk_opens_tried_with_next_runs, _now)

# 06.1: the same, set by hand as section 1 does with nowfun=.
desk_opens_nowfun_attribute = crontab(hour=7, minute=30, day_of_week="1-5")
desk_opens_nowfun_attribute.nowfun = lambda: _now

# 06.2: the daily crontab tried with next_runs first (frozen nowfun left on it).
_daily = crontab(hour=2, minute=0)
_next_runs(_daily, _now)
jobs_daily_tried_with_next_runs = _jobs(cleanup_long_inactive_chats={"schedule": _daily})

# 06.2 / 06.4: an interval given as a schedule object with section 1's fixed nowfun.
jobs_schedule_frozen_nowfun = _jobs(
    update_all_users_statistics={"schedule": schedule(timedelta(minutes=10), nowfun=lambda: _now)})
vip_schedule_frozen_nowfun = {
    "task": "platform.expire_vip_memberships",
    "schedule": schedule(timedelta(minutes=5), nowfun=lambda: _now),
    "kwargs": {"batch_size": 100},
}
_vip_sched = schedule(timedelta(minutes=5))
_next_runs(_vip_sched, _now)
vip_schedule_tried_with_next_runs = {
    "task": "platform.expire_vip_memberships", "schedule": _vip_sched,
    "kwargs": {"batch_size": 100},
}


# 06.3: a cached lookup: a name found unknown once stays unknown after it is registered.
@functools.lru_cache(maxsize=None)
def _is_registered(task_name):
    return task_name in app.tasks


def unknown_tasks_lru_cache(schedule):
    return [name for name, entry in schedule.items() if not _is_registered(entry["task"])]


WRONG += [
    ("06.1", "tried-with-next-runs", "section 1's next_runs(desk_opens, now) left a frozen "
     "nowfun on the object: a real beat using it never sees time pass",
     (desk_opens_tried_with_next_runs,)),
    ("06.1", "nowfun-attribute", "nowfun set as an attribute (frozen clock) after the crontab "
     "was built", (desk_opens_nowfun_attribute,)),
    ("06.2", "daily-tried-with-next-runs", "the daily crontab carries the frozen nowfun "
     "next_runs left on it", (jobs_daily_tried_with_next_runs,)),
    ("06.2", "schedule-frozen-nowfun", "the 10-minute job as schedule(..., nowfun=fixed "
     "moment): a real beat never finds it due", (jobs_schedule_frozen_nowfun,)),
    ("06.4", "schedule-frozen-nowfun", "schedule(timedelta(minutes=5), nowfun=fixed moment): "
     "a real beat never finds it due", (vip_schedule_frozen_nowfun,)),
    ("06.4", "schedule-tried-with-next-runs", "schedule(5 min) tried with next_runs first: a "
     "frozen nowfun is left on it", (vip_schedule_tried_with_next_runs,)),
    ("06.3", "lru-cache", "lookups cached per name: a task registered after a first call "
     "stays 'unknown'", (unknown_tasks_lru_cache,)),
]

# ---------------------------------------------------------------- fourth batch
# 06.1: the learner tries the crontab once in a cell (remaining_estimate, in the course app,
# UTC) before handing it in: crontab.tz is a cached_property, so the object now holds UTC
# for good; a real beat with timezone="Asia/Shanghai" rebinds its app (maybe_schedule) but
# keeps the cached tz and fires at 07:30 UTC = 15:30 Shanghai.
desk_opens_tz_cached = crontab(hour=7, minute=30, day_of_week="1-5")
desk_opens_tz_cached.remaining_estimate(datetime(2026, 6, 1, tzinfo=timezone.utc))

# 06.2: an entry name with a trailing space (copied from a table cell).
jobs_name_trailing_space = _jobs()
jobs_name_trailing_space["cancel-expired-tasks "] = jobs_name_trailing_space.pop("cancel-expired-tasks")


def unknown_tasks_beat_schedule(schedule):
    # reads the app's configured beat_schedule instead of the schedule it was given
    return [name for name, entry in app.conf.beat_schedule.items()
            if entry["task"] not in app.tasks]


WRONG += [
    ("06.1", "tz-cached", "tried once with remaining_estimate in the UTC course app: crontab.tz "
     "is cached, a real Shanghai beat keeps UTC and fires at 15:30 Shanghai",
     (desk_opens_tz_cached,)),
    ("06.2", "name-trailing-space", "entry name 'cancel-expired-tasks ' with a trailing space",
     (jobs_name_trailing_space,)),
    ("06.3", "reads-app-beat-schedule", "reads app.conf.beat_schedule, not its argument",
     (unknown_tasks_beat_schedule,)),
]

# ---------------------------------------------------------------- fifth batch
def unknown_tasks_mutable_default(schedule, found=[]):  # noqa: B006
    # the classic mutable default: names pile up from one call to the next
    for name, entry in schedule.items():
        if entry["task"] not in app.tasks and name not in found:
            found.append(name)
    return found


def unknown_tasks_dict_result(schedule):
    # returns {entry name: bad task name}; iterating it gives the names
    return {name: entry["task"] for name, entry in schedule.items()
            if entry["task"] not in app.tasks}


WRONG += [
    ("06.3", "mutable-default", "found=[] default argument: names reported by an earlier call "
     "are reported again", (unknown_tasks_mutable_default,)),
]
NOT_WRONG_EXTRA = [
    ("06.3", "dict-result", "a dict name -> bad task instead of a list (arguably fine)",
     (unknown_tasks_dict_result,)),
]

# Checked, but NOT wrong on analysis (kept out of WRONG): celery.beat's ScheduleEntry calls
# maybe_schedule(schedule, relative, app=beat's app), which sets s.app = app, so a real beat
# replaces the app a crontab was bound to (and a fresh crontab has no cached tz yet).
NOT_WRONG = [
    # routing_key alone or exchange alone: Celery's send_task_message turns a direct publish
    # with no exchange (or no routing key) into the anonymous exchange with the queue's name,
    # so the message still reaches 'celery' (checked on the embedded broker too).
    ("06.2", "routing-key-only", "harmless: converted to the anon exchange", (jobs_routing_key,)),
    ("06.2", "exchange-only", "harmless: converted to the anon exchange", (jobs_exchange,)),
    ("06.4", "routing-key-only", "harmless: converted to the anon exchange", (vip_routing_key,)),
    ("06.1", "bound-to-course-app", "crontab(app=app): beat rebinds the schedule to its own "
     "app, so this is harmless", (crontab(hour=7, minute=30, day_of_week="1-5", app=app),)),
    ("06.4", "crontab-every-5", "crontab(minute='*/5'): clock-aligned instead of 5 min from "
     "beat's start; arguably also 'every 5 minutes'",
     ({"task": "platform.expire_vip_memberships", "schedule": crontab(minute="*/5"),
       "kwargs": {"batch_size": 100}},)),
]

if __name__ == "__main__":
    runtime.start(quiet=True)
    only = sys.argv[1:]
    try:
        groups = {"solutions": SOLUTIONS, "not_wrong": NOT_WRONG + NOT_WRONG_EXTRA}
        picked = next((groups[g] for g in only if g in groups), WRONG)
        for ex, name, why, args in picked:
            if only and not set(only) & set(groups) and ex not in only and name not in only:
                continue
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark}\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
