"""Per-frame measures of how the face sits in its frame: the BlendTrack row.

Real-time face swaps (DeepFaceLive, FaceFusion, Deep-Live-Cam) render the face at 128-256 px and paste it back
inside a mask a little within the face outline. Where that shows, it shows as:

* **softness**: the inner face has less fine detail than the hair, ears and neck around it (upscaled output);
* **a tone step**: the colour (chroma) of the pasted face differs from the skin at the outline it is blended into;
* **seam flicker**: the band where the mask is blended changes more from frame to frame than the face inside it,
  once both frames are aligned on the face landmarks (the mask is re-estimated every frame).

Every value here is a ratio or a difference *within one frame* (or between two frames of one face), so compression,
light level and sensor noise, which hit both sides alike, cancel; the analyzer then judges them against the clip's
own frames. Measured on the RGB frame the landmarkers saw (at most 640 px on the long side by default).

Regions are defined by the signed distance to the face-oval polygon of the landmarks, as a share of the face width
``fw``: the *core* is deeper than ``CORE_DEPTH`` inside, the *edge band* lies between ``EDGE_DEPTH`` and
``EDGE_INNER`` inside, the *outer band* ``OUTER_NEAR``..``OUTER_FAR`` outside; tone is compared below the eyes
(cheeks and jaw against jaw and neck), where the skin on both sides of a mask edge is the same skin.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interview_guard.extract.pixels import import_cv2
from interview_guard.signals.face_geometry import FACE_OVAL

__all__ = ["BLEND_COLUMNS", "MIN_FACE_PX", "BlendState", "blend_row", "add_blend_row"]

#: The BlendTrack value columns, in the order :func:`blend_row` returns them.
BLEND_COLUMNS = ("detail_inner", "detail_outer", "tone_step", "tone_outline", "seam_change", "core_change")
#: Faces narrower than this (pixels, in the measured frame) are not measured: too little detail to compare.
MIN_FACE_PX = 48.0
#: Region depths, as shares of the face width (see the module docstring).
CORE_DEPTH = 0.14
EDGE_INNER = 0.02
EDGE_DEPTH = 0.09
OUTER_NEAR = 0.03
OUTER_FAR = 0.22
#: Two measured frames at most this far apart (s) are compared for flicker.
MAX_PAIR_GAP_S = 0.1
#: Faces wider than this (pixels) are measured on a copy scaled down to it.
MEASURE_FACE_PX = 192.0
_MIN_PIXELS = 24
# Landmarks the two frames of a flicker pair are aligned on: the face oval and a rigid inner set (eye
# corners, nose bridge and tip), not the mouth, which moves on its own.
_ALIGN_POINTS = np.unique(np.concatenate([FACE_OVAL, [33, 133, 263, 362, 6, 168, 1, 2, 4]]))


class BlendState:
    """What :func:`blend_row` keeps from one frame for the next: time, gray crop, its origin, landmarks.

    ``points`` are the landmarks in the (scaled) crop's pixels.
    """

    __slots__ = ("t_s", "gray", "origin", "points")

    def __init__(self, t_s: float, gray: np.ndarray, origin: tuple[int, int], points: np.ndarray) -> None:
        self.t_s, self.gray, self.origin, self.points = t_s, gray, origin, points


def _mean(cv2: Any, values: np.ndarray, mask: np.ndarray) -> float:
    if cv2.countNonZero(mask) < _MIN_PIXELS:
        return math.nan
    return float(cv2.mean(values, mask=mask)[0])


def blend_row(
    rgb: np.ndarray, face_lm: np.ndarray, t_s: float, prev: BlendState | None
) -> tuple[tuple[float, ...], BlendState | None]:
    """The six BlendTrack values of one frame, and the state for the next call.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (h, w, 3)
        The upright frame the landmarks were found on.
    face_lm : ndarray, shape (478, 3)
        Normalised face landmarks.
    t_s : float
        Frame time.
    prev : BlendState or None
        From the previous measured frame (flicker is measured when it is at most ``MAX_PAIR_GAP_S`` old).

    Returns
    -------
    values : tuple of float
        ``BLEND_COLUMNS``; NaN where a region is too small or the face too small.
    state : BlendState or None
    """
    cv2 = import_cv2()
    nan6 = (math.nan,) * len(BLEND_COLUMNS)
    h, w = rgb.shape[:2]
    pts = np.asarray(face_lm, dtype=np.float64)[:, :2] * (w, h)
    poly = pts[FACE_OVAL]
    if not np.all(np.isfinite(poly)):
        return nan6, None
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    fw = float(max(x1 - x0, y1 - y0))
    if fw < MIN_FACE_PX:
        return nan6, None
    m = OUTER_FAR * fw + 2
    cx0, cy0 = int(max(math.floor(x0 - m), 0)), int(max(math.floor(y0 - m), 0))
    cx1, cy1 = int(min(math.ceil(x1 + m), w)), int(min(math.ceil(y1 + m), h))
    if cx1 - cx0 < 8 or cy1 - cy0 < 8:
        return nan6, None
    crop = rgb[cy0:cy1, cx0:cx1]
    scale = min(1.0, MEASURE_FACE_PX / fw)
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    crop = np.ascontiguousarray(crop)
    ch, cw = crop.shape[:2]
    local = (pts - (cx0, cy0)) * scale
    fws = fw * scale
    oval = np.zeros((ch, cw), np.uint8)
    cv2.fillPoly(oval, [np.round(local[FACE_OVAL] * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    inside = cv2.distanceTransform(oval, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - oval, cv2.DIST_L2, 3)
    depth = (inside - outside) * np.float32(1.0 / fws)  # > 0 inside the oval

    def band(lo: float, hi: float) -> np.ndarray:
        out: np.ndarray = cv2.inRange(depth, lo, hi)
        return out

    core = band(CORE_DEPTH, np.inf)
    edge = band(EDGE_INNER, EDGE_DEPTH)
    outer = band(-OUTER_FAR, -OUTER_NEAR)
    # Below the eyes: cheeks and jaw, where both sides of a mask edge are skin.
    eye_y = int(round(float((local[33, 1] + local[263, 1]) / 2)))
    low = np.zeros((ch, cw), np.uint8)
    low[max(eye_y, 0) :] = 255

    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    g = gray.astype(np.float32)
    detail = cv2.absdiff(g, cv2.GaussianBlur(g, (0, 0), 1.0))
    detail_inner = _mean(cv2, detail, core)
    detail_outer = _mean(cv2, detail, outer)

    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb)
    core_low, edge_low, outer_low = (cv2.bitwise_and(r, low) for r in (core, edge, outer))
    n_core, n_edge, n_outer = (cv2.countNonZero(r) for r in (core_low, edge_low, outer_low))
    tone_step = tone_outline = math.nan
    if n_edge >= _MIN_PIXELS:
        cc_edge = np.array(cv2.mean(ycc, mask=edge_low)[1:3])
        if n_core >= _MIN_PIXELS:
            tone_step = float(np.linalg.norm(np.array(cv2.mean(ycc, mask=core_low)[1:3]) - cc_edge))
        if n_outer >= _MIN_PIXELS:
            tone_outline = float(np.linalg.norm(np.array(cv2.mean(ycc, mask=outer_low)[1:3]) - cc_edge))

    seam_change = core_change = math.nan
    if prev is not None and 0 < t_s - prev.t_s <= MAX_PAIR_GAP_S + 1e-9:
        sel = _ALIGN_POINTS
        mat, _ = cv2.estimateAffinePartial2D(prev.points[sel].astype(np.float32), local[sel].astype(np.float32))
        if mat is not None:
            warped = cv2.warpAffine(prev.gray, mat, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
            valid = cv2.warpAffine(np.full_like(prev.gray, 255), mat, (cw, ch), flags=cv2.INTER_NEAREST)
            diff = cv2.absdiff(g, warped.astype(np.float32))
            seam = cv2.bitwise_and(band(-EDGE_INNER, EDGE_DEPTH), valid)
            seam_change = _mean(cv2, diff, seam)
            core_change = _mean(cv2, diff, cv2.bitwise_and(core, valid))
    state = BlendState(t_s, gray, (cx0, cy0), local)
    return (detail_inner, detail_outer, tone_step, tone_outline, seam_change, core_change), state


def add_blend_row(
    rows: Any, rgb: np.ndarray, face_lm: np.ndarray | None, t_s: float, prev: BlendState | None
) -> BlendState | None:
    """Append one BlendTrack row (NaN without a face) to the scan's row store; the state for the next frame."""
    d, i = rows.add()
    d["t_s"][i] = t_s
    if face_lm is None:
        return None
    vals, state = blend_row(rgb, face_lm, t_s, prev)
    for name, v in zip(BLEND_COLUMNS, vals):
        d[name][i] = v
    return state
