"""The checks of chapter 01: each fed the right answer and every known wrong one.

They run against the embedded worker, like a learner's notebook in the default mode. The
tables of wrong answers hold adversary round 1's answers (``.adversary/ch01_r1.py``) next to
the earlier ones, round 2's (``.adversary/ch01_r2.py``), round 3's (``ch01_r3.py``) and
round 4's (``ch01_r4.py``), each with the problem and the hint it gets.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
import uuid
from dataclasses import asdict
from time import sleep
from typing import Any

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from checkhelpers import assert_fails, assert_passed
from kombu.exceptions import ChannelError, OperationalError

from course_tasks import app
from course_tasks.checks import Outcome, evaluate
from course_tasks.checks import ch01_concepts as ch01
from course_tasks.checks.support import delete_queue
from course_tasks.tasks.basics import add, multiply, sleepy_add, xsum
from course_tasks.tasks.email import send_email, send_welcome_email

pytestmark = pytest.mark.usefixtures("worker")

NOT_YET = "not yet: replace the ... with your code, run that cell, then this one"
POINTS = {"01.1": 1, "01.2": 2, "01.3": 2, "01.4": 1}
#: A queue no worker reads, for 01.1's answers that send there.
NOBODY = "test-ch01-nobody"


def verdict(exercise_id: str, *args: Any) -> Outcome:
    outcome = evaluate(exercise_id, *args)
    assert outcome.max_points == POINTS[exercise_id]
    return outcome


def failed(exercise_id: str, *args: Any) -> str:
    outcome = verdict(exercise_id, *args)
    assert not outcome.passed, outcome.line()
    assert outcome.points == 0
    return outcome.feedback


# --------------------------------------------------------------------------- 01.1


def test_01_1_right_answer() -> None:
    outcome = verdict("01.1", add.delay(2, 3))
    assert outcome.passed
    assert outcome.line() == (
        "✓ 01.1 send a task to the worker: passed "
        "(add(2, 3) ran on the worker: state=SUCCESS, result=5)"
    )


def test_01_1_keyword_arguments_and_apply_async_are_right_too() -> None:
    assert verdict("01.1", add.delay(x=2, y=3)).passed
    assert verdict("01.1", add.apply_async((2, 3))).passed
    assert verdict("01.1", add.s(2, 3).delay()).passed
    assert verdict("01.1", app.send_task(add.name, (2, 3))).passed
    assert verdict("01.1", r3_sent_twice()).passed  # adversary round 3: the text allows it
    assert verdict("01.1", add.apply_async((2, 3), task_id=str(uuid.uuid4()))).passed
    # adversary round 4, judged right: the text says the check judges the handle and the
    # result backend, where neither a send before it (sent-twice, as in round 3) nor
    # expires leaves a trace
    assert_passed(verdict("01.1", r4_expires_1s()))


def test_01_1_stub() -> None:
    assert failed("01.1", ...) == NOT_YET


def test_01_1_the_task_itself_or_its_method() -> None:
    assert failed("01.1", add) == (
        "result is the task add itself, not a result. Hint: send it to the worker with its "
        "arguments and keep what that returns"
    )
    assert failed("01.1", add.delay) == (
        "result is a method, not the result of calling it. Hint: call it (with the task's "
        "arguments) and keep what it returns"
    )


def test_01_1_another_task() -> None:
    assert failed("01.1", multiply.delay(2, 3)) == (
        "the worker ran multiply, not add. Hint: send the course's add task "
        "(from course_tasks.tasks.basics)"
    )


def test_01_1_wrong_arguments() -> None:
    assert failed("01.1", add.delay(3, 2)) == (
        "the worker ran add(3, 2), not add(2, 3). Hint: send 2 and 3, in that order"
    )
    assert failed("01.1", add.delay(2, "3")) == (
        "the task failed on the worker (TypeError: unsupported operand type(s) for +: 'int' "
        "and 'str'). Hint: send add two numbers, 2 and 3"
    )


def test_01_1_sent_to_a_queue_no_worker_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ch01, "WAIT_SECONDS", 0.5)
    parked = add.apply_async((2, 3), queue=NOBODY)
    try:
        assert failed("01.1", parked) == (
            f"the task is still PENDING after 0.5 s: its message waits in the queue {NOBODY!r}, "
            "which no worker reads (the course's worker reads 'celery'). Hint: leave out "
            "queue=...: add.delay(2, 3) puts it where the worker reads"
        )
    finally:
        delete_queue(NOBODY)


# adversary round 1: each builds its `result` when the test runs, as the notebook cell would


def r_get_value() -> Any:
    return add.delay(2, 3).get(timeout=5)  # the value 5, not the handle


def r_plain_call() -> Any:
    return add(2, 3)  # runs here, no worker


def r_apply_eager() -> Any:
    return add.apply((2, 3))  # EagerResult: ran in this process


def r_task_id_str() -> Any:
    return add.delay(2, 3).id  # the id string, not the handle


def r_other_numbers() -> Any:
    return add.delay(1, 4)  # 5, but not with 2 and 3


def r_sleepy_add() -> Any:
    return sleepy_add.delay(2, 3, seconds=0.1)  # another task, same value


def r_xsum() -> Any:
    return xsum.delay([2, 3])  # another task, same value


def r_parked_queue() -> Any:
    return add.apply_async((2, 3), queue=NOBODY)  # a queue no worker reads


def r_signature() -> Any:
    return add.s(2, 3)  # a signature, never sent


def r_ignore_result() -> Any:
    return add.apply_async((2, 3), ignore_result=True)  # ran, but nothing in the backend


def r_chain_tail() -> Any:
    return (add.s(2, 3) | add.s(0)).delay()  # handle of add(5, 0), not add(2, 3)


# adversary round 2


def r2_frozen_never_sent() -> Any:
    return add.s(2, 3).freeze()  # a handle with an id, but nothing was sent


def r2_ignore_result() -> Any:
    return add.apply_async((2, 3), ignore_result=True)


def r2_sleepy_add() -> Any:
    return sleepy_add.delay(2, 3, seconds=0)  # 5 too, but another task


def r2_other_numbers() -> Any:
    return add.delay(1, 4)


def r2_pickle_serializer() -> Any:
    return add.apply_async((2, 3), serializer="pickle")  # the json-only worker refuses it


def r2_chain_tail_handle() -> Any:
    return (add.s(2, 3) | add.s(0))()  # the handle of add(5, 0)


def r2_string_numbers() -> Any:
    return add.delay("2", "3")  # '23'


# adversary round 3


def r3_swapped_args() -> Any:
    return add.delay(3, 2)  # 5, but not with 2 and 3


def r3_other_numbers() -> Any:
    return add.delay(1, 4)


def r3_eager_apply() -> Any:
    return add.apply(args=(2, 3))


def r3_ignore_result() -> Any:
    return add.apply_async((2, 3), ignore_result=True)


def r3_id_string() -> Any:
    return add.delay(2, 3).id


def r3_string_args() -> Any:
    return add.delay("2", "3")


def r3_sent_twice() -> Any:
    add.delay(2, 3)  # a first try left in the cell: judged right (the text does not say once)
    return add.delay(2, 3)


# adversary round 4


def r4_group_of_one() -> Any:
    from celery import group

    return group(add.s(2, 3)).delay()  # a GroupResult


def r4_fixed_task_id() -> Any:
    return add.apply_async((2, 3), task_id="my-add-2-3")  # reused each time the cell runs


def r4_forget_after_get() -> Any:
    r = add.delay(2, 3)
    r.get(timeout=5)
    r.forget()  # "cleans up": the stored result is gone
    return r


def r4_expires_1s() -> Any:
    return add.apply_async((2, 3), expires=1)  # judged right: no trace on the handle


def r4_extra_callback() -> Any:
    return add.apply_async((2, 3), link=add.s(10))  # add(5, 10) runs after it


NOT_RAN = "the task is still PENDING after 5 s: no worker ran it, and no queue holds its message"
NEVER_SENT_HINT = "either it was never sent (a signature's freeze() only makes a handle: send it"
REFUSED_HINT = "or the worker refused its message (it accepts only json: leave out serializer=...)"


HANDLE_HINT = (
    "did you call add(2, 3) (or .get() the value) instead of keeping what add.delay(2, 3) returns?"
)


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(r_get_value, "got a plain int (5), not an AsyncResult", HANDLE_HINT,
                     id="get-value"),
        pytest.param(r_plain_call, "got a plain int (5), not an AsyncResult", HANDLE_HINT,
                     id="plain-call"),
        pytest.param(r_apply_eager, "result is an EagerResult: the task ran here, in this "
                     "process, not on the worker", ".apply() runs a task locally",
                     id="apply-eager"),
        pytest.param(r_task_id_str, "got a str (a task id?), not an AsyncResult",
                     "keep the whole handle that sending returns", id="task-id-str"),
        pytest.param(r_other_numbers, "the worker ran add(1, 4), not add(2, 3)",
                     "send 2 and 3, in that order", id="other-numbers"),
        pytest.param(r_sleepy_add, "the worker ran sleepy_add, not add",
                     "send the course's add task", id="sleepy-add"),
        pytest.param(r_xsum, "the worker ran xsum, not add", "send the course's add task",
                     id="xsum"),
        pytest.param(r_parked_queue, "the task is still PENDING after 5 s: its message waits "
                     f"in the queue {NOBODY!r}, which no worker reads",
                     "leave out queue=...: add.delay(2, 3) puts it where the worker reads",
                     id="parked-queue"),
        pytest.param(r_signature, "result is a Signature, not the result of calling it",
                     "call it (with the task's arguments)", id="signature"),
        pytest.param(r_ignore_result, "the task was sent with ignore_result=True: the worker "
                     "runs it but stores no result", "send it without ignore_result",
                     id="ignore-result"),
        pytest.param(r_chain_tail, "the worker ran add(5, 0), not add(2, 3)",
                     "send 2 and 3, in that order", id="chain-tail"),
        # adversary round 2
        pytest.param(r2_frozen_never_sent, NOT_RAN, NEVER_SENT_HINT, id="r2-frozen-never-sent"),
        pytest.param(r2_ignore_result, "the task was sent with ignore_result=True: the worker "
                     "runs it but stores no result", "send it without ignore_result",
                     id="r2-ignore-result"),
        pytest.param(r2_sleepy_add, "the worker ran sleepy_add, not add",
                     "send the course's add task", id="r2-sleepy-add-instead"),
        pytest.param(r2_other_numbers, "the worker ran add(1, 4), not add(2, 3)",
                     "send 2 and 3, in that order", id="r2-other-numbers-same-sum"),
        pytest.param(r2_pickle_serializer, NOT_RAN, REFUSED_HINT, id="r2-pickle-serializer"),
        pytest.param(r2_chain_tail_handle, "the worker ran add(5, 0), not add(2, 3)",
                     "send 2 and 3, in that order", id="r2-chain-tail-handle"),
        pytest.param(r2_string_numbers, "the worker ran add('2', '3'), not add(2, 3)",
                     "send 2 and 3, in that order", id="r2-string-numbers"),
        # adversary round 3
        pytest.param(r3_swapped_args, "the worker ran add(3, 2), not add(2, 3)",
                     "send 2 and 3, in that order", id="r3-swapped-args"),
        pytest.param(r3_other_numbers, "the worker ran add(1, 4), not add(2, 3)",
                     "send 2 and 3, in that order", id="r3-other-numbers"),
        pytest.param(r3_eager_apply, "result is an EagerResult: the task ran here, in this "
                     "process, not on the worker", ".apply() runs a task locally",
                     id="r3-eager-apply"),
        pytest.param(r3_ignore_result, "the task was sent with ignore_result=True: the worker "
                     "runs it but stores no result", "send it without ignore_result",
                     id="r3-ignore-result"),
        pytest.param(r3_id_string, "got a str (a task id?), not an AsyncResult",
                     "keep the whole handle that sending returns", id="r3-id-string"),
        pytest.param(r3_string_args, "the worker ran add('2', '3'), not add(2, 3)",
                     "send 2 and 3, in that order", id="r3-string-args"),
        # adversary round 4
        pytest.param(r_xsum, "the worker ran xsum, not add", "send the course's add task",
                     id="r4-xsum-of-2-and-3"),
        pytest.param(r2_sleepy_add, "the worker ran sleepy_add, not add",
                     "send the course's add task", id="r4-sleepy-add"),
        pytest.param(r4_group_of_one, "result is a GroupResult, not an AsyncResult",
                     "keep what sending add to the worker returns", id="r4-group-of-one"),
        pytest.param(r4_fixed_task_id, "the task's id is 'my-add-2-3', one of your own "
                     "(task_id=...): a task id must be unique", "leave out task_id: Celery "
                     "gives every task a new random id", id="r4-fixed-task-id"),
        pytest.param(r3_ignore_result, "the task was sent with ignore_result=True: the worker "
                     "runs it but stores no result", "send it without ignore_result",
                     id="r4-ignore-result"),
        pytest.param(r3_id_string, "got a str (a task id?), not an AsyncResult",
                     "keep the whole handle that sending returns", id="r4-id-string"),
        pytest.param(r_apply_eager, "result is an EagerResult: the task ran here, in this "
                     "process, not on the worker", ".apply() runs a task locally",
                     id="r4-eager-apply"),
        pytest.param(r4_forget_after_get, "the task's result is gone from the result backend: "
                     "its state reads PENDING again, and its value can no longer be read by its "
                     "id (was forget() called on it?)", "keep the result: leave out forget()",
                     id="r4-forget-after-get"),
        pytest.param(r4_extra_callback, "add(2, 3) ran, and then the worker ran another task "
                     "it started (add): a callback (link=...) nobody asked for",
                     "send add(2, 3) alone: add.delay(2, 3)", id="r4-extra-callback"),
        pytest.param(r2_pickle_serializer, NOT_RAN, REFUSED_HINT, id="r4-pickle-serializer"),
    ],
)  # fmt: skip
def test_01_1_wrong_answers(make: Any, problem: str, hint: str) -> None:
    try:
        assert_fails(evaluate("01.1", make()), problem, hint, hint_within=True)
    finally:
        delete_queue(NOBODY)


# --------------------------------------------------------------------------- 01.2


def signup_right(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    return task.id


def signup_apply_async_kwargs(email: str, name: str) -> str:
    return send_welcome_email.apply_async(kwargs={"to": email, "name": name}).id


def signup_signature(email: str, name: str) -> str:
    return send_welcome_email.s(email, name).delay().id


def signup_send_task(email: str, name: str) -> str:
    return app.send_task(send_welcome_email.name, [email, name]).id


def signup_default_queue_named(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), queue="celery").id


def signup_reads_state_once(email: str, name: str) -> str:
    """Looks at the new task's state once (to log it, say): no waiting, so it is right."""
    task = send_welcome_email.delay(email, name)
    print(f"queued {task.id}: {task.state}", end="\r")
    return task.id


