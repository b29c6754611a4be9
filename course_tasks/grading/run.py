"""Step 2: run an assembled notebook in a fresh kernel that can spoil nothing else.

Each notebook gets

* a private temporary folder (mode 0700) holding its copy of the notebook (the kernel's
  working folder), its own ``HOME`` and ``COURSE_HOME``, ``TMPDIR``, the kernel's connection
  file and its sockets (Unix sockets, not TCP ports, where the OS has them:
  :mod:`course_tasks.kernels`), and a private copy of the ``course_tasks`` package, first
  on ``PYTHONPATH``, so that whatever the learner's code writes there dies with the folder;
* a clean environment: ``PATH`` and ``LANG``, the variables above, and of the instructor's
  only the course's mode settings (:data:`PASSED_ON`);
* a kernel started through :mod:`course_tasks.grading.sandbox` (memory limit, and every
  process the kernel started, in whatever session, killed when the notebook ends);
* a time limit per cell (interrupt, then 5 s of grace, then the kernel is stopped), a time
  limit for the whole notebook, and a cap on the outputs kept in memory (verdicts are always
  kept).

Nothing is written back to the learner's notebook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

from course_tasks.checks import MIME_TYPE, RUN_VARIABLE
from course_tasks.grading.model import Run

#: How long an interrupted cell gets to stop before its kernel is killed.
INTERRUPT_GRACE = 5.0
#: How long a kernel gets to start and answer.
STARTUP_TIMEOUT = 60.0
KERNEL_NAME = "python3"
#: The instructor's variables a kernel gets: the course's mode and its knobs, nothing else.
PASSED_ON = (
    "COURSE_BROKER", "COURSE_BACKEND", "COURSE_STORE", "COURSE_LEARNER",
    "COURSE_WORKER_WAIT", "COURSE_DEDICATED_WAIT", "COURSE_SMTP_SECONDS", "COURSE_TIMEOUT",
)  # fmt: skip
#: A verdict display larger than this is not read.
MAX_VERDICT_BYTES = 64_000


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM arrived: grading stops, every kernel is shut down."""


class _Unresponsive(Exception):
    """A timed-out cell did not stop when interrupted."""


