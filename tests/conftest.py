"""Fixtures: an embedded worker, a throwaway Redis server, and subprocess helpers.

The mode is read when ``course_tasks`` is imported, so this test process runs in embedded
mode (``COURSE_BROKER`` is removed below) and anything that needs another mode runs in a
subprocess with its own environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.pop("COURSE_BROKER", None)
os.environ.setdefault("COURSE_HOME", str(Path(__file__).parent.parent / ".course"))

ROOT = Path(__file__).resolve().parent.parent
# Notebooks the grader tests run (one loops for ever on purpose): never collect them.
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="module")
def worker() -> Iterator[None]:
    """An embedded worker for the tests of one module."""
    from course_tasks import runtime

    runtime.start(quiet=True)
    yield
    runtime.stop(quiet=True)
    assert runtime.leftover_threads() == []


@pytest.fixture
def fast_smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The simulated mail server without its 2 s delay, and an empty outbox."""
    from course_tasks.tasks import email

    monkeypatch.setattr(email, "SMTP_SECONDS", 0.0)
    email.clear_outbox()
    yield
    email.clear_outbox()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of its own on a free loopback port (skips if redis-server is absent)."""
    from course_tasks import services

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs nothing system-wide)")
    with services.throwaway_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def course_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment with ``overrides`` (``None`` removes a variable)."""
    env = dict(os.environ)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_course(
    *args: str, timeout: float = 30, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m course_tasks ARGS`` with the given environment changes."""
    return subprocess.run(
        [sys.executable, "-m", "course_tasks", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=course_env(**env),
        cwd=ROOT,
    )


def run_python(
    code: str, timeout: float = 30, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run a snippet of Python in a fresh interpreter with the given environment changes."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=course_env(**env),
        cwd=ROOT,
    )


@pytest.fixture
def redis_worker(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A real ``python -m course_tasks worker`` process on the test Redis; stopped after."""
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_tasks",
            "worker",
            "--pool=solo",
            "-n",
            "testworker@%h",
            "--without-mingle",
            "--without-gossip",
            f"--logfile={log}",
        ],
        env=course_env(COURSE_BROKER=redis_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield redis_url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test left a Celery thread or a child process behind."""
    from course_tasks import runtime

    left = runtime.leftover_threads()
    children = _child_processes()
    if left or children:
        print(f"\nLEFT RUNNING after the tests: threads={left} processes={children}")
        session.exitstatus = 1


def _child_processes() -> list[str]:
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.append(stat.parent.name)
    return found
