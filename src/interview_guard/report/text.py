"""Plain-text views of reports: what ``scan --format text``, ``report --format text`` and ``batch`` print."""

from __future__ import annotations

import csv
import os
import textwrap

from interview_guard.report.handwaves import hand_wave_line, hand_wave_requests, unchecked_hand_waves
from interview_guard.report.keyframes import key_frame_words
from interview_guard.report.model import Report
from interview_guard.report.wording import contribution_words, decisive_words, explain_result

__all__ = ["TEXT_EVIDENCE_MIN_SCORE", "format_summary", "format_text"]

#: The page's typography, as the rest of the text report writes it (ASCII dashes, "+-").
_ASCII = str.maketrans({"\u2013": "-", "\u2014": "-", "\u00b1": "+-"})

#: Evidence items scoring below this are counted, not listed, in the text report.
TEXT_EVIDENCE_MIN_SCORE = 0.2


def _fill(text: str, *, initial_indent: str, subsequent_indent: str) -> str:
    """``text`` wrapped at 100 columns, breaking only at spaces: a frame file's path stays whole to copy."""
    return textwrap.fill(
        text,
        width=100,
        initial_indent=initial_indent,
        subsequent_indent=subsequent_indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def format_summary(summary_csv: str | os.PathLike[str]) -> str:
    """The ranked batch summary as an aligned text table (what ``batch`` prints)."""
    with open(summary_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cols = [
        ("rank", "#"),
        ("session", "session"),
        ("risk_score", "risk"),
        ("band", "band"),
        ("status", "status"),
        ("modalities", "modalities"),
        ("error", "error"),
    ]
    table = [[h for _, h in cols]] + [[(r.get(c) or "")[:70] for c, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    return "".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n" for row in table)


def format_text(report: Report) -> str:
    """A human summary of a report (what ``scan --format text`` and ``report --format text`` print)."""
    s = report.session
    lines = []
    score = report.risk_score
    lines.append(f"Session {s.id}  ({s.path})")
    if report.status != "ok":
        lines.append(f"  FAILED: {report.error}")
        return "\n".join(lines) + "\n"
    risk = "not assessed" if score is None else f"{score:.2f}"
    bands = report.risk.fusion.bands if report.risk.fusion is not None else None
    starts = "" if not bands else f" (medium from {bands['medium']:g}, high from {bands['high']:g})"
    if score is not None and bands and any(abs(score - b) < 0.005 for b in bands.values()):
        risk = f"{score:.4f}"  # next to a band's start: 0.85 would read as high
    lines.append(f"  Risk: {risk}  band: {report.band.upper()}{starts}")
    for band, words in decisive_words(report.risk):
        lines.append(textwrap.fill(words + ".", width=100, initial_indent=f"  Why {band}: ", subsequent_indent="    "))
    lines.append(f"  Duration: {s.duration_s or 0:.1f} s")
    mods = s.modalities or {}
    present = [m for m, v in mods.items() if v]
    absent = [m for m, v in mods.items() if not v]
    lines.append(
        f"  Modalities: {', '.join(present) or 'none'}"
        + (f"; absent, not checked: {', '.join(absent)}" if absent else "")
    )
    for m in report.also_seen_as or []:
        lines.append(
            f"  Also seen as: candidate {m.get('candidate_id') or '(none)'} (session {m.get('session')}): "
            f"{m.get('modality')} match, score {float(m.get('score') or 0.0):.2f}, {m.get('band')}"
        )
    contributions = report.risk.contributions or {}
    for name, r in report.analyzers.items():
        if r.status.value == "ok":
            lines.append(
                f"  {name}: score {r.score:.2f} (confidence {r.confidence:.2f})"
                + (f" - {r.reason}" if r.reason else "")
            )
            # the numbers behind the score and what it did to the risk, as the HTML report's drivers say them
            why = "; ".join(w for w in (contribution_words(contributions.get(name)), explain_result(r)) if w)
            why = why.translate(_ASCII)
            if why:
                lines.append(_fill(why, initial_indent="      ", subsequent_indent="      "))
        else:
            lines.append(f"  {name}: {r.status.value} - {r.reason}")
        shown = [ev for ev in r.evidence if ev.score >= TEXT_EVIDENCE_MIN_SCORE]
        if len(shown) < len(r.evidence):
            lines.append(
                f"    ({len(r.evidence) - len(shown)} minor finding(s) below {TEXT_EVIDENCE_MIN_SCORE} not shown;"
                " see the JSON report)"
            )
        for ev in shown:
            lines.append(
                textwrap.fill(
                    f"[{ev.start_s:7.1f}-{ev.end_s:7.1f} s] ({ev.score:.2f}) {ev.summary}",
                    width=100,
                    initial_indent="    - ",
                    subsequent_indent="      ",
                )
            )
            frames = key_frame_words(ev.details or {}, ev.start_s, ev.end_s)
            if frames:
                lines.append(_fill(f"frames: {frames}", initial_indent="      ", subsequent_indent="        "))
    waves = hand_wave_requests(e for r in report.analyzers.values() for e in r.evidence)
    unchecked = unchecked_hand_waves(s.metadata, report.analyzers.get("face_occlusion"))
    if waves or unchecked:
        lines.append("  Hand-wave requests:")
        for req in waves:
            lines.append(_fill(hand_wave_line(req), initial_indent="    - ", subsequent_indent="      "))
        for t, why in unchecked:
            lines.append(_fill(f"requested at {t:.1f} s: {why}", initial_indent="    - ", subsequent_indent="      "))
    for w in report.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines) + "\n"
