"""The checks of chapter 10 on right and wrong answers (embedded mode, the kernel's worker).

Each exercise: the right answer, then the mistakes chapter 10 warns about, each with its hint.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import os
import random
import secrets
import threading
import time
import uuid
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from checkhelpers import assert_fails, assert_passed, verdict
from redis.exceptions import LockError, WatchError

from course_tasks.store import store
from course_tasks.tasks import practices
from course_tasks.tasks.practices import PermanentError, TemporaryError

pytestmark = pytest.mark.usefixtures("worker")

# --------------------------------------------------------------------------- 10.1


WEEK = 7 * 24 * 3600


def pay(order_id, amount):
    if not store().set(practices.key("paid", order_id), amount, nx=True, ex=WEEK):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_incr(order_id, amount):
    """Was right until adversary round 4: INCR + EXPIRE in MULTI; the EXPIRE runs on every
    repeat delivery and pushes the mark's expiry back, like round 4's multi-setnx-expire."""
    key = practices.key("paid-count", order_id)
    count, _ = store().pipeline().incr(key).expire(key, WEEK).execute()
    if count > 1:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


PAY_SCRIPT = """
return redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
"""


def pay_lua(order_id, amount):
    """Also right: the SET NX EX in a Lua script."""
    if not store().eval(PAY_SCRIPT, 1, practices.key("paid", order_id), amount, WEEK):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_one_day(order_id, amount):
    """Also right: a day exactly (a timedelta), the shortest the exercise allows."""
    if not store().set(practices.key("paid", order_id), 1, nx=True, ex=timedelta(days=1)):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


_SEEN = set()


def pay_cache_in_front(order_id, amount):
    """Also right: a set in memory saves a round trip; the store still decides."""
    if order_id in _SEEN:
        return "already paid"
    first = store().set(practices.key("paid", order_id), 1, nx=True, ex=WEEK)
    _SEEN.add(order_id)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_under_redis_lock(order_id, amount):
    """Also right: GET then SET, but under a Redis lock (redis-py's, blocking) per order."""
    r = store()
    with r.lock(practices.key("paying", order_id), timeout=10, blocking_timeout=20):
        if r.get(practices.key("paid", order_id)):
            return "already paid"
        r.set(practices.key("paid", order_id), 1, ex=WEEK)
    practices.charge_card(order_id, amount)
    return "charged"


def pay_with_a_receipt(order_id, amount):
    """Also right: besides the mark, a receipt kept a minute and an order record kept for ever."""
    r = store()
    if not r.set(practices.key("paid", order_id), 1, nx=True, ex=WEEK):
        return "already paid"
    practices.charge_card(order_id, amount)
    r.set(practices.key("receipt", order_id), amount, ex=60)
    r.hset(practices.key("order", order_id), "status", "paid")
    return "charged"


def pay_watch(order_id, amount):
    """Also right: WATCH, GET, MULTI/SET/EXEC: the EXEC fails if another run set the mark."""
    key = practices.key("paid", order_id)
    with store().pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key):
                return "already paid"
            pipe.multi()
            pipe.set(key, 1, ex=WEEK)
            pipe.execute()
        except WatchError:
            return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_hashlib_key(order_id, amount):
    """Also right: a key shortened with hashlib, which is the same in every process."""
    digest = hashlib.sha256(str(order_id).encode()).hexdigest()[:16]
    if not store().set(practices.key("paid", digest), 1, nx=True, ex=WEEK):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_transaction_helper(order_id, amount):
    """Also right: redis-py's transaction() (WATCH, GET, MULTI/SET/EXEC, again on WatchError)."""
    key = practices.key("paid", order_id)
    seen = []

    def mark(pipe):
        seen.append(pipe.get(key))
        pipe.multi()
        if seen[-1] is None:
            pipe.set(key, 1, ex=WEEK)

    store().transaction(mark, key)
    if seen[-1] is not None:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_in_a_pipeline(order_id, amount):
    """Also right: the SET NX EX in a pipeline (with an attempt record, expiring, in the batch)."""
    pipe = store().pipeline(transaction=False)
    pipe.set(practices.key("paid", order_id), 1, nx=True, ex=WEEK)
    pipe.set(practices.key("attempt", order_id), amount, ex=3600)
    first, _ = pipe.execute()
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_stub(order_id, amount): ...


def pay_always(order_id, amount):
    practices.charge_card(order_id, amount)
    return "charged"


def pay_check_then_mark(order_id, amount):
    """Guide 001's "already sent" check in two steps: GET, act, SET."""
    r = store()
    if r.get(practices.key("paid", order_id)):
        return "already paid"
    practices.charge_card(order_id, amount)
    r.set(practices.key("paid", order_id), 1)
    return "charged"


def pay_one_key(order_id, amount):
    if not store().set(practices.key("paid"), 1, nx=True):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_get_then_set(order_id, amount):
    """Adversary round 1: GET, then SET (the mark before the charge): two steps."""
    r = store()
    key = practices.key("paid", order_id)
    if r.get(key) is not None:
        return "already paid"
    r.set(key, amount, ex=WEEK)
    practices.charge_card(order_id, amount)
    return "charged"


_GUARD = threading.Lock()


def pay_get_then_set_thread_lock(order_id, amount):
    """GET then SET under a threading.Lock: one step in this process, not across processes."""
    r = store()
    key = practices.key("paid", order_id)
    with _GUARD:
        if r.get(key) is not None:
            return "already paid"
        r.set(key, amount, ex=WEEK)
    practices.charge_card(order_id, amount)
    return "charged"


def pay_mark_after_charge(order_id, amount):
    """Adversary round 1: EXISTS, charge, then SET."""
    r = store()
    key = practices.key("paid", order_id)
    if r.exists(key):
        return "already paid"
    practices.charge_card(order_id, amount)
    r.set(key, amount, ex=WEEK)
    return "charged"


_PAID = set()
_PAID_LOCK = threading.Lock()


def pay_python_set(order_id, amount):
    """Adversary round 1: a Python set behind a threading.Lock (one process's memory)."""
    with _PAID_LOCK:
        if order_id in _PAID:
            return "already paid"
        _PAID.add(order_id)
    practices.charge_card(order_id, amount)
    return "charged"


def pay_default_dict(order_id, amount, _paid={}):  # noqa: B006 (the mistake under test)
    """The payments in a mutable default argument: one process's memory too."""
    if order_id in _paid:
        return "already paid"
    _paid[order_id] = amount
    practices.charge_card(order_id, amount)
    return "charged"


def _make_pay_closure():
    paid = set()

    def pay(order_id, amount):
        if order_id in paid:
            return "already paid"
        paid.add(order_id)
        practices.charge_card(order_id, amount)
        return "charged"

    return pay


pay_closure = _make_pay_closure()


def pay_expires_in_a_minute(order_id, amount):
    """Adversary round 1: SET NX EX 60: a redelivery after the visibility timeout pays again."""
    if not store().set(practices.key("paid", order_id), amount, nx=True, ex=60):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_keyed_by_amount_too(order_id, amount):
    """Adversary round 1: one mark per (order, amount)."""
    if not store().set(practices.key("paid", order_id, amount), 1, nx=True, ex=WEEK):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_ledger_lookup(order_id, amount):
    """Adversary round 1: looks the order up in the card's ledger, then charges."""
    if any(c.split(":")[0] == str(order_id) for c in practices.charges()):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_setnx_no_expiry(order_id, amount):
    """Adversary round 1 (debatable there; the exercise now asks for an expiry)."""
    if not store().set(practices.key("paid", order_id), amount, nx=True):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_set_then_expire(order_id, amount):
    """Adversary round 1: SETNX then EXPIRE: a crash between them leaves the mark for ever."""
    r = store()
    key = practices.key("paid", order_id)
    if not r.setnx(key, amount):
        return "already paid"
    r.expire(key, WEEK)
    practices.charge_card(order_id, amount)
    return "charged"


def pay_never_charges(order_id, amount):
    """Marks the order, answers the words, but never calls charge_card."""
    if not store().set(practices.key("paid", order_id), amount, nx=True):
        return "already paid"
    return "charged"


def pay_bool(order_id, amount):
    if not store().set(practices.key("paid", order_id), amount, nx=True):
        return False
    practices.charge_card(order_id, amount)
    return True


DAY = 24 * 3600


def pay_px_milliseconds(order_id, amount):
    """Adversary round 2: px=DAY (milliseconds): the mark lives 86 s."""
    if not store().set(practices.key("paid", order_id), amount, nx=True, px=DAY):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_one_hash_for_all_orders(order_id, amount):
    """Adversary round 2: HSETNX + EXPIRE in one MULTI, in one hash for every order: each
    payment pushes the shared expiry back, so no mark expires while payments keep coming.
    (Its own hash: pay_one_key leaves a string at practices:paid.)"""
    pipe = store().pipeline(transaction=True)
    pipe.hsetnx(practices.key("paid-orders"), str(order_id), amount)
    pipe.expire(practices.key("paid-orders"), DAY)
    first, _ = pipe.execute()
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_watch_without_retry(order_id, amount):
    """Adversary round 2: WATCH/GET/MULTI/SET/EXEC; the loser's WatchError is not handled."""
    key = practices.key("paid", order_id)
    with store().pipeline() as pipe:
        pipe.watch(key)
        if pipe.get(key) is not None:
            return "already paid"
        pipe.multi()
        pipe.set(key, amount, ex=DAY)
        pipe.execute()
    practices.charge_card(order_id, amount)
    return "charged"


def pay_lock_then_mark_after_charge(order_id, amount):
    """Adversary round 2: a short lock keeps concurrent runs apart, but the mark is written
    after charge_card: a delivery that dies in between is charged again when redelivered."""
    r = store()
    lock = practices.key("paying", order_id)
    if not r.set(lock, "1", nx=True, ex=30):
        return "already paid"
    try:
        if r.exists(practices.key("paid", order_id)):
            return "already paid"
        practices.charge_card(order_id, amount)
        r.set(practices.key("paid", order_id), amount, ex=DAY)
        return "charged"
    finally:
        r.delete(lock)


def pay_incr_then_expire(order_id, amount):
    """Adversary round 2: INCR, then EXPIRE in a second command."""
    r = store()
    key = practices.key("paid", order_id)
    seen = r.incr(key)
    r.expire(key, DAY)
    if seen > 1:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_ledger_as_mark(order_id, amount):
    """Adversary round 2: no mark, the card's ledger decides (check, then act)."""
    if any(c.split(":")[0] == str(order_id) for c in practices.charges()):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_expire_before_set(order_id, amount):
    """Adversary round 2: EXPIRE before SET NX: an EXPIRE of a missing key does nothing."""
    r = store()
    key = practices.key("paid", order_id)
    r.expire(key, DAY)
    if not r.set(key, amount, nx=True):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_python_hash_key(order_id, amount):
    """Adversary round 2: the key made with hash(), salted per interpreter (PYTHONHASHSEED)."""
    key = practices.key("paid", hash(str(order_id)))
    if not store().set(key, amount, nx=True, ex=DAY):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_nx_is_false(order_id, amount):
    """Adversary round 3: redis-py answers None (not False) when SET NX finds the key."""
    first = store().set(practices.key("paid", order_id), amount, nx=True, ex=WEEK)
    if first is False:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


_EXPIRES_AT = int(time.time()) + WEEK  # computed once, at import


def pay_exat_at_import(order_id, amount):
    """Adversary round 3: every mark expires at the instant computed when the module loaded."""
    if not store().set(practices.key("paid", order_id), amount, nx=True, exat=_EXPIRES_AT):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_exat_per_call(order_id, amount):
    """Also right: EXAT computed at each call (whole seconds)."""
    when = int(time.time()) + WEEK
    if not store().set(practices.key("paid", order_id), amount, nx=True, exat=when):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_paying_lock_no_expiry(order_id, amount):
    """Adversary round 3: a "paying" lock with no expiry around check-then-mark."""
    r = store()
    lock = practices.key("paying", order_id)
    if not r.set(lock, 1, nx=True):
        return "already paid"
    try:
        if r.exists(practices.key("paid", order_id)):
            return "already paid"
        r.set(practices.key("paid", order_id), amount, ex=WEEK)
        practices.charge_card(order_id, amount)
        return "charged"
    finally:
        r.delete(lock)


