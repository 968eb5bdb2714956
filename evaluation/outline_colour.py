"""The hand's opacity at the face outline in colour, measured offline on the held-out evaluation's clips (round 30).

``face_occlusion`` reads a 64x64 luma zone; this asks what a finer zone in colour would add, before the scanner is
changed to keep one. For every clip of one or more ``face_occlusion_heldout.py`` work directories (their clips, scan
caches and results), it decodes the clip in colour, rebuilds each crossing's anchored zone at ``--side`` px from the
scan's zone boxes (the rows ``crossing_measures`` reads: the crossing's frames at the anchor, the reference second
before it, the null frames around it), and measures
:func:`interview_guard.signals.outline_colour.outline_opacity`. Records go to ``<work>/outline_colour.jsonl``
(resumable). The table applies one rule to the stored clip scores, ``max(score, LOOK)`` where a crossing's opaque
share is at most ``--max-share`` over ``--min-frames`` measured frames, and gives each kind's AUC against the
genuine waves of its split, per split and per held-out source, with the genuine waves the rule raised.

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

from interview_guard.signals.hand_crossing import aligned_rows, oval_mask
from interview_guard.signals.outline_colour import outline_opacity

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
            if res["id"] in done:
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
