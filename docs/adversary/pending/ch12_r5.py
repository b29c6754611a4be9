"""Adversary round 5: wrong answers to chapter 12's exercises, run through the real checks.

Run from the course root:  .venv/bin/python .adversary/ch12_r5.py
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
"""
import os
import sys
import time

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402

from celery import Celery  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from kombu.exceptions import OperationalError  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from course_tasks import app  # noqa: E402
from course_tasks.tasks.reports import export_users_csv  # noqa: E402


# ---------------------------------------------------------------- 12.1
class ExportRequest(BaseModel):
    user_id: int
    rows: int = 3


def _good_status(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "SUCCESS":
        return {"status": "success", "result": info}
    if state == "FAILURE":
        return {"status": "failure", "error": str(info)}
    if state == "PROGRESS":
        return {"status": "in_progress", "progress": info}
    return {"status": state.lower()}


def _good_start(request):
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    return {"task_id": task.id}


def make_exports(start=None, status=None, post_kwargs=None):
    """A FastAPI app with the solution's endpoints, one of them replaced."""
    exports = FastAPI()
    start = start or _good_start
    status = status or _good_status

    @exports.post("/exports", status_code=202, **(post_kwargs or {}))
    def start_export(request: ExportRequest):
        return start(request)

    @exports.get("/exports/{task_id}")
    def export_status(task_id: str):
        return status(task_id)

    return exports


# POST returns a JSONResponse: the decorator's 202 is replaced by JSONResponse's default 200.
def start_jsonresponse(request):
    task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    return JSONResponse({"task_id": task.id})


# POST: id made from the user and the second: two exports of one user in the same second collide.
def start_id_per_second(request):
    task = export_users_csv.apply_async(
        (request.user_id,), {"rows": request.rows, "seconds_per_row": 0.1},
        task_id=f"export-{request.user_id}-{int(time.time())}",
    )
    return {"task_id": task.id}


# POST: broker refusal answered with 400 (a client error) instead of 5xx.
def start_broker_400(request):
    try:
        task = export_users_csv.delay(request.user_id, rows=request.rows, seconds_per_row=0.1)
    except OperationalError:
        raise HTTPException(status_code=400, detail="could not queue the export")
    return {"task_id": task.id}


# POST: publishing retried for a long time when the broker refuses (blocks the request ~10 s).
def start_retry_publish(request):
    task = export_users_csv.apply_async(
        (request.user_id,), {"rows": request.rows, "seconds_per_row": 0.1},
        retry=True,
        retry_policy={"max_retries": 5, "interval_start": 1, "interval_step": 1, "interval_max": 3},
    )
    return {"task_id": task.id}


# POST: a 'priority' that ranks exports last is harmless; ignore_result is not: no state is ever stored.
def start_ignore_result(request):
    task = export_users_csv.apply_async(
        (request.user_id,), {"rows": request.rows, "seconds_per_row": 0.1}, ignore_result=True,
    )
    return {"task_id": task.id}


# GET: error text replaced by the class name when str(exc) is empty (exception with no args).
def status_empty_error_classname(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "FAILURE":
        return {"status": "failure", "error": str(info) or type(info).__name__}
    return _status_from(state, info)


def _status_from(state, info):
    if state == "SUCCESS":
        return {"status": "success", "result": info}
    if state == "FAILURE":
        return {"status": "failure", "error": str(info)}
    if state == "PROGRESS":
        return {"status": "in_progress", "progress": info}
    return {"status": state.lower()}


# GET: error text from the first argument only (wrong with several args or none).
def status_error_first_arg(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "FAILURE":
        return {"status": "failure", "error": str(info.args[0]) if info.args else ""}
    return _status_from(state, info)


# GET: error text joined from all args with ", " (str() of a several-arg exception is the tuple).
def status_error_join_args(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "FAILURE":
        return {"status": "failure", "error": ", ".join(map(str, info.args))}
    return _status_from(state, info)


# GET: metas cached in a module dict (per-process, stale: a STARTED export stays 'started').
_META_CACHE = {}


def status_cached(task_id):
    if task_id not in _META_CACHE:
        _META_CACHE[task_id] = app.backend.get_task_meta(task_id)
    meta = _META_CACHE[task_id]
    return _status_from(meta["status"], meta["result"])


# GET: backend down answered with 404 (a client error), never 5xx.
def status_backend_404(task_id):
    try:
        meta = app.backend.get_task_meta(task_id)
    except Exception:
        raise HTTPException(status_code=404, detail="unknown export")
    return _status_from(meta["status"], meta["result"])


# GET: PENDING treated as 'no such export' -> 404; a queued export is PENDING too.
def status_pending_404(task_id):
    meta = app.backend.get_task_meta(task_id)
    if meta["status"] == "PENDING":
        raise HTTPException(status_code=404, detail="unknown export")
    return _status_from(meta["status"], meta["result"])


# GET: one read for the state, then the SUCCESS value read again via AsyncResult (two reads).
def status_success_second_read(task_id):
    meta = app.backend.get_task_meta(task_id)
    state = meta["status"]
    if state == "SUCCESS":
        return {"status": "success", "result": app.AsyncResult(task_id).result}
    return _status_from(state, meta["result"])


# GET: the error text from the traceback's last line ("ValueError: ..."), not str(exc).
def status_error_from_traceback(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "FAILURE":
        last = (meta.get("traceback") or "").strip().splitlines()[-1:] or [""]
        return {"status": "failure", "error": last[0].split(": ", 1)[-1]}
    return _status_from(state, info)


# GET: a FAILURE is 'forgotten' after it is reported once (GET writes: the second GET says pending).
def status_forget_failure(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state in ("FAILURE", "REVOKED"):
        app.backend.forget(task_id)
    return _status_from(state, info)


# GET: RETRY reported with status "failure" and its error (a retry is not a failure).
def status_retry_as_failure(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "RETRY":
        return {"status": "failure", "error": str(info)}
    return _status_from(state, info)


# ---------------------------------------------------------------- 12.2
# Celery(broker=...) pinned to the example's URL: the kwarg overrides CELERY_BROKER_URL.
def make_celery_broker_kwarg(settings):
    celery_app = Celery("shop", set_as_current=False, broker="redis://localhost:6379/0")
    celery_app.config_from_object(settings, namespace="CELERY")
    return celery_app


# JSON-only hard-coded after reading the settings: overrides CELERY_ACCEPT_CONTENT & co.
def make_celery_json_override(settings):
    celery_app = Celery("shop", set_as_current=False)
    celery_app.config_from_object(settings, namespace="CELERY")
    celery_app.conf.update(accept_content=["json"], task_serializer="json", result_serializer="json")
    return celery_app


# timezone fixed to UTC on the app (kind 4), overriding CELERY_TIMEZONE.
def make_celery_utc(settings):
    celery_app = Celery("shop", set_as_current=False, timezone="UTC")
    celery_app.config_from_object(settings, namespace="CELERY")
    return celery_app


# A shared module-level config class filled from each settings object: apps share it.
class _Config:
    pass


def make_celery_shared_config(settings):
    for name in dir(settings):
        if name.startswith("CELERY_"):
            setattr(_Config, name, getattr(settings, name))
    celery_app = Celery("shop", set_as_current=False)
    celery_app.config_from_object(_Config, namespace="CELERY")
    return celery_app


# Copies only non-falsy CELERY_* values found by getattr on a list of known names.
_KNOWN = ("BROKER_URL", "RESULT_BACKEND", "RESULT_EXPIRES", "TASK_ROUTES", "TASK_DEFAULT_QUEUE",
          "TIMEZONE", "ACCEPT_CONTENT", "TASK_SERIALIZER", "RESULT_SERIALIZER", "ENABLE_UTC")


def make_celery_known_list(settings):
    celery_app = Celery("shop", set_as_current=False)
    celery_app.conf.update({name.lower(): getattr(settings, "CELERY_" + name)
                            for name in _KNOWN if hasattr(settings, "CELERY_" + name)})
    return celery_app


# Reads the settings once per settings object id and reuses the config dict (a cache keyed by id()).
_CONF_BY_ID = {}


def make_celery_conf_cache(settings):
    if id(settings) not in _CONF_BY_ID:
        probe = Celery("probe", set_as_current=False)
        probe.config_from_object(settings, namespace="CELERY")
        _CONF_BY_ID[id(settings)] = {k: probe.conf[k] for k in probe.conf.keys()}
    celery_app = Celery("shop", set_as_current=False)
    celery_app.conf.update(_CONF_BY_ID[id(settings)])
    return celery_app


# ---------------------------------------------------------------- 12.3
def choose_pool_cores_minus_one(kind, cores):
    """CPU: leave one core for the system (the chapter: concurrency = cores)."""
    if kind == "cpu":
        return ("prefork", max(1, cores - 1))
    return ("threads", 10 * cores)


def choose_pool_cpu_zero(kind, cores):
    """CPU: -c 0, 'let Celery pick' = this machine's cpu_count, not `cores`."""
    if kind == "cpu":
        return ("prefork", 0)
    return ("threads", 10 * cores)


def choose_pool_io_cores_plus_one(kind, cores):
    """I/O: threads, but only one more than the cores (not well above)."""
    if kind == "cpu":
        return ("prefork", cores)
    return ("threads", cores + 1)


def choose_pool_io_constant_8(kind, cores):
    """I/O: a constant 8 threads: equal to the cores on the 8-core machine."""
    if kind == "cpu":
        return ("prefork", cores)
    return ("threads", 8)


def choose_pool_cpu_hyperthreads(kind, cores):
    """CPU: two processes per core ('hyper-threading'): they only take turns."""
    if kind == "cpu":
        return ("prefork", 2 * cores)
    return ("threads", 10 * cores)


def choose_pool_io_float(kind, cores):
    """I/O: 2.5 threads per core, a float (5.0), not an int as -c takes it."""
    if kind == "cpu":
        return ("prefork", cores)
    return ("threads", cores * 2.5)


def choose_pool_cpu_capped(kind, cores):
    """CPU: capped at 4 processes 'to save memory': wrong on the 8-core machine."""
    if kind == "cpu":
        return ("prefork", min(cores, 4))
    return ("threads", 10 * cores)


# ---------------------------------------------------------------- 12.4
def _unit(project_dir, celery_bin, user, *, unit_extra="", service=None, install=None,
          execstart=None):
    service = service if service is not None else (
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n")
    install = install if install is not None else "WantedBy=multi-user.target\n"
    execstart = execstart or f"{celery_bin} -A course_tasks worker --loglevel=INFO"
    return (
        "[Unit]\nDescription=Celery worker\nAfter=network-online.target\n" + unit_extra +
        "\n[Service]\nType=simple\n"
        f"User={user}\nWorkingDirectory={project_dir}\nExecStart={execstart}\n" + service +
        "\n[Install]\n" + install
    )


def unit_inline_comment(project_dir, celery_bin, user):
    """'KillMode=mixed  # warm' : systemd has no inline comments, the value is invalid."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed  # only the main process gets TERM\n"
        "TimeoutStopSec=600\n"))


def unit_inline_comment_timeout(project_dir, celery_bin, user):
    """'TimeoutStopSec=600 # 10 min': invalid value, the default 90 s applies."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600 # 10 min\n"))


def unit_timeout_5min(project_dir, celery_bin, user):
    """TimeoutStopSec=5min: exactly the longest task, not longer."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=5min\n"))


def unit_timeout_ms(project_dir, celery_bin, user):
    """TimeoutStopSec=600ms: the unit suffix makes it 0.6 s."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600ms\n"))


def unit_timeoutsec_after(project_dir, celery_bin, user):
    """TimeoutSec=90 after TimeoutStopSec=600 ('for the start'): it also resets the stop timeout."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\nTimeoutSec=90\n"))


def unit_no_sigkill(project_dir, celery_bin, user):
    """SendSIGKILL=no: a hanging task keeps the stop waiting for ever."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\nSendSIGKILL=no\n"))


def unit_restart_kill_quit(project_dir, celery_bin, user):
    """RestartKillSignal=SIGQUIT: 'restarts should be quick': a cold shutdown at every deploy."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nRestartKillSignal=SIGQUIT\nKillMode=mixed\n"
        "TimeoutStopSec=600\n"))


def unit_sendsighup(project_dir, celery_bin, user):
    """SendSIGHUP=yes: the worker also gets HUP, which makes celery re-exec itself."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\nSendSIGHUP=yes\n"))


