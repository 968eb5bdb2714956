"""The upload page (interview-guard serve): uploads, limits, names, types, token, restart, a whole scan."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from conftest import SAMPLES, make_video, typing_events

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from interview_guard.web.app import COOKIE_NAME, create_app  # noqa: E402
from interview_guard.web.jobs import JobStore  # noqa: E402
from interview_guard.web.uploads import UploadError, UploadSink, sanitize_filename, sniff_video  # noqa: E402

BOUNDARY = "----igtestboundary7MA4YWxkTrZu0gW"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"
WAIT_S = 180.0


def multipart(parts, boundary: str = BOUNDARY) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand, so file names reach the server byte for byte."""
    out = bytearray()
    for field, filename, content in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'form-data; name="{field}"'.encode()
        if filename is not None:
            name = filename.encode("utf-8") if isinstance(filename, str) else filename
            disp += b'; filename="' + name + b'"'
        out += b"Content-Disposition: " + disp + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post_parts(client, parts, **headers):
    body, ctype = multipart(parts)
    return client.post(
        "/upload",
        content=body,
        headers={"Content-Type": ctype, "Accept": "application/json", **headers},
        follow_redirects=False,
    )


def keystroke_bytes(n: int = 120, seed: int = 0) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in typing_events(n, seed=seed)).encode()


def leftovers(data: Path) -> list[str]:
    """Files under tmp/ and jobs/ (what a refused upload must not leave)."""
    return sorted(str(p.relative_to(data)) for sub in ("tmp", "jobs") for p in (data / sub).rglob("*"))


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def client(data):
    app = create_app(data, max_upload_bytes=2 << 20, run_jobs=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("web-video") / "clip.mp4", seconds=2.0, fps=10, audio=True)


# --- pages ---------------------------------------------------------------------------------------------------------


def test_upload_page_is_self_contained_with_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200
    page = r.text
    assert '<form id="upload-form" action="/upload" method="post" enctype="multipart/form-data"' in page
    for field in ("video", "keystrokes", "session"):
        assert f'name="{field}"' in page
    assert 'id="drop-zone"' in page and '<script src="/static/upload.js"></script>' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external resources (no CDN)"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/healthz").json() == {"ok": True}


def test_pages_load_css_and_script_from_static_under_a_strict_csp(client):
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    for path in ("/", "/jobs", "/jobs/" + "0" * 32):
        page = client.get(path).text
        assert '<link rel="stylesheet" href="/static/app.css">' in page and 'id="ig-nav"' in page
        assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", page), f"nothing inline on {path}"
    for name, ctype, needle in (
        ("app.css", "text/css", "#drop-zone"),
        ("nav.css", "text/css", "nav.ig"),
        ("upload.js", "text/javascript", "drop-zone"),
        ("job.js", "text/javascript", "/api/jobs/"),
    ):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype) and needle in r.text
        assert r.headers["x-content-type-options"] == "nosniff"
    for bad in ("nope.js", "..%2Fapp.py", "app.py", "__init__.py", ".css", "APP.CSS"):
        assert client.get(f"/static/{bad}").status_code == 404, bad
    assert client.get("/static/../app.py").status_code == 404


