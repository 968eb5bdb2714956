"""The web application behind ``interview-guard serve``.

Routes (all HTML pages are self-contained: inline CSS and script, no CDN):

``GET /``                      upload form and the most recent scans
``POST /upload``               multipart upload (``video``, ``keystrokes``, ``session``) -> 303 to the job page
                               (201 with ``{"id", "url"}`` when the client asks for JSON)
``GET /jobs``                  every scan, newest first
``GET /jobs/{id}``             progress while queued/running, then the report page (``html_report``)
``POST /jobs/{id}/rerun``      queue a failed or interrupted scan again
``GET /jobs/{id}/report.json`` the raw report
``GET /api/jobs``              the scans as JSON, newest first
``GET /api/jobs/{id}``         one scan's status as JSON (what the progress page polls)
``GET /healthz``               ``{"ok": true}`` (no token needed; says nothing else)

See ``docs/web.md`` for the data directory, limits, the token and restart semantics.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from interview_guard._version import __version__
from interview_guard.web.jobs import Job, JobStore, Runner, new_job_id, valid_job_id
from interview_guard.web.uploads import ROLES, UploadError, UploadSink, validate_session_files
from interview_guard.web.worker import render_job_page

__all__ = ["create_app", "run_server", "DEFAULT_MAX_UPLOAD_BYTES", "COOKIE_NAME", "is_loopback"]

DEFAULT_MAX_UPLOAD_BYTES = 1024 << 20
COOKIE_NAME = "ig_token"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.x.x.x`` and ``::1``."""
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", errors="surrogateescape")).digest()


def _token_ok(given: str | None, token: str) -> bool:
    """Constant-time comparison (of equal-length digests, so the length does not leak either)."""
    return given is not None and hmac.compare_digest(_digest(given), _digest(token))


def _cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the token itself never sits in the browser's cookie jar."""
    return hmac.new(token.encode("utf-8"), b"interview-guard session cookie v1", hashlib.sha256).hexdigest()


def _wants_json(request_headers: Headers, path: str) -> bool:
    if path.startswith("/api/") or path.endswith(".json"):
        return True
    accept = request_headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


class GuardMiddleware:
    """Host allow-list, access token, same-origin POSTs and security headers, for every response.

    A pure ASGI middleware: it never touches the request body, so uploads keep streaming.
    """

    def __init__(self, app, *, token: str | None, allowed_hosts: set[str] | None) -> None:
        self.app = app
        self.token = token or None
        self.cookie = _cookie_value(token) if token else None
        self.allowed_hosts = None if allowed_hosts is None else {h.strip("[]").lower() for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        response = self._check(scope)
        if response is not None:
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)

    def _deny(self, status: int, message: str, headers: Headers, path: str) -> Response:
        if _wants_json(headers, path):
            return JSONResponse({"detail": message}, status_code=status)
        return HTMLResponse(_message_page("Not allowed", message, status=status), status_code=status)

    def _check(self, scope) -> Response | None:
        headers = Headers(scope=scope)
        path = scope.get("path", "/")
        host = headers.get("host", "")
        hostname = (urlsplit("//" + host).hostname or "") if host else ""
        if self.allowed_hosts is not None and hostname.lower() not in self.allowed_hosts:
            # DNS rebinding: a page on another site that resolves its own name to 127.0.0.1.
            return self._deny(400, f"unknown host {host!r}: open the page as http://127.0.0.1:PORT/", headers, path)
        if scope.get("method", "GET") not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if origin is not None:
                o = urlsplit(origin)
                if origin == "null" or o.netloc.lower() != host.lower():
                    return self._deny(403, "cross-site request refused", headers, path)
        if self.token is None or path == "/healthz":
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given:
            if not _token_ok(given[-1], self.token):
                return self._deny(401, "wrong access token", headers, path)
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            resp = RedirectResponse(path + (f"?{rest}" if rest else ""), status_code=303)
            resp.set_cookie(
                COOKIE_NAME,
                self.cookie,
                httponly=True,
                samesite="strict",
                path="/",
                secure=scope.get("scheme") == "https",
            )
            return resp
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and _token_ok(auth[7:].strip(), self.token):
            return None
        cookie = _parse_cookie(headers.get("cookie", "")).get(COOKIE_NAME)
        if cookie is not None and hmac.compare_digest(_digest(cookie), _digest(self.cookie)):
            return None
        return self._deny(
            401,
            "this server needs an access token: open the address once with ?token=YOUR_TOKEN "
            "(a browser then keeps a cookie) or send 'Authorization: Bearer YOUR_TOKEN'",
            headers,
            path,
        )


