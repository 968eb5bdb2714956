"""The CLI's bad-input corpus (tests/corpus_cli.py): documented exit code, one line naming the file, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_cli import CASES, NOBODY, release, summary


def _drop_privileges() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _as_nobody() -> tuple[list[str], object]:
    """A command prefix and a preexec_fn that run the CLI as uid/gid 65534 (only needed as root)."""
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"], None
    return [], _drop_privileges


def run_case(made: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, **made.get("env", {})}
    prefix, preexec = _as_nobody() if made.get("unprivileged") and os.geteuid() == 0 else ([], None)
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "interview_guard.cli", *made["argv"]],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(made.get("area", tmp_path)),
            preexec_fn=preexec,  # type: ignore[arg-type]
            timeout=300,
        )
    except PermissionError as exc:  # the interpreter itself is out of the other user's reach
        pytest.skip(f"cannot run Python as uid {NOBODY}: {exc}")
    if prefix and proc.returncode != 0 and "Permission denied" in proc.stderr and "interview-guard" not in proc.stderr:
        pytest.skip(f"cannot run Python as uid {NOBODY}: {proc.stderr.strip()[:200]}")
    return proc


def _params() -> list:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(reason=f"needs {case['needs']}", strict=False)] if case.get("needs") else []
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_corpus_case(case, tmp_path):
    made = case["make"](tmp_path)
    try:
        check_case(case, made, run_case(made, tmp_path))
    finally:
        release(made.get("area", tmp_path))


def check_case(case: dict, made: dict, proc: subprocess.CompletedProcess) -> None:
    """What every case must show: its exit code, one error line naming the file, no traceback, no record lost."""
    expect = case["expect"]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode == expect["exit"], (proc.returncode, proc.stderr)
    err = proc.stderr.strip().splitlines()
    if expect["exit"] == 1:
        assert proc.stdout == ""
        assert len(err) == 1 and err[0].startswith("interview-guard: error: "), proc.stderr
        for w in expect.get("words", []):
            assert w in err[0], (w, err[0])
    if "rows" in expect:
        rows = summary(Path(made["argv"][made["argv"].index("--out") + 1]))
        assert len(rows) == expect["rows"], rows
        assert len({r["session"] for r in rows}) == len(rows)
        if expect["exit"] == 3:
            failed = [r for r in rows if r["status"] != "ok"]
            assert failed, rows
            for w in expect.get("words", []):
                assert any(w in r["error"] for r in failed), (w, failed)
            assert "failed" in err[-1]
    if "check" in made:
        made["check"](proc)


def test_corpus_is_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    classes = {"batch-id", "unreadable", "input-error", "smaller"}
    for c in CASES:
        assert c["cls"] in classes and callable(c["make"]) and "exit" in c["expect"]