def test_static_files_need_no_token_but_the_right_host(data):
    app = create_app(data, token="s3cret-token", allowed_hosts={"127.0.0.1"}, run_jobs=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/").status_code == 401
        assert c.get("/static/app.css").status_code == 200
        assert c.get("/static/app.css", headers={"Host": "evil.example"}).status_code == 400


def test_cli_import_does_not_load_the_web_stack():
    code = (
        "import sys, interview_guard.cli; "
        "print(','.join(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


# --- size limit ----------------------------------------------------------------------------------------------------


def test_declared_oversize_upload_is_413_before_reading(client, data):
    body, ctype = multipart([("video", "big.mp4", MP4_HEAD + b"\0" * (3 << 20))])
    r = client.post("/upload", content=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]
    assert leftovers(data) == []
    assert client.get("/api/jobs").json()["total"] == 0


async def _asgi_post(app, chunks: list[bytes], content_type: str):
    """POST /upload straight through ASGI, the body in several chunks, without a Content-Length."""
    consumed = 0
    sent = []

    async def receive():
        nonlocal consumed
        if consumed < len(chunks):
            consumed += 1
            return {"type": "http.request", "body": chunks[consumed - 1], "more_body": consumed < len(chunks)}
        await anyio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/upload",
        "raw_path": b"/upload",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", content_type.encode()),
            (b"accept", b"application/json"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), consumed


def test_streamed_oversize_upload_is_413_stops_reading_and_leaves_nothing(data):
    limit = 256 << 10
    app = create_app(data, max_upload_bytes=limit, run_jobs=False)
    body, ctype = multipart(
        [("keystrokes", "k.jsonl", keystroke_bytes(50)), ("video", "big.mp4", MP4_HEAD + b"\0" * (1 << 20))]
    )
    step = 32 << 10
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    status, detail, consumed = anyio.run(_asgi_post, app, chunks, ctype)
    assert status == 413, detail
    assert consumed <= limit // step + 1 < len(chunks), "the server must stop reading at the limit"
    assert leftovers(data) == []
    assert JobStore(data).count() == 0


def test_sink_writes_in_chunks_and_refuses_past_the_limit(tmp_path):
    body, ctype = multipart([("video", "v.mp4", MP4_HEAD + b"x" * 200_000)])
    sink = UploadSink(tmp_path, ctype, max_bytes=100_000)
    with pytest.raises(UploadError) as err:
        for i in range(0, len(body), 10_000):
            sink.feed(body[i : i + 10_000])
    assert err.value.status == 413
    sink.close()
    partial = tmp_path / "video.mp4"
    assert partial.is_file() and 0 < partial.stat().st_size <= 100_000  # streamed to disk, never whole in memory


def test_session_json_has_its_own_small_limit(client, data):
    r = post_parts(
        client,
        [
            ("keystrokes", "k.jsonl", keystroke_bytes()),
            ("session", "session.json", b'{"x": "' + b"a" * (1 << 20) + b'"}'),
        ],
    )
    assert r.status_code == 413
    assert leftovers(data) == []


# --- names -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\x.mp4", "x.mp4"),
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
        ("a\x00b.mp4", "ab.mp4"),
        ("clip.mp4\x00.txt", "clip.mp4.txt"),
        ("．．／．．／x.mp4", "x.mp4"),  # full-width dots and slash (NFKC)
        ("интервью 面接.mp4", "интервью 面接.mp4"),
        ("<script>alert(1)</script>.mp4", "script_.mp4"),
        ("..", "upload"),
        ("", "upload"),
        ("a" * 300 + ".mp4", "a" * 116 + ".mp4"),
        ("\u202egnp.mp4", "gnp.mp4"),  # right-to-left override dropped
    ],
)
def test_sanitize_filename(raw, clean):
    assert sanitize_filename(raw) == clean


@pytest.mark.parametrize(
    "field, name, expect",
    [
        ("keystrokes", b"../../etc/passwd", 400),  # no accepted extension
        ("keystrokes", b"../../../../etc/evil.jsonl", 201),
        ("keystrokes", b"..\\..\\evil.jsonl", 201),
        ("keystrokes", b"/abs/path/k.jsonl", 201),
        ("keystrokes", b"k\x00.jsonl", 201),
        ("keystrokes", b"k.jsonl\x00.exe", 400),
        ("keystrokes", "ключи-キー.jsonl".encode(), 201),
        ("keystrokes", b"\xff\xfe bad utf8.jsonl", 201),
    ],
)
def test_traversal_and_odd_names_never_escape_the_job_dir(client, data, tmp_path, field, name, expect):
    before = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(data))
    r = post_parts(client, [(field, name, keystroke_bytes())])
    assert r.status_code == expect, r.text
    after = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(data))
    assert after == before, "nothing may be written outside the data directory"
    if expect != 201:
        assert leftovers(data) == []
        return
    job = client.get(r.json()["url"].replace("/jobs/", "/api/jobs/")).json()
    shown = job["filenames"]["keystrokes"]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown and not shown.startswith(".")
    stored = JobStore(data).get(job["id"])
    assert sorted(p.name for p in stored.session_dir.iterdir()) == ["keystrokes.jsonl"]
    assert stored.session_dir.resolve().is_relative_to((data / "jobs").resolve())
    # The shown name is escaped in the page.
    page = client.get("/").text
    assert "<script>alert" not in page


