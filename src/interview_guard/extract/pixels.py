"""Pixel maths of the video scan: luma thumbnails, RGB for the landmarkers, face crops, the PixelTrack row.

Works on decoded PyAV frames and numpy images with OpenCV (imported lazily:
:func:`import_cv2`). "Gray" here is the decoded luma (Y') where the picture
is 8-bit YUV (nearly every recording), else libswscale's gray conversion:
levels 0-255, usually limited range (16-235). Motion values are mean absolute
differences in those levels.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from interview_guard.errors import MediaError
from interview_guard.signals.face_geometry import FACE_OVAL, points_in_polygon
from interview_guard.tracks.video import PixelTrack

__all__ = [
    "THUMB_SIDE",
    "WORK_SIDE",
    "FACE_ZONE_SCALE",
    "BAND_FRACTION",
    "import_cv2",
    "one_cv2_thread",
    "luma",
    "rgb_for_landmarks",
    "area_resize",
    "face_crop",
    "face_zone",
    "zone_crop",
    "pixel_row",
    "FacePixels",
    "ZONE_HOLD_S",
    "ZoneAnchor",
]

#: Longer side of the per-frame motion thumbnails (pixels).
THUMB_SIDE = 160
#: Longer side of the luma the PixelTrack is measured on (pixels).
WORK_SIDE = 320
#: The face zone: the face box scaled by this about its centre.
FACE_ZONE_SCALE = 1.6
#: Width of the band around the face outline, as a share of the face width (each side).
BAND_FRACTION = 0.08
#: How long the anchored face zone is held while a hand is in it or the face is lost (s).
ZONE_HOLD_S = 3.0

# Pixel formats whose first plane is 8-bit luma (taken as is for the gray images).
_Y8_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
     "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray", "yuva420p"}
)  # fmt: skip


def import_cv2() -> Any:
    """The OpenCV module (heavy: imported only when video is scanned)."""
    try:
        import cv2  # noqa: PLC0415 - heavy, imported only when video is scanned
    except ImportError as exc:  # pragma: no cover - opencv is a hard dependency
        raise MediaError(f"OpenCV (cv2, installed with mediapipe) is missing ({exc}); pip install mediapipe") from None
    return cv2


@contextlib.contextmanager
def one_cv2_thread() -> Iterator[None]:
    """OpenCV's own thread pool off while the block runs (restored after).

    The scan runs its stages on threads of its own (decoding, motion, the two landmarkers, descriptors); OpenCV
    splitting each small resize or colour conversion over the cores besides only adds hand-offs: 1.4 and 0.7 of
    15 CPU s less on a 1-minute 720p scan (docs/face-artifacts.md, "Speed of the whole scan"). The pictures are
    the same (OpenCV splits by rows).
    """
    cv2 = import_cv2()
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def luma(vf: Any, size: tuple[int, int]) -> np.ndarray:
    """The luma of a decoded frame scaled to ``size`` (source orientation) by area averaging.

    Exact 2:1 bilinear halvings (each a 2x2 box average) down to at most 1.5x
    the target, then ``INTER_AREA``: the same picture as ``INTER_AREA`` in one
    step (within rounding) at half the cost (0.16 ms for 1280x720 -> 160x90).
    """
    cv2 = import_cv2()
    w, h = size
    if vf.format.name not in _Y8_FORMATS:
        gray: np.ndarray = vf.to_ndarray(format="gray", width=w, height=h, interpolation="AREA")
        return gray
    pl = vf.planes[0]
    y = np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[: vf.height, : vf.width]
    if (w, h) == (vf.width, vf.height):
        return np.ascontiguousarray(y)
    cw, ch = vf.width, vf.height
    while cw // 2 >= 1.5 * w and ch // 2 >= 1.5 * h:
        cw, ch = cw // 2, ch // 2
        y = cv2.resize(y, (cw, ch), interpolation=cv2.INTER_LINEAR)
    out: np.ndarray = cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA)
    return out


def face_crop(gray: np.ndarray, box: Any) -> np.ndarray | None:
    """The face box (normalised x0, y0, x1, y1) of ``gray`` resized to PixelTrack.CROP squared."""
    cv2 = import_cv2()
    H, W = gray.shape
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    a, b = int(max(math.floor(x0 * W), 0)), int(max(math.floor(y0 * H), 0))
    c, d = int(min(math.ceil(x1 * W), W)), int(min(math.ceil(y1 * H), H))
    if c - a < 4 or d - b < 4:
        return None
    crop: np.ndarray = cv2.resize(gray[b:d, a:c], (PixelTrack.CROP, PixelTrack.CROP), interpolation=cv2.INTER_AREA)
    return crop


def face_zone(face_lm: np.ndarray) -> tuple[tuple[float, float, float, float], np.ndarray] | None:
    """The face zone of a face (normalised box: the face-oval box scaled ``FACE_ZONE_SCALE``) and its oval in it.

    Returns ``(box, oval)`` with ``oval`` the face-oval points in zone
    coordinates (0-1 across the box), or None when the landmarks are not finite.
    """
    oval = np.asarray(face_lm, dtype=np.float64)[FACE_OVAL, :2]
    if not np.all(np.isfinite(oval)):
        return None
    (x0, y0), (x1, y1) = oval.min(axis=0), oval.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = max(x1 - x0, 1e-4) * FACE_ZONE_SCALE / 2, max(y1 - y0, 1e-4) * FACE_ZONE_SCALE / 2
    box = (cx - hw, cy - hh, cx + hw, cy + hh)
    rel = (oval - (box[0], box[1])) / (box[2] - box[0], box[3] - box[1])
    return box, rel


class ZoneAnchor:
    """The anchored face zone of the PixelTrack (``zone_*`` columns), frame after landmarked frame.

    The zone follows the face while no hand is in it; while a hand is in it, or the face is lost, it stays where it
    was (at most ``ZONE_HOLD_S``), so a crossing is seen at a fixed place. ``hand_in_zone``: the last frame had a
    hand in the face's zone (or a hand and no face).
    """

    def __init__(self) -> None:
        # (time, box, oval) of the last face with no hand in its zone
        self.anchor: tuple[float, tuple[float, float, float, float], np.ndarray] | None = None
        self.hand_in_zone = False

    def update(
        self, t: float, face_lm: np.ndarray | None, hand_lm: np.ndarray, hand_count: int
    ) -> tuple[tuple[float, float, float, float], np.ndarray, bool] | None:
        """``(box, oval, held)`` of the zone for this frame (None: no zone yet); ``face_lm`` None without a face."""
        here = face_zone(face_lm) if face_lm is not None else None
        hand_in = False
        if here is not None and hand_count:
            x0, y0, x1, y1 = here[0]
            pts = np.asarray(hand_lm, dtype=np.float64)[..., :2].reshape(-1, 2)
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            hand_in = bool(np.any((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)))
        self.hand_in_zone = hand_in or (here is None and bool(hand_count))
        held = False
        if here is not None and not hand_in:
            self.anchor = (t, here[0], here[1])
        elif self.anchor is not None and t - self.anchor[0] <= ZONE_HOLD_S:
            held = True
        elif here is not None:
            self.anchor = (t, here[0], here[1])
        else:
            return None
        return self.anchor[1], self.anchor[2], held


def zone_crop(gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The zone ``box`` (normalised, may reach past the frame) of ``gray`` resized to PixelTrack.ZONE squared.

    Parts outside the frame repeat the frame's edge pixels, so the crop keeps
    its geometry (the oval stays where :func:`face_zone` put it).
    """
    cv2 = import_cv2()
    H, W = gray.shape
    x0, y0, x1, y1 = box[0] * W, box[1] * H, box[2] * W, box[3] * H
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 - x0 < 4 or y1 - y0 < 4:
        return None
    z = PixelTrack.ZONE
    # affine map from the zone (z x z) to the frame; warpAffine samples with area-like smoothing when
    # the source is larger: pre-blur by the scale so a big zone does not alias
    sx, sy = (x1 - x0) / z, (y1 - y0) / z
    src = gray
    if sx > 1.5 or sy > 1.5:
        k = int(2 * round(max(sx, sy) / 2) + 1)
        src = cv2.blur(gray, (k, k))
    m = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]], dtype=np.float64)
    out: np.ndarray = cv2.warpAffine(
        src, m, (z, z), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return out


def pixel_row(
    gray: np.ndarray, prev: np.ndarray | None, face_lm: np.ndarray, hand_lm: np.ndarray
) -> tuple[float, float, float, float, float, float]:
    """The six PixelTrack values of one frame (see :class:`PixelTrack`)."""
    face = FacePixels(gray, prev, face_lm)
    return face.row(hand_lm)


class FacePixels:
    """The PixelTrack values of one frame measured from the face alone; :meth:`row` adds the hand's.

    The scan measures the face part while the hand landmarker still runs on the same frame
    (:mod:`interview_guard.extract.scanner`); ``FacePixels(gray, prev, face_lm).row(hand_lm)`` is
    :func:`pixel_row`.
    """

    def __init__(self, gray: np.ndarray, prev: np.ndarray | None, face_lm: np.ndarray) -> None:
        self.values: tuple[float, float, float, float, float] = (np.nan,) * 5
        self._roi: tuple[np.ndarray, np.ndarray, int, int] | None = None  # poly, roi, its corner
        self._size = (int(gray.shape[0]), int(gray.shape[1]))
        self._measure(gray, prev, face_lm)

    def row(self, hand_lm: np.ndarray) -> tuple[float, float, float, float, float, float]:
        """The six values: ring, inner, background motion, texture, face luma, hand delta."""
        if self._roi is None:
            return (np.nan,) * 6
        poly, roi, rx0, ry0 = self._roi
        face_luma = self.values[4]
        delta = np.nan
        H, W = self._size
        hp = np.asarray(hand_lm, dtype=np.float64).reshape(-1, hand_lm.shape[-1])[:, :2]
        hp = hp[np.all(np.isfinite(hp), axis=1)] * (W, H)
        if hp.shape[0]:
            inside = hp[points_in_polygon(hp, poly)]
            if inside.shape[0]:
                cv2 = import_cv2()
                blur = cv2.blur(roi, (3, 3))
                xi = np.clip(np.round(inside[:, 0] - rx0).astype(int), 0, roi.shape[1] - 1)
                yi = np.clip(np.round(inside[:, 1] - ry0).astype(int), 0, roi.shape[0] - 1)
                delta = float(blur[yi, xi].mean()) - face_luma
        return (*self.values, delta)

    def _measure(self, gray: np.ndarray, prev: np.ndarray | None, face_lm: np.ndarray) -> None:
        cv2 = import_cv2()
        H, W = gray.shape
        poly = face_lm[FACE_OVAL, :2].astype(np.float64) * (W, H)
        if not np.all(np.isfinite(poly)):
            return
        x0, y0 = poly.min(axis=0)
        x1, y1 = poly.max(axis=0)
        fw, fh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        band = max(1, int(round(BAND_FRACTION * fw)))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        hz_w, hz_h = FACE_ZONE_SCALE * fw / 2, FACE_ZONE_SCALE * fh / 2
        # Region of interest: the 1.6x face zone, widened by the band, clipped to the image.
        rx0 = int(max(math.floor(min(cx - hz_w, x0 - band)), 0))
        ry0 = int(max(math.floor(min(cy - hz_h, y0 - band)), 0))
        rx1 = int(min(math.ceil(max(cx + hz_w, x1 + band)) + 1, W))
        ry1 = int(min(math.ceil(max(cy + hz_h, y1 + band)) + 1, H))
        if rx1 - rx0 < 2 or ry1 - ry0 < 2:
            return
        roi = gray[ry0:ry1, rx0:rx1]
        shape = roi.shape
        pts = np.round((poly - (rx0, ry0)) * 4).astype(np.int32).reshape(-1, 1, 2)  # 2 fractional bits
        face_mask = np.zeros(shape, np.uint8)
        cv2.fillPoly(face_mask, [pts], 255, lineType=cv2.LINE_8, shift=2)
        ring_mask = np.zeros(shape, np.uint8)
        cv2.polylines(ring_mask, [pts], True, 255, thickness=2 * band + 1, lineType=cv2.LINE_8, shift=2)
        inner_mask = face_mask.copy()
        cv2.polylines(inner_mask, [pts], True, 0, thickness=2 * band + 1, lineType=cv2.LINE_8, shift=2)
        n_face = int(cv2.countNonZero(face_mask))
        if n_face == 0:
            return
        face_luma = cv2.mean(roi, mask=face_mask)[0]
        lap = cv2.convertScaleAbs(cv2.Laplacian(roi, cv2.CV_16S, ksize=3))
        texture = cv2.mean(lap, mask=face_mask)[0] / (face_luma + 1.0)
        ring = inner = bg = np.nan
        if prev is not None and prev.shape == gray.shape:
            diff = cv2.absdiff(gray, prev)
            droi = diff[ry0:ry1, rx0:rx1]
            ring = cv2.mean(droi, mask=ring_mask)[0]
            if cv2.countNonZero(inner_mask):
                inner = cv2.mean(droi, mask=inner_mask)[0]
            bx0, by0 = int(max(round(cx - hz_w), 0)), int(max(round(cy - hz_h), 0))
            bx1, by1 = int(min(round(cx + hz_w), W)), int(min(round(cy + hz_h), H))
            total = float(diff.sum(dtype=np.int64))
            zone = float(diff[by0:by1, bx0:bx1].sum(dtype=np.int64)) if bx1 > bx0 and by1 > by0 else 0.0
            n_out = W * H - max(bx1 - bx0, 0) * max(by1 - by0, 0)
            bg = (total - zone) / n_out if n_out > 0 else np.nan
        self.values = (ring, inner, bg, texture, face_luma)
        self._roi = (poly, roi, rx0, ry0)


def area_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize(img, size, interpolation=cv2.INTER_AREA)`` of a 2-d uint8 image, the same pixels.

    An odd whole-number factor k (3 to 11) in both directions, as 1920x1080 -> 640x360, is summed in k x k
    blocks with numpy and rounded to the nearest level (k squared is odd: never a tie, so OpenCV's rounding
    gives the same): 2.0 against 3.7-4.0 ms for the three planes of a 1080p frame. Any other factor goes to
    OpenCV.
    """
    w, h = size
    H, W = img.shape[:2]
    k = W // w if w else 0
    if img.ndim != 2 or img.dtype != np.uint8 or k % 2 == 0 or not 3 <= k <= 11 or (W, H) != (k * w, k * h):
        out: np.ndarray = import_cv2().resize(img, size, interpolation=import_cv2().INTER_AREA)
        return out
    rows = img.reshape(h, k, W).sum(axis=1, dtype=np.uint32 if k > 7 else np.uint16)  # k rows summed
    blocks = rows.reshape(h, w, k)
    total = blocks[:, :, 0] + blocks[:, :, 1]
    for i in range(2, k):
        total += blocks[:, :, i]
    area = k * k
    rounded: np.ndarray = ((total * 2 + area) // (2 * area)).astype(np.uint8)  # round(total / area), no ties
    return rounded


def rgb_for_landmarks(vf: Any, size: tuple[int, int] | None) -> np.ndarray:
    """RGB of a decoded frame at ``size`` (width, height; None: as decoded), source orientation.

    yuv420p (nearly every recording): the three planes are scaled with OpenCV
    (area averaging, :func:`area_resize`) and converted with ``cv2.COLOR_YUV2RGB_I420`` (BT.601,
    limited range, like libswscale's default): 0.2 ms for 1280x720 -> 640x360,
    against 1.4 ms for libswscale scaling with area averaging. Other formats
    go through libswscale.
    """
    cv2 = import_cv2()
    if vf.format.name == "yuv420p" and vf.width % 2 == 0 and vf.height % 2 == 0:
        w, h = size if size is not None else (vf.width, vf.height)
        if w % 2 == 0 and h % 2 == 0:
            planes = []
            for k, (pw, ph) in enumerate(((w, h), (w // 2, h // 2), (w // 2, h // 2))):
                pl = vf.planes[k]
                a = np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[: pl.height, : pl.width]
                if (pl.width, pl.height) != (pw, ph):
                    a = area_resize(a, (pw, ph))
                planes.append(a)
            i420 = np.concatenate([p.reshape(-1) for p in planes]).reshape(h * 3 // 2, w)
            out: np.ndarray = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
            return out
    rgb: np.ndarray = vf.to_ndarray(format="rgb24")
    if size is None:
        return rgb
    scaled: np.ndarray = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return scaled
