"""What `make lab` opens: the whole course at its root, on chapter 00, as root too."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lab_command() -> str:
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line for line in out.splitlines() if "jupyter lab" in line)


def test_lab_serves_the_course_root_and_lands_on_chapter_00() -> None:
    command = lab_command()
    assert f"--ServerApp.root_dir={ROOT}" in command
    assert "--LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb" in command
    assert (ROOT / "notebooks" / "00_setup.ipynb").is_file()
    # a notebook path as an argument would make notebooks/ the root (exercises unreachable)
    assert "notebooks/00_setup.ipynb" not in command.replace("/lab/tree/notebooks/", "")


def test_lab_allows_root_only_for_root() -> None:
    assert ("--allow-root" in lab_command()) == (os.getuid() == 0)


def test_the_jupyter_news_popup_is_off() -> None:
    overrides = json.loads((ROOT / "jupyter" / "overrides.json").read_text(encoding="utf-8"))
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json" in makefile
