"""The checks of chapter 02: each right answer passes, each known wrong answer gets its hint."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks.checks import evaluate
from course_tasks.checks.support import local_zone

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


ROUTES = DjangoSettings.CELERY_TASK_ROUTES
EXACT = [(k, v) for k, v in ROUTES.items() if "*" not in k]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"CELERY_TASK_ROUTES": ([*EXACT, (re.compile(r"^threads\.tasks\."),
                                                       {"queue": "default"})],)}, id="regex"),
        pytest.param({"CELERY_TASK_ROUTES": [dict(EXACT), {"threads.tasks.*": "default"}]},
                     id="list-of-dicts"),
        pytest.param({"CELERY_TASK_ROUTES": ([*EXACT, ("threads.tasks.*", "default")],)},
                     id="tuple-of-pairs"),
        pytest.param({"DEBUG": True, "INSTALLED_APPS": ["threads"], "helper": "not Celery's"},
                     id="other-django-settings"),
        pytest.param({"CELERY_TASK_DEFAULT_QUEUE": "celery"}, id="default-queue-named"),
        pytest.param({"CELERY_TASK_ANNOTATIONS": [
                         {"threads.tasks.like_post": {"default_retry_delay": 60}},
                         {"*": {"default_retry_delay": 60, "max_retries": 3}}]},
                     id="annotations-list"),
    ],
)  # fmt: skip
def test_02_1_other_right_answers(changes: dict[str, Any]) -> None:
    assert_passed(verdict("02.1", settings(**changes)))


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
        "billing.tasks.charge is not a task of threads.tasks, but was routed to 'default': the "
        "route '*' matches it",
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
        "CELERY_TASK_RETRY_DELAY changed nothing: a task still waits 180 s between retries",
        "it is not a Celery setting",
    )
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ANNOTATIONS=None)),
        "a task waits 180 s between retries, not 60 s",
        "set the task option default_retry_delay",
    )
    five = settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": 60, "max_retries": 5}})
    assert_fails(
        verdict("02.1", five),
        "threads.tasks.fact_check_content retries at most 5 times, not 3",
        "max_retries counts the retries after the first try",
    )


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


def test_02_2_a_new_current_app_is_wrong_and_undone() -> None:
    import celery

    from course_tasks.app import app

    app.set_current()

    def current_app_maker(env: dict) -> Celery:
        plain = make_app(env)
        return Celery("x", broker=plain.conf.broker_url, backend=plain.conf.result_backend)

    assert_fails(
        verdict("02.2", current_app_maker),
        "make_app made the new app Celery's current app",
        'Celery("fastapi_tasks", ..., set_as_current=False)',
    )
    assert celery.current_app.main == "course_tasks"


def test_02_2_stub_and_types() -> None:
    def stub(env: dict) -> None: ...

    assert verdict("02.2", stub).feedback.startswith("not yet: write the body of make_app")
    assert_fails(verdict("02.2", lambda env: "redis://localhost"), "make_app returned a str")
    assert_fails(verdict("02.2", 42), "make_app is an int, not a function")


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
        "read REDIS_HOST from env, the dict make_app is given",
    )

    def no_port(env: dict) -> Celery:
        return make_app({k: v for k, v in env.items() if k != "REDIS_PORT"})

    assert_fails(verdict("02.2", no_port), "ignored REDIS_PORT", "read REDIS_PORT from env")


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
        "make_app({'REDIS_HOST': 'redis', 'REDIS_PORT': '6380', 'REDIS_PASSWORD': 'root', "
        "'REDIS_DB': '2'}) returned the same app as an earlier call, make_app({}), not a new one",
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
        "broker_url": "redis://localhost:6379/0",
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 3600,
    }
    assert_passed(verdict("02.3", plain))
    # a class of its own, with LegacyConfig's broker spelt another way that means the same
    fresh = type("Fresh", (), {**plain, "broker_url": "redis://localhost:6379"})
    assert_passed(verdict("02.3", fresh), "on guide 001's Redis")


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
    pytz = pytest.importorskip("pytz")
    assert verdict("02.4", pytz.timezone("Asia/Shanghai").localize(datetime(2025, 3, 1, 9))).passed


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
        "report_eta is a str ('2025-03-01T09:00:00'), not a datetime",
        "give the aware datetime itself",
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
    assert_fails(
        verdict("02.4", 1740790800), "report_eta is an int, not a datetime", "use an aware datetime"
    )
    assert_fails(
        verdict("02.4", "tomorrow at nine"),
        "report_eta is a str ('tomorrow at nine'), not a datetime",
        "give the aware datetime itself",
    )


def test_02_4_astimezone_on_a_naive_datetime_names_the_machine_zone() -> None:
    with local_zone("Europe/Berlin"):  # the kernel's zone when the learner's cell ran
        eta = datetime(2025, 3, 1, 9, 0).astimezone(SHANGHAI)
        assert_fails(
            verdict("02.4", eta),
            "that is 09:00 in this machine's time zone (CET), converted: the worker would run "
            "it at 2025-03-01 16:00 in Shanghai",
            ".astimezone(zone) on a naive datetime takes it as the machine's local time",
        )


# --------------------------------------------------------------------------- adversary round 1
# Every wrong answer of .adversary/ch02_r1.py, with the problem and the hint it gets.

RETRIES = {"*": {"default_retry_delay": 60, "max_retries": 3}}


def routes_with(rest: Any) -> dict[str, Any]:
    """Guide 002's two exact routes, then ``rest`` for every other task."""
    return {
        "threads.tasks.fact_check_content": {"queue": "ai_queue"},
        "threads.tasks.process_image": {"queue": "image_queue"},
        **rest,
    }


class DS_GuideSettings:  # guide 002's made-up settings: Celery never reads them
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_RETRY_DELAY = 60
    CELERY_TASK_MAX_RETRIES = 3


class DS_NoPrefix:  # Celery names without CELERY_: Django's settings drop them
    result_expires = 3600
    task_routes = ROUTES
    task_annotations = RETRIES


class DS_CatchAllGlob:  # "*": every task goes to default
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = routes_with({"*": {"queue": "default"}})
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_ThreadsGlob:  # "threads.*": also threads.admin.*, threads.models.* ...
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = routes_with({"threads.*": {"queue": "default"}})
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_AnyTasksGlob:  # "*.tasks.*": every app's tasks module
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = routes_with({"*.tasks.*": {"queue": "default"}})
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_TasksGlobNoDot:  # "threads.tasks*": also threads.tasks_legacy.x
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = routes_with({"threads.tasks*": {"queue": "default"}})
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_RoutesListOfPairs:  # the list-of-pairs form without the outer tuple: malformed
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = [
        ("threads.tasks.fact_check_content", {"queue": "ai_queue"}),
        ("threads.tasks.process_image", {"queue": "image_queue"}),
        ("threads.tasks.*", {"queue": "default"}),
    ]
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_UnanchoredRegex:  # unescaped dots, no end: threads_tasks.x and threads.tasks_old.x
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = (
        [
            ("threads.tasks.fact_check_content", {"queue": "ai_queue"}),
            ("threads.tasks.process_image", {"queue": "image_queue"}),
            (re.compile(r"threads.tasks"), {"queue": "default"}),
        ],
    )
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_DefaultQueue:  # renames the default queue: tasks elsewhere go to "default" too
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_DEFAULT_QUEUE = "default"
    CELERY_TASK_ROUTES = routes_with({})
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_AnnotateOneTask:  # retry options on fact_check_content only
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_ANNOTATIONS = {
        "threads.tasks.fact_check_content": {"default_retry_delay": 60, "max_retries": 3},
    }


class DS_AnnotateGlob:  # task_annotations has no globs: nothing applied
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_ANNOTATIONS = {"threads.tasks.*": {"default_retry_delay": 60, "max_retries": 3}}


class DS_AnnotateWrongKey:  # "retry_delay" is no task option
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_ANNOTATIONS = {"*": {"retry_delay": 60, "max_retries": 3}}


class DS_MaxRetries4:  # "at most 3 retries" read as 4 attempts
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_ANNOTATIONS = {"*": {"default_retry_delay": 60, "max_retries": 4}}


class DS_ExpiresMinutes:  # 60 meaning "60 minutes"
    CELERY_RESULT_EXPIRES = 60
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_ExpiresMissing:  # result expiry forgotten: 1 day
    CELERY_TASK_ROUTES = ROUTES
    CELERY_TASK_ANNOTATIONS = RETRIES


class DS_ChapterQueueName:  # the chapter's "image" queue, not image_queue
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = {**ROUTES, "threads.tasks.process_image": {"queue": "image"}}
    CELERY_TASK_ANNOTATIONS = RETRIES


TOO_WIDE = "your pattern is too wide: the glob 'threads.tasks.*' matches exactly the names"
EVERY_TASK = "give them to every task: CELERY_TASK_ANNOTATIONS = {'*': {...}}"
DELAY_180 = "a task waits 180 s between retries, not 60 s"
DELAY_HINT = "set the task option default_retry_delay for every task"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(DS_GuideSettings, "CELERY_TASK_RETRY_DELAY changed nothing: a task still "
                     "waits 180 s between retries", "it is not a Celery setting",
                     id="guide-settings"),
        pytest.param(DS_NoPrefix, "DjangoSettings spells result_expires, task_annotations, "
                     "task_routes in lower case: Django's settings keep only UPPER-case names",
                     "with namespace='CELERY' each setting is spelt CELERY_ + its name in upper "
                     "case", id="no-prefix"),
        pytest.param(DS_CatchAllGlob, "billing.tasks.charge is not a task of threads.tasks, "
                     "but was routed to 'default': the route '*' matches it", TOO_WIDE,
                     id="catch-all-glob"),
        pytest.param(DS_ThreadsGlob, "threads.models.cleanup is not a task of threads.tasks, "
                     "but was routed to 'default': the route 'threads.*' matches it", TOO_WIDE,
                     id="threads-glob"),
        pytest.param(DS_AnyTasksGlob, "billing.tasks.charge is not a task of threads.tasks, "
                     "but was routed to 'default': the route '*.tasks.*' matches it", TOO_WIDE,
                     id="any-tasks-glob"),
        pytest.param(DS_TasksGlobNoDot, "threads.tasks_legacy.reindex is not a task of "
                     "threads.tasks, but was routed to 'default': the route 'threads.tasks*' "
                     "matches it", TOO_WIDE, id="tasks-glob-no-dot"),
        pytest.param(DS_RoutesListOfPairs, "Celery cannot use your CELERY_TASK_ROUTES: routing "
                     "a task raised ValueError: too many values to unpack", "give a dict, "
                     "{pattern: route, ...}", id="routes-list-of-pairs"),
        pytest.param(DS_UnanchoredRegex, "threads.tasks_legacy.reindex is not a task of "
                     "threads.tasks, but was routed to 'default': the route 'threads.tasks' "
                     "matches it", TOO_WIDE, id="unanchored-regex"),
        pytest.param(DS_DefaultQueue, "CELERY_TASK_DEFAULT_QUEUE renames Celery's default "
                     "queue to 'default': every task without a route goes there",
                     "leave the default queue as it is", id="default-queue"),
        pytest.param(DS_AnnotateOneTask, "threads.tasks.like_post still waits 180 s between "
                     "retries: the retry options reach only threads.tasks.fact_check_content",
                     EVERY_TASK, id="annotate-one-task"),
        pytest.param(DS_AnnotateGlob, DELAY_180, DELAY_HINT, id="annotate-glob"),
        pytest.param(DS_AnnotateWrongKey, DELAY_180, DELAY_HINT, id="annotate-wrong-key"),
        pytest.param(DS_MaxRetries4, "threads.tasks.fact_check_content retries at most 4 "
                     "times, not 3", "max_retries counts the retries after the first try",
                     id="max-retries-4"),
        pytest.param(DS_ExpiresMinutes, "results expire after 60 s, not one hour",
                     "CELERY_RESULT_EXPIRES counts seconds, not minutes", id="expires-minutes"),
        pytest.param(DS_ExpiresMissing, "results still expire after 1 day, Celery's default",
                     "did you set CELERY_RESULT_EXPIRES?", id="expires-missing"),
        pytest.param(DS_ChapterQueueName, "threads.tasks.process_image was routed to 'image', "
                     "not 'image_queue'", None, id="chapter-queue-name"),
    ],
)  # fmt: skip
def test_02_1_adversary_answers(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.1", answer), problem, hint)


def test_02_1_eager_settings() -> None:
    assert_fails(
        verdict("02.1", settings(CELERY_TASK_ALWAYS_EAGER=True)),
        "CELERY_TASK_ALWAYS_EAGER is on: every task would run right in the caller",
        "leave it out",
    )


def _parts(env: dict) -> tuple[str, int, str | None, int]:
    host = env.get("REDIS_HOST", "localhost")
    port = int(env.get("REDIS_PORT", "6379"))
    password = env.get("REDIS_PASSWORD")
    db = int(env.get("REDIS_DB", "0"))
    return host, port, password, db


def _server(host: str, port: int, password: str | None) -> str:
    return f"redis://:{password}@{host}:{port}" if password else f"redis://{host}:{port}"


def make_app_same_db(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db}",
                  set_as_current=False)  # fmt: skip


