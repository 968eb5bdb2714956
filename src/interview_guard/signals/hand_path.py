"""Which way a hand moved over the face in one crossing, from the hand landmarker's sightings (pure numpy).

Also the sightings' passes from one side of the face to the other with none between (:func:`unseen_crossings`,
context for ``hand_behind_face``) and whether the hand was seen at the face's centre (:func:`seen_at_centre`).

The hand-over-face test is not equally good for every way of waving: a hand passed from one side of the face to the
other is judged far better than a hand raised from below and held over the face (docs/face-occlusion.md, round 15,
table (h)), so the report tells the interviewer which one it got. The hand's centre (the mean of its landmarks) is
placed against the face's outline in each frame the landmarker found both, around the crossing:

``side to side``
    seen left of the face and right of it (beyond :data:`SIDE` face widths from the face's centre each way);
``from below`` / ``from above``
    otherwise, coming up (down) to the face: from its first sighting to where it came closest to the face's centre
    it moved more up (down) than across (seen only at its closest: first seen more than :data:`BELOW` face
    heights under, over, the face's centre);
``from one side``
    otherwise (came in from one side and went back, or stayed).

None when the hand was seen in fewer than :data:`MIN_ROWS` frames: a hand the landmarker does not track has no path
here (a miss is no evidence either way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interview_guard.signals.face_geometry import FACE_OVAL, convex_hull, points_in_polygon

__all__ = [
    "HAND_PATHS", "SIDE", "BELOW", "MIN_ROWS", "FEATURES", "EYES", "MOUTH", "BESIDE", "hand_path", "unseen_crossings",
    "seen_at_centre",
]  # fmt: skip

#: The paths :func:`hand_path` tells apart.
HAND_PATHS = ("side to side", "from below", "from above", "from one side")
#: How far from the face's centre (face widths) the hand must be seen on each side for a side-to-side pass.
SIDE = 0.3
#: How far under (over) the face's centre (face heights) the hand's first sighting must be to come from below (above).
BELOW = 0.5
#: Frames with the hand seen that a path needs.
MIN_ROWS = 3
#: The face's features (MediaPipe face-mesh indices): the eyes' corners, the nose's tip, the mouth's corners and
#: lips' middles. ``features_peak`` counts those inside the hull of the hand's landmarks.
FEATURES = np.array([33, 133, 362, 263, 1, 61, 291, 13, 14], dtype=np.int64)
#: The features' height: from the eyes' corners (the band's top) to the mouth's corners and lips (its bottom).
EYES = FEATURES[:4]
MOUTH = FEATURES[5:]
#: How far from the face's centre (face widths) a sighting counts as on one side of the face for ``sides_at_features``
#: (the offset :func:`unseen_crossings` asks of a pass's two sightings).
BESIDE = 0.15


def hand_path(
    *,
    t: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    start_s: float,
    end_s: float,
    pad_s: float = 0.6,
) -> dict[str, Any]:
    """The path of the hand nearest the face over ``start_s - pad_s`` .. ``end_s + pad_s`` (see the module docstring).

    Parameters
    ----------
    t : np.ndarray [shape=(n,)]
        Frame times (s) of the rows.
    face_present : np.ndarray [shape=(n,), dtype=bool]
    face_landmarks : np.ndarray [shape=(n, 478, >=2)]
        Normalised image coordinates.
    hand_landmarks : np.ndarray [shape=(n, 2, 21, >=2)]
        Normalised image coordinates, NaN where no hand.
    hand_count : np.ndarray [shape=(n,)]

    Returns
    -------
    dict
        ``path`` (one of :data:`HAND_PATHS`, or None), ``x_span_faces`` (how far the hand's centre travelled
        across the face, face widths; None without a path), ``rows`` (frames the hand was seen in) and
        ``outside_peak`` (the largest share of the hand's landmarks outside the box of the face's outline in any of
        them; None when it was never seen beside a face), ``features_peak`` (the largest share of the face's
        :data:`FEATURES` inside the hull of the hand's 21 landmarks in one of them: 0 for a hand that stayed at the
        jaw or the cheek, as a hand resting the chin does; None when the hand was never seen at a face) and
        ``sides_at_features`` (whether the hand was seen at the height of the face's features, its hull reaching
        from above the mouth to below the eyes' corners, on both sides of the face: more than :data:`BESIDE` face
        widths left of the face's centre in one frame and right of it in another; False for a hand that swayed
        from one side to the other under the mouth, as a hand the chin rests on does; None when never seen at a
        face).
    """
    t = np.asarray(t, dtype=np.float64)
    rows = np.flatnonzero((t >= start_s - pad_s) & (t <= end_s + pad_s))
    offs, outside, features, level = [], [], [], []
    for r in rows:
        if not face_present[r] or hand_count[r] == 0:
            continue
        face_r = np.asarray(face_landmarks[r], dtype=np.float64)[:, :2]
        oval = face_r[FACE_OVAL]
        if not np.all(np.isfinite(oval)):
            continue
        lo, hi = oval.min(axis=0), oval.max(axis=0)
        size = hi - lo
        if np.any(size <= 0):
            continue
        hands = [h for h in np.asarray(hand_landmarks[r], dtype=np.float64)[..., :2] if np.all(np.isfinite(h))]
        if not hands:
            continue
        centres = np.array([h.mean(axis=0) for h in hands])
        rel = (centres - (lo + hi) / 2.0) / size  # face widths across, face heights down
        k = int(np.argmin(np.hypot(rel[:, 0], rel[:, 1])))  # the hand nearest the face's centre
        offs.append(rel[k])
        outside.append(float(np.mean(np.any((hands[k] < lo) | (hands[k] > hi), axis=1))))
        feats = face_r[FEATURES]
        features.append(float(np.mean(points_in_polygon(feats, convex_hull(hands[k])))))
        # at the features' height: the hand's top above the mouth's lowest point, its bottom below the eyes' highest
        hand_y, face_y = hands[k][:, 1], face_r[:, 1]
        level.append(bool(hand_y.min() <= face_y[MOUTH].max() and hand_y.max() >= face_y[EYES].min()))
    # how much of the hand was ever seen outside the face's box: a "hand" found only on the face (a mouth, a chin)
    # was never outside it; a real hand came from outside
    seen_out = round(max(outside), 3) if outside else None
    reached = round(max(features), 3) if features else None
    at = np.array([o[0] for o, lv in zip(offs, level) if lv])
    sides = bool(at.size and at.min() <= -BESIDE and at.max() >= BESIDE) if offs else None
    seen = {"rows": len(offs), "outside_peak": seen_out, "features_peak": reached, "sides_at_features": sides}
    if len(offs) < MIN_ROWS:
        return {"path": None, "x_span_faces": None, **seen}
    o = np.array(offs)
    x, y = o[:, 0], o[:, 1]
    # how it came in: from its first sighting to where it came closest to the face's centre
    near = int(np.argmin(np.hypot(x, y)))
    dx, dy = x[near] - x[0], y[near] - y[0]
    vertical = abs(dy) > abs(dx) if near > 0 else abs(y[0]) >= BELOW
    if x.min() <= -SIDE and x.max() >= SIDE:
        path = "side to side"
    elif vertical and (dy < 0 if near > 0 else y[0] > 0):
        path = "from below"
    elif vertical:
        path = "from above"
    else:
        path = "from one side"
    span = round(float(x.max() - x.min()), 3)
    return {"path": path, "x_span_faces": span, **seen}


def _hand_offsets(
    face_present: np.ndarray, face_landmarks: np.ndarray, hand_landmarks: np.ndarray, hand_count: np.ndarray,
    rows: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Per row: horizontal offset of the nearest hand from the face centre, in face widths (NaN if none)."""
    out = np.full(rows.size, np.nan)
    for k, r in enumerate(rows):
        if not face_present[r] or hand_count[r] == 0:
            continue
        oval = face_landmarks[r][FACE_OVAL, :2]
        cx = float(np.mean(oval[:, 0]))
        w = float(oval[:, 0].max() - oval[:, 0].min())
        slots = hand_landmarks[r][..., 0]
        slots = slots[np.all(np.isfinite(slots), axis=-1)]
        if slots.shape[0] == 0 or w <= 0:
            continue
        hx = slots.mean(axis=-1)
        if hx.size == 0 or w <= 0:
            continue
        off = (hx - cx) / w
        out[k] = off[np.argmin(np.abs(off))]
    return out


