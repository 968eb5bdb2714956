"""Is issue #13's bar met? Its three conditions, checked on one or more runs of the held-out evaluation.

Issue #13 ("What it must show") asks, of the hand-over-face test:

1. on every held-out source, an AUC of 0.95 or more for each fake kind against genuine waves;
2. no genuine wave in the high band;
3. no genuine clip of ``../shared/data`` above 0.5.

``evaluation/face_occlusion_heldout.py`` writes one result per clip; a round pools its runs of several seeds (each
run its own work directory, the clip ids carry the seed) and counts the cells of (1) by hand. This script does the
count: a *source* is a face of a held-out split (its fakes and its genuine waves) or a hand source of that split
(every face's clips made with that source's hand photos), so each source and fake kind is one cell, and its AUC
pools the seeds given. The table lists every cell, the cells under the level first, with and without a logged
request (``score``, ``req_score``); then the genuine waves in the high band, the everyday genuine clips (a chin
rested on the hand, a touch of the cheek: not waves, counted apart) at 0.5 or more, and the real clips above 0.5::

    python evaluation/bar_check.py --work /tmp/occ_test_seed0 /tmp/occ_test_seed1
    python evaluation/bar_check.py --work /tmp/occ_dev_seed1 --splits tune,heldout   # the development faces

A missing score counts as 0, as in the evaluation's own AUCs. Nothing here is tuned or searched: it reads results.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import face_occlusion_heldout as heldout  # noqa: E402  (the evaluation whose results this reads)

#: The issue's level for each cell.
LEVEL = 0.95
#: The issue's limit for a real clip of ``../shared/data`` (its score must not be above it).
REAL_LIMIT = 0.5
#: Genuine clips that are not hand waves (``face_occlusion_heldout.py --everyday``).
EVERYDAY = ("rest", "touch")


@dataclass(frozen=True)
class Cell:
    """One held-out source and fake kind: its AUC against that source's genuine waves, seeds pooled."""

    split: str
    source: str
    kind: str
    auc: float | None
    auc_request: float | None
    n_fake: int
    n_genuine: int

    def met(self, level: float = LEVEL, *, request: bool = False) -> bool:
        a = self.auc_request if request else self.auc
        return a is not None and a >= level


