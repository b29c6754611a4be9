"""The checks of chapter 02: each right answer passes, each known wrong answer gets its hint."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks.checks import evaluate

pytestmark = pytest.mark.usefixtures("worker")


def test_stubs_are_not_yet() -> None:
    for id in ("02.1", "02.2", "02.3", "02.4"):
        assert evaluate(id, ...).feedback.startswith("not yet:"), id


# --------------------------------------------------------------------------- 02.1


class DjangoSettings:
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = {
        "threads.tasks.fact_check_content": {"queue": "ai_queue"},
        "threads.tasks.process_image": {"queue": "image_queue"},
        "threads.tasks.*": {"queue": "default"},
    }
    CELERY_TASK_ANNOTATIONS = {"*": {"default_retry_delay": 60, "max_retries": 3}}


def settings(**changes: Any) -> type:
    """A copy of DjangoSettings with some names changed (None removes a name)."""
    attrs = {k: v for k, v in vars(DjangoSettings).items() if k.startswith("CELERY_")}
    for key, value in changes.items():
        if value is None:
            attrs.pop(key, None)
        else:
            attrs[key] = value
    return type("Settings", (), attrs)


def test_02_1_right_answers() -> None:
    assert_passed(verdict("02.1", DjangoSettings), "passed (routes ai_queue")
    as_dict = {k: v for k, v in vars(DjangoSettings).items() if k.startswith("CELERY_")}
    assert_passed(verdict("02.1", as_dict))
    strings = {
        "threads.tasks.fact_check_content": "ai_queue",
        "threads.tasks.process_image": "image_queue",
        "threads.tasks.*": "default",
    }
    assert_passed(verdict("02.1", settings(CELERY_TASK_ROUTES=strings)))
    assert_passed(verdict("02.1", settings(CELERY_RESULT_EXPIRES=timedelta(hours=1))))


def test_02_1_names_without_prefix() -> None:
    routes = DjangoSettings.CELERY_TASK_ROUTES
    upper = type("S", (), {"TASK_ROUTES": routes, "RESULT_EXPIRES": 3600})
    assert_fails(
        verdict("02.1", upper),
        "Celery found no task routes in your settings.",
        "with namespace='CELERY' each setting is spelt CELERY_ + its name in upper case",
    )
    typo = settings(CELERY_TASK_ROUTES=None, CELERY_TASK_ROUTE=routes)
    assert_fails(
        verdict("02.1", typo),
        "Celery found no task routes in your settings.",
        "is the routes setting spelt right?",
    )
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ROUTES=None)),
        "Celery found no task routes in your settings.",
        "is the routes setting spelt right?",
    )


def test_02_1_routes() -> None:
    routes = dict(DjangoSettings.CELERY_TASK_ROUTES)
    no_exact = {"threads.tasks.*": {"queue": "default"}}
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ROUTES=no_exact)),
        "threads.tasks.fact_check_content went to 'default', not 'ai_queue'",
        "give this task its own entry",
    )
    no_glob = {k: v for k, v in routes.items() if "*" not in k}
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ROUTES=no_glob)),
        "threads.tasks.like_post went to Celery's default queue 'celery'",
        "add a glob entry",
    )
    too_wide = {**no_glob, "*": {"queue": "default"}}
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ROUTES=too_wide)),
        "billing.tasks.charge (not a threads task) was routed to 'default'",
        "your pattern is too wide",
    )
    wrong_queue = {**routes, "threads.tasks.process_image": {"queue": "images"}}
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ROUTES=wrong_queue)),
        "threads.tasks.process_image was routed to 'images', not 'image_queue'",
    )
    only_glob = {"threads.tasks.*": {"queue": "elsewhere"}}
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ROUTES=only_glob)),
        "threads.tasks.fact_check_content was routed to 'elsewhere', not 'ai_queue'",
    )


def test_02_1_expiry() -> None:
    assert_fails(
        verdict("02.1", settings(CELERY_RESULT_EXPIRES=None)),
        "results still expire after 1 day, Celery's default",
        "did you set CELERY_RESULT_EXPIRES?",
    )
    assert_fails(
        verdict("02.1", settings(CELERY_RESULT_EXPIRES=60)),
        "results expire after 60 s, not one hour",
        "CELERY_RESULT_EXPIRES counts seconds, not minutes",
    )
    assert_fails(
        verdict("02.1", settings(CELERY_RESULT_EXPIRES="3600")),
        "CELERY_RESULT_EXPIRES is a str",
        "Celery wants a number of seconds or a datetime.timedelta there",
    )


def test_02_1_retries() -> None:
    guide = settings(
        CELERY_TASK_ANNOTATIONS=None, CELERY_TASK_RETRY_DELAY=60, CELERY_TASK_MAX_RETRIES=3
    )
    assert_fails(
        verdict("02.1", guide),
        "CELERY_TASK_MAX_RETRIES changed nothing: a task still waits 180 s between retries",
        "it is not a Celery setting",
    )
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ANNOTATIONS=None)),
        "a task waits 180 s between retries, not 60 s",
        "set the task option default_retry_delay",
    )
    five = settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": 60, "max_retries": 5}})
    assert_fails(verdict("02.1", five), "a task retries at most 5 times, not 3")


# --------------------------------------------------------------------------- 02.2


def make_app(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "localhost")
    port = int(env.get("REDIS_PORT", 6379))
    password = env.get("REDIS_PASSWORD")
    db = int(env.get("REDIS_DB", 0))
    auth = f":{password}@" if password else ""
    return Celery(
        "fastapi_tasks",
        broker=f"redis://{auth}{host}:{port}/{db}",
        backend=f"redis://{auth}{host}:{port}/{db + 1}",
        set_as_current=False,
    )


def test_02_2_right_answers() -> None:
    assert_passed(verdict("02.2", make_app), "passed (defaults, host, port")

    def with_conf(env: dict) -> Celery:
        app = Celery("shop", set_as_current=False)
        plain = make_app(env)
        app.conf.broker_url = plain.conf.broker_url
        app.conf.result_backend = plain.conf.result_backend
        return app

    assert_passed(verdict("02.2", with_conf))


def test_02_2_right_answer_despite_celery_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://elsewhere:1/9")
    assert_passed(verdict("02.2", make_app))


def test_02_2_keeps_the_current_app() -> None:
    import celery

    from course_tasks.app import app

    app.set_current()

    def current_app_maker(env: dict) -> Celery:
        plain = make_app(env)
        return Celery("x", broker=plain.conf.broker_url, backend=plain.conf.result_backend)

    assert_passed(verdict("02.2", current_app_maker))
    assert celery.current_app.main == "course_tasks"


def test_02_2_stub_and_types() -> None:
    def stub(env: dict) -> None: ...

    assert verdict("02.2", stub).feedback.startswith("not yet: write the body of make_app")
    assert_fails(verdict("02.2", lambda env: "redis://localhost"), "make_app returned a str")
    assert_fails(verdict("02.2", 42), "make_app is a int, not a function")


def test_02_2_keyerror() -> None:
    def strict(env: dict) -> Celery:
        return make_app({"REDIS_HOST": env["REDIS_HOST"]})

    assert_fails(
        verdict("02.2", strict),
        "make_app({}) raised KeyError: 'REDIS_HOST'",
        "a variable that is not set must fall back to its default",
    )


def test_02_2_ignores_env() -> None:
    assert_fails(
        verdict("02.2", lambda env: make_app({})),
        "ignored REDIS_HOST",
        "read the values from the env argument",
    )

    def no_port(env: dict) -> Celery:
        return make_app({k: v for k, v in env.items() if k != "REDIS_PORT"})

    assert_fails(verdict("02.2", no_port), "ignored REDIS_PORT", "read the values")


def test_02_2_password() -> None:
    def no_password(env: dict) -> Celery:
        return make_app({k: v for k, v in env.items() if k != "REDIS_PASSWORD"})

    assert_fails(
        verdict("02.2", no_password),
        "the broker URL has no password",
        "a password goes before the host",
    )

    def none_password(env: dict) -> Celery:
        password = env.get("REDIS_PASSWORD")
        db = int(env.get("REDIS_DB", 0))
        host, port = env.get("REDIS_HOST", "localhost"), env.get("REDIS_PORT", "6379")
        return Celery(
            "x",
            broker=f"redis://:{password}@{host}:{port}/{db}",
            backend=f"redis://:{password}@{host}:{port}/{db + 1}",
            set_as_current=False,
        )

    assert_fails(
        verdict("02.2", none_password),
        "the broker URL has the password 'None' though REDIS_PASSWORD is not set",
        "only put ':PASSWORD@' in the URL",
    )


def test_02_2_databases() -> None:
    def same_db(env: dict) -> Celery:
        app = make_app(env)
        app.conf.result_backend = app.conf.get("broker_url")
        return app

    assert_fails(
        verdict("02.2", same_db),
        "results would go to the broker's database 0",
        "results go to the next database",
    )

    def concatenated(env: dict) -> Celery:
        app = make_app(env)
        db = env.get("REDIS_DB", "0")
        app.conf.result_backend = app.conf.get("broker_url").rsplit("/", 1)[0] + f"/{db}1"
        return app

    assert_fails(
        verdict("02.2", concatenated),
        "the result backend uses db 01",
        "values from the environment are strings",
    )

    def no_backend(env: dict) -> Celery:
        app = make_app(env)
        app.conf.result_backend = None
        return app

    assert_fails(verdict("02.2", no_backend), "the app has no result backend", "pass it when")

    def other_host(env: dict) -> Celery:
        app = make_app(env)
        app.conf.result_backend = "redis://results:6379/1"
        return app

    assert_fails(
        verdict("02.2", other_host),
        "the result backend's host differs from the broker's",
        "both live on the same Redis server",
    )

    def amqp(env: dict) -> Celery:
        return Celery("x", broker="amqp://guest@localhost//", set_as_current=False)

    assert_fails(verdict("02.2", amqp), "not a redis:// URL")


def test_02_2_same_app_every_time() -> None:
    shared = make_app({})

    def module_level(env: dict) -> Celery:
        for key, value in make_app(env).conf.items():
            if key in ("broker_url", "result_backend"):
                shared.conf[key] = value
        return shared

    assert_fails(
        verdict("02.2", module_level),
        "make_app returned the same app for different environments",
        "create a new Celery(...) inside make_app",
    )


# --------------------------------------------------------------------------- 02.3


class LegacyConfig:
    broker_url = "redis://localhost:6379/0"
    task_serializer = "pickle"
    result_serializer = "pickle"
    accept_content = ["pickle", "json"]
    result_expires = None


class SafeConfig(LegacyConfig):
    task_serializer = "json"
    result_serializer = "json"
    accept_content = ["json"]
    result_expires = 3600


def safe(**changes: Any) -> type:
    return type("Config", (SafeConfig,), changes)


def test_02_3_right_answers() -> None:
    assert_passed(verdict("02.3", SafeConfig), "passed (json only, a pickled task is refused")
    assert_passed(verdict("02.3", safe(result_expires=timedelta(hours=1))))
    assert_passed(verdict("02.3", safe(result_accept_content=["json"])))
    assert_passed(verdict("02.3", safe(accept_content=["application/json"])))
    plain = {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 3600,
    }
    assert_passed(verdict("02.3", plain))


def test_02_3_pickle_still_accepted() -> None:
    forgot = type("Config", (LegacyConfig,), {"task_serializer": "json", "result_expires": 3600})
    assert_fails(
        verdict("02.3", forgot),
        "your config still accepts pickle",
        "accept_content decides what a worker decodes",
    )
    assert_fails(
        verdict("02.3", LegacyConfig),
        "your config still accepts pickle",
        "accept_content decides what a worker decodes",
    )


def test_02_3_other_content_types() -> None:
    assert_fails(
        verdict("02.3", safe(accept_content=["json", "yaml"])),
        "accept_content allows application/x-yaml besides json",
        "json only: one item",
    )
    assert_fails(
        verdict("02.3", safe(accept_content="json")),
        "accept_content is the string 'json'",
        "it is a list of content types",
    )


def test_02_3_serializers() -> None:
    assert_fails(
        verdict("02.3", safe(task_serializer="pickle")),
        "tasks are still sent as pickle",
        "task_serializer is what .delay() encodes",
    )
    assert_fails(
        verdict("02.3", safe(result_serializer="pickle")),
        "results are still stored as pickle",
        "result_serializer is what the worker encodes",
    )
    assert_fails(
        verdict("02.3", safe(result_accept_content=["json", "pickle"])),
        "result_accept_content still lets a client decode more than json results",
        "leave it out",
    )


def test_02_3_expiry() -> None:
    assert_fails(
        verdict("02.3", safe(result_expires=None)),
        "results never expire: result_expires is None",
        "give it a number of seconds or a timedelta",
    )
    assert_fails(
        verdict("02.3", safe(result_expires=60)),
        "results expire after 60 s, not one hour",
        "result_expires counts seconds, not minutes",
    )
    assert_fails(
        verdict("02.3", safe(result_expires=3_600_000)),
        "results expire after 1000 hours",
        "result_expires counts seconds, not milliseconds",
    )
    assert_fails(verdict("02.3", safe(result_expires=7200)), "results expire after 7200 s")
    assert_fails(
        verdict("02.3", safe(result_expires="1h")),
        "result_expires is a str ('1h')",
        "Celery wants a number of seconds",
    )


# --------------------------------------------------------------------------- 02.4

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_02_4_right_answers() -> None:
    right = datetime(2025, 3, 1, 9, 0, tzinfo=SHANGHAI)
    outcome = verdict("02.4", right)
    assert outcome.passed, outcome.feedback
    assert (
        outcome.feedback == "passed (the worker runs it at 2025-03-01 09:00 in Shanghai, 01:00 UTC)"
    )
    assert verdict("02.4", right.astimezone(timezone.utc)).passed
    assert verdict("02.4", datetime(2025, 3, 1, 9, tzinfo=timezone(timedelta(hours=8)))).passed
    assert verdict("02.4", right.isoformat()).passed


def test_02_4_naive() -> None:
    assert_fails(
        verdict("02.4", datetime(2025, 3, 1, 9, 0)),
        "the worker would run it at 2025-03-01 17:00 in Shanghai, 8 hours late",
        "a naive datetime is read as UTC, whatever timezone= says",
    )
    assert_fails(
        verdict("02.4", datetime(2025, 3, 1, 1, 0)),
        "it would run at the right moment, but only because a naive datetime is read as UTC",
        "make it aware",
    )
    assert_fails(
        verdict("02.4", "2025-03-01T09:00:00"),
        "8 hours late",
        "a naive datetime is read as UTC",
    )


def test_02_4_wrong_zone_or_type() -> None:
    assert_fails(
        verdict("02.4", datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)),
        "that is 09:00 UTC: the worker would run it at 2025-03-01 17:00 in Shanghai",
        "09:00 is Shanghai time",
    )
    assert_fails(
        verdict("02.4", datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI)),
        "the worker would run it at 2025-03-02 09:00 in Shanghai, not 2025-03-01 09:00",
    )
    assert_fails(verdict("02.4", date(2025, 3, 1)), "report_eta is a date", "use a datetime")
    assert_fails(verdict("02.4", 1740790800), "report_eta is a int, not a datetime")
    assert_fails(
        verdict("02.4", "tomorrow at nine"),
        "the worker cannot read 'tomorrow at nine' as a date and time",
        "use a datetime",
    )
