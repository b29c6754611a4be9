"""Every solutions notebook runs twice in one kernel without an error.

A learner runs a notebook again in the same kernel (Run All twice, or from the top after a
mistake). The chapters are run twice by the browser test (``test_lab_in_browser.py``); the
solutions here, with nbclient, cell by cell, twice, in one kernel. Part of ``make e2e``
rather than ``make test``: it costs two full runs of every solutions notebook, which strict
nbval already runs once.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from labserver import ROOT
from nbclient import NotebookClient

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=[path.stem for path in SOLUTIONS])
def test_a_solutions_notebook_runs_twice_in_one_kernel(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    with client.setup_kernel():
        for _ in range(2):  # CellExecutionError (with the cell and traceback) on any error
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
