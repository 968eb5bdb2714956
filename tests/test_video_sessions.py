"""Whole scans of video sessions: bad video gives a clear error or `skipped`, never a crash."""

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SHARED_DATA, make_audio, make_video, needs_shared
from interview_guard.analyzers import default_analyzers
from interview_guard.pipeline.scan import scan_session
from interview_guard.report.keyframes import key_frame_files

pytestmark = pytest.mark.video


def test_no_face_anywhere_is_skipped_with_reason(tmp_path):
    d = tmp_path / "s"
    make_video(d / "video.mp4", seconds=2, fps=10, size=(160, 120))
    rep = scan_session(d)
    occ = rep.analyzers["face_occlusion"]
    assert occ.status.value == "skipped" and "no face found" in occ.reason
    assert rep.session.modalities["video"] is True
    assert any("face was found in only 0 %" in w for w in rep.warnings)


def test_single_frame_video(tmp_path):
    d = tmp_path / "s"
    make_video(d / "video.mp4", seconds=0.1, fps=10)
    rep = scan_session(d)
    assert rep.analyzers["face_occlusion"].status.value == "skipped"


def test_audio_only_file_named_video(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    make_audio(tmp_path / "a.mp4", seconds=2.0)
    shutil.copy(tmp_path / "a.mp4", d / "video.mp4")
    rep = scan_session(d)
    assert rep.session.modalities == {"video": False, "audio": True, "keystrokes": False}
    assert any("no video stream" in w for w in rep.warnings)
    assert rep.analyzers["face_occlusion"].status.value == "skipped"


def test_truncated_video_is_scanned_up_to_where_it_stops_with_a_warning(tmp_path):
    v = make_video(tmp_path / "src.webm", seconds=8, codec="libvpx")
    d = tmp_path / "s"
    d.mkdir()
    (d / "video.webm").write_bytes(v.read_bytes()[: v.stat().st_size // 2])
    rep = scan_session(d)
    assert rep.status == "ok"
    video = rep.session.video
    assert video["truncated"] is True and 1.0 < video["decoded_end_s"] < 7.0 and 0.1 < video["coverage"] < 0.9
    (warning,) = [w for w in rep.warnings if "decoding stopped" in w]
    assert warning.startswith(f"video.webm: decoding stopped at {video['decoded_end_s']:.1f} s of 8.0 s declared")


def _short_real_clip(src, dst, *, faststart, seconds=4.0, side=256):
    """The first ``seconds`` of a real clip at ``side`` x ``side``, H.264 and AAC interleaved as a recorder writes
    them, its index first (``faststart``) or last; a keyframe a second (a webcam recorder's spacing)."""
    from fractions import Fraction

    import av

    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(src)) as inp, av.open(str(dst), "w", options=options) as out:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        rate = vin.average_rate
        vs = out.add_stream("libx264", rate=rate, options={"threads": "1"})
        vs.width = vs.height = side
        vs.pix_fmt = "yuv420p"
        vs.codec_context.gop_size = int(rate)
        aus = out.add_stream("aac", rate=16000)
        aus.layout = "mono"
        resample = av.AudioResampler(format="fltp", layout="mono", rate=16000)
        n = 0
        for f in inp.decode(vin, ain):
            if f.time is None or f.time >= seconds:
                continue
            if isinstance(f, av.VideoFrame):
                nf = av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24", width=side, height=side), format="rgb24")
                nf.pts, nf.time_base = n, Fraction(1) / rate
                n += 1
                out.mux(vs.encode(nf))
            else:
                for r in resample.resample(f):
                    out.mux(aus.encode(r))
        out.mux(vs.encode())
        out.mux(aus.encode())
    return dst


@needs_shared()
def test_real_recording_cut_off_by_a_crash_scans_what_decodes(tmp_path):
    from interview_guard.extract.session import extract_tracks
    from interview_guard.io.session import Session
    from interview_guard.pipeline.scan import scan_tracks

    # 8 s of a talking girl; cut at 65 % the frames stop ~3 s short (the scan used to refuse the whole session)
    src = SHARED_DATA / "faces_video" / "liveportrait_d11.mp4"
    whole = _short_real_clip(src, tmp_path / "whole.mp4", faststart=True, seconds=8.0)
    d = tmp_path / "s"
    d.mkdir()
    data = whole.read_bytes()
    (d / "video.mp4").write_bytes(data[: int(len(data) * 0.65)])
    cache = tmp_path / "cache"
    rep = scan_session(d, cache_dir=cache)
    assert rep.status == "ok" and rep.session.video["truncated"] is True
    end, coverage = rep.session.video["decoded_end_s"], rep.session.video["coverage"]
    assert 3.0 < end < 6.5 and coverage == pytest.approx((end + 0.04) / rep.session.video["duration_s"], abs=1e-3)
    assert any(w.startswith(f"video.mp4: decoding stopped at {end:.1f} s of 8.0 s declared") for w in rep.warnings)
    assert rep.analyzers["face_occlusion"].status.value == "ok" and rep.analyzers["face_artifacts"].status.value == "ok"
    # the video analyzers' confidence is scaled by the share that decodes; the others' is not
    tracks = extract_tracks(Session.open(d), set().union(*(a.requires | a.uses for a in default_analyzers())),
                            cache_dir=cache)  # fmt: skip
    assert tracks.video.truncated
    whole_tracks = dataclasses.replace(tracks, video=dataclasses.replace(tracks.video, truncated=False))
    unscaled, _, _ = scan_tracks(whole_tracks)
    for name in ("face_occlusion", "face_artifacts", "face_identity"):
        got, full = rep.analyzers[name], unscaled[name]
        assert got.score == pytest.approx(full.score, abs=1e-4)
        assert got.confidence == pytest.approx(full.confidence * coverage, abs=2e-3), name
        assert full.confidence > 0.05
    assert rep.analyzers["environment"].confidence == pytest.approx(unscaled["environment"].confidence)


@needs_shared()
def test_real_recording_cut_off_before_its_index_is_written_is_a_one_line_error(tmp_path):
    src = SHARED_DATA / "faces_video" / "retalking_face3.mp4"
    whole = _short_real_clip(src, tmp_path / "whole.mp4", faststart=False)
    d = tmp_path / "s"
    d.mkdir()
    data = whole.read_bytes()
    (d / "video.mp4").write_bytes(data[: int(len(data) * 0.65)])  # the moov atom at the end never made it
    proc = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "scan", str(d), "-q"], capture_output=True, text=True
    )
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "video.mp4: cannot open as audio/video" in line