def signup_stub(email: str, name: str) -> Any:
    """Handle a sign-up: queue the welcome mail, answer with the task id."""
    ...


def signup_forgets_return(email: str, name: str) -> None:
    send_welcome_email.delay(email, name)


def signup_waits_quietly(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    with contextlib.suppress(CeleryTimeoutError):
        task.wait(timeout=0.05)  # "just a moment, in case it is quick"
    return task.id


def signup_polls(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    while not task.ready():
        time.sleep(0.05)
    return task.id


def signup_polls_with_imported_sleep(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    for _ in range(3):
        sleep(0.05)  # from time import sleep
    return task.id


def signup_busy_loop(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    deadline = time.monotonic() + 0.5
    while task.state == "PENDING" and time.monotonic() < deadline:
        pass
    return task.id


def signup_never_answers(email: str, name: str) -> str:
    threading.Event().wait(6)
    return "never"


def signup_wrong_address(email: str, name: str) -> str:
    return send_welcome_email.delay("ada@example.com", name).id


def signup_forgets_name(email: str, name: str) -> str:
    return send_welcome_email.delay(email, "there").id


def signup_made_up_id(email: str, name: str) -> str:
    send_welcome_email.delay(email, name)
    return "not-a-task-id"


def signup_id_of_another_task(email: str, name: str) -> str:
    send_welcome_email.delay(email, name)
    return add.delay(1, 2).id


def signup_one_argument(email: str, name: str) -> str:
    return send_welcome_email.apply_async((f"{name} <{email}>",), kwargs={}).id


# adversary round 1


def signup_returns_handle(email: str, name: str) -> Any:
    return send_welcome_email.delay(email, name)  # AsyncResult, not a json-able str


def signup_plain_call(email: str, name: str) -> str:
    send_welcome_email(email, name)  # blocks 2 s in the request
    return str(uuid.uuid4())


def signup_get(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    task.get(timeout=5)  # waits for the mail
    return task.id


def signup_short_get(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    try:  # noqa: SIM105 (as the adversary wrote it)
        task.get(timeout=0.5)  # "give it a moment", blocks 0.5 s
    except CeleryTimeoutError:
        pass
    return task.id


def signup_ping_first(email: str, name: str) -> str:
    if not app.control.inspect(timeout=1).ping():  # blocks the request ~1 s
        raise RuntimeError("no worker")
    return send_welcome_email.delay(email, name).id


def signup_swapped_args(email: str, name: str) -> str:
    return send_welcome_email.delay(name, email).id  # mail goes to "Grace"


def signup_hardcoded_address(email: str, name: str) -> str:
    return send_welcome_email.delay("grace@example.com", name).id  # ignores email


def signup_name_dropped(email: str, name: str) -> str:
    return send_welcome_email.delay(email, email).id  # the name is never passed


def signup_other_task(email: str, name: str) -> str:
    return send_email.delay(email, "Welcome!", f"Hello {name}").id  # not send_welcome_email


def signup_sends_twice(email: str, name: str) -> str:
    send_welcome_email.delay(email, name)  # leftover line: two mails
    return send_welcome_email.delay(email, name).id


def signup_thread(email: str, name: str) -> str:
    threading.Thread(target=send_welcome_email, args=(email, name), daemon=True).start()
    return str(uuid.uuid4())  # no worker, a made-up id


def signup_hardcoded_name(email: str, name: str) -> str:
    return send_welcome_email.delay(email, "Grace").id  # every user is greeted as Grace


def signup_poll_loop(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    for _ in range(10):  # "wait until it has started", 1 s
        if task.state != "PENDING":
            break
        time.sleep(0.1)
    return task.id


def signup_dict(email: str, name: str) -> Any:
    return {"task_id": send_welcome_email.delay(email, name).id}  # a dict, not the str id


def signup_wrong_queue(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), queue="emails").id  # nobody reads it


# adversary round 2


def signup_repr_of_handle(email: str, name: str) -> str:
    return repr(send_welcome_email.delay(email, name))  # '<AsyncResult: ...>', not the id


def signup_json_body(email: str, name: str) -> Any:
    task = send_welcome_email.delay(email, name)
    return {"task_id": task.id}


def signup_via_send_email(email: str, name: str) -> str:
    return send_email.delay(email, "Welcome!", f"Hello {name}, thanks for signing up.").id


def signup_frozen_not_sent(email: str, name: str) -> str:
    return send_welcome_email.s(email, name).freeze().id  # an id, nothing queued


def signup_thread_not_worker(email: str, name: str) -> str:
    threading.Thread(target=send_welcome_email, args=(email, name), daemon=True).start()
    return str(uuid.uuid4())


def signup_short_expiry(email: str, name: str) -> str:
    # revoked unsent when every worker is busy for more than 3 s
    return send_welcome_email.apply_async((email, name), expires=3).id


def signup_countdown(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), countdown=1).id  # waits if idle too


def signup_inspect_stats(email: str, name: str) -> str:
    if not app.control.inspect(timeout=0.5).stats():
        raise RuntimeError("no worker available")
    return send_welcome_email.delay(email, name).id


def signup_control_ping(email: str, name: str) -> str:
    app.control.ping(timeout=0.5)
    return send_welcome_email.delay(email, name).id


def signup_name_from_email(email: str, name: str) -> str:
    return send_welcome_email.delay(email, email.split("@")[0].title()).id


def signup_first_name_only(email: str, name: str) -> str:
    return send_welcome_email.delay(email, name.split()[0]).id


# adversary round 3


def signup_time_limit(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), time_limit=1).id  # on a 2 s mail


def signup_soft_time_limit(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), soft_time_limit=1).id


def signup_ignore_result(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), ignore_result=True).id


def signup_no_publish_retry(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), retry=False).id


def signup_fixed_task_id(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), task_id=f"welcome-{email}").id