def unit_killsignal_hup(project_dir, celery_bin, user):
    """KillSignal=SIGHUP: celery restarts on HUP instead of a warm shutdown."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGHUP\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_restart_on_abnormal(project_dir, celery_bin, user):
    """Restart=on-abnormal: no restart when the worker exits with an error code."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=on-abnormal\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_restart_prevent_1(project_dir, celery_bin, user):
    """RestartPreventExitStatus=1: exit code 1 (celery's error exit) is never restarted."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nRestartPreventExitStatus=1\nKillSignal=SIGTERM\nKillMode=mixed\n"
        "TimeoutStopSec=600\n"))


def unit_dash_on_failure(project_dir, celery_bin, user):
    """ExecStart=-... with Restart=on-failure: the '-' makes an error exit count as success."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"-{celery_bin} -A course_tasks worker --loglevel=INFO",
                 service="Restart=on-failure\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n")


def unit_remain_after_exit(project_dir, celery_bin, user):
    """RemainAfterExit=yes: a dead worker leaves the unit 'active', so it never comes back."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nRemainAfterExit=yes\nKillSignal=SIGTERM\nKillMode=mixed\n"
        "TimeoutStopSec=600\n"))


def unit_also_beat(project_dir, celery_bin, user):
    """[Install] Also=celery-beat.service: enabling the worker enables beat too."""
    return _unit(project_dir, celery_bin, user,
                 install="WantedBy=multi-user.target\nAlso=celery-beat.service\n")


def unit_wants_beat(project_dir, celery_bin, user):
    """[Unit] Wants=celery-beat.service: starting the worker starts beat."""
    return _unit(project_dir, celery_bin, user, unit_extra="Wants=celery-beat.service\n")


def unit_exec_reload_hup(project_dir, celery_bin, user):
    """ExecReload=/bin/kill -HUP $MAINPID: 'systemctl reload' signals the worker."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"
        "ExecReload=/bin/kill -HUP $MAINPID\n"))


