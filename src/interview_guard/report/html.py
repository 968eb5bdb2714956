"""Self-contained HTML pages: one per report, and a ranked index for a batch.

:func:`render_report` turns a :class:`~interview_guard.report.model.Report` into one
HTML page that works offline: inline CSS, no script, no external URL; the
timeline plot and the key frames are embedded as base64 ``data:`` URIs. The
page shows, top to bottom:

* the fused risk score (``<span id="risk-score" data-score="...">``, the
  attribute holding ``repr`` of the JSON's ``risk.score``, empty when there
  is none) and the band (``id="risk-band"``);
* what drove it: one sentence per analyzer with its score, confidence, the
  log-odds it added in the fusion and the measurements behind it;
* what was not checked: absent modalities, skipped and failed analyzers
  with their reasons;
* the hand-wave requests the session logged: when, whether the wave
  happened, how much of the face it covered and its verdict;
* a timeline of every analyzer's per-window scores with the evidence marked;
* the evidence, analyzer by analyzer, with the key frames of video
  evidence: the frame in the middle of a hand's crossing between the frames
  before and after it, or (items without roles) the frames at their times.

The markup is in Jinja2 templates (``report/templates/*.html``, autoescaped:
every string taken from the report is escaped) and the style sheet in
``report/static/report.css``, inlined into each page. This module never
reads a video: the key frames come as :class:`~interview_guard.report.keyframes.KeyFrames`
(from :func:`interview_guard.pipeline.keyframes.load_key_frames`).

:func:`render_index` ranks many reports (highest risk first) on one page
linking each session's page. Matplotlib is imported only when a timeline is
drawn. Layout: ``docs/html-report.md``.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interview_guard.analyzers.base import Evidence
from interview_guard.atomic import atomic_write_text
from interview_guard.report.handwaves import hand_wave_requests, unchecked_hand_waves
from interview_guard.report.keyframes import (
    MAX_KEY_FRAMES,
    ROLE_LABELS,
    KeyFrames,
    evidence_key_frame_roles,
    evidence_key_frame_times,
)
from interview_guard.report.timeline import analyzer_colour, timeline_png
from interview_guard.report.wording import (
    BAND_WORDS,
    MODALITY_WORDS,
    analyzer_label,
    contribution_words,
    decisive_words,
    explain_result,
    flatten_metrics,
    kind_label,
    score_class,
    status_of,
    time_span,
)

if TYPE_CHECKING:
    import jinja2

    from interview_guard.report.model import Report

__all__ = [
    "IndexEntry",
    "render_report",
    "render_index",
    "write_report_html",
    "write_index_html",
    "timeline_png",
    "index_href",
    "analyzer_label",
    "explain_result",
]

#: At most this many evidence items per analyzer are shown (the JSON has them all).
MAX_EVIDENCE_PER_ANALYZER = 25


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - only when a page is rendered

    return jinja2.Environment(
        loader=jinja2.PackageLoader("interview_guard.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@functools.cache
def _css() -> str:
    return importlib.resources.files("interview_guard.report").joinpath("static/report.css").read_text("utf-8")


def _render(template: str, **context: Any) -> str:
    from markupsafe import Markup  # noqa: PLC0415 - comes with jinja2

    return _environment().get_template(template).render(css=Markup(_css()), **context)


def _data_uri(data: bytes) -> str:
    mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# --------------------------------------------------------------------------- the parts of a report page


def _header_meta(report: Report) -> list[str]:
    s = report.session
    bits = []
    if s.path:
        bits.append(s.path)
    if s.duration_s is not None:
        bits.append(f"{float(s.duration_s):.1f} s")
    mods = s.modalities or {}
    present = [MODALITY_WORDS.get(m, m) for m, v in mods.items() if v]
    if mods:
        bits.append(", ".join(present) or "no usable modality")
    cand = (s.metadata or {}).get("candidate_id")
    if cand:
        bits.append(f"candidate {cand}")
    if report.created_at:
        bits.append(f"scanned {report.created_at}")
    return bits


def _verdict(report: Report) -> dict[str, Any]:
    score = report.risk_score
    band = report.band or "unassessed"
    note = BAND_WORDS.get(band, "")
    if report.status != "ok":
        note = "the scan failed: nothing was checked"
    return {
        "score": score,
        "data_score": "" if score is None else repr(score),
        "band": band,
        "band_class": band if band in BAND_WORDS else "unassessed",
        "band_note": note,
    }


def _drivers(report: Report) -> dict[str, Any]:
    contributions = report.risk.contributions or {}
    ok = [r for r in report.analyzers.values() if status_of(r) == "ok" and r.score is not None]
    ok.sort(key=lambda r: (-(contributions.get(r.name) or 0.0), r.name))
    drivers = []
    for r in ok:
        text = f"score {r.score:.2f}, confidence {r.confidence:.2f}"
        words = contribution_words(contributions.get(r.name))
        if words:
            text += f"; {words}"
        drivers.append(
            {
                "score_class": score_class(r.score),
                "label": analyzer_label(r.name),
                "text": text,
                "why": explain_result(r),
                "caveat": r.reason,
            }
        )
    positive = [r for r in ok if (contributions.get(r.name) or 0.0) > 0.005]
    negative = [r for r in reversed(ok) if (contributions.get(r.name) or 0.0) < -0.005]
    return {
        "drivers": drivers,
        "raised_by": [analyzer_label(r.name) for r in positive],
        "lowered_by": [analyzer_label(r.name) for r in negative],
        "decisive": decisive_words(report.risk),
    }


def _registry_needs() -> dict[str, list[str]]:
    try:
        from interview_guard.analyzers import registry

        return {
            n: sorted({s.modality for s in cls.requires if s.modality != "metadata"}) for n, cls in registry().items()
        }
    except Exception:  # pragma: no cover - the registry is plain Python; never let the page fail on it
        return {}


def _not_checked(report: Report) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    absent = report.risk.absent_modalities
    if absent is None:
        mods = report.session.modalities or {}
        absent = sorted(m for m, present in mods.items() if not present)
    if absent:
        words = [MODALITY_WORDS.get(m, m) for m in absent]
        listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and no " + words[-1]
        items.append({"absent": listed, "pronoun": "it" if len(words) == 1 else "them"})
    needs = _registry_needs()
    for r in report.analyzers.values():
        st = status_of(r)
        if st == "ok":
            continue
        items.append(
            {
                "absent": None,
                "status": st,
                "label": analyzer_label(r.name),
                "needs": needs.get(r.name) or [],
                "how": "was skipped" if st == "skipped" else "failed",
                "reason": r.reason,
            }
        )
    return items


def _frame_label(t: float, start: float, end: float) -> str:
    if t < start - 1e-6:
        return "before"
    if t > end + 1e-6:
        return "after"
    return "during"


class _FramePlacer:
    """Hands out the key-frame images evidence item by evidence item, at most ``MAX_KEY_FRAMES`` per page."""

    def __init__(self, key_frames: KeyFrames | None) -> None:
        self.key_frames = key_frames or KeyFrames()
        self.embedded = 0

    def place(self, ev: Evidence) -> dict[str, Any]:
        """``frames`` (label, t, src or None each) or ``frames_missing`` (stamps, why) of one evidence item.

        An item with role objects in ``details.key_frames`` shows those (before, middle of the crossing,
        after: ``triptych``); otherwise its ``details.key_frame_times``, labelled by where they fall.
        """
        roles = evidence_key_frame_roles(ev.details)
        labelled: list[tuple[str, float, str | None]]
        if roles:
            labelled = [(ROLE_LABELS[role], t, role) for role, t in roles]
        else:
            labelled = [(_frame_label(t, ev.start_s, ev.end_s), t, None) for t in evidence_key_frame_times(ev.details)]
        frames: list[tuple[str, float, str | None, bytes | None]] = []
        for label, t, role in labelled:
            img = None if self.embedded >= MAX_KEY_FRAMES else self.key_frames.get(t)
            if img is not None:
                self.embedded += 1
            frames.append((label, t, role, img))
        if not frames:
            return {"frames": [], "frames_missing": None, "triptych": False}
        if not any(img is not None for *_, img in frames):
            if self.embedded >= MAX_KEY_FRAMES:
                why = f"not embedded: this page already holds {MAX_KEY_FRAMES} frames"
            elif self.key_frames.video_error:
                why = f"were not saved, and decoding them from the video failed ({self.key_frames.video_error})"
            else:
                why = "were not saved (scan with --frames DIR, or render with --video PATH)"
            stamps = ", ".join((f"{label} " if role else "") + f"{t:.2f} s" for label, t, role, _ in frames)
            return {"frames": [], "frames_missing": {"stamps": stamps, "why": why}, "triptych": bool(roles)}
        cells = [
            {
                "t": t,
                "label": label,
                "role": role,
                "alt": f"{label} the crossing"
                if role in ("before", "after")
                else (label if role else f"{label} the event"),
                "src": None if img is None else _data_uri(img),
            }
            for label, t, role, img in frames
        ]
        return {"frames": cells, "frames_missing": None, "triptych": bool(roles)}


def _hand_waves(report: Report) -> list[dict[str, Any]]:
    """The rows of the hand-wave requests section (empty when the session logged none)."""
    rows = []
    for req in hand_wave_requests(e for r in report.analyzers.values() for e in r.evidence):
        rows.append(
            {
                "t": req.t_s,
                "kind": req.kind,
                "outcome": req.outcome_words,
                "covered": req.covered_words,
                "score": req.score,
                "score_class": score_class(req.score),
                "summary": req.summary[:1].upper() + req.summary[1:] if req.summary else "",
                "advice": req.advice[:1].upper() + req.advice[1:] if req.advice else "",
            }
        )
    for t, why in unchecked_hand_waves(report.session.metadata, report.analyzers.get("face_occlusion")):
        rows.append(
            {
                "t": t,
                "kind": "not_checked",
                "outcome": "not checked",
                "covered": "unknown",
                "score": None,
                "score_class": "",
                "summary": why[:1].upper() + why[1:],
                "advice": "",
            }
        )
    return rows


def _evidence(report: Report, key_frames: KeyFrames | None) -> list[dict[str, Any]]:
    placer = _FramePlacer(key_frames)
    blocks = []
    for r in report.analyzers.values():
        if status_of(r) != "ok":
            continue
        evs = sorted(r.evidence, key=lambda e: (-e.score, e.start_s))
        findings = []
        for ev in evs[:MAX_EVIDENCE_PER_ANALYZER]:
            findings.append(
                {
                    "score": ev.score,
                    "score_class": score_class(ev.score),
                    "kind": kind_label(ev.kind),
                    "when": time_span(ev.start_s, ev.end_s),
                    "summary": ev.summary[:1].upper() + ev.summary[1:] if ev.summary else "",
                    **placer.place(ev),
                }
            )
        blocks.append(
            {
                "name": r.name,
                "label": analyzer_label(r.name),
                "colour": analyzer_colour(r.name, 0),
                "score": r.score,
                "score_class": score_class(r.score),
                "confidence": r.confidence,
                "findings": findings,
                "more": max(0, len(evs) - MAX_EVIDENCE_PER_ANALYZER),
                "metrics": list(flatten_metrics(r.metrics)) if r.metrics else [],
            }
        )
    return blocks


#: The runtime versions the page's footer names (report key, name shown).
_RUNTIME_SHOWN = (
    ("python", "Python"), ("mediapipe", "MediaPipe"), ("opencv", "OpenCV"), ("av", "PyAV"), ("numpy", "numpy"),
)  # fmt: skip


def _footer(report: Report) -> list[str]:
    fusion = report.risk.fusion
    parts = [f"interview-guard {report.tool_version}", f"report schema {report.schema_version}"]
    if fusion is not None and fusion.version:
        sha = str(fusion.sha256 or "")[:12]
        parts.append(f"fusion parameters {fusion.version}" + (f" (sha256 {sha}…)" if sha else ""))
    libs = [f"{name} {report.runtime[key]}" for key, name in _RUNTIME_SHOWN if report.runtime.get(key)]
    if libs:
        parts.append("scanned with " + ", ".join(libs))
    return parts


def render_report(report: Report, *, key_frames: KeyFrames | None = None, title: str | None = None) -> str:
    """Render one report as a self-contained HTML page.

    Parameters
    ----------
    report : Report
        A scanned (or failed) session report.
    key_frames : KeyFrames, optional
        The images of the evidence's key frames
        (:func:`interview_guard.pipeline.keyframes.load_key_frames`); without
        them each video finding says its frames were not saved.
    title : str, optional
        The page title (default ``interview-guard: <session id>``).

    Returns
    -------
    str
        The HTML document: inline CSS, no script, images as ``data:`` URIs.
    """
    failed = report.status != "ok"
    context: dict[str, Any] = {
        "title": title or f"interview-guard: {report.session_id}",
        "session_id": report.session_id,
        "meta": _header_meta(report),
        **_verdict(report),
        "failed": failed,
        "error": report.error or "unknown error",
        "warnings": list(report.warnings),
        "footer": _footer(report),
        "drivers": [],
        "raised_by": [],
        "lowered_by": [],
        "decisive": [],
        "not_checked": [],
        "hand_waves": [],
        "timeline": None,
        "analyzers": [],
        "also_seen_as": _also_seen_as(report),
    }
    if not failed:
        context.update(_drivers(report))
        context["not_checked"] = _not_checked(report)
        context["hand_waves"] = _hand_waves(report)
        png = timeline_png(report)
        context["timeline"] = None if png is None else _data_uri(png)
        context["analyzers"] = _evidence(report, key_frames)
    return _render("report.html", **context)


def _also_seen_as(report: Report) -> list[dict[str, Any]]:
    """The report's "also seen as" entries, formatted for the page."""
    return [
        {
            "candidate_id": m.get("candidate_id") or "(no candidate id)",
            "session": m.get("session", ""),
            "modality": m.get("modality", ""),
            "score": f"{float(m.get('score') or 0.0):.2f}",
            "band": m.get("band", ""),
        }
        for m in report.also_seen_as or []
    ]


