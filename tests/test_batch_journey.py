"""The security team's batch journey: sessions that go away, two runs on one output, killed runs, the summary's
candidate id, workers that die, and a run on part of an earlier batch's input."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys

from click.testing import CliRunner

from conftest import SAMPLES, typing_events, write_jsonl
from interview_guard.cli import main
from interview_guard.pipeline.batch import run_batch
from interview_guard.report.model import read_report

PAIR = ("typing_genuine_a", "typing_slow_path_a")  # one typist's log under two candidate ids: they match


def _root(tmp_path, names=PAIR, name="root"):
    root = tmp_path / name
    for n in names:
        shutil.copytree(SAMPLES / n, root / n)
    return root


def _matches(out_or_index) -> list[dict]:
    r = CliRunner().invoke(main, ["matches", str(out_or_index)])
    assert r.exit_code == 0, r.output
    return list(csv.DictReader(r.stdout.splitlines()))


def _summary(out) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ------------------------------------------------------------------ 4. the candidate id in the summary


def test_summary_has_the_candidate_id_as_its_last_column(tmp_path):
    root = _root(tmp_path, PAIR)
    write_jsonl(root / "no_meta" / "keystrokes.jsonl", typing_events(50))
    write_jsonl(root / "formula" / "keystrokes.jsonl", typing_events(50, seed=3))
    (root / "formula" / "session.json").write_text(json.dumps({"candidate_id": "=HYPERLINK(1)"}))
    out = tmp_path / "out"
    run_batch(root, out)
    rows = {r["session"]: r for r in _summary(out)}
    header = next(csv.reader(open(out / "summary.csv", encoding="utf-8")))
    assert header[-1] == "candidate_id" and header[:-1] == [
        "rank",
        "session",
        "path",
        "risk_score",
        "band",
        "status",
        "error",
        "duration_s",
        "modalities",
        "report",
    ]
    assert rows["typing_genuine_a"]["candidate_id"] == "sample-typing-a"
    assert rows["typing_slow_path_a"]["candidate_id"] == "sample-typing-slow-path-a"
    assert rows["no_meta"]["candidate_id"] == "" and rows["formula"]["candidate_id"] == "'=HYPERLINK(1)"
    res = run_batch(root, out)  # the rows of sessions found done carry it too
    assert res.skipped == 4 and {r["session"]: r["candidate_id"] for r in _summary(out)} == {
        s: r["candidate_id"] for s, r in rows.items()
    }


# ------------------------------------------------------------------ 5. a worker that dies names its session


def test_a_dead_worker_is_a_failure_naming_the_session_path(tmp_path, monkeypatch):
    """A worker killed (SIGKILL, a segfault in a native library) was recorded as "worker process died while
    scanning this session": the summary cell and the stderr line named neither the file nor the directory."""
    from interview_guard.pipeline import scan

    root = _root(tmp_path, PAIR)
    real = scan.scan_session

    def dies_on_slow(session, **kw):  # the pool's workers are forked from this process: they run this
        if session.session_id == "typing_slow_path_a":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(session, **kw)

    monkeypatch.setattr(scan, "scan_session", dies_on_slow)
    out = tmp_path / "out"
    lines: list[str] = []
    res = run_batch(root, out, jobs=2, progress=lambda *a, **k: lines.append(k.get("error", "")))
    assert res.failed >= 1  # (a broken pool loses every session running in it: which one died is not known)
    rows = {r["session"]: r for r in _summary(out)}
    failed = [s for s, r in rows.items() if r["status"] == "failed"]
    assert "typing_slow_path_a" in failed
    for sid in failed:
        err = rows[sid]["error"]
        assert err.startswith(f"{root / sid}: worker process died"), err
        assert read_report(out / "sessions" / f"{sid}.json").error == err
        assert err in lines  # the progress hook's error: the CLI's one stderr line


def test_a_lost_task_names_its_session_path_once(tmp_path):
    from interview_guard.pipeline import batch
    from interview_guard.pipeline.executors import TaskLost

    d = tmp_path / "s"
    job = batch.ScanJob("s", str(d), "s", None)  # type: ignore[arg-type]
    rp = tmp_path / "out" / "sessions" / "s.json"
    rp.parent.mkdir(parents=True)
    row = batch._lost_row(job, TaskLost(f"{d}: already named"), rp)
    assert row["error"] == f"{d}: already named"
    row = batch._lost_row(job, TaskLost("task lost on the cluster after 3 worker deaths"), rp)
    assert row["error"] == f"{d}: task lost on the cluster after 3 worker deaths"
