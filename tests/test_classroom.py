"""Learners on one Redis: with COURSE_LEARNER, queues, results, app data and workers never meet.

Two learners, alice and bob, each with a worker process of their own on one redis-server,
do what made 11 of 168 cells fail when three learners shared a Redis without namespaces
(issue 10): an upload outage, outboxes, purges, a fixed task id, pings and broadcast
commands. Each snippet runs in a fresh interpreter, as a learner's kernel would, since the
mode is read at import. Then the instructor's view: ``doctor`` and ``probe.classroom``
without COURSE_LEARNER see every learner's worker.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from conftest import ROOT, course_env, run_course, run_python

pytestmark = pytest.mark.redis

LEARNERS = ("alice", "bob")


def _start_worker(url: str, learner: str | None, log: Path) -> subprocess.Popen[bytes]:
    name = f"{learner or 'plain'}-worker@%h"
    return subprocess.Popen(
        [sys.executable, "-m", "course_tasks", "worker", "--pool=solo", "-n", name,
         "--without-mingle", "--without-gossip", f"--logfile={log}"],
        env=course_env(COURSE_BROKER=url, COURSE_LEARNER=learner, COURSE_SMTP_SECONDS="0"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    from course_tasks.services import stop_process

    stop_process(proc)


@pytest.fixture(scope="module")
def classroom(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """alice's and bob's workers on the test Redis, each in its own namespace."""
    logs = tmp_path_factory.mktemp("classroom")
    procs = [_start_worker(redis_url, name, logs / f"{name}.log") for name in LEARNERS]
    try:
        for name in LEARNERS:
            ready = as_learner(
                redis_url, name,
                "from course_tasks import runtime; print(runtime.wait_for_workers(20))",
            )  # fmt: skip
            assert f"{name}-worker@" in ready.stdout, ready.stderr
        yield redis_url
    finally:
        for proc in procs:
            _stop(proc)


def as_learner(url: str, learner: str | None, code: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        code, timeout=60, COURSE_BROKER=url, COURSE_LEARNER=learner, COURSE_SMTP_SECONDS="0"
    )


def ok(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_one_learners_upload_outage_does_not_make_anothers_export_retry(classroom: str) -> None:
    ok(as_learner(classroom, "alice", "from course_tasks.tasks import reports\n"
                  "reports.clear_files(); reports.fail_next_uploads(2)"))  # fmt: skip
    export = (
        "from course_tasks.tasks import reports\n"
        "r = reports.export_users_csv.delay(7, rows=1, seconds_per_row=0)\n"
        "r.get(timeout=20)\n"
        "print(r.retries, r.result['url'])\n"
    )
    assert ok(as_learner(classroom, "bob", export)) == ["0 https://files.example.com/exports/users-7.csv"]
    # alice's outage is still there, whole, for alice's own export
    assert ok(as_learner(classroom, "alice", export)) == ["2 https://files.example.com/exports/users-7.csv"]


def test_outboxes_and_download_lists_stay_apart(classroom: str) -> None:
    send = (
        "from course_tasks.tasks import email, reports\n"
        "email.clear_outbox(); reports.clear_files()\n"
        "email.send_welcome_email.delay('{who}@example.com', '{who}').get(timeout=20)\n"
        "reports.record_download.delay('url-of-{who}')\n"
    )
    ok(as_learner(classroom, "alice", send.format(who="alice")))
    ok(as_learner(classroom, "bob", send.format(who="bob")))
    look = (
        "import time\n"
        "from course_tasks.tasks import email, reports\n"
        "deadline = time.monotonic() + 10\n"
        "while not reports.downloads() and time.monotonic() < deadline: time.sleep(0.05)\n"
        "print([m['to'] for m in email.outbox()], reports.downloads())\n"
    )
    assert ok(as_learner(classroom, "alice", look)) == ["['alice@example.com'] ['url-of-alice']"]
    assert ok(as_learner(classroom, "bob", look)) == ["['bob@example.com'] ['url-of-bob']"]


def test_a_purge_empties_only_the_learners_own_queue(classroom: str) -> None:
    park = (
        "from course_tasks.app import app\n"
        "from course_tasks.tasks.basics import add\n"
        "with app.connection_for_write() as conn:\n"
        "    conn.default_channel.queue_purge('parked')\n"
        "add.apply_async((1, 1), queue='parked')\n"
    )
    ok(as_learner(classroom, "bob", park))
    ok(as_learner(classroom, "alice", park))  # alice purges 'parked', then parks one of hers
    count = (
        "from course_tasks.app import app\n"
        "with app.connection_for_write() as conn:\n"
        "    print(conn.default_channel.queue_declare('parked', passive=True).message_count)\n"
        "    client = conn.default_channel.client\n"
        "    print([(key, client.llen(key)) for key in sorted(client.keys('park*'))])\n"
        "    conn.default_channel.queue_purge('parked')\n"
    )
    # the learner's lists, named as without a namespace (KEYS, then LLEN with bytes keys)
    assert ok(as_learner(classroom, "bob", count)) == ["1", "[(b'parked', 1)]"]
    assert ok(as_learner(classroom, "alice", count)) == ["1", "[(b'parked', 1)]"]


def test_the_same_task_id_is_two_results(classroom: str) -> None:
    send = (
        "from course_tasks.tasks.basics import add\n"
        "print(add.apply_async({args}, task_id='order-42').get(timeout=20))\n"
    )
    assert ok(as_learner(classroom, "alice", send.format(args=(1, 2)))) == ["3"]
    assert ok(as_learner(classroom, "bob", send.format(args=(20, 22)))) == ["42"]
    read = "from course_tasks.app import app\nprint(app.AsyncResult('order-42').result)\n"
    assert ok(as_learner(classroom, "alice", read)) == ["3"]
    assert ok(as_learner(classroom, None, read)) == ["None"]  # no namespace: nothing stored
    results = redis.Redis.from_url(classroom.rsplit("/", 1)[0] + "/1", decode_responses=True)
    assert sorted(results.keys("*order-42")) == [
        "learner:alice:celery-task-meta-order-42",
        "learner:bob:celery-task-meta-order-42",
    ]
    results.close()


def test_a_learner_sees_and_commands_only_their_own_worker(classroom: str) -> None:
    ping = "from course_tasks.app import app\nprint(sorted(app.control.ping(timeout=1)[0]))\n"
    assert ok(as_learner(classroom, "alice", ping))[0].startswith("['alice-worker@")
    assert ok(as_learner(classroom, "bob", ping))[0].startswith("['bob-worker@")
    limit = (
        "from course_tasks.app import app\n"
        "replies = app.control.rate_limit('course_tasks.tasks.basics.add', '{rate}', reply=True)\n"
        "print(sorted(name for reply in replies for name in reply))\n"
    )
    alice = ok(as_learner(classroom, "alice", limit.format(rate="1/h")))  # a broadcast command
    try:
        assert alice[0].startswith("['alice-worker@") and "bob" not in alice[0]
        twice = (
            "from course_tasks.tasks.basics import add\n"
            "print([add.delay(i, i).get(timeout=10) for i in (1, 2)])\n"
        )
        assert ok(as_learner(classroom, "bob", twice)) == ["[2, 4]"]  # bob's worker: no limit
    finally:
        ok(as_learner(classroom, "alice", limit.format(rate="0")))


def test_the_banner_names_the_namespace(classroom: str) -> None:
    lines = ok(as_learner(classroom, "alice", "from course_tasks import runtime\nruntime.start()"))
    assert lines[0].startswith("Course mode: redis (broker redis://127.0.0.1:")
    assert lines[0].endswith(", learner alice: keys under learner:alice:)")
    assert lines[1].startswith("Workers: alice-worker@")


def test_the_instructor_sees_every_learners_worker(classroom: str) -> None:
    code = (
        "from course_tasks import probe, settings\n"
        "from course_tasks.app import app\n"
        "room = probe.classroom(app, settings.from_env().broker_url)\n"
        "print({k: [w.split('@')[0] for w in v] for k, v in room.items()})\n"
    )
    assert ok(as_learner(classroom, None, code)) == [
        "{'alice': ['alice-worker'], 'bob': ['bob-worker']}"
    ]
    doctor = run_course("doctor", COURSE_BROKER=classroom, COURSE_LEARNER=None, timeout=60)
    assert "learners   2 namespaces (COURSE_LEARNER), 2 with workers" in doctor.stdout
    assert "learner    alice: 1 answered ping: alice-worker@" in doctor.stdout
    assert "learner    bob: 1 answered ping: bob-worker@" in doctor.stdout
    learner = run_course("doctor", COURSE_BROKER=classroom, COURSE_LEARNER="bob", timeout=60)
    assert learner.returncode == 0, learner.stdout
    assert "learner    bob (COURSE_LEARNER): broker, results and app-data keys start with " \
        "learner:bob:" in learner.stdout  # fmt: skip
    assert "workers    1 answered ping in namespace bob: bob-worker@" in learner.stdout
    assert "alice" not in learner.stdout


def test_a_learner_without_a_worker_is_told_where_workers_answer(
    classroom: str, tmp_path: Path
) -> None:
    plain = _start_worker(classroom, None, tmp_path / "plain.log")  # COURSE_LEARNER forgotten
    try:
        wait = "from course_tasks import runtime; print(runtime.wait_for_workers(20))"
        assert "plain-worker@" in as_learner(classroom, None, wait).stdout
        doctor = run_course("doctor", COURSE_BROKER=classroom, COURSE_LEARNER="carol", timeout=60)
        assert doctor.returncode == 1
        assert "workers    0 answered ping in namespace carol" in doctor.stdout
        assert "(no COURSE_LEARNER): plain-worker@" in doctor.stdout
        assert "alice: alice-worker@" in doctor.stdout
        assert "Fix: start your worker with the same COURSE_BROKER and COURSE_LEARNER: " \
            "`COURSE_LEARNER=carol python -m course_tasks worker`" in doctor.stdout  # fmt: skip
        start = run_python(
            "from course_tasks import runtime\n"
            "try:\n"
            "    runtime.start()\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n",
            COURSE_BROKER=classroom, COURSE_LEARNER="carol", COURSE_WORKER_WAIT="1",
        )  # fmt: skip
        assert start.stdout.startswith(
            "NoWorker No Celery worker answered within 1 s in namespace carol"
        )
        assert "`COURSE_LEARNER=carol python -m course_tasks worker`" in start.stdout
    finally:
        _stop(plain)


def _all_keys(base: str) -> set[tuple[int, str]]:
    found = set()
    for db in (0, 1, 2):
        client = redis.Redis.from_url(f"{base}/{db}", decode_responses=True)
        found |= {(db, key) for key in client.scan_iter(count=1000)}
        client.close()
    return found


def test_everything_a_learner_writes_is_under_their_prefix(classroom: str) -> None:
    base = classroom.rsplit("/", 1)[0]
    before = _all_keys(base)
    ok(as_learner(classroom, "alice", (
        "from course_tasks.app import app\n"
        "from course_tasks.store import store\n"
        "from course_tasks.tasks.basics import add\n"
        "from course_tasks.tasks import email\n"
        "add.apply_async((1, 2), task_id='fresh-1').get(timeout=20)\n"
        "add.apply_async((1, 2), queue='fresh-queue')\n"
        "email.send_welcome_email.delay('a@example.com', 'A').get(timeout=20)\n"
        "store().set('fresh-key', 1)\n"
        "with app.connection_for_write() as conn:\n"  # chapter 08: options of its own
        "    with conn.clone(transport_options={'sep': ':'}) as ten_levels:\n"
        "        ten_levels.default_channel.client.rpush('cloned-list', 'x')\n"
        "print(app.control.ping(timeout=0.5))\n"
    )))  # fmt: skip
    new = _all_keys(base) - before
    assert {db for db, _ in new} == {0, 1, 2}
    assert sorted(key for _, key in new if not key.startswith("learner:alice:")) == []
    assert {(0, "learner:alice:fresh-queue"), (1, "learner:alice:celery-task-meta-fresh-1"),
            (2, "learner:alice:fresh-key"), (0, "learner:alice:cloned-list")} <= new  # fmt: skip
