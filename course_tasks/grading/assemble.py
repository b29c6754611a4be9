"""Step 1: assemble the notebook to run from the released exercise and the learner's answers.

The grader never runs the learner's file as it is. It takes the released exercise notebook
(``exercises/NN_topic_exercises.ipynb``: the set-up cell, every check cell, every markdown cell) and
puts in it, by cell id, the source of the learner's *answer cells*: the code cells that hold
a ``### BEGIN SOLUTION`` region in ``solutions/NN_topic_solutions.ipynb``. nbgrader restores its
locked cells the same way. So

* outputs the learner saved are never read (the assembled notebook has none);
* a check cell the learner deleted, emptied, edited or tagged ``skip-execution`` runs as
  released; the set-up cell runs as released, so the mode is the grader's;
* cells the learner added are not run (a note says how many); an answer cell the learner
  deleted runs as its stub;
* answer cells that reach into the checker (``check``, ``course_tasks.checks``,
  ``sys.modules``, the environment, ...) are flagged for a person to look at.

The chapter comes from the file name (``01_concepts.ipynb``, ``01_concepts (alice).ipynb``);
a file named otherwise is matched to the chapter whose answer cell ids it holds.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_tasks.authoring import AuthoringError, NotebookError, load_notebook, stub_source

_CHAPTER_RE = re.compile(r"^(\d{2})(?!\d)")
_CHECK_CALL_RE = re.compile(r"""\bcheck\(\s*(?P<q>["'])(?P<id>\d{2}\.\d+)(?P=q)""", re.ASCII)
#: An answer longer than this is cut (a learner's cell is a few dozen lines).
MAX_ANSWER_CHARS = 100_000


class ReleaseError(Exception):
    """The course's released exercise (or its solution) for a chapter is missing or broken."""


def chapter_of(path: Path) -> str | None:
    """``"01"`` for ``01_concepts.ipynb``; ``None`` if the name does not start with NN."""
    match = _CHAPTER_RE.match(path.name)
    return match.group(1) if match else None


def id_key(exercise_id: str) -> tuple[int, ...]:
    """Sort key for ``NN.k`` ids (ASCII digits only; anything else sorts first)."""
    return tuple(int(p) if p.isascii() and p.isdigit() else -1 for p in exercise_id.split("."))


@dataclass(frozen=True)
class Expected:
    """An exercise a chapter's notebook must hold, as registered."""

    id: str
    title: str
    points: int


@dataclass
class Release:
    """A chapter as released: the exercise notebook and what its cells are."""

    chapter: str
    path: Path
    nb: Any
    answers: dict[str, str]  # answer cell id -> the exercise id it answers
    checks: dict[str, int]  # exercise id -> number of its check cell (from 1)
    expected: dict[str, Expected]

    @property
    def check_ids(self) -> dict[str, str]:
        """exercise id -> cell id of its check cell."""
        return {key: self.nb.cells[number - 1].get("id", "") for key, number in self.checks.items()}


@dataclass
class Assembled:
    """The notebook the grader runs, and what the assembly noticed."""

    release: Release
    nb: Any
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Course:
    """The released exercises (``exercises/``) and their sources (``solutions/``)."""

    def __init__(self, root: Path, registry: dict[str, Any]) -> None:
        self.root = root
        self.registry = registry
        self._releases: dict[str, Release | ReleaseError] = {}

    def chapters(self) -> list[str]:
        found = {chapter_of(p) for p in (self.root / "exercises").glob("[0-9][0-9]_*.ipynb")}
        return sorted(c for c in found if c)

    def release(self, chapter: str) -> Release:
        if chapter not in self._releases:
            try:
                self._releases[chapter] = self._load(chapter)
            except ReleaseError as exc:
                self._releases[chapter] = exc
        found = self._releases[chapter]
        if isinstance(found, ReleaseError):
            raise found
        return found

    def expected(self, chapter: str | None) -> dict[str, Expected]:
        """The registered exercises of ``chapter``, in order (for error rows)."""
        if chapter is None:
            return {}
        return {
            key: Expected(key, ex.title, ex.points)
            for key, ex in sorted(self.registry.items(), key=lambda kv: id_key(kv[0]))
            if key.startswith(f"{chapter}.")
        }

    def _load(self, chapter: str) -> Release:
        def one(folder: str) -> Path:
            found = sorted((self.root / folder).glob(f"{chapter}_*.ipynb"))
            if len(found) != 1:
                raise ReleaseError(
                    f"the course has {len(found)} {folder}/{chapter}_*.ipynb (needs exactly 1) "
                    f"in {self.root}: pass the course folder with --course"
                )
            return found[0]

        exercise_path, solution_path = one("exercises"), one("solutions")
        try:
            nb = load_notebook(exercise_path)
            solution = load_notebook(solution_path)
        except NotebookError as exc:
            raise ReleaseError(f"the released {exercise_path.name} cannot be read: {exc}") from None
        checks: dict[str, int] = {}
        for number, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "code":
                for match in _CHECK_CALL_RE.finditer(cell.source):
                    checks[match.group("id")] = number
        answer_cells: list[str] = []
        for cell in solution.cells:
            if cell.cell_type != "code":
                continue
            try:
                regions = stub_source(cell.source)[1]
            except AuthoringError as exc:
                raise ReleaseError(f"{solution_path.name}: {exc}") from None
            if regions:
                answer_cells.append(cell.get("id", ""))
        position = {cell.get("id"): n for n, cell in enumerate(nb.cells, start=1)}
        answers: dict[str, str] = {}
        for cell_id in answer_cells:
            if cell_id not in position:
                raise ReleaseError(
                    f"{exercise_path.name} has no cell {cell_id!r} of {solution_path.name}: "
                    "rebuild it (python -m course_tasks build-exercises)"
                )
            later = [key for key, n in sorted(checks.items(), key=lambda kv: kv[1])
                     if n > position[cell_id]]  # fmt: skip
            answers[cell_id] = later[0] if later else ""
        expected = self.expected(chapter)
        if not expected:
            raise ReleaseError(f"chapter {chapter} has no registered exercises")
        return Release(chapter, exercise_path, nb, answers, checks, expected)

    def identify(self, nb: Any) -> str | None:
        """The chapter whose answer cell ids ``nb`` holds (most of them), if one does."""
        ids = {cell.get("id") for cell in nb.cells}
        scores = []
        for chapter in self.chapters():
            try:
                release = self.release(chapter)
            except ReleaseError:
                continue
            hits = len(ids & set(release.answers))
            if hits:
                scores.append((hits, chapter))
        scores.sort(reverse=True)
        if scores and (len(scores) == 1 or scores[0][0] > scores[1][0]):
            return scores[0][1]
        return None


def assemble(learner: Any, release: Release) -> Assembled:
    """The released exercise with the learner's answer cells put in by cell id."""
    nb = copy.deepcopy(release.nb)
    done = Assembled(release, nb)
    theirs = {cell.get("id"): cell for cell in learner.cells if cell.get("id")}
    positional = _positional_answers(learner, release) if not theirs else {}
    for number, cell in enumerate(nb.cells, start=1):
        cell_id = cell.get("id")
        if cell_id in release.answers:
            exercise = release.answers[cell_id] or "?"
            answer = theirs.get(cell_id) or positional.get(cell_id)
            if answer is None or answer.cell_type != "code":
                done.notes.append(
                    f"{exercise}: no answer cell (id {cell_id}) in the notebook: its stub was run"
                )
                continue
            source = answer.source
            if len(source) > MAX_ANSWER_CHARS:
                source = source[:MAX_ANSWER_CHARS]
                done.notes.append(
                    f"{exercise}: the answer was cut at {MAX_ANSWER_CHARS} characters"
                )
            cell.source = source
            done.flags += [f"{exercise} (cell {number}): {why}" for why in reaches_in(source)]
        elif cell.cell_type == "code":
            mine = theirs.get(cell_id)
            if mine is not None and mine.source.strip() != cell.source.strip():
                done.notes.append(f"cell {number} was edited: the released cell was run instead")
    released = {cell.get("id") for cell in nb.cells}
    added = [
        c
        for c in learner.cells
        if c.cell_type == "code" and c.source.strip() and c.get("id") not in released
    ]
    if added and theirs:
        done.notes.append(
            f"{len(added)} code cell{'s' if len(added) != 1 else ''} added to the notebook "
            "did not run (only the answer cells are graded)"
        )
    if positional:
        done.notes.append("the notebook has no cell ids: answers were matched by position")
    return done


def _positional_answers(learner: Any, release: Release) -> dict[str, Any]:
    """For a notebook without cell ids (nbformat < 4.5) with the released code cells' count."""
    ours = [c for c in release.nb.cells if c.cell_type == "code"]
    mine = [c for c in learner.cells if c.cell_type == "code"]
    if len(ours) != len(mine):
        return {}
    return {
        a.get("id"): b for a, b in zip(ours, mine, strict=True) if a.get("id") in release.answers
    }


def load(path: Path) -> Any:
    """The learner's notebook (raises :class:`NotebookError` saying why it is not one)."""
    return load_notebook(path)


# --------------------------------------------------------------------------- reaching in

#: Names whose use in an answer cell is flagged: the checker, its display, the interpreter's
#: module table, the environment and the app's mode.
_REACH_NAMES = {
    "check": "redefines or rebinds check",
    "evaluate": "uses the checker's evaluate",
    "REGISTRY": "uses the checks' REGISTRY",
    "Outcome": "uses the checker's Outcome",
    "environ": "reads or changes the environment (os.environ)",
    "putenv": "changes the environment (os.putenv)",
    "getenv": "reads the environment (os.getenv)",
    "modules": "uses sys.modules",
    "importlib": "uses importlib",
    "builtins": "uses builtins",
    "__builtins__": "uses __builtins__",
    "get_ipython": "uses get_ipython()",
    "display": "displays objects itself",
    "publish_display_data": "publishes display data itself",
    "task_always_eager": "switches task_always_eager",
    "shutdown": "shuts workers down (app.control.shutdown)",
    "broadcast": "broadcasts to workers (app.control.broadcast)",
}
_REACH_TEXT = {
    "course_tasks.checks": "imports course_tasks.checks",
    "course_tasks.grading": "imports course_tasks.grading",
    "course_tasks.settings": "uses course_tasks.settings",
    "COURSE_": "names a COURSE_ variable",
    "vnd.celery-course": "writes the checker's MIME type",
}


def reaches_in(source: str) -> list[str]:
    """Why an answer cell's source reaches into the checker or the mode (empty: it does not)."""
    found: list[str] = []
    for text, why in _REACH_TEXT.items():
        if text in source:
            found.append(why)
    try:
        tree = ast.parse(_without_magics(source))
    except (SyntaxError, ValueError):
        names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
        found += [why for name, why in _REACH_NAMES.items() if name in names]
        return sorted(set(found))
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name):
            name = node.id if node.id != "check" or isinstance(node.ctx, ast.Store) else None
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                for part in (alias.asname, *alias.name.split(".")):
                    if part in _REACH_NAMES:
                        found.append(_REACH_NAMES[part])
            if isinstance(node, ast.ImportFrom) and node.module:
                for part in node.module.split("."):
                    if part in _REACH_NAMES:
                        found.append(_REACH_NAMES[part])
                if node.module == "course_tasks":
                    found += [f"imports course_tasks.{a.name}" for a in node.names
                              if a.name in ("checks", "grading", "settings")]  # fmt: skip
        elif isinstance(node, ast.Global):
            found += [_REACH_NAMES[n] for n in node.names if n in _REACH_NAMES]
        if name in _REACH_NAMES:
            found.append(_REACH_NAMES[name])
    return sorted(set(found))


def _without_magics(source: str) -> str:
    from course_tasks.authoring import without_magics

    return without_magics(source)
