"""The checks of chapter 04: each right answer passes, each known wrong answer gets its hint.

Each exercise: its right answers, then tables of wrong ones (the mistakes the chapter warns
about, and adversary round 1's answers), each with the problem and hint it gets.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import checkhelpers
import pytest
from celery import chain
from celery.exceptions import NotRegistered
from checkhelpers import assert_passed, verdict

from course_tasks import app
from course_tasks.checks import evaluate
from course_tasks.tasks import email
from course_tasks.tasks.basics import add, multiply, subtract
from course_tasks.tasks.email import send_email, send_welcome_email
from course_tasks.tasks.users import create_user, send_welcome

pytestmark = pytest.mark.usefixtures("worker", "fast_smtp")


#: In these tests a hint may stand anywhere in the feedback's hint, not only at its start.
assert_fails = partial(checkhelpers.assert_fails, hint_within=True)


def test_stubs_are_not_yet() -> None:
    for id in ("04.1", "04.2", "04.3", "04.4"):
        assert evaluate(id, ...).feedback.startswith("not yet:"), id


def soon(seconds: float = 0.5) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


MAIL = ("Reminder", "Your call starts in 5 minutes.")

# --------------------------------------------------------------------------- 04.1


def remind(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon())


def remind_countdown(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), countdown=0.5)


def remind_aware_local(to: str) -> Any:
    eta = datetime.now().astimezone() + timedelta(seconds=0.5)  # aware, +08:00 in the check
    return send_email.apply_async((to, *MAIL), eta=eta)


def remind_milliseconds(to: str) -> Any:
    eta = app.now() + timedelta(milliseconds=500)
    return send_email.s(to, *MAIL).apply_async(eta=eta)


def remind_slow_before_sending(to: str) -> Any:
    eta = soon()
    time.sleep(0.3)  # a busy machine between computing the eta and sending it
    return send_email.apply_async((to, *MAIL), eta=eta)


def test_04_1_right_answers() -> None:
    assert_passed(
        verdict("04.1", remind),
        "passed (eta 0.5 s after each call, aware (UTC); the worker delivered both reminders)",
    )
    assert_passed(verdict("04.1", remind_countdown))
    assert_passed(verdict("04.1", remind_milliseconds))
    # judged from the moment remind computed the eta, not from when the message left
    assert_passed(verdict("04.1", remind_slow_before_sending))
    before = os.environ.get("TZ")
    assert_passed(verdict("04.1", remind_aware_local))
    assert os.environ.get("TZ") == before  # the check put the machine's zone back


def remind_stub(to: str) -> Any: ...


def test_04_1_stub() -> None:
    assert evaluate("04.1", remind_stub).feedback.startswith("not yet: write the body of remind")


def remind_forgot(to: str) -> Any:
    to.upper()


def remind_utcnow(to: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        eta = datetime.utcnow() + timedelta(seconds=0.5)
    return send_email.apply_async((to, *MAIL), eta=eta)


def remind_now_naive(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=datetime.now() + timedelta(seconds=0.5))


def remind_local_labelled_utc(to: str) -> Any:
    # passes on a machine whose clock is UTC; the check runs it under Asia/Shanghai
    eta = datetime.now().replace(tzinfo=timezone.utc) + timedelta(seconds=0.5)
    return send_email.apply_async((to, *MAIL), eta=eta)


def remind_shanghai_labelled_utc(to: str) -> Any:
    shanghai = datetime.now(timezone(timedelta(hours=8)))
    eta = shanghai.replace(tzinfo=timezone.utc) + timedelta(seconds=0.5)
    return send_email.apply_async((to, *MAIL), eta=eta)


def remind_past(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(-0.5))


def remind_minutes(to: str) -> Any:
    return send_email.apply_async(
        (to, *MAIL), eta=datetime.now(timezone.utc) + timedelta(minutes=0.5)
    )


def remind_too_soon(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(0.05))


def remind_0_4(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(0.4))


def remind_one_second(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(1))


def remind_0_6(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(0.6))


def remind_whole_seconds(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon().replace(microsecond=0))


def remind_default_eta(to: str, eta: datetime = soon()) -> Any:  # noqa: B008
    return send_email.apply_async((to, *MAIL), eta=eta)


#: An eta computed once, when the module was imported: the same for every call.
MODULE_ETA = soon()


def remind_module_eta(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=MODULE_ETA)


def remind_now(to: str) -> Any:
    return send_email.delay(to, *MAIL)


def remind_sleep_then_delay(to: str) -> Any:
    time.sleep(0.5)
    return send_email.delay(to, *MAIL)


def remind_expires(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), expires=0.5)


def remind_delay_eta(to: str) -> Any:
    return send_email.delay(to, *MAIL, eta=soon())


def remind_signature(to: str) -> Any:
    return send_email.s(to, *MAIL).set(eta=soon())


def remind_no_return(to: str) -> Any:
    send_email.apply_async((to, *MAIL), eta=soon())


def remind_direct(to: str) -> Any:
    return send_email(to, *MAIL)


def remind_local(to: str) -> Any:
    return send_email.apply(args=(to, *MAIL), eta=soon())


def remind_waits(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon()).get(timeout=10)


def remind_welcome(to: str) -> Any:
    return send_welcome_email.apply_async((to, "Ada"), eta=soon())


def remind_fixed(to: str) -> Any:
    return send_email.apply_async(("ops@example.com", *MAIL), eta=soon())


def remind_swapped(to: str) -> Any:
    return send_email.apply_async((MAIL[0], to, MAIL[1]), eta=soon())


def remind_two_args(to: str) -> Any:
    return send_email.apply_async((to, "Reminder"), eta=soon())


NAIVE = "the eta is a naive datetime (no time zone)"
LABELLED = "the eta is +8.0 h away: it is the local time (Asia/Shanghai here) labelled as UTC"
NO_ETA = "the reminder was sent without an eta: the worker runs it at once"
COMPUTED_ONCE = "remind gave both of its calls the same eta"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(remind_forgot, "remind sent nothing (it returned None)", "apply_async(",
                     id="sends-nothing"),
        pytest.param(remind_utcnow, NAIVE, "datetime.utcnow() is deprecated", id="utcnow-naive"),
        pytest.param(remind_now_naive, NAIVE, "datetime.now() is the machine's local time",
                     id="now-naive"),
        pytest.param(remind_local_labelled_utc, LABELLED,
                     "Take the time in UTC: datetime.now(timezone.utc)", id="local-labelled-utc"),
        pytest.param(remind_shanghai_labelled_utc, LABELLED, ".replace(tzinfo=timezone.utc) "
                     "only relabels it", id="shanghai-labelled-utc"),
        pytest.param(remind_past, "the eta is in the past", "do not subtract it", id="past"),
        pytest.param(remind_minutes, "the eta is 30.0 s after remind was called, not 0.5 s",
                     "minutes=0.5 is 30 s", id="minutes"),
        pytest.param(remind_too_soon, "the eta is only 0.0", "check the unit", id="0.05-s"),
        pytest.param(remind_0_4, "the eta is only 0.4", "check the unit", id="0.4-s"),
        pytest.param(remind_one_second, "the eta is 1.", "now + timedelta(seconds=0.5)",
                     id="one-second"),
        pytest.param(remind_0_6, "the eta is 0.6", "now + timedelta(seconds=0.5)", id="0.6-s"),
        pytest.param(remind_whole_seconds, "the eta is in whole seconds",
                     "no .replace(microsecond=0)", id="whole-seconds"),
        pytest.param(remind_default_eta, COMPUTED_ONCE, "not as a default argument",
                     id="default-arg-eta"),
        pytest.param(remind_module_eta, COMPUTED_ONCE, "or a variable outside it",
                     id="module-level-eta"),
        pytest.param(remind_now, NO_ETA, "pass eta=datetime.now(timezone.utc)", id="no-eta"),
        pytest.param(remind_sleep_then_delay, NO_ETA, "pass eta=", id="sleep-then-delay"),
        pytest.param(remind_expires, NO_ETA, "pass eta=", id="expires"),
        pytest.param(remind_delay_eta, "sending raised TypeError",
                     "delay() hands every keyword to the task", id="eta-to-delay"),
        pytest.param(remind_signature, "remind returned a signature", "sent with .delay()",
                     id="signature"),
        pytest.param(remind_no_return, "returned None", "return the AsyncResult", id="no-return"),
        pytest.param(remind_direct, "returned the delivered mail", "send_email.apply_async(",
                     id="direct-call"),
        pytest.param(remind_local, "returned an EagerResult", ".apply() runs a task locally",
                     id="apply"),
        pytest.param(remind_waits, "remind waited for the reminder (.get() on its result)",
                     "return the AsyncResult at once", id="waits"),
        pytest.param(remind_welcome, "remind sent send_welcome_email, not send_email",
                     "send_email(", id="welcome-task"),
        pytest.param(remind_fixed, "mailed 'ops@example.com'", "the address remind receives",
                     id="fixed-address"),
        pytest.param(remind_swapped, "remind('reminder-check@example.com') mailed 'Reminder'",
                     "the address remind receives", id="swapped-args"),
        pytest.param(remind_two_args, "your code raised TypeError", None, id="two-args"),
    ],
)  # fmt: skip
def test_04_1_wrong_answers(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("04.1", answer), problem, hint)


# --------------------------------------------------------------------------- 04.2


def call_by_name(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args)


def call_by_name_list(name: str, *args: Any) -> Any:
    return app.send_task(name, list(args), {})


def test_04_2_right_answers() -> None:
    assert_passed(
        verdict("04.2", call_by_name),
        "passed (subtract and describe_request by name got their arguments as given; an "
        "unknown name and a call with one argument too many failed on the worker)",
    )
    assert_passed(verdict("04.2", call_by_name_list))


def call_by_name_stub(name: str, *args: Any) -> Any: ...


def test_04_2_stub() -> None:
    assert evaluate("04.2", call_by_name_stub).feedback.startswith("not yet: write the body")


def call_by_name_no_return(name: str, *args: Any) -> Any:
    app.send_task(name, args=args)


def call_by_name_registry(name: str, *args: Any) -> Any:
    return app.tasks[name].delay(*args)


def call_by_name_registry_fallback(name: str, *args: Any) -> Any:
    task = app.tasks.get(name)
    if task is not None:
        return task.delay(*args)
    return app.send_task(name, args=args)


def call_by_name_signature(name: str, *args: Any) -> Any:
    # app.signature(name) uses this process's task when it has one (Signature.type)
    return app.signature(name, args=args).delay()


def call_by_name_run_here(name: str, *args: Any) -> Any:
    return app.tasks[name](*args)


def call_by_name_apply_here(name: str, *args: Any) -> Any:
    return app.tasks[name].apply(args=args)


def call_by_name_apply_known(name: str, *args: Any) -> Any:
    if name in app.tasks:
        return app.tasks[name].apply(args=args)
    return app.send_task(name, args=args)


def call_by_name_validates(name: str, *args: Any) -> Any:
    if name not in app.tasks:
        raise NotRegistered(name)
    return app.send_task(name, args=args)


def call_by_name_nested(name: str, *args: Any) -> Any:
    return app.send_task(name, args=[args])


def call_by_name_positional(name: str, *args: Any) -> Any:
    return app.send_task(name, *args)


def call_by_name_always_subtract(name: str, *args: Any) -> Any:
    return app.send_task(subtract.name, args=args)


def call_by_name_task_id(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args).id


def call_by_name_waits(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args).get(timeout=5)


def call_by_name_waits_finished(name: str, *args: Any) -> Any:
    """get() once the task has finished: what an immediate get() is when the worker wins."""
    result = app.send_task(name, args=args)
    deadline = time.monotonic() + 10
    while result.state not in ("SUCCESS", "FAILURE") and time.monotonic() < deadline:
        time.sleep(0.01)
    return result.get(timeout=5)


def call_by_name_kwargs_xy(name: str, *args: Any) -> Any:
    return app.send_task(name, kwargs=dict(zip(("x", "y"), args, strict=False)))


def call_by_name_other_queue(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, queue="service")


def call_by_name_ignore_result(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, ignore_result=True)


def call_by_name_expires(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, expires=1)


def call_by_name_countdown(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, countdown=0.1)


def call_by_name_reversed(name: str, *args: Any) -> Any:
    return app.send_task(name, args=list(reversed(args)))


IN_THE_CALLER = "call_by_name('subtract', 50, 8, 1) raised TypeError here, in the caller"
NO_TASK_CODE = "a separate service does not have the task's code"
FIRST = "call_by_name('subtract', 50, 8)"
DESCRIBE = "call_by_name('describe_request', 'ada', 3, 0, '', 3)"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(call_by_name_no_return, "returned None", "return the AsyncResult",
                     id="no-return"),
        pytest.param(call_by_name_registry, "raised NotRegistered here, in the caller, for "
                     "no_such_task", "you looked the task up in this process", id="registry"),
        pytest.param(call_by_name_registry_fallback, IN_THE_CALLER, NO_TASK_CODE,
                     id="registry-fallback"),
        pytest.param(call_by_name_signature, IN_THE_CALLER, "app.signature(name) use this "
                     "process's task", id="app-signature"),
        pytest.param(call_by_name_run_here, "returned a plain int: the task ran here",
                     "app.send_task", id="run-here"),
        pytest.param(call_by_name_apply_here, "returned an EagerResult", "app.send_task",
                     id="apply-here"),
        pytest.param(call_by_name_apply_known, "returned an EagerResult", "app.send_task",
                     id="apply-local"),
        pytest.param(call_by_name_validates, "raised NotRegistered here, in the caller",
                     NO_TASK_CODE, id="validates"),
        pytest.param(call_by_name_nested, "failed on the worker (TypeError", "not args=[args]",
                     id="nested-args"),
        pytest.param(call_by_name_positional, "task args must be a list or tuple", "args=args)",
                     id="positional"),
        pytest.param(call_by_name_always_subtract, f"{DESCRIBE} sent subtract, not "
                     "describe_request", "the task whose name you are given", id="fixed-name"),
        pytest.param(call_by_name_task_id, "returned a str, not an AsyncResult", "the task id",
                     id="task-id"),
        pytest.param(call_by_name_waits, FIRST, "do not wait for the value", id="waits"),
        # a get() once it has finished, or its sleep while it had not (a race: both are waits)
        pytest.param(call_by_name_waits_finished, f"{FIRST} waited for the task",
                     "do not wait for the value", id="waits-finished"),
        pytest.param(call_by_name_kwargs_xy, f"{DESCRIBE} reached the task as args=[], "
                     "kwargs={'x': 'ada', 'y': 3}",
                     "positionally: args=args", id="kwargs-xy"),
        pytest.param(call_by_name_other_queue, f"the task {FIRST} sent is still PENDING after "
                     "5 s", "Did you send it to another queue?", id="other-queue"),
        pytest.param(call_by_name_ignore_result, f"{FIRST} sent the task with "
                     "ignore_result=True", "send just the name and the arguments",
                     id="ignore-result"),
        pytest.param(call_by_name_expires, f"{FIRST} gave the task an expiry (expires)",
                     "add no option the exercise does not ask for", id="expires-1"),
        pytest.param(call_by_name_countdown, f"{FIRST} delayed the task",
                     "send just the name and the arguments", id="countdown"),
        pytest.param(call_by_name_reversed, f"{FIRST} gave -42, not 42",
                     "keep the arguments in their order", id="reversed"),
    ],
)  # fmt: skip
def test_04_2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.2", answer), problem, hint)


# --------------------------------------------------------------------------- 04.3


def register(name: str, email: str) -> Any:
    user = create_user(name, email)
    return send_welcome.delay(user.id)


def register_apply_async(name: str, email: str) -> Any:
    user_id = create_user(name, email).id
    return send_welcome.s(user_id).apply_async()


def test_04_3_right_answers() -> None:
    assert_passed(
        verdict("04.3", register),
        "passed (one user created; the welcome mail was queued with its id and delivered)",
    )
    assert_passed(verdict("04.3", register_apply_async))


def register_stub(name: str, email: str) -> Any:
    """Create the user and queue the welcome mail."""
    ...


def test_04_3_stub() -> None:
    assert evaluate("04.3", register_stub).feedback.startswith(
        "not yet: write the body of register"
    )


def register_no_return(name: str, email: str) -> Any:
    send_welcome.delay(create_user(name, email).id)


def register_object(name: str, email: str) -> Any:
    return send_welcome.delay(create_user(name, email))


def register_dict(name: str, email: str) -> Any:
    return send_welcome.delay(asdict(create_user(name, email)))


def register_email(name: str, email: str) -> Any:
    return send_welcome.delay(create_user(name, email).email)


def register_email_only(name: str, email: str) -> Any:
    create_user(name, email)
    return send_welcome.delay(email)


def register_str_id(name: str, email: str) -> Any:
    return send_welcome.delay(str(create_user(name, email).id))


def register_guide_000(name: str, email: str) -> Any:
    user = create_user(name, email)
    return send_welcome.delay(user.id, user.email)


def register_no_user(name: str, email: str) -> Any:
    return send_welcome.delay(987654)


def register_fixed_user(name: str, email: str) -> Any:
    return send_welcome.delay(create_user("Ada", "ada@example.com").id)


def register_swapped(name: str, email: str) -> Any:
    return send_welcome.delay(create_user(email, name).id)


def register_twice(name: str, email: str) -> Any:
    create_user(name, email)
    return send_welcome.delay(create_user(name, email).id)


def register_old_task(name: str, email: str) -> Any:
    create_user(name, email)
    return send_welcome_email.delay(email, name)


def register_send_email(name: str, email: str) -> Any:
    user = create_user(name, email)
    return send_email.delay(user.email, "Welcome!", f"Hello {user.name}")


def register_direct(name: str, email: str) -> Any:
    return send_welcome(create_user(name, email).id)


def register_local(name: str, email: str) -> Any:
    return send_welcome.apply(args=(create_user(name, email).id,))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(register_no_return, "queued the mail but returned None",
                     "return the AsyncResult", id="no-return"),
        pytest.param(register_object, "could not encode the argument", "pass user.id",
                     id="object"),
        pytest.param(register_dict, "received a dict, not an id", "asdict(user)", id="dict"),
        pytest.param(register_email, "received a str, not an id", "you passed the email",
                     id="user-email"),
        pytest.param(register_email_only, "received a str, not an id", "you passed the email",
                     id="email-as-id"),
        pytest.param(register_str_id, "send_welcome received the id as a str",
                     "str(user.id) is text", id="str-id"),
        pytest.param(register_guide_000, "sending raised TypeError", "takes one argument",
                     id="guide-000-arguments"),
        pytest.param(register_no_user, "found no such user", "create_user(name, email)",
                     id="no-user"),
        pytest.param(register_fixed_user, "the mail went to user", "arguments register",
                     id="fixed-user"),
        pytest.param(register_swapped, "register created the user with the name and the "
                     "address swapped", "the name first", id="swapped"),
        pytest.param(register_twice, "register created 2 users for one sign-up",
                     "call create_user(name, email) once", id="twice"),
        pytest.param(register_old_task, "sent send_welcome_email, not users.send_welcome",
                     "the id", id="welcome-email-by-address"),
        pytest.param(register_send_email, "sent send_email, not users.send_welcome", "the id",
                     id="send-email-by-address"),
        pytest.param(register_direct, "returned the delivered mail", "send_welcome.delay(",
                     id="direct-call"),
        pytest.param(register_local, "returned an EagerResult", ".apply() runs",
                     id="apply-here"),
    ],
)  # fmt: skip
def test_04_3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.3", answer), problem, hint)


def register_waits(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    result.get(timeout=10)
    return result


def test_04_3_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mail server takes its time here (as in the notebook), so the mail is not done
    when register asks for it."""
    monkeypatch.setattr(email, "SMTP_SECONDS", 0.5)
    assert_fails(
        verdict("04.3", register_waits),
        "register waited for the welcome mail (.get() on its result) before returning",
        "return the AsyncResult at once",
    )


