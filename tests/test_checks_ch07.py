"""The checks of chapter 07 on right and wrong answers, the canvas widget and the join
guard, against the embedded worker.

Each exercise: its right answers, then a table of wrong ones (adversary rounds 1 and 2
among them, round 2's under a comment), each with the problem the check names and its hint.
The checks read what ran on the worker from the result backend, so a group that ran in order
only because one worker took its tasks first in, first out is still refused; a function that
sends its canvas has its sends held until it returns, so a wait of any kind (get(), a loop on
ready(), a loop on the image in the store, a sleep) shows however fast the worker is; lines of
other work, and of the same user's or image's earlier runs, in each log while the function
runs show a function that empties the logs or removes lines from them; a signature of one
call's canvas found again in a later call's (a module-level or cached signature) is refused.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from celery import chain, chord, group
from celery.result import AsyncResult
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import joinguard, runtime, widgets
from course_tasks.tasks import events, media
from course_tasks.tasks.basics import add, add_and_wait, multiply, subtract, xsum
from course_tasks.tasks.events import (
    create_default_follows,
    generate_initial_recommendations,
    publish_user_registered_event,
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
WELCOME, FOLLOWS, RECOMMENDATIONS, STATISTICS = STEPS
#: 07.1's hint for a signature shared between the canvases of two calls (adversary round 7).
SHARED71 = (
    "build every signature in the call, from the user_id it gets (send_welcome_email.si("
    "user_id) and the other three inside the function): a signature kept at module level, or "
    "cached (lru_cache), is one object shared by every canvas that holds it"
)
#: The same for 07.2 and 07.4.
SHARED72 = (
    "build every signature in the call, xsum.s() too: chord((add.s(n, n) for n in numbers), "
    "xsum.s()) inside the function: a signature kept at module level, or cached (lru_cache), "
    "is one object shared by every canvas that holds it"
)
SHARED74 = (
    "build both signatures in the call: subtract.s(price, discount) | multiply.s(quantity) "
    "inside the function: a signature kept at module level, or cached (lru_cache), is one "
    "object shared by every canvas that holds it"
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


def flow_pipes_with_keywords(user_id):
    return (
        WELCOME.si(user_id=user_id)
        | FOLLOWS.si(user_id=user_id)
        | RECOMMENDATIONS.si(user_id=user_id)
        | STATISTICS.si(user_id=user_id)
    )


def flow_links(user_id):
    """Also right: each step links the next, so each is sent when the one before succeeded."""
    last = STATISTICS.si(user_id)
    third = RECOMMENDATIONS.si(user_id).set(link=last)
    return WELCOME.si(user_id).set(link=FOLLOWS.si(user_id).set(link=third))


def flow_chord_of_one(user_id):
    """Also right: a chord's callback waits for its (one) header task."""
    middle = chord([FOLLOWS.si(user_id)], RECOMMENDATIONS.si(user_id))
    return chain(WELCOME.si(user_id), middle, STATISTICS.si(user_id))


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


def flow_chord_header(user_id):
    header = [WELCOME.si(user_id), FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id)]
    return chord(header, STATISTICS.si(user_id))


def flow_group_tail(user_id):
    rest = group(FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id))
    return WELCOME.si(user_id) | rest


def flow_first_in_notebook(user_id):
    WELCOME(user_id)  # a direct call: runs right here, while the canvas is built
    return chain(FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id))


def flow_first_sent_apart(user_id):
    WELCOME.delay(user_id)
    return chain(FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id))


def flow_first_applied(user_id):
    WELCOME.apply((user_id,))
    return chain(FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id))


def flow_passes_result(user_id):
    return chain(WELCOME.s(user_id), FOLLOWS.s(), RECOMMENDATIONS.s(), STATISTICS.s())


def flow_last_partial(user_id):
    return chain(*(step.si(user_id) for step in STEPS[:3]), STATISTICS.s(user_id))


def flow_publish(user_id):
    first = publish_user_registered_event.si(user_id)
    return chain(first, *(step.si(user_id) for step in STEPS[1:]))


def flow_swapped(user_id):
    return chain(*(step.si(user_id) for step in (WELCOME, RECOMMENDATIONS, FOLLOWS, STATISTICS)))


def flow_twice(user_id):
    order = (WELCOME, FOLLOWS, STATISTICS, RECOMMENDATIONS, STATISTICS)
    return chain(*(step.si(user_id) for step in order))


def flow_countdowns(user_id):
    """Round 2: a group ordered only by countdowns: nothing waits for the step before."""
    return group(
        WELCOME.si(user_id),
        FOLLOWS.si(user_id).set(countdown=0.3),
        RECOMMENDATIONS.si(user_id).set(countdown=0.6),
        STATISTICS.si(user_id).set(countdown=0.9),
    )


def flow_links_on_first(user_id):
    """Round 2: three links on step 1, sent together (as a group) when it finishes."""
    first = WELCOME.si(user_id)
    for step in STEPS[1:]:
        first.link(step.si(user_id))
    return first


def flow_chord_in_the_middle(user_id):
    middle = chord([FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id)], STATISTICS.si(user_id))
    return chain(WELCOME.si(user_id), middle)


def flow_first_two_grouped(user_id):
    first_two = group(WELCOME.si(user_id), FOLLOWS.si(user_id))
    return chain(first_two, RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id))


def flow_last_takes_result(user_id):
    """Round 2: the last step .s(): it gets the previous step's log line as its user id."""
    return chain(WELCOME.s(user_id), FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id),
                 STATISTICS.s())  # fmt: skip


def flow_third_kept_s(user_id):
    return chain(WELCOME.si(user_id), FOLLOWS.si(user_id), RECOMMENDATIONS.s(user_id),
                 STATISTICS.si(user_id))  # fmt: skip


def _flow_kept_between_calls():
    steps = []  # outside the function: every call appends four more

    def flow(user_id):
        steps.extend(step.si(user_id) for step in STEPS)
        return chain(*steps)

    return flow


def flow_subscriber(user_id):
    return chain(WELCOME.si(user_id), FOLLOWS.si(user_id),
                 events.update_recommendations.si(user_id), STATISTICS.si(user_id))  # fmt: skip


def flow_clears_log(user_id):
    """Round 2: copied the notebook's clear_log() into the function: wipes others' lines."""
    events.clear_log()
    return flow_si(user_id)


def flow_deletes_log_key(user_id):
    from course_tasks.store import store

    store().delete(events.LOG_KEY)
    return flow_si(user_id)


def flow_stub(user_id): ...


# adversary round 3


def _flow_r3_accumulating():
    kept = []  # a module-level list in the notebook: every call extends it

    def flow(user_id, _steps=kept):
        _steps.extend(step.si(user_id) for step in STEPS)
        return chain(*_steps)

    return flow


def flow_r3_staggered_countdowns(user_id):
    return group(
        WELCOME.si(user_id),
        FOLLOWS.si(user_id).set(countdown=0.3),
        RECOMMENDATIONS.si(user_id).set(countdown=0.6),
        STATISTICS.si(user_id).set(countdown=0.9),
    )


def flow_r3_link_list(user_id):
    later = [FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id)]
    return WELCOME.si(user_id).set(link=later)


def flow_r3_chord_stats_last(user_id):
    header = [WELCOME.si(user_id), FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id)]
    return chord(header, STATISTICS.si(user_id))


def flow_r3_email_then_group(user_id):
    rest = group(FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id))
    return WELCOME.si(user_id) | rest


def flow_r3_late_binding(user_id):
    makers = [lambda: step.si(user_id) for step in STEPS]  # noqa: B023 (the mistake)
    return chain(*(make() for make in makers))


def flow_r3_user_id_as_string(user_id):
    return chain(*(step.si(str(user_id)) for step in STEPS))


def flow_r3_welcome_sent_now(user_id):
    WELCOME.delay(user_id)
    return chain(*(step.si(user_id) for step in STEPS[1:]))


def flow_r3_pubsub_then_chain(user_id):
    return chain(publish_user_registered_event.si(user_id), *(s.si(user_id) for s in STEPS[1:]))


def flow_r3_stats_twice(user_id):
    flow = flow_si(user_id)
    flow.link(STATISTICS.si(user_id))
    return flow


def flow_r3_welcome_called_inline(user_id):
    WELCOME(user_id)
    return chain(*(step.si(user_id) for step in STEPS[1:]))


def flow_r3_welcome_applied_eagerly(user_id):
    WELCOME.apply((user_id,))
    return chain(*(step.si(user_id) for step in STEPS[1:]))


def flow_r3_two_chains(user_id):
    return group(
        chain(WELCOME.si(user_id), FOLLOWS.si(user_id)),
        chain(RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id)),
    )


def _flow_r3_cached_for_first_user():
    cache = {}  # memoised without the user id

    def flow(user_id):
        if "flow" not in cache:
            cache["flow"] = flow_si(user_id)
        return cache["flow"]

    return flow


def flow_r3_nested_chords(user_id):
    """Also right (adversary round 3): a chord's callback waits for its header, so chords of
    one put each step after the one before it."""
    inner = chord([WELCOME.si(user_id)], FOLLOWS.si(user_id))
    return chord([chord([inner], RECOMMENDATIONS.si(user_id))], STATISTICS.si(user_id))


# adversary round 4


def flow_r4_link_fan_out(user_id):
    # "link = run after success": all three later steps linked to the first one.
    # They all start when step 1 has finished, but step 3 does not wait for step 2.
    return send_welcome_email.si(user_id).set(
        link=[
            create_default_follows.si(user_id),
            generate_initial_recommendations.si(user_id),
            update_user_statistics.si(user_id),
        ]
    )


def flow_r4_group_in_the_middle(user_id):
    # "follows and recommendations don't depend on each other": runs them in parallel.
    return chain(
        send_welcome_email.si(user_id),
        group(create_default_follows.si(user_id), generate_initial_recommendations.si(user_id)),
        update_user_statistics.si(user_id),
    )


def flow_r4_group_at_the_end(user_id):
    # last two steps in parallel after the first two.
    return chain(
        send_welcome_email.si(user_id),
        create_default_follows.si(user_id),
        group(generate_initial_recommendations.si(user_id), update_user_statistics.si(user_id)),
    )


def flow_r4_staggered_countdowns(user_id):
    # order by timing: a group whose members are delayed 0, 0.3, 0.6, 0.9 s.
    steps = [
        send_welcome_email,
        create_default_follows,
        generate_initial_recommendations,
        update_user_statistics,
    ]
    return group(t.si(user_id).set(countdown=0.3 * i) for i, t in enumerate(steps))


def flow_r4_chord_for_statistics(user_id):
    # the three "real" steps in parallel, statistics as the callback once they are done.
    return chord(
        [
            send_welcome_email.si(user_id),
            create_default_follows.si(user_id),
            generate_initial_recommendations.si(user_id),
        ],
        update_user_statistics.si(user_id),
    )


def flow_r4_first_step_called_directly(user_id):
    # "the welcome mail must go at once": calls the task (runs it in the kernel, now).
    send_welcome_email(user_id)
    return chain(
        create_default_follows.si(user_id),
        generate_initial_recommendations.si(user_id),
        update_user_statistics.si(user_id),
    )


def flow_r4_nested_links_skip_one(user_id):
    # hand-made chain with link=, but step 4 is linked to step 2 instead of step 3
    # (copy/paste of the nesting): step 4 does not wait for step 3.
    step3 = generate_initial_recommendations.si(user_id)
    step4 = update_user_statistics.si(user_id)
    step2 = create_default_follows.si(user_id).set(link=[step3, step4])
    return send_welcome_email.si(user_id).set(link=step2)


# adversary round 5


def flow_r5_staggered_group(user_id):
    # "in order" by countdowns: a group whose members are delayed 0, 0.2, 0.4, 0.6 s
    return group(
        WELCOME.si(user_id),
        FOLLOWS.si(user_id).set(countdown=0.2),
        RECOMMENDATIONS.si(user_id).set(countdown=0.4),
        STATISTICS.si(user_id).set(countdown=0.6),
    )


def flow_r5_links_stats_twice(user_id):
    # each step sent by the previous one's link, and the statistics linked to step 1 as
    # well "to be sure they are counted": they run twice
    stats = STATISTICS.si(user_id)
    recs = RECOMMENDATIONS.si(user_id).set(link=stats)
    follows = FOLLOWS.si(user_id).set(link=recs)
    first = WELCOME.si(user_id)
    first.link(follows)
    first.link(STATISTICS.si(user_id))
    return first


def flow_r5_stats_by_countdown(user_id):
    # a chain of three, and the statistics beside it in a group, held back by a countdown
    return group(
        chain(WELCOME.si(user_id), FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id)),
        STATISTICS.si(user_id).set(countdown=0.5),
    )


# adversary round 6


def flow_r6_trailing_group(user_id):
    # "the last two don't depend on each other": a group after step 2
    return chain(WELCOME.si(user_id), FOLLOWS.si(user_id),
                 group(RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id)))  # fmt: skip


def flow_r6_middle_group(user_id):
    # steps 2 and 3 in parallel in the middle (a chord whose callback is step 4)
    return chain(WELCOME.si(user_id), group(FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id)),
                 STATISTICS.si(user_id))  # fmt: skip


def flow_r6_chord(user_id):
    # the first three in parallel, the statistics as the chord's callback
    return chord([WELCOME.si(user_id), FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id)],
                 STATISTICS.si(user_id))  # fmt: skip


def flow_r6_link_fanout(user_id):
    # the welcome mail links the three others: all three sent together by step 1
    return WELCOME.si(user_id).set(
        link=[FOLLOWS.si(user_id), RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id)]
    )


def flow_r6_last_step_partial(user_id):
    # the last step takes "the previous result": it gets a log line as its user id
    return chain(*(step.si(user_id) for step in STEPS[:3]), STATISTICS.s())


def flow_r6_passes_result(user_id):
    # only the first step gets the id, the others receive the previous return value
    return chain(WELCOME.s(user_id), FOLLOWS.s(), RECOMMENDATIONS.s(), STATISTICS.s())


def flow_r6_id_as_str(user_id):
    # the user id as a string: the log line looks the same
    return chain(*(step.si(str(user_id)) for step in STEPS))


def flow_r6_staggered_group(user_id):
    # a group ordered by countdowns 0, 0.4, 0.8 and 1.2 s, not by dependencies
    return group(step.si(user_id).set(countdown=0.4 * i) for i, step in enumerate(STEPS))


def _flow_r6_cached_global():
    flows = {}  # memoised under one key: user 7's chain is reused for user 8

    def flow(user_id):
        if "flow" not in flows:
            flows["flow"] = chain(*(step.si(user_id) for step in STEPS))
        return flows["flow"]

    return flow


def flow_r6_two_chains_in_group(user_id):
    # two chains of two in parallel: order holds within each pair only
    return group(chain(WELCOME.si(user_id), FOLLOWS.si(user_id)),
                 chain(RECOMMENDATIONS.si(user_id), STATISTICS.si(user_id)))  # fmt: skip


def flow_r6_fixed_ids(user_id):
    # readable ids per step and user: a second flow for the same user reuses them
    return chain(
        *(s.si(user_id).set(task_id=f"{s.name.rsplit('.', 1)[-1]}-{user_id}") for s in STEPS)
    )


def flow_r6_welcome_at_build(user_id):
    # the welcome mail sent at once ("it doesn't need to wait"), the chain holds the rest
    WELCOME.delay(user_id)
    return chain(*(step.si(user_id) for step in STEPS[1:]))


def flow_r6_stats_link_too(user_id):
    # the chain, and the statistics linked to it as well: they run twice
    return chain(*(step.si(user_id) for step in STEPS)).set(link=STATISTICS.si(user_id))


def flow_r6_countdown_chain_group(user_id):
    # the last two in a group, the last one held back by a countdown
    return chain(WELCOME.si(user_id), FOLLOWS.si(user_id),
                 group(RECOMMENDATIONS.si(user_id),
                       STATISTICS.si(user_id).set(countdown=0.3)))  # fmt: skip


# adversary round 7 (shared-signatures, clear-own-lines and cached-steps passed before: the
# check kept no signature of an earlier call's canvas, and the event log held no line of the
# user's own; it now refuses a signature object shared with an earlier canvas, and puts an
# earlier flow's lines of the same user in the log while the function runs)


def flow_r7_publish_then_chain(user_id):
    # the published event sends the welcome mail by name, beside two other subscribers
    return chain(publish_user_registered_event.si(user_id), *(s.si(user_id) for s in STEPS[1:]))


_R7_STEPS = [step.si(0) for step in STEPS]


def flow_r7_shared_signatures(user_id):
    # four module-level signatures re-pointed at each user: chain() copies all but the last
    for sig in _R7_STEPS:
        sig.args = (user_id,)
    return chain(*_R7_STEPS)


def flow_r7_immutable_chain(user_id):
    # the guide's .s(user_id) chain made immutable as a whole: each step still gets a result
    return chain(*(step.s(user_id) for step in STEPS)).set(immutable=True)


_R7_FLOW = chain(*(step.si(0) for step in STEPS))


def flow_r7_shared_chain(user_id):
    # one module-level chain re-pointed at each user and returned
    for sig in _R7_FLOW.tasks:
        sig.args = (user_id,)
    return _R7_FLOW


