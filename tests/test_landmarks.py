"""Tests of the landmark runners, the face/hand tracks, their npz files and the video scan cache."""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np
import pytest

from interview_guard.errors import InputError, ParameterError
from interview_guard.extract import cache as track_cache
from interview_guard.extract import video_scan
from interview_guard.extract.scan_results import VideoScan, load_track_npz, save_track_npz
from interview_guard.extract.video_scan import scan_video
from interview_guard.io import landmarks
from interview_guard.io.landmarks import (
    BLENDSHAPE_NAMES,
    FaceRunnerOptions,
    MonotonicMs,
    crop_to_frame,
    search_windows,
)
from interview_guard.io.video_decode import DecodeStats, iter_frames
from interview_guard.tracks import video as video_tracks
from interview_guard.tracks.video import FaceTrack, HandTrack, MotionTrack, PixelTrack

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"
needs_shared = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared test data not found at {DATA}")

FACE3 = DATA / "faces_video" / "retalking_face3.mp4"  # 590x590, 25 fps, 5.0 s talking head
OBAMA = DATA / "faces_video" / "stills" / "obama.jpg"
HANDS = DATA / "hands"

# MediaPipe face mesh indices used to check which way is up.
EYE_OUTER = [33, 263]
UPPER_LIP, CHIN = 13, 152


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return np.ascontiguousarray(img[..., ::-1])


def synthetic_tracks(rng, n: int = 12) -> tuple[FaceTrack, HandTrack]:
    present = rng.random(n) > 0.3
    lm = rng.random((n, 478, 3), dtype=np.float32)
    lm[~present] = np.nan
    bs = rng.random((n, 52), dtype=np.float32)
    bs[~present] = np.nan
    box = np.where(present[:, None], rng.random((n, 4)), np.nan).astype(np.float32)
    t = np.cumsum(rng.uniform(0.02, 0.05, n))
    face = FaceTrack(
        t_s=t,
        frame_index=np.arange(n) * 2,
        present=present,
        landmarks=lm,
        blendshapes=bs,
        box=box,
        n_faces=present.astype(np.int8),
        source=np.where(present, 1, 0),
        frame_size=(960, 540),
        meta={"fps": None, "counts": {"full": int(present.sum())}},
    )
    count = rng.integers(0, 3, n)
    hl = np.full((n, 2, 21, 3), np.nan, np.float32)
    hd = np.zeros((n, 2), np.int8)
    sc = np.zeros((n, 2), np.float32)
    for i, c in enumerate(count):
        hl[i, :c] = rng.random((c, 21, 3))
        hd[i, :c] = rng.choice([-1, 1], c)
        sc[i, :c] = rng.random(c)
    hands = HandTrack(
        t_s=t, frame_index=np.arange(n) * 2, count=count, landmarks=hl, handedness=hd, score=sc, frame_size=(960, 540)
    )
    return face, hands


# ----------------------------------------------------------------------------- pure helpers


def test_monotonic_ms_bumps_collisions():
    clock = MonotonicMs()
    assert [clock(t) for t in (0.0, 0.0004, 0.001, 0.0009, 0.5, 0.5)] == [0, 1, 2, 3, 500, 501]


def test_crop_to_frame_maps_back():
    pts = np.array([[0.0, 0.0, 0.1], [1.0, 1.0, -0.2], [0.5, 0.25, 0.0]], np.float32)
    out = crop_to_frame(pts, window=(100, 50, 200), frame_size=(1000, 500))
    np.testing.assert_allclose(out[:, 0], [0.1, 0.3, 0.2], atol=1e-6)
    np.testing.assert_allclose(out[:, 1], [0.1, 0.5, 0.2], atol=1e-6)
    np.testing.assert_allclose(out[:, 2], [0.02, -0.04, 0.0], atol=1e-6)


