import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLES, typing_events, write_jsonl
from interview_guard.cli import main
from interview_guard.pipeline.batch import run_batch


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    for i in range(3):
        write_jsonl(r / f"s{i}" / "keystrokes.jsonl", typing_events(60 + 40 * i, seed=i))
    bad = r / "broken"
    bad.mkdir(parents=True)
    (bad / "keystrokes.jsonl").write_text('{"t": 5, "type": "down"}\n{"t": 6, "type": "press"}\n')
    return r


def read_summary(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_batch_writes_reports_and_ranked_summary(root, tmp_path):
    out = tmp_path / "out"
    res = run_batch(root, out, jobs=2)
    assert (res.total, res.scanned, res.skipped, res.failed) == (4, 4, 0, 1)
    rows = read_summary(out / "summary.csv")
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert list(rows[0]) == [
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
        "candidate_id",
    ]
    ok = [r for r in rows if r["status"] == "ok"]
    assert [float(r["risk_score"]) for r in ok] == sorted((float(r["risk_score"]) for r in ok), reverse=True)
    assert rows[-1]["session"] == "broken" and rows[-1]["status"] == "failed"
    assert "line 2: 'type' must be one of" in rows[-1]["error"]
    failed = json.loads((out / "sessions" / "broken.json").read_text())
    assert failed["status"] == "failed" and failed["risk"]["band"] == "unassessed"
    assert not list(out.rglob("*.tmp"))


def test_batch_resumes_and_skips_finished(root, tmp_path):
    out = tmp_path / "out"
    run_batch(root, out, jobs=1)
    first = (out / "sessions" / "s1.json").read_text()
    (out / "sessions" / "s2.json").unlink()  # as if the run was killed before s2 finished
    res = run_batch(root, out, jobs=1, retry_failed=False)
    assert res.skipped == 3 and res.scanned == 1
    assert (out / "sessions" / "s1.json").read_text() == first  # untouched
    assert len(read_summary(out / "summary.csv")) == 4
    # a changed input is scanned again
    write_jsonl(root / "s1" / "keystrokes.jsonl", typing_events(90, seed=9))
    res = run_batch(root, out, jobs=1, retry_failed=False)
    assert res.scanned == 1 and res.skipped == 3


def test_batch_retries_failed_by_default(root, tmp_path):
    out = tmp_path / "out"
    run_batch(root, out)
    (root / "broken" / "keystrokes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in typing_events(50)))
    res = run_batch(root, out)
    assert res.scanned == 1 and res.failed == 0


def test_parallel_equals_sequential(root, tmp_path):
    run_batch(root, tmp_path / "a", jobs=1)
    run_batch(root, tmp_path / "b", jobs=3)
    for name in ("s0", "s1", "s2"):
        a = json.loads((tmp_path / "a" / "sessions" / f"{name}.json").read_text())
        b = json.loads((tmp_path / "b" / "sessions" / f"{name}.json").read_text())
        assert a["risk"] == b["risk"] and a["analyzers"] == b["analyzers"]


def test_cli_batch_exit_codes_and_table(root, tmp_path):
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(tmp_path / "o"), "-j", "2", "-q"])
    assert r.exit_code == 3  # finished, with a failed session
    assert "broken" in r.output and "session" in r.output.splitlines()[0]
    good = tmp_path / "good"
    write_jsonl(good / "x" / "keystrokes.jsonl", typing_events(50))
    r = CliRunner().invoke(main, ["batch", str(good), "--out", str(tmp_path / "o2"), "-q"])
    assert r.exit_code == 0
    r = CliRunner().invoke(main, ["batch", str(tmp_path / "nothing_here"), "--out", str(tmp_path / "o3")])
    assert r.exit_code == 1


