"""The checks of chapter 11 on good tests and weak ones, against the embedded worker.

The learner's answers are tests: each check must accept a test that catches every bug and
reject each weak test with the hint for the bug it lets through.
"""

from __future__ import annotations

from unittest import mock

import pytest
from celery.result import EagerResult
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import app
from course_tasks.store import store
from course_tasks.tasks import signup as sut
from course_tasks.tasks.signup import CardDeclined, GatewayDown, welcome
from course_tasks.tasks.users import create_user

pytestmark = pytest.mark.usefixtures("worker")

GATEWAY = "course_tasks.tasks.signup.gateway_charge"


# --------------------------------------------------------------------------- the code under test


def test_signup_queues_the_welcome_mail_for_the_new_user() -> None:
    response = sut.signup("Ada", "ada@example.com")
    message = app.AsyncResult(response["task_id"]).get(timeout=5)
    assert message == {"to": "ada@example.com", "subject": "Welcome!", "body": "Hello Ada!"}


def test_charge_retries_on_the_worker_then_succeeds() -> None:
    sut.gateway_down(2)
    result = sut.charge.delay(5, 700)
    assert result.get(timeout=5) == "rcpt-5-700"
    assert store().get(sut.GATEWAY_DOWN_KEY) == "0"


def test_charge_does_not_retry_a_declined_card() -> None:
    result = sut.charge.delay(6, -1)
    with pytest.raises(CardDeclined):
        result.get(timeout=5)
    assert result.retries == 0


def test_onboarding_runs_three_steps_on_the_worker() -> None:
    user = create_user("Grace", "grace@example.com")
    assert sut.onboarding(user.id).delay().get(timeout=5) == {
        "user_id": user.id,
        "step": "suggestions",
    }


def test_tag_post_sends_a_json_list() -> None:
    assert sut.tag_post(3, ["B", "a", "b"]).get(timeout=5) == ["a", "b"]


# --------------------------------------------------------------------------- 11.1


def answer_signup_good(signup):
    with mock.patch.object(welcome, "delay") as delay:
        response = signup("Ada", "ada@example.com")
    delay.assert_called_once_with(response["user_id"])
    assert response["task_id"] == delay.return_value.id


def answer_signup_no_mock(signup):
    response = signup("Ada", "ada@example.com")
    assert response["user_id"] > 0 and response["task_id"]


def answer_signup_only_called(signup):
    with mock.patch.object(welcome, "delay") as delay:
        signup("Ada", "ada@example.com")
    assert delay.called


def answer_signup_called_with_last_call(signup):
    with mock.patch.object(welcome, "delay") as delay:
        response = signup("Ada", "ada@example.com")
    delay.assert_called_with(response["user_id"])


def answer_signup_no_task_id_check(signup):
    with mock.patch("course_tasks.tasks.signup.welcome.delay") as delay:
        response = signup("Ada", "ada@example.com")
    delay.assert_called_once_with(response["user_id"])
    assert response["task_id"]


def answer_signup_wrong_expectation(signup):
    with mock.patch.object(welcome, "delay") as delay:
        signup("Ada", "ada@example.com")
    delay.assert_called_once_with("ada@example.com")


def answer_signup_stub(signup): ...


def test_11_1_accepts_a_test_that_checks_the_call_and_the_answer() -> None:
    assert_passed(verdict("11.1", answer_signup_good), "fails on all 4 buggy versions")


def test_11_1_rejects_each_weak_test_with_its_own_hint() -> None:
    assert_fails(
        verdict("11.1", answer_signup_no_mock),
        "passed on a buggy signup that sends the mail inline",
        "patch welcome.delay",
    )
    assert_fails(
        verdict("11.1", answer_signup_only_called),
        "queues the User object instead of its id",
        "assert which arguments were sent",
    )
    assert_fails(
        verdict("11.1", answer_signup_called_with_last_call),
        "queues the welcome mail twice",
        "assert it was queued exactly once",
    )
    assert_fails(
        verdict("11.1", answer_signup_no_task_id_check),
        "answers with the user id where the task id belongs",
        "assert the answer carries the queued task's id",
    )


