"""benchmarks/classroom.py's kernel log: where each kernel started, how it answered, why it died.

Ten learners' kernels start at once on one machine, each through nbval, which sends the
kernel's stderr to /dev/null ("Kernel died before replying to kernel_info" then says nothing
about why). The benchmark's pytest plugin keeps that stderr in the learner's ``kernels.log``
and notes the transport each kernel answered over: Unix sockets (``course_tasks.kernels``),
so that no kernel can lose a TCP port to another learner's processes before binding it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import nbval.kernel
import pytest

from conftest import ROOT


def _classroom() -> Any:
    spec = importlib.util.spec_from_file_location("classroom", ROOT / "benchmarks/classroom.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_learners_kernel_answers_over_unix_sockets_and_the_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classroom = _classroom()
    log = tmp_path / "kernels.log"
    monkeypatch.setattr(nbval.kernel, "start_new_kernel", nbval.kernel.start_new_kernel)
    monkeypatch.setenv("CLASSROOM_KERNEL_LOG", str(log))
    classroom.pytest_configure(None)
    km, kc = nbval.kernel.start_new_kernel(120, nbval.kernel.CURRENT_ENV_KERNEL_NAME,
                                           cwd=str(tmp_path))  # fmt: skip
    try:
        assert kc.is_alive()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    report = classroom._kernel_report(log)
    assert (report["kernel_starts"], report["kernel_transports"]) == (1, {"ipc": 1})
    assert log.read_text().startswith(f"--- kernel start in {tmp_path}\n")


def test_a_kernel_that_died_at_start_leaves_its_stderr_in_the_report(
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

    assert len(calls) == 1  # started once: nothing is retried
    report = classroom._kernel_report(log)
    assert (report["kernel_starts"], report["kernel_transports"]) == (1, {})
    assert report["kernel_errors"] == ["ModuleNotFoundError: No module named 'ipykernel_launcher'"]


def test_without_the_variable_the_plugin_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLASSROOM_KERNEL_LOG", raising=False)
    before = nbval.kernel.start_new_kernel
    _classroom().pytest_configure(None)
    assert nbval.kernel.start_new_kernel is before