# --------------------------------------------------------------------------- 04.4


def test_04_4_right_answers() -> None:
    assert_passed(verdict("04.4", add.s(10).set(countdown=0.3)), "gave 15")
    assert_passed(verdict("04.4", add.signature((10,), countdown=0.3)))


@app.task(name="test_checks_ch04.add")
def notebook_add(x: float, y: float) -> float:
    return x + y


def test_04_4_sent_already() -> None:
    assert_fails(
        verdict("04.4", add.apply_async((10, 5), countdown=0.3)),
        "ten_plus is an AsyncResult",
        "add.s(...)",
    )


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(add(10, 5), "ten_plus is a plain int", "add.s(...)", id="called"),
        pytest.param("add", "ten_plus is a str, not a signature", "add.s(...)", id="str"),
        pytest.param(multiply.s(10).set(countdown=0.3), "a signature of multiply, not add",
                     "add.s(...)", id="multiply"),
        pytest.param(subtract.s(10).set(countdown=0.3), "a signature of subtract, not add",
                     "add.s(...)", id="subtract"),
        pytest.param(notebook_add.s(10).set(countdown=0.3), "ten_plus is a signature of "
                     "test_checks_ch04.add, another task called add",
                     "from course_tasks.tasks.basics import add", id="own-add"),
        pytest.param(chain(add.s(10).set(countdown=0.3)), "a signature of chain, not add",
                     "add.s(...)", id="one-step-chain"),
        pytest.param(add.s(10, countdown=0.3), "countdown is in the task's keyword arguments",
                     ".set(countdown=...)", id="countdown-kwarg"),
        pytest.param(add.s(10, 5).set(countdown=0.3), "already holds 2 arguments (10, 5)",
                     "give it only the 10", id="not-partial"),
        pytest.param(add.s(5).set(countdown=0.3), "holds the arguments (5,)",
                     "the 5 comes when", id="holds-5"),
        pytest.param(add.s(y=10).set(countdown=0.3), "holds the arguments (), not (10,)",
                     "the 5 comes when", id="kw-y"),
        pytest.param(add.signature(kwargs={"y": 10}, countdown=0.3),
                     "holds the arguments (), not (10,)", "the 5 comes when",
                     id="signature-kw-y"),
        pytest.param(add.si(10).set(countdown=0.3), "ten_plus is immutable", "use .s(10)",
                     id="immutable"),
        pytest.param(add.s(10), "no countdown in its options", ".set(countdown=...)",
                     id="no-countdown"),
        pytest.param(add.s(10).set(eta=soon(0.3)), "carries an eta", ".set(countdown=...)",
                     id="fixed-eta"),
        pytest.param(add.s(10).set(countdown=300), "countdown is 300", "counts seconds",
                     id="countdown-300"),
        pytest.param(add.s(10).set(countdown=3), "countdown is 3, not 0.3", "counts seconds",
                     id="countdown-3"),
        pytest.param(add.s(10).set(expires=0.3), "no countdown in its options",
                     ".set(countdown=...)", id="expires"),
        pytest.param(add.s(10).set(countdown=0.3, expires=0.3),
                     "ten_plus also carries expires=0.3", "carry only the countdown",
                     id="expires-too"),
        pytest.param(add.s(10).set(countdown=0.3, queue="math"),
                     "ten_plus also carries queue='math'", "carry only the countdown",
                     id="queue"),
    ],
)  # fmt: skip
def test_04_4_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.4", answer), problem, hint)


