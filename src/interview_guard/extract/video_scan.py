"""Adaptive video scan: cheap motion on every frame, landmarks where it matters.

Landmarking every frame of a 720p recording runs at about real time on two
cores; decoding alone runs at 15-25x. :func:`scan_video` therefore decodes
every frame once but runs the MediaPipe face and hand landmarkers only

* at a low *base* rate (``base_fps``, default 1 per second), which keeps the
  face position (the *face zone*: the face box scaled 1.6x) up to date, and
* densely (``dense_fps``, default 15) in *active intervals*: around moments
  where the pixels inside the face zone move much more than usual, where a
  hand was seen in the face zone, or where the face was lost.

Everything runs in one streaming pass with bounded memory.

Per decoded frame (~0.3 ms)
    A small luma thumbnail (longer side :data:`THUMB_SIDE`) is cut straight
    from the decoded picture's Y plane with OpenCV (libswscale's scaled gray
    conversion measured 3-10x slower) and compared with the previous
    frame's: one :class:`MotionTrack` row (mean absolute difference inside
    the face zone and over the whole picture).

Trigger (see :class:`ScanTrigger`)
    Zone motion above ``median + k_mad * 1.4826 * MAD`` of the last
    ``window_s`` of zone motion (and above ``floor`` and ``ratio`` times the
    median; no motion trigger before the first face is landmarked); or a
    landmarked frame with a hand landmark inside the face zone; or a
    landmarked frame without a face (for at most ``face_lost_s``). A
    motion trigger at ``t`` makes ``[t - lookback_s, t + hold_s]`` active,
    a landmark trigger ``[t, t + hold_s]``; overlapping intervals merge. The two kinds
    complement each other: a quick sweep moves a lot (motion), a slow one
    is still over the face at the next base-rate frame (hand), and once
    dense, a hand kept near the face keeps the interval open.

Look-back buffer and frame order
    Decoded frames do not go to the landmarkers at once: they wait in a
    delay line until the newest decoded frame is ``lookback_s`` later. A
    frame leaving it is landmarked when it is on the base-rate grid or,
    inside an active interval, on the dense grid (one frame per
    ``1 / rate``, from the last landmarked one). So a motion trigger can
    still make the ``lookback_s`` before it dense, and *every* frame,
    base-rate ones included, reaches the VIDEO-mode landmarkers in
    presentation order: timestamps stay strictly increasing with one
    landmarker instance each, and no tracking state is reset. The price:
    the face zone the motion trigger uses lags (by ``lookback_s`` plus the
    head's lead, below; harmless, the zone is 1.6x the face), and a
    trigger that comes from landmarks cannot look back.

    The delay line holds the decoded PyAV frames themselves (YUV at the
    source size, ~1.4 MB each at 720p), not RGB copies at the landmark
    size: converting every frame would cost about as much as decoding it,
    and only the landmarked frames (about one in ten) are converted. Its
    length is at most ``lookback_s`` of frames plus the head's lead plus
    two, and never more than :data:`MAX_BUFFER_FRAMES`
    (``VideoScan.stats["buffer_max_frames"]``).

Threads (``parallel=True``)
    The head (decoding, thumbnails, motion trigger) runs on a helper thread
    and may run up to 0.5 s of frames ahead of the look-back window while
    the calling thread landmarks; the hand landmarker runs on another
    helper thread beside the face landmarker. The result is the same as
    with ``parallel=False``: the tail decides a frame only once the head
    has seen ``lookback_s`` past it (later head triggers cannot reach back
    that far), and the head takes the face zone from landmarks at or before
    ``lookback_s`` before the frame decoded 0.5 s of frames earlier,
    waiting for the tail to get there.

Per landmarked frame (< 1 ms on top of the landmarkers)
    One :class:`PixelTrack` row from the luma at :data:`WORK_SIDE` px:
    motion in a band around the face outline, inside it and in the
    background, texture and brightness of the face, and how the pixels
    under in-face hand landmarks differ from the face.

Keyframes
    Small JPEGs (longer side :data:`KEYFRAME_SIDE`) of landmarked frames
    inside active intervals, at most :data:`KEYFRAMES_PER_INTERVAL` per
    interval spread over it (the spacing doubles whenever the interval
    outgrows it), and at most :data:`MAX_KEYFRAMES` in all.

``mode="full"`` landmarks every decoded frame (the reference the adaptive
sampler is measured against) and reports one active interval covering the
whole video.

"Gray" here is the decoded luma (Y') where the picture is 8-bit YUV (nearly
every recording), else libswscale's gray conversion: levels 0-255, usually
limited range (16-235). Motion values are mean absolute differences in
those levels.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from interview_guard.errors import InputError, MediaError, ParameterError
from interview_guard.extract.video_tracks import FACE_SOURCES, FaceTrack, HandTrack, _tracks_equal
from interview_guard.io.landmarks import N_BLENDSHAPES, N_FACE_LANDMARKS, N_HAND_LANDMARKS
from interview_guard.io.video_decode import DecodeStats, rotate_upright, scaled_size
from interview_guard.signals.face_geometry import FACE_OVAL, hand_face_overlap, points_in_polygon

__all__ = [
    "SCAN_FORMAT_VERSION",
    "SCAN_MODES",
    "THUMB_SIDE",
    "WORK_SIDE",
    "KEYFRAME_SIDE",
    "KEYFRAMES_PER_INTERVAL",
    "MAX_KEYFRAMES",
    "MAX_BUFFER_FRAMES",
    "ScanTrigger",
    "PixelTrack",
    "MotionTrack",
    "VideoScan",
    "scan_video",
    "scan_parameters",
    "occlusion_events",
]

#: Bump when the arrays or the scan algorithm change (invalidates caches).
SCAN_FORMAT_VERSION = 3
SCAN_MODES = ("adaptive", "full")
#: Longer side of the per-frame motion thumbnails (pixels).
THUMB_SIDE = 160
#: Longer side of the luma the PixelTrack is measured on (pixels).
WORK_SIDE = 320
#: Longer side and JPEG quality of the keyframes.
KEYFRAME_SIDE = 320
KEYFRAME_QUALITY = 80
KEYFRAMES_PER_INTERVAL = 9
MAX_KEYFRAMES = 900
#: Hard cap on the look-back delay line (frames), whatever the frame rate.
MAX_BUFFER_FRAMES = 64
#: The face zone: the face box scaled by this about its centre.
FACE_ZONE_SCALE = 1.6
#: Width of the band around the face outline, as a share of the face width (each side).
BAND_FRACTION = 0.08
# How far (in time, as frames) the decoding head may run ahead of the look-back window.
_HEAD_SLACK_S = 0.5
# Initial spacing of the keyframes of an active interval (doubles as the interval grows).
_KEYFRAME_STEP_S = 0.25

ProgressHook = Callable[..., None]

# Pixel formats whose first plane is 8-bit luma (taken as is for the gray images).
_Y8_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
     "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray", "yuva420p"}
)  # fmt: skip
_MAD_SCALE = 1.4826


def _cv2():
    try:
        import cv2  # noqa: PLC0415 - heavy, imported only when video is scanned
    except ImportError as exc:  # pragma: no cover - opencv is a hard dependency
        raise MediaError(f"OpenCV (cv2, installed with mediapipe) is missing ({exc}); pip install mediapipe") from None
    return cv2


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ScanTrigger:
    """When the adaptive scan switches to dense landmarking.

    The defaults come from ``benchmarks/bench_video_scan.py`` (a 720p talking
    head with hand sweeps): there the head's own motion in the face zone
    stays below 2.2 grey levels (median 0.5), a sweep peaks at 4-22. With
    ``k_mad=5`` the talking head alone opened 22 active intervals in 5
    minutes; with 8, none, and every sweep still triggered (slow sweeps,
    whose motion is smallest, are also caught by the hand trigger at the
    next base-rate frame).

    Attributes
    ----------
    k_mad : float
        Zone motion must exceed ``median + k_mad * 1.4826 * MAD`` of the
        last ``window_s`` of zone motion (a robust z-score above ``k_mad``).
    floor : float
        ... and exceed this absolute level (grey levels, mean absolute
        difference), so compression noise on a still picture never triggers.
    ratio : float
        ... and exceed ``ratio`` times the running median (a talking head's
        own motion is noisy; a hand entering roughly doubles it at least).
    window_s : float
        Length of the running baseline.
    min_history_s : float
        Before this much baseline exists, only ``warmup_floor`` applies. The
        baseline starts with the first face zone (until a face has been
        landmarked there is nothing to occlude and motion does not trigger).
    warmup_floor : float
        Absolute threshold while the baseline is too short (a talking head
        filling the picture moves up to ~5 grey levels; hand sweeps 4-22).
    hand_in_zone : bool
        A landmarked frame with a hand landmark inside the face zone triggers.
    face_lost_s : float
        A landmarked frame without a face (after one with a face) triggers;
        frames without a face keep triggering for at most this long after
        the first of them (0 disables), so a face that stays away does not
        keep the scan dense.
    """

    k_mad: float = 8.0
    floor: float = 1.0
    ratio: float = 2.0
    window_s: float = 10.0
    min_history_s: float = 1.0
    warmup_floor: float = 6.0
    hand_in_zone: bool = True
    face_lost_s: float = 2.0

    def validate(self) -> None:
        owner = "ScanTrigger"
        for name in ("k_mad", "floor", "ratio", "window_s", "min_history_s", "warmup_floor", "face_lost_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ParameterError(f"{owner}: {name} must be a non-negative number, got {v!r}")
        if self.window_s < 1.0:
            raise ParameterError(f"{owner}: window_s must be at least 1 s, got {self.window_s!r}")


# ----------------------------------------------------------------------------- tracks


def _check_rows(owner: str, obj, names: tuple[str, ...]) -> None:
    n = obj.t_s.shape[0]
    if obj.t_s.ndim != 1:
        raise ParameterError(f"{owner}.t_s must be 1-D, got shape {obj.t_s.shape}")
    for name in names:
        a = getattr(obj, name)
        if a.shape != (n,):
            raise ParameterError(f"{owner}.{name} has shape {a.shape}, expected ({n},)")


@dataclass
class PixelTrack:
    """Pixel measurements around the face, one row per landmarked frame.

    Rows align 1:1 with the :class:`~interview_guard.extract.video_tracks.FaceTrack`
    (and HandTrack) rows of the same scan. Measured on the luma at
    ``work_size``; every value is NaN where no face was found. Motion is the
    mean absolute difference (grey levels) to the previous *decoded* frame.

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
    ring_motion : ndarray of float32, shape (n,)
        In a band around the face-oval outline (``BAND_FRACTION`` of the face
        width on both sides): a hand crossing the outline, or a face swap's
        blending seam, moves here.
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
    face_crop: np.ndarray | None = None

    COLUMNS = ("ring_motion", "inner_motion", "bg_motion", "face_texture", "face_luma", "hand_inside_luma_delta")
    CROP = 32

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
        _check_rows("PixelTrack", self, self.COLUMNS)

    @classmethod
    def empty(cls, n: int = 0, work_size: tuple[int, int] = (0, 0)) -> PixelTrack:
        nan = np.full(n, np.nan, np.float32)
        return cls(np.zeros(n), *(nan.copy() for _ in cls.COLUMNS), work_size=work_size)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def select(self, mask) -> PixelTrack:
        """The rows where ``mask`` (boolean or integer indices) holds."""
        m = np.asarray(mask)
        return PixelTrack(
            self.t_s[m],
            *(getattr(self, c)[m] for c in self.COLUMNS),
            work_size=self.work_size,
            face_crop=self.face_crop[m],
        )

    def __eq__(self, other) -> bool:
        return _tracks_equal(self, other)

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
        The motion trigger's threshold at that frame (see :class:`ScanTrigger`);
        +inf before the first face zone (no motion trigger then).
    thumb_size : (int, int)
        Width and height of the thumbnails.
    """

    t_s: np.ndarray
    zone_motion: np.ndarray
    global_motion: np.ndarray
    threshold: np.ndarray
    thumb_size: tuple[int, int] = (0, 0)

    COLUMNS = ("zone_motion", "global_motion", "threshold")

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

    def __eq__(self, other) -> bool:
        return _tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"MotionTrack(n={len(self)}, triggered={int(self.triggered.sum())})"


# ----------------------------------------------------------------------------- result


@dataclass
class VideoScan:
    """What :func:`scan_video` found.

    Attributes
    ----------
    face : FaceTrack
        One row per landmarked frame.
    hands : HandTrack
        Same rows as ``face``.
    pixels : PixelTrack
        Same rows as ``face``.
    motion : MotionTrack
        One row per decoded frame.
    active : list of (float, float)
        Intervals analysed densely: first and last decoded frame time of each.
    keyframes : dict of float to bytes
        JPEG thumbnails of frames inside active intervals, by frame time.
    stats : dict
        Counts, timings, mode and parameters; ``stats["decode"]`` is the
        :class:`~interview_guard.io.video_decode.DecodeStats` as a dict.
    """

    face: FaceTrack
    hands: HandTrack
    pixels: PixelTrack
    motion: MotionTrack
    active: list[tuple[float, float]] = field(default_factory=list)
    keyframes: dict[float, bytes] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    @property
    def decode_stats(self) -> DecodeStats:
        return DecodeStats.from_dict(self.stats.get("decode", {}))

    def active_mask(self, t_s) -> np.ndarray:
        """Whether each time in ``t_s`` lies in an active interval (ends included)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        out = np.zeros(t.shape, bool)
        for a, b in self.active:
            out |= (t >= a - 1e-9) & (t <= b + 1e-9)
        return out

    def keyframe_image(self, t: float) -> np.ndarray:
        """The keyframe at time ``t`` decoded to an RGB array."""
        cv2 = _cv2()
        bgr = cv2.imdecode(np.frombuffer(self.keyframes[t], np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    # -- persistence -------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write the scan to ``path`` (.npz, uncompressed, written atomically)."""
        from interview_guard.atomic import atomic_open  # noqa: PLC0415

        arrays: dict[str, np.ndarray] = {
            "kind": np.array("video_scan"),
            "version": np.array(SCAN_FORMAT_VERSION),
        }
        for prefix, obj in (("face/", self.face), ("hands/", self.hands), ("pixels/", self.pixels),
                            ("motion/", self.motion)):  # fmt: skip
            arrays.update(_dataclass_arrays(obj, prefix))
        arrays["active"] = np.array(self.active, dtype=np.float64).reshape(-1, 2)
        times = sorted(self.keyframes)
        blobs = [self.keyframes[t] for t in times]
        arrays["keyframes/t_s"] = np.array(times, dtype=np.float64)
        arrays["keyframes/offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        arrays["keyframes/data"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays["stats"] = np.array(json.dumps(self.stats, sort_keys=True, default=_json_default))
        p = Path(path)
        with atomic_open(p) as fh:
            np.savez(fh, **arrays)
        return p

    @classmethod
    def load(cls, path) -> VideoScan:
        """Read a scan written by :meth:`save`.

        Raises
        ------
        InputError
            Missing, damaged, not a scan file, or of another format version.
        """
        import zipfile  # noqa: PLC0415

        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as data:
                kind = str(data["kind"][()]) if "kind" in data.files else "?"
                if kind != "video_scan":
                    raise InputError(f"not a video scan file (kind {kind!r})", path=p)
                version = int(data["version"][()])
                if version != SCAN_FORMAT_VERSION:
                    raise InputError(f"video scan format {version}, this version reads {SCAN_FORMAT_VERSION}", path=p)
                face = _dataclass_from(FaceTrack, data, "face/")
                hands = _dataclass_from(HandTrack, data, "hands/")
                pixels = _dataclass_from(PixelTrack, data, "pixels/")
                motion = _dataclass_from(MotionTrack, data, "motion/")
                active = [(float(a), float(b)) for a, b in np.asarray(data["active"]).reshape(-1, 2)]
                kt = data["keyframes/t_s"]
                off = data["keyframes/offsets"]
                blob = data["keyframes/data"].tobytes()
                keyframes = {float(t): blob[int(off[i]) : int(off[i + 1])] for i, t in enumerate(kt)}
                stats = json.loads(str(data["stats"][()]))
        except InputError:
            raise
        except FileNotFoundError:
            raise InputError("file not found", path=p) from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ParameterError) as exc:
            raise InputError(f"damaged video scan file ({exc.__class__.__name__}: {exc})", path=p) from None
        return cls(face, hands, pixels, motion, active, keyframes, stats)

    def __repr__(self) -> str:
        return (
            f"VideoScan(mode={self.stats.get('mode')!r}, decoded={len(self.motion)}, landmarked={len(self.face)}, "
            f"active={len(self.active)}, keyframes={len(self.keyframes)})"
        )


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _dataclass_arrays(obj, prefix: str) -> dict[str, np.ndarray]:
    """Every field of a track dataclass as npz entries, plus a schema saying how to read them back."""
    out: dict[str, np.ndarray] = {}
    schema: dict[str, str] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        key = prefix + f.name
        if isinstance(v, np.ndarray):
            out[key], schema[f.name] = v, "array"
        elif isinstance(v, tuple) and all(isinstance(x, str) for x in v) and v:
            out[key], schema[f.name] = np.array(v, dtype=str), "str_tuple"
        elif isinstance(v, tuple):
            out[key], schema[f.name] = np.array(v, dtype=np.int64), "int_tuple"
        else:
            out[key], schema[f.name] = np.array(json.dumps(v, sort_keys=True, default=_json_default)), "json"
    out[prefix + "__schema__"] = np.array(json.dumps(schema, sort_keys=True))
    return out


def _dataclass_from(cls, data, prefix: str):
    schema = json.loads(str(data[prefix + "__schema__"][()]))
    kwargs = {}
    for name, how in schema.items():
        v = data[prefix + name]
        if how == "array":
            kwargs[name] = v
        elif how == "str_tuple":
            kwargs[name] = tuple(str(s) for s in v)
        elif how == "int_tuple":
            kwargs[name] = tuple(int(x) for x in v)
        else:
            kwargs[name] = json.loads(str(v[()]))
    return cls(**kwargs)


# ----------------------------------------------------------------------------- events


def occlusion_events(
    face: FaceTrack, hands: HandTrack, *, min_overlap: float = 0.1, merge_gap_s: float = 0.3
) -> list[tuple[float, float]]:
    """Hand-over-face occlusion events of landmarked frames.

    An event is a run of frames where
    :func:`~interview_guard.signals.face_geometry.hand_face_overlap` is at least
    ``min_overlap``; runs less than ``merge_gap_s`` apart are merged.

    Returns
    -------
    list of (float, float)
        First and last frame time of each event.
    """
    if len(face) != len(hands):
        raise ParameterError(f"face ({len(face)} rows) and hands ({len(hands)} rows) are not aligned")
    hit = np.zeros(len(face), bool)
    cand = np.flatnonzero(face.present & (hands.count > 0))
    for i in cand:
        hit[i] = hand_face_overlap(face.landmarks[i], hands.landmarks[i]) >= min_overlap
    events: list[list[float]] = []
    for i in np.flatnonzero(hit):
        t = float(face.t_s[i])
        if events and t - events[-1][1] < merge_gap_s:
            events[-1][1] = t
        else:
            events.append([t, t])
    return [(a, b) for a, b in events]


# ----------------------------------------------------------------------------- pixels


def _luma(vf, size: tuple[int, int]) -> np.ndarray:
    """The luma of a decoded frame scaled to ``size`` (source orientation) by area averaging.

    Exact 2:1 bilinear halvings (each a 2x2 box average) down to at most 1.5x
    the target, then ``INTER_AREA``: the same picture as ``INTER_AREA`` in one
    step (within rounding) at half the cost (0.16 ms for 1280x720 -> 160x90).
    """
    cv2 = _cv2()
    w, h = size
    if vf.format.name not in _Y8_FORMATS:
        return vf.to_ndarray(format="gray", width=w, height=h, interpolation="AREA")
    pl = vf.planes[0]
    y = np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[: vf.height, : vf.width]
    if (w, h) == (vf.width, vf.height):
        return np.ascontiguousarray(y)
    cw, ch = vf.width, vf.height
    while cw // 2 >= 1.5 * w and ch // 2 >= 1.5 * h:
        cw, ch = cw // 2, ch // 2
        y = cv2.resize(y, (cw, ch), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA)


def _face_crop(gray: np.ndarray, box) -> np.ndarray | None:
    """The face box (normalised x0, y0, x1, y1) of ``gray`` resized to PixelTrack.CROP squared."""
    cv2 = _cv2()
    H, W = gray.shape
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    a, b = int(max(math.floor(x0 * W), 0)), int(max(math.floor(y0 * H), 0))
    c, d = int(min(math.ceil(x1 * W), W)), int(min(math.ceil(y1 * H), H))
    if c - a < 4 or d - b < 4:
        return None
    return cv2.resize(gray[b:d, a:c], (PixelTrack.CROP, PixelTrack.CROP), interpolation=cv2.INTER_AREA)


def _pixel_row(gray: np.ndarray, prev: np.ndarray | None, face_lm: np.ndarray, hand_lm: np.ndarray) -> tuple:
    """The six PixelTrack values of one frame (see :class:`PixelTrack`)."""
    cv2 = _cv2()
    H, W = gray.shape
    poly = face_lm[FACE_OVAL, :2].astype(np.float64) * (W, H)
    if not np.all(np.isfinite(poly)):
        return (np.nan,) * 6
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
        return (np.nan,) * 6
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
        return (np.nan,) * 6
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
    delta = np.nan
    hp = np.asarray(hand_lm, dtype=np.float64).reshape(-1, hand_lm.shape[-1])[:, :2]
    hp = hp[np.all(np.isfinite(hp), axis=1)] * (W, H)
    if hp.shape[0]:
        inside = hp[points_in_polygon(hp, poly)]
        if inside.shape[0]:
            blur = cv2.blur(roi, (3, 3))
            xi = np.clip(np.round(inside[:, 0] - rx0).astype(int), 0, shape[1] - 1)
            yi = np.clip(np.round(inside[:, 1] - ry0).astype(int), 0, shape[0] - 1)
            delta = float(blur[yi, xi].mean()) - face_luma
    return ring, inner, bg, texture, face_luma, delta


# ----------------------------------------------------------------------------- row buffers


class _Rows:
    """Append-only row storage in fixed-size chunks (no doubling copies); ``finish`` stacks them."""

    CHUNK = 256

    def __init__(self, specs: dict[str, tuple[tuple[int, ...], object, object]]) -> None:
        self._specs = specs
        self._chunks: list[dict[str, np.ndarray]] = []
        self._used = self.CHUNK
        self.n = 0

    def add(self) -> tuple[dict[str, np.ndarray], int]:
        """A fresh row (filled with the defaults): ``(arrays, index)`` to write it."""
        if self._used == self.CHUNK:
            self._chunks.append(
                {k: np.full((self.CHUNK, *shape), fill, dtype) for k, (shape, dtype, fill) in self._specs.items()}
            )
            self._used = 0
        i = self._used
        self._used += 1
        self.n += 1
        return self._chunks[-1], i

    def finish(self) -> dict[str, np.ndarray]:
        out = {}
        for k, (shape, dtype, _fill) in self._specs.items():
            parts = [c[k] for c in self._chunks]
            if parts:
                parts[-1] = parts[-1][: self._used]
                out[k] = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
            else:
                out[k] = np.zeros((0, *shape), dtype)
        self._chunks = []
        return out


def _face_rows() -> _Rows:
    nan = np.float32(np.nan)
    return _Rows(
        {
            "t_s": ((), np.float64, 0.0),
            "frame_index": ((), np.int64, 0),
            "present": ((), bool, False),
            "landmarks": ((N_FACE_LANDMARKS, 3), np.float32, nan),
            "blendshapes": ((N_BLENDSHAPES,), np.float32, nan),
            "box": ((4,), np.float32, nan),
            "n_faces": ((), np.int8, 0),
            "source": ((), np.int8, 0),
        }
    )


def _hand_rows() -> _Rows:
    nan = np.float32(np.nan)
    return _Rows(
        {
            "t_s": ((), np.float64, 0.0),
            "frame_index": ((), np.int64, 0),
            "count": ((), np.int8, 0),
            "landmarks": ((2, N_HAND_LANDMARKS, 3), np.float32, nan),
            "handedness": ((2,), np.int8, 0),
            "score": ((2,), np.float32, 0.0),
        }
    )


def _pixel_rows() -> _Rows:
    nan = np.float32(np.nan)
    return _Rows(
        {
            "t_s": ((), np.float64, 0.0),
            **{c: ((), np.float32, nan) for c in PixelTrack.COLUMNS},
            "face_crop": ((PixelTrack.CROP, PixelTrack.CROP), np.uint8, 0),
        }
    )


def _motion_rows() -> _Rows:
    return _Rows({"t_s": ((), np.float64, 0.0), **{c: ((), np.float32, 0.0) for c in MotionTrack.COLUMNS}})


# ----------------------------------------------------------------------------- trigger


class _MotionBaseline:
    """Running median / MAD of zone motion over a window of frames (ring buffer)."""

    def __init__(self, trigger: ScanTrigger, fps: float) -> None:
        self.trig = trigger
        self.size = max(int(round(trigger.window_s * fps)), 8)
        self.min_n = max(int(round(trigger.min_history_s * fps)), 4)
        self.values = np.zeros(self.size, np.float32)
        self.n = 0
        self._every = max(1, int(round(fps / 10)))  # refresh the statistics ~10 times a second
        self._cached = None

    def threshold(self) -> float:
        tr = self.trig
        n = min(self.n, self.size)
        if n < self.min_n:
            return float(tr.warmup_floor)
        if self._cached is None or self.n % self._every == 0:
            v = self.values[:n]
            med = float(np.median(v))
            mad = float(np.median(np.abs(v - med)))
            self._cached = max(tr.floor, med + tr.k_mad * _MAD_SCALE * mad, tr.ratio * med)
        return self._cached

    def push(self, value: float) -> None:
        self.values[self.n % self.size] = value
        self.n += 1


class _Intervals:
    """Sorted active intervals (overlapping ones merged) still ahead of or around the tail."""

    def __init__(self) -> None:
        self.items: list[list[float]] = []

    def add(self, a: float, b: float) -> None:
        items = self.items
        # Usually appended at the end; a landmark trigger may land before an interval the head added.
        i = len(items)
        while i > 0 and items[i - 1][0] > a:
            i -= 1
        items.insert(i, [a, b])
        merged: list[list[float]] = []
        for s, e in items:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.items = merged

    def covers(self, t: float) -> bool:
        """Whether ``t`` is in an interval; intervals that ended before ``t`` are dropped (times only grow)."""
        items = self.items
        while items and items[0][1] < t - 1e-9:
            items.pop(0)
        return bool(items) and items[0][0] <= t + 1e-9


# ----------------------------------------------------------------------------- the scan


class _Entry:
    __slots__ = ("idx", "t", "vf", "gray")

    def __init__(self, idx: int, t: float, vf) -> None:
        self.idx, self.t, self.vf, self.gray = idx, t, vf, None


def _check_rate(name: str, v) -> float:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ParameterError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def scan_video(
    path,
    *,
    mode: str = "adaptive",
    base_fps: float = 1.0,
    dense_fps: float = 15.0,
    lookback_s: float = 0.6,
    hold_s: float = 1.0,
    trigger: ScanTrigger | None = None,
    max_side: int | None = 640,
    progress: ProgressHook | None = None,
    models_dir=None,
    face_options=None,
    hand_options=None,
    parallel: bool = True,
    dense_windows=(),
) -> VideoScan:
    """Scan a video: motion on every frame, face and hand landmarks where needed.

    Parameters
    ----------
    path : str or Path
    mode : {"adaptive", "full"}
        ``"full"`` landmarks every decoded frame (the reference).
    base_fps : float
        Landmarking rate outside active intervals.
    dense_fps : float
        Landmarking rate inside active intervals (at most the source rate).
    dense_windows : sequence of (float, float)
        Time windows landmarked at every frame whatever the trigger says (the
        lip-sync check asks for a few stretches of speech); sorted or not.
    lookback_s : float
        How far before a motion trigger dense landmarking starts: the length
        of the delay line (0 to 5 s).
    hold_s : float
        How long after the last trigger dense landmarking continues (0 to 5 s).
    trigger : ScanTrigger, optional
        Trigger settings (see :class:`ScanTrigger` for the defaults).
    max_side : int, optional
        Longer side of the frames given to the landmarkers. 640 (default)
        finds the same faces, hands and occlusion events as 960 on 720p
        recordings (see ``benchmarks/bench_video_scan.py``) at the same
        MediaPipe cost (its models see fixed-size inputs) and a cheaper
        colour conversion; ``None`` keeps the decoded size.
    progress : callable, optional
        ``progress("video", completed=i, total=n)`` every 30 frames, ``i``
        the frames done, ``n`` the estimated frame count. Always called from
        the calling thread.
    models_dir : path, optional
    face_options : FaceRunnerOptions, optional
    hand_options : HandRunnerOptions, optional
    parallel : bool
        Decode (and measure motion) on a helper thread while the calling
        thread landmarks, and run the hand landmarker on a second helper
        thread beside the face landmarker. The result is identical either
        way (see "Threads" in the module notes); only the speed differs.

    Returns
    -------
    VideoScan

    Raises
    ------
    ParameterError
        A parameter is out of range.
    MediaError
        The video cannot be decoded at all.
    ModelError
        A model file is missing, altered or does not load.
    """
    if mode not in SCAN_MODES:
        raise ParameterError(f"mode must be one of {SCAN_MODES}, got {mode!r}")
    base_fps = _check_rate("base_fps", base_fps)
    dense_fps = _check_rate("dense_fps", dense_fps)
    if dense_fps < base_fps:
        raise ParameterError(f"dense_fps ({dense_fps}) must be at least base_fps ({base_fps})")
    for name, v in (("lookback_s", lookback_s), ("hold_s", hold_s)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 5):
            raise ParameterError(f"{name} must be in [0, 5] seconds, got {v!r}")
    if max_side is not None and int(max_side) < 64:
        raise ParameterError(f"max_side must be at least 64, got {max_side!r}")
    trigger = trigger or ScanTrigger()
    trigger.validate()

    from interview_guard.io import landmarks as lm  # noqa: PLC0415 - resolved at call time (tests may patch the runners)
    from interview_guard.io.video_decode import _import_av, _open_video, estimate_frame_count  # noqa: PLC0415

    total = estimate_frame_count(path)  # MediaError here, before the models load
    av = _import_av()
    stats = DecodeStats()
    with lm.FaceLandmarkerRunner(face_options, models_dir=models_dir) as face_runner:
        with lm.HandLandmarkerRunner(hand_options, models_dir=models_dir) as hand_runner:
            container, stream, p = _open_video(path)
            stats.path = str(p)
            with container, contextlib.ExitStack() as stack:
                pool = None
                if parallel:
                    pool = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="ig-hands"))
                scanner = _Scanner(
                    mode=mode, base_fps=base_fps, dense_fps=dense_fps, lookback_s=float(lookback_s),
                    hold_s=float(hold_s), trigger=trigger, max_side=max_side, face_runner=face_runner,
                    hand_runner=hand_runner, stats=stats, progress=progress, total=total, pool=pool,
                    dense_windows=dense_windows,
                )  # fmt: skip
                try:
                    frames = scanner.frames(av, container, stream, p)
                    if parallel:
                        scanner.run_threaded(frames)
                    else:
                        scanner.run_serial(frames)
                    return scanner.result()
                finally:
                    scanner.release()


