"""Uploads: a multipart body streamed to disk under a size limit, with checked names and contents.

Nothing here reads a whole upload into memory: :class:`UploadSink` is fed the
request body chunk by chunk (as it arrives), parses it with python-multipart's
streaming parser and writes each file part straight into a directory the
server chose, under a name the server chose (``video.mp4``,
``audio.wav``, ``keystrokes.jsonl``, ``session.json``, ``enrolment.jpg``). The client's file name is only kept,
sanitised, for display. The body as a whole may not exceed ``max_bytes``:
past that :class:`UploadError` (413) is raised at once and the caller deletes
the directory.

Checks, in the order they can be made:

* the form field names a known role (``video``, ``audio``, ``keystrokes``,
  ``session``, ``enrolment_photo``: the files of a session ``interview-guard scan``
  reads), each at most once;
* the file name's extension is on the role's allow-list (before any data is
  written);
* a video's first bytes are a known container (ISO-BMFF mp4/mov, Matroska/WebM
  EBML, RIFF AVI) of the family its extension names; so are an audio file's
  (RIFF WAVE, FLAC, MPEG audio, Ogg, ISO-BMFF m4a, ADTS AAC; an ID3 tag may
  come first in an MP3, AAC or FLAC file);
* ``session.json`` is at most :data:`MAX_METADATA_BYTES`;
* an enrolment photo is at most :data:`~interview_guard.io.enrolment.MAX_PHOTO_BYTES` (what the scan reads) and
  its first bytes announce an image format the scan reads (:func:`~interview_guard.io.image_header.image_format`);
  after the body, its whole header must be readable and declare at most
  :data:`~interview_guard.io.enrolment.MAX_PHOTO_PIXELS` (:func:`~interview_guard.io.image_header.image_size`);
* after the body is complete, :func:`validate_session_files` reads
  ``session.json`` with the bounded JSON reader and
  :class:`~interview_guard.tracks.metadata.SessionMetadata`, and parses the
  keystroke log with the project's own parser in a child process with bounded
  memory and time (:mod:`.validate`). Every parse failure is a 400.

With a photo, :func:`attach_enrolment_photo` then writes ``session.json``'s
``enrolment_photo`` as the photo's stored name (adding the field, or creating
the file when none was uploaded): a path from the client is never used.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

__all__ = [
    "UploadError",
    "StoredFile",
    "UploadSink",
    "ROLES",
    "MAX_METADATA_BYTES",
    "sanitize_filename",
    "sniff_video",
    "sniff_audio",
    "validate_session_files",
    "attach_enrolment_photo",
]

#: session.json is metadata: a few kilobytes. Refuse anything larger than this.
MAX_METADATA_BYTES = 1 << 20

_NAME_MAX = 120

# Container families by extension, and the name each role's file is stored under.
_VIDEO_FAMILY = {
    ".mp4": "isobmff",
    ".m4v": "isobmff",
    ".mov": "isobmff",
    ".webm": "ebml",
    ".mkv": "ebml",
    ".avi": "riff-avi",
}
_AUDIO_FAMILY = {
    ".wav": "riff-wave",
    ".flac": "flac",
    ".mp3": "mpeg-audio",
    ".ogg": "ogg",
    ".opus": "ogg",
    ".m4a": "isobmff",
    ".aac": "adts",
}
# the image formats io.image_header reads (what the scan decodes an enrolment photo in)
_PHOTO_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".jp2",
    ".j2k",
    ".pbm",
    ".pgm",
    ".ppm",
    ".pnm",
)
# an ID3 tag (an MP3's, also put before AAC and FLAC streams) says nothing of what follows it
_ID3_OK = frozenset({".mp3", ".aac", ".flac"})
_FAMILY_LABEL = {
    "isobmff": "MP4/QuickTime",
    "ebml": "WebM/Matroska",
    "riff-avi": "AVI",
    "riff-wave": "WAV",
    "flac": "FLAC",
    "mpeg-audio": "MPEG audio (MP3)",
    "ogg": "Ogg",
    "adts": "AAC (ADTS)",
    "id3": "ID3-tagged",
}


@dataclass(frozen=True)
class _Role:
    field: str  # form field name
    role: str  # session role
    label: str
    extensions: dict[str, str]  # allowed extension -> stored file name


ROLES = {
    "video": _Role("video", "video", "recording", {ext: f"video{ext}" for ext in _VIDEO_FAMILY}),
    "audio": _Role("audio", "audio", "audio recording", {ext: f"audio{ext}" for ext in _AUDIO_FAMILY}),
    "keystrokes": _Role(
        "keystrokes",
        "keystrokes",
        "keystroke log",
        {ext: f"keystrokes{ext}" for ext in (".jsonl", ".csv", ".tsv", ".txt")},
    ),
    "session": _Role("session", "metadata", "session.json", {".json": "session.json"}),
    "enrolment_photo": _Role(
        "enrolment_photo", "enrolment_photo", "enrolment photo", {ext: f"enrolment{ext}" for ext in _PHOTO_EXTENSIONS}
    ),
}


class UploadError(Exception):
    """An upload the server refuses: ``status`` is the HTTP status, the message is for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class StoredFile:
    role: str  # "video", "audio", "keystrokes", "metadata" or "enrolment_photo"
    path: Path  # where the server stored it
    original_name: str  # sanitised client name, for display only
    size: int = 0


