"""Report tasks: a CSV export that mails a download link, and a report that can fail.

Guide 000 §11 (example 2, ``export_users_csv``: query, build the CSV, upload it, mail the
link) and guide 001 §6 (a sales report). Chapters: 05_states_and_results (PROGRESS,
RETRY, FAILURE and its traceback, ``ignore_result``).

Side effects are simulated in the app-data store: the "file storage" is the hash
``files`` (path -> CSV text), which can be made to refuse uploads with
:func:`fail_next_uploads`; the link is mailed with :func:`course_tasks.tasks.email.deliver`
(the simulated, slow mail server); downloads are recorded in the list ``downloads``.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store
from course_tasks.tasks import email

logger = get_task_logger(__name__)

FILES_KEY = "files"
UPLOAD_OUTAGE_KEY = "files:failures-left"
DOWNLOADS_KEY = "downloads"
#: Where the simulated file storage serves its files from.
FILES_URL = "https://files.example.com/"
#: How long an export waits before trying an upload again (tiny, so a retry is seen live).
UPLOAD_RETRY_SECONDS = 0.2
#: Months the simulated sales database has data for.
SALES_MONTHS = tuple(f"2024-{m:02d}" for m in range(1, 13))


class UploadUnavailable(ConnectionError):
    """The simulated file storage refused an upload (see :func:`fail_next_uploads`)."""


class ReportError(ValueError):
    """A report cannot be built from the data asked for (a permanent error: no retry)."""


def fail_next_uploads(attempts: int) -> None:
    """Make the simulated file storage refuse the next ``attempts`` uploads."""
    store().set(UPLOAD_OUTAGE_KEY, attempts)


def clear_files() -> int:
    """Delete every stored file and download record, end any outage; return the file count."""
    n = store().hlen(FILES_KEY)
    store().delete(FILES_KEY, UPLOAD_OUTAGE_KEY, DOWNLOADS_KEY)
    return int(n)


def upload(path: str, text: str) -> str:
    """Store ``text`` under ``path`` in the simulated file storage and return its URL."""
    if int(store().get(UPLOAD_OUTAGE_KEY) or 0) > 0 and store().decr(UPLOAD_OUTAGE_KEY) >= 0:
        raise UploadUnavailable(f"file storage unavailable, {path} not uploaded")
    store().hset(FILES_KEY, path, text)
    return FILES_URL + path


def read_file(url: str) -> str | None:
    """The text of the file at ``url`` in the simulated storage (``None`` if there is none)."""
    return store().hget(FILES_KEY, url.removeprefix(FILES_URL))


def downloads() -> list[str]:
    """The URLs :func:`record_download` recorded, oldest first."""
    return list(store().lrange(DOWNLOADS_KEY, 0, -1))


def user_rows(count: int) -> list[tuple[int, str]]:
    """The simulated users table: ``count`` rows of ``(id, email)``."""
    return [(i, f"user{i}@example.com") for i in range(1, count + 1)]


@app.task(bind=True, max_retries=3, default_retry_delay=UPLOAD_RETRY_SECONDS)
def export_users_csv(
    self: Any,
    user_id: int,
    rows: int = 5,
    seconds_per_row: float = 0.1,
    email_to: str | None = None,
) -> dict[str, Any]:
    """Export the users table as CSV, upload it and mail the link (guide 000 §11).

    Reports ``PROGRESS`` with ``{"current": i, "total": rows}`` after each row, retries
    (after ``UPLOAD_RETRY_SECONDS``) when the file storage refuses the upload, and mails
    the link to ``email_to`` if given (through the simulated mail server: +2 s). Returns
    ``{"url": ..., "rows": rows}``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "email"])
    for i, row in enumerate(user_rows(rows), start=1):
        time.sleep(seconds_per_row)  # one slow database read per row
        writer.writerow(row)
        self.update_state(state="PROGRESS", meta={"current": i, "total": rows})
    try:
        url = upload(f"exports/users-{user_id}.csv", buffer.getvalue())
    except UploadUnavailable as exc:
        raise self.retry(exc=exc) from exc
    if email_to:
        email.deliver(email_to, "Your export is ready", f"Download link: {url}")
    logger.info("export for user %s uploaded to %s", user_id, url)
    return {"url": url, "rows": rows}


@app.task
def monthly_sales_report(month: str) -> dict[str, Any]:
    """Sum a month of (simulated) sales (guide 001 §6); fails clearly for an unknown month.

    ``"2024-01"`` ... ``"2024-12"`` have data; any other month raises :class:`ReportError`
    after a short read, so the task is seen STARTED before it turns FAILURE.
    """
    time.sleep(0.1)  # the query
    if month not in SALES_MONTHS:
        raise ReportError(f"no sales data for month {month!r}")
    number = SALES_MONTHS.index(month) + 1
    orders = 100 + 7 * number
    return {"month": month, "orders": orders, "revenue": orders * 25}


@app.task(ignore_result=True)
def record_download(url: str) -> None:
    """Record that ``url`` was downloaded; ``ignore_result=True``: no state is ever stored."""
    store().rpush(DOWNLOADS_KEY, url)
