"""A small sign-up service and its tasks: the code that chapter 11 (testing) tests.

The tasks are ``@shared_task`` (guide 000 §5 and guide 002 write theirs that way): they
belong to whichever app is current, the course app in the chapters, the test app that
``celery.contrib.pytest``'s fixtures make during a test session. Side effects are simulated
in the app-data store:

* :func:`signup` is a web handler (a POST /signup view): it creates a user
  (:mod:`course_tasks.tasks.users`), queues :func:`welcome` with the user's id and answers
  with the task id at once;
* :func:`tag_post` queues :func:`index_tags` with a post's tags, as a json list;
  :func:`merge_tags` merges several posts' tags (a chord callback);
* :func:`charge` charges an order through a simulated payment gateway
  (:func:`gateway_charge`) that can be down (retried) or decline the card (not retried);
  :func:`charge_with_backoff` does the same with Celery's automatic retries and exponential
  backoff;
* :func:`onboarding` is guide 002's "user registered" event as a chain of three
  independent steps (``.si``): :func:`create_profile`, :func:`welcome`,
  :func:`suggest_follows`.
"""

from __future__ import annotations

import json
from typing import Any

from celery import chain, shared_task
from celery.canvas import Signature
from celery.result import AsyncResult

from course_tasks.store import store
from course_tasks.tasks.email import OUTBOX_KEY
from course_tasks.tasks.users import create_user, get_user

GATEWAY_DOWN_KEY = "gateway:failures-left"
PROFILES_KEY = "profiles"


class GatewayDown(ConnectionError):
    """The simulated payment gateway did not answer: worth retrying."""


class CardDeclined(ValueError):
    """The simulated payment gateway declined the card: retrying will not help."""


def gateway_down(attempts: int) -> None:
    """Make the simulated gateway fail the next ``attempts`` charges with GatewayDown."""
    store().set(GATEWAY_DOWN_KEY, attempts)


def gateway_charge(order_id: int, cents: int) -> str:
    """Charge ``cents`` for an order (simulated, instant); return the receipt id.

    Raises :class:`GatewayDown` while an outage set with :func:`gateway_down` lasts, and
    :class:`CardDeclined` for a negative amount.
    """
    if int(store().get(GATEWAY_DOWN_KEY) or 0) > 0 and store().decr(GATEWAY_DOWN_KEY) >= 0:
        raise GatewayDown(f"payment gateway unavailable, order {order_id} not charged")
    if cents < 0:
        raise CardDeclined(f"card declined for order {order_id}")
    return f"rcpt-{order_id}-{cents}"


@shared_task
def welcome(user_id: int) -> dict[str, Any]:
    """Put the welcome mail for user ``user_id`` in the outbox (instant, no SMTP delay)."""
    user = get_user(user_id)
    message = {"to": user.email, "subject": "Welcome!", "body": f"Hello {user.name}!"}
    store().rpush(OUTBOX_KEY, json.dumps(message))
    return message


def signup(name: str, email: str) -> dict[str, Any]:
    """The POST /signup handler: create the user, queue the welcome mail, answer at once."""
    user = create_user(name, email)
    result = welcome.delay(user.id)
    return {"user_id": user.id, "task_id": result.id}


@shared_task
def index_tags(post_id: int, tags: list[str]) -> list[str]:
    """Store a post's tags in lower case, without duplicates, sorted; return them."""
    clean = sorted({tag.lower() for tag in tags})
    store().hset("post-tags", str(post_id), json.dumps(clean))
    return clean


@shared_task
def merge_tags(tag_lists: list[list[str]]) -> list[str]:
    """Merge the tag lists of several posts (a chord's callback): sorted, no duplicates."""
    return sorted({tag for tags in tag_lists for tag in tags})


def tag_post(post_id: int, tags: list[str]) -> AsyncResult:
    """The handler that tags a post: queue :func:`index_tags` with the tags as a json list."""
    return index_tags.delay(post_id, list(tags))


@shared_task(bind=True, max_retries=3, default_retry_delay=0.2)
def charge(self: Any, order_id: int, cents: int) -> str:
    """Charge an order; retry (up to 3 times) while the gateway is down, never a declined card."""
    try:
        return gateway_charge(order_id, cents)
    except GatewayDown as exc:
        raise self.retry(exc=exc) from exc


@shared_task(autoretry_for=(GatewayDown,), max_retries=3, retry_backoff=30, retry_jitter=False)
def charge_with_backoff(order_id: int, cents: int) -> str:
    """Charge an order like :func:`charge`, retried by Celery's ``autoretry_for`` with
    exponential backoff: 30 s, 60 s, then 120 s (``retry_backoff=30``, no jitter).

    Chapter 11 asserts those countdowns in a test without waiting for them.
    """
    return gateway_charge(order_id, cents)


@shared_task
def create_profile(user_id: int) -> dict[str, Any]:
    """First onboarding step: an empty profile for the user."""
    store().hset(PROFILES_KEY, str(user_id), json.dumps({"bio": ""}))
    return {"user_id": user_id, "step": "profile"}


@shared_task
def suggest_follows(user_id: int) -> dict[str, Any]:
    """Last onboarding step: suggest accounts to follow (simulated)."""
    return {"user_id": user_id, "step": "suggestions"}


def onboarding(user_id: int) -> Signature:
    """Guide 002's "user registered" event: three independent steps, in order (``.si``)."""
    return chain(create_profile.si(user_id), welcome.si(user_id), suggest_follows.si(user_id))
