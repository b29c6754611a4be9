"""Make the embedded worker refuse ``result.get()`` inside a task, as a worker process does.

Celery keeps one process-wide flag, ``celery._state._task_join_will_block``: when it is
set, ``AsyncResult.get()`` (``celery.result.assert_will_not_block``) raises
``RuntimeError: Never call result.get() within a task!``. A worker sets it when it creates
its pool (``worker/components.py``: ``_set_task_join_will_block(pool.task_join_will_block)``,
``True`` for the solo and prefork pools; prefork children set it again in
``process_initializer``). :func:`celery.contrib.testing.worker.start_worker`, which the
embedded worker is, turns it back off once the worker has started, because the worker
shares its process with the code that calls ``get()`` (a test, here a notebook); the flag
being process-wide, it cannot be on for the worker and off for the notebook.

This module makes the flag per thread for the threads it is told about: the embedded
worker's thread reads ``True`` (and ``allow_join_result()`` still lifts it there, as
Celery's chord code needs), every other thread reads Celery's own flag, as before. It
replaces the two functions ``celery.result`` and the Redis backend imported from
``celery._state`` (``task_join_will_block`` and ``_set_task_join_will_block``); nothing
else changes. :func:`install` is idempotent; :func:`uninstall` restores Celery's functions.
:mod:`course_tasks.runtime` installs it when it starts the embedded worker and uninstalls it
when it stops the worker.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import _state
from celery import result as celery_result
from celery.backends import redis as redis_backend

#: Modules that imported the flag's functions by name, with the names they use.
_PATCHED = (
    (celery_result, "task_join_will_block"),
    (celery_result, "_set_task_join_will_block"),
    (redis_backend, "task_join_will_block"),
)
_lock = threading.Lock()
#: Thread ident -> that thread's own value of the flag.
_threads: dict[int, bool] = {}


def task_join_will_block() -> bool:
    """The flag as the calling thread sees it."""
    value = _threads.get(threading.get_ident())
    return _state.task_join_will_block() if value is None else value


def _set_task_join_will_block(blocks: bool) -> None:
    ident = threading.get_ident()
    if ident in _threads:
        _threads[ident] = blocks
    else:
        _state._set_task_join_will_block(blocks)


_REPLACEMENTS = {
    "task_join_will_block": task_join_will_block,
    "_set_task_join_will_block": _set_task_join_will_block,
}


def worker_thread(worker: Any) -> threading.Thread | None:
    """The thread that runs ``worker`` (a ``WorkController`` from ``start_worker``)."""
    for thread in threading.enumerate():
        if getattr(thread, "_target", None) == worker.start:
            return thread
    return None


def install(thread: threading.Thread) -> None:
    """From now on, tasks run by ``thread`` may not wait on a result. Idempotent."""
    if thread.ident is None:
        raise ValueError(f"thread {thread.name} has not started")
    with _lock:
        alive = {t.ident for t in threading.enumerate()}
        for ident in [i for i in _threads if i not in alive]:
            del _threads[ident]  # a stopped worker's id may be reused by another thread
        for module, name in _PATCHED:
            setattr(module, name, _REPLACEMENTS[name])
        _threads[thread.ident] = True


def uninstall() -> None:
    """Forget every thread and give ``celery.result`` and the backend Celery's functions."""
    with _lock:
        _threads.clear()
        for module, name in _PATCHED:
            setattr(module, name, getattr(_state, name))


def installed() -> bool:
    """Whether some thread is guarded now."""
    return bool(_threads)
