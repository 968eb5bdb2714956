"""Detection-quality metrics (pure numpy): ROC curve, AUC, EER, thresholds.

Labels are 1 for a manipulated (positive) session, 0 for a genuine one; scores
are higher for more suspicious. Ties are handled exactly (AUC counts a tie as
half a correct ordering).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from interview_guard.errors import ParameterError

__all__ = [
    "roc_curve",
    "roc_auc",
    "auc_interval",
    "auc_difference_interval",
    "equal_error_rate",
    "threshold_at_fpr",
    "rates_at_threshold",
]


def _check(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ParameterError("labels and scores must be 1-d arrays of the same length")
    if not np.all(np.isfinite(s)):
        raise ParameterError("scores must be finite")
    if not set(np.unique(y)) <= {0, 1}:
        raise ParameterError("labels must be 0 (genuine) or 1 (manipulated)")
    if y.min(initial=1) == y.max(initial=0):
        raise ParameterError("need both genuine (0) and manipulated (1) examples")
    return y, s


def roc_curve(
    *, labels: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """False- and true-positive rates at every distinct threshold.

    Returns
    -------
    fpr, tpr, thresholds : np.ndarray
        ``score >= thresholds[i]`` is called positive; the first point is
        (0, 0) at threshold +inf, the last (1, 1).
    """
    y, s = _check(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.flatnonzero(np.diff(s)) if s.size > 1 else np.array([], int)
    idx = np.r_[distinct, s.size - 1]
    tps = np.cumsum(y)[idx]
    fps = (idx + 1) - tps
    tpr = np.r_[0.0, tps / y.sum()]
    fpr = np.r_[0.0, fps / (y.size - y.sum())]
    thr = np.r_[np.inf, s[idx]]
    return fpr, tpr, thr


def roc_auc(*, labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve (probability a positive outranks a negative)."""
    y, s = _check(labels, scores)
    from scipy.stats import rankdata

    r = rankdata(s)
    n1 = y.sum()
    n0 = y.size - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def equal_error_rate(*, labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[float, float]:
    """Equal error rate and the threshold where FPR = FNR (linear interpolation)."""
    fpr, tpr, thr = roc_curve(labels=labels, scores=scores)
    fnr = 1.0 - tpr
    d = fpr - fnr
    i = int(np.flatnonzero(d >= 0)[0])
    if i == 0 or d[i] == 0:
        return float(fpr[i]), float(thr[i])
    a = d[i - 1] / (d[i - 1] - d[i])
    eer = fpr[i - 1] + a * (fpr[i] - fpr[i - 1])
    t_hi = thr[i - 1] if np.isfinite(thr[i - 1]) else thr[i]
    return float(eer), float(t_hi + a * (thr[i] - t_hi))


def threshold_at_fpr(*, labels: npt.ArrayLike, scores: npt.ArrayLike, fpr: float) -> float:
    """Lowest threshold whose false-positive rate does not exceed ``fpr``."""
    if not 0.0 <= fpr <= 1.0:
        raise ParameterError("fpr must be in [0, 1]")
    f, _, thr = roc_curve(labels=labels, scores=scores)
    ok = np.flatnonzero(f <= fpr)
    return float(thr[ok[-1]])


def rates_at_threshold(*, labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float) -> dict[str, float]:
    """True- and false-positive rates when ``score >= threshold`` is flagged."""
    y, s = _check(labels, scores)
    flag = s >= threshold
    return {
        "tpr": float(flag[y == 1].mean()),
        "fpr": float(flag[y == 0].mean()),
        "threshold": float(threshold),
    }


def _group_index(groups: npt.ArrayLike | None, n: int) -> list[npt.NDArray[np.intp]]:
    """Row numbers of each group (each row its own group when ``groups`` is None)."""
    if groups is None:
        return [np.array([i]) for i in range(n)]
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ParameterError("groups must give one group per score")
    _, inverse = np.unique(g, return_inverse=True)
    return [np.flatnonzero(inverse == k) for k in range(int(inverse.max()) + 1)]


def _boot_aucs(
    y: npt.NDArray[Any], columns: list[npt.NDArray[np.float64]], groups: npt.ArrayLike | None, n_boot: int, seed: int
) -> npt.NDArray[np.float64]:
    """AUC of each score column on ``n_boot`` resamples of the groups (with replacement); (n_boot, columns).

    A resample is a count per session (how often its group was drawn); the AUC of a resample is the
    count-weighted share of (manipulated, genuine) pairs ranked right, ties half, so all resamples are one
    matrix product. Resamples that hold one class only are drawn again.
    """
    members = _group_index(groups, y.size)
    rng = np.random.default_rng(seed)
    of_group = np.empty(y.size, np.intp)
    for k, rows in enumerate(members):
        of_group[rows] = k
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    wins = [np.sign(s[pos][:, None] - s[neg][None, :]) * 0.5 + 0.5 for s in columns]  # 1, 0.5 or 0 per pair
    out = np.empty((0, len(columns)))
    for _ in range(20):
        draws = rng.integers(0, len(members), (n_boot, len(members)))
        per_group = np.zeros((n_boot, len(members)))
        np.add.at(per_group, (np.arange(n_boot)[:, None], draws), 1.0)
        w = per_group[:, of_group]  # (n_boot, sessions): how often each session is in the resample
        wp, wn = w[:, pos], w[:, neg]
        den = wp.sum(axis=1) * wn.sum(axis=1)
        ok = den > 0
        aucs = np.stack([np.einsum("bi,ij,bj->b", wp[ok], c, wn[ok]) / den[ok] for c in wins], axis=1)
        out = np.concatenate([out, aucs])[:n_boot]
        if out.shape[0] == n_boot:
            return out
    raise ParameterError("too few groups hold both genuine and manipulated examples to resample")


def _check_level(level: float, n_boot: int) -> None:
    if not 0.0 < level < 1.0:
        raise ParameterError("level must be between 0 and 1")
    if n_boot < 100:
        raise ParameterError("n_boot must be at least 100")


def _percentile_interval(values: npt.NDArray[np.float64], level: float) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap values (percentile method)."""
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return float(lo), float(hi)


def auc_interval(
    *,
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    groups: npt.ArrayLike | None = None,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The AUC and a percentile bootstrap interval for it: ``(auc, low, high)``.

    ``groups`` (one label per score, e.g. the person or clip a session was made from) makes the bootstrap
    resample whole groups, so sessions that share a source are not counted as independent evidence; without
    it every score is its own group. Resamples that hold only one class are drawn again. Deterministic for a
    given ``seed``.
    """
    y, s = _check(labels, scores)
    _check_level(level, n_boot)
    lo, hi = _percentile_interval(_boot_aucs(y, [s], groups, n_boot, seed)[:, 0], level)
    return roc_auc(labels=y, scores=s), lo, hi


def auc_difference_interval(
    *,
    labels: npt.ArrayLike,
    scores_a: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    groups: npt.ArrayLike | None = None,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """AUC(a) - AUC(b) on the same sessions and a paired bootstrap interval for it: ``(diff, low, high)``.

    Both score columns are resampled together (the same groups in every resample), so what the two detectors
    share (the same hard sessions) cancels out; an interval that holds 0 says the data do not tell them apart.
    """
    y, a_s = _check(labels, scores_a)
    _, b_s = _check(labels, scores_b)
    if b_s.shape != a_s.shape:
        raise ParameterError("scores_a and scores_b must score the same sessions")
    _check_level(level, n_boot)
    boot = _boot_aucs(y, [a_s, b_s], groups, n_boot, seed)
    lo, hi = _percentile_interval(boot[:, 0] - boot[:, 1], level)
    return roc_auc(labels=y, scores=a_s) - roc_auc(labels=y, scores=b_s), lo, hi
