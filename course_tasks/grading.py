"""Grade notebooks: run each in a fresh kernel and collect the verdicts of its check cells.

``python -m course_tasks grade PATH... [--json] [--timeout SECONDS]``

* A PATH is a notebook or a folder (its ``*.ipynb``, sorted, not recursive).
* Each notebook runs from top to bottom in a kernel of its own (the ``python3`` kernel of
  this environment, started in the notebook's folder), with errors allowed so that one
  failing cell does not stop the rest. A cell that runs longer than ``--timeout`` seconds
  (30 by default) is interrupted, and the run goes on with the next cell.
* The verdicts are the ``application/vnd.celery-course.check+json`` displays that the check
  cells leave in the outputs (see :mod:`course_tasks.checks`). The exercises a notebook is
  expected to hold are the registered exercises of its chapter, ``NN`` being the first two
  digits of its file name; an expected exercise without a verdict scores 0 with the reason
  ("not run: cell 7 timed out after 30 s (an infinite loop?)").
* Cells are numbered from 1 at the top of the notebook, markdown cells included.

Nothing is written back to the notebooks. Every kernel is shut down before the command
returns, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from course_tasks.checks import MIME_TYPE, Outcome

DEFAULT_TIMEOUT = 30.0
#: How long an interrupted cell gets to stop before its kernel is killed.
INTERRUPT_GRACE = 5.0
#: How long a kernel gets to start and answer.
STARTUP_TIMEOUT = 60.0
KERNEL_NAME = "python3"

_CHAPTER_RE = re.compile(r"^(\d{2})(?!\d)")
_CHECK_CALL_RE = re.compile(r"""\bcheck\(\s*(?P<q>["'])(?P<id>\d{2}\.\d+)(?P=q)""")


@dataclass
class Graded:
    """One notebook (or a path that was meant to be one), as graded."""

    path: str
    exercises: list[Outcome] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def points(self) -> int:
        return sum(row.points for row in self.exercises)

    @property
    def max_points(self) -> int:
        return sum(row.max_points for row in self.exercises)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "points": self.points,
            "max_points": self.max_points,
        }
        if self.error is not None:
            out["error"] = self.error
        out["exercises"] = [
            {
                "id": r.id,
                "title": r.title,
                "points": r.points,
                "max_points": r.max_points,
                "feedback": r.feedback,
            }
            for r in self.exercises
        ]
        return out


@dataclass
class Run:
    """What happened while a notebook ran."""

    timed_out: dict[int, float] = field(default_factory=dict)  # cell number -> timeout
    errors: dict[int, str] = field(default_factory=dict)  # cell number -> "NameError: ..."
    stopped: tuple[int, str] | None = None  # (cell number, why) when the run ended early


class _Unresponsive(Exception):
    """A timed-out cell did not stop when interrupted."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM arrived: grading stops, every kernel is shut down."""


#: Set by the signal handler of :func:`grade_all`.
_stop_requested = False


# --------------------------------------------------------------------------- kernels


_live: set[_Kernel] = set()


def _kill_leftovers() -> None:
    """Kill (process group and all) every kernel this process started that still runs."""
    for kernel in list(_live):
        kernel.kill()


class _Kernel:
    """One ``python3`` kernel process of this environment, started in ``cwd``."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.km = _kernel_manager()
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        _live.add(self)
        await self.km.start_kernel(
            cwd=str(self.cwd),
            env=env,
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.process = getattr(self.km.provisioner, "process", None)

    async def shutdown(self) -> None:
        # already dead or never started: kill() below makes sure either way
        with contextlib.suppress(Exception):
            await self.km.shutdown_kernel(now=True)
        self.kill()

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the kernel leads its own group
            except OSError:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        _live.discard(self)


class _Kernels:
    """Hands out fresh kernels; the next one boots while the current notebook runs."""

    def __init__(self) -> None:
        self.spare: _Kernel | None = None

    async def take(self, cwd: Path) -> _Kernel:
        spare, self.spare = self.spare, None
        if spare is not None:
            if spare.cwd == cwd and spare.process is not None and spare.process.poll() is None:
                return spare
            await spare.shutdown()
        kernel = _Kernel(cwd)
        try:
            await kernel.start()
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    async def prestart(self, cwd: Path) -> None:
        if self.spare is not None:
            return
        kernel = _Kernel(cwd)
        try:
            await kernel.start()
        except Exception:  # take() will try again and report the problem
            await kernel.shutdown()
        else:
            self.spare = kernel

    async def close(self) -> None:
        if self.spare is not None:
            await self.spare.shutdown()
            self.spare = None


def _kernel_manager() -> Any:
    """A kernel manager for the ``python3`` kernel of *this* environment (``sys.executable``)."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class CurrentEnvSpecs(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> Any:
            if kernel_name == KERNEL_NAME:
                return self.kernel_spec_class(
                    resource_dir=ipykernel.kernelspec.RESOURCES,
                    **ipykernel.kernelspec.get_kernel_dict(),
                )
            return super().get_kernel_spec(kernel_name)

    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=CurrentEnvSpecs())
    km.shutdown_wait_time = 1.0
    return km


