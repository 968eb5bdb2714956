"""The timeline plot of a report page: each analyzer's per-window scores over the session.

Drawn with matplotlib (imported only when a plot is drawn) and returned as
PNG bytes for :mod:`interview_guard.report.html` to embed.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

from interview_guard.report.wording import analyzer_label, status_of

if TYPE_CHECKING:
    from interview_guard.report.model import Report

__all__ = ["analyzer_colour", "timeline_png"]

# Matplotlib colours of the analyzers on the timeline (unknown analyzers cycle through the rest).
_COLOURS = {
    "keystroke_relay": "#2563eb",
    "face_occlusion": "#9333ea",
    "face_identity": "#dc2626",
    "face_artifacts": "#ea580c",
    "av_sync": "#0d9488",
    "acoustic_keystroke": "#ca8a04",
    "environment": "#4d7c0f",
}
_SPARE_COLOURS = ("#db2777", "#4b5563", "#65a30d", "#0891b2")


def analyzer_colour(name: str, i: int) -> str:
    """Colour of an analyzer on the timeline (and its dot on the page); unknown ones cycle through spares."""
    return _COLOURS.get(name) or _SPARE_COLOURS[i % len(_SPARE_COLOURS)]


def timeline_png(report: Report, *, width_in: float = 10.5, dpi: int = 110) -> bytes | None:
    """A PNG of each analyzer's per-window scores over the session, evidence marked; None when nothing ran.

    One row per analyzer that ran: its window scores as bars (hatched where a
    window held too little data), the 0.5 threshold dashed, and each evidence
    item as a shaded span (darker for higher scores) with a marker on top.
    """
    rows = [r for r in report.analyzers.values() if status_of(r) == "ok" and (r.windows or r.evidence)]
    if not rows:
        return None
    from matplotlib.figure import Figure  # noqa: PLC0415 - heavy, only when a page is rendered

    ends = [w.end_s for r in rows for w in r.windows] + [e.end_s for r in rows for e in r.evidence]
    duration = float(report.session.duration_s or 0.0) or max(ends + [1.0])
    fig = Figure(figsize=(width_in, 0.35 + 1.05 * len(rows)), dpi=dpi)
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, r) in enumerate(zip(axes, rows)):
        c = analyzer_colour(r.name, i)
        for w in r.windows:
            if w.end_s <= w.start_s:
                continue
            if w.score is None:
                ax.bar(
                    w.start_s,
                    1.0,
                    width=w.end_s - w.start_s,
                    align="edge",
                    color="none",
                    edgecolor="#d0d5dd",
                    hatch="///",
                    linewidth=0,
                )
            else:
                ax.bar(
                    w.start_s,
                    max(w.score, 0.015),
                    width=w.end_s - w.start_s,
                    align="edge",
                    color=c,
                    alpha=0.35,
                    edgecolor=c,
                    linewidth=1.0,
                )
        # evidence: a strip above the bars (each finding's extent, coloured by its score); short
        # findings also get a light full-height span and a marker so they stand out
        for ev in sorted(r.evidence, key=lambda e: e.score):
            colour = "#dc2626" if ev.score >= 0.5 else "#f59e0b" if ev.score >= 0.2 else "#9ca3af"
            width = max(ev.end_s - ev.start_s, duration * 0.003)
            ax.broken_barh([(ev.start_s, width)], (1.05, 0.1), facecolors=colour, alpha=0.45 + 0.5 * float(ev.score))
            if ev.end_s - ev.start_s < 0.25 * duration:
                ax.axvspan(
                    ev.start_s,
                    ev.start_s + width,
                    ymax=1.0 / 1.2,
                    color=colour,
                    alpha=0.05 + 0.1 * float(ev.score),
                    linewidth=0,
                    zorder=0,
                )
                ax.plot([ev.start_s + 0.5 * width], [1.18], marker="v", color=colour, markersize=5, clip_on=False)
        ax.axhline(0.5, color="#6b7280", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1.2)
        ax.set_yticks([0, 0.5, 1])
        ax.set_xlim(0, duration)
        ax.tick_params(labelsize=8, colors="#374151")
        ax.set_ylabel(
            textwrap.fill(analyzer_label(r.name), 12), rotation=0, ha="right", va="center", fontsize=9, color="#111827"
        )
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="x", color="#eef0f3", linewidth=0.8)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("session time (s)", fontsize=9, color="#374151")
    fig.subplots_adjust(left=0.14, right=0.985, top=0.96, bottom=0.12 if len(rows) > 1 else 0.3, hspace=0.35)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buf.getvalue()
