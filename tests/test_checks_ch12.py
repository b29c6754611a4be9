"""The checks of chapter 12 on right and wrong answers, against the embedded worker."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, ResultSet
from checkhelpers import assert_fails, assert_passed, verdict
from fastapi import FastAPI
from pydantic import BaseModel

from course_tasks import app, processes, runtime
from course_tasks.tasks.reports import export_users_csv

pytestmark = pytest.mark.usefixtures("worker")


# --------------------------------------------------------------------------- 12.1


class ExportRequest(BaseModel):
    user_id: int
    rows: int = 3


def make_api(post_body: Any, get_body: Any, status_code: int = 202) -> FastAPI:
    api = FastAPI()
    api.post("/exports", status_code=status_code)(post_body)
    api.get("/exports/{task_id}")(get_body)
    return api


def post_ok(request: ExportRequest):
    return {"task_id": export_users_csv.delay(request.user_id, rows=request.rows,
                                              seconds_per_row=0.1).id}


def post_sync(request: ExportRequest):
    return {"result": export_users_csv(request.user_id, rows=request.rows, seconds_per_row=0.3)}


def post_asyncresult(request: ExportRequest):
    return export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)


def post_fixed_user(request: ExportRequest):
    return {"task_id": export_users_csv.delay(42, rows=3, seconds_per_row=0.1).id}


def post_waits(request: ExportRequest):
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.5)
    task.get(timeout=5)  # "so the client gets a finished export"
    return {"task_id": task.id}


def post_apply(request: ExportRequest):
    task = export_users_csv.apply(args=(request.user_id,), kwargs={"rows": request.rows})
    return {"task_id": task.id}


def post_invented_id(request: ExportRequest):
    export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    return {"task_id": str(uuid.uuid4())}


def post_state_once(request: ExportRequest):
    """Reads the new task's state once, to answer with it: no waiting, so it is right."""
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    return {"task_id": task.id, "status": task.state.lower()}


async def post_async_offloaded(request: ExportRequest):
    """async def, but .delay() runs in FastAPI's thread pool: the event loop never blocks."""
    from starlette.concurrency import run_in_threadpool

    task = await run_in_threadpool(export_users_csv.delay, request.user_id, rows=request.rows,
                                   seconds_per_row=0.1)
    return {"task_id": task.id}


def get_ok(task_id: str):
    result = app.AsyncResult(task_id)
    state = result.state
    if state == "SUCCESS":
        return {"status": "success", "result": result.result}
    if state == "FAILURE":
        return {"status": "failure", "error": str(result.info)}
    if state == "PROGRESS":
        return {"status": "in_progress", "progress": result.info}
    return {"status": state.lower()}


def get_state_names(task_id: str):
    """"progress" as PROGRESS's status, its progress spread out, the error as a repr."""
    from celery.result import AsyncResult as CurrentAppResult

    result = CurrentAppResult(task_id)
    answer = {"status": result.state.lower()}
    if result.state == "SUCCESS":
        answer["result"] = result.result
    elif result.state == "FAILURE":
        answer["error"] = repr(result.result)
    elif result.state == "PROGRESS":
        answer.update(result.info)
    return answer


async def get_async_offloaded(task_id: str):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(get_ok, task_id)


def get_blocks(task_id: str):
    result = app.AsyncResult(task_id)
    return {"status": "success", "result": result.get(timeout=3)}


def get_short_wait(task_id: str):
    result = app.AsyncResult(task_id)
    try:
        return {"status": "success", "result": result.get(timeout=0.2)}
    except CeleryTimeoutError:
        return {"status": result.state.lower()}


def get_reads_finished_with_get(task_id: str):
    result = app.AsyncResult(task_id)
    if result.state == "FAILURE":
        return {"status": "failure", "error": str(result.info)}
    if result.ready():
        return {"status": result.state.lower(), "result": result.get(propagate=False)}
    return {"status": result.state.lower(), "progress": result.info}


def get_upper(task_id: str):
    return {"status": app.AsyncResult(task_id).state}


# -- round 1 adversary (.adversary/ch12_r1.py), wrong answers


def post_ignores_rows(request: ExportRequest):
    task = export_users_csv.delay(request.user_id, seconds_per_row=0.1)
    return {"task_id": task.id}


def post_swapped_args(request: ExportRequest):
    task = export_users_csv.delay(request.rows, request.user_id, 0.1)
    return {"task_id": task.id}


async def post_async_def(request: ExportRequest):
    # .delay() talks to the broker synchronously, inside the event loop
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    return {"task_id": task.id}


def post_waits_until_started(request: ExportRequest):
    # "make sure the worker picked it up": with busy workers every POST hangs
    import time

    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    deadline = time.monotonic() + 5
    while task.state == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"task_id": task.id}


