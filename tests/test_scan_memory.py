"""The video scan's per-frame rows and key frames spill to disk (io/spill.py): same results, files cleaned up.

Memory itself is measured in ``benchmarks/bench_video_scan.py --long`` (docs/face-occlusion.md, "Speed and
memory"); these tests check what makes it flat: rows leave RAM as the scan goes, the tracks the scan returns are
read-only mappings of files, the spill directory is gone when the scan returns (also after an error and after
SIGTERM of a worker), a killed scan's directory is removed by the next one, and cache entries are mapped too.
"""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from interview_guard.errors import InputError
from interview_guard.extract.keyframes import KeyFrameCollector
from interview_guard.extract.scan_results import Rows, VideoScan, face_rows, pixel_rows
from interview_guard.io.spill import SPILL_PREFIX, MappedBlobs, SpillDir, clean_stale_spill, load_npz_mapped
from test_video_scan import FakeFace, encode, fakes, square_clip, square_frames  # noqa: F401 - fixtures

SRC = Path(__file__).resolve().parents[1] / "src"


def _spill_dirs(root: Path) -> list[Path]:
    return sorted(root.glob(f"{SPILL_PREFIX}*")) if root.is_dir() else []


def _mapped(a: np.ndarray) -> bool:
    """Whether ``a`` is a view of a file mapping (not process memory)."""
    b = a
    while b is not None:
        if isinstance(b, (mmap.mmap, np.memmap)):
            return True
        b = b.base if isinstance(b, np.ndarray) else getattr(b, "obj", None)
        if isinstance(b, memoryview):
            b = b.obj
    return False


def _fill(rows: Rows, n: int, seed: int = 0, late: int = 0) -> None:
    """``n`` random rows; each row's ``landmarks`` written ``late`` rows after it was handed out."""
    rng = np.random.default_rng(seed)
    pending = []
    for i in range(n):
        a, j = rows.add()
        a["t_s"][j] = i / 30
        a["frame_index"][j] = i
        a["present"][j] = bool(i % 3)
        pending.append((a, j, rng.normal(size=(478, 3)).astype(np.float32)))
        if len(pending) > late:
            b, k, lm = pending.pop(0)
            b["landmarks"][k] = lm
    for b, k, lm in pending:
        b["landmarks"][k] = lm


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 1000])
def test_spilled_rows_equal_rows_in_memory_and_are_mapped(tmp_path, n):
    with SpillDir(tmp_path) as spill:
        a = face_rows(spill)
        b = face_rows()
        _fill(a, n, late=8)
        _fill(b, n, late=8)
        assert len(a._chunks) <= 2  # at most two chunks in memory
        fa, fb = a.finish(), b.finish()
        assert len(_spill_dirs(tmp_path)) == 1
    assert _spill_dirs(tmp_path) == []  # closing removed the directory ...
    for k in fb:
        assert fa[k].dtype == fb[k].dtype and fa[k].shape == fb[k].shape
        assert np.array_equal(fa[k], fb[k], equal_nan=fa[k].dtype.kind == "f"), k  # ... the mapped data stays
        assert not fa[k].flags.writeable
        if n:
            assert _mapped(fa[k]), k


def test_a_row_stays_writable_for_a_chunk_of_rows(tmp_path):
    """The identity collector describes its faces in batches: a row is written up to 8 rows after it was added."""
    with SpillDir(tmp_path) as spill:
        a, b = face_rows(spill), face_rows()
        _fill(a, 800, seed=2, late=Rows.CHUNK - 1)
        _fill(b, 800, seed=2, late=Rows.CHUNK - 1)
        fa, fb = a.finish(), b.finish()
    assert np.array_equal(fa["landmarks"], fb["landmarks"])


def test_pixel_rows_spill_crops(tmp_path):
    rng = np.random.default_rng(1)
    with SpillDir(tmp_path) as spill:
        r = pixel_rows(spill)
        crops = rng.integers(0, 255, (600, 64, 64), dtype=np.uint8)
        for c in crops:
            a, i = r.add()
            a["zone_crop"][i] = c
        out = r.finish()
    assert np.array_equal(out["zone_crop"], crops)
    assert np.isnan(out["zone_box"]).all() and not out["zone_held"].any()  # defaults of reused chunks


