"""Segmenting real hands out of ordinary (unmasked) photos.

The synthetic-session generator composites a real hand photo in front of a
face. Photos that come with a hand mask are rare and seldom licensed for
redistribution; this module makes the mask itself, so a hand cut-out can come
from any photo whose licence allows it (e.g. the CC BY-SA HaGRID collages).

Method
------
1. :func:`~interview_guard.synth.hand_detect.find_hands` finds the hands and
   their 21 landmarks (see :mod:`~interview_guard.synth.hand_detect`).
2. :func:`segment_hand` — GrabCut initialised from the 21 landmarks, in a
   crop around the hand scaled so that the palm (wrist to middle-finger
   knuckle, ``L``) is ``work_palm_px`` pixels:

   * definite foreground: the landmark skeleton drawn thick — palm polygon
     (wrist, knuckles) plus finger bones with widths proportional to ``L``,
     pulled back a little from the finger tips;
   * probable foreground: the skeleton dilated to a finger's width;
   * probable background: the rest of the hand's box enlarged by ``0.45 L``;
   * definite background: outside that box, and pixels whose colour is far
     from a skin-colour model (a Gaussian in YCrCb estimated from the
     definite-foreground pixels) unless they lie near the skeleton.

   The GrabCut result is cleaned: the skin model removes off-colour pixels
   outside the definite skeleton (gaps between fingers, sleeves), only the
   component holding the palm is kept, small holes are filled, and everything
   beyond the wrist line (``0.3 L`` past the wrist landmark, perpendicular to
   the wrist → middle knuckle axis) is cut, with a short fade so the cut-out
   does not end in a hard edge. The alpha is feathered.
3. :func:`hand_cutouts_from_photo` — both steps on one photo, keeping only
   good, open-palm-like cut-outs (enough fingers extended by landmark
   geometry, mask area in a sane ratio to the landmark hull, mask clear of the
   crop border except at the wrist, minimum size).

Everything is deterministic (OpenCV's RNG is re-seeded before each GrabCut).
OpenCV and MediaPipe are imported lazily; importing this module is cheap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from interview_guard.errors import InputError, ParameterError
from interview_guard.synth.hand_detect import FINGERS, PALM, WRIST, extended_fingers, find_hands, palm_length
from interview_guard.synth.hands import HandCutout

__all__ = [
    "HandSegmentation",
    "segment_hand",
    "segment_hand_mask",
    "hand_cutouts_from_photo",
]


def _cv2() -> Any:
    import cv2  # noqa: PLC0415 - heavy, imported on use

    return cv2


@dataclass(frozen=True)
class HandSegmentation:
    """Result of segmenting one hand (see :func:`segment_hand`).

    Attributes
    ----------
    rgb : np.ndarray [shape=(h, w, 3)], uint8
        The hand's pixels at working scale, cropped to the alpha's support.
    alpha : np.ndarray [shape=(h, w)], float32
        Feathered alpha in [0, 1].
    box : tuple of float
        ``(x, y, w, h)`` of the cut-out in source-image pixels.
    scale : float
        Working pixels per source pixel.
    roi_touch : float
        Fraction of the search box's border (away from the wrist side) the hard
        mask touches — large values mean the mask leaked into the background.
    hull_ratio : float
        Hard-mask area over the area of the convex hull of the landmarks.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    box: tuple[float, float, float, float]
    scale: float
    roi_touch: float
    hull_ratio: float


def _hull_area(points: np.ndarray) -> float:
    cv2 = _cv2()
    hull = cv2.convexHull(np.asarray(points, dtype=np.float32))
    return float(cv2.contourArea(hull))


# ----------------------------------------------------------------------------- segmentation


@dataclass(frozen=True)
class _SegParams:
    work_palm_px: float = 64.0
    margin: float = 0.45
    bone_width: float = 0.16
    palm_shrink: float = 0.85
    probable_width: float = 0.42
    iterations: int = 5
    skin_refine: bool = True
    skin_sigma: float = 5.0
    wrist_fade: float = 0.15
    wrist_offset: float = 0.3
    feather: float = 0.02
    max_hole: float = 0.06