def get_waits_briefly(task_id: str):
    result = app.AsyncResult(task_id)
    try:
        return {"status": "success", "result": result.get(timeout=0.5)}
    except Exception:
        return {"status": result.state.lower()}


def get_not_ready_is_pending(task_id: str):
    # STARTED, PROGRESS, RETRY, FAILURE... all "pending" until SUCCESS
    result = app.AsyncResult(task_id)
    if result.successful():
        return {"status": "success", "result": result.result}
    return {"status": "pending"}


def get_ready_is_success(task_id: str):
    # ready() is true for FAILURE and REVOKED too
    result = app.AsyncResult(task_id)
    if result.ready():
        return {"status": "success", "result": result.result}
    return {"status": result.state.lower()}


def get_result_for_every_state(task_id: str):
    # a FAILURE's result is the exception: FastAPI sends it as {}
    result = app.AsyncResult(task_id)
    return {"status": result.state.lower(), "result": result.result}


def get_unknown_is_404(task_id: str):
    from fastapi import HTTPException

    if app.AsyncResult(task_id).state == "PENDING":
        raise HTTPException(status_code=404, detail="no such export")
    return get_ok(task_id)


def get_success_without_result(task_id: str):
    return {"status": app.AsyncResult(task_id).state.lower()}


_STARTED: dict[str, AsyncResult] = {}  # filled by post_remembers, in this process only


def post_remembers(request: ExportRequest):
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    _STARTED[task.id] = task
    return {"task_id": task.id}


def get_from_global(task_id: str):
    # another web process (or this one after a restart) answers "pending" for ever
    task = _STARTED.get(task_id)
    if task is None:
        return {"status": "pending"}
    return get_ok(task.id)


async def get_async_def(task_id: str):
    # result.state is a blocking read of the result backend, in the event loop
    return get_ok(task_id)


def test_12_1_right_answer() -> None:
    assert_passed(verdict("12.1", make_api(post_ok, get_ok)), "202 with the id at once")


@pytest.mark.parametrize(
    "api",
    [
        # get() on a task that has finished does not wait: the check lets it be
        pytest.param(lambda: make_api(post_ok, get_reads_finished_with_get), id="get-after-ready"),
        pytest.param(lambda: make_api(post_state_once, get_ok), id="post-reads-state-once"),
        pytest.param(lambda: make_api(post_ok, get_state_names), id="get-other-names"),
        pytest.param(lambda: make_api(post_async_offloaded, get_async_offloaded),
                     id="async-def-offloaded"),
    ],
)
def test_12_1_other_right_answers(api: Any) -> None:
    assert_passed(verdict("12.1", api()), "202 with the id at once")


def test_12_1_in_eager_mode_says_a_worker_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    assert_fails(verdict("12.1", make_api(post_ok, get_ok)), "task_always_eager is on",
                 "this exercise needs a worker")


def test_12_1_leaves_asyncresult_get_as_it_was() -> None:
    before = (AsyncResult.get, AsyncResult.wait)
    group_waits = (ResultSet.get, ResultSet.join, ResultSet.join_native)
    send_task, get_task_meta = app.send_task, type(app.backend).get_task_meta
    verdict("12.1", make_api(post_ok, get_blocks))
    assert (AsyncResult.get, AsyncResult.wait) == before
    assert (ResultSet.get, ResultSet.join, ResultSet.join_native) == group_waits
    assert "send_task" not in vars(app)
    assert (app.send_task, type(app.backend).get_task_meta) == (send_task, get_task_meta)


