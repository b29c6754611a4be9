"""The checks of chapter 04: each right answer passes, each known wrong answer gets its hint."""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import checkhelpers
import pytest
from checkhelpers import assert_passed, verdict

from course_tasks import app
from course_tasks.checks import evaluate
from course_tasks.tasks.basics import add, multiply
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


def test_04_1_right_answers() -> None:
    def remind(to: str) -> Any:
        return send_email.apply_async((to, *MAIL), eta=soon())

    def remind_countdown(to: str) -> Any:
        return send_email.apply_async((to, *MAIL), countdown=0.5)

    assert_passed(verdict("04.1", remind), "passed (eta 0.5 s ahead, aware (UTC)")
    assert_passed(verdict("04.1", remind_countdown))


def test_04_1_stub_and_nothing_sent() -> None:
    def remind(to: str) -> Any: ...

    def forgot(to: str) -> Any:
        to.upper()

    assert evaluate("04.1", remind).feedback.startswith("not yet: write the body of remind")
    assert_fails(verdict("04.1", forgot), "remind sent nothing (it returned None)", "apply_async(")


def test_04_1_naive_eta() -> None:
    def remind(to: str) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            eta = datetime.utcnow() + timedelta(seconds=0.5)
        return send_email.apply_async((to, *MAIL), eta=eta)

    assert_fails(
        verdict("04.1", remind),
        "the eta is a naive datetime (no time zone)",
        "datetime.utcnow() is deprecated",
    )


def test_04_1_local_time_labelled_as_utc() -> None:
    # passes on a machine whose clock is UTC; the check runs it under Asia/Shanghai
    def remind(to: str) -> Any:
        eta = datetime.now().replace(tzinfo=timezone.utc) + timedelta(seconds=0.5)
        return send_email.apply_async((to, *MAIL), eta=eta)

    assert_fails(
        verdict("04.1", remind),
        "the eta is +8.0 h away: it is the local time (Asia/Shanghai here) labelled as UTC",
        "Take the time in UTC: datetime.now(timezone.utc)",
    )


def test_04_1_aware_local_time_is_right_too() -> None:
    def remind(to: str) -> Any:
        eta = datetime.now().astimezone() + timedelta(seconds=0.5)  # aware, +08:00 in the check
        return send_email.apply_async((to, *MAIL), eta=eta)

    before = os.environ.get("TZ")
    assert_passed(verdict("04.1", remind))
    assert os.environ.get("TZ") == before  # the check put the machine's zone back


def test_04_1_eta_in_the_past_or_off() -> None:
    def past(to: str) -> Any:
        return send_email.apply_async((to, *MAIL), eta=soon(-0.5))

    def minutes(to: str) -> Any:
        return send_email.apply_async(
            (to, *MAIL), eta=datetime.now(timezone.utc) + timedelta(minutes=0.5)
        )

    def too_soon(to: str) -> Any:
        return send_email.apply_async((to, *MAIL), eta=soon(0.05))

    assert_fails(verdict("04.1", past), "the eta is in the past", "do not subtract it")
    assert_fails(verdict("04.1", minutes), "the eta is 30 s after sending", "minutes=0.5 is 30 s")
    assert_fails(verdict("04.1", too_soon), "the eta is only 0.", "check the unit")


def test_04_1_no_eta_or_options_to_delay() -> None:
    def now(to: str) -> Any:
        return send_email.delay(to, *MAIL)

    def delay_eta(to: str) -> Any:
        return send_email.delay(to, *MAIL, eta=soon())

    assert_fails(verdict("04.1", now), "sent without an eta", "pass eta=datetime.now(timezone.utc)")
    assert_fails(
        verdict("04.1", delay_eta),
        "sending raised TypeError",
        "delay() hands every keyword to the task",
    )


def test_04_1_not_sent_or_not_returned() -> None:
    def signature(to: str) -> Any:
        return send_email.s(to, *MAIL).set(eta=soon())

    def no_return(to: str) -> Any:
        send_email.apply_async((to, *MAIL), eta=soon())

    def direct(to: str) -> Any:
        return send_email(to, *MAIL)

    def local(to: str) -> Any:
        return send_email.apply(args=(to, *MAIL), eta=soon())

    assert_fails(verdict("04.1", signature), "remind returned a signature", "sent with .delay()")
    assert_fails(verdict("04.1", no_return), "returned None", "return the AsyncResult")
    assert_fails(verdict("04.1", direct), "returned the delivered mail", "send_email.apply_async(")
    assert_fails(verdict("04.1", local), "returned an EagerResult", ".apply() runs a task locally")