@pytest.mark.parametrize("w,h", [(1280, 720), (960, 540), (540, 960), (640, 640)])
def test_search_windows_cover_the_person_region(w, h):
    wins = search_windows(w, h)
    assert len(wins) == len(set(wins)) >= 2
    for x0, y0, side in wins:
        assert 0 <= x0 and 0 <= y0 and x0 + side <= w and y0 + side <= h
    sides = [s for _, _, s in wins]
    assert sides == sorted(sides, reverse=True)  # large windows first
    # Every point of the upper-centre region lies in some small window.
    small = [wd for wd in wins if wd[2] == min(sides)]
    for px, py in [(0.5 * w, 0.3 * h), (0.2 * w, 0.2 * h), (0.8 * w, 0.6 * h)]:
        assert any(x0 <= px <= x0 + s and y0 <= py <= y0 + s for x0, y0, s in small)


def test_bad_options():
    with pytest.raises(ParameterError):
        FaceRunnerOptions(num_faces=0).validate()
    with pytest.raises(ParameterError):
        FaceRunnerOptions(min_detection_confidence=1.5).validate()
    with pytest.raises(ParameterError):
        landmarks.HandRunnerOptions(num_hands=3).validate()


# ----------------------------------------------------------------------------- tracks and npz


def test_track_constants_match_the_landmarkers():
    assert video_tracks.BLENDSHAPE_NAMES == BLENDSHAPE_NAMES
    assert len(BLENDSHAPE_NAMES) == video_tracks.N_BLENDSHAPES == landmarks.N_BLENDSHAPES
    assert video_tracks.N_FACE_LANDMARKS == landmarks.N_FACE_LANDMARKS
    assert video_tracks.N_HAND_LANDMARKS == landmarks.N_HAND_LANDMARKS


def test_npz_round_trip(tmp_path, rng):
    face, hands = synthetic_tracks(rng)
    save_track_npz(tmp_path / "face.npz", face)
    save_track_npz(tmp_path / "hands.npz", hands)
    f2 = load_track_npz(tmp_path / "face.npz", FaceTrack)
    h2 = load_track_npz(tmp_path / "hands.npz", HandTrack)
    assert f2 == face and h2 == hands
    assert f2.blendshape_names == BLENDSHAPE_NAMES and f2.frame_size == (960, 540)
    assert f2.meta == face.meta
    assert np.isnan(f2.landmarks[~face.present]).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.npz", "hands.npz"]  # no temp files left


def test_select_and_len(rng):
    face, hands = synthetic_tracks(rng, n=10)
    sub = face.select(face.present)
    assert len(sub) == int(face.present.sum()) and sub.present.all()
    assert np.array_equal(sub.t_s, face.t_s[face.present])
    idx = hands.select(np.array([0, 3, 5]))
    assert len(idx) == 3 and np.array_equal(idx.count, hands.count[[0, 3, 5]])
    assert len(face.select(np.zeros(10, bool))) == 0
    with pytest.raises(ParameterError):
        face.select(np.ones(3, bool))
    assert np.array_equal(face.blendshape("jawOpen"), face.blendshapes[:, 25], equal_nan=True)


def test_track_shapes_are_checked():
    with pytest.raises(ParameterError, match="landmarks"):
        FaceTrack(
            t_s=np.zeros(2),
            frame_index=np.zeros(2),
            present=np.zeros(2, bool),
            landmarks=np.zeros((2, 468, 3)),
            blendshapes=np.zeros((2, 52)),
            box=np.zeros((2, 4)),
            n_faces=np.zeros(2),
            source=np.zeros(2),
        )
    assert len(HandTrack.empty((640, 480), n=3)) == 3


def test_damaged_or_foreign_npz(tmp_path, rng):
    face, hands = synthetic_tracks(rng)
    save_track_npz(tmp_path / "hands.npz", hands)
    with pytest.raises(InputError, match="not a face track"):
        load_track_npz(tmp_path / "hands.npz", FaceTrack)
    bad = tmp_path / "bad.npz"
    bad.write_bytes((tmp_path / "hands.npz").read_bytes()[:300])
    with pytest.raises(InputError, match=r"bad\.npz: damaged track file"):
        load_track_npz(bad, HandTrack)
    with pytest.raises(InputError, match="not found"):
        load_track_npz(tmp_path / "none.npz", FaceTrack)


# ----------------------------------------------------------------------------- cache (no MediaPipe)


