"""Adversary round 4: wrong answers to chapter 08's exercises, run through the real checks.

Run from the course root:  .venv/bin/python .adversary/ch08_r4.py
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
"""
import os
import re
import sys

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402

from course_tasks import app  # noqa: E402
from course_tasks.tasks.demo import simple_calculation  # noqa: E402
from kombu import Queue  # noqa: E402

# ---------------------------------------------------------------- 08.1
# a regular expression instead of a glob, the dot not escaped and no end: "ai_tasks_v2.x" matches
routes_regex_unescaped = {
    re.compile(r"ai_tasks.*"): {"queue": "ai_processing"},
    re.compile(r"demo_tasks.*"): {"queue": "demo_tasks"},
}

# glob without the dot: "ai_tasks_legacy.job" / "demo_tasksXYZ" would be routed too
routes_glob_no_dot = {
    "ai_tasks*": {"queue": "ai_processing"},
    "demo_tasks*": {"queue": "demo_tasks"},
}


# a router function using startswith without the dot
def _route_startswith_no_dot(name, args, kwargs, options, task=None, **kw):
    if name.startswith("ai_tasks"):
        return {"queue": "ai_processing"}
    if name.startswith("demo_tasks"):
        return {"queue": "demo_tasks"}
    return None


routes_func_no_dot = (_route_startswith_no_dot,)

# AI tasks get a longer time limit "while we are at it": the route adds execution options
routes_time_limit = {
    "ai_tasks.*": {"queue": "ai_processing", "time_limit": 600, "soft_time_limit": 540},
    "demo_tasks.*": {"queue": "demo_tasks"},
}

# confuses task_routes with task_annotations: a rate limit in the route (ends up in the message)
routes_rate_limit = {
    "ai_tasks.*": {"queue": "ai_processing", "rate_limit": "10/m"},
    "demo_tasks.*": {"queue": "demo_tasks"},
}

# copied section 6's extra glob: the welcome mail is moved off the default queue
routes_with_email = {
    "ai_tasks.*": {"queue": "ai_processing"},
    "demo_tasks.*": {"queue": "demo_tasks"},
    "course_tasks.tasks.email.*": {"queue": "demo_tasks"},
}

# a kombu Queue object with its own exchange/routing key instead of the queue's name
routes_queue_object = {
    "ai_tasks.*": {"queue": Queue("ai_processing", routing_key="ai")},
    "demo_tasks.*": {"queue": Queue("demo_tasks", routing_key="demo")},
}

# plain kombu Queue objects: Queue("ai_processing") binds to the default exchange '' instead
# of the queue's own exchange (the route does not choose the queue by its name)
routes_queue_object_plain = {
    "ai_tasks.*": {"queue": Queue("ai_processing")},
    "demo_tasks.*": {"queue": Queue("demo_tasks")},
}

# exchange + routing key (AMQP habit) instead of the queue: nothing declares the queue
routes_exchange_only = {
    "ai_tasks.*": {"exchange": "ai_processing", "routing_key": "ai_processing"},
    "demo_tasks.*": {"exchange": "demo_tasks", "routing_key": "demo_tasks"},
}

# ---------------------------------------------------------------- 08.2


def rush_swap_task_queue(x, y):
    """Sets the task's queue for the call and puts it back: another thread sending
    simple_calculation meanwhile goes to urgent too (a race on shared state)."""
    old = simple_calculation.queue
    simple_calculation.queue = "urgent"
    try:
        return simple_calculation.delay(x, y)
    finally:
        simple_calculation.queue = old


def rush_swap_router(x, y):
    """Swaps the app's router for the call and puts it back (race: every task sent by another
    thread meanwhile uses the urgent router)."""
    old = app.amqp.router
    app.amqp.router = app.amqp.Router(queues=app.amqp.queues,
                                      create_missing=True)
    app.amqp.router.routes = list(app.amqp.router.routes) + []
    from celery.app.routes import MapRoute
    app.amqp.router.routes.insert(0, MapRoute({"demo_tasks.*": {"queue": "urgent"}}))
    try:
        return simple_calculation.delay(x, y)
    finally:
        app.amqp.router = old


_PRODUCER = None


