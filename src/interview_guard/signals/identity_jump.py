"""The face's identity from one frame to the next while a hand crosses it (pure numpy).

A real-time swap that drops for a few frames while a hand is at the face shows the face under it: another
person, between two frames of the swapped one. The 128-d descriptor of the face
(:mod:`interview_guard.io.face_descriptor`) then jumps from one frame to the next by about as much as two
different people differ. A real hand over a real face moves the descriptor too, but a little at a time, frame
after frame, as it covers more or less of the face.

:func:`identity_jump` measures, over the described faces of a crossing, the largest change between two
*consecutive landmarked frames* (one or two source frames apart) beyond the change a real face under a moving
hand reaches at that spacing (:data:`STEP_ALLOWED`). It is measured only where such pairs exist: the scan
describes every landmarked frame while a hand is at the face (``scan_video(identity_near_hand=True)``); a
crossing without them is not measured, which says nothing either way.

The thresholds were set on the development faces only (docs/face-occlusion.md, round 18).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PAD_S", "STEP_ALLOWED", "identity_jump", "gradual_change", "flash_same_face"]

#: The largest descriptor change (Euclidean, 128-d) between two described frames of a real face under a moving
#: hand, by the frames between them (1: consecutive source frames, 2: every other frame, as the adaptive scan
#: landmarks inside active intervals at 15 a second of a 30 fps video). Set on the development faces' tune
#: split: its genuine waves reach 0.63 (98th percentile) at 1 frame and 0.76 at 2 frames; the swap's dropouts
#: there reach 0.78 and more in half of them. Same person under 0.6, different people from about 0.5 (dlib).
STEP_ALLOWED: dict[int, float] = {1: 0.70, 2: 0.80}
#: How far before and after a crossing the identity is followed (s): the swap may drop as the hand comes or goes.
PAD_S = 0.2


def identity_jump(
    *,
    t_s: np.ndarray,
    frame_index: np.ndarray,
    descriptors: np.ndarray,
    quality: np.ndarray,
    start_s: float,
    end_s: float,
    pad_s: float = PAD_S,
    min_quality: float = 0.3,
    allowed: dict[int, float] | None = None,
) -> dict[str, Any]:
    """The largest frame-to-frame identity change in ``[start_s - pad_s, end_s + pad_s]`` beyond what a real face
    reaches.

    Parameters
    ----------
    t_s, frame_index : ndarray, shape (n,)
        Time and source frame of each described face (one face per frame: the tracked one), increasing.
    descriptors : ndarray, shape (n, d)
    quality : ndarray, shape (n,)
        Faces under ``min_quality`` (small, turned away) are left out, and so are their pairs.
    start_s, end_s : float
        The crossing.
    pad_s : float
        Also this long before and after it.
    allowed : dict of int to float, optional
        Allowed change by the number of source frames between the two faces (default :data:`STEP_ALLOWED`);
        pairs further apart are not measured.

    Returns
    -------
    dict
        Empty when no pair was measured. Otherwise ``pairs`` (measured), ``jump`` (the largest change minus its
        allowance; positive: beyond a real face), ``step`` (that pair's change), ``step_frames`` (its spacing),
        ``at_s`` and ``frames`` (its two faces' time and source frames), ``other_at_s`` (the time of the one of
        the two further from the crossing's median face: the other person, when it is one).
    """
    allow = STEP_ALLOWED if allowed is None else allowed
    t = np.asarray(t_s, dtype=np.float64)
    fr = np.asarray(frame_index, dtype=np.int64)
    x = np.asarray(descriptors, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if t.ndim != 1 or fr.shape != t.shape or q.shape != t.shape or x.ndim != 2 or len(x) != len(t):
        raise ValueError("t_s, frame_index, quality and descriptors must describe the same rows")
    keep = _described(t, x, q, start_s - pad_s, end_s + pad_s, min_quality)
    if keep.size < 2:
        return {}
    a, b = keep[:-1], keep[1:]
    gap = fr[b] - fr[a]
    limit = np.array([allow.get(int(g), np.nan) for g in gap], dtype=np.float64)
    ok = np.isfinite(limit)
    if not ok.any():
        return {}
    step = np.linalg.norm(x[b] - x[a], axis=1)
    excess = np.where(ok, step - limit, -np.inf)
    i = int(np.argmax(excess))
    centre = np.median(x[keep], axis=0)
    other = a[i] if np.linalg.norm(x[a[i]] - centre) > np.linalg.norm(x[b[i]] - centre) else b[i]
    return {
        "pairs": int(ok.sum()),
        "jump": round(float(excess[i]), 4),
        "step": round(float(step[i]), 4),
        "step_frames": int(gap[i]),
        "at_s": round(float(t[b[i]]), 3),
        "frames": [int(fr[a[i]]), int(fr[b[i]])],
        "other_at_s": round(float(t[other]), 3),
    }


def gradual_change(
    *,
    t_s: np.ndarray,
    frame_index: np.ndarray,
    descriptors: np.ndarray,
    quality: np.ndarray,
    start_s: float,
    end_s: float,
    min_quality: float = 0.3,
    allowed: dict[int, float] | None = None,
    slack_s: float = 0.1,
) -> dict[str, Any] | None:
    """Whether the face changed only a little at a time over ``[start_s, end_s]``, frame after frame.

    ``face_identity`` samples a face a few times a second; a face a hand half covers reads there as another
    person for a sample or two, as a swap dropping does. Where the scan described every frame (a hand at the
    face), the two differ: a swap's other face comes and goes in one frame, a hand moves the descriptor a little
    at a time. Returns None unless described faces (quality ``min_quality`` or more) cover the whole span with no
    more than the largest spacing in ``allowed`` between two of them, starting and ending within ``slack_s`` of
    its ends; else the :func:`identity_jump` record of the span plus ``gradual`` (no step beyond its allowance).
    """
    allow = STEP_ALLOWED if allowed is None else allowed
    t = np.asarray(t_s, dtype=np.float64)
    fr = np.asarray(frame_index, dtype=np.int64)
    x = np.asarray(descriptors, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    rows = _described(t, x, q, start_s - 1e-6, end_s + 1e-6, min_quality)
    if rows.size < 3 or t[rows[0]] > start_s + slack_s or t[rows[-1]] < end_s - slack_s:
        return None
    if int(np.diff(fr[rows]).max()) > max(allow):
        return None
    rec = identity_jump(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=start_s, end_s=end_s,
                        pad_s=0.0, min_quality=min_quality, allowed=allow)  # fmt: skip
    return {**rec, "gradual": bool(rec["jump"] < 0)} if rec else None


def flash_same_face(
    *,
    t_s: np.ndarray,
    frame_index: np.ndarray,
    descriptors: np.ndarray,
    quality: np.ndarray,
    rows_t: np.ndarray,
    run: tuple[float, int],
) -> dict[str, Any] | None:
    """:func:`gradual_change` over a run of frames the pixels read as another face (``face_flash``'s run: its start
    and its analysed rows, ``rows_t`` the analysed rows' times) and one analysed row on either side of it: a swap
    that drops shows another person from the run's first frame to its last, so the descriptor steps into it and
    out of it; a head that turns or a mouth that opens while the hand passes moves it a little at a time. None
    where the descriptors do not cover the run (nothing said either way)."""
    rt = np.asarray(rows_t, dtype=np.float64)
    if rt.size == 0:
        return None
    i0 = int(np.searchsorted(rt, float(run[0]) - 1e-6))
    lo, hi = rt[max(i0 - 1, 0)], rt[min(i0 + int(run[1]), rt.size - 1)]
    return gradual_change(t_s=t_s, frame_index=frame_index, descriptors=descriptors, quality=quality,
                          start_s=float(lo), end_s=float(hi))  # fmt: skip


def _described(t: np.ndarray, x: np.ndarray, q: np.ndarray, lo: float, hi: float, min_quality: float) -> np.ndarray:
    """Rows in ``[lo, hi]`` with a descriptor and quality ``min_quality`` or more."""
    return np.flatnonzero((t >= lo) & (t <= hi) & (q >= min_quality) & np.isfinite(x).all(axis=1))
