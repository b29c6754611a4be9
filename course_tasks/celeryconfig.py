"""The course app's Celery configuration, loaded with ``app.config_from_object``.

Every name in lower case is a Celery setting. The values that depend on the mode
(``COURSE_BROKER``, see :mod:`course_tasks.settings`) are computed once at import.
"""

from __future__ import annotations

from celery.schedules import crontab as _crontab

from course_tasks import settings as _settings

_course = _settings.from_env()

# Where messages and results go.
broker_url = _course.broker_url
result_backend = _course.backend_url
if _course.mode in (_settings.EMBEDDED, _settings.EAGER):
    # memory:// with consumers that are woken instead of polling, and Celery's Redis
    # result backend on an in-process fakeredis server (see course_tasks.embedded).
    broker_transport = "course_tasks.embedded.transport:Transport"
    override_backends = {"fakeredis": "course_tasks.embedded.backend:FakeRedisBackend"}

# json only: a worker never unpickles what a producer sent (guide 001 §12).
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]

timezone = "UTC"
enable_utc = True

# Report STARTED when a worker begins a task, so every state in guide 000 §7 can be seen.
task_track_started = True
result_extended = True
result_expires = 24 * 3600

# An unreachable Redis fails within seconds instead of retrying for minutes.
broker_connection_retry_on_startup = True
broker_connection_timeout = 2.0
broker_transport_options = {"socket_connect_timeout": 2, "socket_timeout": 5}
if _course.key_prefix:
    # COURSE_LEARNER: this learner's namespace on a shared Redis (docs/classroom.md). kombu
    # prefixes queues, bindings and the broadcast/event channels; the transport adds the
    # commands kombu leaves unprefixed (KEYS, EXISTS); Celery prefixes the result keys.
    broker_transport = "course_tasks.namespace:Transport"
    broker_transport_options["global_keyprefix"] = _course.key_prefix
    result_backend_transport_options = {"global_keyprefix": _course.key_prefix}
task_publish_retry_policy = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.25,
    "interval_max": 0.5,
}
redis_socket_connect_timeout = 2
redis_backend_health_check_interval = 10

# What `celery -A course_tasks beat` sends (guide 000 §8). Chapter 06 builds its own.
beat_schedule = {
    "cleanup-daily": {
        "task": "course_tasks.tasks.maintenance.cleanup_expired_data",
        "schedule": _crontab(hour=2, minute=0),
    },
    "heartbeat-every-30s": {
        "task": "course_tasks.tasks.maintenance.heartbeat",
        "schedule": 30.0,
    },
}

# eager mode is a lesson of its own (chapter 11): tasks run inline when called.
task_always_eager = _course.mode == _settings.EAGER
