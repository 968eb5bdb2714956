"""Speed of the graphics face swap (:class:`interview_guard.synth.face_swap.FaceSwapper`) per stage.

Decodes the first ``--seconds`` of a real talking-head clip with the
project's :func:`~interview_guard.io.video_decode.iter_frames`, takes the
identity from a frame of another clip, and swaps every frame, timing:

* ``landmarks`` -- the MediaPipe face landmarker on the target frame;
* ``warp``      -- everything in ``FaceSwapper.render`` except colour and
  blend: destination mesh, Delaunay triangulation, triangle warp, masks;
* ``colour``    -- the Lab mean/std colour match;
* ``blend``     -- ``cv2.seamlessClone`` (or the feathered fallback) and
  pasting into the output frame;
* ``total``     -- the whole ``swap`` call.

Stages are timed by wrapping the module's functions from the outside, so the
same script measures any version of the module that keeps the names
``render``, ``_match_colour`` and ``_blend``; ``--impl old_face_swap.py``
loads the module from another file (e.g. ``git show REV:src/interview_guard/face_swap.py``)
for a before/after comparison. The pass over the clip is repeated
``--repeat`` times (each with a fresh swapper) and the fastest pass is
reported, with its CPU time (all threads) next to the wall time: on a busy
machine the wall time follows the load. ``--png`` writes a few output frames
(side by side with the input) for a visual check.

Usage::

    .venv/bin/python benchmarks/bench_face_swap.py [--clip retalking_face1.mp4]
        [--identity liveportrait_d9.mp4] [--seconds 8] [--repeat 3] [--impl FILE] [--png /tmp/fs.png]

Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces_video"


def _frames(path: Path, seconds: float):
    from interview_guard.io.video_decode import iter_frames

    frames, times = [], []
    for f in iter_frames(path):
        if times and f.t_s - times[0] >= seconds:
            break
        frames.append(np.ascontiguousarray(f.image))
        times.append(f.t_s)
    return frames, np.asarray(times) - times[0]


def _identity(path: Path, t_s: float) -> np.ndarray:
    from interview_guard.io.video_decode import iter_frames

    for f in iter_frames(path):
        if f.t_s >= t_s:
            return f.image
    raise SystemExit(f"{path}: shorter than {t_s} s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="retalking_face1.mp4")
    ap.add_argument("--identity", default="liveportrait_d9.mp4")
    ap.add_argument("--identity-t", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--impl", default=None, help="load the face_swap module from this file instead")
    ap.add_argument("--png", default=None, help="write input|output of a few frames to this PNG")
    a = ap.parse_args(argv)

    import cv2

    if a.impl:
        import importlib.util
        import sys

        import interview_guard  # noqa: F401 - the parent package, for the module's relative imports

        spec = importlib.util.spec_from_file_location("interview_guard._bench_face_swap_impl", a.impl)
        fsm = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = fsm
        spec.loader.exec_module(fsm)
    else:
        from interview_guard.synth import face_swap as fsm
    frames, times = _frames(FACES / a.clip, a.seconds)
    ident = _identity(FACES / a.identity, a.identity_t)
    h, w = frames[0].shape[:2]

    def timed(acc, key, fn):
        def wrapper(*args, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                acc[key] += time.perf_counter() - t0

        return wrapper

    best = None
    orig_colour, orig_blend = fsm._match_colour, fsm._blend
    for _ in range(max(a.repeat, 1)):
        acc = {"landmarks": 0.0, "render": 0.0, "colour": 0.0, "blend": 0.0, "total": 0.0, "cpu": 0.0}
        fsm._match_colour = timed(acc, "colour", orig_colour)
        fsm._blend = timed(acc, "blend", orig_blend)
        outs = []
        try:
            t0 = time.perf_counter()
            fs = fsm.FaceSwapper(ident)
            t_init = time.perf_counter() - t0
            with fs:
                fs._runner.process = timed(acc, "landmarks", fs._runner.process)
                fs.render = timed(acc, "render", fs.render)
                swapped = 0
                c0 = time.process_time()
                for img, t in zip(frames, times):
                    t1 = time.perf_counter()
                    out, ok = fs.swap(img, float(t))
                    acc["total"] += time.perf_counter() - t1
                    swapped += bool(ok)
                    outs.append(out)
                acc["cpu"] = time.process_time() - c0
        finally:
            fsm._match_colour, fsm._blend = orig_colour, orig_blend
        acc["swapped"], acc["init"] = swapped, t_init
        if best is None or acc["total"] < best["total"]:
            best = acc
    acc = best

    n = len(frames)
    warp = acc["render"] - acc["colour"] - acc["blend"]
    ms = lambda s: 1000.0 * s / n  # noqa: E731
    print(f"module {fsm.__file__}; fastest of {max(a.repeat, 1)} passes")
    print(
        f"clip {a.clip} ({w}x{h}, {n} frames, {a.seconds:g} s), identity {a.identity}@{a.identity_t:g}s "
        f"({ident.shape[1]}x{ident.shape[0]}); swapped {acc['swapped']}/{n}; init {acc['init']:.2f} s"
    )
    print()
    print("| stage | ms/frame |")
    print("|---|---:|")
    for k, v in (
        ("landmarks", acc["landmarks"]),
        ("warp", warp),
        ("colour", acc["colour"]),
        ("blend", acc["blend"]),
        ("total", acc["total"]),
    ):
        print(f"| {k} | {ms(v):.1f} |")
    print(f"| total CPU (all threads) | {ms(acc['cpu']):.1f} |")
    print(f"| frames/s | {n / acc['total']:.1f} |")

    if a.png:
        picks = np.linspace(0, n - 1, 4).round().astype(int)
        rows = [np.hstack([frames[k], outs[k]]) for k in picks]
        grid = np.vstack(rows)
        s = min(1.0, 1600.0 / grid.shape[1])
        if s < 1.0:
            grid = cv2.resize(grid, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        cv2.imwrite(a.png, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        print(f"\nwrote {a.png} (frames {list(picks)}: input | output)")


if __name__ == "__main__":
    main()
