"""Genuine recordings under other capture conditions: does a dim room, a noisy webcam, a low-bandwidth call or a
tungsten lamp push an honest candidate's risk up, and does the hand-wave test still work there?

Every real clip of ``face_swap_real.clips`` (the genuine clips of ``../shared/data`` and the four real swaps) is
rendered again under each condition (:data:`CONDITIONS`) and scanned with the shipped analyzers and fusion, as
``scan`` does; with ``--waves DIR`` the generated hand-wave clips of a ``face_occlusion_heldout.py`` work
directory are too, scored by ``face_occlusion`` alone (no request), as that evaluation scores them::

    python evaluation/capture_conditions.py --work /tmp/cond [--jobs 2] [--waves /tmp/occ_test] [--out res.json]

Also the skin tone of each genuine clip's face (the Individual Typology Angle of its cheeks, ITA), so false alarms
can be read against it (buyers of proctoring tools found darker skin and low light flagged more often). Nothing
here is tuned: every analyzer runs with its shipped thresholds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

#: name -> (what it stands for, per-frame transform of float RGB 0-255, output scale, crf). Noise is drawn anew
#: for every frame (sensor noise), from a generator seeded by the clip's name.
CONDITIONS: dict[str, str] = {
    "original": "the clip as recorded",
    "dim": "a dim room, exposure not compensated: linear light x 0.2 (about x 0.48 in 8-bit values), noise sd 3",
    "noisy": "a cheap webcam at high gain: luma noise sd 8 and chroma noise sd 4 per pixel and frame",
    "compressed": "a low-bandwidth call recording: half the width and height, H.264 at crf 40",
    "warm": "a tungsten lamp, white balance not corrected: red x 1.12, blue x 0.78",
    # round 21: two more, for the rules set on the four above
    "call15": "a video call that fell to 15 frames a second: every other frame dropped (the others keep their times)",
    "webcam": "a typical call recording: at most 640 pixels wide, H.264 at crf 30",
    "half": "a gallery-view tile: half the width and height, H.264 at crf 23 (the size of `compressed`, not its loss)",
}
_CRF = {"compressed": 40, "webcam": 30}
#: Keep one frame in this many (the frames dropped, the rest at their own times).
_EVERY = {"call15": 2}
#: The largest output width (scaled down, aspect kept).
_MAX_W = {"webcam": 640}
#: Audio codecs an mp4 holds as they are (others are encoded as AAC).
_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "opus", "ac3"})
_SCALE = {"compressed": 0.5, "half": 0.5}


def transform(name: str, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frame ``rgb`` (H, W, 3 uint8) as recorded under condition ``name`` (before any rescaling and encoding)."""
    x = rgb.astype(np.float32)
    if name == "dim":
        x = 255.0 * ((x / 255.0) ** 2.2 * 0.2) ** (1 / 2.2)
        x += 3.0 * rng.standard_normal(x.shape, dtype=np.float32)
    elif name == "noisy":
        x += 8.0 * rng.standard_normal(x.shape[:2], dtype=np.float32)[..., None]
        x += 4.0 * rng.standard_normal(x.shape, dtype=np.float32)
    elif name == "warm":
        x *= np.array([1.12, 1.0, 0.78], np.float32)
    elif name not in ("original", "compressed", "call15", "webcam", "half"):
        raise ValueError(f"unknown condition {name!r}")
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def render(src: Path, dst: Path, name: str) -> Path:
    """``src`` rendered under condition ``name`` into ``dst`` (H.264 mp4 with the source's frame times; its audio
    copied as it is, or as AAC when mp4 cannot hold the codec, e.g. an AVI's PCM), written beside it and renamed
    when whole."""
    if dst.is_file():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}.tmp{dst.suffix}")
    try:
        _render(src, tmp, name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dst)
    return dst


