"""Per-window score edges sized by the data, not by the span a field claims (pure numpy).

Every analyzer's timeline windows come from :func:`event_windows`: fixed-length
windows where there are observations (keys, frames, speech windows), and each
run of empty windows merged into one window (scored None by the analyzer). The
windows stay contiguous over ``[0, duration_s]`` and there are at most
``2 * occupied + 1`` of them, so a keystroke log with a gap of 1e12 ms costs as
much as one without.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["event_windows"]


def event_windows(*, duration_s: float, window_s: float, event_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges (s) of contiguous windows covering ``[0, duration_s]``, sized by the events.

    The session is cut into windows of ``window_s`` seconds (the last one
    ends at ``duration_s``); the windows holding at least one of ``event_s``
    are kept as they are and every run of empty windows between (or before,
    or after) them becomes a single window. Events outside
    ``[0, duration_s]`` count in the first or last window.

    Parameters
    ----------
    duration_s : float
        Session length (s); <= 0 or not finite gives one window ``[0, 0]``.
    window_s : float
        Window length (s), > 0.
    event_s : np.ndarray [shape=(n,)]
        Observation times (s), any order; NaN ignored.

    Returns
    -------
    edges : np.ndarray [shape=(m + 1,)]
        Non-decreasing window edges, ``edges[0] = 0``, ``edges[-1] = duration_s``.
    occupied : np.ndarray [shape=(m,), dtype=bool]
        Whether each window is one of the fixed-length windows holding events
        (False for a merged run of empty windows).
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        return np.array([0.0, 0.0]), np.zeros(1, bool)
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError("window_s must be a positive number")
    n_win = max(1.0, math.ceil(duration_s / window_s - 1e-9))  # float: the count may exceed any int type
    t = np.asarray(event_s, dtype=np.float64).ravel()
    t = t[np.isfinite(t)]
    k = np.unique(np.clip(np.floor(t / window_s), 0.0, n_win - 1.0))
    if k.size == 0:
        return np.array([0.0, float(duration_s)]), np.zeros(1, bool)
    # each occupied window k is [k w, (k + 1) w]; a gap before it when the previous one is not k - 1
    prev_end = np.r_[0.0, k[:-1] + 1.0]
    gap_before = k > prev_end
    n_out = int(k.size + gap_before.sum()) + int(k[-1] < n_win - 1.0)
    edges = np.empty(n_out + 1, np.float64)
    occupied = np.zeros(n_out, bool)
    # position of occupied window i in the output: i plus the gaps before it (inclusive)
    pos = np.arange(k.size) + np.cumsum(gap_before)
    occupied[pos] = True
    edges[pos] = k * window_s
    edges[pos + 1] = (k + 1.0) * window_s
    edges[0] = 0.0
    edges[-1] = float(duration_s)
    # clip into [0, duration]: the last full window may overhang the end
    np.minimum(edges, float(duration_s), out=edges)
    return edges, occupied