def _client_class() -> Any:
    from nbclient import NotebookClient
    from nbclient.util import ensure_async

    class Client(NotebookClient):  # type: ignore[misc]
        """nbclient, telling which cells timed out; a cell that ignores its interrupt
        gets ``INTERRUPT_GRACE`` seconds, then the run stops."""

        current: int = 0
        msg_id: str | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.timed_out: dict[int, float] = {}

        async def _async_handle_timeout(
            self, timeout: int, cell: Any = None
        ) -> dict[str, Any] | None:
            self.timed_out[self.current] = timeout
            await ensure_async(self.km.interrupt_kernel())
            deadline = time.monotonic() + INTERRUPT_GRACE
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                except Empty:
                    break
                if msg["parent_header"].get("msg_id") == self.msg_id:
                    return msg  # the interrupted cell's own reply: go on with the next cell
            raise _Unresponsive

    return Client


def _track_msg_ids(client: Any) -> None:
    execute = client.kc.execute

    def tracked(*args: Any, **kwargs: Any) -> str:
        client.msg_id = execute(*args, **kwargs)
        return client.msg_id

    client.kc.execute = tracked


async def _execute(nb: Any, kernel: _Kernel, timeout: float) -> Run:
    """Run every code cell of ``nb`` (in place) in ``kernel``, then shut the kernel down."""
    from nbclient.exceptions import DeadKernelError

    run = Run()
    kc = None
    try:
        client = _client_class()(
            nb,
            km=kernel.km,
            kernel_name=KERNEL_NAME,
            timeout_func=lambda cell: timeout,  # not timeout=: that trait takes whole seconds
            allow_errors=True,
            interrupt_on_timeout=True,
            record_timing=False,
            startup_timeout=STARTUP_TIMEOUT,
        )
        kc = kernel.km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        kc.allow_stdin = False
        client.kc = kc
        _track_msg_ids(client)
        for index, cell in enumerate(nb.cells):
            client.current = index + 1
            try:
                await client.async_execute_cell(
                    cell, index, execution_count=client.code_cells_executed + 1
                )
            except DeadKernelError:
                if _stop_requested:  # nbclient reports a cancelled cell as a dead kernel
                    raise Interrupted from None
                run.stopped = (index + 1, "the kernel died")
                break
            except _Unresponsive:
                run.stopped = (index + 1, "did not stop when interrupted; the kernel was stopped")
                break
        run.timed_out = dict(client.timed_out)
    finally:
        if kc is not None:
            kc.stop_channels()
        await kernel.shutdown()
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                value = str(output.get("evalue", "")).strip().splitlines()
                ename = output.get("ename", "Error")
                run.errors[index + 1] = f"{ename}: {value[0]}" if value else ename
    return run


# --------------------------------------------------------------------------- verdicts


def chapter_of(path: Path) -> str | None:
    """``"01"`` for ``01_concepts.ipynb``; ``None`` if the name does not start with NN."""
    match = _CHAPTER_RE.match(path.name)
    return match.group(1) if match else None


def _registry() -> tuple[dict[str, Any], str | None]:
    try:
        from course_tasks.checks import load_all

        return dict(load_all()), None
    except Exception as exc:  # a broken check module must not stop the grading
        return {}, f"could not load the exercise checks ({type(exc).__name__}: {exc})"


def _expected(chapter: str | None, registry: dict[str, Any]) -> dict[str, Any]:
    if chapter is None:
        return {}
    return {
        key: ex
        for key, ex in sorted(registry.items(), key=lambda kv: _id_key(kv[0]))
        if key.startswith(f"{chapter}.")
    }


def _id_key(exercise_id: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in exercise_id.split("."))


def _verdicts(nb: Any) -> dict[str, dict[str, Any]]:
    """The last verdict displayed for each exercise id."""
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(MIME_TYPE)
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except json.JSONDecodeError:
                    continue
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                found[data["id"]] = data
    return found


def _check_cells(nb: Any) -> dict[str, int]:
    """Exercise id -> number of the (last) code cell that calls ``check("NN.k", ...)``."""
    cells: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for match in _CHECK_CALL_RE.finditer(cell.source):
                cells[match.group("id")] = index + 1
    return cells


