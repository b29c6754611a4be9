"""A classroom on one Redis: N learners run the chapters' strict nbval at the same time.

One ``redis-server`` (Debian's package, a free loopback port, no persistence); for each
learner ``learnerNN`` a worker process of their own, ``python -m course_tasks worker
--pool=prefork --concurrency=2`` with ``COURSE_LEARNER=learnerNN`` (what a learner runs in a
terminal, docs/classroom.md), and then, all at once, one strict nbval run per learner over the
chapters, each in its own ``COURSE_HOME``. While they run, nothing but the namespace tells
them apart: same server, same databases, same queue names, same task names.

Afterwards it records, per learner, passed and failed cells and wall time; whether every key
on the three databases belongs to a learner namespace (nothing leaked out of one); and the
instructor's view, ``python -m course_tasks doctor`` without ``COURSE_LEARNER``, which must
list every learner with their worker. Writes ``benchmarks/results/classroom.json``
(``--out``). Exit status 0 when every cell passed, no key was written outside a learner
namespace and the instructor saw every learner's worker, 1 otherwise, 2 for bad options or
without ``redis-server``.

    python benchmarks/classroom.py                       # 10 learners, the committed chapters
    python benchmarks/classroom.py --learners 3 notebooks/04_calling_tasks.ipynb \\
        notebooks/05_states_and_results.ipynb            # the issue's scenario (.ci/run)

Kernels: ten kernels started at once on two cores can take longer than nbval's default 60 s
to answer (``--kernel-startup-timeout``, 300 s here). Each learner's kernels write their stderr
to ``kernels.log`` (nbval sends it to /dev/null), so a kernel that dies at start says why, and
the log says which transport each kernel used. They listen on Unix sockets
(``course_tasks.kernels``, handed to nbval by the root ``conftest.py``), so no kernel can
lose one of its ports to another process before it binds it, a race of jupyter_client's TCP
ports that this benchmark used to retry.

The notebooks are compared with ``nbval_sanitize.cfg`` plus one rule, ``[learner-namespace]``,
that removes ``learner:NAME:`` in front of a key name (chapter 02 prints a result's Redis
key, which in a namespace starts with it); the rule is added only when the file does not
have it yet. (nbval reads ``replace:`` only when a value follows it, hence the group.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SANITIZE = ROOT / "nbval_sanitize.cfg"
#: The learner's nbval run: pytest with this module as a plugin (see pytest_configure).
PYTEST_WITH_KERNEL_LOG = (
    "import importlib.util, sys, pytest\n"
    "spec = importlib.util.spec_from_file_location('classroom_plugin', sys.argv[1])\n"
    "plugin = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(plugin)\n"
    "sys.exit(pytest.main(sys.argv[2:], plugins=[plugin]))\n"
)
KERNEL_START_LINE = "--- kernel start"
KERNEL_READY_LINE = "--- kernel ready over"
LEARNER_RULE = """
[learner-namespace]
regex: \\blearner:[A-Za-z0-9][\\w.-]*:(\\w)
replace: \\1
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _committed_chapters() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "notebooks/*.ipynb"], cwd=ROOT, capture_output=True, text=True
    )
    names = out.stdout.split() if out.returncode == 0 else []
    return [ROOT / name for name in names] or sorted(ROOT.glob("notebooks/*.ipynb"))


def _sanitize_file(work: Path) -> Path:
    text = SANITIZE.read_text(encoding="utf-8")
    if "[learner-namespace]" in text:
        return SANITIZE
    path = work / "nbval_sanitize.cfg"
    path.write_text(text.rstrip("\n") + "\n" + LEARNER_RULE, encoding="utf-8")
    return path


def pytest_configure(config: Any) -> None:
    """Plugin hook, in each learner's nbval run: keep each kernel's stderr and its transport.

    nbval starts every kernel with ``stderr=/dev/null`` (``nbval.kernel.RunningKernel``), so
    "Kernel died before replying to kernel_info" says nothing about why. Here the kernel's
    stderr goes to ``$CLASSROOM_KERNEL_LOG``, after a line that says where it starts and
    followed by one that says over which transport it answered.
    """
    log = os.environ.get("CLASSROOM_KERNEL_LOG")
    if not log:
        return
    import nbval.kernel

    start = nbval.kernel.start_new_kernel
    path = Path(log)

    def start_logged(startup_timeout: float = 60, kernel_name: str = "python", **kwargs: Any):
        with path.open("a", encoding="utf-8") as note:
            note.write(f"{KERNEL_START_LINE} in {kwargs.get('cwd')}\n")
        with path.open("ab") as stderr:
            kwargs["stderr"] = stderr
            km, kc = start(startup_timeout, kernel_name, **kwargs)
        with path.open("a", encoding="utf-8") as note:
            note.write(f"{KERNEL_READY_LINE} {km.transport}\n")
        return km, kc

    nbval.kernel.start_new_kernel = start_logged


