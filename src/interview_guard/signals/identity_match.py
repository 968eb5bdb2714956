"""Cross-session identity matching: one descriptor per session and modality, and what a pair's distance means.

Pure numpy. Two modalities:

* ``face``: the robust centroid of the candidate's 128-d face descriptors
  (dlib's embedding, :mod:`interview_guard.signals.face_identity`), the
  candidate being the main person as ``face_identity`` picks it (the longest
  stretch between identity changes, or the one the enrolment photo matches);
  Euclidean distance between two sessions' centroids.
* ``typing``: the keystroke-dynamics profile
  (:mod:`interview_guard.signals.typing_profile`); its NaN-aware scaled L1
  distance.

A pair's *score* is P(same person) from the measured same-person and
different-person distance distributions (class-balanced logistic fits, so at
prior 0.5 it is the likelihood ratio); its *band* is ``strong`` (face only: a
distance under every measured different-person pair, false-match rate <= 0.1 %
on them), ``possible`` (score at least the modality's floor) or ``none``. The
numbers and the pairs behind them: ``docs/identity-matching.md``
(``evaluation/identity_match_measure.py``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from interview_guard.signals import face_identity as fi
from interview_guard.signals import typing_profile as tp

__all__ = [
    "FACE",
    "TYPING",
    "MODALITIES",
    "FACE_MIN_QUALITY",
    "FACE_FULL_QUALITY_FACES",
    "FACE_MIN_FACES",
    "FACE_SAME_PERSON_LOGIT",
    "FACE_STRONG_DISTANCE",
    "POSSIBLE_FLOOR",
    "BANDS",
    "face_session_descriptor",
    "face_distances",
    "typing_distances",
    "pair_distances",
    "distance_matrix",
    "same_person_score",
    "match_band",
    "max_distance_for_score",
]

FACE, TYPING = "face", "typing"
MODALITIES: tuple[str, ...] = (FACE, TYPING)
BANDS: tuple[str, ...] = ("strong", "possible", "none")

#: Faces under this quality are left out (as in ``face_identity``).
FACE_MIN_QUALITY = 0.3
#: Good faces of the candidate at which the descriptor's quality stops growing (``face_identity``'s confidence too).
FACE_FULL_QUALITY_FACES = 30
#: Fewer good faces of the candidate: no face descriptor for the session.
FACE_MIN_FACES = 3

# P(same person) = logistic(a + b * distance) for two sessions' face centroids, fitted
# (typing_profile.fit_same_person_logistic, class-balanced) on the real clips of ../shared/data cut in
# time into sessions (halves and thirds): 81 same-person and 1755 different-person pairs
# (evaluation/identity_match_measure.py, docs/identity-matching.md). P = 0.5 at distance 0.445.
FACE_SAME_PERSON_LOGIT: tuple[float, float] = (10.49, -23.58)
#: Face pairs at most this far apart are ``strong``: under every one of the 1755 measured different-person
#: pairs (smallest 0.443, two East Asian men), so their false-match rate there is 0 (<= 0.1 %); 80 of the 81
#: same-person pairs are under it.
FACE_STRONG_DISTANCE = 0.40
#: Least P(same person) of a ``possible`` pair, per modality. Face 0.1 (distance 0.538): 2.3 % of the measured
#: different-person pairs, all among the East Asian faces, are worth a look; typing 0.9 (distance 0.82): 0.8 % of
#: the Aalto different-typist pairs and 13 of 14 same-typist pairs.
POSSIBLE_FLOOR: dict[str, float] = {FACE: 0.1, TYPING: 0.9}

# the face_identity defaults the candidate is picked with
_CHANGE_DISTANCE = 0.5
_MIN_SEGMENT_ROWS = 5
_MIN_SEGMENT_S = 3.0
_ENROLMENT_DISTANCE = 0.55


def face_session_descriptor(
    *,
    t_s: npt.ArrayLike,
    descriptors: npt.ArrayLike,
    quality: npt.ArrayLike,
    enrolment: npt.ArrayLike | None = None,
    min_quality: float = FACE_MIN_QUALITY,
    change_distance: float = _CHANGE_DISTANCE,
    min_segment_rows: int = _MIN_SEGMENT_ROWS,
    min_segment_s: float = _MIN_SEGMENT_S,
    enrolment_distance: float = _ENROLMENT_DISTANCE,
) -> tuple[npt.NDArray[np.float32] | None, float, int]:
    """The session's face descriptor: the robust centroid of the candidate's good faces.

    The rows are the tracked face's (``IdentityTrack`` rows with ``face == 0``).
    The good ones (quality at least ``min_quality``) are split at identity
    changes (:func:`~interview_guard.signals.face_identity.find_changes` with
    ``face_identity``'s defaults); the candidate is the stretch with the most
    good faces, or the stretch nearest the enrolment photo when it is within
    ``enrolment_distance`` (the enrolled person is the candidate).

    Returns
    -------
    vector : ndarray of float32, shape (128,), or None
        None with fewer than :data:`FACE_MIN_FACES` good faces of the candidate.
    quality : float
        ``median quality of those faces * min(1, faces / FACE_FULL_QUALITY_FACES)``, 0..1.
    faces : int
        Good faces the centroid rests on.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    x = np.asarray(descriptors, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != t.size or q.size != t.size or t.size == 0:
        return None, 0.0, 0
    good = (q >= min_quality) & np.isfinite(x).all(axis=1) & np.isfinite(t)
    if int(good.sum()) < FACE_MIN_FACES:
        return None, 0.0, int(good.sum())
    t, x, q = t[good], x[good], q[good]
    order = np.argsort(t, kind="stable")
    t, x, q = t[order], x[order], q[order]
    _, labels, centres, main = fi.identity_stretches(
        t_s=t,
        descriptors=x,
        quality=q,
        min_quality=min_quality,
        distance=change_distance,
        min_segment_rows=min_segment_rows,
        min_segment_s=min_segment_s,
        enrolment=None if enrolment is None else np.asarray(enrolment),
        enrolment_distance=enrolment_distance,
    )
    rows = labels == main
    n = int(rows.sum())
    if n < FACE_MIN_FACES or not np.isfinite(centres[main]).all():
        return None, 0.0, n
    qual = float(np.median(q[rows])) * min(1.0, n / FACE_FULL_QUALITY_FACES)
    return centres[main].astype(np.float32), float(np.clip(qual, 0.0, 1.0)), n


def face_distances(query: npt.ArrayLike, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Euclidean distance of ``query`` (d,) to each row of ``matrix`` (n, d), shape (n,)."""
    m = np.asarray(matrix, dtype=np.float32)
    v = np.asarray(query, dtype=np.float32).reshape(-1)
    if m.ndim != 2 or m.shape[1] != v.size:
        return np.full(m.shape[0] if m.ndim == 2 else 0, np.nan)
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix-vector product, no (n, d) temporary
    sq = np.einsum("ij,ij->i", m, m) + float(v @ v) - 2.0 * (m @ v)
    out: npt.NDArray[np.float64] = np.sqrt(np.maximum(sq.astype(np.float64), 0.0))
    return out


def typing_distances(query: npt.ArrayLike, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """:func:`~interview_guard.signals.typing_profile.profile_distance` of ``query`` to each row, vectorised.

    NaN where fewer than ``MIN_SHARED`` features are finite in both.
    """
    m = np.asarray(matrix, dtype=np.float64)
    v = np.asarray(query, dtype=np.float64).reshape(-1)
    if m.ndim != 2 or m.shape[1] != v.size or v.size != tp.N_FEATURES:
        return np.full(m.shape[0] if m.ndim == 2 else 0, np.nan)
    w = np.asarray(tp.GROUP_WEIGHTS, dtype=np.float64)[tp.FEATURE_GROUPS]
    both = np.isfinite(m) & np.isfinite(v)[None, :]
    diff = np.where(both, np.abs(np.nan_to_num(m) - np.nan_to_num(v)[None, :]) / tp.FEATURE_SCALES, 0.0)
    wsum = both @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (diff @ w) / wsum
    return np.where(both.sum(axis=1) >= tp.MIN_SHARED, d, np.nan)


def pair_distances(modality: str, query: npt.ArrayLike, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The modality's distance of ``query`` to each row of ``matrix``."""
    if modality == FACE:
        return face_distances(query, matrix)
    if modality == TYPING:
        return typing_distances(query, matrix)
    return np.full(np.asarray(matrix).shape[0], np.nan)


def distance_matrix(modality: str, queries: npt.ArrayLike, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The modality's distance of each query (q, d) to each row (n, d), shape (q, n).

    Face: one matrix product (``|a|^2 + |b|^2 - 2 a.b``) for the whole block; typing: row by row.
    """
    q = np.asarray(queries)
    m = np.asarray(matrix)
    if q.ndim == 1:
        q = q[None]
    n = m.shape[0] if m.ndim == 2 else 0
    if modality == FACE and m.ndim == 2 and q.shape[1] == m.shape[1]:
        mf = m.astype(np.float32, copy=False)
        qf = q.astype(np.float32, copy=False)
        sq = np.einsum("ij,ij->i", mf, mf)[None, :] + np.einsum("ij,ij->i", qf, qf)[:, None] - 2.0 * (qf @ mf.T)
        out: npt.NDArray[np.float64] = np.sqrt(np.maximum(sq.astype(np.float64), 0.0))
        return out
    if modality in MODALITIES:
        return np.stack([pair_distances(modality, v, m) for v in q]) if q.shape[0] else np.zeros((0, n))
    return np.full((q.shape[0], n), np.nan)


def same_person_score(modality: str, distance: float, *, prior: float = 0.5) -> float:
    """P(same person) for a distance of ``modality``; NaN for a NaN distance or an unknown modality."""
    if not np.isfinite(distance):
        return float("nan")
    if modality == TYPING:
        return tp.same_person_probability(float(distance), prior=prior)
    if modality == FACE:
        return tp.same_person_probability(float(distance), prior=prior, params=FACE_SAME_PERSON_LOGIT)
    return float("nan")


def match_band(modality: str, distance: float, score: float) -> str:
    """``strong`` (face at most :data:`FACE_STRONG_DISTANCE`), ``possible`` (score >= the floor) or ``none``.

    Typing is never ``strong`` on its own: its measured false-match rate at any useful threshold is far above 0.1 %.
    """
    if not (np.isfinite(distance) and np.isfinite(score)):
        return "none"
    if modality == FACE and distance <= FACE_STRONG_DISTANCE:
        return "strong"
    if score >= POSSIBLE_FLOOR.get(modality, 1.0):
        return "possible"
    return "none"


def max_distance_for_score(modality: str, score: float) -> float | None:
    """The largest distance whose P(same person) is at least ``score`` (None: every distance, for score <= 0)."""
    if score <= 0.0:
        return None
    if score >= 1.0:
        return 0.0
    a, b = FACE_SAME_PERSON_LOGIT if modality == FACE else tp.SAME_PERSON_LOGIT
    d = (float(np.log(score / (1.0 - score))) - a) / b
    return max(d, 0.0)
