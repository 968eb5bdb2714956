"""Whether the hand landmarker read a hand's fingers shorter over the face than beside it (pure numpy).

A swap that paints its face over the hand (pasted over it, a mask a few frames late, translucent) leaves the hand
landmarker a hand whose fingers end where the painted face begins: over the face it places the fingertips short of
where they were beside the face in the same crossing. A real hand in front of a real face keeps its fingers: the
landmarker reads the same lengths over the face as beside it (docs/face-occlusion.md, round 25).

Each finger (the thumb and the four fingers, :data:`FINGERS`) is measured in every frame of the crossing in which the
landmarker found the hand at the face: the length of its chain of landmarks from the knuckle to the tip, in pixels
(``aspect`` puts the normalised x and y on one scale). A reading is *beside* the face when none of the finger's
landmarks is inside the face's outline (and it is at the face's height, :data:`LEVEL`) and *over* it when its tip
is. A finger's reference is the median of its readings beside the face (at least :data:`MIN_REFERENCE`, per hand
slot), when those readings agree (:data:`MAX_SPREAD`); each reading over the face is divided by
it. ``ratio_median``, the median of those ratios, is near 1 for a real hand and well below for fingers cut short
(``ratio_p10``, the 10th percentile, and the frame it was read in show where they were shortest).

No reference (the hand came up from below and never showed its fingers beside the face, or was never tracked there)
gives no measure: a miss is no evidence either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interview_guard.signals.face_geometry import FACE_OVAL, points_in_polygon
from interview_guard.signals.hand_path import AT_FACE, face_box

__all__ = ["FINGERS", "MIN_REFERENCE", "MIN_OVER", "LEVEL", "MAX_SPREAD", "finger_readings", "hand_shape"]

#: The hand landmarker's chains for each finger, knuckle to tip: thumb, index, middle, ring, little finger.
FINGERS = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]], dtype=np.int64)
#: Readings beside the face a finger needs for a reference.
MIN_REFERENCE = 3
#: Readings over the face (of fingers with a reference) a measure needs: two frames' worth of fingers. One frame is
#: no evidence (a genuine cover on a development face read 0.77 from the 4 fingers of one frame, round 25).
MIN_OVER = 8
#: How far (face heights) above or below the face's centre a finger beside the face may be to give a reference: one
#: under the chin (a hand raised from below) points at the camera more than one held up beside the face, and reads
#: shorter; taken as the reference it made the same fingers over the face look long, and a real hand's cut short.
LEVEL = 0.5
#: The most a finger's readings beside the face may spread (interquartile range over the median) and still make a
#: reference: a hand turning as it comes, or a landmarker unsure of the fingers, has no one length to compare with.
MAX_SPREAD = 0.3


def finger_readings(
    *,
    t: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    start_s: float,
    end_s: float,
    aspect: float = 1.0,
    pad_s: float = 0.6,
) -> np.ndarray:
    """Every finger reading of the hands at the face over ``start_s - pad_s`` .. ``end_s + pad_s``.

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
    start_s, end_s : float
        The crossing.
    aspect : float
        Frame width over height (puts x and y on one scale).
    pad_s : float
        Seconds looked at before and after the crossing (the hand beside the face as it comes and goes).

    Returns
    -------
    np.ndarray [shape=(m, 5)]
        One row per reading: time (s), hand slot, finger (index into :data:`FINGERS`), length (the normalised y
        scale), where it was (2 wholly over the face, 1 its tip over the face, 0 wholly outside the face's outline,
        -1 partly over it with its tip outside) and the offset of the finger's middle from the face's centre (face
        widths across, face heights down).
    """
    t = np.asarray(t, dtype=np.float64)
    rows = np.flatnonzero((t >= start_s - pad_s) & (t <= end_s + pad_s))
    out: list[np.ndarray] = []
    for r in rows:
        if not face_present[r] or hand_count[r] == 0:
            continue
        face_r = np.asarray(face_landmarks[r], dtype=np.float64)
        box = face_box(face_r)
        if box is None:
            continue
        lo, hi = box
        oval = face_r[FACE_OVAL, :2] * (aspect, 1.0)
        for slot, h in enumerate(np.asarray(hand_landmarks[r], dtype=np.float64)[..., :2]):
            if not np.all(np.isfinite(h)):
                continue
            rel = (h.mean(axis=0) - (lo + hi) / 2.0) / (hi - lo)
            if np.hypot(rel[0], rel[1]) > AT_FACE:  # a hand elsewhere in the frame (the other hand on the desk)
                continue
            p = h * (aspect, 1.0)
            inside = points_in_polygon(p, oval)
            chains = p[FINGERS]  # (5, 4, 2)
            length = np.hypot(*np.diff(chains, axis=1).transpose(2, 0, 1)).sum(axis=1)
            ins = inside[FINGERS]
            where = np.where(ins.all(axis=1), 2.0, np.where(ins[:, -1], 1.0, np.where(~ins.any(axis=1), 0.0, -1.0)))
            off = (h[FINGERS].mean(axis=1) - (lo + hi) / 2.0) / (hi - lo)  # (5, 2): face widths, face heights
            out.append(np.column_stack([np.full(5, t[r]), np.full(5, slot), np.arange(5), length, where, off]))
    return np.concatenate(out) if out else np.zeros((0, 7))


def hand_shape(
    *,
    t: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    start_s: float,
    end_s: float,
    aspect: float = 1.0,
    pad_s: float = 0.6,
) -> dict[str, Any]:
    """The fingers' lengths over the face against the same fingers beside it, for one crossing.

    Parameters are those of :func:`finger_readings`.

    Returns
    -------
    dict
        ``ratio_p10`` (the 10th percentile of the readings over the face, each over its finger's reference; None
        without :data:`MIN_OVER` such readings), ``ratio_median``, ``shortest_at_s`` (the time of the frame whose
        reading is nearest ``ratio_p10``: the frame to look at), ``over`` (readings over the face with a reference)
        and ``beside`` (readings beside it at its height).
    """
    rd = finger_readings(
        t=t, face_present=face_present, face_landmarks=face_landmarks, hand_landmarks=hand_landmarks,
        hand_count=hand_count, start_s=start_s, end_s=end_s, aspect=aspect, pad_s=pad_s,
    )  # fmt: skip
    none: dict[str, Any] = {"ratio_p10": None, "ratio_median": None, "shortest_at_s": None}
    beside = rd[(rd[:, 4] == 0) & (np.abs(rd[:, 6]) <= LEVEL)]
    over = rd[rd[:, 4] >= 1]
    ratios, times = [], []
    for slot in np.unique(over[:, 1]):
        for f in range(len(FINGERS)):
            ref = beside[(beside[:, 1] == slot) & (beside[:, 2] == f), 3]
            if ref.size < MIN_REFERENCE:
                continue
            q1, med, q3 = np.percentile(ref, [25, 50, 75])
            if not med > 0 or (q3 - q1) / med > MAX_SPREAD:
                continue
            sel = over[(over[:, 1] == slot) & (over[:, 2] == f)]
            ratios.append(sel[:, 3] / med)
            times.append(sel[:, 0])
    r = np.concatenate(ratios) if ratios else np.zeros(0)
    counts = {"over": int(r.size), "beside": int(beside.shape[0])}
    if r.size < MIN_OVER:
        return {**none, **counts}
    p10 = float(np.percentile(r, 10))
    at = float(np.concatenate(times)[int(np.argmin(np.abs(r - p10)))])
    return {
        "ratio_p10": round(p10, 3),
        "ratio_median": round(float(np.median(r)), 3),
        "shortest_at_s": round(at, 3),
        **counts,
    }
