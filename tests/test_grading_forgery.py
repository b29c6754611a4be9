"""Submissions that try to get marks without solving, or to spoil other notebooks or the run.

Each test here failed with the grader that ran the learner's file as it was (issue 10): it
read saved outputs, counted any verdict display, trusted a notebook's name, let a cell
reach the folder, the package, the environment and the next kernel, and stopped on one bad
verdict. Two grading runs (module fixtures) cover them: the forgeries two at a time, the
spoilers one by one in a shared folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from gradekit import (
    by_path,
    forged_check,
    forged_display,
    grade,
    notebook,
    private_package,
    rows,
    solution_answers,
    write,
)

RIGHT = solution_answers()
NOT_YET_01_1 = (0, "not yet: replace the ... with your code, run that cell, then this one")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return private_package(tmp_path_factory.mktemp("package"))


# --------------------------------------------------------------------------- forgeries


def _forgeries(tmp: Path) -> dict[str, str]:
    def skipped() -> dict[str, Any]:
        nb = notebook(saved_outputs=True)
        for cell in nb["cells"]:
            if cell["source"] and "check(" in "".join(cell["source"]):
                cell["metadata"]["tags"] = ["skip-execution"]
        return nb

    redefine = forged_check()
    infinite = forged_check('float("inf")', token=True)
    superscript = forged_check(1, "01.²", token=True)
    patch = (
        "import course_tasks.checks as checker\n"
        "real = checker.evaluate\n"
        "def evaluate(id, *a, **k):\n"
        "    out = real(id, *a, **k)\n"
        "    return checker.Outcome(id, out.title, out.max_points, out.max_points, 'passed')\n"
        "checker.evaluate = evaluate\n"
        "result = ...\n"
    )
    eager = (
        "import os\n"
        "from course_tasks import app\n"
        "from course_tasks.tasks.basics import add\n"
        "os.environ['COURSE_BROKER'] = 'eager'\n"
        "app.conf.task_always_eager = True\n"
        "result = add.delay(2, 3)\n"
    )
    flood = RIGHT[0] + "\nprint('x' * 3_000_000)\n"
    made = {
        "saved": notebook(saved_outputs=True),
        "emptied": notebook({k: "" for k in range(1, 5)}, saved_outputs=True),
        "skipped": skipped(),
        "dies": notebook({1: "import os\nos._exit(1)"}, saved_outputs=True),
        "own display": notebook({1: forged_display(token=True) + "result = ..."}),
        "redefined": notebook({1: redefine + "result = ..."}),
        "patched": notebook({1: patch}),
        "eager": notebook({1: eager}),
        "infinite": notebook({1: infinite + "result = ...", 3: RIGHT[2]}),
        "superscript": notebook({1: superscript + "result = ...", 3: RIGHT[2]}),
        "flood": notebook({1: flood}),
    }
    paths = {name: write(tmp / name / "01_concepts.ipynb", nb) for name, nb in made.items()}
    paths["unnamed"] = write(tmp / "x" / "homework.ipynb", notebook(saved_outputs=True))
    other = notebook(saved_outputs=True)
    for cell in other["cells"]:
        cell["id"] = f"other-{cell['id']}"
    paths["no chapter"] = write(tmp / "y" / "homework.ipynb", other)
    return paths


@pytest.fixture(scope="module")
def forged(package: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    paths = _forgeries(tmp_path_factory.mktemp("forgeries"))
    proc = grade(package, "--json", "--jobs", "2", "--timeout", "10", *paths.values(),
                 COURSE_SMTP_SECONDS="0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    report = by_path(json.loads(proc.stdout))
    assert len(report) == len(paths)  # nothing stopped the run
    return {name: report[path] for name, path in paths.items()}


@pytest.mark.parametrize("name", ["saved", "emptied", "skipped", "unnamed"])
def test_saved_outputs_are_never_read(forged: dict[str, Any], name: str) -> None:
    nb = forged[name]
    assert (nb["points"], nb["max_points"]) == (0, 6)
    assert not any(feedback.startswith("passed") for _, feedback in rows(nb).values())


def test_a_kernel_that_dies_before_the_checks_scores_nothing(forged: dict[str, Any]) -> None:
    got = rows(forged["dies"])
    assert forged["dies"]["points"] == 0
    assert got["01.1"] == (
        0, "not run: the kernel died in cell 5; the check (cell 6) never ran")  # fmt: skip


def test_a_verdict_displayed_by_an_answer_cell_does_not_count(forged: dict[str, Any]) -> None:
    nb = forged["own display"]
    assert rows(nb)["01.1"] == NOT_YET_01_1
    assert "01.1 (cell 5): displays objects itself" in nb["flags"]


def test_a_notebook_without_a_chapter_number_is_graded_as_its_chapter(
    forged: dict[str, Any],
) -> None:
    assert [ex["id"] for ex in forged["unnamed"]["exercises"]] == ["01.1", "01.2", "01.3", "01.4"]
    nb = forged["no chapter"]
    assert (nb["points"], nb["max_points"], nb["exercises"]) == (0, 0, [])
    assert nb["error"].startswith("cannot tell which chapter this notebook is for")


def test_redefining_check_gives_nothing_and_is_flagged(forged: dict[str, Any]) -> None:
    nb = forged["redefined"]
    assert rows(nb)["01.1"][0] == 0
    assert "01.1 (cell 5): redefines or rebinds check" in nb["flags"]
    assert "01.1 (cell 6): a verdict not made by this run's checker was ignored" in nb["flags"]


def test_patching_the_checker_is_flagged_for_a_person(forged: dict[str, Any]) -> None:
    flags = forged["patched"]["flags"]
    assert "01.1 (cell 5): imports course_tasks.checks" in flags
    assert "01.1 (cell 5): uses the checker's evaluate" in flags
    assert "01.1 (cell 5): uses the checker's Outcome" in flags


def test_switching_to_eager_in_a_cell_scores_nothing(forged: dict[str, Any]) -> None:
    nb = forged["eager"]
    assert rows(nb)["01.1"] == (0, "the check ran in eager mode, not embedded")
    assert "01.1 (cell 5): switches task_always_eager" in nb["flags"]
    assert "01.1 (cell 5): reads or changes the environment (os.environ)" in nb["flags"]
    assert any("not the grader's embedded: 0 points" in flag for flag in nb["flags"])


@pytest.mark.parametrize("name", ["infinite", "superscript"])
def test_a_malformed_verdict_scores_nothing_and_stops_nothing(
    forged: dict[str, Any], name: str
) -> None:
    got = rows(forged[name])
    assert got["01.1"][0] == 0
    assert got["01.3"][0] == 2  # the rest of the notebook is graded


def test_a_flood_of_output_is_capped_and_the_verdict_kept(forged: dict[str, Any]) -> None:
    nb = forged["flood"]
    assert rows(nb)["01.1"][0] == 1
    assert "outputs past 2048 KB were dropped (verdicts are always kept)" in nb["notes"]


# --------------------------------------------------------------------------- spoilers

SPOILER = """\
import json, os, subprocess, sys
from course_tasks.tasks.basics import add

