"""Chapter 08: the checks on right and wrong answers, and the dedicated workers they use."""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
import time
import uuid

import pytest
from checkhelpers import assert_fails, assert_passed, verdict
from kombu import Exchange, Queue

from course_tasks import runtime, workers
from course_tasks.app import app
from course_tasks.tasks import demo
from course_tasks.tasks.ai import run_ai_text_generation
from course_tasks.tasks.demo import simple_calculation

pytestmark = pytest.mark.usefixtures("worker")


# --------------------------------------------------------------------------- 08.1

GOOD_ROUTES = {
    "ai_tasks.*": {"queue": "ai_processing"},
    "demo_tasks.*": {"queue": "demo_tasks"},
}


def route_ai_and_demo(name, args, kwargs, options, task=None, **kw):
    """A router function (task_routes may hold one) that routes by the name's prefix."""
    for prefix, queue in (("ai_tasks.", "ai_processing"), ("demo_tasks.", "demo_tasks")):
        if name.startswith(prefix):
            return {"queue": queue}
    return None


@pytest.mark.parametrize(
    "routes",
    [
        pytest.param(GOOD_ROUTES, id="solution"),
        pytest.param({"ai_tasks.*": "ai_processing", "demo_tasks.*": "demo_tasks"},
                     id="queue-names-as-routes"),
        pytest.param([{"ai_tasks.*": {"queue": "ai_processing"}},
                      {"demo_tasks.*": {"queue": "demo_tasks"}}], id="list-of-dicts"),
        pytest.param([(("ai_tasks.*", {"queue": "ai_processing"}),
                       ("demo_tasks.*", {"queue": "demo_tasks"}))], id="list-of-pairs"),
        pytest.param({re.compile(r"ai_tasks\..*"): {"queue": "ai_processing"},
                      re.compile(r"^demo_tasks\."): {"queue": "demo_tasks"}}, id="regex-keys"),
        # (a catch-all to "celery" after them is wrong since round 5: it hard-codes the default
        # queue, see r5-catch-all-celery)
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "routing_key": "ai_processing"},
                      "demo_tasks.*": {"queue": "demo_tasks", "exchange": "demo_tasks",
                                       "routing_key": "demo_tasks"}},
                     id="exchange-and-key-of-the-queue"),
        pytest.param({"ai_tasks.*": {"queue": Queue("ai_processing")},
                      "demo_tasks.*": {"queue": Queue("demo_tasks", Exchange("demo_tasks"),
                                                      "demo_tasks")}}, id="kombu-queues"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "priority": 0},
                      "demo_tasks.*": "demo_tasks"}, id="priority-0-is-no-priority"),
        pytest.param([route_ai_and_demo], id="router-function"),
    ],
)  # fmt: skip
def test_routes_right(routes) -> None:
    assert_passed(verdict("08.1", routes), "the rest -> celery")


def test_routes_are_tried_on_names_the_course_does_not_have() -> None:
    """Capitals, digits, underscores and dashes after the prefix; look-alike prefixes."""
    from course_tasks.checks import ch08_routing as ch08

    new = {name for name in ch08.EXPECTED_ROUTES if name not in app.tasks}
    assert new >= ch08.NEW_NAMES
    for sample in ("ai_tasks.GPT4_summary", "ai_tasks._warmup", "demo_tasks.3d-render",
                   "airflow.sync_dags", "ai_tasks_legacy.summarize"):  # fmt: skip
        assert sample in ch08.NEW_NAMES


def test_routes_publish_nothing_on_the_course_broker() -> None:
    before = {q: _count(q) for q in ("ai_processing", "demo_tasks", "celery")}
    assert_passed(verdict("08.1", GOOD_ROUTES), "each message landed in its queue")
    assert {q: _count(q) for q in before} == before


def _count(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue).message_count


def test_routes_stub_and_type() -> None:
    assert_fails(verdict("08.1", ...), "not yet")
    assert_fails(
        verdict("08.1", "ai_processing"), "routes is a str", "write a dict", hint_within=True
    )
    assert_fails(verdict("08.1", {}), "routes is empty", "one entry per kind of task")


def _registered_now() -> dict:
    """Adversary round 2's from-registry: the exact names of the tasks registered now."""
    import course_tasks.tasks.ai  # noqa: F401  (registers the AI tasks)

    return {
        name: {"queue": "ai_processing" if name.startswith("ai_tasks.") else "demo_tasks"}
        for name in list(app.tasks) if name.startswith(("ai_tasks.", "demo_tasks."))
    }  # fmt: skip


ROUTE_ONLY = 'a route here only chooses the queue: give it "queue" and nothing else'