def signup_priority(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), priority=9).id


def signup_kwargs_swapped(email: str, name: str) -> str:
    return send_welcome_email.delay(to=name, name=email).id


def signup_own_uuid(email: str, name: str) -> str:
    # a random id of its own: unique, so right
    return send_welcome_email.apply_async((email, name), task_id=str(uuid.uuid4())).id


def signup_explicit_defaults(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), serializer="json", retry=True).id


def signup_pooled_producer(email: str, name: str) -> str:
    # a producer from the app's pool for this call, given back after it: the pool hands the
    # same producer to the next call, which is right
    with app.producer_or_acquire() as producer:
        return send_welcome_email.apply_async((email, name), producer=producer).id


class SignupFailed(Exception):
    """A web app's own error for a request that could not be handled."""


def signup_raises_its_own_error(email: str, name: str) -> str:
    try:
        return send_welcome_email.delay(email, name).id
    except OperationalError as exc:  # the caller learns it: the app's own error, with its cause
        raise SignupFailed("the welcome mail could not be queued") from exc


def signup_app_send_task(email: str, name: str) -> str:
    return app.send_task(send_welcome_email.name, (email, name)).id  # the course's app


# adversary round 4


def signup_r4_retry_policy_0(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), retry_policy={"max_retries": 0}).id


def signup_r4_eta_now(email: str, name: str) -> str:
    from datetime import datetime, timezone

    return send_welcome_email.apply_async((email, name), eta=datetime.now(timezone.utc)).id


def signup_r4_uuid5_task_id(email: str, name: str) -> str:
    task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"welcome:{email}"))
    return send_welcome_email.apply_async((email, name), task_id=task_id).id


def signup_r4_md5_task_id(email: str, name: str) -> str:
    import hashlib

    task_id = str(uuid.UUID(hashlib.md5(email.encode()).hexdigest()))
    return send_welcome_email.apply_async((email, name), task_id=task_id).id


def signup_r4_fallback_inline(email: str, name: str) -> str | None:
    try:
        task = send_welcome_email.delay(email, name)
    except Exception:  # broker down: the mail is sent right here, and no id answered
        send_welcome_email(email, name)
        return None
    return task.id


def signup_r4_swallow_publish_error(email: str, name: str) -> str | None:
    try:
        return send_welcome_email.delay(email, name).id
    except Exception:  # broker down: no mail, a null id, nobody told
        return None


def signup_r4_current_app(email: str, name: str) -> str:
    from celery import current_app  # the course's app only in the importing thread

    return current_app.send_task(send_welcome_email.name, (email, name)).id


_r4_signed_up: dict[str, str] = {}


def signup_r4_global_dedup(email: str, name: str) -> str:
    if email in _r4_signed_up:  # per process; a second sign-up never gets a mail
        return _r4_signed_up[email]
    _r4_signed_up[email] = send_welcome_email.delay(email, name).id
    return _r4_signed_up[email]


def signup_r4_inspect_active(email: str, name: str) -> str:
    app.control.inspect(timeout=0.5).active()
    return send_welcome_email.delay(email, name).id


def signup_r4_transient(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), delivery_mode=1).id


def signup_r4_shadow(email: str, name: str) -> str:
    return send_welcome_email.apply_async((email, name), shadow="welcome-mail").id


_r4_producer: list[Any] = []


def signup_r4_shared_producer(email: str, name: str) -> str:
    if not _r4_producer:  # one producer for every request thread, never given back
        _r4_producer.append(app.connection_for_write().Producer())
    return send_welcome_email.apply_async((email, name), producer=_r4_producer[0]).id


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_right_answer() -> None:
    outcome = verdict("01.2", signup_right)
    assert outcome.line() == (
        "✓ 01.2 queue the welcome mail: passed (answered with the mail task's id without "
        "waiting, for grace@example.com and countess@example.org (the worker delivered both "
        "mails) and again for grace@example.com; with the broker down, the error reached the "
        "caller)"
    )


@pytest.mark.usefixtures("fast_smtp")
@pytest.mark.parametrize(
    "signup",
    [
        pytest.param(signup_apply_async_kwargs, id="apply-async-kwargs"),
        pytest.param(signup_signature, id="signature-delay"),
        pytest.param(signup_send_task, id="send-task"),
        pytest.param(signup_default_queue_named, id="default-queue-named"),
        pytest.param(signup_reads_state_once, id="reads-state-once"),
        pytest.param(signup_own_uuid, id="own-uuid"),
        pytest.param(signup_explicit_defaults, id="explicit-defaults"),
        pytest.param(signup_pooled_producer, id="pooled-producer"),
        pytest.param(signup_raises_its_own_error, id="raises-its-own-error"),
        pytest.param(signup_app_send_task, id="app-send-task"),
    ],
)
def test_01_2_other_right_answers(signup: Any) -> None:
    assert_passed(verdict("01.2", signup))


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_the_mails_reach_the_outbox_once_each() -> None:
    from course_tasks.tasks import email

    assert verdict("01.2", signup_right).passed
    assert sorted(m["to"] for m in email.outbox()) == ["countess@example.org", "grace@example.com"]


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_stub_and_missing_return() -> None:
    assert failed("01.2", signup_stub) == (
        "not yet: write the body of signup, run that cell, then this one"
    )
    assert failed("01.2", signup_forgets_return) == (
        "signup returned None. Hint: end it with a return statement: return the task id"
    )
    assert failed("01.2", ...) == NOT_YET


def test_01_2_not_a_function() -> None:
    assert failed("01.2", "signup") == (
        "got a str, not a function. Hint: write it as a function: def signup(email, name):"
    )
    assert failed("01.2", send_welcome_email) == (
        "signup is a Celery task. Hint: keep signup a plain function (def signup(email, name):) "
        "that sends the course's task"
    )


WAITED = "signup waited for the mail before answering (it called get() on the task)"
WAIT_HINT = "queue the mail and return; do not wait for the task to finish"
SLEPT = "signup waited before answering (it called time.sleep("
SLEEP_HINT = "queue the mail and return at once: the worker sends it meanwhile"
POLLED = (
    "signup waited for a worker to pick the mail up (it read the task's state again and again "
    "while the task was PENDING, every worker busy)"
)


DOWN = "while the broker was down (sending raised OperationalError: " + ch01.BROKER_DOWN + "), "
LET_IT = "let the error reach the caller (don't catch it, or raise again)"
CURRENT_APP = (
    "the current app is the course's app only in the thread that imported course_tasks (or next "
    "to a worker); the check called it from another thread, as a web server runs each request"
)


