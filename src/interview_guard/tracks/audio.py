"""A decoded mono waveform on the session clock: what audio analyzers read.

Produced by :mod:`interview_guard.io.audio_decode`; tests build one from arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interview_guard.errors import ParameterError

__all__ = ["AudioTrack", "DEFAULT_SR", "cut_short"]

#: Sample rate the analyzers work at (speech band and key clicks fit below 8 kHz).
DEFAULT_SR = 16000


def cut_short(declared_s: float, decoded_s: float) -> bool:
    """Whether a stream declared ``declared_s`` long that decodes for ``decoded_s`` was cut short: more than
    2 s and more than a tenth of it missing (the rule :func:`interview_guard.io.media.probe` applies to video)."""
    missing = declared_s - decoded_s
    return declared_s > 0 and missing > max(2.0, 0.1 * declared_s)


@dataclass
class AudioTrack:
    """A decoded mono waveform on the session clock.

    Attributes
    ----------
    samples : np.ndarray [shape=(n,), dtype=float32]
        Mono samples, nominally in [-1, 1].
    sr : int
        Sample rate in Hz.
    start_s : float
        Session time (seconds) of ``samples[0]``.
    source : str
        File the audio was decoded from (for messages), or a description.
    meta : dict
        JSON-serialisable facts about the decoding (codec, source rate and
        channels, ``declared_s`` (the duration the container declares), gaps
        filled, decode errors).
    release : callable, optional
        ``release(i0, i1)`` says samples ``[i0, i1)`` were read and are not
        needed in memory now. The decoder sets it when ``samples`` is a
        read-only mapping of a spill file (:mod:`interview_guard.io.spill`):
        the pages leave the process and are read again if touched, so a
        reader that goes through an hour of audio a block at a time keeps one
        block resident, not the hour. ``None`` (arrays in memory): nothing to do.
        Call it through :meth:`release_samples`.
    """

    samples: np.ndarray
    sr: int = DEFAULT_SR
    start_s: float = 0.0
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    release: Callable[[int, int], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        y = np.asarray(self.samples)
        if y.ndim != 1:
            raise ParameterError(f"AudioTrack.samples must be 1-D, got shape {y.shape}")
        if y.dtype != np.float32:
            y = y.astype(np.float32)
        self.samples = y
        if not (isinstance(self.sr, (int, np.integer)) and 1000 <= int(self.sr) <= 384000):
            raise ParameterError(f"AudioTrack.sr must be an integer sample rate in 1000..384000 Hz, got {self.sr!r}")
        self.sr = int(self.sr)
        if not math.isfinite(float(self.start_s)):
            raise ParameterError(f"AudioTrack.start_s must be finite, got {self.start_s!r}")
        self.start_s = float(self.start_s)

    @classmethod
    def empty(cls, sr: int = DEFAULT_SR) -> AudioTrack:
        """A track with no samples (a recording whose audio stream is empty)."""
        return cls(np.zeros(0, np.float32), sr)

    def release_samples(self, i0: int = 0, i1: int | None = None) -> None:
        """Samples ``[i0, i1)`` (all by default) are read: drop them from memory if they are mapped from a file."""
        if self.release is not None:
            self.release(int(i0), len(self) if i1 is None else int(i1))

    def __len__(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Length of the waveform in seconds."""
        return len(self) / self.sr

    @property
    def end_s(self) -> float:
        """Session time just after the last sample."""
        return self.start_s + self.duration_s

    @property
    def declared_end_s(self) -> float:
        """Session time where the container says the audio ends (``start_s`` + ``meta["declared_s"]``); ``end_s``
        when it declares nothing or less than what decodes."""
        declared = float(self.meta.get("declared_s") or 0.0)
        return max(self.start_s + declared, self.end_s) if math.isfinite(declared) else self.end_s

    @property
    def truncated(self) -> bool:
        """The audio stops decoding well before its declared end (:func:`cut_short`): a recording cut off by a
        crash, an upload that stopped, a damaged file."""
        return cut_short(self.declared_end_s - self.start_s, self.duration_s)

    @property
    def coverage(self) -> float:
        """Share of the declared audio that decodes, in [0, 1]: 1.0 unless :attr:`truncated`."""
        if not self.truncated:
            return 1.0
        return min(max(self.duration_s / (self.declared_end_s - self.start_s), 0.0), 1.0)

    def index_at(self, t_s: float) -> int:
        """Index of the sample at session time ``t_s``, clipped to ``[0, n]``."""
        return int(min(max(round((float(t_s) - self.start_s) * self.sr), 0), len(self)))

    def segment(self, start_s: float, end_s: float) -> tuple[np.ndarray, float]:
        """The samples between two session times (a view, no copy) and the time of its first sample."""
        i0, i1 = self.index_at(start_s), self.index_at(end_s)
        i1 = max(i0, i1)
        return self.samples[i0:i1], self.start_s + i0 / self.sr

    def __repr__(self) -> str:
        return f"AudioTrack({self.duration_s:.2f} s at {self.sr} Hz from {self.start_s:.3f} s, source={self.source!r})"
