"""The synthetic-session generator (interview_guard.synth.generate and its inputs) and the graphics face swap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared

pytestmark = [pytest.mark.video, pytest.mark.shared, needs_shared()]

SEED = 7
MAX_S = 2.5


def _progress_log():
    calls = []

    def hook(step, *, completed, total):
        calls.append((step, completed, total))

    return calls, hook


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from interview_guard.synth.generate import KINDS, generate

    out = tmp_path_factory.mktemp("synth")
    calls, hook = _progress_log()
    paths = generate(out, n=len(KINDS), seed=SEED, max_seconds=MAX_S, progress=hook)
    return {"paths": {p.name.split("-", 3)[3]: p for p in paths}, "progress": calls, "out": out}


def _label(p: Path) -> dict:
    return json.loads((p / "label.json").read_text())


def _frames(path, limit=None):
    from interview_guard.io.video_decode import iter_frames

    out = []
    for f in iter_frames(path):
        out.append(f.image)
        if limit and len(out) >= limit:
            break
    return out


def _source(label: dict, key: str) -> Path:
    return SHARED_DATA / label["inputs"][key].split("#")[0]


def test_every_kind_has_files_and_label(generated):
    from interview_guard.synth.generate import KINDS
    from interview_guard.synth.inputs import is_permissive

    assert set(generated["paths"]) == set(KINDS)
    assert generated["progress"][0] == ("synth", 0, len(KINDS))
    assert generated["progress"][-1] == ("synth", len(KINDS), len(KINDS))
    for kind, p in generated["paths"].items():
        for f in ("video.mp4", "keystrokes.jsonl", "session.json", "label.json"):
            assert (p / f).is_file(), (kind, f)
        lab = _label(p)
        assert lab["kinds"] == [kind]
        assert lab["seed"] == SEED
        assert lab["label"] == ("genuine" if kind in ("genuine", "handwave_genuine") else "manipulated")
        for m in lab["manipulations"]:
            assert set(m) == {"kind", "start_s", "end_s", "details"}
            assert 0.0 <= m["start_s"] <= m["end_s"]
        assert lab["inputs"]["face_clip"] and lab["inputs"]["keystrokes"]
        assert lab["licences"]["face_clip"]  # found in SOURCES.md
        meta = json.loads((p / "session.json").read_text())
        assert "keystroke_clock_offset_ms" in meta
        if kind.startswith("handwave"):
            assert meta["challenges"][0]["kind"] == "hand_wave"
            assert lab["inputs"]["hand_image"]
            assert lab["permissive"] == all(is_permissive(lab["licences"][k]) for k, v in lab["inputs"].items() if v)
        else:
            assert "challenges" not in meta


def test_typing_starts_inside_recording_and_runs_typing_seconds(generated):
    from interview_guard.io.keystroke_log import read_keystroke_log

    p = generated["paths"]["genuine"]
    meta = json.loads((p / "session.json").read_text())
    lab = _label(p)
    log = read_keystroke_log(p / "keystrokes.jsonl")
    t = (log.t_ms + meta["keystroke_clock_offset_ms"]) / 1000.0
    assert len(log.presses()) >= 30
    assert 0.0 < t.min() < lab["duration_s"]  # typing starts inside the video
    assert 20.0 < t.max() - t.min() <= 240.0 + 0.5  # a slice of about --typing-seconds (default 240 s) of real typing
    typing = next(e for e in lab["events"] if e["kind"] == "typing")
    assert typing["details"]["presses"] == len(log.presses())


def test_keyboard_clicks_are_in_the_audio(generated):
    from interview_guard.io.audio_decode import decode_audio
    from interview_guard.io.keystroke_log import read_keystroke_log
    from interview_guard.signals import clicks as af
    from interview_guard.tracks.keystrokes import DOWN

    rendered = []
    for kind, p in generated["paths"].items():
        lab = _label(p)
        typing = next(e for e in lab["events"] if e["kind"] == "typing")
        snd = typing["details"]["keyboard_audio"]
        if kind == "mismatched_audio":
            assert snd["rendered"] is False
        if snd["rendered"] and kind not in ("avoffset", "relay") and snd["key_down_clicks"] >= 5:
            rendered.append(p)
    assert rendered, "no session with rendered key clicks (30 % are suppressed; seed 7 has several)"
    hits, chance = [], []
    for p in rendered:
        meta = json.loads((p / "session.json").read_text())
        log = read_keystroke_log(p / "keystrokes.jsonl")
        tr = decode_audio(p / "video.mp4", sr=16000)
        keys = (log.t_ms[log.kind == DOWN] + meta["keystroke_clock_offset_ms"]) / 1000.0
        keys = keys[keys < tr.samples.size / 16000 - 0.6]
        on = tr.start_s + af.click_onsets(y=tr.samples, sr=16000)["t_s"]

        def near(k_s, on=on):
            return np.array([np.min(np.abs(on - k)) if on.size else 1.0 for k in k_s])

        # a click is heard 8-17 ms before each logged key
        hits.append(near(keys - 0.0125) < 0.008)
        chance.append(np.concatenate([near(keys + d) < 0.008 for d in (-0.31, 0.23, 0.41)]))
    hit, base = float(np.mean(np.concatenate(hits))), float(np.mean(np.concatenate(chance)))
    assert hit >= 0.6 and hit > 2.5 * base, (hit, base)


def _landmarks(frames):
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions

    out = []
    with FaceLandmarkerRunner(FaceRunnerOptions(blendshapes=False)) as r:
        for k, img in enumerate(frames):
            ob = r.process(img, k / 25.0)
            out.append(ob.landmarks if ob.present else np.full((478, 3), np.nan, np.float32))
    return np.stack(out)


def test_faceswap_changes_identity(generated):
    from interview_guard.signals.face_geometry import shape_descriptor

    p = generated["paths"]["faceswap"]
    lab = _label(p)
    m = lab["manipulations"][0]
    assert m["kind"] == "faceswap" and m["details"]["swapped_frames"] > 0.5 * m["details"]["frames"]
    n = 20
    orig = _frames(_source(lab, "face_clip"), n)
    out = _frames(p / "video.mp4", n)
    h, w = out[0].shape[:2]
    orig = [o[:h, :w] for o in orig]
    lo, lw = _landmarks(orig), _landmarks(out)
    aspect = w / h
    do, dw = shape_descriptor(lo, aspect=aspect), shape_descriptor(lw, aspect=aspect)
    swap_dist = np.nanmedian(np.linalg.norm(dw - do, axis=1))
    genuine_dist = np.nanmedian(np.linalg.norm(do[5:] - do[:-5], axis=1))
    assert swap_dist > 2.0 * genuine_dist, (swap_dist, genuine_dist)
    # pixels inside the face changed much more than compression changes them
    box = lo[:, :, :2] * [w, h]
    diffs = []
    for k in range(n):
        if not np.all(np.isfinite(box[k])):
            continue
        x0, y0 = np.maximum(box[k].min(0).astype(int), 0)
        x1, y1 = box[k].max(0).astype(int)
        diffs.append(np.abs(out[k][y0:y1, x0:x1].astype(float) - orig[k][y0:y1, x0:x1]).mean())
    assert np.median(diffs) > 8.0


def test_relay_changes_timing(generated):
    from interview_guard.io.keystroke_log import read_keystroke_log

    p = generated["paths"]["relay"]
    lab = _label(p)
    m = lab["manipulations"][0]
    assert m["kind"] == "relay" and m["details"]["delay_ms_mean"] > 1.0
    src = read_keystroke_log(_source(lab, "keystrokes")).presses()
    typing = next(e for e in lab["events"] if e["kind"] == "typing")
    t0 = typing["details"]["source_start_ms"]
    relayed = read_keystroke_log(p / "keystrokes.jsonl").presses()
    k = len(relayed)
    orig = np.sort(src.press_ms[src.press_ms >= t0])[:k] - t0
    rel = relayed.press_ms - relayed.press_ms[0]
    assert not np.allclose(np.diff(orig), np.diff(rel), atol=1.0)


def test_avoffset_audio_is_shifted(generated):
    from interview_guard.io.audio_decode import decode_audio

    p = generated["paths"]["avoffset"]
    lab = _label(p)
    off = lab["manipulations"][0]["details"]["offset_ms"]
    assert 150 <= abs(off) <= 400
    sr = 16000
    a = decode_audio(p / "video.mp4", sr=sr).samples
    b = decode_audio(_source(lab, "face_clip"), sr=sr, max_seconds=MAX_S + 1).samples
    n = min(a.size, b.size)
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    max_lag = int(0.6 * sr)
    x = np.correlate(np.pad(a, max_lag), b, mode="valid")  # x[j] ~ a shifted by j - max_lag
    lag_ms = (int(np.argmax(x)) - max_lag) / sr * 1000.0
    assert abs(lag_ms - off) <= 20.0, (lag_ms, off)


def test_same_seed_same_sessions(tmp_path):
    # two fresh processes: MediaPipe's landmarks (so the swapped pixels) can differ slightly once other
    # landmarkers have run in the same process, so the comparison is between clean runs
    import subprocess
    import sys

    code = (
        "import sys; from interview_guard.synth.generate import generate; "
        f"generate(sys.argv[1], n=2, seed={SEED}, max_seconds={MAX_S})"  # genuine, faceswap
    )
    runs = []
    for k in ("a", "b"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / k)], check=True, capture_output=True, timeout=300)
        runs.append(sorted(p for p in (tmp_path / k).iterdir() if p.is_dir()))
    assert len(runs[0]) == len(runs[1]) == 2
    for p, q in zip(*runs):
        assert p.name == q.name
        for f in ("keystrokes.jsonl", "label.json", "session.json"):
            assert (p / f).read_bytes() == (q / f).read_bytes(), f
        a, b = _frames(p / "video.mp4"), _frames(q / "video.mp4")
        assert len(a) == len(b)
        # Identical in every run we could repeat here (also 4 generations at once); full-suite CI runs with both
        # cores busy saw frames of the swap differ: the face landmarker places the swapped face a pixel apart under
        # load (docs/face-occlusion.md notes the same of VIDEO mode), and H.264 prediction carries that to the
        # frames after it (mean difference up to 1.19 grey levels, 2026-11-30; on 2026-12-02 the first frame of the
        # swap too). So: every frame to within 3 grey levels on average (seed 8's swap: 6.4 at its farthest frame).
        diffs = [float(np.abs(x.astype(np.int16) - y).mean()) for x, y in zip(a, b)]
        assert max(diffs) < 3.0, (p.name, [round(d, 3) for d in diffs])


def test_session_opens_and_scans(generated):
    from interview_guard.io.session import Session
    from interview_guard.pipeline.scan import scan_session

    p = generated["paths"]["handwave_faceswap"]
    s = Session.open(p)
    assert {"video", "keystrokes"} <= set(s.files)
    report = scan_session(p)
    d = report.to_dict()
    assert d["status"] == "ok", d.get("error")
    assert all(a["status"] in ("ok", "skipped") for a in d["analyzers"].values()), d["analyzers"]


def test_handwave_marks_challenge(generated):
    p = generated["paths"]["handwave_faceswap"]
    lab = _label(p)
    wave = next(e for e in lab["events"] if e["kind"] == "hand_wave")
    det = lab["manipulations"][0]["details"]
    assert det["wave_frames"] > 0
    meta = json.loads((p / "session.json").read_text())
    assert meta["challenges"][0]["t_s"] <= wave["start_s"]


def test_licences_and_permissive_filter():
    from interview_guard.synth.inputs import SynthInputs, default_inputs, is_permissive, read_licences

    lic = read_licences(SHARED_DATA / "faces_video")
    assert "MIT" in lic["obama.jpg"]
    assert is_permissive("Apache-2.0 (repo LICENSE)") and is_permissive("CC BY-SA 4.0 variant")
    assert not is_permissive("not stated") and not is_permissive("GPL-3.0 (repo LICENSE)")
    inp = SynthInputs(**default_inputs(SHARED_DATA.parent), permissive_only=True)
    assert inp.clips and all(is_permissive(inp.licence(c)) for c in inp.clips)
    assert not any("deepfacelive" in c.name for c in inp.clips)


def test_bad_kind():
    from interview_guard.errors import ParameterError
    from interview_guard.synth.generate import generate

    with pytest.raises(ParameterError):
        generate("/nonexistent", n=1, kinds=("nope",))


def test_output_path_in_the_way_is_a_clear_error(tmp_path):
    from interview_guard.errors import InputError
    from interview_guard.synth.generate import generate

    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "afile").write_text("x")
    for p in (tmp_path / "dangling", tmp_path / "afile"):
        with pytest.raises(InputError, match="cannot create the output directory"):
            generate(p, n=1)


def test_a_killed_generation_leaves_no_half_session(tmp_path, monkeypatch):
    """Killed while writing the video, a session directory held only keystrokes.jsonl: batch scanned it as a
    real session and calibrate listed it as unlabelled. Now it is made hidden and renamed when whole."""
    from interview_guard.io.session import find_sessions
    from interview_guard.synth import generate as gen

    real = gen.write_mp4

    def killed(path, *a, **kw):
        Path(path).write_bytes(b"\0" * 100)  # half a video
        raise KeyboardInterrupt

    monkeypatch.setattr(gen, "write_mp4", killed)
    with pytest.raises(KeyboardInterrupt):
        gen.generate(tmp_path / "out", n=1, seed=SEED, kinds=("relay",), max_seconds=MAX_S)
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")] == []
    assert find_sessions(tmp_path / "out") == []
    monkeypatch.setattr(gen, "write_mp4", real)
    (stale := tmp_path / "out" / "synth-7-0000-relay").mkdir()
    (stale / "audio.wav").write_bytes(b"old")  # an earlier run's file the new session does not have
    (path,) = gen.generate(tmp_path / "out", n=1, seed=SEED, kinds=("relay",), max_seconds=MAX_S)
    assert sorted(p.name for p in path.iterdir()) == ["keystrokes.jsonl", "label.json", "session.json", "video.mp4"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["synth-7-0000-relay"]


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_sigterm_to_synth_with_jobs_takes_its_workers(tmp_path):
    """``kill PID`` of ``synth -j 2``: the driver died and its two workers waited for work for ever."""
    import signal
    import subprocess
    import sys

    from test_batch import _stop_pool_driver

    argv = [sys.executable, "-m", "interview_guard.cli", "synth", str(tmp_path / "o"), "--n", "6", "-j", "2", "-q"]
    proc = subprocess.Popen([*argv, "--max-seconds", "6", "--seed", str(SEED)], stderr=subprocess.DEVNULL)
    left = _stop_pool_driver(proc, signal.SIGTERM)
    assert not left, "synth's workers outlived it"
    from interview_guard.io.session import find_sessions

    assert all((f.path / "label.json").is_file() for f in find_sessions(tmp_path / "o"))  # only whole sessions