def _not_run_reason(exercise_id: str, check_cell: int | None, run: Run) -> str:
    if check_cell is None:
        return f'no cell calls check("{exercise_id}", ...): was it deleted?'
    if run.stopped and run.stopped[0] < check_cell:
        cell, why = run.stopped
        timeout = run.timed_out.get(cell)
        if timeout is not None:
            return (
                f"cell {cell} timed out after {timeout:g} s and {why}; "
                f"the check (cell {check_cell}) never ran"
            )
        return f"{why} in cell {cell}; the check (cell {check_cell}) never ran"
    if run.stopped and run.stopped[0] == check_cell:
        timeout = run.timed_out.get(check_cell)
        lead = f"its check (cell {check_cell})"
        if timeout is not None:
            return f"{lead} timed out after {timeout:g} s and {run.stopped[1]}"
        return f"{run.stopped[1]} while running {lead}"
    if check_cell in run.timed_out:
        return (
            f"its check (cell {check_cell}) timed out after "
            f"{run.timed_out[check_cell]:g} s (an infinite loop?)"
        )
    earlier = [cell for cell in sorted(run.timed_out) if cell < check_cell]
    lead = ""
    if earlier:
        cell = earlier[-1]
        lead = f"cell {cell} timed out after {run.timed_out[cell]:g} s (an infinite loop?)"
    if check_cell in run.errors:
        then = f"its check (cell {check_cell}) raised {run.errors[check_cell]}"
        return f"{lead}; then {then}" if lead else then
    return lead or f"its check (cell {check_cell}) showed no verdict"


def _rows(expected: dict[str, Any], nb: Any, run: Run, registry: dict[str, Any]) -> list[Outcome]:
    verdicts = _verdicts(nb)
    checks = _check_cells(nb)
    if not expected:  # a file name without NN: grade the exercises it checked
        expected = {key: registry[key] for key in sorted(verdicts, key=_id_key) if key in registry}
    rows = []
    for key, ex in expected.items():
        verdict = verdicts.get(key)
        if verdict is None:
            reason = _not_run_reason(key, checks.get(key), run)
            rows.append(Outcome(key, ex.title, 0, ex.points, f"not run: {reason}"))
            continue
        try:
            points = max(0, min(int(verdict.get("points", 0)), ex.points))
        except (TypeError, ValueError):
            points = 0
        feedback = str(verdict.get("feedback", "")) or "no feedback"
        rows.append(Outcome(key, ex.title, points, ex.points, feedback))
    return rows


def _not_run_rows(expected: dict[str, Any], why: str) -> list[Outcome]:
    return [Outcome(k, ex.title, 0, ex.points, f"not run: {why}") for k, ex in expected.items()]


async def grade_notebook(
    path: Path,
    shown: str,
    timeout: float,
    registry: dict[str, Any],
    kernels: _Kernels,
    next_path: Path | None = None,
) -> Graded:
    """Grade one notebook file; never raises (except on Ctrl-C).

    ``next_path`` is the notebook graded after this one: its kernel boots meanwhile.
    """
    from course_tasks.authoring import NotebookError, load_notebook  # nbformat: slow import

    started = time.monotonic()
    expected = _expected(chapter_of(path), registry)
    try:
        nb = load_notebook(path)
    except NotebookError as exc:
        return Graded(shown, _not_run_rows(expected, str(exc)), str(exc))
    try:
        kernel = await kernels.take(path.resolve().parent)
        if next_path is not None:
            await kernels.prestart(next_path.resolve().parent)
        run = await _execute(nb, kernel, timeout)
    except Exception as exc:
        error = f"could not run the notebook ({type(exc).__name__}: {exc})"
        return Graded(shown, _not_run_rows(expected, error), error, time.monotonic() - started)
    rows = _rows(expected, nb, run, registry)
    error = None
    if not rows:
        error = (
            "no exercises to grade: the file name does not start with a chapter number "
            "(NN_...) and no check cell showed a verdict"
            if chapter_of(path) is None
            else f"chapter {chapter_of(path)} has no registered exercises"
        )
    return Graded(shown, rows, error, time.monotonic() - started)


def expand(paths: list[str]) -> list[tuple[Path, str] | Graded]:
    """Notebook files to grade, in order; a :class:`Graded` error for what cannot be."""
    out: list[tuple[Path, str] | Graded] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            notebooks = sorted(p for p in path.glob("*.ipynb") if p.is_file())
            if not notebooks:
                out.append(Graded(raw, error="no notebooks (*.ipynb) in this folder"))
            out.extend((nb, str(nb)) for nb in notebooks)
        elif path.exists() or path.suffix == ".ipynb":
            out.append((path, raw))  # a missing .ipynb is reported with its exercises
        else:
            out.append(Graded(raw, error="no such file or folder"))
    return out