#: Arguments of :func:`scan_video` that do not change its result.
_RESULT_NEUTRAL = ("path", "progress", "models_dir", "parallel")


def scan_parameters(**params) -> dict:
    """Everything that determines the result of ``scan_video(path, **params)``, defaults filled in.

    For cache keys: JSON-serialisable, option dataclasses as dicts, plus
    :data:`SCAN_FORMAT_VERSION`; ``progress``, ``models_dir`` (the model
    files are keyed by their hashes instead) and ``parallel`` (same result
    either way) are left out.

    Raises
    ------
    TypeError
        An argument :func:`scan_video` does not take.
    """
    import inspect  # noqa: PLC0415

    from interview_guard.io.landmarks import FaceRunnerOptions, HandRunnerOptions  # noqa: PLC0415

    bound = inspect.signature(scan_video).bind(None, **params)
    bound.apply_defaults()
    out = {k: v for k, v in bound.arguments.items() if k not in _RESULT_NEUTRAL}
    out["trigger"] = asdict(out["trigger"] or ScanTrigger())
    out["face_options"] = asdict(out["face_options"] or FaceRunnerOptions())
    out["hand_options"] = asdict(out["hand_options"] or HandRunnerOptions())
    for k in ("base_fps", "dense_fps", "lookback_s", "hold_s"):
        out[k] = float(out[k])
    out["max_side"] = None if out["max_side"] is None else int(out["max_side"])
    out["dense_windows"] = [[float(a), float(b)] for a, b in sorted(out["dense_windows"] or ())]
    out["format"] = SCAN_FORMAT_VERSION
    return out