@pytest.mark.parametrize(
    ("api", "problem", "hint"),
    [
        pytest.param(lambda: make_api(post_sync, get_ok), "POST /exports failed with ValueError",
                     "queue the task with export_users_csv.delay", id="post-calls-the-function"),
        pytest.param(lambda: make_api(post_asyncresult, get_ok), "it returned the AsyncResult",
                     'return {"task_id": task.id}', id="post-returns-asyncresult"),
        pytest.param(lambda: make_api(post_ok, get_blocks), "waited for the task (called get()",
                     "it waited for the task", id="get-blocks"),
        pytest.param(lambda: make_api(post_ok, get_short_wait),
                     "for an id the worker has not run waited",
                     "it waited for the task: read result.state, never get()",
                     id="get-short-wait"),
        pytest.param(lambda: make_api(post_waits, get_ok), "POST /exports waited for the export",
                     "answer at once with the task's id", id="post-waits"),
        pytest.param(lambda: make_api(post_invented_id, get_ok),
                     "no worker ran a task with the id",
                     "answer with the id of the task you queued", id="post-invented-id"),
        pytest.param(lambda: make_api(post_fixed_user, get_ok), "the task queued for user 7",
                     "pass the request's user_id", id="post-fixed-user"),
        pytest.param(lambda: make_api(post_ok, get_upper), "status='SUCCESS'",
                     'answer {"status": "success"', id="get-upper"),
        pytest.param(lambda: FastAPI(), "the app needs POST /exports", "decorate with",
                     id="no-routes"),
        # round 1 adversary
        pytest.param(lambda: make_api(post_ok, get_ok, status_code=200),
                     "POST /exports answered 200", "answer 202 Accepted", id="r1-post-200"),
        pytest.param(lambda: make_api(post_apply, get_ok),
                     "POST /exports ran the export in the request (apply() runs it",
                     "queue it with export_users_csv.delay(...) and answer at once",
                     id="r1-post-runs-apply"),
        pytest.param(lambda: make_api(post_ignores_rows, get_ok),
                     "the task queued for user 42 with 3 rows gave",
                     "pass the request's user_id and rows", id="r1-post-ignores-rows"),
        pytest.param(lambda: make_api(post_swapped_args, get_ok),
                     "the task queued for user 42 with 3 rows gave",
                     "pass the request's user_id and rows", id="r1-post-swapped-args"),
        pytest.param(lambda: make_api(post_async_def, get_ok),
                     "POST /exports queued the export inside FastAPI's event loop",
                     "make it a plain def", id="r1-post-async-def"),
        pytest.param(lambda: make_api(post_waits_until_started, get_ok),
                     "POST /exports waited for a worker to pick the export up",
                     "answer at once with the task's id, whatever the workers are doing",
                     id="r1-post-waits-until-started"),
        pytest.param(lambda: make_api(post_ok, get_waits_briefly),
                     "for an id the worker has not run waited for the task (called get()",
                     "it waited for the task: read result.state, never get()",
                     id="r1-get-waits-briefly"),
        pytest.param(lambda: make_api(post_ok, get_not_ready_is_pending),
                     "for an export that failed with a ValueError said status='pending'",
                     'answer {"status": "failure"}: only a task the result backend knows '
                     "nothing about is PENDING", id="r1-get-not-ready-is-pending"),
        pytest.param(lambda: make_api(post_ok, get_ready_is_success),
                     "for an export that failed with a ValueError said status='success'",
                     'answer {"status": "failure"}: ready() is true for FAILURE and REVOKED',
                     id="r1-get-ready-is-success"),
        pytest.param(lambda: make_api(post_ok, get_result_for_every_state),
                     "the error is missing (the exception became {} in json)",
                     'add "error": str(result.info)', id="r1-get-result-for-every-state"),
        pytest.param(lambda: make_api(post_ok, get_unknown_is_404),
                     "for an id the worker has not run answered 404",
                     "give every state an answer", id="r1-get-unknown-is-404"),
        pytest.param(lambda: make_api(post_ok, get_success_without_result),
                     "GET for a finished export has no 'result'",
                     'add "result": result.result for SUCCESS', id="r1-get-success-without-result"),
        pytest.param(lambda: make_api(post_remembers, get_from_global),
                     "said status='pending' for an export that a worker has finished, but that "
                     "this app's POST did not queue",
                     "read the state from the result backend", id="r1-get-from-global-dict"),
        pytest.param(lambda: make_api(post_ok, get_async_def),
                     "GET /exports/{id} read the task's state inside FastAPI's event loop",
                     "make it a plain def", id="r1-get-async-def"),
    ],
)
def test_12_1_wrong_answers(api: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("12.1", api()), problem, hint)


def test_12_1_stub() -> None:
    def post_stub(request: ExportRequest): ...

    def get_stub(task_id: str): ...

    assert "not yet" in verdict("12.1", make_api(post_stub, get_stub)).feedback


# --------------------------------------------------------------------------- 12.2


def make_ok(settings):
    made = Celery("shop", set_as_current=False)
    made.config_from_object(settings, namespace="CELERY")
    return made


def make_by_hand(settings):
    """Every CELERY_ attribute, read with dir() and getattr(): as config_from_object does."""
    made = Celery("shop", set_as_current=False)
    made.conf.update({key.removeprefix("CELERY_").lower(): getattr(settings, key)
                      for key in dir(settings) if key.startswith("CELERY_")})
    return made


def make_no_namespace(settings):
    made = Celery("shop", set_as_current=False)
    made.config_from_object(settings)
    return made


def make_lower_namespace(settings):
    made = Celery("shop", set_as_current=False)
    made.config_from_object(settings, namespace="celery")
    return made


def make_hardcoded(settings):
    made = Celery("shop", set_as_current=False)
    made.conf.update(broker_url="redis://broker-1.example.com:6379/0")
    return made


def make_course_app(settings):
    return app


