"""Streaming audio decoding to a mono float32 waveform (PyAV, imported lazily).

:func:`decode_audio` decodes the first audio stream of a file (a separate
``audio.*`` recording, or the audio track of the video) chunk by chunk,
downmixes it to mono and resamples it (16 kHz by default) with
``av.AudioResampler``, into an :class:`~interview_guard.tracks.audio.AudioTrack`
(the waveform type the analyzers read, defined in :mod:`interview_guard.tracks.audio`
and re-exported here). The only full-length array is the output itself: it
is preallocated from the duration the container declares (and grown if the
file holds more), and every decoded chunk is written straight into it.

With ``spill=`` (a :class:`~interview_guard.io.spill.SpillDir`) there is no
full-length array in memory at all: the chunks are appended to a ``.npy``
file as they are decoded, and the track's samples are that file mapped
read-only, with a ``release`` that drops pages the analyzers have read (an
hour at 16 kHz is 230 MB of float32; mapped and released block by block it
costs the process one block). The whole scan decodes this way
(:mod:`interview_guard.extract.session`).

Times
-----
The track's ``start_s`` is the presentation time of the first decoded
sample on the container's clock, the same clock as the video frames' times
of :func:`interview_guard.io.video_decode.iter_frames` when the audio comes
from the video file. A gap in the audio timestamps (a recording that lost
audio for a while) is filled with zeros so that sample ``i`` stays at
``start_s + i / sr``; overlapping timestamps are counted, not corrected.

:func:`session_audio` picks the session's audio: the separate audio file
when the session has one, else the video's audio track.
"""

from __future__ import annotations

import itertools
import math
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

from interview_guard.errors import MediaError, ParameterError
from interview_guard.io.video_decode import _ff_message, open_container, require_decoder
from interview_guard.io.wav_header import wav_container_seconds
from interview_guard.tracks.audio import DEFAULT_SR, AudioTrack

if TYPE_CHECKING:
    from interview_guard.io.spill import SpillDir

__all__ = ["AudioTrack", "decode_audio", "session_audio", "DEFAULT_SR"]


# A jump in the input timestamps larger than this is a gap, filled with zeros.
_GAP_TOLERANCE_S = 0.05
# Give up after this many damaged packets in a row.
_MAX_CONSECUTIVE_ERRORS = 100
_MAX_ERROR_MESSAGES = 10
# Spilled samples are written in pieces of at most this many (4 MB of float32).
_SPILL_BLOCK = 1 << 20
_spill_names = itertools.count()


class _Buffer:
    """A float32 array filled front to back; grows by half when full (rarely: sized from the header)."""

    def __init__(self, capacity: int, limit: int | None) -> None:
        self.limit = limit
        cap = max(int(capacity), 1024)
        if limit is not None:
            cap = min(cap, max(limit, 1))
        self.data = np.empty(cap, np.float32)
        self.n = 0

    @property
    def full(self) -> bool:
        return self.limit is not None and self.n >= self.limit

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > self.data.shape[0]:
            cap = max(need, int(self.data.shape[0] * 1.5))
            if self.limit is not None:
                cap = min(cap, self.limit)
            grown = np.empty(cap, np.float32)
            grown[: self.n] = self.data[: self.n]
            self.data = grown

    def append(self, x: np.ndarray) -> None:
        if self.limit is not None:
            x = x[: max(self.limit - self.n, 0)]
        if x.size:
            self._reserve(x.size)
            self.data[self.n : self.n + x.size] = x
            self.n += x.size

    def zeros(self, count: int) -> None:
        if self.limit is not None:
            count = min(count, max(self.limit - self.n, 0))
        if count > 0:
            self._reserve(count)
            self.data[self.n : self.n + count] = 0.0
            self.n += count

    def finish(self) -> np.ndarray:
        if self.n == self.data.shape[0]:
            return self.data
        if self.n >= 0.9 * self.data.shape[0]:
            return self.data[: self.n]  # a view: the spare tail is small, no second full-length copy
        return self.data[: self.n].copy()


