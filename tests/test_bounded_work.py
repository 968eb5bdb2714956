"""Work bounded by the data, not by what a field claims (issue #12 item 4).

Windows and arrays scale with the events and the media: a keystroke log with a
gap of 1e11 or 1e12 ms scans ``ok`` in a small, bounded amount of memory and
writes a small report; absurd spans and offsets are clear input errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpus_bounds import CASES
from interview_guard.signals.click_offset import _typing_grid
from interview_guard.signals.clicks import event_xcorr
from interview_guard.signals.windows import event_windows

SRC = Path(__file__).resolve().parents[1] / "src"


# ---------------------------------------------------------------- event_windows
def _check_contiguous(edges: np.ndarray, duration: float) -> None:
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(duration)
    assert np.all(np.diff(edges) >= 0)


def test_event_windows_contiguous_typing_is_the_fixed_grid():
    t = np.arange(0.0, 95.0, 0.5)
    edges, occ = event_windows(duration_s=95.0, window_s=30.0, event_s=t)
    assert edges.tolist() == [0.0, 30.0, 60.0, 90.0, 95.0]
    assert occ.all()


def test_event_windows_merge_empty_runs():
    t = np.r_[np.arange(0.0, 20.0), np.arange(3000.0, 3010.0)]
    edges, occ = event_windows(duration_s=4000.0, window_s=30.0, event_s=t)
    _check_contiguous(edges, 4000.0)
    # occupied [0, 30] and [3000, 3030]; one window between and one after
    assert edges.tolist() == [0.0, 30.0, 3000.0, 3030.0, 4000.0]
    assert occ.tolist() == [True, False, True, False]


@pytest.mark.parametrize("gap_s", [1e8, 1e9, 1e12, 1e15])
def test_event_windows_count_is_bounded_by_the_events(gap_s):
    rng = np.random.default_rng(0)
    t = np.sort(np.r_[rng.uniform(5, 200, 300), gap_s + rng.uniform(0, 100, 300)])
    edges, occ = event_windows(duration_s=float(t[-1]) + 50.0, window_s=30.0, event_s=t)
    _check_contiguous(edges, float(t[-1]) + 50.0)
    assert edges.size - 1 <= 2 * int(occ.sum()) + 1
    assert edges.size - 1 <= 20
    n = np.histogram(t, bins=edges)[0]
    assert n.sum() == t.size and np.all(n[~occ] == 0)


def test_event_windows_degenerate():
    assert event_windows(duration_s=0.0, window_s=30.0, event_s=np.zeros(3))[0].tolist() == [0.0, 0.0]
    assert event_windows(duration_s=float("inf"), window_s=30.0, event_s=np.zeros(3))[0].tolist() == [0.0, 0.0]
    edges, occ = event_windows(duration_s=100.0, window_s=30.0, event_s=np.zeros(0))
    assert edges.tolist() == [0.0, 100.0] and occ.tolist() == [False]
    # events outside [0, duration] count in the first / last window
    edges, occ = event_windows(duration_s=100.0, window_s=30.0, event_s=np.array([-5.0, 1e9]))
    _check_contiguous(edges, 100.0)
    assert occ[0] and occ[-1]


# ------------------------------------------------------- span-sized signal arrays
def _xcorr_dense(a, b, lo, hi, bin_ms=2.0):
    """The counts as the FFT over the whole span gave them (reference)."""
    k_lo, k_hi = int(np.floor(lo / bin_ms)), int(np.ceil(hi / bin_ms))
    t0 = min(a.min(), b.min())
    ia = np.floor((a - t0) / bin_ms + 0.5).astype(np.int64)
    ib = np.floor((b - t0) / bin_ms + 0.5).astype(np.int64)
    d = ib[None, :] - ia[:, None]
    return np.array([np.count_nonzero(d == k) for k in range(k_lo, k_hi + 1)], float)


def test_event_xcorr_closes_long_gaps_without_changing_counts():
    rng = np.random.default_rng(1)
    a = np.sort(np.r_[rng.uniform(0, 20_000, 150), 5e6 + rng.uniform(0, 20_000, 150)])
    b = np.sort(np.r_[a + 37.0 + rng.normal(0, 2, a.size), rng.uniform(0, 5e6, 40)])
    lags, cnt = event_xcorr(a_ms=a, b_ms=b, lo_ms=-500.0, hi_ms=500.0, bin_ms=2.0)
    assert np.array_equal(cnt, _xcorr_dense(a, b, -500.0, 500.0))


def test_event_xcorr_huge_gap_is_cheap():
    rng = np.random.default_rng(2)
    a = np.sort(np.r_[rng.uniform(0, 20_000, 200), 1e12 + rng.uniform(0, 20_000, 200)])
    b = a + 40.0
    lags, cnt = event_xcorr(a_ms=a, b_ms=b, lo_ms=-1000.0, hi_ms=1000.0, bin_ms=2.0)
    assert cnt[np.argmin(np.abs(lags - 40.0))] >= a.size


def test_click_offset_grid_skips_keyless_stretches():
    key = np.r_[np.arange(0.0, 60_000.0, 150.0), 1e12 + np.arange(0.0, 60_000.0, 150.0)]
    g = _typing_grid(key, step_ms=5000.0, half_ms=30_000.0)
    assert g.size < 60
    dense = np.arange(0.0, 60_000.0 + 5000.0, 5000.0)
    assert np.array_equal(g[: dense.size], dense)
    contiguous = np.arange(0.0, 600_000.0, 150.0)
    full = np.arange(contiguous[0], contiguous[-1] + 5000.0, 5000.0)
    assert np.array_equal(_typing_grid(contiguous, step_ms=5000.0, half_ms=30_000.0), full)


# ---------------------------------------------------------- keystroke field bounds
@pytest.mark.parametrize(
    "name, text, words",
    [
        (
            "keystrokes.csv",
            "t,type,key,code,length\n1,down,a,KeyA,\n2,paste,,,1e30\n",
            "'length' = 1e+30 is out of range",
        ),
        ("keystrokes.jsonl", '{"t": 1, "type": "paste", "length": 1e30}\n', "'length' = 1e+30 is out of range"),
        ("keystrokes.jsonl", '{"t": 1, "type": "paste", "length": ' + "9" * 400 + "}\n", "a number of 400 characters"),
        ("keystrokes.jsonl", '{"t": 1e300, "type": "down"}\n', "'t' = 1e+300 ms is out of range"),
        ("keystrokes.csv", "t,type,recv_t\n1,down,-1e20\n", "'recv_t' = -1e+20 ms is out of range"),
        (
            "keystrokes.tsv",
            "PRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE\n1\t2\ta\t1e400\n",
            "KEYCODE must be (finite) numbers",
        ),
        ("keystrokes.tsv", "PRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE\n1e200\t2\ta\t65\n", "out of range"),
    ],
)
def test_absurd_keystroke_values_are_clean_errors(tmp_path, name, text, words):
    from interview_guard.errors import KeystrokeLogError
    from interview_guard.io.keystroke_log import read_keystroke_log

    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(KeystrokeLogError) as ei:
        read_keystroke_log(p)
    msg = str(ei.value)
    assert str(p) in msg and "line " in msg and words in msg and "\n" not in msg


# ------------------------------------------------------ the corpus through the CLI
def run_limited(args: list[str], *, mem_mb: int, cpu_s: int) -> tuple[int, str, str, dict[str, float]]:
    """Run ``args`` under RLIMIT_AS / RLIMIT_CPU; exit code, stdout, stderr and the measured cost."""
    import os
    import resource
    import subprocess
    import sys
    import tempfile
    import time

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))

    env = dict(os.environ, PYTHONPATH=str(SRC))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, preexec_fn=limits, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = code = os.waitstatus_to_exitcode(status)
        cost = {
            "wall_s": time.monotonic() - t0,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024,
        }
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(), err.read().decode(), cost


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case_through_the_cli(case, tmp_path):
    made = case["make"](tmp_path)
    exp = case["expect"]
    report = tmp_path / "report.json"
    code, _, err, cost = run_limited(
        ["-m", "interview_guard.cli", "scan", made["path"], "--format", "json", "-o", str(report), "-q"],
        mem_mb=exp["mem_mb"],
        cpu_s=exp["cpu_s"],
    )
    print(case["id"], {k: round(v, 2) for k, v in cost.items()})
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    assert code == exp["exit"], err[-2000:]
    if code != 0:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert made["names"] in lines[0]
        for w in exp.get("words", []):
            assert w in lines[0]
        assert not report.exists()
        return
    size = report.stat().st_size
    assert size <= exp["max_report_bytes"]
    r = json.loads(report.read_text(encoding="utf-8"))
    assert r["status"] == "ok"
    assert r["analyzers"]["keystroke_relay"]["status"] == "ok"
    for name, a in r["analyzers"].items():
        assert len(a["windows"]) <= exp["max_windows"], name
        ends = [(w["start_s"], w["end_s"]) for w in a["windows"]]
        assert all(ends[i][1] == ends[i + 1][0] for i in range(len(ends) - 1)), name  # contiguous
    for w in exp.get("words", []):
        assert any(w in x for x in r["warnings"]), r["warnings"]
    for name, status in exp.get("analyzers", {}).items():
        assert r["analyzers"][name]["status"] == status, (name, r["analyzers"][name]["reason"])


# ---------------------------------------------------------------- report size bound
def test_report_size_bound_trims_with_a_warning():
    from interview_guard.analyzers.base import AnalyzerResult, Evidence, Status, WindowScore
    from interview_guard.report import model as rm

    ev = tuple(Evidence("x", "k", float(i), float(i) + 1.0, (i % 997) / 997.0, f"item {i}") for i in range(5000))
    wins = tuple(
        WindowScore(30.0 * i, 30.0 * (i + 1), None if i % 3 else (i % 101) / 100.0, i % 3) for i in range(100_001)
    )
    res = AnalyzerResult("x", Status.OK, 0.5, 1.0, evidence=ev, windows=wins)
    r = rm.Report(
        session=rm.SessionInfo(id="s", path="p", duration_s=wins[-1].end_s),
        analyzers={"x": res},
        warnings=[f"w{i}" for i in range(1000)] + ["y" * 100_000],
    )
    a = r.analyzers["x"]
    assert len(a.evidence) == rm.MAX_EVIDENCE_PER_ANALYZER
    assert (
        min(e.score for e in a.evidence)
        >= sorted((e.score for e in ev), reverse=True)[rm.MAX_EVIDENCE_PER_ANALYZER - 1]
    )
    assert len(a.windows) <= rm.MAX_WINDOWS_PER_ANALYZER
    assert a.windows[0].start_s == 0.0 and a.windows[-1].end_s == wins[-1].end_s
    assert all(a.windows[i].end_s == a.windows[i + 1].start_s for i in range(len(a.windows) - 1))
    assert max(w.score for w in a.windows if w.score is not None) == 1.0
    assert sum(w.n for w in a.windows) == sum(w.n for w in wins)
    assert len(r.warnings) <= rm.MAX_WARNINGS and all(len(w) <= rm.MAX_WARNING_CHARS for w in r.warnings)
    assert any("size bound" in w and "evidence" in w for w in r.warnings)
    text = r.to_json()
    assert len(text) < 2_000_000
    again = rm.Report.from_json(text)
    assert again.to_json() == text  # within the bound: read back unchanged


def test_face_occlusion_windows_follow_the_frames_not_the_session_span():
    from interview_guard.analyzers.face_occlusion import _windows

    t = np.arange(0.0, 60.0, 0.1)
    wins = _windows(1e9, 30.0, t, np.ones(t.size, bool), [])
    assert [(w.start_s, w.end_s) for w in wins] == [(0.0, 30.0), (30.0, 60.0), (60.0, 1e9)]
    assert wins[-1].score is None and wins[-1].n == 0


def test_keystroke_relay_windows_on_a_huge_gap_in_process():
    from corpus_bounds import typing_bursts
    from interview_guard.analyzers.keystroke_relay import KeystrokeRelay
    from interview_guard.io.keystroke_log import parse_keystroke_lines
    from interview_guard.tracks import Tracks

    log = parse_keystroke_lines([json.dumps(e) for e in typing_bursts([1e12])])
    r = KeystrokeRelay().analyze(Tracks(duration_s=float(log.t_ms[-1]) / 1000.0, keystrokes=log))
    scored = [w for w in r.windows if w.score is not None]
    assert 2 <= len(scored) and len(r.windows) <= 2 * len(scored) + 3
    assert sum(w.n for w in r.windows) == log.n_keydown
