"""The smallest real projects that show how Celery fits into a web framework (chapter 12).

* :mod:`course_tasks.examples.djangoproj`: a Django project with one app, ``shop``, wired as
  guide 001 §9 and Celery's "First steps with Django" do
  (``config_from_object("django.conf:settings", namespace="CELERY")``, ``autodiscover_tasks``);
* :mod:`course_tasks.examples.flaskapp`: a Flask app whose tasks run inside the Flask app
  context, as Flask's "Background Tasks with Celery" pattern does.

Each has its own Celery app object (never the course's) on the in-process ``memory://``
broker, so importing them changes nothing in the course's app.
"""
