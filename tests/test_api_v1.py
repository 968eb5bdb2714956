"""The JSON API under /api/v1 (issue #18): every route with and without the token, wrong types, unknown ids."""

from __future__ import annotations

import time

import pytest

from conftest import SAMPLES

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from interview_guard.web.app import create_app  # noqa: E402

TOKENS = {"alice": "alice-secret-token-1", "bob": "bob-secret-token-22"}
ALICE = {"Authorization": f"Bearer {TOKENS['alice']}"}
BOB = {"Authorization": f"Bearer {TOKENS['bob']}"}
UNKNOWN = "0" * 32
WAIT_S = 120.0


def upload(client, sample: str = "typing_genuine_a", headers=ALICE, **extra):
    d = SAMPLES / sample
    files = {"keystrokes": ("keystrokes.jsonl", (d / "keystrokes.jsonl").read_bytes(), "application/x-ndjson")}
    if (d / "session.json").is_file():
        files["session"] = ("session.json", (d / "session.json").read_bytes(), "application/json")
    files.update(extra)
    return client.post("/api/v1/scans", files=files, headers=headers)


def wait_done(client, scan_id: str, headers=ALICE) -> dict:
    deadline = time.monotonic() + WAIT_S
    seen = []
    while time.monotonic() < deadline:
        s = client.get(f"/api/v1/scans/{scan_id}", headers=headers).json()
        seen.append((s["status"], s["progress"]))
        if s["status"] in ("done", "failed", "interrupted"):
            s["_seen"] = seen
            return s
        time.sleep(0.2)
    raise AssertionError(f"scan {scan_id} not finished after {WAIT_S} s: {seen[-3:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with two named tokens and the runner on; one keystroke-only scan done, one never started."""
    data = tmp_path_factory.mktemp("api") / "data"
    app = create_app(data, tokens=TOKENS, run_jobs=True)
    with TestClient(app) as c:
        r = upload(c)
        assert r.status_code == 201, r.text
        done = wait_done(c, r.json()["id"])
        assert done["status"] == "done", done
        yield c, done


# --- the token ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/v1/scans"),
        ("GET", "/api/v1/scans"),
        ("GET", "/api/v1/scans/{id}"),
        ("GET", "/api/v1/scans/{id}/report"),
        ("GET", "/api/v1/scans/{id}/page"),
        ("PUT", "/api/v1/scans/{id}/verdict"),
        ("GET", "/api/v1/scans/{id}/verdicts"),
        ("GET", "/api/v1/openapi.json"),
    ],
)
def test_every_route_needs_the_token(server, method, path):
    client, done = server
    url = path.replace("{id}", done["id"])
    for headers in ({}, {"Authorization": "Bearer wrong-token-xyz"}, {"Authorization": TOKENS["alice"]}):
        r = client.request(method, url, headers=headers, json={"verdict": "fraud"} if method == "PUT" else None)
        assert r.status_code == 401, (url, headers, r.status_code)
        assert "token" in r.json()["detail"]
    assert client.get("/healthz").json() == {"ok": True}


def test_without_a_token_configured_every_route_is_open(tmp_path):
    app = create_app(tmp_path / "data", run_jobs=False)
    with TestClient(app) as c:
        r = upload(c, headers={})
        assert r.status_code == 201, r.text
        scan = r.json()
        assert scan["status"] == "queued" and scan["verdict"] is None and r.headers["location"] == scan["url"]
        assert c.get("/api/v1/scans").json()["total"] == 1
        assert c.get(scan["url"]).json()["id"] == scan["id"]
        assert c.get(f"{scan['url']}/report").status_code == 409  # never scanned: the runner is off
        assert c.get(f"{scan['url']}/page").status_code == 409
        assert c.put(f"{scan['url']}/verdict", json={"verdict": "genuine"}).status_code == 409
        assert c.get(f"{scan['url']}/verdicts").json() == {"id": scan["id"], "changes": []}
        assert c.get("/api/v1/openapi.json").status_code == 200


# --- create, poll, fetch --------------------------------------------------------------------------------------------


