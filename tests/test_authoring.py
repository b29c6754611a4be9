"""The exercise builder: stubs, cleared outputs, deterministic files, --check, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from conftest import ROOT
from course_tasks import authoring
from course_tasks.authoring import AuthoringError, stub_source

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

# --------------------------------------------------------------------------- stub_source


def test_default_stub_is_an_ellipsis_at_the_markers_indentation() -> None:
    source = (
        "def signup(email, name):\n"
        '    """Queue the mail."""\n'
        "    ### BEGIN SOLUTION\n"
        "    task = send.delay(email, name)\n"
        "    return task.id\n"
        "    ### END SOLUTION\n"
        "\n"
        "print('after')"
    )
    assert stub_source(source) == (
        'def signup(email, name):\n    """Queue the mail."""\n    ...\n\nprint(\'after\')',
        1,
    )


def test_custom_stub_after_the_colon() -> None:
    source = "x = 1\n### BEGIN SOLUTION: result = ...\nresult = add.delay(2, 3)\n### END SOLUTION"
    assert stub_source(source) == ("x = 1\nresult = ...", 1)


def test_custom_stub_is_indented_like_its_marker_and_tabs_work() -> None:
    source = "if True:\n\t### BEGIN SOLUTION:   value = ...  \n\tvalue = 42\n\t### END SOLUTION\n"
    assert stub_source(source) == ("if True:\n\tvalue = ...\n", 1)


def test_several_regions_and_the_code_around_them_are_kept() -> None:
    source = (
        "a = 1\n"
        "  ### BEGIN SOLUTION\n"
        "secret()\n"
        "  ### END SOLUTION\n"
        "b = 2\n"
        "### BEGIN SOLUTION: c = ...\n"
        "c = 3\n"
        "### END SOLUTION\n"
        "d = 4"
    )
    assert stub_source(source) == ("a = 1\n  ...\nb = 2\nc = ...\nd = 4", 2)


def test_a_cell_without_markers_is_unchanged() -> None:
    assert stub_source("print('hi')\n") == ("print('hi')\n", 0)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "x = 1\n### BEGIN SOLUTION\nx = 2",
            "cell 3 (code), line 2: ### BEGIN SOLUTION is never closed by ### END SOLUTION",
        ),
        (
            "x = 1\n### END SOLUTION",
            "cell 3 (code), line 2: ### END SOLUTION without a ### BEGIN SOLUTION before it",
        ),
        (
            "### BEGIN SOLUTION\na\n    ### BEGIN SOLUTION\nb\n### END SOLUTION",
            "cell 3 (code), line 3: ### BEGIN SOLUTION inside the solution opened at line 1 "
            "(add a ### END SOLUTION before it)",
        ),
        (
            "x = 1  ### BEGIN SOLUTION\n",
            "cell 3 (code), line 1: a solution marker must be alone on its line "
            "(found 'x = 1  ### BEGIN SOLUTION')",
        ),
    ],
)
def test_unbalanced_or_misplaced_markers_name_the_cell_and_line(source: str, message: str) -> None:
    with pytest.raises(AuthoringError) as error:
        stub_source(source, where="cell 3 (code)")
    assert str(error.value) == message


# --------------------------------------------------------------------------- notebooks


def solutions_notebook() -> nbformat.NotebookNode:
    setup = new_code_cell(
        "from course_tasks import runtime\nruntime.start()",
        execution_count=1,
        outputs=[new_output("stream", name="stdout", text="Course mode: embedded\n")],
        metadata={"tags": ["setup"], "execution": {"iopub.status.busy": "2026-01-01T00:00:00Z"}},
    )
    answer = new_code_cell(
        "%time x = 1\n!echo hi\nfiles = !ls\n"
        "### BEGIN SOLUTION: result = ...\nresult = add.delay(2, 3)\n### END SOLUTION",
        execution_count=2,
    )
    check = new_code_cell(
        'check("99.1", result)',
        execution_count=3,
        outputs=[new_output("display_data", data={"text/plain": "✓ 99.1 passed"})],
    )
    nb = new_notebook(
        cells=[
            new_markdown_cell("# 99 · Testing: Solutions\n\nSolutions are below."),
            setup,
            new_markdown_cell("### Exercise 99.1 · a thing (1 point)\n\nDo it."),
            answer,
            check,
        ],
        metadata={"kernelspec": KERNELSPEC, "course": {"chapter": 99}},
    )
    for number, cell in enumerate(nb.cells, start=1):
        cell["id"] = f"cell-{number}"
    return nb


def write(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def build(tmp_path: Path, *args: str) -> int:
    return authoring.main(
        [
            "--solutions",
            str(tmp_path / "solutions"),
            "--exercises",
            str(tmp_path / "exercises"),
            *args,
        ]
    )


def test_build_stubs_clears_outputs_and_keeps_metadata(tmp_path: Path) -> None:
    write(tmp_path / "solutions" / "99_testing_solutions.ipynb", solutions_notebook())
    assert build(tmp_path) == 0
    nb = nbformat.read(tmp_path / "exercises" / "99_testing_exercises.ipynb", as_version=4)

    assert nb.metadata == {"kernelspec": KERNELSPEC, "course": {"chapter": 99}}
    assert nb.cells[0].source == "# 99 · Testing: Exercises\n\nSolutions are below."
    assert nb.cells[3].source == "%time x = 1\n!echo hi\nfiles = !ls\nresult = ..."
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nb.cells[1].metadata == {"tags": ["setup"]}  # tags kept, run timings dropped
    assert [c.id for c in nb.cells] == [f"cell-{n}" for n in range(1, 6)]


def test_build_is_deterministic_and_check_passes_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "solutions" / "99_testing_solutions.ipynb", solutions_notebook())
    target = tmp_path / "exercises" / "99_testing_exercises.ipynb"
    assert build(tmp_path) == 0
    first = target.read_bytes()
    assert build(tmp_path) == 0
    assert target.read_bytes() == first
    assert "up to date" in capsys.readouterr().out
    assert build(tmp_path, "--check") == 0
    assert capsys.readouterr().out == "exercises up to date (1 notebook)\n"


def test_check_detects_drift_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    solution = write(tmp_path / "solutions" / "99_testing_solutions.ipynb", solutions_notebook())
    write(tmp_path / "solutions" / "98_more_solutions.ipynb", solutions_notebook())
    assert build(tmp_path, "99_testing") == 0  # only this one is built
    target = tmp_path / "exercises" / "99_testing_exercises.ipynb"
    built = target.read_bytes()
    nb = solutions_notebook()
    nb.cells[2].source += "\n\nA new sentence."
    write(solution, nb)
    capsys.readouterr()

    assert build(tmp_path, "--check") == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "out of date (run `python -m course_tasks build-exercises`):",
        f"  {tmp_path / 'exercises' / '98_more_exercises.ipynb'}",
        f"  {target}",
    ]
    assert target.read_bytes() == built
    assert not (tmp_path / "exercises" / "98_more_exercises.ipynb").exists()


def test_the_exercise_is_named_for_the_chapter_and_its_role(tmp_path: Path) -> None:
    """JupyterLab's tab shows the file name: chapter, exercises and solutions must differ."""
    write(tmp_path / "solutions" / "99_testing_solutions.ipynb", solutions_notebook())
    write(tmp_path / "solutions" / "97_plain.ipynb", solutions_notebook())  # no suffix
    assert build(tmp_path) == 0
    assert sorted(p.name for p in (tmp_path / "exercises").iterdir()) == [
        "97_plain_exercises.ipynb", "99_testing_exercises.ipynb"]  # fmt: skip


