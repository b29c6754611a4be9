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

And one guard, for the course's app only: in embedded mode the only worker is the one the
runtime runs in this kernel. Once ``runtime.stop()`` has stopped it (a chapter's last cell),
a ``get()`` on a task that is not ready would wait its whole timeout and end in
``TimeoutError`` on a PENDING task, without a word about why. It raises
:class:`~course_tasks.errors.WorkerStopped` at once instead, with the fix.
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend, ResultConsumer

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