def flow_r7_clear_own_lines(user_id):
    # removes the user's earlier lines from the event log "so that each step shows once"
    from course_tasks.store import store

    for step in STEPS:
        store().lrem(events.LOG_KEY, 0, f"{step.__name__}(user {user_id})")
    return flow_si(user_id)


@functools.cache
def _r7_step(task, user_id):
    return task.si(user_id)


def flow_r7_cached_steps(user_id):
    # signatures cached per (task, user): a second flow of user 7 holds the first one's
    return chain(*(_r7_step(step, user_id) for step in STEPS))


@pytest.mark.parametrize(
    "answer",
    [flow_si, flow_pipes_with_keywords, flow_links, flow_chord_of_one, flow_r3_nested_chords],
)
def test_07_1_right_answers(answer) -> None:
    assert_passed(verdict("07.1", answer), "users 7, 8 and 7 again")
    # the last flow the check sent is user 7's second one
    assert events.log() == [f"{s.__name__}(user 7)" for s in STEPS]


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(flow_guide, "TypeError", "in a chain, .s(user_id) also", id="guide-s"),
        pytest.param(flow_group, "send_welcome_email and create_default_follows ran in one "
                     "group: a group gives no order", "chain them with .si()", id="group"),
        pytest.param(flow_sent, "sent the canvas", "return the canvas itself", id="sent"),
        pytest.param(flow_fixed_user, "for user 8", "use the user_id argument", id="fixed-user"),
        pytest.param(flow_reversed, "in the order", "guide 002 runs them", id="reversed"),
        pytest.param(flow_chord_header, "send_welcome_email and create_default_follows ran in "
                     "one group", "chain them with .si()", id="chord-header"),
        pytest.param(flow_group_tail, "create_default_follows and generate_initial_"
                     "recommendations ran in one group", "chain them with .si()",
                     id="group-tail"),
        pytest.param(flow_first_in_notebook, "registered_flow(7) ran ['send_welcome_email(user "
                     "7)'] in the notebook while it built the canvas",
                     "calling a task (send_welcome_email(user_id)) runs it right here",
                     id="first-in-notebook"),
        pytest.param(flow_first_sent_apart, "registered_flow(7) sent send_welcome_email itself",
                     "return every task inside the canvas", id="first-sent-apart"),
        pytest.param(flow_first_applied, "registered_flow(7) ran send_welcome_email in the "
                     "notebook (apply())", "put signatures in the canvas", id="first-applied"),
        pytest.param(flow_passes_result, "'create_default_follows(user send_welcome_email(user "
                     "7))'", ".s() hands each step the previous step's result", id="passes-result"),
        pytest.param(flow_last_partial, "TypeError: update_user_statistics()",
                     "in a chain, .s(user_id) also", id="last-partial"),
        pytest.param(flow_publish, "'notify_followers(user 7)'", "chain the four steps of guide "
                     "002 §4", id="publish"),
        pytest.param(flow_swapped, "the steps ran in the order ['send_welcome_email', "
                     "'generate_initial_recommendations'", "guide 002 runs them", id="swapped"),
        pytest.param(flow_twice, "'update_user_statistics(user 7)', 'generate_initial_"
                     "recommendations(user 7)', 'update_user_statistics(user 7)'",
                     "chain the four steps of guide 002 §4, each once", id="twice"),
        # adversary round 2
        pytest.param(flow_first_sent_apart, "registered_flow(7) sent send_welcome_email itself",
                     "return every task inside the canvas", id="first-step-sent-now"),
        pytest.param(flow_countdowns, "send_welcome_email and create_default_follows ran in one "
                     "group", "chain them with .si()", id="group-with-countdowns"),
        pytest.param(flow_links_on_first, "for user 7, create_default_follows and generate_"
                     "initial_recommendations are both links of send_welcome_email: when a task "
                     "finishes, Celery sends all its links at once (as one group)",
                     "chain them with .si()", id="links-on-first-step"),
        pytest.param(flow_chord_in_the_middle, "create_default_follows and generate_initial_"
                     "recommendations ran in one group", "chain them with .si()",
                     id="chord-in-the-middle"),
        pytest.param(flow_first_two_grouped, "send_welcome_email and create_default_follows ran "
                     "in one group", "chain them with .si()", id="first-two-grouped"),
        pytest.param(flow_last_takes_result, "'update_user_statistics(user generate_initial_"
                     "recommendations(user 7))'", ".s() hands each step the previous step's "
                     "result", id="last-step-partial"),
        pytest.param(flow_third_kept_s, "TypeError: generate_initial_recommendations()",
                     "in a chain, .s(user_id) also", id="one-step-left-partial"),
        pytest.param(_flow_kept_between_calls(), "for user 8, these steps ran: ['send_welcome_"
                     "email(user 7)'", "registered_flow(8) also ran the steps of user 7 again: "
                     "build a new canvas in each call", id="global-step-list"),
        pytest.param(flow_subscriber, "'update_recommendations(user 7)'",
                     "chain the four steps of guide 002 §4", id="subscriber-mixup"),
        pytest.param(flow_clears_log, "registered_flow(7) emptied the event log while it built "
                     "the canvas: send_welcome_email(user 6), written there before the call by "
                     "other work, is gone", "leave the logs alone in the function",
                     id="clears-log-first"),
        pytest.param(flow_deletes_log_key, "registered_flow(7) emptied the event log",
                     "leave the logs alone in the function", id="deletes-log-key"),
        # adversary round 3
        pytest.param(_flow_r3_accumulating(), "for user 8, these steps ran: ['send_welcome_"
                     "email(user 7)'", "registered_flow(8) also ran the steps of user 7 again",
                     id="r3-accumulating-steps"),
        pytest.param(flow_r3_staggered_countdowns, "send_welcome_email and create_default_follows "
                     "ran in one group", "chain them with .si()", id="r3-staggered-countdowns"),
        pytest.param(flow_r3_link_list, "create_default_follows and generate_initial_"
                     "recommendations are both links of send_welcome_email",
                     "chain them with .si()", id="r3-link-list"),
        pytest.param(flow_r3_chord_stats_last, "send_welcome_email and create_default_follows "
                     "ran in one group", "chain them with .si()", id="r3-chord-stats-last"),
        pytest.param(flow_r3_email_then_group, "create_default_follows and generate_initial_"
                     "recommendations ran in one group", "chain them with .si()",
                     id="r3-email-then-group"),
        pytest.param(flow_r3_late_binding, "these steps ran: ['update_user_statistics(user 7)', "
                     "'update_user_statistics(user 7)'", "chain the four steps of guide 002 §4",
                     id="r3-late-binding"),
        pytest.param(flow_r3_user_id_as_string, "for user 7, send_welcome_email ran as "
                     "send_welcome_email('7'): user_id was '7' (str), not 7 (int)",
                     "pass the argument as the function got it", id="r3-user-id-as-string"),
        pytest.param(flow_r3_welcome_sent_now, "registered_flow(7) sent send_welcome_email "
                     "itself", "return every task inside the canvas", id="r3-welcome-sent-now"),
        pytest.param(flow_r3_pubsub_then_chain, "'notify_followers(user 7)'",
                     "chain the four steps of guide 002 §4", id="r3-pubsub-then-chain"),
        pytest.param(flow_r3_stats_twice, "'update_user_statistics(user 7)', "
                     "'update_user_statistics(user 7)']", "chain the four steps of guide 002 §4, "
                     "each once", id="r3-stats-twice"),
        pytest.param(flow_r3_welcome_called_inline, "registered_flow(7) ran ['send_welcome_"
                     "email(user 7)'] in the notebook", "calling a task (send_welcome_email("
                     "user_id)) runs it right here", id="r3-welcome-called-inline"),
        pytest.param(flow_r3_welcome_applied_eagerly, "registered_flow(7) ran send_welcome_email "
                     "in the notebook (apply())", "put signatures in the canvas",
                     id="r3-welcome-applied-eagerly"),
        pytest.param(flow_r3_two_chains, "for user 7, ", ".si()", id="r3-two-chains"),
        pytest.param(_flow_r3_cached_for_first_user(), "registered_flow(8) returned the same "
                     "canvas object that registered_flow(7) had returned",
                     "build a new canvas in every call, from the arguments it gets",
                     id="r3-cached-for-first-user"),
        # adversary round 4
        pytest.param(
            flow_r4_link_fan_out,
            "for user 7, create_default_follows and "
            "generate_initial_recommendations are both links of "
            "send_welcome_email:",
            "chain them with .si(): a chain sends each step when the one before "
            "it has",
            id="r4-link-fan-out",
        ),
        pytest.param(
            flow_r4_group_in_the_middle,
            "for user 7, create_default_follows and "
            "generate_initial_recommendations ran in one group: a group gives no",
            "chain them with .si(): a chain sends each step when the one before "
            "it has",
            id="r4-group-in-the-middle",
        ),
        pytest.param(
            flow_r4_group_at_the_end,
            "for user 7, generate_initial_recommendations and "
            "update_user_statistics ran in one group: a group gives no",
            "chain them with .si(): a chain sends each step when the one before "
            "it has",
            id="r4-group-at-the-end",
        ),
        pytest.param(
            flow_r4_staggered_countdowns,
            "for user 7, send_welcome_email and create_default_follows ran in one "
            "group, sent together with countdowns",
            "chain them with .si(): a chain sends each step when the one before "
            "it has",
            id="r4-staggered-countdowns",
        ),
        pytest.param(
            flow_r4_chord_for_statistics,
            "for user 7, send_welcome_email and create_default_follows ran in one "
            "group: a group gives no order, they ran",
            "chain them with .si(): a chain sends each step when the one before "
            "it has",
            id="r4-chord-for-statistics",
        ),
        pytest.param(
            flow_r4_first_step_called_directly,
            "registered_flow(7) ran ['send_welcome_email(user 7)'] in the "
            "notebook while it built the canvas",
            "calling a task (send_welcome_email(user_id)) runs it right here, not "
            "on the",
            id="r4-first-step-called-directly",
        ),
        pytest.param(
            flow_r4_nested_links_skip_one,
            "for user 7, generate_initial_recommendations and "
            "update_user_statistics are both links of",
            "chain them with .si(): a chain sends each step when the one before "
            "it has",
            id="r4-nested-links-skip-one",
        ),
        # adversary round 5 (its two-parallel-chains, stats-chord, first-step-in-kernel and
        # middle-group are the rows r3-two-chains, r4-chord-for-statistics,
        # r4-first-step-called-directly and r4-group-in-the-middle, word for word)
        pytest.param(
            flow_r5_staggered_group,
            "for user 7, send_welcome_email and create_default_follows ran in one group, sent "
            "together with countdowns (create_default_follows: countdown=0.2, generate_initial_"
            "recommendations: countdown=0.4 and update_user_statistics: countdown=0.6)",
            "chain them with .si(): a chain sends each step when the one before it has",
            id="r5-staggered-group",
        ),
        pytest.param(
            flow_r5_links_stats_twice,
            "for user 7, these steps ran: ['send_welcome_email(user 7)', 'create_default_"
            "follows(user 7)', 'update_user_statistics(user 7)', 'generate_initial_"
            "recommendations(user 7)', 'update_user_statistics(user 7)']",
            "chain the four steps of guide 002 §4, each once, each with .si(user_id)",
            id="r5-links-stats-twice",
        ),
        pytest.param(flow_r5_stats_by_countdown, "for user 7, ", ".si()",
                     id="r5-stats-by-countdown"),
        # adversary round 6 (fixed-ids passed before: the check sent each user's flow once;
        # it now sends user 7's twice. cached-global was told to use the user_id argument)
        pytest.param(
            flow_r6_trailing_group,
            "for user 7, generate_initial_recommendations and update_user_statistics ran in one "
            "group: a group gives no order",
            "chain them with .si(): a chain sends each step when the one before it has finished",
            id="r6-trailing-group",
        ),
        pytest.param(
            flow_r6_middle_group,
            "for user 7, create_default_follows and generate_initial_recommendations ran in one "
            "group: a group gives no order",
            "chain them with .si(): a chain sends each step when the one before it has finished",
            id="r6-middle-group",
        ),
        pytest.param(
            flow_r6_chord,
            "for user 7, send_welcome_email and create_default_follows ran in one group: a "
            "group gives no order",
            "chain them with .si(): a chain sends each step when the one before it has finished",
            id="r6-chord",
        ),
        pytest.param(
            flow_r6_link_fanout,
            "for user 7, create_default_follows and generate_initial_recommendations are both "
            "links of send_welcome_email: when a task finishes, Celery sends all its links at "
            "once (as one group)",
            "chain them with .si(): a chain sends each step when the one before it has finished",
            id="r6-link-fanout",
        ),
        pytest.param(
            flow_r6_last_step_partial,
            "for user 7, these steps ran: ['send_welcome_email(user 7)', 'create_default_"
            "follows(user 7)', 'generate_initial_recommendations(user 7)', 'update_user_"
            "statistics(user generate_initial_recommendations(user 7))']",
            ".s() hands each step the previous step's result, here its log line, as the user id",
            id="r6-last-step-partial",
        ),
        pytest.param(
            flow_r6_passes_result,
            "'create_default_follows(user send_welcome_email(user 7))'",
            ".s() hands each step the previous step's result, here its log line, as the user id",
            id="r6-passes-result",
        ),
        pytest.param(
            flow_r6_id_as_str,
            "for user 7, send_welcome_email ran as send_welcome_email('7'): user_id was '7' "
            "(str), not 7 (int)",
            "pass the argument as the function got it (step.si(user_id))",
            id="r6-id-as-str",
        ),
        pytest.param(
            flow_r6_staggered_group,
            "for user 7, send_welcome_email and create_default_follows ran in one group, sent "
            "together with countdowns (create_default_follows: countdown=0.4, generate_initial_"
            "recommendations: countdown=0.8 and update_user_statistics: countdown=1.2)",
            "chain them with .si(): a chain sends each step when the one before it has finished",
            id="r6-staggered-group",
        ),
        pytest.param(
            _flow_r6_cached_global(),
            "registered_flow(8) returned the same canvas object that registered_flow(7) had "
            "returned, and the check has sent it already: a canvas kept from an earlier call",
            "build a new canvas in every call, from the arguments it gets: a canvas kept "
            "between calls (a global, a cache) holds the arguments of the call that built it, "
            "and once sent it keeps the id Celery gave it",
            id="r6-cached-global",
        ),
        pytest.param(flow_r6_two_chains_in_group, "for user 7, ", ".si()",
                     id="r6-two-chains-in-group"),
        pytest.param(
            flow_r6_fixed_ids,
            "registered_flow(7) reused the task ids 'send_welcome_email-7', 'create_default_"
            "follows-7', 'generate_initial_recommendations-7' and 'update_user_statistics-7'",
            "leave task_id out: Celery gives every task a new id when the canvas is sent; an id "
            "built from the user id (or a fixed one) repeats whenever a flow for the same user "
            "is sent again",
            id="r6-fixed-ids",
        ),
        pytest.param(
            flow_r6_welcome_at_build,
            "registered_flow(7) sent send_welcome_email itself while it built the canvas",
            "return every task inside the canvas, unsent",
            id="r6-welcome-at-build",
        ),
        pytest.param(
            flow_r6_stats_link_too,
            "for user 7, these steps ran: ['send_welcome_email(user 7)', 'create_default_"
            "follows(user 7)', 'generate_initial_recommendations(user 7)', 'update_user_"
            "statistics(user 7)', 'update_user_statistics(user 7)']",
            "chain the four steps of guide 002 §4, each once, each with .si(user_id)",
            id="r6-stats-link-too",
        ),
        pytest.param(
            flow_r6_countdown_chain_group,
            "for user 7, generate_initial_recommendations and update_user_statistics ran in one "
            "group, sent together with countdowns (update_user_statistics: countdown=0.3)",
            "chain them with .si(): a chain sends each step when the one before it has finished",
            id="r6-countdown-chain-group",
        ),
        # adversary round 7 (its middle-group and links-from-first are the rows r6-middle-group
        # and r6-link-fanout, word for word)
        pytest.param(
            flow_r7_publish_then_chain,
            "'notify_followers(user 7)'",
            "chain the four steps of guide 002 §4, each once, each with .si(user_id)",
            id="r7-publish-then-chain",
        ),
        pytest.param(
            flow_r7_shared_signatures,
            "registered_flow(8) returned a canvas holding update_user_statistics.si(8) (the same "
            "signature object) that the canvas registered_flow(7) returned holds too: building "
            "it changed that earlier canvas, whose update_user_statistics.si(7) is now "
            "update_user_statistics.si(8)",
            SHARED71,
            id="r7-shared-signatures",
        ),
        pytest.param(
            flow_r7_immutable_chain,
            "for user 7, a step failed with TypeError: create_default_follows() takes 1 "
            "positional argument but 2 were given",
            "in a chain, .s(user_id) also receives the previous step's result as its first "
            "argument: use .si(user_id)",
            id="r7-immutable-chain",
        ),
        pytest.param(
            flow_r7_shared_chain,
            "registered_flow(8) returned the same canvas object that registered_flow(7) had "
            "returned, and the check has sent it already",
            "build a new canvas in every call, from the arguments it gets",
            id="r7-shared-chain",
        ),
        pytest.param(
            flow_r7_clear_own_lines,
            "registered_flow(7) removed send_welcome_email(user 7), create_default_follows(user "
            "7), generate_initial_recommendations(user 7) and update_user_statistics(user 7) "
            "from the event log while it built the canvas: lines that an earlier flow of user 7 "
            "had written there",
            "leave the logs as they are in the function, this one's own earlier lines included "
            "(no lrem(), no events.clear_log())",
            id="r7-clear-own-lines",
        ),
        pytest.param(
            flow_r7_cached_steps,
            "registered_flow(7) returned a canvas holding update_user_statistics.si(7) (the "
            "same signature object) that the canvas registered_flow(7) returned holds too: the "
            "two canvases are one object there, so a freeze() of one writes its task id into "
            "the other",
            SHARED71,
            id="r7-cached-steps",
        ),
    ],
)  # fmt: skip
def test_07_1_wrong_answers(answer, problem, hint) -> None:
    # two chains in a group: which one runs first varies, and the check names what it saw
    # (one sent before the other had finished, or the steps out of order)
    # (a group of a chain and a task held back by a countdown: which finishes first as well)
    within = answer in (flow_r3_two_chains, flow_r5_stats_by_countdown, flow_r6_two_chains_in_group)
    assert_fails(verdict("07.1", answer), problem, hint, hint_within=within)


