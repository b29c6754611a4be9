"""Tasks for the best-practice labs: idempotency, locks, retries, time limits, lost tasks.

Guide 000 §12 (set a status vs increment a counter, ``time_limit``, batches of 100), guide
001 §10, §12, §14 (an "already sent" check, a Redis lock, ``acks_late`` and
``reject_on_worker_lost``, soft and hard time limits), guide 002 §7-§8 (retry, then alert).
Chapter: 10_best_practices. Everything they touch is in the app-data store (db 2), which the
notebook, the embedded worker and a lab worker process (:mod:`course_tasks.processes`) share.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from course_tasks.app import app
from course_tasks.store import store

PREFIX = "practices:"


def key(*parts: object) -> str:
    """A key of this module's data in the app-data store."""
    return PREFIX + ":".join(str(part) for part in parts)


def reset() -> None:
    """Delete every key this module wrote (a lab's set-up cell calls it)."""
    r = store()
    names = list(r.scan_iter(match=PREFIX + "*", count=1000))
    if names:
        r.delete(*names)


# --------------------------------------------------------------------------- idempotency


@app.task
def set_status(user_id: int, status: str) -> str:
    """Guide 000's idempotent task: running it twice leaves the same status."""
    store().hset(key("status"), str(user_id), status)
    return status


@app.task
def increment_counter(user_id: int) -> int:
    """Guide 000's non-idempotent task: each run adds one more."""
    return int(store().hincrby(key("counter"), str(user_id), 1))


@app.task
def send_notification(user_id: int, message_id: str) -> str:
    """Guide 001 §12: send once per ``message_id``; a second run finds it already sent.

    The check and the mark are one ``SET NX`` (check-then-mark in two steps lets two
    concurrent runs both send).
    """
    r = store()
    if not r.set(key("sent", user_id, message_id), "1", nx=True, ex=24 * 3600):
        return "already sent"
    r.rpush(key("notifications", user_id), message_id)
    return "sent"


#: How long :func:`charge_card` takes (the card network's round trip).
CHARGE_SECONDS = 0.05


def charge_card(order_id: str, amount: int) -> None:
    """Simulate a card charge for ``order_id`` (takes 50 ms): one entry in the ledger.

    Exercise 10.1 makes a payment that calls it idempotent; :func:`charges` reads the ledger.
    """
    time.sleep(CHARGE_SECONDS)
    store().rpush(key("charges"), f"{order_id}:{amount}")


def charges() -> list[str]:
    """Every charge made, as ``"order_id:amount"``, in order."""
    return list(store().lrange(key("charges"), 0, -1))


# --------------------------------------------------------------------------- a unique lock


@app.task
def unique_report(name: str, seconds: float = 0.5, lock_seconds: int = 3) -> str:
    """Guide 001 §14: one report per ``name`` at a time, under a Redis lock with expiry.

    ``SET lock NX EX lock_seconds`` with a random token; released only by its holder (a
    compare-and-delete in Lua), so a run whose lock expired cannot delete the next holder's.
    Records every run that did the work in the list ``practices:reports:<name>``.
    """
    r = store()
    token = uuid.uuid4().hex
    lock = key("lock", name)
    if not r.set(lock, token, nx=True, ex=lock_seconds):
        return "skipped: already running"
    try:
        r.set(key("holder", name), os.getpid())
        time.sleep(seconds)
        r.rpush(key("reports", name), token)
        return "done"
    finally:
        release_lock(lock, token)


RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_lock(name: str, token: str) -> bool:
    """Delete the lock ``name`` if ``token`` still holds it (atomically)."""
    return bool(store().eval(RELEASE, 1, name, token))


# --------------------------------------------------------------------------- retries


class TemporaryError(ConnectionError):
    """A service that is down for a moment: worth retrying."""


class PermanentError(ValueError):
    """A request that will never succeed (bad input): retrying cannot help."""


def _attempt(name: str) -> int:
    r = store()
    r.rpush(key("attempts", name), repr(time.time()))
    return int(r.llen(key("attempts", name)))


@app.task(
    bind=True,
    autoretry_for=(TemporaryError,),
    retry_backoff=1,
    retry_backoff_max=2,
    retry_jitter=False,
    max_retries=3,
)
def flaky_fetch(self: Any, name: str, failures: int, permanent: bool = False) -> str:
    """A service that fails ``failures`` times (temporary errors) before it answers.

    ``permanent=True``: it answers with a :class:`PermanentError`, which is not retried.
    Every attempt's time is in the list ``practices:attempts:<name>``.
    """
    attempt = _attempt(name)
    if permanent:
        raise PermanentError(f"{name}: no such record")
    if attempt <= failures:
        raise TemporaryError(f"{name}: service unavailable (attempt {attempt})")
    return f"{name}: ok after {attempt} attempts"


def attempt_times(name: str) -> list[float]:
    """The times (``time.time()``) of the attempts of :func:`flaky_fetch` ``name``."""
    return [float(t) for t in store().lrange(key("attempts", name), 0, -1)]


@app.task(bind=True, autoretry_for=(TemporaryError,), default_retry_delay=0.1, max_retries=2)
def alerting_fetch(self: Any, name: str, failures: int) -> str:
    """Guide 002 §7: retry, and after the last retry record an alert (a dead letter)."""
    attempt = _attempt(name)
    if attempt <= failures:
        if self.request.retries >= self.max_retries:
            store().rpush(key("dead-letters"), f"{name}: gave up after {attempt} attempts")
        raise TemporaryError(f"{name}: service unavailable (attempt {attempt})")
    return f"{name}: ok after {attempt} attempts"


