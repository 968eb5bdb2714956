"""The threaded video scan's decoding thread (io/frame_queue.py, extract/scanner.py): same frames, clean stops.

The scan decodes on a helper thread that runs ahead of the motion pass through a bounded queue (issue #17). These
tests check that this changes nothing but the speed: the threaded scan gives the serial scan's result on good,
truncated and damaged files, and a file that does not decode, or a failure downstream, stops the thread with the
usual one-line error.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from interview_guard.errors import MediaError
from interview_guard.extract import scanner as scanner_mod
from interview_guard.extract.video_scan import scan_video
from interview_guard.io import landmarks
from interview_guard.io.frame_queue import BackgroundFrames
from interview_guard.io.video_decode import DecodeStats, iter_frames
from test_video_scan import FakeFace, FakeHands, encode, square_frames


@pytest.fixture
def fakes(monkeypatch):
    """Fake landmarkers (no MediaPipe): a fixed face, no hands."""
    FakeFace.instances = []
    monkeypatch.setattr(FakeFace, "lose_after", float("inf"))
    monkeypatch.setattr(landmarks, "FaceLandmarkerRunner", FakeFace)
    monkeypatch.setattr(landmarks, "HandLandmarkerRunner", FakeHands)
    return FakeFace


# ----------------------------------------------------------------------------- the queue itself


def test_background_frames_keeps_order_and_stays_bounded():
    seen_by = set()

    def items():
        for k in range(200):
            seen_by.add(threading.current_thread().name)
            yield k

    q = BackgroundFrames(items(), 7, name="ig-test-decode")
    out = []
    for k in q:
        if k % 50 == 0:
            time.sleep(0.02)  # a slow consumer: the producer fills the queue and waits
        out.append(k)
    q.close()
    assert out == list(range(200))
    assert q.cap == 7 and 1 <= q.max_len <= 7
    assert q.producer_wait_s > 0
    assert seen_by == {"ig-test-decode"}


def test_background_frames_raise_the_error_after_the_items_before_it():
    def items():
        yield from range(5)
        raise MediaError("video does not decode (boom)")

    got = []
    with BackgroundFrames(items(), 2) as q, pytest.raises(MediaError, match="boom"):
        for k in q:
            got.append(k)
    assert got == [0, 1, 2, 3, 4]


def test_close_stops_a_waiting_producer_and_runs_its_clean_up_on_its_thread():
    cleaned = []
    before = threading.active_count()

    def items():
        try:
            k = 0
            while True:
                yield k
                k += 1
        finally:
            cleaned.append(threading.current_thread().name)

    q = BackgroundFrames(items(), 3, name="ig-test-decode")
    assert [next(q), next(q)] == [0, 1]
    time.sleep(0.05)  # the producer fills the queue and waits for room
    q.close()
    assert cleaned == ["ig-test-decode"]
    assert threading.active_count() == before
    assert list(q) == []  # closed: nothing more comes out
    q.close()  # twice is fine


# ----------------------------------------------------------------------------- the threaded scan


def _same(a, b):
    assert a.face == b.face and a.hands == b.hands and a.pixels == b.pixels and a.motion == b.motion
    assert a.active == b.active and a.keyframes == b.keyframes
    assert a.stats["frames_decoded"] == b.stats["frames_decoded"]


def _clip(tmp_path, name="clip.mp4", seconds=6.0):
    import av

    path = tmp_path / name
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "18", "g": "30"}
        for img in square_frames(seconds):
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def test_threaded_scan_holds_a_bounded_queue_and_equals_the_serial_one(tmp_path, fakes, monkeypatch):
    clip = encode(tmp_path / "square.mp4", square_frames())
    monkeypatch.setattr(scanner_mod, "PREFETCH_BYTES", 160 * 120 * 3 // 2 * 10)  # ten frames of this size
    a = scan_video(clip, parallel=True)
    b = scan_video(clip, parallel=False)
    _same(a, b)
    pf = a.stats["prefetch"]
    assert pf["cap_frames"] == 10 and 1 <= pf["max_frames"] <= 10
    assert b.stats["prefetch"] is None


def test_threaded_scan_of_a_truncated_file_keeps_the_frames_before_the_damage(tmp_path, fakes):
    clip = _clip(tmp_path, "cut.mp4")
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    st = DecodeStats()
    expected = [f.t_s for f in iter_frames(clip, stats=st)]
    assert 30 <= len(expected) < 180 and st.truncated
    a = scan_video(clip, parallel=True)
    b = scan_video(clip, parallel=False)
    _same(a, b)
    assert np.array_equal(a.motion.t_s, expected)  # every frame before the cut, exact times
    assert a.stats["decode"]["truncated"] and a.stats["decode"]["finished"]


def test_threaded_scan_of_a_damaged_middle_goes_on_past_it(tmp_path, fakes):
    clip = _clip(tmp_path, "hole.mp4")
    data = bytearray(clip.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 3000] = np.random.default_rng(5).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    a = scan_video(clip, parallel=True)
    b = scan_video(clip, parallel=False)
    _same(a, b)
    assert a.stats["frames_decoded"] > 120


def _undecodable(tmp_path):
    """A valid container whose video packets are all noise."""
    clip = _clip(tmp_path, "noise.mp4", seconds=2.0)
    data = bytearray(clip.read_bytes())
    at = data.find(b"mdat") + 4
    data[at:] = np.random.default_rng(1).integers(0, 256, len(data) - at, dtype=np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    return clip


def test_a_file_that_does_not_decode_stops_the_decoding_thread_with_one_line(tmp_path, fakes):
    clip = _undecodable(tmp_path)
    before = threading.active_count()
    with pytest.raises(MediaError) as err:
        scan_video(clip, parallel=True)
    msg = str(err.value)
    assert "noise.mp4" in msg and "\n" not in msg
    assert "decod" in msg
    assert threading.active_count() == before


def test_the_cli_reports_a_file_that_does_not_decode_in_one_line(tmp_path):
    clip = _undecodable(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "scan", str(clip)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr
    assert any("noise.mp4" in ln for ln in lines), r.stderr


def test_a_failure_in_the_head_stops_the_decoding_thread(tmp_path, fakes, monkeypatch):
    clip = encode(tmp_path / "square.mp4", square_frames())
    original = scanner_mod.Scanner._head

    def boom(self, e):
        if e.t > 1.0:
            raise RuntimeError("motion failed")
        return original(self, e)

    monkeypatch.setattr(scanner_mod.Scanner, "_head", boom)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="motion failed"):
        scan_video(clip, parallel=True)
    assert threading.active_count() == before
    assert FakeFace.instances  # the scan got as far as the landmarkers


class _MeanDescriber:
    """A stand-in describer: each chip's per-channel means and a few pixels, in 128 numbers (no model)."""

    def __init__(self):
        self.threads = set()

    def describe(self, chips):
        self.threads.add(threading.current_thread().name)
        flat = chips.reshape(len(chips), -1).astype(np.float32)
        return np.concatenate([flat[:, :125], chips.mean(axis=(1, 2))], axis=1) / 255.0


