"""The upload form and ``POST /api/v1/scans`` take the enrolment photo session.json's ``enrolment_photo`` names:
checked as a hostile upload (size, content sniffed by its header, server-chosen name), and session.json is
written by the server to point at it (FastAPI's TestClient)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from conftest import SHARED_DATA, needs_shared

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from interview_guard.io import enrolment  # noqa: E402
from interview_guard.io.image_header import image_format, image_size  # noqa: E402
from interview_guard.web.app import create_app  # noqa: E402
from interview_guard.web.jobs import JobStore  # noqa: E402
from interview_guard.web.uploads import ROLES  # noqa: E402
from test_web import keystroke_bytes, leftovers, multipart, post_parts  # noqa: E402


def png(width: int = 32, height: int = 24) -> bytes:
    """A valid grey PNG (its header declares ``width`` x ``height``)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def client(data):
    with TestClient(create_app(data, max_upload_bytes=2 << 20, run_jobs=False)) as c:
        yield c


def _input(data: Path, job_id: str) -> Path:
    return JobStore(data).get(job_id).job_dir / "input"


def test_the_form_has_an_enrolment_photo_field_for_the_formats_the_scan_reads(client):
    page = client.get("/").text
    assert '<input type="file" id="enrolment_photo" name="enrolment_photo"' in page
    accept = page.split('name="enrolment_photo" accept="', 1)[1].split('"', 1)[0]
    assert {".jpg", ".jpeg", ".png", ".webp", "image/*"} <= set(accept.split(","))
    assert set(ROLES["enrolment_photo"].extensions.values()) == {
        f"enrolment{e}" for e in ROLES["enrolment_photo"].extensions
    }
    assert image_format(png()) == "PNG" and image_format(b"not an image at all") is None
    body = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/scans"]["post"]["requestBody"]
    assert "enrolment_photo" in body["content"]["multipart/form-data"]["schema"]["properties"]


def test_a_photo_without_session_json_gets_a_session_json_written_by_the_server(client, data):
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("enrolment_photo", "Jane Doe.png", png())])
    assert r.status_code == 201, r.text
    job = JobStore(data).get(r.json()["id"])
    inp = job.job_dir / "input"
    assert sorted(p.name for p in inp.iterdir()) == ["enrolment.png", "keystrokes.jsonl", "session.json"]
    assert json.loads((inp / "session.json").read_text()) == {"enrolment_photo": "enrolment.png"}
    assert (inp / "enrolment.png").read_bytes() == png()
    # the client's name is kept for display; session.json is the server's, not an uploaded file
    assert job.filenames == {"keystrokes": "k.jsonl", "enrolment_photo": "Jane Doe.png"}
    assert "Jane Doe.png" in client.get(f"/jobs/{job.id}").text


def test_the_uploaded_session_json_is_rewritten_to_the_stored_name_whatever_path_it_gave(client, data):
    meta = {"candidate_id": "c-9", "claimed_location": "Lisbon", "enrolment_photo": "photos/id card.jpg"}
    body, ctype = multipart(
        [
            ("keystrokes", "k.jsonl", keystroke_bytes()),
            ("session", "session.json", json.dumps(meta).encode()),
            ("enrolment_photo", "../../../etc/id.JPG", b"\xff\xd8\xff\xe0" + png()[4:]),  # a JPEG start, named up
        ]
    )
    r = client.post("/api/v1/scans", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 400 and "id.JPG: not a readable image" in r.json()["detail"], r.json()
    assert leftovers(data) == []
    body, ctype = multipart(
        [
            ("keystrokes", "k.jsonl", keystroke_bytes()),
            ("session", "session.json", json.dumps(meta).encode()),
            ("enrolment_photo", "../../../etc/id.PNG", png()),
        ]
    )
    r = client.post("/api/v1/scans", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 201, r.text
    assert r.json()["filenames"]["enrolment_photo"] == "id.PNG"
    inp = _input(data, r.json()["id"])
    assert sorted(p.name for p in inp.iterdir()) == ["enrolment.png", "keystrokes.jsonl", "session.json"]
    assert json.loads((inp / "session.json").read_text()) == dict(meta, enrolment_photo="enrolment.png")
    assert not (data.parent / "etc").exists()


def test_without_a_photo_the_uploaded_session_json_is_left_as_it_is(client, data):
    raw = json.dumps({"candidate_id": "c-1", "enrolment_photo": "photo.jpg"}).encode()
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("session", "session.json", raw)])
    assert r.status_code == 201, r.text
    assert (_input(data, r.json()["id"]) / "session.json").read_bytes() == raw