def test_11_1_a_test_that_fails_on_correct_code_and_a_stub() -> None:
    assert_fails(
        verdict("11.1", answer_signup_wrong_expectation),
        "your test fails on the correct signup: AssertionError",
        "a test must pass on working code",
    )
    assert_fails(verdict("11.1", answer_signup_stub), "not yet: write the body of your test")
    assert_fails(verdict("11.1", lambda: None), "your test takes 0 arguments", "take exactly one")
    assert_fails(verdict("11.1", "test_signup"), "got str, not a test function", "define def test_")


# --------------------------------------------------------------------------- 11.2


def answer_charge_good(charge):
    with mock.patch(GATEWAY, side_effect=[GatewayDown(), GatewayDown(), "rcpt-1"]) as gw:
        result = charge.apply(args=(1, 500))
    assert (result.state, result.result, gw.call_count) == ("SUCCESS", "rcpt-1", 3)
    with mock.patch(GATEWAY, side_effect=GatewayDown("down")) as gw:
        result = charge.apply(args=(1, 500))
    assert (result.state, gw.call_count) == ("FAILURE", 4)
    with mock.patch(GATEWAY, side_effect=CardDeclined("declined")) as gw:
        result = charge.apply(args=(1, 500))
    assert (result.state, gw.call_count) == ("FAILURE", 1)


def answer_charge_happy_path_only(charge):
    with mock.patch(GATEWAY, return_value="rcpt-1"):
        assert charge.apply(args=(1, 500)).result == "rcpt-1"


def answer_charge_no_retry_count(charge):
    with mock.patch(GATEWAY, side_effect=[GatewayDown(), "rcpt-1"]):
        assert charge.apply(args=(1, 500)).state == "SUCCESS"
    with mock.patch(GATEWAY, side_effect=GatewayDown("down")):
        assert charge.apply(args=(1, 500)).state == "FAILURE"


def answer_charge_no_declined_case(charge):
    with mock.patch(GATEWAY, side_effect=[GatewayDown(), "rcpt-1"]):
        assert charge.apply(args=(1, 500)).state == "SUCCESS"
    with mock.patch(GATEWAY, side_effect=GatewayDown("down")) as gw:
        assert charge.apply(args=(1, 500)).state == "FAILURE"
    assert gw.call_count == 4


def answer_charge_no_final_state(charge):
    with mock.patch(GATEWAY, side_effect=[GatewayDown(), "rcpt-1"]):
        assert charge.apply(args=(1, 500)).state == "SUCCESS"
    with mock.patch(GATEWAY, side_effect=GatewayDown("down")) as gw:
        charge.apply(args=(1, 500))
    assert gw.call_count == 4
    with mock.patch(GATEWAY, side_effect=CardDeclined("declined")) as gw:
        charge.apply(args=(1, 500))
    assert gw.call_count == 1


def test_11_2_accepts_a_test_of_recovery_outage_and_declined_card() -> None:
    assert_passed(verdict("11.2", answer_charge_good), "fails on all 4 buggy versions")


def test_11_2_rejects_each_weak_test_with_its_own_hint() -> None:
    assert_fails(
        verdict("11.2", answer_charge_happy_path_only),
        "passed on a buggy charge task that never retries",
        "make the gateway fail, then recover",
    )
    assert_fails(
        verdict("11.2", answer_charge_no_retry_count),
        "retries 10 times instead of 3",
        "when the gateway never recovers, assert how often it was called",
    )
    assert_fails(
        verdict("11.2", answer_charge_no_declined_case),
        "retries a declined card too",
        "a CardDeclined is final",
    )
    assert_fails(
        verdict("11.2", answer_charge_no_final_state),
        "ends in SUCCESS with None when the retries run out",
        "when the gateway never recovers, assert result.state == 'FAILURE'",
    )


# --------------------------------------------------------------------------- 11.3

STEPS = [
    "course_tasks.tasks.signup.create_profile",
    "course_tasks.tasks.signup.welcome",
    "course_tasks.tasks.signup.suggest_follows",
]


def answer_onboarding_good(onboarding):
    user = create_user("Ada", "ada@example.com")
    flow = onboarding(user.id)
    assert [(step.task, step.args, step.immutable) for step in flow.tasks] == [
        (name, (user.id,), True) for name in STEPS
    ]
    assert flow.apply().get() == {"user_id": user.id, "step": "suggestions"}


