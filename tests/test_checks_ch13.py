"""The checks of chapter 13 on right and wrong fixes, against real workers; and the lab."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import app, lab, runtime
from course_tasks.tasks.troubles import refund

pytestmark = pytest.mark.usefixtures("worker")


# --------------------------------------------------------------------------- 13.1


def unstick(queue):
    app.control.add_consumer(queue)


def unstick_stub(queue): ...


def unstick_purge(queue):
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def unstick_default_queue(queue):
    app.control.add_consumer("celery")


def unstick_hard_coded(queue):
    app.control.add_consumer("monthly-reports")


def test_13_1_right() -> None:
    assert_passed(verdict("13.1", unstick), "ran once each")


def test_13_1_stub() -> None:
    assert_fails(verdict("13.1", unstick_stub), "not yet")


def test_13_1_purge() -> None:
    assert_fails(verdict("13.1", unstick_purge), "gone from the queue and never ran",
                 "purging deletes the tasks", hint_within=True)


def test_13_1_default_queue() -> None:
    assert_fails(verdict("13.1", unstick_default_queue), "still wait in 'monthly-reports'",
                 "app.control.add_consumer(queue) with the queue the tasks wait in")


def test_13_1_hard_coded() -> None:
    assert_fails(verdict("13.1", unstick_hard_coded), "course-check-13-parked",
                 "use the queue you are given")


# --------------------------------------------------------------------------- 13.2


def test_13_2_right() -> None:
    assert_passed(verdict("13.2", {"result_expires": 24 * 3600}), "86400 s")
    assert_passed(verdict("13.2", {"result_expires": timedelta(hours=2)}), "7200 s")


def test_13_2_stub() -> None:
    assert_fails(verdict("13.2", ...), "not yet")


def test_13_2_for_ever() -> None:
    assert_fails(verdict("13.2", {"result_expires": None}), "kept for ever",
                 "give result_expires a limit")


def test_13_2_too_short() -> None:
    assert_fails(verdict("13.2", {"result_expires": 60}), "kept for 60 s only",
                 "result_expires is in seconds")


def test_13_2_message_expiry() -> None:
    assert_fails(verdict("13.2", {"expires": 3600}), "option of apply_async",
                 "expires= discards a task")


def test_13_2_old_name() -> None:
    assert_fails(verdict("13.2", {"CELERY_RESULT_EXPIRES": 86400}), "not a setting",
                 "this app takes lower-case settings")


def test_13_2_ignored_results() -> None:
    assert_fails(verdict("13.2", {"result_expires": 86400, "task_ignore_result": True}),
                 "no result was stored", "results must be stored")


def test_13_2_too_long() -> None:
    assert_fails(verdict("13.2", {"result_expires": 30 * 86400}), "more than 7 days",
                 "keep results no longer than")


# --------------------------------------------------------------------------- 13.3


def unique_tags(words):
    return sorted(set(words))


def unique_tags_stub(words): ...


def unique_tags_set(words):
    return set(words)


def unique_tags_unsorted(words):
    return list(reversed(sorted(set(words))))


def unique_tags_str(words):
    return str(set(words))


def unique_tags_json(words):
    import json

    return json.dumps(sorted(set(words)))


def test_13_3_right() -> None:
    assert_passed(verdict("13.3", unique_tags), "SUCCESS on the worker")


def test_13_3_stub() -> None:
    assert_fails(verdict("13.3", unique_tags_stub), "not yet")


def test_13_3_set() -> None:
    assert_fails(verdict("13.3", unique_tags_set), "could not store the result",
                 "json has no set")


def test_13_3_unsorted() -> None:
    assert_fails(verdict("13.3", unique_tags_unsorted), "not sorted", "a set has no order")


def test_13_3_str() -> None:
    assert_fails(verdict("13.3", unique_tags_str), "returned a str",
                 "a str of the set is text")


def test_13_3_json_text() -> None:
    assert_fails(verdict("13.3", unique_tags_json), "returned a str",
                 "return the list itself")


# --------------------------------------------------------------------------- 13.4


def request_refund(order_id):
    return refund.delay(order_id)


def request_refund_by_name(order_id):
    return app.send_task("billing.refund", args=[order_id]).id


def request_refund_stub(order_id): ...


def request_refund_module_path(order_id):
    return app.send_task("course_tasks.tasks.troubles.refund", args=[order_id])


def request_refund_short_name(order_id):
    return app.send_task("refund", args=[order_id])


def request_refund_direct(order_id):
    return refund(order_id)


def request_refund_apply(order_id):
    return refund.apply(args=[order_id])


def test_13_4_right() -> None:
    assert_passed(verdict("13.4", request_refund), "once each")
    assert_passed(verdict("13.4", request_refund_by_name), "once each")


def test_13_4_stub() -> None:
    assert_fails(verdict("13.4", request_refund_stub), "not yet")


def test_13_4_module_path() -> None:
    assert_fails(verdict("13.4", request_refund_module_path), "NotRegistered",
                 "inspect().registered() lists the names")


def test_13_4_short_name() -> None:
    assert_fails(verdict("13.4", request_refund_short_name), "NotRegistered('refund')",
                 "inspect().registered()")


def test_13_4_direct_call() -> None:
    assert_fails(verdict("13.4", request_refund_direct), "called the task directly",
                 "queue it and return the handle")


def test_13_4_apply() -> None:
    assert_fails(verdict("13.4", request_refund_apply), "ran here, in the notebook",
                 "send it to the worker")


# --------------------------------------------------------------------------- the lab


def test_lab_worker_runs_stops_and_leaves_the_course_worker_alone() -> None:
    from course_tasks.tasks.basics import add

    shop = lab.make_app("test-shop")

    @shop.task(name="shop.double")
    def double(x):
        return 2 * x

    label = lab.start(shop)
    assert f"lab worker {label}" in runtime.services()
    assert double.delay(21).get(timeout=5) == 42
    lab.stop(label)
    assert f"lab worker {label}" not in runtime.services()
    assert not [t for t in threading.enumerate() if t.name == f"course-{label}"]
    # The course's worker still runs, and the course app is still the default one.
    assert add.delay(2, 3).get(timeout=5) == 5
    from celery import current_app

    assert current_app._get_current_object() is app


def test_lab_worker_rejects_a_task_added_after_it_started() -> None:
    shop = lab.make_app("test-shop")

    @shop.task(name="shop.one")
    def one():
        return 1

    with lab.running(shop):

        @shop.task(name="shop.late")
        def late():
            return 2

        result = late.delay()
        error = result.get(timeout=5, propagate=False)
    assert result.state == "FAILURE"
    assert type(error).__name__ == "NotRegistered"


def test_runtime_stop_stops_lab_workers() -> None:
    shop = lab.make_app("test-shop")
    label = lab.start(shop)
    runtime.stop(quiet=True)
    assert not [t for t in threading.enumerate() if t.name == f"course-{label}"]
    assert runtime.leftover_threads() == []
    runtime.start(quiet=True)


def test_fake_redis_transport_redelivers_after_the_visibility_timeout() -> None:
    import time

    shop = lab.make_app("test-shop", broker_url="redis://localhost/4",
                        broker_transport_options={"visibility_timeout": 0.2})
    shop.conf.broker_transport = lab.FakeRedisTransport

    @shop.task(name="shop.charge")
    def charge(order_id):
        return order_id

    with shop.connection_for_read() as conn:
        channel = conn.default_channel
        channel.queue_purge("celery")
        sent = charge.apply_async((7,), countdown=3600)
        first = channel.basic_get("celery")
        channel.qos.restore_visible(interval=1)      # too early: nothing comes back
        assert channel.basic_get("celery") is None
        time.sleep(0.3)
        channel.qos.restore_visible(interval=1)
        second = channel.basic_get("celery")
        assert first.headers["id"] == second.headers["id"] == sent.id
        first.ack()
        second.ack()
    assert lab.results_client().exists(shop.backend.get_key_for_task(sent.id)) == 0
