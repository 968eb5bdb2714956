"""When a hand crossed the face, placed by the pixels of the face zone (pure numpy/scipy).

The hand landmarker gives the *seeds*: rows where it tracked a hand at the
face (near its centre or over it), even for one frame. It often loses a real
hand in front of a face, and a swap that paints its face over the hand hides
the hand from it, so the seeds alone put a crossing at the wrong time or
nowhere (a single sighting as the hand comes in, another as it leaves; or a
false hand on the chin a second later). The pixels decide where the crossing
is: each cluster of seeds is followed in the anchored face zone
(``PixelTrack.zone_*``) for as long as the face and its surround differ from
the zone just before the hand came, by more than the zone differs from that
reference in frames without a hand.

A window that the pixels do not confirm (too few changed frames) is still
returned with ``confirmed=False``: a lost hand is context, never a verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from interview_guard.signals.hand_crossing import (
    ZoneFrames,
    _bands,
    _sector_means,
    aligned_rows,
    oval_mask,
    zones_aligned,
)

__all__ = ["CrossingWindow", "hand_at_face", "crossing_windows", "surround_seeds"]


@dataclass(frozen=True)
class CrossingWindow:
    """One crossing: where the pixels put it, and how it was found."""

    start_s: float
    end_s: float
    seed_start_s: float
    seed_end_s: float
    confirmed: bool  # the zone changed beyond its own no-hand variation in enough frames
    active_frames: int
    level: float | None  # changed share of the zone that counted as "a hand is there"
    reason: str = ""
    seeded_by: str = "hand"  # "hand": the hand landmarker saw a hand at the face; "outline": surround_seeds


def hand_at_face(
    *, near: np.ndarray, overlap: np.ndarray, hand_count: np.ndarray, near_faces: float, min_overlap: float
) -> np.ndarray:
    """Rows where a tracked hand is at the face: closer than ``near_faces`` face sizes to its centre, or over it."""
    near = np.asarray(near, dtype=np.float64)
    out: np.ndarray = (np.asarray(hand_count) > 0) & ((near < near_faces) | (np.asarray(overlap) >= min_overlap))
    return out


def _clusters(t: np.ndarray, rows: np.ndarray, gap_s: float) -> list[tuple[int, int]]:
    if rows.size == 0:
        return []
    out, a, p = [], int(rows[0]), int(rows[0])
    for r in rows[1:]:
        if t[r] - t[p] > gap_s:
            out.append((a, p))
            a = int(r)
        p = int(r)
    out.append((a, p))
    return out


def _blur3(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter  # noqa: PLC0415 - scipy.ndimage is slow to import

    out: np.ndarray = uniform_filter(x, size=(1, 3, 3) if x.ndim == 3 else 3, mode="nearest")
    return out


def crossing_windows(
    *,
    frames: ZoneFrames,
    seeds: np.ndarray,
    seed_gap_s: float = 1.0,
    ref_s: float = 1.0,
    null_s: float = 2.5,
    max_extend_s: float = 1.5,
    min_change: float = 12.0,
    margin: float = 0.06,
    min_level: float = 0.08,
    ring_px: int = 8,
    min_active: int = 3,
    release: Callable[[], None] | None = None,
) -> list[CrossingWindow]:
    """The crossings of the clip, one per cluster of seed rows, each placed by the zone's pixels.

    Parameters
    ----------
    frames : ZoneFrames
        The anchored face zone of every analysed row.
    seeds : np.ndarray [shape=(n,), dtype=bool]
        Rows where the hand landmarker saw a hand at the face (:func:`hand_at_face`).
    seed_gap_s : float
        Seeds closer than this belong to one crossing.
    ref_s : float
        The reference is the zone in the last ``ref_s`` without a hand in the zone before the first seed.
    null_s : float
        Frames without a hand up to ``null_s`` before and after the crossing give the zone's own variation.
    max_extend_s : float
        How far the pixels may move a crossing's start back and its end on, beyond the seeds.
    min_change : float
        Smallest luma change (grey levels) that counts as changed.
    margin, min_level : float
        A row is *active* when the changed share of the face and its surround exceeds
        ``max(p95 of the no-hand rows + margin, min_level)``.
    ring_px : int
        Width of the surround outside the face outline (zone pixels): a hand comes in through it.
    min_active : int
        Fewer active rows: the window is returned unconfirmed, at the seeds.
    release : callable, optional
        Called before each crossing (``Tracks.release_pages``): the rows the last one read of a track mapped
        from a file leave memory, so an hour's crossings keep one crossing's rows resident.

    Returns
    -------
    list of CrossingWindow
        In time order; windows that come to overlap are merged.
    """
    t = np.asarray(frames.t_s, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=bool)
    n = t.size
    if n == 0 or seeds.shape != (n,) or not seeds.any():
        return []
    has = frames.has_zone
    held = np.asarray(frames.held, dtype=bool)
    seed_rows = np.flatnonzero(seeds)
    # near any seed: not a no-hand frame
    seed_t = t[seed_rows]
    k = np.searchsorted(seed_t, t)
    after = np.abs(seed_t[np.minimum(k, seed_t.size - 1)] - t)
    before = np.abs(t - seed_t[np.maximum(k - 1, 0)])
    near_seed = np.minimum(after, before) <= 0.3
    side = int(frames.crop.shape[-1]) if frames.crop.ndim == 3 else 0
    out: list[CrossingWindow] = []
    for a, b in _clusters(t, seed_rows, seed_gap_s):
        if release is not None:
            release()
        ta, tb = float(t[a]), float(t[b])
        unconfirmed = CrossingWindow(ta, tb, ta, tb, False, 0, None)
        before = np.flatnonzero(has[:a]) if a > 0 else np.array([], dtype=int)
        anchor_rows = [r for r in before[::-1] if not held[r] and not near_seed[r]][:1]
        if not anchor_rows or side == 0:
            out.append(_with_reason(unconfirmed, "no face zone without a hand before the crossing"))
            continue
        anchor = frames.box[anchor_rows[0]]
        aligned = has & aligned_rows(frames.box, anchor)
        quiet = aligned & ~held & ~near_seed
        # the reference: the last ``ref_s`` of the face without a hand before the seeds (within ``null_s``: a hand
        # can wait beside the face, in the zone, before it crosses)
        ref_rows = np.flatnonzero(quiet & (t < ta) & (t >= ta - null_s))
        if ref_rows.size:
            ref_rows = ref_rows[t[ref_rows] >= t[ref_rows[-1]] - ref_s]
        if ref_rows.size < 2:
            out.append(_with_reason(unconfirmed, "too few frames of the face without a hand before the crossing"))
            continue
        around = ((t < ta) & (t >= ta - null_s)) | ((t > tb + 0.3) & (t <= tb + null_s))
        null_rows = np.flatnonzero(quiet & around & ~np.isin(np.arange(n), ref_rows))
        lo_t, hi_t = ta - max_extend_s, tb + max_extend_s
        span = np.flatnonzero(aligned & (t >= lo_t) & (t <= hi_t))
        rows = np.unique(np.r_[ref_rows, null_rows, span]).astype(int)
        z = _blur3(frames.crop[rows].astype(np.float32))
        pos = {int(r): k for k, r in enumerate(rows)}
        ref = np.median(z[[pos[int(r)] for r in ref_rows]], axis=0)
        oval = np.nanmedian(frames.oval[ref_rows], axis=0)
        face = oval_mask(oval=oval, side=side)
        if face.sum() < 0.1 * side * side:
            out.append(_with_reason(unconfirmed, "the face outline is too small in the zone"))
            continue
        from scipy.ndimage import binary_dilation  # noqa: PLC0415

        region = binary_dilation(face, iterations=ring_px)
        if null_rows.size >= 3:
            diffs = np.abs(z[[pos[int(r)] for r in null_rows]] - ref)
            noise = np.percentile(diffs, 90, axis=0)
        else:
            noise = np.zeros_like(ref)
        thr = np.maximum(1.5 * noise + 4.0, min_change)

        def changed(
            r: int, z: np.ndarray = z, pos: dict[int, int] = pos, ref: np.ndarray = ref, thr: np.ndarray = thr,
            region: np.ndarray = region,
        ) -> float:  # fmt: skip
            return float((np.abs(z[pos[r]] - ref) > thr)[region].mean())

        null_d = np.array([changed(int(r)) for r in null_rows]) if null_rows.size else np.zeros(0)
        level = max(float(np.percentile(null_d, 95)) + margin if null_d.size >= 3 else min_level + margin, min_level)
        act = {int(r): changed(int(r)) > level for r in span}
        # grow from the seeds: back from the first, on from the last, through active rows (a gap of two rows is
        # bridged: a frame or two where the hand's change dips under the level); rows whose zone is elsewhere
        # (the face moved away) are not looked at
        span_list = [int(r) for r in span]
        k0 = next((k for k, r in enumerate(span_list) if r >= a), len(span_list))
        k1 = max((k for k, r in enumerate(span_list) if r <= b), default=-1)
        start_r = _grow(span_list[k0 - 1 :: -1] if k0 > 0 else [], act, a)
        end_r = _grow(span_list[k1 + 1 :], act, b)
        n_active = sum(act[r] for r in span_list if t[start_r] <= t[r] <= t[end_r])
        win = CrossingWindow(
            float(min(t[start_r], ta)),
            float(max(t[end_r], tb)),
            ta,
            tb,
            n_active >= min_active,
            int(n_active),
            round(level, 3),
            "" if n_active >= min_active else "the face zone hardly changed around the hand",
        )
        out.append(win)
    return _merge(out)


def surround_seeds(
    *,
    frames: ZoneFrames,
    within: np.ndarray,
    lag_s: float = 0.2,
    min_change: float = 12.0,
    min_sectors: int = 3,
    still: float = 0.03,
    chunk: int = 256,
    release: Callable[[], None] | None = None,
) -> np.ndarray:
    """Rows where something came up to the face outline from outside while the hand landmarker saw no hand at it.

    A swap that paints its face over the hand can hide the whole hand from the hand landmarker (HaGRID-like hands,
    a hand from below), so no seed of :func:`hand_at_face` starts a crossing. Here the zone's own pixels do: a row
    is a seed when, against the zone ``lag_s`` earlier (the same anchored zone, the face held still), at least
    ``min_sectors`` of the outline's sectors changed both right outside the outline and further out (the rule
    ``crossing_measures`` counts a hand at the outline by: a head moving in its zone changes a thin crescent, not
    the band beyond). Anything passing behind the head does the same, and so does an expressive face in a zone
    that follows it, so the caller looks only where a hand is expected and none was tracked (``within``: a
    logged hand-wave request nothing answered).

    Parameters
    ----------
    frames : ZoneFrames
        The anchored face zone of every analysed row.
    within : np.ndarray [shape=(n,), dtype=bool]
        The rows to look at: the caller leaves out rows with a hand tracked *at the face*
        (:func:`~interview_guard.signals.hand_path.hands_at_face`).
        A hand tracked elsewhere in the frame (the other hand on the desk, a second person) does not keep the
        outline from being looked at: before round 24 any tracked hand did, so a wave beside a newsreader's
        clasped hands was never looked at.
    lag_s : float
        How far back the zone is compared (a hand moves into the band within it; a still face does not change).
    min_change : float
        Smallest luma change (grey levels, after a 3x3 blur) that counts as changed.
    min_sectors : int
        Sectors of the outline (of 16) the change must reach from outside.
    still : float
        Largest move of the zone's box over ``lag_s`` (share of its width): the face held still.
    chunk : int
        Rows read at a time (the crops of a long recording stay on disk).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=bool]
    """
    t = np.asarray(frames.t_s, dtype=np.float64)
    n = t.size
    out = np.zeros(n, bool)
    if n == 0 or frames.crop.ndim != 3:
        return out
    side = int(frames.crop.shape[-1])
    ok = np.asarray(within, dtype=bool) & frames.has_zone & ~np.asarray(frames.held, dtype=bool)
    prev = np.searchsorted(t, t - lag_s, side="right") - 1
    ok &= (prev >= 0) & (t - t[np.maximum(prev, 0)] <= 2.5 * lag_s)
    rows = np.flatnonzero(ok)
    prev_ok = frames.has_zone[prev[rows]]
    rows = rows[prev_ok]
    for c0 in range(0, rows.size, chunk):
        if release is not None:
            release()
        r = rows[c0 : c0 + chunk]
        q = prev[r]
        # the same zone, and a face that hardly moved (a moving head shifts the background around the outline)
        same = np.array([zones_aligned(frames.box[i], frames.box[j], tol=still) for i, j in zip(r, q)], bool)
        ch = np.abs(_blur3(frames.crop[r].astype(np.float32)) - _blur3(frames.crop[q].astype(np.float32))) > min_change
        cand = same & (ch.mean(axis=(1, 2)) >= 0.03)
        for i in np.flatnonzero(cand):
            face = oval_mask(oval=frames.oval[r[i]], side=side)
            if face.sum() < 0.1 * side * side:
                continue
            _, outer, beyond, sector = _bands(face)
            at = (_sector_means(ch[i], outer, sector) >= 0.3) & (_sector_means(ch[i], beyond, sector) >= 0.3)
            out[r[i]] = int(np.nansum(at)) >= min_sectors
    return out


def _grow(rows: list[int], active: dict[int, bool], start: int, bridge: int = 2) -> int:
    """The last active row walking ``rows`` from ``start``, across gaps of up to ``bridge`` inactive rows."""
    last, miss = start, 0
    for r in rows:
        if active[r]:
            last, miss = r, 0
        else:
            miss += 1
            if miss > bridge:
                break
    return last


def _with_reason(w: CrossingWindow, reason: str) -> CrossingWindow:
    return dataclasses.replace(w, reason=reason)


def _merge(wins: list[CrossingWindow]) -> list[CrossingWindow]:
    wins = sorted(wins, key=lambda w: w.start_s)
    out: list[CrossingWindow] = []
    for w in wins:
        if out and w.start_s <= out[-1].end_s:
            p = out[-1]
            out[-1] = CrossingWindow(
                p.start_s,
                max(p.end_s, w.end_s),
                p.seed_start_s,
                max(p.seed_end_s, w.seed_end_s),
                p.confirmed or w.confirmed,
                p.active_frames + w.active_frames,
                p.level if p.level is not None else w.level,
                "" if (p.confirmed or w.confirmed) else p.reason,
            )
        else:
            out.append(w)
    return out
