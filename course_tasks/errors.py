"""Errors that tell a learner what went wrong and how to fix it, without a traceback wall."""

from __future__ import annotations


class CourseError(RuntimeError):
    """A problem with the course set-up that the learner can fix.

    In IPython and Jupyter it is shown as its message alone: ``_render_traceback_`` is the
    hook IPython calls instead of printing a traceback.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\nFix: {fix}" if fix else problem)

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class BrokerUnreachable(CourseError):
    """The Redis named by ``COURSE_BROKER`` did not answer."""


class NoWorker(CourseError):
    """No Celery worker answered a ping."""


class WorkerStopped(NoWorker):
    """Embedded mode: ``get()`` on a task while the runtime's worker is not running."""