def test_04_1_wrong_task_or_address() -> None:
    def welcome(to: str) -> Any:
        return send_welcome_email.apply_async((to, "Ada"), eta=soon())

    def fixed(to: str) -> Any:
        return send_email.apply_async(("ops@example.com", *MAIL), eta=soon())

    def two_args(to: str) -> Any:
        return send_email.apply_async((to, "Reminder"), eta=soon())

    assert_fails(
        verdict("04.1", welcome), "remind sent send_welcome_email, not send_email", "send_email("
    )
    assert_fails(verdict("04.1", fixed), "mailed 'ops@example.com'", "the address remind receives")
    assert_fails(verdict("04.1", two_args), "your code raised TypeError")


# --------------------------------------------------------------------------- 04.2


def test_04_2_right_answers() -> None:
    def call_by_name(name: str, *args: Any) -> Any:
        return app.send_task(name, args=args)

    def by_signature(name: str, *args: Any) -> Any:
        return app.signature(name, args=args).delay()

    assert_passed(verdict("04.2", call_by_name), "an unknown name failed on the worker")
    assert_passed(verdict("04.2", by_signature))


def test_04_2_stub_and_none() -> None:
    def call_by_name(name: str, *args: Any) -> Any: ...

    def no_return(name: str, *args: Any) -> Any:
        app.send_task(name, args=args)

    assert evaluate("04.2", call_by_name).feedback.startswith("not yet: write the body")
    assert_fails(verdict("04.2", no_return), "returned None", "return the AsyncResult")


def test_04_2_local_registry() -> None:
    def registry(name: str, *args: Any) -> Any:
        return app.tasks[name].delay(*args)

    def run_here(name: str, *args: Any) -> Any:
        return app.tasks[name](*args)

    def apply_here(name: str, *args: Any) -> Any:
        return app.tasks[name].apply(args=args)

    assert_fails(
        verdict("04.2", registry),
        "raised NotRegistered here, in the caller, for no_such_task",
        "you looked the task up in this process",
    )
    assert_fails(
        verdict("04.2", run_here), "returned a plain int: the task ran here", "app.send_task"
    )
    assert_fails(verdict("04.2", apply_here), "returned an EagerResult", "app.send_task")


def test_04_2_wrong_arguments() -> None:
    def nested(name: str, *args: Any) -> Any:
        return app.send_task(name, args=[args])

    def positional(name: str, *args: Any) -> Any:
        return app.send_task(name, *args)

    assert_fails(verdict("04.2", nested), "failed on the worker (TypeError", "not args=[args]")
    assert_fails(verdict("04.2", positional), "task args must be a list or tuple", "args=args)")


def test_04_2_fixed_name_or_wrong_return() -> None:
    def always_add(name: str, *args: Any) -> Any:
        return app.send_task(add.name, args=args)

    def task_id(name: str, *args: Any) -> Any:
        return app.send_task(name, args=args).id

    def waits(name: str, *args: Any) -> Any:
        return app.send_task(name, args=args).get(timeout=5)

    assert_fails(
        verdict("04.2", always_add), "sent add, not multiply", "the task whose name you are given"
    )
    assert_fails(verdict("04.2", task_id), "returned a str, not an AsyncResult", "the task id")
    assert_fails(
        verdict("04.2", waits), "returned an int, not an AsyncResult", "do not wait for the value"
    )
    assert multiply.name.endswith(".multiply")


# --------------------------------------------------------------------------- 04.3


def test_04_3_right_answer() -> None:
    def register(name: str, email: str) -> Any:
        user = create_user(name, email)
        return send_welcome.delay(user.id)

    assert_passed(verdict("04.3", register), "queued with the user's id and delivered")


