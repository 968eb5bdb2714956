"""Finding hands in still photos and collages (MediaPipe landmarks), and landmark geometry.

Step 1 of cutting hands out of unmasked photos (see
:mod:`~interview_guard.synth.hand_segment` for the segmentation and the
photo-to-cut-out filter):

:func:`find_hands` — MediaPipe HandLandmarker (IMAGE mode) over the full
image and over overlapping square windows (50 % overlap; window sides
halve from the image's short side down to about ``window_hand_ratio``
times ``min_hand_px``), each window scaled to ``detect_side`` pixels, so
small hands in collages fill enough of the detector's input
(``split_collage`` first cuts a collage into its photos, :func:`collage_cells`). Detections
are mapped back to image pixels and de-duplicated (two sets whose 21
points lie within a quarter of the hand size of each other are one hand;
the higher-scoring set is kept).

:func:`collage_cells` splits a collage into its photos;
:func:`extended_fingers` tells open hands from fists by landmark geometry.

MediaPipe and OpenCV are imported lazily; importing this module is cheap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import ParameterError

__all__ = [
    "WRIST",
    "FINGERS",
    "PALM",
    "HandDetection",
    "collage_cells",
    "find_hands",
    "palm_length",
    "extended_fingers",
]

# MediaPipe hand topology
WRIST = 0
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
PALM = (0, 1, 5, 9, 13, 17)


def _cv2() -> Any:
    import cv2  # noqa: PLC0415 - heavy, imported on use

    return cv2


@dataclass(frozen=True)
class HandDetection:
    """One hand found by :func:`find_hands`.

    Attributes
    ----------
    landmarks_px : np.ndarray [shape=(21, 2)]
        MediaPipe's 21 hand landmarks in image pixels (x, y).
    score : float
        MediaPipe's handedness score (a confidence of the detection).
    handedness : str
        ``"Left"`` or ``"Right"`` as MediaPipe labels it (mirrored-image convention).
    window : tuple of int
        ``(x, y, side)`` of the square window the landmarks came from (image pixels).
    cell : tuple of int
        ``(x, y, w, h)`` of the collage cell the hand was found in (the whole
        image unless ``split_collage`` found a grid).
    """

    landmarks_px: np.ndarray
    score: float
    handedness: str
    window: tuple[int, int, int]
    cell: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def size_px(self) -> float:
        """Larger side of the landmarks' bounding box, in pixels."""
        return float(np.max(np.ptp(self.landmarks_px, axis=0)))


# ----------------------------------------------------------------------------- detection


