"""Speech envelope, voice activity and lip-sync maths (pure numpy/scipy, no decoding).

Used by the ``av_sync`` analyzer and by the track extraction (where to
landmark the face densely): :func:`speech_envelope` (log energy of the speech
band, from :func:`~interview_guard.signals.band_power.band_power`),
:func:`speech_activity`, :func:`speech_probe_windows`, :func:`mouth_opening`,
:func:`to_grid`, :func:`lagged_correlation` (per-window Pearson correlation of
the mouth signal with the audio envelope at every lag), :func:`parabolic_peak`.

Sign convention: a lag is "second signal minus first"; ``offset_ms > 0``
means the audio is late (it lags the lips).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from interview_guard.errors import ParameterError
from interview_guard.signals.band_power import EPS_POWER, Release, band_power, check_1d, check_sr

__all__ = [
    "speech_envelope",
    "speech_activity",
    "speech_probe_windows",
    "mouth_opening",
    "to_grid",
    "lagged_correlation",
    "parabolic_peak",
]


def speech_envelope(
    *,
    y: np.ndarray,
    sr: int,
    hop_s: float = 0.01,
    win_s: float = 0.03,
    low_hz: float = 300.0,
    high_hz: float = 3400.0,
    release: Release | None = None,
) -> tuple[np.ndarray, float]:
    """Log energy of the speech band, one value every ``hop_s``.

    ``release`` is passed to :func:`~interview_guard.signals.band_power.band_power` (read samples of a mapped
    waveform leave memory).

    Returns
    -------
    env_db : np.ndarray [shape=(n_frames,), dtype=float32]
        10 log10 of the band power (dB re full scale squared), floored at -120 dB.
    t0_s : float
        Time of frame 0's centre relative to ``y[0]``; frame ``i`` is at
        ``t0_s + i * hop_s``.
    """
    sr = check_sr(sr)
    hop = max(1, int(round(hop_s * sr)))
    win = max(hop, int(round(win_s * sr)))
    p = band_power(
        y=y, sr=sr, frame_length=win, hop_length=hop, low_hz=low_hz, high_hz=min(high_hz, 0.45 * sr), release=release
    )
    env = (10.0 * np.log10(np.maximum(p, EPS_POWER))).astype(np.float32)
    return env, (win / 2.0) / sr


def speech_activity(
    *,
    env_db: np.ndarray,
    hop_s: float,
    margin_db: float = 12.0,
    min_level_db: float = -65.0,
    long_window_s: float = 30.0,
    fill_gap_s: float = 0.25,
    min_run_s: float = 0.1,
) -> np.ndarray:
    """Frames of the speech-band envelope that hold voice, from energy alone.

    A frame is active when its level is ``margin_db`` above the noise floor
    (the 10th percentile of the envelope over a running ``long_window_s``
    window, so a noise floor that changes during an hour is followed) and
    above ``min_level_db`` absolute; gaps shorter than ``fill_gap_s`` are
    filled and runs shorter than ``min_run_s`` dropped.

    Parameters
    ----------
    env_db : np.ndarray [shape=(n,)]
        Output of :func:`speech_envelope`.
    hop_s : float
        Its frame hop.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=bool]

    Notes
    -----
    Energy detects voice well in a quiet room and poorly under loud steady
    noise (music, fans): such stretches either stay below the margin (not
    scored) or, when the noise floor itself fluctuates, pass as "speech" in
    which the mouth does not move.
    """
    e = check_1d(env_db, "env_db").astype(np.float32, copy=False)
    n = e.size
    if n == 0:
        return np.zeros(0, bool)
    floor = _running_percentile(e, window=max(3, int(round(long_window_s / hop_s))), q=10.0)
    active = (e >= floor + margin_db) & (e >= min_level_db)
    active = _fill_short_gaps(active, max(0, int(round(fill_gap_s / hop_s))))
    return _drop_short_runs(active, max(1, int(round(min_run_s / hop_s))))


def _running_percentile(x: np.ndarray, *, window: int, q: float) -> np.ndarray:
    """Percentile over a centred window, evaluated on a coarse grid and interpolated (fast for hours)."""
    n = x.size
    if n <= window:
        return np.full(n, np.percentile(x, q), dtype=np.float32)
    step = max(1, window // 10)
    centres = np.arange(0, n, step)
    half = window // 2
    vals = np.array([np.percentile(x[max(0, c - half) : c + half + 1], q) for c in centres])
    out: npt.NDArray[np.float32] = np.interp(np.arange(n), centres, vals).astype(np.float32)
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a boolean array."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _fill_short_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    if max_gap <= 0 or not mask.any():
        return mask
    out = mask.copy()
    s, e = _runs(~mask)
    for a, b in zip(s, e):
        if a > 0 and b < mask.size and b - a <= max_gap:
            out[a:b] = True
    return out


def _drop_short_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    if min_len <= 1 or not mask.any():
        return mask
    out = mask.copy()
    s, e = _runs(mask)
    for a, b in zip(s, e):
        if b - a < min_len:
            out[a:b] = False
    return out


# ---------------------------------------------------------------- the mouth
# MediaPipe FaceMesh indices: inner lips, face height, eye corners.
_UPPER_LIP, _LOWER_LIP = 13, 14
_FOREHEAD, _CHIN = 10, 152
_EYE_R, _EYE_L = 33, 263


def mouth_opening(*, landmarks: np.ndarray, aspect: float = 1.0, normalise: str = "face_height") -> np.ndarray:
    """Inner-lip opening per frame, relative to the size of the face.

    Parameters
    ----------
    landmarks : np.ndarray [shape=(n, 478, 2 or 3)]
        MediaPipe FaceMesh landmarks, x and y normalised to the frame (NaN
        where no face).
    aspect : float
        Frame width / height, so distances are measured in square units.
    normalise : {"face_height", "eyes"}
        Divide by the forehead-chin distance (landmarks 10-152) or by the
        distance between the outer eye corners (33-263).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float64]
        Distance between landmarks 13 and 14 over the face size; NaN where
        the face is absent.
    """
    L = np.asarray(landmarks)
    if L.ndim != 3 or L.shape[1] <= max(_CHIN, _EYE_L) or L.shape[2] < 2:
        raise ParameterError(f"landmarks must have shape (n, 478, 2 or 3), got {L.shape}")
    scale = np.array([float(aspect), 1.0])

    def dist(i: int, j: int) -> npt.NDArray[np.float64]:
        d = (L[:, i, :2].astype(np.float64) - L[:, j, :2]) * scale
        h: npt.NDArray[np.float64] = np.hypot(d[:, 0], d[:, 1])
        return h

    if normalise == "face_height":
        ref = dist(_FOREHEAD, _CHIN)
    elif normalise == "eyes":
        ref = dist(_EYE_R, _EYE_L)
    else:
        raise ParameterError(f"normalise must be 'face_height' or 'eyes', got {normalise!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dist(_UPPER_LIP, _LOWER_LIP) / ref
    out[~np.isfinite(out)] = np.nan
    return out


def to_grid(*, t: np.ndarray, x: np.ndarray, grid: np.ndarray, max_gap_s: float = 0.25) -> np.ndarray:
    """Linear interpolation of a sampled signal onto a grid, NaN across long gaps.

    Parameters
    ----------
    t : np.ndarray [shape=(n,)]
        Increasing sample times.
    x : np.ndarray [shape=(n,)]
        Values, NaN where missing.
    grid : np.ndarray [shape=(m,)]
        Increasing times to evaluate at.
    max_gap_s : float
        Grid points between two valid samples further apart than this, or
        outside the valid samples, are NaN.

    Returns
    -------
    np.ndarray [shape=(m,), dtype=float64]
    """
    t = check_1d(t, "t").astype(np.float64)
    x = check_1d(x, "x").astype(np.float64)
    g = check_1d(grid, "grid").astype(np.float64)
    if t.shape != x.shape:
        raise ParameterError("t and x must have the same shape")
    ok = np.isfinite(x) & np.isfinite(t)
    out = np.full(g.shape, np.nan)
    if ok.sum() < 2:
        return out
    tv, xv = t[ok], x[ok]
    out[:] = np.interp(g, tv, xv)
    j = np.searchsorted(tv, g, side="right")
    inside = (j > 0) & (j < tv.size)
    gap = np.full(g.shape, np.inf)
    gap[inside] = tv[j[inside]] - tv[j[inside] - 1]
    exact = (j > 0) & (np.abs(g - tv[np.maximum(j - 1, 0)]) < 1e-9)
    out[~(exact | (inside & (gap <= max_gap_s)))] = np.nan
    return out


# ---------------------------------------------------------------- lagged correlation
def lagged_correlation(
    *,
    video: np.ndarray,
    audio: np.ndarray,
    starts: np.ndarray,
    length: int,
    max_lag: int,
    audio_mask: np.ndarray | None = None,
    min_valid: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of ``video[t]`` with ``audio[t + lag]`` per window and lag.

    Parameters
    ----------
    video, audio : np.ndarray [shape=(n,)]
        Two signals on the same uniform grid (NaN where missing).
    starts : np.ndarray [shape=(w,), dtype=int]
        First grid index of each window (of the video signal).
    length : int
        Window length in grid steps.
    max_lag : int
        Lags ``-max_lag .. +max_lag`` grid steps; a positive lag pairs the
        video with later audio (audio late).
    audio_mask : np.ndarray [shape=(n,), dtype=bool], optional
        Only audio samples where this holds take part (e.g. speech).
    min_valid : int, optional
        Fewer valid pairs than this: NaN (default ``length // 4``).

    Returns
    -------
    corr : np.ndarray [shape=(w, 2 * max_lag + 1), dtype=float64]
        NaN where a window has too few valid pairs at that lag.
    n_valid : np.ndarray [shape=(w, 2 * max_lag + 1), dtype=int64]

    Notes
    -----
    Vectorised per window over all lags: an hour at a 10 ms grid with 1 s
    hop and +-500 ms lags takes about a second.
    """
    v = check_1d(video, "video").astype(np.float64)
    a = check_1d(audio, "audio").astype(np.float64)
    if v.shape != a.shape:
        raise ParameterError("video and audio must be on the same grid")
    n = v.size
    L = int(max_lag)
    length = int(length)
    if L < 0 or length < 2:
        raise ParameterError("max_lag must be >= 0 and length >= 2")
    if min_valid is None:
        min_valid = max(3, length // 4)
    a = a.copy()
    if audio_mask is not None:
        m = check_1d(audio_mask, "audio_mask").astype(bool)
        a[~m] = np.nan
    pad = np.full(L, np.nan)
    ap = np.concatenate([pad, a, pad, np.full(length, np.nan)])
    from numpy.lib.stride_tricks import sliding_window_view  # noqa: PLC0415

    starts = np.asarray(starts, dtype=np.int64)
    n_lags = 2 * L + 1
    corr = np.full((starts.size, n_lags), np.nan)
    nval = np.zeros((starts.size, n_lags), np.int64)
    for w, s in enumerate(starts):
        if s < 0 or s + length > n:
            continue
        x = v[s : s + length]
        # rows: lag -L .. +L ; audio index s + lag + i  ->  padded index s + L + lag + i
        Y = sliding_window_view(ap[s : s + 2 * L + length], length)[:n_lags]
        ok = np.isfinite(Y) & np.isfinite(x)[None, :]
        k = ok.sum(axis=1)
        X = np.where(ok, x[None, :], 0.0)
        Yz = np.where(ok, Y, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx = X.sum(1) / k
            my = Yz.sum(1) / k
            dx = np.where(ok, X - mx[:, None], 0.0)
            dy = np.where(ok, Yz - my[:, None], 0.0)
            sxy = (dx * dy).sum(1)
            sxx = (dx * dx).sum(1)
            syy = (dy * dy).sum(1)
            r = sxy / np.sqrt(sxx * syy)
        good = (k >= min_valid) & (sxx > 1e-12) & (syy > 1e-12)
        corr[w, good] = np.clip(r[good], -1.0, 1.0)
        nval[w] = k
    return corr, nval


def parabolic_peak(*, y: np.ndarray, index: int | None = None) -> tuple[float, float]:
    """Sub-sample position and height of a peak by a parabola through three points.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Values (NaN ignored for picking the maximum).
    index : int, optional
        The peak sample; default the maximum of ``y``.

    Returns
    -------
    position : float
        Fractional index of the peak (the index itself at an edge or when
        the three points are not a maximum).
    height : float
        Interpolated peak value.
    """
    y = check_1d(y, "y").astype(np.float64)
    if index is None:
        if not np.isfinite(y).any():
            return math.nan, math.nan
        index = int(np.nanargmax(y))
    i = int(index)
    if i <= 0 or i >= y.size - 1 or not np.isfinite(y[i - 1 : i + 2]).all():
        return float(i), float(y[i])
    a, b, c = y[i - 1], y[i], y[i + 1]
    den = a - 2.0 * b + c
    if den >= 0:
        return float(i), float(b)
    d = 0.5 * (a - c) / den
    d = float(np.clip(d, -0.5, 0.5))
    return i + d, float(b - 0.25 * (a - c) * d)


def speech_probe_windows(
    *,
    speech: np.ndarray,
    hop_s: float,
    t0_s: float = 0.0,
    window_s: float = 6.0,
    every_s: float = 60.0,
    min_windows: int = 4,
    full_below_s: float = 90.0,
) -> list[tuple[float, float]]:
    """Where to landmark the face densely so lip sync can be checked at bounded cost.

    A recording shorter than ``full_below_s`` is probed whole. A longer one
    gets one window of ``window_s`` per ``every_s`` of recording (at least
    ``min_windows``), each placed where speech is densest within its stretch,
    so the lip-sync check sees the whole session at a fixed share of the cost.

    Parameters
    ----------
    speech : np.ndarray [shape=(n,), dtype=bool]
        Speech activity per envelope frame (:func:`speech_activity`).
    hop_s : float
        Envelope hop in seconds.
    t0_s : float
        Session time of frame 0.

    Returns
    -------
    list of (start_s, end_s)
    """
    sp = np.asarray(speech, dtype=bool)
    total = sp.size * hop_s
    if sp.size == 0:
        return []
    if total <= full_below_s:
        return [(float(t0_s), float(t0_s + total))]
    n_win = max(min_windows, int(total // every_s))
    w = max(1, int(round(window_s / hop_s)))
    csum = np.r_[0, np.cumsum(sp)]
    out = []
    edges = np.linspace(0, sp.size, n_win + 1).astype(int)
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a <= w:
            start = a
        else:
            dens = csum[a + w : b + 1] - csum[a : b + 1 - w]
            start = a + int(np.argmax(dens))
        out.append((float(t0_s + start * hop_s), float(t0_s + min(start + w, sp.size) * hop_s)))
    return out
