"""The shop app's tasks (guide 001 §9): ``@shared_task``, as a reusable Django app writes them.

``shared_task`` names no app: the task is created in every Celery app of the process, and
a call goes to the *current* app's copy.
"""

from celery import shared_task
from django.conf import settings


@shared_task
def send_order_confirmation(order_id: int, email: str) -> dict:
    """Pretend to mail an order confirmation; the sender comes from Django's settings."""
    return {"order": order_id, "to": email, "from": settings.MAIL_SENDER}