def make_app_no_password(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = f"redis://{host}:{port}"  # REDIS_PASSWORD never used
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_password_no_colon(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = f"redis://{password}@{host}:{port}" if password else f"redis://{host}:{port}"
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_password_broker_only(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    return Celery("fastapi_tasks", broker=f"{_server(host, port, password)}/{db}",
                  backend=f"redis://{host}:{port}/{db + 1}", set_as_current=False)  # fmt: skip


def make_app_backend_db_1(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/1",
                  set_as_current=False)  # fmt: skip


def make_app_fixed_dbs(env: dict) -> Celery:
    host, port, password, _ = _parts(env)
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/0", backend=f"{server}/1",
                  set_as_current=False)  # fmt: skip


def make_app_port_ignored(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = f"redis://:{password}@{host}" if password else f"redis://{host}"
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_backend_localhost(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    return Celery("fastapi_tasks", broker=f"{_server(host, port, password)}/{db}",
                  backend=f"redis://localhost:6379/{db + 1}", set_as_current=False)  # fmt: skip


def make_app_str_db(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "localhost")
    port = env.get("REDIS_PORT", 6379)
    password = env.get("REDIS_PASSWORD")
    db = env.get("REDIS_DB", 0)  # a str when set: db + 1 fails
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_compose_host(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "redis")  # docker compose's service name
    _, port, password, db = _parts(env)
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_no_defaults(env: dict) -> Celery:
    host, port, db = env["REDIS_HOST"], env["REDIS_PORT"], int(env["REDIS_DB"])  # KeyError
    server = _server(host, port, env.get("REDIS_PASSWORD"))
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_current(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = _server(host, port, password)
    return Celery(
        "fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}"
    )  # becomes the kernel's current app


def make_app_backend_kwarg_typo(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}",
                  result_backend_url=f"{server}/{db + 1}",  # no such setting: no backend
                  set_as_current=False)  # fmt: skip


_shared = Celery("fastapi_tasks", set_as_current=False)


def make_app_shared(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = _server(host, port, password)
    _shared.conf.broker_url = f"{server}/{db}"  # one module-level app, reconfigured
    _shared.conf.result_backend = f"{server}/{db + 1}"
    return _shared


FULL_ENV = "make_app({'REDIS_HOST': 'redis', 'REDIS_PORT': '6380', 'REDIS_PASSWORD': 'root', "
SAME_SERVER = "both live on the same Redis server; only the database number differs"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(make_app_same_db, "make_app({}): results would go to the broker's "
                     "database 0", "results go to the next database, REDIS_DB + 1",
                     id="same-db"),
        pytest.param(make_app_no_password, FULL_ENV + "'REDIS_DB': '2'}): the broker URL has "
                     "no password", "a password goes before the host", id="no-password"),
        pytest.param(make_app_password_no_colon, "the broker URL has no password",
                     "a password goes before the host: redis://:PASSWORD@host:port/db",
                     id="password-no-colon"),
        pytest.param(make_app_password_broker_only, "the result backend's password differs "
                     "from the broker's", SAME_SERVER, id="password-broker-only"),
        pytest.param(make_app_backend_db_1, "the result backend uses db 1, not 3", None,
                     id="backend-db-1"),
        pytest.param(make_app_fixed_dbs, "the broker uses db 0, not 2", None, id="fixed-dbs"),
        pytest.param(make_app_port_ignored, "the broker URL 'redis://:root@redis/2' has no "
                     "port, so Redis's default 6379 is used, not 6380", "put the port in the "
                     "URL: redis://host:port/db", id="port-ignored"),
        pytest.param(make_app_backend_localhost, "the result backend's host differs from the "
                     "broker's", SAME_SERVER, id="backend-localhost"),
        pytest.param(make_app_str_db, FULL_ENV + "'REDIS_DB': '2'}) raised TypeError: can only "
                     "concatenate str", "values from the environment are strings: int() "
                     "REDIS_DB before you add 1", id="str-db"),
        pytest.param(make_app_compose_host, "make_app({}): the broker's host is 'redis', not "
                     "'localhost'", None, id="compose-host"),
        pytest.param(make_app_no_defaults, "make_app({}) raised KeyError: 'REDIS_HOST'",
                     "a variable that is not set must fall back to its default",
                     id="no-defaults"),
        pytest.param(make_app_backend_kwarg_typo, "the app has no result backend",
                     "pass it when you create the app", id="backend-kwarg-typo"),
        pytest.param(make_app_shared, "returned the same app as an earlier call, make_app({}), "
                     "not a new one", "create a new Celery(...) inside make_app",
                     id="shared-app"),
        # the adversary's "arguable" answer: the exercise text now asks for it
        pytest.param(make_app_current, "make_app made the new app Celery's current app",
                     'Celery("fastapi_tasks", ..., set_as_current=False)',
                     id="current-app"),
    ],
)  # fmt: skip
def test_02_2_adversary_answers(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.2", answer), problem, hint)


class AdvLegacyConfig:  # guide 001 §12: "more flexible but unsafe"
    broker_url = "redis://localhost:6379/0"
    task_serializer = "pickle"
    result_serializer = "pickle"
    accept_content = ["pickle", "json"]


def legacy(**changes: Any) -> type:
    return type("Config", (AdvLegacyConfig,), changes)


JSON_BOTH = {"task_serializer": "json", "result_serializer": "json"}
SAFE = {**JSON_BOTH, "accept_content": ["json"]}


class SC_Init(AdvLegacyConfig):  # settings set on instances; the class is what is loaded
    def __init__(self) -> None:
        self.task_serializer = "json"
        self.result_serializer = "json"
        self.accept_content = ["json"]
        self.result_expires = 3600


STILL_PICKLE = "your config still accepts pickle"
PICKLE_HINT = "accept_content decides what a worker decodes"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(legacy(**JSON_BOTH, result_expires=3600), STILL_PICKLE, PICKLE_HINT,
                     id="serializers-only"),
        pytest.param(legacy(accept_content=["json"], result_expires=3600),
                     "tasks are still sent as pickle", "task_serializer is what .delay() "
                     "encodes", id="accept-only"),
        pytest.param(legacy(task_serializer="json", accept_content=["json"], result_expires=3600),
                     "results are still stored as pickle", "result_serializer is what the "
                     "worker encodes", id="result-pickle"),
        pytest.param(legacy(**JSON_BOTH, result_accept_content=["json"], result_expires=3600),
                     STILL_PICKLE, PICKLE_HINT, id="result-accept-content"),
        pytest.param(legacy(**JSON_BOTH, accept_content=["json", "yaml"], result_expires=3600),
                     "accept_content allows application/x-yaml besides json",
                     "json only: one item", id="yaml-too"),
        pytest.param(legacy(**SAFE, result_accept_content=["json", "pickle"],
                            result_expires=3600),
                     "result_accept_content still lets a client decode more than json results",
                     "leave it out", id="result-accept-pickle"),
        pytest.param(legacy(**SAFE, result_expires=60), "results expire after 60 s, not one "
                     "hour", "result_expires counts seconds, not minutes",
                     id="expires-minutes"),
        pytest.param(legacy(**SAFE), "results still expire after 1 day, Celery's default",
                     "did you set result_expires?", id="expires-missing"),
        pytest.param(legacy(**JSON_BOTH, accept_content="json", result_expires=3600),
                     "accept_content is the string 'json'", "it is a list of content types",
                     id="accept-str"),
        pytest.param(legacy(CELERY_TASK_SERIALIZER="json", CELERY_RESULT_SERIALIZER="json",
                            CELERY_ACCEPT_CONTENT=["json"], CELERY_TASK_RESULT_EXPIRES=3600),
                     "Celery refuses this configuration: it mixes old setting names (Celery "
                     "3's CELERY_...) with the new lower-case ones (CELERY_TASK_RESULT_EXPIRES "
                     "-> result_expires)", "use the new names only", id="old-names"),
        pytest.param(legacy(task_serializer="yaml", result_serializer="yaml",
                            accept_content=["yaml"], result_expires=3600),
                     "accept_content = ['yaml'] does not let json through: a worker with "
                     "your config would refuse every task message, json ones too",
                     "list json itself: ['json']", id="yaml"),
        pytest.param(SC_Init, STILL_PICKLE, PICKLE_HINT, id="init"),
        pytest.param(legacy(**SAFE, result_expires=timedelta(minutes=1)), "results expire "
                     "after 60 s, not one hour", "result_expires counts seconds",
                     id="expires-1-minute"),
    ],
)  # fmt: skip
def test_02_3_adversary_answers(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.3", answer), problem, hint)


NINE = datetime(2025, 3, 1, 9, 0)
STR_HINT = "give the aware datetime itself"


def _pytz_eta() -> Any:
    pytz = pytest.importorskip("pytz")
    return NINE.replace(tzinfo=pytz.timezone("Asia/Shanghai"))  # LMT +08:06


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(lambda: NINE, "the worker would run it at 2025-03-01 17:00 in Shanghai, 8 "
                     "hours late", "a naive datetime is read as UTC", id="naive"),
        pytest.param(lambda: NINE.replace(tzinfo=timezone.utc), "that is 09:00 UTC: the worker "
                     "would run it at 2025-03-01 17:00 in Shanghai", "09:00 is Shanghai time",
                     id="utc-nine"),
        pytest.param(lambda: datetime(2025, 3, 1, 1, 0), "it would run at the right moment, "
                     "but only because a naive datetime is read as UTC", "make it aware",
                     id="naive-utc-equivalent"),
        pytest.param(lambda: NINE.astimezone(SHANGHAI), "that is 09:00 UTC converted to "
                     "Shanghai time", ".astimezone(zone) converts and keeps the moment",
                     id="astimezone-naive"),
        pytest.param(_pytz_eta, "the worker would run it at 2025-03-01 08:54 in Shanghai",
                     "tzinfo=pytz.timezone(...) gives the zone's first offset in history",
                     id="pytz-tzinfo"),
        pytest.param(lambda: NINE.replace(tzinfo=ZoneInfo("Etc/GMT+8")), "the worker would run "
                     "it at 2025-03-02 01:00 in Shanghai", "Etc/GMT+8 is UTC-8: the Etc zones "
                     "reverse the sign", id="etc-gmt-plus8"),
        pytest.param(lambda: "2025-03-01T09:00:00+08:00", "report_eta is a str "
                     "('2025-03-01T09:00:00+08:00'), not a datetime", STR_HINT,
                     id="iso-string"),
        pytest.param(lambda: "2025-03-01T01:00:00", "report_eta is a str "
                     "('2025-03-01T01:00:00'), not a datetime", STR_HINT,
                     id="iso-string-naive-utc"),
        pytest.param(lambda: datetime(2025, 1, 3, 9, 0, tzinfo=SHANGHAI), "the worker would "
                     "run it at 2025-01-03 09:00 in Shanghai, not 2025-03-01 09:00", None,
                     id="day-month"),
        pytest.param(lambda: datetime.now(SHANGHAI).replace(hour=9, minute=0, second=0,
                                                             microsecond=0),
                     "in Shanghai, not 2025-03-01 09:00", None, id="today"),
        pytest.param(lambda: NINE.replace(tzinfo=ZoneInfo("Asia/Tokyo")), "the worker would "
                     "run it at 2025-03-01 08:00 in Shanghai", "your datetime says 09:00 in a zone "
                     "at UTC+09:00, not at Shanghai's +08:00", id="tokyo"),
        pytest.param(lambda: datetime(2025, 3, 1, 17, 0), "the worker would run it at "
                     "2025-03-02 01:00 in Shanghai", None, id="naive-wrong-way"),
        pytest.param(lambda: NINE.replace(tzinfo=SHANGHAI).timestamp(), "report_eta is a "
                     "float, not a datetime", "use an aware datetime", id="timestamp"),
    ],
)  # fmt: skip
def test_02_4_adversary_answers(make: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.4", make()), problem, hint)


# --------------------------------------------------------------------------- adversary round 2
# Every wrong answer of .adversary/ch02_r2.py, with the problem and the hint it gets.

R2_ROUTES = routes_with({"threads.tasks.*": {"queue": "default"}})


class R2_GlobNoDot:  # "threads.tasks*": threads.tasks_legacy.x too
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = routes_with({"threads.tasks*": {"queue": "default"}})
    CELERY_TASK_ANNOTATIONS = RETRIES


class R2_UnescapedRegex:  # the dots match any character
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = (
        [
            ("threads.tasks.fact_check_content", {"queue": "ai_queue"}),
            ("threads.tasks.process_image", {"queue": "image_queue"}),
            (re.compile(r"threads.tasks.*"), {"queue": "default"}),
        ],
    )
    CELERY_TASK_ANNOTATIONS = RETRIES


class R2_MaxRetriesByDefault:  # 3 retries only because 3 is Celery's default
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = R2_ROUTES
    CELERY_TASK_ANNOTATIONS = {"*": {"default_retry_delay": 60}}


class R2_RetryDelayString:  # "60", as read from an env file
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = R2_ROUTES
    CELERY_TASK_ANNOTATIONS = {"*": {"default_retry_delay": "60", "max_retries": 3}}


class R2_MaxRetriesString:
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = R2_ROUTES
    CELERY_TASK_ANNOTATIONS = {"*": {"default_retry_delay": 60, "max_retries": "3"}}


class R2_OldResultName:  # Celery 3's name, still mapped by Celery 5, deprecated
    CELERY_TASK_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = R2_ROUTES
    CELERY_TASK_ANNOTATIONS = RETRIES


class R2_OldRoutesName:  # Celery 3's CELERY_ROUTES
    CELERY_RESULT_EXPIRES = 3600
    CELERY_ROUTES = R2_ROUTES
    CELERY_TASK_ANNOTATIONS = RETRIES


class R2_MixedCase:  # Django's settings drop a name that is not all upper case
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = R2_ROUTES
    CELERY_task_annotations = RETRIES


class R2_RetryBackoff:  # backoff is for autoretry_for; self.retry() still waits 180 s
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = R2_ROUTES
    CELERY_TASK_ANNOTATIONS = {"*": {"retry_backoff": 60, "max_retries": 3}}


def _threads_router(name: str, *args: Any, **kwargs: Any) -> Any:
    exact = routes_with({})
    if name in exact:
        return exact[name]
    if name.startswith("threads.tasks"):  # no dot: threads.tasks_legacy too
        return {"queue": "default"}
    return None


class R2_RouterStartswith:
    CELERY_RESULT_EXPIRES = 3600
    CELERY_TASK_ROUTES = (_threads_router,)
    CELERY_TASK_ANNOTATIONS = RETRIES


OWN_TEN = "threads.tasks.process_image, declared with max_retries=10 of its own, still retries "
LEGACY = "threads.tasks_legacy.reindex is not a task of threads.tasks, but was routed to 'default'"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(R2_GlobNoDot, LEGACY + ": the route 'threads.tasks*' matches it", TOO_WIDE,
                     id="glob-no-dot"),
        pytest.param(R2_UnescapedRegex, LEGACY + ": the route 'threads.tasks.*' matches it",
                     TOO_WIDE, id="unescaped-regex"),
        pytest.param(R2_MaxRetriesByDefault, OWN_TEN + "at most 10 times, not 3: your settings "
                     "leave max_retries alone, and the other tasks stop after 3 only because 3 "
                     "is Celery's default", "set max_retries=3 as well (an annotation overrides "
                     "a task's own options), for every task: CELERY_TASK_ANNOTATIONS = "
                     "{'*': {...}}", id="max-retries-by-default"),
        pytest.param(R2_RetryDelayString, "threads.tasks.fact_check_content gets "
                     "default_retry_delay='60', a string, not a number", "write the number "
                     "itself, without quotes: default_retry_delay: 60",
                     id="retry-delay-string"),
        pytest.param(R2_MaxRetriesString, "threads.tasks.fact_check_content gets "
                     "max_retries='3', a string, not a number", "write the number itself, "
                     "without quotes: max_retries: 3", id="max-retries-string"),
        pytest.param(R2_OldResultName, "CELERY_TASK_RESULT_EXPIRES is Celery 3's old name of "
                     "the setting result_expires: Celery 5 still maps it, but it is deprecated",
                     "spell it with the setting's current name: CELERY_RESULT_EXPIRES",
                     id="old-result-name"),
        pytest.param(R2_OldRoutesName, "CELERY_ROUTES is Celery 3's old name of the setting "
                     "task_routes", "spell it with the setting's current name: "
                     "CELERY_TASK_ROUTES", id="old-routes-name"),
        pytest.param(R2_MixedCase, "DjangoSettings spells CELERY_task_annotations in lower "
                     "case", "with namespace='CELERY' each setting is spelt CELERY_ + its name "
                     "in upper case", id="mixed-case-name"),
        pytest.param(R2_RetryBackoff, DELAY_180, DELAY_HINT, id="retry-backoff"),
        pytest.param(R2_RouterStartswith, LEGACY + ": a route matches it", TOO_WIDE,
                     id="router-startswith"),
    ],
)  # fmt: skip
def test_02_1_adversary_round_2(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.1", answer), problem, hint)


def test_02_1_two_star_annotations_only_the_first_applies() -> None:
    """Was a right answer until round 2: the second '*' never applies; 3 was the default."""
    two = settings(CELERY_TASK_ANNOTATIONS=[{"*": {"default_retry_delay": 60}},
                                            {"*": {"max_retries": 3}}])  # fmt: skip
    assert_fails(
        verdict("02.1", two),
        OWN_TEN + "at most 10 times, not 3: of your annotations only the first that matches a "
        "task applies (the first '*')",
        "put every option in one annotation",
    )


def test_02_1_a_task_s_own_retry_options_are_overridden() -> None:
    """The solution's annotation gives 60 s and 3 retries to a task that declares others."""
    assert_passed(verdict("02.1", DjangoSettings))
    app = Celery("own", set_as_current=False)
    app.config_from_object(DjangoSettings, namespace="CELERY")

    @app.task(name="threads.tasks.process_image", shared=False, max_retries=10,
              default_retry_delay=5)  # fmt: skip
    def process_image() -> None: ...

    assert (process_image.max_retries, process_image.default_retry_delay) == (3, 60)


def make_app_backend_without_password(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    broker = f"{_server(host, port, password)}/{db}"
    return Celery("fastapi_tasks", broker=broker, backend=f"redis://{host}:{port}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_backend_default_port(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    auth = f":{password}@" if password else ""
    return Celery("fastapi_tasks", broker=f"redis://{auth}{host}:{port}/{db}",
                  backend=f"redis://{auth}{host}/{db + 1}", set_as_current=False)  # fmt: skip


def make_app_password_as_user(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = f"redis://{password}@{host}:{port}" if password else f"redis://{host}:{port}"
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def _from_env_or_os(env: dict) -> tuple[str, int, str | None, int]:
    def get(key: str, default: Any) -> Any:
        return env.get(key) or os.environ.get(key) or default  # the kernel's own environment

    return (get("REDIS_HOST", "localhost"), int(get("REDIS_PORT", "6379")),
            get("REDIS_PASSWORD", None), int(get("REDIS_DB", "0")))  # fmt: skip


def make_app_process_env_fallback(env: dict) -> Celery:
    host, port, password, db = _from_env_or_os(env)
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_os_environ_only(env: dict) -> Celery:
    return make_app(dict(os.environ))  # env is never read


def make_app_os_environ_db(env: dict) -> Celery:
    host, port, password, _ = _parts(env)
    db = int(env.get("REDIS_DB") or os.environ.get("REDIS_DB", "0"))
    server = _server(host, port, password)
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


_singleton: list[Celery] = []


def make_app_singleton(env: dict) -> Celery:
    if not _singleton:  # "create the app once", a module global
        _singleton.append(make_app(env))
    return _singleton[0]


def make_app_typo_backend_setting(env: dict) -> Celery:
    host, port, password, db = _parts(env)
    server = _server(host, port, password)
    new = Celery("fastapi_tasks", set_as_current=False)
    new.conf.update(broker_url=f"{server}/{db}", result_backend_url=f"{server}/{db + 1}")
    return new


def make_app_password_env_name(env: dict) -> Celery:
    host, port, _, db = _parts(env)
    server = _server(host, port, env.get("REDIS_PASS"))  # not REDIS_PASSWORD
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


KERNEL_ENV_HINT = "read only env, the dict make_app is given, and fall back to the default"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(make_app_backend_without_password, FULL_ENV + "'REDIS_DB': '2'}): the "
                     "result backend's password differs from the broker's", SAME_SERVER,
                     id="backend-no-password"),
        pytest.param(make_app_backend_default_port, FULL_ENV + "'REDIS_DB': '2'}): the result "
                     "backend's port differs from the broker's", SAME_SERVER,
                     id="backend-default-port"),
        pytest.param(make_app_password_as_user, FULL_ENV + "'REDIS_DB': '2'}): the broker URL "
                     "has no password", "a password goes before the host",
                     id="password-as-user"),
        pytest.param(make_app_process_env_fallback, "make_app({}): the broker URL's host is "
                     "'kernel-redis', the value of REDIS_HOST in this process's own environment "
                     "(os.environ), which env does not set", KERNEL_ENV_HINT,
                     id="process-env-fallback"),
        pytest.param(make_app_os_environ_only, "make_app({}): the broker URL's host is "
                     "'kernel-redis', the value of REDIS_HOST", KERNEL_ENV_HINT,
                     id="os-environ-only"),
        pytest.param(make_app_os_environ_db, "make_app({}): the broker URL's db is '5', the "
                     "value of REDIS_DB in this process's own environment", KERNEL_ENV_HINT,
                     id="os-environ-db"),
        pytest.param(make_app_singleton, FULL_ENV + "'REDIS_DB': '2'}) returned the same app "
                     "as an earlier call, make_app({}), not a new one for this environment",
                     "create a new Celery(...) inside make_app on every call",
                     id="singleton-global"),
        pytest.param(make_app_typo_backend_setting, "the app has no result backend",
                     "pass it when you create the app", id="typo-backend-setting"),
        pytest.param(make_app_password_env_name, FULL_ENV + "'REDIS_DB': '2'}): the broker URL "
                     "has no password", "a password goes before the host",
                     id="password-env-name"),
    ],
)  # fmt: skip
def test_02_2_adversary_round_2(answer: Any, problem: str, hint: str | None) -> None:
    _singleton.clear()
    assert_fails(verdict("02.2", answer), problem, hint)


def test_02_2_the_kernel_environment_is_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "learner-host")
    monkeypatch.delenv("REDIS_DB", raising=False)
    assert_passed(verdict("02.2", make_app))
    assert os.environ["REDIS_HOST"] == "learner-host"
    assert "REDIS_DB" not in os.environ


R2_ALSO_MSGPACK = legacy(**JSON_BOTH, accept_content=["json", "msgpack"], result_expires=3600)
R2_PICKLED_RESULTS = legacy(**SAFE, result_accept_content=["json", "pickle"], result_expires=3600)
MIME_TYPES = ["application/json", "application/x-python-serialize"]  # pickle's among them
R2_MIME_PICKLE = legacy(**JSON_BOTH, accept_content=MIME_TYPES, result_expires=3600)
R2_STRING_NOT_TUPLE = legacy(**JSON_BOTH, accept_content=("json"), result_expires=3600)  # a str
R2_MSGPACK_TASKS = legacy(
    task_serializer="msgpack",
    result_serializer="json",
    accept_content=["msgpack", "json"],
    result_expires=3600,
)
R2_MSGPACK_JSON_ACCEPT = legacy(
    task_serializer="msgpack",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
)
R2_TIMEDELTA_MINUTES = legacy(**SAFE, result_expires=timedelta(minutes=3600))  # 60 hours


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(R2_ALSO_MSGPACK, "accept_content allows application/x-msgpack besides json",
                     "json only: one item", id="also-msgpack"),
        pytest.param(R2_PICKLED_RESULTS, "result_accept_content still lets a client decode more "
                     "than json results", "leave it out", id="pickled-results"),
        pytest.param(R2_MIME_PICKLE, STILL_PICKLE, PICKLE_HINT, id="mime-pickle"),
        pytest.param(SC_Init, STILL_PICKLE, PICKLE_HINT, id="set-in-init"),
        pytest.param(R2_STRING_NOT_TUPLE, "accept_content is the string 'json'",
                     "it is a list of content types", id="string-not-tuple"),
        pytest.param(R2_MSGPACK_TASKS, "accept_content allows application/x-msgpack besides "
                     "json", "json only: one item", id="msgpack-tasks"),
        pytest.param(R2_MSGPACK_JSON_ACCEPT, "tasks are still sent as msgpack",
                     "task_serializer is what .delay() encodes", id="msgpack-tasks-json-accept"),
        pytest.param(R2_TIMEDELTA_MINUTES, "results expire after 216000 s, not one hour (3600 "
                     "s)", None, id="timedelta-minutes"),
    ],
)  # fmt: skip
def test_02_3_adversary_round_2(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.3", answer), problem, hint)


def _naive_astimezone() -> datetime:
    return NINE.astimezone(SHANGHAI)  # read in the machine's zone first


def _now_replace_keeps_seconds() -> datetime:
    moment = datetime.now(SHANGHAI).replace(year=2025, month=3, day=1, hour=9, minute=0)
    return moment.replace(second=17, microsecond=250000)  # what now() left there, made fixed


def _now_replace_keeps_year() -> datetime:
    return datetime.now(SHANGHAI).replace(month=3, day=1, hour=9, minute=0, second=0,
                                          microsecond=0, year=2026)  # fmt: skip


def _maybe_make_aware() -> datetime:
    from celery.utils.time import maybe_make_aware

    return maybe_make_aware(NINE)  # UTC, not the app's zone


def _course_app_zone() -> datetime:
    from course_tasks import app

    return NINE.replace(tzinfo=app.timezone)  # the course's app: UTC


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(_pytz_eta, "the worker would run it at 2025-03-01 08:54 in Shanghai",
                     "tzinfo=pytz.timezone(...) gives the zone's first offset in history",
                     id="pytz-lmt"),
        pytest.param(_naive_astimezone, "that is 09:00 UTC converted to Shanghai time",
                     ".astimezone(zone) converts and keeps the moment", id="naive-astimezone"),
        pytest.param(_now_replace_keeps_seconds, "the worker would run it at 2025-03-01 "
                     "09:00:17.250000 in Shanghai, not 2025-03-01 09:00:00: the datetime has "
                     "17.25 s beyond 09:00", "datetime.now(...).replace(...) keeps the seconds "
                     "and microseconds of now: set second=0 and microsecond=0 too",
                     id="now-replace-keeps-seconds"),
        pytest.param(_now_replace_keeps_year, "the worker would run it at 2026-03-01 09:00 in "
                     "Shanghai, not 2025-03-01 09:00", None, id="now-replace-keeps-year"),
        pytest.param(_maybe_make_aware, "that is 09:00 UTC: the worker would run it at "
                     "2025-03-01 17:00 in Shanghai", "09:00 is Shanghai time",
                     id="maybe-make-aware-utc"),
        pytest.param(lambda: datetime(2025, 1, 3, 9, 0, tzinfo=SHANGHAI), "the worker would "
                     "run it at 2025-01-03 09:00 in Shanghai, not 2025-03-01 09:00", None,
                     id="day-month-swapped"),
        pytest.param(_course_app_zone, "that is 09:00 UTC: the worker would run it at "
                     "2025-03-01 17:00 in Shanghai", "09:00 is Shanghai time",
                     id="course-app-zone"),
    ],
)  # fmt: skip
def test_02_4_adversary_round_2(make: Any, problem: str, hint: str | None) -> None:
    with local_zone("UTC"):
        assert_fails(verdict("02.4", make()), problem, hint)