# --------------------------------------------------------------------------- round 2
# Adversary round 2's answers (.adversary/ch04_r2.py), each with the problem and hint it gets
# (an answer the same as one above is that one).


def r2_remind_utcnow_astimezone(to: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        eta = datetime.utcnow().astimezone(timezone.utc) + timedelta(seconds=0.5)
    return send_email.apply_async((to, *MAIL), eta=eta)


def r2_remind_truncated_now(to: str) -> Any:
    eta = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=0.5)
    return send_email.apply_async((to, *MAIL), eta=eta)


def r2_remind_half_a_day(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=datetime.now(timezone.utc) + timedelta(0.5))


def r2_remind_email_queue(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(), queue="email")


def r2_remind_eta_string(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon().isoformat())


def r2_remind_expires_too(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(), expires=0.6)


def test_04_1_round2_right_answers() -> None:
    # an aware ISO string: Celery puts it in the eta header as it is, the same header an
    # aware datetime gives (and the one countdown=0.5 gives, which the text allows too)
    assert_passed(verdict("04.1", r2_remind_eta_string))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(remind_local_labelled_utc, LABELLED, ".replace(tzinfo=timezone.utc) only "
                     "relabels it", id="local-now-labelled-utc"),
        pytest.param(r2_remind_utcnow_astimezone, "it is the UTC time read as local time",
                     ".astimezone() takes a naive time for the machine's local time",
                     id="utcnow-astimezone"),
        pytest.param(r2_remind_truncated_now, "the eta is 0.5 s after a whole second",
                     "no .replace(microsecond=0)", id="whole-seconds"),
        pytest.param(r2_remind_half_a_day, "the eta is 43200.0 s after remind was called",
                     "check the unit", id="timedelta-days"),
        pytest.param(r2_remind_email_queue, "remind sent the reminder with queue='email': a "
                     "destination of its own choosing", "add no option the exercise does not "
                     "ask for", id="email-queue"),
        pytest.param(r2_remind_expires_too, "the reminder carries an expiry (expires=",
                     "schedule it with eta= alone", id="expires-too-short"),
    ],
)  # fmt: skip
def test_04_1_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.1", answer), problem, hint)


