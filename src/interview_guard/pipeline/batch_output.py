"""The batch's hold on its output directory: one batch at a time (a lock), and what killed runs left behind.

* :class:`BatchLock`: ``OUT/.batch.lock``, locked with ``flock`` for the whole run and naming its holder
  (pid, host, start time). A second batch on the same OUT refuses at once with one line naming the directory
  and the holder. The kernel drops the lock when its process dies however it dies (``kill -9`` too), so a lock
  file left by a dead batch is simply taken over, with a warning naming the batch that is gone.
* :class:`IndexLock`: ``.NAME.lock`` beside the identity index (``OUT/.identity.sqlite.lock``, or beside the
  ``--index`` file; beside the file a symbolic link to the index points to): a batch holds it shared for its run
  (batches sharing one index still run side by side), ``matches --forget``/``--unforget`` exclusively, refusing
  at once while any batch uses the index (whatever its OUT), so a batch cannot store a forgotten candidate's
  session after the forget.
* :func:`ids_base`: ``OUT/batch.json`` records the root the session ids are relative to. A run on a
  directory inside that root (a subtree of the earlier input) keeps those ids (``grp%2Fa``, not ``a``), so
  its sessions are found done instead of scanned again under new ids and indexed twice.
* :func:`remove_stale_files`: under the lock, the temporary files of the atomic writer
  (:mod:`interview_guard.atomic`) whose process is gone, the batch's own write probes, and the key-frame
  scratch directories of killed runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from interview_guard.atomic import atomic_write_text, is_stale_temp_file
from interview_guard.errors import InterviewGuardError
from interview_guard.io.session import FoundSession, input_error_from_os_error, session_id_for

__all__ = [
    "LOCK_NAME",
    "ROOT_RECORD",
    "recorded_root",
    "TMP_DIR",
    "BatchLock",
    "IndexLock",
    "close_inherited_locks",
    "ids_base",
    "remove_stale_files",
]

ROOT_RECORD = "batch.json"  # OUT/batch.json: {"root": the absolute root the session ids are relative to}

LOCK_NAME = ".batch.lock"
TMP_DIR = ".tmp"  # OUT/.tmp: the batch's scratch space (key frames while a page is rendered)

#: The batch's write probes (``mkstemp`` names), removed right after they are made: a killed run can leave one.
_PROBES = re.compile(r"^\.(?:probe-[a-z0-9_]{8}\.tmp|case-probe-[a-z0-9_]{8}-aB)$")


#: The lock files' descriptors this process holds. A forked pool worker inherits them, and ``flock`` holds while any
#: copy is open: a driver killed with ``kill -9`` would keep its output locked until its last worker died.
_HELD: set[int] = set()


def close_inherited_locks() -> None:
    """In a forked worker: close its copies of the driver's lock descriptors (the driver's lock stays held by the
    driver alone, and goes when the driver goes)."""
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


def _holder(record: dict | None) -> str:
    if not record:
        return "its pid and host are not written yet"
    return f"pid {record.get('pid', '?')} on {record.get('host', '?')}, started {record.get('started_at', '?')}"


def _read_record(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 4096, 0)
        record = json.loads(data.decode("utf-8")) if data.strip() else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _flock(fd: int, flags: int, busy: Callable[[], str], *, what: str, path: Path) -> None:
    """``flock(fd, flags)``; when another holds it, ``fd`` is closed and ``busy()`` (read before closing) is the
    one-line error; a file system without locks is one line naming ``path``."""
    import fcntl

    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        msg = busy()
        os.close(fd)
        raise InterviewGuardError(msg) from None
    except OSError as exc:
        os.close(fd)
        raise input_error_from_os_error(exc, what, path=path) from None


class _Lock:
    """``with`` for the locks below: :meth:`acquire` on entry, :meth:`release` on exit."""

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class BatchLock(_Lock):
    """``OUT/.batch.lock`` held for a batch run (see the module docstring). Use as a context manager.

    ``notify`` gets the one-line warning when the lock of a batch that is gone is taken over.
    """

    def __init__(self, out: str | os.PathLike[str], *, notify: Callable[[str], None] | None = None) -> None:
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.notify = notify
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl  # POSIX only, like the rest of the batch's process handling

        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                # the first thing a batch writes in OUT: the same words as the write probe's
                raise input_error_from_os_error(exc, "cannot write in the output directory", path=self.out) from None

            def busy(fd: int = fd) -> str:  # the holder, read before the file is closed
                holder = _holder(_read_record(fd))
                return (
                    f"{self.out}: another batch is writing here ({holder}); wait for it to end or write to "
                    + "another --out"
                )

            _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, busy, what="cannot lock the batch output", path=self.path)
            try:  # the file may have been released and removed between open and flock: lock the one there now
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        _HELD.add(fd)
        previous = _read_record(fd)
        if previous is not None and self.notify is not None:
            self.notify(f"{self.out}: took over the lock of a batch that is gone ({_holder(previous)})")
        mine = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(mine) + "\n").encode("utf-8"), 0)
        except OSError as exc:  # a full disk, an I/O error: let go of the lock, never hold it unnamed
            self.release()
            what = "cannot write the batch lock's holder record"
            raise input_error_from_os_error(exc, what, path=self.path) from None

    def release(self) -> None:
        if self._fd is None:
            return
        try:  # removed while still held: a batch waiting on this file finds it gone and locks a new one
            os.unlink(self.path)
        except OSError:
            pass
        _HELD.discard(self._fd)
        os.close(self._fd)
        self._fd = None


class IndexLock(_Lock):
    """The identity index's lock (see the module docstring): ``exclusive=False`` for a batch (waits while a
    ``--forget`` holds it), ``exclusive=True`` for ``--forget``/``--unforget`` (refuses while a batch holds it).
    The file stays (several batches may hold it at once: removing it would let the next one lock another file)."""

    def __init__(self, index: str | os.PathLike[str], *, exclusive: bool = False) -> None:
        self.index = Path(index)
        real = Path(os.path.realpath(self.index))  # one lock whatever the name the index is given by (a link to it)
        self.path = real.parent / f".{real.name}.lock"
        self.exclusive = exclusive
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise input_error_from_os_error(exc, "cannot lock the identity index", path=self.path) from None
        _flock(
            fd,
            fcntl.LOCK_EX | fcntl.LOCK_NB if self.exclusive else fcntl.LOCK_SH,
            lambda: (
                f"{self.index}: a batch is using this identity index (lock {self.path.name} held); nothing was "
                "changed: run this again when the batch is over"
            ),
            what="cannot lock the identity index",
            path=self.path,
        )
        self._fd = fd
        _HELD.add(fd)  # a forked worker closes its copy (close_inherited_locks)

    def release(self) -> None:
        if self._fd is not None:
            _HELD.discard(self._fd)
            os.close(self._fd)
            self._fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    return True


def remove_stale_files(out: Path) -> int:
    """Under the batch lock: remove what killed runs left in ``out`` and ``out/sessions``; the files counted.

    Only names this program makes: the atomic writer's temporary files whose process is gone (their names
    carry its pid; those of older versions, without one, are taken as gone: the lock says no batch writes
    here), the batch's write probes; and the key-frame scratch directories of dead processes in ``out/.tmp``
    (not counted: they are scratch, never a half output).
    """
    removed = 0
    for d in (out, out / "sessions"):
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if not e.name.startswith(".") or not e.is_file(follow_symlinks=False):
                continue
            if is_stale_temp_file(e.name, alive=_alive) or _PROBES.match(e.name):
                try:
                    os.unlink(e.path)
                    removed += 1
                except OSError:
                    pass
    tmp = out / TMP_DIR
    if tmp.is_dir():
        for sub in tmp.iterdir():
            pid = sub.name.split("-")[1] if sub.name.startswith("frames-") and sub.name.count("-") >= 2 else ""
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(sub, ignore_errors=True)
    return removed


def recorded_root(out: Path) -> str | None:
    """The absolute root the batch of ``out`` last ran on (``OUT/batch.json``); None when none is recorded."""
    try:
        root = json.loads((out / ROOT_RECORD).read_text(encoding="utf-8")).get("root")
    except (OSError, ValueError, AttributeError):
        return None  # none yet (a first run, an older version's output), or unreadable: recorded anew
    return root if isinstance(root, str) and os.path.isabs(root) else None


def ids_base(
    out: Path, root: str | os.PathLike[str], sessions: list[FoundSession], notify: Callable[[str], None] | None
) -> tuple[str, list[FoundSession]]:
    """The root the session ids are relative to, and the sessions with those ids (under the batch lock).

    ``root`` inside the root recorded in ``OUT/batch.json`` (a run on part of an earlier batch's input): the
    recorded root, and each session's id and relative path rebased on it. Otherwise ``root`` (absolute),
    recorded; when another root was recorded, ``notify`` says that the ids now differ from the earlier ones.
    """
    here = os.path.abspath(root)
    recorded = recorded_root(out)
    if recorded is not None and recorded != here:
        rel = os.path.relpath(here, recorded)
        if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
            prefix = Path(rel).as_posix()

            def rebased(f: FoundSession) -> FoundSession:
                sub = prefix if f.relative_path == "." else f"{prefix}/{f.relative_path}"
                return replace(f, session_id=session_id_for(sub), relative_path=sub)

            return recorded, [rebased(f) for f in sessions]
        if notify is not None:
            notify(
                f"{out} was last run on {recorded}: the session ids are now paths under {here}, and the reports "
                f"of the earlier ids stay in {out / 'sessions'} (give each root its own --out)"
            )
    if recorded != here:
        atomic_write_text(out / ROOT_RECORD, json.dumps({"root": here}) + "\n")
    return here, sessions
