"""Judge the hand-wave evaluation's cached crossings again with other verdict thresholds, and search them.

``face_occlusion``'s verdicts are a function of each crossing's two measure records alone (the pixels' and the
face mesh's; :func:`interview_guard.signals.crossing_verdicts.crossing_verdicts`), and
``evaluation/face_occlusion_heldout.py`` keeps those records in every clip's result (``crossings``). So a run can be
scored again with other constants of :mod:`interview_guard.signals.crossing_verdicts` in milliseconds, without
scanning or measuring anything again, and a search can pick constants on some splits and report the others::

    # what round 12 did: search on the 13 development faces, report both test splits
    python evaluation/verdict_search.py --work /tmp/occ_full /tmp/occ_test /tmp/occ_test2 --tune-splits tune,heldout
    # a given setting, no search
    python evaluation/verdict_search.py --work /tmp/occ_full /tmp/occ_test --set "ENTRY_CUT=(0.5, 0.04)"

The clip score is rebuilt as the analyzer builds it without a request (each judged crossing scores its largest
verdict, rounded as the analyzer rounds; the analyzer's ``combined_score`` combines the two largest), and the run
first checks that, with the shipped constants, it gives back every stored score. The table compares the searched
(or set) constants with the shipped ones on the same clips: AUC per split and kind with a paired 95 % interval
(faces resampled), genuine waves at 0.5 / 0.9 or more, and fakes at 0.9 or more.
Only the tuning splits decide; a test split's number is reported, never used.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import face_occlusion_heldout as heldout  # noqa: E402  (the evaluation whose results this reads)

from interview_guard.analyzers.face_occlusion import combined_score  # noqa: E402
from interview_guard.signals import crossing_verdicts as cv  # noqa: E402
from interview_guard.signals.metrics import roc_auc  # noqa: E402

KINDS = heldout.FAKE_KINDS
_JUDGING = frozenset(cv.PIXEL_VERDICTS) | frozenset(cv.MESH_VERDICTS)

#: The constants the search tries (each with the values listed; the shipped value is always a candidate).
GRID: dict[str, list[Any]] = {
    "ENTRY": [(c, w) for c in (0.3, 0.4, 0.5, 0.6) for w in (0.05, 0.07, 0.1)],
    "ENTRY_CUT": [(c, w) for c in (0.2, 0.3, 0.4, 0.5) for w in (0.04, 0.06, 0.1)],
    "GHOST": [(c, w) for c in (0.45, 0.5, 0.55, 0.6, 0.65) for w in (0.03, 0.05, 0.08)],
    "FLASH_Z": [(c, w) for c in (5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0) for w in (0.5, 1.0, 2.0)],
    "FLASH_DECIDES_Z": [9.0, 12.0, 15.0, 18.0, 20.0, 25.0, 30.0],
    "FLASH_REACH_Z": [(c, w) for c in (6.0, 8.0, 10.0, 12.0, 15.0, 20.0) for w in (0.5, 1.0, 2.0)],
    "WARP_Z": [(c, w) for c in (1.0, 1.25, 1.5, 2.0, 2.5) for w in (0.1, 0.2, 0.4)],
    "WARP_RATIO": [(c, w) for c in (2.0, 2.2, 2.4, 2.7, 3.0) for w in (0.1, 0.15, 0.3)],
    "NEVER_COVERED": [(c, w) for c in (0.04, 0.06, 0.08, 0.1, 0.12) for w in (0.008, 0.012, 0.02)],
    "BEHIND": [(c, w) for c in (0.15, 0.2, 0.24, 0.3) for w in (0.02, 0.03, 0.05)],
    "BEHIND_NET": [(c, w) for c in (0.2, 0.25, 0.3, 0.4) for w in (0.02, 0.03, 0.05)],
    "MESH_STILL": [(c, w) for c in (0.035, 0.04, 0.045, 0.05, 0.055, 0.06) for w in (0.004, 0.007, 0.01)],
    "NEVER_COVERED_CAP": [0.6, 0.7, 0.8, 0.85, 0.89],
    "DECIDING_FRAMES": [4, 6, 8, 10, 12],
    "MIN_ENTRY_FRAMES": [2, 3, 4, 5, 6, 8],
    "MIN_OUTLINE_FRAMES": [3, 4, 5, 6, 8],
    "MESH_HAND_SEEN": [0.0, 0.02, 0.04, 0.06, 0.08],
    "MESH_ALONE": [0.0, 0.3, 0.5, 0.7, 1.1],
    "MESH_COVERED": [0.1, 0.12, 0.15, 0.2, 99.0],
    "FLASH_FACE_PRESENT": [0.0, 0.3, 0.5, 0.7, 1.0],
    "BEHIND_SPAN": [4, 5, 6, 7, 8],
    "BEHIND_FRAMES": [3, 4, 5, 6, 8],
    "FACE_LOST_FRAMES": [1, 2, 3, 5, 99],
}


def load_rows(works: Iterable[Path]) -> list[dict[str, Any]]:
    """The generated clips' results of one or more evaluation work directories (each with its ``crossings``).

    Raises
    ------
    SystemExit
        A result without ``crossings`` (a run made before they were kept: run the evaluation again), or a clip id
        in two of ``works`` (the paired tables match clips by id).
    """
    rows: list[dict[str, Any]] = []
    seen: dict[str, Path] = {}
    for work in works:
        for r in heldout._results(Path(work)):
            if "kind" not in r or r.get("status") != "ok":
                continue
            if "crossings" not in r:
                raise SystemExit(f"{work}: {r['id']} has no crossing records; run face_occlusion_heldout.py again")
            if r["id"] in seen:  # the paired tables match clips by id
                raise SystemExit(
                    f"{work}: {r['id']} is also in {seen[r['id']]}; runs of other seeds need their own ids (made "
                    "since round 13), so make that run again"
                )
            seen[r["id"]] = Path(work)
            rows.append(r)
    return rows


@contextlib.contextmanager
def constants(overrides: dict[str, Any] | None) -> Iterator[None]:
    """The verdict constants of :mod:`crossing_verdicts` set to ``overrides`` inside the block, restored after.

    Raises
    ------
    KeyError
        A name that is not one of the module's constants.
    """
    overrides = overrides or {}
    for name in overrides:
        if not name.isupper() or not hasattr(cv, name):
            raise KeyError(f"{name}: not a constant of interview_guard.signals.crossing_verdicts")
    saved = {name: getattr(cv, name) for name in overrides}
    bent, reach_cap, mesh_cap = cv.MESH_BENT, cv.FLASH_REACH_CAP, cv.MESH_CAP
    try:
        for name, value in overrides.items():
            setattr(cv, name, value)
        if "MESH_STILL" in overrides and "MESH_BENT" not in overrides:  # it is defined from MESH_STILL
            cv.MESH_BENT = cv.MESH_STILL[0] + 3 * cv.MESH_STILL[1]
        if "NEVER_COVERED_CAP" in overrides and "FLASH_REACH_CAP" not in overrides:  # ... and this from that
            cv.FLASH_REACH_CAP = cv.NEVER_COVERED_CAP
        if "NEVER_COVERED_CAP" in overrides and "MESH_CAP" not in overrides:  # ... and this too
            cv.MESH_CAP = cv.NEVER_COVERED_CAP
        yield
    finally:
        for name, value in saved.items():
            setattr(cv, name, value)
        cv.MESH_BENT = bent
        cv.FLASH_REACH_CAP = reach_cap
        cv.MESH_CAP = mesh_cap


def clip_score(crossings: Sequence[dict[str, Any]]) -> float:
    """A clip's ``face_occlusion`` score from its crossings' records, as the analyzer builds it without a request."""
    judged: list[float] = []
    for c in crossings:
        verdicts = {k: float(round(v, 4)) for k, v in cv.crossing_verdicts(c.get("pixels"), c.get("mesh")).items()}
        cut = cv.fingers_cut_verdict(c.get("hand_shape")) if c.get("hand_shape") else None  # round 25 (no cap of
        if cut is not None and cut >= 0.5 and cv.hand_reached_features(c):  # with_hand_from_outside touches it)
            verdicts["fingers_cut"] = float(round(cut, 4))
        if "hand_path" in c:  # round 20: an intact face decides only under a hand seen outside it; the face
            # descriptor's verdicts (round 18: an identity jump, a look; round 28: a flash it saw too), the caps after;
            # then two instruments' looks at one crossing decide (round 28)
            verdicts = cv.with_agreement(cv.with_identity_verdicts(cv.with_hand_from_outside(verdicts, c), c), c)
        elif c.get("identity") and (jump := cv.identity_verdict(c["identity"])) >= 0.5:  # runs before round 20
            verdicts["face_identity_jump"] = float(round(jump, 4))
        if set(verdicts) & _JUDGING or "face_identity_jump" in verdicts or "fingers_cut" in verdicts:
            judged.append(max(verdicts.values()))
    return combined_score(judged)


def scores(rows: Sequence[dict[str, Any]], overrides: dict[str, Any] | None = None) -> np.ndarray:
    """Every row's clip score with the constants set to ``overrides``."""
    with constants(overrides):
        return np.array([clip_score(r["crossings"]) for r in rows])


