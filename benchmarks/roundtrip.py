"""Round-trip latency, throughput and embedded worker start/stop, per course mode.

Usage (from the repository root)::

    python benchmarks/roundtrip.py                          # eager + embedded
    python benchmarks/roundtrip.py --redis-url auto         # + redis, on a throwaway redis-server
    python benchmarks/roundtrip.py --redis-url redis://localhost:6379/0 [--flush]
    python benchmarks/roundtrip.py --redis-url auto --runs 5     # median of 5 runs per mode

In redis mode it measures the course's settings (``redis``) and, with the same worker
command line, Celery's defaults for everything the course changes (``redis-defaults``,
see ``benchmarks/celery_defaults.py``).

The mode is read from ``COURSE_BROKER`` when ``course_tasks`` is imported, so every mode is
measured in a subprocess of its own (this script run with ``--child``), which writes its
figures as JSON to a file the parent reads. In redis mode the parent also owns the worker
process (and, with ``auto``, the redis-server) and stops them whatever happens.

Targets from the spec are reported, not asserted: a slow machine gives a FAIL line, and the
exit status only says whether every measurement ran. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_OUT = HERE / "results" / "roundtrip.json"
ALL_MODES = ("eager", "embedded", "redis", "redis-defaults")
REDIS_MODES = ("redis", "redis-defaults")
WARMUP = 20
START_STOP_REPEATS = 10
GET_TIMEOUT = 10.0
WORKER_NAME = "bench@%h"
WORKER_READY_SECONDS = 30.0
#: Figures of a run that are combined (median) over ``--runs``.
RUN_FIGURES = ("median_ms", "p90_ms", "min_ms", "max_ms", "tasks_per_s", "total_s", "send_s",
               "worker_start_ms", "worker_stop_ms")  # fmt: skip

#: (figure key, "max" or "min", limit, unit, label): the targets, all for embedded mode
#: (issue 12). Plus one comparison, embedded median <= RATIO x the redis median.
TARGETS: tuple[tuple[str, str, float, str, str], ...] = (
    ("median_ms", "max", 2.0, "ms", "embedded round-trip median <= 2 ms"),
    ("tasks_per_s", "min", 1000.0, "tasks/s", "embedded throughput with results >= 1,000/s"),
    ("worker_start_ms", "max", 100.0, "ms", "embedded worker start <= 100 ms"),
    ("worker_stop_ms", "max", 100.0, "ms", "embedded worker stop <= 100 ms"),
)
RATIO = 0.5


class BenchError(Exception):
    """A measurement could not be made; the message is one line for the terminal."""


# --------------------------------------------------------------------------- child side


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _latency(add: Any, samples: int) -> dict[str, Any]:
    for i in range(WARMUP):
        add.delay(i, i).get(timeout=GET_TIMEOUT)
    timings: list[float] = []
    for i in range(samples):
        started = time.perf_counter()
        result = add.delay(i, i).get(timeout=GET_TIMEOUT)
        timings.append(time.perf_counter() - started)
        if result != 2 * i:
            raise BenchError(f"add({i}, {i}) returned {result!r}")
    p90 = statistics.quantiles(timings, n=10, method="inclusive")[8] if samples > 1 else timings[0]
    return {
        "samples": samples,
        "warmup": WARMUP,
        "median_ms": _ms(statistics.median(timings)),
        "p90_ms": _ms(p90),
        "min_ms": _ms(min(timings)),
        "max_ms": _ms(max(timings)),
    }


def _throughput(add: Any, tasks: int) -> dict[str, Any]:
    started = time.perf_counter()
    results = [add.delay(i, i) for i in range(tasks)]
    sent = time.perf_counter()
    values = [r.get(timeout=max(GET_TIMEOUT, 30.0)) for r in results]
    total = time.perf_counter() - started
    if values != [2 * i for i in range(tasks)]:
        raise BenchError("throughput run returned wrong results")
    return {
        "tasks": tasks,
        "tasks_per_s": round(tasks / total, 1),
        "total_s": round(total, 3),
        "send_s": round(sent - started, 3),
    }


def _start_stop(runtime: Any) -> dict[str, Any]:
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(START_STOP_REPEATS):
        t0 = time.perf_counter()
        runtime.start(quiet=True)
        t1 = time.perf_counter()
        runtime.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return {
        "worker_start_ms": _ms(statistics.median(starts)),
        "worker_stop_ms": _ms(statistics.median(stops)),
        "worker_first_start_ms": _ms(starts[0]),
        "worker_start_stop_repeats": START_STOP_REPEATS,
    }


def child_main(mode: str, samples: int, tasks: int, out: Path) -> int:
    """Measure the mode selected by ``COURSE_BROKER`` and write the figures to ``out``."""
    t0 = time.perf_counter()
    if mode == "redis-defaults":
        import celery_defaults  # benchmarks/ is this script's directory, first on sys.path

        reset = {name: repr(default) for name, (_, default) in celery_defaults.RESET.items()}
    from course_tasks import runtime
    from course_tasks.tasks.basics import add

    figures: dict[str, Any] = {"import_s": round(time.perf_counter() - t0, 3)}
    expected = "redis" if mode in REDIS_MODES else mode
    if runtime.mode() != expected:
        raise BenchError(f"COURSE_BROKER selects {runtime.mode()} mode, expected {expected}")
    if mode == "redis-defaults":
        figures["celery_defaults_for"] = reset
    figures["track_started"] = bool(add.track_started)
    if mode == "embedded":
        figures.update(_start_stop(runtime))
    if mode in REDIS_MODES:
        started = time.perf_counter()
        workers = runtime.wait_for_workers(timeout=WORKER_READY_SECONDS)
        if not workers:
            raise BenchError(f"no worker answered a ping within {WORKER_READY_SECONDS:g} s")
        figures["workers"] = workers
        figures["worker_wait_s"] = round(time.perf_counter() - started, 3)
    runtime.start(quiet=True)
    try:
        figures.update(_latency(add, samples))
        figures.update(_throughput(add, tasks))
    finally:
        runtime.stop()
    out.write_text(json.dumps(figures), encoding="utf-8")
    return 0


# -------------------------------------------------------------------------- parent side


@dataclass
class RunOptions:
    samples: int
    tasks: int
    timeout: float
    flush: bool
    workdir: Path


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def _stop_process(proc: subprocess.Popen[bytes], *, group: bool) -> float:
    from course_tasks import services

    return services.stop_process(proc, group=group)


@contextlib.contextmanager
def throwaway_redis(workdir: Path) -> Iterator[str]:
    """A redis-server on a free port with no persistence, stopped on exit."""
    from course_tasks import services
    from course_tasks.errors import CourseError

    try:
        with services.throwaway_redis(workdir) as url:
            yield url
    except CourseError as exc:
        raise BenchError(_one_line(str(exc))) from None


def _redis_urls(env: dict[str, str]) -> list[str]:
    from course_tasks import settings

    try:
        cfg = settings.from_env(env)
    except settings.SettingsError as exc:
        raise BenchError(_one_line(str(exc))) from None
    return list(dict.fromkeys([cfg.broker_url, cfg.backend_url, cfg.store_url]))


def _check_redis(urls: Sequence[str]) -> str:
    """One-line error if Redis does not answer; else the server's version."""
    from course_tasks import probe
    from course_tasks.errors import BrokerUnreachable

    for url, role in zip(urls, ("broker", "result backend", "app data"), strict=False):
        try:
            probe.ping_redis(url, role=role)
        except BrokerUnreachable as exc:
            raise BenchError(exc.problem) from None
    info = _redis_client(urls[0]).info("server")
    return str(info.get("redis_version", "?"))