def unit_statedb_percent_n(project_dir, celery_bin, user):
    """--statedb=/var/lib/celery/%n.state: systemd turns %n into the unit name."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO "
                           "--statedb=/var/lib/celery/%n.state")


def unit_venv_path(project_dir, celery_bin, user):
    """ExecStart={project_dir}/.venv/bin/celery instead of celery_bin."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{project_dir}/.venv/bin/celery -A course_tasks worker --loglevel=INFO")


def unit_lowercase_key(project_dir, celery_bin, user):
    """'Killmode=mixed': keys are case-sensitive, systemd ignores it (control-group)."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillmode=mixed\nTimeoutStopSec=600\n"))


def unit_timeout_in_unit_section(project_dir, celery_bin, user):
    """TimeoutStopSec=600 written under [Unit]: not a [Unit] setting, ignored (90 s)."""
    return _unit(project_dir, celery_bin, user, unit_extra="TimeoutStopSec=600\n", service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\n"))


def unit_forking_wrong_pidfile(project_dir, celery_bin, user):
    """Type=forking + --detach, but PIDFile= names another file than --pidfile."""
    text = _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO --detach "
                           "--pidfile=/run/celery/worker.pid --logfile=/var/log/celery/worker.log",
                 service=("PIDFile=/run/celery/celery-worker.pid\nRestart=always\n"
                          "KillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))
    return text.replace("Type=simple", "Type=forking")


def unit_timeout_reset_empty(project_dir, celery_bin, user):
    """A later empty 'TimeoutStopSec=' (left from a template) resets it to the default 90 s."""
    return _unit(project_dir, celery_bin, user, service=(
        "TimeoutStopSec=600\nRestart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=\n"))


WRONG = [
    # 12.1
    ("12.1", "post-jsonresponse-200", "POST returns JSONResponse(...), whose default 200 replaces the decorator's 202",
     (make_exports(start=start_jsonresponse),)),
    ("12.1", "post-id-per-second", "task_id built from user id and the current second: a user's two exports in one second share an id",
     (make_exports(start=start_id_per_second),)),
    ("12.1", "post-broker-400", "broker refusal answered 400 (client error), not 5xx",
     (make_exports(start=start_broker_400),)),
    ("12.1", "post-retry-publish", "apply_async(retry=True, retry_policy=5 retries, 1-3 s apart): a refused POST blocks ~10 s instead of answering at once",
     (make_exports(start=start_retry_publish),)),
    ("12.1", "post-ignore-result", "apply_async(ignore_result=True): the export's states are never stored, GET says pending forever",
     (make_exports(start=start_ignore_result),)),
    ("12.1", "get-empty-error-classname", "error = str(exc) or the class name: not str(exc) for an exception without args",
     (make_exports(status=status_empty_error_classname),)),
    ("12.1", "get-error-first-arg", "error = str(exc.args[0]): wrong for several args, '' fine for none",
     (make_exports(status=status_error_first_arg),)),
    ("12.1", "get-error-join-args", "error = ', '.join(exc.args): not str(exc) for several args",
     (make_exports(status=status_error_join_args),)),
    ("12.1", "get-cached-meta", "metas cached in a module dict: stale after the first read, per web process",
     (make_exports(status=status_cached),)),
    ("12.1", "get-backend-404", "result backend down answered 404, not 5xx",
     (make_exports(status=status_backend_404),)),
    ("12.1", "get-pending-404", "PENDING answered 404 'unknown export' although a queued export is PENDING",
     (make_exports(status=status_pending_404),)),
    ("12.1", "get-success-second-read", "SUCCESS value read a second time via AsyncResult(...).result (two reads)",
     (make_exports(status=status_success_second_read),)),
    ("12.1", "get-error-from-traceback", "error text taken from the traceback's last line, not str(exc)",
     (make_exports(status=status_error_from_traceback),)),
    ("12.1", "get-forget-failure", "GET forgets FAILURE/REVOKED results after answering (GET writes)",
     (make_exports(status=status_forget_failure),)),
    ("12.1", "get-retry-as-failure", "RETRY reported as status failure with the error",
     (make_exports(status=status_retry_as_failure),)),
    # 12.2
    ("12.2", "broker-kwarg", "Celery(broker='redis://localhost:6379/0') overrides CELERY_BROKER_URL",
     (make_celery_broker_kwarg,)),
    ("12.2", "json-override", "accept_content/serializers hard-coded to json after config_from_object",
     (make_celery_json_override,)),
    ("12.2", "timezone-utc-kwarg", "Celery(timezone='UTC') overrides CELERY_TIMEZONE",
     (make_celery_utc,)),
    ("12.2", "shared-config-class", "one module-level config class filled from each settings object: all apps share it",
     (make_celery_shared_config,)),
    ("12.2", "known-list", "copies only a fixed list of ten CELERY_* names, not any other Celery setting",
     (make_celery_known_list,)),
    ("12.2", "conf-cache-by-id", "config read once per id(settings) and reused: a changed/new object at the same id gets the old config",
     (make_celery_conf_cache,)),
    # 12.3
    ("12.3", "cpu-cores-minus-one", "CPU: prefork with cores-1 processes", (choose_pool_cores_minus_one,)),
    ("12.3", "cpu-zero", "CPU: -c 0 (this machine's cpu_count), not the given cores", (choose_pool_cpu_zero,)),
    ("12.3", "io-cores-plus-one", "I/O: threads with cores+1, not well above the cores", (choose_pool_io_cores_plus_one,)),
    ("12.3", "io-constant-8", "I/O: a constant 8 threads, equal to the cores on 8 cores", (choose_pool_io_constant_8,)),
    ("12.3", "cpu-hyperthreads", "CPU: 2 processes per core, they only take turns", (choose_pool_cpu_hyperthreads,)),
    ("12.3", "io-float", "I/O: concurrency cores*2.5, a float", (choose_pool_io_float,)),
    ("12.3", "cpu-capped-4", "CPU: min(cores, 4): wrong for 8 cores", (choose_pool_cpu_capped,)),
    # 12.4
    ("12.4", "inline-comment-killmode", "'KillMode=mixed  # ...': systemd has no inline comments, invalid value -> control-group", (unit_inline_comment,)),
    ("12.4", "inline-comment-timeout", "'TimeoutStopSec=600 # 10 min': invalid value -> default 90 s", (unit_inline_comment_timeout,)),
    ("12.4", "timeout-5min", "TimeoutStopSec=5min: equal to the longest task, not longer", (unit_timeout_5min,)),
    ("12.4", "timeout-600ms", "TimeoutStopSec=600ms: 0.6 s", (unit_timeout_ms,)),
    ("12.4", "timeoutsec-after", "TimeoutSec=90 after TimeoutStopSec=600 also sets the stop timeout to 90 s", (unit_timeoutsec_after,)),
    ("12.4", "timeout-reset-empty", "a later empty 'TimeoutStopSec=' resets it to the default", (unit_timeout_reset_empty,)),
    ("12.4", "no-sigkill", "SendSIGKILL=no: a hanging task makes the stop never end", (unit_no_sigkill,)),
    ("12.4", "restart-kill-quit", "RestartKillSignal=SIGQUIT: every restart is a cold shutdown", (unit_restart_kill_quit,)),
    ("12.4", "send-sighup", "SendSIGHUP=yes: HUP makes celery re-exec during the stop", (unit_sendsighup,)),
    ("12.4", "killsignal-hup", "KillSignal=SIGHUP: not a warm shutdown", (unit_killsignal_hup,)),
    ("12.4", "restart-on-abnormal", "Restart=on-abnormal: no restart on an error exit code", (unit_restart_on_abnormal,)),
    ("12.4", "restart-prevent-1", "RestartPreventExitStatus=1: an exit with error 1 is never restarted", (unit_restart_prevent_1,)),
    ("12.4", "dash-on-failure", "ExecStart=-... with Restart=on-failure: error exits count as success, no restart", (unit_dash_on_failure,)),
    ("12.4", "remain-after-exit", "RemainAfterExit=yes: a dead worker leaves the unit active, no restart", (unit_remain_after_exit,)),
    ("12.4", "also-beat", "[Install] Also=celery-beat.service: enabling the worker enables beat", (unit_also_beat,)),
    ("12.4", "wants-beat", "[Unit] Wants=celery-beat.service: the worker starts beat", (unit_wants_beat,)),
    ("12.4", "exec-reload-hup", "ExecReload=/bin/kill -HUP $MAINPID: the unit signals the worker", (unit_exec_reload_hup,)),
    ("12.4", "statedb-percent-n", "--statedb=/var/lib/celery/%n.state: systemd replaces %n", (unit_statedb_percent_n,)),
    ("12.4", "venv-path", "ExecStart from project_dir/.venv/bin/celery, not celery_bin", (unit_venv_path,)),
    ("12.4", "lowercase-key", "'Killmode=mixed': case-sensitive key, ignored", (unit_lowercase_key,)),
    ("12.4", "timeout-in-unit-section", "TimeoutStopSec under [Unit]: ignored there", (unit_timeout_in_unit_section,)),
    ("12.4", "forking-wrong-pidfile", "Type=forking + --detach, PIDFile= another file than --pidfile", (unit_forking_wrong_pidfile,)),
]


# ---------------------------------------------------------------- more (second batch)
from datetime import datetime  # noqa: E402

from celery import states  # noqa: E402


# GET: PROGRESS value read a second time via AsyncResult(...).info (two reads).
def status_progress_second_read(task_id):
    meta = app.backend.get_task_meta(task_id)
    state = meta["status"]
    if state == "PROGRESS":
        return {"status": "in_progress", "progress": app.AsyncResult(task_id).info}
    return _status_from(state, meta["result"])


# GET: FAILURE text read a second time via AsyncResult(...).result (two reads).
def status_failure_second_read(task_id):
    meta = app.backend.get_task_meta(task_id)
    state = meta["status"]
    if state == "FAILURE":
        return {"status": "failure", "error": str(app.AsyncResult(task_id).result)}
    return _status_from(state, meta["result"])


# GET: states.PROPAGATE_STATES (FAILURE and REVOKED) both answered as failure.
def status_propagate_states(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state in states.PROPAGATE_STATES:
        return {"status": "failure", "error": str(info)}
    return _status_from(state, info)


# GET: states.EXCEPTION_STATES (RETRY, FAILURE, REVOKED) all answered as failure.
def status_exception_states(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state in states.EXCEPTION_STATES:
        return {"status": "failure", "error": str(info)}
    return _status_from(state, info)


# POST: a 'protective' time limit: a big export (1000 rows = 100 s) is killed half-way.
def start_time_limit(request):
    task = export_users_csv.apply_async(
        (request.user_id,), {"rows": request.rows, "seconds_per_row": 0.1}, time_limit=60,
    )
    return {"task_id": task.id}


# POST: eta=datetime.now(): naive local time, 'run now'.
def start_eta_now(request):
    task = export_users_csv.apply_async(
        (request.user_id,), {"rows": request.rows, "seconds_per_row": 0.1}, eta=datetime.now(),
    )
    return {"task_id": task.id}


# POST: rows=request.rows or 3: a request for 0 rows exports 3.
def start_rows_or_default(request):
    task = export_users_csv.delay(request.user_id, rows=request.rows or 3, seconds_per_row=0.1)
    return {"task_id": task.id}


# POST: seconds_per_row left out: the task's default happens to be 0.1 today.
def start_default_seconds(request):
    task = export_users_csv.delay(request.user_id, rows=request.rows)
    return {"task_id": task.id}


# 12.2: the settings read once per settings class (two Django-style objects of one class collide).
_CONF_BY_CLASS = {}


def make_celery_conf_cache_by_class(settings):
    key = type(settings)
    if key not in _CONF_BY_CLASS:
        probe = Celery("probe", set_as_current=False)
        probe.config_from_object(settings, namespace="CELERY")
        _CONF_BY_CLASS[key] = {k: probe.conf[k] for k in probe.conf.keys()}
    celery_app = Celery("shop", set_as_current=False)
    celery_app.conf.update(_CONF_BY_CLASS[key])
    return celery_app


# 12.2: the app is built from a snapshot of the settings' values, taken with Celery's own reader.
def make_celery_snapshot_table(settings):
    probe = Celery("probe", set_as_current=False)
    probe.config_from_object(settings, namespace="CELERY")
    celery_app = Celery("shop", set_as_current=False)
    celery_app.conf.update({k: v for k, v in probe.conf.table().items()})
    return celery_app


def choose_pool_io_huge(kind, cores):
    """I/O: 200 threads per core (1600 on 8 cores): hundreds belong on gevent."""
    if kind == "cpu":
        return ("prefork", cores)
    return ("threads", 200 * cores)


def choose_pool_io_prefork_many(kind, cores):
    """I/O: prefork with 10 processes per core: one interpreter per wait (memory)."""
    if kind == "cpu":
        return ("prefork", cores)
    return ("prefork", 10 * cores)


def unit_execstartpre_shutdown(project_dir, celery_bin, user):
    """ExecStartPre=celery control shutdown: 'stop the old worker first' stops every worker."""
    return _unit(project_dir, celery_bin, user, service=(
        f"ExecStartPre={celery_bin} -A course_tasks control shutdown\n"
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_execstoppost_purge(project_dir, celery_bin, user):
    """ExecStopPost=celery purge -f: every stop throws the queued tasks away."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"
        f"ExecStopPost={celery_bin} -A course_tasks purge -f\n"))


