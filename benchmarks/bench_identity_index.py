"""Speed and memory of the identity index (:mod:`interview_guard.io.identity_index`) at 10k, 100k and 1M descriptors.

For each size, in a fresh process (so the peak RSS is that size's own):

* ``insert``  -- ``IdentityIndex.insert_many`` of N random 128-d float32 face descriptors (one
  transaction per 10,000), then the file size;
* ``query 1``  -- one query against all N (``ExactSearch``: every stored vector streamed from SQLite in
  chunks of 65,536 and compared, radius 0.40, the ``strong`` distance);
* ``query 100`` -- 100 queries in one pass over the index (how a batch is matched);
* ``peak RSS`` -- the process's maximum resident set (``ru_maxrss``), Python and numpy included
  (the baseline of an empty process is printed too).

Descriptors are random unit-ish vectors (dlib's are about 1 long), so hardly any pair is within the radius: the
figures are the cost of the search, not of a long output. One BLAS thread.

Usage::

    .venv/bin/python benchmarks/bench_identity_index.py [--sizes 10000 100000 1000000] [--dir /tmp]

Prints a Markdown table; asserts nothing.
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

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one(n: int, directory: str) -> dict[str, float]:
    from interview_guard.io.identity_index import IdentityIndex
    from interview_guard.io.identity_search import ExactSearch
    from interview_guard.signals import identity_match as im

    base = _rss_mb()
    rng = np.random.default_rng(n)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / "ix.sqlite"
        t0 = time.perf_counter()
        with IdentityIndex(path) as ix:
            step = 10_000
            for lo in range(0, n, step):
                v = rng.normal(0, 1 / np.sqrt(128), (min(step, n - lo), 128)).astype(np.float32)
                ix.insert_many([(f"s{lo + i}", f"c{lo + i}", "face", v[i], 1.0) for i in range(v.shape[0])])
            t_insert = time.perf_counter() - t0
            size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
            search = ExactSearch(ix, lambda m: lambda q, rows: im.distance_matrix(m, q, rows))
            q1 = rng.normal(0, 1 / np.sqrt(128), (1, 128)).astype(np.float32)
            t0 = time.perf_counter()
            search.neighbours("face", q1, max_distance=im.FACE_STRONG_DISTANCE)
            t_q1 = time.perf_counter() - t0
            q100 = rng.normal(0, 1 / np.sqrt(128), (100, 128)).astype(np.float32)
            t0 = time.perf_counter()
            search.neighbours("face", q100, max_distance=im.FACE_STRONG_DISTANCE)
            t_q100 = time.perf_counter() - t0
    return {
        "n": n,
        "insert_s": t_insert,
        "file_mb": size_mb,
        "query1_s": t_q1,
        "query100_s": t_q100,
        "peak_rss_mb": _rss_mb(),
        "base_rss_mb": base,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the index files are made (and removed)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.dir)))
        return
    print("| descriptors | insert s | file MB | 1 query s | 100 queries s | peak RSS MB (empty process) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        res = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--dir", args.dir], capture_output=True, text=True, check=True
        )
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(
            f"| {n:,} | {r['insert_s']:.1f} | {r['file_mb']:.0f} | {r['query1_s']:.2f} | {r['query100_s']:.1f} | "
            f"{r['peak_rss_mb']:.0f} ({r['base_rss_mb']:.0f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
