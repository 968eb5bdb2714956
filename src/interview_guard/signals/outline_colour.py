"""How opaque a hand stays as it crosses the face outline, read in colour (pure numpy/scipy).

Every other pixel measure of a crossing (:mod:`~interview_guard.signals.hand_crossing`,
:mod:`~interview_guard.signals.face_transients`) reads the 64x64 luma zone. A hand whose skin is as bright as the
face it covers hardly changes the luma; its colour still differs. This measure works on a finer zone in colour
(``side`` px square, YCrCb, chroma weighted ``CHROMA``) of the crossing's frames and of the face without a hand
just before them (the *reference*):

* where the hand reaches the outline from outside (per sector of ``SECTORS`` around the face, the band just
  outside the outline and the band beyond it both changed, as ``entry_ratio_mean`` asks), the hand's colour is
  read just outside the outline in that sector: ``H``;
* every pixel of the band just inside the outline in those sectors (where that colour differs from the face's
  by ``min_contrast`` or more) is a mix of that hand and the face behind it
  (the reference, ``F``): its opacity ``a = ((C - F) . (H - F)) / |H - F|^2`` for its colour now, ``C``, wherever
  hand and face differ by ``min_contrast`` or more;
* ``opaque_share``: per frame, the share of those pixels at opacity above 0.8.

A real hand in front of the face is the same hand on both sides of the outline: just inside, a pixel is either the
hand (opacity near 1) or, between fingers and past the fingertips, the face (near 0), and the opaque share is
high. A swap that draws its face over the hand inside its mask leaves the hand inside at the opacity it gave it:
none for a face pasted over the hand or a mask lagging behind it, 0.25-0.75 for a translucent occlusion mask; the
opaque share is low. ``opaque_share_median`` (the crossing's median over its measured frames) is None when fewer
than two frames had the hand at the outline against enough contrast: a hand that never reached the outline from
outside, or one the colour of the face, is not measured, and saying nothing is not evidence.

Measured offline on the development faces in round 30 (``docs/face-occlusion.md``); not yet read by
``face_occlusion``, which needs the finer colour zone from the scan first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CHROMA", "SECTORS", "to_ycrcb", "outline_opacity"]

#: Weight of the chroma channels against luma in the colour distance (chroma varies over a smaller range).
CHROMA = 2.0
SECTORS = 16
#: A pixel counts as opaque hand above this opacity.
OPAQUE = 0.8


def to_ycrcb(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (..., 3) -> float32 (Y, CHROMA * (Cr - 128), CHROMA * (Cb - 128)), BT.601 full range."""
    x = np.asarray(rgb, dtype=np.float32)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    cr = (x[..., 0] - y) * 0.713
    cb = (x[..., 2] - y) * 0.564
    out: np.ndarray = np.stack([y, CHROMA * cr, CHROMA * cb], axis=-1)
    return out