def _subset(rows: Sequence[dict[str, Any]], splits: Iterable[str], kind: str | None) -> np.ndarray:
    sp = set(splits)
    return np.array(
        [r["split"] in sp and (r["kind"] == "genuine" or kind is None or r["kind"] == kind) for r in rows], dtype=bool
    )


def kind_aucs(rows: Sequence[dict[str, Any]], s: np.ndarray, splits: Iterable[str]) -> dict[str, float]:
    """AUC of each fake kind (and ``all``) against the genuine waves of ``splits``."""
    splits = tuple(splits)
    out: dict[str, float] = {}
    for kind in (*KINDS, None):
        m = _subset(rows, splits, kind)
        y = np.array([r["kind"] != "genuine" for r in rows])[m]
        if y.all() or not y.any():
            continue
        out[kind or "all"] = roc_auc(labels=y, scores=s[m])
    return out


def objective(rows: Sequence[dict[str, Any]], s: np.ndarray, splits: Iterable[str]) -> float:
    """Mean AUC over the fake kinds on ``splits``; -1 when a genuine wave there reaches 0.9 (the decisive level)."""
    splits = tuple(splits)
    genuine = np.array([r["split"] in splits and r["kind"] == "genuine" for r in rows])
    if (s[genuine] >= 0.9).any():
        return -1.0
    a = kind_aucs(rows, s, splits)
    return float(np.mean([a[k] for k in KINDS if k in a]))