# -- round 1 adversary (.adversary/ch12_r1.py), wrong answers


def make_constructor_args(settings):
    # broker and backend passed to the constructor: no other setting is read
    return Celery("shop", broker=settings.CELERY_BROKER_URL,
                  backend=getattr(settings, "CELERY_RESULT_BACKEND", None), set_as_current=False)


def make_four_keys(settings):
    # exactly the four settings the exercise names: every other CELERY_* is dropped
    made = Celery("shop", set_as_current=False)
    made.conf.broker_url = getattr(settings, "CELERY_BROKER_URL", None)
    made.conf.result_backend = getattr(settings, "CELERY_RESULT_BACKEND", None)
    made.conf.result_expires = getattr(settings, "CELERY_RESULT_EXPIRES", None)
    made.conf.task_routes = getattr(settings, "CELERY_TASK_ROUTES", None)
    return made


def make_vars(settings):
    # vars(): nothing from the class, a base class or django's LazySettings
    made = Celery("shop", set_as_current=False)
    made.conf.update({key.removeprefix("CELERY_").lower(): value
                      for key, value in vars(settings).items() if key.startswith("CELERY_")})
    return made


def make_upper_keys(settings):
    # strips the prefix but keeps upper-case keys: BROKER_URL, TASK_ROUTES...
    made = Celery("shop", set_as_current=False)
    made.conf.update({key.removeprefix("CELERY_"): getattr(settings, key)
                      for key in dir(settings) if key.startswith("CELERY_")})
    return made


def make_django_string(settings):
    # the chapter's line copied as it is: reads django.conf:settings, not the argument
    made = Celery("shop", set_as_current=False)
    made.config_from_object("django.conf:settings", namespace="CELERY")
    return made


_CACHED: list[Celery] = []


def make_cached(settings):
    # one app per process: the second settings object is never read
    if not _CACHED:
        _CACHED.append(Celery("shop", set_as_current=False))
        _CACHED[0].config_from_object(settings, namespace="CELERY")
    return _CACHED[0]


def make_set_as_current_default(settings):
    # Celery("shop") becomes the process's current app
    made = Celery("shop")
    made.config_from_object(settings, namespace="CELERY")
    return made


def make_configures_course_app(settings):
    app.config_from_object(settings, namespace="CELERY")
    return app


@pytest.mark.parametrize(
    "answer",
    [pytest.param(make_ok, id="config-from-object"), pytest.param(make_by_hand, id="by-hand")],
)
def test_12_2_right_answers(answer: Any) -> None:
    assert_passed(verdict("12.2", answer), "every CELERY_* setting read")


def test_12_2_leaves_the_course_app_current() -> None:
    from celery import current_app

    _CACHED.clear()
    verdict("12.2", make_set_as_current_default)
    assert current_app._get_current_object() is app
    verdict("12.2", make_configures_course_app)
    assert app.conf.broker_url != "redis://broker-1.example.com:6379/0"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(make_hardcoded, "result_backend is None", "load every CELERY_ setting",
                     id="hardcoded"),
        pytest.param(make_course_app, "the course's own app", "create a new app",
                     id="course-app"),
        # round 1 adversary
        pytest.param(make_no_namespace, "broker_url is None: Celery did not read "
                     "CELERY_BROKER_URL", 'pass namespace="CELERY" to config_from_object',
                     id="r1-no-namespace"),
        pytest.param(make_lower_namespace, "broker_url is None with namespace='celery'",
                     "the namespace is the settings' prefix as written",
                     id="r1-namespace-lowercase"),
        pytest.param(make_constructor_args,
                     "result_expires is datetime.timedelta(days=1), not 600",
                     "load every CELERY_ setting", id="r1-constructor-args"),
        pytest.param(make_four_keys, "task_acks_late is False, not True: CELERY_TASK_ACKS_LATE "
                     "was not read", "load every CELERY_ setting, not only the four",
                     id="r1-four-keys-copied"),
        pytest.param(make_vars, "make_celery read only the settings set on the object itself",
                     "read them as attributes (getattr)", id="r1-vars-of-settings"),
        pytest.param(make_upper_keys, "result_backend is None, not", "load every CELERY_ setting",
                     id="r1-upper-case-keys"),
        pytest.param(make_django_string, "configured the app from 'django.conf:settings', not "
                     "from the settings object it is given", "pass the object itself",
                     id="r1-django-string"),
        pytest.param(make_cached, "broker_url is 'redis://broker-1.example.com:6379/0'",
                     "read the settings you are given", id="r1-cached-app"),
        pytest.param(make_set_as_current_default,
                     "make_celery made the new app Celery's current app",
                     'Celery("shop", set_as_current=False)', id="r1-set-as-current-default"),
        pytest.param(make_configures_course_app, "make_celery returned the course's own app",
                     "create a new app", id="r1-configures-course-app"),
    ],
)
def test_12_2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    _CACHED.clear()
    assert_fails(verdict("12.2", answer), problem, hint)


