"""Grade notebooks: ``python -m course_tasks grade PATH... [options]``.

Grading a notebook is four steps, one module each:

1. :mod:`.assemble`: the released exercise notebook with the learner's answer cells put in
   by cell id (their saved outputs, added cells and edits of locked cells are not used);
2. :mod:`.run`: run it from the top in a fresh kernel, in a private folder with a clean
   environment, under time, memory and output limits (:mod:`.sandbox` holds the kernel);
3. :mod:`.collect`: the verdicts the released check cells displayed in this run, in the
   grader's mode, one per exercise;
4. :mod:`.report`: tables, JSON, a gradebook CSV and each learner's feedback file.

:mod:`.cli` puts them together for a class (``--jobs``), :mod:`.guard` keeps the installed
package and the workers as they were, :mod:`.nbgrader` exports the exercises to nbgrader.
See ``docs/exercises.md`` for the threat model.
"""

from course_tasks.grading.assemble import chapter_of
from course_tasks.grading.cli import DEFAULT_TIMEOUT, Options, grade, grade_all, main
from course_tasks.grading.model import Graded, Run
from course_tasks.grading.report import render, to_json
from course_tasks.grading.run import Interrupted, kill_leftovers

__all__ = [
    "DEFAULT_TIMEOUT", "Graded", "Interrupted", "Options", "Run", "chapter_of", "grade",
    "grade_all", "kill_leftovers", "main", "render", "to_json",
]  # fmt: skip
