"""AI fact-checking made asynchronous (guide 002 §3, phase 1), with the AI simulated.

Chapters: 03_defining_tasks (``bind=True``, ``max_retries=3``, ``self.retry(countdown=...)``,
what happens when the retries run out).

The guide's task calls ``openai_client.fact_check(text)``, saves the verdict and queues a
notification. Here :func:`ai_fact_check` plays the AI service: it answers from a tiny list
of known claims, counts its calls, and fails with :class:`AIServiceUnavailable` while an
outage set with :func:`fail_next` lasts. Results and notifications go to the app-data store.
"""

from __future__ import annotations

import json
from typing import Any

from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store

logger = get_task_logger(__name__)

#: The guide retries after ``countdown=60``; the course waits 1 s so that cells stay short. Not
#: less: on a prefork worker the retry can run in another pool process, and a shorter wait let
#: it start before this attempt's RETRY state was stored on a loaded machine (ten learners on
#: two cores, benchmarks/classroom.py), so chapter 03 showed STARTED, STARTED, RETRY.
RETRY_COUNTDOWN = 1.0

CALLS_KEY = "factcheck:ai-calls"
OUTAGE_KEY = "factcheck:ai-failures-left"
RESULTS_KEY = "factcheck:results"
NOTIFICATIONS_KEY = "factcheck:notifications"

#: What the simulated AI "knows": a claim (lower case) and its verdict.
KNOWN_CLAIMS = {
    "the earth is flat": "false",
    "water boils at 100 degrees celsius at sea level": "true",
    "the great wall of china is visible from the moon": "false",
}


class AIServiceUnavailable(ConnectionError):
    """The simulated AI service timed out: a temporary error, worth retrying."""


def fail_next(calls: int) -> None:
    """Make the simulated AI service fail its next ``calls`` calls."""
    store().set(OUTAGE_KEY, calls)


def calls() -> int:
    """How many times the AI service was called since :func:`reset`."""
    return int(store().get(CALLS_KEY) or 0)


def reset() -> None:
    """Forget calls, outages, saved results and notifications."""
    store().delete(CALLS_KEY, OUTAGE_KEY, RESULTS_KEY, NOTIFICATIONS_KEY)


def ai_fact_check(text: str) -> dict[str, str]:
    """The guide's ``openai_client.fact_check(text)``: a verdict for a claim.

    ``{"verdict": "true" | "false" | "unverified"}``; raises :class:`AIServiceUnavailable`
    while an outage lasts.
    """
    db = store()
    db.incr(CALLS_KEY)
    if int(db.get(OUTAGE_KEY) or 0) > 0 and db.decr(OUTAGE_KEY) >= 0:
        raise AIServiceUnavailable("AI service timed out")
    claim = text.strip().rstrip(".!").lower()
    return {"verdict": KNOWN_CLAIMS.get(claim, "unverified")}


def update_fact_check_result(content_id: int, result: dict[str, Any]) -> None:
    """Save the verdict for a post (the guide's database update)."""
    store().hset(RESULTS_KEY, str(content_id), json.dumps(result))


def saved_result(content_id: int) -> dict[str, Any] | None:
    """The verdict saved for ``content_id``, or ``None``."""
    raw = store().hget(RESULTS_KEY, str(content_id))
    return None if raw is None else json.loads(raw)


def notifications() -> list[dict[str, Any]]:
    """Every notification sent by :func:`notify_fact_check_complete`, oldest first."""
    return [json.loads(raw) for raw in store().lrange(NOTIFICATIONS_KEY, 0, -1)]


@app.task(bind=True, max_retries=3)
def fact_check_content(
    self: Any, content_id: int, content_type: str, content_text: str
) -> dict[str, Any]:
    """Fact-check a post without making the user wait (guide 002 §3, phase 1).

    As in the guide: ``bind=True, max_retries=3`` and ``raise self.retry(exc=exc,
    countdown=...)``, here with ``RETRY_COUNTDOWN`` instead of 60 s. Only the AI call is
    retried, and only on its temporary error; the guide's ``except Exception`` would also
    retry a bug. Returns the verdict with the number of attempts it took.
    """
    try:
        result = ai_fact_check(content_text)
    except AIServiceUnavailable as exc:
        raise self.retry(exc=exc, countdown=RETRY_COUNTDOWN) from exc
    result = {**result, "content_id": content_id, "attempts": self.request.retries + 1}
    update_fact_check_result(content_id, result)
    notify_fact_check_complete.delay(content_id, result)
    logger.info("%s %s checked: %s", content_type, content_id, result["verdict"])
    return result


@app.task
def notify_fact_check_complete(content_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Tell the author the fact-check is done (the guide's follow-up task)."""
    message = {"content_id": content_id, "text": f"fact-check done: {result['verdict']}"}
    store().rpush(NOTIFICATIONS_KEY, json.dumps(message))
    return message
