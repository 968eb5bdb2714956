"""Calibration orchestration: labelled sessions -> batch scan (resumable) -> score table.

::

    collect_scores(root)   label.json of each session + run_batch into a reports dir -> ScoreTable
    fit_fusion(table)      interview_guard.fusion.fit (pure numpy) -> CalibrationResult
    result.write(path)     fusion.json, path.report.json, path.reliability.png

This module reads the files (``label.json``, the scan reports) and runs the
batch; the fit itself is :func:`interview_guard.fusion.fit.fit_fusion`
(``docs/calibration.md``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from interview_guard.errors import InputError, InterviewGuardError
from interview_guard.fusion.score_table import ScoreTable
from interview_guard.progress import ProgressHook

__all__ = ["LABELS", "read_label", "collect_scores"]

LABELS = {"genuine": 0, "manipulated": 1}


def read_label(path: str | Path) -> tuple[int, tuple[str, ...]]:
    """Read a ``label.json``: (y, manipulation kinds)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError:
        raise InputError("label file unreadable", path=p) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"label file is not valid JSON ({exc.msg}, line {exc.lineno})", path=p) from None
    if not isinstance(data, dict) or data.get("label") not in LABELS:
        got = data.get("label") if isinstance(data, dict) else data
        raise InputError(f"'label' must be 'genuine' or 'manipulated', got {got!r}", path=p)
    kinds: list[str] = []
    for m in data.get("manipulations") or []:
        if isinstance(m, dict) and m.get("kind"):
            kinds.append(str(m["kind"]))
    return LABELS[data["label"]], tuple(dict.fromkeys(kinds))


def collect_scores(
    root: str | Path,
    *,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    progress: ProgressHook | None = None,
    fusion_path: str | Path | None = None,
) -> ScoreTable:
    """Scan the labelled sessions under ``root`` and tabulate analyzer scores.

    Sessions are directories holding session files *and* ``label.json``
    (found with :func:`interview_guard.io.session.discover_sessions`; unlabelled
    ones are listed in ``excluded``). The scan is :func:`interview_guard.pipeline.batch.run_batch`
    into ``reports_dir``: a re-run with the same ``reports_dir`` reuses every
    finished report whose input files are unchanged. With ``reports_dir=None``
    a temporary directory is used and removed afterwards.

    Raises
    ------
    InputError
        No labelled session under ``root``, a malformed ``label.json``.
    """
    from interview_guard.io.session import discover_sessions
    from interview_guard.pipeline.batch import run_batch
    from interview_guard.report.model import read_report

    sessions = discover_sessions(root)
    labels: dict[str, tuple[int, tuple[str, ...]]] = {}
    excluded: list[tuple[str, str]] = []
    for sid, path in sessions:
        lp = Path(path) / "label.json" if Path(path).is_dir() else None
        if lp is None or not lp.is_file():
            excluded.append((sid, "no label.json"))
            continue
        labels[sid] = read_label(lp)
    if not labels:
        raise InputError("no labelled sessions (session directories with a label.json)", path=root)

    tmp = None
    if reports_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ig-calibrate-")
        reports_dir = tmp.name
    try:
        run_batch(
            root,
            reports_dir,
            jobs=jobs,
            cache_dir=None if cache_dir is None else str(cache_dir),
            progress=progress,
            fusion_path=None if fusion_path is None else str(fusion_path),
        )
        rows: list[tuple[str, int, tuple[str, ...], dict[str, tuple[float, float]]]] = []
        names: list[str] = []
        for sid, (y, kinds) in sorted(labels.items()):
            rp = Path(reports_dir) / "sessions" / f"{sid}.json"
            try:
                rep = read_report(rp)
            except InterviewGuardError as exc:
                excluded.append((sid, f"report unreadable: {exc}"))
                continue
            if rep.status != "ok":
                excluded.append((sid, f"scan failed: {rep.error}"))
                continue
            vals: dict[str, tuple[float, float]] = {}
            for name, r in rep.analyzers.items():
                if name not in names:
                    names.append(name)
                st = getattr(r.status, "value", r.status)
                if st == "ok" and r.score is not None:
                    vals[name] = (float(r.score), min(max(float(r.confidence), 0.0), 1.0))
            rows.append((sid, y, kinds, vals))
    finally:
        if tmp is not None:
            tmp.cleanup()
    names = sorted(names)
    n, k = len(rows), len(names)
    scores = np.full((n, k), np.nan)
    conf = np.full((n, k), np.nan)
    for i, (_, _, _, vals) in enumerate(rows):
        for j, name in enumerate(names):
            if name in vals:
                scores[i, j], conf[i, j] = vals[name]
    return ScoreTable(
        session_ids=[r[0] for r in rows],
        y=np.array([r[1] for r in rows], dtype=int),
        analyzers=tuple(names),
        scores=scores,
        confidences=conf,
        kinds=[r[2] for r in rows],
        excluded=sorted(excluded),
        root=str(root),
    )
