"""The length a WAV file's header declares, read from its chunks (no decoder).

FFmpeg takes a WAV's duration from the file's size, not from the ``data`` chunk's declared size, so a WAV cut
short (its writer crashed after finalising the header, an upload that stopped) looks whole to it.
:func:`wav_declared_seconds` reads the declared size itself: the RIFF header (``RIFF``, or ``RF64`` / ``BW64``
with the 64-bit sizes of their ``ds64`` chunk), the ``fmt`` chunk (``WAVE_FORMAT_EXTENSIBLE`` read through its
sub-format) and the ``data`` chunk's size, walking the chunks in between (an odd-sized chunk is followed by a pad
byte). A size a streaming writer leaves when it never finalised the header (0, ``0xFFFFFFFF``, or ``0x7FFFFFFF``,
the largest signed 32-bit size) means "unknown", not "cut short": the result is then ``None``.
"""

from __future__ import annotations

import struct
from os import PathLike
from typing import Any

__all__ = ["wav_declared_seconds", "wav_container_seconds"]

# data sizes a writer leaves in a header it never finalised: not a length
_UNKNOWN_32 = frozenset({0, 0xFFFFFFFF, 0x7FFFFFFF})
_UNKNOWN_64 = frozenset({0, 0xFFFFFFFFFFFFFFFF})
# format tags of fixed-size samples (PCM, IEEE float, A-law, mu-law): frames are data bytes / block align
_FIXED_SIZE_TAGS = frozenset({1, 3, 6, 7})
_EXTENSIBLE = 0xFFFE
# the chunks read before ``data`` at most (a WAV has a handful: fmt, fact, LIST, bext, JUNK, ...)
_MAX_CHUNKS = 256


def wav_declared_seconds(path: str | PathLike[str]) -> float | None:
    """Seconds of audio the ``data`` chunk of a WAV file declares, or ``None`` when not known.

    ``None`` for a file that is not a RIFF/RF64 WAVE, whose ``fmt`` chunk does not come before ``data`` or
    cannot be read, or whose ``data`` size is one a streaming writer leaves unfinalised (module notes).
    Never raises for a bad file (the decoder reports those); an ``OSError`` opening it is let through.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64", b"BW64"):
            return None
        rf64 = head[:4] != b"RIFF"
        ds64_data: int | None = None
        fmt: bytes | None = None
        for _ in range(_MAX_CHUNKS):
            hdr = f.read(8)
            if len(hdr) < 8:
                return None
            cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"data":
                if fmt is None:
                    return None
                if rf64 and size == 0xFFFFFFFF:
                    if ds64_data is None or ds64_data in _UNKNOWN_64:
                        return None
                    return _seconds(fmt, ds64_data)
                if size in _UNKNOWN_32:
                    return None
                return _seconds(fmt, size)
            if cid in (b"fmt ", b"ds64") and size <= 4096:
                body = f.read(size)
                if len(body) < size:
                    return None
                if cid == b"fmt ":
                    fmt = body
                elif len(body) >= 16:
                    ds64_data = struct.unpack("<Q", body[8:16])[0]
                f.seek(size & 1, 1)
            else:
                f.seek(size + (size & 1), 1)
    return None


def wav_container_seconds(container: Any, path: str | PathLike[str]) -> float:
    """:func:`wav_declared_seconds` of ``path`` when FFmpeg opened it (``container``, a PyAV input container) as a
    WAV; 0.0 for another format, a length not known, or a file that cannot be read again."""
    if "wav" not in str(getattr(getattr(container, "format", None), "name", "") or "").split(","):
        return 0.0
    try:
        return wav_declared_seconds(path) or 0.0
    except OSError:
        return 0.0


def _seconds(fmt: bytes, data_bytes: int) -> float | None:
    """Seconds that ``data_bytes`` of audio hold in the format of ``fmt`` (a ``fmt`` chunk's body)."""
    if len(fmt) < 16:
        return None
    tag, _channels, rate, byte_rate, block_align = struct.unpack("<HHIIH", fmt[:14])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID begins with the format tag
    if rate <= 0:
        return None
    if tag in _FIXED_SIZE_TAGS and block_align > 0:
        return (data_bytes // block_align) / rate
    if byte_rate > 0:  # compressed (ADPCM, GSM, ...): the average byte rate
        return data_bytes / byte_rate
    return None
