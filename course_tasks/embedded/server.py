"""The in-process Redis (fakeredis) that embedded and eager mode share.

One :class:`fakeredis.FakeServer` per Python process plays the part of the Redis server:
database 1 holds task results, database 2 the course's app data (counters, locks, the
mail outbox), just as ``redis://host/1`` and ``redis://host/2`` do in redis mode. The
notebook and the embedded worker thread see the same data because they share the server.
"""

from __future__ import annotations

import threading

import fakeredis

SERVER = fakeredis.FakeServer()
# Re-entrant: garbage collection can run ``AsyncResult.__del__`` in the middle of a
# fakeredis command, and that unsubscribes from the result channel, another command on
# the same server from the same thread. With fakeredis's plain Lock that deadlocks.
# Replaced before any database exists, so every database's Condition uses it.
SERVER.lock = threading.RLock()  # type: ignore[assignment]


def client(db: int, *, decode_responses: bool = False) -> fakeredis.FakeRedis:
    """A client of the in-process server, on database ``db``."""
    return fakeredis.FakeRedis(server=SERVER, db=db, decode_responses=decode_responses)
