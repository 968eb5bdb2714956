import json
import math

import pytest

from interview_guard.analyzers import AnalyzerResult, Evidence, Status, WindowScore
from interview_guard.errors import ModelError
from interview_guard.fusion.model import FusionModel
from interview_guard.report.model import Report, Risk, SessionInfo, read_report


def ok(name, score, conf=1.0):
    return AnalyzerResult(name=name, status=Status.OK, score=score, confidence=conf)


def test_default_fusion_file_loads_and_is_versioned():
    m = FusionModel.load()
    assert m.path.endswith("models/fusion.json") and len(m.sha256) == 64
    assert m.version and m.source
    # the shipped parameters are the output of the documented calibration run (docs/calibration.md)
    assert m.version.startswith("calibrated-") and m.source.startswith("interview-guard calibrate build/synth")
    assert "keystroke_relay" in m.weights


def test_fusion_monotone_and_banded():
    m = FusionModel.load()
    scores = [m.fuse([ok("keystroke_relay", s)]).score for s in (0.0, 0.2, 0.5, 0.9, 1.0)]
    assert scores == sorted(scores)
    assert m.fuse([ok("keystroke_relay", 0.02)]).band == "low"
    assert m.fuse([ok("keystroke_relay", 0.97)]).band in ("medium", "high")  # one confident analyzer is flagged
    # the hand-set prior (the calibration's base): an analyzer's own threshold semantics
    prior = FusionModel.load(m.path.replace("fusion.json", "fusion-prior.json"))
    assert prior.version.startswith("prior-")
    assert prior.fuse([ok("keystroke_relay", 0.02)]).band == "low"
    assert prior.fuse([ok("keystroke_relay", 0.5)]).band == "medium"
    assert prior.fuse([ok("keystroke_relay", 0.97)]).band == "high"


def test_fusion_missing_modalities_and_nothing_checked():
    m = FusionModel.load()
    fused = m.fuse([ok("keystroke_relay", 0.9), AnalyzerResult.skipped("face_occlusion", "no video")])
    assert fused.checked == ("keystroke_relay",) and fused.not_checked == ("face_occlusion",)
    only_keys = m.fuse([ok("keystroke_relay", 0.9)])
    assert fused.score == pytest.approx(only_keys.score)  # a skipped analyzer changes nothing
    none = m.fuse([AnalyzerResult.skipped("keystroke_relay", "no keys")])
    assert none.score is None and none.band == "unassessed"


def test_fusion_confidence_weighs_evidence():
    m = FusionModel.load()
    assert m.fuse([ok("keystroke_relay", 0.95, 0.2)]).score < m.fuse([ok("keystroke_relay", 0.95, 1.0)]).score


def test_fusion_formula_is_the_documented_one():
    m = FusionModel(intercept=-1.0, weights={"a": 2.0}, centres={"a": 0.25}, medium=0.3, high=0.6)
    z = -1.0 + 2.0 * 0.5 * (0.75 - 0.25)
    assert m.fuse([ok("a", 0.75, 0.5)]).score == pytest.approx(1 / (1 + math.exp(-z)))


@pytest.mark.parametrize(
    "content, words",
    [
        ("{", "not valid JSON"),
        ('{"model": "forest"}', "must be 'logistic'"),
        # a misspelt analyzer stayed on the default weight in silence; a fit never gives a negative weight
        ('{"model": "logistic", "intercept": 0, "analyzers": {"face_oclusion": {"weight": 4}}}', "unknown analyzer"),
        ('{"model": "logistic", "intercept": 0, "analyzers": {"av_sync": {"weight": -2}}}', "finite number >= 0"),
        ('{"model": "logistic", "intercept": 0, "analyzers": {"av_sync": {"weight": "2"}}}', "finite number >= 0"),
        # a scan report given as --params: said so, not "must be 'logistic', got None"
        ('{"schema_version": "1.4", "session": {}, "risk": {"score": 0.1}, "analyzers": {}}', "a scan report, not"),
        ('{"model": "logistic"}', "malformed"),
        ('{"model": "logistic", "intercept": 0, "bands": {"medium": 0.8, "high": 0.5}}', "bands"),
    ],
)
def test_bad_fusion_files(tmp_path, content, words):
    p = tmp_path / "fusion.json"
    p.write_text(content)
    with pytest.raises(ModelError, match=words) as ei:
        FusionModel.load(p)
    assert str(p) in str(ei.value)


