"""Checks of chapter 12's exercises (``solutions/12_production_solutions.ipynb``).

* 12.1 ``check("12.1", exports)``: a FastAPI app with ``POST /exports`` (queue
  ``export_users_csv``, answer ``202`` with ``{"task_id": ...}`` at once, also while the
  workers are busy) and ``GET /exports/{task_id}`` (the task's status as json, read from the
  result backend, at once, for every state). Driven with FastAPI's ``TestClient``: the POSTs'
  exports reach the worker only after the POST has answered (so a POST that waits for the
  worker to pick them up is seen), and the message each POST queued is read (its arguments
  exactly, also for 0 rows and for 5,000, whose messages are never run; no queue the workers
  do not read, no ``expires``/``countdown``/``eta``, no time limit). GET is
  asked about tasks in every state, including tasks the POST never queued and failures with
  several arguments and none (the error compared exactly with ``str(exc)``), each twice (a
  GET that forgets the result is seen), and about tasks that finish (from STARTED and from
  PROGRESS) between two reads of their record, and whose result expires between two reads
  (an answer read from several reads is seen);
  a user's second export must get an id of its own, also for the same rows, and so must an
  export POSTed in each of two copies of the process (``os.fork`` where there is one: the same
  code and state, as two web workers or a restart) with their clocks at the same instant and
  process id 1 (an id from a counter, the clock or the pid is seen), and every id must be as
  random as Celery's own uuid4 (a whole uuid in it, or 122 bits besides what all ids share:
  a truncated uuid is seen); a message in a serializer the workers refuse is named as such;
  FAILURE's text must be under ``error`` and PROGRESS under ``progress``; while the broker
  refuses the message POST, and while the result backend is down GET, must answer an error
  (5xx); an endpoint that asks the workers (a broadcast, ``inspect()``) or talks to Celery
  inside the event loop (``async def``) is seen too;
* 12.2 ``check("12.2", make_celery)``: ``make_celery(settings)`` returns a *new* Celery app
  on every call (also for the same settings object twice), not made the current one nor
  the default one (``set_default()``), configured from a Django-style settings object
  with ``namespace="CELERY"``; tried on two settings objects (one holding its settings on the
  instance, its class and a base class, one behind a plain ``__getattr__`` that ``dir()``
  does not list), each with settings that are false or 0 and settings away from what apps
  are often forced to (json only, UTC, retry on startup); every ``CELERY_*`` setting is
  compared (the second object has no CELERY_RESULT_BACKEND: a make_celery that reads it
  regardless is named), the first app's again after the second call, then the apps made for a third
  object of the first one's class and for the first object after its settings changed (a
  cache keyed by the object or its class is seen);
* 12.3 ``check("12.3", choose_pool)``: ``choose_pool(kind, cores)`` gives ``(pool,
  concurrency)`` (an int) for ``"cpu"`` and ``"io"`` work on 2, 3, 4 and 8 cores (threads or
  prefork for I/O under :data:`HUNDREDS`, growing with the cores); the I/O
  choice is run on a real worker process (:mod:`course_tasks.processes`) and must overlap the
  waits;
* 12.4 ``check("12.4", worker_unit)``: ``worker_unit(project_dir, celery_bin, user)``
  returns a systemd unit that starts the worker the right way (as its main process, or
  detached with ``Type=forking`` and ``PIDFile=``), restarts it after any death and stops it
  warm (TERM to this worker's main process only, ``KillMode=mixed``, with time for the
  longest task, then a kill), restarts warm too, pulls in no beat (no -B, no second
  ExecStart, no ExecStartPost, no Wants=) and starts, stops or requires no other unit but a
  target (no Requires=redis-server.service), has no watchdog nor purge, no Celery ``%``
  placeholder that systemd would expand nor environment variable it leaves unset (or, inside
  a word, does not replace), no worker time limit shorter than the longest task, nothing else
  that signals the worker (ExecStop/ExecReload kills, SendSIGHUP, REMAP_SIGTERM=SIGQUIT), a
  RestartSec of at most a minute, and no [Service] setting outside a list of known harmless
  ones (a known name in other capitals is named as such); no root in any form (``+``/``!``
  before ExecStart, Group=/SupplementaryGroups= of :data:`ROOT_GROUPS`); run a third time with
  a project under /home, the project must stay readable under the unit's sandboxing and every
  file the worker writes (--pidfile, --logfile, --statedb, as systemd's specifiers and celery's
  node_format make them) must go where ``user`` can write (:func:`_judge_files`), and PIDFile=
  as systemd expands it must be the file celery writes; the worker's options are judged as
  celery's click reads them (:func:`_worker_options`), after systemd has put in the unit's
  Environment= values (``$NAME`` split at whitespace, ``${NAME}`` one word) and with the
  ``CELERY_WORKER_*`` variables click takes as options; checked with :mod:`configparser`,
  its [Service] lines in systemd's order, and, where installed, ``systemd-analyze verify``.
"""

from __future__ import annotations

import asyncio
import configparser
import errno
import importlib.util
import inspect
import json
import logging
import math
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from celery import Celery, _state
from celery.app.defaults import DEFAULTS
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from kombu.exceptions import OperationalError as KombuOperationalError

import course_tasks.web  # noqa: F401 - sets the filter for Starlette's httpx warning
from course_tasks import processes
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    Seen,
    StillRunning,
    call_watched,
    error_text,
    is_stub_body,
    kind,
)
from course_tasks.tasks.reports import UploadUnavailable, export_users_csv

#: How long a check waits for a course task that should finish quickly.
WAIT_SECONDS = 8.0
#: How long an endpoint may take to answer before the check stops waiting for it. Whether
#: an endpoint waited for a task is seen, not timed (:func:`support.watching`): on a busy
#: machine a right answer can take longer than a wrong one on a quiet one.
ANSWER_SECONDS = 2.5
THREAD_NAME = "course-check-12"

# --------------------------------------------------------------------------- 12.1


def _routes(api: Any) -> dict[tuple[str, str], Any]:
    found = {}
    for route in getattr(api, "routes", []):
        for method in getattr(route, "methods", None) or ():
            found[(method, getattr(route, "path", ""))] = getattr(route, "endpoint", None)
    return found


@dataclass
class _Celery:
    """What an endpoint did with Celery during one request, beyond :class:`Seen`."""

    #: ``(name, args, kwargs, options)`` of the exports it queued, held back by the check
    parked: list[tuple[str, Any, Any, dict[str, Any]]] = field(default_factory=list)
    #: reads of each held-back task's state
    reads: Counter[str] = field(default_factory=Counter)
    #: ids of held-back tasks whose state it read again and again: it waited for a worker
    polled: list[str] = field(default_factory=list)
    #: what it did with Celery inside the event loop (``async def``): "queued the export", ...
    in_loop: list[str] = field(default_factory=list)
    #: the control commands it broadcast to the workers (``inspect().query_task``, ``ping``)
    broadcasts: list[str] = field(default_factory=list)
    #: the messages the broker refused (``refuse``)
    refused: int = 0
    #: the reads of a task's state the result backend failed (``backend_down``)
    failed_reads: int = 0

    def publish(self) -> None:
        """Send the held-back exports now, as a worker that was busy until now gets them."""
        for name, args, kwargs, options in self.parked:
            app.send_task(name, args, kwargs, **options)
        self.parked.clear()


def _in_event_loop() -> bool:
    """Whether this thread runs an asyncio event loop (the request's, not the kernel's)."""
    if threading.current_thread() is threading.main_thread():
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


#: A task whose state changes while a request reads it: ``{task_id: (meta of the first
#: ``reads`` reads, meta of every later read, reads)}``, as the result backend stores them.
Flips = dict[str, tuple[dict[str, Any], dict[str, Any], int]]


@contextmanager
def _watching_celery(
    park: bool, flips: Flips | None = None, *, refuse: bool = False,
    backend_down: BaseException | None = None,
) -> Iterator[_Celery]:
    """Meanwhile, record what the code does with the course's app (:class:`_Celery`).

    With ``park``, ``export_users_csv`` is not published when it is sent, only recorded (the
    caller publishes it afterwards): as long as the request runs, no worker has the export,
    as when every worker is busy. Reading such a task's state once is fine (it is PENDING);
    reading it again is waiting for a worker, and is stopped at once with Celery's
    ``TimeoutError``, as :func:`support.watching` stops a ``get()``.

    With ``flips``, each read of such a task's state from the result backend gets the next
    state of a task a worker finishes meanwhile (:data:`Flips`).

    With ``refuse``, the broker refuses every message (kombu's ``OperationalError``, as
    ``send_task`` raises it when the broker is down); with ``backend_down``, every read of a
    task's state raises that exception (the result backend is down). A broadcast to the
    workers (``app.control.inspect()``, ``ping``, ...) is recorded and answered at once with
    no replies, as when no worker answers.
    """
    did = _Celery()
    real_send = app.send_task
    backend_cls = type(app.backend)
    real_meta = backend_cls.get_task_meta
    parked_ids: set[str] = set()

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        if _in_event_loop():
            did.in_loop.append("queued the export")
        if refuse:
            did.refused += 1
            raise KombuOperationalError(
                "Error 111 connecting to the broker. Connection refused (the check refused it)")
        if park and name == export_users_csv.name:
            options["task_id"] = task_id = options.get("task_id") or str(uuid.uuid4())
            did.parked.append((name, args, kwargs, options))
            parked_ids.add(task_id)
            return (options.get("result_cls") or app.AsyncResult)(task_id)
        return real_send(name, args, kwargs, **options)

    def get_task_meta(backend: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
        if _in_event_loop():
            did.in_loop.append("read the task's state")
        if backend_down is not None:
            did.failed_reads += 1
            raise backend_down
        if task_id in parked_ids:
            did.reads[task_id] += 1
            if did.reads[task_id] > 1:
                did.polled.append(task_id)
                raise CeleryTimeoutError(f"the check stopped a wait for {task_id}")
        if flips and task_id in flips:
            did.reads[task_id] += 1
            before, after, reads = flips[task_id]
            return dict(before if did.reads[task_id] <= reads else after, task_id=task_id)
        return real_meta(backend, task_id, *args, **kwargs)

    def broadcast(command: str, *args: Any, reply: bool = False, **kwargs: Any) -> Any:
        did.broadcasts.append(command)
        return [] if reply else None

    with (
        mock.patch.object(app, "send_task", send_task),
        mock.patch.object(backend_cls, "get_task_meta", get_task_meta),
        mock.patch.object(app.control, "broadcast", broadcast),
    ):
        yield did


def _request(
    client: Any, method: str, url: str, *, park: bool = False, flips: Flips | None = None,
    refuse: bool = False, backend_down: BaseException | None = None, **kwargs: Any,
) -> tuple[Any, Seen, _Celery]:
    """``client.METHOD(url, **kwargs)``, bounded: the answer (or StillRunning), and what the
    endpoint did meanwhile (whether it waited for a task, ran one in the request, polled a
    task no worker has yet, asked the workers, or talked to Celery inside the event loop)."""
    with _watching_celery(park, flips, refuse=refuse, backend_down=backend_down) as did:
        response, seen = call_watched(lambda: getattr(client, method)(url, **kwargs),
                                      seconds=ANSWER_SECONDS, thread_name=THREAD_NAME)  # fmt: skip
    return response, seen, did


def _diagnose_post(endpoint: Any, body: dict[str, Any]) -> Fail:
    """Why POST answered 500: call the endpoint function itself and look at what it returns."""
    try:
        params = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    except (NameError, TypeError, ValueError):
        params = []
    model = params[0].annotation if params else None
    try:
        value = endpoint(model(**body)) if isinstance(model, type) else endpoint(**body)
        if inspect.iscoroutine(value):
            value.close()
            value = None
    except Exception as exc:  # the learner's code failed
        return Fail(f"POST /exports failed with {type(exc).__name__}: {exc}",
                    hint="queue the task with export_users_csv.delay(...) and return its id")
    if isinstance(value, AsyncResult) or (
        isinstance(value, dict) and any(isinstance(v, AsyncResult) for v in value.values())
    ):
        return Fail("POST /exports answered 500: it returned the AsyncResult, which is not json",
                    hint='return {"task_id": task.id}: the id is a str')
    return Fail(f"POST /exports answered 500 (it returned {kind(value)})",
                hint='return {"task_id": task.id}')


_ASYNC_HINT = ("make it a plain def: FastAPI runs a def endpoint in its thread pool. {what} "
               "blocks, and in an async def it holds up the event loop, every other request "
               "with it")


def _post(client: Any, endpoint: Any, user_id: int, rows: int, *, run: bool = True) -> str:
    """POST one export while no worker can take it; the task id it answered with. With
    ``run=False`` its message is judged and then dropped: no worker ever runs it."""
    body = {"user_id": user_id, "rows": rows}
    response, seen, did = _request(client, "post", "/exports", park=True, json=body)
    if seen.waited:
        raise Fail("POST /exports waited for the export (it called get() on the task)",
                   hint="answer at once with the task's id; GET /exports/{task_id} is "
                   "how the client learns when it is done")
    if did.polled:
        raise Fail("POST /exports waited for a worker to pick the export up (it read the "
                   "task's state again and again while the task was PENDING, every worker "
                   "busy)",
                   hint="answer at once with the task's id, whatever the workers are doing: "
                   "with busy workers the export stays PENDING, and so would the request")
    if seen.ran_here and app.conf.task_always_eager:
        raise Fail("POST /exports ran the export in the request: task_always_eager is on, "
                   "so delay() runs the task right there",
                   hint="this exercise needs a worker: switch task_always_eager off "
                   "(in eager mode, COURSE_BROKER=eager, unset it) and run it again")
    if seen.ran_here:
        raise Fail("POST /exports ran the export in the request (apply() runs it right "
                   "there, no worker involved)",
                   hint="queue it with export_users_csv.delay(...) and answer at once")
    if did.broadcasts:
        raise Fail(f"POST /exports asked the workers ({did.broadcasts[0]!r}, a broadcast over "
                   "the broker that waits for their replies) before it answered",
                   hint="queue the export with export_users_csv.delay(...) and answer at once, "
                   "whatever the workers are doing: the queue holds it until one is free")
    if did.in_loop:
        raise Fail(f"POST /exports {did.in_loop[0]} inside FastAPI's event loop "
                   "(an async def endpoint)",
                   hint=_ASYNC_HINT.format(what=".delay() talks to the broker and"))
    if isinstance(response, StillRunning):
        raise Fail(f"POST /exports did not answer within {ANSWER_SECONDS:g} s",
                   hint="it ran the export in the request: queue it with "
                   "export_users_csv.delay(...) and answer at once")
    if response.status_code == 500:
        raise _diagnose_post(endpoint, body)
    if response.status_code != 202:
        raise Fail(f"POST /exports answered {response.status_code}",
                   hint="answer 202 Accepted (queued, not done): "
                   "@exports.post(\"/exports\", status_code=202)")
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("task_id"), str):
        raise Fail(f"POST /exports answered {data!r}", hint='answer {"task_id": task.id}')
    queued = [entry for entry in did.parked if entry[3].get("task_id") == data["task_id"]]
    if queued:
        _judge_queued(*queued[0], user_id=user_id, rows=rows)
    if not run:
        did.parked.clear()
    did.publish()  # the workers are free again: now the exports reach one
    return data["task_id"]


#: Options of a message that keep an export from running as soon as a worker is free.
_DELAYING = {
    "expires": ("when every worker is busy for longer than that, the worker that finally "
                "gets it revokes it unrun (REVOKED), and the user never gets the export",
                "leave out expires: an export waits in the queue until a worker is free, "
                "however long that takes"),
    "countdown": ("it waits that long even when a worker is free",
                  "queue it with export_users_csv.delay(...): it starts as soon as a worker "
                  "is free"),
    "eta": ("it waits until then even when a worker is free",
            "queue it with export_users_csv.delay(...): it starts as soon as a worker is free"),
}


#: Options of a message that end an export after a fixed time, whatever its rows: what they do.
_LIMITING = {
    "time_limit": "kills",
    "soft_time_limit": "interrupts (SoftTimeLimitExceeded)",
}
#: The rows of the big export the check posts (its message is read, never run).
BIG_EXPORT_ROWS = 5000