def _kernel_report(path: Path) -> dict[str, Any]:
    """Kernel starts, the transports they answered over, and the error lines of their stderr."""
    text = path.read_text(errors="replace") if path.exists() else ""
    errors = []
    transports: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith(KERNEL_READY_LINE):
            transport = line[len(KERNEL_READY_LINE) :].strip()
            transports[transport] += 1
        elif re.search(r"\b\w*(Error|Exception)\b", line) and line not in errors:
            errors.append(line.strip()[:300])
    return {
        "kernel_starts": text.count(KERNEL_START_LINE),
        "kernel_transports": dict(transports),
        "kernel_errors": errors[:10],
    }


def _failure_details(log: Path) -> dict[str, list[str]]:
    """For each failed cell in a pytest log: the lines that say why (diff or exception)."""
    if not log.exists():
        return {}
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))
    parts = re.split(r"\n_{3,} (\S.*?) _{3,}\n", text)
    details = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        body = body.split("\n=====")[0]
        lines = [ln.rstrip() for ln in body.splitlines() if ln.strip()]
        useful = [ln for ln in lines if re.match(r"\s*[-+?] ", ln)
                  or re.search(r"\w(Error|Exception|Timeout)\b|^E ", ln)]  # fmt: skip
        details[name] = (useful or lines[-8:])[:12]
    return details


def _stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL to its process group (started with start_new_session)."""
    from course_tasks.services import stop_process

    stop_process(proc, group=True)


def _junit_counts(path: Path) -> tuple[int, int, list[str]]:
    """(passed, failed, failures) from pytest's junit XML (errors count as failed)."""
    if not path.exists():
        return 0, 0, ["no junit report: pytest did not finish"]
    passed = failed = 0
    failures = []
    for case in ET.parse(path).getroot().iter("testcase"):
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if case.find("skipped") is not None:
            continue
        if bad is None:
            passed += 1
            continue
        failed += 1
        message = (bad.get("message") or bad.text or "").strip().splitlines()
        failures.append(f"{case.get('classname')}::{case.get('name')}: {message[:1]}")
    return passed, failed, failures


#: Keys that the instructor's own ``doctor`` leaves in the namespace without a learner: its
#: ping's reply queue (which expires) and kombu's table of expiring bindings.
INSTRUCTOR_KEYS = re.compile(
    r"_kombu\.binding_deadlines|_kombu\.binding(_permanent)?\.reply\.celery\.pidbox"
    r"|[\w-]+\.reply\.celery\.pidbox"
)


def _keys_outside_namespaces(url_base: str, prefix: str = "learner:") -> dict[str, list[str]]:
    """Keys on the broker, results and app-data databases that belong to no learner."""
    import redis

    found: dict[str, list[str]] = {}
    for db in (0, 1, 2):
        client = redis.Redis.from_url(f"{url_base}/{db}", decode_responses=True)
        try:
            stray = sorted(
                k
                for k in client.scan_iter(count=1000)
                if not k.startswith(prefix) and not (db == 0 and INSTRUCTOR_KEYS.fullmatch(k))
            )
        finally:
            client.close()
        if stray:
            found[str(db)] = stray[:20]
    return found


