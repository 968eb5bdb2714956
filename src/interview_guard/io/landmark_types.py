"""What the landmark runners take and give: their options, per-frame observations and constants.

Light (numpy only): :mod:`interview_guard.io.landmarks` runs MediaPipe over
frames and re-exports everything here, so callers can keep importing from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.tracks.video import BLENDSHAPE_NAMES, N_BLENDSHAPES, N_FACE_LANDMARKS, N_HAND_LANDMARKS

__all__ = [
    "N_FACE_LANDMARKS",
    "N_HAND_LANDMARKS",
    "N_BLENDSHAPES",
    "BLENDSHAPE_NAMES",
    "FACE_MODEL",
    "HAND_MODEL",
    "FaceRunnerOptions",
    "HandRunnerOptions",
    "FaceObservation",
    "HandObservation",
    "MonotonicMs",
]

# the landmark counts and blendshape order are part of the track model (tracks/video.py)

FACE_MODEL = "face_landmarker.task"
HAND_MODEL = "hand_landmarker.task"


def _check_unit(owner: str, name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ParameterError(f"{owner}: {name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True)
class FaceRunnerOptions:
    """Settings of :class:`FaceLandmarkerRunner`.

    Attributes
    ----------
    num_faces : int
        Faces the full-frame landmarker looks for. The track keeps one: the face
        whose box overlaps the last kept face's most (seen within
        ``box_memory_s``), else the largest; the others' landmarks are in
        :attr:`FaceObservation.others`.
    min_detection_confidence, min_presence_confidence, min_tracking_confidence : float
        Passed to MediaPipe.
    blendshapes : bool
        Compute the 52 blendshape scores.
    small_face_fallback : bool
        Look for small faces in crops when the full frame finds none.
    crop_scale : float
        Side of the tracking window as a multiple of the face size.
    crop_min_side : int
        Crops smaller than this (pixels) are scaled up to it.
    box_memory_s : float
        How long after the last sighting the tracking window is still tried.
    search_interval_s : float
        Least time between two searches while no face is known.
    search_windows_per_try : int
        Windows tried per search.
    full_frame_recheck_s : float
        In crop mode, how often the full frame is tried again.
    image_mode : bool
        Landmark each frame on its own (MediaPipe IMAGE mode) instead of
        tracking from frame to frame (VIDEO mode). A little slower; the same
        frames then give the same landmarks whatever else the machine is
        doing (VIDEO mode's tracking can differ between runs under load), as
        the synthetic-session generator needs.
    """

    num_faces: int = 1
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    blendshapes: bool = True
    small_face_fallback: bool = True
    crop_scale: float = 3.0
    crop_min_side: int = 256
    box_memory_s: float = 1.0
    search_interval_s: float = 0.25
    search_windows_per_try: int = 3
    full_frame_recheck_s: float = 1.0
    image_mode: bool = False

    def validate(self) -> None:
        owner = "FaceRunnerOptions"
        if not (isinstance(self.num_faces, int) and 1 <= self.num_faces <= 10):
            raise ParameterError(f"{owner}: num_faces must be an integer in 1..10, got {self.num_faces!r}")
        for n in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            _check_unit(owner, n, getattr(self, n))
        if not (1.5 <= self.crop_scale <= 8.0):
            raise ParameterError(f"{owner}: crop_scale must be in [1.5, 8], got {self.crop_scale!r}")
        if not (64 <= self.crop_min_side <= 1024):
            raise ParameterError(f"{owner}: crop_min_side must be in [64, 1024], got {self.crop_min_side!r}")
        for n in ("box_memory_s", "search_interval_s", "full_frame_recheck_s"):
            v = getattr(self, n)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ParameterError(f"{owner}: {n} must be a non-negative number, got {v!r}")
        if not (isinstance(self.search_windows_per_try, int) and self.search_windows_per_try >= 1):
            raise ParameterError(f"{owner}: search_windows_per_try must be a positive integer")


@dataclass(frozen=True)
class HandRunnerOptions:
    """Settings of :class:`HandLandmarkerRunner` (passed to MediaPipe)."""

    num_hands: int = 2
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def validate(self) -> None:
        owner = "HandRunnerOptions"
        if self.num_hands not in (1, 2):
            raise ParameterError(f"{owner}: num_hands must be 1 or 2, got {self.num_hands!r}")
        for n in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            _check_unit(owner, n, getattr(self, n))


@dataclass
class FaceObservation:
    """The face found in one frame.

    Attributes
    ----------
    present : bool
    landmarks : ndarray of float32, shape (478, 3) or None
        Normalised x, y of the full frame (may leave [0, 1] slightly where the
        face leaves the frame); z as MediaPipe gives it, rescaled to the full
        frame width when found through a crop.
    blendshapes : ndarray of float32, shape (52,) or None
    box : ndarray of float32, shape (4,) or None
        x0, y0, x1, y1 of the landmarks, normalised, clipped to [0, 1].
    n_faces : int
        Faces found (one is reported: the one continuing the last frame's face, else the largest).
    source : str
        ``"full"``, ``"track"`` (tracking crop), ``"search"`` or ``""``.
    others : ndarray of float32, shape (k, 478, 3), or None
        Landmarks of the other faces found in the frame (``num_faces > 1``), largest first.
    other_boxes : ndarray of float32, shape (k, 4), or None
        Their boxes.
    """

    present: bool = False
    landmarks: np.ndarray | None = None
    blendshapes: np.ndarray | None = None
    box: np.ndarray | None = None
    n_faces: int = 0
    source: str = ""
    others: np.ndarray | None = None
    other_boxes: np.ndarray | None = None


@dataclass
class HandObservation:
    """The hands found in one frame (two slots, NaN / 0 where empty).

    Attributes
    ----------
    count : int
    landmarks : ndarray of float32, shape (2, 21, 3)
    handedness : ndarray of int8, shape (2,)
        +1 right, -1 left, 0 empty slot (MediaPipe's mirrored convention).
    score : ndarray of float32, shape (2,)
        Handedness score, 0 for an empty slot.
    """

    count: int
    landmarks: np.ndarray
    handedness: np.ndarray
    score: np.ndarray


class MonotonicMs:
    """Strictly increasing integer milliseconds from float seconds (one per landmarker)."""

    def __init__(self) -> None:
        self.last: int | None = None

    def __call__(self, t_s: float) -> int:
        ms = int(round(float(t_s) * 1000.0))
        if self.last is not None and ms <= self.last:
            ms = self.last + 1
        self.last = ms
        return ms