def _judge_queued(name: str, args: Any, kwargs: Any, options: dict[str, Any], *, user_id: int,
                  rows: int) -> None:
    """A Fail unless the message POST queued is ``export_users_csv(user_id, rows=rows,
    seconds_per_row=0.1)``, routed where the workers read, to run as soon as one is free."""
    routed = app.amqp.router.route({}, name)["queue"].name
    queue = options.get("queue")
    queue = getattr(queue, "name", queue)
    if queue is not None and queue != routed:
        raise Fail(f"POST /exports sent the export to the queue {queue!r}, which the workers do "
                   f"not read (they read {routed!r}, where the app routes export_users_csv)",
                   hint="leave out queue=: export_users_csv.delay(...) sends it where the "
                   "app's routing says, and the workers read that queue")
    serializer = options.get("serializer")
    if serializer is not None and not _accepted(serializer):
        raise Fail(f"POST /exports queued the export with serializer={serializer!r}: the "
                   f"workers accept only {list(app.conf.accept_content)} (accept_content), so "
                   "they refuse the message and no worker ever runs the export, whatever its id",
                   hint="leave out serializer=: the message then goes in the app's "
                   f"task_serializer ({app.conf.task_serializer}), which the workers accept")
    if options.get("ignore_result"):
        raise Fail(f"POST /exports queued the export with ignore_result="
                   f"{options['ignore_result']!r}: the worker stores no result, so GET never "
                   "learns that the export finished, nor its value",
                   hint="leave out ignore_result: GET /exports/{task_id} reads the export's "
                   "state and value from the result backend")
    for option, does in _LIMITING.items():
        limit = options.get(option)
        if limit is None:
            continue
        rows_in_time = (f"more than {float(limit) / 0.1:g} rows (0.1 s a row)"
                        if isinstance(limit, (int, float)) else "many rows")
        raise Fail(f"POST /exports queued the export with {option}={limit!r}: the worker "
                   f"{does} every export of {rows_in_time} half-way, and the user never gets it",
                   hint=f"leave out {option}: an export takes as long as its rows need (the "
                   f"check posts one of {BIG_EXPORT_ROWS:,} rows: "
                   f"{BIG_EXPORT_ROWS * 0.1:g} s)")
    for option, (why, hint) in _DELAYING.items():
        if options.get(option) is not None:
            raise Fail(f"POST /exports queued the export with {option}={options[option]!r}: "
                       f"{why}", hint=hint)
    try:
        bound = inspect.signature(export_users_csv.run).bind(*(args or ()), **(kwargs or {}))
    except TypeError as exc:
        raise Fail(f"POST /exports queued export_users_csv with arguments it does not take "
                   f"({exc}): args={args!r}, kwargs={kwargs!r}",
                   hint="export_users_csv.delay(request.user_id, rows=request.rows, "
                   "seconds_per_row=0.1)") from None
    given = set(bound.arguments)
    bound.apply_defaults()
    got = dict(bound.arguments)
    shown = ", ".join(f"{key}={value!r}" for key, value in got.items()
                      if key != "email_to" or value is not None)  # fmt: skip
    problem = f"the task queued for user {user_id} with {rows} rows was export_users_csv({shown})"
    for key, wanted in (("user_id", user_id), ("rows", rows)):
        value = got[key]
        if type(value) is int and value == wanted:
            continue
        if str(value) == str(wanted) or (isinstance(value, float) and value == wanted):
            raise Fail(f"{problem}: {key} is {kind(value)}",
                       hint=f"pass request.{key} as it is, an int: the body's {wanted} is the "
                       f"int {wanted}, and the task takes an int")
        if key == "rows" and wanted == 0 and type(value) is int:
            raise Fail(f"{problem}: a request for 0 rows exports {value}",
                       hint="pass request.rows as it is: `request.rows or 3` (or `if not "
                       "request.rows`) turns 0 into 3; a body without rows already gets the "
                       "model's default, rows: int = 3")
        if key == "rows" and type(value) is int and 0 <= value < wanted:
            raise Fail(f"{problem}: a request for {wanted} rows exports {value}, and nobody is "
                       "told that rows are missing",
                       hint="pass request.rows as it is: a big export only takes longer (a "
                       "limit belongs in the request model, where the client gets a 422, "
                       "not in a silently shorter export)")
        raise Fail(problem, hint="pass the request's user_id and rows to export_users_csv.delay")
    speed = got["seconds_per_row"]
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or speed != 0.1:
        raise Fail(f"{problem}: seconds_per_row is {speed!r}",
                   hint="queue it with seconds_per_row=0.1, as the exercise says (one slow "
                   "database read per row)")
    if "seconds_per_row" not in given:
        raise Fail(f"{problem}: seconds_per_row was left out, so the export runs at whatever "
                   "the task's default is (0.1 today, and whatever it becomes)",
                   hint="pass seconds_per_row=0.1 yourself, as the exercise says: "
                   "export_users_csv.delay(request.user_id, rows=request.rows, "
                   "seconds_per_row=0.1)")
    if got["email_to"] is not None:
        raise Fail(f"{problem}: it mails the link to {got['email_to']!r}",
                   hint="leave email_to out: the export mails no link here")
    _judge_publish_retry(options)


def _accepted(serializer: str) -> bool:
    """Whether the workers take a message in ``serializer`` (a name or a content type)."""
    from kombu.serialization import registry

    accepted = set(app.conf.accept_content or ())
    content_type = registry.name_to_type.get(serializer, serializer)
    return serializer in accepted or content_type in accepted or any(
        registry.name_to_type.get(name) == content_type for name in accepted)


#: The longest a POST may spend retrying the publish while the broker refuses it, in seconds
#: (Celery's own default retries for 0.6 s, the course's app for 0.75 s).
LONGEST_PUBLISH_RETRY = 5.0


def _publish_retry_seconds(policy: dict[str, Any]) -> float:
    """How long kombu's retry policy waits in all before it gives up (inf: never)."""
    tries = policy.get("max_retries", 3)
    if tries is None:
        return math.inf
    start = float(policy.get("interval_start", 0) or 0)
    step = float(policy.get("interval_step", 0.2) or 0)
    top = float(policy.get("interval_max", 0.2) or 0)
    return sum(min(start + i * step, top) for i in range(int(tries)))


def _judge_publish_retry(options: dict[str, Any]) -> None:
    """A Fail if the message is published with retries that keep a POST waiting long while
    the broker refuses it."""
    retry = options.get("retry")
    if retry is None:
        retry = app.conf.task_publish_retry
    if not retry:
        return
    policy = {**(app.conf.task_publish_retry_policy or {}), **(options.get("retry_policy") or {})}
    seconds = _publish_retry_seconds(policy)
    if seconds <= LONGEST_PUBLISH_RETRY:
        return
    how = "for ever" if seconds == math.inf else f"for about {seconds:g} s"
    raise Fail(f"POST /exports queues the export with retry_policy={policy!r}: while the "
               f"broker refuses the message, kombu retries the publish {how}, and the request "
               "(and the web worker thread it holds) waits all that time before its error",
               hint="leave out retry= and retry_policy= (Celery's default retries for under a "
               "second): POST answers at once, with an error if the broker is down, and the "
               "client tries again later")


#: What the GET of a PROGRESS export may call its status: the state in lower case, or
#: section 1's API's ``in_progress`` (guide 000 §7).
PROGRESS_STATUSES = ("in_progress", "progress")


@dataclass
class _Case:
    """A task in a known state, and what GET /exports/{id} must say about it."""

    task_id: str
    state: str
    what: str
    #: the task's value (SUCCESS), exception (FAILURE, RETRY), progress (PROGRESS)
    value: Any = None
    #: queued by the check itself, not by the app's POST
    foreign: bool = False

    @property
    def statuses(self) -> tuple[str, ...]:
        return PROGRESS_STATUSES if self.state == "PROGRESS" else (self.state.lower(),)


def _stored_cases() -> list[_Case]:
    """Exports in every other state, stored in the result backend as a worker stores them.

    Four failures: a ValueError, an OSError with two arguments (its text is not its first
    argument), a TimeoutError raised bare (no argument at all) and an UploadUnavailable; each
    case's value is the exception as the backend gives it back.
    """
    progress = {"current": 2, "total": 5}
    cases = [
        _Case(str(uuid.uuid4()), "FAILURE", "an export that failed with a ValueError",
              ValueError("user 13 has no rows to export")),
        _Case(str(uuid.uuid4()), "FAILURE", "an export that failed with an OSError (two "
              "arguments, errno and message)", OSError(errno.ENOSPC, "No space left on device")),
        _Case(str(uuid.uuid4()), "FAILURE", "an export that failed with a bare TimeoutError "
              "(raised with no argument)", TimeoutError()),
        _Case(str(uuid.uuid4()), "FAILURE", "an export that failed with an UploadUnavailable",
              UploadUnavailable("file storage unavailable, exports/users-13.csv not uploaded")),
        _Case(str(uuid.uuid4()), "REVOKED", "a revoked export"),
        _Case(str(uuid.uuid4()), "STARTED", "an export a worker has started",
              {"pid": os.getpid(), "hostname": "check-12"}),
        _Case(str(uuid.uuid4()), "PROGRESS", "an export at row 2 of 5", progress),
        _Case(str(uuid.uuid4()), "RETRY", "an export waiting for a retry",
              UploadUnavailable("file storage unavailable, exports/users-14.csv not uploaded")),
    ]  # fmt: skip
    for case in cases:
        value = case.value
        if case.state == "REVOKED":
            value = TaskRevokedError("revoked by the check")
        app.backend.store_result(case.task_id, value, case.state)
        if case.state == "FAILURE":
            case.value = app.AsyncResult(case.task_id).result
    return cases


def _carries(data: dict[str, Any], value: Any) -> bool:
    """Whether the answer holds ``value`` (a dict: as one of its values, or its items)."""
    others = [v for k, v in data.items() if k != "status"]
    if value in others:
        return True
    return isinstance(value, dict) and all(data.get(k) == v for k, v in value.items())


def _diagnose_get(endpoint: Any, case: _Case) -> Fail:
    """Why GET answered 500: call the endpoint function itself and see what it raises."""
    problem = f"GET /exports/{{id}} for {case.what} answered 500"
    try:
        value, _ = call_watched(endpoint, case.task_id, seconds=ANSWER_SECONDS,
                                thread_name=THREAD_NAME)  # fmt: skip
    except Exception as exc:  # the learner's code failed
        problem = f"GET /exports/{{id}} for {case.what} failed with {type(exc).__name__}: {exc}"
        if case.state == "FAILURE":
            return Fail(problem, hint='answer {"status": "failure", "error": str(result.info)}: '
                        "str() gives the text of any exception, whatever its arguments (a "
                        "bare raise TimeoutError has none)")
        return Fail(problem, hint="give every state an answer: end with a fallback "
                    'such as {"status": state.lower()}')
    if inspect.iscoroutine(value):
        value.close()
    return Fail(f"{problem} (it returned {kind(value)})",
                hint='return a dict of json values, such as {"status": state.lower()}')


def _judge_failure(data: dict[str, Any], case: _Case) -> None:
    """A Fail unless the answer holds the exception's text, ``str(result.info)``, exactly."""
    exc = case.value
    text = str(exc)
    given = [v for k, v in data.items() if k != "status"]
    if isinstance(data.get("error"), str) and data["error"] == text:
        return
    elsewhere = [k for k, v in data.items()
                 if k not in ("status", "error") and isinstance(v, str) and v == text]
    if elsewhere and "error" not in data:
        raise Fail(f"GET for {case.what} ({error_text(exc)}) answered {data!r}: the "
                   f"exception's text is under {elsewhere[0]!r}, not under 'error', where the "
                   "API's clients read it",
                   hint='answer {"status": "failure", "error": str(meta["result"])}: the key '
                   'is "error", as the exercise gives the answer')
    said = data.get("error", next((v for v in given if isinstance(v, str)), None))
    problem = f"GET for {case.what} ({error_text(exc)}) answered {data!r}"
    named = (repr(exc), f"{type(exc).__name__}: {exc}", type(exc).__name__)
    if isinstance(said, str) and said in named:
        raise Fail(f"{problem}: the error is {said!r}, not the exception's text {text!r}",
                   hint="the error is the exception's text, str(result.info), exactly: "
                   "without its class name")
    if isinstance(said, str) and exc.args and said == str(exc.args[0]):
        raise Fail(f"{problem}: the error is the exception's first argument, {said!r}, not "
                   f"its text {text!r}",
                   hint="the error is str(result.info), the exception's whole text: an "
                   "exception may have several arguments, or none")
    if isinstance(said, str):
        raise Fail(f"{problem}: the error is {said!r}, not the exception's text {text!r}",
                   hint='add "error": str(result.info), the exception\'s text as it is')
    lost = " (the exception became {} in json)" if {} in data.values() else ""
    raise Fail(f"{problem}: the error is missing{lost}",
               hint='add "error": str(result.info): an exception is not json, FastAPI '
               "sends it as {}")


_FOREIGN_HINT = ("read the state from the result backend, not from what this process remembers "
                 "(a dict or set of the ids it queued): every web process, and this one after a "
                 "restart, must give the same answer")


def _judge_get(client: Any, endpoint: Any, case: _Case) -> Any:
    """GET /exports/{id} for one case; a Fail naming the mistake, else the json answer."""
    response, seen, did = _request(client, "get", f"/exports/{case.task_id}")
    if seen.waited or isinstance(response, StillRunning):
        how = "called get() on it" if seen.waited else f"no answer within {ANSWER_SECONDS:g} s"
        raise Fail(f"GET /exports/{{id}} for {case.what} waited for the task ({how})",
                   hint="it waited for the task: read result.state, never get()")
    if did.broadcasts:
        raise Fail(f"GET /exports/{{id}} for {case.what} asked the workers "
                   f"({did.broadcasts[0]!r}, a broadcast over the broker that waits up to its "
                   "timeout for their replies) in the request",
                   hint="answer from the result backend alone, at once: a PENDING id is "
                   '{"status": "pending"}, whether it waits in the queue or nobody queued it')
    if did.in_loop:
        raise Fail(f"GET /exports/{{id}} {did.in_loop[0]} inside FastAPI's event loop "
                   "(an async def endpoint)",
                   hint=_ASYNC_HINT.format(what="result.state is a read from the result "
                                           "backend: it"))
    if response.status_code == 500:
        raise _diagnose_get(endpoint, case)
    if response.status_code != 200 and case.foreign:
        raise Fail(f"GET /exports/{{id}} answered {response.status_code} for an export that a "
                   "worker has finished, but that this app's POST did not queue (the check "
                   "queued it, as another web process would)",
                   hint=_FOREIGN_HINT)
    if response.status_code != 200:
        raise Fail(f"GET /exports/{{id}} for {case.what} answered {response.status_code}",
                   hint="give every state an answer: end with a fallback "
                   'such as {"status": state.lower()}')
    data = response.json()
    got = data.get("status") if isinstance(data, dict) else data
    if got not in case.statuses:
        expected = case.statuses[0]
        if got == "pending" and case.foreign:
            raise Fail("GET /exports/{id} said status='pending' for an export that a worker "
                       "has finished, but that this app's POST did not queue (the check "
                       "queued it, as another web process would)",
                       hint=_FOREIGN_HINT)
        if got == "pending":
            hint = (f'answer {{"status": "{expected}"}}: only a task the result backend knows '
                    "nothing about is PENDING; give every state its own name, in lower case")
        elif got == "success":
            hint = (f'answer {{"status": "{expected}"}}: ready() is true for FAILURE and '
                    'REVOKED too; an export has succeeded only when state == "SUCCESS"')
        else:
            hint = f'answer {{"status": "{expected}", ...}} (the state in lower case)'
        raise Fail(f"GET /exports/{{id}} for {case.what} said status={got!r}", hint=hint)
    if case.state == "SUCCESS" and data.get("result") != case.value:
        raise Fail(f"GET for {case.what} has no 'result' with the task's value",
                   hint='add "result": result.result for SUCCESS')
    if case.state == "FAILURE":
        _judge_failure(data, case)
    if case.state == "PROGRESS" and data.get("progress") != case.value:
        if _carries(data, case.value):
            raise Fail(f"GET for {case.what} answered {data!r}: the progress is not the "
                       "'progress' object the API answers (its clients read "
                       "answer[\"progress\"][\"current\"])",
                       hint=f'answer {{"status": "in_progress", "progress": meta["result"]}}: '
                       f"the {case.value} the export reports, as it is, under \"progress\"")
        raise Fail(f"GET for {case.what} answered {data!r}: the progress is missing",
                   hint=f'add "progress": result.info, the {case.value} the export reports')
    return data


def _ask_again(client: Any, case: _Case, first: Any) -> None:
    """GET the same export a second time: a GET only reads, so it must answer the same."""
    response, _, _ = _request(client, "get", f"/exports/{case.task_id}")
    if isinstance(response, StillRunning):
        second: Any = f"no answer within {ANSWER_SECONDS:g} s"
    elif response.status_code != 200:
        second = f"status {response.status_code}"
    else:
        second = response.json()
    if second == first:
        return
    problem = (f"GET /exports/{{id}} for {case.what} answered {first!r}, then {second!r} when "
               "asked again")
    if isinstance(second, dict) and second.get("status") == "pending":
        raise Fail(problem, hint="leave the result in the result backend: after "
                   "result.forget() every later poll (a second tab, a retried request, another "
                   "web process) says pending; result_expires removes old results")
    raise Fail(problem, hint="GET only reads the task's state: asked twice, it answers the same")


def _ask_forgotten(client: Any, case: _Case) -> None:
    """Forget a finished export's result in the backend (as result_expires does), then GET it:
    the backend no longer knows it, so the answer is pending."""
    app.backend.forget(case.task_id)
    response, _, _ = _request(client, "get", f"/exports/{case.task_id}")
    data = response.json() if getattr(response, "status_code", None) == 200 else None
    if isinstance(data, dict) and data.get("status") == "pending":
        return
    said = data if data is not None else getattr(response, "status_code", response)
    raise Fail(f"GET /exports/{{id}} for {case.what}, after its result was removed from the "
               f"result backend (forget(), or result_expires), answered {said!r}, not "
               "pending: it answered from what this process kept of an earlier GET",
               hint="read the result backend on every GET, keep nothing in the process (a dict "
               "of finished answers): another web process, or this one after a restart, "
               "already says pending, and so must this one")


#: How many reads of its state still say STARTED (PROGRESS), for a task that finishes during
#: a GET.
RACE_READS = (1, 2, 3)