@pytest.mark.parametrize(
    ("routes", "problem", "hint"),
    [
        pytest.param({"course_tasks.tasks.ai.*": {"queue": "ai_processing"},
                      "course_tasks.tasks.demo.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation goes to the queue 'celery', "
                     "not 'ai_processing'",
                     'no pattern matches ai_tasks.run_ai_text_generation: task names are the '
                     'name= of the task, here "ai_tasks.*" (not the module path)',
                     id="module-path-keys"),
        pytest.param({"ai_tasks.run_ai_text_generation": {"queue": "ai_processing"},
                      "demo_tasks.simple_calculation": {"queue": "demo_tasks"}},
                     "ai_tasks.generate_user_profile goes to the queue 'celery'",
                     "keys without a '*' match one task name exactly", id="exact-names"),
        pytest.param({"ai_tasks.run_*": {"queue": "ai_processing"},
                      "demo_tasks.simple_*": {"queue": "demo_tasks"}},
                     "ai_tasks.generate_user_profile goes to the queue 'celery', "
                     "not 'ai_processing'",
                     '"ai_tasks.run_*" matches only some of them: "ai_tasks.*" matches every '
                     "task whose name starts with ai_tasks.", id="narrow-glob"),
        pytest.param({"ai*": {"queue": "ai_processing"}, "demo*": {"queue": "demo_tasks"}},
                     "airflow.sync_dags goes to the queue 'ai_processing', not 'celery'",
                     '"ai*" also matches airflow.sync_dags, which is not one of the ai_tasks. '
                     'tasks: put the dot in the pattern, "ai_tasks.*"', id="no-dot-prefix"),
        pytest.param({"*": {"queue": "celery"}, **GOOD_ROUTES},
                     "ai_tasks.run_ai_text_generation goes to the queue 'celery', "
                     "not 'ai_processing'",
                     '"*" comes first and matches every task: the first matching pattern wins',
                     id="catch-all-first"),
        pytest.param({**GOOD_ROUTES, "*": {"queue": "default"}},
                     "course_tasks.tasks.basics.add goes to the queue 'default', not 'celery'",
                     'a catch-all pattern ("*") sends every other task to \'default\'',
                     id="catch-all-default"),
        pytest.param({**GOOD_ROUTES, "course_tasks.tasks.email.*": {"queue": "demo_tasks"}},
                     "course_tasks.tasks.email.send_welcome_email goes to the queue "
                     "'demo_tasks', not 'celery'",
                     '"course_tasks.tasks.email.*" also sends course_tasks.tasks.email.'
                     "send_welcome_email to 'demo_tasks': only names that start with ai_tasks. "
                     "or demo_tasks. leave 'celery'", id="section6-email"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "exchange": "ai",
                                     "routing_key": "ai.text"},
                      "demo_tasks.*": {"queue": "demo_tasks", "exchange": "demo",
                                       "routing_key": "demo.calc"}},
                     "ai_tasks.run_ai_text_generation's message reached no queue: it was "
                     "published to the exchange 'ai' with the routing key 'ai.text', which no "
                     "queue is bound with",
                     'give the route its queue only, {"queue": "ai_processing"}',
                     id="docs-exchange-rk"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "exchange": "demo_tasks",
                                     "routing_key": "demo_tasks"}, "demo_tasks.*": "demo_tasks"},
                     "ai_tasks.run_ai_text_generation's message reached no queue: it was "
                     "published to the exchange 'demo_tasks' with the routing key 'demo_tasks', "
                     "which no queue is bound with",
                     'give the route its queue only, {"queue": "ai_processing"}',
                     id="exchange-of-another-queue"),
        pytest.param({"ai_tasks.*": {"routing_key": "ai_processing"},
                      "demo_tasks.*": {"routing_key": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation goes to the queue 'celery', "
                     "not 'ai_processing'",
                     "the route {'routing_key': 'ai_processing'} names no queue, so the task "
                     'stays on the default queue (a routing_key does not choose one): write '
                     '{"queue": "ai_processing"}', id="routing-key-only"),
        pytest.param({r"ai_tasks\..*": {"queue": "ai_processing"},
                      r"demo_tasks\..*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation goes to the queue 'celery'",
                     'the key "ai_tasks\\..*" is read as a glob, not a regular expression',
                     id="regex-as-string"),
        pytest.param({"*ai*": {"queue": "ai_processing"}, "*demo*": {"queue": "demo_tasks"}},
                     "course_tasks.tasks.email.send_welcome_email goes to the queue "
                     "'ai_processing', not 'celery'",
                     '"*ai*" also sends course_tasks.tasks.email.send_welcome_email to '
                     "'ai_processing'", id="broad-star"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "priority": 9},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation is sent with priority 9: your route adds it",
                     "a route here only chooses the queue: leave priority out (and on Redis 9 "
                     "is the least urgent", id="ai-priority-9"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "serializer": "pickle"},
                      "demo_tasks.*": "demo_tasks"},
                     "ai_tasks.GPT4_summary is sent with the serializer "
                     "'application/x-python-serialize': your route adds it",
                     f"{ROUTE_ONLY} (the course's workers accept json only, accept_content: "
                     "they refuse a message in another serializer", id="route-with-serializer"),
        pytest.param({re.compile("ai_tasks"): {"queue": "ai_processing"},
                      re.compile("demo_tasks"): {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     "re.compile('ai_tasks') also matches ai_tasks_legacy.summarize: a regex key "
                     'matches any name that starts like it, so end it with the escaped dot, '
                     're.compile(r"ai_tasks\\."), or use the glob "ai_tasks.*"',
                     id="unescaped-regex"),
        pytest.param({"*ai_tasks.*": "ai_processing", "*demo_tasks.*": "demo_tasks"},
                     "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
                     '"*ai_tasks.*" also matches reports.ai_tasks.weekly', id="star-before-prefix"),
        pytest.param({"ai_tasks.*": "demo_tasks", "demo_tasks.*": "ai_processing"},
                     "not 'ai_processing'", "the two queues are swapped", id="swapped"),
        pytest.param({"ai_tasks.*": "ai-processing", "demo_tasks.*": "demo_tasks"},
                     "'ai-processing'", "no worker reads 'ai-processing'", id="typo"),
        # adversary round 2 (its regex-no-dot and section6-email are unescaped-regex and
        # section6-email above)
        pytest.param({"*ai_tasks.*": {"queue": "ai_processing"},
                      "*demo_tasks.*": {"queue": "demo_tasks"}},
                     "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
                     '"*ai_tasks.*" also matches reports.ai_tasks.weekly, which is not one of '
                     'the ai_tasks. tasks: put the dot in the pattern, "ai_tasks.*"',
                     id="leading-star"),
        pytest.param({"ai_tasks*": {"queue": "ai_processing"},
                      "demo_tasks*": {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     '"ai_tasks*" also matches ai_tasks_legacy.summarize, which is not one of '
                     'the ai_tasks. tasks: put the dot in the pattern, "ai_tasks.*"',
                     id="no-dot"),
        pytest.param({"ai_*": {"queue": "ai_processing"}, "demo_*": {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     '"ai_*" also matches ai_tasks_legacy.summarize', id="ai-underscore"),
        pytest.param({re.compile(r".*ai_tasks\..*"): {"queue": "ai_processing"},
                      re.compile(r".*demo_tasks\..*"): {"queue": "demo_tasks"}},
                     "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
                     "re.compile('.*ai_tasks\\\\..*') also matches reports.ai_tasks.weekly: a "
                     "regex key matches any name that starts like it", id="regex-anywhere"),
        pytest.param({"ai_tasks.*": {"exchange": "ai_processing", "routing_key": "ai_processing"},
                      "demo_tasks.*": {"exchange": "demo_tasks", "routing_key": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's message reached no queue: your route "
                     "names only the exchange 'ai_processing' and the routing key "
                     "'ai_processing', so Celery declares no queue when it sends, and before a "
                     "worker has declared 'ai_processing' nothing is bound to that exchange: "
                     "the message is dropped",
                     'name the queue in the route, {"queue": "ai_processing"}: Celery declares '
                     "it as it sends, and the message waits there until a worker starts",
                     id="exchange-not-queue"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "expires": 600},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's route adds expires 600, and sending the "
                     "task raised TypeError: AMQP.as_task_v2() got multiple values for argument "
                     "'expires': Celery takes expires from apply_async's arguments, not from a "
                     "route", ROUTE_ONLY, id="expires"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "time_limit": 60},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's route adds time_limit 60, and sending "
                     "the task raised TypeError: AMQP.as_task_v2() got multiple values for "
                     "argument 'time_limit'", ROUTE_ONLY, id="time-limit"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "delivery_mode": 1},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation is sent with delivery_mode 1 "
                     "(non-persistent): your route adds it",
                     f"{ROUTE_ONLY} (a transient message: RabbitMQ loses it when it restarts)",
                     id="transient"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "compression": "zlib"},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation is sent with compression "
                     "'application/x-gzip': your route adds it", ROUTE_ONLY, id="compression"),
        pytest.param({"ai_tasks.[a-z]*": {"queue": "ai_processing"},
                      "demo_tasks.[a-z]*": {"queue": "demo_tasks"}},
                     "ai_tasks.GPT4_summary goes to the queue 'celery', not 'ai_processing'",
                     '"ai_tasks.[a-z]*" matches only names that go on with a character of its '
                     '[...] set, and ai_tasks.GPT4_summary does not: "ai_tasks.*" matches every '
                     "task whose name starts with ai_tasks., whatever follows",
                     id="lowercase-class"),
        pytest.param({"ai_tasks.[a-zA-Z]*": {"queue": "ai_processing"},
                      "demo_tasks.[a-zA-Z]*": {"queue": "demo_tasks"}},
                     "ai_tasks._warmup goes to the queue 'celery', not 'ai_processing'",
                     '"ai_tasks.[a-zA-Z]*" matches only names that go on with a character',
                     id="letters-class"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing"},
                      "demo_tasks.[!0-9]*": {"queue": "demo_tasks"}},
                     "demo_tasks.3d-render goes to the queue 'celery', not 'demo_tasks'",
                     '"demo_tasks.[!0-9]*" matches only names', id="no-digit-class"),
        pytest.param(_registered_now(),
                     "ai_tasks.GPT4_summary goes to the queue 'celery', not 'ai_processing'",
                     "keys without a '*' match one task name exactly: use a glob such as "
                     '"ai_tasks.*"', id="from-registry"),
        pytest.param({**GOOD_ROUTES, "*": {"queue": "celery", "priority": 5}},
                     "course_tasks.tasks.basics.add is sent with priority 5: your route adds it",
                     "a route here only chooses the queue: leave priority out",
                     id="catch-all-priority"),
    ],
)  # fmt: skip
def test_routes_wrong(routes, problem, hint) -> None:
    assert_fails(verdict("08.1", routes), problem, hint)


# --------------------------------------------------------------------------- 08.2


def rush(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent")


def rush_send_task(x, y):
    return app.send_task("demo_tasks.simple_calculation", (x, y), queue="urgent")


def rush_signature(x, y):
    return simple_calculation.s(x, y).set(queue="urgent").delay()


def rush_keywords(x, y):
    return simple_calculation.apply_async(kwargs={"x": x, "y": y}, queue="urgent")


def rush_queue_and_its_key(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", routing_key="urgent")


def rush_kombu_queue(x, y):
    return simple_calculation.apply_async((x, y), queue=Queue("urgent"))


def rush_retry_said(x, y):
    """retry=True is the default (task_publish_retry): the publish survives a blip."""
    return simple_calculation.apply_async((x, y), queue="urgent", retry=True)


def rush_own_uuid(x, y):
    """An id of its own for every call, as Celery would make one."""
    return simple_calculation.apply_async((x, y), queue="urgent", task_id=str(uuid.uuid4()))


def rush_own_uuid1(x, y):
    """A time-based UUID: unique as well (the exercise forbids only ids that may repeat)."""
    return simple_calculation.apply_async((x, y), queue="urgent", task_id=str(uuid.uuid1()))


def rush_logs_and_reraises(x, y):
    """Catches a failed publish only to say so, and lets the error reach the caller."""
    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except Exception:
        print("could not send the urgent task")
        raise


def _routes_unchanged() -> None:
    assert app.conf.task_routes is None
    assert app.amqp.router.route({}, simple_calculation.name)["queue"].name == "celery"
    assert "queue" not in vars(simple_calculation)
    assert app.conf.task_default_queue == "celery"


@pytest.mark.parametrize(
    "answer",
    [rush, rush_send_task, rush_signature, rush_keywords, rush_queue_and_its_key,
     rush_kombu_queue, rush_retry_said, rush_own_uuid, rush_own_uuid1, rush_logs_and_reraises],
)  # fmt: skip
def test_rush_right(answer) -> None:
    assert_passed(verdict("08.2", answer), "went to 'urgent'")
    _routes_unchanged()


def rush_stub(x, y): ...


def rush_delay(x, y):
    return simple_calculation.delay(x, y, queue="urgent")


def rush_unsent_signature(x, y):
    return simple_calculation.s(x, y).set(queue="urgent")


def rush_default(x, y):
    return simple_calculation.apply_async((x, y))


def rush_fixed(x, y):
    return simple_calculation.apply_async((2, 3), queue="urgent")


def rush_id(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent").id


def rush_routing_key_only(x, y):
    return simple_calculation.apply_async((x, y), routing_key="urgent")


def rush_mutates_routes(x, y):
    app.conf.task_routes = {"demo_tasks.*": {"queue": "urgent"}}
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
    return simple_calculation.delay(x, y)


def rush_sets_the_task_queue(x, y):
    simple_calculation.queue = "urgent"
    simple_calculation._exec_options = None
    return simple_calculation.delay(x, y)


def rush_default_queue(x, y):
    app.conf.task_default_queue = "urgent"
    return simple_calculation.apply_async((x, y), queue="urgent")


def rush_swapped_args(x, y):
    return simple_calculation.apply_async((y, x), queue="urgent")


def rush_same_arg(x, y):
    return simple_calculation.apply_async((x, x), queue="urgent")


def rush_returns_none(x, y):
    simple_calculation.apply_async((x, y), queue="urgent")


def rush_wrong_task_name(x, y):
    return app.send_task("course_tasks.tasks.demo.simple_calculation", (x, y), queue="urgent")


def rush_priority9(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", priority=9)


def rush_also_delay(x, y):
    simple_calculation.delay(x, y)
    return simple_calculation.apply_async((x, y), queue="urgent")


def rush_queue_in_kwargs(x, y):
    return simple_calculation.apply_async((x, y), {"queue": "urgent"})


def rush_options_dict(x, y):
    return simple_calculation.apply_async((x, y), options={"queue": "urgent"})


def rush_exchange_and_routing_key(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", exchange="urgent",
                                          routing_key="urgent.high")  # fmt: skip


def rush_countdown(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", countdown=5)


_sent_once = {}


def rush_sends_once(x, y):
    if "result" not in _sent_once:
        _sent_once["result"] = simple_calculation.apply_async((x, y), queue="urgent")
    return _sent_once["result"]


# adversary round 2 (its swapped-args, routing-key-only and extra-delay are swapped-args,
# routing-key-only and also-delay below)


def rush_fixed_task_id(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", task_id="rush")


def rush_id_from_args(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", task_id=f"rush-{x}-{y}")


def rush_expires(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", expires=60)


def rush_ignore_result(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", ignore_result=True)


def rush_no_sleep(x, y):
    return simple_calculation.apply_async((x, y), {"seconds": 0}, queue="urgent")


def rush_router_swapped(x, y):
    from celery.app.routes import Router, prepare

    app.amqp.router = Router(
        prepare({"demo_tasks.*": {"queue": "urgent"}}), app.amqp.queues, True, app=app
    )
    return simple_calculation.delay(x, y)


def rush_routes_restored_router_stale(x, y):
    old = app.conf.task_routes
    app.conf.task_routes = {"demo_tasks.*": {"queue": "urgent"}}
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
    try:
        return simple_calculation.delay(x, y)
    finally:
        app.conf.task_routes = old
        app.amqp.flush_routes()


def rush_task_queue_temporarily(x, y):
    had = "queue" in vars(simple_calculation)
    old = getattr(simple_calculation, "queue", None)
    simple_calculation.queue = "urgent"
    try:
        return simple_calculation.delay(x, y)
    finally:
        if had:
            simple_calculation.queue = old
        else:
            del simple_calculation.queue


def rush_task_queue_permanent(x, y):
    simple_calculation.queue = "urgent"
    return simple_calculation.delay(x, y)


def rush_headers(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", headers={"urgent": True})


def rush_pickle(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", serializer="pickle")


def rush_compressed(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", compression="zlib")


def rush_no_publish_retry(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", retry=False)


def rush_no_publish_retry_caught(x, y):
    try:
        return simple_calculation.apply_async((x, y), queue="urgent", retry=False)
    except Exception:
        return None


def rush_zero_retries(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", retry_policy={"max_retries": 0})


def rush_shadow(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", shadow="rush")


def rush_transient(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", delivery_mode=1)


DELAY_HINT = "delay() passes everything to the task: use apply_async((x, y), queue='urgent')"
NOTHING_ELSE = "choose the queue and change nothing else: apply_async((x, y), queue='urgent')"
CHANGED = (
    "rush(2, 3) changed the app's router (app.amqp.router): that is the routing of every task "
    "the app sends"
)
NOT_RETRIED = (
    "when the broker dropped its first attempt to publish (a blip, which Celery retries by "
    "default): the call turned the retry off, so the urgent task was lost"
)
RETRY_HINT = (
    "leave retry and retry_policy out: Celery retries a publish the broker drops "
    "(task_publish_retry)"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(rush_delay, "rush(2, 3) raised TypeError: simple_calculation() got an "
                     "unexpected keyword argument 'queue'", DELAY_HINT, id="delay-queue"),
        pytest.param(rush_unsent_signature, "rush(2, 3) returned a signature and sent nothing",
                     "a signature is only a description", id="signature"),
        pytest.param(rush_default, "rush(2, 3) went to the queue 'course-check-demo-08', "
                     "not 'urgent'", "queue='urgent' in apply_async(...) wins over task_routes",
                     id="no-queue"),
        pytest.param(rush_routing_key_only, "rush(2, 3) went to the queue "
                     "'course-check-demo-08', not 'urgent'",
                     "queue='urgent' in apply_async(...) wins over task_routes",
                     id="routing-key-only"),
        pytest.param(rush_options_dict, "rush(2, 3) went to the queue 'course-check-demo-08', "
                     "not 'urgent'", "queue='urgent' in apply_async(...) wins over task_routes",
                     id="options-dict"),
        pytest.param(rush_fixed, "rush(40, 2) sent args=[2, 3]", "pass the function's own",
                     id="fixed-arguments"),
        pytest.param(rush_swapped_args, "rush(2, 3) sent args=[3, 2] kwargs={}",
                     "pass the function's own x and y", id="swapped-args"),
        pytest.param(rush_same_arg, "rush(2, 3) sent args=[2, 2] kwargs={}",
                     "pass the function's own x and y", id="same-arg"),
        pytest.param(rush_id, "rush(2, 3) returned the task id", "return the AsyncResult itself",
                     id="returns-id"),
        pytest.param(rush_returns_none, "rush(2, 3) returned None",
                     "return what apply_async(...) returns", id="returns-none"),
        pytest.param(simple_calculation, "rush is a Celery task", "keep rush a plain function",
                     id="the-task-itself"),
        pytest.param(rush_wrong_task_name,
                     "rush(2, 3) sent course_tasks.tasks.demo.simple_calculation",
                     "send simple_calculation", id="wrong-task-name"),
        pytest.param(rush_mutates_routes,
                     "rush(2, 3) changed the app's task_routes (now {'demo_tasks.*': "
                     "{'queue': 'urgent'}}): that is the routing of every task the app sends "
                     "(from any thread, also while rush runs), not of this call",
                     "choose the queue for this one call: apply_async((x, y), "
                     "queue='urgent') leaves the routes as they are", id="mutates-routes"),
        pytest.param(rush_sets_the_task_queue,
                     "rush(2, 3) changed demo_tasks.simple_calculation's own queue",
                     "choose the queue for this one call", id="sets-the-task-queue"),
        pytest.param(rush_default_queue,
                     "rush(2, 3) changed the app's settings (task_default_queue)",
                     "choose the queue for this one call", id="changes-the-default-queue"),
        pytest.param(rush_priority9, "rush(2, 3) sent the task with priority 9",
                     "the exercise asks for the queue only: leave priority out (and on Redis 9 "
                     "is the least urgent", id="priority-9"),
        pytest.param(rush_countdown, "rush(2, 3) sent the task with eta",
                     "choose the queue and change nothing else", id="countdown"),
        pytest.param(rush_also_delay, "rush(2, 3) sent 2 messages (demo_tasks.simple_calculation"
                     " to 'course-check-demo-08', demo_tasks.simple_calculation to 'urgent')",
                     "send the task once per call", id="also-delay"),
        pytest.param(rush_queue_in_kwargs, "rush(2, 3) raised TypeError: simple_calculation() "
                     "got an unexpected keyword argument 'queue'",
                     "apply_async's second argument is the task's own kwargs: give options as "
                     "keyword arguments", id="queue-in-kwargs"),
        pytest.param(rush_exchange_and_routing_key, "rush(2, 3) published the message to the "
                     "exchange 'urgent' with the routing key 'urgent.high', which no queue is "
                     "bound with: it never reached 'urgent'",
                     "queue='urgent' alone is enough (Celery publishes straight to that "
                     "queue): leave exchange and routing_key out",
                     id="exchange-and-routing-key"),
        pytest.param(rush_sends_once, "rush(40, 2) sent no task",
                     "send it with simple_calculation.apply_async", id="sends-once"),
        pytest.param(rush_fixed_task_id, "call 2, rush(40, 2), sent its task with the id "
                     "'rush', as call 1, rush(2, 3), did: two calls share one id, so they share "
                     "one result", "leave task_id out: Celery gives every call a new id of its "
                     "own", id="fixed-task-id"),
        pytest.param(rush_id_from_args, "call 3, rush(2, 3), sent its task with the id "
                     "'rush-2-3', as call 1, rush(2, 3), did",
                     "leave task_id out", id="id-from-args"),
        pytest.param(rush_expires, "rush(2, 3) sent the task with expiration 60",
                     NOTHING_ELSE, id="expires"),
        pytest.param(rush_ignore_result, "rush(2, 3) sent the task with ignore_result True",
                     NOTHING_ELSE, id="ignore-result"),
        pytest.param(rush_no_sleep, "rush(2, 3) sent args=[2, 3] kwargs={'seconds': 0}: it "
                     "also gives seconds=0, which the plain call leaves to the task's own "
                     "default", "send only x and y, as rush's caller asked",
                     id="no-sleep-kwarg"),
        pytest.param(rush_router_swapped, CHANGED, "choose the queue for this one call",
                     id="router-swapped"),
        pytest.param(rush_routes_restored_router_stale, CHANGED,
                     "choose the queue for this one call", id="routes-restored-router-stale"),
        pytest.param(rush_task_queue_temporarily,
                     "rush(2, 3) changed demo_tasks.simple_calculation's own queue while it sent "
                     "the task, and put it back afterwards", "choose the queue for this one call",
                     id="task-queue-temporarily"),
        pytest.param(rush_task_queue_permanent,
                     "rush(2, 3) changed demo_tasks.simple_calculation's own queue",
                     "choose the queue for this one call", id="task-queue-permanent"),
        pytest.param(rush_headers, "rush(2, 3) sent the task with urgent True", NOTHING_ELSE,
                     id="headers"),
        pytest.param(rush_pickle, "rush(2, 3) sent the task with the serializer "
                     "'application/x-python-serialize'",
                     f"{NOTHING_ELSE} (the course's workers accept json only, accept_content: "
                     "they refuse a message in another serializer, and the task never runs)",
                     id="pickle"),
        pytest.param(rush_compressed, "rush(2, 3) sent the task with compression "
                     "'application/x-gzip'", NOTHING_ELSE, id="compressed"),
        pytest.param(rush_no_publish_retry, f"rush(2, 3) raised OperationalError {NOT_RETRIED}",
                     RETRY_HINT, id="no-publish-retry"),
        pytest.param(rush_no_publish_retry_caught,
                     f"rush(2, 3) published nothing more {NOT_RETRIED}", RETRY_HINT,
                     id="no-publish-retry-caught"),
        pytest.param(rush_zero_retries, f"rush(2, 3) raised OperationalError {NOT_RETRIED}",
                     RETRY_HINT, id="zero-retries"),
        pytest.param(rush_shadow, "rush(2, 3) sent the task with shadow 'rush'", NOTHING_ELSE,
                     id="shadow"),
        pytest.param(rush_transient, "rush(2, 3) sent the task with delivery_mode 1 "
                     "(non-persistent)", f"{NOTHING_ELSE} (a transient message: RabbitMQ loses "
                     "it when it restarts)", id="transient-message"),
    ],
)  # fmt: skip
def test_rush_wrong(answer, problem, hint) -> None:
    _sent_once.clear()
    assert_fails(verdict("08.2", answer), problem, hint)
    _routes_unchanged()


def test_rush_stub() -> None:
    assert_fails(verdict("08.2", rush_stub), "not yet")


# --------------------------------------------------------------------------- 08.3


def worker_command(queue, concurrency, name):
    return ["celery", "-A", "course_tasks", "worker", "-Q", queue, "-c", str(concurrency),
            "-n", f"{name}@%h"]  # fmt: skip


def command_with(*extra, before=()):
    """worker_command's line with ``extra`` options after ``worker`` (``before``: before it)."""

    def answer(queue, concurrency, name):
        line = worker_command(queue, concurrency, name)
        return [*line[:3], *before, *line[3:], *extra]

    return answer


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(worker_command, id="solution"),
        pytest.param(lambda q, c, n: tuple(worker_command(q, c, n)), id="tuple"),
        pytest.param(lambda q, c, n: ["celery", "--app=course_tasks", "worker", f"--queues={q}",
                                      f"--concurrency={c}", f"--hostname={n}@%h"],
                     id="long-options"),
        pytest.param(lambda q, c, n: [sys.executable, "-m", *worker_command(q, c, n)],
                     id="python-m-celery"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks.app", "worker", "-Q", q,
                                      "-c", str(c), "-n", f"{n}@%h"], id="app-module"),
        pytest.param(command_with("-l", "info", "-E"), id="loglevel-and-events"),
        # task events only report more (chapter 09, Flower per queue: guide 003 §6)
        pytest.param(command_with("--task-events"), id="task-events-long"),
        pytest.param(command_with("-P", "prefork", "--logfile=/tmp/w.log"), id="default-pool"),
        pytest.param(command_with("-X", "celery"), id="exclude-another-queue"),
        pytest.param(command_with(before=("-q",)), id="quiet"),
    ],
)  # fmt: skip
def test_worker_command_right(answer) -> None:
    assert_passed(verdict("08.3", answer), "the node ai-worker@HOST on any host")


def test_worker_command_passes_with_the_line_handed_in() -> None:
    assert_passed(
        verdict("08.3", command_with("-l", "info", "-E")),
        "passed (celery -A course_tasks worker -Q ai_processing -c 1 -n ai-worker@%h -l info "
        "-E: the node ai-worker@HOST on any host",
    )


@pytest.mark.parametrize(
    "raw", [None, "ai-worker@%h", "ai-worker", "ai-worker@%n", "ai-worker@%d", "w@localhost",
            "ai-worker@%%h", "%h", "ai-worker@%n.%d"],
)  # fmt: skip
def test_node_names_expand_as_celery_worker_expands_them(raw) -> None:
    """The check's expansion, on this machine, is celery worker's own (``Hostname``)."""
    from celery.bin.worker import Hostname
    from celery.utils.nodenames import gethostname

    from course_tasks.checks.ch08_routing import _node_on

    assert _node_on(raw, gethostname()) == Hostname().convert(raw, None, None)


def test_worker_command_stub() -> None:
    def stub(q, c, n): ...

    assert_fails(verdict("08.3", stub), "not yet")


CALL = "worker_command('ai_processing', 1, 'ai-worker')"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(lambda q, c, n: ["celery", "worker", "-Q", q, "-c", str(c), "-n",
                                      f"{n}@%h"],
                     "runs the app None", "put -A course_tasks", id="no-app"),
        pytest.param(lambda q, c, n: ["celery", "worker", "-A", "course_tasks", "-Q", q, "-c",
                                      str(c), "-n", f"{n}@%h"],
                     "celery worker refuses it: No such option '-A'",
                     "-A is an option of celery itself since Celery 5", id="app-after-worker"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      str(c), "-n", n],
                     "-n ai-worker gives the node name 'celery@ai-worker'",
                     "a name without '@'", id="no-at"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-n",
                                      f"{n}@%h"],
                     "concurrency is None (one per CPU)", "-c 1", id="no-c"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q",
                                      "ai_processing,demo_tasks", "-c", str(c), "-n",
                                      f"{n}@%h"],
                     "reads ['ai_processing', 'demo_tasks']", "-Q QUEUE", id="both-queues"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q",
                                      f"{q},celery", "-c", str(c), "-n", f"{n}@%h"],
                     f"{CALL}: the worker reads ['ai_processing', 'celery'], not "
                     "['ai_processing']", "-Q QUEUE: a dedicated worker reads its own queue only",
                     id="plus-celery-queue"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      c, "-n", f"{n}@%h"],
                     f"{CALL} returned a list holding an int", "return a list of strings",
                     id="int-concurrency"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "--queue", q,
                                      "-c", str(c)],
                     "celery worker refuses it", "-Q QUEUE -c N", id="bad-option"),
        pytest.param(command_with("-P", "solo"), f"{CALL}: the command adds -P solo",
                     "-P solo runs one task at a time, whatever -c says", id="solo-pool"),
        pytest.param(command_with("-Pthreads"), f"{CALL}: the command adds -Pthreads",
                     "the default pool (prefork) runs -c processes: leave -P out",
                     id="threads-pool"),
        pytest.param(command_with("-P", "gevent"), f"{CALL}: the command adds -P gevent",
                     "the default pool (prefork)", id="gevent-pool-not-imported"),
        pytest.param(command_with("-B"), f"{CALL}: the command adds -B",
                     "-B runs beat inside this worker", id="embedded-beat"),
        pytest.param(command_with("--detach"), f"{CALL}: the command adds --detach",
                     "--detach puts the worker in the background", id="detach"),
        pytest.param(command_with("--purge"), f"{CALL}: the command adds --purge",
                     "--purge deletes every message waiting in the queue", id="purge"),
        pytest.param(command_with("--prefetch-multiplier=0"),
                     f"{CALL}: the command adds --prefetch-multiplier=0",
                     "--prefetch-multiplier=0 does not turn prefetching off", id="prefetch-zero"),
        pytest.param(command_with("--prefetch-multiplier", "1"),
                     f"{CALL}: the command adds --prefetch-multiplier 1",
                     "the worker keeps the app's prefetch here", id="prefetch-one"),
        pytest.param(command_with("--autoscale", "4,1"), f"{CALL}: the command adds --autoscale",
                     "--autoscale grows and shrinks the pool", id="autoscale-and-c"),
        pytest.param(command_with("--time-limit=60"), f"{CALL}: the command adds --time-limit=60",
                     "a time limit kills tasks", id="time-limit"),
        pytest.param(command_with("--without-mingle"), f"{CALL}: the command adds "
                     "--without-mingle", "--without-mingle changes how the worker runs",
                     id="without-mingle"),
        pytest.param(command_with("-X", "ai_processing"),
                     f"{CALL}: the command adds -X ai_processing",
                     "-X ai_processing excludes the very queue this worker is for",
                     id="exclude-own-queue"),
        pytest.param(command_with("--", "worker_prefetch_multiplier=0"),
                     "the command ends with ['worker_prefetch_multiplier=0'], which celery "
                     "worker reads as settings", "-A, -Q, -c and -n are all", id="extra-settings"),
        pytest.param(command_with(before=("-b", "redis://elsewhere:6379/0")),
                     f"{CALL}: the command adds -b redis://elsewhere:6379/0",
                     "the app's configuration names the broker", id="other-broker"),
        pytest.param(command_with(before=("--workdir", "/")),
                     f"{CALL}: the command adds --workdir /",
                     "--workdir makes celery change directory", id="workdir"),
        pytest.param(command_with(before=("--version",)), f"{CALL}: the command adds --version",
                     "--version prints Celery's version and exits", id="version"),
        pytest.param(command_with("--help"), "the command asks for --help", "leave --help out",
                     id="help"),
        pytest.param(lambda q, c, n: f"celery -A course_tasks worker -Q {q} -c {c} -n {n}@%h",
                     f"{CALL} returned one string, not a list of strings",
                     "subprocess looks for a program named after the whole string",
                     id="string"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", f"-Q {q}",
                                      f"-c {c}", f"-n {n}@%h"],
                     "the worker reads [' ai_processing']", "-Q QUEUE", id="joined-options"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-X", q, "-c",
                                      str(c), "-n", f"{n}@%h"],
                     "the worker reads every queue (no -Q)", "-Q QUEUE", id="exclude-queue"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      str(c), "-n", f"{n}@localhost"],
                     f"{CALL}: the node is named 'ai-worker@localhost'", "-n ai-worker@%h",
                     id="localhost"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      str(c), "-n", f"{n}@%%h"],
                     f"{CALL}: the node is named 'ai-worker@%h'", "-n ai-worker@%h",
                     id="double-percent"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      str(c), "-n", f"{n}-worker@%h"],
                     "the node is named 'ai-worker-worker@", "-n ai-worker@%h",
                     id="worker-suffix"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q,
                                      "--autoscale", f"{c},1", "-n", f"{n}@%h"],
                     f"{CALL}: the command gives --autoscale 1,1 instead of -c 1: the pool "
                     "grows and shrinks between those two numbers",
                     "-c 1: a fixed number of processes, the number of tasks the worker runs at "
                     "once (leave --autoscale out)", id="autoscale"),
        # adversary round 2 (its host-localhost, host-double-percent, int-concurrency,
        # app-after-worker, worker-suffix and exclude-queue are above; its time-limit and
        # broker-url are time-limit and other-broker with other values; its events and
        # task-events-long are right answers)
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      str(c), "-n", f"{n}@%n"],
                     # a host name with a domain shows it on this machine already
                     f"{CALL}: the node is named 'ai-worker@{socket.gethostname().split('.')[0]}'"
                     if "." in socket.gethostname()
                     else f"{CALL}: on a machine named box.example.com, the node is named "
                     "'ai-worker@box', not 'ai-worker@box.example.com'",
                     "%n is the host name without its domain", id="host-percent-n"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q, "-c",
                                      str(c), "-n", f"{n}@{socket.gethostname()}"],
                     f"{CALL}: on a machine named box.example.com, the node is named "
                     f"'ai-worker@{socket.gethostname()}', not 'ai-worker@box.example.com'",
                     f"the line has this machine's host name, {socket.gethostname()}, written "
                     "in", id="host-written-in"),
        pytest.param(lambda q, c, n: ["celery", "-A", "course_tasks", "worker", "-Q", q,
                                      f"--autoscale={c},1", "-n", f"{n}@%h"],
                     f"{CALL}: the command gives --autoscale=1,1 instead of -c 1", "-c 1: a "
                     "fixed number of processes", id="autoscale-instead-of-c"),
        pytest.param(command_with("--without-gossip", "--without-mingle"),
                     f"{CALL}: the command adds --without-gossip",
                     "--without-gossip changes how the worker runs", id="without-gossip-mingle"),
        pytest.param(command_with("--without-heartbeat"),
                     f"{CALL}: the command adds --without-heartbeat",
                     "--without-heartbeat changes how the worker runs: it sends no heartbeats, "
                     "so monitors (Flower, celery events) show it as offline",
                     id="without-heartbeat"),
        pytest.param(command_with("--max-tasks-per-child=100"),
                     f"{CALL}: the command adds --max-tasks-per-child=100",
                     "--max-tasks-per-child=100 changes how the worker runs, and the exercise "
                     "asks for -A, -Q, -c and -n only (logging and monitoring options such as "
                     "-l info or -E are fine)", id="max-tasks-per-child"),
        pytest.param(command_with("--max-memory-per-child=200000"),
                     f"{CALL}: the command adds --max-memory-per-child=200000",
                     "--max-memory-per-child=200000 changes how the worker runs",
                     id="max-memory-per-child"),
        pytest.param(command_with("--statedb=/tmp/worker.state"),
                     f"{CALL}: the command adds --statedb=/tmp/worker.state",
                     "--statedb=/tmp/worker.state changes how the worker runs", id="statedb"),
        pytest.param(command_with("-O", "fair"), f"{CALL}: the command adds -O fair",
                     "-O fair changes how the worker runs", id="fair"),
        pytest.param(command_with("--uid=celery"), f"{CALL}: the command adds --uid=celery",
                     "--uid=celery changes how the worker runs", id="uid"),
        pytest.param(command_with("--soft-time-limit=300"),
                     f"{CALL}: the command adds --soft-time-limit=300",
                     "a time limit stops tasks that run longer", id="soft-time-limit"),
        pytest.param(lambda q, c, n: worker_command(q, c, n)[1:],
                     "the command starts with ['-A']", 'start it with "celery"', id="no-celery"),
    ],
)  # fmt: skip
def test_worker_command_wrong(answer, problem, hint) -> None:
    assert_fails(verdict("08.3", answer), problem, hint)


