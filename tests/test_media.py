import pytest

from conftest import SHARED_DATA, make_audio, make_video, needs_shared
from interview_guard.errors import MediaError
from interview_guard.io.media import probe

pytestmark = pytest.mark.video


def test_probe_generated_mp4_with_audio(tmp_path):
    info = probe(make_video(tmp_path / "v.mp4", seconds=3, audio=True))
    assert info.has_video and info.has_audio and info.video_codec == "h264"
    assert info.duration_s == pytest.approx(3.0, abs=0.15)
    assert (info.width, info.height) == (96, 64)


def test_probe_webm_vp8(tmp_path):
    info = probe(make_video(tmp_path / "v.webm", seconds=3, codec="libvpx"))
    assert info.has_video and info.video_codec == "vp8" and info.duration_s == pytest.approx(3.0, abs=0.15)


def test_zero_byte_file(tmp_path):
    p = tmp_path / "video.mp4"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match=r"video.mp4: file is empty \(0 bytes\)"):
        probe(p)


def test_not_media(tmp_path):
    p = tmp_path / "video.mp4"
    p.write_bytes(b"hello, I am not a video" * 100)
    with pytest.raises(MediaError, match="cannot open as audio/video"):
        probe(p)


def test_truncated_mp4_refused(tmp_path):
    p = make_video(tmp_path / "v.mp4", seconds=4)
    data = p.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as ei:
        probe(cut)
    assert "cut.mp4" in str(ei.value)


def _cut(path, share):
    cut = path.with_name("cut" + path.suffix)
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * share)])
    return cut


def test_truncated_faststart_mp4_says_where_frames_stop_when_allowed(tmp_path):
    # index first (as a streaming recorder writes it), the file cut at 65 % (a recording cut off by a crash)
    cut = _cut(make_video(tmp_path / "v.mp4", seconds=30, faststart=True), 0.65)
    with pytest.raises(MediaError, match=r"cut\.mp4: truncated"):
        probe(cut)  # the default stays strict
    info = probe(cut, allow_truncated=True)
    # no frame decodes near the declared end here: where the readable packets stop is the estimate
    assert info.truncated and info.duration_s == pytest.approx(30.0, abs=0.2)
    assert 10.0 < info.decoded_end_s < 25.0
    assert info.coverage == pytest.approx((info.decoded_end_s + 0.1) / info.duration_s)
    d = info.to_dict()
    assert d["truncated"] is True and d["decoded_end_s"] == info.decoded_end_s and 0.3 < d["coverage"] < 0.85


def test_whole_file_is_not_truncated_and_its_report_has_no_truncation_fields(tmp_path):
    info = probe(make_video(tmp_path / "v.mp4", seconds=4, faststart=True), allow_truncated=True)
    assert not info.truncated and info.coverage == 1.0
    assert not {"truncated", "decoded_end_s", "coverage"} & set(info.to_dict())


def test_truncated_mp4_with_index_at_the_end_is_refused_even_when_allowed(tmp_path):
    # the index (moov) was never written: nothing decodes, a one-line error naming the file
    cut = _cut(make_video(tmp_path / "v.mp4", seconds=8), 0.65)
    with pytest.raises(MediaError, match=r"cut\.mp4: cannot open as audio/video") as ei:
        probe(cut, allow_truncated=True)
    assert "\n" not in str(ei.value)


def test_truncated_webm_says_truncated(tmp_path):
    p = make_video(tmp_path / "v.webm", seconds=8, codec="libvpx")
    data = p.read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated"):
        probe(cut)


def test_audio_only_file(tmp_path):
    info = probe(make_audio(tmp_path / "a.wav", seconds=1.5))
    assert info.has_audio and not info.has_video and info.duration_s == pytest.approx(1.5, abs=0.05)


def test_single_frame_video(tmp_path):
    info = probe(make_video(tmp_path / "one.mp4", seconds=0.1, fps=10))
    assert info.has_video and info.duration_s < 0.5


@needs_shared()
def test_probe_real_clip():
    info = probe(SHARED_DATA / "faces_video" / "retalking_face3.mp4")
    assert info.has_video and info.has_audio and info.width == 590
    assert info.duration_s == pytest.approx(5.04, abs=0.1)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_still_image_named_mp4_is_not_a_video(tmp_path, fmt):
    import numpy as np
    from PIL import Image

    p = tmp_path / "video.mp4"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype("uint8")).save(p, format=fmt)
    with pytest.raises(MediaError, match=r"video.mp4: not a video: the file is a still image"):
        probe(p)


def test_one_frame_png_video_is_not_a_recording(tmp_path):
    import av
    import numpy as np

    p = tmp_path / "still.mov"
    with av.open(str(p), "w") as out:
        s = out.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = 64, 48, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for pkt in s.encode(frame):
            out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    with pytest.raises(MediaError, match="not a video: the file holds one still image"):
        probe(p)


def _unknown_codec_mkv(path, *, video: bool = True, audio: bool = False):
    """A Matroska file whose video (or audio) CodecID no FFmpeg knows: PyAV gives its stream no codec context."""
    p = make_video(path, seconds=1, audio=audio)
    data = p.read_bytes()
    old, new = (b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ISO/ZZZ") if video else (b"A_AAC", b"A_ZZZ")
    assert data.count(old) == 1
    p.write_bytes(data.replace(old, new))
    return p


@pytest.mark.parametrize(
    ("video", "audio", "kind"), [(True, False, "video"), (True, True, "video"), (False, True, "audio")]
)
def test_a_codec_without_a_decoder_is_a_one_line_error(tmp_path, video, audio, kind):
    from interview_guard.io.audio_decode import decode_audio
    from interview_guard.io.video_decode import iter_frames

    p = _unknown_codec_mkv(tmp_path / "video.mkv", video=video, audio=audio)
    needle = rf"video.mkv: unsupported {kind} codec: FFmpeg has no decoder for this file's {kind} stream$"
    with pytest.raises(MediaError, match=needle):
        probe(p)
    if kind == "video":
        with pytest.raises(MediaError, match=needle):
            next(iter_frames(p))
    else:
        with pytest.raises(MediaError, match=needle):
            decode_audio(p)