def _judge_race(client: Any, value: Any) -> None:
    """GET an export that a worker finishes while GET answers: STARTED (then PROGRESS) for the
    first reads of its record, SUCCESS for the later ones. An answer read from one record is
    consistent (``started``, ``in_progress`` with the progress, or ``success`` with the value);
    one that reads the state and then the info (or the state again) mixes them up."""
    progress = {"current": 4, "total": 5}
    ids = {state: str(uuid.uuid4()) for state in ("STARTED", "PROGRESS", "SUCCESS")}
    real_meta = type(app.backend).get_task_meta
    try:
        app.backend.store_result(ids["STARTED"], {"pid": os.getpid(), "hostname": "check-12"},
                                 "STARTED")  # fmt: skip
        app.backend.store_result(ids["PROGRESS"], progress, "PROGRESS")
        app.backend.store_result(ids["SUCCESS"], value, "SUCCESS")
        after = real_meta(app.backend, ids["SUCCESS"], cache=False)
        for state in ("STARTED", "PROGRESS"):
            before = real_meta(app.backend, ids[state], cache=False)
            for reads in RACE_READS:
                task_id = str(uuid.uuid4())
                response, _, _ = _request(client, "get", f"/exports/{task_id}",
                                          flips={task_id: (before, after, reads)})  # fmt: skip
                ok = getattr(response, "status_code", None) == 200
                data = response.json() if ok else None
                status = data.get("status") if isinstance(data, dict) else None
                if (status == "success" and data.get("result") == value) or (
                    state == "STARTED" and status == "started"
                ) or (state == "PROGRESS" and status in PROGRESS_STATUSES
                      and _carries(data, progress)):  # fmt: skip
                    continue
                said = data if data is not None else (
                    f"status {getattr(response, 'status_code', '?')}")
                raise Fail(f"GET /exports/{{id}} for an export a worker finished while GET "
                           f"answered ({state}{' at row 4 of 5' if state == 'PROGRESS' else ''} "
                           f"for the first {reads} read{'s' if reads > 1 else ''} of its "
                           f"record in the result backend, SUCCESS after) answered {said!r}: "
                           "it read the task's record again and again (result.state, then "
                           "result.info or the state again), and the reads disagreed",
                           hint="read the record once and answer from that read alone: meta = "
                           "app.backend.get_task_meta(task_id), then meta[\"status\"] and "
                           "meta[\"result\"] (the value, the exception or the progress); "
                           "result.state and result.info each ask the result backend again, "
                           "and the task may finish in between")
        _judge_gone(client, value)
    finally:
        for task_id in ids.values():
            app.backend.forget(task_id)


def _judge_gone(client: Any, value: Any) -> None:
    """GET an export whose result expires (or is forgotten) while GET answers: SUCCESS (or
    FAILURE) for the first read of its record, PENDING for the later ones. An answer read from
    that one read has the value (the error); one that reads the value again (``get_task_meta``,
    then ``AsyncResult(id).result``) finds nothing the second time."""
    error = ValueError("user 13 has no rows to export")
    real_meta = type(app.backend).get_task_meta
    gone = real_meta(app.backend, str(uuid.uuid4()), cache=False)  # PENDING: nothing stored
    for state, stored in (("SUCCESS", value), ("FAILURE", error)):
        kept = str(uuid.uuid4())
        try:
            app.backend.store_result(kept, stored, state)
            before = real_meta(app.backend, kept, cache=False)
        finally:
            app.backend.forget(kept)
        task_id = str(uuid.uuid4())
        response, seen, _ = _request(client, "get", f"/exports/{task_id}",
                                     flips={task_id: (before, gone, 1)})  # fmt: skip
        ok = getattr(response, "status_code", None) == 200
        data = response.json() if ok else None
        status = data.get("status") if isinstance(data, dict) else None
        if state == "SUCCESS" and status == "success" and data.get("result") == value:
            continue
        if state == "FAILURE" and status == "failure" and str(error) in data.values():
            continue
        said = data if data is not None else f"status {getattr(response, 'status_code', '?')}"
        waited = (" (its get() waited for a task the result backend no longer knows, and the "
                  "check stopped it)" if seen.waited else "")
        raise Fail(f"GET /exports/{{id}} for an export whose result expired while GET answered "
                   f"({state} for the first read of its record in the result backend, nothing "
                   f"there after: PENDING) answered {said!r}{waited}: it read the record a "
                   "second time "
                   f"for the {'value' if state == 'SUCCESS' else 'error'} (get_task_meta, then "
                   "AsyncResult(id).result), and the second read found nothing",
                   hint="read the record once and answer from that read alone: meta = "
                   "app.backend.get_task_meta(task_id), then meta[\"status\"] and "
                   "meta[\"result\"]; each further read asks the result backend again, and the "
                   "result may expire (result_expires) or be forgotten in between")


def _backend_errors() -> list[BaseException]:
    """What reading a task's state raises while the result backend is down: redis's
    ConnectionError (where redis is installed) and a plain TimeoutError."""
    errors: list[BaseException] = []
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:
        errors.append(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    else:
        errors.append(RedisConnectionError("Error 111 connecting to localhost:6379. "
                                           "Connection refused."))  # fmt: skip
    errors.append(TimeoutError("Timeout reading from socket"))
    return errors


_OUTAGE_HINT = ("let the error through: an unhandled exception answers 500 (or raise "
                "HTTPException(status_code=503)), so the client knows to try again later")


def _judge_backend_down(client: Any) -> None:
    """GET while the result backend is down: an error (5xx), never a status."""
    for error in _backend_errors():
        response, _, did = _request(client, "get", f"/exports/{uuid.uuid4()}",
                                    backend_down=error)  # fmt: skip
        problem = (f"GET /exports/{{id}} while the result backend was down (reading the "
                   f"task's state raised {type(error).__name__}: {error})")
        if isinstance(response, StillRunning):
            raise Fail(f"{problem} did not answer within {ANSWER_SECONDS:g} s",
                       hint=_OUTAGE_HINT + ": no retrying in the request")
        if response.status_code >= 500 or not did.failed_reads:
            continue
        try:
            said: Any = response.json()
        except ValueError:
            said = response.text
        status = said.get("status") if isinstance(said, dict) else None
        if status == "pending":
            raise Fail(f"{problem} answered {response.status_code} {said!r}: an outage is "
                       "hidden as an export that waits in the queue, and the client polls for "
                       "ever", hint=_OUTAGE_HINT)
        raise Fail(f"{problem} answered {response.status_code} {said!r}",
                   hint=_OUTAGE_HINT + ": a 2xx claims to know the export's state, a 4xx "
                   "blames the client")


def _post_refused(client: Any, user_id: int, rows: int) -> None:
    """POST one export while the broker refuses every message: an error (5xx), never 202."""
    body = {"user_id": user_id, "rows": rows}
    response, seen, did = _request(client, "post", "/exports", refuse=True, json=body)
    problem = ("POST /exports while the broker refused the message (send_task raised kombu's "
               "OperationalError)")
    hint = ("let the error through: an unhandled exception answers 500 (or raise "
            "HTTPException(status_code=503)), so the client knows the export was not queued "
            "and tries again later; never run the export in the web process instead (section "
            "4)")
    if seen.ran_here:
        raise Fail(f"{problem} ran the export in the request instead", hint=hint)
    if isinstance(response, StillRunning):
        raise Fail(f"{problem} did not answer within {ANSWER_SECONDS:g} s", hint=hint)
    if response.status_code >= 500 or not did.refused:
        return
    try:
        said: Any = response.json()
    except ValueError:
        said = response.text
    raise Fail(f"{problem} answered {response.status_code} {said!r}: nothing was queued, so no "
               "worker will ever run an export with that id (running it in a thread of the web "
               "process instead dies with the process, on a machine sized for web requests)",
               hint=hint)


#: How long the check waits for a copy of the web process to answer one POST: only a copy
#: that never answers is given up (and then nothing is judged from it).
COPY_SECONDS = 30.0
_SAME_ID_HINT = ("let Celery give every task a new, random id (export_users_csv.delay(...) "
                 "gives a uuid4): leave out task_id=, or pass task_id=str(uuid.uuid4())")


def _post_in_copy(exports: Any, clock_ns: int, answer_fd: int) -> None:
    """In a copy of this process: POST an export of user 42 with 3 rows, with the clock
    standing at ``clock_ns`` and the process id 1 (a web process in a container), and write
    the task id it answered (json) to ``answer_fd``. Its message is only recorded."""
    from fastapi.testclient import TestClient

    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the copy ends with os._exit
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    with (
        mock.patch("time.time", return_value=clock_ns / 1e9),
        mock.patch("time.time_ns", return_value=clock_ns),
        mock.patch("os.getpid", return_value=1),
        _watching_celery(park=True),
    ):
        response = TestClient(exports, raise_server_exceptions=False).post(
            "/exports", json={"user_id": 42, "rows": 3})
    data = response.json() if response.status_code == 202 else None
    os.write(answer_fd, json.dumps(data.get("task_id") if isinstance(data, dict) else None)
             .encode())


def _ids_of_copies(exports: Any) -> list[Any]:
    """The ids POST answered in two copies of this process (``os.fork``: the same code and the
    same state, as two web workers forked from one, or one web process after a restart), each
    asked for the same export at the same instant of their clocks; ``[]`` where processes
    cannot be copied (Windows), ``None`` for a copy that gave no id."""
    if not hasattr(os, "fork"):
        return []
    clock_ns = time.time_ns()
    copies = []
    for _ in range(2):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the copy: never returns into the check
            try:
                os.close(read_fd)
                _post_in_copy(exports, clock_ns, write_fd)
            finally:
                os._exit(0)
        os.close(write_fd)
        copies.append((pid, read_fd))
    found = []
    deadline = time.monotonic() + COPY_SECONDS
    for pid, read_fd in copies:
        chunks = []
        while select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_fd)
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        try:
            found.append(json.loads(b"".join(chunks)))
        except ValueError:
            found.append(None)
    return found


#: The random bits of Celery's own task ids (uuid4): an id of one's own needs as many.
RANDOM_BITS = 122
_UUID_IN = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                      r"[0-9a-fA-F]{12}")


def _id_bits(ids: list[str]) -> float:
    """About how many bits of the fewest any of ``ids`` can carry once the text all of them
    share at their start and at their end is left out: its length times log2 of the
    alphabet its characters come from (hex digits, letters and digits, ...)."""
    start = os.path.commonprefix(ids)
    end = os.path.commonprefix([task_id[::-1] for task_id in ids])
    cores = [task_id[len(start):len(task_id) - len(end) if end else None] for task_id in ids]
    chars = set("".join(cores))
    classes = ("0123456789", "abcdef", "ghijklmnopqrstuvwxyz", "ABCDEF", "GHIJKLMNOPQRSTUVWXYZ")
    size = (sum(len(letters) for letters in classes if chars & set(letters))
            + len({c for c in chars if not c.isalnum()}))  # fmt: skip
    return min(len(core) for core in cores) * math.log2(max(size, 2))


def _judge_randomness(ids: list[str]) -> None:
    """A Fail unless every id POST answered is as hard to hit twice as Celery's own (a uuid4:
    122 random bits): a whole uuid in it, or as many bits besides what all ids share."""
    if len(ids) < 2 or all(_UUID_IN.search(task_id) for task_id in ids):
        return
    bits = _id_bits(ids)
    if bits >= RANDOM_BITS:
        return
    short = next(task_id for task_id in ids if not _UUID_IN.search(task_id))
    raise Fail(f"POST /exports answered ids such as {short!r}: besides what all its ids share, "
               f"about {bits:.0f} bits (Celery's own ids, uuid4s, have {RANDOM_BITS} random "
               f"bits), so after some {2 ** (bits / 2):,.0f} exports two of them get the same "
               "id, and GET answers for one export with the other's result",
               hint=_SAME_ID_HINT)


def _judge_ids(client: Any, post: Any, exports: Any, ids: list[tuple[str, int, int]],
               extra: tuple[str, ...] = ()) -> str:
    """A Fail unless every export gets an id no other export can get: a user's second export
    of the same rows, and exports of two copies of the web process at the same instant; what
    was tried, for the verdict."""
    again = _post(client, post, 42, 3, run=False)
    if again in [task_id for task_id, _, _ in ids]:
        raise Fail(f"POST /exports answered the same id ({again}) for a second export of user "
                   "42 with 3 rows (the user asked again): an id made from the request "
                   "(a hash, a uuid5 of user and rows) is the same for the same request, so the "
                   "second export shares the first one's result",
                   hint=_SAME_ID_HINT)
    copies = _ids_of_copies(exports)
    if len(copies) == 2 and isinstance(copies[0], str) and copies[0] == copies[1]:
        raise Fail(f"POST /exports answered the same id ({copies[0]}) in two web processes "
                   "started from the same code (two web workers, or one process after a "
                   "restart), each asked for an export of user 42 at the same instant: an id "
                   "made from a counter, the clock or the process id is new only inside one "
                   "process, so one export overwrites the other's result",
                   hint=_SAME_ID_HINT)
    _judge_randomness([*[task_id for task_id, _, _ in ids], again, *extra,
                       *[task_id for task_id in copies if isinstance(task_id, str)]])
    both = len(copies) == 2 and all(isinstance(task_id, str) for task_id in copies)
    return (" (also for the same request again, and in two copies of the web process at one "
            "instant)" if both else " (also for the same request again)")


@exercise("12.1", "the export endpoints", points=3)
def _endpoints(exports: Any) -> str:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    if not isinstance(exports, FastAPI):
        raise Fail(f"got {kind(exports)}, not a FastAPI app",
                   hint="pass the app the routes are declared on: exports = FastAPI()")
    routes = _routes(exports)
    post = routes.get(("POST", "/exports"))
    get = routes.get(("GET", "/exports/{task_id}"))
    if post is None or get is None:
        have = ", ".join(f"{m} {p}" for m, p in sorted(routes)) or "none"
        raise Fail(f"the app needs POST /exports and GET /exports/{{task_id}} (it has: {have})",
                   hint="decorate with @exports.post(\"/exports\", status_code=202) and "
                   "@exports.get(\"/exports/{task_id}\")")
    if is_stub_body(post, unknown=False) or is_stub_body(get, unknown=False):
        raise NotYet("write the bodies of start_export and export_status")
    client = TestClient(exports, raise_server_exceptions=False)

    # an export the check queues itself: GET must know it as well as the POST's own
    own = export_users_csv.delay(99, rows=1, seconds_per_row=0.01)
    ids = [(_post(client, post, user, rows), user, rows)
           for user, rows in ((42, 3), (7, 2), (42, 2))]  # fmt: skip
    if ids[0][0] == ids[2][0]:
        raise Fail(f"POST /exports answered the same id ({ids[0][0]}) for two exports of user "
                   "42: the second export shares the first one's result, and GET answers for "
                   "whichever ran last",
                   hint="let Celery give every task a new id (export_users_csv.delay(...) "
                   "does): leave out task_id=")
    extra = tuple(_post(client, post, user, rows, run=False)  # judged as queued, never run
                  for user, rows in ((8, 0), (9, BIG_EXPORT_ROWS)))  # fmt: skip
    new_ids = _judge_ids(client, post, exports, ids, extra)
    _post_refused(client, 5, 4)
    for task_id, user_id, rows in [*ids, (own.id, 99, 1)]:
        result = app.AsyncResult(task_id)
        try:
            value = result.get(timeout=WAIT_SECONDS, propagate=False)
        except CeleryTimeoutError:
            raise Fail(f"no worker ran a task with the id POST /exports answered ({task_id}) "
                       f"within {WAIT_SECONDS:g} s",
                       hint='answer with the id of the task you queued: {"task_id": task.id}'
                       ) from None
        if result.name != export_users_csv.name or not isinstance(value, dict) or (
            value.get("rows") != rows or f"users-{user_id}.csv" not in value.get("url", "")
        ):
            raise Fail(f"the task queued for user {user_id} with {rows} rows gave {value!r}",
                       hint="pass the request's user_id and rows to export_users_csv.delay")

    stored: list[_Case] = []
    try:
        stored = _stored_cases()
        cases = [
            _Case(ids[0][0], "SUCCESS", "a finished export", app.AsyncResult(ids[0][0]).result),
            _Case(own.id, "SUCCESS", "an export the check queued itself", own.result, True),
            _Case(str(uuid.uuid4()), "PENDING", "an id the worker has not run"),
            *stored,
        ]
        answers = [_judge_get(client, get, case) for case in cases]
        for case, first in zip(cases, answers, strict=True):
            _ask_again(client, case, first)
        failed = next(case for case in stored if case.state == "FAILURE")
        for case in (cases[0], failed):
            _ask_forgotten(client, case)
        _judge_backend_down(client)
        _judge_race(client, cases[0].value)
    finally:
        for case in stored:
            app.backend.forget(case.task_id)
    return (f"202 with a new id at once{new_ids}, also while the workers are busy, the export "
            "queued as "
            "asked, an error while the broker refuses it; json status for PENDING, STARTED, "
            "PROGRESS, SUCCESS, FAILURE, RETRY and REVOKED, from the result backend, never "
            "waiting, the same when asked again, from one read of the task's record, and an "
            "error while the backend is down")


# --------------------------------------------------------------------------- 12.2

#: The four settings the exercise names, in the order the check compares them.
NAMED = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_RESULT_EXPIRES",
         "CELERY_TASK_ROUTES")  # fmt: skip


class _Hidden:
    """Settings behind a plain ``__getattr__``: nothing in its ``__dict__`` but the object it
    wraps, and ``dir()`` lists none of them (it has no ``__dir__``)."""

    def __init__(self, wrapped: Any) -> None:
        self.__dict__["_wrapped"] = wrapped

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_wrapped"], name)


class _Listed(_Hidden):
    """As :class:`_Hidden`, but ``dir()`` lists the wrapped object's names, as Django's
    ``LazySettings`` does."""

    def __dir__(self) -> list[str]:
        return dir(self.__dict__["_wrapped"])


def _settings(n: int) -> tuple[Any, Any]:
    """A Django-style settings object (Celery's settings carry the CELERY_ prefix): the plain
    object, and the object make_celery is given.

    Its settings sit where a project's do: some on the object itself, some on its class,
    some inherited from a base class (a ``base.py`` of shared settings), one class value
    hiding its base's; the second object is given behind a ``__getattr__`` that ``dir()``
    does not list. Besides the four the exercise names, it has other Celery settings, each
    away from Celery's default and from what an app is often forced to (json only, UTC,
    retry on startup), some of them false, 0, empty or None (where Celery's default is not).
    """
    base = type(f"BaseSettings{n}", (), {
        "CELERY_RESULT_EXPIRES": 600 * n,
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_TIME_LIMIT": 300 * n,
        "CELERY_ACCEPT_CONTENT": ["json", "msgpack"],
        "CELERY_WORKER_HIJACK_ROOT_LOGGER": False,
    })  # fmt: skip
    cls = type(f"ShopSettings{n}", (base,), {
        "CELERY_TASK_ROUTES": {f"shop{n}.tasks.*": {"queue": f"shop{n}"}},
        "CELERY_TASK_DEFAULT_QUEUE": f"shop{n}",
        "CELERY_TASK_SERIALIZER": "msgpack",
        "CELERY_RESULT_SERIALIZER": "msgpack",
        "CELERY_TIMEZONE": ("Europe/Paris", "Asia/Tokyo")[n - 1],
        "CELERY_ENABLE_UTC": False,
        "DEBUG": True,
    })  # fmt: skip
    settings = _fill(cls(), n)
    if n == 2:
        cls.CELERY_TASK_ACKS_LATE = False  # hides the base's True
        settings.CELERY_RESULT_EXPIRES = 0  # results never expire
        return settings, _Hidden(settings)
    return settings, settings


