"""Checks of chapter 03's exercises (``solutions/03_defining_tasks_solutions.ipynb``).

In this chapter the learner *defines* tasks, in the notebook:

* 03.1 ``check("03.1", whoami)``: a bound task that returns ``{"id", "retries"}`` read
  from ``self.request``; run alone, as a second retry, as a step of a workflow (its
  ``root_id``, ``parent_id``, ``group`` and the message's ``correlation_id`` are other ids),
  alone again (an answer kept from an earlier call shows as that call's id), and last as
  the 4th retry of the first call, with its id (an answer cached per call id, or retries
  capped at ``max_retries``, show there);
* 03.2 ``check("03.2", fetch_title)``: a task that fetches a page from the simulated
  flaky site (:mod:`course_tasks.tasks.crawler`), retries on ``SiteUnavailable`` with
  ``raise self.retry(exc=exc, countdown=0.1)`` (each retry's countdown is read, and a
  ``self.retry(..., throw=False)`` not raised is seen), gives up after 5 retries in the
  site's own error (raised in ``fetch``, not a copy), counts the retries of a call that
  arrives already retried 3 times from Celery (not from a count of its own), returns the
  page's title, and fails at once on a missing page (``PageNotFound``) and on errors that
  are not the outage (``KeyError``, ``PermissionError``, ``ConnectionResetError``). Each
  check run fetches URLs of its own, so a retry that an earlier answer left queued cannot
  count against the next one;
* 03.3 ``check("03.3", word_count)``: a task that reports ``PROGRESS`` with
  ``{"current", "total"}`` after each text and returns ``{"words": n}``; run on five texts
  (double spaces, a newline, a tab, an empty text), then on three texts whose counting the
  check watches (:class:`_Texts`): the progress stored must follow the texts counted; then
  on tricky whitespace and punctuation, and last while another call runs in the same
  process (both calls' counts and progress must be their own);
* 03.4 ``check("03.4", AuditedTask)``: a ``Task`` subclass whose ``on_success``,
  ``on_retry`` and ``on_failure`` record what happened with
  :func:`course_tasks.tasks.hooks.record` (a task that returns 0 is recorded too; the
  detail of a retry or failure is the exception, not a traceback or Celery's ``Retry``;
  details of several lines and hundreds of characters are recorded whole; each retry is
  recorded by the time the next attempt starts).

A task defined in a notebook is registered in that kernel only. In embedded mode the worker
thread shares the kernel's registry, so :func:`run_task` sends the learner's task to the
worker for real. In redis (and eager) mode the worker is another process that has never
heard of it, so :func:`run_task` runs it here with ``task.apply()``: Celery's own local
execution, with real retries, custom states and handlers, but no waiting on countdowns
(a run "as a step of a workflow" then sets the request's ``root_id``, ``parent_id``,
``group`` and ``correlation_id`` when the task starts, as a parent's message would have).
Both ways collect the same evidence (final state and value, each retry and its countdown
from the ``task_retry`` signal, every custom state published to the result backend), so
a check gives the same verdict in every mode.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import count
from typing import Any

from celery import signals, states
from celery.app.task import Task
from celery.exceptions import MaxRetriesExceededError
from celery.utils import uuid

from course_tasks import settings
from course_tasks.app import app
from course_tasks.checks import Fail, exercise
from course_tasks.checks.support import error_text, quiet_trace_log
from course_tasks.store import store
from course_tasks.tasks import crawler, hooks

#: How long a check waits for one run of the learner's task on the worker.
WAIT_SECONDS = 6.0
#: The longest wait between retries a check sits through (Celery's default is 180 s): a
#: longer countdown fails at once, whatever the exercise asked for.
MAX_COUNTDOWN = 2.0
#: How far a retry's countdown may be from the one an exercise asks for (float spelling).
COUNTDOWN_TOLERANCE = 0.01

# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """What happened when a check ran the learner's task once."""

    id: str
    state: str
    value: Any
    #: The countdown (seconds) of each retry the task asked for, in order.
    retries: list[float | None] = field(default_factory=list)
    #: Every state the task published that is not one of Celery's own: (state, meta).
    custom: list[tuple[str, Any]] = field(default_factory=list)
    #: How many times SUCCESS was stored besides the result Celery stores at the end: the
    #: task stored it itself (``update_state(state="SUCCESS")``) while it was still running.
    early_success: int = 0


def on_worker() -> bool:
    """Whether learner-defined tasks can run on the worker here (embedded mode)."""
    if settings.from_env().mode != settings.EMBEDDED:
        return False
    from course_tasks import runtime

    if not runtime.is_running():
        raise Fail(
            "the embedded worker is not running",
            hint="run the set-up cell (runtime.start()) first, then this one",
        )
    return True


def as_task(obj: Any, name: str) -> Task:
    """The Celery task behind ``obj`` (unwrapping lazy proxies), or a Fail."""
    if isinstance(obj, type):
        raise Fail(
            f"{name} is a class", hint=f"define {name} as a function decorated with @app.task"
        )
    if not isinstance(obj, Task):
        if callable(obj):
            raise Fail(
                f"{name} is a plain function, not a Celery task",
                hint="decorate it with @app.task(...) (or @shared_task(...))",
            )
        raise Fail(
            f"{name} is {type(obj).__name__}, not a task", hint=f"define {name} with @app.task"
        )
    getter = getattr(obj, "_get_current_object", None)
    return getter() if getter is not None else obj


def is_bound(task: Task) -> bool:
    """Whether ``task`` was declared with ``bind=True`` (its ``run`` is a method)."""
    run = inspect.getattr_static(type(task), "run", None)
    return run is not None and not isinstance(run, staticmethod)


def _bound(obj: Any, name: str, problem: str, then: str) -> Task:
    """The task behind ``obj``, or a Fail (``problem``) if it was not declared bind=True."""
    task = as_task(obj, name)
    if not is_bound(task):
        raise Fail(problem, hint=f"declare it with @app.task(bind=True) and {then}")
    return task


def _seconds(when: Any) -> float | None:
    if isinstance(when, datetime) and when.tzinfo is None:  # read as the local time it is
        return max(0.0, (when - datetime.now()).total_seconds())
    if isinstance(when, datetime):
        now = datetime.now(when.tzinfo or timezone.utc)
        return max(0.0, (when - now).total_seconds())
    return None if when is None else float(when)


@dataclass
class _Wait:
    """The wait one retry asked for: seconds, and whether it was an eta (a moment)."""

    seconds: float
    eta: bool
    #: an eta without a time zone (``datetime.now() + ...``): no one can tell when it is
    naive: bool = False


def _retry_problem(
    waits: list[_Wait], name: str, task: Task, expected: float | None
) -> Fail | None:
    """A Fail for the first retry that waits too long, or (``expected``) not that long."""
    for wait in waits:
        if wait.naive:
            return Fail(
                f"{name} asked to be retried at a naive eta, a datetime without a time zone "
                "(datetime.now() + ...): Celery cannot know which clock it is on, and reads "
                "it as UTC or as the worker's local time",
                hint=f"pass countdown={expected if expected is not None else 0.1:g} to "
                "self.retry (an eta must be aware: datetime.now(timezone.utc) + ...)",
            )
        if expected is None:
            right = True
        elif wait.eta:  # what is left of it when the retry is sent: at most the countdown
            right = wait.seconds <= expected + COUNTDOWN_TOLERANCE
        else:
            right = abs(wait.seconds - expected) <= COUNTDOWN_TOLERANCE
        if wait.seconds <= MAX_COUNTDOWN and right:
            continue
        seconds = f"{wait.seconds:g}" if not wait.eta else f"{wait.seconds:.2f}"
        default = ""
        if not wait.eta and wait.seconds == task.default_retry_delay:
            owner = "Celery's" if wait.seconds == 180 else "the task's"
            default = f" ({owner} default_retry_delay)"
        asked = "" if expected is None else f", not {expected:g} s"
        if wait.seconds > MAX_COUNTDOWN:
            hint = "keep the waits short in the course: pass countdown=0.1 to self.retry"
        elif default and expected is not None:
            hint = (
                "without countdown= a retry waits default_retry_delay: pass "
                f"countdown={expected:g} to self.retry"
            )
        else:
            hint = f"pass countdown={expected:g} to self.retry"
        return Fail(f"{name} asked to be retried in {seconds} s{default}{asked}", hint=hint)
    return None


def _published(pubsub: Any, *, wait: float) -> list[dict[str, Any]]:
    metas = []
    while True:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
        if message is None:
            return metas
        if message.get("type") == "message":
            metas.append(json.loads(message["data"]))


