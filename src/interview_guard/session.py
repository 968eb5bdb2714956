"""Sessions: where a recording's files are, and its ``session.json`` metadata.

A session is either a directory or a single file:

* a directory holding any of ``video.*`` (mp4, webm, mkv, mov), ``audio.*``
  (wav, flac, mp3, ogg, m4a), ``keystrokes.jsonl`` / ``.csv`` / ``.tsv`` /
  ``.txt`` and ``session.json``;
* a single media file (video or audio), or a single keystroke log.

See ``docs/session-format.md``. Nothing here decodes media; it only finds and
validates paths and metadata, so it is cheap to run over thousands of sessions.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import InputError
from .keystroke_log import KEYSTROKE_FILE_NAMES

__all__ = [
    "VIDEO_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "ChallengeMarker",
    "SessionMetadata",
    "Session",
    "discover_sessions",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus", ".aac")
_KEYSTROKE_EXTENSIONS = (".jsonl", ".csv", ".tsv", ".txt")


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
    extra : dict
        Any other keys, kept for the report.
    """

    candidate_id: str | None = None
    claimed_location: str | None = None
    claimed_timezone: str | None = None
    recording_start: datetime | None = None
    keystroke_clock_offset_ms: float | None = None
    challenges: tuple[ChallengeMarker, ...] = ()
    extra: dict = field(default_factory=dict)

    _KNOWN = (
        "candidate_id",
        "claimed_location",
        "claimed_timezone",
        "recording_start",
        "keystroke_clock_offset_ms",
        "challenges",
    )

    @classmethod
    def from_dict(cls, data: dict, *, path=None) -> "SessionMetadata":
        if not isinstance(data, dict):
            raise InputError("session.json must hold a JSON object", path=path)
        start = data.get("recording_start")
        if start not in (None, ""):
            if not isinstance(start, str):
                raise InputError("'recording_start' must be an ISO 8601 string", path=path)
            try:
                start = datetime.fromisoformat(start.replace("Z", "+00:00"))
            except ValueError:
                raise InputError(f"'recording_start' is not ISO 8601: {start!r}", path=path) from None
        else:
            start = None
        offset = data.get("keystroke_clock_offset_ms")
        if offset is not None:
            if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset):
                raise InputError("'keystroke_clock_offset_ms' must be a finite number", path=path)
            offset = float(offset)
        markers = []
        raw_markers = data.get("challenges", []) or []
        if not isinstance(raw_markers, list):
            raise InputError("'challenges' must be a list", path=path)
        for i, m in enumerate(raw_markers):
            if not isinstance(m, dict) or not isinstance(m.get("kind"), str):
                raise InputError(f"challenges[{i}] must be an object with a 'kind' string", path=path)
            t = m.get("t_s")
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
                raise InputError(f"challenges[{i}].t_s must be a number of seconds >= 0", path=path)
            markers.append(ChallengeMarker(kind=m["kind"], t_s=float(t), note=str(m.get("note", ""))))
        for key in ("candidate_id", "claimed_location", "claimed_timezone"):
            if data.get(key) is not None and not isinstance(data.get(key), str):
                raise InputError(f"'{key}' must be a string", path=path)
        return cls(
            candidate_id=data.get("candidate_id"),
            claimed_location=data.get("claimed_location"),
            claimed_timezone=data.get("claimed_timezone"),
            recording_start=start,
            keystroke_clock_offset_ms=offset,
            challenges=tuple(markers),
            extra={k: v for k, v in data.items() if k not in cls._KNOWN},
        )

    @classmethod
    def read(cls, path) -> "SessionMetadata":
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read session metadata ({exc.__class__.__name__})", path=p) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"session metadata is not valid JSON (line {exc.lineno}: {exc.msg})", path=p) from None
        return cls.from_dict(data, path=p)

    def to_dict(self) -> dict:
        out = {
            "candidate_id": self.candidate_id,
            "claimed_location": self.claimed_location,
            "claimed_timezone": self.claimed_timezone,
            "recording_start": None if self.recording_start is None else self.recording_start.isoformat(),
            "keystroke_clock_offset_ms": self.keystroke_clock_offset_ms,
            "challenges": [{"kind": c.kind, "t_s": c.t_s, **({"note": c.note} if c.note else {})} for c in self.challenges],
        }
        out.update(self.extra)
        return out


def _pick(directory: Path, stem: str, extensions) -> Path | None:
    found = sorted(
        p for p in directory.iterdir() if p.is_file() and p.stem.lower() == stem and p.suffix.lower() in extensions
    )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"more than one {stem} file ({names}); keep one", path=directory)
    return found[0] if found else None


