"""MediaPipe face and hand landmarkers over a stream of frames (imported lazily).

:class:`FaceLandmarkerRunner` and :class:`HandLandmarkerRunner` wrap the
MediaPipe Tasks landmarkers in VIDEO mode: give them upright RGB frames in
time order (``runner.process(image, t_s)``) and they return one observation
per frame as numpy arrays. Each is a context manager that closes its
landmarkers; MediaPipe raises at interpreter exit when they are left to the
garbage collector.

The options, observations and constants are in
:mod:`interview_guard.io.landmark_types`, the crop geometry of the small-face
fallback in :mod:`interview_guard.io.face_crops` and the MediaPipe glue in
:mod:`interview_guard.io.mediapipe_tasks`; this module re-exports the first
two, so ``from interview_guard.io.landmarks import FaceRunnerOptions`` keeps
working. The MediaPipe tasks are created, run and closed with the native log
lines of MediaPipe and TensorFlow Lite kept off the terminal (see
:mod:`interview_guard.io.native_stderr`; ``INTERVIEW_GUARD_NATIVE_LOGS=1``
shows them).

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
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import ModelError
from interview_guard.io import landmark_types as _landmark_types
from interview_guard.io.face_crops import crop_to_frame, cut_window, search_windows
from interview_guard.io.landmark_types import (
    BLENDSHAPE_NAMES,
    FACE_MODEL,
    HAND_MODEL,
    N_BLENDSHAPES,
    N_FACE_LANDMARKS,
    N_HAND_LANDMARKS,
    FaceObservation,
    FaceRunnerOptions,
    HandObservation,
    HandRunnerOptions,
    MonotonicMs,
)
from interview_guard.io.mediapipe_tasks import (
    QuietTask,
    TaskCloser,
    as_mp_image,
    create_task,
    landmark_array,
    landmark_box,
    load_vision,
)
from interview_guard.io.model_files import verified_model_path

# the runners, and (re-exported, so callers keep one import) the option and observation types
__all__ = [*_landmark_types.__all__, "FaceLandmarkerRunner", "HandLandmarkerRunner", "search_windows", "crop_to_frame"]


class FaceLandmarkerRunner(TaskCloser):
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

    def __init__(
        self, options: FaceRunnerOptions | None = None, *, models_dir: str | PathLike[str] | None = None
    ) -> None:
        self._tasks: list[QuietTask] = []
        self.options = options or FaceRunnerOptions()
        self.options.validate()
        self.model_path = verified_model_path(FACE_MODEL, None if models_dir is None else Path(models_dir))
        self._mp, self._vision, self._base = load_vision()
        self._full = self._make(video=not self.options.image_mode, num_faces=self.options.num_faces)
        self._track: QuietTask | None = None  # created on first use
        self._search: QuietTask | None = None
        self._clock_full = MonotonicMs()
        self._clock_track = MonotonicMs()
        self.blendshape_names: tuple[str, ...] = BLENDSHAPE_NAMES
        self.counts = {"full": 0, "track": 0, "search": 0, "none": 0}
        self._reset_state()

    def _reset_state(self) -> None:
        self._now = 0.0
        self._size = (1, 1)
        self._last_box_px: tuple[float, float, float, float] | None = None
        self._last_seen_t = -math.inf
        self._crop_mode = False
        self._last_full_t = -math.inf
        self._last_search_t = -math.inf
        self._search_cursor = 0
        self._window: tuple[int, int, int] | None = None
        self._windows_for: tuple[tuple[int, int], list[tuple[int, int, int]]] | None = None

    def _make(self, *, video: bool, num_faces: int) -> QuietTask:
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
        task = create_task(v.FaceLandmarker, opts, self.model_path)
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
        self._now, self._size = t_s, (w, h)
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
        assert b is not None  # every observation with a face has its box
        self._last_box_px = (float(b[0]) * w, float(b[1]) * h, float(b[2]) * w, float(b[3]) * h)
        self._last_seen_t = t_s
        return obs

    def _observation(
        self,
        result: Any,
        source: str,
        *,
        window: tuple[int, int, int] | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> FaceObservation | None:
        faces = result.face_landmarks
        if not faces:
            return None
        arrays = [landmark_array(f, N_FACE_LANDMARKS) for f in faces]
        if window is not None:
            assert frame_size is not None  # a window comes with its frame size
            arrays = [crop_to_frame(a, window=window, frame_size=frame_size) for a in arrays]
        boxes = [landmark_box(a) for a in arrays]
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        i = self._continuing_face(boxes, areas)
        bs = None
        if self.options.blendshapes and result.face_blendshapes and len(result.face_blendshapes) > i:
            bs = np.array([c.score for c in result.face_blendshapes[i]], dtype=np.float32)
            if bs.shape != (N_BLENDSHAPES,):
                raise ModelError(f"{self.model_path}: {bs.shape[0]} blendshapes, expected {N_BLENDSHAPES}")
        rest = sorted((j for j in range(len(arrays)) if j != i), key=lambda j: -areas[j])
        others = np.stack([arrays[j] for j in rest]).astype(np.float32) if rest else None
        other_boxes = np.stack([boxes[j] for j in rest]).astype(np.float32) if rest else None
        return FaceObservation(True, arrays[i], bs, boxes[i], len(arrays), source, others, other_boxes)

    def _continuing_face(self, boxes: list[np.ndarray], areas: list[float]) -> int:
        """Which of several faces to keep: the one overlapping the last kept face most, else the largest.

        Keeps the same person from frame to frame when another face is on screen (an interviewer's tile,
        someone walking behind), so the face analyzers are not handed the other person when it is larger.
        """
        largest = int(np.argmax(areas))
        if len(boxes) < 2 or self._last_box_px is None or self._now - self._last_seen_t > self.options.box_memory_s:
            return largest
        w, h = self._size
        x0, y0, x1, y1 = self._last_box_px
        best, best_iou = largest, 0.0
        for j, b in enumerate(boxes):
            bx0, by0, bx1, by1 = float(b[0]) * w, float(b[1]) * h, float(b[2]) * w, float(b[3]) * h
            iw, ih = max(0.0, min(x1, bx1) - max(x0, bx0)), max(0.0, min(y1, by1) - max(y0, by0))
            union = (x1 - x0) * (y1 - y0) + (bx1 - bx0) * (by1 - by0) - iw * ih
            iou = iw * ih / union if union > 0 else 0.0
            if iou > best_iou:
                best, best_iou = j, iou
        return best if best_iou >= 0.1 else largest

    def _run_full(self, image: np.ndarray, t_s: float, size: tuple[int, int]) -> FaceObservation | None:
        self._last_full_t = t_s
        if self.options.image_mode:
            res = self._full.detect(as_mp_image(self._mp, image))
        else:
            res = self._full.detect_for_video(as_mp_image(self._mp, image), self._clock_full(t_s))
        return self._observation(res, "full")

    def _track_window(self, size: tuple[int, int]) -> tuple[int, int, int]:
        w, h = size
        assert self._last_box_px is not None  # only called with a face seen recently
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

    def _run_track(self, image: np.ndarray, t_s: float, size: tuple[int, int]) -> FaceObservation | None:
        if self._track is None:
            self._track = self._make(video=not self.options.image_mode, num_faces=1)
        window = self._track_window(size)
        crop = cut_window(image, window, self.options.crop_min_side)
        if self.options.image_mode:
            res = self._track.detect(as_mp_image(self._mp, crop))
        else:
            res = self._track.detect_for_video(as_mp_image(self._mp, crop), self._clock_track(t_s))
        return self._observation(res, "track", window=window, frame_size=size)

    def _run_search(self, image: np.ndarray, t_s: float, size: tuple[int, int]) -> FaceObservation | None:
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
            crop = cut_window(image, window, self.options.crop_min_side)
            res = self._search.detect(as_mp_image(self._mp, crop))
            obs = self._observation(res, "search", window=window, frame_size=size)
            if obs is not None:
                self._window = None  # the track window is re-centred on this face
                self._search_cursor = 0
                return obs
        return None


class HandLandmarkerRunner(TaskCloser):
    """MediaPipe HandLandmarker in VIDEO mode, two stable hand slots per frame.

    Parameters
    ----------
    options : HandRunnerOptions, optional
    models_dir : path, optional
        Where ``hand_landmarker.task`` is.
    image_mode : bool
        Use IMAGE mode (independent stills; ``t_s`` is then ignored).
    """

    def __init__(
        self,
        options: HandRunnerOptions | None = None,
        *,
        models_dir: str | PathLike[str] | None = None,
        image_mode: bool = False,
    ) -> None:
        self._tasks: list[QuietTask] = []
        self.options = options or HandRunnerOptions()
        self.options.validate()
        self.model_path = verified_model_path(HAND_MODEL, None if models_dir is None else Path(models_dir))
        self._mp, v, base = load_vision()
        o = self.options
        opts = v.HandLandmarkerOptions(
            base_options=base(model_asset_path=str(self.model_path)),
            running_mode=v.RunningMode.IMAGE if image_mode else v.RunningMode.VIDEO,
            num_hands=o.num_hands,
            min_hand_detection_confidence=o.min_detection_confidence,
            min_hand_presence_confidence=o.min_presence_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
        )
        self._task = create_task(v.HandLandmarker, opts, self.model_path)
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
        mp_image = as_mp_image(self._mp, image)
        if self._image_mode:
            res = self._task.detect(mp_image)
        else:
            res = self._task.detect_for_video(mp_image, self._clock(t_s))
        lms = np.full((2, N_HAND_LANDMARKS, 3), np.nan, dtype=np.float32)
        hand = np.zeros(2, dtype=np.int8)
        score = np.zeros(2, dtype=np.float32)
        found = []
        for i, pts in enumerate(res.hand_landmarks[:2]):
            arr = landmark_array(pts, N_HAND_LANDMARKS)
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
