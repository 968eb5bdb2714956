"""Face and hand tracks: per-frame landmarks as arrays, and their extraction.

A :class:`FaceTrack` and a :class:`HandTrack` hold one row per analysed
frame (numpy arrays, NaN where nothing was found), in session time. They are
what :attr:`interview_guard.tracks.Tracks.face` and ``.hands`` carry, what the
face and hand analyzers read, and what :mod:`interview_guard.extract.cache`
stores. :func:`extract_video_tracks` fills both from a video file in one
streaming pass (:func:`~interview_guard.io.video_decode.iter_frames` into the
MediaPipe runners of :mod:`interview_guard.io.landmarks`).

Coordinates are those of the upright (display-rotated) frame: x, y
normalised to [0, 1] of its width and height, z as MediaPipe gives it (about
the scale of x). Times are the frames' exact presentation times in seconds.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from interview_guard.atomic import atomic_open
from interview_guard.errors import InputError, ParameterError
from interview_guard.io.landmarks import BLENDSHAPE_NAMES, N_BLENDSHAPES, N_FACE_LANDMARKS, N_HAND_LANDMARKS
from interview_guard.io.video_decode import DecodeStats

__all__ = [
    "TRACKS_FORMAT_VERSION",
    "FACE_SOURCES",
    "FaceTrack",
    "HandTrack",
    "extract_video_tracks",
    "save_tracks_npz",
    "load_tracks_npz",
]

# Bump when the arrays or the extraction algorithm change (invalidates caches).
TRACKS_FORMAT_VERSION = 1

# Codes of FaceTrack.source: how the face of each frame was found.
FACE_SOURCES: tuple[str, ...] = ("", "full", "track", "search")

ProgressHook = Callable[..., None]


def _as_mask(mask, n: int) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype == bool:
        if m.shape != (n,):
            raise ParameterError(f"mask has shape {m.shape}, expected ({n},)")
        return m
    if m.size and not np.issubdtype(m.dtype, np.integer):
        raise ParameterError("select() takes a boolean mask or integer indices")
    return m.astype(np.intp, copy=False)


def _atomic_savez(path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` (.npz, uncompressed) through a temporary file and os.replace."""
    with atomic_open(path) as fh:
        np.savez(fh, **arrays)
    return Path(path)


def _header(kind: str) -> dict[str, np.ndarray]:
    return {"kind": np.array(kind), "version": np.array(TRACKS_FORMAT_VERSION)}


def _json_array(obj) -> np.ndarray:
    return np.array(json.dumps(obj, sort_keys=True, default=str))


def _read_json(arr) -> dict:
    return json.loads(str(np.asarray(arr)[()]))


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
        Faces found in the frame (the largest is kept; >1 only with ``num_faces > 1``).
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
    meta: dict = field(default_factory=dict)

    _ARRAYS = ("t_s", "frame_index", "present", "landmarks", "blendshapes", "box", "n_faces", "source")

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

    def select(self, mask) -> FaceTrack:
        """The frames where ``mask`` (boolean, shape (n,), or integer indices) holds."""
        m = _as_mask(mask, len(self))
        return FaceTrack(
            **{a: getattr(self, a)[m] for a in self._ARRAYS},
            frame_size=self.frame_size,
            blendshape_names=self.blendshape_names,
            meta=dict(self.meta),
        )

    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        d = {prefix + a: getattr(self, a) for a in self._ARRAYS}
        d[prefix + "frame_size"] = np.array(self.frame_size, dtype=np.int64)
        d[prefix + "blendshape_names"] = np.array(self.blendshape_names, dtype=str)
        d[prefix + "meta"] = _json_array(self.meta)
        return d

    @classmethod
    def _from_arrays(cls, data, prefix: str = "") -> FaceTrack:
        names = tuple(str(s) for s in data[prefix + "blendshape_names"])
        return cls(
            **{a: data[prefix + a] for a in cls._ARRAYS},
            frame_size=tuple(int(v) for v in data[prefix + "frame_size"]),
            blendshape_names=names,
            meta=_read_json(data[prefix + "meta"]),
        )

    def to_npz(self, path) -> Path:
        """Write the track to ``path`` (.npz, written atomically)."""
        return _atomic_savez(path, {**_header("face"), **self._arrays()})

    @classmethod
    def from_npz(cls, path) -> FaceTrack:
        """Read a track written by :meth:`to_npz`.

        Raises
        ------
        InputError
            The file is missing, not an npz of a face track, or damaged.
        """
        return _load_one(cls, path, "face")

    def __eq__(self, other) -> bool:
        return _tracks_equal(self, other)

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
    meta: dict = field(default_factory=dict)

    _ARRAYS = ("t_s", "frame_index", "count", "landmarks", "handedness", "score")

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

    def select(self, mask) -> HandTrack:
        """The frames where ``mask`` (boolean, shape (n,), or integer indices) holds."""
        m = _as_mask(mask, len(self))
        arrays = {a: getattr(self, a)[m] for a in self._ARRAYS}
        return HandTrack(**arrays, frame_size=self.frame_size, meta=dict(self.meta))

    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        d = {prefix + a: getattr(self, a) for a in self._ARRAYS}
        d[prefix + "frame_size"] = np.array(self.frame_size, dtype=np.int64)
        d[prefix + "meta"] = _json_array(self.meta)
        return d

    @classmethod
    def _from_arrays(cls, data, prefix: str = "") -> HandTrack:
        return cls(
            **{a: data[prefix + a] for a in cls._ARRAYS},
            frame_size=tuple(int(v) for v in data[prefix + "frame_size"]),
            meta=_read_json(data[prefix + "meta"]),
        )

    def to_npz(self, path) -> Path:
        """Write the track to ``path`` (.npz, written atomically)."""
        return _atomic_savez(path, {**_header("hands"), **self._arrays()})

    @classmethod
    def from_npz(cls, path) -> HandTrack:
        """Read a track written by :meth:`to_npz` (raises InputError when unusable)."""
        return _load_one(cls, path, "hands")

    def __eq__(self, other) -> bool:
        return _tracks_equal(self, other)

    def __repr__(self) -> str:
        return f"HandTrack(n={len(self)}, with_hands={int((self.count > 0).sum())}, frame_size={self.frame_size})"


