"""The checks of chapter 03: each right answer passes, each known wrong answer gets its hint.

The learner's tasks are defined here, at import, as a learner defines them in a notebook.
Every test runs twice: once on the embedded worker (what the check does in embedded mode)
and once through ``task.apply()`` (what it does in redis mode, where a separate worker
cannot know tasks defined in a notebook). The verdicts must be the same.

Each exercise: its right answers, then a table of wrong ones (the mistakes the chapter warns
about, and adversary round 1's answers), each with the problem and hint it gets; then adversary
rounds 2, 3 and 4's answers, in tables of their own.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from celery import Task, current_task, shared_task
from celery.utils import uuid
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks.app import app
from course_tasks.checks import ch03_defining_tasks as ch03
from course_tasks.checks import evaluate
from course_tasks.tasks.crawler import PageNotFound, SiteUnavailable, fetch
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


@app.task(bind=True)
def whoami_attempt_number(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": self.request.retries + 1}


@app.task(bind=True)
def whoami_root_id(self: Any) -> dict[str, Any]:
    return {"id": self.request.root_id, "retries": self.request.retries}


@app.task(bind=True)
def whoami_parent_id(self: Any) -> dict[str, Any]:
    return {"id": self.request.parent_id or self.request.id, "retries": self.request.retries}


@app.task(bind=True)
def whoami_max_retries(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": self.max_retries}


@app.task
def whoami_current_task() -> dict[str, Any]:
    return {"id": current_task.request.id, "retries": current_task.request.retries}


_FIRST_ID: dict[str, str] = {}


@app.task(bind=True)
def whoami_cached_id(self: Any) -> dict[str, Any]:
    _FIRST_ID.setdefault("id", self.request.id)
    return {"id": _FIRST_ID["id"], "retries": self.request.retries}


_CALLS: dict[str, int] = {}


@app.task(bind=True)
def whoami_counts_calls(self: Any) -> dict[str, Any]:
    _CALLS[self.request.id] = _CALLS.get(self.request.id, -1) + 1
    return {"id": self.request.id, "retries": _CALLS[self.request.id]}


@app.task(bind=True)
def whoami_correlation_id(self: Any) -> dict[str, Any]:
    return {"id": self.request.correlation_id, "retries": self.request.retries}


@app.task(bind=True)
def whoami_task_name(self: Any) -> dict[str, Any]:
    return {"id": self.request.task, "retries": self.request.retries}


def test_03_1_right_answers() -> None:
    assert_passed(
        verdict("03.1", whoami), "passed (its own id and retry count, read from self.request"
    )
    assert_passed(verdict("03.1", whoami_shared))


IN_A_WORKFLOW = "run as a step of a workflow, whoami said its id is"
OWN_ID = "return self.request.id: the id of this call, whoever sent it"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(whoami_unbound, "not bound", "declare it with @app.task(bind=True)",
                     id="unbound"),
        pytest.param(whoami_new_id, "but Celery ran it as", "return the id Celery gave this call",
                     id="new-uuid"),
        pytest.param(whoami_zero, "whoami said retries=0", "return self.request.retries",
                     id="hardcoded-retries"),
        pytest.param(whoami_no_return, "whoami returned None", "end it with return",
                     id="no-return"),
        pytest.param(whoami_tuple, "whoami returned", "return a dict with exactly", id="tuple"),
        pytest.param(whoami_attr, "whoami failed (AttributeError",
                     "what Celery knows about the running call is in self.request", id="self-id"),
        pytest.param(whoami_attempt_number, "on its first attempt whoami said retries=1",
                     "return self.request.retries, which is 0", id="attempt-number"),
        pytest.param(whoami_root_id, f"{IN_A_WORKFLOW} the id of the workflow's first task "
                     "(self.request.root_id)", OWN_ID, id="root-id"),
        pytest.param(whoami_parent_id, f"{IN_A_WORKFLOW} the id of the task that sent it "
                     "(self.request.parent_id)", OWN_ID, id="parent-id"),
        pytest.param(whoami_max_retries, "on its first attempt whoami said retries=3",
                     "return self.request.retries", id="max-retries"),
        pytest.param(whoami_current_task, "whoami is not bound",
                     "declare it with @app.task(bind=True)", id="current-task-not-bound"),
        pytest.param(whoami_cached_id, "on a retry whoami reported another id",
                     "return self.request.id", id="cached-id"),
        pytest.param(whoami_counts_calls, "run as a second retry (self.request.retries == 2), "
                     "whoami said retries=0", "return self.request.retries, not a constant",
                     id="counts-calls"),
        pytest.param(whoami_correlation_id, f"{IN_A_WORKFLOW} the message's correlation_id",
                     OWN_ID, id="correlation-id"),
        pytest.param(whoami_task_name, "whoami said its id is 'test_checks_ch03.whoami_task_name'",
                     "return the id Celery gave this call", id="task-name"),
    ],
)  # fmt: skip
def test_03_1_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    _FIRST_ID.clear()
    assert_fails(verdict("03.1", answer), problem, hint)


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
        raise self.retry(exc=exc, countdown=0.1) from exc


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


@app.task(bind=True, max_retries=5, default_retry_delay=0.1)
def fetch_title_delay_in_decorator(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc) from exc


@app.task(bind=True, max_retries=5)
def fetch_title_eta(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        eta = datetime.now(timezone.utc) + timedelta(seconds=0.1)
        raise self.retry(exc=exc, eta=eta) from exc


@app.task(bind=True, max_retries=5)
def fetch_title_except_exception(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(autoretry_for=(Exception,), max_retries=5, retry_kwargs={"countdown": 0.1})
def fetch_title_autoretry_exception(url: str) -> str:
    return fetch(url)["title"]


@app.task(bind=True, max_retries=5)
def fetch_title_swallow_404(self: Any, url: str) -> str | None:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    except PageNotFound:
        return None


@app.task(bind=True, max_retries=6)
def fetch_title_max_retries_6(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc


@app.task(bind=True, max_retries=5)
def fetch_title_sleep_loop(self: Any, url: str) -> str:
    for attempt in range(6):
        try:
            return fetch(url)["title"]
        except SiteUnavailable:
            if attempt == 5:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


@app.task(bind=True, max_retries=5)
def fetch_title_swallow_final(self: Any, url: str) -> str | None:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        if self.request.retries >= self.max_retries:
            return None
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5, default_retry_delay=1)
def fetch_title_no_countdown(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc) from exc


@app.task(bind=True, max_retries=5)
def fetch_title_backoff(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1 * 2**self.request.retries) from exc


@app.task(bind=True, max_retries=5)
def fetch_title_countdown_60(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=60) from exc


def test_03_2_right_answers() -> None:
    assert_passed(
        verdict("03.2", fetch_title),
        "passed (SUCCESS after 3 attempts; gave up after 6 with SiteUnavailable; a missing "
        "page and other errors failed at once)",
    )
    assert_passed(verdict("03.2", fetch_title_auto))
    # self.retry() raises by itself: leaving out `raise` still retries (it only reads worse).
    assert_passed(verdict("03.2", fetch_title_no_raise))
    # the 0.1 s as the task's default_retry_delay, or as an eta 0.1 s ahead
    assert_passed(verdict("03.2", fetch_title_delay_in_decorator))
    assert_passed(verdict("03.2", fetch_title_eta))


NOT_FOUND = "for a page that does not exist (PageNotFound, a 404) fetch_title retried 5 times"
ONLY_OUTAGES = "catch only SiteUnavailable (except SiteUnavailable as exc:)"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(fetch_title_swallow, "the error was swallowed",
                     "don't return from the except block", id="swallow"),
        pytest.param(fetch_title_no_retry, "failed on the first outage, without retrying",
                     "catch SiteUnavailable and raise self.retry(exc=exc, countdown=0.1)",
                     id="no-retry"),
        pytest.param(fetch_title_default_max,
                     "gave up after 3 retries: Celery's default max_retries", "set max_retries=5",
                     id="default-max-retries"),
        pytest.param(fetch_title_one_retry,
                     "down for 2 requests, fetch_title gave up after 1 retry",
                     "let it retry up to 5 times: max_retries=5", id="one-retry"),
        pytest.param(fetch_title_forever, "retried 10 times and never gave up",
                     "limit the retries: max_retries=5", id="forever"),
        pytest.param(fetch_title_no_exc, "MaxRetriesExceededError",
                     "pass the error on: raise self.retry(exc=exc", id="no-exc"),
        pytest.param(fetch_title_page, "returned the whole page", 'return only page["title"]',
                     id="returns-page"),
        pytest.param(fetch_title_except_exception, NOT_FOUND, ONLY_OUTAGES,
                     id="except-exception"),
        pytest.param(fetch_title_autoretry_exception, NOT_FOUND, ONLY_OUTAGES,
                     id="autoretry-for-exception"),
        pytest.param(fetch_title_swallow_404, "for a page that does not exist, fetch_title "
                     "returned None (SUCCESS): the PageNotFound was swallowed",
                     "catch only SiteUnavailable; let PageNotFound fail the task",
                     id="swallows-404"),
        pytest.param(fetch_title_max_retries_6, "gave up after 6 retries, not 5", "max_retries=5",
                     id="max-retries-6"),
        pytest.param(fetch_title_sleep_loop, "fetch_title fetched the page 3 times in one run, "
                     "without Celery retrying the task", "don't loop or sleep inside the task",
                     id="sleep-loop"),
        pytest.param(fetch_title_swallow_final, "retried 5 times, then returned None (SUCCESS) "
                     "instead of failing", "don't return when the retries run out",
                     id="swallow-final"),
        pytest.param(fetch_title_no_countdown, "fetch_title asked to be retried in 1 s (the "
                     "task's default_retry_delay), not 0.1 s", "without countdown= a retry waits "
                     "default_retry_delay: pass countdown=0.1", id="no-countdown"),
        pytest.param(fetch_title_backoff, "fetch_title asked to be retried in 0.2 s, not 0.1 s",
                     "pass countdown=0.1 to self.retry", id="backoff"),
    ],
)  # fmt: skip
def test_03_2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.2", answer), problem, hint)


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


@app.task(bind=True)
def word_count_regex(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(re.findall(r"\S+", text))
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def word_count_by_index(self: Any, texts: list[str]) -> dict[str, int]:
    words, total = 0, len(texts)
    for i in range(total):
        words += len(texts[i].split())
        self.update_state(state="PROGRESS", meta={"current": i + 1, "total": total})
    return {"words": words}


@app.task(bind=True)
def word_count_copy(self: Any, texts: list[str]) -> dict[str, int]:
    counted = 0
    for i, text in enumerate(list(texts), start=1):
        counted += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": counted}


@app.task(bind=True)
def word_count_total_hardcoded(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": 4})
    return {"words": words}


@app.task(bind=True)
def word_count_split_space(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split(" "))
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def word_count_fake_progress(self: Any, texts: list[str]) -> dict[str, int]:
    words = sum(len(text.split()) for text in texts)
    for i in range(1, len(texts) + 1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def word_count_counts_first(self: Any, texts: list[str]) -> dict[str, int]:
    counts = [len(re.findall(r"\S+", text)) for text in texts]
    for i, _ in enumerate(counts, start=1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": sum(counts)}


@app.task(bind=True)
def word_count_characters(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text)
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task
def word_count_current_task(texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        current_task.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def word_count_skips_empty(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        if not text.strip():
            continue
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


def test_03_3_right_answers() -> None:
    assert_passed(
        verdict("03.3", word_count),
        "passed (5 PROGRESS updates, 1/5 to 5/5, then {'words': 12}; each update came as its "
        "text was counted)",
    )
    assert_passed(verdict("03.3", word_count_regex))
    assert_passed(verdict("03.3", word_count_by_index))
    assert_passed(verdict("03.3", word_count_copy))


NOT_LIVE = "when word_count started on text 2 of 3, its progress still said nothing yet"
IN_THE_LOOP = "call self.update_state(...) inside the loop, right after counting each text"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(word_count_silent, "never reported any progress", "call self.update_state(",
                     id="silent"),
        pytest.param(word_count_lower, "reported the state 'progress'",
                     'use exactly state="PROGRESS"', id="lowercase-state"),
        pytest.param(word_count_from_zero, "progress went from 0/5 to 4/5, never 5/5",
                     "count from 1", id="from-zero"),
        pytest.param(word_count_once, "reported progress 1 time for 5 texts",
                     "update the state once per text", id="once"),
        pytest.param(word_count_bad_meta, "meta={'done': 1}", 'pass meta={"current": i',
                     id="bad-meta"),
        pytest.param(word_count_int, "word_count returned 12, not {'words': 12}",
                     'return {"words": n}', id="returns-int"),
        pytest.param(word_count_unbound, "word_count is not bound",
                     "declare it with @app.task(bind=True)", id="unbound"),
        pytest.param(word_count_current_task, "word_count is not bound",
                     "declare it with @app.task(bind=True)", id="current-task-not-bound"),
        pytest.param(word_count_total_hardcoded, "for 5 texts the progress said total=4",
                     "total is the number of texts, len(texts)", id="total-hardcoded"),
        pytest.param(word_count_split_space, "word_count returned {'words': 13}, not "
                     "{'words': 12}", 'count with len(text.split()), no argument: split(" ")',
                     id="split-space"),
        pytest.param(word_count_fake_progress, NOT_LIVE, IN_THE_LOOP, id="fake-progress"),
        pytest.param(word_count_counts_first, NOT_LIVE, IN_THE_LOOP, id="counts-first"),
        pytest.param(word_count_characters, "word_count returned {'words': 66}",
                     "that is the number of characters", id="characters"),
        pytest.param(word_count_skips_empty, "progress went 1, 3, 4, 5 (of 5): the empty text 2 "
                     "got no update", "an empty text is a text too", id="skips-empty"),
    ],
)  # fmt: skip
def test_03_3_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.3", answer), problem, hint)


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


class Repr(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", repr(exc))


class GuideWords(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "succeeded", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retrying", exc)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failed", exc)


class NoRetry(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", retval)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", exc)


class Einfo(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", einfo)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", einfo)


class EinfoOnFailure(AuditedTask):
    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", einfo)


class TypeName(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", type(exc).__name__)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", type(exc).__name__)


class RetryIsFailure(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self.on_failure(exc, task_id, args, kwargs, einfo)


class NoDetailAnywhere(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success")

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry")

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure")


class ArgsDetail(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", args)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", args)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", args)


class RetryWrapper(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", einfo.exception)


AUDIT_LOG: list[tuple[str, str, Any]] = []


class PythonList(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        AUDIT_LOG.append((task_id, "success", retval))

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        AUDIT_LOG.append((task_id, "retry", exc))

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        AUDIT_LOG.append((task_id, "failure", exc))


class SuccessOnlyTruthy(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        if retval:
            record(task_id, "success", retval)


class FailureInAfterReturn(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", exc)

    def after_return(self, status: Any, retval: Any, task_id: str, *rest: Any) -> None:
        if status != "SUCCESS":
            record(task_id, "failure", retval)


def test_03_4_right_answers() -> None:
    assert_passed(
        verdict("03.4", AuditedTask),
        "passed (success, retry then success, failure, and two retries then a failure",
    )
    assert_passed(verdict("03.4", Formatted))
    assert_passed(verdict("03.4", Repr))


RETRIED = "for a task that was retried once, then returned 'ok'"
RECORD_DETAIL = "record the return value on success and the exception on retry/failure"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(NotATask, "a class, but not a subclass of celery.Task",
                     "class AuditedTask(Task)", id="not-a-task-class"),
        pytest.param(AuditedTask(), "a task object, not the class", "pass the class",
                     id="an-instance"),
        pytest.param(3, "AuditedTask is int, not a class", "class AuditedTask(Task)", id="int"),
        pytest.param(NoFailure, "does not define on_failure", "add def on_failure(self, exc",
                     id="no-on-failure"),
        pytest.param(ShortSignature, "Celery calls on_success with 4 arguments",
                     "def on_success(self, retval, task_id, args, kwargs)",
                     id="short-signature"),
        pytest.param(ByName, "something was recorded, but not under the task's id",
                     "pass the handler's task_id", id="by-task-name"),
        pytest.param(WrongEvent, "recorded retry, succeeded, expected retry, success",
                     'on_success should call record(task_id, "success", ...)',
                     id="succeeded"),
        pytest.param(NoDetail, f"{RETRIED} on_success recorded the detail ''",
                     "record the return value on success", id="no-success-detail"),
        pytest.param(GuideWords, "recorded retrying, succeeded, expected retry, success",
                     'on_retry should call record(task_id, "retry", ...)', id="guide-words"),
        pytest.param(NoRetry, "does not define on_retry", "add def on_retry(self, exc",
                     id="no-on-retry"),
        pytest.param(Einfo, f"{RETRIED} on_retry recorded a traceback (einfo), not the exception",
                     'record exc, the exception itself: record(task_id, "retry", exc)',
                     id="einfo-detail"),
        pytest.param(EinfoOnFailure, "for a task that raised ValueError on_failure recorded a "
                     "traceback (einfo)", 'record exc, the exception itself: record(task_id, '
                     '"failure", exc)', id="einfo-on-failure"),
        pytest.param(TypeName, f"{RETRIED} on_retry recorded the detail 'ConnectionError'",
                     "record exc itself, not only its class name", id="type-name"),
        pytest.param(RetryIsFailure, "recorded failure, success, expected retry, success",
                     'on_retry should call record(task_id, "retry", ...)', id="retry-is-failure"),
        pytest.param(NoDetailAnywhere, f"{RETRIED} on_retry recorded the detail ''",
                     RECORD_DETAIL, id="no-detail"),
        # the args read [] on the worker, () with apply()
        pytest.param(ArgsDetail, f"{RETRIED} on_retry recorded the detail ", RECORD_DETAIL,
                     id="args-detail"),
        pytest.param(RetryWrapper, f"{RETRIED} on_retry recorded Celery's Retry, not the error "
                     "that caused it", "record exc: on_retry receives the error as exc",
                     id="retry-wrapper"),
        pytest.param(PythonList, f"{RETRIED} AuditedTask recorded nothing, expected retry, "
                     "success", 'on_retry should call record(task_id, "retry", ...)',
                     id="python-list"),
        pytest.param(SuccessOnlyTruthy, "for a task that returned 0 AuditedTask recorded "
                     "nothing, though it recorded the success of a task that returned 'ok'",
                     "record every success, whatever the value", id="success-only-truthy"),
        pytest.param(FailureInAfterReturn, "does not define on_failure",
                     "add def on_failure(self, exc", id="failure-in-after-return"),
    ],
)  # fmt: skip
def test_03_4_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.4", answer), problem, hint)


# --------------------------------------------------------------------------- round 2
# Adversary round 2's answers (.adversary/ch03_r2.py), each with the problem and hint it gets
# (an answer the same as one above is that one).


@app.task
def r2_whoami_unbound() -> dict[str, Any]:
    return {"id": r2_whoami_unbound.request.id, "retries": r2_whoami_unbound.request.retries}


@app.task(bind=True)
def r2_whoami_root(self: Any) -> dict[str, Any]:
    return {"id": self.request.root_id or self.request.id, "retries": self.request.retries}


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r2_whoami_unbound, "whoami is not bound",
                     "declare it with @app.task(bind=True)", id="unbound-task-request"),
        pytest.param(whoami_current_task, "whoami is not bound",
                     "declare it with @app.task(bind=True)", id="unbound-current-task"),
        pytest.param(whoami_correlation_id, f"{IN_A_WORKFLOW} the message's correlation_id",
                     OWN_ID, id="correlation-id"),
        pytest.param(whoami_counts_calls, "run as a second retry (self.request.retries == 2), "
                     "whoami said retries=0", "return self.request.retries",
                     id="global-retry-count"),
        pytest.param(r2_whoami_root, f"{IN_A_WORKFLOW} the id of the workflow's first task",
                     OWN_ID, id="root-id"),
    ],
)  # fmt: skip
def test_03_1_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.1", answer), problem, hint)


@app.task(max_retries=5)
def r2_fetch_title_unbound(url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise r2_fetch_title_unbound.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r2_fetch_title_naive_eta(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, eta=datetime.now() + timedelta(seconds=0.1)) from exc  # noqa: DTZ005
    return page["title"]


@app.task(bind=True, max_retries=None)
def r2_fetch_title_own_limit(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        if self.request.retries >= 4:
            raise
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r2_fetch_title_404_once(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    except PageNotFound as exc:
        raise self.retry(exc=exc, countdown=0.1, max_retries=1) from exc
    return page["title"]


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r2_fetch_title_unbound, "fetch_title is not bound: the exercise asks for a "
                     "bound task", "declare it with @app.task(bind=True, max_retries=5)",
                     id="unbound-retry"),
        pytest.param(fetch_title_sleep_loop, "fetch_title fetched the page 3 times in one run",
                     "don't loop or sleep inside the task", id="sleep-loop"),
        pytest.param(r2_fetch_title_naive_eta, "fetch_title asked to be retried at a naive eta",
                     "pass countdown=0.1 to self.retry (an eta must be aware", id="naive-eta"),
        pytest.param(fetch_title_backoff, "asked to be retried in 0.2 s, not 0.1 s",
                     "pass countdown=0.1 to self.retry", id="exp-backoff"),
        pytest.param(r2_fetch_title_own_limit, "gave up after 4 retries, not 5", "max_retries=5",
                     id="own-limit-off-by-one"),
        pytest.param(r2_fetch_title_404_once, "for a page that does not exist (PageNotFound, a "
                     "404) fetch_title retried 1 time", "catch only SiteUnavailable",
                     id="404-retried-once"),
    ],
)  # fmt: skip
def test_03_2_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.2", answer), problem, hint)


@app.task(bind=True)
def r2_word_count_before(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
        words += len(text.split())
    return {"words": words}


@app.task(bind=True)
def r2_word_count_regex(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(re.findall(r"\w+", text))
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r2_word_count_manual_success(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    self.update_state(state="SUCCESS", meta={"words": words})
    return {"words": words}


@app.task(bind=True)
def r2_word_count_words(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    total_words = sum(len(t.split()) for t in texts)
    for text in texts:
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": words, "total": total_words})
    return {"words": words}


@app.task(bind=True)
def r2_word_count_split_space(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len([w for w in text.split(" ") if w])
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r2_word_count_before, "when word_count started reading text 1 of 3, its "
                     "progress already said 1/3: it reported the text before counting it",
                     "report after each text: first count it (words += len(text.split()))",
                     id="report-before-counting"),
        pytest.param(r2_word_count_regex, "word_count returned {'words': 9}, not {'words': 6}",
                     "count with len(text.split()): a regex of word characters (\\w+)",
                     id="regex-words"),
        pytest.param(word_count_current_task, "word_count is not bound",
                     "declare it with @app.task(bind=True)", id="unbound-current-task"),
        pytest.param(r2_word_count_manual_success, "word_count stored the state SUCCESS itself, "
                     "while it was still running", "only report PROGRESS", id="manual-success"),
        pytest.param(r2_word_count_words, "for 5 texts the progress said total=12",
                     "total is the number of texts", id="words-not-texts"),
        pytest.param(r2_word_count_split_space, "word_count returned {'words': 10}, not "
                     "{'words': 12}", 'count with len(text.split()), no argument: split(" ") keeps',
                     id="split-space"),
    ],
)  # fmt: skip
def test_03_3_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.3", answer), problem, hint)


class R2NotNone(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        if retval is not None:
            record(task_id, "success", retval)


class R2TypeName(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", type(exc).__name__)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", type(exc).__name__)


class R2CallWrapper(Task):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        retval = super().__call__(*args, **kwargs)
        record(self.request.id, "success", retval)
        return retval


class R2RetryEinfo(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", einfo.exception)


class R2BySignals(Task):
    """Empty: the adversary audits through global task_success/retry/failure signal handlers,
    not connected here (they would record every later task): the check rejects the class
    before it runs anything."""


class R2Repr(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", repr(exc))

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", repr(exc))


def test_03_4_round2_right_answers() -> None:
    # repr(exc), "ValueError('broken on purpose')", is the exception written out, as Repr
    # and Formatted above: the text asks for the exception, not the traceback, not a format
    assert_passed(verdict("03.4", R2Repr))


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(R2NotNone, "for a task that returned None AuditedTask recorded nothing",
                     "record every success, whatever the value", id="skip-none-success"),
        pytest.param(R2TypeName, f"{RETRIED} on_retry recorded the detail 'ConnectionError'",
                     "record exc itself, not only its class name", id="type-name-only"),
        pytest.param(R2CallWrapper, "does not define on_success", "add def on_success(self",
                     id="call-wrapper"),
        pytest.param(R2RetryEinfo, f"{RETRIED} on_retry recorded Celery's Retry",
                     "record exc: on_retry receives the error as exc", id="retry-einfo-exception"),
        pytest.param(R2BySignals, "does not define on_success", "add def on_success(self",
                     id="global-signals"),
    ],
)  # fmt: skip
def test_03_4_round2_wrong_answers(answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.4", answer), problem, hint)


# --------------------------------------------------------------------------- last


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(fetch_title_default_delay,
                     "asked to be retried in 180 s (Celery's default_retry_delay), not 0.1 s",
                     id="default-retry-delay-180"),
        pytest.param(fetch_title_countdown_60, "asked to be retried in 60 s, not 0.1 s",
                     id="countdown-60"),
    ],
)  # fmt: skip
def test_03_2_long_countdown(answer: Any, problem: str) -> None:
    """Last in the module: on the worker, the revoked long retry stays in the worker's ETA
    timer, and while it waits there the timer serves short countdowns less promptly."""
    assert_fails(
        verdict("03.2", answer), problem, "keep the waits short in the course: pass countdown=0.1"
    )


# --------------------------------------------------------------------------- round 3
# Adversary round 3's answers (.adversary/ch03_r3.py), each with the problem and hint it gets.
# Those that passed the check before this round: group-id-first and memo-per-name (03.1);
# fetch-twice, global-failure-counter, generic-error, except-oserror, sleep-then-retry,
# retry-keyerror-too and except-exception-but-404 (03.2); unique-words, some-whitespace,
# progress-under-root-id, global-word-total and no-punctuation-tokens (03.3); exc-args0,
# dedup-global, truncated-details and failure-first-attempt-only (03.4); repr-retval, judged
# right (the return value written out, as repr(exc) is the exception written out). An answer
# the same as one above is that one.

_R3_SEEN: dict[str, Any] = {}  # the process-global state some answers keep


@pytest.fixture
def r3_fresh() -> Iterator[None]:
    """Each run of a test starts with the answers' globals as a fresh kernel has them."""
    _R3_SEEN.clear()
    _FIRST_ID.clear()
    yield
    _R3_SEEN.clear()


