"""How the face sits in its frame, per landmarked frame: the data of the ``face_artifacts`` analyzer.

Filled by the video scan (:mod:`interview_guard.extract.blending` says how each value is measured); rows align
1:1 with the :class:`~interview_guard.tracks.video.FaceTrack` rows of the same scan. NaN where nothing was
measured (no face, a face under ``MIN_FACE_PX`` wide, no frame close enough before it for the change columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from interview_guard.tracks.video import _as_mask, _check_rows, tracks_equal

__all__ = ["BlendTrack"]


@dataclass
class BlendTrack:
    """Per landmarked frame: detail, tone and frame-to-frame change inside and around the face.

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
    detail_inner, detail_outer : ndarray of float32, shape (n,)
        Median fine detail (absolute difference to a 1-pixel Gaussian blur, grey levels) in the face core and in
        the band outside the face outline (hair, ears, neck, background).
    tone_step : ndarray of float32, shape (n,)
        Below the eyes: distance in chroma (Cr, Cb of 8-bit YCrCb) between the mean colour of the face core and
        of the skin band just inside the outline.
    tone_outline : ndarray of float32, shape (n,)
        The same between the band just inside the outline and the band just outside it.
    seam_change, core_change : ndarray of float32, shape (n,)
        Median absolute grey-level change from the previous measured frame (at most 0.1 s before), aligned on
        the face landmarks: in the band across the outline where a swap's mask is blended, and in the face core.
    frame_size : (int, int)
        Width and height of the frames measured.
    """

    t_s: np.ndarray
    detail_inner: np.ndarray
    detail_outer: np.ndarray
    tone_step: np.ndarray
    tone_outline: np.ndarray
    seam_change: np.ndarray
    core_change: np.ndarray
    frame_size: tuple[int, int] = (0, 0)

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "detail_inner", "detail_outer", "tone_step", "tone_outline", "seam_change", "core_change",
    )  # fmt: skip

    def __post_init__(self) -> None:
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        for name in self.COLUMNS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32))
        self.frame_size = (int(self.frame_size[0]), int(self.frame_size[1]))
        _check_rows("BlendTrack", self, self.COLUMNS)

    @classmethod
    def empty(cls, n: int = 0, frame_size: tuple[int, int] = (0, 0)) -> BlendTrack:
        cols = {c: np.full(n, np.nan, np.float32) for c in cls.COLUMNS}
        return cls(t_s=np.zeros(n), **cols, frame_size=frame_size)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def select(self, mask: Any) -> BlendTrack:
        """The rows where ``mask`` (boolean or integer indices) holds."""
        m = _as_mask(mask, len(self))
        cols = {c: getattr(self, c)[m] for c in self.COLUMNS}
        return BlendTrack(t_s=self.t_s[m], **cols, frame_size=self.frame_size)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"BlendTrack(n={len(self)}, measured={int(np.isfinite(self.detail_inner).sum())})"
