"""Adversary round 6: wrong answers to chapter 10's exercises, run through the real checks.

From the course root:
    timeout 900 .venv/bin/python .adversary/ch10_r6.py [10.1 10.2 ...]
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
"""
import os
import sys

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402

import random  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402
from contextlib import suppress  # noqa: E402
from datetime import timedelta  # noqa: E402

import redis  # noqa: E402

from course_tasks.store import store  # noqa: E402
from course_tasks.tasks import practices  # noqa: E402
from course_tasks.tasks.practices import PermanentError, TemporaryError  # noqa: E402,F401

# ---------------------------------------------------------------- 10.1


def pay_ledger_forever(order_id, amount):
    # right mark, plus a "payments" hash kept beside it that never expires: one entry per order for ever
    first = store().set(practices.key("paid", order_id), amount, nx=True, ex=7 * 24 * 3600)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    store().hset(practices.key("payments"), str(order_id), amount)
    return "charged"


def pay_incr_multi(order_id, amount):
    # INCR + EXPIRE NX in one MULTI/EXEC: atomic and the expiry is set once, but every repeat
    # delivery rewrites the mark (1, 2, 3...) and the amount is never recorded
    k = practices.key("paid", order_id)
    pipe = store().pipeline(transaction=True)
    pipe.incr(k)
    pipe.expire(k, 7 * 24 * 3600, nx=True)
    count, _ = pipe.execute()
    if count > 1:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_set_get_overwrite(order_id, amount):
    # SET ... GET without NX: one atomic command, the first caller sees None; but each repeat
    # overwrites the mark with its own amount and pushes its expiry back a day
    old = store().set(practices.key("paid", order_id), amount, ex=24 * 3600, get=True)
    if old is not None:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_expire_gt(order_id, amount):
    # SETNX + EXPIRE GT in one MULTI: GT ("only push the expiry later") never applies to a key
    # without a TTL (Redis counts it as infinite), so the mark never expires
    k = practices.key("paid", order_id)
    pipe = store().pipeline(transaction=True)
    pipe.setnx(k, amount)
    pipe.expire(k, 24 * 3600, gt=True)
    first, _ = pipe.execute()
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_px_seconds(order_id, amount):
    # px= instead of ex=: 86,400 milliseconds is 86 s, not a day
    if not store().set(practices.key("paid", order_id), amount, nx=True, px=24 * 3600):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_timedelta_seconds(order_id, amount):
    # "a day, plus the hour of the visibility timeout": timedelta.seconds is the seconds part only
    # (3600), not total_seconds() (90,000)
    ttl = timedelta(days=1, hours=1).seconds
    if not store().set(practices.key("paid", order_id), amount, nx=True, ex=ttl):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


_PAID = set()


def pay_local_cache(order_id, amount):
    # a per-process "fast path" set in front of the store: it grows with every order for ever
    # (a leak in a long-running pool process) and outlives the mark's expiry
    if order_id in _PAID:
        return "already paid"
    first = store().set(practices.key("paid", order_id), amount, nx=True, ex=7 * 24 * 3600)
    _PAID.add(order_id)
    if not first:
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


# ---------------------------------------------------------------- 10.2

RETRY_NO_MAX = dict(  # the 60 s cap left out: the default 600 s happens to match 5 retries (1..16 s)
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_jitter=True, max_retries=5,
)
RETRY_MAX_MS = dict(  # the cap written in milliseconds: 60,000 s
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_backoff_max=60_000,
    retry_jitter=True, max_retries=5,
)
RETRY_OTHER_QUEUE = dict(  # retries sent to a "retries" queue no worker of the task consumes
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
    max_retries=5, retry_kwargs={"queue": "retries"},
)
RETRY_EXPIRES = dict(  # expires=30 "so a stuck message does not linger": the retries' message keeps
    # the first send's expiry; 1+2+4+8+16 = 31 s, so the last retry arrives expired and is revoked
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
    max_retries=5, expires=30,
)
RETRY_TASK_QUEUE = dict(  # queue= on the task itself, a queue the worker does not consume
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
    max_retries=5, queue="retries",
)

# ---------------------------------------------------------------- 10.3

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_ok(name, token):
    return bool(store().eval(RELEASE, 1, practices.key("lock", name), token))


def acquire_px_seconds(name, seconds):
    # px= instead of ex=: the lock lasts `seconds` milliseconds
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, px=seconds):
        return token
    return None


_RNG = random.Random()


def acquire_module_rng(name, seconds):
    # a module-level Random instance: not reseeded after fork (only the global one is), so two
    # forked pool processes hand out the same sequence of tokens
    token = "%032x" % _RNG.getrandbits(128)
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def acquire_host_pid(name, seconds):
    # the holder's identity as the token: the same process taking the lock again (after it
    # expired) gets the same token, so the old holder's release deletes the new lock
    token = f"{socket.gethostname()}:{os.getpid()}"
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def acquire_uuid5(name, seconds):
    # a "unique" token derived from the lock name: every holder gets the same one
    token = uuid.uuid5(uuid.NAMESPACE_URL, name).hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def acquire_uuid1_short(name, seconds):
    # uuid1 shortened to 8 hex digits: that is time_low only, the clock's low bits, not random
    token = uuid.uuid1().hex[:8]
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def acquire_ok(name, seconds):
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return None


