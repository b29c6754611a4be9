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
    # 0.5 s a row: the export is surely still running when get() is called, however loaded
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.5)
    task.get(timeout=5)  # "so the client gets a finished export"
    return {"task_id": task.id}


def post_apply(request: ExportRequest):
    task = export_users_csv.apply(args=(request.user_id,), kwargs={"rows": request.rows})
    return {"task_id": task.id}


def post_invented_id(request: ExportRequest):
    export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    return {"task_id": str(uuid.uuid4())}


def get_ok(task_id: str):
    result = app.AsyncResult(task_id)
    if result.state == "SUCCESS":
        return {"status": "success", "result": result.result}
    return {"status": result.state.lower()}


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
    if result.ready():
        return {"status": result.state.lower(), "result": result.get(propagate=False)}
    return {"status": result.state.lower()}


def get_upper(task_id: str):
    return {"status": app.AsyncResult(task_id).state}


def test_12_1_right_answer() -> None:
    assert_passed(verdict("12.1", make_api(post_ok, get_ok)), "202 with the id at once")


def test_12_1_get_may_read_a_finished_result_with_get() -> None:
    """get() on a task that has finished does not wait: the check lets it be."""
    assert_passed(verdict("12.1", make_api(post_ok, get_reads_finished_with_get)), "202 with")


def test_12_1_in_eager_mode_says_a_worker_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    assert_fails(verdict("12.1", make_api(post_ok, get_ok)), "task_always_eager is on",
                 "this exercise needs a worker")


def test_12_1_leaves_asyncresult_get_as_it_was() -> None:
    before = (AsyncResult.get, AsyncResult.wait)
    group_waits = (ResultSet.get, ResultSet.join, ResultSet.join_native)
    verdict("12.1", make_api(post_ok, get_blocks))
    assert (AsyncResult.get, AsyncResult.wait) == before
    assert (ResultSet.get, ResultSet.join, ResultSet.join_native) == group_waits


@pytest.mark.parametrize(
    ("api", "problem", "hint"),
    [
        (lambda: make_api(post_sync, get_ok), "POST /exports failed with ValueError",
         "queue the task with export_users_csv.delay"),
        (lambda: make_api(post_asyncresult, get_ok), "it returned the AsyncResult",
         'return {"task_id": task.id}'),
        (lambda: make_api(post_ok, get_blocks), "waited for the task (called get()",
         "it waited for the task"),
        (lambda: make_api(post_ok, get_short_wait), "for an id the worker has not run waited",
         "it waited for the task: read result.state, never get()"),
        (lambda: make_api(post_waits, get_ok), "POST /exports waited for the export",
         "answer at once with the task's id"),
        (lambda: make_api(post_apply, get_ok), "POST /exports ran the export in the request",
         "queue it with export_users_csv.delay(...)"),
        (lambda: make_api(post_invented_id, get_ok), "no worker ran a task with the id",
         "answer with the id of the task you queued"),
        (lambda: make_api(post_ok, get_ok, status_code=200), "answered 200", "answer 202"),
        (lambda: make_api(post_fixed_user, get_ok), "the task queued for user 7",
         "pass the request's user_id"),
        (lambda: make_api(post_ok, get_upper), "status='SUCCESS'", 'answer {"status": "success"'),
        (lambda: FastAPI(), "the app needs POST /exports", "decorate with"),
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


def test_12_2_right_answer() -> None:
    assert_passed(verdict("12.2", make_ok), "two settings objects")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (make_no_namespace, "broker_url is None", 'pass namespace="CELERY"'),
        (make_lower_namespace, "namespace='celery'", "the namespace is the settings' prefix"),
        (make_hardcoded, "result_backend is None", "load every CELERY_ setting"),
        (make_course_app, "the course's own app", "create a new app"),
    ],
)
def test_12_2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("12.2", answer), problem, hint)


# --------------------------------------------------------------------------- 12.3


def test_12_3_right_answer() -> None:
    def choose(kind, cores):
        return ("prefork", cores) if kind == "cpu" else ("threads", 10 * cores)

    assert_passed(verdict("12.3", choose), "overlapped 8 waits")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (lambda k, c: ("threads", 8), "for CPU-bound work on 2 cores you chose threads",
         "threads and green threads share one GIL"),
        (lambda k, c: ("prefork", 2), "for CPU-bound work on 4 cores", "one process per core"),
        (lambda k, c: ("prefork", c) if k == "cpu" else ("solo", 1), "you chose solo",
         "solo waits for one download at a time"),
        (lambda k, c: ("prefork", c) if k == "cpu" else ("prefork", 100), "you chose prefork",
         "a process per waiting task"),
        (lambda k, c: ("prefork", c) if k == "cpu" else ("threads", 2), "threads -c 2",
         "waiting tasks use no CPU"),
        (lambda k, c: "prefork", "returned 'prefork'", "return a tuple"),
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

[Install]
WantedBy=multi-user.target
"""


def unit(type="simple", extra="", restart="Restart=always\n", signal="SIGTERM", exe=None):
    def worker_unit(project_dir, celery_bin, user):
        return UNIT.format(type=type, user=user, project=project_dir, celery=exe or celery_bin,
                           extra=extra, restart=restart, signal=signal)

    return worker_unit


def test_12_4_right_answer() -> None:
    assert_passed(verdict("12.4", unit()), "foreground worker")


def test_12_4_detached_right_answer() -> None:
    extra = " --detach --pidfile=/run/celery/w.pid --logfile=/var/log/celery/w.log"
    assert_passed(verdict("12.4", unit(type="forking", extra=extra)))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (unit(restart=""), "Restart=None", "Restart=always"),
        (unit(exe="celery"), "ExecStart starts with 'celery'", "systemd does not search"),
        (unit(type="forking"), "Type=forking, but celery worker does not fork",
         "systemd would wait"),
        (unit(type="forking", extra=" --detach"), "missing: --pidfile, --logfile",
         "or leave out --detach"),
        (unit(signal="SIGQUIT"), "KillSignal=SIGQUIT", "leave KillSignal at SIGTERM"),
    ],
)
def test_12_4_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("12.4", answer), problem, hint)


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