def test_fusion_round_trip(tmp_path):
    m = FusionModel.load()
    p = tmp_path / "f.json"
    p.write_text(json.dumps(m.to_dict()))
    m2 = FusionModel.load(p)
    assert m2.weights == m.weights and m2.intercept == m.intercept and (m2.medium, m2.high) == (m.medium, m.high)


def make_report():
    ev = Evidence(
        "keystroke_relay", "catch_up_bursts", 1.25, 9.5, 0.8, "3 bursts", {"bursts": 3, "examples": [{"t_s": 1.25}]}
    )
    r = AnalyzerResult(
        name="keystroke_relay",
        status=Status.OK,
        score=0.8,
        confidence=0.9,
        reason="",
        evidence=(ev,),
        windows=(WindowScore(0.0, 30.0, 0.8, 50), WindowScore(30.0, 40.0, None, 3)),
        metrics={"key_presses": 80},
    )
    return Report(
        session=SessionInfo(
            id="s1",
            path="/x/s1",
            duration_s=40.0,
            modalities={"video": False, "audio": False, "keystrokes": True},
        ),
        risk=Risk(score=0.77, band="high", checked=["keystroke_relay"], not_checked=[]),
        analyzers={"keystroke_relay": r, "face_occlusion": AnalyzerResult.skipped("face_occlusion", "no video")},
        models={"face_landmarker.task": "ab" * 32},
        timings={"total_s": 0.1},
        warnings=["w"],
        created_at="2026-11-28T00:00:00+00:00",
    )


def test_report_round_trips_through_json(tmp_path):
    rep = make_report()
    again = Report.from_json(rep.to_json())
    assert again.to_dict() == rep.to_dict()
    assert again.analyzers["keystroke_relay"].evidence[0].details["bursts"] == 3
    p = rep.write(tmp_path / "out" / "r.json")
    assert read_report(p).to_dict() == rep.to_dict()
    assert not list((tmp_path / "out").glob("*.tmp"))
    d = json.loads(p.read_text())
    for key in ("schema_version", "tool_version", "session", "risk", "analyzers", "models", "timings"):
        assert key in d