# --------------------------------------------------------------------------- 12.3


def choose_ok(kind, cores):
    return ("prefork", cores) if kind == "cpu" else ("threads", 10 * cores)


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        pytest.param(choose_ok, "threads -c 20 overlapped the 8 waits", id="threads"),
        # section 5: "or prefork with a higher concurrency, if memory allows"
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("prefork", 10 * c),
                     "prefork -c 20 (started with 8 children", id="prefork-io"),
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("threads", 4 * c),
                     "threads -c 8 overlapped", id="threads-4x"),
    ],
)
def test_12_3_right_answers(answer: Any, detail: str) -> None:
    assert_passed(verdict("12.3", answer), detail)


def pool_cpu_this_machine(kind, cores):
    import os

    return ("prefork", os.cpu_count()) if kind == "cpu" else ("threads", 10 * cores)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(lambda k, c: ("threads", 8), "for CPU-bound work on 2 cores you chose threads",
                     "threads and green threads share one GIL", id="threads-for-all"),
        pytest.param(lambda k, c: ("prefork", 2), "for CPU-bound work on 3 cores",
                     "one process per core", id="prefork-2"),
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("threads", 2),
                     "threads -c 2", "waiting tasks use no CPU", id="io-threads-2"),
        pytest.param(lambda k, c: "prefork", "returned 'prefork'", "return a tuple",
                     id="not-a-tuple"),
        # round 1 adversary
        pytest.param(lambda k, c: ("prefork", c),
                     "for I/O-bound work on 2 cores you chose prefork -c 2",
                     "waiting tasks use no CPU", id="r1-prefork-cores-for-all"),
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("threads", c),
                     "for I/O-bound work on 2 cores you chose threads -c 2",
                     "waiting tasks use no CPU", id="r1-io-threads-equal-cores"),
        pytest.param(lambda k, c: ("threads", c) if k == "cpu" else ("threads", 10 * c),
                     "for CPU-bound work on 2 cores you chose threads",
                     "threads and green threads share one GIL", id="r1-cpu-threads"),
        pytest.param(lambda k, c: ("prefork", 4 * c) if k == "cpu" else ("threads", 10 * c),
                     "for CPU-bound work on 2 cores you chose prefork -c 8",
                     "one process per core", id="r1-cpu-oversubscribed"),
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("solo", 1),
                     "for I/O-bound work you chose solo -c 1",
                     "solo waits for one download at a time", id="r1-io-solo"),
        pytest.param(lambda k, c: ("prefork", 2) if k == "cpu" else ("threads", 20),
                     "for CPU-bound work on 3 cores you chose prefork -c 2",
                     "one process per core", id="r1-cpu-hardcoded-2"),
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("threads", 8),
                     "for I/O-bound work on 3 cores you chose threads -c 8 (as for 2 cores)",
                     "waiting tasks use no CPU", id="r1-io-threads-hardcoded-8"),
        pytest.param(lambda k, c: ("solo", 1) if k == "cpu" else ("threads", 10 * c),
                     "for CPU-bound work on 2 cores you chose solo",
                     "solo runs one task at a time", id="r1-cpu-solo"),
        pytest.param(lambda k, c: ("prefork", c + 1) if k == "cpu" else ("threads", 10 * c),
                     "for CPU-bound work on 2 cores you chose prefork -c 3",
                     "one process per core", id="r1-cpu-cores-plus-one"),
        pytest.param(pool_cpu_this_machine, "for CPU-bound work on ", "one process per core",
                     id="r1-cpu-this-machine"),
        pytest.param(lambda k, c: ("prefork", c) if k == "CPU" else ("threads", 10 * c),
                     "for CPU-bound work on 2 cores you chose threads",
                     "threads and green threads share one GIL", id="r1-kind-upper"),
        pytest.param(lambda k, c: ("prefork", c) if k == "cpu" else ("threads", 20),
                     "for I/O-bound work on 8 cores you chose threads -c 20 (as for 2 cores)",
                     "waiting tasks use no CPU: run many more than the cores (at least 32 here",
                     id="r1-io-threads-hardcoded-20"),
    ],
)
def test_12_3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("12.3", answer), problem, hint)


# --------------------------------------------------------------------------- 12.4

UNIT = """\
[Unit]
Description=Celery worker

[Service]
Type={type}
User={user}
WorkingDirectory={project}
ExecStart={celery} -A course_tasks worker --loglevel=INFO{extra}
{restart}KillSignal={signal}
{stop}
[Install]
WantedBy=multi-user.target
"""