# --------------------------------------------------------------------------- adversary round 3
# Every wrong answer of .adversary/ch02_r3.py, with the problem and the hint it gets.

R3_ROUTES = DjangoSettings.CELERY_TASK_ROUTES


class _R3OnlyThreads:
    """An annotation object that covers the tasks of threads.tasks only."""

    def annotate(self, task: Any) -> Any:
        if task.name.startswith("threads.tasks."):
            return {"default_retry_delay": 60, "max_retries": 3}
        return None


R3_RETRY_BACKOFF = settings(
    CELERY_TASK_ANNOTATIONS={
        "*": {
            "default_retry_delay": 60,
            "max_retries": 3,
            "retry_backoff": True,
            "retry_jitter": True,
        }
    }
)
R3_BACKOFF_60 = settings(
    CELERY_TASK_ANNOTATIONS={
        "*": {"default_retry_delay": 60, "max_retries": 3, "retry_backoff": 60}
    }
)
R3_RATE_LIMIT = settings(
    CELERY_TASK_ANNOTATIONS={
        "*": {"default_retry_delay": 60, "max_retries": 3, "rate_limit": "10/m"}
    }
)
BACKOFF = "with it, a task that retries by itself (autoretry_for) no longer waits 60 s"
ONLY_TWO = "the annotation sets default_retry_delay and max_retries only"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(CELERY_TASK_ROUTES={**{k: v for k, v in R3_ROUTES.items()
                                                     if k != "threads.tasks.*"},
                                                  "threads.tasks*": {"queue": "default"}}),
                     LEGACY + ": the route 'threads.tasks*' matches it", TOO_WIDE,
                     id="r3-glob-no-dot"),
        pytest.param(settings(CELERY_TASK_ROUTES={**{k: v for k, v in R3_ROUTES.items()
                                                     if k != "threads.tasks.*"},
                                                  re.compile(r"threads.tasks"):
                                                  {"queue": "default"}}),
                     LEGACY + ": the route 'threads.tasks' matches it", TOO_WIDE,
                     id="r3-regex-unescaped"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": 60}}),
                     "threads.tasks.process_image, declared with max_retries=10 of its own, "
                     "still retries at most 10 times, not 3", "set max_retries=3 as well",
                     id="r3-only-delay-annotated"),
        pytest.param(settings(CELERY_RESULT_EXPIRES="3600"), "CELERY_RESULT_EXPIRES is a str "
                     "('3600')", "Celery wants a number of seconds", id="r3-expires-string"),
        pytest.param(settings(CELERY_RESULT_EXPIRES=timedelta(minutes=3600)), "results expire "
                     "after 216000 s, not one hour (3600 s)", None, id="r3-expires-minutes"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"threads.tasks.*": {
                         "default_retry_delay": 60, "max_retries": 3}}),
                     "a task waits 180 s between retries, not 60 s", "set the task option "
                     "default_retry_delay for every task", id="r3-annotations-glob"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS=[_R3OnlyThreads()]), "billing.tasks.charge "
                     "still waits 180 s between retries", "give them to every task",
                     id="r3-annotation-class-threads-only"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"retry_kwargs": {
                         "countdown": 60, "max_retries": 3}}}),
                     "a task waits 180 s between retries, not 60 s", "set the task option "
                     "default_retry_delay for every task", id="r3-retry-kwargs"),
        pytest.param(settings(CELERY_TASK_DEFAULT_QUEUE="default", CELERY_TASK_ROUTES={
                         k: v for k, v in R3_ROUTES.items() if k != "threads.tasks.*"}),
                     "CELERY_TASK_DEFAULT_QUEUE renames Celery's default queue to 'default'",
                     "leave the default queue as it is", id="r3-default-queue-default"),
        pytest.param(R3_RETRY_BACKOFF, "your settings also give threads.tasks.fact_check_content "
                     "retry_backoff=True: " + BACKOFF, ONLY_TWO, id="r3-retry-backoff"),
        pytest.param(R3_BACKOFF_60, "your settings also give threads.tasks.fact_check_content "
                     "retry_backoff=60: " + BACKOFF, ONLY_TWO, id="r3-backoff-60"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS=[
                         {"threads.tasks.like_post": {"priority": 5}},
                         {"*": {"default_retry_delay": 60, "max_retries": 3}}]),
                     "your settings also give threads.tasks.like_post priority=5: an option the "
                     "exercise did not ask for", ONLY_TWO, id="r3-priority-for-one-task"),
        pytest.param(R3_RATE_LIMIT, "your settings also give threads.tasks.fact_check_content "
                     "rate_limit='10/m': an option the exercise did not ask for", ONLY_TWO,
                     id="r3-rate-limit-too"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": "60",
                                                             "max_retries": "3"}}),
                     "threads.tasks.fact_check_content gets default_retry_delay='60', a "
                     "string, not a number", "write the number itself",
                     id="r3-annotations-strings"),
    ],
)  # fmt: skip
def test_02_1_adversary_round_3(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.1", answer), problem, hint)


def _r3_server(env: dict, password_as_user: bool = False) -> tuple[str, int]:
    host, port = env.get("REDIS_HOST", "localhost"), int(env.get("REDIS_PORT", "6379"))
    password, db = env.get("REDIS_PASSWORD"), int(env.get("REDIS_DB", "0"))
    auth = (f"{password}@" if password_as_user else f":{password}@") if password else ""
    return f"redis://{auth}{host}:{port}", db


def make_app_r3_password_as_user(env: dict) -> Celery:
    server, db = _r3_server(env, password_as_user=True)  # the password read as the user name
    return Celery("t", broker=f"{server}/{db}", backend=f"{server}/{db + 1}", set_as_current=False)


def make_app_r3_backend_db1(env: dict) -> Celery:
    server, db = _r3_server(env)
    return Celery("t", broker=f"{server}/{db}", backend=f"{server}/1", set_as_current=False)


_r3_apps: dict[str, Celery] = {}


def make_app_cached_by_host(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "localhost")  # the same host on another port/db: the old app
    if host not in _r3_apps:
        server, db = _r3_server(env)
        _r3_apps[host] = Celery("t", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                                set_as_current=False)  # fmt: skip
    return _r3_apps[host]


def make_app_r3_db_concat(env: dict) -> Celery:
    server, _ = _r3_server(env)
    db = env.get("REDIS_DB", "0")
    return Celery("t", broker=f"{server}/{db}", backend=f"{server}/{db}1", set_as_current=False)


def make_app_r3_docker_host(env: dict) -> Celery:
    server, db = _r3_server({"REDIS_HOST": "redis", **env})
    return Celery("t", broker=f"{server}/{db}", backend=f"{server}/{db + 1}", set_as_current=False)


def make_app_set_default(env: dict) -> Celery:
    server, db = _r3_server(env)
    new = Celery("t", broker=f"{server}/{db}", backend=f"{server}/{db + 1}", set_as_current=False)
    new.set_default()  # every thread without a current app of its own now uses it
    return new


def make_app_r3_backend_no_password(env: dict) -> Celery:
    server, db = _r3_server(env)
    host, port = env.get("REDIS_HOST", "localhost"), env.get("REDIS_PORT", "6379")
    return Celery("t", broker=f"{server}/{db}", backend=f"redis://{host}:{port}/{db + 1}",
                  set_as_current=False)  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(make_app_r3_password_as_user, FULL_ENV + "'REDIS_DB': '2'}): the broker URL "
                     "has no password", "a password goes before the host",
                     id="r3-password-as-user"),
        pytest.param(make_app_r3_backend_db1, FULL_ENV + "'REDIS_DB': '2'}): the result backend "
                     "uses db 1, not 3", None, id="r3-backend-db1"),
        pytest.param(make_app_cached_by_host, "make_app({'REDIS_HOST': 'redis', 'REDIS_PORT': "
                     "'6381', 'REDIS_DB': '4'}) returned the same app as an earlier call",
                     "create a new Celery(...) inside make_app on every call",
                     id="r3-cached-by-host"),
        pytest.param(make_app_r3_db_concat, "make_app({}): the result backend uses db 01",
                     "values from the environment are strings", id="r3-db-string-concat"),
        pytest.param(make_app_r3_docker_host, "make_app({}): the broker's host is 'redis', not "
                     "'localhost'", None, id="r3-docker-host-default"),
        pytest.param(make_app_r3_backend_no_password, FULL_ENV + "'REDIS_DB': '2'}): the result "
                     "backend's password differs from the broker's", SAME_SERVER,
                     id="r3-backend-no-password"),
        pytest.param(make_app_set_default, "make_app made the new app Celery's default app "
                     "(set_default())", "leave out set_default()", id="r3-set-default"),
    ],
)  # fmt: skip
def test_02_2_adversary_round_3(answer: Any, problem: str, hint: str | None) -> None:
    from celery import _state

    _r3_apps.clear()
    default = _state.default_app
    assert_fails(verdict("02.2", answer), problem, hint)
    assert _state.default_app is default  # the check put the default app back


