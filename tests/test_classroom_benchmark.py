"""benchmarks/classroom.py's kernel starts: one that lost a port is started again, no other.

Ten learners' kernels started at once on one machine: jupyter_client picks each kernel's five
ports free (bind to port 0, close), writes them to the connection file, and the kernel binds
them a second or more later. A port another process took in between kills the kernel at start
("Kernel died before replying to kernel_info", ``Address already in use`` on its stderr, which
nbval sends to /dev/null). The benchmark's pytest plugin keeps that stderr and retries such a
start; any other death still fails the notebook.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from typing import Any

import nbval.kernel
import pytest
from conftest import ROOT
from jupyter_client.manager import KernelManager


def _classroom() -> Any:
    spec = importlib.util.spec_from_file_location("classroom", ROOT / "benchmarks/classroom.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_kernel_that_lost_a_port_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classroom = _classroom()
    log = tmp_path / "kernels.log"
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    calls = []

    def start(startup_timeout: float = 60, kernel_name: str = "python", **kwargs: Any):
        calls.append(kwargs["stderr"].name)
        if len(calls) > 1:
            return original(startup_timeout, kernel_name, **kwargs)
        # The first start gets a port that another process holds, as in the race.
        km = KernelManager(kernel_name=kernel_name,
                           kernel_spec_manager=nbval.kernel.NbvalKernelspecManager())  # fmt: skip
        km.cache_ports = False
        km.shell_port = held.getsockname()[1]
        km.start_kernel(**kwargs)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=startup_timeout)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        raise AssertionError("the kernel started on a port that was taken")

    original = nbval.kernel.start_new_kernel
    monkeypatch.setattr(nbval.kernel, "start_new_kernel", start)
    monkeypatch.setenv("CLASSROOM_KERNEL_LOG", str(log))
    classroom.pytest_configure(None)
    try:
        km, kc = nbval.kernel.start_new_kernel(120, "python3", cwd=str(tmp_path))
        try:
            assert kc.is_alive()
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    finally:
        held.close()

    assert calls == [str(log), str(log)]
    report = classroom._kernel_report(log)
    assert report["kernel_starts"] == 2
    assert report["kernel_port_retries"] == 1
    assert any("Address already in use" in line for line in report["kernel_errors"])


def test_a_kernel_that_died_for_another_reason_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classroom = _classroom()
    log = tmp_path / "kernels.log"
    calls = []

    def start(startup_timeout: float = 60, kernel_name: str = "python", **kwargs: Any):
        calls.append(1)
        kwargs["stderr"].write(b"ModuleNotFoundError: No module named 'ipykernel_launcher'\n")
        kwargs["stderr"].flush()
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(nbval.kernel, "start_new_kernel", start)
    monkeypatch.setenv("CLASSROOM_KERNEL_LOG", str(log))
    classroom.pytest_configure(None)
    with pytest.raises(RuntimeError, match="Kernel died"):
        nbval.kernel.start_new_kernel(60, "python3", cwd=str(tmp_path))

    assert len(calls) == 1
    report = classroom._kernel_report(log)
    assert (report["kernel_starts"], report["kernel_port_retries"]) == (1, 0)
    assert report["kernel_errors"] == ["ModuleNotFoundError: No module named 'ipykernel_launcher'"]


def test_without_the_variable_the_plugin_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLASSROOM_KERNEL_LOG", raising=False)
    before = nbval.kernel.start_new_kernel
    _classroom().pytest_configure(None)
    assert nbval.kernel.start_new_kernel is before
