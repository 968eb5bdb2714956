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

import errno
import functools
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path

from interview_guard.errors import InputError, InterviewGuardError
from interview_guard.io.bounded_json import loads_bounded
from interview_guard.io.keystroke_log import KEYSTROKE_FILE_NAMES
from interview_guard.tracks.metadata import COUNTRY_ZONES, ChallengeMarker, SessionMetadata

__all__ = [
    "VIDEO_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "ChallengeMarker",
    "SessionMetadata",
    "Session",
    "read_session_metadata",
    "zone_offsets",
    "with_zone_offsets",
    "country_zone_offsets",
    "COUNTRY_ZONES",
    "discover_sessions",
    "find_sessions",
    "FoundSession",
    "session_id_for",
    "input_error_from_os_error",
    "as_input_error",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus", ".aac")
_KEYSTROKE_EXTENSIONS = (".jsonl", ".csv", ".tsv", ".txt")
_SESSION_FILE_EXTENSIONS = VIDEO_EXTENSIONS + AUDIO_EXTENSIONS + _KEYSTROKE_EXTENSIONS
_NOT_REGULAR = "not a regular file (a pipe, socket or device)"


#: Largest ``session.json`` read (it holds a few fields; anything bigger is not metadata).
MAX_METADATA_BYTES = 16 * 1024 * 1024


class _MetadataError(InputError):
    """The bounded JSON reader's errors, worded for ``session.json``: ``session metadata is not valid JSON ...``."""

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None) -> None:
        words = message if message.startswith("not ") else f"not acceptable: {message}"
        super().__init__(f"session metadata is {words}" + (f" (line {line})" if line is not None else ""), path=path)
        self.line = line


