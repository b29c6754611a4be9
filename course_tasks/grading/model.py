"""What grading produces: one :class:`Graded` per notebook, and what happened in its run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_tasks.checks import Outcome

_LEARNER_RE = re.compile(r"\(([^()]+)\)\s*$")


@dataclass
class Graded:
    """One notebook (or a path that was meant to be one), as graded.

    ``error``: the notebook could not be run (the learner's file is the reason).
    ``problem``: grading went wrong on the grader's side (a worker stopped answering, a
    kernel that could not start): not the learner's fault, grade the notebook again.
    ``flags``: things a person should look at (an answer that reaches into the checker,
    a verdict made in another mode); the points stand as computed.
    ``notes``: what the assembly left out (cells the learner added, edited locked cells).
    """

    path: str
    exercises: list[Outcome] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    chapter: str | None = None
    problem: str | None = None
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(row.points for row in self.exercises)

    @property
    def max_points(self) -> int:
        return sum(row.max_points for row in self.exercises)

    @property
    def learner(self) -> str:
        """``alice`` for ``alice/01_concepts_exercises.ipynb`` or ``01_concepts (alice).ipynb``."""
        path = Path(self.path)
        match = _LEARNER_RE.search(path.stem)
        if match:
            return match.group(1).strip()
        return path.parent.name or "."

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "points": self.points,
            "max_points": self.max_points,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.problem is not None:
            out["problem"] = self.problem
        if self.flags:
            out["flags"] = list(self.flags)
        if self.notes:
            out["notes"] = list(self.notes)
        out["exercises"] = [
            {
                "id": r.id,
                "title": r.title,
                "points": r.points,
                "max_points": r.max_points,
                "feedback": r.feedback,
            }
            for r in self.exercises
        ]
        return out


@dataclass
class Run:
    """What happened while a notebook ran (cells numbered from 1, markdown included)."""

    timed_out: dict[int, float] = field(default_factory=dict)  # cell number -> timeout
    errors: dict[int, str] = field(default_factory=dict)  # cell number -> "NameError: ..."
    stopped: tuple[int, str] | None = None  # (cell number, why) when the run ended early
    truncated: bool = False  # outputs were dropped past the output limit
    mode: str = ""  # the grader's mode, which every verdict must have been made in
    token: str = ""  # the run's token, which every verdict must carry
