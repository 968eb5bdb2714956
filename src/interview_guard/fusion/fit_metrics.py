"""Quality numbers of a fusion fit: detection metrics and the reliability curve (pure numpy).

Numbers are rounded for the report (:func:`round_or_none`: 4 decimals, None
for a missing or non-finite value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from interview_guard.signals import metrics as M

__all__ = ["round_or_none", "detection_metrics", "reliability_curve", "MEDIUM_CLAMP", "HIGH_MAX", "HIGH_MIN_GAP"]

# How the risk bands follow from the out-of-fold risks (``fit_fusion``): medium = the threshold at the
# target FPR clamped to MEDIUM_CLAMP; high = the threshold at FPR / 5 clamped to [medium + HIGH_MIN_GAP, HIGH_MAX].
MEDIUM_CLAMP = (0.2, 0.6)
HIGH_MAX = 0.95
HIGH_MIN_GAP = 0.05


def round_or_none(x: Any, nd: int = 4) -> float | None:
    """``round(float(x), nd)``; None for None, NaN or infinity."""
    if x is None:
        return None
    v = float(x)
    if not math.isfinite(v):
        return None
    return round(v, nd)


def detection_metrics(y: npt.ArrayLike, s: npt.ArrayLike, fpr: float) -> dict[str, Any]:
    """AUC, EER (+threshold), threshold at fpr and its TPR; None values when one class is missing."""
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=np.float64)
    out: dict[str, Any] = {"n": int(y.size), "n_genuine": int((y == 0).sum()), "n_manipulated": int((y == 1).sum())}
    if out["n_genuine"] == 0 or out["n_manipulated"] == 0:
        out.update(
            auc=None,
            eer=None,
            eer_threshold=None,
            threshold_at_fpr=None,
            tpr_at_fpr=None,
            fpr_at_threshold=None,
            note="needs both genuine and manipulated sessions",
        )
        return out
    eer, eer_thr = M.equal_error_rate(labels=y, scores=s)
    thr = M.threshold_at_fpr(labels=y, scores=s, fpr=fpr)
    rates = M.rates_at_threshold(labels=y, scores=s, threshold=thr)
    out.update(
        auc=round_or_none(M.roc_auc(labels=y, scores=s)),
        eer=round_or_none(eer),
        eer_threshold=round_or_none(eer_thr),
        threshold_at_fpr=round_or_none(thr) if math.isfinite(thr) else None,
        tpr_at_fpr=round_or_none(rates["tpr"]),
        fpr_at_threshold=round_or_none(rates["fpr"]),
    )
    return out


def reliability_curve(y: npt.ArrayLike, risk: npt.ArrayLike, bins: int = 10) -> list[dict[str, Any]]:
    """Predicted risk vs observed manipulated rate in equal-width bins over [0, 1]."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(risk, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        cnt = int(m.sum())
        out.append(
            {
                "lo": round_or_none(edges[b]),
                "hi": round_or_none(edges[b + 1]),
                "n": cnt,
                "mean_risk": round_or_none(p[m].mean()) if cnt else None,
                "observed_rate": round_or_none(y[m].mean()) if cnt else None,
                "n_manipulated": int(y[m].sum()),
            }
        )
    return out
