"""How long grading a class takes, one notebook at a time and ``--jobs 2``.

A class of LEARNERS learners x the first CHAPTERS chapters: every other learner hands in
the chapter's solution, the others the untouched exercise (the two ends of the grader's
work: every check passing after real tasks, every check saying "not yet" at once). The
class is graded by ``python -m course_tasks grade --jobs N`` for each N, in the mode
``COURSE_BROKER`` selects, on a private copy of ``course_tasks`` (the grader guards the
installed package; a copy keeps the work tree out of it). Prints the figures and writes
``benchmarks/results/grading.json``. A benchmark, not a test: it reports, it does not fail.

    python benchmarks/grading.py                          # 30 learners x 5 chapters, jobs 1 and 2
    python benchmarks/grading.py --learners 4 --chapters 2 --jobs 1 2
    python benchmarks/grading.py --learners 6 --only 05 --solved   # checks that wait on tasks

Results go to ``benchmarks/results/grading-<learners>x<chapters>[-solved].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_tasks.authoring import exercise_name

ROOT = Path(__file__).resolve().parent.parent


def make_class(folder: Path, learners: int, solutions: list[Path], solved: bool) -> int:
    count = 0
    for n in range(learners):
        learner = folder / f"learner{n:02d}"
        learner.mkdir(parents=True)
        for solution in solutions:
            handed_in = exercise_name(solution)  # what the learner opened and saved
            source = solution if solved or n % 2 == 0 else ROOT / "exercises" / handed_in
            shutil.copyfile(source, learner / handed_in)
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--chapters", type=int, default=5)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", metavar="NN", help="these chapters instead")
    parser.add_argument("--solved", action="store_true", help="every learner hands in solutions")
    args = parser.parse_args()
    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        solutions = [p for p in solutions if p.name[:2] in args.only]
    else:
        solutions = solutions[: args.chapters]
    runs = []
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        tmp_path = Path(tmp)
        notebooks = make_class(tmp_path / "class", args.learners, solutions, args.solved)
        shutil.copytree(ROOT / "course_tasks", tmp_path / "lib" / "course_tasks",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "lib")}
        folders = sorted(str(p) for p in (tmp_path / "class").iterdir())
        for jobs in args.jobs:
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "course_tasks", "grade", "--course", str(ROOT), "--json",
                 "--jobs", str(jobs), "--csv", str(tmp_path / f"grades-{jobs}.csv"), *folders],
                cwd=tmp_path, env=env, capture_output=True, text=True,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            report = json.loads(proc.stdout) if proc.returncode in (0, 3) else {"notebooks": []}
            graded = report["notebooks"]
            full = sum(1 for nb in graded if nb["max_points"] and nb["points"] == nb["max_points"])
            runs.append({
                "jobs": jobs, "seconds": round(seconds, 1), "notebooks": len(graded),
                "per_notebook_s": round(seconds / max(1, len(graded)), 2),
                "full_marks": full, "exit": proc.returncode,
            })  # fmt: skip
            print(f"--jobs {jobs}: {len(graded)} notebooks in {seconds:.1f} s "
                  f"({seconds / max(1, len(graded)):.2f} s each), {full} with full marks, "
                  f"exit {proc.returncode}", flush=True)  # fmt: skip
    result = {
        "learners": args.learners, "chapters": [p.stem for p in solutions],
        "solved_only": args.solved, "notebooks": notebooks,
        "mode": os.environ.get("COURSE_BROKER") or "embedded", "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()], "runs": runs,
    }  # fmt: skip
    name = f"grading-{args.learners}x{len(solutions)}{'-solved' if args.solved else ''}.json"
    out = ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