def r2_call_by_name_default_queue(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, queue="celery")


def r2_call_by_name_expires(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, expires=60)


def r2_call_by_name_time_limit(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, time_limit=10)


def r2_call_by_name_current_app(name: str, *args: Any) -> Any:
    from celery import current_app

    return current_app.send_task(name, args=args)


def r2_call_by_name_stringified(name: str, *args: Any) -> Any:
    return app.send_task(name, args=[str(a) for a in args])


def r2_call_by_name_priority(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, priority=0)


NO_OPTION = "add no option the exercise does not ask for"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r2_call_by_name_default_queue, "call_by_name sent a task that the app "
                     "routes to the queue 'course-check-04-routed' (task_routes) to 'celery'",
                     "send_task routes each name as the app's task_routes say",
                     id="forced-default-queue"),
        pytest.param(r2_call_by_name_expires, f"{FIRST} gave the task an expiry (expires)",
                     NO_OPTION, id="extra-expires"),
        pytest.param(r2_call_by_name_time_limit, f"{FIRST} gave the task a time limit",
                     NO_OPTION, id="extra-time-limit"),
        pytest.param(r2_call_by_name_current_app, "call_by_name sent the task through "
                     "celery.current_app", "from course_tasks import app", id="current-app"),
        pytest.param(r2_call_by_name_stringified, f"{FIRST} failed on the worker (TypeError",
                     "not turned into text", id="stringified-args"),
        pytest.param(r2_call_by_name_priority, f"{FIRST} gave the task a priority", NO_OPTION,
                     id="extra-priority"),
    ],
)  # fmt: skip
def test_04_2_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.2", answer), problem, hint)