def _render(src: Path, tmp: Path, name: str) -> None:
    import av
    import cv2

    rng = np.random.default_rng(_seed(src.name, name))
    with av.open(str(src)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        w0, h0 = v.codec_context.width, v.codec_context.height
        s = min(_SCALE.get(name, 1.0), _MAX_W.get(name, w0) / w0)
        w, h = int(round(w0 * s / 2)) * 2, int(round(h0 * s / 2)) * 2
        rate = v.average_rate or Fraction(30)
        with av.open(str(tmp), "w", format="mp4") as o:
            ov = o.add_stream("libx264", rate=rate)
            ov.width, ov.height, ov.pix_fmt = w, h, "yuv420p"
            ov.options = {"crf": str(_CRF.get(name, 23))}
            tb = v.time_base or Fraction(1, 1000)
            ov.codec_context.time_base = tb
            last, kept = -1, 0
            copy = a is not None and a.codec_context.name in _MP4_AUDIO
            oa = None if a is None else o.add_stream_from_template(a) if copy else o.add_stream("aac", rate=a.rate)
            streams = [v] + ([a] if a is not None else [])
            for pkt in c.demux(*streams):
                if pkt.stream is a:
                    if oa is None or (copy and pkt.dts is None):
                        continue
                    if copy:
                        pkt.stream = oa
                        o.mux(pkt)
                    else:
                        for af in pkt.decode():
                            af.pts = None
                            for p in oa.encode(af):
                                o.mux(p)
                    continue
                for fr in pkt.decode():
                    kept += 1
                    if (kept - 1) % _EVERY.get(name, 1):
                        continue
                    img = transform(name, fr.to_ndarray(format="rgb24"), rng)
                    if (w, h) != (img.shape[1], img.shape[0]):
                        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                    out = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                    # the frame's best-effort time (an AVI's frames may carry no pts), kept increasing
                    t = fr.time if fr.time is not None else (last + 1) * float(tb)
                    pts = max(int(round(t / float(tb))), last + 1)
                    out.pts, out.time_base, last = pts, tb, pts
                    for p in ov.encode(out):
                        o.mux(p)
            for p in ov.encode():
                o.mux(p)
            if oa is not None and not copy:
                for p in oa.encode():
                    o.mux(p)


def _seed(*parts: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:4], "big")


# Individual Typology Angle (Chardon et al. 1991) categories, degrees: lower is darker.
ITA_GROUPS: tuple[tuple[float, str], ...] = (
    (55.0, "very light"), (41.0, "light"), (28.0, "intermediate"), (10.0, "tan"), (-30.0, "brown"),
    (-math.inf, "dark"),
)  # fmt: skip
#: MediaPipe face-mesh points on the cheeks (both sides, below the eyes, off the nose and mouth).
_CHEEKS = (50, 280, 205, 425, 117, 346)


