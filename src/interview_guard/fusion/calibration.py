"""Calibration: fit the fusion parameters on labelled sessions.

Pipeline (``docs/calibration.md``)::

    collect_scores(root)   labelled sessions -> batch scan (resumable) -> ScoreTable
    fit_fusion(table)      centres, L2 logistic regression (weights >= 0),
                           stratified k-fold out-of-fold risks, metrics, bands,
                           reliability curve -> CalibrationResult
    result.write(path)     fusion.json (loadable by FusionModel), path.report.json,
                           path.reliability.png

The fitted model is exactly the one :class:`interview_guard.fusion.model.FusionModel`
evaluates::

    z = intercept + sum_i w_i * c_i * (s_i - centre_i)     (0 for a missing analyzer)

``centre_i`` is fixed to the median score of analyzer ``i`` over the genuine
sessions where it ran; the intercept and the weights are fitted by maximum
likelihood with an L2 penalty on the weights, with every weight >= 0 (a higher
analyzer score must never lower the risk).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from interview_guard.atomic import atomic_write_bytes, atomic_write_text
from interview_guard.errors import InputError, InterviewGuardError, ParameterError

__all__ = [
    "ScoreTable",
    "CalibrationResult",
    "collect_scores",
    "read_label",
    "fit_fusion",
    "fit_logistic_nonneg",
    "stratified_folds",
    "reliability_curve",
    "LABELS",
]

LABELS = {"genuine": 0, "manipulated": 1}
MEDIUM_CLAMP = (0.2, 0.6)
HIGH_MAX = 0.95
HIGH_MIN_GAP = 0.05


# --------------------------------------------------------------------------- data


@dataclass
class ScoreTable:
    """Analyzer scores of labelled sessions.

    Attributes
    ----------
    session_ids : list of str
    y : np.ndarray of int, shape (n,)
        1 manipulated, 0 genuine.
    analyzers : tuple of str
        Column names (k analyzers).
    scores, confidences : np.ndarray, shape (n, k)
        NaN where the analyzer did not run (status ``skipped`` or ``failed``).
    kinds : list of tuple of str
        Manipulation kinds per session (empty for genuine ones).
    excluded : list of (session_id, reason)
        Sessions found but not used: report failed, label missing.
    root : str
        Where the sessions came from (for the model's ``source``).
    """

    session_ids: list
    y: np.ndarray
    analyzers: tuple
    scores: np.ndarray
    confidences: np.ndarray
    kinds: list = field(default_factory=list)
    excluded: list = field(default_factory=list)
    root: str = ""

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=int)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(len(self.y), len(self.analyzers))
        self.confidences = np.asarray(self.confidences, dtype=np.float64).reshape(self.scores.shape)
        self.analyzers = tuple(self.analyzers)
        self.session_ids = list(self.session_ids)
        if len(self.session_ids) != len(self.y):
            raise ParameterError("session_ids and y must have the same length")
        if not self.kinds:
            self.kinds = [() for _ in self.session_ids]
        self.kinds = [tuple(k) for k in self.kinds]
        if not set(np.unique(self.y)) <= {0, 1}:
            raise ParameterError("labels must be 0 (genuine) or 1 (manipulated)")

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def ran(self) -> np.ndarray:
        """(n, k) bool: the analyzer produced a score."""
        return np.isfinite(self.scores)

    def subset(self, mask) -> ScoreTable:
        idx = np.flatnonzero(np.asarray(mask))
        return ScoreTable(
            session_ids=[self.session_ids[i] for i in idx],
            y=self.y[idx],
            analyzers=self.analyzers,
            scores=self.scores[idx],
            confidences=self.confidences[idx],
            kinds=[self.kinds[i] for i in idx],
            excluded=list(self.excluded),
            root=self.root,
        )

    def data_hash(self) -> str:
        """sha256 of the labelled scores (ids, labels, scores, confidences, rounded)."""
        h = hashlib.sha256()
        h.update(("\0".join(self.analyzers) + "\n").encode())
        for i, sid in enumerate(self.session_ids):
            vals = ",".join(
                "nan" if not np.isfinite(v) else f"{v:.6g}" for v in np.r_[self.scores[i], self.confidences[i]]
            )
            h.update(f"{sid}\0{int(self.y[i])}\0{vals}\n".encode())
        return h.hexdigest()


def read_label(path) -> tuple[int, tuple[str, ...]]:
    """Read a ``label.json``: (y, manipulation kinds)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError:
        raise InputError("label file unreadable", path=p) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"label file is not valid JSON ({exc.msg}, line {exc.lineno})", path=p) from None
    if not isinstance(data, dict) or data.get("label") not in LABELS:
        got = data.get("label") if isinstance(data, dict) else data
        raise InputError(f"'label' must be 'genuine' or 'manipulated', got {got!r}", path=p)
    kinds = []
    for m in data.get("manipulations") or []:
        if isinstance(m, dict) and m.get("kind"):
            kinds.append(str(m["kind"]))
    return LABELS[data["label"]], tuple(dict.fromkeys(kinds))