def _match_groups(items: list[IndexEntry]) -> list[list[dict[str, Any]]]:
    """Sessions linked by "also seen as" (on this page), as connected groups of two or more, largest first."""
    present = {it.report.session_id: it for it in items}
    parent = {sid: sid for sid in present}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    best: dict[str, dict[str, Any]] = {}
    for sid, it in present.items():
        for m in it.report.also_seen_as or []:
            other = str(m.get("session", ""))
            if other in present:
                parent[root(sid)] = root(other)
                if sid not in best or float(m.get("score") or 0) > float(best[sid].get("score") or 0):
                    best[sid] = m
    groups: dict[str, list[str]] = {}
    for sid in present:
        groups.setdefault(root(sid), []).append(sid)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        out.append(
            [
                {
                    "session_id": sid,
                    "href": present[sid].href,
                    "candidate_id": (present[sid].report.session.metadata or {}).get("candidate_id") or "—",
                    "link": best.get(sid),
                }
                for sid in sorted(members)
            ]
        )
    return sorted(out, key=lambda g: (-len(g), g[0]["session_id"]))


def write_report_html(path: str | os.PathLike[str], report: Report, **options: Any) -> Path:
    """Render ``report`` (options as :func:`render_report`) and write it to ``path`` atomically."""
    return atomic_write_text(path, render_report(report, **options))


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class IndexEntry:
    """One session on the index page: its report and the (relative) link to its page."""

    report: Report
    href: str | None = None