def _parse_cookie(header: str) -> dict[str, str]:
    out = {}
    for piece in header.split(";"):
        if "=" in piece:
            k, v = piece.split("=", 1)
            out.setdefault(k.strip(), v.strip().strip('"'))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------------------

_e = html.escape

_CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--accent:#1d4ed8;
--low:#15803d;--medium:#b45309;--high:#b91c1c;--none:#6b7280}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1000px;margin:0 auto;padding:24px 20px 48px}
nav.ig{background:#111827;color:#e5e7eb;font:14px/1.4 system-ui,sans-serif;padding:9px 20px}
nav.ig a{color:#e5e7eb;margin-right:18px;text-decoration:none}nav.ig a:hover{text-decoration:underline}
nav.ig .brand{font-weight:700;color:#fff}
h1{font-size:24px;margin:0 0 14px}h2{font-size:18px;margin:0 0 10px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px}
.muted{color:var(--muted)}
#drop-zone{border:2px dashed #94a3b8;border-radius:10px;padding:26px;text-align:center;color:#475569;margin:0 0 16px;background:#f1f5f9}
#drop-zone.over{border-color:var(--accent);background:#eff6ff;color:var(--accent)}
.field{display:grid;grid-template-columns:230px 1fr;gap:8px;align-items:center;margin:0 0 10px}
.field label{font-weight:600}.field .hint{grid-column:2;font-size:13px;color:var(--muted);margin-top:-6px}
button,.button{font:inherit;background:var(--accent);color:#fff;border:0;border-radius:8px;padding:8px 18px;cursor:pointer;text-decoration:none;display:inline-block}
button:disabled{background:#93a3c4;cursor:default}
progress{width:100%;height:14px}
#upload-status,#job-message{min-height:1.5em;margin:8px 0 0}
.error{color:var(--high)}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
td.num{font-variant-numeric:tabular-nums;text-align:right}
.band{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff;background:var(--none)}
.band-low{background:var(--low)}.band-medium{background:var(--medium)}.band-high{background:var(--high)}
.status{font-weight:600}.status-failed,.status-interrupted{color:var(--high)}.status-done{color:var(--low)}
.status-running,.status-queued{color:var(--accent)}
pre{white-space:pre-wrap;background:#f1f5f9;border-radius:8px;padding:10px 12px;font-size:13px}
code{font-size:13px}
"""


def _nav() -> str:
    return (
        '<nav class="ig" id="ig-nav"><a class="brand" href="/">interview-guard</a>'
        '<a href="/">New scan</a><a href="/jobs">All scans</a></nav>'
    )


def _page(title: str, body: str, *, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n{head}</head>\n<body>\n{_nav()}\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def _message_page(title: str, message: str, *, status: int | None = None) -> str:
    code = f'<p class="muted">HTTP {status}</p>' if status else ""
    return _page(
        f"interview-guard: {title}",
        f'<section><h1>{_e(title)}</h1><p class="error" id="error-message">'
        f'{_e(message)}</p>{code}<p><a href="/">Back to the upload page</a></p></section>',
    )


def _fmt_time(iso: str | None) -> str:
    if not iso:
        return ""
    return iso[:19].replace("T", " ") + " UTC"


def _files_text(job: Job) -> str:
    order = ("video", "keystrokes", "metadata")
    return ", ".join(job.filenames[r] for r in order if r in job.filenames)


def _band_html(band: str | None) -> str:
    if not band:
        return ""
    return f'<span class="band band-{_e(band)}">{_e(band)}</span>'


def _jobs_table(jobs: list[Job]) -> str:
    if not jobs:
        return '<p class="muted" id="no-jobs">No scans yet.</p>'
    rows = []
    for j in jobs:
        score = "" if j.risk is None else f"{j.risk:.2f}"
        report = f' · <a href="/jobs/{j.id}/report.json">report.json</a>' if j.status == "done" else ""
        status = j.status if j.status not in ("running",) else f"running {j.progress * 100:.0f}%"
        rows.append(
            f'<tr data-job-id="{j.id}"><td>{_e(_fmt_time(j.created))}</td><td>{_e(_files_text(j))}</td>'
            f'<td class="status status-{_e(j.status)}">{_e(status)}</td><td class="num risk">{score}</td>'
            f'<td>{_band_html(j.band)}</td><td><a href="/jobs/{j.id}">open</a>{report}</td></tr>'
        )
    return (
        '<table id="jobs"><thead><tr><th>Uploaded</th><th>Files</th><th>Status</th><th>Risk</th><th>Band</th>'
        "<th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


_UPLOAD_JS = r"""
(function () {
  var form = document.getElementById('upload-form');
  var maxBytes = Number(form.getAttribute('data-max-bytes'));
  var zone = document.getElementById('drop-zone');
  var statusEl = document.getElementById('upload-status');
  var bar = document.getElementById('upload-progress');
  var button = document.getElementById('submit');
  var inputs = {video: form.elements['video'], keystrokes: form.elements['keystrokes'], session: form.elements['session']};
  var exts = JSON.parse(form.getAttribute('data-extensions'));
  function say(msg, isError) { statusEl.textContent = msg; statusEl.className = isError ? 'error' : ''; }
  function roleOf(name) {
    var n = name.toLowerCase();
    for (var role in exts) { for (var i = 0; i < exts[role].length; i++) { if (n.endsWith(exts[role][i])) return role; } }
    return null;
  }
  function mb(n) { return (n / 1048576).toFixed(1) + ' MB'; }
  ['dragenter', 'dragover'].forEach(function (t) {
    zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.add('over'); });
  });
  zone.addEventListener('dragleave', function () { zone.classList.remove('over'); });
  zone.addEventListener('drop', function (ev) {
    ev.preventDefault(); zone.classList.remove('over');
    var unused = [], used = [];
    Array.prototype.forEach.call(ev.dataTransfer.files, function (f) {
      var role = roleOf(f.name);
      if (!role) { unused.push(f.name); return; }
      var dt = new DataTransfer(); dt.items.add(f); inputs[role].files = dt.files; used.push(f.name);
    });
    say((used.length ? 'Ready: ' + used.join(', ') + '. ' : '') + (unused.length ? 'Not a recording, keystroke log or session.json: ' + unused.join(', ') : ''), unused.length > 0);
  });
  form.addEventListener('submit', function (ev) {
    var total = 0;
    for (var role in inputs) { for (var i = 0; i < inputs[role].files.length; i++) { total += inputs[role].files[i].size; } }
    if (!inputs.video.files.length && !inputs.keystrokes.files.length) {
      ev.preventDefault(); say('Choose a recording (video) or a keystroke log first.', true); return;
    }
    if (total > maxBytes) {
      ev.preventDefault(); say('The files add up to ' + mb(total) + ', more than the limit of ' + mb(maxBytes) + '.', true); return;
    }
    if (!window.XMLHttpRequest || !window.FormData) return;  // a plain form post still works
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    bar.hidden = false; bar.value = 0; button.disabled = true; say('Uploading…', false);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = 100 * e.loaded / e.total; say('Uploading… ' + Math.floor(100 * e.loaded / e.total) + ' %', false); }
    };
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) {}
      if (xhr.status >= 200 && xhr.status < 300 && data && data.url) { say('Uploaded; starting the scan…', false); window.location.assign(data.url); return; }
      button.disabled = false; bar.hidden = true;
      say((data && data.detail) ? data.detail : ('The upload failed (HTTP ' + xhr.status + ').'), true);
    };
    xhr.onerror = function () { button.disabled = false; bar.hidden = true; say('The upload failed: the connection was lost.', true); };
    xhr.send(new FormData(form));
  });
})();
"""


def _upload_page(jobs: list[Job], total: int, max_bytes: int) -> str:
    exts = {role: sorted(r.extensions) for role, r in ROLES.items()}
    accept = {role: ",".join(v) for role, v in exts.items()}
    more = f'<p><a href="/jobs">All {total} scans</a></p>' if total > len(jobs) else ""
    body = f"""
