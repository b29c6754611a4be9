"""Step 3: collect the verdicts, one per exercise, from the check cells of this run only.

A verdict counts when it is an ``application/vnd.celery-course.check+json`` display

* in the outputs of the released check cell of its exercise (outputs of any other cell,
  an answer cell's own display included, are ignored), in the run the grader just did;
* whose id is that exercise's, whose points are a whole number (anything else scores 0);
* made in the grader's mode and run: the display's metadata carries the kernel app's mode
  and the run's token (:func:`course_tasks.checks.provenance`). A verdict made in another
  mode (an answer that switched to eager) or without the token scores 0 and is flagged.

Points are capped at the exercise's registered maximum. An exercise without a verdict
scores 0 with the reason ("not run: cell 7 timed out after 30 s (an infinite loop?)").
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from course_tasks.checks import MIME_TYPE, Outcome
from course_tasks.grading.assemble import Assembled, Expected
from course_tasks.grading.model import Run

_ID_RE = re.compile(r"^\d{2}\.\d{1,3}$", re.ASCII)
MAX_FEEDBACK_CHARS = 2_000


def _payloads(cell: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = []
    for output in cell.get("outputs", []):
        data = output.get("data", {}).get(MIME_TYPE)
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except (json.JSONDecodeError, RecursionError):
                continue
        meta = output.get("metadata", {}).get(MIME_TYPE, {})
        if isinstance(data, dict):
            found.append((data, meta if isinstance(meta, dict) else {}))
    return found


def whole_points(value: Any, maximum: int) -> int:
    """``value`` as points between 0 and ``maximum``; 0 for anything but a whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return 0
    return max(0, min(int(value), maximum))


def rows(done: Assembled, run: Run) -> tuple[list[Outcome], list[str]]:
    """One row per expected exercise, and the flags the verdicts raised."""
    release = done.release
    flags: list[str] = []
    out: list[Outcome] = []
    for key, ex in release.expected.items():
        number = release.checks.get(key)
        if number is None:
            reason = f"the released exercise has no check cell for {key}: rebuild exercises/"
            out.append(Outcome(key, ex.title, 0, ex.points, f"not run: {reason}"))
            continue
        cell = done.nb.cells[number - 1]
        verdicts = []
        for data, meta in _payloads(cell):
            if data.get("id") != key or not _ID_RE.match(str(data.get("id"))):
                flags.append(f"{key} (cell {number}): a display for another exercise was ignored")
                continue
            if meta.get("run") != run.token:
                flags.append(
                    f"{key} (cell {number}): a verdict not made by this run's checker was ignored"
                )
                continue
            if meta.get("mode") != run.mode or meta.get("env_mode") != run.mode:
                where = f"the check ran in {meta.get('mode')} mode"
                flags.append(
                    f"{key} (cell {number}): {where} (COURSE_BROKER: {meta.get('env_mode')}), "
                    f"not the grader's {run.mode}: 0 points"
                )
                verdicts.append(Outcome(key, ex.title, 0, ex.points, f"{where}, not {run.mode}"))
                continue
            verdicts.append(_outcome(ex, data))
        if len(verdicts) > 1:
            flags.append(
                f"{key} (cell {number}): {len(verdicts)} verdicts from one check: the lowest counts"
            )
        if verdicts:
            out.append(min(verdicts, key=lambda o: o.points))
            continue
        reason = _not_run_reason(number, run)
        out.append(Outcome(key, ex.title, 0, ex.points, f"not run: {reason}"))
    return out, flags


def _outcome(ex: Expected, data: dict[str, Any]) -> Outcome:
    feedback = data.get("feedback")
    text = (
        feedback[:MAX_FEEDBACK_CHARS] if isinstance(feedback, str) and feedback else "no feedback"
    )
    return Outcome(ex.id, ex.title, whole_points(data.get("points"), ex.points), ex.points, text)


def _not_run_reason(check_cell: int, run: Run) -> str:
    if run.stopped and run.stopped[0] < check_cell:
        cell, why = run.stopped
        timeout = run.timed_out.get(cell)
        if timeout is not None and "time limit" not in why:
            return (
                f"cell {cell} timed out after {timeout:g} s and {why}; "
                f"the check (cell {check_cell}) never ran"
            )
        return f"{why} in cell {cell}; the check (cell {check_cell}) never ran"
    if run.stopped and run.stopped[0] == check_cell:
        timeout = run.timed_out.get(check_cell)
        lead = f"its check (cell {check_cell})"
        if timeout is not None and "time limit" not in run.stopped[1]:
            return f"{lead} timed out after {timeout:g} s and {run.stopped[1]}"
        return f"{run.stopped[1]} while running {lead}"
    if check_cell in run.timed_out:
        return (
            f"its check (cell {check_cell}) timed out after "
            f"{run.timed_out[check_cell]:g} s (an infinite loop?)"
        )
    earlier = [cell for cell in sorted(run.timed_out) if cell < check_cell]
    lead = ""
    if earlier:
        cell = earlier[-1]
        lead = f"cell {cell} timed out after {run.timed_out[cell]:g} s (an infinite loop?)"
    if check_cell in run.errors:
        then = f"its check (cell {check_cell}) raised {run.errors[check_cell]}"
        return f"{lead}; then {then}" if lead else then
    return lead or f"its check (cell {check_cell}) showed no verdict"


def not_run_rows(expected: dict[str, Expected], why: str) -> list[Outcome]:
    return [Outcome(k, ex.title, 0, ex.points, f"not run: {why}") for k, ex in expected.items()]
