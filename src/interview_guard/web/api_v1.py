"""The versioned JSON API, ``/api/v1``: what an interview platform calls after each interview.

=====================================  ==========================================================
``POST /api/v1/scans``                 upload (multipart: ``video``, ``audio``, ``keystrokes``, ``session``,
                                       ``enrolment_photo``)
                                       -> 201 and the scan, ``Location: /api/v1/scans/{id}``
``GET /api/v1/scans``                  the scans (filters ``band``, ``verdict``, ``date_from``,
                                       ``date_to``; ``sort`` newest/risk; ``limit``, ``offset``)
``GET /api/v1/scans/{id}``             one scan: status, stage, progress, risk, band, verdict
``GET /api/v1/scans/{id}/report``      the JSON report (409 until the scan is done)
``GET /api/v1/scans/{id}/page``        the HTML report page with the review panel (409 until done)
``PUT /api/v1/scans/{id}/verdict``     ``{"verdict": "genuine"|"fraud"|"unsure", "note": "..."}``
``GET /api/v1/scans/{id}/verdicts``    the verdict's audit trail, oldest first
``GET /api/v1/openapi.json``           the OpenAPI schema of these routes
=====================================  ==========================================================

Every route needs the token when the server has one (``Authorization: Bearer``); errors are
``{"detail": "one line"}`` with 400 (bad parameter or body), 401, 404 (unknown scan), 409 (not
done yet), 413 (upload too large) or 415 (not multipart).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from interview_guard.web.api import Refused, accept_upload
from interview_guard.web.jobs import Job
from interview_guard.web.reviews import MAX_NOTE_CHARS, filtered_jobs, note_problem, set_verdict, verdict_history
from interview_guard.web.routes import job_filter, job_or_404, report_page, store_of
from interview_guard.web.security import reviewer_of

__all__ = ["OPENAPI_URL", "router", "scan_json"]

OPENAPI_URL = "/api/v1/openapi.json"
PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX, tags=["scans"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'A bad parameter or body: `{"detail": "..."}`'},
    401: {"description": "The server needs a token: `Authorization: Bearer TOKEN`"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such scan"}}
_NOT_DONE: dict[int | str, dict[str, Any]] = {409: {"description": "The scan is not done (yet)"}}


class Verdict(BaseModel):
    verdict: Literal["genuine", "fraud", "unsure"]
    note: str
    by: str = Field(description="the reviewer's name (from the token)")
    at: str


class Scan(BaseModel):
    id: str
    created: str
    updated: str
    filenames: dict[str, str] = Field(
        description="the uploaded files' names by role (video, audio, keystrokes, metadata, enrolment_photo)"
    )
    status: Literal["queued", "running", "done", "failed", "interrupted"]
    stage: str | None
    progress: float = Field(description="0 to 1")
    error: str | None
    risk_score: float | None
    band: str | None = Field(description="low, medium, high or unassessed once done")
    attempt: int
    started: str | None
    finished: str | None
    verdict: Verdict | None
    uploads_deleted: str | None = Field(description="when --retain-days deleted the uploaded files")
    url: str = Field(description="this scan in the API")
    page_url: str = Field(description="the report page for a browser")
    report_url: str | None = Field(description="the JSON report, once done")


class ScanList(BaseModel):
    scans: list[Scan]
    total: int = Field(description="how many scans the filter selects")


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["genuine", "fraud", "unsure"]
    note: str = Field("", max_length=MAX_NOTE_CHARS)


class VerdictChangeOut(BaseModel):
    at: str
    who: str
    before: dict[str, str | None]
    after: dict[str, str | None]


class VerdictTrail(BaseModel):
    id: str
    changes: list[VerdictChangeOut]


def scan_json(job: Job) -> dict[str, Any]:
    """A scan as the API shows it (no server paths)."""
    d = job.to_dict()
    for key in ("verdict", "verdict_note", "verdict_by", "verdict_at"):
        d.pop(key)
    d["verdict"] = (
        None
        if job.verdict is None
        else {"verdict": job.verdict, "note": job.verdict_note or "", "by": job.verdict_by, "at": job.verdict_at}
    )
    d["url"] = f"{PREFIX}/scans/{job.id}"
    d["page_url"] = f"/jobs/{job.id}"
    d["report_url"] = f"{PREFIX}/scans/{job.id}/report" if job.status == "done" else None
    return d


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "video": {
                            "type": "string",
                            "format": "binary",
                            "description": ".mp4 .m4v .mov .webm .mkv .avi",
                        },
                        "audio": {
                            "type": "string",
                            "format": "binary",
                            "description": ".wav .flac .mp3 .ogg .opus .m4a .aac (a separate audio recording)",
                        },
                        "keystrokes": {"type": "string", "format": "binary", "description": ".jsonl .csv .tsv .txt"},
                        "session": {"type": "string", "format": "binary", "description": "session.json"},
                        "enrolment_photo": {
                            "type": "string",
                            "format": "binary",
                            "description": ".jpg .jpeg .png .webp .gif .bmp .tif .tiff .jp2 .j2k .pbm .pgm .ppm .pnm "
                            "(the candidate's photo; session.json's enrolment_photo is set to it)",
                        },
                    },
                    "description": "a recording (video or audio) or a keystroke log, or several; "
                    "session.json is optional",
                }
            }
        },
    }
}


@router.post(
    "/scans",
    status_code=201,
    response_model=Scan,
    summary="Upload a session to scan",
    openapi_extra=_UPLOAD_BODY,
    responses={
        **_ERRORS,
        413: {"description": "The upload is over the server's limit"},
        415: {"description": "Not multipart/form-data"},
    },
)
async def create_scan(request: Request) -> Response:
    """Stream the files to disk, check them, queue the scan; answers at once (poll the scan for progress)."""
    try:
        job_id = await accept_upload(request)
    except Refused as exc:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    job = job_or_404(request, job_id)
    url = f"{PREFIX}/scans/{job_id}"
    return JSONResponse(scan_json(job), status_code=201, headers={"Location": url})


@router.get("/scans", response_model=ScanList, summary="List scans", responses=_ERRORS)
def list_scans(
    request: Request,
    band: Literal["low", "medium", "high", "unassessed"] | None = None,
    verdict: Literal["genuine", "fraud", "unsure", "none", "any"] | None = Query(
        None, description="a verdict, none (not reviewed) or any (reviewed)"
    ),
    date_from: str | None = Query(None, description="uploaded on or after this day (YYYY-MM-DD, UTC)", max_length=40),
    date_to: str | None = Query(None, description="uploaded on or before this day (YYYY-MM-DD, UTC)", max_length=40),
    sort: Literal["newest", "risk"] = "newest",
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=(1 << 62)),
) -> dict[str, Any]:
    flt = job_filter(band, verdict, date_from, date_to, sort)
    jobs, total = filtered_jobs(store_of(request), flt, limit=limit, offset=offset)
    return {"scans": [scan_json(j) for j in jobs], "total": total}


@router.get("/scans/{scan_id}", response_model=Scan, summary="A scan's status", responses={**_ERRORS, **_NOT_FOUND})
def get_scan(request: Request, scan_id: str) -> dict[str, Any]:
    return scan_json(job_or_404(request, scan_id))


def _done(request: Request, scan_id: str) -> Job:
    job = job_or_404(request, scan_id)
    if job.status != "done" or job.report_path is None or not job.report_path.is_file():
        raise StarletteHTTPException(409, f"no report: the scan is {job.status}")
    return job


@router.get(
    "/scans/{scan_id}/report",
    summary="The JSON report",
    response_class=FileResponse,
    responses={**_ERRORS, **_NOT_FOUND, **_NOT_DONE, 200: {"content": {"application/json": {}}}},
)
def get_report(request: Request, scan_id: str) -> FileResponse:
    job = _done(request, scan_id)
    assert job.report_path is not None
    return FileResponse(job.report_path, media_type="application/json")


@router.get(
    "/scans/{scan_id}/page",
    summary="The HTML report page",
    response_class=HTMLResponse,
    responses={**_ERRORS, **_NOT_FOUND, **_NOT_DONE},
)
def get_page(request: Request, scan_id: str) -> HTMLResponse:
    return report_page(request, _done(request, scan_id))


@router.put(
    "/scans/{scan_id}/verdict",
    response_model=Scan,
    summary="Set the reviewer's verdict",
    responses={**_ERRORS, **_NOT_FOUND, **_NOT_DONE},
)
def put_verdict(request: Request, scan_id: str, body: VerdictIn) -> dict[str, Any]:
    """Record the verdict and note under the token's reviewer name; the change joins the audit trail."""
    job = _done(request, scan_id)
    store = store_of(request)
    problem = note_problem(body.note)
    if problem:
        raise StarletteHTTPException(400, problem)
    set_verdict(store, job.id, body.verdict, body.note.strip(), reviewer_of(request.scope))
    return scan_json(job_or_404(request, job.id))


@router.get(
    "/scans/{scan_id}/verdicts",
    response_model=VerdictTrail,
    summary="The verdict's audit trail",
    responses={**_ERRORS, **_NOT_FOUND},
)
def get_verdicts(request: Request, scan_id: str) -> dict[str, Any]:
    job = job_or_404(request, scan_id)
    return {"id": job.id, "changes": [c.to_dict() for c in verdict_history(store_of(request), job.id)]}