def test_worker_command_parsing_changes_nothing() -> None:
    """--workdir would chdir while parsing; -P gevent would import (and patch) gevent."""
    here = os.getcwd()
    verdict("08.3", command_with(before=("--workdir", "/")))
    verdict("08.3", command_with("-P", "gevent"))
    assert os.getcwd() == here
    assert "celery.concurrency.gevent" not in sys.modules


# --------------------------------------------------------------------------- 08.4


def test_prefetch_right() -> None:
    good = {"worker_prefetch_multiplier": 1, "task_acks_late": True}
    assert_passed(verdict("08.4", good), "held no short task (2 stayed queued)")
    assert workers.running() == []


def test_prefetch_stub() -> None:
    assert_fails(
        verdict("08.4", {"worker_prefetch_multiplier": ..., "task_acks_late": ...}), "not yet"
    )


def settings(multiplier=1, acks_late=True):
    return {"worker_prefetch_multiplier": multiplier, "task_acks_late": acks_late}


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(acks_late=False), "held 1 short task(s)", "acknowledged early",
                     id="no-acks-late"),
        pytest.param(settings(0), "held 2 short task(s)", "0 means no limit",
                     id="zero-multiplier"),
        pytest.param(settings(4), "held 2 short task(s)",
                     "the worker reserves 4 x concurrency", id="default-multiplier"),
        pytest.param(settings(2), "held 1 short task(s)", "the worker reserves 2 x concurrency",
                     id="multiplier-two"),
        pytest.param(settings(True), "worker_prefetch_multiplier is True",
                     "it is a whole number, e.g. 1", id="bool-multiplier"),
        pytest.param(settings("1"), "worker_prefetch_multiplier is '1'",
                     "it is a whole number, e.g. 1", id="str-multiplier"),
        pytest.param(settings(1.0), "worker_prefetch_multiplier is 1.0",
                     "it is a whole number, e.g. 1", id="float-multiplier"),
        pytest.param(settings(acks_late="True"), "task_acks_late is 'True'",
                     "it is True or False (not a string)", id="str-true"),
        pytest.param(settings(acks_late="False"), "task_acks_late is 'False'",
                     "it is True or False (not a string)", id="str-false"),
        pytest.param(settings(acks_late=1), "task_acks_late is 1",
                     "it is a bool, True or False, not an int", id="int-acks"),
        pytest.param(settings(acks_late=None), "task_acks_late is None",
                     "give it a value: True or False", id="acks-none"),
        pytest.param({"CELERYD_PREFETCH_MULTIPLIER": 1, "CELERY_ACKS_LATE": True},
                     "settings has no 'worker_prefetch_multiplier'",
                     "set worker_prefetch_multiplier and task_acks_late", id="old-names"),
        pytest.param({"worker_prefetch_multiplier": 1}, "settings has no 'task_acks_late'",
                     "set worker_prefetch_multiplier and task_acks_late", id="missing-acks"),
        pytest.param([1, True], "settings is a list", "write a dict of two settings",
                     id="not-a-dict"),
        # adversary round 2 (its other ten answers are above)
        pytest.param({"prefetch_multiplier": 1, "acks_late": True},
                     "settings has no 'worker_prefetch_multiplier'",
                     "set worker_prefetch_multiplier and task_acks_late", id="task-option-names"),
    ],
)  # fmt: skip
def test_prefetch_wrong(answer, problem, hint) -> None:
    assert_fails(verdict("08.4", answer), problem, hint)
    assert workers.running() == []


# --------------------------------------------------------------------------- workers


def test_dedicated_workers_run_in_parallel_and_stop_cleanly() -> None:
    demo.clear_runs()
    before = set(threading.enumerate())
    ai, calc = workers.start(
        workers.Spec("t-ai", ("t_ai",), 1), workers.Spec("t-demo", ("t_demo",), 4)
    )
    assert runtime.services() == [workers.SERVICE]
    started = time.monotonic()
    slow = run_ai_text_generation.apply_async(("x", 0.6), queue="t_ai")
    quick = [simple_calculation.apply_async((i, i, 0.3), queue="t_demo") for i in range(4)]
    assert [q.get(timeout=5) for q in quick] == [0, 2, 4, 6]
    quick_done = time.monotonic() - started
    slow.get(timeout=5)
    assert quick_done < 0.6 + 0.3  # four at once, not one after the other behind the AI task
    queues = app.control.inspect(timeout=0.5, destination=[ai.node, calc.node]).active_queues()
    assert {node: [q["name"] for q in qs] for node, qs in queues.items()} == {
        ai.node: ["t_ai"],
        calc.node: ["t_demo"],
    }
    assert {r["queue"] for r in demo.runs()} == {"t_ai", "t_demo"}
    assert app.amqp.queues._consume_from is None  # the app's own selection is untouched
    workers.stop()
    assert workers.running() == [] and runtime.services() == []
    assert set(threading.enumerate()) <= before


def test_priority_worker_on_the_redis_transport() -> None:
    demo.clear_runs()
    before = set(threading.enumerate())
    with workers.redis_connection() as conn:
        conn.default_channel.queue_purge("t_priority")
        for label, priority in [("p9", 9), ("p0", 0), ("p5", 5), ("p3", 3)]:
            demo.record.apply_async((label, 0.0), queue="t_priority", priority=priority,
                                    connection=conn)  # fmt: skip
    workers.start(workers.Spec("t-prio", ("t_priority",), 1, prefetch_multiplier=1, broker="redis"))
    deadline = time.monotonic() + 5
    while len(demo.runs()) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers.stop()
    assert [r["label"] for r in demo.runs()] == ["p0", "p5", "p3", "p9"]
    assert set(threading.enumerate()) <= before


def test_stop_is_idempotent_and_tracked_by_runtime() -> None:
    workers.start(workers.Spec("t-once", ("t_once",), 2))
    runtime.stop(quiet=True)  # the chapter's last cell stops them too
    assert workers.running() == [] and runtime.services() == []
    workers.stop()
    runtime.start(quiet=True)


def test_starting_a_worker_leaves_the_others_running() -> None:
    (first,) = workers.start(workers.Spec("t-first", ("t_first",), 1))
    (second,) = workers.start(workers.Spec("t-second", ("t_second",), 1))
    replies = app.control.ping(destination=[first.node, second.node], timeout=0.5) or []
    assert sorted(node for reply in replies for node in reply) == [first.node, second.node]
    workers.stop("t-first")
    assert workers.running() == [second.node]
    workers.stop()


# --------------------------------------------------------------------------- redis mode

_REDIS_SNIPPET = """
import os, sys
from course_tasks import runtime, workers
runtime.start(quiet=True)
ai, demo = workers.start(workers.Spec("t-ai", ("t_ai",), 1), workers.Spec("t-demo", ("t_demo",), 2))
from course_tasks.tasks.demo import simple_calculation
print(simple_calculation.apply_async((2, 3, 0), queue="t_demo").get(timeout=60))
print(ai._process.pid, demo._process.pid, flush=True)
if sys.argv[-1] == "die":
    os._exit(0)          # the kernel dies: no atexit, no runtime.stop()
runtime.stop(quiet=True)
print(runtime.services())
"""


def _gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["stop", "die"])
def test_worker_processes_in_redis_mode_never_outlive_their_starter(
    redis_worker: str, how: str
) -> None:
    import subprocess

    from conftest import ROOT, course_env

    # runtime.start() waits up to COURSE_WORKER_WAIT for the shared worker (4 s by default, the
    # wait a learner sees), workers.start() up to COURSE_DEDICATED_WAIT: both are ceilings that
    # end as soon as a worker answers, so a slow or busy machine gets a minute for each. This
    # test is about processes never outliving their starter, not about how fast they start.
    done = subprocess.run(
        [sys.executable, "-c", _REDIS_SNIPPET, how],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env=course_env(COURSE_BROKER=redis_worker, COURSE_WORKER_WAIT="60",
                       COURSE_DEDICATED_WAIT="60"),
    )  # fmt: skip
    lines = done.stdout.split("\n")
    assert lines[0] == "5", done.stdout + done.stderr
    pids = [int(p) for p in lines[1].split()]
    if how == "stop":
        assert lines[2] == "[]"
    assert all(_gone(pid) for pid in pids), f"worker process groups {pids} still run"


# --------------------------------------------------------------------------- adversary round 3
# Every wrong answer of adversary round 3, with the feedback it gets.

# round 3, 08.1
# Right: {"ai_tasks.*": {"queue": "ai_processing"}, "demo_tasks.*": {"queue": "demo_tasks"}}

r3_routes_leading_star = {
    # "starts with ai_tasks." written as "contains ai_tasks.": also routes e.g.
    # "legacy.ai_tasks.x" or "not_ai_tasks.y" to ai_processing
    "*ai_tasks.*": {"queue": "ai_processing"},
    "*demo_tasks.*": {"queue": "demo_tasks"},
}

r3_routes_regex_unescaped_dot = {
    # a compiled regex, but the dot is not escaped: "ai_tasksX..." and "demo_tasks_v2" match too
    re.compile(r"ai_tasks.*"): {"queue": "ai_processing"},
    re.compile(r"demo_tasks.*"): {"queue": "demo_tasks"},
}

r3_routes_regex_no_dot = {
    # regex prefix without the dot: "ai_tasks_legacy.foo", "demo_tasksuite.x" match too
    re.compile(r"ai_tasks"): {"queue": "ai_processing"},
    re.compile(r"demo_tasks"): {"queue": "demo_tasks"},
}

r3_routes_copied_mail_route = {
    # copied section 6 of the chapter: the welcome mail goes to demo_tasks, not to celery
    "ai_tasks.*": {"queue": "ai_processing"},
    "demo_tasks.*": {"queue": "demo_tasks"},
    "course_tasks.tasks.email.*": {"queue": "demo_tasks"},
}

r3_routes_exchange_only = {
    # routes by exchange/routing key instead of queue: no queue is declared, so on a fresh
    # broker the message has nowhere to land (and 'queue' falls back to celery)
    "ai_tasks.*": {"exchange": "ai_processing", "routing_key": "ai_processing"},
    "demo_tasks.*": {"exchange": "demo_tasks", "routing_key": "demo_tasks"},
}

r3_routes_transient = {
    # adds a message option: non-persistent messages (lost on a broker restart)
    "ai_tasks.*": {"queue": "ai_processing", "delivery_mode": 1},
    "demo_tasks.*": {"queue": "demo_tasks", "delivery_mode": 1},
}

r3_routes_expires = {
    # adds an expiry to every message of the route (a route only chooses the queue)
    "ai_tasks.*": {"queue": "ai_processing", "expires": 3600},
    "demo_tasks.*": {"queue": "demo_tasks", "expires": 60},
}

r3_routes_catch_all_first = {
    # the catch-all is listed first: patterns are tried in order, everything goes to celery
    "*": {"queue": "celery"},
    "ai_tasks.*": {"queue": "ai_processing"},
    "demo_tasks.*": {"queue": "demo_tasks"},
}

r3_routes_char_class = {
    # glob character class: only lower-case letters/underscore after the dot
    # (misses ai_tasks.GPT4_summary)
    "ai_tasks.[a-z_]*": {"queue": "ai_processing"},
    "demo_tasks.[a-z_]*": {"queue": "demo_tasks"},
}

r3_routes_default_queue_name = {
    # catch-all to "default" (a common name in other projects), not celery
    "ai_tasks.*": {"queue": "ai_processing"},
    "demo_tasks.*": {"queue": "demo_tasks"},
    "*": {"queue": "default"},
}

r3_routes_ignorecase = {
    # re.IGNORECASE "to be safe": AI_Tasks.x / DEMO_TASKS.y (other names) match too
    re.compile(r"ai_tasks\.", re.IGNORECASE): {"queue": "ai_processing"},
    re.compile(r"demo_tasks\.", re.IGNORECASE): {"queue": "demo_tasks"},
}

r3_routes_regex_no_more_dots = {
    # "ai_tasks. and then a name": \w+$ refuses names with more dots (ai_tasks.v2.summarize)
    re.compile(r"ai_tasks\.\w+$"): {"queue": "ai_processing"},
    re.compile(r"demo_tasks\.\w+$"): {"queue": "demo_tasks"},
}

# round 3, 08.2
# Right: simple_calculation.apply_async((x, y), queue="urgent")


def r3_rush_swapped_args(x, y):
    # arguments swapped: the sum is the same, the message is not
    return simple_calculation.apply_async((y, x), queue="urgent")


def r3_rush_default_kwarg(x, y):
    # spells out the default seconds=0.2: a kwargs the plain call does not send
    return simple_calculation.apply_async((x, y), {"seconds": 0.2}, queue="urgent")


def r3_rush_no_wait(x, y):
    # "urgent, so skip the wait": seconds=0 changes the call's arguments (and the work)
    return simple_calculation.apply_async((x, y), {"seconds": 0}, queue="urgent")


def r3_rush_short_retry_policy(x, y):
    # a retry policy of one retry: survives one blip, gives up where the default retries 3x
    return simple_calculation.apply_async(
        (x, y), queue="urgent", retry_policy={"max_retries": 1, "interval_start": 0}
    )


def r3_rush_fallback(x, y):
    # if publishing to urgent fails, falls back to the routes (demo_tasks): never happens
    # with a single blip, which Celery retries
    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except Exception:
        return simple_calculation.delay(x, y)


