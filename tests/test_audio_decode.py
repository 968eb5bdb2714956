"""Audio decoding: mono float32 at 16 kHz on the container clock, clear errors, bounded memory."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from conftest import SHARED_DATA, make_audio, make_video, needs_shared
from interview_guard.errors import MediaError, ParameterError
from interview_guard.io.audio_decode import decode_audio, session_audio
from interview_guard.tracks.audio import AudioTrack


def write_pcm(path, chunks, *, sr: int, layout: str = "mono", codec: str = "pcm_s16le"):
    """Write int16 chunks (each (channels, n)) with explicit pts, so gaps can be made. Returns path."""
    import av

    with av.open(str(path), mode="w") as out:
        a = out.add_stream(codec, rate=sr)
        a.layout = layout
        for pts, x in chunks:
            packed = np.ascontiguousarray(x.T.reshape(1, -1))  # interleaved
            fr = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
            fr.sample_rate = sr
            fr.pts = pts
            fr.time_base = Fraction(1, sr)
            for pkt in a.encode(fr):
                out.mux(pkt)
        for pkt in a.encode():
            out.mux(pkt)
    return path


def impulses(sr: int, seconds: float, times, channels: int = 2):
    n = int(sr * seconds)
    x = np.zeros((channels, n), np.int16)
    for t in times:
        x[:, int(round(t * sr))] = 20000
    return [(s, x[:, s : s + 1000]) for s in range(0, n, 1000)]


def test_decodes_to_mono_float32_16k_with_exact_timing(tmp_path):
    times = [0.25, 1.0, 2.2]
    p = write_pcm(tmp_path / "imp.wav", impulses(44100, 3.0, times), sr=44100, layout="stereo")
    tr = decode_audio(p)
    assert isinstance(tr, AudioTrack) and tr.sr == 16000 and tr.samples.dtype == np.float32 and tr.samples.ndim == 1
    assert tr.duration_s == pytest.approx(3.0, abs=0.01) and tr.start_s == 0.0
    assert tr.meta["source_rate"] == 44100 and tr.meta["source_channels"] == 2
    from scipy.signal import find_peaks

    pk, _ = find_peaks(np.abs(tr.samples), height=0.5 * np.abs(tr.samples).max())
    np.testing.assert_allclose(pk / 16000, times, atol=1.0 / 16000)


def test_other_rate_and_max_seconds(tmp_path):
    p = make_audio(tmp_path / "a.wav", seconds=3.0, sr=22050)
    tr = decode_audio(p, sr=8000, max_seconds=1.5)
    assert tr.sr == 8000 and len(tr) == 12000
    full = decode_audio(p)
    assert full.duration_s == pytest.approx(3.0, abs=0.01)
    assert np.abs(full.samples).max() == pytest.approx(3000 / 32768, rel=0.05)


def test_gap_in_timestamps_is_filled_with_silence(tmp_path):
    sr = 16000
    tone = (3000 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.int16)[None, :]
    chunks = [(s, tone[:, s : s + 1000]) for s in range(0, sr, 1000)]
    chunks += [(2 * sr + s, tone[:, s : s + 1000]) for s in range(0, sr, 1000)]  # resumes at 2 s
    tr = decode_audio(write_pcm(tmp_path / "gap.mka", chunks, sr=sr))
    assert tr.meta["gaps_filled"] == 1 and tr.meta["gap_seconds"] == pytest.approx(1.0, abs=0.01)
    assert tr.duration_s == pytest.approx(3.0, abs=0.01)
    y = np.abs(tr.samples)
    assert y[int(1.1 * sr) : int(1.9 * sr)].max() == 0.0
    assert y[int(2.05 * sr) : int(2.2 * sr)].max() > 0.05 and y[int(0.05 * sr) : int(0.2 * sr)].max() > 0.05


def test_audio_of_a_video_and_session_choice(tmp_path):
    v = make_video(tmp_path / "v.mp4", seconds=2.0, audio=True)
    tr = decode_audio(v)
    assert tr.duration_s == pytest.approx(2.0, abs=0.1) and np.abs(tr.samples).max() > 0.05
    silent_v = make_video(tmp_path / "silent.mp4", seconds=1.0, audio=False)
    with pytest.raises(MediaError, match="no audio stream.*video only"):
        decode_audio(silent_v)
    assert session_audio(video_path=silent_v) is None
    assert session_audio() is None
    a = make_audio(tmp_path / "a.wav", seconds=1.0)
    chosen = session_audio(audio_path=a, video_path=v)
    assert chosen.source.endswith("a.wav") and chosen.duration_s == pytest.approx(1.0, abs=0.01)
    assert session_audio(video_path=v).source.endswith("v.mp4")


def test_spilled_decoding_equals_decoding_in_memory(tmp_path):
    """decode_audio(spill=) gives the same samples, start and facts, read-only and mapped from a file whose
    directory may go at once; with a gap filled, a limit, and the video's audio track."""
    from interview_guard.io.spill import SpillDir

    sr = 16000
    tone = (3000 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.int16)[None, :]
    chunks = [(s, tone[:, s : s + 1000]) for s in range(0, sr, 1000)]
    chunks += [(2 * sr + s, tone[:, s : s + 1000]) for s in range(0, sr, 1000)]
    gap = write_pcm(tmp_path / "gap.mka", chunks, sr=sr)
    stereo = write_pcm(tmp_path / "imp.wav", impulses(44100, 3.0, [0.5, 2.0]), sr=44100, layout="stereo")
    video = make_video(tmp_path / "v.mp4", seconds=2.0, audio=True)
    for path, kw in ((gap, {}), (stereo, {}), (stereo, {"max_seconds": 1.3, "sr": 8000}), (video, {})):
        mem = decode_audio(path, **kw)
        with SpillDir(tmp_path / "spill") as spill:
            mapped = decode_audio(path, spill=spill, **kw)
        assert not list((tmp_path / "spill").glob("ig-spill-*"))  # the directory went; the mapping stays valid
        assert np.array_equal(mapped.samples, mem.samples) and mapped.samples.dtype == np.float32
        assert (mapped.sr, mapped.start_s, mapped.meta) == (mem.sr, mem.start_s, mem.meta)
        assert not mapped.samples.flags.writeable and mapped.release is not None and mem.release is None
        mapped.release_samples()  # pages dropped: the data are read again from the file
        assert np.array_equal(mapped.samples, mem.samples)
        mem.release_samples()  # a no-op in memory
    with SpillDir(tmp_path / "spill") as spill:
        assert session_audio(video_path=video, spill=spill).release is not None


