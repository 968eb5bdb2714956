"""Media probing with PyAV (imported lazily): what a file holds, and is it whole.

:func:`probe` opens a container, reads its stream facts and decodes a frame at
the start and near the end, so an empty, unreadable or truncated file is
reported with a clear message before any analysis starts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any

from interview_guard.errors import MediaError
from interview_guard.io.video_decode import _ff_message, open_container, require_decoder
from interview_guard.io.wav_header import wav_container_seconds
from interview_guard.tracks import MediaInfo
from interview_guard.tracks.audio import cut_short

__all__ = ["probe", "media_tags", "creation_time"]

#: Most metadata tags kept per file, and the longest tag value kept (characters).
MAX_TAGS = 64
MAX_TAG_CHARS = 200


def media_tags(container: Any) -> dict[str, str]:
    """The container's and its streams' metadata tags, keyed ``format:KEY`` / ``video:KEY`` / ``audio:KEY``.

    Encoder, handler and device names, ``creation_time`` and the QuickTime keys (``com.apple.quicktime.*``)
    are what the ``environment`` analyzer reads; keys are lower-cased, values cut to
    :data:`MAX_TAG_CHARS`, at most :data:`MAX_TAGS` tags (bounded whatever the file holds).
    """
    out: dict[str, str] = {}
    sources: list[tuple[str, Any]] = [("format", getattr(container, "metadata", None))]
    for s in list(getattr(container, "streams", []) or []):
        sources.append((str(getattr(s, "type", "") or "stream"), getattr(s, "metadata", None)))
    for prefix, tags in sources:
        if not isinstance(tags, dict):
            continue
        for k, v in tags.items():
            if len(out) >= MAX_TAGS:
                return out
            key = f"{prefix}:{str(k).strip().lower()[:80]}"
            text = str(v).replace("\x00", "").strip()[:MAX_TAG_CHARS]
            if text and key not in out:
                out[key] = text
    return out


def creation_time(tags: dict[str, str]) -> datetime | None:
    """The file's ``creation_time`` tag (format, else a stream's) as an aware datetime; None when absent or bad."""
    for key in ("format:creation_time", "video:creation_time", "audio:creation_time"):
        text = tags.get(key)
        if not text:
            continue
        try:
            when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if 1971 <= when.year <= 2199:  # 1970 / 1904 epochs are "unset"
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None


def probe(path: str | PathLike[str], *, check_end: bool = True, allow_truncated: bool = False) -> MediaInfo:
    """Describe a media file and make sure it decodes from start to end.

    Parameters
    ----------
    path : str or Path
    check_end : bool
        Also seek near the end and decode there: catches files cut short
        (a truncated download or upload) whose header still promises more.
    allow_truncated : bool
        A video cut short is not an error: the result says ``truncated`` and
        ``decoded_end_s`` (where frames stop: the last frame decoded near the
        end, else the last video packet that can be read, an estimate the
        video scan makes exact). A file with no decodable frame still raises.

    Returns
    -------
    MediaInfo

    Raises
    ------
    MediaError
        Empty file, not a media container, no audio or video stream, a
        codec FFmpeg has no decoder for, no decodable frame, cut short, or a
        still image (a PNG or JPEG named ``.mp4``: not a recording).
    """
    av, container, p = open_container(path)
    with container:
        vstreams = list(container.streams.video)
        astreams = list(container.streams.audio)
        if not vstreams and not astreams:
            raise MediaError("no audio or video stream in the file", path=p)
        for kind, streams in (("video", vstreams), ("audio", astreams)):
            if streams:
                require_decoder(streams[0], p, kind)
        if vstreams and not astreams:
            _refuse_still_image(container, vstreams[0], p)
        duration = 0.0
        if container.duration:
            duration = container.duration / 1_000_000
        info: dict[str, Any] = dict(
            path=str(p), has_video=bool(vstreams), has_audio=bool(astreams), tags=media_tags(container)
        )
        if astreams:
            a = astreams[0]
            info.update(audio_codec=a.codec_context.name or "", audio_sample_rate=int(a.codec_context.sample_rate or 0))
            if a.duration and a.time_base:
                duration = max(duration, float(a.duration * a.time_base))
            duration = max(duration, wav_container_seconds(container, p))  # FFmpeg takes a WAV's from its size
        if not vstreams:
            return MediaInfo(duration_s=duration, **info)
        v = vstreams[0]
        v.thread_type = "AUTO"
        fps = float(v.guessed_rate or v.average_rate or 0.0)  # nominal rate; timestamps stay exact
        info.update(
            width=int(v.codec_context.width or 0),
            height=int(v.codec_context.height or 0),
            fps=fps,
            video_codec=v.codec_context.name or "",
            frames=int(v.frames or 0),
        )
        if v.duration and v.time_base:
            duration = max(duration, float(v.duration * v.time_base))
        first_t, rotation = _first_frame(av, container, v, p)
        info["rotation"] = rotation
        last_t = first_t
        if check_end and duration > 2.0:
            try:
                last_t = _last_frame_time(av, container, v, duration, p)
            except MediaError:
                if not allow_truncated:
                    raise
                last_t = max(_last_packet_time(av, container, v), first_t)
            # A file whose last decodable frame is far from its declared end was cut short.
            if cut_short(duration, last_t):
                if not allow_truncated:
                    raise MediaError(
                        f"truncated: the container says {duration:.1f} s but frames stop at {last_t:.1f} s", path=p
                    )
                info.update(truncated=True, decoded_end_s=round(last_t, 6))
        if duration <= 0.0:
            duration = max(last_t + (1.0 / fps if fps else 0.0), 0.0)
        return MediaInfo(duration_s=duration, **info)


# FFmpeg's demuxers of single images (and image sequences): a still picture, never a recording
_IMAGE_FORMATS = frozenset({"image2", "image2pipe", "gif", "apng", "ico", "webp", "jpegxl_anim"})
# codecs of still pictures; a video of one such frame and no sound is a picture too
_IMAGE_CODECS = frozenset({"png", "apng", "gif", "bmp", "tiff", "webp", "jpeg2000", "jpegls", "jpegxl", "qoi", "ppm"})


def _refuse_still_image(container: Any, stream: Any, p: Path) -> None:
    """Raise a :class:`MediaError` when a file without sound is a picture, not a recording."""
    fmt = str(getattr(container.format, "name", "") or "")
    codec = str(stream.codec_context.name or "")
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        kind = codec.upper() if codec else "an image"
        raise MediaError(f"not a video: the file is a still image ({kind}), not a recording", path=p)
    if codec in _IMAGE_CODECS and int(stream.frames or 0) <= 1:
        raise MediaError(f"not a video: the file holds one still image ({codec.upper()}), not a recording", path=p)


def _first_frame(av: ModuleType, container: Any, stream: Any, p: Path) -> tuple[float, int]:
    """Time and display rotation of the first frame (degrees counter-clockwise, as PyAV's ``frame.rotation``)."""
    try:
        for frame in container.decode(stream):
            return float(frame.time or 0.0), int(round(float(getattr(frame, "rotation", 0) or 0))) % 360
    except (av.FFmpegError, EOFError) as exc:
        raise MediaError(f"video does not decode ({_ff_message(exc)})", path=p) from None
    raise MediaError("no decodable video frame", path=p)


def _last_frame_time(av: ModuleType, container: Any, stream: Any, duration: float, p: Path) -> float:
    target = max(duration - 3.0, 0.0)
    last = None
    try:
        container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.time is not None:
                last = float(frame.time)
    except (av.FFmpegError, EOFError):
        pass  # decoding errors near the end: judged by how far we got
    if last is None:
        raise MediaError(f"truncated: no frame decodes near the end ({duration:.1f} s declared)", path=p)
    return last


def _last_packet_time(av: ModuleType, container: Any, stream: Any) -> float:
    """Time of the last packet of ``stream`` that can be read from the start (demuxed, not decoded: a read of the
    file, no decoding): where a video cut short stops when no frame decodes near its declared end."""
    last = 0.0
    try:
        container.seek(0, stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None and packet.time_base:
                last = max(last, float(packet.pts * packet.time_base))
    except (av.FFmpegError, OSError, EOFError):
        pass  # the read stopped where the file does
    return last
