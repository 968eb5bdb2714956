"""The bad-input corpus as a whole (#12): every case well formed, and the session cases through one batch.

Each surface runs its own corpus case by case: ``test_bounded_work.py`` (``corpus_bounds``: CLI scans under
memory and CPU limits), ``test_cli_bad_inputs.py`` (``corpus_cli``: CLI and batch), ``test_web_bad_inputs.py``
(``corpus_web``: the upload server, security headers included). Here the session cases of ``corpus_bounds`` go
through one ``batch`` together with a good session: one record per session, the failures named, and the good
session's result the same as when it is scanned alone (nothing lost, nothing changed by its neighbours).
"""

from __future__ import annotations

import csv
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES

CORPORA = ("corpus_bounds", "corpus_cli", "corpus_web")
CLASSES = {
    "relayed-log",
    "batch-id",
    "unreadable",
    "bounded-work",
    "http-400",
    "input-error",
    "server-process",
    "absence",
    "smaller",
}


def _cases(name: str) -> list[dict]:
    try:
        return list(importlib.import_module(name).CASES)
    except ModuleNotFoundError:
        return []


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_case_is_well_formed(corpus):
    cases = _cases(corpus)
    assert cases, f"{corpus} has no cases"
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "case ids repeat"
    for c in cases:
        assert c["cls"] in CLASSES, (c["id"], c["cls"])
        assert callable(c["make"]) and isinstance(c.get("expect"), dict), c["id"]


@pytest.mark.video
def test_bounded_session_cases_through_one_batch_lose_nothing(tmp_path):
    from corpus_bounds import CASES

    root = tmp_path / "root"
    root.mkdir()
    expected: dict[str, dict] = {}
    for case in CASES:
        area = tmp_path / "made" / case["id"]
        area.mkdir(parents=True)
        made = case["make"](area)
        src = Path(made["path"])
        if not src.is_dir():  # single-file cases: a session of their own, named after the case
            dst = root / case["id"]
            dst.mkdir()
            shutil.copy(src, dst / src.name)
        else:
            shutil.copytree(src, root / case["id"])
        expected[case["id"]] = case["expect"]
    shutil.copytree(SAMPLES / "typing_genuine_a", root / "zz_good")
    out = tmp_path / "out"
    code = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 * 1024**3, 6 * 1024**3))
from interview_guard.cli import main
sys.argv = ["interview-guard", "batch", {str(root)!r}, "--out", {str(out)!r}, "-j", "2", "-q"]
main()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1200)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    any_error = any(e["exit"] != 0 for e in expected.values())
    assert proc.returncode == (3 if any_error else 0), proc.stderr[-3000:]
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["session"]: r for r in csv.DictReader(fh)}
    assert len(rows) == len(expected) + 1, sorted(rows)
    for cid, exp in expected.items():
        row = next(r for sid, r in rows.items() if cid in sid)
        if exp["exit"] == 0:
            assert row["status"] == "ok", (cid, row["error"])
        else:
            assert row["status"] == "failed" and row["error"] and "internal error" not in row["error"], (cid, row)
    good = next(r for sid, r in rows.items() if "zz_good" in sid)
    alone = subprocess.run(
        [sys.executable, "-m", "interview_guard.cli", "scan", str(root / "zz_good"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert good["status"] == "ok"
    assert float(good["risk_score"]) == pytest.approx(json.loads(alone.stdout)["risk"]["score"], abs=1e-4)
