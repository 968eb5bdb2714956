"""The reviewer's side of the job store: verdicts with their audit trail, the filtered scan list, CSV export.

A verdict is one of :data:`VERDICTS` with a free-text note. :func:`set_verdict`
changes a job's current verdict and appends a row to ``verdict_log`` (who,
when, the verdict and note before and after) in one transaction, so the trail
and the current value never disagree. Nothing ever deletes from
``verdict_log``; :func:`verdict_history` reads it back.

:class:`JobFilter` is the filter of ``/jobs``, ``/jobs.csv`` and
``GET /api/v1/scans``: band, verdict, upload date range, and the order (newest
first, or highest risk first).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from interview_guard.io.csv_cells import spreadsheet_safe
from interview_guard.web.jobs import Job, JobStore, _now, valid_job_id

__all__ = [
    "BAND_CHOICES",
    "MAX_NOTE_CHARS",
    "note_problem",
    "SORTS",
    "VERDICTS",
    "VERDICT_CHOICES",
    "FilterError",
    "JobFilter",
    "VerdictChange",
    "csv_export",
    "filtered_jobs",
    "set_verdict",
    "verdict_history",
]

VERDICTS = ("genuine", "fraud", "unsure")
#: verdict filter values: a verdict, ``none`` (not reviewed yet) or ``any`` (reviewed, whatever the verdict)
VERDICT_CHOICES = (*VERDICTS, "none", "any")
BAND_CHOICES = ("low", "medium", "high", "unassessed")
SORTS = ("newest", "risk")
MAX_NOTE_CHARS = 4000

#: Characters a note may not hold: control characters but tab and line breaks (a NUL, a terminal escape), and the
#: bidirectional overrides and isolates that make text show in another order than it was written.
_NOTE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def note_problem(note: str) -> str | None:
    """Why ``note`` cannot be a verdict's note (one line for the reviewer), None when it can."""
    if len(note) > MAX_NOTE_CHARS:
        return f"the note is longer than {MAX_NOTE_CHARS} characters"
    bad = _NOTE_FORBIDDEN.search(note)
    if bad:
        return f"the note holds a control character (\\u{ord(bad.group()):04x}); write it as plain text"
    return None


class FilterError(ValueError):
    """A filter parameter with a value the list does not know (the message names it)."""


@dataclass(frozen=True)
class VerdictChange:
    """One row of the audit trail."""

    seq: int
    job_id: str
    at: str
    who: str
    verdict_before: str | None
    note_before: str | None
    verdict_after: str | None
    note_after: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "who": self.who,
            "before": {"verdict": self.verdict_before, "note": self.note_before},
            "after": {"verdict": self.verdict_after, "note": self.note_after},
        }


