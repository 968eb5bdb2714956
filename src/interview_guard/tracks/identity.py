"""Who the face is: one 128-d identity descriptor per described face, and the enrolment photo's.

Pure data (numpy arrays), in session time. The video scan
(:mod:`interview_guard.extract.identity`) fills an :class:`IdentityTrack` when an
analyzer asks for :attr:`~interview_guard.tracks.Stream.IDENTITY`; the enrolment
photo named in ``session.json`` is described in :mod:`interview_guard.io.enrolment`
and attached by :func:`~interview_guard.extract.session.extract_tracks`.
Descriptors are dlib's face-recognition embedding
(:mod:`interview_guard.io.face_descriptor`): two faces of one person lie within
Euclidean distance 0.6 (``docs/face-descriptor.md``, ``docs/face-identity.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.tracks.video import _as_mask, tracks_equal

__all__ = ["DESCRIPTOR_DIM", "ENROLMENT_STATUSES", "IdentityTrack"]

#: Length of one identity descriptor.
DESCRIPTOR_DIM = 128

#: What became of the enrolment photo: ``none`` (no photo named), ``ok`` (one face, described),
#: ``no_face``, ``several_faces`` (not used: which face is the candidate's?), ``unreadable``.
ENROLMENT_STATUSES = ("none", "ok", "no_face", "several_faces", "unreadable")


@dataclass
class IdentityTrack:
    """Identity descriptors of the faces in the analysed frames, plus the enrolment photo's.

    Attributes
    ----------
    t_s : ndarray of float64, shape (n,)
        Time of the frame each face was described in (non-decreasing; one
        frame may hold several faces).
    frame_index : ndarray of int64, shape (n,)
    face : ndarray of int8, shape (n,)
        0: the face the :class:`~interview_guard.tracks.video.FaceTrack` row of
        that frame holds; 1, 2, ...: other faces in the same frame.
    box : ndarray of float32, shape (n, 4)
        x0, y0, x1, y1 of the face's landmarks, normalised to the upright frame.
    descriptor : ndarray of float32, shape (n, 128)
    quality : ndarray of float32, shape (n,)
        0..1, how far the descriptor can be trusted: ``size_q * frontal_q`` with
        ``size_q = clip((e - 15) / (50 - 15), 0, 1)``, ``e`` the distance of the outer
        eye corners in pixels of the analysed frame (the descriptor's chip puts them
        74 px apart), and ``frontal_q = clip(1 - |yaw| / 0.7, 0, 1)``, ``yaw`` the nose
        tip's offset from the eyes' midpoint in half eye distances (0 frontal, about 1
        in profile); see :func:`interview_guard.signals.face_identity.face_quality`.
    dense : ndarray of bool, shape (n,)
        Sampled inside an active interval (motion, a hand or a lost face near it).
    enrolment : ndarray of float32, shape (128,), or None
        Descriptor of the face on the enrolment photo (``enrolment_status == "ok"``).
    enrolment_status : str
        One of :data:`ENROLMENT_STATUSES`.
    enrolment_note : str
        What happened to the photo, for a human (file name, faces found).
    meta : dict
        JSON-serialisable facts about the extraction (rates, counts, timings).
    """

    t_s: np.ndarray
    frame_index: np.ndarray
    face: np.ndarray
    box: np.ndarray
    descriptor: np.ndarray
    quality: np.ndarray
    dense: np.ndarray
    enrolment: np.ndarray | None = None
    enrolment_status: str = "none"
    enrolment_note: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    ARRAYS: ClassVar[tuple[str, ...]] = ("t_s", "frame_index", "face", "box", "descriptor", "quality", "dense")

    def __post_init__(self) -> None:
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        n = self.t_s.shape[0] if self.t_s.ndim == 1 else -1
        if self.t_s.ndim != 1:
            raise ParameterError(f"IdentityTrack.t_s must be 1-D, got shape {self.t_s.shape}")
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        self.face = np.asarray(self.face, dtype=np.int8)
        self.box = np.asarray(self.box, dtype=np.float32)
        self.descriptor = np.asarray(self.descriptor, dtype=np.float32)
        self.quality = np.asarray(self.quality, dtype=np.float32)
        self.dense = np.asarray(self.dense, dtype=bool)
        shapes = {
            "frame_index": (n,),
            "face": (n,),
            "box": (n, 4),
            "descriptor": (n, DESCRIPTOR_DIM),
            "quality": (n,),
            "dense": (n,),
        }
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ParameterError(f"IdentityTrack.{name} has shape {getattr(self, name).shape}, expected {shape}")
        if self.enrolment_status not in ENROLMENT_STATUSES:
            raise ParameterError(
                f"IdentityTrack.enrolment_status must be one of {ENROLMENT_STATUSES}, got {self.enrolment_status!r}"
            )
        if self.enrolment is not None:
            self.enrolment = np.asarray(self.enrolment, dtype=np.float32)
            if self.enrolment.shape != (DESCRIPTOR_DIM,):
                raise ParameterError(f"IdentityTrack.enrolment has shape {self.enrolment.shape}, expected (128,)")
        if (self.enrolment is not None) != (self.enrolment_status == "ok"):
            raise ParameterError("IdentityTrack.enrolment is set exactly when enrolment_status is 'ok'")

    @classmethod
    def empty(cls, n: int = 0) -> IdentityTrack:
        """A track of ``n`` rows (zeros), no enrolment."""
        return cls(
            t_s=np.zeros(n),
            frame_index=np.zeros(n, np.int64),
            face=np.zeros(n, np.int8),
            box=np.full((n, 4), np.nan, np.float32),
            descriptor=np.zeros((n, DESCRIPTOR_DIM), np.float32),
            quality=np.zeros(n, np.float32),
            dense=np.zeros(n, bool),
        )

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def select(self, mask: Any) -> IdentityTrack:
        """The rows where ``mask`` (boolean, shape (n,), or integer indices) holds; the enrolment is kept."""
        m = _as_mask(mask, len(self))
        return IdentityTrack(
            **{a: getattr(self, a)[m] for a in self.ARRAYS},
            enrolment=None if self.enrolment is None else self.enrolment.copy(),
            enrolment_status=self.enrolment_status,
            enrolment_note=self.enrolment_note,
            meta=dict(self.meta),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, IdentityTrack)
        if (self.enrolment is None) != (other.enrolment is None):
            return False
        if (
            self.enrolment is not None
            and other.enrolment is not None
            and not np.array_equal(self.enrolment, other.enrolment)
        ):
            return False
        a, b = (IdentityTrack(**{k: getattr(x, k) for k in self.ARRAYS}, meta=x.meta) for x in (self, other))
        return (
            tracks_equal(a, b)
            and self.enrolment_status == other.enrolment_status
            and (self.enrolment_note == other.enrolment_note)
        )

    def __repr__(self) -> str:
        return (
            f"IdentityTrack(n={len(self)}, main_face={int((self.face == 0).sum())}, "
            f"enrolment={self.enrolment_status!r})"
        )
