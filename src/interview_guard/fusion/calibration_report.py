"""The calibration's text report and reliability plot.

:func:`format_text` is what ``interview-guard calibrate`` prints;
:func:`reliability_png` draws the reliability diagram (matplotlib, imported
inside the function only, so importing this module stays light).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from interview_guard.fusion.fit_metrics import MEDIUM_CLAMP

if TYPE_CHECKING:
    from interview_guard.fusion.calibration_result import CalibrationResult

__all__ = ["format_text", "reliability_png"]


def reliability_png(result: CalibrationResult) -> bytes:
    """The reliability diagram of ``result`` as PNG bytes (matplotlib, Agg canvas; imported here only)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bins = result.metrics["reliability"]["bins"]
    fig = Figure(figsize=(5.5, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    ax, hx = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    pts = [(b["mean_risk"], b["observed_rate"], b["n"]) for b in bins if b["n"]]
    if pts:
        xs, ys, ns = zip(*pts)
        ax.plot(xs, ys, color="C0", lw=1)
        ax.scatter(
            xs,
            ys,
            s=[20 + 180 * n / max(ns) for n in ns],
            color="C0",
            zorder=3,
            label="out-of-fold bins (size = count)",
        )
        for x_, y_, n_ in pts:
            ax.annotate(str(n_), (x_, y_), textcoords="offset points", xytext=(5, -10), fontsize=7)
    for v, name in ((result.medium, "medium"), (result.high, "high")):
        ax.axvline(v, color="C3", lw=0.8, ls=":")
        ax.text(v, 0.02, f" {name}", color="C3", fontsize=8, rotation=90, va="bottom")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("observed manipulated rate")
    f = result.metrics["fused"]
    ax.set_title(f"Fusion reliability ({result.settings['folds']}-fold out-of-fold), AUC {f['auc']}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    y = result.table.y
    edges = np.linspace(0, 1, len(bins) + 1)
    hx.hist(
        [result.oof_risk[y == 0], result.oof_risk[y == 1]],
        bins=edges,
        stacked=True,
        color=["C2", "C3"],
        label=["genuine", "manipulated"],
    )
    hx.set_xlabel("predicted risk")
    hx.set_ylabel("sessions")
    hx.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def format_text(result: CalibrationResult) -> str:
    """The text report of ``result``: sessions, settings, per-analyzer and fused metrics, bands, reliability."""
    t = result.table
    m = result.metrics
    s = result.settings
    L: list[str] = []
    L.append(f"Calibration of the fusion on {t.root or 'a score table'}")
    L.append(
        f"  sessions: {t.n} used ({int((t.y == 0).sum())} genuine, {int((t.y == 1).sum())} manipulated), "
        f"{len(t.excluded)} excluded"
    )
    for sid, why in t.excluded[:20]:
        L.append(f"    excluded {sid}: {why}")
    if len(t.excluded) > 20:
        L.append(f"    ... and {len(t.excluded) - 20} more (see the .report.json)")
    L.append(
        f"  model: {s['folds']}-fold stratified CV (seed {s['seed']}), L2 {s['l2']}, classes weighted equally, "
        f"risk stated at prior {s.get('prior', 0.5):g}, weights shrunk towards {s.get('shrink', 'zero')}, "
        f"target FPR {s['fpr']}"
    )
    L.append(f"  version: {result.version}")
    L.append("")
    hdr = (
        f"  {'':24s} {'n':>5s} {'gen':>5s} {'man':>5s} {'AUC':>6s} {'EER':>6s} {'EER thr':>8s} "
        f"{'thr@FPR':>8s} {'TPR':>6s} {'weight':>7s} {'centre':>7s}"
    )
    L.append(hdr)

    def f(v: Any, w: int, nd: int = 3) -> str:
        return f"{'-':>{w}s}" if v is None else f"{v:>{w}.{nd}f}"

    for name, a in m["analyzers"].items():
        L.append(
            f"  {name:24s} {a['n']:5d} {a['n_genuine']:5d} {a['n_manipulated']:5d} {f(a['auc'], 6)} "
            f"{f(a['eer'], 6)} {f(a['eer_threshold'], 8)} {f(a['threshold_at_fpr'], 8)} "
            f"{f(a['tpr_at_fpr'], 6)} {result.weights[name]:7.3f} {result.centres[name]:7.3f}"
            + ("" if a["fitted"] else "  (kept at base)" if a.get("kept_base") else "  (never ran: prior kept)")
        )
    fu = m["fused"]
    L.append(
        f"  {'FUSED (out-of-fold)':24s} {fu['n']:5d} {fu['n_genuine']:5d} {fu['n_manipulated']:5d} "
        f"{f(fu['auc'], 6)} {f(fu['eer'], 6)} {f(fu['eer_threshold'], 8)} {f(fu['threshold_at_fpr'], 8)} "
        f"{f(fu['tpr_at_fpr'], 6)}"
    )
    L.append(
        f"  intercept {result.intercept:.3f}; in-sample fused AUC {m['in_sample']['auc']}; "
        f"out-of-fold Brier {m['reliability']['brier']}, log-loss {m['reliability']['log_loss']}"
    )
    if m["per_kind"]:
        L.append("")
        L.append("  fused out-of-fold AUC per manipulation kind (against all genuine):")
        for k, v in m["per_kind"].items():
            L.append(
                f"    {k:22s} n={v['n_manipulated']:4d}  AUC {f(v['auc'], 6).strip()}  "
                f"TPR at medium band {f(v['tpr_at_medium'], 6).strip()}"
            )
        L.append("  each analyzer's own AUC per manipulation kind (against the genuine sessions where it ran):")
        names = list(t.analyzers)
        L.append("    " + f"{'':22s}" + "".join(f"{n[:18]:>20s}" for n in names))
        for k, v in m["per_kind"].items():
            cells = "".join(f"{f(v.get('analyzer_auc', {}).get(n, {}).get('auc'), 6).strip():>20s}" for n in names)
            L.append(f"    {k:22s}{cells}")
    L.append("")
    b = m["bands"]
    L.append(
        f"  bands: medium >= {result.medium:.3f} (out-of-fold threshold at FPR {s['fpr']}: "
        f"{f(b['raw_medium'], 5).strip()}, clamped to [{MEDIUM_CLAMP[0]}, {MEDIUM_CLAMP[1]}]); "
        f"high >= {result.high:.3f} (at FPR {s['fpr'] / 5:g}: {f(b['raw_high'], 5).strip()})"
    )
    L.append(
        f"  at these bands (out-of-fold): medium-or-high flags {f(b['medium_rates']['tpr'], 5).strip()} of "
        f"manipulated, {f(b['medium_rates']['fpr'], 5).strip()} of genuine; high flags "
        f"{f(b['high_rates']['tpr'], 5).strip()} / {f(b['high_rates']['fpr'], 5).strip()}"
    )
    L.append("")
    L.append("  reliability (out-of-fold):   risk bin     n   mean risk  observed")
    for r in m["reliability"]["bins"]:
        L.append(
            f"    {'':24s} {r['lo']:.1f}-{r['hi']:.1f} {r['n']:5d}   {f(r['mean_risk'], 8)}  {f(r['observed_rate'], 8)}"
        )
    for w in m["warnings"]:
        L.append(f"  warning: {w}")
    return "\n".join(L) + "\n"
