"""Typing profile (keystroke dynamics) of one session, pure numpy.

A session's key presses (down time, up time, ``KeyboardEvent.code``) become a
fixed-length vector of robust timing statistics, so that any two sessions can
be compared feature by feature:

* **global** (always present when there is enough typing): median and IQR of
  the log hold time, of the log down-down latency inside bursts, the 10th
  percentile of that latency (the typist's fast end), the median up-down
  latency (in units of 100 ms; negative when keys overlap), the rollover rate
  (next key down before the previous one is up), the pause rate (down-down
  gaps of 0.5-5 s per press), the mean log burst length (presses between such
  pauses) and the Backspace rate;
* **per key**: median log hold time of each key of :data:`KEYS`;
* **per digraph**: median log down-down latency of each pair of
  :data:`DIGRAPHS` typed in succession (at most :data:`MAX_DIGRAPH_MS` apart).

Times are in milliseconds, logs are natural logs of milliseconds. A per-key or
per-digraph entry with fewer than :data:`MIN_COUNT` occurrences is NaN, so
profiles of different texts share only the features both have.

:func:`profile_distance` is the mean of ``weight * |a - b| / scale`` over the
features finite in both profiles; :data:`FEATURE_SCALES` and the group weights
were measured on a population of real typists (see the constants).
:func:`same_person_probability` turns a distance into P(same typist) with a
logistic fitted on measured same-typist and different-typist distances
(:func:`fit_same_person_logistic`).

Everything here takes keyword arguments and arrays, opens no file and never
raises on odd input a relay can produce (duplicated, reordered or lost events,
missing key-ups): such events are dropped or left NaN, and too little typing
gives quality 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from interview_guard.errors import ParameterError
from interview_guard.signals.stats import logistic_array, logistic_safe

__all__ = [
    "KEYS",
    "DIGRAPHS",
    "GLOBAL_FEATURES",
    "FEATURE_NAMES",
    "N_FEATURES",
    "FEATURE_GROUPS",
    "FEATURE_SCALES",
    "GROUP_WEIGHTS",
    "SAME_PERSON_LOGIT",
    "MIN_COUNT",
    "MIN_PRESSES",
    "FULL_QUALITY_DIGRAPHS",
    "MIN_SHARED",
    "MAX_DIGRAPH_MS",
    "RELAY_SENSITIVE",
    "typing_profile",
    "profile_distance",
    "same_person_probability",
    "fit_same_person_logistic",
    "population_scales",
]

# Frequent letters of English text and the space bar, as KeyboardEvent.code.
KEYS: tuple[str, ...] = tuple(["Space"] + [f"Key{c}" for c in "ETAOINSHRLDUCMWYFGPB"])
# Frequent English digraphs (letter pairs, and letter-space / space-letter
# transitions), as pairs of KeyboardEvent.code.
_LETTER_PAIRS = (
    "TH HE IN ER AN RE ON AT EN ND TI ES OR TE OF ED IS IT AL AR ST TO NT NG SE HA AS OU IO LE VE CO ME DE HI RI "
    "RO IC NE EA RA CE LI CH LL BE MA SI OM UR"
).split()
_SPACE_AFTER = "E S D T N Y R O F".split()  # x then space: word endings
_SPACE_BEFORE = "T A O S W I H B C M".split()  # space then x: word beginnings
DIGRAPHS: tuple[tuple[str, str], ...] = tuple(
    [(f"Key{p[0]}", f"Key{p[1]}") for p in _LETTER_PAIRS]
    + [(f"Key{c}", "Space") for c in _SPACE_AFTER]
    + [("Space", f"Key{c}") for c in _SPACE_BEFORE]
)
GLOBAL_FEATURES: tuple[str, ...] = (
    "hold_med",
    "hold_iqr",
    "dd_med",
    "dd_iqr",
    "dd_p10",
    "ud_med",
    "rollover_rate",
    "pause_rate",
    "burst_len",
    "backspace_rate",
)
FEATURE_NAMES: tuple[str, ...] = (
    GLOBAL_FEATURES + tuple(f"hold:{k}" for k in KEYS) + tuple(f"dd:{a}>{b}" for a, b in DIGRAPHS)
)
N_FEATURES = len(FEATURE_NAMES)
_N_G, _N_K = len(GLOBAL_FEATURES), len(KEYS)
# Group of each feature: 0 global, 1 per-key hold, 2 per-digraph latency.
FEATURE_GROUPS: npt.NDArray[np.int64] = np.r_[
    np.zeros(_N_G, np.int64), np.ones(_N_K, np.int64), np.full(len(DIGRAPHS), 2, np.int64)
]

MIN_COUNT = 3  # occurrences behind a per-key or per-digraph median
MIN_PRESSES = 40  # fewer valid presses: quality 0 and an all-NaN profile
FULL_QUALITY_DIGRAPHS = 300  # digraphs (consecutive presses within MAX_DIGRAPH_MS) for quality 1
MIN_SHARED = 5  # fewer features finite in both profiles: distance NaN
MAX_DIGRAPH_MS = 2000.0  # a longer down-down gap is a pause, not a digraph
BURST_PAUSE_MS = 500.0  # down-down gap that ends a burst
MAX_PAUSE_MS = 5000.0  # longer gaps (reading, thinking, away) are not counted as rhythm
MAX_HOLD_MS = 2000.0  # longer holds (auto-repeat, lost key-up) are not hold times
_FLOOR_MS = 1.0  # times are floored here before the log (relays collapse events to 0 ms)

# Population scales. Per global feature: the robust spread (1.4826 * MAD) of the
# feature over the tuning sessions (Aalto typists 102, 1002, 1010, 1015, 1024,
# 1030, 1048, each log cut into 3 sessions at sentence pauses: 21 sessions; see
# evaluation/typing_profile_eval.py and docs/typing-profile.md); per-key holds
# and per-digraph latencies share one scale per group (the median over the
# group's features of that spread), steadier than 90 spreads from 21 sessions.
# tests/test_typing_profile.py checks that the protocol reproduces them.
_GLOBAL_SCALES = (0.198, 0.0505, 0.0969, 0.0456, 0.0895, 0.474, 0.192, 0.0416, 0.454, 0.0325)
_KEY_SCALE = 0.147
_DIGRAPH_SCALE = 0.262
FEATURE_SCALES: npt.NDArray[np.float64] = np.r_[
    np.asarray(_GLOBAL_SCALES, np.float64), np.full(_N_K, _KEY_SCALE), np.full(len(DIGRAPHS), _DIGRAPH_SCALE)
]
# Spread features that relay jitter inflates (hold and latency IQR) or deflates
# (the fast-end latency: held-back events arrive together). Measured on the
# Aalto typists relayed through the synth presets, in population scales:
# intl_rdp moves them by +1.4, +0.8 and -1.0, a congested path by +3.5, +2.6
# and -5.2, while the medians move by 0.2 or less (docs/typing-profile.md).
RELAY_SENSITIVE: tuple[str, ...] = ("hold_iqr", "dd_iqr", "dd_p10")
_RELAY_MASK = np.isin(np.asarray(FEATURE_NAMES), RELAY_SENSITIVE)
# Weight of each group in the distance (global, per-key, per-digraph): a grid
# on the tuning typists found no weighting better by more than 0.005 AUC.
GROUP_WEIGHTS: tuple[float, float, float] = (1.0, 1.0, 1.0)
# P(same typist) = logistic(intercept + slope * distance + logit(prior)),
# fitted (fit_same_person_logistic) with class-balanced weights on the tuning
# typists' pairs of those 21 sessions (21 same-typist, 189 different-typist
# distances), so that at prior 0.5 it is the likelihood ratio of the two
# measured distance distributions. P = 0.5 at distance 0.94.
SAME_PERSON_LOGIT: tuple[float, float] = (17.7, -18.8)


def _clean(
    press_ms: npt.ArrayLike, release_ms: npt.ArrayLike, code: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[Any]]:
    """Sorted, de-duplicated presses with implausible hold times set NaN."""
    p = np.asarray(press_ms, dtype=np.float64).reshape(-1)
    r = np.asarray(release_ms, dtype=np.float64).reshape(-1)
    c = np.asarray(code, dtype=object).reshape(-1)
    n = min(p.size, r.size, c.size)
    p, r, c = p[:n], r[:n], c[:n]
    ok = np.isfinite(p)
    p, r, c = p[ok], r[ok], np.array([str(x) if x is not None else "" for x in c[ok]], dtype=object)
    if p.size == 0:
        return p, r, c
    order = np.lexsort((c.astype(str), p))
    p, r, c = p[order], r[order], c[order]
    dup = np.r_[False, (p[1:] == p[:-1]) & (c[1:] == c[:-1])]
    p, r, c = p[~dup], r[~dup], c[~dup]
    hold = r - p
    r = np.where(np.isfinite(hold) & (hold > 0) & (hold <= MAX_HOLD_MS), r, np.nan)
    return p, r, c


def _robust(x: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Median and IQR, NaN when fewer than MIN_COUNT values."""
    if x.size < MIN_COUNT:
        return float("nan"), float("nan")
    q25, q50, q75 = np.percentile(x, [25.0, 50.0, 75.0])
    return float(q50), float(q75 - q25)


