"""Keystroke timing features (pure numpy): the maths behind ``keystroke_relay``.

Each function takes arrays of times in milliseconds (keyword-only) and returns
numbers or arrays; none reads files or knows about sessions. The rationale of
every feature is in ``docs/keystroke-relay.md``; in short, a remote-desktop or
KVM-over-IP relay between the typist and the recorded machine

* delays each event by a one-way network delay plus jitter and delivers in
  order, so events that were close at the keyboard *collapse* onto the same
  instant, and a stall releases the events it held back as a *catch-up burst*;
* may batch events to a *send tick*, putting arrival times on a grid;
* can deliver a key-down and its key-up together (*zero hold time*);
* when the server logs receive times, shows the network path directly as the
  *transport lag* ``recv_t - t``.

A genuine log has its own quirks that must not be mistaken for a relay: a
coarse browser clock (Firefox rounds to 1 ms or, with resist-fingerprinting,
100 ms; some pages to a 16.7 ms frame), USB polling (125-1000 Hz grids), and
keyboard scans or a busy page that report one key's release and the next
key's press at the same millisecond (pairs only; seen in real logs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interview_guard.signals.stats import logistic, robust_spread

__all__ = [
    "clock_resolution",
    "collapse_groups",
    "relay_incidents",
    "poisson_tail",
    "binomial_surprise",
    "surprise_score",
    "send_tick",
    "transport_lag",
    "digraph_spread",
    "correction_latency",
    "active_event_rate",
]

#: USB HID polling intervals (ms): grids a genuine keyboard may put events on.
USB_POLL_MS = (1.0, 2.0, 4.0, 8.0)


def clock_resolution(*, t_ms: np.ndarray, max_candidates: int = 6) -> float:
    """Resolution of the clock that stamped ``t_ms`` (0.0 when finer than 0.05 ms).

    The finest grid that (nearly) every timestamp sits on: starting from the
    smallest gap between distinct times ``m``, the candidates ``m / k`` for
    ``k = 1 .. max_candidates`` are tried and the largest one on which 95 % of
    the times lie (within 5 % of the step) is returned.

    Parameters
    ----------
    t_ms : np.ndarray [shape=(n,)]
        Event times in ms (any order).

    Returns
    -------
    float
        Grid step in ms, e.g. 1.0 (``Date.now``), 16.7 (frame-rounded),
        100.0 (Firefox resist-fingerprinting) or 0.0 (sub-0.05-ms timestamps).
    """
    t = np.sort(np.asarray(t_ms, dtype=np.float64))
    if t.size < 3:
        return 0.0
    rel = t - t[0]  # relative first: epoch-ms magnitudes carry float noise of ~1e-4 ms
    d = np.diff(rel)
    d = d[d > 1e-3]
    if d.size == 0:
        return 0.0
    m = float(np.min(d))
    for k in range(1, max_candidates + 1):
        step = m / k
        if step < 0.05:
            break
        # refine the step by least squares over all times: the smallest gap
        # alone carries the float noise of the original timestamps
        n = np.round(rel / step)
        if float(n @ n) > 0:
            step = float(rel @ n) / float(n @ n)
        frac = rel / step
        resid = np.abs(frac - np.round(frac))
        if np.mean(resid < 0.05) >= 0.95:
            return float(round(step, 4))
    return 0.0


def collapse_groups(*, t_ms: np.ndarray, tol_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Runs of consecutive events whose gaps are all <= ``tol_ms``.

    Returns
    -------
    start, size : np.ndarray [shape=(g,)] of int
        Index of each group's first event and its number of events (>= 2).
    """
    t = np.asarray(t_ms, dtype=np.float64)
    if t.size < 2:
        z = np.zeros(0, np.int64)
        return z, z
    close = np.diff(t) <= tol_ms
    edges = np.diff(np.r_[0, close.astype(np.int8), 0])
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts.astype(np.int64), (ends - starts + 1).astype(np.int64)


