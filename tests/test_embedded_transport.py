"""The embedded broker: kombu's memory transport whose consumers are woken, never polled."""

from __future__ import annotations

import threading
import uuid

from kombu import Connection, Exchange, Queue

from course_tasks.embedded import transport

JOIN_SECONDS = 10.0


def test_an_ack_from_another_thread_wakes_a_consumer_whose_prefetch_is_full() -> None:
    # A worker with the threads pool acks in a pool thread while its consumer, holding
    # prefetch_count unacknowledged messages, waits for the broker. drain_events(timeout=None)
    # waits until something wakes it: without the wake-up on ack this test never finishes.
    name = f"test-prefetch-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    received: list[object] = []
    first = threading.Event()
    errors: list[BaseException] = []

    with Connection(transport=transport.Transport) as conn:
        with conn.Producer() as producer:
            for body in ("one", "two"):
                producer.publish(body, serializer="json", exchange=queue.exchange,
                                 routing_key=name, declare=[queue])  # fmt: skip

        def on_message(body: object, message: object) -> None:
            received.append(body)
            first.set()

        def consume() -> None:
            try:
                while len(received) < 2:
                    try:
                        conn.drain_events(timeout=None)
                    except TimeoutError:  # woken without a message for this channel
                        continue
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        consumer = conn.Consumer([queue], callbacks=[on_message], accept=["json"])
        consumer.qos(prefetch_count=1)
        with consumer:
            thread = threading.Thread(target=consume, daemon=True)
            thread.start()
            assert first.wait(JOIN_SECONDS), f"the first message was never delivered: {errors}"
            assert received == ["one"], "a second message came past a full prefetch window"
            delivered = list(consumer.channel.qos._delivered.values())
            delivered[0].ack()  # from this thread, as a pool thread would
            thread.join(JOIN_SECONDS)
            stuck = thread.is_alive()
            if stuck:  # release the consumer before failing
                transport.set_stopping(True)
                received.append("released")
                thread.join(JOIN_SECONDS)
                transport.set_stopping(False)
    assert not errors
    assert not stuck, "the ack did not wake the consumer waiting on a full prefetch window"
    assert received == ["one", "two"]
