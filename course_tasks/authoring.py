"""Build the learners' exercise notebooks from the solution notebooks.

``python -m course_tasks build-exercises [--check] [NAMES...]`` reads every
``solutions/NN_topic_solutions.ipynb`` (or the ones named) and writes
``exercises/NN_topic_exercises.ipynb``:

* every region from a ``### BEGIN SOLUTION`` line to the next ``### END SOLUTION`` line
  (markers on lines of their own, at any indentation) becomes a stub: ``...`` at the
  marker's indentation, or the text after the colon of ``### BEGIN SOLUTION: <stub>``;
* outputs, execution counts and execution timings are cleared; everything else (notebook
  and cell metadata, cell ids) is kept;
* in the first cell, if it is markdown, the word ``Solutions`` in its first line (the title)
  becomes ``Exercises``: "# 01 · Concepts: Solutions" gives "# 01 · Concepts: Exercises".

The output is a function of the input only (``nbformat.writes``), so a rebuild of unchanged
solutions gives byte-identical files and ``--check`` can tell CI whether the committed
exercises are stale. Each stubbed code cell is compiled (IPython magics and ``!`` lines
left out) so that a stub that would not even parse is reported before a learner sees it.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?::(?P<stub>.*))?[ \t]*$")
_END_RE = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
_TITLE_RE = re.compile(r"\bSolutions\b")
_MAGIC_RE = re.compile(r"^(?P<indent>[ \t]*)(?:[%!]|\w+\s*=\s*[%!])")
#: Cell metadata that records how a cell was last run: not part of an exercise.
_RUN_METADATA = ("execution", "collapsed", "scrolled")

NAME_HELP = "a solutions notebook: a path, a file name in solutions/, or a prefix such as 01"


class AuthoringError(Exception):
    """A solutions notebook the builder cannot turn into an exercise (the message says why)."""


@dataclass
class Built:
    """The exercise built from one solutions notebook."""

    source: Path
    target: Path
    text: str
    stubs: int
    errors: list[str] = field(default_factory=list)


def stub_source(source: str, *, where: str = "cell", strict: bool = True) -> tuple[str, int]:
    """``source`` with each solution region replaced by its stub; and how many there were.

    Raises :class:`AuthoringError` naming ``where`` and the line for unbalanced markers, and
    (if ``strict``, for code) for a marker that shares its line with something else.
    """
    out: list[str] = []
    count = 0
    open_line = 0
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        begin = _BEGIN_RE.match(text)
        if begin:
            if open_line:
                raise AuthoringError(
                    f"{where}, line {number}: {BEGIN} inside the solution opened at line "
                    f"{open_line} (add a {END} before it)"
                )
            open_line = number
            count += 1
            stub = (begin.group("stub") or "").strip() or "..."
            out.append(begin.group("indent") + stub + line[len(text) :])
        elif _END_RE.match(text):
            if not open_line:
                raise AuthoringError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            open_line = 0
        elif strict and (BEGIN in text or END in text):
            raise AuthoringError(
                f"{where}, line {number}: a solution marker must be alone on its line "
                f"(found {text.strip()!r})"
            )
        elif not open_line:
            out.append(line)
    if open_line:
        raise AuthoringError(f"{where}, line {open_line}: {BEGIN} is never closed by {END}")
    result = "".join(out)
    if result.endswith("\n") and not source.endswith("\n"):
        result = result[:-1]  # the END marker was the last line
    return result, count


def without_magics(source: str) -> str:
    """``source`` with IPython-only lines (``%magic``, ``!shell``, ``x = !cmd``) as ``pass``.

    A cell magic (``%%bash`` on the first line) makes the whole cell non-Python: ``""``.
    """
    if source.lstrip().startswith("%%"):
        return ""
    lines = []
    for line in source.splitlines():
        magic = _MAGIC_RE.match(line)
        lines.append(f"{magic.group('indent')}pass" if magic else line)
    return "\n".join(lines)


def check_syntax(source: str, *, where: str) -> None:
    """Raise :class:`AuthoringError` if ``source`` (a stubbed code cell) does not compile."""
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        compile(without_magics(source), where, "exec", flags=flags, dont_inherit=True)
    except SyntaxError as exc:
        line = f", line {exc.lineno}" if exc.lineno else ""
        raise AuthoringError(
            f"{where}{line}: the exercise's code would not run ({exc.msg}); "
            "give the region a stub that keeps the code valid, "
            f"e.g. '{BEGIN}: result = ...'"
        ) from None


def exercise_title(source: str) -> str:
    """The first line of a title cell with ``Solutions`` turned into ``Exercises``."""
    first, sep, rest = source.partition("\n")
    return _TITLE_RE.sub("Exercises", first) + sep + rest


def build_notebook(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int, list[str]]:
    """The exercise version of a solutions notebook (a copy); stubs made; errors found."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    errors: list[str] = []
    total = 0
    for number, cell in enumerate(nb.cells, start=1):
        where = f"cell {number} ({cell.cell_type})"
        try:
            strict = cell.cell_type == "code"
            source, count = stub_source(cell.source, where=where, strict=strict)
            if count and cell.cell_type == "code":
                check_syntax(source, where=where)
        except AuthoringError as exc:
            errors.append(str(exc))
            continue
        total += count
        if number == 1 and cell.cell_type == "markdown":
            source = exercise_title(source)
        cell.source = source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in _RUN_METADATA:
            cell.metadata.pop(key, None)
    return nb, total, errors