R3_SAFE = {**SAFE, "result_expires": 3600}


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(legacy(**{**R3_SAFE, "accept_content": ["json", "msgpack"]}),
                     "accept_content allows application/x-msgpack besides json",
                     "json only: one item", id="r3-msgpack-too"),
        pytest.param(legacy(**{**R3_SAFE, "accept_content": ["json", "yaml"]}),
                     "accept_content allows application/x-yaml besides json",
                     "json only: one item", id="r3-yaml-too"),
        pytest.param(legacy(**R3_SAFE, result_accept_content=["json", "pickle"]),
                     "result_accept_content still lets a client decode more than json results",
                     "leave it out", id="r3-result-accept-pickle"),
        pytest.param(legacy(**{**R3_SAFE, "accept_content": "json"}), "accept_content is the "
                     "string 'json'", "it is a list of content types", id="r3-accept-str"),
        pytest.param(legacy(**{**R3_SAFE, "result_expires": 3600 * 1000}), "results expire "
                     "after 1000 hours, not one hour", "result_expires counts seconds",
                     id="r3-expires-ms"),
        pytest.param(legacy(**R3_SAFE, event_serializer="pickle"), "the worker's events are "
                     "still sent as pickle (event_serializer)", "json everywhere: leave "
                     "event_serializer at its default, json", id="r3-event-pickle"),
        pytest.param(legacy(**{**R3_SAFE, "accept_content": ["json", "auth"]}),
                     "accept_content allows auth besides json", "json only: one item",
                     id="r3-auth-too"),
        pytest.param(legacy(**{**R3_SAFE, "accept_content": MIME_TYPES}), STILL_PICKLE,
                     PICKLE_HINT, id="r3-mime-pickle"),
    ],
)  # fmt: skip
def test_02_3_adversary_round_3(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.3", answer), problem, hint)


def test_02_3_json_events_named_explicitly_are_right() -> None:
    assert_passed(verdict("02.3", legacy(**R3_SAFE, event_serializer="json")))


CONVERTED = "that is 09:00 UTC converted to Shanghai time (17:00): the worker would run it at "
CONVERTED_HINT = ".astimezone(zone) converts and keeps the moment"


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(_pytz_eta, "the worker would run it at 2025-03-01 08:54 in Shanghai",
                     "tzinfo=pytz.timezone(...) gives the zone's first offset", id="r3-pytz-lmt"),
        pytest.param(lambda: NINE.replace(tzinfo=ZoneInfo("Etc/GMT+8")), "the worker would run "
                     "it at 2025-03-02 01:00 in Shanghai", "Etc/GMT+8 is UTC-8",
                     id="r3-etc-gmt-plus8"),
        pytest.param(lambda: NINE.astimezone(SHANGHAI), CONVERTED, CONVERTED_HINT,
                     id="r3-naive-astimezone"),
        pytest.param(lambda: datetime(2025, 3, 1, 1, 0), "it would run at the right moment, "
                     "but only because a naive datetime is read as UTC", "make it aware",
                     id="r3-naive-utc"),
        pytest.param(lambda: datetime(2025, 3, 1, 9, 0, 37, 250000, tzinfo=SHANGHAI),
                     "the datetime has 37.25 s beyond 09:00", "datetime.now(...).replace(...) "
                     "keeps the seconds", id="r3-stray-seconds"),
        pytest.param(lambda: NINE.replace(tzinfo=timezone.utc).astimezone(SHANGHAI), CONVERTED,
                     CONVERTED_HINT, id="r3-utc-nine"),
        pytest.param(lambda: NINE.replace(tzinfo=timezone(timedelta(hours=-8))), "the worker "
                     "would run it at 2025-03-02 01:00 in Shanghai, not 2025-03-01 09:00",
                     "your datetime says 09:00 in a zone at UTC-08:00, not at Shanghai's +08:00",
                     id="r3-minus-eight"),
        pytest.param(lambda: datetime(2025, 1, 3, 9, 0, tzinfo=SHANGHAI), "the worker would run "
                     "it at 2025-01-03 09:00 in Shanghai, not 2025-03-01 09:00", None,
                     id="r3-day-month-swapped"),
    ],
)  # fmt: skip
def test_02_4_adversary_round_3(make: Any, problem: str, hint: str | None) -> None:
    with local_zone("UTC"):
        assert_fails(verdict("02.4", make()), problem, hint)


