"""Held-out, per-source evaluation of ``face_occlusion`` on clips from an independent compositor.

The clips come from :mod:`occlusion_fakes` (evaluation/occlusion_fakes.py),
written without :mod:`interview_guard.synth`, so a detector tuned on the
project's own generator is scored on compositing it has never seen. Faces and
hands are split into TUNE and HELD-OUT sources (below): tune on the first,
report the second. Each clip is scanned with the current code twice: as is,
and with a logged hand-wave request (``session.json`` challenge at the
crossing start). The baseline is what the hand landmarker alone says: 1 -
the share of frames during the crossing in which it finds a hand.

Prints Markdown tables:

(a) per split and fake kind: AUC of the face_occlusion score against the
    genuine waves of the split, with and without the request, and of the
    baseline;
(b) per held-out source (each face, each hand source): the same, all fake
    kinds pooled;
(c) genuine waves: how many fall in the high risk band, the highest score;
(d) every real clip in ../shared/data scanned as is (score must be <= 0.5);
(e) the real DeepFaceLive swap with a hand near the mouth (right half of
    deepfacelive_Liu_Lice_0);
(f) with ``--identity``: what ``face_identity`` adds (it reads the face's identity, so a swap dropping
    for a few frames can show the operator's face): AUC of the risk fused from ``face_occlusion`` alone
    and from both, per split and kind, identity evidence on genuine waves, and the real clips.
(g) per split and kind, whether a missed fake is one with little to see: the fakes split at the median of
    how much of the face differs from their genuine twin (``artifact_sum``, from the compositor), the AUC
    of each half, and the rank correlation of that amount with the score;
(h) per split and motion (sweep, wave, cover from below, fast): the AUC of every fake of that motion, and
    how many got no crossing at all (the hand landmarker never saw their hand at the face);
(i) where the AUC is lost: per split, the genuine waves and the fakes costing the most of its all-kinds AUC,
    with the verdict that scored each (what a change would gain most from; round 26).

Table (a) gives each AUC a 95 % bootstrap interval that resamples faces (the clips of one face are not
independent evidence); ``--compare OTHER_WORK`` adds, per split and kind, this run's AUC minus that of another
work directory holding the same clips (an older version's results), with a paired interval: where it holds 0,
these clips cannot tell the two versions apart.

Usage::

    PYTHONPATH=src .venv/bin/python evaluation/face_occlusion_heldout.py --work DIR [-j 2] [--quick] [--identity]
        [--compare OLD_DIR]

Size and time: the default grid is 13 faces x 1 hand x (4 genuine + 6 kinds x 2
motions) = 208 clips of 4.5 s plus 22 real clips (182 before round 20's
``pasted_jitter``, whose clips a run with ``--kinds pasted_jitter`` adds to an
older work directory's: the other kinds' specs are unchanged); the 182 took
33 min wall with ``-j 2`` on the shared 2-core machine under a load average of
about 8 (``--quick``: 24 clips and 4 real clips, under 5 min). ``--report-only``
prints the tables from whatever ``--work`` holds so far.

``--work DIR`` keeps clips, per-clip results (``DIR/results/*.json``) and the
video-scan cache, so a re-run resumes; all rows are written to
``DIR/results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
FACES_DIR = SHARED / "faces_video"
sys.path.insert(0, str(HERE))

# ---------------------------------------------------------------------------------------
# SOURCES SPLIT: tune on these ...
TUNE_FACES = ("retalking_face1", "retalking_face3", "liveportrait_d9", "liveportrait_d10")
TUNE_HANDS = {"handoverface": tuple(f"hof_{i}" for i in range(21, 26))}
# ... report on these (never looked at while tuning)
HELDOUT_FACES = (
    "retalking_face2",
    "retalking_face5",
    "sadtalker_WDA_AlexandriaOcasioCortez_000",
    "liveportrait_d6",
    "liveportrait_d11",
    "liveportrait_d14",
    "liveportrait_s18",
    "deepfacelive_sample_Obama_speaking",
    "deepfacelive_sample_Twitch1",
)
HELDOUT_HANDS = {"handoverface": tuple(f"hof_{i}" for i in range(26, 31)), "hagrid": None}  # None: every cut-out
# ... and a TEST split of faces nobody looked at while the analyzer changed (added after the held-out set above
# had been scored four times, docs/face-occlusion.md): faces from other folders of ../shared/data, with the
# held-out hands; scored once, at the end of a round of changes
TEST_FACES = (
    "ffpp_real",
    "dfdc_style_real",
    "deepfacelive_Keanu_Reeves_1_left",
    "deepfacelive_Liu_Lice_0_left",
)
TEST_HANDS = HELDOUT_HANDS
# ... and a second TEST split (round 5, 2026-11-29), after the first had been scored: the faces of ../shared/data
# never composited before (a LivePortrait driving clip, the swapped sides of FF++/DFDC and one DeepFaceLive
# output: a wave over a swapped face is still a genuine wave in front of that face), two held-out hands per face;
# composited and scored with the code before the round's changes, then scored once with the round's code
TEST2_FACES = (
    "liveportrait_d0",
    "ffpp_fake",
    "dfdc_style_fake",
    "deepfacelive_Keanu_Reeves_1_right",
)
TEST2_HANDS = HELDOUT_HANDS
SPLITS = ("tune", "heldout", "test", "test2")
# ---------------------------------------------------------------------------------------


def face_path(face: str, work: Path) -> Path:
    """The video of a face source: ../shared/data/faces_video, ../shared/data/deepfakes, or a split half."""
    for cand in (FACES_DIR / f"{face}.mp4", SHARED / "deepfakes" / f"{face}.mp4"):
        if cand.is_file():
            return cand
    if face.endswith(("_left", "_right")):
        name = face.rsplit("_", 1)[0]
        left, right = split_side_by_side(SHARED / "deepfakes" / f"{name}.mp4", work / "split")
        return left if face.endswith("_left") else right
    raise FileNotFoundError(f"no video for face source {face!r}")


FAKE_KINDS = ("pasted", "translucent", "dropout", "warp", "mask_lag", "pasted_jitter")
MOTIONS = ("sweep", "wave", "cover", "fast")
MAX_S = 4.5
START_S = 1.0
CROSSING_S = 1.2


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "little")


# ---------------------------------------------------------------------------------------
# the grid


def build_grid(
    hands: dict[str, list[str]],
    *,
    quick: bool,
    seed: int,
    hands_per_face: int,
    splits: tuple[str, ...] = SPLITS,
    kinds: tuple[str, ...] = ("genuine", *FAKE_KINDS),
    genuine_motions: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Clip specs: per face a few hands (seeded), genuine x every motion, each fake kind x two motions; only the
    ``kinds`` asked for (the same specs otherwise: ``kinds=("genuine",)`` with another ``seed`` counts false alarms
    on more genuine waves of the same faces). ``genuine_motions`` replaces the genuine clips' motions (e.g.
    ``occlusion_fakes.EVERYDAY_MOTIONS``: a hand resting at the chin or touching the cheek); the fake kinds'
    motions, drawn from the same random numbers as before, do not change."""
    specs: list[dict[str, Any]] = []
    faces_of = {"tune": TUNE_FACES, "heldout": HELDOUT_FACES, "test": TEST_FACES, "test2": TEST2_FACES}
    hands_of = {"tune": TUNE_HANDS, "heldout": HELDOUT_HANDS, "test": TEST_HANDS, "test2": TEST2_HANDS}
    n_hands = 1 if quick else hands_per_face
    for split in splits:
        faces = faces_of[split][: (1 if split == "tune" else 2)] if quick else faces_of[split]
        pools = hands_of[split]
        pool_ids = {src: [h for h in hands[src] if ids is None or h in ids] for src, ids in pools.items()}
        pool_ids = {k: v for k, v in pool_ids.items() if v}
        for fi, face in enumerate(faces):
            rng = np.random.default_rng(_seed(seed, split, face))
            # alternate the hand sources across faces and hands so each source gets its share
            srcs = sorted(pool_ids)
            chosen: list[tuple[str, str]] = []
            for k in range(n_hands):
                src = srcs[(fi + k) % len(srcs)]
                left = [h for h in pool_ids[src] if (src, h) not in chosen] or pool_ids[src]
                chosen.append((src, left[int(rng.integers(len(left)))]))
            for src, hand in chosen:
                g_motions = genuine_motions or (MOTIONS[:2] if quick else MOTIONS)
                combos = [("genuine", m) for m in g_motions]
                for kind in FAKE_KINDS:
                    order = [MOTIONS[int(i)] for i in rng.permutation(len(MOTIONS))]
                    combos += [(kind, m) for m in order[: 1 if quick else 2]]
                for kind, motion in combos:
                    if kind not in kinds:
                        continue
                    # another seed makes other clips of the same names: they get their own ids (and directories)
                    cid = f"{split}__{face}__{hand}__{kind}__{motion}" + (f"__seed{seed}" if seed else "")
                    specs.append(
                        {
                            "id": cid,
                            "split": split,
                            "face": face,
                            "hand": hand,
                            "hand_source": src,
                            "kind": kind,
                            "motion": motion,
                            # the hand's path depends on (face, hand, motion, seed) only, so the kinds
                            # of one combination share it and differ in the compositing alone
                            "seed": _seed(seed, face, hand, motion) % 100000,
                        }
                    )
    return specs


