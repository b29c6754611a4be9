"""``python -m course_tasks grade``: real notebooks in fresh kernels, every kind of bad input.

Executing notebooks is slow, so one grading run (module fixture, ``--jobs 2``) covers the
solution, the untouched exercise, one wrong answer, an infinite loop and broken paths; the
tests below read its JSON. The forgeries and the submissions that try to spoil other
notebooks are in ``test_grading_forgery.py``.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from gradekit import by_path, grade, notebook, private_package, rows, solution_answers, write

from conftest import ROOT, course_env

TITLES = {
    "01.1": "send a task to the worker",
    "01.2": "queue the welcome mail",
    "01.3": "a task's status from its id",
    "01.4": "only json travels",
}
POINTS = {"01.1": 1, "01.2": 2, "01.3": 2, "01.4": 1}
WRONG_01_2 = (
    "signup returned an AsyncResult, not the task id. Hint: a web handler answers with json: "
    "return the handle's id (a str)"
)
NOT_YET = {
    "01.1": (0, "not yet: replace the ... with your code, run that cell, then this one"),
    "01.2": (0, "not yet: write the body of signup, run that cell, then this one"),
    "01.3": (0, "not yet: write the body of status_of, run that cell, then this one"),
    "01.4": (0, "not yet: write the body of welcome, run that cell, then this one"),
}


def infinite_loop() -> dict[str, Any]:
    """01.1 and 01.3 right, 01.2 loops for ever, the 01.4 answer cell deleted."""
    right = solution_answers()
    nb = notebook({1: right[0], 2: "while True:\n    pass", 3: right[2]})
    nb["cells"] = [c for c in nb["cells"] if "class User" not in "".join(c["source"])]
    return nb


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return private_package(tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("grading")
    wrong = solution_answers()[1].replace("return task.id", "return task")
    (tmp / "broken").mkdir()
    (tmp / "broken" / "01_concepts.ipynb").write_text("{not json", encoding="utf-8")
    (tmp / "broken" / "notes.ipynb").write_text('{"nbformat": 3}', encoding="utf-8")
    (tmp / "empty").mkdir()
    return {
        "solution": str(ROOT / "solutions" / "01_concepts_solutions.ipynb"),
        "exercise": str(ROOT / "exercises" / "01_concepts_exercises.ipynb"),
        "wrong": write(tmp / "bob" / "01_concepts.ipynb", notebook({2: wrong}, solved=True)),
        "loop": write(tmp / "carol" / "01_concepts.ipynb", infinite_loop()),
        "broken": str(tmp / "broken"),
        "missing": str(tmp / "missing" / "01_concepts.ipynb"),
        "nowhere": str(tmp / "nowhere"),
        "empty": str(tmp / "empty"),
        "csv": str(tmp / "grades.csv"),
        "feedback": str(tmp / "feedback"),
    }


ORDER = ["solution", "exercise", "wrong", "loop", "broken", "missing", "nowhere", "empty"]


@pytest.fixture(scope="module")
def graded(package: Path, paths: dict[str, str]) -> dict[str, Any]:
    """One grading run over everything: --json --jobs 2 --timeout 5, a CSV, feedback files."""
    proc = grade(
        package, "--json", "--jobs", "2", "--timeout", "5", "--csv", paths["csv"],
        "--feedback", paths["feedback"], *(paths[k] for k in ORDER), COURSE_SMTP_SECONDS="0.2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def found(graded: dict[str, Any], path: str) -> dict[str, Any]:
    return by_path(graded)[path]


def test_the_solution_gets_full_marks(graded: dict[str, Any], paths: dict[str, str]) -> None:
    nb = found(graded, paths["solution"])
    assert (nb["points"], nb["max_points"]) == (6, 6)
    assert set(nb) == {"path", "points", "max_points", "exercises"}  # no error, flag or note
    for ex in nb["exercises"]:
        assert ex["points"] == ex["max_points"] == POINTS[ex["id"]]
        assert ex["feedback"].startswith("passed (")


def test_the_untouched_exercise_scores_zero_with_not_yet_everywhere(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    nb = found(graded, paths["exercise"])
    assert (nb["points"], nb["max_points"]) == (0, 6)
    assert rows(nb) == NOT_YET


def test_one_wrong_answer_loses_its_points_with_its_hint(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    nb = found(graded, paths["wrong"])
    assert (nb["points"], nb["max_points"]) == (4, 6)
    assert rows(nb)["01.2"] == (0, WRONG_01_2)
    assert [p for p, _ in rows(nb).values()] == [1, 0, 2, 1]


def test_an_infinite_loop_times_out_and_a_deleted_answer_runs_as_its_stub(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    nb = found(graded, paths["loop"])
    got = rows(nb)
    assert got["01.1"][0] == 1 and got["01.3"][0] == 2
    assert got["01.2"] == (
        0,
        "not run: cell 8 timed out after 5 s (an infinite loop?); then its check (cell 9) "
        "raised NameError: name 'signup' is not defined",
    )
    assert got["01.4"] == NOT_YET["01.4"]  # the released check cell ran on the stub
    assert nb["notes"] == ["01.4: no answer cell (id 0946e861) in the notebook: its stub was run"]
    assert (nb["points"], nb["max_points"]) == (3, 6)


def test_broken_missing_and_empty_paths_get_an_error_row(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    broken = str(Path(paths["broken"]) / "01_concepts.ipynb")
    invalid = "not a notebook (invalid JSON at line 1, column 2)"
    nb = found(graded, broken)
    assert nb["error"] == invalid
    assert rows(nb) == {key: (0, f"not run: {invalid}") for key in TITLES}
    assert nb["max_points"] == 6

    nb = found(graded, str(Path(paths["broken"]) / "notes.ipynb"))
    assert (nb["error"], nb["exercises"], nb["max_points"]) == (
        "not an nbformat-4 notebook (nbformat 3)",
        [],
        0,
    )
    nb = found(graded, paths["missing"])
    assert nb["error"] == "no such file"
    assert rows(nb) == {key: (0, "not run: no such file") for key in TITLES}
    assert found(graded, paths["nowhere"])["error"] == "no such file or folder"
    assert found(graded, paths["empty"])["error"] == "no notebooks (*.ipynb) in this folder"


def test_json_schema_and_order(graded: dict[str, Any]) -> None:
    assert set(graded) == {"notebooks", "points", "max_points"}
    assert graded["points"] == sum(nb["points"] for nb in graded["notebooks"])
    assert graded["max_points"] == sum(nb["max_points"] for nb in graded["notebooks"])
    assert len(graded["notebooks"]) == 9
    for nb in graded["notebooks"]:
        assert set(nb) - {"error", "problem", "flags", "notes"} == {
            "path", "points", "max_points", "exercises"}  # fmt: skip
        assert isinstance(nb["path"], str) and isinstance(nb.get("error", ""), str)
        assert "problem" not in nb and "flags" not in nb
        assert nb["points"] == sum(ex["points"] for ex in nb["exercises"])
        assert nb["max_points"] == sum(ex["max_points"] for ex in nb["exercises"])
        for ex in nb["exercises"]:
            assert list(ex) == ["id", "title", "points", "max_points", "feedback"]
            assert ex["title"] == TITLES[ex["id"]]
            assert ex["max_points"] == POINTS[ex["id"]]
            assert 0 <= ex["points"] <= ex["max_points"]


def test_jobs_keep_the_order_of_the_paths(graded: dict[str, Any], paths: dict[str, str]) -> None:
    shown = [nb["path"] for nb in graded["notebooks"]]
    assert shown[:4] == [paths[k] for k in ORDER[:4]]


def test_csv_gradebook_has_a_row_per_notebook_and_a_column_per_exercise(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    with open(paths["csv"], encoding="utf-8", newline="") as stream:
        table = list(csv.DictReader(stream))
    header = list(table[0])
    assert header == [
        "learner", "notebook", "chapter", "points", "max_points",
        "01.1", "01.2", "01.3", "01.4", "error", "grading_problem", "flags",
    ]  # fmt: skip
    assert sorted(r["notebook"] for r in table) == sorted(nb["path"] for nb in graded["notebooks"])
    bob = next(r for r in table if r["notebook"] == paths["wrong"])
    assert (bob["learner"], bob["chapter"], bob["points"], bob["max_points"]) == (
        "bob", "01", "4", "6")  # fmt: skip
    assert [bob[k] for k in ("01.1", "01.2", "01.3", "01.4")] == ["1", "0", "2", "1"]
    missing = next(r for r in table if r["notebook"] == paths["missing"])
    assert missing["error"] == "no such file" and missing["01.1"] == "0"


def test_feedback_files_say_what_passed_what_did_not_and_the_hints(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    text = (Path(paths["feedback"]) / "bob" / "01_concepts.md").read_text(encoding="utf-8")
    assert "**4/6 points** (67%)" in text
    assert "- ✓ 01.1 send a task to the worker (1/1): passed (" in text
    assert "### ✗ 01.2 queue the welcome mail (0/2)" in text
    assert "signup returned an AsyncResult, not the task id." in text
    assert "**Hint:** a web handler answers with json: return the handle's id (a str)" in text
    carol = (Path(paths["feedback"]) / "carol" / "01_concepts.md").read_text(encoding="utf-8")
    assert "- 01.4: no answer cell (id 0946e861) in the notebook: its stub was run" in carol


def test_text_output_and_exit_status(package: Path, tmp_path: Path) -> None:
    (tmp_path / "01_broken.ipynb").write_text("{", encoding="utf-8")
    proc = grade(package, str(tmp_path / "01_broken.ipynb"), str(tmp_path / "gone"))
    assert proc.returncode == 0
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{tmp_path / '01_broken.ipynb'}: 0/6 points (0%)"
    assert lines[1] == "  error: not a notebook (invalid JSON at line 1, column 2)"
    assert lines[2].split() == ["id", "title", "points", "max", "feedback"]
    assert lines[3].split()[:3] == ["✗", "01.1", "send"]
    assert lines[3].endswith("0    1  not run: not a notebook (invalid JSON at line 1, column 2)")
    assert f"{tmp_path / 'gone'}: 0/0 points (n/a)" in lines
    assert "  error: no such file or folder" in lines
    assert lines[-1] == "Overall: 0/6 points (0%) in 2 notebooks"


@pytest.mark.parametrize(
    "args",
    [
        ["grade"],
        ["grade", "x.ipynb", "--timeout", "0"],
        ["grade", "x.ipynb", "--timeout", "soon"],
        ["grade", "x.ipynb", "--jobs", "0"],
        ["grade", "x.ipynb", "--notebook-timeout", "-1"],
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "course_tasks", *args], capture_output=True,
                          text=True, timeout=30, cwd=ROOT, env=course_env())  # fmt: skip
    assert proc.returncode == 2
    assert "usage: python -m course_tasks grade" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ctrl_c_stops_grading_and_every_process_it_started(tmp_path: Path) -> None:
    loop = write(tmp_path / "01_concepts.ipynb", infinite_loop())
    proc = subprocess.Popen(
        [sys.executable, "-m", "course_tasks", "grade", "--timeout", "60", loop,
         str(ROOT / "solutions" / "01_concepts_solutions.ipynb")],
        cwd=ROOT, env=course_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the sandbox and its kernel, well into the loop
        time.sleep(0.2)
        seen |= set(descendants(proc.pid))
        if len(seen) >= 2 and time.monotonic() > deadline - 25:
            break
    time.sleep(2)
    seen |= set(descendants(proc.pid))
    assert len(descendants(proc.pid)) == 2  # one sandbox, one kernel: nothing started ahead
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert out == ""
    assert err.splitlines()[-1] == (
        "interrupted: grading stopped; every kernel it started is shut down"
    )
    deadline = time.monotonic() + 5  # a process killed just now may take a moment to go
    while [pid for pid in seen if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in seen if running(pid)] == []


def running(pid: str) -> bool:
    """Whether ``pid`` is a process that is not a zombie (a zombie runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> list[str]:
    parents: dict[str, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[stat.parent.name] = fields[1]
    out, todo = [], [str(pid)]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        out += kids
        todo += kids
    return out


def test_every_chapter_solution_full_marks_and_every_exercise_zero(package: Path) -> None:
    """The acceptance run: grade solutions/ and exercises/ for every chapter (two at once)."""
    proc = grade(package, "--json", "--jobs", "2", str(ROOT / "solutions"),
                 str(ROOT / "exercises"), timeout=600, COURSE_SMTP_SECONDS="0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    by_folder: dict[str, list[dict[str, Any]]] = {"solutions": [], "exercises": []}
    for nb in report["notebooks"]:
        by_folder[Path(nb["path"]).parent.name].append(nb)
    chapters = sorted(p.name[:2] for p in (ROOT / "solutions").glob("*.ipynb"))
    assert sorted(Path(nb["path"]).name[:2] for nb in by_folder["solutions"]) == chapters
    assert sorted(Path(nb["path"]).name[:2] for nb in by_folder["exercises"]) == chapters
    for nb in by_folder["solutions"]:
        assert len(nb["exercises"]) >= 3, nb["path"]
        wrong = [ex for ex in nb["exercises"] if ex["points"] != ex["max_points"]]
        assert not wrong, f"{nb['path']}: {wrong}"
        assert "flags" not in nb, nb  # no solution reaches into the checker
    for nb in by_folder["exercises"]:
        assert nb["points"] == 0, nb["path"]
        for ex in nb["exercises"]:
            assert ex["feedback"].startswith("not yet"), f"{nb['path']} {ex['id']}: {ex}"