def pay_set_get_overwrites(order_id, amount):
    """Adversary round 3: SET ... GET without NX rewrites the mark at every delivery."""
    old = store().set(practices.key("paid", order_id), amount, ex=WEEK, get=True)
    if old is not None:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_hostname_key(order_id, amount):
    """Adversary round 3: the mark's key includes this machine's host name."""
    import socket

    key = practices.key("paid", socket.gethostname(), order_id)
    if not store().set(key, amount, nx=True, ex=WEEK):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_two_hours(order_id, amount):
    """Adversary round 3: two hours, not a day."""
    if not store().set(practices.key("paid", order_id), amount, nx=True, ex=2 * 3600):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


_PAID_SET = practices.key(f"paid-orders-{uuid.uuid4().hex[:6]}")  # a fresh key each session


def pay_shared_set_expire_nx(order_id, amount):
    """Adversary round 3: one set of paid orders, its expiry set once (EXPIRE NX)."""
    with store().pipeline() as pipe:
        pipe.sadd(_PAID_SET, order_id)
        pipe.expire(_PAID_SET, DAY, nx=True)
        added, _ = pipe.execute()
    if not added:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_pending_then_paid(order_id, amount):
    """Adversary round 3: a 5-minute "pending" mark, the long mark after the charge."""
    r = store()
    key = practices.key("paid", order_id)
    if not r.set(key, "pending", nx=True, ex=300):
        return "already paid"
    practices.charge_card(order_id, amount)
    r.set(key, amount, ex=WEEK)
    return "charged"


def pay_refresh_on_repeat(order_id, amount):
    """Adversary round 4: SET NX EX, then EXPIRE again on "already paid"."""
    key = practices.key("paid", order_id)
    if not store().set(key, amount, nx=True, ex=24 * 3600):
        store().expire(key, 24 * 3600)
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_multi_setnx_expire(order_id, amount):
    """Adversary round 4: SETNX + EXPIRE in one MULTI: the EXPIRE runs on every repeat."""
    key = practices.key("paid", order_id)
    pipe = store().pipeline(transaction=True)
    pipe.setnx(key, amount)
    pipe.expire(key, 24 * 3600)
    first, _ = pipe.execute()
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_midnight_exat(order_id, amount):
    """Adversary round 4: exat= the midnight after tomorrow (UTC): one instant for a day."""
    at = (int(time.time()) // (24 * 3600) + 2) * 24 * 3600
    if not store().set(practices.key("paid", order_id), amount, nx=True, exat=at):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


# adversary round 5 (its two-hour-expiry and px-for-a-day are round 4's two-hours and px-units)


def r5_pay_utcnow_exat(order_id, amount):
    """Adversary round 5 (utcnow-exat): exat from a naive utcnow(), which redis-py's
    .timestamp() reads as local time: a day on a UTC machine only (10 h at UTC+14)."""
    until = datetime.datetime.utcnow() + datetime.timedelta(days=1)
    first = store().set(practices.key("paid", order_id), amount, nx=True, exat=until)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r5_pay_incr_counter(order_id, amount):
    """Adversary round 5 (incr-counter-mark): INCR + EXPIRE NX in MULTI: atomic, the expiry set
    once, but every repeat delivery rewrites the mark (1, 2, 3...)."""
    pipe = store().pipeline(transaction=True)
    pipe.incr(practices.key("paid", order_id))
    pipe.expire(practices.key("paid", order_id), 7 * 24 * 3600, nx=True)
    deliveries, _ = pipe.execute()
    if deliveries > 1:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r5_pay_plain_pipeline(order_id, amount):
    """Adversary round 5 (plain-pipeline): SET NX and EXPIRE NX in a pipeline without
    MULTI/EXEC: two commands, a mark without expiry if the client dies between them."""
    pipe = store().pipeline(transaction=False)
    pipe.set(practices.key("paid", order_id), amount, nx=True)
    pipe.expire(practices.key("paid", order_id), 7 * 24 * 3600, nx=True)
    first, _ = pipe.execute()
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r5_pay_daily_key(order_id, amount):
    """Adversary round 5 (date-in-key): today's date in the key: a redelivery after midnight
    finds no mark."""
    day = datetime.date.today().isoformat()
    first = store().set(practices.key("paid", day, order_id), amount, nx=True, ex=WEEK)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r5_pay_utc_hour_key(order_id, amount):
    """The date-in-key kind, in UTC and to the hour (time.strftime over time.gmtime())."""
    hour = time.strftime("%Y%m%d%H", time.gmtime())
    first = store().set(practices.key("paid", hour, order_id), amount, nx=True, ex=WEEK)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r5_pay_audit_set(order_id, amount):
    """Adversary round 5 (audit-set-forever), judged right: the mark is right; an audit set of
    the paid orders, never expiring, is a record beside it, which pay never reads (the text
    now says so). (Its own set: pay_one_hash_for_all_orders keeps a hash at paid-orders.)"""
    r = store()
    if not r.set(practices.key("paid", order_id), amount, nx=True, ex=WEEK):
        return "already paid"
    r.sadd(practices.key("audit-paid-orders"), order_id)
    practices.charge_card(order_id, amount)
    return "charged"


_R5_PAID_HERE = set()


def r5_pay_local_cache(order_id, amount):
    """Adversary round 5 (local-set-cache, borderline), judged right like cache-in-front: the
    store's SET NX EX decides; the set only saves a round trip in one process."""
    if order_id in _R5_PAID_HERE:
        return "already paid"
    first = store().set(practices.key("paid", order_id), amount, nx=True, ex=WEEK)
    _R5_PAID_HERE.add(order_id)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_aware_exat(order_id, amount):
    """Also right: exat from an aware datetime (UTC), a day from each payment."""
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    if not store().set(practices.key("paid", order_id), amount, nx=True, exat=until):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_local_now_exat(order_id, amount):
    """Also right: exat from a naive local now(), which .timestamp() reads as local time."""
    until = datetime.datetime.now() + datetime.timedelta(days=2)
    if not store().set(practices.key("paid", order_id), amount, nx=True, exat=until):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


@pytest.mark.parametrize(
    "answer",
    [pay_lua, pay_one_day, pay_cache_in_front, pay_under_redis_lock, pay_watch,
     pay_with_a_receipt, pay_hashlib_key, pay_transaction_helper, pay_in_a_pipeline,
     pay_exat_per_call, r5_pay_audit_set, r5_pay_local_cache, pay_aware_exat,
     pay_local_now_exat],
    ids=["lua", "one-day", "cache-in-front", "redis-lock", "watch",
         "receipt-and-record", "hashlib-key", "transaction-helper", "in-a-pipeline",
         "exat-per-call", "r5-audit-set-forever", "r5-local-set-cache", "aware-exat",
         "local-now-exat"],
)  # fmt: skip
def test_10_1_right_answers(answer) -> None:
    assert_passed(verdict("10.1", pay), "one charge per order, on one pool process or two")
    assert_passed(verdict("10.1", answer))


def test_10_1_stub_is_not_yet() -> None:
    assert_fails(verdict("10.1", pay_stub), "not yet: write the body of pay", None)


def r4_pay_px_units(order_id, amount):
    """Adversary round 4 (px-units): the expiry is given as px=86400, i.e. 86 s instead of a day."""
    # "a day": 24*3600 ... but given as px (milliseconds): the mark lives 86 s
    first = store().set(practices.key("paid", order_id), amount, nx=True, px=24 * 3600)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r4_pay_two_hours(order_id, amount):
    """Adversary round 4 (two-hours): the mark expires after 2 h (covers the 1 h visibility
    timeout) instead of a day or more."""
    # "a redelivery can come an hour later": two hours of margin, not a day
    first = store().set(practices.key("paid", order_id), amount, nx=True, ex=2 * 3600)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def r4_pay_exists_then_set(order_id, amount):
    """Adversary round 4 (exists-charge-set): EXISTS, charge, then SET: two concurrent deliveries
    both charge."""
    # check, charge, then mark: two concurrent deliveries both pass the check
    key = practices.key("paid", order_id)
    if store().exists(key):
        return "already paid"
    practices.charge_card(order_id, amount)
    store().set(key, amount, ex=DAY)
    return "charged"


def r4_pay_setnx_then_expire(order_id, amount):
    """Adversary round 4 (setnx-then-expire): SETNX then EXPIRE in two commands: dying between them
    leaves a mark for ever."""
    key = practices.key("paid", order_id)
    if not store().setnx(key, amount):
        return "already paid"
    store().expire(key, DAY)  # a process dying before this leaves a mark for ever
    practices.charge_card(order_id, amount)
    return "charged"


def r4_pay_set_get_overwrite(order_id, amount):
    """Adversary round 4 (set-get-overwrite): SET ... GET without NX: each repeat overwrites the
    amount and resets the expiry."""
    # SET ... GET without NX: learns whether it was paid, but overwrites amount and expiry
    previous = store().set(practices.key("paid", order_id), amount, ex=DAY, get=True)
    if previous is not None:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_pay_px_units,
                     "expires in 86 s: a redelivery after the broker's visibility timeout",
                     "keep the mark a day or more: ex=7 * 24 * 3600", id="r4-px-units"),
        pytest.param(r4_pay_two_hours,
                     "expires in 2 h: a redelivery after the broker's visibility timeout",
                     "keep the mark a day or more: ex=7 * 24 * 3600", id="r4-two-hours"),
        pytest.param(r4_pay_exists_then_set, ", 30) at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is) lets two",
                     id="r4-exists-charge-set"),
        pytest.param(r4_pay_setnx_then_expire,
                     "a delivery that died right after its SETNX (before its EXPIRE) left",
                     "set the mark and its expiry in one command: r.set(key, 1,",
                     id="r4-setnx-then-expire"),
        pytest.param(r4_pay_set_get_overwrite,
                     "now says 45, an amount that was never charged: the second delivery",
                     "write the mark only the first time: r.set(key, amount,",
                     id="r4-set-get-overwrite"),
        pytest.param(pay_refresh_on_repeat, "a repeat delivery of the same order pushed that "
                     "expiry back", "set the expiry only when the mark is made",
                     id="r4-refresh-on-repeat"),
        pytest.param(pay_multi_setnx_expire, "a repeat delivery of the same order pushed that "
                     "expiry back", "set the expiry only when the mark is made",
                     id="r4-multi-setnx-expire"),
        pytest.param(pay_incr, "a repeat delivery of the same order pushed that expiry back",
                     "set the expiry only when the mark is made", id="incr-expire-in-multi"),
        pytest.param(pay_midnight_exat, "paid 1.2 s apart, have marks that expire at the same "
                     "instant", "count the expiry from each payment", id="r4-midnight-exat"),
        pytest.param(pay_never_charges, "answered 'charged' but charged nothing",
                     "call practices.charge_card(order_id, amount) the first time",
                     id="never-charges"),
        pytest.param(pay_always, "charged the card 2 times",
                     "remember the order in the store (r.set(key, 1, nx=True))",
                     id="still-charges-twice"),
        pytest.param(pay_check_then_mark, "at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is)",
                     id="check-then-mark-at-the-same-time"),
        pytest.param(pay_one_key, "answered 'already paid' and was charged 0 times",
                     "key the mark by the order", id="one-key-for-every-order"),
        pytest.param(pay_bool, "two deliveries answered [True, False]", 'answer "charged"',
                     id="answers-must-be-the-words"),
        pytest.param(pay_get_then_set, "at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is)", id="get-then-set"),
        pytest.param(pay_get_then_set_thread_lock, "at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is)",
                     id="get-then-set-under-a-thread-lock"),
        pytest.param(pay_mark_after_charge, "at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is)", id="mark-after-charge"),
        pytest.param(pay_ledger_lookup, "at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is)", id="ledger-lookup"),
        pytest.param(pay_python_set,
                     "on another pool process answered 'charged' and the card was charged 2 "
                     "times: pay remembers the payments in its own process's memory",
                     "remember them in the store, which every process shares", id="python-set"),
        pytest.param(pay_default_dict, "on another pool process answered 'charged'",
                     "remember them in the store", id="mutable-default"),
        pytest.param(pay_closure, "on another pool process answered 'charged'",
                     "remember them in the store", id="closure-set"),
        pytest.param(pay_keyed_by_amount_too,
                     "paid with 30, was sent again with 45: it answered 'charged' and the card "
                     "was charged 2 times", "key the mark by the order alone",
                     id="keyed-by-amount-too"),
        pytest.param(pay_setnx_no_expiry,
                     "never expires: the store keeps a mark for every order for ever",
                     "give the mark an expiry of a day or more in the same SET",
                     id="setnx-no-expiry"),
        pytest.param(pay_expires_in_a_minute, "expires in 60 s: a redelivery after the broker's "
                     "visibility timeout", "keep the mark a day or more",
                     id="expires-in-a-minute"),
        pytest.param(pay_set_then_expire,
                     "a delivery that died right after its SETNX (before its EXPIRE) left "
                     "practices:paid:check-d-", "set the mark and its expiry in one command",
                     id="set-then-expire"),
        # adversary round 2
        pytest.param(pay_px_milliseconds, "expires in 86 s: a redelivery after the broker's "
                     "visibility timeout", "keep the mark a day or more", id="px-milliseconds"),
        pytest.param(pay_one_hash_for_all_orders,
                     "pushed back the expiry of practices:paid-orders, which the payment of order "
                     "'check-b-", "one mark per order, with its own expiry",
                     id="one-hash-for-all-orders"),
        pytest.param(pay_watch_without_retry,
                     "pay raised WatchError: Watched variable changed. when two deliveries ran "
                     "at once", "catch redis.exceptions.WatchError", id="watch-without-retry"),
        pytest.param(pay_lock_then_mark_after_charge,
                     "a delivery that died right after charge_card (before its SET) was "
                     "delivered again an hour later (acks_late: the broker's visibility "
                     "timeout, section 5) and charged the card again: 2 charges for one order",
                     "mark the order before charging, in the command that checks it",
                     id="lock-then-mark-after-charge"),
        pytest.param(pay_incr_then_expire,
                     "a repeat delivery of the same order pushed that expiry back",
                     "set the expiry only when the mark is made", id="incr-then-expire"),
        pytest.param(pay_ledger_as_mark, "at the same time charged the card 2 times",
                     "a GET (is it paid?) then a SET (now it is)", id="ledger-as-mark"),
        pytest.param(pay_expire_before_set,
                     "never expires: the store keeps a mark for every order for ever (pay sent "
                     "its EXPIRE of practices:paid:check-e-",
                     "give the mark an expiry of a day or more in the same SET",
                     id="expire-before-set"),
        pytest.param(pay_python_hash_key,
                     "on another worker (another Python process, started on its own on another "
                     "machine) answered "
                     "'charged' and the card was charged 2 times: it looked for the mark under "
                     "practices:paid:", "a key made from the order id, the same in every "
                     "process", id="python-hash-key"),
        # adversary round 3
        pytest.param(pay_nx_is_false, "two deliveries of pay(", "remember the order in the "
                     "store (r.set(key, 1, nx=True))", id="nx-returns-none"),
        pytest.param(pay_exat_at_import,
                     "paid 1.2 s apart (and a third paid on a worker whose clock reads two days "
                     "later), have marks that expire at the same instant",
                     "count the expiry from each payment", id="exat-at-import"),
        pytest.param(pay_paying_lock_no_expiry,
                     "a delivery that died right after its SET (before its EXISTS) left "
                     "practices:paying:check-d-", "set the mark and its expiry in one command",
                     id="lock-without-expiry"),
        pytest.param(pay_set_get_overwrites,
                     "paid with 30, was delivered again with 45, and the mark practices:paid:"
                     "check-h-", "write the mark only the first time", id="set-get-overwrites"),
        pytest.param(pay_hostname_key,
                     "on another worker (another Python process, started on its own on another "
                     "machine) answered 'charged' and the card was charged 2 times: it looked for "
                     "the mark under practices:paid:another-host.example:",
                     "a key made from the order id, the same in every process: practices.key("
                     "'paid', order_id), with no host name", id="hostname-key"),
        pytest.param(pay_watch_without_retry,
                     "pay raised WatchError: Watched variable changed. when two deliveries ran "
                     "at once", "catch redis.exceptions.WatchError", id="watch-no-retry"),
        pytest.param(pay_two_hours, "expires in 2 h: a redelivery after the broker's visibility "
                     "timeout", "keep the mark a day or more", id="ex-two-hours"),
        pytest.param(pay_shared_set_expire_nx,
                     f"the mark {_PAID_SET} expires in 10 min",
                     "keep the mark a day or more", id="shared-set-expire-nx"),
        pytest.param(pay_pending_then_paid,
                     "a delivery that died right after charge_card (before its SET) was "
                     "delivered again an hour later", "mark the order before charging",
                     id="pending-then-paid"),
        # adversary round 5
        pytest.param(r4_pay_two_hours, "expires in 2 h: a redelivery after the broker's "
                     "visibility timeout", "keep the mark a day or more: ex=7 * 24 * 3600",
                     id="r5-two-hour-expiry"),
        pytest.param(r5_pay_utcnow_exat,
                     "expires in 10 h on a machine whose local time is UTC+14, and in 24 h on "
                     "one whose local time is UTC: the expiry is computed from the local time "
                     "taken for UTC", "give the expiry as a length: ex=7 * 24 * 3600 (or exat "
                     "from an aware datetime", id="r5-utcnow-exat"),
        pytest.param(r5_pay_incr_counter,
                     "changed: it held '1' after the payment and '3' after the repeat "
                     "deliveries: every repeat delivery writes the mark",
                     "write the mark only the first time: r.set(key, amount, nx=True, ex=...)",
                     id="r5-incr-counter-mark"),
        pytest.param(r5_pay_plain_pipeline,
                     "a delivery that died right after its SET (before its EXPIRE) left "
                     "practices:paid:check-d-", "set the mark and its expiry in one command: "
                     "r.set(key, 1, nx=True, ex=...); SETNX then EXPIRE are two, also in a "
                     "pipeline without MULTI/EXEC", id="r5-plain-pipeline"),
        pytest.param(r5_pay_daily_key,
                     "was paid at 23:30 (local time, UTC+14) and delivered again an hour later, "
                     "at 00:30 the next day: the card was charged 2 times: the redelivery "
                     "looked for the mark under practices:paid:",
                     "a key made from the order id alone: practices.key('paid', order_id)",
                     id="r5-date-in-key"),
        pytest.param(r5_pay_utc_hour_key,
                     "was paid at 23:30 (local time, UTC+14) and delivered again an hour later",
                     "a key made from the order id alone", id="utc-hour-in-key"),
        pytest.param(r4_pay_px_units, "expires in 86 s: a redelivery after the broker's "
                     "visibility timeout", "keep the mark a day or more", id="r5-px-for-a-day"),
    ],
)  # fmt: skip
def test_10_1_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("10.1", answer), problem, hint)


