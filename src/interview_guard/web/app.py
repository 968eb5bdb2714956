"""The web application behind ``interview-guard serve``: :func:`create_app` and :func:`run_server`.

Routes (the pages load their CSS and script from ``/static/``; nothing from another site):

``GET /``                      upload form and the most recent scans
``POST /upload``               multipart upload (``video``, ``keystrokes``, ``session``) -> 303 to the job page
                               (201 with ``{"id", "url"}`` when the client asks for JSON)
``GET /jobs``                  every scan, newest first
``GET /jobs/{id}``             progress while queued/running, then the report page (``html_report``)
``POST /jobs/{id}/rerun``      queue a failed or interrupted scan again
``GET /jobs/{id}/report.json`` the raw report
``POST /jobs/{id}/verdict``    the reviewer's verdict and note (form post from the report page) -> 303
``GET /jobs.csv``              the filtered scan list as CSV (same filters as ``/jobs``)
``GET /api/jobs``              the scans as JSON, newest first
``GET /api/jobs/{id}``         one scan's status as JSON (what the progress page polls)
``/api/v1/...``                the versioned JSON API (:mod:`.api_v1`), described by ``/api/v1/openapi.json``
``GET /static/{name}``         the pages' CSS and script (``web/static/``; no token needed)
``GET /healthz``               ``{"ok": true}`` (no token needed; says nothing else)

Where things are: :mod:`.security` (Host/Origin checks, token, security headers),
:mod:`.routes` (HTML pages), :mod:`.api` (upload and JSON API), :mod:`.pages`
(Jinja2 templates in ``web/templates/``). See ``docs/web.md`` for the data
directory, limits, the token and restart semantics.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from interview_guard._version import __version__
from interview_guard.web import api, api_v1, routes
from interview_guard.web.jobs import (
    DEFAULT_MAX_REPORT_MB,
    DEFAULT_SCAN_MEMORY_MB,
    DEFAULT_SCAN_TIMEOUT_S,
    JobStore,
    Runner,
)
from interview_guard.web.pages import message_page
from interview_guard.web.retention import RetentionThread
from interview_guard.web.security import COOKIE_NAME, GuardMiddleware, is_loopback, wants_json

__all__ = [
    "create_app",
    "run_server",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_MAX_REPORT_MB",
    "DEFAULT_SCAN_MEMORY_MB",
    "DEFAULT_SCAN_TIMEOUT_S",
    "COOKIE_NAME",
    "is_loopback",
]

DEFAULT_MAX_UPLOAD_BYTES = 1024 << 20
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def create_app(
    data_dir: str | os.PathLike[str],
    *,
    token: str | None = None,
    tokens: Mapping[str, str] | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    workers: int = 1,
    allowed_hosts: set[str] | None = None,
    job_timeout_s: float | None = None,
    scan_memory_mb: float | None = None,
    max_report_mb: float | None = None,
    params_path: str | os.PathLike[str] | None = None,
    retain_days: float | None = None,
    run_jobs: bool = True,
    executor: Any = None,
) -> FastAPI:
    """The FastAPI application serving the upload page over ``data_dir``.

    Parameters
    ----------
    data_dir : path
        Created if missing: ``jobs.sqlite3``, ``jobs/<id>/``, ``tmp/`` (see :mod:`.jobs`).
    token : str, optional
        When given, every route but ``/healthz`` and ``/static/`` needs it (``Authorization:
        Bearer``, or ``?token=`` once, which sets an HttpOnly cookie). Its reviewer name is
        ``shared-token``.
    tokens : mapping of str to str, optional
        Named tokens (``serve --token-file``): reviewer name -> token. Each works like ``token``, and
        a verdict set with it is recorded under the name.
    max_upload_bytes : int
        Limit on one upload request; larger ones get 413 and leave nothing behind.
    workers : int
        Scans running at the same time (each in its own process).
    allowed_hosts : set of str, optional
        Accepted ``Host`` header names (``run_server`` passes the loopback
        names when bound to loopback, against DNS rebinding); None accepts any.
    job_timeout_s : float, optional
        A scan running longer than this (seconds) is stopped and recorded as failed.
        None: :data:`DEFAULT_SCAN_TIMEOUT_S`; 0: no limit.
    scan_memory_mb : float, optional
        A scan process holding more resident memory than this (MiB) is stopped and recorded as
        failed. None: :data:`DEFAULT_SCAN_MEMORY_MB`; 0: no limit.
    max_report_mb : float, optional
        A report larger than this (MiB) is not written and the scan is recorded as failed.
        None: :data:`DEFAULT_MAX_REPORT_MB`; 0: no limit.
    params_path : path, optional
        The parameter file (band thresholds and fusion parameters, ``models/fusion.json``'s format)
        every scan uses; read (and checked) here. None: ``$INTERVIEW_GUARD_FUSION`` or the bundled one.
    retain_days : float, optional
        Delete the uploads (not the reports or verdicts) of scans older than this many days, at
        start and every hour (:mod:`.retention`). None: keep them.
    run_jobs : bool
        Start the background runner (and the retention thread) with the application (tests may turn it off).
    executor : Executor, optional
        Where scans run (:func:`interview_guard.pipeline.executors.make_executor`, e.g. a Dask cluster for
        ``serve --scheduler``); None: a local worker process per scan. The caller closes it.

    Jobs a previous process left running are marked interrupted as soon as the
    application is created.
    """
    from interview_guard.fusion.model import FusionModel

    params = FusionModel.load(None if params_path is None else Path(params_path))  # a bad file stops the server
    store = JobStore(data_dir)
    store.initialise()
    recovered = store.recover()
    runner = Runner(
        store,
        workers=workers,
        timeout_s=DEFAULT_SCAN_TIMEOUT_S if job_timeout_s is None else job_timeout_s,
        memory_mb=DEFAULT_SCAN_MEMORY_MB if scan_memory_mb is None else scan_memory_mb,
        max_report_mb=DEFAULT_MAX_REPORT_MB if max_report_mb is None else max_report_mb,
        params_path=None if params.path is None else str(Path(params.path).resolve()),  # scans run in the job dir
        executor=executor,
    )
    retention = RetentionThread(store, retain_days) if retain_days is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_jobs:
            runner.start()
            if retention is not None:
                retention.start()
        try:
            yield
        finally:
            runner.stop()
            if retention is not None:
                retention.stop()

    app = FastAPI(
        title="interview-guard",
        version=__version__,
        summary="Scan recorded interviews for fraud signs; review the scans.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=api_v1.OPENAPI_URL,
    )
    app.state.store = store
    app.state.runner = runner
    app.state.recovered = recovered
    app.state.max_upload_bytes = int(max_upload_bytes)
    app.state.params = params
    app.state.retain_days = retain_days
    app.state.retention = retention

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_json(request.headers, request.url.path):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return HTMLResponse(message_page(title, str(exc.detail), status=exc.status_code), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        return await http_error(request, StarletteHTTPException(400, _validation_message(exc)))

    app.include_router(api_v1.router)
    app.include_router(api.router, include_in_schema=False)
    app.include_router(routes.router, include_in_schema=False)
    app.add_middleware(GuardMiddleware, token=token, tokens=tokens, allowed_hosts=allowed_hosts)
    return app


def _validation_message(exc: RequestValidationError) -> str:
    """One line for FastAPI's parameter errors: ``bad query parameter 'offset': Input should be ...``."""
    errors = exc.errors()
    if not errors:
        return "bad request parameters"
    first = errors[0]
    loc = [str(x) for x in first.get("loc", ())]
    where = f"{loc[0]} parameter {'.'.join(loc[1:])!r}" if len(loc) > 1 else f"request {loc[0] if loc else ''}".strip()
    return f"bad {where}: {first.get('msg', 'invalid value')}"


class _RedactToken(logging.Filter):
    """Keep ``?token=...`` out of uvicorn's access log."""

    _re = re.compile(r"(token=)[^&\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._re.sub(r"\1REDACTED", a) if isinstance(a, str) else a for a in record.args)
        return True


def run_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: str | os.PathLike[str] = "interview-guard-data",
    token: str | None = None,
    tokens: Mapping[str, str] | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    workers: int = 1,
    job_timeout_s: float | None = None,
    scan_memory_mb: float | None = None,
    max_report_mb: float | None = None,
    params_path: str | os.PathLike[str] | None = None,
    retain_days: float | None = None,
    executor: Any = None,
) -> None:
    """Serve the upload page with uvicorn until Ctrl-C (what ``interview-guard serve`` runs).

    The scan limits are :func:`create_app`'s (None: the default, 0: no limit), as are ``tokens``,
    ``params_path``, ``retain_days`` and ``executor`` (which the caller closes).
    """
    import uvicorn

    loopback = is_loopback(host)
    if not loopback and not token and not tokens:
        print(
            f"interview-guard: warning: serving on {host} without an access token: anyone who can reach this "
            "address can upload recordings and read every report (set --token or INTERVIEW_GUARD_TOKEN)",
            file=sys.stderr,
        )
    allowed = set(_LOOPBACK_NAMES) if loopback else None
    app = create_app(
        data_dir,
        token=token,
        tokens=tokens,
        max_upload_bytes=max_upload_bytes,
        workers=workers,
        allowed_hosts=allowed,
        job_timeout_s=job_timeout_s,
        scan_memory_mb=scan_memory_mb,
        max_report_mb=max_report_mb,
        params_path=params_path,
        retain_days=retain_days,
        executor=executor,
    )
    rec = app.state.recovered
    if rec["interrupted"]:
        print(
            f"interview-guard: {rec['interrupted']} scan(s) left running by the previous server marked interrupted",
            file=sys.stderr,
        )
    if rec["queued"]:
        print(f"interview-guard: {rec['queued']} queued scan(s) will run now", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"interview-guard: serving http://{shown}:{port}/ (data in {Path(data_dir).resolve()}"
        + ("; access token required" if token or tokens else "")
        + (f"; {len(tokens)} named reviewer token(s)" if tokens else "")
        + ")",
        file=sys.stderr,
    )
    params = app.state.params
    print(
        f"interview-guard: parameters {params.version} from {params.path} "
        f"(bands: medium >= {params.medium:g}, high >= {params.high:g})"
        + (f"; uploads are deleted after {retain_days:g} days" if retain_days is not None else ""),
        file=sys.stderr,
    )
    logging.getLogger("uvicorn.access").addFilter(_RedactToken())
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