def index_href(session_id: str, *, subdir: str = "sessions") -> str:
    """Relative link from an index page to ``<subdir>/<session_id>.html`` (URL-quoted)."""
    name = urllib.parse.quote(f"{session_id}.html")
    return f"{subdir}/{name}" if subdir else name


def _rank_key(entry: IndexEntry) -> tuple[int, float, str]:
    r = entry.report
    if r.status != "ok":
        return (2, 0.0, r.session_id)
    if r.risk_score is None:
        return (1, 0.0, r.session_id)
    return (0, -float(r.risk_score), r.session_id)


def _index_row(rank: int, entry: IndexEntry) -> dict[str, Any]:
    r = entry.report
    band = r.band or "unassessed"
    row: dict[str, Any] = {
        "rank": rank,
        "session_id": r.session_id,
        "href": entry.href,
        "failed": r.status != "ok",
        "error": r.error or "unknown error",
        "risk": "—" if r.risk_score is None else f"{r.risk_score:.2f}",
        "data_score": "" if r.risk_score is None else repr(r.risk_score),
        "band": band,
        "band_class": band if band in BAND_WORDS else "unassessed",
        "top": None,
        "checked": len(r.risk.checked or []),
        "analyzers": len(r.analyzers),
    }
    evs = r.evidence() if r.status == "ok" else []
    if evs:
        ev = evs[0]
        row["top"] = {
            "score": ev.score,
            "score_class": score_class(ev.score),
            "label": analyzer_label(ev.analyzer),
            "text": ev.summary if len(ev.summary) <= 180 else ev.summary[:177] + "…",
        }
    return row


