"""The capture-conditions evaluation renders a recording under another light, noise or compression without
changing its timing or its sound."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "evaluation"))

import capture_conditions as cc  # noqa: E402


def _clip(path, n=12, size=(96, 64), audio="aac"):
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="avi" if path.suffix == ".avi" else "mp4") as o:
        v = o.add_stream("libx264", rate=Fraction(25))
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        a = o.add_stream(audio, rate=16000)
        a.layout = "mono"
        for i in range(n):
            img = np.full((size[1], size[0], 3), 150, np.uint8)
            img[:, : 8 + 4 * i] = rng.integers(60, 200, (size[1], 8 + 4 * i, 3))
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                o.mux(p)
        samples = (0.2 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)[None]
        if audio == "pcm_s16le":
            samples = (samples * 32767).astype(np.int16)
        af = av.AudioFrame.from_ndarray(samples, format="fltp" if audio == "aac" else "s16", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for p in a.encode(af):
            o.mux(p)
        for s in (v, a):
            for p in s.encode():
                o.mux(p)


def _read(path):
    import av

    with av.open(str(path)) as c:
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
        has_audio = bool(c.streams.audio)
    return frames, has_audio


@pytest.mark.parametrize("cond", ["dim", "noisy", "compressed", "warm", "webcam", "half"])
def test_render_keeps_frames_times_and_audio(tmp_path, cond):
    src = tmp_path / "src.mp4"
    _clip(src)
    out = cc.render(src, tmp_path / cond / "out.mp4", cond)
    a, audio_a = _read(src)
    b, audio_b = _read(out)
    assert audio_a and audio_b
    assert [t for t, _ in a] == pytest.approx([t for t, _ in b], abs=1e-3)
    img_a, img_b = a[5][1].astype(float), b[5][1].astype(float)
    if cond in ("compressed", "half"):
        assert img_b.shape[:2] == (img_a.shape[0] // 2, img_a.shape[1] // 2)
    elif cond == "dim":
        assert img_b.mean() < 0.6 * img_a.mean()
    elif cond == "warm":
        assert img_b[..., 0].mean() > img_a[..., 0].mean() + 5 and img_b[..., 2].mean() < img_a[..., 2].mean() - 10
    elif cond == "webcam":  # narrower than 640 already: the same picture, re-encoded
        assert img_b.shape == img_a.shape and abs(img_b.mean() - img_a.mean()) < 3
    else:  # noisy: same light, more pixel-to-pixel variation in the flat part
        assert abs(img_b.mean() - img_a.mean()) < 3
        assert img_b[:, -20:].std() > img_a[:, -20:].std() + 2
    assert not list(out.parent.glob(".*tmp*"))  # written to a temporary name, then renamed


def test_unknown_condition_is_refused():
    with pytest.raises(ValueError, match="unknown condition"):
        cc.transform("foggy", np.zeros((4, 4, 3), np.uint8), np.random.default_rng(0))


def test_ita_groups_are_ordered():
    bounds = [lo for lo, _ in cc.ITA_GROUPS]
    assert bounds == sorted(bounds, reverse=True)
    assert cc.ITA_GROUPS[-1][0] == -np.inf


def test_an_avi_with_pcm_audio_renders_with_its_sound_as_aac(tmp_path):
    # the lipdetector example (AVI, PCM audio) stopped the whole run: mp4 cannot hold PCM copied as it is
    import av

    src = tmp_path / "src.avi"
    _clip(src, audio="pcm_s16le")
    out = cc.render(src, tmp_path / "o" / "out.mp4", "dim")
    frames, has_audio = _read(out)
    assert has_audio and len(frames) == len(_read(src)[0])
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["out.mp4"]  # no temporary file left


def test_a_render_that_fails_leaves_no_file(tmp_path):
    import av

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(av.error.FFmpegError):
        cc.render(bad, tmp_path / "o" / "out.mp4", "dim")
    assert not list((tmp_path / "o").iterdir())


def test_a_call_at_15_frames_a_second_keeps_every_other_frame_at_its_time(tmp_path):
    src = tmp_path / "src.mp4"
    _clip(src)
    a, _ = _read(src)
    b, audio_b = _read(cc.render(src, tmp_path / "c" / "out.mp4", "call15"))
    assert audio_b and [t for t, _ in b] == pytest.approx([t for t, _ in a][::2], abs=1e-3)


def test_a_webcam_recording_is_at_most_640_pixels_wide(tmp_path):
    src = tmp_path / "src.mp4"
    _clip(src, size=(960, 540))
    b, _ = _read(cc.render(src, tmp_path / "w" / "out.mp4", "webcam"))
    assert b[0][1].shape[:2] == (360, 640)


def test_a_clip_without_a_face_is_not_assessed_not_failed():
    # a 96-px mouth crop re-encoded at crf 30 has no face the detector finds: every analyzer skips, the session is
    # not assessed (no risk); that is not a failure of the run
    ok = {"score": 0.05, "status": "ok"}
    rows = [
        {"condition": "webcam", "label": "genuine", "name": "a", "risk": 0.1, "band": "low", "analyzers": {"x": ok}},
        {"condition": "webcam", "label": "genuine", "name": "b", "risk": None, "band": "unassessed", "analyzers": {}},
        {"condition": "webcam", "label": "genuine", "name": "c", "risk": None, "band": "failed", "analyzers": {},
         "error": "ValueError: broken"},
    ]  # fmt: skip
    row = cc.real_tables(rows, ["webcam"]).splitlines()[-1]
    assert row.startswith("| webcam | 3 | 1 / 1 | 0.10 (a) |"), row
