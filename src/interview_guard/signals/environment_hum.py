"""Mains hum: is the 50 Hz or the 60 Hz electrical network frequency (ENF) in the audio? (pure numpy)

A microphone near mains wiring, a laptop on its charger or a ground loop picks up the grid's frequency and
its harmonics. The grid holds its nominal frequency within a fraction of a hertz, so the hum is a set of
narrow, steady lines at ``h * 50`` or ``h * 60`` Hz; speech, music and room noise are broad or move.

:func:`mains_hum` cuts the waveform into frames (Hann window, zero-padded FFT), takes the **median** power
spectrum over the frames (steady lines survive the median, intermittent speech does not), and for each
candidate frequency and harmonic compares the power in a narrow band at the harmonic with the median of
the neighbouring bands (1.5 to 6 Hz away). Harmonics the two grids share (300 Hz = 6 x 50 = 5 x 60) are
left out. The candidate's **line ratio** is its best harmonic's ratio (dB). Stability gives the
confidence: the share of frames in which the best harmonic is itself above its neighbours, and the spread
of its frequency over the session. A grid is reported only when its lines stand clear of the neighbours, in
most frames, well above the other grid's; otherwise the answer is "no hum found" (never evidence).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["mains_hum", "HUM_CANDIDATES"]

HUM_CANDIDATES = (50.0, 60.0)
_SHARED = 300.0  # 6 x 50 = 5 x 60: says nothing about which grid


# Frames transformed at once: a batch of 2 s frames at 16 kHz costs about 1.5 MB a frame in temporaries (the
# gathered samples, their float64 copies, the zero-padded spectrum), so 16 frames ~25 MB (64 took ~100 MB).
_BATCH = 16


def _harmonics(f0: float, top_hz: float) -> list[float]:
    out = []
    h = 1
    while h * f0 <= top_hz:
        c = h * f0
        if abs(c - _SHARED) > 1.0:
            out.append(c)
        h += 1
    return out


def _frame_starts(length: int, n: int, hop: int, max_frames: int) -> np.ndarray:
    """Start indices of the frames, at most ``max_frames`` of them spread evenly."""
    count = 1 + (length - n) // hop
    starts = hop * np.arange(count)
    if count > max_frames:
        starts = starts[np.linspace(0, count - 1, max_frames).round().astype(int)]
    out: np.ndarray = starts
    return out


def mains_hum(
    *,
    y: np.ndarray,
    sr: int,
    frame_s: float = 2.0,
    hop_s: float = 1.0,
    top_hz: float = 480.0,
    min_ratio_db: float = 10.0,
    min_frame_share: float = 0.5,
    margin_db: float = 6.0,
    max_frames: int = 1200,
    release: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Mains-hum evidence in a mono waveform.

    Parameters
    ----------
    y : np.ndarray
        Mono samples.
    sr : int
        Sample rate (Hz); at least ``2 * top_hz``.
    frame_s, hop_s : float
        Frame length and hop (s). The frame sets the resolution (``1 / frame_s`` Hz before zero-padding).
    top_hz : float
        Highest harmonic looked at.
    min_ratio_db : float
        A line must stand this far above its neighbours in the median spectrum.
    min_frame_share : float
        ... and in at least this share of the frames on its own.
    margin_db : float
        ... and this far above the other grid's best line.
    max_frames : int
        At most this many frames are used, spread evenly over the waveform (bounded cost on long sessions).
    release : callable, optional
        ``release(i0, i1)`` is called with the samples of each batch of frames once they are read (a waveform
        mapped from a file then need not stay resident; ``AudioTrack.release_samples``).

    Returns
    -------
    dict
        ``detected_hz`` (50, 60 or None), ``confidence`` in [0, 1], ``frames``, ``seconds`` and per
        candidate (``"50"``, ``"60"``): ``ratio_db`` (best harmonic), ``harmonic_hz``, ``frame_share``,
        ``freq_std_hz`` (robust spread of the best line over the frames where it stands out, scaled to the
        fundamental) and
        ``harmonics_db`` (every harmonic's ratio). ``detected_hz`` None with ``frames`` 0 when the audio is
        too short (less than two frames).
    """
    x = np.asarray(y)  # not copied: frames are cut and converted a batch at a time (bounded memory)
    n = int(round(frame_s * sr))
    hop = max(1, int(round(hop_s * sr)))
    empty: dict[str, Any] = {"detected_hz": None, "confidence": 0.0, "frames": 0, "seconds": 0.0}
    if x.ndim != 1 or sr < 2 * top_hz or n < 16 or x.shape[0] < n + hop:
        return empty
    starts = _frame_starts(int(x.shape[0]), n, hop, max_frames)
    nfft = 2 * n
    df = sr / nfft
    top_bin = int(math.ceil((top_hz + 8.0) / df)) + 1
    win = np.hanning(n)
    spec = np.empty((starts.size, top_bin))
    live = np.zeros(starts.size, bool)
    offsets = np.arange(n)
    for i0 in range(0, starts.size, _BATCH):  # batches of frames keep memory bounded
        i1 = i0 + _BATCH
        block = np.asarray(x[starts[i0:i1, None] + offsets], dtype=np.float64)
        if release is not None:
            release(int(starts[i0]), int(starts[i0:i1][-1]) + n)
        block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        block -= block.mean(axis=1, keepdims=True)
        live[i0:i1] = np.sqrt(np.mean(block**2, axis=1)) > 1e-6  # digital silence says nothing
        f = np.fft.rfft(block * win, n=nfft, axis=1)[:, :top_bin]
        spec[i0:i1] = f.real**2 + f.imag**2
    if int(live.sum()) < 2:
        return {**empty, "frames": int(live.sum())}
    spec = spec[live]
    # per-frame normalisation: loud frames must not dominate the median
    spec /= np.maximum(np.median(spec, axis=1, keepdims=True), 1e-30)
    med = np.median(spec, axis=0)
    freqs = np.arange(top_bin) * df
    out: dict[str, Any] = {"frames": int(spec.shape[0]), "seconds": round(float(spec.shape[0] * hop_s), 1)}
    per: dict[str, dict[str, Any]] = {}
    for f0 in HUM_CANDIDATES:
        ratios = []
        best: tuple[float, float, np.ndarray, np.ndarray] | None = None
        for c in _harmonics(f0, top_hz):
            half = max(0.5, 0.004 * c) + df
            line = np.abs(freqs - c) <= half
            dist = np.abs(freqs - c)
            nb = (dist >= 1.5 + half) & (dist <= 6.0 + half)
            if not line.any() or nb.sum() < 4:
                continue
            r_db = 10.0 * math.log10(max(float(med[line].max()), 1e-30) / max(float(np.median(med[nb])), 1e-30))
            ratios.append((c, r_db))
            if best is None or r_db > best[1]:
                best = (c, r_db, line, nb)
        if best is None:
            per[str(int(f0))] = {"ratio_db": 0.0, "harmonic_hz": None, "frame_share": 0.0, "freq_std_hz": None}
            continue
        c, r_db, line, nb = best
        fr_line = spec[:, line]
        fr_ratio = fr_line.max(axis=1) / np.maximum(np.median(spec[:, nb], axis=1), 1e-30)
        stands = fr_ratio >= 10 ** (min_ratio_db / 20.0)  # half the dB threshold per frame
        share = float(np.mean(stands))
        peak_f = freqs[line][np.argmax(fr_line, axis=1)]
        # the line's wander where it stands out (robust spread: frames where speech covers it say nothing)
        steady_f = peak_f[stands] if int(stands.sum()) >= 2 else peak_f
        std = 1.4826 * float(np.median(np.abs(steady_f - np.median(steady_f)))) * f0 / c
        per[str(int(f0))] = {
            "ratio_db": round(r_db, 2),
            "harmonic_hz": c,
            "frame_share": round(share, 3),
            "freq_std_hz": round(std, 4),
            "freq_hz": round(float(np.median(peak_f)) * f0 / c, 3),
            "harmonics_db": {f"{h:g}": round(v, 1) for h, v in ratios},
        }
    out.update(per)
    a, b = per["50"], per["60"]
    detected = None
    for me, other, f0 in ((a, b, 50), (b, a, 60)):
        if (
            me["ratio_db"] >= min_ratio_db
            and me["frame_share"] >= min_frame_share
            and me["ratio_db"] >= other["ratio_db"] + margin_db
        ):
            detected = f0
    conf = 0.0
    if detected is not None:
        me = per[str(detected)]
        steady = 1.0 if me["freq_std_hz"] is None else math.exp(-max(me["freq_std_hz"] - 0.05, 0.0) / 0.1)
        length = min(1.0, math.sqrt(out["frames"] / 60.0))
        conf = float(me["frame_share"] * steady * max(length, 0.3))
    out["detected_hz"] = detected
    out["confidence"] = round(min(max(conf, 0.0), 1.0), 3)
    return out
