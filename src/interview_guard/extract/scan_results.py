"""What the video scan returns (:class:`VideoScan`), how its rows are collected, and its npz files.

:class:`VideoScan` bundles the per-frame tracks of :mod:`interview_guard.tracks.video`
with the active intervals, key frames and statistics of one scan; it is
what :mod:`interview_guard.extract.cache` stores. :class:`Rows` collects the
rows of a track while the scan runs. :func:`save_track_npz` and
:func:`load_track_npz` write and read a single face or hand track.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interview_guard.errors import InputError, ParameterError
from interview_guard.extract.keyframes import decode_key_frame
from interview_guard.io.spill import MappedBlobs, NpyAppender, SpillDir, load_npz_mapped
from interview_guard.io.video_decode import DecodeStats
from interview_guard.tracks.blending import BlendTrack
from interview_guard.tracks.identity import IdentityTrack
from interview_guard.tracks.video import (
    N_BLENDSHAPES,
    N_FACE_LANDMARKS,
    N_HAND_LANDMARKS,
    FaceTrack,
    HandTrack,
    KeyFrames,
    MotionTrack,
    PixelTrack,
)

__all__ = [
    "SCAN_FORMAT_VERSION",
    "TRACK_FORMAT_VERSION",
    "VideoScan",
    "Rows",
    "face_rows",
    "hand_rows",
    "pixel_rows",
    "blend_rows",
    "motion_rows",
    "save_track_npz",
    "load_track_npz",
]

#: Bump when the arrays or the scan algorithm change (invalidates caches).
SCAN_FORMAT_VERSION = 7  # 6: the optional identity track; 7: the blending track
#: Format of a single face or hand track file (:func:`save_track_npz`).
TRACK_FORMAT_VERSION = 1

_T = TypeVar("_T")


@dataclass
class VideoScan:
    """What :func:`~interview_guard.extract.video_scan.scan_video` found.

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
    blending : BlendTrack
        Same rows as ``face`` (all NaN when not given).
    identity : IdentityTrack or None
        Identity descriptors of the sampled faces (scans asked for them only); no enrolment.
    """

    face: FaceTrack
    hands: HandTrack
    pixels: PixelTrack
    motion: MotionTrack
    active: list[tuple[float, float]] = field(default_factory=list)
    keyframes: KeyFrames = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    identity: IdentityTrack | None = None
    blending: BlendTrack | None = None

    def __post_init__(self) -> None:
        if self.blending is None:
            self.blending = BlendTrack.empty(len(self.face), self.face.frame_size)

    @property
    def decode_stats(self) -> DecodeStats:
        return DecodeStats.from_dict(self.stats.get("decode", {}))

    def active_mask(self, t_s: Any) -> np.ndarray:
        """Whether each time in ``t_s`` lies in an active interval (ends included)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        out = np.zeros(t.shape, bool)
        for a, b in self.active:
            out |= (t >= a - 1e-9) & (t <= b + 1e-9)
        return out

    def keyframe_image(self, t: float) -> np.ndarray:
        """The keyframe at time ``t`` decoded to an RGB array."""
        return decode_key_frame(self.keyframes[t])

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the scan to ``path`` (.npz, uncompressed, written atomically)."""
        from interview_guard.atomic import atomic_open  # noqa: PLC0415

        arrays: dict[str, Any] = {
            "kind": np.array("video_scan"),
            "version": np.array(SCAN_FORMAT_VERSION),
        }
        for prefix, obj in (("face/", self.face), ("hands/", self.hands), ("pixels/", self.pixels),
                            ("motion/", self.motion), ("blending/", self.blending)):  # fmt: skip
            arrays.update(_dataclass_arrays(obj, prefix))
        if self.identity is not None:
            arrays.update(_dataclass_arrays(self.identity, "identity/"))
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
    def load(cls, path: str | Path) -> VideoScan:
        """Read a scan written by :meth:`save`.

        Raises
        ------
        InputError
            Missing, damaged, not a scan file, or of another format version.
        """
        p = Path(path)
        try:
            data = load_npz_mapped(p)  # the large arrays stay in the file (mapped read-only)
            kind = str(data["kind"][()]) if "kind" in data else "?"
            if kind != "video_scan":
                raise InputError(f"not a video scan file (kind {kind!r})", path=p)
            version = int(data["version"][()])
            if version != SCAN_FORMAT_VERSION:
                raise InputError(f"video scan format {version}, this version reads {SCAN_FORMAT_VERSION}", path=p)
            face = _dataclass_from(FaceTrack, data, "face/")
            hands = _dataclass_from(HandTrack, data, "hands/")
            pixels = _dataclass_from(PixelTrack, data, "pixels/")
            motion = _dataclass_from(MotionTrack, data, "motion/")
            blending = _dataclass_from(BlendTrack, data, "blending/")
            active = [(float(a), float(b)) for a, b in np.asarray(data["active"]).reshape(-1, 2)]
            kt = data["keyframes/t_s"]
            off = data["keyframes/offsets"]
            index = {float(t): (int(off[i]), int(off[i + 1] - off[i])) for i, t in enumerate(kt)}
            if int(off[-1]) > data["keyframes/data"].shape[0]:
                raise ValueError("key frame offsets past the data")
            keyframes = MappedBlobs(data["keyframes/data"], index)
            stats = json.loads(str(data["stats"][()]))
            identity = None
            if "identity/__schema__" in data:
                identity = _dataclass_from(IdentityTrack, data, "identity/")
        except InputError:
            raise
        except FileNotFoundError:
            raise InputError("file not found", path=p) from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ParameterError) as exc:
            raise InputError(f"damaged video scan file ({exc.__class__.__name__}: {exc})", path=p) from None
        return cls(face, hands, pixels, motion, active, keyframes, stats, identity=identity, blending=blending)

    def __repr__(self) -> str:
        return (
            f"VideoScan(mode={self.stats.get('mode')!r}, decoded={len(self.motion)}, landmarked={len(self.face)}, "
            f"active={len(self.active)}, keyframes={len(self.keyframes)})"
        )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _dataclass_arrays(obj: Any, prefix: str) -> dict[str, np.ndarray]:
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


def _dataclass_from(cls: type[_T], data: Any, prefix: str) -> _T:
    schema = json.loads(str(data[prefix + "__schema__"][()]))
    kwargs: dict[str, Any] = {}
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


# ----------------------------------------------------------------------------- single track files

_TRACK_KINDS: dict[type, str] = {FaceTrack: "face", HandTrack: "hands"}


def save_track_npz(path: str | Path, track: FaceTrack | HandTrack) -> Path:
    """Write a face or hand track to ``path`` (.npz, uncompressed, written atomically)."""
    from interview_guard.atomic import atomic_open  # noqa: PLC0415

    arrays: dict[str, Any] = {
        "kind": np.array(_TRACK_KINDS[type(track)]),
        "version": np.array(TRACK_FORMAT_VERSION),
    }
    arrays.update({a: getattr(track, a) for a in track.ARRAYS})
    arrays["frame_size"] = np.array(track.frame_size, dtype=np.int64)
    if isinstance(track, FaceTrack):
        arrays["blendshape_names"] = np.array(track.blendshape_names, dtype=str)
    arrays["meta"] = np.array(json.dumps(track.meta, sort_keys=True, default=str))
    p = Path(path)
    with atomic_open(p) as fh:
        np.savez(fh, **arrays)
    return p


def load_track_npz(path: str | Path, cls: type[_T]) -> _T:
    """Read a track of class ``cls`` (FaceTrack or HandTrack) written by :func:`save_track_npz`.

    Raises
    ------
    InputError
        The file is missing, not an npz of such a track, of another format version, or damaged.
    """
    kind = _TRACK_KINDS[cls]
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            found = str(data["kind"][()]) if "kind" in data.files else "?"
            if found != kind:
                raise InputError(f"not a {kind} track file (kind {found!r})", path=p)
            version = int(data["version"][()])
            if version != TRACK_FORMAT_VERSION:
                raise InputError(f"track file format {version}, this version reads {TRACK_FORMAT_VERSION}", path=p)
            kwargs: dict[str, Any] = {a: data[a] for a in cls.ARRAYS}  # type: ignore[attr-defined]
            kwargs["frame_size"] = tuple(int(v) for v in data["frame_size"])
            if "blendshape_names" in data.files:
                kwargs["blendshape_names"] = tuple(str(s) for s in data["blendshape_names"])
            kwargs["meta"] = json.loads(str(data["meta"][()]))
            return cls(**kwargs)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError("file not found", path=p) from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ParameterError) as exc:
        raise InputError(f"damaged track file ({exc.__class__.__name__}: {exc})", path=p) from None


# ----------------------------------------------------------------------------- row buffers

_Spec = dict[str, tuple[tuple[int, ...], Any, Any]]


class Rows:
    """Append-only row storage in fixed-size chunks (no doubling copies); ``finish`` gives the columns.

    Without ``spill`` the chunks stay in memory and ``finish`` stacks them. With a
    :class:`~interview_guard.io.spill.SpillDir`, at most two chunks are in memory: when a third is needed the
    oldest is appended to the column files (``<name>.<column>.npy``) and its arrays are reused, and ``finish``
    returns the columns mapped read-only from those files. A row handed out by :meth:`add` stays writable until
    :data:`CHUNK` more rows have been added (the identity collector fills its descriptors a few rows late).
    """

    CHUNK = 256

    def __init__(self, specs: _Spec, *, spill: SpillDir | None = None, name: str = "rows") -> None:
        self._specs = specs
        self._chunks: list[dict[str, np.ndarray]] = []
        self._used = self.CHUNK
        self.n = 0
        self._files: dict[str, NpyAppender] | None = None
        if spill is not None:
            self._files = {k: spill.npy(f"{name}.{k}", shape, dtype) for k, (shape, dtype, _f) in specs.items()}

    def _fresh(self, reuse: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        if reuse is None:
            return {k: np.full((self.CHUNK, *shape), fill, dtype) for k, (shape, dtype, fill) in self._specs.items()}
        for k, (_shape, _dtype, fill) in self._specs.items():
            reuse[k].fill(fill)
        return reuse

    def _spill_oldest(self, used: int) -> dict[str, np.ndarray]:
        assert self._files is not None
        chunk = self._chunks.pop(0)
        for k, f in self._files.items():
            f.append(chunk[k][:used])
        return chunk

    def add(self) -> tuple[dict[str, np.ndarray], int]:
        """A fresh row (filled with the defaults): ``(arrays, index)`` to write it."""
        if self._used == self.CHUNK:
            reuse = self._spill_oldest(self.CHUNK) if self._files is not None and len(self._chunks) >= 2 else None
            self._chunks.append(self._fresh(reuse))
            self._used = 0
        i = self._used
        self._used += 1
        self.n += 1
        return self._chunks[-1], i

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._files is not None:
            while self._chunks:
                self._spill_oldest(self.CHUNK if len(self._chunks) > 1 else self._used)
            out = {k: f.finish() for k, f in self._files.items()}
            self._files = None
            return out
        for k, (shape, dtype, _fill) in self._specs.items():
            parts = [c[k] for c in self._chunks]
            if parts:
                parts[-1] = parts[-1][: self._used]
                out[k] = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
            else:
                out[k] = np.zeros((0, *shape), dtype)
        self._chunks = []
        return out


def face_rows(spill: SpillDir | None = None) -> Rows:
    nan = np.float32(np.nan)
    return Rows(
        {
            "t_s": ((), np.float64, 0.0),
            "frame_index": ((), np.int64, 0),
            "present": ((), np.bool_, False),
            "landmarks": ((N_FACE_LANDMARKS, 3), np.float32, nan),
            "blendshapes": ((N_BLENDSHAPES,), np.float32, nan),
            "box": ((4,), np.float32, nan),
            "n_faces": ((), np.int8, 0),
            "source": ((), np.int8, 0),
        },
        spill=spill,
        name="face",
    )


def hand_rows(spill: SpillDir | None = None) -> Rows:
    nan = np.float32(np.nan)
    return Rows(
        {
            "t_s": ((), np.float64, 0.0),
            "frame_index": ((), np.int64, 0),
            "count": ((), np.int8, 0),
            "landmarks": ((2, N_HAND_LANDMARKS, 3), np.float32, nan),
            "handedness": ((2,), np.int8, 0),
            "score": ((2,), np.float32, 0.0),
        },
        spill=spill,
        name="hands",
    )


def pixel_rows(spill: SpillDir | None = None) -> Rows:
    nan = np.float32(np.nan)
    return Rows(
        {
            "t_s": ((), np.float64, 0.0),
            **{c: ((), np.float32, nan) for c in PixelTrack.COLUMNS},
            "face_crop": ((PixelTrack.CROP, PixelTrack.CROP), np.uint8, 0),
            "zone_crop": ((PixelTrack.ZONE, PixelTrack.ZONE), np.uint8, 0),
            "zone_box": ((4,), np.float32, nan),
            "zone_oval": ((PixelTrack.OVAL_POINTS, 2), np.float32, nan),
            "zone_held": ((), np.bool_, False),
        },
        spill=spill,
        name="pixels",
    )


def blend_rows(spill: SpillDir | None = None) -> Rows:
    nan = np.float32(np.nan)
    return Rows(
        {"t_s": ((), np.float64, 0.0), **{c: ((), np.float32, nan) for c in BlendTrack.COLUMNS}},
        spill=spill,
        name="blending",
    )


def motion_rows(spill: SpillDir | None = None) -> Rows:
    return Rows(
        {"t_s": ((), np.float64, 0.0), **{c: ((), np.float32, 0.0) for c in MotionTrack.COLUMNS}},
        spill=spill,
        name="motion",
    )
