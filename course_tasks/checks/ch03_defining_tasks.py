"""Checks of chapter 03's exercises (``solutions/03_defining_tasks_solutions.ipynb``).

In this chapter the learner *defines* tasks, in the notebook:

* 03.1 ``check("03.1", whoami)``: a bound task that returns ``{"id", "retries"}`` read
  from ``self.request``;
* 03.2 ``check("03.2", fetch_title)``: a task that fetches a page from the simulated
  flaky site (:mod:`course_tasks.tasks.crawler`), retries on ``SiteUnavailable`` with
  ``raise self.retry(exc=exc, countdown=...)``, gives up after 5 retries, and returns the
  page's title;
* 03.3 ``check("03.3", word_count)``: a task that reports ``PROGRESS`` with
  ``{"current", "total"}`` after each text and returns ``{"words": n}``;
* 03.4 ``check("03.4", AuditedTask)``: a ``Task`` subclass whose ``on_success``,
  ``on_retry`` and ``on_failure`` record what happened with
  :func:`course_tasks.tasks.hooks.record`.

A task defined in a notebook is registered in that kernel only. In embedded mode the worker
thread shares the kernel's registry, so :func:`run_task` sends the learner's task to the
worker for real. In redis (and eager) mode the worker is another process that has never
heard of it, so :func:`run_task` runs it here with ``task.apply()``: Celery's own local
execution, with real retries, custom states and handlers, but no waiting on countdowns.
Both ways collect the same evidence (final state and value, each retry and its countdown
from the ``task_retry`` signal, every custom state published to the result backend), so
a check gives the same verdict in every mode.
"""

from __future__ import annotations

import inspect
import json
import time
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
from course_tasks.tasks import crawler, hooks

#: How long a check waits for one run of the learner's task on the worker.
WAIT_SECONDS = 6.0
#: The longest wait between retries a check accepts (Celery's default is 180 s).
MAX_COUNTDOWN = 2.0

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


def _seconds(when: Any) -> float | None:
    if isinstance(when, datetime):
        now = datetime.now(when.tzinfo or timezone.utc)
        return max(0.0, (when - now).total_seconds())
    return None if when is None else float(when)


def _slow_retry(countdowns: list[float | None], name: str) -> Fail | None:
    for wait in countdowns:
        if wait is not None and wait > MAX_COUNTDOWN:
            default = " (Celery's default_retry_delay)" if wait == 180 else ""
            return Fail(
                f"{name} asked to be retried in {wait:g} s{default}",
                hint="keep the waits short in the course: pass countdown=0.1 to self.retry",
            )
    return None


def _published(pubsub: Any, *, wait: float) -> list[dict[str, Any]]:
    metas = []
    while True:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
        if message is None:
            return metas
        if message.get("type") == "message":
            metas.append(json.loads(message["data"]))


def run_task(
    task: Task,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    name: str,
    retries: int = 0,
) -> Run:
    """Run the learner's ``task`` once: on the worker in embedded mode, else ``apply()``.

    Raises a Fail (the same in every mode) when a retry asks for a long countdown or the
    task does not finish within ``WAIT_SECONDS``.
    """
    task_id = uuid()
    countdowns: list[float | None] = []

    def on_retry(request: Any = None, reason: Any = None, **_: Any) -> None:
        if getattr(request, "id", None) == task_id:
            countdowns.append(_seconds(getattr(reason, "when", None)))

    signals.task_retry.connect(on_retry, weak=False)
    pubsub = app.backend.client.pubsub()
    try:
        pubsub.subscribe(app.backend.get_key_for_task(task_id))
        pubsub.get_message(timeout=1.0)  # the subscription is confirmed before anything runs
        if on_worker():
            state, value = _run_on_worker(task, args, kwargs, task_id, retries, countdowns, name)
        else:
            with quiet_trace_log():
                eager = task.apply(args, kwargs, task_id=task_id, retries=retries)
            state, value = eager.state, eager.result
        metas = _published(pubsub, wait=0.1)
    finally:
        signals.task_retry.disconnect(on_retry)
        pubsub.close()
    slow = _slow_retry(countdowns, name)
    if slow is not None:
        raise slow
    custom = [(m["status"], m["result"]) for m in metas if m["status"] not in states.ALL_STATES]
    return Run(task_id, state, value, countdowns, custom)


