"""Adversary round 5: wrong answers to chapter 13's exercises, run through the real checks.

    .venv/bin/python .adversary/ch13_r5.py              # the wrong answers
    .venv/bin/python .adversary/ch13_r5.py solutions    # the solution's own answers (must pass)
    .venv/bin/python .adversary/ch13_r5.py hang         # answers that may block (run alone)
    .venv/bin/python .adversary/ch13_r5.py decorated    # a decorated answer (own process: @app.task leaks into later apps)
    .venv/bin/python .adversary/ch13_r5.py stale        # a wrong answer after an earlier decorated try (own process)
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
"""
import locale
import os
import sys
import unicodedata
from datetime import timedelta

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402

from course_tasks import app, lab  # noqa: E402,F401
from course_tasks.tasks import troubles  # noqa: E402,F401
from course_tasks.tasks.troubles import REPORTS_QUEUE, build_report, refund  # noqa: E402,F401


# ---------------------------------------------------------------- solutions
def sol_unstick(queue):
    app.control.add_consumer(queue)


SOL_SHOP_RESULTS = {"result_expires": 24 * 3600}


def sol_unique_tags(words):
    return sorted(set(words))


def sol_request_refund(order_id):
    return refund.delay(order_id)


SOLUTIONS = [
    ("13.1", "solution", "", (sol_unstick,)),
    ("13.2", "solution", "", (SOL_SHOP_RESULTS,)),
    ("13.3", "solution", "", (sol_unique_tags,)),
    ("13.4", "solution", "", (sol_request_refund,)),
]


# ---------------------------------------------------------------- 13.1
def unstick_bound_to_default_exchange(queue):
    # "the tasks come from Celery's default exchange": binds the new queue to
    # exchange 'celery' with routing key 'celery', so every ordinary task sent to the
    # default queue is ALSO routed into `queue` and runs twice.
    app.control.add_consumer(queue, exchange="celery", routing_key="celery")


def unstick_auto_delete(queue):
    # a "temporary" consumer: the queue is declared auto_delete, so when the workers stop
    # reading it (cancel_consumer, restart) the queue and the reports waiting in it are deleted.
    app.control.add_consumer(queue, options={"auto_delete": True})


def unstick_no_ack(queue):
    # "make them run faster": no_ack, the messages are acknowledged on delivery and a
    # worker that dies while running them loses them.
    app.control.add_consumer(queue, options={"no_ack": True})


def unstick_exclusive(queue):
    # exclusive queue: only one consumer (connection) may read it.
    app.control.add_consumer(queue, options={"exclusive": True})


def unstick_fanout(queue):
    # thinks "every worker" means a fanout exchange
    app.control.add_consumer(queue, exchange_type="fanout")


def unstick_only_pinged(queue):
    # tells only the workers that answered a very short ping; a slow (or just started)
    # worker never hears it.
    names = [name for reply in app.control.ping(timeout=0.05) for name in reply]
    if names:
        app.control.add_consumer(queue, destination=names)


def unstick_topic(queue):
    # topic exchange with a wildcard routing key: catches more than the queue's messages
    app.control.add_consumer(queue, exchange=queue, exchange_type="topic", routing_key="#")


# ---------------------------------------------------------------- 13.2
SHOP_RESULTS_JUST_OVER_WEEK = {"result_expires": timedelta(days=7, seconds=1)}  # > 7 days
SHOP_RESULTS_JUST_UNDER_HOUR = {"result_expires": timedelta(minutes=59, seconds=59)}  # < 1 h
SHOP_RESULTS_HOUR_MINUS_2 = {"result_expires": 3598}  # < 1 h by 2 s
SHOP_RESULTS_WEEK_PLUS_2 = {"result_expires": 7 * 24 * 3600 + 2}  # > 7 days by 2 s
SHOP_RESULTS_FLOAT_UNDER_HOUR = {"result_expires": 3599.9}  # truncated to 3599 by the backend
SHOP_RESULTS_STRING = {"result_expires": "86400"}  # a string, not seconds/timedelta
SHOP_RESULTS_MINUTES = {"result_expires": 60 * 24}  # thinks the unit is minutes: 24 min
SHOP_RESULTS_OLD_NAME = {"CELERY_RESULT_EXPIRES": 86400}  # old upper-case name, ignored
SHOP_RESULTS_EXTENDED_WRONG = {"result_expires": 86400, "result_extended": True,
                               "task_ignore_result": True}  # no result stored at all


SHOP_RESULTS_PICKLE = {"result_expires": 86400, "result_serializer": "pickle"}  # results the json-only producer cannot read
SHOP_RESULTS_ACCEPT_PICKLE = {"result_expires": 86400, "result_accept_content": ["pickle"]}  # the app refuses its own json results