def unit_hostname_env(project_dir, celery_bin, user):
    """-n worker1@${HOSTNAME}: systemd expands it from its own (empty) environment."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO -n worker1@${{HOSTNAME}}")


def unit_wantedby_typo(project_dir, celery_bin, user):
    """WantedBy=multi-user.service: no such unit at boot, it never starts."""
    return _unit(project_dir, celery_bin, user, install="WantedBy=multi-user.service\n")


def unit_runtime_max(project_dir, celery_bin, user):
    """RuntimeMaxSec=1d: systemd stops the worker every day ('recycle it')."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nRuntimeMaxSec=1d\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_time_limit(project_dir, celery_bin, user):
    """--time-limit=240: the worker kills the 5-minute task after 4 minutes."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO --time-limit=240")


def unit_forking_no_logfile(project_dir, celery_bin, user):
    """Type=forking + --detach + --pidfile = PIDFile, but no --logfile: the logs go nowhere."""
    text = _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO --detach "
                           "--pidfile=/run/celery/worker.pid",
                 service=("PIDFile=/run/celery/worker.pid\nRestart=always\n"
                          "KillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))
    return text.replace("Type=simple", "Type=forking")


def unit_timeout_stop_failure_terminate(project_dir, celery_bin, user):
    """TimeoutStopFailureMode=terminate: at the timeout a second TERM, not a kill."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"
        "TimeoutStopFailureMode=terminate\n"))