class NotebookError(Exception):
    """A file that cannot be used as a notebook; the message says why (without the path)."""


def load_notebook(path: Path) -> nbformat.NotebookNode:
    """Read an nbformat-4 notebook, or raise :class:`NotebookError` saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError("no such file") from None
    except IsADirectoryError:
        raise NotebookError("a folder, not a notebook") from None
    except UnicodeDecodeError:
        raise NotebookError("not a notebook (not UTF-8 text)") from None
    except OSError as exc:
        raise NotebookError(f"cannot be read ({exc.strerror or exc})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a notebook (invalid JSON at line {exc.lineno}, column {exc.colno})"
        ) from None
    version = raw.get("nbformat") if isinstance(raw, dict) else None
    if version != 4 or not isinstance(raw.get("cells"), list):
        found = f"nbformat {version}" if version is not None else "no nbformat version"
        raise NotebookError(f"not an nbformat-4 notebook ({found})")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat's own reader errors
        raise NotebookError(f"not a valid notebook ({exc})") from None


def build(source: Path, target: Path) -> Built:
    """Build the exercise of ``source`` in memory (nothing is written)."""
    try:
        nb = load_notebook(source)
    except NotebookError as exc:
        return Built(source, target, "", 0, [f"{source}: {exc}"])
    exercise, stubs, errors = build_notebook(nb)
    if errors:
        return Built(source, target, "", stubs, [f"{source}: {e}" for e in errors])
    return Built(source, target, nbformat.writes(exercise, version=4), stubs)


def find_sources(names: Iterable[str], solutions: Path) -> tuple[list[Path], list[str]]:
    """The solutions notebooks named by ``names`` (all of ``solutions/NN_*`` if none)."""
    names = list(names)
    if not names:
        if not solutions.is_dir():
            return [], [
                f"{solutions}: no such folder; run this from the course's root folder "
                "or give --solutions DIR"
            ]
        return sorted(solutions.glob("[0-9][0-9]_*.ipynb")), []
    found: list[Path] = []
    errors: list[str] = []
    for name in names:
        path = Path(name)
        if path.is_file():
            found.append(path)
            continue
        candidates = [solutions / name, solutions / f"{name}.ipynb",
                      solutions / f"{Path(name).stem}_solutions.ipynb"]  # fmt: skip
        match = next((c for c in candidates if c.is_file()), None)
        if match is None and solutions.is_dir():
            prefixed = sorted(solutions.glob(f"{name}_*.ipynb"))
            match = prefixed[0] if len(prefixed) == 1 else None
        if match is None:
            errors.append(f"{name}: no such solutions notebook (looked in {solutions}/)")
        else:
            found.append(match)
    return list(dict.fromkeys(found)), errors


def exercise_name(source: Path) -> str:
    """``05_topic_exercises.ipynb`` for ``05_topic_solutions.ipynb`` (or ``05_topic.ipynb``).

    The three notebooks of a chapter share its ``NN_topic`` and differ in their last word,
    so that JupyterLab's tabs (which show the file name) tell them apart.
    """
    stem = source.stem.removesuffix("_solutions")
    return f"{stem}_exercises.ipynb"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_tasks build-exercises",
        description="Write exercises/NN_*.ipynb from solutions/NN_*.ipynb: solution regions "
        "become stubs, outputs are cleared.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=NAME_HELP)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the exercises that a build would change",
    )
    parser.add_argument("--solutions", default="solutions", help="default: solutions")
    parser.add_argument("--exercises", default="exercises", help="default: exercises")
    args = parser.parse_args(argv)

    solutions, exercises = Path(args.solutions), Path(args.exercises)
    sources, errors = find_sources(args.names, solutions)
    stale: list[Path] = []
    for source in sources:
        built = build(source, exercises / exercise_name(source))
        if built.errors:
            errors.extend(built.errors)
            continue
        try:
            current = built.target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current == built.text:
            if not args.check:
                print(f"{built.target}: up to date ({built.stubs} stubs)")
            continue
        if args.check:
            stale.append(built.target)
            continue
        built.target.parent.mkdir(parents=True, exist_ok=True)
        built.target.write_text(built.text, encoding="utf-8")
        print(f"{built.target}: written from {source} ({built.stubs} stubs)")

    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if args.check:
        if stale:
            print("out of date (run `python -m course_tasks build-exercises`):")
            for path in stale:
                print(f"  {path}")
        elif not errors:
            print(
                f"exercises up to date ({len(sources)} notebook{'' if len(sources) == 1 else 's'})"
            )
    if not sources and not errors:
        print(f"no solutions notebooks (NN_*.ipynb) in {solutions}/")
    return 1 if errors or stale else 0