def test_video_with_traversal_name_is_stored_under_a_server_name(client, data, small_video):
    r = post_parts(client, [("video", "..\\..\\x.mp4", small_video.read_bytes())])
    assert r.status_code == 201, r.text
    job = JobStore(data).get(r.json()["id"])
    assert job.filenames == {"video": "x.mp4"}
    assert [p.name for p in job.session_dir.iterdir()] == ["video.mp4"]


def test_job_ids_in_urls_cannot_traverse(client):
    for path in (
        "/jobs/..%2F..%2Fetc%2Fpasswd",
        "/jobs/%2e%2e/report.json",
        "/api/jobs/..",
        "/jobs/0/report.json",
        "/api/jobs/" + "a" * 31 + "%00",
    ):
        r = client.get(path)
        assert r.status_code == 404, path


# --- types -----------------------------------------------------------------------------------------------------------


def test_text_file_named_mp4_is_refused(client, data):
    r = post_parts(client, [("video", "clip.mp4", b"this is not a video, just some text\n" * 10)])
    assert r.status_code == 400
    assert "not a video file" in r.json()["detail"]
    assert leftovers(data) == []


def test_wrong_container_for_extension_and_unknown_extension(client, data):
    r = post_parts(client, [("video", "clip.mp4", WEBM_HEAD + b"\0" * 100)])
    assert r.status_code == 400 and "WebM/Matroska" in r.json()["detail"] and ".mp4" in r.json()["detail"]
    r = post_parts(client, [("video", "clip.exe", MP4_HEAD + b"\0" * 100)])
    assert r.status_code == 400 and "not an accepted recording type" in r.json()["detail"]
    r = post_parts(client, [("video", "tiny.mp4", b"\0\0\0")])
    assert r.status_code == 400 and "too short" in r.json()["detail"]
    assert leftovers(data) == []


def test_sniff_video():
    assert sniff_video(MP4_HEAD) == "isobmff"
    assert sniff_video(b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat") == "isobmff"
    assert sniff_video(WEBM_HEAD + b"\0" * 8) == "ebml"
    assert sniff_video(b"RIFF\x24\x00\x00\x00AVI LIST") == "riff-avi"
    assert sniff_video(b"RIFF\x24\x00\x00\x00WAVEfmt ") is None
    assert sniff_video(b"GIF89a........") is None


@pytest.mark.parametrize(
    "content, words",
    [
        (
            b'{"t": 10, "type": "down", "key": "a", "code": "KeyA"}\n{"t": 15, "type": "up", "key": "a", "code": 7}\n',
            "line 2",
        ),
        (b'{"t": 10, "type": "down"}\nnot json\n', "line 2"),
        (b'{"t": 10, "type": "teleport"}\n', "line 1"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"\n\n", "no events"),
    ],
)
def test_bad_keystroke_log_is_400_with_the_problem(client, data, content, words):
    r = post_parts(client, [("keystrokes", "my-log.jsonl", content)])
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert words in detail and "my-log.jsonl" in detail
    assert str(data) not in detail, "messages must not show server paths"
    assert leftovers(data) == []


def test_bad_session_json_and_missing_files(client, data):
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("session", "session.json", b"{nope")])
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = post_parts(
        client,
        [
            ("keystrokes", "k.jsonl", keystroke_bytes()),
            ("session", "session.json", b'{"keystroke_clock_offset_ms": "soon"}'),
        ],
    )
    assert r.status_code == 400 and "keystroke_clock_offset_ms" in r.json()["detail"]
    r = post_parts(client, [("session", "session.json", b"{}")])
    assert r.status_code == 400 and "choose a recording" in r.json()["detail"]
    r = post_parts(client, [("keystrokes", "a.jsonl", keystroke_bytes()), ("keystrokes", "b.jsonl", keystroke_bytes())])
    assert r.status_code == 400 and "more than one" in r.json()["detail"]
    r = client.post("/upload", content=b"video=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert leftovers(data) == []


def test_html_form_post_redirects_and_errors_are_pages(client):
    body, ctype = multipart([("keystrokes", "k.jsonl", keystroke_bytes()), ("video", "", b"")])  # no video chosen
    r = client.post(
        "/upload", content=body, headers={"Content-Type": ctype, "Accept": "text/html"}, follow_redirects=False
    )
    assert r.status_code == 303 and re.fullmatch(r"/jobs/[0-9a-f]{32}", r.headers["location"])
    page = client.get(r.headers["location"]).text
    assert 'id="scan-progress"' in page and "k.jsonl" in page
    body, ctype = multipart([("video", "x.mp4", b"text" * 10)])
    r = client.post("/upload", content=body, headers={"Content-Type": ctype, "Accept": "text/html"})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"] and 'id="error-message"' in r.text


def test_cross_site_post_and_unknown_host_are_refused(data):
    app = create_app(data, run_jobs=False, allowed_hosts={"127.0.0.1", "localhost", "::1"})
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/").status_code == 200
        assert c.get("/", headers={"Host": "evil.example:8000"}).status_code == 400  # DNS rebinding
        r = post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes())], Origin="http://evil.example")
        assert r.status_code == 403
        r = post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes())], Origin="http://127.0.0.1:8000")
        assert r.status_code == 201


