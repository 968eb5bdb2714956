"""One contract test over every registered analyzer."""

import json

import numpy as np
import pytest

from conftest import typing_events
from interview_guard.analyzers import Analyzer, AnalyzerResult, Status, create, registry
from interview_guard.errors import ParameterError
from interview_guard.io.keystroke_log import parse_keystroke_lines
from interview_guard.tracks import Stream, Tracks
from interview_guard.tracks.keystrokes import KeystrokeLog

NAMES = list(registry())


def minimal_tracks(seed=0, n_keys=120) -> Tracks:
    """Tracks with every stream an analyzer of the registry can need, small but real-shaped."""
    from synth_tracks import make_tracks

    log = parse_keystroke_lines([json.dumps(e) for e in typing_events(n_keys, seed=seed)])
    log = log.shifted(-log.t_ms[0])
    face, hands, pixels = make_tracks(seconds=8.0, sweep=(3.0, 4.2), swap_failure=bool(seed % 2), seed=seed)
    from interview_guard.tracks.audio import AudioTrack

    noise = np.random.default_rng(seed).normal(0, 0.05, 8 * 16000).astype(np.float32)
    tracks = Tracks(
        duration_s=max(float(log.t_ms[-1]) / 1000.0, 8.0),
        keystrokes=log,
        face=face,
        hands=hands,
        audio=AudioTrack(noise, 16000),
        pixels=pixels,
    )
    return tracks


def test_registry_is_not_empty_and_names_match():
    assert NAMES, "no analyzers registered"
    for name, cls in registry().items():
        assert issubclass(cls, Analyzer) and cls.name == name
        assert cls.requires and all(isinstance(s, Stream) for s in cls.requires)
        assert all(isinstance(s, Stream) for s in cls.uses) and not cls.requires & cls.uses
        assert cls.description


@pytest.mark.parametrize("name", NAMES)
def test_empty_tracks_give_skipped_with_reason(name):
    r = create(name).analyze(Tracks())
    assert r.status is Status.SKIPPED and r.reason and r.score is None


@pytest.mark.parametrize("name", NAMES)
def test_empty_streams_give_skipped_not_failed(name):
    from interview_guard.tracks.audio import AudioTrack
    from interview_guard.tracks.video import FaceTrack, HandTrack

    t = Tracks(
        duration_s=0.0,
        keystrokes=KeystrokeLog.empty(),
        face=FaceTrack.empty(),
        hands=HandTrack.empty(),
        audio=AudioTrack(np.zeros(0, np.float32), 16000),
    )
    r = create(name).analyze(t)
    assert r.status is Status.SKIPPED, r.reason


@pytest.mark.parametrize("name", NAMES)
def test_minimal_input_gives_valid_result(name):
    tracks = minimal_tracks()
    r = create(name).analyze(tracks)
    assert isinstance(r, AnalyzerResult) and r.name == name
    assert r.status in (Status.OK, Status.SKIPPED), r.reason
    if r.status is Status.OK:
        assert 0.0 <= r.score <= 1.0 and 0.0 <= r.confidence <= 1.0
    for ev in r.evidence:
        assert ev.analyzer == name and ev.kind and ev.summary
        assert 0.0 <= ev.start_s <= ev.end_s <= tracks.duration_s + 1e-3
        assert 0.0 <= ev.score <= 1.0
    for w in r.windows:
        assert 0.0 <= w.start_s <= w.end_s <= tracks.duration_s + 1e-3
    # JSON round trip of the result
    again = AnalyzerResult.from_dict(name, json.loads(json.dumps(r.to_dict())))
    assert again.to_dict() == r.to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name):
    a = create(name).analyze(minimal_tracks(seed=3)).to_dict()
    b = create(name).analyze(minimal_tracks(seed=3)).to_dict()
    assert a == b


@pytest.mark.parametrize("name", NAMES)
def test_parameters_declared_and_validated_at_use(name):
    cls = registry()[name]
    an = cls()
    assert set(an.get_params()) == set(cls.parameters)
    with pytest.raises(ParameterError, match="unknown parameter"):
        cls(no_such_parameter=1)
    numeric = [
        p for p, spec in cls.parameters.items() if isinstance(spec.default, (int, float)) and spec.low is not None
    ]
    if numeric:
        p = numeric[0]
        bad = cls(**{p: cls.parameters[p].low - 1})  # stored as given, like scikit-learn ...
        with pytest.raises(ParameterError, match=p):  # ... and refused when the work runs
            bad.analyze(minimal_tracks())


@pytest.mark.parametrize("name", NAMES)
def test_evidence_times_inside_session_when_shifted(name):
    tracks = minimal_tracks(seed=5)
    tracks.keystrokes = tracks.keystrokes.shifted(20_000.0)
    tracks.duration_s += 20.0
    tracks.face.t_s += 20.0
    tracks.hands.t_s += 20.0
    tracks.pixels.t_s = tracks.face.t_s
    r = create(name).analyze(tracks)
    for ev in r.evidence:
        assert 0.0 <= ev.start_s <= ev.end_s <= tracks.duration_s + 1e-3
