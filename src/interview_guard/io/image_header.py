"""An image's width and height read from its header, before anything decodes it.

A PNG of a few hundred kilobytes can declare 30000 x 30000 pixels: OpenCV would allocate its 2.7 GB (and
MediaPipe copy them) before anything could look at the size. :func:`image_size` reads the size the header
declares, from a few bytes and without a decoder, for the formats an enrolment photo is accepted in: JPEG,
PNG, WebP, GIF, BMP, TIFF, JPEG 2000 and PNM (PBM, PGM, PPM). It recognises a format by the same leading
bytes OpenCV's decoders do, and reads the size where that decoder takes it from (JPEG: the first SOF marker;
JPEG 2000: the codestream's SIZ marker, not the JP2 header box; GIF: the larger of the screen and the first
frame), so the size it reports is the one the decoder would allocate. Any other format (AVIF, HEIC, HDR, ...)
is refused: its size is not checked here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = ["ImageHeaderError", "image_size", "image_format", "IMAGE_FORMATS"]

#: The formats :func:`image_size` reads, as named in messages.
IMAGE_FORMATS = "JPEG, PNG, WebP, GIF, BMP, TIFF, JPEG 2000 or PNM"

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


class ImageHeaderError(ValueError):
    """The header is missing, truncated or malformed, or the format is not one :func:`image_size` reads."""


def image_size(data: bytes) -> tuple[str, int, int]:
    """The format, width and height an image file declares.

    Parameters
    ----------
    data : bytes
        The whole file (TIFF and JPEG keep their size behind offsets and markers).

    Returns
    -------
    (str, int, int)
        Format name (``"JPEG"``, ``"PNG"``, ...), width and height in pixels, both at least 1.

    Raises
    ------
    ImageHeaderError
        An empty file, a format not listed in :data:`IMAGE_FORMATS`, or a header too short or malformed to say;
        the message is one line.
    """
    if not data:
        raise ImageHeaderError("empty file")
    for fmt, signature, reader in _READERS:
        if signature(data):
            try:
                w, h = reader(data)
            except (struct.error, IndexError, KeyError, ValueError) as exc:
                raise ImageHeaderError(f"truncated or malformed {fmt} header") from exc
            if w < 1 or h < 1:
                raise ImageHeaderError(f"{fmt} header declares {w}x{h} pixels")
            return fmt, w, h
    raise ImageHeaderError(f"not an image in a supported format ({IMAGE_FORMATS})")


def image_format(head: bytes) -> str | None:
    """The format an image's first bytes (12 are enough) announce, as :func:`image_size` recognises it
    (``"JPEG"``, ``"PNG"``, ...), or None when they announce none of :data:`IMAGE_FORMATS`. Says nothing of the
    rest of the file: an upload checks its first bytes as they arrive, then the whole header with
    :func:`image_size`."""
    return next((fmt for fmt, signature, _ in _READERS if signature(head)), None)


def _png(d: bytes) -> tuple[int, int]:
    if d[12:16] != b"IHDR":
        raise ValueError("no IHDR")
    w, h = struct.unpack_from(">II", d, 16)
    return int(w), int(h)


def _jpeg(d: bytes) -> tuple[int, int]:
    """The first SOF marker's size, walking the markers as libjpeg does (garbage between them skipped)."""
    i = 2
    while True:
        i = d.index(b"\xff", i)  # libjpeg skips garbage before a marker (a ValueError at the end)
        while d[i] == 0xFF:  # and fill bytes
            i += 1
        m = d[i]
        i += 1
        if m == 0x01 or 0xD0 <= m <= 0xD7:  # no length
            continue
        if m in (0xD9, 0xDA):  # end of image, or the scan before any frame header
            raise ValueError("no frame header")
        (length,) = struct.unpack_from(">H", d, i)
        if m in _JPEG_SOF:
            h, w = struct.unpack_from(">HH", d, i + 3)
            return int(w), int(h)
        if length < 2:
            raise ValueError("bad segment length")
        i += length


