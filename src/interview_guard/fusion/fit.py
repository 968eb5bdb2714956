"""Fitting the fusion on a labelled score table (pure numpy: no file or batch access).

::

    fit_fusion(table)      centres, L2 logistic regression (weights >= 0),
                           stratified k-fold out-of-fold risks, metrics, bands,
                           reliability curve -> CalibrationResult

The fitted model is exactly the one :class:`interview_guard.fusion.model.FusionModel`
evaluates::

    z = intercept + sum_i w_i * c_i * (s_i - centre_i)     (0 for a missing analyzer)

``centre_i`` is fixed to the median score of analyzer ``i`` over the genuine
sessions where it ran; the intercept and the weights are fitted by maximum
likelihood with an L2 penalty on the weights, with every weight >= 0 (a higher
analyzer score must never lower the risk). The table comes from
:func:`interview_guard.pipeline.calibrate.collect_scores`; the result is written
and described by :mod:`interview_guard.fusion.calibration_result` and
:mod:`interview_guard.fusion.calibration_report` (``docs/calibration.md``).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from interview_guard.errors import InputError, ParameterError
from interview_guard.fusion.calibration_result import CalibrationResult
from interview_guard.fusion.fit_metrics import (
    HIGH_MAX,
    HIGH_MIN_GAP,
    MEDIUM_CLAMP,
    detection_metrics,
    reliability_curve,
    round_or_none,
)
from interview_guard.fusion.model import FusionModel
from interview_guard.fusion.score_table import ScoreTable
from interview_guard.signals import metrics as M

__all__ = [
    "fit_fusion",
    "fit_logistic_nonneg",
    "stratified_folds",
    "MEDIUM_CLAMP",
    "HIGH_MAX",
    "HIGH_MIN_GAP",
]

Array = npt.NDArray[np.float64]


def _sigmoid(z: npt.ArrayLike) -> Array:
    """Element-wise logistic as ``(1 + tanh(z / 2)) / 2`` (no overflow for any z; the solver's own rounding).

    Not :mod:`interview_guard.signals.stats`: its forms round differently in the last bit, and the
    fitted parameters are kept bit-identical. A scan evaluates the fitted model with ``stats.logistic``.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def _objective(A: Array, y: Array, beta: Array, l2: float, sw: Array, b0: Array) -> float:
    z = A @ beta
    return float(np.sum(sw * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * np.sum((beta[1:] - b0[1:]) ** 2))


def _newton(
    A: Array,
    y: Array,
    beta: Array,
    free: npt.NDArray[np.bool_],
    l2: float,
    sw: Array,
    b0: Array,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> Array:
    """Minimise the penalised, weighted negative log-likelihood over the free coordinates (others fixed)."""
    idx = np.flatnonzero(free)
    pen = np.full(idx.size, l2)
    pen[idx == 0] = 1e-9  # the intercept is not penalised (tiny ridge for stability only)
    f = _objective(A, y, beta, l2, sw, b0)
    for _ in range(max_iter):
        p = _sigmoid(A @ beta)
        Af = A[:, idx]
        g = Af.T @ (sw * (p - y)) + pen * (beta[idx] - b0[idx])
        H = (Af * (sw * p * (1 - p))[:, None]).T @ Af + np.diag(pen)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while True:
            cand = beta.copy()
            cand[idx] -= t * step
            fc = _objective(A, y, cand, l2, sw, b0)
            if fc <= f + 1e-4 * t * float(g @ -step) or t < 1e-8:
                break
            t *= 0.5
        beta, f_old, f = cand, f, fc
        if np.max(np.abs(t * step)) < tol or abs(f_old - f) < tol * max(1.0, abs(f)):
            break
    return beta


def fit_logistic_nonneg(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    l2: float = 1.0,
    sample_weight: npt.ArrayLike | None = None,
    anchor: npt.ArrayLike | None = None,
    fixed: npt.ArrayLike | None = None,
) -> tuple[float, Array]:
    """L2-penalised logistic regression with non-negative weights.

    Minimises ``sum_n s_n [log(1 + e^z) - y z] + l2/2 * |w - w0|^2`` (``s_n``:
    ``sample_weight``, default 1; ``w0``: ``anchor``, default 0, the weights
    the penalty pulls towards; ``fixed``: a boolean mask of weights held at
    their anchor value, their columns then act as a fixed offset) with
    ``z = b + X w`` subject to ``w >= 0`` (active set: a weight that goes
    negative is fixed at 0 and the rest refitted; a fixed weight is released
    when the gradient says increasing it would lower the objective).

    Returns
    -------
    intercept : float
    weights : np.ndarray, shape (k,)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, k = X.shape
    if l2 <= 0 or not math.isfinite(l2):
        raise ParameterError("l2 must be a positive number (it keeps weights finite on separable data)")
    if n == 0 or y.min() == y.max():
        raise ParameterError("need both genuine and manipulated sessions to fit the fusion")
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sw.shape != (n,) or not np.all(np.isfinite(sw)) or np.any(sw < 0) or sw.sum() <= 0:
        raise ParameterError("sample_weight must be n finite non-negative numbers, not all 0")
    w0 = np.zeros(k) if anchor is None else np.asarray(anchor, dtype=np.float64)
    if w0.shape != (k,) or not np.all(np.isfinite(w0)) or np.any(w0 < 0):
        raise ParameterError("anchor must be k finite non-negative weights")
    b0 = np.r_[0.0, w0]
    A = np.column_stack([np.ones(n), X])
    beta = np.zeros(k + 1)
    ybar = float(np.clip(np.sum(sw * y) / np.sum(sw), 1e-3, 1 - 1e-3))
    beta[0] = math.log(ybar / (1 - ybar))
    free = np.ones(k + 1, bool)
    # an all-zero column carries no information: its weight stays at the anchor
    free[1:] = np.any(X != 0, axis=0)
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=bool)
        if fixed.shape != (k,):
            raise ParameterError("fixed must be a mask of k booleans")
        free[1:] &= ~fixed
    beta[1:][~free[1:]] = w0[~free[1:]]
    active = free.copy()
    for _ in range(4 * k + 10):
        beta = _newton(A, y, beta, active, l2, sw, b0)
        neg = active[1:] & (beta[1:] < 0)
        if neg.any():
            active[1:][neg] = False
            beta[1:][neg] = 0.0
            continue
        grad = X.T @ (sw * (_sigmoid(A @ beta) - y)) + l2 * (beta[1:] - w0)
        release = free[1:] & ~active[1:] & (grad < -1e-7)
        if release.any():
            active[1:][release] = True
            continue
        break
    w = np.maximum(beta[1:], 0.0)
    return float(beta[0]), w


def stratified_folds(y: npt.ArrayLike, folds: int, seed: int) -> npt.NDArray[np.int_]:
    """Fold index (0..folds-1) per sample, each class spread evenly over the folds."""
    y = np.asarray(y, dtype=int)
    rng = np.random.default_rng(seed)
    out = np.empty(y.size, dtype=int)
    offset = 0
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.size)]
        out[idx] = (np.arange(idx.size) + offset) % folds
        offset += idx.size
    return out


def _centres(table: ScoreTable, rows: npt.NDArray[np.bool_], base: FusionModel) -> Array:
    c = np.empty(len(table.analyzers))
    for j, name in enumerate(table.analyzers):
        s = table.scores[rows, j]
        g = s[(table.y[rows] == 0) & np.isfinite(s)]
        c[j] = float(np.median(g)) if g.size else float(base.centres.get(name, base.default_centre))
    return c


def _features(table: ScoreTable, centres: Array) -> Array:
    X = table.confidences * (table.scores - centres[None, :])
    return np.where(np.isfinite(X), X, 0.0)


def _base_weight(base: FusionModel, name: str) -> float:
    return max(0.0, float(base.weights.get(name, base.default_weight)))


def _anchor(table: ScoreTable, base: FusionModel, shrink: str, keep: Iterable[str] = ()) -> Array:
    w = np.array([_base_weight(base, a) if shrink == "base" else 0.0 for a in table.analyzers])
    for j, a in enumerate(table.analyzers):
        if a in keep:
            w[j] = _base_weight(base, a)
    return w


def _fit_rows(
    table: ScoreTable,
    rows: npt.NDArray[np.bool_],
    base: FusionModel,
    l2: float,
    prior: float,
    shrink: str,
    keep: Iterable[str] = (),
) -> tuple[float, Array, Array]:
    """Fit on ``rows`` with the classes weighted equally, then move the intercept to the prior's odds."""
    centres = _centres(table, rows, base)
    for j, a in enumerate(table.analyzers):
        if a in keep:
            centres[j] = float(base.centres.get(a, base.default_centre))
    X = _features(table, centres)
    y = table.y[rows]
    n1 = float(y.sum())
    n0 = float(y.size - n1)
    sw = np.where(y == 1, y.size / (2.0 * n1), y.size / (2.0 * n0))
    fixed = np.array([a in keep for a in table.analyzers])
    b, w = fit_logistic_nonneg(
        X[rows], y, l2=l2, sample_weight=sw, anchor=_anchor(table, base, shrink, keep), fixed=fixed
    )
    return b + math.log(prior / (1.0 - prior)), w, centres


def _risk(table: ScoreTable, b: float, w: Array, centres: Array) -> Array:
    return _sigmoid(b + _features(table, centres) @ w)


def fit_fusion(
    table: ScoreTable,
    *,
    folds: int = 5,
    seed: int = 0,
    l2: float = 0.1,
    fpr: float = 0.05,
    prior: float = 0.5,
    shrink: str = "zero",
    keep_base: Iterable[str] = (),
    base: FusionModel | None = None,
    reliability_bins: int = 10,
    command: str = "",
    created: str | None = None,
) -> CalibrationResult:
    """Fit the fusion on a :class:`ScoreTable` (see the module docstring and ``docs/calibration.md``).

    Parameters
    ----------
    folds : int
        Stratified cross-validation folds for the out-of-fold risks (>= 2;
        lowered to the size of the smaller class when that is smaller).
    seed : int
        Fold assignment.
    l2 : float
        Penalty ``l2/2 * sum w^2`` added to the summed negative log-likelihood.
    fpr : float
        Target false-positive rate for the medium band (the high band uses fpr/5).
    prior : float
        Share of manipulated sessions the risk is stated for. The fit weights
        the two classes equally (so the kind mix of the labelled set does not
        set the intercept) and then moves the intercept to these odds: the
        risk is the probability of manipulation in a population where a
        ``prior`` share of sessions is manipulated. 0.5: even odds.
    shrink : {"zero", "base"}
        What the L2 penalty pulls the weights towards: 0 (the data alone
        decide; a weight the data do not support ends near 0), or the base
        parameter file's weights (a Bayesian prior: a small labelled set moves
        the weights from the base only as far as it has evidence to; with
        more sessions the data win).
    keep_base : sequence of str
        Analyzers whose weight and centre are not fitted but kept at the base
        file's values (their contribution enters the fit as a fixed offset):
        for an analyzer whose labelled material does not represent what it
        is meant to catch, so that the data would mislead its weight. Listed
        in the result and the file's ``source``.
    base : FusionModel, optional
        Source of ``default_weight``/``default_centre`` and of the parameters of
        analyzers that never ran (default: ``FusionModel.load()``).

    Raises
    ------
    ParameterError
        One class only, fewer than 2 sessions of a class, bad settings.
    InputError
        No session where any analyzer ran.
    """
    if not (isinstance(folds, (int, np.integer)) and folds >= 2):
        raise ParameterError("folds must be an integer >= 2")
    if not (0.0 < fpr <= 0.5):
        raise ParameterError("fpr must be in (0, 0.5]")
    if not (0.0 < prior < 1.0):
        raise ParameterError("prior must be in (0, 1)")
    if shrink not in ("zero", "base"):
        raise ParameterError("shrink must be 'zero' or 'base'")
    keep = tuple(dict.fromkeys(keep_base))
    if keep and base is None:  # (was an AttributeError: the names are checked against the base file)
        base = FusionModel.load()
    unknown = [a for a in keep if a not in table.analyzers and (base is None or a not in base.weights)]
    if unknown:
        raise ParameterError(f"keep_base names analyzer(s) in neither the data nor the base file: {', '.join(unknown)}")
    if not (l2 > 0 and math.isfinite(l2)):
        raise ParameterError("l2 must be a positive number (it keeps weights finite on separable data)")
    if base is None:
        base = FusionModel.load()
    warnings: list[str] = []

    # sessions where no analyzer ran get no risk from a scan (band 'unassessed'): not used
    any_ran = table.ran.any(axis=1)
    unassessed = [(table.session_ids[i], "no analyzer produced a score (unassessed)") for i in np.flatnonzero(~any_ran)]
    if unassessed:
        table = table.subset(any_ran)
        table.excluded = sorted(table.excluded + unassessed)
    if table.n == 0:
        raise InputError("no labelled session where any analyzer produced a score", path=table.root or None)
    n0, n1 = int((table.y == 0).sum()), int((table.y == 1).sum())
    if n0 == 0 or n1 == 0:
        only = "genuine" if n1 == 0 else "manipulated"
        raise ParameterError(
            f"all {table.n} usable labelled sessions are {only}; "
            "calibration needs both genuine and manipulated sessions"
        )
    if min(n0, n1) < 2:
        raise ParameterError(
            "need at least 2 genuine and 2 manipulated sessions for cross-validation "
            f"(have {n0} genuine, {n1} manipulated)"
        )
    k_folds = int(min(folds, n0, n1))
    if k_folds < folds:
        warnings.append(f"folds lowered from {folds} to {k_folds} (size of the smaller class)")

    ran = table.ran
    never = [table.analyzers[j] for j in range(len(table.analyzers)) if not ran[:, j].any()]

    fold = stratified_folds(table.y, k_folds, seed)
    oof = np.empty(table.n)
    for f in range(k_folds):
        train = fold != f
        b, w, c = _fit_rows(table, train, base, l2, prior, shrink, keep)
        test = fold == f
        oof[test] = _risk(table.subset(test), b, w, c)

    all_rows = np.ones(table.n, bool)
    b, w, c = _fit_rows(table, all_rows, base, l2, prior, shrink, keep)
    in_sample = _risk(table, b, w, c)

    weights, centres = {}, {}
    for j, name in enumerate(table.analyzers):
        if name in never:
            weights[name] = float(base.weights.get(name, base.default_weight))
            centres[name] = float(base.centres.get(name, base.default_centre))
        else:
            weights[name] = float(w[j])
            centres[name] = float(c[j])
    for name in set(base.weights) - set(weights):  # analyzers the data never mentioned: keep the prior
        weights[name] = float(base.weights[name])
        centres[name] = float(base.centres.get(name, base.default_centre))
        never.append(name)

    # metrics
    per_an = {}
    for j, name in enumerate(table.analyzers):
        m = ran[:, j]
        d = detection_metrics(table.y[m], table.scores[m, j], fpr)
        d["fitted"] = name not in never and name not in keep
        d["kept_base"] = name in keep
        d["weight"] = round_or_none(weights[name], 6)
        d["centre"] = round_or_none(centres[name], 6)
        if d["fitted"] and (d["n_genuine"] == 0 or d["n_manipulated"] == 0):
            warnings.append(
                f"{name} ran only on {'manipulated' if d['n_genuine'] == 0 else 'genuine'} sessions: its weight "
                "is confounded with which modalities the sessions have"
            )
        per_an[name] = d
    for name in sorted(set(weights) - set(per_an)):
        per_an[name] = {
            "n": 0,
            "n_genuine": 0,
            "n_manipulated": 0,
            "auc": None,
            "eer": None,
            "eer_threshold": None,
            "threshold_at_fpr": None,
            "tpr_at_fpr": None,
            "fpr_at_threshold": None,
            "fitted": False,
            "weight": round_or_none(weights[name], 6),
            "centre": round_or_none(centres[name], 6),
            "note": "not in any report",
        }
    if never:
        warnings.append(f"never ran on the labelled sessions, prior weight and centre kept: {', '.join(sorted(never))}")

    fused = detection_metrics(table.y, oof, fpr)
    raw_med = M.threshold_at_fpr(labels=table.y, scores=oof, fpr=fpr)
    raw_high = M.threshold_at_fpr(labels=table.y, scores=oof, fpr=fpr / 5)
    medium = float(np.clip(raw_med, *MEDIUM_CLAMP))
    high = float(np.clip(raw_high, medium + HIGH_MIN_GAP, HIGH_MAX))
    if not math.isfinite(raw_med) or not MEDIUM_CLAMP[0] <= raw_med <= MEDIUM_CLAMP[1]:
        warnings.append(f"medium band: out-of-fold threshold {round_or_none(raw_med)} clamped to {medium:.3f}")

    per_kind = {}
    kinds = sorted({k for ks in table.kinds for k in ks})
    g = table.y == 0
    for kind in kinds:
        m = np.array([kind in ks for ks in table.kinds]) & (table.y == 1)
        sel = g | m
        d = detection_metrics(table.y[sel], oof[sel], fpr)
        by_an = {}
        for j, name in enumerate(table.analyzers):  # each analyzer's own score: which kinds does it see?
            r = sel & ran[:, j]
            if (table.y[r] == 0).any() and (table.y[r] == 1).any():
                by_an[name] = {
                    "n": int(r.sum()),
                    "auc": round_or_none(M.roc_auc(labels=table.y[r], scores=table.scores[r, j])),
                }
        per_kind[kind] = {
            "n_manipulated": int(m.sum()),
            "auc": d["auc"],
            "tpr_at_medium": round_or_none(float((oof[m] >= medium).mean())) if m.any() else None,
            "tpr_at_high": round_or_none(float((oof[m] >= high).mean())) if m.any() else None,
            "analyzer_auc": by_an,
        }

    eps = 1e-12
    rel = {
        "bins": reliability_curve(table.y, oof, reliability_bins),
        "brier": round_or_none(float(np.mean((oof - table.y) ** 2))),
        "log_loss": round_or_none(float(-np.mean(table.y * np.log(oof + eps) + (1 - table.y) * np.log(1 - oof + eps)))),
    }
    decisive = []  # the base's decisive rules are not fitted; how often each fires on the labelled sessions
    for rule in base.decisive:
        fires = np.zeros(table.n, bool)
        if rule.analyzer in table.analyzers:
            j = table.analyzers.index(rule.analyzer)
            with np.errstate(invalid="ignore"):
                fires = (
                    ran[:, j]
                    & (table.scores[:, j] >= rule.min_score)
                    & (table.confidences[:, j] >= rule.min_confidence)
                )
        decisive.append(
            {
                **rule.to_dict(),
                "fires_genuine": int((fires & (table.y == 0)).sum()),
                "fires_manipulated": int((fires & (table.y == 1)).sum()),
            }
        )
        if rule.band == "high" and (fires & (table.y == 0)).any():  # a medium rule asks for a look: not a warning
            warnings.append(
                f"decisive rule {rule.analyzer} >= {rule.min_score:g} (confidence >= {rule.min_confidence:g}) "
                f"fires on {int((fires & (table.y == 0)).sum())} genuine session(s)"
            )
    metrics = {
        "decisive": decisive,
        "analyzers": per_an,
        "fused": fused,
        "in_sample": {"auc": detection_metrics(table.y, in_sample, fpr)["auc"]},
        "per_kind": per_kind,
        "bands": {
            "medium": round_or_none(medium),
            "high": round_or_none(high),
            "raw_medium": round_or_none(raw_med),
            "raw_high": round_or_none(raw_high),
            "rule": f"medium = out-of-fold threshold at FPR {fpr} clamped to [{MEDIUM_CLAMP[0]}, {MEDIUM_CLAMP[1]}]; "
            f"high = threshold at FPR {fpr / 5:g} clamped to [medium + {HIGH_MIN_GAP}, {HIGH_MAX}]",
            "medium_rates": {
                k: round_or_none(v)
                for k, v in M.rates_at_threshold(labels=table.y, scores=oof, threshold=medium).items()
            },
            "high_rates": {
                k: round_or_none(v) for k, v in M.rates_at_threshold(labels=table.y, scores=oof, threshold=high).items()
            },
        },
        "reliability": rel,
        "warnings": warnings,
    }
    settings = {
        "folds": k_folds,
        "folds_requested": int(folds),
        "seed": int(seed),
        "l2": float(l2),
        "fpr": float(fpr),
        "prior": float(prior),
        "shrink": shrink,
        "keep_base": list(keep),
        "reliability_bins": int(reliability_bins),
        "base": {"version": base.version, "path": base.path},
    }
    if created is None:
        created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    return CalibrationResult(
        intercept=float(b),
        weights=weights,
        centres=centres,
        medium=medium,
        high=high,
        default_weight=float(base.default_weight),
        default_centre=float(base.default_centre),
        table=table,
        oof_risk=oof,
        folds=fold,
        metrics=metrics,
        settings=settings,
        created=created,
        command=command,
        decisive=[r.to_dict() for r in base.decisive],
    )
