"""Square crops for the face runner's small-face fallback: where to look, cutting, mapping back.

See "Small faces" in :mod:`interview_guard.io.landmarks` for how the runner
uses them.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["search_windows", "crop_to_frame", "cut_window"]


def crop_to_frame(landmarks: np.ndarray, *, window: tuple[int, int, int], frame_size: tuple[int, int]) -> np.ndarray:
    """Map landmarks normalised to a square crop back to the full frame.

    Parameters
    ----------
    landmarks : ndarray, shape (..., 3)
        x, y in [0, 1] of the crop, z in crop-width units.
    window : (x0, y0, side)
        The crop in full-frame pixels (it may reach outside the frame: the
        part outside was padded).
    frame_size : (width, height)

    Returns
    -------
    ndarray of float32, shape (..., 3)
    """
    x0, y0, side = window
    w, h = frame_size
    out = np.empty(landmarks.shape, dtype=np.float32)
    out[..., 0] = (x0 + landmarks[..., 0] * side) / w
    out[..., 1] = (y0 + landmarks[..., 1] * side) / h
    out[..., 2] = landmarks[..., 2] * (side / w)
    return out


def search_windows(width: int, height: int) -> list[tuple[int, int, int]]:
    """The search windows ``(x0, y0, side)`` for a frame, in the order they are tried.

    See "Small faces" in :mod:`interview_guard.io.landmarks` for the layout.
    """
    short = min(width, height)
    rx0, rx1 = 0.1 * width, 0.9 * width
    ry0, ry1 = 0.0, 0.9 * height
    anchor = (0.5 * width, 0.4 * height)
    out: list[tuple[int, int, int]] = []
    for side in (short, short // 2):
        if side < 32:
            continue
        stride = side / 2
        xs = _positions(rx0, rx1, side, stride, width)
        ys = _positions(ry0, ry1, side, stride, height)
        level = [(int(x), int(y), int(side)) for y in ys for x in xs]
        level.sort(key=lambda w: math.hypot(w[0] + w[2] / 2 - anchor[0], w[1] + w[2] / 2 - anchor[1]))
        for wdw in level:
            if wdw not in out:
                out.append(wdw)
    return out


def _positions(lo: float, hi: float, side: float, stride: float, limit: int) -> list[int]:
    span = hi - lo
    if span <= side:
        c = (lo + hi) / 2 - side / 2
        return [int(round(min(max(c, 0), limit - side)))]
    n = int(math.ceil((span - side) / stride)) + 1
    step = (span - side) / (n - 1)
    return sorted({int(round(min(max(lo + i * step, 0), limit - side))) for i in range(n)})


def cut_window(image: np.ndarray, window: tuple[int, int, int], min_side: int) -> np.ndarray:
    """The square ``window`` of ``image`` (padded with black outside), scaled up to ``min_side``."""
    import cv2  # noqa: PLC0415

    x0, y0, side = window
    h, w = image.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xa == x0 and ya == y0 and xb == x0 + side and yb == y0 + side:
        crop = image[ya:yb, xa:xb]
    else:
        crop = np.zeros((side, side, image.shape[2]), dtype=image.dtype)
        crop[ya - y0 : yb - y0, xa - x0 : xb - x0] = image[ya:yb, xa:xb]
    if side < min_side:
        crop = cv2.resize(crop, (min_side, min_side), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)
