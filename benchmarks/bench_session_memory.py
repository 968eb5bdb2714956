"""Memory of the whole scan (``scan_session``) against recording length, stage by stage (issue #17).

Builds, for each ``--minutes`` value, a session directory beside the recording it is given: ``video.mp4`` (a
link to a recording of at least that length, cut by remuxing when longer; by default the 60-minute loop of
``bench_video_scan.py --long``), ``audio.m4a`` (AAC, 48 kHz stereo, as a browser records: the real speech clips
of ``../shared/data/speech`` looped, with the key clicks of the keystroke log mixed in 25 ms before each key)
and ``keystrokes.jsonl`` (typing bursts, about 80 keys a minute, on the recording's clock); ``session.json``
claims Germany, so the ``environment`` analyzer looks for mains hum. Then it scans each
session in a fresh process (``scan_session``, every registered analyzer, no cache unless ``--cache``) and
prints, for every stage -- probing, audio decoding for the lip-sync probes, the video scan, the audio stage,
each analyzer, the report -- the peak resident memory inside that stage (VmHWM, reset between stages through
``/proc/self/clear_refs``; it counts mapped file pages the process touched), the peak anonymous memory (RssAnon,
sampled every 20 ms: heap and stacks, not file pages) and the anonymous memory when the stage ended.

``--cache DIR`` scans each session twice into a scan cache, in two processes, and reports the second run: the
video scan is then read from the cache (memory-mapped), so the analyzers are measured in a minute, not the video
scan's time, from a process that has not scanned before.
``--trace`` adds each stage's tracemalloc peak (numpy's arrays are traced; slower).

Usage::

    .venv/bin/python benchmarks/bench_session_memory.py [--recording /tmp/bench15/loop_60min.mp4]
        [--minutes 5 60] [--work DIR] [--cache DIR] [--trace]

Linux only (``/proc``). Prints Markdown tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads; the CLI sets it too
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench_video_scan import status_mb  # noqa: E402 - this directory is the script's sys.path[0]

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "data" / "speech"
AUDIO_SR = 48000


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class StageMeter:
    """A progress hook that closes a stage whenever the stage (or the analyzer) changes."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.rows: list[dict] = []
        self.name = "probe"
        self.t0 = time.perf_counter()
        self.anon_peak = status_mb("RssAnon")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        reset_peak()
        if trace:
            import tracemalloc

            tracemalloc.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            a = status_mb("RssAnon")
            with self._lock:
                self.anon_peak = max(self.anon_peak, a)

    def close(self, next_name: str) -> None:
        row = {
            "stage": self.name,
            "s": round(time.perf_counter() - self.t0, 1),
            "hwm_mb": round(status_mb("VmHWM"), 1),
            "anon_peak_mb": 0.0,
            "anon_end_mb": round(status_mb("RssAnon"), 1),
            "file_end_mb": round(status_mb("RssFile"), 1),
        }
        with self._lock:
            row["anon_peak_mb"] = round(max(self.anon_peak, row["anon_end_mb"]), 1)
            self.anon_peak = row["anon_end_mb"]
        if self.trace:
            import tracemalloc

            row["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.reset_peak()
        self.rows.append(row)
        self.name = next_name
        self.t0 = time.perf_counter()
        reset_peak()

    def __call__(self, stage, *, completed: int, total: int, **info: str) -> None:
        s = getattr(stage, "value", str(stage))
        if s == "analyzer":  # called after the analyzer ran: that analyzer's stage ends here
            self.name = f"analyzer {info.get('detail', '')}"
            self.close("analyzer ..." if completed < total else "fusion and report")
            return
        if s == "probe" and self.name == "probe":
            self.close("keystrokes")
        elif s == "keystrokes":
            self.close("to the first video frame (lip-sync probe audio, models)")
        elif s == "video" and self.name != "video scan":
            self.close("video scan")
        elif s == "audio":
            self.close("after the audio stage")

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def run_session(session: str, cache: str | None, trace: bool) -> dict:
    sys.path.insert(0, str(REPO / "src"))
    from interview_guard.pipeline.scan import scan_session

    meter = StageMeter(trace)
    t0 = time.perf_counter()
    rep = scan_session(Path(session), cache_dir=cache, progress=meter)
    meter.close("-")
    meter.stop()
    return {
        "wall_s": round(time.perf_counter() - t0, 1),
        "duration_s": rep.session.duration_s,
        "peak_mb": max(r["hwm_mb"] for r in meter.rows),
        "anon_peak_mb": max(r["anon_peak_mb"] for r in meter.rows),
        "rows": meter.rows,
        "status": {k: v.status for k, v in rep.analyzers.items()},
        "band": rep.risk.band,
    }


def _speech() -> np.ndarray:
    """The speech clips, each mono at ``AUDIO_SR``, with a second of room noise between them."""
    import av

    parts = []
    rng = np.random.default_rng(3)
    for p in sorted(SPEECH.glob("*.wav")):
        res = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SR)
        with av.open(str(p)) as c:
            for f in c.decode(c.streams.audio[0]):
                parts += [o.to_ndarray().reshape(-1) for o in res.resample(f)]
            parts += [o.to_ndarray().reshape(-1) for o in res.resample(None)]
        parts.append(rng.normal(0, 0.003, AUDIO_SR).astype(np.float32))
    return np.concatenate(parts)


