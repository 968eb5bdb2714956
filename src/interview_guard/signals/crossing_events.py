"""The crossings of a clip: the hand-track occlusion events joined with the pixel-placed windows (pure numpy).

:func:`~interview_guard.signals.occlusion.find_occlusion_events` finds where the hand tracks put a hand over
the face; :func:`~interview_guard.signals.crossing_window.crossing_windows` where the face zone's pixels put
every hand the landmarker saw at the face. :func:`with_pixel_windows` makes one list of crossings of the two.
"""

from __future__ import annotations

import numpy as np

from interview_guard.signals.crossing_window import CrossingWindow
from interview_guard.signals.occlusion import OcclusionEvent

__all__ = ["with_pixel_windows"]


def with_pixel_windows(
    events: list[OcclusionEvent],
    windows: list[CrossingWindow],
    *,
    t_s: np.ndarray,
    overlap: np.ndarray,
) -> list[OcclusionEvent]:
    """The crossings: the hand-track events joined with where the zone's pixels put each hand at the face.

    A window the pixels confirmed that overlaps events (within ``0.1`` s) becomes one event spanning them
    all; a window that overlaps none is a crossing of its own (``found_by="pixels"``): the hand landmarker
    saw a hand at the face but lost it, or never saw it over the face, and the pixels judge it. A window the
    pixels could not place (no reference) never moves an event. Events no window touches are kept as they are.
    """
    t = np.asarray(t_s, dtype=np.float64)
    pad = 0.1
    used: set[int] = set()
    out: list[OcclusionEvent] = []
    for w in windows:
        hit = [k for k, ev in enumerate(events) if ev.start_s <= w.end_s + pad and ev.end_s >= w.start_s - pad]
        if hit and w.level is None:
            continue  # the pixels had no reference to place this hand: the events stand as they are
        lo = min([w.start_s] + [events[k].start_s for k in hit])
        hi = max([w.end_s] + [events[k].end_s for k in hit])
        rows = np.flatnonzero((t >= lo) & (t <= hi))
        ev = OcclusionEvent(
            start_s=float(lo),
            end_s=float(hi),
            rows=rows,
            peak_overlap=float(np.max(overlap[rows], initial=0.0)),
            found_by="both" if hit else "pixels",
            hand_span=(min(events[k].start_s for k in hit), max(events[k].end_s for k in hit)) if hit else None,
            window={
                "start_s": round(w.start_s, 3),
                "end_s": round(w.end_s, 3),
                "hand_at_face_s": [round(w.seed_start_s, 3), round(w.seed_end_s, 3)],
                "confirmed": w.confirmed,
                "active_frames": w.active_frames,
                "level": w.level,
                **({"reason": w.reason} if w.reason else {}),
                **({"seeded_by": w.seeded_by} if w.seeded_by != "hand" else {}),
            },
        )
        used.update(hit)
        out.append(ev)
    out += [ev for k, ev in enumerate(events) if k not in used]
    out.sort(key=lambda e: e.start_s)
    # windows joined through different events may now overlap: merge them
    merged: list[OcclusionEvent] = []
    for ev in out:
        if merged and ev.start_s <= merged[-1].end_s:
            p = merged[-1]
            hi = max(p.end_s, ev.end_s)
            rows = np.flatnonzero((t >= p.start_s) & (t <= hi))
            spans = [sp for sp in (p.hand_span, ev.hand_span) if sp is not None]
            if ev.found_by == "hand":
                spans.append((ev.start_s, ev.end_s))
            if p.found_by == "hand":
                spans.append((p.start_s, p.end_s))
            merged[-1] = OcclusionEvent(
                start_s=p.start_s,
                end_s=hi,
                rows=rows,
                peak_overlap=max(p.peak_overlap, ev.peak_overlap),
                found_by=p.found_by if p.found_by == ev.found_by else "both",
                window=p.window or ev.window,
                hand_span=(min(a for a, _ in spans), max(b for _, b in spans)) if spans else None,
            )
        else:
            merged.append(ev)
    return merged