def collect_scores(
    root,
    *,
    jobs: int = 1,
    cache_dir=None,
    reports_dir=None,
    progress: Callable[..., None] | None = None,
    fusion_path=None,
) -> ScoreTable:
    """Scan the labelled sessions under ``root`` and tabulate analyzer scores.

    Sessions are directories holding session files *and* ``label.json``
    (found with :func:`interview_guard.io.session.discover_sessions`; unlabelled
    ones are listed in ``excluded``). The scan is :func:`interview_guard.pipeline.batch.run_batch`
    into ``reports_dir``: a re-run with the same ``reports_dir`` reuses every
    finished report whose input files are unchanged. With ``reports_dir=None``
    a temporary directory is used and removed afterwards.

    Raises
    ------
    InputError
        No labelled session under ``root``, a malformed ``label.json``.
    """
    from interview_guard.io.session import discover_sessions
    from interview_guard.pipeline.batch import run_batch
    from interview_guard.report.model import read_report

    sessions = discover_sessions(root)
    labels: dict[str, tuple[int, tuple]] = {}
    excluded: list[tuple[str, str]] = []
    for sid, path in sessions:
        lp = Path(path) / "label.json" if Path(path).is_dir() else None
        if lp is None or not lp.is_file():
            excluded.append((sid, "no label.json"))
            continue
        labels[sid] = read_label(lp)
    if not labels:
        raise InputError("no labelled sessions (session directories with a label.json)", path=root)

    tmp = None
    if reports_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ig-calibrate-")
        reports_dir = tmp.name
    try:
        run_batch(
            root,
            reports_dir,
            jobs=jobs,
            cache_dir=None if cache_dir is None else str(cache_dir),
            progress=progress,
            fusion_path=None if fusion_path is None else str(fusion_path),
        )
        rows = []
        names: list[str] = []
        for sid, (y, kinds) in sorted(labels.items()):
            rp = Path(reports_dir) / "sessions" / f"{sid}.json"
            try:
                rep = read_report(rp)
            except InterviewGuardError as exc:
                excluded.append((sid, f"report unreadable: {exc}"))
                continue
            if rep.status != "ok":
                excluded.append((sid, f"scan failed: {rep.error}"))
                continue
            vals = {}
            for name, r in rep.analyzers.items():
                if name not in names:
                    names.append(name)
                st = getattr(r.status, "value", r.status)
                if st == "ok" and r.score is not None:
                    vals[name] = (float(r.score), min(max(float(r.confidence), 0.0), 1.0))
            rows.append((sid, y, kinds, vals))
    finally:
        if tmp is not None:
            tmp.cleanup()
    names = sorted(names)
    n, k = len(rows), len(names)
    scores = np.full((n, k), np.nan)
    conf = np.full((n, k), np.nan)
    for i, (_, _, _, vals) in enumerate(rows):
        for j, name in enumerate(names):
            if name in vals:
                scores[i, j], conf[i, j] = vals[name]
    return ScoreTable(
        session_ids=[r[0] for r in rows],
        y=np.array([r[1] for r in rows], dtype=int),
        analyzers=tuple(names),
        scores=scores,
        confidences=conf,
        kinds=[r[2] for r in rows],
        excluded=sorted(excluded),
        root=str(root),
    )


