"""The app-data store: the Redis that the course's example tasks keep their data in.

Tasks in the guides touch more than Celery: they count, lock, and send mail. The course
keeps that data in Redis so that a notebook and a worker see the same thing:

* embedded and eager mode: database 2 of the in-process fakeredis server, shared by the
  notebook and the worker thread;
* redis mode: database 2 of the course Redis (or ``COURSE_STORE``), shared by the notebook
  and every worker process. With ``COURSE_LEARNER`` (a classroom on one Redis), the client
  is a :class:`~course_tasks.namespace.NamespacedRedis`: every key this learner's notebook and
  workers use starts with ``learner:NAME:``, so two learners' outboxes, outages and
  download lists never meet. Code keeps using the plain names (``store().get("outage")``).
"""

from __future__ import annotations

from functools import cache

import redis

from course_tasks import settings


@cache
def _client(store_url: str, mode: str, key_prefix: str = "") -> redis.Redis:
    if mode == settings.REDIS:
        options = {"decode_responses": True, "socket_connect_timeout": 2, "socket_timeout": 5}
        if key_prefix:
            from course_tasks.namespace import NamespacedRedis

            return NamespacedRedis.from_url(store_url, global_keyprefix=key_prefix, **options)
        return redis.Redis.from_url(store_url, **options)
    from course_tasks.embedded import server

    return server.client(2, decode_responses=True)


def store() -> redis.Redis:
    """A Redis client on the app-data database (``str`` in, ``str`` out)."""
    cfg = settings.from_env()
    return _client(cfg.store_url, cfg.mode, cfg.key_prefix)
