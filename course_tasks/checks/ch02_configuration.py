"""Checks for chapter 02 · Configuration (``solutions/02_configuration_solutions.ipynb``).

Every check loads the learner's configuration into a *fresh* Celery app (never the course
app) and looks at what Celery really does with it: the settings it ends up with, where its
router sends tasks, which content types its worker would decode, and when a worker would
run a task with the learner's ETA. Nothing connects to a broker, so the checks behave the
same in every mode.
"""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import celery
from celery import Celery
from celery.exceptions import InvalidTaskError
from celery.worker.request import Request
from kombu import Message
from kombu.exceptions import ContentDisallowed
from kombu.serialization import loads, prepare_accept_content

from course_tasks.checks import Fail, NotYet, exercise

JSON = "application/json"
PICKLE = "application/x-python-serialize"
ONE_HOUR = 3600.0
CELERY_DEFAULT_EXPIRES = 86400.0


def _fresh_app(name: str) -> Celery:
    """A throwaway app that does not become Celery's current app."""
    return Celery(name, set_as_current=False)


def _seconds(value: Any) -> float | None:
    """``result_expires`` as seconds (it may be a number or a timedelta); None if neither."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _check_one_hour(value: Any, name: str) -> None:
    """Raise a Fail with a specific hint unless ``value`` means one hour for result_expires."""
    if value is None:
        raise Fail(
            f"results never expire: {name} is None",
            hint="give it a number of seconds or a timedelta; None keeps every result forever",
        )
    seconds = _seconds(value)
    if seconds is None:
        raise Fail(
            f"{name} is a {type(value).__name__} ({value!r})",
            hint="Celery wants a number of seconds or a datetime.timedelta there",
        )
    if seconds == ONE_HOUR:
        return
    if seconds == CELERY_DEFAULT_EXPIRES:
        raise Fail(
            "results still expire after 1 day, Celery's default",
            hint=f"did you set {name}? Check its spelling: a misspelt setting is ignored",
        )
    if seconds == 60:
        raise Fail(
            "results expire after 60 s, not one hour",
            hint=f"{name} counts seconds, not minutes (or use timedelta(hours=1))",
        )
    if seconds == ONE_HOUR * 1000:
        raise Fail(
            "results expire after 1000 hours, not one hour",
            hint=f"{name} counts seconds, not milliseconds",
        )
    raise Fail(f"results expire after {seconds:g} s, not one hour (3600 s)")


def _names(obj: Any) -> set[str]:
    """The names a configuration object defines (a dict, a module, a class or an instance)."""
    if isinstance(obj, dict):
        return {str(k) for k in obj}
    return {n for n in dir(obj) if not n.startswith("_")}


# --------------------------------------------------------------------------- 02.1


THREADS_ROUTES = {
    "threads.tasks.fact_check_content": "ai_queue",
    "threads.tasks.process_image": "image_queue",
    "threads.tasks.like_post": "default",
    "threads.tasks.update_search_index": "default",
    "billing.tasks.charge": "celery",
}


def _queue_of(app: Celery, name: str) -> str:
    """The queue ``app``'s router picks for a task called ``name`` (as apply_async does)."""
    route = app.amqp.router.route({}, name, (), {})
    queue = route.get("queue")
    return getattr(queue, "name", queue) or app.conf.task_default_queue