# --------------------------------------------------------------------------- model fit


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def _objective(A, y, beta, l2, sw, b0):
    z = A @ beta
    return float(np.sum(sw * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * np.sum((beta[1:] - b0[1:]) ** 2))


def _newton(A, y, beta, free, l2, sw, b0, max_iter=100, tol=1e-10):
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
    X, y, *, l2: float = 1.0, sample_weight=None, anchor=None, fixed=None
) -> tuple[float, np.ndarray]:
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


def stratified_folds(y, folds: int, seed: int) -> np.ndarray:
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


def _centres(table: ScoreTable, rows, base) -> np.ndarray:
    c = np.empty(len(table.analyzers))
    for j, name in enumerate(table.analyzers):
        s = table.scores[rows, j]
        g = s[(table.y[rows] == 0) & np.isfinite(s)]
        c[j] = float(np.median(g)) if g.size else float(base.centres.get(name, base.default_centre))
    return c


def _features(table: ScoreTable, centres) -> np.ndarray:
    X = table.confidences * (table.scores - centres[None, :])
    return np.where(np.isfinite(X), X, 0.0)


def _base_weight(base, name) -> float:
    return max(0.0, float(base.weights.get(name, base.default_weight)))


def _anchor(table: ScoreTable, base, shrink: str, keep=()) -> np.ndarray:
    w = np.array([_base_weight(base, a) if shrink == "base" else 0.0 for a in table.analyzers])
    for j, a in enumerate(table.analyzers):
        if a in keep:
            w[j] = _base_weight(base, a)
    return w


def _fit_rows(table: ScoreTable, rows, base, l2, prior, shrink, keep=()):
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


def _risk(table: ScoreTable, b, w, centres) -> np.ndarray:
    return _sigmoid(b + _features(table, centres) @ w)


# --------------------------------------------------------------------------- metrics


def _r(x, nd=4):
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return round(x, nd)


def _detection_metrics(y, s, fpr: float) -> dict:
    """AUC, EER (+threshold), threshold at fpr and its TPR; None values when one class is missing."""
    from interview_guard.signals import metrics as M

    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=np.float64)
    out = {"n": int(y.size), "n_genuine": int((y == 0).sum()), "n_manipulated": int((y == 1).sum())}
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
        auc=_r(M.roc_auc(labels=y, scores=s)),
        eer=_r(eer),
        eer_threshold=_r(eer_thr),
        threshold_at_fpr=_r(thr) if math.isfinite(thr) else None,
        tpr_at_fpr=_r(rates["tpr"]),
        fpr_at_threshold=_r(rates["fpr"]),
    )
    return out


def reliability_curve(y, risk, bins: int = 10) -> list[dict]:
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
                "lo": _r(edges[b]),
                "hi": _r(edges[b + 1]),
                "n": cnt,
                "mean_risk": _r(p[m].mean()) if cnt else None,
                "observed_rate": _r(y[m].mean()) if cnt else None,
                "n_manipulated": int(y[m].sum()),
            }
        )
    return out


# --------------------------------------------------------------------------- result