def rush_global_producer(x, y):
    """Keeps one producer from the pool for ever, shared by every thread (never released)."""
    global _PRODUCER
    if _PRODUCER is None:
        _PRODUCER = app.producer_pool.acquire(block=True)
    return simple_calculation.apply_async((x, y), queue="urgent", producer=_PRODUCER)


def rush_leaky_connection(x, y):
    """Opens a new broker connection per call and never closes it."""
    conn = app.connection_for_write()
    return simple_calculation.apply_async((x, y), queue="urgent", connection=conn)


def rush_queue_object(x, y):
    """A kombu Queue object with a routing key of its own instead of the queue's name."""
    return simple_calculation.apply_async((x, y), queue=Queue("urgent", routing_key="rush"))


def rush_send_task(x, y):
    """By name through app.send_task: bypasses the task (no argument check, no task options)."""
    return app.send_task("demo_tasks.simple_calculation", (x, y), queue="urgent")


def rush_kwargs(x, y):
    """Arguments sent as keyword arguments: the message differs from apply_async((x, y))."""
    return simple_calculation.apply_async(kwargs={"x": x, "y": y}, queue="urgent")


def rush_not_in_parent(x, y):
    """Adds add_to_parent=False (another option, changes behaviour when called in a task)."""
    return simple_calculation.apply_async((x, y), queue="urgent", add_to_parent=False)


def rush_swap_conf_routes(x, y):
    """Sets task_routes for the call, rebuilds the router, then puts the old ones back (race,
    and the router is rebuilt from scratch every call)."""
    old = app.conf.task_routes
    app.conf.task_routes = {"demo_tasks.*": {"queue": "urgent"}}
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
    try:
        return simple_calculation.delay(x, y)
    finally:
        app.conf.task_routes = old
        app.amqp.flush_routes()
        app.amqp.router = app.amqp.Router()


def rush_swapped_args(x, y):
    """Sends (y, x): the sum is the same, but it is not simple_calculation(x, y)."""
    return simple_calculation.apply_async((y, x), queue="urgent")


def rush_explicit_default(x, y):
    """Spells out the default seconds=0.2 as a keyword argument: another message body."""
    return simple_calculation.apply_async((x, y), {"seconds": 0.2}, queue="urgent")


