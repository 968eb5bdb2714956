"""Progress reporting: one hook protocol for every long-running step.

Algorithms take an optional ``progress`` hook and call it; they never draw anything. The CLI draws a
bar on stderr, the batch driver counts sessions, the web worker stores a fraction in its job table, all
from the same calls (as pyannote-audio's pipelines do)::

    progress(Stage.VIDEO, completed=300, total=9000)
    progress(Stage.ANALYZER, completed=2, total=4, detail="av_sync")
    progress(Stage.SESSION, completed=17, total=400, detail="grp/session-17", status="ok")

:func:`scan_fraction` turns a call made during one scan into the share of that scan that is done.
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["Stage", "ProgressHook", "notify", "scan_fraction"]


class Stage(str, enum.Enum):
    """What a progress call is about."""

    PROBE = "probe"  # reading the containers' headers
    KEYSTROKES = "keystrokes"  # parsing the keystroke log
    VIDEO = "video"  # the video scan (frames decoded so far of the estimated total)
    AUDIO = "audio"  # decoding the audio
    ANALYZER = "analyzer"  # analyzers run (detail: the analyzer's name)
    SESSION = "session"  # batch: sessions finished (detail: session id; status: ok / failed / skipped)
    SYNTH = "synth"  # synthetic sessions generated


class ProgressHook(Protocol):
    """``hook(stage, completed=, total=, **info)``; ``info`` may hold ``detail`` and ``status`` (strings).

    A hook must be cheap; it may raise to stop the work (the web worker does when its job is withdrawn).
    """

    def __call__(self, stage: Stage, *, completed: int, total: int, **info: str) -> None: ...


def notify(
    hook: ProgressHook | None, stage: Stage, *, completed: int, total: int, detail: str = "", status: str = ""
) -> None:
    """Call ``hook`` if there is one (so algorithms need no ``if progress:`` of their own)."""
    if hook is not None:
        info = {k: v for k, v in (("detail", detail), ("status", status)) if v}
        hook(stage, completed=completed, total=total, **info)


# Share of one scan at which each stage ends (measured on typical sessions: the video scan dominates).
_SCAN_SPAN: dict[Stage, tuple[float, float]] = {
    Stage.PROBE: (0.0, 0.05),
    Stage.KEYSTROKES: (0.05, 0.08),
    Stage.VIDEO: (0.08, 0.85),
    Stage.AUDIO: (0.85, 0.88),
    Stage.ANALYZER: (0.88, 1.0),
}


def scan_fraction(stage: Stage | str, completed: int, total: int) -> float:
    """Overall share 0..1 of a scan that is done at a ``progress(stage, completed=, total=)`` call."""
    try:
        key = Stage(stage)
    except ValueError:
        return 0.0
    lo, hi = _SCAN_SPAN.get(key, (0.0, 0.0))
    frac = 1.0 if total <= 0 else min(1.0, max(0.0, completed / total))
    return lo + (hi - lo) * frac