WRONG += [
    ("12.1", "get-progress-second-read", "PROGRESS value read again via AsyncResult(...).info (two reads)",
     (make_exports(status=status_progress_second_read),)),
    ("12.1", "get-failure-second-read", "FAILURE text read again via AsyncResult(...).result (two reads)",
     (make_exports(status=status_failure_second_read),)),
    ("12.1", "get-propagate-states", "REVOKED answered as failure (states.PROPAGATE_STATES)",
     (make_exports(status=status_propagate_states),)),
    ("12.1", "get-exception-states", "RETRY and REVOKED answered as failure (states.EXCEPTION_STATES)",
     (make_exports(status=status_exception_states),)),
    ("12.1", "post-time-limit", "apply_async(time_limit=60): a big export is killed half-way",
     (make_exports(start=start_time_limit),)),
    ("12.1", "post-eta-now", "apply_async(eta=datetime.now()): a naive local-time ETA",
     (make_exports(start=start_eta_now),)),
    ("12.1", "post-rows-or-3", "rows=request.rows or 3: a request for 0 rows exports 3",
     (make_exports(start=start_rows_or_default),)),
    ("12.1", "post-default-seconds", "seconds_per_row left out, relying on the task's default 0.1",
     (make_exports(start=start_default_seconds),)),
    ("12.2", "conf-cache-by-class", "config cached per settings class: another object of the same class gets the first one's values",
     (make_celery_conf_cache_by_class,)),
    ("12.2", "snapshot-table", "a snapshot of conf.table() copied into the new app (not the settings object itself)",
     (make_celery_snapshot_table,)),
    ("12.3", "io-200-per-core", "I/O: 200 threads per core", (choose_pool_io_huge,)),
    ("12.4", "execstartpre-shutdown", "ExecStartPre=celery control shutdown: shuts down every worker on the broker", (unit_execstartpre_shutdown,)),
    ("12.4", "execstoppost-purge", "ExecStopPost=celery purge -f: every stop deletes queued tasks", (unit_execstoppost_purge,)),
    ("12.4", "hostname-env", "-n worker1@${HOSTNAME}: systemd expands it to empty", (unit_hostname_env,)),
    ("12.4", "wantedby-typo", "WantedBy=multi-user.service: never started at boot", (unit_wantedby_typo,)),
    ("12.4", "runtime-max", "RuntimeMaxSec=1d: systemd stops the worker every day", (unit_runtime_max,)),
    ("12.4", "time-limit-240", "--time-limit=240 kills the 5-minute task after 4 minutes", (unit_time_limit,)),
    ("12.4", "forking-no-logfile", "Type=forking + --detach + PIDFile, but no --logfile", (unit_forking_no_logfile,)),
    ("12.4", "stop-failure-terminate", "TimeoutStopFailureMode=terminate: a second TERM instead of a kill at the timeout", (unit_timeout_stop_failure_terminate,)),
]