@pytest.fixture
def fake_scan(monkeypatch, rng):
    """Replace the video scan by a counter returning synthetic tracks."""
    calls = []
    face, hands = synthetic_tracks(rng)
    n = len(face)
    motion = MotionTrack(face.t_s, np.zeros(n), np.zeros(n), np.full(n, np.inf))

    def fake(path, **kw):
        calls.append(kw)
        stats = {"mode": kw.get("mode", "adaptive"), "decode": DecodeStats(path=str(path), last_t=0.5).to_dict()}
        return VideoScan(face, hands, PixelTrack.empty(n), motion, [(0.1, 0.2)], {0.1: b"jpeg"}, stats)

    monkeypatch.setattr(video_scan, "scan_video", fake)
    return calls, face, hands


def test_cache_hit_miss_and_rewrite(tmp_path, fake_scan):
    calls, face, hands = fake_scan
    video = tmp_path / "video.mp4"
    video.write_bytes(b"not really a video, but it has content" * 100)
    cache = tmp_path / "cache"
    scan = track_cache.load_or_scan(video, cache_dir=cache)
    assert len(calls) == 1 and scan.face == face and scan.hands == hands
    entries = list(cache.rglob("*.npz"))
    assert len(entries) == 1
    scan = track_cache.load_or_scan(video, cache_dir=cache)
    assert len(calls) == 1 and scan.face == face and scan.hands == hands and scan.decode_stats.last_t == 0.5
    assert scan.keyframes == {0.1: b"jpeg"} and scan.active == [(0.1, 0.2)]
    # Other parameters: another entry.
    track_cache.load_or_scan(video, cache_dir=cache, max_side=960)
    assert len(calls) == 2 and len(list(cache.rglob("*.npz"))) == 2
    # A damaged entry is ignored and rewritten.
    entries[0].write_bytes(b"garbage")
    scan = track_cache.load_or_scan(video, cache_dir=cache)
    assert len(calls) == 3 and scan.face == face
    assert VideoScan.load(entries[0]).face == face
    # Same content under another name: hit. Changed content: miss.
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(video.read_bytes())
    track_cache.load_or_scan(copy, cache_dir=cache)
    assert len(calls) == 3
    copy.write_bytes(video.read_bytes() + b"!")
    track_cache.load_or_scan(copy, cache_dir=cache)
    assert len(calls) == 4


def test_cache_dir_from_environment(tmp_path, fake_scan, monkeypatch):
    calls, _, _ = fake_scan
    video = tmp_path / "v.mp4"
    video.write_bytes(b"abc" * 1000)
    monkeypatch.delenv(track_cache.CACHE_ENV, raising=False)
    track_cache.load_or_scan(video)
    track_cache.load_or_scan(video)
    assert len(calls) == 2  # no cache configured: always scans
    monkeypatch.setenv(track_cache.CACHE_ENV, str(tmp_path / "envcache"))
    track_cache.load_or_scan(video, mode="full")
    scan = track_cache.load_or_scan(video, mode="full")
    assert len(calls) == 3 and scan.stats["mode"] == "full"
    assert len(list((tmp_path / "envcache").rglob("*.npz"))) == 1


def test_cache_key_depends_on_parameters(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"xyz" * 10)
    k = track_cache.scan_cache_key(video)
    assert k == track_cache.scan_cache_key(video)
    assert k == track_cache.scan_cache_key(video, parallel=False, progress=print)  # same result either way
    assert k != track_cache.scan_cache_key(video, max_side=720)
    assert k != track_cache.scan_cache_key(video, face_options=FaceRunnerOptions(small_face_fallback=False))
    assert k != track_cache.scan_cache_key(video, mode="full")