async def grade_all(
    paths: list[str], timeout: float, progress: Callable[[str], None] | None = None
) -> tuple[list[Graded], str | None]:
    """Grade ``paths`` in order; also say if the exercise registry could not be loaded.

    Raises :class:`Interrupted` on SIGINT or SIGTERM, after shutting down its kernels.
    """
    global _stop_requested
    _stop_requested = False
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal() -> None:
        global _stop_requested
        _stop_requested = True
        if main_task is not None:
            main_task.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, on_signal)
            handled.append(signum)

    registry, problem = _registry()
    items = expand(paths)
    kernels = _Kernels()
    results = []
    try:
        for number, item in enumerate(items):
            if isinstance(item, Graded):
                results.append(item)
                continue
            path, shown = item
            following = (
                later[0]
                for later in items[number + 1 :]
                if isinstance(later, tuple) and later[0].is_file()
            )
            next_path = next(following, None)
            if progress:
                progress(f"grading {shown} ...")
            graded = await grade_notebook(path, shown, timeout, registry, kernels, next_path)
            if _stop_requested:
                raise Interrupted
            if progress:
                progress(f"  {graded.points}/{graded.max_points} points in {graded.seconds:.1f} s")
            results.append(graded)
    except asyncio.CancelledError:
        if _stop_requested:
            raise Interrupted from None
        raise
    finally:
        try:
            await kernels.close()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            _kill_leftovers()
    return results, problem


def grade(paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> list[Graded]:
    """Grade ``paths`` (notebooks or folders) and return one :class:`Graded` per notebook."""
    try:
        return asyncio.run(grade_all(paths, timeout))[0]
    finally:
        _kill_leftovers()


# --------------------------------------------------------------------------- output


def _percent(points: int, max_points: int) -> str:
    return f"{100 * points / max_points:.0f}%" if max_points else "n/a"


def render(results: list[Graded], problem: str | None = None) -> str:
    lines: list[str] = []
    if problem:
        lines += [f"warning: {problem}", ""]
    for graded in results:
        took = f", {graded.seconds:.1f} s" if graded.seconds else ""
        lines.append(
            f"{graded.path}: {graded.points}/{graded.max_points} points "
            f"({_percent(graded.points, graded.max_points)}{took})"
        )
        if graded.error:
            lines.append(f"  error: {graded.error}")
        if graded.exercises:
            table = [("", "id", "title", "points", "max", "feedback")]
            for row in graded.exercises:
                mark = "✓" if row.passed else "✗"
                table.append(
                    (mark, row.id, row.title, str(row.points), str(row.max_points), row.feedback)
                )
            table.append(("", "total", "", str(graded.points), str(graded.max_points), ""))
            widths = [max(len(r[i]) for r in table) for i in range(5)]
            for r in table:
                cells = [
                    r[0].ljust(widths[0]),
                    r[1].ljust(widths[1]),
                    r[2].ljust(widths[2]),
                    r[3].rjust(widths[3]),
                    r[4].rjust(widths[4]),
                    r[5],
                ]
                lines.append(("  " + "  ".join(cells)).rstrip())
        lines.append("")
    points = sum(g.points for g in results)
    max_points = sum(g.max_points for g in results)
    count = sum(1 for g in results)
    lines.append(
        f"Overall: {points}/{max_points} points ({_percent(points, max_points)}) "
        f"in {count} notebook{'s' if count != 1 else ''}"
    )
    return "\n".join(lines)


def to_json(results: list[Graded]) -> dict[str, Any]:
    return {
        "notebooks": [g.to_json() for g in results],
        "points": sum(g.points for g in results),
        "max_points": sum(g.max_points for g in results),
    }


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_tasks grade",
        description="Run notebooks in fresh kernels and total the verdicts of their checks.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a notebook or a folder")
    parser.add_argument("--json", action="store_true", help="print the grades as JSON")
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"interrupt a cell that runs longer than this (default {DEFAULT_TIMEOUT:g})",
    )
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        results, problem = asyncio.run(grade_all(args.paths, args.timeout, progress))
    except (Interrupted, KeyboardInterrupt):
        _kill_leftovers()
        print("interrupted: grading stopped; every kernel it started is shut down", file=sys.stderr)
        return 130
    finally:
        _kill_leftovers()
    if args.json:
        print(json.dumps(to_json(results), indent=2, ensure_ascii=False))
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
    else:
        print(render(results, problem))
    return 0