@pytest.mark.parametrize(
    "name, content, status, words",
    [
        (
            "me.jpg",
            b"this is not an image, just some text\n" * 10,
            400,
            "me.jpg: not an image (its content is not JPEG",
        ),
        ("me.png", b"GIF8", 400, "me.png: not an image"),
        ("me.svg", png(), 400, "me.svg: not an accepted enrolment photo type"),
        ("me.exe", png(), 400, "me.exe: not an accepted enrolment photo type"),
        ("../../etc/passwd.jpg", b"root:x:0:0:root:/root:/bin/bash\n", 400, "passwd.jpg: not an image"),
        ("cut.png", png()[:20], 400, "cut.png: not a readable image (truncated or malformed PNG header)"),
        ("bomb.png", png(30000, 30000)[:33] + png()[33:], 400, "bomb.png: PNG of 30000x30000 pixels, more than 40"),
        ("empty.png", b"", 400, "empty.png: the file is empty"),
    ],
)
def test_bad_photos_are_refused_by_name_and_leave_nothing(client, data, name, content, status, words):
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("enrolment_photo", name, content)])
    assert r.status_code == status and words in r.json()["detail"], r.json()
    assert str(data) not in r.json()["detail"] and "enrolment." not in r.json()["detail"]
    assert leftovers(data) == []


def test_a_photo_over_the_scans_photo_limit_is_refused_at_once(client, data, monkeypatch):
    monkeypatch.setattr(enrolment, "MAX_PHOTO_BYTES", 4096)  # the limit the scan reads photos up to (40 MiB)
    big = png() + b"\0" * 5000  # an image by its header, 5 KB
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("enrolment_photo", "big.png", big)])
    assert r.status_code == 413 and "big.png: the enrolment photo is larger than 4096 bytes" in r.json()["detail"]
    assert leftovers(data) == []


def test_one_photo_per_upload_and_a_photo_alone_is_not_a_session(client, data):
    r = post_parts(
        client,
        [
            ("keystrokes", "k.jsonl", keystroke_bytes()),
            ("enrolment_photo", "a.png", png()),
            ("enrolment_photo", "b.png", png()),
        ],
    )
    assert r.status_code == 400 and "more than one enrolment photo" in r.json()["detail"]
    r = post_parts(client, [("enrolment_photo", "a.png", png())])
    assert r.status_code == 400 and "choose a recording" in r.json()["detail"]
    assert leftovers(data) == []


@needs_shared()
def test_the_scan_finds_the_uploaded_photo_where_session_json_points(client, data):
    from interview_guard.io.enrolment import describe_enrolment_photo
    from interview_guard.io.session import Session

    photo = (SHARED_DATA / "faces_video" / "stills" / "obama.jpg").read_bytes()
    assert image_size(photo)[0] == "JPEG"
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("enrolment_photo", "obama.jpg", photo)])
    assert r.status_code == 201, r.text
    inp = _input(data, r.json()["id"])
    meta = Session.open(inp).metadata()
    assert meta.enrolment_photo == "enrolment.jpg"
    enr = describe_enrolment_photo(inp, meta.enrolment_photo)
    assert enr.status == "ok", enr.note  # found and read, no "file not found" warning


def test_scan_warnings_name_the_photo_as_the_client_uploaded_it(tmp_path):
    from interview_guard.web.worker import _client_names

    (tmp_path / "enrolment.png").write_bytes(png())
    warning = "enrolment photo enrolment.png (32x24): no face found"
    got = _client_names(warning, tmp_path, {"enrolment_photo": "Jane Doe.png"})
    assert got == "enrolment photo Jane Doe.png (32x24): no face found"


def test_every_uploaded_file_is_named_in_the_jobs_list_and_its_csv(client, data):
    import csv
    import io

    from interview_guard.web.pages import files_text
    from interview_guard.web.reviews import csv_export

    names = {
        "video": "v.mp4",
        "audio": "mic.wav",
        "keystrokes": "k.jsonl",
        "metadata": "session.json",
        "enrolment_photo": "Jane Doe.png",
    }
    job = JobStore(data).add("a" * 32, names)
    shown = "v.mp4, mic.wav, k.jsonl, session.json, Jane Doe.png"
    assert files_text(job) == shown
    (row,) = list(csv.DictReader(io.StringIO(csv_export([job]))))
    assert row["files"] == shown  # the CSV left the audio file out


def test_a_photo_whose_extension_names_another_image_format_is_accepted_as_documented(client, data):
    # docs/web.md: the scan decodes the photo by content (io/enrolment.py, cv2.imdecode), so a PNG named .jpg is
    # accepted, unlike a video or audio file whose extension contradicts its content
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("enrolment_photo", "me.jpg", png())])
    assert r.status_code == 201, r.text
    inp = _input(data, r.json()["id"])
    assert (inp / "enrolment.jpg").read_bytes() == png() and image_format(png()) == "PNG"
    assert json.loads((inp / "session.json").read_text()) == {"enrolment_photo": "enrolment.jpg"}
