"""Learner namespaces on one shared Redis: every key a learner's code touches gets a prefix.

With ``COURSE_LEARNER=alice`` in redis mode (:attr:`course_tasks.settings.Settings.key_prefix`
is then ``learner:alice:``), three things put that prefix in front of every Redis key:

* **broker**: kombu's own ``global_keyprefix`` transport option (set in
  :mod:`course_tasks.celeryconfig`). kombu prefixes the commands it sends itself (queues,
  bindings, unacked messages, and the PUBLISH/PSUBSCRIBE channels of the fanout exchanges
  that ``app.control`` and the worker events use), but leaves others as they are, such as
  ``KEYS`` and ``EXISTS`` (kombu 5.7's ``GlobalKeyPrefixMixin``). :class:`Transport` is
  kombu's Redis transport whose clients also prefix those (:data:`KEY_POSITIONS`), so a
  chapter's ``channel.client.keys("queue*")`` sees this learner's lists, named as without a
  namespace;
* **results**: Celery's own ``result_backend_transport_options["global_keyprefix"]``, which
  ``KeyValueStoreBackend._add_global_keyprefix`` puts in front of ``celery-task-meta-``,
  ``celery-taskset-meta-`` and ``chord-unlock-``; the pub/sub channel of a result is its key;
* **app data**: :class:`NamespacedRedis`, the client :func:`course_tasks.store.store`
  returns, which prefixes the keys of every command it knows and refuses the others
  (``FLUSHDB``, ``DBSIZE``, a command it has no table entry for), so that nothing an example
  task does can reach another learner's data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.url import as_url
from redis.client import Pipeline

# How to find the keys among a command's arguments (the arguments after the command name).
_FIRST = "first"  # the first argument
_ALL = "all"  # every argument
_TWO = "two"  # the first two
_ALL_BUT_LAST = "all-but-last"  # BLPOP key [key ...] timeout
_PAIRS = "pairs"  # MSET key value [key value ...]
_NUMKEYS = "numkeys"  # EVAL script numkeys key [key ...] arg [arg ...]
_DEST_NUMKEYS = "dest-numkeys"  # ZUNIONSTORE dest numkeys key [key ...] ...
_PATTERN = "pattern"  # KEYS pattern
_SCAN = "scan"  # SCAN cursor [MATCH pattern] ...
_NONE = "none"  # no key

def _names(text: str) -> list[str]:
    return text.split()


#: Where the keys are, for every command the course's code sends. A command missing here
#: is refused by :class:`NamespacedRedis` (and left alone by :class:`Transport`'s client,
#: as kombu does).
KEY_POSITIONS: dict[str, str] = {
    **dict.fromkeys(
        _names(
            # strings
            "GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND STRLEN INCR DECR INCRBY DECRBY "
            "INCRBYFLOAT SETRANGE GETRANGE SUBSTR SETBIT GETBIT BITCOUNT BITPOS "
            # hashes
            "HSET HSETNX HGET HMSET HMGET HDEL HLEN HKEYS HVALS HGETALL HEXISTS HINCRBY "
            "HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD "
            # lists
            "LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LREM LTRIM LINSERT LPOS "
            # sets
            "SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SSCAN "
            # sorted sets
            "ZADD ZREM ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX "
            "ZCARD ZSCORE ZMSCORE ZINCRBY ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZREMRANGEBYSCORE "
            "ZREMRANGEBYRANK ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZSCAN ZRANDMEMBER "
            # keys, hyperloglog, pub/sub
            "EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST TTL PTTL EXPIRETIME PEXPIRETIME TYPE DUMP "
            "RESTORE PFADD PUBLISH"
        ),
        _FIRST,
    ),
    **dict.fromkeys(
        _names(
            "DEL UNLINK EXISTS TOUCH WATCH MGET SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE "
            "SDIFFSTORE PFCOUNT PFMERGE"
        ),
        _ALL,
    ),
    **dict.fromkeys(_names("RENAME RENAMENX RPOPLPUSH BRPOPLPUSH SMOVE LMOVE BLMOVE COPY"), _TWO),
    **dict.fromkeys(_names("BLPOP BRPOP BZPOPMIN BZPOPMAX"), _ALL_BUT_LAST),
    **dict.fromkeys(_names("MSET MSETNX"), _PAIRS),
    **dict.fromkeys(_names("EVAL EVALSHA EVAL_RO EVALSHA_RO"), _NUMKEYS),
    **dict.fromkeys(_names("ZUNIONSTORE ZINTERSTORE ZDIFFSTORE"), _DEST_NUMKEYS),
    "KEYS": _PATTERN,
    "SCAN": _SCAN,
    **dict.fromkeys(
        _names(
            "PING ECHO TIME SCRIPT MULTI EXEC DISCARD UNWATCH INFO CLIENT HELLO AUTH SELECT "
            "READONLY COMMAND"
        ),
        _NONE,
    ),
}

#: Commands whose reply holds key names, which are given back without the prefix.
_KEY_REPLIES = frozenset(("KEYS", "SCAN", "BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"))


class NamespaceError(redis.RedisError):
    """A command that the learner's namespace cannot confine to its own keys."""