def _tracks_equal(a, b) -> bool:
    if type(a) is not type(b):
        return NotImplemented
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif x != y:
            return False
    return True


def _load_one(cls, path, kind: str):
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            found = str(data["kind"][()]) if "kind" in data.files else "?"
            if found != kind:
                raise InputError(f"not a {kind} track file (kind {found!r})", path=p)
            version = int(data["version"][()])
            if version != TRACKS_FORMAT_VERSION:
                raise InputError(f"track file format {version}, this version reads {TRACKS_FORMAT_VERSION}", path=p)
            return cls._from_arrays(data)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError("file not found", path=p) from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ParameterError) as exc:
        raise InputError(f"damaged track file ({exc.__class__.__name__}: {exc})", path=p) from None


def save_tracks_npz(
    path, face: FaceTrack | None, hands: HandTrack | None, stats: DecodeStats | None = None, *, info: dict | None = None
) -> Path:
    """Write a face track, a hand track and decode statistics to one .npz (atomically)."""
    arrays: dict[str, np.ndarray] = _header("tracks")
    if face is not None:
        arrays.update(face._arrays("face/"))
    if hands is not None:
        arrays.update(hands._arrays("hands/"))
    arrays["stats"] = _json_array(stats.to_dict() if stats is not None else None)
    arrays["info"] = _json_array(info or {})
    return _atomic_savez(path, arrays)


