"""A one-app Django project (guide 001 §9): its Celery app is loaded with the project.

Django's convention: importing the project package imports its Celery app, so that
``@shared_task`` functions bind to it.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