@contextlib.contextmanager
def redis_worker(
    env: dict[str, str], workdir: Path, mode: str = "redis"
) -> Iterator[dict[str, Any]]:
    """A ``python -m course_tasks worker`` process, logging to a file, always stopped.

    For ``redis-defaults`` the same worker command line, on the app of
    ``benchmarks/celery_defaults.py``: ``python -m celery -A benchmarks.celery_defaults``.
    """
    log = workdir / f"{mode}-worker.log"
    app = ["course_tasks"]
    if mode == "redis-defaults":
        app = ["celery", "-A", "benchmarks.celery_defaults"]
    cmd = [
        sys.executable,
        "-m",
        *app,
        "worker",
        "--pool=prefork",
        "--concurrency=2",
        "-n",
        WORKER_NAME,
        "--without-mingle",
        "--without-gossip",
    ]
    info: dict[str, Any] = {"worker_log": str(log), "worker_started_at": time.time()}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield info
    finally:
        info["worker_process_stop_s"] = round(_stop_process(proc, group=True), 3)
        info["worker_exit_code"] = proc.returncode


def _run_child(
    mode: str, env: dict[str, str], opts: RunOptions, log: Path | None
) -> dict[str, Any]:
    out = opts.workdir / f"{mode}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--samples",
        str(opts.samples),
        "--tasks",
        str(opts.tasks),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=opts.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"{mode}: timed out after {opts.timeout:g} s") from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0 or not out.exists():
        err = stderr.decode(errors="replace").strip().splitlines()
        last = err[-1] if err else stdout.decode(errors="replace").strip()
        extra = f"\n--- worker log ({log}) ---\n{_tail(log)}" if log else ""
        raise BenchError(f"{mode}: measurement failed (exit {proc.returncode}): {last}{extra}")
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return figures


