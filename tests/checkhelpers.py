"""Helpers of the exercise checks' tests (``test_checks_chNN.py``): run a check, judge it."""

from __future__ import annotations

from typing import Any

from course_tasks.checks import Outcome, evaluate


def verdict(id: str, *args: Any) -> Outcome:
    """The outcome of check ``id`` on ``args`` (asserting that the exercise exists)."""
    outcome = evaluate(id, *args)
    assert outcome.title != "unknown exercise", outcome.feedback
    return outcome


def assert_passed(outcome: Outcome, detail: str = "") -> None:
    """``outcome`` passed with full (non-zero) points, and its feedback holds ``detail``."""
    assert outcome.passed, outcome.feedback
    assert outcome.points == outcome.max_points > 0
    assert detail in outcome.feedback


def assert_fails(
    outcome: Outcome, problem: str, hint: str | None = None, *, hint_within: bool = False
) -> None:
    """``outcome`` failed with no points; its feedback names ``problem`` and gives ``hint``.

    ``hint=None``: the feedback has no hint at all. Otherwise it holds ``Hint: `` followed
    by ``hint`` or, with ``hint_within``, ``hint`` anywhere after its first ``Hint: ``.
    """
    assert not outcome.passed, outcome.feedback
    assert outcome.points == 0
    assert problem in outcome.feedback, outcome.feedback
    if hint is None:
        assert "Hint:" not in outcome.feedback, outcome.feedback
    elif hint_within:
        assert "Hint: " in outcome.feedback, outcome.feedback
        assert hint in outcome.feedback.split("Hint: ", 1)[1], outcome.feedback
    else:
        assert f"Hint: {hint}" in outcome.feedback, outcome.feedback