# --------------------------------------------------------------------------- adversary round 4
# Every wrong answer of .adversary/ch02_r4.py, with the problem and the hint it gets, and the
# right answers next to them that the new parts of the checks must let through.

R4_ROUTES = DjangoSettings.CELERY_TASK_ROUTES
R4_ANNOTATIONS = DjangoSettings.CELERY_TASK_ANNOTATIONS


def test_02_1_queues_and_bindings_of_one_s_own_are_right() -> None:
    from kombu import Exchange, Queue

    declared = (
        Queue("celery"),
        Queue("ai_queue", Exchange("ai"), routing_key="ai.fact_check"),
        Queue("image_queue"),
        Queue("default"),
    )
    with_exchange = {**R4_ROUTES, "threads.tasks.fact_check_content": {
        "queue": "ai_queue", "exchange": "ai", "routing_key": "ai.fact_check"}}  # fmt: skip
    assert_passed(verdict("02.1", settings(CELERY_TASK_QUEUES=declared)))
    assert_passed(verdict("02.1", settings(CELERY_TASK_QUEUES=declared,
                                           CELERY_TASK_ROUTES=with_exchange)))  # fmt: skip
    own_key = {k: {**v, "routing_key": v["queue"]} for k, v in R4_ROUTES.items()}
    assert_passed(verdict("02.1", settings(CELERY_TASK_ROUTES=own_key)))
    # a routing key without an exchange: Celery still sends it straight to the queue
    assert_passed(verdict("02.1", settings(CELERY_TASK_ROUTES=_r4_routes(routing_key="tasks"))))
    float_delay = {"*": {"default_retry_delay": 60.0, "max_retries": 3}}
    assert_passed(verdict("02.1", settings(CELERY_TASK_ANNOTATIONS=float_delay)))


def _r4_routes(**extra: Any) -> dict[str, Any]:
    """The solution's routes, each with ``extra`` options."""
    return {k: {**v, **extra} for k, v in R4_ROUTES.items()}


R4_EXCHANGE_AND_KEY = {
    "threads.tasks.fact_check_content": {"queue": "ai_queue", "exchange": "ai",
                                         "routing_key": "ai.fact_check"},
    "threads.tasks.process_image": {"queue": "image_queue", "exchange": "image",
                                    "routing_key": "image.process"},
    "threads.tasks.*": {"queue": "default", "exchange": "default", "routing_key": "default.task"},
}  # fmt: skip
R4_DROPPED = ("a message for threads.tasks.fact_check_content never reaches the queue 'ai_queue': "
              "Celery publishes it to the exchange 'ai' with the routing key 'ai.fact_check', as "
              "your route says, but 'ai_queue' is bound to the exchange 'ai_queue' with the key "
              "'ai_queue', so the broker drops it")  # fmt: skip
R4_ROUTE_HINT = "a route needs only the queue, {'queue': 'ai_queue'}"


def _r4_queues_without_celery() -> type:
    from kombu import Queue

    return settings(CELERY_TASK_QUEUES=(Queue("ai_queue"), Queue("image_queue"), Queue("default")))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(CELERY_TASK_ROUTES=R4_EXCHANGE_AND_KEY), R4_DROPPED, R4_ROUTE_HINT,
                     id="r4-route-exchange-and-routing-key"),
        pytest.param(settings(CELERY_TASK_ROUTES=_r4_routes(exchange="threads",
                                                            routing_key="threads")),
                     "Celery publishes it to the exchange 'threads' with the routing key "
                     "'threads'", R4_ROUTE_HINT, id="r4-one-exchange-for-all"),
        pytest.param(_r4_queues_without_celery(), "CELERY_TASK_QUEUES lists 'ai_queue', "
                     "'default', 'image_queue' but not 'celery': it replaces Celery's list of "
                     "queues, so a worker started without -Q consumes only those",
                     "leave CELERY_TASK_QUEUES out", id="r4-task-queues-without-celery"),
        pytest.param(settings(CELERY_TASK_ROUTES={k: v for k, v in R4_ROUTES.items()
                                                  if "*" not in k} | {
                                  "threads.tasks*": {"queue": "default"}}),
                     LEGACY + ": the route 'threads.tasks*' matches it", TOO_WIDE,
                     id="r4-glob-without-dot"),
        pytest.param(settings(CELERY_TASK_ROUTES={k: v for k, v in R4_ROUTES.items()
                                                  if "*" not in k} | {
                                  re.compile(r"threads.tasks.*"): {"queue": "default"}}),
                     LEGACY + ": the route 'threads.tasks.*' matches it", TOO_WIDE,
                     id="r4-unescaped-regex"),
        pytest.param(settings(CELERY_TASK_DEFAULT_QUEUE="default",
                              CELERY_TASK_ROUTES={**R4_ROUTES, "*": {"queue": "celery"}}),
                     "CELERY_TASK_DEFAULT_QUEUE renames Celery's default queue to 'default': "
                     "your routes still send billing.tasks.charge to 'celery', but a worker "
                     "started without -Q now consumes only 'default', so the tasks on 'celery' "
                     "wait there for ever", "leave the default queue as it is",
                     id="r4-default-queue-renamed-catch-all"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {
                         "default_retry_delay": timedelta(seconds=60), "max_retries": 3}}),
                     "threads.tasks.fact_check_content gets default_retry_delay=datetime."
                     "timedelta(seconds=60), a timedelta, not a number of seconds: self.retry() "
                     "hands it to apply_async as its countdown, which must be a number, so every "
                     "retry would fail with a TypeError", "unlike result_expires, "
                     "default_retry_delay takes no timedelta", id="r4-retry-delay-timedelta"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": 60}}),
                     "threads.tasks.process_image, declared with max_retries=10 of its own, "
                     "still retries at most 10 times, not 3", "set max_retries=3 as well",
                     id="r4-rely-on-default-max-retries"),
        pytest.param(settings(CELERY_TASK_ACKS_LATE=True), "your settings also give "
                     "threads.tasks.fact_check_content acks_late=True, with "
                     "CELERY_TASK_ACKS_LATE: an option the exercise did not ask for",
                     "leave CELERY_TASK_ACKS_LATE out", id="r4-adds-acks-late"),
        pytest.param(settings(CELERY_TASK_IGNORE_RESULT=True), "ignore_result=True, with "
                     "CELERY_TASK_IGNORE_RESULT: an option the exercise did not ask for: no task "
                     "would keep its result at all, let alone for one hour",
                     "leave CELERY_TASK_IGNORE_RESULT out", id="r4-ignore-result"),
        pytest.param(settings(CELERY_TASK_RETRY_DELAY=60, CELERY_TASK_MAX_RETRIES=3),
                     "CELERY_TASK_MAX_RETRIES and CELERY_TASK_RETRY_DELAY are no Celery settings: "
                     "Celery stores such a name and ignores it", "leave them out: every CELERY_ "
                     "name must be a setting Celery knows", id="r4-keeps-guide-made-up-names"),
        pytest.param(settings(CELERY_TASK_CREATE_MISSING_QUEUES=False), "Celery cannot route "
                     "your tasks: QueueNotFound", "with CELERY_TASK_CREATE_MISSING_QUEUES off",
                     id="r4-no-missing-queues"),
        pytest.param(settings(CELERY_TASK_ROUTE_TYPO=R4_ROUTES), "CELERY_TASK_ROUTE_TYPO is no "
                     "Celery setting", "leave it out", id="r4-stray-typo-next-to-the-real-one"),
    ],
)  # fmt: skip
def test_02_1_adversary_round_4(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.1", answer), problem, hint)


def _r4_app(env: dict) -> Celery:
    """The app the solution's make_app builds for ``env`` (the r3 helper's URLs)."""
    server, db = _r3_server(env)
    return Celery("t", broker=f"{server}/{db}", backend=f"{server}/{db + 1}", set_as_current=False)


# Defaults read from os.environ once, when the module (the cell) ran; as in a kernel started
# without REDIS_* variables, so that the URLs look right and only where they came from is wrong.
with mock.patch.dict(os.environ):
    for _variable in ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"):
        os.environ.pop(_variable, None)
    _R4_ENV_DEFAULTS = {
        "REDIS_HOST": os.environ.get("REDIS_HOST", "localhost"),
        "REDIS_PORT": os.environ.get("REDIS_PORT", "6379"),
        "REDIS_DB": os.environ.get("REDIS_DB", "0"),
    }
    _R4_HOST = os.getenv("REDIS_HOST", "localhost")

#: Constant defaults in a global: right.
R4_DEFAULTS = {"REDIS_HOST": "localhost", "REDIS_PORT": "6379", "REDIS_DB": "0"}


def make_app_r4_import_time_environ(env: dict) -> Celery:
    return _r4_app({**_R4_ENV_DEFAULTS, **env})


def _r4_host_default(env: dict) -> str:
    return env.get("REDIS_HOST", _R4_HOST)


def make_app_r4_environ_in_helper(env: dict) -> Celery:
    return _r4_app({"REDIS_HOST": _r4_host_default(env), **env})


def make_app_r4_environ_default_argument(
    env: dict, host: str = os.environ.get("R4_NEVER_SET_HOST", "localhost")
) -> Celery:
    return _r4_app({"REDIS_HOST": host, **env})


def make_app_r4_constant_defaults(env: dict) -> Celery:
    return _r4_app({**R4_DEFAULTS, **env})


_r4_apps: dict[tuple[str, str], Celery] = {}


def make_app_r4_cached_per_url(env: dict) -> Celery:
    key = (_r4_app(env).conf.broker_url, _r4_app(env).conf.result_backend)
    if key not in _r4_apps:  # one app per pair of URLs
        _r4_apps[key] = Celery("t", broker=key[0], backend=key[1], set_as_current=False)
    return _r4_apps[key]


def make_app_r4_setdefault(env: dict) -> Celery:
    env.setdefault("REDIS_HOST", "localhost")
    env.setdefault("REDIS_PORT", "6379")
    env.setdefault("REDIS_DB", "0")
    return _r4_app(env)


def make_app_r4_pops_password(env: dict) -> Celery:
    password = env.pop("REDIS_PASSWORD", None)  # "so it is not kept around"
    return _r4_app({**env, "REDIS_PASSWORD": password} if password else env)


def make_app_r4_exports_url(env: dict) -> Celery:
    app = _r4_app(env)
    os.environ["CELERY_BROKER_URL"] = app.conf.broker_url  # "for the worker to pick up"
    return app


SNAPSHOT = "make_app falls back to os.environ as it was when its cell ran: "
SNAPSHOT_HINT = "fall back to the fixed defaults only"
MUTATES = "changed the dict it was given"


def test_02_2_constant_defaults_in_a_global_are_right() -> None:
    assert_passed(verdict("02.2", make_app_r4_constant_defaults))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(make_app_r4_import_time_environ, SNAPSHOT + "_R4_ENV_DEFAULTS is built from "
                     "it, so in a kernel started with REDIS_HOST (or another REDIS_ variable) "
                     "set, make_app({}) uses that value", SNAPSHOT_HINT,
                     id="r4-defaults-from-import-time-environ"),
        pytest.param(make_app_r4_environ_in_helper, SNAPSHOT + "_R4_HOST is built from it",
                     SNAPSHOT_HINT, id="r4-environ-in-a-helper-s-global"),
        pytest.param(make_app_r4_environ_default_argument, SNAPSHOT + "a default value of the "
                     "arguments of make_app_r4_environ_default_argument is built from it",
                     SNAPSHOT_HINT, id="r4-environ-in-a-default-argument"),
        pytest.param(make_app_r4_cached_per_url, "make_app({}), called again with the same "
                     "environment, returned the very same app, not a new one", "create a new "
                     "Celery(...) inside make_app on every call", id="r4-cached-per-url"),
        pytest.param(make_app_r4_setdefault, "make_app({}) changed the dict it was given: "
                     "afterwards it holds {'REDIS_HOST': 'localhost', 'REDIS_PORT': '6379', "
                     "'REDIS_DB': '0'}", "read env without writing to it",
                     id="r4-setdefault-mutates-env"),
        pytest.param(make_app_r4_pops_password, FULL_ENV + "'REDIS_DB': '2'}) " + MUTATES,
                     "read env without writing to it", id="r4-pops-the-password"),
        pytest.param(make_app_r4_exports_url, "make_app({}) changed this process's own "
                     "environment, os.environ: CELERY_BROKER_URL", "make_app reads env",
                     id="r4-exports-to-os-environ"),
        pytest.param(make_app_r3_docker_host, "make_app({}): the broker's host is "
                     "'redis', not 'localhost'.", None, id="r4-default-host-redis"),
        pytest.param(make_app_r3_password_as_user, FULL_ENV + "'REDIS_DB': '2'}): the broker "
                     "URL has no password", "a password goes before the host",
                     id="r4-password-as-username"),
        pytest.param(make_app_r3_backend_no_password, FULL_ENV + "'REDIS_DB': '2'}): the "
                     "result backend's password differs from the broker's", SAME_SERVER,
                     id="r4-backend-without-password"),
    ],
)  # fmt: skip
def test_02_2_adversary_round_4(answer: Any, problem: str, hint: str | None) -> None:
    _r4_apps.clear()
    broker_url = os.environ.get("CELERY_BROKER_URL")
    try:
        assert_fails(verdict("02.2", answer), problem, hint)
    finally:
        assert os.environ.get("CELERY_BROKER_URL") == broker_url  # the check put it back