class _Published(list):
    """The states not Celery's own published for a task, (state, meta); ``successes``:
    how many times SUCCESS was published."""

    successes = 0


@contextmanager
def _states_of(task_id: str, on_start: Callable[[Task], None]) -> Iterator[_Published]:
    """Meanwhile, listen to the states the result backend publishes for ``task_id``.

    The list holds, after the block, every state that is not one of Celery's own, with its
    meta, and counts the SUCCESS states published. ``on_start(task)`` runs as the task
    starts (``task_prerun``), where it runs.
    """
    custom = _Published()

    def on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task_id == wanted and task is not None:
            on_start(task)

    wanted = task_id
    signals.task_prerun.connect(on_prerun, weak=False)
    pubsub = app.backend.client.pubsub()
    try:
        pubsub.subscribe(app.backend.get_key_for_task(task_id))
        pubsub.get_message(timeout=1.0)  # the subscription is confirmed before anything runs
        yield custom
        metas = _published(pubsub, wait=0.1)
        custom.extend(
            (m["status"], m["result"]) for m in metas if m["status"] not in states.ALL_STATES
        )
        custom.successes = sum(m["status"] == states.SUCCESS for m in metas)
    finally:
        signals.task_prerun.disconnect(on_prerun)
        pubsub.close()


def run_task(
    task: Task,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    name: str,
    retries: int = 0,
    countdown: float | None = None,
    request: dict[str, str] | None = None,
    task_id: str | None = None,
) -> Run:
    """Run the learner's ``task`` once: on the worker in embedded mode, else ``apply()``.

    ``request``: ``root_id``, ``parent_id``, ``correlation_id`` and ``group`` the call
    carries (a step of a workflow), in its message on the worker, set when it starts with
    ``apply()``
    (where the ``correlation_id`` is otherwise the task's id, as in any message Celery sends).

    Raises a Fail (the same in every mode) when a retry asks for a long countdown, or for
    another one than ``countdown``, or when the task does not finish within ``WAIT_SECONDS``.

    ``task_id``: the id of the call (a new one by default); an id that ran before is run
    again as a retry of that call would be (its stored result forgotten first).
    """
    if task_id is None:
        task_id = uuid()
    else:
        app.backend.forget(task_id)
    waits: list[_Wait] = []

    def on_retry(request: Any = None, reason: Any = None, **_: Any) -> None:
        if getattr(request, "id", None) == task_id:
            when = getattr(reason, "when", None)
            seconds = _seconds(when)
            if seconds is not None:
                naive = isinstance(when, datetime) and when.tzinfo is None
                waits.append(_Wait(seconds, isinstance(when, datetime), naive))

    def on_start(started: Task) -> None:
        # with apply(), as in a message Celery sends: correlation_id is the task's id
        started.request.update({"correlation_id": task_id, **(request or {})})

    signals.task_retry.connect(on_retry, weak=False)
    stored = 0  # the SUCCESS states Celery itself stores: the result, on the worker only
    try:
        with _states_of(task_id, on_start) as custom:
            if on_worker():
                stored = 1
                state, value = _run_on_worker(
                    task, args, kwargs, task_id, retries, waits, name, countdown, request or {}
                )
            else:
                with quiet_trace_log():
                    eager = task.apply(args, kwargs, task_id=task_id, retries=retries)
                state, value = eager.state, eager.result
    finally:
        signals.task_retry.disconnect(on_retry)
    problem = _retry_problem(waits, name, task, countdown)
    if problem is not None:
        raise problem
    early = max(0, custom.successes - stored) if state == states.SUCCESS else 0
    return Run(task_id, state, value, [w.seconds for w in waits], custom, early)


def _run_on_worker(
    task: Task,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    task_id: str,
    retries: int,
    waits: list[_Wait],
    name: str,
    countdown: float | None,
    request: dict[str, str],
) -> tuple[str, Any]:
    # the message spells the group's id group_id; the request reads it as group
    options = {("group_id" if key == "group" else key): value for key, value in request.items()}
    result = task.apply_async(args, kwargs, task_id=task_id, retries=retries, **options)
    deadline = time.monotonic() + WAIT_SECONDS
    while not result.ready():
        problem = _retry_problem(waits, name, task, countdown)
        if problem is None and time.monotonic() > deadline:
            problem = Fail(
                f"{name} did not finish within {WAIT_SECONDS:g} s (state {result.state})",
                hint="does it wait or retry for long? Keep countdowns at 0.1 s",
            )
        if problem is not None:
            result.revoke()  # the retry waiting for its countdown will not run later
            raise problem
        time.sleep(0.02)
    return result.state, result.result


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _failed(run: Run, name: str, hint: str) -> Fail:
    """The Fail for a run that ended in FAILURE, with a hint for the usual causes."""
    exc = run.value
    text = str(exc)
    if isinstance(exc, NameError) and "'self'" in text:
        hint = f"declare the task with bind=True and take self as the first argument of {name}"
    elif isinstance(exc, TypeError) and "positional argument" in text:
        hint = f"check {name}'s parameters: with bind=True, self comes first"
    elif isinstance(exc, AttributeError) and "request" not in text and "object has no" in text:
        hint = "what Celery knows about the running call is in self.request (id, retries, ...)"
    return Fail(f"{name} failed ({error_text(exc)})", hint=hint)


# --------------------------------------------------------------------------- 03.1

#: The retries of the first call when the check runs it again, as a later retry of it.
LATER_RETRIES = 4


@exercise("03.1", "a bound task", points=1)
def _whoami(whoami: Any) -> str:
    task = _bound(
        whoami,
        "whoami",
        "whoami is not bound, so it cannot read self.request",
        "take self as its first argument",
    )
    first = run_task(task, name="whoami")
    value = _whoami_value(first)
    if value["id"] != first.id:
        raise Fail(
            f"whoami said its id is {value['id']!r}, but Celery ran it as {first.id}",
            hint="return the id Celery gave this call, self.request.id (not a new uuid)",
        )
    if value["retries"] != 0:
        raise Fail(
            f"on its first attempt whoami said retries={value['retries']!r}",
            hint="return self.request.retries, which is 0 on the first attempt",
        )
    third = run_task(task, name="whoami", retries=2)
    later = _whoami_value(third)
    if later["retries"] != 2:
        raise Fail(
            f"run as a second retry (self.request.retries == 2), whoami said "
            f"retries={later['retries']!r}",
            hint="return self.request.retries, not a constant",
        )
    if later["id"] != third.id:
        raise Fail("on a retry whoami reported another id", hint="return self.request.id")
    others = {"root_id": uuid(), "parent_id": uuid(), "correlation_id": uuid(), "group": uuid()}
    step = run_task(task, name="whoami", request=others)
    said = _whoami_value(step)["id"]
    if said != step.id:
        what = {
            others["root_id"]: "the id of the workflow's first task (self.request.root_id)",
            others["parent_id"]: "the id of the task that sent it (self.request.parent_id)",
            others["correlation_id"]: "the message's correlation_id, which only Celery's own "
            "messages set to the task id",
            others["group"]: "the id of the group it runs in (self.request.group)",
        }.get(said)
        if what is not None:
            raise Fail(
                f"run as a step of a workflow, whoami said its id is {what}, not its own",
                hint="return self.request.id: the id of this call, whoever sent it",
            )
        raise Fail(
            f"run as a step of a workflow, whoami said its id is {said!r}, but Celery ran it "
            f"as {step.id}",
            hint="return the id Celery gave this call, self.request.id",
        )
    # a new call with the same retry count as the one before: an answer kept between calls
    # (per process, per task name, per retry count) shows here as an earlier call's id
    again = run_task(task, name="whoami")
    value = _whoami_value(again)
    earlier = {first.id: "first", third.id: "second", step.id: "third"}
    if value["id"] in earlier:
        raise Fail(
            f"called a fourth time, whoami said its id is the {earlier[value['id']]} call's, "
            "not its own: it kept an answer from an earlier call",
            hint="read self.request.id on every call; keep nothing between calls (no global, "
            "no cache)",
        )
    if value != {"id": again.id, "retries": 0}:
        raise Fail(
            f"called a fourth time, on its first attempt, whoami said {value!r}, but Celery "
            f"ran it as {again.id} with 0 retries",
            hint="return self.request.id and self.request.retries, read on every call",
        )
    # the first call again, as its retry would come: the same id, more retries than
    # Celery's default max_retries (3)
    retry = run_task(task, name="whoami", retries=LATER_RETRIES, task_id=first.id)
    value = _whoami_value(retry)
    said = (
        f"run again as retry {LATER_RETRIES} of the first call (the same id, "
        f"self.request.retries == {LATER_RETRIES}), whoami said"
    )
    if value == {"id": first.id, "retries": 0}:
        raise Fail(
            f"{said} {value!r}: what it answered on that call's first attempt",
            hint="read self.request.id and self.request.retries on every attempt; keep "
            "nothing between attempts (no cache per call id: a retry has the same id)",
        )
    if value["retries"] != LATER_RETRIES:
        capped = " (capped at max_retries)" if value["retries"] == task.max_retries else ""
        raise Fail(
            f"{said} retries={value['retries']!r}{capped}",
            hint="return self.request.retries as it is, the number of retries so far",
        )
    if value["id"] != first.id:
        raise Fail(
            f"{said} its id is {value['id']!r}", hint="return self.request.id, the call's id"
        )
    return "its own id and retry count, read from self.request, alone and in a workflow"


