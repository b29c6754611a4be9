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

``COURSE_LEARNER`` (redis mode, a classroom): a name such as ``alice`` that gives this
learner a namespace of their own on a shared Redis. Every key of the broker (queues,
bindings, broadcast and event channels), of the results and of the app data then starts
with ``learner:alice:`` (:attr:`Settings.key_prefix`), so learners on one server never see
each other's messages, results, workers or data (see ``docs/classroom.md``). It has no effect
in embedded and eager mode, where nothing is shared.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

EMBEDDED = "embedded"
REDIS = "redis"
EAGER = "eager"
MODES = (EMBEDDED, REDIS, EAGER)

#: What ``COURSE_LEARNER`` may hold: a name that cannot reach into another namespace (no
#: ``:``, no glob characters), so that no learner's prefix is the start of another's.
LEARNER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Every learner's keys start with this, then the name and a colon.
LEARNER_KEY_PREFIX = "learner:"

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
    #: ``COURSE_LEARNER``, or ``None``. It namespaces the Redis keys in redis mode only.
    learner: str | None = None

    @property
    def key_prefix(self) -> str:
        """What every Redis key of this learner starts with (redis mode), else ``""``."""
        if self.mode != REDIS or not self.learner:
            return ""
        return learner_prefix(self.learner)

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def describe(self) -> str:
        """One line for the top of a chapter: the mode and where things live."""
        if self.mode == EMBEDDED:
            where = "worker thread in this kernel, broker memory://, results in-process Redis"
        elif self.mode == REDIS:
            where = f"broker {redact(self.broker_url)}, results {redact(self.backend_url)}"
            if self.key_prefix:
                where += f", learner {self.learner}: keys under {self.key_prefix}"
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


def learner_prefix(name: str) -> str:
    """The key prefix of the learner ``name``: ``learner:NAME:``."""
    return f"{LEARNER_KEY_PREFIX}{name}:"


def _learner(env: os._Environ[str] | dict[str, str]) -> str | None:
    name = (env.get("COURSE_LEARNER") or "").strip()
    if not name:
        return None
    if not LEARNER_PATTERN.fullmatch(name):
        raise SettingsError(
            f"COURSE_LEARNER={name!r} cannot name a namespace: use 1 to 64 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit (such as alice or team-3)"
        )
    return name


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
    learner = _learner(env)
    in_process = (EMBEDDED_BROKER_URL, EMBEDDED_BACKEND_URL, EMBEDDED_STORE_URL)
    if raw in ("", EMBEDDED):
        return Settings(EMBEDDED, *in_process, home, learner)
    if raw == EAGER:
        return Settings(EAGER, *in_process, home, learner)
    scheme = urlsplit(raw).scheme
    if scheme not in ("redis", "rediss"):
        raise SettingsError(
            f"COURSE_BROKER={redact(raw)!r} is not a mode the course knows. Use one of: "
            "unset (embedded), 'eager', or a Redis URL such as redis://localhost:6379/0"
        )
    backend = env.get("COURSE_BACKEND") or _redis_db_url(raw, 1)
    store = env.get("COURSE_STORE") or _redis_db_url(raw, 2)
    return Settings(REDIS, raw, backend, store, home, learner)