@pytest.mark.usefixtures("fast_smtp")
@pytest.mark.parametrize(
    ("signup", "problem", "hint"),
    [
        pytest.param(signup_waits_quietly, WAITED, WAIT_HINT, id="wait-suppressed"),
        pytest.param(signup_polls, SLEPT + "0.05))", SLEEP_HINT, id="polls-ready"),
        pytest.param(signup_polls_with_imported_sleep, SLEPT + "0.05))", SLEEP_HINT,
                     id="imported-sleep"),
        pytest.param(signup_busy_loop, POLLED, "answer at once with the task's id, whatever "
                     "the workers are doing", id="busy-loop"),
        pytest.param(signup_never_answers, "signup waited before answering (no answer within "
                     "5 s)", WAIT_HINT, id="never-answers"),
        pytest.param(signup_wrong_address, "signup('grace@example.com', 'Grace') addressed the "
                     "mail to 'ada@example.com'", "send the mail to the address signup "
                     "receives, not a fixed one", id="wrong-address"),
        pytest.param(signup_forgets_name, "the welcome mail for grace@example.com greets "
                     "'there', not 'Grace'", "pass on the name signup receives as well",
                     id="fixed-greeting"),
        pytest.param(signup_made_up_id, "signup returned 'not-a-task-id', not the id of the "
                     "mail task it queued", "return the id of the task you queued (its .id)",
                     id="made-up-id"),
        pytest.param(signup_id_of_another_task, "that id belongs to the task add, not "
                     "send_welcome_email", "return the id of the send_welcome_email task",
                     id="id-of-another-task"),
        pytest.param(signup_one_argument, "sending the mail task failed (TypeError: "
                     "send_welcome_email() missing 1 required positional argument: 'name')",
                     "send_welcome_email takes two plain values", id="one-argument"),
        # adversary round 1
        pytest.param(signup_returns_handle, "signup returned an AsyncResult, not the task id",
                     "a web handler answers with json: return the handle's id (a str)",
                     id="returns-handle"),
        pytest.param(signup_plain_call, "signup('grace@example.com', 'Grace') sent the mail "
                     "itself, in this process: it called the task like a function",
                     "queue it with send_welcome_email.delay(email, name)", id="plain-call"),
        pytest.param(signup_get, WAITED, WAIT_HINT, id="get"),
        pytest.param(signup_short_get, WAITED, WAIT_HINT, id="short-get"),
        pytest.param(signup_ping_first, "signup asked the workers (ping) and waited for their "
                     "replies before queueing the mail", "queue the mail and answer at once: "
                     "the broker keeps the message until a worker is free", id="ping-first"),
        pytest.param(signup_swapped_args, "signup('grace@example.com', 'Grace') queued the "
                     "mail to 'Grace', greeting 'grace@example.com': the arguments are "
                     "swapped", "send_welcome_email(to, name) takes the address first",
                     id="swapped-args"),
        pytest.param(signup_hardcoded_address, "signup('countess@example.org', 'Ada Lovelace') "
                     "addressed "
                     "the mail to 'grace@example.com'", "send the mail to the address signup "
                     "receives, not a fixed one", id="hardcoded-address"),
        pytest.param(signup_name_dropped, "the welcome mail for grace@example.com greets "
                     "'grace@example.com', not 'Grace'", "pass on the name signup receives",
                     id="name-dropped"),
        pytest.param(signup_other_task, "signup queued send_email, not send_welcome_email",
                     "queue the course's send_welcome_email task", id="other-task"),
        pytest.param(signup_sends_twice, "signup queued send_welcome_email 2 times: the user "
                     "would get 2 welcome mails", "queue it once", id="sends-twice"),
        pytest.param(signup_thread, "but sent no task to the worker", "queue the course's "
                     "send_welcome_email with .delay(...)", id="thread"),
        pytest.param(signup_hardcoded_name, "the welcome mail for countess@example.org greets "
                     "'Grace', not 'Ada Lovelace'", "pass on the name signup receives",
                     id="hardcoded-name"),
        pytest.param(signup_poll_loop, SLEPT + "0.1))", SLEEP_HINT, id="poll-loop"),
        pytest.param(signup_dict, "signup returned a dict ({'task_id': ", "return the id "
                     "itself, a str (task.id)", id="dict"),
        pytest.param(signup_wrong_queue, "signup queued the mail on the queue 'emails', which "
                     "no worker reads (the course's worker reads 'celery')",
                     "leave out queue=...", id="wrong-queue"),
        # adversary round 2
        pytest.param(signup_repr_of_handle, "signup returned '<AsyncResult: ", "return the id "
                     "of the task you queued (its .id)", id="r2-repr-of-handle"),
        pytest.param(signup_json_body, "signup returned a dict ({'task_id': ", "return the id "
                     "itself, a str (task.id)", id="r2-json-body-dict"),
        pytest.param(signup_via_send_email, "signup queued send_email, not send_welcome_email",
                     "queue the course's send_welcome_email task", id="r2-send-email-task"),
        pytest.param(signup_frozen_not_sent, "but sent no task to the worker", "queue the "
                     "course's send_welcome_email with .delay(...)", id="r2-frozen-not-sent"),
        pytest.param(signup_thread_not_worker, "but sent no task to the worker", "queue the "
                     "course's send_welcome_email with .delay(...)", id="r2-thread-not-worker"),
        pytest.param(signup_short_expiry, "signup('grace@example.com', 'Grace') queued the "
                     "mail with expires=3: when every worker is busy for longer than that, the "
                     "worker that finally gets it revokes it unrun", "leave out expires: the "
                     "mail waits in the queue until a worker is free", id="r2-expires-3s"),
        pytest.param(signup_countdown, "signup('grace@example.com', 'Grace') queued the mail "
                     "with countdown=1: it waits that long even when a worker is free",
                     "queue it with send_welcome_email.delay(...)", id="countdown"),
        pytest.param(signup_inspect_stats, "signup asked the workers (stats) and waited for "
                     "their replies", "queue the mail and answer at once", id="r2-inspect-stats"),
        pytest.param(signup_control_ping, "signup asked the workers (ping) and waited for "
                     "their replies", "queue the mail and answer at once", id="r2-control-ping"),
        pytest.param(signup_name_from_email, "the welcome mail for countess@example.org greets "
                     "'Countess', not 'Ada Lovelace'", "that name is made from the address; a "
                     "name need not match its address", id="r2-name-from-email"),
        pytest.param(signup_first_name_only, "the welcome mail for countess@example.org greets "
                     "'Ada', not 'Ada Lovelace'", "greet by the whole name, as it is",
                     id="r2-first-name-only"),
        # adversary round 3
        pytest.param(signup_name_from_email, "the welcome mail for countess@example.org greets "
                     "'Countess', not 'Ada Lovelace'", "that name is made from the address; a "
                     "name need not match its address", id="r3-name-from-email"),
        pytest.param(signup_time_limit, "signup queued the mail with time_limit=1: a time "
                     "limit of 1 s on a mail the server takes 2 s to send: the embedded worker "
                     "does not enforce it, but a prefork worker kills every welcome mail",
                     "leave out time_limit", id="r3-time-limit-1s"),
        pytest.param(signup_soft_time_limit, "signup queued the mail with soft_time_limit=1: "
                     "a soft time limit of 1 s", "leave out soft_time_limit",
                     id="r3-soft-time-limit-1s"),
        pytest.param(signup_ignore_result, "signup queued the mail with ignore_result=True: "
                     "the worker sends the mail but stores no result, so the task's state can "
                     "never be read by its id", "leave out ignore_result: the caller polls the "
                     "task by its id", id="r3-ignore-result"),
        pytest.param(signup_no_publish_retry, "signup queued the mail with retry=False: a "
                     "broker hiccup while publishing fails the request", "leave out retry",
                     id="r3-no-publish-retry"),
        pytest.param(signup_fixed_task_id, "signup chose the mail task's id itself "
                     "('welcome-grace@example.com'): a task id must be unique",
                     "leave out task_id: Celery gives every task a new random id",
                     id="r3-fixed-task-id"),
        pytest.param(signup_priority, "signup queued the mail with priority=9: an option "
                     "nobody asked for", "leave out priority=...", id="r3-priority-9"),
        pytest.param(signup_kwargs_swapped, "signup('grace@example.com', 'Grace') queued the "
                     "mail to 'Grace', greeting 'grace@example.com': the arguments are "
                     "swapped", "send_welcome_email(to, name) takes the address first",
                     id="r3-kwargs-swapped"),
        # adversary round 4
        pytest.param(signup_r4_retry_policy_0, "signup queued the mail with retry_policy="
                     "{'max_retries': 0}: an option nobody asked for", "leave out "
                     "retry_policy=...", id="r4-retry-policy-0"),
        pytest.param(signup_soft_time_limit, "signup queued the mail with soft_time_limit=1",
                     "leave out soft_time_limit", id="r4-soft-time-limit"),
        pytest.param(signup_r4_eta_now, "signup('grace@example.com', 'Grace') queued the mail "
                     "with eta=datetime.datetime(", "queue it with send_welcome_email.delay(...)",
                     id="r4-eta-now"),
        pytest.param(signup_r4_uuid5_task_id, "signup chose the mail task's id itself",
                     "leave out task_id", id="r4-uuid5-task-id"),
        pytest.param(signup_r4_md5_task_id, "signup chose the mail task's id itself",
                     "leave out task_id", id="r4-md5-task-id"),
        pytest.param(signup_r4_fallback_inline, DOWN + "signup('alan@example.net', 'Alan "
                     "Turing') sent the mail itself, in this process", LET_IT,
                     id="r4-fallback-inline"),
        pytest.param(signup_r4_swallow_publish_error, DOWN + "signup('alan@example.net', 'Alan "
                     "Turing') returned None: no mail was queued, and nobody is told", LET_IT,
                     id="r4-swallow-publish-error"),
        pytest.param(signup_r4_current_app, "signup sent the mail through celery.current_app: "
                     + CURRENT_APP, "send with the course's objects", id="r4-current-app"),
        pytest.param(signup_r4_global_dedup, "signup('grace@example.com', 'Grace'), called a "
                     "second time", "send the mail on every call", id="r4-global-dedup"),
        pytest.param(signup_r4_inspect_active, "signup asked the workers (active) and waited "
                     "for their replies", "queue the mail and answer at once",
                     id="r4-inspect-active"),
        pytest.param(signup_r4_transient, "signup queued the mail with delivery_mode=1: an "
                     "option nobody asked for", "leave out delivery_mode=...",
                     id="r4-transient-delivery"),
        pytest.param(signup_r4_shadow, "signup queued the mail with shadow='welcome-mail': an "
                     "option nobody asked for", "leave out shadow=...", id="r4-shadow-name"),
        pytest.param(signup_thread_not_worker, "but sent no task to the worker", "queue the "
                     "course's send_welcome_email with .delay(...)",
                     id="r4-thread-instead-of-queue"),
        pytest.param(signup_r4_shared_producer, "signup sent the mail with the producer (or "
                     "connection) an earlier call used", "leave out producer=...",
                     id="r4-shared-global-producer"),
    ],
)  # fmt: skip
def test_01_2_wrong_answers(signup: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("01.2", signup), problem, hint)


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_a_wrong_answer_sends_no_mail() -> None:
    """The check holds the mails back until signup has answered: a wrong signup's mails are
    never sent (no second welcome mail, nothing to a queue no worker reads)."""
    from course_tasks.tasks import email

    time.sleep(0.3)  # the first user's mail of an earlier test's answer (right for that user)
    email.clear_outbox()
    for signup in (signup_sends_twice, signup_wrong_queue, signup_hardcoded_address):
        assert not verdict("01.2", signup).passed
    time.sleep(0.3)
    assert [m["to"] for m in email.outbox()] == ["grace@example.com"]  # hardcoded's first