def relay_incidents(
    *,
    t_ms: np.ndarray,
    is_down: np.ndarray,
    key_id: np.ndarray,
    tol_ms: float,
    k_min: int = 3,
    pause_ms: float = 300.0,
    hold_tol_ms: float | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Events a local keyboard does not produce, counted once per incident.

    A collapsed group (consecutive events within ``tol_ms``) is a relay
    incident when it has ``k_min`` or more events, contains two key-downs,
    contains a key's down and its own up (zero hold), or comes right after a
    pause of ``pause_ms`` in arrivals (a stall released). Keyboard scans and a
    busy page put at most one key's release and another key's press on one
    instant, which none of these rules flags. A zero hold (up within
    ``hold_tol_ms`` of its down) outside any flagged group is an incident too.

    Parameters
    ----------
    t_ms : np.ndarray [shape=(n,)]
        Times of key-down and key-up events, sorted.
    is_down : np.ndarray [shape=(n,), dtype=bool]
    key_id : np.ndarray [shape=(n,), dtype=int]
        Identity of each event's key (:attr:`KeystrokeLog.key_ids`).
    tol_ms, k_min, pause_ms, hold_tol_ms : see above (``hold_tol_ms=None``:
        hold times not checked, e.g. a log without key-ups).

    Returns
    -------
    first_event : np.ndarray [shape=(k,), dtype=int]
        Index of the first event of each incident, sorted.
    reasons : dict
        How many incidents each rule found (an incident may meet several).
    """
    t = np.asarray(t_ms, dtype=np.float64)
    d = np.asarray(is_down, dtype=bool)
    c = np.asarray(key_id)
    reasons = {"large_group": 0, "two_keydowns": 0, "zero_hold": 0, "after_pause": 0}
    if t.size < 2:
        return np.zeros(0, np.int64), reasons
    gaps = np.diff(t)
    close = gaps <= tol_ms
    dd_gap = close & d[:-1] & d[1:]
    same_du = close & d[:-1] & ~d[1:] & (c[:-1] == c[1:])
    starts, sizes = collapse_groups(t_ms=t, tol_ms=tol_ms)
    flagged = np.zeros(0, np.int64)
    in_group = np.zeros(t.size, bool)
    if starts.size:
        # per-group sums of the gap flags over gaps start .. start + size - 2
        csum_dd = np.r_[0, np.cumsum(dd_gap)]
        csum_du = np.r_[0, np.cumsum(same_du)]
        ends = starts + sizes - 1
        has_dd = (csum_dd[ends] - csum_dd[starts]) > 0
        has_du = (csum_du[ends] - csum_du[starts]) > 0
        big = sizes >= k_min
        prev_gap = np.where(starts > 0, gaps[np.maximum(starts - 1, 0)], np.inf)
        after = np.isfinite(prev_gap) & (prev_gap >= pause_ms)
        flag = big | has_dd | has_du | after
        reasons = {
            "large_group": int(big.sum()),
            "two_keydowns": int(has_dd.sum()),
            "zero_hold": int(has_du.sum()),
            "after_pause": int(after.sum()),
        }
        flagged = starts[flag]
        marks = np.zeros(t.size + 1, np.int64)
        np.add.at(marks, starts[flag], 1)
        np.add.at(marks, ends[flag] + 1, -1)
        in_group = np.cumsum(marks)[:-1] > 0
    extra = np.zeros(0, np.int64)
    if hold_tol_ms is not None:
        # zero holds not inside a flagged group: pair each down with the next event of its code
        order = np.lexsort((np.arange(t.size), c))
        cs, ds = c[order], d[order]
        nxt_same = np.r_[cs[1:] == cs[:-1], False]
        idx_down = order[:-1][ds[:-1] & ~ds[1:] & nxt_same[:-1]]
        idx_up = order[1:][ds[:-1] & ~ds[1:] & nxt_same[:-1]]
        zero = (t[idx_up] - t[idx_down]) <= hold_tol_ms
        extra = idx_down[zero & ~in_group[idx_down]]
        reasons["zero_hold"] += int(extra.size)
    return np.unique(np.r_[flagged, extra]).astype(np.int64), reasons


def poisson_tail(*, k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    from scipy import stats  # noqa: PLC0415 - scipy.stats takes 1-2 s to import; only keystroke logs need it

    return float(stats.poisson.sf(k - 1, mu))


def binomial_surprise(*, k: int, n: int, p0: float) -> float:
    """``-log10 P(X >= k)`` for X ~ Binomial(n, p0): how surprising ``k`` hits are.

    0 when ``k`` is at or below what the null rate predicts; capped at 50.
    """
    if n <= 0 or k <= 0:
        return 0.0
    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    from scipy import stats  # noqa: PLC0415 - slow to import (see poisson_tail)

    sf = stats.binom.sf(k - 1, n, p0)
    if sf <= 0:
        return 50.0
    return float(min(-math.log10(sf), 50.0))


def binomial_surprise_many(*, k: np.ndarray, n: np.ndarray, p0: float) -> np.ndarray:
    """:func:`binomial_surprise` for arrays of counts (one scipy call)."""
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    from scipy import stats  # noqa: PLC0415 - slow to import (see poisson_tail)

    sf = stats.binom.sf(k - 1, np.maximum(n, 1), p0)
    with np.errstate(divide="ignore"):
        s = np.where(sf > 0, -np.log10(np.maximum(sf, 1e-300)), 50.0)
    s = np.minimum(s, 50.0)
    return np.where((n <= 0) | (k <= 0), 0.0, s)


def surprise_score(surprise: float, *, at_half: float = 4.0, width: float = 0.8) -> float:
    """Map a surprise (-log10 p) to a score in [0, 1]; 0.5 at ``at_half``."""
    return logistic((surprise - at_half) / width)


def active_event_rate(*, t_ms: np.ndarray, pause_ms: float = 2000.0) -> float:
    """Events per ms while typing (gaps longer than ``pause_ms`` left out)."""
    t = np.asarray(t_ms, dtype=np.float64)
    if t.size < 2:
        return 0.0
    g = np.diff(t)
    active = g[g <= pause_ms]
    total = float(active.sum())
    return float(active.size / total) if total > 0 else 0.0


#: Phase values :func:`send_tick` computes at a time (periods x events).
_SEND_TICK_BLOCK = 1 << 20


def send_tick(
    *,
    t_ms: np.ndarray,
    resolution_ms: float = 0.0,
    min_ms: float = 4.0,
    max_ms: float = 50.0,
    step_ms: float = 0.05,
    exclude_ms: tuple[float, ...] = USB_POLL_MS,
    max_events: int = 20000,
) -> tuple[float, float]:
    """Strongest periodic grid in the event times (a relay's send tick).

    For each candidate period ``T`` the phases ``2 pi t / T`` are averaged
    (Rayleigh statistic ``R`` in [0, 1]: 0 for times spread evenly over the
    period, 1 when all sit at one phase). Periods at or below 3x the clock
    resolution, and within 3 % of USB polling intervals and their multiples
    below ``max_ms``, are not considered: a genuine keyboard sits on those grids.

    Returns
    -------
    period_ms, R : float
        The best period and its ``R`` (``(0.0, 0.0)`` with fewer than 50 events).
    """
    t = np.asarray(t_ms, dtype=np.float64)
    if t.size < 50:
        return 0.0, 0.0
    if t.size > max_events:
        t = t[np.linspace(0, t.size - 1, max_events).astype(np.int64)]
    t = t - t[0]
    lo = max(min_ms, 3.0 * resolution_ms + step_ms)
    if lo >= max_ms:
        return 0.0, 0.0
    periods = np.arange(lo, max_ms + step_ms / 2, step_ms)
    # Times on a grid of step g give R ~ 1 only at periods g, g/2, g/3, ...;
    # at multiples k*g their phases spread over k even values and R ~ 0. So
    # excluding the USB polling intervals themselves (and periods below 3x
    # the clock step) is enough.
    keep = np.ones(periods.size, bool)
    for base in exclude_ms:
        keep &= np.abs(periods - base) > 0.05 * base
    periods = periods[keep]
    if periods.size == 0:
        return 0.0, 0.0
    best_T, best_R = 0.0, 0.0
    # periods a block at a time, each block's phases ~1M values (8 MB a temporary) whatever the session's length
    # (4M made 32 MB temporaries once an hour's events outnumbered the periods); R of each period is the same
    chunk = max(1, _SEND_TICK_BLOCK // t.size)
    for i in range(0, periods.size, chunk):
        P = periods[i : i + chunk]
        ph = 2.0 * np.pi * (t[None, :] / P[:, None])
        R = np.hypot(np.cos(ph).mean(axis=1), np.sin(ph).mean(axis=1))
        j = int(np.argmax(R))
        if R[j] > best_R:
            best_T, best_R = float(P[j]), float(R[j])
    return best_T, best_R


def transport_lag(*, t_ms: np.ndarray, recv_ms: np.ndarray) -> dict[str, Any] | None:
    """Statistics of ``recv_ms - t_ms`` (transport lag) where both are known.

    When the two clocks are plainly not synchronised (median lag below -50 ms
    or above 10 s) only the spread is meaningful: ``synced`` is False and the
    spread is measured around the median.

    Returns
    -------
    dict or None
        ``n``, ``median_ms``, ``p05_ms``, ``p95_ms``, ``jitter_ms`` (robust
        standard deviation, 1.4826 x MAD), ``synced``; None with < 5 values.
    """
    t = np.asarray(t_ms, dtype=np.float64)
    r = np.asarray(recv_ms, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(r)
    lag = r[ok] - t[ok]
    if lag.size < 5:
        return None
    med = float(np.median(lag))
    synced = -50.0 <= med <= 10_000.0
    return {
        "n": int(lag.size),
        "median_ms": med,
        "p05_ms": float(np.percentile(lag, 5)),
        "p95_ms": float(np.percentile(lag, 95)),
        "jitter_ms": robust_spread(lag, center=med),
        "synced": bool(synced),
    }


def digraph_spread(
    *, press_ms: np.ndarray, key_id: np.ndarray, min_count: int = 3, max_ms: float = 1000.0
) -> dict[str, Any] | None:
    """Consistency of repeated digraphs (same key pair typed several times).

    For each digraph typed at least ``min_count`` times with its key-down to
    key-down interval under ``max_ms``, the robust spread (1.4826 x MAD) of
    that interval; a relay's jitter adds to it. Returns the median spread over
    digraphs and how many digraphs and intervals stood behind it.
    """
    p = np.asarray(press_ms, dtype=np.float64)
    if p.size < 3:
        return None
    dd = np.diff(p)
    kid = np.asarray(key_id, dtype=np.int64)
    pairs = kid[:-1] * (int(kid.max()) + 1) + kid[1:]
    ok = dd < max_ms
    dd, pairs = dd[ok], pairs[ok]
    if dd.size == 0:
        return None
    uniq, inv, counts = np.unique(pairs, return_inverse=True, return_counts=True)
    spreads = []
    order = np.argsort(inv, kind="stable")
    bounds = np.r_[0, np.cumsum(counts)]
    sorted_dd = dd[order]
    n_used = 0
    for g in np.flatnonzero(counts >= min_count):
        x = sorted_dd[bounds[g] : bounds[g + 1]]
        spreads.append(robust_spread(x))
        n_used += x.size
    if not spreads:
        return None
    return {"median_spread_ms": float(np.median(spreads)), "digraphs": len(spreads), "intervals": int(n_used)}


def correction_latency(*, press_ms: np.ndarray, code: np.ndarray, max_ms: float = 5000.0) -> np.ndarray:
    """Time from the key before a run of Backspaces to the first Backspace (ms).

    A typist who watches the screen through a relay sees a typo one network
    round trip later, so this latency grows by the round trip.
    """
    p = np.asarray(press_ms, dtype=np.float64)
    c = np.asarray(code).astype(str)
    is_bs = c == "Backspace"
    first_bs = is_bs & ~np.r_[False, is_bs[:-1]]
    idx = np.flatnonzero(first_bs)
    idx = idx[idx > 0]
    lat = p[idx] - p[idx - 1]
    return lat[(lat >= 0) & (lat <= max_ms)]