def measure(mode: str, redis_url: str | None, opts: RunOptions) -> dict[str, Any]:
    env = dict(os.environ)
    env["COURSE_HOME"] = str(opts.workdir / f"home-{mode}")
    env["PYTHONUNBUFFERED"] = "1"
    if mode == "eager":
        env["COURSE_BROKER"] = "eager"
        return _run_child(mode, env, opts, None)
    if mode == "embedded":
        env.pop("COURSE_BROKER", None)
        return _run_child(mode, env, opts, None)
    given = redis_url
    with contextlib.ExitStack() as stack:
        if redis_url == "auto":
            redis_url = stack.enter_context(throwaway_redis(opts.workdir))
        assert redis_url is not None
        env["COURSE_BROKER"] = redis_url
        urls = _redis_urls(env)
        server_version = _check_redis(urls)
        if opts.flush:
            for url in urls:
                _redis_client(url).flushdb()
        worker = stack.enter_context(redis_worker(env, opts.workdir, mode))
        figures = _run_child(mode, env, opts, Path(worker["worker_log"]))
    figures["redis_server"] = server_version
    figures["redis_url"] = "auto" if given == "auto" else _redact(env["COURSE_BROKER"])
    figures["flushed"] = opts.flush
    figures["worker_process_stop_s"] = worker["worker_process_stop_s"]
    return figures


