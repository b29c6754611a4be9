"""Adversary round 5: wrong answers to chapter 07's exercises, run through the real checks.

Run from the course root:  .venv/bin/python .adversary/ch07_r5.py
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
Pass "solutions" as the first argument to run the solution's own answers instead.
"""
import os
import sys
import time

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from celery import chain, chord, group  # noqa: E402

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402
from course_tasks.tasks import events, media  # noqa: E402,F401
from course_tasks.tasks.basics import add, multiply, subtract, xsum  # noqa: E402
from course_tasks.tasks.events import (  # noqa: E402
    create_default_follows,
    generate_initial_recommendations,
    record_failure,
    send_welcome_email,
    update_user_statistics,
)
from course_tasks.tasks.media import (  # noqa: E402
    compress_image,
    generate_thumbnails,
    notify_processing_complete,
    update_image_metadata,
    validate_image,
)


# ---------------------------------------------------------------- solutions (sanity run)
def sol_registered_flow(user_id):
    return chain(
        send_welcome_email.si(user_id),
        create_default_follows.si(user_id),
        generate_initial_recommendations.si(user_id),
        update_user_statistics.si(user_id),
    )


def sol_total_of_doubles(numbers):
    return chord((add.s(n, n) for n in numbers), xsum.s())


def sol_process_image(image_id):
    pipeline = chain(
        validate_image.s(image_id),
        compress_image.s(),
        generate_thumbnails.s(),
        update_image_metadata.s(),
        notify_processing_complete.s(),
    )
    return pipeline.apply_async(link_error=record_failure.s())


def sol_price_after(price, discount, quantity):
    return subtract.s(price, discount) | multiply.s(quantity)


SOLUTIONS = [
    ("07.1", "solution", "", (sol_registered_flow,)),
    ("07.2", "solution", "", (sol_total_of_doubles,)),
    ("07.3", "solution", "", (sol_process_image,)),
    ("07.4", "solution", "", (sol_price_after,)),
]


# ---------------------------------------------------------------- 07.1
def flow_staggered_group(user_id):
    # "in order" by countdowns: a group whose members are delayed 0, 0.2, 0.4, 0.6 s
    return group(
        send_welcome_email.si(user_id),
        create_default_follows.si(user_id).set(countdown=0.2),
        generate_initial_recommendations.si(user_id).set(countdown=0.4),
        update_user_statistics.si(user_id).set(countdown=0.6),
    )


def flow_middle_group(user_id):
    # follows and recommendations look independent: run them side by side in the middle
    return chain(
        send_welcome_email.si(user_id),
        group(create_default_follows.si(user_id), generate_initial_recommendations.si(user_id)),
        update_user_statistics.si(user_id),
    )


def flow_link_callbacks(user_id):
    # each step sent by the previous one's link callback, but the last one linked twice
    # (once on step 3, once more on step 1 "to be sure the stats are counted")
    stats = update_user_statistics.si(user_id)
    recs = generate_initial_recommendations.si(user_id).set(link=stats)
    follows = create_default_follows.si(user_id).set(link=recs)
    first = send_welcome_email.si(user_id)
    first.link(follows)
    first.link(update_user_statistics.si(user_id))
    return first


def flow_two_chains(user_id):
    # two ordered halves, but the halves run in parallel (a group of two chains)
    return group(
        chain(send_welcome_email.si(user_id), create_default_follows.si(user_id)),
        chain(generate_initial_recommendations.si(user_id), update_user_statistics.si(user_id)),
    )


def flow_stats_chord(user_id):
    # the three first steps in parallel, stats as the chord callback
    return chord(
        [send_welcome_email.si(user_id), create_default_follows.si(user_id),
         generate_initial_recommendations.si(user_id)],
        update_user_statistics.si(user_id),
    )