# --------------------------------------------------------------------------- time limits


@app.task
def convert_video(name: str, seconds: float) -> str:
    """Work that takes ``seconds``; on ``SoftTimeLimitExceeded`` it removes its temp file.

    The "temp file" is the key ``practices:tmp:<name>``; ``practices:cleaned`` lists the
    names that were cleaned up after a soft time limit.
    """
    r = store()
    r.set(key("tmp", name), "partial output")
    try:
        time.sleep(seconds)
        r.delete(key("tmp", name))
        return "converted"
    except SoftTimeLimitExceeded:
        r.delete(key("tmp", name))
        r.rpush(key("cleaned"), name)
        return "stopped by the soft time limit: cleaned up"


def open_temp(name: str) -> None:
    """Create the temporary file of the encoding ``name`` (exercise 10.4)."""
    store().set(key("tmp", name), "partial output")


def encode_part(name: str, part: int) -> None:
    """Encode one part of ``name`` (20 ms of work); recorded in ``practices:parts:<name>``."""
    time.sleep(0.02)
    store().rpush(key("parts", name), part)


def remove_temp(name: str) -> None:
    """Remove the temporary file of the encoding ``name``."""
    store().delete(key("tmp", name))


def temp_exists(name: str) -> bool:
    return bool(store().exists(key("tmp", name)))


def parts(name: str) -> list[int]:
    return [int(part) for part in store().lrange(key("parts", name), 0, -1)]


@app.task
def runaway(name: str) -> str:
    """A task that never ends (a busy loop that ignores everything but a signal)."""
    store().set(key("runaway-pid", name), os.getpid())
    while True:
        time.sleep(0.01)


# --------------------------------------------------------------------------- lost tasks


#: How long a requeued step runs when it is delivered again (chapter 10's lost-task lab).
RERUN_SECONDS = 0.5


def _step(task: Any, name: str, seconds: float) -> str:
    """Record the start, work ``seconds``, record the end.

    A redelivered step (requeued after its process died: kombu marks the message
    ``redelivered``) works :data:`RERUN_SECONDS` instead, so that the lab can give the first
    runs a long time (they are killed long before it ends, however loaded the machine) and
    still wait little for the reruns.
    """
    r = store()
    r.rpush(key("pids", name), os.getpid())
    r.hincrby(key("runs", name), "started", 1)
    redelivered = (task.request.delivery_info or {}).get("redelivered")
    time.sleep(RERUN_SECONDS if redelivered else seconds)
    r.hincrby(key("runs", name), "finished", 1)
    return "done"


@app.task(bind=True)
def step_default(self: Any, name: str, seconds: float = 1.0) -> str:
    """A step acknowledged before it runs (Celery's default, ``acks_late=False``)."""
    return _step(self, name, seconds)


@app.task(bind=True, acks_late=True)
def step_acks_late(self: Any, name: str, seconds: float = 1.0) -> str:
    """The same step, acknowledged after it ran (``acks_late=True``)."""
    return _step(self, name, seconds)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def step_requeued(self: Any, name: str, seconds: float = 1.0) -> str:
    """The same step, ``acks_late`` and ``reject_on_worker_lost``: requeued if its process dies."""
    return _step(self, name, seconds)


def wait_for_key(name: str, count: int = 1, seconds: float = 4.0) -> bool:
    """Wait until the key ``name`` exists (a hash or list: has ``count`` entries).

    For a lab cell that must act once a task on the worker has reached a point.
    """
    r = store()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind = r.type(name)
        if kind == "hash" and int(r.hget(name, "started") or 0) >= count:
            return True
        if kind in ("string", "list") and (kind == "string" or r.llen(name) >= count):
            return True
        time.sleep(0.01)
    return False


def runs(name: str) -> dict[str, int]:
    """``{"started": n, "finished": m}`` for the steps called ``name``."""
    got = store().hgetall(key("runs", name))
    return {"started": int(got.get("started", 0)), "finished": int(got.get("finished", 0))}


def step_pids(name: str) -> list[int]:
    """The pids of the processes that started a step called ``name``, in order."""
    return [int(pid) for pid in store().lrange(key("pids", name), 0, -1)]


# --------------------------------------------------------------------------- batching, memory


@app.task(ignore_result=True)
def touch(item: int) -> None:
    """One tiny unit of work: count one item (``ignore_result``: nothing stored)."""
    store().incr(key("touched"))


@app.task(ignore_result=True)
def touch_batch(items: list[int]) -> None:
    """The same work for a batch of items, in one task (guide 000 §12: batches of 100)."""
    store().incrby(key("touched"), len(items))


def touched() -> int:
    return int(store().get(key("touched")) or 0)


_LEAK: list[bytes] = []


@app.task
def leaky(kilobytes: int = 512) -> dict[str, int]:
    """A task that leaks memory (keeps a buffer per call); returns the process's pid and RSS."""
    _LEAK.append(b"x" * kilobytes * 1024)
    with open("/proc/self/statm") as statm:
        rss_pages = int(statm.read().split()[1])
    return {"pid": os.getpid(), "rss_kb": rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024}
