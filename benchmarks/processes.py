"""Start, round trip and stop of a lab worker process (course_tasks.processes), per mode.

Usage (from the repository root)::

    python benchmarks/processes.py              # embedded: TCP fakeredis in this process
    python benchmarks/processes.py --redis      # + redis mode, on a throwaway redis-server

Each mode runs in a subprocess of its own (the mode is read at import). Figures are printed,
never asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADD = "course_tasks.tasks.basics.add"


def child(samples: int) -> None:
    from course_tasks import processes, settings

    began = time.perf_counter()
    lab = processes.start(pool="prefork", concurrency=2, queues=("bench-lab",), name="bench")
    first = lab.app.send_task(ADD, args=(1, 1))
    first.get(timeout=10)
    first_task = time.perf_counter() - began
    times = processes.time_roundtrip(lab, ADD, (1, 2), samples)
    stop = lab.stop()
    processes.stop_all()
    ms = sorted(t * 1000 for t in times)
    print(
        f"{settings.from_env().mode:9} start {lab.start_seconds:.2f} s, first task "
        f"{first_task:.2f} s after start, round trip median {statistics.median(ms):.1f} ms "
        f"(p90 {ms[int(len(ms) * 0.9)]:.1f} ms, n={samples}), warm stop {stop:.2f} s"
    )


def main() -> int:
    if "--child" in sys.argv:
        child(int(os.environ.get("BENCH_SAMPLES", "50")))
        return 0
    env = {k: v for k, v in os.environ.items() if k != "COURSE_BROKER"}
    cmd = [sys.executable, __file__, "--child"]
    status = subprocess.call(cmd, env=env, cwd=REPO)
    if "--redis" in sys.argv:
        sys.path.insert(0, str(REPO))
        from course_tasks import services

        with services.throwaway_redis(Path(tempfile.mkdtemp())) as url:
            status |= subprocess.call(cmd, env={**env, "COURSE_BROKER": url}, cwd=REPO)
    return status


if __name__ == "__main__":
    sys.exit(main())
