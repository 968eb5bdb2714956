import pytest

from conftest import make_video, typing_events, write_jsonl
from interview_guard.errors import InputError
from interview_guard.io.session import Session, discover_sessions, read_session_metadata
from interview_guard.tracks.metadata import SessionMetadata


def test_open_directory_finds_files(tmp_path):
    d = tmp_path / "s1"
    write_jsonl(d / "keystrokes.jsonl", typing_events(5))
    (d / "video.mp4").write_bytes(b"x")
    (d / "session.json").write_text("{}")
    s = Session.open(d)
    assert s.session_id == "s1" and s.video.name == "video.mp4" and s.keystrokes.name == "keystrokes.jsonl"
    assert set(s.files) == {"video", "keystrokes", "metadata"}


def test_open_single_files(tmp_path):
    for name, role in [("clip.webm", "video"), ("talk.flac", "audio"), ("log.csv", "keystrokes")]:
        p = tmp_path / name
        p.write_bytes(b"x")
        assert getattr(Session.open(p), role) == p


@pytest.mark.parametrize(
    "setup, words",
    [
        (lambda d: None, "no such file"),
        (lambda d: d.mkdir(), "session directory is empty"),
        (lambda d: (d.mkdir(), (d / "notes.txt").write_text("hi")), "no session files"),
        (
            lambda d: (d.mkdir(), (d / "video.mp4").write_bytes(b"x"), (d / "video.webm").write_bytes(b"x")),
            "more than one video",
        ),
    ],
)
def test_bad_session_paths(tmp_path, setup, words):
    d = tmp_path / "s"
    setup(d)
    with pytest.raises(InputError, match=words) as ei:
        Session.open(d)
    assert str(d) in str(ei.value)


def test_unknown_single_file_type(tmp_path):
    p = tmp_path / "x.docx"
    p.write_bytes(b"x")
    with pytest.raises(InputError, match="unknown file type .docx"):
        Session.open(p)


def test_metadata_parsing_and_validation(tmp_path):
    m = SessionMetadata.from_dict(
        {
            "candidate_id": "c7",
            "claimed_timezone": "America/Chicago",
            "recording_start": "2026-03-01T14:00:00Z",
            "keystroke_clock_offset_ms": -1500,
            "challenges": [{"kind": "hand_wave", "t_s": 312.0}],
            "interviewer": "kim",
        }
    )
    assert m.recording_start.year == 2026 and m.recording_start.tzinfo is not None
    assert m.challenges[0].kind == "hand_wave" and m.challenges[0].t_s == 312.0
    assert m.extra == {"interviewer": "kim"}
    assert SessionMetadata.from_dict(m.to_dict()).to_dict() == m.to_dict()
    for bad, words in [
        ({"recording_start": "yesterday"}, "ISO 8601"),
        ({"challenges": [{"kind": "hand_wave"}]}, "t_s"),
        ({"keystroke_clock_offset_ms": "5"}, "finite number"),
        ({"candidate_id": 5}, "must be a string"),
    ]:
        with pytest.raises(InputError, match=words):
            SessionMetadata.from_dict(bad)


def test_metadata_bad_json_names_file(tmp_path):
    p = tmp_path / "session.json"
    p.write_text("{oops", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as ei:
        read_session_metadata(p)
    assert str(p) in str(ei.value)


def test_discover_sessions(tmp_path):
    write_jsonl(tmp_path / "team_a" / "s1" / "keystrokes.jsonl", typing_events(3))
    (tmp_path / "team_a" / "s2").mkdir(parents=True)
    (tmp_path / "team_a" / "s2" / "session.json").write_text("{}")
    make_video(tmp_path / "loose" / "call.mp4", seconds=1)
    (tmp_path / "loose" / "readme.txt").write_text("not a session")
    found = discover_sessions(tmp_path)
    assert [sid for sid, _ in found] == ["loose%2Fcall.mp4", "team_a%2Fs1", "team_a%2Fs2"]


def test_fingerprint_changes_with_content(tmp_path):
    d = tmp_path / "s"
    write_jsonl(d / "keystrokes.jsonl", typing_events(3))
    f1 = Session.open(d).fingerprint()
    write_jsonl(d / "keystrokes.jsonl", typing_events(4))
    assert Session.open(d).fingerprint() != f1