@dataclass(frozen=True)
class Session:
    """The files of one session (paths only; nothing decoded yet).

    Use :meth:`open` to build one from a path given by the user.
    """

    path: Path
    session_id: str
    video: Path | None = None
    audio: Path | None = None
    keystrokes: Path | None = None
    metadata_path: Path | None = None

    @classmethod
    def open(cls, path, *, session_id: str | None = None) -> "Session":
        """Find a session's files at ``path`` (a directory or a single file).

        Raises
        ------
        InputError
            When the path does not exist, is an empty directory, holds none of
            the recognised files, or is a file of an unknown kind.
        """
        p = Path(path)
        if not p.exists():
            raise InputError("no such file or directory", path=p)
        if p.is_dir():
            entries = [e for e in p.iterdir() if not e.name.startswith(".")]
            if not entries:
                raise InputError("session directory is empty", path=p)
            video = _pick(p, "video", VIDEO_EXTENSIONS)
            audio = _pick(p, "audio", AUDIO_EXTENSIONS)
            keystrokes = next((p / n for n in KEYSTROKE_FILE_NAMES if (p / n).is_file()), None)
            meta = p / "session.json" if (p / "session.json").is_file() else None
            if video is None and audio is None and keystrokes is None:
                raise InputError(
                    "no session files: expected video.* (mp4, webm, mkv, mov), audio.* or keystrokes.jsonl/.csv",
                    path=p,
                )
            return cls(
                path=p,
                session_id=session_id or p.name,
                video=video,
                audio=audio,
                keystrokes=keystrokes,
                metadata_path=meta,
            )
        suffix = p.suffix.lower()
        sid = session_id or p.stem
        if suffix in VIDEO_EXTENSIONS:
            return cls(path=p, session_id=sid, video=p)
        if suffix in AUDIO_EXTENSIONS:
            return cls(path=p, session_id=sid, audio=p)
        if suffix in _KEYSTROKE_EXTENSIONS:
            return cls(path=p, session_id=sid, keystrokes=p)
        raise InputError(
            f"unknown file type {suffix or '(no extension)'}: give a session directory, a video "
            f"({', '.join(VIDEO_EXTENSIONS)}), audio or a keystroke log",
            path=p,
        )

    @property
    def files(self) -> dict[str, Path]:
        """The session's files by role."""
        out = {}
        for role in ("video", "audio", "keystrokes"):
            if getattr(self, role) is not None:
                out[role] = getattr(self, role)
        if self.metadata_path is not None:
            out["metadata"] = self.metadata_path
        return out

    def metadata(self) -> SessionMetadata:
        """The parsed ``session.json`` (empty metadata when there is none)."""
        if self.metadata_path is None:
            return SessionMetadata()
        return SessionMetadata.read(self.metadata_path)

    def fingerprint(self) -> str:
        """A cheap identity of the inputs (names, sizes, modification times).

        Batch mode stores it so a re-run can tell a finished session from one
        whose files changed since.
        """
        h = hashlib.sha256()
        for role, f in sorted(self.files.items()):
            st = f.stat()
            h.update(f"{role}\0{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:32]


def _is_session_dir(d: Path) -> bool:
    try:
        names = {e.name.lower() for e in d.iterdir() if e.is_file()}
    except OSError:
        return False
    if names & set(KEYSTROKE_FILE_NAMES):
        return True
    if "session.json" in names:
        return True
    for n in names:
        stem, ext = os.path.splitext(n)
        if (stem == "video" and ext in VIDEO_EXTENSIONS) or (stem == "audio" and ext in AUDIO_EXTENSIONS):
            return True
    return False


def discover_sessions(root) -> list[tuple[str, Path]]:
    """Every session under ``root``, as ``(session_id, path)`` sorted by id.

    A directory that holds session files is one session (its sub-directories
    are not searched further); any other video or audio file is a session of
    its own. The id is the path relative to ``root`` with ``/`` replaced by
    ``__`` so it can name an output file. ``root`` itself may be a session.
    """
    r = Path(root)
    if not r.exists():
        raise InputError("no such file or directory", path=r)
    if r.is_file() or _is_session_dir(r):
        s = Session.open(r)
        return [(s.session_id, r)]
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(r):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        if d != r and _is_session_dir(d):
            found.append(("__".join(d.relative_to(r).parts), d))
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS + AUDIO_EXTENSIONS:
                f = d / name
                found.append(("__".join(f.relative_to(r).parts), f))
    found.sort()
    return found
