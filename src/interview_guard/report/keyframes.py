"""Key frames of video evidence, as the report pages use them: names, times, images.

The scan writes the key frames of video evidence as JPEG files
(``<session_id>_<seconds>s.jpg``, :func:`key_frame_filename`) and lists them
under ``details.key_frames`` of each evidence item; the times are in
``details.key_frame_times``. The page renderer never reads a video: it
embeds the images it is given as :class:`KeyFrames` (found by
:func:`interview_guard.pipeline.keyframes.load_key_frames` from the recorded
files, a frames directory or the video). Plain Python: no file access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_KEY_FRAMES", "KeyFrames", "key_frame_filename", "evidence_key_frame_times", "wanted_key_frame_times"]

#: At most this many key frames are embedded in one page (about 20 kB each).
MAX_KEY_FRAMES = 60


def key_frame_filename(session_id: str, t: float) -> str:
    """File name of the key frame at ``t`` seconds of a session (``<session_id>_<seconds>s.jpg``)."""
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)
    return f"{safe_id}_{t:09.3f}s.jpg"


def evidence_key_frame_times(details: dict[str, Any]) -> list[float]:
    """The key-frame times of one evidence item (``details.key_frame_times``; non-numbers left out)."""
    return [float(t) for t in (details.get("key_frame_times") or []) if isinstance(t, (int, float))]


def wanted_key_frame_times(evidence_details: Iterable[dict[str, Any]]) -> list[float]:
    """Every key-frame time of the given evidence items' ``details``, sorted, each once."""
    return sorted({t for d in evidence_details for t in evidence_key_frame_times(d)})


@dataclass
class KeyFrames:
    """The images of a report's key frames, by time, for the page.

    Attributes
    ----------
    images : dict of float to bytes
        JPEG (or PNG) bytes of the frame at each time found.
    video_error : str or None
        Why decoding the missing frames from the video failed, shown on the
        page where an evidence item has none of its frames.
    """

    images: dict[float, bytes] = field(default_factory=dict)
    video_error: str | None = None

    def get(self, t: float) -> bytes | None:
        return self.images.get(t)
