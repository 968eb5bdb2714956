"""How many reviewed sessions a stable fusion fit needs: fit on random subsets of a labelled set, see the spread.

``calibrate --from-reviews`` fits on whatever reviewers have decided so far. This script takes a labelled set
whose reports are already there (by default the 140 generated sessions and the kept reports the shipped
``models/fusion.json`` was fitted on, see docs/calibration.md), draws ``--draws`` random subsets of each size
with the full set's genuine share, fits each with the shipped settings, and reports per size: the spread of the
weights and the intercept, of the bands, the out-of-fold AUC the fit reports about itself, and the AUC of the
subset's fitted model on all sessions (how good the parameters are, not how good the fit says it is).

Prints a Markdown table (docs/calibration.md, "Calibrating on reviewers' verdicts")::

    .venv/bin/python evaluation/review_fit_stability.py [--synth build/synth]
        [--reports build/calibration-reports-14b] [--draws 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from interview_guard.fusion.fit import fit_fusion
from interview_guard.fusion.model import FusionModel
from interview_guard.pipeline.calibrate import _report_row, _table, read_label
from interview_guard.signals.metrics import roc_auc

REPO = Path(__file__).resolve().parents[1]
SHIPPED: dict = {"prior": 0.1, "keep_base": ("face_occlusion", "face_identity", "face_artifacts"), "folds": 5}


def load_table(synth: Path, reports: Path):
    rows, names, excluded = [], [], []
    for d in sorted(p for p in synth.iterdir() if (p / "label.json").is_file()):
        y, kinds = read_label(d / "label.json")
        row = _report_row(reports / "sessions" / f"{d.name}.json", d.name, y, kinds, names, excluded)
        if row is not None:
            rows.append(row)
    return _table(rows, names, excluded, str(synth))


def risks(model: FusionModel, table) -> np.ndarray:
    """The fused risk (before any decisive rule) of every session of ``table`` under ``model``."""
    z = np.full(table.n, model.intercept)
    for j, name in enumerate(table.analyzers):
        s, c = table.scores[:, j], table.confidences[:, j]
        ok = np.isfinite(s)
        w = model.weights.get(name, model.default_weight)
        c0 = model.centres.get(name, model.default_centre)
        z[ok] += w * np.clip(c[ok], 0, 1) * (s[ok] - c0)
    return 1.0 / (1.0 + np.exp(-z))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synth", type=Path, default=REPO / "build" / "synth")
    ap.add_argument("--reports", type=Path, default=REPO / "build" / "calibration-reports-14b")
    ap.add_argument("--base", type=Path, default=REPO / "models" / "fusion-prior.json")
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--sizes", default="20,30,40,60,80,100,140")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shrink", choices=("zero", "base"), default="zero", help="calibrate's --shrink")
    args = ap.parse_args(argv)
    SHIPPED["shrink"] = args.shrink
    t0 = time.perf_counter()
    table = load_table(args.synth, args.reports)
    base = FusionModel.load(args.base)
    if args.shrink == "base":  # the prior the weights shrink towards: the shipped fit itself
        base = FusionModel.load(REPO / "models" / "fusion.json")
    full = fit_fusion(table, base=base, **SHIPPED)
    full_model = full.fusion_model()
    fitted_names = [a for a in table.analyzers if a not in SHIPPED["keep_base"]]
    print(f"{table.n} labelled sessions ({int((table.y == 0).sum())} genuine); analyzers fitted: {fitted_names}")
    print(f"full fit: out-of-fold AUC {full.metrics['fused']['auc']}, bands {full.medium:.3f} / {full.high:.3f}")
    print()
    head = "| reviewed sessions (genuine) | fits | out-of-fold AUC (its own report) | AUC on all 140 | intercept |"
    head += " " + " | ".join(f"w {a}" for a in fitted_names) + " | medium band | high band |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    rng = np.random.default_rng(args.seed)
    g_idx, m_idx = np.flatnonzero(table.y == 0), np.flatnonzero(table.y == 1)
    share = len(g_idx) / table.n
    for n in (int(x) for x in args.sizes.split(",")):
        n_g = max(2, round(n * share))
        n_m = n - n_g
        out: dict[str, list[float]] = {"oof": [], "all": [], "b": [], "med": [], "high": []}
        ws: dict[str, list[float]] = {a: [] for a in fitted_names}
        failed = 0
        draws = 1 if n >= table.n else args.draws
        for _ in range(draws):
            pick = np.zeros(table.n, bool)
            pick[rng.choice(g_idx, n_g, replace=False)] = True
            pick[rng.choice(m_idx, n_m, replace=False)] = True
            try:
                res = fit_fusion(table.subset(pick), base=base, **SHIPPED)
            except Exception as exc:  # a subset where no fit is possible (too few of a class in a fold)
                failed += 1
                print(f"  n={n}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                continue
            model = res.fusion_model()
            out["oof"].append(float(res.metrics["fused"]["auc"] or np.nan))
            out["all"].append(float(roc_auc(labels=table.y, scores=risks(model, table))))
            out["b"].append(model.intercept)
            out["med"].append(model.medium)
            out["high"].append(model.high)
            for a in fitted_names:
                ws[a].append(model.weights.get(a, np.nan))

        def ms(v: list[float], nd: int = 2) -> str:
            return f"{np.nanmean(v):.{nd}f} ± {np.nanstd(v):.{nd}f}" if v else "-"

        cells = [f"{n} ({n_g})", f"{draws - failed}", ms(out["oof"]), ms(out["all"]), ms(out["b"])]
        cells += [ms(ws[a]) for a in fitted_names] + [ms(out["med"]), ms(out["high"])]
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"(full-set model on all sessions: AUC {roc_auc(labels=table.y, scores=risks(full_model, table)):.3f}; "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
