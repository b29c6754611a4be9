"""Checks of chapter 12's exercises (``solutions/12_production_solutions.ipynb``).

* 12.1 ``check("12.1", exports)``: a FastAPI app with ``POST /exports`` (queue
  ``export_users_csv``, answer ``202`` with ``{"task_id": ...}`` at once) and
  ``GET /exports/{task_id}`` (the task's status as json, at once, for every state). Driven
  with FastAPI's ``TestClient`` against the worker;
* 12.2 ``check("12.2", make_celery)``: ``make_celery(settings)`` returns a *new* Celery app
  configured from a Django-style settings object with ``namespace="CELERY"``; tried on two
  settings objects, so nothing may be hard-coded;
* 12.3 ``check("12.3", choose_pool)``: ``choose_pool(kind, cores)`` gives ``(pool,
  concurrency)`` for ``"cpu"`` and ``"io"`` work; the I/O choice is run on a real worker
  process (:mod:`course_tasks.processes`) and must overlap the waits;
* 12.4 ``check("12.4", worker_unit)``: ``worker_unit(project_dir, celery_bin, user)``
  returns a systemd unit that starts the worker the right way, restarts it and stops it
  warm; checked with :mod:`configparser` and, where installed, ``systemd-analyze verify``.
"""

from __future__ import annotations

import configparser
import importlib.util
import inspect
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

import course_tasks.web  # noqa: F401 - sets the filter for Starlette's httpx warning
from course_tasks import processes
from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import (
    Seen,
    StillRunning,
    call_watched,
    is_stub_body,
    kind,
)
from course_tasks.tasks.reports import export_users_csv

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


def _request(client: Any, method: str, url: str, **kwargs: Any) -> tuple[Any, Seen]:
    """``client.METHOD(url, **kwargs)``, bounded: the answer (or StillRunning) and what the
    endpoint did meanwhile (whether it waited for a task, or ran one in the request)."""
    return call_watched(lambda: getattr(client, method)(url, **kwargs),
                        seconds=ANSWER_SECONDS, thread_name=THREAD_NAME)  # fmt: skip


def _diagnose_post(endpoint: Any, body: dict[str, Any]) -> Fail:
    """Why POST answered 500: call the endpoint function itself and look at what it returns."""
    try:
        params = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    except (NameError, TypeError, ValueError):
        params = []
    model = params[0].annotation if params else None
    try:
        value = endpoint(model(**body)) if isinstance(model, type) else endpoint(**body)
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

    ids = []
    for user_id, rows in ((42, 3), (7, 2)):
        body = {"user_id": user_id, "rows": rows}
        response, seen = _request(client, "post", "/exports", json=body)
        if seen.waited:
            raise Fail("POST /exports waited for the export (it called get() on the task)",
                       hint="answer at once with the task's id; GET /exports/{task_id} is "
                       "how the client learns when it is done")
        if seen.ran_here and app.conf.task_always_eager:
            raise Fail("POST /exports ran the export in the request: task_always_eager is on, "
                       "so delay() runs the task right there",
                       hint="this exercise needs a worker: switch task_always_eager off "
                       "(in eager mode, COURSE_BROKER=eager, unset it) and run it again")
        if seen.ran_here:
            raise Fail("POST /exports ran the export in the request (apply() runs it right "
                       "there, no worker involved)",
                       hint="queue it with export_users_csv.delay(...) and answer at once")
        if isinstance(response, StillRunning):
            raise Fail(f"POST /exports did not answer within {ANSWER_SECONDS:g} s",
                       hint="it ran the export in the request: queue it with "
                       "export_users_csv.delay(...) and answer at once")
        if response.status_code == 500:
            raise _diagnose_post(post, body)
        if response.status_code != 202:
            raise Fail(f"POST /exports answered {response.status_code}",
                       hint="answer 202 Accepted (queued, not done): "
                       "@exports.post(\"/exports\", status_code=202)")
        data = response.json()
        if not isinstance(data, dict) or not isinstance(data.get("task_id"), str):
            raise Fail(f"POST /exports answered {data!r}",
                       hint='answer {"task_id": task.id}')
        ids.append((data["task_id"], user_id, rows))

    for task_id, user_id, rows in ids:
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

    cases = [(ids[0][0], "success", "a finished export"),
             (str(uuid.uuid4()), "pending", "an id the worker has not run")]
    for task_id, expected, case in cases:
        response, seen = _request(client, "get", f"/exports/{task_id}")
        if seen.waited or isinstance(response, StillRunning):
            how = "called get() on it" if seen.waited else f"no answer within {ANSWER_SECONDS:g} s"
            raise Fail(f"GET /exports/{{id}} for {case} waited for the task ({how})",
                       hint="it waited for the task: read result.state, never get()")
        if response.status_code != 200:
            raise Fail(f"GET /exports/{{id}} for {case} answered {response.status_code}",
                       hint="give every state an answer: end with a fallback "
                       'such as {"status": state.lower()}')
        data = response.json()
        got = data.get("status") if isinstance(data, dict) else data
        if got != expected:
            raise Fail(f"GET /exports/{{id}} for {case} said status={got!r}",
                       hint=f'answer {{"status": "{expected}", ...}} (the state in lower case)')
        if expected == "success" and data.get("result") != app.AsyncResult(task_id).result:
            raise Fail("GET for a finished export has no 'result' with the task's value",
                       hint='add "result": result.result for SUCCESS')
    return "202 with the id at once; json status for SUCCESS and PENDING, never waiting"


