"""Checks for chapter 02 · Configuration (``solutions/02_configuration_solutions.ipynb``).

Every check loads the learner's configuration into a *fresh* Celery app (never the course
app) and looks at what Celery really does with it: the settings it ends up with, where its
router sends tasks, which content types its worker would decode, and when a worker would
run a task with the learner's ETA. Nothing connects to the course's broker, so the checks
behave the same in every mode.

02.1 reads the retry options of a task that declares its own (max_retries=10), so that 3 retries
left to Celery's default show, and names Celery 3's setting names (CELERY_TASK_RESULT_EXPIRES)
and CELERY_ names Celery does not know. It also publishes a message for each task through the
fresh app onto a private in-memory broker (kombu's memory transport with state of its own, so
the course's app and an embedded worker are untouched), where each queue is declared as its
worker declares it, and sees which queue it lands in (a route's exchange and routing key that no
queue is bound with show), and asks which queues a worker started without -Q consumes; it
reads the options a route gives its messages (only where they go: no expires, priority, ...)
and the settings that change how messages are sent or a worker keeps its broker connection.
02.2 runs make_app while os.environ holds REDIS_* variables of other values (put back after),
twice with each environment, names an app returned again from an earlier call, a change to the
dict it is given or to os.environ (also one made while it runs and put back before it returns,
as mock.patch.dict(os.environ, ...) does: os.environ's class records the writes of the calling
thread during the call), and (from the source of its cell) a value it uses that was taken from
os.environ when the cell ran; it also evaluates again, with REDIS_* in os.environ, the code
that bound each value make_app reads (its own cell's, else the last cell that ran it, from
IPython's history), so a snapshot in an earlier cell, through an alias or a helper shows; and
calls it once with guide 002's CELERY_BROKER_URL in env, which must change nothing. 02.3 hands
a json message to kombu too, so a list that refuses json is named as such. 02.1's tasks
elsewhere include another app's legacy.threads.tasks.sync, which a leading '*' or a substring
test also routes. 02.3 also wants LegacyConfig's broker kept.
"""

from __future__ import annotations

import ast
import linecache
import numbers
import os
import pickle
import threading
import types
import warnings
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any
from unittest import mock
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from celery import Celery, _state
from celery.app.defaults import _TO_NEW_KEY, DEFAULTS
from celery.app.routes import MapRoute
from celery.app.task import Task
from celery.exceptions import ImproperlyConfigured, InvalidTaskError, QueueNotFound
from celery.worker.request import Request
from kombu import Connection, Message, Producer
from kombu.exceptions import ContentDisallowed, SerializerNotInstalled
from kombu.serialization import loads, prepare_accept_content
from kombu.transport import memory, virtual

from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import error_text, kind

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
}
#: Tasks outside ``threads.tasks``: each stays on Celery's default queue. Names next to it
#: (another module of ``threads``, a module whose name starts with ``tasks``, a dot that is
#: not a dot, another app's module ``threads.tasks`` whose name only contains
#: ``threads.tasks.``) show a pattern that matches more than ``threads.tasks.``.
OUTSIDE = [
    "billing.tasks.charge",
    "threads.models.cleanup",
    "threads.tasks_legacy.reindex",
    "threads_tasks.notify",
    "legacy.threads.tasks.sync",
]
#: Tasks whose retry options the check reads: in ``threads.tasks`` and outside it.
RETRY_TASKS = ["threads.tasks.fact_check_content", "threads.tasks.like_post",
               "billing.tasks.charge", "threads.tasks.process_image"]  # fmt: skip
#: Retry options a task declares itself (``@app.task(max_retries=10, ...)``): the settings must
#: give it 60 s and 3 retries too, so an answer that leaves Celery's default of 3 retries shows.
OWN_OPTIONS = {"threads.tasks.process_image": {"max_retries": 10, "default_retry_delay": 5}}
CELERY_DEFAULT_QUEUE = "celery"


def _queue_of(app: Celery, name: str) -> str:
    """The queue ``app``'s router picks for a task called ``name`` (as apply_async does)."""
    route = app.amqp.router.route({}, name, (), {})
    queue = route.get("queue")
    return getattr(queue, "name", queue) or app.conf.task_default_queue


def _celery_name(name: str) -> bool:
    """Whether ``name``, in any case and with or without ``CELERY_``, is a Celery setting."""
    bare = name.lower()
    return bare in DEFAULTS or bare.removeprefix("celery_") in DEFAULTS


def _old_name(name: str) -> bool:
    """Whether ``name`` is a Celery 3 setting name (CELERY_TASK_RESULT_EXPIRES, ...) that, read
    with namespace='CELERY', is no current setting's name."""
    return name in _TO_NEW_KEY and name.lower().removeprefix("celery_") not in DEFAULTS


def _route_entries(routes: Any) -> list[tuple[Any, Any]]:
    """``(pattern, route)`` for each entry of a ``task_routes`` value (a dict, or a list or
    tuple of dicts and lists of pairs); callables and malformed entries are left out."""
    maps = [routes] if isinstance(routes, Mapping) else list(routes or ())
    entries: list[tuple[Any, Any]] = []
    for one in maps:
        if isinstance(one, Mapping):
            entries.extend(one.items())
        elif isinstance(one, list | tuple):
            entries.extend(e for e in one if isinstance(e, list | tuple) and len(e) == 2)
    return entries


def _pattern_for(routes: Any, name: str) -> str | None:
    """The first routes entry that matches the task ``name``, as written; None if none does."""
    for pattern, route in _route_entries(routes):
        try:
            if MapRoute([(pattern, route)])(name) is not None:
                return getattr(pattern, "pattern", pattern)
        except Exception:  # an entry Celery cannot read: the router says so elsewhere
            continue
    return None


def _too_wide(app: Celery, task: str, got: str) -> Fail:
    pattern = _pattern_for(app.conf.task_routes, task)
    which = f"the route {pattern!r} matches it" if pattern is not None else "a route matches it"
    if "threads.tasks." in task and not task.startswith("threads.tasks."):
        return Fail(
            f"{task}, a task of another app whose name only contains threads.tasks., was "
            f"routed to {got!r}: {which}, though it is not a task of threads.tasks",
            hint="a task of threads.tasks is one whose name STARTS with threads.tasks.: the "
            "glob 'threads.tasks.*' (no '*' in front, a glob must match the whole name), "
            "name.startswith('threads.tasks.') in a router function, not "
            "'threads.tasks.' in name",
        )
    return Fail(
        f"{task} is not a task of threads.tasks, but was routed to {got!r}: {which}",
        hint="your pattern is too wide: the glob 'threads.tasks.*' matches exactly the names "
        "that start with threads.tasks.; in a regular expression escape the dots and keep the "
        r"last one: re.compile(r'^threads\.tasks\.')",
    )


#: Task options that change how a task runs or retries: the settings must leave each as a task
#: without annotations has it (the exercise asks for default_retry_delay and max_retries only).
BEHAVIOUR_OPTIONS = ["retry_backoff", "retry_backoff_max", "retry_jitter", "retry_kwargs",
                     "autoretry_for", "dont_autoretry_for", "rate_limit", "time_limit",
                     "soft_time_limit", "acks_late", "acks_on_failure_or_timeout",
                     "reject_on_worker_lost", "ignore_result", "track_started", "serializer",
                     "priority", "expires", "store_errors_even_if_ignored", "throws",
                     "typing", "send_events", "trail"]  # fmt: skip