def flow_links_reversed(user_id):
    """Three links on step 1, the last step linked first: they are sent together, in the
    order linked, so a worker (one, first in first out, or several) runs them out of order."""
    first = WELCOME.si(user_id)
    for step in reversed(STEPS[1:]):
        first.link(step.si(user_id))
    return first


def test_07_1_links_out_of_order_name_the_links() -> None:
    # however the worker ordered them, the feedback names the links, not a group
    outcome = verdict("07.1", flow_links_reversed)
    assert_fails(outcome, "links of send_welcome_email", "with .si()", hint_within=True)
    assert "ran in one group" not in outcome.feedback


def test_07_1_stub_is_not_yet() -> None:
    assert "not yet" in verdict("07.1", flow_stub).feedback
    assert "not yet" in verdict("07.1", ...).feedback


# --------------------------------------------------------------------------- 07.2


def doubles_chord(numbers):
    return chord((add.s(n, n) for n in numbers), xsum.s())


def doubles_chain_of_group(numbers):
    return group(add.s(n, n) for n in numbers) | xsum.s()  # Celery makes it a chord


def doubles_keywords(numbers):
    return chord([add.si(x=n, y=n) for n in numbers], xsum.s())


def doubles_group(numbers):
    return group(add.s(n, n) for n in numbers)


def doubles_blocking(numbers):
    # countdown: the adds are surely not done when get() is called, however loaded the machine
    return sum(group(add.s(n, n) for n in numbers).apply_async(countdown=0.5).get(timeout=5))


def doubles_waits_then_xsum(numbers):
    doubles = group(add.s(n, n) for n in numbers).apply_async(countdown=0.5).get(timeout=5)
    return xsum.si(doubles)


def doubles_local(numbers):
    return xsum.si([2 * n for n in numbers])


def doubles_starmap(numbers):
    return add.starmap([(n, n) for n in numbers]) | xsum.s()


def doubles_multiply(numbers):
    return chord([multiply.s(n, 2) for n in numbers], xsum.s())


def doubles_local_add(numbers):
    return chord([add.s(add(n, n), 0) for n in numbers], xsum.s())


def doubles_sequential(numbers):
    return chain(add.s(0, 0), *(add.s(n + n) for n in numbers))


def doubles_padded(numbers):
    return chord([add.s(n, n) for n in numbers] + [add.s(0, 0)], xsum.s())


def doubles_dedup(numbers):
    return chord([add.s(n, n) for n in sorted(set(numbers))], xsum.s())


def doubles_sent(numbers):
    return chord(add.s(n, n) for n in numbers)(xsum.s())


def doubles_callback_precomputed(numbers):
    """Adversary round 2: the header runs on the worker, the callback ignores its results."""
    return chord([add.s(n, n) for n in numbers], xsum.si([n + n for n in numbers]))


def doubles_callback_fixed_list(numbers):
    """No arithmetic on a number, and still a callback that ignores the header's results."""
    return chord([add.s(n, n) for n in numbers], xsum.si(numbers + numbers))


def doubles_repeats_merged(numbers):
    from collections import Counter

    return chord([add.s(c * n, c * n) for n, c in Counter(numbers).items()], xsum.s())


def doubles_first_three(numbers):
    return chord([add.s(numbers[i], numbers[i]) for i in range(3)], xsum.s())


def doubles_start_value(numbers):
    return chord([add.s(0, 0)] + [add.s(n, n) for n in numbers], xsum.s())


def doubles_waited_group(numbers):
    doubles = group(add.s(n, n) for n in numbers).apply_async(countdown=0.5).get(timeout=5)
    return xsum.s(doubles)


def doubles_cast(numbers):
    return chord([add.s(int(n), int(n)) for n in numbers], xsum.s())


# adversary round 3


def doubles_r3_chord_called(numbers):
    return chord(add.s(n, n) for n in numbers)(xsum.s())


def doubles_r3_ids_by_number(numbers):
    return chord((add.s(n, n).set(task_id=f"double-{n}") for n in numbers), xsum.s())


def doubles_r3_ids_by_index(numbers):
    return chord((add.s(n, n).set(task_id=f"double-{i}") for i, n in enumerate(numbers)), xsum.s())


def doubles_r3_padding_zero(numbers):
    return chord([add.s(0, 0)] + [add.s(n, n) for n in numbers], xsum.s())


def doubles_r3_multiply_by_two(numbers):
    return chord((multiply.s(n, 2) for n in numbers), xsum.s())


def doubles_r3_dedup_order_kept(numbers):
    return chord((add.s(n, n) for n in dict.fromkeys(numbers)), xsum.s())


def doubles_r3_starmap(numbers):
    return add.starmap(list(zip(numbers, numbers, strict=True))) | xsum.s()


def doubles_r3_chain_of_adds(numbers):
    first, *rest = numbers
    steps = [add.s(first, first)]
    for n in rest:
        steps += [add.s(n), add.s(n)]
    return chain(*steps)


def doubles_r3_double_in_kernel(numbers):
    return chord((add.s(2 * n, 0) for n in numbers), xsum.s())


def doubles_r3_extra_step_after(numbers):
    return chord((add.s(n, n) for n in numbers), xsum.s()) | add.s(0)


def doubles_r3_add_called_in_kernel(numbers):
    return xsum.si([add(n, n) for n in numbers])


def doubles_r3_group_no_callback(numbers):
    return group(add.s(n, n) for n in numbers)


def doubles_r3_chunks_header(numbers):
    return chord(add.chunks(list(zip(numbers, numbers, strict=True)), 2).group(), xsum.s())


# adversary round 4


def doubles_r4_chord_called(numbers):
    # chord(header)(body) *sends* the chord (it is apply_async), returns an AsyncResult.
    return chord(add.s(n, n) for n in numbers)(xsum.s())


def doubles_r4_arithmetic_in_args(numbers):
    # "add(n, n) is 2n": computes the double in the function, add only adds 0.
    return chord((add.s(2 * n, 0) for n in numbers), xsum.s())


def doubles_r4_zero_padding(numbers):
    # pads the header with add(0, 0) "so that an empty list still works".
    return chord([add.s(0, 0)] + [add.s(n, n) for n in numbers], xsum.s())


def doubles_r4_starmap(numbers):
    # one task that loops over the pairs: not parallel, add never runs as a task.
    return add.starmap([(n, n) for n in numbers]) | xsum.s()


def doubles_r4_dedup_fromkeys(numbers):
    # keeps the order but drops repeats ("no need to add the same number twice").
    return chord((add.s(n, n) for n in dict.fromkeys(numbers)), xsum.s())


def doubles_r4_xsum_pairs(numbers):
    # xsum([n, n]) is n + n as well: the wrong task in the header.
    return chord((xsum.s([n, n]) for n in numbers), xsum.s())


def doubles_r4_applied_eagerly(numbers):
    # apply() instead of returning: runs every task in the kernel, returns an EagerResult.
    return chord((add.s(n, n) for n in numbers), xsum.s()).apply()


def doubles_r4_skip_zeros(numbers):
    # "0 + 0 is 0, no task needed": no add for a zero (the value is the same).
    return chord((add.s(n, n) for n in numbers if n), xsum.s())


def doubles_r4_single_number_shortcut(numbers):
    # "a chord of one is overkill": for one number, only add (no xsum, no chord).
    if len(numbers) == 1:
        return add.s(numbers[0], numbers[0])
    return chord((add.s(n, n) for n in numbers), xsum.s())


def doubles_r4_sorted(numbers):
    # sorts "so the callback gets the results in order" -- harmless? (xsum does not care)
    # the callback receives the doubles in another order than the numbers given.
    return chord((add.s(n, n) for n in sorted(numbers)), xsum.s())


# adversary round 5


def doubles_r5_mirror_pairs(numbers):
    # pairs each number with its mirror: sum(n + m) == sum(2n), but add(n, n) never runs
    return chord((add.s(n, m) for n, m in zip(numbers, reversed(numbers), strict=True)), xsum.s())


def doubles_r5_dedup_and_scale(numbers):
    # one add per distinct number, scaled by its count in the function
    counts = {n: numbers.count(n) for n in numbers}
    return chord((add.s(n * c, n * c) for n, c in counts.items()), xsum.s())


def doubles_r5_int_cast_generator(numbers):
    # "the tasks want ints": int() in a generator, which Celery reads only when the canvas is
    # iterated or sent (the check reads it while the function still runs)
    return chord((add.s(int(n), int(n)) for n in numbers), xsum.s())


def doubles_r5_staggered_group_pipe(numbers):
    # group | xsum with each member held back 0.1 s more than the one before: in sequence
    return group(add.s(n, n).set(countdown=0.1 * i) for i, n in enumerate(numbers)) | xsum.s()


def doubles_r5_staggered_members(numbers):
    # "to spread the load": each member delayed by its position
    return chord((add.s(n, n).set(countdown=0.15 * i) for i, n in enumerate(numbers)), xsum.s())


def doubles_r5_staggered_etas(numbers):
    # the same with an eta per member
    start = datetime.now(timezone.utc)
    return chord(
        (
            add.s(n, n).set(eta=start + timedelta(seconds=0.1 * (i + 1)))
            for i, n in enumerate(numbers)
        ),
        xsum.s(),
    )


def doubles_r5_all_held_back(numbers):
    # every member held back alike (a countdown on the chord): sent to wait, not to run
    return chord((add.s(n, n) for n in numbers), xsum.s()).set(countdown=0.2)


def doubles_r5_callback_plus_step(numbers):
    # one more add(total, 0) after the callback
    return chord((add.s(n, n) for n in numbers), xsum.s()) | add.s(0)


# adversary round 6


def doubles_r6_si_precomputed(numbers):
    # the callback gets the doubles computed in the function
    return chord((add.si(n, n) for n in numbers), xsum.si([n + n for n in numbers]))


def doubles_r6_si_local_calls(numbers):
    # add() called directly (in the kernel) to build the callback's argument
    return chord([add.s(n, n) for n in numbers], xsum.si([add(n, n) for n in numbers]))


def doubles_r6_starmap_chain(numbers):
    # starmap: one task loops, no parallelism
    return add.starmap([(n, n) for n in numbers]) | xsum.s()


def doubles_r6_fixed_ids(numbers):
    # readable task ids: a repeated number (or the same number in another list) reuses one
    return chord([add.s(n, n).set(task_id=f"double-{n}") for n in numbers], xsum.s())


def doubles_r6_chain_group_single(numbers):
    # chain(group, callback): for one number, chain() unrolls the group of one
    return chain(group(add.s(n, n) for n in numbers), xsum.s())


def doubles_r6_skip_zero(numbers):
    # "adding 0 + 0 is pointless": zeros left out of the header
    return chord([add.s(n, n) for n in numbers if n] or [add.s(0, 0)], xsum.s())


def doubles_r6_multiply_by_two(numbers):
    return chord((multiply.s(n, 2) for n in numbers), xsum.s())


def doubles_r6_stagger(numbers):
    # spreads the load with a small countdown per member
    return chord((add.s(n, n).set(countdown=0.05 * i) for i, n in enumerate(numbers)), xsum.s())


def doubles_r6_sequential_chain(numbers):
    # one add after the other, summing as it goes, n + n computed in the function
    return chain(add.s(0, 0), *(add.s(n + n) for n in numbers))


def doubles_r6_callback_fixed_id(numbers):
    # a readable id for the total: the next list finds the previous list's total stored
    return chord((add.s(n, n) for n in numbers), xsum.s().set(task_id="total-of-doubles"))


def doubles_r6_group_fixed_id(numbers):
    """Right in effect (adversary round 6 meant it as wrong): a task_id on the header's group
    is dropped when chord() takes the group apart (Celery 5.7 keeps only its tasks), so every
    chord's header still gets a group id of its own."""
    return chord(group((add.s(n, n) for n in numbers), task_id="doubles"), xsum.s())


def doubles_r6_truncated(numbers):
    # a batch limit: only the first 3 numbers
    return chord((add.s(n, n) for n in numbers[:3]), xsum.s())


def doubles_r6_sorts_in_place(numbers):
    # sorts the caller's list in place "for a deterministic order"
    numbers.sort()
    return chord((add.s(n, n) for n in numbers), xsum.s())


# adversary round 7 (shared-callback passed before: the check kept no signature of an
# earlier call's canvas; header-ignore-result was told to loop over numbers, and
# callback-ignore-result that the worker was not running)


def doubles_r7_callback_precomputed(numbers):
    return chord([add.s(n, n) for n in numbers], xsum.si([n + n for n in numbers]))


def doubles_r7_header_ignore_result(numbers):
    # "only the total matters": the adds ignore their results (xsum still gets them)
    return chord([add.s(n, n).set(ignore_result=True) for n in numbers], xsum.s())


def doubles_r7_padded_single(numbers):
    # a dummy add(0, 0) beside a single number, for fear that a group of one is unrolled
    members = [add.s(n, n) for n in numbers]
    if len(numbers) == 1:
        members.append(add.s(0, 0))
    return group(members) | xsum.s()


def doubles_r7_callback_ignore_result(numbers):
    # the total is never stored: the chord's handle never becomes ready
    return chord([add.s(n, n) for n in numbers], xsum.s().set(ignore_result=True))


_R7_TOTAL = xsum.s()


def doubles_r7_shared_callback(numbers):
    # one module-level callback in every chord returned
    return chord([add.s(n, n) for n in numbers], _R7_TOTAL)


def doubles_r7_cloned_callback(numbers):
    """Also right: a module-level callback, cloned in every call (a new object each time)."""
    return chord([add.s(n, n) for n in numbers], _R7_TOTAL.clone())


def doubles_r7_group_pipe(numbers):
    """Also right (adversary round 7 dropped it as right): group | task is a chord at any
    size, a group of one included."""
    return group(add.s(n, n) for n in numbers) | xsum.s()


