"""The app-data store is one Redis shared by the notebook and the worker."""

from __future__ import annotations

import pytest

from course_tasks.store import store
from course_tasks.tasks import email, maintenance

pytestmark = pytest.mark.usefixtures("worker")


def test_worker_writes_what_the_notebook_reads(fast_smtp: None) -> None:
    result = email.send_welcome_email.delay("ada@example.com", "Ada")
    assert result.get(timeout=5)["subject"] == "Welcome!"
    assert email.outbox() == [
        {
            "to": "ada@example.com",
            "subject": "Welcome!",
            "body": "Hello Ada, thanks for signing up.",
        }
    ]


def test_notebook_writes_what_the_worker_reads() -> None:
    store().delete("tmp-files")
    store().zadd("tmp-files", {"old.csv": 0, "new.csv": 9e12})
    assert maintenance.cleanup_expired_data.delay().get(timeout=5) == 1
    assert store().zrange("tmp-files", 0, -1) == ["new.csv"]


def test_store_is_not_the_result_database() -> None:
    from course_tasks.tasks.basics import add

    result = add.delay(1, 1)
    result.get(timeout=5)
    assert store().get(f"celery-task-meta-{result.id}") is None


def test_outage_lasts_exactly_the_given_attempts(fast_smtp: None) -> None:
    email.fail_next(2)
    for _ in range(2):
        with pytest.raises(email.SMTPUnavailable):
            email.deliver("x@example.com", "s", "b")
    assert email.deliver("x@example.com", "s", "b")["to"] == "x@example.com"
    assert len(email.outbox()) == 1
