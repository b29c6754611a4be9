"""Where the course's settings come from: one switch, ``COURSE_BROKER``.

===============================  =========  ==========================================
``COURSE_BROKER``                mode       what runs where
===============================  =========  ==========================================
unset, empty or ``embedded``     embedded   broker and results in this process, and a
                                            worker thread started by the runtime
``redis://[:pw@]host:port/db``   redis      broker on that Redis db, results on db+1,
                                            app data on db+2; separate worker processes
``eager``                        eager      tasks run inline when called (a lesson)
===============================  =========  ==========================================

``COURSE_BACKEND`` and ``COURSE_STORE`` override the derived Redis URLs for results and
app data. ``COURSE_HOME`` (default ``~/.course_tasks``) holds the embedded worker's log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

EMBEDDED = "embedded"
REDIS = "redis"
EAGER = "eager"
MODES = (EMBEDDED, REDIS, EAGER)

#: The embedded broker: kombu's memory transport, in this process.
EMBEDDED_BROKER_URL = "memory://localhost/"
#: The embedded result backend: Celery's Redis backend on an in-process fakeredis.
EMBEDDED_BACKEND_URL = "fakeredis://localhost/1"
EMBEDDED_STORE_URL = "fakeredis://localhost/2"


class SettingsError(ValueError):
    """``COURSE_BROKER`` (or an override) holds something the course cannot use."""


@dataclass(frozen=True)
class Settings:
    mode: str
    broker_url: str
    backend_url: str
    store_url: str
    home: Path

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def describe(self) -> str:
        """One line for the top of a chapter: the mode and where things live."""
        if self.mode == EMBEDDED:
            where = "worker thread in this kernel, broker memory://, results in-process Redis"
        elif self.mode == REDIS:
            where = f"broker {redact(self.broker_url)}, results {redact(self.backend_url)}"
        else:
            where = "task_always_eager: tasks run inline, no broker, no worker"
        return f"{self.mode} ({where})"


def redact(url: str) -> str:
    """A URL with its password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _redis_db_url(url: str, offset: int) -> str:
    """The same Redis server as ``url`` with the database number moved on by ``offset``."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    try:
        db = int(path) if path else 0
    except ValueError:
        raise SettingsError(
            f"COURSE_BROKER={redact(url)!r}: the database after the last '/' must be a number, "
            "as in redis://localhost:6379/0"
        ) from None
    return urlunsplit(parts._replace(path=f"/{db + offset}"))


#: Environment variables Celery itself reads, which would override the course's URLs.
CELERY_OVERRIDES = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_BROKER_READ_URL",
                    "CELERY_BROKER_WRITE_URL")  # fmt: skip


def celery_overrides(environ: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    """The variables in :data:`CELERY_OVERRIDES` that are set (Celery would obey them)."""
    env = os.environ if environ is None else environ
    return [name for name in CELERY_OVERRIDES if env.get(name)]


def from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    """Read the course settings from the environment (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("COURSE_HOME") or Path.home() / ".course_tasks").expanduser()
    raw = (env.get("COURSE_BROKER") or "").strip()
    in_process = (EMBEDDED_BROKER_URL, EMBEDDED_BACKEND_URL, EMBEDDED_STORE_URL)
    if raw in ("", EMBEDDED):
        return Settings(EMBEDDED, *in_process, home)
    if raw == EAGER:
        return Settings(EAGER, *in_process, home)
    scheme = urlsplit(raw).scheme
    if scheme not in ("redis", "rediss"):
        raise SettingsError(
            f"COURSE_BROKER={redact(raw)!r} is not a mode the course knows. Use one of: "
            "unset (embedded), 'eager', or a Redis URL such as redis://localhost:6379/0"
        )
    backend = env.get("COURSE_BACKEND") or _redis_db_url(raw, 1)
    store = env.get("COURSE_STORE") or _redis_db_url(raw, 2)
    return Settings(REDIS, raw, backend, store, home)
