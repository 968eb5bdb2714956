"""What every request and response goes through: Host allow-list, same-origin POSTs, access token, security headers.

:class:`GuardMiddleware` is a pure ASGI middleware: it never touches the
request body, so uploads keep streaming.

Content-Security-Policy: the server's own pages load their CSS and script
from ``/static/`` only (:data:`PAGE_CSP`: ``script-src 'self'; style-src
'self'``, nothing inline). A report page is the self-contained document of
:mod:`interview_guard.report.html` (inline CSS, ``style`` attributes, images as
``data:`` URIs, no script), so it is sent with :data:`REPORT_CSP`, which
allows inline style and no script at all.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interview_guard.web.pages import message_page

__all__ = [
    "COOKIE_NAME",
    "GuardMiddleware",
    "PAGE_CSP",
    "REPORT_CSP",
    "is_loopback",
    "wants_json",
]

COOKIE_NAME = "ig_token"

_COMMON_CSP = (
    "img-src 'self' data: blob:; media-src 'self' data: blob:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# The upload, job and list pages, error pages, JSON answers and the static files themselves.
PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " + _COMMON_CSP
# A finished scan's report page (set by the route that serves it).
REPORT_CSP = "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; " + _COMMON_CSP

_SECURITY_HEADERS = [
    (b"content-security-policy", PAGE_CSP.encode()),
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


def wants_json(request_headers: Headers, path: str) -> bool:
    """Whether an answer (or an error) goes out as JSON: API routes, ``*.json``, or a client that asks for it."""
    if path.startswith("/api/") or path.endswith(".json"):
        return True
    accept = request_headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _parse_cookie(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for piece in header.split(";"):
        if "=" in piece:
            k, v = piece.split("=", 1)
            out.setdefault(k.strip(), v.strip().strip('"'))
    return out


class GuardMiddleware:
    """Host allow-list, access token, same-origin POSTs and security headers, for every response.

    ``/healthz`` and the static files (the pages' CSS and script, no data) need no token, so that
    the "needs an access token" page itself is styled; the Host check applies to them too.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, allowed_hosts: set[str] | None) -> None:
        self.app = app
        self.token = token or None
        self.cookie = _cookie_value(token) if token else None
        self.allowed_hosts = None if allowed_hosts is None else {h.strip("[]").lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        response = self._check(scope)
        if response is not None:
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _deny(self, status: int, message: str, headers: Headers, path: str) -> Response:
        if wants_json(headers, path):
            return JSONResponse({"detail": message}, status_code=status)
        return HTMLResponse(message_page("Not allowed", message, status=status), status_code=status)

    def _check(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        path: str = scope.get("path", "/")
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
        if self.token is None or self.cookie is None or path == "/healthz" or path.startswith("/static/"):
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
