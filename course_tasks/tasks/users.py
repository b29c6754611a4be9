"""A simulated users table, and the welcome mail a new user gets (pass ids, not objects).

Guide 000 §11 (welcome mail on registration) and guide 001 §12 (``process_order(order_id)``:
pass an id and load the row in the task, not the object). Chapters: 04_calling_tasks.

The "table" is the Redis hash ``users`` in the app-data store: one json row per user id,
ids from the counter ``users:last-id``. :func:`create_user` and :func:`get_user` are what a
web handler would do with its database; the tasks take ids, so their messages stay small,
json-friendly, and the worker reads the row as it is when the task runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from celery.utils.log import get_task_logger

from course_tasks.app import app
from course_tasks.store import store
from course_tasks.tasks.email import deliver

logger = get_task_logger(__name__)

USERS_KEY = "users"
LAST_ID_KEY = "users:last-id"


class UserNotFound(LookupError):
    """No row in the users table has this id."""


@dataclass(frozen=True)
class User:
    """One row of the users table: a plain object, like an ORM model instance."""

    id: int
    name: str
    email: str


def create_user(name: str, email: str) -> User:
    """Insert a user and return it with its new id (what a registration handler does)."""
    user_id = int(store().incr(LAST_ID_KEY))
    user = User(user_id, name, email)
    store().hset(USERS_KEY, str(user_id), json.dumps(asdict(user)))
    return user


def get_user(user_id: int) -> User:
    """The user with this id; raises :class:`UserNotFound` if there is none."""
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise TypeError(
            f"a user id is an int, got {type(user_id).__name__}: pass user.id, not the user"
        )
    raw = store().hget(USERS_KEY, str(user_id))
    if raw is None:
        raise UserNotFound(f"no user with id {user_id}")
    return User(**json.loads(raw))


def update_email(user_id: int, new_email: str) -> User:
    """Change a user's address (the row changes; ids stay valid)."""
    old = get_user(user_id)
    user = User(old.id, old.name, new_email)
    store().hset(USERS_KEY, str(user_id), json.dumps(asdict(user)))
    return user


def all_users() -> list[User]:
    """Every user, by id."""
    rows = [User(**json.loads(raw)) for raw in store().hvals(USERS_KEY)]
    return sorted(rows, key=lambda user: user.id)


def clear_users() -> int:
    """Empty the table and restart ids at 1; return how many users it held."""
    n = store().hlen(USERS_KEY)
    store().delete(USERS_KEY, LAST_ID_KEY)
    return int(n)


@app.task
def register_user(name: str, email: str) -> int:
    """Create a user and return the new id (a task another service can call by name)."""
    user = create_user(name, email)
    logger.info("registered user %d", user.id)
    return user.id


@app.task
def lookup_user(user_id: int) -> dict[str, Any]:
    """The row of user ``user_id`` as a dict; fails with UserNotFound for an unknown id."""
    return asdict(get_user(user_id))


@app.task
def send_welcome(user_id: int) -> dict[str, Any]:
    """Send the welcome mail to user ``user_id`` (guide 000 §11, guide 001 §12).

    The task loads the user by id when it runs, then hands the mail to the simulated mail
    server (:func:`course_tasks.tasks.email.deliver`, 2 s). Given anything but an int it
    fails with a TypeError that says to pass ``user.id``.
    """
    user = get_user(user_id)
    deliver(user.email, "Welcome!", f"Hello {user.name}, thanks for signing up.")
    logger.info("welcome mail to user %d sent", user.id)
    return {"user_id": user.id, "to": user.email, "status": "sent"}
