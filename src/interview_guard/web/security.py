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
import logging
import os
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interview_guard.web.pages import message_page

__all__ = [
    "FORM_PAGE_HEADERS",
    "ANONYMOUS",
    "COOKIE_NAME",
    "GuardMiddleware",
    "SHARED_TOKEN_NAME",
    "load_token_file",
    "reviewer_of",
    "PAGE_CSP",
    "REPORT_CSP",
    "is_loopback",
    "local_path",
    "same_origin",
    "wants_json",
]

_log = logging.getLogger("interview_guard.web")

COOKIE_NAME = "ig_token"
#: The reviewer name of the single ``--token`` (named tokens come from ``--token-file``).
SHARED_TOKEN_NAME = "shared-token"
#: The reviewer name when the server has no token at all.
ANONYMOUS = "anonymous"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,63}$")

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


# Pages with a form that posts back (the report page's verdict form, the failed page's re-run button): under
# ``no-referrer`` a browser sends ``Origin: null`` with a form post, which the same-origin check must refuse;
# ``same-origin`` sends this server's own origin to itself and still nothing to another site.
FORM_PAGE_HEADERS = {"Referrer-Policy": "same-origin"}


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


def load_token_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read named tokens: one ``name:token`` per line (blank lines and ``#`` comments skipped).

    Names are 1-64 characters (letters, digits, space and ``._@+-``, starting with a letter or digit) and
    unique; tokens have no white space, are at least 8 characters and unique. Returns name -> token.
    Raises :class:`~interview_guard.errors.InputError` naming the file and the line.
    """
    from interview_guard.errors import InputError

    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise InputError(f"token file unreadable ({exc.strerror or exc.__class__.__name__})", path=path) from None
    except UnicodeDecodeError:
        raise InputError("token file is not UTF-8 text", path=path) from None
    tokens: dict[str, str] = {}
    seen: dict[str, str] = {}
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            raise InputError("expected 'name:token'", path=path, line=n)
        name, token = (x.strip() for x in line.split(":", 1))
        if not _NAME_RE.match(name):
            raise InputError(
                f"bad reviewer name {name[:70]!r} (1-64 letters, digits, space or ._@+-)", path=path, line=n
            )
        if not token or any(c.isspace() for c in token) or len(token) < 8:
            raise InputError(f"the token of {name!r} must be at least 8 characters without spaces", path=path, line=n)
        if name in tokens:
            raise InputError(f"reviewer {name!r} is listed twice", path=path, line=n)
        if token in seen:
            raise InputError(f"{name!r} has the same token as {seen[token]!r}", path=path, line=n)
        tokens[name] = token
        seen[token] = name
    if not tokens:
        raise InputError("no 'name:token' line in the token file", path=path)
    return tokens


def reviewer_of(scope: Mapping[str, object]) -> str:
    """The name the middleware identified the request's token as (:data:`ANONYMOUS` without tokens)."""
    state = scope.get("state")
    name = state.get("reviewer") if isinstance(state, dict) else None
    return name if isinstance(name, str) else ANONYMOUS


def wants_json(request_headers: Headers, path: str) -> bool:
    """Whether an answer (or an error) goes out as JSON: API routes, ``*.json``, or a client that asks for it."""
    if path.startswith("/api/") or path.endswith(".json"):
        return True
    accept = request_headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def local_path(path: str) -> str:
    """``path`` as a redirect target that stays on this server.

    A path such as ``//evil.example/`` or ``/\\evil.example`` is a protocol-relative address to a browser
    (which also drops tabs and newlines): the path is percent-encoded and its leading slashes collapse to one.
    """
    quoted = quote(path, safe="/:@!$&'()*+,;=-._~")
    return "/" + quoted.lstrip("/")


def same_origin(scope: Scope, headers: Headers) -> bool:
    """Whether a state-changing request comes from this server's own pages.

    With an ``Origin`` header: its scheme and host:port must be the request's own (``null`` never is).
    Without one: a browser's ``Sec-Fetch-Site`` of ``cross-site`` or ``same-site`` (another port or
    subdomain) is refused; no header at all (curl, scripts with the token) is accepted.
    """
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site", "").strip().lower() not in ("cross-site", "same-site")
    if origin == "null":
        return False
    o = urlsplit(origin)
    scheme = str(scope.get("scheme", "http")).lower()
    return o.scheme.lower() == scheme and o.netloc.lower() == headers.get("host", "").lower()


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

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None = None,
        tokens: Mapping[str, str] | None = None,
        allowed_hosts: set[str] | None = None,
    ) -> None:
        self.app = app
        named = dict(tokens or {})
        if token:
            named.setdefault(SHARED_TOKEN_NAME, token)
        # name -> (token, cookie value); every token sets its own cookie, so the cookie names the reviewer too.
        self.tokens = {name: (t, _cookie_value(t)) for name, t in named.items()}
        self.allowed_hosts = None if allowed_hosts is None else {h.strip("[]").lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        try:
            response = self._check(scope)
            if response is None:
                await self.app(scope, receive, send_with_headers)
                return
        except Exception as exc:  # a bug: one line in the log, a plain 500 page (with the headers) to the client
            path = scope.get("path", "")
            what = " ".join(str(exc).split())[:300]
            _log.error(
                "interview-guard: internal error on %s %s: %s: %s",
                scope.get("method", ""),
                path,
                type(exc).__name__,
                what,
            )
            _log.debug("traceback", exc_info=True)
            if started:
                return  # the answer is half sent: the connection is closed
            response = self._deny(
                500,
                "internal error: the server could not answer this request (the server's log has a line about it)",
                Headers(scope=scope),
                path,
                title="Internal error",
            )
        await response(scope, receive, send_with_headers)

    def _match(self, given: str, which: int) -> str | None:
        """The name whose token (``which`` 0) or cookie value (1) ``given`` is; every entry is compared."""
        found = None
        for name, values in self.tokens.items():
            if _token_ok(given, values[which]):
                found = name
        return found

    def _deny(self, status: int, message: str, headers: Headers, path: str, *, title: str = "Not allowed") -> Response:
        if wants_json(headers, path):
            return JSONResponse({"detail": message}, status_code=status)
        return HTMLResponse(message_page(title, message, status=status), status_code=status)

    def _check(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        path: str = scope.get("path", "/")
        host = headers.get("host", "")
        hostname = (urlsplit("//" + host).hostname or "") if host else ""
        if self.allowed_hosts is not None and hostname.lower() not in self.allowed_hosts:
            # DNS rebinding: a page on another site that resolves its own name to 127.0.0.1.
            return self._deny(400, f"unknown host {host!r}: open the page as http://127.0.0.1:PORT/", headers, path)
        if scope.get("method", "GET") not in ("GET", "HEAD", "OPTIONS") and not same_origin(scope, headers):
            return self._deny(403, "cross-site request refused", headers, path)
        if not self.tokens or path == "/healthz" or path.startswith("/static/"):
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given:
            name = self._match(given[-1], 0)
            if name is None:
                return self._deny(401, "wrong access token", headers, path)
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            # Only ever to a path on this server (a path like //evil.example/ would leave it).
            resp = RedirectResponse(local_path(path) + (f"?{rest}" if rest else ""), status_code=303)
            resp.set_cookie(
                COOKIE_NAME,
                self.tokens[name][1],
                httponly=True,
                samesite="strict",
                path="/",
                secure=scope.get("scheme") == "https",
            )
            return resp
        auth = headers.get("authorization", "")
        name = self._match(auth[7:].strip(), 0) if auth[:7].lower() == "bearer " else None
        if name is None:
            cookie = _parse_cookie(headers.get("cookie", "")).get(COOKIE_NAME)
            name = None if cookie is None else self._match(cookie, 1)
        if name is not None:
            state = scope.setdefault("state", {})
            state["reviewer"] = name
            return None
        return self._deny(
            401,
            "this server needs an access token: open the address once with ?token=YOUR_TOKEN "
            "(a browser then keeps a cookie) or send 'Authorization: Bearer YOUR_TOKEN'",
            headers,
            path,
        )
