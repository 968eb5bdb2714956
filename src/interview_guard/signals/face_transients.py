"""Transient failures of a face swap while a hand crosses the face (pure numpy/scipy).

Works on the anchored face zone (:class:`~interview_guard.signals.hand_crossing.ZoneFrames`)
like :mod:`interview_guard.signals.hand_crossing`, and measures what the swap
does to the part of the face the hand does *not* cover:

``flash_z``
    *Dropout / face flash*: for 2-6 frames the swap drops and another face
    shows through, then the swapped face returns. Tested as a step away and a
    step back: for every run of ``L`` frames (2..6), the face interior (the
    outline shrunk by ``interior_px``) minus the tracked hand hull of the run
    and its two bracketing frames (widened by ``hand_grow_px``), restricted to
    the pixels where the two brackets (the frame just before and the frame
    just after the run) agree within ``agree_below`` grey levels: there, per
    pixel, ``min(|run - before|, |run - after|)``. Pixels a hand covers in
    either bracket (also parts of it the hull misses) do not agree and drop
    out; what is left changes in the run only if the face itself changed and
    came back. Its median (robust to a talking mouth, a blink, a hand's edge)
    is the run's score; ``flash_z`` is the largest score of the crossing's
    runs as a z against runs of the same length in the clip's frames without
    a hand (speech, head motion). ``flash_at_s`` locates the run.
    Frames of the crossing where the hand landmarker lost the hand are
    measured too (the whole interior; a dropout often comes with a lost
    hand), but a run that holds one must keep the face's *layout*: the run's
    frames, smoothed to the scale of eyes and mouth (``layout_sigma_px``),
    correlate with its brackets by at least ``layout_min`` over the measured
    pixels. Another face shown through the swap sits where the swapped one
    sat (same eyes, nose, mouth, different detail); an untracked hand over
    the face breaks the layout, so a lost hand is not read as a flash.
``warp_z``
    *Warp / jitter*: the swapped face's texture warps with a smooth random
    displacement, new every frame, while the hand is near. Every consecutive
    pair of frames with a hand (or the zone held) is matched block by block
    (8x8 blocks every 4 px of the face interior away from the hand,
    Lucas-Kanade on the lightly smoothed zone): a real face moves rigidly or
    not at all, so its block shifts agree; a warped one has block shifts that
    disagree. Excluded: the tracked hand hull widened by ``warp_grow_px``,
    and changed pixels (``motion_grey``) joined to changes outside the face
    or in blobs of ``motion_blob_px`` or more (a hand or shadow the tracker
    missed). The pair's score is the median distance of the block shifts
    from their median shift (pixels); ``warp_z`` is the ``warp_quantile``
    percentile of the crossing's pair scores as a z against the same score
    on consecutive frames without a hand.

Both are None when the crossing does not leave enough of the face uncovered,
or the clip has too few frames without a hand around the crossing. The
thresholds are the analyzer's (``face_occlusion``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interview_guard.signals.hand_crossing import FrameRows, ZoneFrames, hand_mask, oval_mask, zones_aligned
from interview_guard.signals.hand_path import AT_FACE

__all__ = ["transient_measures", "block_flow_incoherence", "flash_scores", "reach_flash_scores", "layout_agreement"]

_BLOCK = 8
_STRIDE = 4
_RUNS = (2, 3, 4, 5, 6)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter  # noqa: PLC0415 - scipy.ndimage is slow to import

    out: np.ndarray = gaussian_filter(x, sigma=(0, sigma, sigma) if x.ndim == 3 else sigma, mode="nearest")
    return out


def _robust_z(value: float, null: np.ndarray, floor: float) -> float:
    """(value - median) / (1.4826 MAD + floor) of the null sample."""
    med = float(np.median(null))
    sd = 1.4826 * float(np.median(np.abs(null - med))) + floor
    return (value - med) / sd


def block_flow_incoherence(
    *, prev: np.ndarray, cur: np.ndarray, mask: np.ndarray, min_blocks: int = 6, min_texture: float = 6.0
) -> float:
    """How much the local shifts of 8x8 blocks from ``prev`` to ``cur`` disagree (pixels; NaN when too few blocks).

    Lucas-Kanade per block (on 8x8 blocks every 4 pixels), only blocks wholly
    inside ``mask`` with texture in both directions; the result is the median
    distance of the block shifts from their median shift, so a rigid move
    (a shift, and a small rotation or zoom) scores near 0 and a few blocks
    spoiled by something moving over the face do not count.
    """
    from scipy.ndimage import uniform_filter  # noqa: PLC0415

    a = np.asarray(prev, np.float64)
    b = np.asarray(cur, np.float64)
    grads = np.gradient(0.5 * (a + b))
    gy: np.ndarray = np.asarray(grads[0])
    gx: np.ndarray = np.asarray(grads[1])
    gt = b - a
    h = _BLOCK // 2
    side = a.shape[0]
    cs = np.arange(h, side - h + 1, _STRIDE)

    def box(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = uniform_filter(x, size=_BLOCK, mode="nearest")
        sel: np.ndarray = out[np.ix_(cs, cs)]
        return sel

    sxx, sxy, syy = box(gx * gx), box(gx * gy), box(gy * gy)
    sxt, syt = box(gx * gt), box(gy * gt)
    full = box(mask.astype(np.float64)) >= 1.0 - 1e-9
    tr = sxx + syy
    det = sxx * syy - sxy * sxy
    lam_min = 0.5 * (tr - np.sqrt(np.maximum(tr * tr - 4 * det, 0.0)))
    ok = full & (lam_min >= min_texture)
    if int(ok.sum()) < min_blocks:
        return float("nan")
    d = det[ok]
    u = -(syy[ok] * sxt[ok] - sxy[ok] * syt[ok]) / d
    v = -(sxx[ok] * syt[ok] - sxy[ok] * sxt[ok]) / d
    res = np.hypot(u - np.median(u), v - np.median(v))
    return float(np.median(res))


def _hand_centre(frames: ZoneFrames, r: int, side: int) -> np.ndarray | None:
    """Centre of the tracked hands' landmarks of row ``r`` in zone pixels (None without a hand or a zone); a hand
    farther than :data:`~interview_guard.signals.hand_path.AT_FACE` from the face's centre (the other hand on the
    desk) is left out, where the row's face outline says where the face is."""
    if r < 0 or r >= len(frames.t_s) or frames.hand_count[r] == 0:
        return None
    x0, y0, x1, y1 = (float(v) for v in frames.box[r])
    if not np.isfinite([x0, y0, x1, y1]).all() or x1 <= x0 or y1 <= y0:
        return None
    slots = np.asarray(frames.hand_landmarks[r], dtype=np.float64)[..., :2]
    slots = slots[np.all(np.isfinite(slots), axis=(1, 2))]
    oval = np.asarray(frames.oval[r], dtype=np.float64)
    if slots.shape[0] and oval.size and np.all(np.isfinite(oval)):
        lo, hi = oval.min(axis=0), oval.max(axis=0)  # the face's outline, zone coordinates
        if np.all(hi > lo):
            rel = ((slots.mean(axis=1) - (x0, y0)) / (x1 - x0, y1 - y0) - (lo + hi) / 2.0) / (hi - lo)
            slots = slots[np.hypot(rel[:, 0], rel[:, 1]) <= AT_FACE]
    if slots.shape[0] == 0:
        return None
    c: np.ndarray = (slots.reshape(-1, 2).mean(axis=0) - (x0, y0)) / (x1 - x0, y1 - y0) * side
    return c


