"""The contents of ``session.json``: what the candidate claims and what the interviewer marked.

Parsed and validated here from a decoded JSON object; :mod:`interview_guard.io.session`
finds and reads the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from interview_guard.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

__all__ = [
    "ChallengeMarker",
    "ClientInfo",
    "SessionMetadata",
    "MAX_CANDIDATE_ID_CHARS",
    "MAX_CLOCK_OFFSET_MS",
    "MAX_SESSION_S",
    "RECORDING_YEARS",
]

#: Largest ``keystroke_clock_offset_ms`` accepted (either sign): about 3000 years, room for any
#: epoch-millisecond clock (1.8e12 in 2027) and the bound keystroke times themselves have.
MAX_CLOCK_OFFSET_MS = 1e14

#: Latest challenge time accepted (s): the same bound in seconds.
MAX_SESSION_S = 1e11

#: Longest ``candidate_id`` (and ``claimed_location``, ``claimed_timezone``) accepted (characters): an id, not a
#: document; it is copied into the identity index, ``matches.csv`` and every matching session's report
#: (``also_seen_as``), the claims into the report's environment findings.
MAX_CANDIDATE_ID_CHARS = 256

#: Control characters (C0, DEL, C1) and the line and paragraph separators: no part of an id.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: A UTF-16 surrogate code point: a JSON ``\\ud800`` escape without its pair decodes to one, and it is no text
#: (UTF-8 cannot encode it; SQLite, the report writers and the terminal refuse it).
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Years a ``recording_start`` may fall in (a recording made with epoch-stamped keystrokes).
RECORDING_YEARS = (1970, 2199)


@dataclass(frozen=True)
class ChallengeMarker:
    """A moment the interviewer logged a challenge (e.g. asked for a hand wave)."""

    kind: str
    t_s: float
    note: str = ""


#: Largest ``client.utc_offset_min`` accepted (either sign): UTC+14 (Kiribati) is the farthest zone.
MAX_UTC_OFFSET_MIN = 14 * 60

#: Most ``client.languages`` entries kept (browsers list a handful).
MAX_LANGUAGES = 32


@dataclass(frozen=True)
class ClientInfo:
    """What the interview platform captured from the candidate's browser (``client`` in ``session.json``).

    Attributes
    ----------
    timezone : str or None
        IANA zone name (``Intl.DateTimeFormat().resolvedOptions().timeZone``).
    utc_offset_min : int or None
        Offset of the browser's clock from UTC in minutes, **east positive** (UTC+9 is 540, UTC-6 is -360);
        that is ``-new Date().getTimezoneOffset()`` in JavaScript.
    languages : tuple of str
        ``navigator.languages`` (BCP 47 tags, first preferred).
    """

    timezone: str | None = None
    utc_offset_min: int | None = None
    languages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "utc_offset_min": self.utc_offset_min, "languages": list(self.languages)}

    @property
    def empty(self) -> bool:
        return self.timezone is None and self.utc_offset_min is None and not self.languages


#: Key prefix of :attr:`SessionMetadata.zone_offsets` for every offset of a claimed country's zones (used when
#: no zone is claimed): ``COUNTRY_ZONES + "US"``.
COUNTRY_ZONES = "country:"


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
    claimed_country : str or None
        ISO 3166-1 alpha-2 code of the country the candidate claims to be in (upper case); when absent the
        ``environment`` analyzer derives it from ``claimed_location`` where it can.
    client : ClientInfo or None
        What the interview platform captured from the browser (time zone, UTC offset, languages).
    zone_offsets : dict of str to tuple of int
        UTC offsets (minutes, east positive) of the IANA zones named in the file (``claimed_timezone``,
        ``client.timezone``) at the session's date, or every offset the zone has in the year when the date
        is unknown; filled by :mod:`interview_guard.io.session` (zoneinfo), empty for an unknown zone.
        Without a claimed zone, ``COUNTRY_ZONES + code`` holds every offset of the claimed country's zones.
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
    claimed_country: str | None = None
    client: ClientInfo | None = None
    zone_offsets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "claimed_country",
        "client",
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
        problem = _not_unicode(data)
        if problem is not None:
            raise InputError(problem, path=path)
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
            v = data.get(key)
            if v is not None and not isinstance(v, str):
                raise InputError(f"'{key}' must be a string", path=path)
            if v is not None and len(v) > MAX_CANDIDATE_ID_CHARS:  # copied into reports and matches.csv
                raise InputError(
                    f"'{key}' is {len(v)} characters long (at most {MAX_CANDIDATE_ID_CHARS} are accepted)", path=path
                )
            control = _CONTROL.search(v) if v is not None else None
            if control:  # printed in the text report and on the terminal: no escapes, no line breaks
                raise InputError(f"'{key}' holds a control character (\\u{ord(control.group()):04x})", path=path)
        photo = _relative_photo_path(data.get("enrolment_photo"), path)
        country = data.get("claimed_country")
        if country in (None, ""):
            country = None
        elif not isinstance(country, str) or not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise InputError(
                f"'claimed_country' must be an ISO 3166-1 alpha-2 code such as 'US', got {str(country)[:40]!r}",
                path=path,
            )
        else:
            country = country.upper()
        return cls(
            claimed_country=country,
            client=_client_info(data.get("client"), path),
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
        out: dict[str, Any] = {
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
        if self.claimed_country is not None:
            out["claimed_country"] = self.claimed_country
        if self.client is not None:
            out["client"] = self.client.to_dict()
        out.update(self.extra)
        return out


def _not_unicode(data: Any) -> str | None:
    """What is wrong when a string (or a key) anywhere in ``data`` holds a lone UTF-16 surrogate, else None.

    ``json.loads`` turns a ``\\ud800`` escape without its low half into a lone surrogate: not text, and
    nothing downstream can write it (the report, the identity index, the terminal). The message names
    the field (``'client.languages[0]'``).
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                return f"'{where[:80]}' is not valid Unicode text (a lone surrogate \\u{ord(found.group()):04x})"
        elif isinstance(value, dict):
            for k, v in value.items():
                found = _SURROGATE.search(k) if isinstance(k, str) else None
                if found:
                    inside = f" in '{where[:80]}'" if where else ""
                    return (
                        f"a key{inside} is not valid Unicode text (a lone surrogate \\u{ord(found.group()):04x}"
                        f" in {ascii(k)[:40]})"
                    )
                stack.append((f"{where}.{k}" if where else str(k), v))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
    return None