def _group_medians(values: npt.NDArray[np.float64], ids: npt.NDArray[np.int64], n_ids: int) -> npt.NDArray[np.float64]:
    """Median of ``values`` per id in ``range(n_ids)`` (NaN under MIN_COUNT); ids < 0 are ignored."""
    out = np.full(n_ids, np.nan)
    keep = (ids >= 0) & np.isfinite(values)
    v, g = values[keep], ids[keep]
    if v.size == 0:
        return out
    order = np.lexsort((v, g))
    v, g = v[order], g[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], g.size]
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s >= MIN_COUNT:
            out[g[s]] = float(np.median(v[s:e]))
    return out


def typing_profile(
    *, press_ms: npt.ArrayLike, release_ms: npt.ArrayLike, code: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], float]:
    """The typing profile of one session's key presses.

    Parameters
    ----------
    press_ms, release_ms : array-like [shape=(n,)], keyword-only
        Key-down and matching key-up times in ms (``KeyPresses.press_ms`` and
        ``.release_ms``); release NaN where unknown. Any order.
    code : array-like of str [shape=(n,)], keyword-only
        ``KeyboardEvent.code`` of each press (``"KeyE"``, ``"Space"``,
        ``"Backspace"`` ...); empty where unknown.

    Returns
    -------
    vector : np.ndarray [shape=(N_FEATURES,)]
        The features of :data:`FEATURE_NAMES`, NaN where not measurable.
    quality : float
        ``min(1, digraphs / FULL_QUALITY_DIGRAPHS)``, where digraphs counts
        consecutive presses within :data:`MAX_DIGRAPH_MS`; 0 (and an all-NaN
        vector) with fewer than :data:`MIN_PRESSES` presses or
        :data:`MIN_COUNT` * 10 digraphs.
    """
    vec = np.full(N_FEATURES, np.nan)
    p, r, c = _clean(press_ms, release_ms, code)
    n = p.size
    dd = np.diff(p)
    is_digraph = dd <= MAX_DIGRAPH_MS
    n_digraphs = int(np.count_nonzero(is_digraph))
    if n < MIN_PRESSES or n_digraphs < 10 * MIN_COUNT:
        return vec, 0.0
    quality = min(1.0, n_digraphs / FULL_QUALITY_DIGRAPHS)

    hold = r - p
    log_hold = np.log(np.maximum(hold, _FLOOR_MS))  # NaN stays NaN
    fin_hold = log_hold[np.isfinite(log_hold)]
    in_burst = dd < BURST_PAUSE_MS
    log_dd = np.log(np.maximum(dd, _FLOOR_MS))
    ud = p[1:] - r[:-1]  # NaN where the first key's release is unknown
    fin_ud = ud[in_burst & np.isfinite(ud)]
    paused = (dd >= BURST_PAUSE_MS) & (dd <= MAX_PAUSE_MS)
    breaks = np.flatnonzero(dd >= BURST_PAUSE_MS)
    bounds = np.r_[-1, breaks, n - 1]
    bursts = np.diff(bounds)

    g = np.full(_N_G, np.nan)
    g[0], g[1] = _robust(fin_hold)
    g[2], g[3] = _robust(log_dd[in_burst])
    if np.count_nonzero(in_burst) >= MIN_COUNT:
        g[4] = float(np.percentile(log_dd[in_burst], 10.0))
    if fin_ud.size >= MIN_COUNT:
        g[5] = float(np.median(fin_ud)) / 100.0
        g[6] = float(np.mean(fin_ud < 0))
    g[7] = float(np.count_nonzero(paused)) / n
    g[8] = float(np.mean(np.log(bursts))) if bursts.size else np.nan
    g[9] = float(np.mean(c == "Backspace"))
    vec[:_N_G] = g

    key_index = {k: i for i, k in enumerate(KEYS)}
    kid = np.fromiter((key_index.get(x, -1) for x in c.tolist()), dtype=np.int64, count=n)
    vec[_N_G : _N_G + _N_K] = _group_medians(log_hold, kid, _N_K)

    pair_index = {d: i for i, d in enumerate(DIGRAPHS)}
    pairs = zip(c[:-1].tolist(), c[1:].tolist())
    pid = np.fromiter((pair_index.get(q, -1) for q in pairs), dtype=np.int64, count=n - 1)
    pid = np.where(is_digraph, pid, -1)
    vec[_N_G + _N_K :] = _group_medians(log_dd, pid, len(DIGRAPHS))
    return vec, quality