def test_cli_batch_progress_on_stderr_only(root, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3
    assert "scanning" in proc.stderr and "scanning" not in proc.stdout
    assert proc.stdout.splitlines()[0].split()[:2] == ["#", "session"]
    # a failed session is one line naming it and why (it said only "failed (see its report)")
    failed = [ln for ln in proc.stderr.splitlines() if "session broken failed" in ln]
    assert len(failed) == 1 and "keystrokes.jsonl: line 2" in failed[0], proc.stderr


def test_cli_batch_progress_in_a_log_names_each_session_and_each_failure(root, tmp_path):
    """stderr to a file or pipe (cron, nohup): a line per session; a failed one names its file and problem on
    that line (the bar printed "scanning" once and nothing after, and a failure said only "see its report");
    what discovery cannot read (a broken link) has its line too (it had none: the count stopped at 4/5)."""
    (root / "gone").symlink_to(tmp_path / "nowhere")
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(tmp_path / "o"), "-j", "2"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("interview-guard: scanning ")]
    assert len(lines) == 5 and {ln.split()[2] for ln in lines} == {f"{i}/5:" for i in range(1, 6)}, proc.stderr
    (broken,) = [ln for ln in lines if " session broken " in ln]
    assert "session broken failed: " in broken and "keystrokes.jsonl: line 2: 'type' must be one of" in broken
    (gone,) = [ln for ln in lines if " session gone " in ln]
    assert gone.endswith(f"session gone failed: {root / 'gone'}: broken symbolic link"), gone
    assert all(ln.endswith(" ok") for ln in lines if ln not in (broken, gone)), lines


def test_rerun_with_other_params_fuses_the_finished_reports_anew(root, tmp_path):
    """A re-run with another ``--params`` (a fresh calibration) skipped every finished session and kept the
    risks of the old parameters. Now the reports are fused anew (no rescan) and match a fresh batch's."""
    from interview_guard.fusion.model import default_fusion_path

    params = json.loads(default_fusion_path().read_text())
    params["intercept"] = params["intercept"] + 1.5
    params["version"] = "test-other"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(params))
    out = tmp_path / "o"
    run_batch(root, out, html=True)
    before = {r["session"]: r["risk_score"] for r in read_summary(out / "summary.csv")}
    res = run_batch(root, out, fusion_path=str(other), html=True)
    assert (res.scanned, res.skipped) == (1, 3)  # the broken session is retried, the rest re-fused
    again = {r["session"]: r["risk_score"] for r in read_summary(out / "summary.csv")}
    run_batch(root, tmp_path / "fresh", fusion_path=str(other))
    fresh = {r["session"]: r["risk_score"] for r in read_summary(tmp_path / "fresh" / "summary.csv")}
    assert again == fresh and again != before
    rep = json.loads((out / "sessions" / "s0.json").read_text())
    assert rep["risk"]["fusion"]["version"] == "test-other"
    page = (out / "sessions" / "s0.html").read_text()
    assert f"{float(again['s0']):.2f}" in page  # the page was rendered again from the re-fused report


def test_a_changed_enrolment_photo_is_scanned_again(tmp_path):
    """The enrolment photo session.json names was not in the fingerprint: replacing a wrong photo (which made a
    genuine session high with enrolment_mismatch) or removing it left the old report on a re-run."""
    root = tmp_path / "root"
    shutil.copytree(SAMPLES / "typing_genuine_a", root / "p1")
    shutil.copytree(SAMPLES / "typing_genuine_b", root / "plain")
    meta = json.loads((root / "p1" / "session.json").read_text())
    (root / "p1" / "session.json").write_text(json.dumps({**meta, "enrolment_photo": "photo.jpg"}))
    out = tmp_path / "o"
    assert run_batch(root, out).scanned == 2
    (root / "p1" / "photo.jpg").write_bytes(b"\xff\xd8 a photo put there later")
    assert (run_batch(root, out).scanned, run_batch(root, out).scanned) == (1, 0)
    (root / "p1" / "photo.jpg").write_bytes(b"\xff\xd8 another photo, of another length")
    assert run_batch(root, out).scanned == 1
    (root / "p1" / "photo.jpg").unlink()
    assert run_batch(root, out).scanned == 1
    (root / "plain" / "photo.jpg").write_bytes(b"\xff\xd8")  # a file session.json does not name changes nothing
    assert run_batch(root, out).scanned == 0


