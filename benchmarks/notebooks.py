"""How long each notebook and its slowest cell take, against the course's budget.

Budget (a learner never waits long): every notebook under 20 s, no cell over 5 s.
Executes each notebook in a fresh kernel with nbclient (in the mode ``COURSE_BROKER``
selects), reads the per-cell timings nbclient records, prints a table and writes
``benchmarks/results/notebooks.json``. A benchmark, not a test: it reports, it does not fail
the build (exit status 1 only if a notebook could not be executed).

    python benchmarks/notebooks.py                    # notebooks/ and solutions/
    python benchmarks/notebooks.py notebooks/01_concepts.ipynb
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_tasks.kernels import AsyncIPCKernelManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_BUDGET_S = 20.0
CELL_BUDGET_S = 5.0


def _seconds(cell: nbformat.NotebookNode) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def measure(path: Path) -> dict[str, object]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        kernel_manager_class=AsyncIPCKernelManager,
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        return {"notebook": str(path.relative_to(ROOT)), "error": str(exc).splitlines()[0]}
    wall = time.perf_counter() - started
    cells = [(i, _seconds(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    slowest_index, slowest = max(cells, key=lambda item: item[1], default=(None, 0.0))
    return {
        "notebook": str(path.relative_to(ROOT)),
        "wall_s": round(wall, 2),
        "cells_s": round(sum(s for _, s in cells), 2),
        "slowest_cell": slowest_index,
        "slowest_cell_s": round(slowest, 2),
        "cells_over_budget": [i for i, s in cells if s > CELL_BUDGET_S],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/notebooks.json")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or sorted(
        [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")]
    )
    rows = [measure(p) for p in paths]
    print(f"{'notebook':<42} {'wall s':>7} {'cells s':>8} {'slowest cell':>14}  budget")
    for row in rows:
        if "error" in row:
            print(f"{row['notebook']:<42} ERROR: {row['error']}")
            continue
        ok = row["wall_s"] <= NOTEBOOK_BUDGET_S and not row["cells_over_budget"]  # type: ignore[operator]
        slow = f"#{row['slowest_cell']} {row['slowest_cell_s']:.2f}"
        print(
            f"{row['notebook']:<42} {row['wall_s']:>7.2f} {row['cells_s']:>8.2f} {slow:>14}  "
            f"{'ok' if ok else 'OVER'}"
        )
    print(
        f"\nbudget: notebook (wall, kernel start included) <= {NOTEBOOK_BUDGET_S:g} s, "
        f"cell <= {CELL_BUDGET_S:g} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "notebooks": rows,
            },
            indent=2,
        )
        + "\n"
    )
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