SHOP_RESULTS_OWN_BACKEND = {"result_expires": 86400, "result_backend": "redis://localhost:6379/1"}  # hard-codes a backend URL
SHOP_RESULTS_TIME_LIMIT = {"result_expires": 86400, "task_time_limit": 1}  # copies in a 1 s hard time limit

SHOP_RESULTS_EAGER = {"result_expires": 86400, "task_always_eager": True,
                      "task_store_eager_result": True}  # test settings: tasks run in the caller, not on a worker
SHOP_RESULTS_SOFT_LIMIT = {"result_expires": 86400, "task_soft_time_limit": 2}  # copies in a 2 s soft time limit

SHOP_RESULTS_RATE_LIMIT = {"result_expires": 86400, "task_default_rate_limit": "10/m"}  # throttles every shop task
SHOP_RESULTS_OWN_QUEUE = {"result_expires": 86400, "task_default_queue": "shop"}  # moves every task to a queue the shop's workers do not read


# ---------------------------------------------------------------- 13.3
def unique_tags_strip_key(words):
    # keeps the words as they are, but sorts ignoring the leading/trailing spaces
    return sorted(set(words), key=str.strip)


def unique_tags_locale(words):
    # "alphabetical" with the locale's collation: the same as sorted() only in the C locale
    return sorted(set(words), key=locale.strxfrm)


def unique_tags_nfc(words):
    # normalises each word (NFC): 'café' typed with a combining accent becomes another word
    return sorted({unicodedata.normalize("NFC", w) for w in words})


_SEEN = set()


def unique_tags_global(words):
    # keeps the tags in a module global: they leak from one call to the next
    _SEEN.update(words)
    return sorted(_SEEN)


def unique_tags_none_when_empty(words):
    # no words: returns None instead of an empty list
    return sorted(set(words)) or None


def unique_tags_tuple_of_pairs(words):
    # returns the words with their counts: [[word, n], ...]
    from collections import Counter
    return sorted(Counter(words).items())


def unique_tags_casefold_dedupe(words):
    # removes repeats ignoring case, keeps the first spelling
    seen = {}
    for w in words:
        seen.setdefault(w.casefold(), w)
    return sorted(seen.values())


def unique_tags_sorted_bytes_latin(words):
    # sorts by the latin-1 bytes, dropping what latin-1 cannot encode (an emoji tag)
    return sorted(set(words), key=lambda w: w.encode("latin-1", "ignore"))


def unique_tags_utf16(words):
    # sorts by UTF-16 code units: differs from sorted() above U+FFFF vs U+E000..U+FFFF
    return sorted(set(words), key=lambda w: w.encode("utf-16-be"))


def make_decorated():
    # decorated with the course's app although the exercise says not to (built on demand:
    # @app.task is shared=True, so the task would also be added to every app finalized later)
    @app.task(name="course.unique_tags_decorated")
    def unique_tags(words):
        return sorted(set(words))
    return unique_tags


def unique_tags_after_a_decorated_try(words):
    # the learner first wrote the task the way the set-up cell does, on the course's app,
    #     @app.task(name="shop.unique_tags")  def unique_tags(words): return sorted(set(words))
    # got "do not decorate it", removed the decorator, and now hands in this (wrong) body
    # in the same kernel.  Run with 'stale' (make_stale_kernel() replays the earlier cell).
    return sorted(set(words), key=str.lower)


def make_stale_kernel():
    """The learner's earlier cell: the set-up cell's pattern (name="shop.<name>"), but on the
    course's `app` imported by the set-up cell.  (The same cell on a lab shop app does not
    leak: tried, the check then rejects the wrong body.)"""
    @app.task(name="shop.unique_tags")
    def unique_tags(words):
        return sorted(set(words))
    return unique_tags


# ---------------------------------------------------------------- 13.4
def request_refund_fixed_id(order_id):
    # an "idempotency key": the same task id for every refund of an order, so a second
    # refund's handle is the first one's and its result overwrites the first
    return refund.apply_async((order_id,), task_id=f"refund-{order_id}")


def request_refund_str_id(order_id):
    # sends the order id as a string "for json": the refund runs for order '1', not 1
    return refund.delay(str(order_id))


def request_refund_long_expiry(order_id):
    # a "safe" expiry of 30 days: still an expiry
    return refund.apply_async((order_id,), expires=timedelta(days=30))


def request_refund_retry_forever(order_id):
    # "waits however long": retries the publish for ever, so with the broker down the call
    # never returns (should raise OperationalError).  May block: run with 'hang'.
    return refund.apply_async((order_id,), retry_policy={"max_retries": None})


