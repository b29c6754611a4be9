"""The lab worker process (course_tasks.processes): it runs tasks, and nothing outlives it.

Embedded mode here (the test process); redis mode in a subprocess on a throwaway Redis.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from celery.exceptions import WorkerLostError

from conftest import ROOT, course_env, run_python
from course_tasks import processes, runtime

ADD = "course_tasks.tasks.basics.add"
SLEEPY = "course_tasks.tasks.basics.sleepy_add"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie of ours counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1].startswith("Z")


def _wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [pid for pid in pids if not _gone(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return left


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def lab():
    lab = processes.start(pool="prefork", concurrency=2, queues=("lab-test",), name="labtest")
    yield lab
    processes.stop_all()


def test_lab_worker_runs_course_tasks_by_name(lab: processes.LabWorker) -> None:
    assert lab.app.send_task(ADD, args=(2, 3)).get(timeout=10) == 5
    sig = lab.app.signature(ADD, args=(4,))
    assert sig.apply_async(args=(5,)).get(timeout=10) == 9
    assert lab.app.conf.task_serializer == "json"
    assert lab.app.conf.accept_content == ["json"]
    assert lab.app.conf.task_default_queue == "lab-test"
    assert len(lab.child_pids()) == 2


def test_start_reuses_a_running_worker(lab: processes.LabWorker) -> None:
    again = processes.start(pool="prefork", concurrency=2, queues=("lab-test",), name="labtest")
    assert again is lab


def test_lab_app_shares_the_store_with_the_notebook(lab: processes.LabWorker) -> None:
    import redis

    from course_tasks.store import store

    store().set("lab-test-key", "from the notebook")
    url = lab.app.conf.broker_url.rsplit("/", 1)[0] + "/2"
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        assert client.get("lab-test-key") == "from the notebook"
    finally:
        client.close()
        store().delete("lab-test-key")


def test_kill_child_mid_task_gives_worker_lost_error(lab: processes.LabWorker) -> None:
    result = lab.app.send_task(SLEEPY, args=(1, 2), kwargs={"seconds": 3})
    pid = lab.kill_child(signal.SIGKILL, task_id=result.id)
    assert result.get(timeout=10, propagate=False) is not None
    assert result.state == "FAILURE"
    assert isinstance(result.result, WorkerLostError)
    assert _wait_gone([pid]) == []
    # the pool replaces the child, and the worker goes on
    assert lab.app.send_task(ADD, args=(1, 1)).get(timeout=10) == 2


def test_a_killed_child_is_no_pool_process_and_wait_for_pool_waits(
    lab: processes.LabWorker,
) -> None:
    assert lab.wait_for_pool(seconds=8)
    victim = lab.child_pids()[0]
    os.kill(victim, signal.SIGKILL)
    _wait_gone([victim])  # dead (a zombie until the pool reaps it)
    assert victim not in lab.child_pids()
    assert lab.wait_for_pool(seconds=8)  # the pool's replacement, within its 5 s timer
    assert victim not in lab.child_pids() and len(lab.child_pids()) == 2


def test_stop_all_leaves_no_process_thread_or_port() -> None:
    lab = processes.start(pool="prefork", concurrency=2, queues=("lab-stop",), name="labstop")
    pids = [lab.pid, *lab.child_pids()]
    port = processes._broker.port  # type: ignore[union-attr]
    assert "lab-worker:labstop" in runtime.services()
    processes.stop_all()
    assert _wait_gone(pids) == []
    assert not lab.group_alive()
    assert not _port_open(port)
    assert not [t for t in threading.enumerate() if t.name == "course-lab-broker"]
    assert runtime.services() == []


def test_runtime_stop_stops_the_lab_worker() -> None:
    lab = processes.start(pool="solo", concurrency=1, queues=("lab-rt",), name="labrt")
    runtime.stop(quiet=True)
    assert _wait_gone([lab.pid]) == []
    assert processes.workers() == []


KILLED_PARENT = """
import sys
from course_tasks import processes
lab = processes.start(pool="prefork", concurrency=2, queues=("lab-orphan",), name="orphan")
print(lab.pid, *lab.child_pids(), flush=True)
sys.stdin.read()
"""


def test_nothing_outlives_a_killed_kernel() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=course_env(COURSE_BROKER=None),
        cwd=ROOT,
    )
    try:
        pids = [int(pid) for pid in proc.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(pids) == 3, pids
        proc.kill()  # SIGKILL: no atexit, no stop()
        proc.wait(5)
        assert _wait_gone(pids) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


REDIS_MODE = """
from course_tasks import processes, runtime
lab = processes.start(pool="prefork", concurrency=2, queues=("lab-redis",), name="labredis")
print(lab.app.send_task("course_tasks.tasks.basics.add", args=(2, 3)).get(timeout=10))
print(processes._broker is None)
pids = [lab.pid, *lab.child_pids()]
runtime.stop()
import os, time
time.sleep(0.5)
alive = []
for pid in pids:
    try:
        os.kill(pid, 0)
        alive.append(pid)
    except ProcessLookupError:
        pass
print("alive", alive)
"""


def test_redis_mode_uses_the_course_redis(redis_url: str) -> None:
    done = run_python(REDIS_MODE, timeout=60, COURSE_BROKER=redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == [
        "5",
        "True",
        "Course runtime stopped: no worker left running.",
        "alive []",
    ], done.stdout