def _redact(url: str) -> str:
    from course_tasks.settings import redact

    return redact(url)


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(results: dict[str, dict[str, Any]]) -> str:
    header = ("mode", "median ms", "p90 ms", "tasks/s (N)", "total s", "start ms", "stop ms")
    rows = [header]
    for mode, f in results.items():
        rows.append(
            (
                mode,
                _fmt(f.get("median_ms")),
                _fmt(f.get("p90_ms")),
                f"{_fmt(f.get('tasks_per_s'), 0)} ({f.get('tasks')})",
                _fmt(f.get("total_s")),
                _fmt(f.get("worker_start_ms"), 1),
                _fmt(f.get("worker_stop_ms"), 1),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One mode's figures over ``--runs``: the last run's, with the median of each figure
    in :data:`RUN_FIGURES`, and every run's figures under ``runs``."""
    figures = dict(runs[-1])
    for key in RUN_FIGURES:
        values = [run[key] for run in runs if run.get(key) is not None]
        if values:
            figures[key] = round(statistics.median(values), 3)
    figures["runs"] = [{k: run.get(k) for k in RUN_FIGURES if k in run} for run in runs]
    return figures


def check_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    embedded = results.get("embedded")
    if embedded is None:
        return []
    checks = []
    for key, kind, limit, unit, label in TARGETS:
        value = embedded.get(key)
        ok = value is not None and (value <= limit if kind == "max" else value >= limit)
        checks.append({"target": label, "value": value, "limit": limit, "unit": unit, "pass": ok})
    redis = results.get("redis")
    if redis is not None and redis.get("median_ms"):
        ratios = [
            e["median_ms"] / r["median_ms"]
            for e, r in zip(embedded.get("runs", []), redis.get("runs", []), strict=False)
            if e.get("median_ms") and r.get("median_ms")
        ]
        ratio = statistics.median(ratios) if ratios else embedded["median_ms"] / redis["median_ms"]
        checks.append(
            {
                "target": f"embedded round-trip median <= {RATIO:g} x redis median (same run)",
                "value": round(ratio, 3),
                "limit": RATIO,
                "unit": "x",
                "pass": ratio <= RATIO,
                "per_run": [round(r, 3) for r in ratios],
            }
        )
    return checks


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--samples", type=int, default=300, help="round trips timed (default 300)")
    p.add_argument("--tasks", type=int, default=1000, help="tasks in the throughput run")
    p.add_argument(
        "--modes",
        default=None,
        help="comma list of eager,embedded,redis (default: eager,embedded, "
        "plus redis when a Redis URL is given)",
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("COURSE_BENCH_REDIS_URL") or None,
        help="'auto' (throwaway redis-server) or redis://host:port/db; "
        "default $COURSE_BENCH_REDIS_URL",
    )
    p.add_argument(
        "--flush",
        action="store_true",
        help="FLUSHDB the broker, results and app-data DBs before measuring redis",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=1,
        help="measure every mode this many times, in turn; report each figure's median",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per mode (default 300)")
    p.add_argument("--out", type=Path, default=None, help=f"JSON file (default {DEFAULT_OUT})")
    p.add_argument("--child", choices=ALL_MODES, help=argparse.SUPPRESS)
    ns = p.parse_args(argv)
    if ns.samples < 1 or ns.tasks < 1 or ns.runs < 1:
        p.error("--samples, --tasks and --runs must be at least 1")
    return ns


def _terminate_as_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns.child:
        try:
            return child_main(ns.child, ns.samples, ns.tasks, ns.out)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    modes = [m.strip() for m in ns.modes.split(",") if m.strip()] if ns.modes else None
    if modes is None:
        modes = ["eager", "embedded"] + (list(REDIS_MODES) if ns.redis_url else [])
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown:
        print(
            f"error: unknown mode(s) {', '.join(unknown)}; use {','.join(ALL_MODES)}",
            file=sys.stderr,
        )
        return 2
    if set(REDIS_MODES) & set(modes) and not ns.redis_url:
        print(
            "error: redis mode needs --redis-url auto|redis://host:port/db "
            "(or COURSE_BENCH_REDIS_URL)",
            file=sys.stderr,
        )
        return 2

    # The parent imports course_tasks only for settings and probes; keep it in a harmless
    # mode whatever the caller's shell says. Children get their own COURSE_BROKER.
    os.environ.pop("COURSE_BROKER", None)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)

    load_at_start = _load_average()
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    failures: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
            opts = RunOptions(ns.samples, ns.tasks, ns.timeout, ns.flush, Path(tmp))
            for run in range(1, ns.runs + 1):
                for mode in modes:
                    of = f" (run {run} of {ns.runs})" if ns.runs > 1 else ""
                    print(f"measuring {mode}{of} ...", file=sys.stderr, flush=True)
                    try:
                        runs[mode].append(measure(mode, ns.redis_url, opts))
                    except BenchError as exc:
                        failures.append(str(exc))
                        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted; workers and redis-server stopped", file=sys.stderr)
        return 130

    results = {mode: combine(figures) for mode, figures in runs.items() if figures}
    if results:
        print(table(results))
    checks = check_targets(results)
    if checks:
        print("\nTargets (spec, embedded mode; reported, not enforced):")
        for c in checks:
            verdict = "PASS" if c["pass"] else "FAIL"
            print(f"  {verdict}  {c['target']}: {_fmt(c['value'])} {c['unit']}")
    if "embedded" in results:
        print(
            "start/stop: median of "
            f"{START_STOP_REPEATS} runtime.start(quiet=True)/runtime.stop() pairs"
        )
    if failures:
        print(f"\n{len(failures)} mode(s) failed; results not written.", file=sys.stderr)
        return 1

    out: Path = ns.out or DEFAULT_OUT
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "celery": _version("celery"),
        "kombu": _version("kombu"),
        "redis_py": _version("redis"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "settings": {
            "samples": ns.samples,
            "warmup": WARMUP,
            "tasks": ns.tasks,
            "runs": ns.runs,
        },
        "load_average": {"start": load_at_start, "end": _load_average()},
        "modes": results,
        "targets": checks,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
