"""The flash's runs: a short run of face-zone frames against the frames that bracket it (pure numpy/scipy).

The two flash measures of :mod:`interview_guard.signals.face_transients` score every run of 2-6 frames by how
far the face, away from the hand, steps from its brackets and back (:func:`flash_scores`: the frames right
beside the run; :func:`reach_flash_scores`: for each pixel the nearest frames in which the hand did not cover
it). Each run is moved by the whole-pixel shift that steps least (:func:`least_step`): a face that nods or
turns for a few frames and comes back is the same face moved, another face shown through the swap is not.
:func:`layout_agreement` tells another face on the same landmarks from a hand over the face.
"""

from __future__ import annotations

import numpy as np

from interview_guard.signals.hand_crossing import FrameRows, zones_aligned

__all__ = ["flash_scores", "reach_flash_scores", "layout_agreement", "least_step", "run_median"]


def layout_agreement(*, run_face: np.ndarray, brackets: np.ndarray, mask: np.ndarray, sigma_px: float) -> float:
    """Correlation of ``run_face`` with ``brackets`` over ``mask``, both smoothed by ``sigma_px`` (NaN if flat).

    At a scale of a few zone pixels only the face's layout is left (eyes,
    brows, nostrils, mouth as dark blobs where the landmarks put them): another
    face drawn on the same landmarks keeps it, a hand over the face does not.
    """
    from scipy.ndimage import gaussian_filter  # noqa: PLC0415

    a = gaussian_filter(np.asarray(run_face, np.float64), sigma_px, mode="nearest")[mask]
    b = gaussian_filter(np.asarray(brackets, np.float64), sigma_px, mode="nearest")[mask]
    a -= a.mean()
    b -= b.mean()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 1e-9 else float("nan")


def least_step(mid: np.ndarray, refs: list[np.ndarray], mask: np.ndarray, shift_px: int) -> float:
    """The median over ``mask`` of the per-pixel step of ``mid`` from the nearest of ``refs``, with ``mid`` moved
    by the whole-pixel shift (at most ``shift_px`` each way, edges repeated) that makes it smallest.

    A face that moves for a few frames and comes back (a nod, a quick turn) steps away from its brackets as
    much as another face would, pixel by pixel; moved back into place it does not. Another face drawn where the
    face is stays different whichever way it is moved.
    """
    ys, xs = np.nonzero(mask)
    ref = np.stack([np.asarray(r)[ys, xs] for r in refs])  # (n_refs, k)
    k = int(shift_px)
    if k <= 0:
        return float(np.median(np.min(np.abs(np.asarray(mid)[ys, xs][None] - ref), axis=0)))
    padded = np.pad(np.asarray(mid), k, mode="edge")
    d = np.arange(-k, k + 1)
    dy, dx = (g.ravel() for g in np.meshgrid(d, d, indexing="ij"))
    moved = padded[ys[None] + k - dy[:, None], xs[None] + k - dx[:, None]]  # (shifts, k): mid moved by (dy, dx)
    step = np.min(np.abs(moved[:, None, :] - ref[None]), axis=1)
    return float(np.min(np.median(step, axis=1)))


def run_median(frames: np.ndarray) -> np.ndarray:
    """Per-pixel median of a short run of frames (the values ``np.median(frames, axis=0)`` gives, faster).

    A run of two is averaged; longer runs are sorted pixel by pixel with a network of minimum/maximum
    operations (runs here are at most 6 frames), which picks the same values as ``np.median``.
    """
    k = frames.shape[0]
    if k <= 2:
        out: np.ndarray = frames.mean(axis=0)
        return out
    s = list(frames)
    for i in range(k - 1):  # bubble network: after pass i the largest i + 1 values are in place
        for j in range(k - 1 - i):
            lo, hi = np.minimum(s[j], s[j + 1]), np.maximum(s[j], s[j + 1])
            s[j], s[j + 1] = lo, hi
    h = k // 2
    if k % 2:
        middle: np.ndarray = s[h]
        return middle
    mean: np.ndarray = (s[h - 1] + s[h]) / s[h].dtype.type(2)  # np.median's mean of the middle two
    return mean