def test_create_poll_and_fetch_the_report_and_page(server):
    client, done = server
    assert done["risk_score"] is not None and done["band"] in ("low", "medium", "high")
    assert done["progress"] == 1.0 and done["report_url"] == f"/api/v1/scans/{done['id']}/report"
    assert done["filenames"] == {"keystrokes": "keystrokes.jsonl", "metadata": "session.json"}
    assert done["page_url"] == f"/jobs/{done['id']}" and done["uploads_deleted"] is None
    assert all(0.0 <= p <= 1.0 for _, p in done["_seen"])
    report = client.get(done["report_url"], headers=ALICE)
    assert report.status_code == 200 and report.headers["content-type"].startswith("application/json")
    assert report.json()["risk"]["score"] == done["risk_score"]
    assert report.json()["session"]["modalities"]["keystrokes"] is True
    page = client.get(f"/api/v1/scans/{done['id']}/page", headers=ALICE)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="risk-score"' in page.text and 'id="verdict-form"' in page.text
    assert "script-src 'none'" in page.headers["content-security-policy"]


def test_create_refuses_bad_uploads_with_one_line(server):
    client, _ = server
    r = client.post("/api/v1/scans", content=b"{}", headers={**ALICE, "Content-Type": "application/json"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
    r = client.post("/api/v1/scans", files={"session": ("session.json", b"{}", "application/json")}, headers=ALICE)
    assert r.status_code == 400 and "recording" in r.json()["detail"]
    r = client.post(
        "/api/v1/scans", files={"video": ("clip.mp4", b"not a video at all" * 4, "video/mp4")}, headers=ALICE
    )
    assert r.status_code == 400 and "clip.mp4" in r.json()["detail"] and "not a video" in r.json()["detail"]
    r = client.post(
        "/api/v1/scans", files={"keystrokes": ("keys.jsonl", b'{"t": "soon"}\n', "text/plain")}, headers=ALICE
    )
    assert r.status_code == 400 and "keys.jsonl" in r.json()["detail"]


def test_list_filters_sorts_and_pages(server):
    client, done = server
    listed = client.get("/api/v1/scans", headers=ALICE).json()
    assert done["id"] in [s["id"] for s in listed["scans"]] and listed["total"] >= 1
    same = client.get(f"/api/v1/scans?band={done['band']}&sort=risk&limit=1", headers=ALICE).json()
    assert len(same["scans"]) == 1 and same["scans"][0]["band"] == done["band"]
    other = next(b for b in ("low", "medium", "high") if b != done["band"])
    assert done["id"] not in [s["id"] for s in client.get(f"/api/v1/scans?band={other}", headers=ALICE).json()["scans"]]
    day = done["created"][:10]
    assert client.get(f"/api/v1/scans?date_from={day}&date_to={day}", headers=ALICE).json()["total"] >= 1
    assert client.get("/api/v1/scans?date_to=2000-01-01", headers=ALICE).json() == {"scans": [], "total": 0}
    assert client.get("/api/v1/scans?offset=1000", headers=ALICE).json()["scans"] == []


@pytest.mark.parametrize(
    "query,word",
    [
        ("band=purple", "band"),
        ("verdict=maybe", "verdict"),
        ("sort=oldest", "sort"),
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("offset=-1", "offset"),
        ("date_from=yesterday", "date_from"),
        ("date_from=2026-02-30", "date_from"),
        ("date_from=2026-05-02&date_to=2026-05-01", "date_from"),
    ],
)
def test_list_wrong_types_are_400_naming_the_parameter(server, query, word):
    client, _ = server
    r = client.get(f"/api/v1/scans?{query}", headers=ALICE)
    assert r.status_code == 400, (query, r.text)
    assert word in r.json()["detail"] and "\n" not in r.json()["detail"]


@pytest.mark.parametrize("suffix", ["", "/report", "/page", "/verdicts"])
@pytest.mark.parametrize("scan_id", [UNKNOWN, "not-an-id", "../../etc/passwd", "A" * 32])
def test_unknown_ids_are_404(server, suffix, scan_id):
    client, _ = server
    r = client.get(f"/api/v1/scans/{scan_id}{suffix}", headers=ALICE)
    assert r.status_code == 404
    if "/" not in scan_id:  # (a path with slashes matches no route at all)
        assert r.json() == {"detail": "no such scan"}
    r = client.put(f"/api/v1/scans/{scan_id}/verdict", json={"verdict": "fraud"}, headers=ALICE)
    assert r.status_code == 404


# --- verdicts -------------------------------------------------------------------------------------------------------


def test_verdict_is_recorded_under_the_token_name_with_its_trail(server):
    client, done = server
    url = f"/api/v1/scans/{done['id']}"
    r = client.put(f"{url}/verdict", json={"verdict": "unsure", "note": "  typing looks odd  "}, headers=ALICE)
    assert r.status_code == 200, r.text
    v = r.json()["verdict"]
    assert v["verdict"] == "unsure" and v["note"] == "typing looks odd" and v["by"] == "alice"
    r = client.put(f"{url}/verdict", json={"verdict": "fraud", "note": "confirmed on the call"}, headers=BOB)
    assert r.json()["verdict"]["by"] == "bob" and r.json()["verdict"]["verdict"] == "fraud"
    assert client.get(url, headers=ALICE).json()["verdict"]["verdict"] == "fraud"
    changes = client.get(f"{url}/verdicts", headers=ALICE).json()["changes"]
    assert [(c["who"], c["before"]["verdict"], c["after"]["verdict"]) for c in changes[-2:]] == [
        ("alice", changes[-2]["before"]["verdict"], "unsure"),
        ("bob", "unsure", "fraud"),
    ]
    assert (
        changes[-1]["before"]["note"] == "typing looks odd" and changes[-1]["after"]["note"] == "confirmed on the call"
    )
    assert changes[-1]["at"] >= changes[-2]["at"]
    fraud = client.get("/api/v1/scans?verdict=fraud", headers=ALICE).json()["scans"]
    assert done["id"] in [s["id"] for s in fraud]
    assert done["id"] not in [s["id"] for s in client.get("/api/v1/scans?verdict=none", headers=ALICE).json()["scans"]]
    assert done["id"] in [s["id"] for s in client.get("/api/v1/scans?verdict=any", headers=ALICE).json()["scans"]]


@pytest.mark.parametrize(
    "body,word",
    [
        ({"verdict": "guilty"}, "verdict"),
        ({"verdict": 1}, "verdict"),
        ({"verdict": None}, "verdict"),
        ({}, "verdict"),
        ({"verdict": "fraud", "note": 42}, "note"),
        ({"verdict": "fraud", "note": ["a"]}, "note"),
        ({"verdict": "fraud", "note": "x" * 4001}, "note"),
        ({"verdict": "fraud", "who": "mallory"}, "who"),
        (["fraud"], "body"),
    ],
)
def test_verdict_wrong_types_are_400_and_change_nothing(server, body, word):
    client, done = server
    url = f"/api/v1/scans/{done['id']}"
    before = client.get(f"{url}/verdicts", headers=ALICE).json()["changes"]
    r = client.put(f"{url}/verdict", json=body, headers=ALICE)
    assert r.status_code == 400, (body, r.text)
    assert word in r.json()["detail"], r.json()
    assert client.get(f"{url}/verdicts", headers=ALICE).json()["changes"] == before


def test_verdict_body_that_is_not_json_is_400(server):
    client, done = server
    r = client.put(
        f"/api/v1/scans/{done['id']}/verdict",
        content=b"verdict=fraud",
        headers={**ALICE, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "\n" not in r.json()["detail"]


# --- the schema -----------------------------------------------------------------------------------------------------


def test_openapi_schema_documents_every_v1_route_and_only_those(server):
    client, _ = server
    schema = client.get("/api/v1/openapi.json", headers=ALICE).json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/scans",
        "/api/v1/scans/{scan_id}",
        "/api/v1/scans/{scan_id}/report",
        "/api/v1/scans/{scan_id}/page",
        "/api/v1/scans/{scan_id}/verdict",
        "/api/v1/scans/{scan_id}/verdicts",
    }
    assert set(paths["/api/v1/scans"]) == {"get", "post"} and set(paths["/api/v1/scans/{scan_id}/verdict"]) == {"put"}
    upload_body = paths["/api/v1/scans"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(upload_body["properties"]) == {"video", "audio", "keystrokes", "session", "enrolment_photo"}
    verdict_schema = schema["components"]["schemas"]["VerdictIn"]
    assert verdict_schema["properties"]["verdict"]["enum"] == ["genuine", "fraud", "unsure"]
    params = {p["name"] for p in paths["/api/v1/scans"]["get"]["parameters"]}
    assert params == {"band", "verdict", "date_from", "date_to", "sort", "limit", "offset"}