@pytest.mark.parametrize(
    "answer",
    [doubles_chord, doubles_chain_of_group, doubles_keywords, doubles_r4_sorted,
     doubles_r6_group_fixed_id, doubles_r7_cloned_callback, doubles_r7_group_pipe],
)  # fmt: skip
def test_07_2_right_answers(answer) -> None:
    assert_passed(verdict("07.2", answer), "22 for [3, 0, 8] and 12 for [6]: one add(n, n) per")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(doubles_group, "is the list [2, 4, 6]", "a group only collects",
                     id="group"),
        pytest.param(doubles_blocking, "waited for its tasks (it called get())",
                     "it waited for the tasks", id="blocking"),
        pytest.param(doubles_waits_then_xsum, "waited for its tasks (it called get())",
                     "it waited for the tasks", id="waits"),
        pytest.param(doubles_local, "xsum ran alone, on [2, 4, 6] computed in the notebook: no "
                     "add ran on the worker", "a chord: one add.s(n, n) per number",
                     id="in-notebook"),
        pytest.param(doubles_starmap, "xsum added what one starmap task returned, not the "
                     "results of 3 add tasks", "starmap runs all the adds one after another",
                     id="starmap"),
        pytest.param(doubles_multiply, "the chord's header ran ['multiply(1, 2)', "
                     "'multiply(2, 2)', 'multiply(3, 2)']", "the exercise doubles with add",
                     id="multiply"),
        pytest.param(doubles_local_add, "the chord's header ran ['add(2, 0)', 'add(4, 0)', "
                     "'add(6, 0)']", "it computed 1 + 1, 2 + 2 and 3 + 3 in the notebook",
                     id="local-add"),
        pytest.param(doubles_sequential, "the canvas ended with add, not xsum: the worker ran "
                     "['add(0, 0)', 'add(0, 2)', 'add(2, 4)', 'add(6, 6)'], one after another",
                     "a chord: one add.s(n, n) per number", id="sequential"),
        pytest.param(doubles_padded, "'add(3, 3)', 'add(0, 0)'], not one add(n, n) per number",
                     "one add.s(n, n) per number in the chord's header, and nothing else",
                     id="padded"),
        pytest.param(doubles_dedup, "for [4, 9, 4, 4], the chord's header ran ['add(4, 4)', "
                     "'add(9, 9)']", "one add per number, each time a number appears",
                     id="dedup"),
        pytest.param(doubles_sent, "sent the canvas and returned an AsyncResult",
                     "return the canvas itself", id="sent"),
        # adversary round 2
        pytest.param(doubles_callback_precomputed, "for [1, 2, 3], the callback is xsum.si([2, "
                     "4, 6]) (1 + 1, 2 + 2 and 3 + 3 computed in the notebook): it adds numbers "
                     "fixed when the canvas was built, not the results of the adds",
                     "xsum.s() with no arguments as the chord's callback",
                     id="callback-precomputed"),
        pytest.param(doubles_callback_fixed_list, "the callback is xsum.si([1, 2, 3, 1, 2, 3]): "
                     "it adds numbers fixed", "xsum.s() with no arguments",
                     id="callback-fixed-list"),
        pytest.param(doubles_multiply, "'multiply(1, 2)'",
                     "the exercise doubles with add", id="multiply-by-two"),
        pytest.param(doubles_repeats_merged, "total_of_doubles([1, 2, 3]) computed 1 * 1",
                     "compute nothing in the function", id="repeats-merged"),
        pytest.param(doubles_first_three, "for [5, 10, 20, 40], the chord's header ran ['add(5, "
                     "5)', 'add(10, 10)', 'add(20, 20)']", "one add.s(n, n) for each of the 4 "
                     "numbers, however many there are: loop over numbers itself, not a fixed "
                     "count (40 got no add)", id="first-three-only"),
        pytest.param(doubles_start_value, "['add(0, 0)', 'add(1, 1)', 'add(2, 2)', 'add(3, 3)']",
                     "one add.s(n, n) per number in the chord's header, and nothing else",
                     id="extra-zero-member"),
        pytest.param(doubles_starmap, "xsum added what one starmap task returned",
                     "starmap runs all the adds", id="starmap-then-xsum"),
        pytest.param(doubles_waited_group, "waited for its tasks (it called get())",
                     "it waited for the tasks", id="waited-then-xsum"),
        pytest.param(doubles_cast, "total_of_doubles([1, 2, 3]) computed int(1), int(1)",
                     "compute nothing in the function", id="int-cast"),
        # adversary round 3
        pytest.param(doubles_r3_chord_called, "sent the canvas and returned an AsyncResult",
                     "return the canvas itself", id="r3-chord-called"),
        pytest.param(doubles_r3_ids_by_number, "task id", "leave task_id out: Celery gives every "
                     "task a new id", id="r3-stable-task-ids"),
        pytest.param(doubles_r3_ids_by_index, "reused the task ids 'double-", "leave task_id "
                     "out: Celery gives every task a new id", id="r3-stable-ids-by-index"),
        pytest.param(doubles_r3_padding_zero, "'add(0, 0)', 'add(1, 1)', 'add(2, 2)', 'add(3, 3)'"
                     "], not one add(n, n) per number", "one add.s(n, n) per number",
                     id="r3-padding-zero"),
        pytest.param(doubles_r3_multiply_by_two, "'multiply(1, 2)'", "the exercise doubles with "
                     "add", id="r3-multiply-by-two"),
        pytest.param(doubles_r3_dedup_order_kept, "for [4, 9, 4, 4], the chord's header ran "
                     "['add(4, 4)', 'add(9, 9)']", "one add per number, each time a number "
                     "appears", id="r3-dedup-order-kept"),
        pytest.param(doubles_r3_starmap, "xsum added what one starmap task returned",
                     "starmap runs all the adds", id="r3-starmap"),
        pytest.param(doubles_r3_chain_of_adds, "the canvas ended with add, not xsum",
                     "a chord: one add.s(n, n)", id="r3-chain-of-adds"),
        pytest.param(doubles_r3_double_in_kernel, "['add(2, 0)', 'add(4, 0)', 'add(6, 0)']",
                     "it computed 2 * 1, 2 * 2 and 2 * 3 in the notebook (arithmetic written in "
                     "the function", id="r3-double-in-kernel"),
        pytest.param(doubles_r3_extra_step_after, "the canvas ended with add, not xsum",
                     "a chord: one add.s(n, n)", id="r3-extra-step-after"),
        pytest.param(doubles_r3_add_called_in_kernel, "xsum ran alone, on [2, 4, 6] computed in "
                     "the notebook", "a chord: one add.s(n, n)", id="r3-add-called-in-kernel"),
        pytest.param(doubles_r3_group_no_callback, "is the list [2, 4, 6]", "a group only "
                     "collects", id="r3-group-no-callback"),
        pytest.param(doubles_r3_chunks_header, "TypeError: unsupported operand type(s) for +: "
                     "'int' and 'list'", None, id="r3-chunks-header"),
        # adversary round 4
        pytest.param(
            doubles_r4_chord_called,
            "total_of_doubles sent the canvas and returned an AsyncResult",
            "return the canvas itself (the signature), unsent: the check sends it",
            id="r4-chord-called",
        ),
        pytest.param(
            doubles_r4_arithmetic_in_args,
            "for [1, 2, 3], the chord's header ran ['add(2, 0)', 'add(4, 0)', "
            "'add(6, 0)'], not one add(n, n) per number",
            "it computed 2 * 1, 2 * 2 and 2 * 3 in the notebook (arithmetic written in the "
            "function, or add(n, n) called directly, runs right here)",
            id="r4-arithmetic-in-args",
        ),
        pytest.param(
            doubles_r4_zero_padding,
            "for [1, 2, 3], the chord's header ran ['add(0, 0)', 'add(1, 1)', "
            "'add(2, 2)', 'add(3, 3)'], not one add(n, n)",
            "one add.s(n, n) per number in the chord's header, and nothing else",
            id="r4-zero-padding",
        ),
        pytest.param(
            doubles_r4_starmap,
            "for [1, 2, 3], xsum added what one starmap task returned, not the "
            "results of 3 add tasks run in parallel",
            "starmap runs all the adds one after another inside one task: a "
            "chord: one",
            id="r4-starmap-then-xsum",
        ),
        pytest.param(
            doubles_r4_dedup_fromkeys,
            "for [4, 9, 4, 4], the chord's header ran ['add(4, 4)', 'add(9, 9)'], "
            "not one add(n, n) per number",
            "one add per number, each time a number appears: loop over numbers, "
            "not",
            id="r4-dedup-fromkeys",
        ),
        pytest.param(
            doubles_r4_xsum_pairs,
            "for [1, 2, 3], the chord's header ran ['xsum([1, 1])', 'xsum([2, "
            "2])', 'xsum([3, 3])'], not one add(n, n) per",
            "the exercise doubles with add: add.s(n, n) for each number, not xsum",
            id="r4-xsum-pairs",
        ),
        pytest.param(
            doubles_r4_applied_eagerly,
            "total_of_doubles([1, 2, 3]) ran the canvas in the notebook (apply()) "
            "and returned an EagerResult: nothing ran",
            "return the canvas itself (the signature), unsent and not applied: "
            "the check",
            id="r4-applied-eagerly",
        ),
        pytest.param(
            doubles_r4_skip_zeros,
            "for [3, 0, 8], the chord's header ran ['add(3, 3)', 'add(8, 8)'], "
            "not one add(n, n) per number",
            "0 needs its add too: one add.s(n, n) for every number of the list, a "
            "0",
            id="r4-skip-zeros",
        ),
        pytest.param(
            doubles_r4_single_number_shortcut,
            "for the one-number list [6], the canvas was ['add(6, 6)'] alone, no "
            "chord and no xsum",
            "a list of one number gets the same chord as any other: one add.s(n, "
            "n) per",
            id="r4-single-number-shortcut",
        ),
        # adversary round 5, and the same mistakes spelled otherwise (its extra-zero-member
        # and starmap are the rows r4-zero-padding and r4-starmap-then-xsum, word for word)
        pytest.param(
            doubles_r5_mirror_pairs,
            "for [1, 2, 3], the chord's header ran ['add(1, 3)', 'add(2, 2)', 'add(3, 1)'], "
            "not one add(n, n) per number",
            "one add.s(n, n) per number in the chord's header, and nothing else",
            id="r5-mirror-pairs",
        ),
        pytest.param(
            doubles_r5_dedup_and_scale,
            "total_of_doubles([1, 2, 3]) computed 1 * 1, 1 * 1, 2 * 1",
            "compute nothing in the function: add.s(n, n) in the header",
            id="r5-dedup-and-scale",
        ),
        pytest.param(
            doubles_r5_int_cast_generator,
            "total_of_doubles([1, 2, 3]) computed int(1), int(1), int(2), int(2), int(3) and "
            "int(3) in the notebook",
            "compute nothing in the function: add.s(n, n) in the header, xsum.s() as the "
            "callback, and the worker does the arithmetic; int(), float() or round() on a "
            "number is a computation too: it changes the number (2.5 becomes 2)",
            id="r5-int-cast",
        ),
        pytest.param(
            doubles_r5_staggered_group_pipe,
            "for [1, 2, 3], the chord's header sent its adds to start at different times "
            "(add(1, 1) at once, add(2, 2) after ",
            "send the header's adds all at once, none held back by a countdown or an eta",
            id="r5-staggered-group-pipe",
        ),
        pytest.param(
            doubles_r5_staggered_members,
            "for [1, 2, 3], the chord's header sent its adds to start at different times",
            "send the header's adds all at once, none held back by a countdown or an eta",
            id="r5-staggered-members",
        ),
        pytest.param(
            doubles_r5_staggered_etas,
            "for [1, 2, 3], the chord's header sent its adds to start at different times",
            "send the header's adds all at once, none held back by a countdown or an eta",
            id="r5-staggered-etas",
        ),
        pytest.param(
            doubles_r5_all_held_back,
            "for [1, 2, 3], every add of the chord's header was held back 0.2 s after "
            "it was sent (a countdown or an eta)",
            "send the header's adds all at once, none held back by a countdown or an eta",
            id="r5-all-held-back",
        ),
        pytest.param(
            doubles_r5_callback_plus_step,
            "for [1, 2, 3], the canvas ended with add, not xsum: the worker ran ['add(1, 1)', "
            "'add(2, 2)', 'add(3, 3)', 'xsum([2, 4, 6])', 'add(12, 0)']",
            "a chord: one add.s(n, n) per number in its header, xsum.s() as its callback",
            id="r5-callback-plus-step",
        ),
        # adversary round 6 (sorts-in-place passed before: the check did not look at the list
        # after the call; chain-group-single got the TypeError with no hint. Its group-fixed-id
        # is a right answer: Celery drops the group's task_id, see doubles_r6_group_fixed_id)
        pytest.param(
            doubles_r6_si_precomputed,
            "for [1, 2, 3], the callback is xsum.si([2, 4, 6]) (1 + 1, 2 + 2 and 3 + 3 computed "
            "in the notebook): it adds numbers fixed when the canvas was built",
            "xsum.s() with no arguments as the chord's callback",
            id="r6-si-precomputed",
        ),
        pytest.param(
            doubles_r6_si_local_calls,
            "for [1, 2, 3], the callback is xsum.si([2, 4, 6])",
            "xsum.s() with no arguments as the chord's callback",
            id="r6-si-local-calls",
        ),
        pytest.param(
            doubles_r6_starmap_chain,
            "for [1, 2, 3], xsum added what one starmap task returned, not the results of 3 add "
            "tasks run in parallel",
            "starmap runs all the adds one after another inside one task",
            id="r6-starmap-chain",
        ),
        pytest.param(
            doubles_r6_fixed_ids,
            "task id",
            "leave task_id out: Celery gives every task a new id when the canvas is sent",
            id="r6-fixed-ids",
        ),
        pytest.param(
            doubles_r6_chain_group_single,
            "for the one-number list [6], the canvas failed: TypeError: 'int' object is not "
            "iterable: xsum got the number that add(6, 6) returned, not a list",
            "chain() turns a group of one task into that task alone (Celery unrolls it), so "
            "chain(group(...), xsum.s()) hands xsum a number when the list holds one",
            id="r6-chain-group-single",
        ),
        pytest.param(
            doubles_r6_skip_zero,
            "for [3, 0, 8], the chord's header ran ['add(3, 3)', 'add(8, 8)'], not one add(n, n) "
            "per number",
            "0 needs its add too",
            id="r6-skip-zero",
        ),
        pytest.param(
            doubles_r6_multiply_by_two,
            "the chord's header ran ['multiply(1, 2)', 'multiply(2, 2)', 'multiply(3, 2)']",
            "the exercise doubles with add: add.s(n, n) for each number, not multiply",
            id="r6-multiply-by-two",
        ),
        pytest.param(
            doubles_r6_stagger,
            "for [1, 2, 3], the chord's header sent its adds to start at different times",
            "send the header's adds all at once, none held back by a countdown or an eta",
            id="r6-stagger",
        ),
        pytest.param(
            doubles_r6_sequential_chain,
            "for [1, 2, 3], the canvas ended with add, not xsum: the worker ran ['add(0, 0)', "
            "'add(0, 2)', 'add(2, 4)', 'add(6, 6)'], one after another",
            "a chord: one add.s(n, n) per number in its header, xsum.s() as its callback",
            id="r6-sequential-chain",
        ),
        pytest.param(
            doubles_r6_callback_fixed_id,
            "reused the task id 'total-of-doubles'",
            "leave task_id out: Celery gives every task a new id when the canvas is sent",
            id="r6-callback-fixed-id",
        ),
        pytest.param(
            doubles_r6_truncated,
            "for [5, 10, 20, 40], the chord's header ran ['add(5, 5)', 'add(10, 10)', "
            "'add(20, 20)'], not one add(n, n) per number",
            "one add.s(n, n) for each of the 4 numbers, however many there are",
            id="r6-truncated",
        ),
        pytest.param(
            doubles_r6_sorts_in_place,
            "total_of_doubles([4, 9, 4, 4]) changed the list it was given: the caller's list is "
            "now [4, 4, 4, 9]",
            "leave the list it gets as it is (no numbers.sort(), reverse(), append() or pop() on "
            "it)",
            id="r6-sorts-in-place",
        ),
        # adversary round 7 (its starmap is the row starmap, word for word)
        pytest.param(
            doubles_r7_callback_precomputed,
            "for [1, 2, 3], the callback is xsum.si([2, 4, 6]) (1 + 1, 2 + 2 and 3 + 3 computed "
            "in the notebook)",
            "xsum.s() with no arguments as the chord's callback",
            id="r7-callback-precomputed",
        ),
        pytest.param(
            doubles_r7_header_ignore_result,
            "for [1, 2, 3], 3 of the chord's 3 header tasks left no result in the result backend "
            "(xsum got [2, 4, 6] from them): their handles stay PENDING for good",
            "add.s(n, n) in the header without ignore_result=True: the chord still hands their "
            "results to xsum, but each add's own result is thrown away",
            id="r7-header-ignore-result",
        ),
        pytest.param(
            doubles_r7_padded_single,
            "for [6], the chord's header ran ['add(6, 6)', 'add(0, 0)'], not one add(n, n) per "
            "number",
            "one add.s(n, n) per number in the chord's header, and nothing else",
            id="r7-padded-single",
        ),
        pytest.param(
            doubles_r7_callback_ignore_result,
            "for [1, 2, 3], the chord's header finished (its tasks returned [2, 4, 6]), but the "
            "chord's handle, its callback's, is still PENDING after 5 s: the callback's result "
            "was never stored",
            "xsum.s() as the callback, without ignore_result=True",
            id="r7-callback-ignore-result",
        ),
        pytest.param(
            doubles_r7_shared_callback,
            "total_of_doubles([5, 10, 20, 40]) returned a canvas holding xsum.s() (the same "
            "signature object) that the canvas total_of_doubles([1, 2, 3]) returned holds too",
            SHARED72,
            id="r7-shared-callback",
        ),
    ],
)  # fmt: skip
def test_07_2_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("07.2", answer), problem, hint)


# --------------------------------------------------------------------------- 07.3

PIPELINE = (
    validate_image,
    compress_image,
    generate_thumbnails,
    update_image_metadata,
    notify_processing_complete,
)


def _pipeline(image_id, steps=PIPELINE):
    first, *rest = steps
    return chain(first.s(image_id), *(step.s() for step in rest))


def image_right(image_id):
    return _pipeline(image_id).apply_async(link_error=record_failure.s())


def image_si(image_id):
    steps = (step.si(image_id) for step in PIPELINE)
    return chain(*steps).apply_async(link_error=record_failure.s())


def image_on_error(image_id):
    return _pipeline(image_id).on_error(record_failure.s()).apply_async()


def image_no_errback(image_id):
    return _pipeline(image_id).apply_async()


def image_guide(image_id):
    steps = (step.s(image_id) for step in PIPELINE)
    return chain(*steps).apply_async(link_error=record_failure.s())


def image_link(image_id):
    return _pipeline(image_id).apply_async(link=record_failure.s())


def image_waits(image_id):
    # countdown: the chain is surely not done when get() is called, however loaded the machine
    result = _pipeline(image_id).apply_async(link_error=record_failure.s(), countdown=0.5)
    result.get(timeout=5, propagate=False)
    return result


def image_unsent(image_id):
    return _pipeline(image_id)