def release_watch_true_on_conflict(name, token):
    # WATCH/MULTI compare-and-delete, but a WatchError ("the key changed under us") is taken as
    # "it is gone anyway" and answered True, although nothing was deleted
    k = practices.key("lock", name)
    with store().pipeline() as pipe:
        try:
            pipe.watch(k)
            if pipe.get(k) != token:
                pipe.unwatch()
                return False
            pipe.multi()
            pipe.delete(k)
            pipe.execute()
            return True
        except redis.WatchError:
            return True


# ---------------------------------------------------------------- 10.4

from celery.exceptions import SoftTimeLimitExceeded  # noqa: E402


def encode_index_flag(name, parts):
    # stopped is derived from the index: a limit in the last part gives i == parts - 1, so "done"
    practices.open_temp(name)
    i = -1
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        pass
    practices.remove_temp(name)
    return "done" if i == parts - 1 else "stopped"


def encode_recreate_error(name, parts):
    # cleans up on every error and re-raises "the same type": a new exception built from str(exc)
    # (an OSError loses its errno, a KeyError gets quoted twice, the traceback is gone)
    practices.open_temp(name)
    try:
        for i in range(parts):
            practices.encode_part(name, i)
    except SoftTimeLimitExceeded:
        practices.remove_temp(name)
        return "stopped"
    except Exception as exc:
        practices.remove_temp(name)
        raise type(exc)(str(exc)) from None
    practices.remove_temp(name)
    return "done"


def encode_ledger_count(name, parts):
    # suppresses the limit and tells "done" from "stopped" by counting the parts recorded under
    # the name: parts left by an earlier encoding of the same name count too
    practices.open_temp(name)
    with suppress(SoftTimeLimitExceeded):
        for i in range(parts):
            practices.encode_part(name, i)
    practices.remove_temp(name)
    return "done" if len(practices.parts(name)) >= parts else "stopped"


def encode_finish_part(name, parts):
    # on the limit, redo the interrupted part "so the output is not half a part", then clean up
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


# ---------------------------------------------------------------- round 6, second batch

def pay_rollback_on_error(order_id, amount):
    # "compensation": if the charge fails, delete the mark so that a retry can pay. But a charge
    # that fails after the card network took the money (a timeout, a dying process) is then
    # charged again by the redelivery
    k = practices.key("paid", order_id)
    if not store().set(k, amount, nx=True, ex=7 * 24 * 3600):
        return "already paid"
    try:
        practices.charge_card(order_id, amount)
    except Exception:
        store().delete(k)
        raise
    return "charged"


RETRY_PICKLE_RETRIES = dict(  # retries sent with pickle "so the exception travels whole"
    autoretry_for=(TemporaryError,), retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
    max_retries=5, retry_kwargs={"serializer": "pickle"},
)


def release_lua_getdel_restore(name, token):
    # atomic in Lua (nobody sees the gap), but a lock that is another holder's is put back with
    # SET, without its expiry: the next holder's lock now lives for ever
    script = """
    local v = redis.call('getdel', KEYS[1])
    if v == ARGV[1] then return 1 end
    if v then redis.call('set', KEYS[1], v) end
    return 0
    """
    return bool(store().eval(script, 1, practices.key("lock", name), token))


def acquire_false(name, seconds):
    # answers False, not None, when the lock is held
    token = uuid.uuid4().hex
    if store().set(practices.key("lock", name), token, nx=True, ex=seconds):
        return token
    return False


def release_watch_no_unwatch_get_then_tx(name, token):
    # GET on the plain client, then a MULTI/EXEC DEL: the transaction makes only the DEL atomic,
    # the compare is outside it (no WATCH)
    k = practices.key("lock", name)
    if store().get(k) != token:
        return False
    pipe = store().pipeline(transaction=True)
    pipe.delete(k)
    return bool(pipe.execute()[0])


def pay_exat_one_day(order_id, amount):
    # a day exactly, as an absolute time from the worker's clock: a worker whose clock is behind
    # Redis's sets a mark that lasts less than a day
    import time as _time
    k = practices.key("paid", order_id)
    if not store().set(k, amount, nx=True, exat=int(_time.time()) + 24 * 3600):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_utcnow_exat(order_id, amount):
    # "always UTC": a naive datetime.utcnow() is read as local time by .timestamp() (redis-py
    # converts exat that way), so on a UTC+14 machine the mark expires 14 hours early (10 h)
    from datetime import datetime as _dt
    k = practices.key("paid", order_id)
    if not store().set(k, amount, nx=True, exat=_dt.utcnow() + timedelta(days=1)):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_two_phase_no_keepttl(order_id, amount):
    # "pending" then "charged": the second SET (XX, without KEEPTTL) drops the mark's expiry
    k = practices.key("paid", order_id)
    if not store().set(k, f"pending:{amount}", nx=True, ex=7 * 24 * 3600):
        return "already paid"
    practices.charge_card(order_id, amount)
    store().set(k, f"charged:{amount}", xx=True)
    return "charged"


