"""What the pixels of the face zone show while a hand crosses the face (pure numpy/scipy).

Works on the *anchored face zone* of the video scan (``PixelTrack.zone_*``):
64x64 luma crops of the face box scaled 1.6x, held at a fixed place while a
hand is in it, with the anchoring face's outline. Each frame of a crossing is
compared with the face zone just before it (the *reference*), against how
much the zone changes in frames without a hand (the *null*), so every
threshold is relative to the clip's own noise, speech and head motion.

The measures (rationale and numbers in ``docs/face-occlusion.md``):

``entry_ratio_mean``, ``entry_cut_share``
    Where the hand's pixels reach the face outline from outside, does the
    change continue inside the outline? A real hand crossing the outline
    changes both sides; a swap that paints its face over the hand (or whose
    occlusion mask lags behind a fast hand) cuts the hand at a face-shaped
    boundary: changed outside, untouched inside.
``inside_share_p90``, ``outline_span``
    Of all the pixels of the face zone the hand changes, the share inside
    the face outline and joined to the change outside it (90th percentile
    over the frames with a hand-sized change in the zone), and how far
    apart around the outline the hand reached it (sectors of 16).
    ``inside_net_p90``: the change inside the outline beyond the face's own
    change without a hand (its 90th percentile), as a share of the zone's. A hand passing in front of the face puts
    most of its change inside the outline at some point; a face painted
    over the hand keeps it outside, whichever side the hand is on.
``ghost_alpha``
    Inside the hand's changed pixels over the face: how much of the face's
    own fine texture is gone, relative to how much is kept where no hand is
    in the same frame. An opaque hand hides it (alpha near 1); a translucent
    or ghosted hand lets the face's edges through (alpha near its opacity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from interview_guard.signals.face_geometry import convex_hull

__all__ = [
    "ZoneFrames",
    "FrameRows",
    "oval_mask",
    "hand_mask",
    "forearm_quad",
    "FOREARM_PALM_LENGTHS",
    "FOREARM_HALF_WIDTH",
    "zones_aligned",
    "aligned_rows",
    "crossing_measures",
]

_SECTORS = 16
_BAND_PX = 4
#: A hand at the outline reaches this far out (zone pixels); a moving face edge does not.
_FAR_PX = 10
#: A frame counts for the inside share when this share of the zone changed (a hand, not speech or noise).
_HAND_IN_ZONE = 0.04
#: The forearm taken to come with a tracked hand (:func:`forearm_quad`): its length in palm lengths and its
#: half-width in palm widths. Set on the tuning split (round 10, docs/face-occlusion.md): a band 2.5 palm lengths
#: long and 0.5 palm widths to each side measured within 0.01 of it.
FOREARM_PALM_LENGTHS = 4.0
FOREARM_HALF_WIDTH = 0.6


class FrameRows:
    """Some rows of a per-frame array, indexed by their row numbers in the whole track.

    A crossing reads the smoothed zone crops of its own frames and of the few seconds around it; smoothing the
    crops of the whole recording for each crossing grew with the recording (an hour's crops as float32 are
    hundreds of MB). ``FrameRows(values, rows)`` holds ``values[i]`` for row ``rows[i]`` (``rows`` sorted)
    and answers ``z[r]``, ``z[array of rows]`` and ``z[a:b]`` (a run of rows, all of them held) like the full
    array would; ``shape`` is the full array's. Asking for a row it does not hold raises ``KeyError``.
    """

    def __init__(self, values: np.ndarray, rows: np.ndarray, n: int) -> None:
        self.values = values
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = (int(n), *values.shape[1:])

    def _pos(self, r: Any) -> Any:
        pos = np.searchsorted(self.rows, r)
        if not np.array_equal(self.rows[np.minimum(pos, self.rows.size - 1)], r) or np.any(pos >= self.rows.size):
            raise KeyError(f"row(s) {r} not held")
        return pos

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise KeyError("only contiguous runs of rows")
            if stop <= start:
                return self.values[:0]
            i0 = int(self._pos(start))
            if int(self._pos(stop - 1)) != i0 + (stop - start - 1):
                raise KeyError(f"rows {start}..{stop - 1} not all held")
            return self.values[i0 : i0 + (stop - start)]
        out: np.ndarray = self.values[self._pos(key)]
        return out


@dataclass
class ZoneFrames:
    """The zone columns of a PixelTrack plus the hand landmarks, one row per analysed frame."""

    t_s: np.ndarray  # (n,)
    crop: np.ndarray  # (n, z, z) uint8
    box: np.ndarray  # (n, 4) normalised frame coordinates, NaN where none
    oval: np.ndarray  # (n, k, 2) zone coordinates 0-1
    held: np.ndarray  # (n,) bool
    hand_landmarks: np.ndarray  # (n, 2, 21, 3) normalised frame coordinates, NaN where none
    hand_count: np.ndarray  # (n,)

    @property
    def has_zone(self) -> np.ndarray:
        out: np.ndarray = np.all(np.isfinite(self.box), axis=1)
        return out


def oval_mask(*, oval: np.ndarray, side: int) -> np.ndarray:
    """Pixels of a ``side`` x ``side`` grid inside the outline ``oval`` (zone coordinates 0-1).

    The even-odd rule of :func:`~interview_guard.signals.face_geometry.points_in_polygon` (the same pixels), with
    each edge's crossing computed once per grid row instead of once per pixel.
    """
    poly = np.asarray(oval, dtype=np.float64)
    if poly.shape[0] < 3 or not np.all(np.isfinite(poly)):
        return np.zeros((side, side), bool)
    g = (np.arange(side) + 0.5) / side
    y = g[:, None]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    cond = (y1 > y) != (y2 > y)  # (rows, edges): the edge spans the row
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = np.where(cond, x1 + (y - y1) * (x2 - x1) / (y2 - y1), -np.inf)
    inside: np.ndarray = (np.count_nonzero(g[None, :, None] < xint[:, None, :], axis=2) % 2) == 1
    return inside


def aligned_rows(box: np.ndarray, anchor: np.ndarray, tol: float = 0.06) -> np.ndarray:
    """:func:`zones_aligned` of every row's zone ``box`` (n, 4) with ``anchor``; False where a box is not finite."""
    b = np.asarray(box, dtype=np.float64)
    w = np.maximum(b[:, 2] - b[:, 0], 1e-6)
    with np.errstate(invalid="ignore"):
        out: np.ndarray = np.all(np.abs(b - np.asarray(anchor, dtype=np.float64)) <= tol * w[:, None], axis=1)
    return out


