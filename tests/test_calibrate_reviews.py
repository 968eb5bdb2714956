"""``calibrate --from-reviews DATA_DIR`` (issue #18): fitting the fusion on the verdicts of a server's reviewers.

The data directory is built the way ``serve`` builds it (job store, one job per session with its report,
a verdict per job through the review code), from labelled generated sessions: manipulated ones get ``fraud``,
genuine ones ``genuine``. The fit on those verdicts must be the fit ``calibrate`` makes on the sessions.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from interview_guard.cli import main
from interview_guard.errors import InputError
from interview_guard.pipeline.calibrate import collect_review_scores, read_label
from test_calibration import make_labelled_root

pytest.importorskip("fastapi")
from interview_guard.web.jobs import JobStore, new_job_id  # noqa: E402
from interview_guard.web.reviews import set_verdict  # noqa: E402


def run_cli(*args: str):
    r = CliRunner().invoke(main, list(args))
    return r


def reviewed_data_dir(data, root, reports, *, extra_verdicts=()):
    """A serve data directory holding one finished scan per labelled session, with its label as the verdict."""
    store = JobStore(data)
    store.initialise()
    ids = {}
    for d in sorted(p for p in root.iterdir() if (p / "label.json").is_file()):
        report = reports / "sessions" / f"{d.name}.json"
        if not report.is_file():
            continue  # its scan failed: no report to review
        job_id = new_job_id()
        jd = store.job_dir(job_id)
        shutil.copytree(d, jd / "input")
        (jd / "input" / "label.json").unlink()  # a server never sees a label: only the verdict
        shutil.copy(report, jd / "report.json")
        store.add(job_id, {"keystrokes": "keystrokes.jsonl"})
        claimed = store.claim_next()
        assert claimed == (job_id, 1)
        rep = json.loads(report.read_text())
        assert store.finish_done(job_id, 1, jd / "report.json", rep["risk"]["score"], rep["risk"]["band"])
        y, _ = read_label(d / "label.json")
        assert set_verdict(store, job_id, "fraud" if y else "genuine", "from label.json", "test") is not None
        ids[d.name] = job_id
    for name, verdict in extra_verdicts:
        set_verdict(store, ids[name], verdict, "changed my mind", "test")
    return store, ids


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    base = tmp_path_factory.mktemp("calrev")
    root = make_labelled_root(base / "root", n_genuine=8, n_relay=8, n_keys=200)
    out = base / "direct" / "fusion.json"
    r = run_cli("calibrate", str(root), "-o", str(out), "--reports", str(base / "reports"), "--folds", "4", "-q")
    assert r.exit_code == 0, r.output + r.stderr
    return {"base": base, "root": root, "reports": base / "reports", "direct": out}


def test_from_reviews_gives_the_same_parameters_as_calibrate_on_the_sessions(labelled, tmp_path):
    data = tmp_path / "data"
    store, ids = reviewed_data_dir(data, labelled["root"], labelled["reports"])
    out = tmp_path / "reviews" / "fusion.json"
    r = run_cli("calibrate", "--from-reviews", str(data), "-o", str(out), "--folds", "4", "-q")
    assert r.exit_code == 0, r.output + r.stderr
    direct = json.loads(labelled["direct"].read_text())
    from_reviews = json.loads(out.read_text())
    assert direct["intercept"] == from_reviews["intercept"]
    assert direct["analyzers"] == from_reviews["analyzers"]
    assert direct["bands"] == from_reviews["bands"]
    assert direct["version"] == from_reviews["version"], "same data hash: the same labelled scores"
    assert direct.get("decisive") == from_reviews.get("decisive")
    # the same cross-validated report: folds, out-of-fold risks, metrics
    rep_a = json.loads(labelled["direct"].with_name("fusion.json.report.json").read_text())
    rep_b = json.loads(out.with_name("fusion.json.report.json").read_text())
    assert rep_a["metrics"]["fused"] == rep_b["metrics"]["fused"]
    assert rep_a["metrics"]["analyzers"] == rep_b["metrics"]["analyzers"]
    assert rep_a["metrics"]["bands"] == rep_b["metrics"]["bands"]
    assert "out-of-fold" in r.output and out.with_name("fusion.json.reliability.png").is_file()
    assert from_reviews["analyzers"]["keystroke_relay"]["weight"] > 0.5, "the relay typing is learnt"
    # a reviewer who calls one relayed session genuine: different parameters
    set_verdict(store, ids["m03"], "genuine", "looked fine to me", "test")
    flipped = tmp_path / "flipped" / "fusion.json"
    r = run_cli("calibrate", "--from-reviews", str(data), "-o", str(flipped), "--folds", "4", "-q")
    assert r.exit_code == 0, r.output + r.stderr
    changed = json.loads(flipped.read_text())
    assert changed["intercept"] != direct["intercept"] and changed["version"] != direct["version"]


def test_unsure_verdicts_are_left_out_and_listed(labelled, tmp_path):
    data = tmp_path / "data"
    _, ids = reviewed_data_dir(data, labelled["root"], labelled["reports"], extra_verdicts=[("g00", "unsure")])
    table = collect_review_scores(data)
    assert "g00" not in table.session_ids and table.n == len(ids) - 1
    assert (ids["g00"], "verdict unsure") in table.excluded
    assert int(table.y.sum()) == sum(1 for k in ids if k.startswith("m"))
    # a verdict changed back counts again, with its latest value
    set_verdict(JobStore(data), ids["g00"], "genuine", "", "test")
    assert "g00" in collect_review_scores(data).session_ids


def test_scans_without_a_report_and_duplicate_names(labelled, tmp_path):
    data = tmp_path / "data"
    store, ids = reviewed_data_dir(data, labelled["root"], labelled["reports"])
    # a second scan of the same session: both kept, told apart by their scan ids
    dup = new_job_id()
    shutil.copytree(store.job_dir(ids["m01"]), store.job_dir(dup))
    store.add(dup, {"keystrokes": "keystrokes.jsonl"})
    store.claim_next()
    store.finish_done(dup, 1, store.job_dir(dup) / "report.json", 0.5, "medium")
    set_verdict(store, dup, "fraud", "", "test")
    # a scan that failed, with a verdict anyway
    failed = new_job_id()
    (store.job_dir(failed) / "input").mkdir(parents=True)
    store.add(failed, {"video": "x.mp4"})
    store.claim_next()
    store.finish_failed(failed, 1, "broken video")
    set_verdict(store, failed, "fraud", "", "test")
    table = collect_review_scores(data)
    assert f"m01~{dup[:8]}" in table.session_ids and f"m01~{ids['m01'][:8]}" in table.session_ids
    assert "m01" not in table.session_ids and table.n == len(ids) + 1
    assert (failed, "no report (the scan is failed)") in table.excluded


def test_bad_data_dirs_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="not a data directory"):
        collect_review_scores(tmp_path)
    store = JobStore(tmp_path / "empty")
    store.initialise()
    with pytest.raises(InputError, match="no scan with a 'genuine' or 'fraud' verdict"):
        collect_review_scores(tmp_path / "empty")
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / "jobs.sqlite3") as db:
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT)")
    with pytest.raises(InputError, match="no verdicts"):
        collect_review_scores(old)
    r = run_cli("calibrate", "--from-reviews", str(tmp_path / "empty"), "-o", str(tmp_path / "f.json"))
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1 and "verdict" in r.stderr
    r = run_cli("calibrate", str(tmp_path), "--from-reviews", str(tmp_path / "empty"), "-o", str(tmp_path / "f.json"))
    assert r.exit_code == 2 and "not both" in r.stderr
    r = run_cli("calibrate", "-o", str(tmp_path / "f.json"))
    assert r.exit_code == 2 and "--from-reviews" in r.stderr
    r = run_cli(
        "calibrate", "--from-reviews", str(tmp_path / "empty"), "--reports", str(tmp_path / "r"), "-o", "f.json"
    )
    assert r.exit_code == 2 and "--reports" in r.stderr
    assert not (tmp_path / "f.json").exists()
