"""A WAV cut short is noticed from its header's declared data size (FFmpeg takes a WAV's length from its size)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from interview_guard.io.audio_decode import decode_audio
from interview_guard.io.media import probe
from interview_guard.io.wav_header import wav_declared_seconds

SR = 8000


def fmt_pcm(channels: int = 1, *, extensible: bool = False) -> bytes:
    """A ``fmt`` chunk body for 16-bit PCM (as WAVE_FORMAT_EXTENSIBLE with a PCM sub-format when asked)."""
    block = 2 * channels
    if not extensible:
        return struct.pack("<HHIIHH", 1, channels, SR, SR * block, block, 16)
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return struct.pack("<HHIIHHHHI", 0xFFFE, channels, SR, SR * block, block, 16, 22, 16, 4) + b"\x01\x00" + guid_tail


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    """A RIFF chunk, padded to an even length."""
    return cid + struct.pack("<I", len(body) if size is None else size) + body + (b"\x00" if len(body) % 2 else b"")


def write_wav(
    path,
    *,
    holds_s: float,
    declares_s: float | None,
    channels: int = 1,
    extensible: bool = False,
    extra: bytes = b"",
    data_size: int | None = None,
):
    """A 16-bit WAV holding ``holds_s`` seconds whose data chunk declares ``declares_s`` (or ``data_size`` bytes)."""
    n = int(holds_s * SR)
    t = np.arange(n) / SR
    x = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    data = np.repeat(x, channels).tobytes()
    if data_size is None:
        data_size = int(round((declares_s if declares_s is not None else holds_s) * SR)) * 2 * channels
    body = b"WAVE" + chunk(b"fmt ", fmt_pcm(channels, extensible=extensible)) + extra
    body += b"data" + struct.pack("<I", data_size) + data
    riff_size = len(body) - len(data) + data_size
    path.write_bytes(b"RIFF" + struct.pack("<I", 0xFFFFFFFF if data_size in (0, 0xFFFFFFFF) else riff_size) + body)
    return path


def test_wav_cut_short_is_noticed_where_it_stops(tmp_path):
    p = write_wav(tmp_path / "audio.wav", holds_s=4.0, declares_s=10.0)
    a = decode_audio(p)
    assert a.duration_s == pytest.approx(4.0, abs=1e-3)
    assert a.meta["declared_s"] == pytest.approx(10.0) and a.declared_end_s == pytest.approx(10.0)
    assert a.truncated and a.coverage == pytest.approx(0.4, abs=1e-3)
    # the probe (the session's duration) says what the header declares, as for other containers
    assert probe(p, check_end=False).duration_s == pytest.approx(10.0)


def test_extensible_format_and_an_odd_chunk_before_data(tmp_path):
    odd = chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00abcd\x00")  # 17 bytes: one pad byte follows
    p = write_wav(tmp_path / "a.wav", holds_s=3.0, declares_s=9.0, channels=2, extensible=True, extra=odd)
    assert wav_declared_seconds(p) == pytest.approx(9.0)
    a = decode_audio(p)
    assert a.truncated and a.declared_end_s == pytest.approx(9.0) and a.duration_s == pytest.approx(3.0, abs=1e-3)


@pytest.mark.parametrize("size", [0xFFFFFFFF, 0], ids=["ffffffff", "zero"])
def test_unfinalised_streaming_header_is_unknown_not_cut_short(tmp_path, size):
    p = write_wav(tmp_path / "a.wav", holds_s=4.0, declares_s=None, data_size=size)
    assert wav_declared_seconds(p) is None
    a = decode_audio(p)
    assert not a.truncated and a.coverage == 1.0 and a.duration_s == pytest.approx(4.0, abs=1e-3)


def test_whole_wav_is_not_truncated(tmp_path):
    p = write_wav(tmp_path / "a.wav", holds_s=4.0, declares_s=4.0)
    assert wav_declared_seconds(p) == pytest.approx(4.0)
    a = decode_audio(p)
    assert not a.truncated and a.declared_end_s == pytest.approx(a.end_s)


def test_rf64_reads_the_ds64_size(tmp_path):
    n_hold, n_decl = 3 * SR * 2, 8 * SR * 2
    ds64 = chunk(b"ds64", struct.pack("<QQQI", 0, n_decl, 8 * SR, 0))
    data = np.zeros(n_hold // 2, "<i2").tobytes()
    body = b"WAVE" + ds64 + chunk(b"fmt ", fmt_pcm()) + b"data" + struct.pack("<I", 0xFFFFFFFF) + data
    p = tmp_path / "a.wav"
    p.write_bytes(b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body)
    assert wav_declared_seconds(p) == pytest.approx(8.0)


def test_not_a_wav_or_a_header_cut_inside_is_unknown(tmp_path):
    whole = write_wav(tmp_path / "a.wav", holds_s=1.0, declares_s=1.0).read_bytes()
    (tmp_path / "head.wav").write_bytes(whole[:30])  # inside the fmt chunk
    assert wav_declared_seconds(tmp_path / "head.wav") is None
    (tmp_path / "x.wav").write_bytes(b"OggS" + whole[4:])
    assert wav_declared_seconds(tmp_path / "x.wav") is None


def test_scan_warns_naming_the_wav_and_where_it_stops(tmp_path):
    from interview_guard.extract.session import extract_tracks
    from interview_guard.io.session import Session
    from interview_guard.tracks import Stream

    d = tmp_path / "s"
    d.mkdir()
    write_wav(d / "audio.wav", holds_s=4.0, declares_s=10.0)
    warnings: list[str] = []
    tracks = extract_tracks(Session.open(d), {Stream.AUDIO}, warnings=warnings)
    assert tracks.audio is not None and tracks.audio.truncated
    (w,) = [w for w in warnings if "the audio stops" in w]
    assert w.startswith("audio.wav: the audio stops at 4.0 s of 10.0 s declared (cut short or damaged)"), w
    assert tracks.duration_s == pytest.approx(10.0)
