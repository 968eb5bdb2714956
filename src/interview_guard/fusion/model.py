"""Fusion: from analyzer scores to one session risk score and a band.

The model (``docs/fusion.md``) is a logistic combination of the analyzers that
ran::

    z    = intercept + sum_i  w_i * c_i * (s_i - centre_i)
    risk = 1 / (1 + exp(-z))

with ``s_i`` the analyzer score in [0, 1], ``c_i`` its confidence in [0, 1],
``w_i`` its weight and ``centre_i`` the score an analyzer gives a typical
genuine session. An analyzer that was skipped or failed contributes nothing:
its modality is reported as not checked, and the risk rests on what was
checked (the prior ``intercept`` when nothing was). A session where no analyzer
ran gets no score at all (band ``unassessed``), never a reassuring "low".

A model may declare **decisive** rules (``"decisive": [{"analyzer": ...,
"min_score": ..., "min_confidence": ...}]``): evidence that settles the
question on its own, whatever the other analyzers say. When an analyzer that
ran reaches both thresholds of its rule, the risk is raised to at least the
high band's threshold and the band is ``high``; :class:`FusedRisk` keeps the
fused value before the raise (``fused_score``) and the rules that fired. A
rule with ``"band": "medium"`` is evidence that on its own asks for a look: it
raises the risk to at least the medium band's threshold (a risk already higher
stays as it is).

Parameters live in a versioned JSON file (``models/fusion.json`` by default)
that ``interview-guard calibrate`` replaces with fitted values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interview_guard.errors import ModelError
from interview_guard.signals.stats import logistic

__all__ = ["FusionModel", "FusedRisk", "DecisiveRule", "DecisiveHit", "BANDS", "default_fusion_path"]

BANDS = ("low", "medium", "high")
UNASSESSED = "unassessed"
#: The bands a decisive rule may put a session in (at least).
RULE_BANDS = ("medium", "high")


def default_fusion_path() -> Path:
    from interview_guard.io.model_files import models_dir

    return models_dir() / "fusion.json"


@dataclass(frozen=True)
class DecisiveRule:
    """Evidence decisive on its own: ``analyzer`` at ``score >= min_score`` with ``confidence >= min_confidence``
    puts the session at least in ``band`` (``high``, the default; ``medium`` for evidence that asks for a look).

    The analyzer name is not checked against the registry: a rule for an analyzer this version does not
    have never fires.
    """

    analyzer: str
    min_score: float
    min_confidence: float
    band: str = "high"

    def fires(self, score: float, confidence: float) -> bool:
        return score >= self.min_score and confidence >= self.min_confidence

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "analyzer": self.analyzer, "min_score": self.min_score, "min_confidence": self.min_confidence,
        }  # fmt: skip
        if self.band != "high":  # a high rule is written as before band existed
            d["band"] = self.band
        return d

    @classmethod
    def from_dict(cls, d: Any, *, where: str) -> DecisiveRule:
        """One entry of a model file's ``decisive`` list; :class:`ModelError` naming ``where`` when malformed."""
        if not isinstance(d, dict):
            raise ModelError(f"{where} must be an object with analyzer, min_score and min_confidence")
        unknown = sorted(set(d) - {"analyzer", "min_score", "min_confidence", "band"})
        if unknown:
            raise ModelError(f"{where} has unknown field(s): {', '.join(unknown)}")
        name = d.get("analyzer")
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"{where}.analyzer must be a non-empty analyzer name, got {name!r}")
        values = {}
        for key in ("min_score", "min_confidence"):
            v = d.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= float(v) <= 1.0):
                raise ModelError(f"{where}.{key} must be a number in [0, 1], got {v!r}")
            values[key] = float(v)
        band = d.get("band", "high")
        if band not in RULE_BANDS:
            raise ModelError(f"{where}.band must be one of {', '.join(RULE_BANDS)}, got {band!r}")
        return cls(name, values["min_score"], values["min_confidence"], band)