def _client_info(value: Any, path: str | Path | None) -> ClientInfo | None:
    """The optional ``client`` object, validated field by field (a wrong type names the field)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError("'client' must be an object (timezone, utc_offset_min, languages)", path=path)
    tz = value.get("timezone")
    if tz in (None, ""):
        tz = None
    elif not isinstance(tz, str) or len(tz) > 64:
        raise InputError("'client.timezone' must be an IANA time zone name such as 'Europe/Berlin'", path=path)
    off = value.get("utc_offset_min")
    if off is not None:
        if isinstance(off, bool) or not isinstance(off, (int, float)) or not math.isfinite(float(off)):
            raise InputError("'client.utc_offset_min' must be a number of minutes (east of UTC positive)", path=path)
        if not abs(off) <= MAX_UTC_OFFSET_MIN or float(off) != int(off):
            raise InputError(
                f"'client.utc_offset_min' must be a whole number of minutes from -{MAX_UTC_OFFSET_MIN} "
                f"to {MAX_UTC_OFFSET_MIN}, got {off!r}",
                path=path,
            )
        off = int(off)
    langs = value.get("languages", [])
    if langs is None:
        langs = []
    if isinstance(langs, str):
        langs = [langs]
    if not isinstance(langs, list) or not all(isinstance(x, str) and len(x) <= 35 for x in langs):
        raise InputError("'client.languages' must be a list of language tags such as ['en-US', 'en']", path=path)
    return ClientInfo(timezone=tz, utc_offset_min=off, languages=tuple(langs[:MAX_LANGUAGES]))


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