def flow_first_in_kernel(user_id):
    # the welcome mail "must go out at once": called directly, in the kernel, at build time
    send_welcome_email(user_id)
    return chain(
        create_default_follows.si(user_id),
        generate_initial_recommendations.si(user_id),
        update_user_statistics.si(user_id),
    )


def flow_stats_countdown_outside(user_id):
    # a chain of three, then stats as a separate member of a group with a countdown
    return group(
        chain(send_welcome_email.si(user_id), create_default_follows.si(user_id),
              generate_initial_recommendations.si(user_id)),
        update_user_statistics.si(user_id).set(countdown=0.5),
    )


# ---------------------------------------------------------------- 07.2
def doubles_extra_zero(numbers):
    # guards against an empty header with an extra add(0, 0) member: same total, one task too many
    return chord([add.s(0, 0)] + [add.s(n, n) for n in numbers], xsum.s())


def doubles_pairs(numbers):
    # pairs each number with its mirror: sum(n + m) == sum(2n), but add(n, n) never runs
    return chord((add.s(n, m) for n, m in zip(numbers, reversed(numbers))), xsum.s())


def doubles_sorted_dedup_by_dict(numbers):
    # "no need to compute the same double twice": one add per distinct number, multiplied back
    counts = {n: numbers.count(n) for n in numbers}
    return chord((add.s(n * c, n * c) for n, c in counts.items()), xsum.s())


def doubles_starmap(numbers):
    # one task looping over the list: no parallelism
    return add.starmap([(n, n) for n in numbers]) | xsum.s()


def doubles_staggered(numbers):
    # each member delayed by its position "to spread the load": members run one after another
    return chord(
        (add.s(n, n).set(countdown=0.15 * i) for i, n in enumerate(numbers)), xsum.s()
    )


def doubles_callback_chain(numbers):
    # the sum rounded by one more task after the callback: an extra add(total, 0) step
    return chord((add.s(n, n) for n in numbers), xsum.s()) | add.s(0)


# ---------------------------------------------------------------- 07.3
def _pipeline(image_id):
    return chain(
        validate_image.s(image_id),
        compress_image.s(),
        generate_thumbnails.s(),
        update_image_metadata.s(),
        notify_processing_complete.s(),
    )


def image_short_sleep(image_id):
    # waits a little "so the error callback has time to write": waiting, though briefly
    result = _pipeline(image_id).apply_async(link_error=record_failure.s())
    time.sleep(0.3)
    return result


def image_validate_in_kernel(image_id):
    # validates in the kernel first (fail fast), then sends the four other steps
    validate_image(image_id)
    return chain(
        compress_image.s(image_id),
        generate_thumbnails.s(),
        update_image_metadata.s(),
        notify_processing_complete.s(),
    ).apply_async(link_error=record_failure.s())


def image_poll_ready(image_id):
    # "does not call get()": polls ready() instead, which is waiting all the same
    result = _pipeline(image_id).apply_async(link_error=record_failure.s())
    deadline = time.monotonic() + 5
    while not result.ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


def image_errback_not_on_validate(image_id):
    # validate "has its own InvalidImage": error callback on steps 2-5 only
    return chain(
        validate_image.s(image_id),
        compress_image.s().on_error(record_failure.s()),
        generate_thumbnails.s().on_error(record_failure.s()),
        update_image_metadata.s().on_error(record_failure.s()),
        notify_processing_complete.s().on_error(record_failure.s()),
    ).apply_async()


def image_separate_sends(image_id):
    # each step sent by the previous one's link (not one chain), returns the first result
    last = notify_processing_complete.s().on_error(record_failure.s())
    meta = update_image_metadata.s().on_error(record_failure.s()).set(link=last)
    thumbs = generate_thumbnails.s().on_error(record_failure.s()).set(link=meta)
    comp = compress_image.s().on_error(record_failure.s()).set(link=thumbs)
    return validate_image.s(image_id).on_error(record_failure.s()).set(link=comp).apply_async()


