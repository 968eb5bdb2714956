"""The hand's opacity at the face outline in colour, measured offline on the held-out evaluation's clips (round 30).

``face_occlusion`` reads a 64x64 luma zone. This asks what a finer zone in colour would add before the scanner is
changed to keep one (docs/face-occlusion.md, round 30: measured, not kept). For every clip of one or more
``face_occlusion_heldout.py`` work directories (their clips, scan caches and results), it decodes the clip in colour,
rebuilds each crossing's anchored zone at ``--side`` px from the scan's zone boxes (the rows ``crossing_measures``
reads: the crossing's frames at the anchor, the reference second before it, the null frames around it), and
measures :func:`outline_opacity`:

* where the hand reaches the outline from outside (per sector of ``SECTORS`` around the face, the band just outside
  the outline and the band beyond it both changed, as ``entry_ratio_mean`` asks), the hand's colour is read just
  outside the outline in that sector, ``H`` (YCrCb, chroma weighted ``CHROMA``);
* every pixel of the band just inside the outline in those sectors (where that colour differs from the face's by
  ``min_contrast`` or more) is taken as a mix of that hand and the face behind it (the reference, ``F``): its
  opacity ``a = ((C - F) . (H - F)) / |H - F|^2`` for its colour now, ``C``;
* ``opaque_share``: per frame, the share of those pixels above opacity 0.8; its median over the crossing.

A hand in front of the face should be the same hand on both sides of the outline (opaque share high), a face drawn
over the hand inside the swap's mask leaves none of it (pasted, mask lag) or a part (translucent). What the test
splits showed instead: a motion-blurred hand is as translucent over the face as a translucent mask makes it, and the
colour just outside the outline is not always the hand's (a wrist, a sleeve, a blend with the wall behind a blurred
hand).

Records go to ``<work>/outline_colour.jsonl`` (resumable). The table applies one rule to the stored clip scores,
``max(score, LOOK)`` where a crossing's opaque share is at most ``--max-share`` over ``--min-frames`` measured
frames, and gives each kind's AUC against the genuine waves of its split, per split and per held-out source, with the
genuine waves the rule raised. The real clips of ``../shared/data`` are skipped (their results keep no crossings).

    PYTHONPATH=src .venv/bin/python evaluation/outline_colour.py /tmp/occ-dev-s0 /tmp/occ-dev-s1
    PYTHONPATH=src .venv/bin/python evaluation/outline_colour.py /tmp/occ-test-s0 --report-only
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.signals.hand_crossing import _SECTORS, _sector_means, aligned_rows, oval_mask

#: Weight of the chroma channels against luma in the colour distance (chroma varies over a smaller range).
CHROMA = 2.0
SECTORS = _SECTORS  # the sectors of hand_crossing's entry measure (its _sector_means reads them)
#: A pixel counts as opaque hand above this opacity.
OPAQUE = 0.8


def to_ycrcb(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (..., 3) -> float32 (Y, CHROMA * (Cr - 128), CHROMA * (Cb - 128)), BT.601 full range."""
    x = np.asarray(rgb, dtype=np.float32)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    cr = (x[..., 0] - y) * 0.713
    cb = (x[..., 2] - y) * 0.564
    out: np.ndarray = np.stack([y, CHROMA * cr, CHROMA * cb], axis=-1)
    return out


