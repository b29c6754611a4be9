"""Processes the course starts for itself: a throwaway Redis, and stopping what it started.

Used by the tests (a Redis of their own), the benchmarks (``--redis-url auto``) and the
runtime of later chapters. Everything started here is stopped by the same context manager,
also when the code inside it fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from course_tasks.errors import CourseError

STOP_GRACE_SECONDS = 10.0
REDIS_READY_SECONDS = 5.0
#: Linux's prctl option: the signal a process gets when the thread that started it ends.
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """``preexec_fn``: SIGKILL this process when the thread that started it ends.

    A worker process a notebook started must not outlive a kernel that was killed.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], *, group: bool = False) -> float:
    """Terminate ``proc`` (and its process group if it leads one); kill it if it hangs.

    Returns the seconds it took. ``group=True`` is for a process started with
    ``start_new_session=True`` whose children (a prefork pool) must go too.
    """
    started = time.perf_counter()
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            proc.wait(timeout=STOP_GRACE_SECONDS)
    elapsed = time.perf_counter() - started
    if group:  # children left behind by a main process that died early
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return elapsed


@contextlib.contextmanager
def throwaway_redis(workdir: Path) -> Iterator[str]:
    """A ``redis-server`` on a free loopback port, without persistence; yields its URL.

    Raises :class:`CourseError` if ``redis-server`` is not installed or does not answer.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise CourseError(
            "redis-server is not installed.",
            "install it (Debian: apt-get install redis-server; conda: redis-server).",
        )
    port = free_port()
    data = Path(workdir) / f"redis-{port}"
    data.mkdir(parents=True)
    log = data / "redis-server.log"
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", str(data), "--daemonize", "no"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=data)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + REDIS_READY_SECONDS
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                raise CourseError(f"redis-server exited at start: {' '.join(tail)}")
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() >= deadline:
                    raise CourseError(
                        f"redis-server on port {port} did not answer within "
                        f"{REDIS_READY_SECONDS:g} s"
                    ) from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop_process(proc)
