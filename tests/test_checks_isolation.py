"""A check puts back what the learner's code changed in the kernel (``checks.isolation``).

Each test registers a throwaway exercise whose "learner's code" makes one of the changes a
wrong answer makes, runs it through ``evaluate`` as a check cell does, and looks at the
course's app afterwards: the next check must run against the app the set-up cell started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from celery import Celery, current_app

from course_tasks.app import app
from course_tasks.checks import REGISTRY, evaluate, exercise, provenance
from course_tasks.tasks import signup
from course_tasks.tasks.basics import add

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def run() -> Iterator[Callable[[Callable[[], Any]], str]]:
    """Run ``answer`` inside a registered check, as ``check("99.1", answer)`` would."""

    @exercise("99.1", "isolation", points=1)
    def _(answer: Callable[[], Any]) -> str:
        answer()
        return "ran"

    def go(answer: Callable[[], Any]) -> str:
        return evaluate("99.1", answer).feedback

    yield go
    del REGISTRY["99.1"]


class DjangoSettings:
    CELERY_BROKER_URL = "redis://localhost:6399/0"
    CELERY_RESULT_BACKEND = "redis://localhost:6399/1"


def test_the_course_app_reconfigured_by_a_check_is_put_back(run) -> None:
    broker, backend = app.conf.broker_url, app.conf.result_backend
    assert run(lambda: app.config_from_object(DjangoSettings, namespace="CELERY")) == "passed (ran)"
    assert (app.conf.broker_url, app.conf.result_backend) == (broker, backend)
    assert provenance()["mode"] == "embedded"
    assert add.delay(2, 3).get(timeout=10) == 5


def test_eager_mode_switched_on_inside_a_check_is_switched_off_again(run) -> None:
    def guide_002_style() -> None:
        app.conf.update(task_always_eager=True, task_eager_propagates=True)

    run(guide_002_style)
    assert (app.conf.task_always_eager, app.conf.task_eager_propagates) == (False, False)
    assert provenance()["mode"] == "embedded"


def test_routes_assigned_inside_a_check_no_longer_route(run) -> None:
    def route_everything() -> None:
        app.conf.task_routes = {"*": {"queue": "nobody-listens"}}

    run(route_everything)
    assert app.amqp.router.route({}, add.name)["queue"].name == app.conf.task_default_queue
    assert add.delay(1, 1).get(timeout=10) == 2


def test_another_app_made_current_inside_a_check_is_not_current_afterwards(run) -> None:
    before = current_app._get_current_object()
    run(lambda: Celery("shop", broker="redis://localhost:6399/0"))
    assert current_app._get_current_object() is before


def test_a_mock_left_started_is_taken_away(run) -> None:
    real_gateway, real_delay = signup.gateway_charge, signup.welcome.delay

    def leaks() -> None:
        mock.patch("course_tasks.tasks.signup.gateway_charge").start()
        signup.welcome.delay = mock.Mock()

    run(leaks)
    assert mock._patch._active_patches == []
    assert signup.gateway_charge is real_gateway
    assert signup.welcome.delay == real_delay
    assert "delay" not in vars(signup.welcome)


def test_a_function_or_task_method_replaced_by_hand_is_put_back(run) -> None:
    real_gateway, real_delay = signup.gateway_charge, signup.welcome.delay

    def replaces_by_hand() -> None:
        signup.gateway_charge = lambda order_id, cents: "rcpt-fake"
        signup.welcome.delay = lambda *args, **kwargs: None

    run(replaces_by_hand)
    assert signup.gateway_charge is real_gateway
    assert signup.welcome.delay == real_delay and "delay" not in vars(signup.welcome)


def test_a_module_s_own_state_is_left_alone(run) -> None:
    """Not a stand-in: a module global that is not a function (a cache, a counter)."""
    signup._isolation_probe = 1  # type: ignore[attr-defined]

    def counts() -> None:
        signup._isolation_probe = 2  # type: ignore[attr-defined]

    run(counts)
    assert signup._isolation_probe == 2  # type: ignore[attr-defined]
    del signup._isolation_probe  # type: ignore[attr-defined]


def test_a_check_that_changes_nothing_keeps_everything(run) -> None:
    conf = app.conf
    run(lambda: add.delay(1, 2).get(timeout=10))
    assert app.conf is conf