@exercise("02.1", "Django-style settings with namespace='CELERY'", points=2)
def _django_settings(settings: Any) -> str:
    app = _fresh_app("threads")
    app.config_from_object(settings, namespace="CELERY")
    queues = {task: _queue_of(app, task) for task in THREADS_ROUTES}
    if set(queues.values()) == {"celery"}:
        prefixed = {n for n in _names(settings) if n.startswith("CELERY_")}
        if not prefixed:
            raise Fail(
                "Celery found no task routes in your settings",
                hint="with namespace='CELERY' each setting is spelt CELERY_ + its name in upper "
                "case",
            )
        raise Fail(
            "Celery found no task routes in your settings",
            hint="is the routes setting spelt right? app.conf.find_option(name) tells whether "
            "Celery knows a name (drop the CELERY_ prefix to ask)",
        )

    for task, expected in THREADS_ROUTES.items():
        got = queues[task]
        if got == expected:
            continue
        if task.startswith("billing.") and got == "default":
            raise Fail(
                f"{task} (not a threads task) was routed to 'default'",
                hint="your pattern is too wide: only names under threads.tasks. should go there",
            )
        if expected == "default" and got == "celery":
            raise Fail(
                f"{task} went to Celery's default queue 'celery', not 'default'",
                hint="add a glob entry that matches every other task of threads.tasks "
                "(guide 002 §6 ends its CELERY_TASK_ROUTES with one)",
            )
        if expected != "default" and got == "default":
            raise Fail(
                f"{task} went to 'default', not {expected!r}",
                hint="give this task its own entry, keyed by its full name; an exact name wins "
                "over a glob",
            )
        raise Fail(f"{task} was routed to {got!r}, not {expected!r}")

    expires = app.conf.result_expires
    _check_one_hour(expires, "CELERY_RESULT_EXPIRES")

    @app.task(name="threads.tasks.fact_check_content", shared=False)
    def fact_check_content(content_id: int) -> None:
        """A stand-in for guide 002's fact-checking task, to read its retry options."""

    delay, retries = fact_check_content.default_retry_delay, fact_check_content.max_retries
    if delay != 60:
        bogus = sorted(n for n in _names(settings) if "RETRY_DELAY" in n or "MAX_RETRIES" in n)
        if bogus:
            raise Fail(
                f"{bogus[0]} changed nothing: a task still waits {delay} s between retries",
                hint="it is not a Celery setting (Celery ignores unknown names); retry options "
                "belong to the tasks, and CELERY_TASK_ANNOTATIONS sets them for every task",
            )
        raise Fail(
            f"a task waits {delay} s between retries, not 60 s",
            hint="set the task option default_retry_delay for every task, with "
            "CELERY_TASK_ANNOTATIONS and the pattern '*'",
        )
    if retries != 3:
        raise Fail(f"a task retries at most {retries} times, not 3")
    return "routes ai_queue / image_queue / default, results kept 1 h, retries 60 s apart"


# --------------------------------------------------------------------------- 02.2


def _parse_redis(url: Any, what: str) -> dict[str, Any]:
    if not isinstance(url, str) or not url:
        raise Fail(
            f"the app has no {what}",
            hint="pass it when you create the app: Celery(main, broker=..., backend=...)",
        )
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise Fail(f"the {what} is {url!r}, not a redis:// URL")
    path = parts.path.strip("/")
    return {
        "host": parts.hostname,
        "port": parts.port or 6379,
        "password": parts.password or None,
        "db": path if path else "0",
    }


def _call_make_app(make_app: Any, env: dict[str, str]) -> Celery:
    if not callable(make_app):
        raise Fail(f"make_app is a {type(make_app).__name__}, not a function")
    current = celery.current_app._get_current_object()
    try:
        app = make_app(dict(env))
    except KeyError as exc:
        raise Fail(
            f"make_app({env}) raised KeyError: {exc}",
            hint="a variable that is not set must fall back to its default: env.get(name, default)",
        ) from None
    finally:  # Celery(...) makes itself the current app unless set_as_current=False
        current.set_current()
    if app is None:
        raise NotYet("write the body of make_app")
    if not isinstance(app, Celery):
        raise Fail(f"make_app returned a {type(app).__name__}, not a Celery app")
    return app


ENV_CASES: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({}, {"host": "localhost", "port": 6379, "password": None, "db": 0}),
    (
        {"REDIS_HOST": "redis", "REDIS_PORT": "6380", "REDIS_PASSWORD": "root", "REDIS_DB": "2"},
        {"host": "redis", "port": 6380, "password": "root", "db": 2},
    ),
    (
        {"REDIS_HOST": "cache.internal"},
        {"host": "cache.internal", "port": 6379, "password": None, "db": 0},
    ),
]


