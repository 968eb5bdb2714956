"""Face identity over a session: descriptor quality, robust centroids, a change of person, short flashes.

Pure numpy. The descriptors are dlib's 128-d face embedding
(:mod:`interview_guard.io.face_descriptor`): one person's faces lie within
Euclidean distance 0.6, different people beyond it (with the exceptions
measured in ``docs/face-descriptor.md``). The thresholds the analyzer uses
and the distances they come from are in ``docs/face-identity.md``.

Every function takes keyword arguments only and returns an empty result, not
an exception, for degenerate input (no rows, too few good rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interview_guard.signals.stats import logistic_safe

__all__ = [
    "EYE_OUTER",
    "NOSE_TIP",
    "face_quality",
    "robust_centroid",
    "distances",
    "distances_to",
    "find_changes",
    "segment_labels",
    "identity_stretches",
    "find_flashes",
    "cluster_persons",
    "logistic",
    "capped_rate",
]

#: Face-mesh points of the outer eye corners (subject's right, left) and of the nose tip.
EYE_OUTER = (33, 263)
NOSE_TIP = 1

# face_quality: eye distance (px) at which the size factor is 0 and 1; |yaw| at which frontalness is 0
_EYE_PX_LOW, _EYE_PX_HIGH = 15.0, 50.0
_YAW_ZERO = 0.7


def face_quality(*, landmarks: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """How far each face's descriptor can be trusted, 0..1, from its size and how frontal it is.

    ``quality = size_q * frontal_q`` where

    * ``size_q = clip((e - 15) / (50 - 15), 0, 1)``, ``e`` the distance of the
      outer eye corners in pixels of the analysed frame: the descriptor's chip
      puts them 74 px apart, so at ``e = 50`` it is upsampled 1.5x and at
      ``e = 15`` (a face about 35 px wide) 5x, where little identity is left;
    * ``frontal_q = clip(1 - |yaw| / 0.7, 0, 1)``, ``yaw`` the nose tip's
      offset from the eyes' midpoint along the eye line, in half eye
      distances (0 facing the camera, about 1 in profile, where both eye
      corners and the nose line up).

    Parameters
    ----------
    landmarks : ndarray, shape (n, 478, 2 or 3)
        Normalised face-mesh coordinates; NaN rows give quality 0.
    frame_size : (int, int)
        Width and height of the frame the landmarks are normalised to.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[0] == 0 or lm.shape[1] <= max(*EYE_OUTER, NOSE_TIP):
        return np.zeros(lm.shape[0] if lm.ndim >= 1 else 0, np.float32)
    w, h = float(frame_size[0]), float(frame_size[1])
    px = lm[:, :, :2] * np.array([w, h])
    a, b, nose = px[:, EYE_OUTER[0]], px[:, EYE_OUTER[1]], px[:, NOSE_TIP]
    v = b - a
    e = np.hypot(v[:, 0], v[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / e[:, None]
        yaw = np.sum((nose - (a + b) / 2) * u, axis=1) / (e / 2)
        size_q = np.clip((e - _EYE_PX_LOW) / (_EYE_PX_HIGH - _EYE_PX_LOW), 0.0, 1.0)
        frontal_q = np.clip(1.0 - np.abs(yaw) / _YAW_ZERO, 0.0, 1.0)
    q = size_q * frontal_q
    return np.where(np.isfinite(q), q, 0.0).astype(np.float32)


#: Rows of descriptors converted to float64 at a time (128 values: 1 KB a row), so the temporaries of an hour's
#: faces stay a block's, not the session's (each row's result is the one the whole array gives).
_BLOCK_ROWS = 2048


def distances(*, descriptors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Euclidean distance of each descriptor (n, d) to ``centre`` (d,), shape (n,)."""
    x = np.asarray(descriptors)
    if x.size == 0:
        return np.zeros(0)
    c = np.asarray(centre, dtype=np.float64)
    return np.concatenate(
        [
            np.linalg.norm(np.asarray(x[b : b + _BLOCK_ROWS], dtype=np.float64) - c, axis=1)
            for b in range(0, x.shape[0], _BLOCK_ROWS)
        ]
    )


def distances_to(*, descriptors: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Distance of each descriptor (n, d) to the centre of its label: ``centres[labels[i]]``, shape (n,)."""
    x = np.asarray(descriptors)
    c = np.asarray(centres, dtype=np.float64)
    lab = np.asarray(labels)
    if x.shape[0] == 0:
        return np.zeros(0)
    return np.concatenate(
        [
            np.linalg.norm(x[b : b + _BLOCK_ROWS] - c[lab[b : b + _BLOCK_ROWS]], axis=1)
            for b in range(0, x.shape[0], _BLOCK_ROWS)
        ]
    )


def _column_median(x: np.ndarray) -> np.ndarray:
    """``np.median(x as float64, axis=0)``, a block of columns at a time (the median copies what it sorts)."""
    step = max(1, (_BLOCK_ROWS * 16) // max(x.shape[0], 1))
    return np.concatenate(
        [np.median(np.asarray(x[:, j : j + step], dtype=np.float64), axis=0) for j in range(0, x.shape[1], step)]
    )


def _weighted_mean(x: np.ndarray, keep: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``np.average(x[keep] as float64, axis=0, weights=w[keep])``, the same sums, a block of rows at a time.

    The column sums run down the rows in order; each block's rows are added on to the running sums (stacked
    under them), so the additions are those of the whole array's, in the same order.
    """
    wk = w[keep]
    scl = wk.sum(dtype=np.float64)
    acc: np.ndarray | None = None
    for b in range(0, x.shape[0], _BLOCK_ROWS):
        kb = keep[b : b + _BLOCK_ROWS]
        if not kb.any():
            continue
        part = np.multiply(np.asarray(x[b : b + _BLOCK_ROWS][kb], dtype=np.float64), w[b : b + _BLOCK_ROWS][kb, None])
        acc = part.sum(axis=0) if acc is None else np.concatenate([acc[None], part]).sum(axis=0)
    assert acc is not None
    return np.asarray(acc / scl)


def robust_centroid(
    *, descriptors: np.ndarray, weights: np.ndarray | None = None, keep_within: float = 0.5, iterations: int = 3
) -> np.ndarray:
    """The centre of the bulk of a set of descriptors, unmoved by a minority of outliers.

    Starts at the coordinate-wise median, then ``iterations`` times takes the
    (weighted) mean of the rows within ``keep_within`` of the current centre
    (all rows when fewer than two are that close). Computed in float64 a block of rows at a time.

    Parameters
    ----------
    descriptors : ndarray, shape (n, d)
    weights : ndarray, shape (n,), optional
        Non-negative row weights (e.g. quality); equal when omitted.
    keep_within : float
    iterations : int

    Returns
    -------
    ndarray of float64, shape (d,)
        NaN-filled when ``n`` is 0.
    """
    x = np.asarray(descriptors)
    if x.ndim != 2 or x.shape[0] == 0:
        return np.full(x.shape[-1] if x.ndim == 2 else 0, np.nan)
    w = np.ones(x.shape[0]) if weights is None else np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if not np.any(w > 0):
        w = np.ones(x.shape[0])
    c = _column_median(x)
    for _ in range(max(int(iterations), 0)):
        d = distances(descriptors=x, centre=c)
        keep = (d <= keep_within) & (w > 0)
        if keep.sum() < 2:
            break
        c = _weighted_mean(x, keep, w)
    return np.asarray(c)


def _split_cost(x: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """For each split k (0..n): rows before k nearer ``cb`` plus rows from k on nearer ``ca``."""
    nearer_b = distances(descriptors=x, centre=cb) < distances(descriptors=x, centre=ca)
    before = np.concatenate([[0], np.cumsum(nearer_b)])
    after = np.concatenate([np.cumsum((~nearer_b)[::-1])[::-1], [0]])
    return np.asarray(before + after)


def _best_split(
    t: np.ndarray, x: np.ndarray, w: np.ndarray, *, min_rows: int, min_s: float, candidates: int
) -> tuple[int, float, np.ndarray, np.ndarray] | None:
    n = x.shape[0]
    ks = [k for k in range(min_rows, n - min_rows + 1) if t[k - 1] - t[0] >= min_s and t[-1] - t[k] >= min_s]
    if not ks:
        return None
    tried = ks if len(ks) <= candidates else [ks[int(i)] for i in np.linspace(0, len(ks) - 1, candidates).round()]
    best: tuple[int, float, np.ndarray, np.ndarray] | None = None
    for k in tried:
        ca = robust_centroid(descriptors=x[:k], weights=w[:k])
        cb = robust_centroid(descriptors=x[k:], weights=w[k:])
        d = float(np.linalg.norm(ca - cb))
        if best is None or d > best[1]:
            best = (k, d, ca, cb)
    assert best is not None
    # refine, over every admissible split: the one that leaves the fewest rows on the side of the other person
    _, _, ca, cb = best
    cost = _split_cost(x, ca, cb)
    allowed = np.zeros(n + 1, bool)
    allowed[ks] = True
    cost = np.where(allowed, cost, n + 1)
    k = int(np.argmin(cost))
    ca = robust_centroid(descriptors=x[:k], weights=w[:k])
    cb = robust_centroid(descriptors=x[k:], weights=w[k:])
    return k, float(np.linalg.norm(ca - cb)), ca, cb


def find_changes(
    *,
    t_s: np.ndarray,
    descriptors: np.ndarray,
    quality: np.ndarray,
    min_quality: float = 0.3,
    distance: float = 0.6,
    min_segment_rows: int = 5,
    min_segment_s: float = 2.0,
    min_consistency: float = 0.6,
    max_changes: int = 3,
    candidates: int = 48,
) -> list[dict[str, Any]]:
    """Moments the person changes: the descriptors before and after belong to two people.

    Binary segmentation over the rows of at least ``min_quality``, in time
    order: the split whose two sides' robust centroids lie furthest apart is
    refined to the split that leaves the fewest rows nearer the other side's
    centroid; it is a change when the centroids are at least ``distance``
    apart, each side has ``min_segment_rows`` rows over ``min_segment_s``
    seconds, and at least ``min_consistency`` of each side's rows lie within
    ``distance`` of their own centroid (one person per side, not a blur of
    many). Each side is then searched again, up to ``max_changes`` changes.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Row times, non-decreasing.
    descriptors : ndarray, shape (n, d)
    quality : ndarray, shape (n,)

    Returns
    -------
    list of dict
        In time order: ``row`` (index into the input of the first row after
        the change), ``t_s`` (midway between the last row before and the
        first after), ``before_s``, ``after_s``, ``distance`` (between the
        centroids), ``rows_before``, ``rows_after``, ``consistency_before``,
        ``consistency_after``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    x = np.asarray(descriptors)  # float32 kept: every use below meets a float64 centre (the same values)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if t.ndim != 1 or x.ndim != 2 or x.shape[0] != t.shape[0] or q.shape != t.shape:
        return []
    good = np.flatnonzero((q >= min_quality) & np.isfinite(x).all(axis=1))
    out: list[dict[str, Any]] = []
    todo = [(0, good.size)]
    while todo and len(out) < max_changes:
        lo, hi = todo.pop(0)
        rows = good[lo:hi]
        if rows.size < 2 * max(min_segment_rows, 1):
            continue
        found = _best_split(
            t[rows], x[rows], q[rows], min_rows=max(min_segment_rows, 1), min_s=min_segment_s, candidates=candidates
        )
        if found is None:
            continue
        k, d, ca, cb = found
        if d < distance:
            continue
        cons_a = float(np.mean(distances(descriptors=x[rows[:k]], centre=ca) < distance))
        cons_b = float(np.mean(distances(descriptors=x[rows[k:]], centre=cb) < distance))
        if min(cons_a, cons_b) < min_consistency:
            continue
        before, after = float(t[rows[k - 1]]), float(t[rows[k]])
        out.append(
            {
                "row": int(rows[k]),
                "t_s": round(0.5 * (before + after), 3),
                "before_s": round(before, 3),
                "after_s": round(after, 3),
                "distance": round(d, 4),
                "rows_before": int(k),
                "rows_after": int(rows.size - k),
                "consistency_before": round(cons_a, 3),
                "consistency_after": round(cons_b, 3),
            }
        )
        todo += [(lo, lo + k), (lo + k, hi)]
    out.sort(key=lambda c: c["t_s"])
    return out


def segment_labels(*, n: int, change_rows: list[int]) -> np.ndarray:
    """Segment number of each of ``n`` rows, given the first row of each new segment, shape (n,)."""
    labels = np.zeros(max(int(n), 0), np.int64)
    for r in sorted(change_rows):
        if 0 <= r < n:
            labels[r:] += 1
    return labels


def identity_stretches(
    *,
    t_s: np.ndarray,
    descriptors: np.ndarray,
    quality: np.ndarray,
    min_quality: float,
    distance: float,
    min_segment_rows: int,
    min_segment_s: float,
    enrolment: np.ndarray | None = None,
    enrolment_distance: float = 0.55,
) -> tuple[list[dict[str, Any]], np.ndarray, list[np.ndarray], int]:
    """The stretches of one person between identity changes, and which one is the candidate.

    Rows in time order. Changes are :func:`find_changes`'; each stretch's centre is its quality-weighted
    :func:`robust_centroid`. The candidate is the stretch with the most rows, or, when an ``enrolment``
    descriptor lies within ``enrolment_distance`` of a stretch's centre, the nearest such stretch (the enrolled
    person is the candidate when they are on camera).

    Returns
    -------
    changes : list of dict
    labels : ndarray of int64, shape (n,)
        The stretch of each row.
    centres : list of ndarray, shape (128,)
    main : int
        The candidate's stretch.
    """
    changes = find_changes(
        t_s=t_s,
        descriptors=descriptors,
        quality=quality,
        min_quality=min_quality,
        distance=distance,
        min_segment_rows=min_segment_rows,
        min_segment_s=min_segment_s,
    )
    n = int(np.asarray(t_s).shape[0])
    labels = segment_labels(n=n, change_rows=[int(c["row"]) for c in changes])
    k = len(changes) + 1
    centres = [robust_centroid(descriptors=descriptors[labels == i], weights=quality[labels == i]) for i in range(k)]
    main = int(np.argmax([int((labels == i).sum()) for i in range(k)]))
    if enrolment is not None:
        e = np.asarray(enrolment, dtype=np.float64).reshape(-1)
        if e.shape == (descriptors.shape[1],) and np.isfinite(e).all():
            d = [float(np.linalg.norm(c - e)) for c in centres]
            if min(d) < enrolment_distance:
                main = int(np.argmin(d))
    return changes, labels, centres, main


def find_flashes(
    *,
    t_s: np.ndarray,
    distance: np.ndarray,
    quality: np.ndarray,
    far: float = 0.6,
    strong: float = 0.8,
    min_quality: float = 0.3,
    good_quality: float = 0.6,
    max_flash_s: float = 2.0,
    max_gap_s: float = 1.5,
) -> list[dict[str, Any]]:
    """Short runs of another identity between stretches of the main one.

    Rows under ``min_quality`` are left out (a small or turned face says
    nothing). A *flash* is a maximal run of consecutive remaining rows whose
    distance to the main identity exceeds ``far``, lasting at most
    ``max_flash_s``, with a row of the main identity (distance at most
    ``far``) before it and after it, each within ``max_gap_s`` of the run,
    and either two or more rows whose median distance exceeds ``far``, or a
    single row at least ``strong`` away with quality at least
    ``good_quality``.

    Parameters
    ----------
    t_s, distance, quality : ndarray, shape (n,)
        Row times (non-decreasing), distance of each row's descriptor to the
        main identity, and row quality.

    Returns
    -------
    list of dict
        ``rows`` (input indices), ``start_s``, ``end_s``, ``before_s``,
        ``after_s`` (the main identity's rows either side), ``distance``
        (median over the run), ``max_distance``, ``quality`` (median).
    """
    t = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(distance, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if t.ndim != 1 or d.shape != t.shape or q.shape != t.shape or t.size < 3:
        return []
    idx = np.flatnonzero((q >= min_quality) & np.isfinite(d))
    if idx.size < 3:
        return []
    off = d[idx] > far
    out: list[dict[str, Any]] = []
    i = 0
    m = idx.size
    while i < m:
        if not off[i]:
            i += 1
            continue
        j = i
        while j + 1 < m and off[j + 1]:
            j += 1
        run = idx[i : j + 1]
        prev_i, next_i = i - 1, j + 1
        i = j + 1
        if prev_i < 0 or next_i >= m:
            continue
        before, after = float(t[idx[prev_i]]), float(t[idx[next_i]])
        start, end = float(t[run[0]]), float(t[run[-1]])
        if end - start > max_flash_s or start - before > max_gap_s or after - end > max_gap_s:
            continue
        med = float(np.median(d[run]))
        if run.size >= 2:
            ok = med > far
        else:
            ok = med >= strong and float(q[run[0]]) >= good_quality
        if not ok:
            continue
        out.append(
            {
                "rows": [int(r) for r in run],
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "before_s": round(before, 3),
                "after_s": round(after, 3),
                "distance": round(med, 4),
                "max_distance": round(float(np.max(d[run])), 4),
                "quality": round(float(np.median(q[run])), 3),
            }
        )
    return out


def cluster_persons(
    *, descriptors: np.ndarray, quality: np.ndarray, min_quality: float = 0.3, distance: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Group faces into persons: descriptors within ``distance`` of a person's centroid are that person.

    Leader clustering in order of decreasing quality (each face joins the
    nearest person whose centroid is within ``distance``, else starts a new
    one), then two rounds of re-centring (robust centroids) and re-assigning,
    and persons whose centroids end up within ``distance`` merged.
    Deterministic; faces under ``min_quality`` get label -1.

    Parameters
    ----------
    descriptors : ndarray, shape (n, d)
    quality : ndarray, shape (n,)

    Returns
    -------
    labels : ndarray of int64, shape (n,)
        Person of each face (0, 1, ... in order of first appearance in the
        input), -1 for faces left out.
    centres : ndarray of float64, shape (k, d)
    """
    x = np.asarray(descriptors, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    n = x.shape[0] if x.ndim == 2 else 0
    labels = np.full(n, -1, np.int64)
    if n == 0 or q.shape != (n,):
        return labels, np.zeros((0, x.shape[1] if x.ndim == 2 else 0))
    good = np.flatnonzero((q >= min_quality) & np.isfinite(x).all(axis=1))
    if good.size == 0:
        return labels, np.zeros((0, x.shape[1]))
    order = good[np.argsort(-q[good], kind="stable")]
    sums: list[np.ndarray] = []
    counts: list[int] = []
    for r in order:
        if sums:
            cents = np.stack(sums) / np.asarray(counts, dtype=np.float64)[:, None]
            dd = np.linalg.norm(cents - x[r], axis=1)
            k = int(np.argmin(dd))
            if dd[k] < distance:
                sums[k] = sums[k] + x[r]
                counts[k] += 1
                labels[r] = k
                continue
        sums.append(x[r].copy())
        counts.append(1)
        labels[r] = len(sums) - 1
    centres = np.stack(sums) / np.asarray(counts, dtype=np.float64)[:, None]
    for _ in range(2):
        centres = np.stack(
            [
                robust_centroid(descriptors=x[labels == k], weights=q[labels == k]) if np.any(labels == k) else c
                for k, c in enumerate(centres)
            ]
        )
        # merge persons whose centres are one person's
        keep: list[int] = []
        for k in range(len(centres)):
            if any(np.linalg.norm(centres[k] - centres[j]) < distance for j in keep):
                continue
            keep.append(k)
        centres = centres[keep]
        dd = np.linalg.norm(x[good][:, None, :] - centres[None], axis=2)
        labels[good] = np.argmin(dd, axis=1)
    # number persons by first appearance
    used = [int(v) for v in dict.fromkeys(labels[labels >= 0].tolist())]
    remap = {old: new for new, old in enumerate(used)}
    out = np.array([remap.get(int(v), -1) for v in labels], dtype=np.int64)
    return out, centres[used]


def logistic(*, x: float, centre: float, width: float) -> float:
    """``1 / (1 + exp(-(x - centre) / width))``: 0.5 at ``centre``, 0.73 one ``width`` above it."""
    return logistic_safe((float(x) - float(centre)) / max(float(width), 1e-9))


def capped_rate(*, t_s: np.ndarray, dense: np.ndarray, fps: float, tol: float = 1.0 / 120.0) -> np.ndarray:
    """Which rows to keep so that dense rows come at most ``fps`` times a second (base-rate rows all kept).

    The scan describes every landmarked frame while a hand is at the face (for ``face_occlusion``); the identity
    checks read them at the rate their thresholds were set at: a face a hand half covers, described frame after
    frame, reads as another person as often as a swap dropping does (#13 round 17: genuine waves with a flash
    8 -> 42 of 156 at every frame). A dense row is kept when it comes ``1 / fps - tol`` or more after the last kept
    dense row.
    """
    t = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(dense, dtype=bool)
    keep = ~d
    last = -np.inf
    for i in np.flatnonzero(d):
        if t[i] - last >= 1.0 / fps - tol:
            keep[i], last = True, t[i]
    return keep
