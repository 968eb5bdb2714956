"""One contract test over every registered analyzer."""

import json
import math

import numpy as np
import pytest

from conftest import typing_events
from interview_guard.analyzers import Analyzer, AnalyzerResult, Evidence, Param, Status, create, registry
from interview_guard.analyzers.checks import check_result, parametrize_with_checks
from interview_guard.io.keystroke_log import parse_keystroke_lines
from interview_guard.tracks import Stream, Tracks

NAMES = list(registry())


def minimal_tracks(seed=0, n_keys=120) -> Tracks:
    """Tracks with every stream an analyzer of the registry can need, small but real-shaped."""
    from synth_tracks import make_identity, make_tracks

    log = parse_keystroke_lines([json.dumps(e) for e in typing_events(n_keys, seed=seed)])
    log = log.shifted(-log.t_ms[0])
    face, hands, pixels = make_tracks(seconds=8.0, sweep=(3.0, 4.2), swap_failure=bool(seed % 2), seed=seed)
    from interview_guard.tracks.audio import AudioTrack
    from interview_guard.tracks.blending import BlendTrack

    rng = np.random.default_rng(seed)
    n = len(face)
    blending = BlendTrack(
        t_s=face.t_s,
        detail_inner=rng.uniform(1.0, 2.0, n),
        detail_outer=rng.uniform(1.0, 2.0, n),
        tone_step=rng.uniform(1.0, 6.0, n),
        tone_outline=rng.uniform(3.0, 20.0, n),
        seam_change=rng.uniform(1.0, 3.0, n),
        core_change=rng.uniform(1.0, 3.0, n),
    )
    noise = np.random.default_rng(seed).normal(0, 0.05, 8 * 16000).astype(np.float32)
    tracks = Tracks(
        duration_s=max(float(log.t_ms[-1]) / 1000.0, 8.0),
        keystrokes=log,
        face=face,
        hands=hands,
        audio=AudioTrack(noise, 16000),
        pixels=pixels,
        blending=blending,
        identity=make_identity(seconds=8.0, seed=seed, switch_at=5.0 if seed % 2 else None),
    )
    return tracks


def sparse_face_tracks(seed=0, every=50) -> Tracks:
    """:func:`minimal_tracks` with the face found in one frame of ``every`` (an upside-down video: 2 %).

    No two measured frames are neighbours, so nothing that needs a pair of frames (seam change) is measured.
    """
    import dataclasses

    tracks = minimal_tracks(seed=seed)
    face, b = tracks.face, tracks.blending
    keep = np.arange(len(face)) % every == 0
    gone = ~keep
    landmarks, box, blendshapes = face.landmarks.copy(), face.box.copy(), face.blendshapes.copy()
    landmarks[gone], box[gone], blendshapes[gone] = np.nan, np.nan, np.nan
    tracks.face = dataclasses.replace(
        face,
        present=face.present & keep,
        landmarks=landmarks,
        box=box,
        blendshapes=blendshapes,
        n_faces=np.where(keep, face.n_faces, 0),
        source=np.where(keep, face.source, 0),
    )
    cols = {c: np.where(keep, getattr(b, c), np.nan) for c in ("detail_inner", "detail_outer", "tone_step")}
    nan = np.full(len(b), np.nan)
    tracks.blending = dataclasses.replace(b, **cols, seam_change=nan, core_change=nan)
    return tracks


def test_registry_is_not_empty_and_names_match():
    assert NAMES, "no analyzers registered"
    for name, cls in registry().items():
        assert issubclass(cls, Analyzer) and cls.name == name


@parametrize_with_checks(list(registry().values()), tracks=minimal_tracks)
def test_public_contract_suite(analyzer, check):
    check(analyzer)


@pytest.mark.parametrize("name", NAMES)
def test_swap_failure_tracks_give_valid_results_too(name):
    check_result(registry()[name], minimal_tracks(seed=1))


@pytest.mark.parametrize("name", NAMES)
def test_a_face_in_two_percent_of_frames_gives_a_valid_finite_result(name):
    """Few measured frames give a low confidence (or skipped), never NaN: the report is strict JSON."""
    check_result(registry()[name], sparse_face_tracks())


def test_face_artifacts_reports_an_unmeasured_measure_as_null():
    r = create("face_artifacts").analyze(sparse_face_tracks())
    assert r.status is Status.OK and r.confidence < 0.5, r.reason
    flicker = r.metrics["measures"]["flicker"]
    assert flicker == {"measure": "flicker", "frames": 0, "median": None, "mad": None}
    assert r.metrics["measures"]["softness"]["frames"] > 0