def test_names_select_notebooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "solutions" / "99_testing_solutions.ipynb", solutions_notebook())
    assert build(tmp_path, "99") == 0
    assert build(tmp_path, "99_testing.ipynb") == 0
    assert build(tmp_path, str(tmp_path / "solutions" / "99_testing_solutions.ipynb")) == 0
    capsys.readouterr()
    assert build(tmp_path, "42_nothing") == 1
    err = capsys.readouterr().err
    assert (
        f"error: 42_nothing: no such solutions notebook (looked in {tmp_path / 'solutions'}/)"
        in err
    )


def test_unbalanced_markers_are_reported_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = solutions_notebook()
    nb.cells[3].source = "x = 1\n### BEGIN SOLUTION\nresult = 2"
    source = write(tmp_path / "solutions" / "99_testing_solutions.ipynb", nb)
    assert build(tmp_path) == 1
    assert capsys.readouterr().err == (
        f"error: {source}: cell 4 (code), line 2: ### BEGIN SOLUTION is never closed by "
        "### END SOLUTION\n"
    )
    assert not (tmp_path / "exercises").exists()


def test_a_stub_that_breaks_the_syntax_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = solutions_notebook()
    nb.cells[
        3
    ].source = "if ready:\n### BEGIN SOLUTION\n    result = add.delay(2, 3)\n### END SOLUTION"
    source = write(tmp_path / "solutions" / "99_testing_solutions.ipynb", nb)
    assert build(tmp_path) == 1
    assert capsys.readouterr().err == (
        f"error: {source}: cell 4 (code), line 2: the exercise's code would not run (expected "
        "an indented block after 'if' statement on line 1); give the region a stub that keeps "
        "the code valid, e.g. '### BEGIN SOLUTION: result = ...'\n"
    )


def test_markdown_regions_are_stubbed_without_a_syntax_check(tmp_path: Path) -> None:
    nb = solutions_notebook()
    nb.cells[
        2
    ].source = "Answer:\n### BEGIN SOLUTION: *your answer here*\nIt is 42.\n### END SOLUTION"
    write(tmp_path / "solutions" / "99_testing_solutions.ipynb", nb)
    assert build(tmp_path) == 0
    built = nbformat.read(tmp_path / "exercises" / "99_testing_exercises.ipynb", as_version=4)
    assert built.cells[2].source == "Answer:\n*your answer here*"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a notebook (invalid JSON at line 1, column 2)"),
        ('{"nbformat": 3, "worksheets": []}', "not an nbformat-4 notebook (nbformat 3)"),
        ("[1, 2]", "not an nbformat-4 notebook (no nbformat version)"),
    ],
)
def test_unreadable_solutions_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    source = tmp_path / "solutions" / "99_broken_solutions.ipynb"
    source.parent.mkdir()
    source.write_text(content, encoding="utf-8")
    assert build(tmp_path) == 1
    assert capsys.readouterr().err == f"error: {source}: {message}\n"


def test_cli_reports_without_a_traceback_and_the_committed_exercise_is_current(
    tmp_path: Path,
) -> None:
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "99_broken_solutions.ipynb").write_text("{", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "course_tasks", "build-exercises", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error: solutions/99_broken_solutions.ipynb: not a notebook (invalid JSON" in proc.stderr

    proc = subprocess.run(
        [sys.executable, "-m", "course_tasks", "build-exercises", "--check", "01_concepts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (0, "exercises up to date (1 notebook)\n")