# ---------------------------------------------------------------- more (third batch)
# POST: rows capped at 1000 'to protect the workers': a bigger export silently gets fewer rows.
def start_rows_capped(request):
    task = export_users_csv.delay(request.user_id, rows=min(request.rows, 1000), seconds_per_row=0.1)
    return {"task_id": task.id}


# GET: the error text cut at 40 characters 'to keep the answer small'.
def status_error_truncated(task_id):
    meta = app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "FAILURE":
        return {"status": "failure", "error": str(info)[:40]}
    return _status_from(state, info)


def unit_soft_time_limit(project_dir, celery_bin, user):
    """--soft-time-limit=270: the 5-minute task gets SoftTimeLimitExceeded at 4.5 min."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO --soft-time-limit=270")


def unit_execstop_kill_term(project_dir, celery_bin, user):
    """ExecStop=/bin/kill -s TERM $MAINPID: the unit signals the worker itself."""
    return _unit(project_dir, celery_bin, user, service=(
        "ExecStop=/bin/kill -s TERM $MAINPID\n"
        "Restart=always\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_restartsec_infinity(project_dir, celery_bin, user):
    """RestartSec=infinity: Restart=always, but the restart never comes."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nRestartSec=infinity\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_restartsec_hour(project_dir, celery_bin, user):
    """RestartSec=1h: a dead worker comes back only an hour later."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=always\nRestartSec=1h\nKillSignal=SIGTERM\nKillMode=mixed\nTimeoutStopSec=600\n"))


def unit_success_exit_sigkill(project_dir, celery_bin, user):
    """SuccessExitStatus=1 SIGKILL with Restart=on-failure: an OOM kill or exit 1 counts as success."""
    return _unit(project_dir, celery_bin, user, service=(
        "Restart=on-failure\nSuccessExitStatus=1 SIGKILL\nKillSignal=SIGTERM\nKillMode=mixed\n"
        "TimeoutStopSec=600\n"))


def unit_percent_p_logfile(project_dir, celery_bin, user):
    """--logfile=/var/log/celery/%p.log: systemd turns %p into the unit prefix."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO --logfile=/var/log/celery/%p.log")