def _fill(settings: Any, n: int) -> Any:
    """Set the settings that sit on the object itself (the n-th object's values); the object."""
    settings.CELERY_BROKER_URL = f"redis://broker-{n}.example.com:6379/0"
    if n != 2:  # the second project stores no results: no result backend, Celery's default
        settings.CELERY_RESULT_BACKEND = f"redis://broker-{n}.example.com:6379/1"
    settings.CELERY_WORKER_CONCURRENCY = 2 + n
    settings.CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = False
    settings.CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # retry for ever (the default is 100)
    settings.MAIL_SENDER = f"shop{n}@example.com"
    return settings


def _celery_settings(settings: Any) -> dict[str, Any]:
    """``{"CELERY_BROKER_URL": ..., ...}``: every Celery setting of ``settings`` (a plain
    object), named first."""
    found = {key: getattr(settings, key) for key in dir(settings) if key.startswith("CELERY_")}
    return {key: found[key] for key in (*NAMED, *sorted(set(found) - set(NAMED)))
            if key in found}


def _conf_key(setting: str) -> str:
    return setting.removeprefix("CELERY_").lower()


def _differing(made: Any, wanted: dict[str, Any]) -> list[str]:
    """The settings of ``wanted`` that the app's configuration does not have."""
    return [key for key, value in wanted.items() if made.conf.get(_conf_key(key)) != value]


def _made(make_celery: Any, settings: Any) -> Any:
    """``make_celery(settings)``; a Fail if it made the new app Celery's current app, or its
    default app (the current app of every thread that has none of its own)."""
    current = _state.get_current_app()
    default = _state.default_app
    try:
        try:
            made = make_celery(settings)
        except AttributeError as exc:
            name = getattr(exc, "name", None) or next(
                (word.strip("'\"") for word in str(exc).split() if "CELERY_" in word), None)
            if not name or not name.startswith("CELERY_") or hasattr(settings, name):
                raise
            raise Fail(f"make_celery failed with AttributeError for a settings object that has no "
                       f"{name} (a project that stores no results has no result backend, and "
                       "Celery's default is none): it reads that setting whether it is there or "
                       f"not ({exc})",
                       hint="read only the settings the object has: config_from_object(settings, "
                       'namespace="CELERY") does, and needs no broker= nor backend= in '
                       "Celery(...)") from None
        became = _state.get_current_app()
        became_default = _state.default_app
    finally:
        _state._set_current_app(current)
        _state.default_app = default
    if made is not None and made is not app and became_default is made:
        raise Fail("make_celery made the new app Celery's default app (set_default()): every "
                   "other thread without an app of its own (the worker's threads, the web "
                   "server's thread pool) now gets the shop app as current_app, with the "
                   "shop's broker and backend",
                   hint='leave out set_default(): Celery("shop", set_as_current=False) and '
                   "config_from_object are all make_celery needs")
    if made is not None and made is not app and became is made:
        raise Fail("make_celery made the new app Celery's current app: in this process, "
                   "@shared_task tasks and AsyncResult(id) would now use the shop's broker "
                   "and backend instead of the course's app",
                   hint='Celery("shop", set_as_current=False): the course\'s app stays the '
                   "current one (section 2)")
    return made


def _judge_broker(made: Any, settings: Any) -> None:
    """A Fail unless the app's broker_url is the settings' CELERY_BROKER_URL."""
    namespace = getattr(made, "namespace", None)
    broker = made.conf.broker_url
    if broker == settings.CELERY_BROKER_URL:
        return
    if (broker is None and getattr(made, "_config_source", None) is None
            and made.conf.get("CELERY_BROKER_URL") == settings.CELERY_BROKER_URL):
        raise Fail("broker_url is None, and the app's configuration holds the settings under "
                   "their Django names (CELERY_BROKER_URL): make_celery copied them into the "
                   "app as they are named (conf.update, a copy of another app's conf.table()), "
                   "and Celery reads broker_url, not CELERY_BROKER_URL",
                   hint="let Celery read the object itself: config_from_object(settings, "
                   'namespace="CELERY") strips the prefix from every setting')
    if broker is None and namespace is None:
        raise Fail("broker_url is None: Celery did not read CELERY_BROKER_URL",
                   hint='pass namespace="CELERY" to config_from_object, so '
                   "CELERY_BROKER_URL is read as broker_url")
    source = getattr(made, "_config_source", None)
    if broker is None and isinstance(source, type):
        raise Fail(f"broker_url is None: make_celery configured the app from the settings' "
                   f"class {source.__name__}, not from the object it is given, and "
                   "CELERY_BROKER_URL is set on the object",
                   hint='pass the object itself: config_from_object(settings, namespace="CELERY")'
                   ": a class has none of what is set on its instances")
    if broker is None and namespace != "CELERY":
        raise Fail(f"broker_url is None with namespace={namespace!r}",
                   hint='the namespace is the settings\' prefix as written: "CELERY"')
    if broker is None:
        raise Fail("broker_url is None: make_celery did not read the CELERY_BROKER_URL of the "
                   "settings it is given",
                   hint='read the object itself: app.config_from_object(settings, '
                   'namespace="CELERY")')
    raise Fail(f"for CELERY_BROKER_URL={settings.CELERY_BROKER_URL!r}, broker_url is {broker!r}",
               hint="read the settings you are given: "
               'app.config_from_object(settings, namespace="CELERY")')


def _judge_settings(made: Any, settings: Any, wanted: dict[str, Any]) -> None:
    """A Fail naming the first CELERY_ setting the app lacks, and why it may lack it."""
    _judge_broker(made, settings)
    missing = _differing(made, wanted)
    if not missing:
        return
    got = {key: made.conf.get(_conf_key(key)) for key in missing}
    default = {key: DEFAULTS.get(_conf_key(key)) for key in missing}
    first = missing[0]
    problem = f"{_conf_key(first)} is {got[first]!r}, not {wanted[first]!r}"
    # a value other than Celery's default, or one put on app.conf (a default pinned again)
    changes = getattr(made.conf, "changes", {})
    forced = [key for key in missing if got[key] != default[key]]
    forced += [key for key in missing if key not in forced
               and _conf_key(key) in changes and changes[_conf_key(key)] == got[key]]
    if forced:
        key = forced[0]
        raise Fail(f"{_conf_key(key)} is {got[key]!r}, not {wanted[key]!r}: make_celery set it "
                   "itself (an argument of Celery(...), or a value put on app.conf), over the "
                   f"settings' {key}",
                   hint="leave the settings' values as they are: whatever the project sets in "
                   "its CELERY_ settings must reach the app; set a value of your own only where "
                   "the settings have none (if not hasattr(settings, \"CELERY_TIMEZONE\"): ...)")
    stripped = {key: key.lstrip("CELERY_").lower() for key in missing}  # noqa: B005 (its mistake)
    mangled = [key for key in missing if stripped[key] != _conf_key(key)
               and made.conf.get(stripped[key]) == wanted[key]]  # fmt: skip
    if mangled:
        key = mangled[0]
        raise Fail(f"{problem}: make_celery stored {key} as {stripped[key]!r}: "
                   'str.lstrip("CELERY_") strips any of those letters from the start, not the '
                   "prefix, so it eats into the name",
                   hint='remove the prefix with key.removeprefix("CELERY_") (or key[7:]), or '
                   'let Celery do it: config_from_object(settings, namespace="CELERY")')
    nones = {key for key, value in wanted.items()
             if value is None and DEFAULTS.get(_conf_key(key)) is not None}
    if nones and set(missing) <= nones:
        raise Fail(f"{problem} (Celery's default): make_celery skipped the settings whose value "
                   f"is None ({', '.join(sorted(nones))}), and None means something there "
                   "(no expiry, no limit, for ever)",
                   hint="copy every CELERY_ setting the object has, also None: test whether it "
                   "is there (hasattr, or a sentinel), not whether it is None "
                   '(config_from_object(settings, namespace="CELERY") does)')
    falsy = {key for key, value in wanted.items()
             if not value and value != DEFAULTS.get(_conf_key(key))}  # fmt: skip
    if falsy and set(missing) == falsy:
        raise Fail(f"{problem} (Celery's default): make_celery skipped the settings whose value "
                   f"is false, 0, empty or None ({', '.join(sorted(falsy))})",
                   hint="copy every CELERY_ setting, whatever its value: False, 0 and None are "
                   'settings too (config_from_object(settings, namespace="CELERY") reads them)')
    own = {key for key in vars(settings) if key.startswith("CELERY_")}
    inherited = set(wanted) - own
    if own and not own & set(missing) and inherited <= set(missing):
        raise Fail(f"{problem}: make_celery read only the settings set on the object itself "
                   f"({', '.join(sorted(own & set(wanted)))}), not those its class defines or "
                   "inherits",
                   hint="read them as attributes (getattr), as config_from_object(settings, "
                   'namespace="CELERY") does: vars(settings) and settings.__dict__ miss '
                   "class settings, and Django's settings hold none in their __dict__")
    if not isinstance(settings, _Hidden):
        where = {key: next((c for c in type(settings).__mro__ if key in vars(c)), None)
                 for key in wanted if key not in vars(settings)}  # fmt: skip
        based = {key for key, c in where.items() if c is not None and c is not type(settings)}
        if based and set(missing) == based:
            bases = sorted({where[key].__name__ for key in missing})
            raise Fail(f"{problem}: make_celery read the settings on the object and on its "
                       f"class, not those it inherits from a base class ({', '.join(bases)}: "
                       f"{', '.join(sorted(missing))})",
                       hint="read them as attributes (getattr(settings, name) finds a setting "
                       "wherever it sits: the object, its class, any base class), as "
                       'config_from_object(settings, namespace="CELERY") does; vars() of the '
                       "object and of its class miss the bases")
    if not set(missing) & set(NAMED):
        raise Fail(f"{problem}: {first} was not read",
                   hint="load every CELERY_ setting, not only the four the exercise names: "
                   'app.config_from_object(settings, namespace="CELERY")')
    raise Fail(problem, hint="load every CELERY_ setting: "
               'app.config_from_object(settings, namespace="CELERY")')


def _stale(make_celery: Any, settings: Any) -> tuple[str, Any, Any] | None:
    """``(setting, what the app has, what the settings say)`` for the first CELERY_ setting
    that the app ``make_celery(settings)`` returns lacks, or ``None``."""
    made = _made(make_celery, settings)
    wanted = _celery_settings(settings)
    missing = _differing(made, wanted) if isinstance(made, Celery) else []
    if not missing:
        return None
    return missing[0], made.conf.get(_conf_key(missing[0])), wanted[missing[0]]


def _judge_read_again(make_celery: Any, first: Any) -> None:
    """A Fail unless make_celery reads the object it is given on every call: a third object of
    the first one's class (values of its own on the object), then the first object after one
    of its settings changed (as Django's override_settings does)."""
    cls = type(first)
    stale = _stale(make_celery, _fill(cls(), 3))
    if stale:
        key, got, wanted = stale
        raise Fail(f"for another settings object of the class {cls.__name__} (with its own "
                   f"{key} on the object, as each test or tenant has), the app's "
                   f"{_conf_key(key)} is {got!r}, not {wanted!r}: make_celery gave it what it "
                   "had read for another object of that class",
                   hint="read the object you are given on every call: no cache keyed by its "
                   "class (a dict of type(settings), functools.cache on a helper); "
                   'config_from_object(settings, namespace="CELERY") on a new app')
    first.CELERY_BROKER_URL = "redis://broker-1-override.example.com:6379/0"
    first.CELERY_TASK_DEFAULT_QUEUE = "shop1-override"
    stale = _stale(make_celery, first)
    if stale:
        key, got, wanted = stale
        raise Fail(f"after settings of the first object changed ({key} is now {wanted!r}, as "
                   "Django's override_settings changes them in a test), make_celery(settings) "
                   f"gave an app whose {_conf_key(key)} is {got!r}: it reused what it had read "
                   "from that object on an earlier call",
                   hint="read the settings on every call: no cache keyed by the object "
                   "(id(settings), a dict, functools.cache); config_from_object(settings, "
                   'namespace="CELERY") on a new app')


@exercise("12.2", "Celery settings from a settings object", points=2)
def _namespace(make_celery: Any) -> str:
    if not callable(make_celery):
        raise Fail(f"got {kind(make_celery)}, not a function",
                   hint="define def make_celery(settings): ...")
    apps: list[tuple[Any, dict[str, Any]]] = []
    first_settings: Any = None
    for n in (1, 2):
        plain, settings = _settings(n)
        wanted = _celery_settings(plain)
        made = _made(make_celery, settings)
        if made is None and is_stub_body(make_celery, unknown=False):
            raise NotYet("write the body of make_celery")
        if made is app:
            raise Fail("make_celery returned the course's own app, reconfigured",
                       hint="create a new app: Celery(\"shop\", set_as_current=False)")
        if not isinstance(made, Celery):
            raise Fail(f"make_celery returned {kind(made)}, not a Celery app",
                       hint="return the Celery app you configured")
        if apps and made is apps[0][0]:
            broker = made.conf.broker_url
            how = ("again, still configured from the first settings object"
                   if broker != settings.CELERY_BROKER_URL else
                   "again, reconfigured: the app the first call returned now has the second "
                   "settings")  # fmt: skip
            raise Fail(f"make_celery returned the app of its first call {how} (broker_url is "
                       f"{broker!r})",
                       hint="make a new app on every call: Celery(\"shop\", "
                       "set_as_current=False) inside make_celery, so each settings object gets "
                       "an app of its own")
        source = getattr(made, "_config_source", None)
        if isinstance(source, str):
            raise Fail(f"make_celery configured the app from {source!r}, not from the settings "
                       "object it is given",
                       hint="pass the object itself: config_from_object(settings, "
                       'namespace="CELERY"); a string names a module to import')
        try:
            _judge_settings(made, settings, wanted)
        except Fail as fail:
            if not isinstance(settings, _Hidden):
                raise
            missing = _differing(made, wanted)  # before the next call, which may change it
            had = {key: made.conf.get(_conf_key(key)) for key in missing}
            listed = _made(make_celery, _Listed(plain))
            if missing and _differing(made, wanted) != missing:
                key = missing[0]
                raise Fail(f"make_celery's apps share one configuration: the app it returned "
                           f"for one settings object changed when it was called with another "
                           f"({_conf_key(key)} went from {had[key]!r} to "
                           f"{made.conf.get(_conf_key(key))!r})",
                           hint="give each call an app with a configuration of its own: no "
                           "module-level class or dict filled from each settings object; "
                           'Celery("shop", set_as_current=False) and config_from_object('
                           'settings, namespace="CELERY") inside make_celery') from None
            if missing and isinstance(listed, Celery) and not _differing(listed, wanted):
                key = _conf_key(missing[0])
                raise Fail(f"for settings served by a __getattr__ that dir() does not list, "
                           f"{key} is {had[missing[0]]!r}, not {wanted[missing[0]]!r}: "
                           "make_celery read only the names dir(settings) lists",
                           hint="ask for each setting by its name, as config_from_object("
                           'settings, namespace="CELERY") does when broker_url is read: dir() '
                           "lists only what an object chooses to list") from None
            raise fail from None
        if not apps:
            first_settings = settings
        apps.append((made, wanted))
    first, wanted = apps[0]
    changed = _differing(first, wanted)
    if changed:
        key = _conf_key(changed[0])
        raise Fail(f"after the second call, the first app's {key} is {first.conf.get(key)!r}, "
                   f"not {wanted[changed[0]]!r}: the two apps share their configuration",
                   hint="give each call an app of its own, with a configuration of its own: "
                   'Celery("shop", set_as_current=False) inside make_celery')
    if app.conf.broker_url == _settings(2)[0].CELERY_BROKER_URL:
        raise Fail("the course's app now has the example broker", hint="never reconfigure it")
    again = _made(make_celery, first_settings)
    if again is first:
        raise Fail("make_celery returned the same app when called twice with the same settings "
                   "object (a cache): every caller shares one app, and what one of them "
                   "configures on it reaches the others",
                   hint="make a new app on every call, as the exercise says: no cache "
                   "(functools.lru_cache, a dict), Celery(\"shop\", set_as_current=False) "
                   "inside make_celery")
    _judge_read_again(make_celery, first_settings)
    return ("every CELERY_* setting read, false and 0 included, from the instance, its class "
            "and a base class, and through a __getattr__ that dir() does not list; a new app "
            "on each call, also for the same settings twice, neither the current nor the default "
            "one, and the settings read again on every call (another object of the same class, "
            "an object whose settings changed)")


# --------------------------------------------------------------------------- 12.3

IO_POOLS = ("threads", "gevent", "eventlet")
#: The core counts the check asks about: a choice that ignores ``cores`` shows on one of them.
CORES = (2, 3, 4, 8)
#: The concurrency from which threads or prefork processes are "hundreds at once", the work
#: section 5 gives to gevent or eventlet (a green thread each, in one process).
HUNDREDS = 100
#: Downloads sent to the worker started with the I/O choice (for 2 cores), 0.5 s each.
DOWNLOADS = 8