# --------------------------------------------------------------------------- 12.2


class _Settings:
    """A Django-style settings module: Celery's settings carry the CELERY_ prefix."""

    def __init__(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)


def _settings(n: int) -> _Settings:
    return _Settings(
        CELERY_BROKER_URL=f"redis://broker-{n}.example.com:6379/0",
        CELERY_RESULT_BACKEND=f"redis://broker-{n}.example.com:6379/1",
        CELERY_RESULT_EXPIRES=600 * n,
        CELERY_TASK_ROUTES={f"shop{n}.tasks.*": {"queue": f"shop{n}"}},
        DEBUG=True,
        MAIL_SENDER=f"shop{n}@example.com",
    )


@exercise("12.2", "Celery settings from a settings object", points=2)
def _namespace(make_celery: Any) -> str:
    if not callable(make_celery):
        raise Fail(f"got {kind(make_celery)}, not a function",
                   hint="define def make_celery(settings): ...")
    for n in (1, 2):
        settings = _settings(n)
        made = make_celery(settings)
        if made is None and is_stub_body(make_celery, unknown=False):
            raise NotYet("write the body of make_celery")
        if made is app:
            raise Fail("make_celery returned the course's own app, reconfigured",
                       hint="create a new app: Celery(\"shop\", set_as_current=False)")
        if not isinstance(made, Celery):
            raise Fail(f"make_celery returned {kind(made)}, not a Celery app",
                       hint="return the Celery app you configured")
        namespace = getattr(made, "namespace", None)
        broker = made.conf.broker_url
        if broker != settings.CELERY_BROKER_URL:
            if broker is None and namespace is None:
                raise Fail("broker_url is None: Celery did not read CELERY_BROKER_URL",
                           hint='pass namespace="CELERY" to config_from_object, so '
                           "CELERY_BROKER_URL is read as broker_url")
            if broker is None:
                raise Fail(f"broker_url is None with namespace={namespace!r}",
                           hint='the namespace is the settings\' prefix as written: "CELERY"')
            raise Fail(f"for CELERY_BROKER_URL={settings.CELERY_BROKER_URL!r}, "
                       f"broker_url is {broker!r}",
                       hint="read the settings you are given: "
                       'app.config_from_object(settings, namespace="CELERY")')
        expected = {
            "result_backend": settings.CELERY_RESULT_BACKEND,
            "result_expires": settings.CELERY_RESULT_EXPIRES,
            "task_routes": settings.CELERY_TASK_ROUTES,
        }
        for key, value in expected.items():
            if made.conf[key] != value:
                raise Fail(f"{key} is {made.conf[key]!r}, not {value!r}",
                           hint="load every CELERY_ setting: "
                           'app.config_from_object(settings, namespace="CELERY")')
    if app.conf.broker_url == _settings(2).CELERY_BROKER_URL:
        raise Fail("the course's app now has the example broker", hint="never reconfigure it")
    return "broker, backend, expiry and routes from CELERY_* settings, two settings objects"


# --------------------------------------------------------------------------- 12.3

IO_POOLS = ("threads", "gevent", "eventlet")


def _answer(choose_pool: Any, kind_: str, cores: int) -> tuple[str, int]:
    answer = choose_pool(kind_, cores)
    if answer is None and is_stub_body(choose_pool, unknown=False):
        raise NotYet("write the body of choose_pool")
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str)
            and isinstance(answer[1], int)):
        raise Fail(f"choose_pool({kind_!r}, {cores}) returned {answer!r}",
                   hint='return a tuple (pool, concurrency), e.g. ("prefork", 4)')
    return answer[0].lower(), answer[1]


