"""The result of a fusion calibration: fitted parameters, quality numbers, and the files they go to.

:func:`interview_guard.fusion.fit.fit_fusion` returns a :class:`CalibrationResult`;
``result.write(path)`` writes ``path`` (``fusion.json``, loadable by
:class:`~interview_guard.fusion.model.FusionModel`), ``path.report.json`` and
``path.reliability.png``; ``result.format_text()`` is the text report. The plot
and the text are drawn by :mod:`interview_guard.fusion.calibration_report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from interview_guard.atomic import atomic_write_bytes, atomic_write_text
from interview_guard.fusion import calibration_report
from interview_guard.fusion.fit_metrics import round_or_none
from interview_guard.fusion.model import FusionModel
from interview_guard.fusion.score_table import ScoreTable

__all__ = ["CalibrationResult"]


@dataclass
class CalibrationResult:
    """Fitted fusion parameters with their out-of-fold quality numbers."""

    intercept: float
    weights: dict[str, float]  # analyzer -> weight (fitted, or the base prior for an analyzer that never ran)
    centres: dict[str, float]
    medium: float
    high: float
    default_weight: float
    default_centre: float
    table: ScoreTable
    oof_risk: npt.NDArray[np.float64]
    folds: npt.NDArray[np.int_]
    metrics: dict[str, Any]
    settings: dict[str, Any]
    created: str = ""
    command: str = ""
    #: decisive rules (``FusionModel.decisive``), not fitted: carried over from the base parameters
    decisive: list[dict[str, Any]] = field(default_factory=list)

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
        if self.decisive:
            rules = ", ".join(
                f"{r['analyzer']} >= {r['min_score']:g} with confidence >= {r['min_confidence']:g}"
                + (f" (at least {r['band']})" if r.get("band", "high") != "high" else "")
                for r in self.decisive
            )
            txt += f"; decisive rule(s) carried over from the base, not fitted: {rules}"
        return txt

    def fusion_dict(self) -> dict[str, Any]:
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
            **({"decisive": [dict(r) for r in self.decisive]} if self.decisive else {}),
        }

    def fusion_model(self) -> FusionModel:
        return FusionModel.from_dict(self.fusion_dict())

    def report_dict(self) -> dict[str, Any]:
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
                    "oof_risk": round_or_none(self.oof_risk[i]),
                }
                for i, sid in enumerate(t.session_ids)
            ],
        }

    def write(self, path: str | Path) -> dict[str, Path]:
        """Write ``path`` (fusion.json), ``path.report.json`` and ``path.reliability.png`` atomically.

        Returns the paths written, by role.
        """
        p = Path(path)
        text = json.dumps(self.fusion_dict(), indent=2, allow_nan=False) + "\n"
        # validate before replacing anything
        FusionModel.from_dict(json.loads(text), path=p)
        report = Path(str(p) + ".report.json")
        png = Path(str(p) + ".reliability.png")
        atomic_write_text(report, json.dumps(self.report_dict(), indent=2, allow_nan=False) + "\n")
        atomic_write_bytes(png, self.reliability_png())
        atomic_write_text(p, text)
        return {"fusion": p, "report": report, "reliability": png}

    def reliability_png(self) -> bytes:
        """The reliability diagram as PNG bytes (matplotlib, Agg canvas; imported only when drawing)."""
        return calibration_report.reliability_png(self)

    def format_text(self) -> str:
        """The text report (what ``interview-guard calibrate`` prints)."""
        return calibration_report.format_text(self)