def skin_tone(path: Path, *, frames: int = 12) -> dict[str, Any]:
    """ITA of the face's cheeks (median over up to ``frames`` landmarked frames, 7x7 px patches), its group, and the
    cheeks' CIE lightness L*.

    On an uncontrolled recording both mix the skin's tone with the light it was filmed in (a light-skinned face in a
    dim room reads "brown"): they say how dark the face *appears* to the detectors, which is what a false alarm
    would follow, not the person's skin type."""
    import av
    import cv2

    from interview_guard.io.landmarks import FaceLandmarkerRunner

    vals: list[float] = []
    lights: list[float] = []
    with av.open(str(path)) as c, FaceLandmarkerRunner() as lm:
        v = c.streams.video[0]
        n = max(1, int(v.frames or 300))
        step = max(1, n // frames)
        for i, fr in enumerate(c.decode(v)):
            if i % step or len(vals) >= frames:
                continue
            rgb = fr.to_ndarray(format="rgb24")
            pts = lm.process(rgb, float(fr.time or i / 30.0)).landmarks
            if pts is None:
                continue
            lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
            hh, ww = rgb.shape[:2]
            ls, bs = [], []
            for k in _CHEEKS:
                x, y = int(pts[k, 0] * ww), int(pts[k, 1] * hh)
                patch = lab[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].reshape(-1, 3)
                if patch.size:
                    ls.append(float(np.median(patch[:, 0])) * 100.0 / 255.0)
                    bs.append(float(np.median(patch[:, 2])) - 128.0)
            if ls:
                L, b = float(np.median(ls)), float(np.median(bs))
                vals.append(math.degrees(math.atan2(L - 50.0, b)))
                lights.append(L)
    if not vals:
        return {"ita": None, "group": None, "lightness": None}
    ita = float(np.median(vals))
    return {
        "ita": round(ita, 1),
        "group": next(g for lo, g in ITA_GROUPS if ita > lo),
        "lightness": round(float(np.median(lights)), 1),
    }


# ---------------------------------------------------------------------------------------
# workers


def _one_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def scan_real(clip: dict[str, str], cond: str, work: str) -> dict[str, Any]:
    """One real clip under ``cond``, scanned as ``scan`` scans it (every analyzer, the shipped fusion)."""
    _one_thread()
    sys.path.insert(0, str(HERE))
    from face_swap_real import scan_one

    src = Path(clip["path"])
    dst = Path(work) / "real" / cond / f"{src.stem}.mp4"
    path = src
    try:
        path = src if cond == "original" else render(src, dst, cond)
        out = scan_one({**clip, "path": str(path)}, str(Path(work) / "scan_cache"))
    except Exception as exc:  # noqa: BLE001 - one clip that cannot be scanned is a row, not the end of the run
        out = {**clip, "risk": None, "band": "failed", "analyzers": {}, "error": f"{type(exc).__name__}: {exc}"}
    if clip["label"] == "genuine" and cond == "original":
        out["skin"] = skin_tone(src)
    return {**out, "condition": cond, "path": str(path)}


def scan_wave(clip_dir: str, result: dict[str, Any], cond: str, work: str) -> dict[str, Any]:
    """One generated hand-wave clip under ``cond``, scored by ``face_occlusion`` as the held-out evaluation does."""
    _one_thread()
    import shutil

    sys.path.insert(0, str(HERE))
    import face_occlusion_heldout as ev

    src = Path(clip_dir)
    d = src if cond == "original" else Path(work) / "waves" / cond / src.name
    meta = json.loads((src / "meta.json").read_text())
    keep = ("id", "split", "face", "hand", "hand_source", "kind", "motion", "seed")
    try:
        if cond != "original" and not (d / "session.json").is_file():
            render(src / "video.mp4", d / "video.mp4", cond)
            shutil.copy(src / "session.json", d / ".session.json.tmp")
            (d / ".session.json.tmp").replace(d / "session.json")
        got = ev._scan_with_and_without_request(d, meta, Path(work) / "waves", False)
        row = {"score": got["score"], "band": got["band"], "req_score": got["req_score"], "status": got["status"]}
    except Exception as exc:  # noqa: BLE001
        row = {"score": None, "band": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {**{k: result.get(k) for k in keep}, **row, "condition": cond}


# ---------------------------------------------------------------------------------------
# tables

_BANDS = ("low", "medium", "high")


def _auc(pos: list[float], neg: list[float]) -> float | None:
    from interview_guard.signals.metrics import roc_auc

    if not pos or not neg:
        return None
    return roc_auc(labels=[1] * len(pos) + [0] * len(neg), scores=pos + neg)


def _judged(r: dict[str, Any], analyzer: str) -> bool:
    return bool(r["analyzers"].get(analyzer, {}).get("status") == "ok")


def real_tables(rows: list[dict[str, Any]], conds: list[str]) -> str:
    """Per condition: the genuine clips' highest risk and bands, each analyzer's highest score, the swaps' risks."""
    names = sorted({a for r in rows for a in r["analyzers"]})
    lines = [
        "| condition | genuine clips | failed / not assessed | risk: highest (clip) | medium / high | "
        + " | ".join(f"{a}: highest" for a in names)
        + " | swaps' risks |",
        "| --- | ---: | ---: | --- | --- | " + " | ".join("---:" for _ in names) + " | --- |",
    ]
    for c in conds:
        gen = [r for r in rows if r["condition"] == c and r["label"] == "genuine"]
        ok = [r for r in gen if r["risk"] is not None]
        top = max(ok, key=lambda r: r["risk"], default=None)
        cells = []
        for a in names:
            sc = [
                (r["analyzers"][a]["score"], r["name"]) for r in ok if r["analyzers"].get(a, {}).get("status") == "ok"
            ]
            best = max(sc, default=None)
            cells.append("-" if best is None else f"{best[0]:.2f} ({len(sc)} judged)")
        sw = sorted((r for r in rows if r["condition"] == c and r["label"] == "swap"), key=lambda r: r["name"])
        lines.append(
            f"| {c} | {len(gen)} | {sum('error' in r for r in gen)} / {sum('error' not in r for r in gen) - len(ok)} | "
            + (f"{top['risk']:.2f} ({top['name']})" if top else "-")
            + f" | {sum(r['band'] == 'medium' for r in ok)} / {sum(r['band'] == 'high' for r in ok)} | "
            + " | ".join(cells)
            + " | "
            + ", ".join("-" if r["risk"] is None else f"{r['risk']:.2f}" for r in sw)
            + " |"
        )
    return "\n".join(lines)


def skin_table(rows: list[dict[str, Any]], conds: list[str]) -> str:
    """Each genuine clip: its skin tone (ITA) and its risk under every condition."""
    gen = {r["name"]: r for r in rows if r["label"] == "genuine" and r["condition"] == "original"}
    risk = {(r["name"], r["condition"]): r for r in rows if r["label"] == "genuine"}
    lines = [
        "| clip | cheeks' L* | ITA (deg) | ITA group (apparent) | " + " | ".join(conds) + " |",
        "| --- | ---: | ---: | --- | " + " | ".join("---:" for _ in conds) + " |",
    ]
    for name, r in sorted(gen.items(), key=lambda kv: -(kv[1].get("skin", {}).get("ita") or -999.0)):
        sk = r.get("skin") or {}
        cells = []
        for c in conds:
            x = risk.get((name, c))
            cells.append(
                "-"
                if x is None or x["risk"] is None
                else f"{x['risk']:.2f}{'' if x['band'] == 'low' else ' ' + x['band']}"
            )
        lines.append(
            f"| {name} | {sk.get('lightness', '-')} | {sk.get('ita', '-')} | {sk.get('group', '-')} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def wave_table(rows: list[dict[str, Any]], conds: list[str]) -> str:
    """Per condition: each fake kind's AUC against the genuine waves, genuine waves at 0.5+ and in the high band."""
    kinds = sorted({r["kind"] for r in rows if r["kind"] != "genuine"})
    lines = [
        "| condition | clips | " + " | ".join(kinds) + " | all | genuine at 0.5+ | genuine >= 0.9 | failed |",
        "| --- | ---: | " + " | ".join("---:" for _ in kinds) + " | ---: | ---: | ---: | ---: |",
    ]
    for c in conds:
        sel = [r for r in rows if r["condition"] == c]
        ok = [r for r in sel if r["score"] is not None]
        g = [float(r["score"]) for r in ok if r["kind"] == "genuine"]
        cells = []
        for k in [*kinds, None]:
            p = [float(r["score"]) for r in ok if (r["kind"] == k if k else r["kind"] != "genuine")]
            a = _auc(p, g)
            cells.append("-" if a is None else f"{a:.2f}")
        lines.append(
            f"| {c} | {len(sel)} | "
            + " | ".join(cells)
            + f" | {sum(x >= 0.5 for x in g)} of {len(g)} | {sum(x >= 0.9 for x in g)} | {len(sel) - len(ok)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="rendered clips, the scan cache and results go here")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help=f"of {', '.join(CONDITIONS)}")
    ap.add_argument("--waves", type=Path, help="a face_occlusion_heldout.py work directory: its clips too")
    ap.add_argument("--no-reals", action="store_true", help="the hand-wave clips only")
    ap.add_argument("--out", type=Path, help="the per-clip rows as JSON")
    args = ap.parse_args(argv)
    conds = [c for c in args.conditions.split(",") if c]
    bad = sorted(set(conds) - set(CONDITIONS))
    if bad:
        ap.error(f"unknown condition(s): {', '.join(bad)}")
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    import face_occlusion_heldout as ev
    from face_swap_real import clips

    reals = [] if args.no_reals else clips(args.work)
    waves: list[tuple[str, dict[str, Any]]] = []
    if args.waves:
        for p in sorted((args.waves / "results").glob("*.json")):
            r = json.loads(p.read_text())
            if "kind" in r and (args.waves / "clips" / r["id"] / "video.mp4").is_file():
                waves.append((str(args.waves / "clips" / r["id"]), r))
    work = str(args.work)
    # spawned workers: forked ones would inherit the SIGTERM handler below and not die with the run
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max(1, args.jobs), mp_context=ctx) as ex, ev.stop_pool_on_sigterm(ex):
        rf = [ex.submit(scan_real, c, cond, work) for cond in conds for c in reals]
        wf = [ex.submit(scan_wave, d, r, cond, work) for cond in conds for d, r in waves]
        real_rows = [f.result() for f in rf]
        wave_rows = [f.result() for f in wf]
    if args.out:
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps({"reals": real_rows, "waves": wave_rows, "conditions": CONDITIONS}, indent=1))
        tmp.replace(args.out)
    for c in conds:
        print(f"- {c}: {CONDITIONS[c]}")
    if real_rows:
        print("\n" + real_tables(real_rows, conds) + "\n\n" + skin_table(real_rows, conds))
    if wave_rows:
        print("\n" + wave_table(wave_rows, conds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
