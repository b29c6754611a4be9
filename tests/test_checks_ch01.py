"""The checks of chapter 01: each fed the right answer and every known wrong one.

They run against the embedded worker, like a learner's notebook in the default mode.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import asdict
from typing import Any

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from kombu.exceptions import ChannelError

from course_tasks import app
from course_tasks.checks import Outcome, evaluate
from course_tasks.checks import ch01_concepts as ch01
from course_tasks.tasks.basics import add, multiply
from course_tasks.tasks.email import send_welcome_email

pytestmark = pytest.mark.usefixtures("worker")

NOT_YET = "not yet: replace the ... with your code, run that cell, then this one"
POINTS = {"01.1": 1, "01.2": 2, "01.3": 2, "01.4": 1}


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


def test_01_1_stub() -> None:
    assert failed("01.1", ...) == NOT_YET


def test_01_1_plain_int_from_calling_add() -> None:
    assert failed("01.1", add(2, 3)) == (
        "got a plain int (5), not an AsyncResult. Hint: did you call add(2, 3) (or .get() "
        "the value) instead of keeping what add.delay(2, 3) returns?"
    )


def test_01_1_the_task_itself_or_its_method() -> None:
    assert failed("01.1", add) == (
        "result is the task add itself, not a result. Hint: send it to the worker with its "
        "arguments and keep what that returns"
    )
    assert failed("01.1", add.delay) == (
        "result is a method, not the result of calling it. Hint: call it (with the task's "
        "arguments) and keep what it returns"
    )


def test_01_1_task_id_instead_of_the_handle() -> None:
    assert failed("01.1", add.delay(2, 3).id) == (
        "got a str (a task id?), not an AsyncResult. Hint: keep the whole handle that "
        "sending returns: it has .get() and .state"
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


def test_01_1_ran_locally_with_apply() -> None:
    assert failed("01.1", add.apply((2, 3))) == (
        "result is an EagerResult: the task ran here, in this process, not on the worker. "
        "Hint: .apply() runs a task locally; send it to the worker instead"
    )


def test_01_1_sent_to_a_queue_no_worker_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ch01, "WAIT_SECONDS", 0.5)
    parked = add.apply_async((2, 3), queue="test-ch01-nobody")
    try:
        assert failed("01.1", parked) == (
            "the task is still PENDING after 0.5 s. Hint: no worker took it: did you send it "
            "to a queue that no worker reads (queue=...)? Is the worker running (the set-up "
            "cell)?"
        )
    finally:
        with app.connection_for_write() as conn:
            app.amqp.queues["test-ch01-nobody"].bind(conn.default_channel).delete()


# --------------------------------------------------------------------------- 01.2


def signup_right(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    return task.id


def signup_stub(email: str, name: str) -> Any:
    """Handle a sign-up: queue the welcome mail, answer with the task id."""
    ...


def signup_calls_directly(email: str, name: str) -> Any:
    return send_welcome_email(email, name)


def signup_returns_handle(email: str, name: str) -> Any:
    return send_welcome_email.delay(email, name)


def signup_wrong_address(email: str, name: str) -> str:
    return send_welcome_email.delay("ada@example.com", name).id


def signup_forgets_name(email: str, name: str) -> str:
    return send_welcome_email.delay(email, "there").id


def signup_forgets_return(email: str, name: str) -> None:
    send_welcome_email.delay(email, name)


def signup_waits(email: str, name: str) -> str:
    task = send_welcome_email.delay(email, name)
    task.get(timeout=5)
    return task.id


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


def signup_other_task(email: str, name: str) -> str:
    return add.delay(1, 2).id


def signup_made_up_id(email: str, name: str) -> str:
    return "not-a-task-id"


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_right_answer() -> None:
    outcome = verdict("01.2", signup_right)
    assert outcome.line() == (
        "✓ 01.2 queue the welcome mail: passed (answered with a task id at once; the worker "
        "delivered the mail to grace@example.com)"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_stub_and_missing_return() -> None:
    assert failed("01.2", signup_stub) == (
        "not yet: write the body of signup, run that cell, then this one"
    )
    assert failed("01.2", signup_forgets_return) == (
        "signup returned None. Hint: end it with a return statement: return the task id"
    )
    assert failed("01.2", ...) == NOT_YET


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_sends_the_mail_itself() -> None:
    assert failed("01.2", signup_calls_directly) == (
        "signup returned the delivered message (a dict): it waited for the mail server. "
        "Hint: did you call send_welcome_email(...) directly, or wait with .get()? Queue "
        "the task and return at once"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_returns_the_handle_not_the_id() -> None:
    assert failed("01.2", signup_returns_handle) == (
        "signup returned an AsyncResult, not the task id. Hint: a web handler answers with "
        "json: return the handle's id (a str)"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_wrong_address_and_name() -> None:
    assert failed("01.2", signup_wrong_address) == (
        "signup('grace@example.com', 'Grace') sent the mail to 'ada@example.com'. Hint: "
        "send the mail to the address signup receives, not a fixed one"
    )
    assert failed("01.2", signup_forgets_name) == (
        "the welcome mail does not greet Grace. Hint: pass on the name signup receives as well"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_waits_for_the_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_tasks.tasks import email

    monkeypatch.setattr(email, "SMTP_SECONDS", 0.3)
    assert failed("01.2", signup_waits) == (
        "signup waited for the mail before answering (it called get() on the task). Hint: "
        "queue the mail and return; do not wait for the task to finish"
    )
    assert failed("01.2", signup_waits_quietly) == (
        "signup waited for the mail before answering (it called get() on the task). Hint: "
        "queue the mail and return; do not wait for the task to finish"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_polls_until_the_mail_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_tasks.tasks import email

    monkeypatch.setattr(email, "SMTP_SECONDS", 2.0)  # the mail server's real delay
    assert failed("01.2", signup_polls) == (
        "signup waited for the mail before answering (no answer within 1.5 s). Hint: "
        "queue the mail and return; do not wait for the task to finish"
    )
    for thread in threading.enumerate():  # the signup still polling, until its mail is sent
        if thread.name == "course-check-01":
            thread.join(10)


@pytest.mark.usefixtures("fast_smtp")
def test_01_2_id_of_another_task_or_no_task(monkeypatch: pytest.MonkeyPatch) -> None:
    assert failed("01.2", signup_other_task) == (
        "that id belongs to the task add, not send_welcome_email. Hint: queue the course's "
        "send_welcome_email task"
    )
    monkeypatch.setattr(ch01, "WAIT_SECONDS", 0.3)
    assert failed("01.2", signup_made_up_id) == (
        "the task with the id signup returned ('not-a-task-id') is still PENDING after 0.3 s. "
        "Hint: return the id of the task you queued (its .id)"
    )


def test_01_2_not_a_function() -> None:
    assert failed("01.2", "signup") == (
        "got a str, not a function. Hint: write it as a function: def signup(email, name):"
    )
    assert failed("01.2", send_welcome_email) == (
        "signup is a Celery task. Hint: keep signup a plain function (def signup(email, name):) "
        "that sends the course's task"
    )


# --------------------------------------------------------------------------- 01.3


def status_right(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.result}


def status_stub(task_id: str) -> Any:
    """The state and the result of the task with this id, as plain values."""
    ...


def status_returns_handle(task_id: str) -> Any:
    return app.AsyncResult(task_id)


def status_blocks(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle.get()}


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


def status_result_is_handle(task_id: str) -> dict[str, Any]:
    handle = app.AsyncResult(task_id)
    return {"state": handle.state, "result": handle}


def test_01_3_right_answer() -> None:
    assert verdict("01.3", status_right).line() == (
        "✓ 01.3 a task's status from its id: passed (SUCCESS and 42 for a finished task, "
        "PENDING at once for a queued one)"
    )


def test_01_3_stub() -> None:
    assert failed("01.3", status_stub) == (
        "not yet: write the body of status_of, run that cell, then this one"
    )


def test_01_3_returns_the_handle() -> None:
    assert failed("01.3", status_returns_handle) == (
        "for a task that finished, status_of returned the AsyncResult itself. Hint: return "
        'plain values a status endpoint can send as json: {"state": ..., "result": ...}'
    )


def test_01_3_blocks_on_a_queued_task_and_is_released() -> None:
    assert failed("01.3", status_blocks) == (
        "for a task still waiting in a queue, status_of did not return within 1.5 s. Hint: "
        "did you call .get()? It waits until the task finishes, which may be never; read "
        "the state and result, which never wait"
    )
    # the check finished the parked task, so the learner's blocked call returned
    assert [t for t in threading.enumerate() if t.name == "course-check-call"] == []


def test_01_3_get_with_a_timeout() -> None:
    assert failed("01.3", status_waits_a_little) == (
        "for a task still waiting in a queue, status_of raised TimeoutError. Hint: did you "
        "call .get(timeout=...)? It waits for the task to finish; read the state and result, "
        "which never wait"
    )


def test_01_3_uses_the_id_as_a_handle() -> None:
    assert failed("01.3", status_treats_id_as_handle) == (
        "status_of raised AttributeError: 'str' object has no attribute 'state'. Hint: "
        "task_id is a plain str: make a result handle from it first, with the app"
    )


def test_01_3_wrong_shape() -> None:
    assert failed("01.3", status_wrong_key) == (
        "for a task that finished, the dict's keys are 'result', 'status'. Hint: use exactly "
        'the keys "state" and "result" (Celery calls it the state: "state", not "status")'
    )
    assert failed("01.3", status_state_only) == (
        "for a task that finished, status_of returned a str ('SUCCESS'), not a dict. Hint: "
        'return both the state and the result, as {"state": ..., "result": ...}'
    )
    assert failed("01.3", status_result_is_handle).startswith(
        "for add(20, 22), status_of said result=<AsyncResult: "
    )


def test_01_3_leaves_no_parked_queue() -> None:
    assert verdict("01.3", status_right).passed
    with app.connection_for_write() as conn, pytest.raises(ChannelError, match="NOT_FOUND"):
        conn.default_channel.queue_declare(ch01.PARKING_QUEUE, passive=True)


# --------------------------------------------------------------------------- 01.4


def welcome_right(user: Any) -> Any:
    return send_welcome_email.delay(user.email, user.name)


def welcome_stub(user: Any) -> Any:
    """Send the welcome mail for `user` to the worker; return the AsyncResult."""
    ...


def welcome_sends_object(user: Any) -> Any:
    return send_welcome_email.delay(user, user.name)


def welcome_sends_str_of_object(user: Any) -> Any:
    return send_welcome_email.delay(str(user), user.name)


def welcome_sends_dict_as_kwargs(user: Any) -> Any:
    return send_welcome_email.delay(**asdict(user))


def welcome_sends_id(user: Any) -> Any:
    return send_welcome_email.delay(user.id, user.name)


def welcome_runs_here(user: Any) -> Any:
    return send_welcome_email(user.email, user.name)


def welcome_forgets_return(user: Any) -> None:
    send_welcome_email.delay(user.email, user.name)


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_right_answer() -> None:
    assert verdict("01.4", welcome_right).line() == (
        "✓ 01.4 only json travels: passed (sent with json arguments; the worker delivered "
        "the mail to lin@example.com)"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_stub_and_missing_return() -> None:
    assert failed("01.4", welcome_stub) == (
        "not yet: write the body of welcome, run that cell, then this one"
    )
    assert failed("01.4", welcome_forgets_return) == (
        "welcome returned None. Hint: end it with a return statement: return the AsyncResult"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_sends_the_object() -> None:
    assert failed("01.4", welcome_sends_object) == (
        "the task message could not be encoded (Object of type User is not JSON "
        "serializable). Hint: only json travels to the worker: send the user's plain fields "
        "(strings), not the User object"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_sends_the_wrong_values() -> None:
    assert failed("01.4", welcome_sends_str_of_object) == (
        "the mail went to \"User(id=7, email='lin@example.com', name='Lin')\", not to "
        "'lin@example.com'. Hint: send it to the user's email address"
    )
    assert failed("01.4", welcome_sends_id) == (
        "the mail went to 7, not to 'lin@example.com'. Hint: send it to the user's email address"
    )
    assert failed("01.4", welcome_sends_dict_as_kwargs) == (
        "sending the task failed (TypeError: send_welcome_email() got an unexpected keyword "
        "argument 'id'). Hint: send_welcome_email takes two plain values: the address and "
        "the name"
    )


@pytest.mark.usefixtures("fast_smtp")
def test_01_4_sends_the_mail_itself() -> None:
    assert failed("01.4", welcome_runs_here) == (
        "welcome returned the delivered message (a dict): the mail was sent here. Hint: send "
        "the task to the worker and return what that returns"
    )