def request_refund_long_expiry_seconds(order_id):
    # the same 30-day expiry, in seconds
    return refund.apply_async((order_id,), expires=30 * 24 * 3600)


def request_refund_no_result(order_id):
    # fire and forget: the handle can never say how the refund went
    return refund.apply_async((order_id,), ignore_result=True)


def request_refund_reraise_copy(order_id):
    from kombu.exceptions import OperationalError
    try:
        return refund.delay(order_id)
    except OperationalError as exc:
        raise OperationalError(*exc.args) from exc


def request_refund_retry_then_apply(order_id):
    # on the broker error, tries once more, then runs it in the notebook
    from kombu.exceptions import OperationalError
    try:
        return refund.delay(order_id)
    except OperationalError:
        try:
            return refund.delay(order_id)
        except OperationalError:
            return refund.apply((order_id,))


def request_refund_priority_queue(order_id):
    # sends it with routing_key 'billing' on the default exchange: no queue is bound to it
    return refund.apply_async((order_id,), routing_key="billing")


def request_refund_shadow(order_id):
    # sends by the module path but "shadows" it with the real name: the worker gets the wrong name
    return app.send_task("course_tasks.tasks.troubles.refund", args=[order_id],
                         shadow="billing.refund")


def request_refund_retry_in_background(order_id):
    # re-raises delay()'s own error, but first starts a thread that keeps trying to queue the
    # refund until the broker is back: the shop is told "not queued", and it is queued later
    import threading
    import time as _time
    from kombu.exceptions import OperationalError
    try:
        return refund.delay(order_id)
    except OperationalError:
        def later():
            for _ in range(120):
                _time.sleep(0.5)
                try:
                    refund.apply_async((order_id,), retry=False)
                    return
                except OperationalError:
                    pass
        threading.Thread(target=later, daemon=True).start()
        raise


def request_refund_countdown(order_id):
    # "give the worker a moment": a 1 s countdown; the refund is held by a worker's timer
    return refund.apply_async((order_id,), countdown=1)


