"""``python -m course_tasks grade``: real notebooks in fresh kernels, every kind of bad input.

Executing notebooks is slow, so one grading run (module fixture) covers the solution, the
generated exercise, a copy with one wrong answer, a notebook with an infinite loop and the
broken paths; the tests below read its JSON.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, course_env, run_course

FIXTURES = Path(__file__).parent / "fixtures"
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


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("grading")
    solution = json.loads((ROOT / "solutions" / "01_concepts.ipynb").read_text(encoding="utf-8"))
    edited = 0
    for cell in solution["cells"]:
        source = "".join(cell["source"])
        if "return task.id" in source:
            cell["source"] = source.replace("return task.id", "return task")
            edited += 1
    assert edited == 1
    (tmp / "wrong").mkdir()
    (tmp / "wrong" / "01_concepts.ipynb").write_text(json.dumps(solution), encoding="utf-8")
    (tmp / "broken").mkdir()
    (tmp / "broken" / "01_concepts.ipynb").write_text("{not json", encoding="utf-8")
    (tmp / "broken" / "notes.ipynb").write_text('{"nbformat": 3}', encoding="utf-8")
    (tmp / "empty").mkdir()
    return {
        "solution": "solutions/01_concepts.ipynb",
        "exercise": "exercises/01_concepts.ipynb",
        "wrong": str(tmp / "wrong" / "01_concepts.ipynb"),
        "loop": str(FIXTURES / "01_infinite_loop.ipynb"),
        "broken": str(tmp / "broken"),
        "missing": str(tmp / "missing" / "01_concepts.ipynb"),
        "nowhere": str(tmp / "nowhere"),
        "empty": str(tmp / "empty"),
    }


@pytest.fixture(scope="module")
def graded(paths: dict[str, str]) -> dict[str, Any]:
    """One grading run over everything, with --json and --timeout 2 (mails take 0.2 s)."""
    order = ["solution", "exercise", "wrong", "loop", "broken", "missing", "nowhere", "empty"]
    proc = run_course(
        "grade", "--json", "--timeout", "2", *(paths[k] for k in order),
        timeout=180, COURSE_SMTP_SECONDS="0.2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def notebook(graded: dict[str, Any], path: str) -> dict[str, Any]:
    found = [nb for nb in graded["notebooks"] if nb["path"] == path]
    assert len(found) == 1, [nb["path"] for nb in graded["notebooks"]]
    return found[0]


def rows(nb: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {ex["id"]: (ex["points"], ex["feedback"]) for ex in nb["exercises"]}


def test_the_solution_gets_full_marks(graded: dict[str, Any], paths: dict[str, str]) -> None:
    nb = notebook(graded, paths["solution"])
    assert (nb["points"], nb["max_points"]) == (6, 6)
    assert "error" not in nb
    for ex in nb["exercises"]:
        assert ex["points"] == ex["max_points"] == POINTS[ex["id"]]
        assert ex["feedback"].startswith("passed (")


def test_the_untouched_exercise_scores_zero_with_not_yet_everywhere(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    nb = notebook(graded, paths["exercise"])
    assert (nb["points"], nb["max_points"]) == (0, 6)
    assert rows(nb) == {
        "01.1": (0, "not yet: replace the ... with your code, run that cell, then this one"),
        "01.2": (0, "not yet: write the body of signup, run that cell, then this one"),
        "01.3": (0, "not yet: write the body of status_of, run that cell, then this one"),
        "01.4": (0, "not yet: write the body of welcome, run that cell, then this one"),
    }


def test_one_wrong_answer_loses_its_points_with_its_hint(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    nb = notebook(graded, paths["wrong"])
    assert (nb["points"], nb["max_points"]) == (4, 6)
    assert rows(nb)["01.2"] == (0, WRONG_01_2)
    assert [p for p, _ in rows(nb).values()] == [1, 0, 2, 1]


def test_an_infinite_loop_times_out_and_the_rest_is_still_graded(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    nb = notebook(graded, paths["loop"])
    found = rows(nb)
    assert found["01.1"][0] == 1 and found["01.3"][0] == 2
    assert found["01.2"] == (
        0,
        "not run: cell 6 timed out after 2 s (an infinite loop?); then its check (cell 7) "
        "raised NameError: name 'signup' is not defined",
    )
    assert found["01.4"] == (0, 'not run: no cell calls check("01.4", ...): was it deleted?')
    assert (nb["points"], nb["max_points"]) == (3, 6)


def test_broken_missing_and_empty_paths_get_an_error_row(
    graded: dict[str, Any], paths: dict[str, str]
) -> None:
    broken = str(Path(paths["broken"]) / "01_concepts.ipynb")
    invalid = "not a notebook (invalid JSON at line 1, column 2)"
    nb = notebook(graded, broken)
    assert nb["error"] == invalid
    assert rows(nb) == {key: (0, f"not run: {invalid}") for key in TITLES}
    assert nb["max_points"] == 6

    nb = notebook(graded, str(Path(paths["broken"]) / "notes.ipynb"))
    assert (nb["error"], nb["exercises"], nb["max_points"]) == (
        "not an nbformat-4 notebook (nbformat 3)",
        [],
        0,
    )
    nb = notebook(graded, paths["missing"])
    assert nb["error"] == "no such file"
    assert rows(nb) == {key: (0, "not run: no such file") for key in TITLES}
    assert notebook(graded, paths["nowhere"])["error"] == "no such file or folder"
    assert notebook(graded, paths["empty"])["error"] == "no notebooks (*.ipynb) in this folder"


def test_json_schema(graded: dict[str, Any]) -> None:
    assert set(graded) == {"notebooks", "points", "max_points"}
    assert graded["points"] == sum(nb["points"] for nb in graded["notebooks"])
    assert graded["max_points"] == sum(nb["max_points"] for nb in graded["notebooks"])
    assert len(graded["notebooks"]) == 9
    for nb in graded["notebooks"]:
        assert set(nb) - {"error"} == {"path", "points", "max_points", "exercises"}
        assert isinstance(nb["path"], str) and isinstance(nb.get("error", ""), str)
        assert nb["points"] == sum(ex["points"] for ex in nb["exercises"])
        assert nb["max_points"] == sum(ex["max_points"] for ex in nb["exercises"])
        for ex in nb["exercises"]:
            assert list(ex) == ["id", "title", "points", "max_points", "feedback"]
            assert ex["title"] == TITLES[ex["id"]]
            assert ex["max_points"] == POINTS[ex["id"]]
            assert 0 <= ex["points"] <= ex["max_points"]


def test_text_output_and_exit_status(tmp_path: Path) -> None:
    (tmp_path / "01_broken.ipynb").write_text("{", encoding="utf-8")
    proc = run_course("grade", str(tmp_path / "01_broken.ipynb"), str(tmp_path / "gone"))
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
    [["grade"], ["grade", "x.ipynb", "--timeout", "0"], ["grade", "x.ipynb", "--timeout", "soon"]],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    proc = run_course(*args)
    assert proc.returncode == 2
    assert "usage: python -m course_tasks grade" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ctrl_c_stops_grading_and_every_kernel() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "course_tasks", "grade", str(FIXTURES / "01_infinite_loop.ipynb"),
         "solutions/01_concepts.ipynb"],
        cwd=ROOT, env=course_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    kernels: list[str] = []
    deadline = time.monotonic() + 30
    while len(kernels) < 2 and time.monotonic() < deadline:  # this one and the next, booting
        time.sleep(0.2)
        kernels = _children(proc.pid)
    time.sleep(1.5)  # well into the notebook (its infinite loop)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert out == ""
    assert err.splitlines()[-1] == (
        "interrupted: grading stopped; every kernel it started is shut down"
    )
    assert len(kernels) == 2
    assert [pid for pid in kernels if Path(f"/proc/{pid}").exists()] == []


def _children(pid: int) -> list[str]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(stat.parent.name)
    return found


def test_every_chapter_solution_full_marks_and_every_exercise_zero() -> None:
    """The issue's acceptance run: grade solutions/ and exercises/ for every chapter."""
    proc = run_course("grade", "--json", "solutions", "exercises", timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    by_folder: dict[str, list[dict[str, Any]]] = {"solutions": [], "exercises": []}
    for nb in report["notebooks"]:
        by_folder[Path(nb["path"]).parent.name].append(nb)
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert sorted(Path(nb["path"]).name for nb in by_folder["solutions"]) == solutions
    assert sorted(Path(nb["path"]).name for nb in by_folder["exercises"]) == solutions
    for nb in by_folder["solutions"]:
        assert len(nb["exercises"]) >= 3, nb["path"]
        wrong = [ex for ex in nb["exercises"] if ex["points"] != ex["max_points"]]
        assert not wrong, f"{nb['path']}: {wrong}"
    for nb in by_folder["exercises"]:
        assert nb["points"] == 0, nb["path"]
        for ex in nb["exercises"]:
            assert ex["feedback"].startswith("not yet"), f"{nb['path']} {ex['id']}: {ex}"
