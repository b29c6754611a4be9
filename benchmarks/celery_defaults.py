"""The course's app with Celery's default settings, for ``roundtrip.py``'s comparison.

``course_tasks.celeryconfig`` sets what the guides recommend (``task_track_started``,
``result_extended``, timeouts, a retry policy, ...). This module imports the course's app and
puts back Celery's own default for every setting the course changes, except those that say
where the broker and the results are. The redis-mode benchmark runs its worker with it
(``celery -A benchmarks.celery_defaults worker``) and its producer imports it first, so both
sides of the measurement use the same settings.
"""

from __future__ import annotations

from typing import Any

from celery.app.defaults import DEFAULTS

from course_tasks import celeryconfig
from course_tasks.app import app

#: Where things are, not how they behave: kept as the course sets them.
LOCATION = frozenset(
    {"broker_url", "result_backend", "broker_transport", "override_backends", "beat_schedule"}
)


def differences() -> dict[str, tuple[Any, Any]]:
    """``{setting: (course value, Celery's default)}`` for what this module resets."""
    changed = {}
    for name, value in vars(celeryconfig).items():
        if name.startswith("_") or not name.islower() or name in LOCATION:
            continue
        if name in DEFAULTS and DEFAULTS[name] != value:
            changed[name] = (value, DEFAULTS[name])
    return changed


RESET = differences()
app.conf.update({name: default for name, (_, default) in RESET.items()})
