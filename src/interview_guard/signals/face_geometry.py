"""Landmark geometry (pure numpy): face outline, hand hulls, overlap, shape.

Works on MediaPipe landmark arrays in normalised image coordinates (x, y in
[0, 1] of the frame; NaN where absent). Nothing here touches pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FACE_OVAL",
    "SHAPE_POINTS",
    "face_outline",
    "convex_hull",
    "points_in_polygon",
    "hand_face_overlap",
    "shape_descriptor",
    "face_size",
]

#: MediaPipe FaceMesh face-oval landmark indices, in order around the face.
FACE_OVAL = np.array(
    [
        10,
        338,
        297,
        332,
        284,
        251,
        389,
        356,
        454,
        323,
        361,
        288,
        397,
        365,
        379,
        378,
        400,
        377,
        152,
        148,
        176,
        149,
        150,
        136,
        172,
        58,
        132,
        93,
        234,
        127,
        162,
        21,
        54,
        103,
        67,
        109,
    ],
    dtype=np.int64,
)

#: Stable landmarks used for the face-shape descriptor: eye corners, nose tip
#: and base, mouth corners, chin, forehead, cheeks (identity-bearing geometry,
#: little affected by expression).
SHAPE_POINTS = np.array([33, 133, 362, 263, 1, 4, 168, 61, 291, 152, 10, 234, 454, 199, 6], dtype=np.int64)
# Frames per block of shape_descriptor (its temporaries: about 6 KB a frame).
_SHAPE_BLOCK = 1024


def face_outline(landmarks: np.ndarray) -> np.ndarray:
    """The face-oval polygon of one frame's face landmarks.

    Parameters
    ----------
    landmarks : np.ndarray [shape=(478, 3) or (478, 2)]

    Returns
    -------
    np.ndarray [shape=(36, 2)]
    """
    return np.asarray(landmarks)[FACE_OVAL, :2]


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise) of 2-d points, NaN rows ignored (monotone chain)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    p = p[np.all(np.isfinite(p), axis=1)]
    if p.shape[0] < 3:
        return p
    p = p[np.lexsort((p[:, 1], p[:, 0]))]

    def cross(o: npt.NDArray[np.float64], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    lower: list[npt.NDArray[np.float64]] = []
    for q in p:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    upper: list[npt.NDArray[np.float64]] = []
    for q in p[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule test of many points against one polygon (vectorised).

    Parameters
    ----------
    points : np.ndarray [shape=(m, 2)]
    polygon : np.ndarray [shape=(k, 2)]

    Returns
    -------
    np.ndarray [shape=(m,), dtype=bool]
    """
    pts = np.asarray(points, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.shape[0] < 3 or not np.all(np.isfinite(poly)):
        return np.zeros(pts.shape[0], bool)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    cond = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    crossing = cond & (x < xint)
    inside: npt.NDArray[np.bool_] = (np.count_nonzero(crossing, axis=1) % 2) == 1
    return inside


def hand_face_overlap(face_landmarks: np.ndarray, hand_landmarks: np.ndarray, *, grid: int = 24) -> float:
    """Share of the face outline covered by the hands' convex hulls.

    Parameters
    ----------
    face_landmarks : np.ndarray [shape=(478, 3)]
        One frame's face (NaN when absent: result 0).
    hand_landmarks : np.ndarray [shape=(h, 21, 3)]
        That frame's hands (rows of NaN for absent hands).
    grid : int
        Side of the sampling grid laid over the face's bounding box.

    Returns
    -------
    float in [0, 1]
    """
    face = face_outline(face_landmarks)
    if not np.all(np.isfinite(face)):
        return 0.0
    x0, y0 = face.min(axis=0)
    x1, y1 = face.max(axis=0)
    gx, gy = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    pts = np.c_[gx.ravel(), gy.ravel()]
    inside = points_in_polygon(pts, face)
    if not inside.any():
        return 0.0
    covered = np.zeros(pts.shape[0], bool)
    for hand in np.asarray(hand_landmarks).reshape(-1, 21, np.asarray(hand_landmarks).shape[-1]):
        if not np.all(np.isfinite(hand[:, :2])):
            continue
        hull = convex_hull(hand)
        if hull.shape[0] >= 3:
            covered |= points_in_polygon(pts, hull)
    return float(np.count_nonzero(covered & inside) / np.count_nonzero(inside))


def face_size(landmarks: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Face size per frame: distance between the outer eye corners (33, 263).

    Parameters
    ----------
    landmarks : np.ndarray [shape=(n, 478, 3)]
    rows : np.ndarray, optional
        Only these frames (read without copying every landmark of them).

    Returns
    -------
    np.ndarray [shape=(n,) or (len(rows),)]
    """
    lm = np.asarray(landmarks)
    sel = slice(None) if rows is None else rows
    d: npt.NDArray[np.floating[Any]] = np.linalg.norm(lm[sel, 33, :2] - lm[sel, 263, :2], axis=-1)
    return d


def shape_descriptor(landmarks: np.ndarray, *, aspect: float = 1.0) -> np.ndarray:
    """Scale- and position-free face shape per frame (pairwise distances of stable points).

    Parameters
    ----------
    landmarks : np.ndarray [shape=(n, 478, 3)]
    aspect : float
        Frame width / height, so x and y distances are in the same units.

    Returns
    -------
    np.ndarray [shape=(n, k)]
        Pairwise distances among :data:`SHAPE_POINTS`, divided by the
        inter-ocular distance (NaN for frames without a face).
    """
    src = np.asarray(landmarks)
    k = len(SHAPE_POINTS)
    iu = np.triu_indices(k, k=1)
    out: npt.NDArray[np.float64] = np.empty((src.shape[0], iu[0].size))
    # a block of frames at a time, the shape points picked before the float64 copy: all 478 landmarks of an
    # hour's track converted at once, and the pairwise differences of all its frames, took about 18 KB a frame
    # of temporaries (face_occlusion asks once per event, over the whole face track)
    for b0 in range(0, src.shape[0], _SHAPE_BLOCK):
        lm = np.array(src[b0 : b0 + _SHAPE_BLOCK, SHAPE_POINTS, :2], dtype=np.float64)
        lm[..., 0] *= aspect
        d = np.linalg.norm(lm[:, :, None, :] - lm[:, None, :, :], axis=-1)
        flat = d[:, iu[0], iu[1]]
        eye = np.linalg.norm(lm[:, 0] - lm[:, 3], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[b0 : b0 + _SHAPE_BLOCK] = flat / eye[:, None]
    return out
