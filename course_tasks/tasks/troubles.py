"""Tasks that get into the trouble chapter 13 diagnoses: a shop's reports, refunds, charges.

Chapter 13 (troubleshooting) uses them on the course's own worker:

* ``build_report`` is sent by the shop to the queue ``monthly-reports`` (:func:`send_report`),
  which the course's worker does not read: it stays PENDING (section 1, exercise 13.1);
* ``refund`` has the explicit name ``billing.refund`` (as guide 004 §7 advises), so a caller
  that sends its module path gets ``NotRegistered`` (exercise 13.4);
* ``charge_order`` charges a card, then mails a receipt that can fail and is retried: the
  retry charges again (section 5); ``charge_order_once`` is the idempotent version.

Side effects (reports built, refunds, charges, receipts) are simulated in the app-data
store, so the notebook and every worker see them.
"""

from __future__ import annotations

from typing import Any

from course_tasks.app import app
from course_tasks.store import store

REPORTS_QUEUE = "monthly-reports"
REPORTS_KEY = "troubles:reports"
REFUNDS_KEY = "troubles:refunds"
CHARGES_KEY = "troubles:charges"
RECEIPT_FAILURES_KEY = "troubles:receipt-failures"
CHARGED_PREFIX = "troubles:charged:"


class ReceiptUnavailable(Exception):
    """The simulated mail server refused the receipt (a temporary error)."""


def reset() -> None:
    """Forget every report, refund, charge and planned failure."""
    db = store()
    db.delete(REPORTS_KEY, REFUNDS_KEY, CHARGES_KEY, RECEIPT_FAILURES_KEY)
    keys = list(db.scan_iter(f"{CHARGED_PREFIX}*"))
    if keys:
        db.delete(*keys)


@app.task
def build_report(month: str) -> str:
    """Build the report of ``month`` (simulated: recorded in the store)."""
    store().rpush(REPORTS_KEY, month)
    return f"report {month} built"


def send_report(month: str) -> Any:
    """What the shop does: queue the report on ``monthly-reports``, its queue for slow work."""
    return build_report.apply_async((month,), queue=REPORTS_QUEUE)


def reports_built() -> list[str]:
    """The months whose report was built, in order (one entry per run)."""
    return list(store().lrange(REPORTS_KEY, 0, -1))


@app.task(bind=True, name="billing.refund")
def refund(self: Any, order_id: int) -> dict[str, Any]:
    """Refund ``order_id`` (simulated); registered as ``billing.refund``, not its module path.

    Returns where it ran, so that a caller can tell a worker from a direct call.
    """
    store().hincrby(REFUNDS_KEY, str(order_id), 1)
    return {"order": order_id, "refunded": True, "on_worker": not self.request.called_directly}


def refunds() -> dict[int, int]:
    """How many times each order was refunded."""
    return {int(k): int(v) for k, v in store().hgetall(REFUNDS_KEY).items()}


def fail_next_receipts(n: int) -> None:
    """Make the simulated mail server refuse the next ``n`` receipts."""
    store().set(RECEIPT_FAILURES_KEY, n)


def _send_receipt(order_id: int) -> None:
    db = store()
    if int(db.get(RECEIPT_FAILURES_KEY) or 0) > 0:
        db.decr(RECEIPT_FAILURES_KEY)
        raise ReceiptUnavailable(f"mail server busy (order {order_id})")


def charges() -> dict[int, int]:
    """How many times each order's card was charged."""
    return {int(k): int(v) for k, v in store().hgetall(CHARGES_KEY).items()}


def _receipt_or_retry(task: Any, order_id: int) -> str:
    try:
        _send_receipt(order_id)
    except ReceiptUnavailable as exc:
        raise task.retry(exc=exc) from exc
    return f"order {order_id} charged"


@app.task(bind=True, max_retries=3, default_retry_delay=0.05)
def charge_order(self: Any, order_id: int) -> str:
    """Charge the card, then mail the receipt; retry when the mail fails. Not idempotent:
    every attempt charges again."""
    store().hincrby(CHARGES_KEY, str(order_id), 1)
    return _receipt_or_retry(self, order_id)


@app.task(bind=True, max_retries=3, default_retry_delay=0.05)
def charge_order_once(self: Any, order_id: int) -> str:
    """The idempotent version: the charge is recorded under a key set only once
    (``SET NX``), so a retry skips it and only mails the receipt again."""
    if store().set(f"{CHARGED_PREFIX}{order_id}", self.request.id, nx=True):
        store().hincrby(CHARGES_KEY, str(order_id), 1)
    return _receipt_or_retry(self, order_id)
