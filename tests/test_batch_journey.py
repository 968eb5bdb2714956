"""The security team's batch journey: sessions that go away, two runs on one output, killed runs, the summary's
candidate id, workers that die, and a run on part of an earlier batch's input."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

from click.testing import CliRunner

from conftest import SAMPLES, typing_events, write_jsonl
from interview_guard.cli import main
from interview_guard.pipeline.batch import run_batch

PAIR = ("typing_genuine_a", "typing_slow_path_a")  # one typist's log under two candidate ids: they match


def _root(tmp_path, names=PAIR, name="root"):
    root = tmp_path / name
    for n in names:
        shutil.copytree(SAMPLES / n, root / n)
    return root


def _matches(out_or_index) -> list[dict]:
    r = CliRunner().invoke(main, ["matches", str(out_or_index)])
    assert r.exit_code == 0, r.output
    return list(csv.DictReader(r.stdout.splitlines()))


def _summary(out) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ------------------------------------------------------------------ 4. the candidate id in the summary


def test_summary_has_the_candidate_id_as_its_last_column(tmp_path):
    root = _root(tmp_path, PAIR)
    write_jsonl(root / "no_meta" / "keystrokes.jsonl", typing_events(50))
    write_jsonl(root / "formula" / "keystrokes.jsonl", typing_events(50, seed=3))
    (root / "formula" / "session.json").write_text(json.dumps({"candidate_id": "=HYPERLINK(1)"}))
    out = tmp_path / "out"
    run_batch(root, out)
    rows = {r["session"]: r for r in _summary(out)}
    header = next(csv.reader(open(out / "summary.csv", encoding="utf-8")))
    assert header[-1] == "candidate_id" and header[:-1] == [
        "rank",
        "session",
        "path",
        "risk_score",
        "band",
        "status",
        "error",
        "duration_s",
        "modalities",
        "report",
    ]
    assert rows["typing_genuine_a"]["candidate_id"] == "sample-typing-a"
    assert rows["typing_slow_path_a"]["candidate_id"] == "sample-typing-slow-path-a"
    assert rows["no_meta"]["candidate_id"] == "" and rows["formula"]["candidate_id"] == "'=HYPERLINK(1)"
    res = run_batch(root, out)  # the rows of sessions found done carry it too
    assert res.skipped == 4 and {r["session"]: r["candidate_id"] for r in _summary(out)} == {
        s: r["candidate_id"] for s, r in rows.items()
    }