# --- token -----------------------------------------------------------------------------------------------------------


def test_token_required_and_accepted(data):
    token = "correct-horse-battery-staple"
    app = create_app(data, token=token, run_jobs=False)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/").status_code == 401
        assert c.get("/api/jobs").status_code == 401 and "token" in c.get("/api/jobs").json()["detail"]
        assert post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes())]).status_code == 401
        assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get("/?token=wrong", follow_redirects=False).status_code == 401
        assert COOKIE_NAME not in c.cookies
        r = c.get(f"/jobs?token={token}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/jobs", "the token leaves the address bar"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and token not in cookie
        assert c.get("/").status_code == 200  # the cookie now does it
        r = post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes())])
        assert r.status_code == 201
        c.cookies.clear()
        assert c.get("/").status_code == 401
        c.cookies.set(COOKIE_NAME, "forged")
        assert c.get("/").status_code == 401


# --- jobs, listing, restart ------------------------------------------------------------------------------------------


def test_jobs_listed_newest_first(client):
    ids = []
    for name in ("first.jsonl", "second.jsonl", "third.jsonl"):
        r = post_parts(client, [("keystrokes", name, keystroke_bytes())])
        assert r.status_code == 201
        ids.append(r.json()["id"])
    listed = client.get("/api/jobs").json()
    assert [j["id"] for j in listed["jobs"]] == ids[::-1] and listed["total"] == 3
    assert all(j["status"] == "queued" for j in listed["jobs"])
    page = client.get("/jobs").text
    assert [m for m in re.findall(r'data-job-id="([0-9a-f]{32})"', page)] == ids[::-1]
    front = client.get("/").text
    assert front.index("third.jsonl") < front.index("first.jsonl")
    assert client.get(f"/jobs/{ids[0]}/report.json").status_code == 404


def test_restart_marks_running_job_interrupted_and_requeues_queued(data):
    app = create_app(data, run_jobs=False)
    with TestClient(app) as c:
        running = post_parts(c, [("keystrokes", "running.jsonl", keystroke_bytes())]).json()["id"]
        queued = post_parts(c, [("keystrokes", "queued.jsonl", keystroke_bytes())]).json()["id"]
    store = JobStore(data)
    assert store.claim_next() == (running, 1)  # as a worker would
    store.set_progress(running, 1, "video", 0.42)

    app2 = create_app(data, run_jobs=False)  # the server comes back
    assert app2.state.recovered == {"interrupted": 1, "queued": 1}
    with TestClient(app2) as c:
        j = c.get(f"/api/jobs/{running}").json()
        assert j["status"] == "interrupted"
        assert "server stopped while this scan was running" in j["error"] and "42%" in j["error"]
        page = c.get(f"/jobs/{running}").text
        assert "interrupted" in page and 'id="rerun"' in page and "Re-run" in page
        assert c.get(f"/api/jobs/{queued}").json()["status"] == "queued"
        # A stale worker of the old server can no longer write.
        assert not store.finish_done(running, 1, data / "jobs" / running / "report.json", 0.9, "high")
        r = c.post(f"/jobs/{running}/rerun", follow_redirects=False)
        assert r.status_code == 303
        assert c.get(f"/api/jobs/{running}").json()["status"] == "queued"
        assert c.post(f"/jobs/{queued}/rerun").status_code == 409