@needs_shared()
def test_real_talking_head_scan_with_key_frames_and_cache(tmp_path):
    clip = SHARED_DATA / "faces_video" / "retalking_face5.mp4"
    cache = tmp_path / "cache"
    frames = tmp_path / "frames"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "interview_guard.cli",
            "scan",
            str(clip),
            "--cache-dir",
            str(cache),
            "--frames",
            str(frames),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["session"]["modalities"]["video"] and doc["session"]["modalities"]["audio"]
    assert doc["analyzers"]["face_occlusion"]["status"] == "ok"
    assert doc["analyzers"]["av_sync"]["status"] == "ok"
    assert doc["risk"]["band"] == "low"
    assert list(cache.rglob("*.scan.npz"))
    again = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "scan", str(clip), "--cache-dir", str(cache), "-q"],
        capture_output=True,
        text=True,
    )
    doc2 = json.loads(again.stdout)
    assert doc2["analyzers"]["face_occlusion"]["evidence"] == doc["analyzers"]["face_occlusion"]["evidence"]
    assert doc2["risk"]["score"] == doc["risk"]["score"]
    assert doc2["timings"]["extract_s"] < doc["timings"]["extract_s"]


@needs_shared()
def test_swap_failure_composite_is_flagged_with_key_frames(tmp_path):
    # the evaluation's own compositor (independent of synth), a face and a hand of the tuning sources
    sys.path.insert(0, str(REPO / "evaluation"))
    import occlusion_fakes as of

    src = SHARED_DATA / "faces_video" / "retalking_face1.mp4"
    hand = next(h for h in of.load_hands("handoverface") if h.id == "hof_21")
    d_real, d_swap = tmp_path / "real", tmp_path / "swap"
    d_real.mkdir()
    d_swap.mkdir()
    for kind, d in (("genuine", d_real), ("pasted", d_swap)):
        of.make_wave_clip(src, hand, d / "video.mp4", kind=kind, motion="sweep", seed=0, max_s=3.5)
    real = scan_session(d_real)
    swap = scan_session(d_swap, frames_dir=tmp_path / "frames")
    assert real.analyzers["face_occlusion"].score < 0.5
    occ = swap.analyzers["face_occlusion"]
    assert occ.score > 0.5
    ev = occ.evidence[0]
    assert ev.kind == "occlusion_event" and ev.details["key_frames"]
    by_time, plain = key_frame_files(ev.details)  # paths in the role objects, or (no roles) a plain list
    files = [*by_time.values(), *plain]
    assert files and all((tmp_path / "frames" / p.split("/")[-1]).is_file() for p in files)


