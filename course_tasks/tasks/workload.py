"""CPU-bound and I/O-bound work, to choose a worker pool by measuring (chapter 12).

* :func:`crunch` keeps a CPU busy (pure-Python arithmetic): it holds the GIL, so only
  separate processes (the ``prefork`` pool) run two of them at once;
* :func:`fetch` simulates a slow network call (it sleeps, as a socket read waits): the
  ``threads``, ``gevent`` and ``eventlet`` pools overlap many of them in one process;
* :func:`whoami` returns the process id that ran it (``--max-tasks-per-child``).

Both work tasks return the pid of the process that ran them and when they started and
finished (``time.time()``, comparable across processes), so a chapter can measure how long
a batch took on the worker and how many processes shared it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from course_tasks.app import app


@app.task
def crunch(n: int = 2_000_000) -> dict[str, Any]:
    """Sum the squares below ``n`` the slow way (CPU-bound)."""
    started = time.time()
    total = 0
    for i in range(n):
        total += i * i
    return {"value": total, "pid": os.getpid(), "started": started, "finished": time.time()}


@app.task
def fetch(url: str, seconds: float = 0.3) -> dict[str, Any]:
    """Pretend to download ``url``: wait ``seconds`` like a network read (I/O-bound)."""
    started = time.time()
    time.sleep(seconds)
    return {"url": url, "pid": os.getpid(), "started": started, "finished": time.time()}


@app.task
def whoami() -> int:
    """The process id of the worker process (pool child) that ran this task."""
    return os.getpid()