WRONG = [
    ("10.1", "ledger-forever", "beside the right mark it keeps a payments hash without expiry: one entry per order for ever", (pay_ledger_forever,)),
    ("10.1", "incr-multi", "INCR + EXPIRE NX in MULTI: atomic, expiry once, but every repeat rewrites the mark's value", (pay_incr_multi,)),
    ("10.1", "set-get-overwrite", "SET ... GET without NX: each repeat overwrites the mark's value and pushes its expiry back", (pay_set_get_overwrite,)),
    ("10.1", "expire-gt", "SETNX + EXPIRE GT in MULTI: GT never applies to a key without TTL, so the mark never expires", (pay_expire_gt,)),
    ("10.1", "px-seconds", "px=86400 (milliseconds) instead of ex: the mark lasts 86 s", (pay_px_seconds,)),
    ("10.1", "timedelta-seconds", "ex=timedelta(days=1, hours=1).seconds is 3600: the mark lasts one hour", (pay_timedelta_seconds,)),
    ("10.1", "local-cache", "a per-process Python set in front of the store: grows for ever, outlives the mark", (pay_local_cache,)),
    ("10.2", "no-backoff-max", "retry_backoff_max left out: the default 600 s cap, unseen with 5 retries", (RETRY_NO_MAX,)),
    ("10.2", "backoff-max-ms", "retry_backoff_max=60_000, written in milliseconds: a 16-hour cap", (RETRY_MAX_MS,)),
    ("10.2", "retry-queue", "retry_kwargs queue='retries': the retries go to a queue the task's workers do not consume", (RETRY_OTHER_QUEUE,)),
    ("10.2", "expires-30", "expires=30: the retries keep the first send's expiry, the 5th retry (after 31 s) arrives expired", (RETRY_EXPIRES,)),
    ("10.2", "task-queue", "queue='retries' on the task: the task and its retries go to a queue the worker does not consume", (RETRY_TASK_QUEUE,)),
    ("10.3", "px-seconds", "px=seconds: the lock lasts that many milliseconds", (acquire_px_seconds, release_ok)),
    ("10.3", "module-rng", "tokens from a module-level random.Random(): not reseeded at fork, forked processes share the sequence", (acquire_module_rng, release_ok)),
    ("10.3", "host-pid-token", "token = hostname:pid: the same process taking the lock again gets the same token", (acquire_host_pid, release_ok)),
    ("10.3", "uuid5-name", "token = uuid5 of the lock name: every holder has the same token", (acquire_uuid5, release_ok)),
    ("10.3", "uuid1-short", "uuid1().hex[:8] is time_low only: a token made from the clock", (acquire_uuid1_short, release_ok)),
    ("10.3", "watch-true-on-conflict", "WATCH/MULTI release that answers True on WatchError, when nothing was deleted", (acquire_ok, release_watch_true_on_conflict)),
    ("10.4", "index-flag", "stopped derived from the loop index: a limit in the last part returns 'done'", (encode_index_flag,)),
    ("10.4", "recreate-error", "other errors re-raised as type(exc)(str(exc)): a new exception (OSError loses errno, traceback gone)", (encode_recreate_error,)),
    ("10.4", "ledger-count", "'done' vs 'stopped' from the count of recorded parts of that name, which earlier runs also filled", (encode_ledger_count,)),
    ("10.4", "finish-part", "on the limit it encodes the interrupted part again before cleaning up", (encode_finish_part,)),
    ("10.1", "rollback-on-error", "deletes the mark when charge_card raises: a charge that went through before the error is made again by the redelivery", (pay_rollback_on_error,)),
    ("10.2", "retry-pickle", "retry_kwargs serializer='pickle': the retry messages are pickle, which the workers refuse", (RETRY_PICKLE_RETRIES,)),
    ("10.3", "lua-getdel-restore", "release GETDELs in Lua and SETs another holder's lock back without its expiry", (acquire_ok, release_lua_getdel_restore)),
    ("10.3", "acquire-false", "acquire answers False instead of None when the lock is held", (acquire_false, release_ok)),
    ("10.3", "get-then-multi-del", "GET outside, DEL in a MULTI: compare and delete are still two steps", (acquire_ok, release_watch_no_unwatch_get_then_tx)),
    ("10.1", "exat-one-day", "exat = the worker's time.time() + one day: a clock behind Redis's gives less than a day", (pay_exat_one_day,)),
    ("10.1", "utcnow-exat", "exat=datetime.utcnow() + 1 day: a naive UTC time read as local (UTC+14), the mark lasts 10 h", (pay_utcnow_exat,)),
    ("10.1", "two-phase-no-keepttl", "marks 'pending' with NX EX, then rewrites it 'charged' with SET XX and no KEEPTTL: the mark loses its expiry", (pay_two_phase_no_keepttl,)),
]

if __name__ == "__main__":
    only = set(sys.argv[1:])
    runtime.start(quiet=True)
    try:
        for ex, name, why, args in WRONG:
            if only and ex not in only and name not in only:
                continue
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark}\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