def _name(command: Any) -> str:
    text = command.decode() if isinstance(command, bytes) else str(command)
    return text.split(" ", 1)[0].upper()  # "SCRIPT LOAD" -> SCRIPT


def _join(prefix: str, key: Any) -> Any:
    if isinstance(key, bytes):
        return prefix.encode() + key
    if isinstance(key, memoryview):
        return prefix.encode() + key.tobytes()
    return prefix + str(key)


def _strip(prefix: str, key: Any) -> Any:
    if isinstance(key, bytes):
        raw = prefix.encode()
        return key[len(raw) :] if key.startswith(raw) else key
    if isinstance(key, str) and key.startswith(prefix):
        return key[len(prefix) :]
    return key


def prefix_command(prefix: str, args: Sequence[Any], *, strict: bool = True) -> list[Any]:
    """``args`` (command name first) with ``prefix`` in front of every key.

    A command not in :data:`KEY_POSITIONS` raises :class:`NamespaceError` when ``strict``,
    and is returned unchanged otherwise.
    """
    command, *rest = args
    kind = KEY_POSITIONS.get(_name(command))
    if kind is None:
        if strict:
            raise NamespaceError(
                f"{_name(command)} is not confined to this learner's keys: "
                "course_tasks.namespace.KEY_POSITIONS has no entry for it"
            )
        return list(args)
    if kind == _NONE or not rest:
        return list(args)
    if kind == _FIRST:
        rest[0] = _join(prefix, rest[0])
    elif kind == _ALL:
        rest = [_join(prefix, key) for key in rest]
    elif kind == _TWO:
        rest[:2] = [_join(prefix, key) for key in rest[:2]]
    elif kind == _ALL_BUT_LAST:
        rest[:-1] = [_join(prefix, key) for key in rest[:-1]]
    elif kind == _PAIRS:
        rest[::2] = [_join(prefix, key) for key in rest[::2]]
    elif kind in (_NUMKEYS, _DEST_NUMKEYS):  # script|dest, numkeys, key...
        if kind == _DEST_NUMKEYS:
            rest[0] = _join(prefix, rest[0])
        count = int(rest[1])
        rest[2 : 2 + count] = [_join(prefix, key) for key in rest[2 : 2 + count]]
    elif kind == _PATTERN:
        rest[0] = _join(prefix, rest[0])
    elif kind == _SCAN:
        words = [_name(word) if isinstance(word, (str, bytes)) else "" for word in rest]
        if "MATCH" in words:
            at = words.index("MATCH") + 1
            rest[at] = _join(prefix, rest[at])
        else:
            rest += ["MATCH", f"{prefix}*"]
    return [command, *rest]


def strip_reply(prefix: str, command: str, reply: Any) -> Any:
    """``reply`` with ``prefix`` taken off the key names it holds (KEYS, SCAN, BLPOP...)."""
    if reply is None or command not in _KEY_REPLIES:
        return reply
    if command == "KEYS":
        return [_strip(prefix, key) for key in reply]
    if command == "SCAN":
        cursor, keys = reply
        return cursor, [_strip(prefix, key) for key in keys]
    key, *values = reply  # BLPOP / BRPOP / BZPOP*: (key, value[, score])
    return type(reply)([_strip(prefix, key), *values])


def _prefix_options(prefix: str, options: dict[str, Any]) -> dict[str, Any]:
    # redis-py passes the keys again as ``keys=`` for its client-side cache.
    if options.get("keys"):
        options = {**options, "keys": [_join(prefix, key) for key in options["keys"]]}
    return options


class _Prefixed:
    """Mixin for :class:`redis.Redis` and its pipeline: prefix keys, strictly."""

    global_keyprefix = ""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        prefix = self.global_keyprefix
        command = _name(args[0])
        if isinstance(self, Pipeline) and command in _KEY_REPLIES:
            raise NamespaceError(f"{command} in a pipeline of a learner's namespace")
        args = prefix_command(prefix, args)  # type: ignore[assignment]
        reply = super().execute_command(*args, **_prefix_options(prefix, options))  # type: ignore[misc]
        return reply if isinstance(self, Pipeline) else strip_reply(prefix, command, reply)


class NamespacedPipeline(_Prefixed, Pipeline):
    """The pipeline of a :class:`NamespacedRedis` (``MULTI``/``EXEC``, ``WATCH``...)."""

    def __init__(self, *args: Any, global_keyprefix: str, **kwargs: Any) -> None:
        self.global_keyprefix = global_keyprefix
        super().__init__(*args, **kwargs)


