"""Bad-input corpus for the upload server (issue #12): requests built at test time, with what the server must answer.

Each case is ``{"id", "cls", "make", "expect"}``. ``make(tmp_path)`` returns ``{"request": {...}}``:

* ``method``, ``path`` (with the query string), optional ``headers`` (a dict);
* ``parts``: for ``POST /upload``, a list of ``(field, client file name, bytes)`` sent as
  ``multipart/form-data`` (``Accept: application/json`` unless the headers say otherwise);
* ``app``: keyword arguments for ``create_app`` (``token``, ``allowed_hosts``), optional;
* ``base_url``: the client's base address (default ``http://127.0.0.1:8000``), optional.

``expect`` holds ``status`` (the HTTP status), ``words`` (each must be in the answer's one-line
``detail``, or for a redirect in ``Location``), ``file`` (the client's file name the message must
name, or None) and, for redirects, ``location`` (the exact ``Location``). Every answer must also carry
the security headers, name no server path, and the server must log no traceback.
"""

from __future__ import annotations

import json
from typing import Any

TOKEN = "corpus-token-7d1f"


def _events(n: int = 40) -> bytes:
    out = []
    t = 1000.0
    for i in range(n):
        key = "abcdefghij"[i % 10]
        out.append({"t": t, "type": "down", "key": key, "code": f"Key{key.upper()}"})
        out.append({"t": t + 60.0, "type": "up", "key": key, "code": f"Key{key.upper()}"})
        t += 140.0
    return "".join(json.dumps(e) + "\n" for e in out).encode()


def _upload(*parts: tuple[str, str, bytes], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"request": {"method": "POST", "path": "/upload", "parts": list(parts), "headers": headers or {}}}


def _get(path: str, **extra: Any) -> dict[str, Any]:
    return {"request": {"method": "GET", "path": path, **extra}}


def _ks(name: str, content: bytes) -> tuple[str, str, bytes]:
    return ("keystrokes", name, content)


def _session(content: bytes, name: str = "my-session.json") -> tuple[str, str, bytes]:
    return ("session", name, content)


def _bad_log(status: int, name: str, *words: str) -> dict[str, Any]:
    return {"status": status, "words": list(words), "file": name}


