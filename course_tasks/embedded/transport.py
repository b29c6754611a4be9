"""kombu's in-memory transport, with consumers that wait instead of poll.

kombu's ``memory://`` transport checks its queues every ``polling_interval`` (1 s by
default), so a task waits up to a second before the worker sees it. This subclass keeps
everything else about ``memory://`` and adds one thing: a put wakes every waiting
consumer at once, through a condition variable. :func:`set_stopping` also wakes them and
makes them return straight away, so that an embedded worker shuts down in milliseconds
instead of finishing its 2-second ``drain_events`` wait.

An ack (or reject) wakes them too, on a channel with a prefetch limit: a consumer whose
channel already holds ``prefetch_count`` unacknowledged messages takes no more and waits.
With the ``threads`` pool the ack comes from a pool thread, and without the wake-up the
next task would wait out the worker's 2-second ``drain_events`` timeout.

Like ``memory://``, it only carries messages between threads of one process.
"""

from __future__ import annotations

import threading
from typing import Any

from kombu.transport import memory, virtual

_wakeup = threading.Condition()
_generation = 0
_stopping = False


def _notify() -> None:
    global _generation
    with _wakeup:
        _generation += 1
        _wakeup.notify_all()


def set_stopping(flag: bool) -> None:
    """While ``flag`` is true, a consumer waiting for messages returns at once."""
    global _stopping
    with _wakeup:
        _stopping = flag
    _notify()


class Channel(memory.Channel):
    """The memory channel; every put, and an ack that frees prefetch, wakes the consumers."""

    queues: dict[str, Any] = {}

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        super()._put(queue, message, **kwargs)
        _notify()

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        if self.qos.prefetch_count:  # without a limit no consumer waits for an ack
            _notify()

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)
        if self.qos.prefetch_count:
            _notify()

    def _put_fanout(
        self, exchange: str, message: Any, routing_key: str | None = None, **kwargs: Any
    ) -> None:
        super()._put_fanout(exchange, message, routing_key, **kwargs)
        _notify()


class Transport(memory.Transport):
    """In-process transport for the course's embedded mode (``memory://`` that waits)."""

    Channel = Channel
    global_state = virtual.BrokerState()
    driver_type = "memory"
    driver_name = "memory"

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        with _wakeup:
            seen = _generation
        if self._deliver_one(timeout):
            return
        with _wakeup:
            if _generation == seen and not _stopping:
                _wakeup.wait(timeout)
        if not self._deliver_one(timeout):
            raise TimeoutError()  # socket.timeout: what the worker loop expects

    def _deliver_one(self, timeout: float | None) -> bool:
        try:
            self.cycle.get(self._deliver, timeout=timeout)
        except virtual.Empty:
            return False
        return True
