"""The batch's HTML: each finished session's page beside its JSON report, and ``OUT/index.html`` listing them
(:func:`write_batch_html`; the driver calls it at the end of :func:`~interview_guard.pipeline.batch.run_batch` with
``--html``). A page is a view of its report: rendering never fails a session."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InterviewGuardError
from interview_guard.report.model import read_report

__all__ = ["html_path", "render_page", "text_safe", "write_batch_html"]


def text_safe(text: str) -> str:
    """``text`` writable as UTF-8: a byte of a file name that is not UTF-8 shows as U+FFFD (pages, text)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def html_path(report_path) -> Path:
    return Path(report_path).with_suffix(".html")


def render_page(report) -> str | None:
    """The report's HTML page, or None when rendering fails (the final pass retries from the JSON)."""
    from interview_guard.pipeline.keyframes import load_key_frames
    from interview_guard.report.html import render_report

    try:
        return text_safe(render_report(report, key_frames=load_key_frames(report)))
    except Exception:  # a page is a view of the report: never fail the session over it
        return None


def write_batch_html(out_dir, rows: list[dict]) -> Path:
    """Render each finished session's page where missing or older than its report, then ``index.html``.

    ``rows`` are summary rows (their ``report`` column locates each JSON
    report; the page goes beside it). Key frames of pages rendered here are
    decoded from the session's video when it is still where the report says.
    """
    from interview_guard.report.html import IndexEntry, write_index_html

    out = Path(out_dir)
    entries = []
    for row in rows:
        rp = Path(row["report"])
        try:
            report = read_report(rp)
        except InterviewGuardError:
            continue
        hp = html_path(rp)
        try:
            fresh = hp.is_file() and hp.stat().st_mtime_ns >= rp.stat().st_mtime_ns
        except OSError:
            fresh = False
        if not fresh:
            page = render_page(report)
            if page is not None:
                atomic_write_text(hp, page)
            fresh = page is not None
        href = None
        if fresh:
            try:
                rel = hp.resolve().relative_to(out.resolve())
                href = "/".join(urllib.parse.quote(part) for part in rel.parts)
            except ValueError:
                href = hp.resolve().as_uri()
        entries.append(IndexEntry(report, href))
    return write_index_html(out / "index.html", entries)