def test_colliding_paths_get_distinct_ids_and_resume(tmp_path):
    root = tmp_path / "root"
    write_jsonl(root / "grp" / "x" / "keystrokes.jsonl", typing_events(50, seed=1))
    write_jsonl(root / "grp__x" / "keystrokes.jsonl", typing_events(70, seed=2))
    write_jsonl(root / "top" / "keystrokes.jsonl", typing_events(60, seed=3))
    out = tmp_path / "out"
    res = run_batch(root, out)
    assert (res.total, res.scanned, res.failed) == (3, 3, 0)
    rows = {r["session"]: r for r in read_summary(out / "summary.csv")}
    assert {sid: r["path"] for sid, r in rows.items()} == {"grp%2Fx": "grp/x", "grp__x": "grp__x", "top": "top"}
    reports = {p.stem: json.loads(p.read_text()) for p in (out / "sessions").glob("*.json")}
    assert set(reports) == set(rows)
    assert reports["grp%2Fx"]["session"]["relative_path"] == "grp/x"
    assert reports["grp%2Fx"]["risk"] != reports["grp__x"]["risk"]  # two sessions, two results
    res = run_batch(root, out)  # stable ids: everything is found done
    assert (res.scanned, res.skipped) == (0, 3)
    assert {r["session"]: r["path"] for r in read_summary(out / "summary.csv")} == {
        sid: r["path"] for sid, r in rows.items()
    }


def test_unreadable_entries_are_failed_records(tmp_path, monkeypatch):
    import os

    root = tmp_path / "root"
    write_jsonl(root / "ok" / "keystrokes.jsonl", typing_events(50))
    write_jsonl(root / "grp" / "s" / "keystrokes.jsonl", typing_events(50))
    (root / "gone").symlink_to(root / "nowhere")
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("grp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = tmp_path / "out"
    res = run_batch(root, out)
    assert (res.total, res.failed, res.unreadable) == (3, 2, 2)
    rows = {r["session"]: r for r in read_summary(out / "summary.csv")}
    assert rows["ok"]["status"] == "ok"
    assert rows["grp"]["status"] == "failed"
    assert rows["grp"]["error"] == f"{root / 'grp'}: cannot read directory (permission denied)"
    assert rows["gone"]["error"] == f"{root / 'gone'}: broken symbolic link"
    rep = json.loads((out / "sessions" / "grp.json").read_text())
    assert rep["status"] == "failed" and rep["session"]["relative_path"] == "grp"
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "-q"])
    assert r.exit_code == 3 and "2 failed" in r.output


def test_stale_scratch_of_a_killed_run_is_removed(tmp_path):
    root = tmp_path / "root"
    write_jsonl(root / "s" / "keystrokes.jsonl", typing_events(50))
    out = tmp_path / "out"
    stale = out / ".tmp" / "frames-999999999-abc"
    stale.mkdir(parents=True)
    (stale / "s_1.000s.jpg").write_bytes(b"x")
    run_batch(root, out, html=True)
    assert not (out / ".tmp").exists()
    assert (out / "sessions" / "s.html").is_file()


def test_worker_maps_unreadable_files_to_a_named_failure(tmp_path, monkeypatch):
    from interview_guard.pipeline import batch

    root = tmp_path / "root"
    write_jsonl(root / "s" / "keystrokes.jsonl", typing_events(50))

    def boom(*a, **k):
        raise PermissionError(13, "Permission denied", str(root / "s" / "keystrokes.jsonl"))

    monkeypatch.setattr("interview_guard.pipeline.scan.scan_session", boom)
    row = batch._scan_one("s", str(root / "s"), str(tmp_path / "out" / "sessions" / "s.json"), None, None, False, "s")
    assert row["status"] == "failed"
    assert row["error"] == f"{root / 's' / 'keystrokes.jsonl'}: permission denied"
    assert "internal error" not in row["error"]