@app.task(bind=True)
def r3_whoami_retries_text(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": str(self.request.retries)}


@app.task(bind=True)
def r3_whoami_group_first(self: Any) -> dict[str, Any]:
    return {"id": self.request.group or self.request.id, "retries": self.request.retries}


@app.task(bind=True)
def r3_whoami_headers_retries(self: Any) -> dict[str, Any]:
    headers = self.request.headers or {}
    return {"id": self.request.id, "retries": headers.get("retries", self.request.retries and 0)}


@app.task(bind=True)
def r3_whoami_memo(self: Any) -> dict[str, Any]:
    seen = _R3_SEEN.setdefault("whoami", {})
    if self.name not in seen or seen[self.name]["retries"] != self.request.retries:
        seen[self.name] = {"id": self.request.id, "retries": self.request.retries}
    return seen[self.name]


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(whoami_correlation_id, f"{IN_A_WORKFLOW} the message's correlation_id",
                     OWN_ID, id="correlation-id"),
        pytest.param(r3_whoami_retries_text, "on its first attempt whoami said retries='0'",
                     "return self.request.retries, which is 0", id="retries-as-text"),
        pytest.param(r2_whoami_unbound, "whoami is not bound",
                     "declare it with @app.task(bind=True)", id="unbound-module-request"),
        pytest.param(r3_whoami_group_first, f"{IN_A_WORKFLOW} the id of the group it runs in "
                     "(self.request.group), not its own", OWN_ID, id="group-id-first"),
        pytest.param(r3_whoami_headers_retries, "run as a second retry (self.request.retries "
                     "== 2), whoami said retries=0", "return self.request.retries, not a constant",
                     id="headers-retries"),
        pytest.param(r3_whoami_memo, "called a fourth time, whoami said its id is the third "
                     "call's, not its own: it kept an answer from an earlier call",
                     "read self.request.id on every call; keep nothing between calls",
                     id="memo-per-name"),
        pytest.param(whoami_cached_id, "on a retry whoami reported another id",
                     "return self.request.id", id="first-id-per-process"),
        pytest.param(r2_whoami_root, f"{IN_A_WORKFLOW} the id of the workflow's first task "
                     "(self.request.root_id)", OWN_ID, id="workflow-root-id"),
    ],
)  # fmt: skip
def test_03_1_round3_wrong_answers(r3_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.1", answer), problem, hint)


@app.task(bind=True, max_retries=5)
def r3_fetch_title_linear(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1 * max(1, self.request.retries)) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r3_fetch_title_fetch_twice(self: Any, url: str) -> str:
    try:
        fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return fetch(url)["title"]


@app.task(bind=True, max_retries=5)
def r3_fetch_title_cached(self: Any, url: str) -> str:
    titles = _R3_SEEN.setdefault("titles", {})
    if url in titles:
        return titles[url]
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    titles[url] = page["title"]
    return page["title"]


@app.task(bind=True, max_retries=None)
def r3_fetch_title_global_counter(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        _R3_SEEN["failures"] = _R3_SEEN.get("failures", 0) + 1
        if _R3_SEEN["failures"] > 5:
            raise
        raise self.retry(exc=exc, countdown=0.1) from exc
    _R3_SEEN["failures"] = 0
    return page["title"]


@app.task(bind=True, max_retries=5)
def r3_fetch_title_new_error(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=SiteUnavailable("the site is down"), countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5, default_retry_delay=0.1)
def r3_fetch_title_except_oserror(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r3_fetch_title_404_empty(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    except PageNotFound:
        return ""
    return page["title"]


@app.task(bind=True, max_retries=5)
def r3_fetch_title_sleep_then_retry(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        time.sleep(0.1)
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r3_fetch_title_keyerror(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except (SiteUnavailable, KeyError) as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc


@app.task(bind=True, max_retries=5)
def r3_fetch_title_all_but_404(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except PageNotFound:
        raise
    except Exception as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


ONLY_SITE_UNAVAILABLE = "catch only SiteUnavailable (except SiteUnavailable as exc:), so that any "
NO_TITLE = "for a page the site serves without a title (fetch raised KeyError) fetch_title "


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r3_fetch_title_linear, "fetch_title asked to be retried in 0.2 s, not 0.1 s",
                     "pass countdown=0.1 to self.retry", id="linear-backoff"),
        pytest.param(r3_fetch_title_fetch_twice, "fetch_title requested the page 4 times in 3 "
                     "attempts: it fetched it more than once in an attempt",
                     "call fetch(url) once per attempt", id="fetch-twice"),
        pytest.param(r3_fetch_title_cached, "fetch_title returned 'Retrying with Celery' "
                     "without asking the site (no request reached it): it answered with a title "
                     "kept from an earlier call", "call fetch(url) on every call",
                     id="process-cache"),
        pytest.param(r3_fetch_title_global_counter, "right after a call that gave up, a new "
                     "fetch_title with the site down for 2 requests failed after 0 retries, with "
                     "SiteUnavailable", "let Celery count each call's retries: max_retries=5",
                     id="global-failure-counter"),
        pytest.param(r3_fetch_title_new_error, "when the retries ran out, fetch_title failed "
                     "with SiteUnavailable: the site is down, not with the error the site raised "
                     "(SiteUnavailable: https://example.com/celery-course/retries?check=",
                     "pass on the error you caught: raise self.retry(exc=exc",
                     id="generic-error"),
        pytest.param(r3_fetch_title_except_oserror, "when fetch raised PermissionError (an "
                     "OSError of this machine, not an outage) fetch_title retried 5 times",
                     ONLY_SITE_UNAVAILABLE, id="except-oserror"),
        pytest.param(r3_fetch_title_404_empty, "for a page that does not exist, fetch_title "
                     "returned '' (SUCCESS): the PageNotFound was swallowed",
                     "catch only SiteUnavailable; let PageNotFound fail the task",
                     id="404-returns-empty"),
        pytest.param(r3_fetch_title_sleep_then_retry, "fetch_title called time.sleep(0.1) while "
                     "it ran", "don't sleep in the task: raise self.retry(exc=exc, countdown=0.1) "
                     "at once", id="sleep-then-retry"),
        pytest.param(r3_fetch_title_keyerror, f"{NO_TITLE}retried 5 times: that is not an "
                     "outage", ONLY_SITE_UNAVAILABLE, id="retry-keyerror-too"),
        pytest.param(r3_fetch_title_all_but_404, f"{NO_TITLE}retried 5 times: that is not an "
                     "outage", ONLY_SITE_UNAVAILABLE, id="except-exception-but-404"),
    ],
)  # fmt: skip
def test_03_2_round3_wrong_answers(r3_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.2", answer), problem, hint)


@app.task(bind=True)
def r3_word_count_unique(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(set(text.split()))
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r3_word_count_some_whitespace(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len([w for w in re.split(r"[ \t\n]+", text) if w])
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r3_word_count_root_id(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(
            task_id=self.request.root_id,
            state="PROGRESS",
            meta={"current": i, "total": len(texts)},
        )
    return {"words": words}


@app.task(bind=True)
def r3_word_count_extra_keys(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        meta = {"current": i, "total": len(texts), "words": words}
        self.update_state(state="PROGRESS", meta=meta)
    return {"words": words, "texts": len(texts)}


@app.task(bind=True)
def r3_word_count_total_non_empty(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    total = sum(1 for t in texts if t.strip()) or len(texts)
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": max(total, i)})
    return {"words": words}


@app.task(bind=True)
def r3_word_count_global_total(self: Any, texts: list[str]) -> dict[str, int]:
    _R3_SEEN["words"] = 0
    for i, text in enumerate(texts, start=1):
        _R3_SEEN["words"] += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": _R3_SEEN["words"]}


@app.task(bind=True)
def r3_word_count_start_at_zero(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    self.update_state(state="PROGRESS", meta={"current": 0, "total": len(texts)})
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r3_word_count_final_again(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    self.update_state(state="PROGRESS", meta={"current": len(texts), "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r3_word_count_no_punct(self: Any, texts: list[str]) -> dict[str, int]:
    import string

    words = 0
    for i, text in enumerate(texts, start=1):
        words += len([w for w in text.split() if w.strip(string.punctuation + "—–…")])
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r3_word_count_on_self(self: Any, texts: list[str]) -> dict[str, int]:
    """Not the adversary's: the count kept on the task object, shared like a global."""
    self.words = 0
    for i, text in enumerate(texts, start=1):
        self.words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": self.words}


ON_TRICKY = f"on the texts {ch03.TRICKY!r} word_count returned"
SHARED = "another word_count ran in the same worker process (as on a threads pool), and the "
LOCAL_COUNT = "keep the count in a variable of the call itself (words = 0 inside the task)"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r3_word_count_unique, f"{ON_TRICKY} {{'words': 19}}, not {{'words': 24}}",
                     "that counts each different word once", id="unique-words"),
        pytest.param(r2_word_count_regex, "word_count returned {'words': 9}, not "
                     "{'words': 6}", "count with len(text.split()): a regex of word characters",
                     id="regex-words"),
        pytest.param(r3_word_count_some_whitespace, f"{ON_TRICKY} {{'words': 20}}, not "
                     "{'words': 24}", "count with len(text.split()), no argument: it splits on "
                     "every kind of whitespace", id="some-whitespace"),
        pytest.param(r3_word_count_root_id, "run as a step of a workflow, word_count stored its "
                     "progress under the id of the workflow's first task (self.request.root_id), "
                     "not its own", "call self.update_state(state=..., meta=...) without task_id",
                     id="progress-under-root-id"),
        pytest.param(r2_word_count_manual_success, "word_count stored the state SUCCESS itself, "
                     "while it was still running", "only report PROGRESS", id="success-early"),
        pytest.param(r3_word_count_extra_keys, "word_count returned {'words': 12, 'texts': 5}, "
                     "not {'words': 12}", 'return {"words": n}, the total over all texts',
                     id="extra-result-keys"),
        pytest.param(r3_word_count_total_non_empty, "for 5 texts the progress said total=4",
                     "total is the number of texts, len(texts)", id="total-non-empty"),
        pytest.param(r3_word_count_global_total, f"{SHARED}first returned {{'words': 10}}, not "
                     "{'words': 6}: the two calls shared their count", LOCAL_COUNT,
                     id="global-word-total"),
        pytest.param(r3_word_count_start_at_zero, "word_count reported progress 6 times for 5 "
                     "texts", "update the state once per text, inside the loop",
                     id="start-at-zero"),
        pytest.param(r3_word_count_final_again, "word_count reported progress 6 times for 5 "
                     "texts", "update the state once per text, inside the loop",
                     id="final-again"),
        pytest.param(r3_word_count_no_punct, f"{ON_TRICKY} {{'words': 21}}, not {{'words': 24}}",
                     'a piece made of punctuation only ("-", "...") is a word',
                     id="no-punctuation-tokens"),
        pytest.param(r3_word_count_on_self, f"{SHARED}first returned {{'words': 10}}, not "
                     "{'words': 6}: the two calls shared their count", LOCAL_COUNT,
                     id="count-on-self"),
    ],
)  # fmt: skip
def test_03_3_round3_wrong_answers(r3_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.3", answer), problem, hint)


class R3ArgsZero(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", exc.args[0])

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", exc.args[0])


class R3Json(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", json.dumps(retval))


class R3Repr(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", repr(retval))


class R3Dedup(AuditedTask):
    def _once(self, task_id: str, event: str, detail: Any) -> None:
        done = _R3_SEEN.setdefault("audited", set())
        if (task_id, event) in done:
            return
        done.add((task_id, event))
        record(task_id, event, detail)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        self._once(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self._once(task_id, "retry", exc)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self._once(task_id, "failure", exc)


class R3AfterReturn(Task):
    def after_return(
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if status != "FAILURE" and status != "RETRY":
            record(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", exc)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", exc)


class R3Call(Task):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from celery.exceptions import Retry

        try:
            retval = super().__call__(*args, **kwargs)
        except Retry as exc:
            record(self.request.id, "retry", exc.exc)
            raise
        except Exception as exc:
            record(self.request.id, "failure", exc)
            raise
        record(self.request.id, "success", retval)
        return retval


class R3Truncated(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", str(retval)[:20])

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", str(exc)[:20])

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", str(exc)[:20])


class R3FailureFirstAttemptOnly(AuditedTask):
    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if not self.request.retries:
            record(task_id, "failure", exc)


def test_03_4_round3_right_answers(r3_fresh: None) -> None:
    # repr(retval) writes the value out ('ok' with its quotes), as repr(exc) writes the
    # exception out (round 2): the text asks for the return value, and allows its repr
    assert_passed(verdict("03.4", R3Repr))


TWICE = (
    "for a task that was retried twice (ConnectionRefusedError, then TimeoutError), then "
    "raised KeyError"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(R2NotNone, "for a task that returned None AuditedTask recorded nothing",
                     "record every success, whatever the value", id="skip-none"),
        pytest.param(R3ArgsZero, f"{TWICE} on_retry recorded '111', only the first argument of "
                     "ConnectionRefusedError(111, 'Connection refused by mail.example.com')",
                     "record exc itself, not exc.args[0]", id="exc-args0"),
        pytest.param(R3Json, "for a task that returned None on_success recorded the detail "
                     "'null'", 'record the return value on success: record(task_id, "success", '
                     "retval)", id="json-retval"),
        pytest.param(R3Dedup, f"{TWICE} AuditedTask recorded retry, failure: 1 retry for 2",
                     "Celery calls on_retry once per retry: record each one",
                     id="dedup-global"),
        pytest.param(R2RetryEinfo, f"{RETRIED} on_retry recorded Celery's Retry, not the "
                     "error that caused it", "record exc: on_retry receives the error as exc",
                     id="retry-einfo-exception"),
        pytest.param(R3AfterReturn, "AuditedTask does not define on_success",
                     "add def on_success(self, retval, task_id, args, kwargs)",
                     id="after-return-success"),
        pytest.param(R3Call, "AuditedTask does not define on_success",
                     "add def on_success(self, retval, task_id, args, kwargs)",
                     id="record-in-call"),
        pytest.param(R3Truncated, f"{TWICE} on_retry recorded '[Errno 111] Connecti', only the "
                     "start of '[Errno 111] Connection refused by mail.example.com'",
                     "record the whole exception, not the start of it", id="truncated-details"),
        pytest.param(R3FailureFirstAttemptOnly, f"{TWICE} AuditedTask recorded retry, retry, "
                     "and no failure", "in on_failure, record every failure, whatever happened "
                     "before", id="failure-first-attempt-only"),
    ],
)  # fmt: skip
def test_03_4_round3_wrong_answers(r3_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.4", answer), problem, hint)


# --------------------------------------------------------------------------- round 4
# Adversary round 4's answers (.adversary/ch03_r4.py), each with the problem and hint it gets.
# Those that passed the check before this round: memo-per-id and retries-capped (03.1; the
# check now runs the first call again as its 4th retry, with the same id);
# except-connectionerror, per-id-global-counter and copy-error (03.2; a ConnectionResetError
# from fetch, a call that arrives already retried 3 times, the final error's traceback must
# go into fetch); total-on-self and current-global (03.3; the progress of both concurrent
# calls is compared); truncated-100, first-line and buffered-retries (03.4; details of several
# lines and hundreds of characters, the retries must be recorded before the last attempt).
# callback-format ("Type: message", as CallbackTask writes it) is judged right. And a right
# 03.2 answer checked right after retry-not-raised (which leaves a retry queued) passes.

_R4_SEEN: dict[str, Any] = {}  # the process-global state some answers keep
_LOCK = threading.Lock()


@pytest.fixture
def r4_fresh() -> Iterator[None]:
    """Each run of a test starts with the answers' globals as a fresh kernel has them."""
    _R4_SEEN.clear()
    R4BufferedRetries.pending.clear()
    yield
    _R4_SEEN.clear()
    R4BufferedRetries.pending.clear()


@app.task(bind=True)
def r4_whoami_memo_per_id(self: Any) -> dict[str, Any]:
    memo = _R4_SEEN.setdefault("whoami", {})
    return memo.setdefault(
        self.request.id, {"id": self.request.id, "retries": self.request.retries}
    )


@app.task(bind=True)
def r4_whoami_extra_keys(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": self.request.retries, "name": self.name}


@app.task(bind=True)
def r4_whoami_retries_capped(self: Any) -> dict[str, Any]:
    return {"id": self.request.id, "retries": min(self.request.retries, self.max_retries)}


LATER_RETRY = "run again as retry 4 of the first call (the same id, self.request.retries == 4)"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_whoami_memo_per_id, f"{LATER_RETRY}, whoami said {{'id': ",
                     "read self.request.id and self.request.retries on every attempt; keep "
                     "nothing between attempts (no cache per call id", id="memo-per-id"),
        pytest.param(whoami_parent_id, f"{IN_A_WORKFLOW} the id of the task that sent it "
                     "(self.request.parent_id), not its own", OWN_ID, id="parent-id-first"),
        pytest.param(r4_whoami_extra_keys, "whoami returned {'id': ",
                     'return a dict with exactly the keys "id" and "retries"', id="extra-keys"),
        pytest.param(r4_whoami_retries_capped, f"{LATER_RETRY}, whoami said retries=3 (capped "
                     "at max_retries)", "return self.request.retries as it is",
                     id="retries-capped"),
    ],
)  # fmt: skip
def test_03_1_round4_wrong_answers(r4_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.1", answer), problem, hint)


def test_03_1_memo_per_id_said_its_first_attempt(r4_fresh: None) -> None:
    assert_fails(
        verdict("03.1", r4_whoami_memo_per_id),
        "'retries': 0}: what it answered on that call's first attempt",
        "read self.request.id",
    )


@app.task(bind=True, max_retries=5)
def r4_fetch_title_connectionerror(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except ConnectionError as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=None)
def r4_fetch_title_per_id_counter(self: Any, url: str) -> str:
    attempts = _R4_SEEN.setdefault("attempts", {})
    attempts[self.request.id] = attempts.get(self.request.id, 0) + 1
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        if attempts[self.request.id] > 5:
            raise
        raise self.retry(exc=exc, countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r4_fetch_title_copy_error(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=SiteUnavailable(str(exc)), countdown=0.1) from exc
    return page["title"]


@app.task(bind=True, max_retries=5)
def r4_fetch_title_wrap_others(self: Any, url: str) -> str:
    try:
        return fetch(url)["title"]
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=0.1) from exc
    except Exception as exc:
        raise RuntimeError(f"fetch_title({url!r}) failed: {exc}") from exc


@app.task(bind=True, max_retries=5)
def r4_fetch_title_last_retry_long(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=1.0 if self.request.retries == 4 else 0.1) from exc
    return page["title"]


@app.task(bind=True, autoretry_for=(SiteUnavailable,), max_retries=5, retry_backoff=True)
def r4_fetch_title_autoretry_backoff(self: Any, url: str) -> str:
    return fetch(url)["title"]


@app.task(bind=True, max_retries=5)
def r4_fetch_title_retry_not_raised(self: Any, url: str) -> str | None:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        self.retry(exc=exc, countdown=0.1, throw=False)
        return None
    return page["title"]


@app.task(bind=True, max_retries=5)
def r4_fetch_title_raise_returned_retry(self: Any, url: str) -> str:
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        retry = self.retry(exc=exc, countdown=0.1, throw=False)
        raise retry from exc
    return page["title"]


def test_03_2_round4_right_answers(r4_fresh: None) -> None:
    # self.retry(..., throw=False) returns the Retry: raising it is a retry all the same
    assert_passed(verdict("03.2", r4_fetch_title_raise_returned_retry))


ALREADY_RETRIED = (
    "run as a call already retried 3 times (self.request.retries == 3: its earlier attempts ran "
    "in another worker process), with the site down, fetch_title failed after 5 retries"
)


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_fetch_title_connectionerror, "when fetch raised ConnectionResetError (a "
                     "ConnectionError, like SiteUnavailable, but not the site's outage) "
                     "fetch_title retried 5 times", ONLY_OUTAGES, id="except-connectionerror"),
        pytest.param(r4_fetch_title_per_id_counter, ALREADY_RETRIED, "let Celery count the "
                     "retries: max_retries=5 with raise self.retry(exc=exc, countdown=0.1); a "
                     "count of your own (a global, a dict per call id) starts at 0",
                     id="per-id-global-counter"),
        pytest.param(r4_fetch_title_copy_error, "when the retries ran out, fetch_title failed "
                     "with a new SiteUnavailable: https://example.com/celery-course/retries?"
                     "check=", "pass on the error you caught, exc itself", id="copy-error"),
        pytest.param(r4_fetch_title_wrap_others, "fetch_title failed (RuntimeError: fetch_title(",
                     "let PageNotFound fail the task as it is", id="wrap-others"),
        pytest.param(r4_fetch_title_last_retry_long, "fetch_title asked to be retried in 1 s, not "
                     "0.1 s", "pass countdown=0.1 to self.retry", id="last-retry-long"),
        pytest.param(r4_fetch_title_autoretry_backoff, "fetch_title asked to be retried in ",
                     "pass countdown=0.1 to self.retry", id="autoretry-backoff"),
        pytest.param(fetch_title_no_exc, "the task failed with MaxRetriesExceededError",
                     "pass the error on: raise self.retry(exc=exc, countdown=0.1)", id="no-exc"),
        pytest.param(r4_fetch_title_retry_not_raised, "fetch_title called self.retry(..., "
                     "throw=False) and carried on: the attempt returned None (SUCCESS) while the "
                     "retry it asked for was still to come", "raise the retry: raise "
                     "self.retry(exc=exc, countdown=0.1) ends the attempt there",
                     id="retry-not-raised"),
    ],
)  # fmt: skip
def test_03_2_round4_wrong_answers(r4_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.2", answer), problem, hint)


def test_03_2_a_queued_retry_does_not_spoil_the_next_check(r4_fresh: None) -> None:
    """retry-not-raised leaves a retry queued (on the worker) that fetches its URL again
    later: the next check, of a right answer, fetches URLs of its own and passes."""
    not_raised = "throw=False) and carried on"
    assert_fails(verdict("03.2", r4_fetch_title_retry_not_raised), not_raised, "raise the retry")
    assert_passed(verdict("03.2", fetch_title))
    assert_fails(verdict("03.2", r4_fetch_title_retry_not_raised), not_raised, "raise the retry")
    assert_fails(
        verdict("03.2", r4_fetch_title_last_retry_long),
        "retried in 1 s, not 0.1 s",
        "pass countdown=0.1 to self.retry",
    )


@app.task(bind=True)
def r4_word_count_total_on_self(self: Any, texts: list[str]) -> dict[str, int]:
    self.total = len(texts)
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": self.total})
    return {"words": words}


@app.task(bind=True)
def r4_word_count_current_global(self: Any, texts: list[str]) -> dict[str, int]:
    _R4_SEEN["current"] = 0
    words = 0
    for text in texts:
        words += len(text.split())
        _R4_SEEN["current"] += 1
        meta = {"current": _R4_SEEN["current"], "total": len(texts)}
        self.update_state(state="PROGRESS", meta=meta)
    return {"words": words}


@app.task(bind=True)
def r4_word_count_words_on_self(self: Any, texts: list[str]) -> dict[str, int]:
    self.words = 0
    for i, text in enumerate(texts, start=1):
        self.words += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": self.words}


@app.task(bind=True)
def r4_word_count_count_first(self: Any, texts: list[str]) -> dict[str, int]:
    counts = [len(text.split()) for text in texts]
    for i, _ in enumerate(counts, start=1):
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": sum(counts)}


@app.task(bind=True)
def r4_word_count_locked_global(self: Any, texts: list[str]) -> dict[str, int]:
    with _LOCK:
        _R4_SEEN["words"] = 0
    for i, text in enumerate(texts, start=1):
        with _LOCK:
            _R4_SEEN["words"] += len(text.split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": _R4_SEEN["words"]}


@app.task(bind=True)
def r4_word_count_throttled(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.split())
        if i % 2 == 0 or i == len(texts):
            self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


@app.task(bind=True)
def r4_word_count_ascii_space(self: Any, texts: list[str]) -> dict[str, int]:
    words = 0
    for i, text in enumerate(texts, start=1):
        words += len(text.encode("utf-8").split())
        self.update_state(state="PROGRESS", meta={"current": i, "total": len(texts)})
    return {"words": words}


SHARED_PROGRESS = (
    "while word_count was counting 3 texts, another word_count ran on 2 texts in the same "
    "worker process (as on a threads pool), and the progress of the first went "
)
LOCAL_PROGRESS = "keep i and the total in variables of the call itself"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(r4_word_count_current_global, f"{SHARED_PROGRESS}1/3, 3/3, 4/3, not 1/3, "
                     "2/3, 3/3: the two calls shared their progress", LOCAL_PROGRESS,
                     id="current-global"),
        pytest.param(r4_word_count_total_on_self, f"{SHARED_PROGRESS}1/3, 2/2, 3/2, not 1/3, "
                     "2/3, 3/3: the two calls shared their progress", LOCAL_PROGRESS,
                     id="total-on-self"),
        pytest.param(r4_word_count_words_on_self, f"{SHARED}first returned {{'words': 10}}, not "
                     "{'words': 6}: the two calls shared their count", LOCAL_COUNT,
                     id="words-on-self"),
        pytest.param(r4_word_count_count_first, NOT_LIVE, IN_THE_LOOP, id="count-first"),
        pytest.param(r4_word_count_locked_global, f"{SHARED}first returned {{'words': 10}}, not "
                     "{'words': 6}: the two calls shared their count", LOCAL_COUNT,
                     id="locked-global"),
        pytest.param(r4_word_count_throttled, "word_count reported progress 3 times for 5 texts",
                     "update the state once per text, inside the loop", id="throttled"),
        pytest.param(r4_word_count_ascii_space, f"{ON_TRICKY} {{'words': 22}}, not "
                     "{'words': 24}", "count with len(text.split()) on the text itself: "
                     "str.split() separates words at every kind of whitespace, a non-breaking "
                     "space \\xa0", id="ascii-space"),
    ],
)  # fmt: skip
def test_03_3_round4_wrong_answers(r4_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.3", answer), problem, hint)


class R4CallbackFormat(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", f"{type(exc).__name__}: {exc}")

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", f"{type(exc).__name__}: {exc}")


class R4Truncated100(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", str(retval)[:100])

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", str(exc)[:100])

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", str(exc)[:100])


class R4FirstLine(Task):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", (str(retval).splitlines() or [""])[0])

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", (str(exc).splitlines() or [""])[0])

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", (str(exc).splitlines() or [""])[0])


class R4FirstLineOnSuccess(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", (str(retval).splitlines() or [""])[0])


class R4TruncatedFailure(AuditedTask):
    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", repr(exc)[:100])


class R4NoneAsEmpty(AuditedTask):
    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        record(task_id, "success", "" if retval is None else retval)


class R4BufferedRetries(Task):
    pending: dict[str, list[Any]] = {}

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        for exc in self.pending.pop(task_id, []):
            record(task_id, "retry", exc)
        record(task_id, "success", retval)

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self.pending.setdefault(task_id, []).append(exc)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        for pending in self.pending.pop(task_id, []):
            record(task_id, "retry", pending)
        record(task_id, "failure", exc)


class R4EinfoLastLine(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", str(einfo).strip().splitlines()[-1])

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", str(einfo).strip().splitlines()[-1])


class R4EinfoLastLineOnFailure(AuditedTask):
    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", str(einfo).strip().splitlines()[-1])


class R4ArgsTuple(AuditedTask):
    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "retry", exc.args)

    def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        record(task_id, "failure", exc.args)


def test_03_4_round4_right_answers(r4_fresh: None) -> None:
    # "Type: message", as guide 001's CallbackTask records it: the exception whole, its type
    # and its message (the exercise text names this form besides exc and repr(exc))
    assert_passed(verdict("03.4", R4CallbackFormat))


LONG_RETRY = (
    "for a task that was retried once (a RuntimeError with a message of 9 lines), then "
    "returned a report of 9 lines"
)
LONG_FAILURE = "for a task that raised ValueError with a message of 4 lines"
WHOLE = "record the whole exception, every line of it, not a part"


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        pytest.param(R4Truncated100, f"{LONG_RETRY} on_retry recorded 'the mail queue is full:"
                     "\\n  message 1 to u'...'user2@mail.e' (100 characters), the start of it, "
                     "not the whole exception", WHOLE, id="truncated-100"),
        pytest.param(R4FirstLine, f"{LONG_RETRY} on_retry recorded 'the mail queue is full:', "
                     "its first line, not the whole exception", WHOLE, id="first-line"),
        pytest.param(R4FirstLineOnSuccess, f"{LONG_RETRY} on_success recorded 'sent 8 "
                     "messages:', its first line, not the value returned",
                     'record the whole return value: record(task_id, "success", retval)',
                     id="first-line-on-success"),
        pytest.param(R4TruncatedFailure, f"{LONG_FAILURE} on_failure recorded \"ValueError('3 "
                     "addresses bounced:", WHOLE, id="truncated-failure-repr"),
        pytest.param(R4NoneAsEmpty, "for a task that returned None on_success recorded the "
                     "detail ''", 'record the return value on success: record(task_id, '
                     '"success", retval)', id="none-as-empty"),
        pytest.param(R4BufferedRetries, f"{RETRIED} the retries were not recorded yet when the "
                     "task's last attempt started (recorded by then: nothing): AuditedTask "
                     "recorded them only with the final outcome", "record in on_retry itself, "
                     "at once", id="buffered-retries"),
        pytest.param(R4EinfoLastLine, f"{RETRIED} on_retry recorded Celery's Retry, not the "
                     "error that caused it", "record exc: on_retry receives the error as exc",
                     id="einfo-last-line"),
        pytest.param(R4EinfoLastLineOnFailure, f"{LONG_FAILURE} on_failure recorded "
                     "'  user7@mail.example.com: 550 mailbox unavailable', only one line of it",
                     WHOLE, id="einfo-last-line-on-failure"),
        pytest.param(R4ArgsTuple, f"{TWICE} on_retry recorded the detail \"(111, 'Connection "
                     "refused by mail.example.com')\"", RECORD_DETAIL, id="args-tuple"),
    ],
)  # fmt: skip
def test_03_4_round4_wrong_answers(r4_fresh: None, answer: Any, problem: str, hint: str) -> None:
    assert_fails(verdict("03.4", answer), problem, hint)