@contextlib.contextmanager
def private_folder() -> Any:
    """A fresh 0700 folder, removed afterwards (whatever the kernel left in it)."""
    folder = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def kernel_environment(
    folder: Path, token: str, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of a graded kernel living in ``folder``."""
    source = os.environ if environ is None else environ
    home = folder / "home"
    env = {
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "COURSE_HOME": str(home / ".course_tasks"),
        "TMPDIR": str(folder / "tmp"),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "PYTHONPATH": str(folder / "lib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        RUN_VARIABLE: token,
    }
    for name in PASSED_ON:
        if source.get(name):
            env[name] = source[name]
    return env


class Kernel:
    """One ``python3`` kernel of this environment, in a sandbox, in a private folder."""

    def __init__(self, folder: Path, env: dict[str, str], memory: int) -> None:
        self.folder = folder
        self.km = _kernel_manager(folder, memory)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        for sub in ("work", "home", "tmp", "runtime"):
            (self.folder / sub).mkdir(exist_ok=True)
        (self.folder / "home" / ".course_tasks").mkdir(exist_ok=True)
        from course_tasks import kernels

        # Unix sockets in the 0700 runtime folder where the OS has them (course_tasks.kernels:
        # no TCP port another process could take first, none another user could reach).
        if not kernels.use_ipc(self.km, str(self.folder / "runtime")):
            self.km.connection_file = str(self.folder / "runtime" / "kernel.json")
        LIVE.add(self)
        await self.km.start_kernel(
            cwd=str(self.folder / "work"),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.process = getattr(self.km.provisioner, "process", None)

    async def shutdown(self) -> None:
        """Stop the sandbox (it kills the kernel and everything it started), then clean up."""
        await asyncio.to_thread(self.kill)
        with contextlib.suppress(Exception):
            await self.km.shutdown_kernel(now=True)  # also removes the connection file

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)  # the sandbox sweeps its descendants
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        LIVE.discard(self)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


#: Kernels started and not yet stopped (killed on Ctrl-C and at exit).
LIVE: set[Kernel] = set()


def kill_leftovers() -> None:
    """Stop every kernel this process started that still runs."""
    for kernel in list(LIVE):
        kernel.kill()


def _kernel_manager(folder: Path, memory: int) -> Any:
    """A kernel manager whose ``python3`` is this environment's, started in the sandbox."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    sandbox = folder / "lib" / "course_tasks" / "grading" / "sandbox.py"
    argv = [
        sys.executable, "-I", "-S", str(sandbox), "--memory", str(memory), "--",
        sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
        "--HistoryManager.hist_file=:memory:",
    ]  # fmt: skip

    class Sandboxed(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> Any:
            return KernelSpec(
                argv=argv, display_name="Python 3 (graded)", language="python",
                interrupt_mode="signal", env={}, metadata={},
            )  # fmt: skip

    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=Sandboxed())
    km.shutdown_wait_time = 1.0
    return km


def _client_class() -> Any:
    from nbclient import NotebookClient
    from nbclient.util import ensure_async

    class Client(NotebookClient):  # type: ignore[misc]
        """nbclient, telling which cells timed out (a cell that ignores its interrupt gets
        ``INTERRUPT_GRACE`` seconds, then the run stops) and keeping at most
        ``output_limit`` bytes of outputs, verdicts always."""

        current: int = 0
        msg_id: str | None = None
        output_limit: int = 0
        kept: int = 0
        truncated: bool = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.timed_out: dict[int, float] = {}

        async def _async_handle_timeout(
            self, timeout: int, cell: Any = None
        ) -> dict[str, Any] | None:
            self.timed_out[self.current] = timeout
            await ensure_async(self.km.interrupt_kernel())
            deadline = time.monotonic() + INTERRUPT_GRACE
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                except Empty:
                    break
                if msg["parent_header"].get("msg_id") == self.msg_id:
                    return msg  # the interrupted cell's own reply: go on with the next cell
            raise _Unresponsive

        def output(
            self, outs: list[Any], msg: dict[str, Any], display_id: Any, cell_index: int
        ) -> Any:
            content = msg.get("content", {})
            size = len(json.dumps(content, default=str))
            verdict = MIME_TYPE in content.get("data", {}) and size <= MAX_VERDICT_BYTES
            if not verdict and self.kept + size > self.output_limit:
                self.truncated = True
                return None
            self.kept += size
            return super().output(outs, msg, display_id, cell_index)

    return Client


async def execute(
    nb: Any, kernel: Kernel, timeout: float, notebook_timeout: float, output_limit: int
) -> Run:
    """Run every code cell of ``nb`` (in place) in ``kernel``; the caller shuts it down."""
    from nbclient.exceptions import DeadKernelError

    run = Run()
    deadline = time.monotonic() + notebook_timeout
    kc = None

    def cell_timeout(cell: Any) -> float:
        return max(0.5, min(timeout, deadline - time.monotonic()))

    try:
        client = _client_class()(
            nb,
            km=kernel.km,
            kernel_name=KERNEL_NAME,
            timeout_func=cell_timeout,  # not timeout=: that trait takes whole seconds
            allow_errors=True,
            interrupt_on_timeout=True,
            record_timing=False,
            startup_timeout=STARTUP_TIMEOUT,
        )
        client.output_limit = output_limit
        kc = kernel.km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        kc.allow_stdin = False
        client.kc = kc
        _track_msg_ids(client)
        for index, cell in enumerate(nb.cells):
            number = index + 1
            if cell.cell_type == "code" and time.monotonic() >= deadline:
                run.stopped = (
                    number,
                    f"the notebook's time limit ({notebook_timeout:g} s) ran out",
                )
                break
            client.current = number
            try:
                await client.async_execute_cell(
                    cell, index, execution_count=client.code_cells_executed + 1
                )
            except DeadKernelError:
                if STOP.requested:  # nbclient reports a cancelled cell as a dead kernel
                    raise Interrupted from None
                run.stopped = (number, "the kernel died")
                break
            except _Unresponsive:
                if time.monotonic() >= deadline:  # interrupted because the notebook's time ran out
                    client.timed_out[number] = notebook_timeout
                    run.stopped = (
                        number,
                        f"the notebook's time limit ({notebook_timeout:g} s) ran out (the cell "
                        "did not stop when interrupted; the kernel was stopped)",
                    )
                else:
                    run.stopped = (number, "did not stop when interrupted; the kernel was stopped")
                break
            if number in client.timed_out and time.monotonic() >= deadline:
                client.timed_out[number] = notebook_timeout
                run.stopped = (
                    number,
                    f"the notebook's time limit ({notebook_timeout:g} s) ran out",
                )
                break
        run.timed_out = dict(client.timed_out)
        run.truncated = client.truncated
    finally:
        if kc is not None:
            kc.stop_channels()
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                value = str(output.get("evalue", "")).strip().splitlines()
                ename = str(output.get("ename", "Error"))[:100]
                run.errors[index + 1] = f"{ename}: {value[0][:300]}" if value else ename
    return run


def _track_msg_ids(client: Any) -> None:
    execute = client.kc.execute

    def tracked(*args: Any, **kwargs: Any) -> str:
        client.msg_id = execute(*args, **kwargs)
        return client.msg_id

    client.kc.execute = tracked


class _Stop:
    """Set by the signal handler of the grading loop."""

    requested = False


STOP = _Stop()
