"""Identity descriptors on real genuine clips and photos: the numbers behind ``docs/face-identity.md``.

Each clip is scanned as ``extract_tracks`` scans a short recording (every
frame landmarked, ``mode="full"``; descriptors at 5 per second inside the
active interval, which then covers the whole clip; two faces looked for)
with ``identity=True``.
Per clip: faces described, quality, the distance of each face to the clip's
robust centroid (within-clip spread), what ``find_changes`` and
``find_flashes`` report with the analyzer's defaults (a genuine clip should
give neither), and the ``face_identity`` score. Across clips: the distance
between the clips' centroids (different people, and the same person in two
recordings). Photos (``stills/``): described as enrolment photos and
compared with every clip's centroid.

Usage::

    .venv/bin/python evaluation/face_identity_measure.py [--cache DIR] [--clips NAME ...]

Prints Markdown tables; asserts nothing. Clips are scanned once into ``--cache``
(npz of the VideoScan) and reused.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DATA = REPO.parent / "shared" / "data"
FACES = DATA / "faces_video"

# clip -> person (one person may appear in two clips)
CLIPS = {
    "faces_video/deepfacelive_sample_Obama_speaking.mp4": "obama",
    "faces_video/deepfacelive_sample_Twitch1.mp4": "streamer",
    "faces_video/retalking_face1.mp4": "man_suit",
    "faces_video/retalking_face2.mp4": "man_map",
    "faces_video/retalking_face3.mp4": "aoc",
    "faces_video/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4": "aoc",
    "faces_video/retalking_face5.mp4": "woman_glasses",
    "faces_video/liveportrait_s18.mp4": "woman_plants",
    "faces_video/liveportrait_d0.mp4": "man_greenscreen",
    "faces_video/liveportrait_d6.mp4": "woman_expressions",
    "faces_video/liveportrait_d9.mp4": "man_glasses",
    "faces_video/liveportrait_d10.mp4": "young_woman",
    "faces_video/liveportrait_d11.mp4": "girl",
    "faces_video/liveportrait_d14.mp4": "young_woman_2",
    "faces_video/face_recognition_short_hamilton_clip.mp4": "hamilton",
    "deepfakes/ffpp_real.mp4": "anchor",
    "deepfakes/dfdc_style_real.mp4": "dfdc_woman",
}
# real face swaps and the genuine clips they were made from
FAKES = {
    "deepfakes/ffpp_fake.mp4": "deepfakes/ffpp_real.mp4",
    "deepfakes/dfdc_style_fake.mp4": "deepfakes/dfdc_style_real.mp4",
}
# DeepFaceLive demos: original | swap side by side in one frame (each half is cut out and scanned on its own)
SIDE_BY_SIDE = ("deepfakes/deepfacelive_Liu_Lice_0.mp4", "deepfakes/deepfacelive_Keanu_Reeves_1.mp4")
PHOTOS = {"obama.jpg": "obama", "biden.jpg": "biden", "two_people.jpg": None}


def scan(name: str, cache: Path):
    from interview_guard.extract.scan_results import VideoScan
    from interview_guard.extract.video_scan import scan_video
    from interview_guard.io.landmark_types import FaceRunnerOptions

    out = cache / (Path(name).stem + ".scan.npz")
    if out.is_file():
        return VideoScan.load(out)
    s = scan_video(DATA / name, mode="full", identity=True, face_options=FaceRunnerOptions(num_faces=2))
    s.save(out)
    return s


def half(name: str, side: str, cache: Path) -> Path:
    """The left (original) or right (swap) half of a side-by-side clip, re-encoded once into ``cache``."""
    import av

    out = cache / f"{Path(name).stem}_{side}.mp4"
    if out.is_file():
        return out
    with av.open(str(DATA / name)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        w, h = vin.codec_context.width, vin.codec_context.height
        half_w = (w // 2) // 2 * 2
        vs = dst.add_stream("libx264", rate=vin.average_rate or 30)
        vs.width, vs.height, vs.pix_fmt = half_w, h // 2 * 2, "yuv420p"
        for vf in src.decode(vin):
            img = vf.to_ndarray(format="rgb24")
            x0 = 0 if side == "original" else w - half_w
            cut = np.ascontiguousarray(img[: h // 2 * 2, x0 : x0 + half_w])
            for pkt in vs.encode(av.VideoFrame.from_ndarray(cut, format="rgb24")):
                dst.mux(pkt)
        for pkt in vs.encode():
            dst.mux(pkt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ig-identity-measure"))
    ap.add_argument("--clips", nargs="*")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    from interview_guard.analyzers.face_identity import FaceIdentity
    from interview_guard.io.enrolment import describe_enrolment_photo
    from interview_guard.signals import face_identity as fi
    from interview_guard.tracks import Tracks
    from interview_guard.tracks.identity import IdentityTrack

    names = [n for n in CLIPS if not args.clips or Path(n).stem in args.clips]
    cents: dict[str, np.ndarray] = {}
    print("| clip | person | faces (dense) | quality median (min) | within: median / p90 / max | changes | flashes "
          "| score | descr. s | other faces |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    a = FaceIdentity()
    for name in names:
        s = scan(name, args.cache)
        idt = s.identity
        main_rows = idt.select(idt.face == 0)
        n_other = int((idt.face != 0).sum())
        good = main_rows.quality >= a.min_quality
        g = main_rows.select(good)
        c = fi.robust_centroid(descriptors=g.descriptor, weights=g.quality)
        cents[name] = c
        d = fi.distances(descriptors=g.descriptor, centre=c)
        dur = float(s.motion.t_s[-1]) if len(s.motion) else 0.0
        r = a.analyze(Tracks(duration_s=dur, identity=idt))
        kinds = [e.kind for e in r.evidence]
        sec = idt.meta.get("seconds", {})
        print(
            f"| {Path(name).stem} | {CLIPS[name]} | {len(main_rows)} ({int(main_rows.dense.sum())}) | "
            f"{np.median(main_rows.quality):.2f} ({main_rows.quality.min():.2f}) | "
            f"{np.median(d):.3f} / {np.quantile(d, 0.9):.3f} / {d.max():.3f} | {kinds.count('identity_change')} | "
            f"{kinds.count('identity_flash')} | {r.score:.2f} | {sec.get('describe', 0):.1f} | {n_other} |"
        )
        for e in r.evidence:
            print(f"    {e.kind} {e.start_s:.2f}-{e.end_s:.2f} score {e.score:.2f}: {e.details.get('distance')}")
    print("\n| clip A | clip B | same person | centroid distance |")
    print("| --- | --- | --- | ---: |")
    pairs = []
    for x, y in itertools.combinations(names, 2):
        dd = float(np.linalg.norm(cents[x] - cents[y]))
        pairs.append((dd, x, y))
    for dd, x, y in sorted(pairs)[:12]:
        print(f"| {Path(x).stem} | {Path(y).stem} | {CLIPS[x] == CLIPS[y]} | {dd:.3f} |")
    diff = [p[0] for p in pairs if CLIPS[p[1]] != CLIPS[p[2]]]
    same = [p[0] for p in pairs if CLIPS[p[1]] == CLIPS[p[2]]]
    print(f"\ndifferent people: {len(diff)} pairs, min {min(diff):.3f}, median {np.median(diff):.3f}; "
          f"same person in two clips: {[round(v, 3) for v in same]}")  # fmt: skip
    print("\n| swap | its original | faces | changes | flashes | score | vs original | as enrolment: p(other) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for fake, real in FAKES.items():
        if real not in cents:
            continue
        s = scan(fake, args.cache)
        idt = s.identity
        g = idt.select((idt.face == 0) & (idt.quality >= a.min_quality))
        c = fi.robust_centroid(descriptors=g.descriptor, weights=g.quality)
        dur = float(s.motion.t_s[-1]) if len(s.motion) else 0.0
        enrolled = IdentityTrack(
            **{k: getattr(idt, k) for k in idt.ARRAYS}, enrolment=cents[real], enrolment_status="ok"
        )
        r = a.analyze(Tracks(duration_s=dur, identity=idt))
        re = a.analyze(Tracks(duration_s=dur, identity=enrolled))
        kinds = [e.kind for e in r.evidence]
        p_other = next((e.score for e in re.evidence if e.kind.startswith("enrolment")), float("nan"))
        print(f"| {Path(fake).stem} | {Path(real).stem} | {len(g)} | {kinds.count('identity_change')} | "
              f"{kinds.count('identity_flash')} | {r.score:.2f} | "
              f"{np.linalg.norm(c - cents[real]):.3f} | {p_other:.2f} |")  # fmt: skip
    print("\n| DeepFaceLive demo | half | faces | quality median | within max | changes | flashes | score | "
          "swap vs original |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in SIDE_BY_SIDE:
        cs = {}
        for side in ("original", "swap"):
            clip = half(name, side, args.cache)
            s = scan(str(clip), args.cache)  # an absolute path: DATA / it is itself
            idt = s.identity
            g = idt.select((idt.face == 0) & (idt.quality >= a.min_quality))
            cs[side] = fi.robust_centroid(descriptors=g.descriptor, weights=g.quality)
            d = fi.distances(descriptors=g.descriptor, centre=cs[side])
            dur = float(s.motion.t_s[-1]) if len(s.motion) else 0.0
            r = a.analyze(Tracks(duration_s=dur, identity=idt))
            kinds = [e.kind for e in r.evidence]
            vs = f"{np.linalg.norm(cs['swap'] - cs['original']):.3f}" if side == "swap" else "-"
            counts = f"{kinds.count('identity_change')} | {kinds.count('identity_flash')}"
            print(f"| {Path(name).stem} | {side} | {len(g)} | {np.median(g.quality):.2f} | {d.max():.3f} | "
                  f"{counts} | {r.score:.2f} | {vs} |")  # fmt: skip
            for e in r.evidence:
                print(f"    {e.kind} {e.start_s:.2f}-{e.end_s:.2f} score {e.score:.2f}: {e.summary[:140]}")
    print("\n| photo | status | nearest clip (distance) | distance to the same person's clip |")
    print("| --- | --- | --- | ---: |")
    for photo, who in PHOTOS.items():
        enr = describe_enrolment_photo(FACES / "stills", photo)
        if enr.descriptor is None:
            print(f"| {photo} | {enr.status} | - | - |")
            continue
        ds = {n: float(np.linalg.norm(cents[n] - enr.descriptor)) for n in names}
        near = min(ds, key=ds.__getitem__)
        mine = [v for n, v in ds.items() if CLIPS[n] == who]
        others = sorted(v for n, v in ds.items() if CLIPS[n] != who)
        print(f"| {photo} | ok | {Path(near).stem} ({ds[near]:.3f}) | "
              f"{', '.join(f'{v:.3f}' for v in mine) or '-'}; other people from {others[0]:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