def r2_register_by_address(name: str, email: str) -> Any:
    user = create_user(name, email)
    return send_welcome_email.delay(user.email, user.name)


def r2_register_chain(name: str, email: str) -> Any:
    from course_tasks.tasks.users import register_user

    return (register_user.s(name, email) | send_welcome.s()).delay()


def r2_register_apply(name: str, email: str) -> Any:
    return send_welcome.apply((create_user(name, email).id,))


def r2_register_guessed_id(name: str, email: str) -> Any:
    from course_tasks.store import store
    from course_tasks.tasks.users import LAST_ID_KEY

    next_id = int(store().get(LAST_ID_KEY) or 0) + 1
    result = send_welcome.apply_async((next_id,), countdown=0.2)
    create_user(name, email)
    return result


def r2_register_pickle(name: str, email: str) -> Any:
    user = create_user(name, email)
    return send_welcome.apply_async(kwargs={"user_id": user.id}, serializer="pickle")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r2_register_by_address, "register sent send_welcome_email, not "
                     "users.send_welcome", "it takes the id and loads the user",
                     id="welcome-email-by-address"),
        pytest.param(r2_register_chain, "register sent register_user, not users.send_welcome",
                     "it takes the id and loads the user", id="chain-create-in-worker"),
        pytest.param(r2_register_apply, "register returned an EagerResult",
                     "send_welcome.delay(user.id)", id="apply-here"),
        pytest.param(r2_register_guessed_id, "before that user existed: the id was guessed",
                     "create the user first", id="queue-before-create"),
        pytest.param(r2_register_pickle, "the welcome mail is still PENDING after 10 s",
                     'with another serializer than json (serializer="pickle"), which the '
                     "worker refuses", id="pickle-serializer"),
    ],
)  # fmt: skip
def test_04_3_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.3", answer), problem, hint)


