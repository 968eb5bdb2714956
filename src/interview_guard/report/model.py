"""The session report: one JSON document per scanned session.

:class:`Report` round-trips through JSON (``Report.from_dict(r.to_dict()) ==
r``). Its layout is documented field by field in ``docs/report-schema.md``;
``SCHEMA_VERSION`` changes whenever a field changes meaning or is removed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from interview_guard._version import __version__
from interview_guard.analyzers.base import AnalyzerResult, Evidence, WindowScore
from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InputError

_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes of file names that are not UTF-8 (os.fsdecode)

__all__ = ["SCHEMA_VERSION", "FusionInfo", "Report", "Risk", "SessionInfo", "read_report"]

#: 1.1: risk.fused_score, risk.decisive; 1.2: also_seen_as; 1.3: runtime; 1.4: risk.decisive entries' band (older
#: reports read as is)
SCHEMA_VERSION = "1.5"

#: Size bound of a report: per analyzer at most this many evidence items (the highest-scoring kept) ...
MAX_EVIDENCE_PER_ANALYZER = 200
#: ... and timeline windows (neighbours merged, keeping the higher score, until within it) ...
MAX_WINDOWS_PER_ANALYZER = 2000
#: ... and at most this many warnings (the first ones kept), each at most MAX_WARNING_CHARS long.
MAX_WARNINGS = 100
MAX_WARNING_CHARS = 1000


def _opt_dict(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def _opt_list(value: Any) -> list[Any] | None:
    return None if value is None else list(value)


@dataclass
class SessionInfo:
    """What was scanned: the report's ``session`` object.

    A scanned session has every field (``video`` is None when the session
    has no video); a ``failed`` report only ``id``, ``path`` and
    ``fingerprint``: the other fields are None there and absent from its
    JSON. Keys this version does not know are kept in ``extra`` (and written
    back), so a report read and written again is unchanged.
    """

    id: str = ""
    path: str = ""
    duration_s: float | None = None
    modalities: dict[str, bool] | None = None
    files: dict[str, str] | None = None
    fingerprint: str | None = None
    keystrokes_aligned: bool | None = None
    video: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scanned(self) -> bool:
        """Whether the session was scanned (a failed report records only id, path and fingerprint)."""
        return self.duration_s is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "path": self.path}
        if self.duration_s is not None:
            d["duration_s"] = self.duration_s
        if self.modalities is not None:
            d["modalities"] = self.modalities
        if self.files is not None:
            d["files"] = self.files
        d["fingerprint"] = self.fingerprint
        if self.keystrokes_aligned is not None:
            d["keystrokes_aligned"] = self.keystrokes_aligned
        if self.video is not None or self.scanned:
            d["video"] = self.video
        if self.metadata is not None:
            d["metadata"] = self.metadata
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SessionInfo:
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(
            id=d.get("id") or "",
            path=d.get("path") or "",
            duration_s=d.get("duration_s"),
            modalities=_opt_dict(d.get("modalities")),
            files=_opt_dict(d.get("files")),
            fingerprint=d.get("fingerprint"),
            keystrokes_aligned=d.get("keystrokes_aligned"),
            video=_opt_dict(d.get("video")),
            metadata=_opt_dict(d.get("metadata")),
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass
class FusionInfo:
    """The fusion parameter set a risk was computed with: ``risk.fusion``."""

    version: str | None = None
    path: str | None = None
    sha256: str | None = None
    #: where the bands start: ``{"medium": ..., "high": ...}`` (schema 1.5; None in older reports)
    bands: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": self.version, "path": self.path, "sha256": self.sha256}
        if self.bands is not None:
            d["bands"] = dict(self.bands)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionInfo:
        bands = d.get("bands")
        return cls(
            version=d.get("version"),
            path=d.get("path"),
            sha256=d.get("sha256"),
            bands=None if not isinstance(bands, Mapping) else {str(k): float(v) for k, v in bands.items()},
        )


@dataclass
class Risk:
    """The fused verdict: the report's ``risk`` object.

    ``score`` is None when nothing could be checked. A ``failed`` report
    records only ``score`` and ``band``: the other fields are None there and
    absent from its JSON. ``fused_score`` and ``decisive`` are present only
    when a decisive rule of the fusion model fired (schema 1.1).
    """

    score: float | None = None
    band: str = "unassessed"
    #: log-odds each analyzer added to the risk
    contributions: dict[str, float] | None = None
    #: analyzers whose result entered the score
    checked: list[str] | None = None
    #: analyzers that were skipped or failed
    not_checked: list[str] | None = None
    #: modalities the session does not have
    absent_modalities: list[str] | None = None
    fusion: FusionInfo | None = None
    #: the logistic fusion before a decisive rule raised it to its band
    fused_score: float | None = None
    #: decisive rules that fired: analyzer, min_score, min_confidence, band (medium rules only), and the analyzer's
    #: score and confidence
    decisive: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"score": self.score, "band": self.band}
        if self.contributions is not None:
            d["contributions"] = self.contributions
        if self.checked is not None:
            d["checked"] = self.checked
        if self.not_checked is not None:
            d["not_checked"] = self.not_checked
        if self.absent_modalities is not None:
            d["absent_modalities"] = self.absent_modalities
        if self.fusion is not None:
            d["fusion"] = self.fusion.to_dict()
        if self.fused_score is not None:
            d["fused_score"] = self.fused_score
        if self.decisive is not None:
            d["decisive"] = self.decisive
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Risk:
        known = {f.name for f in fields(cls)} - {"extra"}
        fusion = d.get("fusion")
        return cls(
            score=d.get("score"),
            band=d.get("band") or "unassessed",
            contributions=_opt_dict(d.get("contributions")),
            checked=_opt_list(d.get("checked")),
            not_checked=_opt_list(d.get("not_checked")),
            absent_modalities=_opt_list(d.get("absent_modalities")),
            fusion=None if fusion is None else FusionInfo.from_dict(fusion),
            fused_score=d.get("fused_score"),
            decisive=None if d.get("decisive") is None else [dict(x) for x in d["decisive"]],
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass
class Report:
    """Everything interview-guard says about one session.

    Attributes
    ----------
    session : SessionInfo
        ``id``, ``path``, ``duration_s``, ``modalities`` (video / audio /
        keystrokes: present or not), ``files``, ``fingerprint``, ``metadata``.
    risk : Risk
        ``score`` (None when nothing could be checked), ``band``,
        ``contributions`` (log-odds each analyzer added), ``checked``,
        ``not_checked``, ``absent_modalities``, ``fusion`` (version, path,
        sha256 of the parameters).
    analyzers : dict of str to AnalyzerResult
    models : dict of str to str
        sha256 of each model file, by file name.
    runtime : dict of str to str
        Python, the machine type and the versions of the libraries that decide the numbers (MediaPipe,
        OpenCV, PyAV, numpy, scipy, librosa): the same file and models can measure differently under others.
    status : {"ok", "failed"}
        ``failed`` when the session could not be read at all (then ``error``).
    """

    session: SessionInfo
    risk: Risk = field(default_factory=Risk)
    analyzers: dict[str, AnalyzerResult] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    #: the Python and library versions the scan ran on (schema 1.3; empty in older reports)
    runtime: dict[str, str] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)  # seconds by stage; "analyzers_s" by analyzer
    warnings: list[str] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    created_at: str = ""
    tool_version: str = __version__
    schema_version: str = SCHEMA_VERSION
    #: other candidate ids whose sessions match this one (batch with an identity index; schema 1.2), each
    #: ``{"candidate_id", "session", "modality", "score", "band"}``; None when the session was not matched
    also_seen_as: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self._bound_size()

    def _bound_size(self) -> None:
        """Trim what would make the report unboundedly large, with a warning saying what was trimmed.

        Analyzers already size their windows by the data; this is the last guard, so a report stays
        a few MB whatever the input (a report is never hundreds of MB).
        """
        notes = []
        for name, r in list(self.analyzers.items()):
            ev, wins = r.evidence, r.windows
            if len(ev) > MAX_EVIDENCE_PER_ANALYZER:
                keep = sorted(range(len(ev)), key=lambda i: (-ev[i].score, i))[:MAX_EVIDENCE_PER_ANALYZER]
                ev = tuple(ev[i] for i in sorted(keep))
                notes.append(
                    f"{name}: {len(r.evidence)} evidence items, the {len(ev)} highest-scoring kept (report size bound)"
                )
            if len(wins) > MAX_WINDOWS_PER_ANALYZER:
                wins = _merge_windows(wins, MAX_WINDOWS_PER_ANALYZER)
                notes.append(
                    f"{name}: {len(r.windows)} timeline windows merged into {len(wins)} "
                    "(each keeps the higher score; report size bound)"
                )
            if ev is not r.evidence or wins is not r.windows:
                self.analyzers[name] = dataclasses.replace(r, evidence=ev, windows=wins)
        warnings = [w if len(w) <= MAX_WARNING_CHARS else w[: MAX_WARNING_CHARS - 3] + "..." for w in self.warnings]
        if len(warnings) + len(notes) > MAX_WARNINGS:
            room = max(0, MAX_WARNINGS - len(notes) - 1)
            notes.append(f"{len(warnings) - room} more warnings left out (report size bound)")
            warnings = warnings[:room]
        if notes or warnings != self.warnings:
            self.warnings = warnings + notes

    @property
    def session_id(self) -> str:
        return self.session.id

    @property
    def risk_score(self) -> float | None:
        return self.risk.score

    @property
    def band(self) -> str:
        return self.risk.band

    def evidence(self) -> list[Evidence]:
        """All evidence items of all analyzers, most suspicious first."""
        items = [e for r in self.analyzers.values() for e in r.evidence]
        return sorted(items, key=lambda e: (-e.score, e.start_s))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "created_at": self.created_at,
            "status": self.status,
            "error": self.error,
            "session": self.session.to_dict(),
            "risk": self.risk.to_dict(),
            "analyzers": {name: r.to_dict() for name, r in self.analyzers.items()},
            "models": self.models,
            "runtime": self.runtime,
            "timings": self.timings,
            "warnings": list(self.warnings),
            **({} if self.also_seen_as is None else {"also_seen_as": [dict(x) for x in self.also_seen_as]}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Report:
        if "schema_version" not in d:
            raise InputError("not an interview-guard report (no schema_version)")
        major = str(d.get("schema_version", "")).split(".")[0]
        if major != SCHEMA_VERSION.split(".")[0]:
            raise InputError(
                f"report schema {d.get('schema_version')!r} is not readable by this version ({SCHEMA_VERSION})"
            )
        return cls(
            schema_version=d["schema_version"],
            tool_version=d.get("tool_version", ""),
            created_at=d.get("created_at", ""),
            status=d.get("status", "ok"),
            error=d.get("error"),
            session=SessionInfo.from_dict(d.get("session", {})),
            risk=Risk.from_dict(d.get("risk", {})),
            analyzers={name: AnalyzerResult.from_dict(name, r) for name, r in d.get("analyzers", {}).items()},
            models=dict(d.get("models", {})),
            runtime={str(k): str(v) for k, v in dict(d.get("runtime") or {}).items()},
            timings=dict(d.get("timings", {})),
            warnings=list(d.get("warnings", [])),
            also_seen_as=None if d.get("also_seen_as") is None else [dict(x) for x in d["also_seen_as"]],
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text (UTF-8 safe).

        A file name that is not UTF-8 reaches the report as lone surrogates (``os.fsdecode``), which no UTF-8
        writer accepts; they are written as ``\\udcXX`` escapes, which JSON reads back as the same path.
        """
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically (temp file, then rename)."""
        return atomic_write_text(path, self.to_json())


def _merge_windows(windows: tuple[WindowScore, ...], limit: int) -> tuple[WindowScore, ...]:
    """Neighbouring windows merged pairwise until at most ``limit`` remain (score: the higher; n: the sum)."""
    out = list(windows)
    while len(out) > limit:
        merged = []
        for i in range(0, len(out) - 1, 2):
            a, b = out[i], out[i + 1]
            scores = [s for s in (a.score, b.score) if s is not None]
            merged.append(WindowScore(a.start_s, b.end_s, max(scores) if scores else None, a.n + b.n))
        if len(out) % 2:
            merged.append(out[-1])
        out = merged
    return tuple(out)


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read a report written by :meth:`Report.write`.

    Raises
    ------
    InputError
        Naming the file: missing, not JSON, not a report, or another schema version.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("report file not found", path=p) from None
    except OSError as exc:
        raise InputError(
            f"cannot read the report ({(exc.strerror or exc.__class__.__name__).lower()})", path=p
        ) from None
    except ValueError as exc:
        raise InputError(f"cannot read the report ({exc.__class__.__name__})", path=p) from None
    try:
        return Report.from_json(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not a readable interview-guard report (invalid JSON: {exc.msg}, line {exc.lineno})", path=p
        ) from None
    except InputError as exc:
        raise InputError(str(exc), path=p) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"not a readable interview-guard report ({exc.__class__.__name__})", path=p) from None