_BACKOFF_WHY = (
    "with it, a task that retries by itself (autoretry_for) no longer waits 60 s between "
    "retries but a growing, randomised delay (retry_backoff: 1, 2, 4 ... s, or that many "
    "times a number given to it; retry_jitter: a random part of it)"
)


def _extra_task_options(app: Celery) -> None:
    """A Fail if the settings give a task an option beyond the retry delay and limit."""
    plain = _fresh_app("plain")
    for name in RETRY_TASKS:
        own = OWN_OPTIONS.get(name, {})
        if name in app.tasks:  # _retry_options registered it already: one task per name
            stand_in = app.tasks[name]
        else:

            @app.task(name=name, shared=False, **own)
            def stand_in() -> None:
                """A stand-in for one of guide 002's tasks, to read its options."""

        @plain.task(name=name, shared=False, **own)
        def plain_task() -> None:
            """The same task without the settings."""

        for option in BEHAVIOUR_OPTIONS:
            got, want = getattr(stand_in, option, None), getattr(plain_task, option, None)
            if got == want:
                continue
            why = (
                _BACKOFF_WHY
                if option.startswith("retry_")
                else ("an option the exercise did not ask for, which changes how every task runs")
            )
            if option == "ignore_result":
                why = ("an option the exercise did not ask for: no task would keep its result "
                       "at all, let alone for one hour")  # fmt: skip
            setting = dict(Task.from_config).get(option)
            if setting and app.conf.get(setting) != plain.conf.get(setting):
                raise Fail(
                    f"your settings also give {name} {option}={got!r:.40}, with "
                    f"CELERY_{setting.upper()}: {why}",
                    hint=f"leave CELERY_{setting.upper()} out: besides the routes and the result "
                    "expiry, the exercise asks for the retry delay and limit only",
                )
            raise Fail(
                f"your settings also give {name} {option}={got!r:.40}: {why}",
                hint="the annotation sets default_retry_delay and max_retries only: "
                "{'*': {'default_retry_delay': 60, 'max_retries': 3}}",
            )


#: What a route may hold besides its queue: where the message is published (a route's exchange
#: and routing key are checked by publishing it). Any other key is an apply_async option that
#: the router gives every message the route matches.
ROUTE_KEYS = {"queue", "exchange", "routing_key", "exchange_type"}
_ROUTE_WHY = {
    "expires": "a message not started by then is revoked, and its task never runs (expires is "
    "the message's deadline, not how long its result is kept: that is CELERY_RESULT_EXPIRES)",
    "priority": "a message priority the exercise did not ask for, which changes the order in "
    "which a worker takes tasks",
    "countdown": "every such task would wait that long before it runs",
    "eta": "every such task would wait until then before it runs",
}


def _extra_route_options(app: Celery) -> None:
    """A Fail if a route gives the messages it matches an option beyond where they go."""
    for task in [*THREADS_ROUTES, *OUTSIDE]:
        route = app.amqp.router.route({}, task, (), {})
        extra = sorted(str(k) for k in route if k not in ROUTE_KEYS)
        if not extra:
            continue
        key = extra[0]
        pattern = _pattern_for(app.conf.task_routes, task)
        which = f"the route {pattern!r}" if pattern is not None else "its route"
        why = _ROUTE_WHY.get(
            key, "an option of apply_async the exercise did not ask for, given to every "
            "message this route matches",
        )  # fmt: skip
        raise Fail(
            f"{which} also gives every message for {task} {key}={route[key]!r:.40}: {why}",
            hint="a route says where a message goes, nothing more: {'queue': 'ai_queue'}; "
            "besides the routes, the result expiry and the retry options, give tasks no option",
        )


#: Settings beyond the task options that change how messages are sent or how a worker keeps
#: its broker connection (the exercise text forbids both): each must keep Celery's default.
BEHAVIOUR_SETTINGS = {
    "task_publish_retry": "whether apply_async retries when the broker cannot be reached",
    "task_publish_retry_policy": "how long apply_async blocks its caller, retrying, when the "
    "broker cannot be reached",
    "broker_connection_retry": "whether a worker reconnects when it loses the broker",
    "broker_connection_retry_on_startup": "whether a worker retries the broker when it starts",
    "broker_connection_max_retries": "how often a worker retries a lost broker before it gives "
    "up and exits",
    "broker_connection_timeout": "how long a connection attempt to the broker may take",
    "broker_channel_error_retry": "whether a worker reconnects after a channel error",
    "task_default_priority": "the priority of every message",
    "task_queue_max_priority": "the priorities every queue is declared with",
    "task_default_delivery_mode": "whether messages survive a broker restart",
    "task_inherit_parent_priority": "the priority of every message a task sends",
}


def _extra_behaviour_settings(app: Celery) -> None:
    """A Fail if the settings change how tasks are sent or how a worker connects."""
    plain = _fresh_app("plain")
    for name, what in BEHAVIOUR_SETTINGS.items():
        got = app.conf.get(name)
        if got == plain.conf.get(name):
            continue
        raise Fail(
            f"CELERY_{name.upper()} = {got!r:.60} changes {what}: a setting the exercise did "
            "not ask for, which shows only when the broker is down or busy",
            hint=f"leave CELERY_{name.upper()} out: besides the routes, the result expiry and "
            "the tasks' retry delay and limit (CELERY_TASK_ANNOTATIONS), the exercise asks for "
            "nothing; the retries it means are a task's own, self.retry()",
        )


def _retry_options(app: Celery) -> dict[str, tuple[Any, Any]]:
    """``(default_retry_delay, max_retries)`` of a task of each name in RETRY_TASKS."""
    found = {}
    for name in RETRY_TASKS:

        @app.task(name=name, shared=False, **OWN_OPTIONS.get(name, {}))
        def stand_in() -> None:
            """A stand-in for one of guide 002's tasks, to read its retry options."""

        found[name] = (stand_in.default_retry_delay, stand_in.max_retries)
    return found


def _number(value: Any) -> bool:
    """Whether ``value`` is a plain number (an int or a float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_plain_worker(app: Celery) -> None:
    """A Fail unless a worker started without -Q consumes Celery's default queue, 'celery'."""
    try:
        consumed = sorted(app.amqp.queues.consume_from)
    except Exception as exc:  # a task_queues value Celery cannot read
        raise Fail(
            f"Celery cannot use your CELERY_TASK_QUEUES: {error_text(exc)}",
            hint="leave it out: Celery creates each queue a route names",
        ) from None
    if CELERY_DEFAULT_QUEUE in consumed:
        return
    shown = ", ".join(repr(name) for name in consumed)
    if app.conf.task_default_queue != CELERY_DEFAULT_QUEUE:
        raise Fail(
            "CELERY_TASK_DEFAULT_QUEUE renames Celery's default queue to "
            f"{app.conf.task_default_queue!r}: your routes still send {OUTSIDE[0]} to 'celery', "
            f"but a worker started without -Q now consumes only {shown}, so the tasks on "
            "'celery' wait there for ever",
            hint="leave the default queue as it is: 'celery' is the queue a worker without -Q "
            "consumes, and tasks elsewhere stay on it with no route of their own",
        )
    raise Fail(
        f"CELERY_TASK_QUEUES lists {shown} but not 'celery': it replaces Celery's list of "
        "queues, so a worker started without -Q consumes only those, and tasks elsewhere "
        f"({OUTSIDE[0]}, ...), which stay on 'celery', wait there for ever",
        hint="leave CELERY_TASK_QUEUES out (Celery creates each queue a route names), or list "
        "Queue('celery') in it too",
    )