def image_unsent_on_error(image_id):
    return _pipeline(image_id).on_error(record_failure.s())


def image_errback_first_only(image_id):
    first = validate_image.s(image_id).on_error(record_failure.s())
    return chain(first, *(step.s() for step in PIPELINE[1:])).apply_async()


def image_errback_last_only(image_id):
    last = notify_processing_complete.s().on_error(record_failure.s())
    return chain(validate_image.s(image_id), *(s.s() for s in PIPELINE[1:-1]), last).apply_async()


def image_errback_first_two(image_id):
    first = validate_image.s(image_id).on_error(record_failure.s())
    second = compress_image.s().on_error(record_failure.s())
    return chain(first, second, *(step.s() for step in PIPELINE[2:])).apply_async()


def image_link_chain(image_id):
    rest = chain(*(step.s() for step in PIPELINE[1:]))
    return validate_image.apply_async((image_id,), link=rest, link_error=record_failure.s())


def image_group(image_id):
    steps = group(step.si(image_id) for step in PIPELINE)
    return steps.apply_async(link_error=record_failure.s())


def image_group_in_the_middle(image_id):
    middle = group(step.si(image_id) for step in PIPELINE[1:4])
    last = notify_processing_complete.si(image_id)
    return chain(validate_image.si(image_id), middle, last).apply_async(
        link_error=record_failure.s()
    )


def image_immutable_errback(image_id):
    return _pipeline(image_id).apply_async(link_error=record_failure.si())


def image_immutable_on_error(image_id):
    return _pipeline(image_id).on_error(record_failure.si()).apply_async()


def image_validate_apart(image_id):
    validate_image.delay(image_id)
    rest = chain(compress_image.si(image_id), *(step.s() for step in PIPELINE[2:]))
    return rest.apply_async(link_error=record_failure.s())


def image_four_steps(image_id):
    steps = (validate_image, compress_image, generate_thumbnails, notify_processing_complete)
    return _pipeline(image_id, steps).apply_async(link_error=record_failure.s())


def image_waits_propagate_false(image_id):
    """Adversary round 2: the right chain, then get() before returning."""
    result = _pipeline(image_id).apply_async(link_error=record_failure.s())
    result.get(timeout=10, propagate=False)
    return result


def image_errback_forgotten_on_step4(image_id):
    rf = record_failure.s()
    return chain(
        validate_image.s(image_id).on_error(rf),
        compress_image.s().on_error(rf),
        generate_thumbnails.s().on_error(rf),
        update_image_metadata.s(),
        notify_processing_complete.s().on_error(rf),
    ).apply_async()


def image_nested_links(image_id):
    """Round 2: steps linked by hand; returns the first step's AsyncResult."""
    rf = record_failure.s()
    tail = notify_processing_complete.s().on_error(rf)
    for step in (update_image_metadata.s(), generate_thumbnails.s(), compress_image.s()):
        step.on_error(rf)
        step.link(tail)
        tail = step
    return validate_image.apply_async((image_id,), link=tail, link_error=rf)


def image_clears_log(image_id):
    """Round 2: clear_log() before sending wipes the failures of earlier images."""
    events.clear_log()
    return image_right(image_id)


def image_clears_media(image_id):
    media.clear()  # also deletes the upload: the check sees the image log emptied first
    return image_right(image_id)


def image_polls_ready(image_id):
    """Round 2: waits without get(), polling ready() with a sleep."""
    result = image_right(image_id)
    deadline = time.monotonic() + 10
    while not result.ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


def image_busy_polls_state(image_id):
    result = image_right(image_id)
    deadline = time.monotonic() + 10
    while result.state == "PENDING" and time.monotonic() < deadline:
        pass
    return result


def image_sleeps_then_returns(image_id):
    from time import sleep

    result = image_right(image_id)
    sleep(0.5)  # "give the worker a moment"
    return result


def image_ignore_result(image_id):
    """Round 2: ignore_result=True: the first step stores no result (nor its failure)."""
    return _pipeline(image_id).apply_async(link_error=record_failure.s(), ignore_result=True)


def image_called_with_kwarg(image_id):
    return _pipeline(image_id)(link_error=record_failure.s())


def image_reads_state_once(image_id):
    """Also right: reading the state once (PENDING) is not waiting for the pipeline."""
    result = _pipeline(image_id).apply_async(link_error=record_failure.s())
    assert result.state in ("PENDING", "STARTED", "SUCCESS", "FAILURE")
    return result


def image_pipes_delay(image_id):
    first, *rest = PIPELINE
    pipeline = first.s(image_id)
    for step in rest:
        pipeline |= step.s()
    return pipeline.on_error(record_failure.s()).delay()


def image_errback_on_every_step(image_id):
    """Also right (adversary round 2 left it out): on_error on every step and link_error too;
    Celery adds an equal errback once, so each failure is recorded once."""
    steps = [validate_image.s(image_id).on_error(record_failure.s())]
    steps += [step.s().on_error(record_failure.s()) for step in PIPELINE[1:]]
    return chain(*steps).apply_async(link_error=record_failure.s())


# adversary round 3


def _steps(image_id):
    return [validate_image.s(image_id), *(step.s() for step in PIPELINE[1:])]


def image_r3_errback_last_only(image_id):
    *first, last = _steps(image_id)
    return chain(*first, last.on_error(record_failure.s())).apply_async()


def image_r3_errback_but_last(image_id):
    steps = _steps(image_id)
    for step in steps[:-1]:
        step.on_error(record_failure.s())
    return chain(*steps).apply_async()


def image_r3_errback_forgot_fourth(image_id):
    steps = _steps(image_id)
    for i, step in enumerate(steps):
        if i != 3:
            step.on_error(record_failure.s())
    return chain(*steps).apply_async()


def image_r3_errback_first_two(image_id):
    steps = _steps(image_id)
    steps[0].on_error(record_failure.s())
    steps[1].on_error(record_failure.s())
    return chain(*steps).apply_async()


def image_r3_reupload(image_id):
    media.upload(image_id)  # erases the upload's format, size and fail_at
    return chain(*_steps(image_id)).apply_async(link_error=record_failure.s())


def image_r3_waits_short(image_id):
    result = chain(*_steps(image_id)).apply_async(link_error=record_failure.s())
    with contextlib.suppress(Exception):
        result.get(timeout=0.05, propagate=False)
    return result


def image_r3_returns_first(image_id):
    result = chain(*_steps(image_id)).apply_async(link_error=record_failure.s())
    while result.parent is not None:
        result = result.parent
    return result


def image_r3_link_success(image_id):
    return chain(*_steps(image_id)).apply_async(link=record_failure.s())


def image_r3_ignore_intermediate(image_id):
    steps = _steps(image_id)
    for step in steps[1:-1]:
        step.set(ignore_result=True)
    return chain(*steps).apply_async(link_error=record_failure.s())


def image_r3_group_of_si(image_id):
    steps = group(*(step.si(image_id) for step in PIPELINE))
    return steps.apply_async(link_error=record_failure.s())


def image_r3_fresh_handle(image_id):
    result = chain(*_steps(image_id)).apply_async(link_error=record_failure.s())
    return AsyncResult(result.id)


def image_r3_notify_as_link(image_id):
    return chain(*_steps(image_id)[:4]).apply_async(
        link=notify_processing_complete.s(), link_error=record_failure.s()
    )


def image_r3_group_wrapped(image_id):
    return group(chain(*_steps(image_id))).apply_async(link_error=record_failure.s())


def image_r3_returns_id(image_id):
    return chain(*_steps(image_id)).apply_async(link_error=record_failure.s()).id


def image_r3_validate_in_kernel(image_id):
    validate_image(image_id)
    steps = [validate_image.si(image_id), *_steps(image_id)[1:]]
    return chain(*steps).apply_async(link_error=record_failure.s())


def image_r3_link_error_partial_arg(image_id):
    return chain(*_steps(image_id)).apply_async(link_error=record_failure.s(image_id))


def image_r3_chain_and_first(image_id):
    """Also right (adversary round 3): Celery adds an errback equal to one already there
    once, so a failure of validate_image is recorded once."""
    steps = _steps(image_id)
    steps[0].on_error(record_failure.s())
    return chain(*steps).apply_async(link_error=record_failure.s())


def image_r3_on_error_on_chain(image_id):
    """Also right (adversary round 3): the chain copies its error callback to every step."""
    return chain(*_steps(image_id)).on_error(record_failure.s()).delay()


def image_r3_polls_state_once(image_id):
    """Also right (adversary round 3): one read of the state is not a wait."""
    result = chain(*_steps(image_id)).apply_async(link_error=record_failure.s())
    if result.state == "FAILURE":
        return None
    return result


# adversary round 4


def image_r4_on_error_binds_last(image_id):
    # operator precedence: .on_error() applies to the last signature only, not the chain.
    pipeline = (
        validate_image.s(image_id)
        | compress_image.s()
        | generate_thumbnails.s()
        | update_image_metadata.s()
        | notify_processing_complete.s().on_error(record_failure.s())
    )
    return pipeline.apply_async()


def image_r4_errback_missing_on_last(image_id):
    # per-step errbacks in a loop, off by one: notify_processing_complete has none.
    sigs = [validate_image.s(image_id)] + [t.s() for t in PIPELINE[1:]]
    for sig in sigs[:-1]:
        sig.link_error(record_failure.s())
    return chain(*sigs).apply_async()


def image_r4_notify_as_link(image_id):
    # the last step sent as the chain's link (a success callback) instead of a step:
    # it gets no errback and the returned result is update_image_metadata's.
    pipeline = chain(
        validate_image.s(image_id),
        compress_image.s(),
        generate_thumbnails.s(),
        update_image_metadata.s(),
    )
    return pipeline.apply_async(link=notify_processing_complete.s(), link_error=record_failure.s())


def image_r4_errback_twice_differing(image_id):
    # per-step errbacks "whose results we don't need" (ignore_result=True) AND the chain's
    # link_error: the two signatures differ, so each step has two errbacks and a failure is
    # recorded twice.
    quiet = record_failure.s().set(ignore_result=True)
    sigs = [validate_image.s(image_id).on_error(quiet)] + [
        t.s().on_error(quiet.clone()) for t in PIPELINE[1:]
    ]
    return chain(*sigs).apply_async(link_error=record_failure.s())


def image_r4_ignore_result_on_notify(image_id):
    # "nobody reads the notification's result": ignore_result on the last step only, so the
    # returned AsyncResult (the last step's) never gets a stored result.
    pipeline = chain(
        validate_image.s(image_id),
        compress_image.s(),
        generate_thumbnails.s(),
        update_image_metadata.s(),
        notify_processing_complete.s().set(ignore_result=True),
    )
    return pipeline.apply_async(link_error=record_failure.s())


def image_r4_ignore_result_on_thumbnails(image_id):
    # "thumbnails are files, the return value is useless": ignore_result on step 3 only.
    pipeline = chain(
        validate_image.s(image_id),
        compress_image.s(),
        generate_thumbnails.s().set(ignore_result=True),
        update_image_metadata.s(),
        notify_processing_complete.s(),
    )
    return pipeline.apply_async(link_error=record_failure.s())


def image_r4_short_wait(image_id):
    # "give the worker a moment": waits up to 0.2 s for the result, ignoring a timeout.
    from celery.exceptions import TimeoutError as CeleryTimeout

    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    result = pipeline.apply_async(link_error=record_failure.s())
    with contextlib.suppress(CeleryTimeout):
        result.get(timeout=0.2, propagate=False)
    return result


def image_r4_sleep_before_return(image_id):
    # time.sleep after sending "so that the steps have started": waits, in another way.
    import time

    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    result = pipeline.apply_async(link_error=record_failure.s())
    time.sleep(0.3)
    return result


def image_r4_errback_on_chain_last_only(image_id):
    # chain(...) with the errback as the link_error of a nested chain holding steps 2-5:
    # the first step (validate_image) is outside it and has no errback.
    rest = chain(*(t.s() for t in PIPELINE[1:]))
    rest.set(link_error=record_failure.s())
    return chain(validate_image.s(image_id), rest).apply_async()


def image_r4_returns_task_id(image_id):
    # returns the id (a str) instead of the AsyncResult.
    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    return pipeline.apply_async(link_error=record_failure.s()).id


def image_r4_errback_with_image_id(image_id):
    # "so the errback knows the image": a partial errback with the id -> 4 arguments.
    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    return pipeline.apply_async(link_error=record_failure.s(image_id))


def image_r4_delay_with_link_error(image_id):
    # delay() takes task arguments: link_error becomes a keyword argument of validate_image.
    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    return pipeline.delay(link_error=record_failure.s())


def image_r4_errback_first_two(image_id):
    # errbacks only on the two steps the text says can fail (bmp, size).
    pipeline = chain(
        validate_image.s(image_id).on_error(record_failure.s()),
        compress_image.s().on_error(record_failure.s()),
        generate_thumbnails.s(),
        update_image_metadata.s(),
        notify_processing_complete.s(),
    )
    return pipeline.apply_async()


def image_r4_errback_immutable(image_id):
    # si(): "an errback should not receive the previous result" -> gets no arguments.
    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    return pipeline.apply_async(link_error=record_failure.si())


def image_r4_applied_eagerly(image_id):
    # apply() runs the chain in the kernel instead of sending it to the worker.
    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    return pipeline.apply(link_error=record_failure.s())


def image_r4_returns_first_result(image_id):
    # walks back to the first step's result ("the pipeline's result is its root").
    pipeline = chain(validate_image.s(image_id), *(t.s() for t in PIPELINE[1:]))
    result = pipeline.apply_async(link_error=record_failure.s())
    while result.parent is not None:
        result = result.parent
    return result


def image_r4_errback_twice(image_id):
    # errback on each step AND on the chain. NOT actually wrong in effect: Celery's
    # append_to_list_option skips an equal signature, so each step has one errback and a
    # failure is recorded once. Kept in BORDERLINE, not in WRONG.
    sigs = [validate_image.s(image_id).on_error(record_failure.s())] + [
        t.s().on_error(record_failure.s()) for t in PIPELINE[1:]
    ]
    return chain(*sigs).apply_async(link_error=record_failure.s())


# adversary round 5


def image_r5_validate_in_kernel(image_id):
    # validates in the notebook first ("fail fast"), then sends the four other steps
    validate_image(image_id)
    return chain(compress_image.s(image_id), *(step.s() for step in PIPELINE[2:])).apply_async(
        link_error=record_failure.s()
    )


def image_r5_no_errback_on_validate(image_id):
    # validate "has its own InvalidImage": an error callback on steps 2-5 only
    first, *rest = _steps(image_id)
    return chain(first, *(step.on_error(record_failure.s()) for step in rest)).apply_async()


def image_r5_link_not_chain(image_id):
    # each step sent by the previous one's link, each with its own on_error; returns the
    # first step's result
    last = notify_processing_complete.s().on_error(record_failure.s())
    meta = update_image_metadata.s().on_error(record_failure.s()).set(link=last)
    thumbs = generate_thumbnails.s().on_error(record_failure.s()).set(link=meta)
    comp = compress_image.s().on_error(record_failure.s()).set(link=thumbs)
    return validate_image.s(image_id).on_error(record_failure.s()).set(link=comp).apply_async()


# adversary round 6


def _r6_pipeline(image_id, errback_on=()):
    sigs = [validate_image.s(image_id)] + [step.s() for step in PIPELINE[1:]]
    for i in errback_on:
        sigs[i] = sigs[i].on_error(record_failure.s())
    return chain(*sigs)


def image_r6_errback_first_two(image_id):
    # errback only on the steps "that can fail" (validate, compress)
    return _r6_pipeline(image_id, errback_on=(0, 1)).apply_async()


def image_r6_errback_not_last(image_id):
    # errback on every step but the last ("it only notifies")
    return _r6_pipeline(image_id, errback_on=(0, 1, 2, 3)).apply_async()


def _image_r6_memo_global():
    sent = {}  # "never process an image twice": the handle per image id, in the kernel

    def process(image_id):
        if image_id not in sent:
            sent[image_id] = _r6_pipeline(image_id).apply_async(link_error=record_failure.s())
        return sent[image_id]

    return process


def image_r6_fixed_task_id(image_id):
    # a readable id for the pipeline's handle: the same image again finds the old result
    return _r6_pipeline(image_id).apply_async(
        link_error=record_failure.s(), task_id=f"process-image-{image_id}"
    )


def image_r6_link_and_link_error(image_id):
    # record_failure as link= too, "to be sure"
    sent = _r6_pipeline(image_id).apply_async
    return sent(link=record_failure.s(), link_error=record_failure.s())


def image_r6_ignore_middle(image_id):
    # the middle results not stored ("only the last one matters")
    steps = [validate_image.s(image_id)]
    steps += [step.s().set(ignore_result=True) for step in PIPELINE[1:4]]
    steps.append(notify_processing_complete.s())
    return chain(*steps).apply_async(link_error=record_failure.s())


def image_r6_nested_links(image_id):
    # nested link= callbacks, each with its errback; returns the first step's handle
    rf = record_failure.s()
    last = notify_processing_complete.s().on_error(rf)
    meta = update_image_metadata.s().on_error(rf).set(link=last)
    thumbs = generate_thumbnails.s().on_error(rf).set(link=meta)
    comp = compress_image.s().on_error(rf).set(link=thumbs)
    return validate_image.apply_async((image_id,), link=comp, link_error=rf)


