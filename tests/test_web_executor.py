"""The web server's job runner on an executor (``serve --scheduler``): the same choice as ``batch``.

Fast tests run the runner's executor path on this process's executor (a thread per task) with a stand-in scan:
progress reaches the jobs table, a timeout and a server stop cancel the task with the local runner's messages,
a lost task is a failed job. The ``video`` test starts a real Dask scheduler and worker (as
tests/test_batch_dask.py does), uploads a sample session to a server running its scans there and to a server
running them locally, and finds the same report. An unreachable scheduler stops ``serve`` with one line.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from conftest import SAMPLES
from interview_guard.pipeline.executors import InProcessExecutor, TaskLost, task_cancelled, task_progress
from interview_guard.web import worker
from interview_guard.web.app import create_app
from interview_guard.web.jobs import JobStore, Runner
from test_web import keystroke_bytes, post_parts, queued_jobs, wait_status

WAIT_S = 300.0


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


def _queued(data, n: int = 1) -> list[str]:
    return queued_jobs(data, n, keys=150)


def _wait(store, job_id, statuses, timeout_s=60.0):
    return wait_status(store, job_id, statuses, timeout_s)


def _slow_scan(spec):
    """Stands in for worker.scan_job: reports progress until cancelled (or 30 s)."""
    for i in range(600):
        task_progress(["video", i / 1000])
        if task_cancelled():
            return worker.ScanJobOutcome(error="cancelled")
        time.sleep(0.05)
    return worker.ScanJobOutcome(error="never cancelled")


def test_progress_reaches_the_table_and_a_timeout_fails_the_job(data, monkeypatch):
    monkeypatch.setattr(worker, "scan_job", _slow_scan)
    (job_id,) = _queued(data)
    store = JobStore(data)
    runner = Runner(store, executor=InProcessExecutor(), timeout_s=1.5, poll_s=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while store.get(job_id).progress <= 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        job = store.get(job_id)
        assert job.status == "running" and job.stage == "video" and 0 < job.progress < 0.99
        job = _wait(store, job_id, {"failed", "done", "interrupted"})
    finally:
        runner.stop()
    assert job.status == "failed" and "longer than the limit of 1.5 s" in job.error


def test_stopping_the_server_interrupts_the_task(data, monkeypatch):
    seen = {}

    def scan(spec):
        seen["spec"] = spec
        out = _slow_scan(spec)
        seen["outcome"] = out
        return out

    monkeypatch.setattr(worker, "scan_job", scan)
    (job_id,) = _queued(data)
    store = JobStore(data)
    runner = Runner(store, executor=InProcessExecutor(), poll_s=0.05)
    runner.start()
    _wait(store, job_id, {"running"})
    time.sleep(0.3)
    t0 = time.monotonic()
    runner.stop()
    assert time.monotonic() - t0 < 10
    job = store.get(job_id)
    assert job.status == "interrupted" and "server was stopped" in job.error
    deadline = time.monotonic() + 5
    while "outcome" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen["outcome"].error == "cancelled"  # the task itself was told to stop
    assert seen["spec"].session_dir == str(job.session_dir) and seen["spec"].session_id == "k0"
    assert store.requeue(job_id)


@pytest.mark.parametrize(
    "outcome, words",
    [
        (TaskLost("the Dask worker scanning this session died 4 times"), "lost: the Dask worker scanning"),
        (worker.ScanJobOutcome(error="video.mp4: no decodable video frame"), "no decodable video frame"),
        # a multi-line error (a worker's traceback) is kept on one line for the job list and jobs.csv
        (worker.ScanJobOutcome(error="scan failed:\nTraceback (most recent call last):\u2028  boom"), "failed: Trace"),
    ],
)
def test_a_lost_or_failed_task_fails_the_job_and_the_queue_goes_on(data, monkeypatch, outcome, words):
    monkeypatch.setattr(worker, "scan_job", lambda spec: outcome)
    first, second = _queued(data, 2)
    store = JobStore(data)
    runner = Runner(store, executor=InProcessExecutor(), poll_s=0.05)
    runner.start()
    try:
        jobs = [_wait(store, j, {"failed", "done", "interrupted"}) for j in (first, second)]
    finally:
        runner.stop()
    for job in jobs:
        assert job.status == "failed" and words in job.error, job.error
        assert len(job.error.splitlines()) == 1 and "  " not in job.error, job.error
        assert not (job.job_dir / "report.json").exists()


def test_a_keystroke_job_on_the_in_process_executor_equals_the_local_worker(tmp_path):
    """The real scan_job and commit_scan (a keystroke-only upload: no video, quick)."""
    reports = []
    for name, executor in (("local", None), ("executor", InProcessExecutor())):
        data = tmp_path / name
        app = create_app(data, executor=executor)
        with TestClient(app) as c:
            r = post_parts(c, [("keystrokes", "k.jsonl", keystroke_bytes(150))])
            job_id = r.json()["id"]
            job = _finished(c, job_id)
            assert job["status"] == "done", job
            reports.append(c.get(f"/jobs/{job_id}/report.json").json())
            stored = JobStore(data).get(job_id)
            deadline = time.monotonic() + 30
            while not (stored.job_dir / "report.html").is_file() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (stored.job_dir / "report.html").is_file()
    assert _comparable(reports[0]) == _comparable(reports[1])


def _finished(client, job_id: str, timeout_s: float = WAIT_S, seen: list | None = None) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        j = client.get(f"/api/jobs/{job_id}").json()
        if j["status"] in ("done", "failed", "interrupted"):
            return j
        if seen is not None and j["status"] == "running":
            seen.append((j["stage"], j["progress"]))
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout_s} s")


def _comparable(report: dict) -> dict:
    """A report without what differs between two servers (times, data-directory paths)."""
    out = {k: v for k, v in report.items() if k not in ("created_at", "timings")}
    # the session's paths (and the fingerprint made from them) name each server's data directory
    out["session"] = {k: v for k, v in out["session"].items() if k not in ("path", "files", "fingerprint")}
    if out["session"].get("video"):
        out["session"]["video"] = {k: v for k, v in out["session"]["video"].items() if k != "path"}
    text = json.dumps(out, sort_keys=True)
    return json.loads(re.sub(r'"/[^"]*/jobs/[0-9a-f]{32}/(frames/[^"]+)"', r'"\1"', text))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_one_line_at_start(tmp_path):
    pytest.importorskip("distributed")
    from interview_guard.cli import main

    address = f"tcp://127.0.0.1:{_free_port()}"
    r = CliRunner().invoke(main, ["serve", "--scheduler", address, "--data-dir", str(tmp_path / "d")])
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and address in lines[0] and "cannot connect to the Dask scheduler" in lines[0], r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "d").exists()  # nothing started


@pytest.mark.video
def test_an_uploaded_session_scanned_on_dask_equals_the_local_scan(tmp_path):
    pytest.importorskip("distributed")
    from interview_guard.pipeline.executors import make_executor
    from test_batch_dask import Cluster

    session = SAMPLES / "video_handwave_genuine"
    parts = [
        ("video", "interview.mp4", (session / "video.mp4").read_bytes()),
        ("keystrokes", "keystrokes.jsonl", (session / "keystrokes.jsonl").read_bytes()),
        ("session", "session.json", (session / "session.json").read_bytes()),
    ]
    cluster = Cluster(tmp_path / "cluster", n_workers=1)
    try:
        results = {}
        for name in ("dask", "local"):
            executor = make_executor(scheduler=cluster.address) if name == "dask" else None
            try:
                data = tmp_path / name
                with TestClient(create_app(data, executor=executor)) as c:
                    job_id = post_parts(c, parts).json()["id"]
                    seen: list = []
                    job = _finished(c, job_id, seen=seen)
                    assert job["status"] == "done", job
                    # the task's progress reached the jobs table while it ran
                    assert any(stage.startswith("video") and 0.08 < p < 0.99 for stage, p in seen), seen[-20:]
                    report = c.get(f"/jobs/{job_id}/report.json").json()
                    stored = JobStore(data).get(job_id)
                    frames = sorted(p.name for p in stored.frames_dir.glob("*.jpg"))
                    page = c.get(f"/jobs/{job_id}").text
                results[name] = (report, frames, page, stored)
            finally:
                if executor is not None:
                    executor.close()
    finally:
        cluster.stop()
    (dask, dframes, dpage, dstored), (local, lframes, _, _) = results["dask"], results["local"]
    assert dask["risk"]["score"] is not None
    assert _comparable(dask) == _comparable(local)
    assert dframes == lframes and dframes  # the key frames of the evidence, written by the server
    recorded = [
        k["path"]
        for a in dask["analyzers"].values()
        for ev in a["evidence"]
        for k in ev["details"].get("key_frames", [])
        if isinstance(k, dict) and "path" in k
    ]
    assert recorded and all(Path(p).parent == dstored.frames_dir and Path(p).is_file() for p in recorded)
    assert 'id="risk-score"' in dpage and "data:image/jpeg;base64," in dpage


def test_a_failed_task_names_the_file_as_the_client_uploaded_it(data, monkeypatch):
    """On an executor too, the failure names the client's file (k0.jsonl), not the server's keystrokes.jsonl."""
    outcome = worker.ScanJobOutcome(error="keystrokes.jsonl: line 3: the log cannot be read")
    monkeypatch.setattr(worker, "scan_job", lambda spec: outcome)
    [job_id] = _queued(data, 1)
    store = JobStore(data)
    runner = Runner(store, executor=InProcessExecutor(), poll_s=0.05)
    runner.start()
    try:
        job = _wait(store, job_id, {"failed", "done", "interrupted"})
    finally:
        runner.stop()
    assert job.error == "k0.jsonl: line 3: the log cannot be read", job.error


@pytest.mark.parametrize("on_executor", [False, True])
def test_report_warnings_name_the_files_as_the_client_uploaded_them(tmp_path, on_executor):
    """A faceless clip uploaded as "my clip.mp4": the report's warning names "my clip.mp4", not the server's
    "video.mp4", on the local worker and on an executor alike."""
    from conftest import make_video

    clip = make_video(tmp_path / "clip.mp4", seconds=1.0, fps=10).read_bytes()
    app = create_app(tmp_path / "data", executor=InProcessExecutor() if on_executor else None)
    with TestClient(app) as c:
        r = post_parts(c, [("video", "my clip.mp4", clip)])
        job_id = r.json()["id"]
        job = _finished(c, job_id)
        assert job["status"] == "done", job
        warnings = c.get(f"/jobs/{job_id}/report.json").json()["warnings"]
    assert any(w.startswith("my clip.mp4: a face was found in only") for w in warnings), warnings
    assert not any("video.mp4" in w for w in warnings), warnings
