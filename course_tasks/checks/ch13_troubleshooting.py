"""Checks of chapter 13's exercises (``solutions/13_troubleshooting_solutions.ipynb``): diagnoses.

Each exercise starts from a broken set-up; the learner's fix is applied for real and the
check proves that it works (and that it does not only look as if it did):

* 13.1 ``check("13.1", unstick)``: ``unstick(queue)`` makes the workers read ``queue``, so
  that reports waiting there run, once each, and later ones too. Checked on the course's
  worker with two queues nobody reads.
* 13.2 ``check("13.2", SHOP_RESULTS)``: the settings that make the shop keep its results
  between one hour and seven days (they expired after one second). Checked on a lab app
  (:mod:`course_tasks.lab`) with a real worker, by the key's TTL in the result backend.
* 13.3 ``check("13.3", unique_tags)``: the body of a task whose result json can carry (the
  broken one returned a ``set``). Run as a task on a lab worker, on two inputs.
* 13.4 ``check("13.4", request_refund)``: ``request_refund(order_id)`` queues the course's
  refund under the name the worker knows (``billing.refund``) and returns its handle.
"""

from __future__ import annotations

import itertools
import time
import uuid
from contextlib import suppress
from datetime import timedelta
from typing import Any

from celery.exceptions import NotRegistered
from celery.result import AsyncResult, EagerResult

from course_tasks import lab
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    delete_queue,
    error_text,
    finished,
    is_stub_body,
    kind,
    need_function,
)
from course_tasks.tasks import troubles
from course_tasks.tasks.basics import add

#: How long a check waits for a task that should finish quickly.
WAIT_SECONDS = 5.0
#: How long a result must be kept at least (13.2), and at most.
MIN_EXPIRES = 3600
MAX_EXPIRES = 7 * 24 * 3600
#: A second queue nobody reads (13.1), so that a fix cannot hard-code the first one.
OTHER_QUEUE = "course-check-13-parked"
_serial = itertools.count(1)


def _queues_read() -> set[str]:
    replies = app.control.inspect(timeout=0.5).active_queues() or {}
    return {q["name"] for queues in replies.values() for q in queues}


def _waiting(queue: str) -> int:
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_declare(queue).message_count)