def image_errback_with_id(image_id):
    # the error callback gets the image id too ("so the log says which image")
    return _pipeline(image_id).apply_async(link_error=record_failure.s(image_id))


def image_stores_root(image_id):
    # returns the chain's first result (walking .parent), "the one of the whole pipeline"
    result = _pipeline(image_id).apply_async(link_error=record_failure.s())
    while result.parent is not None:
        result = result.parent
    return result


# ---------------------------------------------------------------- 07.4
def price_int_cast(price, discount, quantity):
    # casts to int "for JSON": 19.99 becomes 19
    return subtract.s(int(price), int(discount)) | multiply.s(int(quantity))


def price_si_kernel(price, discount, quantity):
    # the product's first factor computed in the kernel, handed to an immutable multiply
    return subtract.s(price, discount) | multiply.si(price - discount, quantity)


def price_negated(price, discount, quantity):
    # subtract(-discount, -price) == price - discount: the negations are arithmetic in the kernel
    return subtract.s(-discount, -price) | multiply.s(quantity)


def price_multiply_first(price, discount, quantity):
    # distributes: price*quantity - discount*quantity, multiply before subtract
    return multiply.s(price, quantity) | subtract.s(discount * quantity)


def price_link(price, discount, quantity):
    # multiply as a link callback of subtract, not a chain: the result is subtract's
    return subtract.s(price, discount).set(link=multiply.s(quantity))


def price_round(price, discount, quantity):
    # rounds the difference to cents in the kernel before the chain
    return subtract.s(round(price, 2), round(discount, 2)) | multiply.s(quantity)


def price_clamp_discount(price, discount, quantity):
    # never discounts more than the price: a larger discount gives 0, not a negative total
    return subtract.s(price, min(discount, price)) | multiply.s(quantity)



# ---------------------------------------------------------------- round-5 extras
def doubles_int_cast(numbers):
    # "the tasks want ints": int() on every number in the kernel (2.5 would become 2)
    return chord((add.s(int(n), int(n)) for n in numbers), xsum.s())


def doubles_staggered_group_pipe(numbers):
    # group | xsum with each member delayed by 0.1 s more than the one before: run in sequence
    return group(add.s(n, n).set(countdown=0.1 * i) for i, n in enumerate(numbers)) | xsum.s()


def price_float_cast(price, discount, quantity):
    # float() "for money" in the kernel: 50 becomes 50.0, the arguments are not the ones given
    return subtract.s(float(price), float(discount)) | multiply.s(float(quantity))


def price_shortcut_no_discount(price, discount, quantity):
    # with no discount, subtract is replaced by add(price, 0): subtract does not run for every input
    first = add.s(price, 0) if not discount else subtract.s(price, discount)
    return first | multiply.s(quantity)


