"""Checks of chapter 08's exercises (``solutions/08_routing_solutions.ipynb``).

* 08.1 ``check("08.1", routes)``: a ``task_routes`` dict that sends guide 003's AI tasks
  (``ai_tasks.*``) to ``ai_processing``, its quick calculations (``demo_tasks.*``) to
  ``demo_tasks`` and leaves every other task on the default queue ``celery``. For task names
  of each kind, the course's and names it does not have yet (``ai_tasks.GPT4_summary``,
  ``demo_tasks.3d-render``, ``airflow.sync_dags``, ``ai_tasks_legacy.summarize``,
  ``course_tasks.tasks.ai.summarize_document``: a later task named after its module), a message
  is really published the way ``apply_async`` publishes it (``app.send_task`` with the router
  Celery builds from the routes, :class:`celery.app.routes.Router`) to a broker of the
  check's own (kombu's memory transport with private state, a fresh one per message) where
  no queue is declared yet, as before any worker started: the message lands only in a queue
  the sender declares, as on RabbitMQ (a route with ``"queue"`` does; an exchange and routing
  key alone, ``declare=[]`` or a ``Queue`` with ``no_declare`` lose it). The check looks
  where each message lands and compares it with what a plain ``{"queue": ...}`` route sends
  (a priority or another option added by a route shows there; an option Celery refuses from
  a route, such as ``expires``, is named as the cause), and
  compares what the send declares on the broker with what that plain route declares: a kombu
  ``Queue`` of the queue's name is fine (it declares less: no exchange, no binding), one with
  an exchange of its own or other properties (``durable=False``, ``max_priority``) is not.
  The broker drops each message's first attempt to publish (a blip, which Celery retries): a
  route with ``retry`` off or ``max_retries`` 0 loses the message, and any other ``retry`` or
  ``retry_policy`` than the app's is named (the same rule as 08.2's); an exchange or routing
  key that is not the queue's own is refused even where Celery drops it (no exchange with a
  routing key). ``"priority": 0`` is no priority (a task's own priority wins over a route's).
  The names that stay on ``celery`` are then routed once more as in an app whose
  ``task_default_queue`` is another: they must go there (a route to 'celery' hard-codes it);
* 08.2 ``check("08.2", rush)``: ``rush(x, y)`` sends ``simple_calculation(x, y)`` to the
  queue ``urgent`` whatever ``task_routes`` say, and returns its AsyncResult. Called three
  times (the same arguments the first and third time) while routes send ``demo_tasks.*``
  elsewhere, and each time the broker drops the first attempt to publish (a connection
  error, which Celery retries unless the call turned the retry off). Each call's messages
  are caught as they are published (exactly one, with an id no other call's task had) and
  taken out of ``urgent`` as they arrived there; both are compared with what a plain
  ``apply_async((x, y), queue="urgent")`` publishes and delivers (serializer, delivery mode,
  compression, headers...; the arguments as the call they make, so ``kwargs={"x": x, "y":
  y}`` is the same call), and what it declares on the broker (as in 08.1). The app's routes,
  router and settings and the task's own options must be as they were after each call (they
  are put back if not) and also while the message is published (a router swapped for the call
  and put back routes every other thread's tasks meanwhile): the queue is chosen for one call.
  The send must declare the queue ``urgent`` (``declare=[]``, ``no_declare`` do not); a
  producer or connection of rush's own is refused, with what it holds after the call. While
  the broker is down, the very ``OperationalError`` apply_async raised must reach the caller
  (not a new one, not a subclass, not another type), after one apply_async (a retry loop of
  rush's own is counted) and with nothing run in the caller's process (``demo.record_run``
  seen from this thread). The second call runs while the task has a priority of its own (as
  ``task_default_priority = 5`` gives it): ``priority=0`` replaces it and shows;
* 08.3 ``check("08.3", worker_command)``: ``worker_command(queue, concurrency, name)``
  returns the argv (a list of strings) of a dedicated worker (``celery -A course_tasks worker
  -Q ... -c ... -n name@%h``), parsed by Celery's own command line for two sets of arguments
  (with no callback that acts while parsing: ``--workdir`` would change directory). The node
  name is expanded as the worker expands it, on this machine and on one whose host name has
  a domain (``%n`` and a host name written in differ there from ``%h``). The whole line is
  read: an option that changes how the worker runs or switches part of it off (``-P solo``,
  ``-B``, ``--detach``, ``--purge``, ``--prefetch-multiplier``, ``--autoscale``,
  ``--without-heartbeat``, ...) is refused by name; options that only report more (logging,
  ``-E`` task events) are fine;
* 08.4 ``check("08.4", settings)``: ``{"worker_prefetch_multiplier": ..., "task_acks_late":
  ...}`` for a worker of long tasks. A dedicated worker (concurrency 1) starts with that
  multiplier, runs a long task (``acks_late`` as given) with two short ones queued behind
  it, and the check counts how many shorts the busy worker holds while the long one runs.
  Any other key of ``settings`` is refused by name (``broker_transport_options`` with a short
  ``visibility_timeout`` redelivers a running long task, ``task_time_limit`` kills it).
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
import os
import re
import shlex
import threading
import time
import traceback
import types
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from celery import concurrency, signals
from celery.app import routes as celery_routes
from celery.result import AsyncResult
from celery.utils.nodenames import NODENAME_DEFAULT, gethostname, host_format, nodename, nodesplit
from click.core import ParameterSource
from kombu import Connection, Exchange, Queue, messaging
from kombu.exceptions import OperationalError
from kombu.transport import memory, virtual

from course_tasks import workers
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import delete_queue, is_stub_body, kind, need_function
from course_tasks.tasks import demo
from course_tasks.tasks.demo import simple_calculation

#: A ceiling for the long task to start on a freshly started worker (a busy machine is slow).
WAIT_SECONDS = 30.0
URGENT_QUEUE = "urgent"

# --------------------------------------------------------------------------- helpers


def _queue_of(route: dict[str, Any]) -> str:
    queue = route.get("queue")
    return getattr(queue, "name", queue)


def _message_count(queue: str) -> int:
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_declare(queue).message_count)


#: Message properties and headers that differ from one message to the next (ids, reprs).
_PER_MESSAGE = frozenset({
    "correlation_id", "reply_to", "delivery_info", "delivery_tag", "body_encoding",
    "id", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
})  # fmt: skip


def _differences(got: dict[str, Any], expected: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(field, value in got)`` for each field of two messages that differs: priority and
    the serializer first, the body last (a serializer's name says more than its bytes).

    A field that is absent, ``None``, ``False`` or ``0`` means the same thing (no priority,
    results not ignored).
    """
    first = {"priority": 0, "content-type": 1}
    names = sorted(set(got) | set(expected), key=lambda n: (first.get(n, 2), n == "body", n))
    return [
        (n, got.get(n)) for n in names
        if n not in _PER_MESSAGE and (got.get(n) or None) != (expected.get(n) or None)
    ]  # fmt: skip


#: Properties a queue gets when it is first declared (with their kombu defaults): RabbitMQ
#: refuses to declare it again with other ones, so the worker's own declaration would fail.
_QUEUE_DEFAULTS = {
    "durable": True, "exclusive": False, "auto_delete": False, "queue_arguments": None,
    "max_priority": None, "expires": None, "message_ttl": None, "max_length": None,
    "max_length_bytes": None,
}  # fmt: skip


def _declared(declare: Any) -> dict[tuple[Any, ...], str]:
    """What publishing declares on the broker (``declare``, the entities Celery declares as it
    sends): a key per queue (with its properties), named exchange and binding, each in words.

    A queue on the default exchange ``''`` has no binding (kombu binds none there), so
    ``Queue("urgent")`` declares the queue only, and ``queue="urgent"`` the queue, the exchange
    ``urgent`` and the binding between them.
    """
    found: dict[tuple[Any, ...], str] = {}

    def exchange_and_binding(queue: str, exchange: Any, routing_key: Any) -> None:
        name = getattr(exchange, "name", exchange)
        if not name:
            return
        if isinstance(exchange, Exchange):
            if exchange.no_declare:
                return  # kombu declares neither the exchange nor a binding to it
            key = ("exchange", name, exchange.type, exchange.durable, exchange.auto_delete,
                   repr(exchange.arguments))  # fmt: skip
            changed = [
                f"{n}={v!r}" for n, v, d in (
                    ("durable", exchange.durable, True),
                    ("auto_delete", exchange.auto_delete, False),
                    ("arguments", exchange.arguments or None, None),
                ) if v != d
            ]  # fmt: skip
            found[key] = f"the exchange {name!r} ({', '.join([exchange.type, *changed])})"
        found[("binding", queue, name, routing_key)] = (
            f"a binding of the queue {queue!r} to the exchange {name!r} with the routing key "
            f"{routing_key!r}"
        )

    for entity in declare or ():
        if isinstance(entity, Exchange) and entity.name:
            exchange_and_binding("", entity, None)
            found.pop(("binding", "", entity.name, None), None)
            continue
        if not isinstance(entity, Queue) or entity.no_declare:
            continue  # a Queue with no_declare: kombu declares nothing for it
        properties = {n: getattr(entity, n, d) for n, d in _QUEUE_DEFAULTS.items()}
        properties["queue_arguments"] = dict(properties["queue_arguments"] or {}) or None
        changed = [f"{n}={v!r}" for n, v in properties.items() if v != _QUEUE_DEFAULTS[n]]
        key = ("queue", entity.name, repr(sorted(properties.items())))
        found[key] = f"the queue {entity.name!r}" + (
            f" with {', '.join(changed)}" if changed else ""
        )
        exchange_and_binding(entity.name, entity.exchange, entity.routing_key)
        for binding in entity.bindings or ():
            exchange_and_binding(entity.name, binding.exchange, binding.routing_key)
    return found


def _declared_more(
    got: dict[tuple[Any, ...], str], expected: dict[tuple[Any, ...], str], written: str
) -> tuple[str, str] | None:
    """``(what, hint)`` for the first thing ``got`` declares that ``expected`` does not.

    ``written``: what the exercise's answer writes for the queue (``{"queue": "urgent"}``).
    Declaring less is fine: ``Queue("urgent")`` leaves out the exchange and binding that
    Celery's own queue ``urgent`` has, and the message still goes straight to the queue.
    """
    extra = [(key, words) for key, words in got.items() if key not in expected]
    if not extra:
        return None
    key, words = extra[0]
    if any(k[:2] == key[:2] for k in expected):  # the same queue or exchange, declared otherwise
        what = "a queue's" if key[0] == "queue" else "an exchange's"
        hint = (
            f"write the queue's name, {written}: {what} properties are fixed when it is first "
            "declared, and the worker that reads the queue declares it as Celery's own (a "
            "durable queue without arguments, a direct exchange): RabbitMQ refuses one of the "
            "two declarations (PRECONDITION_FAILED)"
        )
    else:
        hint = (
            f"write the queue's name, {written}: Celery declares the queue as its own and "
            "publishes straight to it; an exchange and binding of your own stay on the broker "
            "and carry no task"
        )
    return words, hint


