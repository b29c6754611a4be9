"""The notebooks follow the course's rules, and strict nbval really compares outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
EXECUTED = CHAPTERS + SOLUTIONS
STOP_LINE = "Course runtime stopped: no worker left running.\n"


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def test_there_are_chapters() -> None:
    names = [p.name for p in CHAPTERS]
    assert "00_setup.ipynb" in names and "01_concepts.ipynb" in names


def test_a_chapter_its_exercises_and_solutions_have_names_a_tab_tells_apart() -> None:
    """JupyterLab's tab shows only the file name: ``NN_topic``, then the notebook's role."""
    chapters = {p.stem for p in CHAPTERS}
    for folder, paths in (("solutions", SOLUTIONS), ("exercises", EXERCISES)):
        for path in paths:
            chapter, _, role = path.stem.rpartition("_")
            assert (chapter in chapters, role) == (True, folder), path
    assert len({p.name for p in CHAPTERS + SOLUTIONS + EXERCISES}) == len(
        CHAPTERS + SOLUTIONS + EXERCISES
    )


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_executed_without_errors(path: Path) -> None:
    for i, cell in enumerate(code_cells(path)):
        assert cell.execution_count is not None, f"{path.name}: code cell {i} was never run"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: code cell {i} stored an error: {errors[0].get('ename')}"
        streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert not streams, f"{path.name}: code cell {i} printed to stderr (a worker log?)"


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_starts_and_stops_the_runtime(path: Path) -> None:
    cells = code_cells(path)
    assert "runtime.start()" in cells[0].source, f"{path.name}: first code cell must start"
    last = cells[-1]
    assert last.source.strip() == "runtime.stop()", f"{path.name}: last cell must stop"
    printed = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    assert printed == STOP_LINE, f"{path.name}: the last cell did not report a clean stop"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercises_are_committed_without_outputs(path: Path) -> None:
    for i, cell in enumerate(code_cells(path)):
        assert not cell.outputs and cell.execution_count is None, f"{path.name}: cell {i}"


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS + EXERCISES, ids=lambda p: p.name)
def test_kernel_is_python3(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_strict_mode_everywhere() -> None:
    lax = "--nbval" + "-lax"  # spelled in two parts so this file does not contain it
    for name in ("Makefile", ".ci/run", "pyproject.toml"):
        assert lax not in (ROOT / name).read_text(), name
    makefile = (ROOT / "Makefile").read_text()
    assert "--nbval --nbval-current-env" in makefile


def _nbval(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(ROOT / "nbval_sanitize.cfg"),
            "-q",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,
    )


def _edit_output(src: Path, dst: Path, old: str, new: str) -> None:
    nb = json.loads(src.read_text())
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", []))
            if old in text:
                output["text"] = text.replace(old, new)
                dst.write_text(json.dumps(nb, indent=1))
                return
    raise AssertionError(f"no output contains {old!r}")


def test_a_changed_output_fails_strict_nbval(tmp_path: Path) -> None:
    src = ROOT / "notebooks" / "00_setup.ipynb"
    shutil.copy(ROOT / "nbval_sanitize.cfg", tmp_path)
    changed = tmp_path / "00_setup.ipynb"
    _edit_output(src, changed, "doctor exit status: 0", "doctor exit status: 7")
    proc = _nbval(changed)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "1 failed" in proc.stdout and "doctor exit status: 7" in proc.stdout


def test_a_changed_task_id_is_sanitized_and_passes(tmp_path: Path) -> None:
    src = ROOT / "notebooks" / "00_setup.ipynb"
    nb = json.loads(src.read_text())
    text = next(
        "".join(o["text"])
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "state=SUCCESS result=5" in "".join(o.get("text", []))
    )
    task_id = text.split()[1].rstrip(":")
    changed = tmp_path / "00_setup.ipynb"
    _edit_output(src, changed, task_id, "00000000-0000-4000-8000-000000000000")
    proc = _nbval(changed)
    assert proc.returncode == 0, proc.stdout[-2000:]
