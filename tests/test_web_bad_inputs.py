"""The upload server against bad inputs (issue #12): the corpus, errors with headers, bounded work, limits."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import anyio
import pytest

from corpus_web import CASES

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from interview_guard.web.app import create_app  # noqa: E402
from interview_guard.web.jobs import JobStore, Runner  # noqa: E402
from interview_guard.web.security import local_path  # noqa: E402
from interview_guard.web.uploads import StoredFile, UploadError, validate_session_files  # noqa: E402

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
BOUNDARY = "----igcorpusboundary"


def _multipart(parts) -> tuple[bytes, str]:
    out = bytearray()
    for field, filename, content in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        out += f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'.encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={BOUNDARY}"


def asgi_request(
    app, method: str, target: str, headers: dict[str, str], body: bytes = b"", host: str = "127.0.0.1:8000"
):
    """One request straight through the ASGI application, the path byte for byte (``//x/`` stays a path)."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", host.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "app": app,
    }
    sent: list[dict] = []
    chunks = [body]

    async def receive():
        if chunks:
            return {"type": "http.request", "body": chunks.pop(), "more_body": False}
        await anyio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    out_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], out_headers, content


def _detail(headers: dict[str, str], content: bytes) -> str:
    if headers.get("content-type", "").startswith("application/json"):
        return str(json.loads(content).get("detail", ""))
    text = content.decode("utf-8", errors="replace")
    return text


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case, tmp_path, caplog, capfd):
    made = case["make"](tmp_path)
    req = made["request"]
    expect = case["expect"]
    data = tmp_path / "data"
    app = create_app(data, run_jobs=False, **req.get("app", {}))
    headers = {"Accept": "application/json", **req.get("headers", {})}
    body = b""
    if "parts" in req:
        body, ctype = _multipart(req["parts"])
        headers["Content-Type"] = ctype
        headers["Content-Length"] = str(len(body))
    with caplog.at_level(logging.DEBUG):
        status, out_headers, content = asgi_request(app, req["method"], req["path"], headers, body)
    assert status == expect["status"], (status, content[:300])
    for name, needle in SECURITY_HEADERS.items():
        assert needle in out_headers.get(name, ""), f"{name} missing on a {status}"
    if "location" in expect:
        assert out_headers["location"] == expect["location"]
    if status >= 400:
        detail = _detail(out_headers, content)
        assert "\n" not in detail.strip(), "one line"
        for w in expect["words"]:
            assert w in detail, (w, detail)
        if expect.get("file"):
            assert expect["file"] in detail
        assert str(data) not in detail and str(tmp_path) not in detail, "no server paths"
        assert not (data / "jobs").exists() or not any((data / "jobs").iterdir()), "a refused upload leaves no job"
    logged = caplog.text + "".join(capfd.readouterr())
    assert "Traceback" not in logged


# --- errors of the server itself -------------------------------------------------------------------------------------


def test_an_unhandled_exception_is_a_plain_500_with_the_headers_and_one_log_line(tmp_path, monkeypatch, caplog):
    def broken(self, limit=200, offset=0):
        raise ZeroDivisionError("a bug in the store")

    monkeypatch.setattr(JobStore, "list", broken)
    app = create_app(tmp_path / "data", run_jobs=False)
    with caplog.at_level(logging.DEBUG, logger="interview_guard.web"), TestClient(app) as c:
        for path, accept, kind in (("/api/jobs", "application/json", "json"), ("/", "text/html", "html")):
            r = c.get(path, headers={"Accept": accept})
            assert r.status_code == 500
            for name, needle in SECURITY_HEADERS.items():
                assert needle in r.headers.get(name, ""), name
            assert "internal error" in r.text and "ZeroDivisionError" not in r.text and "a bug" not in r.text
            assert kind in r.headers["content-type"]
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 2 and "ZeroDivisionError: a bug in the store" in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage() and errors[0].exc_info is None


def test_local_path_never_leaves_the_server():
    assert local_path("/jobs") == "/jobs"
    assert local_path("//evil.example/") == "/evil.example/"
    assert local_path("///evil.example") == "/evil.example"
    assert local_path("/\\evil.example") == "/%5Cevil.example"
    assert local_path("/\t/evil.example") == "/%09/evil.example"
    assert local_path("/a b/ü") == "/a%20b/%C3%BC"


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Sec-Fetch-Site": "same-site"}, 403),  # another port or subdomain of this host
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({}, 200),  # curl, a script with the token
        ({"Origin": "null"}, 403),
        ({"Origin": "http://127.0.0.1:8001"}, 403),
    ],
)
def test_state_changing_requests_must_be_same_origin(tmp_path, headers, status):
    app = create_app(tmp_path / "data", run_jobs=False)
    code, out_headers, _ = asgi_request(
        app, "POST", "/jobs/" + "0" * 32 + "/rerun", {"Accept": "application/json", **headers}
    )
    assert code == (404 if status == 200 else status)  # past the check, the job does not exist
    assert out_headers["x-frame-options"] == "DENY"


# --- the keystroke log is not parsed in the server's process -------------------------------------------------------


