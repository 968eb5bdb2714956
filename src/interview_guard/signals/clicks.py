"""Key-click maths: onsets in the audio and their alignment with logged keys (pure numpy/scipy).

Used by the ``acoustic_keystroke`` analyzer: :func:`click_onsets` (short
broadband transients in the high band, from
:func:`~interview_guard.signals.band_power.band_power`), :func:`event_xcorr`
(coincidence counts of two event trains at every lag, by FFT),
:func:`find_event_offset` (the lag at which they coincide, with a
peak-to-runner-up ratio saying whether it is real), :func:`refine_offset`,
:func:`match_events`, :func:`core_spread` (a Gaussian core plus uniform
background fitted by EM to residual lags).

Sign convention: ``lag = click time - logged key time``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.signals.band_power import EPS_POWER, Release, band_power, check_1d, check_sr
from interview_guard.signals.stats import robust_spread

__all__ = [
    "click_onsets",
    "event_xcorr",
    "find_event_offset",
    "refine_offset",
    "match_events",
    "core_spread",
]


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
    release: Release | None = None,
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
    release : callable, optional
        Told which samples are read (see :func:`band_power`).

    Returns
    -------
    dict of np.ndarray
        ``t_s`` onset times relative to ``y[0]`` (seconds, float64);
        ``rise_db`` the rise; ``peak_db`` the peak level; ``decay_ms`` the
        time from the peak until the level had dropped by ``decay_db``.
        All empty for silent or very short input.
    """
    sr = check_sr(sr)
    hop = max(1, int(round(hop_ms * sr / 1000.0)))
    frame = max(hop, int(round(frame_ms * sr / 1000.0)))
    p = band_power(
        y=y, sr=sr, frame_length=frame, hop_length=hop, low_hz=low_hz, block_frames=block_frames, release=release
    )
    empty = {k: np.zeros(0) for k in ("t_s", "rise_db", "peak_db", "decay_ms")}
    if p.size < 8:
        return empty
    L = np.maximum(p, EPS_POWER)  # the level in dB, computed in place: one frame-rate array
    del p
    np.log10(L, out=L)
    L *= 10.0
    hop_s = hop / sr
    near = max(1, int(round(pre_ms[0] / 1000.0 / hop_s)))
    far = max(near + 1, int(round(pre_ms[1] / 1000.0 / hop_s)))
    dec = max(2, int(round(decay_ms / 1000.0 / hop_s)))
    # reference level: max of L over [k - far, k - near] (a centred max filter, shifted)
    width = far - near + 1
    if width % 2 == 0:
        width += 1
        far += 1
    shift = (far + near) // 2
    floor = float(np.percentile(L[:: max(1, L.size // 200000)], 10))
    cand, rise_all = _rise_candidates(L, width=width, shift=shift, rise_db=rise_db, min_peak=floor + floor_margin_db)
    if cand.size == 0:
        return empty
    # one onset per min_gap: the first candidate of each cluster
    gap = max(1, int(round(min_gap_ms / 1000.0 / hop_s)))
    first = np.r_[True, np.diff(cand) > gap]
    on = cand[first]
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
    rise = rise_all[first].astype(np.float64)
    onset = on + first_high
    t = (onset * hop + frame / 2.0) / sr
    t, rise, pk_db, first_drop = t[good], rise[good], pk_db[good], first_drop[good]
    return {
        "t_s": t.astype(np.float64),
        "rise_db": rise,
        "peak_db": pk_db.astype(np.float64),
        "decay_ms": first_drop * hop_s * 1000.0,
    }


def _rise_candidates(
    L: np.ndarray, *, width: int, shift: int, rise_db: float, min_peak: float, block: int = 1 << 18
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``k`` where the level now (max of ``L[k:k+3]``) rises ``rise_db`` over the reference (a ``width``
    max filter of ``L`` centred ``shift`` frames back; none in the first ``shift``) and reaches ``min_peak``,
    with each one's rise (float32).

    Computed ``block`` frames at a time on slices with margins wide enough for both max filters, so the result
    equals that of the filters over the whole of ``L`` while the temporaries stay one block long.
    """
    from scipy.ndimage import maximum_filter1d  # noqa: PLC0415

    n = L.size
    margin = width // 2 + 2
    found: list[np.ndarray] = []
    rises: list[np.ndarray] = []
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        lo, hi = max(0, b0 - shift - margin), min(n, b1 + 1 + margin)
        seg = L[lo:hi]
        k = np.arange(b0, b1)
        # level now at k: the 3-frame max centred on k + 1 (the last frame repeats its own)
        peak_now = maximum_filter1d(seg, size=3, mode="nearest")[np.minimum(k + 1, n - 1) - lo]
        ref = np.full(k.size, np.inf, np.float32)
        past = k >= shift
        ref[past] = maximum_filter1d(seg, size=width, mode="nearest")[k[past] - shift - lo]
        rise = peak_now - ref
        hit = np.flatnonzero((rise >= rise_db) & (peak_now >= min_peak))
        found.append(hit + b0)
        rises.append(rise[hit])
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(found), np.concatenate(rises)


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
    a = check_1d(a_ms, "a_ms").astype(np.float64)
    b = check_1d(b_ms, "b_ms").astype(np.float64)
    if not (math.isfinite(lo_ms) and math.isfinite(hi_ms) and lo_ms < hi_ms and bin_ms > 0):
        raise ParameterError("need finite lo_ms < hi_ms and bin_ms > 0")
    k_lo = int(math.floor(lo_ms / bin_ms))
    k_hi = int(math.ceil(hi_ms / bin_ms))
    lags = np.arange(k_lo, k_hi + 1) * bin_ms
    if a.size == 0 or b.size == 0:
        return lags, np.zeros(lags.size)
    t0 = min(a.min(), b.min())
    ia_f = np.floor((a - t0) / bin_ms + 0.5)
    ib_f = np.floor((b - t0) / bin_ms + 0.5)
    ia, ib = _close_gaps(ia_f, ib_f, keep=max(abs(k_lo), abs(k_hi)) + 2)
    direct = _pair_counts(ia, ib, k_lo, k_hi)
    if direct is not None:
        return lags, direct
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


# Count the pairs one by one when there are at most this many in the lag range (a search around an aligned
# clock: a few per key); else the FFT, whose transforms span the whole session (an hour at 2 ms bins is
# 1.8 M bins, four float64 / complex arrays of 14-67 MB each).
_DIRECT_MAX_PAIRS = 4_000_000
# Pairs expanded at once by the direct count.
_PAIR_BLOCK = 1 << 18


def _pair_counts(ia: np.ndarray, ib: np.ndarray, k_lo: int, k_hi: int) -> np.ndarray | None:
    """Per lag ``k`` in ``k_lo..k_hi``: the pairs with ``ib[j] - ia[i] == k`` (float64), counted pair by pair a
    block at a time; None when there are more than :data:`_DIRECT_MAX_PAIRS` of them (the FFT is cheaper)."""
    a = np.sort(np.asarray(ia, dtype=np.int64))
    b = np.sort(np.asarray(ib, dtype=np.int64))
    lo = np.searchsorted(b, a + k_lo, side="left")
    hi = np.searchsorted(b, a + k_hi, side="right")
    per_a = hi - lo
    total = int(per_a.sum())
    if total > _DIRECT_MAX_PAIRS:
        return None
    m = k_hi - k_lo + 1
    counts = np.zeros(m, np.int64)
    ends = np.cumsum(per_a)
    i0 = 0
    while i0 < a.size:
        # the a's whose pairs fit in one block (at least one a)
        done = int(ends[i0 - 1]) if i0 else 0
        i1 = max(i0 + 1, int(np.searchsorted(ends, done + _PAIR_BLOCK, side="right")))
        n_i = per_a[i0:i1]
        k = int(n_i.sum())
        if k:
            first = np.repeat(lo[i0:i1] - (np.cumsum(n_i) - n_i), n_i)  # index of each pair's b, less its rank
            j = first + np.arange(k)
            counts += np.bincount(b[j] - np.repeat(a[i0:i1], n_i) - k_lo, minlength=m)
        i0 = i1
    out: np.ndarray = counts.astype(np.float64)
    return out


def _close_gaps(ia: np.ndarray, ib: np.ndarray, *, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin indices with every empty stretch longer than ``keep`` bins shortened to ``keep``.

    A pair across such a stretch has a lag of more than ``keep`` bins before
    and after, so the counts at lags within ``keep`` bins are unchanged; the
    transforms then grow with the events, not with the span they claim.
    """
    u = np.unique(np.r_[ia, ib])
    cut = np.r_[0.0, np.cumsum(np.maximum(np.diff(u) - keep, 0.0))]
    ja = ia - cut[np.searchsorted(u, ia)]
    jb = ib - cut[np.searchsorted(u, ib)]
    return ja.astype(np.int64), jb.astype(np.int64)


def find_event_offset(
    *,
    a_ms: np.ndarray,
    b_ms: np.ndarray,
    lo_ms: float,
    hi_ms: float,
    scales_ms: tuple[float, ...] = (2.0, 8.0, 24.0),
    bin_ms: float = 2.0,
    exclude_ms: float = 150.0,
) -> dict[str, float]:
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
    a = np.sort(check_1d(a_ms, "a_ms").astype(np.float64))
    b = np.sort(check_1d(b_ms, "b_ms").astype(np.float64))
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
    lags: np.ndarray = b[np.repeat(j0, cnt) + offs] - a[ai]
    return lags


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
    a = check_1d(a_ms, "a_ms").astype(np.float64)
    b = check_1d(b_ms, "b_ms").astype(np.float64)
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


def core_spread(*, residuals: np.ndarray, half_width: float, n_iter: int = 60) -> dict[str, Any]:
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
    r = check_1d(residuals, "residuals").astype(np.float64)
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
