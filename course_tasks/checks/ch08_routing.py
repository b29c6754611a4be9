"""Checks of chapter 08's exercises (``solutions/08_routing_solutions.ipynb``).

* 08.1 ``check("08.1", routes)``: a ``task_routes`` dict that sends guide 003's AI tasks
  (``ai_tasks.*``) to ``ai_processing``, its quick calculations (``demo_tasks.*``) to
  ``demo_tasks`` and leaves every other task on the default queue ``celery``. Judged by
  Celery's own router (:class:`celery.app.routes.Router`, what ``apply_async`` uses) on
  tasks of each kind, including ones the learner's dict does not name;
* 08.2 ``check("08.2", rush)``: ``rush(x, y)`` sends ``simple_calculation(x, y)`` to the
  queue ``urgent`` whatever ``task_routes`` say, and returns its AsyncResult. Run twice
  (other arguments the second time) while routes send ``demo_tasks.*`` elsewhere; the
  messages are caught as they are published and counted in the queue, then purged;
* 08.3 ``check("08.3", worker_command)``: ``worker_command(queue, concurrency, name)``
  returns the argv of a dedicated worker (``celery -A course_tasks worker -Q ... -c ...
  -n name@%h``), parsed by Celery's own command line for two sets of arguments;
* 08.4 ``check("08.4", settings)``: ``{"worker_prefetch_multiplier": ..., "task_acks_late":
  ...}`` for a worker of long tasks. A dedicated worker (concurrency 1) starts with that
  multiplier, runs a long task (``acks_late`` as given) with two short ones queued behind
  it, and the check counts how many shorts the busy worker holds while the long one runs.
"""

from __future__ import annotations

import shlex
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from celery import signals
from celery.app import routes as celery_routes
from celery.result import AsyncResult
from celery.utils.nodenames import default_nodename, gethostname, nodesplit

from course_tasks import workers
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import delete_queue, is_stub_body, kind, need_function
from course_tasks.tasks import demo
from course_tasks.tasks.ai import generate_user_profile, run_ai_text_generation
from course_tasks.tasks.basics import add
from course_tasks.tasks.demo import simple_calculation
from course_tasks.tasks.email import send_welcome_email

WAIT_SECONDS = 5.0
URGENT_QUEUE = "urgent"

# --------------------------------------------------------------------------- helpers


def _queue_of(route: dict[str, Any]) -> str:
    queue = route.get("queue")
    return getattr(queue, "name", queue)


def _message_count(queue: str) -> int:
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_declare(queue).message_count)


# --------------------------------------------------------------------------- 08.1

#: Task name -> the queue guide 003's routes give it.
EXPECTED_ROUTES = {
    run_ai_text_generation.name: "ai_processing",
    generate_user_profile.name: "ai_processing",
    simple_calculation.name: "demo_tasks",
    demo.update_user_statistics.name: "demo_tasks",
    add.name: "celery",
    send_welcome_email.name: "celery",
}


@exercise("08.1", "route by glob", points=2)
def _routes(routes: Any) -> str:
    if not isinstance(routes, (dict, list, tuple)):
        raise Fail(
            f"routes is {kind(routes)}",
            hint='write a dict of pattern -> route: {"ai_tasks.*": {"queue": "ai_processing"}}',
        )
    if not routes:
        raise Fail("routes is empty", hint="one entry per kind of task: ai_tasks.*, demo_tasks.*")
    router = celery_routes.Router(
        celery_routes.prepare(routes), app.amqp.queues, create_missing=True, app=app
    )
    got = {name: _queue_of(router.route({}, name)) for name in EXPECTED_ROUTES}
    wrong = {name: queue for name, queue in got.items() if queue != EXPECTED_ROUTES[name]}
    if not wrong:
        return "AI tasks -> ai_processing, calculations -> demo_tasks, the rest -> celery"
    name, queue = next(iter(wrong.items()))
    expected = EXPECTED_ROUTES[name]
    keys = [k for k in routes if isinstance(k, str)] if isinstance(routes, dict) else []
    problem = f"{name} goes to the queue {queue!r}, not {expected!r}"
    if expected == "celery":
        hint = (
            f"a catch-all pattern sends every other task to {queue!r}, and the course's worker "
            "reads only 'celery' (task_default_queue): leave other tasks out of task_routes"
        )
    elif queue == "celery" and any("*" not in k and "." in k and k.count(".") == 1 for k in keys):
        hint = (
            "keys without a '*' match one task name exactly: use a glob such as "
            f'"{name.split(".")[0]}.*" to match every task of that group'
        )
    elif queue == "celery":
        hint = (
            f"no pattern matches {name}: task names are the name= of the task, "
            f'here "{name.split(".")[0]}.*" (not the module path)'
        )
    elif queue in EXPECTED_ROUTES.values():
        hint = "the two queues are swapped: AI tasks (slow) go to ai_processing"
    else:
        hint = f"no worker reads {queue!r}: spell the queue names as guide 003 does"
    raise Fail(problem, hint=hint)


