"""Key frames of the video scan: small JPEGs of densely analysed moments, for the report.

While an active interval is open, :class:`KeyFrameCollector` keeps at most
:data:`KEYFRAMES_PER_INTERVAL` landmarked frames of it, spread over it (the
spacing doubles whenever the interval outgrows it), plus frames with a hand
in the face zone every :data:`HAND_KEYFRAME_STEP_S` (at most
:data:`HAND_KEYFRAMES_PER_INTERVAL`), so a report can show the middle of a
crossing; at most :data:`MAX_KEYFRAMES` in all, each a JPEG with longer side
:data:`KEYFRAME_SIDE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interview_guard.extract.pixels import import_cv2
from interview_guard.tracks.video import KeyFrames

__all__ = [
    "KEYFRAME_SIDE",
    "KEYFRAME_QUALITY",
    "KEYFRAMES_PER_INTERVAL",
    "MAX_KEYFRAMES",
    "HAND_KEYFRAME_STEP_S",
    "HAND_KEYFRAMES_PER_INTERVAL",
    "KeyFrameCollector",
    "decode_key_frame",
]

#: Longer side and JPEG quality of the keyframes.
KEYFRAME_SIDE = 320
KEYFRAME_QUALITY = 80
KEYFRAMES_PER_INTERVAL = 9
MAX_KEYFRAMES = 900
#: Spacing and number of the extra key frames with a hand in the face zone, per interval.
HAND_KEYFRAME_STEP_S = 0.15
HAND_KEYFRAMES_PER_INTERVAL = 24
# Initial spacing of the keyframes of an active interval (doubles as the interval grows).
_KEYFRAME_STEP_S = 0.25


class KeyFrameCollector:
    """Key frames of the active intervals, in time order (the scan's tail feeds it)."""

    def __init__(self, tol: float = 0.0, store: Any = None) -> None:
        self.tol = tol  # half a frame: spacing slack
        # the kept key frames: in memory, or appended to a spill file (``store``: an io.spill.BlobAppender)
        self.frames: Any = {} if store is None else store
        self.dropped = 0
        self._open: list[tuple[float, bytes]] = []
        self._hand: list[tuple[float, bytes]] = []
        self._step = _KEYFRAME_STEP_S

    def offer(self, t: float, rgb: np.ndarray, *, hand: bool = False) -> None:
        """A landmarked frame of the open active interval; kept if due.

        ``hand``: a hand is in the face zone (kept on a finer, separate spacing).
        """
        if hand and len(self._hand) < HAND_KEYFRAMES_PER_INTERVAL:
            if not self._hand or t - self._hand[-1][0] >= HAND_KEYFRAME_STEP_S - self.tol:
                if len(self.frames) + len(self._open) + len(self._hand) >= MAX_KEYFRAMES:
                    self.dropped += 1
                    return
                jpeg = self._encode(rgb)
                if jpeg is not None:
                    self._hand.append((t, jpeg))
                return
        if self._open and t - self._open[-1][0] < self._step - self.tol:
            return
        if len(self.frames) + len(self._open) + len(self._hand) >= MAX_KEYFRAMES:
            self.dropped += 1
            return
        jpeg = self._encode(rgb)
        if jpeg is None:  # pragma: no cover - encoding a valid array does not fail
            return
        self._open.append((t, jpeg))
        if len(self._open) > KEYFRAMES_PER_INTERVAL:
            # Thin to every other one and double the spacing: at most KEYFRAMES_PER_INTERVAL, spread out.
            self._open = self._open[::2]
            self._step *= 2

    def finish(self) -> KeyFrames:
        """The key frames kept (a mapping of time to JPEG bytes; mapped from the spill file when there is one)."""
        return dict(self.frames) if isinstance(self.frames, dict) else self.frames.finish()

    @staticmethod
    def _encode(rgb: np.ndarray) -> bytes | None:
        cv2 = import_cv2()
        h, w = rgb.shape[:2]
        s = KEYFRAME_SIDE / max(h, w)
        if s < 1:
            rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        params = [cv2.IMWRITE_JPEG_QUALITY, KEYFRAME_QUALITY]
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
        return buf.tobytes() if ok else None

    def close_interval(self) -> None:
        """The active interval ended: keep its key frames, start the next one afresh."""
        for t, b in self._open + self._hand:
            if isinstance(self.frames, dict):
                self.frames[t] = b
            else:
                self.frames.add(t, b)
        self._open, self._hand = [], []
        self._step = _KEYFRAME_STEP_S


def decode_key_frame(jpeg: bytes) -> np.ndarray:
    """A key frame (JPEG bytes) decoded to an RGB array."""
    cv2 = import_cv2()
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