def test_10_1_puts_the_time_zone_back() -> None:
    before = (os.environ.get("TZ"), time.timezone, time.tzname)
    verdict("10.1", r5_pay_utcnow_exat)
    assert (os.environ.get("TZ"), time.timezone, time.tzname) == before


def test_charge_card_records_in_the_ledger() -> None:
    order = f"test-{uuid.uuid4().hex[:6]}"
    practices.charge_card(order, 12)
    assert f"{order}:12" in practices.charges()


# --------------------------------------------------------------------------- 10.2

RIGHT = dict(
    autoretry_for=(TemporaryError,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)


def options(**changes):
    merged = {**RIGHT, **changes}
    return {key: value for key, value in merged.items() if value is not DROP}


DROP = object()


def test_10_2_right_answers() -> None:
    assert_passed(verdict("10.2", RIGHT), "temporary: 5 retries")
    assert_passed(verdict("10.2", options(retry_backoff=True, retry_jitter=DROP)))
    assert_passed(verdict("10.2", options(autoretry_for=[TemporaryError])))
    assert_passed(verdict("10.2", options(max_retries=DROP, retry_kwargs={"max_retries": 5})))
    assert_passed(verdict("10.2", options(dont_autoretry_for=(PermanentError,))))
    assert_passed(verdict("10.2", options(serializer="json", queue="celery", acks_late=True)))
    assert_passed(verdict("10.2", options(retry_kwargs={"queue": "celery"}, expires=3600)))


def test_10_2_stub_and_not_a_dict() -> None:
    assert_fails(verdict("10.2", ...), "not yet", None)
    assert_fails(verdict("10.2", [RIGHT]), "RETRY_OPTIONS is a list, not a dict", "a dict")


R4_RETRY_NO_MAX = dict(  # "5 retries never get near 60 s", so retry_backoff_max left at 600
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_jitter=True, max_retries=5
)


R4_RETRY_MAX_64 = dict(  # a power of two "close to a minute"
    autoretry_for=(TemporaryError,),
    retry_backoff=1,
    retry_backoff_max=64,
    retry_jitter=True,
    max_retries=5,
)


R4_RETRY_MAX_30 = dict(  # half a minute: 32 s would be capped to 30
    autoretry_for=(TemporaryError,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=5,
)


R4_RETRY_KWARGS_OVERRIDE = dict(  # leftover retry_kwargs: Task.retry(max_retries=10) wins
    autoretry_for=(TemporaryError,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
    retry_kwargs={"max_retries": 10},
)


R4_RETRY_FACTOR_2 = dict(  # "double" read as retry_backoff=2: 2, 4, 8... s
    autoretry_for=(TemporaryError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)


R4_RETRY_FIVE_ATTEMPTS = dict(  # "give up after 5" counted as attempts: 4 retries
    autoretry_for=(TemporaryError,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=4,
)


R4_RETRY_CONN_MINUS_SUBCLASSES = dict(  # every ConnectionError except the well-known subclasses
    autoretry_for=(ConnectionError,),
    dont_autoretry_for=(
        ConnectionRefusedError,
        ConnectionResetError,
        ConnectionAbortedError,
        BrokenPipeError,
    ),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)


R4_RETRY_WITH_TIMEOUT = dict(  # "a timeout is temporary too"
    autoretry_for=(TemporaryError, TimeoutError),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)


R4_RETRY_COUNTDOWN_KWARG = dict(  # countdown in retry_kwargs, no retry_backoff: no backoff at all
    autoretry_for=(TemporaryError,),
    retry_kwargs={"countdown": 1},
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)


# adversary round 5 (its no-backoff-max is round 4's)
R5_RETRY_MAX_MS = options(retry_backoff_max=60 * 1000)  # "60 s" in milliseconds
R5_RETRY_MAX_120 = options(retry_backoff_max=120)  # two minutes
R5_RETRY_KWARGS_QUEUE = options(retry_kwargs={"queue": "retries"})  # a queue nobody reads
R5_RETRY_PICKLE = options(serializer="pickle")  # "the exception travels with the retry"
R5_RETRY_KWARGS_MAX = options(retry_kwargs={"max_retries": 8})  # overrides max_retries=5


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(R4_RETRY_NO_MAX, "with no retry_backoff_max the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60 (seconds; Celery's",
                     id="r4-no-backoff-max"),
        pytest.param(R4_RETRY_MAX_64, "with retry_backoff_max=64 the 9th retry would wait 64 s",
                     "cap the waits with retry_backoff_max=60 (seconds; Celery's",
                     id="r4-backoff-max-64"),
        pytest.param(R4_RETRY_MAX_30,
                     "retry_backoff_max=30 caps the waits at 30 s, where 60 s was asked",
                     "retry_backoff_max=60", id="r4-backoff-max-30"),
        pytest.param(R4_RETRY_KWARGS_OVERRIDE,
                     "with the service down for good, the task gave up after 10 retries:",
                     "leave max_retries out of retry_kwargs, or make it 5 there",
                     id="r4-retry-kwargs-override"),
        pytest.param(R4_RETRY_FACTOR_2, "the retries wait [2, 4, 8, 16, 32] s (without jitter)",
                     "retry_backoff=1 makes 1, 2, 4, 8, 16 s (retry_backoff * 2", id="r4-factor-2"),
        pytest.param(R4_RETRY_FIVE_ATTEMPTS,
                     "with the service down for good, the task gave up after 4 retries",
                     "set max_retries=5", id="r4-max-retries-4"),
        pytest.param(R4_RETRY_CONN_MINUS_SUBCLASSES,
                     "a plain ConnectionError (not the service's TemporaryError) was",
                     "autoretry_for=(TemporaryError,): a base class such as",
                     id="r4-conn-minus-subclasses"),
        pytest.param(R4_RETRY_WITH_TIMEOUT,
                     "a TimeoutError (not the service's TemporaryError) was retried (6",
                     "autoretry_for=(TemporaryError,) alone: a TimeoutError is",
                     id="r4-with-timeouterror"),
        pytest.param(R4_RETRY_COUNTDOWN_KWARG,
                     "the retries wait [1, 1, 1, 1, 1] s (without jitter)",
                     "retry_backoff=1 makes 1, 2, 4, 8, 16 s (retry_backoff * 2",
                     id="r4-countdown-kwarg"),
        pytest.param(options(retry_backoff=DROP, retry_backoff_max=DROP),
                     "every retry waits 180 s", "retry_backoff=1", id="no-backoff"),
        pytest.param(options(max_retries=DROP), "gave up after 3 retries", "set max_retries=5",
                     id="default-max-retries"),
        pytest.param(options(max_retries=None), "kept retrying", "set max_retries=5",
                     id="unbounded-retries"),
        pytest.param(options(autoretry_for=(Exception,)),
                     "a PermanentError was retried (6 attempts)",
                     "retry the temporary errors only", id="retrying-every-exception"),
        pytest.param(options(autoretry_for=DROP), "a TemporaryError was not retried",
                     "list it in autoretry_for", id="no-autoretry"),
        pytest.param(options(retry_backoff_max=DROP),
                     "with no retry_backoff_max the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60", id="no-cap"),
        # adversary round 1's no-jitter and backoff-2 are these two
        pytest.param(options(retry_jitter=False), "retry_jitter=False", "leave retry_jitter out",
                     id="no-jitter"),
        pytest.param(options(retry_backoff=2), "the retries wait [2, 4, 8, 16, 32] s",
                     "retry_backoff=1 makes 1, 2, 4, 8, 16 s", id="wrong-factor"),
        # adversary round 1
        pytest.param(options(autoretry_for=(ConnectionError,)),
                     "a ConnectionResetError (a ConnectionError, but not the service's "
                     "TemporaryError) was retried (6 attempts)",
                     "autoretry_for=(TemporaryError,): a base class such as ConnectionError",
                     id="connection-error-base"),
        pytest.param(options(autoretry_for=(Exception,), dont_autoretry_for=(PermanentError,)),
                     "a KeyError (a bug in the task, neither temporary nor permanent) was "
                     "retried (6 attempts)", "list TemporaryError alone: autoretry_for="
                     "(TemporaryError,); retrying Exception except PermanentError still",
                     id="all-but-permanent"),
        pytest.param(options(autoretry_for=(TemporaryError, LookupError)),
                     "a KeyError (a bug in the task", "list TemporaryError alone",
                     id="temporary-and-lookup-errors"),
        pytest.param(options(retry_backoff=True, retry_backoff_max=DROP, retry_jitter=True),
                     "with no retry_backoff_max the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60 (seconds; Celery's default is 600)",
                     id="no-backoff-max"),
        pytest.param(options(retry_backoff_max=60_000),
                     "retry_backoff_max=60000 lets the 9th retry wait 256 s: retry_backoff_max "
                     "is in seconds, not milliseconds", "retry_backoff_max=60 (seconds)",
                     id="backoff-max-in-ms"),
        pytest.param(options(retry_backoff_max=30),
                     "retry_backoff_max=30 caps the waits at 30 s, where 60 s was asked",
                     "retry_backoff_max=60", id="backoff-max-30"),
        pytest.param(options(retry_backoff_max=10),
                     "retry_backoff_max=10 caps the waits at 10 s, where 60 s was asked",
                     "retry_backoff_max=60", id="backoff-max-10"),
        pytest.param(options(retry_backoff_max=100),
                     "with retry_backoff_max=100 the 9th retry would wait 100 s",
                     "cap the waits with retry_backoff_max=60", id="backoff-max-100"),
        pytest.param(options(max_retries=6), "gave up after 6 retries", "set max_retries=5",
                     id="six-retries"),
        pytest.param(dict(autoretry_for=(TemporaryError,), default_retry_delay=1, max_retries=5),
                     "the retries wait [1, 1, 1, 1, 1] s", "retry_backoff=1 makes 1, 2, 4",
                     id="fixed-delay"),
        pytest.param(options(autoretry_for=(TemporaryError, OSError)),
                     "a ConnectionResetError (a ConnectionError, but not the service's "
                     "TemporaryError) was retried (6 attempts)",
                     "autoretry_for=(TemporaryError,): a base class such as ConnectionError or "
                     "OSError", id="temporary-and-os-errors"),
        # adversary round 2
        pytest.param(options(autoretry_for=(TemporaryError, TimeoutError)),
                     "a TimeoutError (not the service's TemporaryError) was retried (6 attempts)",
                     "autoretry_for=(TemporaryError,) alone: a TimeoutError is not the "
                     "service's temporary error", id="also-timeouterror"),
        pytest.param(options(retry_backoff_max=DROP),
                     "with no retry_backoff_max the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60", id="r2-no-backoff-max"),
        pytest.param(options(retry_backoff_max=30),
                     "retry_backoff_max=30 caps the waits at 30 s, where 60 s was asked",
                     "retry_backoff_max=60", id="r2-backoff-max-30"),
        pytest.param(options(autoretry_for=(ConnectionError,),
                             dont_autoretry_for=(PermanentError, ConnectionRefusedError,
                                                 ConnectionResetError, ConnectionAbortedError,
                                                 BrokenPipeError)),
                     "a plain ConnectionError (not the service's TemporaryError) was retried "
                     "(6 attempts)", "autoretry_for=(TemporaryError,): a base class such as "
                     "ConnectionError or OSError takes in every error of its kind; "
                     "dont_autoretry_for cannot list them all",
                     id="connectionerror-minus-subclasses"),
        pytest.param(options(retry_backoff=2), "the retries wait [2, 4, 8, 16, 32] s",
                     "retry_backoff=1 makes 1, 2, 4, 8, 16 s", id="backoff-factor-2"),
        pytest.param(options(retry_kwargs={"max_retries": 10}),
                     "gave up after 10 retries: retry_kwargs={'max_retries': 10} overrides "
                     "max_retries", "leave max_retries out of retry_kwargs, or make it 5 there",
                     id="retry-kwargs-override"),
        # adversary round 3
        pytest.param(options(retry_backoff_max=DROP),
                     "with no retry_backoff_max the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60", id="r3-no-backoff-max"),
        pytest.param(options(retry_backoff_max=16),
                     "retry_backoff_max=16 caps the waits at 16 s, where 60 s was asked",
                     "retry_backoff_max=60", id="r3-backoff-max-16"),
        pytest.param(options(retry_backoff_max=30),
                     "retry_backoff_max=30 caps the waits at 30 s, where 60 s was asked",
                     "retry_backoff_max=60", id="r3-backoff-max-30"),
        pytest.param(options(retry_backoff_max=3600),
                     "retry_backoff_max=3600 lets the 9th retry wait 256 s: retry_backoff_max "
                     "is in seconds, and 3600 s is an hour: the cap of 60 asked for is 60 "
                     "seconds, not 60 minutes", "retry_backoff_max=60 (seconds)",
                     id="r3-backoff-max-3600"),
        pytest.param(options(max_retries=4), "gave up after 4 retries", "set max_retries=5",
                     id="r3-max-retries-4"),
        pytest.param(options(retry_kwargs={"max_retries": 6}),
                     "gave up after 6 retries: retry_kwargs={'max_retries': 6} overrides "
                     "max_retries", "leave max_retries out of retry_kwargs",
                     id="r3-retry-kwargs-6"),
        pytest.param(options(autoretry_for=(ConnectionError,),
                             dont_autoretry_for=(PermanentError,)),
                     "a ConnectionResetError (a ConnectionError, but not the service's "
                     "TemporaryError) was retried (6 attempts)",
                     "autoretry_for=(TemporaryError,): a base class such as ConnectionError",
                     id="r3-connerror-dont"),
        # adversary round 5
        pytest.param(R4_RETRY_NO_MAX, "with no retry_backoff_max the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60 (seconds; Celery's default is 600)",
                     id="r5-no-backoff-max"),
        pytest.param(R5_RETRY_MAX_MS, "retry_backoff_max=60000 lets the 9th retry wait 256 s: "
                     "retry_backoff_max is in seconds, not milliseconds",
                     "retry_backoff_max=60 (seconds)", id="r5-backoff-max-ms"),
        pytest.param(R5_RETRY_MAX_120, "with retry_backoff_max=120 the 9th retry would wait 120 s",
                     "cap the waits with retry_backoff_max=60", id="r5-backoff-max-120"),
        pytest.param(R5_RETRY_KWARGS_QUEUE,
                     "every retry would go to queue 'retries' (exchange 'retries', routing key "
                     "'retries'), from {'queue': 'retries'} in retry_kwargs, where a task "
                     "declared without them goes to 'celery', the queue the workers consume",
                     "leave routing out of the options (and out of retry_kwargs)",
                     id="r5-retry-queue"),
        pytest.param(R5_RETRY_PICKLE,
                     "the task's messages would be serialized with 'pickle', which the course's "
                     "workers refuse (accept_content=['json'])",
                     "leave the serializer out: the course's messages are json",
                     id="r5-pickle-serializer"),
        pytest.param(R5_RETRY_KWARGS_MAX,
                     "gave up after 8 retries: retry_kwargs={'max_retries': 8} overrides "
                     "max_retries", "leave max_retries out of retry_kwargs",
                     id="r5-retry-kwargs-max-8"),
        pytest.param(options(retry_kwargs={"serializer": "pickle"}),
                     "every retry would be serialized with 'pickle', which the course's workers "
                     "refuse", "leave the serializer out", id="retry-kwargs-pickle"),
        pytest.param(options(queue="slow"),
                     "the task's messages would go to queue 'slow' (exchange 'slow', routing "
                     "key 'slow'), from {'queue': 'slow'} in the options",
                     "leave routing out of the options", id="task-queue-nobody-reads"),
        pytest.param(options(retry_kwargs={"routing_key": "nowhere"}),
                     "every retry would go to queue 'celery' (exchange 'celery', routing key "
                     "'nowhere')", "leave routing out of the options", id="retry-routing-key"),
        pytest.param(options(retry_kwargs={"expires": 10}),
                     "every retry would expire 10 s after it is sent (expires=10), while a "
                     "retry waits up to 60 s", "leave expires out of the options",
                     id="retry-expires"),
    ],
)  # fmt: skip
def test_10_2_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("10.2", answer), problem, hint)


def test_10_2_leaves_no_task_registered() -> None:
    from course_tasks.app import app

    before = set(app.tasks)
    verdict("10.2", RIGHT)
    assert set(app.tasks) == before


# --------------------------------------------------------------------------- 10.3

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def acquire(name, seconds):
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def release(name, token):
    return bool(store().eval(RELEASE, 1, practices.key("lock", name), token))


def acquire_secrets(name, seconds):
    """Also right: another source of random tokens."""
    token = secrets.token_hex(16)
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


_RELEASE_SCRIPT = store().register_script(RELEASE)


def release_registered(name, token):
    """Also right: the same Lua script, registered once (EVALSHA)."""
    return bool(_RELEASE_SCRIPT(keys=[practices.key("lock", name)], args=[token]))


def release_watch(name, token):
    """Also right: WATCH, GET, MULTI/DEL/EXEC: the DEL fails if the lock changed hands."""
    key = practices.key("lock", name)
    with store().pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) != token:
                return False
            pipe.multi()
            pipe.delete(key)
            return bool(pipe.execute()[0])
        except WatchError:
            return False


def acquire_redis_py_lock(name, seconds):
    """Also right: redis-py's Lock (SET NX PX with a token), not blocking."""
    lock = store().lock(practices.key("lock", name), timeout=seconds)
    return lock.local.token.decode() if lock.acquire(blocking=False) else None


def release_redis_py_lock(name, token):
    lock = store().lock(practices.key("lock", name))
    lock.local.token = token.encode()
    try:
        lock.release()
    except LockError:
        return False
    return True


def release_transaction_helper(name, token):
    """Also right: redis-py's transaction() (WATCH, GET, MULTI/DEL/EXEC, again on WatchError)."""
    key = practices.key("lock", name)

    def delete_if_mine(pipe):
        mine = pipe.get(key) == token
        pipe.multi()
        if mine:
            pipe.delete(key)

    return bool(store().transaction(delete_if_mine, key) == [1])


def acquire_stub(name, seconds): ...


def acquire_no_expiry(name, seconds):
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True) else None


