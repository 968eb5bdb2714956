"""On-disk cache of video scans.

Landmarking a long recording takes minutes; scanning it again (new analyzer
parameters, a re-run of a batch) should not. :func:`load_or_scan` keys an
entry by

* the sha256 of the video file's content (hashed in 1 MiB blocks, so memory
  stays bounded; a renamed or copied file still hits, an edited one misses),
* the sha256 of both model files (as verified against ``models/manifest.json``),
* the scan parameters (:func:`~interview_guard.extract.video_scan.scan_parameters`)
  and :data:`~interview_guard.extract.scan_results.SCAN_FORMAT_VERSION`,

and stores one ``<key>.scan.npz`` (written atomically) holding the
:class:`~interview_guard.extract.scan_results.VideoScan`; a hit maps its large arrays from the file
(read-only) rather than reading them into memory. While a cached scan runs, its rows spill to
``<cache>/spill/`` (:mod:`interview_guard.io.spill`; gone when the scan returns). The directory is the
``cache_dir`` argument, else ``$INTERVIEW_GUARD_CACHE``; with neither, nothing
is cached. An entry that cannot be read (damaged, truncated, another format)
is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from interview_guard.errors import InputError
from interview_guard.extract.scan_results import VideoScan
from interview_guard.progress import ProgressHook, Stage, notify

__all__ = ["CACHE_ENV", "cache_dir", "file_sha256", "scan_cache_key", "scan_cache_path", "spill_root", "load_or_scan"]

CACHE_ENV = "INTERVIEW_GUARD_CACHE"

_log = logging.getLogger(__name__)

# sha256 by (path, size, mtime_ns): a file is hashed once per process.
_HASHES: dict[tuple[str, int, int], str] = {}


def cache_dir(directory: str | Path | None = None) -> Path | None:
    """The cache directory: ``directory``, else ``$INTERVIEW_GUARD_CACHE``, else None (no cache)."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else None


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """sha256 of a file's content, read in ``chunk``-byte blocks (remembered per path, size and mtime)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError("file not found", path=p) from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def _model_hashes(models_dir: str | Path | None, face: bool, hands: bool, identity: bool = False) -> dict[str, str]:
    from interview_guard.io.face_descriptor import MODEL_FILE, MODEL_MANIFEST  # noqa: PLC0415 - light module
    from interview_guard.io.landmarks import FACE_MODEL, HAND_MODEL  # noqa: PLC0415 - light module
    from interview_guard.io.model_files import read_manifest, verified_model_path  # noqa: PLC0415

    d = None if models_dir is None else Path(models_dir)
    manifest = read_manifest(d)
    out: dict[str, str] = {}
    described = ((MODEL_FILE, identity), (MODEL_MANIFEST, identity))
    for name, wanted in ((FACE_MODEL, face), (HAND_MODEL, hands), *described):
        if wanted:
            verified_model_path(name, d)  # the file on disk is the one the manifest names
            out[name] = manifest[name]["sha256"]
    return out


# The former face/hand track file format (1): still part of the key so existing cache entries stay valid.
_TRACKS_FORMAT = 1


def scan_cache_key(path: str | Path, *, models_dir: str | Path | None = None, **params: Any) -> str:
    """The cache key (hex sha256) of ``scan_video(path, **params)``.

    Covers the video's content hash, both model hashes (and the face
    descriptor's files when identity is asked for), the parameters that
    change the result and the scan format.
    """
    from interview_guard.extract import scan_results, video_scan  # noqa: PLC0415

    desc = {
        "format": ["video_scan", scan_results.SCAN_FORMAT_VERSION, _TRACKS_FORMAT],
        "video_sha256": file_sha256(path),
        "models": _model_hashes(models_dir, True, True, bool(params.get("identity"))),
        "params": video_scan.scan_parameters(**params),
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def spill_root(directory: str | Path) -> Path:
    """Where a cached scan spills its rows while it runs: ``<cache>/spill`` (:mod:`interview_guard.io.spill`)."""
    from interview_guard.io.spill import default_spill_root  # noqa: PLC0415

    return default_spill_root(directory)


def scan_cache_path(directory: str | Path, key: str) -> Path:
    """Where the entry for ``key`` lives in ``directory``."""
    return Path(directory) / key[:2] / f"{key}.scan.npz"


def load_or_scan(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    progress: ProgressHook | None = None,
    models_dir: str | Path | None = None,
    **params: Any,
) -> VideoScan:
    """A :class:`~interview_guard.extract.scan_results.VideoScan` of ``path`` from the cache, or scanned (then cached).

    ``params`` are those of :func:`~interview_guard.extract.video_scan.scan_video`
    (plain values: mode, rates, max_side ...); see :func:`scan_cache_key`.

    cache_dir : path, optional
        Cache directory; default ``$INTERVIEW_GUARD_CACHE``; no cache when neither is set.
    refresh : bool
        Scan again and overwrite the entry.
    """
    from interview_guard.extract import video_scan  # noqa: PLC0415 - looked up at call time (tests patch it)

    directory = _resolve_dir(cache_dir)
    entry = None
    if directory is not None:
        entry = scan_cache_path(directory, scan_cache_key(path, models_dir=models_dir, **params))
        if not refresh and entry.is_file():
            try:
                scan = VideoScan.load(entry)
                if progress is not None:
                    notify(progress, Stage.VIDEO, completed=1, total=1)
                return scan
            except (InputError, OSError, ValueError, KeyError) as exc:
                _log.warning("ignoring unreadable video cache entry %s (%s); scanning again", entry, exc)
    if directory is not None and params.get("spill_dir") is None:
        params["spill_dir"] = spill_root(directory)  # beside the entry it becomes (same disk)
    scan = video_scan.scan_video(path, progress=progress, models_dir=models_dir, **params)
    if entry is not None:
        try:
            scan.save(entry)
        except OSError as exc:  # a full or read-only cache must not fail the scan
            _log.warning("cannot write the video cache entry %s (%s)", entry, exc)
    return scan


def _resolve_dir(directory: str | Path | None) -> Path | None:
    return cache_dir(directory)
