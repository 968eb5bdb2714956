"""The hand-wave requests of a session, as the text and HTML reports list them.

When ``session.json`` logs that the interviewer asked for a hand wave, the
face-occlusion analyzer gives each request one evidence item:
``challenge_answered`` (a hand crossed the face near it), ``challenge_not_performed``
(nothing crossed the face), ``challenge_unverified`` (something covered the face
region in the pixels, or it changed and did not come back, but no hand was
tracked) or ``challenge_not_recorded`` (the video does not cover the time after
the request). :func:`hand_wave_requests`
turns them into one :class:`HandWaveRequest` per request: when it was asked,
what happened, how much of the face was covered and the verdict of that wave.
Plain Python: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from interview_guard.analyzers.base import Evidence
from interview_guard.report.keyframes import key_frame_words

__all__ = [
    "OUTCOME_WORDS",
    "ASK_AGAIN",
    "HandWaveRequest",
    "hand_wave_requests",
    "hand_wave_line",
    "unchecked_hand_waves",
]

#: Evidence kind of a request -> what happened, in words.
OUTCOME_WORDS = {
    "challenge_answered": "answered",
    "challenge_not_performed": "not performed",
    "challenge_unverified": "seen in the pixels but not tracked",
    "challenge_not_recorded": "not in the recording",
}


#: What to ask for when the wave was one the test judges poorly: a side-to-side pass is judged at AUC 0.80-0.95 on
#: faces and hands it was not tuned on, a hand raised from below and held at 0.68-0.79 (docs/face-occlusion.md,
#: round 15, table (h)).
ASK_AGAIN = "ask for a slow pass of the hand from one side of the face to the other, across the eyes"
#: :func:`~interview_guard.signals.hand_path.hand_path`'s paths other than a side-to-side pass, in words.
_PATH_WORDS = {
    "from below": "came up from below",
    "from above": "came down from above",
    "from one side": "came in from one side and went back",
}


_REQUESTED = re.compile(r"^hand wave requested at [-+0-9.e]+ s(?:: |, but )")


_HAND = "a hand crossed the face"


def _short(summary: str) -> str:
    """A request's summary without the "hand wave requested at t s" the row already says."""
    return _REQUESTED.sub("", summary, count=1) or summary


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


@dataclass(frozen=True)
class HandWaveRequest:
    """One requested hand wave.

    Attributes
    ----------
    t_s : float
        When it was requested (s).
    kind : str
        The evidence kind (``challenge_answered`` ...); ``outcome`` the same in words.
    crossing : tuple of float or None
        For an answered request, the span (s) of the hand crossing the face that answered it.
    covered_share : float or None
        How much of the face the hand covered (0..1), None when the analyzer did not say.
    score : float
        The verdict of that wave: its evidence score (for an answered request, the crossing's score).
    summary : str
        One line: what the crossing showed (the occlusion event's summary), else the request's own summary.
    what : str
        What answered it: a hand crossing the face, or (a crossing the outline's pixels found where the hand
        landmarker tracked no hand) something coming up to the face outline.
    path : str or None
        Which way the hand went (:data:`~interview_guard.signals.hand_path.HAND_PATHS`), None when not tracked.
    frames : str
        The request's key frames in words, with the files the scan wrote (:func:`.keyframes.key_frame_words`).
    """

    t_s: float
    kind: str
    outcome: str
    crossing: tuple[float, float] | None
    covered_share: float | None
    score: float
    summary: str
    what: str = _HAND
    path: str | None = None
    frames: str = ""

    @property
    def advice(self) -> str:
        """What to ask for next when this wave tested the face poorly ("" otherwise): a wave that showed nothing to
        look at (score below 0.5) whose hand did not pass from one side of the face to the other, or that no
        tracked hand answered."""
        if self.score >= 0.5:
            return ""  # it already shows something to look at
        if self.kind == "challenge_answered" and self.path in _PATH_WORDS:
            return f"the hand {_PATH_WORDS[self.path]}, the way of waving this test judges least well: {ASK_AGAIN}"
        if self.kind == "challenge_unverified" or (self.kind == "challenge_answered" and self.what != _HAND):
            return f"no hand was tracked over the face: {ASK_AGAIN}"
        return ""

    @property
    def covered_words(self) -> str:
        return "unknown" if self.covered_share is None else f"{self.covered_share:.0%}"

    @property
    def outcome_words(self) -> str:
        """What happened, with the crossing's time for an answered request (``12.0–13.5 s``)."""
        return self.outcome_text("–")

    def outcome_text(self, dash: str = "-") -> str:
        """:attr:`outcome_words` with ``dash`` between the crossing's start and end (ASCII for the text report)."""
        if self.crossing is None:
            return self.outcome
        a, b = self.crossing
        span = f"{a:.1f} s" if abs(b - a) < 0.05 else f"{a:.1f}{dash}{b:.1f} s"
        return f"{self.outcome} ({self.what} at {span})"


