"""The command line: output streams, exit codes and one-line errors for bad input."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import SAMPLES, make_video, typing_events, write_jsonl
from interview_guard._version import __version__
from interview_guard.cli import main
from interview_guard.report.model import Report


def run(*args):
    runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_version_and_analyzers():
    r = run("--version")
    assert r.exit_code == 0 and r.output.splitlines()[0] == f"interview-guard, version {__version__}"
    # the runtime line: what a report scanned here records (docs/report-schema.md), for comparing machines
    from importlib import metadata

    runtime = r.output.splitlines()[1]
    assert runtime.startswith("runtime: python ")
    assert f"mediapipe {metadata.version('mediapipe')}" in runtime and f"av {metadata.version('av')}" in runtime
    r = run("analyzers")
    assert r.exit_code == 0 and "keystroke_relay" in r.output and "needs: keystrokes" in r.output


def test_help_texts_show_percent_signs_once():
    """click does not %-format help: ``%%`` was printed as is (synth --help: "30 %% of sessions")."""
    from interview_guard.cli import main as group

    for name in group.commands:
        r = run(name, "--help")
        assert r.exit_code == 0 and "%%" not in r.output, (name, r.output)
    assert "30 % of sessions" in " ".join(run("synth", "--help").output.split())


def test_scan_json_to_stdout_and_progress_to_stderr():
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "scan", str(SAMPLES / "typing_genuine_a")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is pure JSON
    for key in ("schema_version", "tool_version", "session", "risk", "analyzers", "models", "timings"):
        assert key in doc
    assert doc["session"]["modalities"] == {"video": False, "audio": False, "keystrokes": True}
    assert doc["risk"]["band"] in ("low", "medium", "high")
    assert set(doc["risk"]["absent_modalities"]) == {"video", "audio"}
    assert doc["analyzers"]["keystroke_relay"]["status"] == "ok"
    assert "[scan]" in proc.stderr
    Report.from_dict(doc)


def test_scan_text_and_output_file(tmp_path, keystroke_session):
    r = run("scan", str(keystroke_session), "--format", "text", "-q")
    assert r.exit_code == 0 and "Risk:" in r.output and "keystroke_relay" in r.output
    out = tmp_path / "r.json"
    r = run("scan", str(keystroke_session), "-o", str(out), "-q")
    assert r.exit_code == 0 and r.output == ""
    assert json.loads(out.read_text())["session"]["id"] == "sess"


def _bad_sessions(tmp_path):
    cases = {}
    cases["missing path"] = (tmp_path / "nope", "no such file or directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases["empty dir"] = (empty, "session directory is empty")
    zero = tmp_path / "zero"
    zero.mkdir()
    (zero / "video.mp4").write_bytes(b"")
    cases["zero-byte video"] = (zero, "video.mp4: file is empty")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "video.mp4").write_bytes(b"\x00\x01garbage" * 500)
    cases["unreadable video"] = (junk, "cannot open as audio/video")
    # cut short before its index was written: nothing decodes (a file cut after its index is scanned as far as it
    # decodes, test_video_sessions.py)
    trunc = tmp_path / "trunc"
    v = make_video(tmp_path / "src.mp4", seconds=8)
    trunc.mkdir()
    (trunc / "video.mp4").write_bytes(v.read_bytes()[: v.stat().st_size // 2])
    cases["truncated video"] = (trunc, "video.mp4: cannot open as audio/video")
    for label, lines, words in [
        ("malformed line", ['{"t": 1, "type": "down", "code": "KeyA"}', "{oops"], "line 2: not valid JSON"),
        (
            "unknown type",
            ['{"t": 9, "type": "down", "code": "KeyA"}', '{"t": 10, "type": "press", "code": "KeyA"}'],
            "line 2: 'type' must be one of",
        ),
        (
            "huge number",
            ['{"t": 9, "type": "down", "code": "KeyA"}', '{"t": ' + "9" * 5001 + ', "type": "up", "code": "KeyA"}'],
            "line 2: not acceptable JSON: a number of 5001 characters",
        ),
    ]:
        d = tmp_path / label.replace(" ", "_")
        d.mkdir()
        (d / "keystrokes.jsonl").write_text("\n".join(lines) + "\n")
        cases[label] = (d, words)
    meta = tmp_path / "badmeta"
    write_jsonl(meta / "keystrokes.jsonl", typing_events(40))
    (meta / "session.json").write_text("{not json")
    cases["bad session.json"] = (meta, "session.json: session metadata is not valid JSON")
    return cases


@pytest.mark.video
def test_bad_input_gives_one_line_error_and_exit_1(tmp_path):
    for label, (path, words) in _bad_sessions(tmp_path).items():
        proc = subprocess.run(
            [sys.executable, "-m", "interview_guard.cli", "scan", str(path), "-q"], capture_output=True, text=True
        )
        assert proc.returncode == 1, label
        assert proc.stdout == "", label
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("interview-guard: error:"), (label, proc.stderr)
        assert words in err[0], (label, err[0])
        assert "Traceback" not in proc.stderr


def test_debug_shows_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "--debug", "scan", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_usage_error_exit_2():
    r = CliRunner().invoke(main, ["scan", "x", "--format", "yaml"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["batch", "x"])  # --out missing
    assert r.exit_code == 2


def test_bad_params_file(tmp_path, keystroke_session):
    p = tmp_path / "fusion.json"
    p.write_text('{"model": "forest"}')
    r = CliRunner().invoke(main, ["scan", str(keystroke_session), "--params", str(p)])
    assert r.exit_code == 1 and "must be 'logistic'" in r.output


def test_scan_uses_given_params_and_names_them(tmp_path, keystroke_session):
    from interview_guard.fusion.model import FusionModel

    d = FusionModel.load().to_dict()
    d["version"] = "test-params-1"
    d["intercept"] = 3.0
    p = tmp_path / "fusion.json"
    p.write_text(json.dumps(d))
    r = run("scan", str(keystroke_session), "--params", str(p), "-q")
    doc = json.loads(r.output)
    assert doc["risk"]["fusion"]["version"] == "test-params-1" and doc["risk"]["fusion"]["path"] == str(p)
    assert doc["risk"]["band"] == "high"  # the prior alone says high with intercept 3


def test_report_format_text_of_a_saved_report_is_the_scan_text(tmp_path, keystroke_session):
    out = tmp_path / "r.json"
    assert run("scan", str(keystroke_session), "-o", str(out), "-q").exit_code == 0
    scanned = run("scan", str(keystroke_session), "--format", "text", "-q")
    r = run("report", str(out), "--format", "text")
    assert r.exit_code == 0 and r.output == scanned.output and "Risk:" in r.output
    text = tmp_path / "r.txt"
    r = run("report", str(out), "--format", "text", "-o", str(text), "-q")
    assert r.exit_code == 0 and r.output == "" and text.read_text() == scanned.output


def _kill_at_first_progress(argv, tmpdir, cwd):
    """Start the CLI, SIGKILL it at its first progress line, return what is left in ``tmpdir``."""
    import os
    import signal

    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "interview_guard.cli", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    line = proc.stderr.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert line, "the command printed no progress"
    return sorted(p.name for p in tmpdir.iterdir())


def test_killed_scan_leaves_nothing_in_tmp(tmp_path, keystroke_session):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    assert _kill_at_first_progress(["scan", str(keystroke_session)], tmpdir, tmp_path) == []
    out = tmp_path / "o"
    argv = ["scan", str(keystroke_session), "-o", str(out / "r.json"), "--html", str(out / "r.html")]
    assert _kill_at_first_progress(argv, tmpdir, tmp_path) == []  # the scratch is beside the page


def test_output_checked_before_the_scan(tmp_path, keystroke_session, monkeypatch):
    import interview_guard.pipeline.scan as scan_mod

    def no_scan(*a, **k):
        raise AssertionError("scanned although the output cannot be written")

    monkeypatch.setattr(scan_mod, "scan_session", no_scan)
    (tmp_path / "f").write_text("x")
    r = CliRunner().invoke(main, ["scan", str(keystroke_session), "-q", "-o", str(tmp_path / "f" / "r.json")])
    assert r.exit_code == 1 and "cannot write the report here" in r.output


def test_report_saved_elsewhere_when_output_fails_late(tmp_path, keystroke_session, monkeypatch):
    import interview_guard.cli.common as common

    def fail(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(common, "_write_text", fail)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    out = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["scan", str(keystroke_session), "-q", "-o", str(out)])
    assert r.exit_code == 1
    line = r.output.strip()
    assert "r.json: cannot write the report (No space left on device); it was saved to " in line
    saved = line.rsplit("saved to ", 1)[1]
    assert json.loads(open(saved).read())["session"]["id"] == "sess"


def test_oserror_is_a_one_line_error_not_internal(tmp_path, keystroke_session, monkeypatch):
    import interview_guard.pipeline.scan as scan_mod

    def boom(*a, **k):
        raise PermissionError(13, "Permission denied", str(keystroke_session / "keystrokes.jsonl"))

    monkeypatch.setattr(scan_mod, "scan_session", boom)
    r = CliRunner().invoke(main, ["scan", str(keystroke_session), "-q"])
    assert r.exit_code == 1
    assert r.output.strip() == f"interview-guard: error: {keystroke_session / 'keystrokes.jsonl'}: permission denied"


def test_json_report_still_out_when_the_page_cannot_be_written(tmp_path, keystroke_session, monkeypatch):
    import interview_guard.cli.common as common

    real = common._write_text

    def fail_html(path, text):
        if str(path).endswith(".html"):
            raise OSError(28, "No space left on device", str(path))
        return real(path, text)

    monkeypatch.setattr(common, "_write_text", fail_html)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    out = tmp_path / "r.json"
    r = CliRunner().invoke(
        main, ["scan", str(keystroke_session), "-q", "-o", str(out), "--html", str(tmp_path / "p.html")]
    )
    assert r.exit_code == 1 and "p.html: cannot write the HTML report" in r.output
    assert json.loads(out.read_text())["session"]["id"] == "sess"  # the JSON report is not lost


def test_a_scan_whose_report_cannot_be_serialised_writes_no_page(tmp_path, keystroke_session, monkeypatch):
    """A report that is not strict JSON (a NaN once came out of an analyzer) fails the scan: no page, no report."""

    def not_json(self, indent=2):
        raise ValueError("Out of range float values are not JSON compliant: nan")

    monkeypatch.setattr(Report, "to_json", not_json)
    out, page = tmp_path / "r.json", tmp_path / "p.html"
    r = CliRunner().invoke(main, ["scan", str(keystroke_session), "-q", "-o", str(out), "--html", str(page)])
    assert r.exit_code == 1 and "internal error: ValueError: Out of range float" in r.output
    assert not page.exists() and not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["sess"]
