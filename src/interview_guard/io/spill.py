"""Per-scan spill files: the video scan's per-frame rows and key frames on disk instead of in RAM.

A scan of an hour-long recording landmarks thousands of frames and keeps, for each, face and hand landmarks,
blendshapes, two small luma crops and a few measures (about 12 KB); in memory that grows with the recording. A
:class:`SpillDir` instead appends those rows to ``.npy`` files (:class:`NpyAppender`) and the key-frame JPEGs to
one blob file (:class:`BlobAppender`) as the scan goes; when the scan ends the arrays are opened read-only with
``np.load(mmap_mode="r")`` and the key frames through one read-only ``mmap``: the tracks the analyzers read are
file pages the kernel loads on demand and may drop again, not anonymous memory of the process.

Where the files live, and when they go:

* In a directory ``ig-spill-<pid>-<random>`` made for the scan under ``root``: the scan cache's ``spill/``
  directory when the scan is cached (``extract.cache``), else the system temporary directory
  (``$TMPDIR``, ``/tmp``).
* :meth:`SpillDir.close` removes that directory. The video scan closes it as soon as the arrays are mapped,
  before it returns, and on every error (a ``finally``): on POSIX systems a mapped file stays readable after its
  name is removed, and its disk space is freed when the last array mapping it is garbage-collected (after the
  report is written) or the process exits, however it exits. So a finished scan leaves no file behind.
* A process killed while it scans (SIGKILL, a power cut) leaves its directory; the next :class:`SpillDir` made
  under the same root removes every ``ig-spill-<pid>-*`` directory whose process is gone. The local batch
  pool's workers and the web server's scan workers remove their open directories on SIGTERM
  (:func:`remove_spill_on_sigterm`) and then die of it as before.
* Where a file cannot be removed while mapped (Windows), the directory is removed at interpreter exit instead.
"""

from __future__ import annotations

import atexit
import contextlib
import mmap
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "SPILL_PREFIX",
    "SpillDir",
    "NpyAppender",
    "BlobAppender",
    "MappedBlobs",
    "clean_stale_spill",
    "default_spill_root",
    "load_npz_mapped",
    "PageReleaser",
    "map_npy",
    "mapping_of",
    "release_mapped",
    "remove_spill_on_sigterm",
]

#: Name prefix of a scan's spill directory: ``ig-spill-<pid>-<random>``.
SPILL_PREFIX = "ig-spill-"

_LEFT_FOR_EXIT: set[str] = set()
# The spill directories of this process not closed yet (removed by the SIGTERM handler).
_OPEN: set[str] = set()


def default_spill_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where a scan spills: ``<cache_dir>/spill`` when the scan is cached, else the system temporary directory."""
    if cache_dir is not None:
        return Path(cache_dir) / "spill"
    return Path(tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or no permission to ask: leave its directory alone
        return True
    return True


def clean_stale_spill(root: str | os.PathLike[str]) -> list[Path]:
    """Remove the spill directories under ``root`` whose process is gone; returns those removed."""
    removed: list[Path] = []
    try:
        entries = list(Path(root).iterdir())
    except OSError:
        return removed
    for d in entries:
        name = d.name
        if not name.startswith(SPILL_PREFIX):
            continue
        pid = name[len(SPILL_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


class SpillDir:
    """One scan's spill directory (see the module notes); a context manager that removes it on exit."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_spill_root()
        self.path: Path | None = None  # made with the first file
        self._closed = False
        self._files: list[NpyAppender | BlobAppender] = []

    def _file(self, name: str) -> Path:
        if self._closed:
            raise RuntimeError("the spill directory is closed")
        if self.path is None:
            self.root.mkdir(parents=True, exist_ok=True)
            clean_stale_spill(self.root)
            self.path = Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-", dir=self.root))
            _OPEN.add(str(self.path))
        return self.path / name

    def npy(self, name: str, shape: tuple[int, ...], dtype: Any) -> NpyAppender:
        """A new ``name.npy`` of rows of ``shape`` and ``dtype``."""
        f = NpyAppender(self._file(f"{name}.npy"), shape, dtype)
        self._files.append(f)
        return f

    def blobs(self, name: str) -> BlobAppender:
        """A new ``name.bin`` of byte strings keyed by a float (the key frames, by time)."""
        f = BlobAppender(self._file(f"{name}.bin"))
        self._files.append(f)
        return f

    def close(self) -> None:
        """Close the open files and remove the directory (mapped arrays stay readable; idempotent)."""
        for f in self._files:
            f.abort()
        self._files = []
        self._closed = True
        path, self.path = self.path, None
        if path is None:
            return
        _OPEN.discard(str(path))
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():  # a platform that keeps mapped files: at exit, then
            _LEFT_FOR_EXIT.add(str(path))
            if len(_LEFT_FOR_EXIT) == 1:
                atexit.register(_remove_left)

    def __enter__(self) -> SpillDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SpillDir({'closed' if self._closed else str(self.path or self.root)!r})"


