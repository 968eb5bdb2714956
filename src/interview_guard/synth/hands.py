"""Hand cut-outs: the :class:`HandCutout` type, cut-outs from masked photos, and the photos of a directory.

The lowest of the hand modules: :mod:`~interview_guard.synth.hand_segment`
makes cut-outs from unmasked photos and
:mod:`~interview_guard.synth.hand_composite` puts them in front of faces;
both import this module, never the other way round.

OpenCV is imported lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import InputError

__all__ = ["HandCutout", "load_hand_cutout", "hand_files", "hand_sources"]


def _cv2() -> Any:
    import cv2  # noqa: PLC0415 - heavy, imported on use

    return cv2


@dataclass(frozen=True)
class HandCutout:
    """A segmented hand: RGB pixels and a soft alpha (both cropped to the hand)."""

    rgb: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) float32 in [0, 1]
    source: str = ""


def load_hand_cutout(
    image_path: str | os.PathLike[str], mask_path: str | os.PathLike[str], *, feather_px: float = 1.5, erode_px: int = 2
) -> HandCutout:
    """Cut a hand out of a photo with its binary mask (white = hand).

    Raises
    ------
    InputError
        When either file cannot be read or the mask is empty.
    """
    cv2 = _cv2()
    img = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError("cannot read hand image", path=image_path)
    if mask is None:
        raise InputError("cannot read hand mask", path=mask_path)
    if mask.shape != img.shape[:2]:
        mask = cv2.resize(mask, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
    m = (mask > 127).astype(np.uint8)
    if erode_px > 0:  # masks drawn by hand overlap the background by a pixel or two
        m = cv2.erode(m, np.ones((2 * erode_px + 1, 2 * erode_px + 1), np.uint8))
    if m.sum() < 50:
        raise InputError("hand mask is empty", path=mask_path)
    # largest connected part only (stray mask pixels would float around)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    m = (labels == keep).astype(np.float32)
    ys, xs = np.nonzero(m)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = m[y0:y1, x0:x1]
    if feather_px > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather_px)
    rgb = cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
    return HandCutout(
        rgb=np.ascontiguousarray(rgb), alpha=np.clip(alpha, 0, 1).astype(np.float32), source=str(image_path)
    )


def hand_files(hands_dir: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of a directory laid out like ../shared/data/hands (``*_mask.png`` beside ``*.jpg``)."""
    d = Path(hands_dir)
    out = []
    for mask in sorted(d.glob("*_mask.png")):
        img = mask.with_name(mask.name.replace("_mask.png", ".jpg"))
        if img.is_file():
            out.append((img, mask))
    return out


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def hand_sources(hands_dir: str | os.PathLike[str]) -> list[tuple[Path, Path | None]]:
    """Every hand photo of a directory with its mask, or ``None`` when it has none.

    Photos are ``*.jpg``, ``*.jpeg`` and ``*.png`` files (``*_mask.png`` are
    masks, not photos); a photo ``x.jpg`` has the mask ``x_mask.png`` when
    that file exists. Sorted by file name.
    """
    d = Path(hands_dir)
    out: list[tuple[Path, Path | None]] = []
    for f in sorted(d.iterdir()) if d.is_dir() else []:
        if not f.is_file() or f.suffix.lower() not in _IMAGE_SUFFIXES or f.name.endswith("_mask.png"):
            continue
        mask = f.with_name(f.stem + "_mask.png")
        out.append((f, mask if mask.is_file() else None))
    return out