def test_a_multi_line_exception_is_one_line_in_the_report_and_the_summary(tmp_path, monkeypatch):
    """OpenCV's assertions span lines; a failed session's error is one line (a summary.csv cell, a log line)."""
    from interview_guard.errors import InputError
    from interview_guard.pipeline import batch

    root = tmp_path / "root"
    write_jsonl(root / "s" / "keystrokes.jsonl", typing_events(50))
    for exc, expected in (
        (
            RuntimeError("OpenCV(5.1.0) loadsave.cpp:1313: error: (-215)\n  !buf.empty()\n"),
            "internal error: RuntimeError: OpenCV(5.1.0) loadsave.cpp:1313: error: (-215) !buf.empty()",
        ),
        (InputError("first line\r\nsecond line", path="k.jsonl"), "k.jsonl: first line second line"),
    ):

        def boom(*a, _exc=exc, **k):
            raise _exc

        monkeypatch.setattr("interview_guard.pipeline.scan.scan_session", boom)
        out = tmp_path / "out" / "sessions" / "s.json"
        row = batch._scan_one("s", str(root / "s"), str(out), None, None, False, "s")
        assert row["status"] == "failed" and row["error"] == expected
        assert json.loads(out.read_text())["error"] == expected


def test_root_that_is_one_session_with_an_unreadable_file_is_a_failed_record(tmp_path, monkeypatch):
    import builtins

    d = tmp_path / "s1"
    write_jsonl(d / "keystrokes.jsonl", typing_events(50))
    real_open = builtins.open

    def fake_open(file, *a, **k):
        if str(file).endswith("keystrokes.jsonl"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    res = run_batch(d, tmp_path / "out")
    assert (res.total, res.failed) == (1, 1)
    row = read_summary(tmp_path / "out" / "summary.csv")[0]
    assert row["session"] == "s1" and row["error"] == f"{d / 'keystrokes.jsonl'}: permission denied"


def test_root_given_as_dot_has_its_own_name_as_id(tmp_path, monkeypatch):
    d = tmp_path / "s1"
    write_jsonl(d / "keystrokes.jsonl", typing_events(50))
    monkeypatch.chdir(d)
    run_batch(".", tmp_path / "out")
    assert (tmp_path / "out" / "sessions" / "s1.json").is_file()


def test_output_inside_the_root_is_not_input(tmp_path):
    root = tmp_path / "root"
    write_jsonl(root / "session" / "keystrokes.jsonl", typing_events(50))  # its report is sessions/session.json
    out = root / "results"
    run_batch(root, out)
    res = run_batch(root, out)
    assert (res.total, res.skipped, res.failed) == (1, 1, 0)


def test_ids_differing_in_case_are_refused_where_names_ignore_case(tmp_path, monkeypatch):
    import os

    from interview_guard.errors import InterviewGuardError

    root = tmp_path / "root"
    write_jsonl(root / "Sess" / "keystrokes.jsonl", typing_events(50))
    write_jsonl(root / "sess" / "keystrokes.jsonl", typing_events(60))
    res = run_batch(root, tmp_path / "out")  # a case-sensitive file system: two reports
    assert res.total == 2 and len(list((tmp_path / "out" / "sessions").glob("*.json"))) == 2
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: True if ".CASE-PROBE-" in str(p) else real_exists(p))
    with pytest.raises(InterviewGuardError, match="'Sess' and 'sess' differ only in case"):
        run_batch(root, tmp_path / "out2")


