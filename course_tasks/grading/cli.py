"""``python -m course_tasks grade``: the steps put together for every notebook of a class.

For each notebook: assemble (:mod:`.assemble`), run (:mod:`.run`), collect (:mod:`.collect`),
then report (:mod:`.report`) as soon as it is done. Up to ``--jobs`` notebooks run at once,
each in its own kernel; nothing one notebook does (a bad file, a crash, a forged verdict, a
planted module, a stopped worker) stops the run or changes another notebook's grade.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course_tasks.grading import assemble, collect, run
from course_tasks.grading.guard import PackageGuard, Workers
from course_tasks.grading.model import Graded
from course_tasks.grading.report import Feedback, Gradebook, render, to_json

DEFAULT_TIMEOUT = 30.0
DEFAULT_NOTEBOOK_TIMEOUT = 600.0
DEFAULT_MEMORY_MB = 4096
DEFAULT_OUTPUT_KB = 2048


class Options:
    """How to grade (the command line's options)."""

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
        memory_mb: int = DEFAULT_MEMORY_MB,
        output_kb: int = DEFAULT_OUTPUT_KB,
        jobs: int = 1,
        course: Path | None = None,
    ) -> None:
        self.timeout = timeout
        self.notebook_timeout = notebook_timeout
        self.memory = memory_mb * 1024 * 1024
        self.output_limit = output_kb * 1024
        self.jobs = jobs
        self.course = course or default_course()


def default_course() -> Path:
    """The folder ``course_tasks`` is installed from if it holds ``exercises/``, else ``.``."""
    import course_tasks

    root = Path(course_tasks.__file__).resolve().parent.parent
    return root if (root / "exercises").is_dir() else Path.cwd()


def _registry() -> tuple[dict[str, Any], str | None]:
    try:
        from course_tasks.checks import load_all

        return dict(load_all()), None
    except Exception as exc:  # a broken check module must not stop the grading
        return {}, f"could not load the exercise checks ({type(exc).__name__}: {exc})"


def _mode() -> str:
    from course_tasks import settings

    try:
        return settings.from_env().mode
    except settings.SettingsError:
        return "invalid"


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


class Grader:
    """Grades notebooks one by one or ``jobs`` at a time; shared state of one run."""

    def __init__(self, options: Options, registry: dict[str, Any]) -> None:
        self.options = options
        self.course = assemble.Course(options.course, registry)
        self.mode = _mode()
        self.token = secrets.token_hex(16)
        self.guard = PackageGuard()
        self.workers = Workers(self.mode)

    def chapter(self, path: Path) -> str | None:
        """The chapter a notebook is for: its name, or the answer cell ids it holds."""
        found = assemble.chapter_of(path)
        if found is not None:
            return found
        try:
            return self.course.identify(assemble.load(path))
        except Exception:
            return None

    async def grade(self, path: Path, shown: str) -> Graded:
        """Grade one notebook file; never raises (but on Ctrl-C)."""
        started = time.monotonic()
        try:
            graded = await self._grade(path, shown)
        except (run.Interrupted, asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # nothing in one notebook may stop the run
            graded = Graded(
                shown, problem=f"the grader failed on this notebook ({type(exc).__name__}: {exc})"
            )
        if graded.error is None:  # a notebook that could not be read took no time worth saying
            graded.seconds = time.monotonic() - started
        return graded

    async def _grade(self, path: Path, shown: str) -> Graded:
        chapter = assemble.chapter_of(path)
        expected = self.course.expected(chapter)
        try:
            learner = assemble.load(path)
        except assemble.NotebookError as exc:
            return Graded(
                shown, collect.not_run_rows(expected, str(exc)), str(exc), chapter=chapter
            )
        if chapter is None:
            chapter = self.course.identify(learner)
            if chapter is None:
                return Graded(shown, error=(
                    "cannot tell which chapter this notebook is for: its name does not start "
                    "with a chapter number (NN_...) and it holds no released answer cell; "
                    "rename it like the released exercise (01_concepts_exercises.ipynb)"
                ))  # fmt: skip
            expected = self.course.expected(chapter)
        try:
            release = self.course.release(chapter)
        except assemble.ReleaseError as exc:
            return Graded(shown, collect.not_run_rows(expected, str(exc)), chapter=chapter,
                          problem=str(exc))  # fmt: skip
        done = assemble.assemble(learner, release)
        graded = Graded(shown, chapter=chapter, flags=list(done.flags), notes=list(done.notes))
        before, problem = await self.workers.before()
        if problem:
            graded.exercises = collect.not_run_rows(
                release.expected, "not graded (grading problem)"
            )
            graded.problem = problem
            return graded
        outcome = await self._run(done, path)
        if isinstance(outcome, str):
            graded.exercises = collect.not_run_rows(release.expected, outcome)
            graded.problem = outcome
        else:
            rows, flags = collect.rows(done, outcome)
            graded.exercises = rows
            graded.flags += flags
            if outcome.truncated:
                graded.notes.append(
                    f"outputs past {self.options.output_limit // 1024} KB were dropped "
                    "(verdicts are always kept)"
                )
        changed = await asyncio.to_thread(self.guard.restore)
        if changed:
            graded.flags.append(
                "changed the installed course_tasks while it ran (put back as it was): "
                + ", ".join(changed[:10])
            )
        graded.problem = graded.problem or await self.workers.after(before)
        return graded

    async def _run(self, done: assemble.Assembled, path: Path) -> Any:
        """Run the assembled notebook in a private folder: its Run, or why it could not."""
        with run.private_folder() as folder:
            self.guard.copy_to(folder / "lib")
            env = run.kernel_environment(folder, self.token)
            kernel = run.Kernel(folder, env, self.options.memory)
            try:
                try:
                    await kernel.start()
                except Exception as exc:
                    return f"could not start a kernel ({type(exc).__name__}: {exc})"
                (folder / "work" / path.name).write_text(json.dumps(done.nb), encoding="utf-8")
                result = await run.execute(
                    done.nb, kernel, self.options.timeout, self.options.notebook_timeout,
                    self.options.output_limit,
                )  # fmt: skip
            finally:
                await kernel.shutdown()
        result.mode = self.mode
        result.token = self.token
        return result


async def grade_all(
    paths: list[str],
    options: Options,
    progress: Callable[[str], None] | None = None,
    on_result: Callable[[Graded], None] | None = None,
    on_start: Callable[[list[str]], None] | None = None,
) -> tuple[list[Graded], str | None]:
    """Grade ``paths``; also say if the exercise registry could not be loaded.

    ``on_start`` gets the exercise ids of the run's chapters before the first notebook,
    ``on_result`` each notebook's grade as soon as it is done. Raises :class:`Interrupted`
    on SIGINT or SIGTERM, after stopping every kernel.
    """
    run.STOP.requested = False
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal() -> None:
        run.STOP.requested = True
        if main_task is not None:
            main_task.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, on_signal)
            handled.append(signum)

    registry, problem = _registry()
    grader = Grader(options, registry)
    items = expand(paths)
    if on_start is not None:
        chapters = {grader.chapter(item[0]) for item in items if isinstance(item, tuple)}
        on_start([key for c in chapters if c for key in grader.course.expected(c)])
    results: list[Graded | None] = [None] * len(items)
    slots = asyncio.Semaphore(max(1, options.jobs))

    async def one(number: int, item: tuple[Path, str] | Graded) -> None:
        if isinstance(item, Graded):
            graded = item
        else:
            async with slots:
                if progress:
                    progress(f"grading {item[1]} ...")
                graded = await grader.grade(*item)
                if progress:
                    progress(f"  {item[1]}: {graded.points}/{graded.max_points} points "
                             f"in {graded.seconds:.1f} s")  # fmt: skip
        results[number] = graded
        if on_result is not None:
            try:
                on_result(graded)
            except Exception as exc:  # a full disk must not lose the grades in memory
                if progress:
                    progress(f"  could not write the result of {graded.path}: {exc}")

    try:
        await asyncio.gather(*(one(n, item) for n, item in enumerate(items)))
    except asyncio.CancelledError:
        if run.STOP.requested:
            raise run.Interrupted from None
        raise
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        run.kill_leftovers()
    if run.STOP.requested:
        raise run.Interrupted
    return [g for g in results if g is not None], problem


