"""The HTML report: self-contained, escaped, the right numbers, key frames embedded; CLI report/scan/batch --html."""

import base64
import json
import re
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SAMPLES, make_video, typing_events, write_jsonl
from interview_guard.analyzers.base import AnalyzerResult, Evidence, Status, WindowScore
from interview_guard.cli import main
from interview_guard.pipeline.keyframes import load_key_frames
from interview_guard.pipeline.scan import failed_report
from interview_guard.report.html import IndexEntry, render_index, render_report
from interview_guard.report.keyframes import key_frame_filename
from interview_guard.report.model import Report, Risk, SessionInfo

HOSTILE = "<script>alert(1)</script>"


class _Collect(HTMLParser):
    """Every start tag with its attributes, and the text inside elements with an id."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.text_by_id = {}
        self._open = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self._open.append(a.get("id"))
        if a.get("id"):
            self.text_by_id.setdefault(a["id"], "")

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for i in self._open:
            if i:
                self.text_by_id[i] += data


def parse(page):
    p = _Collect()
    p.feed(page)
    return p


def by_id(p, ident):
    return next(a for t, a in p.tags if a.get("id") == ident)


def jpeg(colour, size=(48, 32)):
    import cv2

    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = colour
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def make_report(session_id="sess-1", *, key_frames=None, files=None):
    """A report as a scan of a video+keystroke session writes it (built by hand: no scanning)."""
    relay = AnalyzerResult(
        name="keystroke_relay",
        status=Status.OK,
        score=0.91,
        confidence=0.7,
        reason="212 key presses: low confidence",
        evidence=(
            Evidence(
                "keystroke_relay",
                "catch_up_bursts",
                12.0,
                80.0,
                0.88,
                "9 of 40 pauses > 300 ms ended in a burst",
                {"bursts": 9},
            ),
        ),
        windows=(WindowScore(0.0, 30.0, 0.2, 60), WindowScore(30.0, 60.0, 0.95, 80), WindowScore(60.0, 90.0, None, 3)),
        metrics={
            "key_presses": 212,
            "key_events": 430,
            "coarse_clock": False,
            "clock_resolution_ms": 1.0,
            "relay_incidents": {
                "count": 14,
                "expected_genuine": 2.26,
                "surprise_log10": 5.1,
                "by_rule": {"after_pause": 9, "two_keydowns": 5, "zero_hold": 0},
            },
        },
    )
    details = {"peak_overlap": 0.4, "key_frame_times": [40.5, 41.0, 41.9]}
    if key_frames is not None:
        details["key_frames"] = key_frames
    occ = AnalyzerResult(
        name="face_occlusion",
        status=Status.OK,
        score=0.8,
        confidence=1.0,
        evidence=(
            Evidence(
                "face_occlusion",
                "occlusion_event",
                40.8,
                41.5,
                0.8,
                "hand over the face 40.8-41.5 s: the hand crossed the face without being seen",
                details,
            ),
        ),
        windows=(
            WindowScore(0.0, 30.0, 0.05, 300),
            WindowScore(30.0, 60.0, 0.8, 300),
            WindowScore(60.0, 90.0, 0.05, 300),
        ),
        metrics={
            "analysed_frames": 900,
            "face_frames": 880,
            "face_presence": 0.978,
            "hand_frames": 40,
            "occlusion_events": 1,
            "max_overlap": 0.4,
            "pixel_checks": True,
        },
    )
    return Report(
        session=SessionInfo.from_dict(
            {
                "id": session_id,
                "path": f"/data/{session_id}",
                "duration_s": 90.0,
                "modalities": {"video": True, "audio": True, "keystrokes": True},
                "files": files or {},
                "metadata": {"candidate_id": "c-7"},
            }
        ),
        risk=Risk.from_dict(
            {
                "score": 0.8312,
                "band": "high",
                "contributions": {"keystroke_relay": 2.4, "face_occlusion": 1.9},
                "checked": ["keystroke_relay", "face_occlusion"],
                "not_checked": ["av_sync", "acoustic_keystroke"],
                "absent_modalities": [],
                "fusion": {"version": "prior-x", "sha256": "ab" * 32},
            }
        ),
        analyzers={
            "keystroke_relay": relay,
            "face_occlusion": occ,
            "av_sync": AnalyzerResult.skipped("av_sync", "the face is visible during only 2.6 s of 5.0 s of speech"),
            "acoustic_keystroke": AnalyzerResult.failed("acoustic_keystroke", "internal error: ValueError: boom"),
        },
        warnings=["keystroke clock not aligned to the recording"],
        created_at="2026-11-28T00:00:00+00:00",
    )


def embedded_frames(page):
    return [base64.b64decode(m) for m in re.findall(r'class="key-frame" src="data:image/jpeg;base64,([^"]+)"', page)]


# ----------------------------------------------------------------------------- the page


def test_page_is_self_contained():
    page = render_report(make_report())
    p = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    for tag, attrs in p.tags:
        for name in ("src", "href"):
            v = (attrs.get(name) or "").strip().lower()
            assert not v.startswith(("http:", "https:", "//")), (tag, attrs)
            if name == "src" and name in attrs:
                assert v.startswith("data:"), (tag, v[:40])
    assert "<script" not in page.lower()
    assert "<link" not in page.lower() and "@import" not in page and "url(" not in page
    assert "http://" not in page and "https://" not in page


def test_score_and_band_ids_carry_the_fused_score():
    rep = make_report()
    p = parse(render_report(rep))
    span = by_id(p, "risk-score")
    assert span["data-score"] == repr(rep.risk_score) == "0.8312"
    assert float(span["data-score"]) == rep.to_dict()["risk"]["score"]
    assert p.text_by_id["risk-score"].strip() == "0.83"
    assert p.text_by_id["risk-band"].strip() == "high"
    assert "band-high" in by_id(p, "risk-band")["class"]
    # a browser (and WebDriver's element text) applies text-transform: the badge must read "high", not "HIGH"
    assert "text-transform" not in re.search(r"\.band\{[^}]*\}", render_report(rep)).group(0)


def test_unassessed_session_says_so():
    rep = make_report()
    rep.risk = Risk(
        score=None,
        band="unassessed",
        contributions={},
        checked=[],
        not_checked=list(rep.analyzers),
        absent_modalities=["audio", "keystrokes", "video"],
    )
    rep.analyzers = {n: AnalyzerResult.skipped(n, f"no input for {n}") for n in rep.analyzers}
    page = render_report(rep)
    p = parse(page)
    assert by_id(p, "risk-score")["data-score"] == ""
    assert p.text_by_id["risk-score"].strip() == "not assessed"
    assert p.text_by_id["risk-band"].strip() == "unassessed"
    assert "No analyzer could run" in page
    assert "timeline-plot" not in page


def test_hostile_session_id_and_texts_are_escaped():
    rep = make_report(HOSTILE)
    rep.warnings.append(f"file {HOSTILE}.mp4 cut short")
    page = render_report(rep)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    p = parse(page)
    assert p.text_by_id["session-id"] == HOSTILE  # shown as text, not markup
    assert not any(tag == "script" for tag, _ in p.tags)


def test_drivers_are_sentences_with_the_analyzers_numbers():
    page = render_report(make_report())
    p = parse(page)
    drivers = p.text_by_id["drivers"]
    assert "Keystroke relay: score 0.91, confidence 0.70; raised the risk by +2.40 log-odds" in drivers
    assert "14 relay incidents in 212 key presses, 6.2x the 2.26 expected from a genuine typist" in drivers
    assert "1 hand-over-face event in 900 analysed frames (face visible in 98% of them)" in drivers
    assert "the worst, at 40.8–41.5 s, scored 0.80" in drivers
    assert "Caveat: 212 key presses: low confidence." in drivers
    # ordered by contribution: the relay first
    assert drivers.index("Keystroke relay") < drivers.index("Hand over face")


def test_unknown_analyzer_and_odd_metrics_degrade_gracefully():
    rep = make_report()
    rep.analyzers["gaze_check"] = AnalyzerResult(
        name="gaze_check",
        status=Status.OK,
        score=0.4,
        confidence=0.5,
        metrics={"off_screen_share": 0.375, "glances": 12, "note": "x"},
    )
    rep.analyzers["keystroke_relay"] = AnalyzerResult(
        name="keystroke_relay", status=Status.OK, score=0.3, confidence=1.0, metrics={"relay_incidents": "garbled"}
    )
    drivers = parse(render_report(rep)).text_by_id["drivers"]
    assert "Gaze check: score 0.40, confidence 0.50 — off screen share 0.38, glances 12." in drivers
    assert "Keystroke relay: score 0.30" in drivers


def test_skipped_and_failed_analyzers_and_absent_modalities_are_listed():
    rep = make_report()
    rep.risk.absent_modalities = ["audio"]
    p = parse(render_report(rep))
    nc = p.text_by_id["not-checked"]
    assert (
        "Lip sync (audio, video) was not checked — it was skipped:"
        " the face is visible during only 2.6 s of 5.0 s of speech." in nc
    )
    assert (
        "Key clicks vs key log (audio, keystrokes) was not checked — it failed: internal error: ValueError: boom." in nc
    )
    assert "The session has no audio: nothing about it was checked." in nc
    assert "Keystroke relay" not in nc


def test_timeline_png_is_embedded_with_one_row_per_analyzer():
    import cv2

    page = render_report(make_report())
    src = by_id(parse(page), "timeline-plot")["src"]
    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    two_rows = img.shape
    rep = make_report()
    del rep.analyzers["face_occlusion"]
    one = cv2.imdecode(
        np.frombuffer(
            base64.b64decode(by_id(parse(render_report(rep)), "timeline-plot")["src"].split(",", 1)[1]), np.uint8
        ),
        cv2.IMREAD_COLOR,
    )
    assert two_rows[1] == one.shape[1] > 800  # same width, 10.5 in at 110 dpi
    assert two_rows[0] > one.shape[0] + 80  # a row per analyzer


def test_key_frames_embedded_from_the_scan_files(tmp_path):
    blobs = [jpeg((255, 0, 0)), jpeg((0, 255, 0)), jpeg((0, 0, 255))]
    paths = []
    for t, b in zip([40.5, 41.0, 41.9], blobs):
        f = tmp_path / key_frame_filename("sess-1", t)
        f.write_bytes(b)
        paths.append(str(f))
    rep = make_report(key_frames=paths)
    page = render_report(rep, key_frames=load_key_frames(rep))
    assert embedded_frames(page) == blobs
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", page)
    assert captions == ["before · 40.50 s", "during · 41.00 s", "after · 41.90 s"]
    assert "not saved" not in page


def test_key_frame_paths_that_name_no_key_frame_image_are_skipped(tmp_path, monkeypatch):
    # a report is a file anyone can hand over: its key-frame paths may name a small PNG declaring 30000 x 30000
    # pixels (decoded: gigabytes), a huge file, or a file that is no image; none is read whole or decoded
    import struct
    import zlib

    import cv2

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"\x00" * 300_000, 9)) + chunk(b"IEND", b"")
    files = {"bomb.png": bomb, "notes.txt": b"not an image " * 20_000, "ok.jpg": jpeg((0, 0, 255))}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    big = tmp_path / "big.jpg"
    with big.open("wb") as fh:  # a sparse 30 MB file that starts like a JPEG
        fh.write(jpeg((0, 255, 0))[:200])
        fh.truncate(30 * 1024 * 1024)
    decoded = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded.append(len(buf)) or real(buf, flags))
    rep = make_report(key_frames=[paths[0], str(big), paths[1]])
    assert embedded_frames(render_report(rep, key_frames=load_key_frames(rep))) == []
    assert decoded == []
    rep = make_report(key_frames=[paths[0], paths[2], paths[1]])
    assert embedded_frames(render_report(rep, key_frames=load_key_frames(rep))) == [files["ok.jpg"]]


def test_key_frames_found_in_frames_dir_when_paths_moved(tmp_path):
    blobs = {t: jpeg((40 * i, 0, 0)) for i, t in enumerate([40.5, 41.0, 41.9])}
    for t, b in blobs.items():
        (tmp_path / key_frame_filename("sess-1", t)).write_bytes(b)
    moved = [f"/gone/{key_frame_filename('sess-1', t)}" for t in blobs]
    rep = make_report(key_frames=moved)
    page = render_report(rep, key_frames=load_key_frames(rep, frames_dir=tmp_path))
    assert embedded_frames(page) == list(blobs.values())
    page = render_report(rep, key_frames=load_key_frames(rep))  # no frames_dir, no video: one line
    assert embedded_frames(page) == []
    assert "Key frames (40.50 s, 41.00 s, 41.90 s) were not saved" in page


@pytest.mark.video
def test_key_frames_decoded_from_the_video(tmp_path):
    import cv2

    # make_video paints frame i with blue = 7 i (mod 256): each decoded frame tells which one it is
    video = make_video(tmp_path / "v.mp4", seconds=4.0, fps=10, size=(96, 64))
    recorded = make_report(files={"video": str(video)})  # the video the report names
    given = make_report(files={})  # no video in the report: --video
    for rep in (recorded, given):
        rep.analyzers["face_occlusion"].evidence[0].details["key_frame_times"] = [0.5, 1.2, 3.0]
    for page in (
        render_report(recorded, key_frames=load_key_frames(recorded)),
        render_report(given, key_frames=load_key_frames(given, video_path=video)),
    ):
        frames = embedded_frames(page)
        assert len(frames) == 3
        blue = [float(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)[..., 0].mean()) for b in frames]
        assert blue == pytest.approx([35.0, 84.0, 210.0], abs=8.0)
    recorded.session.files = {"video": str(tmp_path / "moved.mp4")}
    page = render_report(recorded, key_frames=load_key_frames(recorded))
    assert "were not saved (scan with --frames DIR" in page  # recorded video gone: say so
    page = render_report(recorded, key_frames=load_key_frames(recorded, video_path=tmp_path / "moved.mp4"))
    assert "decoding them from the video failed" in page


def test_failed_session_report_renders_its_error():
    rep = failed_report(HOSTILE, "/x/y", "/x/y/keystrokes.jsonl: line 2: not valid JSON")
    page = render_report(rep)
    p = parse(page)
    assert by_id(p, "risk-score")["data-score"] == ""
    assert p.text_by_id["risk-band"].strip() == "unassessed"
    assert "/x/y/keystrokes.jsonl: line 2: not valid JSON" in p.text_by_id["scan-error"]
    assert HOSTILE not in page


def test_index_ranks_by_risk_and_links_each_page():
    def rep(sid, score, band):
        r = make_report(sid)
        r.risk = replace(r.risk, score=score, band=band)
        return r

    entries = [
        IndexEntry(rep("low-one", 0.05, "low"), "sessions/low-one.html"),
        (failed_report("broken", "/b", "/b/video.mp4: file is empty"), "sessions/broken.html"),
        IndexEntry(rep(HOSTILE, 0.97, "high"), "sessions/%3Cscript%3E.html"),
        IndexEntry(rep("mid", 0.5, "medium"), None),
    ]
    page = render_index(entries)
    p = parse(page)
    rows = [a for t, a in p.tags if t == "tr" and "data-session" in a]
    assert [a["data-session"] for a in rows] == [HOSTILE, "mid", "low-one", "broken"]
    hrefs = [a["href"] for t, a in p.tags if t == "a"]
    assert hrefs == ["sessions/%3Cscript%3E.html", "sessions/low-one.html", "sessions/broken.html"]
    assert HOSTILE not in page
    assert "failed: /b/video.mp4: file is empty" in page
    assert "4 session(s): 1 high, 1 medium, 1 low, 1 failed" in page
    assert "9 of 40 pauses" in page  # top evidence


def test_rendering_a_page_never_loads_a_video_decoder(tmp_path):
    """report/ renders what it is given: no PyAV, no OpenCV, no pipeline (key frames come from pipeline.keyframes)."""
    saved = make_report(key_frames=["/gone/a.jpg"]).write(tmp_path / "r.json")
    code = (
        "import sys\n"
        "from interview_guard.report.html import render_report\n"
        "from interview_guard.report.model import read_report\n"
        "from interview_guard.report.text import format_text\n"
        "rep = read_report(sys.argv[1])\n"
        "assert 'were not saved' in render_report(rep) and 'Risk:' in format_text(rep)\n"
        "mods = ('av', 'cv2', 'interview_guard.io.video_decode', 'interview_guard.pipeline')\n"
        "print(','.join(m for m in mods if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(saved)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


# ----------------------------------------------------------------------------- CLI


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_report_round_trip_from_scan(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "scan", str(SAMPLES / "typing_genuine_a"), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    html_path = tmp_path / "r.html"
    r = run("report", out, "-o", html_path)
    assert r.exit_code == 0, r.output
    page = html_path.read_text()
    p = parse(page)
    assert by_id(p, "risk-score")["data-score"] == repr(doc["risk"]["score"])
    assert p.text_by_id["risk-band"].strip() == doc["risk"]["band"]
    m = doc["analyzers"]["keystroke_relay"]["metrics"]
    assert f"in {m['key_presses']} key presses" in p.text_by_id["drivers"]
    nc = p.text_by_id["not-checked"]
    assert "The session has no audio and no video" in nc and "Hand over face (video) was not checked" in nc
    r = run("report", out)  # stdout
    assert r.exit_code == 0 and r.output.startswith("<!DOCTYPE html>")


def test_cli_report_missing_or_corrupt_file_names_it(tmp_path):
    bad = tmp_path / "corrupt.json"
    bad.write_text('{"schema_version": "1.0", "session": ')
    notreport = tmp_path / "list.json"
    notreport.write_text("[1, 2]")
    for path, words in [
        (tmp_path / "missing.json", "report file not found"),
        (bad, "invalid JSON"),
        (notreport, "not an interview-guard report"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "interview_guard.cli", "report", str(path), "-o", str(tmp_path / "x.html")],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"interview-guard: error: {path}: "), proc.stderr
        assert words in lines[0]
        assert not (tmp_path / "x.html").exists()


def test_cli_scan_html_keystroke_session(tmp_path, keystroke_session):
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    r = run("scan", keystroke_session, "-o", out, "--html", page, "-q")
    assert r.exit_code == 0 and r.output == ""
    doc = json.loads(out.read_text())
    p = parse(page.read_text())
    assert by_id(p, "risk-score")["data-score"] == repr(doc["risk"]["score"])
    assert p.text_by_id["session-id"] == "sess"


def test_cli_scan_html_embeds_the_scans_key_frames(tmp_path, monkeypatch):
    """scan --html without --frames: the frames the scan writes are embedded, their temporary paths not kept."""
    import interview_guard.pipeline.scan as scan_mod

    blobs = {40.5: jpeg((200, 0, 0)), 41.0: jpeg((0, 200, 0)), 41.9: jpeg((0, 0, 200))}
    seen = {}

    def fake_scan_session(path, *, frames_dir=None, **kw):
        seen["frames_dir"] = frames_dir
        rep = make_report()
        if frames_dir is not None:  # what write_key_frames does
            paths = []
            for t, b in blobs.items():
                f = Path(frames_dir) / key_frame_filename(rep.session_id, t)
                f.write_bytes(b)
                paths.append(str(f))
            rep.analyzers["face_occlusion"].evidence[0].details["key_frames"] = paths
        return rep

    monkeypatch.setattr(scan_mod, "scan_session", fake_scan_session)
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    r = run("scan", tmp_path, "-o", out, "--html", page, "-q")
    assert r.exit_code == 0, r.output
    assert seen["frames_dir"] is not None and not Path(seen["frames_dir"]).exists()  # temporary, removed
    assert embedded_frames(page.read_text()) == list(blobs.values())
    ev = json.loads(out.read_text())["analyzers"]["face_occlusion"]["evidence"][0]
    assert "key_frames" not in ev["details"] and ev["details"]["key_frame_times"] == [40.5, 41.0, 41.9]
    # with --frames the files stay, the JSON lists them, and the page embeds them too
    frames = tmp_path / "frames"
    frames.mkdir()
    r = run("scan", tmp_path, "-o", out, "--html", page, "--frames", frames, "-q")
    assert r.exit_code == 0
    ev = json.loads(out.read_text())["analyzers"]["face_occlusion"]["evidence"][0]
    assert [Path(p).parent for p in ev["details"]["key_frames"]] == [frames] * 3
    assert len(embedded_frames(page.read_text())) == 3


def test_cli_batch_html_writes_pages_and_index(tmp_path):
    root = tmp_path / "root"
    write_jsonl(root / "calm" / "keystrokes.jsonl", typing_events(120, seed=1))
    for name in ("typing_relayed_b", "typing_genuine_b"):
        (root / name).mkdir(parents=True)
        (root / name / "keystrokes.jsonl").write_bytes((SAMPLES / name / "keystrokes.jsonl").read_bytes())
    (root / "broken").mkdir()
    (root / "broken" / "keystrokes.jsonl").write_text('{"t": 5, "type": "down"}\n{"t": 6, "type": "press"}\n')
    out = tmp_path / "out"
    r = run("batch", root, "--out", out, "--html", "-q")
    assert r.exit_code == 3  # one session failed
    index = out / "index.html"
    p = parse(index.read_text())
    hrefs = [a["href"] for t, a in p.tags if t == "a"]
    assert hrefs[0] == "sessions/typing_relayed_b.html" and hrefs[-1] == "sessions/broken.html"
    assert sorted(hrefs) == sorted(
        f"sessions/{s}.html" for s in ("calm", "typing_relayed_b", "typing_genuine_b", "broken")
    )
    for h in hrefs:
        page = (out / h).read_text()
        doc = json.loads((out / h).with_suffix(".json").read_text())
        assert by_id(parse(page), "risk-score")["data-score"] == (
            "" if doc["risk"]["score"] is None else repr(doc["risk"]["score"])
        )
    assert "failed: " in index.read_text() and "must be one of" in index.read_text()
    # resumable: a re-run scans nothing, keeps the pages, renders a missing one from its report
    kept = (out / "sessions" / "calm.html").stat().st_mtime_ns
    (out / "sessions" / "typing_genuine_b.html").unlink()
    r = run("batch", root, "--out", out, "--html", "-q", "--no-retry-failed")
    assert r.exit_code == 3
    assert (out / "sessions" / "calm.html").stat().st_mtime_ns == kept
    assert (out / "sessions" / "typing_genuine_b.html").is_file()
    assert "typing_genuine_b.html" in index.read_text()


def test_the_drivers_summary_names_what_raised_and_what_lowered_the_risk():
    """A low-risk session whose risk was pulled down by two analyzers and nudged up by another must not read as
    if the risk "rests mostly on" the one that nudged it up."""
    rep = make_report()
    rep.risk.contributions = {"keystroke_relay": 0.06, "face_occlusion": -0.66}
    summary = parse(render_report(rep)).text_by_id["drivers-summary"]
    assert "rests mostly" not in summary
    assert summary == "Raised the risk, most first: Keystroke relay. Lowered it, most first: Hand over face."
    rep.risk.contributions = {"keystroke_relay": -0.2, "face_occlusion": -0.66}
    summary = parse(render_report(rep)).text_by_id["drivers-summary"]
    assert summary == (
        "No analyzer found more than a genuine session shows. Lowered it, most first: Hand over face, Keystroke relay."
    )


def test_relay_rule_counts_that_add_up_to_more_than_the_incidents_say_why():
    """25 incidents listed as "large group: 13, two keydowns: 25, after pause: 14" (52) read as a mistake unless
    the page says that one incident can meet several rules."""
    rep = make_report()
    inc = rep.analyzers["keystroke_relay"].metrics["relay_incidents"]
    inc["by_rule"] = {"large_group": 13, "two_keydowns": 14, "after_pause": 9}
    drivers = parse(render_report(rep)).text_by_id["drivers"]
    assert "(incidents per rule, one may meet several: large group: 13, two keydowns: 14, after pause: 9)" in drivers
    inc["by_rule"] = {"after_pause": 9, "two_keydowns": 5, "zero_hold": 0}
    drivers = parse(render_report(rep)).text_by_id["drivers"]
    assert "(after pause: 9, two keydowns: 5)" in drivers  # 14 incidents, one rule each


def test_text_report_explains_each_score_with_the_numbers_the_page_shows():
    """Every number in the text report is explained as on the page: what each analyzer's score did to the risk
    and the measurements behind it (the text said only "score 0.91 (confidence 0.70)")."""
    from interview_guard.report.text import format_text

    rep = make_report()
    text = " ".join(format_text(rep).split())
    drivers = parse(render_report(rep)).text_by_id["drivers"]
    words = "raised the risk by +2.40 log-odds; 14 relay incidents in 212 key presses, 6.2x the 2.26 expected"
    assert words in text
    assert "raised the risk by +2.40 log-odds — 14 relay incidents in 212 key presses, 6.2x the 2.26" in drivers
    assert "the worst, at 40.8-41.5 s, scored 0.80" in text  # ASCII in the text report, as its other lines
    assert all(ord(ch) < 128 for ch in format_text(rep))


def test_cli_report_warns_in_one_line_when_key_frames_are_missing_from_the_page(tmp_path):
    """`report r.json --video wrong.mp4` wrote a page without its key frames and exited 0 in silence: the page
    says so, and so does one warning line on stderr naming the report and why (and nothing with -q)."""
    out = tmp_path / "r.json"
    out.write_text(make_report().to_json())  # 3 key frames, its video gone
    for args, why in (
        (["--video", tmp_path / "gone.mp4"], f"decoding them from the video failed ({tmp_path / 'gone.mp4'}: file"),
        ([], "not saved where the report says, nor in --frames, nor decodable from the video"),
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "interview_guard.cli",
                "report",
                str(out),
                "-o",
                str(tmp_path / "x.html"),
                *map(str, args),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        warning = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
        assert len(warning) == 1, proc.stderr
        assert warning[0].startswith(f"interview-guard: warning: {out}: 3 of 3 key frames are missing from the page: ")
        assert why in warning[0], warning
    assert run("report", out, "-o", tmp_path / "y.html", "-q").output == ""
