"""Checks of chapter 10's exercises (``solutions/10_best_practices_solutions.ipynb``).

* 10.1 ``check("10.1", pay)``: ``pay(order_id, amount)`` charges the card
  (:func:`course_tasks.tasks.practices.charge_card`) at most once per order, even when two
  deliveries of the same message run at the same time; answers ``"charged"`` or
  ``"already paid"``.
* 10.2 ``check("10.2", RETRY_OPTIONS)``: the options of a task that calls a flaky service:
  retry :class:`~course_tasks.tasks.practices.TemporaryError` only, automatically, waiting
  1, 2, 4... s (never over 60 s), with jitter, at most 5 times.
* 10.3 ``check("10.3", acquire, release)``: a Redis lock at ``practices.key("lock", name)``
  with an expiry and a token; ``release`` deletes it only for the token's holder.
* 10.4 ``check("10.4", encode)``: ``encode(name, parts)`` removes its temporary file and
  returns ``"stopped"`` when ``SoftTimeLimitExceeded`` strikes.

How they run the learner's code: 10.1 and 10.3 call the functions here, against the
app-data store the tasks use (10.1 with two threads at once, as two deliveries on two pool
processes). 10.2 builds a task with the options and runs it with ``task.apply()``:
Celery's own retry code (``autoretry_for``'s wrapper, ``Task.retry``) computes every
countdown, collected from the ``task_retry`` signal, without waiting them out (a schedule of
1 + 2 + 4 + 8 + 16 s would not fit a check). 10.4 raises ``SoftTimeLimitExceeded`` inside
``encode`` from a signal handler after 0.2 s, as the prefork pool's child does
(``billiard.pool.soft_timeout_sighandler`` on ``SIGUSR1``; here ``SIGALRM`` from a timer).
"""

from __future__ import annotations

import inspect
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any

from celery import signals
from celery.exceptions import SoftTimeLimitExceeded

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    error_text,
    is_stub_body,
    kind,
    need_function,
    quiet_trace_log,
)
from course_tasks.store import store
from course_tasks.tasks import practices
from course_tasks.tasks.practices import PermanentError, TemporaryError

#: What exercise 10.1's ``pay`` answers.
CHARGED, ALREADY = "charged", "already paid"
#: The schedule exercise 10.2 asks for (without jitter): 1 s, doubling, at most 60 s.
SCHEDULE = [1, 2, 4, 8, 16]
CAP, MAX_RETRIES = 60, 5
#: When the check's soft time limit strikes in exercise 10.4.
SOFT_SECONDS = 0.2
_runs = count(1)


def _order(tag: str) -> str:
    return f"check-{tag}-{uuid.uuid4().hex[:8]}"


def _charges(order_id: str) -> int:
    return sum(1 for entry in practices.charges() if entry.rsplit(":", 1)[0] == order_id)


# --------------------------------------------------------------------------- 10.1


def _pay(pay: Callable[..., Any], order_id: str, amount: int) -> Any:
    answer = pay(order_id, amount)
    if answer is None and is_stub_body(pay, unknown=False):
        raise NotYet("write the body of pay")
    return answer


