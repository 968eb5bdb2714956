"""Following the offset between logged keys and their clicks in the audio as it drifts (pure numpy).

Used by :mod:`interview_guard.analyzers.acoustic_keystroke`; rationale in ``docs/audio-analyzers.md``.
"""

from __future__ import annotations

import math

import numpy as np

from interview_guard.signals.clicks import match_events

__all__ = ["follow_click_offset"]


def follow_click_offset(
    *, key_ms: np.ndarray, click_ms: np.ndarray, start_offset_ms: float, tolerance_ms: float, window_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match keys to clicks while following a slowly drifting offset.

    Two clocks at slightly different rates drift apart linearly (100 ppm
    is 0.36 s an hour), and a recording's timeline can wander by a few
    ms. The offset is followed like a phase-locked loop: at points 5 s
    apart, from the point where the keys coincide best with ``start_offset_ms``
    outwards, the *mode* of the click-to-key lags of the keys within
    ``window_s`` seconds (a histogram peak: chance sounds spread evenly,
    the key's own clicks pile up) is searched within 15 ms of the
    prediction (last mode plus the recent drift rate); where no clear
    mode exists the prediction is kept. The key-up clicks, 50-200 ms
    after the key-down, stay outside the 15 ms search and cannot capture
    the loop.

    Returns
    -------
    idx, res, local : np.ndarray
        Nearest click within ``tolerance_ms`` of the expected time (-1 none), its
        residual to the local offset, and the local offset at each key (ms).
    """
    half = window_s * 1000.0
    search = 15.0
    grid = _typing_grid(key_ms, step_ms=5000.0, half_ms=half)
    lo = np.searchsorted(key_ms, grid - half)
    hi = np.searchsorted(key_ms, grid + half, side="right")
    bins = np.arange(-search, search + 1.0, 1.0)

    def mode_near(gi: int, pred: float, rate: float = 0.0, curve_ms: np.ndarray | None = None) -> tuple[float, float]:
        keys = key_ms[lo[gi] : hi[gi]]
        if keys.size < 8:
            return math.nan, 0.0
        # expected lag of each key: the prediction moved along the drift rate (or a given curve)
        if curve_ms is None:
            expect = pred + rate * (keys - grid[gi])
        else:
            expect = curve_ms[lo[gi] : hi[gi]]
        j0 = np.searchsorted(click_ms, keys + expect - search)
        j1 = np.searchsorted(click_ms, keys + expect + search, side="right")
        cnt = j1 - j0
        if cnt.sum() == 0:
            return math.nan, 0.0
        ki = np.repeat(np.arange(keys.size), cnt)
        ci = np.repeat(j0, cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        lags = click_ms[ci] - keys[ki] - expect[ki]
        h = np.convolve(np.histogram(lags, bins=bins)[0].astype(float), [1.0, 2.0, 1.0], "same")
        j = int(np.argmax(h))
        if h[j] < 12.0 or h[j] < 3.0 * max(float(np.mean(h)), 1e-9):
            return math.nan, float(h[j])
        # the mode, refined as the mean of the lags within 3 ms of it
        near = lags[np.abs(lags - 0.5 * (bins[j] + bins[j + 1])) <= 3.0]
        centre = float(np.mean(near)) if near.size else 0.5 * (bins[j] + bins[j + 1])
        at = pred if expect is None else float(np.interp(grid[gi], keys, expect))
        return at + centre, float(h[j])

    # anchor: the grid point whose keys coincide best with start_offset_ms
    strength = np.array([mode_near(i, start_offset_ms)[1] for i in range(grid.size)])
    start = int(np.argmax(strength))
    modes = np.full(grid.size, np.nan)
    rate = 0.0
    for direction in (1, -1):
        pred = float(start_offset_ms)
        hist_t: list[float] = []
        hist_v: list[float] = []
        i = start if direction == 1 else start - 1
        if direction == -1 and np.isfinite(modes[start]) and start > 0:
            hist_t, hist_v = [grid[start]], [float(modes[start])]
            pred = float(modes[start]) + rate * (grid[start - 1] - grid[start])
        while 0 <= i < grid.size:
            m, _ = mode_near(i, pred, rate)
            if math.isfinite(m):
                modes[i] = m
                hist_t.append(grid[i])
                hist_v.append(m)
                if len(hist_t) >= 6:
                    tt = np.array(hist_t[-24:])
                    vv = np.array(hist_v[-24:])
                    rate = float(np.clip(np.polyfit(tt, vv, 1)[0], -5e-4, 5e-4))
                pred = m
            nxt = i + direction
            if 0 <= nxt < grid.size:
                pred = pred + rate * (grid[nxt] - grid[i])
            i = nxt

    def curve(modes: np.ndarray) -> np.ndarray:
        good = np.isfinite(modes)
        if not good.any():
            return np.full(key_ms.size, float(start_offset_ms))
        g, mg = grid[good], modes[good]
        out: np.ndarray = np.interp(key_ms, g, mg)
        if good.sum() >= 4 and np.ptp(g) > 0:
            slope = float(np.clip(np.polyfit(g, mg, 1)[0], -5e-4, 5e-4))
            before, after = key_ms < g[0], key_ms > g[-1]
            out[before] = mg[0] + slope * (key_ms[before] - g[0])
            out[after] = mg[-1] + slope * (key_ms[after] - g[-1])
        return out

    local = curve(modes)
    for _ in range(2):  # refine every point against the whole curve (removes the loop's start-up lag)
        modes = np.array([mode_near(i, 0.0, curve_ms=local)[0] for i in range(grid.size)])
        if not np.isfinite(modes).any():
            break
        local = curve(modes)
    idx, res = match_events(a_ms=key_ms, b_ms=click_ms, offset_ms=local, tol_ms=tolerance_ms)
    return idx, res, local


def _typing_grid(key_ms: np.ndarray, *, step_ms: float, half_ms: float) -> np.ndarray:
    """The points ``key_ms[0] + k * step_ms`` (up to the last key) that have a key within ``half_ms``.

    The others see no key and give no mode, so leaving them out changes
    nothing but the cost: the grid grows with the typing, not with a gap
    of days between two stretches of it.
    """
    k_last = math.ceil((key_ms[-1] - key_ms[0]) / step_ms + 1.0) - 1
    brk = np.flatnonzero(np.diff(key_ms) > 2.0 * half_ms) + 1
    seg_a = key_ms[np.r_[0, brk]]
    seg_b = key_ms[np.r_[brk, key_ms.size] - 1]
    parts = []
    for a, b in zip(seg_a.tolist(), seg_b.tolist()):
        k0 = max(0, math.ceil((a - half_ms - key_ms[0]) / step_ms))
        k1 = min(k_last, math.floor((b + half_ms - key_ms[0]) / step_ms))
        if k1 >= k0:
            parts.append(np.arange(k0, k1 + 1, dtype=np.float64))
    ks = np.unique(np.concatenate(parts)) if parts else np.zeros(1)
    out: np.ndarray = key_ms[0] + ks * step_ms
    return out