def search(
    rows: Sequence[dict[str, Any]],
    tune_splits: Iterable[str],
    *,
    grid: dict[str, list[Any]] | None = None,
    min_gain: float = 0.005,
    passes: int = 3,
    log: Any = None,
) -> dict[str, Any]:
    """Coordinate search of the verdict constants on ``tune_splits``: each constant in turn takes its best value
    of ``grid`` when that raises :func:`objective` by ``min_gain`` or more; stops after a pass with no change.
    Returns the changed constants only."""
    tune_splits = tuple(tune_splits)
    grid = GRID if grid is None else grid
    chosen: dict[str, Any] = {}
    best = objective(rows, scores(rows, chosen), tune_splits)
    for _ in range(passes):
        changed = False
        for name, values in grid.items():
            current = chosen.get(name, getattr(cv, name))
            trials = [(objective(rows, scores(rows, {**chosen, name: v}), tune_splits), v) for v in values]
            o, v = max(trials, key=lambda ov: ov[0])
            if o >= best + min_gain and v != current:
                chosen[name], best, changed = v, o, True
                if log is not None:
                    print(f"{name}: {current} -> {v} (objective {o:.4f})", file=log)
        if not changed:
            break
    return {k: v for k, v in chosen.items() if v != getattr(cv, k)}


def report(rows: Sequence[dict[str, Any]], overrides: dict[str, Any]) -> str:
    """``overrides`` against the shipped constants on every split of ``rows``: the evaluation's paired table
    (:func:`face_occlusion_heldout.compare_table`), then genuine waves and fakes at the decisive level."""
    base, new = scores(rows), scores(rows, overrides)
    lines = [
        heldout.compare_table(
            [{**r, "score": float(x)} for r, x in zip(rows, new)],
            [{**r, "score": float(x)} for r, x in zip(rows, base)],
            "the shipped constants",
        ),
        "",
        "| split | genuine >= 0.5 | genuine >= 0.9 | fakes >= 0.9 |",
        "| --- | --- | --- | --- |",
    ]
    for sp in sorted({r["split"] for r in rows}):
        g = np.array([r["split"] == sp and r["kind"] == "genuine" for r in rows])
        f = np.array([r["split"] == sp and r["kind"] != "genuine" for r in rows])
        cells = [
            f"{int((base[g] >= 0.5).sum())} -> {int((new[g] >= 0.5).sum())} of {int(g.sum())}",
            f"{int((base[g] >= 0.9).sum())} -> {int((new[g] >= 0.9).sum())}",
            f"{int((base[f] >= 0.9).sum())} -> {int((new[f] >= 0.9).sum())} of {int(f.sum())}",
        ]
        lines.append(f"| {sp} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE, e.g. ENTRY_CUT=(0.5, 0.04)")
        try:
            out[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise SystemExit(f"--set {item!r}: the value is not a Python literal") from None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, nargs="+", required=True, help="evaluation work directories")
    ap.add_argument("--tune-splits", default="tune,heldout", help="the splits the search may look at")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="evaluate these constants, no search")
    args = ap.parse_args(argv)
    rows = load_rows(args.work)
    if not rows:
        raise SystemExit(f"no generated clips with results in {', '.join(map(str, args.work))}")
    # the re-scoring must give back what the analyzer scored with the shipped constants
    stored = np.array([r["score"] for r in rows])
    off = np.abs(scores(rows) - stored) > 1e-3
    if off.any():
        bad = [rows[i]["id"] for i in np.flatnonzero(off)[:5]]
        raise SystemExit(
            f"{int(off.sum())} of {len(rows)} stored scores are not what their crossings give with the shipped "
            f"constants (e.g. {', '.join(bad)}): the results come from other code; run the evaluation again"
        )
    print(f"{len(rows)} clips; every stored score reproduced from its crossings", file=sys.stderr)
    if args.set:
        overrides = _parse_set(args.set)
        try:
            with constants(overrides):  # a name that is not a constant fails here, before any table
                pass
        except KeyError as exc:
            raise SystemExit(f"--set {exc.args[0]}") from None
    else:
        tune = [s for s in args.tune_splits.split(",") if s]
        overrides = search(rows, tune, log=sys.stderr)
        print(f"search on {', '.join(tune)}: {overrides or 'no change'}", file=sys.stderr)
    print(f"constants: {overrides or 'shipped'}\n")
    print(report(rows, overrides))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