def r3_rush_swap_routes(x, y):
    # changes the app's routes for the call, then puts them back: racy (another thread
    # sending meanwhile goes to urgent) and rebuilds the app's router
    old = app.conf.task_routes
    app.conf.task_routes = {"demo_tasks.*": {"queue": "urgent"}}
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
    try:
        return simple_calculation.delay(x, y)
    finally:
        app.conf.task_routes = old
        app.amqp.flush_routes()
        app.amqp.router = app.amqp.Router()


def r3_rush_own_connection(x, y):
    # opens a new broker connection per call and never closes it (a leak); publishes on it
    conn = app.connection_for_write()
    return simple_calculation.apply_async((x, y), queue="urgent", connection=conn)


def r3_rush_swallow_errors(x, y):
    # "never crash the caller": swallows a failed publish and returns None (the check's one
    # blip is retried inside Celery, so the except never runs there)
    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except Exception as exc:  # noqa: BLE001
        print(f"could not send: {exc}")
        return None


def r3_rush_transient(x, y):
    # "urgent, so no need to persist": delivery_mode=1
    return simple_calculation.apply_async((x, y), queue="urgent", delivery_mode=1)


def r3_rush_ignore_result(x, y):
    # ignore_result=True: the AsyncResult it returns will never get a result
    return simple_calculation.apply_async((x, y), queue="urgent", ignore_result=True)


def r3_rush_own_task_id(x, y):
    # a readable task id of its own making; only 16 bits random: two calls collide
    # (same id, one result overwrites the other) after a few hundred calls
    return simple_calculation.apply_async(
        (x, y), queue="urgent", task_id=f"rush-{x}-{y}-{uuid.uuid4().hex[:4]}"
    )


def r3_rush_expires(x, y):
    # urgent, so expires after 10 s: a message option the plain call does not have
    return simple_calculation.apply_async((x, y), queue="urgent", expires=10)


def r3_rush_default_exchange(x, y):
    # publishes through the default exchange '' with routing key urgent (lands in urgent,
    # but not as Celery's own queue routing does it, and the queue is not declared)
    return simple_calculation.apply_async((x, y), exchange="", routing_key="urgent")


# round 3, 08.3
# Right: ["celery", "-A", "course_tasks", "worker", "-Q", queue, "-c", str(c), "-n", f"{name}@%h"]


def r3_cmd_double_percent(queue, concurrency, name):
    # %%h copied from a systemd/supervisor unit: the worker sees a literal "%h"
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%%h",
    ]


def r3_cmd_fqdn(queue, concurrency, name):
    # the host name computed in Python: right here, wrong on any other machine
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@{socket.getfqdn()}",
    ]


def r3_cmd_broker(queue, concurrency, name):
    # hard-codes the broker: the worker no longer uses the app's configured broker
    return [
        "celery",
        "-A",
        "course_tasks",
        "-b",
        "redis://localhost:6379/0",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


def r3_cmd_optimization_fair(queue, concurrency, name):
    # -O fair: another scheduling profile of the pool
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "-O",
        "fair",
    ]


def r3_cmd_max_tasks_per_child(queue, concurrency, name):
    # restarts each pool process after every task ("AI leaks memory")
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--max-tasks-per-child=1",
    ]


def r3_cmd_max_memory(queue, concurrency, name):
    # restarts pool processes above 500 MB
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--max-memory-per-child=500000",
    ]


def r3_cmd_disable_prefetch(queue, concurrency, name):
    # Celery 5.7's --disable-prefetch: a prefetch option
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--disable-prefetch",
    ]


def r3_cmd_queue_with_space(queue, concurrency, name):
    # "-Q queue" as ONE argument (half string, half list): the queue is " ai_processing"
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        f"-Q {queue}",
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


def r3_cmd_heartbeat(queue, concurrency, name):
    # a heartbeat interval of 60 s: changes how the worker talks to the broker
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--heartbeat-interval=60",
    ]


def r3_cmd_multi(queue, concurrency, name):
    # celery multi start: detaches (and names the node itself)
    return [
        "celery",
        "multi",
        "start",
        name,
        "-A",
        "course_tasks",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


def r3_cmd_pool_threads(queue, concurrency, name):
    # -P threads (the notebook's embedded workers use threads): another pool
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-P",
        "threads",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


def r3_cmd_statedb(queue, concurrency, name):
    # --statedb: persistent revokes/state file (changes the worker's behaviour across restarts)
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--statedb=/tmp/%n.state",
    ]


def r3_cmd_node_short(queue, concurrency, name):
    # %n (the short host name) instead of %h: "ai-worker@box" not "ai-worker@box.example.com"
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%n",
    ]


def r3_cmd_trailing_comma(queue, concurrency, name):
    # "-Q ai_processing," (a trailing comma, as when joining a list): an empty queue name too
    return [
        "celery",
        "-A",
        "course_tasks",
        "worker",
        "-Q",
        f"{queue},",
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


def r3_cmd_result_backend(queue, concurrency, name):
    # --result-backend overrides the app's result backend
    return [
        "celery",
        "-A",
        "course_tasks",
        "--result-backend",
        "redis://localhost:6379/1",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


def r3_cmd_config(queue, concurrency, name):
    # --config loads another configuration module over the app's own
    return [
        "celery",
        "-A",
        "course_tasks",
        "--config",
        "course_tasks.celeryconfig",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
    ]


# round 3, 08.4
# Right: {"worker_prefetch_multiplier": 1, "task_acks_late": True}

r3_settings_false_string = {"worker_prefetch_multiplier": 1, "task_acks_late": "False"}
r3_settings_true_string = {"worker_prefetch_multiplier": 1, "task_acks_late": "True"}
r3_settings_mult_string = {"worker_prefetch_multiplier": "1", "task_acks_late": True}
r3_settings_mult_bool = {"worker_prefetch_multiplier": True, "task_acks_late": True}
r3_settings_mult_float = {"worker_prefetch_multiplier": 1.5, "task_acks_late": True}
r3_settings_mult_negative = {"worker_prefetch_multiplier": -1, "task_acks_late": True}
r3_settings_mult_half = {"worker_prefetch_multiplier": 0.5, "task_acks_late": True}
r3_settings_acks_int = {"worker_prefetch_multiplier": 1, "task_acks_late": 1}
r3_settings_acks_none = {"worker_prefetch_multiplier": 1, "task_acks_late": None}
r3_settings_two = {"worker_prefetch_multiplier": 2, "task_acks_late": True}


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(
            r3_routes_leading_star,
            "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
            '"*ai_tasks.*" also matches reports.ai_tasks.weekly, which is not one of '
            'the ai_tasks. tasks: put the dot in the pattern, "ai_tasks.*"',
            id="r3-leading-star",
        ),
        pytest.param(
            r3_routes_regex_unescaped_dot,
            "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
            "re.compile('ai_tasks.*') also matches ai_tasks_legacy.summarize: a "
            "regex key matches any name that starts like it, so end it with the "
            'escaped dot, re.compile(r"ai_tasks\\."), or use the glob "ai_tasks.*"',
            id="r3-regex-unescaped-dot",
        ),
        pytest.param(
            r3_routes_regex_no_dot,
            "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
            "re.compile('ai_tasks') also matches ai_tasks_legacy.summarize: a regex "
            "key matches any name that starts like it, so end it with the escaped "
            'dot, re.compile(r"ai_tasks\\."), or use the glob "ai_tasks.*"',
            id="r3-regex-no-dot",
        ),
        pytest.param(
            r3_routes_copied_mail_route,
            "course_tasks.tasks.email.send_welcome_email goes to the queue "
            "'demo_tasks', not 'celery'",
            '"course_tasks.tasks.email.*" also sends '
            "course_tasks.tasks.email.send_welcome_email to 'demo_tasks': only names "
            "that start with ai_tasks. or demo_tasks. leave 'celery' (the one the "
            "course's worker reads); give other tasks no route",
            id="r3-copied-mail-route",
        ),
        pytest.param(
            r3_routes_exchange_only,
            "ai_tasks.run_ai_text_generation's message reached no queue: your route "
            "names only the exchange 'ai_processing' and the routing key "
            "'ai_processing', so Celery declares no queue when it sends, and before "
            "a worker has declared 'ai_processing' nothing is bound to that "
            "exchange: the message is dropped",
            'name the queue in the route, {"queue": "ai_processing"}: Celery '
            "declares it as it sends, and the message waits there until a worker "
            "starts",
            id="r3-exchange-only",
        ),
        pytest.param(
            r3_routes_transient,
            "ai_tasks.run_ai_text_generation is sent with delivery_mode 1 "
            "(non-persistent): your route adds it",
            'a route here only chooses the queue: give it "queue" and nothing else '
            "(a transient message: RabbitMQ loses it when it restarts)",
            id="r3-transient",
        ),
        pytest.param(
            r3_routes_expires,
            "ai_tasks.run_ai_text_generation's route adds expires 3600, and sending "
            "the task raised TypeError: AMQP.as_task_v2() got multiple values for "
            "argument 'expires': Celery takes expires from apply_async's arguments, "
            "not from a route",
            'a route here only chooses the queue: give it "queue" and nothing else',
            id="r3-expires",
        ),
        pytest.param(
            r3_routes_catch_all_first,
            "ai_tasks.run_ai_text_generation goes to the queue 'celery', not 'ai_processing'",
            '"*" comes first and matches every task: the first matching pattern '
            'wins, so "ai_tasks.*" is never asked. Leave "*" out (a task that no '
            "pattern matches stays on celery anyway)",
            id="r3-catch-all-first",
        ),
        pytest.param(
            r3_routes_char_class,
            "ai_tasks.GPT4_summary goes to the queue 'celery', not 'ai_processing'",
            '"ai_tasks.[a-z_]*" matches only names that go on with a character of '
            'its [...] set, and ai_tasks.GPT4_summary does not: "ai_tasks.*" matches '
            "every task whose name starts with ai_tasks., whatever follows",
            id="r3-char-class",
        ),
        pytest.param(
            r3_routes_default_queue_name,
            "course_tasks.tasks.basics.add goes to the queue 'default', not 'celery'",
            "a catch-all pattern (\"*\") sends every other task to 'default', and the "
            "course's worker reads only 'celery' (task_default_queue): leave other "
            "tasks out of task_routes",
            id="r3-default-queue-name",
        ),
        pytest.param(
            r3_routes_ignorecase,
            "AI_Tasks.summarize_document goes to the queue 'ai_processing', not 'celery'",
            "task names are case-sensitive: AI_Tasks.summarize_document is not one "
            "of the ai_tasks. tasks, yet re.compile('ai_tasks\\\\.') sends it to "
            "'ai_processing': match \"ai_tasks.\" in exactly that case (no "
            "re.IGNORECASE, no lower())",
            id="r3-ignorecase",
        ),
        pytest.param(
            r3_routes_regex_no_more_dots,
            "demo_tasks.3d-render goes to the queue 'celery', not 'demo_tasks'",
            "re.compile('demo_tasks\\\\.\\\\w+$') matches only some of them: "
            '"demo_tasks.*" matches every task whose name starts with demo_tasks.',
            id="r3-regex-no-more-dots",
        ),
    ],
)
def test_routes_wrong_round3(answer, problem, hint) -> None:
    assert_fails(verdict("08.1", answer), problem, hint)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(
            r3_rush_swapped_args,
            "rush(2, 3) sent args=[3, 2] kwargs={}",
            "pass the function's own x and y: apply_async((x, y), queue='urgent')",
            id="r3-swapped-args",
        ),
        pytest.param(
            r3_rush_default_kwarg,
            "rush(2, 3) sent args=[2, 3] kwargs={'seconds': 0.2}: it also gives "
            "seconds=0.2, which the plain call leaves to the task's own default",
            "send only x and y, as rush's caller asked: apply_async((x, y), queue='urgent')",
            id="r3-default-kwarg",
        ),
        pytest.param(
            r3_rush_no_wait,
            "rush(2, 3) sent args=[2, 3] kwargs={'seconds': 0}: it also gives "
            "seconds=0, which the plain call leaves to the task's own default",
            "send only x and y, as rush's caller asked: apply_async((x, y), queue='urgent')",
            id="r3-no-wait-kwarg",
        ),
        pytest.param(
            r3_rush_short_retry_policy,
            "rush(2, 3) gave retry_policy={'max_retries': 1, 'interval_start': 0}: "
            "it changes how a publish the broker drops is retried (the "
            "app's own policy is {'max_retries': 2, 'interval_start': 0, "
            "'interval_step': 0.25, 'interval_max': 0.5})",
            RETRY_HINT,
            id="r3-short-retry-policy",
        ),
        pytest.param(
            r3_rush_fallback,
            "when the broker refused every attempt to publish rush(7, 5) to "
            "'urgent', rush sent demo_tasks.simple_calculation to "
            "'course-check-demo-08' instead: an urgent task that cannot be sent is "
            "sent where task_routes say, after all",
            "let the error reach rush's caller: the exercise asks for 'urgent' "
            "whatever the routes say, so don't catch it to send the task another way",
            id="r3-fallback-to-routes",
        ),
        pytest.param(
            r3_rush_swap_routes,
            "rush(2, 3) changed the app's router (app.amqp.router): that is the "
            "routing of every task the app sends (from any thread, also while rush "
            "runs), not of this call",
            "choose the queue for this one call: apply_async((x, y), queue='urgent') "
            "leaves the routes as they are",
            id="r3-swap-routes",
        ),
        pytest.param(
            r3_rush_own_connection,
            "rush(2, 3) passed connection=a Connection of its own: the message goes "
            "out on a connection rush chose, not on the app's pool (it is still open after "
            "the call: a new connection per call stays open until someone closes it)",
            "leave connection out: apply_async takes a connection from the app's "
            "pool and gives it back",
            id="r3-own-connection-leak",
        ),
        pytest.param(
            r3_rush_swallow_errors,
            "rush(7, 5) returned None when the broker refused every attempt to "
            "publish it: the task was never sent, and rush's caller cannot tell",
            "let the error reach the caller: don't catch it in rush (apply_async "
            "raises OperationalError once its retries are used up)",
            id="r3-swallow-errors",
        ),
        pytest.param(
            r3_rush_transient,
            "rush(2, 3) sent the task with delivery_mode 1 (non-persistent)",
            "choose the queue and change nothing else: apply_async((x, y), "
            "queue='urgent') (a transient message: RabbitMQ loses it when it "
            "restarts)",
            id="r3-transient",
        ),
        pytest.param(
            r3_rush_ignore_result,
            "rush(2, 3) sent the task with ignore_result True",
            "choose the queue and change nothing else: apply_async((x, y), queue='urgent')",
            id="r3-ignore-result",
        ),
        pytest.param(
            r3_rush_own_task_id,
            "rush(2, 3) sent its task with the id 'rush-2-3-",
            "leave task_id out: Celery gives every call a new id of its own (a UUID)",
            id="r3-own-task-id",
        ),
        pytest.param(
            r3_rush_expires,
            "rush(2, 3) sent the task with expiration 10",
            "choose the queue and change nothing else: apply_async((x, y), queue='urgent')",
            id="r3-expires",
        ),
        pytest.param(
            r3_rush_default_exchange,
            "rush(2, 3) went to the queue 'course-check-demo-08', not 'urgent'",
            "queue='urgent' in apply_async(...) wins over task_routes",
            id="r3-default-exchange",
        ),
    ],
)
def test_rush_wrong_round3(answer, problem, hint) -> None:
    _sent_once.clear()
    assert_fails(verdict("08.2", answer), problem, hint)
    _routes_unchanged()


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(
            r3_cmd_double_percent,
            "worker_command('ai_processing', 1, 'ai-worker'): the node is named 'ai-worker@%h'",
            "-n ai-worker@%h (%h is this machine's host name)",
            id="r3-double-percent",
        ),
        pytest.param(
            r3_cmd_fqdn,
            "worker_command('ai_processing', 1, 'ai-worker'): the node is named "
            f"'ai-worker@{socket.getfqdn()}'",
            "-n ai-worker@%h (%h is this machine's host name)",
            id="r3-fqdn-in-python",
        ),
        pytest.param(
            r3_cmd_broker,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds -b "
            "redis://localhost:6379/0",
            "the app's configuration names the broker: leave -b out",
            id="r3-hard-coded-broker",
        ),
        pytest.param(
            r3_cmd_optimization_fair,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds -O fair",
            "-O fair changes how the worker runs, and the exercise asks for -A, -Q, "
            "-c and -n only (logging and monitoring options such as -l info or -E "
            "are fine): leave it out",
            id="r3-optimization-fair",
        ),
        pytest.param(
            r3_cmd_max_tasks_per_child,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds "
            "--max-tasks-per-child=1",
            "--max-tasks-per-child=1 changes how the worker runs, and the exercise "
            "asks for -A, -Q, -c and -n only (logging and monitoring options such as "
            "-l info or -E are fine): leave it out",
            id="r3-max-tasks-per-child",
        ),
        pytest.param(
            r3_cmd_max_memory,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds "
            "--max-memory-per-child=500000",
            "--max-memory-per-child=500000 changes how the worker runs, and the "
            "exercise asks for -A, -Q, -c and -n only (logging and monitoring "
            "options such as -l info or -E are fine): leave it out",
            id="r3-max-memory-per-child",
        ),
        pytest.param(
            r3_cmd_disable_prefetch,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds --disable-prefetch",
            "--disable-prefetch changes how the worker runs, and the exercise asks "
            "for -A, -Q, -c and -n only (logging and monitoring options such as -l "
            "info or -E are fine): leave it out",
            id="r3-disable-prefetch",
        ),
        pytest.param(
            r3_cmd_queue_with_space,
            "worker_command('ai_processing', 1, 'ai-worker'): the worker reads [' "
            "ai_processing'], not ['ai_processing']",
            "-Q QUEUE: a dedicated worker reads its own queue only",
            id="r3-queue-with-space",
        ),
        pytest.param(
            r3_cmd_heartbeat,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds "
            "--heartbeat-interval=60",
            "--heartbeat-interval=60 changes how the worker runs, and the exercise "
            "asks for -A, -Q, -c and -n only (logging and monitoring options such as "
            "-l info or -E are fine): leave it out",
            id="r3-heartbeat-interval",
        ),
        pytest.param(
            r3_cmd_multi,
            "there is no 'worker' subcommand",
            "celery -A course_tasks worker ...",
            id="r3-celery-multi",
        ),
        pytest.param(
            r3_cmd_pool_threads,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds -P threads",
            "the default pool (prefork) runs -c processes: leave -P out",
            id="r3-pool-threads",
        ),
        pytest.param(
            r3_cmd_statedb,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds "
            "--statedb=/tmp/%n.state",
            "--statedb=/tmp/%n.state changes how the worker runs, and the exercise "
            "asks for -A, -Q, -c and -n only (logging and monitoring options such as "
            "-l info or -E are fine): leave it out",
            id="r3-statedb",
        ),
        pytest.param(
            r3_cmd_node_short,
            "worker_command('ai_processing', 1, 'ai-worker'): on a machine named "
            "box.example.com, the node is named 'ai-worker@box', not "
            "'ai-worker@box.example.com'",
            "%n is the host name without its domain (box.example.com -> box), so "
            "workers on web1.example.com and web1.example.org get one node name: -n "
            "ai-worker@%h puts in the whole host name",
            id="r3-node-short-host",
        ),
        pytest.param(
            r3_cmd_trailing_comma,
            "worker_command('ai_processing', 1, 'ai-worker'): the worker reads "
            "['ai_processing', ''], not ['ai_processing']",
            "-Q QUEUE: a dedicated worker reads its own queue only",
            id="r3-trailing-comma",
        ),
        pytest.param(
            r3_cmd_result_backend,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds "
            "--result-backend redis://localhost:6379/1",
            "the app's configuration names the result backend: leave it out",
            id="r3-result-backend",
        ),
        pytest.param(
            r3_cmd_config,
            "worker_command('ai_processing', 1, 'ai-worker'): the command adds "
            "--config course_tasks.celeryconfig",
            "--config course_tasks.celeryconfig changes how the worker runs, and the "
            "exercise asks for -A, -Q, -c and -n only (logging and monitoring "
            "options such as -l info or -E are fine): leave it out",
            id="r3-config-module",
        ),
    ],
)
def test_worker_command_wrong_round3(answer, problem, hint) -> None:
    assert_fails(verdict("08.3", answer), problem, hint)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(
            r3_settings_false_string,
            "task_acks_late is 'False'",
            "it is True or False (not a string)",
            id="r3-acks-false-string",
        ),
        pytest.param(
            r3_settings_true_string,
            "task_acks_late is 'True'",
            "it is True or False (not a string)",
            id="r3-acks-true-string",
        ),
        pytest.param(
            r3_settings_mult_string,
            "worker_prefetch_multiplier is '1'",
            "it is a whole number, e.g. 1",
            id="r3-mult-string",
        ),
        pytest.param(
            r3_settings_mult_bool,
            "worker_prefetch_multiplier is True",
            "it is a whole number, e.g. 1",
            id="r3-mult-bool",
        ),
        pytest.param(
            r3_settings_mult_float,
            "worker_prefetch_multiplier is 1.5",
            "it is a whole number, e.g. 1",
            id="r3-mult-float",
        ),
        pytest.param(
            r3_settings_mult_negative,
            "worker_prefetch_multiplier is -1",
            "a count of messages is never negative: a whole number of at least 1, e.g. 1",
            id="r3-mult-negative",
        ),
        pytest.param(
            r3_settings_mult_half,
            "worker_prefetch_multiplier is 0.5",
            "it is a whole number, e.g. 1",
            id="r3-mult-half",
        ),
        pytest.param(
            r3_settings_acks_int,
            "task_acks_late is 1",
            "it is a bool, True or False, not an int",
            id="r3-acks-int",
        ),
        pytest.param(
            r3_settings_acks_none,
            "task_acks_late is None",
            "give it a value: True or False",
            id="r3-acks-none",
        ),
        pytest.param(
            r3_settings_two,
            "while the long task ran, the busy worker held 1 short task(s) behind it",
            "the worker reserves 2 x concurrency messages: with long tasks use 1",
            id="r3-mult-two",
        ),
    ],
)
def test_prefetch_wrong_round3(answer, problem, hint) -> None:
    assert_fails(verdict("08.4", answer), problem, hint)


