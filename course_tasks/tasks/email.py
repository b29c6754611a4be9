"""Mail tasks, with SMTP simulated by a delay and an outbox in the app-data store.

Guide 000 §2 scenario 1 (an API that blocks on sending mail) and §11 (welcome mail on
registration); guide 001 §6 (SMTP with retry). Chapters: 01_concepts, 03_defining_tasks.

Nothing here sends real mail: :func:`deliver` waits ``SMTP_SECONDS`` like a slow mail
server, then appends the message to the Redis list ``outbox`` in the app-data store, where
:func:`outbox` reads it back.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store

logger = get_task_logger(__name__)

#: How long the simulated mail server takes to accept a message (guide 000: "2-3 s").
SMTP_SECONDS = float(os.environ.get("COURSE_SMTP_SECONDS", "2.0"))
OUTBOX_KEY = "outbox"
OUTAGE_KEY = "smtp:failures-left"


class SMTPUnavailable(ConnectionError):
    """The simulated mail server refused the connection (see :func:`fail_next`)."""


def fail_next(attempts: int) -> None:
    """Make the simulated mail server refuse the next ``attempts`` deliveries."""
    store().set(OUTAGE_KEY, attempts)


def deliver(to: str, subject: str, body: str) -> dict[str, str]:
    """Hand a message to the (simulated) mail server: slow, like the real thing.

    Raises :class:`SMTPUnavailable` while an outage set with :func:`fail_next` lasts.
    """
    time.sleep(SMTP_SECONDS)
    if int(store().get(OUTAGE_KEY) or 0) > 0 and store().decr(OUTAGE_KEY) >= 0:
        raise SMTPUnavailable(f"mail server unavailable, {to} not sent")
    message = {"to": to, "subject": subject, "body": body}
    store().rpush(OUTBOX_KEY, json.dumps(message))
    return message


def outbox() -> list[dict[str, str]]:
    """Every message delivered so far, oldest first."""
    return [json.loads(raw) for raw in store().lrange(OUTBOX_KEY, 0, -1)]


def clear_outbox() -> int:
    """Empty the outbox and end any outage; return how many messages the outbox held."""
    n = store().llen(OUTBOX_KEY)
    store().delete(OUTBOX_KEY, OUTAGE_KEY)
    return int(n)


@app.task(bind=True, max_retries=3, default_retry_delay=1)
def send_email(self: Any, to: str, subject: str, body: str) -> dict[str, str]:
    """Send one mail, retrying if the mail server fails (guide 000 §5, guide 001 §6)."""
    try:
        message = deliver(to, subject, body)
    except ConnectionError as exc:
        raise self.retry(exc=exc) from exc
    logger.info("mail to %s sent", to)
    return message


@app.task
def send_welcome_email(to: str, name: str) -> dict[str, str]:
    """The welcome mail a new user gets on registration (guide 000 §11)."""
    return deliver(to, "Welcome!", f"Hello {name}, thanks for signing up.")