class _PrivateChannel(memory.Channel):
    """kombu's in-memory channel, with the queues of its own transport (not the process's)."""

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        self.queues = connection.private_queues
        self.events = defaultdict(set)
        super().__init__(connection, **kwargs)


class _PrivateTransport(memory.Transport):
    """kombu's in-memory broker, with exchanges, bindings and queues of its own: nothing the
    course's app (or an embedded worker on memory://) uses is touched."""

    Channel = _PrivateChannel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.state = virtual.BrokerState()
        self.private_queues: dict[str, Any] = {}


class _Recorder(Producer):
    """A producer that remembers the exchange and routing key of what it publishes."""

    sent: tuple[Any, Any] = ("", "")

    def publish(self, body: Any, routing_key: Any = None, *args: Any, **kwargs: Any) -> Any:
        self.sent = (kwargs.get("exchange"), routing_key)
        return super().publish(body, routing_key, *args, **kwargs)


def _check_delivery(app: Celery, expected: dict[str, str]) -> None:
    """Publish a message for each task (name: queue) through ``app`` onto a private in-memory
    broker where each queue is declared as its worker declares it (``-Q name``, or no -Q), and
    a Fail unless it lands in that queue, and only there."""
    queues = app.amqp.queues
    with Connection(transport=_PrivateTransport) as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kombu warns of a message no queue is bound for
        channel = connection.default_channel
        declared = {}
        for name in sorted({*expected.values(), *queues.consume_from}):
            try:
                declared[name] = queues[name]
            except KeyError:  # task_create_missing_queues off: the router named it already
                continue
            declared[name].bind(channel).declare()
        for task, want in expected.items():
            for name in declared:
                channel._purge(name)
            producer = _Recorder(channel)
            message = app.amqp.create_task_message("02-1-check", task, (), {})
            options = app.amqp.router.route({}, task, (), {})
            app.amqp.send_task_message(producer, task, message, retry=False, **options)
            landed = [name for name in declared if channel._size(name)]
            if landed == [want]:
                continue
            exchange, key = producer.sent
            exchange = getattr(exchange, "name", exchange)
            if landed:
                raise Fail(f"a message for {task} is published to the exchange {exchange!r} with "
                           f"the routing key {key!r} and lands in {', '.join(landed)}, not only "
                           f"in {want!r}")  # fmt: skip
            queue = declared.get(want)
            bound = (f", but {want!r} is bound to the exchange {queue.exchange.name!r} with the "
                     f"key {queue.routing_key!r}" if queue is not None else "")  # fmt: skip
            raise Fail(
                f"a message for {task} never reaches the queue {want!r}: Celery publishes it "
                f"to the exchange {exchange!r} with the routing key {key!r}, as your route "
                f"says{bound}, so the broker drops it and no worker ever gets the task",
                hint=f"a route needs only the queue, {{'queue': {want!r}}}: Celery then sends "
                "the message straight to it; an exchange and a routing key of your own need the "
                "queue declared with that binding (CELERY_TASK_QUEUES)",
            )


def _unknown_names(settings: Any) -> None:
    """A Fail for a CELERY_ name that Celery does not know: stored, ignored, misleading.
    Other names (Django's own, DEBUG, ..., and helpers) are not Celery's business."""
    unknown = sorted(
        n for n in _names(settings)
        if n.startswith("CELERY_") and n.removeprefix("CELERY_").lower() not in DEFAULTS
    )  # fmt: skip
    if not unknown:
        return
    shown = " and ".join(unknown[:2]) if len(unknown) <= 2 else ", ".join(unknown[:3]) + ", ..."
    raise Fail(
        f"{shown} {'is no Celery setting' if len(unknown) == 1 else 'are no Celery settings'}: "
        "Celery stores such a name and ignores it, so it changes nothing, and a reader of "
        "settings.py takes it for a setting in force",
        hint=f"leave {'it' if len(unknown) == 1 else 'them'} out: every CELERY_ name must be "
        "a setting Celery knows "
        "(app.conf.find_option(name) tells, without the CELERY_ prefix); the retry options "
        "come from CELERY_TASK_ANNOTATIONS",
    )


