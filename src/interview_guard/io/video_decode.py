"""Streaming video decoding with exact presentation times (PyAV, imported lazily).

:func:`iter_frames` decodes one video file frame by frame and yields
:class:`Frame` s: the image (upright, optionally downscaled) and its exact
presentation time in seconds taken from the container (``frame.time``), so a
variable-frame-rate recording keeps its real timing. Only the frame being
worked on (and, when subsampling, the one before it) is held in memory,
whatever the length of the recording.

A file that is cut short or damaged part-way is not an error: decoding stops
(or skips the damaged packets) and the :class:`DecodeStats` passed in records
what happened. A file that cannot be used at all (empty, not a container, no
video stream, no decodable frame) raises :class:`~interview_guard.errors.MediaError`.

Rotation
--------
Phones store portrait video as landscape frames plus a display matrix. PyAV
(>= 14) exposes the rotation on every decoded frame as ``VideoFrame.rotation``:
the angle in degrees, counter-clockwise, by which the frame must be rotated
for display (``-90`` for the usual portrait phone clip, whose legacy
``rotate`` tag reads ``90``). The stream object itself carries no rotation in
PyAV 18 (no ``side_data``, and FFmpeg 7+ no longer exports the ``rotate``
tag), so it is read from the first decoded frame, with the stream's
``rotate`` tag as a fallback for old files. Flips in the display matrix are
ignored (webcam mirroring does not change which way is up).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from interview_guard.errors import MediaError, ParameterError

__all__ = [
    "Frame",
    "DecodeStats",
    "iter_frames",
    "prepare_stream",
    "demux_video_frames",
    "rotate_upright",
    "scaled_size",
    "estimate_frame_count",
]

_MAX_ERROR_MESSAGES = 10
# Give up on a stream after this many damaged packets in a row (nothing useful follows).
_MAX_CONSECUTIVE_ERRORS = 100


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame.

    Attributes
    ----------
    index : int
        Source frame number: the count of frames decoded before this one,
        from the first frame at or after ``start_s`` (so the frame number in
        the file when ``start_s == 0``). Subsampling leaves gaps.
    t_s : float
        Presentation time in seconds on the container's clock.
    image : ndarray of uint8, shape (height, width, 3)
        C-contiguous, upright, RGB (or BGR when ``rgb=False``).
    """

    index: int
    t_s: float
    image: np.ndarray


@dataclass
class DecodeStats:
    """What one :func:`iter_frames` run saw; filled while the generator runs.

    Attributes
    ----------
    path : str
    width, height : int
        Coded size of the source frames (before rotation and scaling).
    out_width, out_height : int
        Size of the yielded images (after rotation and scaling).
    rotation : int
        Counter-clockwise display rotation applied (0, 90, 180 or 270).
    nominal_fps : float
        Average frame rate the container declares (0 when unknown).
    declared_end_s : float
        Where the container says the video ends, in seconds on the frames'
        clock (stream start plus duration; 0 when unknown).
    frames_decoded : int
        Frames the decoder returned at or after ``start_s``.
    frames_yielded : int
    dropped_non_increasing : int
        Frames dropped because their time did not increase (or was missing).
    dropped_subsample : int
        Frames left out by temporal subsampling.
    corrupt_frames : int
        Frames the decoder flagged as corrupt (concealed errors); still yielded.
    decode_errors : int
        Packets that failed to decode (skipped).
    errors : list of str
        The first few error messages.
    first_t, last_t : float or None
        Time of the first and last yielded frame.
    stopped_early : bool
        Decoding ended on an error rather than at the end of the stream.
    finished : bool
        The generator ran to its end (not closed by the caller).
    """

    path: str = ""
    width: int = 0
    height: int = 0
    out_width: int = 0
    out_height: int = 0
    rotation: int = 0
    nominal_fps: float = 0.0
    declared_end_s: float = 0.0
    frames_decoded: int = 0
    frames_yielded: int = 0
    dropped_non_increasing: int = 0
    dropped_subsample: int = 0
    corrupt_frames: int = 0
    decode_errors: int = 0
    errors: list[str] = field(default_factory=list)
    first_t: float | None = None
    last_t: float | None = None
    stopped_early: bool = False
    finished: bool = False

    @property
    def truncated(self) -> bool:
        """Whether the frames stop well before the declared duration, or on an error.

        "Well before" is more than two frame intervals (at least 0.25 s) short
        of the declared end.
        """
        if self.stopped_early:
            return True
        if not self.finished or self.last_t is None or self.declared_end_s <= 0:
            return False
        frame_s = 1.0 / self.nominal_fps if self.nominal_fps > 0 else 0.1
        return self.declared_end_s - self.last_t > max(0.25, 3 * frame_s)

    def note_error(self, message: str) -> None:
        self.decode_errors += 1
        if len(self.errors) < _MAX_ERROR_MESSAGES:
            self.errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields, plus ``truncated``."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["errors"] = list(self.errors)
        d["truncated"] = self.truncated
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecodeStats:
        """Inverse of :meth:`to_dict` (unknown keys, such as ``truncated``, are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["errors"] = list(known.get("errors", []))
        return cls(**known)


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Size after scaling so the longer side is at most ``max_side`` (never enlarged)."""
    if not max_side or max(width, height) <= max_side:
        return int(width), int(height)
    s = max_side / max(width, height)
    return max(1, int(round(width * s))), max(1, int(round(height * s)))


def rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate ``image`` counter-clockwise by ``rotation`` degrees (a multiple of 90).

    ``rotation`` is the display rotation as PyAV's ``VideoFrame.rotation``
    gives it; the result is C-contiguous.

    Parameters
    ----------
    image : ndarray, shape (h, w) or (h, w, c)
    rotation : int
        Degrees counter-clockwise; rounded to the nearest multiple of 90.

    Returns
    -------
    ndarray, shape (h, w, ...) or (w, h, ...)
    """
    k = int(round(rotation / 90.0)) % 4
    if k == 0:
        return image if image.flags["C_CONTIGUOUS"] else np.ascontiguousarray(image)
    return np.ascontiguousarray(np.rot90(image, k))


def _import_av() -> ModuleType:
    try:
        import av  # noqa: PLC0415 - heavy, imported only when video is decoded
    except ImportError as exc:  # pragma: no cover - av is a hard dependency
        raise MediaError(f"PyAV is not installed ({exc}); pip install av") from None
    return av


def _ff_message(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return (str(msg).strip().rstrip(".") or exc.__class__.__name__).replace("\n", " ")


def open_container(
    path: str | PathLike[str], *, what: str = "audio/video", hint: str = ""
) -> tuple[ModuleType, Any, Path]:
    """Open a media file with PyAV: ``(av module, container, Path)``.

    Raises
    ------
    MediaError
        Naming the file: not found, empty, or not openable as ``what``
        (``hint`` is appended to that message).
    """
    p = Path(path)
    if not p.is_file():
        raise MediaError("file not found", path=p)
    if p.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes)", path=p)
    av = _import_av()
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(f"cannot open as {what} ({_ff_message(exc)}){hint}", path=p) from None
    return av, container, p


def require_decoder(stream: Any, p: Path, kind: str) -> Any:
    """The codec context of ``stream`` (``kind``: "video" or "audio").

    PyAV gives a stream no codec context when FFmpeg has no decoder for its codec (an unknown codec id in the
    container, or a codec this build lacks); that is a :class:`MediaError` naming the file, not an
    ``AttributeError`` later.
    """
    cc = getattr(stream, "codec_context", None)
    if cc is None:
        raise MediaError(f"unsupported {kind} codec: FFmpeg has no decoder for this file's {kind} stream", path=p)
    return cc


def _open_video(path: str | PathLike[str]) -> tuple[Any, Any, Path]:
    """Open ``path`` and return (container, video stream, Path); raise MediaError."""
    av, container, p = open_container(path, what="video", hint="; the file may be truncated or not a media file")
    if not container.streams.video:
        has_audio = bool(container.streams.audio)
        container.close()
        raise MediaError("no video stream in the file" + (" (audio only)" if has_audio else ""), path=p)
    try:
        require_decoder(container.streams.video[0], p, "video")
    except MediaError:
        container.close()
        raise
    return container, container.streams.video[0], p


def _legacy_rotate_tag(stream: Any) -> int:
    """Counter-clockwise rotation from an old-style ``rotate`` tag (which is clockwise)."""
    try:
        rot = stream.metadata.get("rotate")
        if rot is not None:
            return int(-float(rot)) % 360
    except (AttributeError, ValueError, TypeError):
        pass
    return 0


def estimate_frame_count(
    path: str | PathLike[str], *, fps: float | None = None, start_s: float = 0.0, end_s: float | None = None
) -> int:
    """Rough number of frames :func:`iter_frames` will yield (for progress bars).

    Uses the container's frame count or duration and average rate; 0 when
    unknown. Raises :class:`MediaError` like :func:`iter_frames`.
    """
    container, v, _ = _open_video(path)
    with container:
        rate = float(v.average_rate or v.guessed_rate or 0.0)
        duration = 0.0
        if v.duration and v.time_base:
            duration = float(v.duration * v.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        if duration <= 0 and v.frames and rate > 0:
            duration = v.frames / rate
    stop = duration if end_s is None else min(duration, end_s)
    span = max(stop - max(start_s, 0.0), 0.0)
    use = rate if not fps else (min(fps, rate) if rate > 0 else fps)
    return int(math.ceil(span * use)) if use > 0 else 0


def iter_frames(
    path: str | PathLike[str],
    *,
    fps: float | None = None,
    max_side: int | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    rgb: bool = True,
    stats: DecodeStats | None = None,
) -> Iterator[Frame]:
    """Decode the first video stream of ``path``, one :class:`Frame` at a time.

    Parameters
    ----------
    path : str or Path
    fps : float, optional
        Subsample to about this rate: for each target time ``t0 + k / fps``
        (``t0`` the first frame's time) the source frame nearest to it is
        kept (ties go to the earlier frame), each frame at most once. ``None``
        keeps every frame; a rate at or above the source rate keeps every frame.
    max_side : int, optional
        Downscale so the longer side is at most this (area averaging by
        libswscale, in the same pass as the colour conversion).
    start_s, end_s : float
        Keep frames with ``start_s <= t_s < end_s``. A positive ``start_s``
        seeks (to the keyframe before it) instead of decoding from the start.
    rgb : bool
        RGB channel order (MediaPipe); ``False`` gives BGR (OpenCV).
    stats : DecodeStats, optional
        Filled while decoding (also the generator's return value).

    Yields
    ------
    Frame
        Strictly increasing ``t_s``; upright images (display rotation applied).

    Raises
    ------
    MediaError
        The file is missing, empty, not a media container or has no video
        stream (raised by the call itself), or no frame decodes at all
        (raised when iteration ends). Damage after the first good frame
        does not raise: decoding skips or stops and ``stats`` says so.
    """
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ParameterError(f"fps must be a positive number, got {fps!r}")
    if max_side is not None and int(max_side) < 16:
        raise ParameterError(f"max_side must be at least 16, got {max_side!r}")
    st = stats if stats is not None else DecodeStats()
    av = _import_av()
    container, stream, p = _open_video(path)  # errors here are raised at once, not on first next()
    st.path = str(p)
    return _decode(av, container, stream, p, st, fps, max_side, float(start_s or 0.0), end_s, rgb)


def _decode(
    av: ModuleType,
    container: Any,
    stream: Any,
    p: Path,
    st: DecodeStats,
    fps: float | None,
    max_side: int | None,
    start_s: float,
    end_s: float | None,
    rgb: bool,
) -> Generator[Frame, None, DecodeStats]:
    with container:
        legacy_rot = prepare_stream(container, stream, st)
        if start_s > 0:
            try:
                container.seek(int(start_s / stream.time_base), stream=stream, backward=True, any_frame=False)
            except (av.FFmpegError, OSError, ValueError) as exc:
                st.errors.append(f"seek to {start_s:.3f} s failed ({_ff_message(exc)}); decoding from the start")
        fmt = "rgb24" if rgb else "bgr24"
        step = 1.0 / fps if fps else 0.0
        rotation: int | None = None
        out_size = None
        resize: dict[str, Any] | None = None
        last_t = -math.inf
        next_k = 0  # index of the next subsampling target
        t0: float | None = None
        prev: tuple[int, float, Any] | None = None  # (index, t, av frame) not yet decided (subsampling only)
        prev_emitted = False

        def convert(idx: int, t: float, vf: Any) -> Frame:
            nonlocal rotation, out_size, resize
            if rotation is None:
                rot = int(vf.rotation or 0)
                rotation = (rot if rot else legacy_rot) % 360
                rotation = int(round(rotation / 90.0)) * 90 % 360
                st.rotation = rotation
                w, h = scaled_size(vf.width, vf.height, max_side)
                if (w, h) != (vf.width, vf.height):
                    # Scale and convert in one libswscale pass (area averaging, like
                    # cv2.INTER_AREA): 1280x720 -> 960x540 costs ~2 ms, cv2 ~5 ms more.
                    resize = {"width": w, "height": h, "interpolation": "AREA"}
                out_size = (w, h) if rotation in (0, 180) else (h, w)
                st.out_width, st.out_height = out_size
            img = vf.to_ndarray(format=fmt, **resize) if resize else vf.to_ndarray(format=fmt)
            img = rotate_upright(img, rotation)  # also makes it C-contiguous
            st.frames_yielded += 1
            if st.first_t is None:
                st.first_t = t
            st.last_t = t
            return Frame(idx, t, img)

        n_decoded = 0
        for t, vf in demux_video_frames(av, container, stream, st):
            if t < start_s - 1e-9:
                continue  # pre-roll after a seek
            if end_s is not None and t >= end_s:
                break
            if t <= last_t:
                st.dropped_non_increasing += 1
                continue
            last_t = t
            idx = n_decoded
            n_decoded += 1
            st.frames_decoded = n_decoded
            if getattr(vf, "is_corrupt", False):
                st.corrupt_frames += 1
            if not fps:
                yield convert(idx, t, vf)
                continue
            # Temporal subsampling: nearest source frame to each target time.
            if t0 is None:
                t0 = t
                next_k = 1
                prev, prev_emitted = (idx, t, vf), True
                yield convert(idx, t, vf)
                continue
            cur_emitted = False
            while True:
                target = t0 + next_k * step
                if target > t:
                    break
                assert prev is not None  # set with t0
                p_idx, p_t, p_vf = prev
                if target - p_t <= t - target:
                    if not prev_emitted:
                        prev_emitted = True
                        yield convert(p_idx, p_t, p_vf)
                elif not cur_emitted:
                    cur_emitted = True
                    yield convert(idx, t, vf)
                next_k += 1
            if not prev_emitted:
                st.dropped_subsample += 1
            prev, prev_emitted = (idx, t, vf), cur_emitted
        if fps and prev is not None and not prev_emitted:
            p_idx, p_t, p_vf = prev
            assert t0 is not None  # set with prev
            target = t0 + next_k * step
            if target - p_t < step / 2 and (end_s is None or target < end_s):
                yield convert(p_idx, p_t, p_vf)
            else:
                st.dropped_subsample += 1
        prev = None
        if n_decoded == 0 and st.frames_yielded == 0:
            if st.decode_errors or st.stopped_early:
                raise MediaError(f"video does not decode ({st.errors[0] if st.errors else 'no frame'})", path=p)
            if start_s <= 0 and end_s is None:
                raise MediaError("no decodable video frame", path=p)
        st.finished = True
    return st


def _declared_end(container: Any, stream: Any) -> float:
    """End of the video stream on its own clock, from the container headers (0 when unknown)."""
    tb = stream.time_base
    if stream.duration and tb:
        start = stream.start_time if stream.start_time is not None else 0
        return float((start + stream.duration) * tb)
    if container.duration:
        start = container.start_time or 0
        return float((start + container.duration) / 1_000_000)
    return 0.0


def prepare_stream(container: Any, stream: Any, st: DecodeStats, *, thread_type: str = "AUTO") -> int:
    """Decoder threading (PyAV's ``thread_type``: ``"AUTO"`` frame and slice threads, ``"SLICE"``, ``"NONE"``),
    and the stream's size, nominal rate and declared end into ``st``.

    Returns the legacy ``rotate`` tag (degrees, 0 when absent), which applies
    when the frames carry no display matrix.
    """
    stream.thread_type = thread_type
    cc = stream.codec_context
    st.width, st.height = int(cc.width or 0), int(cc.height or 0)
    st.nominal_fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    st.declared_end_s = _declared_end(container, stream)
    return _legacy_rotate_tag(stream)


def demux_video_frames(av: ModuleType, container: Any, stream: Any, st: DecodeStats) -> Iterator[tuple[float, Any]]:
    """Decoded PyAV frames of ``stream`` with finite times, as ``(t_s, frame)`` in decode order.

    The one demux loop of the video readers (:func:`iter_frames`, the scan in
    :mod:`~interview_guard.extract.video_scan`): a read error ends it (noted in ``st``,
    ``stopped_early``), a damaged packet is skipped and noted, and
    ``_MAX_CONSECUTIVE_ERRORS`` of them in a row end it; frames without a
    finite time are counted in ``st.dropped_non_increasing``. The caller
    keeps its own order checks and may stop at any frame.
    """
    consecutive_errors = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, OSError, EOFError) as exc:
            st.note_error(f"reading the file failed after {st.frames_decoded} frames ({_ff_message(exc)})")
            st.stopped_early = True
            return
        try:
            decoded = packet.decode()
            consecutive_errors = 0
        except (av.FFmpegError, EOFError, ValueError) as exc:
            st.note_error(f"damaged packet at {_packet_time(packet)} skipped ({_ff_message(exc)})")
            consecutive_errors += 1
            if consecutive_errors >= _MAX_CONSECUTIVE_ERRORS:
                st.stopped_early = True
                return
            continue
        for vf in decoded:
            t = vf.time
            if t is None or not math.isfinite(t):
                st.dropped_non_increasing += 1
                continue
            yield float(t), vf


def _packet_time(packet: Any) -> str:
    try:
        if packet.pts is not None and packet.time_base:
            return f"{float(packet.pts * packet.time_base):.3f} s"
    except (TypeError, ValueError):
        pass
    return "unknown time"
