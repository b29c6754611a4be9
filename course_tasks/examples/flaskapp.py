"""A Flask app with Celery tasks that run inside the Flask app context (guide 001 §9).

``celery_init_app`` is the pattern of Flask's own "Background Tasks with Celery" page, the
modern form of the guide's ``make_celery``: a Task class whose ``__call__`` enters
``app.app_context()``, so a task can use ``current_app`` (config, extensions, the database
session) exactly like a view. The Celery settings come from one ``CELERY`` dict in the
Flask config. The broker is the in-process ``memory://`` transport: no Redis needed.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask, current_app


def celery_init_app(app: Flask) -> Celery:
    """A Celery app for ``app`` whose tasks run in its app context (Flask's pattern)."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask, set_as_current=False)
    celery_app.config_from_object(app.config["CELERY"])
    app.extensions["celery"] = celery_app
    return celery_app


def create_app() -> Flask:
    """The Flask app factory: config, the Celery app, one task and one view."""
    app = Flask("flaskapp")
    app.config.from_mapping(
        MAIL_SENDER="news@example.com",
        CELERY={
            "broker_url": "memory://localhost/",
            "result_backend": "cache+memory://",
            "task_serializer": "json",
            "accept_content": ["json"],
            # its own queue: the course's worker, in this process too, reads "celery"
            "task_default_queue": "flaskapp",
        },
    )
    celery_app = celery_init_app(app)

    @celery_app.task(name="flaskapp.send_newsletter")
    def send_newsletter(email: str) -> dict[str, str]:
        # current_app works here because FlaskTask entered the app context.
        return {"to": email, "from": current_app.config["MAIL_SENDER"]}

    @app.post("/newsletter/<email>")
    def subscribe(email: str) -> tuple[dict[str, str], int]:
        task = send_newsletter.delay(email)
        return {"task_id": task.id}, 202

    return app