def r2_frozen() -> Any:
    signature = add.s(10).set(countdown=0.3)
    signature.freeze()
    return signature


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(add.s(10).set(eta=soon(0.3)), "carries an eta", ".set(countdown=...)",
                     id="eta-at-build-time"),
        pytest.param(r2_frozen(), "ten_plus carries a fixed task_id", "don't freeze the "
                     "signature", id="frozen-task-id"),
        pytest.param(add.s(y=10).set(countdown=0.3), "holds the arguments (), not (10,)",
                     "the 5 comes when", id="keyword-y"),
        pytest.param(add.s(10).set(countdown=0.3, queue="celery"),
                     "ten_plus also carries queue='celery'", "carry only the countdown",
                     id="extra-queue"),
        pytest.param(add.signature((10,), countdown=0.3, retry=True),
                     "ten_plus also carries retry=True", "carry only the countdown",
                     id="extra-retry-option"),
        pytest.param(add.s(10, countdown=0.3), "countdown is in the task's keyword arguments",
                     ".set(countdown=...)", id="countdown-as-kwarg"),
    ],
)  # fmt: skip
def test_04_4_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.4", answer), problem, hint)


@pytest.mark.xfail(strict=True, reason="out of reach: the signature is the right one")
def test_04_4_round2_sent_it_itself() -> None:
    """The answer cell also runs ten_plus.delay(5) once (the text says not to). What the
    check receives is the right signature; the add(5, 10) sent before the check is one of
    the notebook's add calls, which the check cannot tell from the others."""
    ten_plus = add.s(10).set(countdown=0.3)
    ten_plus.delay(5).get(timeout=5)
    assert_fails(verdict("04.4", ten_plus), "ten_plus was already sent", "Do not send it")


# --------------------------------------------------------------------------- round 3
# Adversary round 3's answers (.adversary/ch04_r3.py), every one, each with the problem and
# hint it gets (an answer the same as one above is that one), and the right answers that the
# round's fixes must leave passing.


def r3_remind_fromtimestamp_labelled_utc(to: str) -> Any:
    eta = datetime.fromtimestamp(time.time()).replace(tzinfo=timezone.utc)  # noqa: DTZ006
    return send_email.apply_async((to, *MAIL), eta=eta + timedelta(seconds=0.5))


def r3_remind_fifty_ms(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(0.05))


def r3_remind_point_eight(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(0.8))


def r3_remind_welcome_task(to: str) -> Any:
    return send_welcome_email.apply_async((to, "Reminder"), eta=soon())


def r3_remind_expires_at_eta(to: str) -> Any:
    eta = soon()
    return send_email.apply_async((to, *MAIL), eta=eta, expires=eta + timedelta(seconds=0.3))


def r3_remind_no_retry(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(), retry=False)


def r3_remind_default_queue(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(), queue="celery")


def r3_remind_poll_ready(to: str) -> Any:
    result = send_email.apply_async((to, *MAIL), eta=soon())
    while not result.ready():
        time.sleep(0.05)
    return result


_R3_FIRST_ETA: list[datetime] = []


def r3_remind_cached_eta(to: str) -> Any:
    if not _R3_FIRST_ETA:
        _R3_FIRST_ETA.append(soon())
    return send_email.apply_async((to, *MAIL), eta=_R3_FIRST_ETA[0])


def remind_busy_poll(to: str) -> Any:
    result = send_email.apply_async((to, *MAIL), eta=soon())
    while result.state == "PENDING":  # no sleep: the second read is the loop
        pass
    return result


def remind_own_sleep_after(to: str) -> Any:
    from time import sleep

    result = send_email.apply_async((to, *MAIL), eta=soon())
    sleep(1)
    return result


def remind_null_countdown(to: str) -> Any:
    return send_email.apply_async((to, *MAIL), eta=soon(), countdown=None)


def remind_own_sleep_before(to: str) -> Any:
    from time import sleep

    eta = soon()
    sleep(0.2)  # a busy machine before the send: not a wait for the mail
    return send_email.apply_async((to, *MAIL), eta=eta)


def remind_send_task(to: str) -> Any:
    return app.send_task(send_email.name, args=(to, *MAIL), eta=soon())


def remind_keyword_args(to: str) -> Any:
    return send_email.apply_async(args=(to, *MAIL), kwargs={}, eta=soon())


def remind_signature_set(to: str) -> Any:
    return send_email.s(to, *MAIL).set(countdown=0.5).delay()


def remind_one_look(to: str) -> Any:
    result = send_email.apply_async((to, *MAIL), eta=soon())
    assert not result.ready()  # one look at its state is not a wait
    return result


def test_04_1_round3_right_answers() -> None:
    # the text says so now: an aware datetime's isoformat() is the header Celery would write
    assert_passed(verdict("04.1", r2_remind_eta_string))
    assert_passed(verdict("04.1", remind_own_sleep_before))
    assert_passed(verdict("04.1", remind_send_task))
    assert_passed(verdict("04.1", remind_keyword_args))
    assert_passed(verdict("04.1", remind_signature_set))
    assert_passed(verdict("04.1", remind_one_look))