def _wait_finished(client, job_id: str, timeout_s: float = WAIT_S) -> dict:
    deadline = time.monotonic() + timeout_s
    seen = set()
    while time.monotonic() < deadline:
        j = client.get(f"/api/jobs/{job_id}").json()
        seen.add(j["status"])
        if j["status"] in ("done", "failed", "interrupted"):
            j["seen"] = seen
            return j
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout_s} s (last: {j})")


def _shown_score(page: str) -> tuple[str, str, str]:
    m = re.search(r'<span id="risk-score"[^>]*data-score="([^"]*)"[^>]*>([^<]*)</span>', page)
    assert m, "the report page shows #risk-score"
    band = re.search(r'id="risk-band"[^>]*>([^<]*)<', page)
    assert band, "the report page shows #risk-band"
    return m.group(1), m.group(2).strip(), band.group(1).strip()


@pytest.mark.video
def test_video_job_runs_to_done_and_the_page_shows_report_json(data, small_video):
    app = create_app(data, workers=1)
    with TestClient(app) as c:
        r = post_parts(
            c,
            [
                ("video", "candidate clip.mp4", small_video.read_bytes()),
                ("keystrokes", "keystrokes.jsonl", keystroke_bytes(150)),
                ("session", "session.json", json.dumps({"candidate_id": "c-9"}).encode()),
            ],
        )
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        assert 'id="scan-progress"' in c.get(f"/jobs/{job_id}").text
        job = _wait_finished(c, job_id)
        assert job["status"] == "done", job
        report = c.get(f"/jobs/{job_id}/report.json").json()
        page = c.get(f"/jobs/{job_id}").text
        data_score, text, band = _shown_score(page)
        score = report["risk"]["score"]
        assert score is not None
        assert float(data_score) == score and text == f"{score:.2f}"
        assert band == report["risk"]["band"] == job["band"]
        assert job["risk_score"] == score
        assert report["session"]["modalities"] == {"video": True, "audio": True, "keystrokes": True}
        assert report["session"]["metadata"]["candidate_id"] == "c-9"
        assert 'id="report-json-link"' in page and 'id="ig-nav"' in page
        assert "uploaded: candidate clip.mp4, keystrokes.jsonl, session.json" in page
        assert str(data) not in page, "the page names the uploaded files, not the server's paths"
        stored = JobStore(data).get(job_id)
        assert (stored.job_dir / "report.html").is_file()
        assert json.loads(stored.report_path.read_text()) == report
        row = re.search(rf'<tr data-job-id="{job_id}">.*?</tr>', c.get("/jobs").text, re.S).group(0)
        assert f"{score:.2f}" in row and "status-done" in row


def test_sample_keystroke_session_runs_to_done(data):
    sample = SAMPLES / "typing_relayed_b"
    app = create_app(data, workers=1)
    with TestClient(app) as c:
        r = post_parts(
            c,
            [
                ("keystrokes", "keystrokes.jsonl", (sample / "keystrokes.jsonl").read_bytes()),
                ("session", "session.json", (sample / "session.json").read_bytes()),
            ],
        )
        assert r.status_code == 201, r.text
        job = _wait_finished(c, r.json()["id"])
        assert job["status"] == "done", job
        report = c.get(job["report_url"]).json()
        data_score, text, band = _shown_score(c.get(job["url"]).text)
        assert float(data_score) == report["risk"]["score"] and band == report["risk"]["band"]


def test_a_failing_scan_is_recorded_and_the_server_keeps_going(data):
    app = create_app(data, workers=1)
    with TestClient(app) as c:
        broken = MP4_HEAD + bytes(range(256)) * 64  # an MP4 signature, then nothing decodable
        r = post_parts(c, [("video", "broken.mp4", broken)])
        assert r.status_code == 201
        job = _wait_finished(c, r.json()["id"])
        assert job["status"] == "failed"
        assert job["error"] and str(data) not in job["error"]
        page = c.get(job["url"]).text
        assert 'id="job-error"' in page and "The scan failed" in page
        assert c.get(f"/jobs/{job['id']}/report.json").status_code == 404
        assert c.get("/").status_code == 200
        r = post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes())])
        assert _wait_finished(c, r.json()["id"])["status"] == "done"


# --- the runner: stop, crash, timeout (a stand-in worker executable, no scan) ----------------------------------------