WRONG = [
    ("13.1", "bound-to-default-exchange", "binds the queue to exchange 'celery' with routing key 'celery': ordinary tasks are also copied into it and run twice", (unstick_bound_to_default_exchange,)),
    ("13.1", "no-ack", "consumes with no_ack: the reports are acknowledged on delivery and lost if a worker dies", (unstick_no_ack,)),
    ("13.1", "fanout", "uses a fanout exchange: messages sent to the queue's direct exchange are not consumed", (unstick_fanout,)),
    ("13.1", "only-pinged", "tells only the workers that answered a 50 ms ping", (unstick_only_pinged,)),
    ("13.1", "topic-wildcard", "binds with a topic exchange and routing key '#'", (unstick_topic,)),
    ("13.2", "just-over-a-week", "timedelta(days=7, seconds=1): more than seven days", (SHOP_RESULTS_JUST_OVER_WEEK,)),
    ("13.2", "just-under-an-hour", "59 min 59 s: less than one hour", (SHOP_RESULTS_JUST_UNDER_HOUR,)),
    ("13.2", "hour-minus-2s", "3598 s: less than one hour", (SHOP_RESULTS_HOUR_MINUS_2,)),
    ("13.2", "week-plus-2s", "7 days + 2 s: more than seven days", (SHOP_RESULTS_WEEK_PLUS_2,)),
    ("13.2", "float-under-hour", "3599.9 s: the backend keeps 3599", (SHOP_RESULTS_FLOAT_UNDER_HOUR,)),
    ("13.2", "string-seconds", "'86400' as a string instead of a number/timedelta", (SHOP_RESULTS_STRING,)),
    ("13.2", "minutes", "thinks the unit is minutes: 1440 s = 24 min", (SHOP_RESULTS_MINUTES,)),
    ("13.2", "old-name", "old upper-case setting name, ignored by the lower-case config", (SHOP_RESULTS_OLD_NAME,)),
    ("13.2", "ignore-result", "right expiry but task_ignore_result: nothing is stored", (SHOP_RESULTS_EXTENDED_WRONG,)),
    ("13.2", "result-serializer-pickle", "right expiry, but results stored as pickle, which the json-only app cannot read back", (SHOP_RESULTS_PICKLE,)),
    ("13.2", "result-accept-pickle", "right expiry, but result_accept_content=['pickle']: the app refuses its own json results", (SHOP_RESULTS_ACCEPT_PICKLE,)),
    ("13.2", "own-backend-url", "right expiry, but hard-codes result_backend to redis://localhost:6379/1 instead of the shop's backend", (SHOP_RESULTS_OWN_BACKEND,)),
    ("13.2", "task-time-limit", "right expiry, but also a 1 s task_time_limit that kills any slower shop task", (SHOP_RESULTS_TIME_LIMIT,)),
    ("13.2", "eager-with-stored-results", "right expiry, plus the test settings task_always_eager + task_store_eager_result: tasks run in the caller, not on a worker", (SHOP_RESULTS_EAGER,)),
    ("13.2", "soft-time-limit", "right expiry, plus a 2 s task_soft_time_limit that interrupts slower shop tasks", (SHOP_RESULTS_SOFT_LIMIT,)),
    ("13.2", "default-rate-limit", "right expiry, plus task_default_rate_limit='10/m': every shop task is throttled to one per 6 s per worker", (SHOP_RESULTS_RATE_LIMIT,)),
    ("13.2", "default-queue", "right expiry, plus task_default_queue='shop': tasks go to a queue the shop's running workers (-Q celery) do not read", (SHOP_RESULTS_OWN_QUEUE,)),
    ("13.3", "strip-key", "sorts ignoring surrounding spaces (key=str.strip), not as sorted() does", (unique_tags_strip_key,)),
    ("13.3", "locale-collation", "sorts with locale.strxfrm: matches sorted() only in the C locale", (unique_tags_locale,)),
    ("13.3", "nfc-normalised", "normalises each word to NFC: a word is not kept as it is", (unique_tags_nfc,)),
    ("13.3", "global-seen", "keeps the tags in a module global that leaks across calls", (unique_tags_global,)),
    ("13.3", "none-when-empty", "returns None instead of [] for no words", (unique_tags_none_when_empty,)),
    ("13.3", "with-counts", "returns [word, count] pairs instead of the words", (unique_tags_tuple_of_pairs,)),
    ("13.3", "casefold-dedupe", "removes repeats ignoring case: 'Redis' and 'redis' become one", (unique_tags_casefold_dedupe,)),
    ("13.3", "latin1-key", "sorts by latin-1 bytes, ignoring what latin-1 cannot encode", (unique_tags_sorted_bytes_latin,)),
    ("13.3", "utf16-key", "sorts by UTF-16 code units: differs from sorted() for astral vs U+E000-U+FFFF", (unique_tags_utf16,)),
    ("13.4", "fixed-task-id", "the same task id for every refund of an order: the second handle is the first's", (request_refund_fixed_id,)),
    ("13.4", "string-order-id", "sends the order id as a string", (request_refund_str_id,)),
    ("13.4", "30-day-expiry", "an expiry of 30 days: the exercise says no expiry", (request_refund_long_expiry,)),
    ("13.4", "30-day-expiry-seconds", "expires=30 days in seconds: the exercise says no expiry", (request_refund_long_expiry_seconds,)),
    ("13.4", "ignore-result", "ignore_result=True: the handle can never tell how the refund went", (request_refund_no_result,)),
    ("13.4", "reraise-copy", "re-raises a new OperationalError made from the original", (request_refund_reraise_copy,)),
    ("13.4", "retry-then-apply", "on broker error retries once, then refunds in the notebook", (request_refund_retry_then_apply,)),
    ("13.4", "shadow", "sends the module path, shadowed with the real name", (request_refund_shadow,)),
    ("13.4", "retry-in-background", "re-raises the broker error but keeps retrying in a thread: the refund the shop was told failed is queued later", (request_refund_retry_in_background,)),
    ("13.4", "countdown", "a 1 s countdown: the refund is not queued but held on a worker's timer", (request_refund_countdown,)),
]

DECORATED = [
    ("13.3", "decorated", "decorated with @app.task of the course's app, which the exercise forbids", None),
]

STALE = [
    ("13.3", "stale-decorated-try", "case-insensitive sort, handed in after an earlier cell decorated a right version with @app.task(name='shop.unique_tags'): the check runs the earlier, leaked task", (unique_tags_after_a_decorated_try,)),
]

HANG = [
    ("13.4", "retry-forever", "retry_policy max_retries=None: with the broker down the call never returns", (request_refund_retry_forever,)),
]

if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "wrong"
    rows = {"wrong": WRONG, "solutions": SOLUTIONS, "hang": HANG,
            "decorated": DECORATED, "stale": STALE}[which]
    if which == "decorated":
        rows = [(ex, name, why, (make_decorated(),)) for ex, name, why, _ in rows]
    if which == "stale":
        make_stale_kernel()
    only = sys.argv[2:]  # optional exercise ids / names to run
    runtime.start(quiet=True)
    try:
        for ex, name, why, args in rows:
            if only and ex not in only and name not in only:
                continue
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark}\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
