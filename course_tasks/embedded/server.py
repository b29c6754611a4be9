"""The in-process Redis (fakeredis) that embedded and eager mode share.

One :class:`fakeredis.FakeServer` per Python process plays the part of the Redis server:
database 1 holds task results, database 2 the course's app data (counters, locks, the
mail outbox), just as ``redis://host/1`` and ``redis://host/2`` do in redis mode. The
notebook and the embedded worker thread see the same data because they share the server.

Clients (:func:`client`) are ordinary redis-py clients: the same connection pool, pipelines,
pub/sub and retries as against a real Redis, and every command runs in fakeredis's own
implementation. What differs is only the wire between them, :class:`DirectConnection`:

* a real connection packs each command into the Redis protocol (RESP) and the server parses
  it back; here both ends live in one process, so the connection hands the server the
  encoded arguments (the list RESP parsing would have produced) and skips the round trip
  through bytes. The arguments are encoded by redis-py's own ``Encoder``, with the same
  ``DataError`` for a value Redis cannot store;
* the replies of one connection wait in a deque instead of a ``queue.Queue`` (one lock and
  no condition-variable bookkeeping per reply), and a reply wakes a waiting reader only when
  one is waiting.

A task result costs about a dozen commands (subscribe, two GETs, two MULTI/SETEX/PUBLISH/EXEC
transactions, the pub/sub messages); on this path each is about a third cheaper, which
is the difference between a result backend that is slower than the task and one that is
not. ``benchmarks/README.md`` has the figures.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any

import fakeredis
from fakeredis import _msgs as msgs
from fakeredis._socket import FakeSocket

SERVER = fakeredis.FakeServer()
# Re-entrant: garbage collection can run ``AsyncResult.__del__`` in the middle of a
# fakeredis command, and that unsubscribes from the result channel, another command on
# the same server from the same thread. With fakeredis's plain Lock that deadlocks.
# Replaced before any database exists, so every database's Condition uses it.
SERVER.lock = threading.RLock()  # type: ignore[assignment]


class _Command(list):  # type: ignore[type-arg]
    """One command's arguments, encoded: what parsing its RESP bytes would give."""

    __slots__ = ()


class _ArgumentPacker:
    """Stands in for redis-py's RESP serializer: packs a command into one :class:`_Command`."""

    def __init__(self, encode: Any) -> None:
        self._encode = encode

    def pack(self, *args: Any) -> list[_Command]:
        # As redis-py's PythonRespSerializer: "CONFIG GET" in the name is two arguments.
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        encode = self._encode
        return [_Command([a if type(a) is bytes else bytes(encode(a)) for a in args])]


class _Replies:
    """A connection's replies: the part of ``queue.Queue`` fakeredis uses, on a deque."""

    __slots__ = ("_items", "_lock", "_ready", "_waiting")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting = 0

    def put(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
            if self._waiting:
                self._ready.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        try:
            return self._items.popleft()
        except IndexError:
            if not block:
                raise queue.Empty from None
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._waiting += 1
            try:
                while not self._items:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise queue.Empty
                    self._ready.wait(remaining)
                return self._items.popleft()
            finally:
                self._waiting -= 1

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def qsize(self) -> int:
        return len(self._items)


class _DirectSocket(FakeSocket):
    """fakeredis's socket, taking commands as argument lists and replies in a deque."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses = _Replies()  # type: ignore[assignment]

    def sendall(self, data: Any) -> None:
        if type(data) is not _Command:
            super().sendall(data)  # bytes from elsewhere: fakeredis's RESP parser
            return
        if not self._server.connected or self._killed:
            raise self._connection_error_class(msgs.CONNECTION_ERROR_MSG)
        self._process_command(data)

    def put_response(self, msg: Any) -> None:
        responses = self.responses  # None once closed, see FakeSocket.put_response
        if responses is not None:
            responses.put(msg)
            ready = self.response_ready
            # A reader clears the event before it looks at the replies, so while it is set
            # nobody sleeps on it: setting it again would only cost a lock and a notify.
            if not ready.is_set():
                ready.set()


class DirectConnection(fakeredis.FakeRedisConnection):
    """A redis-py connection to :data:`SERVER` that passes commands as argument lists."""

    def _construct_command_packer(self, packer: Any) -> _ArgumentPacker:
        return _ArgumentPacker(self.encoder.encode)

    def pack_commands(self, commands: Any) -> list[_Command]:
        pack = self._command_packer.pack
        return [packed for args in commands for packed in pack(*args)]

    def _connect(self) -> FakeSocket:
        if not self._server.connected:
            raise self._connection_error_class(msgs.CONNECTION_ERROR_MSG)
        return _DirectSocket(
            self._server,
            client_class=self._client_class,
            db=self.db,
            lua_modules=self._lua_modules,
            client_info=self._client_info,
        )


def client(db: int, *, decode_responses: bool = False) -> fakeredis.FakeRedis:
    """A client of the in-process server, on database ``db``."""
    return fakeredis.FakeRedis(
        server=SERVER,
        db=db,
        decode_responses=decode_responses,
        connection_class=DirectConnection,
    )