def _webp(d: bytes) -> tuple[int, int]:
    kind, body = d[12:16], 20
    if kind == b"VP8 ":
        if d[body + 3 : body + 6] != b"\x9d\x01\x2a":
            raise ValueError("no VP8 start code")
        w, h = struct.unpack_from("<HH", d, body + 6)
        return int(w) & 0x3FFF, int(h) & 0x3FFF
    if kind == b"VP8L":
        if d[body] != 0x2F:
            raise ValueError("no VP8L signature")
        (bits,) = struct.unpack_from("<I", d, body + 1)
        return (int(bits) & 0x3FFF) + 1, ((int(bits) >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        if len(d) < body + 10:
            raise ValueError("short VP8X")
        w, h = (int.from_bytes(d[at : at + 3], "little") + 1 for at in (body + 4, body + 7))
        return w, h
    raise ValueError("unknown WebP chunk")


def _gif(d: bytes) -> tuple[int, int]:
    """The logical screen, or the first frame when it is larger (both are allocated by some decoder)."""
    sw, sh, flags = struct.unpack_from("<HHB", d, 6)
    i = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while True:
        block = d[i]
        if block == 0x21:  # an extension: label, then sub-blocks up to an empty one
            i += 2
            while d[i]:
                i += d[i] + 1
            i += 1
        elif block == 0x2C:  # the first image descriptor
            fx, fy, fw, fh = struct.unpack_from("<HHHH", d, i + 1)
            return max(int(sw), int(fx) + int(fw)), max(int(sh), int(fy) + int(fh))
        else:  # the trailer, or garbage: no frame
            raise ValueError("no image descriptor")


def _bmp(d: bytes) -> tuple[int, int]:
    (size,) = struct.unpack_from("<I", d, 14)
    if size == 12:  # BITMAPCOREHEADER
        w, h = struct.unpack_from("<HH", d, 18)
    elif size >= 16:
        w, h = struct.unpack_from("<ii", d, 18)
    else:
        raise ValueError("unknown DIB header")
    return int(w), abs(int(h))  # a negative height is a top-down bitmap


def _tiff(d: bytes) -> tuple[int, int]:
    """ImageWidth (256) and ImageLength (257) of the first directory, classic or BigTIFF."""
    e = "<" if d[:2] == b"II" else ">"
    (version,) = struct.unpack_from(e + "H", d, 2)
    big = version == 43
    (ifd,) = struct.unpack_from(e + ("Q" if big else "I"), d, 8 if big else 4)
    (n,) = struct.unpack_from(e + ("Q" if big else "H"), d, ifd)
    entry, first = (20, ifd + 8) if big else (12, ifd + 2)
    found: dict[int, int] = {}
    for k in range(min(int(n), 4096)):
        at = first + k * entry
        tag, typ = struct.unpack_from(e + "HH", d, at)
        if tag in (256, 257):
            value = at + (12 if big else 8)
            fmt = {3: "H", 4: "I", 16: "Q"}.get(int(typ))
            if fmt is None:
                raise ValueError("bad size type")
            (found[int(tag)],) = struct.unpack_from(e + fmt, d, value)
    return found[256], found[257]  # a KeyError if absent: caught below as a malformed header


def _jpeg2000(d: bytes) -> tuple[int, int]:
    """The codestream's SIZ marker (a JP2 file's ``jp2c`` box holds the codestream; its header box is not read)."""
    if d.startswith(_JP2_SIGNATURE):
        i = 0
        while True:
            size, kind = struct.unpack_from(">I4s", d, i)
            body = i + 8
            if size == 1:
                (size,) = struct.unpack_from(">Q", d, i + 8)
                body = i + 16
            if kind == b"jp2c":
                d = d[body:]
                break
            if size == 0 or size < body - i:  # the last box, or a bad size: no codestream
                raise ValueError("no codestream box")
            i += size
    if d[:4] != b"\xff\x4f\xff\x51":
        raise ValueError("no SIZ marker")
    xs, ys, xo, yo = struct.unpack_from(">IIII", d, 8)
    return int(xs) - int(xo), int(ys) - int(yo)


def _pnm(d: bytes) -> tuple[int, int]:
    """Width and height, the two numbers after the magic (``#`` comments skipped)."""
    numbers: list[int] = []
    i = 2
    while len(numbers) < 2:
        c = d[i : i + 1]
        if c == b"#":
            while d[i] not in b"\r\n":
                i += 1
        elif c.isdigit():
            j = i
            while d[j : j + 1].isdigit():
                j += 1
            if j - i > 9:
                raise ValueError("number too long")
            numbers.append(int(d[i:j]))
            i = j
            continue
        elif c not in b" \t\r\n\v\f":
            raise ValueError("not a number")
        i += 1
    return numbers[0], numbers[1]


def _is_webp(d: bytes) -> bool:
    return d[:4] == b"RIFF" and d[8:12] == b"WEBP"


def _is_tiff(d: bytes) -> bool:
    return d[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _is_pnm(d: bytes) -> bool:
    return d[:1] == b"P" and d[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6") and d[2:3].isspace()


def _is_jpeg2000(d: bytes) -> bool:
    return d.startswith(_JP2_SIGNATURE) or d[:4] == b"\xff\x4f\xff\x51"


_READERS: tuple[tuple[str, Callable[[bytes], bool], Callable[[bytes], tuple[int, int]]], ...] = (
    ("PNG", lambda d: d[:8] == b"\x89PNG\r\n\x1a\n", _png),
    ("JPEG", lambda d: d[:3] == b"\xff\xd8\xff", _jpeg),
    ("WebP", _is_webp, _webp),
    ("GIF", lambda d: d[:6] in (b"GIF87a", b"GIF89a"), _gif),
    ("BMP", lambda d: d[:2] == b"BM", _bmp),
    ("TIFF", _is_tiff, _tiff),
    ("JPEG 2000", _is_jpeg2000, _jpeg2000),
    ("PNM", _is_pnm, _pnm),
)