def _answer(choose_pool: Any, kind_: str, cores: int) -> tuple[str, int]:
    # this machine has one core while choose_pool runs: an answer that reads os.cpu_count()
    # instead of ``cores`` is wrong on every machine, whatever this one has
    with (
        mock.patch("os.cpu_count", return_value=1),
        mock.patch("multiprocessing.cpu_count", return_value=1),
    ):
        answer = choose_pool(kind_, cores)
    if answer is None and is_stub_body(choose_pool, unknown=False):
        raise NotYet("write the body of choose_pool")
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str)):
        raise Fail(f"choose_pool({kind_!r}, {cores}) returned {answer!r}",
                   hint='return a tuple (pool, concurrency), e.g. ("prefork", 4)')
    if type(answer[1]) is not int:
        raise Fail(f"choose_pool({kind_!r}, {cores}) returned {answer!r}: the concurrency is "
                   f"{kind(answer[1])}, not an int",
                   hint="the concurrency is a number of processes or threads, a whole number: "
                   "celery worker -c takes an int (round a formula with int() or //)")
    return answer[0].lower(), answer[1]


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    """The most tasks that were running at the same moment, from their start and finish."""
    events = sorted([(r["started"], 1) for r in runs] + [(r["finished"], -1) for r in runs])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


@exercise("12.3", "choose a pool", points=2)
def _pools(choose_pool: Any) -> str:
    if not callable(choose_pool):
        raise Fail(f"got {kind(choose_pool)}, not a function",
                   hint="define def choose_pool(kind, cores): ...")
    for cores in CORES:
        pool, concurrency = _answer(choose_pool, "cpu", cores)
        if pool in IO_POOLS:
            raise Fail(f"for CPU-bound work on {cores} cores you chose {pool}",
                       hint="threads and green threads share one GIL: only prefork's "
                       "processes compute in parallel")
        if pool != "prefork":
            raise Fail(f"for CPU-bound work on {cores} cores you chose {pool}",
                       hint="solo runs one task at a time: use prefork")
        if concurrency != cores:
            raise Fail(f"for CPU-bound work on {cores} cores you chose prefork -c {concurrency}",
                       hint="one process per core: more only take turns, fewer leave cores idle")
    chosen = {}
    for cores in CORES:
        pool, concurrency = chosen[cores] = _answer(choose_pool, "io", cores)
        if pool == "solo":
            raise Fail(f"for I/O-bound work you chose solo -c {concurrency}",
                       hint="solo waits for one download at a time: use threads")
        if pool not in (*IO_POOLS, "prefork"):
            raise Fail(f"{pool!r} is not a Celery pool", hint="threads, for I/O-bound work")
        if concurrency < 4 * cores:
            same = [c for c, (_, n) in chosen.items() if c != cores and n == concurrency]
            also = f" (as for {same[0]} cores)" if same else ""
            cheap = ("; threads do it cheaply, in one process, where prefork needs a process "
                     "per task" if pool == "prefork" else "")
            raise Fail(f"for I/O-bound work on {cores} cores you chose {pool} -c "
                       f"{concurrency}{also}",
                       hint="waiting tasks use no CPU: run many more than the cores (at least "
                       f"{4 * cores} here, so grow it with the cores){cheap}")
        if pool in ("threads", "prefork") and concurrency >= HUNDREDS:
            each = ("a thread, with its own stack, all taking turns at one GIL"
                    if pool == "threads" else "a process, with an interpreter of its own")
            raise Fail(f"for I/O-bound work on {cores} cores you chose {pool} -c {concurrency}: "
                       f"hundreds at once, each {each}",
                       hint="hundreds of waits at once are gevent's or eventlet's work (section "
                       f"5); with {pool}, stay well above the cores but under {HUNDREDS} "
                       "(10 per core, say)")
    for fewer, more in zip(CORES, CORES[1:], strict=False):
        (_, few), (pool, many) = chosen[fewer], chosen[more]
        if many <= few:
            same = "the same as" if many == few else "fewer than"
            raise Fail(f"for I/O-bound work on {more} cores you chose {pool} -c {many}, {same} "
                       f"on {fewer} cores (-c {few}): the concurrency does not grow with the "
                       "cores, so a bigger machine gets no more work done at once (and on a big "
                       "enough one it falls below the cores)",
                       hint="size it to the machine (section 3, scaling out): a multiple of the "
                       f"cores, well above them (10 per core, say), under {HUNDREDS}")
    pool, concurrency = chosen[2]
    if pool in ("gevent", "eventlet") and importlib.util.find_spec(pool) is None:
        raise Fail(f"{pool} is not installed here, so a worker cannot use it",
                   hint=f"pip install {pool}, or choose threads")
    # a prefork worker gets one child per download: more would only sit idle for this batch
    started = min(concurrency, DOWNLOADS) if pool == "prefork" else concurrency
    lab = processes.start(pool=pool, concurrency=started, queues=("check-12",), name="check12")
    try:
        results = [lab.app.send_task("course_tasks.tasks.workload.fetch", args=(f"u{i}", 0.5))
                   for i in range(DOWNLOADS)]
        runs = [r.get(timeout=WAIT_SECONDS) for r in results]
    finally:
        lab.stop()
    most = _most_at_once(runs)
    if most < DOWNLOADS // 2:
        raise Fail(f"of {DOWNLOADS} downloads of 0.5 s on {pool} -c {started}, at most {most} "
                   "ran at the same time",
                   hint="the waits did not overlap: raise the concurrency")
    note = f" (started with {started} children, one per download)" if started != concurrency else ""
    grows = ", ".join(str(chosen[cores][1]) for cores in CORES)
    return (f"prefork -c cores for CPU on {', '.join(map(str, CORES))} cores; for I/O {grows}, "
            f"growing with the cores; {pool} -c {concurrency}{note} overlapped the {DOWNLOADS} "
            "waits of 0.5 s")


# --------------------------------------------------------------------------- 12.4

#: The longest task of the project in exercise 12.4: a stop must give it time to finish.
LONGEST_TASK_SECONDS = 300
#: systemd's DefaultTimeoutStopSec, used when a unit sets neither TimeoutStopSec nor TimeoutSec.
SYSTEMD_STOP_SECONDS = 90
#: Settings of [Service] (and of [Install]) that a unit may put in the wrong section.
SECTION_OF = {
    **dict.fromkeys(("Type", "User", "Group", "WorkingDirectory", "Environment",
                     "EnvironmentFile", "ExecStart", "ExecStop", "ExecReload", "PIDFile",
                     "Restart", "RestartSec", "KillSignal", "KillMode", "TimeoutStopSec",
                     "TimeoutSec", "TimeoutStartSec"), "Service"),
    **dict.fromkeys(("WantedBy", "RequiredBy", "Alias"), "Install"),
}  # fmt: skip
#: [Service] settings a worker's unit may have besides those the check judges one by one
#: (_judge_extras): they leave its start, its restarts and its warm stop alone. Any other
#: setting is judged, or refused as one the check does not know.
HARMLESS = frozenset((
    "Type", "User", "Group", "SupplementaryGroups", "WorkingDirectory", "Environment",
    "EnvironmentFile", "PassEnvironment", "UnsetEnvironment", "ExecStart", "ExecStop",
    "PIDFile", "Restart", "RestartSec", "KillSignal", "KillMode", "SendSIGKILL",
    "TimeoutStopSec", "TimeoutSec", "TimeoutStartSec",
    "TimeoutAbortSec", "RuntimeDirectory", "RuntimeDirectoryMode", "RuntimeDirectoryPreserve",
    "StateDirectory", "LogsDirectory", "CacheDirectory", "ConfigurationDirectory",
    "StandardOutput", "StandardError", "SyslogIdentifier", "SyslogFacility", "SyslogLevel",
    "Nice", "IOSchedulingClass", "IOSchedulingPriority", "CPUSchedulingPolicy", "LimitNOFILE",
    "LimitNPROC", "LimitCORE", "LimitMEMLOCK", "UMask", "PrivateTmp", "PrivateDevices",
    "ProtectSystem", "ProtectHome", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
    "NoNewPrivileges", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths",
    "CapabilityBoundingSet", "RestrictAddressFamilies", "RestrictNamespaces",
    "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "MemoryMax", "MemoryHigh",
    "MemoryLimit", "CPUQuota", "CPUWeight", "TasksMax", "Slice", "OOMScoreAdjust",
))  # fmt: skip
#: [Unit] settings a worker's unit may have: its description, its order and its dependencies
#: (those that start beat are judged by _judge_pulls_in), conditions. The start rate limits
#: (StartLimit*) are judged; any other setting is refused as one the check does not know.
UNIT_HARMLESS = frozenset((
    "Description", "Documentation", "After", "Before", "Wants", "Requires", "Requisite",
    "BindsTo", "PartOf", "Upholds", "Conflicts", "ConditionPathExists",
    "ConditionPathIsDirectory", "ConditionFileIsExecutable", "AssertPathExists",
    "AssertPathIsDirectory", "AssertFileIsExecutable",
))  # fmt: skip
#: systemd's default start rate limit: DefaultStartLimitBurst starts in
#: DefaultStartLimitIntervalSec seconds.
DEFAULT_START_BURST, DEFAULT_START_INTERVAL = 5, 10
#: The longest TimeoutStopSec the check takes as "a stop must end": a day.
LONGEST_STOP_SECONDS = 86400
#: Shell operators: systemd runs no shell, so in ExecStart they reach celery as arguments.
_SHELL_WORDS = frozenset(("&", "&&", "|", "||", ";", "|&", ";;"))
#: Settings of [Unit] and [Install] that start another unit with this one.
PULLS_IN = ("Wants", "Requires", "Requisite", "BindsTo", "Upholds", "PartOf", "Also")
#: Celery's placeholders (node name, log file) that systemd, reading the unit, replaces with
#: its own specifiers first: what systemd puts there.
SPECIFIERS = {
    "h": "the home directory of the user systemd runs as (/root for the system manager)",
    "n": "the unit's full name (celery-worker.service)",
    "N": "the unit's name without its suffix (celery-worker)",
    "d": "the credentials directory",
    "i": "the instance name, empty for a unit that is not a template",
    "I": "the instance name, empty for a unit that is not a template",
    "p": "the unit's prefix name (celery-worker)",
}
CELERY_MEANS = {"h": "the host name", "n": "the node's name", "N": "the node's name",
                "d": "the domain", "i": "the pool process index",
                "I": "the pool process index with its separator", "p": "the full node name"}
_EXEC_PREFIX = re.compile(r"[-@:+!]*")
#: What goes wrong with a Type= that does not fit a worker in the foreground.
TYPE_TROUBLE = {
    "oneshot": ": systemd waits for the command to exit before the unit counts as started, "
    "and a worker never exits",
    "notify": ": systemd waits for a READY=1 notification that celery never sends, then "
    "kills the worker after TimeoutStartSec",
    "dbus": ": systemd waits for a D-Bus name that celery never takes",
}
_SPAN_UNITS = {
    "": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "usec": 1e-6, "µs": 1e-6,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
    "M": 2629800, "month": 2629800, "months": 2629800,
    "y": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
_SPAN_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-zµ]*)")


def _span_seconds(text: str, zero: float = math.inf) -> float | None:
    """A systemd time span (``600``, ``10min``, ``5min 30s``, ``infinity``) in seconds;
    ``None`` if systemd would not read it. ``0`` disables a timeout, as ``infinity`` (pass
    ``zero=0`` for a delay, where 0 is none)."""
    text = text.strip()
    if text == "infinity":
        return math.inf
    total, pos = 0.0, 0
    while pos < len(text):
        match = _SPAN_PART.match(text, pos)
        if match is None or match.group(2) not in _SPAN_UNITS:
            return None
        total += float(match.group(1)) * _SPAN_UNITS[match.group(2)]
        pos = match.end()
    if not text:
        return None
    return zero if total == 0 else total


def _signal_name(text: str) -> str | None:
    """``QUIT`` for ``QUIT``, ``SIGQUIT``, ``3``; ``None`` if it names no signal."""
    text = text.upper().removeprefix("SIG")
    if text.isdigit():
        try:
            return signal.Signals(int(text)).name.removeprefix("SIG")
        except ValueError:
            return None
    return text if hasattr(signal.Signals, f"SIG{text}") else None


def _signals_sent(command: str) -> list[str]:
    """The signals a command line sends with kill, pkill, killall (``TERM`` if none is named),
    also inside ``sh -c '...'``."""
    try:
        words = shlex.split(command.lstrip("-@+!:"))
    except ValueError:
        words = command.split()
    sent = []
    for i, word in enumerate(words):
        if " " in word:  # the script of sh -c '...'
            sent += _signals_sent(word)
            continue
        if Path(word).name not in ("kill", "pkill", "killall", "skill"):
            continue
        chosen = "TERM"
        rest = iter(words[i + 1:])
        for arg in rest:
            if not arg.startswith("-") or arg == "--":
                break
            if arg in ("-s", "--signal"):
                arg = "-" + next(rest, "")
            elif arg.startswith("--signal="):
                arg = "-" + arg.split("=", 1)[1]
            elif arg.startswith("-s") and len(arg) > 2 and _signal_name(arg[2:]):
                arg = "-" + arg[2:]
            name = _signal_name(arg[1:])
            if name is not None:
                chosen = name
        sent.append(chosen)
    return sent


def _runs_beat(args: list[str]) -> bool:
    """Whether worker options hold ``-B``/``--beat`` (also grouped, as ``-BE``)."""
    return any(
        arg in ("-B", "--beat")
        or (arg.startswith("-") and not arg.startswith("--") and "B" in arg
            and set(arg[1:]) <= set("BE"))
        for arg in args
    )  # fmt: skip


