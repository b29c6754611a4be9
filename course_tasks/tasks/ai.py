"""Slow "AI" tasks for guide 003's queue routing: they belong on a queue of their own.

Guide 003 routes ``ai_tasks.*`` to the queue ``ai_processing``, served by a worker with
concurrency 1, so that a 10-second text generation never delays quick work. The tasks here
carry the guide's names (``name="ai_tasks..."``), so the guide's glob routes them as
written. Nothing calls a model: :func:`run_ai_text_generation` sleeps like one and
:func:`generate_user_profile` writes a profile row into the app-data store. Each run is
recorded with :func:`course_tasks.tasks.demo.record_run` for the chapter's timelines.
Chapter: 08_routing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from course_tasks.app import app
from course_tasks.store import store
from course_tasks.tasks.demo import record_run

PROFILES_KEY = "routing:profiles"


@app.task(bind=True, name="ai_tasks.run_ai_text_generation")
def run_ai_text_generation(self: Any, prompt: str, seconds: float = 1.5) -> dict[str, Any]:
    """Generate text for ``prompt`` (simulated: ``seconds`` of work, CPU-heavy in real life)."""
    with record_run(self, f"ai({prompt})"):
        time.sleep(seconds)
    return {"prompt": prompt, "text": f"A short story about {prompt}.", "words": 6}


@app.task(bind=True, name="ai_tasks.generate_user_profile")
def generate_user_profile(self: Any, user_id: int, seconds: float = 1.0) -> dict[str, Any]:
    """Build a user's profile after registration (guide 003 §7: the slow queue)."""
    with record_run(self, f"profile({user_id})"):
        time.sleep(seconds)
        profile = {"user_id": user_id, "interests": ["celery", "redis"]}
        store().hset(PROFILES_KEY, str(user_id), json.dumps(profile))
    return profile


def profiles() -> dict[int, dict[str, Any]]:
    """Every profile built so far, by user id."""
    return {int(k): json.loads(v) for k, v in store().hgetall(PROFILES_KEY).items()}


def clear_profiles() -> None:
    """Forget every profile."""
    store().delete(PROFILES_KEY)
