"""The reviewer's loop in the web app (issue #18): verdicts and their audit trail, named tokens, the schema
migration, the filtered list and its CSV export, the parameter file on report pages, retention and disk use."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from conftest import REPO, SAMPLES

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from interview_guard.cli import main  # noqa: E402
from interview_guard.errors import InputError  # noqa: E402
from interview_guard.web.app import create_app  # noqa: E402
from interview_guard.web.jobs import _SCHEMA, JobStore, new_job_id  # noqa: E402
from interview_guard.web.retention import disk_use, purge_uploads  # noqa: E402
from interview_guard.web.reviews import JobFilter, csv_export, filtered_jobs, set_verdict, verdict_history  # noqa: E402
from interview_guard.web.security import load_token_file  # noqa: E402

TOKENS = {"Dana Reviewer": "dana-token-abcdef", "eve": "eve-token-123456"}
WAIT_S = 120.0


def add_finished(store: JobStore, *, risk: float | None, band: str, name: str, created: str | None = None) -> str:
    """A scan through the store's own steps (add, claim, done) with a given risk; its input dir exists."""
    job_id = new_job_id()
    (store.job_dir(job_id) / "input").mkdir(parents=True)
    (store.job_dir(job_id) / "input" / "keystrokes.jsonl").write_text("{}\n" * 100)
    report = store.job_dir(job_id) / "report.json"
    report.write_text("{}")
    store.add(job_id, {"keystrokes": name})
    if created is not None:
        with store._connect() as db:
            db.execute("UPDATE jobs SET created=? WHERE id=?", (created, job_id))
    claimed = store.claim_next()
    assert claimed is not None and claimed[0] == job_id
    assert store.finish_done(job_id, claimed[1], report, risk, band)
    return job_id


def keystroke_upload(client, sample: str = "typing_genuine_a", **headers):
    d = SAMPLES / sample
    files = {
        "keystrokes": (f"{sample}.jsonl", (d / "keystrokes.jsonl").read_bytes(), "application/x-ndjson"),
        "session": ("session.json", (d / "session.json").read_bytes(), "application/json"),
    }
    r = client.post("/upload", files=files, headers={"Accept": "application/json", **headers})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_done(client, job_id: str, **headers) -> dict:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        s = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if s["status"] in ("done", "failed", "interrupted"):
            return s
        time.sleep(0.2)
    raise AssertionError(f"scan {job_id} did not finish")


# --- named tokens ---------------------------------------------------------------------------------------------------


def test_token_file_is_read(tmp_path):
    p = tmp_path / "tokens.txt"
    p.write_text("# reviewers\n\nDana Reviewer: dana-token-abcdef\neve:eve-token-123456\n")
    assert load_token_file(p) == TOKENS


@pytest.mark.parametrize(
    "text,line,words",
    [
        ("alice:alice-token-1\nbob\n", 2, "name:token"),
        ("alice:alice-token-1\n:nameless-token\n", 2, "name"),
        ("alice:short\n", 1, "at least 8"),
        ("alice:has a space in it\n", 1, "at least 8"),
        ("alice:alice-token-1\nalice:other-token-2\n", 2, "twice"),
        ("alice:same-token-1\nbob:same-token-1\n", 2, "same token"),
        ("al/ice:alice-token-1\n", 1, "name"),
        ("# only a comment\n", None, "no 'name:token'"),
    ],
)
def test_malformed_token_file_is_one_line_naming_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "tokens.txt"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        load_token_file(p)
    msg = str(err.value)
    assert str(p) in msg and words in msg and "\n" not in msg
    if line is not None:
        assert f"line {line}:" in msg
    for ln in text.splitlines():
        secret = ln.split(":", 1)[1].strip() if ":" in ln and not ln.startswith("#") else ""
        assert len(secret) < 8 or secret not in msg, "a token is never echoed"
    r = CliRunner().invoke(main, ["serve", "--token-file", str(p), "--data-dir", str(tmp_path / "d")])
    assert r.exit_code == 1
    err_lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and str(p) in err_lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "d").exists(), "nothing is created when the token file is bad"


def test_missing_token_file_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["serve", "--token-file", str(tmp_path / "nope.txt"), "--data-dir", str(tmp_path)])
    assert r.exit_code == 1 and "nope.txt" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# --- schema migration -----------------------------------------------------------------------------------------------


