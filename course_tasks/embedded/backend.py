"""Celery's own Redis result backend, talking to the in-process fakeredis server.

Everything about results (keys named ``celery-task-meta-<id>``, pub/sub notification of
state changes, ``result_expires``, chord counting in Lua) is Celery's ``RedisBackend``
unchanged; only the client is swapped for one on :data:`course_tasks.embedded.server.SERVER`.
Selected with ``result_backend = "fakeredis://localhost/1"`` (see ``course_tasks.app``).

One more change, in the result consumer: Celery's waits for pub/sub messages by ``poll()``
on the connection's socket file descriptor. A fakeredis socket has no real descriptor, only
a counter that *looks* like one; in a Jupyter kernel, full of ZeroMQ sockets, that number
can belong to a real, unrelated socket, and ``get()`` then waits its whole 1-second
interval after the task has finished. The consumer below waits on fakeredis's own
"response ready" event instead.

And no ``time.sleep(0)``: Celery's consumer calls it after every state change it reads and
after every wait, so that other greenlets get a turn (gevent, eventlet). In a kernel the
other thread is the worker, and each of those calls handed it the GIL in the middle of a
``get()``: about six thread switches per task, a third of the round trip. The consumer
below runs Celery's two methods without that call and is otherwise the same, statement for
statement (``tests/test_embedded_backend.py`` compares them with the installed Celery's).

And one guard, for the course's app only: in embedded mode the only worker is the one the
runtime runs in this kernel. Once ``runtime.stop()`` has stopped it (a chapter's last cell),
a ``get()`` on a task that is not ready would wait its whole timeout and end in
``TimeoutError`` on a PENDING task, without a word about why. It raises
:class:`~course_tasks.errors.WorkerStopped` at once instead, with the fix.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

from celery import states
from celery.backends.asynchronous import _waiting_on
from celery.backends.redis import RedisBackend, ResultConsumer
from celery.exceptions import TimeoutError

from course_tasks.errors import WorkerStopped

from . import server


class FakeRedisResultConsumer(ResultConsumer):
    """Celery's Redis result consumer, waiting on fakeredis's event instead of ``poll()``."""

    def _wait_for_pubsub(self, pubsub: Any, timeout: float | None) -> bool:
        wait = 1.0 if timeout is None else min(timeout, 1.0)
        if not pubsub.subscribed:
            return bool(pubsub.subscribed_event.wait(wait))
        connection = pubsub.connection
        if connection is None:
            return True  # disconnected: let the locked read reconnect
        # Only waits for fakeredis's response queue to be non-empty; reads nothing.
        return bool(connection.can_read(timeout=wait))

    # The two methods below are Celery's (BaseResultConsumer._wait_for_pending, and
    # BaseResultConsumer.on_state_change followed by ResultConsumer.on_state_change's own
    # line) without ``sleep(0)``; see the module docstring.

    def _wait_for_pending(
        self,
        result: Any,
        timeout: float | None = None,
        on_interval: Any = None,
        on_message: Any = None,
        **kwargs: Any,
    ) -> Iterator[None]:
        self.on_wait_for_pending(result, timeout=timeout, **kwargs)
        prev_on_m, self.on_message = self.on_message, on_message
        try:
            for _ in self.drain_events_until(
                result.on_ready, timeout=timeout, on_interval=on_interval
            ):
                yield
        except socket.timeout:  # noqa: UP041 (Celery's code, as it is)
            raise TimeoutError("The operation timed out.")  # noqa: B904
        finally:
            self.on_message = prev_on_m

    def on_state_change(self, meta: dict[str, Any], message: Any) -> None:
        if self.on_message:
            self.on_message(meta)
        if meta["status"] in states.READY_STATES:
            task_id = meta["task_id"]
            results = _waiting_on(self._pending_results, task_id)
            if not results:
                self._pending_messages.put(task_id, meta)
            for result in results:
                result._maybe_set_cache(meta)
                buckets = self.buckets
                try:
                    bucket = buckets.pop(result)
                except KeyError:
                    pass
                else:
                    bucket.append(result)
        self._maybe_cancel_ready_task(meta)


class FakeRedisBackend(RedisBackend):
    """A Redis result backend whose Redis lives in this process."""

    ResultConsumer = FakeRedisResultConsumer

    def _create_client(self, **params: Any) -> Any:
        return server.client(int(params.get("db") or 0))

    def wait_for_pending(self, result: Any, *args: Any, **kwargs: Any) -> Any:
        self._refuse_without_worker(result)
        return super().wait_for_pending(result, *args, **kwargs)

    def iter_native(self, result: Any, *args: Any, **kwargs: Any) -> Any:
        self._refuse_without_worker(result)
        return super().iter_native(result, *args, **kwargs)

    def _refuse_without_worker(self, result: Any) -> None:
        """Raise :class:`WorkerStopped` if nobody will ever run what ``result`` waits for."""
        from course_tasks import runtime
        from course_tasks.app import app as course_app

        if self.app is not course_app or runtime.is_running() or runtime.mode() != "embedded":
            return
        if result.ready():
            return
        raise WorkerStopped(
            "No worker is running in this kernel (embedded mode), so this task stays PENDING: "
            "get() would only wait for its timeout.",
            "run `runtime.start()` (the set-up cell at the top of the notebook), then call "
            "get() again: the task is still in its queue and runs as soon as the worker starts.",
        )


#: The task id the warm-up subscribes to and unsubscribes from (no task has it).
WARM_UP_ID = "course-tasks-warm-up"


def warm_up(app: Any) -> None:
    """Build now what Celery builds on this thread's first ``apply_async()``.

    Celery creates a thread's result backend lazily: the first task a notebook sends
    imports this module and fakeredis, connects the backend's pub/sub (``consume_from``
    subscribes before the message leaves) and the broker connection, all before the
    message is published. ``runtime.start()`` calls this right after starting the worker,
    so that the first task a chapter sends is as quick as the next ones. Only creates
    connections; stores nothing, and unsubscribes again.
    """
    backend = app.backend
    consumer = getattr(backend, "result_consumer", None)
    if consumer is not None:
        consumer.consume_from(WARM_UP_ID)
        consumer.cancel_for(WARM_UP_ID)
    with app.producer_or_acquire():
        pass