def set_verdict(store: JobStore, job_id: str, verdict: str, note: str, who: str) -> VerdictChange | None:
    """Record ``verdict`` (one of :data:`VERDICTS`) and ``note`` for a job, by ``who``; None for an unknown job.

    The change and its audit row are written in one transaction. Setting the same verdict and note again
    is still recorded (someone confirmed it). Raises ``ValueError`` for a verdict outside :data:`VERDICTS`
    or a note :func:`note_problem` refuses (longer than :data:`MAX_NOTE_CHARS`, a control character).
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    problem = note_problem(note)
    if problem:
        raise ValueError(problem)
    if not valid_job_id(job_id):
        return None
    now = _now()
    with store._connect() as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT verdict, verdict_note FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return None
            db.execute(
                "UPDATE jobs SET verdict=?, verdict_note=?, verdict_by=?, verdict_at=? WHERE id=?",
                (verdict, note, who, now, job_id),
            )
            cur = db.execute(
                "INSERT INTO verdict_log (job_id, at, who, verdict_before, note_before, verdict_after, note_after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, now, who, row["verdict"], row["verdict_note"], verdict, note),
            )
            seq = int(cur.lastrowid or 0)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return VerdictChange(seq, job_id, now, who, row["verdict"], row["verdict_note"], verdict, note)


def verdict_history(store: JobStore, job_id: str) -> list[VerdictChange]:
    """Every verdict change of a job, oldest first."""
    if not valid_job_id(job_id):
        return []
    with store._connect() as db:
        rows = db.execute("SELECT * FROM verdict_log WHERE job_id=? ORDER BY seq", (job_id,)).fetchall()
    return [
        VerdictChange(
            int(r["seq"]),
            r["job_id"],
            r["at"],
            r["who"],
            r["verdict_before"],
            r["note_before"],
            r["verdict_after"],
            r["note_after"],
        )
        for r in rows
    ]


def _day(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


@dataclass(frozen=True)
class JobFilter:
    """Which scans a list shows, and in which order. Every field None (or ``newest``): all, newest first."""

    band: str | None = None
    verdict: str | None = None
    date_from: date | None = None  # uploaded on or after this day (UTC)
    date_to: date | None = None  # uploaded on or before this day (UTC)
    sort: str = "newest"

    @classmethod
    def parse(
        cls,
        *,
        band: str | None = None,
        verdict: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        sort: str | None = None,
    ) -> JobFilter:
        """From query parameters (empty means unset); :class:`FilterError` naming the bad one."""
        band = band or None
        verdict = verdict or None
        if band is not None and band not in BAND_CHOICES:
            raise FilterError(f"band must be one of {', '.join(BAND_CHOICES)}, got {band!r}")
        if verdict is not None and verdict not in VERDICT_CHOICES:
            raise FilterError(f"verdict must be one of {', '.join(VERDICT_CHOICES)}, got {verdict!r}")
        if sort and sort not in SORTS:
            raise FilterError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
        f = cls(band, verdict, _day(date_from, "date_from"), _day(date_to, "date_to"), sort or "newest")
        if f.date_from and f.date_to and f.date_from > f.date_to:
            raise FilterError(f"date_from ({f.date_from}) is after date_to ({f.date_to})")
        return f

    def query(self) -> dict[str, str]:
        """The filter as query parameters (only those set), for links such as the CSV export."""
        q = {
            "band": self.band or "",
            "verdict": self.verdict or "",
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "sort": "" if self.sort == "newest" else self.sort,
        }
        return {k: v for k, v in q.items() if v}

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.band is not None:
            clauses.append("band=?")
            params.append(self.band)
        if self.verdict == "none":
            clauses.append("verdict IS NULL")
        elif self.verdict == "any":
            clauses.append("verdict IS NOT NULL")
        elif self.verdict is not None:
            clauses.append("verdict=?")
            params.append(self.verdict)
        # ``created`` is an ISO-8601 UTC time: a string comparison with a day is a time comparison.
        if self.date_from is not None:
            clauses.append("created >= ?")
            params.append(self.date_from.isoformat())
        if self.date_to is not None:
            clauses.append("created < ?")
            params.append((self.date_to + timedelta(days=1)).isoformat())
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def order(self) -> str:
        if self.sort == "risk":  # highest risk first; unscored scans last
            return " ORDER BY risk IS NULL, risk DESC, created DESC, rowid DESC"
        return " ORDER BY created DESC, rowid DESC"


def filtered_jobs(store: JobStore, f: JobFilter, *, limit: int = 1000, offset: int = 0) -> tuple[list[Job], int]:
    """The jobs ``f`` selects, in its order (``limit`` from ``offset``), and how many it selects in all."""
    where, params = f.where()
    with store._connect() as db:
        total = int(db.execute("SELECT COUNT(*) FROM jobs" + where, params).fetchone()[0])
        rows = db.execute(
            "SELECT * FROM jobs" + where + f.order() + " LIMIT ? OFFSET ?", [*params, int(limit), int(offset)]
        ).fetchall()
    return [store._job(r) for r in rows], total


CSV_COLUMNS = (
    "id",
    "uploaded",
    "files",
    "status",
    "risk_score",
    "band",
    "verdict",
    "verdict_note",
    "verdict_by",
    "verdict_at",
    "finished",
    "uploads_deleted",
)


def csv_export(jobs: list[Job]) -> str:
    """The jobs as CSV (header :data:`CSV_COLUMNS`), as the list shows them."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    order = ("video", "audio", "keystrokes", "metadata", "enrolment_photo")
    for j in jobs:
        files = ", ".join(j.filenames[r] for r in order if r in j.filenames)
        risk = "" if j.risk is None else f"{j.risk:.6f}"
        row = (
            j.id,
            j.created,
            files,
            j.status,
            risk,
            j.band,
            j.verdict,
            j.verdict_note,
            j.verdict_by,
            j.verdict_at,
            j.finished,
            j.uploads_deleted,
        )
        w.writerow([spreadsheet_safe(v) for v in row])
    return out.getvalue()