def read_session_metadata(path: str | PathLike[str]) -> SessionMetadata:
    """Read and validate a ``session.json`` file; an :class:`InputError` names the file and the problem.

    The JSON is parsed with :func:`interview_guard.io.bounded_json.loads_bounded` (bounded nesting
    and number length, a BOM ignored); a file over :data:`MAX_METADATA_BYTES` is refused.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise input_error_from_os_error(exc, "cannot read session metadata", path=p) from None
    if len(raw) > MAX_METADATA_BYTES:
        raise InputError(f"session metadata is larger than {MAX_METADATA_BYTES >> 20} MiB", path=p)
    data = loads_bounded(raw, path=p, error=_MetadataError)
    return with_zone_offsets(SessionMetadata.from_dict(data, path=p))


def zone_offsets(name: str, when: datetime | None = None) -> tuple[int, ...]:
    """UTC offsets (minutes, east positive) of the IANA zone ``name`` at ``when``, sorted.

    With ``when`` None (the session's date unknown), every offset the zone takes over the current year
    (standard and daylight time). An unknown zone name gives ``()`` (zoneinfo reads the tzdata files,
    which is why this lives in ``io/``).
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ()
    if when is not None:
        at = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        off = at.astimezone(zone).utcoffset()
        return () if off is None else (int(off.total_seconds() // 60),)
    year = datetime.now(UTC).year
    found = set()
    for day in range(0, 366, 7):
        t = datetime(year, 1, 1, 12, tzinfo=UTC) + timedelta(days=day)
        off = t.astimezone(zone).utcoffset()
        if off is not None:
            found.add(int(off.total_seconds() // 60))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=1)
def _zone_table() -> dict[str, tuple[str, ...]]:
    """ISO 3166-1 alpha-2 code -> IANA zones, from the tz database's ``zone.tab`` (the tzdata package, else the
    system's zoneinfo directories); empty when neither is there."""
    import zoneinfo
    from importlib.resources import files

    try:
        text = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ImportError, OSError):
        tabs = [Path(d) / "zone.tab" for d in zoneinfo.TZPATH if (Path(d) / "zone.tab").is_file()]
        text = tabs[0].read_text(encoding="utf-8") if tabs else ""
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if not line.startswith("#") and len(parts) >= 3:
            table.setdefault(parts[0].strip().upper(), []).append(parts[2].strip())
    return {k: tuple(v) for k, v in table.items()}


def country_zone_offsets(country: str, when: datetime | None = None) -> tuple[int, ...]:
    """Every UTC offset (minutes) any IANA zone of ``country`` (ISO alpha-2) has at ``when`` (or over the year)."""
    zones = _zone_table().get(country.strip().upper(), ())
    return tuple(sorted({o for z in zones for o in zone_offsets(z, when)}))


def with_zone_offsets(
    meta: SessionMetadata, when: datetime | None = None, *, country: str | None = None
) -> SessionMetadata:
    """``meta`` with :attr:`SessionMetadata.zone_offsets` filled for its claimed and browser time zones.

    The offsets are taken at ``when``, else at ``recording_start``, else over the year. Without a claimed
    time zone, the offsets of every zone of the claimed country (``country``, e.g. read off
    ``claimed_location`` by the caller, else ``claimed_country``) go under ``COUNTRY_ZONES + code``.
    """
    names = [meta.claimed_timezone, None if meta.client is None else meta.client.timezone]
    at = when or meta.recording_start
    offsets = {n: zone_offsets(n, at) for n in names if n}
    country = country or meta.claimed_country
    if country and not meta.claimed_timezone:
        offs = country_zone_offsets(country, at)
        if offs:
            offsets[COUNTRY_ZONES + country.upper()] = offs
    return replace(meta, zone_offsets=offsets) if offsets or meta.zone_offsets else meta


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
            When the path does not exist, cannot be read (nor any file of the
            session), is an empty directory, holds none of the recognised
            files, or is a file of an unknown kind.
        """
        p = Path(path)
        try:
            return cls._open(p, session_id)
        except OSError as exc:  # a directory we may not list, a file we may not read ...
            raise input_error_from_os_error(exc, path=exc.filename or p) from None

    @classmethod
    def _open(cls, p: Path, session_id: str | None) -> Session:
        if not p.exists():
            if p.is_symlink():
                raise InputError("broken symbolic link", path=p)
            raise InputError("no such file or directory", path=p)
        if p.is_dir():
            try:
                entries = [e for e in p.iterdir() if not e.name.startswith(".")]
            except OSError as exc:
                raise input_error_from_os_error(exc, "cannot read directory", path=p) from None
            if not entries:
                raise InputError("session directory is empty", path=p)
            for e in entries:  # a pipe, device or dangling link named like a session file is not skipped silently
                if _named_like_a_session_file(e.name):
                    _check_not_special(e)
            video = _pick(p, "video", VIDEO_EXTENSIONS)
            audio = _pick(p, "audio", AUDIO_EXTENSIONS)
            keystrokes = next((p / n for n in KEYSTROKE_FILE_NAMES if (p / n).is_file()), None)
            meta = p / "session.json" if (p / "session.json").is_file() else None
            if video is None and audio is None and keystrokes is None:
                # a recording under another name ("interview.mp4") is the usual cause: name it
                near = sorted(e.name for e in entries if e.suffix.lower() in _SESSION_FILE_EXTENSIONS)
                hint = (
                    f"; found {', '.join(repr(n) for n in near[:3])}{' ...' if len(near) > 3 else ''}: rename the "
                    "recording video.<ext>, the audio audio.<ext>, the keystroke log keystrokes.<ext>"
                    if near
                    else ""
                )
                raise InputError(
                    "no session files: expected video.* (mp4, webm, mkv, mov), audio.* or keystrokes.jsonl/.csv" + hint,
                    path=p,
                )
            for f in (video, audio, keystrokes, meta):
                if f is not None:
                    _check_readable(f)
            return cls(
                path=p,
                session_id=session_id or p.name,
                video=video,
                audio=audio,
                keystrokes=keystrokes,
                metadata_path=meta,
            )
        if not p.is_file():
            raise InputError(_NOT_REGULAR, path=p)
        suffix = p.suffix.lower()
        sid = session_id or p.stem
        if suffix in VIDEO_EXTENSIONS + AUDIO_EXTENSIONS + _KEYSTROKE_EXTENSIONS:
            _check_readable(p)
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
        """A cheap identity of the inputs (names, sizes, modification times; the enrolment photo's too).

        Batch mode stores it so a re-run can tell a finished session from one
        whose files changed since.
        """
        h = hashlib.sha256()
        for role, f in sorted(self.files.items()):
            st = f.stat()
            # the name's own bytes: a name that is not UTF-8 (os.fsdecode's surrogates) hashes as it is on disk
            h.update(f"{role}\0".encode() + os.fsencode(f.name) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        photo = self._enrolment_photo()
        if photo is not None:  # only when session.json names one: other sessions keep their fingerprint
            try:
                st = photo.stat()
                h.update(b"enrolment_photo\0" + os.fsencode(photo) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError as exc:  # missing now, or unreadable: a photo put there later changes it again
                h.update(b"enrolment_photo\0" + os.fsencode(photo) + f"\0{exc.errno}\n".encode())
        return h.hexdigest()[:32]

    def _enrolment_photo(self) -> Path | None:
        """The enrolment photo ``session.json`` names (a re-scan must follow it too), or None (none, or a
        ``session.json`` that cannot be read: its own size and time are in the fingerprint)."""
        if self.metadata_path is None:
            return None
        try:
            relative = self.metadata().enrolment_photo
        except (InterviewGuardError, OSError, ValueError):
            return None
        if relative is None:
            return None
        return (self.path if self.path.is_dir() else self.path.parent) / relative


def os_error_reason(exc: OSError) -> str:
    """The reason of an :class:`OSError` in a few words ("permission denied"), without the path."""
    reason = exc.strerror or exc.__class__.__name__
    return reason[:1].lower() + reason[1:]


def input_error_from_os_error(exc: OSError, what: str | None = None, path: object | None = None) -> InputError:
    """An :class:`InputError` naming the file of ``exc`` (or ``path``) and the reason.

    ``<path>: permission denied``, or with ``what``: ``<path>: cannot read directory (permission denied)``.
    """
    where = path if path is not None else exc.filename
    reason = os_error_reason(exc)
    return InputError(f"{what} ({reason})" if what else reason, path=where)


def as_input_error(exc: BaseException) -> InterviewGuardError | None:
    """What the error family makes of ``exc``: the one mapping the CLI and batch mode share.

    A deliberate error is itself; an :class:`OSError` (a file that cannot be read or written: the
    input's or the set-up's fault, not a bug) becomes an :class:`InputError` naming the file; anything
    else is a bug: None.
    """
    if isinstance(exc, InterviewGuardError):
        return exc
    if isinstance(exc, OSError):
        return input_error_from_os_error(exc)
    return None


def _named_like_a_session_file(name: str) -> bool:
    """Whether a session directory's entry ``name`` is named as one of its files (the names :meth:`Session.open`
    picks: ``video.*``, ``audio.*`` in any case, ``keystrokes.jsonl`` etc., ``session.json``)."""
    stem, suffix = os.path.splitext(name.lower())
    return (
        (stem == "video" and suffix in VIDEO_EXTENSIONS)
        or (stem == "audio" and suffix in AUDIO_EXTENSIONS)
        or name in KEYSTROKE_FILE_NAMES
        or name == "session.json"
    )


def _stat_problem(exc: OSError) -> str:
    """Why an entry of a directory could not be examined (``stat`` following links raised ``exc``)."""
    if exc.errno == errno.ENOENT:
        return "broken symbolic link"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return f"cannot examine ({os_error_reason(exc)})"


def _check_not_special(f: Path) -> None:
    """An :class:`InputError` naming ``f`` when it is a pipe, socket or device (a FIFO would block its reader, a
    device never ends), a broken symbolic link or a link loop; as :func:`find_sessions` reports them in batch mode.
    A directory is left alone (it is not picked as a file)."""
    try:
        mode = f.stat().st_mode  # follows symbolic links
    except OSError as exc:
        raise InputError(_stat_problem(exc), path=f) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(_NOT_REGULAR, path=f)


def _check_readable(f: Path) -> None:
    """Open ``f`` for reading and close it: a file we cannot read fails here, naming itself, not deep in a decoder."""
    try:
        with open(f, "rb"):
            pass
    except OSError as exc:
        raise input_error_from_os_error(exc, path=f) from None


def _is_session_dir_names(names: set[str]) -> bool:
    """Whether a directory holding the files ``names`` (lower case) is a session."""
    if names & set(KEYSTROKE_FILE_NAMES) or "session.json" in names:
        return True
    for n in names:
        stem, ext = os.path.splitext(n)
        if (stem == "video" and ext in VIDEO_EXTENSIONS) or (stem == "audio" and ext in AUDIO_EXTENSIONS):
            return True
    return False


def _is_session_dir(d: Path) -> bool:
    try:
        names = {e.name.lower() for e in d.iterdir() if e.is_file()}
    except OSError:
        return False
    return _is_session_dir_names(names)


_ID_ESCAPE = frozenset("%/\\") | frozenset(chr(i) for i in range(32)) | {"\x7f"}
_ID_MAX_BYTES = 200  # + ".json" / ".html" stays far below the usual 255-byte file-name limit


def _escape_id_char(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # a byte of a file name that is not UTF-8 (os.fsdecode's surrogate)
        return f"%{ord(c) - 0xDC00:02X}"
    if c in _ID_ESCAPE:
        return "".join(f"%{b:02X}" for b in c.encode("utf-8"))
    return c


def session_id_for(relative_path: str | PathLike[str]) -> str:
    """The batch id of the session at ``relative_path`` (relative to the batch root).

    Unique by construction: ``%``, the separator ``/``, ``\\`` and control
    characters are percent-escaped (``grp/x`` -> ``grp%2Fx``; ``grp__x`` and
    ``100%`` -> ``grp__x`` and ``100%25``), and so are the bytes of a file name
    that is not UTF-8, so two paths never share an id and
    :func:`urllib.parse.unquote` (``unquote_to_bytes`` for such bytes) gives the path back. A top-level name without
    those characters is its own id (``typing_genuine_a``). An id over 200
    bytes is cut and ends in ``%~`` and 16 hex digits of the path's SHA-256 (a
    form the escaping never makes), so it still names a file.
    """
    rel = Path(relative_path).as_posix()
    sid = "".join(_escape_id_char(c) for c in rel)
    if len(sid.encode("utf-8")) <= _ID_MAX_BYTES:
        return sid
    digest = hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    head = sid.encode("utf-8")[: _ID_MAX_BYTES - 19].decode("utf-8", "ignore")
    head = re.sub(r"%[0-9A-F]?$", "", head)  # never end in half an escape
    return f"{head}%~{digest}"


@dataclass(frozen=True)
class FoundSession:
    """One entry of :func:`find_sessions`: a session, or something under the root that could not be read.

    ``problem`` is None for a session; otherwise it says why the entry could
    not be read (``cannot read directory (permission denied)``, ``broken
    symbolic link`` ...) and batch mode records it as a failed session.
    """

    session_id: str
    path: Path
    relative_path: str
    problem: str | None = None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def find_sessions(root: str | PathLike[str], *, exclude: Iterable[str | PathLike[str]] = ()) -> list[FoundSession]:
    """Every session under ``root``, and everything under it that could not be read, sorted by id.

    A directory that holds session files is one session (its sub-directories
    are not searched further); any other video or audio file is a session of
    its own. Symbolic links to directories are followed (a link back to a
    directory above it is reported as a loop). The id is
    :func:`session_id_for` of the path relative to ``root``. Nothing is
    skipped silently: a directory that cannot be listed, an entry that cannot
    be examined and a broken symbolic link are returned with a ``problem``.
    ``root`` itself may be a session. Directories in ``exclude`` (batch mode's
    own output, when it lies under ``root``) are not searched.

    Raises
    ------
    InputError
        ``root`` does not exist or cannot be read.
    """
    r = Path(root)
    try:
        r.stat()
    except FileNotFoundError:
        raise InputError("no such file or directory", path=r) from None
    except OSError as exc:
        raise input_error_from_os_error(exc, path=r) from None
    if not r.is_dir() or _is_session_dir(r):
        # root is one session: its files are checked when it is opened, so a file it cannot read
        # becomes its failed record like any other session's (only a file of no known kind is refused here)
        if not r.is_dir() and r.suffix.lower() not in _SESSION_FILE_EXTENSIONS:
            Session.open(r)  # raises: unknown file type
        name = r.absolute().resolve().name  # not "" for "."
        return [FoundSession(name if r.is_dir() else Path(name).stem, r, ".")]
    found: list[FoundSession] = []
    skip = set()
    for x in exclude:
        try:
            skip.add(_identity(os.stat(x)))
        except OSError:
            pass  # not made yet: nothing of it to skip
    # depth first with a stack, not recursion: a tree thousands of levels deep is no error
    stack: list[tuple[Path, str, frozenset[tuple[int, int]]]] = [(r, "", frozenset({_identity(r.stat())}))]
    while stack:
        _visit(*stack.pop(), found=found, stack=stack, skip=skip)
    found.sort(key=lambda f: f.session_id)
    return found


def _visit(
    d: Path,
    rel: str,
    ancestors: frozenset[tuple[int, int]],
    *,
    found: list[FoundSession],
    stack: list[tuple[Path, str, frozenset[tuple[int, int]]]],
    skip: set[tuple[int, int]],
) -> None:
    """One directory for :func:`find_sessions`: record it as a session, or its media files and what
    cannot be read in it, and push its sub-directories on ``stack``."""

    def problem(rel: str, path: Path, why: str) -> None:
        found.append(FoundSession(session_id_for(rel), path, rel, why))

    try:
        with os.scandir(d) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        if not rel:
            raise input_error_from_os_error(exc, "cannot read directory", path=d) from None
        problem(rel, d, f"cannot read directory ({os_error_reason(exc)})")
        return
    files, dirs, unreadable = [], [], []
    for e in entries:
        sub = f"{rel}/{e.name}" if rel else e.name
        try:
            if e.is_dir():
                dirs.append((e, sub, _identity(e.stat())))
            elif e.is_file():
                files.append(e)
            else:
                os.stat(e.path)  # a link that does not resolve raises here, with the reason
                if os.path.splitext(e.name)[1].lower() in _SESSION_FILE_EXTENSIONS:
                    unreadable.append((sub, Path(e.path), _NOT_REGULAR))
        except OSError as exc:
            unreadable.append((sub, Path(e.path), _stat_problem(exc)))
    if rel and _is_session_dir_names({e.name.lower() for e in files}):
        found.append(FoundSession(session_id_for(rel), d, rel))  # its own files are checked when it is opened
        return
    for args in unreadable:
        problem(*args)
    for e in files:
        if os.path.splitext(e.name)[1].lower() in VIDEO_EXTENSIONS + AUDIO_EXTENSIONS:
            sub = f"{rel}/{e.name}" if rel else e.name
            found.append(FoundSession(session_id_for(sub), Path(e.path), sub))
    for e, sub, ident in reversed(dirs):  # popped in name order
        if ident in skip:
            continue
        if ident in ancestors:
            problem(sub, Path(e.path), "symbolic link loop (links to a directory above it)")
            continue
        stack.append((Path(e.path), sub, ancestors | {ident}))


def discover_sessions(root: str | PathLike[str]) -> list[tuple[str, Path]]:
    """Every session under ``root``, as ``(session_id, path)`` sorted by id (see :func:`find_sessions`).

    Entries that could not be read are included too: opening them as a
    :class:`Session` raises an :class:`InputError` naming the path.
    """
    return [(f.session_id, f.path) for f in find_sessions(root)]