def _children(pid):
    """PIDs of the live (not zombie) processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(d.name))
    return out


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop_pool_driver(proc, sig, *, wait_s=60.0):
    """Wait for the two pool workers of the driver ``proc`` (a Popen), let them scan a second, send ``sig`` to the
    driver alone and wait up to ``wait_s`` for its workers to go; the workers still alive then (all are killed
    after, whatever happened)."""
    import signal
    import time

    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) == 2, "the pool's workers did not start"
        time.sleep(1.0)  # scanning
        proc.send_signal(sig)
        proc.wait(timeout=60)
        deadline = time.monotonic() + wait_s
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        return [w for w in workers if _alive(w)]
    finally:
        for pid in [proc.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.video
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_sigterm_to_a_parallel_batch_stops_its_workers_and_loses_nothing(tmp_path):
    """``kill PID`` of a ``batch -j 2`` run: the workers go too (they were left blocked for ever), the run says
    it was terminated (exit 143), and the next run scans what was left, each session once."""
    import signal

    root = tmp_path / "root"
    names = ("typing_genuine_a", "typing_relayed_b", "video_genuine", "video_relay")
    for name in names:
        shutil.copytree(SAMPLES / name, root / name)
    out = tmp_path / "o"
    argv = [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(out), "-j", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    left = _stop_pool_driver(proc, signal.SIGTERM, wait_s=30.0)
    err = proc.stderr.read()
    proc.stderr.close()
    assert not left, "workers outlived the terminated batch"
    assert proc.returncode == 143 and "interview-guard: terminated" in err, err[-2000:]
    assert not list((out / "sessions").glob("*.tmp*")) if (out / "sessions").is_dir() else True
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "-j", "2", "-q"])
    assert r.exit_code == 0, r.output
    rows = read_summary(out / "summary.csv")
    assert sorted(row["session"] for row in rows) == sorted(names)
    assert all(row["status"] == "ok" for row in rows)


@pytest.mark.video
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_sigkill_of_a_parallel_batch_takes_its_workers_and_loses_nothing(tmp_path):
    """``kill -9`` of a ``batch -j 2`` driver: its pool's workers end too (they waited for work for ever, each
    holding its memory), no half file is left, and the next run scans what was left, each session once."""
    import signal

    root = tmp_path / "root"
    names = ("typing_genuine_a", "video_genuine", "video_relay", "video_faceswap")
    for name in names:
        shutil.copytree(SAMPLES / name, root / name)
    out = tmp_path / "o"
    argv = [sys.executable, "-m", "interview_guard.cli", "batch", str(root), "--out", str(out), "-j", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    left = _stop_pool_driver(proc, signal.SIGKILL)
    assert not left, "workers outlived the killed batch"
    for rp in (out / "sessions").glob("*.json"):  # written beside, then renamed: whole
        json.loads(rp.read_text())
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "-j", "2", "-q"])
    assert r.exit_code == 0, r.output
    rows = read_summary(out / "summary.csv")
    assert sorted(row["session"] for row in rows) == sorted(names)
    assert all(row["status"] == "ok" for row in rows)


def test_a_session_whose_results_cannot_be_stored_fails_alone(root, tmp_path, monkeypatch):
    # the driver's commit (index upsert, report) raised for one session and the whole batch stopped
    from interview_guard.pipeline import batch

    commit = batch._commit

    def failing_commit(outcome, report_path, relative_path, index_path):
        if relative_path == "s1":
            raise UnicodeEncodeError("utf-8", "\ud800x", 0, 1, "surrogates not allowed")
        return commit(outcome, report_path, relative_path, index_path)

    monkeypatch.setattr(batch, "_commit", failing_commit)
    out = tmp_path / "out"
    res = run_batch(root, out)
    rows = {r["session"]: r for r in read_summary(out / "summary.csv")}
    assert res.total == 4 and res.failed == 2 and set(rows) == {"s0", "s1", "s2", "broken"}
    assert rows["s0"]["status"] == rows["s2"]["status"] == "ok"  # the sessions after it were stored
    assert rows["s1"]["status"] == "failed" and rows["s1"]["error"].startswith("internal error: UnicodeEncodeError")
    assert json.loads((out / "sessions" / "s1.json").read_text())["status"] == "failed"
