"""Speed, recall and memory of the adaptive video scan on a 720p 30 fps recording with hand sweeps.

Builds (with PyAV, in a temporary directory) a recording of ``--minutes``
minutes by looping a real 1280x720 talking-head clip forwards and backwards
(no jump at the loop points) and compositing real hand photos, cut out with
their segmentation masks, that sweep over the face at known times: one sweep
every 20-30 s, each rising from below the frame, then crossing, waving,
covering or moving diagonally over the face, quickly (0.4-0.8 s over the
face) or slowly (2-3.5 s), and going back down. The face position comes
from a landmark pass over the source clip. Then it measures, each stage in
a fresh process:

* first the speed table of issue #17: decode only (FFmpeg's frame threads, the
  fastest decode; and one decoding thread, as the scan decodes), the adaptive
  scan and the whole scan (``scan_session``), with each run's wall time over
  the fastest decode's in the same run, for the 720p30 recording and a 1080p30
  one built the same way (the source frames upscaled; ``--no-1080p`` leaves it
  out, ``--speed`` stops after the table), and each scan's CPU by thread;
* decode only (PyAV frames, no conversion) and ``scan_video(mode="full")``
  (every frame landmarked; the reference) -- with ``--quick`` the full scan
  covers only the first 60 s and its speed is extrapolated;
* ``scan_video(mode="adaptive")`` over the whole recording: speed, share of
  frames landmarked, share of time in active intervals;
* recall: the share of composited sweeps whose over-face span is at least
  half inside an active interval, and the share of the occlusion events the
  full scan finds (as the ``face_occlusion`` analyzer finds them:
  ``signals.occlusion.find_occlusion_events`` with its default parameters)
  at least half inside an active interval;
* landmark size: the full scan at ``max_side`` 640 and 960 over the first
  60 s (face presence, frames with hands, occlusion events);
* peak RSS (VmHWM) of an adaptive scan of a 1-minute and a 10-minute
  recording (cut from / looped from the built one by remuxing, so the
  picture is the same), each in its own process; with ``--long`` also a
  60-minute loop, against the 5-minute recording.

Each stage also reports its CPU time and how busy the rest of the machine
was meanwhile ("other load", in cores): on a shared machine the wall-clock
speed drops with it.

``--session`` instead measures the whole scan of the recording as a user runs it (``scan_session``: the video
scan with every stream the registered analyzers ask for, including identity descriptors and the blending
track, then every analyzer), twice, against the bare adaptive scan.

``--identity`` instead measures the identity descriptors: the adaptive scan
without them, with them at a few caps of the descriptor rate inside active
intervals (``identity_dense_fps``), and the seconds the descriptors took.
Stage processes run with one BLAS thread (``OPENBLAS_NUM_THREADS=1``), as the CLI does.

Usage::

    .venv/bin/python benchmarks/bench_video_scan.py [--minutes 5] [--quick] [--long] [--no-1080p | --speed] [--keep DIR]
    .venv/bin/python benchmarks/bench_video_scan.py (--identity | --session) [--keep DIR]

Prints Markdown tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads; the CLI sets it too
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_SOURCE = SHARED / "data" / "faces_video" / "liveportrait_s18.mp4"
HANDS = SHARED / "data" / "hands"
# Hand photos whose cut-out MediaPipe's hand landmarker recognises reasonably often.
HAND_NAMES = ("handoverface_24", "handoverface_28", "handoverface_23", "handoverface_30", "handoverface_29",
              "handoverface_26")  # fmt: skip
KINDS = ("cross", "cover", "wave", "diagonal")
FPS = 30


# ----------------------------------------------------------------------------- building the recording


def _cutout(name: str):
    """RGB hand and a feathered alpha (float32, 0-1), cropped to the hand's largest mask component."""
    import cv2

    bgr = cv2.imread(str(HANDS / f"{name}.jpg"), cv2.IMREAD_COLOR)
    img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    m = (cv2.imread(str(HANDS / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(m)
    k = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
    m = (lab == k).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(m)
    p = 4
    x0, y0, x1, y1 = max(x - p, 0), max(y - p, 0), min(x + w + p, m.shape[1]), min(y + h + p, m.shape[0])
    return img[y0:y1, x0:x1].copy(), m[y0:y1, x0:x1].astype(np.float32)


def _paste(frame: np.ndarray, img: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> None:
    """Alpha-blend ``img`` centred at (cx, cy) into ``frame`` (in place)."""
    h, w = alpha.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    X0, Y0 = max(x0, 0), max(y0, 0)
    X1, Y1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if X1 <= X0 or Y1 <= Y0:
        return
    a = alpha[Y0 - y0 : Y1 - y0, X0 - x0 : X1 - x0, None]
    src = img[Y0 - y0 : Y1 - y0, X0 - x0 : X1 - x0].astype(np.float32)
    dst = frame[Y0:Y1, X0:X1].astype(np.float32)
    frame[Y0:Y1, X0:X1] = (a * src + (1 - a) * dst + 0.5).astype(np.uint8)


def _path(kind: str, u: float, side: int) -> tuple[float, float]:
    """Hand centre over the face part of a sweep, ``u`` in [0, 1], in face units (x: widths, y: heights)."""
    if kind == "cross":
        return (-1.4 + 2.8 * u) * side, 0.05
    if kind == "diagonal":
        return (-1.3 + 2.6 * u) * side, 0.9 - 1.2 * u
    if kind == "cover":
        # in from below-centre, stay over the eyes and nose, out again
        if u < 0.3:
            return 0.15 * side, 1.0 - 1.0 * (u / 0.3)
        if u < 0.7:
            return 0.15 * side + 0.05 * math.sin((u - 0.3) / 0.4 * 2 * math.pi), 0.0
        return 0.15 * side, (u - 0.7) / 0.3
    # wave: up to the face, two waves across it, back down
    if u < 0.2:
        return 0.0, 1.0 - u / 0.2
    if u < 0.8:
        return 0.45 * math.sin((u - 0.2) / 0.6 * 4 * math.pi), 0.0
    return 0.0, (u - 0.8) / 0.2


def plan_sweeps(seconds: float, seed: int = 7) -> list[dict]:
    """Sweep schedule: one every 20-30 s, kinds, speeds and hands varied."""
    rng = np.random.default_rng(seed)
    sweeps = []
    t = 8.0 + float(rng.uniform(0, 4))
    i = 0
    while True:
        quick = i % 2 == 0 if i < 4 else bool(rng.random() < 0.5)
        over = float(rng.uniform(0.4, 0.8)) if quick else float(rng.uniform(2.0, 3.5))
        approach, retreat = float(rng.uniform(0.4, 0.8)), float(rng.uniform(0.4, 0.8))
        if t + approach + over + retreat > seconds - 1.0:
            break
        sweeps.append(
            {
                "index": i,
                "kind": KINDS[i % len(KINDS)],
                "speed": "quick" if quick else "slow",
                "hand": HAND_NAMES[i % len(HAND_NAMES)],
                "scale": float(rng.uniform(0.85, 1.15)),  # hand height / face height
                "side": 1 if rng.random() < 0.5 else -1,  # which side it comes from / goes to
                "flip": bool(rng.random() < 0.5),
                "t0": t,
                "t_over0": t + approach,
                "t_over1": t + approach + over,
                "t1": t + approach + over + retreat,
            }
        )
        t += approach + over + retreat + float(rng.uniform(20.0, 30.0))
        i += 1
    return sweeps


def _hand_centre(sw: dict, t: float, fw: float, fh: float, frame_h: int, fcy: float) -> tuple[float, float] | None:
    """Hand centre in face units at time ``t`` (None outside the sweep)."""
    if not (sw["t0"] <= t < sw["t1"]):
        return None
    side = sw["side"]
    below = (frame_h - fcy) / fh + 0.9  # fully below the frame
    ux0, uy0 = _path(sw["kind"], 0.0, side)
    ux1, uy1 = _path(sw["kind"], 1.0, side)
    if t < sw["t_over0"]:  # rise from below the frame to the path's start
        u = (t - sw["t0"]) / (sw["t_over0"] - sw["t0"])
        return ux0, below + (uy0 - below) * u
    if t >= sw["t_over1"]:  # back down
        u = (t - sw["t_over1"]) / (sw["t1"] - sw["t_over1"])
        return ux1, uy1 + (below - uy1) * u
    u = (t - sw["t_over0"]) / (sw["t_over1"] - sw["t_over0"])
    return _path(sw["kind"], u, side)


def build_recording(source: Path, out: Path, seconds: float, *, seed: int = 7, height: int | None = None) -> dict:
    """Encode the looped recording with composited sweeps; returns the ground truth.

    ``height``: scale the source frames (bicubic) to this height first (1080 for the 1080p recording).
    """
    import av
    import cv2

    sys.path.insert(0, str(REPO / "src"))
    from interview_guard.io.landmarks import FaceLandmarkerRunner

    t_build = time.perf_counter()
    with av.open(str(source)) as src:
        frames = [vf.to_ndarray(format="rgb24") for vf in src.decode(video=0)]
    H, W = frames[0].shape[:2]
    boxes = []
    with FaceLandmarkerRunner() as fr:
        for k, img in enumerate(frames):
            small = cv2.resize(img, (640, round(640 * H / W)), interpolation=cv2.INTER_AREA)
            obs = fr.process(small, k / FPS)
            boxes.append(
                obs.box * (W, H, W, H)
                if obs.present
                else (boxes[-1] if boxes else np.array([W * 0.4, H * 0.2, W * 0.6, H * 0.6]))
            )
    boxes = np.array(boxes, dtype=np.float64)
    scale = 1.0 if not height or height == H else height / H
    if scale != 1.0:  # the same picture and sweeps, upscaled frame by frame while encoding
        W, H = int(round(W * scale / 2)) * 2, int(height)
        boxes *= scale
    cutouts = {name: _cutout(name) for name in HAND_NAMES}
    sweeps = plan_sweeps(seconds, seed)
    n_src = len(frames)
    period = 2 * (n_src - 1)
    n_out = int(round(seconds * FPS))
    coverage = {sw["index"]: [] for sw in sweeps}
    scaled_cache: dict = {}
    with av.open(str(out), "w") as dst:
        vs = dst.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        for k in range(n_out):
            t = k / FPS
            i = k % period
            j = i if i < n_src else period - i
            img = frames[j]
            if scale != 1.0:
                img = cv2.resize(img, (W, H), interpolation=cv2.INTER_CUBIC)
            for sw in sweeps:
                if not (sw["t0"] <= t < sw["t1"]):
                    continue
                x0, y0, x1, y1 = boxes[j]
                fw, fh = x1 - x0, y1 - y0
                fcx, fcy = (x0 + x1) / 2, (y0 + y1) / 2
                key = (sw["hand"], round(sw["scale"] * fh), sw["flip"])
                if key not in scaled_cache:
                    himg, ha = cutouts[sw["hand"]]
                    s = sw["scale"] * fh / ha.shape[0]
                    himg = cv2.resize(himg, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
                    ha = cv2.GaussianBlur(cv2.resize(ha, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR), (0, 0), 1.5)
                    if sw["flip"]:
                        himg, ha = himg[:, ::-1].copy(), ha[:, ::-1].copy()
                    scaled_cache[key] = (himg, ha)
                himg, ha = scaled_cache[key]
                u, v = _hand_centre(sw, t, fw, fh, H, fcy)
                cx, cy = fcx + u * fw, fcy + v * fh
                img = img.copy()
                _paste(img, himg, ha, cx, cy)
                # share of the face box under the hand
                hx0, hy0 = cx - ha.shape[1] / 2, cy - ha.shape[0] / 2
                bx0, by0 = int(max(x0, hx0, 0)), int(max(y0, hy0, 0))
                bx1, by1 = int(min(x1, hx0 + ha.shape[1], W)), int(min(y1, hy0 + ha.shape[0], H))
                cov = 0.0
                if bx1 > bx0 and by1 > by0:
                    ax0, ay0 = int(round(bx0 - hx0)), int(round(by0 - hy0))
                    sub = ha[max(ay0, 0) : max(ay0, 0) + (by1 - by0), max(ax0, 0) : max(ax0, 0) + (bx1 - bx0)]
                    cov = float(sub.sum()) / (fw * fh)
                coverage[sw["index"]].append((t, cov))
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for pkt in vs.encode(frame):
                dst.mux(pkt)
        for pkt in vs.encode():
            dst.mux(pkt)
    for sw in sweeps:
        over = [t for t, c in coverage[sw["index"]] if c >= 0.1]
        sw["face0"], sw["face1"] = (min(over), max(over)) if over else (None, None)
        sw["max_cover"] = round(max((c for _, c in coverage[sw["index"]]), default=0.0), 3)
    return {
        "seconds": n_out / FPS,
        "width": W,
        "height": H,
        "fps": FPS,
        "source": source.name,
        "sweeps": sweeps,
        "build_s": round(time.perf_counter() - t_build, 1),
    }


def remux(src: Path, out: Path, seconds: float) -> None:
    """Cut or loop ``src``'s packets (no re-encoding) to ``seconds`` of video."""
    import av

    with av.open(str(src)) as s:
        vin = s.streams.video[0]
        tb = vin.time_base
        packets = [p for p in s.demux(vin) if p.dts is not None and p.size]
        step = round(1 / (vin.average_rate * tb))
        span_pts = max(p.pts for p in packets) - min(p.pts for p in packets) + step
        span_dts = max(p.dts for p in packets) - min(p.dts for p in packets) + step
        loop = max(span_pts, span_dts)
        with av.open(str(out), "w") as d:
            vout = d.add_stream_from_template(vin)
            k = 0
            while k * loop * tb < seconds:
                off = k * loop
                for p in packets:
                    if (p.dts + off) * tb >= seconds:  # cut in decode order: references stay complete
                        break
                    p2 = av.Packet(bytes(p))
                    p2.pts, p2.dts, p2.duration = p.pts + off, p.dts + off, p.duration
                    p2.is_keyframe = p.is_keyframe
                    p2.time_base = tb
                    p2.stream = vout
                    d.mux(p2)
                k += 1


# ----------------------------------------------------------------------------- stages (one process each)


def machine_busy_s() -> float:
    """CPU seconds all processes have used since boot (from /proc/stat; 0 where unavailable)."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal ...
    busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


class ThreadCpu:
    """CPU seconds of this process's threads, by thread (Linux ``/proc/self/task``; empty elsewhere).

    Sampled every ``every`` seconds, so a thread that ends is counted up to its last sample. Python threads go by
    their ``threading`` name, the native ones (MediaPipe's graph and inference threads, FFmpeg's) by their
    system name.
    """

    def __init__(self, every: float = 0.1) -> None:
        import threading

        self.last: dict[int, tuple[str, float]] = {}
        self.every = every
        self.tick = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._names = {}
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import threading

        py = {t.native_id: t.name for t in threading.enumerate()}
        try:
            tids = os.listdir("/proc/self/task")
        except OSError:
            return
        for tid in tids:
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    raw = fh.read()
            except OSError:
                continue
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            f = raw[raw.rindex(")") + 2 :].split()
            name = py.get(int(tid), name if int(tid) != os.getpid() else "MainThread")
            self.last[int(tid)] = (name, (int(f[11]) + int(f[12])) / self.tick)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds by thread name (threads of one name summed), largest first."""
        self._stop.set()
        self._thread.join()
        self._sample()
        out: dict[str, float] = {}
        for name, sec in self.last.values():
            out[name] = out.get(name, 0.0) + sec
        return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def run_stage(stage: str, clip: str, out: str | None, args: dict) -> dict:
    sys.path.insert(0, str(REPO / "src"))
    sampler = ThreadCpu()
    anon = AnonPeak()
    t0 = time.perf_counter()
    c0 = time.process_time()
    busy0 = machine_busy_s()
    info: dict = {"stage": stage}
    if stage == "session":
        from interview_guard.extract import video_scan
        from interview_guard.pipeline.scan import scan_session

        scans = []
        real_scan = video_scan.scan_video

        def keep_stats(*a, **kw):  # the video scan's own stats (tail timings, queue waits), not in the report
            scan = real_scan(*a, **kw)
            scans.append(scan.stats)
            return scan

        video_scan.scan_video = keep_stats
        rep = scan_session(Path(clip), cache_dir=None)
        info.update(video_s=float(rep.session.duration_s or 0.0), timings=rep.timings, band=rep.risk.band)
        if scans:
            st = scans[-1]
            info.update(scan_wall_s=st["wall_s"], seconds=st["seconds"], prefetch=st.get("prefetch"),
                        landmarked=st["frames_landmarked"], identity=st.get("identity"))  # fmt: skip
    elif stage == "decode":
        import av

        with av.open(clip) as c:
            s = c.streams.video[0]
            s.thread_type = args.get("thread_type", "AUTO")
            n = 0
            first = last = None
            for vf in c.decode(s):
                n += 1
                first = vf.time if first is None else first
                last = vf.time
        info.update(frames=n, video_s=last - first + 1 / FPS)
    else:
        from interview_guard.extract.video_scan import scan_video

        keys = ("mode", "max_side", "base_fps", "dense_fps", "hold_s", "lookback_s", "parallel", "identity",
                "identity_dense_fps", "identity_near_hand")  # fmt: skip
        kw = {k: v for k, v in args.items() if k in keys}
        scan = scan_video(clip, **kw)
        st = scan.stats
        info.update(
            frames=st["frames_decoded"],
            landmarked=st["frames_landmarked"],
            landmarked_share=st["landmarked_share"],
            active_s=st["active_s"],
            video_s=st["video_s"],
            seconds=st["seconds"],
            counts={
                k: st[k]
                for k in (
                    "dense_landmarked",
                    "base_landmarked",
                    "triggers_motion",
                    "triggers_hand",
                    "triggers_face_lost",
                )
            },  # fmt: skip
            buffer_max=st["buffer_max_frames"],
            prefetch=st.get("prefetch"),
            keyframes=st["keyframes"],
            identity=st.get("identity"),
        )
        info["peak_rss_mb"], info["peak_anon_mb"] = round(peak_rss_mb(), 1), round(anon.stop(), 1)  # before the save
        info["end_anon_mb"], info["end_file_mb"] = round(status_mb("RssAnon"), 1), round(status_mb("RssFile"), 1)
        if out:
            scan.save(out)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    info.update(
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        others=round(max(machine_busy_s() - busy0 - cpu, 0.0) / wall, 2),
        x_realtime=round(info["video_s"] / wall, 2),
        threads_cpu_s=sampler.stop(),
    )
    info.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    info.setdefault("peak_anon_mb", round(anon.stop(), 1))
    return info


def status_mb(field: str) -> float:
    """One memory line of /proc/self/status in MB (0 where unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class AnonPeak:
    """Peak anonymous memory (RssAnon: heap and stacks, not mapped file pages), sampled every 20 ms.

    VmHWM counts mapped file pages the process touched too; RssAnon has no high-water mark of its own."""

    def __init__(self) -> None:
        import threading

        self.peak = status_mb("RssAnon")
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, status_mb("RssAnon"))

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return max(self.peak, status_mb("RssAnon"))


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ``ru_maxrss`` would include the parent's from before exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(name: str, clip: Path, out: Path | None = None, **kw) -> dict:
    cmd = [sys.executable, __file__, "--_stage", name, "--_clip", str(clip), "--_args", json.dumps(kw)]
    if out is not None:
        cmd += ["--_out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- scoring


def covered(a: float, b: float, active: list[tuple[float, float]], pad: float) -> float:
    """Share of [a, b] inside the active intervals (each widened by ``pad``)."""
    if b <= a:
        return float(any(s - pad <= a <= e + pad for s, e in active))
    tot = 0.0
    for s, e in active:
        lo, hi = max(a, s - pad), min(b, e + pad)
        tot += max(hi - lo, 0.0)
    return min(tot / (b - a), 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true", help="full-rate reference over the first 60 s only; no 960 px run")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the recordings in this directory")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--identity", action="store_true", help="only the identity descriptors' cost (adaptive scans)")
    ap.add_argument("--session", action="store_true", help="only the whole scan (scan_session, every analyzer)")
    ap.add_argument(
        "--long", action="store_true", help="also an adaptive scan of a 60-minute loop (peak RSS against 5 minutes)"
    )
    ap.add_argument("--no-1080p", action="store_true", help="leave out the 1080p recording of the speed table")
    ap.add_argument("--speed", action="store_true", help="only the speed table (decode vs scans, 720p and 1080p)")
    ap.add_argument("--_height", type=int)
    ap.add_argument("--_stage")
    ap.add_argument("--_build")
    ap.add_argument("--_clip")
    ap.add_argument("--_out")
    ap.add_argument("--_args", default="{}")
    args = ap.parse_args()
    if args._stage:
        print(json.dumps(run_stage(args._stage, args._clip, args._out, json.loads(args._args))))
        return
    if args._build:
        out = Path(args._build)
        truth = build_recording(args.source, out, args.minutes * 60, seed=args.seed, height=args._height)
        out.with_suffix(".json").write_text(json.dumps(truth, indent=1))
        return
    if not args.source.is_file():
        sys.exit(f"source clip not found: {args.source} (needs ../shared/data beside the repository)")
    sys.path.insert(0, str(REPO / "src"))
    from interview_guard.extract.scan_results import VideoScan

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    tmpctx = tempfile.TemporaryDirectory(prefix="ig-scan-bench-") if args.keep is None else None
    work = Path(tmpctx.name) if tmpctx else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        rec = work / f"sweeps_{args.minutes:g}min.mp4"
        truth_path = rec.with_suffix(".json")
        ensure_recording(rec, args)
        rec_hd = None
        if not args.no_1080p and not (args.identity or args.session):
            rec_hd = work / f"sweeps_{args.minutes:g}min_1080p.mp4"
            ensure_recording(rec_hd, args, height=1080)
        truth = json.loads(truth_path.read_text())
        sweeps = truth["sweeps"]
        print(
            f"recording: {truth['source']} ping-pong looped to {truth['seconds']:.0f} s, "
            f"{truth['width']}x{truth['height']} "
            f"@ {truth['fps']} fps, {len(sweeps)} hand sweeps, {rec.stat().st_size / 1e6:.0f} MB (built in "
            f"{truth['build_s']} s)"
        )
        clip1, clip10, clip60 = work / "cut_1min.mp4", work / "loop_10min.mp4", work / "cut_60s.mp4"
        for path, secs in ((clip1, 60.0), (clip10, 600.0)):
            if not path.is_file():
                remux(rec, path, secs)
        clip60 = clip1

        if args.identity:
            identity_rows(rec)
            return
        if args.session:
            session_rows(rec)
            return
        speed = speed_table([("720p30", rec, work / "adaptive.npz"), *([("1080p30", rec_hd, None)] if rec_hd else [])])
        if args.speed:
            return
        rows = []
        dec, ada = speed["720p30"]["decode"], speed["720p30"]["adaptive"]
        rows.append(("decode only (PyAV frames, no conversion)", dec))
        rows.append(("adaptive scan (base 1 fps, dense 15 fps, 640 px)", ada))
        full_clip = clip60 if args.quick else rec
        full = stage("scan", full_clip, work / "full.npz", mode="full")
        rows.append((f"full-rate scan, every frame, 640 px{' (first 60 s)' if args.quick else ''}", full))
        full960 = None
        if not args.quick:
            full960 = stage("scan", clip60, work / "full960_60s.npz", mode="full", max_side=960)
            rows.append(("full-rate scan, every frame, 960 px (first 60 s)", full960))
        rss1 = stage("scan", clip1, mode="adaptive")
        rss10 = stage("scan", clip10, mode="adaptive")
        rows.append(("adaptive scan, 1-minute recording", rss1))
        rows.append(("adaptive scan, 10-minute recording", rss10))
        rss60 = None
        if args.long:
            clip3600 = work / "loop_60min.mp4"
            if not clip3600.is_file():
                remux(rec, clip3600, 3600.0)
            rss60 = stage("scan", clip3600, mode="adaptive")
            rows.append(("adaptive scan, 60-minute recording", rss60))

        print()
        print(
            "| stage | video s | frames landmarked | wall s | x real time | CPU s | other load | peak RSS MB | "
            "peak anon MB |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, r in rows:
            lmk = f"{r['landmarked']} ({100 * r['landmarked_share']:.1f} %)" if "landmarked" in r else "-"
            print(
                f"| {label} | {r['video_s']:.0f} | {lmk} | {r['wall_s']:.1f} | {r['x_realtime']:.2f} | "
                f"{r['cpu_s']:.1f} | "
                f"{r['others']:.2f} | {r['peak_rss_mb']:.0f} | {r['peak_anon_mb']:.0f} |"
            )
        print(
            f"\n(CPU s: user + system time of the stage's process, all threads. Other load: CPU time other processes "
            f"used meanwhile, in cores (of {os.cpu_count()}); when it is high the wall-clock speed drops. Peak RSS: "
            "VmHWM of the stage's process when the scan returned (mapped file pages it touched included); peak "
            "anon: the highest RssAnon sampled every 20 ms (heap, no file pages).)"
        )
        print()
        print(
            f"adaptive time split (s): {ada['seconds']}; triggers {ada['counts']}; active {ada['active_s']:.1f} s "
            f"of {ada['video_s']:.0f} s ({100 * ada['active_s'] / ada['video_s']:.1f} %); buffer max "
            f"{ada['buffer_max']} frames"
        )
        print(f"full-rate time split (s): {full['seconds']}")
        if args.quick:
            per_s = full["wall_s"] / full["video_s"]
            print(
                f"full-rate extrapolated to the whole recording: {per_s * ada['video_s']:.0f} s wall "
                f"({1 / per_s:.2f}x real time, measured on the first {full['video_s']:.0f} s)"
            )
        print(
            f"peak RSS 1 min -> 10 min: {rss1['peak_rss_mb']:.0f} -> {rss10['peak_rss_mb']:.0f} MB "
            f"({100 * (rss10['peak_rss_mb'] / rss1['peak_rss_mb'] - 1):+.1f} %)"
        )
        if rss60 is not None:
            print(
                f"peak RSS 5 min -> 60 min: {ada['peak_rss_mb']:.0f} -> {rss60['peak_rss_mb']:.0f} MB "
                f"({100 * (rss60['peak_rss_mb'] / ada['peak_rss_mb'] - 1):+.1f} %); peak anon "
                f"{ada['peak_anon_mb']:.0f} -> {rss60['peak_anon_mb']:.0f} MB "
                f"({100 * (rss60['peak_anon_mb'] / ada['peak_anon_mb'] - 1):+.1f} %); after the scan: anon "
                f"{ada['end_anon_mb']:.0f} -> {rss60['end_anon_mb']:.0f} MB, file pages {ada['end_file_mb']:.0f} -> "
                f"{rss60['end_file_mb']:.0f} MB; 60 min at {rss60['x_realtime']:.2f}x real time"
            )

        scan_a = VideoScan.load(work / "adaptive.npz")
        scan_f = VideoScan.load(work / "full.npz")
        active = scan_a.active
        pad = 0.5 / FPS
        horizon = scan_f.motion.t_s[-1] if len(scan_f.motion) else 0.0

        print()
        print("| sweep | kind | speed | hand | over face (s) | max cover | in active | full-rate event |")
        print("| ---: | --- | --- | --- | --- | ---: | ---: | --- |")
        events = occlusion_events(scan_f.face, scan_f.hands)
        found = 0
        n_sw = 0
        for sw in sweeps:
            if sw["face0"] is None:
                continue
            n_sw += 1
            cov = covered(sw["face0"], sw["face1"], active, pad)
            found += cov >= 0.5
            ev = [e for e in events if e[1] >= sw["t0"] and e[0] <= sw["t1"]]
            evs = ", ".join(f"{a:.2f}-{b:.2f}" for a, b in ev) if ev else ("-" if sw["t0"] < horizon else "n/a")
            print(
                f"| {sw['index']} | {sw['kind']} | {sw['speed']} | {sw['hand'][-2:]} | "
                f"{sw['face0']:.2f}-{sw['face1']:.2f} | "
                f"{sw['max_cover']:.2f} | {100 * cov:.0f} % | {evs} |"
            )
        ev_cov = [covered(a, b, active, pad) for a, b in events]
        ev_found = sum(c >= 0.5 for c in ev_cov)
        ev_sweep = sum(any(e[1] >= sw["t0"] - 0.5 and e[0] <= sw["t1"] + 0.5 for sw in sweeps) for e in events)
        print()
        print("| recall | found | of | share |")
        print("| --- | ---: | ---: | ---: |")
        print(
            f"| composited sweeps (>= 50 % of the over-face span active) | {found} | {n_sw} | "
            f"{100 * found / max(n_sw, 1):.1f} % |"
        )
        print(
            f"| full-rate occlusion events (>= 50 % active){' (first 60 s)' if args.quick else ''} | {ev_found} | "
            f"{len(events)} | {100 * ev_found / max(len(events), 1):.1f} % |"
        )
        print(
            "| full-rate events, mean share of event time active | | | "
            f"{100 * float(np.mean(ev_cov)) if ev_cov else 0:.1f} % |"
        )
        ev_a = occlusion_events(scan_a.face, scan_a.hands)
        seen = sum(any(b >= a0 - 0.1 and a <= b0 + 0.1 for a, b in ev_a) for a0, b0 in events)
        print(
            f"| full-rate events also found in the adaptive scan's own landmarks | {seen} | {len(events)} | "
            f"{100 * seen / max(len(events), 1):.1f} % |"
        )
        print(
            f"\nfull-rate events: {len(events)} ({ev_sweep} during a composited sweep); missed: "
            f"{[(round(a, 2), round(b, 2)) for (a, b), c in zip(events, ev_cov) if c < 0.5]}"
        )
        missed = [
            sw["index"]
            for sw in sweeps
            if sw["face0"] is not None and covered(sw["face0"], sw["face1"], active, pad) < 0.5
        ]
        print(f"missed sweeps: {missed}")

        if full960 is not None:
            s960 = VideoScan.load(work / "full960_60s.npz")
            sel = scan_f.face.t_s < 60.0
            f640, h640 = scan_f.face.select(sel), scan_f.hands.select(sel)
            print()
            print(
                "| landmark size (first 60 s, every frame) | face present | frames with hands | occlusion events | "
                "ms per frame |"
            )
            print("| --- | ---: | ---: | ---: | ---: |")
            for label, f, h, r in (("640 px", f640, h640, None), ("960 px", s960.face, s960.hands, full960)):
                ms = "" if r is None else f"{1000 * r['wall_s'] / r['frames']:.1f}"
                if r is None and not args.quick:
                    ms = f"{1000 * full['wall_s'] / full['frames']:.1f}"
                print(
                    f"| {label} | {100 * f.presence_rate:.1f} % | {int((h.count > 0).sum())} | "
                    f"{len(occlusion_events(f, h))} | {ms} |"
                )
    finally:
        if tmpctx is not None:
            tmpctx.cleanup()


def ensure_recording(rec: Path, args: argparse.Namespace, *, height: int | None = None) -> None:
    """Build ``rec`` (and its ground truth beside it) unless both exist."""
    if rec.is_file() and rec.with_suffix(".json").is_file():
        return
    # in its own process: the source frames it holds (~0.8 GB) stay out of this one
    cmd = [sys.executable, __file__, "--_build", str(rec), "--minutes", str(args.minutes), "--seed", str(args.seed),
           "--source", str(args.source), *(["--_height", str(height)] if height else [])]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"building the recording failed:\n{r.stderr[-3000:]}")


SPEED_RUNS = (
    ("decode", "decode only, FFmpeg frame + slice threads (the fastest decode)", {"thread_type": "AUTO"}),
    ("decode1", "decode only, one decoding thread (no FFmpeg threads, as in the scan)", {"thread_type": "NONE"}),
    ("adaptive", "adaptive scan (scan_video defaults)", {"mode": "adaptive"}),
    ("session", "whole scan (scan_session: identity, every analyzer)", {}),
)


def speed_table(recordings: list[tuple[str, Path, Path | None]]) -> dict[str, dict[str, dict]]:
    """Decode only against the adaptive scan and the whole scan, each recording measured in one run (issue #17).

    Prints one table (ratio: wall time over the fastest decode-only wall time of the same recording) and where
    each scan's CPU went by thread; returns the stage results by recording label and run key.
    """
    out: dict[str, dict[str, dict]] = {}
    for label, rec, npz in recordings:
        res = out[label] = {}
        for key, _, kw in SPEED_RUNS:
            name = "scan" if key == "adaptive" else ("decode" if key.startswith("decode") else "session")
            res[key] = stage(name, rec, npz if key == "adaptive" else None, **kw)
    print("\n| recording | run | wall s | x real time | ratio to decode | CPU s | other load | peak RSS MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, res in out.items():
        base = res["decode"]["wall_s"]
        for key, what, _ in SPEED_RUNS:
            r = res[key]
            print(f"| {label} | {what} | {r['wall_s']:.1f} | {r['x_realtime']:.1f} | {r['wall_s'] / base:.2f} | "
                  f"{r['cpu_s']:.1f} | {r['others']:.2f} | {r['peak_rss_mb']:.0f} |")  # fmt: skip
    print(
        "\n(ratio: wall time over the first row's of the same recording, both in this run. Other load: CPU time "
        f"other processes used meanwhile, in cores of {os.cpu_count()}: the wall times are comparable only when it "
        "is low.)"
    )
    for label, res in out.items():
        for key in ("decode1", "adaptive", "session"):
            r = res[key]
            extra = f"; stage seconds {r['seconds']}; prefetch {r.get('prefetch')}" if key == "adaptive" else ""
            if key == "session":
                t = {k: round(v, 1) for k, v in r["timings"].items() if isinstance(v, (int, float))}
                extra = (f"; timings {t}; video scan {r.get('scan_wall_s')} s wall, {r.get('landmarked')} frames "
                         f"landmarked, stage seconds {r.get('seconds')}; prefetch {r.get('prefetch')}")  # fmt: skip
            print(f"{label} {key}: CPU s by thread {r.get('threads_cpu_s')}{extra}")
    return out


def identity_rows(rec: Path) -> None:
    """The adaptive scan without and with identity descriptors (several dense caps): speed, descriptor seconds."""
    head = "adaptive scan | faces described (base + dense) | descriptor s | wall s | x real time | CPU s | other load"
    print(f"\n| {head} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    caps = ((f"identity, dense cap {c:g}/s", {"identity": True, "identity_dense_fps": c}) for c in (2.0, 5.0, 15.0))
    # round 18 of #13: every frame near a hand is described whatever the cap; without that, the cap alone
    near = ("identity, dense cap 5/s, not every frame near a hand", {"identity": True, "identity_near_hand": False})
    for label, kw in (("no identity", {}), near, *caps):
        r = stage("scan", rec, mode="adaptive", **kw)
        i = r.get("identity") or {}
        sec = i.get("seconds", {})
        n = f"{i['described']} ({r['counts']['base_landmarked']} base frames)" if i else "-"
        d = f"{sec.get('describe', 0) + sec.get('align', 0):.1f}" if i else "-"
        speed = f"{r['wall_s']:.1f} | {r['x_realtime']:.2f} | {r['cpu_s']:.1f} | {r['others']:.2f}"
        print(f"| {label} | {n} | {d} | {speed} |")


def session_rows(rec: Path) -> None:
    """The whole scan of one session (``scan_session``: the video scan with every stream the registered analyzers
    ask for, then every analyzer), against the bare adaptive scan."""
    print("\n| run | wall s | x real time | CPU s | other load | where the time went (s) |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    bare = stage("scan", rec, mode="adaptive")
    speed = f"{bare['wall_s']:.1f} | {bare['x_realtime']:.2f} | {bare['cpu_s']:.1f} | {bare['others']:.2f}"
    print(f"| adaptive scan only (no identity) | {speed} | {bare['seconds']} |")
    for _ in range(2):
        r = stage("session", rec)
        t = r.get("timings") or {}
        parts = {k: round(v, 1) for k, v in t.items() if isinstance(v, (int, float))}
        an = {k: round(v, 2) for k, v in (t.get("analyzers_s") or {}).items()}
        print(f"| whole scan, every analyzer | {r['wall_s']:.1f} | {r['x_realtime']:.2f} | {r['cpu_s']:.1f} | "
              f"{r['others']:.2f} | {parts}; analyzers {an} |")  # fmt: skip


def occlusion_events(face, hands) -> list[tuple[float, float]]:
    """(start, end) of the occlusion events in the tracks, found as the face_occlusion analyzer finds them."""
    from interview_guard.signals import occlusion as occ

    w, h = face.frame_size if face.frame_size[1] else (1, 1)
    overlap = occ.frame_overlap(face.landmarks, hands.landmarks, face.present, hands.count)
    near = occ.hand_near_face(face.landmarks, hands.landmarks, face.present, hands.count, aspect=w / h)
    events = occ.find_occlusion_events(t_s=face.t_s, overlap=overlap, near=near, hand_count=hands.count)
    return [(ev.start_s, ev.end_s) for ev in events]


if __name__ == "__main__":
    main()