def load_tracks_npz(path) -> tuple[FaceTrack | None, HandTrack | None, DecodeStats | None, dict]:
    """Read what :func:`save_tracks_npz` wrote: ``(face, hands, stats, info)``.

    Raises
    ------
    InputError
        Missing, damaged, or of another format version.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            if str(data["kind"][()]) != "tracks" or int(data["version"][()]) != TRACKS_FORMAT_VERSION:
                raise InputError("not a tracks file of this format version", path=p)
            face = FaceTrack._from_arrays(data, "face/") if "face/t_s" in data.files else None
            hands = HandTrack._from_arrays(data, "hands/") if "hands/t_s" in data.files else None
            sd = _read_json(data["stats"])
            info = _read_json(data["info"])
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError("file not found", path=p) from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ParameterError) as exc:
        raise InputError(f"damaged tracks file ({exc.__class__.__name__}: {exc})", path=p) from None
    stats = DecodeStats.from_dict(sd) if sd is not None else None
    return face, hands, stats, info


# ----------------------------------------------------------------------------- extraction


class _Growable:
    """Row buffers that grow by doubling; ``finish`` trims to the rows written."""

    def __init__(self, specs: dict[str, tuple[tuple[int, ...], object, object]], capacity: int) -> None:
        self._specs = specs
        self._cap = max(int(capacity), 16)
        self.n = 0
        self.arrays = {k: np.full((self._cap, *shape), fill, dtype) for k, (shape, dtype, fill) in specs.items()}

    def next_row(self) -> int:
        if self.n == self._cap:
            new_cap = self._cap * 2
            for k, (shape, dtype, fill) in self._specs.items():
                grown = np.full((new_cap, *shape), fill, dtype)
                grown[: self._cap] = self.arrays[k]
                self.arrays[k] = grown
            self._cap = new_cap
        self.n += 1
        return self.n - 1

    def finish(self) -> dict[str, np.ndarray]:
        out = {}
        for k, a in self.arrays.items():
            # Copy when much capacity would be wasted; otherwise a trimmed view is enough.
            out[k] = a[: self.n].copy() if self.n < 0.75 * len(a) else a[: self.n]
        self.arrays = {}
        return out


def extract_video_tracks(
    path,
    *,
    fps: float | None = None,
    max_side: int | None = 960,
    face: bool = True,
    hands: bool = True,
    progress: ProgressHook | None = None,
    models_dir=None,
    face_options=None,
    hand_options=None,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> tuple[FaceTrack | None, HandTrack | None, DecodeStats]:
    """Run the face and hand landmarkers over a video in one streaming pass.

    Parameters
    ----------
    path : str or Path
    fps : float, optional
        Analyse about this many frames a second (nearest frames); ``None``:
        every frame.
    max_side : int, optional
        Downscale frames so the longer side is at most this before landmarking
        (960 keeps faces of 720p/1080p webcams well resolved at a fraction of
        the cost); ``None`` keeps the decoded size.
    face, hands : bool
        Which tracks to compute; a track not computed is returned as ``None``.
    progress : callable, optional
        ``progress("video", completed=i, total=n)`` every few frames, ``n``
        the estimated frame count (0 when unknown).
    models_dir : path, optional
    face_options : FaceRunnerOptions, optional
    hand_options : HandRunnerOptions, optional
    start_s, end_s : float
        Analyse only ``start_s <= t < end_s``.

    Returns
    -------
    face : FaceTrack or None
    hands : HandTrack or None
    stats : DecodeStats

    Raises
    ------
    MediaError
        The video cannot be decoded at all.
    ModelError
        A model file is missing, altered or does not load.
    """
    from interview_guard.io import landmarks as lm  # noqa: PLC0415 - resolved at call time (tests patch the runners)
    from interview_guard.io.video_decode import estimate_frame_count, iter_frames  # noqa: PLC0415

    stats = DecodeStats()
    total = estimate_frame_count(path, fps=fps, start_s=start_s, end_s=end_s)  # MediaError before models load
    frames = None
    nan = np.float32(np.nan)
    fbuf = hbuf = None
    face_runner = hand_runner = None
    if face:
        fbuf = _Growable(
            {
                "t_s": ((), np.float64, 0.0),
                "frame_index": ((), np.int64, 0),
                "present": ((), bool, False),
                "landmarks": ((N_FACE_LANDMARKS, 3), np.float32, nan),
                "blendshapes": ((N_BLENDSHAPES,), np.float32, nan),
                "box": ((4,), np.float32, nan),
                "n_faces": ((), np.int8, 0),
                "source": ((), np.int8, 0),
            },
            total + 16,
        )
    if hands:
        hbuf = _Growable(
            {
                "t_s": ((), np.float64, 0.0),
                "frame_index": ((), np.int64, 0),
                "count": ((), np.int8, 0),
                "landmarks": ((2, N_HAND_LANDMARKS, 3), np.float32, nan),
                "handedness": ((2,), np.int8, 0),
                "score": ((2,), np.float32, 0.0),
            },
            total + 16,
        )
    try:
        if face:
            face_runner = lm.FaceLandmarkerRunner(face_options, models_dir=models_dir)
        if hands:
            hand_runner = lm.HandLandmarkerRunner(hand_options, models_dir=models_dir)
        frames = iter_frames(path, fps=fps, max_side=max_side, start_s=start_s, end_s=end_s, rgb=True, stats=stats)
        done = 0
        for frame in frames:
            if face_runner is not None:
                obs = face_runner.process(frame.image, frame.t_s)
                i = fbuf.next_row()
                a = fbuf.arrays
                a["t_s"][i] = frame.t_s
                a["frame_index"][i] = frame.index
                if obs.present:
                    a["present"][i] = True
                    a["landmarks"][i] = obs.landmarks
                    if obs.blendshapes is not None:
                        a["blendshapes"][i] = obs.blendshapes
                    a["box"][i] = obs.box
                    a["n_faces"][i] = obs.n_faces
                    a["source"][i] = FACE_SOURCES.index(obs.source)
            if hand_runner is not None:
                hobs = hand_runner.process(frame.image, frame.t_s)
                i = hbuf.next_row()
                a = hbuf.arrays
                a["t_s"][i] = frame.t_s
                a["frame_index"][i] = frame.index
                a["count"][i] = hobs.count
                if hobs.count:
                    a["landmarks"][i] = hobs.landmarks
                    a["handedness"][i] = hobs.handedness
                    a["score"][i] = hobs.score
            done += 1
            if progress is not None and done % 10 == 0:
                progress("video", completed=done, total=max(total, done))
        if progress is not None:
            progress("video", completed=done, total=done)
    finally:
        if frames is not None:
            frames.close()
        if face_runner is not None:
            face_runner.close()
        if hand_runner is not None:
            hand_runner.close()
    size = (stats.out_width, stats.out_height)
    common = {
        "fps": fps,
        "max_side": max_side,
        "start_s": start_s,
        "end_s": end_s,
        "source_fps": stats.nominal_fps,
        "rotation": stats.rotation,
    }
    face_track = hand_track = None
    if face:
        face_track = FaceTrack(
            **fbuf.finish(),
            frame_size=size,
            meta={**common, "counts": dict(face_runner.counts), "options": _options_dict(face_runner.options)},
        )
    if hands:
        hand_track = HandTrack(
            **hbuf.finish(), frame_size=size, meta={**common, "options": _options_dict(hand_runner.options)}
        )
    return face_track, hand_track, stats


def _options_dict(options) -> dict:
    from dataclasses import asdict  # noqa: PLC0415

    return asdict(options)
