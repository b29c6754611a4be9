"""Quick, bounded checks of the course's Redis and workers (used by the runtime and doctor).

Every check here answers within a few seconds, whatever the network does: a Redis that is
down, firewalled or misspelt gives a :class:`~course_tasks.errors.BrokerUnreachable` naming
the URL and the fix, never a hang.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis

from course_tasks.errors import BrokerUnreachable
from course_tasks.settings import LEARNER_KEY_PREFIX, learner_prefix, redact

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


#: Keys on the broker database that show a learner namespace in use: the binding table of
#: the workers' broadcast exchange (a worker ran) and of the default queue (a task was sent
#: or a worker consumed it). kombu writes both under the learner's ``global_keyprefix``.
NAMESPACE_MARKERS = ("_kombu.binding.celery.pidbox", "_kombu.binding.celery")


def learners(broker_url: str) -> list[str]:
    """The learner namespaces (``COURSE_LEARNER`` values) that were used on this broker."""
    client = redis.Redis.from_url(
        broker_url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
    )
    found = set()
    try:
        for marker in NAMESPACE_MARKERS:
            pattern = f"{LEARNER_KEY_PREFIX}*:{marker}"
            for key in client.scan_iter(match=pattern, count=1000):
                name = key.decode()[len(LEARNER_KEY_PREFIX) : -len(marker) - 1]
                if name and ":" not in name:
                    found.add(name)
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise BrokerUnreachable(
            f"Cannot reach Redis at {redact(broker_url)} (broker): {_reason(exc)}.", FIX_REDIS
        ) from None
    finally:
        client.close()
    return sorted(found)


def ping_namespace(app: Any, learner: str | None, timeout: float = 1.0) -> list[str]:
    """The workers that answer a ping in ``learner``'s namespace (``None``: no namespace).

    Works from any process on the same Redis, whatever its own ``COURSE_LEARNER``: the
    broadcast goes out on a connection with that learner's ``global_keyprefix``.
    """
    from kombu.pidbox import Mailbox

    prefix = learner_prefix(learner) if learner else ""
    options = {"global_keyprefix": prefix}
    transport = "course_tasks.namespace:Transport" if prefix else None
    # Not app.control.ping(connection=conn): Celery's mailbox publishes through the app's
    # producer pool, on the app's own broker connection, and uses ``conn`` only to read
    # the replies. A mailbox without a pool publishes on the connection it is bound to.
    mailbox = Mailbox(
        app.conf.control_exchange, type="fanout", accept=["json"], serializer="json"
    )
    with app.connection_for_write(transport=transport, transport_options=options) as conn:
        replies = mailbox(conn)._broadcast("ping", {}, reply=True, timeout=timeout)
    return sorted(name for reply in replies or [] for name in reply)


def classroom(app: Any, broker_url: str, timeout: float = 1.0) -> dict[str, list[str]]:
    """Every learner namespace on this broker and the workers that answer in it.

    The pings go out at once (one thread per namespace, at most 16), so a class of thirty
    takes about ``2 * timeout`` seconds, not thirty.
    """
    names = learners(broker_url)
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
        answers = pool.map(lambda name: ping_namespace(app, name, timeout), names)
        return dict(zip(names, answers, strict=True))