def unit_env_hostname_braces_less(project_dir, celery_bin, user):
    """-n worker1@$HOSTNAME: no shell runs the line; the service has no HOSTNAME, so celery never gets the host name."""
    return _unit(project_dir, celery_bin, user,
                 execstart=f"{celery_bin} -A course_tasks worker --loglevel=INFO -n worker1@$HOSTNAME")


WRONG += [
    ("12.1", "post-rows-capped", "rows=min(rows, 1000): a bigger export silently gets fewer rows",
     (make_exports(start=start_rows_capped),)),
    ("12.1", "get-error-truncated", "error text cut at 40 characters",
     (make_exports(status=status_error_truncated),)),
    ("12.4", "soft-time-limit-270", "--soft-time-limit=270 interrupts the 5-minute task", (unit_soft_time_limit,)),
    ("12.4", "execstop-kill-term", "ExecStop=/bin/kill -s TERM $MAINPID: the unit signals the worker", (unit_execstop_kill_term,)),
    ("12.4", "restartsec-infinity", "RestartSec=infinity: never restarts", (unit_restartsec_infinity,)),
    ("12.4", "restartsec-1h", "RestartSec=1h: comes back an hour later", (unit_restartsec_hour,)),
    ("12.4", "success-exit-sigkill", "SuccessExitStatus=1 SIGKILL + Restart=on-failure: exit 1 / OOM kill not restarted", (unit_success_exit_sigkill,)),
    ("12.4", "percent-p-logfile", "--logfile=.../%p.log: systemd replaces %p", (unit_percent_p_logfile,)),
    ("12.4", "hostname-env-bare", "-n worker1@$HOSTNAME: no shell, no HOSTNAME in a service: the node name is not the host name", (unit_env_hostname_braces_less,)),
]

if __name__ == "__main__":
    only = set(sys.argv[1:])
    runtime.start(quiet=True)
    try:
        for ex, name, why, args in WRONG:
            if only and ex not in only and name not in only:
                continue
            t0 = time.monotonic()
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark} [{time.monotonic() - t0:.1f}s]\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
