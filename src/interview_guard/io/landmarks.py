"""MediaPipe face and hand landmarkers over a stream of frames (imported lazily).

:class:`FaceLandmarkerRunner` and :class:`HandLandmarkerRunner` wrap the
MediaPipe Tasks landmarkers in VIDEO mode: give them upright RGB frames in
time order (``runner.process(image, t_s)``) and they return one observation
per frame as numpy arrays. Each is a context manager that closes its
landmarkers; MediaPipe raises at interpreter exit when they are left to the
garbage collector.

Timestamps
----------
VIDEO mode needs strictly increasing integer milliseconds per landmarker
instance. ``t_s`` is rounded to the millisecond; a frame that would repeat
(or go back to) the previous value gets the previous value plus one.

Small faces
-----------
The face detector inside ``face_landmarker.task`` is the short-range model:
it sees the image letterboxed to a square and misses faces narrower than
about an eighth to a fifth of the longer image side (a webcam user sitting
back in a 16:9 frame). When the full-frame landmarker finds no face, the
runner falls back to crops, each scaled up to at least
``FaceRunnerOptions.crop_min_side`` pixels, and maps the landmarks back to
full-frame coordinates:

1. *Track*: if a face was seen within ``box_memory_s``, a square window of
   ``crop_scale`` times the face size, centred on the last face box, goes
   through a second VIDEO-mode landmarker (its own instance, so its
   timestamps and tracking state stay consistent). The window stays put
   while the face remains in its central half and keeps its size, so
   MediaPipe's frame-to-frame tracking works inside it.
2. *Search*: otherwise, at most every ``search_interval_s``, a stateless
   IMAGE-mode landmarker tries ``search_windows_per_try`` windows from a
   fixed list: squares of the frame's short side and of half of it, tiled
   with 50 % overlap over the region where a seated person's face is
   (the central 80 % of the width, the top 90 % of the height), tried
   largest first and, within a size, nearest the upper centre
   (``(0.5 W, 0.4 H)``) first; later searches continue where the previous
   one stopped, so the whole list is covered within a few seconds.

Once a face is found through a crop the runner stays in crop mode (track
window only) and retries the full frame every ``full_frame_recheck_s``, or at
once when the crop loses the face; a full-frame hit ends crop mode.

Hands
-----
HandLandmarker (``num_hands=2``) needs no crop fallback (its palm detector is
full range). Hands are put in two slots kept stable over time: a detected
hand goes to the slot whose last wrist position (seen within 0.5 s) is
nearest. ``handedness`` is MediaPipe's label (+1 "Right", -1 "Left"), which
assumes a mirrored (selfie) image: on an unmirrored recording the labels are
swapped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interview_guard.errors import ModelError, ParameterError
from interview_guard.io.model_files import verified_model_path

__all__ = [
    "N_FACE_LANDMARKS",
    "N_HAND_LANDMARKS",
    "N_BLENDSHAPES",
    "BLENDSHAPE_NAMES",
    "FaceRunnerOptions",
    "HandRunnerOptions",
    "FaceObservation",
    "HandObservation",
    "FaceLandmarkerRunner",
    "HandLandmarkerRunner",
    "MonotonicMs",
    "search_windows",
    "crop_to_frame",
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
        Faces the full-frame landmarker looks for (the track keeps the largest).
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
        Faces found (the largest is reported).
    source : str
        ``"full"``, ``"track"`` (tracking crop), ``"search"`` or ``""``.
    """

    present: bool = False
    landmarks: np.ndarray | None = None
    blendshapes: np.ndarray | None = None
    box: np.ndarray | None = None
    n_faces: int = 0
    source: str = ""


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


# ----------------------------------------------------------------------------- geometry


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

    See the module docstring for the layout.
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


def _cut(image: np.ndarray, window: tuple[int, int, int], min_side: int) -> np.ndarray:
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


# ----------------------------------------------------------------------------- MediaPipe glue


def _vision():
    try:
        import mediapipe as mp  # noqa: PLC0415 - heavy, imported only when landmarks are needed
        from mediapipe.tasks.python import vision  # noqa: PLC0415
        from mediapipe.tasks.python.core.base_options import BaseOptions  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - mediapipe is a hard dependency
        raise ModelError(f"MediaPipe is not installed ({exc}); pip install mediapipe") from None
    return mp, vision, BaseOptions