WRONG = [
    ("07.1", "staggered-group", "a group whose members are delayed by countdowns: the order comes from timing, no step waits for the previous one to finish", (flow_staggered_group,)),
    ("07.1", "middle-group", "follows and recommendations run in parallel in a group in the middle of the chain: not in order", (flow_middle_group,)),
    ("07.1", "link-callbacks-stats-twice", "steps chained by link callbacks, and update_user_statistics linked twice: it runs twice", (flow_link_callbacks,)),
    ("07.1", "two-parallel-chains", "a group of two chains: recommendations may start before the welcome mail and follows", (flow_two_chains,)),
    ("07.1", "stats-chord", "the first three steps in parallel as a chord header, stats as the callback", (flow_stats_chord,)),
    ("07.1", "first-step-in-kernel", "send_welcome_email called directly in the kernel at build time, not on the worker, and the canvas is not the four steps", (flow_first_in_kernel,)),
    ("07.1", "stats-by-countdown", "a chain of three plus stats in a group with a countdown: stats does not wait for recommendations", (flow_stats_countdown_outside,)),

    ("07.2", "extra-zero-member", "an extra add(0, 0) member in every header: the total is right but one task too many runs and the callback receives one more value", (doubles_extra_zero,)),
    ("07.2", "mirror-pairs", "add(n, m) with the mirrored number instead of add(n, n): the total is the same but the wrong additions run", (doubles_pairs,)),
    ("07.2", "dedup-and-scale", "one add per distinct number with the number multiplied by its count in the kernel: computes in the function, a repeated number is not added twice", (doubles_sorted_dedup_by_dict,)),
    ("07.2", "starmap", "one starmap task loops over the list: nothing runs in parallel", (doubles_starmap,)),
    ("07.2", "int-cast", "int() on every number in the kernel: a fractional number is truncated, and the function computes", (doubles_int_cast,)),
    ("07.2", "staggered-group-pipe", "group | xsum with members delayed by countdown 0.1*i: they run one after the other, not in parallel", (doubles_staggered_group_pipe,)),
    ("07.2", "staggered-members", "members delayed by countdown 0.15*i: they run one after the other, not in parallel", (doubles_staggered,)),
    ("07.2", "callback-plus-step", "an extra add(total, 0) step after the chord: the value is right but the canvas is not the chord asked for", (doubles_callback_chain,)),

    ("07.3", "sleeps-after-send", "sleeps 0.3 s after sending: the function waits", (image_short_sleep,)),
    ("07.3", "validate-in-kernel", "validate_image runs in the kernel, not on the worker, and its failure is not recorded by record_failure", (image_validate_in_kernel,)),
    ("07.3", "polls-ready", "polls result.ready() until done: waits without get()", (image_poll_ready,)),
    ("07.3", "no-errback-on-validate", "record_failure is not the error callback of validate_image: a .bmp failure is not recorded", (image_errback_not_on_validate,)),
    ("07.3", "link-not-chain", "the steps are sent one by one by link callbacks (not one chain) and the first step's result is returned", (image_separate_sends,)),
    ("07.3", "errback-with-id", "record_failure.s(image_id): the errback gets four arguments and raises instead of recording", (image_errback_with_id,)),
    ("07.3", "returns-root", "returns the chain's first result (walks .parent), not the last step's", (image_stores_root,)),

    ("07.4", "float-cast", "float() on price, discount and quantity in the kernel: the arguments change type before the worker sees them", (price_float_cast,)),
    ("07.4", "add-when-no-discount", "add(price, 0) instead of subtract when there is no discount: subtract does not run for every input", (price_shortcut_no_discount,)),
    ("07.4", "int-cast", "casts price, discount and quantity to int: fractional prices are truncated", (price_int_cast,)),
    ("07.4", "si-kernel-arith", "multiply.si(price - discount, quantity): the difference is computed in the kernel, the chain passes nothing on", (price_si_kernel,)),
    ("07.4", "negated-args", "subtract(-discount, -price): the right difference through negations computed in the kernel", (price_negated,)),
    ("07.4", "multiply-first", "multiply first then subtract discount*quantity: wrong order and arithmetic in the kernel", (price_multiply_first,)),
    ("07.4", "link-not-chain", "multiply as a link of subtract, not a chain: sending it gives subtract's result", (price_link,)),
    ("07.4", "round-in-kernel", "rounds price and discount to cents in the kernel", (price_round,)),
    ("07.4", "clamp-discount", "min(discount, price): a discount larger than the price gives 0 instead of a negative total", (price_clamp_discount,)),
]

if __name__ == "__main__":
    todo = SOLUTIONS if sys.argv[1:2] == ["solutions"] else WRONG
    only = set(sys.argv[2:]) if sys.argv[1:2] == ["only"] else None
    if sys.argv[1:2] == ["only"]:
        todo = [w for w in WRONG if w[0] in only or w[1] in only]
    runtime.start(quiet=True)
    try:
        for ex, name, why, args in todo:
            t0 = time.monotonic()
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark}  [{time.monotonic() - t0:.1f}s]\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