# --------------------------------------------------------------------------- 08.2


@contextmanager
def _captured() -> Iterator[list[dict[str, Any]]]:
    """Every task message published while inside: its task name, args, kwargs, queue."""
    seen: list[dict[str, Any]] = []

    def on_publish(sender: str | None = None, body: Any = None, routing_key: str | None = None,
                   headers: dict[str, Any] | None = None, **_: Any) -> None:  # fmt: skip
        args, kwargs = (body[0], body[1]) if isinstance(body, (list, tuple)) else ((), {})
        seen.append({"task": sender, "args": list(args), "kwargs": dict(kwargs),
                     "queue": routing_key})  # fmt: skip

    signals.before_task_publish.connect(on_publish, weak=False, dispatch_uid="course-check-08.2")
    try:
        yield seen
    finally:
        signals.before_task_publish.disconnect(dispatch_uid="course-check-08.2")


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


@exercise("08.2", "choose the queue when you send", points=1)
def _rush(rush: Any) -> str:
    rush = need_function(rush, "rush", "rush(x, y)", purpose="sends simple_calculation")
    with _routes_elsewhere(), _captured() as seen:
        before = _message_count(URGENT_QUEUE)
        results = []
        for x, y in ((2, 3), (40, 2)):
            del seen[:]
            try:
                result = rush(x, y)
            except TypeError as exc:
                if "queue" not in str(exc):
                    raise
                raise Fail(
                    f"rush({x}, {y}) raised TypeError: {exc}",
                    hint="delay() passes everything to the task: use "
                    "apply_async((x, y), queue='urgent') for options",
                ) from None
            if result is None and is_stub_body(rush):
                raise NotYet("write the body of rush")
            _judge_rush(result, seen, x, y)
            results.append(result)
        count = _message_count(URGENT_QUEUE) - before
        for result in results:
            app.backend.mark_as_revoked(result.id, reason="check finished")
    if count != 2:
        raise Fail(
            f"the queue 'urgent' holds {count} new messages, not 2",
            hint="send exactly one task per call",
        )
    return "simple_calculation(2, 3) and (40, 2) went to 'urgent', past task_routes"


def _judge_rush(result: Any, seen: list[dict[str, Any]], x: int, y: int) -> None:
    call = f"rush({x}, {y})"
    if not seen:
        if hasattr(result, "apply_async"):
            raise Fail(
                f"{call} returned a signature and sent nothing",
                hint="a signature is only a description: call .apply_async() on it",
            )
        raise Fail(f"{call} sent no task", hint="send it with simple_calculation.apply_async(...)")
    message = seen[-1]
    if message["task"] != simple_calculation.name:
        raise Fail(f"{call} sent {message['task']}", hint="send simple_calculation")
    if "queue" in message["kwargs"]:
        raise Fail(
            f"{call} sent queue={message['kwargs']['queue']!r} as an argument of the task, "
            f"and the message went to {message['queue']!r}",
            hint="delay() passes everything to the task: use "
            "apply_async((x, y), queue='urgent') for options",
        )
    if message["queue"] != URGENT_QUEUE:
        raise Fail(
            f"{call} went to the queue {message['queue']!r}, not 'urgent'",
            hint="queue='urgent' in apply_async(...) wins over task_routes",
        )
    if message["args"] != [x, y] or message["kwargs"]:
        raise Fail(
            f"{call} sent args={message['args']} kwargs={message['kwargs']}",
            hint="pass the function's own x and y: apply_async((x, y), queue='urgent')",
        )
    if isinstance(result, str):
        raise Fail(f"{call} returned the task id", hint="return the AsyncResult itself")
    if not isinstance(result, AsyncResult):
        raise Fail(f"{call} returned {kind(result)}", hint="return what apply_async(...) returns")