@pytest.mark.parametrize(
    "content, match",
    [(None, "file not found"), (b"", "empty"), (b"this is not audio at all" * 100, "cannot open")],
)
def test_bad_files_raise_media_error_naming_the_file(tmp_path, content, match):
    p = tmp_path / "bad.wav"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(MediaError, match=match) as ei:
        decode_audio(p)
    assert str(p) in str(ei.value)


def test_parameters_checked():
    with pytest.raises(ParameterError):
        decode_audio("x.wav", sr=100)
    with pytest.raises(ParameterError):
        decode_audio("x.wav", max_seconds=0)
    with pytest.raises(ParameterError):
        AudioTrack(np.zeros((2, 10)), 16000)
    with pytest.raises(ParameterError):
        AudioTrack(np.zeros(10), 10)


def test_audio_track_helpers():
    tr = AudioTrack(np.arange(32000, dtype=np.float64), 16000, 1.5, "x")
    assert tr.samples.dtype == np.float32 and tr.end_s == pytest.approx(3.5)
    assert tr.index_at(2.0) == 8000 and tr.index_at(-5) == 0 and tr.index_at(99) == 32000
    seg, t0 = tr.segment(2.0, 2.5)
    assert seg.size == 8000 and t0 == pytest.approx(2.0) and np.shares_memory(seg, tr.samples)
    assert "16000 Hz" in repr(tr)


def test_importing_the_audio_modules_stays_light():
    code = (
        "import sys, interview_guard.io.audio_decode, interview_guard.signals.speech, interview_guard.signals.clicks, "
        "interview_guard.analyzers.av_sync, interview_guard.analyzers.acoustic_keystroke; "
        "print(','.join(m for m in ('av', 'librosa', 'cv2', 'mediapipe') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.shared
@needs_shared(SHARED_DATA / "faces_video" / "retalking_face1.mp4")
def test_real_files():
    wav = decode_audio(SHARED_DATA / "speech" / "usr_example.wav")
    assert wav.duration_s == pytest.approx(6.02, abs=0.02) and wav.meta["codec"] == "pcm_f32le"
    clip = decode_audio(SHARED_DATA / "faces_video" / "retalking_face1.mp4")  # aac 44.1 kHz stereo
    assert clip.duration_s == pytest.approx(6.1, abs=0.1) and clip.meta["source_rate"] == 44100
    assert 0.1 < float(np.abs(clip.samples).max()) <= 1.0