def children(pid):
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{{name}}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat[1] == str(pid):
            found.append(int(name))
    return found

def parent(pid):
    return int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])

grader = parent(os.getpid())
while b"course_tasks\\0grade" not in open(f"/proc/{{grader}}/cmdline", "rb").read():
    grader = parent(grader)
sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
subprocess.run(["bash", "-c", "setsid sleep 601 & echo $! > {probe}.daemon"])
report = {{
    "env": dict(os.environ), "cwd": os.getcwd(), "module": sys.modules["course_tasks"].__file__,
    "kernels": len(children(grader)), "sleeper": sleeper.pid,
}}
open("{probe}", "w").write(json.dumps(report))
for name in os.listdir("."):
    if name.endswith(".ipynb"):
        os.remove(name)
open("{planted}", "w").write("open({marker!r}, 'w').write('imported')\\n")
result = add.delay(2, 3)
"""


@pytest.fixture(scope="module")
def spoiled(package: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("spoilers")
    probe = tmp / "probe.json"
    planted = package / "checks" / "ch00_planted.py"
    marker = tmp / "planted-module-was-imported"
    source = SPOILER.format(probe=probe, planted=planted, marker=str(marker))
    hog = (
        "try:\n    hog = bytearray(16 * 1024**3)\nexcept MemoryError:\n"
        f"    open({str(probe)!r} + '.memory', 'w').write('MemoryError')\n"
    )
    spoiler = notebook({1: source, 2: hog + RIGHT[1]}, solved=True)
    folder = tmp / "class"
    paths = {
        "spoiler": write(folder / "01_concepts (mallory).ipynb", spoiler),
        "victim": write(folder / "01_concepts (victor).ipynb", notebook(solved=True)),
    }
    proc = grade(package, "--json", "--timeout", "10", str(folder),
                 COURSE_SMTP_SECONDS="0.2", INSTRUCTOR_SECRET="s3cret")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = by_path(json.loads(proc.stdout))
    return {
        **{name: report[path] for name, path in paths.items()},
        "probe": json.loads(probe.read_text()),
        "probe_path": probe,
        "daemon": int(Path(f"{probe}.daemon").read_text()),
        "planted": planted,
        "marker": marker,
    }


def test_other_notebooks_in_the_folder_are_untouched(spoiled: dict[str, Any]) -> None:
    assert spoiled["victim"]["points"] == 6
    assert Path(spoiled["probe"]["cwd"]).name == "work"
    assert "course-grade-" in spoiled["probe"]["cwd"]


def test_a_module_planted_in_the_package_is_never_imported_and_is_removed(
    spoiled: dict[str, Any],
) -> None:
    assert not spoiled["marker"].exists()
    assert not spoiled["planted"].exists()
    assert "course-grade-" in spoiled["probe"]["module"]  # the kernel's private copy
    flags = spoiled["spoiler"]["flags"]
    assert any(f.startswith("changed the installed course_tasks") and "checks/ch00_planted.py"
               in f for f in flags)  # fmt: skip


def test_the_kernel_sees_a_clean_environment(spoiled: dict[str, Any]) -> None:
    env = spoiled["probe"]["env"]
    assert "INSTRUCTOR_SECRET" not in env
    assert "course-grade-" in env["HOME"] and env["COURSE_HOME"].startswith(env["HOME"])
    assert env["COURSE_SMTP_SECONDS"] == "0.2"  # the course's own settings are passed on
    assert not {"PYTEST_CURRENT_TEST", "VIRTUAL_ENV", "USER"} & set(env)


def test_no_kernel_is_started_before_the_previous_notebook_ends(spoiled: dict[str, Any]) -> None:
    assert spoiled["probe"]["kernels"] == 1


def test_processes_started_in_a_new_session_do_not_outlive_grading(
    spoiled: dict[str, Any],
) -> None:
    for pid in (spoiled["probe"]["sleeper"], spoiled["daemon"]):
        alive = Path(f"/proc/{pid}/cmdline")
        assert not alive.exists() or b"sleep" not in alive.read_bytes()


def test_memory_is_limited_and_a_hog_fails_alone(spoiled: dict[str, Any]) -> None:
    assert Path(f"{spoiled['probe_path']}.memory").read_text() == "MemoryError"
    assert [p for p, _ in rows(spoiled["spoiler"]).values()] == [1, 2, 2, 1]


def test_a_notebook_has_an_overall_time_limit(package: Path, tmp_path: Path) -> None:
    """Four answers of 2.5 s each outlast a 6 s notebook whatever the machine's speed; the
    cell limit (60 s) is far from every cell, so only the notebook's limit can strike."""
    slow = [f"import time\ntime.sleep(2.5)\n{answer}" for answer in RIGHT]
    path = write(tmp_path / "01_concepts.ipynb", notebook(dict(enumerate(slow, start=1))))
    proc = grade(package, "--json", "--timeout", "60", "--notebook-timeout", "6", path,
                 COURSE_SMTP_SECONDS="0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    nb = json.loads(proc.stdout)["notebooks"][0]
    last = rows(nb)["01.4"]
    assert last[0] == 0 and "the notebook's time limit (6 s) ran out" in last[1]
    assert "timed out after 60 s" not in json.dumps(nb)
    assert os.path.exists(path)


def test_a_cell_that_ignores_the_interrupt_at_the_notebooks_limit_is_still_that_limit(
    package: Path, tmp_path: Path
) -> None:
    """On a loaded machine the notebook's deadline can find a cell that does not stop when
    interrupted (here it ignores SIGINT): the kernel is stopped, and the feedback still names
    the notebook's time limit, not a cell that timed out. The limit (15 s) leaves the set-up
    cells time to run on a loaded machine, so that it is the stubborn cell it strikes."""
    stubborn = {1: "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                   f"time.sleep(30)\n{RIGHT[0]}"}  # fmt: skip
    path = write(tmp_path / "01_concepts.ipynb", notebook(stubborn))
    proc = grade(package, "--json", "--timeout", "60", "--notebook-timeout", "15", path,
                 COURSE_SMTP_SECONDS="0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first = rows(json.loads(proc.stdout)["notebooks"][0])["01.1"]
    assert first[0] == 0
    assert "the notebook's time limit (15 s) ran out (the cell did not stop" in first[1], first


@pytest.mark.redis
def test_a_submission_that_stops_the_worker_is_a_grading_problem_not_the_next_learners(
    package: Path, redis_worker: str, tmp_path: Path
) -> None:
    stop = "from course_tasks import app\napp.control.shutdown()\n" + RIGHT[3]
    spoiler = write(tmp_path / "01_concepts (mallory).ipynb", notebook({4: stop}, solved=True))
    victim = write(tmp_path / "01_concepts (victor).ipynb", notebook(solved=True))
    proc = grade(package, "--json", "--timeout", "10", spoiler, victim,
                 COURSE_BROKER=redis_worker, COURSE_SMTP_SECONDS="0.2")  # fmt: skip
    assert proc.returncode == 3, proc.stderr  # a grading problem: grade those again
    report = by_path(json.loads(proc.stdout))
    assert "stopped answering while this notebook ran" in report[spoiler]["problem"]
    assert "01.4 (cell 14): shuts workers down (app.control.shutdown)" in report[spoiler]["flags"]
    assert report[victim]["problem"].startswith("no worker answered a ping in redis mode")
    assert all(ex["feedback"] == "not run: not graded (grading problem)"
               for ex in report[victim]["exercises"])  # fmt: skip
