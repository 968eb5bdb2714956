import json
from pathlib import Path

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


def test_a_directory_whose_recording_has_another_name_says_which_file_to_rename(tmp_path):
    """ "interview.mp4" beside session.json: the error names the file it found, not only what it expected."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "interview.mp4").write_bytes(b"x")
    (d / "session.json").write_text("{}")
    with pytest.raises(InputError) as ei:
        Session.open(d)
    msg = str(ei.value)
    assert "no session files" in msg and "found 'interview.mp4': rename the recording video.<ext>" in msg, msg
    assert "\n" not in msg and "session.json'" not in msg


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


def test_fingerprint_of_a_loose_file_whose_name_is_not_utf8(tmp_path):
    # os.fsdecode turns the name's bytes into lone surrogates: the fingerprint hashes the bytes themselves
    import os

    raw = os.fsencode(tmp_path) + b"/vid\xfe.jsonl"
    p = Path(os.fsdecode(raw))
    write_jsonl(p, typing_events(3))
    fp = Session.open(p).fingerprint()
    assert len(fp) == 32 and Session.open(p).fingerprint() == fp
    os.rename(raw, os.fsencode(tmp_path) + b"/vid\xfd.jsonl")
    assert Session.open(os.fsdecode(os.fsencode(tmp_path) + b"/vid\xfd.jsonl")).fingerprint() != fp


def test_session_ids_unique_by_construction_and_reversible():
    import urllib.parse

    from interview_guard.io.session import session_id_for

    paths = [
        "typing_genuine_a",
        "grp/x",
        "grp__x",
        "grp/x.mp4",
        "grp__x.mp4",
        "100%",
        "100%25",
        "a%2Fb",
        "a/b",
        "back\\slash",
        "new\nline",
        "ünïcode/名前",
        "a_/_b",
        "a/__b",
        "a__/b",
    ]
    ids = [session_id_for(p) for p in paths]
    assert len(set(ids)) == len(paths)
    assert session_id_for("typing_genuine_a") == "typing_genuine_a"  # top-level names unchanged
    assert session_id_for("grp/x") == "grp%2Fx" and session_id_for("grp__x") == "grp__x"
    for p, sid in zip(paths, ids):
        assert urllib.parse.unquote(sid) == p
        assert "/" not in sid and "\n" not in sid and "\\" not in sid


def test_non_utf8_names_have_ids_too():
    import os
    import urllib.parse

    from interview_guard.io.session import session_id_for

    name = os.fsdecode(b"\xffsess/\xfe")
    sid = session_id_for(name)
    assert sid == "%FFsess%2F%FE" and sid.isascii()
    assert urllib.parse.unquote_to_bytes(sid) == b"\xffsess/\xfe"


def test_a_pipe_is_not_a_session_file(tmp_path):
    import os

    os.mkfifo(tmp_path / "p.mp4")
    with pytest.raises(InputError, match="p.mp4: not a regular file"):
        Session.open(tmp_path / "p.mp4")  # and does not wait for a writer


@pytest.mark.parametrize(
    ("name", "make", "why"),
    [
        ("keystrokes.jsonl", "fifo", "not a regular file (a pipe, socket or device)"),
        ("keystrokes.jsonl", "/dev/null", "not a regular file (a pipe, socket or device)"),
        ("session.json", "fifo", "not a regular file (a pipe, socket or device)"),
        ("Video.MKV", "fifo", "not a regular file (a pipe, socket or device)"),
        ("keystrokes.csv", "missing", "broken symbolic link"),
        ("video.mp4", "loop", "symbolic link loop"),
    ],
)
def test_a_session_file_that_is_not_a_file_fails_the_session_beside_media(tmp_path, name, make, why):
    """docs/session-format.md: a pipe, device or dangling link named like a session file is not skipped silently."""
    import os

    d = tmp_path / "s"
    d.mkdir()
    (d / "audio.m4a").write_bytes(b"x")  # media beside it: the session would otherwise scan without it
    p = d / name
    if make == "fifo":
        os.mkfifo(p)
    elif make == "loop":
        p.symlink_to(p)
    else:
        p.symlink_to(make if make.startswith("/") else d / "gone")
    with pytest.raises(InputError) as ei:
        Session.open(d)  # and does not wait for a writer
    assert str(ei.value) == f"{p}: {why}"


def test_a_directory_named_like_a_session_file_is_left_alone(tmp_path):
    d = tmp_path / "s"
    (d / "keystrokes.jsonl").mkdir(parents=True)
    (d / "audio.m4a").write_bytes(b"x")
    s = Session.open(d)
    assert s.keystrokes is None and s.audio == d / "audio.m4a"


def test_long_session_ids_stay_file_names_and_distinct():
    from interview_guard.io.session import session_id_for

    a = "/".join(["deep" * 10] * 8) + "/a"
    b = "/".join(["deep" * 10] * 8) + "/b"
    ia, ib = session_id_for(a), session_id_for(b)
    assert ia != ib and len(ia.encode()) <= 200 and "%~" in ia
    assert session_id_for(a) == ia  # stable
    assert session_id_for("%" * 150).count("%~") == 1  # an escape is never cut in half
    assert len(session_id_for("%" * 150).encode()) <= 200


def test_find_sessions_reports_what_it_cannot_read(tmp_path, monkeypatch):
    import os

    from interview_guard.io.session import find_sessions

    write_jsonl(tmp_path / "ok" / "keystrokes.jsonl", typing_events(3))
    write_jsonl(tmp_path / "grp" / "locked" / "s" / "keystrokes.jsonl", typing_events(3))
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    (tmp_path / "grp" / "up").symlink_to("..")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / ".hidden").symlink_to(tmp_path / "nowhere")  # hidden entries are not looked at
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = {f.relative_path: f for f in find_sessions(tmp_path)}
    assert set(found) == {"ok", "grp/locked", "gone", "grp/up", "loop"}
    assert found["ok"].problem is None and found["ok"].session_id == "ok"
    assert found["grp/locked"].problem == "cannot read directory (permission denied)"
    assert found["grp/locked"].session_id == "grp%2Flocked"
    assert found["gone"].problem == "broken symbolic link"
    assert found["grp/up"].problem.startswith("symbolic link loop")
    assert found["loop"].problem == "symbolic link loop"
    # the list form keeps them too: opening one says what is wrong
    assert [sid for sid, _ in discover_sessions(tmp_path)] == sorted(f.session_id for f in found.values())


def test_find_sessions_follows_links_to_sessions(tmp_path):
    from interview_guard.io.session import find_sessions

    write_jsonl(tmp_path / "store" / "s1" / "keystrokes.jsonl", typing_events(3))
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "linked").symlink_to(tmp_path / "store" / "s1")
    assert [(f.session_id, f.problem) for f in find_sessions(tmp_path / "root")] == [("linked", None)]


def test_unreadable_root_is_an_input_error(tmp_path, monkeypatch):
    import os

    from interview_guard.io.session import find_sessions

    write_jsonl(tmp_path / "s" / "keystrokes.jsonl", typing_events(3))

    def scandir(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputError, match="cannot read directory \\(permission denied\\)") as ei:
        find_sessions(tmp_path)
    assert str(tmp_path) in str(ei.value)


def test_open_names_an_unreadable_file(tmp_path, monkeypatch):
    import builtins

    d = tmp_path / "s"
    write_jsonl(d / "keystrokes.jsonl", typing_events(3))
    real_open = builtins.open

    def fake_open(file, *a, **k):
        if str(file).endswith("keystrokes.jsonl"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(InputError, match="keystrokes.jsonl: permission denied"):
        Session.open(d)
    with pytest.raises(InputError, match="keystrokes.jsonl: permission denied"):
        Session.open(d / "keystrokes.jsonl")


def test_broken_link_given_directly(tmp_path):
    (tmp_path / "v.mp4").symlink_to(tmp_path / "nowhere.mp4")
    with pytest.raises(InputError, match="v.mp4: broken symbolic link"):
        Session.open(tmp_path / "v.mp4")


@pytest.mark.parametrize(
    "text, words",
    [
        ("[" * 100_000, "session metadata is not acceptable: JSON nested deeper"),
        ('{"keystroke_clock_offset_ms": ' + "9" * 5001 + "}", "a number of 5001 characters"),
        ('{"x": 1e400}', "out of range"),
    ],
)
def test_metadata_is_read_with_bounded_json(tmp_path, text, words):
    p = tmp_path / "session.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=words) as ei:
        read_session_metadata(p)
    assert str(ei.value).startswith(str(p))


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"candidate_id": "\\ud800x"}', "'candidate_id' is not valid Unicode text (a lone surrogate \\ud800)"),
        ('{"candidate_id": "x", "claimed_location": "\\udfff"}', "'claimed_location' is not valid Unicode"),
        ('{"\\ud800": 1, "candidate_id": "x"}', "a key is not valid Unicode text"),
        ('{"note": "\\udc80"}', "'note' is not valid Unicode"),
        ('{"client": {"languages": ["en", "\\ud83d"]}}', "'client.languages[1]' is not valid Unicode"),
    ],
)
def test_metadata_with_a_lone_surrogate_is_refused_at_load(tmp_path, text, words):
    # json.loads makes a lone surrogate of an unpaired \ud800 escape: no writer downstream can encode it
    p = tmp_path / "session.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as ei:
        read_session_metadata(p)
    assert str(ei.value).startswith(f"{p}: ") and words in str(ei.value)
    str(ei.value).encode("utf-8")  # the message itself is printable


def test_metadata_keeps_escaped_pairs_and_other_text(tmp_path):
    p = tmp_path / "session.json"
    p.write_text('{"candidate_id": "\\ud83d\\ude00 c-1", "note": "\\u00e9t\\u00e9"}', encoding="utf-8")
    m = read_session_metadata(p)
    assert m.candidate_id == "\U0001f600 c-1" and m.extra == {"note": "\u00e9t\u00e9"}


def test_candidate_id_longer_than_the_documented_maximum_is_refused(tmp_path):
    # it is copied into every matching session's report (also_seen_as) and matches.csv: bound it at load
    from interview_guard.tracks.metadata import MAX_CANDIDATE_ID_CHARS

    assert MAX_CANDIDATE_ID_CHARS == 256  # docs/session-format.md, Limits
    p = tmp_path / "session.json"
    p.write_text(json.dumps({"candidate_id": "\u00e9" * 256}), encoding="utf-8")
    assert read_session_metadata(p).candidate_id == "\u00e9" * 256
    p.write_text(json.dumps({"candidate_id": "c" * 5_000_000}), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        read_session_metadata(p)
    msg = str(ei.value)
    assert msg == f"{p}: 'candidate_id' is 5000000 characters long (at most 256 are accepted)"


@pytest.mark.parametrize("cid", ["cand\x1b[31m-1", "two\nlines", "c\x9b1", "a\u2028b", "nul\x00"])
def test_candidate_id_with_a_control_character_is_refused(tmp_path, cid):
    # it is printed raw in the text report ("Also seen as: candidate ...") and on the terminal
    p = tmp_path / "session.json"
    p.write_text(json.dumps({"candidate_id": cid}), encoding="utf-8")
    with pytest.raises(InputError, match="'candidate_id' holds a control character") as ei:
        read_session_metadata(p)
    assert str(ei.value).startswith(str(p)) and "\n" not in str(ei.value)
    p.write_text(json.dumps({"candidate_id": "cand-0042 \u00e9\u4e2d\t"[:-1]}), encoding="utf-8")
    assert read_session_metadata(p).candidate_id == "cand-0042 \u00e9\u4e2d"


@pytest.mark.parametrize("key", ["claimed_location", "claimed_timezone"])
def test_claims_are_bounded_and_printable_like_the_candidate_id(tmp_path, key):
    # the claims are printed in the environment findings of the text report and on the terminal
    p = tmp_path / "session.json"
    p.write_text(json.dumps({key: "x" * 300}), encoding="utf-8")
    with pytest.raises(InputError, match=f"'{key}' is 300 characters long") as ei:
        read_session_metadata(p)
    assert str(ei.value).startswith(str(p))
    p.write_text(json.dumps({key: "Berlin\x1b[2J"}), encoding="utf-8")
    with pytest.raises(InputError, match=f"'{key}' holds a control character") as ei:
        read_session_metadata(p)
    assert "\n" not in str(ei.value)
    p.write_text(json.dumps({key: "Europe/Berlin"}), encoding="utf-8")
    assert getattr(read_session_metadata(p), key) == "Europe/Berlin"


def test_metadata_with_bom(tmp_path):
    p = tmp_path / "session.json"
    p.write_text('\ufeff{"candidate_id": "c-9"}', encoding="utf-8")
    assert read_session_metadata(p).candidate_id == "c-9"


def test_find_sessions_deep_tree_and_exclude(tmp_path):
    import os

    from interview_guard.io.session import find_sessions

    d = os.fsencode(tmp_path)
    for _ in range(1500):  # deeper than Python's recursion limit
        d += b"/a"
        os.mkdir(d)
    write_jsonl(Path(os.fsdecode(d)) / "keystrokes.jsonl", typing_events(3))
    write_jsonl(tmp_path / "out" / "sessions" / "session.json", [])  # looks like a session: excluded
    try:
        found = find_sessions(tmp_path, exclude=[tmp_path / "out", tmp_path / "not-made-yet"])
        assert len(found) == 1 and found[0].relative_path == "/".join(["a"] * 1500)
        assert found[0].problem is None
    finally:  # from the bottom up: pytest's own clean-up of old temp dirs recurses and would fail on it
        os.unlink(os.path.join(d, b"keystrokes.jsonl"))
        while d != os.fsencode(tmp_path):
            os.rmdir(d)
            d = os.path.dirname(d)


def test_sample_session_ids_are_their_names():
    from conftest import SAMPLES
    from interview_guard.io.session import find_sessions

    found = find_sessions(SAMPLES)
    assert [f.session_id for f in found] == sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())
    assert "typing_genuine_a" in [f.session_id for f in found] and all(f.problem is None for f in found)
