"""pytest set-up for every run in this repository (unit tests, strict nbval, a classroom).

nbval starts each notebook's kernel with jupyter_client's ``KernelManager``, on TCP ports
that another process can take before the kernel binds them (``course_tasks/kernels.py``
says how, and what the kernel then does). Here nbval gets the same manager on Unix sockets
in a private folder, so runs in parallel have no ports to race for.

``course_tasks`` is imported only when nbval starts a kernel: importing it reads the course's
mode, which ``tests/conftest.py`` sets first for the unit tests. (The unit tests'
``from conftest import ...`` gets ``tests/conftest.py``: pytest imports this file first and
that one after it, under the same name.)
"""

from __future__ import annotations

from typing import Any

import nbval.kernel


def _ipc_kernel_manager(**kwargs: Any) -> Any:
    from course_tasks.kernels import IPCKernelManager

    return IPCKernelManager(**kwargs)


nbval.kernel.KernelManager = _ipc_kernel_manager
