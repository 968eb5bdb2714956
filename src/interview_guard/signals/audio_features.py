"""Audio and audio-visual signal maths (pure numpy/scipy, no decoding).

Two groups of functions, all keyword-only, numpy in and numpy out:

Speech envelope and lip sync (used by the ``av_sync`` analyzer)
    :func:`band_power` (framed power in a frequency band, computed chunk by
    chunk so an hour of 16 kHz audio needs no second full-length copy),
    :func:`speech_envelope`, :func:`speech_activity`, :func:`mouth_opening`,
    :func:`to_grid`, :func:`lagged_correlation` (per-window Pearson
    correlation of the mouth signal with the audio envelope at every lag),
    :func:`parabolic_peak`.

Key clicks (used by the ``acoustic_keystroke`` analyzer)
    :func:`click_onsets` (short broadband transients in the high band),
    :func:`event_xcorr` (coincidence counts of two event trains at every
    lag, by FFT), :func:`find_event_offset` (the lag at which they coincide,
    with a peak-to-runner-up ratio saying whether it is real), :func:`refine_offset`, :func:`match_events`, :func:`core_spread` (a Gaussian core plus
    uniform background fitted by EM to residual lags).

Sign conventions: a lag is always "second signal minus first". For lip sync
``offset_ms > 0`` means the audio is late (it lags the lips); for key clicks
``lag = click time - logged key time``.
"""

from __future__ import annotations

import math

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.signals.stats import robust_spread

__all__ = [
    "band_power",
    "speech_envelope",
    "speech_activity",
    "mouth_opening",
    "to_grid",
    "lagged_correlation",
    "parabolic_peak",
    "click_onsets",
    "event_xcorr",
    "find_event_offset",
    "refine_offset",
    "match_events",
    "core_spread",
]

_EPS_POWER = 1e-12  # -120 dBFS: below any real recording's noise floor