def _verify(text: str) -> list[str]:
    """Complaints of ``systemd-analyze verify`` about the unit (none if it is not installed)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "course-check-worker.service"
        path.write_text(text)
        done = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True,
                              timeout=20)
    return [line for line in (done.stderr + done.stdout).splitlines() if path.name in line]


_KILLMODE_HINT = ("KillMode=mixed: systemd sends TERM to the main process only, which stops "
                  "its pool children itself once their tasks are done (a warm shutdown), and "
                  "SIGKILLs whatever is left after TimeoutStopSec")


def _assignments(text: str, section: str) -> list[tuple[str, str]]:
    """The ``Key=value`` lines of ``[section]``, in order, as systemd reads them (comment lines,
    continuation lines ending in a backslash); a key may come more than once."""
    found: list[tuple[str, str]] = []
    current, pending = None, ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and "=" in line:
            key, value = line.split("=", 1)
            found.append((key.strip(), value.strip()))
    return found


_FALSE = ("0", "no", "n", "false", "f", "off")
_SHELLS = ("sh", "bash", "dash", "zsh", "ksh")
#: A shell redirection word (``>>``, ``2>&1``, ``>log``): no new process.
_REDIRECT = re.compile(r"\d*(>>?|<)(&\d+|\S*)")


def _shell_script(command: list[str]) -> str | None:
    """The script of ``sh -c '...'`` (any shell, also ``bash -lc``), or ``None``."""
    if Path(command[0]).name not in _SHELLS:
        return None
    for i, arg in enumerate(command[1:-1], start=1):
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
            return command[i + 1]
    return None


def _exec_command(script: str) -> list[str] | None:
    """The command of a script ``exec COMMAND ...`` with no pipe, list or substitution: the
    shell replaces itself with it, so COMMAND is the main process. ``None`` otherwise."""
    try:
        words = shlex.split(script)
    except ValueError:
        return None
    special = [word for word in words if any(c in word for c in "|;&`$()")]
    if not words or words[0] != "exec" or not all(_REDIRECT.fullmatch(w) for w in special):
        return None
    command, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif _REDIRECT.fullmatch(word):
            skip = not _REDIRECT.fullmatch(word).group(2)  # "> file": the file is the next word
        else:
            command.append(word)
    return command or None


def _broadcast(command: str) -> str | None:
    """What a stop command reaches beyond this unit's worker: ``celery control shutdown``
    without a destination, ``pkill``/``killall`` by name (also inside ``sh -c '...'``)."""
    try:
        words = shlex.split(command.lstrip("-@+!:"))
    except ValueError:
        words = command.split()
    for i, word in enumerate(words):
        if " " in word:  # the script of sh -c '...'
            found = _broadcast(word)
            if found:
                return found
        if Path(word).name in ("pkill", "killall", "skill"):
            return ("signals every process of that name on the machine: the pool children "
                    "(which die mid-task) and the workers of every other unit")
        if word == "control" and "shutdown" in words[i + 1:] and not any(
            w in ("-d", "--destination") or w.startswith("--destination=") for w in words
        ):
            return ("broadcasts shutdown to every worker connected to the broker, on every "
                    "machine, each time this one unit stops")
    return None


def _runs_celery(command: str) -> bool:
    """Whether a command line runs celery (also inside ``sh -c '...'``)."""
    try:
        words = shlex.split(command.lstrip("-@+!:"))
    except ValueError:
        words = command.split()
    return any(Path(word).name == "celery" or (" " in word and _runs_celery(word))
               for word in words)


def _judge_start_limits(unit: configparser.ConfigParser) -> None:
    """A Fail if a start rate limit ([Unit], or [Service] as older systemd read it) is stricter
    than systemd's default, or acts beyond refusing the start: a worker that dies must come
    back."""
    for section in ("Unit", "Service"):
        values = unit[section]
        action = values.get("StartLimitAction")
        if action is not None and action != "none":
            raise Fail(f"StartLimitAction={action} in [{section}]: when the worker restarts "
                       "too often, systemd does that to the machine",
                       hint="leave out StartLimitAction")
        interval_key = next((k for k in ("StartLimitIntervalSec", "StartLimitInterval")
                             if k in values), None)
        burst_text = values.get("StartLimitBurst")
        if interval_key is None and burst_text is None:
            continue
        interval = (_span_seconds(values[interval_key]) if interval_key is not None
                    else DEFAULT_START_INTERVAL)
        if interval == math.inf:  # 0 or infinity: no rate limit
            continue
        try:
            burst = int(burst_text) if burst_text is not None else DEFAULT_START_BURST
        except ValueError:
            burst = None
        said = " and ".join(f"{k}={values[k]}" for k in (interval_key, "StartLimitBurst")
                            if k is not None and k in values)
        if interval is None or burst is None:
            raise Fail(f"{said} in [{section}] is not a start limit systemd reads",
                       hint="leave out the StartLimit settings (or StartLimitIntervalSec=0)")
        if burst / interval < DEFAULT_START_BURST / DEFAULT_START_INTERVAL:
            raise Fail(f"{said} in [{section}]: systemd refuses more than {burst} start(s) "
                       f"in {interval:g} s, and an automatic restart counts as a start, so a "
                       "worker that dies soon after starting (a broker down for a minute, say) "
                       "stays down",
                       hint="leave out the StartLimit settings (systemd's default is 5 starts "
                       "in 10 s) or turn the limit off with StartLimitIntervalSec=0: a worker "
                       "that dies must come back")


def _check_stop(service: configparser.SectionProxy, lines: list[tuple[str, str]]) -> None:
    """A Fail unless ``systemctl stop`` is a warm shutdown of this worker, with time for the
    longest task, and then ends (``lines``: the [Service] assignments in order)."""
    signal_ = service.get("KillSignal", "SIGTERM")
    if signal_ not in ("SIGTERM", "TERM", "15"):
        if _signal_name(signal_) == "HUP":
            raise Fail(f"KillSignal={signal_}: {_SIGNAL_DOES['HUP']}, so systemctl stop never "
                       "ends the worker until TimeoutStopSec runs out and systemd SIGKILLs it, "
                       "mid-task",
                       hint="leave KillSignal at SIGTERM: a warm shutdown lets tasks finish")
        raise Fail(f"KillSignal={signal_} stops the worker cold",
                   hint="leave KillSignal at SIGTERM: a warm shutdown lets tasks finish")
    stop = service.get("ExecStop")
    reach = _broadcast(stop or "")
    if reach:
        raise Fail(f"ExecStop={stop} {reach}",
                   hint="leave out ExecStop: systemctl stop then sends KillSignal=SIGTERM to "
                   "this worker's main process only")
    if _runs_celery(stop or ""):
        raise Fail(f"ExecStop={stop} runs celery to stop the worker: a remote control "
                   "command goes through the broker (no broker, no stop), reaches the worker "
                   "only if its node name matches, and systemd then sends KillSignal "
                   "all the same",
                   hint="leave out ExecStop: systemctl stop sends KillSignal=SIGTERM to this "
                   "worker's main process, a warm shutdown")
    mode = service.get("KillMode")
    if mode is None or mode == "control-group":
        said = ("leaves KillMode at systemd's default, control-group" if mode is None
                else "has KillMode=control-group")
        raise Fail(f"the unit {said}: systemctl stop sends TERM to every process of the "
                   "service at once, and each prefork child, which does not take TERM as a "
                   "warm shutdown, dies mid-task",
                   hint=_KILLMODE_HINT)
    if mode == "process":
        raise Fail("KillMode=process signals the main process only, also with the final "
                   "SIGKILL: if the main process dies, its pool children are left running, "
                   "orphaned, outside systemd's stop",
                   hint=_KILLMODE_HINT)
    if mode == "none":
        raise Fail("KillMode=none: systemctl stop signals no process, the worker keeps running",
                   hint=_KILLMODE_HINT)
    if mode != "mixed":
        raise Fail(f"KillMode={mode} is not a kill mode systemd knows", hint=_KILLMODE_HINT)
    # systemd applies the lines in order: TimeoutSec= sets the stop timeout too, the last wins
    timeout: tuple[str, str] | None = None
    hidden: tuple[str, str] | None = None
    for key, value in lines:
        if key in ("TimeoutStopSec", "TimeoutSec"):
            if timeout is not None and timeout[0] != key:
                hidden = timeout
            timeout = (key, value) if value else None
    longest = f"{LONGEST_TASK_SECONDS // 60}-minute"
    hint = (f"TimeoutStopSec= longer than the longest task ({LONGEST_TASK_SECONDS // 60} "
            "minutes here), e.g. TimeoutStopSec=600")
    if timeout is None:
        raise Fail(f"the unit has no TimeoutStopSec: systemd waits its default "
                   f"{SYSTEMD_STOP_SECONDS} s, then SIGKILLs the worker with its {longest} "
                   "tasks half-way", hint=hint)
    key, value = timeout
    seconds = _span_seconds(value)
    if seconds is None:
        raise Fail(f"{key}={value} is not a time span systemd reads", hint=hint + " (or 10min)")
    if seconds == math.inf:
        raise Fail(f"{key}={value}: systemd never kills what is left, so a task that hangs "
                   "keeps systemctl stop (and every deploy, every reboot) waiting for ever",
                   hint="a stop must end: " + hint + "; after it systemd SIGKILLs what is left")
    if seconds > LONGEST_STOP_SECONDS:
        months = (" (systemd reads M as months, m or min as minutes)"
                  if re.search(r"\dM", value.replace(" ", "")) else "")
        raise Fail(f"{key}={value} is {seconds / 86400:g} days{months}: a task that hangs keeps "
                   "systemctl stop (and every deploy, every reboot) waiting that long before "
                   "systemd kills what is left",
                   hint="a stop must end: " + hint + " (minutes are m or min, never M)")
    if seconds <= LONGEST_TASK_SECONDS:
        before = ""
        if hidden is not None and (_span_seconds(hidden[1]) or 0) > LONGEST_TASK_SECONDS:
            before = (f" ({key}= comes after {hidden[0]}={hidden[1]} and sets the stop timeout "
                      "too: systemd applies the lines in order, the last one wins)")
            hint += ", as the last line that sets it (TimeoutSec= sets the stop timeout too: "
            hint += "bound the start alone with TimeoutStartSec=)"
        raise Fail(f"{key}={value} ({seconds:g} s){before}: systemd SIGKILLs the worker before "
                   f"a {longest} task can finish", hint=hint)
    sent = _signals_sent(stop or "")
    if sent:
        raise Fail(f"ExecStop={stop} sends SIG{sent[0]} to the worker at every stop and "
                   f"restart{_EXECSTOP_TERM if sent[0] == 'TERM' else ': '}"
                   + ("" if sent[0] == "TERM" else _SIGNAL_DOES.get(sent[0], _SIGNAL_OTHER)),
                   hint="leave out ExecStop: systemctl stop (and restart) sends "
                   "KillSignal=SIGTERM to this worker's main process, the whole warm stop; "
                   "nothing else in the unit signals the worker")
    kill = [value for key, value in lines if key == "SendSIGKILL"]
    if kill and kill[-1].lower() in _FALSE:
        raise Fail(f"SendSIGKILL={kill[-1]}: when {key} runs out, systemd leaves what is left "
                   "running instead of killing it, so a task that hangs keeps the old worker "
                   "alive, next to the one the next start brings",
                   hint="leave out SendSIGKILL (it is yes by default): a stop must end")


def _judge_detached(service: configparser.SectionProxy, command: list[str], kind_: str,
                    options: Any, project: str) -> None:
    """A Fail unless a worker with ``--detach`` runs as systemd needs a forking daemon."""
    pidfile = next((arg.split("=", 1)[1] if "=" in arg else
                    (command[i + 1] if i + 1 < len(command) else "")
                    for i, arg in enumerate(command) if arg.startswith("--pidfile")), None)
    missing = ["Type=forking"] if kind_ != "forking" else []
    missing += [opt for opt in ("--pidfile", "--logfile")
                if not any(arg.startswith(opt) for arg in command)]
    if "PIDFile" not in service:
        missing.append("PIDFile=")
    if missing:
        raise Fail("--detach needs Type=forking, --pidfile, --logfile and PIDFile= "
                   f"(missing: {', '.join(missing)})"
                   + (": without PIDFile= systemd guesses which process is the main one, "
                      "and KillMode=mixed's TERM may reach a pool child"
                      if missing == ["PIDFile="] else ""),
                   hint="or leave out --detach and use Type=simple: systemd then watches the "
                   "worker itself" if missing != ["PIDFile="] else
                   "add PIDFile= with the path given to --pidfile (or leave out --detach and "
                   "use Type=simple)")
    if not pidfile:
        return
    written = _written(pidfile, options, project)
    read = _systemd_expand(service["PIDFile"])
    if read != written:
        said = (f" ({read} to systemd, which replaces % specifiers in it: %n is the unit's "
                "name, %% a %)" if "%" in service["PIDFile"] else "")
        formatted = (f", which celery formats to {written} (its %n is the node's name, "
                     f"{_node_name(options).split('@')[0]})" if written != pidfile else "")
        raise Fail(f"PIDFile={service['PIDFile']}{said} is not the --pidfile the worker writes "
                   f"({pidfile}{formatted}): systemd waits for a pid file that never appears, "
                   "cannot find the main process, and gives up on the start",
                   hint="PIDFile= with the same path as --pidfile, as both end up: a plain "
                   "path in both is simplest (--pidfile=/run/celery/worker.pid, "
                   "PIDFile=/run/celery/worker.pid)")


def _node_name(options: Any) -> str:
    """The worker's node name (``celery@host`` unless -n says otherwise)."""
    from celery.utils.nodenames import default_nodename

    given = options.params.get("hostname") if options is not None else None
    return default_nodename(given if isinstance(given, str) else None)


def _written(path: str, options: Any, project: str) -> str:
    """The file celery writes for a --pidfile/--logfile/--statedb value: its placeholders
    replaced (node_format), relative to the project directory the worker runs in."""
    from celery.utils.nodenames import node_format

    with suppress(KeyError, ValueError, IndexError):
        path = node_format(path, _node_name(options))
    return os.path.normpath(os.path.join(project, path))


#: What each dependency of [Unit] (and [Install]'s Also=) does to the units it names.
_DEPENDENCY_DOES = {
    "Wants": "starts {other} whenever the worker starts",
    "Requires": "starts {other} whenever the worker starts and stops the worker whenever "
    "{other} stops or restarts, and on a machine without {other} the worker cannot start "
    "(unit not found)",
    "BindsTo": "starts {other} whenever the worker starts and stops the worker whenever "
    "{other} stops, and on a machine without {other} the worker cannot start (unit not found)",
    "Upholds": "starts {other} again whenever it stops, as long as the worker runs",
    "Requisite": "refuses to start the worker unless {other} already runs on this machine",
    "PartOf": "stops and restarts the worker whenever {other} stops or restarts",
    "Conflicts": "stops {other} whenever the worker starts",
    "Also": "enables {other} whenever the worker is enabled",
}


def _judge_pulls_in(unit: configparser.ConfigParser) -> None:
    """A Fail if the unit starts beat's unit along with the worker, or starts, stops or
    requires any other unit but a target (network-online.target and the like)."""
    for section in ("Unit", "Install"):
        for key in PULLS_IN:
            value = unit[section].get(key, "")
            if "beat" in value.lower():
                raise Fail(f"{key}={value} in [{section}] starts beat with the worker: every "
                           "machine that runs a worker would run a beat too, and each beat "
                           "sends every periodic task",
                           hint="leave beat out of the worker's unit: it runs once, in a unit of "
                           "its own, enabled on one machine")
    for section, keys in (("Unit", [k for k in _DEPENDENCY_DOES if k != "Also"]),
                          ("Install", ["Also"])):
        for key, value in _assignments_of(unit, section, keys):
            others = [name for name in value.split()
                      if not name.endswith(".target") or key in ("Conflicts", "Also")]
            if key == "Conflicts":
                others = [name for name in others if name != "shutdown.target"]
            if not others:
                continue
            other = others[0]
            raise Fail(f"{key}={value} in [{section}] {_DEPENDENCY_DOES[key].format(other=other)}"
                       ": the worker's unit starts, stops and requires nothing else (the broker "
                       "may run on another machine, as when you scale out, and the worker waits "
                       "for it itself, retrying its connection)",
                       hint=f"leave out {key}={other} (After={other} alone only orders the "
                       "start where both run on one machine, and starts nothing); waiting for "
                       "the network with Wants=network-online.target is fine")


def _assignments_of(unit: configparser.ConfigParser, section: str,
                    keys: list[str]) -> list[tuple[str, str]]:
    return [(key, unit[section][key]) for key in keys if unit[section].get(key, "").strip()]


def _judge_execstarts(lines: list[tuple[str, str]], kind_: str) -> None:
    """A Fail if the unit has more than one ExecStart= line (an empty one resets the list)."""
    starts: list[str] = []
    for key, value in lines:
        if key == "ExecStart":
            starts = [*starts, value] if value else []
    if len(starts) < 2:
        return
    beat = any("beat" in shlex.split(value.lstrip("-@:+!")) for value in starts)
    raise Fail(f"the unit has {len(starts)} ExecStart= lines ({'; '.join(starts)}): systemd "
               "accumulates them, and refuses a unit with more than one unless it is "
               f"Type=oneshot (this one is Type={kind_}), so the worker never starts",
               hint=("one ExecStart=, the worker: beat runs once, in a unit of its own "
                     "(celery-beat.service)") if beat else "one ExecStart=, the worker")


#: The worker options that name a file: systemd's specifiers in them are taken as systemd
#: expands them (a path), as celery's placeholders with %%.
PATH_OPTIONS = ("--pidfile", "--logfile", "-f", "--statedb", "-S")


def _outside_paths(execstart: str) -> str:
    """ExecStart without the values of the worker's file options (:data:`PATH_OPTIONS`)."""
    try:
        words = shlex.split(execstart)
    except ValueError:
        return execstart
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in PATH_OPTIONS:
            skip = True
            continue
        if any(word.startswith(f"{opt}=") for opt in PATH_OPTIONS if opt.startswith("--")) or (
                word[:2] in ("-f", "-S") and len(word) > 2):
            continue
        kept.append(word)
    return " ".join(kept)


def _systemd_values() -> dict[str, str]:
    """What systemd's system manager puts for its specifiers in celery-worker.service."""
    import socket

    host = socket.gethostname()
    return {
        "n": "celery-worker.service", "N": "celery-worker", "p": "celery-worker",
        "P": "celery-worker", "i": "", "I": "", "j": "worker", "J": "worker", "f": "/celery/worker",
        "t": "/run", "S": "/var/lib", "C": "/var/cache", "L": "/var/log", "E": "/etc",
        "T": "/tmp", "V": "/var/tmp", "h": "/root", "u": "root", "U": "0", "g": "root", "G": "0",
        "H": host, "l": host.split(".")[0], "q": host,
        "d": "/run/credentials/celery-worker.service",
    }  # fmt: skip


def _systemd_expand(text: str) -> str:
    """``text`` as systemd reads it in the unit: ``%%`` is a ``%``, ``%n`` the unit's name, ...
    (systemd.unit(5), "Specifiers"); an unknown specifier is left as it is."""
    values = _systemd_values()
    return re.sub(r"%(.)", lambda m: "%" if m.group(1) == "%" else values.get(m.group(1),
                                                                              m.group(0)), text)


def _judge_specifiers(execstart: str, where: str = "ExecStart") -> None:
    """A Fail if ExecStart (or ``where``) has a Celery placeholder that systemd replaces with a
    specifier (in a file option's value systemd's meaning is taken: a path)."""
    if where == "ExecStart":
        execstart = _outside_paths(execstart)
    found = re.search(r"%([A-Za-z])", execstart.replace("%%", ""))
    if found is None or found.group(1) not in SPECIFIERS:
        return
    letter = found.group(1)
    also = " (or systemd's own %H, the host name)" if letter == "h" else ""
    raise Fail(f"{where} has %{letter}: systemd reads % specifiers in the unit before celery "
               f"sees the command, and replaces %{letter} with {SPECIFIERS[letter]}, not "
               f"celery's %{letter} ({CELERY_MEANS[letter]})",
               hint=f"write %%{letter} so that celery gets %{letter}{also}")


#: What each signal does to a celery worker's main process (celery/apps/worker.py).
_SIGNAL_DOES = {
    "TERM": "a warm shutdown, the worker stops",
    "HUP": "celery takes SIGHUP as a restart (its install_worker_restart_handler): after a warm "
    "shutdown the worker executes itself again, in the same process, a restart that systemd "
    "never sees and that Celery's documentation advises against in production",
    "QUIT": "a cold shutdown: the running tasks die",
    "INT": "a shutdown that a second SIGINT makes cold: the running tasks die",
    "KILL": "the worker dies at once, and so do the running tasks",
    "ABRT": "the worker dies at once, and so do the running tasks",
}
_SIGNAL_OTHER = "the unit signals the worker besides systemd's own stop"
#: Why ExecStop=kill -TERM $MAINPID is wrong although TERM is the warm shutdown.
_EXECSTOP_TERM = (", which systemd already sends itself (KillSignal=SIGTERM) right after "
                  "ExecStop= exits: the kill adds nothing and does not wait for the tasks, and "
                  "after a worker that exited on its own systemd runs ExecStop= with an empty "
                  "$MAINPID, so the kill fails and the stop counts as failed")
#: When systemd runs each Exec*= command of a service.
_EXEC_WHEN = {
    "ExecCondition": "before every start of the worker, also each automatic restart after a "
    "crash",
    "ExecStartPre": "before every start of the worker, also each automatic restart after a "
    "crash",
    "ExecStartPost": "after every start of the worker, also each automatic restart after a "
    "crash",
    "ExecReload": "at every systemctl reload",
    "ExecStop": "at every stop and restart of the worker",
    "ExecStopPost": "after every stop of the worker, also after each crash (before the "
    "automatic restart)",
}
#: Variables systemd itself puts in a service's environment (systemd.exec(5), "Environment
#: Variables in Spawned Processes"); any other one is set only by Environment=,
#: EnvironmentFile= or PassEnvironment=.
SYSTEMD_VARIABLES = frozenset((
    "PATH", "LANG", "USER", "LOGNAME", "HOME", "SHELL", "INVOCATION_ID", "JOURNAL_STREAM",
    "RUNTIME_DIRECTORY", "STATE_DIRECTORY", "CACHE_DIRECTORY", "LOGS_DIRECTORY",
    "CONFIGURATION_DIRECTORY", "CREDENTIALS_DIRECTORY", "SYSTEMD_EXEC_PID", "MANAGERPID",
    "NOTIFY_SOCKET", "MAINPID", "TERM",
))  # fmt: skip
#: The longest RestartSec= the check takes as "comes back whenever the worker dies".
LONGEST_RESTART_SECONDS = 60


