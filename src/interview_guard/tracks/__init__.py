"""Extracted tracks: everything an analyzer may read, already decoded.

Analyzers never open files. The extraction layer (:mod:`interview_guard.extract`) fills a
:class:`Tracks` from a :class:`~interview_guard.io.session.Session`; tests build
one directly from arrays. Every time in here is in session time: seconds (or
milliseconds for keystrokes) since the start of the session.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interview_guard.tracks.keystrokes import KeystrokeLog
from interview_guard.tracks.metadata import SessionMetadata

if TYPE_CHECKING:  # pragma: no cover
    from interview_guard.tracks.audio import AudioTrack
    from interview_guard.tracks.blending import BlendTrack
    from interview_guard.tracks.identity import IdentityTrack
    from interview_guard.tracks.video import FaceTrack, HandTrack, KeyFrames, MotionTrack, PixelTrack

__all__ = ["Stream", "MediaInfo", "Tracks", "ROW_CHUNK", "VIDEO_SCAN_STREAMS"]

#: Rows :meth:`Tracks.by_rows` reads at a time (face landmarks are 5.6 KB a row: 11 MB of a mapped track).
ROW_CHUNK = 2048


class Stream(str, enum.Enum):
    """A kind of extracted data an analyzer can require."""

    KEYSTROKES = "keystrokes"
    VIDEO = "video"  # container facts: duration, frame rate, size
    FACE = "face"  # per-frame face landmarks and blendshapes
    HANDS = "hands"  # per-frame hand landmarks
    AUDIO = "audio"  # decoded mono waveform
    METADATA = "metadata"  # session.json
    PIXELS = "pixels"  # per landmarked frame: pixel measurements around the face (video scan)
    MOTION = "motion"  # per decoded frame: cheap motion in the face zone and overall (video scan)
    KEY_FRAMES = "key_frames"  # small JPEGs of the densely analysed moments (video scan)
    BLENDING = "blending"  # per landmarked frame: detail, tone and change inside and around the face (video scan)
    IDENTITY = "identity"  # per described face: a 128-d identity descriptor (video scan), the enrolment photo's

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
            Stream.PIXELS: "video",
            Stream.MOTION: "video",
            Stream.KEY_FRAMES: "video",
            Stream.BLENDING: "video",
            Stream.IDENTITY: "video",
        }[self]


#: The streams the video scan decodes from the video file's frames (``Stream.VIDEO`` is the container's facts).
VIDEO_SCAN_STREAMS = frozenset(
    {Stream.FACE, Stream.HANDS, Stream.PIXELS, Stream.MOTION, Stream.KEY_FRAMES, Stream.BLENDING, Stream.IDENTITY}
)


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
    # container and stream metadata tags ("format:encoder", "video:handler_name", "format:creation_time", ...)
    tags: dict[str, str] = field(default_factory=dict)
    # the video stops decoding well before its declared end (a recording cut off by a crash, a damaged file)
    truncated: bool = False
    # time of the last video frame that decodes (seconds; set when ``truncated``)
    decoded_end_s: float | None = None

    @property
    def coverage(self) -> float:
        """Share of the declared video that decodes, in [0, 1]: 1.0 unless ``truncated``.

        The decoded span counts one frame interval past the last decoded frame (a whole file covers its duration).
        """
        if not self.truncated or self.decoded_end_s is None or self.duration_s <= 0:
            return 1.0
        frame_s = 1.0 / self.fps if self.fps > 0 else 0.0
        return min(max((self.decoded_end_s + frame_s) / self.duration_s, 0.0), 1.0)

    def to_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        if not self.tags:
            del d["tags"]
        if self.truncated:
            d["coverage"] = round(self.coverage, 4)
        else:  # reports of whole files stay as they were
            del d["truncated"], d["decoded_end_s"]
        return d


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
    pixels : PixelTrack or None
        Pixel measurements around the face, same rows as ``face``.
    motion : MotionTrack or None
        Motion of every decoded frame.
    key_frames : dict of float to bytes, or None
        JPEG key frames of the densely analysed moments, by frame time.
    blending : BlendTrack or None
        Detail, tone and frame-to-frame change inside and around the face, same rows as ``face``.
    identity : IdentityTrack or None
        Identity descriptors of the faces (sampled), and the enrolment photo's.
    audio : AudioTrack or None
        Mono float32 at ``audio.sr``, sample 0 at session time ``audio.start_s``.
    audio_file : MediaInfo or None
        Facts about the session's separate audio file when it has one with an
        audio stream (None: audio, if any, comes from the video file).
    metadata : SessionMetadata
    requested : frozenset of Stream
        The streams the extraction was asked for.
    release : callable, optional
        ``release()`` says the pages of the per-frame tracks read so far are not needed in memory now. The
        extraction sets it when the tracks are read-only mappings of files (the video scan's spill files, the
        scan cache; :mod:`interview_guard.io.spill`): their pages leave the process and are read again if
        touched, so what one analyzer (or one chunk of rows) touched does not stay resident while the next
        runs. ``None`` (arrays in memory): nothing to do. Call it through :meth:`release_pages`.
    """

    duration_s: float = 0.0
    keystrokes: KeystrokeLog | None = None
    keystrokes_aligned: bool = False
    video: MediaInfo | None = None
    face: FaceTrack | None = None
    hands: HandTrack | None = None
    pixels: PixelTrack | None = None
    motion: MotionTrack | None = None
    key_frames: KeyFrames | None = None
    blending: BlendTrack | None = None
    identity: IdentityTrack | None = None
    audio: AudioTrack | None = None
    audio_file: MediaInfo | None = None
    metadata: SessionMetadata = field(default_factory=SessionMetadata)
    requested: frozenset[Stream] = frozenset()
    release: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def release_pages(self) -> None:
        """Drop the mapped tracks' pages from memory (see ``release``); the data stays readable."""
        if self.release is not None:
            self.release()

    def by_rows(self, fn: Callable[[slice], Any], n: int, rows: int = ROW_CHUNK) -> Any:
        """``fn`` over ``n`` rows a chunk at a time, its per-row results concatenated (a 1-D array).

        ``fn(sl)`` reads rows ``sl`` of the per-frame tracks and returns one value per row; the mapped tracks'
        pages are released after each chunk (:meth:`release_pages`), so a pass over an hour's landmarks keeps
        about a chunk resident. For functions whose rows do not depend on each other, the result is the one
        ``fn(slice(0, n))`` gives.
        """
        import numpy as np  # noqa: PLC0415

        parts = []
        for i0 in range(0, n, rows):
            parts.append(np.asarray(fn(slice(i0, min(i0 + rows, n)))))
            self.release_pages()
        return np.concatenate(parts) if parts else np.asarray(fn(slice(0, 0)))

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