def remove_spill_on_sigterm() -> None:
    """Make SIGTERM remove this process's open spill directories before the process dies of it.

    For worker processes (the local batch pool's, the web server's scan workers), called once at their start
    from the main thread. The handler removes the directories, restores the default action and re-sends
    SIGTERM, so the process still ends as killed by SIGTERM (what its parent expects). Elsewhere nothing is
    installed: a process killed without it leaves its directory to :func:`clean_stale_spill`.
    """
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: Any) -> None:
        for p in sorted(_OPEN):
            shutil.rmtree(p, ignore_errors=True)
        _OPEN.clear()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)


def _remove_left() -> None:
    for p in sorted(_LEFT_FOR_EXIT):
        shutil.rmtree(p, ignore_errors=True)
    _LEFT_FOR_EXIT.clear()


class NpyAppender:
    """Rows appended to one ``.npy`` file; :meth:`finish` fixes its header and maps it read-only.

    The header is written for 0 rows and rewritten in place with the count at the end (numpy pads the header so
    the first axis can grow to 21 digits without moving the data).
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        self.path = path
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.n = 0
        self._fh: BinaryIO | None = open(path, "wb")  # noqa: SIM115 - closed by finish / abort
        self._header_len = self._write_header(0)

    def _write_header(self, n: int) -> int:
        assert self._fh is not None
        self._fh.seek(0)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (n, *self.shape)}
        np.lib.format.write_array_header_1_0(self._fh, header)
        return self._fh.tell()

    def append(self, rows: np.ndarray) -> None:
        """Rows of shape ``(k, *shape)`` (converted to the file's dtype)."""
        if self._fh is None:
            raise RuntimeError(f"{self.path.name} is finished")
        a = np.ascontiguousarray(rows, dtype=self.dtype)
        if a.shape[1:] != self.shape:
            raise ValueError(f"{self.path.name}: rows of shape {a.shape[1:]}, expected {self.shape}")
        self._fh.write(a.tobytes())
        self.n += a.shape[0]

    def finish(self) -> np.ndarray:
        """The rows as a read-only array mapped from the file, shape ``(n, *shape)``."""
        if self._fh is None:
            raise RuntimeError(f"{self.path.name} is finished")
        self._fh.flush()
        end = self._fh.tell()
        if self._write_header(self.n) != self._header_len:  # pragma: no cover - numpy pads for 21 digits
            raise RuntimeError(f"{self.path.name}: the .npy header changed length")
        self._fh.seek(end)
        self._fh.close()
        self._fh = None
        arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return np.asarray(arr)  # a plain ndarray view of the mapping (read-only)

    def finish_releasable(self) -> tuple[np.ndarray, PageReleaser]:
        """Like :meth:`finish`, with a :class:`PageReleaser` that drops the rows' pages from the process."""
        self.finish()
        return map_npy(self.path)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class PageReleaser:
    """Drops pages of a read-only file mapping from this process (``madvise(MADV_DONTNEED)``).

    Touched pages of a mapped file count in the process's resident memory (and its peak, ``VmHWM``) until the
    mapping goes. Code that reads a long mapped array front to back once (the audio waveform, a block at a time)
    calls ``release(i0, i1)`` for the rows it is done with: their pages leave the process and are read again
    from the page cache (or the file) if touched later, so the data stays valid and only its residency is
    bounded. ``release()`` drops them all. Rows are along the first axis; the range is widened to whole pages.
    A no-op where ``madvise`` is unavailable.
    """

    def __init__(self, mm: mmap.mmap | None, offset: int, row_bytes: int, n: int) -> None:
        self._mm = mm
        self._offset = int(offset)
        self._row_bytes = int(row_bytes)
        self._n = int(n)
        self.calls = 0  # how many releases were asked for (tests)

    def __call__(self, i0: int = 0, i1: int | None = None) -> None:
        mm = self._mm
        if mm is None or self._n == 0 or not hasattr(mm, "madvise") or mm.closed:
            return
        i1 = self._n if i1 is None else min(int(i1), self._n)
        i0 = max(int(i0), 0)
        if i1 <= i0:
            return
        page = mmap.PAGESIZE
        start = (self._offset + i0 * self._row_bytes) // page * page
        end = min(-(-(self._offset + i1 * self._row_bytes) // page) * page, len(mm))
        if end > start:
            self.calls += 1
            mm.madvise(mmap.MADV_DONTNEED, start, end - start)


def map_npy(path: str | os.PathLike[str]) -> tuple[np.ndarray, PageReleaser]:
    """A ``.npy`` file's array mapped read-only, and a :class:`PageReleaser` for its rows.

    The mapping (and with it the file's data) lives as long as the array or the releaser is referenced.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        fmt = np.lib.format
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(fh, max_header_size=1 << 20)
        if dtype.hasobject or fortran:
            raise ValueError(f"{p.name}: only C-ordered plain arrays are mapped")
        offset = fh.tell()
        count = int(np.prod(shape, dtype=np.int64))
        row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64)) if shape else dtype.itemsize
        if count == 0:
            return np.zeros(shape, dtype), PageReleaser(None, 0, row_bytes, 0)
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if offset + count * dtype.itemsize > len(mm):
        raise ValueError(f"{p.name}: truncated array")
    arr = np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)
    return arr, PageReleaser(mm, offset, row_bytes, shape[0] if shape else 1)


def mapping_of(obj: Any) -> mmap.mmap | None:
    """The read-only file mapping an array (or a :class:`MappedBlobs`) is a view of, or None (process memory).

    Follows the array's ``base`` chain: ``np.load(mmap_mode="r")`` arrays end in a ``np.memmap`` whose base is
    the ``mmap``; :func:`map_npy` and :func:`load_npz_mapped` arrays in the ``mmap`` itself.
    """
    if isinstance(obj, MappedBlobs):
        obj = obj._buf
    seen = 0
    while obj is not None and seen < 16:
        if isinstance(obj, mmap.mmap):
            return obj
        if isinstance(obj, memoryview):
            obj = obj.obj
        else:
            obj = getattr(obj, "base", None)
        seen += 1
    return None


def release_mapped(objs: Any) -> int:
    """Drop every page of the file mappings behind ``objs`` (arrays, :class:`MappedBlobs`) from this process.

    ``madvise(MADV_DONTNEED)`` over each distinct mapping, whole: the data stays valid (a page touched again is
    read back from the page cache or the file) and only its residency goes, so a reader that calls this between
    chunks keeps about one chunk of a long track resident, and the pages one analyzer touched do not stay
    counted while the next runs. Only read-only mappings are released (a private writable one would lose its
    changes). Returns how many mappings were released; a no-op where ``madvise`` is unavailable.
    """
    done: dict[int, mmap.mmap] = {}
    for o in objs:
        mm = mapping_of(o)
        if mm is not None and id(mm) not in done:
            done[id(mm)] = mm
    n = 0
    for mm in done.values():
        if mm.closed or not hasattr(mm, "madvise") or len(mm) == 0:
            continue
        with memoryview(mm) as view:  # ACCESS_READ exports a read-only buffer; anonymous and copy maps do not
            if not view.readonly:
                continue
        mm.madvise(mmap.MADV_DONTNEED)
        n += 1
    return n


class BlobAppender:
    """Byte strings appended to one file under float keys; :meth:`finish` gives a :class:`MappedBlobs`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: BinaryIO | None = open(path, "wb")  # noqa: SIM115 - closed by finish / abort
        self._index: dict[float, tuple[int, int]] = {}
        self._size = 0

    def add(self, key: float, data: bytes) -> None:
        if self._fh is None:
            raise RuntimeError(f"{self.path.name} is finished")
        self._fh.write(data)
        self._index[float(key)] = (self._size, len(data))
        self._size += len(data)

    def __len__(self) -> int:
        return len(self._index)

    def finish(self) -> MappedBlobs:
        if self._fh is None:
            raise RuntimeError(f"{self.path.name} is finished")
        self._fh.close()
        self._fh = None
        if self._size == 0:
            return MappedBlobs(b"", {})
        with open(self.path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return MappedBlobs(mm, self._index)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class MappedBlobs(Mapping[float, bytes]):
    """Key frames (JPEG bytes by time) read from a mapped file on access; only the index is in memory."""

    def __init__(self, buffer: Any, index: dict[float, tuple[int, int]]) -> None:
        self._buf = buffer
        self._index = dict(sorted(index.items()))

    def __getitem__(self, key: float) -> bytes:
        off, n = self._index[key]
        return bytes(self._buf[off : off + n])

    def __iter__(self) -> Iterator[float]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (a process boundary) as a plain dict
        return (dict, (dict(self.items()),))

    def __repr__(self) -> str:
        return f"MappedBlobs(n={len(self)})"


def load_npz_mapped(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of an uncompressed ``.npz`` (``np.savez``), the large ones mapped read-only from the file.

    ``np.load`` of an npz reads each member into memory; members stored uncompressed are contiguous in the
    file, so an array of more than 64 KiB is a view of one read-only ``mmap`` of the whole file instead.
    Compressed members and small ones are read. Raises what ``np.load`` and ``zipfile`` raise on a damaged file.
    """
    p = Path(path)
    out: dict[str, np.ndarray] = {}
    with open(p, "rb") as fh, zipfile.ZipFile(fh) as zf:
        mm: mmap.mmap | None = None
        try:
            for info in zf.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if info.compress_type != zipfile.ZIP_STORED or info.file_size < (64 << 10):
                    with zf.open(info) as member:
                        out[name] = np.lib.format.read_array(member, allow_pickle=False)
                    continue
                fh.seek(info.header_offset)
                local = fh.read(30)
                if local[:4] != b"PK\x03\x04":
                    raise zipfile.BadZipFile(f"bad local header for {info.filename}")
                start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                start += int.from_bytes(local[28:30], "little")
                fh.seek(start)
                version = np.lib.format.read_magic(fh)
                fmt = np.lib.format
                read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, fortran, dtype = read_header(fh, max_header_size=1 << 20)
                if dtype.hasobject:
                    raise ValueError(f"{info.filename}: object arrays are not read")
                offset = fh.tell()
                count = int(np.prod(shape, dtype=np.int64))
                if offset + count * dtype.itemsize > start + info.file_size:
                    raise ValueError(f"{info.filename}: truncated array")
                if mm is None:
                    mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                arr = np.frombuffer(mm, dtype=dtype, count=count, offset=offset)
                out[name] = arr.reshape(shape, order="F" if fortran else "C")
        except BaseException:
            out.clear()
            if mm is not None:
                with contextlib.suppress(BufferError):
                    mm.close()
            raise
    return out