@exercise("02.1", "Django-style settings with namespace='CELERY'", points=2)
def _django_settings(settings: Any) -> str:
    lower = sorted(n for n in _names(settings) if not n.isupper() and _celery_name(n))
    if lower:
        shown = ", ".join(lower[:3])
        raise Fail(
            f"DjangoSettings spells {shown} in lower case: Django's settings keep only "
            "UPPER-case names (django.conf.settings drops the others), so Celery would never "
            f"see {'it' if len(lower) == 1 else 'them'}",
            hint="with namespace='CELERY' each setting is spelt CELERY_ + its name in upper "
            "case: CELERY_TASK_ROUTES, CELERY_RESULT_EXPIRES, ...",
        )
    old = sorted(n for n in _names(settings) if _old_name(n))
    if old:
        new = _TO_NEW_KEY[old[0]]
        raise Fail(
            f"{old[0]} is Celery 3's old name of the setting {new}: Celery 5 still maps it, "
            "but it is deprecated (due to go in Celery 6) and is not the setting's current name",
            hint=f"spell it with the setting's current name: CELERY_{new.upper()}",
        )
    app = _fresh_app("threads")
    app.config_from_object(settings, namespace="CELERY")
    default_queue = app.conf.task_default_queue
    if app.conf.task_always_eager:
        raise Fail(
            "CELERY_TASK_ALWAYS_EAGER is on: every task would run right in the caller, never "
            "reaching a queue or a worker",
            hint="leave it out: eager mode is for tests (chapter 11), not for settings.py",
        )
    try:
        queues = {task: _queue_of(app, task) for task in [*THREADS_ROUTES, *OUTSIDE]}
    except QueueNotFound as exc:  # task_create_missing_queues off
        raise Fail(
            f"Celery cannot route your tasks: {error_text(exc)}",
            hint="with CELERY_TASK_CREATE_MISSING_QUEUES off, every queue a route names must be "
            "declared in CELERY_TASK_QUEUES; leave that setting out and Celery creates them",
        ) from None
    except Exception as exc:  # a routes value the router cannot read
        raise Fail(
            f"Celery cannot use your CELERY_TASK_ROUTES: routing a task raised {error_text(exc)}",
            hint="give a dict, {pattern: route, ...}; Celery's other form is a tuple (or list) "
            "of such dicts, or of lists of (pattern, route) pairs: the pairs need one more "
            "level, ([(pattern, route), ...],)",
        ) from None
    if set(queues.values()) == {CELERY_DEFAULT_QUEUE}:
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

    if default_queue != CELERY_DEFAULT_QUEUE and queues[OUTSIDE[0]] == default_queue:
        raise Fail(
            f"CELERY_TASK_DEFAULT_QUEUE renames Celery's default queue to {default_queue!r}: "
            f"every task without a route goes there, {OUTSIDE[0]} too",
            hint="leave the default queue as it is (tasks elsewhere stay on 'celery') and give "
            "the other tasks of threads.tasks a glob entry of their own, 'threads.tasks.*'",
        )
    for task in OUTSIDE:
        if queues[task] != CELERY_DEFAULT_QUEUE:
            raise _too_wide(app, task, queues[task])
    for task, expected in THREADS_ROUTES.items():
        got = queues[task]
        if got == expected:
            continue
        if expected == "default" and got == CELERY_DEFAULT_QUEUE:
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

    _check_plain_worker(app)
    _check_delivery(app, {**THREADS_ROUTES, **dict.fromkeys(OUTSIDE, CELERY_DEFAULT_QUEUE)})

    expires = app.conf.result_expires
    _check_one_hour(expires, "CELERY_RESULT_EXPIRES")

    options = _retry_options(app)
    for name, (delay, retries) in options.items():
        for option, value in (("default_retry_delay", delay), ("max_retries", retries)):
            if isinstance(value, str):
                raise Fail(
                    f"{name} gets {option}={value!r}, a string, not a number",
                    hint=f"write the number itself, without quotes: {option}: {value.strip()}",
                )
            if option == "default_retry_delay" and not _number(value):
                raise Fail(
                    f"{name} gets default_retry_delay={value!r}, a {type(value).__name__}, not "
                    "a number of seconds: self.retry() hands it to apply_async as its countdown, "
                    "which must be a number, so every retry would fail with a TypeError"
                    if isinstance(value, timedelta)
                    else f"{name} gets default_retry_delay={value!r}, not a number of seconds",
                    hint="unlike result_expires, default_retry_delay takes no timedelta: write "
                    "the number of seconds itself, default_retry_delay: 60",
                )
    delays = {name: delay for name, (delay, _) in options.items()}
    if all(delay != 60 for delay in delays.values()):
        delay = delays[RETRY_TASKS[0]]
        names = sorted(_names(settings))
        bogus = [n for n in names if "RETRY_DELAY" in n] + [n for n in names if "MAX_RETRIES" in n]
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
    every = ("every task: CELERY_TASK_ANNOTATIONS = {'*': {...}} (an annotation's key is a "
             "task's full name or '*', never a glob)")  # fmt: skip
    for name, delay in delays.items():
        if delay != 60:
            reached = ", ".join(n for n, d in delays.items() if d == 60)
            raise Fail(
                f"{name} still waits {delay} s between retries: the retry options reach only "
                f"{reached}",
                hint=f"give them to {every}",
            )
    for name, (_, retries) in options.items():
        own = OWN_OPTIONS.get(name, {}).get("max_retries")
        if retries == own and retries != 3:
            annotations = app.conf.task_annotations
            stars = [a for a in annotations if isinstance(a, Mapping) and "*" in a] if isinstance(
                annotations, list | tuple) else []  # fmt: skip
            if len(stars) > 1:
                raise Fail(
                    f"{name}, declared with max_retries={own} of its own, still retries at most "
                    f"{retries} times, not 3: of your annotations only the first that matches "
                    "a task applies (the first '*'), so the later ones change nothing",
                    hint="put every option in one annotation: CELERY_TASK_ANNOTATIONS = "
                    "{'*': {'default_retry_delay': 60, 'max_retries': 3}}",
                )
            raise Fail(
                f"{name}, declared with max_retries={own} of its own, still retries at most "
                f"{retries} times, not 3: your settings leave max_retries alone, and the other "
                "tasks stop after 3 only because 3 is Celery's default",
                hint="set max_retries=3 as well (an annotation overrides a task's own "
                f"options), for {every}",
            )
        if retries != 3:
            raise Fail(f"{name} retries at most {retries} times, not 3",
                       hint=f"max_retries counts the retries after the first try; give it to "
                       f"{every}")  # fmt: skip
    _extra_task_options(app)
    _extra_route_options(app)
    _extra_behaviour_settings(app)
    _unknown_names(settings)
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
        raise Fail(f"make_app is {kind(make_app)}, not a function")
    current = _state.get_current_app()
    default = _state.default_app
    given = dict(env)
    try:
        app = make_app(given)
        became = _state.get_current_app()
        became_default = _state.default_app
    except KeyError as exc:
        raise Fail(
            f"make_app({env}) raised KeyError: {exc}",
            hint="a variable that is not set must fall back to its default: env.get(name, default)",
        ) from None
    except TypeError as exc:
        if "str" not in str(exc):
            raise
        raise Fail(
            f"make_app({env}) raised TypeError: {exc}",
            hint="values from the environment are strings: int() REDIS_DB before you add 1",
        ) from None
    finally:  # Celery(...) makes itself the current app unless set_as_current=False
        _state._set_current_app(current)
        _state.default_app = default
    if app is None:
        raise NotYet("write the body of make_app")
    if not isinstance(app, Celery):
        raise Fail(f"make_app returned {kind(app)}, not a Celery app")
    if became is app and app is not current:
        raise Fail(
            "make_app made the new app Celery's current app: in this kernel, @shared_task "
            "tasks and AsyncResult(id) would now use its broker and backend instead of the "
            "course's app",
            hint='Celery("fastapi_tasks", ..., set_as_current=False): the course\'s app stays '
            "the current one (chapter section 2)",
        )
    if became_default is app and app is not default:
        raise Fail(
            "make_app made the new app Celery's default app (set_default()): every thread "
            "without a current app of its own, a worker's or any new thread, would now use "
            "its broker and backend instead of the course's app",
            hint="leave out set_default(): create it with set_as_current=False and return it, "
            "the course's app stays the current and the default one (chapter section 2)",
        )
    if given != env:
        raise Fail(
            f"make_app({env}) changed the dict it was given: afterwards it holds {given}",
            hint="read env without writing to it, with env.get(name, default): setdefault() or "
            "env[name] = ... writes the defaults into the caller's dict, and into this "
            "process's own environment when it is called as make_app(os.environ)",
        )
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
    # the host of an earlier environment, on another port and db: an app kept per host shows
    (
        {"REDIS_HOST": "redis", "REDIS_PORT": "6381", "REDIS_DB": "4"},
        {"host": "redis", "port": 6381, "password": None, "db": 4},
    ),
]


#: This process's own environment while make_app runs: REDIS_* variables of other values,
#: which make_app must not read (its env argument is the whole environment it is given).
KERNEL_ENV = {"REDIS_HOST": "kernel-redis", "REDIS_PORT": "6391", "REDIS_PASSWORD": "kernel-pw",
              "REDIS_DB": "5"}  # fmt: skip
#: What each of KERNEL_ENV's variables gives, as _parse_redis reads it.
KERNEL_VALUES = {"host": "kernel-redis", "port": 6391, "password": "kernel-pw", "db": "5"}


def _from_kernel_env(shown: str, env: dict[str, str], parsed: dict[str, Any], what: str) -> None:
    """A Fail if a part of the URL ``what`` came from os.environ, not from ``env``."""
    for key, value in KERNEL_VALUES.items():
        variable = f"REDIS_{key.upper()}"
        if variable not in env and parsed[key] == value:
            raise Fail(
                f"{shown}: the {what}'s {key} is {value!r}, the value of {variable} in this "
                f"process's own environment (os.environ), which env does not set",
                hint="read only env, the dict make_app is given, and fall back to the default "
                f"when a variable is missing from it: env.get({variable!r}, default)",
            )


#: What the calling thread did to the process environment while make_app ran:
#: ("set" | "removed" | "replaced", name, value set), recorded by _watching_environ.
_ENV_WRITES: list[tuple[str, str, Any]] = []
_ENV_WATCHER: list[int] = []  # the id of the thread being watched, while one is