def forearm_quad(hand: np.ndarray) -> np.ndarray | None:
    """The forearm behind one tracked hand (21 landmarks, x and y first), as four points; None without a wrist.

    The hand landmarker places points on the hand only, but the arm comes with it: across the face in a wave,
    over the mouth and chin in a sweep from below. The forearm is taken as a band from the wrist away from the
    fingers, :data:`FOREARM_PALM_LENGTHS` palm lengths (wrist to middle-finger knuckle) long and
    ``2 * FOREARM_HALF_WIDTH`` palm widths (index to little-finger knuckle) wide.
    """
    pts = np.asarray(hand, dtype=np.float64)[:, :2]
    if not np.all(np.isfinite(pts[[0, 5, 9, 17]])):
        return None
    wrist, along, across = pts[0], pts[0] - pts[9], FOREARM_HALF_WIDTH * (pts[5] - pts[17])
    far = wrist + FOREARM_PALM_LENGTHS * along
    return np.array([wrist + across, far + across, far - across, wrist - across])


def hand_mask(*, hand_landmarks: np.ndarray, box: np.ndarray, side: int, forearm: bool = True) -> np.ndarray:
    """The convex hull of each tracked hand's landmarks, with its forearm (:func:`forearm_quad`) unless
    ``forearm`` is False, as a zone-grid mask."""
    out = np.zeros((side, side), bool)
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (np.isfinite([x0, y0, x1, y1]).all() and x1 > x0 and y1 > y0):
        return out
    for hand in np.asarray(hand_landmarks, dtype=np.float64):
        pts = hand[:, :2]
        arm = forearm_quad(hand) if forearm else None
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if pts.shape[0] < 3:
            continue
        for shape in (pts, arm):
            if shape is None:
                continue
            rel = (shape - (x0, y0)) / (x1 - x0, y1 - y0)
            if rel.max() < -0.2 or rel.min() > 1.2:
                continue
            hull = convex_hull(rel)
            if hull.shape[0] < 3:
                continue
            out |= oval_mask(oval=hull, side=side)
    return out