def _environment(lines: list[tuple[str, str]]) -> dict[str, str]:
    """The variables the unit's Environment= lines set (in order, an empty line resets)."""
    found: dict[str, str] = {}
    for key, value in lines:
        if key != "Environment":
            continue
        if not value:
            found = {}
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        found.update(word.split("=", 1) for word in words if "=" in word)
    return found


def _judge_variables(raw: str, lines: list[tuple[str, str]], shell: bool) -> None:
    """A Fail if ExecStart names an environment variable that systemd leaves unset there, or
    that it does not replace at all (``$NAME`` inside a word, where no shell runs)."""
    set_here = _environment(lines)
    unknown_source = any(key in ("EnvironmentFile", "PassEnvironment") and value
                         for key, value in lines)  # fmt: skip
    text = raw.replace("$$", "")
    for found in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", text):
        name = found.group(1) or found.group(2)
        start, end = found.span()
        whole_word = (start == 0 or text[start - 1].isspace()) and (
            end == len(text) or text[end].isspace())
        written = found.group(0)
        hint = ("for the machine's name use systemd's specifier %H (-n worker1@%H), or celery's "
                "own %%h; a variable needs an Environment= line that sets it "
                "(Environment=NODE=worker1@%H)")
        if found.group(2) and shell:
            continue  # inside sh -c '...': the shell expands it (or systemd, as a word)
        if found.group(2) and not whole_word:
            raise Fail(f"ExecStart has {written} inside a word: systemd replaces $NAME only "
                       "when it is a word of its own, and runs no shell, so celery gets "
                       f"{written} as written (celery does not read environment variables in "
                       "its arguments): every machine's worker gets the same literal name",
                       hint=hint)
        if name in set_here or name in SYSTEMD_VARIABLES or unknown_source:
            continue
        what = ("the host name" if name in ("HOSTNAME", "HOST") else f"a {name}")
        raise Fail(f"ExecStart has {written}: systemd replaces it with that variable of the "
                   "service's environment before celery starts, and a service has only the "
                   "variables its Environment= lines set and a few of systemd's own (USER, HOME, "
                   f"PATH, ...), not {what}, so {written} becomes empty: "
                   + ("-n worker1@ on every machine" if name in ("HOSTNAME", "HOST") else
                      "celery gets an empty value"),
                   hint=hint)


#: Worker options that end a task after so many seconds: what each does to it.
_TIME_LIMITS = {
    "--time-limit": "kills the pool process running any task after",
    "--soft-time-limit": "raises SoftTimeLimitExceeded inside any task after",
}
_NAME_WORD = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_BRACED_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(words: list[str], env: dict[str, str],
            unknown: bool = False) -> list[tuple[str, str | None]]:
    """The words celery gets for ExecStart's ``words`` (split as systemd splits the line), as
    systemd expands them with the unit's Environment= values (systemd.service(5), "Command
    lines"): ``$NAME`` as a word of its own becomes the value split at whitespace (no word if
    unset), ``${NAME}`` anywhere in a word becomes the value as it is (one word), ``$$`` is a
    ``$``; ``%%`` is a ``%``. Each word comes with the variable it came from (or ``None``).
    A variable the unit does not set is kept as written (one word) when its value is unknown
    here: one of systemd's own (``$USER``), or any with ``unknown`` (an EnvironmentFile=)."""
    found: list[tuple[str, str | None]] = []
    for word in words:
        word = _systemd_expand(word)
        whole = _NAME_WORD.fullmatch(word)
        if whole:
            name = whole.group(1)
            if name not in env and (unknown or name in SYSTEMD_VARIABLES):
                found.append((word, None))
                continue
            found += [(part, name) for part in env.get(name, "").split()]
            continue
        names = _BRACED_NAME.findall(word)
        parts = word.split("$$")
        word = "$".join(_BRACED_NAME.sub(lambda m: env.get(m.group(1), m.group(0) if unknown
                                                           or m.group(1) in SYSTEMD_VARIABLES
                                                           else ""), part)
                        for part in parts)  # fmt: skip
        found.append((word, names[0] if names else None))
    return found


class _OsWithEnviron(types.ModuleType):
    """``os`` as click sees it while the check reads a command line: the service's
    environment instead of this process's (click reads ``os.environ`` for its variables)."""

    def __init__(self, environ: dict[str, str]) -> None:
        super().__init__("os")
        self.environ = environ

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def _worker_options(args: list[str], env: dict[str, str]) -> Any:
    """The click context of ``celery -A course_tasks worker ARGS`` as celery reads it in a
    service whose environment is ``env``: ``celery`` runs its command line with
    ``auto_envvar_prefix="CELERY"``, so every worker option can also come from a
    ``CELERY_WORKER_<OPTION>`` variable (``CELERY_WORKER_PURGE=true`` is ``--purge``).
    ``None`` if the line cannot be judged here (a pool that is not installed on this machine);
    a Fail if celery refuses it."""
    import click
    import click.core
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as celery_group

    with mock.patch.object(click.core, "os", _OsWithEnviron(dict(env))):
        parent = click.Context(celery_group, info_name="celery", auto_envvar_prefix="CELERY",
                               obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True))
        command = celery_group.get_command(parent, "worker")
        try:
            return command.make_context("worker", list(args), parent=parent)
        except click.BadParameter as exc:
            if exc.param is not None and exc.param.name == "pool":
                return None
            message = exc.format_message()
        except click.ClickException as exc:
            message = exc.format_message()
        except Exception:  # an option's own code failed on this machine: not the unit's fault
            return None
    raise Fail(f"celery refuses the worker's command line ({' '.join(args)}): {message}, so "
               "the worker never starts, and Restart= starts it again and again",
               hint="run the same command in a terminal first (celery -A course_tasks worker "
               "--help lists the options)")


def _given_by(ctx: Any, name: str, words: list[tuple[str, str | None]],
              env: dict[str, str]) -> str:
    """Where worker option ``name`` came from: ``ExecStart has --purge``, or the variable
    that brought it in (a ``$NAME`` word, a ``CELERY_WORKER_*`` variable)."""
    from click.core import ParameterSource

    param = next(p for p in ctx.command.params if p.name == name)
    if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT:
        variable = f"{ctx.auto_envvar_prefix}_{name.upper()}"
        return (f"Environment= sets {variable}={env.get(variable, '')}, which celery reads as "
                f"{param.opts[0]} (celery's command line takes every worker option from a "
                "CELERY_WORKER_<OPTION> variable too)")
    flags = [*param.opts, *param.secondary_opts]
    for word, variable in words:
        short = (word.startswith("-") and not word.startswith("--")
                 and any(len(f) == 2 and f[1] in word[1:] for f in flags))  # fmt: skip
        if word in flags or word.split("=", 1)[0] in flags or short:
            if variable is None:
                return f"ExecStart has {word}"
            return (f"ExecStart has ${variable}, which systemd replaces with the words of "
                    f"Environment={variable}={env.get(variable, '')} (split at whitespace), and "
                    f"they hold {word}")
    return f"ExecStart has {flags[-1]}"


def _judge_time_limits(ctx: Any, words: list[tuple[str, str | None]],
                       env: dict[str, str]) -> None:
    """A Fail if the worker's command line (or its environment) limits a task to the longest
    task's time or less."""
    for option, does in _TIME_LIMITS.items():
        name = option.removeprefix("--").replace("-", "_")
        seconds = ctx.params.get(name)
        if seconds is None or not 0 < seconds <= LONGEST_TASK_SECONDS:
            continue
        given = _given_by(ctx, name, words, env)
        plain = given.startswith("ExecStart has --")
        said = f"ExecStart has {option}={seconds:g}" if plain else given
        raise Fail(f"{said}: the worker {does} {seconds:g} s, and this project's longest task "
                   f"takes up to {LONGEST_TASK_SECONDS // 60} minutes, so it never finishes",
                   hint=f"leave out {option} (or make it longer than the longest task, "
                   f"over {LONGEST_TASK_SECONDS} s)")


def _judge_worker_options(ctx: Any, words: list[tuple[str, str | None]],
                          env: dict[str, str]) -> None:
    """A Fail if the worker, as celery reads its command line and environment, embeds beat or
    purges the queues at every start."""
    beat = ctx.params.get("beat") if ctx is not None else _runs_beat([w for w, _ in words])
    if beat:
        given = _given_by(ctx, "beat", words, env) if ctx is not None else "ExecStart has -B"
        plain = given.startswith("ExecStart has -")
        said = ("ExecStart runs beat inside the worker (-B)" if plain
                else f"the worker embeds beat: {given}")
        raise Fail(f"{said}: every machine with this unit runs a beat of its own, and each sends "
                   "every periodic task",
                   hint="leave out -B: beat runs once, in a unit of its own "
                   "(celery-beat.service)")
    if ctx is not None and ctx.params.get("purge"):
        raise Fail(f"{_given_by(ctx, 'purge', words, env)}: the worker purges its queues at "
                   "every start (--purge and --discard are one option), so each restart, "
                   "deploy and reboot deletes every task waiting in them, work the users are "
                   "waiting for",
                   hint="leave out --purge (--discard, CELERY_WORKER_PURGE): a restarted worker "
                   "must pick up what is queued; empty a queue by hand (celery purge) when you "
                   "mean it")


def _judge_restart_delay(lines: list[tuple[str, str]]) -> None:
    """A Fail if RestartSec= (the last one) keeps a dead worker down for long, or for ever."""
    values = [value for key, value in lines if key == "RestartSec"]
    if not values or not values[-1]:
        return
    value = values[-1]
    seconds = _span_seconds(value, zero=0)
    if seconds is None:
        raise Fail(f"RestartSec={value} is not a time span systemd reads",
                   hint="RestartSec=5 (or 5s), or leave it out")
    if seconds == math.inf:
        raise Fail(f"RestartSec={value}: systemd waits for ever before the restart, so a "
                   "worker that dies never comes back, whatever Restart= says",
                   hint="RestartSec= of a few seconds (RestartSec=5), or leave it out")
    if seconds > LONGEST_RESTART_SECONDS:
        raise Fail(f"RestartSec={value}: a worker that dies comes back only {seconds:g} s "
                   "later, and meanwhile nobody takes the queue's tasks",
                   hint="RestartSec= of a few seconds (RestartSec=5) is enough to keep a "
                   "crashing worker from restarting in a tight loop")


def _judge_stop_signals(lines: list[tuple[str, str]]) -> None:
    """A Fail if the unit sends the worker's main process more than the warm TERM at a stop,
    or makes celery take TERM as a cold shutdown."""
    hup = [value for key, value in lines if key == "SendSIGHUP"]
    if hup and hup[-1].lower() not in _FALSE:
        raise Fail(f"SendSIGHUP={hup[-1]}: right after the TERM, systemd sends SIGHUP to the "
                   "worker's main process too, and celery takes SIGHUP as a restart: once its "
                   "warm shutdown is done it executes itself again, a new worker takes tasks, "
                   "and the stop ends only when TimeoutStopSec runs out and systemd SIGKILLs "
                   "it, mid-task",
                   hint="leave out SendSIGHUP (no by default): it is for shells, which must "
                   "learn that their terminal is gone")
    remap = _environment(lines).get("REMAP_SIGTERM")
    if remap and remap.upper().removeprefix("SIG") == "QUIT":
        raise Fail(f"Environment=REMAP_SIGTERM={remap}: celery then takes TERM as SIGQUIT, a "
                   "cold shutdown, so systemctl stop kills the running tasks",
                   hint="leave out REMAP_SIGTERM: TERM is celery's warm shutdown")


#: Every setting name the check knows, spelt as systemd spells it.
KNOWN_KEYS = frozenset((
    *HARMLESS, *UNIT_HARMLESS, *SECTION_OF, *PULLS_IN, "Restart", "RestartSec", "SendSIGHUP",
    "WatchdogSec", "RestartKillSignal", "RestartPreventExitStatus", "FinalKillSignal",
    "RemainAfterExit", "SuccessExitStatus", "StartLimitBurst", "StartLimitIntervalSec",
    "StartLimitInterval", "StartLimitAction", "ExecStartPre", "ExecStartPost", "ExecStopPost",
    "ExecCondition", "ExecReload", "RuntimeMaxSec", "RequiredBy",
))  # fmt: skip
_KEY_BY_LOWER = {key.lower(): key for key in KNOWN_KEYS}


def _judge_key_case(text: str) -> None:
    """A Fail for a setting whose name is a known one spelt with other capitals: systemd's
    names are case-sensitive, so it ignores the line."""
    for section in ("Unit", "Service", "Install"):
        for key, value in _assignments(text, section):
            proper = _KEY_BY_LOWER.get(key.lower())
            if proper is not None and proper != key:
                raise Fail(f"{key}={value} in [{section}]: systemd's setting names are "
                           f"case-sensitive, {key} is not {proper}, so systemd ignores the line "
                           "(\"Unknown key name\" in its log) and keeps its default",
                           hint=f"write {proper}={value}")


def _unknown_setting(line: str, key: str) -> Fail:
    return Fail(f"{line}: the check does not know {key}= as a setting that leaves the worker's "
                "start, its restarts and its warm stop alone",
                hint=f"leave out {key}: the unit needs no more than the exercise asks for")


def _judge_extras(lines: list[tuple[str, str]], celery_bin: str, restart: str | None) -> None:
    """A Fail for a [Service] setting beyond those judged before that changes how the worker
    starts, restarts or stops, or that the check does not know."""
    for key, value in lines:
        if key.startswith("Exec") and key not in ("ExecStart", "ExecStop"):
            try:
                words = shlex.split(value.lstrip("-@:+!"))
            except ValueError:
                words = value.split()
            if celery_bin in words or any(Path(word).name == "celery" for word in words):
                if "beat" in words:
                    raise Fail(f"{key}={value} starts beat with every worker: one beat per "
                               "machine, each sending every periodic task (and systemd waits "
                               f"for an {key} command to exit)",
                               hint=f"leave out {key}: beat runs once, in a unit of its own "
                               "(celery-beat.service)")
                if "purge" in words:
                    raise Fail(f"{key}={value} deletes every queued task "
                               f"{_EXEC_WHEN.get(key, 'each time systemd runs it')}",
                               hint=f"leave out {key}: the queue holds work the users are "
                               "waiting for; a restarted worker must pick it up")
                raise Fail(f"{key}={value} runs celery besides the worker",
                           hint=f"leave out {key}: the unit runs the worker, in ExecStart")
            reach = _broadcast(value)
            if reach:
                raise Fail(f"{key}={value} {reach}", hint=f"leave out {key}")
            sent = _signals_sent(value)
            if sent:
                raise Fail(f"{key}={value} sends SIG{sent[0]} "
                           f"{_EXEC_WHEN.get(key, 'each time systemd runs it')}: "
                           f"{_SIGNAL_DOES.get(sent[0], _SIGNAL_OTHER)}",
                           hint=f"leave out {key}: only systemd's KillSignal=SIGTERM, at a stop "
                           "or restart, signals the worker; a deploy restarts it with "
                           "systemctl restart")
        elif key == "WatchdogSec":
            if _span_seconds(value) != math.inf:
                raise Fail(f"WatchdogSec={value}: celery never sends systemd's WATCHDOG=1 "
                           "keep-alive, so systemd aborts a healthy worker, with its running "
                           "tasks, each time that runs out",
                           hint="leave out WatchdogSec: Restart= brings back a worker that dies")
        elif key == "RuntimeMaxSec":
            if _span_seconds(value) != math.inf:
                raise Fail(f"RuntimeMaxSec={value}: systemd stops the worker itself each time it "
                           "has run that long, and counts it as failed: a stop nobody asked "
                           "for, whatever it is running (and a task longer than what is left "
                           "of TimeoutStopSec is killed)",
                           hint="leave out RuntimeMaxSec: to give memory back, let celery "
                           "replace its pool children between tasks (--max-tasks-per-child, "
                           "--max-memory-per-child, section 6)")
        elif key == "RestartKillSignal":
            name = _signal_name(value)
            if name != "TERM":
                does = (_SIGNAL_DOES[name] + ", so the restart ends only when TimeoutStopSec "
                        "runs out and systemd SIGKILLs it, mid-task" if name == "HUP"
                        else "the running tasks die")
                raise Fail(f"RestartKillSignal={value}: systemctl restart (every deploy) "
                           f"stops the worker with SIG{name or value}, not the warm TERM: "
                           f"{does}",
                           hint="leave out RestartKillSignal: a restart then stops the worker "
                           "as systemctl stop does, with KillSignal=SIGTERM")
        elif key == "RestartPreventExitStatus":
            raise Fail(f"RestartPreventExitStatus={value}: a worker that exits with that status "
                       "stays down",
                       hint="leave it out: a worker that dies or exits with an error must "
                       "come back")
        elif key == "FinalKillSignal":
            name = _signal_name(value)
            if name != "KILL":
                raise Fail(f"FinalKillSignal={value}: when TimeoutStopSec runs out, what is "
                           f"left gets SIG{name or value} instead of SIGKILL, which a hung task "
                           "can outlive, so the stop need not end",
                           hint="leave out FinalKillSignal: systemd's SIGKILL is what ends a "
                           "stop")
        elif key == "RemainAfterExit":
            if value.lower() not in _FALSE:
                raise Fail(f"RemainAfterExit={value}: after the worker exits cleanly the unit "
                           "stays active (exited), so Restart= never brings it back and "
                           "systemctl start does nothing",
                           hint="leave out RemainAfterExit: it is for oneshot units, not for a "
                           "worker that must keep running")
        elif key in ("SendSIGHUP", "RestartSec"):
            pass  # judged by _judge_stop_signals and _judge_restart_delay
        elif key in ("StartLimitBurst", "StartLimitIntervalSec", "StartLimitInterval",
                     "StartLimitAction"):
            pass  # judged with [Unit]'s by _judge_start_limits
        elif key == "SuccessExitStatus" and restart == "on-failure":
            raise Fail(f"SuccessExitStatus={value} with Restart=on-failure: a worker that exits "
                       "with that status counts as a success, and is not restarted",
                       hint="leave out SuccessExitStatus (or use Restart=always)")
        elif key not in HARMLESS and key != "SuccessExitStatus":
            raise _unknown_setting(f"{key}={value}", key)


