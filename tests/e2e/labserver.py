"""JupyterLab started by `make lab`, and Debian's Chromium, for the browser test.

JupyterLab is started the way a learner starts it, with ``make lab``; ``LAB_EXTRA`` only adds
what a test needs: no browser of its own, a free port (``--ServerApp.port=0``), a token, and
``window.jupyterapp`` (``expose_app_in_browser``) so that the test can read the notebook's
model. Its user settings and workspaces live in a temporary folder, where autosave is off:
the test edits and runs notebooks of the work tree and must not write them back. Chromium is
Debian's package (``apt-get install chromium``), driven by Playwright's Python package through
``executable_path``; Playwright's own browser download is never used.

Without Chromium or Playwright the browser tests are skipped with the reason (``make e2e``
runs pytest with ``-rs``, so the reason is printed). Not a ``conftest.py``: ``tests/`` has one
already, and the unit tests import from it by that name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots of every notebook the test ran, kept for a person to look at (git-ignored).
SCREENSHOTS = ROOT / ".course" / "e2e-screenshots"
#: Chromium as root, without a sandbox or the network services this machine does not reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SERVER_START_SECONDS = 120


def chromium_path() -> str | None:
    """Debian's Chromium (or the one ``COURSE_E2E_CHROMIUM`` names), if installed."""
    named = os.environ.get("COURSE_E2E_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path and Playwright importable, or skip with what is missing."""
    path = chromium_path()
    if path is None:
        pytest.skip(
            "browser test NOT RUN: Debian's chromium is not installed "
            "(apt-get install chromium; .ci/run installs it)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(
            "browser test NOT RUN: Playwright's Python package is not installed "
            "(make e2e installs it: pip install -e '.[e2e]')"
        )
    return path


@dataclass
class Lab:
    """A running JupyterLab: where it answers, its token, its log."""

    url: str
    token: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_lab(home: Path) -> Iterator[Lab]:
    """``make lab`` on a free port with a token, in embedded mode; stopped afterwards."""
    settings = home / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    token = secrets.token_hex(24)
    extra = (
        "--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=0 "
        f"--IdentityProvider.token={token} --LabApp.expose_app_in_browser=True"
    )
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "COURSE_HOME": str(home / "course"),
    }
    env.pop("COURSE_BROKER", None)
    log = home / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_EXTRA={extra}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # make, jupyter lab and its kernels: one group to stop
        )
    try:
        url = _wait_for_url(process, log)
        yield Lab(url, token, log, process)
    finally:
        _stop_group(process)


def _wait_for_url(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + SERVER_START_SECONDS
    pattern = re.compile(r"http://127\.0\.0\.1:(\d+)/")
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return f"http://127.0.0.1:{found.group(1)}"
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"make lab did not start JupyterLab:\n{log.read_text(errors='replace')}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the process group running_lab started: make and the server, which stops its kernels.

    SIGTERM first, then wait (up to 30 s) until no process of the group is left, so that the
    server has shut its kernels down; SIGKILL for whatever is still there after that.
    """
    group = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        process.poll()  # reap make when it exits
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def running_chromium(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
