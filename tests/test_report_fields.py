"""Every ``metrics`` and evidence ``details`` field an analyzer emits is listed in its doc's "Fields in the report".

The results are those of small synthetic tracks the analyzers' own tests build (the contract suite's tracks and
the scenarios of each analyzer's test module, none of them a video: the file runs in a few seconds); the sample
sessions' reports are checked in ``test_sample_sessions.py`` on the scans that module makes anyway.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pytest

from interview_guard.analyzers import AnalyzerResult, create, registry
from report_fields import DOCS, DOCS_DIR, documented, parse_fields, undocumented

Scenario = Callable[[], AnalyzerResult]


# -- the scenarios: the analyzers' own test tracks, each emitting some evidence kinds ----------------------


def _contract(name: str, make: Callable[[], object]) -> Scenario:
    return lambda: create(name).analyze(make())


def _keystroke_relay() -> dict[str, Scenario]:
    from interview_guard.synth.relay_sim import PROFILES, RelayProfile, simulate_relay, simulate_transport
    from test_keystroke_relay import analyze, synthetic

    tick = RelayProfile(
        name="tick", base_delay_ms=20.0, jitter_ms=0.5, send_tick_ms=16.0, key_up_coalesce=False, inject_quantum_ms=1.0
    )
    return {
        "local": lambda: analyze(synthetic(400, seed=0)),
        "intl_rdp_congested": lambda: analyze(
            simulate_relay(synthetic(600, seed=5), PROFILES["intl_rdp_congested"], seed=5)
        ),
        "kvm_ip": lambda: analyze(simulate_relay(synthetic(600, seed=6), PROFILES["kvm_ip"], seed=6)),
        "send_tick": lambda: analyze(simulate_relay(synthetic(600, seed=4), tick, seed=4)),
        "transport_lag": lambda: analyze(
            simulate_transport(synthetic(400, seed=1), lag_ms=120.0, jitter_ms=30.0, seed=1)
        ),
        "unsynchronised": lambda: analyze(
            simulate_transport(synthetic(300, seed=2), lag_ms=8.0, jitter_ms=2.0, seed=2, clock_offset_ms=3.6e6)
        ),
    }


def _acoustic_keystroke() -> dict[str, Scenario]:
    from test_acoustic_keystroke import heard, key_log, logged, run

    def typed():
        rng = np.random.default_rng(7)
        true = key_log(250, seed=1)
        return true, heard(true, rng), logged(true, rng), rng

    def half_unheard():
        true, _, log, rng = typed()
        first = true.select(true.t_ms < float(np.median(true.t_ms)))
        return run(log, heard(first, rng, seconds=float(true.t_ms[-1]) / 1000 + 2), window_s=10.0)

    def idle_log():
        _, audio, log, _ = typed()
        lo, hi = np.percentile(log.t_ms, [35, 65])
        return run(log.select((log.t_ms < lo) | (log.t_ms > hi)), audio)

    def plain(**kw):  # the log and its own clicks
        _, audio, log, _ = typed()
        return run(log, audio, **kw)

    def not_heard():  # the clicks of other typing
        _, _, log, _ = typed()
        return run(log, heard(key_log(250, seed=9), np.random.default_rng(3)), aligned=False)

    return {
        "aligned": plain,
        "not_aligned": lambda: plain(aligned=False, shift_ms=5000.0),
        "half_unheard": half_unheard,
        "idle_log": idle_log,
        "said_aligned_but_is_not": lambda: plain(shift_ms=-40_000.0),  # metrics.clock_note
        "not_heard": not_heard,
    }


def _av_sync() -> dict[str, Scenario]:
    from test_av_sync import face_from_mouth, run, talking, voice_from_mouth

    def pair(seconds: float, offset_ms, *, foreign: bool = False, seed: int = 3):
        rng = np.random.default_rng(seed)
        m = talking(seconds, rng)
        voice = talking(seconds, np.random.default_rng(99)) if foreign else m
        return face_from_mouth(m, rng=rng), voice_from_mouth(voice, offset_ms=offset_ms, rng=rng)

    return {
        "in_sync": lambda: run(*pair(30.0, 30.0)),
        "late": lambda: run(*pair(30.0, 300.0)),
        "foreign_voice": lambda: run(*pair(30.0, 0.0, foreign=True)),
        "drift": lambda: run(*pair(150.0, lambda t: 2.0 * t, seed=21), reference_lag_ms=0.0),
    }


def _environment() -> dict[str, Scenario]:
    from interview_guard.tracks import Tracks
    from test_environment import _hum, _keys_in, _log, _meta, _run, _video, example_tracks

    seoul = _meta(
        claimed_location="Chicago, IL",
        claimed_timezone="America/Chicago",
        client={"timezone": "Asia/Seoul", "languages": ["ko-KR"]},
    )
    hangul = _keys_in([("KeyG", "ㅎ"), ("KeyK", "ㅏ"), ("KeyS", "ㄴ"), ("Lang1", "HangulMode"), ("KeyQ", "ㅂ")])
    azerty = _keys_in([("KeyQ", "a"), ("KeyW", "z"), ("Semicolon", "m"), ("KeyQ", "a"), ("IntlBackslash", "<")])
    tags = {
        "format:com.apple.quicktime.creationdate": "2026-11-28T21:03:11+0900",
        "video:handler_name": "OBS Virtual Camera",
        "format:encoder": "HandBrake 1.7",
    }
    return {
        "consistent": lambda: create("environment").analyze(example_tracks()),
        "everything_else": lambda: _run(
            keystrokes=hangul, audio=_hum(50, seconds=30.0), video=_video(**tags), metadata=seoul, duration_s=60.0
        ),
        "azerty_for_us": lambda: _run(keystrokes=azerty, metadata=_meta(claimed_country="US"), duration_s=60.0),
        "unknown_zone": lambda: create("environment").analyze(
            Tracks(duration_s=20.0, keystrokes=_log(), metadata=_meta(claimed_timezone="Mars/Olympus_Mons"))
        ),
    }


def _face_identity() -> dict[str, Scenario]:
    from interview_guard.signals import face_identity as fi
    from interview_guard.tracks.identity import IdentityTrack
    from synth_tracks import make_identity
    from test_face_identity import _hand_pass_identity, _tracks, _with_other_face

    def with_enrolment(status: str, enrolment=None):
        idt = make_identity(seconds=30, seed=2)
        arrays = {k: getattr(idt, k) for k in idt.ARRAYS}
        return IdentityTrack(**arrays, enrolment=enrolment, enrolment_status=status, enrolment_note="photo.jpg")

    def other_person_and_mismatch():
        cand = make_identity(seconds=30, seed=2, switch_at=14.0)
        tile = make_identity(seconds=30, seed=5).select(np.arange(0, 60, 2))
        other = make_identity(seconds=1, seed=9).descriptor[0]
        both = _with_other_face(cand, tile)
        arrays = {k: getattr(both, k) for k in both.ARRAYS}
        return _tracks(IdentityTrack(**arrays, enrolment=other, enrolment_status="ok"))

    def matched():
        idt = make_identity(seconds=30, seed=2)
        return _tracks(with_enrolment("ok", fi.robust_centroid(descriptors=idt.descriptor) + 0.01))

    return {
        "switch_and_mismatch": lambda: create("face_identity").analyze(other_person_and_mismatch()),
        "flash": lambda: create("face_identity").analyze(_tracks(make_identity(seconds=30, seed=2, flash_at=10.0))),
        "flash_at_every_frame": lambda: create("face_identity").analyze(_tracks(_hand_pass_identity(abrupt=True))),
        "enrolment_match": lambda: create("face_identity").analyze(matched()),
        "enrolment_unusable": lambda: create("face_identity").analyze(_tracks(with_enrolment("no_face"))),
    }


def _face_artifacts() -> dict[str, Scenario]:
    from interview_guard.tracks.blending import BlendTrack
    from test_face_artifacts import blend_track, run

    def bursts():
        tr = blend_track(n=200, seed=3)
        seam = tr.seam_change.copy()
        seam[::5] *= 8.0
        return run(
            BlendTrack(**{**{c: getattr(tr, c) for c in BlendTrack.COLUMNS}, "seam_change": seam, "t_s": tr.t_s})
        )

    return {"soft": lambda: run(blend_track(soft=0.3, tone=15.0)), "bursts": bursts}


def _face_occlusion() -> dict[str, Scenario]:
    from interview_guard.tracks.metadata import ChallengeMarker, SessionMetadata
    from test_analyzer_contract import minimal_tracks

    def requests():
        tracks = minimal_tracks(seed=0)
        marks = (ChallengeMarker("hand_wave", 3.5), ChallengeMarker("hand_wave", 6.0), ChallengeMarker("hand_wave", 30))
        tracks.metadata = SessionMetadata(challenges=marks)
        return create("face_occlusion", challenge_window_s=1.0).analyze(tracks)

    def without_pixels():
        tracks = minimal_tracks(seed=0)
        tracks.pixels = None
        tracks.metadata = SessionMetadata(challenges=(ChallengeMarker("hand_wave", 6.5),))
        return create("face_occlusion", challenge_window_s=1.0).analyze(tracks)

    def untracked_wave():  # the face crops change for a moment after a request, no hand tracked
        tracks = minimal_tracks(seed=0)
        crop = tracks.pixels.face_crop.copy()
        rows = np.flatnonzero((tracks.face.t_s >= 6.2) & (tracks.face.t_s <= 6.45))
        crop[rows] = np.random.default_rng(0).integers(0, 255, crop[rows].shape).astype(crop.dtype)
        tracks.pixels = dataclasses.replace(tracks.pixels, face_crop=crop)
        tracks.metadata = SessionMetadata(challenges=(ChallengeMarker("hand_wave", 6.0),))
        return create("face_occlusion", challenge_window_s=1.0).analyze(tracks)

    return {"requests": requests, "no_pixels": without_pixels, "untracked_wave": untracked_wave}


def _scenarios() -> dict[str, dict[str, Scenario]]:
    from test_analyzer_contract import minimal_tracks, sparse_face_tracks

    out: dict[str, dict[str, Scenario]] = {name: {} for name in registry()}
    for name in out:
        out[name]["contract"] = _contract(name, minimal_tracks)
        out[name]["contract_swap_failure"] = _contract(name, lambda: minimal_tracks(seed=1))
        out[name]["contract_sparse_face"] = _contract(name, sparse_face_tracks)
    for name, more in (
        ("keystroke_relay", _keystroke_relay),
        ("acoustic_keystroke", _acoustic_keystroke),
        ("av_sync", _av_sync),
        ("environment", _environment),
        ("face_identity", _face_identity),
        ("face_artifacts", _face_artifacts),
        ("face_occlusion", _face_occlusion),
    ):
        out[name].update(more())
    return out


SCENARIOS = _scenarios()
CASES = [(name, label) for name, scen in SCENARIOS.items() for label in scen]
_RESULTS: dict[tuple[str, str], dict] = {}


def _result(name: str, label: str) -> dict:
    if (name, label) not in _RESULTS:
        _RESULTS[name, label] = json.loads(json.dumps(SCENARIOS[name][label]().to_dict()))
    return _RESULTS[name, label]


# -- the tests ---------------------------------------------------------------------------------------------


def test_every_registered_analyzer_has_a_fields_section():
    assert sorted(DOCS) == sorted(registry()), "name each analyzer's doc in tests/report_fields.py DOCS"
    for name in registry():
        places = documented(name)
        assert "metrics" in places, f"docs/{DOCS[name]}: no `metrics` table under 'Fields in the report' for {name}"


@pytest.mark.parametrize(("name", "label"), CASES, ids=[f"{n}-{lab}" for n, lab in CASES])
def test_every_emitted_field_is_documented(name, label):
    missing = undocumented(name, _result(name, label))
    assert not missing, (
        f"{name} emits fields that docs/{DOCS[name]} does not list under 'Fields in the report' "
        f"(add a row: field, unit, meaning): {missing}"
    )


#: Evidence kinds the scenarios above do not produce (none now): the list keeps the test from reaching less
#: without anyone noticing.
NOT_REACHED: set[tuple[str, str]] = set()


def test_the_scenarios_reach_every_documented_evidence_kind():
    reached = {(name, ev["kind"]) for (name, label) in CASES for ev in _result(name, label).get("evidence") or []}
    documented_kinds = {
        (name, place.removeprefix("details:"))
        for name in registry()
        for place in documented(name)
        if place != "metrics"
    }
    assert documented_kinds - reached == NOT_REACHED, "update NOT_REACHED, or add a scenario that reaches the kind"
    assert reached <= documented_kinds, (
        f"evidence kinds without a `details` table: {sorted(reached - documented_kinds)}"
    )


def test_a_field_left_out_of_the_doc_is_found():
    name = "keystroke_relay"
    text = (DOCS_DIR / DOCS[name]).read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `relay_incidents.by_rule.after_pause` |"))
    fewer = parse_fields(text.replace(row + "\n", ""), name)
    assert undocumented(name, _result(name, "local"), fewer) == ["metrics: relay_incidents.by_rule.after_pause"]
    # an unknown evidence kind, a nested key and a key of the objects of a list
    fake = {
        "metrics": {"send_tick": {"period_ms": 1.0, "phase": 2}},
        "evidence": [
            {"kind": "new_kind", "details": {"a": 1}},
            {"kind": "catch_up_bursts", "details": {"examples": [{"t_s": 1.0, "size": 3}]}},
        ],
    }
    assert undocumented(name, fake) == [
        "details:catch_up_bursts: examples[].size",
        "details:new_kind: a",
        "metrics: send_tick.phase",
    ]


def test_a_wildcard_stands_for_any_one_key():
    fields = {"metrics": {"measures", "measures.<measure>", "measures.<measure>.median"}}
    ok = {"metrics": {"measures": {"softness": {"median": 1.0}, "tone": {"median": 2.0}}}}
    assert undocumented("face_artifacts", ok, fields) == []
    bad = {"metrics": {"measures": {"softness": {"mad": 1.0}}}}
    assert undocumented("face_artifacts", bad, fields) == ["metrics: measures.softness.mad"]
