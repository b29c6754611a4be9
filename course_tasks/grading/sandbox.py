"""The process that holds one graded kernel: limits, and nothing left behind.

The grader starts every kernel through this script (standard library only, run with
``python -I -S``), which

* makes itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): a process the learner's code
  starts in a new session (``setsid``, a double fork, a daemon) is still its descendant, and
  when its parent dies it becomes this process's child instead of ``init``'s;
* asks for ``SIGTERM`` if the grader dies (``PR_SET_PDEATHSIG``);
* starts the kernel with a memory limit (``RLIMIT_AS``) and no core files;
* passes nothing on: ``SIGINT`` (the grader's interrupt, sent to the process group) reaches
  the kernel, not this process;
* when the kernel exits, or on ``SIGTERM`` / ``SIGHUP``, kills the kernel and every process
  descended from this one (``SIGKILL``, repeated until none is left), then exits.

``python -I -S sandbox.py --memory BYTES -- KERNEL COMMAND...``
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: How long :func:`kill_descendants` keeps looking for processes that respawn or reparent.
SWEEP_SECONDS = 5.0


class _Stop(Exception):
    """SIGTERM or SIGHUP arrived (raised from the handler: ``waitpid`` retries on EINTR)."""


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now running."""
    found: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        found[int(name)] = int(fields[1])
    return found


def descendants(root: int) -> list[int]:
    """Every process below ``root`` in the process tree."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(seconds: float = SWEEP_SECONDS) -> None:
    """SIGKILL every descendant of this process until none is left (or ``seconds`` pass)."""
    me = os.getpid()
    deadline = time.monotonic() + seconds
    while True:
        left = descendants(me)
        if not left:
            return
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        _reap()
        if time.monotonic() > deadline:
            return


def _on_stop(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: sandbox.py --memory BYTES -- COMMAND...", file=sys.stderr)
        return 2
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    memory = int(options[options.index("--memory") + 1]) if "--memory" in options else 0
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGHUP, _on_stop)
    kernel = os.fork()
    if kernel == 0:  # the kernel: limits, default signals, then exec
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if memory > 0:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            os.execv(command[0], command)
        finally:
            os._exit(127)
    status = 0
    try:
        while True:
            try:
                pid, code = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == kernel:
                status = os.waitstatus_to_exitcode(code)
                break
    except _Stop:
        status = -signal.SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    kill_descendants()
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