def test_spill_dir_is_made_on_first_use_and_closed_idempotently(tmp_path):
    spill = SpillDir(tmp_path / "root")
    assert not (tmp_path / "root").exists()  # nothing made until a row spills
    f = spill.npy("x", (2,), np.float32)
    f.append(np.ones((3, 2)))
    assert len(_spill_dirs(tmp_path / "root")) == 1
    spill.close()
    spill.close()
    assert _spill_dirs(tmp_path / "root") == []
    with pytest.raises(RuntimeError, match="closed"):
        spill.npy("y", (), np.int8)


def test_stale_spill_of_a_dead_process_is_removed(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{SPILL_PREFIX}{int(proc.stdout)}-abc"
    alive = tmp_path / f"{SPILL_PREFIX}{os.getppid()}-abc"
    other = tmp_path / "ig-spill-notapid"
    for d in (dead, alive, other):
        d.mkdir()
        (d / "face.landmarks.npy").write_bytes(b"x")
    assert clean_stale_spill(tmp_path) == [dead]
    assert not dead.exists() and alive.is_dir() and other.is_dir()
    SpillDir(tmp_path).npy("t", (), np.float64)  # a new scan sweeps too
    assert alive.is_dir()


def test_key_frames_spill_to_a_mapped_file(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    with SpillDir(tmp_path) as spill:
        a, b = KeyFrameCollector(store=spill.blobs("keyframes")), KeyFrameCollector()
        for c in (a, b):
            for k in range(40):
                c.offer(k * 0.1, rgb, hand=k % 4 == 0)
                if k % 15 == 14:
                    c.close_interval()
            c.close_interval()
        fa, fb = a.finish(), b.finish()
    assert isinstance(fa, MappedBlobs) and isinstance(fb, dict)
    assert fa == fb and list(fa) == sorted(fb)
    assert len(fa) == len(fb) > 0
    import pickle

    assert pickle.loads(pickle.dumps(fa)) == fb  # crosses a process boundary as a dict


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """20 s: 600 frames, more than two chunks of rows at full rate."""
    return encode(tmp_path_factory.mktemp("spill") / "long.mp4", square_frames(20.0, move=(12.0, 13.0)))


def test_scan_returns_mapped_tracks_and_leaves_no_spill(long_clip, fakes, tmp_path):  # noqa: F811
    from interview_guard.extract.video_scan import scan_video

    root = tmp_path / "spill"
    scan = scan_video(long_clip, spill_dir=root, mode="full")
    assert root.is_dir() and _spill_dirs(root) == []
    assert len(scan.face) == 600
    for arr in (scan.face.landmarks, scan.hands.landmarks, scan.pixels.zone_crop, scan.motion.t_s):
        assert _mapped(arr) and not arr.flags.writeable
    assert scan.blending is not None and _mapped(scan.blending.detail_inner)
    assert isinstance(scan.keyframes, MappedBlobs) and len(scan.keyframes) > 0
    assert scan.keyframe_image(next(iter(scan.keyframes))).ndim == 3
    # same tracks as the scan of another process would give (parallel and serial drivers, both spilled)
    other = scan_video(long_clip, spill_dir=root, parallel=False, mode="full")
    assert other.face == scan.face and other.pixels == scan.pixels and other.motion == scan.motion
    assert other.keyframes == scan.keyframes
    # and the same as rows kept in memory (Rows without a spill directory)
    import interview_guard.extract.scanner as scanner_mod

    class NoSpill(scanner_mod.Scanner):
        def __init__(self, **kw):
            kw["spill"] = None
            super().__init__(**kw)

    import unittest.mock

    with unittest.mock.patch("interview_guard.extract.video_scan.Scanner", NoSpill):
        mem = scan_video(long_clip, spill_dir=root, mode="full")
    assert not _mapped(mem.face.landmarks) and isinstance(mem.keyframes, dict)
    assert mem.face == scan.face and mem.hands == scan.hands and mem.pixels == scan.pixels
    assert mem.motion == scan.motion and mem.blending == scan.blending and mem.keyframes == scan.keyframes


def test_a_failing_scan_removes_its_spill(square_clip, fakes, tmp_path, monkeypatch):  # noqa: F811
    from interview_guard.extract.video_scan import scan_video

    original = FakeFace.process

    def boom(self, image, t_s):
        if t_s > 4.0:
            raise RuntimeError("landmarker failed")
        return original(self, image, t_s)

    monkeypatch.setattr(FakeFace, "process", boom)
    with pytest.raises(RuntimeError, match="landmarker failed"):
        scan_video(square_clip, spill_dir=tmp_path, mode="full")
    assert _spill_dirs(tmp_path) == []


def test_cached_scan_spills_under_the_cache_and_a_hit_is_mapped(square_clip, fakes, tmp_path):  # noqa: F811
    from interview_guard.extract import cache

    seen = []
    real = SpillDir.__init__

    def spy(self, root=None):
        seen.append(root)
        real(self, root)

    import unittest.mock

    with unittest.mock.patch.object(SpillDir, "__init__", spy):
        first = cache.load_or_scan(square_clip, cache_dir=tmp_path / "c", mode="full")
    assert seen == [tmp_path / "c" / "spill"]
    assert _spill_dirs(tmp_path / "c" / "spill") == []
    hit = cache.load_or_scan(square_clip, cache_dir=tmp_path / "c", mode="full")
    assert hit.face == first.face and hit.pixels == first.pixels and hit.keyframes == first.keyframes
    assert hit.stats == first.stats
    assert _mapped(hit.face.landmarks) and _mapped(hit.pixels.zone_crop)
    assert bytes(hit.keyframes[next(iter(hit.keyframes))])[:2] == b"\xff\xd8"  # a JPEG


def test_load_npz_mapped_equals_np_load(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "big": rng.normal(size=(300, 478, 3)).astype(np.float32),
        "small": np.arange(5),
        "text": np.array("hello"),
        "empty": np.zeros((0, 4), np.float32),
        "a/b": rng.integers(0, 255, (100, 64, 64), dtype=np.uint8),
    }
    np.savez(tmp_path / "x.npz", **arrays)
    got = load_npz_mapped(tmp_path / "x.npz")
    assert set(got) == set(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k
    assert _mapped(got["big"]) and _mapped(got["a/b"]) and not _mapped(got["small"])
    np.savez_compressed(tmp_path / "z.npz", **arrays)  # compressed members are read
    got = load_npz_mapped(tmp_path / "z.npz")
    assert np.array_equal(got["big"], arrays["big"])


def test_truncated_cache_entry_is_an_input_error(square_clip, fakes, tmp_path):  # noqa: F811
    from interview_guard.extract.video_scan import scan_video

    p = scan_video(square_clip, mode="full", spill_dir=tmp_path).save(tmp_path / "s.npz")
    data = p.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged"):
        VideoScan.load(tmp_path / "cut.npz")


_WORKER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from interview_guard.io import landmarks
    from interview_guard.pipeline.executors import _pool_worker_start
    import test_video_scan as t

    landmarks.FaceLandmarkerRunner, landmarks.HandLandmarkerRunner = t.FakeFace, t.FakeHands
    slow = t.FakeFace.process

    def process(self, image, t_s):
        if t_s > 1.0:
            print("scanning", flush=True)
            time.sleep(0.2)
        return slow(self, image, t_s)

    t.FakeFace.process = process
    _pool_worker_start()  # what every local batch worker runs first
    from interview_guard.extract.video_scan import scan_video

    scan_video({clip!r}, spill_dir={root!r}, mode="full")
    """
)


def test_sigterm_of_a_batch_worker_removes_its_spill(square_clip, tmp_path):  # noqa: F811
    root = tmp_path / "spill"
    code = _WORKER.format(tests=str(Path(__file__).parent), clip=str(square_clip), root=str(root))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "scanning"
        deadline = time.monotonic() + 30
        while not _spill_dirs(root) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_spill_dirs(root)) == 1  # rows spilling while it scans
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == -signal.SIGTERM  # still dies of the signal (what the pool and the web runner expect)
    assert _spill_dirs(root) == []


# ----------------------------------------------------------------------------- the audio stage


def _audio_session(root: Path, seconds: float, sr: int = 16000) -> Path:
    """A session of ``seconds``: ``audio.flac`` (noise with a 50 Hz hum and a key click 30 ms before each logged
    key), ``keystrokes.jsonl`` (a key every 0.15-0.8 s) and ``session.json`` claiming a country (the hum check runs)."""
    import json

    import soundfile as sf

    from interview_guard.synth.keyboard_sound import render_clicks

    root.mkdir(parents=True)
    rng = np.random.default_rng(5)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = (rng.normal(0, 0.003, n) + 0.01 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    keys = 1.0 + np.cumsum(rng.uniform(0.15, 0.8, int(seconds * 2.5)))
    keys = keys[keys < seconds - 1.0]
    render_clicks(y, times_s=keys - 0.03, level=0.05, rng=rng, sr=sr)
    sf.write(root / "audio.flac", y, sr)
    lines = [json.dumps({"t": round(k * 1000, 1), "type": kind, "key": "a", "code": "KeyA"})
             for k0 in keys for k, kind in ((k0, "down"), (k0 + 0.08, "up"))]  # fmt: skip
    (root / "keystrokes.jsonl").write_text("\n".join(lines) + "\n")
    (root / "session.json").write_text(json.dumps({"keystroke_clock_offset_ms": 0, "claimed_country": "US"}))
    return root


def _audio_stage(session_dir: Path, spill_root: Path) -> tuple[int, int, dict]:
    """(traced peak of the extraction, traced peak of the audio analyzers, their statuses) for one session."""
    import tracemalloc

    from interview_guard.analyzers.acoustic_keystroke import AcousticKeystroke
    from interview_guard.analyzers.environment import Environment
    from interview_guard.extract.session import extract_tracks
    from interview_guard.io.session import Session
    from interview_guard.signals.speech import speech_activity, speech_envelope
    from interview_guard.tracks import Stream

    session = Session.open(session_dir)
    tracemalloc.start()
    try:
        tracks = extract_tracks(session, {Stream.AUDIO, Stream.KEYSTROKES, Stream.METADATA}, cache_dir=spill_root)
        extract_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        status = {an.name: an.analyze(tracks).status for an in (AcousticKeystroke(), Environment())}
        audio = tracks.audio
        assert audio is not None
        env, _ = speech_envelope(y=audio.samples, sr=audio.sr, hop_s=0.01, release=audio.release_samples)
        speech_activity(env_db=env, hop_s=0.01)  # what av_sync and the lip-sync probes read
        analyzer_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _mapped(audio.samples) and not audio.samples.flags.writeable
    return extract_peak, analyzer_peak, status


def test_the_audio_stage_holds_no_whole_recording_array(tmp_path):
    """Decoding and the audio analyzers on 80 s and on 320 s of audio: the traced (heap) peak grows by far less
    than the 15 MB the longer waveform adds. The old decoder held the waveform itself, so its peak grew by at
    least that. (Both are longer than the hum check's batch of frames, whose temporaries do not grow after.)"""
    short = _audio_stage(_audio_session(tmp_path / "short", 80.0), tmp_path / "cache")
    long = _audio_stage(_audio_session(tmp_path / "long", 320.0), tmp_path / "cache")
    assert short[2] == long[2] and set(long[2].values()) == {"ok"}, (short[2], long[2])  # both checks really ran
    grown = (320.0 - 80.0) * 16000 * 4  # bytes the longer float32 waveform adds
    assert long[0] - short[0] < 0.1 * grown, (short[0], long[0])  # decoding: the samples go to the spill file
    # the analyzers keep frame-rate arrays (the clicks' 1 ms hop and the other features: about a quarter of the
    # samples' bytes, 0.24-0.25x measured) and blocks; a reader holding the waveform grows by 1x or more (the old
    # code: 1.2x)
    assert long[1] - short[1] < 0.5 * grown, (short[1], long[1])
    assert _spill_dirs(tmp_path / "cache" / "spill") == []  # the spill directory went once the file was mapped


def _mapping_rss_kb(name_part: str) -> int:
    """Resident KB of this process's mappings whose file name contains ``name_part`` (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:  # a mapping's header line
                inside = name_part in line
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_read_audio_pages_leave_the_process(tmp_path):
    """A spilled waveform read through band_power with the track's release stays resident one block at a time;
    without the release every page read stays in the process (and in its peak, VmHWM)."""
    from interview_guard.io.audio_decode import decode_audio
    from interview_guard.io.spill import SpillDir
    from interview_guard.signals.band_power import band_power, strided_max_abs

    sess = _audio_session(tmp_path / "s", 240.0)
    with SpillDir(tmp_path) as spill:
        audio = decode_audio(sess / "audio.flac", spill=spill)
    total_kb = len(audio) * 4 // 1024
    assert _mapping_rss_kb("audio-") < 0.1 * total_kb  # nothing read yet
    seen: list[int] = []

    def release(i0: int, i1: int) -> None:
        seen.append(_mapping_rss_kb("audio-"))  # what is resident just before a block is let go
        audio.release_samples(i0, i1)

    p = band_power(y=audio.samples, sr=audio.sr, frame_length=480, hop_length=160, low_hz=300.0, release=release)
    assert p.size and len(seen) > 4
    assert max(seen) < 0.25 * total_kb, (max(seen), total_kb)  # one 2**19-sample block (2 MB) of 15 MB
    assert strided_max_abs(audio.samples, 7, release=audio.release_samples) > 0
    assert _mapping_rss_kb("audio-") < 0.1 * total_kb
    np.asarray(audio.samples).sum()  # a reader that does not release ...
    assert _mapping_rss_kb("audio-") > 0.9 * total_kb  # ... keeps the whole waveform resident
    audio.release_samples()
    assert _mapping_rss_kb("audio-") < 0.1 * total_kb


# ----------------------------------------------------------------------------- face_occlusion's pixel measures


def _padded_zone(pad: int):
    """The flash crossing of test_face_transients after ``pad`` earlier rows of the plain face (a longer
    recording: the same crossing, 20 s or more after the padding ends)."""
    import dataclasses

    from test_face_transients import FPS, _frames

    z = _frames("flash")  # its row 0: the face alone, before the hand comes
    t_pad = z.t_s[0] - 20.0 - (pad - np.arange(pad)) / FPS
    return dataclasses.replace(
        z,
        t_s=np.r_[t_pad, z.t_s],
        crop=np.concatenate([np.repeat(z.crop[:1], pad, axis=0), z.crop]),
        box=np.concatenate([np.repeat(z.box[:1], pad, axis=0), z.box]),
        oval=np.concatenate([np.repeat(z.oval[:1], pad, axis=0), z.oval]),
        held=np.r_[np.zeros(pad, bool), z.held],
        hand_landmarks=np.concatenate([np.full((pad, *z.hand_landmarks.shape[1:]), np.nan), z.hand_landmarks]),
        hand_count=np.r_[np.zeros(pad, z.hand_count.dtype), z.hand_count],
    )


def test_crossing_pixel_measures_do_not_grow_with_the_recording():
    """crossing_measures and transient_measures on one crossing in a 560- and a 2,060-row zone track: the same
    results, and a traced peak that does not grow with the rows far from the crossing (smoothing every row's crop,
    as they did, added 2 x 16 KB a row: 49 MB here)."""
    import tracemalloc

    from interview_guard.signals.face_transients import transient_measures
    from interview_guard.signals.hand_crossing import crossing_measures
    from test_face_transients import END, START

    peaks, results = [], []
    for pad in (500, 2000):
        zone = _padded_zone(pad)
        t0, t1 = float(zone.t_s[pad + START]), float(zone.t_s[pad + END])
        tracemalloc.start()
        try:
            tr = transient_measures(frames=zone, start_s=t0, end_s=t1)
            cr = crossing_measures(frames=zone, start_s=t0, end_s=t1, hand_seen=zone.hand_count > 0)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        cr.pop("series", None)
        results.append((tr, cr))
        assert tr["ok"] and cr["ok"], (tr.get("reason"), cr.get("reason"))
    assert results[0][0] == results[1][0] and results[0][1] == results[1][1]
    crops_growth = 1500 * 64 * 64 * 4  # float32 bytes of the extra rows' crops
    assert peaks[1] - peaks[0] < 0.1 * crops_growth, peaks


def test_aligned_click_search_does_not_grow_with_the_session():
    """event_xcorr over +-1 s (the search around an aligned clock) on 15 and on 60 minutes of keys and clicks:
    the same counts as the FFT, and a traced peak that does not grow with the span (the FFT's transforms span
    the whole session: about 130 MB at an hour)."""
    import tracemalloc

    from interview_guard.signals import clicks

    rng = np.random.default_rng(4)
    peaks = []
    for minutes in (15, 60):
        keys = np.cumsum(rng.uniform(100.0, 700.0, int(minutes * 60 * 3)))
        found = np.sort(np.r_[keys + rng.normal(25.0, 3.0, keys.size), rng.uniform(0, keys[-1], keys.size)])
        tracemalloc.start()
        try:
            lags, direct = clicks.event_xcorr(a_ms=keys, b_ms=found, lo_ms=-1000.0, hi_ms=1000.0)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        saved = clicks._DIRECT_MAX_PAIRS
        clicks._DIRECT_MAX_PAIRS = -1  # the FFT
        try:
            assert np.array_equal(direct, clicks.event_xcorr(a_ms=keys, b_ms=found, lo_ms=-1000.0, hi_ms=1000.0)[1])
        finally:
            clicks._DIRECT_MAX_PAIRS = saved
        assert direct[(lags >= 10.0) & (lags <= 40.0)].sum() > 0.9 * keys.size  # the keys' clicks are found
    assert peaks[1] - peaks[0] < 8 * 2**20, peaks  # the FFT grew by ~100 MB here


# ----------------------------------------------------------------------------- the analyzers' mapped rows


def _mapped_face_tracks(root: Path, n: int, seed: int = 0):
    """Face and hand tracks of ``n`` rows spilled to files and mapped (as a scan returns them), with the
    extraction's page releaser; a hand is near the face in a few stretches (occlusion events to measure)."""
    from interview_guard.extract.session import _page_releaser
    from interview_guard.tracks import Tracks
    from interview_guard.tracks.video import FaceTrack, HandTrack

    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    base = np.c_[rng.uniform(0.4, 0.6, (478, 2)), rng.normal(0, 0.01, (478, 1))].astype(np.float32)
    hands_at = (np.arange(n) % 400) < 12  # 1.2 s of every 40 s
    with SpillDir(root) as spill:
        fl, hl = spill.npy("face_lm", (478, 3), np.float32), spill.npy("hand_lm", (2, 21, 3), np.float32)
        for i0 in range(0, n, 1000):
            m = min(1000, n - i0)
            fl.append(base[None] + rng.normal(0, 0.002, (m, 478, 3)).astype(np.float32))
            h = np.full((m, 2, 21, 3), np.nan, np.float32)
            at = hands_at[i0 : i0 + m]
            h[at, 0] = np.r_[0.5, 0.5, 0.0] + rng.normal(0, 0.04, (int(at.sum()), 21, 3))
            hl.append(h)
        face_lm, hand_lm = fl.finish(), hl.finish()
    face = FaceTrack(
        t_s=t, frame_index=np.arange(n), present=np.ones(n, bool), landmarks=face_lm,
        blendshapes=np.full((n, 52), np.nan, np.float32), box=np.tile(np.float32([0.4, 0.4, 0.6, 0.6]), (n, 1)),
        n_faces=np.ones(n, np.int8), source=np.ones(n, np.int8), frame_size=(640, 480),
    )  # fmt: skip
    hands = HandTrack(
        t_s=t, frame_index=np.arange(n), count=hands_at.astype(np.int8), landmarks=hand_lm,
        handedness=np.c_[hands_at.astype(np.int8), np.zeros(n, np.int8)],
        score=np.c_[hands_at.astype(np.float32), np.zeros(n, np.float32)], frame_size=(640, 480),
    )  # fmt: skip
    tracks = Tracks(duration_s=float(t[-1]), face=face, hands=hands)
    tracks.release = _page_releaser(tracks)
    return tracks


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_released_track_pages_leave_the_process(tmp_path):
    """Every page of the mapped per-frame rows read so far leaves the process on ``Tracks.release_pages`` (the
    scan calls it between analyzers); the data stays readable."""
    tracks = _mapped_face_tracks(tmp_path, 3000)
    assert tracks.face is not None and _mapped(tracks.face.landmarks) and tracks.release is not None
    total_kb = tracks.face.landmarks.nbytes // 1024
    checksum = float(np.asarray(tracks.face.landmarks, dtype=np.float64).sum())  # touches every row
    assert _mapping_rss_kb("face_lm") > 0.9 * total_kb
    tracks.release_pages()
    assert _mapping_rss_kb("face_lm") < 0.05 * total_kb
    assert float(np.asarray(tracks.face.landmarks, dtype=np.float64).sum()) == checksum


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_face_analyzers_keep_a_chunk_of_the_mapped_landmarks_resident(tmp_path):
    """face_occlusion, face_artifacts and av_sync's mouth signal on 2,500 and on 10,000 mapped rows: the resident
    pages of the landmarks file, sampled whenever the tracks are released (pages only accumulate in between) and
    at the end, grow by far less than the file; the results equal those on the same tracks in memory. A pass
    over every row at once (the old code) keeps the whole file resident: growth 1x."""
    import dataclasses

    from interview_guard.analyzers.av_sync import mouth_signal
    from interview_guard.analyzers.face_artifacts import FaceArtifacts
    from interview_guard.analyzers.face_occlusion import FaceOcclusion

    peaks, sizes = [], []
    for n in (2500, 10000):
        tracks = _mapped_face_tracks(tmp_path / str(n), n)
        assert tracks.face is not None and tracks.release is not None
        real, seen = tracks.release, []

        def release(real=real, seen=seen) -> None:
            seen.append(_mapping_rss_kb("face_lm"))
            real()

        tracks.release = release
        tracks.release_pages()
        got = [FaceOcclusion().analyze(tracks), FaceArtifacts().analyze(tracks)]
        got_mouth = mouth_signal(tracks.face, by_rows=tracks.by_rows)
        seen.append(_mapping_rss_kb("face_lm"))
        peaks.append(max(seen))
        sizes.append(tracks.face.landmarks.nbytes // 1024)
        assert got[0].status.value == "ok" and got[0].evidence, got[0].reason  # the crossings were measured
        mem = dataclasses.replace(
            tracks,
            face=dataclasses.replace(tracks.face, landmarks=np.array(tracks.face.landmarks)),
            release=None,
        )
        want = [FaceOcclusion().analyze(mem), FaceArtifacts().analyze(mem)]
        for a, b in zip(got, want, strict=True):
            assert a.to_dict() == b.to_dict()
        want_mouth = mouth_signal(mem.face)
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(got_mouth[:2], want_mouth[:2], strict=True))
    # one chunk of 2,048 rows (11 MB) and what the kernel maps around it, at either length
    assert peaks[1] - peaks[0] < 0.25 * (sizes[1] - sizes[0]), (peaks, sizes)


def _traced_peak(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_identity_stretches_temporaries_do_not_grow_with_the_faces():
    """identity_stretches (face_identity's change search) on 2,000 and on 8,000 float32 descriptors with one
    change of person: the same change found, and a traced peak that grows by less than 1.5x the float64 bytes of
    the extra rows (a float32 copy of the rows and blocks: 0.9x measured; old code: whole float64 copies, 4.1x)."""
    from interview_guard.signals.face_identity import identity_stretches

    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 0.05, 128), rng.normal(0, 0.05, 128) + 0.1
    peaks = []
    for n in (2000, 8000):
        x = (np.where(np.arange(n)[:, None] < n // 2, a, b) + rng.normal(0, 0.02, (n, 128))).astype(np.float32)
        t = np.arange(n) * 0.45
        q = rng.uniform(0.5, 1.0, n).astype(np.float32)
        (changes, labels, _, _), peak = _traced_peak(
            lambda x=x, t=t, q=q: identity_stretches(
                t_s=t, descriptors=x, quality=q, min_quality=0.3, distance=0.6, min_segment_rows=5, min_segment_s=3.0
            )
        )
        assert len(changes) == 1 and changes[0]["row"] == n // 2 and labels[-1] == 1, changes
        peaks.append(peak)
    grown = 6000 * 128 * 8  # float64 bytes of the extra rows
    assert peaks[1] - peaks[0] < 1.5 * grown, peaks


def test_send_tick_temporaries_do_not_grow_with_the_keys():
    """send_tick (keystroke_relay's relay-tick search) on 2,000 and on 9,600 key events (an hour of typing): the
    traced peak stays about one block of phases (16 MB measured at both; old code: 4M-value blocks, 61 MB at
    9,600 events, 27 MB at 2,000)."""
    from interview_guard.signals.keystroke_timing import send_tick

    rng = np.random.default_rng(5)
    peaks = []
    for n in (2000, 9600):
        t = np.cumsum(rng.exponential(180.0, n))
        (period, r), peak = _traced_peak(lambda t=t: send_tick(t_ms=t, resolution_ms=1.0))
        assert 0.0 < r < 1.0 and period > 0.0
        peaks.append(peak)
    assert peaks[1] - peaks[0] < 8 * 2**20, peaks
    assert peaks[1] < 48 * 2**20, peaks


def test_identity_descriptors_spill_as_they_are_described(tmp_path, monkeypatch):
    """With a spill the identity descriptors go to a file of their own as their batches are described (on the
    scan's thread or a helper's), not a list held to the end of the scan and copied there: the track's
    descriptors are mapped, and every row equals the collector's without a spill."""
    from concurrent.futures import ThreadPoolExecutor

    from interview_guard.extract.identity import DESCRIBE_BATCH, IdentityCollector
    from interview_guard.io import face_descriptor
    from interview_guard.io.landmarks import FaceObservation
    from test_scan_speed import _MeanDescriber
    from test_video_scan import oval_landmarks

    monkeypatch.setattr(face_descriptor, "align_chip", lambda rgb, lm: np.ascontiguousarray(rgb[:150, :150]))
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (160, 160, 3), dtype=np.uint8) for _ in range(40 * DESCRIBE_BATCH + 5)]
    obs = FaceObservation(
        True, oval_landmarks((0.3, 0.2, 0.7, 0.8)), None, np.array([0.3, 0.2, 0.7, 0.8], np.float32), 1, "full"
    )
    tracks, held = [], []
    for spill_root, executor in ((None, None), (tmp_path, None), (tmp_path, ThreadPoolExecutor(1))):
        with SpillDir(spill_root) if spill_root else SpillDir(tmp_path / "unused") as spill:
            col = IdentityCollector(_MeanDescriber(), dense_fps=100.0, executor=executor, spill=spill_root and spill)
            for k, img in enumerate(frames):
                col.offer(k / 30, k, img, obs, dense=False)
            held.append(len(col._described))  # batches waiting in memory when the last frame came
            tracks.append(col.finish())
            if executor is not None:
                executor.shutdown(wait=True)
    plain, spilled, threaded = tracks
    assert len(plain.t_s) == len(frames) and np.all(np.isfinite(plain.descriptor))
    assert not _mapped(plain.descriptor) and _mapped(spilled.descriptor) and _mapped(threaded.descriptor)
    for name in ("t_s", "frame_index", "face", "box", "descriptor", "quality", "dense"):
        np.testing.assert_array_equal(getattr(spilled, name), getattr(plain, name), err_msg=name)
        np.testing.assert_array_equal(getattr(threaded, name), getattr(plain, name), err_msg=name)
    assert held[0] == 40 and held[1] == 0  # (on the helper thread, those not described yet wait: timing)
