"""The course's Celery app: created here, imported everywhere else.

``celery -A course_tasks worker`` finds it as ``course_tasks.app``; the settings come from
:mod:`course_tasks.celeryconfig`, which reads the mode switch ``COURSE_BROKER``.
"""

from __future__ import annotations

from celery import Celery

#: The task modules, one per domain of the guides' examples (guide 000 §4 ``include=``).
TASK_MODULES = [
    "course_tasks.tasks.basics",
    "course_tasks.tasks.email",
    "course_tasks.tasks.maintenance",
    "course_tasks.tasks.users",
    "course_tasks.tasks.reports",
    "course_tasks.tasks.demo",
    "course_tasks.tasks.ai",
    "course_tasks.tasks.crawler",
    "course_tasks.tasks.factcheck",
    "course_tasks.tasks.hooks",
    "course_tasks.tasks.troubles",
    "course_tasks.tasks.periodic",
    "course_tasks.tasks.workload",
    "course_tasks.tasks.signup",
    "course_tasks.tasks.events",
    "course_tasks.tasks.media",
    "course_tasks.tasks.payments",
    "course_tasks.tasks.practices",
]

app = Celery("course_tasks", include=TASK_MODULES)
app.config_from_object("course_tasks.celeryconfig")
