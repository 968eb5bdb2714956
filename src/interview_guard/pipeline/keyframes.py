"""Key frames for a saved report: from the recorded files, a frames directory, or decoded from the video.

The scan writes the key frames of video evidence (``scan --frames DIR``,
:func:`interview_guard.pipeline.scan.write_key_frames`). A page rendered
later from the JSON report gets its images from :func:`load_key_frames`,
for each key-frame time of an evidence item (``details.key_frame_times`` and
the times of the role objects in ``details.key_frames``) the first of:

1. the file the scan recorded in ``details.key_frames``;
2. the same file name in ``frames_dir``, or the standard name
   (:func:`~interview_guard.report.keyframes.key_frame_filename`) there;
3. the frame decoded from the video (``video_path``, else the video the
   report names when it is still there), seeking to each time rather than
   decoding the whole file.

The page renderer (:mod:`interview_guard.report.html`) only embeds the
images; it never opens a video. OpenCV and PyAV are imported only when an
image is shrunk or a frame decoded.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from interview_guard.report.keyframes import (
    MAX_KEY_FRAMES,
    KeyFrames,
    evidence_key_frame_times,
    key_frame_filename,
    key_frame_files,
    wanted_key_frame_times,
)
from interview_guard.report.model import Report

if TYPE_CHECKING:
    from interview_guard.io.video_decode import Frame

__all__ = ["MAX_FRAME_BYTES", "MAX_FRAME_PIXELS", "THUMB_SIDE", "decode_frames", "load_key_frames"]

#: Longer side of thumbnails decoded from the video (the scan's key frames are this size too).
THUMB_SIDE = 320
#: Largest key-frame file read, and most pixels its header may declare (the scan writes 320-px JPEGs of ~30 KB).
MAX_FRAME_BYTES = 20 * 1024 * 1024
MAX_FRAME_PIXELS = 40_000_000


def _thumbnail(data: bytes) -> bytes:
    """Shrink an image larger than a thumbnail (frames from elsewhere than the scan); as is otherwise."""
    if len(data) < 120_000:
        return data
    try:
        import cv2  # noqa: PLC0415
        import numpy as np

        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            return data
        h, w = img.shape[:2]
        s = THUMB_SIDE / max(h, w)
        if s < 1:
            img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return buf.tobytes() if ok else data
    except Exception:  # a thumbnail is a nicety: keep the original
        return data


def decode_frames(
    video_path: str | os.PathLike[str], times: Iterable[float], *, max_side: int = THUMB_SIDE
) -> dict[float, bytes]:
    """JPEG thumbnails of the frames nearest to ``times`` (seconds on the video's clock).

    Seeks to each time and decodes only the few frames around it (PyAV via
    :func:`~interview_guard.io.video_decode.iter_frames`); never the whole file.
    A time with no frame within a quarter second is left out.

    Raises
    ------
    MediaError
        The video cannot be opened (missing, empty, not a video).
    """
    import cv2  # noqa: PLC0415 - heavy, only when frames are decoded

    from interview_guard.errors import MediaError
    from interview_guard.io.video_decode import iter_frames

    out: dict[float, bytes] = {}
    for t in sorted(set(float(x) for x in times)):
        best = None
        # the call itself raises when the file cannot be used at all; a window without a frame is skipped
        frames = cast(
            "Generator[Frame, None, None]",  # a generator: closed below, so PyAV lets go of the file at once
            iter_frames(video_path, max_side=max_side, start_s=max(0.0, t - 0.25), end_s=t + 0.25, rgb=False),
        )
        try:
            for fr in frames:
                if best is None or abs(fr.t_s - t) < abs(best.t_s - t):
                    best = fr
                if fr.t_s >= t:
                    break
        except MediaError:
            continue
        finally:
            frames.close()
        if best is None:
            continue
        ok, buf = cv2.imencode(".jpg", best.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            out[t] = buf.tobytes()
    return out


def _file_for_time(paths: list[str], t: float, times: list[float]) -> str | None:
    suffix = f"_{t:09.3f}s.jpg"
    for p in paths:
        if str(p).endswith(suffix):
            return str(p)
    if len(paths) == len(times):
        return str(paths[times.index(t)])
    return None


def _read_first(candidates: list[Path]) -> bytes | None:
    """The first candidate that is a key-frame image: a regular file of at most :data:`MAX_FRAME_BYTES` whose
    header declares a JPEG, PNG or WebP of at most :data:`MAX_FRAME_PIXELS` (a report's paths can name anything:
    a huge file, a file that is no image, a small PNG declaring 30000 x 30000 pixels that a decoder or the
    browser would expand to gigabytes); others are skipped like missing files."""
    from interview_guard.io.image_header import ImageHeaderError, image_size  # noqa: PLC0415

    for c in candidates:
        try:
            if not c.is_file() or c.stat().st_size > MAX_FRAME_BYTES:
                continue
            data = c.read_bytes()
            fmt, w, h = image_size(data)
        except (OSError, ImageHeaderError):
            continue
        if fmt in ("JPEG", "PNG", "WebP") and w * h <= MAX_FRAME_PIXELS:
            return _thumbnail(data)
    return None


def load_key_frames(
    report: Report,
    *,
    frames_dir: str | os.PathLike[str] | None = None,
    video_path: str | os.PathLike[str] | None = None,
) -> KeyFrames:
    """The images of the report's key frames (see the module docstring for where they come from).

    Parameters
    ----------
    report : Report
    frames_dir : path, optional
        Where the key frames were written (``scan --frames DIR``), used when
        the paths in ``details.key_frames`` do not resolve (the frames were
        moved, or the report was read elsewhere).
    video_path : path, optional
        The session's video, to decode key frames that were not saved; by
        default the video recorded in the report (``session.files.video``)
        when it is still readable. A video given here that cannot be found
        or decoded is reported in ``KeyFrames.video_error``; a recorded
        video that is gone is not.

    Returns
    -------
    KeyFrames
        Never raises for a missing or broken video: the page says so.
    """
    fdir = None if frames_dir is None else Path(frames_dir)
    out = KeyFrames()
    all_details = [ev.details for r in report.analyzers.values() for ev in r.evidence]
    for details in all_details:
        times = evidence_key_frame_times(details)
        if not times:
            continue
        by_time, paths = key_frame_files(details)
        for t in times:
            if t in out.images:
                continue
            candidates = []
            p = by_time.get(t) or (_file_for_time(paths, t, times) if paths else None)
            if p:
                candidates.append(Path(p))
            if fdir is not None:
                if p:
                    candidates.append(fdir / Path(p).name)
                candidates.append(fdir / key_frame_filename(report.session_id, t))
            img = _read_first(candidates)
            if img is not None:
                out.images[t] = img
    wanted = wanted_key_frame_times(all_details)
    if all(t in out.images for t in wanted):
        return out
    explicit = video_path is not None
    video: Path | None
    if video_path is not None:
        video = Path(video_path)
    else:
        v = (report.session.files or {}).get("video")
        video = Path(v) if v else None
    if video is None:
        return out
    if not video.is_file():
        if explicit:
            out.video_error = f"{video}: file not found"
        return out
    missing = [t for t in wanted[:MAX_KEY_FRAMES] if t not in out.images]
    if not missing:
        return out
    try:
        decoded = decode_frames(video, missing)
    except Exception as exc:  # MediaError, or a decoder bug: say so on the page, do not fail it
        out.video_error = str(exc) or exc.__class__.__name__
        return out
    out.images.update(decoded)
    return out
