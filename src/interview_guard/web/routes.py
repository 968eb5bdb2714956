"""The HTML routes: upload page, scan list (filters, CSV), job page (progress, failure, report and review), re-run,
verdict, report.json, static files.

The application's state (``request.app.state``: ``store``, ``runner``,
``max_upload_bytes``) is set by :func:`interview_guard.web.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from interview_guard.web import pages
from interview_guard.web.jobs import Job, JobStore, Runner, valid_job_id
from interview_guard.web.reviews import (
    MAX_NOTE_CHARS,
    VERDICTS,
    FilterError,
    JobFilter,
    csv_export,
    filtered_jobs,
    note_problem,
    set_verdict,
    verdict_history,
)
from interview_guard.web.security import FORM_PAGE_HEADERS, REPORT_CSP, reviewer_of, wants_json
from interview_guard.web.worker import render_job_page

__all__ = ["router", "store_of", "runner_of", "job_or_404", "job_filter", "report_page"]

router = APIRouter()


def store_of(request: Request) -> JobStore:
    store: JobStore = request.app.state.store
    return store


def runner_of(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


def job_or_404(request: Request, job_id: str) -> Job:
    job = store_of(request).get(job_id) if valid_job_id(job_id) else None
    if job is None:
        raise StarletteHTTPException(404, "no such scan")
    return job


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    store = store_of(request)
    return HTMLResponse(pages.upload_page(store.list(limit=20), store.count(), request.app.state.max_upload_bytes))


def job_filter(
    band: str | None = Query(None, max_length=40),
    verdict: str | None = Query(None, max_length=40),
    date_from: str | None = Query(None, max_length=40),
    date_to: str | None = Query(None, max_length=40),
    sort: str | None = Query(None, max_length=40),
) -> JobFilter:
    """The list filter from query parameters (a route's dependency, or called with the values); a value the list
    does not know is a 400 naming it."""
    try:
        return JobFilter.parse(band=band, verdict=verdict, date_from=date_from, date_to=date_to, sort=sort)
    except FilterError as exc:
        raise StarletteHTTPException(400, f"bad query parameter: {exc}") from None


_FILTER = Depends(job_filter)  # the list filter of /jobs and /jobs.csv, from the same query parameters


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, flt: JobFilter = _FILTER) -> HTMLResponse:
    from interview_guard.web.retention import disk_use

    store = store_of(request)
    jobs, total = filtered_jobs(store, flt, limit=1000)
    return HTMLResponse(
        pages.jobs_page(jobs, total=total, flt=flt, disk=disk_use(store), retain_days=request.app.state.retain_days)
    )


@router.get("/jobs.csv")
def jobs_csv(request: Request, flt: JobFilter = _FILTER) -> Response:
    """Every scan the filter selects (no page limit), as CSV."""
    jobs, _ = filtered_jobs(store_of(request), flt, limit=-1)
    return Response(
        csv_export(jobs),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="interview-guard-scans.csv"'},
    )


@router.get("/static/{name}")
def static(name: str) -> Response:
    found = pages.static_file(name)
    if found is None:
        raise StarletteHTTPException(404, "no such file")
    content, media_type = found
    return Response(content, media_type=media_type)


@router.get("/jobs/{job_id}/report.json")
def report_json(request: Request, job_id: str) -> FileResponse:
    job = job_or_404(request, job_id)
    if job.status != "done" or job.report_path is None or not job.report_path.is_file():
        raise StarletteHTTPException(404, f"no report yet: the scan is {job.status}")
    return FileResponse(job.report_path, media_type="application/json")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    job = job_or_404(request, job_id)
    if job.status in ("queued", "running"):
        return HTMLResponse(pages.job_progress_page(job))
    if job.status in ("failed", "interrupted"):
        return HTMLResponse(pages.job_ended_page(job), headers=FORM_PAGE_HEADERS)
    return report_page(request, job)


def report_page(request: Request, job: Job) -> HTMLResponse:
    """A finished scan's report page, with the navigation bar and the review panel on top."""
    cached = job.job_dir / "report.html"
    page = None
    if (
        cached.is_file()
        and job.report_path is not None
        and cached.stat().st_mtime_ns >= job.report_path.stat().st_mtime_ns
    ):
        page = cached.read_text(encoding="utf-8")
    if page is None:
        from interview_guard.atomic import atomic_write_text
        from interview_guard.errors import InterviewGuardError

        try:
            page = render_job_page(job)
        except InterviewGuardError as exc:  # report.json missing or unreadable
            message = str(exc).replace(str(store_of(request).data_dir), "DATA")
            return HTMLResponse(pages.message_page("The report cannot be shown", message, status=500), status_code=500)
        atomic_write_text(cached, page)
    page = pages.inject_nav(
        page,
        job,
        params=request.app.state.params,
        history=verdict_history(store_of(request), job.id),
        reviewer=reviewer_of(request.scope),
    )
    # The report document has inline CSS and style attributes and no script: its own, stricter policy.
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP, **FORM_PAGE_HEADERS})


@router.post("/jobs/{job_id}/verdict")
async def verdict_form(request: Request, job_id: str) -> Response:
    """The review panel's form: ``verdict`` and ``note`` -> recorded under the reviewer's name, 303 back."""
    job = job_or_404(request, job_id)
    if job.status != "done":
        raise StarletteHTTPException(409, f"this scan is {job.status}; a verdict needs a finished report")
    form = await request.form(max_files=0, max_fields=10)
    verdict = form.get("verdict")
    note = form.get("note") or ""
    if not isinstance(verdict, str) or verdict not in VERDICTS:
        raise StarletteHTTPException(400, f"choose a verdict: {', '.join(VERDICTS)}")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise StarletteHTTPException(400, f"the note must be text of at most {MAX_NOTE_CHARS} characters")
    problem = note_problem(note)
    if problem:
        raise StarletteHTTPException(400, problem)
    set_verdict(store_of(request), job.id, verdict, note.strip(), reviewer_of(request.scope))
    if wants_json(request.headers, request.url.path):
        return JSONResponse({"id": job.id, "verdict": verdict, "note": note.strip()})
    return RedirectResponse(f"/jobs/{job.id}#review", status_code=303)


@router.post("/jobs/{job_id}/rerun")
def rerun(request: Request, job_id: str) -> Response:
    job = job_or_404(request, job_id)
    if not store_of(request).requeue(job.id):
        raise StarletteHTTPException(409, f"this scan is {job.status}; only failed or interrupted scans can be re-run")
    runner_of(request).notify()
    if wants_json(request.headers, request.url.path):
        return JSONResponse({"id": job.id, "url": f"/jobs/{job.id}"})
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
