"""The upload form takes every file ``interview-guard scan`` reads of a session: video, audio, keystroke log
(.jsonl .csv .tsv .txt) and session.json, each with the checks of a hostile upload (FastAPI's TestClient)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_audio

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from interview_guard.io.keystroke_log import KEYSTROKE_FILE_NAMES  # noqa: E402
from interview_guard.io.session import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS  # noqa: E402
from interview_guard.web.app import create_app  # noqa: E402
from interview_guard.web.jobs import JobStore  # noqa: E402
from interview_guard.web.uploads import ROLES, sniff_audio  # noqa: E402
from test_web import _wait_finished, keystroke_bytes, leftovers, post_parts  # noqa: E402

WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
FLAC_HEAD = b"fLaC\x00\x00\x00\x22" + b"\0" * 8
OGG_HEAD = b"OggS\x00\x02" + b"\0" * 10
MP3_HEAD = b"\xff\xfb\x90\x64" + b"\0" * 12  # MPEG-1 layer III frame
ADTS_HEAD = b"\xff\xf1\x50\x80" + b"\0" * 12  # AAC in ADTS
M4A_HEAD = b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00"
ID3_HEAD = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\0" * 6


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def client(data):
    with TestClient(create_app(data, max_upload_bytes=2 << 20, run_jobs=False)) as c:
        yield c


def test_the_form_has_a_field_for_every_file_of_a_session_the_cli_reads(client):
    # the roles and extensions of io.session (what `scan DIR` picks up) are those of the form
    assert set(ROLES["video"].extensions) == set(VIDEO_EXTENSIONS)
    assert set(ROLES["audio"].extensions) == set(AUDIO_EXTENSIONS)
    assert set(ROLES["keystrokes"].extensions) == {Path(n).suffix for n in KEYSTROKE_FILE_NAMES}
    assert set(ROLES["session"].extensions) == {".json"}
    page = client.get("/").text
    for field in ("video", "audio", "keystrokes", "session"):
        assert f'<input type="file" id="{field}" name="{field}"' in page, field
    audio_accept = page.split('name="audio" accept="', 1)[1].split('"', 1)[0]
    assert set(audio_accept.split(",")) == set(AUDIO_EXTENSIONS) | {"audio/*"}


def test_sniff_audio():
    assert sniff_audio(WAV_HEAD) == "riff-wave"
    assert sniff_audio(b"RF64\xff\xff\xff\xffWAVEds64") == "riff-wave"
    assert sniff_audio(FLAC_HEAD) == "flac"
    assert sniff_audio(OGG_HEAD) == "ogg"
    assert sniff_audio(MP3_HEAD) == "mpeg-audio"
    assert sniff_audio(ADTS_HEAD) == "adts"
    assert sniff_audio(M4A_HEAD) == "isobmff"
    assert sniff_audio(ID3_HEAD) == "id3"
    assert sniff_audio(b"RIFF\x24\x00\x00\x00AVI LIST") is None
    assert sniff_audio(b"\x1a\x45\xdf\xa3" + b"\0" * 12) is None  # WebM: the video field's
    assert sniff_audio(b"plain text, no audio") is None


@pytest.mark.parametrize(
    "name, head",
    [
        ("mic.wav", WAV_HEAD),
        ("mic.flac", FLAC_HEAD),
        ("mic.ogg", OGG_HEAD),
        ("mic.opus", OGG_HEAD),
        ("mic.mp3", MP3_HEAD),
        ("mic.mp3", ID3_HEAD),
        ("mic.aac", ADTS_HEAD),
        ("mic.m4a", M4A_HEAD),
    ],
)
def test_audio_alone_is_a_session_and_is_stored_under_a_server_name(client, data, name, head):
    r = post_parts(client, [("audio", name, head + b"\0" * 200)])
    assert r.status_code == 201, r.text
    job = JobStore(data).get(r.json()["id"])
    assert job.filenames == {"audio": name}
    assert sorted(p.name for p in (job.job_dir / "input").iterdir()) == [f"audio{Path(name).suffix}"]


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("mic.wav", b"this is not audio, just some text\n" * 10, "mic.wav: not an audio file"),
        ("mic.wav", MP3_HEAD + b"\0" * 100, "mic.wav: the content is MPEG audio (MP3) audio but the name says .wav"),
        ("mic.m4a", WAV_HEAD + b"\0" * 100, "the content is WAV audio but the name says .m4a"),
        ("mic.wav", ID3_HEAD + b"\0" * 100, "the content is ID3-tagged audio but the name says .wav"),
        ("mic.exe", WAV_HEAD + b"\0" * 100, "mic.exe: not an accepted audio recording type"),
        ("tiny.wav", b"RIFF", "tiny.wav: too short to be an audio file (4 bytes)"),
        ("../../etc/passwd.wav", b"root:x:0:0:root:/root:/bin/bash\n", "passwd.wav: not an audio file"),
    ],
)
def test_bad_audio_uploads_are_refused_by_name_and_leave_nothing(client, data, name, content, words):
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("audio", name, content)])
    assert r.status_code == 400 and words in r.json()["detail"], r.json()
    assert str(data) not in r.json()["detail"]
    assert leftovers(data) == []


def test_one_audio_file_per_upload_and_the_size_limit_counts_it(client, data):
    r = post_parts(client, [("audio", "a.wav", WAV_HEAD + b"\0" * 64), ("audio", "b.wav", WAV_HEAD + b"\0" * 64)])
    assert r.status_code == 400 and "more than one audio recording" in r.json()["detail"]
    r = post_parts(client, [("keystrokes", "k.jsonl", keystroke_bytes()), ("audio", "big.wav", WAV_HEAD * (3 << 16))])
    assert r.status_code == 413
    assert leftovers(data) == []


def test_a_keystroke_log_named_txt_is_accepted_as_the_cli_accepts_it(client, data):
    r = post_parts(client, [("keystrokes", "typing.txt", keystroke_bytes())])
    assert r.status_code == 201, r.text
    job = JobStore(data).get(r.json()["id"])
    assert (job.job_dir / "input" / "keystrokes.txt").is_file()


def test_uploaded_audio_is_the_session_audio_of_the_scan(data, tmp_path):
    audio = make_audio(tmp_path / "microphone.wav", seconds=3.0)
    with TestClient(create_app(data, workers=1)) as c:
        r = post_parts(
            c,
            [
                ("audio", "microphone.wav", audio.read_bytes()),
                ("keystrokes", "keys.jsonl", keystroke_bytes(150)),
                ("session", "session.json", json.dumps({"candidate_id": "c-3"}).encode()),
            ],
        )
        assert r.status_code == 201, r.text
        job = _wait_finished(c, r.json()["id"])
        assert job["status"] == "done", job
        report = c.get(job["report_url"]).json()
        page = c.get(job["url"]).text
    assert report["session"]["modalities"] == {"video": False, "audio": True, "keystrokes": True}
    assert Path(report["session"]["files"]["audio"]).name == "audio.wav"
    assert report["session"]["id"] == "microphone"
    assert "uploaded: microphone.wav, keys.jsonl, session.json" in page


def test_an_audio_file_that_does_not_decode_fails_the_scan_under_the_clients_name(data):
    with TestClient(create_app(data, workers=1)) as c:
        r = post_parts(c, [("audio", "mic 2.wav", WAV_HEAD + b"\x07" * 400)])  # a WAV header, then nothing usable
        assert r.status_code == 201, r.text
        job = _wait_finished(c, r.json()["id"])
    assert job["status"] == "failed", job
    assert job["error"].startswith("mic 2.wav: ") and "audio.wav" not in job["error"], job["error"]