def _wait(results: list[AsyncResult], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(r.ready() for r in results):
            return True
        time.sleep(0.02)
    return all(r.ready() for r in results)


def _release(queue: str) -> None:
    with suppress(Exception):
        app.control.cancel_consumer(queue)
    with suppress(Exception):
        delete_queue(queue)


# --------------------------------------------------------------------------- 13.1


@exercise("13.1", "reports stuck in PENDING", points=2)
def _unstick(unstick: Any) -> str:
    unstick = need_function(unstick, "unstick", "unstick(queue)", purpose="fixes the queue")
    queue = troubles.REPORTS_QUEUE
    _release(queue)
    _release(OTHER_QUEUE)
    troubles.reset()
    months = [f"2031-{next(_serial) % 12 + 1:02d}-{uuid.uuid4().hex[:4]}" for _ in range(2)]
    parked = [troubles.send_report(m) for m in months]
    other = add.apply_async((20, 22), queue=OTHER_QUEUE)
    try:
        if unstick(queue) is None and is_stub_body(unstick):
            raise NotYet("write the body of unstick")
        ran = _wait(parked, 3.0)
        built = troubles.reports_built()
        if not ran:
            if _waiting(queue) == 0 and not built:
                raise Fail(
                    "the waiting reports are gone from the queue and never ran",
                    hint="purging deletes the tasks; they must run: make a worker read the "
                    "queue, app.control.add_consumer(queue)",
                )
            read = sorted(_queues_read())
            raise Fail(
                f"the reports still wait in {queue!r}; the workers read {read}",
                hint="app.control.add_consumer(queue) with the queue the tasks wait in "
                "(the argument), not the default 'celery'",
            )
        twice = sorted({m for m in built if built.count(m) > 1})
        if twice:
            raise Fail(f"report {twice[0]} was built twice", hint="let the waiting tasks run; do "
                       "not send them again")
        if queue not in _queues_read():
            raise Fail(
                "the waiting reports ran, but then the workers stopped reading the queue: "
                "the next report would be stuck again",
                hint="leave the consumer in place: do not cancel_consumer after add_consumer",
            )
        later = troubles.send_report("2031-later")
        finished(later, WAIT_SECONDS, "a report sent after your fix",
                 "leave the workers reading the queue")
        # A second queue: the fix must use its argument.
        unstick(OTHER_QUEUE)
        if finished(other, 3.0, f"a task waiting in {OTHER_QUEUE!r} after "
                    f"unstick({OTHER_QUEUE!r})", "use the queue you are given, not a fixed "
                    "name") != 42:
            raise Fail("add(20, 22) in the second queue did not return 42")
    finally:
        for result in [*parked, other]:
            if not result.ready():  # a learner's get() on it returns once it is REVOKED
                with suppress(Exception):
                    app.backend.mark_as_revoked(result.id, reason="check finished")
        _release(queue)
        _release(OTHER_QUEUE)
    return f"{len(parked)} waiting reports ran once each, and a later one too"


# --------------------------------------------------------------------------- 13.2


@exercise("13.2", "results that expire too soon", points=2)
def _expires(settings: Any) -> str:
    if not isinstance(settings, dict):
        raise Fail(
            f"SHOP_RESULTS is {kind(settings)}, not a dict",
            hint='a dict of Celery settings, e.g. {"result_expires": ...}',
        )
    if "expires" in settings:
        raise Fail(
            "expires is an option of apply_async, not a setting of results",
            hint="expires= discards a task that has not started in time; how long a result "
            "is kept is result_expires",
        )
    upper = [k for k in settings if isinstance(k, str) and k.isupper()]
    if upper:
        raise Fail(
            f"{upper[0]} is not a setting Celery reads here",
            hint="this app takes lower-case settings (result_expires); CELERY_… names work "
            "only with config_from_object(..., namespace='CELERY')",
        )
    shop = lab.make_app(f"shop-13-2-{next(_serial)}", result_expires=1)
    shop.conf.update(settings)

    @shop.task(name="shop.total")
    def total(prices: list[float]) -> float:
        return sum(prices)

    with lab.running(shop):
        result = total.delay([1.5, 2.5])
        value = finished(result, WAIT_SECONDS, "the shop's task", "run the set-up cell again")
    key = shop.backend.get_key_for_task(result.id)
    ttl = lab.results_client().ttl(key)
    if ttl == -2 or value != 4.0:
        raise Fail(
            "no result was stored for the task",
            hint="results must be stored: do not set task_ignore_result",
        )
    if ttl == -1:
        raise Fail(
            "results are now kept for ever: Redis would fill up with them",
            hint="give result_expires a limit of hours or days (seconds or a timedelta)",
        )
    expires = shop.conf.result_expires
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else expires
    if ttl < MIN_EXPIRES - 5:
        raise Fail(
            f"a result is kept for {seconds} s only",
            hint="result_expires is in seconds: at least 3600 (or timedelta(hours=1))",
        )
    if ttl > MAX_EXPIRES:
        raise Fail(
            f"a result is kept for {seconds} s, more than 7 days",
            hint="keep results no longer than someone may ask for them: at most 7 days",
        )
    return f"results now live {int(seconds)} s (the key's TTL in the backend)"


# --------------------------------------------------------------------------- 13.3


@exercise("13.3", "a result json cannot carry", points=2)
def _unique_tags(unique_tags: Any) -> str:
    unique_tags = need_function(unique_tags, "unique_tags", "unique_tags(words)",
                                purpose="returns the tags")
    if is_stub_body(unique_tags):
        raise NotYet("write the body of unique_tags")
    shop = lab.make_app(f"shop-13-3-{next(_serial)}")
    task = shop.task(name="shop.unique_tags")(unique_tags)
    cases = [
        ["redis", "celery", "redis", "beat"],
        ["worker", "queue", "broker", "queue", "beat", "worker", "amqp"],
    ]
    with lab.running(shop):
        for words in cases:
            result = task.delay(words)
            value = finished(result, WAIT_SECONDS, "the task", "run the set-up cell again")
            expected = sorted(set(words))
            if result.state == "FAILURE":
                text = error_text(value)
                if "EncodeError" in text or "JSON" in text:
                    raise Fail(
                        f"the worker could not store the result ({text})",
                        hint="json has no set (nor frozenset): return a list, sorted(set(words))",
                    )
                raise Fail(f"the task failed: {text}")
            if isinstance(value, str):
                hint = "return the list itself: Celery turns it into json for you"
                if not value.startswith("["):
                    hint = "a str of the set is text, not a list: return sorted(set(words))"
                raise Fail(f"the task returned a str, {value[:40]!r}", hint=hint)
            if not isinstance(value, list):
                raise Fail(f"the task returned {kind(value)}", hint="return a list")
            if sorted(value) == expected and value != expected:
                raise Fail(
                    f"for {words} the tags came back as {value}, not sorted",
                    hint="a set has no order: sort it, sorted(set(words))",
                )
            if value != expected:
                raise Fail(f"for {words} the task returned {value}, not {expected}",
                           hint="each distinct word once, sorted")
    return f"SUCCESS on the worker, e.g. {expected}"


# --------------------------------------------------------------------------- 13.4


@exercise("13.4", "refunds that fail with NotRegistered", points=2)
def _refund(request_refund: Any) -> str:
    request_refund = need_function(request_refund, "request_refund",
                                   "request_refund(order_id)", purpose="queues the refund")
    troubles.reset()
    orders = [4100 + next(_serial), 4200 + next(_serial)]
    for order_id in orders:
        handle = request_refund(order_id)
        if handle is None and is_stub_body(request_refund):
            raise NotYet("write the body of request_refund")
        if isinstance(handle, EagerResult):
            raise Fail(
                "the refund ran here, in the notebook (apply() runs a task in the caller)",
                hint="send it to the worker: refund.delay(order_id), or "
                "app.send_task('billing.refund', args=[order_id])",
            )
        if isinstance(handle, dict):
            raise Fail(
                "request_refund returned the refund's result: it called the task directly, "
                "in the notebook",
                hint="queue it and return the handle: return refund.delay(order_id)",
            )
        if isinstance(handle, str):
            handle = app.AsyncResult(handle)
        if not isinstance(handle, AsyncResult):
            raise Fail(f"request_refund returned {kind(handle)}, not the task's handle",
                       hint="return what delay() (or send_task()) returns")
        value = finished(handle, WAIT_SECONDS, f"the refund of order {order_id}",
                         "is the worker running? Run the set-up cell again")
        if isinstance(value, NotRegistered):
            raise Fail(
                f"the worker answered NotRegistered({value}): no worker knows that name",
                hint="inspect().registered() lists the names the workers know: the refund "
                "is registered as 'billing.refund'",
            )
        if handle.state != "SUCCESS":
            raise Fail(f"the refund of order {order_id} ended {handle.state}: "
                       f"{error_text(value)}")
        if value != {"order": order_id, "refunded": True, "on_worker": True}:
            raise Fail(f"the refund of order {order_id} returned {value!r}",
                       hint="pass the order id as the only argument")
    counts = troubles.refunds()
    if counts != {order_id: 1 for order_id in orders}:
        raise Fail(f"refunds per order: {counts}", hint="queue each refund once")
    return "both refunds ran on the worker under 'billing.refund', once each"