def _instructor_view(env: dict[str, str]) -> dict[str, Any]:
    """``python -m course_tasks doctor`` without COURSE_LEARNER, and what it listed."""
    started = time.perf_counter()
    out = subprocess.run(
        [PYTHON, "-m", "course_tasks", "doctor"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    seen: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        match = re.match(r"\s+learner\s+([\w.-]+): (?:(\d+) answered ping: (.*)|no worker)$", line)
        if match:
            seen[match.group(1)] = match.group(3).split(", ") if match.group(3) else []
    return {"seconds": round(seconds, 2), "workers": seen, "output": out.stdout}


def _redis_server(work: Path, port: int) -> subprocess.Popen[Any]:
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=(work / "redis.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    chapters = [Path(p).resolve() for p in args.notebooks] or _committed_chapters()
    if args.rotate:
        chapters = sorted(chapters)
    work = Path(tempfile.mkdtemp(prefix="classroom-"))
    port = _free_port()
    base = f"redis://127.0.0.1:{port}"
    env0 = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "CELERY_"))}
    env0.update(COURSE_BROKER=f"{base}/0", PYTHONUNBUFFERED="1")
    learners = [f"learner{i:02d}" for i in range(1, args.learners + 1)]
    procs: list[subprocess.Popen[Any]] = []
    servers: list[subprocess.Popen[Any]] = []
    result: dict[str, Any] = {}
    try:
        envs = {}
        for name in learners:
            home = work / name
            home.mkdir()
            envs[name] = {**env0, "COURSE_LEARNER": name, "COURSE_HOME": str(home / "home")}
            if args.control:  # a Redis of the learner's own, no namespace
                own = _free_port()
                servers.append(_redis_server(home / "redis", own))
                envs[name]["COURSE_BROKER"] = f"redis://127.0.0.1:{own}/0"
                del envs[name]["COURSE_LEARNER"]
        if not args.control:
            servers.append(_redis_server(work / "redis", port))
        for name in learners:
            procs.append(subprocess.Popen(
                [PYTHON, "-m", "course_tasks", "worker", "--pool=prefork",
                 f"--concurrency={args.concurrency}", "-n", f"{name}-worker@%h",
                 "--without-mingle", "--without-gossip",
                 f"--logfile={work / name / 'worker.log'}"],
                cwd=ROOT, env=envs[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            ))  # fmt: skip
        began = time.perf_counter()
        for name in learners if args.control else learners[:1]:
            ready = subprocess.run(
                [PYTHON, "-c", _WAIT_FOR_WORKERS, json.dumps(None if args.control else learners),
                 str(args.worker_wait)],
                cwd=ROOT, env=envs[name] if args.control else env0, capture_output=True,
                text=True,
            )  # fmt: skip
            if ready.returncode != 0:
                raise RuntimeError(f"workers did not answer: {ready.stdout.strip()}")
        workers_ready_s = time.perf_counter() - began
        sanitize = _sanitize_file(work)
        runs = {}
        began = time.perf_counter()
        for i, name in enumerate(learners):
            junit = work / name / "junit.xml"
            mine = chapters[i % len(chapters) :] + chapters[: i % len(chapters)] if args.rotate \
                else chapters  # fmt: skip
            cmd = [PYTHON, "-c", PYTEST_WITH_KERNEL_LOG, __file__, "-p", "no:cacheprovider",
                   "-q", "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
                   str(sanitize), f"--nbval-cell-timeout={args.cell_timeout}",
                   f"--nbval-kernel-startup-timeout={args.kernel_startup_timeout}",
                   f"--junitxml={junit}", *map(str, mine)]  # fmt: skip
            log = (work / name / "nbval.log").open("wb")
            env = {**envs[name], "CLASSROOM_KERNEL_LOG": str(work / name / "kernels.log")}
            runs[name] = (subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True),
                          time.perf_counter())  # fmt: skip
            procs.append(runs[name][0])
        # The instructor looks while the class is working.
        time.sleep(args.look_after)
        during = _instructor_view(env0) if not args.control else {"seconds": 0, "workers": {}}
        rows = {}
        for name, (proc, started) in runs.items():
            try:
                proc.wait(args.timeout)
            except subprocess.TimeoutExpired:
                _stop(proc)
            passed, failed, failures = _junit_counts(work / name / "junit.xml")
            rows[name] = {
                "passed": passed,
                "failed": failed,
                "exit": proc.returncode,
                "wall_s": round(time.perf_counter() - started, 1),
                "failures": failures,
                **_kernel_report(work / name / "kernels.log"),
            }
        wall = time.perf_counter() - began
        if args.control:
            stray: dict[str, list[str]] = {}
            after = during
            seen_all = True
        else:
            stray = _keys_outside_namespaces(base)
            after = _instructor_view(env0)
            seen_all = all(
                f"{name}-worker@" in " ".join(during["workers"].get(name, []))
                for name in learners
            )
        for name in learners:
            if rows[name]["failed"] or rows[name]["exit"]:
                log = work / name / "nbval.log"
                rows[name]["failure_details"] = _failure_details(log)
                rows[name]["log_tail"] = log.read_text(errors="replace").splitlines()[-5:]
        result = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},  # fmt: skip
            "redis_server": _redis_version(),
            "setup": ("control: a redis-server per learner, no COURSE_LEARNER" if args.control
                      else "one redis-server, a COURSE_LEARNER namespace per learner"),
            "learners": len(learners),
            "worker": f"prefork, concurrency {args.concurrency}, one per learner",
            "order": "rotated: learner i starts at chapter i" if args.rotate else "same order",
            "chapters": [str(p.relative_to(ROOT)) for p in chapters],
            "cells_per_learner": max((r["passed"] + r["failed"] for r in rows.values()), default=0),
            "cells_total": sum(r["passed"] + r["failed"] for r in rows.values()),
            "failed_total": sum(r["failed"] for r in rows.values()),
            "workers_ready_s": round(workers_ready_s, 1),
            "kernel_startup_timeout_s": args.kernel_startup_timeout,
            "cell_timeout_s": args.cell_timeout,
            "kernel_transports": dict(sum((Counter(r["kernel_transports"]) for r in rows.values()),
                                          Counter())),
            "wall_s": round(wall, 1),
            "keys_outside_namespaces": stray,
            "instructor_sees_every_worker": seen_all,
            "instructor_during": {k: during[k] for k in ("seconds", "workers")},
            "instructor_after": {k: after[k] for k in ("seconds", "workers")},
            "instructor_output": during.get("output", "").splitlines(),
            "per_learner": rows,
        }
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for proc in servers:
            _stop(proc)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


