"""Whole scans of video sessions: bad video gives a clear error or `skipped`, never a crash."""

import json
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SHARED_DATA, make_audio, make_video, needs_shared
from interview_guard.errors import MediaError
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


def test_truncated_video_is_refused_by_name(tmp_path):
    v = make_video(tmp_path / "src.webm", seconds=8, codec="libvpx")
    d = tmp_path / "s"
    d.mkdir()
    (d / "video.webm").write_bytes(v.read_bytes()[: v.stat().st_size // 2])
    with pytest.raises(MediaError, match="video.webm: truncated"):
        scan_session(d)


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
