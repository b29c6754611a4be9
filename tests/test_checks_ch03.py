"""The checks of chapter 03: each right answer passes, each known wrong answer gets its hint.

The learner's tasks are defined here, at import, as a learner defines them in a notebook.
Every test runs twice: once on the embedded worker (what the check does in embedded mode)
and once through ``task.apply()`` (what it does in redis mode, where a separate worker
cannot know tasks defined in a notebook). The verdicts must be the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Task, shared_task
from celery.utils import uuid
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks.app import app
from course_tasks.checks import ch03_defining_tasks as ch03
from course_tasks.checks import evaluate
from course_tasks.tasks.crawler import SiteUnavailable, fetch
from course_tasks.tasks.hooks import record

pytestmark = pytest.mark.usefixtures("worker", "path")


@pytest.fixture(params=["worker", "apply"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the learner's task on the embedded worker, or locally as in redis mode."""
    if request.param == "apply":
        monkeypatch.setattr(ch03, "on_worker", lambda: False)
    else:
        assert ch03.on_worker()
    yield request.param


def test_stubs_are_not_yet() -> None:
    for id in ("03.1", "03.2", "03.3", "03.4"):
        assert evaluate(id, ...).feedback.startswith("not yet:"), id


def test_not_a_task() -> None:
    def whoami() -> dict[str, Any]:
        return {}

    assert_fails(verdict("03.1", whoami), "plain function, not a Celery task", "decorate it")
    assert_fails(verdict("03.2", 42), "fetch_title is int, not a task", "define fetch_title with")


# --------------------------------------------------------------------------- 03.1


