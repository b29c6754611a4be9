"""course_tasks: the Celery app, tasks and runtime of the Celery + Redis course.

``from course_tasks import app`` gives the Celery app; the tasks live in
``course_tasks.tasks.<domain>``; ``course_tasks.runtime`` starts and stops workers.
"""

from course_tasks.app import app

__all__ = ["app"]