def acquire_set_answer(name, seconds):
    """Stores a token but returns SET's answer (True): release cannot prove it holds the lock."""
    return store().set(practices.key("lock", name), uuid.uuid4().hex, nx=True, ex=seconds)


def acquire_value_one(name, seconds):
    """Returns a token but stores 1: the lock cannot tell its holder."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), 1, nx=True, ex=seconds) else None


def acquire_no_nx(name, seconds):
    token = uuid.uuid4().hex
    store().set(practices.key("lock", name), token, ex=seconds)
    return token


def acquire_constant(name, seconds):
    return "1" if store().set(practices.key("lock", name), "1", nx=True, ex=seconds) else None


def release_delete(name, token):
    return bool(store().delete(practices.key("lock", name)))


def release_get_then_delete(name, token):
    """Adversary round 1: GET, compare, then DEL, in two commands."""
    r = store()
    if r.get(practices.key("lock", name)) == token:
        return bool(r.delete(practices.key("lock", name)))
    return False


def acquire_setnx_then_expire(name, seconds):
    """Adversary round 1: SETNX then EXPIRE: a crash between them leaves a lock for ever."""
    token = uuid.uuid4().hex
    key = practices.key("lock", name)
    if not store().setnx(key, token):
        return None
    store().expire(key, seconds)
    return token


def acquire_exists_then_set(name, seconds):
    """Adversary round 1: EXISTS then SET EX: two callers at once both take the lock."""
    key = practices.key("lock", name)
    if store().exists(key):
        return None
    token = uuid.uuid4().hex
    store().set(key, token, ex=seconds)
    return token


def acquire_60s(name, seconds):
    """Adversary round 1: ignores seconds."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True, ex=60) else None