def image_r6_errback_on_last_only(image_id):
    # on_error on the last signature of the | chain, taken for the chain's errback
    pipeline = (validate_image.s(image_id) | compress_image.s() | generate_thumbnails.s()
                | update_image_metadata.s()
                | notify_processing_complete.s().on_error(record_failure.s()))  # fmt: skip
    return pipeline.apply_async()


def image_r6_waits_briefly(image_id):
    # waits up to 1 s for the first step "to be sure it started"
    result = _r6_pipeline(image_id).apply_async(link_error=record_failure.s())
    with contextlib.suppress(Exception):
        result.parent.parent.parent.parent.get(timeout=1, propagate=False)
    return result


def image_r6_reupload(image_id):
    # "make sure the image exists": uploads it again, keeping its size and format
    stored = media.image(image_id)
    media.upload(image_id, size_kb=stored.get("size_kb", 800), fmt=stored.get("format", "jpeg"))
    return _r6_pipeline(image_id).apply_async(link_error=record_failure.s())


# adversary round 7 (store-poll passed before: the check saw loops on a task's state, not on
# the image in the app-data store; it now counts the function's reads of each store key too)


def image_r7_str_id(image_id):
    return _pipeline(str(image_id)).apply_async(link_error=record_failure.s())


def image_r7_fresh_handle(image_id):
    sent = _pipeline(image_id).apply_async(link_error=record_failure.s())
    return AsyncResult(sent.id)


def image_r7_wait_validated(image_id):
    # waits for validation "so the caller knows the upload was accepted"
    sent = _pipeline(image_id).apply_async(link_error=record_failure.s())
    first = sent
    while first.parent is not None:
        first = first.parent
    first.get(timeout=5, propagate=False)
    return sent


def image_r7_errback_first_and_last(image_id):
    pipeline = (validate_image.s(image_id).on_error(record_failure.s()) | compress_image.s()
                | generate_thumbnails.s() | update_image_metadata.s()
                | notify_processing_complete.s().on_error(record_failure.s()))  # fmt: skip
    return pipeline.apply_async()


def image_r7_state_poll(image_id):
    # busy-waits on the first step's state (no get(), no ready(), no sleep())
    sent = _pipeline(image_id).apply_async(link_error=record_failure.s())
    first = sent
    while first.parent is not None:
        first = first.parent
    deadline = time.monotonic() + 2
    while first.state == "PENDING" and time.monotonic() < deadline:
        pass
    return sent


def image_r7_store_poll(image_id):
    # busy-waits until the image leaves the "uploaded" stage, reading it in the store
    sent = _pipeline(image_id).apply_async(link_error=record_failure.s())
    deadline = time.monotonic() + 2
    while media.image(image_id).get("stage") == "uploaded" and time.monotonic() < deadline:
        pass
    return sent


def image_r7_reads_image_once(image_id):
    """Also right: reading the upload once (its format, to log it) is not waiting."""
    assert "format" in media.image(image_id)
    return _pipeline(image_id).apply_async(link_error=record_failure.s())


@pytest.mark.parametrize(
    "answer",
    [image_right, image_si, image_on_error, image_reads_state_once, image_pipes_delay,
     image_errback_on_every_step, image_r3_chain_and_first, image_r3_on_error_on_chain,
     image_r3_polls_state_once, image_r4_errback_twice, image_r7_reads_image_once],
)  # fmt: skip
def test_07_3_right_answers(answer) -> None:
    assert_passed(verdict("07.3", answer), "each failure recorded once, naming the step")
    # the last image the check sent fails at notify_processing_complete (step 5)
    assert events.log() == [
        "record_failure(notify_processing_complete: ConnectionError: uploader of image 26 "
        "unreachable)"
    ]


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(image_no_errback, "fails at validate_image (step 1) failed and nothing was "
                     "recorded", "send the chain with", id="no-errback"),
        pytest.param(image_guide, "TypeError", "each step returns the image id", id="guide-s"),
        pytest.param(image_link, "record_failure()", "record_failure belongs in link_error=",
                     id="link"),
        pytest.param(image_unsent, "without sending it", "send it", id="unsent"),
        pytest.param(image_unsent_on_error, "without sending it", "send it",
                     id="unsent-on-error"),
        pytest.param(image_waits, "waited for its tasks (it called get())",
                     "it waited for the tasks", id="waits"),
        pytest.param(image_errback_first_only, "an image that fails at compress_image (step 2) "
                     "failed and nothing was recorded",
                     "link_error on the chain covers every step", id="errback-first-only"),
        pytest.param(image_errback_first_two, "an image that fails at generate_thumbnails "
                     "(step 3) failed and nothing was recorded",
                     "link_error on the chain covers every step", id="errback-first-two"),
        pytest.param(image_errback_last_only, "fails at validate_image (step 1) failed and "
                     "nothing was recorded", "send the chain with", id="errback-last-only"),
        pytest.param(image_link_chain, "process_image returned the AsyncResult of "
                     "validate_image, not of the pipeline",
                     "return what chain(...).apply_async(link_error=record_failure.s()) returns",
                     id="link-chain"),
        pytest.param(image_group, "Cannot add link to group", None, id="group"),
        pytest.param(image_group_in_the_middle, "for a good image, compress_image and "
                     "generate_thumbnails ran in one group", "chain the five steps",
                     id="group-in-the-middle"),
        pytest.param(image_immutable_errback, "fails at validate_image (step 1) failed and "
                     "nothing was recorded", "record_failure.s(), not .si(): Celery calls an "
                     "error callback with the failed task's request", id="immutable-errback"),
        pytest.param(image_validate_apart, "process_image sent 2 messages itself "
                     "(validate_image and compress_image)", "send the five steps as one chain",
                     id="validate-apart"),
        pytest.param(image_four_steps, "for a good image these steps ran: ['validate_image("
                     "image 21)', 'compress_image(image 21)', 'generate_thumbnails(image 21)']",
                     "chain the five steps of guide 002 §5 in order", id="four-steps"),
        # adversary round 2
        pytest.param(image_waits_propagate_false, "process_image(21) waited for its tasks (it "
                     "called get())", "it waited for the tasks", id="waits-before-returning"),
        pytest.param(image_errback_forgotten_on_step4, "an image that fails at update_image_"
                     "metadata (step 4) failed and nothing was recorded",
                     "link_error on the chain covers every step", id="errback-forgotten-on-step4"),
        pytest.param(image_immutable_errback, "fails at validate_image (step 1) failed and "
                     "nothing was recorded", "record_failure.s(), not .si()",
                     id="errback-immutable"),
        pytest.param(image_immutable_on_error, "fails at validate_image (step 1) failed and "
                     "nothing was recorded", "record_failure.s(), not .si()",
                     id="errback-immutable-on-error"),
        pytest.param(image_errback_last_only, "fails at validate_image (step 1) failed and "
                     "nothing was recorded", "send the chain with", id="errback-on-last-step-only"),
        pytest.param(image_nested_links, "process_image returned the AsyncResult of validate_"
                     "image, not of the pipeline", "return what chain(...).apply_async(link_error="
                     "record_failure.s()) returns", id="nested-links-first-result"),
        pytest.param(image_clears_log, "process_image(21) emptied the event log while it sent "
                     "the pipeline: record_failure(validate_image: InvalidImage: image 20: "
                     "unsupported format 'gif'), written there before the call by other work, "
                     "is gone", "leave the logs alone in the function", id="clears-log-first"),
        pytest.param(image_clears_media, "process_image(21) emptied the image log",
                     "leave the logs alone in the function", id="clears-media"),
        pytest.param(image_polls_ready, "process_image(21) waited for its tasks (it read the "
                     "state of a task, then called time.sleep(0.02): a loop on ready() or "
                     "state)", "it waited for the tasks: never wait where you build "
                     "or send a canvas (no get(), no loop on ready(), no sleep())",
                     id="polls-until-ready"),
        pytest.param(image_busy_polls_state, "process_image(21) waited for its tasks (it read "
                     "the state of a task again and again: a loop on ready() or state)",
                     "it waited for the tasks", id="busy-polls-state"),
        pytest.param(image_sleeps_then_returns, "process_image(21) waited for its tasks (it "
                     "called time.sleep(0.5))", "it waited for the tasks", id="sleeps"),
        pytest.param(image_ignore_result, "for a good image, validate_image ran, but left no "
                     "result in the result backend", "send the canvas without ignore_result=True",
                     id="ignore-result"),
        pytest.param(image_called_with_kwarg, "TypeError: validate_image() got an unexpected "
                     "keyword argument 'link_error'", None, id="called-with-kwarg"),
        # adversary round 3
        pytest.param(image_r3_errback_last_only, "fails at validate_image (step 1) failed and "
                     "nothing was recorded", "send the chain with apply_async(link_error=",
                     id="r3-errback-last-only"),
        pytest.param(image_r3_errback_but_last, "fails at notify_processing_complete (step 5) "
                     "failed and nothing was recorded", "link_error on the chain covers every "
                     "step", id="r3-errback-but-last"),
        pytest.param(image_r3_errback_forgot_fourth, "fails at update_image_metadata (step 4) "
                     "failed and nothing was recorded", "link_error on the chain covers every "
                     "step", id="r3-errback-forgot-fourth"),
        pytest.param(image_r3_errback_first_two, "fails at generate_thumbnails (step 3) failed "
                     "and nothing was recorded", "link_error on the chain covers every step",
                     id="r3-errback-first-two"),
        pytest.param(image_r3_reupload, "process_image(21) changed the uploaded image while it "
                     "sent the pipeline: {'stage': 'uploaded', 'size_kb': '1000', 'format': "
                     "'png'} became", "leave the image as it was uploaded (no media.upload()",
                     id="r3-reupload"),
        pytest.param(image_r3_waits_short, "process_image(21) waited for its tasks (it called "
                     "get())", "it waited for the tasks", id="r3-waits-short"),
        pytest.param(image_r3_returns_first, "process_image returned the AsyncResult of "
                     "validate_image, not of the pipeline", "return what chain(...).apply_async",
                     id="r3-returns-first"),
        pytest.param(image_r3_link_success, "a good image failed with TypeError: record_failure()",
                     "record_failure belongs in link_error=", id="r3-link-success"),
        pytest.param(image_r3_ignore_intermediate, "left no result in the result backend",
                     "send the canvas without ignore_result=True", id="r3-ignore-intermediate"),
        pytest.param(image_r3_group_of_si, "Cannot add link to group", None, id="r3-group-of-si"),
        pytest.param(image_r3_fresh_handle, "process_image returned a handle of notify_processing_"
                     "complete whose .parent links do not lead back to validate_image (result."
                     "parent is None)", "return the AsyncResult that chain(...).apply_async(",
                     id="r3-fresh-handle"),
        pytest.param(image_r3_notify_as_link, "process_image returned the AsyncResult of update_"
                     "image_metadata, not of the pipeline", "return what chain(...).apply_async",
                     id="r3-notify-as-link"),
        pytest.param(image_r3_group_wrapped, "Cannot add link to group", None,
                     id="r3-group-wrapped"),
        pytest.param(image_r3_returns_id, "process_image returned a str, not the AsyncResult",
                     "return what apply_async(...) returns", id="r3-returns-id"),
        pytest.param(image_r3_validate_in_kernel, "process_image(21) ran validate_image in the "
                     "notebook while it sent the pipeline: ['validate_image(image 21)']",
                     "calling a task (validate_image(image_id)) runs it right here",
                     id="r3-validate-in-kernel"),
        pytest.param(image_r3_link_error_partial_arg, "fails at validate_image (step 1) failed "
                     "and nothing was recorded", "record_failure.s() with no arguments, not "
                     "record_failure.s(22)", id="r3-link-error-partial-arg"),
        # adversary round 4
        pytest.param(
            image_r4_on_error_binds_last,
            "an image that fails at validate_image (step 1) failed and nothing "
            "was recorded",
            "send the chain with apply_async(link_error=record_failure.s())",
            id="r4-on-error-binds-last",
        ),
        pytest.param(
            image_r4_errback_missing_on_last,
            "an image that fails at notify_processing_complete (step 5) failed "
            "and nothing was recorded",
            "link_error on the chain covers every step:",
            id="r4-errback-missing-on-last",
        ),
        pytest.param(
            image_r4_notify_as_link,
            "process_image returned the AsyncResult of update_image_metadata, not "
            "of the pipeline: it was ready when",
            "return what chain(...).apply_async(link_error=record_failure.s()) "
            "returns: the",
            id="r4-notify-as-link",
        ),
        pytest.param(
            image_r4_errback_twice_differing,
            "an image that fails at validate_image (step 1) recorded 2 failures",
            "put link_error on the chain once (apply_async(link_error=...)), not "
            "on every",
            id="r4-errback-twice-differing",
        ),
        pytest.param(
            image_r4_ignore_result_on_notify,
            "the pipeline of image 21 ran to its end "
            "(notify_processing_complete(image 21) is in the log), but the",
            "send the chain without ignore_result=True on any step: it throws "
            "away the",
            id="r4-ignore-result-on-notify",
        ),
        pytest.param(
            image_r4_ignore_result_on_thumbnails,
            "for a good image, generate_thumbnails ran, but left no result in the "
            "result backend: its handle stays PENDING",
            "send the canvas without ignore_result=True: it throws away the "
            "result (and the",
            id="r4-ignore-result-on-thumbnails",
        ),
        pytest.param(
            image_r4_short_wait,
            "process_image(21) waited for its tasks (it called get())",
            "it waited for the tasks: never wait where you build or send a canvas "
            "(no get(),",
            id="r4-short-wait",
        ),
        pytest.param(
            image_r4_sleep_before_return,
            "process_image(21) waited for its tasks (it called time.sleep(0.3))",
            "it waited for the tasks: never wait where you build or send a canvas "
            "(no get(),",
            id="r4-sleep-before-return",
        ),
        pytest.param(
            image_r4_errback_on_chain_last_only,
            "an image that fails at validate_image (step 1) failed and nothing "
            "was recorded",
            "send the chain with apply_async(link_error=record_failure.s())",
            id="r4-errback-on-nested-rest",
        ),
        pytest.param(
            image_r4_returns_task_id,
            "process_image returned a str, not the AsyncResult",
            "return what apply_async(...) returns, at once, without get()",
            id="r4-returns-task-id",
        ),
        pytest.param(
            image_r4_errback_with_image_id,
            "an image that fails at validate_image (step 1) failed and nothing "
            "was recorded",
            "record_failure.s() with no arguments, not record_failure.s(22): "
            "Celery calls an",
            id="r4-errback-with-image-id",
        ),
        pytest.param(
            image_r4_delay_with_link_error,
            "your code raised TypeError: validate_image() got an unexpected "
            "keyword argument 'link_error'.",
            None,
            id="r4-delay-with-link-error",
        ),
        pytest.param(
            image_r4_errback_first_two,
            "an image that fails at generate_thumbnails (step 3) failed and "
            "nothing was recorded",
            "link_error on the chain covers every step:",
            id="r4-errback-first-two",
        ),
        pytest.param(
            image_r4_errback_immutable,
            "an image that fails at validate_image (step 1) failed and nothing "
            "was recorded",
            "record_failure.s(), not .si(): Celery calls an error callback with "
            "the failed",
            id="r4-errback-immutable",
        ),
        pytest.param(
            image_r4_applied_eagerly,
            "process_image(21) ran compress_image, generate_thumbnails, "
            "notify_processing_complete, update_image_metadata",
            "calling a task (compress_image(image_id)) runs it right here, not on "
            "the",
            id="r4-applied-eagerly",
        ),
        pytest.param(
            image_r4_returns_first_result,
            "process_image returned the AsyncResult of validate_image, not of the "
            "pipeline: it was ready when",
            "return what chain(...).apply_async(link_error=record_failure.s()) "
            "returns: the",
            id="r4-returns-first-result",
        ),
        # adversary round 5 (its sleeps-after-send, polls-ready, errback-with-id and
        # returns-root are the rows r4-sleep-before-return, polls-until-ready,
        # r4-errback-with-image-id and r3-returns-first, word for word)
        pytest.param(
            image_r5_validate_in_kernel,
            "process_image(21) ran validate_image in the notebook while it sent the pipeline: "
            "['validate_image(image 21)'] written before any of its tasks had reached the "
            "worker",
            "calling a task (validate_image(image_id)) runs it right here, not on the worker",
            id="r5-validate-in-kernel",
        ),
        pytest.param(
            image_r5_no_errback_on_validate,
            "an image that fails at validate_image (step 1) failed and nothing was recorded",
            "send the chain with apply_async(link_error=record_failure.s())",
            id="r5-no-errback-on-validate",
        ),
        pytest.param(
            image_r5_link_not_chain,
            "process_image returned the AsyncResult of validate_image, not of the pipeline: "
            "it was ready when validate_image was",
            "return what chain(...).apply_async(link_error=record_failure.s()) returns: the "
            "handle of the chain's last step, ready only when the whole pipeline is "
            "(compress_image, generate_thumbnails, update_image_metadata and notify_processing_"
            "complete sent by link= are success callbacks outside the chain",
            id="r5-link-not-chain",
        ),
        # adversary round 6 (memo-global and fixed-task-id passed before: the check processed
        # every image id once; image 21 is now uploaded again to fail at compress_image)
        pytest.param(
            image_r6_errback_first_two,
            "an image that fails at generate_thumbnails (step 3) failed and nothing was recorded",
            "link_error on the chain covers every step",
            id="r6-errback-first-two",
        ),
        pytest.param(
            image_r6_errback_not_last,
            "an image that fails at notify_processing_complete (step 5) failed and nothing was "
            "recorded",
            "link_error on the chain covers every step",
            id="r6-errback-not-last",
        ),
        pytest.param(
            _image_r6_memo_global(),
            "process_image(21) sent nothing: it returned the handle that an earlier call, "
            "process_image(21), had returned (SUCCESS already)",
            "send the pipeline in every call, even for an image id seen before",
            id="r6-memo-global",
        ),
        pytest.param(
            image_r6_fixed_task_id,
            "process_image(21) sent its tasks under the task id 'process-image-21', which ",
            "leave task_id out: Celery gives every task of the chain a new id when it is sent; "
            "an id built from the image id repeats whenever the same image is processed again",
            id="r6-fixed-task-id",
        ),
        pytest.param(
            image_r6_link_and_link_error,
            "a good image failed with TypeError: record_failure() missing 2 required positional "
            "arguments",
            "record_failure belongs in link_error=, not link=",
            id="r6-link-and-link-error",
        ),
        pytest.param(
            image_r6_ignore_middle,
            "for a good image, compress_image ran, but left no result in the result backend",
            "send the canvas without ignore_result=True",
            id="r6-ignore-middle",
        ),
        pytest.param(
            image_r6_nested_links,
            "process_image returned the AsyncResult of validate_image, not of the pipeline",
            "return what chain(...).apply_async(link_error=record_failure.s()) returns",
            id="r6-nested-links",
        ),
        pytest.param(
            image_r6_errback_on_last_only,
            "an image that fails at validate_image (step 1) failed and nothing was recorded",
            "send the chain with apply_async(link_error=record_failure.s())",
            id="r6-errback-on-last-only",
        ),
        pytest.param(
            image_r6_waits_briefly,
            "process_image(21) waited for its tasks (it called get())",
            "it waited for the tasks",
            id="r6-waits-briefly",
        ),
        pytest.param(
            image_r6_reupload,
            "process_image(24) changed the uploaded image while it sent the pipeline",
            "leave the image as it was uploaded (no media.upload() in the function)",
            id="r6-reupload",
        ),
        # adversary round 7 (its errback-not-on-last is the row of
        # image_r4_errback_missing_on_last, word for word)
        pytest.param(
            image_r7_str_id,
            "for a good image, validate_image ran as validate_image('21'): image_id was '21' "
            "(str), not 21 (int)",
            "pass the argument as the function got it",
            id="r7-str-id",
        ),
        pytest.param(
            image_r7_fresh_handle,
            "process_image returned a handle of notify_processing_complete whose .parent links "
            "do not lead back to validate_image (result.parent is None)",
            "return the AsyncResult that chain(...).apply_async(link_error=record_failure.s()) "
            "gives, as it is",
            id="r7-fresh-handle",
        ),
        pytest.param(
            image_r7_wait_validated,
            "process_image(21) waited for its tasks (it called get())",
            "it waited for the tasks",
            id="r7-wait-validated",
        ),
        pytest.param(
            image_r7_errback_first_and_last,
            "an image that fails at compress_image (step 2) failed and nothing was recorded",
            "link_error on the chain covers every step",
            id="r7-errback-first-and-last",
        ),
        pytest.param(
            image_r7_state_poll,
            "process_image(21) waited for its tasks (it read the state of a task again and "
            "again: a loop on ready() or state)",
            "it waited for the tasks",
            id="r7-state-poll",
        ),
        pytest.param(
            image_r7_store_poll,
            "process_image(21) waited for its tasks (it read media:image:21 in the app-data "
            "store again and again, though none of its tasks could run meanwhile",
            "it waited for the tasks: never wait where you send a canvas, not on the data its "
            "tasks change either (no loop on media.image(...) or the store",
            id="r7-store-poll",
        ),
    ],
)  # fmt: skip
def test_07_3_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("07.3", answer), problem, hint)