def _record(what: str, name: Any, value: Any = None) -> None:
    if _ENV_WATCHER and threading.get_ident() == _ENV_WATCHER[0]:
        _ENV_WRITES.append((what, str(name), value))


class _WatchedEnviron(os._Environ):  # type: ignore[name-defined,misc]
    """os.environ's own class, which also records the writes of the watched thread."""

    def __setitem__(self, key: Any, value: Any) -> None:
        _record("set", key, value)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        _record("removed", key)
        super().__delitem__(key)


class _WatchedOs(types.ModuleType):
    """The os module's class, which also records ``os.environ = ...`` (mock.patch.object)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "environ":
            _record("replaced", "os.environ")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name == "environ":
            _record("replaced", "os.environ")
        super().__delattr__(name)


@contextmanager
def _watching_environ() -> Iterator[list[tuple[str, str, Any]]]:
    """Record every change this thread makes to the process environment inside the block:
    a variable set or removed (mock.patch.dict(os.environ, ...) too, which puts everything
    back at its end) and os.environ itself replaced. Other threads are not recorded."""
    environ = os.environ
    watch_dict = type(environ) is os._Environ  # type: ignore[attr-defined]
    watch_module = type(os) is types.ModuleType
    _ENV_WRITES.clear()
    _ENV_WATCHER[:] = [threading.get_ident()]
    try:
        if watch_dict:
            environ.__class__ = _WatchedEnviron
        if watch_module:
            os.__class__ = _WatchedOs
        yield _ENV_WRITES
    finally:
        _ENV_WATCHER.clear()
        if watch_module:
            os.__class__ = types.ModuleType
        if watch_dict:
            environ.__class__ = os._Environ  # type: ignore[attr-defined]


def _call_in_kernel_env(make_app: Any, env: dict[str, str]) -> Celery:
    """``make_app(env)`` while os.environ holds KERNEL_ENV (put back as it was afterwards)."""
    with mock.patch.dict(os.environ, KERNEL_ENV):
        before = dict(os.environ)
        with _watching_environ() as recorded:
            app = _call_make_app(make_app, env)
        writes = list(recorded)
        after = dict(os.environ)
    changed = sorted({*before, *after} - {k for k in before if after.get(k) == before[k]})
    if changed:
        raise Fail(
            f"make_app({env}) changed this process's own environment, os.environ: "
            f"{', '.join(changed[:4])}",
            hint="make_app reads env, the dict it is given, and writes nothing: leave os.environ "
            "alone (every later reader of it, in this kernel, would see your values)",
        )
    failure = _changed_while_running(env, before, writes)
    if failure is not None:
        raise failure
    return app


def _listed(names: list[str]) -> str:
    """Up to four variable names, once each: PATH first, then REDIS_ ones, then the others."""
    unique = sorted(set(names), key=lambda n: (n != "PATH", not n.startswith("REDIS_"), n))
    return ", ".join(unique[:4]) + (", ..." if len(unique) > 4 else "")


def _changes(
    env: dict[str, str], before: dict[str, str], writes: list[tuple[str, str, Any]]
) -> dict[str, list[str]]:
    """The variables ``writes`` removed (of those env does not set) and set to another value
    than they had, and whether they replaced os.environ itself."""
    return {
        "removed": [n for w, n, _ in writes if w == "removed" and n in before and n not in env],
        "set": [n for w, n, v in writes if w == "set" and before.get(n) != v],
        "replaced": [n for w, n, _ in writes if w == "replaced"],
    }


def _changed_while_running(
    env: dict[str, str], before: dict[str, str], writes: list[tuple[str, str, Any]]
) -> Fail | None:
    """The Fail for a make_app that changed the process environment and put it back (the
    writes that put a variable back as it was are not named); None if nothing changed.
    mock.patch.dict puts everything back by emptying os.environ and filling it again: those
    last removals and writes are named only when nothing before them changed anything (then
    os.environ was emptied, by patch.dict(..., clear=True) or by that putting back)."""
    end = len(writes)
    while end and writes[end - 1][0] == "set":
        end -= 1
    restore = end
    while restore and writes[restore - 1][0] == "removed":
        restore -= 1
    changes = _changes(env, before, writes[:restore] if restore < end else writes)
    refilled = not any(changes.values())
    if refilled:
        changes = _changes(env, before, writes)
    removed, written = changes["removed"], changes["set"]
    if refilled and removed:
        what = (f"emptied this process's own environment, os.environ ({_listed(removed)} and "
                "the rest)")  # fmt: skip
    elif changes["replaced"]:
        what = "replaced os.environ, this process's own environment, with another mapping"
    elif removed:
        what = f"removed {_listed(removed)} from this process's own environment, os.environ"
        if written:
            what += f", and set {_listed(written)}"
    elif written:
        what = f"set {_listed(written)} in this process's own environment, os.environ"
    else:  # each write put back the value the variable had
        return None
    return Fail(
        f"make_app({env}) {what}, while it ran, and put it back afterwards: for that time "
        "every thread of this process (a worker's, a web server's) saw that environment, not "
        "its own, so make_app does change os.environ",
        hint="read env itself, env.get('REDIS_HOST', 'localhost'), and write nothing: "
        "mock.patch.dict(os.environ, ...) is a tool for tests, it changes the environment of "
        "the whole process, not of make_app only",
    )


def _code_of(function: Any) -> Any:
    """The code object of a function (of a functools.partial's function); None if none."""
    return getattr(getattr(function, "func", function), "__code__", None)


def _module_tree(filename: str) -> ast.Module | None:
    """The parsed source of a file (or of a notebook cell, kept in linecache); None if it has
    none, or none Python can parse."""
    try:
        return ast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError):
        return None


def _reads_environ(node: ast.AST) -> bool:
    """Whether an expression reads the process environment (os.environ, os.getenv, ...)."""
    names = {"environ", "environb", "getenv", "getenvb"}
    return any(
        (isinstance(n, ast.Attribute) and n.attr in names)
        or (isinstance(n, ast.Name) and n.id in names)
        for n in ast.walk(node)
    )


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements a module (or a cell) runs itself, inside if, with, try and loops too,
    not those of the functions and classes it defines."""
    found = []
    for statement in body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        found.append(statement)
        for field in ("body", "orelse", "finalbody"):
            found.extend(_module_level(getattr(statement, field, None) or []))
        for handler in getattr(statement, "handlers", None) or []:
            found.extend(_module_level(handler.body))
    return found


def _defs_of(tree: ast.Module, code: Any) -> list[Any]:
    """The definitions (def or lambda) in ``tree`` that compiled to ``code``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if getattr(node, "name", "<lambda>") == code.co_name and first == code.co_firstlineno:
            found.append(node)
    return found


def _each_code(todo: list[Any]) -> Iterator[tuple[Any, Any]]:
    """(function, code) for each function of ``todo`` (which the caller may extend while it
    iterates) with a code object not seen yet."""
    seen: set[Any] = set()
    while todo:
        function = todo.pop()
        code = _code_of(function)
        if code is not None and code not in seen:
            seen.add(code)
            yield function, code


def _global_names(code: Any) -> set[str]:
    """The global (and attribute) names a code object and the code nested in it use."""
    names: set[str] = set()
    codes = [code]
    while codes:
        one = codes.pop()
        names.update(one.co_names)
        codes.extend(c for c in one.co_consts if hasattr(c, "co_names"))
    return names


