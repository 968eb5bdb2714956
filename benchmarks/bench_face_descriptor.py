"""Speed of the face descriptor (:mod:`interview_guard.io.face_descriptor`) on one core.

Takes frames of a real talking-head clip (``../shared/data/faces_video``; random
chips when it is absent), landmarks them with MediaPipe, and times:

* ``load``      -- ``FaceDescriber()``: sha256 of the weights, dequantising, folding;
* ``align``     -- ``align_chip`` per face (the similarity fit and ``cv2.warpAffine``);
* ``describe``  -- the numpy forward pass per face, one chip per call and in batches.

The BLAS runs one thread (set before numpy loads, as the scan workers run it):
with two threads the small matrix products get slower, not faster. Each
timing is the best of ``--repeat`` passes, with the CPU time (all threads)
beside the wall time.

Usage::

    .venv/bin/python benchmarks/bench_face_descriptor.py [--clip retalking_face1.mp4] [--faces 16] [--repeat 5]

Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from interview_guard.io.face_descriptor import CHIP_SIZE, FaceDescriber, align_chip  # noqa: E402

FACES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faces_video"


def _faces(clip: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to ``n`` (frame, landmarks) pairs, 0.25 s apart."""
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions
    from interview_guard.io.video_decode import iter_frames

    out = []
    opts = FaceRunnerOptions(blendshapes=False, image_mode=True, small_face_fallback=False)
    with FaceLandmarkerRunner(opts) as runner:
        for f in iter_frames(clip, fps=4.0):
            img = np.ascontiguousarray(f.image)
            obs = runner.process(img, f.t_s)
            if obs.present:
                out.append((img, obs.landmarks))
            if len(out) >= n:
                break
    return out


def _best(fn, repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    i = int(np.argmin(wall))
    return wall[i], cpu[i]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="retalking_face1.mp4", help="clip in ../shared/data/faces_video")
    ap.add_argument("--faces", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    clip = FACES / args.clip
    if clip.is_file():
        faces = _faces(clip, args.faces)
        source = f"{args.clip}, {len(faces)} frames"
    else:
        faces = []
        source = f"random chips ({clip} not found)"

    w0, c0 = time.perf_counter(), time.process_time()
    describer = FaceDescriber()
    load = (time.perf_counter() - w0, time.process_time() - c0)

    rows = [("load", 1, *load)]
    if faces:
        chips = np.stack([align_chip(img, lm) for img, lm in faces])
        w, c = _best(lambda: [align_chip(img, lm) for img, lm in faces], args.repeat)
        rows.append(("align", len(faces), w, c))
    else:
        rng = np.random.default_rng(0)
        chips = rng.integers(0, 256, size=(args.faces, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    n = len(chips)
    describer.describe(chips[:1])  # warm up
    w, c = _best(lambda: [describer.describe(chips[i : i + 1]) for i in range(n)], args.repeat)
    rows.append(("describe, 1 chip per call", n, w, c))
    w, c = _best(lambda: describer.describe(chips), args.repeat)
    rows.append((f"describe, {n} chips per call", n, w, c))

    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    print(f"face descriptor: {source}; OPENBLAS_NUM_THREADS={threads}, best of {args.repeat}\n")
    print("| stage | faces | wall ms per face | CPU ms per face |")
    print("| --- | ---: | ---: | ---: |")
    for name, k, wall, cpu in rows:
        print(f"| {name} | {k} | {1000 * wall / k:.1f} | {1000 * cpu / k:.1f} |")


if __name__ == "__main__":
    main()