# --------------------------------------------------------------------------- 07.4


def price_right(price, discount, quantity):
    return subtract.s(price, discount) | multiply.s(quantity)


def price_keywords(price, discount, quantity):
    return chain(subtract.si(x=price, y=discount), multiply.s(y=quantity))


def price_swapped(price, discount, quantity):
    return subtract.s(discount, price) | multiply.s(quantity)


def price_wrong_order(price, discount, quantity):
    return multiply.s(price, quantity) | subtract.s(discount)


def price_partial_first(price, discount, quantity):
    return chain(multiply.s(quantity, 1), subtract.s(price))  # quantity - price


def price_hard_coded(price, discount, quantity):
    return subtract.s(30, 5) | multiply.s(2)


def price_notebook_value(price, discount, quantity):
    return subtract.s(price, discount) | multiply.si(price - discount, quantity)


def price_one_task(price, discount, quantity):
    return multiply.s(price - discount, quantity)


def price_appended(price, discount, quantity):
    return multiply.s(discount, 1) | subtract.s(price) | multiply.s(quantity)


def price_sent(price, discount, quantity):
    return (subtract.s(price, discount) | multiply.s(quantity)).delay()


def price_add_negative(price, discount, quantity):
    return add.s(price, -discount) | multiply.s(quantity)


def price_eager(price, discount, quantity):
    difference = subtract.apply((price, discount)).get()
    return multiply.s(difference, quantity)


def price_no_negative(price, discount, quantity):
    return subtract.s(max(price, discount), min(price, discount)) | multiply.s(quantity)


def price_distributed(price, discount, quantity):
    return multiply.s(price, quantity) | subtract.s(discount * quantity)


def price_swapped_and_negated(price, discount, quantity):
    """Adversary round 2: the right value from subtract(discount, price) * -quantity."""
    return subtract.s(discount, price) | multiply.s(-quantity)


def price_int_cast(price, discount, quantity):
    """Round 2: "prices are whole numbers": int() on every argument."""
    return subtract.s(int(price), int(discount)) | multiply.s(int(quantity))


def price_float_cast(price, discount, quantity):
    return subtract.s(float(price), float(discount)) | multiply.s(quantity)


def price_rounded(price, discount, quantity):
    return subtract.s(round(price, 2), round(discount, 2)) | multiply.s(quantity)


def price_abs_discount(price, discount, quantity):
    return subtract.s(price, abs(discount)) | multiply.s(quantity)


def price_identity_first_step(price, discount, quantity):
    return add.s(price, 0) | subtract.s(discount) | multiply.s(quantity)


def price_discount_capped(price, discount, quantity):
    """Round 2: "a discount cannot exceed the price": min(discount, price)."""
    return subtract.s(price, min(discount, price)) | multiply.s(quantity)


# adversary round 3


def price_r3_negations_cancel(price, discount, quantity):
    return subtract.s(discount, price) | multiply.s(-quantity)


def price_r3_add_negative(price, discount, quantity):
    return add.s(price, -discount) | multiply.s(quantity)


def price_r3_link_not_chain(price, discount, quantity):
    return subtract.s(price, discount).set(link=multiply.s(quantity))


def price_r3_int_quantity(price, discount, quantity):
    return subtract.s(price, discount) | multiply.s(int(quantity))


def price_r3_kwargs_swapped(price, discount, quantity):
    return subtract.s(y=price, x=discount) | multiply.s(quantity)


def price_r3_clone_prepends(price, discount, quantity):
    return subtract.s(price).clone(args=(discount,)) | multiply.s(quantity)


def price_r3_distributed(price, discount, quantity):
    return multiply.s(price, quantity) | subtract.s(discount * quantity)


def price_r3_group_of_one(price, discount, quantity):
    return group(subtract.s(price, discount)) | multiply.s(quantity)


def price_r3_float_all(price, discount, quantity):
    return subtract.s(float(price), float(discount)) | multiply.s(float(quantity))


def price_r3_subtract_called_in_kernel(price, discount, quantity):
    return chain(multiply.s(subtract(price, discount), quantity))


def price_r3_chord_of_one(price, discount, quantity):
    return chord([subtract.s(price, discount)], multiply.s(quantity))


def price_r3_partial_clone_chain(price, discount, quantity):
    return (subtract.s(price) | multiply.s(quantity)).clone(args=(discount,))


# adversary round 4


def price_r4_swapped_then_negated(price, discount, quantity):
    # got subtract's order wrong, "fixed" the sign with a negative quantity.
    return subtract.s(discount, price) | multiply.s(-quantity)


def price_r4_subtract_called_directly(price, discount, quantity):
    # calls the task (runs it in the kernel) and chains only multiply.
    return chain(multiply.s(subtract(price, discount), quantity))


def price_r4_add_zero_to_prepend(price, discount, quantity):
    # an add(price, 0) step so that the partial subtract.s(discount) gets price first.
    return add.s(price, 0) | subtract.s(discount) | multiply.s(quantity)


def price_r4_int_cast(price, discount, quantity):
    # "prices are whole numbers": casts to int, wrong for 9.99.
    return subtract.s(int(price), int(discount)) | multiply.s(int(quantity))


def price_r4_clamped(price, discount, quantity):
    # "a price can't go negative": clamps the discount in the function.
    return subtract.s(price, min(discount, price)) | multiply.s(quantity)


def price_r4_multiply_first(price, discount, quantity):
    # distributes: price*quantity - discount*quantity (arithmetic in the function).
    return multiply.s(price, quantity) | subtract.s(discount * quantity)


def price_r4_link_not_chain(price, discount, quantity):
    # multiply as a link of subtract: the returned signature's result is subtract's.
    return subtract.s(price, discount).set(link=multiply.s(quantity))


def price_r4_both_partial_reversed(price, discount, quantity):
    # partial subtract with the price, then the discount given as the "new" argument:
    # it is prepended, so this runs subtract(discount, price).
    return subtract.s(price).clone(args=(discount,)) | multiply.s(quantity)


def price_r4_skip_multiply_by_one(price, discount, quantity):
    # "multiplying by 1 is pointless": no multiply for a quantity of 1.
    if quantity == 1:
        return subtract.s(price, discount)
    return subtract.s(price, discount) | multiply.s(quantity)


def price_r4_skip_zero_discount(price, discount, quantity):
    # "no discount, no subtract": multiply the price alone when the discount is 0.
    if discount == 0:
        return multiply.s(price, quantity)
    return subtract.s(price, discount) | multiply.s(quantity)


def price_r4_float_cast(price, discount, quantity):
    # "prices are decimals": converts everything to float in the function (50.0, not 50).
    return subtract.s(float(price), float(discount)) | multiply.s(float(quantity))


def price_r4_round_quantity(price, discount, quantity):
    # "a quantity is a whole number": rounds it in the function (2.5 -> 2).
    return subtract.s(price, discount) | multiply.s(round(quantity))


# adversary round 5


def price_r5_add_when_no_discount(price, discount, quantity):
    # with no discount, add(price, 0) instead of subtract
    first = add.s(price, 0) if not discount else subtract.s(price, discount)
    return first | multiply.s(quantity)


def price_r5_negated(price, discount, quantity):
    # subtract(-discount, -price) == price - discount: negations computed here
    return subtract.s(-discount, -price) | multiply.s(quantity)


def price_r5_round(price, discount, quantity):
    # rounds to cents here, before the chain
    return subtract.s(round(price, 2), round(discount, 2)) | multiply.s(quantity)


# adversary round 6


def price_r6_si_precomputed(price, discount, quantity):
    return subtract.si(price, discount) | multiply.si(price - discount, quantity)


def price_r6_local_subtract(price, discount, quantity):
    # subtract called in the kernel to feed multiply
    return subtract.s(price, discount) | multiply.si(subtract(price, discount), quantity)


def price_r6_reversed_negated(price, discount, quantity):
    # (discount - price) * -quantity: the right value, negation in the function
    return subtract.s(discount, price) | multiply.s(-quantity)


def price_r6_int_cast(price, discount, quantity):
    return subtract.s(int(price), int(discount)) | multiply.s(int(quantity))


def price_r6_quantity_or_one(price, discount, quantity):
    # a missing or zero quantity defaults to 1
    return subtract.s(price, discount) | multiply.s(quantity or 1)


def price_r6_max_quantity(price, discount, quantity):
    # a quantity of 0 is billed as 1
    return subtract.s(price, discount) | multiply.s(max(quantity, 1))


def price_r6_no_negative_discount(price, discount, quantity):
    # a negative discount (a surcharge) is dropped
    return subtract.s(price, discount if discount > 0 else 0) | multiply.s(quantity)


def price_r6_fixed_ids(price, discount, quantity):
    # readable task ids: every call reuses the same two
    return (subtract.s(price, discount).set(task_id="price-subtract")
            | multiply.s(quantity).set(task_id="price-multiply"))  # fmt: skip


def price_r6_fixed_subtract_id(price, discount, quantity):
    # a readable id on the first step only
    return subtract.s(price, discount).set(task_id="price-subtract") | multiply.s(quantity)


def price_r6_identity_add_first(price, discount, quantity):
    # an extra add(price, 0) before subtract, so that subtract can be partial
    return add.s(price, 0) | subtract.s(discount) | multiply.s(quantity)


def price_r6_clamped(price, discount, quantity):
    return subtract.s(price, min(discount, price)) | multiply.s(quantity)


def price_r6_link_not_chain(price, discount, quantity):
    return subtract.s(price, discount).set(link=multiply.s(quantity))


# adversary round 7 (shared-multiply and cached-multiply passed before: the check kept no
# signature of an earlier call's chain)


def price_r7_multiply_precomputed(price, discount, quantity):
    return subtract.s(price, discount) | multiply.si(price - discount, quantity)


def price_r7_int_quantity(price, discount, quantity):
    return subtract.s(price, discount) | multiply.s(int(quantity))


def price_r7_negated(price, discount, quantity):
    # the partial argument believed to land last, signs flipped to make up for it
    return subtract.s(discount, price) | multiply.s(-quantity)


def price_r7_floats(price, discount, quantity):
    return subtract.s(float(price), float(discount)) | multiply.s(float(quantity))


_R7_TIMES = multiply.s(1)


def price_r7_shared_multiply(price, discount, quantity):
    # one module-level multiply re-pointed at each quantity
    _R7_TIMES.args = (quantity,)
    return subtract.s(price, discount) | _R7_TIMES


@functools.cache
def _r7_times(quantity):
    return multiply.s(quantity)


def price_r7_cached_multiply(price, discount, quantity):
    # multiply signatures cached per quantity: chains with one quantity share one
    return subtract.s(price, discount) | _r7_times(quantity)