@app.task(bind=True)
def whoami(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": self.request.retries}


@shared_task(bind=True)
def whoami_shared(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": self.request.retries}


@app.task
def whoami_unbound() -> dict[str, Any]:
    return {"id": None, "retries": 0}


@app.task(bind=True)
def whoami_new_id(self: Any) -> dict[str, Any]:
    return {"id": uuid(), "retries": self.request.retries}


@app.task(bind=True)
def whoami_zero(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": 0}


@app.task(bind=True)
def whoami_no_return(self: Any) -> None:
    {"id": self.request.id, "retries": self.request.retries}  # noqa: B018


@app.task(bind=True)
def whoami_tuple(self: Any) -> tuple[str, int]:
    return (self.request.id, self.request.retries)


@app.task(bind=True)
def whoami_attr(self: Any) -> dict[str, Any]:
    return {"id": self.id, "retries": self.retries}


def test_03_1_right_answers() -> None:
    assert_passed(verdict("03.1", whoami), "passed (its own id and retry count")
    assert_passed(verdict("03.1", whoami_shared))


def test_03_1_wrong_answers() -> None:
    assert_fails(
        verdict("03.1", whoami_unbound), "not bound", "declare it with @app.task(bind=True)"
    )
    assert_fails(
        verdict("03.1", whoami_new_id),
        "but Celery ran it as",
        "return the id Celery gave this call",
    )
    assert_fails(
        verdict("03.1", whoami_zero), "whoami said retries=0", "return self.request.retries"
    )
    assert_fails(verdict("03.1", whoami_no_return), "whoami returned None", "end it with return")
    assert_fails(verdict("03.1", whoami_tuple), "whoami returned", "return a dict with exactly")
    assert_fails(
        verdict("03.1", whoami_attr),
        "whoami failed (AttributeError",
        "what Celery knows about the running call is in self.request",
    )


# --------------------------------------------------------------------------- 03.2


@app.task(bind=True, max_retries=5)
def fetch_title(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(autoretry_for=(SiteUnavailable,), max_retries=5, retry_kwargs={"countdown": 0.1})
def fetch_title_auto(url: str) -> str:
    return fetch(url)["title"]


@app.task(bind=True, max_retries=5)
def fetch_title_no_raise(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        self.retry(exc=exc, countdown=0.1)  # retry() raises by itself
    return page["title"]


@app.task(bind=True, max_retries=5)
def fetch_title_swallow(self: Any, url: str) -> str | None:
    try:
        return fetch(url)["title"]
    except SiteUnavailable:
        return None


@app.task(bind=True, max_retries=5)
def fetch_title_no_retry(self: Any, url: str) -> str:
    return fetch(url)["title"]


@app.task(bind=True, max_retries=5)
def fetch_title_default_delay(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc) from exc


@app.task(bind=True)
def fetch_title_default_max(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc


@app.task(bind=True, max_retries=1)
def fetch_title_one_retry(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc


@app.task(bind=True, max_retries=None)
def fetch_title_forever(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.05) from exc


@app.task(bind=True, max_retries=5)
def fetch_title_no_exc(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable:
        raise self.retry(countdown=0.1) from None


@app.task(bind=True, max_retries=5)
def fetch_title_page(self: Any, url: str) -> dict[str, Any]:
    try:
        return fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc


def test_03_2_right_answers() -> None:
    assert_passed(
        verdict("03.2", fetch_title),
        "passed (SUCCESS after 3 attempts; gave up after 6 with SiteUnavailable)",
    )
    assert_passed(verdict("03.2", fetch_title_auto))
    # self.retry() raises by itself: leaving out `raise` still retries (it only reads worse).
    assert_passed(verdict("03.2", fetch_title_no_raise))


def test_03_2_wrong_answers() -> None:
    assert_fails(
        verdict("03.2", fetch_title_swallow),
        "the error was swallowed",
        "don't return from the except block",
    )
    assert_fails(
        verdict("03.2", fetch_title_no_retry),
        "failed on the first outage, without retrying",
        "catch SiteUnavailable and raise self.retry(exc=exc, countdown=0.1)",
    )
    assert_fails(
        verdict("03.2", fetch_title_default_max),
        "gave up after 3 retries: Celery's default max_retries",
        "set max_retries=5",
    )
    assert_fails(
        verdict("03.2", fetch_title_one_retry),
        "down for 2 requests, fetch_title gave up after 1 retry",
        "let it retry up to 5 times: max_retries=5",
    )
    assert_fails(
        verdict("03.2", fetch_title_forever),
        "retried 10 times and never gave up",
        "limit the retries: max_retries=5",
    )
    assert_fails(
        verdict("03.2", fetch_title_no_exc),
        "MaxRetriesExceededError",
        "pass the error on: raise self.retry(exc=exc",
    )
    assert_fails(
        verdict("03.2", fetch_title_page), "returned the whole page", 'return only page["title"]'
    )


# --------------------------------------------------------------------------- 03.3


@app.task(bind=True)
def word_count(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def word_count_silent(self: Any, texts: list[str]) -> dict[str, int]:
    return {"words": sum(len(t.split()) for t in texts)}


@app.task(bind=True)
def word_count_lower(self: Any, texts: list[str]) -> dict[str, int]:
    for i, _ in enumerate(texts, start=1):
        self.update_state(state="progress", meta={"current": i, "total": len(texts)})
    return {"words": sum(len(t.split()) for t in texts)}


@app.task(bind=True)
def word_count_from_zero(self: Any, texts: list[str]) -> dict[str, int]:
    for i, _ in enumerate(texts):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": sum(len(t.split()) for t in texts)}


@app.task(bind=True)
def word_count_once(self: Any, texts: list[str]) -> dict[str, int]:
    self.update_state(state="PROGRESS", meta={"current": len(texts), "total": len(texts)})
    return {"words": sum(len(t.split()) for t in texts)}


@app.task(bind=True)
def word_count_bad_meta(self: Any, texts: list[str]) -> dict[str, int]:
    for i, _ in enumerate(texts, start=1):
        self.update_state(state="PROGRESS", meta={"done": i})
    return {"words": sum(len(t.split()) for t in texts)}


@app.task(bind=True)
def word_count_int(self: Any, texts: list[str]) -> int:
    for i, _ in enumerate(texts, start=1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return sum(len(t.split()) for t in texts)


@app.task
def word_count_unbound(texts: list[str]) -> dict[str, int]:
    for i, _ in enumerate(texts, start=1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})  # type: ignore[name-defined] # noqa: F821
    return {"words": 0}


def test_03_3_right_answer() -> None:
    assert_passed(verdict("03.3", word_count), "passed (4 PROGRESS updates, 1/4 to 4/4")


def test_03_3_wrong_answers() -> None:
    assert_fails(
        verdict("03.3", word_count_silent), "never reported any progress", "call self.update_state("
    )
    assert_fails(
        verdict("03.3", word_count_lower),
        "reported the state 'progress'",
        'use exactly state="PROGRESS"',
    )
    assert_fails(
        verdict("03.3", word_count_from_zero),
        "progress went from 0/4 to 3/4, never 4/4",
        "count from 1",
    )
    assert_fails(
        verdict("03.3", word_count_once),
        "reported progress 1 time for 4 texts",
        "update the state once per text",
    )
    assert_fails(
        verdict("03.3", word_count_bad_meta), "meta={'done': 1}", 'pass meta={"current": i'
    )
    assert_fails(verdict("03.3", word_count_int), "word_count returned 12", 'return {"words": n}')
    assert_fails(
        verdict("03.3", word_count_unbound),
        "word_count failed (NameError",
        "declare the task with bind=True",
    )


# --------------------------------------------------------------------------- 03.4


class AuditedTask(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", exc)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", exc)


class Formatted(AuditedTask):
    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", f"{type(exc).__name__}: {exc}")


class NoFailure(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", exc)


class ShortSignature(AuditedTask):
    def on_success(self, retval: Any) -> None:  # type: ignore[override]
        record(self.request.id, "success", retval)


class ByName(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(self.name, "success", retval)


class WrongEvent(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "succeeded", retval)


class NoDetail(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success")


class NotATask:
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", retval)


def test_03_4_right_answers() -> None:
    assert_passed(verdict("03.4", AuditedTask), "passed (success, retry then success, and failure")
    assert_passed(verdict("03.4", Formatted))


def test_03_4_wrong_answers() -> None:
    assert_fails(
        verdict("03.4", NotATask),
        "a class, but not a subclass of celery.Task",
        "class AuditedTask(Task)",
    )
    assert_fails(verdict("03.4", AuditedTask()), "a task object, not the class", "pass the class")
    assert_fails(verdict("03.4", 3), "AuditedTask is int, not a class", "class AuditedTask(Task)")
    assert_fails(
        verdict("03.4", NoFailure), "does not define on_failure", "add def on_failure(self, exc"
    )
    assert_fails(
        verdict("03.4", ShortSignature),
        "Celery calls on_success with 4 arguments",
        "def on_success(self, retval, task_id, args, kwargs)",
    )
    assert_fails(
        verdict("03.4", ByName),
        "something was recorded, but not under the task's id",
        "pass the handler's task_id",
    )
    assert_fails(
        verdict("03.4", WrongEvent),
        "recorded succeeded, expected success",
        'on_success should call record(task_id, "success", ...)',
    )
    assert_fails(verdict("03.4", NoDetail), "the details recorded were", "record the return value")


# --------------------------------------------------------------------------- last


def test_03_2_long_countdown() -> None:
    """Last in the module: on the worker, the revoked 180 s retry stays in the worker's ETA
    timer, and while it waits there the timer serves short countdowns less promptly."""
    assert_fails(
        verdict("03.2", fetch_title_default_delay),
        "asked to be retried in 180 s (Celery's default_retry_delay)",
        "keep the waits short in the course: pass countdown=0.1",
    )
