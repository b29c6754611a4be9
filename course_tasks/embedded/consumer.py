"""The embedded worker's consumer: it also runs tasks defined after the worker started.

A Celery worker builds an execution strategy for every registered task when its consumer
starts, and rejects messages for any other task name ("Received unregistered task").
In a separate worker process that is right: the process only knows the modules it
imported. In embedded mode, though, the worker shares the notebook's app, so a task a
learner defines in a cell *is* registered, just later. This consumer builds the strategy
for such a task the first time a message for it arrives, exactly as
``Consumer.update_strategies`` does at start-up; unknown names are still rejected.

It also creates the worker thread's result backend (Celery's ``app.backend`` is one per
thread) and its connection when it is ready, before it takes its first message, instead of
while the first task waits to be marked STARTED.
"""

from __future__ import annotations

from typing import Any

from celery.app.trace import build_tracer
from celery.worker.consumer import Consumer


class _LateStrategies(dict):  # type: ignore[type-arg]
    def __init__(self, consumer: Consumer) -> None:
        super().__init__()
        self._consumer = consumer

    def __missing__(self, name: str) -> Any:
        consumer = self._consumer
        app = consumer.app
        task = app.tasks[name]  # NotRegistered (a KeyError) for a truly unknown name
        strategy = self[name] = task.start_strategy(app, consumer)
        task.__trace__ = build_tracer(name, task, app.loader, consumer.hostname, app=app)
        return strategy


class EmbeddedConsumer(Consumer):
    """A consumer whose task strategies include tasks registered after start-up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.strategies = _LateStrategies(self)

    def on_ready(self) -> None:
        self.app.backend.client.ping()  # in the worker thread, before the first message
        super().on_ready()
