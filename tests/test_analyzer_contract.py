"""One contract test over every registered analyzer."""

import json

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
        return AnalyzerResult(self.name, Status.OK, 0.2, 0.5)


@pytest.mark.parametrize(
    ("mode", "check", "needle"),
    [
        ("undeclared", "check_reads_only_declared_streams", "undeclared stream"),
        ("random", "check_deterministic", "differ"),
        ("out_of_session", "check_result", "outside the session"),
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
