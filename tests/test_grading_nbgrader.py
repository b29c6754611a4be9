"""nbgrader interoperability, proved with nbgrader itself.

``python -m course_tasks export-nbgrader`` writes chapter 01 as an nbgrader source
assignment; nbgrader's ``generate_assignment`` releases it and its ``autograde`` grades two
submissions made from the release: one solved (the solution's answers put in the solution
cells), one untouched. Our grader, on the same submitted files, gives the same points per
exercise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gradekit import by_path, grade, private_package

from conftest import ROOT, course_env

pytest.importorskip("nbgrader", reason="nbgrader is in the test extra (pip install -e .[test])")

CHAPTER = "01_concepts"


def nbgrader(course: Path, *args: str) -> None:
    env = course_env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = tmp_path_factory.mktemp("nbgrader")
    proc = subprocess.run(
        [sys.executable, "-m", "course_tasks", "export-nbgrader", str(course), "01"],
        cwd=ROOT, env=course_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    nbgrader(course, "generate_assignment", CHAPTER, "--force")
    source = json.loads((course / "source" / CHAPTER / f"{CHAPTER}_exercises.ipynb").read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c["metadata"]["nbgrader"]["solution"]}  # fmt: skip
    released = (course / "release" / CHAPTER / f"{CHAPTER}_exercises.ipynb").read_text()
    for student in ("solver", "idle"):
        nb = json.loads(released)
        if student == "solver":
            for cell in nb["cells"]:
                grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
                if grade_id in answers:
                    cell["source"] = answers[grade_id]
        target = course / "submitted" / student / CHAPTER / f"{CHAPTER}_exercises.ipynb"
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(nb), encoding="utf-8")
    nbgrader(course, "autograde", CHAPTER, "--force")
    return course


def nbgrader_points(course: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        nb = book.find_submission_notebook(f"{CHAPTER}_exercises", CHAPTER, student)
        return {
            g.name.removeprefix("check_").replace("_", "."): g.score
            for g in nb.grades if g.name.startswith("check_")
        }  # fmt: skip


def test_the_export_marks_solution_locked_and_graded_cells(course: Path) -> None:
    source = json.loads((course / "source" / CHAPTER / f"{CHAPTER}_exercises.ipynb").read_text())
    kinds = [(c["metadata"]["nbgrader"]["grade_id"], c["metadata"]["nbgrader"]["solution"],
              c["metadata"]["nbgrader"]["grade"], c["metadata"]["nbgrader"]["locked"],
              c["metadata"]["nbgrader"].get("points")) for c in source["cells"]]  # fmt: skip
    assert ("answer_01_2", True, False, False, None) in kinds
    assert ("check_01_2", False, True, True, 2) in kinds
    assert all(k[3] for k in kinds if k[0].startswith("locked_"))


def test_nbgrader_and_our_grader_give_the_same_points(
    course: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    package = private_package(tmp_path_factory.mktemp("package"))
    submitted = {s: course / "submitted" / s / CHAPTER / f"{CHAPTER}_exercises.ipynb"
                 for s in ("solver", "idle")}  # fmt: skip
    proc = grade(package, "--json", *map(str, submitted.values()))
    assert proc.returncode == 0, proc.stderr
    ours = by_path(json.loads(proc.stdout))
    for student, path in submitted.items():
        mine = {ex["id"]: ex["points"] for ex in ours[str(path)]["exercises"]}
        assert nbgrader_points(course, student) == mine, student
    assert sum(nbgrader_points(course, "solver").values()) == 6
    assert sum(nbgrader_points(course, "idle").values()) == 0
