"""Cross-session identity matching on real data: the numbers behind ``docs/identity-matching.md``.

**Face.** The 17 genuine clips of ``face_identity_measure.py`` (16 people; the
Ocasio-Cortez clips are one person in two recordings), each scanned as a short
recording is (every frame landmarked, descriptors at 5 per second, two faces
looked for). Each clip is cut in time into ``--parts`` equal sessions (2 and 3,
both used); each session's descriptor is
:func:`~interview_guard.signals.identity_match.face_session_descriptor` of its
faces. Same-person pairs: two sessions of one person (one clip, or the two
Ocasio-Cortez clips); different-person pairs: sessions of two people, among
sessions of the same cut only (no session is compared with an overlapping one).
Prints the distributions, fits P(same) (class-balanced logistic) and the
``strong`` threshold's false-match rate on the different-person pairs.

**Typing.** The 14 Aalto typists, each log cut into 2 sessions: same and
different-typist pairs and the share of each over the ``possible`` floor.

Usage::

    .venv/bin/python evaluation/identity_match_measure.py [--cache DIR]

The clip scans are read from ``--cache`` (``face_identity_measure.py`` writes
them there; the identity arrays of a scan-format 6 file are read as they are,
format 7 changed only the blending track), and scanned when missing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "evaluation"))

from face_identity_measure import CLIPS, DATA  # noqa: E402

from interview_guard.signals import identity_match as im  # noqa: E402
from interview_guard.signals import typing_profile as tp  # noqa: E402
from interview_guard.signals.metrics import equal_error_rate, roc_auc  # noqa: E402


def identity_arrays(name: str, cache: Path) -> dict[str, np.ndarray]:
    """The tracked face's t_s, descriptor, quality of a clip (from the scan cache, scanning when missing)."""
    f = cache / (Path(name).stem + ".scan.npz")
    if not f.is_file():
        from interview_guard.extract.video_scan import scan_video
        from interview_guard.io.landmark_types import FaceRunnerOptions

        cache.mkdir(parents=True, exist_ok=True)
        scan_video(DATA / name, mode="full", identity=True, face_options=FaceRunnerOptions(num_faces=2)).save(f)
    z = np.load(f, allow_pickle=False)
    main = z["identity/face"] == 0
    return {k: z[f"identity/{k}"][main] for k in ("t_s", "descriptor", "quality")}


def face_sessions(cache: Path, parts: int) -> list[tuple[str, str, np.ndarray, float, int]]:
    out = []
    for name, person in CLIPS.items():
        a = identity_arrays(name, cache)
        t = a["t_s"]
        edges = np.linspace(t.min(), t.max() + 1e-6, parts + 1)
        for i in range(parts):
            m = (t >= edges[i]) & (t < edges[i + 1])
            v, q, n = im.face_session_descriptor(t_s=t[m], descriptors=a["descriptor"][m], quality=a["quality"][m])
            if v is not None:
                out.append((f"{Path(name).stem}#{i + 1}/{parts}", person, v, q, n))
    return out


def face(cache: Path) -> None:
    same: list[float] = []
    same_named: list[tuple[float, str, str]] = []
    diff: list[tuple[float, str, str]] = []
    faces: list[int] = []
    for parts in (2, 3):
        ss = face_sessions(cache, parts)
        faces += [s[4] for s in ss]
        for a, b in itertools.combinations(ss, 2):
            d = float(np.linalg.norm(a[2].astype(np.float64) - b[2]))
            if a[1] == b[1]:
                same.append(d)
                same_named.append((d, a[0], b[0]))
            else:
                diff.append((d, a[0], b[0]))
    s = np.array(same)
    dd = np.array([x[0] for x in diff])
    print(f"face sessions: faces per session median {np.median(faces):.0f} (min {min(faces)}, max {max(faces)})")
    print(f"same person: {s.size} pairs, median {np.median(s):.3f}, p90 {np.quantile(s, 0.9):.3f}, max {s.max():.3f}")
    print(f"different: {dd.size} pairs, min {dd.min():.3f}, p0.1% {np.quantile(dd, 0.001):.3f}, "
          f"p1% {np.quantile(dd, 0.01):.3f}, median {np.median(dd):.3f}")  # fmt: skip
    print("closest different-person pairs:")
    for d, x, y in sorted(diff)[:8]:
        print(f"  {d:.3f} {x} {y}")
    print("largest same-person distances:")
    for d, x, y in sorted(same_named)[-6:]:
        print(f"  {d:.3f} {x} {y}")
    a, b = tp.fit_same_person_logistic(same=s, different=dd)
    print(f"fitted logistic: ({a:.2f}, {b:.2f}), P = 0.5 at {-a / b:.3f}; module: {im.FACE_SAME_PERSON_LOGIT}")
    t = im.FACE_STRONG_DISTANCE
    print(f"strong at <= {t}: same {np.mean(s <= t):.3f} ({int((s <= t).sum())}/{s.size}), "
          f"different {np.mean(dd <= t):.4f} ({int((dd <= t).sum())}/{dd.size})")  # fmt: skip
    ps = np.array([im.same_person_score("face", x) for x in s])
    pd = np.array([im.same_person_score("face", x) for x in dd])
    for fl in sorted({im.POSSIBLE_FLOOR["face"], 0.5, 0.1, 0.01}):
        print(f"score >= {fl}: same {np.mean(ps >= fl):.3f}, different {np.mean(pd >= fl):.4f} "
              f"({int((pd >= fl).sum())}), distance <= {(np.log(fl / (1 - fl)) - a) / b:.3f}")  # fmt: skip
    lab, sc = np.r_[np.ones(s.size), np.zeros(dd.size)], np.r_[-s, -dd]
    print(f"AUC {roc_auc(labels=lab, scores=sc):.4f}, EER {equal_error_rate(labels=lab, scores=sc)[0]:.4f}")


def typing() -> None:
    from typing_profile_eval import load_aalto, profile_of

    logs = load_aalto(2)
    prof = {k: [profile_of(x)[0] for x in v] for k, v in logs.items()}
    keys = [(k, i) for k in prof for i in range(len(prof[k]))]
    same, diff = [], []
    for (ka, ia), (kb, ib) in itertools.combinations(keys, 2):
        d = float(im.typing_distances(prof[ka][ia], prof[kb][ib][None])[0])
        (same if ka == kb else diff).append(d)
    s, dd = np.array(same), np.array(diff)
    ps = np.array([im.same_person_score("typing", x) for x in s])
    pd = np.array([im.same_person_score("typing", x) for x in dd])
    fl = 0.5
    auc = roc_auc(labels=np.r_[np.ones(s.size), np.zeros(dd.size)], scores=np.r_[-s, -dd])
    print(f"typing: {s.size} same / {dd.size} different pairs; AUC {auc:.3f}; score >= {fl}: same "
          f"{np.mean(ps >= fl):.2f}, different {np.mean(pd >= fl):.3f}; "
          f"score >= 0.9 (the floor): same {np.mean(ps >= 0.9):.2f}, "
          f"different {np.mean(pd >= 0.9):.3f}; smallest different distance {dd.min():.3f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ig-identity-measure"))
    args = ap.parse_args()
    face(args.cache)
    typing()


if __name__ == "__main__":
    main()