def unseen_crossings(
    *,
    t: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    start_s: float,
    end_s: float,
    pad_s: float = 0.6,
) -> list[tuple[float, float]]:
    """(t_from, t_to) of each pass of the hand from one side of the face to the other with no detection between,
    within ``pad_s`` of the crossing ``start_s``..``end_s``."""
    rows = np.flatnonzero((t >= start_s - pad_s) & (t <= end_s + pad_s))
    off = _hand_offsets(face_present, face_landmarks, hand_landmarks, hand_count, rows)
    seen = np.flatnonzero(np.isfinite(off))
    out = []
    for a, b in zip(seen[:-1], seen[1:]):
        oa, ob = off[a], off[b]
        if np.sign(oa) == np.sign(ob) or abs(oa) > 1.5 or abs(ob) > 1.5:
            continue
        # crossing with no detection close to the centre: at least one analysed row in between
        if b - a >= 2 and min(abs(oa), abs(ob)) >= 0.15:
            out.append((float(t[rows[a]]), float(t[rows[b]])))
    return out


def seen_at_centre(
    *,
    t: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    start_s: float,
    end_s: float,
    pad_s: float = 0.6,
) -> bool:
    """Whether the hand was seen within 0.15 face widths of the face's centre (horizontally), within ``pad_s`` of
    the crossing."""
    rows = np.flatnonzero((t >= start_s - pad_s) & (t <= end_s + pad_s))
    off = _hand_offsets(face_present, face_landmarks, hand_landmarks, hand_count, rows)
    return bool(np.any(np.abs(off[np.isfinite(off)]) < 0.15))
