"""Django settings of the example project: only what Django and Celery need.

The Celery settings are the ones with the ``CELERY_`` prefix (guide 001 §9). The broker is
the in-process ``memory://`` transport, so the example needs no Redis. The database is a real
SQLite file, one per process in the temporary folder (chapter 12's ``delay_on_commit`` cells
create its one table with ``migrate --run-syncdb``); the file is removed when the process
exits.
"""

import atexit
import contextlib
import os
import tempfile

SECRET_KEY = "example-only-not-a-secret"  # a real project reads it from the environment
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["course_tasks.examples.djangoproj.shop"]
_DATABASE = os.path.join(tempfile.gettempdir(), f"course-djangoproj-{os.getpid()}.sqlite3")
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _DATABASE}}


def _remove_database(path: str = _DATABASE) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


atexit.register(_remove_database)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CELERY_BROKER_URL = "memory://localhost/"
CELERY_RESULT_BACKEND = "cache+memory://"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "djangoproj"
CELERY_TASK_ROUTES = {"course_tasks.examples.djangoproj.shop.tasks.*": {"queue": "shop"}}
# Not a Celery setting: no CELERY_ prefix, so config_from_object(namespace=...) skips it.
MAIL_SENDER = "shop@example.com"