def _fake_python(tmp_path, body: str) -> str:
    """An executable that takes the worker's command line and does ``body`` (sh) instead of scanning."""
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def queued_jobs(data, n: int = 1, *, keys: int = 120) -> list[str]:
    """Ids of ``n`` keystroke-only scans queued in ``data`` by an app that runs nothing (shared by the web tests)."""
    app = create_app(data, run_jobs=False)
    with TestClient(app) as c:
        return [post_parts(c, [("keystrokes", f"k{i}.jsonl", keystroke_bytes(keys))]).json()["id"] for i in range(n)]


def wait_status(store, job_id, statuses, timeout_s=30.0):
    """The job once its status is one of ``statuses`` (AssertionError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job stayed {store.get(job_id).status}")


@pytest.mark.parametrize(
    "body, timeout_s, words",
    [
        (
            "echo 'W0000 noise from a library' >&2; echo 'RuntimeError: boom' >&2; exit 3",
            None,
            ["exited with code 3", "RuntimeError: boom"],
        ),
        ("kill -9 $$", None, ["killed by signal 9"]),
        ("exec sleep 30", 0.5, ["longer than the limit"]),
    ],
)
def test_runner_records_crashes_and_timeouts_as_failed(data, tmp_path, body, timeout_s, words):
    from interview_guard.web.jobs import Runner

    (job_id,) = queued_jobs(data)
    store = JobStore(data)
    runner = Runner(store, python=_fake_python(tmp_path, body), timeout_s=timeout_s, poll_s=0.05)
    runner.start()
    try:
        job = wait_status(store, job_id, {"failed", "done", "interrupted"})
    finally:
        runner.stop()
    assert job.status == "failed"
    for w in words:
        assert w in job.error
    assert "W0000" not in job.error


def test_runner_stop_marks_the_running_job_interrupted(data, tmp_path):
    from interview_guard.web.jobs import Runner

    (job_id,) = queued_jobs(data)
    store = JobStore(data)
    runner = Runner(store, python=_fake_python(tmp_path, "exec sleep 30"), poll_s=0.05)
    runner.start()
    wait_status(store, job_id, {"running"})
    time.sleep(0.3)
    t0 = time.monotonic()
    runner.stop()
    assert time.monotonic() - t0 < 10
    job = store.get(job_id)
    assert job.status == "interrupted" and "server was stopped" in job.error
    assert store.requeue(job_id) and store.get(job_id).status == "queued"


def test_report_page_is_rebuilt_from_report_json_and_a_broken_report_is_a_message(data, small_video):
    app = create_app(data, workers=1)
    with TestClient(app) as c:
        r = post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes(150))])
        job = _wait_finished(c, r.json()["id"])
        assert job["status"] == "done"
        stored = JobStore(data).get(job["id"])
        # The job is done as soon as report.json is written (#12); the worker renders the page after that.
        deadline = time.monotonic() + 60
        while not (stored.job_dir / "report.html").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        (stored.job_dir / "report.html").unlink()
        page = c.get(job["url"]).text
        assert _shown_score(page)[0] == repr(job["risk_score"])
        assert (stored.job_dir / "report.html").is_file()  # cached again
        # The report document keeps its inline CSS (it also works as a file of its own) and has no script.
        csp = c.get(job["url"]).headers["content-security-policy"]
        assert "script-src 'none'" in csp and "style-src 'self' 'unsafe-inline'" in csp and "default-src 'none'" in csp
        assert '<link rel="stylesheet" href="/static/nav.css">' in page and "<script" not in page
        (stored.job_dir / "report.html").unlink()
        stored.report_path.write_text("{broken", encoding="utf-8")
        r = c.get(job["url"])
        assert r.status_code == 500 and "cannot be shown" in r.text and str(data) not in r.text


def test_a_failed_scan_names_the_file_as_the_client_uploaded_it(data):
    """The interviewer uploaded "interview 7.mp4": the failure names that file, not the server's "video.mp4"."""
    app = create_app(data, workers=1)
    with TestClient(app) as c:
        broken = MP4_HEAD + bytes(range(256)) * 64  # an MP4 signature, then nothing decodable
        r = post_parts(c, [("video", "interview 7.mp4", broken)])
        job = _wait_finished(c, r.json()["id"])
        assert job["status"] == "failed"
        assert job["error"].startswith("interview 7.mp4: ") and "video.mp4" not in job["error"], job["error"]