def test_04_3_stub_and_none() -> None:
    def register(name: str, email: str) -> Any:
        """Create the user and queue the welcome mail."""
        ...

    def no_return(name: str, email: str) -> Any:
        send_welcome.delay(create_user(name, email).id)

    assert evaluate("04.3", register).feedback.startswith("not yet: write the body of register")
    assert_fails(
        verdict("04.3", no_return), "queued the mail but returned None", "return the AsyncResult"
    )


def test_04_3_objects_instead_of_ids() -> None:
    def the_object(name: str, email: str) -> Any:
        return send_welcome.delay(create_user(name, email))

    def a_dict(name: str, email: str) -> Any:
        return send_welcome.delay(asdict(create_user(name, email)))

    def the_email(name: str, email: str) -> Any:
        return send_welcome.delay(create_user(name, email).email)

    def guide_000(name: str, email: str) -> Any:
        user = create_user(name, email)
        return send_welcome.delay(user.id, user.email)

    assert_fails(verdict("04.3", the_object), "could not encode the argument", "pass user.id")
    assert_fails(verdict("04.3", a_dict), "received a dict, not an id", "asdict(user)")
    assert_fails(verdict("04.3", the_email), "received a str, not an id", "pass user.id")
    assert_fails(verdict("04.3", guide_000), "sending raised TypeError", "takes one argument")


def test_04_3_wrong_user_or_task() -> None:
    def no_user(name: str, email: str) -> Any:
        return send_welcome.delay(987654)

    def fixed_user(name: str, email: str) -> Any:
        return send_welcome.delay(create_user("Ada", "ada@example.com").id)

    def old_task(name: str, email: str) -> Any:
        create_user(name, email)
        return send_welcome_email.delay(email, name)

    def direct(name: str, email: str) -> Any:
        return send_welcome(create_user(name, email).id)

    def local(name: str, email: str) -> Any:
        return send_welcome.apply(args=(create_user(name, email).id,))

    assert_fails(verdict("04.3", no_user), "found no such user", "create_user(name, email)")
    assert_fails(verdict("04.3", fixed_user), "the mail went to user", "arguments register")
    assert_fails(
        verdict("04.3", old_task), "sent send_welcome_email, not users.send_welcome", "the id"
    )
    assert_fails(verdict("04.3", direct), "returned the delivered mail", "send_welcome.delay(")
    assert_fails(verdict("04.3", local), "returned an EagerResult", ".apply() runs")


# --------------------------------------------------------------------------- 04.4


def test_04_4_right_answers() -> None:
    assert_passed(verdict("04.4", add.s(10).set(countdown=0.3)), "gave 15")
    assert_passed(verdict("04.4", add.signature((10,), countdown=0.3)))


def test_04_4_not_a_signature() -> None:
    assert_fails(
        verdict("04.4", add.apply_async((10, 5), countdown=0.3)),
        "ten_plus is an AsyncResult",
        "add.s(...)",
    )
    assert_fails(verdict("04.4", add(10, 5)), "ten_plus is a plain int", "add.s(...)")
    assert_fails(verdict("04.4", "add"), "ten_plus is a str, not a signature", "add.s(...)")
    assert_fails(
        verdict("04.4", multiply.s(10).set(countdown=0.3)),
        "a signature of multiply, not add",
        "add.s(...)",
    )


def test_04_4_arguments() -> None:
    assert_fails(
        verdict("04.4", add.s(10, countdown=0.3)),
        "countdown is in the task's keyword arguments",
        ".set(countdown=...)",
    )
    assert_fails(
        verdict("04.4", add.s(10, 5).set(countdown=0.3)),
        "already holds 2 arguments (10, 5)",
        "give it only the 10",
    )
    assert_fails(
        verdict("04.4", add.s(5).set(countdown=0.3)), "holds the arguments (5,)", "the 5 comes when"
    )
    assert_fails(
        verdict("04.4", add.si(10).set(countdown=0.3)), "ten_plus is immutable", "use .s(10)"
    )


def test_04_4_options() -> None:
    assert_fails(verdict("04.4", add.s(10)), "no countdown in its options", ".set(countdown=...)")
    assert_fails(
        verdict("04.4", add.s(10).set(eta=soon(0.3))),
        "carries an eta",
        ".set(countdown=...)",
    )
    assert_fails(
        verdict("04.4", add.s(10).set(countdown=300)), "countdown is 300", "counts seconds"
    )