_WAIT_FOR_WORKERS = """
import json, sys, time
from course_tasks import probe
from course_tasks.app import app
names, wait = json.loads(sys.argv[1]) or [None], float(sys.argv[2])
deadline = time.monotonic() + wait
missing = names
while missing and time.monotonic() < deadline:
    missing = [n for n in missing if not probe.ping_namespace(app, n, timeout=0.5)]
missing = [n or "(no namespace)" for n in missing]
print(' '.join(missing))
sys.exit(1 if missing else 0)
"""


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    match = re.search(r"v=(\S+)", out.stdout)
    return match.group(1) if match else out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: every committed notebooks/*.ipynb")
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2, help="each worker's prefork pool")
    parser.add_argument("--cell-timeout", type=int, default=60)
    parser.add_argument(
        "--kernel-startup-timeout", type=float, default=300,
        help="nbval's --nbval-kernel-startup-timeout (its default, 60 s, is too short for ten "
        "kernels starting at once on two cores)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per learner's run")
    parser.add_argument("--worker-wait", type=float, default=120)
    parser.add_argument("--look-after", type=float, default=15, help="when the instructor looks")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/classroom.json")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    parser.add_argument(
        "--control", action="store_true",
        help="the same load, but a redis-server per learner and no COURSE_LEARNER: what fails "
        "here fails for want of CPU, not for want of isolation",
    )  # fmt: skip
    parser.add_argument(
        "--rotate", action="store_true",
        help="learner i starts at chapter i (the class spread over the chapters)",
    )
    args = parser.parse_args(argv)
    if args.learners < 1:
        parser.error("--learners must be at least 1")
    if shutil.which("redis-server") is None:
        print("classroom: redis-server is not installed (apt-get install redis-server)")
        return 2
    result = run(args)
    if not result:
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['learners']} learners x {len(result['chapters'])} notebooks, "
          f"{result['setup']} (redis-server {result['redis_server']}), a worker each; "
          f"{result['wall_s']} s")  # fmt: skip
    print(f"{'learner':<12} {'passed':>6} {'failed':>6} {'wall s':>7}")
    for name, row in result["per_learner"].items():
        print(f"{name:<12} {row['passed']:>6} {row['failed']:>6} {row['wall_s']:>7}")
        for failure in row["failures"]:
            print(f"    {failure}")
        if set(row["kernel_transports"]) != {"ipc"}:
            print(f"    kernels answered over: {row['kernel_transports']}")
    seen = result["instructor_during"]["workers"]
    if args.control:
        print("instructor: no view in the control (a Redis per learner)")
    else:
        print(f"instructor (doctor, no COURSE_LEARNER, {result['instructor_during']['seconds']} s):"
              f" {sum(1 for w in seen.values() if w)} of {result['learners']} learners with a "
              f"worker answering")  # fmt: skip
    print(f"keys outside the learner namespaces: {result['keys_outside_namespaces'] or 'none'}")
    ok = (
        result["failed_total"] == 0
        and all(row["exit"] == 0 for row in result["per_learner"].values())
        and result["instructor_sees_every_worker"]
        and not result["keys_outside_namespaces"]
    )
    print(f"{result['cells_total'] - result['failed_total']} passed, "
          f"{result['failed_total']} failed")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