def acquire_5s(name, seconds):
    """Ignores seconds too, but with the check's first value."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True, ex=5) else None


def acquire_px(name, seconds):
    """Adversary round 1: PX instead of EX (milliseconds)."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True, px=seconds) else None


_COUNTER = itertools.count(1)


def acquire_counter_token(name, seconds):
    """Adversary round 1: tokens from a counter in this process's memory."""
    token = str(next(_COUNTER))
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def acquire_pid_token(name, seconds):
    """Adversary round 1: the process id as the token."""
    token = str(os.getpid())
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


_HELD = {}


def acquire_remember_local(name, seconds):
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        _HELD[name] = token
        return token
    return None


def release_local_token(name, token):
    """Adversary round 1: compares with the token this process remembers, not the store's."""
    if _HELD.get(name) == token:
        del _HELD[name]
        store().delete(practices.key("lock", name))
        return True
    return False


def acquire_watch_unhandled(name, seconds):
    """WATCH/EXISTS/MULTI/SET/EXEC: the caller that comes second raises WatchError."""
    key = practices.key("lock", name)
    token = uuid.uuid4().hex
    with store().pipeline() as pipe:
        pipe.watch(key)
        if pipe.exists(key):
            return None
        pipe.multi()
        pipe.set(key, token, ex=seconds)
        pipe.execute()
    return token


_TOKENS = itertools.count()


def acquire_counter_name_token(name, seconds):
    """Adversary round 2: a module-level counter (with the name) as the token."""
    token = f"{name}-{next(_TOKENS)}"
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


_RNG = random.Random()


def acquire_module_rng_token(name, seconds):
    """Adversary round 2: a module-level random.Random(): forked copies draw the same tokens."""
    token = f"{_RNG.getrandbits(128):032x}"
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def acquire_time_token(name, seconds):
    """Adversary round 2: the time as the token: not random, two workers' clocks can agree."""
    token = repr(time.time())
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def acquire_margin(name, seconds):
    """Adversary round 2: ex=seconds + 1 ("a margin")."""
    token = uuid.uuid4().hex
    taken = store().set(practices.key("lock", name), token, nx=True, ex=seconds + 1)
    return token if taken else None


def release_getdel(name, token):
    """Adversary round 2: GETDEL deletes first and compares afterwards."""
    return store().getdel(practices.key("lock", name)) == token


def release_watch_immediate(name, token):
    """Adversary round 2: WATCH, GET, then DELETE with no multi(): the DEL runs at once."""
    key = practices.key("lock", name)
    with store().pipeline() as pipe:
        pipe.watch(key)
        if pipe.get(key) != token:
            return False
        pipe.delete(key)
        return True


RELEASE_TRUE_IF_GONE = """
local holder = redis.call('get', KEYS[1])
if holder == false then return 1 end
if holder == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_true_if_gone(name, token):
    """Adversary round 2: "if it is gone it is released": True for an expired lock."""
    return bool(store().eval(RELEASE_TRUE_IF_GONE, 1, practices.key("lock", name), token))


_DEADLINES = {}


def acquire_local_deadline(name, seconds):
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        _DEADLINES[token] = time.monotonic() + seconds
        return token
    return None


def release_local_deadline(name, token):
    """Adversary round 2: this process's memory and clock decide, then DEL with no compare."""
    deadline = _DEADLINES.pop(token, None)
    if deadline is None or time.monotonic() >= deadline:
        return False
    store().delete(practices.key("lock", name))
    return True


def acquire_multi_setnx_expire(name, seconds):
    """Adversary round 2: SETNX + EXPIRE in one MULTI: a refused acquire's EXPIRE still runs."""
    token = uuid.uuid4().hex
    key = practices.key("lock", name)
    pipe = store().pipeline(transaction=True)
    pipe.setnx(key, token)
    pipe.expire(key, seconds)
    won, _ = pipe.execute()
    return token if won else None


def acquire_uuid1(name, seconds):
    """Also right (adversary round 3's uuid1-token): redis-py's own Lock makes its tokens so;
    the clock sequence is random, the MAC address tells the hosts apart."""
    token = str(uuid.uuid1())
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def release_getdel_restore(name, token):
    """Adversary round 3: GETDEL, then puts another holder's lock back (gone for a moment)."""
    r = store()
    key = practices.key("lock", name)
    left = r.pttl(key)
    old = r.getdel(key)
    if old == token:
        return True
    if old is not None:
        r.set(key, old, nx=True, px=max(left, 1))
    return False


def acquire_ex_3(name, seconds):
    """Adversary round 3: EX 3 copied from the chapter's unique_report."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True, ex=3) else None


def acquire_ex_30(name, seconds):
    """Adversary round 3: EX 30 hard-coded."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True, ex=30) else None


def acquire_returns_false(name, seconds):
    """Adversary round 3: False, not None, when the lock is held."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else False


def release_returns_int(name, token):
    """Adversary round 3: the script's 1/0, not True/False."""
    return store().eval(RELEASE, 1, practices.key("lock", name), token)


def acquire_owner_id(name, seconds):
    """Adversary round 3: a token naming the holder (host:pid:thread), not the acquisition."""
    import socket

    token = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def release_watch_unhandled(name, token):
    """Adversary round 3: WATCH/GET/MULTI/DEL/EXEC, WatchError not caught."""
    key = practices.key("lock", name)
    with store().pipeline() as pipe:
        pipe.watch(key)
        if pipe.get(key) != token:
            pipe.unwatch()
            return False
        pipe.multi()
        pipe.delete(key)
        pipe.execute()
    return True


def acquire_uuid1_fixed_clock_seq(name, seconds):
    """Adversary round 4: uuid1 with a fixed clock sequence: the time and the host only."""
    token = uuid.uuid1(clock_seq=0).hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def release_is_not_none(name, token):
    """Adversary round 4: the script's 0 is not None either: always True."""
    return store().eval(RELEASE, 1, practices.key("lock", name), token) is not None


# adversary round 5 (its px-seconds and one-second-margin are round 4's px-units and margin)


def r5_acquire_local_exat(name, seconds):
    """Adversary round 5 (local-clock-exat): the expiry as an instant on the worker's clock."""
    token = uuid.uuid4().hex
    until = int(time.time()) + seconds
    return token if store().set(practices.key("lock", name), token, nx=True, exat=until) else None


def r5_acquire_datetime_pxat(name, seconds):
    """The local-clock-exat kind, from datetime: pxat = now(UTC) + seconds."""
    token = uuid.uuid4().hex
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return token if store().set(practices.key("lock", name), token, nx=True, pxat=until) else None


def r5_acquire_uuid1_short(name, seconds):
    """Adversary round 5 (uuid1-time-part): uuid1's first 12 hex digits, the time fields only."""
    token = uuid.uuid1().hex[:12]
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def r5_acquire_monotonic(name, seconds):
    """Adversary round 5 (monotonic-token): a token from time.monotonic_ns()."""
    token = str(time.monotonic_ns())
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def r5_acquire_perf_counter(name, seconds):
    """The monotonic-token kind: time.perf_counter() as the token."""
    token = repr(time.perf_counter())
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def r5_acquire_now_isoformat(name, seconds):
    """The time-token kind, from datetime: datetime.now().isoformat()."""
    token = datetime.datetime.now().isoformat()
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def r5_acquire_time_ns(name, seconds):
    """Adversary round 5 (time-ns-token): str(time.time_ns())."""
    token = str(time.time_ns())
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


def r5_acquire_one_key(name, seconds):
    """Adversary round 5 (one-key-for-all): practices.key("lock") without the name."""
    token = uuid.uuid4().hex
    return token if store().set(practices.key("lock"), token, nx=True, ex=seconds) else None


def r5_release_one_key(name, token):
    return bool(store().eval(RELEASE, 1, practices.key("lock"), token))


def r5_release_watch_no_multi(name, token):
    """Adversary round 5 (watch-without-multi): WATCH, GET, compare, DEL without multi()."""
    key = practices.key("lock", name)
    with store().pipeline() as pipe:
        pipe.watch(key)
        if pipe.get(key) == token:
            pipe.delete(key)
            pipe.unwatch()
            return True
        pipe.unwatch()
        return False


_R5_MY_TOKENS = {}


def r5_acquire_remember(name, seconds):
    token = acquire(name, seconds)
    if token is not None:
        _R5_MY_TOKENS[name] = token
    return token


def r5_release_local_check(name, token):
    """Adversary round 5 (local-token-check): compares with a per-process dict, then DELs."""
    if _R5_MY_TOKENS.get(name) != token:
        return False
    del _R5_MY_TOKENS[name]
    return bool(store().delete(practices.key("lock", name)))


def acquire_uuid1_hex(name, seconds):
    """Also right: the whole uuid1 (its random clock sequence and node too), as hex."""
    token = uuid.uuid1().hex
    return token if store().set(practices.key("lock", name), token, nx=True, ex=seconds) else None


