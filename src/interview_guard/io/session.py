"""Sessions: where a recording's files are, and reading their ``session.json``.

A session is either a directory or a single file:

* a directory holding any of ``video.*`` (mp4, webm, mkv, mov), ``audio.*``
  (wav, flac, mp3, ogg, m4a), ``keystrokes.jsonl`` / ``.csv`` / ``.tsv`` /
  ``.txt`` and ``session.json``;
* a single media file (video or audio), or a single keystroke log.

See ``docs/session-format.md``. Nothing here decodes media; it only finds
paths and reads ``session.json``, so it is cheap to run over thousands of
sessions. The metadata types, :class:`~interview_guard.tracks.metadata.SessionMetadata`
and :class:`~interview_guard.tracks.metadata.ChallengeMarker`, and the
validation of their fields are in :mod:`interview_guard.tracks.metadata`
(re-exported here).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from interview_guard.errors import InputError
from interview_guard.io.keystroke_log import KEYSTROKE_FILE_NAMES
from interview_guard.tracks.metadata import ChallengeMarker, SessionMetadata

__all__ = [
    "VIDEO_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "ChallengeMarker",
    "SessionMetadata",
    "Session",
    "read_session_metadata",
    "discover_sessions",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus", ".aac")
_KEYSTROKE_EXTENSIONS = (".jsonl", ".csv", ".tsv", ".txt")


def read_session_metadata(path: str | PathLike[str]) -> SessionMetadata:
    """Read and validate a ``session.json`` file; an :class:`InputError` names the file and the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read session metadata ({exc.__class__.__name__})", path=p) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"session metadata is not valid JSON (line {exc.lineno}: {exc.msg})", path=p) from None
    return SessionMetadata.from_dict(data, path=p)


def _pick(directory: Path, stem: str, extensions: tuple[str, ...]) -> Path | None:
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
    def open(cls, path: str | PathLike[str], *, session_id: str | None = None) -> Session:
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
        return read_session_metadata(self.metadata_path)

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


def discover_sessions(root: str | PathLike[str]) -> list[tuple[str, Path]]:
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