def sanitize_filename(name: str | bytes | None, *, max_len: int = _NAME_MAX) -> str:
    """A client file name made safe for display and logs (never used as a path by the server).

    Unicode is NFKC-normalised (full-width dots and slashes become ASCII),
    control characters (NUL included) are dropped, everything up to the last
    ``/`` or ``\\`` is dropped, characters other than letters, digits, space
    and ``._-()+`` become ``_``, runs of dots collapse to one, leading dots and
    spaces are removed, and the result is capped at ``max_len`` characters
    (keeping the extension). An empty result becomes ``upload``.
    """
    if name is None:
        return "upload"
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    name = unicodedata.normalize("NFKC", name)
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")  # Cc, Cf, Cs, Co, Cn: NUL, RTL marks ...
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c if (c.isalnum() or c in " ._-()+") else "_" for c in name)
    name = re.sub(r"\.{2,}", ".", name)
    name = name.strip(" .")
    if not name:
        return "upload"
    if len(name) > max_len:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: max_len - len(ext)].rstrip(" .") + ext
    return name


def sniff_video(head: bytes) -> str | None:
    """The container family of a file from its first bytes: ``isobmff``, ``ebml``, ``riff-avi`` or None."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "isobmff"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "ebml"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "riff-avi"
    return None


def sniff_audio(head: bytes) -> str | None:
    """The family of an audio file from its first bytes: ``riff-wave``, ``flac``, ``ogg``, ``isobmff``, ``adts``,
    ``mpeg-audio``, ``id3`` (a tag before the stream) or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "riff-wave"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3":
        return "id3"
    if head[:4] == b"ADIF":
        return "adts"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # a frame sync: layer 0 is ADTS AAC
        return "adts" if (head[1] >> 1) & 3 == 0 else "mpeg-audio"
    return "isobmff" if sniff_video(head) == "isobmff" else None


class _Part:
    __slots__ = ("headers", "role", "name", "ext", "fh", "stored", "head", "size", "skip")

    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.role: _Role | None = None
        self.name = ""
        self.ext = ""
        self.fh: BinaryIO | None = None
        self.stored: StoredFile | None = None
        self.head = b""
        self.size = 0
        self.skip = False


