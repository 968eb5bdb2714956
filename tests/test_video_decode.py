"""Tests of interview_guard.io.video_decode: timestamps, subsampling, rotation, damaged files."""

from __future__ import annotations

import fractions
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from interview_guard.errors import MediaError, ParameterError
from interview_guard.io.video_decode import (
    DecodeStats,
    estimate_frame_count,
    iter_frames,
    rotate_upright,
    scaled_size,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FACES = SHARED / "data" / "faces_video"
needs_shared = pytest.mark.skipif(not FACES.is_dir(), reason=f"shared test data not found at {SHARED / 'data'}")

FACE3 = FACES / "retalking_face3.mp4"  # 590x590, 25 fps, 125 frames, 5.0 s


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def write_clip(
    path: Path,
    *,
    n: int = 30,
    size: tuple[int, int] = (64, 48),
    pts_ms: list[int] | None = None,
    rotation: int | None = None,
    frames: list[np.ndarray] | None = None,
    options: dict | None = None,
    seed: int = 0,
) -> Path:
    """Encode a small H.264 clip with PyAV: noise frames (or ``frames``), 1 ms time base."""
    import av

    w, h = size
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w", options=options or {}) as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.time_base = fractions.Fraction(1, 1000)
        if rotation is not None:
            s.set_display_rotation(rotation)
        count = len(frames) if frames is not None else n
        for i in range(count):
            img = frames[i] if frames is not None else rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            f.pts = pts_ms[i] if pts_ms is not None else round(i * 1000 / 30)
            f.time_base = fractions.Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def marker_frame(w: int = 64, h: int = 48) -> np.ndarray:
    """Red band along the top, green band along the left: shows which way is up."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 4, :, 0] = 255
    img[:, : w // 4, 1] = 255
    return img


def nearest_reference(times: np.ndarray, fps: float) -> list[int]:
    """Indices :func:`iter_frames` keeps when subsampling ``times`` to ``fps`` (brute force)."""
    step = 1.0 / fps
    t0, last = times[0], times[-1]
    targets = []
    k = 0
    while t0 + k * step <= last:
        targets.append(t0 + k * step)
        k += 1
    if t0 + k * step - last < step / 2:
        targets.append(t0 + k * step)
    keep = []
    for target in targets:
        d = np.abs(times - target)
        i = int(np.flatnonzero(d == d.min())[0])  # ties: the earlier frame
        if not keep or keep[-1] != i:
            keep.append(i)
    return keep


# ----------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotate_upright_is_counter_clockwise(k):
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = rotate_upright(img, 90 * k)
    assert np.array_equal(out, np.rot90(img, k))
    assert out.flags["C_CONTIGUOUS"]


def test_rotate_upright_normalises_angles():
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert np.array_equal(rotate_upright(img, -90), np.rot90(img, 3))
    assert np.array_equal(rotate_upright(img, 450), np.rot90(img, 1))
    assert np.array_equal(rotate_upright(img, -180), np.rot90(img, 2))


@pytest.mark.parametrize(
    "w,h,max_side,expected",
    [
        (1280, 720, 960, (960, 540)),
        (720, 1280, 960, (540, 960)),
        (640, 360, 960, (640, 360)),
        (1280, 720, None, (1280, 720)),
    ],
)
def test_scaled_size(w, h, max_side, expected):
    assert scaled_size(w, h, max_side) == expected


def test_import_stays_light():
    code = (
        "import sys, interview_guard.io.video_decode, interview_guard.io.landmarks, "
        "interview_guard.tracks.video, interview_guard.extract.cache, interview_guard.extract.video_scan; "
        "print(sorted(m for m in ('cv2', 'mediapipe', 'av', 'librosa') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        iter_frames(tmp_path / "nope.mp4")


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mp4: file is empty \(0 bytes\)"):
        iter_frames(p)


def test_not_a_media_file(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError, match="notes.mp4: cannot open as video"):
        iter_frames(p)


def test_audio_only_file(tmp_path):
    p = tmp_path / "speech.wav"
    with wave.open(str(p), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(16000)
        wf.writeframes(np.zeros(16000, np.int16).tobytes())
    with pytest.raises(MediaError, match=r"speech\.wav: no video stream in the file \(audio only\)"):
        iter_frames(p)
    with pytest.raises(MediaError, match="no video stream"):
        estimate_frame_count(p)


@pytest.mark.parametrize("kw", [{"fps": 0}, {"fps": -5.0}, {"fps": float("nan")}, {"max_side": 4}])
def test_bad_parameters(tmp_path, kw):
    with pytest.raises(ParameterError):
        iter_frames(tmp_path / "x.mp4", **kw)


# ----------------------------------------------------------------------------- generated clips


@pytest.mark.video
def test_variable_frame_rate_times_are_exact(tmp_path):
    pts = [0, 33, 66, 150, 160, 400, 433, 466, 1000, 1010] + [1100 + 40 * i for i in range(10)]
    p = write_clip(tmp_path / "vfr.mp4", n=len(pts), pts_ms=pts)
    st = DecodeStats()
    frames = list(iter_frames(p, stats=st))
    t = np.array([f.t_s for f in frames])
    np.testing.assert_allclose(t, np.array(pts) / 1000.0, rtol=0, atol=1e-9)
    assert [f.index for f in frames] == list(range(len(pts)))
    assert st.frames_yielded == len(pts) and st.finished and not st.truncated
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8


@pytest.mark.video
@pytest.mark.parametrize("fps", [4.0, 10.0, 25.0, 100.0])
def test_subsampling_keeps_nearest_frames_on_vfr(tmp_path, fps):
    pts = [0, 33, 66, 150, 160, 400, 433, 466, 1000, 1010] + [1100 + 40 * i for i in range(10)]
    p = write_clip(tmp_path / "vfr.mp4", n=len(pts), pts_ms=pts)
    times = np.array(pts) / 1000.0
    st = DecodeStats()
    got = [f.index for f in iter_frames(p, fps=fps, stats=st)]
    assert got == nearest_reference(times, fps)
    assert st.frames_yielded + st.dropped_subsample == len(pts)


@pytest.mark.video
@pytest.mark.parametrize("rotation,band_side", [(90, "left"), (-90, "right"), (180, "bottom")])
def test_rotation_metadata_is_applied(tmp_path, rotation, band_side):
    p = write_clip(tmp_path / "rot.mp4", frames=[marker_frame()] * 5, rotation=rotation)
    st = DecodeStats()
    img = next(iter(iter_frames(p, stats=st))).image
    assert st.rotation == rotation % 360
    assert img.shape == ((64, 48, 3) if rotation % 180 else (48, 64, 3))
    red = img[..., 0] > 128
    # The red band (top of the coded frame) must end up where the rotation puts it.
    where = {"left": red[:, :4].mean(), "right": red[:, -4:].mean(), "bottom": red[-4:, :].mean()}
    assert where[band_side] > 0.9
    assert red.mean() < 0.35


@pytest.mark.video
def test_downscale_and_bgr(tmp_path):
    p = write_clip(tmp_path / "m.mp4", frames=[marker_frame(160, 120)] * 3, size=(160, 120))
    rgb = next(iter(iter_frames(p, max_side=80))).image
    bgr = next(iter(iter_frames(p, max_side=80, rgb=False))).image
    assert rgb.shape == bgr.shape == (60, 80, 3)
    # Scaled in different pixel formats: equal up to rounding.
    assert np.abs(rgb.astype(int) - bgr[..., ::-1].astype(int)).max() <= 4
    full_rgb = next(iter(iter_frames(p))).image
    full_bgr = next(iter(iter_frames(p, rgb=False))).image
    assert np.array_equal(full_rgb, full_bgr[..., ::-1])


@pytest.mark.video
def test_truncated_file_without_index_raises(tmp_path):
    p = write_clip(tmp_path / "cut.mp4", n=90, size=(160, 120))  # moov atom at the end
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"cut\.mp4: cannot open as video .*truncated"):
        iter_frames(p)


@pytest.mark.video
def test_truncated_file_stops_at_last_good_frame(tmp_path):
    p = write_clip(tmp_path / "cut.mp4", n=90, size=(160, 120), options={"movflags": "faststart"})
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    st = DecodeStats()
    frames = list(iter_frames(p, stats=st))
    assert 20 <= len(frames) < 90
    t = np.array([f.t_s for f in frames])
    assert np.all(np.diff(t) > 0)
    assert st.finished and st.truncated
    assert st.last_t == pytest.approx(t[-1]) and st.declared_end_s == pytest.approx(3.0, abs=0.05)


@pytest.mark.video
def test_damaged_middle_is_skipped(tmp_path, rng):
    p = write_clip(tmp_path / "hole.mp4", n=90, size=(160, 120), options={"movflags": "faststart"})
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))
    st = DecodeStats()
    frames = list(iter_frames(p, stats=st))
    t = np.array([f.t_s for f in frames])
    assert len(frames) > 60  # decoding went on past the damage
    assert np.all(np.diff(t) > 0)
    assert st.finished


# ----------------------------------------------------------------------------- real clips


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_real_clip_times_match_the_container():
    import av

    with av.open(str(FACE3)) as c:
        v = c.streams.video[0]
        n_declared = v.frames
        end = float((v.start_time + v.duration) * v.time_base)
        rate = float(v.average_rate)
    st = DecodeStats()
    frames = list(iter_frames(FACE3, stats=st))
    t = np.array([f.t_s for f in frames])
    assert len(frames) == n_declared == 125
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(np.diff(t), 1 / rate, atol=1e-6)
    assert t[0] == pytest.approx(0.0, abs=1e-9)
    assert t[-1] + 1 / rate == pytest.approx(end, abs=0.5 / rate)
    assert st.decode_errors == 0 and not st.truncated and st.rotation == 0
    img = frames[10].image
    assert img.shape == (590, 590, 3) and img.dtype == np.uint8 and img.flags["C_CONTIGUOUS"]
    assert estimate_frame_count(FACE3) == 125


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_real_clip_subsampling_counts():
    half = list(iter_frames(FACE3, fps=12.5, max_side=64))
    assert [f.index for f in half] == list(range(0, 125, 2))
    ten = list(iter_frames(FACE3, fps=10.0, max_side=64))
    assert abs(len(ten) - 50) <= 1
    t = np.array([f.t_s for f in ten])
    k = np.round(t * 10)
    # Each kept frame is the nearest (within half a 25 fps interval) to its 0.1 s target; the
    # last target (5.0 s) lies past the last frame (4.96 s) but within half a target step.
    assert np.all(np.abs(t[:-1] - k[:-1] / 10) <= 0.02 + 1e-9)
    assert abs(t[-1] - k[-1] / 10) < 0.05
    assert len(list(iter_frames(FACE3, fps=60.0, max_side=64))) == 125
    assert estimate_frame_count(FACE3, fps=10.0) == 50


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_real_clip_seek_window():
    st = DecodeStats()
    frames = list(iter_frames(FACE3, start_s=2.0, end_s=3.0, max_side=100, stats=st))
    t = np.array([f.t_s for f in frames])
    assert len(frames) == 25
    assert t[0] == pytest.approx(2.0) and t[-1] < 3.0
    assert frames[0].image.shape == (100, 100, 3)
    assert st.frames_decoded == 25


@pytest.mark.parametrize("rotation", [90, -90])
def test_probe_reports_display_rotation(tmp_path, rotation):
    from interview_guard.io.media import probe

    p = write_clip(tmp_path / "rot.mp4", n=6, rotation=rotation)
    assert probe(p).rotation == rotation % 360
    assert probe(write_clip(tmp_path / "plain.mp4", n=6)).rotation == 0