NO_BROKER = ("your config has no broker_url: an app configured with it connects to Celery's "
             "default broker, amqp://guest@localhost//, not to guide 001's Redis")  # fmt: skip
BROKER_HINT = "subclass LegacyConfig: a subclass keeps every setting it does not override"


class SC_R4Fresh:  # a class of its own, LegacyConfig's broker_url forgotten
    task_serializer = "json"
    result_serializer = "json"
    accept_content = ["json"]
    result_expires = 3600


# Round 4's result-accept-pickle, accept-yaml-too, accept-msgpack-too and accept-content-string
# are round 3's r3-result-accept-pickle, r3-yaml-too, r3-msgpack-too and r3-accept-str.
@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(SC_R4Fresh, NO_BROKER, BROKER_HINT, id="r4-drops-broker-url"),
        pytest.param(legacy(**R3_SAFE, broker_url="redis://redis:6379/0"), "your config's "
                     "broker_url is 'redis://redis:6379/0', not LegacyConfig's "
                     "'redis://localhost:6379/0'", BROKER_HINT, id="r4-another-broker"),
        pytest.param(legacy(**{**R3_SAFE, "result_expires": 60}), "results expire after 60 s, "
                     "not one hour", "result_expires counts seconds, not minutes",
                     id="r4-expires-in-minutes"),
    ],
)  # fmt: skip
def test_02_3_adversary_round_4(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.3", answer), problem, hint)


def _r4_now_replace(**extra: int) -> datetime:
    now = datetime(2025, 2, 14, 16, 37, 20, 571405, tzinfo=SHANGHAI)  # a fixed "now"
    return now.replace(year=2025, month=3, day=1, hour=9, minute=0, **extra)


# Round 4's pytz-tzinfo-lmt, etc-gmt-plus-8, naive-astimezone and naive-utc are round 3's
# answers of those names, with the same problems and hints (test_02_4_adversary_round_3).
@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(_r4_now_replace, "the datetime has 20.5714 s beyond 09:00",
                     "datetime.now(...).replace(...) keeps the seconds and microseconds of now",
                     id="r4-now-replace-keeps-seconds"),
        pytest.param(lambda: _r4_now_replace(second=0), "the datetime has 0.571405 s beyond "
                     "09:00", "datetime.now(...).replace(...) keeps the seconds",
                     id="r4-now-replace-keeps-microseconds"),
    ],
)  # fmt: skip
def test_02_4_adversary_round_4(make: Any, problem: str, hint: str | None) -> None:
    with local_zone("UTC"):
        assert_fails(verdict("02.4", make()), problem, hint)


# --------------------------------------------------------------------------- adversary round 5
# Every wrong answer of .adversary/ch02_r5.py, with the problem and the hint it gets. Three had
# full points: router-substring and glob-leading-star (a task of another app whose name only
# contains threads.tasks., legacy.threads.tasks.sync, now shows them) and patch-environ (the
# check now records what make_app writes to os.environ while it runs, not only what is left).

R5_ROUTES = DjangoSettings.CELERY_TASK_ROUTES
R5_EXACT = {k: v for k, v in R5_ROUTES.items() if "*" not in k}
R5_OTHER_APP = ("legacy.threads.tasks.sync, a task of another app whose name only contains "
                "threads.tasks., was routed to 'default'")  # fmt: skip
R5_STARTS = "a task of threads.tasks is one whose name STARTS with threads.tasks."


def _r5_router(test: Any) -> Any:
    """A router function for the two named tasks and, for names that pass ``test``, default."""

    def route(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in R5_EXACT:
            return R5_EXACT[name]
        return {"queue": "default"} if test(name) else None

    return route


class _R5ThreadsOnly:
    """An annotation object: retry options for threads.tasks only."""

    def annotate(self, task: Any) -> Any:
        if task.name.startswith("threads.tasks."):
            return {"default_retry_delay": 60, "max_retries": 3}
        return None


class _R5SkipOwnOptions:
    """An annotation object that leaves a task alone when it declared retry options itself."""

    def annotate(self, task: Any) -> Any:
        if task.max_retries != 3 or task.default_retry_delay != 180:
            return None
        return {"default_retry_delay": 60, "max_retries": 3}


def _r5_queues_without_celery() -> type:
    from kombu import Queue

    return settings(CELERY_TASK_QUEUES=(Queue("default"), Queue("ai_queue"), Queue("image_queue")))


R5_EXCHANGE_RK = {
    "threads.tasks.fact_check_content": {"queue": "ai_queue", "exchange": "threads",
                                         "routing_key": "ai.fact_check"},
    "threads.tasks.process_image": {"queue": "image_queue", "exchange": "threads",
                                    "routing_key": "image.process"},
    "threads.tasks.*": {"queue": "default"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(CELERY_TASK_ROUTES={**R5_EXACT, "threads.tasks*": {
                         "queue": "default"}}), LEGACY + ": the route 'threads.tasks*' matches it",
                     TOO_WIDE, id="r5-glob-without-dot"),
        pytest.param(settings(CELERY_TASK_ROUTES=(_r5_router(lambda n: "threads.tasks." in n),)),
                     R5_OTHER_APP + ": a route matches it", R5_STARTS, id="r5-router-substring"),
        pytest.param(settings(CELERY_TASK_ROUTES={**R5_EXACT, "*threads.tasks.*": {
                         "queue": "default"}}), R5_OTHER_APP + ": the route '*threads.tasks.*' "
                     "matches it", R5_STARTS, id="r5-glob-leading-star"),
        pytest.param(settings(CELERY_TASK_ROUTES=(
                         _r5_router(lambda n: n.startswith("threads.tasks")),)),
                     LEGACY + ": a route matches it", TOO_WIDE, id="r5-router-startswith-nodot"),
        pytest.param(settings(CELERY_TASK_DEFAULT_QUEUE="default",
                              CELERY_TASK_ROUTES={**R5_ROUTES, "*": {"queue": "celery"}}),
                     "CELERY_TASK_DEFAULT_QUEUE renames Celery's default queue to 'default': "
                     "your routes still send billing.tasks.charge to 'celery'",
                     "leave the default queue as it is", id="r5-default-queue-renamed"),
        pytest.param(_r5_queues_without_celery(), "CELERY_TASK_QUEUES lists 'ai_queue', "
                     "'default', 'image_queue' but not 'celery'", "leave CELERY_TASK_QUEUES out",
                     id="r5-task-queues-without-celery"),
        pytest.param(settings(CELERY_TASK_ROUTES=R5_EXCHANGE_RK), "a message for "
                     "threads.tasks.fact_check_content never reaches the queue 'ai_queue': Celery "
                     "publishes it to the exchange 'threads' with the routing key "
                     "'ai.fact_check'", R4_ROUTE_HINT, id="r5-route-exchange-rk"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS=(_R5ThreadsOnly(),)), "billing.tasks.charge "
                     "still waits 180 s between retries", EVERY_TASK,
                     id="r5-annotation-object-threads-only"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS=(_R5SkipOwnOptions(),)),
                     "threads.tasks.process_image still waits 5 s between retries", EVERY_TASK,
                     id="r5-annotation-respects-own"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": 60,
                                                             "max_retries": "3"}}),
                     "threads.tasks.fact_check_content gets max_retries='3', a string, not a "
                     "number", "write the number itself, without quotes: max_retries: 3",
                     id="r5-max-retries-str"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"default_retry_delay": "60",
                                                             "max_retries": 3}}),
                     "threads.tasks.fact_check_content gets default_retry_delay='60', a string",
                     "write the number itself, without quotes: default_retry_delay: 60",
                     id="r5-retry-delay-str"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {"retry_kwargs": {
                         "max_retries": 3, "countdown": 60}}}), DELAY_180, DELAY_HINT,
                     id="r5-retry-kwargs"),
        pytest.param(settings(CELERY_RESULT_EXPIRES="3600"), "CELERY_RESULT_EXPIRES is a str "
                     "('3600')", "Celery wants a number of seconds", id="r5-expires-str"),
    ],
)  # fmt: skip
def test_02_1_adversary_round_5(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.1", answer), problem, hint)


def test_02_1_a_regex_without_caret_is_right() -> None:
    # Celery's router matches a pattern at the start of the name (re.match), caret or not
    routes = ([*R5_EXACT.items(), (re.compile(r"threads\.tasks\."), {"queue": "default"})],)
    assert_passed(verdict("02.1", settings(CELERY_TASK_ROUTES=routes)))


def make_app_r5_patch_environ(env: dict) -> Celery:
    with mock.patch.dict(os.environ, env, clear=True):  # the chapter's test tool, in make_app
        return _r4_app(dict(os.environ))


def make_app_r5_patch_environ_no_clear(env: dict) -> Celery:
    with mock.patch.dict(os.environ, env):
        return _r4_app({**R4_DEFAULTS, **env})


def make_app_r5_patch_environ_if_set(env: dict) -> Celery:
    if not env:
        return _r4_app(env)
    return make_app_r5_patch_environ_no_clear(env)


def make_app_r5_patch_object(env: dict) -> Celery:
    with mock.patch.object(os, "environ", dict(env)):
        return _r4_app(dict(os.environ))


def make_app_r5_rewrites_same_value(env: dict) -> Celery:
    if "PATH" in os.environ:
        os.environ["PATH"] = os.environ["PATH"]  # writes, but changes nothing
    return _r4_app(env)


def make_app_r5_env_or_environ(env: dict) -> Celery:
    return _r4_app(env or os.environ)


with mock.patch.dict(os.environ):  # a kernel started without REDIS_HOST, as in the course
    os.environ.pop("REDIS_HOST", None)
    _R5_DEFAULT_HOST = os.getenv("REDIS_HOST", "localhost")  # read once, when the cell runs


def make_app_r5_getenv_default(env: dict) -> Celery:
    return _r4_app({"REDIS_HOST": env.get("REDIS_HOST", _R5_DEFAULT_HOST), **env})


# Round 5's password-broker-only, password-as-user, setdefault, set-default, backend-db1 and
# db-concat are the functions of earlier rounds that make the same mistake.
R5_PATCHED = ("make_app({}) emptied this process's own environment, os.environ (PATH, REDIS_DB, "
              "REDIS_HOST, REDIS_PASSWORD, ... and the rest), ")  # fmt: skip
R5_WHILE = ("while it ran, and put it back afterwards: for that time every thread of this process "
            "(a worker's, a web server's) saw that environment")  # fmt: skip
R5_PATCH_HINT = "read env itself, env.get('REDIS_HOST', 'localhost'), and write nothing"


def test_02_2_a_write_that_changes_nothing_is_right() -> None:
    assert_passed(verdict("02.2", make_app_r5_rewrites_same_value))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(make_app_r5_patch_environ, R5_PATCHED + R5_WHILE, R5_PATCH_HINT,
                     id="r5-patch-environ"),
        pytest.param(make_app_r5_patch_environ_no_clear, R5_PATCHED + R5_WHILE, R5_PATCH_HINT,
                     id="r5-patch-environ-without-clear"),
        pytest.param(make_app_r5_patch_environ_if_set, FULL_ENV + "'REDIS_DB': '2'}) set "
                     "REDIS_DB, REDIS_HOST, REDIS_PASSWORD, REDIS_PORT in this process's own "
                     "environment, os.environ, " + R5_WHILE, R5_PATCH_HINT,
                     id="r5-patch-environ-without-clear-full-env"),
        pytest.param(make_app_r5_patch_object, "make_app({}) replaced os.environ, this process's "
                     "own environment, with another mapping, " + R5_WHILE, R5_PATCH_HINT,
                     id="r5-patch-object-environ"),
        pytest.param(make_app_r5_env_or_environ, "make_app({}): the broker URL's host is "
                     "'kernel-redis', the value of REDIS_HOST in this process's own environment",
                     "read only env, the dict make_app is given", id="r5-env-or-environ"),
        pytest.param(make_app_r3_backend_no_password, FULL_ENV + "'REDIS_DB': '2'}): the result "
                     "backend's password differs from the broker's", SAME_SERVER,
                     id="r5-password-broker-only"),
        pytest.param(make_app_r3_password_as_user, FULL_ENV + "'REDIS_DB': '2'}): the broker URL "
                     "has no password", "a password goes before the host",
                     id="r5-password-as-user"),
        pytest.param(make_app_r5_getenv_default, SNAPSHOT + "_R5_DEFAULT_HOST is built from it",
                     SNAPSHOT_HINT, id="r5-getenv-default"),
        pytest.param(make_app_r4_setdefault, "make_app({}) changed the dict it was given",
                     "read env without writing to it", id="r5-setdefault"),
        pytest.param(make_app_set_default, "make_app made the new app Celery's default app "
                     "(set_default())", "leave out set_default()", id="r5-set-default"),
        pytest.param(make_app_r3_backend_db1, FULL_ENV + "'REDIS_DB': '2'}): the result backend "
                     "uses db 1, not 3", None, id="r5-backend-db1"),
        pytest.param(make_app_r3_db_concat, "make_app({}): the result backend uses db 01",
                     "values from the environment are strings: int() REDIS_DB before you add 1",
                     id="r5-db-concat"),
    ],
)  # fmt: skip
def test_02_2_adversary_round_5(answer: Any, problem: str, hint: str | None) -> None:
    import types

    environ = dict(os.environ)
    assert_fails(verdict("02.2", answer), problem, hint)
    # the check put the environment, its class and the os module's class back
    assert dict(os.environ) == environ
    assert type(os.environ) is os._Environ  # type: ignore[attr-defined]
    assert type(os) is types.ModuleType