def _weights(weights: tuple[float, float, float] | None) -> npt.NDArray[np.float64]:
    w = GROUP_WEIGHTS if weights is None else weights
    return np.asarray(w, dtype=np.float64)[FEATURE_GROUPS]


def profile_distance(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    scales: npt.ArrayLike | None = None,
    weights: tuple[float, float, float] | None = None,
    relay_robust: bool = False,
) -> float:
    """Scaled, weighted mean absolute difference over the features both profiles have.

    ``sum(w * |a - b| / scale) / sum(w)`` over the features finite in both,
    with ``w`` the weight of the feature's group (:data:`GROUP_WEIGHTS`) and
    ``scale`` its population spread (:data:`FEATURE_SCALES`). An L1 mean
    (scaled Manhattan, as in Killourhy & Maxion 2009) rather than a Euclidean
    one: a single feature that a relay or an odd sentence distorts moves it
    only in proportion. NaN when fewer than :data:`MIN_SHARED` features are
    shared or the vectors do not have the same shape.

    ``relay_robust=True`` leaves out :data:`RELAY_SENSITIVE` (the spread
    features relay jitter changes): use it when either session may have been
    typed through a relay (e.g. ``keystroke_relay`` flagged it). It costs a
    little on clean pairs (Aalto halves: AUC 0.995 -> 0.989) and gains much on
    congested relays (0.88 -> 0.96).
    """
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    s = FEATURE_SCALES if scales is None else np.asarray(scales, dtype=np.float64).reshape(-1)
    if x.shape != y.shape or s.shape != x.shape:
        return float("nan")
    w = _weights(weights) if x.size == N_FEATURES else np.ones(x.size)
    both = np.isfinite(x) & np.isfinite(y) & np.isfinite(s) & (s > 0) & (w > 0)
    if relay_robust and x.size == N_FEATURES:
        both &= ~_RELAY_MASK
    if np.count_nonzero(both) < MIN_SHARED:
        return float("nan")
    d = np.abs(x[both] - y[both]) / s[both]
    return float(np.sum(w[both] * d) / np.sum(w[both]))