@exercise("02.2", "broker and backend from the environment", points=2)
def _make_app(make_app: Any) -> str:
    defaults = ENV_CASES[0][1]
    apps = []
    for env, want in ENV_CASES:
        app = _call_make_app(make_app, env)
        apps.append(app)
        # conf.get, not conf.broker_url: the property prefers $CELERY_BROKER_URL of this process
        broker = _parse_redis(app.conf.get("broker_url"), "broker URL")
        backend = _parse_redis(app.conf.get("result_backend"), "result backend")
        shown = f"make_app({env})"
        for key in ("host", "port"):
            if broker[key] == want[key]:
                continue
            if f"REDIS_{key.upper()}" in env and broker[key] == defaults[key]:
                raise Fail(
                    f"{shown} ignored REDIS_{key.upper()}",
                    hint="read the values from the env argument (a dict), not from os.environ "
                    "or constants",
                )
            raise Fail(f"{shown}: the broker's {key} is {broker[key]!r}, not {want[key]!r}")
        if broker["password"] != want["password"]:
            if want["password"] and broker["password"] is None:
                raise Fail(
                    f"{shown}: the broker URL has no password",
                    hint="a password goes before the host: redis://:PASSWORD@host:port/db",
                )
            if want["password"] is None:
                raise Fail(
                    f"{shown}: the broker URL has the password {broker['password']!r} "
                    "though REDIS_PASSWORD is not set",
                    hint="only put ':PASSWORD@' in the URL when REDIS_PASSWORD is set",
                )
            raise Fail(f"{shown}: the broker's password is {broker['password']!r}, not 'root'")
        if broker["db"] != str(want["db"]):
            raise Fail(f"{shown}: the broker uses db {broker['db']}, not {want['db']}")
        for key in ("host", "port", "password"):
            if backend[key] != broker[key]:
                raise Fail(
                    f"{shown}: the result backend's {key} differs from the broker's",
                    hint="both live on the same Redis server; only the database number differs",
                )
        if backend["db"] != str(want["db"] + 1):
            if backend["db"] == broker["db"]:
                raise Fail(
                    f"{shown}: results would go to the broker's database {broker['db']}",
                    hint="results go to the next database, REDIS_DB + 1 (guide 001: broker db 0, "
                    "backend db 1)",
                )
            if backend["db"] == f"{want['db']}1":
                raise Fail(
                    f"{shown}: the result backend uses db {backend['db']}",
                    hint="values from the environment are strings: int() REDIS_DB before you add 1",
                )
            raise Fail(f"{shown}: the result backend uses db {backend['db']}, not {want['db'] + 1}")
    if apps[0] is apps[1]:
        raise Fail(
            "make_app returned the same app for different environments",
            hint="create a new Celery(...) inside make_app on every call",
        )
    return "defaults, host, port, password and db from env; results on db + 1"


# --------------------------------------------------------------------------- 02.3