class _Broken(Analyzer):
    """Breaks the contract in ways the suite must see (switched on one at a time)."""

    name = "broken"
    description = "test double"
    requires = frozenset({Stream.KEYSTROKES})
    window_s = Param(30.0, 5.0, 600.0, "window")
    mode = ""

    def _run(self, tracks):
        if self.mode == "undeclared":
            _ = tracks.audio  # not declared
        if self.mode == "random":
            return AnalyzerResult(self.name, Status.OK, float(np.random.default_rng().random()), 0.5)
        if self.mode == "out_of_session":
            ev = Evidence(self.name, "x", 0.0, tracks.duration_s + 100.0, 0.5, "beyond the end")
            return AnalyzerResult(self.name, Status.OK, 0.5, 0.5, evidence=(ev,))
        if self.mode == "nan_metric":
            return AnalyzerResult(self.name, Status.OK, 0.2, 0.5, metrics={"measures": {"flicker": [1.0, math.nan]}})
        if self.mode == "inf_detail":
            ev = Evidence(self.name, "x", 0.0, 1.0, 0.5, "an infinite ratio", {"ratio": -math.inf})
            return AnalyzerResult(self.name, Status.OK, 0.5, 0.5, evidence=(ev,))
        return AnalyzerResult(self.name, Status.OK, 0.2, 0.5)


@pytest.mark.parametrize(
    ("mode", "check", "needle"),
    [
        ("undeclared", "check_reads_only_declared_streams", "undeclared stream"),
        ("random", "check_deterministic", "differ"),
        ("out_of_session", "check_result", "outside the session"),
        ("nan_metric", "check_result", r"metrics\.measures\.flicker\[1\] is nan"),
        ("inf_detail", "check_result", r"evidence x details\.ratio is -inf"),
    ],
)
def test_the_suite_catches_broken_analyzers(monkeypatch, mode, check, needle):
    from interview_guard.analyzers import checks

    monkeypatch.setattr(_Broken, "mode", mode)
    _Broken().analyze(minimal_tracks())  # the base class itself does not raise
    with pytest.raises(AssertionError, match=needle):
        getattr(checks, check)(_Broken, minimal_tracks())


def test_the_suite_catches_a_bad_parameter_declaration():
    from interview_guard.analyzers.checks import check_declaration

    class BadDefault(_Broken):
        name = "bad_default"
        window_s = Param(1.0, 5.0, 600.0, "default below its minimum")

    with pytest.raises(AssertionError, match="fails its own range"):
        check_declaration(BadDefault, minimal_tracks())


@pytest.mark.parametrize("name", NAMES)
def test_evidence_times_inside_session_when_shifted(name):
    tracks = minimal_tracks(seed=5)
    tracks.keystrokes = tracks.keystrokes.shifted(20_000.0)
    tracks.duration_s += 20.0
    tracks.face.t_s += 20.0
    tracks.hands.t_s += 20.0
    tracks.pixels.t_s = tracks.face.t_s
    tracks.identity.t_s += 20.0
    r = create(name).analyze(tracks)
    for ev in r.evidence:
        assert 0.0 <= ev.start_s <= ev.end_s <= tracks.duration_s + 1e-3


@pytest.mark.parametrize("mode", ["nan_metric", "inf_detail"])
def test_a_non_finite_number_fails_the_analyzer_not_the_report(monkeypatch, mode):
    """At run time a NaN or infinity is a contract violation of that analyzer: the scan's report stays strict JSON."""
    monkeypatch.setattr(_Broken, "mode", mode)
    r = _Broken().analyze(minimal_tracks())
    assert r.status is Status.FAILED and r.score is None and r.reason.startswith("contract violation: ")
    json.dumps(r.to_dict(), allow_nan=False)


def test_skip_reason_names_the_missing_recording_not_an_internal_stream():
    """An audio-only session skips the video analyzers with "no video", not "no identity" or "no blending";
    a video whose faces were never clear enough says that instead."""
    from interview_guard.tracks.audio import AudioTrack

    audio_only = Tracks(duration_s=8.0, audio=AudioTrack(np.zeros(8 * 16000, np.float32), 16000))
    for name in ("face_identity", "face_artifacts", "face_occlusion", "av_sync"):
        r = create(name).analyze(audio_only)
        assert r.status is Status.SKIPPED and r.reason == "no video in this session", (name, r.reason)
    assert create("acoustic_keystroke").analyze(audio_only).reason == "no keystrokes in this session"

    tracks = minimal_tracks()
    tracks.identity = None
    r = create("face_identity").analyze(tracks)
    assert r.status is Status.SKIPPED
    assert r.reason == "no face in the video clear enough to describe (identity descriptors)"
