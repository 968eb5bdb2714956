"""The batch's ``summary.csv``: one row per session of the run, ranked by risk (see :mod:`.batch`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from interview_guard.atomic import atomic_write_text
from interview_guard.io.csv_cells import text_cell
from interview_guard.report.model import Report

__all__ = ["SUMMARY_COLUMNS", "row_of", "summary_rows", "write_summary"]

SUMMARY_COLUMNS = (
    "rank",
    "session",
    "path",
    "risk_score",
    "band",
    "status",
    "error",
    "duration_s",
    "modalities",
    "report",
    "candidate_id",  # added after the first release: appended, so readers by position keep working
)


#: The summary's columns of user-controlled text (ids, paths, errors naming them): written with ``text_cell``.
_SUMMARY_TEXT = ("session", "path", "error", "report", "candidate_id")


def row_of(report: Report, report_path, relative_path: str | None = None) -> dict:
    mods = report.session.modalities or {}
    if relative_path is None:
        relative_path = str(report.session.extra.get("relative_path") or "")
    return {
        "session": report.session_id,
        "path": relative_path,
        "risk_score": "" if report.risk_score is None else f"{report.risk_score:.4f}",
        "band": report.band,
        "status": report.status,
        "error": report.error or "",
        "duration_s": "" if report.session.duration_s is None else report.session.duration_s,
        "modalities": "+".join(m for m, present in sorted(mods.items()) if present),
        "report": str(report_path),
        "candidate_id": _candidate_id(report),
    }


def _candidate_id(report: Report) -> str:
    """``session.json``'s ``candidate_id`` as the report records it; empty when there is none (or the session
    failed before its ``session.json`` was read)."""
    cid = (report.session.metadata or {}).get("candidate_id")
    return cid if isinstance(cid, str) else ""


def summary_rows(rows: list[dict]) -> list[dict]:
    """Rows ranked: highest risk first, then unassessed, then failed."""

    def key(r):
        if r["status"] != "ok":
            return (2, 0.0, r["session"])
        if r["risk_score"] == "":
            return (1, 0.0, r["session"])
        return (0, -float(r["risk_score"]), r["session"])

    ranked = sorted(rows, key=key)
    return [{"rank": i + 1, **r} for i, r in enumerate(ranked)]


def write_summary(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in summary_rows(rows):  # names and errors as text a spreadsheet will not run, without control characters
        w.writerow({k: text_cell(v) if k in _SUMMARY_TEXT else v for k, v in r.items()})
    # the bytes of a file name that is not UTF-8 as \xNN text: the summary stays UTF-8
    atomic_write_text(path, buf.getvalue().encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
