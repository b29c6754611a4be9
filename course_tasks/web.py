"""A web API in front of Celery, as guides 000 (§2, §7) and 004 build it, in FastAPI.

* ``POST /send-email`` queues the welcome mail and answers ``202`` with the task id at once
  (the mail server takes 2 s; the request does not wait for it);
* ``GET /tasks/status/{task_id}`` reads the result backend and answers at once, whatever the
  state (guide 000 §7, with the fallback for the states the guide forgets).

Chapter 12 drives it with FastAPI's own ``TestClient``, which calls the app in-process
(no server, no port) while the worker runs the tasks. Serve it for real with
``uvicorn course_tasks.web:api``.
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from course_tasks.app import app as celery_app
from course_tasks.tasks.email import send_welcome_email

# Starlette 1.x warns, when its TestClient is imported, that it will move from httpx to
# httpx2; the course's TestClient runs on httpx 0.28, which works.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


class SignUp(BaseModel):
    """The json body of ``POST /send-email``."""

    email: str
    name: str


api = FastAPI(title="course API")


@api.post("/send-email", status_code=202)
def send_email_api(signup: SignUp) -> dict[str, str]:
    """Queue the welcome mail; answer with its task id (guide 000 §2, scenario 1)."""
    task = send_welcome_email.delay(signup.email, signup.name)
    return {"task_id": task.id}


@api.get("/tasks/status/{task_id}")
def task_status(task_id: str) -> dict[str, Any]:
    """The task's state as json, read once and never waited for (guide 000 §7).

    One read of the backend gives the state and what goes with it: ``result.state`` then
    ``result.info`` would be two (``AsyncResult`` caches finished tasks only), and a task
    that finished in between would turn a PROGRESS answer into its return value.
    """
    meta = celery_app.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "PENDING":
        return {"status": "pending"}
    if state == "PROGRESS":
        return {"status": "in_progress", "progress": info}
    if state == "SUCCESS":
        return {"status": "success", "result": info}
    if state == "FAILURE":
        return {"status": "failure", "error": str(info)}
    return {"status": state.lower()}  # STARTED, RETRY, REVOKED