@pytest.mark.parametrize(
    "answer",
    [(acquire_secrets, release), (acquire, release_registered), (acquire, release_watch),
     (acquire_redis_py_lock, release_redis_py_lock), (acquire, release_transaction_helper),
     (acquire_uuid1, release), (acquire_uuid1_hex, release)],
    ids=["secrets-token", "registered-script", "watch-multi", "redis-py-lock",
         "transaction-helper", "uuid1-token", "uuid1-hex-token"],
)  # fmt: skip
def test_10_3_right_answers(answer) -> None:
    assert_passed(verdict("10.3", acquire, release), "only the token's holder releases")
    assert_passed(verdict("10.3", *answer))


def test_10_3_stub_is_not_yet() -> None:
    assert_fails(verdict("10.3", acquire_stub, release), "not yet", None)


_R4_RNG = random.Random()  # made at import: forked pool processes continue it


_R4_COUNTER = itertools.count()


def r4_acquire_px_units(name, seconds):
    """Adversary round 4 (px-units): acquire sets px=seconds: the lock lasts milliseconds, it
    expires far too soon."""
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, px=seconds):  # ms!
        return token
    return None


def r4_acquire_margin(name, seconds):
    """Adversary round 4 (margin): acquire sets ex=seconds+1: the lock outlives `seconds` if its
    holder dies."""
    token = uuid.uuid4().hex
    # one second of margin "so it does not expire while the holder finishes"
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds + 1):
        return token
    return None


def r4_acquire_module_rng(name, seconds):
    """Adversary round 4 (module-rng): tokens from a random.Random() made at import: a forked pool
    process repeats the parent's tokens."""
    token = f"{_R4_RNG.getrandbits(128):032x}"
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def r4_acquire_pid_counter(name, seconds):
    """Adversary round 4 (pid-counter): token = pid + a counter: not random, repeats on another
    machine/process with the same pid."""
    token = f"{os.getpid()}-{next(_R4_COUNTER)}"  # unique "enough", but not random
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def r4_acquire_false(name, seconds):
    """Adversary round 4 (acquire-false): a refused acquire returns False instead of None."""
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return False  # not None


def r4_release_watch_uncaught(name, token):
    """Adversary round 4 (release-watch-uncaught): WATCH/GET/MULTI/DEL/EXEC without handling
    WatchError: raises when the lock changes meanwhile."""
    # optimistic WATCH/MULTI, but a WatchError (the key changed meanwhile) is not handled
    key = practices.key("lock", name)
    with store().pipeline() as pipe:
        pipe.watch(key)
        if pipe.get(key) != token:
            pipe.unwatch()
            return False
        pipe.multi()
        pipe.delete(key)
        pipe.execute()
        return True


def r4_release_get_then_delete(name, token):
    """Adversary round 4 (release-get-then-delete): GET then DEL in two commands: may delete the
    next holder's lock."""
    key = practices.key("lock", name)
    if store().get(key) == token:
        store().delete(key)  # the lock may have expired and been taken in between
        return True
    return False


def r4_release_lua_int(name, token):
    """Adversary round 4 (release-lua-int): release returns the script's 1/0, not True/False."""
    return store().eval(RELEASE, 1, practices.key("lock", name), token)  # 1/0, not bools


def r4_release_nobody_true(name, token):
    """Adversary round 4 (release-nobody-true): releasing a lock nobody holds returns True."""
    # "nothing to release" counted as success
    script = """
    local v = redis.call('get', KEYS[1])
    if v == false then return 1 end
    if v == ARGV[1] then return redis.call('del', KEYS[1]) end
    return 0
    """
    return bool(store().eval(script, 1, practices.key("lock", name), token))


def r4_acquire_time_hash(name, seconds):
    """Adversary round 4 (time-hash): token = uuid5 of the name and time.time_ns(): a function of
    the time, not random."""
    # a hash of the time looks random, but two holders whose clocks read the same get one token
    token = uuid.uuid5(uuid.NAMESPACE_OID, f"{name}:{time.time_ns()}").hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def r4_release_getdel_restore(name, token):
    """Adversary round 4 (release-getdel-restore): GETDEL then SET back when it was another
    holder's: the lock is gone for a moment (a third caller can take it)."""
    # GETDEL, and put the lock back (with its remaining time) if it was someone else's
    key = practices.key("lock", name)
    r = store()
    ttl = r.pttl(key)
    value = r.getdel(key)
    if value == token:
        return True
    if value is not None:
        r.set(key, value, px=max(ttl, 1), nx=True)
    return False


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param((r4_acquire_px_units, release), ", 5) set a lock that expires in 5 ms",
                     "expire after the seconds asked: ex=seconds", id="r4-px-units"),
        pytest.param((r4_acquire_margin, release), ", 5) set a lock that expires in 6 s",
                     "expire after the seconds asked: ex=seconds", id="r4-margin"),
        pytest.param((r4_acquire_module_rng, release), "acquire on another pool process returned",
                     "a new random token at every acquire: uuid.uuid4().hex; a",
                     id="r4-module-rng"),
        pytest.param((r4_acquire_pid_counter, release), "acquire on another pool process returned",
                     "a new random token at every acquire: uuid.uuid4().hex; a",
                     id="r4-pid-counter"),
        pytest.param((r4_acquire_false, release),
                     "acquire of a lock that was held returned False, not None",
                     "return None when SET ... NX did not take the lock (redis-py",
                     id="r4-acquire-false"),
        pytest.param((acquire, r4_release_watch_uncaught),
                     "release raised WatchError: Watched variable changed when the lock",
                     "catch redis.exceptions.WatchError around the EXEC: it fails",
                     id="r4-release-watch-uncaught"),
        pytest.param((acquire, r4_release_get_then_delete),
                     "release deleted the next holder's lock: the lock expired right after",
                     "compare and delete in one step, a Lua script: if",
                     id="r4-release-get-then-delete"),
        pytest.param((acquire, r4_release_lua_int),
                     "release with a stale token returned 0, not False",
                     "return True or False: bool(...) of what the script or DEL",
                     id="r4-release-lua-int"),
        pytest.param((acquire, r4_release_nobody_true),
                     "release of a lock that had expired, which nobody held any more,",
                     "return True only when release deleted the lock: the Lua",
                     id="r4-release-nobody-true"),
        pytest.param((r4_acquire_time_hash, release),
                     ": a token made from the time is not unique, and two hosts' clocks can",
                     "a new random token at every acquire: uuid.uuid4().hex (or",
                     id="r4-time-hash"),
        pytest.param((acquire, r4_release_getdel_restore),
                     "a holder whose lock had expired called release while another holder",
                     "never delete (or GETDEL) a lock that is not yours, even to",
                     id="r4-release-getdel-restore"),
        pytest.param((acquire_uuid1_fixed_clock_seq, release),
                     "on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire: uuid.uuid4().hex (or uuid.uuid1() "
                     "with its random clock sequence), not the time",
                     id="r4-uuid1-fixed-clock-seq"),
        pytest.param((acquire, release_is_not_none),
                     "release with a stale token returned True; it released nothing",
                     "return True only when the lock was deleted: the Lua script answers 1 "
                     "after its DEL and 0 otherwise, so return its answer == 1 (a test such as "
                     "`is not None` is True for 0 too)", id="r4-release-is-not-none"),
        pytest.param((acquire_no_expiry, release), "the lock has no expiry",
                     "set it with an expiry: r.set(key, token, nx=True, ex=seconds)",
                     id="no-expiry"),
        pytest.param((acquire_set_answer, release),
                     "5) returned True (what SET answers), not the token",
                     "return the token itself", id="returns-set-answer"),
        pytest.param((acquire_value_one, release), "the lock holds '1', not the token",
                     "store the token as the lock's value", id="token-not-stored"),
        pytest.param((acquire_no_nx, release), "a second acquire took the lock", "nx=True",
                     id="no-nx"),
        pytest.param((acquire_constant, release), "acquire returned the same token '1' twice",
                     "a new random token at every acquire", id="constant-token"),
        # adversary round 1's no-token-check, no-expiry and no-nx are these three
        pytest.param((acquire, release_delete),
                     "a holder whose lock had expired released the lock the next holder had",
                     "delete only if the key still holds your token", id="wrong-holder-releases"),
        # adversary round 1
        pytest.param((acquire_setnx_then_expire, release),
                     "a holder that died right after its SETNX (before its EXPIRE) left a lock "
                     "that never expires", "take the lock and set its expiry in one command",
                     id="setnx-then-expire"),
        pytest.param((acquire_exists_then_set, release),
                     "two acquires at the same time (on two pool processes) both took the lock",
                     "check and take in one command", id="exists-then-set"),
        pytest.param((acquire_60s, release), "5) set a lock that expires in 60 s",
                     "expire after the seconds asked: ex=seconds", id="always-60s"),
        pytest.param((acquire_5s, release), "17) set a lock that expires in 5 s",
                     "expire after the seconds asked: ex=seconds", id="always-5s"),
        pytest.param((acquire_px, release), "5) set a lock that expires in 5 ms",
                     "expire after the seconds asked: ex=seconds", id="px-not-ex"),
        pytest.param((acquire_counter_token, release),
                     "acquire on another pool process returned '1', a token this process had "
                     "already handed out", "a new random token at every acquire",
                     id="counter-token"),
        pytest.param((acquire_pid_token, release),
                     f"acquire returned the same token '{os.getpid()}' twice",
                     "a new random token at every acquire", id="pid-token"),
        pytest.param((acquire, release_get_then_delete),
                     "release deleted the next holder's lock: the lock expired right after its "
                     "GET and another holder took it, then release went on with DEL",
                     "compare and delete in one step, a Lua script", id="get-then-delete"),
        pytest.param((acquire_remember_local, release_local_token),
                     "a holder whose lock had expired released the lock the next holder had, on "
                     "another pool process", "delete only if the key still holds your token",
                     id="local-token"),
        pytest.param((acquire_watch_unhandled, release),
                     "acquire raised WatchError: Watched variable changed. when two callers ran "
                     "at once", "catch redis.exceptions.WatchError", id="watch-unhandled"),
        # adversary round 2
        pytest.param((acquire_counter_name_token, release),
                     "acquire on another pool process returned 'check-lock-",
                     "a new random token at every acquire", id="counter-token-with-name"),
        pytest.param((acquire_module_rng_token, release),
                     "a token this process had already handed out",
                     "a new random token at every acquire", id="module-rng-token"),
        pytest.param((acquire_time_token, release),
                     "acquire on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire: uuid.uuid4().hex (or uuid.uuid1() "
                     "with its random clock sequence), not the time", id="time-token"),
        pytest.param((acquire_margin, release), "5) set a lock that expires in 6 s",
                     "expire after the seconds asked: ex=seconds", id="ex-plus-margin"),
        pytest.param((acquire_px, release), "5) set a lock that expires in 5 ms",
                     "expire after the seconds asked: ex=seconds", id="r2-px-milliseconds"),
        pytest.param((acquire, release_getdel),
                     "a holder whose lock had expired released the lock the next holder had",
                     "delete only if the key still holds your token", id="getdel-release"),
        pytest.param((acquire, release_watch_immediate),
                     "release deleted the next holder's lock: the lock expired right after its "
                     "GET and another holder took it, then release went on with DEL",
                     "WATCH guards only a transaction: after the GET, pipe.multi()",
                     id="watch-immediate-delete"),
        pytest.param((acquire, release_true_if_gone),
                     "release of a lock that had expired, which nobody held any more, returned "
                     "True", "return True only when release deleted the lock",
                     id="release-true-if-gone"),
        pytest.param((acquire_local_deadline, release_local_deadline),
                     "a holder whose lock had expired released the lock the next holder had",
                     "delete only if the key still holds your token", id="local-deadline"),
        pytest.param((acquire_multi_setnx_expire, release),
                     "an acquire that was refused pushed the holder's expiry back (",
                     "set the expiry only with the lock, in one command",
                     id="multi-setnx-expire"),
        # adversary round 3
        pytest.param((acquire_module_rng_token, release),
                     "a token this process had already handed out",
                     "a new random token at every acquire", id="r3-module-rng-token"),
        pytest.param((acquire_owner_id, release), "acquire returned the same token",
                     "a new random token at every acquire", id="owner-id-token"),
        pytest.param((acquire, release_getdel_restore),
                     "for a moment that holder's lock was gone: right after release's GETDEL, a "
                     "third acquire took it (two holders at once), then release went on with SET",
                     "never delete (or GETDEL) a lock that is not yours", id="getdel-restore"),
        pytest.param((acquire_ex_3, release), "5) set a lock that expires in 3 s",
                     "expire after the seconds asked: ex=seconds", id="ex-3-hardcoded"),
        pytest.param((acquire_ex_30, release), "5) set a lock that expires in 30 s",
                     "expire after the seconds asked: ex=seconds", id="ex-30-hardcoded"),
        pytest.param((acquire_margin, release), "5) set a lock that expires in 6 s",
                     "expire after the seconds asked: ex=seconds", id="r3-ex-plus-margin"),
        pytest.param((acquire_returns_false, release),
                     "acquire of a lock that was held returned False, not None",
                     "return None when SET ... NX did not take the lock",
                     id="acquire-returns-false"),
        pytest.param((acquire, release_returns_int),
                     "release with a stale token returned 0, not False",
                     "return True or False: bool(...)", id="release-returns-int"),
        pytest.param((acquire, release_watch_unhandled),
                     "release raised WatchError: Watched variable changed when the lock expired "
                     "right after its GET and another holder took it",
                     "catch redis.exceptions.WatchError around the EXEC",
                     id="watch-release-unhandled"),
        # adversary round 5
        pytest.param((r4_acquire_px_units, release), ", 5) set a lock that expires in 5 ms",
                     "expire after the seconds asked: ex=seconds", id="r5-px-seconds"),
        pytest.param((r4_acquire_margin, release), ", 5) set a lock that expires in 6 s",
                     "expire after the seconds asked: ex=seconds", id="r5-one-second-margin"),
        pytest.param((r5_acquire_local_exat, release),
                     "on a worker whose clock is 10 min ahead of Redis's, acquire(",
                     "give the expiry as a length, which Redis counts on its own clock",
                     id="r5-local-clock-exat"),
        pytest.param((r5_acquire_datetime_pxat, release),
                     "5) set a lock that expires in 605 s: the expiry is an instant read on the "
                     "worker's clock", "give the expiry as a length", id="datetime-pxat"),
        pytest.param((r5_acquire_uuid1_short, release),
                     "acquire on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire: uuid.uuid4().hex",
                     id="r5-uuid1-time-part"),
        pytest.param((r5_acquire_monotonic, release),
                     "acquire on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire", id="r5-monotonic-token"),
        pytest.param((r5_acquire_perf_counter, release),
                     "acquire on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire", id="perf-counter-token"),
        pytest.param((r5_acquire_now_isoformat, release),
                     "acquire on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire", id="now-isoformat-token"),
        pytest.param((r5_acquire_time_ns, release),
                     "acquire on two workers whose clocks read the same returned the same token",
                     "a new random token at every acquire", id="r5-time-ns-token"),
        pytest.param((r5_acquire_one_key, r5_release_one_key),
                     "after acquire there is no key practices:lock:check-lock-",
                     "the lock's key is practices.key('lock', name)", id="r5-one-key-for-all"),
        pytest.param((acquire, r5_release_watch_no_multi),
                     "release deleted the next holder's lock: the lock expired right after its "
                     "GET", "WATCH guards only a transaction", id="r5-watch-without-multi"),
        pytest.param((r5_acquire_remember, r5_release_local_check),
                     "release compared the token with something its own process remembered",
                     "delete only if the key still holds your token", id="r5-local-token-check"),
    ],
)  # fmt: skip
def test_10_3_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("10.3", *answer), problem, hint)