# --------------------------------------------------------------------------- adversary round 4
# Every answer of adversary round 4 (docs/adversary history: ch08_r4), with the feedback it
# gets; the ones judged right are in the right answers' tables below.

# round 4, 08.1


def r4_route_startswith_no_dot(name, args, kwargs, options, task=None, **kw):
    """startswith without the dot: ai_tasks_legacy.summarize is routed too."""
    if name.startswith("ai_tasks"):
        return {"queue": "ai_processing"}
    if name.startswith("demo_tasks"):
        return {"queue": "demo_tasks"}
    return None


R4_ROUTE_ONLY = 'a route here only chooses the queue: give it "queue" and nothing else'


@pytest.mark.parametrize(
    "routes",
    [
        # Right: Celery publishes a direct queue through the default exchange '' with the
        # queue's name as routing key whatever Queue object the route gives (exchange '', key
        # 'ai_processing', like {"queue": "ai_processing"}); a Queue on the default exchange
        # declares no binding, so its routing_key "ai" is never used, and the same message
        # lands in the same queue. It declares less than Celery's own queue (no exchange
        # 'ai_processing', no binding), which is harmless: the worker declares those.
        pytest.param({"ai_tasks.*": {"queue": Queue("ai_processing", routing_key="ai")},
                      "demo_tasks.*": {"queue": Queue("demo_tasks", routing_key="demo")}},
                     id="r4-queue-object-own-routing-key"),
        pytest.param({"ai_tasks.*": {"queue": Queue("ai_processing")},
                      "demo_tasks.*": {"queue": Queue("demo_tasks")}},
                     id="r4-queue-object-plain"),
    ],
)  # fmt: skip
def test_routes_right_round4(routes) -> None:
    assert_passed(verdict("08.1", routes), "the rest -> celery")


DECLARED_OWN = (
    "Celery declares the queue as its own and publishes straight to it; an exchange and "
    "binding of your own stay on the broker and carry no task"
)
DECLARED_OTHERWISE = (
    "properties are fixed when it is first declared, and the worker that reads the queue "
    "declares it as Celery's own"
)


@pytest.mark.parametrize(
    ("routes", "problem", "hint"),
    [
        # its regex-unescaped-dot, glob-without-dot, section6-email-glob and
        # exchange-without-queue are r3-regex-unescaped-dot, no-dot, section6-email and
        # exchange-not-queue above, with the same feedback
        pytest.param((r4_route_startswith_no_dot,),
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     "a task whose name starts with neither ai_tasks. nor demo_tasks. stays on "
                     "'celery' (the one the course's worker reads): your router must give it no "
                     "route", id="r4-router-startswith-no-dot"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "time_limit": 600,
                                     "soft_time_limit": 540},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's route adds time_limit 600, and sending "
                     "the task raised TypeError", R4_ROUTE_ONLY, id="r4-route-time-limit"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing", "rate_limit": "10/m"},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation is sent with rate_limit '10/m': your "
                     "route adds it", R4_ROUTE_ONLY, id="r4-route-rate-limit"),
        # what the adversary feared of its Queue objects, where it is true: a Queue bound to
        # an exchange of its own, or declared with other properties than the worker's
        pytest.param({"ai_tasks.*": {"queue": Queue("ai_processing", Exchange("ai"), "ai")},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's route declares the exchange 'ai' "
                     "(direct) on the broker as the task is sent, which {\"queue\": "
                     "\"ai_processing\"} does not",
                     f'write the queue\'s name, {{"queue": "ai_processing"}}: {DECLARED_OWN}',
                     id="r4-queue-object-own-exchange"),
        pytest.param({**GOOD_ROUTES, "demo_tasks.*": {"queue": Queue("demo_tasks", Exchange(
                          "demo_tasks", "topic"), "demo_tasks")}},
                     "demo_tasks.simple_calculation's route declares the exchange 'demo_tasks' "
                     "(topic) on the broker as the task is sent",
                     'write the queue\'s name, {"queue": "demo_tasks"}: an exchange\'s '
                     + DECLARED_OTHERWISE, id="r4-queue-object-topic-exchange"),
        pytest.param({"ai_tasks.*": {"queue": Queue("ai_processing", durable=False)},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's route declares the queue "
                     "'ai_processing' with durable=False on the broker",
                     'write the queue\'s name, {"queue": "ai_processing"}: a queue\'s '
                     + DECLARED_OTHERWISE, id="r4-queue-object-not-durable"),
        pytest.param({"ai_tasks.*": {"queue": Queue("ai_processing", max_priority=10)},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "ai_tasks.run_ai_text_generation's route declares the queue "
                     "'ai_processing' with max_priority=10 on the broker",
                     'write the queue\'s name, {"queue": "ai_processing"}: a queue\'s '
                     + DECLARED_OTHERWISE, id="r4-queue-object-max-priority"),
    ],
)  # fmt: skip
def test_routes_wrong_round4(routes, problem, hint) -> None:
    assert_fails(verdict("08.1", routes), problem, hint)


# round 4, 08.2


def r4_rush_swap_task_queue(x, y):
    """Reads the task's queue to put it back: a Task has no queue attribute."""
    old = simple_calculation.queue
    simple_calculation.queue = "urgent"
    try:
        return simple_calculation.delay(x, y)
    finally:
        simple_calculation.queue = old


def r4_rush_swap_router(x, y):
    """Swaps the app's router for the call and puts the same object back (a race)."""
    from celery.app.routes import MapRoute

    old = app.amqp.router
    app.amqp.router = app.amqp.Router(queues=app.amqp.queues, create_missing=True)
    app.amqp.router.routes = list(app.amqp.router.routes)
    app.amqp.router.routes.insert(0, MapRoute({"demo_tasks.*": {"queue": "urgent"}}))
    try:
        return simple_calculation.delay(x, y)
    finally:
        app.amqp.router = old


_R4_PRODUCER = []


def r4_rush_global_producer(x, y):
    """One pooled producer kept for ever in a global."""
    if not _R4_PRODUCER:
        _R4_PRODUCER.append(app.producer_pool.acquire(block=True))
    return simple_calculation.apply_async((x, y), queue="urgent", producer=_R4_PRODUCER[0])


_R4_CONNECTIONS = []


def r4_rush_leaky_connection(x, y):
    """A new connection per call, never closed (the test closes them)."""
    conn = app.connection_for_write()
    _R4_CONNECTIONS.append(conn)
    return simple_calculation.apply_async((x, y), queue="urgent", connection=conn)


def r4_rush_queue_object_routing_key(x, y):
    """Right: published like queue="urgent" (exchange '', key 'urgent'); "rush" binds nothing."""
    return simple_calculation.apply_async((x, y), queue=Queue("urgent", routing_key="rush"))


def r4_rush_queue_object_own_exchange(x, y):
    """A Queue bound to an exchange of its own: the binding stays on the broker."""
    return simple_calculation.apply_async((x, y), queue=Queue("urgent", Exchange("rush"), "rush"))


def r4_rush_queue_object_max_priority(x, y):
    """A Queue declared with other properties than the worker of 'urgent' declares."""
    return simple_calculation.apply_async((x, y), queue=Queue("urgent", max_priority=10))


def r4_rush_not_in_parent(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", add_to_parent=False)


# its send-task-by-name and kwargs-not-args are rush_send_task and rush_keywords (right since
# round 1: the same message, and simple_calculation(x=x, y=y) is the same call)
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(r4_rush_queue_object_routing_key, id="r4-queue-object-routing-key"),
        pytest.param(rush_send_task, id="r4-send-task-by-name"),
        pytest.param(rush_keywords, id="r4-kwargs-not-args"),
    ],
)
def test_rush_right_round4(answer) -> None:
    assert_passed(verdict("08.2", answer), "went to 'urgent'")
    _routes_unchanged()


PRODUCER_HINT = (
    "leave producer out: apply_async takes a producer from the app's pool for this one send "
    "and gives it back"
)
MIDWAY = (
    "while it sent the task, and put it back afterwards: in the meantime that is the routing "
    "of every task the app sends, from any thread"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_rush_swap_task_queue, "your code raised AttributeError: "
                     "'simple_calculation' object has no attribute 'queue'", None,
                     id="r4-swap-task-queue"),
        pytest.param(r4_rush_swap_router,
                     f"rush(2, 3) changed the app's router (app.amqp.router) {MIDWAY}",
                     "choose the queue for this one call: apply_async((x, y), queue='urgent') "
                     "leaves the routes as they are", id="r4-swap-router"),
        pytest.param(r3_rush_swap_routes, CHANGED, "choose the queue for this one call",
                     id="r4-swap-conf-routes"),
        pytest.param(r4_rush_global_producer, "rush(2, 3) passed producer=a Producer of its "
                     "own: the same producer on every call, shared by every caller and thread",
                     PRODUCER_HINT, id="r4-global-producer"),
        pytest.param(r4_rush_leaky_connection, "rush(2, 3) passed connection=a Connection of "
                     "its own", "leave connection out: apply_async takes a connection from the "
                     "app's pool and gives it back", id="r4-leaky-connection"),
        pytest.param(r4_rush_not_in_parent, "rush(2, 3) gave add_to_parent=False", NOTHING_ELSE,
                     id="r4-add-to-parent-false"),
        pytest.param(rush_swapped_args, "rush(2, 3) sent args=[3, 2] kwargs={}",
                     "pass the function's own x and y", id="r4-swapped-args"),
        pytest.param(r3_rush_default_kwarg, "rush(2, 3) sent args=[2, 3] kwargs={'seconds': "
                     "0.2}: it also gives seconds=0.2, which the plain call leaves to the task's "
                     "own default", "send only x and y, as rush's caller asked",
                     id="r4-explicit-default-kwarg"),
        # what the adversary feared of queue=Queue("urgent", routing_key="rush"), where it is
        # true: a Queue with an exchange of its own, or other properties than the worker's
        pytest.param(r4_rush_queue_object_own_exchange, "rush(2, 3) declared the exchange "
                     "'rush' (direct) on the broker as it sent the task, which queue='urgent' "
                     "does not", f"write the queue's name, queue='urgent': {DECLARED_OWN}",
                     id="r4-queue-object-own-exchange"),
        pytest.param(r4_rush_queue_object_max_priority, "rush(2, 3) declared the queue "
                     "'urgent' with max_priority=10 on the broker as it sent the task",
                     f"write the queue's name, queue='urgent': a queue's {DECLARED_OTHERWISE}",
                     id="r4-queue-object-max-priority"),
    ],
)  # fmt: skip
def test_rush_wrong_round4(answer, problem, hint) -> None:
    _sent_once.clear()
    try:
        assert_fails(verdict("08.2", answer), problem, hint)
    finally:
        while _R4_PRODUCER:
            _R4_PRODUCER.pop().release()
        while _R4_CONNECTIONS:
            _R4_CONNECTIONS.pop().close()
    _routes_unchanged()


# round 4, 08.3 (nothing got through; every option is refused by name)

R4_CALL = "worker_command('ai_processing', 1, 'ai-worker')"
R4_CHANGES = (
    "changes how the worker runs, and the exercise asks for -A, -Q, -c and -n only (logging "
    "and monitoring options such as -l info or -E are fine): leave it out"
)


def r4_command(*, name_at="%h", concurrency=str, before=(), after=()):
    """The right line, with another host part, concurrency type, or options around worker."""

    def answer(queue, concurrency_, name):
        return ["celery", "-A", "course_tasks", *before, "worker", "-Q", queue,
                "-c", concurrency(concurrency_), "-n", f"{name}@{name_at}", *after]  # fmt: skip

    return answer


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_command(after=["-O", "fair"]), f"{R4_CALL}: the command adds -O fair",
                     f"-O fair {R4_CHANGES}", id="r4-optimization-fair"),
        pytest.param(r4_command(after=["--max-tasks-per-child", "10"]),
                     f"{R4_CALL}: the command adds --max-tasks-per-child 10",
                     f"--max-tasks-per-child 10 {R4_CHANGES}", id="r4-max-tasks-per-child"),
        pytest.param(r4_command(after=["--max-memory-per-child", "200000"]),
                     f"{R4_CALL}: the command adds --max-memory-per-child 200000",
                     f"--max-memory-per-child 200000 {R4_CHANGES}",
                     id="r4-max-memory-per-child"),
        pytest.param(r4_command(after=["--discard"]), f"{R4_CALL}: the command adds --discard",
                     "--purge deletes every message waiting in the queue each time the worker "
                     "starts", id="r4-discard"),
        pytest.param(r4_command(concurrency=lambda c: c),
                     f"{R4_CALL} returned a list holding an int",
                     "return a list of strings (argv), e.g. [..., '-c', str(concurrency)]",
                     id="r4-int-concurrency"),
        pytest.param(r4_command(name_at="%%h"), f"{R4_CALL}: the node is named 'ai-worker@%h'",
                     "-n ai-worker@%h (%h is this machine's host name)",
                     id="r4-systemd-double-percent"),
        pytest.param(r4_command(before=["-b", "redis://localhost:6379/0"]),
                     f"{R4_CALL}: the command adds -b redis://localhost:6379/0",
                     "the app's configuration names the broker: leave -b out",
                     id="r4-broker-url"),
        pytest.param(r4_command(after=["--statedb", "/var/run/celery/%n.state"]),
                     f"{R4_CALL}: the command adds --statedb /var/run/celery/%n.state",
                     f"--statedb /var/run/celery/%n.state {R4_CHANGES}", id="r4-statedb"),
        pytest.param(r4_command(after=["--heartbeat-interval", "30"]),
                     f"{R4_CALL}: the command adds --heartbeat-interval 30",
                     f"--heartbeat-interval 30 {R4_CHANGES}", id="r4-heartbeat-interval"),
        pytest.param(r4_command(after=["--pool-start-method", "spawn"]),
                     f"{R4_CALL}: the command adds --pool-start-method spawn",
                     f"--pool-start-method spawn {R4_CHANGES}", id="r4-pool-start-method-spawn"),
        pytest.param(r4_command(after=["--disable-prefetch"]),
                     f"{R4_CALL}: the command adds --disable-prefetch",
                     f"--disable-prefetch {R4_CHANGES}", id="r4-disable-prefetch"),
        pytest.param(r4_command(name_at="%n"), f"{R4_CALL}: on a machine named box.example.com, "
                     "the node is named 'ai-worker@box', not 'ai-worker@box.example.com'",
                     "%n is the host name without its domain (box.example.com -> box)",
                     id="r4-percent-n"),
        pytest.param(r4_command(after=["--uid", "nobody"]),
                     f"{R4_CALL}: the command adds --uid nobody", f"--uid nobody {R4_CHANGES}",
                     id="r4-uid-nobody"),
        pytest.param(lambda q, c, n: ["celery", "--workdir", "/srv/app", "-A", "course_tasks",
                                      "worker", "-Q", q, "-c", str(c), "-n", f"{n}@%h"],
                     f"{R4_CALL}: the command adds --workdir /srv/app",
                     "--workdir makes celery change directory before it imports the app: leave "
                     "it out", id="r4-global-workdir"),
        pytest.param(r4_command(before=["--config", "celeryconfig_prod"]),
                     f"{R4_CALL}: the command adds --config celeryconfig_prod",
                     f"--config celeryconfig_prod {R4_CHANGES}", id="r4-global-config"),
        pytest.param(r4_command(after=["-I", "course_tasks.tasks.troubles"]),
                     f"{R4_CALL}: the command adds -I course_tasks.tasks.troubles",
                     f"-I course_tasks.tasks.troubles {R4_CHANGES}", id="r4-include-module"),
    ],
)  # fmt: skip
def test_worker_command_wrong_round4(answer, problem, hint) -> None:
    assert_fails(verdict("08.3", answer), problem, hint)