def _undeclared(
    got: dict[tuple[Any, ...], str], expected: dict[tuple[Any, ...], str], queue: str
) -> bool:
    """Whether ``expected`` declares the queue ``queue`` and ``got`` declares no queue of that name.

    Celery declares the queue it sends to (``declare=[queue]``): on a broker where no worker has
    declared it yet, RabbitMQ drops a message published to a queue that does not exist.
    """

    def has(declared: dict[tuple[Any, ...], str]) -> bool:
        return any(key[0] == "queue" and key[1] == queue for key in declared)

    return has(expected) and not has(got)


def _undeclared_words(queue: str, written: str, declare: Any, queue_object: Any) -> tuple[str, str]:
    """``(cause, hint)`` for a send that declared no queue ``queue`` (see ``_undeclared``)."""
    dropped = (
        f"before any worker has declared {queue!r}, RabbitMQ drops a message published to a "
        "queue that does not exist, without an error, and the task never runs"
    )
    if declare is not None:
        return (
            f"declare={declare!r} replaces the queue Celery declares as it sends",
            f"leave declare out: with {written} Celery declares the queue as it sends; {dropped}",
        )
    if getattr(queue_object, "no_declare", False):
        return (
            f"the kombu Queue {queue!r} has no_declare=True, so nothing is declared",
            f"leave no_declare out (or write the queue's name, {written}): Celery then declares "
            f"the queue as it sends; {dropped}",
        )
    return (
        "nothing declared it",
        f"write the queue's name, {written}: Celery declares the queue as it sends; {dropped}",
    )


def _option_words(field_name: str, value: Any) -> str:
    """``priority 9``, ``expires '2026-...'``: a message field and its value, in words."""
    if field_name == "timelimit":
        return f"the time limits {value!r}"
    if field_name == "content-type":
        return f"the serializer {value!r}"
    if field_name == "delivery_mode" and value in (1, "transient"):
        return f"delivery_mode {value!r} (non-persistent)"
    return f"{field_name} {value!r}"


def _retry_changed(name: str, value: Any) -> bool:
    """Whether the publish option ``retry`` or ``retry_policy`` = ``value`` changes how Celery
    publishes a message the broker drops (the app's ``task_publish_retry`` and its policy).

    Celery retries unless ``retry`` is false, and merges ``retry_policy`` into the app's
    policy: ``retry=True``, or the app's own policy (or part of it) spelled out, change
    nothing. The same rule for a route (08.1) and for apply_async's options (08.2).
    """
    if value is None:
        return False
    if name == "retry":
        return bool(value) != bool(app.conf.task_publish_retry)
    policy = dict(app.conf.task_publish_retry_policy or {})
    try:
        return bool(value) and dict(policy, **value) != policy
    except TypeError:
        return True


RETRY_HINT = (
    "leave retry and retry_policy out: Celery retries a publish the broker drops "
    "(task_publish_retry), as task_publish_retry_policy says, and sends the message on the "
    "next attempt"
)


def _retry_words(name: str, value: Any) -> str:
    """What ``retry``/``retry_policy`` = ``value`` does to a publish the broker drops."""
    policy = app.conf.task_publish_retry_policy
    if name == "retry" or (isinstance(value, Mapping) and value.get("max_retries") == 0):
        return (
            "a publish the broker drops (a blip) is no longer retried: the caller gets "
            "OperationalError and the task is lost"
        )
    return (
        f"it changes how a publish the broker drops is retried (the app's own policy is {policy!r})"
    )


def _foreign_destination(queue: str, options: Mapping[str, Any]) -> tuple[str, Any] | None:
    """``(key, value)`` of an exchange or routing key in ``options`` that is not ``queue``'s own.

    Celery's queue ``name`` is bound to the exchange ``name`` with the routing key ``name``:
    those, and the default exchange ``''`` (which delivers straight to the queue), change
    nothing. Another one is dropped by Celery only while the other of the two is missing.
    """
    for key in ("exchange", "routing_key"):
        value = options.get(key)
        shown = getattr(value, "name", value)
        if value is None or shown in (queue, ""):
            continue
        return key, value
    return None


def _foreign_words(key: str, value: Any, queue: str) -> str:
    """Why an exchange or routing key not the queue's own is wrong, though the message landed."""
    other = "no exchange" if key == "routing_key" else "no routing key"
    shown = getattr(value, "name", value)
    return (
        f"the {key.replace('_', ' ')} {shown!r}, not the queue's own ({queue!r}): Celery drops it "
        f"here only because {other} comes with it (it then publishes straight to the queue, on "
        "the default exchange ''); with both, the message goes to that exchange with that "
        f"routing key, which the queue {queue!r} is not bound with, and is lost"
    )


# --------------------------------------------------------------------------- 08.1

AI, DEMO, DEFAULT = "ai_processing", "demo_tasks", "celery"

#: Task name -> the queue the exercise's routes give it: the course's tasks first (AI,
#: calculations, others), then names the course does not have (yet).
EXPECTED_ROUTES = {
    "ai_tasks.run_ai_text_generation": AI,
    "ai_tasks.generate_user_profile": AI,
    "demo_tasks.simple_calculation": DEMO,
    "demo_tasks.update_user_statistics": DEMO,
    "demo_tasks.record": DEMO,
    "demo_tasks.long_job": DEMO,
    "course_tasks.tasks.basics.add": DEFAULT,
    "course_tasks.tasks.email.send_welcome_email": DEFAULT,
    "course_tasks.tasks.maintenance.heartbeat": DEFAULT,
    "platform.check_expired_coupons": DEFAULT,
    "billing.refund": DEFAULT,
    # names to come: every name that starts with ai_tasks. or demo_tasks., and only those,
    # whatever characters follow the dot (capitals, digits, underscores, dashes)
    "ai_tasks.GPT4_summary": AI,
    "ai_tasks._warmup": AI,
    "demo_tasks.Resize_image": DEMO,
    "demo_tasks.3d-render": DEMO,
    "ai_tasks.summarize_document": AI,
    "ai_tasks.v2.embed_text": AI,
    "demo_tasks.resize_image": DEMO,
    "airflow.sync_dags": DEFAULT,
    "ai_tasks_legacy.summarize": DEFAULT,
    "demographics.refresh": DEFAULT,
    "demo_tasksets.cleanup": DEFAULT,
    "reports.ai_tasks.weekly": DEFAULT,
    # task names are case-sensitive: another case is another name
    "AI_Tasks.summarize_document": DEFAULT,
    "Demo_Tasks.resize_image": DEFAULT,
    # a task added later to the course's modules without a guide name (name=) is named after
    # its module path: it has neither prefix, so it stays on celery too
    "course_tasks.tasks.ai.summarize_document": DEFAULT,
    "course_tasks.tasks.demo.resize_image": DEFAULT,
}
#: The names above that no course task has.
NEW_NAMES = frozenset(list(EXPECTED_ROUTES)[11:])
PREFIX = {AI: "ai_tasks.", DEMO: "demo_tasks."}
#: Another app's default queue (``task_default_queue``; the course's lab apps set their own,
#: ``course_tasks/processes.py``): a task with no route goes there, one routed to 'celery' not.
OTHER_DEFAULT = "course-check-default-08"


@dataclass
class _Sent:
    """One message published to the check's broker: where it was sent, where it landed."""

    exchange: str | None = None
    routing_key: str | None = None
    landed: list[str] = field(default_factory=list)
    message: dict[str, Any] = field(default_factory=dict)
    declared: dict[tuple[Any, ...], str] = field(default_factory=dict)  # see ``_declared``


@contextmanager
def _private_broker() -> Iterator[tuple[Connection, dict[str, Any]]]:
    """A broker of the check's own: kombu's memory transport, with state nobody else shares.

    Yields a connection and the transport's queues (name -> queue.Queue). Nothing is declared
    on it: it is a broker before any worker started, where a message reaches a queue only if
    the sender declares it (``{"queue": ...}`` does; an exchange and a routing key alone do not,
    and the message is dropped).
    """

    class Channel(memory.Channel):
        queues: dict[str, Any] = {}
        events: defaultdict[str, set[Any]] = defaultdict(set)

        def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
            # as RabbitMQ: a message for a queue nobody declared is dropped (kombu's memory
            # transport would make the queue on the fly)
            if queue in self.queues:
                super()._put(queue, message, **kwargs)

    class Transport(memory.Transport):
        global_state = virtual.BrokerState()

    Transport.Channel = Channel
    with Connection("memory://", transport=Transport) as conn:
        yield conn, Channel.queues


def _router(routes: Any, default_queue: str | None = None) -> celery_routes.Router:
    """The router Celery builds from ``routes`` (as ``app.amqp.Router()`` does).

    ``default_queue``: as in an app whose ``task_default_queue`` is that (a private table of
    queues, so that the app's own is left as it is).
    """
    if default_queue is None:
        return celery_routes.Router(
            celery_routes.prepare(routes), app.amqp.queues, create_missing=True, app=app
        )
    owner = types.SimpleNamespace(conf=types.SimpleNamespace(task_default_queue=default_queue))
    return celery_routes.Router(
        celery_routes.prepare(routes),
        app.amqp.Queues(list(app.amqp.queues.values())),
        create_missing=True,
        app=owner,
    )


def _publish(router: Any, name: str) -> _Sent:
    """Send task ``name`` with ``router`` to a fresh private broker; see where it landed."""
    sent = _Sent()
    me = threading.get_ident()

    def on_publish(
        exchange: str | None = None, routing_key: str | None = None, declare: Any = None, **_: Any
    ) -> None:
        if threading.get_ident() == me:
            sent.exchange, sent.routing_key = exchange, routing_key
            sent.declared = _declared(declare)

    with _private_broker() as (conn, queues):
        signals.before_task_publish.connect(
            on_publish, weak=False, dispatch_uid="course-check-08.1"
        )
        try:
            app.send_task(name, (), router=router, connection=conn, ignore_result=True)
        finally:
            signals.before_task_publish.disconnect(dispatch_uid="course-check-08.1")
        for queue_name, queue in list(queues.items()):
            while not queue.empty():
                message = queue.get_nowait()
                sent.landed.append(queue_name)
                sent.message = {
                    **message.get("properties", {}), **message.get("headers", {}),
                    "content-type": message.get("content-type"),
                    "content-encoding": message.get("content-encoding"),
                    "body": message.get("body"),
                }  # fmt: skip
    return sent


#: Keys of a route that say where a message goes (any other key is an option of the message).
_DESTINATION = frozenset({"queue", "exchange", "routing_key", "exchange_type"})


