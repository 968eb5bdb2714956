"""On-disk cache of extracted face and hand tracks.

Landmarking a long recording takes minutes; scanning it again (new analyzer
parameters, a re-run of a batch) should not. :func:`load_or_extract` keys an
entry by

* the sha256 of the video file's content (hashed in 1 MiB blocks, so memory
  stays bounded; a renamed or copied file still hits, an edited one misses),
* the sha256 of both model files (as verified against ``models/manifest.json``),
* the extraction parameters (fps, max_side, which tracks, start/end, the
  runner options) and :data:`~interview_guard.extract.video_tracks.TRACKS_FORMAT_VERSION`,

and stores one ``<key>.npz`` (written atomically) holding both tracks and the
decode statistics. The directory is the ``cache_dir`` argument, else
``$INTERVIEW_GUARD_CACHE``; with neither, nothing is cached. An entry that
cannot be read (damaged, truncated, another format) is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from interview_guard.errors import InputError
from interview_guard.extract.video_tracks import (
    TRACKS_FORMAT_VERSION,
    FaceTrack,
    HandTrack,
    load_tracks_npz,
    save_tracks_npz,
)
from interview_guard.io.video_decode import DecodeStats

__all__ = ["CACHE_ENV", "cache_dir", "file_sha256", "cache_key", "cache_path", "load_or_extract", "load_or_scan"]

CACHE_ENV = "INTERVIEW_GUARD_CACHE"

_log = logging.getLogger(__name__)

# sha256 by (path, size, mtime_ns): a file is hashed once per process.
_HASHES: dict[tuple[str, int, int], str] = {}


def cache_dir(directory=None) -> Path | None:
    """The cache directory: ``directory``, else ``$INTERVIEW_GUARD_CACHE``, else None (no cache)."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else None


def file_sha256(path, *, chunk: int = 1 << 20) -> str:
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


def _model_hashes(models_dir, face: bool, hands: bool) -> dict[str, str]:
    from interview_guard.io.landmarks import FACE_MODEL, HAND_MODEL  # noqa: PLC0415 - light module
    from interview_guard.io.model_files import read_manifest, verified_model_path  # noqa: PLC0415

    d = None if models_dir is None else Path(models_dir)
    manifest = read_manifest(d)
    out = {}
    for name, wanted in ((FACE_MODEL, face), (HAND_MODEL, hands)):
        if wanted:
            verified_model_path(name, d)  # the file on disk is the one the manifest names
            out[name] = manifest[name]["sha256"]
    return out


def cache_key(
    path,
    *,
    fps=None,
    max_side=960,
    face=True,
    hands=True,
    models_dir=None,
    face_options=None,
    hand_options=None,
    start_s=0.0,
    end_s=None,
) -> str:
    """The cache key (hex sha256) of extracting ``path`` with these parameters."""
    from interview_guard.io.landmarks import FaceRunnerOptions, HandRunnerOptions  # noqa: PLC0415

    desc = {
        "format": TRACKS_FORMAT_VERSION,
        "video_sha256": file_sha256(path),
        "models": _model_hashes(models_dir, face, hands),
        "params": {
            "fps": None if fps is None else float(fps),
            "max_side": None if max_side is None else int(max_side),
            "face": bool(face),
            "hands": bool(hands),
            "start_s": float(start_s or 0.0),
            "end_s": None if end_s is None else float(end_s),
            "face_options": asdict(face_options or FaceRunnerOptions()) if face else None,
            "hand_options": asdict(hand_options or HandRunnerOptions()) if hands else None,
        },
    }
    blob = json.dumps(desc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_path(directory, key: str) -> Path:
    """Where the entry for ``key`` lives in ``directory``."""
    return Path(directory) / key[:2] / f"{key}.npz"


def load_or_extract(
    path,
    *,
    fps=None,
    max_side=960,
    face=True,
    hands=True,
    progress=None,
    models_dir=None,
    face_options=None,
    hand_options=None,
    start_s=0.0,
    end_s=None,
    cache_dir=None,
    refresh=False,
) -> tuple[FaceTrack | None, HandTrack | None, DecodeStats]:
    """Tracks of ``path`` from the cache, or extracted (and then cached).

    Parameters are those of :func:`~interview_guard.extract.video_tracks.extract_video_tracks`, plus

    cache_dir : path, optional
        Cache directory; default ``$INTERVIEW_GUARD_CACHE``; no cache when neither is set.
    refresh : bool
        Extract again and overwrite the entry.

    Returns
    -------
    face, hands, stats
        As :func:`~interview_guard.extract.video_tracks.extract_video_tracks` returns
        them; ``stats`` of a cached entry is the one saved at extraction.
    """
    from interview_guard.extract import video_tracks  # noqa: PLC0415 - looked up at call time (tests patch it)

    directory = _resolve_dir(cache_dir)
    params = dict(
        fps=fps,
        max_side=max_side,
        face=face,
        hands=hands,
        models_dir=models_dir,
        face_options=face_options,
        hand_options=hand_options,
        start_s=start_s,
        end_s=end_s,
    )
    entry = None
    if directory is not None:
        entry = cache_path(directory, cache_key(path, **params))
        if not refresh and entry.is_file():
            try:
                f, h, stats, _info = load_tracks_npz(entry)
                if (f is None) == (not face) and (h is None) == (not hands) and stats is not None:
                    if progress is not None:
                        progress("video", completed=1, total=1)
                    return f, h, stats
                _log.warning("track cache entry %s does not match its key; extracting again", entry)
            except InputError as exc:
                _log.warning("ignoring unreadable track cache entry (%s); extracting again", exc)
    f, h, stats = video_tracks.extract_video_tracks(path, progress=progress, **params)
    if entry is not None:
        try:
            save_tracks_npz(entry, f, h, stats, info={"video": str(path)})
        except OSError as exc:  # a full or read-only cache must not fail the scan
            _log.warning("cannot write the track cache entry %s (%s)", entry, exc)
    return f, h, stats


def _resolve_dir(directory) -> Path | None:
    return cache_dir(directory)


def load_or_scan(path, *, cache_dir=None, refresh=False, progress=None, models_dir=None, **params):
    """A :class:`~interview_guard.extract.video_scan.VideoScan` of ``path`` from the cache, or scanned (then cached).

    ``params`` are those of :func:`~interview_guard.extract.video_scan.scan_video`
    (plain values: mode, rates, max_side ...). The key covers the video's
    content hash, both model hashes, the parameters and the scan format.
    """
    from interview_guard.extract import video_scan  # noqa: PLC0415

    directory = _resolve_dir(cache_dir)
    entry = None
    if directory is not None:
        desc = {
            "format": ["video_scan", getattr(video_scan, "SCAN_FORMAT_VERSION", 1), TRACKS_FORMAT_VERSION],
            "video_sha256": file_sha256(path),
            "models": _model_hashes(models_dir, True, True),
            "params": video_scan.scan_parameters(**params),
        }
        key = hashlib.sha256(json.dumps(desc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
        entry = Path(directory) / key[:2] / f"{key}.scan.npz"
        if not refresh and entry.is_file():
            try:
                scan = video_scan.VideoScan.load(entry)
                if progress is not None:
                    progress("video", completed=1, total=1)
                return scan
            except (InputError, OSError, ValueError, KeyError) as exc:
                _log.warning("ignoring unreadable video cache entry %s (%s); scanning again", entry, exc)
    scan = video_scan.scan_video(path, progress=progress, models_dir=models_dir, **params)
    if entry is not None:
        try:
            scan.save(entry)
        except OSError as exc:
            _log.warning("cannot write the video cache entry %s (%s)", entry, exc)
    return scan