def _whoami_value(run: Run) -> dict[str, Any]:
    if run.state == states.FAILURE:
        raise _failed(run, "whoami", hint="read self.request.id and self.request.retries")
    value = run.value
    if value is None:
        raise Fail("whoami returned None", hint='end it with return {"id": ..., "retries": ...}')
    if not isinstance(value, dict) or set(value) != {"id", "retries"}:
        raise Fail(
            f"whoami returned {value!r}",
            hint='return a dict with exactly the keys "id" and "retries"',
        )
    return value


# --------------------------------------------------------------------------- 03.2

#: The page exercise 03.2 fetches from the simulated site, and one it does not have.
PAGE_URL = "https://example.com/celery-course/retries"
PAGE_TITLE = "Retrying with Celery"
MISSING_URL = "https://example.com/celery-course/no-such-page"
#: A page the site serves broken, without a title: ``fetch`` raises ``KeyError('title')``.
BROKEN_URL = "https://example.com/celery-course/broken-page"
#: Short outage (the task must get through it) and long outage (it must give up).
SHORT_OUTAGE, LONG_OUTAGE = 2, 10
EXPECTED_RETRIES = 5
#: The retries a call has had already when the check sends it (its attempts ran elsewhere).
LATE_RETRIES = 3
#: The countdown exercise 03.2 asks each retry for.
FETCH_COUNTDOWN = 0.1


def _learner_globals(task: Task) -> dict[str, Any]:
    """The module namespace of the learner's task function (the notebook's, usually)."""
    fn = getattr(task, "_orig_run", None) or task.run  # autoretry_for wraps run
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    return getattr(fn, "__globals__", {})


@contextmanager
def _replaced(
    task: Task, module: Any, name: str, replacement: Callable[..., Any]
) -> Iterator[None]:
    """Meanwhile, ``module.name`` is ``replacement``, and so is every name the learner's
    task module bound to the same function (``from module import name [as other]``)."""
    original = getattr(module, name)
    spaces = [module.__dict__, _learner_globals(task)]
    saved = [
        (space, key) for space in spaces for key, value in list(space.items()) if value is original
    ]
    for space, key in saved:
        space[key] = replacement
    try:
        yield
    finally:
        for space, key in saved:
            space[key] = original


@contextmanager
def _sleeps(task: Task) -> Iterator[list[float]]:
    """Meanwhile, collect the seconds of every ``time.sleep`` the learner's task calls
    (in the thread that runs it, between ``task_prerun`` and ``task_postrun``)."""
    slept: list[float] = []
    running: set[int] = set()
    real = time.sleep

    def on_prerun(task: Any = None, **_: Any) -> None:
        if getattr(task, "name", None) == wanted:
            running.add(threading.get_ident())

    def on_postrun(task: Any = None, **_: Any) -> None:
        if getattr(task, "name", None) == wanted:
            running.discard(threading.get_ident())

    def sleep(seconds: float) -> None:
        if threading.get_ident() in running:
            slept.append(seconds)
        real(seconds)

    wanted = task.name
    signals.task_prerun.connect(on_prerun, weak=False)
    signals.task_postrun.connect(on_postrun, weak=False)
    try:
        with _replaced(task, time, "sleep", sleep):
            yield slept
    finally:
        signals.task_prerun.disconnect(on_prerun)
        signals.task_postrun.disconnect(on_postrun)


@dataclass
class _Fetched:
    """One run of fetch_title: the run, the requests the site got, the sleeps it made."""

    run: Run
    attempts: int
    slept: list[float]
    #: the URL this run fetched (each run has one of its own)
    url: str = ""
    #: the Retry objects that self.retry(..., throw=False) returned and the task never raised
    unraised: list[Any] = field(default_factory=list)
    #: whether the error the run failed with is one that ``fetch`` raised (not a copy)
    from_fetch: bool | None = None


_url_serial = count(1)
#: the number of the check run under way: its URLs carry it (see :func:`_url`)
_check_run = [0]
_MISSING = object()


def _url(base: str) -> str:
    """``base`` with a query of this check run's own: each check of 03.2 fetches other URLs
    than the checks before it, so that a retry an earlier answer left queued cannot add to
    this one's requests. (Within a run the URLs stay: a title cached per URL shows.)"""
    return f"{base}?check={_check_run[0]}"


def _site(outage: int, url: str, *, page: bool = True) -> None:
    """A fresh site: the course page at ``url`` (``page``), no recorded request, ``url``
    down for ``outage`` requests."""
    crawler.reset_site()
    if page:
        crawler.publish_page(url, PAGE_TITLE, ["https://docs.celeryq.dev/"])
    crawler.make_flaky(url, outage)


@contextmanager
def _unraised_retries(task: Task) -> Iterator[list[Any]]:
    """Meanwhile, note each Retry that ``self.retry(..., throw=False)`` returns; the list
    holds, after the block, those the task then did not raise (the attempt went on while a
    retry was queued, or none was: with ``apply()`` a retry not raised never runs)."""
    returned: list[Any] = []
    raised: list[Any] = []
    own = vars(task).get("retry", _MISSING)
    retry = task.retry

    def noted_retry(*args: Any, **kwargs: Any) -> Any:
        ret = retry(*args, **kwargs)  # raises, unless throw=False
        returned.append(ret)
        return ret

    def on_retry(reason: Any = None, **_: Any) -> None:
        raised.append(reason)

    left: list[Any] = []
    task.retry = noted_retry
    signals.task_retry.connect(on_retry, weak=False)
    try:
        yield left
    finally:
        signals.task_retry.disconnect(on_retry)
        if own is _MISSING:
            vars(task).pop("retry", None)
        else:
            task.retry = own
        left.extend(ret for ret in returned if not any(ret is r for r in raised))


#: The code of the site's own ``fetch`` (the check replaces ``crawler.fetch`` at times).
_FETCH_CODE = crawler.fetch.__code__


def _raised_in_fetch(exc: Any) -> bool:
    """Whether ``exc`` was raised inside the site's ``fetch`` (its traceback goes there)."""
    tb = getattr(exc, "__traceback__", None)
    while tb is not None:
        if tb.tb_frame.f_code is _FETCH_CODE:
            return True
        tb = tb.tb_next
    return False


def _fetch_run(
    task: Task,
    outage: int,
    base: str = PAGE_URL,
    setup: Callable[[str], None] | None = None,
    *,
    page: bool = True,
    retries: int = 0,
) -> _Fetched:
    url = _url(base)
    _site(outage, url, page=page)
    if setup is not None:
        setup(url)
    task_id = uuid()
    failed: list[bool] = []

    def on_failure(task_id: str | None = None, exception: Any = None, **_: Any) -> None:
        if task_id == wanted:
            failed.append(_raised_in_fetch(exception))

    wanted = task_id
    signals.task_failure.connect(on_failure, weak=False)
    try:
        with _sleeps(task) as slept, _unraised_retries(task) as unraised:
            run = run_task(
                task,
                (url,),
                name="fetch_title",
                countdown=FETCH_COUNTDOWN,
                retries=retries,
                task_id=task_id,
            )
    finally:
        signals.task_failure.disconnect(on_failure)
        if settings.from_env().mode == settings.EMBEDDED:
            # a retry this run left queued (sent, and not raised) is dropped when it is due
            app.control.revoke(task_id)
    return _Fetched(run, crawler.hits(url), slept, url, unraised, failed[-1] if failed else None)


def _site_error(url: str) -> crawler.SiteUnavailable:
    """The error the site's fetch raises while ``url`` is down."""
    _site(1, url)
    try:
        crawler.fetch(url)
    except crawler.SiteUnavailable as exc:
        return exc
    raise AssertionError("the simulated site did not go down")  # pragma: no cover


