"""Extracted tracks: everything an analyzer may read, already decoded.

Analyzers never open files. The extraction layer (``extract.py``) fills a
:class:`Tracks` from a :class:`~interview_guard.io.session.Session`; tests build
one directly from arrays. Every time in here is in session time: seconds (or
milliseconds for keystrokes) since the start of the session.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from interview_guard.tracks.keystrokes import KeystrokeLog
from interview_guard.tracks.metadata import SessionMetadata

if TYPE_CHECKING:  # pragma: no cover
    from interview_guard.extract.video_tracks import FaceTrack, HandTrack
    from interview_guard.tracks.audio import AudioTrack

__all__ = ["Stream", "MediaInfo", "Tracks"]


class Stream(str, enum.Enum):
    """A kind of extracted data an analyzer can require."""

    KEYSTROKES = "keystrokes"
    VIDEO = "video"  # container facts: duration, frame rate, size
    FACE = "face"  # per-frame face landmarks and blendshapes
    HANDS = "hands"  # per-frame hand landmarks
    AUDIO = "audio"  # decoded mono waveform
    METADATA = "metadata"  # session.json

    @property
    def modality(self) -> str:
        """The recorded modality this stream comes from (keystrokes, video, audio, metadata)."""
        return {
            Stream.KEYSTROKES: "keystrokes",
            Stream.VIDEO: "video",
            Stream.FACE: "video",
            Stream.HANDS: "video",
            Stream.AUDIO: "audio",
            Stream.METADATA: "metadata",
        }[self]


@dataclass(frozen=True)
class MediaInfo:
    """Facts about a media file, from the container and a decode check."""

    path: str
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    audio_sample_rate: int = 0
    rotation: int = 0  # display rotation, degrees counter-clockwise (video_decode.rotate_upright applies it)
    frames: int = 0  # frame count from the container header (0 when unknown)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Tracks:
    """Decoded inputs of one session.

    Attributes
    ----------
    duration_s : float
        Length of the session in seconds (longest modality).
    keystrokes : KeystrokeLog or None
        Keystroke events with ``t_ms`` in session milliseconds.
    keystrokes_aligned : bool
        Whether keystroke times are known to share the video's clock (from
        ``session.json`` or epoch times against ``recording_start``).
    video : MediaInfo or None
    face, hands : FaceTrack, HandTrack or None
        Landmarks per analysed frame (same rows), from the video scan.
    audio : AudioTrack or None
        Mono float32 at ``audio.sr``, sample 0 at session time ``audio.start_s``.
    metadata : SessionMetadata
    extra : dict
        Room for further streams without changing this class.
    """

    duration_s: float = 0.0
    keystrokes: KeystrokeLog | None = None
    keystrokes_aligned: bool = False
    video: MediaInfo | None = None
    face: FaceTrack | None = None
    hands: HandTrack | None = None
    audio: AudioTrack | None = None
    metadata: SessionMetadata = field(default_factory=SessionMetadata)
    extra: dict = field(default_factory=dict)

    def has(self, stream: Stream) -> bool:
        """Whether ``stream`` is present (and non-empty where that applies)."""
        if stream is Stream.KEYSTROKES:
            return self.keystrokes is not None
        if stream is Stream.VIDEO:
            return self.video is not None and self.video.has_video
        if stream is Stream.METADATA:
            return True
        value = getattr(self, stream.value)
        if value is None:
            return False
        try:
            return len(value) > 0
        except TypeError:
            return True

    def modalities(self) -> dict[str, bool]:
        """Which recorded modalities this session has."""
        return {
            "video": self.video is not None and self.video.has_video,
            "audio": self.audio is not None or (self.video is not None and self.video.has_audio),
            "keystrokes": self.keystrokes is not None,
        }