def unit(type="simple", extra="", restart="Restart=always\n", signal="SIGTERM", exe=None,
         stop="KillMode=mixed\nTimeoutStopSec=600\n"):
    def worker_unit(project_dir, celery_bin, user):
        return UNIT.format(type=type, user=user, project=project_dir, celery=exe or celery_bin,
                           extra=extra, restart=restart, signal=signal, stop=stop)

    return worker_unit


def r1_unit(*, unit_section="", service=None, install="WantedBy=multi-user.target",
            execstart=None):
    """The round 1 adversary's unit builder: its base unit is the solution's, with
    KillMode=mixed (each answer below changes one thing of it)."""

    def worker_unit(project_dir, celery_bin, user):
        lines = service if service is not None else [
            "Type=simple", "User={user}", "WorkingDirectory={project_dir}",
            "ExecStart={execstart}", "Restart=always", "KillSignal=SIGTERM", "KillMode=mixed",
            "TimeoutStopSec=600",
        ]  # fmt: skip
        start = (execstart or "{celery_bin} -A course_tasks worker --loglevel=INFO").format(
            celery_bin=celery_bin)
        values = {"user": user, "project_dir": project_dir, "celery_bin": celery_bin,
                  "execstart": start}  # fmt: skip
        text = ("[Unit]\nDescription=Celery worker\nAfter=network-online.target\n"
                + unit_section.format(**values))
        text += "\n[Service]\n" + "\n".join(line.format(**values) for line in lines) + "\n"
        if install is not None:
            text += "\n[Install]\n" + install + "\n"
        return text

    return worker_unit


BASE = ["Type=simple", "User={user}", "WorkingDirectory={project_dir}", "ExecStart={execstart}",
        "Restart=always", "KillSignal=SIGTERM"]  # fmt: skip


