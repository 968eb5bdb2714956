"""Calibration orchestration: labelled sessions -> batch scan (resumable) -> score table.

::

    collect_scores(root)   label.json of each session + run_batch into a reports dir -> ScoreTable
    collect_review_scores(data_dir)
                           the verdicts of a server's reviewers (``serve``'s jobs.sqlite3) and the
                           reports of those scans -> ScoreTable (fraud = manipulated, genuine =
                           genuine, unsure left out)
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
from interview_guard.pipeline.executors import Executor
from interview_guard.progress import ProgressHook

__all__ = ["BAD_LABEL", "LABELS", "REVIEW_LABELS", "read_label", "collect_scores", "collect_review_scores"]

LABELS = {"genuine": 0, "manipulated": 1}
#: A reviewer's verdict as a label; ``unsure`` is none.
REVIEW_LABELS = {"genuine": 0, "fraud": 1}
#: How the reason of a session excluded for its unusable ``label.json`` starts (the rest is the error).
BAD_LABEL = "bad label.json: "

_Row = tuple[str, int, tuple[str, ...], dict[str, tuple[float, float]]]


def read_label(path: str | Path) -> tuple[int, tuple[str, ...]]:
    """Read a ``label.json``: (y, manipulation kinds).

    Raises
    ------
    InputError
        One line naming the file: unreadable, not UTF-8, not JSON, no valid ``label``, ``manipulations``
        not a list of objects, a ``kind`` that is not text.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"label file unreadable ({exc.strerror or type(exc).__name__})", path=p) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"label file is not UTF-8 text (byte {exc.start})", path=p) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"label file is not valid JSON ({exc.msg}, line {exc.lineno})", path=p) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, nesting deeper than Python recurses
        raise InputError(f"label file is not acceptable JSON ({type(exc).__name__})", path=p) from None
    if not isinstance(data, dict) or data.get("label") not in LABELS:
        got = data.get("label") if isinstance(data, dict) else data
        raise InputError(f"'label' must be 'genuine' or 'manipulated', got {repr(got)[:60]}", path=p)
    found = data.get("manipulations") or []
    if not isinstance(found, list):
        raise InputError("'manipulations' must be a list of objects with a 'kind'", path=p)
    kinds: list[str] = []
    for i, m in enumerate(found):  # a kind that is not text would be counted under a made-up name
        if not isinstance(m, dict):
            raise InputError(f"'manipulations[{i}]' must be an object with a 'kind', got {repr(m)[:60]}", path=p)
        kind = m.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise InputError(f"'manipulations[{i}].kind' must be text, got {repr(kind)[:60]}", path=p)
        if kind:
            kinds.append(kind)
    return LABELS[data["label"]], tuple(dict.fromkeys(kinds))


def collect_scores(
    root: str | Path,
    *,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    progress: ProgressHook | None = None,
    fusion_path: str | Path | None = None,
    executor: Executor | None = None,
    min_per_class: int = 0,
) -> ScoreTable:
    """Scan the labelled sessions under ``root`` and tabulate analyzer scores.

    Sessions are directories holding session files *and* ``label.json``
    (found with :func:`interview_guard.io.session.discover_sessions`; unlabelled
    ones are listed in ``excluded``). The scan is :func:`interview_guard.pipeline.batch.run_batch`
    into ``reports_dir``: a re-run with the same ``reports_dir`` reuses every
    finished report whose input files are unchanged. With ``reports_dir=None``
    a temporary directory is used and removed afterwards. ``executor`` (e.g. a Dask
    cluster, :func:`interview_guard.pipeline.executors.make_executor`) runs the scans
    instead of ``jobs`` local processes, as for ``batch``.

    ``min_per_class``: fewer usable labels of either class raise before anything is scanned (the fit needs 2).

    A session whose ``label.json`` cannot be used (not UTF-8, not JSON, no valid ``label``) is
    excluded, its reason the one-line :func:`read_label` error naming the file; the others are fitted.

    Raises
    ------
    InputError
        No usable labelled session under ``root``.
    """
    from interview_guard.io.session import discover_sessions
    from interview_guard.pipeline.batch import run_batch

    sessions = discover_sessions(root)
    labels: dict[str, tuple[int, tuple[str, ...]]] = {}
    excluded: list[tuple[str, str]] = []
    for sid, path in sessions:
        lp = Path(path) / "label.json" if Path(path).is_dir() else None
        if lp is None or not (lp.is_file() or lp.is_dir()):  # a label.json directory is a bad label, not none
            excluded.append((sid, "no label.json"))
            continue
        try:
            labels[sid] = read_label(lp)
        except InputError as exc:  # one bad label.json costs its session, not the run
            excluded.append((sid, f"{BAD_LABEL}{exc}"))
    if not labels:
        bad = [why for _, why in excluded if why.startswith(BAD_LABEL)]
        if bad:
            raise InputError(f"no usable labelled sessions: {len(bad)} bad label.json (first: {bad[0]})", path=root)
        raise InputError("no labelled sessions (session directories with a label.json)", path=root)
    n1 = sum(y for y, _ in labels.values())
    n0 = len(labels) - n1
    if min(n0, n1) < min_per_class:  # before the scans: they cannot make up for missing labels
        need = (
            f"all {len(labels)} labelled sessions are {'genuine' if n1 == 0 else 'manipulated'}; calibration needs "
            "both genuine and manipulated sessions"
            if min(n0, n1) == 0
            else f"need at least {min_per_class} genuine and {min_per_class} manipulated labelled sessions "
            f"(have {n0} genuine, {n1} manipulated)"
        )
        raise InputError(f"{need}; nothing was scanned", path=root)

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
            executor=executor,
        )
        rows: list[_Row] = []
        names: list[str] = []
        for sid, (y, kinds) in sorted(labels.items()):
            row = _report_row(Path(reports_dir) / "sessions" / f"{sid}.json", sid, y, kinds, names, excluded)
            if row is not None:
                rows.append(row)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return _table(rows, names, excluded, str(root))