# round 4, 08.4

R4_ONLY_TWO = "set the two settings only, and leave"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings("1"), "worker_prefetch_multiplier is '1'",
                     "it is a whole number, e.g. 1", id="r4-string-multiplier"),
        pytest.param(settings(1.0), "worker_prefetch_multiplier is 1.0",
                     "it is a whole number, e.g. 1", id="r4-float-multiplier"),
        pytest.param(settings(True), "worker_prefetch_multiplier is True",
                     "it is a whole number, e.g. 1", id="r4-bool-multiplier"),
        pytest.param(settings(acks_late="True"), "task_acks_late is 'True'",
                     "it is True or False (not a string)", id="r4-string-acks"),
        pytest.param({"prefetch_multiplier": 1, "acks_late": True},
                     "settings has no 'worker_prefetch_multiplier'",
                     "set worker_prefetch_multiplier and task_acks_late",
                     id="r4-task-option-names"),
        pytest.param({"CELERYD_PREFETCH_MULTIPLIER": 1, "CELERY_ACKS_LATE": True},
                     "settings has no 'worker_prefetch_multiplier'",
                     "set worker_prefetch_multiplier and task_acks_late",
                     id="r4-old-uppercase-names"),
        # the worker's count comes first: acks_late False is the mistake that shows
        pytest.param({**settings(acks_late=False), "worker_disable_prefetch": True},
                     "while the long task ran, the busy worker held 1 short task(s) behind it",
                     "acknowledged early, the long task frees its prefetch slot as soon as it "
                     "starts", id="r4-disable-prefetch-no-acks-late"),
        pytest.param({**settings(), "broker_transport_options": {"visibility_timeout": 60}},
                     "settings also sets broker_transport_options = {'visibility_timeout': 60}, "
                     "which the exercise does not ask for",
                     f"{R4_ONLY_TWO} broker_transport_options out: on Redis a task not "
                     "acknowledged within visibility_timeout (60 s here) is delivered again",
                     id="r4-short-visibility-timeout"),
        pytest.param({**settings(), "task_time_limit": 60},
                     "settings also sets task_time_limit = 60, which the exercise does not ask "
                     "for", f"{R4_ONLY_TWO} task_time_limit out: a time limit of 60 s stops "
                     "every task that runs longer", id="r4-task-time-limit-60"),
        pytest.param({**settings(), "worker_disable_prefetch": True},
                     "settings also sets worker_disable_prefetch = True",
                     f"{R4_ONLY_TWO} worker_disable_prefetch out: the exercise asks for the "
                     "worker's prefetch and for when a task is acknowledged, nothing more",
                     id="r4-right-two-plus-disable-prefetch"),
    ],
)  # fmt: skip
def test_prefetch_wrong_round4(answer, problem, hint) -> None:
    assert_fails(verdict("08.4", answer), problem, hint)
    assert workers.running() == []


# --------------------------------------------------------------------------- adversary round 5
# Every answer of adversary round 5 (.adversary/ch08_r5.py), with the feedback it gets. Ten had
# full points: 08.1 module-paths-too, ai-module-glob (now names of a later task in the course's
# modules, such as course_tasks.tasks.ai.summarize_document, must stay on celery),
# catch-all-celery (the other names are routed again as in an app whose default queue is
# another), queue-no-declare, declare-empty (the check's broker drops a message for a queue
# nobody declared, as RabbitMQ does); 08.2 urgent-no-declare (the send must declare 'urgent'),
# wraps-error, wraps-error-chained (kombu's OperationalError itself must reach the caller).
# Two are right and stay right: the queue's own exchange and routing key next to its name
# (route-exchange-and-key, exchange-and-key): Celery publishes through its own direct exchange
# of the queue's name, which the send declares and binds, to the same queue, the same message.

# round 5, 08.1

R5_DROPPED = (
    "before any worker has declared 'ai_processing', RabbitMQ drops a message published to a "
    "queue that does not exist, without an error, and the task never runs"
)
R5_MODULE_PATH = (
    '"course_tasks.tasks.ai.*" routes by the module\'s path: a task added later to the '
    "course's modules without a guide name (name=) is named "
    "course_tasks.tasks.ai.summarize_document, and the exercise routes by the name's prefix "
    "only (ai_tasks.): every other task stays on 'celery'. Leave module paths out of the routes"
)


def r5_ai_demo(ai: object = "ai_processing", demo: object = "demo_tasks", **more: object) -> dict:
    """The solution's two globs with other routes, and more patterns after them."""
    return {"ai_tasks.*": ai, "demo_tasks.*": demo, **more}


def r5_queue(name: str, **options: object) -> Queue:
    """Celery's own shape of a queue (its direct exchange, its name as key), with options."""
    return Queue(name, Exchange(name), name, **options)


@pytest.mark.parametrize(
    "routes",
    [
        pytest.param(r5_ai_demo({"queue": "ai_processing", "exchange": "ai_processing",
                                 "routing_key": "ai_processing"},
                                {"queue": "demo_tasks", "exchange": "demo_tasks",
                                 "routing_key": "demo_tasks"}), id="r5-route-exchange-and-key"),
    ],
)  # fmt: skip
def test_routes_right_round5(routes) -> None:
    assert_passed(verdict("08.1", routes), "the rest -> celery")


@pytest.mark.parametrize(
    ("routes", "problem", "hint"),
    [
        pytest.param({"*ai_tasks.*": {"queue": "ai_processing"},
                      "*demo_tasks.*": {"queue": "demo_tasks"}},
                     "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
                     '"*ai_tasks.*" also matches reports.ai_tasks.weekly, which is not one of '
                     'the ai_tasks. tasks: put the dot in the pattern, "ai_tasks.*"',
                     id="r5-substring-glob"),
        pytest.param({re.compile("ai_tasks.*"): {"queue": "ai_processing"},
                      re.compile("demo_tasks.*"): {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     "re.compile('ai_tasks.*') also matches ai_tasks_legacy.summarize: a regex "
                     "key matches any name that starts like it", id="r5-regex-unescaped-dot"),
        pytest.param({re.compile(r"ai_tasks\..*", re.IGNORECASE): {"queue": "ai_processing"},
                      re.compile(r"demo_tasks\..*", re.IGNORECASE): {"queue": "demo_tasks"}},
                     "AI_Tasks.summarize_document goes to the queue 'ai_processing', not "
                     "'celery'", "task names are case-sensitive", id="r5-regex-ignorecase"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing"},
                      "demo_tasks*": {"queue": "demo_tasks"}},
                     "demo_tasksets.cleanup goes to the queue 'demo_tasks', not 'celery'",
                     '"demo_tasks*" also matches demo_tasksets.cleanup, which is not one of the '
                     'demo_tasks. tasks: put the dot in the pattern, "demo_tasks.*"',
                     id="r5-demo-glob-no-dot"),
        pytest.param(r5_ai_demo(**{"course_tasks.tasks.ai.*": {"queue": "ai_processing"},
                                   "course_tasks.tasks.demo.*": {"queue": "demo_tasks"}}),
                     "course_tasks.tasks.ai.summarize_document goes to the queue "
                     "'ai_processing', not 'celery'", R5_MODULE_PATH, id="r5-module-paths-too"),
        pytest.param(r5_ai_demo(**{"*": {"queue": "celery"}}),
                     "in an app whose default queue is another (task_default_queue = "
                     "'course-check-default-08', as the course's lab workers set it), "
                     "course_tasks.tasks.basics.add goes to the queue 'celery', not to that "
                     "default queue: \"*\" routes it to 'celery'",
                     "give every other task no route at all: a task that no pattern matches "
                     "goes to the app's default queue by itself (task_default_queue, 'celery' "
                     "in the course's app), and a route that names 'celery' hard-codes it",
                     id="r5-catch-all-celery"),
        pytest.param({"ai_tasks.*": {"queue": "ai_processing"},
                      "demo_tasks.long_job*": {"queue": "ai_processing"},
                      "demo_tasks.*": {"queue": "demo_tasks"}},
                     "demo_tasks.long_job goes to the queue 'ai_processing', not 'demo_tasks'",
                     '"demo_tasks.long_job*" also matches demo_tasks.long_job: route '
                     "\"demo_tasks.*\" to 'demo_tasks'", id="r5-long-jobs-to-ai"),
        pytest.param(r5_ai_demo({"queue": r5_queue("ai_processing", max_priority=10)},
                                {"queue": r5_queue("demo_tasks", max_priority=10)}),
                     "ai_tasks.run_ai_text_generation's route declares the queue "
                     "'ai_processing' with max_priority=10 on the broker",
                     'write the queue\'s name, {"queue": "ai_processing"}: a queue\'s '
                     + DECLARED_OTHERWISE, id="r5-queue-max-priority"),
        pytest.param(r5_ai_demo({"queue": Queue("ai_processing", no_declare=True)},
                                {"queue": Queue("demo_tasks", no_declare=True)}),
                     "ai_tasks.run_ai_text_generation's message reached no queue: its route "
                     "names 'ai_processing', but the send declared no queue 'ai_processing' "
                     "(the kombu Queue 'ai_processing' has no_declare=True, so nothing is "
                     "declared), and on a broker where no worker has declared it yet the "
                     "message is dropped",
                     "leave no_declare out (or write the queue's name, {\"queue\": "
                     "\"ai_processing\"}): Celery then declares the queue as it sends; "
                     + R5_DROPPED, id="r5-queue-no-declare"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "delivery_mode": "transient"}),
                     "ai_tasks.run_ai_text_generation is sent with delivery_mode 1 "
                     "(non-persistent): your route adds it", R4_ROUTE_ONLY,
                     id="r5-transient-ai"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "declare": []},
                                {"queue": "demo_tasks", "declare": []}),
                     "ai_tasks.run_ai_text_generation's message reached no queue: its route "
                     "names 'ai_processing', but the send declared no queue 'ai_processing' "
                     "(declare=[] replaces the queue Celery declares as it sends)",
                     "leave declare out: with {\"queue\": \"ai_processing\"} Celery declares the "
                     "queue as it sends; " + R5_DROPPED, id="r5-declare-empty"),
        pytest.param(r5_ai_demo({"queue": Queue("ai_processing", Exchange(
                         "ai_processing", delivery_mode="transient"), "ai_processing")}),
                     "ai_tasks.run_ai_text_generation is sent with delivery_mode 1 "
                     "(non-persistent): your route adds it", R4_ROUTE_ONLY,
                     id="r5-transient-exchange"),
        pytest.param(r5_ai_demo({"queue": Queue("ai_processing", Exchange(
                                     "ai_processing", durable=False), "ai_processing")},
                                {"queue": Queue("demo_tasks", Exchange(
                                     "demo_tasks", durable=False), "demo_tasks")}),
                     "ai_tasks.run_ai_text_generation's route declares the exchange "
                     "'ai_processing' (direct, durable=False) on the broker as the task is "
                     "sent, which {\"queue\": \"ai_processing\"} does not",
                     'write the queue\'s name, {"queue": "ai_processing"}: an exchange\'s '
                     + DECLARED_OTHERWISE, id="r5-exchange-not-durable"),
        pytest.param(r5_ai_demo({"queue": r5_queue("ai_processing", auto_delete=True)},
                                {"queue": r5_queue("demo_tasks", auto_delete=True)}),
                     "ai_tasks.run_ai_text_generation's route declares the queue "
                     "'ai_processing' with auto_delete=True on the broker",
                     'write the queue\'s name, {"queue": "ai_processing"}: a queue\'s '
                     + DECLARED_OTHERWISE, id="r5-queue-auto-delete"),
        pytest.param(r5_ai_demo({"queue": r5_queue("ai_processing", expires=3600)}),
                     "ai_tasks.run_ai_text_generation's route declares the queue "
                     "'ai_processing' with expires=3600.0 on the broker",
                     'write the queue\'s name, {"queue": "ai_processing"}: a queue\'s '
                     + DECLARED_OTHERWISE, id="r5-queue-expires"),
        pytest.param(r5_ai_demo(**{"course_tasks.tasks.ai.*": {"queue": "ai_processing"}}),
                     "course_tasks.tasks.ai.summarize_document goes to the queue "
                     "'ai_processing', not 'celery'", R5_MODULE_PATH, id="r5-ai-module-glob"),
        pytest.param(r5_ai_demo(**{"course_tasks.tasks.email.*": {"queue": "demo_tasks"}}),
                     "course_tasks.tasks.email.send_welcome_email goes to the queue "
                     "'demo_tasks', not 'celery'",
                     '"course_tasks.tasks.email.*" also sends course_tasks.tasks.email.'
                     "send_welcome_email to 'demo_tasks'", id="r5-section6-email-glob"),
    ],
)  # fmt: skip
def test_routes_wrong_round5(routes, problem, hint) -> None:
    assert_fails(verdict("08.1", routes), problem, hint)


def test_routes_leave_the_app_queues_as_they_were() -> None:
    """The run as in an app of another default queue adds no queue to the course's app."""
    before = set(app.amqp.queues)
    assert_passed(verdict("08.1", GOOD_ROUTES), "the rest went to that one")
    assert set(app.amqp.queues) - before <= {"ai_processing", "demo_tasks"}


# round 5, 08.2

_R5_HELD: list = []  # producers and connections the answers keep, released by the test


def r5_rush_producer_leak(x, y):
    """A pool producer per call, never given back: the pool's 11th call waits forever."""
    producer = app.producer_pool.acquire(block=True)
    _R5_HELD.append(producer)
    return simple_calculation.apply_async((x, y), queue="urgent", producer=producer)


def r5_rush_connection_leak(x, y):
    conn = app.connection_for_write()
    _R5_HELD.append(conn)
    return simple_calculation.apply_async((x, y), queue="urgent", connection=conn)


def r5_rush_global_producer(x, y):
    """One pool producer kept in a global, shared by every caller and thread."""
    if not _R5_HELD:
        _R5_HELD.append(app.producer_pool.acquire(block=True))
    return simple_calculation.apply_async((x, y), queue="urgent", producer=_R5_HELD[0])


def r5_rush_pool_producer_given_back(x, y):
    """The aside of round 5: a pool producer, given back; still an option the text forbids."""
    with app.producer_or_acquire() as producer:
        return simple_calculation.apply_async((x, y), queue="urgent", producer=producer)


def r5_rush_connection_closed(x, y):
    with app.connection_for_write() as conn:
        return simple_calculation.apply_async((x, y), queue="urgent", connection=conn)


