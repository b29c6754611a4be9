"""What a notebook must not change: the installed ``course_tasks`` and the workers.

* :class:`PackageGuard` takes a snapshot of the installed package's files when grading
  starts, gives each kernel a private copy of it, and after each notebook compares the
  installed files with the snapshot: what was added or changed is put back as it was and
  reported, so a module planted by one submission is never imported by a later kernel or a
  later grading run.
* :class:`Workers` (redis mode) pings the workers before and after each notebook; a worker
  that stopped answering is a grading problem, not the learner's mistake.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import course_tasks

_SKIP_DIRS = {"__pycache__"}


def _files(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder) / name
            try:
                found[str(path.relative_to(root))] = path.read_bytes()
            except OSError:
                continue
    return found


class PackageGuard:
    """The installed ``course_tasks`` as it was when grading started."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(course_tasks.__file__).resolve().parent
        self.snapshot = _files(self.root)

    def copy_to(self, lib: Path) -> None:
        """Write the snapshot as ``lib/course_tasks`` (a kernel's private copy)."""
        target = lib / "course_tasks"
        for relative, data in self.snapshot.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def restore(self) -> list[str]:
        """Put back every file that changed, remove every file added; say which."""
        now = _files(self.root)
        changed: list[str] = []
        for relative, data in now.items():
            if relative not in self.snapshot:
                path = self.root / relative
                try:
                    path.unlink()
                except OSError:
                    shutil.rmtree(path, ignore_errors=True)
                changed.append(f"added {relative}")
            elif self.snapshot[relative] != data:
                (self.root / relative).write_bytes(self.snapshot[relative])
                changed.append(f"changed {relative}")
        for relative, data in self.snapshot.items():
            if relative not in now:
                path = self.root / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                changed.append(f"removed {relative}")
        if changed:
            for folder in self.root.rglob("__pycache__"):
                shutil.rmtree(folder, ignore_errors=True)
        return sorted(changed)


class Workers:
    """Redis mode: who answers a ping (``app.control.ping``), before and after a notebook."""

    def __init__(self, mode: str) -> None:
        self.active = mode == "redis"

    def _ping(self) -> list[str]:
        from course_tasks.app import app
        from course_tasks.probe import ping_workers

        try:
            return ping_workers(app, timeout=1.0)
        except Exception:  # Redis away: nobody answers
            return []

    async def ping(self) -> list[str]:
        if not self.active:
            return []
        return await asyncio.to_thread(self._ping)

    async def before(self) -> tuple[list[str], str | None]:
        """The workers answering now, and the problem if there are none."""
        if not self.active:
            return [], None
        names = await self.ping()
        if not names:
            return [], (
                "no worker answered a ping in redis mode (COURSE_BROKER), so the notebook was "
                "not run: start one (python -m course_tasks worker) and grade it again"
            )
        return names, None

    async def after(self, before: list[str]) -> str | None:
        """The problem if a worker that answered before this notebook no longer does."""
        if not self.active or not before:
            return None
        now = set(await self.ping())
        gone = sorted(set(before) - now)
        if not gone:
            return None
        return (
            f"worker {', '.join(gone)} stopped answering while this notebook ran (shut down, "
            "crashed or unreachable): checks that needed it may have failed; restart the "
            "worker and grade this notebook again"
        )
