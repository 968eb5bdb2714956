"""How the face landmarker's mesh reacts to a hand crossing the face (pure numpy).

A hand in front of a face takes away what the face landmarker fits its mesh
to: while the hand covers the eyes, nose or mouth, the fitted mesh bends away
from the face's own shape (points pulled towards the hand's edges, a jaw or
brow that is not there). A swap that paints its face over the hand, or lets
the hand through only as a ghost, hands the landmarker an intact face: the
mesh keeps the shape it had before the hand came. This is the landmarker
*finding* a whole face where a hand should be, not a miss.

``mesh_disturbance``
    Each frame's 478 points (aspect-corrected x, y) aligned to the median mesh
    of the hand-free frames just before the crossing by a similarity
    transform (so head motion and zoom do not count); the frame's deviation is
    the median point residual in units of the reference mesh's RMS radius. The
    crossing's measure is the largest frame deviation. A frame where the face
    is lost is counted (``mesh_face_lost``): the landmarker could not fit a face
    at all there, which is what a hand in front does.
``covered_motion_ratio``
    Between consecutive dense frames where the hand landmarker sees the hand
    over a good part of the face: how the mesh points under the hand's hull
    move against the points outside it. Measured, not scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interview_guard.signals.face_geometry import convex_hull, face_size, points_in_polygon

__all__ = ["mesh_disturbance", "covered_motion_ratio"]

#: Hand-free frames before the crossing the reference mesh is taken from (seconds, and the gap left before it).
REFERENCE_S = 1.5
REFERENCE_GAP_S = 0.1
MIN_REFERENCE_FRAMES = 3
#: Face frames inside the crossing the measure needs.
MIN_MESH_FRAMES = 3


def _residuals(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per point distance of ``points`` similarity-aligned to ``ref``, in units of ``ref``'s RMS radius."""
    a = points - points.mean(axis=0)
    b = ref - ref.mean(axis=0)
    na = float(np.sqrt((a**2).sum()))
    nb = float(np.sqrt((b**2).sum()))
    if na < 1e-9 or nb < 1e-9:
        return np.full(points.shape[0], np.nan)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, d]) @ vt
    aligned = a @ rot * (nb / na)
    radius = nb / np.sqrt(points.shape[0])
    out: np.ndarray = np.linalg.norm(aligned - b, axis=1) / radius
    return out


def mesh_disturbance(
    *,
    t_s: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    clean: np.ndarray,
    start_s: float,
    end_s: float,
    aspect: float = 1.0,
) -> dict[str, Any]:
    """The face mesh's largest deviation from its hand-free shape during ``start_s``-``end_s``.

    ``clean`` marks frames with a face and no hand near it (the reference is
    taken from those in the :data:`REFERENCE_S` before the crossing, else
    after it). Returns ``{"ok": False, "reason": ...}`` when it cannot be
    measured, else ``mesh_dev_max`` (largest frame deviation), ``mesh_dev_p50``
    (its median over the crossing), ``mesh_frames`` (face frames measured),
    ``mesh_face_lost`` (crossing frames without a face) and ``mesh_reference``
    (frames of the reference), ``mesh_reference_dev`` (the reference frames'
    own median deviation: the landmarker's jitter and speech).
    """
    t = np.asarray(t_s, dtype=np.float64)
    present = np.asarray(face_present, dtype=bool)
    span = (t >= start_s) & (t <= end_s)
    lost = int((span & ~present).sum())
    ref_rows = np.flatnonzero(clean & (t < start_s - REFERENCE_GAP_S) & (t >= start_s - REFERENCE_S))
    if ref_rows.size < MIN_REFERENCE_FRAMES:
        ref_rows = np.flatnonzero(clean & (t > end_s + REFERENCE_GAP_S) & (t <= end_s + REFERENCE_S))
    if ref_rows.size < MIN_REFERENCE_FRAMES:
        return {"ok": False, "reason": "no hand-free face frames next to the crossing", "mesh_face_lost": lost}
    rows = np.flatnonzero(span & present)
    if rows.size < MIN_MESH_FRAMES:
        return {"ok": False, "reason": "too few face frames in the crossing", "mesh_face_lost": lost}
    # only the rows measured are converted (a whole recording's meshes in float64 is ~7.7 KB a frame)
    scale = np.array([aspect, 1.0])
    ref_xy = np.asarray(face_landmarks[ref_rows, :, :2], dtype=np.float64) * scale
    ref = np.median(ref_xy, axis=0)
    xy = np.asarray(face_landmarks[rows, :, :2], dtype=np.float64) * scale
    dev = np.array([np.nanmedian(_residuals(x, ref)) for x in xy])
    ref_dev = np.array([np.nanmedian(_residuals(x, ref)) for x in ref_xy])
    if not np.isfinite(dev).any():
        return {"ok": False, "reason": "degenerate face mesh"}
    return {
        "ok": True,
        "mesh_dev_max": round(float(np.nanmax(dev)), 4),
        "mesh_dev_p50": round(float(np.nanmedian(dev)), 4),
        "mesh_frames": int(rows.size),
        "mesh_face_lost": lost,
        "mesh_reference": int(ref_rows.size),
        "mesh_reference_dev": round(float(np.nanmedian(ref_dev)), 4),
    }


def covered_motion_ratio(
    *,
    t_s: np.ndarray,
    span_rows: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    overlap: np.ndarray,
    aspect: float = 1.0,
) -> dict[str, Any]:
    """``covered_motion_ratio`` and ``covered_motion_pairs`` (see the module docstring); empty without pairs."""
    t = np.asarray(t_s, dtype=np.float64)
    ratios = []
    for a, b in zip(span_rows[:-1], span_rows[1:]):
        # only frames where the hand covers a good part of the face: a hand at the
        # chin or the outline leaves the "covered" landmarks visible
        if not (face_present[a] and face_present[b]) or hand_count[b] == 0 or t[b] - t[a] > 0.12 or overlap[b] < 0.25:
            continue
        hull_pts = hand_landmarks[b][np.isfinite(hand_landmarks[b][:, 0, 0])].reshape(-1, 3)
        if hull_pts.shape[0] < 3:
            continue
        hull = convex_hull(hull_pts)
        covered = points_in_polygon(face_landmarks[b][:, :2], hull)
        if covered.sum() < 20 or (~covered).sum() < 20:
            continue
        size = float(face_size(face_landmarks[b : b + 1])[0])
        disp = np.linalg.norm((face_landmarks[b, :, :2] - face_landmarks[a, :, :2]) * [aspect, 1.0], axis=1) / max(
            size * aspect, 1e-6
        )
        ratios.append(float(np.median(disp[covered]) / max(np.median(disp[~covered]), 1e-4)))
    if len(ratios) >= 3:
        # Measured, not scored: on real footage with a real hand composited in
        # front, the landmarker's covered points sometimes move just like the
        # uncovered ones (ratio ~1), so this alone does not separate a swap.
        return {"covered_motion_ratio": round(float(np.median(ratios)), 3), "covered_motion_pairs": len(ratios)}
    return {"covered_motion_pairs": len(ratios)} if ratios else {}
