"""Exercise checks: run the learner's code for real and say, in one line, how it went.

A chapter's checks live in ``course_tasks/checks/chNN_topic.py`` (``ch03_defining_tasks``
for ``solutions/03_defining_tasks_solutions.ipynb``), one function per exercise::

    @exercise("03.2", "retries", points=2)
    def _(send_with_retry):
        result = send_with_retry.delay("ada@example.com")
        ...
        if result.state != "SUCCESS":
            raise Fail("the task finished without retrying",
                       hint="raise self.retry(exc=exc) inside the except block")
        return "3 attempts, SUCCESS"        # shown after "passed"

and a notebook's check cell is one call, ``check("03.2", send_with_retry)``. It prints

    ✓ 03.2 retries: passed (3 attempts, SUCCESS)
    ✗ 03.2 retries: the task finished without retrying. Hint: raise self.retry(...) ...
    ✗ 03.2 retries: not yet: replace the ... with your code, run that cell, then this one.

and nothing else: an exception in the learner's code becomes a one-line ✗ naming it, never
a traceback. The line is one display with three parts: ``text/plain`` (the line above, what
nbval compares and a terminal shows), ``text/html`` (the same line, the mark green or red)
and ``application/vnd.celery-course.check+json`` (the verdict as data, for the grader,
``python -m course_tasks grade``). The display's metadata says where the verdict was made:
the mode the kernel's app ran in and the grading run's token (``COURSE_GRADING_RUN``), so
that the grader can refuse a verdict made in another mode or outside its own run.
"""

from __future__ import annotations

import html
import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MIME_TYPE = "application/vnd.celery-course.check+json"
#: Set by the grader in each kernel it starts; copied into every verdict's metadata.
RUN_VARIABLE = "COURSE_GRADING_RUN"
_COLOURS = {True: "#1a7f37", False: "#cf222e"}  # GitHub's green and red: readable on both themes


class Fail(Exception):
    """Raised by a check: the learner's answer is wrong in the way ``problem`` says."""

    def __init__(self, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


class NotYet(Fail):
    """Raised by a check (or found by :func:`check`) when the stub was left as it is."""

    def __init__(self, what: str = "replace the ... with your code") -> None:
        super().__init__(f"not yet: {what}, run that cell, then this one")


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    points: int
    run: Callable[..., str | None]


@dataclass(frozen=True)
class Outcome:
    """The verdict on one exercise, as the learner and the grader see it."""

    id: str
    title: str
    points: int
    max_points: int
    feedback: str

    @property
    def passed(self) -> bool:
        return self.max_points > 0 and self.points == self.max_points

    def line(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.id} {self.title}: {self.feedback}"

    def __repr__(self) -> str:
        return self.line()

    def html(self) -> str:
        """The line as HTML: the mark in green or red, the rest as text (deterministic)."""
        mark = "✓" if self.passed else "✗"
        colour = _COLOURS[self.passed]
        rest = html.escape(f"{self.id} {self.title}: {self.feedback}", quote=False)
        return (
            f'<div class="course-check"><span style="color:{colour};font-weight:bold">'
            f"{mark}</span> {rest}</div>"
        )

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data = {
            "text/plain": self.line(),
            "text/html": self.html(),
            MIME_TYPE: {**asdict(self), "passed": self.passed},
        }
        return data, {MIME_TYPE: provenance()}


def provenance() -> dict[str, str]:
    """Where a verdict is being made: the app's mode now, and the grading run's token.

    The mode is read from the app's configuration at this moment (``task_always_eager``
    switched on in a cell counts as eager), and also from ``COURSE_BROKER`` as it is now.
    """
    from course_tasks import settings
    from course_tasks.app import app

    conf = app.conf
    if conf.task_always_eager:
        mode = settings.EAGER
    elif str(conf.broker_url or "").startswith(("redis://", "rediss://")):
        mode = settings.REDIS
    else:
        mode = settings.EMBEDDED
    try:
        env_mode = settings.from_env().mode
    except settings.SettingsError:
        env_mode = "invalid"
    return {"mode": mode, "env_mode": env_mode, "run": os.environ.get(RUN_VARIABLE, "")}


REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, points: int = 1) -> Callable[[Callable[..., Any]], Exercise]:
    """Register the check of exercise ``id`` (``"NN.k"``)."""

    def register(fn: Callable[..., Any]) -> Exercise:
        if id in REGISTRY:
            raise ValueError(f"exercise {id} is registered twice")
        REGISTRY[id] = Exercise(id, title, points, fn)
        return REGISTRY[id]

    return register


def load_all() -> dict[str, Exercise]:
    """Import every ``chNN_*`` check module, so that :data:`REGISTRY` is complete."""
    import course_tasks.checks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return REGISTRY


def is_stub(value: Any) -> bool:
    """Whether ``value`` is what an untouched exercise stub leaves behind."""
    return value is Ellipsis


def evaluate(id: str, *args: Any, **kwargs: Any) -> Outcome:
    """Run the check of exercise ``id`` on the learner's objects; never raises."""
    ex = load_all().get(id)
    if ex is None:
        known = ", ".join(sorted(REGISTRY)) or "none"
        feedback = f"there is no exercise {id!r} (known: {known})"
        return Outcome(id, "unknown exercise", 0, 0, feedback)
    if any(is_stub(a) for a in (*args, *kwargs.values())):
        return Outcome(id, ex.title, 0, ex.points, NotYet().problem)
    from course_tasks.checks.isolation import kept

    try:
        with kept():
            detail = ex.run(*args, **kwargs)
    except Fail as fail:
        text = fail.problem.rstrip(".") + "." if not isinstance(fail, NotYet) else fail.problem
        if fail.hint:
            text += f" Hint: {fail.hint}"
        return Outcome(id, ex.title, 0, ex.points, text)
    except Exception as exc:  # the learner's code failed: name it, no traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return Outcome(id, ex.title, 0, ex.points, f"your code raised {what}.")
    return Outcome(id, ex.title, ex.points, ex.points, f"passed ({detail})" if detail else "passed")


def _show(outcome: Outcome) -> None:
    try:
        from IPython.display import display
    except ImportError:  # plain Python: print the line
        print(outcome.line())
    else:
        display(outcome)


def check(id: str, *args: Any, **kwargs: Any) -> None:
    """Check exercise ``id`` and display the one-line verdict (for a notebook's check cell)."""
    _show(evaluate(id, *args, **kwargs))


class CheckFailed(AssertionError):
    """Raised by :func:`require` when the exercise did not pass; shown as its one line."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def require(id: str, *args: Any, **kwargs: Any) -> None:
    """:func:`check`, then raise :class:`CheckFailed` unless the exercise passed.

    For graders that score a test cell by whether it raises (nbgrader's autograde): the
    check cells of ``python -m course_tasks export-nbgrader`` call this.
    """
    outcome = evaluate(id, *args, **kwargs)
    _show(outcome)
    if not outcome.passed:
        raise CheckFailed(outcome.line())


__all__ = [
    "CheckFailed", "Fail", "NotYet", "Outcome", "check", "evaluate", "exercise", "is_stub",
    "load_all", "provenance", "require",
]  # fmt: skip
