"""Dedicated workers (``course_tasks.workers``) on kombu's Redis transport: prefetch limits.

In embedded mode the Redis transport runs on the in-process Redis and polls instead of
blocking in ``BRPOP``; like kombu's poller it must read nothing for a channel whose
``qos.can_consume()`` says no, or prefetch limits (and Celery 5.7's ``--disable-prefetch``)
would not hold.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from course_tasks import workers
from course_tasks.tasks import demo


def _waiting(queue: str) -> int:
    with workers.redis_connection() as conn:
        try:
            return int(conn.default_channel.queue_declare(queue, passive=True).message_count)
        except conn.channel_errors:  # Redis: no list left, no queue
            return 0


def _long_then_short(queue: str, shorts: int = 3) -> tuple[int, list[bool]]:
    """Send a long task and ``shorts`` short ones; how many wait while the long one runs."""
    with workers.redis_connection() as conn:
        long = demo.long_job.apply_async(("long",), {"seconds": 1.0}, queue=queue,
                                         connection=conn)  # fmt: skip
        sent = [demo.record.apply_async((f"short{i}",), queue=queue, connection=conn)
                for i in range(shorts)]  # fmt: skip
    deadline = time.monotonic() + 30
    while long.state != "STARTED" and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    waiting = _waiting(queue)
    return waiting, [r.get(timeout=30) is not None for r in (long, *sent)]


@pytest.fixture
def clean_runs() -> Iterator[None]:
    demo.clear_runs()
    yield
    workers.stop()
    demo.clear_runs()


@pytest.mark.usefixtures("worker", "clean_runs")
@pytest.mark.parametrize(
    ("spec", "waiting"),
    [
        pytest.param(workers.Spec("t-lean", ("t_lean",), disable_prefetch=True, broker="redis"),
                     3, id="disable-prefetch"),
        pytest.param(workers.Spec("t-greedy", ("t_greedy",), broker="redis"), 0,
                     id="default-prefetch"),
    ],
)  # fmt: skip
def test_disable_prefetch_leaves_messages_in_the_queue(spec: workers.Spec, waiting: int) -> None:
    workers.start(spec)
    assert "--disable-prefetch" in spec.command() or not spec.disable_prefetch
    assert _long_then_short(spec.queues[0]) == (waiting, [True] * 4)