def test_12_4_right_answer() -> None:
    assert_passed(verdict("12.4", unit()), "foreground worker")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(unit(type="forking", extra=" --detach --pidfile=/run/celery/w.pid "
                          "--logfile=/var/log/celery/w.log"), id="detached"),
        pytest.param(unit(type="exec", restart="Restart=on-failure\n"), id="exec-on-failure"),
        pytest.param(unit(stop="KillMode=mixed\nTimeoutSec=10min\n"), id="timeoutsec-10min"),
        pytest.param(unit(stop="KillMode=mixed\nTimeoutStopSec=5min 30s\n"), id="timeout-5min30"),
        pytest.param(unit(stop="KillMode=mixed\nTimeoutStopSec=infinity\n"), id="no-timeout"),
        pytest.param(unit(signal="TERM", stop="KillMode=mixed\nTimeoutStopSec=900\n"
                          "ExecStop=/bin/kill -s TERM $MAINPID\n"), id="execstop-term"),
        pytest.param(r1_unit(), id="r1-base"),
    ],
)
def test_12_4_other_right_answers(answer: Any) -> None:
    assert_passed(verdict("12.4", answer), "KillMode=mixed")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(unit(restart=""), "the unit has no Restart", "Restart=always",
                     id="no-restart"),
        pytest.param(unit(exe="celery"), "ExecStart starts with 'celery'",
                     "systemd does not search", id="relative-celery"),
        pytest.param(unit(type="forking"), "Type=forking, but celery worker does not fork",
                     "systemd would wait", id="forking"),
        pytest.param(unit(type="forking", extra=" --detach"), "missing: --pidfile, --logfile",
                     "or leave out --detach", id="forking-detach"),
        pytest.param(unit(signal="SIGQUIT"), "KillSignal=SIGQUIT", "leave KillSignal at SIGTERM",
                     id="killsignal-quit"),
        pytest.param(unit(stop="KillMode=mixed\nTimeoutStopSec=5min\n"),
                     "TimeoutStopSec=5min (300 s): systemd SIGKILLs the worker before a "
                     "5-minute task can finish", "TimeoutStopSec= longer than the longest task",
                     id="timeout-equal-to-the-task"),
        pytest.param(unit(stop="KillMode=mixed\nTimeoutStopSec=ten minutes\n"),
                     "TimeoutStopSec=ten minutes is not a time span", "TimeoutStopSec= longer",
                     id="timeout-not-a-span"),
        pytest.param(unit(extra=" -BE"), "ExecStart runs beat inside the worker (-B)",
                     "leave out -B", id="beat-grouped-flags"),
        pytest.param(unit(stop="KillMode=mixed\nTimeoutStopSec=600\nExecStop=/bin/sh -c "
                          "'kill -9 $MAINPID'\n"), "sends SIGKILL before systemd's KillSignal",
                     "leave out ExecStop", id="execstop-sh-kill-9"),
        # round 1 adversary (each on the solution's unit, KillMode=mixed included, changed once)
        pytest.param(r1_unit(service=[*BASE, "TimeoutStopSec=600"]),
                     "the unit leaves KillMode at systemd's default, control-group: systemctl "
                     "stop sends TERM to every process", "KillMode=mixed",
                     id="r1-default-killmode"),
        pytest.param(r1_unit(service=[*BASE, "KillMode=control-group", "TimeoutStopSec=600"]),
                     "the unit has KillMode=control-group", "KillMode=mixed",
                     id="r1-killmode-control-group"),
        pytest.param(r1_unit(service=[*BASE, "KillMode=process", "TimeoutStopSec=600"]),
                     "KillMode=process signals the main process only", "KillMode=mixed",
                     id="r1-killmode-process"),
        pytest.param(r1_unit(service=[*BASE, "KillMode=none", "TimeoutStopSec=600"]),
                     "KillMode=none: systemctl stop signals no process", "KillMode=mixed",
                     id="r1-killmode-none"),
        pytest.param(r1_unit(service=[
            "Type=forking", "User={user}", "WorkingDirectory={project_dir}",
            "ExecStart={celery_bin} -A course_tasks worker --loglevel=INFO "
            "--pidfile=/run/celery/worker.pid", "PIDFile=/run/celery/worker.pid",
            "Restart=always", "KillSignal=SIGTERM", "KillMode=mixed", "TimeoutStopSec=600",
        ]), "Type=forking, but celery worker does not fork without --detach",
            "systemd would wait", id="r1-type-forking"),
        pytest.param(r1_unit(execstart="{celery_bin} -A course_tasks worker --loglevel=INFO "
                             "--detach", service=[*BASE[1:], "Type=forking", "KillMode=mixed",
                                                  "TimeoutStopSec=600"]),
                     "--detach needs Type=forking, --pidfile and --logfile (missing: --pidfile, "
                     "--logfile)", "or leave out --detach", id="r1-forking-detach-no-pidfile"),
        pytest.param(r1_unit(service=["Type=notify", *BASE[1:], "KillMode=mixed",
                                      "TimeoutStopSec=600"]),
                     "Type=notify: systemd waits for a READY=1 notification",
                     "celery worker stays in the foreground: Type=simple", id="r1-type-notify"),
        pytest.param(r1_unit(service=["Type=oneshot", *BASE[1:4], "KillSignal=SIGTERM",
                                      "KillMode=mixed", "TimeoutStopSec=600"]),
                     "Type=oneshot: systemd waits for the command to exit",
                     "celery worker stays in the foreground", id="r1-type-oneshot"),
        pytest.param(r1_unit(service=["Type=oneshot", *BASE[1:4], "Restart=on-failure",
                                      "KillSignal=SIGTERM", "KillMode=mixed",
                                      "TimeoutStopSec=600"]),
                     "Type=oneshot: systemd waits for the command to exit",
                     "celery worker stays in the foreground", id="r1-type-oneshot-on-failure"),
        pytest.param(r1_unit(service=[*BASE[:4], "Restart=on-success", "KillSignal=SIGTERM",
                                      "KillMode=mixed", "TimeoutStopSec=600"]),
                     "the unit has Restart=on-success: a worker that dies stays down",
                     "Restart=always (or on-failure)", id="r1-restart-on-success"),
        pytest.param(r1_unit(service=[*BASE[:4], "Restart=on-abort", "KillSignal=SIGTERM",
                                      "KillMode=mixed", "TimeoutStopSec=600"]),
                     "the unit has Restart=on-abort", "Restart=always (or on-failure)",
                     id="r1-restart-on-abort"),
        pytest.param(r1_unit(service=[*BASE, "KillMode=mixed"]),
                     "the unit has no TimeoutStopSec: systemd waits its default 90 s",
                     "TimeoutStopSec= longer than the longest task (5 minutes here)",
                     id="r1-no-timeout-stop"),
        pytest.param(r1_unit(service=[*BASE, "KillMode=mixed", "TimeoutStopSec=10"]),
                     "TimeoutStopSec=10 (10 s): systemd SIGKILLs the worker before a 5-minute "
                     "task can finish", "TimeoutStopSec= longer than the longest task",
                     id="r1-timeout-stop-10s"),
        pytest.param(r1_unit(service=[*BASE[:5], "KillSignal=SIGQUIT", "KillMode=mixed",
                                      "TimeoutStopSec=600"]),
                     "KillSignal=SIGQUIT stops the worker cold", "leave KillSignal at SIGTERM",
                     id="r1-killsignal-quit"),
        pytest.param(r1_unit(service=[*BASE, "KillMode=mixed", "TimeoutStopSec=600",
                                      "KillSignal=SIGQUIT"]),
                     "KillSignal=SIGQUIT stops the worker cold", "leave KillSignal at SIGTERM",
                     id="r1-killsignal-twice"),
        pytest.param(r1_unit(service=[*BASE[:4], "ExecStop=/bin/kill -QUIT $MAINPID",
                                      *BASE[4:], "KillMode=mixed", "TimeoutStopSec=600"]),
                     "ExecStop=/bin/kill -QUIT $MAINPID sends SIGQUIT before systemd's "
                     "KillSignal: every stop is a cold shutdown", "leave out ExecStop",
                     id="r1-execstop-kill-quit"),
        pytest.param(r1_unit(unit_section="User={user}\n", service=[
            BASE[0], *BASE[2:], "KillMode=mixed", "TimeoutStopSec=600"]),
                     "User=celery is in [Unit], where systemd ignores it", "move it to [Service]",
                     id="r1-user-in-unit-section"),
        pytest.param(r1_unit(unit_section="Restart=always\n", service=[
            *BASE[:4], "KillSignal=SIGTERM", "KillMode=mixed", "TimeoutStopSec=600"]),
                     "Restart=always is in [Unit], where systemd ignores it",
                     "move it to [Service]", id="r1-restart-in-unit-section"),
        pytest.param(r1_unit(execstart="celery -A course_tasks worker --loglevel=INFO"),
                     "ExecStart starts with 'celery'", "systemd does not search your virtualenv",
                     id="r1-relative-celery"),
        pytest.param(r1_unit(execstart="{celery_bin} -A course_tasks worker -B --loglevel=INFO"),
                     "ExecStart runs beat inside the worker (-B)",
                     "leave out -B: beat runs once, in a unit of its own", id="r1-embedded-beat"),
        pytest.param(r1_unit(execstart="{celery_bin} -A course_tasks beat --loglevel=INFO"),
                     "ExecStart runs '-A course_tasks beat'",
                     "run celery_bin -A course_tasks worker", id="r1-runs-beat"),
        pytest.param(r1_unit(execstart="{celery_bin} -A course_tasks worker --loglevel=INFO "
                             "--detach --pidfile=/run/celery/worker.pid "
                             "--logfile=/var/log/celery/worker.log"),
                     "--detach needs Type=forking, --pidfile and --logfile",
                     "or leave out --detach", id="r1-simple-with-detach"),
        pytest.param(r1_unit(install=None), "the unit has no [Install] section",
                     "a service unit has [Unit], [Service] and [Install]", id="r1-no-install"),
        pytest.param(r1_unit(install="WantedBy=multi-user"), "the unit is not started at boot",
                     "[Install] WantedBy=multi-user.target", id="r1-wantedby-no-suffix"),
        pytest.param(r1_unit(service=[BASE[0], BASE[1], *BASE[3:], "KillMode=mixed",
                                      "TimeoutStopSec=600"]),
                     "the unit has no WorkingDirectory in [Service]",
                     "WorkingDirectory={project_dir}, from the argument", id="r1-no-workdir"),
    ],
)
def test_12_4_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("12.4", answer), problem, hint)


