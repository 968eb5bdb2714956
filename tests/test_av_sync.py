"""``av_sync``: lip-sync offset, lips that do not follow, drift; the signal maths under it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared
from interview_guard.analyzers.av_sync import AVSync, mouth_signal
from interview_guard.analyzers.base import AnalyzerResult, Status
from interview_guard.errors import ParameterError
from interview_guard.signals import speech as af
from interview_guard.signals.band_power import band_power
from interview_guard.tracks import Tracks
from interview_guard.tracks.audio import AudioTrack

SR = 16000
FPS = 25.0
NAMES = tuple(f"bs{i}" for i in range(25)) + ("jawOpen",) + tuple(f"bs{i}" for i in range(26, 52))


@dataclass
class FakeFace:
    """The part of interview_guard.tracks.video.FaceTrack that av_sync reads."""

    t_s: np.ndarray
    present: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray
    blendshape_names: tuple = NAMES
    frame_size: tuple = (640, 480)
    meta: dict = field(default_factory=dict)


def talking(seconds: float, rng, *, rate_hz: float = 100.0) -> np.ndarray:
    """A mouth-opening curve at ``rate_hz``: talk spurts of syllable bumps (~4/s) and pauses, in [0, 1]."""
    n = int(seconds * rate_hz)
    m = np.zeros(n)
    t = 0.3
    while t < seconds - 0.5:
        spurt = rng.uniform(2.0, 6.0)
        end = min(t + spurt, seconds - 0.3)
        while t < end:
            dur = rng.uniform(0.12, 0.28)
            i0, i1 = int(t * rate_hz), int((t + dur) * rate_hz)
            if i1 <= i0 + 1 or i1 >= n:
                break
            m[i0:i1] = np.maximum(m[i0:i1], rng.uniform(0.4, 1.0) * np.sin(np.linspace(0, np.pi, i1 - i0)) ** 2)
            t += dur + rng.uniform(0.03, 0.15)
        t = end + rng.uniform(0.5, 1.5)
    return m


def face_from_mouth(m: np.ndarray, *, rate_hz: float = 100.0, fps: float = FPS, rng=None, present=None) -> FakeFace:
    """A face track at ``fps`` whose inner lips (13-14) and jawOpen follow ``m``."""
    seconds = m.size / rate_hz
    t = np.arange(0.0, seconds - 1.0 / fps, 1.0 / fps)
    mv = np.interp(t, np.arange(m.size) / rate_hz, m)
    n = t.size
    lm = np.zeros((n, 478, 3), np.float32)
    lm[:, :, 0] = 0.5
    lm[:, :, 1] = 0.5
    lm[:, 10, 1], lm[:, 152, 1] = 0.2, 0.8
    lm[:, 33, 0], lm[:, 263, 0] = 0.4, 0.6
    gap = 0.004 + 0.06 * mv
    if rng is not None:
        gap = gap + rng.normal(0.0, 0.002, n)
    lm[:, 13, 1] = 0.62 - gap / 2
    lm[:, 14, 1] = 0.62 + gap / 2
    bs = np.zeros((n, 52), np.float32)
    bs[:, NAMES.index("jawOpen")] = 0.8 * mv
    pres = np.ones(n, bool) if present is None else present(t)
    lm[~pres] = np.nan
    bs[~pres] = np.nan
    return FakeFace(t_s=t, present=pres, landmarks=lm, blendshapes=bs)


def voice_from_mouth(
    m: np.ndarray, *, offset_ms, rng, rate_hz: float = 100.0, seconds: float | None = None
) -> AudioTrack:
    """Noise whose amplitude follows ``m`` delayed by ``offset_ms`` (a number, or a function of time in s)."""
    seconds = seconds or m.size / rate_hz
    n = int(seconds * SR)
    ts = np.arange(n) / SR
    d = offset_ms(ts) if callable(offset_ms) else np.full(n, float(offset_ms))
    env = np.interp(ts - d / 1000.0, np.arange(m.size) / rate_hz, m, left=0.0, right=0.0)
    y = rng.standard_normal(n) * (0.003 + 0.25 * env) + rng.standard_normal(n) * 0.001
    return AudioTrack(y.astype(np.float32), SR, 0.0, "synthetic")


def run(face, audio, duration=None, **params) -> AnalyzerResult:
    dur = duration if duration is not None else float(max(face.t_s[-1], audio.end_s))
    return AVSync(**params).analyze(Tracks(duration_s=dur, face=face, audio=audio))


@pytest.fixture(scope="module")
def mouth60():
    return talking(60.0, np.random.default_rng(3))


# ------------------------------------------------------------------ the maths
def test_band_power_blocks_do_not_change_the_result(rng):
    y = rng.standard_normal(SR * 2).astype(np.float32)
    a = band_power(y=y, sr=SR, frame_length=480, hop_length=160, low_hz=300, high_hz=3400, block_frames=37)
    b = band_power(y=y, sr=SR, frame_length=480, hop_length=160, low_hz=300, high_hz=3400, block_frames=100000)
    assert a.shape == b.shape == (1 + (y.size - 480) // 160,)
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_band_power_short_input_is_empty_not_an_error():
    assert band_power(y=np.zeros(10), sr=SR, frame_length=480, hop_length=160).size == 0
    env, _ = af.speech_envelope(y=np.zeros(10), sr=SR)
    assert env.size == 0 and af.speech_activity(env_db=env, hop_s=0.01).size == 0


def test_speech_activity_finds_the_loud_part(rng):
    y = rng.standard_normal(SR * 6) * 0.001
    y[2 * SR : 4 * SR] *= 300
    env, t0 = af.speech_envelope(y=y, sr=SR)
    act = af.speech_activity(env_db=env, hop_s=0.01)
    t = t0 + np.arange(env.size) * 0.01
    assert act[(t > 2.1) & (t < 3.9)].all() and not act[(t < 1.9) | (t > 4.1)].any()


def test_lagged_correlation_peaks_at_the_known_lag(rng):
    x = np.convolve(rng.standard_normal(3000), np.ones(9) / 9, "same")
    lag = 17
    a = np.r_[np.zeros(lag), x[:-lag]]  # a[t + lag] = x[t]: audio late by 17 steps
    c, k = af.lagged_correlation(video=x, audio=a, starts=np.array([100, 1000]), length=500, max_lag=40)
    assert c.shape == (2, 81) and (np.nanargmax(c, axis=1) == 40 + lag).all()
    pos, h = af.parabolic_peak(y=c[0])
    assert abs(pos - 57) < 0.5 and h > 0.99


def test_parabolic_peak_sub_sample():
    x = np.arange(20.0)
    y = -((x - 7.3) ** 2)
    pos, _ = af.parabolic_peak(y=y)
    assert pos == pytest.approx(7.3, abs=1e-9)


def test_to_grid_leaves_long_gaps_empty():
    t = np.array([0.0, 0.1, 0.2, 1.0, 1.1])
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    g = np.array([0.05, 0.15, 0.5, 1.05, 2.0])
    out = af.to_grid(t=t, x=x, grid=g, max_gap_s=0.25)
    assert out[0] == pytest.approx(0.5) and out[1] == pytest.approx(1.5) and out[3] == pytest.approx(3.5)
    assert np.isnan(out[2]) and np.isnan(out[4])


def test_mouth_opening_and_signal():
    face = face_from_mouth(np.r_[np.zeros(50), np.ones(50)])
    op = af.mouth_opening(landmarks=face.landmarks)
    assert op[0] == pytest.approx(0.004 / 0.6, rel=1e-3) and op[-1] == pytest.approx(0.064 / 0.6, rel=1e-3)
    t, z, kind = mouth_signal(face)
    assert kind == "lips+jaw" and z.shape == t.shape and z[-1] > z[0]
    with pytest.raises(ParameterError):
        af.mouth_opening(landmarks=np.zeros((3, 10, 3)))


# ------------------------------------------------------------------ the analyzer
@pytest.mark.parametrize("offset_ms", [-230.0, -60.0, 0.0, 45.0, 170.0])
def test_known_offset_is_recovered_within_10_ms(mouth60, offset_ms):
    rng = np.random.default_rng(int(offset_ms) + 1000)
    face = face_from_mouth(mouth60, rng=rng)
    audio = voice_from_mouth(mouth60, offset_ms=offset_ms, rng=rng)
    r = run(face, audio, reference_lag_ms=0.0)
    assert r.status is Status.OK, r.reason
    assert abs(r.metrics["offset_ms"] - offset_ms) <= 10.0, r.metrics
    assert r.metrics["sync_z"] > 4
    inside = -45.0 <= offset_ms <= 125.0
    assert (r.score < 0.5) == inside, (offset_ms, r.score, r.metrics["feature_scores"])
    ev = {e.kind: e for e in r.evidence}
    assert (ev["av_offset"].score >= 0.5) == (not inside)
    assert "ms" in ev["av_offset"].summary and ev["av_offset"].details["offset_ms"] == r.metrics["offset_ms"]


def test_reference_lag_is_subtracted(mouth60):
    rng = np.random.default_rng(5)
    face = face_from_mouth(mouth60, rng=rng)
    audio = voice_from_mouth(mouth60, offset_ms=60.0, rng=rng)
    r = run(face, audio, reference_lag_ms=40.0)
    assert abs(r.metrics["offset_ms"] - 20.0) <= 10.0


def test_foreign_voice_is_flagged_as_not_following(mouth60):
    rng = np.random.default_rng(11)
    face = face_from_mouth(mouth60, rng=rng)
    other = talking(60.0, np.random.default_rng(99))
    r = run(face, voice_from_mouth(other, offset_ms=0.0, rng=rng))
    assert r.status is Status.OK
    ev = {e.kind: e for e in r.evidence}
    assert r.score >= 0.5 and ev["lips_do_not_follow"].score >= 0.5, r.metrics
    assert abs(r.metrics["sync_z"]) < 3
    genuine = run(face, voice_from_mouth(mouth60, offset_ms=30.0, rng=rng))
    assert genuine.score < 0.2 and genuine.metrics["sync_z"] > 5


def test_drifting_offset_is_reported():
    rng = np.random.default_rng(21)
    m = talking(150.0, rng)
    face = face_from_mouth(m, rng=rng)
    audio = voice_from_mouth(m, offset_ms=lambda t: 0.0 + 2.0 * t, rng=rng)  # 0 -> 300 ms late
    r = run(face, audio, reference_lag_ms=0.0)
    ev = {e.kind: e for e in r.evidence}
    assert "offset_drift" in ev, r.metrics
    assert ev["offset_drift"].details["change_ms"] > 150 and ev["offset_drift"].score > 0.5
    steady = run(face, voice_from_mouth(m, offset_ms=40.0, rng=rng), reference_lag_ms=0.0)
    ev = {e.kind: e for e in steady.evidence}
    assert "offset_drift" not in ev or ev["offset_drift"].score < 0.2


def test_result_is_valid_serialisable_and_deterministic(mouth60):
    rng = np.random.default_rng(2)
    face = face_from_mouth(mouth60, rng=rng)
    audio = voice_from_mouth(mouth60, offset_ms=-120.0, rng=rng)
    tracks = Tracks(duration_s=61.0, face=face, audio=audio)
    a = AVSync().analyze(tracks)
    b = AVSync().analyze(tracks)
    assert a.to_dict() == b.to_dict()
    again = AnalyzerResult.from_dict("av_sync", json.loads(json.dumps(a.to_dict())))
    assert again.to_dict() == a.to_dict()
    assert 0 < a.confidence <= 1 and a.windows
    for ev in a.evidence:
        assert ev.analyzer == "av_sync" and ev.summary and 0 <= ev.start_s <= ev.end_s <= tracks.duration_s
    for w in a.windows:
        assert 0 <= w.start_s <= w.end_s <= tracks.duration_s + 1e-6


def test_face_track_with_gaps_and_late_start(mouth60):
    rng = np.random.default_rng(8)
    face = face_from_mouth(mouth60, rng=rng, present=lambda t: ~((t > 20) & (t < 28)))
    audio = voice_from_mouth(mouth60, offset_ms=90.0, rng=rng)
    audio = AudioTrack(audio.samples[SR * 2 :], SR, 2.0, "late start")  # audio begins 2 s into the session
    r = run(face, audio, reference_lag_ms=0.0)
    assert r.status is Status.OK and abs(r.metrics["offset_ms"] - 90.0) <= 10.0


def test_skips_without_usable_input(mouth60):
    rng = np.random.default_rng(4)
    face = face_from_mouth(mouth60)
    voice = voice_from_mouth(mouth60, offset_ms=0.0, rng=rng)
    # nothing at all
    assert AVSync().analyze(Tracks()).status is Status.SKIPPED
    # no audio / no face stream
    assert AVSync().analyze(Tracks(duration_s=60, face=face)).status is Status.SKIPPED
    assert AVSync().analyze(Tracks(duration_s=60, audio=voice)).status is Status.SKIPPED
    # silent audio
    r = run(face, AudioTrack(np.zeros(SR * 60, np.float32), SR))
    assert r.status is Status.SKIPPED and "silent" in r.reason
    # steady noise, no speech
    r = run(face, AudioTrack((rng.standard_normal(SR * 60) * 0.05).astype(np.float32), SR))
    assert r.status is Status.SKIPPED and "speech" in r.reason
    # a face track with no face
    r = run(face_from_mouth(mouth60, present=lambda t: np.zeros(t.size, bool)), voice)
    assert r.status is Status.SKIPPED and "face" in r.reason
    # a face only while nobody speaks
    quiet = talking(60.0, np.random.default_rng(3))
    quiet[:] = 0
    r = run(face_from_mouth(mouth60, present=lambda t: t > 58.5), voice)
    assert r.status is Status.SKIPPED
    # a very short clip
    r = run(face_from_mouth(mouth60[:150]), voice_from_mouth(mouth60[:150], offset_ms=0.0, rng=rng))
    assert r.status is Status.SKIPPED


def test_parameters_are_checked_at_use(mouth60):
    with pytest.raises(ParameterError, match="window_s"):
        AVSync(window_s=0.5).analyze(Tracks(duration_s=1.0))


def test_real_face_track_class_works_too(mouth60):
    vt = pytest.importorskip("interview_guard.tracks.video")
    fake = face_from_mouth(mouth60, rng=np.random.default_rng(1))
    n = fake.t_s.size
    try:
        face = vt.FaceTrack(
            t_s=fake.t_s,
            frame_index=np.arange(n),
            present=fake.present,
            landmarks=fake.landmarks,
            blendshapes=fake.blendshapes,
            box=np.zeros((n, 4), np.float32),
            n_faces=np.ones(n, np.int8),
            source=np.ones(n, np.int8),
            frame_size=(640, 480),
        )
    except TypeError as exc:  # the FaceTrack constructor changed: the duck-typed path is what matters
        pytest.skip(f"FaceTrack signature changed: {exc}")
    names = tuple(face.blendshape_names)
    if "jawOpen" in names:
        face.blendshapes[:, names.index("jawOpen")] = fake.blendshapes[:, NAMES.index("jawOpen")]
    r = run(face, voice_from_mouth(mouth60, offset_ms=-100.0, rng=np.random.default_rng(1)), reference_lag_ms=0.0)
    assert r.status is Status.OK and abs(r.metrics["offset_ms"] + 100.0) <= 10.0


# ------------------------------------------------------------------ a real clip
CLIP = SHARED_DATA / "faces_video" / "retalking_face5.mp4"


@pytest.fixture(scope="module")
def real_clip():
    from interview_guard.extract.video_scan import scan_video
    from interview_guard.io.audio_decode import decode_audio

    face = scan_video(CLIP, mode="full", max_side=960).face
    return face, decode_audio(CLIP)


@pytest.mark.shared
@pytest.mark.video
@needs_shared(CLIP)
def test_real_clip_in_sync_and_shifted(real_clip):
    face, audio = real_clip
    dur = float(max(face.t_s[-1], audio.end_s))
    base = run(face, audio, dur)
    assert base.status is Status.OK, base.reason
    assert abs(base.metrics["offset_ms"]) <= 150.0 and base.metrics["peak_corr"] > 0.2
    y = np.zeros_like(audio.samples)
    k = int(0.3 * audio.sr)
    y[: y.size - k] = audio.samples[k:]  # audio 300 ms early
    early = run(face, AudioTrack(y, audio.sr, audio.start_s, "shifted"), dur)
    assert early.status is Status.OK
    assert abs(early.metrics["offset_ms"] - (base.metrics["offset_ms"] - 300.0)) <= 30.0
    assert early.score > base.score and early.score >= 0.5
    assert math.isfinite(early.confidence) and early.confidence < 0.5  # a 5 s clip is little data


def test_windows_that_do_not_follow_the_lips_are_named_in_the_sentence(mouth60):
    """A foreign voice: the sentence says when the speech does not follow the lips (the first windows), as its
    details list them."""
    rng = np.random.default_rng(11)
    face = face_from_mouth(mouth60, rng=rng)
    r = run(face, voice_from_mouth(talking(60.0, np.random.default_rng(99)), offset_ms=0.0, rng=rng))
    ev = next(e for e in r.evidence if e.kind == "lips_do_not_follow")
    times = ev.details["examples_not_following_s"]
    assert times and f"do not follow the lips (the first at {times[0]:.1f}, " in ev.summary