def test_frame_rate_is_the_usual_interval_between_decoded_frames():
    import numpy as np

    from interview_guard.extract.session import frame_rate

    t = np.arange(60) / 15.0
    assert frame_rate(t) == pytest.approx(15.0)
    # a variable-rate call at 30 fps that dropped a few frames: still 30
    assert frame_rate(np.delete(np.arange(90) / 30.0, [10, 40, 41, 70])) == pytest.approx(30.0)
    assert frame_rate(t[:9]) is None  # too few frames to say
    # a variable-rate call that fell to 15 fps for 6 of its 10 s: 15 frames a second most of the time, though more of
    # its frames came at 30 (the median frame interval said 30, and the scan did not warn)
    fell = np.concatenate([np.arange(120) / 30.0, 4.0 + np.arange(90) / 15.0])
    assert frame_rate(fell) == pytest.approx(15.0)
    assert frame_rate(fell[::-1].max() - fell[::-1]) == pytest.approx(15.0)  # whichever part comes first


def test_the_low_frame_rate_warning_never_reads_as_the_limit_itself():
    from interview_guard.extract.session import LOW_FRAME_RATE, low_frame_rate_warning

    assert low_frame_rate_warning("v.mp4", 12.5).startswith("v.mp4: about 12 frames a second: the hand-wave test")
    assert "about 19.9 frames a second" in low_frame_rate_warning("v.mp4", 19.96)  # not "about 20"
    assert low_frame_rate_warning("v.mp4", LOW_FRAME_RATE) is None and low_frame_rate_warning("v.mp4", None) is None


@needs_shared(SHARED_DATA / "faces_video")
def test_a_face_recorded_at_a_low_frame_rate_warns_that_the_hand_wave_test_is_weaker(tmp_path):
    # round 21: a call that fell to half its frame rate (every other frame dropped: 25 -> 12.5 a second) costs the
    # hand-wave test its dropouts (docs/capture-conditions.md); the report says so, the 25 fps original does not
    sys.path.insert(0, str(REPO / "evaluation"))
    import capture_conditions as cc

    src = SHARED_DATA / "faces_video" / "liveportrait_d0.mp4"
    cc.render(src, tmp_path / "half" / "video.mp4", "call15")
    (tmp_path / "orig").mkdir()
    shutil.copy(src, tmp_path / "orig" / "video.mp4")
    low = [w for w in scan_session(tmp_path / "half").warnings if "frames a second" in w]
    assert low and low[0].startswith("video.mp4: about 12 frames a second: the hand-wave test misses"), low
    assert not [w for w in scan_session(tmp_path / "orig").warnings if "frames a second" in w]