@exercise("03.2", "retry on an outage", points=2)
def _fetch_title(fetch_title: Any) -> str:
    task = as_task(fetch_title, "fetch_title")
    if not is_bound(task) and not getattr(task, "autoretry_for", ()):
        # autoretry_for (Celery retrying by itself) needs no self; fetch_title.retry(...) on
        # the module-level task does: the exercise asks for a bound task and self.retry
        raise Fail(
            "fetch_title is not bound: the exercise asks for a bound task that retries "
            "through self.retry",
            hint="declare it with @app.task(bind=True, max_retries=5), take self as its first "
            "argument and raise self.retry(exc=exc, countdown=0.1)",
        )
    _check_run[0] = next(_url_serial)
    try:
        return _check_fetch_title(task)
    finally:
        crawler.reset_site()


def _attempt_problem(done: _Fetched) -> Fail | None:
    """A Fail if the task fetched other than once per attempt, kept an earlier title, or
    slept."""
    run, attempts = done.run, done.attempts
    if done.unraised:
        ended = (
            f"failed with {error_text(run.value)}"
            if run.state == states.FAILURE
            else f"returned {run.value!r} ({run.state})"
        )
        return Fail(
            f"fetch_title called self.retry(..., throw=False) and carried on: the attempt "
            f"{ended} while the retry it asked for was still to come",
            hint="raise the retry: raise self.retry(exc=exc, countdown=0.1) ends the attempt "
            "there, and Celery runs the task again",
        )
    if not run.retries and attempts > 1:
        return Fail(
            f"fetch_title fetched the page {attempts} times in one run, without Celery "
            "retrying the task (no retry was sent)",
            hint="don't loop or sleep inside the task: raise self.retry(exc=exc, countdown=0.1), "
            "so that Celery runs it again and the worker is free meanwhile",
        )
    if attempts == 0 and run.state == states.SUCCESS:
        return Fail(
            f"fetch_title returned {run.value!r} without asking the site (no request reached "
            "it): it answered with a title kept from an earlier call",
            hint="call fetch(url) on every call: the site may be down, or the page changed, "
            "since; keep no titles between calls",
        )
    if attempts > len(run.retries) + 1:
        return Fail(
            f"fetch_title requested the page {attempts} times in "
            f"{_count(len(run.retries) + 1, 'attempt', 'attempts')}: it fetched it more than "
            "once in an attempt",
            hint="call fetch(url) once per attempt and take the title from the page it returned",
        )
    if done.slept:
        return Fail(
            f"fetch_title called time.sleep({done.slept[0]:g}) while it ran: a sleeping task "
            "holds its worker (the whole worker, on a solo pool), and the retry's countdown "
            "already waits",
            hint="don't sleep in the task: raise self.retry(exc=exc, countdown=0.1) at once and "
            "let the countdown do the waiting",
        )
    return None


def _outcome(run: Run) -> str:
    """What a run of fetch_title ended in, in words."""
    retried = _count(len(run.retries), "retry", "retries")
    if run.state == states.FAILURE:
        return f"failed after {retried}, with {error_text(run.value)}"
    return f"returned {run.value!r} ({run.state}) after {retried}"


def _check_fetch_title(task: Task) -> str:
    done = _fetch_run(task, SHORT_OUTAGE)
    run, attempts = done.run, done.attempts
    problem = _attempt_problem(done)
    if problem is not None:
        raise problem
    if not run.retries:
        if run.state == states.FAILURE and isinstance(run.value, crawler.SiteUnavailable):
            raise Fail(
                "fetch_title failed on the first outage, without retrying",
                hint="catch SiteUnavailable and raise self.retry(exc=exc, countdown=0.1) "
                "in the except block",
            )
        if run.state == states.SUCCESS and attempts <= 1 and run.value != PAGE_TITLE:
            raise Fail(
                f"fetch_title returned {run.value!r} after its first attempt failed: "
                "the error was swallowed and nothing was retried",
                hint="don't return from the except block; raise self.retry(exc=exc, "
                "countdown=0.1) so that Celery runs the task again",
            )
    if run.state == states.FAILURE:
        if isinstance(run.value, crawler.SiteUnavailable | MaxRetriesExceededError):
            raise Fail(
                f"with the site down for {SHORT_OUTAGE} requests, fetch_title gave up after "
                f"{_count(len(run.retries), 'retry', 'retries')}",
                hint=f"let it retry up to {EXPECTED_RETRIES} times: max_retries={EXPECTED_RETRIES}",
            )
        raise _failed(
            run, "fetch_title", hint="fetch the page with fetch(url) and return its title"
        )
    if run.value != PAGE_TITLE:
        if isinstance(run.value, dict) and run.value.get("title") == PAGE_TITLE:
            raise Fail("fetch_title returned the whole page", hint='return only page["title"]')
        raise Fail(
            f"fetch_title returned {run.value!r}, not the page's title",
            hint='return fetch(url)["title"]',
        )
    short = f"SUCCESS after {attempts} attempts"

    done = _fetch_run(task, LONG_OUTAGE)
    run, attempts = done.run, done.attempts
    site_error = _site_error(done.url)
    problem = _attempt_problem(done)
    if problem is not None:
        raise problem
    if run.state == states.SUCCESS:
        if run.value == PAGE_TITLE:
            raise Fail(
                f"with the site down for {LONG_OUTAGE} requests, fetch_title retried "
                f"{len(run.retries)} times and never gave up",
                hint=f"limit the retries: max_retries={EXPECTED_RETRIES}",
            )
        raise Fail(
            f"with the site down for {LONG_OUTAGE} requests, fetch_title retried "
            f"{len(run.retries)} times, then returned {run.value!r} (SUCCESS) instead of "
            "failing: the outage was hidden",
            hint="don't return when the retries run out: raise self.retry(exc=exc, "
            "countdown=0.1) every time; once max_retries is reached it raises exc itself",
        )
    if isinstance(run.value, MaxRetriesExceededError):
        raise Fail(
            "when the retries ran out, the task failed with MaxRetriesExceededError, which "
            "hides what went wrong",
            hint="pass the error on: raise self.retry(exc=exc, countdown=0.1)",
        )
    if not isinstance(run.value, crawler.SiteUnavailable):
        raise _failed(run, "fetch_title", hint="retry only on SiteUnavailable")
    if len(run.retries) == 3 and task.max_retries == 3:
        raise Fail(
            "with a long outage fetch_title gave up after 3 retries: Celery's default max_retries",
            hint=f"set max_retries={EXPECTED_RETRIES} in the decorator",
        )
    if len(run.retries) != EXPECTED_RETRIES:
        raise Fail(
            f"with a long outage fetch_title gave up after "
            f"{_count(len(run.retries), 'retry', 'retries')}, "
            f"not {EXPECTED_RETRIES}",
            hint=f"max_retries={EXPECTED_RETRIES}",
        )
    if str(run.value) != str(site_error):
        raise Fail(
            f"when the retries ran out, fetch_title failed with {error_text(run.value)}, not "
            f"with the error the site raised ({error_text(site_error)}): the site's own error "
            "and its message were replaced",
            hint="pass on the error you caught: raise self.retry(exc=exc, countdown=0.1)",
        )
    if done.from_fetch is False:
        raise Fail(
            f"when the retries ran out, fetch_title failed with a new {error_text(run.value)}, "
            "a copy of the one fetch raised: the task did not end in the site's own error "
            "(its traceback, from inside fetch, was lost)",
            hint="pass on the error you caught, exc itself: raise self.retry(exc=exc, "
            "countdown=0.1)",
        )
    long = f"gave up after {attempts} with SiteUnavailable"

    # the same short outage, right after a call that gave up: each call has its own retries
    done = _fetch_run(task, SHORT_OUTAGE)
    run = done.run
    problem = _attempt_problem(done)
    if problem is not None:
        raise problem
    if run.state != states.SUCCESS or run.value != PAGE_TITLE or len(run.retries) != SHORT_OUTAGE:
        raise Fail(
            f"right after a call that gave up, a new fetch_title with the site down for "
            f"{SHORT_OUTAGE} requests {_outcome(run)}, where the first call came through after "
            f"{SHORT_OUTAGE}: something carried over from the earlier call",
            hint="let Celery count each call's retries: max_retries=5 with raise "
            "self.retry(exc=exc, countdown=0.1); a counter in a global is shared by every call "
            "in the worker process",
        )

    # a call whose earlier attempts ran elsewhere (another pool process, another worker):
    # it arrives already retried 3 times, and may be retried 2 more times, not 5
    done = _fetch_run(task, LONG_OUTAGE, retries=LATE_RETRIES)
    run = done.run
    problem = _attempt_problem(done)
    if problem is not None:
        raise problem
    more = EXPECTED_RETRIES - LATE_RETRIES
    if len(run.retries) != more or not isinstance(run.value, crawler.SiteUnavailable):
        raise Fail(
            f"run as a call already retried {LATE_RETRIES} times (self.request.retries == "
            f"{LATE_RETRIES}: its earlier attempts ran in another worker process), with the "
            f"site down, fetch_title {_outcome(run)}, where max_retries=5 allows {more} more",
            hint="let Celery count the retries: max_retries=5 with raise self.retry(exc=exc, "
            "countdown=0.1); a count of your own (a global, a dict per call id) starts at 0 "
            "in every worker process",
        )

    done = _fetch_run(task, 0, MISSING_URL, page=False)
    run, attempts = done.run, done.attempts
    if run.retries:
        raise Fail(
            f"for a page that does not exist (PageNotFound, a 404) fetch_title retried "
            f"{_count(len(run.retries), 'time', 'times')}: retrying will not make it appear",
            hint="catch only SiteUnavailable (except SiteUnavailable as exc:), so that any "
            "other error fails at once",
        )
    if attempts > 1:
        raise Fail(
            f"for a page that does not exist (PageNotFound, a 404) fetch_title fetched it "
            f"{attempts} times",
            hint="catch only SiteUnavailable, so that any other error fails at once",
        )
    if run.state == states.SUCCESS:
        raise Fail(
            f"for a page that does not exist, fetch_title returned {run.value!r} (SUCCESS): "
            "the PageNotFound was swallowed",
            hint="catch only SiteUnavailable; let PageNotFound fail the task",
        )
    if not isinstance(run.value, crawler.PageNotFound):
        raise _failed(run, "fetch_title", hint="let PageNotFound fail the task as it is")

    _not_outages(task)
    return f"{short}; {long}; a missing page and other errors failed at once"


