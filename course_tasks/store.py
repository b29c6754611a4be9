"""The app-data store: the Redis that the course's example tasks keep their data in.

Tasks in the guides touch more than Celery: they count, lock, and send mail. The course
keeps that data in Redis so that a notebook and a worker see the same thing:

* embedded and eager mode: database 2 of the in-process fakeredis server, shared by the
  notebook and the worker thread;
* redis mode: database 2 of the course Redis (or ``COURSE_STORE``), shared by the notebook
  and every worker process.
"""

from __future__ import annotations

from functools import cache

import redis

from course_tasks import settings


@cache
def _client(store_url: str, mode: str) -> redis.Redis:
    if mode == settings.REDIS:
        return redis.Redis.from_url(
            store_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
        )
    from course_tasks.embedded import server

    return server.client(2, decode_responses=True)


def store() -> redis.Redis:
    """A Redis client on the app-data database (``str`` in, ``str`` out)."""
    cfg = settings.from_env()
    return _client(cfg.store_url, cfg.mode)