def _check_1d(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ParameterError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def _check_sr(sr) -> int:
    if not (isinstance(sr, (int, np.integer)) and 1000 <= int(sr) <= 384000):
        raise ParameterError(f"sr must be an integer sample rate in 1000..384000 Hz, got {sr!r}")
    return int(sr)


# ---------------------------------------------------------------- band power
def _band_sos(sr: int, low_hz: float | None, high_hz: float | None, order: int):
    from scipy import signal  # noqa: PLC0415 - scipy.signal is slow to import; only here

    nyq = sr / 2.0
    lo = None if low_hz is None or low_hz <= 0 else float(low_hz)
    hi = None if high_hz is None or high_hz >= nyq * 0.999 else float(high_hz)
    if lo is not None and hi is not None and not lo < hi:
        raise ParameterError(f"band {low_hz}-{high_hz} Hz is empty")
    if lo is None and hi is None:
        return None
    if lo is not None and hi is not None:
        return signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    if lo is not None:
        return signal.butter(order, lo, btype="highpass", fs=sr, output="sos")
    return signal.butter(order, hi, btype="lowpass", fs=sr, output="sos")


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

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=float32]
        Mean squared filtered sample per frame; empty when ``y`` is shorter
        than one frame.
    """
    y = _check_1d(y, "y")
    sr = _check_sr(sr)
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


def speech_envelope(
    *,
    y: np.ndarray,
    sr: int,
    hop_s: float = 0.01,
    win_s: float = 0.03,
    low_hz: float = 300.0,
    high_hz: float = 3400.0,
) -> tuple[np.ndarray, float]:
    """Log energy of the speech band, one value every ``hop_s``.

    Returns
    -------
    env_db : np.ndarray [shape=(n_frames,), dtype=float32]
        10 log10 of the band power (dB re full scale squared), floored at -120 dB.
    t0_s : float
        Time of frame 0's centre relative to ``y[0]``; frame ``i`` is at
        ``t0_s + i * hop_s``.
    """
    sr = _check_sr(sr)
    hop = max(1, int(round(hop_s * sr)))
    win = max(hop, int(round(win_s * sr)))
    p = band_power(y=y, sr=sr, frame_length=win, hop_length=hop, low_hz=low_hz, high_hz=min(high_hz, 0.45 * sr))
    env = (10.0 * np.log10(np.maximum(p, _EPS_POWER))).astype(np.float32)
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
    e = _check_1d(env_db, "env_db").astype(np.float32, copy=False)
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
    return np.interp(np.arange(n), centres, vals).astype(np.float32)


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

    def dist(i, j):
        d = (L[:, i, :2].astype(np.float64) - L[:, j, :2]) * scale
        return np.hypot(d[:, 0], d[:, 1])

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
    t = _check_1d(t, "t").astype(np.float64)
    x = _check_1d(x, "x").astype(np.float64)
    g = _check_1d(grid, "grid").astype(np.float64)
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
    v = _check_1d(video, "video").astype(np.float64)
    a = _check_1d(audio, "audio").astype(np.float64)
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
        m = _check_1d(audio_mask, "audio_mask").astype(bool)
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
    y = _check_1d(y, "y").astype(np.float64)
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


# ---------------------------------------------------------------- key clicks
def click_onsets(
    *,
    y: np.ndarray,
    sr: int,
    low_hz: float = 2000.0,
    frame_ms: float = 2.0,
    hop_ms: float = 1.0,
    rise_db: float = 10.0,
    pre_ms: tuple[float, float] = (3.0, 15.0),
    decay_db: float = 8.0,
    decay_ms: float = 25.0,
    min_gap_ms: float = 15.0,
    floor_margin_db: float = 6.0,
    block_frames: int | None = None,
) -> dict[str, np.ndarray]:
    """Onsets of short broadband transients (key clicks) in the high band.

    A click is where the high-band level (above ``low_hz``) rises by at
    least ``rise_db`` within about a millisecond over the loudest level of
    the preceding ``pre_ms`` window, and falls back by ``decay_db`` within
    ``decay_ms`` of its peak. Speech rarely does both: vowels carry little
    energy above 2 kHz, fricatives rise over tens of milliseconds and last
    longer; plosive bursts are the main source of false clicks.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Sample rate (Hz).
    low_hz : float
        High-pass edge of the click band.
    frame_ms, hop_ms : float
        Power frame length and hop.
    rise_db : float
        Least rise over the loudest frame ``pre_ms`` before the onset.
    pre_ms : (float, float)
        The reference window, ms before the onset (nearest, furthest).
    decay_db, decay_ms : float
        The level must drop this much within this long after the peak.
    min_gap_ms : float
        Onsets closer than this are one click (the first is kept).
    floor_margin_db : float
        The peak must also be this far above the recording's noise floor
        (10th percentile of the high-band level).
    block_frames : int, optional
        Frames per processing block (memory bound; see :func:`band_power`).

    Returns
    -------
    dict of np.ndarray
        ``t_s`` onset times relative to ``y[0]`` (seconds, float64);
        ``rise_db`` the rise; ``peak_db`` the peak level; ``decay_ms`` the
        time from the peak until the level had dropped by ``decay_db``.
        All empty for silent or very short input.
    """
    sr = _check_sr(sr)
    hop = max(1, int(round(hop_ms * sr / 1000.0)))
    frame = max(hop, int(round(frame_ms * sr / 1000.0)))
    p = band_power(y=y, sr=sr, frame_length=frame, hop_length=hop, low_hz=low_hz, block_frames=block_frames)
    empty = {k: np.zeros(0) for k in ("t_s", "rise_db", "peak_db", "decay_ms")}
    if p.size < 8:
        return empty
    L = 10.0 * np.log10(np.maximum(p, _EPS_POWER)).astype(np.float32)
    del p
    hop_s = hop / sr
    near = max(1, int(round(pre_ms[0] / 1000.0 / hop_s)))
    far = max(near + 1, int(round(pre_ms[1] / 1000.0 / hop_s)))
    dec = max(2, int(round(decay_ms / 1000.0 / hop_s)))
    from scipy.ndimage import maximum_filter1d  # noqa: PLC0415

    # reference level: max of L over [k - far, k - near] (a centred max filter, shifted)
    width = far - near + 1
    if width % 2 == 0:
        width += 1
        far += 1
    shift = (far + near) // 2
    cmax = maximum_filter1d(L, size=width, mode="nearest")
    ref = np.empty_like(L)
    ref[:shift] = np.inf  # no history yet: no onset in the first frames
    ref[shift:] = cmax[:-shift]
    del cmax
    # level now: max of L over [k, k + 2]
    c3 = maximum_filter1d(L, size=3, mode="nearest")
    peak_now = np.r_[c3[1:], c3[-1:]]
    del c3
    floor = float(np.percentile(L[:: max(1, L.size // 200000)], 10))
    cand = np.flatnonzero((peak_now - ref >= rise_db) & (peak_now >= floor + floor_margin_db))
    if cand.size == 0:
        return empty
    # one onset per min_gap: the first candidate of each cluster
    gap = max(1, int(round(min_gap_ms / 1000.0 / hop_s)))
    on = cand[np.r_[True, np.diff(cand) > gap]]
    # peak within the next 5 ms, then the decay test
    look = max(3, int(round(0.005 / hop_s)))
    win = np.minimum(on[:, None] + np.arange(look)[None, :], L.size - 1)
    Lw = L[win]
    pk = on + np.argmax(Lw, axis=1)
    pk_db = L[pk]
    after = np.minimum(pk[:, None] + 1 + np.arange(dec)[None, :], L.size - 1)
    drops = L[after] <= (pk_db - decay_db)[:, None]
    good = drops.any(axis=1)
    first_drop = np.argmax(drops, axis=1) + 1
    # onset: the first frame within 6 dB of the peak
    first_high = np.argmax(Lw >= (pk_db - 6.0)[:, None], axis=1)
    rise = (peak_now[on] - ref[on]).astype(np.float64)
    onset = on + first_high
    t = (onset * hop + frame / 2.0) / sr
    t, rise, pk_db, first_drop = t[good], rise[good], pk_db[good], first_drop[good]
    return {
        "t_s": t.astype(np.float64),
        "rise_db": rise,
        "peak_db": pk_db.astype(np.float64),
        "decay_ms": first_drop * hop_s * 1000.0,
    }


def event_xcorr(
    *,
    a_ms: np.ndarray,
    b_ms: np.ndarray,
    lo_ms: float,
    hi_ms: float,
    bin_ms: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """How many (a, b) pairs have ``b - a`` in each bin of lags (FFT cross-correlation).

    Parameters
    ----------
    a_ms, b_ms : np.ndarray
        Event times (ms), any order.
    lo_ms, hi_ms : float
        Lag range.
    bin_ms : float
        Bin width; both trains are binned to it, so a count may include
        pairs up to one bin outside its lag bin.

    Returns
    -------
    lags_ms : np.ndarray [shape=(m,)]
        Bin centres.
    counts : np.ndarray [shape=(m,), dtype=float64]
    """
    a = _check_1d(a_ms, "a_ms").astype(np.float64)
    b = _check_1d(b_ms, "b_ms").astype(np.float64)
    if not (math.isfinite(lo_ms) and math.isfinite(hi_ms) and lo_ms < hi_ms and bin_ms > 0):
        raise ParameterError("need finite lo_ms < hi_ms and bin_ms > 0")
    k_lo = int(math.floor(lo_ms / bin_ms))
    k_hi = int(math.ceil(hi_ms / bin_ms))
    lags = np.arange(k_lo, k_hi + 1) * bin_ms
    if a.size == 0 or b.size == 0:
        return lags, np.zeros(lags.size)
    t0 = min(a.min(), b.min())
    ia = np.floor((a - t0) / bin_ms + 0.5).astype(np.int64)
    ib = np.floor((b - t0) / bin_ms + 0.5).astype(np.int64)
    n = int(max(ia.max(), ib.max())) + 1
    size = 1 << int(math.ceil(math.log2(2 * n + 1)))
    fa = np.fft.rfft(np.bincount(ia, minlength=n).astype(np.float64), size)
    fb = np.fft.rfft(np.bincount(ib, minlength=n).astype(np.float64), size)
    np.conjugate(fa, out=fa)
    fb *= fa  # in place: an hour at 2 ms bins is 4M-point transforms
    del fa
    cc = np.fft.irfft(fb, size)  # cc[k] = sum_i a[i] b[i + k]
    del fb
    ks = np.arange(k_lo, k_hi + 1)
    counts = np.where(np.abs(ks) < n, cc[ks % size], 0.0)
    return lags, np.maximum(np.round(counts), 0.0)


def find_event_offset(
    *,
    a_ms: np.ndarray,
    b_ms: np.ndarray,
    lo_ms: float,
    hi_ms: float,
    scales_ms: tuple[float, ...] = (2.0, 8.0, 24.0),
    bin_ms: float = 2.0,
    exclude_ms: float = 150.0,
) -> dict:
    """The lag ``b - a`` at which two event trains coincide most, and how clearly.

    Coincidence counts (:func:`event_xcorr`) are summed over a window of
    ``2 * scale`` around each lag, for a few scales (tight for a typist at
    the machine, wide for jittered events). At each scale the peak is
    compared with the *runner-up*: the highest count at lags more than
    ``exclude_ms`` away from the peak, i.e. the best a chance alignment did
    over the same search range. Both are measured above the median count.

    Parameters
    ----------
    a_ms, b_ms : np.ndarray
        Event times (ms).
    lo_ms, hi_ms : float
        Lag range searched.
    scales_ms : tuple of float
        Half-widths of the coincidence window.
    bin_ms : float
        Histogram bin.
    exclude_ms : float
        Lags this close to the peak do not count as runner-up.

    Returns
    -------
    dict
        ``offset_ms`` (lag of the best peak, bin precision), ``ratio`` (peak
        over runner-up, both above the median; the largest over the scales;
        ~1 when nothing coincides), ``scale_ms`` (the scale that gave it),
        ``peak`` and ``runner_up`` and ``median`` (counts at that scale).
    """
    lags, cnt = event_xcorr(a_ms=a_ms, b_ms=b_ms, lo_ms=lo_ms, hi_ms=hi_ms, bin_ms=bin_ms)
    best = {"offset_ms": math.nan, "ratio": 0.0, "scale_ms": math.nan, "peak": 0.0, "runner_up": 0.0, "median": 0.0}
    if cnt.size == 0 or cnt.sum() == 0:
        return best
    ex = max(1, int(round(exclude_ms / bin_ms)))
    for h in scales_ms:
        k = max(1, int(round(h / bin_ms)))
        cs = np.convolve(cnt, np.ones(2 * k + 1), mode="same")
        i = int(np.argmax(cs))
        med = float(np.median(cs))
        far = np.ones(cs.size, bool)
        far[max(0, i - ex) : i + ex + 1] = False
        runner = float(cs[far].max()) if far.any() else med
        ratio = (cs[i] - med) / max(runner - med, 1.0)
        if ratio > best["ratio"]:
            best = {
                "offset_ms": float(lags[i]),
                "ratio": float(ratio),
                "scale_ms": float(h),
                "peak": float(cs[i]),
                "runner_up": runner,
                "median": med,
            }
    return best


def refine_offset(
    *, a_ms: np.ndarray, b_ms: np.ndarray, guess_ms: float, half_width_ms: float = 20.0, bandwidth_ms: float = 2.0
) -> tuple[float, int]:
    """The densest lag ``b - a`` near a coarse guess (Gaussian kernel density of exact pair lags).

    Parameters
    ----------
    a_ms, b_ms : np.ndarray
        Sorted event times (ms).
    guess_ms : float
        Coarse offset.
    half_width_ms : float
        Pairs with ``|b - a - guess| <= half_width_ms`` take part.
    bandwidth_ms : float
        Kernel standard deviation.

    Returns
    -------
    offset_ms : float
        The refined lag (``guess_ms`` when no pair is near).
    n_pairs : int
        Pairs inside the window.
    """
    a = np.sort(_check_1d(a_ms, "a_ms").astype(np.float64))
    b = np.sort(_check_1d(b_ms, "b_ms").astype(np.float64))
    d = _pair_lags(a, b, guess_ms - half_width_ms, guess_ms + half_width_ms)
    if d.size == 0:
        return float(guess_ms), 0
    grid = np.arange(guess_ms - half_width_ms, guess_ms + half_width_ms + 1e-9, 0.25)
    dens = np.exp(-0.5 * ((grid[:, None] - d[None, :]) / bandwidth_ms) ** 2).sum(axis=1)
    return float(grid[int(np.argmax(dens))]), int(d.size)


def _pair_lags(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """All lags b_j - a_i within [lo, hi] (a, b sorted)."""
    if a.size == 0 or b.size == 0:
        return np.zeros(0)
    j0 = np.searchsorted(b, a + lo, side="left")
    j1 = np.searchsorted(b, a + hi, side="right")
    cnt = j1 - j0
    tot = int(cnt.sum())
    if tot == 0:
        return np.zeros(0)
    ai = np.repeat(np.arange(a.size), cnt)
    offs = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return b[np.repeat(j0, cnt) + offs] - a[ai]


def match_events(
    *, a_ms: np.ndarray, b_ms: np.ndarray, offset_ms: np.ndarray | float, tol_ms: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each event of ``a`` the nearest ``b`` to ``a + offset`` within ``tol_ms``.

    Parameters
    ----------
    a_ms : np.ndarray [shape=(n,)]
        Events to match (e.g. logged key-downs), sorted.
    b_ms : np.ndarray [shape=(m,)]
        Candidates (e.g. click onsets), sorted.
    offset_ms : float or np.ndarray [shape=(n,)]
        Expected ``b - a`` (one value, or one per event of ``a`` for a
        drifting clock).
    tol_ms : float
        Largest accepted ``|b - a - offset|``.

    Returns
    -------
    index : np.ndarray [shape=(n,), dtype=int64]
        Index into ``b`` of the match, -1 where none.
    residual_ms : np.ndarray [shape=(n,)]
        ``b - a - offset`` of the match, NaN where none.
    """
    a = _check_1d(a_ms, "a_ms").astype(np.float64)
    b = _check_1d(b_ms, "b_ms").astype(np.float64)
    target = a + np.asarray(offset_ms, dtype=np.float64)
    idx = np.full(a.size, -1, np.int64)
    res = np.full(a.size, np.nan)
    if a.size == 0 or b.size == 0:
        return idx, res
    j = np.searchsorted(b, target)
    left = np.clip(j - 1, 0, b.size - 1)
    right = np.clip(j, 0, b.size - 1)
    dl = np.abs(b[left] - target)
    dr = np.abs(b[right] - target)
    best = np.where(dr < dl, right, left)
    r = b[best] - target
    ok = np.abs(r) <= tol_ms
    idx[ok] = best[ok]
    res[ok] = r[ok]
    return idx, res