def _crossing_event(ev: Evidence, events: list[Evidence]) -> Evidence | None:
    start = _number(ev.details.get("event_start_s"))
    if start is None:
        return None
    near = [e for e in events if abs(e.start_s - start) < 1e-3]
    return max(near, key=lambda e: e.score) if near else None


def hand_wave_requests(evidence: Iterable[Evidence]) -> list[HandWaveRequest]:
    """The hand-wave requests among ``evidence`` (any analyzers' items; the ``challenge_*`` kinds), by time."""
    items = list(evidence)
    events = [e for e in items if e.kind == "occlusion_event"]
    out = []
    for ev in items:
        if ev.kind not in OUTCOME_WORDS:
            continue
        d = ev.details or {}
        t = _number(d.get("challenge_t_s"))
        crossing = None
        summary = _short(ev.summary)
        covered = _number(d.get("covered_share"))
        what = _HAND
        path = d.get("hand_path") if isinstance(d.get("hand_path"), str) else None
        if ev.kind == "challenge_answered":
            event = _crossing_event(ev, events)
            start = _number(d.get("event_start_s"))
            if event is not None:
                crossing = (event.start_s, event.end_s)
                summary = event.summary or summary
                window = (event.details or {}).get("pixel_window")
                if isinstance(window, dict) and window.get("seeded_by") == "outline":
                    what = "no hand tracked; something came up to the face outline"
                if covered is None:
                    covered = _number((event.details or {}).get("covered_share"))
            elif start is not None:
                crossing = (start, max(start, ev.end_s))
        if covered is not None:
            covered = min(max(covered, 0.0), 1.0)
        out.append(
            HandWaveRequest(
                t_s=ev.start_s if t is None else t,
                kind=ev.kind,
                outcome=OUTCOME_WORDS[ev.kind],
                crossing=crossing,
                covered_share=covered,
                score=float(ev.score),
                summary=summary,
                what=what,
                path=path,
                frames=key_frame_words(d, ev.start_s, ev.end_s),
            )
        )
    return sorted(out, key=lambda r: (r.t_s, r.kind))


def unchecked_hand_waves(metadata: Any, occlusion: Any) -> list[tuple[float, str]]:
    """``(t_s, why)`` of each hand wave the session logged (``session.metadata.challenges``) that no analyzer
    judged, because ``face_occlusion`` (``occlusion``: its result, or None) did not run: a recording without
    video, a failed analyzer. Empty when it ran (its evidence then holds every request)."""
    status = getattr(getattr(occlusion, "status", None), "value", getattr(occlusion, "status", None))
    if status == "ok" or not isinstance(metadata, dict):
        return []
    reason = getattr(occlusion, "reason", None) or "the hand-over-face analyzer did not run"
    why = f"not checked: the hand-over-face test was {status or 'not run'} ({reason})"
    out = []
    for ch in metadata.get("challenges") or []:
        t = _number(ch.get("t_s")) if isinstance(ch, dict) else None
        if t is not None and ch.get("kind") == "hand_wave":
            out.append((t, why))
    return sorted(out)


def hand_wave_line(req: HandWaveRequest) -> str:
    """One request in one line of text: requested at, what happened, face covered, verdict."""
    line = (
        f"requested at {req.t_s:.1f} s: {req.outcome_text()}; face covered: {req.covered_words}; "
        f"verdict {req.score:.2f}: {req.summary}"
    )
    line = f"{line}; {req.advice}" if req.advice else line
    return f"{line}; frames: {req.frames}" if req.frames else line
