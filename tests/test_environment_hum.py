"""Mains-hum (ENF) detection (signals/environment_hum) on arrays and on real speech with hum added."""

import sys

import numpy as np
import pytest

from conftest import REPO, SHARED_DATA, needs_shared
from interview_guard.signals.environment_hum import mains_hum

sys.path.insert(0, str(REPO / "evaluation"))
from environment_measure import add_hum, real_speech  # noqa: E402

SR = 16000


def test_pure_hum_in_noise_is_found_with_its_grid():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.1, 30 * SR).astype(np.float32)
    for f0 in (50, 60):
        r = mains_hum(y=add_hum(noise, SR, f0, -20.0, seed=1), sr=SR)
        assert r["detected_hz"] == f0
        assert r[str(f0)]["harmonic_hz"] % f0 == 0
        assert r[str(f0)]["freq_std_hz"] < 0.1
        assert 0.3 < r["confidence"] <= 1.0


def test_noise_alone_and_degenerate_input_find_nothing():
    rng = np.random.default_rng(1)
    assert mains_hum(y=rng.normal(0, 0.1, 30 * SR), sr=SR)["detected_hz"] is None
    assert mains_hum(y=np.zeros(30 * SR), sr=SR)["detected_hz"] is None  # digital silence
    assert mains_hum(y=np.zeros(100), sr=SR) == {"detected_hz": None, "confidence": 0.0, "frames": 0, "seconds": 0.0}
    assert mains_hum(y=np.ones(10 * SR), sr=600)["frames"] == 0  # too low a rate for the harmonics


def test_both_grids_at_once_is_no_answer():
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.1, 20 * SR).astype(np.float32)
    both = add_hum(add_hum(noise, SR, 50, -20.0, seed=1), SR, 60, -20.0, seed=2)
    assert mains_hum(y=both, sr=SR)["detected_hz"] is None


def test_a_steady_tone_off_the_grid_is_not_hum():
    t = np.arange(20 * SR) / SR
    y = (0.1 * np.sin(2 * np.pi * 55.0 * t) + np.random.default_rng(3).normal(0, 0.05, t.size)).astype(np.float32)
    assert mains_hum(y=y, sr=SR)["detected_hz"] is None


@needs_shared(SHARED_DATA / "speech")
def test_real_speech_with_hum_at_minus_30_db():
    speech = real_speech(SHARED_DATA)
    assert len(speech) >= 6
    found, wrong = 0, 0
    for i, (name, a) in enumerate(speech):
        r = mains_hum(y=add_hum(a.samples, a.sr, 50, -30.0, seed=i), sr=a.sr)
        found += r["detected_hz"] == 50
        wrong += r["detected_hz"] == 60 and not name.startswith("sadtalker_RD_Radio")
    # measured 14 of 19 (docs/environment.md); the 60 Hz answers are the radio clips' own line
    assert found >= 0.6 * len(speech)
    assert wrong == 0


@needs_shared(SHARED_DATA / "speech")
@pytest.mark.parametrize("claim", ["US", "DE", "KR"])
def test_real_speech_alone_is_no_contradiction_for_its_grid(claim):
    from environment_measure import run_env

    for name, a in real_speech(SHARED_DATA):
        r = run_env(audio=a, meta={"claimed_country": claim})
        hum = r.metrics["mains_hum"]["detected_hz"]
        if claim == "DE" and hum == 60:
            # the three US radio-address clips carry a steady line at ~59.3 Hz (and 120 Hz): for a
            # 50 Hz claim that is the contradiction the check is for
            assert name.startswith("sadtalker_RD_Radio"), name
            continue
        assert not [e for e in r.evidence if e.kind == "mains_hum_mismatch"], (name, claim)


def test_frames_are_capped_and_spread_over_the_session():
    rng = np.random.default_rng(4)
    y = add_hum(rng.normal(0, 0.1, 120 * SR).astype(np.float32), SR, 60, -20.0, seed=1)
    capped = mains_hum(y=y, sr=SR, max_frames=40)
    assert capped["frames"] == 40 and capped["detected_hz"] == 60
    assert mains_hum(y=y, sr=SR)["frames"] == 119
