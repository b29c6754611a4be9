"""One exercise's answer never changes what the next exercise's check runs against.

A check calls the learner's code, and a wrong answer can leave the kernel changed for every
check after it, so that a right answer to a later exercise loses its points for a mistake
made elsewhere (or the verdict reads as made in another mode and scores 0):

* reconfigure the course's app: ``make_celery`` (12.2) returning ``app`` after
  ``app.config_from_object(settings, namespace="CELERY")`` points its broker at another
  Redis; a test answer (11.x) sets ``app.conf.task_always_eager = True`` as guide 002 does;
  a routing answer assigns ``app.conf.task_routes``;
* make another app Celery's current one: ``Celery("shop")`` without ``set_as_current=False``,
  after which ``celery.result.AsyncResult(task_id)`` asks that app's backend;
* leave a stand-in in place: ``mock.patch(...).start()`` with no ``stop()``, a mock or a
  lambda assigned to ``welcome.delay`` by hand, a course function replaced and put back
  outside a ``finally``, so a course task never reaches the worker again.

:func:`kept` records that state before a check and puts it back afterwards: the course app's
configuration object (its changes, its defaults, where it was read from), the router built
from ``task_routes``, the current app of this thread, and every attribute of a
``course_tasks`` module or course task that a check run replaced with a stand-in
(:func:`stand_ins_left`). What the
learner's cells do outside a check is theirs: a cell that switches the mode before a check
still gets that check judged in the mode it switched to (:func:`course_tasks.checks.provenance`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from unittest import mock

from celery import Task, _state

#: The attributes of a Celery app that say where its configuration comes from.
APP_ATTRIBUTES = ("_conf", "_config_source", "_config_source_silent", "namespace")
#: The attributes of a ``Settings`` object (a ``ConfigurationView``) that hold its contents.
CONF_ATTRIBUTES = ("changes", "defaults", "maps", "prefix", "key_t", "_keys")
MISSING = object()


#: The attributes of a course task that a test replaces to keep it off the worker.
TASK_METHODS = frozenset(
    {"delay", "apply_async", "apply", "run", "__call__", "retry", "s", "si", "signature"}
)


def owners(app: Any) -> list[Any]:
    """The course's modules and the course's task objects: where a leaked stand-in would sit."""
    modules = [
        module for name, module in list(sys.modules.items())
        if module is not None and (name == "course_tasks" or name.startswith("course_tasks."))
        and not name.startswith("course_tasks.checks")
    ]  # fmt: skip
    tasks = [task for name, task in list(app.tasks.items()) if not name.startswith("celery.")]
    return modules + tasks


def _is_code(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or isinstance(value, Task)


def stand_ins_left(owner: Any, before: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(name, value before)`` for each attribute of ``owner`` a stand-in now replaces.

    A stand-in is a mock wherever it sits, a function or class of a course module replaced
    by something else (``signup.gateway_charge = lambda *a: "rcpt"``), or one of a course
    task's methods set on the task itself (``welcome.delay = fake``). Other changes to a
    module's globals (caches, counters) are the module's own business and stay.
    """
    found = []
    is_task = isinstance(owner, Task)
    for name, value in list(vars(owner).items()):
        old = before.get(name, MISSING)
        if value is old:
            continue
        if (
            isinstance(value, mock.NonCallableMock)
            or (is_task and name in TASK_METHODS)
            or (not is_task and _is_code(old))
        ):
            found.append((name, old))
    return found


@contextmanager
def kept() -> Iterator[list[str]]:
    """Run a check, then put the course's app and modules back as they were before it.

    Yields a list that names, after the block, what had to be put back (empty when the
    learner's code changed nothing shared).
    """
    from course_tasks.app import app

    conf = app.conf
    attributes = {name: getattr(app, name, MISSING) for name in APP_ATTRIBUTES}
    contents = {name: conf.__dict__.get(name, MISSING) for name in CONF_ATTRIBUTES}
    changes = dict(conf.changes)
    defaults = list(conf.defaults)
    loader_conf = app.loader.__dict__.get("_conf", MISSING)
    current = _state._tls.current_app
    saved = [(owner, dict(vars(owner))) for owner in owners(app)]
    patchers = list(mock._patch._active_patches)
    restored: list[str] = []
    try:
        yield restored
    finally:
        if any(getattr(app, n, MISSING) is not v for n, v in attributes.items()):
            restored.append("the course app's configuration source")
            for name, value in attributes.items():
                if value is not MISSING:
                    setattr(app, name, value)
        if any(conf.__dict__.get(n, MISSING) is not v for n, v in contents.items()):
            restored.append("the course app's configuration object")
            conf.__dict__.update({n: v for n, v in contents.items() if v is not MISSING})
        if dict(conf.changes) != changes or list(conf.defaults) != defaults:
            routes = any(k in conf.changes or k in changes for k in ("task_routes", "task_queues"))
            restored.append("the course app's settings")
            conf.changes.clear()
            conf.changes.update(changes)
            conf.defaults[:] = defaults
            conf.maps[:] = [conf.changes, *defaults]
            if routes:
                app.amqp.flush_routes()
                app.amqp.router = app.amqp.Router()
        if loader_conf is not MISSING and app.loader.__dict__.get("_conf") is not loader_conf:
            app.loader.__dict__["_conf"] = loader_conf
        if _state._tls.current_app is not current:
            restored.append("Celery's current app")
            _state._set_current_app(current)
        for patcher in reversed(list(mock._patch._active_patches)):
            if not any(patcher is p for p in patchers):  # started with start(), never stopped
                restored.append("a patch started and never stopped")
                with suppress(Exception):
                    patcher.stop()
        for owner, before in saved:
            for name, value in stand_ins_left(owner, before):
                restored.append(f"a stand-in left on {getattr(owner, '__name__', owner)}.{name}")
                if value is MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, value)