# ---------------------------------------------------------------------------------------
# workers

_STATE: dict[str, Any] = {}


def _init_worker() -> None:
    logging.disable(logging.WARNING)


@contextlib.contextmanager
def stop_pool_on_sigterm(pool: ProcessPoolExecutor) -> Iterator[None]:
    """While the block runs, SIGTERM to this process (``kill PID``) stops ``pool``'s workers too and raises
    KeyboardInterrupt; without it the driver died alone and its spawned workers went on scanning for the rest
    of the run. Every per-clip result already written stays (a re-run resumes from them). For pools of spawned
    workers: a forked worker would inherit the handler and turn a SIGTERM into an exception in its task."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("terminated")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except KeyboardInterrupt:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()  # not SIGTERM: a worker started while SIGTERM was ignored keeps ignoring it
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fusion() -> Any:
    if "fusion" not in _STATE:
        from interview_guard.fusion.model import FusionModel

        _STATE["fusion"] = FusionModel.load()
    return _STATE["fusion"]


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    os.replace(tmp, path)


def _result_fields(res: Any, risk: Any, prefix: str = "") -> dict[str, Any]:
    return {
        f"{prefix}score": res.score,
        f"{prefix}confidence": res.confidence,
        f"{prefix}status": res.status.value,
        f"{prefix}reason": res.reason,
        f"{prefix}risk": risk.score,
        f"{prefix}band": risk.band,
        f"{prefix}evidence": sorted({e.kind for e in res.evidence}),
    }


def prep_face(face: str, work: Path) -> dict[str, Any]:
    """Landmark a face video once (cached in ``work``); report whether it has a face."""
    import occlusion_fakes as of

    try:
        path = face_path(face, work)
        frames, rate = of.read_frames(path, MAX_S)
        of._cached_landmarks(path, frames, float(rate), work)
    except Exception as exc:  # noqa: BLE001 - a face that cannot be used is reported, not fatal
        return {"face": face, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"face": face, "ok": True}


def _composite(spec: dict[str, Any], work: Path, video: Path, *, write: bool) -> dict[str, Any]:
    """The compositor's record of one clip of the grid (and the clip itself at ``video`` when ``write``)."""
    import occlusion_fakes as of

    hand = next(h for h in of.load_hands(spec["hand_source"], cache_dir=work) if h.id == spec["hand"])
    meta: dict[str, Any] = of.make_wave_clip(
        face_path(spec["face"], work),
        hand,
        video,
        kind=spec["kind"],
        motion=spec["motion"],
        seed=spec["seed"],
        start_s=START_S,
        crossing_s=CROSSING_S,
        max_s=MAX_S,
        cache_dir=work,
        write=write,
    )
    return meta


