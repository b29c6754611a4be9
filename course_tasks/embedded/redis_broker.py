"""kombu's Redis transport on the in-process Redis, for embedded mode's priority lessons.

kombu's ``memory://`` transport (embedded mode's broker) ignores message priorities: its
queues are plain FIFO ``queue.Queue`` objects. Priorities are a feature of each
transport, and on Redis it is kombu's Redis transport that implements them: ``_put``
pushes a message onto one list per priority step (``queue``, ``queue\\x06\\x163``, ...),
``_get`` and ``BRPOP`` read those lists in step order. To show what *that* code does
without a Redis server, this module runs kombu's Redis transport unchanged on database 0
of the in-process fakeredis server (:mod:`course_tasks.embedded.server`), the database a
Redis broker uses in redis mode. Two things differ, both about waiting, not order:

* connections are fakeredis connections (no socket), so the worker runs Celery's
  blocking ``synloop`` instead of its event loop (``implements.asynchronous = False``);
* ``drain_events`` polls every 10 ms with the channel's own ``_get`` (RPOP of each
  priority list in ``priority_steps`` order), where a real consumer blocks in ``BRPOP``
  on the same keys in the same order, and, like kombu's poller (``on_poll_start``), reads
  nothing for a channel whose ``qos.can_consume()`` is false (prefetch full, or Celery
  5.7's ``--disable-prefetch`` with every pool slot taken). Fanout (broadcast) messages
  are not read, so remote control commands do not reach a worker on this transport.

URL: ``Connection(transport=Transport)`` (see :func:`connection`).
"""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import redis
from kombu import Connection
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

from . import server

#: The in-process Redis database that plays the broker's part (db 0, as in redis mode).
DB = 0
POLL_SECONDS = 0.01


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, its connections going to the in-process server.

    The database is the URL's, as with a real Redis (``redis://localhost/4`` is db 4);
    without one, :data:`DB`.
    """

    def _get_pool(self, asynchronous: bool = False) -> redis.ConnectionPool:
        vhost = str(self.connection.client.virtual_host or "").strip("/")
        db = int(vhost) if vhost.isdigit() else DB
        self.keyprefix_fanout = self.keyprefix_fanout.format(db=db)
        return redis.ConnectionPool(
            connection_class=fakeredis.FakeRedisConnection, server=server.SERVER, db=db
        )


class Transport(kombu_redis.Transport):
    """kombu's Redis transport on the in-process Redis; waits by polling (see above)."""

    Channel = Channel
    implements = kombu_redis.Transport.implements.extend(asynchronous=False)

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1.0)
        while True:
            channels = [channel for channel in self.channels if not channel.closed]
            if not channels:
                raise TimeoutError()  # the connection was closed: the worker is stopping
            for channel in channels:
                if not channel.qos.can_consume():
                    continue  # as kombu's poller registers no BRPOP for a full channel
                queues = channel._queue_cycle.consume(len(channel.active_queues))
                for queue in queues:
                    if queue in channel.active_fanout_queues:
                        continue
                    try:
                        message = channel._get(queue)
                    except virtual.Empty:
                        continue
                    self._deliver(message, queue)
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError()  # socket.timeout: what the worker loop expects
            time.sleep(POLL_SECONDS)


def connection(**transport_options: Any) -> Connection:
    """A kombu connection to the in-process Redis through kombu's Redis transport."""
    return Connection(transport=Transport, transport_options=transport_options)


def client() -> fakeredis.FakeRedis:
    """A plain client of the broker database (to look at the lists, as redis-cli would)."""
    return server.client(DB)