@exercise("02.3", "json only, results kept one hour", points=2)
def _safe_config(config: Any) -> str:
    app = _fresh_app("safe")
    app.config_from_object(config)
    conf = app.conf
    accept = conf.accept_content
    if isinstance(accept, str):
        raise Fail(
            f"accept_content is the string {accept!r}",
            hint="it is a list of content types, like the course's app.conf.accept_content",
        )
    accepted = prepare_accept_content(accept)
    try:  # what a worker with this config does with a pickled task body
        loads(pickle.dumps([[2, 3], {}, {}]), PICKLE, "binary", accept=accepted)
    except ContentDisallowed:
        pass
    else:
        raise Fail(
            "your config still accepts pickle: its worker would unpickle whatever the broker "
            "hands it",
            hint="accept_content decides what a worker decodes; a subclass keeps every setting "
            "it does not override, including LegacyConfig's list",
        )
    if accepted != {JSON}:
        others = ", ".join(sorted(accepted - {JSON})) or "nothing"
        raise Fail(f"accept_content allows {others} besides json", hint="json only: one item")
    if conf.task_serializer != "json":
        raise Fail(
            f"tasks are still sent as {conf.task_serializer}",
            hint="task_serializer is what .delay() encodes the arguments with",
        )
    if conf.result_serializer != "json":
        raise Fail(
            f"results are still stored as {conf.result_serializer}",
            hint="result_serializer is what the worker encodes return values with",
        )
    result_accept = conf.result_accept_content
    if result_accept is not None and prepare_accept_content(result_accept) != {JSON}:
        raise Fail(
            "result_accept_content still lets a client decode more than json results",
            hint="leave it out (it then follows accept_content) or make it json only",
        )
    _check_one_hour(conf.result_expires, "result_expires")
    return "json only, a pickled task is refused, results kept 1 h"


# --------------------------------------------------------------------------- 02.4

SHANGHAI = ZoneInfo("Asia/Shanghai")
WANTED = datetime(2025, 3, 1, 9, 0, tzinfo=SHANGHAI)


def _worker_eta(app: Celery, eta: Any) -> datetime:
    """The ETA a worker of ``app`` schedules for a message sent with ``eta=eta``."""
    task = app.tasks["tasks.report_tasks.daily_report"]
    sent = app.amqp.as_task_v2("02-4-check", task.name, (), {}, eta=eta)
    message = Message(
        body=b"[[], {}, {}]", headers=sent.headers, content_type=JSON, content_encoding="utf-8"
    )
    return Request(message, app=app, task=task).eta


def _shanghai(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@exercise("02.4", "an ETA in Shanghai time", points=1)
def _report_eta(report_eta: Any) -> str:
    # guide 000's app: timezone="Asia/Shanghai", enable_utc=False
    app = Celery("fastapi_tasks", timezone="Asia/Shanghai", enable_utc=False, set_as_current=False)

    @app.task(name="tasks.report_tasks.daily_report", shared=False)
    def daily_report() -> None:
        """A stand-in for guide 000's report task."""

    if isinstance(report_eta, date) and not isinstance(report_eta, datetime):
        raise Fail("report_eta is a date: it has no time of day", hint="use a datetime")
    if not isinstance(report_eta, (datetime, str)):
        raise Fail(f"report_eta is a {type(report_eta).__name__}, not a datetime")
    try:
        runs_at = _worker_eta(app, report_eta)
        sent = datetime.fromisoformat(report_eta) if isinstance(report_eta, str) else report_eta
    except (InvalidTaskError, ValueError):
        raise Fail(
            f"the worker cannot read {report_eta!r} as a date and time",
            hint="use a datetime (or its isoformat())",
        ) from None
    naive = sent.tzinfo is None
    if runs_at == WANTED:
        if naive:
            raise Fail(
                "it would run at the right moment, but only because a naive datetime is read "
                "as UTC",
                hint="make it aware, in the zone the user meant (zoneinfo.ZoneInfo), so nobody "
                "has to guess",
            )
        utc = runs_at.astimezone(timezone.utc)
        return f"the worker runs it at {_shanghai(runs_at)} in Shanghai, {utc:%H:%M} UTC"
    when = _shanghai(runs_at)
    if naive and runs_at == WANTED.replace(tzinfo=timezone.utc):
        raise Fail(
            f"the worker would run it at {when} in Shanghai, 8 hours late",
            hint="a naive datetime is read as UTC, whatever timezone= says: attach the "
            "Shanghai time zone",
        )
    if runs_at == WANTED.replace(tzinfo=timezone.utc):
        raise Fail(
            f"that is 09:00 UTC: the worker would run it at {when} in Shanghai",
            hint="09:00 is Shanghai time: use the Shanghai time zone, not UTC",
        )
    raise Fail(f"the worker would run it at {when} in Shanghai, not 2025-03-01 09:00")
