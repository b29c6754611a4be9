"""Quick, bounded checks of the course's Redis and workers (used by the runtime and doctor).

Every check here answers within a few seconds, whatever the network does: a Redis that is
down, firewalled or misspelt gives a :class:`~course_tasks.errors.BrokerUnreachable` naming
the URL and the fix, never a hang.
"""

from __future__ import annotations

import time

import redis

from course_tasks.errors import BrokerUnreachable
from course_tasks.settings import redact

CONNECT_TIMEOUT = 2.0

FIX_REDIS = (
    "start Redis (`redis-server --port 6379`, or `docker compose up -d redis`) and check "
    "the URL in COURSE_BROKER; or unset COURSE_BROKER to run the course in embedded mode, "
    "which needs no Redis."
)


def ping_redis(url: str, *, role: str = "broker") -> float:
    """PING the Redis at ``url``; return the round trip in seconds.

    Raises :class:`BrokerUnreachable` (within ``CONNECT_TIMEOUT`` seconds or so) when it
    does not answer, with the reason Redis or the network gave.
    """
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
    )
    started = time.perf_counter()
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise BrokerUnreachable(
            f"Redis at {redact(url)} ({role}) refused the password: {exc}.",
            "put the password from .env in the URL: redis://:PASSWORD@host:6379/0.",
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise BrokerUnreachable(
            f"Cannot reach Redis at {redact(url)} ({role}): {_reason(exc)}.", FIX_REDIS
        ) from None
    except redis.ResponseError as exc:
        raise BrokerUnreachable(
            f"Redis at {redact(url)} ({role}) answered with an error: {exc}.", FIX_REDIS
        ) from None
    finally:
        client.close()
    return time.perf_counter() - started


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.rstrip(".")


def ping_workers(app: object, timeout: float = 1.0) -> list[str]:
    """The node names of the workers that answer ``app.control.ping`` within ``timeout``."""
    replies = app.control.ping(timeout=timeout)  # type: ignore[attr-defined]
    return sorted(name for reply in replies or [] for name in reply)