class _Scanner:
    """State of one scan: the head (decode, motion, trigger) and the tail (landmarks)."""

    def __init__(self, *, mode, base_fps, dense_fps, lookback_s, hold_s, trigger, max_side, face_runner,
                 hand_runner, stats: DecodeStats, progress, total, pool=None, dense_windows=()) -> None:  # fmt: skip
        self.mode = mode
        self.sync_windows = deque(sorted((float(a), float(b)) for a, b in dense_windows if b > a))
        self.base_fps, self.dense_fps = base_fps, dense_fps
        self.lookback_s, self.hold_s = lookback_s, hold_s
        self.trig: ScanTrigger = trigger
        self.max_side = max_side
        self.face_runner, self.hand_runner = face_runner, hand_runner
        self.pool = pool
        self.st = stats
        self.progress, self.total = progress, total
        self.cv2 = _cv2()
        # Shared between the head and the tail (a re-entrant lock; uncontended in serial mode).
        self.cond = threading.Condition()
        self.buffer: deque[_Entry] = deque()
        self.intervals = _Intervals()
        self.zone_history: deque[tuple[float, tuple[float, float, float, float]]] = deque()
        self.inflight: float | None = None  # time of the frame the tail is working on
        self.head_t = -math.inf
        self.head_done = False
        self.stop = False
        self.threaded = False
        self.error: BaseException | None = None
        # Geometry (set from the first frame).
        self.rotation = 0
        self.lm_src_size = self.thumb_src_size = self.work_src_size = (0, 0)
        self.lm_resize: tuple[int, int] | None = None
        self.tol = 0.0
        self.slack = 0
        self.buffer_cap = MAX_BUFFER_FRAMES
        self.buffer_max = 0
        # Head state.
        self.prev_thumb: np.ndarray | None = None
        self.head_times: deque[float] = deque()
        self.head_zone: tuple[float, float, float, float] | None = None
        self.baseline: _MotionBaseline | None = None
        self.motion = _motion_rows()
        # Tail state.
        self.prev_entry: _Entry | None = None
        self.last_lm_t = -math.inf
        self.done = 0
        self.face_rows, self.hand_rows, self.pixel_rows = _face_rows(), _hand_rows(), _pixel_rows()
        self.zone: tuple[float, float, float, float] | None = None
        self.active: list[list[float]] = []
        self.in_active = False
        self.face_seen = False
        self.lost_since: float | None = None
        self.keyframes: dict[float, bytes] = {}
        self.kf_open: list[tuple[float, bytes]] = []
        self.kf_step = _KEYFRAME_STEP_S
        self.kf_dropped = 0
        self.counts = {"dense_landmarked": 0, "base_landmarked": 0, "triggers_motion": 0, "triggers_hand": 0,
                       "triggers_face_lost": 0}  # fmt: skip
        self.timing = dict.fromkeys(("decode", "motion", "convert", "face", "hands", "pixels", "keyframes"), 0.0)
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()

    # -- geometry ------------------------------------------------------------------------

    def _setup(self, vf, legacy_rot: int) -> None:
        st = self.st
        rot = int(vf.rotation or 0)
        rotation = (rot if rot else legacy_rot) % 360
        self.rotation = int(round(rotation / 90.0)) * 90 % 360
        st.rotation = self.rotation
        w, h = int(vf.width), int(vf.height)
        swap = self.rotation in (90, 270)

        def src_size_for(max_side):
            uw, uh = (h, w) if swap else (w, h)
            sw, sh = scaled_size(uw, uh, max_side)
            return (sh, sw) if swap else (sw, sh)

        self.lm_src_size = src_size_for(self.max_side)
        self.lm_resize = self.lm_src_size if self.lm_src_size != (w, h) else None
        self.thumb_src_size = src_size_for(THUMB_SIDE)
        self.work_src_size = src_size_for(WORK_SIDE)
        lw, lh = self.lm_src_size
        st.out_width, st.out_height = (lh, lw) if swap else (lw, lh)
        fps = st.nominal_fps if st.nominal_fps > 0 else 30.0
        self.tol = 0.5 / fps
        self.baseline = _MotionBaseline(self.trig, fps)
        lookback_frames = int(math.ceil(self.lookback_s * fps))
        self.slack = min(int(round(_HEAD_SLACK_S * fps)), max(MAX_BUFFER_FRAMES - lookback_frames - 2, 0))
        # The frames within lookback_s of the newest one, the head's lead, the one leaving.
        self.buffer_cap = int(min(MAX_BUFFER_FRAMES, lookback_frames + self.slack + 2))

    def _upright(self, img: np.ndarray) -> np.ndarray:
        return rotate_upright(img, self.rotation)

    # -- decoding -----------------------------------------------------------------------

    def frames(self, av, container, stream, p):
        """Decoded frames as entries, in presentation order (fills the DecodeStats)."""
        from interview_guard.io.video_decode import demux_video_frames, prepare_stream  # noqa: PLC0415

        st = self.st
        legacy_rot = prepare_stream(container, stream, st)
        last_t = -math.inf
        n = 0
        perf = time.perf_counter
        t_mark = perf()
        for t, vf in demux_video_frames(av, container, stream, st):
            if self.stop:
                break
            if t <= last_t:
                st.dropped_non_increasing += 1
                continue
            last_t = t
            if n == 0:
                self._setup(vf, legacy_rot)
            if getattr(vf, "is_corrupt", False):
                st.corrupt_frames += 1
            st.frames_decoded = st.frames_yielded = n + 1
            if st.first_t is None:
                st.first_t = t
            st.last_t = t
            self.timing["decode"] += perf() - t_mark
            yield _Entry(n, t, vf)
            n += 1
            t_mark = perf()
        self.timing["decode"] += perf() - t_mark
        if n == 0 and not self.stop:
            if st.decode_errors or st.stopped_early:
                raise MediaError(f"video does not decode ({st.errors[0] if st.errors else 'no frame'})", path=p)
            raise MediaError("no decodable video frame", path=p)
        if not self.stop:
            st.finished = True

    # -- drivers --------------------------------------------------------------------------

    def _leaves(self, head_t: float) -> bool:
        """Whether the oldest buffered frame may go to the tail (the head has seen lookback_s past it)."""
        b = self.buffer
        return bool(b) and (b[0].t <= head_t - self.lookback_s + 1e-9 or len(b) >= self.buffer_cap or self.head_done)

    def run_serial(self, frames) -> None:
        for e in frames:
            self._head(e)
            self.buffer.append(e)
            self.head_t = e.t
            self.buffer_max = max(self.buffer_max, len(self.buffer))
            while self._leaves(e.t):
                self._tail(self.buffer.popleft())
        self.head_done = True
        while self.buffer:
            self._tail(self.buffer.popleft())
        self._finish_tail()

    def run_threaded(self, frames) -> None:
        cond = self.cond
        self.threaded = True

        def produce() -> None:
            try:
                for e in frames:
                    self._head(e)  # waits for the tail where the zone rule needs it
                    with cond:
                        while not self.stop and len(self.buffer) >= self.buffer_cap:
                            cond.wait()
                        if self.stop:
                            break
                        self.buffer.append(e)
                        self.head_t = e.t
                        self.buffer_max = max(self.buffer_max, len(self.buffer))
                        cond.notify_all()
            except BaseException as exc:  # handed to the calling thread
                self.error = exc
            finally:
                with cond:
                    self.head_done = True
                    cond.notify_all()

        worker = threading.Thread(target=produce, name="ig-decode", daemon=True)
        worker.start()
        try:
            while True:
                with cond:
                    while self.error is None and not self._leaves(self.head_t):
                        if self.head_done and not self.buffer:
                            break
                        cond.wait()
                    if self.error is not None:
                        raise self.error
                    if not self.buffer:
                        break
                    e = self.buffer.popleft()
                    self.inflight = e.t
                    cond.notify_all()
                self._tail(e)
                with cond:
                    self.inflight = None
                    cond.notify_all()
            self._finish_tail()
        finally:
            with cond:
                self.stop = not self.head_done
                cond.notify_all()
            worker.join()
        if self.error is not None:
            raise self.error

    # -- head: every decoded frame ------------------------------------------------------------

    def _tail_behind(self, cut: float) -> bool:
        """Whether a frame at or before ``cut`` is still waiting for, or in, the tail."""
        if self.buffer and self.buffer[0].t <= cut + 1e-9:
            return True
        return self.inflight is not None and self.inflight <= cut + 1e-9

    def _zone_for_head(self, e: _Entry) -> tuple[float, float, float, float] | None:
        """The face zone the head uses for frame ``e``: from landmarks at or before a fixed cut.

        The cut is ``lookback_s`` before the decoded frame ``slack`` frames back: the tail has always
        got that far in serial mode, and in threaded mode the head waits for it, so both modes
        measure the same zone motion while the head may run ``slack`` frames ahead.
        """
        times = self.head_times
        cut = times[0] - self.lookback_s if len(times) > self.slack else -math.inf
        times.append(e.t)
        if len(times) > self.slack + 1:
            times.popleft()
        cond = self.cond
        with cond:
            while not self.stop and self._tail_behind(cut):
                if not self.threaded:  # pragma: no cover - the serial driver always gets the tail this far
                    raise RuntimeError("video scan: the tail is behind the head's zone cut")
                cond.wait()
            hist = self.zone_history
            while len(hist) >= 2 and hist[1][0] <= cut + 1e-9:
                hist.popleft()
            if hist and hist[0][0] <= cut + 1e-9:
                self.head_zone = hist[0][1]
        return self.head_zone

    def _head(self, e: _Entry) -> None:
        t0 = time.perf_counter()
        cv2 = self.cv2
        thumb = self._upright(_luma(e.vf, self.thumb_src_size))
        diff = None
        if self.prev_thumb is not None and self.prev_thumb.shape == thumb.shape:
            diff = cv2.absdiff(thumb, self.prev_thumb)
        self.prev_thumb = thumb
        t1 = time.perf_counter()
        zone = self._zone_for_head(e)
        t2 = time.perf_counter()
        zone_m = glob_m = 0.0
        if diff is not None:
            glob_m = cv2.mean(diff)[0]
            if zone is None:
                zone_m = glob_m
            else:
                th, tw = thumb.shape
                x0, y0, x1, y1 = zone
                xa, ya = int(math.floor(x0 * tw)), int(math.floor(y0 * th))
                xb, yb = max(int(math.ceil(x1 * tw)), xa + 1), max(int(math.ceil(y1 * th)), ya + 1)
                zone_m = cv2.mean(diff[ya:yb, xa:xb])[0]
        if zone is None:
            thr = math.inf  # no face yet: nothing to occlude, no baseline
        else:
            thr = self.baseline.threshold()
            if e.idx > 0:
                if zone_m > thr and self.mode == "adaptive":
                    with self.cond:
                        self.counts["triggers_motion"] += 1
                        self.intervals.add(e.t - self.lookback_s, e.t + self.hold_s)
                self.baseline.push(zone_m)
        a, i = self.motion.add()
        a["t_s"][i], a["zone_motion"][i], a["global_motion"][i], a["threshold"][i] = e.t, zone_m, glob_m, thr
        self.timing["motion"] += time.perf_counter() - t0 - (t2 - t1)

    # -- tail: frames leaving the delay line, in time order ---------------------------------

    def _tail(self, e: _Entry) -> None:
        full = self.mode == "full"
        with self.cond:
            dense = full or self.intervals.covers(e.t)
        if dense:
            if self.in_active:
                self.active[-1][1] = e.t
            else:
                self.active.append([e.t, e.t])
                self.in_active = True
        elif self.in_active:
            self._close_active()
        while self.sync_windows and self.sync_windows[0][1] < e.t:
            self.sync_windows.popleft()
        sync = bool(self.sync_windows) and self.sync_windows[0][0] <= e.t
        period = 0.0 if (full or sync) else (1.0 / self.dense_fps if dense else 1.0 / self.base_fps)
        if full or sync or e.t - self.last_lm_t >= period - self.tol:
            self.last_lm_t = e.t
            self._landmark(e, dense)
        if self.prev_entry is not None:
            self.prev_entry.vf = None
        self.prev_entry = e
        self.done += 1
        if self.progress is not None and self.done % 30 == 0:
            self.progress("video", completed=self.done, total=max(self.total, self.done))

    def _finish_tail(self) -> None:
        self._close_active()
        if self.progress is not None:
            self.progress("video", completed=self.done, total=self.done)

    def _rgb(self, vf) -> np.ndarray:
        """RGB at the landmark size (source orientation).

        yuv420p (nearly every recording): the three planes are scaled with OpenCV
        (area averaging) and converted with ``cv2.COLOR_YUV2RGB_I420`` (BT.601,
        limited range, like libswscale's default): 0.2 ms for 1280x720 -> 640x360,
        against 1.4 ms for libswscale scaling with area averaging. Other formats
        go through libswscale.
        """
        cv2 = self.cv2
        size = self.lm_resize
        if vf.format.name == "yuv420p" and vf.width % 2 == 0 and vf.height % 2 == 0:
            w, h = size if size is not None else (vf.width, vf.height)
            if w % 2 == 0 and h % 2 == 0:
                planes = []
                for k, (pw, ph) in enumerate(((w, h), (w // 2, h // 2), (w // 2, h // 2))):
                    pl = vf.planes[k]
                    a = np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[: pl.height, : pl.width]
                    if (pl.width, pl.height) != (pw, ph):
                        a = cv2.resize(a, (pw, ph), interpolation=cv2.INTER_AREA)
                    planes.append(a)
                i420 = np.concatenate([p.reshape(-1) for p in planes]).reshape(h * 3 // 2, w)
                return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        rgb = vf.to_ndarray(format="rgb24")
        if size is None:
            return rgb
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

    def _gray(self, e: _Entry) -> np.ndarray:
        if e.gray is None:
            e.gray = self._upright(_luma(e.vf, self.work_src_size))
        return e.gray

    def _landmark(self, e: _Entry, dense: bool) -> None:
        perf = time.perf_counter
        t0 = perf()
        rgb = self._upright(self._rgb(e.vf))
        t1 = perf()
        if self.pool is not None:
            # The two landmarkers are independent and single-threaded: run the hand one beside the face one.
            fut = self.pool.submit(self.hand_runner.process, rgb, e.t)
            try:
                fobs = self.face_runner.process(rgb, e.t)
            finally:
                t2 = perf()
                hobs = fut.result()
        else:
            fobs = self.face_runner.process(rgb, e.t)
            t2 = perf()
            hobs = self.hand_runner.process(rgb, e.t)
        t3 = perf()
        self.timing["convert"] += t1 - t0
        self.timing["face"] += t2 - t1
        self.timing["hands"] += t3 - t2  # in parallel mode: only the wait beyond the face landmarker
        self.counts["dense_landmarked" if dense else "base_landmarked"] += 1

        a, i = self.face_rows.add()
        a["t_s"][i], a["frame_index"][i] = e.t, e.idx
        if fobs.present:
            a["present"][i] = True
            a["landmarks"][i] = fobs.landmarks
            if fobs.blendshapes is not None:
                a["blendshapes"][i] = fobs.blendshapes
            a["box"][i] = fobs.box
            a["n_faces"][i] = fobs.n_faces
            a["source"][i] = FACE_SOURCES.index(fobs.source)
        b, j = self.hand_rows.add()
        b["t_s"][j], b["frame_index"][j], b["count"][j] = e.t, e.idx, hobs.count
        if hobs.count:
            b["landmarks"][j] = hobs.landmarks
            b["handedness"][j] = hobs.handedness
            b["score"][j] = hobs.score

        # Pixels around the face.
        c, k = self.pixel_rows.add()
        c["t_s"][k] = e.t
        if fobs.present:
            prev = None
            if self.prev_entry is not None and (self.prev_entry.gray is not None or self.prev_entry.vf is not None):
                prev = self._gray(self.prev_entry)
            gray = self._gray(e)
            vals = _pixel_row(gray, prev, fobs.landmarks, hobs.landmarks)
            for name, v in zip(PixelTrack.COLUMNS, vals):
                c[name][k] = v
            crop = _face_crop(gray, fobs.box)
            if crop is not None:
                c["face_crop"][k] = crop
        t4 = perf()
        self.timing["pixels"] += t4 - t3

        # The face zone (for this tail and, through the history, the head), and the landmark triggers.
        if fobs.present:
            x0, y0, x1, y1 = (float(v) for v in fobs.box)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            hw, hh = (x1 - x0) * FACE_ZONE_SCALE / 2, (y1 - y0) * FACE_ZONE_SCALE / 2
            self.zone = (max(cx - hw, 0.0), max(cy - hh, 0.0), min(cx + hw, 1.0), min(cy + hh, 1.0))
            with self.cond:
                self.zone_history.append((e.t, self.zone))
            self.face_seen = True
        if self.mode == "adaptive":
            tr = self.trig
            add = []
            if tr.hand_in_zone and hobs.count and self.zone is not None:
                pts = hobs.landmarks[..., :2].reshape(-1, 2)
                pts = pts[np.all(np.isfinite(pts), axis=1)]
                x0, y0, x1, y1 = self.zone
                if np.any((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)):
                    self.counts["triggers_hand"] += 1
                    add.append((e.t, e.t + self.hold_s))
            if fobs.present:
                self.lost_since = None
            elif self.face_seen and tr.face_lost_s > 0:
                if self.lost_since is None:
                    self.lost_since = e.t
                if e.t - self.lost_since <= tr.face_lost_s:
                    self.counts["triggers_face_lost"] += 1
                    add.append((e.t, min(e.t + self.hold_s, self.lost_since + tr.face_lost_s)))
            if add:
                with self.cond:
                    for a0, a1 in add:
                        self.intervals.add(a0, a1)
        if dense:
            self._keyframe(e.t, rgb)
            self.timing["keyframes"] += perf() - t4

    # -- keyframes ------------------------------------------------------------------------

    def _keyframe(self, t: float, rgb: np.ndarray) -> None:
        if self.kf_open and t - self.kf_open[-1][0] < self.kf_step - self.tol:
            return
        if len(self.keyframes) + len(self.kf_open) >= MAX_KEYFRAMES:
            self.kf_dropped += 1
            return
        cv2 = self.cv2
        h, w = rgb.shape[:2]
        s = KEYFRAME_SIDE / max(h, w)
        if s < 1:
            rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        params = [cv2.IMWRITE_JPEG_QUALITY, KEYFRAME_QUALITY]
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:  # pragma: no cover - encoding a valid array does not fail
            return
        self.kf_open.append((t, buf.tobytes()))
        if len(self.kf_open) > KEYFRAMES_PER_INTERVAL:
            # Thin to every other one and double the spacing: at most KEYFRAMES_PER_INTERVAL, spread out.
            self.kf_open = self.kf_open[::2]
            self.kf_step *= 2

    def _close_active(self) -> None:
        self.in_active = False
        for t, b in self.kf_open:
            self.keyframes[t] = b
        self.kf_open = []
        self.kf_step = _KEYFRAME_STEP_S

    # -- result ---------------------------------------------------------------------------

    def release(self) -> None:
        """Drop the decoded frames still referenced."""
        self.buffer.clear()
        self.prev_entry = None

    def result(self) -> VideoScan:
        st = self.st
        size = (st.out_width, st.out_height)
        common = {
            "fps": None,
            "sampling": self.mode,
            "max_side": self.max_side,
            "start_s": 0.0,
            "end_s": None,
            "source_fps": st.nominal_fps,
            "rotation": st.rotation,
        }
        face = FaceTrack(
            **self.face_rows.finish(),
            frame_size=size,
            meta={**common, "counts": dict(self.face_runner.counts), "options": asdict(self.face_runner.options)},
        )
        hand_meta = {**common, "options": asdict(self.hand_runner.options)}
        hands = HandTrack(**self.hand_rows.finish(), frame_size=size, meta=hand_meta)
        swap = self.rotation in (90, 270)
        ww, wh = self.work_src_size
        pixels = PixelTrack(**self.pixel_rows.finish(), work_size=(wh, ww) if swap else (ww, wh))
        tw, th = self.thumb_src_size
        motion = MotionTrack(**self.motion.finish(), thumb_size=(th, tw) if swap else (tw, th))
        wall = time.perf_counter() - self.wall0
        cpu = time.process_time() - self.cpu0
        n_dec = len(motion)
        fps = st.nominal_fps if st.nominal_fps > 0 else 30.0
        video_s = ((st.last_t or 0.0) - (st.first_t or 0.0) + 1.0 / fps) if n_dec else 0.0
        active = [(float(a), float(b)) for a, b in self.active]
        stats = {
            "mode": self.mode,
            "parameters": {
                "base_fps": self.base_fps,
                "dense_fps": self.dense_fps,
                "lookback_s": self.lookback_s,
                "hold_s": self.hold_s,
                "max_side": self.max_side,
                "parallel": self.pool is not None,
                "trigger": asdict(self.trig),
                "thumb_side": THUMB_SIDE,
                "work_side": WORK_SIDE,
                "head_slack_frames": self.slack,
            },
            "frames_decoded": n_dec,
            "frames_landmarked": len(face),
            "landmarked_share": round(len(face) / n_dec, 4) if n_dec else 0.0,
            **self.counts,
            "active_intervals": len(active),
            "active_s": round(sum(b - a + 1.0 / fps for a, b in active), 3),
            "video_s": round(video_s, 3),
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "x_realtime": round(video_s / wall, 2) if wall > 0 else 0.0,
            "seconds": {k: round(v, 3) for k, v in self.timing.items()},
            "buffer_max_frames": self.buffer_max,
            "buffer_cap_frames": self.buffer_cap,
            "keyframes": len(self.keyframes),
            "keyframes_dropped": self.kf_dropped,
            "decode": st.to_dict(),
        }
        return VideoScan(face, hands, pixels, motion, active, dict(self.keyframes), stats)