NO_OTHER = "add no option the exercise does not ask for"
REMIND_WAITED = "remind waited for the reminder"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(remind_local_labelled_utc, LABELLED, ".replace(tzinfo=timezone.utc) "
                     "only relabels it", id="local-now-labelled-utc"),
        pytest.param(r3_remind_fromtimestamp_labelled_utc, LABELLED,
                     "datetime.now() is the machine's local time", id="fromtimestamp-labelled-utc"),
        pytest.param(r2_remind_truncated_now, "the eta is 0.5 s after a whole second",
                     "no .replace(microsecond=0)", id="truncated-to-second"),
        pytest.param(r3_remind_fifty_ms, "the eta is only 0.0", "check the unit", id="fifty-ms"),
        pytest.param(r3_remind_point_eight, "the eta is 0.8", "now + timedelta(seconds=0.5)",
                     id="point-eight"),
        pytest.param(r3_remind_welcome_task, "remind sent send_welcome_email, not send_email",
                     "send_email(", id="welcome-task"),
        pytest.param(r3_remind_expires_at_eta, "the reminder carries an expiry (expires=",
                     "schedule it with eta= alone", id="expires-0.3s-after-eta"),
        pytest.param(r3_remind_cached_eta, COMPUTED_ONCE, "inside remind", id="cached-eta"),
        pytest.param(r3_remind_no_retry, "remind sent the reminder with retry=False: if the "
                     "broker does not answer at once, the message is lost", NO_OTHER,
                     id="no-publish-retry"),
        pytest.param(r3_remind_default_queue, "remind sent the reminder with queue='celery': a "
                     "destination of its own choosing", NO_OTHER, id="queue-celery"),
        pytest.param(r3_remind_poll_ready, f"{REMIND_WAITED} (time.sleep(0.05) after sending it)",
                     "return the AsyncResult at once", id="poll-ready"),
        pytest.param(remind_busy_poll, f"{REMIND_WAITED} (a loop reading its state",
                     "return the AsyncResult at once", id="busy-poll"),
        pytest.param(remind_own_sleep_after, f"{REMIND_WAITED} (time.sleep(1) after sending it)",
                     "return the AsyncResult at once", id="from-time-import-sleep"),
        pytest.param(remind_null_countdown, "remind sent the reminder with countdown=None: an "
                     "option set to None still is one", NO_OTHER, id="countdown-none"),
    ],
)  # fmt: skip
def test_04_1_round3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.1", answer), problem, hint)


def r3_call_by_name_celery_signature(name: str, *args: Any) -> Any:
    from celery import signature

    return signature(name, args=args, app=app).apply_async()


def r3_call_by_name_signature_delay(name: str, *args: Any) -> Any:
    from celery import Signature

    return Signature(name, args=args, app=app).delay()


def r3_call_by_name_no_retry(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, retry=False)


def r3_call_by_name_expires(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, expires=30)


def r3_call_by_name_countdown_zero(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, countdown=0)


def r3_call_by_name_dedupe(name: str, *args: Any) -> Any:
    return app.send_task(name, args=list(dict.fromkeys(args)))


def r3_call_by_name_filter_falsy(name: str, *args: Any) -> Any:
    return app.send_task(name, args=[a for a in args if a])


def r3_call_by_name_routing_key(name: str, *args: Any) -> Any:
    return app.send_task(name, args=args, routing_key="celery")


def call_by_name_polls(name: str, *args: Any) -> Any:
    result = app.send_task(name, args=args)
    while not result.ready():
        time.sleep(0.01)
    return result


def call_by_name_keywords(name: str, *args: Any) -> Any:
    return app.send_task(name=name, args=list(args), kwargs=None)


def test_04_2_round3_right_answers() -> None:
    assert_passed(verdict("04.2", call_by_name_keywords))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r3_call_by_name_celery_signature, IN_THE_CALLER, NO_TASK_CODE,
                     id="celery-signature"),
        pytest.param(r3_call_by_name_signature_delay, IN_THE_CALLER, NO_TASK_CODE,
                     id="Signature-delay"),
        pytest.param(r2_call_by_name_default_queue, "call_by_name sent a task that the app "
                     "routes to the queue 'course-check-04-routed' (task_routes) to 'celery'",
                     "send_task routes each name as the app's task_routes say",
                     id="queue-celery"),
        pytest.param(r3_call_by_name_no_retry, f"{FIRST} sent the task with retry=False: if "
                     "the broker does not answer at once, the message is lost", NO_OTHER,
                     id="retry-false"),
        pytest.param(r3_call_by_name_expires, f"{FIRST} gave the task an expiry (expires)",
                     NO_OTHER, id="expires-30"),
        pytest.param(r3_call_by_name_countdown_zero, f"{FIRST} sent the task with "
                     "countdown=0: a delay (countdown=0 asks for none, and is still an option)",
                     NO_OTHER, id="countdown-zero"),
        pytest.param(r3_call_by_name_dedupe, f"{DESCRIBE} reached the task as "
                     "args=['ada', 3, 0, ''], kwargs={}", "don't drop repeats",
                     id="dedupe-args"),
        pytest.param(call_by_name_ignore_result, f"{FIRST} sent the task with "
                     "ignore_result=True", "send just the name and the arguments",
                     id="ignore-result"),
        pytest.param(r3_call_by_name_filter_falsy, f"{DESCRIBE} reached the task as "
                     "args=['ada', 3, 3], kwargs={}", "don't drop empty or false values",
                     id="filter-falsy"),
        pytest.param(r3_call_by_name_routing_key, f"{FIRST} sent the task with "
                     "routing_key='celery': a destination of its own choosing", NO_OTHER,
                     id="routing-key-celery"),
        pytest.param(r2_call_by_name_priority, f"{FIRST} gave the task a priority", NO_OTHER,
                     id="priority-0"),
        pytest.param(call_by_name_polls, f"{FIRST} waited for the task",
                     "do not wait for the value", id="polls-ready"),
    ],
)  # fmt: skip
def test_04_2_round3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.2", answer), problem, hint)


def r3_register_last_user(name: str, email: str) -> Any:
    from course_tasks.tasks.users import all_users

    create_user(name, email)
    return send_welcome.delay(all_users()[-1].id)