# ----------------------------------------------------------------------------- MediaPipe on real data


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_face_landmarks_on_a_talking_head():
    seen = []
    scan = scan_video(
        FACE3,
        mode="full",
        max_side=960,
        progress=lambda stage, completed, total: seen.append((stage, completed, total)),
    )
    face, st = scan.face, scan.decode_stats
    assert len(face) == st.frames_yielded == 125
    assert face.frame_size == (590, 590)
    assert face.presence_rate > 0.9
    lm = face.landmarks[face.present]
    assert lm.shape[1:] == (478, 3)
    assert np.all((lm[..., :2] >= 0) & (lm[..., :2] <= 1))
    jaw = face.blendshape("jawOpen")[face.present]
    assert np.nanmax(jaw) - np.nanmin(jaw) > 0.2 and np.nanstd(jaw) > 0.03  # she is talking
    # Upright: eyes above the upper lip above the chin.
    assert np.all(lm[:, EYE_OUTER, 1].mean(axis=1) < lm[:, UPPER_LIP, 1])
    assert np.all(lm[:, UPPER_LIP, 1] < lm[:, CHIN, 1])
    assert np.all(face.box[face.present, 2] > face.box[face.present, 0])
    assert seen[-1] == ("video", 125, 125) and all(s == "video" and c <= t for s, c, t in seen)
    assert face.meta["counts"]["full"] >= 0.9 * 125


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_small_face_found_by_the_crop_fallback():
    """A real talking head pasted at 200x200 into a 1280x720 frame: the face is ~5 % of the width."""
    x0, y0, side = 760, 90, 200
    canvas = np.full((720, 1280, 3), 70, np.uint8)

    def run(fallback: bool) -> tuple[float, list[np.ndarray]]:
        found = []
        n = 0
        with landmarks.FaceLandmarkerRunner(FaceRunnerOptions(small_face_fallback=fallback)) as runner:
            for fr in iter_frames(FACE3, max_side=side, end_s=1.2):
                frame = canvas.copy()
                frame[y0 : y0 + side, x0 : x0 + side] = fr.image
                obs = runner.process(frame, fr.t_s)
                n += 1
                if obs.present:
                    found.append(obs.landmarks)
        return len(found) / n, found

    plain_rate, _ = run(False)
    rate, found = run(True)
    print(f"small face detection rate: plain {plain_rate:.2f}, with crop fallback {rate:.2f}")
    assert rate >= 0.9 and rate >= plain_rate
    tol = 0.01
    for lm in found:
        assert lm[:, 0].min() >= x0 / 1280 - tol and lm[:, 0].max() <= (x0 + side) / 1280 + tol
        assert lm[:, 1].min() >= y0 / 720 - tol and lm[:, 1].max() <= (y0 + side) / 720 + tol
        assert lm[EYE_OUTER, 1].mean() < lm[UPPER_LIP, 1] < lm[CHIN, 1]


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_small_face_in_a_still():
    """obama.jpg scaled so the face is ~10 % of a 1280x720 frame, shown for 1.2 s at 10 fps."""
    import cv2

    still = read_rgb(OBAMA)
    width = 500
    small = cv2.resize(still, (width, round(still.shape[0] * width / still.shape[1])), interpolation=cv2.INTER_AREA)
    x0, y0 = 650, 100
    frame = np.full((720, 1280, 3), 110, np.uint8)
    h = min(small.shape[0], 720 - y0)
    frame[y0 : y0 + h, x0 : x0 + width] = small[:h]
    with landmarks.FaceLandmarkerRunner(FaceRunnerOptions(small_face_fallback=False)) as plain:
        plain_hits = sum(plain.process(frame, k / 10).present for k in range(12))
    with landmarks.FaceLandmarkerRunner() as runner:
        obs = [runner.process(frame, k / 10) for k in range(12)]
        counts = dict(runner.counts)
    hits = [o for o in obs if o.present]
    print(f"still: plain {plain_hits}/12, with fallback {len(hits)}/12, {counts}")
    assert len(hits) >= 10 and counts["search"] >= 1
    for o in hits:
        bx0, by0, bx1, by1 = o.box
        assert (bx1 - bx0) * 1280 == pytest.approx(0.26 * width, rel=0.35)  # face ~26 % of the photo width
        assert x0 / 1280 <= bx0 < bx1 <= (x0 + width) / 1280
        assert y0 / 720 <= by0 < by1 <= (y0 + h) / 720


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_rotated_recording_gives_upright_landmarks(tmp_path):
    """Frames stored turned clockwise, with a display matrix saying 'turn back 90 degrees'."""
    import av

    upright = [f.image for f in iter_frames(FACE3, max_side=160, end_s=0.4)]
    stored = [np.ascontiguousarray(np.rot90(img, -1)) for img in upright]
    p = tmp_path / "portrait.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 160, "yuv420p"
        s.codec_context.time_base = fractions.Fraction(1, 1000)
        s.set_display_rotation(90)
        for i, img in enumerate(stored):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = i * 40, fractions.Fraction(1, 1000)
            for pk in s.encode(vf):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    scan = scan_video(p, mode="full")
    face, st = scan.face, scan.decode_stats
    assert st.rotation == 90
    assert face.present.mean() >= 0.8
    lm = face.landmarks[face.present]
    assert np.all(lm[:, EYE_OUTER, 1].mean(axis=1) < lm[:, CHIN, 1])