# --------------------------------------------------------------------------- 01.3


def status_right(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result}


def status_none_until_ready(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.status, "result": handle.result if handle.ready() else None}


def status_error_text(task_id: str) -> dict[str, Any]:
    handle = AsyncResult(task_id, app=app)
    if handle.failed():
        return {"state": handle.state, "result": repr(handle.result)}
    return {"state": handle.state, "result": handle.info}


def status_get_when_ready(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    value = handle.get(propagate=False, timeout=1) if handle.ready() else None
    return {"state": handle.state, "result": value}


def status_stub(task_id: str) -> Any:
    """The state and the result of the task with this id, as plain values."""
    ...


def status_returns_handle(task_id: str) -> Any:
    return app.AsyncResult(task_id)


def status_blocks(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result if handle.ready() else handle.get()}


def status_waits_a_little(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.get(timeout=0.5)}


def status_treats_id_as_handle(task_id: Any) -> dict[str, Any]:
    return {"state": task_id.state, "result": task_id.result}


def status_wrong_key(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"status": handle.state, "result": handle.result}


def status_state_only(task_id: str) -> str:
    return app.AsyncResult(task_id).state


def status_busy_loop(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    deadline = time.monotonic() + 0.5
    while not handle.ready() and time.monotonic() < deadline:
        pass
    return {"state": handle.state, "result": handle.result}


def status_never_answers(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    if not handle.ready():
        threading.Event().wait(6)  # for the queued task, a wait the check cannot see
    return {"state": handle.state, "result": handle.result}


def status_error_dropped(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": None if handle.failed() else handle.result}


# adversary round 1


def status_get(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.get(timeout=5)}  # waits


def status_short_get(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    try:
        value = handle.get(timeout=0.3)  # waits 0.3 s on a pending task
    except CeleryTimeoutError:
        value = None
    return {"state": handle.state, "result": value}


def status_poll_loop(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    for _ in range(5):  # polls up to 0.5 s
        if handle.ready():
            break
        time.sleep(0.1)
    return {"state": handle.state, "result": handle.result}


def status_ready_only(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    state = "SUCCESS" if handle.ready() else "PENDING"  # FAILURE/STARTED/RETRY misreported
    return {"state": state, "result": handle.result}


def status_raises_on_failure(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    value = handle.get(timeout=1) if handle.ready() else None  # re-raises a failed task's error
    return {"state": handle.state, "result": value}


_seen: dict[str, Any] = {}


def status_cached(task_id: str) -> dict[str, Any]:
    if task_id not in _seen:  # first answer cached for ever: a PENDING task stays PENDING
        handle = app.AsyncResult(task_id)
        _seen[task_id] = {"state": handle.state, "result": handle.result}
    return _seen[task_id]


def status_forget(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    answer = {"state": handle.state, "result": handle.result}
    if handle.ready():
        handle.forget()  # "clean up": the next poll says PENDING
    return answer


def status_str_result(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": str(handle.result)}  # "42", "None"


def status_falsy_none(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result or None}  # 0, "", [] become None


def status_handle_as_result(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle}  # not a plain value


def status_ready_bool(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.ready(), "result": handle.result}  # True/False, not the state


# adversary round 2


def status_str_unless_success(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    result = handle.result if handle.successful() else str(handle.result)  # PENDING: "None"
    return {"state": handle.state, "result": result}


def status_traceback(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.traceback if handle.failed() else handle.result}


def status_exception_name(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    result = type(handle.result).__name__ if handle.failed() else handle.result
    return {"state": handle.state, "result": result}


def status_started_as_pending(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    if handle.ready():
        return {"state": handle.state, "result": handle.result}
    return {"state": "PENDING", "result": None}  # a running task too


@functools.lru_cache(maxsize=1024)
def _cached_status(task_id: str) -> tuple[str, Any]:
    handle = app.AsyncResult(task_id)
    return handle.state, handle.result


def status_lru_cache(task_id: str) -> dict[str, Any]:
    state, result = _cached_status(task_id)  # a polled queued task stays PENDING
    return {"state": state, "result": result}


def status_asks_workers(task_id: str) -> dict[str, Any]:
    replies = app.control.inspect(timeout=1).query_task(task_id) or {}
    for answer in replies.values():
        if task_id in answer and answer[task_id][0] == "active":
            return {"state": "STARTED", "result": None}
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result}


def status_json_text(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    result = handle.result
    if isinstance(result, Exception):
        result = str(result)
    return {"state": handle.state, "result": json.dumps(result)}  # 42 becomes "42"


def status_new_app(task_id: str) -> dict[str, Any]:
    from celery import Celery

    reader = Celery("status", backend=app.conf.result_backend)  # a new app on every request
    handle = reader.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result}


# adversary round 3

_final: dict[str, Any] = {}


def status_cache_non_pending(task_id: str) -> dict[str, Any]:
    if task_id in _final:  # "only PENDING can still change": STARTED is served for ever
        return _final[task_id]
    handle = app.AsyncResult(task_id)
    answer = {"state": handle.state, "result": handle.result}
    if answer["state"] != "PENDING":
        _final[task_id] = answer
    return answer


def status_r3_get_when_ready(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    if handle.ready():  # get() never waits here, but the exercise rules it out
        return {"state": handle.state, "result": handle.get(timeout=1, propagate=False)}
    return {"state": handle.state, "result": None}


def status_r3_short_get(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    try:
        value = handle.get(timeout=0.05, propagate=False)
    except CeleryTimeoutError:
        value = None
    return {"state": handle.state, "result": value}


def status_r3_traceback(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    if handle.failed():
        return {"state": handle.state, "result": handle.traceback}
    return {"state": handle.state, "result": handle.result}


def status_repr_exception(task_id: str) -> dict[str, Any]:
    # judged right: repr(exc) is the exception's text with its type, as the text allows
    handle = app.AsyncResult(task_id)
    result = handle.result
    return {"state": handle.state,
            "result": repr(result) if isinstance(result, Exception) else result}  # fmt: skip


def status_r3_started_as_pending(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    if not handle.ready():
        return {"state": "PENDING", "result": None}
    return {"state": handle.state, "result": handle.result}


def status_r3_fresh_app(task_id: str) -> dict[str, Any]:
    from celery import Celery

    other = Celery("status", set_as_current=False)
    handle = other.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result}


def status_asyncresult_with_app(task_id: str) -> dict[str, Any]:
    handle = AsyncResult(task_id, app=app)  # the course's app, named
    return {"state": handle.state, "result": handle.result}


def status_task_asyncresult(task_id: str) -> dict[str, Any]:
    handle = add.AsyncResult(task_id)  # a task's AsyncResult: the task's app, the course's
    return {"state": handle.state, "result": handle.result}


# adversary round 4


def status_r4_current_app(task_id: str) -> dict[str, Any]:
    handle = AsyncResult(task_id)  # no app=: Celery's current app, per thread
    return {"state": handle.state, "result": handle.result}


def status_r4_raw_backend_json(task_id: str) -> dict[str, Any]:
    raw = app.backend.get(app.backend.get_key_for_task(task_id))
    if raw is None:
        return {"state": "PENDING", "result": None}
    meta = json.loads(raw)
    return {"state": meta["status"], "result": meta["result"]}


_r4_finished: dict[str, Any] = {}


def status_r4_cache_finished(task_id: str) -> dict[str, Any]:
    if task_id in _r4_finished:  # still answers once the result expired
        return _r4_finished[task_id]
    handle = app.AsyncResult(task_id)
    answer = {"state": handle.state, "result": handle.result}
    if handle.ready():
        _r4_finished[task_id] = answer
    return answer


def status_r4_forget_failures(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    answer = {"state": handle.state, "result": handle.result}
    if handle.failed():
        handle.forget()
    return answer


def status_r4_inspect_query(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    if not handle.ready():
        replies = app.control.inspect(timeout=0.3).query_task(task_id) or {}
        for tasks in replies.values():
            if task_id in tasks:
                return {"state": "STARTED", "result": None}
    return {"state": handle.state, "result": handle.result}


def status_r4_none_unless_success(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result if handle.successful() else None}


def test_01_3_right_answer() -> None:
    assert verdict("01.3", status_right).line() == (
        "✓ 01.3 a task's status from its id: passed (SUCCESS with 42 and with 0, FAILURE with "
        "its error, STARTED, PENDING for a queued task, SUCCESS once each of the last two "
        "finished, and PENDING once a result expired, each read without waiting, from a thread "
        "of its own)"
    )


@pytest.mark.parametrize(
    "status_of",
    [
        pytest.param(status_none_until_ready, id="none-until-ready"),
        pytest.param(status_error_text, id="error-text"),
        pytest.param(status_repr_exception, id="r3-repr-exception"),
        pytest.param(status_asyncresult_with_app, id="asyncresult-with-app"),
        pytest.param(status_task_asyncresult, id="task-asyncresult"),
    ],
)
def test_01_3_other_right_answers(status_of: Any) -> None:
    assert_passed(verdict("01.3", status_of))


def test_01_3_stub() -> None:
    assert failed("01.3", status_stub) == (
        "not yet: write the body of status_of, run that cell, then this one"
    )


def test_01_3_blocks_on_a_queued_task_and_is_released() -> None:
    assert failed("01.3", status_never_answers) == (
        "for a task still waiting in a queue, status_of did not return within 5 s. Hint: it "
        "waited for something: read the state and result, which never wait: the client asks "
        "again later"
    )
    assert failed("01.3", status_blocks).startswith(
        "for a task still waiting in a queue, status_of waited for the task (it called get() on it)"
    )
    for thread in threading.enumerate():  # the status_of still waiting, until its 6 s are up
        if thread.name == ch01.THREAD_NAME:
            thread.join(10)


def test_01_3_leaves_no_parked_queue() -> None:
    assert verdict("01.3", status_right).passed
    with app.connection_for_write() as conn, pytest.raises(ChannelError, match="NOT_FOUND"):
        conn.default_channel.queue_declare(ch01.PARKING_QUEUE, passive=True)


STATUS_GET = "status_of called get() on the task (the exercise rules get() out, even on a finished"
STATUS_GET_HINT = "did you call .get()? It waits until the task finishes, which may be never"
FAILED = "for add(2, 'x'), which failed (TypeError: unsupported operand type(s) for +: 'int' and "
SHAPE_HINT = 'return both the state and the result, as {"state": ..., "result": ...}'


@pytest.mark.parametrize(
    ("status_of", "problem", "hint"),
    [
        pytest.param(status_returns_handle, "for add(20, 22), finished, status_of returned the "
                     "AsyncResult itself", "return plain values a status endpoint can send as "
                     'json: {"state": ..., "result": ...}', id="returns-handle"),
        pytest.param(status_waits_a_little, STATUS_GET, STATUS_GET_HINT, id="get-timeout"),
        pytest.param(status_treats_id_as_handle, "status_of raised AttributeError: 'str' "
                     "object has no attribute 'state'", "task_id is a plain str: make a result "
                     "handle from it first, with the app", id="id-as-handle"),
        pytest.param(status_wrong_key, "for add(20, 22), finished, the dict's keys are "
                     "'result', 'status'", 'use exactly the keys "state" and "result" (Celery '
                     'calls it the state: "state", not "status")', id="status-key"),
        pytest.param(status_state_only, "for add(20, 22), finished, status_of returned a str "
                     "('SUCCESS'), not a dict", SHAPE_HINT, id="state-only"),
        pytest.param(status_busy_loop, "for a task still waiting in a queue, status_of read "
                     "its state again and again (7 times), waiting for it to change",
                     "read it once and answer with what the backend says now", id="busy-loop"),
        pytest.param(status_error_dropped, FAILED + "'str'), status_of said result=None",
                     "put the task's exception (result.result), or its text, under \"result\"",
                     id="error-dropped"),
        # adversary round 1
        pytest.param(status_get, STATUS_GET, STATUS_GET_HINT, id="get"),
        pytest.param(status_short_get, STATUS_GET, STATUS_GET_HINT, id="short-get"),
        pytest.param(status_poll_loop, "for a task still waiting in a queue, status_of waited "
                     "before answering (it called time.sleep(0.1))", "read the state and "
                     "result, which never wait", id="poll-loop"),
        pytest.param(status_ready_only, FAILED + "'str'), status_of said state='SUCCESS', not "
                     "'FAILURE'", "ready() is true for a failed task too", id="ready-only"),
        pytest.param(status_raises_on_failure, STATUS_GET, STATUS_GET_HINT,
                     id="raises-on-failure"),
        pytest.param(status_cached, "for the queued task, asked again after it finished with "
                     "2, status_of said state='PENDING', not 'SUCCESS'", "read the state from "
                     "the result backend on every call", id="cached"),
        pytest.param(status_forget, "after status_of answered for add(20, 22), finished, its "
                     "result was gone from the result backend (forget())", "only read the "
                     "result: it expires by itself", id="forget"),
        pytest.param(status_str_result, "for add(20, 22), finished, status_of said "
                     "result='42'", "put the task's return value under \"result\", as it is",
                     id="str-result"),
        pytest.param(status_falsy_none, "for add(0, 0), finished with 0, status_of said "
                     "result=None", "give the result as it is: 0 is a result too",
                     id="falsy-none"),
        pytest.param(status_handle_as_result, "for add(20, 22), finished, status_of said "
                     "result=<AsyncResult: ", "put the task's return value under \"result\"",
                     id="handle-as-result"),
        pytest.param(status_ready_bool, "for add(20, 22), finished, status_of said state=True, "
                     "not 'SUCCESS'", "make the handle from the id you are given",
                     id="ready-bool"),
        # adversary round 2
        pytest.param(status_str_unless_success, "for a task still waiting in a queue, "
                     "status_of said result='None'", 'a queued task is "PENDING" and has no '
                     "result yet (None)", id="r2-str-unless-success"),
        pytest.param(status_traceback, FAILED + "'str'), status_of said result='Traceback "
                     "(most recent call last)", "put the task's exception (result.result), or "
                     "its text", id="r2-traceback-text"),
        pytest.param(status_exception_name, FAILED + "'str'), status_of said "
                     "result='TypeError'", "put the task's exception (result.result), or its "
                     "text", id="r2-exception-name"),
        pytest.param(status_started_as_pending, "for a task a worker has started, status_of "
                     "said state='PENDING', not 'STARTED'", "report result.state as it is "
                     "('STARTED')", id="r2-started-as-pending"),
        pytest.param(status_lru_cache, "for the queued task, asked again after it finished "
                     "with 2, status_of said state='PENDING', not 'SUCCESS'", "read the state "
                     "from the result backend on every call", id="r2-lru-cache"),
        pytest.param(status_asks_workers, "for add(20, 22), finished, status_of asked the "
                     "workers (query_task) and waited for their replies", "the result backend "
                     "has the state", id="r2-asks-workers"),
        pytest.param(status_json_text, "for add(20, 22), finished, status_of said "
                     "result='42'", "put the task's return value under \"result\", as it is",
                     id="r2-json-text"),
        pytest.param(status_new_app, "for add(20, 22), finished, status_of made a new Celery "
                     "app (status) to read it", "read with the course's app, made once: "
                     "app.AsyncResult(task_id)", id="r2-new-app-per-call"),
        # adversary round 3
        pytest.param(status_cache_non_pending, "for the started task, asked again after it "
                     "finished with 5, status_of said state='STARTED', not 'SUCCESS'",
                     "read the state from the result backend on every call",
                     id="r3-cache-non-pending"),
        pytest.param(status_r3_get_when_ready, "for add(20, 22), finished, " + STATUS_GET,
                     STATUS_GET_HINT, id="r3-get-when-ready"),
        pytest.param(status_get_when_ready, STATUS_GET, STATUS_GET_HINT,
                     id="get-when-ready"),
        pytest.param(status_r3_short_get, STATUS_GET, STATUS_GET_HINT, id="r3-short-get"),
        pytest.param(status_r3_traceback, FAILED + "'str'), status_of said result='Traceback "
                     "(most recent call last)", "put the task's exception (result.result), or "
                     "its text", id="r3-traceback-text"),
        pytest.param(status_r3_started_as_pending, "for a task a worker has started, status_of "
                     "said state='PENDING', not 'STARTED'", "report result.state as it is "
                     "('STARTED')", id="r3-started-as-pending"),
        pytest.param(status_r3_fresh_app, "for add(20, 22), finished, status_of made a new "
                     "Celery app (status) to read it", "read with the course's app, made once",
                     id="r3-fresh-app"),
        # adversary round 4
        pytest.param(status_r4_current_app, "status_of read the task through "
                     "celery.current_app (AsyncResult(task_id) without app=, say): "
                     + CURRENT_APP, "read with the course's app: app.AsyncResult(task_id)",
                     id="r4-current-app-asyncresult"),
        pytest.param(status_r4_raw_backend_json, FAILED + "'str'), status_of said "
                     "result={'exc_type': 'TypeError'", "put the task's exception "
                     "(result.result), or its text", id="r4-raw-backend-json"),
        pytest.param(status_r3_traceback, FAILED + "'str'), status_of said result='Traceback "
                     "(most recent call last)", "put the task's exception (result.result)",
                     id="r4-traceback-as-result"),
        pytest.param(status_r4_cache_finished, "for add(20, 22), asked again after its result "
                     "expired from the backend, status_of said state='SUCCESS', not 'PENDING'",
                     "read the state from the result backend on every call: a result expires "
                     "(result_expires)", id="r4-global-cache-finished"),
        pytest.param(status_busy_loop, "for a task still waiting in a queue, status_of read "
                     "its state again and again", "read it once and answer with what the "
                     "backend says now", id="r4-busy-wait-200ms"),
        pytest.param(status_r4_forget_failures, "after status_of answered for add(2, 'x'), "
                     "which failed", "only read the result: it expires by itself",
                     id="r4-forget-failures"),
        pytest.param(status_r4_inspect_query, "for a task still waiting in a queue, status_of "
                     "asked the workers (query_task) and waited for their replies",
                     "the result backend has the state", id="r4-inspect-query-task"),
        pytest.param(status_r4_none_unless_success, FAILED + "'str'), status_of said "
                     "result=None", "put the task's exception (result.result), or its text",
                     id="r4-none-unless-success"),
        pytest.param(status_r3_started_as_pending, "for a task a worker has started, status_of "
                     "said state='PENDING', not 'STARTED'", "report result.state as it is "
                     "('STARTED')", id="r4-started-as-pending"),
    ],
)  # fmt: skip
def test_01_3_wrong_answers(status_of: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("01.3", status_of), problem, hint)


# --------------------------------------------------------------------------- 01.4


def welcome_right(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name)


def welcome_apply_async_json(user: Any) -> Any:
    fields = asdict(user)
    return send_welcome_email.apply_async(
        kwargs={"to": fields["email"], "name": fields["name"]}, serializer="json"
    )


def welcome_stub(user: Any) -> Any:
    """Send the welcome mail for `user` to the worker; return the AsyncResult."""
    ...


def welcome_forgets_return(user: Any) -> None:
    send_welcome_email.delay(user.email, user.name)


def welcome_waits_then_returns(user: Any) -> Any:
    handle = send_welcome_email.delay(user.email, user.name)
    handle.get(timeout=10)
    return handle


# adversary round 1


def welcome_object(user: Any) -> Any:
    return send_welcome_email.delay(user, user.name)  # the object itself: not json


def welcome_asdict(user: Any) -> Any:
    return send_welcome_email.delay(asdict(user), user.name)  # a dict as the address


def welcome_splat(user: Any) -> Any:
    return send_welcome_email.delay(**asdict(user))  # id/email are not the task's params


def welcome_str_user(user: Any) -> Any:
    return send_welcome_email.delay(str(user), user.name)  # the repr as the address


def welcome_user_id(user: Any) -> Any:
    return send_welcome_email.delay(user.id, user.name)  # the id where the address goes


def welcome_returns_id(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name).id  # id, not the AsyncResult


def welcome_get(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name).get(timeout=5)  # the mail dict


def welcome_plain_call(user: Any) -> Any:
    return send_welcome_email(user.email, user.name)  # runs here


def welcome_apply_eager(user: Any) -> Any:
    return send_welcome_email.apply((user.email, user.name))  # EagerResult, never serialized


def welcome_hardcoded(user: Any) -> Any:
    return send_welcome_email.delay("lin@example.com", user.name)  # matches one user only


def welcome_name_dropped(user: Any) -> Any:
    return send_welcome_email.delay(user.email, "")  # name lost


def welcome_hardcoded_name(user: Any) -> Any:
    return send_welcome_email.delay(user.email, "Lin")  # every user is greeted as Lin


def welcome_pickle_fields(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), serializer="pickle")


def welcome_other_task(user: Any) -> Any:
    return send_email.delay(user.email, "Welcome!", f"Hello {user.name}")  # another task


def welcome_pickle(user: Any) -> Any:
    return send_welcome_email.apply_async((user, user.name), serializer="pickle")  # refused


# adversary round 2


def welcome_first_name_only(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name.split()[0])


def welcome_short_expiry(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), expires=3)


def welcome_name_from_email(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.email.split("@")[0].title())


def welcome_str_user_as_name(user: Any) -> Any:
    return send_welcome_email.delay(user.email, str(user))  # "User(id=7, ...)" greeted


def welcome_signature_only(user: Any) -> Any:
    return send_welcome_email.s(user.email, user.name)  # never sent


def welcome_thread(user: Any) -> Any:
    threading.Thread(target=send_welcome_email, args=(user.email, user.name), daemon=True).start()
    return app.AsyncResult(str(uuid.uuid4()))


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_right_answer() -> None:
    assert verdict("01.4", welcome_right).line() == (
        "✓ 01.4 only json travels: passed (sent with json arguments for two users, and again "
        "for the first; the worker delivered the mails to lin@example.com and "
        "rear.admiral@example.com; with the broker down, the error reached the caller)"
    )
    assert_passed(verdict("01.4", welcome_apply_async_json))
    assert_passed(verdict("01.4", welcome_pooled_producer))
    assert_passed(verdict("01.4", welcome_raises_its_own_error))


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_stub_and_missing_return() -> None:
    assert failed("01.4", welcome_stub) == (
        "not yet: write the body of welcome, run that cell, then this one"
    )
    assert failed("01.4", welcome_forgets_return) == (
        "welcome returned None. Hint: end it with a return statement: return the AsyncResult"
    )


# adversary round 3


def welcome_r3_returns_id(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name).id


def welcome_r3_first_name(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name.split()[0])


def welcome_user_id_task_id(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), task_id=str(user.id))


def welcome_display_name(user: Any) -> Any:
    return send_welcome_email.delay(f"{user.name} <{user.email}>", user.name)


def welcome_ignore_result(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), ignore_result=True)


def welcome_r3_str_user(user: Any) -> Any:
    return send_welcome_email.delay(user.email, str(user))


_welcomed: dict[str, Any] = {}


def welcome_memo_by_domain(user: Any) -> Any:
    key = user.email.split("@")[1]  # the second user, at the same domain, gets no mail
    if key not in _welcomed:
        _welcomed[key] = send_welcome_email.delay(user.email, user.name)
    return _welcomed[key]


def welcome_capitalize(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name.capitalize())


def welcome_pooled_producer(user: Any) -> Any:
    with app.producer_or_acquire() as producer:  # from the pool, given back after the call
        return send_welcome_email.apply_async((user.email, user.name), producer=producer)


def welcome_raises_its_own_error(user: Any) -> Any:
    try:
        return send_welcome_email.delay(user.email, user.name)
    except OperationalError as exc:
        raise SignupFailed(f"no welcome mail for user {user.id}") from exc


# adversary round 4


def welcome_r4_send_email(user: Any) -> Any:
    return send_email.delay(user.email, "Welcome!", f"Hello {user.name}, thanks for signing up.")


def welcome_r4_user_json_as_name(user: Any) -> Any:
    return send_welcome_email.delay(user.email, json.dumps(asdict(user)))


def welcome_r4_expires(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), expires=3600)


def welcome_r4_current_app(user: Any) -> Any:
    from celery import current_app

    return current_app.send_task(send_welcome_email.name, (user.email, user.name))


_r4_welcomed: dict[int, Any] = {}


def welcome_r4_global_dedup(user: Any) -> Any:
    if user.id in _r4_welcomed:  # per process; a second welcome returns the old handle
        return _r4_welcomed[user.id]
    _r4_welcomed[user.id] = send_welcome_email.delay(user.email, user.name)
    return _r4_welcomed[user.id]


def welcome_r4_task_id_user_id(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), task_id=f"welcome-{user.id}")


def welcome_r4_soft_time_limit(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), soft_time_limit=1)


def welcome_r4_retry_false(user: Any) -> Any:
    return send_welcome_email.apply_async((user.email, user.name), retry=False)


def welcome_r4_swallow_publish_error(user: Any) -> Any:
    try:
        return send_welcome_email.delay(user.email, user.name)
    except Exception:  # the caller never learns the mail was not sent
        return None


LIN = "for User(id=7, email='lin@example.com', name='Lin'), "
HOPPER = "for User(id=12, email='rear.admiral@example.com', name='Grace Hopper'), "
ADDRESS_HINT = "send it to the user's email address"
PICKLED = (
    "welcome sent the task as pickle (serializer='pickle'): the course's worker accepts only "
    "json (accept_content) and refuses the message (ContentDisallowed), so the mail is never sent"
)
PICKLE_HINT = "leave the serializer as it is (json) and send the user's plain fields"
GET = "welcome waited for the mail (it called get() on the task)"
GET_HINT = "return the handle itself, what .delay() gives back, without waiting"


@pytest.mark.usefixtures("fast_smtp")
@pytest.mark.parametrize(
    ("welcome", "problem", "hint"),
    [
        pytest.param(welcome_waits_then_returns, GET, GET_HINT, id="waits-then-returns"),
        # adversary round 1
        pytest.param(welcome_object, "the task message could not be encoded (Object of type "
                     "User is not JSON serializable)", "only json travels to the worker: send "
                     "the user's plain fields (strings), not the User object", id="object"),
        pytest.param(welcome_asdict, LIN + "welcome addressed the mail to {'id': 7, ",
                     ADDRESS_HINT, id="asdict"),
        pytest.param(welcome_splat, "sending the mail task failed (TypeError: "
                     "send_welcome_email() got an unexpected keyword argument 'id')",
                     "send_welcome_email takes two plain values: the address and the user's "
                     "name", id="splat"),
        pytest.param(welcome_str_user, LIN + "welcome addressed the mail to \"User(id=7, "
                     "email='lin@example.com', name='Lin')\", not to 'lin@example.com'",
                     ADDRESS_HINT, id="str-user"),
        pytest.param(welcome_user_id, LIN + "welcome addressed the mail to 7, not to "
                     "'lin@example.com'", ADDRESS_HINT, id="user-id"),
        pytest.param(welcome_returns_id, "welcome returned the task's id (a str), not the "
                     "AsyncResult", "return the handle itself, what .delay() gives back",
                     id="returns-id"),
        pytest.param(welcome_get, GET, GET_HINT, id="get"),
        pytest.param(welcome_plain_call, "welcome sent the mail itself, in this process: it "
                     "called the task like a function", "send the task to the worker and "
                     "return what that returns", id="plain-call"),
        pytest.param(welcome_apply_eager, "what welcome returned is an EagerResult: the task "
                     "ran here, in this process, not on the worker", ".apply() runs a task "
                     "locally", id="apply-eager"),
        pytest.param(welcome_hardcoded, HOPPER + "welcome addressed the mail to "
                     "'lin@example.com', not to 'rear.admiral@example.com'", ADDRESS_HINT,
                     id="hardcoded"),
        pytest.param(welcome_name_dropped, LIN + "the welcome mail greets '', not 'Lin'",
                     "pass the user's name too", id="name-dropped"),
        pytest.param(welcome_hardcoded_name, HOPPER + "the welcome mail greets 'Lin', not "
                     "'Grace Hopper'", "pass the user's name too", id="hardcoded-name"),
        pytest.param(welcome_pickle_fields, PICKLED, PICKLE_HINT, id="pickle-fields"),
        pytest.param(welcome_other_task, "welcome queued send_email, not send_welcome_email",
                     "queue the course's send_welcome_email task", id="other-task"),
        pytest.param(welcome_pickle, PICKLED, PICKLE_HINT, id="pickle"),
        # adversary round 2
        pytest.param(welcome_first_name_only, HOPPER + "the welcome mail greets 'Grace', not "
                     "'Grace Hopper'", "greet by the whole name, as it is",
                     id="r2-first-name-only"),
        pytest.param(welcome_short_expiry, "welcome queued the mail with expires=3: when every "
                     "worker is busy for longer than that", "leave out expires",
                     id="r2-expires-3s"),
        pytest.param(welcome_name_from_email, HOPPER + "the welcome mail greets "
                     "'Rear.Admiral', not 'Grace Hopper'", "that name is made from the address",
                     id="r2-name-from-email"),
        pytest.param(welcome_asdict, LIN + "welcome addressed the mail to {'id': 7, ",
                     ADDRESS_HINT, id="r2-dict-as-to"),
        pytest.param(welcome_user_id, LIN + "welcome addressed the mail to 7, not to "
                     "'lin@example.com'", ADDRESS_HINT, id="r2-id-as-address"),
        pytest.param(welcome_signature_only, "welcome returned a signature (course_tasks.tasks."
                     "email.send_welcome_email(", "send the task (send_welcome_email.delay(...)) "
                     "and return what that returns", id="r2-signature-only"),
        pytest.param(welcome_str_user_as_name, LIN + "the welcome mail greets \"User(id=7, ",
                     "pass the user's name too", id="r2-str-user-as-name"),
        pytest.param(welcome_pickle_fields, PICKLED, PICKLE_HINT, id="r2-pickle-serializer"),
        pytest.param(welcome_thread, "but sent no task to the worker", "queue the course's "
                     "send_welcome_email with .delay(...)", id="r2-thread-not-worker"),
        # adversary round 3
        pytest.param(welcome_r3_returns_id, "welcome returned the task's id (a str), not the "
                     "AsyncResult", "return the handle itself", id="r3-returns-id"),
        pytest.param(welcome_r3_first_name, HOPPER + "the welcome mail greets 'Grace', not "
                     "'Grace Hopper'", "greet by the whole name, as it is", id="r3-first-name"),
        pytest.param(welcome_user_id_task_id, "welcome chose the mail task's id itself ('7'): "
                     "a task id must be unique", "leave out task_id: Celery gives every task a "
                     "new random id", id="r3-user-id-as-task-id"),
        pytest.param(welcome_display_name, LIN + "welcome addressed the mail to 'Lin "
                     "<lin@example.com>', not to 'lin@example.com'", ADDRESS_HINT,
                     id="r3-display-name-to"),
        pytest.param(welcome_ignore_result, "welcome queued the mail with ignore_result=True: "
                     "the worker sends the mail but stores no result", "leave out "
                     "ignore_result", id="r3-ignore-result"),
        pytest.param(welcome_r3_str_user, LIN + "the welcome mail greets \"User(id=7, ",
                     "pass the user's name too", id="r3-str-user"),
        pytest.param(welcome_memo_by_domain, "but sent no task to the worker", "queue the "
                     "course's send_welcome_email with .delay(...)", id="r3-memo-by-domain"),
        pytest.param(welcome_capitalize, HOPPER + "the welcome mail greets 'Grace hopper', not "
                     "'Grace Hopper'", "pass the user's name too", id="r3-capitalize"),
        # adversary round 4
        pytest.param(welcome_ignore_result, "welcome queued the mail with "
                     "ignore_result=True", "leave out ignore_result", id="r4-ignore-result"),
        pytest.param(welcome_r4_send_email, "welcome queued send_email, not send_welcome_email",
                     "queue the course's send_welcome_email task", id="r4-send-email-same-text"),
        pytest.param(welcome_name_from_email, HOPPER + "the welcome mail greets "
                     "'Rear.Admiral', not 'Grace Hopper'", "that name is made from the address",
                     id="r4-name-from-email"),
        pytest.param(welcome_r4_user_json_as_name, LIN + "the welcome mail greets '{\"id\": 7, ",
                     "pass the user's name too", id="r4-user-json-as-name"),
        pytest.param(welcome_r4_expires, "welcome queued the mail with expires=3600",
                     "leave out expires", id="r4-expires-3600"),
        pytest.param(welcome_r4_current_app, "welcome sent the mail through celery.current_app: "
                     + CURRENT_APP, "send with the course's objects",
                     id="r4-current-app-send-task"),
        pytest.param(welcome_r4_global_dedup, "welcome(User(id=7, email='lin@example.com', "
                     "name='Lin')), called a second time", "send the mail on every call",
                     id="r4-global-dedup"),
        pytest.param(welcome_r4_task_id_user_id, "welcome chose the mail task's id itself "
                     "('welcome-7')", "leave out task_id", id="r4-task-id-user-id"),
        pytest.param(welcome_r4_soft_time_limit, "welcome queued the mail with "
                     "soft_time_limit=1", "leave out soft_time_limit", id="r4-soft-time-limit"),
        pytest.param(welcome_r4_retry_false, "welcome queued the mail with retry=False",
                     "leave out retry", id="r4-retry-false"),
        pytest.param(welcome_r4_swallow_publish_error, DOWN + "welcome(User(id=31, "
                     "email='alan@example.net', name='Alan Turing')) returned None: no mail was "
                     "queued, and nobody is told", LET_IT, id="r4-swallow-publish-error"),
    ],
)  # fmt: skip
def test_01_4_wrong_answers(welcome: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("01.4", welcome), problem, hint)


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_a_pickled_message_never_reaches_the_worker() -> None:
    from course_tasks.tasks import email

    time.sleep(0.3)  # the first user's mail of an earlier test's answer (right for that user)
    email.clear_outbox()
    assert not verdict("01.4", welcome_pickle_fields).passed
    time.sleep(0.3)
    assert email.outbox() == []