def _windows(width: int, height: int, *, min_side: int, x0: int = 0, y0: int = 0) -> list[tuple[int, int, int]]:
    """Square windows over a ``width`` x ``height`` region at ``(x0, y0)``: the whole region
    (padded to a square), then sides halving from its short side down to ``min_side``, 50 % overlap."""
    out: list[tuple[int, int, int]] = [(x0, y0, max(width, height))]
    side = min(width, height) if width != height else width // 2
    while side >= min_side and side >= 16:
        stride = max(side // 2, 1)
        xs = list(range(0, max(width - side, 0) + 1, stride))
        ys = list(range(0, max(height - side, 0) + 1, stride))
        if xs[-1] != max(width - side, 0):
            xs.append(max(width - side, 0))
        if ys[-1] != max(height - side, 0):
            ys.append(max(height - side, 0))
        out.extend((x0 + x, y0 + y, side) for y in ys for x in xs)
        side //= 2
    return out


def _window_image(
    image: np.ndarray, window: tuple[int, int, int], out_side: int, cell: tuple[int, int, int, int]
) -> np.ndarray:
    """The window's pixels (outside ``cell`` = (x, y, w, h) black) scaled to ``out_side`` square."""
    cv2 = _cv2()
    x, y, side = window
    cx, cy, cw, ch = cell
    crop = np.zeros((side, side, 3), np.uint8)
    ax0, ay0 = max(x, cx), max(y, cy)
    ax1, ay1 = min(x + side, cx + cw), min(y + side, cy + ch)
    if ax1 > ax0 and ay1 > ay0:
        crop[ay0 - y : ay1 - y, ax0 - x : ax1 - x] = image[ay0:ay1, ax0:ax1]
    interp = cv2.INTER_CUBIC if side < out_side else cv2.INTER_AREA
    return np.ascontiguousarray(cv2.resize(crop, (out_side, out_side), interpolation=interp))


def _dedupe(dets: list[HandDetection]) -> list[HandDetection]:
    # best first: score, then the smaller window (the hand filled more of the detector's input)
    order = sorted(dets, key=lambda d: (-round(d.score, 2), d.window[2], d.window[1], d.window[0]))
    kept: list[HandDetection] = []
    for d in order:
        dup = False
        for k in kept:
            size = max(k.size_px, d.size_px, 1.0)
            if float(np.mean(np.linalg.norm(k.landmarks_px - d.landmarks_px, axis=1))) < 0.25 * size:
                dup = True
                break
        if not dup:
            kept.append(d)
    # a stable, readable order: top to bottom, left to right (by wrist)
    kept.sort(key=lambda d: (round(float(d.landmarks_px[WRIST, 1])), round(float(d.landmarks_px[WRIST, 0]))))
    return kept


def _seams(gray: np.ndarray, axis: int, *, edge: float, frac: float) -> list[int]:
    """Indices i where a straight edge between line i-1 and i runs across most of the image (axis 0: rows)."""
    d = np.abs(np.diff(gray, axis=axis))
    f = (d > edge).mean(axis=1 - axis)
    return [int(i) + 1 for i in np.nonzero(f >= frac)[0]]


def _split(gray: np.ndarray, axis: int, *, min_cell: int, edge: float, frac: float) -> list[tuple[int, int]]:
    """Cut positions along ``axis`` into pieces; separator lines (constant colour) are dropped."""
    n = gray.shape[axis]
    cuts = [0, *_seams(gray, axis, edge=edge, frac=frac), n]
    spans = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        if b - a <= 0:
            continue
        spans.append((a, b))
    # drop thin separator spans (uniform lines between photos) and merge too-small slivers into neighbours
    out: list[tuple[int, int]] = []
    for a, b in spans:
        piece = gray[a:b] if axis == 0 else gray[:, a:b]
        if b - a < min_cell:
            if float(piece.std()) < 8.0:
                continue  # a separator
            if out:
                out[-1] = (out[-1][0], b)
                continue
        out.append((a, b))
    return out


def collage_cells(
    image_rgb: np.ndarray, *, min_cell: int = 24, edge: float = 12.0, frac: float = 0.85, min_cells: int = 4
) -> list[tuple[int, int, int, int]]:
    """Split a collage of photos into its cells.

    A seam is a straight line across the image (or across a band of it) along
    which at least ``frac`` of the pixels change brightness by more than
    ``edge`` levels — the border between two photos, or the edge of a
    separator line. Rows are split first, then each band into columns, then
    each piece into rows again (collages whose rows have different layouts).
    Thin uniform strips (separators) are dropped.

    Returns
    -------
    list of (x, y, w, h)
        The cells, top to bottom and left to right; the whole image as one
        cell when fewer than ``min_cells`` cells are found (an ordinary photo
        whose horizon or table edge happens to be straight).
    """
    img = np.asarray(image_rgb)
    H, W = img.shape[:2]
    gray = img.astype(np.float32).mean(axis=2)
    cells = []
    for y0, y1 in _split(gray, 0, min_cell=min_cell, edge=edge, frac=frac):
        band = gray[y0:y1]
        for x0, x1 in _split(band, 1, min_cell=min_cell, edge=edge, frac=frac):
            piece = band[:, x0:x1]
            for yy0, yy1 in _split(piece, 0, min_cell=min_cell, edge=edge, frac=frac):
                if x1 - x0 >= min_cell and yy1 - yy0 >= min_cell:
                    cells.append((x0, y0 + yy0, x1 - x0, yy1 - yy0))
    if len(cells) < min_cells:
        return [(0, 0, W, H)]
    return cells


def find_hands(
    image_rgb: np.ndarray,
    *,
    models_dir: str | os.PathLike[str] | None = None,
    max_hands: int = 2,
    min_confidence: float = 0.5,
    min_hand_px: float = 40.0,
    window_hand_ratio: float = 8.0,
    detect_side: int = 512,
    tile: bool = True,
    split_collage: bool = False,
) -> list[HandDetection]:
    """Find hands in a still image and return their landmarks in pixels.

    Parameters
    ----------
    image_rgb : np.ndarray [shape=(h, w, 3)], uint8
        Upright RGB image (a photo or a collage of photos).
    models_dir : path, optional
        Where ``hand_landmarker.task`` is (checked against ``models/manifest.json``).
    max_hands : int
        Hands looked for per window (MediaPipe ``num_hands``).
    min_confidence : float
        MediaPipe's detection and presence confidence thresholds.
    min_hand_px : float
        The smallest hand (landmark box side, pixels) the window scan aims at:
        windows are not made smaller than ``window_hand_ratio * min_hand_px``.
        Smaller hands may still be returned.
    window_hand_ratio : float
        Window side over the smallest hand size looked for.
    detect_side : int
        Each window is scaled to this many pixels square for the detector.
    tile : bool
        Scan overlapping windows as well as the full image (needed for collages
        and small hands); ``False`` runs the full image only.
    split_collage : bool
        Split the image into its cells first (:func:`collage_cells`) and scan
        each cell on its own (windows never straddle two photos; pixels
        outside the cell are blacked out). An ordinary photo stays one cell.

    Returns
    -------
    list of HandDetection
        De-duplicated, ordered top to bottom then left to right (by wrist).

    Raises
    ------
    ParameterError
        On a malformed image or parameter.
    ModelError
        When the model file is missing, altered or cannot be loaded.
    """
    from interview_guard.io.landmark_types import HAND_MODEL  # noqa: PLC0415
    from interview_guard.io.mediapipe_tasks import as_mp_image as _as_mp_image  # noqa: PLC0415 - lazy mediapipe
    from interview_guard.io.mediapipe_tasks import create_task as _create  # noqa: PLC0415
    from interview_guard.io.mediapipe_tasks import load_vision as _vision  # noqa: PLC0415
    from interview_guard.io.model_files import verified_model_path  # noqa: PLC0415

    img = np.asarray(image_rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ParameterError(f"find_hands: expected an RGB uint8 image (h, w, 3), got {img.dtype} {img.shape}")
    if not (1 <= int(max_hands) <= 16):
        raise ParameterError(f"find_hands: max_hands must be in 1..16, got {max_hands!r}")
    if not (0.0 <= float(min_confidence) <= 1.0):
        raise ParameterError(f"find_hands: min_confidence must be in [0, 1], got {min_confidence!r}")
    if min_hand_px <= 0 or window_hand_ratio <= 1 or detect_side < 64:
        raise ParameterError("find_hands: min_hand_px > 0, window_hand_ratio > 1 and detect_side >= 64 are required")
    H, W = img.shape[:2]
    model_path = verified_model_path(HAND_MODEL, None if models_dir is None else Path(models_dir))
    mp, v, base = _vision()
    opts = v.HandLandmarkerOptions(
        base_options=base(model_asset_path=str(model_path)),
        running_mode=v.RunningMode.IMAGE,
        num_hands=int(max_hands),
        min_hand_detection_confidence=float(min_confidence),
        min_hand_presence_confidence=float(min_confidence),
        min_tracking_confidence=float(min_confidence),
    )
    task = _create(v.HandLandmarker, opts, model_path)
    cells = collage_cells(img) if split_collage else [(0, 0, W, H)]
    min_side = int(math.ceil(window_hand_ratio * min_hand_px))
    dets: list[HandDetection] = []
    try:
        for cell in cells:
            cx, cy, cw, ch = cell
            windows = _windows(cw, ch, min_side=min_side, x0=cx, y0=cy) if tile else [(cx, cy, max(cw, ch))]
            for win in windows:
                x, y, side = win
                res = task.detect(_as_mp_image(mp, _window_image(img, win, int(detect_side), cell)))
                for lm, hd in zip(res.hand_landmarks, res.handedness):
                    pts = np.array([(p.x, p.y) for p in lm], dtype=np.float64) * side + (x, y)
                    if pts.shape != (21, 2) or not np.all(np.isfinite(pts)):
                        continue
                    inside = (pts[:, 0] >= cx) & (pts[:, 0] < cx + cw) & (pts[:, 1] >= cy) & (pts[:, 1] < cy + ch)
                    if inside.mean() < 0.9:  # mostly in the padding or in a neighbouring photo
                        continue
                    cat = hd[0] if hd else None
                    dets.append(
                        HandDetection(
                            landmarks_px=pts,
                            score=float(cat.score) if cat is not None else 0.0,
                            handedness=str(cat.category_name) if cat is not None else "",
                            window=(int(x), int(y), int(side)),
                            cell=(int(cx), int(cy), int(cw), int(ch)),
                        )
                    )
    finally:
        task.close()
    return _dedupe(dets)


# ----------------------------------------------------------------------------- geometry


def palm_length(lm: np.ndarray) -> float:
    """Wrist to middle-finger knuckle (landmarks 0 to 9), in the landmarks' units."""
    return float(np.linalg.norm(lm[9] - lm[WRIST]))


def extended_fingers(landmarks_px: np.ndarray, *, straight_deg: float = 40.0) -> np.ndarray:
    """Which of the five fingers (thumb .. little) are extended, by landmark geometry.

    A finger is extended when its joints are nearly in a line (each bend below
    ``straight_deg``) and its tip is farther from the wrist than its middle
    joint; the thumb when its tip is also away from the index knuckle.

    Returns
    -------
    np.ndarray [shape=(5,)], bool
    """
    lm = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    L = max(palm_length(lm), 1e-6)
    out = np.zeros(5, bool)
    for i, (a, b, c, d) in enumerate(FINGERS):
        segs = [lm[b] - lm[a], lm[c] - lm[b], lm[d] - lm[c]]
        bends = []
        for s0, s1 in zip(segs[:-1], segs[1:]):
            n0, n1 = np.linalg.norm(s0), np.linalg.norm(s1)
            if n0 < 1e-6 or n1 < 1e-6:
                bends.append(180.0)
                continue
            bends.append(math.degrees(math.acos(float(np.clip(np.dot(s0, s1) / (n0 * n1), -1, 1)))))
        straight = max(bends) < straight_deg
        reach = np.linalg.norm(lm[d] - lm[WRIST]) > 1.1 * np.linalg.norm(lm[b] - lm[WRIST])
        if i == 0:
            reach = reach and np.linalg.norm(lm[4] - lm[5]) > 0.45 * L
            straight = max(bends) < straight_deg + 15.0  # the thumb bends more when open
        else:
            reach = reach and np.linalg.norm(lm[d] - lm[a]) > 0.7 * L
        out[i] = bool(straight and reach)
    return out