@dataclass(frozen=True)
class DecisiveHit:
    """A decisive rule that fired for one session: the rule and the analyzer's score and confidence."""

    rule: DecisiveRule
    score: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.rule.to_dict(), "score": self.score, "confidence": self.confidence}


@dataclass(frozen=True)
class FusedRisk:
    """Result of fusion for one session.

    ``score`` is the risk the session is reported with; ``fused_score`` the
    logistic fusion before a decisive rule raised it (equal to ``score``
    when none fired); ``decisive`` the rules that fired (each with its band).
    """

    score: float | None
    band: str
    contributions: dict[str, float] = field(default_factory=dict)  # analyzer -> log-odds added
    checked: tuple[str, ...] = ()
    not_checked: tuple[str, ...] = ()
    fused_score: float | None = None
    decisive: tuple[DecisiveHit, ...] = ()


def _check_analyzers(an: Any, path: str | Path | None) -> None:
    """Every entry of ``analyzers`` names a registered analyzer and has a finite weight >= 0 (a fit never gives a
    negative one): a misspelt name left its analyzer on the default weight, and nothing said so."""
    if not isinstance(an, dict):
        raise ModelError(f"{path}: 'analyzers' must be an object of analyzer name -> weight and centre")
    from interview_guard.analyzers import registry

    known = registry()
    unknown = sorted(str(k) for k in an if k not in known)
    if unknown:
        raise ModelError(f"{path}: unknown analyzer(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for k, v in an.items():
        w = v.get("weight") if isinstance(v, dict) else None
        if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
            raise ModelError(f"{path}: analyzers.{k}.weight must be a finite number >= 0, got {w!r}")


@dataclass(frozen=True)
class FusionModel:
    """Logistic fusion with per-analyzer weights and band thresholds.

    Attributes
    ----------
    intercept : float
        Log-odds of risk when no evidence moves it (the prior).
    weights : dict of str to float
        Weight per analyzer name. Analyzers not listed use ``default_weight``.
    centres : dict of str to float
        Score of a typical genuine session per analyzer (default ``default_centre``).
    default_weight, default_centre : float
    medium, high : float
        Risk thresholds of the medium and high bands.
    version : str
        Identifier of this parameter set (written into reports).
    source : str
        How it was made (hand-set prior, or the calibration command).
    decisive : tuple of DecisiveRule
        Evidence that puts a session in the high band on its own (module docstring).
    path : str or None
        File it was read from; ``sha256`` its hash.
    """

    intercept: float = -2.0
    weights: dict[str, float] = field(default_factory=dict)
    centres: dict[str, float] = field(default_factory=dict)
    default_weight: float = 4.0
    default_centre: float = 0.2
    medium: float = 0.4
    high: float = 0.7
    version: str = "builtin"
    source: str = ""
    decisive: tuple[DecisiveRule, ...] = ()
    path: str | None = None
    sha256: str | None = None

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, path: str | Path | None = None, sha256: str | None = None
    ) -> FusionModel:
        try:
            if data.get("model") != "logistic":
                if "model" not in data and {"risk", "analyzers", "session"} & set(data):
                    raise ModelError(
                        f"{path}: a scan report, not a fusion parameter file (the JSON `calibrate` writes, "
                        "or models/fusion.json)"
                    )
                raise ModelError(f"{path}: fusion model must be 'logistic', got {data.get('model')!r}")
            an = data.get("analyzers", {})
            _check_analyzers(an, path)
            weights = {k: float(v["weight"]) for k, v in an.items()}
            centres = {k: float(v.get("centre", data.get("default_centre", 0.2))) for k, v in an.items()}
            bands = data.get("bands", {})
            decisive = data.get("decisive", [])
            if not isinstance(decisive, list):
                raise ModelError(f"{path}: 'decisive' must be a list of rules, got {type(decisive).__name__}")
            rules = tuple(DecisiveRule.from_dict(d, where=f"{path}: decisive[{i}]") for i, d in enumerate(decisive))
            m = cls(
                intercept=float(data["intercept"]),
                weights=weights,
                centres=centres,
                default_weight=float(data.get("default_weight", 4.0)),
                default_centre=float(data.get("default_centre", 0.2)),
                medium=float(bands.get("medium", 0.4)),
                high=float(bands.get("high", 0.7)),
                version=str(data.get("version", "unversioned")),
                source=str(data.get("source", "")),
                decisive=rules,
                path=None if path is None else str(path),
                sha256=sha256,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{path}: malformed fusion parameters ({exc.__class__.__name__}: {exc})") from None
        if not (0.0 < m.medium < m.high < 1.0):
            raise ModelError(f"{path}: bands must satisfy 0 < medium < high < 1")
        values = [m.intercept, m.default_weight, m.default_centre, *m.weights.values(), *m.centres.values()]
        if not all(math.isfinite(v) for v in values):
            raise ModelError(f"{path}: fusion parameters must be finite numbers")
        return m

    @classmethod
    def load(cls, path: str | Path | None = None) -> FusionModel:
        """Read fusion parameters: ``path``, else ``$INTERVIEW_GUARD_FUSION``, else ``models/fusion.json``."""
        p = Path(path or os.environ.get("INTERVIEW_GUARD_FUSION") or default_fusion_path())
        try:
            raw = p.read_bytes()
        except OSError:
            raise ModelError(f"{p}: fusion parameter file not found or unreadable") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{p}: fusion parameters are not valid JSON ({exc.msg}, line {exc.lineno})") from None
        return cls.from_dict(data, path=p, sha256=hashlib.sha256(raw).hexdigest())

    def to_dict(self) -> dict[str, Any]:
        names = sorted(set(self.weights) | set(self.centres))
        d: dict[str, Any] = {
            "model": "logistic",
            "version": self.version,
            "source": self.source,
            "intercept": self.intercept,
            "default_weight": self.default_weight,
            "default_centre": self.default_centre,
            "analyzers": {
                n: {
                    "weight": self.weights.get(n, self.default_weight),
                    "centre": self.centres.get(n, self.default_centre),
                }
                for n in names
            },
            "bands": {"medium": self.medium, "high": self.high},
        }
        if self.decisive:
            d["decisive"] = [r.to_dict() for r in self.decisive]
        return d

    def band(self, risk: float) -> str:
        if risk >= self.high:
            return "high"
        if risk >= self.medium:
            return "medium"
        return "low"

    def fuse(self, results: Iterable[Any]) -> FusedRisk:
        """Fuse analyzer results (anything with name, status, score, confidence)."""
        z = self.intercept
        contributions: dict[str, float] = {}
        checked, not_checked = [], []
        hits: list[DecisiveHit] = []
        for r in results:
            status = getattr(r.status, "value", r.status)
            if status != "ok" or r.score is None:
                not_checked.append(r.name)
                continue
            checked.append(r.name)
            w = self.weights.get(r.name, self.default_weight)
            c0 = self.centres.get(r.name, self.default_centre)
            conf = min(max(float(r.confidence), 0.0), 1.0)
            dz = w * conf * (float(r.score) - c0)
            contributions[r.name] = dz
            z += dz
            for rule in self.decisive:
                if rule.analyzer == r.name and rule.fires(float(r.score), float(r.confidence)):
                    hits.append(DecisiveHit(rule, float(r.score), float(r.confidence)))
        if not checked:
            return FusedRisk(score=None, band=UNASSESSED, checked=(), not_checked=tuple(not_checked))
        fused = logistic(z)
        floor = max((self.high if h.rule.band == "high" else self.medium for h in hits), default=0.0)
        risk = max(fused, floor)
        return FusedRisk(
            score=risk,
            band="high" if any(h.rule.band == "high" for h in hits) else self.band(risk),
            contributions=contributions,
            checked=tuple(checked),
            not_checked=tuple(not_checked),
            fused_score=fused,
            decisive=tuple(hits),
        )
