"""Speed of the keystroke_relay analyzer on a long log (1,000,000 key events).

The log is real typing (the Aalto traces in ../shared, concatenated and
repeated until it holds the target number of events) passed through the
``intl_rdp`` relay profile, so every feature has work to do. Prints the time
of each stage on one core; nothing is asserted.

    .venv/bin/python benchmarks/bench_keystroke_relay.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from interview_guard.analyzers.keystroke_relay import KeystrokeRelay  # noqa: E402
from interview_guard.io.keystroke_log import read_keystroke_log  # noqa: E402
from interview_guard.synth.relay_sim import PROFILES, simulate_relay  # noqa: E402
from interview_guard.tracks import Tracks  # noqa: E402
from interview_guard.tracks.keystrokes import KeystrokeLog

AALTO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "keystrokes" / "aalto136m"


def long_log(n_events: int) -> KeystrokeLog:
    files = sorted(AALTO.glob("*_keystrokes.txt"))
    if not files:
        sys.exit(f"no Aalto traces in {AALTO}")
    parts = [read_keystroke_log(f) for f in files]
    t, kind, key, code = [], [], [], []
    offset, total = 0.0, 0
    while total < n_events:
        for p in parts:
            rel = p.t_ms - p.t_ms[0]
            t.append(rel + offset)
            kind.append(p.kind)
            key.append(p.key)
            code.append(p.code)
            offset += float(rel[-1]) + 2000.0
            total += len(p)
            if total >= n_events:
                break
    return KeystrokeLog.from_arrays(
        t_ms=np.concatenate(t)[:n_events],
        kind=np.concatenate(kind)[:n_events],
        key=np.concatenate(key)[:n_events],
        code=np.concatenate(code)[:n_events],
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    log = long_log(args.events)
    t0 = time.perf_counter()
    relayed = simulate_relay(log, PROFILES["intl_rdp"], seed=1)
    t_sim = time.perf_counter() - t0
    tracks = Tracks(duration_s=float(relayed.t_ms[-1]) / 1000.0, keystrokes=relayed)
    an = KeystrokeRelay()
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = an.analyze(tracks)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    relayed.presses()
    t_pairs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"key events: {len(relayed):,} ({relayed.n_keydown:,} presses, {tracks.duration_s / 3600:.1f} h of typing)")
    print(f"relay simulation: {t_sim:.2f} s")
    print(f"pairing downs and ups: {t_pairs:.2f} s")
    print(
        f"keystroke_relay analysis: best {min(times):.2f} s, median {np.median(times):.2f} s over {args.repeat} runs "
        f"(status {res.status.value}, score {res.score:.3f}, {len(res.windows)} windows)"
    )
    print(f"peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