<section>
<h1>Scan an interview recording</h1>
<form id="upload-form" action="/upload" method="post" enctype="multipart/form-data"
      data-max-bytes="{max_bytes}" data-extensions="{_e(json.dumps(exts))}">
<div id="drop-zone">Drop the recording here, with its keystroke log and session.json if you have them,<br>or choose the files below.</div>
<div class="field"><label for="video">Recording (video)</label>
<input type="file" id="video" name="video" accept="{_e(accept["video"])},video/*"></div>
<div class="field"><label for="keystrokes">Keystroke log (optional)</label>
<input type="file" id="keystrokes" name="keystrokes" accept="{_e(accept["keystrokes"])}">
<div class="hint">keystrokes.jsonl or .csv as described in the session format</div></div>
<div class="field"><label for="session">session.json (optional)</label>
<input type="file" id="session" name="session" accept=".json,application/json">
<div class="hint">candidate, claimed location, keystroke clock offset, challenge markers</div></div>
<p><button type="submit" id="submit">Upload and scan</button></p>
<progress id="upload-progress" max="100" value="0" hidden></progress>
<p id="upload-status" role="status"></p>
<p class="muted">Limit: {max_bytes / 1048576:.0f} MB per upload. Videos: {_e(", ".join(exts["video"]))}.
The files stay on this server, in its data directory.</p>
</form>
</section>
<section><h2>Recent scans</h2>{_jobs_table(jobs)}{more}</section>
<script>{_UPLOAD_JS}</script>
"""
    return _page("interview-guard: new scan", body)


_JOB_JS = r"""
(function () {
  var box = document.getElementById('job');
  var id = box.getAttribute('data-job-id');
  var bar = document.getElementById('scan-progress');
  var stage = document.getElementById('job-stage');
  var status = document.getElementById('job-status');
  var delay = 700;
  function poll() {
    fetch('/api/jobs/' + id, {headers: {'Accept': 'application/json'}, cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (j) {
        status.textContent = j.status; status.className = 'status status-' + j.status;
        stage.textContent = j.stage || '';
        bar.value = Math.round(100 * (j.progress || 0));
        document.getElementById('job-percent').textContent = Math.round(100 * (j.progress || 0)) + ' %';
        if (j.status === 'done' || j.status === 'failed' || j.status === 'interrupted') { window.location.reload(); return; }
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, delay);
})();
"""


def _job_progress_page(job: Job) -> str:
    pct = f"{job.progress * 100:.0f} %"
    body = f"""
<section id="job" data-job-id="{job.id}">
<h1>Scanning {_e(_files_text(job))}</h1>
<p>Status: <span id="job-status" class="status status-{_e(job.status)}">{_e(job.status)}</span>
· stage: <span id="job-stage">{_e(job.stage or "")}</span> · <span id="job-percent">{pct}</span></p>
<progress id="scan-progress" max="100" value="{job.progress * 100:.0f}"></progress>
<p class="muted">Uploaded {_e(_fmt_time(job.created))}. This page updates by itself; the report appears here when the scan is done.
You can close it and come back: the scan goes on.</p>
<noscript><p>Reload the page to see the progress.</p></noscript>
</section>
<script>{_JOB_JS}</script>
"""
    return _page(f"interview-guard: scanning {_files_text(job)}", body)


def _job_ended_page(job: Job) -> str:
    title = "The scan failed" if job.status == "failed" else "The scan was interrupted"
    rerun = ""
    if job.session_dir.is_dir():
        rerun = (
            f'<form method="post" action="/jobs/{job.id}/rerun"><button type="submit" id="rerun">Re-run the scan'
            "</button></form>"
        )
    body = f"""
<section id="job" data-job-id="{job.id}">
<h1>{_e(title)}</h1>
<p>Files: {_e(_files_text(job))} · uploaded {_e(_fmt_time(job.created))} · status
<span id="job-status" class="status status-{_e(job.status)}">{_e(job.status)}</span></p>
<pre id="job-error">{_e(job.error or "no message")}</pre>
{rerun}
</section>
"""
    return _page(f"interview-guard: {title.lower()}", body)


def _inject_nav(page: str, job: Job) -> str:
    """Put the server's navigation bar (and links to the raw report) at the top of a report page."""
    nav = f"<style>{_NAV_CSS}</style>" + _nav().replace(
        "</nav>", f'<a href="/jobs/{job.id}/report.json" id="report-json-link">report.json</a></nav>'
    )
    m = re.search(r"<body[^>]*>", page)
    if m is None:
        return nav + page
    return page[: m.end()] + "\n" + nav + page[m.end() :]


_NAV_CSS = (
    "nav.ig{background:#111827;color:#e5e7eb;font:14px/1.4 system-ui,sans-serif;padding:9px 20px}"
    "nav.ig a{color:#e5e7eb;margin-right:18px;text-decoration:none}nav.ig a:hover{text-decoration:underline}"
    "nav.ig .brand{font-weight:700;color:#fff}"
)


# ---------------------------------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------------------------------


def create_app(
    data_dir,
    *,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    workers: int = 1,
    allowed_hosts: set[str] | None = None,
    job_timeout_s: float | None = None,
    run_jobs: bool = True,
) -> FastAPI:
    """The FastAPI application serving the upload page over ``data_dir``.

    Parameters
    ----------
    data_dir : path
        Created if missing: ``jobs.sqlite3``, ``jobs/<id>/``, ``tmp/`` (see :mod:`.jobs`).
    token : str, optional
        When given, every route but ``/healthz`` needs it (``Authorization:
        Bearer``, or ``?token=`` once, which sets an HttpOnly cookie).
    max_upload_bytes : int
        Limit on one upload request; larger ones get 413 and leave nothing behind.
    workers : int
        Scans running at the same time (each in its own process).
    allowed_hosts : set of str, optional
        Accepted ``Host`` header names (``run_server`` passes the loopback
        names when bound to loopback, against DNS rebinding); None accepts any.
    job_timeout_s : float, optional
        A scan running longer than this is stopped and recorded as failed.
    run_jobs : bool
        Start the background runner with the application (tests may turn it off).

    Jobs a previous process left running are marked interrupted as soon as the
    application is created.
    """
    store = JobStore(data_dir)
    store.initialise()
    recovered = store.recover()
    runner = Runner(store, workers=workers, timeout_s=job_timeout_s)
    max_upload_bytes = int(max_upload_bytes)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        if run_jobs:
            runner.start()
        try:
            yield
        finally:
            runner.stop()

    app = FastAPI(
        title="interview-guard", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.store = store
    app.state.runner = runner
    app.state.recovered = recovered
    app.state.max_upload_bytes = max_upload_bytes

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request.headers, request.url.path):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return HTMLResponse(_message_page(title, str(exc.detail), status=exc.status_code), status_code=exc.status_code)

    def _job_or_404(job_id: str) -> Job:
        job = store.get(job_id) if valid_job_id(job_id) else None
        if job is None:
            raise StarletteHTTPException(404, "no such scan")
        return job

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse(_upload_page(store.list(limit=20), store.count(), max_upload_bytes))

    @app.get("/jobs", response_class=HTMLResponse)
    def jobs_page():
        jobs = store.list(limit=1000)
        body = f'<section><h1>All scans</h1><p><a class="button" href="/">New scan</a></p>{_jobs_table(jobs)}</section>'
        return HTMLResponse(_page("interview-guard: all scans", body))

    @app.get("/api/jobs")
    def api_jobs(limit: int = 200, offset: int = 0):
        limit = max(1, min(int(limit), 1000))
        return {
            "jobs": [_api_job(j) for j in store.list(limit=limit, offset=max(0, int(offset)))],
            "total": store.count(),
        }

    @app.get("/api/jobs/{job_id}")
    def api_job(job_id: str):
        return _api_job(_job_or_404(job_id))

    @app.get("/jobs/{job_id}/report.json")
    def report_json(job_id: str):
        job = _job_or_404(job_id)
        if job.status != "done" or job.report_path is None or not job.report_path.is_file():
            raise StarletteHTTPException(404, f"no report yet: the scan is {job.status}")
        return FileResponse(job.report_path, media_type="application/json")

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(job_id: str):
        job = _job_or_404(job_id)
        if job.status in ("queued", "running"):
            return HTMLResponse(_job_progress_page(job))
        if job.status in ("failed", "interrupted"):
            return HTMLResponse(_job_ended_page(job))
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
                return HTMLResponse(
                    _message_page(
                        "The report cannot be shown", str(exc).replace(str(store.data_dir), "DATA"), status=500
                    ),
                    status_code=500,
                )
            atomic_write_text(cached, page)
        return HTMLResponse(_inject_nav(page, job))

    @app.post("/jobs/{job_id}/rerun")
    def rerun(job_id: str, request: Request):
        job = _job_or_404(job_id)
        if not store.requeue(job.id):
            raise StarletteHTTPException(
                409, f"this scan is {job.status}; only failed or interrupted scans can be re-run"
            )
        runner.notify()
        if _wants_json(request.headers, request.url.path):
            return JSONResponse({"id": job.id, "url": f"/jobs/{job.id}"})
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.post("/upload")
    async def upload(request: Request):
        wants_json = _wants_json(request.headers, request.url.path)

        def refuse(status: int, message: str):
            if wants_json:
                return JSONResponse({"detail": message}, status_code=status)
            return HTMLResponse(_message_page("Upload refused", message, status=status), status_code=status)

        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return refuse(400, "bad Content-Length header")
            if int(length) > max_upload_bytes:
                # Refused before a byte of the body is read.
                return refuse(
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
        except UploadError as exc:
            if sink is not None:
                sink.close()
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.status != 413:
                await body.drain(max_upload_bytes - (sink.received if sink is not None else 0))
            return refuse(exc.status, exc.message)
        except ClientDisconnect:
            if sink is not None:
                sink.close()
            shutil.rmtree(tmp, ignore_errors=True)
            return refuse(400, "the upload was cut off before it was complete")
        except BaseException:
            if sink is not None:
                sink.close()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.replace(tmp, store.job_dir(job_id))
        store.add(job_id, {role: f.original_name for role, f in files.items()})
        runner.notify()
        url = f"/jobs/{job_id}"
        if wants_json:
            return JSONResponse({"id": job_id, "url": url}, status_code=201, headers={"Location": url})
        return RedirectResponse(url, status_code=303)

    app.add_middleware(GuardMiddleware, token=token, allowed_hosts=allowed_hosts)
    return app


class _Body:
    """The request body, read straight from ASGI ``receive`` so we know whether more is coming."""

    def __init__(self, request: Request) -> None:
        self.receive = request.receive
        self.more = True

    async def chunks(self):
        while self.more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.more = False
                raise ClientDisconnect()
            self.more = bool(message.get("more_body", False))
            body = message.get("body", b"")
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


def _api_job(job: Job) -> dict:
    d = job.to_dict()
    d["url"] = f"/jobs/{job.id}"
    d["report_url"] = f"/jobs/{job.id}/report.json" if job.status == "done" else None
    return d


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
    data_dir="interview-guard-data",
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    workers: int = 1,
    job_timeout_s: float | None = None,
) -> None:
    """Serve the upload page with uvicorn until Ctrl-C (what ``interview-guard serve`` runs)."""
    import uvicorn

    loopback = is_loopback(host)
    if not loopback and not token:
        print(
            f"interview-guard: warning: serving on {host} without an access token: anyone who can reach this "
            "address can upload recordings and read every report (set --token or INTERVIEW_GUARD_TOKEN)",
            file=sys.stderr,
        )
    allowed = set(_LOOPBACK_NAMES) if loopback else None
    app = create_app(
        data_dir,
        token=token,
        max_upload_bytes=max_upload_bytes,
        workers=workers,
        allowed_hosts=allowed,
        job_timeout_s=job_timeout_s,
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
        + ("; access token required" if token else "")
        + ")",
        file=sys.stderr,
    )
    logging.getLogger("uvicorn.access").addFilter(_RedactToken())
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