def load(works: Iterable[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The generated clips' rows and the real clips' rows of ``works``.

    Raises
    ------
    SystemExit
        A clip id in two of ``works`` (one run given twice, or two runs of one seed: pooling would count it twice).
    """
    clips: list[dict[str, Any]] = []
    reals: dict[str, dict[str, Any]] = {}
    seen: dict[str, Path] = {}
    for work in works:
        if not (Path(work) / "results").is_dir():
            raise SystemExit(f"{work}: no results directory (not a face_occlusion_heldout.py work directory)")
        for r in heldout._results(Path(work)):
            if "kind" not in r:  # a real clip: the same clip in every run, so the last one read stands
                reals[r["id"]] = r
                continue
            if r["id"] in seen:
                raise SystemExit(f"{work}: {r['id']} is also in {seen[r['id']]}: give each seed's run once")
            seen[r["id"]] = Path(work)
            clips.append(r)
    return clips, list(reals.values())


def cells(clips: list[dict[str, Any]], splits: Iterable[str]) -> list[Cell]:
    """Every held-out source and fake kind of ``splits`` that has fakes, in split, source and kind order."""
    out: list[Cell] = []
    for split in splits:
        rows = [r for r in clips if r["split"] == split and r.get("motion") not in EVERYDAY]
        faces, hands = sorted({r["face"] for r in rows}), sorted({r["hand_source"] for r in rows})
        for source, rs in heldout.by_source(rows, faces, hands):
            gens = [r for r in rs if r["kind"] == "genuine"]
            for kind in heldout.FAKE_KINDS:
                fakes = [r for r in rs if r["kind"] == kind]
                if not fakes:
                    continue
                a = heldout.auc([r["score"] for r in fakes], [r["score"] for r in gens])
                b = heldout.auc([r.get("req_score") for r in fakes], [r.get("req_score") for r in gens])
                out.append(Cell(split, source, kind, a, b, len(fakes), len(gens)))
    return out


def report(clips: list[dict[str, Any]], reals: list[dict[str, Any]], splits: list[str], level: float = LEVEL) -> str:
    """The bar's three conditions as markdown, and whether each is met."""
    cs = cells(clips, splits)
    met = sum(c.met(level) for c in cs)
    met_req = sum(c.met(level, request=True) for c in cs)
    held = [r for r in clips if r["split"] in splits]
    waves = [r for r in held if r["kind"] == "genuine" and r.get("motion") not in EVERYDAY]
    everyday = [r for r in held if r["kind"] == "genuine" and r.get("motion") in EVERYDAY]
    high = [r for r in waves if r.get("band") == "high"]
    high_req = [r for r in waves if r.get("req_band") == "high"]
    real = [r for r in reals if str(r.get("label", "")).startswith("real")]
    over = [r for r in real if r.get("score") is not None and r["score"] > REAL_LIMIT]
    seeds = sorted({r["id"].rsplit("__seed", 1)[1] if "__seed" in r["id"] else "0" for r in held})
    out = [
        f"### Issue #13's bar on {', '.join(splits)} (seeds pooled: {', '.join(seeds) or '-'})\n",
        "| condition | without a request | with a request | met |",
        "| --- | --- | --- | --- |",
        f"| every source and fake kind at AUC {level:.2f}+ | {met} of {len(cs)} cells | {met_req} of {len(cs)} cells "
        f"| {'yes' if cs and met == len(cs) else 'no'} |",
        f"| no genuine wave in the high band | {len(high)} of {len(waves)} | {len(high_req)} of {len(waves)} "
        f"| {'yes' if waves and not high else 'no'} |",
        f"| no real clip of ../shared/data above {REAL_LIMIT} | {len(over)} of {len(real)} | - "
        f"| {'yes' if real and not over else ('no' if over else 'not run')} |",
    ]
    if everyday:
        e5 = sum((r["score"] or 0.0) >= 0.5 for r in everyday)
        eh = sum(r.get("band") == "high" for r in everyday)
        out.append(f"\nEveryday genuine clips (not waves): {e5} of {len(everyday)} at 0.5+, {eh} in the high band.")
    for r in high + [r for r in high_req if r not in high]:
        out.append(
            f"\ngenuine wave in the high band: {r['id']} (score {r['score']}, with a request {r.get('req_score')})"
        )
    for r in over:
        out.append(f"\nreal clip above {REAL_LIMIT}: {r['id']} ({r['score']:.2f})")
    out += [
        "\n| split | source | kind | AUC | AUC with a request | n fake / genuine |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in sorted(cs, key=lambda c: (c.met(level), c.auc if c.auc is not None else -1.0)):
        mark = "" if c.met(level) else " **under**"
        out.append(
            f"| {c.split} | {c.source} | {c.kind} | {heldout._f(c.auc)}{mark} | {heldout._f(c.auc_request)} "
            f"| {c.n_fake} / {c.n_genuine} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, nargs="+", required=True, help="evaluation work directories (one per seed)")
    ap.add_argument("--splits", default="test,test2", help="the held-out splits the bar is counted on")
    ap.add_argument("--level", type=float, default=LEVEL, help="the AUC each cell must reach")
    args = ap.parse_args(argv)
    splits = [s for s in args.splits.split(",") if s]
    unknown = [s for s in splits if s not in heldout.SPLITS]
    if unknown:
        ap.error(f"unknown split {unknown[0]!r}; one of {', '.join(heldout.SPLITS)}")
    clips, reals = load(args.work)
    if not any(r["split"] in splits for r in clips):
        ap.error(f"no clip of {', '.join(splits)} in {', '.join(map(str, args.work))}")
    print(report(clips, reals, splits, args.level))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