def _smooth(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter  # noqa: PLC0415 - scipy.ndimage is slow to import

    size = (1, 3, 3, 1) if x.ndim == 4 else (3, 3, 1)
    out: np.ndarray = uniform_filter(x, size=size, mode="nearest")
    return out


def outline_opacity(
    *,
    frames: np.ndarray,
    reference: np.ndarray,
    null: np.ndarray,
    face: np.ndarray,
    min_change: float = 10.0,
    min_contrast: float = 20.0,
    min_pixels: int = 10,
) -> dict[str, Any]:
    """The opacity of the hand just inside the face outline, frame by frame (see the module docstring).

    Parameters
    ----------
    frames : np.ndarray [shape=(n, side, side, 3)]
        The crossing's zone crops, RGB uint8 (or float), all at the same anchored zone.
    reference : np.ndarray [shape=(k, side, side, 3)]
        Crops of the same zone with no hand in it, just before the crossing (their median is the face behind).
    null : np.ndarray [shape=(m, side, side, 3)]
        Crops of the same zone with no hand, around the crossing: how much each pixel changes on its own.
    face : np.ndarray [shape=(side, side), dtype=bool]
        The face outline's inside.
    min_change : float
        Smallest colour distance that counts as changed, whatever the noise.
    min_contrast : float
        Smallest colour distance between hand and face at which a pixel's opacity is read.

    Returns
    -------
    dict
        ``frames_at_outline`` (frames with the hand at 3+ sectors of the outline), ``opacity_frames`` (of those,
        frames with ``min_pixels`` pixels of enough contrast), ``opaque_share_median`` and ``opacity_median``
        (None under two such frames), ``opaque_share`` (per measured frame).
    """
    from scipy.ndimage import distance_transform_edt  # noqa: PLC0415

    frames = np.asarray(frames)
    side = int(frames.shape[1])
    if frames.ndim != 4 or frames.shape[1:] != (side, side, 3):
        raise ValueError(f"frames must be (n, side, side, 3), got {frames.shape}")
    for name, arr in (("reference", reference), ("null", null)):
        if np.asarray(arr).ndim != 4 or np.asarray(arr).shape[1:] != frames.shape[1:] or len(arr) == 0:
            raise ValueError(f"{name} must be (k >= 1, {side}, {side}, 3), got {np.asarray(arr).shape}")
    face = np.asarray(face, dtype=bool)
    if face.shape != (side, side):
        raise ValueError(f"face must be ({side}, {side}), got {face.shape}")
    out: dict[str, Any] = {"frames_at_outline": 0, "opacity_frames": 0, "opaque_share_median": None,
                           "opacity_median": None, "opaque_share": []}  # fmt: skip
    if not face.any() or face.all():
        return out
    k = side / 64.0  # bands scaled from the 64-px zone's 4 and 10 px
    ref = np.median(_smooth(to_ycrcb(reference)), axis=0)
    dist_null = np.linalg.norm(_smooth(to_ycrcb(null)) - ref, axis=-1)
    thr = np.maximum(1.5 * np.percentile(dist_null, 90, axis=0) + 4.0, min_change)
    d_in, d_out = distance_transform_edt(face), distance_transform_edt(~face)
    inner = face & (d_in <= 4 * k)
    outer = ~face & (d_out <= 4 * k)
    beyond = ~face & (d_out > 4 * k) & (d_out <= 10 * k)
    ys, xs = np.nonzero(face)
    yy, xx = np.mgrid[0:side, 0:side]
    ang = np.arctan2(yy - ys.mean(), xx - xs.mean())
    sector = ((ang + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
    shares, medians = [], []
    for frame in frames:
        cur = _smooth(to_ycrcb(frame))
        changed = np.linalg.norm(cur - ref, axis=-1) > thr
        at = (_sector_means(changed, outer, sector) >= 0.3) & (_sector_means(changed, beyond, sector) >= 0.3)
        if np.count_nonzero(at) < 3:  # a hand against the outline, not a touch
            continue
        out["frames_at_outline"] += 1
        at_px = np.isin(sector, np.flatnonzero(at))
        hand_out = changed & outer & at_px
        inside = inner & at_px
        # the hand's colour just outside the outline, per sector (the whole hand's where a sector has too little);
        # a sector whose hand is not the face's colour behind it by ``min_contrast`` is not read (texture alone
        # would make noise of the opacity)
        hand = np.broadcast_to(np.median(cur[hand_out], axis=0), (int(inside.sum()), 3)).copy()
        sec_in = sector[inside]
        behind, now = ref[inside], cur[inside]
        keep = np.zeros(sec_in.shape, bool)
        for s in np.flatnonzero(at):
            here, mine = hand_out & (sector == s), sec_in == s
            if here.sum() >= 4:
                hand[mine] = np.median(cur[here], axis=0)
            if mine.any() and np.linalg.norm(hand[mine][0] - np.median(behind[mine], axis=0)) >= min_contrast:
                keep |= mine
        d = hand - behind
        w = np.sum(d * d, axis=1)
        ok = keep & (w >= min_contrast**2)
        if ok.sum() < min_pixels:
            continue
        alpha = np.sum((now - behind) * d, axis=1)[ok] / w[ok]
        shares.append(float(np.mean(alpha > OPAQUE)))
        medians.append(float(np.median(alpha)))
    out["opacity_frames"] = len(shares)
    out["opaque_share"] = [round(s, 3) for s in shares]
    if len(shares) >= 2:
        out["opaque_share_median"] = round(float(np.median(shares)), 3)
        out["opacity_median"] = round(float(np.median(medians)), 3)
    return out


KINDS = ("pasted", "translucent", "dropout", "warp", "mask_lag", "pasted_jitter")
#: The score a crossing the rule flags gets: a look, not a decision (the face_occlusion analyzer's look level).
LOOK = 0.85


def _frames(path: Path) -> list[np.ndarray]:
    import av  # noqa: PLC0415

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _zone(frame: np.ndarray, box: np.ndarray, side: int) -> np.ndarray:
    import cv2  # noqa: PLC0415

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    sx, sy = side / (x1 - x0), side / (y1 - y0)
    m = np.float32([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]])
    out: np.ndarray = cv2.warpAffine(frame, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return out


def crossing_rows(scan: dict[str, np.ndarray], start: float, end: float) -> tuple[Any, ...] | None:
    """(anchor box, crossing rows, reference rows, null rows), chosen as ``crossing_measures`` chooses them."""
    t, box, held = scan["pixels/t_s"], scan["pixels/zone_box"], scan["pixels/zone_held"]
    has = np.all(np.isfinite(box), axis=1)
    ev = np.flatnonzero(has & (t >= start) & (t <= end))
    if ev.size == 0:
        return None
    anchor = np.median(box[ev], axis=0)
    aligned = has & aligned_rows(box, anchor)
    ev = ev[aligned[ev]]
    clean = aligned & ~held
    ref = np.flatnonzero(clean & (t < start) & (t >= start - 1.0))
    if ref.size < 2:
        ref = np.flatnonzero(clean & (t > end) & (t <= end + 1.0))
    null = np.flatnonzero(clean & (((t < start) & (t >= start - 3.0)) | ((t > end) & (t <= end + 3.0))))
    null = null[~np.isin(null, ref)] if null.size - ref.size >= 3 else null
    if ev.size == 0 or ref.size < 2 or null.size < 3:
        return None
    return anchor, ev, ref, null


def measure_clip(work: Path, res: dict[str, Any], scan_path: Path, side: int) -> list[dict[str, Any] | None]:
    with np.load(scan_path) as z:
        scan = {k: z[k] for k in ("pixels/t_s", "pixels/zone_box", "pixels/zone_held", "pixels/zone_oval",
                                  "face/frame_index")}  # fmt: skip
    frames = _frames(work / "clips" / res["id"] / "video.mp4")
    out: list[dict[str, Any] | None] = []
    for c in res.get("crossings") or []:
        rows = crossing_rows(scan, c["t"][0], c["t"][1]) if (c.get("pixels") or {}).get("ok") else None
        if rows is None:
            out.append(None)
            continue
        anchor, ev, ref, null = rows
        crops = {int(r): _zone(frames[int(scan["face/frame_index"][r])], anchor, side)
                 for r in np.concatenate([ev, ref, null])}  # fmt: skip
        face = oval_mask(oval=np.nanmedian(scan["pixels/zone_oval"][ev], axis=0), side=side)
        m = outline_opacity(frames=np.stack([crops[int(r)] for r in ev]),
                            reference=np.stack([crops[int(r)] for r in ref]),
                            null=np.stack([crops[int(r)] for r in null]), face=face)  # fmt: skip
        out.append(m)
    return out


def measure_work(work: Path, side: int) -> list[dict[str, Any]]:
    dest = work / "outline_colour.jsonl"
    done = {}
    if dest.exists():
        for line in dest.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                done[rec["id"]] = rec
    scans = {}
    for f in (work / "scan_cache").glob("*/*.scan.npz"):
        with np.load(f) as z:
            scans[str(json.loads(str(z["stats"]))["decode"]["path"])] = f
    with dest.open("a") as fo:
        for rf in sorted((work / "results").glob("*.json")):
            res = json.loads(rf.read_text())
            if res["id"] in done or "kind" not in res:  # the real clips of ../shared/data keep no crossings
                continue
            scan = scans.get(str(work / "clips" / res["id"] / "video.mp4"))
            rec = {k: res.get(k) for k in ("id", "split", "face", "hand", "hand_source", "kind", "motion", "score",
                                           "req_score")}  # fmt: skip
            rec["side"] = side
            rec["crossings"] = measure_clip(work, res, scan, side) if scan is not None and res.get("crossings") else []
            fo.write(json.dumps(rec) + "\n")
            fo.flush()
            done[res["id"]] = rec
            print(f"{res['id']}", file=sys.stderr)
    return list(done.values())


def flagged(rec: dict[str, Any], *, max_share: float, min_frames: int) -> bool:
    return any(
        m is not None and m["opaque_share_median"] is not None and m["opacity_frames"] >= min_frames
        and m["opaque_share_median"] <= max_share
        for m in rec["crossings"]
    )  # fmt: skip


def _auc(pos: list[float], neg: list[float]) -> float:
    p, n = np.asarray(pos, float)[:, None], np.asarray(neg, float)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean()) if p.size and n.size else float("nan")


def table(recs: list[dict[str, Any]], *, max_share: float, min_frames: int, key: str = "score") -> None:
    def new(r: dict[str, Any]) -> float:
        s = float(r[key])
        return max(s, LOOK) if flagged(r, max_share=max_share, min_frames=min_frames) else s

    by = defaultdict(list)
    for r in recs:
        if r.get("kind"):  # records of real clips (no crossings kept) written by an earlier version: not scored
            by[r["split"]].append(r)
    print(f"rule: opaque share <= {max_share} over >= {min_frames} frames at a crossing -> max(score, {LOOK}); "
          f"AUC of each kind against the split's genuine waves, {key!r} -> with the rule")  # fmt: skip
    for split, rs in sorted(by.items()):
        gen = [r for r in rs if r["kind"] == "genuine"]
        gen_up = [r["id"] for r in gen if new(r) > float(r[key])]
        cells = []
        for kind in (*KINDS, "all"):
            fk = [r for r in rs if r["kind"] != "genuine" and (kind == "all" or r["kind"] == kind)]
            if fk:
                before = _auc([float(r[key]) for r in fk], [float(r[key]) for r in gen])
                after = _auc([new(r) for r in fk], [new(r) for r in gen])
                cells.append(f"{kind} {before:.3f} -> {after:.3f}")
        measured = sum(any(m and m["opaque_share_median"] is not None for m in r["crossings"]) for r in rs)
        flagged_fakes = sum(new(r) > float(r[key]) for r in rs if r["kind"] != "genuine")
        print(f"{split}: {len(rs)} clips, {measured} measured; fakes raised {flagged_fakes}; genuine raised "
              f"{len(gen_up)} of {len(gen)} {gen_up}")  # fmt: skip
        print("   " + "; ".join(cells))
        for field in ("face", "hand_source"):
            srcs = sorted({r[field] for r in rs})
            parts = []
            for s in srcs:
                fk = [r for r in rs if r[field] == s and r["kind"] != "genuine"]
                gk = [r for r in rs if r[field] == s and r["kind"] == "genuine"]
                if fk and gk:
                    b = _auc([float(r[key]) for r in fk], [float(r[key]) for r in gk])
                    a = _auc([new(r) for r in fk], [new(r) for r in gk])
                    parts.append(f"{s} {b:.2f}->{a:.2f}")
            print(f"   per {field}: " + ", ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", nargs="+", type=Path, help="face_occlusion_heldout.py work directories")
    ap.add_argument("--side", type=int, default=96, help="the colour zone's side in px (default 96)")
    ap.add_argument("--max-share", type=float, default=0.3)
    ap.add_argument("--min-frames", type=int, default=4)
    ap.add_argument("--report-only", action="store_true", help="table from the stored records, no decoding")
    a = ap.parse_args()
    for w in a.work:
        if a.report_only:
            dest = w / "outline_colour.jsonl"
            recs = [json.loads(x) for x in dest.read_text().splitlines() if x.strip()] if dest.exists() else []
        else:
            recs = measure_work(w, a.side)
        print(f"\n== {w}")
        for key in ("score", "req_score"):
            table(recs, max_share=a.max_share, min_frames=a.min_frames, key=key)


if __name__ == "__main__":
    main()
