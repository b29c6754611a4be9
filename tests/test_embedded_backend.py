"""The embedded result backend and its Redis: Celery's code, redis-py's client, fakeredis.

The in-process wire (``server.DirectConnection``) must answer exactly as fakeredis does
over its RESP parser, and the result consumer must stay Celery's own code but for the
``sleep(0)`` yields it leaves out.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest
import redis
from celery.backends.asynchronous import BaseResultConsumer
from celery.backends.redis import ResultConsumer

from course_tasks.embedded import backend, server


def _body(function: Callable[..., Any]) -> list[ast.stmt]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    return definition.body


def _is_call(statement: ast.stmt, source: str) -> bool:
    return isinstance(statement, ast.Expr) and ast.unparse(statement.value) == source


def _dump(statements: list[ast.stmt]) -> list[str]:
    return [ast.dump(s) for s in statements]


def _without_sleep(statements: list[ast.stmt]) -> list[ast.stmt]:
    """``statements`` with every ``sleep(0)`` statement removed, at any depth."""

    class Strip(ast.NodeTransformer):
        def generic_visit(self, node: ast.AST) -> ast.AST:
            super().generic_visit(node)
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    setattr(node, field, [s for s in block if not _is_call(s, "sleep(0)")])
            return node

    module = Strip().visit(ast.Module(body=statements, type_ignores=[]))
    return module.body


def test_wait_for_pending_is_celerys_without_sleep() -> None:
    ours = _body(backend.FakeRedisResultConsumer._wait_for_pending)
    celerys = _body(BaseResultConsumer._wait_for_pending)
    assert any("sleep(0)" in ast.unparse(s) for s in celerys), "Celery no longer yields here"
    assert _dump(ours) == _dump(_without_sleep(celerys))


def test_on_state_change_is_celerys_without_sleep() -> None:
    base = _body(BaseResultConsumer.on_state_change)
    redis_own = _body(ResultConsumer.on_state_change)
    assert _is_call(redis_own[0], "super().on_state_change(meta, message)")
    assert _is_call(base[-1], "sleep(0)")
    expected = _without_sleep(base) + redis_own[1:]
    assert _dump(_body(backend.FakeRedisResultConsumer.on_state_change)) == _dump(expected)


@pytest.fixture()
def clients() -> tuple[redis.Redis, redis.Redis]:
    """A client on the direct wire and one on fakeredis's RESP wire, same server, db 9."""
    direct = server.client(9)
    resp = fakeredis.FakeRedis(server=server.SERVER, db=9)
    direct.flushdb()
    yield direct, resp
    direct.flushdb()


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except redis.RedisError as exc:
        return (type(exc).__name__, str(exc))


def test_direct_wire_answers_as_fakeredis_does(clients: tuple[redis.Redis, redis.Redis]) -> None:
    def script(c: redis.Redis) -> list[Any]:
        c.flushdb()
        steps: list[Callable[[], Any]] = [
            lambda: c.set("s", "text"),
            lambda: c.set("n", 1),
            lambda: c.incr("n"),
            lambda: c.set("f", 1.25),
            lambda: c.get("f"),
            lambda: c.set("mv", memoryview(b"bytes")),
            lambda: c.get("mv"),
            lambda: c.setex("ttl", 100, "v"),
            lambda: 90 < c.ttl("ttl") <= 100,  # whole seconds: 100 or 99
            lambda: c.set("bad", True),  # DataError, raised before anything is sent
            lambda: c.lpush("s", 1),  # WRONGTYPE
            lambda: c.execute_command("NO-SUCH-COMMAND"),
            lambda: c.execute_command("CLIENT SETNAME", "course"),  # two-word command name
            lambda: c.client_getname(),
            lambda: c.eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "n", 5),
            lambda: c.hset("h", mapping={"a": 1, "b": "two"}),
            lambda: sorted(c.hgetall("h").items()),
            lambda: c.blpop(["empty"], timeout=0.01),
        ]
        results = [_outcome(step) for step in steps]
        pipe = c.pipeline()
        pipe.set("p", "x").incr("n").publish("nobody", "hi").get("p")
        results.append(_outcome(pipe.execute))
        pipe = c.pipeline()
        pipe.incr("n").lpush("p", 1).get("n")
        results.append(_outcome(pipe.execute))  # a command in MULTI fails: EXEC says which
        return results

    direct, resp = clients
    assert script(direct) == script(resp)


def test_pubsub_message_from_another_thread_wakes_the_reader() -> None:
    listener = server.client(9).pubsub(ignore_subscribe_messages=True)
    listener.subscribe("course-test-channel")
    publisher = server.client(9)
    timer = threading.Timer(0.05, publisher.publish, ("course-test-channel", "late"))
    timer.start()
    try:
        message = listener.get_message(timeout=10)
        while message is None:  # get_message may return early on the subscribe reply
            message = listener.get_message(timeout=10)
        assert message["data"] == b"late"
    finally:
        timer.join()
        listener.close()


def test_replies_queue_times_out_and_hands_over_in_order() -> None:
    replies = server._Replies()
    with pytest.raises(server.queue.Empty):
        replies.get_nowait()
    with pytest.raises(server.queue.Empty):
        replies.get(timeout=0.01)
    replies.put(1)
    replies.put(2)
    assert replies.qsize() == 2
    assert [replies.get(), replies.get_nowait()] == [1, 2]
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.append(replies.get(timeout=10)))
    reader.start()
    replies.put(3)
    reader.join(10)
    assert got == [3]