def _broken_page(url: str) -> None:
    """The site serves ``url`` without a title: ``fetch`` raises ``KeyError('title')``."""
    store().hset(crawler.PAGES_KEY, url, json.dumps({"links": []}))


#: Errors ``fetch`` raises in the check that are not the site's outage: an OSError of this
#: machine, and a ConnectionError that is not a SiteUnavailable (``except ConnectionError``
#: retries it).
NOT_OUTAGES = (
    (
        PermissionError,
        (13, "Permission denied", "/var/cache/crawler"),
        "when fetch raised PermissionError (an OSError of this machine, not an outage)",
    ),
    (
        ConnectionResetError,
        (104, "Connection reset by peer"),
        "when fetch raised ConnectionResetError (a ConnectionError, like SiteUnavailable, but "
        "not the site's outage)",
    ),
)


def _failing_fetch(
    error: type[Exception], args: tuple[Any, ...], requests: list[str]
) -> Callable[..., dict[str, Any]]:
    """A ``fetch`` that notes each URL it is asked for and raises ``error(*args)``."""

    def failing_fetch(url: str, *_: Any, **__: Any) -> dict[str, Any]:
        requests.append(url)
        raise error(*args)

    return failing_fetch


def _not_outages(task: Task) -> None:
    """Errors that are not an outage must fail the task at once, as they are: a page with
    no title (``fetch`` raises KeyError), an OSError of this machine (PermissionError), and
    a ConnectionError that is not a SiteUnavailable (ConnectionResetError)."""
    done = _fetch_run(task, 0, BROKEN_URL, setup=_broken_page)
    _not_outage_problem(
        done, KeyError, "for a page the site serves without a title (fetch raised KeyError)"
    )

    for error, args, what in NOT_OUTAGES:
        requests: list[str] = []
        with _replaced(task, crawler, "fetch", _failing_fetch(error, args, requests)):
            done = _fetch_run(task, 0)
        if not requests:
            return  # the task reached fetch some other way: the check cannot judge this
        done.attempts = len(requests)
        _not_outage_problem(done, error, what)


def _not_outage_problem(done: _Fetched, error: type[Exception], what: str) -> None:
    """Fail unless the run failed at once with ``error``, without a retry."""
    run = done.run
    only = "catch only SiteUnavailable (except SiteUnavailable as exc:), so that any other "
    if run.retries:
        raise Fail(
            f"{what} fetch_title retried {_count(len(run.retries), 'time', 'times')}: that "
            "is not an outage, and no retry will cure it",
            hint=only + "error fails at once",
        )
    if done.attempts > 1:
        raise Fail(
            f"{what} fetch_title fetched the page {done.attempts} times",
            hint=only + "error fails at once",
        )
    if run.state == states.SUCCESS:
        raise Fail(
            f"{what} fetch_title returned {run.value!r} (SUCCESS): the error was swallowed",
            hint=only + "error fails the task",
        )
    if not isinstance(run.value, error):
        raise _failed(run, "fetch_title", hint=f"let the {error.__name__} fail the task as it is")


# --------------------------------------------------------------------------- 03.3

#: Five texts: a double space, a newline, a tab, a trailing space and an empty text.
TEXTS = ["Celery runs  tasks", "", "Redis keeps\nthe messages", "workers\tdo the work ", "done"]
#: Three texts whose counting the check watches (see :class:`_Texts`); with punctuation:
#: "don't", "e-mail" and "3.5" are one word each for len(text.split()).
WATCHED = ["don't e-mail", "three", "3.5 five six."]


#: Three more texts: a repeated word, whitespace other than space, tab and newline (a
#: carriage return, a non-breaking space, an em space, a vertical tab), and tokens made of
#: punctuation only; each is a word (or a separator) for len(text.split()).
TRICKY = [
    "the cat saw the dog, and the dog saw the cat",
    "one\rtwo\xa0three\u2003four\x0bfive",
    "a so-called fix - then ... nothing !",
]
#: Counted by another word_count that runs while the watched one is counting (see
#: :func:`_interleaved_run`).
OTHER = ["another task", "counting its own words"]