def _draw_skeleton(
    shape: tuple[int, int], lm: np.ndarray, L: float, *, bone_w: float, palm_shrink: float, tip_pull: float
) -> np.ndarray:
    """A filled mask of the palm polygon and thick finger bones (uint8 0/1)."""
    cv2 = _cv2()
    m = np.zeros(shape, np.uint8)
    palm = lm[list(PALM)]
    c = palm.mean(axis=0)
    palm = c + (palm - c) * palm_shrink
    cv2.fillPoly(m, [np.round(palm * 8).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=3)
    w = max(int(round(bone_w * L)), 1)
    for chain in FINGERS:
        pts = lm[list(chain)].copy()
        # pull the tip back: the landmark sits at the very end of the finger
        pts[-1] = pts[-1] - tip_pull * (pts[-1] - pts[-2])
        start = lm[WRIST] if chain[0] == 1 else pts[0]
        for p0, p1 in zip([start, *pts[:-1]], pts):
            cv2.line(m, tuple(np.round(p0).astype(int)), tuple(np.round(p1).astype(int)), 1, w)
    return m


def _skin_distance(img_ycc: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Mahalanobis distance in (Cr, Cb) to a robust Gaussian of ``sample`` pixels (n, 3 YCrCb).

    The model is fitted to the 80 % of the sample nearest its median, so stray
    background pixels under a slightly misplaced skeleton do not widen it.
    """
    cc = sample[:, 1:3].astype(np.float64)
    med = np.median(cc, axis=0)
    r = np.linalg.norm(cc - med, axis=1)
    core = cc[r <= np.quantile(r, 0.8)]
    if core.shape[0] < 10:
        core = cc
    mu = core.mean(axis=0)
    cov = np.cov(core.T) + np.eye(2) * 4.0  # a floor: JPEG chroma is quantised
    inv = np.linalg.inv(cov)
    d = img_ycc[..., 1:3].astype(np.float64) - mu
    return cast(np.ndarray, np.sqrt(np.einsum("...i,ij,...j->...", d, inv, d)))


def _fill_holes(m: np.ndarray, max_area: float) -> np.ndarray:
    """Fill the holes of a 0/1 mask smaller than ``max_area`` pixels (a ring of thumb and index stays open)."""
    cv2 = _cv2()
    inv = (m == 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    out = m.astype(np.uint8).copy()
    h, w = m.shape
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        touches = x == 0 or y == 0 or x + bw >= w or y + bh >= h
        if not touches and area <= max_area:
            out[labels == k] = 1
    return out


def _segment(image_rgb: np.ndarray, landmarks_px: np.ndarray, p: _SegParams) -> HandSegmentation:
    cv2 = _cv2()
    img = np.asarray(image_rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ParameterError(f"segment_hand: expected an RGB uint8 image (h, w, 3), got {img.dtype} {img.shape}")
    lm0 = np.asarray(landmarks_px, dtype=np.float64)
    if lm0.ndim != 2 or lm0.shape[0] != 21 or lm0.shape[1] < 2 or not np.all(np.isfinite(lm0[:, :2])):
        raise ParameterError(f"segment_hand: expected 21 finite landmarks (21, 2) in pixels, got {lm0.shape}")
    lm0 = lm0[:, :2]
    L0 = palm_length(lm0)
    if L0 < 3.0:
        raise InputError(f"hand too small to segment (palm {L0:.1f} px)")
    H, W = img.shape[:2]
    # search box: landmark box enlarged by margin * L, clipped to the image
    lo = lm0.min(axis=0) - p.margin * L0
    hi = lm0.max(axis=0) + p.margin * L0
    x0, y0 = int(max(math.floor(lo[0]), 0)), int(max(math.floor(lo[1]), 0))
    x1, y1 = int(min(math.ceil(hi[0]), W)), int(min(math.ceil(hi[1]), H))
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise InputError("hand lies outside the image")
    # a band of context around the box (definite background for GrabCut's colour model)
    band = int(math.ceil(0.25 * L0))
    cx0, cy0, cx1, cy1 = max(x0 - band, 0), max(y0 - band, 0), min(x1 + band, W), min(y1 + band, H)
    s = p.work_palm_px / L0
    crop = img[cy0:cy1, cx0:cx1]
    cw, ch = max(int(round((cx1 - cx0) * s)), 1), max(int(round((cy1 - cy0) * s)), 1)
    work = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    sx, sy = cw / (cx1 - cx0), ch / (cy1 - cy0)
    lm = (lm0 - (cx0, cy0)) * (sx, sy) - 0.5  # continuous source coordinates -> working pixel centres
    L = palm_length(lm)
    bx0, by0 = int(round((x0 - cx0) * sx)), int(round((y0 - cy0) * sy))
    bx1, by1 = int(round((x1 - cx0) * sx)), int(round((y1 - cy0) * sy))
    shape = (ch, cw)

    sure = _draw_skeleton(shape, lm, L, bone_w=p.bone_width, palm_shrink=p.palm_shrink, tip_pull=0.25)
    near = _draw_skeleton(shape, lm, L, bone_w=p.probable_width, palm_shrink=1.05, tip_pull=-0.1)
    near_wide = cv2.dilate(near, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.3 * L) | 1,) * 2))

    # wrist line: signed distance along the hand axis (positive towards the fingers)
    axis = lm[9] - lm[WRIST]
    axis = axis / max(np.linalg.norm(axis), 1e-6)
    yy, xx = np.mgrid[0:ch, 0:cw]
    along = (xx - lm[WRIST, 0]) * axis[0] + (yy - lm[WRIST, 1]) * axis[1]
    beyond_wrist = along < -p.wrist_offset * L

    ycc = cv2.cvtColor(work, cv2.COLOR_RGB2YCrCb)
    sample = ycc[(sure > 0) & ~beyond_wrist]
    skin_d = _skin_distance(ycc, sample) if (p.skin_refine and sample.shape[0] >= 20) else None

    gc = np.full(shape, cv2.GC_BGD, np.uint8)
    gc[by0:by1, bx0:bx1] = cv2.GC_PR_BGD
    gc[near > 0] = cv2.GC_PR_FGD
    if skin_d is not None:  # far-off colours away from the hand's skeleton cannot be hand
        gc[(skin_d > 2.0 * p.skin_sigma) & (near_wide == 0)] = cv2.GC_BGD
    gc[sure > 0] = cv2.GC_FGD
    gc[(sure > 0) & beyond_wrist] = cv2.GC_PR_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(work, gc, None, bgd, fgd, int(p.iterations), cv2.GC_INIT_WITH_MASK)
        fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:  # degenerate colour models (e.g. a flat image): fall back to the probable region
        fg = near.copy()
    if skin_d is not None:  # drop off-colour pixels (background chunks, sleeves, gaps between fingers)
        fg[(skin_d > p.skin_sigma) & (sure == 0)] = 0
    fg[beyond_wrist] = 0
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.08 * L) | 1,) * 2))
    fg |= sure & ~beyond_wrist
    # the component holding the palm
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    palm_mask = _draw_skeleton(shape, lm, L, bone_w=1, palm_shrink=0.6, tip_pull=1.0) & ~beyond_wrist
    if n > 1:
        overlap = np.bincount(labels[palm_mask > 0].ravel(), minlength=n)
        overlap[0] = 0
        keep = int(np.argmax(overlap)) if overlap.max() > 0 else 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        fg = (labels == keep).astype(np.uint8)
    fg = _fill_holes(fg, p.max_hole * L * L)
    fg[beyond_wrist] = 0  # filling may not cross the wrist line

    # touch of the search box border (away from the wrist side)
    border = np.zeros(shape, bool)
    border[by0, bx0:bx1] = border[by1 - 1, bx0:bx1] = True
    border[by0:by1, bx0] = border[by0:by1, bx1 - 1] = True
    border &= along > 0.3 * L
    # image edges are not leaks: a hand cut by the frame edge is rejected by size/hull checks instead
    roi_touch = float((fg[border] > 0).mean()) if border.any() else 0.0
    hull_ratio = float(fg.sum()) / max(_hull_area(lm), 1.0)

    alpha = fg.astype(np.float32)
    if p.wrist_fade > 0:  # soft end instead of a straight cut at the wrist
        fade = np.clip((along + p.wrist_offset * L) / max(p.wrist_fade * L, 1e-6), 0.0, 1.0)
        alpha *= fade.astype(np.float32)
    if p.feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(p.feather * L, 0.6))
    ys, xs = np.nonzero(alpha > 0.02)
    if ys.size == 0:
        raise InputError("segmentation found no hand pixels")
    pad = 2
    ay0, ay1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + 1 + pad, ch)
    ax0, ax1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + 1 + pad, cw)
    box = (cx0 + ax0 / sx, cy0 + ay0 / sy, (ax1 - ax0) / sx, (ay1 - ay0) / sy)
    return HandSegmentation(
        rgb=np.ascontiguousarray(work[ay0:ay1, ax0:ax1]),
        alpha=np.clip(alpha[ay0:ay1, ax0:ax1], 0.0, 1.0).astype(np.float32),
        box=box,
        scale=float(s),
        roi_touch=roi_touch,
        hull_ratio=hull_ratio,
    )


def _params(kw: dict[str, Any]) -> _SegParams:
    unknown = set(kw) - set(_SegParams.__dataclass_fields__)
    if unknown:
        raise ParameterError(f"segment_hand: unknown option(s) {sorted(unknown)}")
    p = _SegParams(**kw)
    if p.work_palm_px < 8 or p.iterations < 1 or p.margin <= 0:
        raise ParameterError("segment_hand: work_palm_px >= 8, iterations >= 1 and margin > 0 are required")
    return p


def segment_hand(image_rgb: np.ndarray, landmarks_px: np.ndarray, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cut one hand out of a photo, given its 21 landmarks.

    Parameters
    ----------
    image_rgb : np.ndarray [shape=(h, w, 3)], uint8
        The photo (RGB).
    landmarks_px : np.ndarray [shape=(21, 2)]
        MediaPipe hand landmarks in pixels of ``image_rgb`` (as from :func:`find_hands`).
    **options
        Tuning (defaults in brackets): ``work_palm_px`` [64] palm length the
        crop is scaled to; ``margin`` [0.45] search-box margin in palm
        lengths; ``bone_width`` [0.16] and ``probable_width`` [0.42] widths of
        the definite / probable skeleton; ``iterations`` [5] GrabCut
        iterations; ``skin_refine`` [True] use the skin-colour model;
        ``skin_sigma`` [5.0] its cut-off (Mahalanobis, Cr/Cb);
        ``wrist_fade`` [0.15] fade length past the wrist line; ``feather``
        [0.02] alpha blur, all in palm lengths.

    Returns
    -------
    rgb : np.ndarray [shape=(h, w, 3)], uint8
        The hand's pixels at working scale (the crop is scaled so the palm is
        ``work_palm_px`` long), cropped to the alpha's support.
    alpha : np.ndarray [shape=(h, w)], float32
        Feathered alpha in [0, 1]; 0 past the wrist.

    Raises
    ------
    ParameterError
        On malformed input.
    InputError
        When the hand is too small, outside the image, or nothing is segmented.
    """
    seg = _segment(image_rgb, landmarks_px, _params(options))
    return seg.rgb, seg.alpha


def segment_hand_mask(image_rgb: np.ndarray, landmarks_px: np.ndarray, **options: Any) -> np.ndarray:
    """The alpha of :func:`segment_hand` mapped back onto the whole image.

    Returns
    -------
    np.ndarray [shape=(h, w)], float32
        Alpha in [0, 1] in ``image_rgb``'s pixel grid (for evaluation against a
        ground-truth mask, or for compositing in place).
    """
    return _paste(np.asarray(image_rgb).shape[:2], _segment(image_rgb, landmarks_px, _params(options)))


def _paste(shape: tuple[int, ...], seg: HandSegmentation) -> np.ndarray:
    cv2 = _cv2()
    H, W = shape
    x, y, w, h = seg.box
    sx, sy = seg.alpha.shape[1] / w, seg.alpha.shape[0] / h
    # output pixel u (centre u + 0.5) -> working pixel index (u + 0.5 - x) * sx - 0.5
    M = np.array([[sx, 0.0, (0.5 - x) * sx - 0.5], [0.0, sy, (0.5 - y) * sy - 0.5]], np.float64)
    return cast(
        np.ndarray,
        cv2.warpAffine(seg.alpha, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0),
    )


# ----------------------------------------------------------------------------- photos -> cut-outs


def _read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    cv2 = _cv2()
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("cannot read image", path=path)
    return cast(np.ndarray, cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def hand_cutouts_from_photo(
    path: str | os.PathLike[str],
    *,
    models_dir: str | os.PathLike[str] | None = None,
    min_hand_px: float = 40.0,
    min_fingers: int = 3,
    hull_ratio_range: tuple[float, float] = (0.75, 1.9),
    max_border_touch: float = 0.04,
    min_confidence: float = 0.5,
    split_collage: bool = True,
    return_rejects: bool = False,
    **options: Any,
) -> list[HandCutout] | tuple[list[HandCutout], list[tuple[str, str]]]:
    """Good, open-palm-like hand cut-outs segmented from an unmasked photo.

    Hands are found with :func:`find_hands` (windows scanned, so collages of
    small photos work) and cut out with :func:`segment_hand`. A hand is kept
    when all of these hold:

    * its landmark box is at least ``min_hand_px`` pixels on its larger side;
    * at least ``min_fingers`` of the four fingers (thumb not counted) are
      extended (:func:`extended_fingers`) — an open palm or a three/four
      gesture, not a fist, a pointing hand or a V;
    * the hard mask's area over the landmarks' convex-hull area lies in
      ``hull_ratio_range`` (too small: fingers lost; too large: background);
    * the mask touches at most ``max_border_touch`` of the search box's border
      away from the wrist (more means it leaked into the background);
    * no landmark lies outside the image (or the collage cell).

    With ``split_collage`` the photo is split into its cells
    (:func:`collage_cells`; an ordinary photo is one cell) and each hand is
    segmented inside its own cell, so a cut-out never takes pixels of a
    neighbouring photo or of a separator line.

    Parameters
    ----------
    path : path
        The photo.
    models_dir : path, optional
        Where ``hand_landmarker.task`` is.
    return_rejects : bool
        Also return ``[(source, reason)]`` of the hands rejected.
    **options
        Passed to :func:`segment_hand`.

    Returns
    -------
    list of HandCutout
        ``source`` is ``"<path>#box=x,y,w,h"`` (the cut-out's box in the
        photo's pixels). With ``return_rejects`` a tuple ``(cutouts, rejects)``.

    Raises
    ------
    InputError
        When the photo cannot be read.
    """
    params = _params(options)
    img = _read_rgb(path)
    H, W = img.shape[:2]
    dets = find_hands(
        img, models_dir=models_dir, min_hand_px=min_hand_px, min_confidence=min_confidence, split_collage=split_collage
    )
    cutouts: list[HandCutout] = []
    rejects: list[tuple[str, str]] = []
    for det in dets:
        lm = det.landmarks_px
        cx, cy, cw, ch = det.cell if det.cell[2] > 0 else (0, 0, W, H)
        tag = f"{path}#hand={int(round(lm[WRIST, 0]))},{int(round(lm[WRIST, 1]))}"
        if det.size_px < min_hand_px:
            rejects.append((tag, f"small ({det.size_px:.0f} px)"))
            continue
        if np.any(lm[:, 0] < cx) or np.any(lm[:, 1] < cy) or np.any(lm[:, 0] >= cx + cw) or np.any(lm[:, 1] >= cy + ch):
            rejects.append((tag, "landmarks outside the photo"))
            continue
        n_ext = int(extended_fingers(lm)[1:].sum())
        if n_ext < min_fingers:
            rejects.append((tag, f"{n_ext} fingers extended"))
            continue
        try:
            seg = _segment(img[cy : cy + ch, cx : cx + cw], lm - (cx, cy), params)
        except InputError as exc:
            rejects.append((tag, str(exc)))
            continue
        if not (hull_ratio_range[0] <= seg.hull_ratio <= hull_ratio_range[1]):
            rejects.append((tag, f"mask/hull area {seg.hull_ratio:.2f}"))
            continue
        if seg.roi_touch > max_border_touch:
            rejects.append((tag, f"mask touches the box border ({seg.roi_touch:.2f})"))
            continue
        x, y, w, h = (int(round(v)) for v in seg.box)
        x, y = x + cx, y + cy
        cutouts.append(HandCutout(rgb=seg.rgb, alpha=seg.alpha, source=f"{path}#box={x},{y},{w},{h}"))
    return (cutouts, rejects) if return_rejects else cutouts