class _SpillBuffer:
    """The :class:`_Buffer` interface over a spill file: samples go to disk as they come; the result is mapped."""

    def __init__(self, spill: SpillDir, limit: int | None) -> None:
        self.limit = limit
        self.file = spill.npy(f"audio-{next(_spill_names)}", (), np.float32)
        self.n = 0
        self.release: Any = None

    @property
    def full(self) -> bool:
        return self.limit is not None and self.n >= self.limit

    def append(self, x: np.ndarray) -> None:
        if self.limit is not None:
            x = x[: max(self.limit - self.n, 0)]
        if x.size:
            x = np.asarray(x, np.float32)
            if not np.isfinite(x).all():  # pragma: no cover - decoders give finite floats
                x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
            self.file.append(x)
            self.n += x.size

    def zeros(self, count: int) -> None:
        if self.limit is not None:
            count = min(count, max(self.limit - self.n, 0))
        while count > 0:
            k = min(count, _SPILL_BLOCK)
            self.file.append(np.zeros(k, np.float32))
            self.n += k
            count -= k

    def finish(self) -> np.ndarray:
        samples, self.release = self.file.finish_releasable()
        return samples


def decode_audio(
    path: str | PathLike[str],
    *,
    sr: int = DEFAULT_SR,
    max_seconds: float | None = None,
    spill: SpillDir | None = None,
) -> AudioTrack:
    """Decode the first audio stream of ``path`` to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    path : str or Path
        Any container PyAV reads (wav, flac, mp3, ogg, m4a, mp4, webm, mkv, ...).
    sr : int, keyword-only
        Output sample rate (Hz); 16000 by default.
    max_seconds : float, optional, keyword-only
        Stop after this many seconds of output.
    spill : SpillDir, optional, keyword-only
        Write the samples to a file in this spill directory as they are
        decoded and return them mapped read-only from it (module notes); the
        directory may be closed as soon as this returns.

    Returns
    -------
    AudioTrack
        ``start_s`` is the first sample's time on the container clock. Its
        samples are read-only, with a ``release``, when spilled.

    Raises
    ------
    MediaError
        File missing or empty, not a media container, no audio stream, or no
        audio that decodes.
    ParameterError
        ``sr`` or ``max_seconds`` out of range.

    Notes
    -----
    Damaged packets are skipped (counted in ``meta["decode_errors"]``); a
    file that stops decoding part-way gives the audio decoded so far, with
    ``meta["stopped_early"]`` set.
    """
    if not (isinstance(sr, (int, np.integer)) and 1000 <= int(sr) <= 192000):
        raise ParameterError(f"sr must be an integer in 1000..192000 Hz, got {sr!r}")
    sr = int(sr)
    if max_seconds is not None and not (
        isinstance(max_seconds, (int, float)) and math.isfinite(max_seconds) and max_seconds > 0
    ):
        raise ParameterError(f"max_seconds must be a positive number, got {max_seconds!r}")
    av, container, p = open_container(path)
    with container:
        if not container.streams.audio:
            what = " (video only)" if container.streams.video else ""
            raise MediaError(f"no audio stream in the file{what}", path=p)
        stream = container.streams.audio[0]
        cc = require_decoder(stream, p, "audio")
        declared = 0.0
        if stream.duration and stream.time_base:
            declared = float(stream.duration * stream.time_base)
        elif container.duration:
            declared = container.duration / 1_000_000
        declared = max(declared, wav_container_seconds(container, p))  # FFmpeg takes a WAV's from its size
        limit = None if max_seconds is None else int(math.ceil(max_seconds * sr))
        capacity = int(declared * sr * 1.01) + sr if declared > 0 else 60 * sr
        buf: _Buffer | _SpillBuffer = _Buffer(capacity, limit) if spill is None else _SpillBuffer(spill, limit)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        meta: dict[str, Any] = {
            "codec": cc.name or "",
            "source_rate": int(cc.sample_rate or 0),
            "source_channels": int(getattr(cc, "channels", 0) or 0),
            "declared_s": round(declared, 3),
            "gaps_filled": 0,
            "gap_seconds": 0.0,
            "timestamp_overlaps": 0,
            "decode_errors": 0,
            "errors": [],
            "stopped_early": False,
        }
        start_s: float | None = None
        in_expected = 0.0  # input time (s) just after the last input frame (set with start_s)
        consecutive = 0
        packets = container.demux(stream)

        def emit(frames: Any) -> None:
            for out in frames:
                buf.append(out.to_ndarray().reshape(-1))

        while not buf.full:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError, EOFError) as exc:
                meta["stopped_early"] = True
                _note(meta, f"reading stopped ({_ff_message(exc)})")
                break
            try:
                frames = packet.decode()
                consecutive = 0
            except (av.FFmpegError, EOFError, ValueError) as exc:
                _note(meta, f"damaged audio packet skipped ({_ff_message(exc)})")
                consecutive += 1
                if consecutive >= _MAX_CONSECUTIVE_ERRORS:
                    meta["stopped_early"] = True
                    break
                continue
            for frame in frames:
                if frame.samples == 0 or not frame.sample_rate:
                    continue
                t = frame.time
                if start_s is None:
                    start_s = float(t) if t is not None and math.isfinite(t) else 0.0
                    in_expected = start_s
                elif t is not None and math.isfinite(t):
                    jump = float(t) - in_expected
                    if jump > _GAP_TOLERANCE_S:
                        emit(resampler.resample(None))  # flush so the zeros go after what came before
                        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
                        # place the next frame at its own time on the output clock
                        target = int(round((float(t) - start_s) * sr))
                        buf.zeros(target - buf.n)
                        meta["gaps_filled"] += 1
                        meta["gap_seconds"] = round(meta["gap_seconds"] + jump, 3)
                        in_expected = float(t)
                    elif jump < -_GAP_TOLERANCE_S:
                        meta["timestamp_overlaps"] += 1
                in_expected += frame.samples / frame.sample_rate
                emit(resampler.resample(frame))
                if buf.full:
                    break
        if not buf.full:
            try:
                emit(resampler.resample(None))
            except (av.FFmpegError, ValueError):  # pragma: no cover - flushing an empty resampler
                pass
    if start_s is None or buf.n == 0:
        if meta["decode_errors"]:
            raise MediaError(f"audio does not decode ({meta['errors'][0]})", path=p)
        raise MediaError("the audio stream holds no samples", path=p)
    samples = buf.finish()
    if isinstance(buf, _Buffer) and not np.isfinite(samples).all():  # pragma: no cover - decoders give finite floats
        np.nan_to_num(samples, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    release = buf.release if isinstance(buf, _SpillBuffer) else None
    return AudioTrack(samples=samples, sr=sr, start_s=start_s, source=str(p), meta=meta, release=release)


def _note(meta: dict[str, Any], message: str) -> None:
    meta["decode_errors"] += 1
    if len(meta["errors"]) < _MAX_ERROR_MESSAGES:
        meta["errors"].append(message)


def session_audio(
    *,
    audio_path: str | PathLike[str] | None = None,
    video_path: str | PathLike[str] | None = None,
    sr: int = DEFAULT_SR,
    spill: SpillDir | None = None,
) -> AudioTrack | None:
    """The session's audio: the separate audio file if given, else the video's audio track.

    Parameters
    ----------
    audio_path, video_path : str or Path, optional, keyword-only
        The session's ``audio.*`` and ``video.*`` files (``None`` when absent).
    sr : int, keyword-only
    spill : SpillDir, optional, keyword-only
        Spill the samples to a file there (:func:`decode_audio`).

    Returns
    -------
    AudioTrack or None
        ``None`` when there is no audio file and the video has no audio stream.

    Raises
    ------
    MediaError
        The audio file (or the video's audio track) exists but cannot be decoded.
    """
    if audio_path is not None:
        return decode_audio(audio_path, sr=sr, spill=spill)
    if video_path is None:
        return None
    _, container, p = open_container(video_path)
    with container:
        has_audio = bool(container.streams.audio)
    if not has_audio:
        return None
    return decode_audio(p, sr=sr, spill=spill)