class UploadSink:
    """Feed a ``multipart/form-data`` body in chunks; file parts land in ``dest_dir``.

    Parameters
    ----------
    dest_dir : path
        An empty directory the caller created (and deletes on any error).
    content_type : str
        The request's ``Content-Type`` header (gives the boundary).
    max_bytes : int
        Limit on the whole body; exceeding it raises ``UploadError(413)``.

    Use ``feed(chunk)`` for every chunk, then ``finish()``; ``files`` maps a
    role to its :class:`StoredFile`. Every method may raise :class:`UploadError`.
    """

    def __init__(self, dest_dir: str | os.PathLike[str], content_type: str, *, max_bytes: int) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        self.dest = Path(dest_dir)
        self.max_bytes = int(max_bytes)
        self.received = 0
        self.files: dict[str, StoredFile] = {}
        self._part: _Part | None = None
        self._field = b""
        self._value = b""
        self._error: UploadError | None = None
        ctype, params = parse_options_header(content_type or "")
        if ctype != b"multipart/form-data":
            raise UploadError(415, "send the files as multipart/form-data (the upload form does)")
        boundary = params.get(b"boundary")
        if not boundary or len(boundary) > 200:
            raise UploadError(400, "the multipart body has no usable boundary")
        self._parse_options_header = parse_options_header
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    # -- feeding -------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_bytes:
            raise UploadError(413, f"the upload is larger than the limit of {_mb(self.max_bytes)}")
        try:
            self._parser.write(chunk)
        except UploadError:
            raise
        except Exception as exc:  # python_multipart's parse errors
            if self._error is not None:
                raise self._error from None
            raise UploadError(400, f"malformed multipart body ({exc.__class__.__name__})") from None
        if self._error is not None:
            raise self._error

    def finish(self) -> dict[str, StoredFile]:
        try:
            self._parser.finalize()
        except Exception as exc:
            if self._error is not None:
                raise self._error from None
            raise UploadError(400, f"malformed multipart body ({exc.__class__.__name__})") from None
        if self._error is not None:
            raise self._error
        if self._part is not None and self._part.fh is not None:
            raise UploadError(400, "the multipart body ended in the middle of a file")
        return self.files

    def close(self) -> None:
        """Close any file still open (after an error)."""
        if self._part is not None and self._part.fh is not None:
            self._part.fh.close()
            self._part.fh = None

    # -- parser callbacks ------------------------------------------------------
    # python_multipart swallows nothing: an exception raised in a callback
    # propagates out of write(); we also keep it in self._error in case a
    # parser version wraps it.
    def _fail(self, status: int, message: str) -> NoReturn:
        self._error = UploadError(status, message)
        raise self._error

    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        assert self._part is not None
        self._part.headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _on_headers_finished(self) -> None:
        part = self._part
        assert part is not None
        disposition = part.headers.get(b"content-disposition", b"")
        _, opts = self._parse_options_header(disposition)
        field = opts.get(b"name", b"").decode("utf-8", errors="replace")
        raw_name = opts.get(b"filename")
        role = ROLES.get(field)
        if role is None or raw_name is None or raw_name == b"":
            # Unknown fields, plain text fields and "no file chosen" parts are ignored
            # (their bytes still count towards the limit).
            part.skip = True
            return
        if role.role in self.files:
            self._fail(400, f"more than one {role.label} in the upload; send one")
        part.role = role
        part.name = sanitize_filename(raw_name)
        part.ext = os.path.splitext(part.name)[1].lower()
        if part.ext not in role.extensions:
            allowed = ", ".join(sorted(role.extensions))
            self._fail(400, f"{part.name}: not an accepted {role.label} type (accepted: {allowed})")
        target = self.dest / role.extensions[part.ext]
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        part.fh = os.fdopen(fd, "wb")
        part.stored = StoredFile(role=role.role, path=target, original_name=part.name)
        self.files[role.role] = part.stored

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        if part.skip:
            return
        chunk = data[start:end]
        part.size += len(chunk)
        role = part.role
        assert role is not None and part.fh is not None
        if role.role == "metadata" and part.size > MAX_METADATA_BYTES:
            self._fail(413, f"{part.name}: session.json is larger than {_mb(MAX_METADATA_BYTES)}")
        if role.role == "enrolment_photo":
            if part.size > _max_photo_bytes():
                self._fail(413, f"{part.name}: the enrolment photo is larger than {_mb(_max_photo_bytes())}")
            if len(part.head) < 16:
                part.head += chunk[: 16 - len(part.head)]
                if len(part.head) >= 12:
                    self._check_photo_head(part)
        if role.role in ("video", "audio") and len(part.head) < 16:
            part.head += chunk[: 16 - len(part.head)]
            if len(part.head) >= 12:
                self._check_media(part)
        part.fh.write(chunk)

    def _on_part_end(self) -> None:
        part = self._part
        assert part is not None
        if part.skip or part.fh is None:
            self._part = None
            return
        part.fh.flush()
        os.fsync(part.fh.fileno())
        part.fh.close()
        part.fh = None
        assert part.stored is not None
        part.stored.size = part.size
        if part.role is not None and part.role.role in ("video", "audio") and len(part.head) < 12:
            what = "a video" if part.role.role == "video" else "an audio file"
            self._fail(400, f"{part.name}: too short to be {what} ({part.size} bytes)")
        if part.size == 0:
            self._fail(400, f"{part.name}: the file is empty")
        if part.role is not None and part.role.role == "enrolment_photo" and len(part.head) < 12:
            self._check_photo_head(part)  # a tiny file (a PNM can be a few bytes): what there is
        self._part = None

    def _check_photo_head(self, part: _Part) -> None:
        from interview_guard.io.image_header import IMAGE_FORMATS, image_format

        if image_format(part.head) is None:
            self._fail(400, f"{part.name}: not an image (its content is not {IMAGE_FORMATS})")

    def _check_media(self, part: _Part) -> None:
        if part.role is not None and part.role.role == "audio":
            family = sniff_audio(part.head)
            if family is None:
                self._fail(
                    400,
                    f"{part.name}: not an audio file (its content is not a WAV, FLAC, MP3, Ogg, M4A or AAC stream)",
                )
            if family == _AUDIO_FAMILY[part.ext] or (family == "id3" and part.ext in _ID3_OK):
                return
            self._fail(
                400,
                f"{part.name}: the content is {_FAMILY_LABEL[family]} audio but the name says {part.ext}; "
                "rename it with the right extension",
            )
        family = sniff_video(part.head)
        expected = _VIDEO_FAMILY[part.ext]
        if family is None:
            self._fail(
                400,
                f"{part.name}: not a video file "
                "(its content is not an MP4, QuickTime, WebM, Matroska or AVI container)",
            )
        if family != expected:
            self._fail(
                400,
                f"{part.name}: the content is a {_FAMILY_LABEL[family]} container but the name says {part.ext}; "
                "rename it with the right extension",
            )


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB" if n >= (1 << 20) else f"{n} bytes"