def _blur(x: np.ndarray, size: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter  # noqa: PLC0415 - scipy.ndimage is slow to import

    out: np.ndarray = uniform_filter(x, size=(1, size, size) if x.ndim == 3 else size, mode="nearest")
    return out


def _highpass(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x - _blur(x, 5)
    return out


def _bands(face: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inner band, outer band, the band beyond it, and the sector (0.._SECTORS-1) of every pixel."""
    from scipy.ndimage import distance_transform_edt  # noqa: PLC0415

    d_in = distance_transform_edt(face)
    d_out = distance_transform_edt(~face)
    inner = face & (d_in <= _BAND_PX)
    outer = ~face & (d_out <= _BAND_PX)
    beyond = ~face & (d_out > _BAND_PX) & (d_out <= _FAR_PX)
    side = face.shape[0]
    ys, xs = np.nonzero(face)
    cy, cx = (ys.mean(), xs.mean()) if ys.size else (side / 2, side / 2)
    yy, xx = np.mgrid[0:side, 0:side]
    ang = np.arctan2(yy - cy, xx - cx)
    sector = ((ang + np.pi) / (2 * np.pi) * _SECTORS).astype(int) % _SECTORS
    return inner, outer, beyond, sector


def _sector_means(changed: np.ndarray, band: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """Share of changed pixels of ``band`` per sector (NaN for a sector with no band pixel)."""
    s = sector[band]
    tot = np.bincount(s, minlength=_SECTORS).astype(np.float64)
    hit = np.bincount(s, weights=changed[band].astype(np.float64), minlength=_SECTORS)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(tot > 0, hit / np.maximum(tot, 1), np.nan)
    return out


def zones_aligned(box_a: np.ndarray, box_b: np.ndarray, tol: float = 0.06) -> bool:
    """Two zones at nearly the same place and size (tolerance: share of the zone's width)."""
    w = float(box_a[2] - box_a[0])
    return bool(np.all(np.abs(np.asarray(box_a) - np.asarray(box_b)) <= tol * max(w, 1e-6)))


def crossing_measures(
    *,
    frames: ZoneFrames,
    start_s: float,
    end_s: float,
    hand_seen: np.ndarray,
    context_s: float = 3.0,
    ref_s: float = 1.0,
    min_change: float = 10.0,
) -> dict[str, Any]:
    """The pixel measures of one crossing (``start_s``-``end_s``), see the module docstring.

    Parameters
    ----------
    hand_seen : np.ndarray [shape=(n,), dtype=bool]
        Rows where the hand landmarker found a hand at the face (its outline
        joins the hand's region); the pixel measures do not need it.
    min_change : float
        Smallest luma change (grey levels) that counts as changed, whatever the noise.

    Returns
    -------
    dict
        ``ok`` (bool; ``reason`` when not), the measures (None when they
        could not be taken), per-frame cover for the report, counts.
    """
    t = np.asarray(frames.t_s, dtype=np.float64)
    has = frames.has_zone
    out: dict[str, Any] = {"ok": False}
    ev_rows = np.flatnonzero(has & (t >= start_s) & (t <= end_s))
    if ev_rows.size == 0:
        out["reason"] = "no face zone during the crossing"
        return out
    # the anchor of the crossing: the zone most of its frames use
    boxes = frames.box[ev_rows]
    anchor = np.median(boxes, axis=0)
    aligned = has & aligned_rows(frames.box, anchor)
    ev_rows = ev_rows[aligned[ev_rows]]
    if ev_rows.size == 0:
        out["reason"] = "the face zone moved during the crossing"
        return out
    clean = aligned & ~frames.held  # a face with no hand in its zone (a hand elsewhere in the frame is fine)
    before = clean & (t < start_s) & (t >= start_s - ref_s)
    after = clean & (t > end_s) & (t <= end_s + ref_s)
    ref_rows = np.flatnonzero(before)
    if ref_rows.size < 2:
        ref_rows = np.flatnonzero(after)
    null_rows = np.flatnonzero(
        clean & (((t < start_s) & (t >= start_s - context_s)) | ((t > end_s) & (t <= end_s + context_s)))
    )
    null_rows = null_rows[~np.isin(null_rows, ref_rows)] if null_rows.size - ref_rows.size >= 3 else null_rows
    if ref_rows.size < 2 or null_rows.size < 3:
        out["reason"] = "too few frames of the face without a hand around the crossing"
        return out
    side = frames.crop.shape[-1]
    held_rows = np.unique(np.concatenate([ref_rows, null_rows, ev_rows]))  # the only rows read below
    z = FrameRows(_blur(frames.crop[held_rows].astype(np.float32), 3), held_rows, t.size)
    ref = np.median(z[ref_rows], axis=0)
    ref_hp = _highpass(ref)
    diff_null = np.abs(z[null_rows] - ref)
    noise = np.percentile(diff_null, 90, axis=0)
    thr = np.maximum(1.5 * noise + 4.0, min_change)
    oval = np.nanmedian(frames.oval[ev_rows], axis=0)
    face = oval_mask(oval=oval, side=side)
    if face.sum() < 0.1 * side * side:
        out["reason"] = "the face outline is too small in the zone"
        return out
    inner, outer, beyond, sector = _bands(face)
    from scipy.ndimage import binary_dilation, binary_erosion, label  # noqa: PLC0415

    face_in = binary_erosion(face, iterations=2)  # inside the outline, past a head's moving edge

    null_changed = diff_null > thr  # (n_null, side, side): the change of the frames without a hand
    # how often the face moves on its own between frames without a hand (the ghost measure needs it still)
    null_moving = null_changed[:, face].mean(axis=1) >= 0.1
    # the face's own change inside the outline without a hand (speech, expression, head motion): 90th percentile
    own_inside = float(np.percentile(null_changed[:, face_in].sum(axis=1), 90))

    cover, outside, entry, ghost = [], [], [], []
    inside_share: list[float] = []
    inside_net: list[float] = []
    outline_sectors: set[int] = set()
    at_outline_frames = 0
    last_shift = (0, 0)
    for r in ev_rows:
        ch = np.abs(z[r] - ref) > thr
        si, so = _sector_means(ch, inner, sector), _sector_means(ch, outer, sector)
        # the hand at the outline from outside: changed next to the outline and further out (a head moving in a
        # held zone changes a thin crescent along its edge, not the band beyond it)
        at_outline = (so >= 0.3) & (_sector_means(ch, beyond, sector) >= 0.3)
        n_at = int(np.nansum(at_outline))
        at_outline_frames += n_at >= 2
        outline_sectors.update(int(k) for k in np.flatnonzero(at_outline))
        if n_at >= 3:  # a hand against the outline, not a touch
            entry.append(float(np.nanmean(si[at_outline]) / max(float(np.nanmean(so[at_outline])), 1e-6)))
        cover.append(float(ch[face].mean()))
        outside.append(float(ch[~face].mean()))
        hm = np.zeros((side, side), bool)
        if hand_seen[r] and frames.hand_count[r] > 0:
            hm = hand_mask(hand_landmarks=frames.hand_landmarks[r], box=frames.box[r], side=side)
        # the hand's region: tracked hull plus changed pixels joined to changes outside the face
        lab, _ = label(ch)
        from_out = np.unique(lab[ch & ~face])
        joined = np.isin(lab, from_out[from_out > 0])
        if ch.mean() >= _HAND_IN_ZONE:
            # a hand-sized change: how much of it lies inside the outline, joined to the change outside it (a
            # face's own motion, the mouth or the eyes, is not joined to the hand)
            inside_share.append(float((joined & face_in).sum()) / float(ch.sum()))
            n_in = float((ch & face_in).sum())
            own = min(own_inside, n_in)
            inside_net.append((n_in - own) / max(float(ch.sum()) - own, 1.0))
        inside_ch = binary_erosion(joined, iterations=1) & face  # the hand's interior, not its blurred edge
        if hm.any():  # where the landmarker tracked the hand, only its hull (and forearm): a head moving in the
            inside_ch &= binary_dilation(hm, iterations=2)  # held zone changes face pixels joined to the hand too
        if inside_ch.sum() < 0.1 * face.sum():
            continue
        # the face's texture inside the hand's changed pixels (joined to the hand outside: not a face's own
        # motion), against the reference shifted to follow the head (matched on the uncovered face)
        unc_face = face & ~binary_dilation(hm | joined, iterations=4)
        hp = _highpass(z[r])
        dy, dx = _best_shift(hp, ref_hp, unc_face, fallback=last_shift)
        last_shift = (dy, dx)
        rs = np.roll(ref_hp, (dy, dx), axis=(0, 1))
        den_in, den_out = float(np.sum(rs[inside_ch] ** 2)), float(np.sum(rs[unc_face] ** 2))
        if den_in <= 1.0 * inside_ch.sum() or unc_face.sum() < 0.15 * face.sum() or den_out <= 0:
            continue
        # how much of the face's texture is kept under the hand, relative to how much is kept where no hand is
        # in the same frame (motion and compression lower both alike)
        p_out = float(np.sum(hp[unc_face] * rs[unc_face])) / den_out
        if p_out < 0.25:
            continue
        kept = float(np.sum(hp[inside_ch] * rs[inside_ch])) / den_in / p_out
        # light the hand adds on top of the kept face: a shadow keeps the face's texture too, but dims it as
        # much as its light (nothing added); a ghosted hand adds its own light
        zr = np.roll(ref, (dy, dx), axis=(0, 1))
        lit = float(np.mean(z[r][inside_ch] - 16.0)) / max(float(np.mean(zr[inside_ch] - 16.0)), 1.0)
        ghost.append(1.0 - kept if lit - kept >= 0.15 else 1.0)

    n_entry = len(entry)
    out.update(
        {
            "ok": True,
            "frames": int(ev_rows.size),
            "reference_frames": int(ref_rows.size),
            "null_frames": int(null_rows.size),
            "pixel_cover_peak": round(max(cover), 3),
            "hand_outside_peak": round(max(outside), 3),
            "frames_hand_at_outline": int(at_outline_frames),
            "entry_frames": n_entry,
            "entry_ratio_mean": round(float(np.mean(entry)), 3) if n_entry >= 3 else None,
            "entry_cut_share": round(float(np.mean(np.asarray(entry) < 0.3)), 3) if n_entry >= 3 else None,
            "hand_frames_in_zone": len(inside_share),
            "hand_tracked_frames": int(np.count_nonzero(hand_seen[ev_rows] & (frames.hand_count[ev_rows] > 0))),
            "inside_share_p90": round(float(np.percentile(inside_share, 90)), 3) if inside_share else None,
            "inside_net_p90": round(float(np.percentile(inside_net, 90)), 3) if inside_net else None,
            "outline_span": _circular_span(outline_sectors),
            "ghost_frames": len(ghost),
            "ghost_alpha": round(float(np.median(ghost)), 3) if len(ghost) >= 2 else None,
            "null_moving_share": round(float(np.mean(null_moving)), 3),
            "series": {
                "t_s": [round(float(x), 3) for x in t[ev_rows]],
                "cover": [round(x, 3) for x in cover],
                "outside": [round(x, 3) for x in outside],
            },
        }
    )
    return out


def _circular_span(sectors: set[int]) -> int:
    """The largest circular distance (in sectors) between two of ``sectors`` (0 for fewer than two)."""
    ks = np.array(sorted(sectors), dtype=int)
    if ks.size < 2:
        return 0
    d = np.abs(ks[:, None] - ks[None, :]) % _SECTORS
    return int(np.minimum(d, _SECTORS - d).max())


def _best_shift(
    hp: np.ndarray, ref_hp: np.ndarray, where: np.ndarray, *, fallback: tuple[int, int], reach: int = 3
) -> tuple[int, int]:
    """The whole-pixel shift (dy, dx) of ``ref_hp`` that best matches ``hp`` over ``where`` (the uncovered face)."""
    if where.sum() < 40:
        return fallback
    best, arg = -np.inf, fallback
    a = hp[where]
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            b = np.roll(ref_hp, (dy, dx), axis=(0, 1))[where]
            c = float(np.dot(a, b)) / (float(np.linalg.norm(b)) + 1e-6)
            if c > best:
                best, arg = c, (dy, dx)
    return arg
