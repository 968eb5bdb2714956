"""Framed power of a waveform in a frequency band (pure numpy/scipy, no decoding), and input checks.

:func:`band_power` is the one primitive under both audio analyzers: the
speech envelope (:mod:`interview_guard.signals.speech`) and the key-click
onsets (:mod:`interview_guard.signals.clicks`). It filters chunk by chunk so
an hour of 16 kHz audio needs no second full-length copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from interview_guard.errors import ParameterError

__all__ = ["EPS_POWER", "band_power", "check_1d", "check_sr", "strided_max_abs"]

#: ``release(i0, i1)``: samples ``[i0, i1)`` of the waveform were read (see ``AudioTrack.release``).
Release = Callable[[int, int], None]

EPS_POWER = 1e-12  # -120 dBFS: below any real recording's noise floor


def check_1d(x: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    """``x`` as an array; ParameterError unless it is 1-D."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ParameterError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def check_sr(sr: object) -> int:
    """``sr`` as an int; ParameterError unless it is an integer sample rate in 1000..384000 Hz."""
    if not (isinstance(sr, (int, np.integer)) and 1000 <= int(sr) <= 384000):
        raise ParameterError(f"sr must be an integer sample rate in 1000..384000 Hz, got {sr!r}")
    return int(sr)


def _band_sos(sr: int, low_hz: float | None, high_hz: float | None, order: int) -> npt.NDArray[np.float64] | None:
    from scipy import signal  # noqa: PLC0415 - scipy.signal is slow to import; only here

    nyq = sr / 2.0
    lo = None if low_hz is None or low_hz <= 0 else float(low_hz)
    hi = None if high_hz is None or high_hz >= nyq * 0.999 else float(high_hz)
    if lo is not None and hi is not None and not lo < hi:
        raise ParameterError(f"band {low_hz}-{high_hz} Hz is empty")
    if lo is None and hi is None:
        return None
    sos: npt.NDArray[np.float64]
    if lo is not None and hi is not None:
        sos = signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    elif lo is not None:
        sos = signal.butter(order, lo, btype="highpass", fs=sr, output="sos")
    else:
        sos = signal.butter(order, hi, btype="lowpass", fs=sr, output="sos")
    return sos


def band_power(
    *,
    y: np.ndarray,
    sr: int,
    frame_length: int,
    hop_length: int,
    low_hz: float | None = None,
    high_hz: float | None = None,
    order: int = 4,
    block_frames: int | None = None,
    release: Release | None = None,
) -> np.ndarray:
    """Mean power of ``y`` in a frequency band, frame by frame.

    The band filter (Butterworth, causal, zero initial state) runs over
    blocks of ``block_frames`` frames carrying its state, so memory is
    bounded by one block (a few float64 copies of it) whatever the length
    of ``y``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Sample rate (Hz).
    frame_length, hop_length : int
        Frame ``i`` covers samples ``[i * hop_length, i * hop_length + frame_length)``.
    low_hz, high_hz : float or None
        Band edges; ``None`` (or 0 / Nyquist) leaves that side open.
    order : int
        Butterworth order (per side).
    block_frames : int, optional
        Frames per processing block; default about 2**19 samples (33 s at
        16 kHz) per block.
    release : callable, optional
        Called as ``release(i0, i1)`` once samples ``[i0, i1)`` are read (a
        block at a time), so a waveform mapped from a file need not stay
        resident (``AudioTrack.release_samples``).

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=float32]
        Mean squared filtered sample per frame; empty when ``y`` is shorter
        than one frame.
    """
    y = check_1d(y, "y")
    sr = check_sr(sr)
    frame_length, hop_length = int(frame_length), int(hop_length)
    if frame_length < 1 or hop_length < 1:
        raise ParameterError("frame_length and hop_length must be positive")
    n = y.shape[0]
    n_frames = 0 if n < frame_length else 1 + (n - frame_length) // hop_length
    out = np.empty(n_frames, np.float32)
    if n_frames == 0:
        return out
    sos = _band_sos(sr, low_hz, high_hz, order)
    if sos is not None:
        from scipy import signal  # noqa: PLC0415

        zi = np.zeros((sos.shape[0], 2))
    pos = 0
    carry = np.zeros(0)
    if block_frames is None:
        block_frames = (1 << 19) // hop_length
    block_frames = max(int(block_frames), 1)
    for f0 in range(0, n_frames, block_frames):
        f1 = min(n_frames, f0 + block_frames)
        s_end = (f1 - 1) * hop_length + frame_length
        new = np.asarray(y[pos:s_end], dtype=np.float64)
        if release is not None:
            release(pos, s_end)
        if sos is not None:
            new, zi = signal.sosfilt(sos, new, zi=zi)
        seg = np.concatenate([carry, new]) if carry.size else new
        pos = s_end
        c = np.zeros(seg.size + 1)
        np.cumsum(seg * seg, out=c[1:])
        idx = np.arange(f1 - f0) * hop_length
        out[f0:f1] = np.maximum((c[idx + frame_length] - c[idx]) / frame_length, 0.0)
        carry = seg[(f1 - f0) * hop_length :]
    return out


def strided_max_abs(y: np.ndarray, step: int, *, release: Release | None = None, block: int = 1 << 20) -> float:
    """``max(abs(y[::step]))`` (0 for empty ``y``), read ``block`` samples at a time, each then released."""
    a = check_1d(y, "y")
    step = max(int(step), 1)
    block = max(int(block) // step, 1) * step  # blocks start on the stride
    best = 0.0
    for i0 in range(0, a.shape[0], block):
        i1 = min(i0 + block, a.shape[0])
        part = a[i0:i1:step]
        if part.size:
            best = max(best, float(np.max(np.abs(part))))
        if release is not None:
            release(i0, i1)
    return best
