"""The HTML routes: upload page, scan list, job page (progress, failure, report), re-run, report.json, static files.

The application's state (``request.app.state``: ``store``, ``runner``,
``max_upload_bytes``) is set by :func:`interview_guard.web.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from interview_guard.web import pages
from interview_guard.web.jobs import Job, JobStore, Runner, valid_job_id
from interview_guard.web.security import REPORT_CSP, wants_json
from interview_guard.web.worker import render_job_page

__all__ = ["router", "store_of", "runner_of", "job_or_404"]

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


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    return HTMLResponse(pages.jobs_page(store_of(request).list(limit=1000)))


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
        return HTMLResponse(pages.job_ended_page(job))
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
    # The report document has inline CSS and style attributes and no script: its own, stricter policy.
    return HTMLResponse(pages.inject_nav(page, job), headers={"Content-Security-Policy": REPORT_CSP})


@router.post("/jobs/{job_id}/rerun")
def rerun(request: Request, job_id: str) -> Response:
    job = job_or_404(request, job_id)
    if not store_of(request).requeue(job.id):
        raise StarletteHTTPException(409, f"this scan is {job.status}; only failed or interrupted scans can be re-run")
    runner_of(request).notify()
    if wants_json(request.headers, request.url.path):
        return JSONResponse({"id": job.id, "url": f"/jobs/{job.id}"})
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