def build_session(out: Path, recording: Path, seconds: float) -> None:
    """A session of ``seconds``: the video (linked or cut), speech with key clicks, the keystroke log."""
    import av

    from interview_guard.synth.keyboard_sound import click_wave

    if (out / "session.json").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    with av.open(str(recording)) as c:
        rec_s = float(c.duration or 0) / 1e6
    video = out / "video.mp4"
    if rec_s <= seconds + 1:
        video.symlink_to(recording.resolve())
    else:  # remux the first ``seconds``: same pictures, no re-encoding
        with av.open(str(recording)) as src, av.open(str(video), "w") as dst:
            s_in = src.streams.video[0]
            s_out = dst.add_stream_from_template(s_in)
            for pkt in src.demux(s_in):
                if pkt.dts is None:
                    continue
                if pkt.pts is not None and float(pkt.pts * s_in.time_base) >= seconds and pkt.is_keyframe:
                    break
                pkt.stream = s_out
                dst.mux(pkt)
    rng = np.random.default_rng(11)
    # typing bursts: 8-20 keys at 150-350 ms, a burst every ~10 s
    keys, t = [], 2.0
    while t < seconds - 5:
        for _ in range(int(rng.integers(8, 21))):
            keys.append(t)
            t += float(rng.uniform(0.15, 0.35))
        t += float(rng.uniform(5, 15))
    keys_s = np.asarray(keys)
    lines = []
    for i, k in enumerate(keys_s):
        ch = "abcdefghijklmnopqrstuvwxyz "[i % 27]
        code = "Space" if ch == " " else f"Key{ch.upper()}"
        lines.append({"t": round(k * 1000, 1), "type": "down", "key": ch, "code": code})
        lines.append({"t": round((k + 0.09) * 1000, 1), "type": "up", "key": ch, "code": code})
    (out / "keystrokes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    speech = _speech()
    clicks = np.sort(keys_s - 0.025)
    block = 60 * AUDIO_SR  # written a minute at a time
    with av.open(str(out / "audio.m4a"), "w") as dst:
        st = dst.add_stream("aac", rate=AUDIO_SR, layout="stereo")
        pos = 0
        total = int(seconds * AUDIO_SR)
        while pos < total:
            n = min(block, total - pos)
            idx = (np.arange(pos, pos + n) % speech.size).astype(np.int64)
            y = speech[idx] * 0.5 + rng.normal(0, 0.002, n).astype(np.float32)
            for c in clicks[(clicks >= pos / AUDIO_SR) & (clicks < (pos + n) / AUDIO_SR)]:
                w = click_wave(rng, 0.05, sr=AUDIO_SR)
                i = int(round(c * AUDIO_SR)) - pos
                m = min(w.size, n - i)
                y[i : i + m] += w[:m]
            frame = av.AudioFrame.from_ndarray(np.stack([y, y]).astype(np.float32), format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_SR
            frame.pts = pos
            for pkt in st.encode(frame):
                dst.mux(pkt)
            pos += n
        for pkt in st.encode(None):
            dst.mux(pkt)
    (out / "session.json").write_text(
        json.dumps({"candidate_id": out.name, "keystroke_clock_offset_ms": 0, "claimed_country": "DE"}) + "\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recording", type=Path, default=Path("/tmp/bench15/loop_60min.mp4"))
    ap.add_argument("--minutes", type=float, nargs="+", default=[5.0, 60.0])
    ap.add_argument("--work", type=Path, default=None, help="where the sessions are built (kept)")
    ap.add_argument("--cache", type=Path, default=None, help="measure a re-scan from this scan cache")
    ap.add_argument("--trace", action="store_true", help="tracemalloc peak per stage (slower)")
    ap.add_argument("--_session", help=argparse.SUPPRESS)
    ap.add_argument("--_fill", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._session and args._fill:  # fills the scan cache; a fresh process measures the re-scan
        sys.path.insert(0, str(REPO / "src"))
        from interview_guard.pipeline.scan import scan_session

        scan_session(Path(args._session), cache_dir=str(args.cache))
        return
    if args._session:
        print(json.dumps(run_session(args._session, str(args.cache) if args.cache else None, args.trace)))
        return
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-session-memory-"))
    results = []
    for m in args.minutes:
        sess = work / f"session_{m:g}min"
        t0 = time.perf_counter()
        build_session(sess, args.recording, m * 60)
        print(f"built {sess} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        cmd = [sys.executable, __file__, "--_session", str(sess)]
        if args.cache:
            cmd += ["--cache", str(args.cache / sess.name)]
            r = subprocess.run([*cmd, "--_fill"], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"scan of {sess} into the cache failed:\n{r.stderr[-3000:]}")
        if args.trace:
            cmd.append("--trace")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"scan of {sess} failed:\n{r.stderr[-3000:]}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        results.append((m, res))
        print(f"\n### {m:g} minutes: whole scan {res['wall_s']} s, peak {res['peak_mb']:.0f} MB (VmHWM), "
              f"peak anon {res['anon_peak_mb']:.0f} MB; band {res['band']}; {res['status']}")  # fmt: skip
        trace = "traced_peak_mb" in res["rows"][0]
        print("\n| stage | s | peak RSS MB | peak anon MB | anon at end MB | file pages at end MB |"
              + (" tracemalloc peak MB |" if trace else ""))  # fmt: skip
        print("| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if trace else ""))
        for row in res["rows"]:
            extra = f" {row['traced_peak_mb']:.1f} |" if trace else ""
            print(f"| {row['stage']} | {row['s']} | {row['hwm_mb']:.0f} | {row['anon_peak_mb']:.0f} | "
                  f"{row['anon_end_mb']:.0f} | {row['file_end_mb']:.0f} |{extra}")  # fmt: skip
        sys.stdout.flush()
    if len(results) >= 2:
        (m0, a), (m1, b) = results[0], results[-1]
        print(f"\nwhole scan peak {m0:g} -> {m1:g} min: {a['peak_mb']:.0f} -> {b['peak_mb']:.0f} MB "
              f"({100 * (b['peak_mb'] / a['peak_mb'] - 1):+.1f} %); peak anon {a['anon_peak_mb']:.0f} -> "
              f"{b['anon_peak_mb']:.0f} MB ({100 * (b['anon_peak_mb'] / a['anon_peak_mb'] - 1):+.1f} %)")  # fmt: skip


if __name__ == "__main__":
    main()
