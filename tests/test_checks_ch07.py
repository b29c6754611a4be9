"""The checks of chapter 07 on right and wrong answers, the canvas widget and the join
guard, against the embedded worker."""

from __future__ import annotations

import threading
import time

import pytest
from celery import chain, chord, group
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import joinguard, runtime, widgets
from course_tasks.tasks import events, media
from course_tasks.tasks.basics import add, add_and_wait, multiply, subtract, xsum
from course_tasks.tasks.events import (
    create_default_follows,
    generate_initial_recommendations,
    record_failure,
    send_welcome_email,
    update_user_statistics,
)
from course_tasks.tasks.media import (
    compress_image,
    generate_thumbnails,
    notify_processing_complete,
    update_image_metadata,
    validate_image,
)

pytestmark = pytest.mark.usefixtures("worker")
STEPS = (
    send_welcome_email,
    create_default_follows,
    generate_initial_recommendations,
    update_user_statistics,
)


@pytest.fixture(autouse=True)
def _clean():
    events.clear_log()
    media.clear()
    yield
    events.clear_log()
    media.clear()


# --------------------------------------------------------------------------- 07.1


def flow_si(user_id):
    return chain(*(step.si(user_id) for step in STEPS))


def flow_guide(user_id):
    return chain(*(step.s(user_id) for step in STEPS))


def flow_group(user_id):
    return group(*(step.si(user_id) for step in STEPS))


def flow_sent(user_id):
    return flow_si(user_id).apply_async()


def flow_fixed_user(user_id):
    return flow_si(7)


def flow_reversed(user_id):
    return chain(*(step.si(user_id) for step in reversed(STEPS)))


def flow_stub(user_id): ...


def test_07_1_right_answer() -> None:
    assert_passed(verdict("07.1", flow_si), "users 7 and 8")
    assert events.log() == [f"{s.__name__}(user 8)" for s in STEPS]


def test_07_1_guide_chain_needs_si() -> None:
    assert_fails(verdict("07.1", flow_guide), "TypeError", "in a chain, .s(user_id) also")


def test_07_1_group_gives_no_order() -> None:
    assert_fails(verdict("07.1", flow_group), "a group gives no order", "chain them with .si()")


def test_07_1_sent_instead_of_returned() -> None:
    assert_fails(verdict("07.1", flow_sent), "sent the canvas", "return the canvas itself")


def test_07_1_fixed_user_and_wrong_order() -> None:
    assert_fails(verdict("07.1", flow_fixed_user), "for user 8", "use the user_id argument")
    assert_fails(verdict("07.1", flow_reversed), "in the order", "guide 002 runs them")


def test_07_1_stub_is_not_yet() -> None:
    assert "not yet" in verdict("07.1", flow_stub).feedback
    assert "not yet" in verdict("07.1", ...).feedback


# --------------------------------------------------------------------------- 07.2


def doubles_chord(numbers):
    return chord((add.s(n, n) for n in numbers), xsum.s())


def doubles_chain_of_group(numbers):
    return group(add.s(n, n) for n in numbers) | xsum.s()  # Celery makes it a chord


def doubles_group(numbers):
    return group(add.s(n, n) for n in numbers)


def doubles_blocking(numbers):
    # countdown: the adds are surely not done when get() is called, however loaded the machine
    return sum(group(add.s(n, n) for n in numbers).apply_async(countdown=0.5).get(timeout=5))


def doubles_local(numbers):
    return xsum.si([2 * n for n in numbers])


def test_07_2_right_answers() -> None:
    assert_passed(verdict("07.2", doubles_chord), "one add per number")
    assert_passed(verdict("07.2", doubles_chain_of_group))


def test_07_2_group_where_a_chord_was_needed() -> None:
    assert_fails(verdict("07.2", doubles_group), "is the list [2, 4, 6]", "a group only collects")


def test_07_2_waiting_for_the_group() -> None:
    assert_fails(verdict("07.2", doubles_blocking), "waited for its tasks (it called get())",
                 "it waited for the tasks")


def test_07_2_doubling_in_the_notebook() -> None:
    assert_fails(verdict("07.2", doubles_local), "added 0 task results", "one add.s(n, n)")


# --------------------------------------------------------------------------- 07.3


def _pipeline(image_id):
    return chain(
        validate_image.s(image_id),
        compress_image.s(),
        generate_thumbnails.s(),
        update_image_metadata.s(),
        notify_processing_complete.s(),
    )


def image_right(image_id):
    return _pipeline(image_id).apply_async(link_error=record_failure.s())


def image_si(image_id):
    steps = (
        validate_image,
        compress_image,
        generate_thumbnails,
        update_image_metadata,
        notify_processing_complete,
    )
    return chain(*(step.si(image_id) for step in steps)).apply_async(link_error=record_failure.s())


def image_no_errback(image_id):
    return _pipeline(image_id).apply_async()


def image_guide(image_id):
    steps = (
        validate_image,
        compress_image,
        generate_thumbnails,
        update_image_metadata,
        notify_processing_complete,
    )
    return chain(*(step.s(image_id) for step in steps)).apply_async(link_error=record_failure.s())


def image_link(image_id):
    return _pipeline(image_id).apply_async(link=record_failure.s())