def _big_log(path: Path, lines: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        t = 0
        for _ in range(lines // 2):
            fh.write(f'{{"t": {t}, "type": "down", "key": "a", "code": "KeyA"}}\n')
            fh.write(f'{{"t": {t + 40}, "type": "up", "key": "a", "code": "KeyA"}}\n')
            t += 90
    return path


def test_checking_a_large_log_does_not_grow_the_servers_memory(tmp_path):
    """Peak RSS growth of a fresh process checking a 1e6-line log: in a child (now) against in-process (before)."""
    import subprocess

    log = _big_log(tmp_path / "keystrokes.jsonl", 1_000_000)
    code = """
import sys
from pathlib import Path
from interview_guard.web.uploads import StoredFile, validate_session_files
def peak():  # VmHWM: this process's own high-water mark (ru_maxrss keeps the forking parent's across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
log = Path(sys.argv[1])
files = {"keystrokes": StoredFile("keystrokes", log, "big.jsonl", log.stat().st_size)}
before = peak()
validate_session_files(files, in_process=sys.argv[2] == "in-process")
print(peak() - before)
"""

    def growth(mode: str) -> float:
        cmd = [sys.executable, "-c", code, str(log), mode]
        return float(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout)

    in_child, in_process = growth("child"), growth("in-process")
    assert in_child < 15, f"the server's peak memory grew by {in_child:.0f} MB"
    assert in_process > in_child + 40, (in_child, in_process)  # the measurement sees what the server did before


def test_a_log_too_large_for_the_checks_memory_limit_is_413(tmp_path):
    from interview_guard.web.validate import check_keystroke_log

    small = _big_log(tmp_path / "small.jsonl", 2_000)
    assert check_keystroke_log(small, "small.jsonl", memory_mb=150) is None
    log = _big_log(tmp_path / "keystrokes.jsonl", 400_000)
    status, message = check_keystroke_log(log, "big.jsonl", memory_mb=150)
    assert status == 413 and "big.jsonl" in message and "memory" in message
    assert check_keystroke_log(log, "big.jsonl", timeout_s=0.01)[0] == 413
    with pytest.raises(UploadError) as info:
        validate_session_files({"metadata": StoredFile("metadata", log, "s.json")})
    assert info.value.status == 400


# --- the worker: memory limit, report size, shutdown after the report ------------------------------------------------


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


def _queued_jobs(data, n: int = 1) -> list[str]:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_web import queued_jobs

    return queued_jobs(data, n, keys=150)


def _wait(store, job_id, statuses, timeout_s=120.0):
    from test_web import wait_status

    return wait_status(store, job_id, statuses, timeout_s)


def test_a_worker_over_the_memory_limit_is_stopped_and_the_queue_goes_on(data, tmp_path):
    fake = tmp_path / "fake-python"
    fake.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c 'import time; b = b\"x\" * (300 << 20); time.sleep(30)'\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    first, second = _queued_jobs(data, 2)
    store = JobStore(data)
    runner = Runner(store, python=str(fake), memory_mb=100, poll_s=0.05)
    runner.start()
    try:
        jobs = [_wait(store, j, {"failed", "done", "interrupted"}, timeout_s=60) for j in (first, second)]
    finally:
        runner.stop()
    for job in jobs:
        assert job.status == "failed" and "more memory than the limit of 100 MB" in job.error, job.error


def test_a_report_over_the_size_bound_is_refused_with_a_clear_failure(data):
    from interview_guard.web import worker

    (job_id,) = _queued_jobs(data)
    store = JobStore(data)
    assert store.claim_next() == (job_id, 1)
    assert worker.run(data, job_id, 1, max_report_mb=0.001) == 0
    job = store.get(job_id)
    assert job.status == "failed" and "over the limit of 0.001 MB" in job.error
    assert not (job.job_dir / "report.json").exists()


def test_a_shutdown_while_rendering_the_page_keeps_the_finished_report(data, monkeypatch):
    from interview_guard.web import worker

    (job_id,) = _queued_jobs(data)
    store = JobStore(data)
    assert store.claim_next() == (job_id, 1)
    seen = {}

    def killed_while_rendering(store_, job_id_, report_path):
        seen["status"] = store_.get(job_id_).status
        raise SystemExit(-15)  # what SIGTERM does to the worker here

    monkeypatch.setattr(worker, "_write_page", killed_while_rendering)
    with pytest.raises(SystemExit):
        worker.run(data, job_id, 1)
    assert seen["status"] == "done", "the job is done before its page is rendered"
    job = store.get(job_id)
    assert job.status == "done" and job.report_path.is_file()
    app = create_app(data, run_jobs=False)  # the next server start
    assert app.state.recovered["interrupted"] == 0
    with TestClient(app) as c:
        r = c.get(f"/jobs/{job_id}")
        assert r.status_code == 200 and 'id="risk-score"' in r.text


def test_a_scan_that_runs_out_of_memory_is_a_clear_failure(data, monkeypatch):
    from interview_guard.pipeline import scan
    from interview_guard.web import worker

    (job_id,) = _queued_jobs(data)
    store = JobStore(data)
    assert store.claim_next() == (job_id, 1)

    def greedy(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(scan, "scan_session", greedy)
    assert worker.run(data, job_id, 1) == 0
    job = store.get(job_id)
    assert job.status == "failed" and "ran out of memory" in job.error and "internal error" not in job.error