def test_12_4_the_adversarys_units_without_killmode_are_told_about_it() -> None:
    """Round 1's units as written (no KillMode, like the solution's then): KillMode is named."""
    answer = r1_unit(service=[*BASE, "TimeoutStopSec=600"])
    assert_fails(verdict("12.4", answer), "KillMode at systemd's default", "KillMode=mixed")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_accepts_the_right_unit(tmp_path: Path) -> None:
    path = tmp_path / "celery-worker.service"
    path.write_text(unit()(str(tmp_path), str(Path(sys.executable).with_name("celery")), "root"))
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                          text=True, timeout=30)
    assert path.name not in done.stderr, done.stderr


# --------------------------------------------------------------------------- services


def test_max_tasks_per_child_replaces_the_child() -> None:
    lab = processes.start(pool="prefork", concurrency=1, queues=("t12",), name="t12",
                          options=("--max-tasks-per-child=1",))
    try:
        pids = [lab.app.send_task("course_tasks.tasks.workload.whoami").get(timeout=20)
                for _ in range(3)]
    finally:
        lab.stop()
    assert len(set(pids)) == 3
    assert "lab-worker:t12" not in runtime.services()


def test_cold_shutdown_marks_the_running_task_retry() -> None:
    import time

    lab = processes.start(pool="prefork", concurrency=1, queues=("t12",), name="t12")
    result = lab.app.send_task("course_tasks.tasks.workload.fetch", args=("cold", 2.0))
    deadline = time.monotonic() + 10
    while result.state != "STARTED" and time.monotonic() < deadline:
        time.sleep(0.02)
    lab.stop(cold=True)
    assert result.state == "RETRY"
    assert not lab.alive()