CASES: list[dict[str, Any]] = [
    # -- http-400: every parse failure of an upload is a 400 with one line naming the file -------------------------
    {
        "id": "keystrokes-t-5001-digits",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("digits.jsonl", b'{"t": ' + b"1" * 5001 + b', "type": "down", "key": "a"}\n')),
        "expect": _bad_log(400, "digits.jsonl", "line 1", "5001 characters"),
    },
    {
        "id": "keystrokes-100k-nested-arrays",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("nested.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n")),
        "expect": _bad_log(400, "nested.jsonl", "line 1", "nested deeper"),
    },
    {
        "id": "keystrokes-paste-length-1e30",
        "cls": "http-400",
        "make": lambda tmp: _upload(
            _ks("paste.jsonl", _events(5) + b'{"t": 99999, "type": "paste", "length": 1e30}\n')
        ),
        "expect": _bad_log(400, "paste.jsonl", "bad keystroke log"),
    },
    {
        "id": "keystrokes-csv-length-1e30",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("paste.csv", b"t,type,key,length\n1,down,a,\n2,up,a,\n3,paste,,1e30\n")),
        "expect": _bad_log(400, "paste.csv", "bad keystroke log"),
    },
    {
        "id": "keystrokes-csv-field-over-the-csv-limit",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("big.csv", b"t,type,key\n1,down," + b"x" * 200_000 + b"\n2,up,a\n")),
        "expect": _bad_log(400, "big.csv", "line 2", "a field longer than 131072 characters"),
    },
    {
        "id": "keystrokes-t-1e400",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("inf.jsonl", b'{"t": 1e400, "type": "down", "key": "a"}\n')),
        "expect": _bad_log(400, "inf.jsonl", "line 1", "out of range"),
    },
    {
        "id": "session-json-deep-nesting",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), _session(b"[" * 100_000 + b"]" * 100_000)),
        "expect": _bad_log(400, "my-session.json", "bad session.json", "nested deeper"),
    },
    {
        "id": "session-json-offset-5001-digits",
        "cls": "http-400",
        "make": lambda tmp: _upload(
            _ks("k.jsonl", _events()), _session(b'{"keystroke_clock_offset_ms": ' + b"9" * 5001 + b"}")
        ),
        "expect": _bad_log(400, "my-session.json", "bad session.json", "5001 characters"),
    },
    {
        "id": "session-json-not-utf8",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), _session(b'{"candidate_id": "\xff\xfe"}')),
        "expect": _bad_log(400, "my-session.json", "not UTF-8"),
    },
    {
        "id": "session-json-lone-surrogate",
        "cls": "http-400",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), _session(b'{"candidate_id": "\\ud800x"}')),
        "expect": _bad_log(400, "my-session.json", "bad session.json", "'candidate_id' is not valid Unicode text"),
    },
    {
        "id": "api-jobs-offset-2**63",
        "cls": "http-400",
        "make": lambda tmp: _get("/api/jobs?offset=9223372036854775808"),
        "expect": {"status": 400, "words": ["offset"], "file": None},
    },
    {
        "id": "api-jobs-limit-below-int64",
        "cls": "http-400",
        "make": lambda tmp: _get("/api/jobs?limit=-9223372036854775809"),
        "expect": {"status": 400, "words": ["limit"], "file": None},
    },
    {
        "id": "api-jobs-limit-not-a-number",
        "cls": "http-400",
        "make": lambda tmp: _get("/api/jobs?limit=lots"),
        "expect": {"status": 400, "words": ["limit", "integer"], "file": None},
    },
    {
        "id": "unknown-route-404",
        "cls": "http-400",
        "make": lambda tmp: _get("/api/nothing-here"),
        "expect": {"status": 404, "words": ["Not Found"], "file": None},
    },
    {
        "id": "wrong-method-405",
        "cls": "http-400",
        "make": lambda tmp: _get("/upload"),
        "expect": {"status": 405, "words": ["Method Not Allowed"], "file": None},
    },
    # -- smaller: BOM accepted, redirects stay local, the same-origin check -----------------------------------------
    {
        "id": "keystrokes-bom-at-start",
        "cls": "smaller",
        "make": lambda tmp: _upload(_ks("bom.jsonl", b"\xef\xbb\xbf" + _events())),
        "expect": {"status": 201, "words": [], "file": None},
    },
    {
        "id": "keystrokes-csv-bom-at-start",
        "cls": "smaller",
        "make": lambda tmp: _upload(_ks("bom.csv", b"\xef\xbb\xbft,type,key\n1,down,a\n2,up,a\n")),
        "expect": {"status": 201, "words": [], "file": None},
    },
    {
        "id": "session-json-bom-at-start",
        "cls": "smaller",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), _session(b'\xef\xbb\xbf{"candidate_id": "c-1"}')),
        "expect": {"status": 201, "words": [], "file": None},
    },
    {
        "id": "token-redirect-to-other-site",
        "cls": "smaller",
        "make": lambda tmp: _get(f"//evil.example/?token={TOKEN}", app={"token": TOKEN}),
        "expect": {"status": 303, "words": [], "file": None, "location": "/evil.example/"},
    },
    {
        "id": "token-redirect-backslash",
        "cls": "smaller",
        "make": lambda tmp: _get(f"/\\evil.example/?token={TOKEN}", app={"token": TOKEN}),
        "expect": {"status": 303, "words": [], "file": None, "location": "/%5Cevil.example/"},
    },
    {
        "id": "origin-other-scheme",
        "cls": "smaller",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), headers={"Origin": "https://127.0.0.1:8000"}),
        "expect": {"status": 403, "words": ["cross-site"], "file": None},
    },
    {
        "id": "sec-fetch-site-cross-site-without-origin",
        "cls": "smaller",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), headers={"Sec-Fetch-Site": "cross-site"}),
        "expect": {"status": 403, "words": ["cross-site"], "file": None},
    },
    {
        "id": "origin-same-scheme-and-host",
        "cls": "smaller",
        "make": lambda tmp: _upload(_ks("k.jsonl", _events()), headers={"Origin": "http://127.0.0.1:8000"}),
        "expect": {"status": 201, "words": [], "file": None},
    },
]
