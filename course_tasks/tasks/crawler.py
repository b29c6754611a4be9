"""A crawler that backs off exponentially, against a simulated flaky web site (guide 001 §6).

Chapters: 03_defining_tasks (retries, ``countdown=2 ** self.request.retries``,
``autoretry_for`` / ``retry_backoff``) and its exercise 03.2.

Nothing here touches the network. The "web site" lives in the app-data store:
:func:`publish_page` puts a page (a title and links) under a URL, :func:`make_flaky` makes
the next ``n`` requests for a URL fail with :class:`SiteUnavailable` like a server that
answers 503, and :func:`fetch` is the ``requests.get`` + BeautifulSoup of the guide. Every
request is recorded, so :func:`hits` tells how many attempts a task made, in any mode.
"""

from __future__ import annotations

import json
import time
from typing import Any

from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store

logger = get_task_logger(__name__)

PAGES_KEY = "crawler:pages"
FAILURES_KEY = "crawler:failures-left"
HITS_KEY = "crawler:hits:"

#: Guide 001 waits ``2 ** retries`` seconds: 1, 2, 4, 8, 16 s. The course keeps the
#: doubling and shrinks the unit, so five retries take 3.1 s instead of 31 s.
BACKOFF_UNIT = 0.1


class SiteUnavailable(ConnectionError):
    """The simulated site is down (HTTP 503): a temporary error, worth retrying."""


class PageNotFound(LookupError):
    """The simulated site has no page at that URL (HTTP 404): retrying will not help."""


def publish_page(url: str, title: str, links: list[str] | tuple[str, ...] = ()) -> None:
    """Put a page on the simulated site, replacing what was at ``url``."""
    store().hset(PAGES_KEY, url, json.dumps({"title": title, "links": list(links)}))


def make_flaky(url: str, failures: int) -> None:
    """Make the next ``failures`` requests for ``url`` fail with :class:`SiteUnavailable`."""
    store().hset(FAILURES_KEY, url, failures)


def fetch(url: str) -> dict[str, Any]:
    """Request ``url`` from the simulated site: ``{"url", "title", "links"}``.

    Records the request (see :func:`hits`); raises :class:`SiteUnavailable` while an outage
    set with :func:`make_flaky` lasts and :class:`PageNotFound` for an unknown URL.
    """
    db = store()
    db.rpush(HITS_KEY + url, time.time())
    if db.hincrby(FAILURES_KEY, url, -1) >= 0:
        raise SiteUnavailable(f"{url}: 503 Service Unavailable")
    db.hdel(FAILURES_KEY, url)
    raw = db.hget(PAGES_KEY, url)
    if raw is None:
        raise PageNotFound(f"{url}: 404 Not Found")
    page = json.loads(raw)
    return {"url": url, "title": page["title"], "links": page["links"]}


def hits(url: str) -> int:
    """How many requests for ``url`` the site has received since :func:`reset_site`."""
    return int(store().llen(HITS_KEY + url))


def hit_times(url: str) -> list[float]:
    """When each request for ``url`` arrived (``time.time()`` of the process that sent it)."""
    return [float(t) for t in store().lrange(HITS_KEY + url, 0, -1)]


def reset_site() -> None:
    """Remove every page, outage and recorded request."""
    db = store()
    keys = [PAGES_KEY, FAILURES_KEY, *db.scan_iter(match=HITS_KEY + "*")]
    db.delete(*keys)


@app.task(bind=True, max_retries=5, rate_limit="10/s")
def crawl_website(self: Any, url: str) -> dict[str, Any]:
    """Fetch a page and summarise it, backing off exponentially on outages (guide 001 §6).

    The guide retries on any ``Exception`` with ``countdown=2 ** self.request.retries``.
    This version retries only the temporary error (a 404 fails at once, guide 001 §12) and
    waits ``BACKOFF_UNIT * 2 ** retries``: 0.1, 0.2, 0.4, 0.8, 1.6 s. ``rate_limit`` keeps
    one worker from starting more than 10 crawls a second: a polite crawler.
    """
    try:
        page = fetch(url)
    except SiteUnavailable as exc:
        raise self.retry(exc=exc, countdown=BACKOFF_UNIT * 2**self.request.retries) from exc
    logger.info("crawled %s in %d attempts", url, self.request.retries + 1)
    return {
        "url": url,
        "title": page["title"],
        "links_count": len(page["links"]),
        "links": page["links"][:10],
        "attempts": self.request.retries + 1,
    }


@app.task(
    bind=True,
    autoretry_for=(SiteUnavailable,),
    max_retries=3,
    retry_backoff=True,
    retry_backoff_max=1,
    retry_jitter=False,
)
def crawl_with_autoretry(self: Any, url: str) -> dict[str, Any]:
    """The same crawl with Celery doing the retrying: no ``try``, no ``self.retry``.

    ``autoretry_for`` retries on :class:`SiteUnavailable`; ``retry_backoff=True`` waits
    1, 2, 4, ... s (Celery counts whole seconds) and ``retry_backoff_max`` caps the wait
    (600 s by default, 1 s here so that the course stays fast). ``retry_jitter`` (on by
    default) would pick a random wait between 0 and that value; it is off here so that the
    retries, and what a chapter prints about them, happen the same way every time.
    """
    page = fetch(url)
    return {"url": url, "title": page["title"], "attempts": self.request.retries + 1}
