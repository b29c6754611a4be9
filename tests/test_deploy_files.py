"""Chapter 12's deployment files, run the way a reader who copies them runs them.

The supervisor file and the systemd units are the ones the chapter's cells write (the cells
are executed here, so the test follows the notebook): supervisor's program under a real
``supervisord`` against a worker on a throwaway Redis, the units through
``systemd-analyze verify``. How systemd stops the worker (``KillMode``) is run in the chapter
itself, by signalling a lab worker as systemd does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, course_env
from course_tasks.processes import lab_app

CHAPTER = ROOT / "notebooks" / "12_production.ipynb"
SUPERVISOR_CELL = "0b52137a"  # writes celery.conf
SYSTEMD_CELL = "627952a7"  # writes celery-worker.service and celery-beat.service


def _run_cells(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *ids: str) -> dict[str, Any]:
    """Execute chapter 12's cells ``ids`` as the notebook does (from notebooks/, files in a
    temporary folder under ``tmp_path``); their namespace."""
    cells = {c.get("id"): "".join(c["source"]) for c in json.loads(CHAPTER.read_text())["cells"]}
    monkeypatch.chdir(ROOT / "notebooks")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict[str, Any] = {}
    for cell_id in ids:
        exec(compile(cells[cell_id], f"12_production.ipynb:{cell_id}", "exec"), namespace)
    return namespace


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_accepts_the_chapters_units(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deploy = _run_cells(monkeypatch, tmp_path, SUPERVISOR_CELL, SYSTEMD_CELL)["deploy"]
    for name in ("celery-worker.service", "celery-beat.service"):
        unit = deploy / name
        text = unit.read_text()
        # systemd-analyze checks that the user exists: this machine's, not the server's.
        unit.write_text(text.replace("User=celery", "User=root").replace("Group=celery",
                                                                         "Group=root"))
        done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        assert name not in done.stderr + done.stdout, done.stderr
    assert "KillMode=mixed" in (deploy / "celery-worker.service").read_text()


@pytest.mark.redis
def test_supervisor_program_names_the_node_and_stops_warm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str
) -> None:
    """supervisord runs the chapter's file: the worker is ``worker1@<host>`` (``%%h`` became
    ``%h``, which Celery expands), and stopping supervisord lets a running task finish."""
    deploy = _run_cells(monkeypatch, tmp_path, SUPERVISOR_CELL)["deploy"]
    conf = deploy / "celery.conf"
    env = course_env(COURSE_BROKER=redis_url, COURSE_HOME=str(tmp_path / "home"),
                     TMPDIR=str(tmp_path))  # fmt: skip
    supervisord = Path(sys.executable).with_name("supervisord")
    proc = subprocess.Popen([str(supervisord), "-n", "-c", str(conf)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    app = lab_app(redis_url, "celery")
    node = f"worker1@{socket.gethostname()}"
    try:
        replies: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not replies:
            replies = app.control.ping(timeout=1.0) or []
        assert [name for reply in replies for name in reply] == [node], (
            replies, (deploy / "supervisord.log").read_text())  # fmt: skip

        task = app.send_task("course_tasks.tasks.workload.fetch", args=("deploy", 2.0))
        deadline = time.monotonic() + 30
        while task.state != "STARTED" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert task.state == "STARTED"
        proc.send_signal(signal.SIGTERM)  # supervisord stops its programs, then itself
        proc.wait(timeout=60)
        assert task.get(timeout=10)["url"] == "deploy"
        assert task.state == "SUCCESS"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        app.close()
    # supervisord stopped its programs before it exited (each runs in a process group of its
    # own): nothing of the worker or beat is left.
    log = (deploy / "supervisord.log").read_text()
    spawned = [int(pid) for pid in re.findall(r"spawned: '\w+' with pid (\d+)", log)]
    assert len(spawned) == 2, log
    for pid in spawned:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
