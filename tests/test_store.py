"""The app-data store is one Redis shared by the notebook and the worker."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest
import redis

from course_tasks.namespace import NamespacedRedis, NamespaceError, prefix_command, strip_reply
from course_tasks.store import store
from course_tasks.tasks import email, maintenance


@pytest.mark.usefixtures("worker")
def test_worker_writes_what_the_notebook_reads(fast_smtp: None) -> None:
    result = email.send_welcome_email.delay("ada@example.com", "Ada")
    assert result.get(timeout=5)["subject"] == "Welcome!"
    assert email.outbox() == [
        {
            "to": "ada@example.com",
            "subject": "Welcome!",
            "body": "Hello Ada, thanks for signing up.",
        }
    ]


@pytest.mark.usefixtures("worker")
def test_notebook_writes_what_the_worker_reads() -> None:
    store().delete("tmp-files")
    store().zadd("tmp-files", {"old.csv": 0, "new.csv": 9e12})
    assert maintenance.cleanup_expired_data.delay().get(timeout=5) == 1
    assert store().zrange("tmp-files", 0, -1) == ["new.csv"]


@pytest.mark.usefixtures("worker")
def test_store_is_not_the_result_database() -> None:
    from course_tasks.tasks.basics import add

    result = add.delay(1, 1)
    result.get(timeout=5)
    assert store().get(f"celery-task-meta-{result.id}") is None


@pytest.mark.usefixtures("worker")
def test_outage_lasts_exactly_the_given_attempts(fast_smtp: None) -> None:
    email.fail_next(2)
    for _ in range(2):
        with pytest.raises(email.SMTPUnavailable):
            email.deliver("x@example.com", "s", "b")
    assert email.deliver("x@example.com", "s", "b")["to"] == "x@example.com"
    assert len(email.outbox()) == 1


# ----------------------------------------------------------------- a learner's namespace
# NamespacedRedis is the store's client in redis mode with COURSE_LEARNER. These tests run
# it against fakeredis (no server needed); tests/test_classroom.py runs it on redis-server.


@pytest.fixture
def namespaced() -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """(alice's namespaced client, a plain client) on one fresh fakeredis server."""
    server = fakeredis.FakeServer()
    pool = redis.ConnectionPool(
        connection_class=fakeredis.FakeRedisConnection, server=server, decode_responses=True
    )
    alice = NamespacedRedis(connection_pool=pool, global_keyprefix="learner:alice:")
    yield alice, redis.Redis(connection_pool=pool)
    pool.disconnect()


def test_namespaced_keys_are_stored_under_the_prefix_and_read_back_plain(namespaced) -> None:
    alice, plain = namespaced
    alice.set("outage", 2)
    alice.rpush("outbox", "a", "b")
    alice.hset("files", "x.csv", "1")
    alice.zadd("tmp-files", {"old": 0})
    assert sorted(plain.keys("*")) == [
        "learner:alice:files", "learner:alice:outage", "learner:alice:outbox",
        "learner:alice:tmp-files",
    ]  # fmt: skip
    assert alice.decr("outage") == 1
    assert alice.lrange("outbox", 0, -1) == ["a", "b"]
    assert sorted(alice.keys("*")) == ["files", "outage", "outbox", "tmp-files"]
    assert sorted(alice.scan_iter(match="out*")) == ["outage", "outbox"]
    assert sorted(alice.scan_iter()) == ["files", "outage", "outbox", "tmp-files"]
    assert alice.exists("outbox", "files", "nope") == 2
    assert alice.delete("outbox", "files") == 2
    assert sorted(plain.keys("*")) == ["learner:alice:outage", "learner:alice:tmp-files"]


def test_two_learners_do_not_meet(namespaced) -> None:
    alice, plain = namespaced
    bob = NamespacedRedis(connection_pool=alice.connection_pool, global_keyprefix="learner:bob:")
    alice.set("upload-outage", 3)
    bob.rpush("downloads", "u1")
    assert bob.get("upload-outage") is None
    assert alice.lrange("downloads", 0, -1) == []
    assert bob.keys("*") == ["downloads"]
    plain.set("upload-outage", 9)  # no namespace: the course without COURSE_LEARNER
    assert alice.get("upload-outage") == "3"
    assert bob.delete("upload-outage") == 0


def test_scripts_locks_pipelines_and_transactions_stay_in_the_namespace(namespaced) -> None:
    alice, plain = namespaced
    assert alice.eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "n", 5) == 5
    with alice.lock("report-lock", timeout=5):
        assert plain.exists("learner:alice:report-lock") == 1
    with alice.pipeline() as pipe:
        pipe.rpush("log", "one").rpush("log", "two").llen("log")
        assert pipe.execute() == [1, 2, 2]

    def bump(pipe: redis.client.Pipeline) -> None:
        value = int(pipe.get("n"))
        pipe.multi()
        pipe.set("n", value + 1)

    alice.transaction(bump, "n")
    alice.mset({"a": "1", "b": "2"})
    alice.rename("a", "c")
    assert alice.mget("b", "c") == ["2", "1"]
    assert plain.get("learner:alice:n") == "6"
    assert alice.blpop(["log"], timeout=1) == ("log", "one")
    assert sorted(plain.keys("*")) == [f"learner:alice:{k}" for k in ("b", "c", "log", "n")]


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.flushdb(),
        lambda r: r.dbsize(),
        lambda r: r.randomkey(),
        lambda r: r.execute_command("OBJECT", "ENCODING", "x"),
        lambda r: r.pubsub(),
    ],
    ids=["flushdb", "dbsize", "randomkey", "unknown-command", "pubsub"],
)
def test_what_would_reach_other_learners_is_refused(namespaced, call) -> None:
    alice, plain = namespaced
    plain.set("learner:bob:outbox", "bob's")
    with pytest.raises(NamespaceError):
        call(alice)
    assert plain.get("learner:bob:outbox") == "bob's"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("GET", "k"), ["GET", "p:k"]),
        (("SET", "k", "v", "NX"), ["SET", "p:k", "v", "NX"]),
        (("DEL", "a", "b"), ["DEL", "p:a", "p:b"]),
        (("MSET", "a", 1, "b", 2), ["MSET", "p:a", 1, "p:b", 2]),
        (("RENAME", "a", "b"), ["RENAME", "p:a", "p:b"]),
        (("BRPOP", "a", "b", 5), ["BRPOP", "p:a", "p:b", 5]),
        (("EVALSHA", "sha", 2, "a", "b", "arg"), ["EVALSHA", "sha", 2, "p:a", "p:b", "arg"]),
        (("ZUNIONSTORE", "d", 2, "a", "b", "WEIGHTS", 1, 2),
         ["ZUNIONSTORE", "p:d", 2, "p:a", "p:b", "WEIGHTS", 1, 2]),
        (("KEYS", "media:*"), ["KEYS", "p:media:*"]),
        (("SCAN", 0, b"MATCH", "m*", b"COUNT", 10), ["SCAN", 0, b"MATCH", "p:m*", b"COUNT", 10]),
        (("SCAN", 0), ["SCAN", 0, "MATCH", "p:*"]),
        (("GET", b"k"), ["GET", b"p:k"]),
        (("SCRIPT LOAD", "return 1"), ["SCRIPT LOAD", "return 1"]),
        (("PING",), ["PING"]),
    ],
)  # fmt: skip
def test_prefix_command_finds_the_keys(args, expected) -> None:
    assert prefix_command("p:", args) == expected


def test_replies_that_name_keys_lose_the_prefix() -> None:
    assert strip_reply("p:", "KEYS", [b"p:a", "p:b"]) == [b"a", "b"]
    assert strip_reply("p:", "SCAN", (7, ["p:a"])) == (7, ["a"])
    assert strip_reply("p:", "BRPOP", (b"p:q", b"msg")) == (b"q", b"msg")
    assert strip_reply("p:", "GET", "p:value") == "p:value"  # a value, not a key


def test_the_store_client_follows_the_learner() -> None:
    from course_tasks import store as store_module

    plain = store_module._client("redis://127.0.0.1:1/2", "redis", "")
    alice = store_module._client("redis://127.0.0.1:1/2", "redis", "learner:alice:")
    assert type(plain) is redis.Redis
    assert isinstance(alice, NamespacedRedis) and alice.global_keyprefix == "learner:alice:"
