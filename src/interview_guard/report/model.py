"""The session report: one JSON document per scanned session.

:class:`Report` round-trips through JSON (``Report.from_dict(r.to_dict()) ==
r``). Its layout is documented field by field in ``docs/report-schema.md``;
``SCHEMA_VERSION`` changes whenever a field changes meaning or is removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from interview_guard._version import __version__
from interview_guard.analyzers.base import AnalyzerResult
from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InputError

__all__ = ["SCHEMA_VERSION", "Report", "read_report"]

SCHEMA_VERSION = "1.0"


@dataclass
class Report:
    """Everything interview-guard says about one session.

    Attributes
    ----------
    session : dict
        ``id``, ``path``, ``duration_s``, ``modalities`` (video / audio /
        keystrokes: present or not), ``files``, ``fingerprint``, ``metadata``.
    risk : dict
        ``score`` (None when nothing could be checked), ``band``,
        ``contributions`` (log-odds each analyzer added), ``checked``,
        ``not_checked``, ``fusion`` (version, path, sha256 of the parameters).
    analyzers : dict of str to AnalyzerResult
    status : {"ok", "failed"}
        ``failed`` when the session could not be read at all (then ``error``).
    """

    session: dict
    risk: dict = field(default_factory=dict)
    analyzers: dict[str, AnalyzerResult] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    created_at: str = ""
    tool_version: str = __version__
    schema_version: str = SCHEMA_VERSION

    @property
    def session_id(self) -> str:
        return self.session.get("id", "")

    @property
    def risk_score(self) -> float | None:
        return self.risk.get("score")

    @property
    def band(self) -> str:
        return self.risk.get("band", "unassessed")

    def evidence(self):
        """All evidence items of all analyzers, most suspicious first."""
        items = [e for r in self.analyzers.values() for e in r.evidence]
        return sorted(items, key=lambda e: (-e.score, e.start_s))

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "created_at": self.created_at,
            "status": self.status,
            "error": self.error,
            "session": self.session,
            "risk": self.risk,
            "analyzers": {name: r.to_dict() for name, r in self.analyzers.items()},
            "models": self.models,
            "timings": self.timings,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Report:
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
            session=dict(d.get("session", {})),
            risk=dict(d.get("risk", {})),
            analyzers={name: AnalyzerResult.from_dict(name, r) for name, r in d.get("analyzers", {}).items()},
            models=dict(d.get("models", {})),
            timings=dict(d.get("timings", {})),
            warnings=list(d.get("warnings", [])),
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))

    def write(self, path) -> Path:
        """Write the JSON atomically (temp file, then rename)."""
        return atomic_write_text(path, self.to_json())


def read_report(path) -> Report:
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
    except (OSError, ValueError) as exc:
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
