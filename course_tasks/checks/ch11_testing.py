"""Checks of chapter 11's exercises (``solutions/11_testing_solutions.ipynb``): answers are tests.

Each exercise asks for one pytest test function that takes the code under test as its only
argument (in the notebook a fixture of that name provides the real one). The check calls the
learner's test on the correct code, where it must pass, then on buggy versions, where it
must fail (raise anything: an ``AssertionError``, the bug's own exception). A test that
passes on a buggy version gets the hint for the bug it missed. Every call is bounded.

* 11.1 ``check("11.1", test_signup)``: the web handler :func:`~course_tasks.tasks.signup.signup`
  with ``welcome.delay`` mocked; bugs: the mail sent inline, the user object sent instead of
  its id, the task queued twice, an answer without the queued task's id;
* 11.2 ``check("11.2", test_charge)``: retries of :func:`~course_tasks.tasks.signup.charge`,
  run with ``apply()`` and a mocked gateway; bugs: no retry, ``max_retries=10``, a declined
  card retried, a task that gives up quietly (SUCCESS with ``None``);
* 11.3 ``check("11.3", test_onboarding)``: the canvas
  :func:`~course_tasks.tasks.signup.onboarding`; bugs: ``.s`` instead of ``.si`` (guide 002),
  steps out of order, a step missing, a group instead of a chain;
* 11.4 ``check("11.4", test_tag_post)``: :func:`~course_tasks.tasks.signup.tag_post` against
  the real worker; bugs: tags sent as a set (fine with ``apply()``, ``EncodeError`` when sent),
  the task run inline with ``apply()``, tags dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import chain, group

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import StillRunning, call_bounded, error_text, is_stub_body
from course_tasks.store import store
from course_tasks.tasks import signup as sut

#: How long one run of the learner's test may take.
TEST_SECONDS = 4.0
THREAD_NAME = "course-check-11"


@dataclass(frozen=True)
class Bug:
    """A buggy version of the code under test, what is wrong with it, and the hint."""

    subject: Any
    what: str
    hint: str


# --------------------------------------------------------------------------- running a test


def _need_test(test: Any, param: str) -> Callable[..., Any]:
    if not callable(test) or isinstance(test, type):
        raise Fail(
            f"got {type(test).__name__}, not a test function",
            hint=f"define def test_...({param}): ... and pass the function itself",
        )
    if is_stub_body(test, unknown=False):
        raise NotYet("write the body of your test")
    try:
        params = list(inspect.signature(test).parameters)
    except (TypeError, ValueError):
        params = [param]
    if len(params) != 1:
        raise Fail(
            f"your test takes {len(params)} arguments ({', '.join(params) or 'none'})",
            hint=f"take exactly one, the code under test: def test_...({param}):",
        )
    return test


#: Ids of results that no worker will ever store (a buggy version ran its task inline).
_never_stored: list[str] = []


def _as_current(test: Callable[..., Any], subject: Any) -> Any:
    """``test(subject)`` with the course app current in this thread, as in the notebook.

    The code under test uses shared tasks, which resolve to the *current* app: a
    thread-local. A new thread falls back to the default app, which, when no embedded
    worker made the course app the default (redis mode), is Celery's own fallback app.
    """
    app.set_current()
    return test(subject)


def _run(test: Callable[..., Any], subject: Any, label: str) -> str | None:
    """Run ``test(subject)``: None if it passed, else the error it raised, as text."""
    _never_stored.clear()
    try:
        outcome = call_bounded(
            _as_current, test, subject, seconds=TEST_SECONDS, thread_name=THREAD_NAME
        )
    except Exception as exc:  # the test failed: that is its job on a buggy version
        return error_text(exc)
    finally:
        store().delete(sut.GATEWAY_DOWN_KEY)
    if isinstance(outcome, StillRunning):
        # A get() without a timeout on an id nobody stores: REVOKED ends that wait.
        for task_id in _never_stored:
            app.backend.mark_as_revoked(task_id, reason="check finished")
        outcome.thread.join(1.0)
        raise Fail(
            f"your test did not finish within {TEST_SECONDS:g} s on {label}",
            hint="always wait with a timeout: result.get(timeout=5)",
        )
    return None


def _judge(test: Callable[..., Any], correct: Any, bugs: list[Bug], name: str) -> str:
    error = _run(test, correct, f"the correct {name}")
    if error is not None:
        raise Fail(
            f"your test fails on the correct {name}: {error}",
            hint="a test must pass on working code: print what the code really returns "
            "and assert that",
        )
    for bug in bugs:
        if _run(test, bug.subject, f"a {name} that {bug.what}") is None:
            raise Fail(f"your test passed on a buggy {name} that {bug.what}", hint=bug.hint)
    return f"passes on the correct {name}, fails on all {len(bugs)} buggy versions"


# --------------------------------------------------------------------------- 11.1


def _signup_inline(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome(user.id)  # runs the mail here, in the request
    return {"user_id": user.id, "task_id": f"inline-{user.id}"}


def _signup_object(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    result = sut.welcome.delay(user)
    return {"user_id": user.id, "task_id": result.id}


def _signup_twice(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome.delay(user.id)
    result = sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": result.id}


def _signup_no_task_id(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": str(user.id)}


SIGNUP_BUGS = [
    Bug(
        _signup_inline,
        "sends the mail inline, welcome(user.id), instead of queueing it",
        "patch welcome.delay (mock.patch.object(welcome, 'delay')) and assert it was called",
    ),
    Bug(
        _signup_object,
        "queues the User object instead of its id",
        "assert which arguments were sent: delay.assert_called_once_with(response['user_id'])",
    ),
    Bug(
        _signup_twice,
        "queues the welcome mail twice",
        "assert it was queued exactly once: assert_called_once_with(...), not "
        "assert_called_with(...), which only looks at the last call",
    ),
    Bug(
        _signup_no_task_id,
        "answers with the user id where the task id belongs",
        "assert the answer carries the queued task's id: "
        "response['task_id'] == delay.return_value.id",
    ),
]


@exercise("11.1", "mock .delay in a web handler test", points=2)
def _(test_signup: Any) -> str:
    test = _need_test(test_signup, "signup")
    return _judge(test, sut.signup, SIGNUP_BUGS, "signup")


# --------------------------------------------------------------------------- 11.2


@app.task(bind=True, max_retries=3, name="course-check-11.charge-no-retry")
def _charge_no_retry(self: Any, order_id: int, cents: int) -> str:
    return sut.gateway_charge(order_id, cents)


@app.task(bind=True, max_retries=10, name="course-check-11.charge-ten-retries")
def _charge_ten_retries(self: Any, order_id: int, cents: int) -> str:
    try:
        return sut.gateway_charge(order_id, cents)
    except sut.GatewayDown as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc


@app.task(bind=True, max_retries=3, name="course-check-11.charge-retries-declined")
def _charge_retries_declined(self: Any, order_id: int, cents: int) -> str:
    try:
        return sut.gateway_charge(order_id, cents)
    except (sut.GatewayDown, sut.CardDeclined) as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc


@app.task(bind=True, max_retries=3, name="course-check-11.charge-gives-up-quietly")
def _charge_gives_up(self: Any, order_id: int, cents: int) -> str | None:
    try:
        return sut.gateway_charge(order_id, cents)
    except sut.GatewayDown as exc:
        if self.request.retries >= self.max_retries:
            return None  # the order stays unpaid and nobody hears of it
        raise self.retry(exc=exc, countdown=0.2) from exc


CHARGE_BUGS = [
    Bug(
        _charge_no_retry,
        "never retries",
        "make the gateway fail, then recover (mock side_effect=[GatewayDown(), GatewayDown(), "
        "'rcpt']) and assert the task still ends in SUCCESS",
    ),
    Bug(
        _charge_ten_retries,
        "retries 10 times instead of 3",
        "when the gateway never recovers, assert how often it was called: "
        "1 try + 3 retries = 4 (gateway.call_count == 4)",
    ),
    Bug(
        _charge_retries_declined,
        "retries a declined card too",
        "a CardDeclined is final: assert the gateway was called once and the task FAILED",
    ),
    Bug(
        _charge_gives_up,
        "ends in SUCCESS with None when the retries run out",
        "when the gateway never recovers, assert result.state == 'FAILURE'",
    ),
]


@exercise("11.2", "test retries deterministically", points=2)
def _(test_charge: Any) -> str:
    test = _need_test(test_charge, "charge")
    return _judge(test, sut.charge, CHARGE_BUGS, "charge task")


# --------------------------------------------------------------------------- 11.3


def _onboarding_s(user_id: int) -> Any:
    return chain(
        sut.create_profile.s(user_id), sut.welcome.s(user_id), sut.suggest_follows.s(user_id)
    )


def _onboarding_order(user_id: int) -> Any:
    return chain(
        sut.welcome.si(user_id), sut.create_profile.si(user_id), sut.suggest_follows.si(user_id)
    )


def _onboarding_missing(user_id: int) -> Any:
    return chain(sut.create_profile.si(user_id), sut.welcome.si(user_id))


def _onboarding_group(user_id: int) -> Any:
    return group(
        sut.create_profile.si(user_id), sut.welcome.si(user_id), sut.suggest_follows.si(user_id)
    )


ONBOARDING_BUGS = [
    Bug(
        _onboarding_s,
        "chains the steps with .s(user_id), as guide 002 does",
        "with .s each step also gets the previous result: run the chain "
        "(flow.apply().get()) or assert every step is immutable (step.immutable)",
    ),
    Bug(
        _onboarding_order,
        "sends the welcome mail before the profile exists",
        "compare the steps in order: [step.task for step in flow.tasks] == [...], not as a set",
    ),
    Bug(
        _onboarding_missing,
        "leaves out suggest_follows",
        "assert all three steps, or the last step's result: flow.apply().get() == "
        "{'user_id': ..., 'step': 'suggestions'}",
    ),
    Bug(
        _onboarding_group,
        "builds a group (all at once) instead of a chain",
        "a group has .tasks too: run it (flow.apply().get() is the last step's result for a "
        "chain, a list for a group) or assert type(flow).__name__ == '_chain'",
    ),
]


@exercise("11.3", "test a canvas", points=2)
def _(test_onboarding: Any) -> str:
    test = _need_test(test_onboarding, "onboarding")
    return _judge(test, sut.onboarding, ONBOARDING_BUGS, "onboarding")


# --------------------------------------------------------------------------- 11.4


def _tag_post_set(post_id: int, tags: list[str]) -> Any:
    return sut.index_tags.delay(post_id, set(tags))  # de-duplicated early: a set


def _tag_post_inline(post_id: int, tags: list[str]) -> Any:
    result = sut.index_tags.apply(args=(post_id, list(tags)))
    _never_stored.append(result.id)
    return result


def _tag_post_first_only(post_id: int, tags: list[str]) -> Any:
    return sut.index_tags.delay(post_id, list(tags)[:1])


TAG_BUGS = [
    Bug(
        _tag_post_set,
        "sends the tags as a set (fine with apply(), EncodeError when sent)",
        "run it for real, through the worker: call tag_post(...) and get(timeout=5); "
        "apply(), a direct call or a mocked delay never serialize the arguments",
    ),
    Bug(
        _tag_post_inline,
        "runs the task inline with apply() instead of queueing it",
        "assert the result went through the worker: after get(), "
        "app.AsyncResult(result.id).state == 'SUCCESS' (an eager run stores nothing)",
    ),
    Bug(
        _tag_post_first_only,
        "sends only the first tag",
        "compare the worker's result exactly: == ['celery', 'redis'], not only the state",
    ),
]


@exercise("11.4", "a test that a real worker would fail", points=2)
def _(test_tag_post: Any) -> str:
    test = _need_test(test_tag_post, "tag_post")
    return _judge(test, sut.tag_post, TAG_BUGS, "tag_post")