def _route_raised(router: Any, name: str, exc: Exception) -> Fail | None:
    """The Fail for a route whose extra option made Celery raise ``exc`` while sending ``name``.

    ``None`` when no option of the route is to blame (a router function that raises itself).
    """
    try:
        route = dict(router.route({}, name))
    except Exception:
        return None
    extras = [k for k in route if k not in _DESTINATION]
    clash = re.search(r"multiple values for (?:keyword )?argument '(\w+)'", str(exc))
    option = clash.group(1) if clash and clash.group(1) in route else None
    option = option or (extras[0] if extras else None)
    if option is None:
        return None
    why = f": Celery takes {option} from apply_async's arguments, not from a route" if clash else ""
    return Fail(
        f"{name}'s route adds {_option_words(option, route[option])}, and sending the task "
        f"raised {type(exc).__name__}: {exc}{why}",
        hint=_extra_option_hint(option, route[option]),
    )


def _show_key(key: Any) -> str:
    return f"re.compile({key.pattern!r})" if isinstance(key, re.Pattern) else f'"{key}"'


def _key_matches(key: Any, name: str) -> bool:
    """Whether ``key`` of a routes dict matches ``name``, as :class:`MapRoute` decides."""
    if isinstance(key, re.Pattern):
        return bool(key.match(name))
    if isinstance(key, str) and "*" in key:
        return bool(re.match(fnmatch.translate(key), name))
    return key == name


def _first_match(routes: Any, name: str) -> tuple[Any, Any] | None:
    """``(key, route)`` of the entry that routes ``name`` (first match wins), if one does.

    ``key`` is ``None`` when a router function (not a dict) gave the route.
    """
    items = list(routes) if isinstance(routes, (list, tuple)) else [routes]
    for item in items:
        if isinstance(item, Mapping):
            pairs = list(item.items())
        elif isinstance(item, (list, tuple)):
            pairs = [tuple(p) for p in item if isinstance(p, (list, tuple)) and len(p) == 2]
        else:
            (prepared,) = celery_routes.prepare([item])
            route = _router(routes).query_router(prepared, name, (), {}, {}, None)
            if route is not None:
                return None, route
            continue
        exact = [(k, v) for k, v in pairs if isinstance(k, str) and "*" not in k and k == name]
        if exact:
            return exact[-1]
        for key, route in pairs:
            if not (isinstance(key, str) and "*" not in key) and _key_matches(key, name):
                return key, route
    return None


def _keys(routes: Any) -> list[Any]:
    items = list(routes) if isinstance(routes, (list, tuple)) else [routes]
    keys: list[Any] = []
    for item in items:
        if isinstance(item, Mapping):
            keys += list(item)
        elif isinstance(item, (list, tuple)):
            keys += [p[0] for p in item if isinstance(p, (list, tuple)) and len(p) == 2]
    return keys


def _catch_all(key: Any) -> bool:
    return key is not None and all(_key_matches(key, name) for name in EXPECTED_ROUTES)


@exercise("08.1", "route by glob", points=2)
def _routes(routes: Any) -> str:
    if not isinstance(routes, (dict, list, tuple)):
        raise Fail(
            f"routes is {kind(routes)}",
            hint='write a dict of pattern -> route: {"ai_tasks.*": {"queue": "ai_processing"}}',
        )
    if not routes:
        raise Fail("routes is empty", hint="one entry per kind of task: ai_tasks.*, demo_tasks.*")
    router = _router(routes)
    for name, expected in EXPECTED_ROUTES.items():
        try:
            with _blip() as blip:  # the broker drops the first attempt: Celery retries it
                sent = _publish(router, name)
        except Exception as exc:
            if blip.caused(exc):
                raise _route_not_retried(router, name, exc) from None
            failed = _route_raised(router, name, exc)
            if failed is None:
                raise
            raise failed from None
        if sent.landed != [expected]:
            raise _misrouted(routes, router, name, expected, sent)
        plain = _publish(_router({name: {"queue": expected}}), name)
        changed = _differences(sent.message, plain.message)
        if changed:
            field_name, value = changed[0]
            raise Fail(
                f"{name} is sent with {_option_words(field_name, value)}: your route adds it",
                hint=_extra_option_hint(field_name, value),
            )
        more = _declared_more(sent.declared, plain.declared, f'{{"queue": "{expected}"}}')
        if more is not None:
            words, hint = more
            raise Fail(
                f"{name}'s route declares {words} on the broker as the task is sent, which "
                f'{{"queue": "{expected}"}} does not',
                hint=hint,
            )
        _judge_route_options(router, name, expected)
    _judge_other_default(routes)
    return (
        "AI tasks -> ai_processing, calculations -> demo_tasks, the rest -> celery: "
        f"{len(EXPECTED_ROUTES)} task names, {len(NEW_NAMES)} of them new, each message landed "
        "in its queue on a broker where no worker had declared one yet; in an app whose "
        "default queue is another, the rest went to that one"
    )


def _route_not_retried(router: Any, name: str, exc: BaseException) -> Fail:
    """The Fail for a route whose publish was not retried after the broker dropped it."""
    try:
        route = dict(router.route({}, name))
    except Exception:
        route = {}
    given = [f"{k}={route[k]!r}" for k in ("retry", "retry_policy") if k in route]
    return Fail(
        f"{name}'s route adds {' and '.join(given) or 'an option'}: when the broker dropped the "
        "first attempt to publish (a blip, which Celery retries by default), sending the task "
        f"raised {type(exc).__name__}, and the task was lost",
        hint=_extra_option_hint("retry", False),
    )


def _judge_route_options(router: Any, name: str, expected: str) -> None:
    """The options of ``name``'s route that do not show in the message it sends.

    ``retry`` and ``retry_policy`` change how a publish the broker drops is retried (the same
    rule as 08.2's, ``_retry_changed``); an exchange or routing key that is not the queue's
    own is dropped by Celery only while the other of the two is missing.
    """
    route = dict(router.route({}, name))
    for option in ("retry", "retry_policy"):
        if _retry_changed(option, route.get(option)):
            raise Fail(
                f"{name}'s route adds {option}={route[option]!r}: "
                f"{_retry_words(option, route[option])}",
                hint=_extra_option_hint(option, route[option]),
            )
    foreign = _foreign_destination(expected, route)
    if foreign is not None:
        raise Fail(
            f"{name}'s route gives {_foreign_words(*foreign, expected)}",
            hint=f'a route here only chooses the queue: give it "queue" and nothing else, '
            f'{{"queue": "{expected}"}} (the queue\'s own exchange and routing key, '
            f'"{expected}", are fine too)',
        )


def _judge_other_default(routes: Any) -> None:
    """The task names that stay on the default queue, in an app whose default queue is another.

    A task with no route goes to ``task_default_queue``; a route to 'celery' (a catch-all) pins
    it to the course's default, and in such an app it leaves that app's default queue.
    """
    router = _router(routes, OTHER_DEFAULT)
    for name, expected in EXPECTED_ROUTES.items():
        if expected != DEFAULT:
            continue
        sent = _publish(router, name)
        if sent.landed == [OTHER_DEFAULT]:
            continue
        match = _first_match(routes, name)
        key = match[0] if match is not None else None
        shown = _show_key(key) if key is not None else "your router"
        where = sent.landed[0] if len(sent.landed) == 1 else sent.landed
        raise Fail(
            f"in an app whose default queue is another (task_default_queue = "
            f"{OTHER_DEFAULT!r}, as the course's lab workers set it), {name} goes to the queue "
            f"{where!r}, not to that default queue: {shown} routes it to {where!r}",
            hint="give every other task no route at all: a task that no pattern matches goes "
            "to the app's default queue by itself (task_default_queue, 'celery' in the course's "
            f"app), and a route that names {where!r} hard-codes it",
        )


def _extra_option_hint(field_name: str, value: Any) -> str:
    if field_name == "priority":
        return (
            "a route here only chooses the queue: leave priority out (and on Redis 9 is the "
            "least urgent, 0 the most: section 4)"
        )
    return 'a route here only chooses the queue: give it "queue" and nothing else' + _field_note(
        field_name, value
    )


def _field_note(field_name: str, value: Any) -> str:
    """What a changed field costs, when that is not plain (`` (...)`` or nothing)."""
    if field_name in ("retry", "retry_policy"):
        return f" ({RETRY_HINT})"
    if field_name == "content-type" and value != "application/json":
        return (
            " (the course's workers accept json only, accept_content: they refuse a message "
            "in another serializer, and the task never runs)"
        )
    if field_name == "delivery_mode" and value in (1, "transient"):
        return " (a transient message: RabbitMQ loses it when it restarts)"
    return ""


def _misrouted(routes: Any, router: Any, name: str, expected: str, sent: _Sent) -> Fail:
    """The Fail for a message of ``name`` that did not land (only) in ``expected``."""
    route = router.route({}, name)
    told = _queue_of(route)
    if (
        not sent.landed
        and told == expected
        and _undeclared(
            sent.declared, _publish(_router({name: {"queue": expected}}), name).declared, expected
        )
    ):
        cause, hint = _undeclared_words(
            expected, f'{{"queue": "{expected}"}}', route.get("declare"), route.get("queue")
        )
        return Fail(
            f"{name}'s message reached no queue: its route names {expected!r}, but the send "
            f"declared no queue {expected!r} ({cause}), and on a broker where no worker has "
            "declared it yet the message is dropped",
            hint=hint,
        )
    where = sent.landed[0] if len(sent.landed) == 1 else None
    if not sent.landed and told is None and sent.exchange:
        return Fail(
            f"{name}'s message reached no queue: your route names only the exchange "
            f"{sent.exchange!r} and the routing key {sent.routing_key!r}, so Celery declares no "
            f"queue when it sends, and before a worker has declared {expected!r} nothing is "
            "bound to that exchange: the message is dropped",
            hint=f'name the queue in the route, {{"queue": "{expected}"}}: Celery declares it '
            "as it sends, and the message waits there until a worker starts",
        )
    if where is None or (told == expected and where != expected):
        via = f"the exchange {sent.exchange!r} with the routing key {sent.routing_key!r}"
        if not sent.landed:
            problem = (
                f"{name}'s message reached no queue: it was published to {via}, "
                "which no queue is bound with"
            )
        else:
            problem = (
                f"{name}'s message went to {sent.landed}, not {expected!r}: "
                f"it was published to {via}"
            )
        hint = (
            f'give the route its queue only, {{"queue": "{expected}"}}: Celery then publishes '
            "the message straight to that queue (an exchange of your own needs task_queues "
            "that bind a queue to it)"
        )
        return Fail(problem, hint=hint)
    problem = f"{name} goes to the queue {where!r}, not {expected!r}"
    match = _first_match(routes, name)
    key, route = match if match is not None else (None, None)
    shown = _show_key(key) if key is not None else "your router"
    if expected == DEFAULT:
        return Fail(problem, hint=_left_default_hint(key, shown, name, where))
    prefix = PREFIX[expected]
    if match is not None and where == DEFAULT:
        if isinstance(route, Mapping) and not route.get("queue"):
            hint = (
                f"the route {dict(route)!r} names no queue, so the task stays on the default "
                f'queue (a routing_key does not choose one): write {{"queue": "{expected}"}}'
            )
        elif _catch_all(key):
            hint = (
                f"{shown} comes first and matches every task: the first matching pattern "
                f'wins, so "{prefix}*" is never asked. Leave {shown} out (a task that no '
                "pattern matches stays on celery anyway)"
            )
        else:
            hint = f'{shown} sends {name} to celery: route "{prefix}*" to {expected!r}'
        return Fail(problem, hint=hint)
    if where == DEFAULT:
        return Fail(problem, hint=_unmatched_hint(routes, name, prefix))
    if where in (AI, DEMO):
        other = DEMO if expected == AI else AI
        other_name = next(n for n, q in EXPECTED_ROUTES.items() if q == other)
        if _queue_of(router.route({}, other_name)) == expected:
            return Fail(
                problem, hint="the two queues are swapped: AI tasks (slow) go to ai_processing"
            )
        return Fail(problem, hint=f'{shown} also matches {name}: route "{prefix}*" to {expected!r}')
    return Fail(problem, hint=f"no worker reads {where!r}: spell the queue names as guide 003 does")