def validate_session_files(files: dict[str, StoredFile], *, in_process: bool = False) -> None:
    """Check the uploaded keystroke log and session.json; raise ``UploadError`` (400, or 413) naming the problem.

    ``session.json`` (at most :data:`MAX_METADATA_BYTES`) is read here with the bounded JSON reader
    (depth, number length, BOM) and :class:`~interview_guard.tracks.metadata.SessionMetadata`. The
    keystroke log, which may be large, is parsed in a child process with bounded memory and time
    (:mod:`.validate`), so the server's own memory does not grow with it; ``in_process`` parses it
    here instead. Every parse failure is a 400 with one line that names the client's file (never the
    server's path).
    """
    from interview_guard.web.validate import check_keystroke_log, check_keystroke_log_here

    if not {"video", "audio", "keystrokes"} & set(files):
        raise UploadError(400, "choose a recording (video or audio) or a keystroke log to scan")
    meta = files.get("metadata")
    if meta is not None:
        _check_metadata(meta)
    photo = files.get("enrolment_photo")
    if photo is not None:
        _check_photo(photo)
    ks = files.get("keystrokes")
    if ks is not None:
        check = check_keystroke_log_here if in_process else check_keystroke_log
        problem = check(ks.path, ks.original_name)
        if problem is not None:
            raise UploadError(*problem)


def _max_photo_bytes() -> int:
    from interview_guard.io.enrolment import MAX_PHOTO_BYTES

    return MAX_PHOTO_BYTES


def _check_photo(photo: StoredFile) -> None:
    """The whole header of the uploaded photo, read as the scan reads it: a readable size, not too many pixels."""
    from interview_guard.io.enrolment import MAX_PHOTO_PIXELS
    from interview_guard.io.image_header import ImageHeaderError, image_size

    name = photo.original_name
    try:
        fmt, w, h = image_size(photo.path.read_bytes())  # at most MAX_PHOTO_BYTES: the sink refused more
    except ImageHeaderError as exc:
        raise UploadError(400, f"{name}: not a readable image ({exc})") from None
    if w * h > MAX_PHOTO_PIXELS:
        raise UploadError(400, f"{name}: {fmt} of {w}x{h} pixels, more than {MAX_PHOTO_PIXELS // 1_000_000} megapixels")


def attach_enrolment_photo(files: dict[str, StoredFile], input_dir: str | os.PathLike[str]) -> None:
    """Point ``session.json``'s ``enrolment_photo`` at the uploaded photo's stored name (``enrolment.jpg``).

    The uploaded ``session.json`` (already checked) gets the field set, whatever it said (a client's path is never
    used); without one, ``session.json`` is written holding only that field (it is the server's, not an upload:
    it is not in ``files``). Written atomically. Nothing to do without a photo.
    """
    import json

    from interview_guard.atomic import atomic_write_text
    from interview_guard.io.bounded_json import read_json_file

    photo = files.get("enrolment_photo")
    if photo is None:
        return
    meta = files.get("metadata")
    target = Path(input_dir) / "session.json" if meta is None else meta.path
    data = {} if meta is None else read_json_file(meta.path, what="session.json", max_bytes=MAX_METADATA_BYTES)
    data["enrolment_photo"] = photo.path.name
    atomic_write_text(target, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    if meta is not None:
        meta.size = target.stat().st_size


def _check_metadata(meta: StoredFile) -> None:
    from interview_guard.errors import InputError
    from interview_guard.io.bounded_json import read_json_file
    from interview_guard.tracks.metadata import SessionMetadata
    from interview_guard.web.validate import one_line

    name = meta.original_name
    try:
        data = read_json_file(meta.path, what="session.json", max_bytes=MAX_METADATA_BYTES)
        SessionMetadata.from_dict(data, path=name)
    except InputError as exc:
        # The reader names the server's copy of the file: name the client's instead.
        raise UploadError(400, one_line(f"bad session.json: {str(exc).replace(str(meta.path), name)}")) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise UploadError(400, one_line(f"bad session.json: {name}: cannot be used ({type(exc).__name__})")) from None
