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

__all__ = ["roc_curve", "roc_auc", "equal_error_rate", "threshold_at_fpr", "rates_at_threshold"]


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
