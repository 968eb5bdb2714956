"""Speed and memory of the video extraction layer on a 720p, 30 fps, ~60 s clip.

Builds the clip in a temporary directory by looping a real 1280x720 recording
from ``../shared/data/faces_video`` (its H.264 packets are remuxed with
shifted timestamps: no re-encoding, so the picture is exactly the source's),
then runs each stage in a fresh Python process and reports

* decode only (frames to upright RGB arrays), at full size and at 960 px,
* the video scan at full rate (``scan_video(mode="full")``: face and hand
  landmarks of every frame, plus the motion and pixel measurements) at
  960 px and at the default 640 px, and the adaptive scan for comparison,

as multiples of real time (video seconds per wall-clock second), with the
peak resident memory (``resource.getrusage``) of the process that ran it.

Usage::

    .venv/bin/python benchmarks/bench_video_extract.py [--seconds 60] [--source PATH] [--stages a,b]

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_SOURCE = SHARED / "data" / "faces_video" / "liveportrait_s18.mp4"

STAGES = {
    "decode_full": "decode only, 1280x720 RGB",
    "decode_960": "decode only, scaled to 960x540",
    "full_960": "full-rate scan, every frame, 960 px",
    "full_640": "full-rate scan, every frame, 640 px",
    "adaptive": "adaptive scan, 640 px",
}


def build_clip(source: Path, out: Path, seconds: float) -> dict:
    """Loop ``source``'s video packets until ``seconds`` (remux, no re-encode)."""
    import av

    with av.open(str(source)) as src:
        vin = src.streams.video[0]
        tb = vin.time_base
        rate = vin.average_rate
        packets = [p for p in src.demux(vin) if p.dts is not None and p.size]
        step = round(1 / (rate * tb))  # one frame in time-base units
        loop_len = max(p.pts for p in packets if p.pts is not None) + step
        with av.open(str(out), "w") as dst:
            vout = dst.add_stream_from_template(vin)
            loops = 0
            while loops * loop_len * tb < seconds:
                off = loops * loop_len
                for p in packets:
                    if (p.pts + off) * tb >= seconds:
                        continue
                    p2 = av.Packet(bytes(p))
                    p2.pts, p2.dts, p2.duration = p.pts + off, p.dts + off, p.duration
                    p2.is_keyframe = p.is_keyframe
                    p2.time_base = tb
                    p2.stream = vout
                    dst.mux(p2)
                loops += 1
        return {
            "width": vin.codec_context.width,
            "height": vin.codec_context.height,
            "fps": float(rate),
            "loops": loops,
        }


def run_stage(stage: str, clip: str) -> dict:
    """Run one stage in this process; return timings and peak RSS."""
    sys.path.insert(0, str(REPO / "src"))
    from interview_guard.extract.video_scan import scan_video
    from interview_guard.io.video_decode import DecodeStats, iter_frames

    t0 = time.perf_counter()
    info: dict = {}
    if stage.startswith("decode"):
        st = DecodeStats()
        n = 0
        for _ in iter_frames(clip, max_side=None if stage == "decode_full" else 960, stats=st):
            n += 1
        info["frames"] = n
        dur = (st.last_t or 0.0) - (st.first_t or 0.0) + 1.0 / (st.nominal_fps or 30.0)
    else:
        mode = "adaptive" if stage == "adaptive" else "full"
        scan = scan_video(clip, mode=mode, max_side=960 if stage == "full_960" else 640)
        f, h, st = scan.face, scan.hands, scan.decode_stats
        info["frames"] = len(f)
        info["face_presence"] = round(f.presence_rate, 3)
        info["face_sources"] = f.meta.get("counts")
        info["frames_with_hands"] = int((h.count > 0).sum())
        dur = (st.last_t or 0.0) - (st.first_t or 0.0) + 1.0 / (st.nominal_fps or 30.0)
    elapsed = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    info.update(
        stage=stage,
        video_s=round(dur, 2),
        wall_s=round(elapsed, 2),
        x_realtime=round(dur / elapsed, 2),
        ms_per_frame=round(1000 * elapsed / max(info["frames"], 1), 1),
        peak_rss_mb=round(peak_kb / 1024, 1),
    )
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--_stage", help=argparse.SUPPRESS)
    ap.add_argument("--_clip", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._stage:
        print(json.dumps(run_stage(args._stage, args._clip)))
        return
    if not args.source.is_file():
        sys.exit(f"source clip not found: {args.source} (needs ../shared/data beside the repository)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory(prefix="ig-bench-") as tmp:
        clip = Path(tmp) / "loop720p.mp4"
        t0 = time.perf_counter()
        meta = build_clip(args.source, clip, args.seconds)
        print(
            f"clip: {args.source.name} looped {meta['loops']}x -> {args.seconds:.0f} s, "
            f"{meta['width']}x{meta['height']} @ {meta['fps']:.2f} fps ({clip.stat().st_size / 1e6:.1f} MB, "
            f"built in {time.perf_counter() - t0:.1f} s)"
        )
        print(f"{'stage':<44} {'frames':>6} {'wall s':>7} {'x real time':>11} {'ms/frame':>9} {'peak RSS MB':>11}")
        for stage in [s for s in args.stages.split(",") if s]:
            out = subprocess.run(
                [sys.executable, __file__, "--_stage", stage, "--_clip", str(clip)],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                print(f"{STAGES.get(stage, stage):<44} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = {k: r[k] for k in ("face_presence", "face_sources", "frames_with_hands") if k in r}
            print(
                f"{STAGES.get(stage, stage):<44} {r['frames']:>6} {r['wall_s']:>7.1f} {r['x_realtime']:>11.2f} "
                f"{r['ms_per_frame']:>9.1f} {r['peak_rss_mb']:>11.0f}  {extra if extra else ''}"
            )


if __name__ == "__main__":
    main()
