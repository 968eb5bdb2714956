"""Per-frame video data: face and hand landmarks, pixel measurements, motion, key frames.

Pure data (numpy arrays, NaN where nothing was found), in session time. The
video scan (:mod:`interview_guard.extract.video_scan`) fills them and
:mod:`interview_guard.extract.scan_results` stores them; analyzers read them
from :class:`~interview_guard.tracks.Tracks`; tests build them from arrays.

Coordinates are those of the upright (display-rotated) frame: x, y
normalised to [0, 1] of its width and height, z as MediaPipe gives it (about
the scale of x). Times are the frames' exact presentation times in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from interview_guard.errors import ParameterError

__all__ = [
    "N_FACE_LANDMARKS",
    "N_HAND_LANDMARKS",
    "N_BLENDSHAPES",
    "BLENDSHAPE_NAMES",
    "FACE_SOURCES",
    "KeyFrames",
    "FaceTrack",
    "HandTrack",
    "PixelTrack",
    "MotionTrack",
    "tracks_equal",
]

N_FACE_LANDMARKS = 478
N_HAND_LANDMARKS = 21
N_BLENDSHAPES = 52

# The order MediaPipe's face_blendshapes model reports them in.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip

#: Codes of :attr:`FaceTrack.source`: how the face of each frame was found.
FACE_SOURCES: tuple[str, ...] = ("", "full", "track", "search")

#: Key frames: small JPEG images (bytes) of analysed frames, by frame time (seconds). A scan's are read from a
#: mapped file on access (:class:`~interview_guard.io.spill.MappedBlobs`); tests may give a dict.
KeyFrames = Mapping[float, bytes]


def _as_mask(mask: Any, n: int) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype == bool:
        if m.shape != (n,):
            raise ParameterError(f"mask has shape {m.shape}, expected ({n},)")
        return m
    if m.size and not np.issubdtype(m.dtype, np.integer):
        raise ParameterError("select() takes a boolean mask or integer indices")
    return m.astype(np.intp, copy=False)


def tracks_equal(a: Any, b: Any) -> bool:
    """Field-by-field equality of two track dataclasses of one class (arrays compared with NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif x != y:
            return False
    return True


def _check_rows(owner: str, obj: Any, names: tuple[str, ...]) -> None:
    n = obj.t_s.shape[0]
    if obj.t_s.ndim != 1:
        raise ParameterError(f"{owner}.t_s must be 1-D, got shape {obj.t_s.shape}")
    for name in names:
        a = getattr(obj, name)
        if a.shape != (n,):
            raise ParameterError(f"{owner}.{name} has shape {a.shape}, expected ({n},)")


@dataclass
class FaceTrack:
    """The face in every analysed frame.

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
        Presentation time of each frame, strictly increasing.
    frame_index : ndarray of int64, shape (n,)
        Source frame number (see :class:`~interview_guard.io.video_decode.Frame`).
    present : ndarray of bool, shape (n,)
    landmarks : ndarray of float32, shape (n, 478, 3)
        NaN where absent; x, y normalised to the full upright frame.
    blendshapes : ndarray of float32, shape (n, 52)
        NaN where absent (or when blendshapes were not computed).
    box : ndarray of float32, shape (n, 4)
        x0, y0, x1, y1 of the landmarks, normalised; NaN where absent.
    n_faces : ndarray of int8, shape (n,)
        Faces found in the frame (>1 only with ``num_faces > 1``); the row holds one: the face
        continuing the previous frame's (box overlap), else the largest.
    source : ndarray of int8, shape (n,)
        Index into :data:`FACE_SOURCES`: 0 none, 1 full frame, 2 tracking crop, 3 search crop.
    frame_size : (int, int)
        Width and height of the analysed (upright, scaled) frames.
    blendshape_names : tuple of str, length 52
    meta : dict
        JSON-serialisable facts about the extraction (options, counts).
    """

    t_s: np.ndarray
    frame_index: np.ndarray
    present: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray
    box: np.ndarray
    n_faces: np.ndarray
    source: np.ndarray
    frame_size: tuple[int, int] = (0, 0)
    blendshape_names: tuple[str, ...] = BLENDSHAPE_NAMES
    meta: dict[str, Any] = field(default_factory=dict)

    ARRAYS: ClassVar[tuple[str, ...]] = (
        "t_s", "frame_index", "present", "landmarks", "blendshapes", "box", "n_faces", "source",
    )  # fmt: skip

    def __post_init__(self) -> None:
        n = len(self.t_s)
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        self.present = np.asarray(self.present, dtype=bool)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        self.blendshapes = np.asarray(self.blendshapes, dtype=np.float32)
        self.box = np.asarray(self.box, dtype=np.float32)
        self.n_faces = np.asarray(self.n_faces, dtype=np.int8)
        self.source = np.asarray(self.source, dtype=np.int8)
        self.frame_size = (int(self.frame_size[0]), int(self.frame_size[1]))
        self.blendshape_names = tuple(str(s) for s in self.blendshape_names)
        shapes = {
            "frame_index": (n,),
            "present": (n,),
            "landmarks": (n, N_FACE_LANDMARKS, 3),
            "blendshapes": (n, len(self.blendshape_names)),
            "box": (n, 4),
            "n_faces": (n,),
            "source": (n,),
        }
        if self.t_s.shape != (n,):
            raise ParameterError(f"FaceTrack.t_s must be 1-D, got shape {self.t_s.shape}")
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ParameterError(f"FaceTrack.{name} has shape {getattr(self, name).shape}, expected {shape}")

    @classmethod
    def empty(cls, frame_size: tuple[int, int] = (0, 0), n: int = 0) -> FaceTrack:
        """A track of ``n`` frames with no face (times all zero)."""
        nan = np.float32(np.nan)
        return cls(
            t_s=np.zeros(n),
            frame_index=np.zeros(n, np.int64),
            present=np.zeros(n, bool),
            landmarks=np.full((n, N_FACE_LANDMARKS, 3), nan, np.float32),
            blendshapes=np.full((n, N_BLENDSHAPES), nan, np.float32),
            box=np.full((n, 4), nan, np.float32),
            n_faces=np.zeros(n, np.int8),
            source=np.zeros(n, np.int8),
            frame_size=frame_size,
        )

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def presence_rate(self) -> float:
        """Share of frames with a face (0 for an empty track)."""
        return float(self.present.mean()) if len(self) else 0.0

    def blendshape(self, name: str) -> np.ndarray:
        """One blendshape over time, shape (n,), NaN where absent."""
        try:
            i = self.blendshape_names.index(name)
        except ValueError:
            raise ParameterError(f"unknown blendshape {name!r}") from None
        return self.blendshapes[:, i]

    def select(self, mask: Any) -> FaceTrack:
        """The frames where ``mask`` (boolean, shape (n,), or integer indices) holds."""
        m = _as_mask(mask, len(self))
        return FaceTrack(
            **{a: getattr(self, a)[m] for a in self.ARRAYS},
            frame_size=self.frame_size,
            blendshape_names=self.blendshape_names,
            meta=dict(self.meta),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"FaceTrack(n={len(self)}, present={int(self.present.sum())}, frame_size={self.frame_size})"


@dataclass
class HandTrack:
    """The hands in every analysed frame, in two slots kept stable over time.

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
    frame_index : ndarray of int64, shape (n,)
    count : ndarray of int8, shape (n,)
        Hands found (0, 1 or 2).
    landmarks : ndarray of float32, shape (n, 2, 21, 3)
        NaN-padded; x, y normalised to the full upright frame.
    handedness : ndarray of int8, shape (n, 2)
        +1 right, -1 left, 0 empty slot, as MediaPipe labels them (it assumes
        a mirrored selfie image; on an unmirrored recording they are swapped).
    score : ndarray of float32, shape (n, 2)
        Handedness score, 0 for an empty slot.
    frame_size : (int, int)
    meta : dict
    """

    t_s: np.ndarray
    frame_index: np.ndarray
    count: np.ndarray
    landmarks: np.ndarray
    handedness: np.ndarray
    score: np.ndarray
    frame_size: tuple[int, int] = (0, 0)
    meta: dict[str, Any] = field(default_factory=dict)

    ARRAYS: ClassVar[tuple[str, ...]] = ("t_s", "frame_index", "count", "landmarks", "handedness", "score")

    def __post_init__(self) -> None:
        n = len(self.t_s)
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        self.count = np.asarray(self.count, dtype=np.int8)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        self.handedness = np.asarray(self.handedness, dtype=np.int8)
        self.score = np.asarray(self.score, dtype=np.float32)
        self.frame_size = (int(self.frame_size[0]), int(self.frame_size[1]))
        shapes = {
            "frame_index": (n,),
            "count": (n,),
            "landmarks": (n, 2, N_HAND_LANDMARKS, 3),
            "handedness": (n, 2),
            "score": (n, 2),
        }
        if self.t_s.shape != (n,):
            raise ParameterError(f"HandTrack.t_s must be 1-D, got shape {self.t_s.shape}")
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ParameterError(f"HandTrack.{name} has shape {getattr(self, name).shape}, expected {shape}")

    @classmethod
    def empty(cls, frame_size: tuple[int, int] = (0, 0), n: int = 0) -> HandTrack:
        """A track of ``n`` frames with no hand (times all zero)."""
        return cls(
            t_s=np.zeros(n),
            frame_index=np.zeros(n, np.int64),
            count=np.zeros(n, np.int8),
            landmarks=np.full((n, 2, N_HAND_LANDMARKS, 3), np.nan, np.float32),
            handedness=np.zeros((n, 2), np.int8),
            score=np.zeros((n, 2), np.float32),
            frame_size=frame_size,
        )

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def present(self) -> np.ndarray:
        """Whether any hand is in the frame, shape (n,)."""
        return self.count > 0

    def select(self, mask: Any) -> HandTrack:
        """The frames where ``mask`` (boolean, shape (n,), or integer indices) holds."""
        m = _as_mask(mask, len(self))
        arrays = {a: getattr(self, a)[m] for a in self.ARRAYS}
        return HandTrack(**arrays, frame_size=self.frame_size, meta=dict(self.meta))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"HandTrack(n={len(self)}, with_hands={int((self.count > 0).sum())}, frame_size={self.frame_size})"


@dataclass
class PixelTrack:
    """Pixel measurements around the face, one row per landmarked frame.

    Rows align 1:1 with the :class:`FaceTrack` (and HandTrack) rows of the
    same scan. Measured on the luma at ``work_size``; every value is NaN where
    no face was found. Motion is the mean absolute difference (grey levels)
    to the previous *decoded* frame.

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
    ring_motion : ndarray of float32, shape (n,)
        In a band around the face-oval outline (``BAND_FRACTION`` of the face
        width on both sides, see :mod:`interview_guard.extract.pixels`): a hand
        crossing the outline, or a face swap's blending seam, moves here.
    inner_motion : ndarray of float32, shape (n,)
        Inside the face polygon shrunk by the band.
    bg_motion : ndarray of float32, shape (n,)
        Outside the face box scaled 1.6x (camera shake, lighting).
    face_texture : ndarray of float32, shape (n,)
        Mean absolute Laplacian inside the face polygon divided by
        (mean luma there + 1): detail, independent of brightness.
    face_luma : ndarray of float32, shape (n,)
        Mean luma inside the face polygon.
    hand_inside_luma_delta : ndarray of float32, shape (n,)
        NaN unless a hand landmark lies inside the face polygon: mean luma at
        the in-face hand landmarks (3x3 average) minus ``face_luma``. A real
        hand in front of a face differs from it; a swap that paints the face
        over the hand does not.
    face_crop : ndarray of uint8, shape (n, 32, 32)
        The face's bounding box of the luma, resized to 32x32 (zeros where no
        face): what the face region looks like, so an analyzer can tell a hand
        in front of the face from a face painted over the hand.
    work_size : (int, int)
        Width and height of the luma the values were measured on.
    """

    t_s: np.ndarray
    ring_motion: np.ndarray
    inner_motion: np.ndarray
    bg_motion: np.ndarray
    face_texture: np.ndarray
    face_luma: np.ndarray
    hand_inside_luma_delta: np.ndarray
    work_size: tuple[int, int] = (0, 0)
    face_crop: np.ndarray | None = None  # filled with zeros by __post_init__ when not given
    zone_crop: np.ndarray | None = None  # zeros when not given
    zone_box: np.ndarray | None = None  # NaN when not given
    zone_oval: np.ndarray | None = None  # NaN when not given
    zone_held: np.ndarray | None = None  # False when not given

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "ring_motion", "inner_motion", "bg_motion", "face_texture", "face_luma", "hand_inside_luma_delta",
    )  # fmt: skip
    CROP: ClassVar[int] = 32
    ZONE: ClassVar[int] = 64
    OVAL_POINTS: ClassVar[int] = 36

    def __post_init__(self) -> None:
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        for name in self.COLUMNS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32))
        self.work_size = (int(self.work_size[0]), int(self.work_size[1]))
        n = self.t_s.shape[0]
        if self.face_crop is None:
            self.face_crop = np.zeros((n, self.CROP, self.CROP), np.uint8)
        self.face_crop = np.asarray(self.face_crop, dtype=np.uint8)
        if self.face_crop.shape != (n, self.CROP, self.CROP):
            raise ParameterError(f"PixelTrack.face_crop has shape {self.face_crop.shape}, expected ({n}, 32, 32)")
        z, k = self.ZONE, self.OVAL_POINTS
        defaults: tuple[tuple[str, tuple[int, ...], Any, Any], ...] = (
            ("zone_crop", (n, z, z), np.uint8, 0),
            ("zone_box", (n, 4), np.float32, np.nan),
            ("zone_oval", (n, k, 2), np.float32, np.nan),
            ("zone_held", (n,), np.bool_, False),
        )
        for name, shape, dtype, fill in defaults:
            v = getattr(self, name)
            v = np.full(shape, fill, dtype) if v is None else np.asarray(v, dtype=dtype)
            if v.shape != shape:
                raise ParameterError(f"PixelTrack.{name} has shape {v.shape}, expected {shape}")
            setattr(self, name, v)
        _check_rows("PixelTrack", self, self.COLUMNS)

    @classmethod
    def empty(cls, n: int = 0, work_size: tuple[int, int] = (0, 0)) -> PixelTrack:
        nan = np.full(n, np.nan, np.float32)
        return cls(
            t_s=np.zeros(n),
            ring_motion=nan.copy(),
            inner_motion=nan.copy(),
            bg_motion=nan.copy(),
            face_texture=nan.copy(),
            face_luma=nan.copy(),
            hand_inside_luma_delta=nan.copy(),
            work_size=work_size,
        )

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def select(self, mask: Any) -> PixelTrack:
        """The rows where ``mask`` (boolean or integer indices) holds."""
        m = np.asarray(mask)
        assert self.face_crop is not None  # set by __post_init__
        return PixelTrack(
            t_s=self.t_s[m],
            ring_motion=self.ring_motion[m],
            inner_motion=self.inner_motion[m],
            bg_motion=self.bg_motion[m],
            face_texture=self.face_texture[m],
            face_luma=self.face_luma[m],
            hand_inside_luma_delta=self.hand_inside_luma_delta[m],
            work_size=self.work_size,
            face_crop=self.face_crop[m],
            zone_crop=None if self.zone_crop is None else self.zone_crop[m],
            zone_box=None if self.zone_box is None else self.zone_box[m],
            zone_oval=None if self.zone_oval is None else self.zone_oval[m],
            zone_held=None if self.zone_held is None else self.zone_held[m],
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"PixelTrack(n={len(self)}, with_face={int(np.isfinite(self.face_luma).sum())})"


@dataclass
class MotionTrack:
    """Cheap motion of every decoded frame (on a luma thumbnail).

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
        Presentation time of every decoded frame.
    zone_motion : ndarray of float32, shape (n,)
        Mean absolute difference to the previous decoded frame inside the face
        zone: the face box scaled 1.6x, from the last landmarked frame at
        least ``lookback_s`` + 0.5 s earlier (the whole picture until a face
        has been seen). 0 for the first frame.
    global_motion : ndarray of float32, shape (n,)
        The same over the whole thumbnail.
    threshold : ndarray of float32, shape (n,)
        The motion trigger's threshold at that frame (see
        :class:`~interview_guard.extract.schedule.ScanTrigger`); +inf before
        the first face zone (no motion trigger then).
    thumb_size : (int, int)
        Width and height of the thumbnails.
    """

    t_s: np.ndarray
    zone_motion: np.ndarray
    global_motion: np.ndarray
    threshold: np.ndarray
    thumb_size: tuple[int, int] = (0, 0)

    COLUMNS: ClassVar[tuple[str, ...]] = ("zone_motion", "global_motion", "threshold")

    def __post_init__(self) -> None:
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        for name in self.COLUMNS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32))
        self.thumb_size = (int(self.thumb_size[0]), int(self.thumb_size[1]))
        _check_rows("MotionTrack", self, self.COLUMNS)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def triggered(self) -> np.ndarray:
        """Frames where zone motion exceeded the trigger threshold, shape (n,)."""
        return self.zone_motion > self.threshold

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"MotionTrack(n={len(self)}, triggered={int(self.triggered.sum())})"