def _report_row(
    path: Path, sid: str, y: int, kinds: tuple[str, ...], names: list[str], excluded: list[tuple[str, str]]
) -> _Row | None:
    """One session's analyzer scores from its report (None, and a line in ``excluded``, when unusable)."""
    from interview_guard.report.model import read_report

    try:
        rep = read_report(path)
    except InterviewGuardError as exc:
        excluded.append((sid, f"report unreadable: {exc}"))
        return None
    if rep.status != "ok":
        excluded.append((sid, f"scan failed: {rep.error}"))
        return None
    vals: dict[str, tuple[float, float]] = {}
    for name, r in rep.analyzers.items():
        if name not in names:
            names.append(name)
        st = getattr(r.status, "value", r.status)
        if st == "ok" and r.score is not None:
            vals[name] = (float(r.score), min(max(float(r.confidence), 0.0), 1.0))
    return sid, y, kinds, vals


def _table(rows: list[_Row], names: list[str], excluded: list[tuple[str, str]], root: str) -> ScoreTable:
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
        root=root,
    )


def _report_session_id(path: Path) -> str | None:
    """The ``session.id`` a report names (without parsing the whole report model), or None."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    sid = data.get("session", {}).get("id") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) and sid else None


def collect_review_scores(data_dir: str | Path) -> ScoreTable:
    """The analyzer scores of the scans reviewers gave a verdict on, in ``serve``'s data directory.

    Reads ``DATA_DIR/jobs.sqlite3`` (read-only; schema 2, see ``web/jobs.py``): every finished scan with
    a verdict; ``fraud`` is labelled manipulated, ``genuine`` genuine, ``unsure`` is left out (listed in
    ``excluded``, as are verdicts on scans without a readable report). The scores are the ones in each
    scan's ``report.json`` (the analyzers' scores do not depend on the fusion parameters the server
    used). Sessions are named by the report's session id (the uploaded file's name), with the scan id
    added when two scans share one, and ordered by that name, as :func:`collect_scores` orders them.

    Raises
    ------
    InputError
        No ``jobs.sqlite3``, a database without verdicts (written before reviews existed), or no scan
        with a ``genuine`` or ``fraud`` verdict.
    """
    import sqlite3

    root = Path(data_dir)
    db_path = root / "jobs.sqlite3"
    if not db_path.is_file():
        raise InputError("no jobs.sqlite3 here: not a data directory of 'interview-guard serve'", path=root)
    try:
        db = sqlite3.connect(f"file:{db_path.resolve()}?mode=ro", uri=True, timeout=30.0)
        try:
            cols = {r[1] for r in db.execute("PRAGMA table_info(jobs)").fetchall()}
            if "verdict" not in cols:
                raise InputError("the jobs database has no verdicts (start 'serve' once to upgrade it)", path=db_path)
            found = db.execute(
                "SELECT id, status, report_path, verdict FROM jobs WHERE verdict IS NOT NULL ORDER BY created, id"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise InputError(f"cannot read the jobs database ({exc})", path=db_path) from None
    excluded: list[tuple[str, str]] = []
    picked: list[tuple[str, str, int, Path]] = []  # (report session id, job id, y, report path)
    for job_id, status, report_path, verdict in found:
        if verdict not in REVIEW_LABELS:
            excluded.append((str(job_id), f"verdict {verdict}"))
            continue
        rp = root / str(report_path) if report_path else None
        if status != "done" or rp is None or not rp.is_file():
            excluded.append((str(job_id), f"no report (the scan is {status})"))
            continue
        picked.append((_report_session_id(rp) or str(job_id), str(job_id), REVIEW_LABELS[verdict], rp))
    seen: dict[str, int] = {}
    for sid, _, _, _ in picked:
        seen[sid] = seen.get(sid, 0) + 1
    named = sorted(((f"{sid}~{jid[:8]}" if seen[sid] > 1 else sid), y, rp) for sid, jid, y, rp in picked)
    rows: list[_Row] = []
    names: list[str] = []
    for sid, y, rp in named:
        row = _report_row(rp, sid, y, (), names, excluded)
        if row is not None:
            rows.append(row)
    if not rows:
        raise InputError("no scan with a 'genuine' or 'fraud' verdict and a report", path=root)
    return _table(rows, names, excluded, str(root))