def _hand_speed_px(frames: ZoneFrames, r: int, side: int) -> int:
    """How far (zone pixels, rounded up) the hand's centre moves to the row before or after ``r``."""
    here = _hand_centre(frames, r, side)
    if here is None:
        return 0
    d = [float(np.linalg.norm(here - o)) for o in (_hand_centre(frames, r - 1, side), _hand_centre(frames, r + 1, side))
         if o is not None]  # fmt: skip
    return int(np.ceil(min(max(d, default=0.0), 12.0)))


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


def _run_median(frames: np.ndarray) -> np.ndarray:
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
) -> np.ndarray:
    """The flash score of the run of ``run`` frames starting at each row (NaN where not taken).

    ``z``: smoothed zone frames (n, s, s; or a :class:`FrameRows` holding the
    usable ones); ``box``: the zone boxes (a run and its brackets must share one zone); ``keep``: per row, the pixels to
    measure (the face interior minus that row's hand region; empty where the
    row is not usable); ``unsure``: per row, True where ``keep`` could not
    leave the hand out (the landmarker lost it): a run holding such a row
    (brackets included) is taken only when its :func:`layout_agreement` with
    the brackets is at least ``layout_min``; ``layout_out`` (n,), when given,
    receives that agreement at each such run's start (NaN elsewhere).
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
        mid = _run_median(seq[1:-1])
        on = np.abs(mid - before)
        off = np.abs(mid - after)
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
        out[a] = float(np.median(np.minimum(on, off)[agree]))
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
) -> np.ndarray:
    """The flash score of the run of ``run`` frames at each of ``starts``, each pixel bracketed where it was seen.

    ``keep``: per row, the face pixels not under the hand; ``usable``: rows whose ``keep`` can be trusted (the
    hand tracked, or no hand); ``box``: the zone boxes (the run and every bracket frame share the run's zone). For
    each pixel kept in every frame of the run, its bracket before is the nearest usable row before the run, at
    most ``reach_s`` earlier, that keeps it, and likewise after; the score is the median over the pixels whose two
    brackets agree within ``agree_below`` of ``min(|run median - before|, |run median - after|, |run median -
    frame a - 1|, |run median - frame b + 1|)`` (the run also steps away from the frames right beside it). NaN where
    the run is not usable or fewer than ``min_px`` pixels are left.
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
        mid = _run_median(np.asarray(z[a : b + 1]))
        away = np.minimum(np.abs(mid - before), np.abs(mid - after))
        # and a step at the run's own edges: the run differs from the frames just before and just after it too. A
        # part of the hand the landmarker's hull leaves out (fingers it places short, a hand it fits too small) is
        # in those frames as well, another face shown for the run is not (a fresh genuine sweep on a tuning face
        # read as a flash without this, round 13)
        for r in (a - 1, b + 1):
            try:
                away = np.minimum(away, np.abs(mid - z[r]))
            except KeyError:  # a frame not among the measured ones
                pass
        out[i] = float(np.median(away[agree]))
    return out


def transient_measures(
    *,
    frames: ZoneFrames,
    start_s: float,
    end_s: float,
    context_s: float = 3.0,
    pad_s: float = 0.5,
    hand_grow_px: int = 4,
    warp_grow_px: int = 8,
    interior_px: int = 2,
    warp_quantile: float = 65.0,
    motion_grey: float = 20.0,
    motion_px: int = 3,
    motion_blob_px: int = 40,
    warp_min_texture: float = 6.0,
    agree_below: float = 10.0,
    layout_min: float = 0.8,
    layout_sigma_px: float = 3.0,
    reach_s: float = 0.4,
) -> dict[str, Any]:
    """Flash and warp measures of one crossing (``start_s``-``end_s``), see the module docstring.

    Parameters
    ----------
    context_s : float
        The null: frames without a hand (and the zone not held) within this
        many seconds of the crossing's frames.
    pad_s : float
        Frames with a hand up to this long before and after the crossing count
        too (the detected crossing often ends before the hand leaves the
        face, and a swap can fail while the hand is just beside it).
    hand_grow_px, warp_grow_px : int
        The tracked hand hull is widened by this many zone pixels (for the
        flash and for the warp measure).
    interior_px : int
        The face outline is shrunk by this many zone pixels (the outline
        itself moves with the head and the swap's blend).
    warp_quantile : float
        Percentile of the crossing's pair scores that makes ``warp_raw``.
    motion_grey, motion_px, motion_blob_px : float, int, int
        For the warp measure, pixels that change by more than
        ``motion_grey`` between two frames, in a component that reaches
        outside the face or has ``motion_blob_px`` pixels or more, are taken
        as a hand (widened by ``motion_px``) and left out.
    warp_min_texture : float
        Smallest eigenvalue of a block's mean gradient tensor for the block to
        be matched (grey levels squared per pixel).
    agree_below : float
        For the flash measure, the brackets of a run agree at a pixel when
        they differ by less than this many grey levels.
    layout_min, layout_sigma_px : float
        A flash run holding a frame whose hand was not tracked must correlate
        with its brackets by at least ``layout_min`` after smoothing both by
        ``layout_sigma_px`` zone pixels (the face's layout kept).
    reach_s : float
        For ``flash_reach_z``, how far before and after a run a pixel's
        bracket frame may lie.

    Returns
    -------
    dict
        ``ok`` (bool; ``reason`` when not), ``flash_z``, ``flash_raw`` (grey
        levels), ``flash_at_s``, ``flash_frames``, ``flash_reach_z`` (with its
        ``_raw``, ``_at_s``, ``_frames``), ``warp_z``, ``warp_raw``
        (pixels), ``warp_null`` (pixels), ``warp_ratio`` (raw / null),
        counts; measures are None when they could not be taken.
    """
    from scipy.ndimage import binary_dilation, binary_erosion, label  # noqa: PLC0415

    t = np.asarray(frames.t_s, dtype=np.float64)
    n = t.size
    has = frames.has_zone
    held = np.asarray(frames.held, bool)
    hand = np.asarray(frames.hand_count) > 0
    out: dict[str, Any] = {
        "ok": False,
        "flash_z": None,
        "flash_raw": None,
        "warp_z": None,
        "warp_raw": None,
        "warp_ratio": None,
    }
    win = has & (t >= start_s - pad_s) & (t <= end_s + pad_s) & (hand | held)
    win |= has & (t >= start_s) & (t <= end_s)
    if win.sum() < 3:
        out["reason"] = "no face zone during the crossing"
        return out
    ev_rows = np.flatnonzero(win)
    t0, t1 = t[ev_rows[0]], t[ev_rows[-1]]
    # a face with no hand in its zone (held: a hand in it, or the face lost); a hand elsewhere in the frame is fine
    null = has & ~held & ~win & (t >= t0 - context_s) & (t <= t1 + context_s)
    if null.sum() < 8:
        out["reason"] = "too few frames of the face without a hand around the crossing"
        return out
    side = frames.crop.shape[-1]
    used = win | null
    # only the used rows are read (flash runs and warp pairs of usable rows): smoothed alone, not the recording's
    used_rows = np.flatnonzero(used)
    z = FrameRows(_blur(frames.crop[used_rows].astype(np.float32), 1.0), used_rows, n)

    # per row: the face interior minus the tracked hand (widened), for the flash and for the warp
    keep: list[np.ndarray] = []
    keep_w: list[np.ndarray] = []
    unsure = np.zeros(n, bool)
    empty = np.zeros((side, side), bool)
    face_px = []
    outlines: dict[bytes, tuple[int, np.ndarray]] = {}
    for r in range(n):
        if not used[r] or not np.isfinite(frames.oval[r]).all():
            keep.append(empty)
            keep_w.append(empty)
            continue
        key = frames.oval[r].tobytes()  # a held zone repeats its outline: rasterise each outline once
        if key not in outlines:
            face = oval_mask(oval=frames.oval[r], side=side)
            outlines[key] = (int(face.sum()), binary_erosion(face, iterations=interior_px) if interior_px > 0 else face)
        n_face, interior = outlines[key]
        face_px.append(n_face)
        if hand[r]:
            hm = hand_mask(hand_landmarks=frames.hand_landmarks[r], box=frames.box[r], side=side)
            if hm.any():
                # a fast hand smears beyond its landmarks: widen by how far it moves from frame to frame
                grow = hand_grow_px + _hand_speed_px(frames, r, side)
                keep.append(interior & ~binary_dilation(hm, iterations=grow))
                keep_w.append(interior & ~binary_dilation(hm, iterations=warp_grow_px))
                continue
        # a crossing frame without a tracked hand: nothing tells the hand's pixels from the face's, so a flash run
        # holding it must keep the face's layout (a lost hand must not read as another face)
        unsure[r] = bool(win[r])
        keep.append(interior)
        keep_w.append(interior)
    face_size = float(np.median(face_px)) if face_px else 0.0
    if face_size < 0.1 * side * side:
        out["reason"] = "the face outline is too small in the zone"
        return out
    ok_oval = np.flatnonzero(used & np.all(np.isfinite(frames.oval), axis=(1, 2)))
    outer_face = oval_mask(oval=np.nanmedian(frames.oval[ok_oval], axis=0), side=side)
    out["ok"] = True
    out["frames"] = int(win.sum())
    out["null_frames"] = int(null.sum())

    # -- flash: a run of 2-6 frames that differs from both its brackets, away from the hand
    best: tuple[float, float, int, int] | None = None
    best_layout = float("nan")
    null_runs: dict[int, np.ndarray] = {}  # the scores of the runs without a hand, per run length (both flashes)
    for run in _RUNS:
        lay = np.full(n, np.nan)
        sc = flash_scores(
            z=z, box=frames.box, keep=keep, run=run, agree_below=agree_below, unsure=unsure, layout_min=layout_min,
            layout_sigma_px=layout_sigma_px, layout_out=lay,
        )  # fmt: skip
        starts = np.flatnonzero(np.isfinite(sc))
        is_null = np.array([null[a - 1 : a + run + 1].all() for a in starts], bool)
        touches = np.array([win[a : a + run].any() for a in starts], bool)
        null_sc = sc[starts[is_null]]
        null_runs[run] = null_sc
        ev_sc = starts[touches & ~is_null]
        if null_sc.size < 4 or ev_sc.size == 0:
            continue
        for a in ev_sc:
            zv = _robust_z(float(sc[a]), null_sc, floor=0.5)
            if best is None or zv > best[0]:
                best = (zv, float(sc[a]), int(a), run)
                best_layout = float(lay[a])
    if best is not None:
        out["flash_z"] = round(best[0], 2)
        out["flash_raw"] = round(best[1], 2)
        out["flash_at_s"] = round(float(t[best[2]]), 3)
        out["flash_frames"] = best[3]
        # the run held a frame whose hand the landmarker had lost: it counted because the face's layout held
        out["flash_hand_lost"] = bool(np.isfinite(best_layout))
        if out["flash_hand_lost"]:
            out["flash_layout"] = round(best_layout, 3)

    # -- the same flash with each pixel bracketed by the nearest frames in which the hand did not cover it
    reach_ok = np.array([bool(k.any()) for k in keep]) & ~unsure
    reach_rows = np.flatnonzero(reach_ok)
    best_reach: tuple[float, float, int, int] | None = None
    if reach_rows.size:
        lo, hi = int(reach_rows[0]), int(reach_rows[-1])
        for run in _RUNS:
            cand = np.arange(max(1, lo + 1), hi - run + 1)  # empty when the usable rows hold no run
            # the null: the bracket flash's runs without a hand (there every pixel's brackets are the run's neighbours)
            null_sc = null_runs.get(run, np.empty(0))
            is_null = np.array([null[a - 1 : a + run + 1].all() for a in cand], bool)
            touches = np.array([win[a : a + run].any() for a in cand], bool)
            ev_starts = cand[touches & ~is_null]
            if null_sc.size < 4 or ev_starts.size == 0:
                continue
            ev_sc = reach_flash_scores(
                z=z, t_s=t, box=frames.box, keep=keep, usable=reach_ok, starts=ev_starts, run=run, reach_s=reach_s,
                agree_below=agree_below,
            )  # fmt: skip
            for a, v in zip(ev_starts, ev_sc, strict=True):
                if not np.isfinite(v):
                    continue
                zv = _robust_z(float(v), null_sc, floor=0.5)
                if best_reach is None or zv > best_reach[0]:
                    best_reach = (zv, float(v), int(a), run)
    if best_reach is not None:
        out["flash_reach_z"] = round(best_reach[0], 2)
        out["flash_reach_raw"] = round(best_reach[1], 2)
        out["flash_reach_at_s"] = round(float(t[best_reach[2]]), 3)
        out["flash_reach_frames"] = best_reach[3]

    # -- warp: block shifts of the uncovered face that disagree, pair by pair
    def pair_score(r: int) -> float:
        if not zones_aligned(frames.box[r - 1], frames.box[r]):
            return float("nan")
        msk = keep_w[r - 1] & keep_w[r]
        if motion_px > 0:
            # whatever moves in from outside the face (a hand the tracker missed, its shadow)
            ch = np.abs(z[r] - z[r - 1]) > motion_grey
            lab, nlab = label(ch)
            from_out = np.unique(lab[ch & ~outer_face])
            big = np.flatnonzero(np.bincount(lab.ravel(), minlength=nlab + 1) >= motion_blob_px)
            moving = np.union1d(from_out, big)
            joined = np.isin(lab, moving[moving > 0])
            if joined.any():
                msk = msk & ~binary_dilation(joined, iterations=motion_px)
        if msk.sum() < 0.15 * face_size:
            return float("nan")
        return block_flow_incoherence(prev=z[r - 1], cur=z[r], mask=msk, min_texture=warp_min_texture)

    null_pairs = [r for r in range(1, n) if null[r] and null[r - 1]]
    ev_pairs = [r for r in range(1, n) if win[r] and used[r - 1] and (hand[r] or held[r])]
    # pairs holding a crossing frame whose hand the landmarker lost: nothing of the hand was left out there, so the
    # block matcher may have measured the hand itself as the face (the verdict does not decide on those alone)
    lost = np.array([unsure[r] or unsure[r - 1] for r in ev_pairs], bool)
    null_w = np.array([pair_score(r) for r in null_pairs])
    null_w = null_w[np.isfinite(null_w)]
    ev_w = np.array([pair_score(r) for r in ev_pairs])
    measured = np.isfinite(ev_w)
    out["warp_pairs_hand_lost"] = int((measured & lost).sum())
    ev_w = ev_w[measured]
    out["warp_pairs"] = int(ev_w.size)
    out["warp_null_pairs"] = int(null_w.size)
    if ev_w.size >= 3 and null_w.size >= 4:
        raw = float(np.percentile(ev_w, warp_quantile))
        out["warp_raw"] = round(raw, 3)
        out["warp_null"] = round(float(np.median(null_w)), 3)
        out["warp_ratio"] = round(raw / max(float(np.median(null_w)), 1e-3), 2)
        out["warp_z"] = round(_robust_z(raw, null_w, floor=0.02), 2)
    return out
