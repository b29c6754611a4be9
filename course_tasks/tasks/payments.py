"""Card payments for an online shop: the tasks chapter 09 (monitoring) watches.

``charge_card`` simulates a payment provider: it records each charge in the app-data store
(no network) and logs with :func:`celery.utils.log.get_task_logger`, so that its lines land
in the worker's log with the task's name and id. A non-positive amount is declined with
:class:`PaymentDeclined`, which gives the chapter a FAILURE to see in events, in Flower and
in the metrics.
"""

from __future__ import annotations

import time

from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store

logger = get_task_logger(__name__)

#: The app-data list of charges made (``order_id:amount``), oldest first.
CHARGES_KEY = "payments:charges"


class PaymentDeclined(Exception):
    """The (simulated) provider refused the charge."""


@app.task(bind=True)
def charge_card(self, order_id: int, amount: float, seconds: float = 0.0) -> dict:
    """Charge ``amount`` for ``order_id`` after ``seconds`` of provider latency."""
    logger.info("charging order %s: %.2f", order_id, amount)
    time.sleep(seconds)
    if amount <= 0:
        logger.warning("order %s declined: amount %.2f", order_id, amount)
        raise PaymentDeclined(f"order {order_id}: amount must be positive, got {amount}")
    store().rpush(CHARGES_KEY, f"{order_id}:{amount}")
    return {"order_id": order_id, "charged": amount}


def charges() -> list[str]:
    """Every charge made so far, oldest first."""
    return list(store().lrange(CHARGES_KEY, 0, -1))


def clear_charges() -> None:
    store().delete(CHARGES_KEY)