def image_waits(image_id):
    # countdown: the chain is surely not done when get() is called, however loaded the machine
    result = _pipeline(image_id).apply_async(link_error=record_failure.s(), countdown=0.5)
    result.get(timeout=5, propagate=False)
    return result


def image_unsent(image_id):
    return _pipeline(image_id)


def test_07_3_right_answers() -> None:
    assert_passed(verdict("07.3", image_right), "1 failure recorded")
    assert events.log() == [
        "record_failure(validate_image: InvalidImage: image 22: unsupported format 'bmp')"
    ]
    assert_passed(verdict("07.3", image_si))


def test_07_3_no_link_error() -> None:
    assert_fails(verdict("07.3", image_no_errback), "nothing was recorded", "send the chain with")


def test_07_3_guide_chain() -> None:
    assert_fails(verdict("07.3", image_guide), "TypeError", "each step returns the image id")


def test_07_3_link_instead_of_link_error() -> None:
    outcome = verdict("07.3", image_link)
    assert_fails(outcome, "record_failure()", "record_failure belongs in link_error=")


def test_07_3_waiting_and_unsent() -> None:
    assert_fails(verdict("07.3", image_unsent), "without sending it", "send it")
    # A good image's five steps take a few ms, but the wait is seen all the same.
    assert_fails(verdict("07.3", image_waits), "waited for its tasks (it called get())",
                 "it waited for the tasks")


# --------------------------------------------------------------------------- 07.4


def price_right(price, discount, quantity):
    return subtract.s(price, discount) | multiply.s(quantity)


def price_swapped(price, discount, quantity):
    return subtract.s(discount, price) | multiply.s(quantity)


def price_wrong_order(price, discount, quantity):
    return multiply.s(price, quantity) | subtract.s(discount)


def price_partial_first(price, discount, quantity):
    return chain(multiply.s(quantity, 1), subtract.s(price))  # quantity - price


def price_hard_coded(price, discount, quantity):
    return subtract.s(30, 5) | multiply.s(2)


def test_07_4_right_answer() -> None:
    assert_passed(verdict("07.4", price_right), "(30-5)*2=50")


def test_07_4_wrong_answers() -> None:
    assert_fails(verdict("07.4", price_swapped), "gave -50", "subtract(x, y) is x - y")
    assert_fails(verdict("07.4", price_wrong_order), "gave 55", "subtract first, then multiply")
    assert_fails(verdict("07.4", price_partial_first), "gave -28", "the previous result is")
    assert_fails(
        verdict("07.4", price_hard_coded), "price_after(12, 2, 4) gave 50", "use the arguments"
    )


# --------------------------------------------------------------------------- widget


def test_canvas_widget_prints_the_final_graph(capsys: pytest.CaptureFixture[str]) -> None:
    wf = chord([add.s(2, 2), add.s("a", 1), add.s(8, 8)], xsum.s())
    widgets.canvas(wf.apply_async(), wf, timeout=5)
    assert capsys.readouterr().out == (
        "1. [add: SUCCESS | add: FAILURE (TypeError) | add: SUCCESS]\n"
        "2. xsum: FAILURE (ChordError)\n"
    )
    wf = add.s(4, 4) | multiply.s(8)
    widgets.canvas(wf.apply_async(), wf, timeout=5)
    assert capsys.readouterr().out == "1. add: SUCCESS\n2. multiply: SUCCESS\n"


def test_canvas_watch_sees_states_in_order_and_times_out() -> None:
    from course_tasks.tasks.basics import sleepy_add

    wf = sleepy_add.s(1, 1, seconds=0.6) | add.s(1)
    graph, timed_out = widgets.watch_canvas(wf.apply_async(), wf, timeout=0.2)
    assert timed_out and [s.name for stage in graph for s in stage] == ["sleepy_add", "add"]
    assert graph[1][0].state == "PENDING"
    graph, timed_out = widgets.watch_canvas(graph[1][0].result, wf, timeout=5)
    assert not timed_out and graph[0][0].seen[-1] == "SUCCESS"
    assert graph[1][0].seen[0] in ("PENDING", "STARTED") and graph[1][0].state == "SUCCESS"


# --------------------------------------------------------------------------- join guard


def test_the_embedded_worker_refuses_get_in_a_task_at_once() -> None:
    # runtime.start() guards the worker thread as a worker process guards itself
    assert joinguard.installed()
    started = time.monotonic()
    refused = add_and_wait.delay(1, 2).get(timeout=5, propagate=False)
    assert isinstance(refused, RuntimeError)
    assert str(refused).startswith("Never call result.get() within a task!")
    assert time.monotonic() - started < 1.5
    # the notebook's thread may still wait, and chords (allow_join_result) still work
    assert add.delay(1, 1).get(timeout=5) == 2
    assert chord([add.s(1, 1), add.s(2, 2)])(xsum.s()).get(timeout=5) == 6
    assert not joinguard.task_join_will_block()


def test_stop_undoes_the_guard_and_start_puts_it_back() -> None:
    import celery.result
    from celery import _state

    runtime.stop(quiet=True)
    assert not joinguard.installed() and runtime.leftover_threads() == []
    assert celery.result.task_join_will_block is _state.task_join_will_block
    runtime.start(quiet=True)
    assert joinguard.installed()
    assert isinstance(add_and_wait.delay(1, 2).get(timeout=5, propagate=False), RuntimeError)
    assert threading.main_thread().is_alive()