@exercise("10.1", "an idempotent payment", points=2)
def _idempotent_payment(pay: Any) -> str:
    pay = need_function(pay, "pay", "pay(order_id, amount)", purpose="charges the card once")
    # Two deliveries of the same message, one after the other.
    order = _order("a")
    answers = [_pay(pay, order, 30), _pay(pay, order, 30)]
    charged = _charges(order)
    if charged == 0:
        raise Fail(
            f"pay({order!r}, 30) answered {answers[0]!r} but charged nothing",
            hint="call practices.charge_card(order_id, amount) the first time",
        )
    if charged > 1:
        raise Fail(
            f"two deliveries of pay({order!r}, 30) charged the card {charged} times",
            hint="remember the order in the store (r.set(key, 1, nx=True)) and charge only "
            "when that SET succeeded",
        )
    if answers != [CHARGED, ALREADY]:
        raise Fail(
            f"two deliveries answered {answers!r}",
            hint=f'answer "{CHARGED}" the first time and "{ALREADY}" after',
        )
    # Another order is a new payment.
    other = _order("b")
    answer = _pay(pay, other, 45)
    if _charges(other) != 1 or answer != CHARGED:
        raise Fail(
            f"after order {order!r}, a new order {other!r} answered {answer!r} "
            f"and was charged {_charges(other)} times",
            hint="key the mark by the order: practices.key('paid', order_id), not one key "
            "for every order",
        )
    # Two deliveries at the same time (two pool processes).
    both = _order("c")
    barrier = threading.Barrier(2)
    box: list[Any] = []

    def delivery() -> None:
        barrier.wait(2)
        try:
            box.append(pay(both, 30))
        except Exception as exc:  # reported below
            box.append(exc)

    threads = [threading.Thread(target=delivery, name="course-check-10") for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    errors = [item for item in box if isinstance(item, Exception)]
    if errors:
        raise Fail(f"pay raised {error_text(errors[0])} when two deliveries ran at once")
    if _charges(both) != 1:
        raise Fail(
            f"two deliveries of pay({both!r}, 30) at the same time charged the card "
            f"{_charges(both)} times",
            hint="a GET (is it paid?) then a SET (now it is) lets two deliveries both pass "
            "the check: check and mark in one step, r.set(key, 1, nx=True)",
        )
    if sorted(box) != [ALREADY, CHARGED]:
        raise Fail(f"two deliveries at the same time answered {sorted(box)!r}")
    return "one charge for two deliveries, one after the other and at the same time"


# --------------------------------------------------------------------------- 10.2


@contextmanager
def _retries_of(task_name: str) -> Iterator[list[Any]]:
    whens: list[Any] = []

    def on_retry(sender: Any = None, reason: Any = None, **_: Any) -> None:
        if getattr(sender, "name", None) == task_name:
            whens.append(getattr(reason, "when", None))

    signals.task_retry.connect(on_retry, weak=False)
    try:
        yield whens
    finally:
        signals.task_retry.disconnect(on_retry)


def _build(options: dict[str, Any]) -> Any:
    """A task calling the flaky service, with the learner's ``options``; registered here."""
    name = f"course_tasks.checks.ch10.fetch_{next(_runs)}_{uuid.uuid4().hex[:6]}"
    attempts: list[int] = []

    def fetch(self: Any, failures: int, permanent: bool = False) -> str:
        attempts.append(self.request.retries)
        if permanent:
            raise PermanentError("no such record")
        if len(attempts) <= failures and len(attempts) < 12:  # bounded, even with no limit
            raise TemporaryError(f"service unavailable (attempt {len(attempts)})")
        return f"ok after {len(attempts)} attempts"

    task = app.task(bind=True, name=name, **options)(fetch)
    task.attempts = attempts
    return task


def _run(options: dict[str, Any], *args: Any, retries: int = 0) -> tuple[Any, list[Any], int]:
    """Run a task built with ``options`` locally (``apply``): result, countdowns, attempts."""
    task = _build(options)
    try:
        with _retries_of(task.name) as whens, quiet_trace_log():
            result = task.apply(args, retries=retries)
        return result, whens, len(task.attempts)
    finally:
        app.tasks.pop(task.name, None)


@exercise("10.2", "retry temporary errors with backoff", points=3)
def _retry_options(options: Any) -> str:
    if not isinstance(options, dict):
        raise Fail(
            f"RETRY_OPTIONS is {kind(options)}, not a dict",
            hint="a dict of task options: dict(autoretry_for=..., retry_backoff=..., ...)",
        )
    # A permanent error: one attempt.
    try:
        result, _, attempts = _run(options, 0, True)
    except TypeError as exc:
        raise Fail(f"@app.task(bind=True, **RETRY_OPTIONS) failed: {error_text(exc)}") from None
    if attempts > 1:
        raise Fail(
            f"a PermanentError was retried ({attempts} attempts)",
            hint="retry the temporary errors only: autoretry_for=(TemporaryError,), not Exception",
        )
    # A service down for good: 1 + 5 attempts, then the error.
    result, whens, attempts = _run(options, 50)
    if attempts == 1:
        raise Fail(
            "a TemporaryError was not retried",
            hint="list it in autoretry_for=(TemporaryError,) (from course_tasks.tasks.practices)",
        )
    if attempts != MAX_RETRIES + 1 or result.state != "FAILURE":
        if attempts >= 12:
            problem = "with the service down for good, the task kept retrying (11 retries)"
        else:
            problem = f"with the service down for good, the task gave up after {attempts - 1} "
            problem += "retries"
        raise Fail(problem, hint=f"set max_retries={MAX_RETRIES}")
    if not isinstance(result.result, TemporaryError):
        raise Fail(f"after the last retry the task failed with {error_text(result.result)}")
    if any(when == 180 for when in whens):  # Task.retry's countdown: default_retry_delay
        raise Fail(
            "every retry waits 180 s (Celery's default_retry_delay): there is no backoff",
            hint="retry_backoff=1: waits of 1, 2, 4... s",
        )
    # The schedule without jitter, from the same options.
    plain = {**options, "retry_jitter": False}
    _, exact, _ = _run(plain, 50)
    if exact != SCHEDULE:
        raise Fail(
            f"the retries wait {exact!r} s (without jitter)",
            hint="retry_backoff=1 makes 1, 2, 4, 8, 16 s (retry_backoff * 2 ** retries)",
        )
    # The 9th retry: 2 ** 8 = 256 s without a cap (max_retries raised so that it retries).
    _, late, _ = _run({**plain, "max_retries": 20}, 1, retries=8)
    if late != [CAP]:
        raise Fail(
            f"the 9th retry would wait {late[0] if late else None!r} s",
            hint=f"cap the waits with retry_backoff_max={CAP} (Celery's default is 600)",
        )
    if not options.get("retry_jitter", True):
        raise Fail(
            "retry_jitter=False: a thousand tasks that failed together all come back in the "
            "same second",
            hint="leave retry_jitter out (True by default) or set it to True",
        )
    if any(not 0 <= when <= cap for when, cap in zip(whens, SCHEDULE, strict=True)):
        raise Fail(f"with jitter the retries waited {whens!r} s")
    result, _, attempts = _run(options, 2)
    if result.state != "SUCCESS" or attempts != 3:
        raise Fail(f"a service down for two attempts ended {result.state} after {attempts}")
    return "permanent: 1 attempt; temporary: 5 retries at 1, 2, 4, 8, 16 s at most, 60 s cap"


# --------------------------------------------------------------------------- 10.3


@exercise("10.3", "a lock with an expiry and a token", points=3)
def _lock(acquire: Any, release: Any) -> str:
    acquire = need_function(acquire, "acquire", "acquire(name, seconds)", purpose="takes a lock")
    release = need_function(release, "release", "release(name, token)", purpose="releases a lock")
    r = store()
    name = _order("lock")
    lock = practices.key("lock", name)
    try:
        token = acquire(name, 5)
        if token is None and is_stub_body(acquire, unknown=False):
            raise NotYet("write the bodies of acquire and release")
        if not token:
            raise Fail(
                f"acquire({name!r}, 5) on a free lock returned {token!r}",
                hint="return the token when SET ... NX succeeded",
            )
        if token is True:  # r.set(...) answers True: the token it stored is lost
            raise Fail(
                f"acquire({name!r}, 5) returned True (what SET answers), not the token",
                hint="return the token itself: release needs it to show that it holds the lock",
            )
        ttl = r.pttl(lock)
        if ttl == -2:
            raise Fail(
                f"after acquire there is no key {lock}",
                hint="the lock's key is practices.key('lock', name)",
            )
        if ttl == -1:
            raise Fail(
                "the lock has no expiry: if its holder dies, nobody gets it ever again",
                hint="set it with an expiry: r.set(key, token, nx=True, ex=seconds)",
            )
        if not 4000 < ttl <= 5000:
            raise Fail(f"acquire({name!r}, 5) set a lock that expires in {ttl} ms")
        if r.get(lock) != str(token):
            raise Fail(
                f"the lock holds {r.get(lock)!r}, not the token acquire returned",
                hint="store the token as the lock's value, so release can compare it",
            )
        second = acquire(name, 5)
        if second:
            raise Fail(
                "a second acquire took the lock while the first holder still had it",
                hint="nx=True: SET only if the key does not exist",
            )
        # The holder's lock expires (simulated), another holder takes it.
        r.delete(lock)
        newer = acquire(name, 5)
        if newer == token:
            raise Fail(
                f"acquire returned the same token {token!r} twice: the holders cannot be "
                "told apart",
                hint="a new random token at every acquire: uuid.uuid4().hex",
            )
        late = release(name, token)
        if not r.exists(lock):
            raise Fail(
                "a holder whose lock had expired released the lock the next holder had",
                hint="delete only if the key still holds your token, in one step: a Lua "
                "script (GET, compare, DEL)",
            )
        if late:
            raise Fail("release with a stale token returned True; it released nothing")
        if not release(name, newer) or r.exists(lock):
            raise Fail(
                "the holder could not release its own lock",
                hint="delete the key when it holds the token, and return True",
            )
    finally:
        r.delete(lock)
    return "expiry set, second acquire refused, only the token's holder releases"


# --------------------------------------------------------------------------- 10.4


def _soft_limit(signum: int, frame: Any) -> None:
    raise SoftTimeLimitExceeded()


def _encode_under_limit(encode: Callable[..., Any], name: str, parts: int) -> Any:
    """``encode(name, parts)``; ``SoftTimeLimitExceeded`` strikes after SOFT_SECONDS."""
    if threading.current_thread() is not threading.main_thread():
        raise Fail("the check must run in the kernel's main thread (a notebook cell)")
    previous = signal.signal(signal.SIGALRM, _soft_limit)
    signal.setitimer(signal.ITIMER_REAL, SOFT_SECONDS)
    try:
        return encode(name, parts)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _catches_hard_limit(fn: Callable[..., Any]) -> bool:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    return "TimeLimitExceeded" in source and "SoftTimeLimitExceeded" not in source


@exercise("10.4", "clean up on the soft time limit", points=2)
def _soft_time_limit(encode: Any) -> str:
    encode = need_function(encode, "encode", "encode(name, parts)", purpose="encodes a video")
    short, long = _order("short"), _order("long")
    try:
        answer = encode(short, 3)
        if answer is None and is_stub_body(encode, unknown=False):
            raise NotYet("write the body of encode")
        if practices.parts(short) != [0, 1, 2]:
            raise Fail(
                f"encode({short!r}, 3) encoded the parts {practices.parts(short)!r}",
                hint="call practices.encode_part(name, i) for i in range(parts)",
            )
        if practices.temp_exists(short):
            raise Fail(
                "a run that finished in time left its temporary file",
                hint="call practices.remove_temp(name) after the last part too",
            )
        if answer != "done":
            raise Fail(f'a run that finished in time answered {answer!r}, not "done"')
        try:
            answer = _encode_under_limit(encode, long, 100)
        except SoftTimeLimitExceeded:
            hint = (
                "catch SoftTimeLimitExceeded (from celery.exceptions): TimeLimitExceeded "
                "is the hard limit, which kills the process before any except runs"
                if _catches_hard_limit(encode)
                else "wrap the work in try/except SoftTimeLimitExceeded, remove the "
                'temporary file there and return "stopped"'
            )
            left = " and left its temporary file" if practices.temp_exists(long) else ""
            raise Fail(f"SoftTimeLimitExceeded escaped from encode{left}", hint=hint) from None
        done = len(practices.parts(long))
        if done == 100 or answer == "done":
            raise Fail(
                f"after the soft time limit encode went on ({done} of 100 parts encoded)",
                hint="stop working when SoftTimeLimitExceeded strikes: put the try around "
                "the whole loop; the hard time_limit would kill a task that goes on",
            )
        if practices.temp_exists(long):
            raise Fail(
                "encode stopped at the soft time limit but left its temporary file",
                hint="call practices.remove_temp(name) in the except block",
            )
        if answer != "stopped":
            raise Fail(f'after the soft time limit encode answered {answer!r}, not "stopped"')
    finally:
        for name in (short, long):
            practices.remove_temp(name)
            store().delete(practices.key("parts", name))
    return "in time: done; at the soft time limit: stopped; no temporary file left either way"