def test_identity_descriptors_on_a_helper_thread_are_the_same_rows(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from interview_guard.extract.identity import DESCRIBE_BATCH, IdentityCollector
    from interview_guard.io import face_descriptor
    from interview_guard.io.landmarks import FaceObservation
    from test_video_scan import oval_landmarks

    monkeypatch.setattr(face_descriptor, "align_chip", lambda rgb, lm: np.ascontiguousarray(rgb[:150, :150]))
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(3 * DESCRIBE_BATCH + 3)]
    lm = oval_landmarks((0.3, 0.2, 0.7, 0.8))
    obs = FaceObservation(True, lm, None, np.array([0.3, 0.2, 0.7, 0.8], np.float32), 1, "full")
    tracks = []
    for executor in (None, ThreadPoolExecutor(1, thread_name_prefix="ig-describe")):
        d = _MeanDescriber()
        col = IdentityCollector(d, dense_fps=100.0, executor=executor)
        for k, img in enumerate(frames):
            col.offer(k / 30, k, img, obs, dense=k % 2 == 1)
        tracks.append(col.finish())
        if executor is not None:
            executor.shutdown()
            assert d.threads == {"ig-describe_0"}
    a, b = tracks
    assert len(a.t_s) == len(frames) and np.all(np.isfinite(a.descriptor))
    for name in ("t_s", "frame_index", "face", "box", "descriptor", "quality", "dense"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.meta["described"] == b.meta["described"] == len(frames)


def test_a_stream_without_a_declared_size_gets_a_small_queue(tmp_path, fakes, monkeypatch):
    from interview_guard.io import video_decode

    real = video_decode.prepare_stream

    def undeclared(container, stream, st, **kw):
        rot = real(container, stream, st, **kw)
        st.width = st.height = 0  # as for a stream whose size is known only once a frame is decoded
        return rot

    monkeypatch.setattr(video_decode, "prepare_stream", undeclared)
    clip = encode(tmp_path / "square.mp4", square_frames(2.0))
    scan = scan_video(clip, parallel=True)
    assert scan.stats["prefetch"]["cap_frames"] == 8
    assert scan.stats["frames_decoded"] == 60


def test_a_waiting_producer_resumes_only_when_a_quarter_of_the_queue_is_taken():
    q = BackgroundFrames(iter(range(400)), 8, name="ig-test-decode")
    assert q.resume_len == 6
    out = []
    for k in q:
        time.sleep(0.001)  # the slower side: the producer keeps finding the queue full
        out.append(k)
    q.close()
    assert out == list(range(400))
    # one wait per two items taken (8 -> 6), not one per item
    assert 50 <= q.producer_waits <= 400 // 2 + 5


def test_face_work_runs_while_the_hand_landmarker_works(tmp_path, fakes, monkeypatch):
    """Pixels, blending and identity need only the face: they are measured while the hand landmarker runs on
    the same frame (extract/scanner.py), and the rows are those of the serial scan."""
    from test_video_scan import FakeHands

    blended = threading.Event()
    overlapped = []

    class WaitingHands(FakeHands):
        def process(self, image, t_s=0.0):
            # returns once the frame's blending row is made (it is, beside this call), else after a timeout
            overlapped.append(blended.wait(timeout=0.5))
            blended.clear()
            return super().process(image, t_s)

    real_blend = scanner_mod.add_blend_row

    def blend(*args, **kw):
        blended.set()
        return real_blend(*args, **kw)

    monkeypatch.setattr(landmarks, "HandLandmarkerRunner", WaitingHands)
    monkeypatch.setattr(scanner_mod, "add_blend_row", blend)
    clip = encode(tmp_path / "square.mp4", square_frames(0.5))
    a = scan_video(clip, parallel=True, mode="full")
    assert len(overlapped) == len(a.face) == 15 and all(overlapped)
    b = scan_video(clip, parallel=False, mode="full")
    _same(a, b)
    assert a.blending == b.blending


def test_the_scan_runs_with_one_opencv_thread_and_restores_the_setting(tmp_path, fakes, monkeypatch):
    import cv2

    from test_video_scan import FakeFace

    seen = []

    class CountingFace(FakeFace):
        def process(self, image, t_s):
            seen.append(cv2.getNumThreads())
            return super().process(image, t_s)

    monkeypatch.setattr(landmarks, "FaceLandmarkerRunner", CountingFace)
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        scan_video(encode(tmp_path / "square.mp4", square_frames(1.0)), parallel=True)
        assert seen and set(seen) == {1}
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7, 9, 11])
def test_area_resize_gives_opencvs_pixels(k):
    import cv2

    from interview_guard.extract.pixels import area_resize

    rng = np.random.default_rng(k)
    for h, w in ((36, 64), (5, 7), (1, 1)):
        padded = rng.integers(0, 256, (h * k, w * k + 13), dtype=np.uint8)
        for img in (padded[:, : w * k], np.ascontiguousarray(padded[:, : w * k])):  # a plane with row padding too
            np.testing.assert_array_equal(
                area_resize(img, (w, h)), cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            )
    for img in (np.full((9, 9), 255, np.uint8), np.zeros((9, 9), np.uint8)):  # the extremes
        np.testing.assert_array_equal(area_resize(img, (3, 3)), cv2.resize(img, (3, 3), interpolation=cv2.INTER_AREA))
    odd = rng.integers(0, 256, (100, 150), dtype=np.uint8)  # not a whole factor: OpenCV's own
    np.testing.assert_array_equal(area_resize(odd, (40, 27)), cv2.resize(odd, (40, 27), interpolation=cv2.INTER_AREA))
