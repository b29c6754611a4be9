"""``python -m course_tasks COMMAND``: the course's command line.

* ``doctor`` — can the course run here? (exit 0 yes, 1 no, with the fix)
* ``worker [celery worker options]`` — a real worker for redis mode, the same as
  ``celery -A course_tasks worker --loglevel=INFO [options]``
* ``build-exercises [--check] [NAMES...]`` — write ``exercises/`` from ``solutions/``
  (:mod:`course_tasks.authoring`)
* ``grade PATH... [options]`` — run the learners' answers in the released exercises in fresh
  kernels and total the check verdicts (:mod:`course_tasks.grading`)
* ``export-nbgrader DIR [NAMES...]`` — the exercises as an nbgrader course folder
  (:mod:`course_tasks.grading.nbgrader`)
"""

from __future__ import annotations

import sys

from course_tasks.errors import CourseError

USAGE = """\
usage: python -m course_tasks COMMAND [options]

commands:
  doctor                 check versions, mode, Redis and workers (exit 1 and a fix if not ok)
  worker [OPTIONS...]    start a Celery worker for redis mode (options go to `celery worker`)
  build-exercises [--check] [NAMES...]
                         write exercises/NN_*.ipynb from solutions/ (--check: only compare)
  grade PATH... [--json] [--csv FILE] [--feedback DIR] [--jobs N] [--timeout SECONDS]
                         grade notebooks (or folders of them) in fresh kernels
  export-nbgrader DIR [NAMES...]
                         write the exercises as an nbgrader course folder
"""


def _worker(argv: list[str]) -> int:
    from course_tasks import settings

    try:
        cfg = settings.from_env()
    except settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if cfg.mode != settings.REDIS:
        print(
            f"error: COURSE_BROKER selects {cfg.mode} mode, where the worker runs inside the "
            "notebook kernel (runtime.start()). A separate worker needs Redis: set "
            "COURSE_BROKER=redis://localhost:6379/0 first.",
            file=sys.stderr,
        )
        return 2
    if not any(a.startswith(("-l", "--loglevel")) for a in argv):
        argv = ["--loglevel=INFO", *argv]
    # Celery's own command line, exactly as `celery -A course_tasks worker ...`; going
    # through it (not app.worker_main) keeps `-A` in sys.argv, which --detach re-executes.
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "course_tasks", "worker", *argv]
    celery_main()
    return 0


def _without_iri_checker() -> None:
    """Spare ``build-exercises`` and ``grade`` 0.8 s of start-up spent on a checker they never use.

    nbformat validates notebooks with jsonschema. On import, jsonschema registers a checker
    for the ``iri`` string format if ``rfc3987_syntax`` is installed (JupyterLab's
    jupyter-events installs it), and importing that package compiles its grammar: 0.8 s,
    more than the rest of the command's imports together. The notebook schema has no ``iri``
    format, so these two commands do without that checker. Only this process is affected;
    kernels and JupyterLab import it as before.
    """
    if "jsonschema" not in sys.modules:  # too late once jsonschema has looked for it
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _exercises_command(command: str, argv: list[str]) -> int:
    try:
        if command in ("build-exercises", "grade"):
            _without_iri_checker()
        if command == "build-exercises":
            from course_tasks import authoring

            return authoring.main(argv)
        if command == "export-nbgrader":
            from course_tasks.grading import nbgrader

            return nbgrader.main(argv)
        from course_tasks import grading

        return grading.main(argv)
    except KeyboardInterrupt:  # grading handles its own; this is Ctrl-C while importing
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else (None, [])
    try:
        if command == "doctor":
            from course_tasks import doctor

            return doctor.main()
        if command == "worker":
            return _worker(rest)
        if command in ("build-exercises", "grade", "export-nbgrader"):
            return _exercises_command(command, rest)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if command in (None, "-h", "--help", "help"):
        print(USAGE)
        return 0
    print(f"error: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