def same_person_probability(
    distance: float,
    *,
    prior: float = 0.5,
    params: tuple[float, float] | None = None,
) -> float:
    """P(same typist) for a profile distance.

    ``logistic(intercept + slope * distance + logit(prior))`` with
    ``(intercept, slope)`` = :data:`SAME_PERSON_LOGIT` unless ``params`` is
    given. The fit is class-balanced, so ``prior`` is the base rate of same
    typist pairs among the pairs being scored (0.5: the likelihood ratio
    alone). NaN distance gives NaN.
    """
    if not np.isfinite(distance):
        return float("nan")
    a, b = SAME_PERSON_LOGIT if params is None else params
    pr = min(max(float(prior), 1e-12), 1.0 - 1e-12)
    return logistic_safe(a + b * float(distance) + float(np.log(pr / (1.0 - pr))))


def fit_same_person_logistic(
    *, same: npt.ArrayLike, different: npt.ArrayLike, ridge: float = 1e-3, iterations: int = 50
) -> tuple[float, float]:
    """Class-balanced logistic fit of same (1) vs different (0) on distance.

    Each class gets total weight 1/2, so the fitted log-odds are the log
    likelihood ratio of the two distance distributions (a logistic model of
    it). Newton iterations with a small ridge on the slope keep perfectly
    separated sets finite. Returns ``(intercept, slope)``.
    """
    s = np.asarray(same, dtype=np.float64).reshape(-1)
    d = np.asarray(different, dtype=np.float64).reshape(-1)
    s, d = s[np.isfinite(s)], d[np.isfinite(d)]
    if s.size == 0 or d.size == 0:
        return 0.0, 0.0
    x = np.r_[s, d]
    y = np.r_[np.ones(s.size), np.zeros(d.size)]
    w = np.r_[np.full(s.size, 0.5 / s.size), np.full(d.size, 0.5 / d.size)]
    center = float(np.median(x))
    spread = float(np.std(x)) or 1.0
    xs = (x - center) / spread
    beta = np.zeros(2)
    design = np.c_[np.ones(x.size), xs]
    reg = np.diag([0.0, ridge])
    for _ in range(iterations):
        z = design @ beta
        p = logistic_array(np.clip(z, -700.0, 700.0))
        grad = design.T @ (w * (p - y)) + reg @ beta
        hess = (design * (w * p * (1.0 - p))[:, None]).T @ design + reg
        step = np.linalg.solve(hess + 1e-12 * np.eye(2), grad)
        beta = beta - step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    slope = float(beta[1] / spread)
    intercept = float(beta[0] - beta[1] * center / spread)
    return intercept, slope


def population_scales(profiles: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Feature scales from a population of profiles (rows), as :data:`FEATURE_SCALES` is made.

    Global features: 1.4826 * MAD over the rows where the feature is finite;
    per-key and per-digraph features: one scale per group, the median of the
    group's per-feature spreads (features with fewer than 4 finite rows left
    out). A spread of 0 or NaN falls back to the group's scale.
    """
    m = np.asarray(profiles, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != N_FEATURES:
        raise ParameterError(f"profiles must have shape (n, {N_FEATURES})")
    spread = np.full(N_FEATURES, np.nan)
    for j in range(N_FEATURES):
        col = m[:, j][np.isfinite(m[:, j])]
        if col.size >= 4:
            spread[j] = 1.4826 * float(np.median(np.abs(col - np.median(col))))
    out = spread.copy()
    for grp in (1, 2):
        sel = FEATURE_GROUPS == grp
        vals = spread[sel]
        vals = vals[np.isfinite(vals) & (vals > 0)]
        out[sel] = float(np.median(vals)) if vals.size else 1.0
    bad = ~(np.isfinite(out) & (out > 0))
    out[bad] = 1.0
    return out
