"""Whole-file writes: a file is either absent, the old version or the new one.

Every file interview-guard writes goes through here: the content goes to a
temporary file in the same directory, is flushed to disk, then renamed over
the target (an atomic step on POSIX file systems), so a killed run never
leaves half a report.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text"]

_UMASK = os.umask(0)
os.umask(_UMASK)


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
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
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
