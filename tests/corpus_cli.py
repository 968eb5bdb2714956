"""Bad-input corpus for the command line and batch mode (issue #12 items 2, 3, 6 and 9).

Each case generates its bad input at test time (no committed binaries). ``make(tmp_path)`` returns
a dict:

* ``argv``: the ``interview-guard`` arguments;
* ``unprivileged`` (optional): run the command as uid/gid 65534 when the tests run as root (root
  reads everything, so a permission case is only real for another user); the input then lives in
  a world-traversable scratch directory that the runner removes;
* ``env`` (optional): extra environment variables;
* ``check`` (optional): ``check(proc)`` makes further assertions (the batch's records, scratch
  directories).

``expect`` says what the command must do: ``exit`` (0 ok, 1 error, 3 batch finished with failed
sessions), ``words`` (in the one ``interview-guard: error:`` line on stderr when ``exit`` is 1, else
in the failed rows' ``error`` column of ``summary.csv``) and, for batches, ``rows`` (how many
records summary.csv must hold: one per session, failed ones included, none lost).
``needs`` names a change outside the CLI a case waits for (it is expected to fail without it).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

from conftest import make_audio, typing_events, write_jsonl

NOBODY = 65534


def _area(tmp_path: Path, unprivileged: bool = False) -> Path:
    """Where a case puts its files: ``tmp_path``, or for an unprivileged run a directory anyone may enter."""
    if not unprivileged or os.geteuid() != 0:
        return tmp_path
    d = Path(tempfile.mkdtemp(prefix="ig-corpus-"))
    os.chmod(d, 0o777)
    return d


def release(area: Path) -> None:
    """Give back every permission a case took away, then remove a scratch area (not ``tmp_path``)."""
    for dirpath, dirnames, filenames in os.walk(area):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
    if area.name.startswith("ig-corpus-"):
        shutil.rmtree(area, ignore_errors=True)


def _session(d: Path, n: int = 60, seed: int = 0) -> Path:
    write_jsonl(d / "keystrokes.jsonl", typing_events(n, seed=seed))
    return d


def summary(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _open_to_all(*paths: Path) -> None:
    for p in paths:
        for dirpath, _, filenames in os.walk(p):
            os.chmod(dirpath, 0o777)
            for n in filenames:
                os.chmod(os.path.join(dirpath, n), 0o666)


# --- batch identity -------------------------------------------------------------------------


def colliding_tree(tmp_path: Path) -> dict:
    """``grp/x`` and ``grp__x``; a file ``grp/x.wav`` and a directory ``grp__x.wav/``; ``100%`` and ``100%25``."""
    root = tmp_path / "root"
    _session(root / "grp" / "x", seed=1)
    _session(root / "grp__x", seed=2)
    make_audio(root / "grp" / "x.wav", seconds=1.0)
    _session(root / "grp__x.wav", seed=3)
    _session(root / "100%", seed=4)
    _session(root / "100%25", seed=5)
    _session(root / "typing_genuine_a", seed=6)
    out = tmp_path / "out"
    expected = {
        "grp%2Fx": "grp/x",
        "grp__x": "grp__x",
        "grp%2Fx.wav": "grp/x.wav",
        "grp__x.wav": "grp__x.wav",
        "100%25": "100%",
        "100%2525": "100%25",
        "typing_genuine_a": "typing_genuine_a",
    }

    def check(proc) -> None:
        rows = summary(out)
        assert {r["session"]: r["path"] for r in rows} == expected
        for sid, rel in expected.items():
            rep = json.loads((out / "sessions" / f"{sid}.json").read_text())
            assert rep["session"]["id"] == sid and rep["session"]["relative_path"] == rel
            assert rep["session"]["path"] == str(root / rel)

    return {"argv": ["batch", str(root), "--out", str(out), "-q"], "check": check}


# --- nothing silently skipped ---------------------------------------------------------------


def _batch_with(tmp_path: Path, build, *, unprivileged: bool = False) -> dict:
    """A batch over ``root`` with one good session and whatever ``build(root)`` adds."""
    area = _area(tmp_path, unprivileged)
    root = area / "root"
    _session(root / "good")
    out = area / "out"
    out.mkdir()
    if unprivileged:
        _open_to_all(root, out)
    build(root)

    def check(proc) -> None:
        rows = {r["session"]: r for r in summary(out)}
        assert rows["good"]["status"] == "ok"  # no other session's result is lost
        for sid, r in rows.items():
            assert (out / "sessions" / f"{sid}.json").is_file()
            if r["status"] != "ok":
                assert str(root) in r["error"]  # names the path

    return {
        "argv": ["batch", str(root), "--out", str(out), "-q"],
        "unprivileged": unprivileged,
        "area": area,
        "check": check,
    }


def _locked_session(root: Path) -> None:
    _session(root / "locked")
    os.chmod(root / "locked", 0)


def _locked_parent(root: Path) -> None:
    _session(root / "grp" / "s1")
    os.chmod(root / "grp", 0)


def _untraversable_session(root: Path) -> None:
    _session(root / "listonly")
    os.chmod(root / "listonly", 0o444)  # may list the names, may not look at them


def _broken_link(root: Path) -> None:
    (root / "gone").symlink_to(root / "no-such-session")


def _link_loop(root: Path) -> None:
    (root / "grp").mkdir()
    (root / "grp" / "up").symlink_to("..")


def _fifo(root: Path) -> None:
    os.mkfifo(root / "pipe.mp4")  # opening it would wait for a writer forever


def _fifo_keystrokes_beside_media(root: Path) -> None:
    """``withpipe/``: an audio file and a pipe named ``keystrokes.jsonl`` (the session must not scan without it)."""
    (root / "withpipe").mkdir()
    make_audio(root / "withpipe" / "audio.wav", seconds=1.0)
    os.mkfifo(root / "withpipe" / "keystrokes.jsonl")


def _non_utf8_name(tmp_path: Path) -> dict:
    """A session directory whose name is not UTF-8 (bytes 0xFF): the batch must not die on it."""
    root = tmp_path / "root"
    _session(root / "good")
    raw = os.fsencode(root) + b"/\xffsess"
    os.mkdir(raw)
    write_jsonl(Path(os.fsdecode(raw)) / "keystrokes.jsonl", typing_events(60, seed=7))
    out = tmp_path / "out"

    def check(proc) -> None:
        rows = {r["session"]: r for r in summary(out)}
        assert rows["%FFsess"]["status"] == "ok" and rows["%FFsess"]["path"] == "\\xffsess"
        rep = json.loads((out / "sessions" / "%FFsess.json").read_text(encoding="utf-8"))
        assert os.fsencode(rep["session"]["path"]) == raw
        assert (out / "sessions" / "%FFsess.html").is_file() and (out / "index.html").is_file()

    return {"argv": ["batch", str(root), "--out", str(out), "-q", "--html"], "check": check}


def _scan_non_utf8_name(tmp_path: Path) -> dict:
    raw = os.fsencode(tmp_path) + b"/\xffsess"
    os.mkdir(raw)
    write_jsonl(Path(os.fsdecode(raw)) / "keystrokes.jsonl", typing_events(60, seed=7))

    page = tmp_path / "page.html"

    def check(proc) -> None:
        assert os.fsencode(json.loads(proc.stdout)["session"]["path"]) == raw
        assert "sess" in page.read_text(encoding="utf-8")

    return {"argv": ["scan", os.fsdecode(raw), "-q", "--html", str(page)], "check": check}


def _loose_media_non_utf8_name(batch: bool):
    """A loose recording (not in a session directory) whose file name is not UTF-8 (``vid\\xfe.wav``)."""

    def make(tmp_path: Path) -> dict:
        root = tmp_path / "root"
        _session(root / "good")
        raw = os.fsencode(root) + b"/vid\xfe.wav"
        make_audio(Path(os.fsdecode(raw)), seconds=1.0)
        if not batch:
            return {"argv": ["scan", os.fsdecode(raw), "-q"]}
        out = tmp_path / "out"

        def check(proc) -> None:
            rows = {r["session"]: r for r in summary(out)}
            assert rows["vid%FE.wav"]["status"] == "ok" and rows["vid%FE.wav"]["path"] == "vid\\xfe.wav"

        return {"argv": ["batch", str(root), "--out", str(out), "-q"], "check": check}

    return make


def _unreadable_root(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    root = area / "root"
    _session(root / "s1")
    os.chmod(root, 0)
    return {"argv": ["batch", str(root), "--out", str(area / "out"), "-q"], "unprivileged": True, "area": area}


# --- input errors, not "internal error" -----------------------------------------------------


def _unreadable_keystrokes(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    d = _session(area / "s")
    _open_to_all(d)
    os.chmod(d / "keystrokes.jsonl", 0)
    return {"argv": ["scan", str(d), "-q"], "unprivileged": True, "area": area}


def _unreadable_scan_path(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    d = _session(area / "s")
    os.chmod(d, 0)
    return {"argv": ["scan", str(d), "-q"], "unprivileged": True, "area": area}


def _csv_huge_length(tmp_path: Path) -> dict:
    d = tmp_path / "s"
    d.mkdir()
    (d / "keystrokes.csv").write_text("t,type,key,code,length\n100,down,a,KeyA,\n150,up,a,KeyA,\n200,paste,,,1e30\n")
    return {"argv": ["scan", str(d), "-q"]}


def _csv_huge_field(tmp_path: Path) -> dict:
    d = tmp_path / "s"
    d.mkdir()
    big = "x" * 200_000  # over the csv module's field limit (131072)
    (d / "keystrokes.csv").write_text(f"t,type,key,code\n100,down,{big},KeyA\n150,up,a,KeyA\n")
    return {"argv": ["scan", str(d), "-q"]}


def _unknown_video_codec(root: Path) -> None:
    """``badcodec/video.mkv``: a Matroska file whose video CodecID no FFmpeg knows."""
    from conftest import make_video

    p = make_video(root / "badcodec" / "video.mkv", seconds=1)
    p.write_bytes(p.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ISO/ZZZ"))


def _output_under_a_file(tmp_path: Path) -> dict:
    d = _session(tmp_path / "s")
    (tmp_path / "plain.txt").write_text("a file, not a directory\n")
    return {"argv": ["scan", str(d), "-q", "-o", str(tmp_path / "plain.txt" / "r.json")]}


def _output_unwritable(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    d = _session(area / "s")
    _open_to_all(d)
    ro = area / "readonly"
    ro.mkdir()
    os.chmod(ro, 0o555)
    return {"argv": ["scan", str(d), "-q", "-o", str(ro / "r.json")], "unprivileged": True, "area": area}


def _html_unwritable(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    d = _session(area / "s")
    _open_to_all(d)
    ro = area / "readonly"
    ro.mkdir()
    os.chmod(ro, 0o555)
    out = area / "r.json"
    os.chmod(area, 0o777)

    def check(proc) -> None:
        assert not out.exists()  # refused before the scan

    return {
        "argv": ["scan", str(d), "-q", "-o", str(out), "--html", str(ro / "r.html")],
        "unprivileged": True,
        "area": area,
        "check": check,
    }


def _batch_out_under_a_file(tmp_path: Path) -> dict:
    root = tmp_path / "root"
    _session(root / "s1")
    (tmp_path / "plain.txt").write_text("x\n")
    return {"argv": ["batch", str(root), "--out", str(tmp_path / "plain.txt" / "out"), "-q"]}


def _batch_out_read_only(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    root = area / "root"
    _session(root / "s1")
    _open_to_all(root)
    out = area / "out"
    (out / "sessions").mkdir(parents=True)
    os.chmod(out / "sessions", 0o555)
    os.chmod(out, 0o555)
    return {"argv": ["batch", str(root), "--out", str(out), "-q"], "unprivileged": True, "area": area}


def _unreadable_report(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    rep = area / "r.json"
    rep.write_text("{}")
    os.chmod(rep, 0)
    return {"argv": ["report", str(rep), "--format", "text"], "unprivileged": True, "area": area}


def _unreadable_params(tmp_path: Path) -> dict:
    area = _area(tmp_path, True)
    d = _session(area / "s")
    _open_to_all(d)
    params = area / "fusion.json"
    params.write_text("{}")
    os.chmod(params, 0)
    return {"argv": ["scan", str(d), "-q", "--params", str(params)], "unprivileged": True, "area": area}


def _session_json(text: str):
    def make(tmp_path: Path) -> dict:
        d = _session(tmp_path / "s")
        (d / "session.json").write_text(text)
        return {"argv": ["scan", str(d), "-q"]}

    return make


def _batch_session_json(text: str):
    """A batch of a session whose session.json is ``text`` beside a good session: the bad one fails, alone."""

    def make(tmp_path: Path) -> dict:
        return _batch_with(tmp_path, lambda root: (_session(root / "bad", seed=3) / "session.json").write_text(text))

    return make


# --- smaller ------------------------------------------------------------------------------


def _png_as_mp4(tmp_path: Path) -> dict:
    import numpy as np
    from PIL import Image

    p = tmp_path / "call.mp4"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype("uint8")).save(p, format="PNG")
    return {"argv": ["scan", str(p), "-q"]}


def _jpeg_as_mp4_in_a_session(tmp_path: Path) -> dict:
    import numpy as np
    from PIL import Image

    d = tmp_path / "s"
    d.mkdir()
    img = Image.fromarray((np.random.default_rng(1).random((48, 64, 3)) * 255).astype("uint8"))
    img.save(d / "video.mp4", format="JPEG")
    return {"argv": ["scan", str(d), "-q"]}


def _no_scratch_in_tmp(html: bool, batch: bool = False):
    def make(tmp_path: Path) -> dict:
        tmpdir = tmp_path / "tmpdir"
        tmpdir.mkdir()
        root = tmp_path / "root"
        d = _session(root / "s")
        if batch:
            argv = ["batch", str(root), "--out", str(tmp_path / "out"), "-q"] + (["--html"] if html else [])
        else:
            argv = ["scan", str(d), "-q", "-o", str(tmp_path / "o" / "r.json")]
            argv += ["--html", str(tmp_path / "o" / "r.html")] if html else []

        def check(proc) -> None:
            assert list(tmpdir.iterdir()) == []  # nothing in $TMPDIR, nothing left
            left = [p for p in tmp_path.rglob("*") if "frames" in p.name]
            assert left == [], left

        return {"argv": argv, "env": {"TMPDIR": str(tmpdir)}, "check": check}

    return make


CASES: list[dict] = [
    {
        "id": "batch-colliding-ids",
        "cls": "batch-id",
        "make": colliding_tree,
        "expect": {"exit": 0, "rows": 7},
    },
    {
        "id": "batch-session-dir-without-permission",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _locked_session, unprivileged=True),
        "expect": {"exit": 3, "rows": 2, "words": ["locked", "cannot read directory (permission denied)"]},
    },
    {
        "id": "batch-parent-without-permission",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _locked_parent, unprivileged=True),
        "expect": {"exit": 3, "rows": 2, "words": ["grp", "cannot read directory (permission denied)"]},
    },
    {
        "id": "batch-dir-listable-not-searchable",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _untraversable_session, unprivileged=True),
        "expect": {"exit": 3, "rows": 2, "words": ["listonly", "permission denied"]},
    },
    {
        "id": "batch-broken-symlink",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _broken_link),
        "expect": {"exit": 3, "rows": 2, "words": ["gone", "broken symbolic link"]},
    },
    {
        "id": "batch-symlink-loop",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _link_loop),
        "expect": {"exit": 3, "rows": 2, "words": ["up", "symbolic link loop"]},
    },
    {
        "id": "batch-fifo-named-mp4",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _fifo),
        "expect": {"exit": 3, "rows": 2, "words": ["pipe.mp4", "not a regular file"]},
    },
    {
        "id": "batch-fifo-keystrokes-beside-media",
        "cls": "unreadable",
        "make": lambda t: _batch_with(t, _fifo_keystrokes_beside_media),
        "expect": {"exit": 3, "rows": 2, "words": ["keystrokes.jsonl", "not a regular file"]},
    },
    {
        "id": "batch-non-utf8-name",
        "cls": "batch-id",
        "make": _non_utf8_name,
        "expect": {"exit": 0, "rows": 2},
    },
    {
        "id": "scan-non-utf8-name",
        "cls": "input-error",
        "make": _scan_non_utf8_name,
        "expect": {"exit": 0},
    },
    {
        "id": "batch-loose-file-non-utf8-name",
        "cls": "batch-id",
        "make": _loose_media_non_utf8_name(batch=True),
        "expect": {"exit": 0, "rows": 2},
    },
    {
        "id": "scan-loose-file-non-utf8-name",
        "cls": "input-error",
        "make": _loose_media_non_utf8_name(batch=False),
        "expect": {"exit": 0},
    },
    {
        "id": "batch-root-without-permission",
        "cls": "unreadable",
        "make": _unreadable_root,
        "expect": {"exit": 1, "words": ["root", "cannot read directory (permission denied)"]},
    },
    {
        "id": "scan-keystrokes-without-permission",
        "cls": "input-error",
        "make": _unreadable_keystrokes,
        "expect": {"exit": 1, "words": ["keystrokes.jsonl", "permission denied"]},
    },
    {
        "id": "scan-path-without-permission",
        "cls": "input-error",
        "make": _unreadable_scan_path,
        "expect": {"exit": 1, "words": ["cannot read directory (permission denied)"]},
    },
    {
        "id": "scan-csv-length-1e30",
        "cls": "input-error",
        "make": _csv_huge_length,
        "expect": {"exit": 1, "words": ["keystrokes.csv", "line 4", "length"]},
    },
    {
        "id": "scan-csv-field-over-the-csv-limit",
        "cls": "input-error",
        "make": _csv_huge_field,
        "expect": {"exit": 1, "words": ["keystrokes.csv", "line 2", "a field longer than 131072 characters"]},
    },
    {
        "id": "batch-unknown-video-codec",
        "cls": "input-error",
        "make": lambda t: _batch_with(t, _unknown_video_codec),
        "expect": {"exit": 3, "rows": 2, "words": ["video.mkv", "unsupported video codec"]},
    },
    {
        "id": "scan-output-under-a-file",
        "cls": "input-error",
        "make": _output_under_a_file,
        "expect": {"exit": 1, "words": ["r.json", "cannot write the report here", "not a directory"]},
    },
    {
        "id": "scan-output-dir-not-writable",
        "cls": "input-error",
        "make": _output_unwritable,
        "expect": {"exit": 1, "words": ["r.json", "cannot write the report here (permission denied)"]},
    },
    {
        "id": "scan-html-dir-not-writable",
        "cls": "input-error",
        "make": _html_unwritable,
        "expect": {"exit": 1, "words": ["r.html", "cannot write the HTML report here (permission denied)"]},
    },
    {
        "id": "batch-out-under-a-file",
        "cls": "input-error",
        "make": _batch_out_under_a_file,
        "expect": {"exit": 1, "words": ["out", "cannot create the output directory"]},
    },
    {
        "id": "batch-out-read-only",
        "cls": "input-error",
        "make": _batch_out_read_only,
        "expect": {"exit": 1, "words": ["out", "cannot write in the output directory (permission denied)"]},
    },
    {
        "id": "report-without-permission",
        "cls": "input-error",
        "make": _unreadable_report,
        "expect": {"exit": 1, "words": ["r.json", "cannot read"]},
    },
    {
        "id": "params-without-permission",
        "cls": "input-error",
        "make": _unreadable_params,
        "expect": {"exit": 1, "words": ["fusion.json", "unreadable"]},
    },
    {
        "id": "session-json-deep-nesting",
        "cls": "input-error",
        "make": _session_json('{"challenges": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        "expect": {"exit": 1, "words": ["session.json", "nested deeper"]},
    },
    {
        "id": "session-json-5001-digit-offset",
        "cls": "input-error",
        "make": _session_json('{"keystroke_clock_offset_ms": ' + "9" * 5001 + "}"),
        "expect": {"exit": 1, "words": ["session.json", "a number of 5001 characters"]},
    },
    {
        "id": "session-json-lone-surrogate",
        "cls": "input-error",
        "make": _session_json('{"candidate_id": "\\ud800x"}'),
        "expect": {"exit": 1, "words": ["session.json", "'candidate_id' is not valid Unicode text"]},
    },
    {
        "id": "batch-session-json-lone-surrogate-fails-only-its-session",
        "cls": "input-error",
        "make": _batch_session_json('{"candidate_id": "\\ud800x", "claimed_location": "\\udfff"}'),
        "expect": {"exit": 3, "rows": 2, "words": ["bad/session.json", "not valid Unicode text"]},
    },
    {
        "id": "session-json-bom",
        "cls": "smaller",
        "make": _session_json('\ufeff{"candidate_id": "c-1"}'),
        "expect": {"exit": 0},
    },
    {
        "id": "png-renamed-mp4",
        "cls": "smaller",
        "make": _png_as_mp4,
        "expect": {"exit": 1, "words": ["call.mp4", "not a video", "still image"]},
    },
    {
        "id": "jpeg-as-session-video",
        "cls": "smaller",
        "make": _jpeg_as_mp4_in_a_session,
        "expect": {"exit": 1, "words": ["video.mp4", "not a video", "still image"]},
    },
    {
        "id": "scan-leaves-no-frames-dir",
        "cls": "smaller",
        "make": _no_scratch_in_tmp(html=False),
        "expect": {"exit": 0},
    },
    {
        "id": "scan-html-frames-dir-beside-output-and-removed",
        "cls": "smaller",
        "make": _no_scratch_in_tmp(html=True),
        "expect": {"exit": 0},
    },
    {
        "id": "batch-html-frames-dir-in-output-and-removed",
        "cls": "smaller",
        "make": _no_scratch_in_tmp(html=True, batch=True),
        "expect": {"exit": 0, "rows": 1},
    },
]
