"""``acoustic_keystroke``: key clicks in the audio against the keystroke log; the click maths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import AALTO, SHARED_DATA, needs_shared, typing_events
from interview_guard.analyzers.acoustic_keystroke import AcousticKeystroke
from interview_guard.analyzers.base import AnalyzerResult, Status
from interview_guard.io.keystroke_log import parse_keystroke_lines
from interview_guard.signals import clicks as af
from interview_guard.tracks import Tracks
from interview_guard.tracks.audio import AudioTrack
from interview_guard.tracks.keystrokes import DOWN, UP, KeystrokeLog

SR = 16000


def click(rng, level: float) -> np.ndarray:
    """A damped band-limited noise burst of 8-20 ms (a key click)."""
    n = int(SR * rng.uniform(0.008, 0.02))
    tau = rng.uniform(0.001, 0.004)
    x = rng.standard_normal(n)
    x = np.diff(np.r_[0.0, x])  # tilt towards high frequencies
    w = x * np.exp(-np.arange(n) / SR / tau)
    return (level * w / (np.sqrt(np.mean(w[: int(0.003 * SR)] ** 2)) + 1e-12)).astype(np.float32)


def render(seconds: float, click_s, rng, *, level=0.05, noise=3e-4, up_s=(), bed=None) -> AudioTrack:
    """Noise (or ``bed``) with a click at each time in ``click_s`` (key-ups 8 dB quieter)."""
    y = (rng.standard_normal(int(seconds * SR)) * noise).astype(np.float32)
    if bed is not None:
        m = min(y.size, bed.size)
        y[:m] += bed[:m]
    for times, lv in ((click_s, level), (up_s, level * 0.4)):
        for t in times:
            w = click(rng, lv * 10 ** (rng.normal(0, 3) / 20))
            i = int(round(t * SR))
            if 0 <= i < y.size:
                y[i : i + min(w.size, y.size - i)] += w[: y.size - i]
    return AudioTrack(y, SR, 0.0, "synthetic")


def key_log(n_keys=250, seed=0, start_ms=2000.0) -> KeystrokeLog:
    log = parse_keystroke_lines([json.dumps(e) for e in typing_events(n_keys, seed=seed, start_ms=start_ms)])
    return log


def logged(log: KeystrokeLog, rng, *, extra_ms=None) -> KeystrokeLog:
    """What a local keyboard logs for keys pressed at ``log.t_ms``: +8 ms, USB polling, 1 ms clock."""
    lat = 8.0 + rng.uniform(0.0, 8.0, len(log)) if extra_ms is None else extra_ms
    t = np.floor(log.t_ms + lat)
    order = np.argsort(t, kind="stable")
    out = log.select(order)
    return KeystrokeLog(
        t_ms=t[order],
        kind=out.kind,
        key=out.key,
        code=out.code,
        recv_ms=out.recv_ms,
        repeat=out.repeat,
        length=out.length,
    )


def heard(log: KeystrokeLog, rng, seconds=None, **kw) -> AudioTrack:
    downs = log.t_ms[log.kind == DOWN] / 1000.0
    ups = log.t_ms[log.kind == UP] / 1000.0
    seconds = seconds or float(log.t_ms[-1]) / 1000.0 + 2.0
    return render(seconds, downs, rng, up_s=ups, **kw)


def run(log, audio, *, aligned=True, shift_ms=0.0, duration=None, **params) -> AnalyzerResult:
    lg = log.shifted(shift_ms)
    last = float(lg.t_ms[-1]) / 1000.0 if len(lg) else 0.0
    dur = duration if duration is not None else max(audio.end_s, last)
    return AcousticKeystroke(**params).analyze(
        Tracks(duration_s=dur, keystrokes=lg, keystrokes_aligned=aligned, audio=audio)
    )


@pytest.fixture(scope="module")
def typed():
    """250 key presses, their clicks, and what a local keyboard logged."""
    rng = np.random.default_rng(7)
    true = key_log(250, seed=1)
    return true, heard(true, rng), logged(true, rng)


# ------------------------------------------------------------------ the maths
def test_click_onsets_in_noise_within_2_ms(rng):
    times = np.sort(rng.uniform(0.5, 9.5, 40))
    times = times[np.r_[True, np.diff(times) > 0.06]]
    audio = render(10.0, times, rng)
    on = af.click_onsets(y=audio.samples, sr=SR)
    idx, res = af.match_events(a_ms=times * 1000, b_ms=on["t_s"] * 1000, offset_ms=0.0, tol_ms=5.0)
    assert (idx >= 0).mean() >= 0.95 and np.nanmax(np.abs(res)) <= 2.0
    assert on["t_s"].size <= times.size + 2
    assert (on["rise_db"] >= 10).all() and (on["decay_ms"] <= 25).all()


def test_click_onsets_ignore_steady_sound_and_silence(rng):
    assert af.click_onsets(y=np.zeros(SR * 2, np.float32), sr=SR)["t_s"].size == 0
    tone = 0.3 * np.sin(2 * np.pi * 3000 * np.arange(SR * 2) / SR)
    assert af.click_onsets(y=tone.astype(np.float32), sr=SR)["t_s"].size == 0
    assert af.click_onsets(y=np.zeros(5), sr=SR)["t_s"].size == 0


def test_event_xcorr_counts_pairs_at_each_lag():
    a = np.array([0.0, 100.0, 250.0])
    b = a + 40.0
    lags, cnt = af.event_xcorr(a_ms=a, b_ms=b, lo_ms=-100, hi_ms=100, bin_ms=2.0)
    assert cnt[lags == 40.0][0] == 3 and cnt[lags == -60.0][0] == 1 and cnt.sum() == 4  # 40 - 100 = -60
    lags, cnt = af.event_xcorr(a_ms=a, b_ms=np.zeros(0), lo_ms=-10, hi_ms=10)
    assert cnt.sum() == 0


def test_find_event_offset_and_refine(rng):
    a = np.cumsum(rng.gamma(4.0, 50.0, 400)) + 1000
    b = np.sort(np.r_[a + 1234.5 + rng.normal(0, 2, a.size), rng.uniform(0, a[-1] + 2000, 300)])
    f = af.find_event_offset(a_ms=a, b_ms=b, lo_ms=-5000, hi_ms=5000)
    assert abs(f["offset_ms"] - 1234.5) <= 4 and f["ratio"] > 5
    off, n = af.refine_offset(a_ms=a, b_ms=b, guess_ms=f["offset_ms"])
    assert abs(off - 1234.5) <= 1.0 and n >= 380
    noise = af.find_event_offset(a_ms=a, b_ms=np.sort(rng.uniform(0, a[-1], 700)), lo_ms=-5000, hi_ms=5000)
    assert noise["ratio"] < 2.0


def test_core_spread_separates_core_from_background(rng):
    r = np.r_[rng.normal(3.0, 4.0, 600), rng.uniform(-60, 60, 200)]
    c = af.core_spread(residuals=r, half_width=60.0)
    assert c["sd"] == pytest.approx(4.0, rel=0.15) and c["mean"] == pytest.approx(3.0, abs=0.6)
    assert c["weight"] == pytest.approx(0.75, abs=0.06)
    assert af.core_spread(residuals=np.zeros(0), half_width=10)["n"] == 0


def test_match_events_with_per_event_offset():
    a = np.array([0.0, 100.0, 200.0])
    b = np.array([10.0, 125.0, 500.0])
    idx, res = af.match_events(a_ms=a, b_ms=b, offset_ms=np.array([10.0, 20.0, 0.0]), tol_ms=10.0)
    assert idx.tolist() == [0, 1, -1] and res[:2].tolist() == [0.0, 5.0] and np.isnan(res[2])


# ------------------------------------------------------------------ the analyzer
@pytest.mark.parametrize("aligned", [True, False])
def test_known_offset_recovered_and_genuine_typing_passes(typed, aligned):
    true, audio, log = typed
    # a local keyboard logs ~12 ms after the click; unaligned: the log clock also starts 3.4 s later
    shift = 0.0 if aligned else -float(log.t_ms[0]) + 5400.0
    r = run(log, audio, aligned=aligned, shift_ms=shift)
    assert r.status is Status.OK, r.reason
    m = r.metrics
    expected = float(np.median(true.t_ms[true.kind == DOWN])) - float(np.median(log.t_ms[log.kind == DOWN])) - shift
    assert m["offset_found"] and abs(m["offset_ms"] - expected) <= 10.0, (m["offset_ms"], expected)
    assert m["match_rate"] > 0.85 and m["spread_ms"] < 4.0
    assert r.score < 0.5 and r.confidence > 0.5
    for ev in r.evidence:
        assert ev.summary and 0.0 <= ev.start_s <= ev.end_s <= max(audio.end_s, float(log.t_ms[-1] + shift) / 1000)


def test_relay_jitter_is_separated_from_clean_typing(typed):
    true, audio, log = typed
    rng = np.random.default_rng(3)
    jitter = 150.0 + rng.lognormal(np.log(12.0), 0.8, len(true))  # one-way delay + network jitter
    relayed = logged(true, rng, extra_ms=jitter)
    clean = run(log, audio)
    bad = run(relayed, audio)
    assert bad.status is Status.OK and bad.metrics["offset_found"]
    assert bad.metrics["spread_ms"] > 3 * clean.metrics["spread_ms"]
    ev = {e.kind: e for e in bad.evidence}
    assert ev["click_lag_jitter"].score >= 0.5 and bad.score >= 0.5
    assert ev["transport_lag"].score >= 0.5  # clocks aligned: keys logged ~160 ms after the click
    # without a known clock only the jitter can be judged, and it still is
    un = run(relayed, audio, aligned=False, shift_ms=-float(relayed.t_ms[0]))
    assert un.score >= 0.5 and "transport_lag" not in {e.kind for e in un.evidence}


def test_relay_simulator_logs_are_flagged(typed):
    from interview_guard.synth.relay_sim import PROFILES, simulate_relay

    true, audio, log = typed
    relayed = simulate_relay(log, PROFILES["intl_rdp"], seed=2)
    r = run(relayed, audio, aligned=False, shift_ms=-float(relayed.t_ms[0]))
    assert r.status is Status.OK and r.score >= 0.5, r.metrics


def test_no_typing_heard_is_not_evidence(typed):
    """A headset or noise suppression: keys logged, no click in the audio. Absence skips the check (#12)."""
    true, _, log = typed
    rng = np.random.default_rng(5)
    silent_keyboard = render(float(log.t_ms[-1]) / 1000 + 2, [], rng, noise=0.01)
    for aligned in (True, False):
        r = run(log, silent_keyboard, aligned=aligned, shift_ms=0.0 if aligned else -float(log.t_ms[0]))
        assert r.status is Status.SKIPPED and r.score is None and not r.evidence
        assert "the keyboard is not heard" in r.reason and r.metrics["clicks"] == 0
    # a few stray clicks (a desk knock, a mouse) are not typing either
    stray = render(float(log.t_ms[-1]) / 1000 + 2, [3.0, 9.5, 21.0, 40.2], rng, noise=0.01)
    r = run(log, stray, aligned=False, shift_ms=-float(log.t_ms[0]))
    assert r.status is Status.SKIPPED, r.metrics


def test_clicks_from_other_typing_do_not_align(typed):
    true, _, log = typed
    rng = np.random.default_rng(6)
    other = key_log(250, seed=77)
    r = run(log, heard(other, rng, seconds=float(log.t_ms[-1]) / 1000 + 2), aligned=False, shift_ms=-float(log.t_ms[0]))
    assert not r.metrics["offset_found"], r.metrics
    # clicks that line up with nothing are not told apart from speech transients: not judged, not risk
    assert r.status is Status.SKIPPED and r.score is None and r.metrics["clicks"] > 100


def test_half_the_keys_unheard_is_localised(typed):
    true, _, log = typed
    rng = np.random.default_rng(9)
    cut = float(np.median(true.t_ms))
    first = true.select(true.t_ms < cut)
    audio = heard(first, rng, seconds=float(true.t_ms[-1]) / 1000 + 2)
    r = run(log, audio, window_s=10.0)
    ev = {e.kind: e for e in r.evidence}
    assert r.metrics["offset_found"] and "keys_without_sound" in ev, r.metrics
    assert ev["keys_without_sound"].start_s >= cut / 1000 - 10.0 and r.score >= 0.5


def test_typing_heard_while_the_log_is_idle(typed):
    true, audio, log = typed
    t = log.t_ms
    lo, hi = np.percentile(t, [35, 65])
    gap_log = log.select((t < lo) | (t > hi))
    r = run(gap_log, audio)
    ev = {e.kind: e for e in r.evidence}
    assert "clicks_without_keys" in ev, r.metrics
    assert ev["clicks_without_keys"].details["clicks"] >= 40 and ev["clicks_without_keys"].score >= 0.5
    assert lo / 1000 - 2 <= ev["clicks_without_keys"].start_s <= hi / 1000


@needs_shared(SHARED_DATA / "speech")
@pytest.mark.shared
def test_speech_only_audio_gives_no_confident_offset(typed):
    from interview_guard.io.audio_decode import decode_audio

    true, _, log = typed
    speech = np.concatenate([decode_audio(p).samples for p in sorted((SHARED_DATA / "speech").glob("*.wav"))])
    need = int((float(log.t_ms[-1]) / 1000 + 2) * SR)
    bed = np.resize(speech, need)
    rng = np.random.default_rng(12)
    r = run(log, render(need / SR, [], rng, bed=bed), aligned=False, shift_ms=-float(log.t_ms[0]))
    assert r.status is Status.SKIPPED and not r.metrics["offset_found"], r.metrics  # not judged, not risk
    assert r.metrics["clicks"] > 50  # speech does make click-like sounds, they just do not line up
    # and under that speech the real clicks are still found
    r2 = run(log, heard(true, rng, bed=bed, level=0.15), aligned=False, shift_ms=-float(log.t_ms[0]))
    assert r2.metrics["offset_found"] and r2.score < 0.5, r2.metrics


@needs_shared(AALTO)
@pytest.mark.shared
def test_real_typing_timing_from_aalto():
    from interview_guard.io.keystroke_log import read_keystroke_log

    f = sorted(AALTO.glob("*_keystrokes.txt"))[0]
    raw = read_keystroke_log(f)
    t = raw.t_ms - raw.t_ms[0]
    d = np.diff(t)
    t2 = np.r_[0.0, np.cumsum(np.where(d > 3000, 2000, d))] + 2000.0  # shorten long pauses
    true = KeystrokeLog(
        t_ms=t2,
        kind=raw.kind,
        key=raw.key,
        code=raw.code,
        recv_ms=np.full(t2.size, np.nan),
        repeat=raw.repeat,
        length=raw.length,
    )
    rng = np.random.default_rng(1)
    audio = heard(true, rng)
    r = run(logged(true, rng), audio, aligned=False, shift_ms=-2000.0)
    assert r.metrics["offset_found"] and r.score < 0.5 and r.metrics["match_rate"] > 0.85


def test_clock_drift_is_followed():
    rng = np.random.default_rng(31)
    true = key_log(1200, seed=4)  # about 5 minutes of typing
    audio = heard(true, rng)
    log = logged(true, rng)
    drifting = KeystrokeLog(
        t_ms=log.t_ms * (1 + 400e-6),
        kind=log.kind,
        key=log.key,
        code=log.code,
        recv_ms=log.recv_ms,
        repeat=log.repeat,
        length=log.length,
    )  # 400 ppm: ~120 ms
    r = run(drifting, audio, aligned=False, shift_ms=-float(drifting.t_ms[0]))
    assert r.metrics["offset_found"] and r.metrics["match_rate"] > 0.85, r.metrics
    assert r.metrics["offset_drift_ms"] > 60 and r.metrics["spread_ms"] < 5 and r.score < 0.5


def test_skips(typed):
    true, audio, log = typed
    assert AcousticKeystroke().analyze(Tracks()).status is Status.SKIPPED
    assert AcousticKeystroke().analyze(Tracks(duration_s=60, keystrokes=log)).status is Status.SKIPPED
    assert AcousticKeystroke().analyze(Tracks(duration_s=60, audio=audio)).status is Status.SKIPPED
    r = run(log.select(np.arange(len(log)) < 20), audio)
    assert r.status is Status.SKIPPED and "too few key presses" in r.reason
    r = run(log, AudioTrack(np.zeros(SR * 30, np.float32), SR))
    assert r.status is Status.SKIPPED and "silent" in r.reason
    r = run(log, AudioTrack(audio.samples[: SR * 5], SR, 0.0), aligned=True)  # log mostly outside the audio
    assert r.status is Status.SKIPPED and "inside the audio" in r.reason
    r = run(KeystrokeLog.empty(), audio)
    assert r.status is Status.SKIPPED


def test_stated_alignment_that_is_wrong_is_noticed(typed):
    true, audio, log = typed
    r = run(log, audio, aligned=True, shift_ms=-2500.0)  # metadata claims aligned; really 2.5 s off
    assert r.status is Status.OK and r.metrics["offset_found"]
    assert "off the recording" in r.reason and "transport_lag" not in {e.kind for e in r.evidence}
    assert r.score < 0.5


def test_result_valid_serialisable_deterministic(typed):
    true, audio, log = typed
    tracks = Tracks(duration_s=audio.end_s + 1, keystrokes=log, keystrokes_aligned=True, audio=audio)
    a = AcousticKeystroke().analyze(tracks)
    assert a.to_dict() == AcousticKeystroke().analyze(tracks).to_dict()
    again = AnalyzerResult.from_dict(a.name, json.loads(json.dumps(a.to_dict())))
    assert again.to_dict() == a.to_dict()
    assert a.windows and all(0 <= w.start_s <= w.end_s <= tracks.duration_s + 1e-6 for w in a.windows)
    assert all(0 <= w.score <= 1 for w in a.windows if w.score is not None)


# ------------------------------------------------------------------ audio cut short
def _cut_audio(audio: AudioTrack, share: float) -> AudioTrack:
    """The first ``share`` of ``audio``, its container still declaring the whole length (a recording cut off)."""
    n = int(len(audio) * share)
    return AudioTrack(audio.samples[:n], audio.sr, audio.start_s, "cut", meta={"declared_s": audio.duration_s})


@pytest.mark.parametrize("aligned, shift_ms", [(True, 0.0), (False, 5000.0)])
def test_keys_after_the_audio_is_cut_short_are_not_checked_and_lower_the_confidence(aligned, shift_ms):
    rng = np.random.default_rng(11)
    true = key_log(600, seed=1)
    audio, log = heard(true, rng), logged(true, rng)
    cut = _cut_audio(audio, 0.5)
    assert cut.truncated and cut.coverage == pytest.approx(0.5, abs=1e-4)
    # the same half of the audio without a declared end: what the analyzer said before it knew of the cut
    plain = AudioTrack(cut.samples, SR, 0.0, "plain")
    got = run(log, cut, aligned=aligned, shift_ms=shift_ms, duration=audio.end_s)
    before = run(log, plain, aligned=aligned, shift_ms=shift_ms, duration=audio.end_s)
    assert got.status is Status.OK and before.status is Status.OK
    assert got.score == pytest.approx(before.score) and got.evidence == before.evidence  # never evidence
    n_heard, n_after = got.metrics["key_presses"], got.metrics["keys_after_audio_end"]
    assert n_heard + n_after == len(log.presses())  # every key of the recording's span is heard or counted out
    assert 250 < n_after < 320 and got.metrics["checked_key_share"] == pytest.approx(n_heard / 600, abs=1e-4)
    assert got.confidence == pytest.approx(before.confidence * n_heard / 600)
    assert "the audio stops at 64.0 s of 128.0 s declared" in got.reason and "not checked" in got.reason
    if aligned:  # (unaligned, the key evidence is timed on the log's clock)
        assert all(e.end_s <= cut.end_s + 1.0 for e in got.evidence)


def test_whole_audio_report_has_no_cut_short_fields(typed):
    true, audio, log = typed
    whole = AudioTrack(audio.samples, SR, 0.0, "whole", meta={"declared_s": audio.duration_s + 0.5})
    assert not whole.truncated and whole.coverage == 1.0
    r = run(log, whole)
    assert r.status is Status.OK and not {"keys_after_audio_end", "checked_key_share"} & set(r.metrics)
    assert r.confidence == run(log, audio).confidence


def _recording_with_clicks(path, y: np.ndarray, fps: int = 10):
    """An MP4 (index first, as a streaming recorder writes it) of small frames and ``y`` as AAC, interleaved as a
    recorder writes them (a frame, then its tenth of a second of sound)."""
    from fractions import Fraction

    import av

    step = SR // fps
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        aus = out.add_stream("aac", rate=SR)
        aus.layout = "mono"
        for i in range(y.size // step):
            img = np.full((48, 64, 3), (i * 7) % 256, np.uint8)
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            fr = av.AudioFrame.from_ndarray(y[None, i * step : (i + 1) * step], format="fltp", layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = SR, i * step, Fraction(1, SR)
            out.mux(aus.encode(fr))
        out.mux(vs.encode())
        out.mux(aus.encode())
    return path


@pytest.mark.video
@pytest.mark.parametrize("aligned", [True, False])
def test_recording_cut_off_by_a_crash_counts_the_keys_after_its_sound_stops_as_not_checked(tmp_path, aligned):
    from conftest import write_jsonl
    from interview_guard.analyzers import create
    from interview_guard.pipeline.scan import scan_session

    rng = np.random.default_rng(7)
    true = key_log(250, seed=1)
    audio, log = heard(true, rng), logged(true, rng)  # 52 s of typing heard
    whole = _recording_with_clicks(tmp_path / "whole.mp4", audio.samples)
    d = tmp_path / "s"
    d.mkdir()
    data = whole.read_bytes()
    (d / "video.mp4").write_bytes(data[: int(len(data) * 0.6)])  # the last ~40 % never written
    names = {DOWN: "down", UP: "up"}
    write_jsonl(
        d / "keystrokes.jsonl",
        [{"t": float(t), "type": names[k], "key": c, "code": c} for t, k, c in zip(log.t_ms, log.kind, log.code)],
    )
    # aligned: the key log's clock is the recording's; else the first key counts as time zero (found by the sound)
    (d / "session.json").write_text(json.dumps({"keystroke_clock_offset_ms": 0} if aligned else {}))
    rep = scan_session(d, analyzers=[create("acoustic_keystroke")])
    r = rep.analyzers["acoustic_keystroke"]
    assert r.status is Status.OK and r.score < 0.2
    n_heard, n_after = r.metrics["key_presses"], r.metrics["keys_after_audio_end"]
    assert n_heard + n_after == 250 and 60 < n_after < 150
    assert r.confidence == pytest.approx(min(1.0, r.metrics["matched"] / 300) * n_heard / 250, abs=1e-6)
    (warning,) = [w for w in rep.warnings if "the audio stops" in w]
    assert warning.startswith("video.mp4: the audio stops at ") and "of 52.2 s declared" in warning


def test_evidence_of_an_unaligned_log_is_timed_on_the_recording(typed):
    # the log's clock runs 40 s ahead of the recording (not aligned): the evidence says when in the recording
    true, _, log = typed
    rng = np.random.default_rng(9)
    cut = float(np.median(true.t_ms))
    audio = heard(true.select(true.t_ms < cut), rng, seconds=float(true.t_ms[-1]) / 1000 + 2)
    r = run(log, audio, aligned=False, shift_ms=40000.0, duration=audio.end_s, window_s=10.0)
    ev = {e.kind: e for e in r.evidence}
    assert r.metrics["offset_found"] and "keys_without_sound" in ev, r.metrics
    gone = ev["keys_without_sound"]
    assert cut / 1000 - 10.0 <= gone.start_s < gone.end_s <= audio.end_s + 0.5, (gone.start_s, gone.end_s)
    for s in gone.details["stretches"]:
        assert cut / 1000 - 10.0 <= s["start_s"] <= audio.end_s
    first = ev["click_lag_jitter"]
    assert abs(first.start_s - float(true.t_ms[0]) / 1000) < 0.5, first.start_s  # the first key, when it was heard
    assert all(0.0 <= x["t_s"] <= audio.end_s for x in first.details["examples"])
