"""Does a second hand elsewhere in the frame change ``face_occlusion``? (docs/face-occlusion.md, round 24)

Every clip of a ``face_occlusion_heldout.py`` work directory is scored (no request) as scanned, and again with a
still second hand added to its hand tracks: tracked in every frame in the slot the crossing hand leaves free, its
centre 2 face sizes from the face's centre (below and to one side, else beside the face, wherever the frame has
room; a close-up face leaves none and the clip is skipped). That is the other hand resting on the desk. It is
beyond ``hand_path.AT_FACE``, so it is no sighting of the crossing hand, and a score it moves is a part of the
analyzer that still reads it. The pixels are not touched: such a hand lies outside the face zone (the face box
1.6x). The scans come from the work directory's cache, so nothing is decoded or landmarked again::

    PYTHONPATH=src python evaluation/desk_hand_check.py --work /tmp/occ-test [--out desk.json]

Prints, per split, the clips with room, those the desk hand moves, and each fake kind's AUC against the genuine
waves without and with it.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("pasted", "translucent", "dropout", "warp", "mask_lag", "pasted_jitter")
#: Where the desk hand goes, tried in order (face widths across, face heights down from the face's centre): 2 face
#: sizes away, below and to a side first.
PLACES = ((0.8, 1.83), (-0.8, 1.83), (0.0, 2.0), (2.0, 0.3), (-2.0, 0.3), (2.0, 0.0), (-2.0, 0.0))
#: The hand's size, face sizes across and down from its centre.
HALF = 0.35


def with_desk_hand(face: Any, hands: Any) -> Any | None:
    """``hands`` with a still second hand 2 face sizes from the face (see the module docstring); None when the
    frame has no room for it."""
    from interview_guard.signals.face_geometry import FACE_OVAL  # noqa: PLC0415

    fl = np.asarray(face.landmarks)
    oval = fl[:, FACE_OVAL, :2]
    good = np.asarray(face.present, bool) & np.all(np.isfinite(oval), axis=(1, 2))
    if not good.any():
        return None
    lo, hi = oval[good].min(axis=1), oval[good].max(axis=1)
    c, size = np.median((lo + hi) / 2, axis=0), np.median(hi - lo, axis=0)
    for dx, dy in PLACES:
        cx, cy = c[0] + dx * size[0], c[1] + dy * size[1]
        if 0.05 + HALF * size[0] <= cx <= 0.95 - HALF * size[0] and 0.05 <= cy <= 1.08 - HALF * size[1]:
            break
    else:
        return None
    rng = np.random.default_rng(7)
    shape = np.stack([rng.uniform(-HALF, HALF, 21) * size[0], rng.uniform(-HALF, HALF, 21) * size[1]], axis=1)
    lm = np.array(hands.landmarks, dtype=np.float32, copy=True)
    count = np.array(hands.count, copy=True)
    score = np.array(hands.score, copy=True)
    for i in range(len(count)):
        free = [s for s in range(lm.shape[1]) if not np.all(np.isfinite(lm[i, s, :, 0]))]
        if not free:
            continue
        s = free[-1]
        lm[i, s, :, 0] = cx + shape[:, 0] + rng.normal(0, 0.002, 21)
        lm[i, s, :, 1] = cy + shape[:, 1] + rng.normal(0, 0.002, 21)
        lm[i, s, :, 2] = 0.0
        count[i] += 1
        score[i, s] = 0.9
    return dataclasses.replace(hands, landmarks=lm, count=count, score=score)


def score_clips(work: Path) -> dict[str, dict[str, Any]]:
    """Each clip's ``face_occlusion`` score without and with the desk hand (None: no room for it)."""
    from interview_guard.analyzers.face_occlusion import FaceOcclusion  # noqa: PLC0415
    from interview_guard.extract.session import extract_tracks  # noqa: PLC0415
    from interview_guard.io.session import Session  # noqa: PLC0415
    from interview_guard.tracks.metadata import SessionMetadata  # noqa: PLC0415

    wanted = set(FaceOcclusion.requires) | set(FaceOcclusion.uses)
    out: dict[str, dict[str, Any]] = {}
    clips = sorted(p for p in (work / "clips").iterdir() if (p / "meta.json").is_file())
    for k, d in enumerate(clips, 1):
        meta = json.loads((d / "meta.json").read_text())
        tracks = copy.copy(extract_tracks(Session.open(d), wanted, cache_dir=work / "scan_cache"))
        tracks.metadata = SessionMetadata()
        plain = FaceOcclusion().analyze(tracks).score
        desk_hands = with_desk_hand(tracks.face, tracks.hands)
        desk = None
        if desk_hands is not None:
            with_desk = copy.copy(tracks)
            with_desk.hands = desk_hands
            desk = FaceOcclusion().analyze(with_desk).score
        out[d.name] = {"split": d.name.split("__")[0], "kind": meta["kind"], "plain": plain, "desk": desk}
        if k % 20 == 0:
            print(f"{k}/{len(clips)} clips", file=sys.stderr)
    return out


def table(rows: dict[str, dict[str, Any]]) -> str:
    from interview_guard.signals.metrics import roc_auc  # noqa: PLC0415

    def auc(fakes: list[float], gens: list[float]) -> str:
        if not fakes or not gens:
            return "-"
        y = np.r_[np.ones(len(fakes)), np.zeros(len(gens))]
        return f"{roc_auc(labels=y, scores=np.r_[fakes, gens]):.2f}"

    lines = [
        "| split | clips with room / all | moved by the desk hand | all kinds | " + " | ".join(KINDS) + " |",
        "| --- | --- | ---: | --- | " + " | ".join("---" for _ in KINDS) + " |",
    ]
    for split in sorted({r["split"] for r in rows.values()}):
        every = [r for r in rows.values() if r["split"] == split]
        room = [r for r in every if r["desk"] is not None]
        moved = sum(abs(r["plain"] - r["desk"]) > 0.005 for r in room)

        def cell(kind: str | None, room: list[dict[str, Any]] = room) -> str:
            f = [r for r in room if (r["kind"] != "genuine" if kind is None else r["kind"] == kind)]
            g = [r for r in room if r["kind"] == "genuine"]
            was = auc([r["plain"] for r in f], [r["plain"] for r in g])
            now = auc([r["desk"] for r in f], [r["desk"] for r in g])
            return was if was == now else f"{was} -> {now}"

        cells = " | ".join(cell(k) for k in KINDS)
        lines.append(f"| {split} | {len(room)} / {len(every)} | {moved} | {cell(None)} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="a face_occlusion_heldout.py work directory")
    ap.add_argument("--out", type=Path, help="the per-clip scores as JSON")
    args = ap.parse_args(argv)
    if not (args.work / "clips").is_dir():
        print(f"{args.work}: no clips/ (not a face_occlusion_heldout.py work directory)", file=sys.stderr)
        return 2
    rows = score_clips(args.work)
    if args.out:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(args.out)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