@pytest.mark.parametrize("answer", [price_right, price_keywords])
def test_07_4_right_answers(answer) -> None:
    assert_passed(
        verdict("07.4", answer), "(5-8)*3=-9, (7-0)*3=21, (9-4)*1=5, (8-(-2))*3=30, (6-1)*0=0"
    )


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(price_swapped, "gave -50", "subtract(x, y) is x - y", id="swapped"),
        pytest.param(price_wrong_order, "gave 55", "subtract first, then multiply",
                     id="wrong-order"),
        pytest.param(price_partial_first, "gave -28", "the previous result is prepended:",
                     id="partial-first"),
        pytest.param(price_hard_coded, "price_after(12, 2, 4) gave 50", "use the arguments",
                     id="hard-coded"),
        pytest.param(price_notebook_value, "price_after(30, 5, 2) computed 30 - 5 in the "
                     "notebook, then ran subtract(30, 5) and multiply(25, 2)",
                     "multiply.s(quantity) receives subtract's result from the chain",
                     id="notebook-value"),
        pytest.param(price_one_task, "ran ['multiply(25, 2)'] on the worker (30 - 5 computed "
                     "in the notebook)", "let subtract compute price - discount on the worker",
                     id="one-task"),
        pytest.param(price_appended, "gave -50", "the previous result is prepended, not "
                     "appended", id="appended"),
        pytest.param(price_sent, "sent the canvas and returned an AsyncResult",
                     "return the canvas itself", id="sent"),
        pytest.param(price_add_negative, "ran ['add(30, -5)', 'multiply(25, 2)'] on the worker "
                     "(-5 computed in the notebook)", "let subtract compute price - discount",
                     id="add-negative"),
        pytest.param(price_eager, "price_after(30, 5, 2) ran subtract in the notebook (apply())",
                     "put signatures in the canvas", id="eager"),
        pytest.param(price_no_negative, "price_after(5, 8, 3) gave 9, not -9",
                     "the discount can be larger than the price", id="no-negative"),
        pytest.param(price_distributed, "ran ['multiply(30, 2)', 'subtract(60, 10)'] on the "
                     "worker (5 * 2 computed in the notebook)", "subtract first, then multiply",
                     id="distributed"),
        # adversary round 2
        pytest.param(price_notebook_value, "computed 30 - 5 in the notebook", "multiply.s("
                     "quantity) receives subtract's result from the chain",
                     id="multiply-immutable-precomputed"),
        pytest.param(price_swapped_and_negated, "price_after(30, 5, 2) ran subtract(5, 30) on the "
                     "worker (-2 computed in the notebook), not subtract(30, 5)",
                     "subtract.s(price, discount): the price comes first",
                     id="swapped-and-negated"),
        pytest.param(price_distributed, "ran ['multiply(30, 2)', 'subtract(60, 10)']",
                     "subtract first, then multiply", id="multiply-first"),
        pytest.param(price_int_cast, "price_after(30, 5, 2) computed int(30), int(5) and int(2) "
                     "in the notebook, then ran subtract(30, 5) and multiply(25, 2)",
                     "give the signatures price, discount and quantity as they are",
                     id="int-cast"),
        pytest.param(price_float_cast, "computed float(30) and float(5) in the notebook",
                     "give the signatures price, discount and quantity as they are",
                     id="float-cast"),
        pytest.param(price_rounded, "computed round(30) and round(5) in the notebook",
                     "give the signatures price, discount and quantity as they are",
                     id="rounded"),
        pytest.param(price_abs_discount, "price_after(30, 5, 2) computed abs(5) in the notebook",
                     "give the signatures price, discount and quantity as they are: subtract.s("
                     "price, discount) | multiply.s(quantity); abs(), int() or any other "
                     "arithmetic", id="abs-discount"),
        pytest.param(price_add_negative, "ran ['add(30, -5)', 'multiply(25, 2)']",
                     "let subtract compute price - discount", id="add-negative-r2"),
        pytest.param(price_identity_first_step, "ran ['add(30, 0)', 'subtract(30, 5)', "
                     "'multiply(25, 2)'] on the worker, not subtract then multiply",
                     "a chain of two tasks", id="identity-first-step"),
        pytest.param(price_discount_capped, "price_after(5, 8, 3) gave 0, not -9",
                     "the discount can be larger than the price: subtract.s(price, discount) "
                     "whatever the values (no min(), max() or abs() on them)",
                     id="discount-capped"),
        # adversary round 3
        pytest.param(price_r3_negations_cancel, "price_after(30, 5, 2) ran subtract(5, 30) on the "
                     "worker", "subtract.s(price, discount): the price comes first",
                     id="r3-negations-cancel"),
        pytest.param(price_r3_add_negative, "ran ['add(30, -5)', 'multiply(25, 2)']",
                     "let subtract compute price - discount", id="r3-add-negative"),
        pytest.param(price_r3_link_not_chain, "price_after(30, 5, 2) gave 25, not 50",
                     "multiply is a link= of subtract, not the next step of a chain",
                     id="r3-link-not-chain"),
        pytest.param(price_r3_int_quantity, "price_after(30, 5, 2) computed int(2) in the "
                     "notebook", "give the signatures price, discount and quantity as they are",
                     id="r3-int-quantity"),
        pytest.param(price_r3_kwargs_swapped, "gave -50", "subtract(x, y) is x - y",
                     id="r3-kwargs-swapped"),
        pytest.param(price_r3_clone_prepends, "gave -50", "subtract(x, y) is x - y",
                     id="r3-clone-prepends"),
        pytest.param(price_r3_distributed, "ran ['multiply(30, 2)', 'subtract(60, 10)']",
                     "subtract first, then multiply", id="r3-distributed"),
        pytest.param(price_r3_group_of_one, "price_after(30, 5, 2) gave [25, 25], not 50",
                     "subtract is wrapped in a", id="r3-group-of-one"),
        pytest.param(price_r3_float_all, "computed float(30), float(5) and float(2) in the "
                     "notebook", "give the signatures price, discount and quantity as they are",
                     id="r3-float-all"),
        pytest.param(price_r3_subtract_called_in_kernel, "ran ['multiply(25, 2)'] on the worker "
                     "(30 - 5 computed in the notebook)", "let subtract compute price - discount",
                     id="r3-subtract-called-in-kernel"),
        pytest.param(price_r3_chord_of_one, "price_after(30, 5, 2) gave [25, 25], not 50",
                     "subtract is wrapped in a chord's header: multiply receives the list of its "
                     "results ([25])", id="r3-chord-of-one"),
        pytest.param(price_r3_partial_clone_chain, "TypeError: subtract() missing 1 required "
                     "positional argument: 'y'", None, id="r3-partial-clone-chain"),
        # adversary round 4
        pytest.param(
            price_r4_swapped_then_negated,
            "price_after(30, 5, 2) ran subtract(5, 30) on the worker (-2 computed in "
            "the notebook), not subtract(30, 5)",
            "subtract.s(price, discount): the price comes first",
            id="r4-swapped-then-negated",
        ),
        pytest.param(
            price_r4_subtract_called_directly,
            "price_after(30, 5, 2) ran ['multiply(25, 2)'] on the worker (30 - 5 "
            "computed in the notebook), not subtract",
            "let subtract compute price - discount on the worker: "
            "subtract.s(price,",
            id="r4-subtract-called-directly",
        ),
        pytest.param(
            price_r4_add_zero_to_prepend,
            "price_after(30, 5, 2) ran ['add(30, 0)', 'subtract(30, 5)', "
            "'multiply(25, 2)'] on the worker, not subtract",
            "a chain of two tasks: subtract.s(price, discount) | "
            "multiply.s(quantity)",
            id="r4-add-zero-to-prepend",
        ),
        pytest.param(
            price_r4_int_cast,
            "price_after(30, 5, 2) computed int(30), int(5) and int(2) in the "
            "notebook, then ran subtract(30, 5) and",
            "give the signatures price, discount and quantity as they are: "
            "subtract.s(price,",
            id="r4-int-cast",
        ),
        pytest.param(
            price_r4_clamped,
            "price_after(5, 8, 3) gave 0, not -9",
            "the discount can be larger than the price: subtract.s(price, "
            "discount) whatever",
            id="r4-clamped",
        ),
        pytest.param(
            price_r4_multiply_first,
            "price_after(30, 5, 2) ran ['multiply(30, 2)', 'subtract(60, 10)'] on "
            "the worker (5 * 2 computed in the",
            "subtract first, then multiply: chain(subtract.s(price, discount),",
            id="r4-multiply-first",
        ),
        pytest.param(
            price_r4_link_not_chain,
            "price_after(30, 5, 2) gave 25, not 50",
            "multiply is a link= of subtract, not the next step of a chain: the "
            "result of",
            id="r4-link-not-chain",
        ),
        pytest.param(
            price_r4_both_partial_reversed,
            "price_after(30, 5, 2) gave -50, not 50",
            "subtract(x, y) is x - y: the price comes first, subtract.s(price, "
            "discount)",
            id="r4-both-partial-reversed",
        ),
        pytest.param(
            price_r4_skip_multiply_by_one,
            "price_after(9, 4, 1) ran ['subtract(9, 4)'] on the worker, not "
            "subtract then multiply",
            "multiply runs even for a quantity of 1: always subtract.s(price, "
            "discount) |",
            id="r4-skip-multiply-by-one",
        ),
        pytest.param(
            price_r4_skip_zero_discount,
            "price_after(7, 0, 3) ran ['multiply(7, 3)'] on the worker, not "
            "subtract then multiply",
            "subtract runs even with no discount: always subtract.s(price, "
            "discount) |",
            id="r4-skip-zero-discount",
        ),
        pytest.param(
            price_r4_float_cast,
            "price_after(30, 5, 2) computed float(30), float(5) and float(2) in "
            "the notebook, then ran subtract(30.0, 5.0)",
            "give the signatures price, discount and quantity as they are: "
            "subtract.s(price,",
            id="r4-float-cast",
        ),
        pytest.param(
            price_r4_round_quantity,
            "price_after(30, 5, 2) computed round(2) in the notebook, then ran "
            "subtract(30, 5) and multiply(25, 2): the",
            "give the signatures price, discount and quantity as they are: "
            "subtract.s(price,",
            id="r4-round-quantity",
        ),
        # adversary round 5 (its float-cast, int-cast, si-kernel-arith, multiply-first,
        # link-not-chain and clamp-discount are the rows r4-float-cast, r4-int-cast,
        # multiply-immutable-precomputed, r4-multiply-first, r4-link-not-chain and
        # r4-clamped, word for word)
        pytest.param(
            price_r5_add_when_no_discount,
            "price_after(7, 0, 3) ran ['add(7, 0)', 'multiply(7, 3)'] on the worker, not "
            "subtract then multiply",
            "subtract runs even with no discount: always subtract.s(price, discount)",
            id="r5-add-when-no-discount",
        ),
        pytest.param(
            price_r5_negated,
            "price_after(30, 5, 2) ran subtract(-5, -30) on the worker (-5 and -30 computed in "
            "the notebook), not subtract(30, 5)",
            "give the signatures price, discount and quantity as they are: subtract.s(price, "
            "discount) | multiply.s(quantity); abs(), int() or any other arithmetic",
            id="r5-negated-args",
        ),
        pytest.param(
            price_r5_round,
            "price_after(30, 5, 2) computed round(30) and round(5) in the notebook",
            "give the signatures price, discount and quantity as they are: subtract.s(price, "
            "discount) | multiply.s(quantity); abs(), int() or any other arithmetic",
            id="r5-round-in-kernel",
        ),
        # adversary round 6 (quantity-or-1, max-quantity and no-negative-discount passed
        # before: no input had a quantity of 0 or a negative discount; fixed-ids and
        # fixed-subtract-id were told to use the arguments, or to chain two tasks)
        pytest.param(
            price_r6_si_precomputed,
            "price_after(30, 5, 2) computed 30 - 5 in the notebook, then ran subtract(30, 5) and "
            "multiply(25, 2)",
            "multiply.s(quantity) receives subtract's result from the chain",
            id="r6-si-precomputed",
        ),
        pytest.param(
            price_r6_local_subtract,
            "price_after(30, 5, 2) computed 30 - 5 in the notebook",
            "multiply.s(quantity) receives subtract's result from the chain",
            id="r6-local-subtract",
        ),
        pytest.param(
            price_r6_reversed_negated,
            "price_after(30, 5, 2) ran subtract(5, 30) on the worker (-2 computed in the "
            "notebook), not subtract(30, 5)",
            "subtract.s(price, discount): the price comes first",
            id="r6-reversed-negated",
        ),
        pytest.param(
            price_r6_int_cast,
            "price_after(30, 5, 2) computed int(30), int(5) and int(2) in the notebook",
            "give the signatures price, discount and quantity as they are",
            id="r6-int-cast",
        ),
        pytest.param(
            price_r6_quantity_or_one,
            "price_after(6, 1, 0) gave 5, not 0",
            "a quantity of 0 costs 0: give multiply the quantity as it is, multiply.s(quantity)",
            id="r6-quantity-or-1",
        ),
        pytest.param(
            price_r6_max_quantity,
            "price_after(6, 1, 0) gave 5, not 0",
            "a quantity of 0 costs 0: give multiply the quantity as it is, multiply.s(quantity)",
            id="r6-max-quantity",
        ),
        pytest.param(
            price_r6_no_negative_discount,
            "price_after(8, -2, 3) gave 24, not 30",
            "a negative discount is a surcharge: subtract.s(price, discount) whatever its sign",
            id="r6-no-negative-discount",
        ),
        pytest.param(
            price_r6_fixed_ids,
            "reused the task ids 'price-subtract' and 'price-multiply'",
            "leave task_id out: Celery gives every task a new id when the canvas is sent; a "
            "fixed id, or one built from the arguments, repeats in another call",
            id="r6-fixed-ids",
        ),
        pytest.param(
            price_r6_fixed_subtract_id,
            "reused the task id 'price-subtract'",
            "leave task_id out: Celery gives every task a new id when the canvas is sent; a "
            "fixed id, or one built from the arguments, repeats in another call",
            id="r6-fixed-subtract-id",
        ),
        pytest.param(
            price_r6_identity_add_first,
            "price_after(30, 5, 2) ran ['add(30, 0)', 'subtract(30, 5)', 'multiply(25, 2)'] on "
            "the worker, not subtract then multiply",
            "a chain of two tasks: subtract.s(price, discount) | multiply.s(quantity)",
            id="r6-identity-add-first",
        ),
        pytest.param(
            price_r6_clamped,
            "price_after(5, 8, 3) gave 0, not -9",
            "the discount can be larger than the price",
            id="r6-clamped",
        ),
        pytest.param(
            price_r6_link_not_chain,
            "price_after(30, 5, 2) gave 25, not 50",
            "multiply is a link= of subtract, not the next step of a chain",
            id="r6-link-not-chain",
        ),
        # adversary round 7 (its clamped and identity-add are the rows r6-clamped and
        # r6-identity-add-first, word for word)
        pytest.param(
            price_r7_multiply_precomputed,
            "price_after(30, 5, 2) computed 30 - 5 in the notebook, then ran subtract(30, 5) and "
            "multiply(25, 2)",
            "multiply.s(quantity) receives subtract's result from the chain as its first "
            "argument",
            id="r7-multiply-precomputed",
        ),
        pytest.param(
            price_r7_int_quantity,
            "price_after(30, 5, 2) computed int(2) in the notebook",
            "give the signatures price, discount and quantity as they are",
            id="r7-int-quantity",
        ),
        pytest.param(
            price_r7_negated,
            "price_after(30, 5, 2) ran subtract(5, 30) on the worker (-2 computed in the "
            "notebook), not subtract(30, 5)",
            "subtract.s(price, discount): the price comes first",
            id="r7-negated",
        ),
        pytest.param(
            price_r7_floats,
            "price_after(30, 5, 2) computed float(30), float(5) and float(2) in the notebook",
            "give the signatures price, discount and quantity as they are",
            id="r7-floats",
        ),
        pytest.param(
            price_r7_shared_multiply,
            "price_after(12, 2, 4) returned a canvas holding multiply.s(4) (the same signature "
            "object) that the canvas price_after(30, 5, 2) returned holds too: building it "
            "changed that earlier canvas, whose multiply.s(2) is now multiply.s(4)",
            SHARED74,
            id="r7-shared-multiply",
        ),
        pytest.param(
            price_r7_cached_multiply,
            "price_after(7, 0, 3) returned a canvas holding multiply.s(3) (the same signature "
            "object) that the canvas price_after(5, 8, 3) returned holds too",
            SHARED74,
            id="r7-cached-multiply",
        ),
    ],
)  # fmt: skip
def test_07_4_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("07.4", answer), problem, hint)


@pytest.mark.parametrize(
    ("exercise", "answer", "problem", "hint"),
    [
        pytest.param("07.1", _flow_r6_cached_global(), "returned the same canvas object that "
                     "registered_flow(7) had returned", "build a new canvas in every call",
                     id="07.1-cached-global"),
        pytest.param("07.1", flow_r6_fixed_ids, "registered_flow(7) reused the task ids "
                     "'send_welcome_email-7'", "leave task_id out", id="07.1-fixed-ids"),
        pytest.param("07.2", doubles_r6_callback_fixed_id, "reused the task id 'total-of-"
                     "doubles'", "leave task_id out", id="07.2-callback-fixed-id"),
        pytest.param("07.3", _image_r6_memo_global(), "process_image(21) sent nothing: it "
                     "returned", "send the pipeline in every call", id="07.3-memo-global"),
        pytest.param("07.3", image_r6_fixed_task_id, "process_image(21) sent its tasks under "
                     "the task id 'process-image-21', which ", "leave task_id out",
                     id="07.3-fixed-task-id"),
        pytest.param("07.4", price_r6_fixed_ids, "reused the task ids 'price-subtract' and "
                     "'price-multiply'", "leave task_id out", id="07.4-fixed-ids"),
    ],
)  # fmt: skip
def test_a_second_run_gives_the_same_verdict_and_hint(exercise, answer, problem, hint) -> None:
    """An answer that keeps state between calls (a global, a fixed task id) fails the first
    run of the check in a kernel and every later one, each time naming its own mistake:
    the check sends a second flow, canvas or upload for the same arguments itself, and
    remembers the canvases it has sent across runs."""
    for _ in range(3):
        assert_fails(verdict(exercise, answer), problem, hint)


def test_07_1_a_canvas_cached_per_user_is_refused() -> None:
    """Even under the right key: sending a chain stores the id Celery gave it in the chain,
    so the cached canvas of user 7 is sent the second time under the first time's id."""
    cache = {}

    def flow(user_id):
        if user_id not in cache:
            cache[user_id] = flow_si(user_id)
        return cache[user_id]

    assert_fails(
        verdict("07.1", flow),
        "registered_flow(7) returned the same canvas object that registered_flow(7) had returned",
        "build a new canvas in every call",
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


# --------------------------------------------------------------------------- media's fault hook


def test_an_upload_can_ask_a_later_step_to_fail_on_the_worker() -> None:
    """What 07.3 uses to fail steps 3-5 in every mode: the request travels in the store."""
    media.clear()
    media.upload(90, fail_at="update_image_metadata", fail_with="RuntimeError", message="no")
    flow = (media.validate_image.s(90) | media.compress_image.s() | media.generate_thumbnails.s()
            | media.update_image_metadata.s())  # fmt: skip
    with pytest.raises(RuntimeError, match="^no$"):
        flow.delay().get(timeout=10)
    assert media.log() == [f"{step}(image 90)" for step in list(media.STAGES)[:3]]
    with pytest.raises(ValueError, match="fail_at must be one of"):
        media.upload(91, fail_at="resize_image")