def r3_register_poll_ready(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    while not result.ready():
        time.sleep(0.05)
    return result


def r3_register_sleep(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    time.sleep(2.3)
    return result


def r3_register_peek_get(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    try:  # noqa: SIM105 (the adversary's own spelling)
        result.get(timeout=0.2)
    except Exception:  # noqa: BLE001, S110
        pass
    return result


def r3_register_by_email_lookup(name: str, email: str) -> Any:
    from course_tasks.tasks.users import all_users

    create_user(name, email)
    user = next(u for u in all_users() if u.email == email)
    return send_welcome.delay(user.id)


def register_by_email_last(name: str, email: str) -> Any:
    from course_tasks.tasks.users import all_users

    create_user(name, email)
    return send_welcome.delay([u for u in all_users() if u.email == email][-1].id)


def r3_register_wait_alias(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    result.wait(timeout=5)
    return result


def r3_register_poll_state(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    deadline = time.monotonic() + 5
    while result.state != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def register_busy_poll(name: str, email: str) -> Any:
    result = send_welcome.delay(create_user(name, email).id)
    while not result.ready():
        pass
    return result


def r3_register_via_register_user_task(name: str, email: str) -> Any:
    from course_tasks.tasks.users import register_user

    user_id = register_user.delay(name, email).get(timeout=5)
    return send_welcome.delay(user_id)


def register_module_attribute(name: str, email: str) -> Any:
    from course_tasks.tasks import users

    user = users.create_user(name, email)
    result = users.send_welcome.delay(user.id)
    print(result.state)  # one look is not a wait  # noqa: T201
    return result


def test_04_3_round3_right_answers() -> None:
    assert_passed(verdict("04.3", register_module_attribute))


WELCOME_WAITED = "register waited for the welcome mail"
AT_ONCE = "return the AsyncResult at once"
FOUND_AGAIN = "another account on 'welcome-check@example.com'"
KEEP_IT = "keep what create_user(name, email) returns and pass its .id"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r3_register_last_user, f"{FOUND_AGAIN} that signed up at the same moment",
                     KEEP_IT, id="newest-row"),
        pytest.param(r3_register_by_email_lookup, f"{FOUND_AGAIN} made earlier", KEEP_IT,
                     id="lookup-by-email"),
        pytest.param(register_by_email_last, f"{FOUND_AGAIN} that signed up at the same moment",
                     KEEP_IT, id="lookup-by-email-last"),
        pytest.param(r3_register_poll_ready, f"{WELCOME_WAITED} (time.sleep(0.05) after "
                     "sending it)", AT_ONCE, id="poll-ready"),
        pytest.param(r3_register_sleep, f"{WELCOME_WAITED} (time.sleep(2.3) after sending it)",
                     AT_ONCE, id="sleep-2.3"),
        pytest.param(r3_register_poll_state, f"{WELCOME_WAITED} (time.sleep(0.1) after "
                     "sending it)", AT_ONCE, id="poll-state"),
        pytest.param(register_busy_poll, f"{WELCOME_WAITED} (a loop reading its state", AT_ONCE,
                     id="busy-poll"),
        pytest.param(r3_register_peek_get, f"{WELCOME_WAITED} (.get() on its result)", AT_ONCE,
                     id="peek-get"),
        pytest.param(r3_register_wait_alias, f"{WELCOME_WAITED} (.get() on its result)",
                     AT_ONCE, id="wait-alias"),
        pytest.param(r2_register_by_address, "register sent send_welcome_email, not "
                     "users.send_welcome", "it takes the id and loads the user",
                     id="welcome-email-task"),
        pytest.param(r2_register_apply, "register returned an EagerResult",
                     ".apply() runs a task locally", id="apply-locally"),
        pytest.param(r3_register_via_register_user_task, "register waited for register_user "
                     "(.get() on its result)", "create the user here with "
                     "create_user(name, email)", id="register-user-task-get"),
    ],
)  # fmt: skip
def test_04_3_round3_wrong_answers(
    answer: Any, problem: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the mail server takes its time (as in the notebook): the mail is not done at the first look
    monkeypatch.setattr(email, "SMTP_SECONDS", 0.5)
    assert_fails(verdict("04.3", answer), problem, hint)


NO_OTHER_4 = "carry only the countdown"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(add.s(10).set(countdown=0.3, queue="celery"),
                     "ten_plus also carries queue='celery'", NO_OTHER_4, id="queue-celery"),
        pytest.param(add.s(10).set(countdown=0.3, retry=True), "ten_plus also carries retry=True",
                     NO_OTHER_4, id="retry-true"),
        pytest.param(add.s(10).set(countdown=0.3, eta=None), "ten_plus also carries eta=None "
                     "(set to None, it is still an option)", NO_OTHER_4, id="eta-none"),
        pytest.param(r2_frozen(), "ten_plus carries a fixed task_id", "don't freeze the "
                     "signature", id="frozen"),
        pytest.param(add.s(10).set(eta=soon(0.3)), "ten_plus carries an eta: a fixed moment",
                     ".set(countdown=...)", id="eta-fixed-at-build"),
        pytest.param(add.signature((10,), countdown=0.3, expires=60),
                     "ten_plus also carries expires=60", NO_OTHER_4, id="extra-expires"),
        pytest.param(add.s(10).set(countdown=0.03), "ten_plus's countdown is 0.03, not 0.3",
                     "countdown counts seconds", id="countdown-0.03"),
        pytest.param(add.s(10).set(countdown=0.3, priority=0), "ten_plus also carries "
                     "priority=0", NO_OTHER_4, id="priority-0"),
        pytest.param(add.s(10).set(countdown=0.3, expires=None), "ten_plus also carries "
                     "expires=None (set to None, it is still an option)", NO_OTHER_4,
                     id="expires-none"),
        pytest.param(add.s(y=10).set(countdown=0.3), "holds the arguments (), not (10,)",
                     "the 5 comes when", id="kwarg-y"),
        pytest.param(add.signature(args=(10,)).set(countdown=0.3, kwargs={}),
                     "ten_plus also carries kwargs={}", NO_OTHER_4, id="kwargs-option"),
    ],
)  # fmt: skip
def test_04_4_round3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("04.4", answer), problem, hint)