def test_a_schema_1_database_is_migrated_in_place(tmp_path):
    data = tmp_path / "data"
    (data / "jobs").mkdir(parents=True)
    db = sqlite3.connect(data / "jobs.sqlite3")
    db.executescript(_SCHEMA)  # the version-1 table, as servers before the reviews wrote it
    db.execute(
        "INSERT INTO jobs (id, created, updated, filenames, status, stage, progress, risk, band, session_dir, "
        "frames_dir, report_path, attempt) VALUES (?, ?, ?, ?, 'done', 'done', 1, 0.8, 'high', ?, ?, ?, 1)",
        (
            "a" * 32,
            "2026-01-02T03:04:05+00:00",
            "2026-01-02T03:04:05+00:00",
            '{"video": "old.mp4"}',
            "jobs/x/input",
            "jobs/x/frames",
            "jobs/x/report.json",
        ),
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    app = create_app(data, run_jobs=False)
    with TestClient(app) as c:
        old = c.get(f"/api/v1/scans/{'a' * 32}").json()
        assert old["band"] == "high" and old["verdict"] is None and old["filenames"] == {"video": "old.mp4"}
    store = JobStore(data)
    assert set_verdict(store, "a" * 32, "fraud", "from before the upgrade", "eve") is not None
    assert store.get("a" * 32).verdict == "fraud"
    with sqlite3.connect(data / "jobs.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM verdict_log").fetchone()[0] == 1
    store.initialise()  # idempotent: a second start changes nothing
    assert store.get("a" * 32).verdict_note == "from before the upgrade"


def test_a_second_server_starting_while_the_first_creates_the_table_waits_for_it(tmp_path):
    # SQLite answers the switch to write-ahead logging "database is locked" at once while another connection writes
    # the new file (two servers started on one data directory); the second start waits instead of failing
    import threading

    data = tmp_path / "data"
    data.mkdir()
    other = sqlite3.connect(str(data / "jobs.sqlite3"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE scratch (a)")
    done = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
    done.start()
    try:
        store = JobStore(data)
        store.initialise()
    finally:
        done.join()
        other.close()
    job = add_finished(store, risk=0.5, band="medium", name="k.jsonl")
    assert store.get(job).band == "medium"


def test_the_database_refuses_bad_verdicts_itself(tmp_path):
    store = JobStore(tmp_path / "data")
    store.initialise()
    job = add_finished(store, risk=0.5, band="medium", name="k.jsonl")
    with pytest.raises(ValueError, match="verdict must be one of"):
        set_verdict(store, job, "guilty", "", "eve")
    with store._connect() as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE jobs SET verdict='guilty' WHERE id=?", (job,))
    assert set_verdict(store, "b" * 32, "fraud", "", "eve") is None  # unknown job


# --- the whole loop in the HTML pages -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A server with named tokens and a custom parameter file; one real keystroke-only scan."""
    tmp = tmp_path_factory.mktemp("review")
    params = json.loads((REPO / "models" / "fusion.json").read_text())
    params["version"] = "team-a-profile"
    params["bands"] = {"medium": 0.3, "high": 0.6}
    params_path = tmp / "team-a.json"
    params_path.write_text(json.dumps(params))
    app = create_app(tmp / "data", tokens=TOKENS, params_path=params_path, run_jobs=True)
    with TestClient(app) as c:
        r = c.get(f"/?token={TOKENS['Dana Reviewer']}", follow_redirects=False)
        assert r.status_code == 303  # the cookie now names Dana
        job_id = keystroke_upload(c)
        status = wait_done(c, job_id)
        assert status["status"] == "done", status
        yield c, job_id, status, params_path


def test_report_page_shows_the_parameter_file_and_the_scan_used_it(reviewed):
    c, job_id, status, params_path = reviewed
    page = c.get(f"/jobs/{job_id}").text
    assert 'id="params-version">team-a-profile<' in page and f'id="params-file">{params_path.name}<' in page
    assert str(params_path.parent) not in page, "no server paths"
    assert 'id="params-medium">0.30<' in page and 'id="params-high">0.60<' in page
    report = c.get(f"/jobs/{job_id}/report.json").json()
    assert report["risk"]["fusion"]["version"] == "team-a-profile"
    risk = report["risk"]["score"]
    assert report["risk"]["band"] == ("high" if risk >= 0.6 else "medium" if risk >= 0.3 else "low")
    # every report page: also the one the API serves
    assert 'id="params-version">team-a-profile<' in c.get(f"/api/v1/scans/{job_id}/page").text


def test_band_thresholds_are_shown_as_precisely_as_the_parameter_file_gives_them():
    """The shipped high threshold is 0.8547: shown as "0.85", a 0.852 scan read "0.85 medium" beside "high >= 0.85"."""
    from interview_guard.fusion.model import FusionModel
    from interview_guard.web.pages import params_summary, threshold_text

    assert threshold_text(0.3) == "0.30" and threshold_text(0.6) == "0.60" and threshold_text(0.8547) == "0.8547"
    shipped = params_summary(FusionModel.load(REPO / "models" / "fusion.json"))
    assert float(shipped["high_text"]) == shipped["high"] and float(shipped["medium_text"]) == shipped["medium"]


def test_verdict_form_records_the_cookie_name_and_shows_the_trail(reviewed):
    c, job_id, _, _ = reviewed
    page = c.get(f"/jobs/{job_id}").text
    assert f'<form class="ig-verdict" id="verdict-form" method="post" action="/jobs/{job_id}/verdict">' in page
    assert "as Dana Reviewer" in page and "not reviewed yet" in page
    r = c.post(
        f"/jobs/{job_id}/verdict", data={"verdict": "unsure", "note": "check the <b>typing</b>"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/jobs/{job_id}#review"
    eve = {"Authorization": f"Bearer {TOKENS['eve']}"}
    r = c.post(
        f"/jobs/{job_id}/verdict",
        data={"verdict": "fraud", "note": "relay confirmed"},
        headers=eve,
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(f"/jobs/{job_id}").text
    assert 'data-verdict="fraud"' in page and "by eve" in page
    history = page[page.index('id="verdict-history"') :]
    rows = history.split('<tr class="verdict-change">')[1:]
    assert len(rows) == 2
    assert '<td class="who">eve</td><td>unsure</td><td>fraud</td><td>relay confirmed</td>' in rows[0]
    assert '<td class="who">Dana Reviewer</td><td>—</td><td>unsure</td>' in rows[1]
    assert "&lt;b&gt;typing&lt;/b&gt;" in rows[1] and "<b>typing" not in page, "notes are escaped"
    # a bad form changes nothing
    for data in ({"verdict": "guilty"}, {"note": "no verdict"}, {"verdict": "fraud", "note": "x" * 4001}):
        r = c.post(f"/jobs/{job_id}/verdict", data=data, follow_redirects=False)
        assert r.status_code == 400, data
    assert c.get(f"/api/v1/scans/{job_id}/verdicts").json()["changes"][-1]["who"] == "eve"
    assert c.post(f"/jobs/{'0' * 32}/verdict", data={"verdict": "fraud"}).status_code == 404


def test_a_note_with_control_characters_is_refused_in_one_line(reviewed):
    """A NUL, a terminal escape or a bidirectional override in a note would be stored as is and shown in the audit
    trail and jobs.csv (where U+202E shows a note in another order than it was written): refused, form and API."""
    c, job_id, _, _ = reviewed
    before = len(c.get(f"/api/v1/scans/{job_id}/verdicts").json()["changes"])
    for note, code in (("a\x00b", "\\u0000"), ("\x1b[31mred", "\\u001b"), ("paid \u202eevil", "\\u202e")):
        r = c.post(f"/jobs/{job_id}/verdict", data={"verdict": "fraud", "note": note}, follow_redirects=False)
        assert r.status_code == 400 and f"the note holds a control character ({code})" in r.text, r.text
        r = c.put(f"/api/v1/scans/{job_id}/verdict", json={"verdict": "fraud", "note": note})
        assert r.status_code == 400 and code in r.json()["detail"], r.text
    assert len(c.get(f"/api/v1/scans/{job_id}/verdicts").json()["changes"]) == before  # nothing recorded
    r = c.post(
        f"/jobs/{job_id}/verdict", data={"verdict": "unsure", "note": "line one\r\n\tline two"}, follow_redirects=False
    )
    assert r.status_code == 303  # line breaks and tabs are text


def test_verdict_form_from_another_site_is_refused(reviewed):
    c, job_id, _, _ = reviewed
    r = c.post(f"/jobs/{job_id}/verdict", data={"verdict": "genuine"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert c.get(f"/api/v1/scans/{job_id}").json()["verdict"]["verdict"] != "genuine"


# --- the list: filters, sort, CSV -----------------------------------------------------------------------------------


@pytest.fixture
def listed(tmp_path):
    app = create_app(tmp_path / "data", run_jobs=False)
    store = app.state.store
    ids = {
        "low": add_finished(store, risk=0.1, band="low", name="a.jsonl", created="2026-03-01T10:00:00.000000+00:00"),
        "high": add_finished(store, risk=0.9, band="high", name="b.jsonl", created="2026-03-02T10:00:00.000000+00:00"),
        "med": add_finished(store, risk=0.5, band="medium", name="=cmd.jsonl", created="2026-03-03T23:59:59+00:00"),
        "none": add_finished(store, risk=None, band="unassessed", name="d.jsonl", created="2026-03-04T00:00:00+00:00"),
    }
    set_verdict(store, ids["high"], "fraud", '=HYPERLINK("x")', "eve")
    set_verdict(store, ids["low"], "genuine", "fine", "eve")
    with TestClient(app) as c:
        yield c, store, ids


def rows_of(page: str) -> list[str]:
    return [chunk[:32] for chunk in page.split('<tr data-job-id="')[1:]]


def test_jobs_page_filters_by_band_verdict_and_date_and_sorts_by_risk(listed):
    c, _, ids = listed
    assert rows_of(c.get("/jobs").text) == [ids["none"], ids["med"], ids["high"], ids["low"]]
    assert rows_of(c.get("/jobs?sort=risk").text) == [ids["high"], ids["med"], ids["low"], ids["none"]]
    assert rows_of(c.get("/jobs?band=high").text) == [ids["high"]]
    assert rows_of(c.get("/jobs?verdict=fraud").text) == [ids["high"]]
    assert rows_of(c.get("/jobs?verdict=none&sort=risk").text) == [ids["med"], ids["none"]]
    assert rows_of(c.get("/jobs?verdict=any&sort=risk").text) == [ids["high"], ids["low"]]
    assert rows_of(c.get("/jobs?date_from=2026-03-02&date_to=2026-03-03").text) == [ids["med"], ids["high"]]
    page = c.get("/jobs?band=high&verdict=fraud&sort=risk").text
    assert 'id="csv-export" href="/jobs.csv?band=high&amp;verdict=fraud&amp;sort=risk"' in page
    assert '<option value="fraud" selected>' in page and 'id="jobs-count">1<' in page
    for bad in ("band=x", "verdict=x", "sort=x", "date_from=2026-13-01", "date_from=2026-03-05&date_to=2026-03-01"):
        r = c.get(f"/jobs?{bad}")
        assert r.status_code == 400 and 'id="error-message"' in r.text, bad


def test_csv_export_has_the_filtered_list_and_defuses_formulas(listed):
    c, store, ids = listed
    r = c.get("/jobs.csv?sort=risk")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [t["id"] for t in table] == [ids["high"], ids["med"], ids["low"], ids["none"]]
    high = table[0]
    assert high["verdict"] == "fraud" and high["verdict_by"] == "eve" and high["band"] == "high"
    assert float(high["risk_score"]) == 0.9 and high["verdict_note"] == '\'=HYPERLINK("x")'
    assert table[1]["files"] == "'=cmd.jsonl"
    only = list(csv.DictReader(io.StringIO(c.get("/jobs.csv?verdict=genuine").text)))
    assert [t["id"] for t in only] == [ids["low"]] and only[0]["verdict_note"] == "fine"
    jobs, total = filtered_jobs(store, JobFilter.parse(band="medium"))
    assert total == 1 and csv_export(jobs).count("\r\n") == 2


# --- retention and disk use -----------------------------------------------------------------------------------------


def test_retention_deletes_old_uploads_only(listed):
    c, store, ids = listed
    queued = new_job_id()
    (store.job_dir(queued) / "input").mkdir(parents=True)
    (store.job_dir(queued) / "input" / "keystrokes.jsonl").write_text("{}\n")
    store.add(queued, {"keystrokes": "q.jsonl"})
    before = disk_use(store)
    assert before.uploads > 0 and before.reports > 0 and before.database > 0
    page = c.get("/jobs").text
    assert f'data-uploads="{before.uploads}"' in page and "Uploads are kept" in page

    # uploaded 2026-03-01 .. 03-04; "now" 2026-03-05 12:00, keep 2 days: the 03-01 and 03-02 uploads go
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert purge_uploads(store, 2.5, now=now) == 2
    for key, gone in (("low", True), ("high", True), ("med", False), ("none", False)):
        job = store.get(ids[key])
        assert job.session_dir.is_dir() is not gone, key
        assert (job.uploads_deleted is not None) is gone
        assert (store.job_dir(ids[key]) / "report.json").is_file(), "reports stay"
    assert store.get(ids["high"]).verdict == "fraud", "verdicts stay"
    assert purge_uploads(store, 2.5, now=now) == 0, "done once"
    assert purge_uploads(store, 0.001, now=datetime.now(UTC) + timedelta(days=400)) == 2
    assert store.get(queued).session_dir.is_dir(), "a queued scan keeps its input"
    assert not store.requeue(ids["low"]), "a scan without its uploads cannot be re-run"
    after = disk_use(store)
    assert after.uploads < before.uploads and after.reports == before.reports
    api = c.get(f"/api/v1/scans/{ids['low']}").json()
    assert api["uploads_deleted"] is not None and api["verdict"]["verdict"] == "genuine"


def test_retain_days_runs_at_start_and_is_shown(tmp_path):
    store = JobStore(tmp_path / "data")
    store.initialise()
    old = add_finished(store, risk=0.2, band="low", name="old.jsonl", created="2020-01-01T00:00:00+00:00")
    new = add_finished(store, risk=0.2, band="low", name="new.jsonl")
    app = create_app(tmp_path / "data", retain_days=30, run_jobs=True)
    with TestClient(app) as c:
        deadline = time.monotonic() + 30
        while store.get(old).uploads_deleted is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.get(old).uploads_deleted is not None and store.get(new).uploads_deleted is None
        assert "Uploads are deleted 30 days after they came in" in c.get("/jobs").text


def test_serve_refuses_a_bad_parameter_file_in_one_line(tmp_path):
    bad = tmp_path / "params.json"
    bad.write_text('{"model": "logistic", "intercept": 0, "bands": {"medium": 0.8, "high": 0.2}}')
    r = CliRunner().invoke(main, ["serve", "--params", str(bad), "--data-dir", str(tmp_path / "d")])
    assert r.exit_code == 1 and str(bad) in r.stderr and "bands" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    shutil.rmtree(tmp_path / "d", ignore_errors=True)


def test_a_relative_parameter_file_reaches_the_scan(tmp_path, monkeypatch):
    """Scans run in their job directory: a --params path relative to where serve started must still be found."""
    params = json.loads((REPO / "models" / "fusion.json").read_text())
    params["version"] = "relative-profile"
    (tmp_path / "rel.json").write_text(json.dumps(params))
    monkeypatch.chdir(tmp_path)
    app = create_app("data", params_path="rel.json", run_jobs=True)
    with TestClient(app) as c:
        job_id = keystroke_upload(c, "typing_genuine_b")
        status = wait_done(c, job_id)
        assert status["status"] == "done", status
        assert c.get(f"/jobs/{job_id}/report.json").json()["risk"]["fusion"]["version"] == "relative-profile"


@pytest.mark.parametrize("token,expected", [(None, "anonymous"), ("one-shared-token-xyz", "shared-token")])
def test_reviewer_name_without_named_tokens(tmp_path, token, expected):
    app = create_app(tmp_path / "data", token=token, run_jobs=False)
    store = app.state.store
    job = add_finished(store, risk=0.3, band="low", name="k.jsonl")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with TestClient(app) as c:
        r = c.put(f"/api/v1/scans/{job}/verdict", json={"verdict": "genuine"}, headers=headers)
        assert r.status_code == 200 and r.json()["verdict"]["by"] == expected
        r = c.post(f"/jobs/{job}/verdict", data={"verdict": "unsure"}, headers=headers, follow_redirects=False)
        assert r.status_code == 303
    assert [h.who for h in verdict_history(store, job)] == [expected, expected]
