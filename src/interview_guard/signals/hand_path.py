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
    "HAND_PATHS", "SIDE", "BELOW", "MIN_ROWS", "FEATURES", "EYES", "MOUTH", "BESIDE", "AT_FACE", "hand_path",
    "hands_at_face", "unseen_crossings", "seen_at_centre", "face_box",
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
#: How far from the face's centre a hand's centre may be (face sizes: widths across, heights down) to be a hand at
#: the face; one farther is elsewhere in the frame (the other hand on the desk, a newsreader's clasped hands) and is
#: no sighting of the hand that crossed. The offset beyond which :func:`unseen_crossings` already ignored a sighting.
AT_FACE = 1.5


def _near_hands(hand_rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The tracked hands of one row within :data:`AT_FACE` of the face's centre, and their centres' offsets (face
    widths across, heights down); ``hand_rows`` is the row's ``(2, 21, >=2)`` slots, NaN where no hand."""
    hands = [h for h in np.asarray(hand_rows, dtype=np.float64)[..., :2] if np.all(np.isfinite(h))]
    if not hands:
        return [], np.zeros((0, 2))
    rel = (np.array([h.mean(axis=0) for h in hands]) - (lo + hi) / 2.0) / (hi - lo)
    near = np.hypot(rel[:, 0], rel[:, 1]) <= AT_FACE
    return [h for h, k in zip(hands, near) if k], rel[near]


def face_box(face_row: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The box of the face's outline in one row (normalised image coordinates); None when it has no size."""
    oval = np.asarray(face_row, dtype=np.float64)[FACE_OVAL, :2]
    if not np.all(np.isfinite(oval)):
        return None
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    return (lo, hi) if np.all(hi - lo > 0) else None


def hands_at_face(
    *, face_present: np.ndarray, face_landmarks: np.ndarray, hand_landmarks: np.ndarray, hand_count: np.ndarray
) -> np.ndarray:
    """Per row: whether a tracked hand was at the face (its centre within :data:`AT_FACE` of the face's centre; in a
    row without a face, or whose outline has no size, any tracked hand).

    A hand tracked elsewhere in the frame is not the hand of a hand-over-face test: counted as one, the other hand
    resting on the desk below the face made every frame one "with the hand seen", and stood in for the crossing hand
    where the landmarker lost it (seen beside the face, never over the features, round 24).
    """
    # where no face was found (a hand over it often hides it from the face landmarker) nothing says the hand is
    # elsewhere: a tracked hand counts as at the face there, as every tracked hand did before
    out = np.asarray(hand_count) > 0
    rows = np.flatnonzero(np.asarray(face_present, bool) & out)
    if rows.size == 0:
        return out
    oval = np.asarray(face_landmarks[rows][:, FACE_OVAL, :2], dtype=np.float64)
    hands = np.asarray(hand_landmarks[rows][..., :2], dtype=np.float64)  # (m, 2, 21, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = oval.min(axis=1), oval.max(axis=1)
        rel = (hands.mean(axis=2) - ((lo + hi) / 2.0)[:, None]) / (hi - lo)[:, None]  # (m, 2, 2)
        near = np.all(np.isfinite(hands), axis=(2, 3)) & (np.hypot(rel[..., 0], rel[..., 1]) <= AT_FACE)
    ok = np.all(np.isfinite(oval), axis=(1, 2)) & np.all(hi - lo > 0, axis=1)
    out[rows] = ~ok | near.any(axis=1)
    return out


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
    """The path of the hand nearest the face over ``start_s - pad_s`` .. ``end_s + pad_s`` (see the module docstring);
    a hand farther than :data:`AT_FACE` from the face's centre is not looked at (the other hand on the desk).

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
        box = face_box(face_r)
        if box is None:
            continue
        lo, hi = box
        hands, rel = _near_hands(hand_landmarks[r], lo, hi)  # face widths across, face heights down
        if not hands:  # none, or only a hand elsewhere in the frame (the other hand on the desk)
            continue
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
    """Per row: horizontal offset of the nearest hand at the face's height (within :data:`AT_FACE` face heights of
    its centre) from the face centre, in face widths (NaN if none)."""
    out = np.full(rows.size, np.nan)
    for k, r in enumerate(rows):
        if not face_present[r] or hand_count[r] == 0:
            continue
        oval = face_landmarks[r][FACE_OVAL, :2]
        cx = float(np.mean(oval[:, 0]))
        w = float(oval[:, 0].max() - oval[:, 0].min())
        box = face_box(face_landmarks[r])
        if box is None or w <= 0:
            continue
        # a hand more than AT_FACE face heights above or below the face's centre (the other hand on the desk right
        # under the face) is not passing the face; one far out to a side is (a wave's swing: it breaks a pass)
        lo, hi = box
        slots = [h for h in np.asarray(hand_landmarks[r], dtype=np.float64)[..., :2] if np.all(np.isfinite(h))]
        level = [h for h in slots if abs(h[:, 1].mean() - (lo[1] + hi[1]) / 2.0) <= AT_FACE * (hi[1] - lo[1])]
        if level:
            off = (np.array([h[:, 0].mean() for h in level]) - cx) / w
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
