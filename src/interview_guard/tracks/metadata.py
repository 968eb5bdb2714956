"""The contents of ``session.json``: what the candidate claims and what the interviewer marked.

Parsed and validated here from a decoded JSON object; :mod:`interview_guard.io.session`
finds and reads the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from interview_guard.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

__all__ = ["ChallengeMarker", "SessionMetadata", "MAX_CLOCK_OFFSET_MS", "MAX_SESSION_S", "RECORDING_YEARS"]

#: Largest ``keystroke_clock_offset_ms`` accepted (either sign): about 3000 years, room for any
#: epoch-millisecond clock (1.8e12 in 2027) and the bound keystroke times themselves have.
MAX_CLOCK_OFFSET_MS = 1e14

#: Latest challenge time accepted (s): the same bound in seconds.
MAX_SESSION_S = 1e11

#: Years a ``recording_start`` may fall in (a recording made with epoch-stamped keystrokes).
RECORDING_YEARS = (1970, 2199)


@dataclass(frozen=True)
class ChallengeMarker:
    """A moment the interviewer logged a challenge (e.g. asked for a hand wave)."""

    kind: str
    t_s: float
    note: str = ""


@dataclass(frozen=True)
class SessionMetadata:
    """Contents of ``session.json`` (every field optional).

    Attributes
    ----------
    candidate_id : str or None
    claimed_location, claimed_timezone : str or None
        What the candidate said (free text; IANA zone name for the time zone).
    recording_start : datetime or None
        Wall-clock start of the recording (ISO 8601 in the file).
    keystroke_clock_offset_ms : float or None
        Add this to a keystroke ``t`` to get milliseconds since the start of
        the recording. When absent, see :func:`keystroke_origin_ms`.
    challenges : tuple of ChallengeMarker
    enrolment_photo : str or None
        A photo of the candidate (application, ID), as a path relative to the
        session directory, ``/``-separated; absolute paths and paths leaving
        the directory are refused.
    extra : dict
        Any other keys, kept for the report.
    """

    candidate_id: str | None = None
    claimed_location: str | None = None
    claimed_timezone: str | None = None
    recording_start: datetime | None = None
    keystroke_clock_offset_ms: float | None = None
    challenges: tuple[ChallengeMarker, ...] = ()
    enrolment_photo: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "candidate_id",
        "claimed_location",
        "claimed_timezone",
        "recording_start",
        "keystroke_clock_offset_ms",
        "challenges",
        "enrolment_photo",
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str | Path | None = None) -> SessionMetadata:
        if not isinstance(data, dict):
            raise InputError("session.json must hold a JSON object", path=path)
        start = data.get("recording_start")
        if start not in (None, ""):
            if not isinstance(start, str):
                raise InputError("'recording_start' must be an ISO 8601 string", path=path)
            text = start
            try:
                start = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise InputError(f"'recording_start' is not ISO 8601: {text[:60]!r}", path=path) from None
            if not RECORDING_YEARS[0] <= start.year <= RECORDING_YEARS[1]:
                raise InputError(
                    f"'recording_start' {start.isoformat()} is out of range "
                    f"(years {RECORDING_YEARS[0]}-{RECORDING_YEARS[1]})",
                    path=path,
                )
        else:
            start = None
        offset = data.get("keystroke_clock_offset_ms")
        if offset is not None:
            if isinstance(offset, bool) or not isinstance(offset, (int, float)):
                raise InputError("'keystroke_clock_offset_ms' must be a finite number", path=path)
            if isinstance(offset, float) and not math.isfinite(offset):
                raise InputError("'keystroke_clock_offset_ms' must be a finite number", path=path)
            if not abs(offset) <= MAX_CLOCK_OFFSET_MS:  # compared before float(): a huge int does not fit one
                raise InputError(
                    "'keystroke_clock_offset_ms' is out of range "
                    f"(at most {MAX_CLOCK_OFFSET_MS:.0e} ms either way, about 3000 years)",
                    path=path,
                )
            offset = float(offset)
        markers = []
        raw_markers = data.get("challenges", []) or []
        if not isinstance(raw_markers, list):
            raise InputError("'challenges' must be a list", path=path)
        for i, m in enumerate(raw_markers):
            if not isinstance(m, dict) or not isinstance(m.get("kind"), str):
                raise InputError(f"challenges[{i}] must be an object with a 'kind' string", path=path)
            t = m.get("t_s")
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= MAX_SESSION_S:
                raise InputError(
                    f"challenges[{i}].t_s must be a number of seconds from 0 to {MAX_SESSION_S:.0e}", path=path
                )
            markers.append(ChallengeMarker(kind=m["kind"], t_s=float(t), note=str(m.get("note", ""))))
        for key in ("candidate_id", "claimed_location", "claimed_timezone"):
            if data.get(key) is not None and not isinstance(data.get(key), str):
                raise InputError(f"'{key}' must be a string", path=path)
        photo = _relative_photo_path(data.get("enrolment_photo"), path)
        return cls(
            candidate_id=data.get("candidate_id"),
            claimed_location=data.get("claimed_location"),
            claimed_timezone=data.get("claimed_timezone"),
            recording_start=start,
            keystroke_clock_offset_ms=offset,
            challenges=tuple(markers),
            enrolment_photo=photo,
            extra={k: v for k, v in data.items() if k not in cls._KNOWN},
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "candidate_id": self.candidate_id,
            "claimed_location": self.claimed_location,
            "claimed_timezone": self.claimed_timezone,
            "recording_start": None if self.recording_start is None else self.recording_start.isoformat(),
            "keystroke_clock_offset_ms": self.keystroke_clock_offset_ms,
            "challenges": [
                {"kind": c.kind, "t_s": c.t_s, **({"note": c.note} if c.note else {})} for c in self.challenges
            ],
        }
        if self.enrolment_photo is not None:
            out["enrolment_photo"] = self.enrolment_photo
        out.update(self.extra)
        return out


def _relative_photo_path(value: Any, path: str | Path | None) -> str | None:
    """``enrolment_photo`` checked by its text alone: a relative path that stays inside the session directory.

    (The file itself is found, and symbolic links leaving the directory refused, where it is read:
    :mod:`interview_guard.io.enrolment`.)
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError("'enrolment_photo' must be a string (a path relative to the session directory)", path=path)
    text = value.replace("\\", "/")
    shown = value[:80]
    if text.startswith("/") or (len(text) >= 2 and text[1] == ":") or "\0" in text:
        raise InputError(f"'enrolment_photo' must be relative to the session directory, got {shown!r}", path=path)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise InputError(f"'enrolment_photo' must name a file inside the session directory, got {shown!r}", path=path)
    return "/".join(parts)