@exercise("12.3", "choose a pool", points=2)
def _pools(choose_pool: Any) -> str:
    if not callable(choose_pool):
        raise Fail(f"got {kind(choose_pool)}, not a function",
                   hint="define def choose_pool(kind, cores): ...")
    for cores in (2, 4):
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
    for cores in (2, 4):
        pool, concurrency = _answer(choose_pool, "io", cores)
        if pool == "solo":
            raise Fail(f"for I/O-bound work you chose solo -c {concurrency}",
                       hint="solo waits for one download at a time: use threads")
        if pool == "prefork":
            raise Fail(f"for I/O-bound work you chose prefork -c {concurrency}",
                       hint="a process per waiting task costs a whole interpreter each: "
                       "threads (or gevent) wait in parallel in one process")
        if pool not in IO_POOLS:
            raise Fail(f"{pool!r} is not a Celery pool", hint="threads, for I/O-bound work")
        if concurrency < 4 * cores:
            raise Fail(f"for I/O-bound work on {cores} cores you chose {pool} -c {concurrency}",
                       hint="waiting tasks use no CPU: run many more than the cores "
                       f"(at least {4 * cores} here)")
    pool, concurrency = _answer(choose_pool, "io", 2)
    if pool != "threads" and importlib.util.find_spec(pool) is None:
        raise Fail(f"{pool} is not installed here, so a worker cannot use it",
                   hint=f"pip install {pool}, or choose threads")
    lab = processes.start(pool=pool, concurrency=concurrency, queues=("check-12",), name="check12")
    try:
        results = [lab.app.send_task("course_tasks.tasks.workload.fetch", args=(f"u{i}", 0.5))
                   for i in range(8)]
        runs = [r.get(timeout=WAIT_SECONDS) for r in results]
    finally:
        lab.stop()
    wall = max(r["finished"] for r in runs) - min(r["started"] for r in runs)
    if wall > 2.0:
        raise Fail(f"8 downloads of 0.5 s took {wall:.1f} s on {pool} -c {concurrency}",
                   hint="the waits did not overlap: raise the concurrency")
    return f"prefork -c cores for CPU; {pool} -c {concurrency} overlapped 8 waits of 0.5 s"


# --------------------------------------------------------------------------- 12.4


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


@exercise("12.4", "a systemd unit for the worker", points=2)
def _unit(worker_unit: Any) -> str:
    if not callable(worker_unit):
        raise Fail(f"got {kind(worker_unit)}, not a function",
                   hint="define def worker_unit(project_dir, celery_bin, user): ...")
    root = Path(__file__).resolve().parents[2]
    celery_bin = str(Path(sys.executable).with_name("celery"))
    for project, user in ((str(root), "celery"), (tempfile.gettempdir(), "www-data")):
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
        service = unit["Service"]
        command = shlex.split(service.get("ExecStart", ""))
        if not command:
            raise Fail("the unit has no ExecStart",
                       hint="ExecStart=CELERY_BIN -A course_tasks worker ...")
        if command[0] != celery_bin:
            raise Fail(f"ExecStart starts with {command[0]!r}",
                       hint="systemd does not search your virtualenv: start with the "
                       "celery_bin path you are given")
        if command[1:4] != ["-A", "course_tasks", "worker"]:
            raise Fail(f"ExecStart runs {' '.join(command[1:4])!r}",
                       hint="run celery_bin -A course_tasks worker ...")
        if service.get("WorkingDirectory") != project or service.get("User") != user:
            raise Fail("WorkingDirectory or User is not the one given",
                       hint="WorkingDirectory=project_dir and User=user, from the arguments")
        if service.get("Restart") not in ("always", "on-failure", "on-abnormal"):
            raise Fail(f"Restart={service.get('Restart')}",
                       hint="Restart=always (or on-failure): a worker that dies must come back")
        detached = "--detach" in command or "-D" in command
        kind_ = service.get("Type", "simple")
        if kind_ == "forking" and not detached:
            raise Fail("Type=forking, but celery worker does not fork without --detach",
                       hint="systemd would wait for the command to exit and kill it after "
                       "90 s: use Type=simple (or add --detach with --pidfile and --logfile)")
        if detached:
            missing = [opt for opt in ("--pidfile", "--logfile")
                       if not any(arg.startswith(opt) for arg in command)]
            if kind_ != "forking" or missing:
                raise Fail("--detach needs Type=forking, --pidfile and --logfile"
                           + (f" (missing: {', '.join(missing)})" if missing else ""),
                           hint="or leave out --detach and use Type=simple: systemd then "
                           "watches the worker itself")
        elif kind_ not in ("simple", "exec"):
            raise Fail(f"Type={kind_}", hint="celery worker stays in the foreground: Type=simple")
        signal = service.get("KillSignal", "SIGTERM")
        if signal not in ("SIGTERM", "TERM", "15"):
            raise Fail(f"KillSignal={signal} stops the worker cold",
                       hint="leave KillSignal at SIGTERM: a warm shutdown lets tasks finish")
        if unit["Install"].get("WantedBy") != "multi-user.target":
            raise Fail("the unit is not started at boot",
                       hint="[Install] WantedBy=multi-user.target")
        complaints = _verify(text)
        if complaints:
            raise Fail(f"systemd-analyze verify: {complaints[0].split(': ', 1)[-1]}",
                       hint="fix the line it names")
    return "foreground worker, Restart, warm stop, started at boot"
