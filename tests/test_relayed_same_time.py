"""Relayed logs whose stalls release one key's up, down and up on one tick scan ok and score as relayed (#12)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
from click.testing import CliRunner

from conftest import SAMPLES
from interview_guard.cli import main
from interview_guard.io.keystroke_log import dumps_jsonl, read_keystroke_log
from interview_guard.synth.relay_sim import PROFILES, simulate_relay


def _stalled_relay_lines(seed: int) -> list[str]:
    """A real typist (gradtype, MIT) through an international relay whose stalls release keys on one tick."""
    log = read_keystroke_log(SAMPLES / "typing_genuine_a" / "keystrokes.jsonl")
    rel = simulate_relay(log, PROFILES["intl_rdp"], seed=seed)
    t = rel.t_ms.copy()
    rng = np.random.default_rng(seed)
    for start in rng.uniform(t[0], t[-1], 6):  # six stalls of 0.4-1.5 s, released at their end
        stall = rng.uniform(400.0, 1500.0)
        inside = (t >= start) & (t < start + stall)
        t[inside] = start + stall
    t = np.maximum.accumulate(t)
    out = []
    for line, tt in zip(dumps_jsonl(rel).splitlines(), t):
        rec = json.loads(line)
        rec["t"] = round(float(tt), 1)
        out.append(json.dumps(rec))
    return out


def test_stall_released_relay_logs_scan_ok_and_score_as_relayed(tmp_path):
    runner = CliRunner()
    for seed in (1, 2, 3):
        lines = _stalled_relay_lines(seed)
        groups = Counter((json.loads(x)["t"], json.loads(x).get("code")) for x in lines)
        assert any(n > 1 for n in groups.values())  # same-time events of one key: what the old parser refused
        d = tmp_path / f"relayed_{seed}"
        d.mkdir()
        (d / "keystrokes.jsonl").write_text("\n".join(lines) + "\n")
        res = runner.invoke(main, ["scan", str(d), "-q"])
        assert res.exit_code == 0, res.output
        report = json.loads(res.stdout)
        kr = report["analyzers"]["keystroke_relay"]
        assert report["status"] == "ok" and kr["status"] == "ok", kr
        assert kr["score"] >= 0.5, kr


def test_one_keys_up_down_up_on_one_tick_is_data(tmp_path):
    lines = [
        '{"t": 7000, "type": "down", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "up", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "down", "key": "Backspace", "code": "Backspace"}',
        '{"t": 7400, "type": "up", "key": "Backspace", "code": "Backspace"}',
    ]
    p = tmp_path / "keystrokes.jsonl"
    p.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(main, ["scan", str(p), "-q"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "ok"