def _environ_snapshot(make_app: Any) -> str | None:
    """What of make_app (or of a helper of its own cell it calls) was built from os.environ
    when its cell ran: a default argument's value or a global of the cell; None if nothing.
    Reading os.environ while it runs shows in the URLs (the check fills it); a value taken
    from it earlier does not, unless the kernel had REDIS_* set then, so the source says."""
    todo = [make_app]
    for function, code in _each_code(todo):
        tree = _module_tree(code.co_filename)
        if tree is None:
            continue
        for node in _defs_of(tree, code):
            defaults = [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
            if any(_reads_environ(d) for d in defaults):
                return f"a default value of the arguments of {code.co_name}"
        names = _global_names(code)
        space = getattr(getattr(function, "func", function), "__globals__", {})
        for statement in _module_level(tree.body):
            if isinstance(statement, ast.Assign):
                targets = statement.targets
            elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
                targets = [statement.target]
            else:
                continue
            bound = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            value = getattr(statement, "value", None)
            hit = sorted(bound & names)
            if hit and value is not None and _reads_environ(value):
                return hit[0]
        for name in names:
            helper = space.get(name)
            if _code_of(helper) is not None and _code_of(helper).co_filename == code.co_filename:
                todo.append(helper)
    return None


#: An environment that also holds guide 002's variables: they change nothing, the URLs come
#: from REDIS_* (and the defaults) only.
GUIDE_002_ENV = {"REDIS_HOST": "redis-a", "CELERY_BROKER_URL": "redis://other-broker:6379/9",
                 "CELERY_RESULT_BACKEND": "redis://other-broker:6379/10"}  # fmt: skip


def _check_other_variables(make_app: Any) -> None:
    """A Fail unless variables of ``env`` other than REDIS_* leave the URLs alone."""
    env = GUIDE_002_ENV
    app = _call_in_kernel_env(make_app, env)
    for setting, what, db in (("broker_url", "broker URL", "0"),
                              ("result_backend", "result backend", "1")):  # fmt: skip
        url = app.conf.get(setting)
        parsed = _parse_redis(url, what)
        if parsed["host"] == "redis-a" and parsed["db"] == db and parsed["port"] == 6379:
            continue
        source = [k for k, v in env.items() if not k.startswith("REDIS_") and v == url]
        why = f": it is env's {source[0]}" if source else ""
        raise Fail(
            f"make_app({env}): the {what} is {url!r}, not 'redis://redis-a:6379/{db}'{why}",
            hint="build both URLs from REDIS_HOST, REDIS_PORT, REDIS_PASSWORD and REDIS_DB (and "
            "their defaults) only: other variables of env, guide 002's CELERY_BROKER_URL and "
            "CELERY_RESULT_BACKEND among them, change nothing",
        )


def _data_names(make_app: Any) -> tuple[dict[str, Any], set[str]]:
    """make_app's globals, and the names of the values (not modules, classes or functions) it
    reads from them, itself or through the functions of its namespace it calls, in their
    bodies or their default arguments."""
    function = getattr(make_app, "func", make_app)
    space = getattr(function, "__globals__", {})
    names: set[str] = set()
    todo = [function]
    for _, code in _each_code(todo):
        names.update(_global_names(code))
        tree = _module_tree(code.co_filename)
        for node in _defs_of(tree, code) if tree is not None else []:
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    names.update(n.id for n in ast.walk(default) if isinstance(n, ast.Name))
        for name in list(names):
            helper = space.get(name)
            if getattr(getattr(helper, "func", helper), "__globals__", None) is space:
                todo.append(helper)
    data = {n for n in names if n in space and not callable(space[n])
            and not isinstance(space[n], types.ModuleType)}  # fmt: skip
    return space, data


def _assignments(filename: str, name: str, source: str | None = None) -> list[ast.expr]:
    """The values a file (or a notebook cell, or ``source``) binds to ``name`` at its own
    level."""
    if source is None:
        tree = _module_tree(filename)
    else:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            tree = None
    found = []
    for statement in _module_level(tree.body) if tree is not None else []:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        if statement.value is not None and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            found.append(statement.value)
    return found


def _evaluated(value: ast.expr, filename: str, space: dict[str, Any], environ: dict[str, str]
               ) -> tuple[bool, Any]:  # fmt: skip
    """(True, what the expression gives) in a copy of ``space`` while os.environ holds REDIS_*
    as ``environ`` says (and no others); (False, None) if it raises."""
    current, default = _state.get_current_app(), _state.default_app
    try:
        with mock.patch.dict(os.environ):
            for key in [k for k in os.environ if k.startswith("REDIS_")]:
                del os.environ[key]
            os.environ.update(environ)
            code = compile(ast.Expression(value), filename, "eval")
            return True, eval(code, dict(space))  # noqa: S307 - the learner's own expression
    except Exception:  # an expression that needs more than its namespace: not judged
        return False, None
    finally:
        _state._set_current_app(current)
        _state.default_app = default


def _reevaluated_snapshot(make_app: Any) -> str | None:
    """The name of a value make_app reads that was taken from os.environ when the cell that
    sets it ran (that cell, an earlier one, through an alias, a helper, ...): evaluated again
    with REDIS_* variables in os.environ, it gives something else. None if there is none."""
    function = getattr(make_app, "func", make_app)
    code = _code_of(function)
    if code is None:
        return None
    space, todo = _data_names(function)
    history = space.get("_ih")  # IPython's cells, in the order they ran
    if isinstance(history, list) and all(isinstance(c, str) for c in history):
        cells = [(f"<cell {i}>", source) for i, source in enumerate(history)]
    else:  # cells kept in linecache (IPython keeps each with no mtime): order unknown
        cells = [(name, None) for name, entry in list(linecache.cache.items())
                 if name != code.co_filename and len(entry) == 4 and entry[1] is None]  # fmt: skip
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found = [(code.co_filename, v) for v in _assignments(code.co_filename, name)]
        if not found:
            found = [(cell, v) for cell, source in cells for v in _assignments(cell, name, source)]
            if isinstance(history, list) and found:
                last = found[-1][0]  # the last cell that ran binds the value in force
                found = [(cell, v) for cell, v in found if cell == last]
        from_environ = False
        for filename, value in found:
            ok, plain = _evaluated(value, filename, space, {})
            ok_kernel, kernel = _evaluated(value, filename, space, KERNEL_ENV)
            if not (ok and ok_kernel):
                continue
            try:
                current = bool(space.get(name) == plain)
                differs = bool(plain != kernel)
            except Exception:  # values that cannot be compared: not judged
                continue
            todo.update(n.id for n in ast.walk(value) if isinstance(n, ast.Name)
                        and n.id in space and not callable(space[n.id])
                        and not isinstance(space[n.id], types.ModuleType))  # fmt: skip
            if current and not differs:  # a value it does not take from os.environ (a fixed
                from_environ = False  # one, or another name's, followed on) explains it
                break
            from_environ = from_environ or (current and differs)
        if from_environ:
            return name
    return None


@exercise("02.2", "broker and backend from the environment", points=2)
def _make_app(make_app: Any) -> str:
    defaults = ENV_CASES[0][1]
    apps: list[Celery] = []
    for env, want in ENV_CASES:
        app = _call_in_kernel_env(make_app, env)
        for earlier, (earlier_env, _) in zip(apps, ENV_CASES, strict=False):
            if app is earlier:
                raise Fail(
                    f"make_app({env}) returned the same app as an earlier call, "
                    f"make_app({earlier_env}), not a new one for this environment",
                    hint="create a new Celery(...) inside make_app on every call: an app kept "
                    "from an earlier call has that call's URLs, or changes under whoever uses it",
                )
        apps.append(app)
        # conf.get, not conf.broker_url: the property prefers $CELERY_BROKER_URL of this process
        broker = _parse_redis(app.conf.get("broker_url"), "broker URL")
        backend = _parse_redis(app.conf.get("result_backend"), "result backend")
        shown = f"make_app({env})"
        _from_kernel_env(shown, env, broker, "broker URL")
        _from_kernel_env(shown, env, backend, "result backend URL")
        for key in ("host", "port"):
            if broker[key] == want[key]:
                continue
            url = app.conf.get("broker_url")
            if key == "port" and urlsplit(url).port is None:
                raise Fail(
                    f"{shown}: the broker URL {url!r} has no port, so Redis's default 6379 is "
                    f"used, not {want['port']}",
                    hint="put the port in the URL: redis://host:port/db",
                )
            if f"REDIS_{key.upper()}" in env and broker[key] == defaults[key]:
                raise Fail(
                    f"{shown} ignored REDIS_{key.upper()}",
                    hint=f"read REDIS_{key.upper()} from env, the dict make_app is given; fall "
                    "back to the default only when it is missing",
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
    for app, (env, _) in zip(apps, ENV_CASES, strict=True):
        if _call_in_kernel_env(make_app, env) is app:
            raise Fail(
                f"make_app({env}), called again with the same environment, returned the very "
                "same app, not a new one",
                hint="create a new Celery(...) inside make_app on every call: callers that share "
                "one app change each other's app.conf, tasks and connections",
            )
    _check_other_variables(make_app)
    snapshot = _environ_snapshot(make_app) or _reevaluated_snapshot(make_app)
    if snapshot is not None:
        raise Fail(
            f"make_app falls back to os.environ as it was when its cell ran: {snapshot} is "
            "built from it, so in a kernel started with REDIS_HOST (or another REDIS_ variable) "
            "set, make_app({}) uses that value, not localhost, 6379, no password, db 0",
            hint="fall back to the fixed defaults only: env.get('REDIS_HOST', 'localhost'), "
            "...; env is the whole environment make_app is given",
        )
    return "defaults, host, port, password and db from env; results on db + 1"


# --------------------------------------------------------------------------- 02.3


@exercise("02.3", "json only, results kept one hour", points=2)
def _safe_config(config: Any) -> str:
    app = _fresh_app("safe")
    app.config_from_object(config)
    conf = app.conf
    try:
        accept = conf.accept_content
    except ImproperlyConfigured as exc:  # Celery 3's names next to the new ones
        renames = [" ".join(line.split()) for line in str(exc).splitlines() if "->" in line]
        raise Fail(
            "Celery refuses this configuration: it mixes old setting names (Celery 3's "
            "CELERY_...) with the new lower-case ones" + (f" ({renames[0]})" if renames else ""),
            hint="use the new names only: task_serializer, result_serializer, accept_content, "
            "result_expires",
        ) from None
    if isinstance(accept, str):
        raise Fail(
            f"accept_content is the string {accept!r}",
            hint="it is a list of content types, like the course's app.conf.accept_content",
        )
    if accept is None:
        raise Fail(
            "accept_content is None, not a list: your config no longer says what a worker may "
            "decode (with None, Celery and kombu switch their check off and leave it to kombu's "
            "process-wide list of enabled serializers, which any library can extend)",
            hint="a list's methods that change it in place (remove, append, sort, ...) return "
            "None: write the list itself, accept_content = ['json']",
        )
    if not isinstance(accept, list | tuple | set | frozenset):
        raise Fail(
            f"accept_content is {kind(accept)}, not a list of content types",
            hint="write the list itself, accept_content = ['json']",
        )
    accepted = _accepted(accept, "accept_content")
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
    _refuses_json(
        accepted,
        accept,
        "accept_content",
        "a worker with your config would refuse every task message, json ones too",
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
    if result_accept is not None:
        _refuses_json(
            _accepted(result_accept, "result_accept_content"), result_accept,
            "result_accept_content", "a client with your config would refuse every result, json "
            "ones too (AsyncResult.get() raises ContentDisallowed)",
        )  # fmt: skip
    if result_accept is not None and _accepted(result_accept, "result_accept_content") != {JSON}:
        raise Fail(
            "result_accept_content still lets a client decode more than json results",
            hint="leave it out (it then follows accept_content) or make it json only",
        )
    if conf.event_serializer != "json":
        raise Fail(
            f"the worker's events are still sent as {conf.event_serializer} (event_serializer): "
            "a monitor (celery events, Flower) reading them accepts that serializer, so it "
            "would decode whatever is on the broker",
            hint="json everywhere: leave event_serializer at its default, json",
        )
    _check_one_hour(conf.result_expires, "result_expires")
    _check_legacy_broker(conf.get("broker_url"))
    return "json only, a pickled task is refused, results kept 1 h, on guide 001's Redis"


#: LegacyConfig's broker: SafeConfig replaces guide 001's configuration, so it keeps it.
LEGACY_BROKER = "redis://localhost:6379/0"


def _check_legacy_broker(url: Any) -> None:
    """A Fail unless ``url`` is LegacyConfig's broker (spelt in any way that means it)."""
    hint = ("subclass LegacyConfig: a subclass keeps every setting it does not override, "
            "broker_url too (or copy its broker_url into your class)")  # fmt: skip
    if not url:
        raise Fail(
            "your config has no broker_url: an app configured with it connects to Celery's "
            "default broker, amqp://guest@localhost//, not to guide 001's Redis, "
            f"{LEGACY_BROKER}, which LegacyConfig names",
            hint=hint,
        )
    try:
        parts = urlsplit(str(url))
        same = (
            parts.scheme == "redis"
            and parts.hostname in ("localhost", "127.0.0.1")
            and (parts.port or 6379) == 6379
            and parts.path.strip("/") in ("", "0")
            and not parts.password
        )
    except ValueError:  # a port that is not a number
        same = False
    if not same:
        raise Fail(
            f"your config's broker_url is {url!r}, not LegacyConfig's {LEGACY_BROKER!r}: the "
            "safe configuration must still reach guide 001's Redis",
            hint=hint,
        )


def _accepted(accept: Any, name: str) -> set[str]:
    """The content types ``accept`` (a setting's value) lets through; a Fail for a serializer
    name that no decoder is installed for (kombu refuses to load the list then)."""
    try:
        return set(prepare_accept_content(accept))
    except SerializerNotInstalled:
        items = [accept] if isinstance(accept, str) else list(accept)
        if not any(i in ("json", JSON) for i in items):
            _refuses_json(
                set(),
                items,
                name,
                "kombu knows no serializer of that name, so json is not among what it lets through",
            )
        others = ", ".join(str(i) for i in items if i not in ("json", JSON))
        raise Fail(f"{name} allows {others} besides json", hint="json only: one item") from None


def _refuses_json(accepted: set[str], accept: Any, name: str, why: str) -> None:
    """A Fail if a json message is refused with ``accepted`` (kombu's decoding of ``accept``,
    the setting's value ``name``), as a worker (or a client, for results) decodes one."""
    try:
        loads(b"[[2, 3], {}, {}]", JSON, "utf-8", accept=accepted)
        return
    except ContentDisallowed:
        pass
    items = list(accept)
    shown = f"{name} = {items!r}"
    if not items:
        problem = f"{shown} lets nothing through: {why}"
        hint = "an empty list refuses everything; list the one content type to allow: ['json']"
    else:
        problem = f"{shown} does not let json through: {why}"
        bad = next((i for i in items if str(i).lower() in ("json", JSON)), None)
        if bad is not None:
            hint = (f"kombu's names are lower case: {str(bad).lower()!r}, not {bad!r}; "
                    "write ['json'] (or ['application/json'])")  # fmt: skip
        elif any("json" in str(i) for i in items):
            hint = ("json's content type is 'application/json' (kombu's name for it is 'json'): "
                    "write ['json']")  # fmt: skip
        else:
            hint = "list json itself: ['json']"
    raise Fail(problem, hint=hint)


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
    """The moment in Shanghai time, to the minute; with its seconds when it has any."""
    local = moment.astimezone(SHANGHAI)
    if local.microsecond:
        return local.strftime("%Y-%m-%d %H:%M:%S.%f")
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")


def _zone_hint(sent: datetime) -> str | None:
    """A hint for an aware datetime whose zone is not what its author meant, else None."""
    zone = sent.tzinfo
    key = getattr(zone, "key", None) or getattr(zone, "zone", None) or ""
    if hasattr(zone, "localize"):
        return ("tzinfo=pytz.timezone(...) gives the zone's first offset in history (Shanghai's "
                "local mean time, +08:06), not today's: use "
                'zoneinfo.ZoneInfo("Asia/Shanghai")')  # fmt: skip
    if key.startswith("Etc/GMT"):
        return (f"{key} is UTC{'-' if '+' in key else '+'}{key[7:].lstrip('+-')}: the Etc zones "
                "reverse the sign; use ZoneInfo(\"Asia/Shanghai\")")  # fmt: skip
    offset = sent.utcoffset()
    if sent.replace(tzinfo=None) != WANTED.replace(tzinfo=None) or offset is None:
        return None
    if offset == timedelta(minutes=8) and isinstance(zone, timezone):
        return ("your zone's UTC offset is 8 minutes, not 8 hours: timedelta(minutes=8) is "
                "+00:08; timezone(timedelta(hours=8)) is +08:00, and "
                "ZoneInfo(\"Asia/Shanghai\") names the zone itself")  # fmt: skip
    if offset == timedelta(minutes=8) and type(zone).__name__ == "tzoffset":
        return ("your zone's UTC offset is 8 minutes, not 8 hours: dateutil's "
                "tz.tzoffset(name, offset) counts seconds (8 hours are 8 * 3600); use "
                "ZoneInfo(\"Asia/Shanghai\")")  # fmt: skip
    if offset == timedelta(minutes=8):
        return ("your zone's UTC offset is 8 minutes, not 8 hours: Shanghai is +08:00; use "
                "ZoneInfo(\"Asia/Shanghai\")")  # fmt: skip
    if offset != timedelta(hours=8):
        shown = sent.strftime("%z")
        return (f"your datetime says 09:00 in a zone at UTC{shown[:3]}:{shown[3:]}, not at "
                'Shanghai\'s +08:00: use ZoneInfo("Asia/Shanghai")')  # fmt: skip
    return None


@exercise("02.4", "an ETA in Shanghai time", points=1)
def _report_eta(report_eta: Any) -> str:
    # guide 000's app: timezone="Asia/Shanghai", enable_utc=False
    app = Celery("fastapi_tasks", timezone="Asia/Shanghai", enable_utc=False, set_as_current=False)

    @app.task(name="tasks.report_tasks.daily_report", shared=False)
    def daily_report() -> None:
        """A stand-in for guide 000's report task."""

    if isinstance(report_eta, date) and not isinstance(report_eta, datetime):
        raise Fail("report_eta is a date: it has no time of day", hint="use a datetime")
    if isinstance(report_eta, str):
        raise Fail(
            f"report_eta is a str ({report_eta!r:.40}), not a datetime",
            hint="give the aware datetime itself, "
            'datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")): apply_async writes '
            "it into the message for you",
        )
    if not isinstance(report_eta, datetime):
        raise Fail(f"report_eta is {kind(report_eta)}, not a datetime",
                   hint="use an aware datetime")  # fmt: skip
    try:
        runs_at = _worker_eta(app, report_eta)
    except (InvalidTaskError, ValueError):
        raise Fail(
            f"the worker cannot read {report_eta!r} as a date and time",
            hint="use a datetime",
        ) from None
    sent = report_eta
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
    nine_utc = WANTED.replace(tzinfo=timezone.utc)
    if naive and runs_at == nine_utc:
        raise Fail(
            f"the worker would run it at {when} in Shanghai, 8 hours late",
            hint="a naive datetime is read as UTC, whatever timezone= says: attach the "
            "Shanghai time zone",
        )
    if not naive and sent.utcoffset() == timedelta(0) and runs_at == nine_utc:
        raise Fail(
            f"that is 09:00 UTC: the worker would run it at {when} in Shanghai",
            hint="09:00 is Shanghai time: use the Shanghai time zone, not UTC",
        )
    if not naive and runs_at == nine_utc:
        raise Fail(
            f"that is 09:00 UTC converted to Shanghai time ({_shanghai(sent)[11:]}): the worker "
            f"would run it at {when} in Shanghai",
            hint=".astimezone(zone) converts and keeps the moment: from a datetime in UTC (or a "
            "naive one, taken as this machine's local time, "
            f"{datetime(2025, 3, 1, 9).astimezone().tzname()}) it is still 09:00 UTC; so does "
            "Celery's maybe_make_aware(naive, zone), which takes a naive datetime as UTC and "
            "converts it; attach the zone instead: "
            'datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))',
        )
    if not naive and sent.astimezone().replace(tzinfo=None) == WANTED.replace(tzinfo=None):
        local = sent.astimezone().tzname()
        raise Fail(
            f"that is 09:00 in this machine's time zone ({local}), converted: the worker would "
            f"run it at {when} in Shanghai",
            hint=".astimezone(zone) on a naive datetime takes it as the machine's local time "
            "and converts it; attach the zone instead: "
            'datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))',
        )
    off = runs_at - WANTED
    if timedelta(0) < abs(off) < timedelta(minutes=1):
        raise Fail(
            f"the worker would run it at {when} in Shanghai, not 2025-03-01 09:00:00: the "
            f"datetime has {off.total_seconds():g} s beyond 09:00",
            hint="datetime.now(...).replace(...) keeps the seconds and microseconds of now: "
            "set second=0 and microsecond=0 too, or build it whole: "
            'datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))',
        )
    if not naive and off == timedelta(hours=-8) and sent.utcoffset() == timedelta(hours=8):
        raise Fail(
            f"that is 01:00 Shanghai time (09:00 minus 8 hours, as if the worker wanted UTC): "
            f"the worker would run it at {when} in Shanghai, 8 hours early",
            hint="an aware datetime carries its UTC offset, and Celery converts it to UTC "
            "itself: shifting it by hand moves the moment; give 09:00 in Shanghai as it is, "
            'datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))',
        )
    hint = None if naive else _zone_hint(sent)
    raise Fail(f"the worker would run it at {when} in Shanghai, not 2025-03-01 09:00",
               hint=hint or "")  # fmt: skip