def render_index(
    entries: Iterable[IndexEntry | tuple[Report, str | None]],
    *,
    title: str = "interview-guard: sessions ranked by risk",
) -> str:
    """Render many reports as one page ranking the sessions by risk, highest first.

    Parameters
    ----------
    entries : iterable of IndexEntry or (Report, href) pairs
        ``href`` is the link to the session's page (relative to the index),
        or None for no link.
    title : str

    Returns
    -------
    str
        A self-contained HTML page: rank, session (linked), risk, band, the
        top evidence item and the status (with the error of failed sessions).
    """
    items = [e if isinstance(e, IndexEntry) else IndexEntry(*e) for e in entries]
    items.sort(key=_rank_key)
    counts: dict[str, int] = {}
    for it in items:
        r = it.report
        key = "failed" if r.status != "ok" else (r.band or "unassessed")
        counts[key] = counts.get(key, 0) + 1
    order = ["high", "medium", "low", "unassessed", "failed"]
    tally = ", ".join(f"{counts[k]} {k}" for k in order + sorted(set(counts) - set(order)) if counts.get(k))
    rows = [_index_row(i, it) for i, it in enumerate(items, 1)]
    groups = _match_groups(items)
    return _render("index.html", title=title, sessions=len(items), tally=tally, rows=rows, groups=groups)


def write_index_html(
    path: str | os.PathLike[str], entries: Iterable[IndexEntry | tuple[Report, str | None]], **options: Any
) -> Path:
    """Render the index (options as :func:`render_index`) and write it to ``path`` atomically."""
    return atomic_write_text(path, render_index(entries, **options))