def _r5_remove_returns_none() -> type:
    class Legacy(AdvLegacyConfig):
        accept_content = ["pickle", "json"]  # a list of its own: remove() changes it

    removed = Legacy.accept_content.remove("pickle")  # None
    return type("Config", (Legacy,), {**JSON_BOTH, "result_expires": 3600,
                                      "accept_content": removed})  # fmt: skip


# Round 5's json-msgpack, json-yaml, result-accept-pickle and event-pickle are round 3's
# r3-msgpack-too, r3-yaml-too, r3-result-accept-pickle and r3-event-pickle, with the same
# problems and hints (test_02_3_adversary_round_3).
@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(_r5_remove_returns_none(), "accept_content is None, not a list: your "
                     "config no longer says what a worker may decode", "a list's methods that "
                     "change it in place (remove, append, sort, ...) return None",
                     id="r5-remove-returns-none"),
        pytest.param(legacy(**{**R3_SAFE, "accept_content": 1}), "accept_content is an int",
                     "write the list itself", id="r5-accept-content-not-a-list"),
        pytest.param(legacy(**{**R3_SAFE, "result_expires": "3600"}), "result_expires is a str "
                     "('3600')", "Celery wants a number of seconds", id="r5-expires-str"),
    ],
)  # fmt: skip
def test_02_3_adversary_round_5(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.3", answer), problem, hint)


def _r5_maybe_make_aware() -> datetime:
    from celery.utils.time import maybe_make_aware

    return maybe_make_aware(NINE, SHANGHAI)  # reads the naive 09:00 as UTC, then converts


def _r5_tzoffset_minutes() -> datetime:
    tz = pytest.importorskip("dateutil.tz")
    return NINE.replace(tzinfo=tz.tzoffset("CST", 8 * 60))  # seconds, not minutes: +00:08


R5_CONVERTED_HINT = "so does Celery's maybe_make_aware(naive, zone)"


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(_pytz_eta, "the worker would run it at 2025-03-01 08:54 in Shanghai",
                     "tzinfo=pytz.timezone(...) gives the zone's first offset",
                     id="r5-pytz-tzinfo"),
        pytest.param(lambda: datetime(2025, 3, 1, 1, 0), "it would run at the right moment, but "
                     "only because a naive datetime is read as UTC", "make it aware",
                     id="r5-naive-utc"),
        pytest.param(_r4_now_replace, "the datetime has 20.5714 s beyond 09:00",
                     "datetime.now(...).replace(...) keeps the seconds and microseconds of now",
                     id="r5-now-replace"),
        pytest.param(lambda: _r4_now_replace(second=0), "the datetime has 0.571405 s beyond "
                     "09:00", "datetime.now(...).replace(...) keeps the seconds",
                     id="r5-now-replace-sec"),
        pytest.param(_r5_maybe_make_aware, CONVERTED, R5_CONVERTED_HINT,
                     id="r5-maybe-make-aware-tz", marks=pytest.mark.filterwarnings("ignore")),
        pytest.param(lambda: NINE.replace(tzinfo=ZoneInfo("Etc/GMT+8")), "the worker would run "
                     "it at 2025-03-02 01:00 in Shanghai", "Etc/GMT+8 is UTC-8",
                     id="r5-etc-gmt-plus8"),
        pytest.param(_r5_tzoffset_minutes, "the worker would run it at 2025-03-01 16:52 in "
                     "Shanghai", "your zone's UTC offset is 8 minutes, not 8 hours: dateutil's "
                     "tz.tzoffset(name, offset) counts seconds", id="r5-tzoffset-minutes"),
        pytest.param(lambda: NINE.astimezone(SHANGHAI), CONVERTED, CONVERTED_HINT,
                     id="r5-naive-astimezone"),
        pytest.param(lambda: NINE.replace(tzinfo=SHANGHAI) - timedelta(hours=8), "that is 01:00 "
                     "Shanghai time (09:00 minus 8 hours, as if the worker wanted UTC): the "
                     "worker would run it at 2025-03-01 01:00 in Shanghai, 8 hours early",
                     "an aware datetime carries its UTC offset, and Celery converts it to UTC "
                     "itself", id="r5-minus-8h"),
    ],
)  # fmt: skip
def test_02_4_adversary_round_5(make: Any, problem: str, hint: str | None) -> None:
    with local_zone("UTC"):
        assert_fails(verdict("02.4", make()), problem, hint, hint_within=True)


# --------------------------------------------------------------------------- round 6

R6_ROUTES = DjangoSettings.CELERY_TASK_ROUTES
R6_OTHER = ("besides the routes, the result expiry and the tasks' retry delay and limit "
            "(CELERY_TASK_ANNOTATIONS), the exercise asks for nothing")  # fmt: skip
R6_ROUTE_HINT = "a route says where a message goes, nothing more: {'queue': 'ai_queue'}"
R6_TASK_OPTION = "an option the exercise did not ask for, which changes how every task runs"