# ---------------------------------------------------------------- 08.3
def _base(queue, concurrency, name):
    return ["celery", "-A", "course_tasks", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%h"]


def wc_ofair(queue, concurrency, name):          # -O fair changes how tasks are handed out
    return _base(queue, concurrency, name) + ["-O", "fair"]


def wc_max_tasks(queue, concurrency, name):      # recycles pool processes
    return _base(queue, concurrency, name) + ["--max-tasks-per-child", "10"]


def wc_max_memory(queue, concurrency, name):     # recycles pool processes by memory
    return _base(queue, concurrency, name) + ["--max-memory-per-child", "200000"]


def wc_discard(queue, concurrency, name):        # --discard is --purge under another name
    return _base(queue, concurrency, name) + ["--discard"]


def wc_int_concurrency(queue, concurrency, name):  # an int in the list: subprocess refuses it
    return ["celery", "-A", "course_tasks", "worker",
            "-Q", queue, "-c", concurrency, "-n", f"{name}@%h"]


def wc_systemd_escape(queue, concurrency, name):   # %%h from the systemd docs: no systemd here
    return ["celery", "-A", "course_tasks", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%%h"]


def wc_broker_url(queue, concurrency, name):       # hard-codes a broker, not the app's
    return ["celery", "-A", "course_tasks", "-b", "redis://localhost:6379/0", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%h"]


def wc_statedb(queue, concurrency, name):          # persistent state file
    return _base(queue, concurrency, name) + ["--statedb", "/var/run/celery/%n.state"]


def wc_heartbeat_interval(queue, concurrency, name):
    return _base(queue, concurrency, name) + ["--heartbeat-interval", "30"]


def wc_spawn(queue, concurrency, name):
    return _base(queue, concurrency, name) + ["--pool-start-method", "spawn"]


def wc_disable_prefetch(queue, concurrency, name):
    return _base(queue, concurrency, name) + ["--disable-prefetch"]


def wc_shortname(queue, concurrency, name):        # %n: only the short host name
    return ["celery", "-A", "course_tasks", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%n"]


def wc_include(queue, concurrency, name):          # imports another module too
    return _base(queue, concurrency, name) + ["-I", "course_tasks.tasks.troubles"]


def wc_uid(queue, concurrency, name):              # runs the worker as another user
    return _base(queue, concurrency, name) + ["--uid", "nobody"]


def wc_workdir(queue, concurrency, name):          # global --workdir: imports from elsewhere
    return ["celery", "--workdir", "/srv/app", "-A", "course_tasks", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%h"]


def wc_config(queue, concurrency, name):           # global --config: another config module
    return ["celery", "-A", "course_tasks", "--config", "celeryconfig_prod", "worker",
            "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%h"]


# ---------------------------------------------------------------- 08.4
settings_string_multiplier = {"worker_prefetch_multiplier": "1", "task_acks_late": True}
settings_float_multiplier = {"worker_prefetch_multiplier": 1.0, "task_acks_late": True}
settings_string_acks = {"worker_prefetch_multiplier": 1, "task_acks_late": "True"}
settings_task_names = {"prefetch_multiplier": 1, "acks_late": True}
settings_old_names = {"CELERYD_PREFETCH_MULTIPLIER": 1, "CELERY_ACKS_LATE": True}
settings_disable_prefetch = {"worker_prefetch_multiplier": 1, "task_acks_late": False,
                             "worker_disable_prefetch": True}
settings_short_visibility = {"worker_prefetch_multiplier": 1, "task_acks_late": True,
                             "broker_transport_options": {"visibility_timeout": 60}}
settings_time_limit = {"worker_prefetch_multiplier": 1, "task_acks_late": True,
                       "task_time_limit": 60}
settings_bool_multiplier = {"worker_prefetch_multiplier": True, "task_acks_late": True}


SOLUTIONS = [
    ("08.1", "solution", "", ({"ai_tasks.*": {"queue": "ai_processing"},
                               "demo_tasks.*": {"queue": "demo_tasks"}},)),
    ("08.2", "solution", "", (lambda x, y: simple_calculation.apply_async((x, y), queue="urgent"),)),
    ("08.3", "solution", "", (_base,)),
    ("08.4", "solution", "", ({"worker_prefetch_multiplier": 1, "task_acks_late": True},)),
]

WRONG = [
    ("08.1", "regex-unescaped-dot", "re.compile('ai_tasks.*'): the dot is any character and nothing anchors it, so 'ai_tasks_v2.x' or 'demo_tasksX' are routed too", (routes_regex_unescaped,)),
    ("08.1", "glob-without-dot", "'ai_tasks*' without the dot also routes tasks named 'ai_tasks_legacy.x' (name does not start with 'ai_tasks.')", (routes_glob_no_dot,)),
    ("08.1", "router-startswith-no-dot", "a router function with name.startswith('ai_tasks') (no dot): same over-match as above", (routes_func_no_dot,)),
    ("08.1", "route-time-limit", "the route adds time_limit/soft_time_limit: changes the messages (a route only chooses the queue)", (routes_time_limit,)),
    ("08.1", "route-rate-limit", "rate_limit in a route (task_annotations confused with task_routes): an extra option in the message", (routes_rate_limit,)),
    ("08.1", "section6-email-glob", "copied section 6's routes: the welcome mail leaves the default queue", (routes_with_email,)),
    ("08.1", "queue-object-own-routing-key", "kombu Queue objects with their own routing keys instead of the queue name", (routes_queue_object,)),
    ("08.1", "queue-object-plain", "plain kombu Queue objects: bound to the default exchange '' with their own binding, not chosen by name", (routes_queue_object_plain,)),
    ("08.1", "exchange-without-queue", "exchange + routing_key instead of queue: no queue is declared, messages may be lost", (routes_exchange_only,)),

    ("08.2", "swap-task-queue", "sets simple_calculation.queue for the call then restores it: another thread sending meanwhile goes to urgent (race on shared state)", (rush_swap_task_queue,)),
    ("08.2", "swap-router", "swaps app.amqp.router for the call: every task sent by another thread meanwhile uses it (race)", (rush_swap_router,)),
    ("08.2", "global-producer", "holds one pooled producer for ever in a global, shared by all threads, never released", (rush_global_producer,)),
    ("08.2", "leaky-connection", "opens a broker connection per call and never closes it", (rush_leaky_connection,)),
    ("08.2", "queue-object-routing-key", "a Queue object with its own routing key: published differently from queue='urgent'", (rush_queue_object,)),
    ("08.2", "send-task-by-name", "app.send_task by name: bypasses the task (no argument check, the task's own options)", (rush_send_task,)),
    ("08.2", "kwargs-not-args", "sends x, y as keyword arguments: another message body", (rush_kwargs,)),
    ("08.2", "add-to-parent-false", "adds add_to_parent=False, an option the exercise forbids", (rush_not_in_parent,)),
    ("08.2", "swapped-args", "sends (y, x): the result is the same sum, but the message is simple_calculation(y, x)", (rush_swapped_args,)),
    ("08.2", "explicit-default-kwarg", "adds the default seconds=0.2 as a keyword argument: another message body than apply_async((x, y))", (rush_explicit_default,)),
    ("08.2", "swap-conf-routes", "changes app.conf.task_routes for the call and rebuilds the router twice per call (race, routes changed)", (rush_swap_conf_routes,)),

    ("08.3", "optimization-fair", "-O fair changes how the worker hands tasks to its pool", (wc_ofair,)),
    ("08.3", "max-tasks-per-child", "--max-tasks-per-child recycles the pool processes", (wc_max_tasks,)),
    ("08.3", "max-memory-per-child", "--max-memory-per-child recycles the pool processes", (wc_max_memory,)),
    ("08.3", "discard", "--discard (alias of --purge) deletes waiting messages at start", (wc_discard,)),
    ("08.3", "int-concurrency", "the concurrency as an int in the list: subprocess raises TypeError", (wc_int_concurrency,)),
    ("08.3", "systemd-double-percent", "-n name@%%h from a systemd unit: without systemd the node is literally name@%h", (wc_systemd_escape,)),
    ("08.3", "broker-url", "-b redis://localhost:6379/0: the worker talks to a hard-coded broker, not the app's", (wc_broker_url,)),
    ("08.3", "statedb", "--statedb: persistent state file changes how the worker runs", (wc_statedb,)),
    ("08.3", "heartbeat-interval", "--heartbeat-interval 30 changes the worker's heartbeats", (wc_heartbeat_interval,)),
    ("08.3", "pool-start-method-spawn", "--pool-start-method spawn changes how pool processes start", (wc_spawn,)),
    ("08.3", "disable-prefetch", "--disable-prefetch (new in 5.5+) changes prefetch", (wc_disable_prefetch,)),
    ("08.3", "percent-n", "-n name@%n: %n is the node's name part, not the host name", (wc_shortname,)),
    ("08.3", "uid-nobody", "--uid nobody: the worker drops to another user", (wc_uid,)),
    ("08.3", "global-workdir", "celery --workdir /srv/app: the worker changes directory before importing the app", (wc_workdir,)),
    ("08.3", "global-config", "celery --config celeryconfig_prod: another configuration module", (wc_config,)),
    ("08.3", "include-module", "-I imports another task module into the worker", (wc_include,)),

    ("08.4", "string-multiplier", "'1' as a string, not a whole number", (settings_string_multiplier,)),
    ("08.4", "float-multiplier", "1.0, a float, not a whole number", (settings_float_multiplier,)),
    ("08.4", "string-acks", "'True' as a string, not True", (settings_string_acks,)),
    ("08.4", "task-option-names", "the task's option names (prefetch_multiplier, acks_late), not the settings", (settings_task_names,)),
    ("08.4", "old-uppercase-names", "the pre-4.0 uppercase names", (settings_old_names,)),
    ("08.4", "disable-prefetch-no-acks-late", "acks_late False, relying on an extra worker_disable_prefetch", (settings_disable_prefetch,)),
    ("08.4", "short-visibility-timeout", "adds visibility_timeout 60 s: with acks_late, long tasks (minutes) are redelivered while running", (settings_short_visibility,)),
    ("08.4", "task-time-limit-60", "adds task_time_limit 60 s: the long tasks (minutes) are killed", (settings_time_limit,)),
    ("08.4", "bool-multiplier", "True as the multiplier (== 1 but a bool)", (settings_bool_multiplier,)),
]

if __name__ == "__main__":
    runtime.start(quiet=True)
    todo = SOLUTIONS if "--solutions" in sys.argv else WRONG
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    if only:
        todo = [t for t in todo if t[0] in only or t[1] in only]
    try:
        for ex, name, why, args in todo:
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark}\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
