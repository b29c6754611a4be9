"""Kernels on Unix sockets (course_tasks.kernels): why, and that nbval and the grader use them.

The first test shows the race the module exists for, on jupyter_client's TCP manager: a port
that another process takes between jupyter_client choosing it and the kernel binding it
kills the kernel (shell) or leaves it alive and silent (IOPub, the "Kernel didn't respond in
60 seconds" of a CI run). The rest show that the IPC managers do not depend on those ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import nbval.kernel
import pytest
from jupyter_client.connect import LocalPortCache
from jupyter_client.manager import KernelManager

from course_tasks import kernels

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def ports_taken(
    monkeypatch: pytest.MonkeyPatch, which: set[int] | None = None
) -> Iterator[list[int]]:
    """Yields the TCP ports jupyter_client chooses, in its order (shell, IOPub, stdin,
    heartbeat, control); those numbered in ``which`` (from 1; all when None) are taken by a
    listener of this process before the kernel can bind them, as in the race."""
    cache = LocalPortCache.instance()
    choose = cache.find_available_port
    chosen: list[int] = []
    held: list[socket.socket] = []

    def taken(ip: str) -> int:
        port = choose(ip)
        chosen.append(port)
        if which is None or len(chosen) in which:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ip, port))
            sock.listen()
            held.append(sock)
        return port

    with monkeypatch.context() as patch:
        patch.setattr(cache, "find_available_port", taken)
        try:
            yield chosen
        finally:
            for sock in held:
                sock.close()
            for port in chosen:
                cache.return_port(port)


def _wait_ready(km: KernelManager, timeout: float) -> str:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
        return "ready"
    except RuntimeError as exc:
        return str(exc)
    finally:
        kc.stop_channels()


@pytest.mark.parametrize(
    ("lost", "wait", "said", "alive"),
    [
        # shell: it exits once it has started (which a loaded machine can make slow)
        (1, 60, "Kernel died before replying to kernel_info", False),
        # IOPub: it never answers, however long one waits
        (2, 4, "Kernel didn't respond in 4 seconds", True),
    ],
    ids=["shell: it exits", "iopub: it stays alive and silent"],
)
def test_a_tcp_kernel_that_lost_a_port_before_binding_it_never_answers(
    monkeypatch: pytest.MonkeyPatch, lost: int, wait: int, said: str, alive: bool
) -> None:
    with ports_taken(monkeypatch, {lost}):
        km = KernelManager(kernel_name="python3")
        km.start_kernel(stderr=open(os.devnull, "w"))  # noqa: SIM115 (the manager closes it)
        try:
            assert (_wait_ready(km, timeout=wait), km.is_alive()) == (said, alive)
        finally:
            km.shutdown_kernel(now=True)


def test_an_ipc_kernel_starts_while_every_tcp_port_it_could_get_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    km = kernels.IPCKernelManager(kernel_name="python3")
    folder = Path(km.folder or "")
    with ports_taken(monkeypatch) as chosen:
        km.start_kernel(stderr=open(os.devnull, "w"))  # noqa: SIM115 (the manager closes it)
        try:
            assert _wait_ready(km, timeout=30) == "ready"
            assert chosen == []  # jupyter_client chose no TCP port at all
            info = json.loads((folder / "kernel.json").read_text())
            assert (info["transport"], info["ip"]) == ("ipc", str(folder / "kernel-ipc"))
            sockets = sorted(p.name for p in folder.iterdir() if stat.S_ISSOCK(p.stat().st_mode))
            assert sockets == [f"kernel-ipc-{n}" for n in range(1, 6)]
            assert folder.stat().st_mode & 0o777 == 0o700  # (jupyter_client adds the sticky bit)
        finally:
            km.shutdown_kernel(now=True)
    assert not folder.exists()


def test_nbval_starts_its_kernels_on_unix_sockets() -> None:
    """The root conftest.py hands nbval the IPC manager, in every pytest run of the repository."""
    km, kc = nbval.kernel.start_new_kernel(
        startup_timeout=30, kernel_name=nbval.kernel.CURRENT_ENV_KERNEL_NAME
    )
    folder = Path(km.folder or "")
    try:
        assert isinstance(km, kernels.IPCKernelManager)
        assert km.transport == "ipc" and folder.is_dir()
        reply = kc.execute_interactive("1 + 1", timeout=30)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not folder.exists()


def test_a_path_too_long_for_a_unix_socket_keeps_tcp(tmp_path: Path) -> None:
    km = KernelManager(kernel_name="python3")
    deep = tmp_path / ("d" * (kernels.MAX_SOCKET_PATH - len(str(tmp_path))))
    assert kernels.use_ipc(km, str(deep)) is False
    assert km.transport == "tcp" and km.connection_file == ""
    assert kernels.use_ipc(km, str(tmp_path)) is True
    assert (km.transport, km.ip) == ("ipc", str(tmp_path / "kernel-ipc"))


def test_a_graded_kernel_listens_in_its_private_runtime_folder(tmp_path: Path) -> None:
    from course_tasks.grading import run

    shutil.copytree(ROOT / "course_tasks", tmp_path / "lib" / "course_tasks",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    kernel = run.Kernel(tmp_path, run.kernel_environment(tmp_path, "token"), 2 << 30)

    async def graded() -> tuple[dict[str, object], list[str], str]:
        await kernel.start()
        try:
            kc = kernel.km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
            finally:
                kc.stop_channels()
            runtime = tmp_path / "runtime"
            info = json.loads((runtime / "kernel.json").read_text())
            names = sorted(p.name for p in runtime.iterdir())
            return info, names, kernel.km.transport
        finally:
            await kernel.shutdown()

    info, names, transport = asyncio.run(graded())
    assert (transport, info["ip"]) == ("ipc", str(tmp_path / "runtime" / "kernel-ipc"))
    assert names == ["kernel-ipc-1", "kernel-ipc-2", "kernel-ipc-3", "kernel-ipc-4",
                     "kernel-ipc-5", "kernel.json"]  # fmt: skip
    assert not (tmp_path / "runtime" / "kernel.json").exists()