@pytest.mark.video
@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("name", ["handoverface_23", "handoverface_24", "handoverface_28", "handoverface_30"])
def test_hand_landmarks_on_hand_over_face_photos(name):
    import cv2

    img = read_rgb(HANDS / f"{name}.jpg")
    mask = cv2.imread(str(HANDS / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    with landmarks.HandLandmarkerRunner(image_mode=True) as runner:
        obs = runner.process(img)
    assert obs.count >= 1
    h, w = mask.shape
    best = 0.0
    for slot in range(2):
        pts = obs.landmarks[slot]
        if np.isnan(pts).all():
            continue
        assert obs.handedness[slot] in (-1, 1) and 0.5 < obs.score[slot] <= 1.0
        px = np.clip((pts[:, 0] * w).astype(int), 0, w - 1)
        py = np.clip((pts[:, 1] * h).astype(int), 0, h - 1)
        best = max(best, float(mask[py, px].mean()))
    assert best >= 0.8  # the landmarks lie on the hand the mask marks


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_two_hands_keep_their_slots_in_video_mode():
    img = read_rgb(HANDS / "egohands_01.jpg")
    with landmarks.HandLandmarkerRunner() as runner:
        obs = [runner.process(img, k / 30) for k in range(5)]
    assert all(o.count == 2 for o in obs)
    wrists = np.array([o.landmarks[:, 0, :2] for o in obs])  # (frames, slot, xy)
    assert np.abs(np.diff(wrists, axis=0)).max() < 0.05  # no slot swap on a still scene
    assert all(np.array_equal(o.handedness, obs[0].handedness) for o in obs)


@pytest.mark.video
@pytest.mark.shared
@needs_shared
def test_cache_hit_does_not_run_mediapipe(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    s1 = track_cache.load_or_scan(FACE3, cache_dir=cache)  # adaptive: about one landmarked frame a second
    f1, h1, st1 = s1.face, s1.hands, s1.decode_stats
    assert len(f1) == len(h1) >= 5 and f1.present.all()

    class Boom:
        def __init__(self, *a, **k):
            raise AssertionError("MediaPipe should not run on a cache hit")

    monkeypatch.setattr(landmarks, "FaceLandmarkerRunner", Boom)
    monkeypatch.setattr(landmarks, "HandLandmarkerRunner", Boom)
    s2 = track_cache.load_or_scan(FACE3, cache_dir=cache)
    f2, h2, st2 = s2.face, s2.hands, s2.decode_stats
    assert f2 == f1 and h2 == h1 and st2 == st1
    assert s2.pixels == s1.pixels and s2.motion == s1.motion and s2.keyframes == s1.keyframes
    with pytest.raises(AssertionError, match="should not run"):
        track_cache.load_or_scan(FACE3, base_fps=2.0, cache_dir=cache)  # other key: would scan


def test_missing_models_raise_model_error(tmp_path):
    from interview_guard.errors import ModelError

    with pytest.raises(ModelError, match="manifest"):
        landmarks.FaceLandmarkerRunner(models_dir=tmp_path)
    with pytest.raises(ModelError, match="manifest"):
        landmarks.HandLandmarkerRunner(models_dir=tmp_path)


def test_extraction_rejects_bad_video_before_loading_models(tmp_path, monkeypatch):
    from interview_guard.errors import MediaError

    class Boom:
        def __init__(self, *a, **k):
            raise AssertionError("models must not load for an unusable video")

    monkeypatch.setattr(landmarks, "FaceLandmarkerRunner", Boom)
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mp4: file is empty"):
        scan_video(p)
