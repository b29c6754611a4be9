"""``python -m course_tasks doctor``: can the course run here, and if not, what to do.

Prints versions, the mode, where the broker, results and app data live, whether the
broker answers and how many workers answer a ping. Exit status 0 when the course can run,
1 with a ``Fix:`` line when it cannot. Every check is bounded: an unreachable Redis is
reported within a few seconds.

In redis mode it also reports the classroom (``docs/classroom.md``): with
``COURSE_LEARNER`` set, the learner's namespace, and when no worker answers in it, where
workers do answer (a worker started without the same ``COURSE_LEARNER``); without it (the
instructor), every learner namespace on the server and the workers that answer in each.
"""

from __future__ import annotations

import contextlib
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata

from course_tasks import settings
from course_tasks.errors import CourseError

PACKAGES = ("celery", "kombu", "redis", "fakeredis", "lupa")


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)
    problems: list[CourseError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, label: str, value: str) -> None:
        self.lines.append((label, value))

    def render(self) -> str:
        out = ["course_tasks doctor"]
        out += [f"  {label:<10} {value}" for label, value in self.lines]
        if self.ok:
            out.append("OK: the course can run.")
        for problem in self.problems:
            out.append(f"PROBLEM: {problem.problem}")
            if problem.fix:
                out.append(f"Fix: {problem.fix}")
        return "\n".join(out)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def _switch_value(cfg: settings.Settings) -> str:
    return settings.redact(cfg.broker_url) if cfg.mode == settings.REDIS else cfg.mode


def diagnose() -> Report:
    report = Report()
    report.add("python", platform.python_version())
    report.add("packages", ", ".join(f"{name} {_version(name)}" for name in PACKAGES))
    try:
        cfg = settings.from_env()
    except settings.SettingsError as exc:
        report.problems.append(CourseError(str(exc), "fix or unset COURSE_BROKER."))
        return report
    switch = "unset" if cfg.mode == settings.EMBEDDED else repr(_switch_value(cfg))
    report.add("mode", f"{cfg.mode} (COURSE_BROKER {switch})")
    overrides = settings.celery_overrides()
    if overrides:
        report.problems.append(
            CourseError(
                f"{' and '.join(overrides)} is set: Celery uses it instead of the course's URLs.",
                f"unset {' '.join(overrides)}; COURSE_BROKER alone selects the mode.",
            )
        )
        return report
    report.add("broker", settings.redact(cfg.broker_url))
    report.add("results", settings.redact(cfg.backend_url))
    report.add("app data", settings.redact(cfg.store_url))
    if cfg.learner:
        report.add("learner", _learner_line(cfg))
    if _version("lupa") == "missing" and cfg.mode != settings.REDIS:
        report.problems.append(
            CourseError(
                "lupa is not installed, so chords cannot be counted in the in-process Redis.",
                "pip install 'fakeredis[lua]' (or `make install`).",
            )
        )
    try:
        if cfg.mode == settings.REDIS:
            _check_redis(cfg, report)
        elif cfg.mode == settings.EMBEDDED:
            _check_embedded(report)
        else:
            report.add("workers", "none needed: task_always_eager runs tasks inline")
    except CourseError as exc:
        report.problems.append(exc)
    return report


def _learner_line(cfg: settings.Settings) -> str:
    if cfg.key_prefix:
        return (
            f"{cfg.learner} (COURSE_LEARNER): broker, results and app-data keys start with "
            f"{cfg.key_prefix}"
        )
    return f"{cfg.learner} (COURSE_LEARNER): no effect in {cfg.mode} mode, nothing is shared"


def _check_redis(cfg: settings.Settings, report: Report) -> None:
    from course_tasks import probe, runtime
    from course_tasks.app import app

    for url, role in (
        (cfg.broker_url, "broker"),
        (cfg.backend_url, "result backend"),
        (cfg.store_url, "app data"),
    ):
        seconds = probe.ping_redis(url, role=role)
        report.add("reachable", f"{role}: yes ({seconds * 1000:.1f} ms)")
    workers = runtime.wait_for_workers(timeout=2.0)
    names = f": {', '.join(workers)}" if workers else ""
    where = f" in namespace {cfg.learner}" if cfg.key_prefix else ""
    report.add("workers", f"{len(workers)} answered ping{where}{names}")
    room = probe.classroom(app, cfg.broker_url)
    if not cfg.key_prefix:
        _report_classroom(room, report)
    if workers:
        return
    if cfg.key_prefix:
        elsewhere = {name: found for name, found in room.items() if found and name != cfg.learner}
        plain = probe.ping_namespace(app, None)
        if plain:
            elsewhere["(no COURSE_LEARNER)"] = plain
        if elsewhere:
            report.add("elsewhere", "; ".join(f"{k}: {', '.join(v)}" for k, v in elsewhere.items()))
        report.problems.append(
            CourseError(
                f"No worker answered in namespace {cfg.learner} on "
                f"{settings.redact(cfg.broker_url)}"
                + (" (workers answer in other namespaces, listed above)." if elsewhere else "."),
                f"start your worker with the same COURSE_BROKER and COURSE_LEARNER: "
                f"`COURSE_LEARNER={cfg.learner} python -m course_tasks worker`.",
            )
        )
        return
    report.problems.append(
        CourseError(
            f"No worker answered on {settings.redact(cfg.broker_url)}.",
            "start one with the same COURSE_BROKER: `python -m course_tasks worker`."
            + (" Learners start theirs with their COURSE_LEARNER." if room else ""),
        )
    )


def _report_classroom(room: dict[str, list[str]], report: Report) -> None:
    """The instructor's view: each learner namespace and the workers answering in it."""
    if not room:
        return
    busy = sum(1 for found in room.values() if found)
    report.add("learners", f"{len(room)} namespaces (COURSE_LEARNER), {busy} with workers")
    for name, found in room.items():
        answered = f"{len(found)} answered ping: {', '.join(found)}" if found else "no worker"
        report.add("learner", f"{name}: {answered}")


def _check_embedded(report: Report) -> None:
    from course_tasks import probe, runtime
    from course_tasks.app import app

    started_here = not runtime.is_running()
    with runtime.running() if started_here else contextlib.nullcontext():
        workers = probe.ping_workers(app, timeout=0.5)
    how = "started for this check, then stopped" if started_here else "running in this process"
    report.add("workers", f"{len(workers)} answered ping ({how})")
    report.add("log", str(runtime.log_path()))
    if not workers:
        report.problems.append(
            CourseError(
                "The embedded worker started but did not answer a ping.",
                f"look at its log, {runtime.log_path()}, and report it.",
            )
        )


def main() -> int:
    report = diagnose()
    print(report.render())
    sys.stdout.flush()
    return 0 if report.ok else 1
