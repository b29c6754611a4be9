"""Arithmetic and timing tasks: the smallest tasks every guide starts with.

Chapters: 00_setup, 01_concepts (round trips), 05_states_and_results (slow and progress
tasks), 07_canvas (``add``, ``multiply``, ``xsum`` as in guide 001 §8).
"""

from __future__ import annotations

import time
from typing import Any

from celery.utils.log import get_task_logger

from course_tasks.app import app

logger = get_task_logger(__name__)


@app.task
def add(x: float, y: float) -> float:
    """Return ``x + y`` (guide 000 §5)."""
    return x + y


@app.task
def multiply(x: float, y: float) -> float:
    """Return ``x * y`` (guide 001 §8, the second step of ``(4 + 4) * 8``)."""
    return x * y


@app.task
def xsum(numbers: list[float]) -> float:
    """Return the sum of a list, e.g. the results of a group (a chord callback)."""
    return sum(numbers)


@app.task
def sleepy_add(x: float, y: float, seconds: float = 1.0) -> float:
    """Return ``x + y`` after ``seconds``: a task slow enough to be seen running."""
    time.sleep(seconds)
    return x + y


@app.task(bind=True)
def process_items(self: Any, items: list[Any], seconds_per_item: float = 0.1) -> dict[str, int]:
    """Work through ``items``, reporting a custom PROGRESS state after each (guide 000 §5).

    The meta is ``{"current": i, "total": n}``, the shape guide 000 uses for its progress
    bar; the return value is ``{"processed": n}``.
    """
    total = len(items)
    for i, _item in enumerate(items, start=1):
        time.sleep(seconds_per_item)
        self.update_state(state="PROGRESS", meta={"current": i, "total": total})
    logger.info("processed %d items", total)
    return {"processed": total}


@app.task
def subtract(x: float, y: float) -> float:
    """Return ``x - y``: argument order matters, so a partial signature's prepended value shows.

    Chapter 07_canvas: ``subtract.s(2)`` in a chain after a task returning 10 computes
    ``subtract(10, 2)``: the previous result comes first.
    """
    return x - y


@app.task
def add_and_wait(x: float, y: float) -> float:
    """The anti-pattern of chapter 07_canvas: send ``add`` and wait for it inside a task.

    A worker refuses: ``get()`` raises ``RuntimeError: Never call result.get() within a
    task!`` (``celery.result.assert_will_not_block``). Use a chain or a chord instead.
    """
    return add.delay(x, y).get(timeout=2)