class NamespacedRedis(_Prefixed, redis.Redis):
    """A Redis client confined to the keys that start with ``global_keyprefix``.

    Key names go in and come out as without a namespace (``store().keys("media:*")`` gives
    ``["media:image:1"]``); Redis holds ``learner:alice:media:image:1``. Locks
    (``client.lock``) and scripts (``client.eval``) work on prefixed keys too. Commands that
    would reach every learner's keys (``FLUSHDB``, ``DBSIZE``, ``RANDOMKEY``) raise
    :class:`NamespaceError`; so does ``pubsub()``, which the course's app data never uses.
    """

    def __init__(self, *args: Any, global_keyprefix: str, **kwargs: Any) -> None:
        if not global_keyprefix:
            raise ValueError("NamespacedRedis needs a non-empty global_keyprefix")
        self.global_keyprefix = global_keyprefix
        super().__init__(*args, **kwargs)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> NamespacedRedis:  # type: ignore[override]
        prefix = kwargs.pop("global_keyprefix")
        pool = redis.ConnectionPool.from_url(url, **kwargs)
        client = cls(connection_pool=pool, global_keyprefix=prefix)
        client.auto_close_connection_pool = True
        return client

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> NamespacedPipeline:
        return NamespacedPipeline(
            self.connection_pool,
            self.response_callbacks,
            transaction,
            shard_hint,
            global_keyprefix=self.global_keyprefix,
        )

    def pubsub(self, **kwargs: Any) -> Any:
        raise NamespaceError("pub/sub on the app-data store is not namespaced")


# --------------------------------------------------------------------------- the broker


class _KombuPrefixed:
    """kombu's key prefixing, plus the commands kombu leaves alone (KEYS, EXISTS, ...)."""

    global_keyprefix: str

    def _prefix_args(self, args: Sequence[Any]) -> list[Any]:
        if _name(args[0]) == "EVALSHA":
            # kombu's rule: only the first key. kombu passes the later keys of its scripts
            # already prefixed (Channel._script_binding_deadlines).
            command, sha, numkeys, *rest = args
            if int(numkeys) > 0:
                rest[0] = _join(self.global_keyprefix, rest[0])
            return [command, sha, numkeys, *rest]
        # Every other command kombu prefixes has the same keys in KEY_POSITIONS; and unlike
        # kombu's str(key), a key given as bytes (as KEYS returns them) stays the same key.
        return prefix_command(self.global_keyprefix, args, strict=False)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        reply = super().execute_command(*args, **options)  # type: ignore[misc]
        command = _name(args[0])
        if isinstance(self, Pipeline) or command not in ("KEYS", "SCAN"):
            return reply
        return strip_reply(self.global_keyprefix, command, reply)


class _KombuPipeline(_KombuPrefixed, kombu_redis.PrefixedRedisPipeline):
    pass


class _KombuClient(_KombuPrefixed, kombu_redis.PrefixedStrictRedis):
    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> _KombuPipeline:
        return _KombuPipeline(
            self.connection_pool,
            self.response_callbacks,
            transaction,
            shard_hint,
            global_keyprefix=self.global_keyprefix,
        )


class Channel(kombu_redis.Channel):
    """kombu's Redis channel; with ``global_keyprefix``, clients that prefix every key."""

    def _get_client(self) -> Callable[..., redis.Redis]:
        plain = super()._get_client()  # kombu's redis-py version check
        if "global_keyprefix" not in self.connection.client.transport_options:
            # A connection cloned with transport options of its own (chapter 08's
            # conn.clone(transport_options={"priority_steps": ...})) loses the option; it
            # stays in the learner's namespace all the same. An explicit "" is no namespace.
            from course_tasks import settings

            self.global_keyprefix = settings.from_env().key_prefix
        if self.global_keyprefix:
            return functools.partial(_KombuClient, global_keyprefix=self.global_keyprefix)
        return plain


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel` (``broker_transport`` in a namespace).

    Its connections print as ``redis://...`` (``Connection.as_uri``), not as
    ``course_tasks.namespace:Transport://...``: the worker's banner reads as usual, and
    Flower, which picks its Broker page by the URL's scheme, shows this learner's queues.
    """

    Channel = Channel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        # kombu parses the URL for this transport (the class says can_parse_url = False);
        # the instance says True only so that Connection.as_uri asks as_uri() below.
        self.can_parse_url = True

    def as_uri(self, uri: str, include_password: bool = False, mask: str = "**") -> str:
        conn = self.client
        password = conn.password if include_password else mask
        return as_url(
            "rediss" if conn.ssl else "redis", conn.hostname, conn.port, conn.userid,
            password if conn.password else None, quote(str(conn.virtual_host or "")),
            sanitize=not include_password, mask=mask,
        )  # fmt: skip