# --------------------------------------------------------------------------- 08.3


def _parse_worker_argv(argv: list[str]) -> dict[str, Any]:
    """Celery's own command line on ``argv``: the app and the worker's options."""
    from celery.bin.celery import celery

    if not argv or argv[0] != "celery":
        raise Fail(
            f"the command starts with {argv[:1]}", hint='start it with "celery" (the program)'
        )
    try:
        sub = argv.index("worker")
    except ValueError:
        raise Fail(
            "there is no 'worker' subcommand", hint="celery -A course_tasks worker ..."
        ) from None
    obj = types.SimpleNamespace(app=app)
    parent = celery.make_context("celery", [*argv[1:sub], "worker"], obj=obj)
    if parent.params.get("app") != "course_tasks":
        raise Fail(
            f"the command runs the app {parent.params.get('app')!r}",
            hint="put -A course_tasks before 'worker': the worker must import the course's tasks",
        )
    command = celery.commands["worker"]
    try:
        ctx = command.make_context("worker", argv[sub + 1 :], parent=parent)
    except click.ClickException as exc:
        raise Fail(
            f"celery worker refuses it: {exc.format_message()}",
            hint="-Q QUEUE -c N -n NAME@%h (celery worker --help lists them)",
        ) from None
    return ctx.params


@exercise("08.3", "a dedicated worker's command line", points=1)
def _worker_command(worker_command: Any) -> str:
    worker_command = need_function(
        worker_command, "worker_command", "worker_command(queue, concurrency, name)",
        purpose="returns a command line",
    )  # fmt: skip
    cases = (("ai_processing", 1, "ai-worker"), ("demo_tasks", 4, "demo-worker"))
    for queue, concurrency, name in cases:
        call = f"worker_command({queue!r}, {concurrency}, {name!r})"
        argv = worker_command(queue, concurrency, name)
        if argv is None and is_stub_body(worker_command):
            raise NotYet("write the body of worker_command")
        if isinstance(argv, str):
            argv = shlex.split(argv)
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
        params = _parse_worker_argv(list(argv))
        queues = params.get("queues") or []
        queues = [q for item in queues for q in str(item).split(",")] if queues else []
        if queues != [queue]:
            raise Fail(
                f"{call}: the worker reads {queues or 'every queue (no -Q)'}, not [{queue!r}]",
                hint="-Q QUEUE: a dedicated worker reads its own queue only",
            )
        if params.get("concurrency") != concurrency:
            got = params.get("concurrency")
            raise Fail(
                f"{call}: concurrency is {got}" + (" (one per CPU)" if got is None else ""),
                hint=f"-c {concurrency}: the number of tasks the worker runs at once",
            )
        node = params.get("hostname") or default_nodename(None)  # %h already expanded
        node_name, host = nodesplit(node)
        if host == name and node_name != name:
            raise Fail(
                f"{call}: -n {name} gives the node name {node!r}",
                hint="a name without '@' is read as a host name: -n NAME@%h",
            )
        if node_name != name or host != gethostname():
            raise Fail(
                f"{call}: the node is named {node!r}",
                hint=f"-n {name}@%h (%h is this machine's host name)",
            )
    return "celery worker -Q ai_processing -c 1 -n ai-worker@%h, and demo_tasks with -c 4"


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
            f"worker_prefetch_multiplier is {multiplier!r}", hint="it is a whole number, e.g. 1"
        )
    if not isinstance(acks_late, bool):
        raise Fail(f"task_acks_late is {acks_late!r}", hint="it is True or False (not a string)")
    held, queued = _held_behind_long(multiplier, acks_late)
    if held == 0:
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