def flash_scores(
    *,
    z: np.ndarray | FrameRows,
    box: np.ndarray,
    keep: list[np.ndarray],
    run: int,
    agree_below: float = 10.0,
    unsure: np.ndarray | None = None,
    layout_min: float = 0.8,
    layout_sigma_px: float = 3.0,
    layout_out: np.ndarray | None = None,
    shift_px: int = 0,
) -> np.ndarray:
    """The flash score of the run of ``run`` frames starting at each row (NaN where not taken).

    ``z``: smoothed zone frames (n, s, s; or a :class:`FrameRows` holding the
    usable ones); ``box``: the zone boxes (a run and its brackets must share one zone); ``keep``: per row, the pixels to
    measure (the face interior minus that row's hand region; empty where the
    row is not usable); ``unsure``: per row, True where ``keep`` could not
    leave the hand out (the landmarker lost it): a run holding such a row
    (brackets included) is taken only when its :func:`layout_agreement` with
    the brackets is at least ``layout_min``; ``layout_out`` (n,), when given,
    receives that agreement at each such run's start (NaN elsewhere); ``shift_px``: the run's frames are moved
    by the whole-pixel shift up to this far that steps least from the brackets (0: not moved).
    """
    n = z.shape[0]
    out = np.full(n, np.nan)
    usable = np.array([bool(k.any()) for k in keep])
    unsure = np.zeros(n, bool) if unsure is None else np.asarray(unsure, bool)
    # the rows as one array and each row's place in it (a FrameRows holds every usable row)
    if isinstance(z, FrameRows):
        vals, place = z.values, np.full(n, -1, np.int64)
        place[z.rows] = np.arange(z.rows.size)
    else:
        vals, place = np.asarray(z), np.arange(n)
    usable_rows = np.flatnonzero(usable)  # a run and its brackets lie between the first and the last usable row
    first, last = (int(usable_rows[0]), int(usable_rows[-1])) if usable_rows.size else (0, -1)
    if layout_out is not None:
        layout_out[:] = np.nan
    for a in range(max(1, first + 1), min(n - run, last - run + 1)):
        b = a + run - 1
        rows = np.arange(a - 1, b + 2)
        if not usable[a - 1 : b + 2].all() or not all(zones_aligned(box[r], box[a - 1]) for r in rows):
            continue
        msk = keep[a - 1].copy()
        for r in rows[1:]:
            msk &= keep[r]
        if msk.sum() < 40:
            continue
        i0 = int(place[a - 1])
        if i0 < 0 or int(place[b + 1]) != i0 + run + 1:
            raise KeyError(f"rows {a - 1}..{b + 1} not all held")
        seq = vals[i0 : i0 + run + 2]  # the bracket before, the run, the bracket after
        before, after = seq[0], seq[-1]
        mid = run_median(seq[1:-1])
        agree = msk & (np.abs(after - before) < agree_below)
        if agree.sum() < 40:
            continue
        if unsure[a - 1 : b + 2].any():
            brackets = 0.5 * (before + after)
            lay = layout_agreement(run_face=mid, brackets=brackets, mask=agree, sigma_px=layout_sigma_px)
            if layout_out is not None:
                layout_out[a] = lay
            if not lay >= layout_min:
                continue
        out[a] = least_step(mid, [before, after], agree, shift_px)
    return out


def reach_flash_scores(
    *,
    z: np.ndarray | FrameRows,
    t_s: np.ndarray,
    box: np.ndarray,
    keep: list[np.ndarray],
    usable: np.ndarray,
    starts: np.ndarray,
    run: int,
    reach_s: float = 0.4,
    agree_below: float = 10.0,
    min_px: int = 40,
    shift_px: int = 0,
) -> np.ndarray:
    """The flash score of the run of ``run`` frames at each of ``starts``, each pixel bracketed where it was seen.

    ``keep``: per row, the face pixels not under the hand; ``usable``: rows whose ``keep`` can be trusted (the
    hand tracked, or no hand); ``box``: the zone boxes (the run and every bracket frame share the run's zone). For
    each pixel kept in every frame of the run, its bracket before is the nearest usable row before the run, at
    most ``reach_s`` earlier, that keeps it, and likewise after; the score is the median over the pixels whose two
    brackets agree within ``agree_below`` of ``min(|run median - before|, |run median - after|, |run median -
    frame a - 1|, |run median - frame b + 1|)`` (the run also steps away from the frames right beside it). NaN where
    the run is not usable or fewer than ``min_px`` pixels are left. ``shift_px`` as in :func:`flash_scores`.
    """
    t = np.asarray(t_s, dtype=np.float64)
    n = t.size
    out = np.full(len(starts), np.nan)
    usable = np.asarray(usable, bool)
    for i, a in enumerate(np.asarray(starts, dtype=np.int64)):
        b = int(a) + run - 1
        if a < 1 or b + 1 >= n or not usable[a : b + 1].all():
            continue
        anchor = box[a]
        if not all(zones_aligned(box[r], anchor) for r in range(a, b + 1)):
            continue
        msk = keep[a].copy()
        for r in range(a + 1, b + 1):
            msk &= keep[r]
        if msk.sum() < min_px:
            continue
        side = msk.shape[0]
        brackets = []
        for step, first in ((-1, a - 1), (1, b + 1)):
            val = np.full((side, side), np.nan, np.float32)
            todo = msk.copy()
            r = first
            while 0 <= r < n and abs(t[r] - t[a if step < 0 else b]) <= reach_s and todo.any():
                if usable[r] and zones_aligned(box[r], anchor):
                    got = todo & keep[r]
                    if got.any():
                        val[got] = z[r][got]
                        todo &= ~got
                r += step
            brackets.append(val)
        before, after = brackets
        with np.errstate(invalid="ignore"):
            agree = msk & np.isfinite(before) & np.isfinite(after) & (np.abs(after - before) < agree_below)
        if agree.sum() < min_px:
            continue
        mid = run_median(np.asarray(z[a : b + 1]))
        refs = [before, after]
        # and a step at the run's own edges: the run differs from the frames just before and just after it too. A
        # part of the hand the landmarker's hull leaves out (fingers it places short, a hand it fits too small) is
        # in those frames as well, another face shown for the run is not (a fresh genuine sweep on a tuning face
        # read as a flash without this, round 13)
        for r in (a - 1, b + 1):
            try:
                refs.append(np.asarray(z[r]))
            except KeyError:  # a frame not among the measured ones
                pass
        # a pixel without a bracket (NaN) is not among ``agree``; NaN steps elsewhere are never read
        with np.errstate(invalid="ignore"):
            out[i] = least_step(mid, refs, agree, shift_px)
    return out
