"""The upload route and the JSON API: ``POST /upload``, ``GET /api/jobs``, ``GET /api/jobs/{id}``, ``GET /healthz``.

The upload is parsed as it streams in (:class:`~interview_guard.web.uploads.UploadSink`),
checked, and only then renamed from ``tmp/<id>/`` into ``jobs/<id>/`` and queued.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from interview_guard.web.jobs import Job, new_job_id
from interview_guard.web.pages import message_page
from interview_guard.web.routes import job_or_404, runner_of, store_of
from interview_guard.web.security import wants_json
from interview_guard.web.uploads import UploadError, UploadSink, attach_enrolment_photo, validate_session_files

__all__ = ["router", "api_job", "accept_upload", "Refused"]

router = APIRouter()


def api_job(job: Job) -> dict[str, Any]:
    """A job as the API shows it: :meth:`Job.to_dict` plus the page and report addresses."""
    d = job.to_dict()
    d["url"] = f"/jobs/{job.id}"
    d["report_url"] = f"/jobs/{job.id}/report.json" if job.status == "done" else None
    return d


@router.get("/healthz", response_model=None)
async def healthz() -> dict[str, bool]:
    return {"ok": True}


# Query integers are 64-bit (what SQLite takes); a larger one is a 400, not an overflow deeper down.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


@router.get("/api/jobs", response_model=None)
def api_jobs(
    request: Request,
    limit: int = Query(200, ge=_INT64_MIN, le=_INT64_MAX),
    offset: int = Query(0, ge=_INT64_MIN, le=_INT64_MAX),
) -> dict[str, Any]:
    store = store_of(request)
    limit = max(1, min(int(limit), 1000))
    return {
        "jobs": [api_job(j) for j in store.list(limit=limit, offset=max(0, int(offset)))],
        "total": store.count(),
    }


@router.get("/api/jobs/{job_id}", response_model=None)
def api_job_status(request: Request, job_id: str) -> dict[str, Any]:
    return api_job(job_or_404(request, job_id))


class _Body:
    """The request body, read straight from ASGI ``receive`` so we know whether more is coming."""

    def __init__(self, request: Request) -> None:
        self.receive = request.receive
        self.more = True

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.more = False
                raise ClientDisconnect()
            self.more = bool(message.get("more_body", False))
            body: bytes = message.get("body", b"")
            if body:
                yield body

    async def drain(self, budget: int) -> None:
        """Read (and drop) the rest of a refused upload, up to ``budget`` bytes, so a browser sees the answer."""
        try:
            async for chunk in self.chunks():
                budget -= len(chunk)
                if budget < 0:
                    return
        except ClientDisconnect:
            return


class Refused(Exception):
    """An upload the server does not take: HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def accept_upload(request: Request) -> str:
    """Stream a multipart upload to disk, check it, queue it as a job; its id. :class:`Refused` otherwise.

    Shared by ``POST /upload`` (the page) and ``POST /api/v1/scans``.
    """
    store = store_of(request)
    max_upload_bytes: int = request.app.state.max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise Refused(400, "bad Content-Length header")
        if int(length) > max_upload_bytes:
            # Refused before a byte of the body is read.
            raise Refused(
                413,
                f"the upload ({int(length) / 1048576:.1f} MB) is larger than the limit of "
                f"{max_upload_bytes / 1048576:.0f} MB",
            )
    job_id = new_job_id()
    tmp = store.tmp_dir / job_id
    (tmp / "input").mkdir(parents=True)
    sink = None
    body = _Body(request)
    try:
        sink = UploadSink(tmp / "input", request.headers.get("content-type", ""), max_bytes=max_upload_bytes)
        async for chunk in body.chunks():
            await run_in_threadpool(sink.feed, chunk)
        files = await run_in_threadpool(sink.finish)
        await run_in_threadpool(validate_session_files, files)
        await run_in_threadpool(attach_enrolment_photo, files, tmp / "input")
    except UploadError as exc:
        if sink is not None:
            sink.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.status != 413:
            await body.drain(max_upload_bytes - (sink.received if sink is not None else 0))
        raise Refused(exc.status, exc.message) from None
    except ClientDisconnect:
        if sink is not None:
            sink.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise Refused(400, "the upload was cut off before it was complete") from None
    except BaseException:
        if sink is not None:
            sink.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, store.job_dir(job_id))
    store.add(job_id, {role: f.original_name for role, f in files.items()})
    runner_of(request).notify()
    return job_id


@router.post("/upload")
async def upload(request: Request) -> Response:
    json_answer = wants_json(request.headers, request.url.path)
    try:
        job_id = await accept_upload(request)
    except Refused as exc:
        if json_answer:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        return HTMLResponse(message_page("Upload refused", exc.message, status=exc.status), status_code=exc.status)
    url = f"/jobs/{job_id}"
    if json_answer:
        return JSONResponse({"id": job_id, "url": url}, status_code=201, headers={"Location": url})
    return RedirectResponse(url, status_code=303)
