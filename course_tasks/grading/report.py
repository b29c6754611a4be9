"""Step 4: report: the instructor's tables and JSON, a gradebook CSV, each learner's feedback.

The CSV and the feedback files are written as each notebook is graded, so a run that is
stopped half-way keeps what it graded.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, TextIO

from course_tasks.grading.assemble import id_key
from course_tasks.grading.model import Graded


def _percent(points: int, max_points: int) -> str:
    return f"{100 * points / max_points:.0f}%" if max_points else "n/a"


def render_one(graded: Graded) -> list[str]:
    """The table of one notebook."""
    took = f", {graded.seconds:.1f} s" if graded.seconds else ""
    lines = [
        f"{graded.path}: {graded.points}/{graded.max_points} points "
        f"({_percent(graded.points, graded.max_points)}{took})"
    ]
    if graded.error:
        lines.append(f"  error: {graded.error}")
    if graded.problem:
        lines.append(f"  grading problem (not the learner's): {graded.problem}")
    for flag in graded.flags:
        lines.append(f"  flag: {flag}")
    for note in graded.notes:
        lines.append(f"  note: {note}")
    if graded.exercises:
        table = [("", "id", "title", "points", "max", "feedback")]
        for row in graded.exercises:
            mark = "✓" if row.passed else "✗"
            table.append(
                (mark, row.id, row.title, str(row.points), str(row.max_points), row.feedback)
            )
        table.append(("", "total", "", str(graded.points), str(graded.max_points), ""))
        widths = [max(len(r[i]) for r in table) for i in range(5)]
        for r in table:
            cells = [
                r[0].ljust(widths[0]),
                r[1].ljust(widths[1]),
                r[2].ljust(widths[2]),
                r[3].rjust(widths[3]),
                r[4].rjust(widths[4]),
                r[5],
            ]
            lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def render(results: list[Graded], problem: str | None = None) -> str:
    lines: list[str] = []
    if problem:
        lines += [f"warning: {problem}", ""]
    for graded in results:
        lines += render_one(graded)
        lines.append("")
    points = sum(g.points for g in results)
    max_points = sum(g.max_points for g in results)
    count = len(results)
    lines.append(
        f"Overall: {points}/{max_points} points ({_percent(points, max_points)}) "
        f"in {count} notebook{'s' if count != 1 else ''}"
    )
    problems = sum(1 for g in results if g.problem)
    flagged = sum(1 for g in results if g.flags)
    if problems:
        lines.append(f"Grading problems in {problems}: grade those notebooks again")
    if flagged:
        lines.append(f"Flagged for a person to look at: {flagged}")
    return "\n".join(lines)


def to_json(results: list[Graded]) -> dict[str, Any]:
    return {
        "notebooks": [g.to_json() for g in results],
        "points": sum(g.points for g in results),
        "max_points": sum(g.max_points for g in results),
    }


class Gradebook:
    """``--csv FILE``: one row per learner and notebook, one column per exercise."""

    FIXED = ["learner", "notebook", "chapter", "points", "max_points"]
    TAIL = ["error", "grading_problem", "flags"]

    def __init__(self, stream: TextIO, exercise_ids: list[str]) -> None:
        self.stream = stream
        self.ids = sorted(set(exercise_ids), key=id_key)
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow([*self.FIXED, *self.ids, *self.TAIL])
        stream.flush()

    def add(self, graded: Graded) -> None:
        points = {row.id: row.points for row in graded.exercises}
        self.writer.writerow([
            graded.learner, graded.path, graded.chapter or "", graded.points, graded.max_points,
            *(points.get(key, "") for key in self.ids),
            graded.error or "", graded.problem or "", " | ".join(graded.flags),
        ])  # fmt: skip
        self.stream.flush()


_UNSAFE = re.compile(r"[^\w.() -]+")


class Feedback:
    """``--feedback DIR``: ``DIR/<learner>/<notebook>.md`` for each graded notebook."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: set[Path] = set()

    def path_for(self, graded: Graded) -> Path:
        learner = _UNSAFE.sub("_", graded.learner).strip(". ") or "learner"
        stem = _UNSAFE.sub("_", Path(graded.path).stem).strip(". ") or "notebook"
        path = self.folder / learner / f"{stem}.md"
        number = 2
        while path in self.written:
            path = self.folder / learner / f"{stem} ({number}).md"
            number += 1
        return path

    def add(self, graded: Graded) -> Path:
        path = self.path_for(graded)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_text(graded), encoding="utf-8")
        self.written.add(path)
        return path


def feedback_text(graded: Graded) -> str:
    """What a learner reads: the score, then each exercise, what went wrong and the hint."""
    name = Path(graded.path).name
    lines = [
        f"# Feedback on {name}",
        "",
        f"**{graded.points}/{graded.max_points} points** "
        f"({_percent(graded.points, graded.max_points)})",
        "",
    ]
    if graded.problem:
        lines += [
            "Your notebook could not be graded properly because of a problem on the grading "
            f"side, not in your work: {graded.problem}. Your instructor will grade it again.",
            "",
        ]
    if graded.error:
        lines += [f"Your notebook could not be run: {graded.error}.", ""]
    passed = [row for row in graded.exercises if row.passed]
    failed = [row for row in graded.exercises if not row.passed]
    if passed:
        lines += ["## Passed", ""]
        lines += [f"- ✓ {row.id} {row.title} ({row.points}/{row.max_points}): {row.feedback}"
                  for row in passed]  # fmt: skip
        lines.append("")
    if failed:
        lines += ["## Not yet passed", ""]
        for row in failed:
            lines.append(f"### ✗ {row.id} {row.title} ({row.points}/{row.max_points})")
            lines.append("")
            problem, _, hint = row.feedback.partition(" Hint: ")
            lines.append(problem)
            if hint:
                lines += ["", f"**Hint:** {hint}"]
            lines.append("")
    if graded.notes:
        lines += ["## How your notebook was run", ""]
        lines += [f"- {note}" for note in graded.notes]
        lines.append("")
    lines += [
        "The grader runs the released exercise notebook from the top in a fresh kernel, with "
        "your answer cells put in; cells you added and outputs you saved are not used.",
        "",
    ]
    return "\n".join(lines)
