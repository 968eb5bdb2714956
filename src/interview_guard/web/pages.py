"""The server's own HTML pages, rendered from the Jinja2 templates in ``web/templates/``.

The pages carry no inline CSS or script: they link ``/static/nav.css``,
``/static/app.css`` and ``/static/upload.js`` or ``/static/job.js`` (the files
in ``web/static/``, served by :mod:`.routes` under a ``script-src 'self';
style-src 'self'`` policy, see :mod:`.security`). Autoescaping is on for every
template: names from uploads and messages are escaped wherever they appear.

The report page itself is :func:`interview_guard.report.html.render_report`'s
self-contained document; :func:`inject_nav` only puts the server's navigation
bar on top of it.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2

from interview_guard.web.jobs import Job
from interview_guard.web.uploads import ROLES

if TYPE_CHECKING:
    from interview_guard.fusion.model import FusionModel
    from interview_guard.web.retention import DiskUse
    from interview_guard.web.reviews import JobFilter, VerdictChange

__all__ = [
    "STATIC_TYPES",
    "inject_nav",
    "job_ended_page",
    "job_progress_page",
    "jobs_page",
    "message_page",
    "params_summary",
    "static_file",
    "upload_page",
]

# The files under web/static/ that are served, by extension: anything else is 404.
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def fmt_time(iso: str | None) -> str:
    """``2026-01-02T03:04:05.678+00:00`` -> ``2026-01-02 03:04:05 UTC``."""
    if not iso:
        return ""
    return iso[:19].replace("T", " ") + " UTC"


def files_text(job: Job) -> str:
    """The client's names of a job's files: video, audio, keystroke log, session.json, enrolment photo."""
    order = ("video", "audio", "keystrokes", "metadata", "enrolment_photo")
    return ", ".join(job.filenames[r] for r in order if r in job.filenames)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("interview_guard.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["fmt_time"] = fmt_time
    env.filters["files_text"] = files_text
    return env


def _render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)


def message_page(title: str, message: str, *, status: int | None = None) -> str:
    """An error or refusal page: ``title``, the message (``id="error-message"``) and the HTTP status."""
    return _render("message.html", title=f"interview-guard: {title}", heading=title, message=message, status=status)


def upload_page(jobs: list[Job], total: int, max_bytes: int) -> str:
    """The upload form (drop zone, a file field per role of a session) and the most recent scans."""
    exts = {role: sorted(r.extensions) for role, r in ROLES.items()}
    return _render(
        "upload.html",
        title="interview-guard: new scan",
        jobs=jobs,
        total=total,
        max_bytes=max_bytes,
        extensions_json=json.dumps(exts),
        accept={role: ",".join(v) for role, v in exts.items()},
        video_extensions=exts["video"],
        audio_extensions=exts["audio"],
        photo_extensions=exts["enrolment_photo"],
    )


def fmt_bytes(n: int) -> str:
    """``1536000`` -> ``1.5 MB``."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def jobs_page(
    jobs: list[Job],
    *,
    total: int,
    flt: JobFilter,
    disk: DiskUse | None = None,
    retain_days: float | None = None,
) -> str:
    """The scans ``flt`` selects (band, verdict, dates; newest or riskiest first), the CSV link, the disk use."""
    from interview_guard.web.reviews import BAND_CHOICES, SORTS, VERDICT_CHOICES

    query = urlencode(flt.query())
    return _render(
        "jobs.html",
        title="interview-guard: all scans",
        jobs=jobs,
        total=total,
        flt=flt,
        bands=BAND_CHOICES,
        verdicts=VERDICT_CHOICES,
        sorts=SORTS,
        csv_url="/jobs.csv" + (f"?{query}" if query else ""),
        disk=disk,
        fmt_bytes=fmt_bytes,
        retain_days=retain_days,
    )


def threshold_text(x: float) -> str:
    """A band threshold for a page: two decimals (``0.60``), more when the file gives more (``0.8547``)."""
    two = f"{x:.2f}"
    return two if abs(float(two) - x) < 1e-9 else f"{x:.6f}".rstrip("0")


def params_summary(params: FusionModel) -> dict[str, Any]:
    """What a page says about the parameter file the server scans with (its file name, not its path)."""
    return {
        "version": params.version,
        "file": os.path.basename(params.path) if params.path else "built-in",  # its name: no server paths
        "sha256": (params.sha256 or "")[:12],
        "medium": params.medium,
        "high": params.high,
        # as precise as the file says: a 0.8547 shown as 0.85 put a 0.852 "medium" next to "high >= 0.85"
        "medium_text": threshold_text(params.medium),
        "high_text": threshold_text(params.high),
        "analyzers": len(params.weights),
        "decisive": len(params.decisive),
    }


def job_progress_page(job: Job) -> str:
    """A queued or running scan: status, stage, percentage (``/static/job.js`` polls and reloads)."""
    return _render("job_progress.html", title=f"interview-guard: scanning {files_text(job)}", job=job)


def job_ended_page(job: Job) -> str:
    """A failed or interrupted scan: the message, and a Re-run button while the uploaded files are there."""
    heading = "The scan failed" if job.status == "failed" else "The scan was interrupted"
    return _render(
        "job_ended.html",
        title=f"interview-guard: {heading.lower()}",
        heading=heading,
        job=job,
        can_rerun=job.session_dir.is_dir(),
    )


def inject_nav(
    page: str,
    job: Job,
    *,
    params: FusionModel | None = None,
    history: list[VerdictChange] | None = None,
    reviewer: str | None = None,
) -> str:
    """Put the server's navigation bar (and a link to the raw report) at the top of a report page.

    With ``params``, the review panel follows it: the server's parameter file (version, band thresholds),
    the current verdict, the form to set it (a plain POST: the report page runs no script) and ``history``.
    """
    from interview_guard.web.reviews import MAX_NOTE_CHARS, VERDICTS

    nav = '<link rel="stylesheet" href="/static/nav.css">' + _render(
        "_nav.html", report_json_url=f"/jobs/{job.id}/report.json"
    ).rstrip("\n")
    if params is not None:
        nav += "\n" + _render(
            "_review.html",
            job=job,
            params=params_summary(params),
            history=history or [],
            reviewer=reviewer,
            verdicts=VERDICTS,
            max_note=MAX_NOTE_CHARS,
        ).rstrip("\n")
        # The report document says ``no-referrer`` (for the file on its own); under it a browser sends
        # ``Origin: null`` with the verdict form, which the same-origin check refuses. ``same-origin`` sends this
        # server's origin to itself only.
        page = page.replace(
            '<meta name="referrer" content="no-referrer">', '<meta name="referrer" content="same-origin">'
        )
    m = re.search(r"<body[^>]*>", page)
    if m is None:
        return nav + page
    return page[: m.end()] + "\n" + nav + page[m.end() :]


@lru_cache(maxsize=32)
def static_file(name: str) -> tuple[bytes, str] | None:
    """The content and media type of ``web/static/<name>``, or None when there is no such file to serve.

    Only a plain file name with a listed extension is looked up, so no name can reach outside ``static/``.
    """
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in STATIC_TYPES or not re.fullmatch(r"[a-z][a-z0-9_-]*\.[a-z]+", name):
        return None
    path = resources.files("interview_guard.web") / "static" / name
    if not path.is_file():
        return None
    return path.read_bytes(), STATIC_TYPES[suffix]
