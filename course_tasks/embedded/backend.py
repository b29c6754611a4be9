"""Celery's own Redis result backend, talking to the in-process fakeredis server.

Everything about results (keys named ``celery-task-meta-<id>``, pub/sub notification of
state changes, ``result_expires``, chord counting in Lua) is Celery's ``RedisBackend``
unchanged; only the client is swapped for one on :data:`course_tasks.embedded.server.SERVER`.
Selected with ``result_backend = "fakeredis://localhost/1"`` (see ``course_tasks.app``).
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend

from . import server


class FakeRedisBackend(RedisBackend):
    """A Redis result backend whose Redis lives in this process."""

    def _create_client(self, **params: Any) -> Any:
        return server.client(int(params.get("db") or 0))