def _left_default_hint(key: Any, shown: str, name: str, where: str) -> str:
    """The hint for a task that should have stayed on ``celery`` and went to ``where``."""
    if _catch_all(key):
        return (
            f"a catch-all pattern ({shown}) sends every other task to {where!r}, and the "
            "course's worker reads only 'celery' (task_default_queue): leave other tasks "
            "out of task_routes"
        )
    prefix = PREFIX.get(where)
    if prefix and name.lower().startswith(prefix) and not name.startswith(prefix):
        return (
            f"task names are case-sensitive: {name} is not one of the {prefix} tasks, yet "
            f"{shown if key is not None else 'your router'} sends it to {where!r}: match "
            f'"{prefix}" in exactly that case (no re.IGNORECASE, no lower())'
        )
    key_text = key.pattern if isinstance(key, re.Pattern) else str(key)
    if (
        key is not None
        and name in NEW_NAMES
        and name.startswith("course_tasks.")
        and ("course_tasks" in key_text)
    ):
        return (
            f"{shown} routes by the module's path: a task added later to the course's modules "
            f"without a guide name (name=) is named {name}, and the exercise routes by the "
            f"name's prefix only ({prefix or 'ai_tasks. or demo_tasks.'}): every other task stays "
            "on 'celery'. Leave module paths out of the routes"
        )
    if key is not None and name in NEW_NAMES and prefix:
        if isinstance(key, re.Pattern):
            return (
                f"{shown} also matches {name}: a regex key matches any name that starts like "
                f'it, so end it with the escaped dot, re.compile(r"{prefix[:-1]}\\."), or use '
                f'the glob "{prefix}*"'
            )
        return (
            f"{shown} also matches {name}, which is not one of the {prefix} tasks: put the dot "
            f'in the pattern, "{prefix}*"'
        )
    if key is not None:
        return (
            f"{shown} also sends {name} to {where!r}: only names that start with ai_tasks. or "
            "demo_tasks. leave 'celery' (the one the course's worker reads); give other tasks "
            "no route"
        )
    return (
        "a task whose name starts with neither ai_tasks. nor demo_tasks. stays on 'celery' "
        "(the one the course's worker reads): your router must give it no route"
    )


#: Characters of a regular expression that a glob has no use for (``*?[]`` are glob too):
#: a string key holding one is a regex that MapRoute reads as a glob.
_REGEX_CHARACTERS = re.compile(r"[\\^$+(){}|]")


def _unmatched_hint(routes: Any, name: str, prefix: str) -> str:
    """The hint for a task of ``prefix`` that no entry of ``routes`` matched."""
    keys = _keys(routes)
    strings = [k for k in keys if isinstance(k, str)]
    if any("*" not in k and k.startswith(prefix) for k in strings):
        return (
            "keys without a '*' match one task name exactly: use a glob such as "
            f'"{prefix}*" to match every task of that group'
        )
    regex_like = next((k for k in strings if _REGEX_CHARACTERS.search(k)), None)
    if regex_like is not None:
        return (
            f'the key "{regex_like}" is read as a glob, not a regular expression (only '
            f're.compile(...) keys are regexes): write the glob "{prefix}*"'
        )
    if any(k.startswith("course_tasks.") for k in strings):
        return (
            f"no pattern matches {name}: task names are the name= of the task, "
            f'here "{prefix}*" (not the module path)'
        )
    narrow = next(
        (
            k
            for k in keys
            if (k.pattern if isinstance(k, re.Pattern) else str(k)).startswith(prefix[:-1])
        ),
        None,
    )
    if narrow is not None and "[" in _show_key(narrow):
        return (
            f"{_show_key(narrow)} matches only names that go on with a character of its [...] "
            f'set, and {name} does not: "{prefix}*" matches every task whose name starts with '
            f"{prefix}, whatever follows"
        )
    if narrow is not None:
        return (
            f'{_show_key(narrow)} matches only some of them: "{prefix}*" matches every task '
            f"whose name starts with {prefix}"
        )
    return f'no pattern matches {name}: task names are the name= of the task, here "{prefix}*"'


# --------------------------------------------------------------------------- 08.2


@contextmanager
def _captured(during: _Shared | None = None) -> Iterator[list[dict[str, Any]]]:
    """Every task message this thread publishes while inside: task, args, where, options.

    With ``during``: what differs from it (``_Shared.changes``) as each message is published,
    a change that the call puts back before it returns too.
    """
    seen: list[dict[str, Any]] = []
    me = threading.get_ident()

    def on_publish(sender: str | None = None, body: Any = None, exchange: str | None = None,
                   routing_key: str | None = None, headers: dict[str, Any] | None = None,
                   properties: dict[str, Any] | None = None, declare: Any = None,
                   **_: Any) -> None:  # fmt: skip
        if threading.get_ident() != me:
            return  # a worker thread of this kernel sending a task of its own
        parts = [*body, {}, {}, {}][:3] if isinstance(body, (list, tuple)) else [(), {}, {}]
        args, kwargs, embed = parts
        seen.append({
            "task": sender, "args": list(args), "kwargs": dict(kwargs), "queue": routing_key,
            "exchange": exchange,
            "message": {**(properties or {}), **(headers or {}), "embed": embed},
            "declared": _declared(declare),
            "changed": during.changes() if during is not None else [],
        })  # fmt: skip

    signals.before_task_publish.connect(on_publish, weak=False, dispatch_uid="course-check-08.2")
    try:
        yield seen
    finally:
        signals.before_task_publish.disconnect(dispatch_uid="course-check-08.2")


class _Sends(list):  # type: ignore[type-arg]
    """The options of each ``app.send_task`` call (a list), and what the calls raised."""

    raised: list[BaseException]


