"""The project's Celery app, exactly as guide 001 §9 (and Celery's Django guide) write it."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "course_tasks.examples.djangoproj.settings")

app = Celery("djangoproj", set_as_current=False)
# Every Django setting whose name starts with CELERY_ is a Celery setting, minus the prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
# Look for a tasks.py in every app of INSTALLED_APPS.
app.autodiscover_tasks()