def _as_mp_image(mp, image: np.ndarray):
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ParameterError(f"expected an RGB uint8 image of shape (h, w, 3), got {image.dtype} {image.shape}")
    # mp.Image ignores numpy strides: a padded or sliced array must be copied first.
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))


def _create(task_cls, options, model_path: Path):
    try:
        return task_cls.create_from_options(options)
    except Exception as exc:  # MediaPipe raises RuntimeError / ValueError with a long message
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ModelError(f"{model_path}: cannot load the model ({msg})") from None


def _landmark_array(points, n: int) -> np.ndarray:
    arr = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
    if arr.shape != (n, 3):
        raise ModelError(f"landmarker returned {arr.shape[0]} points, expected {n}")
    return arr


def _box(lm: np.ndarray) -> np.ndarray:
    x0, y0 = np.nanmin(lm[:, 0]), np.nanmin(lm[:, 1])
    x1, y1 = np.nanmax(lm[:, 0]), np.nanmax(lm[:, 1])
    return np.clip(np.array([x0, y0, x1, y1], dtype=np.float32), 0.0, 1.0)


class _Closer:
    """Context-manager plumbing shared by the runners."""

    _tasks: list

    def close(self) -> None:
        """Close every MediaPipe task this runner opened (safe to call twice)."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            try:
                t.close()
            except Exception:  # pragma: no cover - closing must not mask the real error
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort when the caller forgot
        try:
            self.close()
        except Exception:
            pass


class FaceLandmarkerRunner(_Closer):
    """MediaPipe FaceLandmarker (VIDEO mode) with a small-face crop fallback.

    Parameters
    ----------
    options : FaceRunnerOptions, optional
    models_dir : path, optional
        Where ``face_landmarker.task`` is (see :mod:`interview_guard.io.model_files`).

    Examples
    --------
    >>> with FaceLandmarkerRunner() as runner:            # doctest: +SKIP
    ...     for frame in iter_frames("video.mp4"):
    ...         obs = runner.process(frame.image, frame.t_s)

    Attributes
    ----------
    counts : dict
        Frames by outcome: ``full``, ``track``, ``search`` and ``none``.
    """

    def __init__(self, options: FaceRunnerOptions | None = None, *, models_dir=None) -> None:
        self._tasks = []
        self.options = options or FaceRunnerOptions()
        self.options.validate()
        self.model_path = verified_model_path(FACE_MODEL, None if models_dir is None else Path(models_dir))
        self._mp, self._vision, self._base = _vision()
        self._full = self._make(video=not self.options.image_mode, num_faces=self.options.num_faces)
        self._track = None  # created on first use
        self._search = None
        self._clock_full = MonotonicMs()
        self._clock_track = MonotonicMs()
        self.blendshape_names: tuple[str, ...] = BLENDSHAPE_NAMES
        self.counts = {"full": 0, "track": 0, "search": 0, "none": 0}
        self._reset_state()

    def _reset_state(self) -> None:
        self._last_box_px: tuple[float, float, float, float] | None = None
        self._last_seen_t = -math.inf
        self._crop_mode = False
        self._last_full_t = -math.inf
        self._last_search_t = -math.inf
        self._search_cursor = 0
        self._window: tuple[int, int, int] | None = None
        self._windows_for: tuple[tuple[int, int], list] | None = None

    def _make(self, *, video: bool, num_faces: int):
        v = self._vision
        o = self.options
        opts = v.FaceLandmarkerOptions(
            base_options=self._base(model_asset_path=str(self.model_path)),
            running_mode=v.RunningMode.VIDEO if video else v.RunningMode.IMAGE,
            num_faces=num_faces,
            min_face_detection_confidence=o.min_detection_confidence,
            min_face_presence_confidence=o.min_presence_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
            output_face_blendshapes=o.blendshapes,
        )
        task = _create(v.FaceLandmarker, opts, self.model_path)
        self._tasks.append(task)
        return task

    # -- one frame ---------------------------------------------------------------------

    def process(self, image: np.ndarray, t_s: float) -> FaceObservation:
        """Find the face in one upright RGB frame at time ``t_s`` (seconds, increasing).

        Parameters
        ----------
        image : ndarray of uint8, shape (h, w, 3)
        t_s : float

        Returns
        -------
        FaceObservation
        """
        if not self._tasks:
            raise ModelError(f"{self.model_path}: the face landmarker was closed")
        h, w = image.shape[:2]
        o = self.options
        obs = None
        ran_full = False
        if not self._crop_mode or t_s - self._last_full_t >= o.full_frame_recheck_s:
            obs = self._run_full(image, t_s, (w, h))
            ran_full = True
        if obs is None and o.small_face_fallback:
            if self._last_box_px is not None and t_s - self._last_seen_t <= o.box_memory_s:
                obs = self._run_track(image, t_s, (w, h))
            if obs is None and not ran_full:
                obs = self._run_full(image, t_s, (w, h))
            if obs is None and t_s - self._last_search_t >= o.search_interval_s:
                obs = self._run_search(image, t_s, (w, h))
        if obs is None:
            self.counts["none"] += 1
            if t_s - self._last_seen_t > o.box_memory_s:
                self._crop_mode = False
                self._window = None
            return FaceObservation()
        self.counts[obs.source] += 1
        self._crop_mode = obs.source != "full"
        b = obs.box
        self._last_box_px = (float(b[0]) * w, float(b[1]) * h, float(b[2]) * w, float(b[3]) * h)
        self._last_seen_t = t_s
        return obs

    def _observation(self, result, source: str, *, window=None, frame_size=None) -> FaceObservation | None:
        faces = result.face_landmarks
        if not faces:
            return None
        arrays = [_landmark_array(f, N_FACE_LANDMARKS) for f in faces]
        if window is not None:
            arrays = [crop_to_frame(a, window=window, frame_size=frame_size) for a in arrays]
        boxes = [_box(a) for a in arrays]
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        i = int(np.argmax(areas))
        bs = None
        if self.options.blendshapes and result.face_blendshapes and len(result.face_blendshapes) > i:
            bs = np.array([c.score for c in result.face_blendshapes[i]], dtype=np.float32)
            if bs.shape != (N_BLENDSHAPES,):
                raise ModelError(f"{self.model_path}: {bs.shape[0]} blendshapes, expected {N_BLENDSHAPES}")
        return FaceObservation(True, arrays[i], bs, boxes[i], len(arrays), source)

    def _run_full(self, image, t_s, size) -> FaceObservation | None:
        self._last_full_t = t_s
        if self.options.image_mode:
            res = self._full.detect(_as_mp_image(self._mp, image))
        else:
            res = self._full.detect_for_video(_as_mp_image(self._mp, image), self._clock_full(t_s))
        return self._observation(res, "full")

    def _track_window(self, size) -> tuple[int, int, int]:
        w, h = size
        x0, y0, x1, y1 = self._last_box_px
        face = max(x1 - x0, y1 - y0, 8.0)
        want = int(round(min(max(face * self.options.crop_scale, 64), min(w, h))))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        cur = self._window
        if cur is not None:
            cx0, cy0, side = cur
            inside = abs(cx - (cx0 + side / 2)) <= side / 4 and abs(cy - (cy0 + side / 2)) <= side / 4
            if inside and 0.75 <= want / side <= 1.33:
                return cur
        nx = int(round(min(max(cx - want / 2, 0), w - want)))
        ny = int(round(min(max(cy - want / 2, 0), h - want)))
        self._window = (nx, ny, want)
        return self._window

    def _run_track(self, image, t_s, size) -> FaceObservation | None:
        if self._track is None:
            self._track = self._make(video=not self.options.image_mode, num_faces=1)
        window = self._track_window(size)
        crop = _cut(image, window, self.options.crop_min_side)
        if self.options.image_mode:
            res = self._track.detect(_as_mp_image(self._mp, crop))
        else:
            res = self._track.detect_for_video(_as_mp_image(self._mp, crop), self._clock_track(t_s))
        return self._observation(res, "track", window=window, frame_size=size)

    def _run_search(self, image, t_s, size) -> FaceObservation | None:
        self._last_search_t = t_s
        if self._search is None:
            self._search = self._make(video=False, num_faces=1)
        if self._windows_for is None or self._windows_for[0] != size:
            self._windows_for = (size, search_windows(*size))
            self._search_cursor = 0
        windows = self._windows_for[1]
        if not windows:
            return None
        for _ in range(min(self.options.search_windows_per_try, len(windows))):
            window = windows[self._search_cursor % len(windows)]
            self._search_cursor = (self._search_cursor + 1) % len(windows)
            crop = _cut(image, window, self.options.crop_min_side)
            res = self._search.detect(_as_mp_image(self._mp, crop))
            obs = self._observation(res, "search", window=window, frame_size=size)
            if obs is not None:
                self._window = None  # the track window is re-centred on this face
                self._search_cursor = 0
                return obs
        return None


class HandLandmarkerRunner(_Closer):
    """MediaPipe HandLandmarker in VIDEO mode, two stable hand slots per frame.

    Parameters
    ----------
    options : HandRunnerOptions, optional
    models_dir : path, optional
        Where ``hand_landmarker.task`` is.
    image_mode : bool
        Use IMAGE mode (independent stills; ``t_s`` is then ignored).
    """

    def __init__(self, options: HandRunnerOptions | None = None, *, models_dir=None, image_mode: bool = False) -> None:
        self._tasks = []
        self.options = options or HandRunnerOptions()
        self.options.validate()
        self.model_path = verified_model_path(HAND_MODEL, None if models_dir is None else Path(models_dir))
        self._mp, v, base = _vision()
        o = self.options
        opts = v.HandLandmarkerOptions(
            base_options=base(model_asset_path=str(self.model_path)),
            running_mode=v.RunningMode.IMAGE if image_mode else v.RunningMode.VIDEO,
            num_hands=o.num_hands,
            min_hand_detection_confidence=o.min_detection_confidence,
            min_hand_presence_confidence=o.min_presence_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
        )
        self._task = _create(v.HandLandmarker, opts, self.model_path)
        self._tasks.append(self._task)
        self._image_mode = image_mode
        self._clock = MonotonicMs()
        self._slot_xy = np.full((2, 2), np.nan)
        self._slot_t = np.full(2, -math.inf)
        self.frames_with_hands = 0

    def process(self, image: np.ndarray, t_s: float = 0.0) -> HandObservation:
        """Find up to two hands in one upright RGB frame at time ``t_s``.

        Parameters
        ----------
        image : ndarray of uint8, shape (h, w, 3)
        t_s : float

        Returns
        -------
        HandObservation
        """
        if not self._tasks:
            raise ModelError(f"{self.model_path}: the hand landmarker was closed")
        mp_image = _as_mp_image(self._mp, image)
        if self._image_mode:
            res = self._task.detect(mp_image)
        else:
            res = self._task.detect_for_video(mp_image, self._clock(t_s))
        lms = np.full((2, N_HAND_LANDMARKS, 3), np.nan, dtype=np.float32)
        hand = np.zeros(2, dtype=np.int8)
        score = np.zeros(2, dtype=np.float32)
        found = []
        for i, pts in enumerate(res.hand_landmarks[:2]):
            arr = _landmark_array(pts, N_HAND_LANDMARKS)
            label, sc = 0, 0.0
            if res.handedness and len(res.handedness) > i and res.handedness[i]:
                cat = res.handedness[i][0]
                name = (cat.category_name or "").lower()
                label = 1 if name == "right" else -1 if name == "left" else 0
                sc = float(cat.score or 0.0)
            found.append((arr, label, sc))
        slots = self._assign([f[0][0, :2] for f in found], t_s)
        for (arr, label, sc), s in zip(found, slots):
            lms[s], hand[s], score[s] = arr, label, sc
            self._slot_xy[s] = arr[0, :2]
            self._slot_t[s] = t_s
        if found:
            self.frames_with_hands += 1
        return HandObservation(len(found), lms, hand, score)

    def _assign(self, wrists: list[np.ndarray], t_s: float) -> list[int]:
        """Slot for each wrist: nearest recent slot position, else the free slot."""
        if not wrists:
            return []
        recent = (t_s - self._slot_t) <= 0.5 if not self._image_mode else np.zeros(2, bool)
        if len(wrists) == 1:
            d = [np.hypot(*(wrists[0] - self._slot_xy[s])) if recent[s] else np.inf for s in range(2)]
            return [int(np.argmin(d))] if np.isfinite(min(d)) else [0]

        # Two hands: keep the pairing with the smaller total distance (unknown slots cost nothing extra).
        def cost(a: int, b: int) -> float:
            c = 0.0
            for wr, s in ((wrists[0], a), (wrists[1], b)):
                c += float(np.hypot(*(wr - self._slot_xy[s]))) if recent[s] else 0.5
            return c

        if recent.any():
            return [0, 1] if cost(0, 1) <= cost(1, 0) else [1, 0]
        return [0, 1] if wrists[0][0] <= wrists[1][0] else [1, 0]