@contextmanager
def _options() -> Iterator[_Sends]:
    """The options of every ``app.send_task`` this thread makes while inside (apply_async too).

    ``Task.apply_async`` hands its options (task id, producer, connection, retry policy...)
    to ``app.send_task``: what the call asked for, before Celery fills anything in. The
    exceptions those calls raised are in ``.raised`` (the very objects apply_async raised).
    """
    seen = _Sends()
    seen.raised = []
    me = threading.get_ident()
    original = app.send_task

    def send_task(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != me:
            return original(*args, **kwargs)
        seen.append(dict(kwargs))
        try:
            return original(*args, **kwargs)
        except BaseException as exc:
            seen.raised.append(exc)
            raise

    app.send_task = send_task  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        vars(app).pop("send_task", None)


#: send_task's arguments judged elsewhere: where the message goes, and what Celery fills in.
_OPTIONS_JUDGED_ELSEWHERE = frozenset({
    "queue", "exchange", "routing_key", "result_cls", "task_type", "countdown", "eta",
    "expires", "priority", "serializer", "compression", "delivery_mode", "headers", "shadow",
    "ignore_result", "time_limit", "soft_time_limit",
})  # fmt: skip


def _is_own_uuid(task_id: Any) -> bool:
    """Whether ``task_id`` is a UUID as Celery makes one (random or time-based): unique."""
    try:
        parsed = uuid.UUID(str(task_id))
    except ValueError:
        return False
    return str(parsed) == str(task_id) and parsed.version in (1, 4)


def _still_in_use(given: dict[str, Any]) -> bool:
    """Whether a producer or connection the call passed is still held after it returned.

    A producer still taken from the app's pool (not given back), a connection still open.
    """
    producer, connection = given.get("producer"), given.get("connection")
    if producer is not None:
        return any(p is producer for p in getattr(app.producer_pool, "_dirty", ()))
    if connection is not None:
        try:
            return bool(connection.connected)
        except Exception:
            return False
    return False


def _option_fail(
    call: str,
    given: dict[str, Any],
    reference: dict[str, Any],
    others: list[dict[str, Any]] = (),  # type: ignore[assignment]
    in_use: bool = False,
) -> Fail | None:
    """A Fail for an option of the call that a plain ``apply_async`` does not give.

    ``others``: the options of the other calls (a producer shared by them); ``in_use``: the
    producer the call passed was still taken from the app's pool after it returned, or its
    connection still open (``_still_in_use``).
    """
    foreign = _foreign_destination(URGENT_QUEUE, given)
    if foreign is not None:
        return Fail(
            f"{call} gave {_foreign_words(*foreign, URGENT_QUEUE)}",
            hint="choose the queue and change nothing else: apply_async((x, y), "
            "queue='urgent') (exchange='urgent', routing_key='urgent', the queue's own, are "
            "fine too)",
        )
    for name, value in given.items():
        if value is None or name in _OPTIONS_JUDGED_ELSEWHERE:
            continue
        if name == "task_id":
            if _is_own_uuid(value):
                continue  # what Celery would make itself
            return Fail(
                f"{call} sent its task with the id {value!r}, an id of rush's own making: "
                "two calls get one id as soon as it repeats (then they share one result, the "
                "later overwriting the other's), and the exercise asks for no task id",
                hint="leave task_id out: Celery gives every call a new id of its own (a UUID)",
            )
        if name in ("retry", "retry_policy"):
            if not _retry_changed(name, value):
                continue  # what Celery does anyway (the app's own retry and policy)
            return Fail(
                f"{call} gave {name}={value!r}: {_retry_words(name, value)}", hint=RETRY_HINT
            )
        if name == "producer":
            if in_use and any(other.get("producer") is value for other in others):
                why = (
                    "the same producer on every call, shared by every caller and thread (a "
                    "producer and its channel are not thread-safe), and it keeps one of the "
                    "pool's producers for good"
                )
            elif in_use:
                why = (
                    "taken from the app's pool and not given back after the call: each call "
                    f"keeps one of the pool's {app.producer_pool.limit or 'producers'} producers "
                    "for good, and once they are all taken the next call waits forever"
                )
            else:
                why = "the exercise asks for the queue only, and apply_async takes one itself"
            return Fail(
                f"{call} passed producer={kind(value)} of its own: {why}",
                hint="leave producer out: apply_async takes a producer from the app's pool for "
                "this one send and gives it back",
            )
        if name == "connection":
            why = (
                "it is still open after the call: a new connection per call stays open until "
                "someone closes it"
                if in_use
                else "the exercise asks for the queue only, and apply_async takes one from the "
                "app's pool itself"
            )
            return Fail(
                f"{call} passed connection={kind(value)} of its own: the message goes out on a "
                f"connection rush chose, not on the app's pool ({why})",
                hint="leave connection out: apply_async takes a connection from the app's pool "
                "and gives it back",
            )
        if value != reference.get(name):
            return Fail(
                f"{call} gave {name}={value!r}",
                hint="choose the queue and change nothing else: "
                "apply_async((x, y), queue='urgent')",
            )
    return None


@contextmanager
def _routes_elsewhere() -> Iterator[None]:
    """``task_routes`` that send ``demo_tasks.*`` to a queue no worker reads, for a while."""
    saved = app.conf.task_routes
    app.conf.task_routes = {"demo_tasks.*": {"queue": "course-check-demo-08"}}
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
    try:
        yield
    finally:
        app.conf.task_routes = saved
        app.amqp.flush_routes()
        app.amqp.router = app.amqp.Router()
        for queue in (URGENT_QUEUE, "course-check-demo-08"):
            delete_queue(queue)


#: Attributes of a task that Celery itself fills in on first use (caches, not options).
_TASK_CACHES = frozenset({"__trace__", "_exec_options", "_default_request"})


def _copied(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # something that cannot be copied: compare it as it is
        return value


@dataclass
class _Shared:
    """What a call of ``rush`` must leave as it found: routes, router, settings, the task."""

    routes: Any
    router: Any
    router_routes: list[Any]
    settings: dict[str, Any]  # each setting's value itself: a setting assigned anew shows
    task: dict[str, Any]
    task_class: dict[str, Any]

    @classmethod
    def now(cls) -> _Shared:
        return cls(
            routes=_copied(app.conf.task_routes),
            router=app.amqp.router,
            router_routes=list(app.amqp.router.routes),
            settings=dict(app.conf.changes),
            task=dict(vars(simple_calculation)),
            task_class=dict(vars(type(simple_calculation))),
        )

    def changes(self) -> list[str]:
        """What differs now, in words (empty when nothing does)."""
        found = []
        if app.conf.task_routes != self.routes:
            found.append(f"the app's task_routes (now {app.conf.task_routes!r})")
        elif (
            app.amqp.router is not self.router or list(app.amqp.router.routes) != self.router_routes
        ):
            found.append("the app's router (app.amqp.router)")
        now, before = app.conf.changes, self.settings
        settings = {
            k for k in set(now) | set(before)
            if k != "task_routes" and now.get(k, self) is not before.get(k, self)
        }  # fmt: skip
        if settings:
            found.append(f"the app's settings ({', '.join(sorted(settings))})")
        for where, now, before in (
            (simple_calculation.name, vars(simple_calculation), self.task),
            (type(simple_calculation).__name__, vars(type(simple_calculation)), self.task_class),
        ):
            names = sorted(_changed_names(now, before))
            shown = [n for n in names if n not in _TASK_CACHES] or names
            if names:
                found.append(f"{where}'s own {', '.join(shown)}")
        return found

    def put_back(self) -> None:
        """The task's attributes as they were (``checks.isolation`` puts the app back)."""
        for owner, before in (
            (simple_calculation, self.task), (type(simple_calculation), self.task_class)
        ):  # fmt: skip
            for name in _changed_names(vars(owner), before):
                if name in before:
                    setattr(owner, name, before[name])
                else:
                    delattr(owner, name)
        app.conf.task_routes = self.routes
        app.amqp.flush_routes()
        app.amqp.router = app.amqp.Router()


def _changed_names(now: Mapping[str, Any], before: Mapping[str, Any]) -> set[str]:
    missing = object()
    names = set()
    for name in set(now) | set(before):
        old, new = before.get(name, missing), now.get(name, missing)
        if old is new:
            continue
        if name in _TASK_CACHES and (old is missing or old is None or new == old):
            continue  # filled in by Celery on first use
        names.add(name)
    return names


#: The calls of ``rush`` the check makes: the same arguments twice (each call its own task).
RUSH_CALLS = ((2, 3), (40, 2), (2, 3))
#: The priority of simple_calculation itself during each call: none (the course's app), and
#: 5, as ``task_default_priority = 5`` (section 4's advice) gives every task. A plain
#: apply_async keeps the task's own; ``priority=`` replaces it, even ``priority=0``.
OWN_PRIORITIES = (None, 5, None)


@contextmanager
def _own_priority() -> Iterator[Any]:
    """A function that gives simple_calculation a priority of its own (``None``: as it was).

    The task's ``priority`` (and Celery's cache of its options) are put back on the way out.
    """
    task = simple_calculation
    names = ("priority", "_exec_options")
    before = {n: vars(task)[n] for n in names if n in vars(task)}

    def give(priority: int | None) -> None:
        for name in names:
            if name in before:
                setattr(task, name, before[name])
            elif name in vars(task):
                delattr(task, name)
        if priority is not None:
            task.priority = priority
            task._exec_options = None  # Celery's cache of the task's options, recomputed

    try:
        yield give
    finally:
        give(None)


@contextmanager
def _runs_here() -> Iterator[list[str]]:
    """The course's demo tasks this thread runs while inside, by their label (``calc(2, 3)``).

    Each run goes through ``demo.record_run``: called directly, ``.apply()``, ``.run()``...
    (a worker's runs are in other threads).
    """
    ran: list[str] = []
    me = threading.get_ident()
    original = demo.record_run

    def record_run(task: Any, label: str) -> Any:
        if threading.get_ident() == me:
            ran.append(label)
        return original(task, label)

    demo.record_run = record_run  # type: ignore[assignment]
    try:
        yield ran
    finally:
        demo.record_run = original  # type: ignore[assignment]


def _arrived(queue: str) -> list[dict[str, Any]]:
    """The messages waiting in ``queue`` on the course's broker, taken out of it.

    Each as the broker holds it: properties, headers, content type and encoding (the
    serializer, the delivery mode, a compression show there; the body is judged from the
    publish, where the task's arguments are still apart).
    """
    found = []
    with app.connection_for_write() as conn:
        bound = Queue(queue).bind(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            found.append({
                **message.properties, **message.headers,
                "content-type": message.content_type,
                "content-encoding": message.content_encoding,
            })  # fmt: skip
    return found


def _reference(x: int, y: int) -> dict[str, Any]:
    """The message ``simple_calculation.apply_async((x, y), queue="urgent")`` publishes.

    Sent under the same routes as the learner's calls to the queue ``urgent`` of the course's
    broker (which no worker reads) and taken out again: as it was published (``_captured``),
    and as it ``arrived`` (the same transport as the learner's messages).
    """
    _arrived(URGENT_QUEUE)  # whatever waited there (an earlier run of rush)
    with _captured() as seen, _options() as options:
        result = simple_calculation.apply_async((x, y), queue=URGENT_QUEUE)
    app.backend.mark_as_revoked(result.id, reason="check finished")
    arrived = _arrived(URGENT_QUEUE)
    return {**seen[-1], "arrived": arrived[-1] if arrived else {}, "options": options[-1]}


@dataclass
class _Blip:
    """A broker that drops this thread's first attempt to publish, once (see ``_blip``)."""

    dropped: BaseException | None = None
    retried: bool = False
    every: list[BaseException] = field(default_factory=list)  # each error the broker raised

    def caused(self, exc: BaseException | None) -> bool:
        """Whether ``exc`` is (or comes from) the error of a dropped attempt."""
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            if any(exc is dropped for dropped in self.every):
                return True
            seen.add(id(exc))
            exc = exc.__cause__ or exc.__context__
        return False


@contextmanager
def _blip(dead: bool = False) -> Iterator[_Blip]:
    """The broker drops this thread's first attempt to publish with a connection error.

    Celery retries a publish that fails so (``task_publish_retry``, kombu's
    ``Connection.ensure``): the message is published on the next attempt. A call that turned
    the retry off (``retry=False``, ``max_retries`` 0) raises instead, and its task is lost.
    ``dead``: the broker refuses every attempt (it is down), so Celery's retries run out.
    """
    blip = _Blip()
    me = threading.get_ident()
    original = messaging.Producer._publish

    def publish(producer: messaging.Producer, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == me:
            if dead or blip.dropped is None:
                error = producer.connection.recoverable_connection_errors[0]
                blip.every.append(error("connection lost (the check's broker blip)"))
                blip.dropped = blip.dropped or blip.every[-1]
                raise blip.every[-1]
            blip.retried = True
        return original(producer, *args, **kwargs)

    messaging.Producer._publish = publish  # type: ignore[method-assign]
    try:
        yield blip
    finally:
        messaging.Producer._publish = original  # type: ignore[method-assign]


def _not_retried(call: str, exc: BaseException | None) -> Fail:
    """The Fail for a call whose publish was not retried after the broker dropped it."""
    what = f"raised {type(exc).__name__}" if exc is not None else "published nothing more"
    return Fail(
        f"{call} {what} when the broker dropped its first attempt to publish (a blip, which "
        "Celery retries by default): the call turned the retry off, so the urgent task was lost",
        hint=RETRY_HINT,
    )


@exercise("08.2", "choose the queue when you send", points=1)
def _rush(rush: Any) -> str:
    rush = need_function(rush, "rush", "rush(x, y)", purpose="sends simple_calculation")
    with _routes_elsewhere(), _own_priority() as give_priority:
        results: list[AsyncResult] = []
        ids: dict[str, str] = {}  # task id -> the call that sent it
        # per call: (the call, its options, whether a producer it passed is still taken from
        # the app's pool after it returned), judged after the three calls
        calls: list[tuple[str, dict[str, Any], bool]] = []
        try:
            for number, ((x, y), own) in enumerate(zip(RUSH_CALLS, OWN_PRIORITIES, strict=True), 1):
                call = f"rush({x}, {y})"
                give_priority(own)
                reference = _reference(x, y)
                shared = _Shared.now()
                with (
                    _captured(shared) as seen,
                    _blip() as blip,
                    _options() as options,
                    _runs_here() as ran,
                ):
                    try:
                        result = rush(x, y)
                    except Exception as exc:
                        if blip.caused(exc):
                            raise _not_retried(call, exc) from None
                        refused = _refused_declaration(call, seen, reference, exc)
                        if refused is not None:
                            raise refused from None
                        if not isinstance(exc, TypeError) or "queue" not in str(exc):
                            raise
                        raise Fail(
                            f"{call} raised TypeError: {exc}", hint=_type_error_hint(exc)
                        ) from None
                    finally:
                        changed = shared.changes()
                        if changed:
                            shared.put_back()
                if isinstance(result, AsyncResult):
                    results.append(result)
                if result is None and is_stub_body(rush):
                    raise NotYet("write the body of rush")
                arrived = _arrived(URGENT_QUEUE)
                given = options[0] if len(options) == 1 else {}
                _judge_rush(result, seen, x, y, changed, arrived, reference, blip, given)
                if ran:
                    raise Fail(
                        f"{call} also ran simple_calculation in the caller's process "
                        f"({', '.join(ran)}), besides sending it to 'urgent'",
                        hint="send the task and run nothing in the caller: the worker that reads "
                        "'urgent' runs it, apply_async((x, y), queue='urgent')",
                    )
                in_use = _still_in_use(given)
                calls.append((call, given, in_use))
                task_id = seen[0]["message"].get("id")
                if task_id in ids:
                    raise Fail(
                        f"call {number}, {call}, sent its task with the id {task_id!r}, as "
                        f"{ids[task_id]} did: two calls share one id, so they share one result "
                        "(the later one overwrites the other's)",
                        hint="leave task_id out: Celery gives every call a new id of its own",
                    )
                ids[str(task_id)] = f"call {number}, {call},"
            # after the three calls: two calls sharing an id is the plainer mistake
            for call, given, in_use in calls:
                others = [g for c, g, _ in calls if c is not call]
                if failed := _option_fail(call, given, reference["options"], others, in_use):
                    raise failed
            give_priority(None)
            _dead_broker_call(rush, *DEAD_CALL)
        finally:
            for result in results:
                app.backend.mark_as_revoked(result.id, reason="check finished")
    return (
        "simple_calculation(2, 3), (40, 2) and (2, 3) again went to 'urgent' past task_routes, "
        "each with its own id, as a plain apply_async sends it, also after a dropped first "
        "attempt to publish; and rush(7, 5) raised OperationalError when the broker refused "
        "every attempt"
    )


def _refused_declaration(
    call: str, seen: list[dict[str, Any]], reference: dict[str, Any], exc: Exception
) -> Fail | None:
    """The Fail for a call whose own declaration the broker refused (raising ``exc``).

    The queue ``urgent`` is already declared as Celery's own (by the plain call the check
    makes first, as by its worker): a queue or exchange of that name declared otherwise is
    refused, as RabbitMQ refuses it (PRECONDITION_FAILED).
    """
    if not seen:
        return None
    more = _declared_more(seen[-1]["declared"], reference["declared"], "queue='urgent'")
    if more is None:
        return None
    words, hint = more
    return Fail(
        f"{call} declared {words} on the broker as it sent the task, which queue='urgent' "
        f"does not, and the broker refused it ({type(exc).__name__}: {exc})",
        hint=hint,
    )


#: The call of ``rush`` made while the broker refuses every attempt to publish.
DEAD_CALL = (7, 5)


def _dead_attempts(x: int, y: int) -> int:
    """How many attempts to publish a plain ``apply_async`` makes while the broker is down."""
    with _blip(dead=True) as blip:
        try:
            result = simple_calculation.apply_async((x, y), queue=URGENT_QUEUE)
        except OperationalError:
            pass
        else:  # the check's broker refused nothing: whatever was sent is taken out again
            app.backend.mark_as_revoked(result.id, reason="check finished")
    _arrived(URGENT_QUEUE)
    return len(blip.every)


REPLACED_HINT = (
    "let apply_async's OperationalError reach rush's caller as it is: don't replace it with "
    "another exception, not even a new OperationalError or a subclass (to log it, catch it and "
    "re-raise it with a bare raise; exc.add_note(...) adds text to the same exception)"
)


def _dead_broker_call(rush: Any, x: int, y: int) -> None:
    """``rush(x, y)`` while the broker is down: apply_async's error itself must reach rush's
    caller, after one apply_async (no retry of rush's own) and nothing run in its place."""
    call = f"rush({x}, {y})"
    down = "when the broker refused every attempt to publish"
    plain_attempts = _dead_attempts(x, y)
    raised: BaseException | None = None
    with (
        _captured() as seen,
        _blip(dead=True) as blip,
        _options() as sends,
        _runs_here() as ran,
    ):
        try:
            result = rush(x, y)
        except Exception as exc:
            raised = exc
    _arrived(URGENT_QUEUE)
    elsewhere = [m for m in seen if m["queue"] != URGENT_QUEUE]
    if elsewhere:
        raise Fail(
            f"{down} {call} to 'urgent', rush sent "
            f"{elsewhere[0]['task']} to {elsewhere[0]['queue']!r} instead: an urgent task that "
            "cannot be sent is sent where task_routes say, after all",
            hint="let the error reach rush's caller: the exercise asks for 'urgent' whatever "
            "the routes say, so don't catch it to send the task another way",
        )
    if len(sends) > 1:
        raise Fail(
            f"{down}, {call} sent the task {len(sends)} times ({len(blip.every)} attempts to "
            f"publish, where apply_async((x, y), queue='urgent') alone makes {plain_attempts}, "
            "retrying as task_publish_retry_policy says): a retry of rush's own on top of "
            "Celery's multiplies the attempts, and the caller's wait, during an outage",
            hint="call apply_async once and let its OperationalError reach the caller: Celery "
            "already retries the publish (task_publish_retry_policy is the place to retry more)",
        )
    if ran:
        raise Fail(
            f"{down}, {call} ran simple_calculation in the caller's process instead "
            f"({', '.join(ran)}): the task is for the workers that read 'urgent', and one that "
            "could not be sent is not run another way",
            hint="let the error reach rush's caller and run nothing in the task's place: the "
            "caller decides what to do (retry later, answer 503)",
        )
    if raised is not None:
        original = sends.raised[-1] if sends.raised else None
        if raised is original or (
            original is None and type(raised) is OperationalError and blip.caused(raised)
        ):
            return  # the very error apply_async raised reached the caller
        if not (blip.caused(raised) or isinstance(raised, OperationalError)):
            raise raised
        if type(raised) is OperationalError:
            lost = (
                "from None: its cause, the broker's error, is hidden"
                if raised.__suppress_context__ and raised.__cause__ is None
                else "the caller gets rush's exception, not kombu's"
            )
            raise Fail(
                f"{down}, {call} raised a new OperationalError ({str(raised)!r}) in place of the "
                f"one apply_async raised ({lost}): the exercise asks for apply_async's error as "
                "it is",
                hint=REPLACED_HINT,
            )
        if isinstance(raised, OperationalError):
            raise Fail(
                f"{down}, {call} raised {type(raised).__name__}, an exception of rush's own (a "
                "subclass of OperationalError), in place of the OperationalError apply_async "
                "raised: another type and another exception, where the exercise asks for "
                "apply_async's error as it is",
                hint=REPLACED_HINT,
            )
        kept = (
            "it keeps the OperationalError as its cause, from exc, but an except clause "
            "matches the type of the exception raised"
            if isinstance(raised.__cause__, OperationalError)
            else "which hides the OperationalError"
        )
        raise Fail(
            f"{down}, {call} raised "
            f"{type(raised).__name__} in place of the OperationalError apply_async raised "
            f"({kept}): a caller that handles OperationalError (retry later, answer 503) "
            "does not catch it",
            hint=REPLACED_HINT,
        )
    if not blip.every:
        return  # nothing was published (judged by the calls before)
    raise Fail(
        f"{call} returned {kind(result)} when the broker refused every attempt to publish "
        "it: the task was never sent, and rush's caller cannot tell",
        hint="let the error reach the caller: don't catch it in rush (apply_async raises "
        "OperationalError once its retries are used up)",
    )


def _type_error_hint(exc: TypeError) -> str:
    """Which call put ``queue`` among the task's arguments: delay(), or apply_async's kwargs."""
    celery_dir = f"{os.sep}celery{os.sep}"
    called = next(
        (f.name for f in traceback.extract_tb(exc.__traceback__) if celery_dir in f.filename), None
    )
    if called == "apply_async":
        return (
            "apply_async's second argument is the task's own kwargs: give options as keyword "
            "arguments, apply_async((x, y), queue='urgent')"
        )
    return (
        "delay() passes everything to the task: use apply_async((x, y), queue='urgent') for options"
    )


def _call_of(args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The arguments of ``simple_calculation`` these args and kwargs give, as given.

    Defaults are not filled in: a call that writes out a default sends kwargs the plain call
    does not (and keeps the old value if the task's default changes).
    """
    try:
        bound = inspect.signature(simple_calculation.run).bind(*args, **kwargs)
    except TypeError:
        return None
    return dict(bound.arguments)


def _judge_rush(
    result: Any,
    seen: list[dict[str, Any]],
    x: int,
    y: int,
    changed: list[str],
    messages: list[dict[str, Any]],
    reference: dict[str, Any],
    blip: _Blip,
    given: Mapping[str, Any] | None = None,
) -> None:
    """Judge one call of ``rush``: what it published (``seen``), what arrived (``messages``).

    ``given``: the options the call gave ``send_task`` (``declare``, a ``queue`` object).
    """
    call = f"rush({x}, {y})"
    arrived = len(messages)
    if changed:
        raise Fail(
            f"{call} changed {' and '.join(changed)}: that is the routing of every task the "
            "app sends (from any thread, also while rush runs), not of this call",
            hint="choose the queue for this one call: apply_async((x, y), queue='urgent') "
            "leaves the routes as they are",
        )
    midway = next((m["changed"] for m in seen if m["changed"]), None)
    if midway:
        raise Fail(
            f"{call} changed {' and '.join(midway)} while it sent the task, and put it back "
            "afterwards: in the meantime that is the routing of every task the app sends, from "
            "any thread (a web server's other requests, a worker's threads), not of this call",
            hint="choose the queue for this one call: apply_async((x, y), queue='urgent') "
            "leaves the routes as they are",
        )
    if blip.dropped is not None and not blip.retried:
        raise _not_retried(call, None)
    if not seen:
        if hasattr(result, "apply_async"):
            raise Fail(
                f"{call} returned a signature and sent nothing",
                hint="a signature is only a description: call .apply_async() on it",
            )
        raise Fail(f"{call} sent no task", hint="send it with simple_calculation.apply_async(...)")
    if len(seen) > 1:
        where = ", ".join(f"{m['task']} to {m['queue']!r}" for m in seen)
        raise Fail(
            f"{call} sent {len(seen)} messages ({where})",
            hint="send the task once per call: one apply_async((x, y), queue='urgent')",
        )
    (message,) = seen
    if message["task"] != simple_calculation.name:
        raise Fail(f"{call} sent {message['task']}", hint="send simple_calculation")
    if "queue" in message["kwargs"]:
        raise Fail(
            f"{call} sent queue={message['kwargs']['queue']!r} as an argument of the task, "
            f"and the message went to {message['queue']!r}",
            hint="delay() passes everything to the task: use "
            "apply_async((x, y), queue='urgent') for options",
        )
    if arrived != 1 and message["exchange"]:
        raise Fail(
            f"{call} published the message to the exchange {message['exchange']!r} with the "
            f"routing key {message['queue']!r}, which no queue is bound with: it never "
            "reached 'urgent'",
            hint="queue='urgent' alone is enough (Celery publishes straight to that queue): "
            "leave exchange and routing_key out",
        )
    if message["queue"] != URGENT_QUEUE or arrived != 1:
        raise Fail(
            f"{call} went to the queue {message['queue']!r}, not 'urgent'",
            hint="queue='urgent' in apply_async(...) wins over task_routes",
        )
    given_call, plain_call = _call_of(message["args"], message["kwargs"]), _call_of([x, y], {})
    if (
        given_call
        and plain_call
        and given_call != plain_call
        and all(given_call.get(k) == v for k, v in plain_call.items())
    ):
        extra = {k: v for k, v in given_call.items() if k not in plain_call}
        raise Fail(
            f"{call} sent args={message['args']} kwargs={message['kwargs']}: it also gives "
            f"{', '.join(f'{k}={v!r}' for k, v in extra.items())}, which the plain call "
            "leaves to the task's own default",
            hint="send only x and y, as rush's caller asked: apply_async((x, y), queue='urgent')",
        )
    if given_call != plain_call:
        raise Fail(
            f"{call} sent args={message['args']} kwargs={message['kwargs']}",
            hint="pass the function's own x and y: apply_async((x, y), queue='urgent')",
        )
    differences = _differences(message["message"], reference["message"]) or _differences(
        messages[0], reference["arrived"]
    )
    if differences:
        field_name, value = differences[0]
        own = reference["message"].get("priority")
        instead = (
            f", in place of the task's own priority {own!r} (the one task_default_priority = "
            f"{own!r}, section 4's advice, gives every task; a plain apply_async keeps it)"
            if field_name == "priority" and own is not None
            else ""
        )
        raise Fail(
            f"{call} sent the task with {_option_words(field_name, value)}{instead}",
            hint=(
                "the exercise asks for the queue only: leave priority out (and on Redis 9 is "
                "the least urgent, 0 the most: section 4), even 0: apply_async's priority "
                "replaces the task's own"
                if field_name == "priority"
                else "choose the queue and change nothing else: apply_async((x, y), queue='urgent')"
                + _field_note(field_name, value)
            ),
        )
    more = _declared_more(message["declared"], reference["declared"], "queue='urgent'")
    if more is not None:
        words, hint = more
        raise Fail(
            f"{call} declared {words} on the broker as it sent the task, which "
            "queue='urgent' does not",
            hint=hint,
        )
    if _undeclared(message["declared"], reference["declared"], URGENT_QUEUE):
        given = given or {}
        cause, hint = _undeclared_words(
            URGENT_QUEUE, "queue='urgent'", given.get("declare"), given.get("queue")
        )
        raise Fail(
            f"{call} declared no queue 'urgent' on the broker as it sent the task ({cause}), "
            "where queue='urgent' declares it",
            hint=hint,
        )
    if isinstance(result, str):
        raise Fail(f"{call} returned the task id", hint="return the AsyncResult itself")
    if not isinstance(result, AsyncResult):
        raise Fail(f"{call} returned {kind(result)}", hint="return what apply_async(...) returns")


# --------------------------------------------------------------------------- 08.3

#: ``-A`` values that name the course's app (its package, or the module that creates it).
APP_NAMES = frozenset(
    {"course_tasks", "course_tasks:app", "course_tasks.app", "course_tasks.app:app"}
)
#: Options of ``celery`` and of ``celery worker`` that may be given besides the asked ones:
#: they change what is logged or shown, not what the worker does.
HARMLESS = frozenset({
    "app", "no_color", "quiet", "skip_checks",
    "queues", "concurrency", "hostname", "loglevel", "logfile", "task_events",
})  # fmt: skip
#: The hint for an option the exercise's worker must not have, by parameter name.
EXTRA_HINTS = {
    "pool": "the default pool (prefork) runs -c processes: leave -P out",
    "beat": "-B runs beat inside this worker: with a worker per queue, every periodic task "
    "would be sent once by each of them. Run beat once, on its own (chapter 06)",
    "detach": "--detach puts the worker in the background and the command returns at once: "
    "subprocess (or a supervisor, or compose) loses the process. Leave it out",
    "purge": "--purge deletes every message waiting in the queue each time the worker starts: "
    "the tasks sent while it was down are lost. Leave it out",
    "autoscale": "--autoscale grows and shrinks the pool between its two numbers: -c N alone "
    "runs N tasks at once",
    "time_limit": "a time limit kills tasks that run longer: not asked here, leave it out",
    "soft_time_limit": "a time limit stops tasks that run longer: not asked here, leave it out",
    "broker": "the app's configuration names the broker: leave -b out",
    "workdir": "--workdir makes celery change directory before it imports the app: leave it out",
    "result_backend": "the app's configuration names the result backend: leave it out",
    "version": "--version prints Celery's version and exits: no worker starts",
    "without_heartbeat": "--without-heartbeat changes how the worker runs: it sends no "
    "heartbeats, so monitors (Flower, celery events) show it as offline. Leave it out (logging "
    "and monitoring options such as -l info or -E are fine)",
    "without_gossip": "--without-gossip changes how the worker runs: it stops listening to the "
    "other workers' events (who is online, logical clocks). Leave it out (logging and "
    "monitoring options such as -l info or -E are fine)",
    "without_mingle": "--without-mingle changes how the worker runs: it skips the start-up sync "
    "with the other workers (the ids of revoked tasks among it). Leave it out (logging and "
    "monitoring options such as -l info or -E are fine)",
}
#: A host name with a domain: ``%h`` gives all of it, ``%n`` its first part only.
OTHER_HOST = "box.example.com"


def _parser(command: Any) -> Any:
    """A copy of a ``celery`` click command that only parses.

    No ``--help`` option (it prints and exits), no ``--workdir`` callback (it changes the
    process's directory while parsing), ``-P`` read as a name (its type imports the pool,
    which for eventlet or gevent patches the standard library) and ``-n`` read as written
    (its type expands ``%h`` with this machine's host name; ``_node_on`` expands it for any).
    """
    clone = copy.copy(command)
    clone.add_help_option = False
    clone.params = []
    for param in command.params:
        param = copy.copy(param)
        if param.name == "workdir":
            param.callback = None
        if param.name == "pool":
            param.type = click.Choice(concurrency.get_available_pool_names())
        if param.name == "hostname":
            param.type, param.default = click.STRING, None
        clone.params.append(param)
    return clone


def _given(ctx: click.Context) -> list[str]:
    """Names of the parameters set on the command line (not defaults), in the command's order."""
    return [
        p.name for p in ctx.command.params
        if p.name and ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE
    ]  # fmt: skip


def _as_written(tokens: list[str], param: click.Parameter) -> str:
    """How ``tokens`` give ``param``: ``-P solo``, ``--prefetch-multiplier=0``, ``-B``."""
    flag = getattr(param, "is_flag", False)
    opts = [*param.opts, *getattr(param, "secondary_opts", [])]
    for i, token in enumerate(tokens):
        for opt in opts:
            if token == opt:
                value = "" if flag or i + 1 >= len(tokens) else f" {tokens[i + 1]}"
                return token + value
            long_value = opt.startswith("--") and token.startswith(opt + "=")
            if long_value or (
                not flag and len(opt) == 2 and token.startswith(opt) and token != opt
            ):
                return token
    return param.opts[0]


def _split_program(argv: list[str]) -> list[str]:
    """The arguments after the program, which is ``celery`` or ``python -m celery``."""
    program = os.path.basename(argv[0]) if argv else ""
    if program == "celery":
        return argv[1:]
    if re.fullmatch(r"python[0-9.]*", program) and argv[1:3] == ["-m", "celery"]:
        return argv[3:]
    raise Fail(f"the command starts with {argv[:1]}", hint='start it with "celery" (the program)')


def _parse_worker_argv(argv: list[str]) -> tuple[click.Context, click.Context, list[str]]:
    """Celery's own command line on ``argv``: the ``celery`` and ``worker`` contexts."""
    from celery.bin.celery import celery

    args = _split_program(argv)
    try:
        sub = args.index("worker")
    except ValueError:
        raise Fail(
            "there is no 'worker' subcommand", hint="celery -A course_tasks worker ..."
        ) from None
    if "--help" in args:
        raise Fail(
            "the command asks for --help: celery prints its help and exits, no worker starts",
            hint="leave --help out",
        )
    obj = types.SimpleNamespace(app=app)
    try:
        parent = _parser(celery).make_context("celery", [*args[:sub], "worker"], obj=obj)
        ctx = _parser(celery.commands["worker"]).make_context(
            "worker", args[sub + 1 :], parent=parent
        )
    except click.ClickException as exc:
        app_after = isinstance(exc, click.NoSuchOption) and exc.option_name in ("-A", "--app")
        raise Fail(
            f"celery worker refuses it: {exc.format_message()}",
            hint="-A is an option of celery itself since Celery 5: celery -A course_tasks "
            "worker ..."
            if app_after
            else "-Q QUEUE -c N -n NAME@%h (celery worker --help lists them)",
        ) from None
    return parent, ctx, args


@exercise("08.3", "a dedicated worker's command line", points=1)
def _worker_command(worker_command: Any) -> str:
    worker_command = need_function(
        worker_command, "worker_command", "worker_command(queue, concurrency, name)",
        purpose="returns a command line",
    )  # fmt: skip
    cases = (("ai_processing", 1, "ai-worker"), ("demo_tasks", 4, "demo-worker"))
    lines = []
    for queue, concurrency_, name in cases:
        call = f"worker_command({queue!r}, {concurrency_}, {name!r})"
        argv = worker_command(queue, concurrency_, name)
        if argv is None and is_stub_body(worker_command):
            raise NotYet("write the body of worker_command")
        if isinstance(argv, str):
            raise Fail(
                f"{call} returned one string, not a list of strings",
                hint="subprocess looks for a program named after the whole string: return the "
                "list, ['celery', '-A', 'course_tasks', 'worker', '-Q', queue, ...]",
            )
        if not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv):
            raise Fail(
                f"{call} returned {kind(argv)}"
                + (
                    f" holding {kind(next(a for a in argv if not isinstance(a, str)))}"
                    if isinstance(argv, (list, tuple))
                    else ""
                ),  # fmt: skip
                hint="return a list of strings (argv), e.g. [..., '-c', str(concurrency)]",
            )
        parent, ctx, args = _parse_worker_argv(list(argv))
        _judge_worker(call, queue, concurrency_, name, parent, ctx, args)
        lines.append(list(argv))
    return (
        f"{shlex.join(lines[0])}: the node ai-worker@HOST on any host (this one and "
        f"{OTHER_HOST}), reading only ai_processing, 1 task at a time; demo_tasks likewise, 4 "
        "at a time"
    )


def _node_on(raw: str | None, host: str) -> str:
    """The node name that ``-n raw`` gives a worker started on the machine ``host``.

    As ``celery worker`` does it (``Hostname.convert``: ``host_format(default_nodename(raw))``)
    with ``host`` for this machine's name: no ``-n`` is ``celery@host``, a name without ``@``
    is a host name, ``%h`` is ``host``, ``%n`` its part before the first dot.
    """
    name, at = nodesplit(raw or "")
    return host_format(nodename(name or NODENAME_DEFAULT, at or host), host=host)


def _node_hint(raw: str | None, name: str, host: str) -> str:
    """The hint for ``-n raw`` that does not give ``name@host`` on ``host``."""
    written = raw or ""
    if written[:1].isspace():
        return (
            f"'-n {written.strip()}' is one list item: celery reads -n and takes the rest of the "
            f"item, space included, as the name. Give -n and its value as two items: "
            f"[..., '-n', f'{{name}}@%h']"
        )
    if "%n" in written:
        return (
            f"%n is the host name without its domain ({host} -> {host.partition('.')[0]}), so "
            f"workers on web1.example.com and web1.example.org get one node name: -n {name}@%h "
            "puts in the whole host name"
        )
    if "%" not in written and host == OTHER_HOST and nodesplit(written)[1] == gethostname():
        return (
            f"the line has this machine's host name, {gethostname()}, written in: started on "
            f"another machine, the worker is still {written}. Write %h itself (-n {name}@%h): "
            "the worker puts in the name of the host it runs on"
        )
    return f"-n {name}@%h (%h is this machine's host name)"


def _judge_worker(
    call: str,
    queue: str,
    concurrency_: int,
    name: str,
    parent: click.Context,
    ctx: click.Context,
    args: list[str],
) -> None:
    app_name = parent.params.get("app")
    if app_name not in APP_NAMES or "app" not in _given(parent):
        raise Fail(
            f"{call}: the command runs the app {app_name!r}",
            hint="put -A course_tasks before 'worker': the worker must import the course's tasks",
        )
    params = ctx.params
    queues = [q for item in params.get("queues") or [] for q in str(item).split(",")]
    if queues != [queue]:
        raise Fail(
            f"{call}: the worker reads {queues or 'every queue (no -Q)'}, not [{queue!r}]",
            hint="-Q QUEUE: a dedicated worker reads its own queue only",
        )
    sub = args.index("worker")
    by_name = {p.name: p for p in ctx.command.params}
    pool = params.get("pool")
    if "pool" in _given(ctx) and pool not in ("prefork", "processes"):
        # another pool first: with -P solo, -c means nothing (the count is judged after)
        written = _as_written(args[sub + 1 :], by_name["pool"])
        raise Fail(f"{call}: the command adds {written}", hint=_extra_hint("pool", pool, written))
    if params.get("concurrency") != concurrency_:
        got = params.get("concurrency")
        if got is None and "autoscale" in _given(ctx):
            written = _as_written(args[sub + 1 :], by_name["autoscale"])
            raise Fail(
                f"{call}: the command gives {written} instead of -c {concurrency_}: the pool "
                "grows and shrinks between those two numbers as work comes and goes",
                hint=f"-c {concurrency_}: a fixed number of processes, the number of tasks the "
                "worker runs at once (leave --autoscale out)",
            )
        raise Fail(
            f"{call}: concurrency is {got}" + (" (one per CPU)" if got is None else ""),
            hint=f"-c {concurrency_}: the number of tasks the worker runs at once",
        )
    raw = params.get("hostname")
    for host in (gethostname(), OTHER_HOST):
        node = _node_on(raw, host)
        node_name, node_host = nodesplit(node)
        if node_host == name and node_name != name:
            raise Fail(
                f"{call}: -n {name} gives the node name {node!r}",
                hint="a name without '@' is read as a host name: -n NAME@%h",
            )
        if node != f"{name}@{host}":
            where = "" if host == gethostname() else f"on a machine named {host}, "
            expected = "" if host == gethostname() else f", not '{name}@{host}'"
            raise Fail(
                f"{call}: {where}the node is named {node!r}{expected}",
                hint=_node_hint(raw, name, host),
            )
    for context, tokens in ((parent, args[:sub]), (ctx, args[sub + 1 :])):
        by_name = {p.name: p for p in context.command.params}
        for option in _given(context):
            value = context.params.get(option)
            if option in HARMLESS or (option == "pool" and value in ("prefork", "processes")):
                continue
            if option == "exclude_queues" and queue not in (value or []):
                continue  # -X of other queues: the worker still reads its -Q queue only
            written = _as_written(tokens, by_name[option])
            raise Fail(
                f"{call}: the command adds {written}", hint=_extra_hint(option, value, written)
            )
    if ctx.args:
        raise Fail(
            f"{call}: the command ends with {ctx.args}, which celery worker reads as settings",
            hint="-A, -Q, -c and -n are all this worker needs: leave the rest out",
        )


def _extra_hint(option: str, value: Any, written: str) -> str:
    if option == "pool" and value == "solo":
        return (
            "-P solo runs one task at a time, whatever -c says: leave -P out (the default "
            "pool, prefork, runs -c processes)"
        )
    if option == "prefetch_multiplier":
        if re.search(r"[= ]0+$", written):
            return (
                "--prefetch-multiplier=0 does not turn prefetching off: celery worker reads 0 as "
                "'not given', and as a setting 0 means no limit (section 5). Leave it out: the "
                "worker keeps the app's prefetch"
            )
        return "the worker keeps the app's prefetch here (08.4 is about prefetch): leave it out"
    if option == "exclude_queues":
        return f"{written} excludes the very queue this worker is for: leave -X out"
    if option in EXTRA_HINTS:
        return EXTRA_HINTS[option]
    return (
        f"{written} changes how the worker runs, and the exercise asks for -A, -Q, -c and -n "
        "only (logging and monitoring options such as -l info or -E are fine): leave it out"
    )


# --------------------------------------------------------------------------- 08.4

PREFETCH_QUEUE = "course-check-prefetch-08"
LONG_SECONDS = 0.8


@exercise("08.4", "prefetch for long tasks", points=2)
def _prefetch(settings: Any) -> str:
    if not isinstance(settings, dict):
        raise Fail(f"settings is {kind(settings)}", hint="write a dict of two settings")
    missing = [k for k in ("worker_prefetch_multiplier", "task_acks_late") if k not in settings]
    if missing:
        raise Fail(
            f"settings has no {missing[0]!r}",
            hint="set worker_prefetch_multiplier and task_acks_late",
        )
    multiplier = settings["worker_prefetch_multiplier"]
    acks_late = settings["task_acks_late"]
    if multiplier is Ellipsis or acks_late is Ellipsis:
        raise NotYet()
    if isinstance(multiplier, bool) or not isinstance(multiplier, int) or multiplier < 0:
        raise Fail(
            f"worker_prefetch_multiplier is {multiplier!r}",
            hint=(
                "a count of messages is never negative: a whole number of at least 1, e.g. 1"
                if isinstance(multiplier, int) and not isinstance(multiplier, bool)
                else "it is a whole number, e.g. 1"
            ),
        )
    if not isinstance(acks_late, bool):
        if isinstance(acks_late, str):
            hint = "it is True or False (not a string)"
        elif acks_late is None:
            hint = "give it a value: True or False"
        else:
            hint = f"it is a bool, True or False, not {kind(acks_late)}"
        raise Fail(f"task_acks_late is {acks_late!r}", hint=hint)
    held, queued = _held_behind_long(multiplier, acks_late)
    if held == 0:
        extra = [k for k in settings if k not in ("worker_prefetch_multiplier", "task_acks_late")]
        if extra:
            raise Fail(
                f"settings also sets {extra[0]} = {settings[extra[0]]!r}, which the exercise "
                "does not ask for (the check started the worker with the two settings only)",
                hint=_extra_setting_hint(extra[0], settings[extra[0]]),
            )
        return (
            f"while the long task ran, the busy worker held no short task ({queued} stayed queued)"
        )
    if multiplier == 0:
        hint = "0 means no limit at all: the worker takes every message it can"
    elif multiplier > 1:
        hint = f"the worker reserves {multiplier} x concurrency messages: with long tasks use 1"
    else:
        hint = (
            "acknowledged early, the long task frees its prefetch slot as soon as it starts: "
            "with task_acks_late = True it keeps it until it is done"
        )
    raise Fail(
        f"while the long task ran, the busy worker held {held} short task(s) behind it",
        hint=hint,
    )


def _extra_setting_hint(key: Any, value: Any) -> str:
    """The hint for a setting of ``settings`` besides the two the exercise asks for."""
    leave = f"set the two settings only, and leave {key} out"
    options = value if isinstance(value, Mapping) else {}
    if key == "broker_transport_options" and "visibility_timeout" in options:
        return (
            f"{leave}: on Redis a task not acknowledged within visibility_timeout "
            f"({options['visibility_timeout']!r} s here) is delivered again, to this worker or "
            "another, while it still runs; with task_acks_late a task of minutes then runs "
            "twice (the default is one hour)"
        )
    if key in ("task_time_limit", "task_soft_time_limit"):
        return (
            f"{leave}: a time limit of {value!r} s stops every task that runs longer, and the "
            "long tasks of this queue run minutes"
        )
    return (
        f"{leave}: the exercise asks for the worker's prefetch and for when a task is "
        "acknowledged, nothing more"
    )


def _held_behind_long(multiplier: int, acks_late: bool) -> tuple[int, int]:
    """Run a long task and two short ones on a concurrency-1 worker; (held, still queued)."""
    long_task = demo.long_job_acks_late if acks_late else demo.long_job
    delete_queue(PREFETCH_QUEUE)
    spec = workers.Spec("check08", (PREFETCH_QUEUE,), 1, prefetch_multiplier=multiplier)
    (worker,) = workers.start(spec)
    results: list[AsyncResult] = []
    try:
        results.append(long_task.apply_async(("long", LONG_SECONDS), queue=PREFETCH_QUEUE))
        results += [
            demo.record.apply_async((f"short{i}", 0.0), queue=PREFETCH_QUEUE) for i in range(2)
        ]
        _wait_started(results[0])
        time.sleep(0.2)  # time for the worker to fetch whatever it may
        queued = _message_count(PREFETCH_QUEUE)
        replies = app.control.inspect(timeout=0.5, destination=[worker.node]).reserved() or {}
        held = sum(
            1 for request in replies.get(worker.node, []) if request.get("hostname") == worker.node
        )
    finally:
        workers.stop(spec.name)  # a warm shutdown: the long task finishes first
        delete_queue(PREFETCH_QUEUE)  # the short ones it never started
        for result in results:
            app.backend.mark_as_revoked(result.id, reason="check finished")
    return held, queued


def _wait_started(result: AsyncResult, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while result.state not in ("STARTED", "SUCCESS"):
        if time.monotonic() > deadline:
            raise Fail(
                f"the long task is still {result.state} after {seconds:g} s",
                hint="is the worker running? Run the set-up cell at the top again",
            )
        time.sleep(0.01)