#: A project where many live (a deploy user's home): the check's third project directory.
HOME_PROJECT = "/home/shop/app"
#: Groups whose members can do what root does (or read and write any disk).
ROOT_GROUPS = frozenset(("root", "0", "wheel", "sudo", "admin", "docker", "lxd", "disk"))


def _judge_privileges(prefix: str, lines: list[tuple[str, str]], user: str) -> None:
    """A Fail if the worker runs with root's rights after all: an ExecStart prefix that skips
    User=, or a group as good as root."""
    for mark, how in (("+", "with full privileges: systemd applies neither User= nor any "
                       "sandboxing to it"),
                      ("!", "without the credential changes: systemd does not apply User= and "
                       "Group= to it")):
        if mark in prefix and not (mark == "!" and "!!" in prefix):
            raise Fail(f"ExecStart={prefix}... : the '{mark}' prefix runs the command {how}, so "
                       f"the worker runs as root, not as {user}, and so does every task it runs",
                       hint=f"leave out the '{mark}': ExecStart=CELERY_BIN ... runs as "
                       f"User={user}")
    for key in ("Group", "SupplementaryGroups"):
        values = [value for k, value in lines if k == key]
        groups = values[-1].split() if key == "Group" and values else [
            group for value in values for group in value.split()]
        strong = [group for group in groups if group in ROOT_GROUPS]
        if strong:
            what = ("root's own group" if strong[0] in ("root", "0") else
                    f"a group whose members can do what root does ({strong[0]}: "
                    + ("the docker socket starts a container with the host's / mounted"
                       if strong[0] == "docker" else
                       "raw disks" if strong[0] == "disk" else
                       "containers with the host's / mounted" if strong[0] == "lxd" else
                       "sudo") + ")")
            raise Fail(f"{key}={' '.join(groups) if key == 'Group' else values[-1]}: the worker "
                       f"runs with {what}, so every task (and whoever can queue one) gets "
                       f"root's rights, not only {user}'s",
                       hint=f"leave out {key}=: User={user} alone runs the worker with that "
                       "user's own groups")


def _judge_workdir(command: list[str], project: str) -> list[str]:
    """The command without celery's --workdir if it names the project; a Fail if it names
    another directory (celery changes into it before importing -A course_tasks)."""
    end = command.index("worker") if "worker" in command else len(command)
    for i, word in enumerate(command[1:end], start=1):
        if word == "--workdir" or word.startswith("--workdir="):
            value = word.split("=", 1)[1] if "=" in word else (
                command[i + 1] if i + 1 < len(command) else "")
            taken = 1 if "=" in word else 2
            if os.path.normpath(os.path.join(project, value)) == os.path.normpath(project):
                return command[:i] + command[i + taken:]
            raise Fail(f"ExecStart runs celery with --workdir={value}: celery changes into "
                       f"{value} before it imports -A course_tasks, so the worker runs outside "
                       f"the project ({project}), where course_tasks cannot be imported",
                       hint="leave out --workdir: WorkingDirectory={project_dir} already runs "
                       "the worker in the project")
    return command


_TRUE = ("1", "yes", "y", "true", "t", "on")


def _last(lines: list[tuple[str, str]], key: str) -> str | None:
    values = [value for k, value in lines if k == key]
    return values[-1] if values else None


def _paths(lines: list[tuple[str, str]], key: str) -> list[str]:
    """The paths of a list setting (an empty line resets it; a leading - or + is dropped)."""
    found: list[str] = []
    for k, value in lines:
        if k == key:
            found = [*found, *(p.lstrip("-+") for p in value.split())] if value else []
    return [_systemd_expand(p) for p in found]


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return root == "/" or path == root or path.startswith(root + "/")


def _file_view(lines: list[tuple[str, str]]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """How the worker sees the file system under the unit's sandboxing: ``(root, mode,
    setting)`` for every path a setting hides (``hidden``), makes read-only (``ro``) or
    writable again (``rw``, ``private``); and the directories systemd makes for the user."""
    view: list[tuple[str, str, str]] = []
    system = (_last(lines, "ProtectSystem") or "no").lower()
    if system in (*_TRUE, "full", "strict"):
        for root in ("/usr", "/boot", "/efi", *(["/etc"] if system == "full" else [])):
            view.append((root, "ro", f"ProtectSystem={system}"))
    if system == "strict":
        view.append(("/", "ro", "ProtectSystem=strict"))
    home = (_last(lines, "ProtectHome") or "no").lower()
    if home in (*_TRUE, "tmpfs", "read-only"):
        mode = "ro" if home == "read-only" else "hidden"
        view += [(root, mode, f"ProtectHome={home}") for root in ("/home", "/root", "/run/user")]
    tmp = (_last(lines, "PrivateTmp") or "no").lower()
    if tmp in _TRUE:
        view += [(root, "private", f"PrivateTmp={tmp}") for root in ("/tmp", "/var/tmp")]
    view += [(p, "ro", f"ReadOnlyPaths={p}") for p in _paths(lines, "ReadOnlyPaths")]
    view += [(p, "hidden", f"InaccessiblePaths={p}") for p in _paths(lines, "InaccessiblePaths")]
    view += [(p, "rw", f"ReadWritePaths={p}") for p in _paths(lines, "ReadWritePaths")]
    made = [f"{base}/{name}" for key, base in (("RuntimeDirectory", "/run"),
                                               ("LogsDirectory", "/var/log"),
                                               ("StateDirectory", "/var/lib"),
                                               ("CacheDirectory", "/var/cache"))
            for name in _paths(lines, key)]  # fmt: skip
    view += [(p, "rw", "") for p in made]
    return view, made


def _directory_variables(lines: list[tuple[str, str]]) -> dict[str, str]:
    """The variables systemd sets for the directories it makes (``$RUNTIME_DIRECTORY`` for
    RuntimeDirectory=, ...: their full paths, joined with ``:``)."""
    found = {}
    for key, base in (("RuntimeDirectory", "/run"), ("LogsDirectory", "/var/log"),
                      ("StateDirectory", "/var/lib"), ("CacheDirectory", "/var/cache")):
        names = _paths(lines, key)
        if names:
            variable = re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()
            found[variable] = ":".join(f"{base}/{name}" for name in names)
    return found


def _mode(view: list[tuple[str, str, str]], path: str) -> tuple[str, str]:
    """``(mode, setting)`` of the most specific entry of ``view`` over ``path``."""
    best = ("", "rw", "")
    for root, mode, setting in view:
        if _under(path, root) and len(root) >= len(best[0]):
            best = (root, mode, setting)
    return best[1], best[2]


def _judge_files(lines: list[tuple[str, str]], options: Any, project: str, celery_bin: str,
                 user: str, detached: bool, raw: str = "") -> None:
    """A Fail if the worker cannot reach the project or write the files its options name,
    under the unit's sandboxing (ProtectSystem=, ProtectHome=, PrivateTmp=, ...) and as
    ``user``: a file goes to the project, /tmp or /var/tmp, or a directory systemd makes."""
    view, made = _file_view(lines)
    for what, path in (("the project", project), ("celery_bin", celery_bin)):
        mode, setting = _mode(view, path)
        if mode == "hidden":
            raise Fail(f"{setting} hides {path} from the worker, and {what} is there (a project "
                       f"in a deploy user's home, {HOME_PROJECT}, is usual): the worker cannot "
                       "even start",
                       hint=f"leave out {setting.split('=')[0]}= (ProtectHome=read-only still "
                       "lets the worker read /home): project_dir may be anywhere, and the worker "
                       "must read the project and its virtualenv")
    if options is None:
        return
    for option in ("pidfile", "logfile", "statedb"):
        given = options.params.get(option)
        if not isinstance(given, str) or not given:
            continue
        path = _written(given, options, project)
        folder = os.path.dirname(path)
        said = f"--{option}={given}" + (f" ({path})" if path != given else "")
        if "%" in raw.replace("%%", ""):
            said += " (as celery gets it: systemd has replaced the % specifiers of ExecStart)"
        mode, setting = _mode(view, folder)
        if mode in ("hidden", "ro"):
            how = (f"hides {folder} from the worker" if mode == "hidden" else
                   f"makes {folder} read-only for the worker")
            raise Fail(f"{said}, but {setting} {how}, so it cannot write the file and exits at "
                       "every start",
                       hint="write the file where the worker may: a directory systemd makes "
                       "for it (LogsDirectory=celery is /var/log/celery, RuntimeDirectory=celery "
                       f"/run/celery), or add ReadWritePaths={folder}")
        if mode == "private" and option == "pidfile" and detached:
            raise Fail(f"{said} with {setting}: the worker gets a /tmp of its own, writes its "
                       "pid file there, and systemd looks for PIDFile= in the machine's /tmp, "
                       "where it never appears",
                       hint="keep the pid file out of /tmp: RuntimeDirectory=celery, "
                       "--pidfile=/run/celery/worker.pid and PIDFile=/run/celery/worker.pid")
        ours = (_under(folder, project) or folder in ("/tmp", "/var/tmp", "/dev/shm")
                or any(_under(folder, d) for d in made))
        if not ours:
            raise Fail(f"{said}: the worker runs as {user}, and nothing in the unit makes "
                       f"{folder} for it (a user other than root cannot create it, nor write "
                       "in a directory root owns), so it cannot open the file and exits at "
                       "every start",
                       hint="let systemd make the directory for the user: "
                       "RuntimeDirectory=celery makes /run/celery (pid files), "
                       "LogsDirectory=celery /var/log/celery; or write into the project")


_RESTART_TROUBLE = {
    "on-abnormal": ": a worker that exits with an error code (exit 1, say after it lost the "
    "broker for longer than its retries) stays down; on-abnormal restarts only after a signal, "
    "a timeout or a watchdog",
}


@exercise("12.4", "a systemd unit for the worker", points=2)
def _unit(worker_unit: Any) -> str:
    if not callable(worker_unit):
        raise Fail(f"got {kind(worker_unit)}, not a function",
                   hint="define def worker_unit(project_dir, celery_bin, user): ...")
    root = Path(__file__).resolve().parents[2]
    celery_bin = str(Path(sys.executable).with_name("celery"))
    detached = False
    for project, user in ((str(root), "celery"), (tempfile.gettempdir(), "www-data"),
                          (HOME_PROJECT, "shop")):
        text = worker_unit(project, celery_bin, user)
        if text is None and is_stub_body(worker_unit, unknown=False):
            raise NotYet("write the body of worker_unit")
        if not isinstance(text, str):
            raise Fail(f"worker_unit returned {kind(text)}, not the unit's text",
                       hint="return the unit as a str")
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str  # systemd keys are case-sensitive
        try:
            unit.read_string(text)
        except configparser.Error as exc:
            raise Fail(f"the unit is not an ini file: {str(exc).splitlines()[0]}",
                       hint="sections [Unit], [Service], [Install] with Key=value lines") from None
        for section in ("Unit", "Service", "Install"):
            if not unit.has_section(section):
                raise Fail(f"the unit has no [{section}] section",
                           hint="a service unit has [Unit], [Service] and [Install]")
        for section in unit.sections():
            for key, value in unit[section].items():
                home = SECTION_OF.get(key)
                if home is not None and home != section:
                    raise Fail(f"{key}={value} is in [{section}], where systemd ignores it",
                               hint=f"move it to [{home}]: {key}= is a setting of [{home}]")
        _judge_key_case(text)
        service = unit["Service"]
        lines = _assignments(text, "Service")
        _judge_pulls_in(unit)
        for key, value in _assignments(text, "Unit"):
            if key not in UNIT_HARMLESS and not key.startswith("StartLimit"):
                raise _unknown_setting(f"{key}={value} in [Unit]", key)
        _judge_start_limits(unit)
        _judge_execstarts(lines, service.get("Type", "simple"))
        raw = service.get("ExecStart", "").strip()
        prefix = _EXEC_PREFIX.match(raw).group()
        command = shlex.split(raw[len(prefix):])
        if "@" in prefix and len(command) > 1:
            command = command[:1] + command[2:]  # "@": the second word is only argv[0]
        if not command:
            raise Fail("the unit has no ExecStart",
                       hint="ExecStart=CELERY_BIN -A course_tasks worker ...")
        _judge_privileges(prefix, lines, user)
        script = _shell_script(command)
        if script is not None and celery_bin in script:
            inner = _exec_command(script)
            if inner is None:
                raise Fail(f"ExecStart runs the worker inside a shell ({command[0]} -c "
                           "'...'): the shell is the main process, so systemctl stop's TERM "
                           "goes to the shell, not to the worker, which never gets its warm "
                           "shutdown",
                           hint="start celery_bin itself in ExecStart, no shell, no pipe: its "
                           "output goes to the journal (journalctl -u celery-worker), or use "
                           "--logfile")
            command = inner
        operators = [word for word in command
                     if word in _SHELL_WORDS or _REDIRECT.fullmatch(word)]
        if script is None and operators:
            raise Fail(f"ExecStart has {' '.join(operators)}: systemd runs no shell, so "
                       "shell operators (redirections, &, |, ;) and the words after them "
                       "reach celery as arguments, which it refuses: the worker never starts",
                       hint="leave them out: the worker's output goes to the journal "
                       "(journalctl -u celery-worker), or use --logfile; systemd keeps it "
                       "running, no & needed")
        if command[0] != celery_bin:
            raise Fail(f"ExecStart starts with {command[0]!r}",
                       hint="systemd does not search your virtualenv: start with the "
                       "celery_bin path you are given")
        command = _judge_workdir(command, project)
        if command[1:4] != ["-A", "course_tasks", "worker"]:
            raise Fail(f"ExecStart runs {' '.join(command[1:4])!r}",
                       hint="run celery_bin -A course_tasks worker ...")
        env = {key: value.replace("%%", "%") for key, value in _environment(lines).items()}
        env = {**_directory_variables(lines), **env}
        unknown = any(key in ("EnvironmentFile", "PassEnvironment") and value
                      for key, value in lines)  # fmt: skip
        words = _expand(command[4:], env, unknown)
        expanded = [*command[:4], *(word for word, _ in words)]
        options = _worker_options(expanded[4:], env)
        _judge_worker_options(options, words, env)
        for key, given, argument, why in (
            ("WorkingDirectory", project, "project_dir", "-A course_tasks is imported from there"),
            ("User", user, "user", "without it the worker runs as root"),
        ):
            if key not in service:
                raise Fail(f"the unit has no {key} in [Service]",
                           hint=f"{key}={{{argument}}}, from the argument: {why}")
            if key == "WorkingDirectory" and service[key] == "-" + given:
                raise Fail(f"WorkingDirectory=-{given}: the '-' makes a missing directory "
                           "non-fatal, so the worker would start somewhere else (the user's "
                           "home or /) and fail to import course_tasks there, over and over",
                           hint="WorkingDirectory={project_dir}, without the '-'")
            if service[key] != given:
                raise Fail(f"{key}={service[key]}, not the {argument} given ({given})",
                           hint=f"{key}={{{argument}}}: use the argument, not a fixed value")
        detached = (bool(options.params.get("detach")) if options is not None
                    else "--detach" in expanded or "-D" in expanded)
        kind_ = service.get("Type", "simple")
        if kind_ == "forking" and not detached:
            raise Fail("Type=forking, but celery worker does not fork without --detach",
                       hint="systemd would wait for the command to exit and kill it after "
                       "90 s: use Type=simple (or add --detach with --pidfile and --logfile, and "
                       "PIDFile=)")
        if detached:
            _judge_detached(service, expanded, kind_, options, project)
        elif kind_ not in ("simple", "exec"):
            raise Fail(f"Type={kind_}{TYPE_TROUBLE.get(kind_, '')}",
                       hint="celery worker stays in the foreground: Type=simple")
        restart = service.get("Restart")
        if restart not in ("always", "on-failure"):
            said = f"Restart={restart}" if restart is not None else "no Restart"
            why = _RESTART_TROUBLE.get(restart or "", ": a worker that dies stays down")
            raise Fail(f"the unit has {said}{why}",
                       hint="Restart=always (or on-failure): a worker that dies must come back")
        if "-" in prefix and restart == "on-failure":
            raise Fail(f"ExecStart={raw.split()[0]} ... with Restart=on-failure: the '-' makes "
                       "systemd count every exit of the worker as a success, so a worker that "
                       "exits with an error is never restarted",
                       hint="leave out the '-' before the command (or use Restart=always)")
        _judge_specifiers(raw)
        for key, value in lines:
            if key == "Environment":
                _judge_specifiers(value, f"Environment={value}")
        _judge_variables(raw, lines, script is not None)
        if options is not None:
            _judge_time_limits(options, words, env)
        _judge_files(lines, options, project, celery_bin, user, detached, raw)
        _check_stop(service, lines)
        _judge_stop_signals(lines)
        _judge_restart_delay(lines)
        _judge_extras(lines, celery_bin, restart)
        if unit["Install"].get("WantedBy") != "multi-user.target":
            raise Fail("the unit is not started at boot",
                       hint="[Install] WantedBy=multi-user.target")
        complaints = _verify(text) if project != HOME_PROJECT else []
        if complaints:
            raise Fail(f"systemd-analyze verify: {complaints[0].split(': ', 1)[-1]}",
                       hint="fix the line it names")
    how = ("detached worker (Type=forking, PIDFile=)" if detached else "foreground worker")
    return (f"{how}, Restart, warm stop of the main process only (KillMode=mixed) with time "
            f"for a {LONGEST_TASK_SECONDS // 60}-minute task, then a kill, started at boot")
