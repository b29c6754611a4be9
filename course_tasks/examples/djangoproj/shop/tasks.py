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


@shared_task
def ship_order(order_id: int) -> str:
    """Mark an order as shipped, as a worker does after the web request saved it.

    Reads the row through the worker's own database connection: a row that the request has
    not committed yet does not exist there, and ``Order.DoesNotExist`` is raised (chapter 12,
    ``delay_on_commit``).
    """
    from .models import Order

    order = Order.objects.get(pk=order_id)
    order.status = "shipped"
    order.save(update_fields=["status"])
    return f"order {order_id} shipped to {order.email}"
