"""Checks of chapter 09's exercises (``solutions/09_monitoring_solutions.ipynb``).

Every check runs the learner's code for real, in every mode:

* 09.1 ``check("09.1", worker_names)``: ``worker_names(app, timeout)`` returns the sorted
  names of the workers answering ``inspect().ping()``: the course's worker(s) for the course
  app, ``[]`` for an app whose broker no worker listens to (:func:`nobody`), within the
  timeout it was given (0.3 s there: the default of 1 s is caught);
* 09.2 ``check("09.2", make_handler)``: ``make_handler(task_id, counts)`` returns an
  ``EventReceiver`` handler that counts the events of that one task by type in ``counts``.
  The check listens with a real receiver while a declined ``charge_card`` (the task) and an
  accepted one (same name, another id) run, with worker heartbeats (no ``uuid``) in the
  stream, and compares the counts exactly;
* 09.3 ``check("09.3", samples)``: ``samples(text, name)`` parses Prometheus text (written
  by ``prometheus_client`` itself) into ``[(labels, value), ...]`` for one metric name:
  exact names (``queue_length`` is not ``queue_length_max``), float values, label values with
  commas, metrics without labels, comment lines skipped;
* 09.4 ``check("09.4", health)``: ``health(app, timeout)`` answers guide 004 §5's health
  check: healthy with ``"ok (N workers)"`` for the course app, unhealthy with ``"no active
  workers"`` for an app nobody serves, within its timeout.
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from course_tasks import eventwatch
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    StillRunning,
    call_bounded,
    error_text,
    is_stub_body,
    kind,
    need_function,
)
from course_tasks.tasks.payments import charge_card

#: The timeout a check gives the learner's function for an app nobody serves.
SHORT_TIMEOUT = 0.3
#: The timeout for the course app, whose worker answers.
COURSE_TIMEOUT = 1.0
WAIT_SECONDS = 5.0
THREAD_NAME = "course-check-09"


def nobody(waits: list[float] | None = None) -> Celery:
    """An app whose broker (kombu's own ``memory://``, in this process) no worker reads.

    With ``waits``, every ``app.control.broadcast`` (what ``inspect()`` and ``ping()`` send)
    appends how long it waits for replies: whether the learner passed the timeout on is read,
    not timed.
    """
    answered_by_none = Celery("course-check-nobody", broker="memory://", set_as_current=False)
    if waits is not None:
        control = answered_by_none.control
        real = control.broadcast
        signature = inspect.signature(real)

        def broadcast(*args: Any, **kwargs: Any) -> Any:
            call = signature.bind(*args, **kwargs)
            call.apply_defaults()
            waits.append(call.arguments["timeout"])
            return real(*args, **kwargs)

        control.broadcast = broadcast  # type: ignore[method-assign]
    return answered_by_none


def course_workers() -> list[str]:
    """The names of the workers answering the course app now (the expected answer)."""
    return sorted(app.control.inspect(timeout=COURSE_TIMEOUT).ping() or {})


def _bounded(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    answer = call_bounded(fn, *args, seconds=WAIT_SECONDS, thread_name=THREAD_NAME)
    if isinstance(answer, StillRunning):
        raise Fail(
            f"{what} did not return within {WAIT_SECONDS:g} s",
            hint="pass the timeout on: app.control.inspect(timeout=timeout)",
        )
    return answer


def _on_nobody(fn: Callable[..., Any], name: str) -> tuple[Any, float]:
    """``fn(nobody(), SHORT_TIMEOUT)`` and the longest wait for replies it asked for (0 if it
    asked nothing); a Fail if it chokes on None."""
    waits: list[float] = []
    try:
        answer = _bounded(fn, nobody(waits), SHORT_TIMEOUT, what=f"{name}(app, {SHORT_TIMEOUT})")
        return answer, max(waits, default=0.0)
    except (TypeError, AttributeError) as exc:
        raise Fail(
            f"for an app that no worker serves, {name} raised {error_text(exc)}",
            hint="inspect().ping() returns None, not {}, when nobody answers: "
            "use (... .ping() or {})",
        ) from None


# --------------------------------------------------------------------------- 09.1


@exercise("09.1", "worker names from ping", points=1)
def _(worker_names: Any) -> str:
    fn = need_function(
        worker_names, "worker_names", "worker_names(app, timeout)", purpose="pings the workers"
    )
    if is_stub_body(fn):
        raise NotYet("write the body of worker_names")
    expected = course_workers()
    answer = _bounded(fn, app, COURSE_TIMEOUT, what="worker_names(app, 1.0)")
    if isinstance(answer, dict):
        raise Fail(
            "worker_names returned the reply dict itself",
            hint="return the names only: the keys of the reply, sorted(reply)",
        )
    if not isinstance(answer, list):
        raise Fail(
            f"worker_names returned {kind(answer)}, not a list",
            hint="return a list of names, e.g. sorted(reply)",
        )
    if answer and any(not isinstance(item, str) for item in answer):
        raise Fail(
            f"worker_names returned a list holding {kind(answer[0])}",
            hint="each reply is {name: {'ok': 'pong'}}: keep the names (the keys)",
        )
    if sorted(answer) == expected and answer != expected:
        raise Fail("the names are not sorted", hint="return sorted(names)")
    if answer != expected:
        raise Fail(
            f"for the course app you returned {answer}, the workers answering are {expected}",
            hint="ping with app.control.inspect(timeout=timeout).ping() and keep its keys",
        )
    empty, waited = _on_nobody(fn, "worker_names")
    if empty is None:
        raise Fail(
            "for an app that no worker serves, worker_names returned None",
            hint="return an empty list when nobody answers: (... .ping() or {})",
        )
    if empty:
        raise Fail(
            f"for an app that no worker serves, worker_names returned {empty}",
            hint="ask the app you are given (app.control...), not the course's app",
        )
    if waited > SHORT_TIMEOUT:
        raise Fail(
            f"with timeout={SHORT_TIMEOUT}, worker_names waited {waited:g} s for replies",
            hint="pass the timeout on: app.control.inspect(timeout=timeout); "
            "inspect() waits 1 s by default",
        )
    found = f"{len(expected)} worker{'s' if len(expected) != 1 else ''}"
    return f"{found} for the course app, [] within {SHORT_TIMEOUT} s for an app nobody serves"


# --------------------------------------------------------------------------- 09.2


def _capture(handler: Callable[[dict[str, Any]], Any], target: str) -> tuple[list, list]:
    """Run ``handler`` in a real receiver while a declined charge (id ``target``) and an
    accepted one (same task, another id) run; return (every event seen, what it raised)."""
    seen: list[dict[str, Any]] = []
    raised: list[BaseException] = []

    def on_event(event: dict[str, Any]) -> None:
        seen.append(event)
        try:
            handler(event)
        except Exception as exc:  # reported by the check, never into the receiver
            raised.append(exc)

    sent_event = app.conf.task_send_sent_event
    app.conf.task_send_sent_event = True
    listener = eventwatch.EventThread(app, on_event, THREAD_NAME)
    try:
        app.control.enable_events()
        listener.start()
        listener.ready.wait(WAIT_SECONDS)
        other = charge_card.apply_async((901, 5.0))
        declined = charge_card.apply_async((902, 0), task_id=target)
        for result in (other, declined):
            result.get(timeout=WAIT_SECONDS, propagate=False)
        finals = {other.id, target}
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and not finals <= {
            e.get("uuid") for e in list(seen) if e["type"] in eventwatch.FINAL_EVENTS
        }:
            time.sleep(0.02)
    finally:
        listener.stop()
        app.conf.task_send_sent_event = sent_event
    return seen, raised


@exercise("09.2", "count one task's events", points=2)
def _(make_handler: Any) -> str:
    fn = need_function(
        make_handler,
        "make_handler",
        "make_handler(task_id, counts)",
        purpose="returns an event handler",
    )
    if is_stub_body(fn):
        raise NotYet("write the body of make_handler")
    target = str(uuid.uuid4())
    counts: dict[str, int] = {}
    handler = fn(target, counts)
    if not callable(handler):
        raise Fail(
            f"make_handler returned {kind(handler)}, not a function",
            hint="define def handler(event): ... inside make_handler, and return handler",
        )
    seen, raised = _capture(handler, target)
    expected: dict[str, int] = {}
    for event in seen:
        if event.get("uuid") == target:
            expected[event["type"]] = expected.get(event["type"], 0) + 1
    if "task-failed" not in expected or "task-received" not in expected:
        raise Fail(
            "no task event came from the worker",
            hint="run the set-up cell: it sets worker_send_task_events before the worker starts",
        )
    if raised:
        exc = raised[0]
        on_worker = (
            " on a worker event (a worker-heartbeat has no uuid)"
            if isinstance(exc, KeyError)
            else ""
        )
        raise Fail(
            f"your handler raised {error_text(exc)}{on_worker}",
            hint="the handler gets every event, the workers' too: read event.get('uuid')",
        )
    got = dict(counts)
    if not got:
        raise Fail(
            "counts is still empty after the task ran",
            hint="add to the dict you were given: counts[kind] = counts.get(kind, 0) + 1",
        )
    if got != expected:
        if any(got.get(k, 0) > expected.get(k, 0) for k in got):
            hint = (
                "count only the events whose event.get('uuid') is task_id: another "
                "task of the same name, and the workers, send events too"
            )
        else:
            hint = "count every event of the task by event['type'], from task-sent to task-failed"
        raise Fail(f"counts are {got}, expected {expected}", hint=hint)
    order = [kind for kind in eventwatch.LIFE if kind in expected]  # arrival order varies
    return ", ".join(f"{kind} {expected[kind]}" for kind in order)


# --------------------------------------------------------------------------- 09.3


def metrics_text() -> str:
    """Prometheus text as ``prometheus_client`` writes it, with the traps 09.3 is about."""
    registry = CollectorRegistry()
    charges = Counter("course_charges", "Charges by outcome", ["task", "reason"], registry=registry)
    charges.labels("charge_card", "ok").inc(7)
    charges.labels("charge_card", "declined, card expired").inc(2)
    queues = Gauge("queue_length", "Messages waiting", ["queue"], registry=registry)
    queues.labels("celery").set(0)
    queues.labels("ch09-parked").set(5)
    longest = Gauge("queue_length_max", "Longest queue seen", ["queue"], registry=registry)
    longest.labels("celery").set(12)
    Gauge("workers_online", "Workers answering a ping", registry=registry).set(2)
    return generate_latest(registry).decode()


#: (name, expected samples) that 09.3 asks for.
CASES_093 = [
    ("queue_length", [({"queue": "celery"}, 0.0), ({"queue": "ch09-parked"}, 5.0)]),
    ("workers_online", [({}, 2.0)]),
    (
        "course_charges_total",
        [
            ({"task": "charge_card", "reason": "ok"}, 7.0),
            ({"task": "charge_card", "reason": "declined, card expired"}, 2.0),
        ],
    ),
]


#: The hint when ``samples`` raises on a case: what that case has that the others lack.
HINTS_093 = {
    "queue_length": "skip the # HELP / # TYPE lines and other metrics' lines; a sample is "
    "name{labels} value",
    "workers_online": "a sample may have no labels at all (workers_online 2.0): make the "
    "{...} part optional",
    "course_charges_total": 'read each label as name="value" with a regex: a value may hold '
    "a comma",
}


@exercise("09.3", "parse /metrics", points=2)
def _(samples: Any) -> str:
    fn = need_function(samples, "samples", "samples(text, name)", purpose="parses metrics")
    if is_stub_body(fn):
        raise NotYet("write the body of samples")
    text = metrics_text()
    for name, expected in CASES_093:
        try:
            got = fn(text, name)
        except Exception as exc:
            hint = HINTS_093[name]
            raise Fail(f"samples(text, {name!r}) raised {error_text(exc)}", hint=hint) from None
        if not isinstance(got, list):
            raise Fail(
                f"samples(text, {name!r}) returned {kind(got)}, not a list",
                hint="return a list of (labels, value) pairs",
            )
        pairs = [tuple(p) if isinstance(p, (tuple, list)) else p for p in got]
        if any(not (isinstance(p, tuple) and len(p) == 2) for p in pairs):
            raise Fail(
                f"samples(text, {name!r}) holds items that are not (labels, value) pairs",
                hint="append (labels_dict, value) for each matching line",
            )
        if any(isinstance(v, str) for _, v in pairs):
            raise Fail(
                f"samples(text, {name!r}) returned the values as str",
                hint="convert each value with float(...)",
            )
        if len(pairs) > len(expected):
            raise Fail(
                f"samples(text, {name!r}) returned {len(pairs)} samples, expected "
                f"{len(expected)}: {pairs}",
                hint=f"match the name exactly: {name}_max or a # HELP line also start with {name}",
            )
        if pairs != expected:
            labels_wrong = [p for p, e in zip(pairs, expected, strict=False) if p[0] != e[0]]
            hint = (
                'read each label as name="value" with a regex: a value may hold a comma'
                if labels_wrong
                else "keep the lines of that metric, in order, with their values"
            )
            raise Fail(f"samples(text, {name!r}) returned {pairs}, expected {expected}", hint=hint)
    return "exact names, labels with commas, no-label samples, float values"


# --------------------------------------------------------------------------- 09.4


HEALTHY_WORDS = ("healthy", "unhealthy")


@exercise("09.4", "a health check that sees a dead worker", points=2)
def _(health: Any) -> str:
    fn = need_function(health, "health", "health(app, timeout)", purpose="reports health")
    if is_stub_body(fn):
        raise NotYet("write the body of health")
    workers = course_workers()
    answer = _bounded(fn, app, COURSE_TIMEOUT, what="health(app, 1.0)")
    _shape(answer, "the course app")
    alive = f"ok ({len(workers)} workers)"
    want = {"status": "healthy", "checks": {"broker": "ok", "celery_worker": alive}}
    if answer != want:
        raise Fail(
            f"for the course app you answered {answer}, expected {want}",
            hint='count the workers that answer: f"ok ({len(names)} workers)"',
        )
    dead, waited = _on_nobody(fn, "health")
    _shape(dead, "an app no worker serves")
    want_dead = {
        "status": "unhealthy",
        "checks": {"broker": "ok", "celery_worker": "no active workers"},
    }
    if dead.get("status") == "healthy":
        raise Fail(
            "an app with no worker was reported healthy",
            hint="ping the app you are given and report unhealthy when no worker answers",
        )
    if dead != want_dead:
        raise Fail(
            f"for an app no worker serves you answered {dead}, expected {want_dead}",
            hint='report "no active workers" under "celery_worker"',
        )
    if waited > SHORT_TIMEOUT:
        raise Fail(
            f"with timeout={SHORT_TIMEOUT}, health waited {waited:g} s for replies",
            hint="a load balancer will not wait: app.control.inspect(timeout=timeout)",
        )
    found = f"{len(workers)} worker{'s' if len(workers) != 1 else ''}"
    return f"healthy with {found}, unhealthy within {SHORT_TIMEOUT} s with none"


def _shape(answer: Any, case: str) -> None:
    if not isinstance(answer, dict) or not isinstance(answer.get("checks"), dict):
        raise Fail(
            f"for {case}, health returned {kind(answer)} without a 'checks' dict",
            hint='return {"status": ..., "checks": {"broker": ..., "celery_worker": ...}}',
        )
    if answer.get("status") not in HEALTHY_WORDS:
        raise Fail(
            f"for {case}, status is {answer.get('status')!r}",
            hint='guide 004 answers "healthy" or "unhealthy"',
        )