def test_10_3_leaves_no_lock() -> None:
    verdict("10.3", acquire_no_nx, release)
    assert not list(store().scan_iter(match=practices.key("lock", "check-lock-*")))


# --------------------------------------------------------------------------- 10.4


def encode(name, parts):
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_finally(name, parts):
    """Also right: the cleanup in a finally block."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        return "stopped"
    finally:
        practices.remove_temp(name)
    return "done"


def encode_flag_and_break(name, parts):
    """Also right: a try around each part, a flag and a break."""
    practices.open_temp(name)
    stopped = False
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            stopped = True
            break
    practices.remove_temp(name)
    return "stopped" if stopped else "done"


def encode_try_per_part(name, parts):
    """Also right (adversary round 2's try-per-part): a try around each part, return there."""
    practices.open_temp(name)
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            practices.remove_temp(name)
            return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_wraps_oserror(name, parts):
    """Adversary round 2's wraps-oserror, judged right then; wrong since round 3: the failure
    goes up as a RuntimeError, which an except OSError or autoretry_for=(OSError,) misses."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    except OSError as exc:
        raise RuntimeError(f"encoding {name} failed") from exc
    practices.remove_temp(name)
    return "done"


def encode_stub(name, parts): ...


def encode_except_exception(name, parts):
    """Adversary round 1: except Exception: every error is a clean "stopped"."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except Exception:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_break_and_guess(name, parts):
    """Adversary round 1: guesses from the loop index: a limit in the last part says "done"."""
    practices.open_temp(name)
    i = -1
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            break
    practices.remove_temp(name)
    return "done" if i == parts - 1 else "stopped"


def encode_continue(name, parts):
    """Adversary round 1: skips the interrupted part and encodes the rest."""
    practices.open_temp(name)
    stopped = False
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            stopped = True
            continue
    practices.remove_temp(name)
    return "stopped" if stopped else "done"


def encode_pass_through(name, parts):
    """Adversary round 1: stops, but answers "done"."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        pass
    practices.remove_temp(name)
    return "done"


def encode_reraise(name, parts):
    """Adversary round 1: cleans up, then re-raises."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        raise
    practices.remove_temp(name)
    return "done"


def encode_no_handler(name, parts):
    practices.open_temp(name)
    for i in range(parts):
        practices.encode_part(name, i)
    practices.remove_temp(name)
    return "done"


def encode_hard_limit(name, parts):
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except TimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_no_cleanup(name, parts):
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_goes_on(name, parts):
    practices.open_temp(name)
    for i in range(parts):
        with contextlib.suppress(SoftTimeLimitExceeded):
            practices.encode_part(name, i)
    practices.remove_temp(name)
    return "done"


def encode_cleanup_only_on_timeout(name, parts):
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    return "done"


def encode_finish_interrupted_part(name, parts):
    """Adversary round 2: encodes the interrupted part again in the except block."""
    practices.open_temp(name)
    i = 0
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.encode_part(name, i)
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_return_in_finally(name, parts):
    """Adversary round 2: the return in finally drops the full disk's OSError."""
    stopped = False
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        stopped = True
    finally:
        practices.remove_temp(name)
        return "stopped" if stopped else "done"  # noqa: B012 (the mistake under test)


def encode_last_index(name, parts):
    """Adversary round 2: suppress(), then "done" if the loop index reached the last part."""
    practices.open_temp(name)
    i = -1
    with contextlib.suppress(SoftTimeLimitExceeded):
        for i in range(parts):
            practices.encode_part(name, i)
    practices.remove_temp(name)
    return "done" if i == parts - 1 else "stopped"


def encode_reraise_only_oserror(name, parts):
    """Adversary round 2: lets OSError go up, takes every other error for the time limit."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except OSError:
        raise
    except Exception:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_also_timeouterror(name, parts):
    """Adversary round 2: catches TimeoutError with SoftTimeLimitExceeded."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except (SoftTimeLimitExceeded, TimeoutError):
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_catch_time_limit(name, parts):
    """Adversary round 2: catches TimeLimitExceeded (the hard limit), not SoftTimeLimitExceeded."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except TimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_reraise_others(name, parts):
    """Also right: other errors caught, cleaned up after, and re-raised as they are."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    except Exception:
        practices.remove_temp(name)
        raise
    practices.remove_temp(name)
    return "done"


def encode_wrap_errors(name, parts):
    """Adversary round 3: every other error re-raised as a RuntimeError."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    except Exception as exc:
        practices.remove_temp(name)
        raise RuntimeError(f"encoding {name} failed: {exc}") from exc
    practices.remove_temp(name)
    return "done"


def encode_thread_pool(name, parts):
    """Adversary round 3: the parts encoded in a thread pool, which the limit never reaches."""
    from concurrent.futures import ThreadPoolExecutor

    practices.open_temp(name)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: practices.encode_part(name, i), range(parts)))
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_rewrap_same_type(name, parts):
    """Adversary round 4: other errors re-raised as a new exception of the same type."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    except Exception as exc:
        practices.remove_temp(name)
        raise type(exc)(f"encoding {name} failed: {exc}") from None
    practices.remove_temp(name)
    return "done"


def encode_reraise_the_limit(name, parts):
    """Adversary round 4: cleans up, then raises the soft limit again."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        raise
    practices.remove_temp(name)
    return "done"


def encode_count_parts(name, parts):
    """Adversary round 4: "done" when practices.parts(name) has them all (earlier runs too)."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        pass
    practices.remove_temp(name)
    return "done" if len(practices.parts(name)) >= parts else "stopped"


# adversary round 5


def r5_encode_rewrap_same_type(name, parts):
    """Adversary round 5 (rewrap-same-type): a new exception of the same type, from exc."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    except Exception as exc:
        raise type(exc)(f"encoding {name} failed: {exc}") from exc
    practices.remove_temp(name)
    return "done"


def r5_encode_worker_thread(name, parts):
    """Adversary round 5 (worker-thread-flag): one helper thread with a stop flag."""
    stop = threading.Event()
    errors = []

    def work():
        try:
            for i in range(parts):
                if stop.is_set():
                    return
                practices.encode_part(name, i)
        except BaseException as exc:  # handed back to the task thread
            errors.append(exc)

    practices.open_temp(name)
    worker = threading.Thread(target=work)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.005)
    except SoftTimeLimitExceeded:
        stop.set()
        practices.remove_temp(name)
        return "stopped"
    if errors:
        if isinstance(errors[0], SoftTimeLimitExceeded):
            practices.remove_temp(name)
            return "stopped"
        raise errors[0]
    practices.remove_temp(name)
    return "done"


def r5_encode_progress_outside_try(name, parts):
    """Adversary round 5 (progress-outside-try): only encode_part is guarded; the progress
    write and a pause after each part are outside the try."""
    practices.open_temp(name)
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            practices.remove_temp(name)
            return "stopped"
        store().set(practices.key("progress", name), i + 1)
        time.sleep(0.002)
    practices.remove_temp(name)
    return "done"


def r5_encode_progress_write_outside_try(name, parts):
    """Adversary round 5 (progress-write-outside-try, borderline): only the progress SET is
    outside the try; a limit during that store command escapes all the same."""
    practices.open_temp(name)
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            practices.remove_temp(name)
            return "stopped"
        store().set(practices.key("progress", name), i + 1)
    practices.remove_temp(name)
    return "done"


def r5_encode_pause_outside_try(name, parts):
    """The progress-outside-try kind with no store command: a pause between parts."""
    practices.open_temp(name)
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            practices.remove_temp(name)
            return "stopped"
        time.sleep(0.002)
    practices.remove_temp(name)
    return "done"


def r5_encode_check_before_try(name, parts):
    """The same kind before the loop: a store command between open_temp and the try."""
    practices.open_temp(name)
    store().set(practices.key("progress", name), 0)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def r5_encode_oserror_as_stop(name, parts):
    """Adversary round 5 (oserror-as-stop): a full disk caught with the limit."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except (SoftTimeLimitExceeded, OSError):
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def encode_progress_inside_try(name, parts):
    """Also right: a progress write and a pause after each part, inside the try."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
            store().set(practices.key("progress", name), i + 1)
            time.sleep(0.002)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


@pytest.mark.parametrize(
    "answer",
    [encode, encode_finally, encode_flag_and_break, encode_try_per_part, encode_reraise_others,
     encode_progress_inside_try],
    ids=["solution", "finally", "flag-and-break", "try-per-part", "reraise-others",
         "progress-inside-try"],
)  # fmt: skip
def test_10_4_right_answers(answer) -> None:
    assert_passed(verdict("10.4", answer), "at the soft time limit (in any part")


def test_10_4_stub_is_not_yet() -> None:
    assert_fails(verdict("10.4", encode_stub), "not yet", None)


def r4_encode_last_part_done(name, parts):
    """Adversary round 4 (last-part-done): stopped is decided by `i < parts - 1`: a strike in the
    last part returns 'done'."""
    practices.open_temp(name)
    i = -1
    for i in range(parts):
        try:
            practices.encode_part(name, i)
        except SoftTimeLimitExceeded:
            break
    practices.remove_temp(name)
    return "stopped" if i < parts - 1 else "done"  # a strike in the last part says "done"


def r4_encode_finish_part(name, parts):
    """Adversary round 4 (finish-part): on the soft limit it encodes the interrupted part again
    before stopping."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            try:
                practices.encode_part(name, i)
            except SoftTimeLimitExceeded:
                practices.encode_part(name, i)  # "finish the part in progress", then stop
                raise
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def r4_encode_return_in_finally(name, parts):
    """Adversary round 4 (return-in-finally): return inside finally swallows other errors."""
    stopped = False
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        stopped = True
    finally:
        practices.remove_temp(name)
        return "stopped" if stopped else "done"  # noqa: B012 (swallows every other error)


def r4_encode_hard_limit(name, parts):
    """Adversary round 4 (hard-limit-exc): catches TimeLimitExceeded (the hard limit) instead of
    SoftTimeLimitExceeded."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except TimeLimitExceeded:  # the hard limit's exception, never raised in the task
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def r4_encode_with_timeouterror(name, parts):
    """Adversary round 4 (with-timeouterror): also catches TimeoutError as if it were the time
    limit."""
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except (SoftTimeLimitExceeded, TimeoutError):  # "a timeout is a time limit"
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


def r4_encode_threads(name, parts):
    """Adversary round 4 (threads): encodes in a thread pool: the limit strikes the task thread
    while the pool thread goes on."""
    from concurrent.futures import ThreadPoolExecutor

    practices.open_temp(name)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            list(pool.map(lambda i: practices.encode_part(name, i), range(parts)))
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    practices.remove_temp(name)
    return "done"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_encode_last_part_done,
                     "the soft time limit struck during part 2 of 3 and encode stopped (2",
                     'return "stopped" from the except block: "done" is for a run',
                     id="r4-last-part-done"),
        pytest.param(r4_encode_finish_part,
                     "the soft time limit struck during part 1 of 3, and encode went on: it",
                     "stop at once: don't encode in the except block (it encoded",
                     id="r4-finish-part"),
        pytest.param(r4_encode_return_in_finally,
                     "encode_part failed with OSError: [Errno 28] No space left on device",
                     "don't return inside finally: a return there drops the error",
                     id="r4-return-in-finally"),
        pytest.param(r4_encode_hard_limit,
                     "SoftTimeLimitExceeded escaped from encode and left its temporary file",
                     "catch SoftTimeLimitExceeded (from celery.exceptions):",
                     id="r4-hard-limit-exc"),
        pytest.param(r4_encode_with_timeouterror,
                     "encode_part failed with TimeoutError: the storage did not answer in",
                     "catch SoftTimeLimitExceeded only: a TimeoutError (a network",
                     id="r4-with-timeouterror"),
        pytest.param(r4_encode_threads,
                     ", 3) encoded its parts on other threads (a thread pool?), where the",
                     "encode the parts in the task's own thread, in a plain loop", id="r4-threads"),
        pytest.param(encode_rewrap_same_type, "the same type, but a new exception",
                     "let other errors go up as they are: don't catch them, or re-raise the "
                     "very same exception with a bare raise", id="r4-rewrap-same-type"),
        pytest.param(encode_reraise_the_limit, "SoftTimeLimitExceeded escaped from encode",
                     'catch it and stop there: remove the temporary file and return "stopped" '
                     "from the except block instead of raising it again", id="r4-reraise"),
        pytest.param(encode_count_parts, "practices.parts(name) holds the earlier run's parts",
                     'decide by what happened in this run: return "stopped" from the except '
                     "block that caught SoftTimeLimitExceeded", id="r4-count-parts"),
        pytest.param(encode_no_handler,
                     "SoftTimeLimitExceeded escaped from encode and left its temporary file",
                     "wrap the work in try/except SoftTimeLimitExceeded", id="no-handler"),
        pytest.param(encode_no_cleanup,
                     "stopped at the soft time limit but left its temporary file",
                     "call practices.remove_temp(name) in the except block", id="no-cleanup"),
        pytest.param(encode_hard_limit, "SoftTimeLimitExceeded escaped from encode",
                     "catch SoftTimeLimitExceeded (from celery.exceptions): TimeLimitExceeded is "
                     "the hard", id="catching-the-hard-limit"),
        pytest.param(encode_goes_on,
                     "the soft time limit struck during part 1 of 3, and encode went on: it "
                     "encoded 1 more part(s) after it (2)",
                     "stop working when SoftTimeLimitExceeded strikes",
                     id="goes-on-after-the-limit"),
        # adversary round 1's done-leaves-temp, no-cleanup and hard-limit are these three
        pytest.param(encode_cleanup_only_on_timeout,
                     "a run that finished in time left its temporary file",
                     "call practices.remove_temp(name) after the last part too",
                     id="cleanup-only-on-timeout"),
        # adversary round 1
        pytest.param(encode_except_exception,
                     "encode_part failed with OSError: [Errno 28] No space left on device (not "
                     "the time limit), and encode answered 'stopped'",
                     "catch SoftTimeLimitExceeded only: except Exception", id="except-exception"),
        pytest.param(encode_break_and_guess,
                     'the soft time limit struck during part 2 of 3 and encode stopped (2 of 3 '
                     'parts encoded), but it answered "done"', 'return "stopped" from the except',
                     id="break-and-guess"),
        pytest.param(encode_continue,
                     "the soft time limit struck during part 1 of 3, and encode went on",
                     "stop working when SoftTimeLimitExceeded strikes", id="continue"),
        pytest.param(encode_pass_through,
                     'the soft time limit struck during part 1 of 3 and encode stopped (1 of 3 '
                     'parts encoded), but it answered "done"', 'return "stopped" from the except',
                     id="pass-through"),
        pytest.param(encode_reraise, "SoftTimeLimitExceeded escaped from encode.",
                     'catch it and stop there: remove the temporary file and return "stopped" '
                     "from the except block instead of raising it again", id="reraise"),
        # adversary round 2
        pytest.param(encode_finish_interrupted_part,
                     "the soft time limit struck during part 1 of 3, and encode went on: it "
                     "encoded 1 more part(s) after it (1)",
                     "stop at once: don't encode in the except block (it encoded part 1 there)",
                     id="finish-interrupted-part"),
        pytest.param(encode_return_in_finally,
                     "encode_part failed with OSError: [Errno 28] No space left on device (not "
                     "the time limit), and encode answered 'done'",
                     "don't return inside finally", id="return-in-finally"),
        pytest.param(encode_last_index,
                     'the soft time limit struck during part 2 of 3 and encode stopped (2 of 3 '
                     'parts encoded), but it answered "done"', 'return "stopped" from the except',
                     id="last-index"),
        pytest.param(encode_reraise_only_oserror,
                     "encode_part failed with KeyError: 'profile' (not the time limit), and "
                     "encode answered 'stopped'", "catch SoftTimeLimitExceeded only: KeyError and "
                     "RuntimeError are real failures too, not only a full disk",
                     id="reraise-only-oserror"),
        pytest.param(encode_also_timeouterror,
                     "encode_part failed with TimeoutError: the storage did not answer in 30 s "
                     "(not the time limit), and encode answered 'stopped'",
                     "catch SoftTimeLimitExceeded only: a TimeoutError",
                     id="catches-timeouterror-too"),
        pytest.param(encode_catch_time_limit,
                     "SoftTimeLimitExceeded escaped from encode and left its temporary file",
                     "catch SoftTimeLimitExceeded (from celery.exceptions): TimeLimitExceeded is "
                     "the hard", id="catch-timelimitexceeded"),
        pytest.param(encode_wraps_oserror,
                     "encode_part failed with OSError: [Errno 28] No space left on device (not "
                     "the time limit), and encode raised RuntimeError",
                     "let other errors go up as they are", id="wraps-oserror"),
        # adversary round 3
        pytest.param(encode_return_in_finally,
                     "encode_part failed with OSError: [Errno 28] No space left on device (not "
                     "the time limit), and encode answered 'done'",
                     "don't return inside finally", id="r3-return-in-finally"),
        pytest.param(encode_finish_interrupted_part,
                     "the soft time limit struck during part 1 of 3, and encode went on",
                     "stop at once: don't encode in the except block",
                     id="finish-current-part"),
        pytest.param(encode_wrap_errors,
                     "encode_part failed with OSError: [Errno 28] No space left on device (not "
                     "the time limit), and encode raised RuntimeError: encoding check-broken-",
                     "let other errors go up as they are: don't catch them, or re-raise with a "
                     "bare raise", id="wrap-errors"),
        pytest.param(encode_thread_pool,
                     "encoded its parts on other threads (a thread pool?), where the soft time "
                     "limit never reaches them", "encode the parts in the task's own thread",
                     id="thread-pool"),
        # adversary round 5
        pytest.param(r5_encode_rewrap_same_type, "the same type, but a new exception",
                     "let other errors go up as they are: don't catch them, or re-raise the "
                     "very same exception with a bare raise", id="r5-rewrap-same-type"),
        pytest.param(r5_encode_worker_thread, "encoded its parts on other threads",
                     "encode the parts in the task's own thread", id="r5-worker-thread-flag"),
        pytest.param(r5_encode_progress_outside_try,
                     "the soft time limit struck between part 0 and part 1, during encode's "
                     "store command SET practices:progress:check-between-", "put the try around "
                     "all the work from open_temp on", id="r5-progress-outside-try"),
        pytest.param(r5_encode_progress_write_outside_try,
                     "the soft time limit struck between part 0 and part 1, during encode's "
                     "store command SET practices:progress:", "put the try around all the work",
                     id="r5-progress-write-outside-try"),
        pytest.param(r5_encode_pause_outside_try,
                     "the soft time limit struck between part 0 and part 1, during encode's "
                     "time.sleep, outside the try that catches it, and SoftTimeLimitExceeded "
                     "escaped from encode and left its temporary file",
                     "put the try around all the work", id="pause-outside-try"),
        pytest.param(r5_encode_check_before_try,
                     "the soft time limit struck after open_temp, before part 0, during "
                     "encode's store command SET", "put the try around all the work from "
                     "open_temp on", id="store-command-before-try"),
        pytest.param(r5_encode_oserror_as_stop,
                     "encode_part failed with OSError: [Errno 28] No space left on device (not "
                     "the time limit), and encode answered 'stopped'",
                     "catch SoftTimeLimitExceeded only: OSError and TimeoutError are real "
                     "failures too", id="r5-oserror-as-stop"),
    ],
)  # fmt: skip
def test_10_4_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("10.4", answer), problem, hint)


def test_10_4_restores_the_alarm_handler() -> None:
    import signal
    import sys

    before, profiler = signal.getsignal(signal.SIGALRM), sys.getprofile()
    verdict("10.4", encode_no_handler)
    verdict("10.4", r5_encode_pause_outside_try)
    assert signal.getsignal(signal.SIGALRM) is before
    assert sys.getprofile() is profiler
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
