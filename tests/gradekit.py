"""Helpers for the grader's tests: learners' notebooks made from the released chapter 01, and
the grader run on a private copy of ``course_tasks`` (what a submission writes into "the
installed package" lands in that copy, never in the work tree).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ROOT, course_env

EXERCISE = ROOT / "exercises" / "01_concepts_exercises.ipynb"
SOLUTION = ROOT / "solutions" / "01_concepts_solutions.ipynb"
MIME = "application/vnd.celery-course.check+json"
_CHECK = re.compile(r'check\("(01\.\d)"')


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def answer_ids() -> list[str]:
    """Cell ids of the four answer cells, in order (the cells before each check cell)."""
    cells = _load(EXERCISE)["cells"]
    return [cells[n - 1]["id"] for n, c in enumerate(cells) if _CHECK.match("".join(c["source"]))]


def check_ids() -> list[str]:
    return [c["id"] for c in _load(EXERCISE)["cells"] if _CHECK.match("".join(c["source"]))]


def solution_answers() -> list[str]:
    cells = {c["id"]: "".join(c["source"]) for c in _load(SOLUTION)["cells"]}
    return [cells[i] for i in answer_ids()]


def notebook(
    answers: dict[int, str] | None = None, *, solved: bool = False, saved_outputs: bool = False
) -> dict[str, Any]:
    """The released exercise (or the solution, ``solved``) with answer k (1-4) replaced.

    ``saved_outputs``: every check cell carries the outputs stored in ``solutions/`` (what a
    learner can copy from there).
    """
    nb = copy.deepcopy(_load(SOLUTION if solved else EXERCISE))
    ids = answer_ids()
    by_id = {c["id"]: c for c in nb["cells"]}
    for k, source in (answers or {}).items():
        by_id[ids[k - 1]]["source"] = source
    if saved_outputs:
        stored = {c["id"]: c.get("outputs", []) for c in _load(SOLUTION)["cells"]}
        for cell_id in check_ids():
            by_id[cell_id]["outputs"] = copy.deepcopy(stored[cell_id])
            by_id[cell_id]["execution_count"] = 1
    return nb


def write(path: Path, nb: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return str(path)


def private_package(folder: Path) -> Path:
    """A copy of ``course_tasks`` in ``folder`` (the grader guards and restores this one)."""
    target = folder / "course_tasks"
    if not target.exists():
        shutil.copytree(ROOT / "course_tasks", target,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return target


def grade(
    package: Path, *args: str, timeout: float = 300, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """``python -m course_tasks grade --course ROOT ARGS`` importing the copy in ``package``."""
    return subprocess.run(
        [sys.executable, "-m", "course_tasks", "grade", "--course", str(ROOT), *args],
        capture_output=True, text=True, timeout=timeout, cwd=package.parent,
        env=course_env(PYTHONPATH=str(package.parent), **env),
    )  # fmt: skip


def by_path(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {nb["path"]: nb for nb in report["notebooks"]}


def rows(nb: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {ex["id"]: (ex["points"], ex["feedback"]) for ex in nb["exercises"]}


def forged_display(points: Any = 1, exercise: str = "01.1", *, token: bool = False) -> str:
    """Python source that displays a verdict of its own (with the run's token if ``token``)."""
    run = '__import__("os").environ.get("COURSE_GRADING_RUN", "")'
    meta = (
        f'{{"{MIME}": {{"mode": "embedded", "env_mode": "embedded", "run": {run}}}}}'
        if token
        else "{}"
    )
    data = {"text/plain": f"✓ {exercise} forged", MIME: {
        "id": exercise, "title": "forged", "points": "POINTS", "max_points": 1,
        "feedback": "passed (forged)", "passed": True}}  # fmt: skip
    literal = repr(data).replace("'POINTS'", points if isinstance(points, str) else repr(points))
    return (
        "from IPython.display import display as _show\n"
        f"_show({literal}, raw=True, metadata={meta})\n"
    )


def forged_check(points: Any = 1, exercise: str = "01.1", *, token: bool = False) -> str:
    """Python source that redefines ``check``: 01.1 displays a forged verdict, others run."""
    body = forged_display(points, exercise, token=token)
    return (
        "_real_check = check\n"
        "def check(id, *args, **kwargs):\n"
        "    if id != '01.1':\n"
        "        return _real_check(id, *args, **kwargs)\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
    )