def run_clip(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    """Make (if needed) and scan one clip; the row is kept in ``work/results``."""
    res_path = work / "results" / f"{spec['id']}.json"
    if res_path.is_file():
        return json.loads(res_path.read_text())
    t0 = time.perf_counter()
    d = work / "clips" / spec["id"]
    video, meta_path = d / "video.mp4", d / "meta.json"
    if not (video.is_file() and meta_path.is_file()):
        meta = _composite(spec, work, video, write=True)
        _write_json(d / "session.json", {"challenges": [{"kind": "hand_wave", "t_s": meta["crossing_start_s"]}]})
        _write_json(meta_path, meta)
    meta = json.loads(meta_path.read_text())
    if "artifact_sum" not in meta:  # a clip made before the artifact measures: composite again, keep the video
        again = _composite(spec, work, video, write=False)
        if again["coverage"] != meta["coverage"]:
            raise RuntimeError(f"{meta_path}: compositing again gave another clip; remove {d} to make it anew")
        meta.update({k: v for k, v in again.items() if k.startswith("artifact")})
        _write_json(meta_path, meta)
    t_make = time.perf_counter() - t0
    row = {**spec, **_scan_with_and_without_request(d, meta, work, bool(spec.get("identity")))}
    row.update(
        {
            "crossing_start_s": meta["crossing_start_s"],
            "crossing_end_s": meta["crossing_end_s"],
            "coverage_max": max(meta["coverage"]),
            "artifact_peak": meta["artifact_peak"],
            "artifact_frames": meta["artifact_frames"],
            "artifact_sum": meta["artifact_sum"],
            "params": {k: meta.get(k) for k in ("alpha", "lag_frames", "warp_amplitude", "dropout_frames", "donor")},
            "make_s": round(t_make, 2),
            "total_s": round(time.perf_counter() - t0, 2),
        }
    )
    _write_json(res_path, row)
    return row


def crossing_records(result: Any) -> list[dict[str, Any]]:
    """Each crossing's span, its verdicts, and the measure records they come from (the pixels' without their
    per-frame series and the face mesh's, what ``evaluation/verdict_search.py`` judges again with other thresholds;
    the identity jump's, round 18; the hand's path and its fingers' lengths, rounds 15 and 25)."""
    out = []
    for e in result.evidence:
        if e.kind != "occlusion_event":
            continue
        det = e.details or {}
        px = {k: v for k, v in (det.get("pixels") or {}).items() if k != "series"}
        out.append(
            {
                "t": [round(e.start_s, 3), round(e.end_s, 3)],
                "score": e.score,
                "pixels": px,
                "mesh": det.get("mesh") or {},
                "identity": det.get("identity") or {},
                "flash_identity": det.get("flash_identity"),
                "scores": det.get("scores") or {},
                "hand_path": det.get("hand_path") or {},
                "hand_shape": det.get("hand_shape") or {},
            }
        )
    return out


def _identity_fields(res: dict[str, Any], fusion: Any) -> dict[str, Any]:
    """``face_identity``'s result and the risk fused from it and ``face_occlusion`` (``--identity``)."""
    fi = res["face_identity"]
    both = fusion.fuse([res["face_occlusion"], fi])
    return {
        "id_score": fi.score,
        "id_confidence": fi.confidence,
        "id_status": fi.status.value,
        "id_evidence": sorted({e.kind for e in fi.evidence}),
        "both_risk": both.score,
        "both_band": both.band,
    }


def _scan_with_and_without_request(d: Path, meta: dict[str, Any], work: Path, identity: bool) -> dict[str, Any]:
    from interview_guard.analyzers.face_identity import FaceIdentity
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.extract.session import extract_tracks
    from interview_guard.io.session import Session
    from interview_guard.pipeline.scan import scan_tracks
    from interview_guard.tracks.metadata import SessionMetadata

    an = FaceOcclusion()
    wanted = set(an.requires) | set(an.uses)
    if identity:
        wanted |= set(FaceIdentity.requires) | set(FaceIdentity.uses)
    session = Session.open(d)
    t0 = time.perf_counter()
    tracks = extract_tracks(session, wanted, cache_dir=work / "scan_cache")
    t_extract = time.perf_counter() - t0
    res_req, risk_req, _ = scan_tracks(tracks, analyzers=[FaceOcclusion()], fusion=_fusion())
    bare = copy.copy(tracks)
    bare.metadata = SessionMetadata()
    res, risk, _ = scan_tracks(bare, analyzers=[FaceOcclusion()], fusion=_fusion())
    out = {
        **_result_fields(res["face_occlusion"], risk),
        **_result_fields(res_req["face_occlusion"], risk_req, "req_"),
        "extract_s": round(t_extract, 2),
        "crossings": crossing_records(res["face_occlusion"]),
    }
    if identity:
        fi, _, _ = scan_tracks(bare, analyzers=[FaceIdentity()], fusion=_fusion())
        out.update(_identity_fields({**res, **fi}, _fusion()))
    # baseline: share of frames during the crossing in which the hand landmarker finds a hand
    h = tracks.hands
    share = None
    if h is not None and len(h.t_s):
        sel = (h.t_s >= meta["crossing_start_s"] - 1e-6) & (h.t_s <= meta["crossing_end_s"] + 1e-6)
        if sel.any():
            share = float(np.mean(h.count[sel] > 0))
    out["hand_found_share"] = share
    out["baseline"] = None if share is None else 1.0 - share
    return out


def run_real(name: str, label: str, path: str, work: Path, identity: bool = False) -> dict[str, Any]:
    res_path = work / "results" / f"real__{name}.json"
    if res_path.is_file():
        return json.loads(res_path.read_text())
    from interview_guard.analyzers.face_identity import FaceIdentity
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.pipeline.scan import scan_session

    t0 = time.perf_counter()
    try:
        analyzers = [FaceOcclusion(), FaceIdentity()] if identity else [FaceOcclusion()]
        rep = scan_session(Path(path), analyzers=analyzers, fusion=_fusion(), cache_dir=work / "scan_cache")
        r = rep.analyzers["face_occlusion"]
        row = {"id": f"real__{name}", "clip": name, "label": label, **_result_fields(r, _fusion().fuse([r]))}
        if identity:
            row.update(_identity_fields(dict(rep.analyzers), _fusion()))
    except Exception as exc:  # noqa: BLE001 - an unreadable clip is a row, not a crash
        row = {"id": f"real__{name}", "clip": name, "label": label, "status": "error", "reason": str(exc)}
    row["total_s"] = round(time.perf_counter() - t0, 2)
    _write_json(res_path, row)
    return row


# ---------------------------------------------------------------------------------------
# real clips


def split_side_by_side(src: Path, out_dir: Path) -> tuple[Path, Path]:
    """Left (original) and right (swap) halves of a DeepFaceLive side-by-side clip."""
    import av

    left, right = out_dir / f"{src.stem}_left.mp4", out_dir / f"{src.stem}_right.mp4"
    if left.is_file() and right.is_file():
        return left, right
    out_dir.mkdir(parents=True, exist_ok=True)
    tmps = [p.with_name(f".{p.stem}.{os.getpid()}.tmp.mp4") for p in (left, right)]
    with av.open(str(src)) as c:
        v = c.streams.video[0]
        W, H = v.codec_context.width, v.codec_context.height
        w, h = (W // 2) // 2 * 2, H // 2 * 2
        outs = []
        for p in tmps:
            o = av.open(str(p), "w", format="mp4")
            s = o.add_stream("libx264", rate=v.average_rate or 30)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            s.options = {"crf": "18"}
            outs.append((o, s))
        for fr in c.decode(v):
            img = fr.to_ndarray(format="rgb24")
            for k, (o, s) in enumerate(outs):
                sub = np.ascontiguousarray(img[:h, k * (W // 2) : k * (W // 2) + w])
                for pkt in s.encode(av.VideoFrame.from_ndarray(sub, format="rgb24")):
                    o.mux(pkt)
        for o, s in outs:
            for pkt in s.encode():
                o.mux(pkt)
            o.close()
    for t, p in zip(tmps, (left, right)):
        os.replace(t, p)
    return left, right


def real_clips(work: Path, quick: bool) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(real clips, real swaps with a hand): (name, label, path)."""
    reals: list[tuple[str, str, str]] = []
    swaps: list[tuple[str, str, str]] = []
    for p in sorted(FACES_DIR.glob("*.mp4")) + sorted(FACES_DIR.glob("*.avi")):
        reals.append((p.stem, "real", str(p)))
    for p in sorted((SHARED / "deepfakes").glob("*real*")):
        reals.append((p.stem, "real", str(p)))
    for name in ("deepfacelive_Liu_Lice_0", "deepfacelive_Keanu_Reeves_1"):
        src = SHARED / "deepfakes" / f"{name}.mp4"
        if src.is_file():
            left, right = split_side_by_side(src, work / "split")
            reals.append((left.stem, "real (original half)", str(left)))
            if name == "deepfacelive_Liu_Lice_0":
                swaps.append((right.stem, "fake (DeepFaceLive, hand near mouth)", str(right)))
    if quick:
        keep = {"retalking_face2", "deepfacelive_Liu_Lice_0_left", "face_recognition_short_hamilton_clip"}
        reals = [r for r in reals if r[0] in keep]
    return reals, swaps


# ---------------------------------------------------------------------------------------
# tables


def auc(pos: Iterable[float | None], neg: Iterable[float | None]) -> float | None:
    """AUC of positives over negatives; a missing score counts as 0 (the analyzer said nothing)."""
    from interview_guard.signals.metrics import roc_auc

    p = [0.0 if s is None else float(s) for s in pos]
    n = [0.0 if s is None else float(s) for s in neg]
    if not p or not n:
        return None
    return roc_auc(labels=[1] * len(p) + [0] * len(n), scores=p + n)


def auc_ci(fakes: list[dict[str, Any]], gens: list[dict[str, Any]], key: str = "score") -> str:
    """The 95 % bootstrap interval of the AUC, resampling faces (clips of one face are not independent)."""
    from interview_guard.signals.metrics import auc_interval

    rows = fakes + gens
    if not fakes or not gens:
        return "-"
    _, lo, hi = auc_interval(
        labels=[1] * len(fakes) + [0] * len(gens),
        scores=[0.0 if r[key] is None else float(r[key]) for r in rows],
        groups=[r["face"] for r in rows],
    )
    return f"{lo:.2f}-{hi:.2f}"


def _scores(rows: list[dict[str, Any]]) -> list[float]:
    """The clips' ``score`` (a missing one counts as 0, as in :func:`auc`)."""
    return [0.0 if r["score"] is None else float(r["score"]) for r in rows]


def _by_split_and_kind(
    clips: list[dict[str, Any]], *, need_genuine: bool = True
) -> Iterable[tuple[str, str, list[dict[str, Any]], list[dict[str, Any]]]]:
    """``(split, kind, fakes, genuine waves)`` for every split and fake kind (and ``all``) holding fakes."""
    for split in SPLITS:
        sr = [r for r in clips if r["split"] == split]
        gens = [r for r in sr if r["kind"] == "genuine"]
        for kind in (*FAKE_KINDS, "all"):
            fakes = [r for r in sr if r["kind"] != "genuine" and (kind == "all" or r["kind"] == kind)]
            if fakes and (gens or not need_genuine):
                yield split, kind, fakes, gens


def compare_table(rows: list[dict[str, Any]], other: list[dict[str, Any]], other_name: str) -> str:
    """Per split and kind: this run's AUC minus ``other``'s on the same clips, with a paired 95 % interval.

    Faces are resampled (both runs together): an interval that holds 0 says these clips cannot tell the two
    versions apart.
    """
    from interview_guard.signals.metrics import auc_difference_interval

    by_id = {r["id"]: r for r in other if "kind" in r and "score" in r}
    clips = [r for r in rows if "kind" in r and "score" in r and r["id"] in by_id]
    out = [
        f"### paired AUC difference: this run minus {other_name} (95 % interval, faces resampled)\n",
        "| split | kind | AUC this | AUC other | difference | interval | n fake/genuine |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split, kind, fakes, gens in _by_split_and_kind(clips):
        both = fakes + gens
        labels = [1] * len(fakes) + [0] * len(gens)
        a, b = _scores(both), _scores([by_id[r["id"]] for r in both])
        d, lo, hi = auc_difference_interval(labels=labels, scores_a=a, scores_b=b, groups=[r["face"] for r in both])
        out.append(
            f"| {split} | {kind} | {_f(auc(a[: len(fakes)], a[len(fakes) :]))} | "
            f"{_f(auc(b[: len(fakes)], b[len(fakes) :]))} | {d:+.2f} | {lo:+.2f} to {hi:+.2f} | "
            f"{len(fakes)}/{len(gens)} |"
        )
    return "\n".join(out)


def _f(x: float | None, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _auc_cells(fakes: list[dict[str, Any]], gens: list[dict[str, Any]], ci: bool = False) -> list[str]:
    return [
        _f(auc([r["score"] for r in fakes], [r["score"] for r in gens])),
        *([auc_ci(fakes, gens)] if ci else []),
        _f(auc([r["req_score"] for r in fakes], [r["req_score"] for r in gens])),
        _f(auc([r["baseline"] for r in fakes], [r["baseline"] for r in gens])),
        f"{len(fakes)}/{len(gens)}",
        str(sum(r["score"] is None for r in fakes + gens)),
    ]


def by_source(
    rows: list[dict[str, Any]], faces: Iterable[str], hand_sources: Iterable[str]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """A split's rows per held-out source, in the order given: each face's clips (labelled with the face), then each
    hand source's clips (every face's clips made with its photos, labelled ``hands: NAME``); sources with no rows
    are left out."""
    out = [(f, [r for r in rows if r["face"] == f]) for f in faces]
    out += [(f"hands: {h}", [r for r in rows if r["hand_source"] == h]) for h in hand_sources]
    return [(label, rs) for label, rs in out if rs]


def tables(rows: list[dict[str, Any]], reals: list[dict[str, Any]], swaps: list[dict[str, Any]]) -> str:
    out: list[str] = []
    clips = [r for r in rows if "kind" in r and "score" in r]
    head = "| AUC score | AUC score + request | AUC baseline | n fake/genuine | no score |"
    sep = "| --- | --- | --- | --- | --- |"
    out.append("### (a) per split and fake kind (fake vs genuine waves of the split)\n")
    out.append(
        "| split | kind | AUC score | 95 % interval (faces resampled) | AUC score + request | AUC baseline "
        "| n fake/genuine | no score |"
    )
    out.append("| --- | --- | --- " + sep)
    for split, kind, fakes, gens in _by_split_and_kind(clips, need_genuine=False):
        out.append(f"| {split} | {kind} | " + " | ".join(_auc_cells(fakes, gens, ci=True)) + " |")
    for split, split_faces, split_hands in (
        ("heldout", HELDOUT_FACES, HELDOUT_HANDS),
        ("test", TEST_FACES, TEST_HANDS),
        ("test2", TEST2_FACES, TEST2_HANDS),
    ):
        held = [r for r in clips if r["split"] == split]
        if not held:
            continue
        out.append(f"\n### (b) per {split} source (all fake kinds pooled vs the genuine waves of that source)\n")
        out.append("| source " + head)
        out.append("| --- " + sep)
        sources = by_source(held, split_faces, split_hands)
        for label, sr in sources:
            gens = [r for r in sr if r["kind"] == "genuine"]
            fakes = [r for r in sr if r["kind"] != "genuine"]
            out.append(f"| {label} | " + " | ".join(_auc_cells(fakes, gens)) + " |")
        out.append(f"\n#### {split}: AUC of the score (no request) by source and kind\n")
        out.append("| source | " + " | ".join(FAKE_KINDS) + " |")
        out.append("| --- |" + " --- |" * len(FAKE_KINDS))
        for label, sr in sources:
            gens = [r for r in sr if r["kind"] == "genuine"]
            cells = []
            for kind in FAKE_KINDS:
                fk = [r["score"] for r in sr if r["kind"] == kind]
                cells.append(_f(auc(fk, [r["score"] for r in gens])) if fk else "-")
            out.append(f"| {label.removeprefix('hands: ')} | " + " | ".join(cells) + " |")
    out.append("\n### (c) genuine waves\n")
    out.append("| split | n | high band | high band + request | max score | max score + request | mean baseline |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for split in SPLITS:
        g = [r for r in clips if r["split"] == split and r["kind"] == "genuine"]
        if not g:
            continue
        sc = [r["score"] for r in g if r["score"] is not None]
        rs = [r["req_score"] for r in g if r["req_score"] is not None]
        bl = [r["baseline"] for r in g if r["baseline"] is not None]
        out.append(
            f"| {split} | {len(g)} | {sum(r['band'] == 'high' for r in g)} | "
            f"{sum(r['req_band'] == 'high' for r in g)} | {_f(max(sc) if sc else None)} | "
            f"{_f(max(rs) if rs else None)} | {_f(float(np.mean(bl)) if bl else None)} |"
        )
    worst = sorted((r for r in clips if r["kind"] == "genuine" and r["score"] is not None), key=lambda r: -r["score"])
    if worst:
        out.append("\nhighest-scoring genuine waves: " + ", ".join(f"{r['id']} ({r['score']:.2f})" for r in worst[:5]))
    out.append("\n### (d) real clips scanned as is (face_occlusion score must be <= 0.5)\n")
    out.append("| clip | label | status | score | confidence | risk band | <= 0.5 | evidence |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in reals:
        s = r.get("score")
        ok = "yes" if s is None or s <= 0.5 else "**NO**"
        out.append(
            f"| {r['clip']} | {r['label']} | {r.get('status')} | {_f(s)} | {_f(r.get('confidence'))} | "
            f"{r.get('band', '-')} | {ok} | {', '.join(r.get('evidence', [])) or '-'} |"
        )
    out.append("\n### (e) real DeepFaceLive swap with a hand near the mouth\n")
    out.append("| clip | label | status | score | confidence | risk band | evidence |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for r in swaps:
        out.append(
            f"| {r['clip']} | {r['label']} | {r.get('status')} | {_f(r.get('score'))} | "
            f"{_f(r.get('confidence'))} | {r.get('band', '-')} | {', '.join(r.get('evidence', [])) or '-'} |"
        )
    if any("artifact_sum" in r for r in clips):
        out.append(artifact_table(clips))
    out.append(motion_table(clips))
    out.append(loss_table(clips))
    with_id = [r for r in clips if r.get("both_risk") is not None]
    if with_id:
        out.append(_identity_table(with_id, [r for r in reals + swaps if r.get("both_risk") is not None]))
    return "\n".join(out)


def motion_table(clips: list[dict[str, Any]]) -> str:
    """(h) Which way of waving the test holds for: per split and motion, the AUC of all fake kinds of that motion
    against every genuine wave of the split, and how many of those fakes got no crossing at all."""
    from occlusion_fakes import MOTIONS

    out = [
        "\n### (h) per split and motion (all fake kinds of the motion vs all genuine waves of the split)\n",
        "| split | " + " | ".join(f"{m}: AUC | {m}: no crossing" for m in MOTIONS) + " |",
        "| --- |" + " --- | --- |" * len(MOTIONS),
    ]
    for split in SPLITS:
        sr = [r for r in clips if r["split"] == split]
        g = [r["score"] for r in sr if r["kind"] == "genuine"]
        if not g:
            continue
        cells = []
        for m in MOTIONS:
            f = [r for r in sr if r["kind"] != "genuine" and r.get("motion") == m]
            cells += [
                _f(auc([r["score"] for r in f], g)) if f else "-",
                f"{sum(not r.get('crossings') for r in f)}/{len(f)}",
            ]
        out.append(f"| {split} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def auc_losses(clips: list[dict[str, Any]], split: str) -> tuple[dict[str, float], dict[str, float]]:
    """How much of the split's all-kinds AUC each clip costs: ``(genuine, fakes)``, each ``{clip id: share}``.

    A (fake, genuine) pair is lost when the genuine wave scores above the fake (half when they tie); a clip's share
    is the pairs it loses over all the split's pairs, so one minus the sum of either dict is the split's AUC of all
    kinds pooled against its genuine waves (a missing score counts as 0, as in :func:`auc`). The clips at the top
    are where a change would gain the most.
    """
    sr = [r for r in clips if r["split"] == split]
    gens = [r for r in sr if r["kind"] == "genuine"]
    fakes = [r for r in sr if r["kind"] != "genuine"]
    g_loss: dict[str, float] = {}
    f_loss: dict[str, float] = {}
    if not gens or not fakes:
        return g_loss, f_loss
    pairs = float(len(gens) * len(fakes))
    gs, fs = np.array(_scores(gens)), np.array(_scores(fakes))
    lost = (gs[:, None] > fs[None]).astype(float) + 0.5 * (gs[:, None] == fs[None])
    for r, v in zip(gens, lost.sum(axis=1), strict=True):
        g_loss[r["id"]] = float(v) / pairs
    for r, v in zip(fakes, lost.sum(axis=0), strict=True):
        f_loss[r["id"]] = float(v) / pairs
    return g_loss, f_loss


def _top_verdict(r: dict[str, Any]) -> str:
    """The verdict that gave a clip its score (its highest over the crossings); ``no crossing``, or ``not judged``
    for crossings without a verdict."""
    if not r.get("crossings"):
        return "no crossing"
    scores = [(float(v), k) for c in r["crossings"] for k, v in (c.get("scores") or {}).items()]
    return max(scores)[1] if scores else "not judged"


def loss_table(clips: list[dict[str, Any]], top: int = 5) -> str:
    """(i) Where the AUC is lost: per split, the genuine waves and the fakes that cost the most of the all-kinds AUC
    (:func:`auc_losses`), with the verdict that gave each its score. Round 26 started from this table: two
    genuine waves on one tuning face cost the tuning split 0.09."""
    out = [
        "\n### (i) where the AUC is lost: the clips costing the most of each split's all-kinds AUC\n",
        "| split | genuine wave or fake | clip | score | its verdict | AUC it costs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    by_id = {r["id"]: r for r in clips}
    for split in SPLITS:
        g_loss, f_loss = auc_losses(clips, split)
        for label, loss in (("genuine", g_loss), ("fake", f_loss)):
            for cid, v in sorted(loss.items(), key=lambda kv: -kv[1])[:top]:
                if v <= 0:
                    break
                r = by_id[cid]
                out.append(
                    f"| {split} | {label} | {cid.removeprefix(split + '__')} | {_f(r['score'])} | {_top_verdict(r)} | "
                    f"{v:.3f} |"
                )
    return "\n".join(out)


def artifact_table(clips: list[dict[str, Any]]) -> str:
    """(g) Is a missed fake one with little to see? Per split and kind, the fakes split at the median of
    ``artifact_sum`` (how much of the face differs from the genuine twin, summed over frames: face-frames,
    :func:`occlusion_fakes.make_wave_clip`): the AUC of each half against the split's genuine waves, and the
    rank correlation of artifact and score over the kind's fakes."""
    from scipy.stats import spearmanr

    out = [
        "\n### (g) AUC by how much of the swap's failure there is to see (artifact: face-frames differing from the "
        "genuine twin by 20+ grey levels)\n",
        "| split | kind | n | smaller half: artifact | AUC | larger half: artifact | AUC | rank correlation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split, kind, fakes, gens in _by_split_and_kind(
        [r for r in clips if "artifact_sum" in r or r["kind"] == "genuine"]
    ):
        if kind == "all" or len(fakes) < 4:
            continue
        f = sorted(fakes, key=lambda r: float(r["artifact_sum"]))
        h = len(f) // 2
        g = [r["score"] for r in gens]
        rho = spearmanr([r["artifact_sum"] for r in f], _scores(f)).statistic
        out.append(
            f"| {split} | {kind} | {len(f)} | {f[0]['artifact_sum']:.1f}-{f[h - 1]['artifact_sum']:.1f} | "
            f"{_f(auc([r['score'] for r in f[:h]], g))} | {f[h]['artifact_sum']:.1f}-{f[-1]['artifact_sum']:.1f} | "
            f"{_f(auc([r['score'] for r in f[h:]], g))} | {_f(float(rho))} |"
        )
    return "\n".join(out)


def _identity_table(clips: list[dict[str, Any]], reals: list[dict[str, Any]]) -> str:
    """(f): what ``face_identity`` adds: AUC of the fused risk of ``face_occlusion`` alone and of both."""
    out = ["\n### (f) with face_identity (`--identity`): AUC of the fused risk, face_occlusion alone -> both\n"]
    out.append(
        "| split | kind | risk, face_occlusion | risk, both | face_identity score | identity flash or change (fakes) |"
    )
    out.append("| --- | --- | --- | --- | --- | --- |")
    fired = {"identity_flash", "identity_change"}
    for split, kind, fakes, gens in _by_split_and_kind(clips):
        cells = [
            _f(auc([r["risk"] for r in fakes], [r["risk"] for r in gens])),
            _f(auc([r["both_risk"] for r in fakes], [r["both_risk"] for r in gens])),
            _f(auc([r["id_score"] for r in fakes], [r["id_score"] for r in gens])),
            f"{sum(bool(fired & set(r['id_evidence'])) for r in fakes)} of {len(fakes)}",
        ]
        out.append(f"| {split} | {kind} | " + " | ".join(cells) + " |")
    out.append("\n| split | genuine waves | identity flash or change | high band, face_occlusion | high band, both |")
    out.append("| --- | --- | --- | --- | --- |")
    for split in SPLITS:
        g = [r for r in clips if r["split"] == split and r["kind"] == "genuine"]
        if g:
            out.append(
                f"| {split} | {len(g)} | {sum(bool(fired & set(r['id_evidence'])) for r in g)} | "
                f"{sum(r['band'] == 'high' for r in g)} | {sum(r['both_band'] == 'high' for r in g)} |"
            )
    if reals:
        out.append(
            "\n| real clip | label | face_identity | evidence | risk, face_occlusion | risk, both | band, both |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for r in reals:
            out.append(
                f"| {r['clip']} | {r['label']} | {_f(r.get('id_score'))} | "
                f"{', '.join(r.get('id_evidence', [])) or '-'} "
                f"| {_f(r.get('risk'))} | {_f(r.get('both_risk'))} | {r.get('both_band')} |"
            )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------


def _results(work: Path) -> list[dict[str, Any]]:
    """The per-clip rows kept in ``work/results``."""
    return [json.loads(p.read_text()) for p in sorted((work / "results").glob("*.json"))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="keeps clips and per-clip results (a re-run resumes)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    ap.add_argument("--quick", action="store_true", help="a small grid (3 faces, 1 hand each) and 3 real clips")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hands-per-face", type=int, default=1, help="hands per face (sources alternate across faces)")
    ap.add_argument("--no-reals", action="store_true", help="skip tables (d) and (e)")
    ap.add_argument(
        "--kinds",
        default=",".join(("genuine", *FAKE_KINDS)),
        help="comma-separated kinds to make (default: all); 'genuine' with another --seed counts false alarms",
    )
    ap.add_argument(
        "--everyday",
        action="store_true",
        help="genuine clips of a hand resting at the chin or touching the cheek (no request, no wave) instead of "
        "the four wave motions: false alarms on what an honest candidate does unasked (use with --kinds genuine)",
    )
    ap.add_argument("--report-only", action="store_true", help="print the tables from the results in --work so far")
    ap.add_argument(
        "--identity",
        action="store_true",
        help="also run face_identity (scans with face descriptors) and add table (f): the risk fused from both",
    )
    ap.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="another --work directory of the same clips (an older version's results): adds the paired difference",
    )
    ap.add_argument(
        "--splits",
        default=",".join(SPLITS),
        help=f"comma-separated splits to run (default: all of {', '.join(SPLITS)})",
    )
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    if args.report_only:
        if args.work is None:
            ap.error("--report-only needs --work")
        done = _results(args.work)
        clips = [r for r in done if not r["id"].startswith("real__")]
        reals = [r for r in done if r["id"].startswith("real__") and not r["label"].startswith("fake")]
        swaps = [r for r in done if r["id"].startswith("real__") and r["label"].startswith("fake")]
        print(tables(clips, reals, swaps))
        if args.compare is not None:
            print("\n" + compare_table(clips, _results(args.compare), str(args.compare)))
        print(f"\n{len(clips)} clips, {len(reals)} real clips, {len(swaps)} swaps done so far in {args.work}")
        return 0
    if not SHARED.is_dir():
        print(f"{SHARED} not found", file=sys.stderr)
        return 2
    import occlusion_fakes as of

    work = (args.work or Path(tempfile.mkdtemp(prefix="ig-occ-heldout-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hands = {src: [h.id for h in of.load_hands(src, cache_dir=work)] for src in of.HAND_SOURCES}
    print(f"hands: {', '.join(f'{k} {len(v)}' for k, v in hands.items())}", file=sys.stderr)
    splits = tuple(x for x in args.splits.split(",") if x)
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        ap.error(f"unknown split(s): {', '.join(unknown)}")
    kinds = tuple(x for x in args.kinds.split(",") if x)
    bad_kinds = sorted(set(kinds) - {"genuine", *FAKE_KINDS})
    if bad_kinds:
        ap.error(f"unknown kind(s): {', '.join(bad_kinds)}")
    specs = build_grid(
        hands,
        quick=args.quick,
        seed=args.seed,
        hands_per_face=args.hands_per_face,
        splits=splits,
        kinds=kinds,
        genuine_motions=of.EVERYDAY_MOTIONS if args.everyday else None,
    )
    if args.identity:
        specs = [{**s, "identity": True} for s in specs]
    faces = sorted({s["face"] for s in specs})
    ctx = get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=ctx, initializer=_init_worker) as ex,
        stop_pool_on_sigterm(ex),
    ):
        prep = list(ex.map(prep_face, faces, [work] * len(faces)))
        bad = {p["face"]: p["error"] for p in prep if not p["ok"]}
        for f, e in bad.items():
            print(f"face {f} left out: {e}", file=sys.stderr)
        specs = [s for s in specs if s["face"] not in bad]
        print(f"{len(specs)} clips ({time.perf_counter() - t0:.0f} s so far)", file=sys.stderr)
        futs = [ex.submit(run_clip, s, work) for s in specs]
        reals_spec, swaps_spec = ([], []) if args.no_reals else real_clips(work, args.quick)
        rfuts = [ex.submit(run_real, n, lab, p, work, args.identity) for n, lab, p in reals_spec]
        sfuts = [ex.submit(run_real, n, lab, p, work, args.identity) for n, lab, p in swaps_spec]
        rows = []
        for i, f in enumerate(futs):
            try:
                rows.append(f.result())
            except Exception as exc:  # noqa: BLE001 - one broken clip must not lose the others
                rows.append({**specs[i], "error": f"{type(exc).__name__}: {exc}"})
                print(f"{specs[i]['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
            if (i + 1) % 20 == 0:
                print(f"{i + 1}/{len(futs)} clips ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        reals = [f.result() for f in rfuts]
        swaps = [f.result() for f in sfuts]
    wall = time.perf_counter() - t0
    from interview_guard.io.runtime import runtime_versions

    _write_json(
        work / "results.json",
        {"clips": rows, "reals": reals, "swaps": swaps, "wall_s": round(wall, 1), "runtime": runtime_versions()},
    )
    print(tables(rows, reals, swaps))
    if args.compare is not None:
        print("\n" + compare_table(rows, _results(args.compare), str(args.compare)))
    n_err = sum("error" in r for r in rows)
    print(
        f"\n{len(rows)} clips ({n_err} failed), {len(reals)} real clips, {len(swaps)} swaps; "
        f"{wall:.0f} s wall with -j {args.jobs}; work dir {work}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
