"""The checks of chapter 10 on right and wrong answers (embedded mode, the kernel's worker).

Each exercise: the right answer, then the mistakes chapter 10 warns about, each with its hint.
"""

from __future__ import annotations

import contextlib
import uuid

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks.store import store
from course_tasks.tasks import practices
from course_tasks.tasks.practices import TemporaryError

pytestmark = pytest.mark.usefixtures("worker")

# --------------------------------------------------------------------------- 10.1


def pay(order_id, amount):
    if not store().set(practices.key("paid", order_id), amount, nx=True):
        return "already paid"
    practices.charge_card(order_id, amount)
    return "charged"


def pay_incr(order_id, amount):
    """Also right: INCR is atomic, and only the first call sees 1."""
    if store().incr(practices.key("paid-count", order_id)) > 1:
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


def test_10_1_right_answers() -> None:
    assert_passed(verdict("10.1", pay), "one charge for two deliveries")
    assert_passed(verdict("10.1", pay_incr))


def test_10_1_stub_is_not_yet() -> None:
    assert_fails(verdict("10.1", pay_stub), "not yet: write the body of pay", None)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
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
    ],
)  # fmt: skip
def test_10_1_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("10.1", answer), problem, hint)


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


def test_10_2_stub_and_not_a_dict() -> None:
    assert_fails(verdict("10.2", ...), "not yet", None)
    assert_fails(verdict("10.2", [RIGHT]), "RETRY_OPTIONS is a list, not a dict", "a dict")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
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
        pytest.param(options(retry_backoff_max=DROP), "the 9th retry would wait 256 s",
                     "cap the waits with retry_backoff_max=60", id="no-cap"),
        pytest.param(options(retry_jitter=False), "retry_jitter=False", "leave retry_jitter out",
                     id="no-jitter"),
        pytest.param(options(retry_backoff=2), "the retries wait [2, 4, 8, 16, 32] s",
                     "retry_backoff=1 makes 1, 2, 4, 8, 16 s", id="wrong-factor"),
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
    """Compares first: right for this check (not atomic, but the check cannot see that)."""
    r = store()
    if r.get(practices.key("lock", name)) == token:
        return bool(r.delete(practices.key("lock", name)))
    return False


def test_10_3_right_answers() -> None:
    assert_passed(verdict("10.3", acquire, release), "only the token's holder releases")
    assert_passed(verdict("10.3", acquire, release_get_then_delete))


def test_10_3_stub_is_not_yet() -> None:
    assert_fails(verdict("10.3", acquire_stub, release), "not yet", None)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
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
        pytest.param((acquire, release_delete),
                     "a holder whose lock had expired released the lock the next holder had",
                     "delete only if the key still holds your token", id="wrong-holder-releases"),
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


def encode_stub(name, parts): ...


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


def test_10_4_right_answer() -> None:
    assert_passed(verdict("10.4", encode), "at the soft time limit: stopped")


def test_10_4_stub_is_not_yet() -> None:
    assert_fails(verdict("10.4", encode_stub), "not yet", None)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(encode_no_handler,
                     "SoftTimeLimitExceeded escaped from encode and left its temporary file",
                     "wrap the work in try/except SoftTimeLimitExceeded", id="no-handler"),
        pytest.param(encode_no_cleanup,
                     "stopped at the soft time limit but left its temporary file",
                     "call practices.remove_temp(name) in the except block", id="no-cleanup"),
        pytest.param(encode_hard_limit, "SoftTimeLimitExceeded escaped from encode",
                     "catch SoftTimeLimitExceeded (from celery.exceptions): TimeLimitExceeded is "
                     "the hard", id="catching-the-hard-limit"),
        pytest.param(encode_goes_on, "after the soft time limit encode went on",
                     "stop working when SoftTimeLimitExceeded strikes",
                     id="goes-on-after-the-limit"),
        pytest.param(encode_cleanup_only_on_timeout,
                     "a run that finished in time left its temporary file",
                     "call practices.remove_temp(name) after the last part too",
                     id="cleanup-only-on-timeout"),
    ],
)  # fmt: skip
def test_10_4_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("10.4", answer), problem, hint)


def test_10_4_restores_the_alarm_handler() -> None:
    import signal

    before = signal.getsignal(signal.SIGALRM)
    verdict("10.4", encode_no_handler)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