def r5_rush_publish_timeout(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", timeout=2)


def r5_rush_wraps_error(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        raise RuntimeError(f"could not queue the urgent calculation: {exc}") from None


def r5_rush_second_try_default(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError:
        return simple_calculation.apply_async((x, y))


_r5_cache: dict = {}


def r5_rush_cached(x, y):
    """functools.lru_cache's effect: the same arguments return the first call's result."""
    if (x, y) not in _r5_cache:
        _r5_cache[(x, y)] = simple_calculation.apply_async((x, y), queue="urgent")
    return _r5_cache[(x, y)]


def r5_rush_no_declare(x, y):
    return simple_calculation.apply_async((x, y), queue=Queue("urgent", no_declare=True))


def r5_rush_exchange_and_key(x, y):
    """Right: Celery's own exchange 'urgent', declared and bound by the send, the same queue."""
    return simple_calculation.apply_async((x, y), queue="urgent", exchange="urgent",
                                          routing_key="urgent")  # fmt: skip


def r5_rush_swallows(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError:
        return None


class R5UrgentUnavailable(Exception):
    pass


def r5_rush_wraps_error_chained(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        raise R5UrgentUnavailable("urgent queue unavailable") from exc


def r5_rush_declare_empty(x, y):
    return simple_calculation.apply_async((x, y), queue="urgent", declare=[])


def r5_rush_queue_max_priority(x, y):
    return simple_calculation.apply_async(
        (x, y), queue=Queue("urgent", Exchange("urgent"), "urgent", max_priority=10)
    )


def r5_rush_queue_topic(x, y):
    return simple_calculation.apply_async(
        (x, y), queue=Queue("urgent", Exchange("urgent", type="topic"), "urgent")
    )


def r5_rush_queue_not_durable(x, y):
    return simple_calculation.apply_async((x, y), queue=Queue("urgent", durable=False))


def r5_rush_wraps_in_a_subclass(x, y):
    """Right: an OperationalError of its own kind is still one for the caller's except."""
    from kombu.exceptions import OperationalError

    class UrgentUnavailable(OperationalError):
        pass

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        raise UrgentUnavailable(str(exc)) from exc


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(r5_rush_exchange_and_key, id="r5-exchange-and-key"),
        # (r5-wraps-in-a-subclass was right here until round 6: the text now asks for the very
        # exception apply_async raised, see r6-subclass-error)
    ],
)
def test_rush_right_round5(answer) -> None:
    assert_passed(verdict("08.2", answer), "raised OperationalError")
    _routes_unchanged()


R5_WRAPPED = "a caller that handles OperationalError (retry later, answer 503) does not catch it"
R5_WRAPPED_HINT = (
    "let apply_async's OperationalError reach rush's caller as it is: don't replace it with "
    "another exception, not even a new OperationalError or a subclass (to log it, catch it and "
    "re-raise it with a bare raise"
)
R5_URGENT_DROPPED = (
    "before any worker has declared 'urgent', RabbitMQ drops a message published to a queue "
    "that does not exist, without an error, and the task never runs"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r5_rush_producer_leak, "rush(2, 3) passed producer=a Producer of its own: "
                     "taken from the app's pool and not given back after the call: each call "
                     "keeps one of the pool's 10 producers for good, and once they are all "
                     "taken the next call waits forever", PRODUCER_HINT, id="r5-producer-leak"),
        pytest.param(r5_rush_connection_leak, "rush(2, 3) passed connection=a Connection of "
                     "its own: the message goes out on a connection rush chose, not on the "
                     "app's pool (it is still open after the call",
                     "leave connection out: apply_async takes a connection from the app's pool "
                     "and gives it back", id="r5-connection-leak"),
        pytest.param(r5_rush_global_producer, "rush(2, 3) passed producer=a Producer of its "
                     "own: the same producer on every call, shared by every caller and thread",
                     PRODUCER_HINT, id="r5-global-producer"),
        pytest.param(r5_rush_pool_producer_given_back, "rush(2, 3) passed producer=a Producer "
                     "of its own: the exercise asks for the queue only, and apply_async takes "
                     "one itself", PRODUCER_HINT, id="r5-pool-producer-given-back"),
        pytest.param(r5_rush_connection_closed, "rush(2, 3) passed connection=a Connection of "
                     "its own: the message goes out on a connection rush chose, not on the "
                     "app's pool (the exercise asks for the queue only",
                     "leave connection out", id="r5-connection-closed"),
        pytest.param(rush_swapped_args, "rush(2, 3) sent args=[3, 2] kwargs={}",
                     "pass the function's own x and y", id="r5-swapped-args"),
        pytest.param(r5_rush_publish_timeout, "rush(2, 3) gave timeout=2", NOTHING_ELSE,
                     id="r5-publish-timeout"),
        pytest.param(r5_rush_wraps_error, "when the broker refused every attempt to publish, "
                     "rush(7, 5) raised RuntimeError in place of the OperationalError "
                     "apply_async raised (which hides the OperationalError): " + R5_WRAPPED,
                     R5_WRAPPED_HINT, id="r5-wraps-error"),
        pytest.param(r5_rush_second_try_default, "when the broker refused every attempt to "
                     "publish rush(7, 5) to 'urgent', rush sent demo_tasks.simple_calculation "
                     "to 'course-check-demo-08' instead", "let the error reach rush's caller",
                     id="r5-fallback-default-route"),
        pytest.param(r5_rush_cached, "rush(2, 3) sent no task",
                     "send it with simple_calculation.apply_async(...)", id="r5-lru-cache"),
        pytest.param(r5_rush_no_declare, "rush(2, 3) declared no queue 'urgent' on the broker "
                     "as it sent the task (the kombu Queue 'urgent' has no_declare=True, so "
                     "nothing is declared), where queue='urgent' declares it",
                     "leave no_declare out (or write the queue's name, queue='urgent'): Celery "
                     "then declares the queue as it sends; " + R5_URGENT_DROPPED,
                     id="r5-urgent-no-declare"),
        pytest.param(r5_rush_swallows, "rush(7, 5) returned None when the broker refused every "
                     "attempt to publish it", "let the error reach the caller",
                     id="r5-swallows-error"),
        pytest.param(r5_rush_wraps_error_chained, "when the broker refused every attempt to "
                     "publish, rush(7, 5) raised R5UrgentUnavailable in place of the "
                     "OperationalError apply_async raised (it keeps the OperationalError as its "
                     "cause, from exc, but an except clause matches the type of the exception "
                     "raised): " + R5_WRAPPED, R5_WRAPPED_HINT, id="r5-wraps-error-chained"),
        pytest.param(r5_rush_declare_empty, "rush(2, 3) declared no queue 'urgent' on the "
                     "broker as it sent the task (declare=[] replaces the queue Celery "
                     "declares as it sends), where queue='urgent' declares it",
                     "leave declare out: with queue='urgent' Celery declares the queue as it "
                     "sends; " + R5_URGENT_DROPPED, id="r5-declare-empty"),
        pytest.param(r5_rush_queue_max_priority, "rush(2, 3) declared the queue 'urgent' with "
                     "max_priority=10 on the broker as it sent the task",
                     f"write the queue's name, queue='urgent': a queue's {DECLARED_OTHERWISE}",
                     id="r5-urgent-max-priority"),
        pytest.param(r5_rush_queue_topic, "rush(2, 3) declared the exchange 'urgent' (topic) on "
                     "the broker as it sent the task, which queue='urgent' does not",
                     f"write the queue's name, queue='urgent': an exchange's "
                     f"{DECLARED_OTHERWISE}", id="r5-urgent-topic-exchange"),
        pytest.param(r5_rush_queue_not_durable, "rush(2, 3) declared the queue 'urgent' with "
                     "durable=False on the broker as it sent the task",
                     f"write the queue's name, queue='urgent': a queue's {DECLARED_OTHERWISE}",
                     id="r5-urgent-not-durable"),
    ],
)  # fmt: skip
def test_rush_wrong_round5(answer, problem, hint) -> None:
    _r5_cache.clear()
    try:
        assert_fails(verdict("08.2", answer), problem, hint)
    finally:
        while _R5_HELD:
            held = _R5_HELD.pop()
            held.release() if hasattr(held, "release") else held.close()
    _routes_unchanged()


# round 5, 08.3 (nothing got through; -P solo and a one-item "-n NAME" now get their own hint)


def r5_command(*, node="%h", before=(), after=()):
    """The right line with options before worker or after it, or another host part."""

    def answer(queue, concurrency, name):
        return ["celery", "-A", "course_tasks", *before, "worker", "-Q", queue,
                "-c", str(concurrency), "-n", f"{name}@{node}", *after]  # fmt: skip

    return answer


def r5_cmd_node_name_space(queue, concurrency, name):
    return ["celery", "-A", "course_tasks", "worker", "-Q", queue, "-c", str(concurrency),
            f"-n {name}@%h"]  # fmt: skip


def r5_cmd_solo_for_one(queue, concurrency, name):
    cmd = ["celery", "-A", "course_tasks", "worker", "-Q", queue, "-n", f"{name}@%h"]
    return cmd + (["-P", "solo"] if concurrency == 1 else ["-c", str(concurrency)])


def r5_cmd_workdir(queue, concurrency, name):
    return ["celery", "--workdir", "/app", "-A", "course_tasks", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%h"]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r5_command(before=["-b", "redis://localhost:6379/0"]),
                     f"{R4_CALL}: the command adds -b redis://localhost:6379/0",
                     "the app's configuration names the broker: leave -b out",
                     id="r5-broker-hardcoded"),
        pytest.param(r5_command(before=["--result-backend", "redis://localhost:6379/1"]),
                     f"{R4_CALL}: the command adds --result-backend redis://localhost:6379/1",
                     "the app's configuration names the result backend: leave it out",
                     id="r5-backend-hardcoded"),
        pytest.param(r5_cmd_workdir, f"{R4_CALL}: the command adds --workdir /app",
                     "--workdir makes celery change directory before it imports the app",
                     id="r5-workdir-app"),
        pytest.param(r5_cmd_node_name_space, f"{R4_CALL}: the node is named ' ai-worker@",
                     "'-n ai-worker@%h' is one list item: celery reads -n and takes the rest "
                     "of the item, space included, as the name. Give -n and its value as two "
                     "items: [..., '-n', f'{name}@%h']", id="r5-node-name-space"),
        pytest.param(r5_command(node="%%h"), f"{R4_CALL}: the node is named 'ai-worker@%h'",
                     "-n ai-worker@%h (%h is this machine's host name)",
                     id="r5-supervisor-percent"),
        pytest.param(r5_command(after=["--statedb", "/var/run/celery/%n.state"]),
                     f"{R4_CALL}: the command adds --statedb /var/run/celery/%n.state",
                     f"--statedb /var/run/celery/%n.state {R4_CHANGES}", id="r5-statedb"),
        pytest.param(r5_command(after=["--max-tasks-per-child", "1"]),
                     f"{R4_CALL}: the command adds --max-tasks-per-child 1",
                     f"--max-tasks-per-child 1 {R4_CHANGES}", id="r5-max-tasks-per-child"),
        pytest.param(r5_command(after=["--max-memory-per-child", "500000"]),
                     f"{R4_CALL}: the command adds --max-memory-per-child 500000",
                     f"--max-memory-per-child 500000 {R4_CHANGES}",
                     id="r5-max-memory-per-child"),
        pytest.param(r5_cmd_solo_for_one, f"{R4_CALL}: the command adds -P solo",
                     "-P solo runs one task at a time, whatever -c says: leave -P out",
                     id="r5-solo-for-one"),
        pytest.param(r5_command(after=["--discard"]), f"{R4_CALL}: the command adds --discard",
                     "--purge deletes every message waiting in the queue", id="r5-discard"),
        pytest.param(r5_command(after=["--uid", "nobody", "--gid", "nogroup"]),
                     f"{R4_CALL}: the command adds --uid nobody", f"--uid nobody {R4_CHANGES}",
                     id="r5-uid-gid"),
        pytest.param(r5_command(after=["-O", "fast"]), "celery worker refuses it: Invalid "
                     "value for '-O' / '--optimization': 'fast' is not one of",
                     "-Q QUEUE -c N -n NAME@%h (celery worker --help lists them)",
                     id="r5-optimization-fast"),
        pytest.param(r5_command(after=["--", "worker.prefetch_multiplier=1"]),
                     f"{R4_CALL}: the command ends with ['worker.prefetch_multiplier=1'], which "
                     "celery worker reads as settings", "-A, -Q, -c and -n are all this worker "
                     "needs", id="r5-cmdline-config"),
        pytest.param(r5_command(after=["--pool-start-method", "spawn"]),
                     f"{R4_CALL}: the command adds --pool-start-method spawn",
                     f"--pool-start-method spawn {R4_CHANGES}", id="r5-pool-start-spawn"),
        pytest.param(r5_command(before=["--config", "celeryconfig"]),
                     f"{R4_CALL}: the command adds --config celeryconfig",
                     f"--config celeryconfig {R4_CHANGES}", id="r5-config-module"),
        pytest.param(r5_command(after=["--heartbeat-interval", "30"]),
                     f"{R4_CALL}: the command adds --heartbeat-interval 30",
                     f"--heartbeat-interval 30 {R4_CHANGES}", id="r5-heartbeat-interval"),
        pytest.param(r5_command(after=["-I", "course_tasks.tasks.ai"]),
                     f"{R4_CALL}: the command adds -I course_tasks.tasks.ai",
                     f"-I course_tasks.tasks.ai {R4_CHANGES}", id="r5-include-ai"),
        pytest.param(r5_command(after=["--pidfile", "/var/run/celery/%n.pid"]),
                     f"{R4_CALL}: the command adds --pidfile /var/run/celery/%n.pid",
                     f"--pidfile /var/run/celery/%n.pid {R4_CHANGES}", id="r5-pidfile"),
        pytest.param(r5_command(node="%n"), f"{R4_CALL}: on a machine named box.example.com, "
                     "the node is named 'ai-worker@box', not 'ai-worker@box.example.com'",
                     "%n is the host name without its domain (box.example.com -> box)",
                     id="r5-short-host"),
    ],
)  # fmt: skip
def test_worker_command_wrong_round5(answer, problem, hint) -> None:
    assert_fails(verdict("08.3", answer), problem, hint)


# round 5, 08.4 (nothing got through)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(acks_late=1), "task_acks_late is 1",
                     "it is a bool, True or False, not an int", id="r5-acks-late-int"),
        pytest.param(settings(acks_late="True"), "task_acks_late is 'True'",
                     "it is True or False (not a string)", id="r5-acks-late-str"),
        pytest.param(settings(True), "worker_prefetch_multiplier is True",
                     "it is a whole number, e.g. 1", id="r5-multiplier-true"),
        pytest.param(settings(1.0), "worker_prefetch_multiplier is 1.0",
                     "it is a whole number, e.g. 1", id="r5-multiplier-float"),
        pytest.param(settings("1"), "worker_prefetch_multiplier is '1'",
                     "it is a whole number, e.g. 1", id="r5-multiplier-str"),
        pytest.param(settings(0), "while the long task ran, the busy worker held 2 short "
                     "task(s) behind it", "0 means no limit at all", id="r5-zero-acks-late"),
        pytest.param(settings(-1), "worker_prefetch_multiplier is -1",
                     "a count of messages is never negative", id="r5-negative"),
        pytest.param(settings(acks_late=False), "while the long task ran, the busy worker held "
                     "1 short task(s) behind it", "acknowledged early, the long task frees its "
                     "prefetch slot as soon as it starts", id="r5-acks-early"),
    ],
)  # fmt: skip
def test_prefetch_wrong_round5(answer, problem, hint) -> None:
    assert_fails(verdict("08.4", answer), problem, hint)
    assert workers.running() == []


# --------------------------------------------------------------------------- adversary round 6
# Every answer of adversary round 6 (.adversary/ch08_r6.py), with the feedback it gets. Nine had
# full points: 08.1 route-retry-false and route-retry-policy-zero (the check's broker now drops
# each message's first attempt to publish, and a route's retry and retry_policy are judged by
# 08.2's rule), route-topic-routing-key (an exchange or routing key that is not the queue's
# own is refused, even where Celery drops it); 08.2 subclass-error and rewrap-same-type (the
# very exception apply_async raised must reach the caller), local-fallback (a run of the task
# in the caller's thread is seen), manual-retry-loop (more than one apply_async during the
# outage is counted), priority-zero (the second call runs while the task has a priority of its
# own, 5, which priority=0 replaces). One is right and stays right: route-priority-zero (a
# task's own priority wins over a route's, and without one 0 is what a message gets: the text
# now says so).

# round 6, 08.1


def r6_route_startswith(name, args, kwargs, options, task=None, **kw):
    if name.startswith("ai_tasks"):
        return {"queue": "ai_processing"}
    if name.startswith("demo_tasks"):
        return {"queue": "demo_tasks"}
    return None


def r6_route_contains(name, args, kwargs, options, task=None, **kw):
    if "ai_tasks." in name:
        return {"queue": "ai_processing"}
    if "demo_tasks." in name:
        return {"queue": "demo_tasks"}
    return None


R6_NOT_RETRIED = (
    "when the broker dropped the first attempt to publish (a blip, which Celery retries by "
    "default), sending the task raised OperationalError, and the task was lost"
)
R6_RETRY_ROUTE_HINT = (
    'a route here only chooses the queue: give it "queue" and nothing else (leave retry and '
    "retry_policy out: Celery retries a publish the broker drops (task_publish_retry)"
)
R6_FOREIGN_ROUTE_HINT = (
    'a route here only chooses the queue: give it "queue" and nothing else, {"queue": '
    '"ai_processing"} (the queue\'s own exchange and routing key, "ai_processing", are fine too)'
)
R6_ANY_PREFIX = (
    "a task whose name starts with neither ai_tasks. nor demo_tasks. stays on 'celery' (the one "
    "the course's worker reads): your router must give it no route"
)


@pytest.mark.parametrize(
    "routes",
    [
        # Right: a task's own priority wins over a route's (lpmerge in Router.route), and a
        # message without a priority gets 0 from the transports: "priority": 0 changes nothing.
        pytest.param(r5_ai_demo({"queue": "ai_processing", "priority": 0},
                                {"queue": "demo_tasks", "priority": 0}),
                     id="r6-route-priority-zero"),
        # Right: the app's own publish retry, spelled out (08.2 accepts retry=True too).
        pytest.param(r5_ai_demo({"queue": "ai_processing", "retry": True,
                                 "retry_policy": dict(app.conf.task_publish_retry_policy)}),
                     id="r6-route-retry-as-the-app"),
        # Right: the default exchange '' delivers straight to the queue, as Celery does anyway.
        pytest.param(r5_ai_demo({"queue": "ai_processing", "exchange": ""}),
                     id="r6-route-default-exchange"),
    ],
)  # fmt: skip
def test_routes_right_round6(routes) -> None:
    assert_passed(verdict("08.1", routes), "the rest -> celery")


