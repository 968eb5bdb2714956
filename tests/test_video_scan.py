"""Tests of the adaptive video scan (extract/video_scan.py and the modules it is built from).

Fast tests use a tiny generated clip and fake landmarkers (patched into
``interview_guard.io.landmarks``), so the sampler's bookkeeping -- time order,
look-back, hold, buffer bound, keyframes -- is checked without MediaPipe.
The ``video``/``shared`` tests run the real landmarkers on a generated
clip (a face photo with a real hand photo sweeping across it) and on a
real clip.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from interview_guard.errors import InputError, MediaError, ParameterError
from interview_guard.extract import pixels, schedule
from interview_guard.extract.keyframes import HAND_KEYFRAMES_PER_INTERVAL, KEYFRAMES_PER_INTERVAL, KeyFrameCollector
from interview_guard.extract.scan_results import VideoScan
from interview_guard.extract.schedule import ScanTrigger
from interview_guard.extract.video_scan import scan_video
from interview_guard.io import landmarks
from interview_guard.io.landmarks import FaceObservation, FaceRunnerOptions, HandObservation, HandRunnerOptions
from interview_guard.signals import occlusion as occ
from interview_guard.signals.face_geometry import FACE_OVAL
from interview_guard.tracks.video import FaceTrack, HandTrack, MotionTrack, PixelTrack

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared test data not found at {DATA}")
OBAMA = DATA / "faces_video" / "stills" / "obama.jpg"
HANDS = DATA / "hands"
HAMILTON = DATA / "faces_video" / "face_recognition_short_hamilton_clip.mp4"

FPS = 30
SWEEP = (2.0, 3.0)  # the hand is in the picture during this span


# ----------------------------------------------------------------------------- helpers


def encode(path: Path, frames, fps: int = FPS) -> Path:
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        first = True
        for img in frames:
            if first:
                vs.height, vs.width = img.shape[:2]
                vs.pix_fmt = "yuv420p"
                vs.options = {"preset": "ultrafast", "crf": "18"}
                first = False
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def square_frames(seconds: float = 6.0, size=(160, 120), move=SWEEP):
    """Static textured background; a bright square crosses the middle during ``move``."""
    w, h = size
    rng = np.random.default_rng(3)
    bg = np.clip(100 + rng.normal(0, 12, (h, w, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    for k in range(int(round(seconds * FPS))):
        t = k / FPS
        img = bg.copy()
        if move[0] <= t < move[1]:
            x = int(-20 + (w + 40) * (t - move[0]) / (move[1] - move[0]))
            img[h // 2 - 12 : h // 2 + 12, max(x, 0) : max(x + 24, 0)] = 230
        yield img


def oval_landmarks(box=(0.35, 0.25, 0.65, 0.75)) -> np.ndarray:
    """478 face landmarks: the face-oval points on an ellipse inscribed in ``box``, the rest at its centre."""
    x0, y0, x1, y1 = box
    lm = np.zeros((478, 3), np.float32)
    lm[:, 0], lm[:, 1] = (x0 + x1) / 2, (y0 + y1) / 2
    ang = np.linspace(-np.pi / 2, 1.5 * np.pi, len(FACE_OVAL), endpoint=False)
    lm[FACE_OVAL, 0] = (x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(ang)
    lm[FACE_OVAL, 1] = (y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(ang)
    return lm


def occlusion_events(face, hands, **kw):
    """(start, end) of the occlusion events, found as the face_occlusion analyzer finds them."""
    w, h = face.frame_size if face.frame_size[1] else (1, 1)
    overlap = occ.frame_overlap(face.landmarks, hands.landmarks, face.present, hands.count)
    near = occ.hand_near_face(face.landmarks, hands.landmarks, face.present, hands.count, aspect=w / h)
    events = occ.find_occlusion_events(t_s=face.t_s, overlap=overlap, near=near, hand_count=hands.count, **kw)
    return [(ev.start_s, ev.end_s) for ev in events]


class FakeFace:
    """Stands in for FaceLandmarkerRunner: a fixed face, absent after ``lose_after`` seconds."""

    instances: list = []
    lose_after = math.inf

    def __init__(self, options=None, *, models_dir=None):
        self.options = options or FaceRunnerOptions()
        self.counts = {"full": 0, "track": 0, "search": 0, "none": 0}
        self.times: list[float] = []
        self.sizes: set = set()
        FakeFace.instances.append(self)

    def process(self, image, t_s):
        self.times.append(t_s)
        self.sizes.add(image.shape)
        if t_s > self.lose_after:
            self.counts["none"] += 1
            return FaceObservation()
        self.counts["full"] += 1
        lm = oval_landmarks()
        box = np.array([0.35, 0.25, 0.65, 0.75], np.float32)
        return FaceObservation(True, lm, np.zeros(52, np.float32), box, 1, "full")

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeHands(FakeFace):
    def __init__(self, options=None, *, models_dir=None, image_mode=False):
        self.options = options or HandRunnerOptions()
        self.times = []
        FakeFace.instances.append(self)

    def process(self, image, t_s=0.0):
        self.times.append(t_s)
        nan = np.full((2, 21, 3), np.nan, np.float32)
        return HandObservation(0, nan, np.zeros(2, np.int8), np.zeros(2, np.float32))


@pytest.fixture
def fakes(monkeypatch):
    FakeFace.instances = []
    FakeFace.lose_after = math.inf
    monkeypatch.setattr(landmarks, "FaceLandmarkerRunner", FakeFace)
    monkeypatch.setattr(landmarks, "HandLandmarkerRunner", FakeHands)
    return FakeFace


@pytest.fixture(scope="module")
def square_clip(tmp_path_factory):
    return encode(tmp_path_factory.mktemp("scan") / "square.mp4", square_frames())


# ----------------------------------------------------------------------------- parameters and pure parts


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "sparse"},
        {"base_fps": 0},
        {"dense_fps": float("nan")},
        {"base_fps": 5.0, "dense_fps": 2.0},
        {"lookback_s": -0.1},
        {"hold_s": 6.0},
        {"max_side": 10},
        {"trigger": ScanTrigger(k_mad=-1)},
        {"trigger": ScanTrigger(window_s=0.5)},
    ],
)
def test_bad_parameters_raise_before_decoding(kw, tmp_path):
    with pytest.raises(ParameterError):
        scan_video(tmp_path / "missing.mp4", **kw)


def test_scan_parameters_fill_defaults_for_cache_keys():
    import json

    from interview_guard.extract.scan_results import SCAN_FORMAT_VERSION
    from interview_guard.extract.video_scan import scan_parameters

    d = scan_parameters()
    assert d == scan_parameters(parallel=False, progress=print, models_dir="/x", trigger=ScanTrigger())
    assert d["format"] == SCAN_FORMAT_VERSION and d["mode"] == "adaptive" and d["max_side"] == 640
    assert d["trigger"]["k_mad"] == ScanTrigger().k_mad and d["hand_options"]["num_hands"] == 2
    assert scan_parameters(hold_s=0.5) != d and scan_parameters(max_side=960) != d
    json.dumps(d)
    with pytest.raises(TypeError):
        scan_parameters(fps=3)


def test_unusable_files_raise_media_error(tmp_path, fakes):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError):
        scan_video(bad)
    with pytest.raises(MediaError):
        scan_video(tmp_path / "missing.mp4")


def test_intervals_merge_and_cover():
    iv = schedule.Intervals()
    iv.add(1.0, 2.0)
    iv.add(1.8, 3.0)  # overlapping: merged
    iv.add(3.2, 3.5)  # a gap: kept apart
    iv.add(5.0, 6.0)
    iv.add(0.5, 0.8)  # before the others (a landmark trigger behind the head)
    assert iv.items == [[0.5, 0.8], [1.0, 3.0], [3.2, 3.5], [5.0, 6.0]]
    assert iv.covers(1.0) and not iv.covers(4.0) and iv.covers(5.5)
    assert iv.items == [[5.0, 6.0]]  # the past was dropped


def test_motion_baseline_is_robust():
    tr = ScanTrigger(k_mad=5.0, floor=1.0, ratio=1.8, window_s=2.0, min_history_s=0.5)
    b = schedule.MotionBaseline(tr, fps=30)
    assert b.threshold() == tr.warmup_floor
    rng = np.random.default_rng(0)
    for v in rng.normal(2.0, 0.2, 60):
        b.push(v)
    thr = b.threshold()
    assert 2.5 < thr < 4.5  # median + 5 robust sigmas, or 1.8 x median
    for v in [20.0] * 5:  # a few outliers do not move it
        b.push(v)
    assert abs(b.threshold() - thr) < 0.5
    still = schedule.MotionBaseline(tr, fps=30)
    for _ in range(60):
        still.push(0.05)
    assert still.threshold() == tr.floor  # compression noise on a still picture never triggers


def test_pixel_row_measures_ring_inner_background_and_hand():
    rng = np.random.default_rng(1)
    h, w = 180, 320
    prev = np.full((h, w), 90, np.uint8)
    lm = oval_landmarks()
    gray = prev.copy()
    # a change on the outline (left edge of the oval) only
    gray[80:100, int(0.35 * w) - 3 : int(0.35 * w) + 3] = 200
    hand = np.full((2, 21, 3), np.nan, np.float32)
    ring, inner, bg, tex, luma, delta = pixels.pixel_row(gray, prev, lm, hand)
    assert ring > 1 and inner == 0 and bg == 0
    assert 85 < luma < 100 and tex >= 0 and np.isnan(delta)
    # background motion outside the 1.6x face box
    gray2 = prev.copy()
    gray2[:20, :40] = rng.integers(0, 255, (20, 40))
    assert pixels.pixel_row(gray2, prev, lm, hand)[2] > 0
    # a bright hand patch inside the face: its landmarks see it, the face mean barely does
    gray3 = prev.copy()
    cx, cy = int(0.5 * w), int(0.5 * h)
    gray3[cy - 6 : cy + 6, cx - 6 : cx + 6] = 220
    hand[0, :, 0], hand[0, :, 1] = 0.5, 0.5
    hand[0, :, :2] += np.linspace(-0.01, 0.01, 21)[:, None]
    d = pixels.pixel_row(gray3, None, lm, hand)
    assert np.isnan(d[0])  # no previous frame: no motion values
    assert d[5] > 100
    # no face: all NaN
    assert all(np.isnan(v) for v in pixels.pixel_row(gray, prev, np.full((478, 3), np.nan, np.float32), hand))


def test_occlusion_events_merge_close_runs():
    n = 10
    face = FaceTrack.empty((640, 480), n)
    hands = HandTrack.empty((640, 480), n)
    face.t_s[:] = hands.t_s[:] = np.arange(n) / 10
    face.present[:] = True
    face.landmarks[:] = oval_landmarks()
    over = [1, 2, 4, 8]  # 2 -> 4 is 0.2 s apart (merged), 4 -> 8 is 0.4 s (separate)
    for i in over:
        hands.count[i] = 1
        ang = np.linspace(0, 6, 21)
        hands.landmarks[i, 0] = np.stack([0.5 + 0.1 * np.cos(ang), 0.5 + 0.1 * np.sin(ang), np.zeros(21)], 1)
    # lost_window_s=0: only rows with a hand over the face count (no hand vanishing after it)
    assert occlusion_events(face, hands, lost_window_s=0.0) == [(0.1, 0.4), (0.8, 0.8)]


def test_track_shapes_are_checked():
    with pytest.raises(ParameterError):
        PixelTrack(np.zeros(3), *(np.zeros(2) for _ in PixelTrack.COLUMNS))
    with pytest.raises(ParameterError):
        MotionTrack(np.zeros(3), np.zeros(3), np.zeros(4), np.zeros(3))


# ----------------------------------------------------------------------------- the sampler (fake landmarkers)


def test_adaptive_sampler_with_fake_landmarkers(square_clip, fakes):
    calls = []
    scan = scan_video(square_clip, lookback_s=0.6, hold_s=1.0, progress=lambda *a, **k: calls.append((a, k)))
    face_runner, hand_runner = FakeFace.instances
    # every landmarked frame reached both landmarkers in strictly increasing time order
    assert face_runner.times == hand_runner.times == list(scan.face.t_s)
    assert np.all(np.diff(scan.face.t_s) > 0)
    assert np.array_equal(scan.face.t_s, scan.hands.t_s) and np.array_equal(scan.face.t_s, scan.pixels.t_s)
    # one motion row per decoded frame; the square shows in the face zone and nowhere else
    st = scan.stats
    assert len(scan.motion) == st["frames_decoded"] == 6 * FPS
    zone = scan.motion.zone_motion
    during = (scan.motion.t_s > 2.3) & (scan.motion.t_s < 2.7)
    assert zone[during].max() > 5 * max(zone[~((scan.motion.t_s > 1.9) & (scan.motion.t_s < 3.1))].max(), 0.2)
    # one active interval: from lookback_s before the square reaches the zone to hold_s after it leaves
    assert len(scan.active) == 1
    a, b = scan.active[0]
    first_trig = scan.motion.t_s[scan.motion.triggered].min()
    last_trig = scan.motion.t_s[scan.motion.triggered].max()
    assert abs(a - (first_trig - 0.6)) <= 1.5 / FPS
    assert abs(b - (last_trig + 1.0)) <= 1.5 / FPS
    assert a < 2.4 and b > 2.8
    # dense inside, base rate outside
    inside = scan.active_mask(scan.face.t_s)
    gaps_in = np.diff(scan.face.t_s[inside])
    assert np.allclose(gaps_in, 2 / FPS, atol=1e-3)  # 15 fps from a 30 fps source
    outside = scan.face.t_s[~inside]
    assert np.all(np.diff(outside[outside < a]) >= 1.0 - 0.5 / FPS)
    assert st["frames_landmarked"] < 0.4 * st["frames_decoded"]
    # pixels: the ring moves while the square crosses the face outline
    ring = scan.pixels.ring_motion
    assert np.nanmax(ring[inside]) > 5
    # the delay line is bounded: lookback_s, plus the head's lead of 0.5 s in parallel mode
    assert st["buffer_max_frames"] <= st["buffer_cap_frames"] == math.ceil(0.6 * FPS) + FPS // 2 + 2
    # keyframes: inside active intervals, at most KEYFRAMES_PER_INTERVAL each, small JPEGs
    assert 1 <= len(scan.keyframes) <= KEYFRAMES_PER_INTERVAL + HAND_KEYFRAMES_PER_INTERVAL
    assert scan.active_mask(list(scan.keyframes)).all()
    img = scan.keyframe_image(next(iter(scan.keyframes)))
    assert max(img.shape[:2]) <= 320 and img.shape[2] == 3
    # progress hook
    assert calls and calls[-1][0] == ("video",) and calls[-1][1]["completed"] == st["frames_decoded"]


def test_full_mode_landmarks_every_frame(square_clip, fakes):
    scan = scan_video(square_clip, mode="full")
    assert len(scan.face) == len(scan.motion) == scan.stats["frames_decoded"]
    assert np.array_equal(scan.face.frame_index, np.arange(len(scan.face)))
    assert scan.active == [(scan.motion.t_s[0], scan.motion.t_s[-1])]
    assert len(scan.keyframes) <= KEYFRAMES_PER_INTERVAL + HAND_KEYFRAMES_PER_INTERVAL
    assert np.isfinite(scan.pixels.ring_motion[1:]).all()


def test_landmark_size_follows_max_side(square_clip, fakes):
    scan_video(square_clip, max_side=80)
    assert FakeFace.instances[0].sizes == {(60, 80, 3)}
    assert scan_video(square_clip, max_side=80).face.frame_size == (80, 60)


def test_display_rotation_gives_upright_images(tmp_path, fakes):
    import fractions

    import av

    frames = list(square_frames(seconds=1.0))
    for img in frames:
        img[:10] = 250  # a band along the top of the stored picture
    p = tmp_path / "rot.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        s.codec_context.time_base = fractions.Fraction(1, 1000)
        s.set_display_rotation(90)  # shown turned 90 degrees counter-clockwise: the band on the left
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = round(i * 1000 / FPS), fractions.Fraction(1, 1000)
            for pk in s.encode(vf):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    seen = []
    original = FakeFace.process
    FakeFace.process = lambda self, image, t_s: (seen.append(image), original(self, image, t_s))[1]
    try:
        scan = scan_video(p, max_side=80)
    finally:
        FakeFace.process = original
    assert scan.stats["decode"]["rotation"] == 90
    assert scan.face.frame_size == (60, 80) and seen[0].shape == (80, 60, 3)
    assert scan.motion.thumb_size == (120, 160) and scan.pixels.work_size == (120, 160)
    img = seen[0].mean(axis=2)
    assert img[:, :4].mean() > img[:, -4:].mean() + 80


def test_lost_face_keeps_dense_only_briefly(square_clip, fakes):
    FakeFace.lose_after = 4.0  # after the square has gone
    scan = scan_video(square_clip, trigger=ScanTrigger(face_lost_s=1.0))
    assert scan.stats["triggers_face_lost"] > 0
    t_lost = scan.face.t_s[~scan.face.present].min()  # the first landmarked frame without the face
    assert t_lost <= 5.0 + 1.5 / FPS  # within a base period of the loss
    late = [(a, b) for a, b in scan.active if a > 4.0]
    assert late and abs(late[0][0] - t_lost) <= 1.5 / FPS  # dense from the next frame on (no look-back)
    assert all(b <= t_lost + 1.0 + 1.5 / FPS for _, b in late)  # for at most face_lost_s
    assert not scan.active_mask(scan.face.t_s[scan.face.t_s > t_lost + 1.1]).any()
    assert not scan.face.present[scan.face.t_s > 4.0].any()
    assert np.isnan(scan.pixels.face_luma[scan.face.t_s > 4.0]).all()


def test_serial_delay_line_holds_lookback_s(square_clip, fakes):
    scan = scan_video(square_clip, lookback_s=0.6, parallel=False)
    assert scan.stats["buffer_max_frames"] == math.ceil(0.6 * FPS) + 1
    scan = scan_video(square_clip, lookback_s=0.0, parallel=False)
    assert scan.stats["buffer_max_frames"] == 1
    a, _ = scan.active[0]
    assert a >= scan.motion.t_s[scan.motion.triggered].min() - 1e-9  # no look-back


@pytest.mark.parametrize("lookback_s", [0.0, 0.6])
def test_parallel_and_serial_scans_are_identical(square_clip, fakes, lookback_s):
    a = scan_video(square_clip, lookback_s=lookback_s, parallel=True)
    b = scan_video(square_clip, lookback_s=lookback_s, parallel=False)
    assert a.face == b.face and a.hands == b.hands and a.pixels == b.pixels and a.motion == b.motion
    assert a.active == b.active and a.keyframes == b.keyframes


def test_errors_in_the_landmarkers_stop_the_decoding_thread(square_clip, fakes, monkeypatch):
    import threading

    original = FakeFace.process

    def boom(self, image, t_s):
        if t_s > 1.0:
            raise RuntimeError("landmarker failed")
        return original(self, image, t_s)

    monkeypatch.setattr(FakeFace, "process", boom)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="landmarker failed"):
        scan_video(square_clip)
    assert threading.active_count() == before


def test_save_load_round_trip(square_clip, fakes, tmp_path):
    scan = scan_video(square_clip)
    p = scan.save(tmp_path / "sub" / "scan.npz")
    back = VideoScan.load(p)
    assert back.face == scan.face and back.hands == scan.hands
    assert back.pixels == scan.pixels and back.motion == scan.motion
    assert back.active == scan.active and back.keyframes == scan.keyframes
    assert back.stats == scan.stats
    assert back.decode_stats.frames_decoded == scan.stats["frames_decoded"]
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_load_rejects_damaged_or_foreign_files(tmp_path):
    with pytest.raises(InputError):
        VideoScan.load(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 junk")
    with pytest.raises(InputError):
        VideoScan.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", kind=np.array("tracks"), version=np.array(1))
    with pytest.raises(InputError, match="not a video scan"):
        VideoScan.load(tmp_path / "other.npz")


# ----------------------------------------------------------------------------- real landmarkers


def hand_cutout(name: str = "handoverface_24"):
    import cv2

    img = cv2.cvtColor(cv2.imread(str(HANDS / f"{name}.jpg")), cv2.COLOR_BGR2RGB)
    m = (cv2.imread(str(HANDS / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(m)
    m = (lab == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(m)
    return img[y : y + h, x : x + w], m[y : y + h, x : x + w].astype(np.float32)


def face_sweep_frames(seconds: float = 6.0):
    """obama.jpg in a 640x480 frame; a real hand photo sweeps across the face during SWEEP."""
    import cv2

    face = cv2.cvtColor(cv2.imread(str(OBAMA)), cv2.COLOR_BGR2RGB)
    fh = 480
    fw = int(round(face.shape[1] * fh / face.shape[0]))
    bg = np.full((480, 640, 3), 60, np.uint8)
    x0 = (640 - fw) // 2
    bg[:, x0 : x0 + fw] = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)
    himg, ha = hand_cutout()
    s = 230 / ha.shape[0]
    himg = cv2.resize(himg, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    ha = cv2.GaussianBlur(cv2.resize(ha, None, fx=s, fy=s), (0, 0), 1.5)[..., None]
    hh, hw = ha.shape[:2]
    for k in range(int(round(seconds * FPS))):
        t = k / FPS
        img = bg.copy()
        if SWEEP[0] <= t < SWEEP[1]:
            u = (t - SWEEP[0]) / (SWEEP[1] - SWEEP[0])
            cx, cy = int(-hw / 2 + u * (640 + hw)), 200
            xa, xb = max(cx - hw // 2, 0), min(cx - hw // 2 + hw, 640)
            ya = cy - hh // 2
            if xb > xa:
                sx = xa - (cx - hw // 2)
                a = ha[:, sx : sx + xb - xa]
                under = img[ya : ya + hh, xa:xb]
                img[ya : ya + hh, xa:xb] = (a * himg[:, sx : sx + xb - xa] + (1 - a) * under).astype(np.uint8)
        yield img


@pytest.fixture(scope="module")
def sweep_scans(tmp_path_factory):
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    clip = encode(tmp_path_factory.mktemp("scan") / "sweep.mp4", face_sweep_frames())
    return scan_video(clip, mode="adaptive"), scan_video(clip, mode="full")


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_adaptive_scan_catches_a_hand_sweep(sweep_scans):
    ada, full = sweep_scans
    # an active interval covers the part of the sweep where the hand is over the face
    assert any(a <= 2.3 and b >= 2.75 for a, b in ada.active), ada.active
    assert ada.stats["active_s"] < 3.5
    assert ada.stats["frames_landmarked"] < 0.35 * full.stats["frames_landmarked"]
    assert full.stats["frames_landmarked"] == full.stats["frames_decoded"] == 6 * FPS
    # the face is found; the hand over it shows in the motion and pixel tracks
    assert ada.face.presence_rate > 0.9
    m = ada.motion
    sweep = (m.t_s >= 2.2) & (m.t_s <= 2.8)
    calm = (m.t_s < 1.8) | (m.t_s > 3.2)
    assert np.median(m.zone_motion[sweep]) > 5 * max(np.percentile(m.zone_motion[calm], 95), 0.2)
    px = ada.pixels
    on = (px.t_s >= 2.2) & (px.t_s <= 2.8)
    off = (px.t_s > 3.5) & np.isfinite(px.ring_motion)
    assert np.nanmax(px.ring_motion[on]) > 5 * max(np.nanmax(px.ring_motion[off]), 0.2)
    assert np.nanmax(px.inner_motion[on]) > 5 * max(np.nanmax(px.inner_motion[off]), 0.2)
    # the full-rate reference sees the hand over the face inside the active interval
    events = occlusion_events(full.face, full.hands)
    assert events and all(ada.active_mask([(a + b) / 2]).all() for a, b in events)
    assert np.isfinite(full.pixels.hand_inside_luma_delta).any()
    # keyframes only inside active intervals, bounded
    assert 1 <= len(ada.keyframes) <= (KEYFRAMES_PER_INTERVAL + HAND_KEYFRAMES_PER_INTERVAL) * len(ada.active)
    assert ada.active_mask(list(ada.keyframes)).all()


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_real_clip_hand_near_face_is_active():
    scan = scan_video(HAMILTON)
    assert scan.active_mask([4.4]).all(), scan.active
    assert scan.stats["frames_landmarked"] < scan.stats["frames_decoded"]
    assert scan.stats["buffer_max_frames"] <= scan.stats["buffer_cap_frames"]


def test_key_frames_follow_a_hand_in_the_face_zone():
    # 4 s of an active interval at 30 fps; a hand is in the face zone from 1.0 to 2.0 s
    kc = KeyFrameCollector(tol=0.5 / 30)
    img = np.zeros((48, 64, 3), np.uint8)
    for i in range(120):
        t = i / 30
        kc.offer(t, img, hand=1.0 <= t < 2.0)
    kc.close_interval()
    times = np.array(sorted(kc.frames))
    during = times[(times >= 1.0) & (times < 2.0)]
    # the crossing keeps a frame every 0.15 s, to the next frame (the middle is never far from one)
    assert 6 <= during.size <= 8 and np.max(np.diff(during)) <= 0.15 + 1 / 30 + 1e-6
    assert len(times) <= KEYFRAMES_PER_INTERVAL + HAND_KEYFRAMES_PER_INTERVAL