def grade(paths: list[str], timeout: float = DEFAULT_TIMEOUT, **options: Any) -> list[Graded]:
    """Grade ``paths`` (notebooks or folders) and return one :class:`Graded` per notebook."""
    try:
        return asyncio.run(grade_all(paths, Options(timeout=timeout, **options)))[0]
    finally:
        run.kill_leftovers()


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_tasks grade",
        description="Run the released exercises with the learners' answers in fresh kernels "
        "and total the verdicts of their checks.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a notebook or a folder")
    p.add_argument("--json", action="store_true", help="print the grades as JSON")
    p.add_argument(
        "--csv",
        metavar="FILE",
        type=Path,
        help="write a gradebook: one row per learner and notebook, one column per exercise",
    )
    p.add_argument(
        "--feedback",
        metavar="DIR",
        type=Path,
        help="write each learner a feedback file: DIR/LEARNER/NOTEBOOK.md",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=_count,
        default=1,
        metavar="N",
        help="grade N notebooks at once, each in its own kernel (default 1)",
    )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"interrupt a cell that runs longer than this (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument(
        "--notebook-timeout",
        type=_positive,
        default=DEFAULT_NOTEBOOK_TIMEOUT,
        metavar="SECONDS",
        help=f"stop a notebook that runs longer than this (default {DEFAULT_NOTEBOOK_TIMEOUT:g})",
    )
    p.add_argument(
        "--memory",
        type=_count,
        default=DEFAULT_MEMORY_MB,
        metavar="MB",
        help=f"address space of a kernel and what it starts (default {DEFAULT_MEMORY_MB})",
    )
    p.add_argument(
        "--output-limit",
        type=_count,
        default=DEFAULT_OUTPUT_KB,
        metavar="KB",
        help=f"outputs of a notebook kept for grading (default {DEFAULT_OUTPUT_KB})",
    )
    p.add_argument(
        "--course",
        type=Path,
        metavar="DIR",
        help="the course folder holding exercises/ and solutions/ "
        "(default: the one course_tasks is installed from)",
    )
    return p  # fmt: skip


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    options = Options(args.timeout, args.notebook_timeout, args.memory, args.output_limit,
                      args.jobs, args.course)  # fmt: skip

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        book: list[Gradebook] = []
        feedback = Feedback(args.feedback) if args.feedback else None

        def on_start(ids: list[str]) -> None:
            if args.csv:
                stream = stack.enter_context(args.csv.open("w", encoding="utf-8", newline=""))
                book.append(Gradebook(stream, ids))

        def on_result(graded: Graded) -> None:
            if book:
                book[0].add(graded)
            if feedback is not None:
                feedback.add(graded)

        try:
            results, problem = asyncio.run(
                grade_all(args.paths, options, progress, on_result, on_start)
            )
        except (run.Interrupted, KeyboardInterrupt):
            run.kill_leftovers()
            print(
                "interrupted: grading stopped; every kernel it started is shut down",
                file=sys.stderr,
            )
            return 130
        finally:
            run.kill_leftovers()
    if args.json:
        print(json.dumps(to_json(results), indent=2, ensure_ascii=False))
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
    else:
        print(render(results, problem))
    return 3 if any(g.problem for g in results) else 0
