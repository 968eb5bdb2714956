"""Per-clip scores of ``face_occlusion`` on the real clips in ../shared/data.

Clips:

* ``deepfakes/deepfacelive_*.mp4`` are side by side (original left, real-time
  swap right): each is split into two clips, ``_left`` (REAL) and
  ``_right`` (FAKE). Liu_Lice has a hand raised near the mouth; Keanu_Reeves
  has no hand (a control).
* ``deepfakes/{dfdc_style,ffpp}_{real,fake}.mp4``: real/fake pairs without a
  hand over the face (controls: nothing to judge).
* ``faces_video/*.mp4``: real faces; the Hamilton clip has a hand near the face.
* For each of several real talking-head clips, two labelled copies made with
  :func:`interview_guard.synth.hand_composite.make_occlusion_clips`: a real hand
  photo (HandOverFace, with its mask) waved across the face (REAL, hand in
  front), and the same with the face painted back over the hand (FAKE: the
  failure of a swap that draws its face on top of the hand).

Prints a Markdown table (docs/face-occlusion.md)::

    .venv/bin/python evaluation/face_occlusion_clips.py [--full-rate] [--work DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from face_occlusion_heldout import split_side_by_side  # noqa: E402 - a sibling script


def clips(work: Path) -> list[tuple[str, str, Path]]:
    from interview_guard.synth.hand_composite import make_occlusion_clips

    out = []
    for name in ("deepfacelive_Liu_Lice_0", "deepfacelive_Keanu_Reeves_1"):
        src = SHARED / "deepfakes" / f"{name}.mp4"
        if src.is_file():
            left, right = split_side_by_side(src, work)
            out += [(left.stem, "real", left), (right.stem, "fake (DeepFaceLive)", right)]
    for name, label in (
        ("dfdc_style_real", "real"),
        ("dfdc_style_fake", "fake (DFDC)"),
        ("ffpp_real", "real"),
        ("ffpp_fake", "fake (FF++)"),
    ):
        p = SHARED / "deepfakes" / f"{name}.mp4"
        if p.is_file():
            out.append((name, label, p))
    for name in (
        "face_recognition_short_hamilton_clip",
        "liveportrait_s18",
        "retalking_face2",
        "deepfacelive_sample_Twitch1",
    ):
        p = SHARED / "faces_video" / f"{name}.mp4"
        if p.is_file():
            out.append((name, "real", p))
    hands = SHARED / "hands"
    combos = [
        ("retalking_face1", "24"),
        ("retalking_face3", "26"),
        ("retalking_face5", "29"),
        ("sadtalker_WDA_AlexandriaOcasioCortez_000", "24"),
        ("liveportrait_d10", "26"),
        ("liveportrait_d9", "22"),
    ]
    for clip, hand in combos:
        src = SHARED / "faces_video" / f"{clip}.mp4"
        img, mask = hands / f"handoverface_{hand}.jpg", hands / f"handoverface_{hand}_mask.png"
        if not (src.is_file() and img.is_file()):
            continue
        g, s = work / f"{clip}_wave_real.mp4", work / f"{clip}_wave_swapfail.mp4"
        if not (g.is_file() and s.is_file()):
            make_occlusion_clips(src, hand_image=img, hand_mask=mask, out_genuine=g, out_swap=s)
        out += [(g.stem, "real + hand in front", g), (s.stem, "fake: face painted over hand", s)]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="where split and composited clips are kept")
    ap.add_argument("--full-rate", action="store_true", help="landmark every frame (reference)")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.scan import scan_session

    work = args.work or Path(tempfile.mkdtemp(prefix="ig-occ-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items = clips(work)
    fusion = FusionModel.load()
    opts = {"mode": "full"} if args.full_rate else None
    print(f"face_occlusion per clip ({'every frame landmarked' if args.full_rate else 'adaptive sampler'}):\n")
    print("| clip | label | events | score | risk band | strongest finding |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, label, path in items:
        rep = scan_session(path, analyzers=[FaceOcclusion()], fusion=fusion, video_options=opts)
        r = rep.analyzers["face_occlusion"]
        if r.status.value != "ok":
            print(f"| {name} | {label} | - | {r.status.value} | - | {r.reason} |")
            continue
        events = [e for e in r.evidence if e.kind == "occlusion_event"]
        top = max(events, key=lambda e: e.score) if events else None
        finding = (
            "-"
            if top is None
            else (max(top.details["scores"], key=top.details["scores"].get) if top.details.get("scores") else "none")
            + f" ({top.score:.2f})"
        )
        print(f"| {name} | {label} | {len(events)} | {r.score:.2f} | {rep.band} | {finding} |")
    print(f"\n({time.perf_counter() - t0:.0f} s; clips in {work})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
