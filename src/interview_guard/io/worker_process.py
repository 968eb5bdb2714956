"""Worker processes that end with their parent.

A ``ProcessPoolExecutor`` worker whose parent dies without stopping the pool (``kill -9``, the out-of-memory
killer, a SIGTERM the parent does not handle) finishes its task and then waits for work for ever, holding its
memory. :func:`die_with_parent`, run in each worker (the pool's ``initializer``), sends the worker SIGTERM when
the parent is gone. Used by the batch's local pool and by ``synth -j N``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

__all__ = ["die_with_parent"]


def die_with_parent(parent: int) -> None:
    """SIGTERM to this process when ``parent`` (a pid) is gone: the kernel's parent-death signal on Linux,
    elsewhere a thread that polls the parent once a second.

    Linux sends the parent-death signal when the *thread* that started the worker ends, not only the process: a
    pool must be started by a thread that outlives it (the batch's and synth's pools are made and shut down by
    the thread that runs them; a pool created on a short-lived thread would lose its workers with that thread).
    """
    import ctypes  # noqa: PLC0415

    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    if not armed:

        def watch() -> None:
            while os.getppid() == parent:
                threading.Event().wait(1.0)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="ig-parent-watch", daemon=True).start()
    elif os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)