def answer_onboarding_names_and_args(onboarding):
    flow = onboarding(7)
    assert [(step.task, step.args) for step in flow.tasks] == [(name, (7,)) for name in STEPS]


def answer_onboarding_as_a_set(onboarding):
    user = create_user("Ada", "ada@example.com")
    flow = onboarding(user.id)
    assert {step.task for step in flow.tasks} >= set(STEPS[:2])
    assert all(step.immutable for step in flow.tasks)
    assert flow.apply().successful()


def answer_onboarding_runs(onboarding):
    user = create_user("Ada", "ada@example.com")
    flow = onboarding(user.id)
    assert flow.apply().successful()
    assert flow.tasks[0].task == STEPS[0]


def answer_onboarding_ordered_list(onboarding):
    flow = onboarding(3)
    assert [step.task for step in flow.tasks] == STEPS
    assert all(step.immutable and step.args == (3,) for step in flow.tasks)


def test_11_3_accepts_a_test_that_checks_the_steps_and_runs_the_chain() -> None:
    assert_passed(verdict("11.3", answer_onboarding_good), "fails on all 4 buggy versions")


def test_11_3_rejects_each_weak_test_with_its_own_hint() -> None:
    assert_fails(
        verdict("11.3", answer_onboarding_names_and_args),
        "chains the steps with .s(user_id), as guide 002 does",
        "with .s each step also gets the previous result",
    )
    assert_fails(
        verdict("11.3", answer_onboarding_as_a_set),
        "sends the welcome mail before the profile exists",
        "compare the steps in order",
    )
    assert_fails(
        verdict("11.3", answer_onboarding_runs),
        "leaves out suggest_follows",
        "assert all three steps",
    )
    assert_fails(
        verdict("11.3", answer_onboarding_ordered_list),
        "builds a group (all at once) instead of a chain",
        "a group has .tasks too",
    )


# --------------------------------------------------------------------------- 11.4


def answer_tag_post_good(tag_post):
    result = tag_post(7, ["Redis", "celery", "redis"])
    assert result.get(timeout=5) == ["celery", "redis"]
    assert app.AsyncResult(result.id).state == "SUCCESS"


def answer_tag_post_eager(tag_post):
    """A mocked delay that runs the task with apply(): no message, so nothing is serialized."""
    with mock.patch.object(sut.index_tags, "delay", lambda *args: sut.index_tags.apply(args=args)):
        result = tag_post(7, ["Redis", "celery", "redis"])
    assert result.get(timeout=5) == ["celery", "redis"]
    assert result.state == "SUCCESS"


def answer_tag_post_value_only(tag_post):
    assert tag_post(7, ["Redis", "celery", "redis"]).get(timeout=5) == ["celery", "redis"]


def answer_tag_post_state_only(tag_post):
    result = tag_post(7, ["Redis", "celery", "redis"])
    result.get(timeout=5)
    assert app.AsyncResult(result.id).state == "SUCCESS"
    assert not isinstance(result, EagerResult)


def answer_tag_post_no_timeout(tag_post):
    result = tag_post(7, ["Redis", "celery", "redis"])
    assert app.AsyncResult(result.id).get() == ["celery", "redis"]


def test_11_4_accepts_a_test_against_the_worker() -> None:
    assert_passed(verdict("11.4", answer_tag_post_good), "fails on all 3 buggy versions")


def test_11_4_rejects_each_weak_test_with_its_own_hint() -> None:
    assert_fails(
        verdict("11.4", answer_tag_post_eager),
        "sends the tags as a set (fine with apply(), EncodeError when sent)",
        "run it for real, through the worker",
    )
    assert_fails(
        verdict("11.4", answer_tag_post_value_only),
        "runs the task inline with apply() instead of queueing it",
        "assert the result went through the worker",
    )
    assert_fails(
        verdict("11.4", answer_tag_post_state_only),
        "sends only the first tag",
        "compare the worker's result exactly",
    )


def test_11_4_a_test_that_hangs_is_stopped() -> None:
    outcome = verdict("11.4", answer_tag_post_no_timeout)
    assert_fails(outcome, "your test did not finish within 4 s", "always wait with a timeout")
