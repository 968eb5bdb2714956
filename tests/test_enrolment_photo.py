"""The enrolment photo's size is read from its header before decoding; bombs and empty files are unreadable photos.

A PNG of under a megabyte can declare 30000 x 30000 pixels: decoded, it took 5.6 GB and crashed the scan inside
MediaPipe. A zero-byte photo made OpenCV raise an assertion of several lines. Both are now an ``unreadable``
photo with a one-line note (a warning in the report), as docs/session-format.md says of an unreadable photo.
"""

from __future__ import annotations

import struct
import types
import zlib

import numpy as np
import pytest

from interview_guard.io import enrolment
from interview_guard.io.enrolment import MAX_PHOTO_PIXELS, MAX_PHOTO_SIDE, describe_enrolment_photo
from interview_guard.io.image_header import ImageHeaderError, image_size


def _png_header(w: int, h: int, idat: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """cv2.imdecode fails the test when called: the photo must be refused from its header."""
    import cv2

    def refuse(*args, **kwargs):
        raise AssertionError("the photo was decoded")

    monkeypatch.setattr(cv2, "imdecode", refuse)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tiff", ".jp2", ".ppm", ".pgm", ".gif"])
def test_image_size_reads_the_header_of_every_accepted_format(ext):
    import cv2

    img = (np.random.default_rng(0).random((123, 257, 3)) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(ext, img[..., 0] if ext == ".pgm" else img)
    assert ok
    fmt, w, h = image_size(buf.tobytes())
    assert (w, h) == (257, 123), fmt
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (h, w)  # the size the decoder allocates


def test_image_size_refuses_empty_unknown_and_truncated_headers():
    with pytest.raises(ImageHeaderError, match="empty file"):
        image_size(b"")
    with pytest.raises(ImageHeaderError, match="supported format"):
        image_size(b"this is not an image\n" * 10)
    with pytest.raises(ImageHeaderError, match="truncated or malformed PNG"):
        image_size(_png_header(100, 100)[:20])
    with pytest.raises(ImageHeaderError, match="truncated or malformed JPEG"):
        image_size(b"\xff\xd8\xff\xe0\x00\x10JFIF")  # no frame header
    with pytest.raises(ImageHeaderError, match="0x100"):
        image_size(_png_header(0, 100))
    assert image_size(_png_header(30000, 30000)) == ("PNG", 30000, 30000)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 60000, 60000, 0)
    big_gif = b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0) + frame
    assert image_size(big_gif) == ("GIF", 60000, 60000)  # a first frame larger than the screen counts


def test_a_decompression_bomb_photo_is_unreadable_from_its_header(tmp_path, no_decoding):
    zeros = zlib.compressobj(9)
    idat = zeros.compress(b"\x00" * 30001 * 64) + zeros.flush()  # the start of a 30000 x 30000 black PNG
    (tmp_path / "photo.png").write_bytes(_png_header(30000, 30000, idat))
    enr = describe_enrolment_photo(tmp_path, "photo.png")
    assert enr.status == "unreadable" and enr.descriptor is None
    assert enr.note == "enrolment photo photo.png: PNG of 30000x30000 pixels, more than 40 megapixels"
    assert MAX_PHOTO_PIXELS == 40_000_000


@pytest.mark.parametrize(
    ("data", "needle"), [(b"", "empty file"), (b"\xff\xd8\xff\xe0\x00", "truncated or malformed JPEG header")]
)
def test_an_empty_or_headless_photo_is_an_unreadable_photo_in_one_line(tmp_path, data, needle, no_decoding):
    (tmp_path / "photo.jpg").write_bytes(data)
    enr = describe_enrolment_photo(tmp_path, "photo.jpg")
    assert enr.status == "unreadable" and enr.note == f"enrolment photo photo.jpg: not a readable image ({needle})"


def test_an_opencv_error_while_decoding_is_an_unreadable_photo_in_one_line(tmp_path, monkeypatch):
    import cv2

    def assertion(*args, **kwargs):
        raise cv2.error("OpenCV(5.1.0) loadsave.cpp:1313: error: (-215:Assertion failed)\n in function 'imdecode_'\n")

    monkeypatch.setattr(cv2, "imdecode", assertion)
    (tmp_path / "photo.png").write_bytes(_png_header(64, 64))
    enr = describe_enrolment_photo(tmp_path, "photo.png")
    assert enr.status == "unreadable" and enr.note == "enrolment photo photo.png: not a readable image"


def test_a_large_photo_is_scaled_down_before_mediapipe_sees_it(tmp_path, monkeypatch):
    import cv2

    seen: list[tuple[int, ...]] = []

    class Runner:  # stands in for MediaPipe: records the image it is given, finds no face
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def process(self, rgb, t_s):
            seen.append(rgb.shape)
            return types.SimpleNamespace(present=False, n_faces=0, landmarks=None)

    import interview_guard.io.landmarks as landmarks

    monkeypatch.setattr(landmarks, "FaceLandmarkerRunner", Runner)
    img = np.full((3000, 4100, 3), 128, np.uint8)
    assert cv2.imwrite(str(tmp_path / "photo.jpg"), img)
    enr = describe_enrolment_photo(tmp_path, "photo.jpg")
    assert seen == [(1499, MAX_PHOTO_SIDE, 3)]
    assert enr.status == "no_face" and enr.note == "enrolment photo photo.jpg (4100x3000): no face found"
    seen.clear()
    assert cv2.imwrite(str(tmp_path / "small.png"), img[:600, :800])
    assert describe_enrolment_photo(tmp_path, "small.png").status == "no_face"
    assert seen == [(600, 800, 3)]  # a small photo is left as it is
    assert enrolment.MAX_PHOTO_SIDE == 2048
