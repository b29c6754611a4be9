"""The first task after ``runtime.start()`` in a fresh interpreter, with and without warm-up.

Each run is a new Python process (embedded mode), as a new kernel is: it imports the course,
times ``runtime.start()``, then the round trip of the first ``add.delay(...).get()`` and of
the second. ``--no-warm-up`` replaces ``course_tasks.embedded.backend.warm_up`` with a no-op
to show what the first task paid before (the result backend's instance, pub/sub and broker
connections built on first use; the import of the backend module and fakeredis, which the
first task also paid before, now happens with ``from course_tasks import runtime``).

    .venv/bin/python benchmarks/first_task.py [--runs 7]

Prints medians in milliseconds; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from course_tasks import runtime
from course_tasks.embedded import backend
from course_tasks.tasks.basics import add
if sys.argv[1] == "off":
    backend.warm_up = lambda app: None
t1 = time.perf_counter()
runtime.start(quiet=True)
t2 = time.perf_counter()
add.delay(1, 1).get(timeout=10)
t3 = time.perf_counter()
add.delay(1, 1).get(timeout=10)
t4 = time.perf_counter()
runtime.stop(quiet=True)
print(json.dumps({"import": t1 - t0, "start": t2 - t1, "first": t3 - t2, "second": t4 - t3}))
"""


def run(warm: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "COURSE_BROKER"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "on" if warm else "off"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-warm-up", action="store_true", help="only the run without warm-up")
    args = parser.parse_args(argv)
    variants = [False] if args.no_warm_up else [True, False]
    for warm in variants:
        runs = [run(warm) for _ in range(args.runs)]
        medians = {key: statistics.median(r[key] for r in runs) * 1000 for key in runs[0]}
        label = "warm-up in start()" if warm else "no warm-up       "
        print(
            f"{label}  import {medians['import']:6.1f} ms   start {medians['start']:6.1f} ms"
            f"   first task {medians['first']:6.1f} ms"
            f"   second task {medians['second']:5.1f} ms   ({args.runs} fresh processes)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
