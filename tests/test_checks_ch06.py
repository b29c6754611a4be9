"""Chapter 06: the checks on right and wrong answers, and the beat service, against a worker."""

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


def test_06_1_right_answer() -> None:
    assert_passed(verdict("06.1", crontab(hour=7, minute=30, day_of_week="1-5")), "10 runs")
    assert_passed(verdict("06.1", crontab(hour=7, minute=30, day_of_week="mon-fri")))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (crontab(hour=7, day_of_week="1-5"), "over 100 runs", "without minute=, crontab fires"),
        (crontab(hour=7, minute=30, day_of_week=1), "2 runs", "day_of_week=1 is Monday only"),
        (crontab(hour=7, minute=30), "14 runs", "it fires at the weekend too"),
        (crontab(hour=7, minute=30, day_of_week="0-4"), "10 runs", "in crontab 0 is Sunday"),
        (crontab(hour=23, minute=30, day_of_week="0-4"), "Mon 23:30", "beat reads crontab hours"),
        (450.0, "over 100 runs", "a number of seconds repeats"),
        ("7:30", "a str, not a schedule", "use crontab(...)"),
    ],
)
def test_06_1_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.1", answer), problem, hint)


# --------------------------------------------------------------------------- 06.2


def _table(**changes: dict[str, object]) -> dict[str, dict[str, object]]:
    jobs: dict[str, dict[str, object]] = {
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
    for name, change in changes.items():
        jobs[name.replace("_", "-")] = {**jobs[name.replace("_", "-")], **change}
    return jobs


def test_06_2_right_answer() -> None:
    assert_passed(verdict("06.2", _table()), "all run by the worker")
    with_crontab = _table(cancel_expired_tasks={"schedule": crontab()})
    assert_passed(verdict("06.2", with_crontab))


@pytest.mark.parametrize(
    ("changes", "problem", "hint"),
    [
        (
            {"process_customer_service_queue": {"schedule": 1800.0}},
            "ran 48 times",
            "minutes and seconds mixed up?",
        ),
        ({"cancel_expired_tasks": {"schedule": 1.0}}, "fired", "a float schedule is in seconds"),
        (
            {"cleanup_long_inactive_chats": {"schedule": crontab(hour=2)}},
            "ran 60 times",
            "without minute=, crontab(hour=2) fires every minute",
        ),
        (
            {"cancel_expired_tasks": {"task": "platform.cancel_expired_task"}},
            "which no worker knows",
            "a typo or a module path",
        ),
        (
            {"update_all_users_statistics": {"schedule": crontab(minute=10)}},
            "ran 24 times",
            "crontab(minute=10) is ten past every hour",
        ),
        (
            {"cleanup_long_inactive_chats": {"schedule": crontab(hour=3, minute=0)}},
            "first at 03:00",
            "crontab(hour=2, minute=0)",
        ),
    ],
)
def test_06_2_wrong_answers(changes: dict, problem: str, hint: str) -> None:
    assert_fails(verdict("06.2", _table(**changes)), problem, hint)


def test_06_2_wrong_shapes() -> None:
    assert_fails(verdict("06.2", [1, 2]), "not a dict", "beat_schedule is a dict")
    missing = _table()
    del missing["cancel-expired-tasks"]
    assert_fails(verdict("06.2", missing), "no entry named 'cancel-expired-tasks'", "use the entry")


# --------------------------------------------------------------------------- 06.3


def unknown_tasks(schedule):
    return [name for name, entry in schedule.items() if entry["task"] not in app.tasks]


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


def test_06_3_right_answer() -> None:
    assert_passed(verdict("06.3", unknown_tasks), "3 unknown names caught")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (unknown_task_names, "it returned task names", "return the entries' names"),
        (
            unknown_lowercase,
            "it returned ['cancel-expired', 'points']",
            "task names are case-sensitive",
        ),
        (unknown_last_part, "it returned ['cancel-expired']", "compare whole names"),
        (unknown_hard_coded, "for a schedule with no typo", "look the names up in app.tasks"),
        (unknown_nothing, "it returned []", "beat sends whatever name you write"),
    ],
)
def test_06_3_wrong_answers(answer: object, problem: str, hint: str) -> None:
    assert_fails(verdict("06.3", answer), problem, hint)


def test_06_3_stub_is_not_yet() -> None:
    assert "not yet" in verdict("06.3", unknown_stub).feedback


# --------------------------------------------------------------------------- 06.4

VIP = {"task": "platform.expire_vip_memberships", "schedule": 300.0, "kwargs": {"batch_size": 100}}


def test_06_4_right_answer() -> None:
    assert_passed(verdict("06.4", VIP), "the worker ran it with {'batch_size': 100}")
    assert_passed(verdict("06.4", {**VIP, "schedule": crontab(minute="*/5")}))


@pytest.mark.parametrize(
    ("change", "problem", "hint"),
    [
        (
            {"task": "course_tasks.tasks.periodic.expire_vip_memberships"},
            "which no worker knows",
            "a typo or a module path",
        ),
        ({"schedule": 5}, "over 100 runs", "a float schedule is in seconds"),
        ({"schedule": crontab(minute=5)}, "it fired at 00:05.", "every 5 minutes"),
        ({"kwargs": None, "args": (100,)}, "keyword arguments only", 'pass "kwargs"'),
        ({"kwargs": {"batch": 100}}, "its kwargs are", 'the job expects "kwargs"'),
    ],
)
def test_06_4_wrong_answers(change: dict, problem: str, hint: str) -> None:
    assert_fails(verdict("06.4", {**VIP, **change}), problem, hint)


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
