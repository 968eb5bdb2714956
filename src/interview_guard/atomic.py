"""Whole-file writes: a file is either absent, the old version or the new one.

Every file interview-guard writes goes through here: the content goes to a
temporary file in the same directory, is flushed to disk, then renamed over
the target (an atomic step on POSIX file systems), so a killed run never
leaves half a report.

The temporary file is named ``.<name>.<pid>.<8 random characters>.tmp``: a
killed writer leaves it behind, and :func:`is_stale_temp_file` tells such a
file (its process is gone) from one still being written; batch removes them
under its lock (:mod:`interview_guard.pipeline.batch_output`).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "is_stale_temp_file"]

_UMASK = os.umask(0)
os.umask(_UMASK)

#: A temporary file of :func:`atomic_open` (``mkstemp``'s 8 random characters); older versions wrote no pid.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")


def is_stale_temp_file(name: str, *, alive: Callable[[int], bool]) -> bool:
    """Whether the file ``name`` is a temporary file of :func:`atomic_open` whose writer is gone.

    ``alive(pid)`` says whether a process runs; a name without a pid (an older version's) counts as gone, so
    call this only where no other writer can be at work (batch holds its output's lock).
    """
    m = _TEMP_NAME.match(name)
    if m is None:
        return False
    return m["pid"] is None or not alive(int(m["pid"]))


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary binary file beside ``path``; on success it replaces ``path``.

    On an exception inside the ``with`` block the temporary file is removed
    and ``path`` is left as it was.

    A ``path`` that is not a regular file (a terminal or ``/dev/stdout``, a
    device, a named pipe) is written into directly: renaming a file over it
    would replace it. A symbolic link to a file is followed: its target is
    replaced and the link stays.
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode  # follows links
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(p, "wb") as fh:
            yield fh
        return
    if p.is_symlink():
        p = Path(os.path.realpath(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.{os.getpid()}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