def _r6_routes(**extra: Any) -> dict[str, Any]:
    """Guide 002's routes, each with ``extra`` options besides its queue."""
    return {k: {**v, **extra} for k, v in R6_ROUTES.items()}


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(settings(CELERY_TASK_TIME_LIMIT=30 * 60), "your settings also give "
                     "threads.tasks.fact_check_content time_limit=1800, with "
                     "CELERY_TASK_TIME_LIMIT: " + R6_TASK_OPTION,
                     "leave CELERY_TASK_TIME_LIMIT out", id="r6-time-limit"),
        pytest.param(settings(CELERY_TASK_TRACK_STARTED=True), "your settings also give "
                     "threads.tasks.fact_check_content track_started=True, with "
                     "CELERY_TASK_TRACK_STARTED", "leave CELERY_TASK_TRACK_STARTED out",
                     id="r6-track-started"),
        pytest.param(settings(CELERY_TASK_PUBLISH_RETRY_POLICY={
                         "max_retries": 3, "interval_start": 60, "interval_step": 60,
                         "interval_max": 60}),
                     "changes how long apply_async blocks its caller, retrying, when the broker "
                     "cannot be reached: a setting the exercise did not ask for",
                     "leave CELERY_TASK_PUBLISH_RETRY_POLICY out: " + R6_OTHER,
                     id="r6-publish-retry-policy"),
        pytest.param(settings(CELERY_BROKER_CONNECTION_MAX_RETRIES=3),
                     "CELERY_BROKER_CONNECTION_MAX_RETRIES = 3 changes how often a worker "
                     "retries a lost broker before it gives up and exits",
                     "leave CELERY_BROKER_CONNECTION_MAX_RETRIES out: " + R6_OTHER,
                     id="r6-broker-connection-max-retries"),
        pytest.param(settings(CELERY_TASK_ANNOTATIONS={"*": {
                         "default_retry_delay": 60, "max_retries": 3, "expires": 3600}}),
                     "your settings also give threads.tasks.fact_check_content expires=3600: "
                     + R6_TASK_OPTION, "the annotation sets default_retry_delay and max_retries "
                     "only", id="r6-annotation-expires"),
        pytest.param(settings(CELERY_TASK_ROUTES=_r6_routes(expires=3600)), "the route "
                     "'threads.tasks.fact_check_content' also gives every message for "
                     "threads.tasks.fact_check_content expires=3600: a message not started by "
                     "then is revoked, and its task never runs", R6_ROUTE_HINT,
                     id="r6-route-expires"),
        pytest.param(settings(CELERY_TASK_ROUTES={**R6_ROUTES, "threads.tasks.fact_check_content":
                                                  {"queue": "ai_queue", "priority": 9}}),
                     "also gives every message for threads.tasks.fact_check_content priority=9: "
                     "a message priority the exercise did not ask for", R6_ROUTE_HINT,
                     id="r6-route-priority"),
        pytest.param(settings(CELERY_TASK_ROUTES={**R6_ROUTES, "threads.tasks.*": {
                         "queue": "default", "countdown": 10}}), "the route 'threads.tasks.*' "
                     "also gives every message for threads.tasks.like_post countdown=10",
                     R6_ROUTE_HINT, id="r6-route-countdown"),
        pytest.param(settings(CELERY_TASK_DEFAULT_RATE_LIMIT="100/m"), "your settings also give "
                     "threads.tasks.fact_check_content rate_limit='100/m', with "
                     "CELERY_TASK_DEFAULT_RATE_LIMIT", "leave CELERY_TASK_DEFAULT_RATE_LIMIT out",
                     id="r6-default-rate-limit"),
        pytest.param(settings(CELERY_TASK_DEFAULT_PRIORITY=5), "your settings also give "
                     "threads.tasks.fact_check_content priority=5, with "
                     "CELERY_TASK_DEFAULT_PRIORITY", "leave CELERY_TASK_DEFAULT_PRIORITY out",
                     id="r6-default-priority"),
        pytest.param(settings(CELERY_BROKER_CONNECTION_RETRY=False), "CELERY_BROKER_CONNECTION_"
                     "RETRY = False changes whether a worker reconnects when it loses the broker",
                     "leave CELERY_BROKER_CONNECTION_RETRY out", id="r6-no-connection-retry"),
    ],
)  # fmt: skip
def test_02_1_adversary_round_6(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.1", answer), problem, hint)


def test_02_1_all_four_queues_declared_is_right() -> None:
    """Round 6's task-queues-all-four, judged right: every message reaches its own queue, and
    'celery' is still a queue a worker without -Q consumes, as the text asks (it does not ask
    that such a worker consume 'celery' only)."""
    from kombu import Queue

    declared = (Queue("celery"), Queue("default"), Queue("ai_queue"), Queue("image_queue"))
    assert_passed(verdict("02.1", settings(CELERY_TASK_QUEUES=declared)))


_R6_BUILD = """
    server = f"redis://:{password}@{host}:{port}" if password else f"redis://{host}:{port}"
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)
"""
_R6_READ = (
    """
def make_app(env: dict) -> Celery:
    host = env.get("REDIS_HOST", DEFAULTS["REDIS_HOST"])
    port = int(env.get("REDIS_PORT", DEFAULTS["REDIS_PORT"]))
    password = env.get("REDIS_PASSWORD")
    db = int(env.get("REDIS_DB", DEFAULTS["REDIS_DB"]))
"""
    + _R6_BUILD
)


def _r6_cells(*sources: str) -> Any:
    """make_app from notebook-style cells: each has a file name of its own, kept in linecache
    as IPython keeps a cell, and all run in one namespace, as a kernel runs them."""
    import hashlib
    import linecache

    space: dict[str, Any] = {"__name__": "__main__", "Celery": Celery, "os": os, "_ih": [""]}
    for source in sources:
        name = f"/tmp/ipykernel_r6/{hashlib.sha1(source.encode()).hexdigest()[:10]}.py"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        space["_ih"].append(source)  # IPython's input history, in the order the cells ran
        exec(compile(source, name, "exec"), space)  # noqa: S102 - a test's own cells
    return space["make_app"]


R6_FIXED = 'DEFAULTS = {"REDIS_HOST": "localhost", "REDIS_PORT": "6379", "REDIS_DB": "0"}\n'
R6_FROM_ENVIRON = ('DEFAULTS = {k: os.environ.get(k, d) for k, d in (("REDIS_HOST", "localhost"),'
                   ' ("REDIS_PORT", "6379"), ("REDIS_DB", "0"))}\n')  # fmt: skip


def make_app_r6_earlier_cell() -> Any:
    return _r6_cells(R6_FROM_ENVIRON, _R6_READ)


def make_app_r6_environ_alias() -> Any:
    return _r6_cells("from os import environ as ENV\n"
                     + R6_FROM_ENVIRON.replace("os.environ", "ENV") + _R6_READ)  # fmt: skip


def make_app_r6_helper() -> Any:
    return _r6_cells(
        "def load_defaults():\n"
        "    return {n: os.getenv(n, d) for n, d in (('REDIS_HOST', 'localhost'), "
        "('REDIS_PORT', '6379'), ('REDIS_DB', '0'))}\n\n\n"
        "DEFAULTS = load_defaults()\n" + _R6_READ
    )


def make_app_r6_alias_of_earlier() -> Any:
    return _r6_cells(R6_FROM_ENVIRON.replace("DEFAULTS", "FROM_ENV"),
                     "DEFAULTS = FROM_ENV\n" + _R6_READ)  # fmt: skip


def make_app_r6_from_os_import_getenv() -> Any:
    return _r6_cells(
        "from os import getenv\n\nHOST = getenv('REDIS_HOST', 'localhost')\n\n\n"
        "def make_app(env: dict) -> Celery:\n"
        "    host = env.get('REDIS_HOST', HOST)\n"
        "    port = int(env.get('REDIS_PORT', '6379'))\n"
        "    password = env.get('REDIS_PASSWORD')\n"
        "    db = int(env.get('REDIS_DB', '0'))\n" + _R6_BUILD
    )


def make_app_r6_default_argument() -> Any:
    return _r6_cells(
        "def make_app(env: dict, defaults=dict(os.environ)) -> Celery:\n"
        "    host = env.get('REDIS_HOST', defaults.get('REDIS_HOST', 'localhost'))\n"
        "    port = int(env.get('REDIS_PORT', '6379'))\n"
        "    password = env.get('REDIS_PASSWORD')\n"
        "    db = int(env.get('REDIS_DB', '0'))\n" + _R6_BUILD
    )


def make_app_r6_celery_url_precedence(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "localhost")
    port = int(env.get("REDIS_PORT", "6379"))
    password = env.get("REDIS_PASSWORD")
    db = int(env.get("REDIS_DB", "0"))
    server = f"redis://:{password}@{host}:{port}" if password else f"redis://{host}:{port}"
    broker = env.get("CELERY_BROKER_URL", f"{server}/{db}")
    backend = env.get("CELERY_RESULT_BACKEND", f"{server}/{db + 1}")
    return Celery("fastapi_tasks", broker=broker, backend=backend, set_as_current=False)


def make_app_r6_pop_password(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "localhost")
    port = int(env.get("REDIS_PORT", "6379"))
    password = env.pop("REDIS_PASSWORD", None)  # "don't keep secrets around"
    db = int(env.get("REDIS_DB", "0"))
    server = f"redis://:{password}@{host}:{port}" if password else f"redis://{host}:{port}"
    return Celery("fastapi_tasks", broker=f"{server}/{db}", backend=f"{server}/{db + 1}",
                  set_as_current=False)  # fmt: skip


def make_app_r6_sets_environ_url(env: dict) -> Celery:
    host = env.get("REDIS_HOST", "localhost")
    port = int(env.get("REDIS_PORT", "6379"))
    db = int(env.get("REDIS_DB", "0"))
    os.environ["CELERY_BROKER_URL"] = f"redis://{host}:{port}/{db}"
    os.environ["CELERY_RESULT_BACKEND"] = f"redis://{host}:{port}/{db + 1}"
    return Celery("fastapi_tasks", set_as_current=False)


R6_SNAPSHOT_TAIL = (" is built from it, so in a kernel started with REDIS_HOST (or another "
                    "REDIS_ variable) set, make_app({}) uses that value")  # fmt: skip


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(make_app_r6_earlier_cell, SNAPSHOT + "DEFAULTS" + R6_SNAPSHOT_TAIL,
                     SNAPSHOT_HINT, id="r6-earlier-cell-defaults"),
        pytest.param(make_app_r6_environ_alias, SNAPSHOT + "DEFAULTS" + R6_SNAPSHOT_TAIL,
                     SNAPSHOT_HINT, id="r6-environ-alias"),
        pytest.param(make_app_r6_helper, SNAPSHOT + "DEFAULTS" + R6_SNAPSHOT_TAIL,
                     SNAPSHOT_HINT, id="r6-helper-snapshot"),
        pytest.param(make_app_r6_alias_of_earlier, SNAPSHOT + "FROM_ENV" + R6_SNAPSHOT_TAIL,
                     SNAPSHOT_HINT, id="r6-alias-of-an-earlier-cell-s-snapshot"),
        pytest.param(make_app_r6_from_os_import_getenv, SNAPSHOT + "HOST" + R6_SNAPSHOT_TAIL,
                     SNAPSHOT_HINT, id="r6-from-os-import-getenv"),
        pytest.param(make_app_r6_default_argument, SNAPSHOT + "a default value of the "
                     "arguments of make_app" + R6_SNAPSHOT_TAIL, SNAPSHOT_HINT,
                     id="r6-default-argument"),
        pytest.param(lambda: make_app_r6_celery_url_precedence, "make_app({'REDIS_HOST': "
                     "'redis-a', 'CELERY_BROKER_URL': 'redis://other-broker:6379/9', "
                     "'CELERY_RESULT_BACKEND': 'redis://other-broker:6379/10'}): the broker URL "
                     "is 'redis://other-broker:6379/9', not 'redis://redis-a:6379/0': it is "
                     "env's CELERY_BROKER_URL", "build both URLs from REDIS_HOST, REDIS_PORT, "
                     "REDIS_PASSWORD and REDIS_DB (and their defaults) only",
                     id="r6-celery-url-precedence"),
        pytest.param(lambda: make_app_r6_pop_password, FULL_ENV + "'REDIS_DB': '2'}) " + MUTATES,
                     "read env without writing to it", id="r6-pop-password"),
        pytest.param(lambda: make_app_r6_sets_environ_url, "make_app({}) changed this process's "
                     "own environment, os.environ: CELERY_BROKER_URL, CELERY_RESULT_BACKEND",
                     "make_app reads env", id="r6-sets-environ-url"),
    ],
)  # fmt: skip
def test_02_2_adversary_round_6(make: Any, problem: str, hint: str | None) -> None:
    broker_url = os.environ.get("CELERY_BROKER_URL")
    try:
        assert_fails(verdict("02.2", make()), problem, hint)
    finally:
        if broker_url is None:
            os.environ.pop("CELERY_BROKER_URL", None)
            os.environ.pop("CELERY_RESULT_BACKEND", None)


def test_02_2_fixed_defaults_in_cells_are_right() -> None:
    """Constants in an earlier cell, or in the make_app cell after an earlier cell that read
    os.environ into the same name, are fixed defaults: right."""
    assert_passed(verdict("02.2", _r6_cells(R6_FIXED, _R6_READ)))
    assert_passed(verdict("02.2", _r6_cells(R6_FROM_ENVIRON, R6_FIXED + _R6_READ)))
    # an earlier cell reads os.environ into a name make_app does not use
    unused = R6_FROM_ENVIRON.replace("DEFAULTS", "KERNEL_REDIS")
    assert_passed(verdict("02.2", _r6_cells(unused, R6_FIXED, _R6_READ)))
    # a snapshot cell overwritten by a later cell of fixed values
    assert_passed(verdict("02.2", _r6_cells(R6_FROM_ENVIRON, R6_FIXED, _R6_READ)))
    # ... but one that ran after the fixed values is in force
    assert_fails(verdict("02.2", _r6_cells(R6_FIXED, R6_FROM_ENVIRON, _R6_READ)),
                 SNAPSHOT + "DEFAULTS" + R6_SNAPSHOT_TAIL, SNAPSHOT_HINT)  # fmt: skip


def test_02_2_snapshot_shows_with_redis_variables_in_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With REDIS_HOST set when the earlier cell ran, the URLs show it too."""
    monkeypatch.setenv("REDIS_HOST", "kernelhost")
    make_app = make_app_r6_earlier_cell()
    monkeypatch.delenv("REDIS_HOST")
    assert_fails(verdict("02.2", make_app), "make_app({}): the broker's host is 'kernelhost', "
                 "not 'localhost'")  # fmt: skip


R6_REFUSES_TASKS = "a worker with your config would refuse every task message, json ones too"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(safe(accept_content=["JSON"]), "accept_content = ['JSON'] does not let "
                     "json through", "kombu's names are lower case: 'json', not 'JSON'",
                     id="r6-accept-upper"),
        pytest.param(safe(accept_content=[]), "accept_content = [] lets nothing through: "
                     + R6_REFUSES_TASKS, "an empty list refuses everything", id="r6-accept-empty"),
        pytest.param(safe(accept_content=filter(lambda n: n != "pickle", ["pickle", "json"])),
                     "accept_content is a filter, not a list of content types",
                     "write the list itself, accept_content = ['json']",
                     id="r6-accept-filter-iterator"),
        pytest.param(safe(result_accept_content=[]), "result_accept_content = [] lets "
                     "nothing through: a client with your config would refuse every result, "
                     "json ones too", "an empty list refuses everything",
                     id="r6-result-accept-empty"),
        pytest.param(safe(accept_content=["text/json"]), "accept_content = ['text/json'] does "
                     "not let json through: " + R6_REFUSES_TASKS, "json's content type is "
                     "'application/json'", id="r6-accept-text-json"),
        pytest.param(safe(result_accept_content=["JSON"]), "result_accept_content = ['JSON'] "
                     "does not let json through", "kombu's names are lower case",
                     id="r6-result-accept-upper"),
    ],
)  # fmt: skip
def test_02_3_adversary_round_6(answer: Any, problem: str, hint: str | None) -> None:
    assert_fails(verdict("02.3", answer), problem, hint)


def test_02_3_json_by_its_content_type_is_right() -> None:
    assert_passed(verdict("02.3", safe(accept_content=["application/json"])))
    assert_passed(verdict("02.3", safe(result_accept_content=["json"])))


def _r6_tzlocal() -> datetime:
    tz = pytest.importorskip("dateutil.tz")
    return NINE.replace(tzinfo=tz.tzlocal())  # the machine's zone: UTC here


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        pytest.param(lambda: NINE.replace(tzinfo=ZoneInfo("CST6CDT")), "the worker would run it "
                     "at 2025-03-01 23:00 in Shanghai", "your datetime says 09:00 in a zone at "
                     "UTC-06:00, not at Shanghai's +08:00", id="r6-cst6cdt"),
        pytest.param(_r6_tzlocal, "that is 09:00 UTC: the worker would run it at 2025-03-01 "
                     "17:00 in Shanghai", "09:00 is Shanghai time", id="r6-tzlocal"),
        pytest.param(lambda: NINE.replace(tzinfo=ZoneInfo("Asia/Urumqi")), "the worker would run "
                     "it at 2025-03-01 11:00 in Shanghai", "your datetime says 09:00 in a zone at "
                     "UTC+06:00", id="r6-urumqi"),
        pytest.param(lambda: NINE.replace(tzinfo=timezone(timedelta(minutes=8))), "the worker "
                     "would run it at 2025-03-01 16:52 in Shanghai", "your zone's UTC offset is "
                     "8 minutes, not 8 hours: timedelta(minutes=8) is +00:08", id="r6-minutes"),
        pytest.param(lambda: datetime.fromisoformat("2025-03-01T09:00:00Z"), "that is 09:00 UTC: "
                     "the worker would run it at 2025-03-01 17:00 in Shanghai",
                     "09:00 is Shanghai time", id="r6-iso-z"),
    ],
)  # fmt: skip
def test_02_4_adversary_round_6(make: Any, problem: str, hint: str | None) -> None:
    with local_zone("UTC"):
        assert_fails(verdict("02.4", make()), problem, hint)