def _run_on_worker(
    task: Task,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    task_id: str,
    retries: int,
    countdowns: list[float | None],
    name: str,
) -> tuple[str, Any]:
    result = task.apply_async(args, kwargs, task_id=task_id, retries=retries)
    deadline = time.monotonic() + WAIT_SECONDS
    while not result.ready():
        problem = _slow_retry(countdowns, name)
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


@exercise("03.1", "a bound task", points=1)
def _whoami(whoami: Any) -> str:
    task = as_task(whoami, "whoami")
    if not is_bound(task):
        raise Fail(
            "whoami is not bound, so it cannot read self.request",
            hint="declare it with @app.task(bind=True) and take self as its first argument",
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
    return "its own id and retry count, read from self.request"


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

#: The page exercise 03.2 fetches from the simulated site.
PAGE_URL = "https://example.com/celery-course/retries"
PAGE_TITLE = "Retrying with Celery"
#: Short outage (the task must get through it) and long outage (it must give up).
SHORT_OUTAGE, LONG_OUTAGE = 2, 10
EXPECTED_RETRIES = 5


def _fetch_run(task: Task, outage: int) -> tuple[Run, int]:
    crawler.reset_site()
    crawler.publish_page(PAGE_URL, PAGE_TITLE, ["https://docs.celeryq.dev/"])
    crawler.make_flaky(PAGE_URL, outage)
    run = run_task(task, (PAGE_URL,), name="fetch_title")
    return run, crawler.hits(PAGE_URL)


@exercise("03.2", "retry on an outage", points=2)
def _fetch_title(fetch_title: Any) -> str:
    task = as_task(fetch_title, "fetch_title")
    try:
        return _check_fetch_title(task)
    finally:
        crawler.reset_site()


def _check_fetch_title(task: Task) -> str:
    run, attempts = _fetch_run(task, SHORT_OUTAGE)
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

    run, attempts = _fetch_run(task, LONG_OUTAGE)
    if run.state == states.SUCCESS:
        raise Fail(
            f"with the site down for {LONG_OUTAGE} requests, fetch_title retried "
            f"{len(run.retries)} times and never gave up",
            hint=f"limit the retries: max_retries={EXPECTED_RETRIES}",
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
    return f"{short}; gave up after {attempts} with SiteUnavailable"


# --------------------------------------------------------------------------- 03.3

TEXTS = ["Celery runs tasks", "Redis keeps the messages", "workers do the work", "done"]
WORDS = sum(len(text.split()) for text in TEXTS)


@exercise("03.3", "report progress", points=2)
def _word_count(word_count: Any) -> str:
    task = as_task(word_count, "word_count")
    run = run_task(task, (TEXTS,), name="word_count")
    if run.state == states.FAILURE:
        raise _failed(run, "word_count", hint="count the words of each text with len(text.split())")
    total = len(TEXTS)
    if not run.custom:
        raise Fail(
            "word_count never reported any progress",
            hint='call self.update_state(state="PROGRESS", meta={"current": i, "total": n}) '
            "after each text",
        )
    names = sorted({state for state, _ in run.custom})
    if names != ["PROGRESS"]:
        raise Fail(
            f"word_count reported the state {names[0]!r}",
            hint='use exactly state="PROGRESS", the name guide 000 and status endpoints look for',
        )
    metas = [meta for _, meta in run.custom]
    bad = next(
        (m for m in metas if not (isinstance(m, dict) and {"current", "total"} <= set(m))), None
    )
    if bad is not None:
        raise Fail(
            f"a progress update carried meta={bad!r}",
            hint='pass meta={"current": i, "total": len(texts)}',
        )
    currents = [m["current"] for m in metas]
    totals = {m["total"] for m in metas}
    if totals != {total}:
        raise Fail(
            f"for {total} texts the progress said total={sorted(totals, key=str)[0]!r}",
            hint="total is the number of texts, len(texts)",
        )
    if len(metas) != total:
        raise Fail(
            f"word_count reported progress {_count(len(metas), 'time', 'times')} for {total} texts",
            hint="update the state once per text, inside the loop",
        )
    if currents == list(range(total)):
        raise Fail(
            f"progress went from 0/{total} to {total - 1}/{total}, never {total}/{total}",
            hint="count from 1: for i, text in enumerate(texts, start=1)",
        )
    if currents != list(range(1, total + 1)):
        raise Fail(
            f"progress went {', '.join(map(str, currents))} (of {total})",
            hint="report current=1 after the first text, 2 after the second, ...",
        )
    if run.value != {"words": WORDS}:
        hint = 'return {"words": n}, the total over all texts'
        if run.value is None:
            hint = 'end it with return {"words": n}'
        raise Fail(f"word_count returned {run.value!r}, not {{'words': {WORDS}}}", hint=hint)
    return f"{total} PROGRESS updates, 1/{total} to {total}/{total}, then {{'words': {WORDS}}}"


# --------------------------------------------------------------------------- 03.4

HANDLERS = {
    "on_success": ("retval", "task_id", "args", "kwargs"),
    "on_retry": ("exc", "task_id", "args", "kwargs", "einfo"),
    "on_failure": ("exc", "task_id", "args", "kwargs", "einfo"),
}
_serial = count(1)


def _probe_tasks(base: type[Task]) -> dict[str, Task]:
    """Three tasks on the learner's base class: one succeeds, one retries once, one fails."""
    n = next(_serial)

    def succeeds(self: Any) -> int:
        return 42

    def retries_once(self: Any) -> str:
        if self.request.retries == 0:
            raise self.retry(exc=ConnectionError("temporary outage"), countdown=0.05)
        return "ok"

    def fails(self: Any) -> None:
        raise ValueError("broken on purpose")

    made = {}
    for fn in (succeeds, retries_once, fails):
        made[fn.__name__] = app.task(
            fn,
            base=base,
            bind=True,
            max_retries=1,
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
    expected = {
        "succeeds": (["success"], "a task that returned 42", "42"),
        "retries_once": (
            ["retry", "success"],
            "a task that was retried once, then returned 'ok'",
            "temporary outage",
        ),
        "fails": (["failure"], "a task that raised ValueError", "broken on purpose"),
    }
    for key, task in probes.items():
        run = run_task(task, name="a task on AuditedTask")
        want, what, detail = expected[key]
        got = hooks.events(run.id, at_least=len(want), timeout=1.0)
        names = [e["event"] for e in got]
        if not got:
            anything = hooks.events(timeout=0)
            if anything:
                raise Fail(
                    f"for {what} something was recorded, but not under the task's id",
                    hint="pass the handler's task_id argument as the first argument of record()",
                )
        if names != want:
            shown = ", ".join(names) if names else "nothing"
            raise Fail(
                f"for {what} AuditedTask recorded {shown}, expected {', '.join(want)}",
                hint=_event_hint(want, names),
            )
        if not any(detail in e["detail"] for e in got):
            raise Fail(
                f"for {what} the details recorded were {[e['detail'] for e in got]!r}",
                hint="record the return value on success and the exception on retry/failure",
            )
    hooks.clear_events()
    return "success, retry then success, and failure were each recorded by its handler"


def _event_hint(want: list[str], names: list[str]) -> str:
    for event in want:
        if event not in names:
            handler = {"success": "on_success", "retry": "on_retry", "failure": "on_failure"}[event]
            return f'{handler} should call record(task_id, "{event}", ...)'
    return 'record the event names "success", "retry" and "failure", each in its own handler'
