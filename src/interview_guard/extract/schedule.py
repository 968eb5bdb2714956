"""When the adaptive video scan landmarks densely: the trigger settings, the motion baseline, active intervals.

See "Trigger" in :mod:`interview_guard.extract.video_scan` for how they work
together. Pure numpy; the scanner (:mod:`interview_guard.extract.scanner`)
drives them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.signals.stats import MAD_TO_SD, mad

__all__ = ["ScanTrigger", "MotionBaseline", "Intervals", "LandmarkTriggers"]


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


class MotionBaseline:
    """Running median / MAD of zone motion over a window of frames (ring buffer)."""

    def __init__(self, trigger: ScanTrigger, fps: float) -> None:
        self.trig = trigger
        self.size = max(int(round(trigger.window_s * fps)), 8)
        self.min_n = max(int(round(trigger.min_history_s * fps)), 4)
        self.values = np.zeros(self.size, np.float32)
        self.n = 0
        self._every = max(1, int(round(fps / 10)))  # refresh the statistics ~10 times a second
        self._cached: float | None = None

    def threshold(self) -> float:
        tr = self.trig
        n = min(self.n, self.size)
        if n < self.min_n:
            return float(tr.warmup_floor)
        if self._cached is None or self.n % self._every == 0:
            v = self.values[:n]
            med = float(np.median(v))
            spread = mad(v, center=med)
            self._cached = max(tr.floor, med + tr.k_mad * MAD_TO_SD * spread, tr.ratio * med)
        return self._cached

    def push(self, value: float) -> None:
        self.values[self.n % self.size] = value
        self.n += 1


class Intervals:
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


class LandmarkTriggers:
    """The triggers that come from a landmarked frame: a hand landmark inside the face zone, a lost face.

    :meth:`update` takes each landmarked frame in time order and returns the intervals it makes active:
    ``(t, t + hold_s)`` for a hand in the zone; for a face lost (after one was seen) ``(t, t + hold_s)``
    clipped to ``face_lost_s`` after the loss. ``counts``: ``hand`` and ``face_lost`` triggers so far.
    """

    def __init__(self, trigger: ScanTrigger, hold_s: float) -> None:
        self.trig, self.hold_s = trigger, hold_s
        self.face_seen = False
        self.lost_since: float | None = None
        self.counts = {"hand": 0, "face_lost": 0}

    def update(self, t: float, face_present: bool, zone: tuple[float, float, float, float] | None,
               hand_count: int, hand_lm: np.ndarray) -> list[tuple[float, float]]:  # fmt: skip
        tr, add = self.trig, []
        if tr.hand_in_zone and hand_count and zone is not None:
            pts = hand_lm[..., :2].reshape(-1, 2)
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            x0, y0, x1, y1 = zone
            if np.any((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)):
                self.counts["hand"] += 1
                add.append((t, t + self.hold_s))
        if face_present:
            self.face_seen, self.lost_since = True, None
        elif self.face_seen and tr.face_lost_s > 0:
            if self.lost_since is None:
                self.lost_since = t
            if t - self.lost_since <= tr.face_lost_s:
                self.counts["face_lost"] += 1
                add.append((t, min(t + self.hold_s, self.lost_since + tr.face_lost_s)))
        return add