@pytest.mark.parametrize(
    ("routes", "problem", "hint"),
    [
        pytest.param({"*ai_tasks.*": {"queue": "ai_processing"},
                      "*demo_tasks.*": {"queue": "demo_tasks"}},
                     "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
                     '"*ai_tasks.*" also matches reports.ai_tasks.weekly, which is not one of '
                     'the ai_tasks. tasks: put the dot in the pattern, "ai_tasks.*"',
                     id="r6-leading-star-glob"),
        pytest.param({"ai_tasks*": {"queue": "ai_processing"},
                      "demo_tasks*": {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     '"ai_tasks*" also matches ai_tasks_legacy.summarize', id="r6-glob-no-dot"),
        pytest.param({re.compile(r"ai_tasks"): {"queue": "ai_processing"},
                      re.compile(r"demo_tasks"): {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     "re.compile('ai_tasks') also matches ai_tasks_legacy.summarize: a regex key "
                     "matches any name that starts like it", id="r6-regex-prefix-no-dot"),
        pytest.param({re.compile(r"ai_tasks.*"): {"queue": "ai_processing"},
                      re.compile(r"demo_tasks.*"): {"queue": "demo_tasks"}},
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     "re.compile('ai_tasks.*') also matches ai_tasks_legacy.summarize: a regex "
                     "key matches any name that starts like it, so end it with the escaped dot",
                     id="r6-regex-unescaped-dot"),
        pytest.param({re.compile(r"ai_tasks\.\w+$"): {"queue": "ai_processing"},
                      re.compile(r"demo_tasks\.\w+$"): {"queue": "demo_tasks"}},
                     "demo_tasks.3d-render goes to the queue 'celery', not 'demo_tasks'",
                     "re.compile('demo_tasks\\\\.\\\\w+$') matches only some of them: "
                     '"demo_tasks.*" matches every task whose name starts with demo_tasks.',
                     id="r6-regex-word-anchored"),
        pytest.param({re.compile(r"ai_tasks\.", re.IGNORECASE): {"queue": "ai_processing"},
                      re.compile(r"demo_tasks\.", re.IGNORECASE): {"queue": "demo_tasks"}},
                     "AI_Tasks.summarize_document goes to the queue 'ai_processing', not 'celery'",
                     "task names are case-sensitive", id="r6-regex-ignorecase"),
        pytest.param({"ai_tasks.[a-zA-Z]*": {"queue": "ai_processing"},
                      "demo_tasks.[a-zA-Z]*": {"queue": "demo_tasks"}},
                     "ai_tasks._warmup goes to the queue 'celery', not 'ai_processing'",
                     '"ai_tasks.[a-zA-Z]*" matches only names that go on with a character of '
                     "its [...] set", id="r6-glob-letter-class"),
        pytest.param((r6_route_startswith,),
                     "ai_tasks_legacy.summarize goes to the queue 'ai_processing', not 'celery'",
                     R6_ANY_PREFIX, id="r6-function-startswith-no-dot"),
        pytest.param((r6_route_contains,),
                     "reports.ai_tasks.weekly goes to the queue 'ai_processing', not 'celery'",
                     R6_ANY_PREFIX, id="r6-function-contains"),
        pytest.param(r5_ai_demo(**{"course_tasks.tasks.demo.*": {"queue": "demo_tasks"}}),
                     "course_tasks.tasks.demo.resize_image goes to the queue 'demo_tasks', not "
                     "'celery'", '"course_tasks.tasks.demo.*" routes by the module\'s path',
                     id="r6-extra-demo-module-glob"),
        pytest.param(r5_ai_demo(**{"course_tasks.tasks.email.*": {"queue": "demo_tasks"}}),
                     "course_tasks.tasks.email.send_welcome_email goes to the queue "
                     "'demo_tasks', not 'celery'", '"course_tasks.tasks.email.*" also sends '
                     "course_tasks.tasks.email.send_welcome_email to 'demo_tasks'",
                     id="r6-extra-email-glob"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "expires": 3600}),
                     "ai_tasks.run_ai_text_generation's route adds expires 3600, and sending the "
                     "task raised TypeError", ROUTE_ONLY, id="r6-route-expires"),
        pytest.param(r5_ai_demo(demo={"queue": "demo_tasks", "delivery_mode": "transient"}),
                     "demo_tasks.simple_calculation is sent with delivery_mode 1 "
                     "(non-persistent): your route adds it",
                     f"{ROUTE_ONLY} (a transient message: RabbitMQ loses it when it restarts)",
                     id="r6-route-transient"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "time_limit": 600}),
                     "ai_tasks.run_ai_text_generation's route adds time_limit 600, and sending "
                     "the task raised TypeError", ROUTE_ONLY, id="r6-route-time-limit"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "ignore_result": True}),
                     "ai_tasks.run_ai_text_generation's route adds ignore_result True, and "
                     "sending the task raised TypeError", ROUTE_ONLY, id="r6-route-ignore-result"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "compression": "zlib"}),
                     "ai_tasks.run_ai_text_generation is sent with compression "
                     "'application/x-gzip': your route adds it", ROUTE_ONLY,
                     id="r6-route-compression"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "retry": False}),
                     "ai_tasks.run_ai_text_generation's route adds retry=False: " + R6_NOT_RETRIED,
                     R6_RETRY_ROUTE_HINT, id="r6-route-retry-false"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "retry_policy": {"max_retries": 0}}),
                     "ai_tasks.run_ai_text_generation's route adds retry_policy={'max_retries': "
                     "0}: " + R6_NOT_RETRIED, R6_RETRY_ROUTE_HINT, id="r6-route-retry-policy-zero"),
        # one retry survives the check's one dropped attempt, but it is not the app's policy
        pytest.param(r5_ai_demo({"queue": "ai_processing", "retry_policy": {"max_retries": 1}}),
                     "ai_tasks.run_ai_text_generation's route adds retry_policy={'max_retries': "
                     "1}: it changes how a publish the broker drops is retried (the app's own "
                     "policy is", R6_RETRY_ROUTE_HINT, id="r6-route-retry-policy-one"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "routing_key": "ai_tasks.#"}),
                     "ai_tasks.run_ai_text_generation's route gives the routing key "
                     "'ai_tasks.#', not the queue's own ('ai_processing'): Celery drops it here "
                     "only because no exchange comes with it", R6_FOREIGN_ROUTE_HINT,
                     id="r6-route-topic-routing-key"),
        pytest.param(r5_ai_demo({"queue": "ai_processing", "exchange": "ai"}),
                     "ai_tasks.run_ai_text_generation's route gives the exchange 'ai', not the "
                     "queue's own ('ai_processing'): Celery drops it here only because no "
                     "routing key comes with it", R6_FOREIGN_ROUTE_HINT,
                     id="r6-route-exchange-only"),
    ],
)  # fmt: skip
def test_routes_wrong_round6(routes, problem, hint) -> None:
    assert_fails(verdict("08.1", routes), problem, hint)


# round 6, 08.2


def r6_rush_options(**options):
    """apply_async((x, y), queue="urgent") with more options."""

    def answer(x, y):
        return simple_calculation.apply_async((x, y), queue="urgent", **options)

    return answer


def r6_rush_eta_now(x, y):
    from datetime import datetime, timezone

    return simple_calculation.apply_async((x, y), queue="urgent", eta=datetime.now(timezone.utc))


def r6_rush_rewrap_same_type(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        raise OperationalError(f"rush({x}, {y}) could not be sent: {exc}") from None


def r6_rush_manual_retry(x, y):
    from kombu.exceptions import OperationalError

    for attempt in range(3):
        try:
            return simple_calculation.apply_async((x, y), queue="urgent")
        except OperationalError:
            if attempt == 2:
                raise
    return None


_r6_conn: dict = {}


def r6_rush_global_connection(x, y):
    conn = _r6_conn.get("c")
    if conn is None:
        conn = _r6_conn["c"] = app.connection_for_write()
    return simple_calculation.apply_async((x, y), queue="urgent", connection=conn)


def r6_rush_seconds_zero(x, y):
    return simple_calculation.apply_async((x, y), {"seconds": 0}, queue="urgent")


def r6_rush_send_task_default_spelled(x, y):
    return app.send_task("demo_tasks.simple_calculation", (x, y, 0.2), queue="urgent")


def r6_rush_subclass_error(x, y):
    from kombu.exceptions import OperationalError

    class RushFailed(OperationalError):
        pass

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        raise RushFailed(f"rush({x}, {y}) could not be sent") from exc


def r6_rush_fallback_default_queue(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError:
        return simple_calculation.apply_async((x, y))


def r6_rush_local_fallback(x, y):
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError:
        simple_calculation.apply((x, y))
        raise


def r6_rush_leaked_producer(x, y):
    producer = app.producer_pool.acquire(block=True)
    return simple_calculation.apply_async((x, y), queue="urgent", producer=producer)


def r6_rush_runs_here_too(x, y):
    """Sends the task, and runs it in the caller as well (a direct call)."""
    simple_calculation(x, y)
    return simple_calculation.apply_async((x, y), queue="urgent")


def r6_rush_adds_a_note(x, y):
    """Right: the same exception, with a note of rush's own, re-raised with a bare raise."""
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        exc.add_note(f"rush({x}, {y}) could not be sent")
        raise


def r6_rush_reraises_by_name(x, y):
    """Right: raise exc re-raises the very exception apply_async raised."""
    from kombu.exceptions import OperationalError

    try:
        return simple_calculation.apply_async((x, y), queue="urgent")
    except OperationalError as exc:
        print("could not send the urgent task:", exc)
        raise exc


def r6_rush_keeps_the_task_priority(x, y):
    """Right: the task's own priority, passed on as it is."""
    return simple_calculation.apply_async((x, y), queue="urgent",
                                          priority=simple_calculation.priority)  # fmt: skip


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(r6_rush_adds_a_note, id="r6-adds-a-note"),
        pytest.param(r6_rush_reraises_by_name, id="r6-reraises-by-name"),
        pytest.param(r6_rush_keeps_the_task_priority, id="r6-keeps-the-task-priority"),
        pytest.param(r6_rush_options(exchange="", routing_key="urgent"), id="r6-default-exchange"),
        pytest.param(r6_rush_options(retry_policy={"max_retries": 2}), id="r6-policy-as-the-app"),
    ],
)  # fmt: skip
def test_rush_right_round6(answer) -> None:
    assert_passed(verdict("08.2", answer), "raised OperationalError")
    _routes_unchanged()
    assert "priority" not in vars(simple_calculation)


R6_DOWN = "when the broker refused every attempt to publish, rush(7, 5)"
R6_REPLACED = (
    "let apply_async's OperationalError reach rush's caller as it is: don't replace it with "
    "another exception, not even a new OperationalError or a subclass"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r6_rush_options(ignore_result=True),
                     "rush(2, 3) sent the task with ignore_result True", NOTHING_ELSE,
                     id="r6-ignore-result"),
        pytest.param(r6_rush_options(delivery_mode="transient"),
                     "rush(2, 3) sent the task with delivery_mode 1 (non-persistent)",
                     f"{NOTHING_ELSE} (a transient message", id="r6-transient"),
        pytest.param(r6_rush_options(expires=60), "rush(2, 3) sent the task with expiration 60",
                     NOTHING_ELSE, id="r6-expires"),
        pytest.param(r6_rush_options(expires=0), "rush(2, 3) sent the task with expires '",
                     NOTHING_ELSE, id="r6-expires-zero"),
        pytest.param(r6_rush_eta_now, "rush(2, 3) sent the task with eta '", NOTHING_ELSE,
                     id="r6-eta-now"),
        pytest.param(r6_rush_options(priority=0), "rush(40, 2) sent the task with priority 0, in "
                     "place of the task's own priority 5 (the one task_default_priority = 5, "
                     "section 4's advice, gives every task; a plain apply_async keeps it)",
                     "the exercise asks for the queue only: leave priority out (and on Redis 9 "
                     "is the least urgent, 0 the most: section 4), even 0: apply_async's "
                     "priority replaces the task's own", id="r6-priority-zero"),
        # the task's own priority hard-coded: the first call, where the task has none, shows it
        pytest.param(r6_rush_options(priority=5), "rush(2, 3) sent the task with priority 5",
                     "the exercise asks for the queue only: leave priority out",
                     id="r6-priority-five"),
        pytest.param(r6_rush_options(compression="zlib"),
                     "rush(2, 3) sent the task with compression 'application/x-gzip'",
                     NOTHING_ELSE, id="r6-compression"),
        pytest.param(r6_rush_rewrap_same_type, f"{R6_DOWN} raised a new OperationalError "
                     "(\"rush(7, 5) could not be sent: connection lost (the check's broker "
                     "blip)\") in place of the one apply_async raised (from None: its cause, the "
                     "broker's error, is hidden)", R6_REPLACED, id="r6-rewrap-same-type"),
        pytest.param(r6_rush_manual_retry, f"{R6_DOWN} sent the task 3 times (",
                     "call apply_async once and let its OperationalError reach the caller: "
                     "Celery already retries the publish", id="r6-manual-retry-loop"),
        pytest.param(r6_rush_options(retry_policy={"max_retries": 1, "interval_start": 0}),
                     "rush(2, 3) gave retry_policy={'max_retries': 1, 'interval_start': 0}: it "
                     "changes how a publish the broker drops is retried", RETRY_HINT,
                     id="r6-short-retry-policy"),
        pytest.param(r6_rush_global_connection, "rush(2, 3) passed connection=a Connection of "
                     "its own", "leave connection out", id="r6-global-connection"),
        pytest.param(r6_rush_seconds_zero, "rush(2, 3) sent args=[2, 3] kwargs={'seconds': 0}: "
                     "it also gives seconds=0", "send only x and y", id="r6-seconds-zero"),
        pytest.param(r6_rush_send_task_default_spelled, "rush(2, 3) sent args=[2, 3, 0.2] "
                     "kwargs={}: it also gives seconds=0.2", "send only x and y",
                     id="r6-send-task-default-spelled"),
        pytest.param(r6_rush_subclass_error, f"{R6_DOWN} raised RushFailed, an exception of "
                     "rush's own (a subclass of OperationalError), in place of the "
                     "OperationalError apply_async raised", R6_REPLACED, id="r6-subclass-error"),
        pytest.param(r5_rush_wraps_in_a_subclass, f"{R6_DOWN} raised UrgentUnavailable, an "
                     "exception of rush's own (a subclass of OperationalError)", R6_REPLACED,
                     id="r5-wraps-in-a-subclass"),
        pytest.param(r6_rush_fallback_default_queue, "when the broker refused every attempt to "
                     "publish rush(7, 5) to 'urgent', rush sent demo_tasks.simple_calculation "
                     "to 'course-check-demo-08' instead", "let the error reach rush's caller",
                     id="r6-fallback-default-queue"),
        pytest.param(r6_rush_local_fallback, f"{R6_DOWN} ran simple_calculation in the caller's "
                     "process instead (calc(7, 5))", "let the error reach rush's caller and run "
                     "nothing in the task's place", id="r6-local-fallback"),
        pytest.param(r6_rush_runs_here_too, "rush(2, 3) also ran simple_calculation in the "
                     "caller's process (calc(2, 3)), besides sending it to 'urgent'",
                     "send the task and run nothing in the caller", id="r6-runs-here-too"),
        pytest.param(r6_rush_leaked_producer, "rush(2, 3) passed producer=a Producer of its own: "
                     "taken from the app's pool and not given back after the call",
                     PRODUCER_HINT, id="r6-leaked-producer"),
        pytest.param(r6_rush_options(routing_key="urgent.#"), "rush(2, 3) gave the routing key "
                     "'urgent.#', not the queue's own ('urgent'): Celery drops it here only "
                     "because no exchange comes with it", "choose the queue and change nothing "
                     "else: apply_async((x, y), queue='urgent') (exchange='urgent', "
                     "routing_key='urgent', the queue's own, are fine too)",
                     id="r6-foreign-routing-key"),
    ],
)  # fmt: skip
def test_rush_wrong_round6(answer, problem, hint) -> None:
    try:
        assert_fails(verdict("08.2", answer), problem, hint)
    finally:
        conn = _r6_conn.pop("c", None)
        if conn is not None:
            conn.release()
    assert "priority" not in vars(simple_calculation)


# round 6, 08.3 (nothing got through)

R6_LEAVE_OUT = (
    "changes how the worker runs, and the exercise asks for -A, -Q, -c and -n only (logging and "
    "monitoring options such as -l info or -E are fine): leave it out"
)


def r6_queue_token_with_space(queue, concurrency, name):
    return ["celery", "-A", "course_tasks", "worker",
            f"-Q {queue}", "-c", str(concurrency), "-n", f"{name}@%h"]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r5_command(after=["--max-tasks-per-child=100"]),
                     f"{R4_CALL}: the command adds --max-tasks-per-child=100",
                     f"--max-tasks-per-child=100 {R6_LEAVE_OUT}", id="r6-max-tasks-per-child"),
        pytest.param(r5_command(after=["--max-memory-per-child=512000"]),
                     f"{R4_CALL}: the command adds --max-memory-per-child=512000",
                     f"--max-memory-per-child=512000 {R6_LEAVE_OUT}",
                     id="r6-max-memory-per-child"),
        pytest.param(r5_command(before=["-b", "redis://localhost:6379/0"]),
                     f"{R4_CALL}: the command adds -b redis://localhost:6379/0",
                     "the app's configuration names the broker: leave -b out", id="r6-broker-url"),
        pytest.param(r5_command(after=["-O", "fast"]), "celery worker refuses it: Invalid value "
                     "for '-O' / '--optimization': 'fast' is not one of 'default', 'fair'",
                     "-Q QUEUE -c N -n NAME@%h (celery worker --help lists them)",
                     id="r6-optimization-fast"),
        pytest.param(r5_command(after=["--statedb", "/var/run/celery/ai-worker.state"]),
                     f"{R4_CALL}: the command adds --statedb /var/run/celery/ai-worker.state",
                     f"--statedb /var/run/celery/ai-worker.state {R6_LEAVE_OUT}",
                     id="r6-statedb"),
        pytest.param(r5_command(after=["--discard"]), f"{R4_CALL}: the command adds --discard",
                     "--purge deletes every message waiting in the queue each time the worker "
                     "starts", id="r6-discard-alias"),
        pytest.param(r5_command(after=["--heartbeat-interval", "60"]),
                     f"{R4_CALL}: the command adds --heartbeat-interval 60",
                     f"--heartbeat-interval 60 {R6_LEAVE_OUT}", id="r6-heartbeat-interval"),
        pytest.param(r5_command(after=["--pool-start-method", "spawn"]),
                     f"{R4_CALL}: the command adds --pool-start-method spawn",
                     f"--pool-start-method spawn {R6_LEAVE_OUT}", id="r6-pool-start-method"),
        pytest.param(r5_command(before=["--workdir", "/app"]),
                     f"{R4_CALL}: the command adds --workdir /app",
                     "--workdir makes celery change directory before it imports the app",
                     id="r6-workdir"),
        pytest.param(r5_command(node=socket.gethostname()), f"{R4_CALL}: on a machine named "
                     "box.example.com, the node is named 'ai-worker@", "the line has this "
                     "machine's host name", id="r6-host-resolved-in-notebook"),
        pytest.param(r5_command(after=["-I", "course_tasks.tasks.ai"]),
                     f"{R4_CALL}: the command adds -I course_tasks.tasks.ai",
                     f"-I course_tasks.tasks.ai {R6_LEAVE_OUT}", id="r6-include-module"),
        pytest.param(r5_command(after=["--uid", "nobody"]),
                     f"{R4_CALL}: the command adds --uid nobody", f"--uid nobody {R6_LEAVE_OUT}",
                     id="r6-uid-nobody"),
        pytest.param(r6_queue_token_with_space, f"{R4_CALL}: the worker reads [' ai_processing'], "
                     "not ['ai_processing']", "-Q QUEUE: a dedicated worker reads its own queue "
                     "only", id="r6-queue-token-with-space"),
    ],
)  # fmt: skip
def test_worker_command_wrong_round6(answer, problem, hint) -> None:
    assert_fails(verdict("08.3", answer), problem, hint)


# round 6, 08.4 (nothing got through)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(acks_late="True"), "task_acks_late is 'True'",
                     "it is True or False (not a string)", id="r6-acks-late-string"),
        pytest.param(settings(acks_late="false"), "task_acks_late is 'false'",
                     "it is True or False (not a string)", id="r6-acks-late-string-false"),
        pytest.param(settings(acks_late=1), "task_acks_late is 1",
                     "it is a bool, True or False, not an int", id="r6-acks-late-int"),
        pytest.param(settings(True), "worker_prefetch_multiplier is True",
                     "it is a whole number, e.g. 1", id="r6-multiplier-true"),
        pytest.param(settings(1.0), "worker_prefetch_multiplier is 1.0",
                     "it is a whole number, e.g. 1", id="r6-multiplier-float"),
        pytest.param(settings("1"), "worker_prefetch_multiplier is '1'",
                     "it is a whole number, e.g. 1", id="r6-multiplier-string"),
        pytest.param(settings(-1), "worker_prefetch_multiplier is -1",
                     "a count of messages is never negative", id="r6-multiplier-negative"),
    ],
)  # fmt: skip
def test_prefetch_wrong_round6(answer, problem, hint) -> None:
    assert_fails(verdict("08.4", answer), problem, hint)
    assert workers.running() == []