def core_spread(*, residuals: np.ndarray, half_width: float, n_iter: int = 60) -> dict:
    """Fit a Gaussian core plus a uniform background on ``[-half_width, half_width]`` (EM).

    Matched residual lags are a mix of true matches (the core, whose spread
    is the timing jitter) and chance matches (speech transients, key-up
    clicks: uniform over the matching window). The fit separates the two.

    Parameters
    ----------
    residuals : np.ndarray
        Residual lags inside ``[-half_width, half_width]`` (others are ignored).
    half_width : float
        Half-width of the matching window.
    n_iter : int
        EM iterations.

    Returns
    -------
    dict
        ``mean``, ``sd`` (of the core), ``weight`` (core share), ``n``
        (residuals used), ``n_core`` (expected core count), ``mad_sd``
        (1.4826 MAD of all residuals, for comparison).
    """
    r = _check_1d(residuals, "residuals").astype(np.float64)
    r = r[np.isfinite(r) & (np.abs(r) <= half_width)]
    n = int(r.size)
    if n == 0:
        return {"mean": math.nan, "sd": math.nan, "weight": 0.0, "n": 0, "n_core": 0.0, "mad_sd": math.nan}
    med = float(np.median(r))
    mad = robust_spread(r, center=med)
    mu, sd, w = med, max(mad, 0.5), 0.8
    u = 1.0 / (2.0 * half_width)
    for _ in range(n_iter):
        g = w * np.exp(-0.5 * ((r - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        resp = g / (g + (1 - w) * u)
        s = resp.sum()
        if s < 1e-9:
            break
        mu_new = float((resp * r).sum() / s)
        sd_new = float(math.sqrt(max((resp * (r - mu_new) ** 2).sum() / s, 0.25)))  # >= 0.5 ms
        w_new = float(min(max(s / n, 1e-3), 0.999))
        done = abs(mu_new - mu) < 1e-4 and abs(sd_new - sd) < 1e-4 and abs(w_new - w) < 1e-5
        mu, sd, w = mu_new, sd_new, w_new
        if done:
            break
    return {"mean": mu, "sd": sd, "weight": w, "n": n, "n_core": w * n, "mad_sd": mad}


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