def test_report_records_the_runtime_and_reads_reports_without_it(tmp_path):
    """Schema 1.3: the library versions a scan ran on round-trip; a 1.2 report (no ``runtime``) reads as {}."""
    import subprocess
    import sys
    from importlib import metadata

    from interview_guard.io.runtime import runtime_versions
    from interview_guard.pipeline.scan import failed_report
    from interview_guard.report.html import render_report

    rt = runtime_versions()
    assert rt["numpy"] == metadata.version("numpy") and rt["mediapipe"] == metadata.version("mediapipe")
    assert rt["opencv"] == metadata.version("opencv-contrib-python") and rt["av"] == metadata.version("av")
    assert rt["python"] == ".".join(map(str, sys.version_info[:3]))
    rep = make_report()
    rep.runtime = rt
    again = Report.from_json(rep.to_json())
    assert again.runtime == rt and again.to_dict() == rep.to_dict()
    assert f"MediaPipe {rt['mediapipe']}" in render_report(again)
    old = rep.to_dict()
    old["schema_version"] = "1.2"
    del old["runtime"]
    assert Report.from_dict(old).runtime == {}
    assert "scanned with" not in render_report(Report.from_dict(old))
    # a failed scan says what it ran on too (a codec PyAV lacks is a runtime question)
    assert failed_report("s", tmp_path, "s/video.mp4: no video stream").runtime == rt
    # reading the versions imports none of the libraries
    code = (
        "import sys; from interview_guard.io.runtime import runtime_versions; runtime_versions(); "
        "print(sorted(m for m in ('cv2', 'mediapipe', 'av', 'librosa', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_report_rejects_other_schema_major():
    d = make_report().to_dict()
    d["schema_version"] = "2.0"
    with pytest.raises(Exception, match="schema"):
        Report.from_dict(d)


# The session and risk objects exactly as version 1.0 reports (before the typed model) wrote them.
OLD_SESSION = {
    "id": "typing_genuine_a",
    "path": "sample_sessions/typing_genuine_a",
    "duration_s": 52.225,
    "modalities": {"video": False, "audio": False, "keystrokes": True},
    "files": {"keystrokes": "sample_sessions/typing_genuine_a/keystrokes.jsonl"},
    "fingerprint": "c1c8c07c0856863defdabccad0b42117",
    "keystrokes_aligned": False,
    "video": None,
    "metadata": {"candidate_id": "sample-typing-a", "claimed_location": None, "challenges": []},
}
OLD_RISK = {
    "score": 0.0871,
    "band": "low",
    "contributions": {"keystroke_relay": 0.1044},
    "checked": ["keystroke_relay"],
    "not_checked": ["face_occlusion", "av_sync", "acoustic_keystroke"],
    "absent_modalities": ["audio", "video"],
    "fusion": {"version": "calibrated-x", "path": "/m/fusion.json", "sha256": "4a" * 32},
}


def test_typed_session_and_risk_write_the_same_json_as_before():
    d = make_report().to_dict()
    d["session"], d["risk"] = OLD_SESSION, OLD_RISK
    rep = Report.from_dict(json.loads(json.dumps(d)))
    assert rep.session.modalities == {"video": False, "audio": False, "keystrokes": True}
    assert rep.session.video is None and rep.session.scanned
    assert rep.risk.fusion is not None and rep.risk.fusion.version == "calibrated-x"
    assert rep.risk.absent_modalities == ["audio", "video"] and rep.band == "low" and rep.risk_score == 0.0871
    again = rep.to_dict()
    # same keys in the same order, same values: the JSON text is unchanged
    assert json.dumps(again["session"]) == json.dumps(OLD_SESSION)
    assert json.dumps(again["risk"]) == json.dumps(OLD_RISK)
    assert Report.from_json(rep.to_json()) == rep


def test_failed_report_keeps_its_short_session_and_risk():
    from interview_guard.pipeline.scan import failed_report

    rep = failed_report("broken", "/b", "/b/video.mp4: file is empty", fingerprint=None)
    d = rep.to_dict()
    assert d["session"] == {"id": "broken", "path": "/b", "fingerprint": None}
    assert list(d["risk"]) == ["score", "band"] and d["risk"]["band"] == "unassessed"
    assert not rep.session.scanned and rep.risk.checked is None
    assert Report.from_dict(d).to_dict() == d


def test_unknown_session_and_risk_fields_are_kept():
    d = make_report().to_dict()
    d["session"]["camera"] = "front"
    d["risk"]["note"] = {"x": 1}
    again = Report.from_dict(d).to_dict()
    assert again["session"]["camera"] == "front" and again["risk"]["note"] == {"x": 1}
    assert again == d


def test_report_says_where_the_bands_start(tmp_path):
    # a 0.853 risk printed "Risk: 0.85 band: MEDIUM" with nothing saying high starts at 0.8547
    from interview_guard.report.model import FusionInfo
    from interview_guard.report.text import format_text

    rep = make_report()
    rep.risk = Risk(
        score=0.8531,
        band="medium",
        checked=["keystroke_relay"],
        not_checked=[],
        fusion=FusionInfo(version="v", path="f.json", sha256="0" * 64, bands={"medium": 0.4, "high": 0.8547}),
    )
    again = Report.from_json(rep.to_json())
    assert again.risk.fusion is not None and again.risk.fusion.bands == {"medium": 0.4, "high": 0.8547}
    assert json.loads(rep.to_json())["risk"]["fusion"]["bands"]["high"] == 0.8547
    text = format_text(again)
    assert "Risk: 0.8531  band: MEDIUM (medium from 0.4, high from 0.8547)" in text
    # a report before 1.5 has no bands: read as is, and the text says nothing of them
    d = json.loads(rep.to_json())
    del d["risk"]["fusion"]["bands"]
    old = Report.from_dict(d)
    assert old.risk.fusion is not None and old.risk.fusion.bands is None
    assert "high from" not in format_text(old)


def test_scan_records_the_bands_of_its_fusion_file():
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.scan import scan_tracks
    from interview_guard.tracks import Tracks

    fusion = FusionModel.load()
    _, risk, _ = scan_tracks(Tracks(duration_s=10.0), analyzers=[], fusion=fusion)
    assert risk.fusion.bands == {"medium": fusion.medium, "high": fusion.high}


def test_video_analyzers_confidence_is_scaled_by_the_share_of_a_cut_short_video_that_decodes():
    from interview_guard.analyzers import create
    from interview_guard.pipeline.scan import scale_by_coverage
    from interview_guard.tracks import MediaInfo, Tracks

    cut = MediaInfo(
        path="video.mp4", duration_s=10.0, has_video=True, has_audio=True, fps=10.0, truncated=True, decoded_end_s=3.9
    )
    assert cut.coverage == pytest.approx(0.4)
    whole = Tracks(duration_s=10.0, video=MediaInfo(path="video.mp4", duration_s=10.0, has_video=True, has_audio=True))
    expected = {"face_artifacts": 0.32, "face_occlusion": 0.32, "av_sync": 0.32, "keystroke_relay": 0.8}
    for name, scaled in expected.items():
        result = ok(name, 0.7, conf=0.8)
        got = scale_by_coverage(create(name), result, Tracks(duration_s=10.0, video=cut))
        assert got.confidence == pytest.approx(scaled) and got.score == 0.7, name
        assert scale_by_coverage(create(name), result, whole) is result
    skipped = AnalyzerResult.skipped("face_artifacts", "no face")
    assert scale_by_coverage(create("face_artifacts"), skipped, Tracks(video=cut)) is skipped


def test_audio_analyzers_confidence_is_scaled_by_the_share_of_a_cut_short_audio_that_decodes():
    import numpy as np

    from interview_guard.analyzers import create
    from interview_guard.pipeline.scan import scale_by_coverage
    from interview_guard.tracks import MediaInfo, Tracks
    from interview_guard.tracks.audio import AudioTrack

    # 6 s of 10 s declared decode: 60 %
    cut = AudioTrack(np.zeros(6 * 16000, np.float32), 16000, 0.0, "audio.wav", meta={"declared_s": 10.0})
    assert cut.truncated and cut.coverage == pytest.approx(0.6)
    tracks = Tracks(duration_s=10.0, audio=cut)
    # lip sync reads the audio; acoustic_keystroke counts the keys after the audio stops itself (not by time);
    # environment only uses the audio when there is some; keystroke_relay does not read it
    expected = {"av_sync": 0.48, "acoustic_keystroke": 0.8, "environment": 0.8, "keystroke_relay": 0.8}
    for name, scaled in expected.items():
        got = scale_by_coverage(create(name), ok(name, 0.7, conf=0.8), tracks)
        assert got.confidence == pytest.approx(scaled) and got.score == 0.7, name
    # a video cut short with its own audio: lip sync judged where both decode, the smaller share (not the product)
    video = MediaInfo(
        path="video.mp4", duration_s=10.0, has_video=True, has_audio=True, fps=10.0, truncated=True, decoded_end_s=6.4
    )
    both = Tracks(duration_s=10.0, video=video, audio=cut)
    assert scale_by_coverage(create("av_sync"), ok("av_sync", 0.7, conf=0.8), both).confidence == pytest.approx(0.48)
    whole = AudioTrack(np.zeros(10 * 16000, np.float32), 16000, 0.0, "audio.wav", meta={"declared_s": 10.0})
    result = ok("av_sync", 0.7, conf=0.8)
    assert scale_by_coverage(create("av_sync"), result, Tracks(duration_s=10.0, audio=whole)) is result
