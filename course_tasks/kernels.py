"""Kernel managers whose kernels listen on Unix sockets in a private folder, not TCP ports.

jupyter_client's default transport is TCP on 127.0.0.1. The manager picks five free ports
(bind to port 0, read the number, close the socket), writes them to the connection file and
starts the kernel, which binds them a second or so later. Any process on the machine that
binds or connects in that second can be given one of those ports, and then the kernel
cannot bind it. What follows depends on the port (ipykernel 7.4, measured by hand;
``tests/test_kernels.py`` repeats the first two): shell, and the kernel exits ("Kernel died
before replying to kernel_info"); IOPub, and it stays alive and never answers ("Kernel
didn't respond in 60 seconds"); stdin or control, it exits; heartbeat, nothing shows.
``make test`` starts hundreds of kernels from six pytest-xdist processes next to Celery
workers, Redis connections and Flower, and a CI run once lost all twenty cells of a
notebook that way.

Over the IPC transport a kernel's five sockets are files in a fresh 0700 folder: there is
nothing to race for, and no other user of the machine can reach them. (ipykernel still
listens on one TCP port of its own, the pipe that carries output from forked processes to
IOPub; it binds that itself with ``bind_to_random_port``, which tries another port when one
is taken, so it does not race.)

nbval, nbclient and the grader take these managers: the repository's root ``conftest.py``
hands nbval :class:`IPCKernelManager`, the tests and benchmarks that run notebooks give
nbclient :class:`AsyncIPCKernelManager`, and :mod:`course_tasks.grading.run` starts graded
kernels on Unix sockets in their own folder. jupyter_client has no IPC transport on
Windows, and a Unix socket's path has at most 107 bytes (103 on macOS); in either case the
managers keep TCP. JupyterLab (``make lab``) keeps TCP: its runtime folder can be too deep
for a socket.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager

#: The longest path a Unix socket can have (``sun_path`` with its NUL: 108 bytes on Linux,
#: 104 on macOS).
MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107
#: The socket files are ``<ip>-1`` to ``<ip>-5``; this leaves room for the suffix.
_SUFFIX = len("-99")


def ipc_available(ip: str) -> bool:
    """Whether a kernel can listen on Unix sockets named ``<ip>-N`` here."""
    return os.name == "posix" and len(os.fsencode(ip)) + _SUFFIX <= MAX_SOCKET_PATH


def use_ipc(km: Any, folder: str) -> bool:
    """Make ``km`` start its kernel on Unix sockets in ``folder`` (before ``start_kernel``).

    The connection file becomes ``folder/kernel.json`` and the sockets ``folder/kernel-ipc-N``.
    Returns False, and leaves ``km`` on TCP, where IPC is not available.
    """
    ip = os.path.join(folder, "kernel-ipc")
    if not ipc_available(ip):
        return False
    km.transport = "ipc"
    km.cache_ports = False
    km.connection_file = os.path.join(folder, "kernel.json")
    km.ip = ip
    return True


class _PrivateFolder:
    """Gives a kernel manager a fresh 0700 folder for its sockets, removed at shutdown.

    Put before jupyter_client's manager class in the bases: ``super()`` is that class.
    """

    folder: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        folder = tempfile.mkdtemp(prefix="kernel-")
        if use_ipc(self, folder):
            self.folder = folder
        else:
            os.rmdir(folder)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)  # type: ignore[misc]
        if self.folder and not restart:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class IPCKernelManager(_PrivateFolder, KernelManager):  # type: ignore[misc]
    """jupyter_client's ``KernelManager`` (nbval's), its kernel on Unix sockets."""


class AsyncIPCKernelManager(_PrivateFolder, AsyncKernelManager):  # type: ignore[misc]
    """jupyter_client's ``AsyncKernelManager`` (nbclient's), its kernel on Unix sockets."""
