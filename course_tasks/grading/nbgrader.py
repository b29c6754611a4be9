"""Export the exercises to nbgrader: ``python -m course_tasks export-nbgrader DIR [NAMES...]``.

An instructor who grades with nbgrader gets a course folder it can use as it is::

    DIR/nbgrader_config.py
    DIR/source/NN_topic/NN_topic_exercises.ipynb     (one assignment per chapter)

Each source notebook is ``solutions/NN_topic_solutions.ipynb`` without outputs, with nbgrader's cell
metadata (schema 3):

* an answer cell (a code cell with a ``### BEGIN SOLUTION`` region, nbgrader's own marker)
  is a *solution* cell, ``grade_id`` ``answer_NN_k``;
* a check cell is a locked *graded test* cell worth the exercise's points, ``grade_id``
  ``check_NN_k``; it calls :func:`course_tasks.checks.require` instead of ``check``, which
  shows the same line and raises when the exercise did not pass (nbgrader gives a test cell
  its points when it does not raise);
* every other cell (prose, set-up, ``runtime.stop()``) is locked (read-only).

``nbgrader generate_assignment NN_topic`` then releases it, and ``nbgrader autograde`` gives
the points our grader gives (tests/test_grading_nbgrader.py proves it with nbgrader itself).
nbgrader replaces each solution region with one stub for the whole course: the config sets
it to ``...``, as in ``exercises/``.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

from course_tasks.authoring import (
    AuthoringError,
    NotebookError,
    exercise_name,
    load_notebook,
    stub_source,
)

SCHEMA_VERSION = 3
_CHECK_RE = re.compile(r"""\bcheck\((?=\s*["'](\d{2}\.\d+)["'])""", re.ASCII)

CONFIG = """\
# nbgrader configuration for the Celery + Redis course (written by
# `python -m course_tasks export-nbgrader`). Run nbgrader from this folder, in the
# environment the course is installed in (the autograder imports course_tasks).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "celery-course"
# The stub nbgrader puts where a solution was: the same `...` as the course's exercises/.
c.ClearSolutions.code_stub = {"python": "..."}
# The checks run the learner's code against a worker: give a cell time.
c.Execute.timeout = 120
"""


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False,
          points: int | None = None) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def source_notebook(solution: Any, registry: dict[str, Any]) -> Any:
    """The nbgrader source notebook for one chapter's solutions notebook."""
    nb = copy.deepcopy(solution)
    if nb.cells and nb.cells[0].cell_type == "markdown":  # the title, as in exercises/
        first, _, rest = nb.cells[0].source.partition("\n")
        nb.cells[0].source = first.replace("Solutions", "Exercises") + ("\n" + rest if rest else "")
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        ids = _CHECK_RE.findall(cell.source) if cell.cell_type == "code" else []
        regions = stub_source(cell.source)[1] if cell.cell_type == "code" else 0
        if ids:
            key = ids[0]
            points = registry[key].points if key in registry else 1
            cell.source = "from course_tasks.checks import require\n\n" + _CHECK_RE.sub(
                "require(", cell.source
            )
            cell.metadata["nbgrader"] = _meta(
                f"check_{key.replace('.', '_')}", grade=True, points=points
            )
        elif regions:
            later = [
                _CHECK_RE.findall(c.source)
                for c in nb.cells[index + 1 :]
                if c.cell_type == "code" and _CHECK_RE.findall(c.source)
            ]
            key = later[0][0] if later else f"cell{index}"
            cell.metadata["nbgrader"] = _meta(f"answer_{key.replace('.', '_')}", solution=True)
        else:
            cell.metadata["nbgrader"] = _meta(f"locked_{index:02d}")
    return nb


def export(course: Path, target: Path, names: list[str] | None = None) -> list[Path]:
    """Write ``target``'s config and one source assignment per chapter; the files written."""
    import nbformat

    from course_tasks.checks import load_all

    registry = load_all()
    solutions = sorted((course / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if names:
        solutions = [p for p in solutions if any(p.stem.startswith(n) for n in names)]
    written = []
    target.mkdir(parents=True, exist_ok=True)
    config = target / "nbgrader_config.py"
    config.write_text(CONFIG, encoding="utf-8")
    written.append(config)
    for path in solutions:
        nb = source_notebook(load_notebook(path), registry)
        # The assignment is the chapter (01_concepts); its notebook has the name learners
        # know from exercises/ (01_concepts_exercises.ipynb), never "solutions".
        name = exercise_name(path)
        out = target / "source" / name.removesuffix("_exercises.ipynb") / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(out)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_tasks export-nbgrader",
        description="Write the exercises as an nbgrader course folder (source/ and config).",
    )
    parser.add_argument("target", metavar="DIR", type=Path, help="the nbgrader course folder")
    parser.add_argument("names", nargs="*", metavar="NAME", help="chapters (01, 01_concepts)")
    parser.add_argument(
        "--course", type=Path, default=None, metavar="DIR",
        help="the course folder holding solutions/ (default: this course)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from course_tasks.grading.cli import default_course

    try:
        written = export(args.course or default_course(), args.target, args.names)
    except (AuthoringError, NotebookError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    if len(written) == 1:
        print("error: no solutions/NN_*.ipynb matched", file=sys.stderr)
        return 1
    return 0