def _words(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


class _Text(str):
    """A text that notes, the first time the task reads it, what progress was stored then."""

    def __new__(cls, text: str, position: int, texts: _Texts) -> _Text:
        made = super().__new__(cls, text)
        made._position, made._texts = position, texts
        return made

    def _read(self) -> None:
        self._texts.reached(self._position, "touched")


def _noting(method: str) -> Any:
    def noted(self: _Text, *args: Any, **kwargs: Any) -> Any:
        self._read()
        return getattr(str, method)(self, *args, **kwargs)

    noted.__name__ = method
    return noted


#: The str methods through which :class:`_Text` sees the task read it.
_READS = "split rsplit splitlines strip lstrip rstrip lower upper casefold replace count find"
for _method in [*_READS.split(), "__iter__", "__len__", "__contains__"]:
    setattr(_Text, _method, _noting(_method))


class _Texts(list):
    """The texts of a watched run of word_count, run here with ``apply()``.

    When the task first reads text k (calls ``split()`` or another str method on it), or
    else when it takes text k from the list, the progress stored for the task must already
    count the k - 1 texts before it: updates that follow the work, not a burst at the end.
    """

    def __init__(self, texts: list[str]) -> None:
        super().__init__(_Text(text, k, self) for k, text in enumerate(texts, start=1))
        #: the same texts as plain strs, for the request the result backend stores
        self.plain = list(texts)
        self.task_id = ""
        #: (position, progress stored then) per first touch / first take of a text.
        self.touched: dict[int, int | None] = {}
        self.taken: dict[int, int | None] = {}
        #: called with a text's position the first time the task takes or reads it
        self.on_reach: Callable[[int], None] | None = None

    def reached(self, position: int, how: str) -> None:
        seen = self.touched if how == "touched" else self.taken
        if position not in seen:
            seen[position] = self._stored()
            if self.on_reach is not None:
                self.on_reach(position)

    def _stored(self) -> int | None:
        meta = app.backend.get_task_meta(self.task_id, cache=False)
        result = meta.get("result")
        if meta.get("status") == "PROGRESS" and isinstance(result, dict):
            current = result.get("current")
            return current if isinstance(current, int) else None
        return None

    def __iter__(self) -> Any:
        for k in range(len(self)):
            yield self[k]

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        if isinstance(item, _Text):
            self.reached(item._position, "taken")
        return item

    def late(self) -> tuple[int, int | None] | None:
        """The first text read before the progress counted the texts before it."""
        seen = self.touched or self.taken
        for position in sorted(seen):
            stored = seen[position]
            if position > 1 and (stored is None or stored < position - 1):
                return position, stored
        return None

    def early(self) -> tuple[int, int] | None:
        """The first text the task read when the progress already counted it (or more)."""
        for position in sorted(self.touched):
            stored = self.touched[position]
            if stored is not None and stored >= position:
                return position, stored
        return None


def _progress_problem(run: Run, texts: list[str]) -> Fail | None:
    """A Fail if the PROGRESS updates of ``run`` on ``texts`` are not 1..n of n."""
    total = len(texts)
    if not run.custom:
        return Fail(
            "word_count never reported any progress",
            hint='call self.update_state(state="PROGRESS", meta={"current": i, "total": n}) '
            "after each text",
        )
    names = sorted({state for state, _ in run.custom})
    if names != ["PROGRESS"]:
        return Fail(
            f"word_count reported the state {names[0]!r}",
            hint='use exactly state="PROGRESS", the name guide 000 and status endpoints look for',
        )
    metas = [meta for _, meta in run.custom]
    bad = next(
        (m for m in metas if not (isinstance(m, dict) and {"current", "total"} <= set(m))), None
    )
    if bad is not None:
        return Fail(
            f"a progress update carried meta={bad!r}",
            hint='pass meta={"current": i, "total": len(texts)}',
        )
    currents = [m["current"] for m in metas]
    totals = {m["total"] for m in metas}
    if totals != {total}:
        return Fail(
            f"for {total} texts the progress said total={sorted(totals, key=str)[0]!r}",
            hint="total is the number of texts, len(texts)",
        )
    if currents == list(range(total)):
        return Fail(
            f"progress went from 0/{total} to {total - 1}/{total}, never {total}/{total}",
            hint="count from 1: for i, text in enumerate(texts, start=1)",
        )
    skipped = [k for k in range(1, total + 1) if k not in currents]
    empty = [k for k in skipped if not texts[k - 1].strip()]
    if skipped and empty == skipped and len(metas) == total - len(skipped):
        return Fail(
            f"progress went {', '.join(map(str, currents))} (of {total}): the empty text "
            f"{empty[0]} got no update",
            hint="an empty text is a text too: report progress after every text, even one "
            "with no words",
        )
    if len(metas) != total:
        return Fail(
            f"word_count reported progress {_count(len(metas), 'time', 'times')} for {total} texts",
            hint="update the state once per text, inside the loop",
        )
    if currents != list(range(1, total + 1)):
        return Fail(
            f"progress went {', '.join(map(str, currents))} (of {total})",
            hint="report current=1 after the first text, 2 after the second, ...",
        )
    return None


def _value_problem(run: Run, texts: list[str], *, shown: bool = False) -> Fail | None:
    words = _words(texts)
    if run.value == {"words": words}:
        return None
    hint = 'return {"words": n}, the total over all texts'
    if run.value is None:
        hint = 'end it with return {"words": n}'
    elif run.value == {"words": sum(len(set(text.split())) for text in texts)}:
        hint = (
            "that counts each different word once: a word that comes twice is two words, "
            "len(text.split()) (no set)"
        )
    elif run.value == {"words": sum(len(_split_three(text)) for text in texts)}:
        hint = (
            "count with len(text.split()), no argument: it splits on every kind of whitespace "
            "(a carriage return \\r, a non-breaking space \\xa0, ...), not only spaces, tabs and "
            "newlines"
        )
    elif run.value == {"words": sum(len(_worded(text)) for text in texts)}:
        hint = (
            'a piece made of punctuation only ("-", "...") is a word for len(text.split()) '
            "too: count every piece it gives"
        )
    elif run.value == {"words": sum(len(text.encode().split()) for text in texts)}:
        hint = (
            "count with len(text.split()) on the text itself: str.split() separates words at "
            "every kind of whitespace, a non-breaking space \\xa0 or an em space \\u2003 too; "
            "split on ASCII whitespace only (bytes.split(), string.whitespace) joins them"
        )
    elif run.value == {"words": sum(len(text) for text in texts)}:
        hint = "that is the number of characters: count the words, len(text.split())"
    elif run.value == {"words": sum(len(re.findall(r"\w+", text)) for text in texts)}:
        hint = (
            "count with len(text.split()): a regex of word characters (\\w+) cuts "
            '"don\'t", "e-mail" and "3.5" in two'
        )
    elif run.value == {"words": sum(len([w for w in t.split(" ") if w]) for t in texts)}:
        hint = (
            'count with len(text.split()), no argument: split(" ") keeps a tab or a newline '
            "inside a word, even with the empty pieces dropped"
        )
    elif run.value == {"words": sum(len(text.split(" ")) for text in texts)}:
        hint = (
            'count with len(text.split()), no argument: split(" ") finds a word between two '
            "spaces, keeps a tab or a newline inside a word, and counts an empty text as one "
            "word"
        )
    on = f"on the texts {texts!r} " if shown else ""
    return Fail(f"{on}word_count returned {run.value!r}, not {{'words': {words}}}", hint=hint)


def _split_three(text: str) -> list[str]:
    """``text`` split on spaces, tabs and newlines only."""
    return [piece for piece in re.split(r"[ \t\n]+", text) if piece]


def _worded(text: str) -> list[str]:
    """The pieces of ``text.split()`` with a letter or a digit in them."""
    return [piece for piece in text.split() if any(c.isalnum() for c in piece)]


def _early_success(run: Run) -> Fail | None:
    if not run.early_success:
        return None
    return Fail(
        "word_count stored the state SUCCESS itself, while it was still running: a client "
        "polling it saw SUCCESS before the task had finished",
        hint='only report PROGRESS; return {"words": n} and Celery stores SUCCESS with it '
        "when the task has really finished",
    )


@exercise("03.3", "report progress", points=2)
def _word_count(word_count: Any) -> str:
    task = _bound(
        word_count,
        "word_count",
        "word_count is not bound: the exercise asks for a bound task",
        "call self.update_state(...)",
    )
    # a step of a workflow: its root_id and parent_id are other tasks' ids
    workflow = {"root_id": uuid(), "parent_id": uuid()}
    run = run_task(task, (TEXTS,), name="word_count", request=workflow)
    if run.state == states.FAILURE:
        raise _failed(run, "word_count", hint="count the words of each text with len(text.split())")
    problem = (
        _elsewhere_problem(run, workflow)
        or _progress_problem(run, TEXTS)
        or _value_problem(run, TEXTS)
        or _early_success(run)
    )
    if problem is not None:
        raise problem

    texts = _Texts(WATCHED)
    run = _watched_run(task, texts)
    if run.state == states.FAILURE:
        raise _failed(run, "word_count", hint="count the words of each text with len(text.split())")
    problem = _progress_problem(run, WATCHED) or _value_problem(run, WATCHED) or _early_success(run)
    if problem is not None:
        raise problem
    early = texts.early()
    if early is not None:
        position, stored = early
        raise Fail(
            f"when word_count started reading text {position} of {len(WATCHED)}, its "
            f"progress already said {stored}/{len(WATCHED)}: it reported the text before "
            "counting it",
            hint="report after each text: first count it (words += len(text.split())), "
            "then call self.update_state(...)",
        )
    late = texts.late()
    if late is not None:
        position, stored = late
        said = "nothing yet" if stored is None else f"{stored}/{len(WATCHED)}"
        raise Fail(
            f"when word_count started on text {position} of {len(WATCHED)}, its progress "
            f"still said {said}: the updates did not follow the work",
            hint="call self.update_state(...) inside the loop, right after counting each "
            "text, not all at the end",
        )

    run = run_task(task, (TRICKY,), name="word_count")
    if run.state == states.FAILURE:
        raise _failed(run, "word_count", hint="count the words of each text with len(text.split())")
    problem = _progress_problem(run, TRICKY) or _value_problem(run, TRICKY, shown=True)
    if problem is not None:
        raise problem

    run, other = _interleaved_run(task)
    if run.state == states.FAILURE:
        raise _failed(run, "word_count", hint="count the words of each text with len(text.split())")
    if other.state == states.FAILURE:
        raise _failed(
            other, "word_count", hint="count the words of each text with len(text.split())"
        )
    mixed = [
        (r, texts)
        for r, texts in ((run, WATCHED), (other, OTHER))
        if r.value != {"words": _words(texts)}
    ]
    if mixed:
        wrong, texts = mixed[0]
        which = "the first" if wrong is run else "the second"
        raise Fail(
            f"while word_count was counting {len(WATCHED)} texts, another word_count ran in "
            f"the same worker process (as on a threads pool), and {which} returned "
            f"{wrong.value!r}, not {{'words': {_words(texts)}}}: the two calls shared their count",
            hint="keep the count in a variable of the call itself (words = 0 inside the task), "
            "not in a global or on self: every call of a task in a process shares those",
        )
    for r, texts in ((run, WATCHED), (other, OTHER)):
        progress = [(m.get("current"), m.get("total")) for _, m in r.custom if isinstance(m, dict)]
        want = [(i, len(texts)) for i in range(1, len(texts) + 1)]
        if progress != want:
            which = "the first" if r is run else "the second"
            shown = ", ".join(f"{c}/{t}" for c, t in progress) or "nothing"
            raise Fail(
                f"while word_count was counting {len(WATCHED)} texts, another word_count ran "
                f"on {len(OTHER)} texts in the same worker process (as on a threads pool), and "
                f"the progress of {which} went {shown}, not "
                f"{', '.join(f'{c}/{t}' for c, t in want)}: the two calls shared their progress",
                hint="keep i and the total in variables of the call itself (for i, text in "
                "enumerate(texts, start=1), total = len(texts)), not in a global or on self: "
                "every call of a task in a process shares those",
            )
    total = len(TEXTS)
    return (
        f"{total} PROGRESS updates, 1/{total} to {total}/{total}, then "
        f"{{'words': {_words(TEXTS)}}}; each update came as its text was counted"
    )


def _elsewhere_problem(run: Run, workflow: dict[str, str]) -> Fail | None:
    """A Fail if the run stored its progress under its workflow's root or parent id."""
    if run.custom:
        return None
    whose = {
        "root_id": "the id of the workflow's first task (self.request.root_id)",
        "parent_id": "the id of the task that sent it (self.request.parent_id)",
    }
    for key, what in whose.items():
        meta = app.backend.get_task_meta(workflow[key], cache=False)
        if meta.get("status") not in states.ALL_STATES | {states.PENDING}:
            return Fail(
                f"run as a step of a workflow, word_count stored its progress under {what}, "
                "not its own: a client polling this task saw none",
                hint="call self.update_state(state=..., meta=...) without task_id: it stores "
                "the state under the id of the task that is running",
            )
    return None


def _interleaved_run(task: Task) -> tuple[Run, Run]:
    """Run ``task`` here on WATCHED; when it starts on text 2, another call of it runs to
    its end on OTHER, in the same process (as two calls on a threads pool, or a task that
    calls another): the first call's count must not notice."""
    texts = _Texts(WATCHED)
    others: list[Run] = []

    def meanwhile(position: int) -> None:
        if position == 2 and not others:
            other_id = uuid()
            with _states_of(other_id, lambda _: None) as custom, quiet_trace_log():
                eager = task.apply((list(OTHER),), task_id=other_id)
            others.append(Run(other_id, eager.state, eager.result, [], custom))

    texts.on_reach = meanwhile
    run = _watched_run(task, texts)
    if not others:  # the task never read its texts one by one: run the other one after
        meanwhile(2)
    return run, others[0]


def _watched_run(task: Task, texts: _Texts) -> Run:
    """Run ``task`` here on ``texts``, which learn the task's id before it starts."""
    texts.task_id = uuid()

    def on_start(started: Task) -> None:
        # the backend stores the request's args with each state (result_extended): plain
        # texts there, so that only the task itself reads the watched ones
        started.request.args = [texts.plain]

    with _states_of(texts.task_id, on_start) as custom, quiet_trace_log():
        eager = task.apply((texts,), task_id=texts.task_id)
    early = custom.successes if eager.state == states.SUCCESS else 0  # apply() stores none
    return Run(texts.task_id, eager.state, eager.result, [], custom, early)


# --------------------------------------------------------------------------- 03.4

HANDLERS = {
    "on_success": ("retval", "task_id", "args", "kwargs"),
    "on_retry": ("exc", "task_id", "args", "kwargs", "einfo"),
    "on_failure": ("exc", "task_id", "args", "kwargs", "einfo"),
}
_serial = count(1)


#: The errors the probes raise: (exception class, args), made afresh for each run.
OUTAGE = (ConnectionError, ("temporary outage",))
BROKEN = (ValueError, ("broken on purpose",))
#: A task retried twice, each time for another reason, then failing for good: errors with
#: a message longer than a few words, with two arguments, and a KeyError (whose str() is
#: the key in quotes).
REFUSED = (ConnectionRefusedError, (111, "Connection refused by mail.example.com"))
SLOW = (TimeoutError, ("mail.example.com did not answer within 5 seconds",))
NO_KEY = (KeyError, ("recipient",))
#: Details longer than a few hundred characters, over several lines: a handler that keeps
#: only the start or the first line of a detail records a part of it.
FULL_QUEUE = (
    RuntimeError,
    (
        "the mail queue is full:\n"
        + "\n".join(f"  message {i} to user{i}@mail.example.com is waiting" for i in range(1, 9)),
    ),
)
REPORT = "sent 8 messages:\n" + "\n".join(
    f"  user{i}@mail.example.com: delivered in {i * 40} ms" for i in range(1, 9)
)
BOUNCED = (
    ValueError,
    (
        "3 addresses bounced:\n"
        + "\n".join(f"  user{i}@mail.example.com: 550 mailbox unavailable" for i in (2, 5, 7)),
    ),
)
#: How long a probe's last attempt waits for the retries before it to be recorded (they
#: are, a moment after each attempt that asked for a retry, by then).
RECORDED_WAIT = 2.0
#: per task id: the events recorded for it when its last attempt started
_before_last: dict[str, list[str]] = {}


def _note_retries(task: Any, retries: int) -> None:
    """On a probe's last attempt: note which of the ``retries`` before it are recorded."""
    got = hooks.events(task.request.id, at_least=retries, timeout=RECORDED_WAIT)
    _before_last[task.request.id] = [e["event"] for e in got]


def _error(made: tuple[type[Exception], tuple[Any, ...]]) -> Exception:
    cls, args = made
    return cls(*args)


def _probe_tasks(base: type[Task]) -> dict[str, Task]:
    """Five tasks on the learner's base class: one retries once then returns 'ok', one
    fails, one returns 0 and one None (a handler that skips falsy values or None has
    recorded 'ok' by then), and one retried twice that then fails.
    """
    n = next(_serial)

    def succeeds(self: Any) -> int:
        return 0  # a falsy value is a value too

    def returns_none(self: Any) -> None:
        return None  # a task with nothing to return has succeeded too

    def retries_once(self: Any) -> str:
        if self.request.retries == 0:
            raise self.retry(exc=_error(OUTAGE), countdown=0.05)
        _note_retries(self, 1)
        return "ok"

    def fails(self: Any) -> None:
        raise _error(BROKEN)

    def retries_twice_then_fails(self: Any) -> None:
        if self.request.retries < 2:
            raise self.retry(exc=_error((REFUSED, SLOW)[self.request.retries]), countdown=0.05)
        _note_retries(self, 2)
        raise _error(NO_KEY)

    def retries_then_reports(self: Any) -> str:
        if self.request.retries == 0:
            raise self.retry(exc=_error(FULL_QUEUE), countdown=0.05)
        _note_retries(self, 1)
        return REPORT

    def fails_at_length(self: Any) -> None:
        raise _error(BOUNCED)

    made = {}
    probes = (
        retries_once,
        fails,
        succeeds,
        returns_none,
        retries_twice_then_fails,
        retries_then_reports,
        fails_at_length,
    )
    for fn in probes:
        made[fn.__name__] = app.task(
            fn,
            base=base,
            bind=True,
            max_retries=2,
            name=f"course_tasks.checks.ch03.{fn.__name__}.{n}",
        )
    return made


def _handler_problem(cls: type[Task], handler: str) -> Fail | None:
    own = getattr(cls, handler, None)
    if own is None or own is getattr(Task, handler):
        return Fail(
            f"AuditedTask does not define {handler}",
            hint=f"add def {handler}(self, {', '.join(HANDLERS[handler])}) to the class",
        )
    try:
        inspect.signature(own).bind(None, *HANDLERS[handler])
    except (TypeError, ValueError):
        return Fail(
            f"Celery calls {handler} with {len(HANDLERS[handler])} arguments, and yours "
            "does not accept them",
            hint=f"def {handler}(self, {', '.join(HANDLERS[handler])})",
        )
    return None


@exercise("03.4", "a task class with handlers", points=2)
def _audited(cls: Any) -> str:
    if isinstance(cls, Task):
        raise Fail(
            "AuditedTask is a task object, not the class",
            hint="pass the class itself, the one defined with class AuditedTask(Task): ...",
        )
    if not isinstance(cls, type):
        raise Fail(
            f"AuditedTask is {type(cls).__name__}, not a class", hint="class AuditedTask(Task): ..."
        )
    if not issubclass(cls, Task):
        raise Fail(
            "AuditedTask is a class, but not a subclass of celery.Task",
            hint="class AuditedTask(Task): ... (from celery import Task)",
        )
    for handler in HANDLERS:
        problem = _handler_problem(cls, handler)
        if problem is not None:
            raise problem
    hooks.clear_events()
    probes = _probe_tasks(cls)
    #: per probe: the probe in words, and its events in order, each with its detail (the
    #: value returned, or the exception raised)
    expected: dict[str, tuple[str, list[tuple[str, Any]]]] = {
        "succeeds": ("a task that returned 0", [("success", "0")]),
        "returns_none": ("a task that returned None", [("success", "None")]),
        "retries_once": (
            "a task that was retried once, then returned 'ok'",
            [("retry", _error(OUTAGE)), ("success", "ok")],
        ),
        "fails": ("a task that raised ValueError", [("failure", _error(BROKEN))]),
        "retries_twice_then_fails": (
            "a task that was retried twice (ConnectionRefusedError, then TimeoutError), then "
            "raised KeyError",
            [("retry", _error(REFUSED)), ("retry", _error(SLOW)), ("failure", _error(NO_KEY))],
        ),
        "retries_then_reports": (
            "a task that was retried once (a RuntimeError with a message of 9 lines), then "
            "returned a report of 9 lines",
            [("retry", _error(FULL_QUEUE)), ("success", REPORT)],
        ),
        "fails_at_length": (
            "a task that raised ValueError with a message of 4 lines",
            [("failure", _error(BOUNCED))],
        ),
    }
    done: set[str] = set()
    for key, task in probes.items():
        run = run_task(task, name="a task on AuditedTask")
        what, events = expected[key]
        want = [event for event, _ in events]
        got = hooks.events(run.id, at_least=len(want), timeout=1.0)
        names = [e["event"] for e in got]
        done.add(run.id)
        stray = [e for e in hooks.events(timeout=0) if e["task_id"] not in done]
        if names != want and stray:
            raise Fail(
                f"for {what} something was recorded, but not under the task's id",
                hint="pass the handler's task_id argument as the first argument of record()",
            )
        if key in ("succeeds", "returns_none") and not names:
            raise Fail(
                f"for {what} AuditedTask recorded nothing, though it recorded the success "
                "of a task that returned 'ok'",
                hint="record every success, whatever the value: 0, None or [] are results too "
                "(no if retval:)",
            )
        if names != want:
            raise _events_problem(what, want, names)
        for event, (_, detail) in zip(got, events, strict=True):
            problem = _detail_problem(event, detail, what)
            if problem is not None:
                raise problem
        before = _before_last.pop(run.id, None)
        if before is not None and before.count("retry") < want.count("retry"):
            raise Fail(
                f"for {what} the retries were not recorded yet when the task's last attempt "
                f"started (recorded by then: {', '.join(before) or 'nothing'}): AuditedTask "
                "recorded them only with the final outcome",
                hint="record in on_retry itself, at once: the next attempt may run in another "
                "worker process, or never (the worker is stopped), and a retry kept in memory "
                "until then is lost",
            )
    hooks.clear_events()
    return (
        "success, retry then success, failure, and two retries then a failure were each "
        "recorded by its handler"
    )


def _events_problem(what: str, want: list[str], names: list[str]) -> Fail:
    """The Fail for a probe whose recorded events are not ``want``."""
    shown = ", ".join(names) if names else "nothing"
    others = [name for name in names if name != "retry"]
    if "failure" in want and names and names == want[:-1]:
        return Fail(
            f"for {what} AuditedTask recorded {shown}, and no failure: a task that fails "
            "after retrying has failed too",
            hint="in on_failure, record every failure, whatever happened before (no test of "
            "self.request.retries)",
        )
    retries = names.count("retry")
    if 0 < retries < want.count("retry") and others == [w for w in want if w != "retry"]:
        return Fail(
            f"for {what} AuditedTask recorded {shown}: {_count(retries, 'retry', 'retries')} "
            f"for {want.count('retry')}",
            hint="Celery calls on_retry once per retry: record each one, every time (remember "
            "nothing about what was recorded before)",
        )
    return Fail(
        f"for {what} AuditedTask recorded {shown}, expected {', '.join(want)}",
        hint=_event_hint(want, names),
    )


def _part(text: str, forms: list[str]) -> str | None:
    """``"its first line"`` or ``"the start of it"`` if ``text`` is only that of a form."""
    if not text:
        return None
    for form in forms:
        lines = form.splitlines()
        if len(lines) > 1 and text.strip() in {line.strip() for line in lines if line.strip()}:
            return "only one line of it" if text.strip() != lines[0].strip() else "its first line"
    if any(len(text) < len(form) and form.startswith(text) for form in forms):
        return "the start of it"
    return None


def _detail_problem(event: dict[str, str], detail: Any, what: str) -> Fail | None:
    """A Fail if ``event`` (success, retry or failure) does not carry its value or error."""
    text, name = event["detail"], event["event"]
    if name == "success":
        if re.search(rf"(?<![\w.]){re.escape(detail)}(?![\w.])", text) or repr(detail) in text:
            return None
        part = _part(text, [detail, repr(detail)])
        if part is not None:
            return Fail(
                f"for {what} on_success recorded {_shown(text)}, {part}, not the value returned",
                hint='record the whole return value: record(task_id, "success", retval)',
            )
        return Fail(
            f"for {what} on_success recorded the detail {text!r}",
            hint='record the return value on success: record(task_id, "success", retval)',
        )
    handler = "on_retry" if name == "retry" else "on_failure"
    traceback = Fail(
        f"for {what} {handler} recorded a traceback (einfo), not the exception",
        hint=f'record exc, the exception itself: record(task_id, "{name}", exc); '
        "einfo is the whole traceback",
    )
    if text.strip().startswith("Traceback"):
        return traceback
    if name == "retry" and re.search(r"\bRetry (in|at) ", text):
        return Fail(
            f"for {what} on_retry recorded Celery's Retry, not the error that caused it",
            hint="record exc: on_retry receives the error as exc; einfo.exception is the "
            "Retry that self.retry raised",
        )
    if re.search(r'^\s*(Traceback \(most recent|File ")', text, re.M):
        return traceback
    exc: Exception = detail
    # the exception, its repr, or "Type: message" as guide 001's CallbackTask writes it
    written = [str(exc), repr(exc), f"{type(exc).__name__}: {exc}"]
    if any(form in text for form in written):
        return None
    call = f'record(task_id, "{name}", exc)'
    if re.fullmatch(r"[A-Z]\w*(Error|Exception)", text):
        return Fail(
            f"for {what} {handler} recorded the detail {text!r}",
            hint=f"record exc itself, not only its class name: {call}",
        )
    part = _part(text, written)
    if part == "the start of it" and len(text) < 40:
        return Fail(
            f"for {what} {handler} recorded {text!r}, only the start of {str(exc)!r}",
            hint=f"record the whole exception, not the start of it: {call}",
        )
    if part is not None:
        return Fail(
            f"for {what} {handler} recorded {_shown(text)}, {part}, not the whole exception",
            hint=f"record the whole exception, every line of it, not a part: {call}",
        )
    if exc.args and text == str(exc.args[0]):
        return Fail(
            f"for {what} {handler} recorded {text!r}, only the first argument of {exc!r} "
            f"(its str() is {str(exc)!r})",
            hint=f"record exc itself, not exc.args[0]: {call}",
        )
    return Fail(
        f"for {what} {handler} recorded the detail {text!r}",
        hint="record the return value on success and the exception on retry/failure",
    )


def _shown(text: str) -> str:
    """``text`` in quotes, its middle left out when it is long."""
    return (
        repr(text)
        if len(text) <= 60
        else f"{text[:40]!r}...{text[-12:]!r} ({len(text)} characters)"
    )


def _event_hint(want: list[str], names: list[str]) -> str:
    for event in want:
        if event not in names:
            handler = {"success": "on_success", "retry": "on_retry", "failure": "on_failure"}[event]
            return f'{handler} should call record(task_id, "{event}", ...)'
    return 'record the event names "success", "retry" and "failure", each in its own handler'