@dataclass
class CalibrationResult:
    """Fitted fusion parameters with their out-of-fold quality numbers."""

    intercept: float
    weights: dict  # analyzer -> weight (fitted, or the base prior for an analyzer that never ran)
    centres: dict
    medium: float
    high: float
    default_weight: float
    default_centre: float
    table: ScoreTable
    oof_risk: np.ndarray
    folds: np.ndarray
    metrics: dict
    settings: dict
    created: str = ""
    command: str = ""

    # -- the fusion.json -----------------------------------------------------

    @property
    def data_sha256(self) -> str:
        return self.table.data_hash()

    @property
    def version(self) -> str:
        return f"calibrated-{self.created[:10]}-{self.data_sha256[:8]}"

    def source(self) -> str:
        t = self.table
        s = self.settings
        kinds = self.metrics["per_kind"]
        kind_txt = ", ".join(f"{k} {v['n_manipulated']}" for k, v in kinds.items()) or "none"
        cmd = self.command or (
            f"interview-guard calibrate {t.root or '(table)'} --folds {s['folds_requested']} --fpr {s['fpr']} "
            f"--l2 {s['l2']} --prior {s.get('prior', 0.5)} --shrink {s.get('shrink', 'zero')} --seed {s['seed']}"
            + "".join(f" --keep-base {a}" for a in s.get("keep_base", []))
        )
        prior = [a for a, m in self.metrics["analyzers"].items() if m["fitted"] is False and not m.get("kept_base")]
        kept = [a for a, m in self.metrics["analyzers"].items() if m.get("kept_base")]
        txt = (
            f"{cmd}: L2 logistic regression (weights >= 0, centres = genuine medians) on "
            f"{int((t.y == 0).sum())} genuine and {int((t.y == 1).sum())} manipulated labelled sessions "
            f"(manipulation kinds: {kind_txt}); {len(t.excluded)} excluded; data sha256 {self.data_sha256[:16]}; "
            f"{self.settings['folds']}-fold out-of-fold fused AUC {self.metrics['fused']['auc']}; "
            f"bands from the out-of-fold thresholds at FPR {s['fpr']} and {s['fpr'] / 5:g}"
        )
        if prior:
            txt += f"; never ran, prior weight kept: {', '.join(prior)}"
        if kept:
            txt += f"; not fitted, base weight and centre kept (--keep-base): {', '.join(kept)}"
        return txt

    def fusion_dict(self) -> dict:
        """The parameters in the ``models/fusion.json`` format (``FusionModel.from_dict``)."""
        return {
            "model": "logistic",
            "version": self.version,
            "source": self.source(),
            "intercept": round(self.intercept, 6),
            "default_weight": round(self.default_weight, 6),
            "default_centre": round(self.default_centre, 6),
            "analyzers": {
                n: {"weight": round(float(self.weights[n]), 6), "centre": round(float(self.centres[n]), 6)}
                for n in sorted(self.weights)
            },
            "bands": {"medium": round(self.medium, 4), "high": round(self.high, 4)},
        }

    def fusion_model(self):
        from interview_guard.fusion.model import FusionModel

        return FusionModel.from_dict(self.fusion_dict())

    def report_dict(self) -> dict:
        t = self.table
        return {
            "fusion": self.fusion_dict(),
            "created_at": self.created,
            "data": {
                "root": t.root,
                "sha256": self.data_sha256,
                "n": t.n,
                "n_genuine": int((t.y == 0).sum()),
                "n_manipulated": int((t.y == 1).sum()),
                "excluded": [{"session": s, "reason": r} for s, r in t.excluded],
            },
            "settings": self.settings,
            "metrics": self.metrics,
            "sessions": [
                {
                    "session": sid,
                    "label": int(t.y[i]),
                    "kinds": list(t.kinds[i]),
                    "fold": int(self.folds[i]),
                    "oof_risk": _r(self.oof_risk[i]),
                }
                for i, sid in enumerate(t.session_ids)
            ],
        }

    def write(self, path) -> dict:
        """Write ``path`` (fusion.json), ``path.report.json`` and ``path.reliability.png`` atomically.

        Returns the paths written, by role.
        """
        p = Path(path)
        text = json.dumps(self.fusion_dict(), indent=2, allow_nan=False) + "\n"
        # validate before replacing anything
        from interview_guard.fusion.model import FusionModel

        FusionModel.from_dict(json.loads(text), path=p)
        report = Path(str(p) + ".report.json")
        png = Path(str(p) + ".reliability.png")
        atomic_write_text(report, json.dumps(self.report_dict(), indent=2, allow_nan=False) + "\n")
        atomic_write_bytes(png, self.reliability_png())
        atomic_write_text(p, text)
        return {"fusion": p, "report": report, "reliability": png}

    def reliability_png(self) -> bytes:
        """The reliability diagram as PNG bytes (matplotlib, Agg canvas; imported here only)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        bins = self.metrics["reliability"]["bins"]
        fig = Figure(figsize=(5.5, 6.5), dpi=100)
        FigureCanvasAgg(fig)
        ax, hx = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
        pts = [(b["mean_risk"], b["observed_rate"], b["n"]) for b in bins if b["n"]]
        if pts:
            xs, ys, ns = zip(*pts)
            ax.plot(xs, ys, color="C0", lw=1)
            ax.scatter(
                xs,
                ys,
                s=[20 + 180 * n / max(ns) for n in ns],
                color="C0",
                zorder=3,
                label="out-of-fold bins (size = count)",
            )
            for x_, y_, n_ in pts:
                ax.annotate(str(n_), (x_, y_), textcoords="offset points", xytext=(5, -10), fontsize=7)
        for v, name in ((self.medium, "medium"), (self.high, "high")):
            ax.axvline(v, color="C3", lw=0.8, ls=":")
            ax.text(v, 0.02, f" {name}", color="C3", fontsize=8, rotation=90, va="bottom")
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("observed manipulated rate")
        f = self.metrics["fused"]
        ax.set_title(f"Fusion reliability ({self.settings['folds']}-fold out-of-fold), AUC {f['auc']}", fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
        y = self.table.y
        edges = np.linspace(0, 1, len(bins) + 1)
        hx.hist(
            [self.oof_risk[y == 0], self.oof_risk[y == 1]],
            bins=edges,
            stacked=True,
            color=["C2", "C3"],
            label=["genuine", "manipulated"],
        )
        hx.set_xlabel("predicted risk")
        hx.set_ylabel("sessions")
        hx.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    def format_text(self) -> str:
        t = self.table
        m = self.metrics
        s = self.settings
        L = []
        L.append(f"Calibration of the fusion on {t.root or 'a score table'}")
        L.append(
            f"  sessions: {t.n} used ({int((t.y == 0).sum())} genuine, {int((t.y == 1).sum())} manipulated), "
            f"{len(t.excluded)} excluded"
        )
        for sid, why in t.excluded[:20]:
            L.append(f"    excluded {sid}: {why}")
        if len(t.excluded) > 20:
            L.append(f"    ... and {len(t.excluded) - 20} more (see the .report.json)")
        L.append(
            f"  model: {s['folds']}-fold stratified CV (seed {s['seed']}), L2 {s['l2']}, classes weighted equally, "
            f"risk stated at prior {s.get('prior', 0.5):g}, weights shrunk towards {s.get('shrink', 'zero')}, "
            f"target FPR {s['fpr']}"
        )
        L.append(f"  version: {self.version}")
        L.append("")
        hdr = (
            f"  {'':24s} {'n':>5s} {'gen':>5s} {'man':>5s} {'AUC':>6s} {'EER':>6s} {'EER thr':>8s} "
            f"{'thr@FPR':>8s} {'TPR':>6s} {'weight':>7s} {'centre':>7s}"
        )
        L.append(hdr)

        def f(v, w, nd=3):
            return f"{'-':>{w}s}" if v is None else f"{v:>{w}.{nd}f}"

        for name, a in m["analyzers"].items():
            L.append(
                f"  {name:24s} {a['n']:5d} {a['n_genuine']:5d} {a['n_manipulated']:5d} {f(a['auc'], 6)} "
                f"{f(a['eer'], 6)} {f(a['eer_threshold'], 8)} {f(a['threshold_at_fpr'], 8)} "
                f"{f(a['tpr_at_fpr'], 6)} {self.weights[name]:7.3f} {self.centres[name]:7.3f}"
                + ("" if a["fitted"] else "  (kept at base)" if a.get("kept_base") else "  (never ran: prior kept)")
            )
        fu = m["fused"]
        L.append(
            f"  {'FUSED (out-of-fold)':24s} {fu['n']:5d} {fu['n_genuine']:5d} {fu['n_manipulated']:5d} "
            f"{f(fu['auc'], 6)} {f(fu['eer'], 6)} {f(fu['eer_threshold'], 8)} {f(fu['threshold_at_fpr'], 8)} "
            f"{f(fu['tpr_at_fpr'], 6)}"
        )
        L.append(
            f"  intercept {self.intercept:.3f}; in-sample fused AUC {m['in_sample']['auc']}; "
            f"out-of-fold Brier {m['reliability']['brier']}, log-loss {m['reliability']['log_loss']}"
        )
        if m["per_kind"]:
            L.append("")
            L.append("  fused out-of-fold AUC per manipulation kind (against all genuine):")
            for k, v in m["per_kind"].items():
                L.append(
                    f"    {k:22s} n={v['n_manipulated']:4d}  AUC {f(v['auc'], 6).strip()}  "
                    f"TPR at medium band {f(v['tpr_at_medium'], 6).strip()}"
                )
            L.append("  each analyzer's own AUC per manipulation kind (against the genuine sessions where it ran):")
            names = list(t.analyzers)
            L.append("    " + f"{'':22s}" + "".join(f"{n[:18]:>20s}" for n in names))
            for k, v in m["per_kind"].items():
                cells = "".join(f"{f(v.get('analyzer_auc', {}).get(n, {}).get('auc'), 6).strip():>20s}" for n in names)
                L.append(f"    {k:22s}{cells}")
        L.append("")
        b = m["bands"]
        L.append(
            f"  bands: medium >= {self.medium:.3f} (out-of-fold threshold at FPR {s['fpr']}: "
            f"{f(b['raw_medium'], 5).strip()}, clamped to [{MEDIUM_CLAMP[0]}, {MEDIUM_CLAMP[1]}]); "
            f"high >= {self.high:.3f} (at FPR {s['fpr'] / 5:g}: {f(b['raw_high'], 5).strip()})"
        )
        L.append(
            f"  at these bands (out-of-fold): medium-or-high flags {f(b['medium_rates']['tpr'], 5).strip()} of "
            f"manipulated, {f(b['medium_rates']['fpr'], 5).strip()} of genuine; high flags "
            f"{f(b['high_rates']['tpr'], 5).strip()} / {f(b['high_rates']['fpr'], 5).strip()}"
        )
        L.append("")
        L.append("  reliability (out-of-fold):   risk bin     n   mean risk  observed")
        for r in m["reliability"]["bins"]:
            L.append(
                f"    {'':24s} {r['lo']:.1f}-{r['hi']:.1f} {r['n']:5d}   {f(r['mean_risk'], 8)}  "
                f"{f(r['observed_rate'], 8)}"
            )
        for w in m["warnings"]:
            L.append(f"  warning: {w}")
        return "\n".join(L) + "\n"


# --------------------------------------------------------------------------- fit


def fit_fusion(
    table: ScoreTable,
    *,
    folds: int = 5,
    seed: int = 0,
    l2: float = 0.1,
    fpr: float = 0.05,
    prior: float = 0.5,
    shrink: str = "zero",
    keep_base=(),
    base=None,
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
    from interview_guard.fusion.model import FusionModel

    if not (isinstance(folds, (int, np.integer)) and folds >= 2):
        raise ParameterError("folds must be an integer >= 2")
    if not (0.0 < fpr <= 0.5):
        raise ParameterError("fpr must be in (0, 0.5]")
    if not (0.0 < prior < 1.0):
        raise ParameterError("prior must be in (0, 1)")
    if shrink not in ("zero", "base"):
        raise ParameterError("shrink must be 'zero' or 'base'")
    keep = tuple(dict.fromkeys(keep_base))
    unknown = [a for a in keep if a not in table.analyzers and a not in base.weights]
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
            f"all {table.n} usable labelled sessions are {only}; calibration needs both genuine and manipulated sessions"
        )
    if min(n0, n1) < 2:
        raise ParameterError(
            f"need at least 2 genuine and 2 manipulated sessions for cross-validation (have {n0} genuine, {n1} manipulated)"
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
        d = _detection_metrics(table.y[m], table.scores[m, j], fpr)
        d["fitted"] = name not in never and name not in keep
        d["kept_base"] = name in keep
        d["weight"] = _r(weights[name], 6)
        d["centre"] = _r(centres[name], 6)
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
            "weight": _r(weights[name], 6),
            "centre": _r(centres[name], 6),
            "note": "not in any report",
        }
    if never:
        warnings.append(f"never ran on the labelled sessions, prior weight and centre kept: {', '.join(sorted(never))}")

    fused = _detection_metrics(table.y, oof, fpr)
    from interview_guard.signals import metrics as M

    raw_med = M.threshold_at_fpr(labels=table.y, scores=oof, fpr=fpr)
    raw_high = M.threshold_at_fpr(labels=table.y, scores=oof, fpr=fpr / 5)
    medium = float(np.clip(raw_med, *MEDIUM_CLAMP))
    high = float(np.clip(raw_high, medium + HIGH_MIN_GAP, HIGH_MAX))
    if not math.isfinite(raw_med) or not MEDIUM_CLAMP[0] <= raw_med <= MEDIUM_CLAMP[1]:
        warnings.append(f"medium band: out-of-fold threshold {_r(raw_med)} clamped to {medium:.3f}")

    per_kind = {}
    kinds = sorted({k for ks in table.kinds for k in ks})
    g = table.y == 0
    for kind in kinds:
        m = np.array([kind in ks for ks in table.kinds]) & (table.y == 1)
        sel = g | m
        d = _detection_metrics(table.y[sel], oof[sel], fpr)
        by_an = {}
        for j, name in enumerate(table.analyzers):  # each analyzer's own score: which kinds does it see?
            r = sel & ran[:, j]
            if (table.y[r] == 0).any() and (table.y[r] == 1).any():
                by_an[name] = {"n": int(r.sum()), "auc": _r(M.roc_auc(labels=table.y[r], scores=table.scores[r, j]))}
        per_kind[kind] = {
            "n_manipulated": int(m.sum()),
            "auc": d["auc"],
            "tpr_at_medium": _r(float((oof[m] >= medium).mean())) if m.any() else None,
            "tpr_at_high": _r(float((oof[m] >= high).mean())) if m.any() else None,
            "analyzer_auc": by_an,
        }

    eps = 1e-12
    rel = {
        "bins": reliability_curve(table.y, oof, reliability_bins),
        "brier": _r(float(np.mean((oof - table.y) ** 2))),
        "log_loss": _r(float(-np.mean(table.y * np.log(oof + eps) + (1 - table.y) * np.log(1 - oof + eps)))),
    }
    metrics = {
        "analyzers": per_an,
        "fused": fused,
        "in_sample": {"auc": _detection_metrics(table.y, in_sample, fpr)["auc"]},
        "per_kind": per_kind,
        "bands": {
            "medium": _r(medium),
            "high": _r(high),
            "raw_medium": _r(raw_med),
            "raw_high": _r(raw_high),
            "rule": f"medium = out-of-fold threshold at FPR {fpr} clamped to [{MEDIUM_CLAMP[0]}, {MEDIUM_CLAMP[1]}]; "
            f"high = threshold at FPR {fpr / 5:g} clamped to [medium + {HIGH_MIN_GAP}, {HIGH_MAX}]",
            "medium_rates": {
                k: _r(v) for k, v in M.rates_at_threshold(labels=table.y, scores=oof, threshold=medium).items()
            },
            "high_rates": {
                k: _r(v) for k, v in M.rates_at_threshold(labels=table.y, scores=oof, threshold=high).items()
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
    )