def _smooth(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter  # noqa: PLC0415 - scipy.ndimage is slow to import

    size = (1, 3, 3, 1) if x.ndim == 4 else (3, 3, 1)
    out: np.ndarray = uniform_filter(x, size=size, mode="nearest")
    return out


def _sector_share(changed: np.ndarray, band: np.ndarray, sector: np.ndarray) -> np.ndarray:
    s = sector[band]
    tot = np.bincount(s, minlength=SECTORS).astype(np.float64)
    hit = np.bincount(s, weights=changed[band].astype(np.float64), minlength=SECTORS)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(tot > 0, hit / np.maximum(tot, 1), np.nan)
    return out


def outline_opacity(
    *,
    frames: np.ndarray,
    reference: np.ndarray,
    null: np.ndarray,
    face: np.ndarray,
    min_change: float = 10.0,
    min_contrast: float = 20.0,
    min_pixels: int = 10,
) -> dict[str, Any]:
    """The opacity of the hand just inside the face outline, frame by frame (see the module docstring).

    Parameters
    ----------
    frames : np.ndarray [shape=(n, side, side, 3)]
        The crossing's zone crops, RGB uint8 (or float), all at the same anchored zone.
    reference : np.ndarray [shape=(k, side, side, 3)]
        Crops of the same zone with no hand in it, just before the crossing (their median is the face behind).
    null : np.ndarray [shape=(m, side, side, 3)]
        Crops of the same zone with no hand, around the crossing: how much each pixel changes on its own.
    face : np.ndarray [shape=(side, side), dtype=bool]
        The face outline's inside.
    min_change : float
        Smallest colour distance that counts as changed, whatever the noise.
    min_contrast : float
        Smallest colour distance between hand and face at which a pixel's opacity is read.

    Returns
    -------
    dict
        ``frames_at_outline`` (frames with the hand at 3+ sectors of the outline), ``opacity_frames`` (of those,
        frames with ``min_pixels`` pixels of enough contrast), ``opaque_share_median`` and ``opacity_median``
        (None under two such frames), ``opaque_share`` (per measured frame).
    """
    from scipy.ndimage import distance_transform_edt  # noqa: PLC0415

    frames = np.asarray(frames)
    side = int(frames.shape[1])
    if frames.ndim != 4 or frames.shape[1:] != (side, side, 3):
        raise ValueError(f"frames must be (n, side, side, 3), got {frames.shape}")
    for name, arr in (("reference", reference), ("null", null)):
        if np.asarray(arr).ndim != 4 or np.asarray(arr).shape[1:] != frames.shape[1:] or len(arr) == 0:
            raise ValueError(f"{name} must be (k >= 1, {side}, {side}, 3), got {np.asarray(arr).shape}")
    face = np.asarray(face, dtype=bool)
    if face.shape != (side, side):
        raise ValueError(f"face must be ({side}, {side}), got {face.shape}")
    out: dict[str, Any] = {"frames_at_outline": 0, "opacity_frames": 0, "opaque_share_median": None,
                           "opacity_median": None, "opaque_share": []}  # fmt: skip
    if not face.any() or face.all():
        return out
    k = side / 64.0  # bands scaled from the 64-px zone's 4 and 10 px
    ref = np.median(_smooth(to_ycrcb(reference)), axis=0)
    dist_null = np.linalg.norm(_smooth(to_ycrcb(null)) - ref, axis=-1)
    thr = np.maximum(1.5 * np.percentile(dist_null, 90, axis=0) + 4.0, min_change)
    d_in, d_out = distance_transform_edt(face), distance_transform_edt(~face)
    inner = face & (d_in <= 4 * k)
    outer = ~face & (d_out <= 4 * k)
    beyond = ~face & (d_out > 4 * k) & (d_out <= 10 * k)
    ys, xs = np.nonzero(face)
    yy, xx = np.mgrid[0:side, 0:side]
    ang = np.arctan2(yy - ys.mean(), xx - xs.mean())
    sector = ((ang + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
    shares, medians = [], []
    for frame in frames:
        cur = _smooth(to_ycrcb(frame))
        changed = np.linalg.norm(cur - ref, axis=-1) > thr
        at = (_sector_share(changed, outer, sector) >= 0.3) & (_sector_share(changed, beyond, sector) >= 0.3)
        if np.count_nonzero(at) < 3:  # a hand against the outline, not a touch
            continue
        out["frames_at_outline"] += 1
        at_px = np.isin(sector, np.flatnonzero(at))
        hand_out = changed & outer & at_px
        inside = inner & at_px
        # the hand's colour just outside the outline, per sector (the whole hand's where a sector has too little);
        # a sector whose hand is not the face's colour behind it by ``min_contrast`` is not read (texture alone
        # would make noise of the opacity)
        hand = np.broadcast_to(np.median(cur[hand_out], axis=0), (int(inside.sum()), 3)).copy()
        sec_in = sector[inside]
        keep = np.zeros(sec_in.shape, bool)
        for s in np.flatnonzero(at):
            here, mine = hand_out & (sector == s), sec_in == s
            if here.sum() >= 4:
                hand[mine] = np.median(cur[here], axis=0)
            if mine.any() and np.linalg.norm(hand[mine][0] - np.median(ref[inside][mine], axis=0)) >= min_contrast:
                keep |= mine
        behind, now = ref[inside], cur[inside]
        d = hand - behind
        w = np.sum(d * d, axis=1)
        ok = keep & (w >= min_contrast**2)
        if ok.sum() < min_pixels:
            continue
        alpha = np.sum((now - behind) * d, axis=1)[ok] / w[ok]
        shares.append(float(np.mean(alpha > OPAQUE)))
        medians.append(float(np.median(alpha)))
    out["opacity_frames"] = len(shares)
    out["opaque_share"] = [round(s, 3) for s in shares]
    if len(shares) >= 2:
        out["opaque_share_median"] = round(float(np.median(shares)), 3)
        out["opacity_median"] = round(float(np.median(medians)), 3)
    return out
