"""Build the derived keystroke sample sessions from the two real gradtype logs.

Deterministic (fixed seeds). Writes, next to the real sessions in
sample_sessions/:

* ``typing_relayed_b``: typist b's real log passed through the congested
  international remote-desktop relay model (``intl_rdp_congested``);
* ``typing_slow_path_a``: typist a's real log with server receive times
  (``recv_t``) 120 +- 30 ms after each key, as when the browser's keystrokes
  travel a long path to the interview platform.

    .venv/bin/python tools/make_keystroke_samples.py
"""

from __future__ import annotations

import json
from pathlib import Path

from interview_guard.atomic import atomic_write_text
from interview_guard.io.keystroke_log import dumps_jsonl, read_keystroke_log
from interview_guard.synth.relay_profiles import PROFILES
from interview_guard.synth.relay_sim import simulate_relay, simulate_transport

SAMPLES = Path(__file__).resolve().parents[1] / "sample_sessions"


def write(name: str, log, meta: dict) -> None:
    d = SAMPLES / name
    d.mkdir(exist_ok=True)
    log = log.shifted(-float(log.t_ms[0]))
    atomic_write_text(d / "keystrokes.jsonl", dumps_jsonl(log))
    atomic_write_text(d / "session.json", json.dumps(meta, indent=2) + "\n")
    print(f"{d}: {len(log)} events, {log.span_ms / 1000:.1f} s")


def main() -> None:
    b = read_keystroke_log(SAMPLES / "typing_genuine_b" / "keystrokes.jsonl")
    write(
        "typing_relayed_b",
        simulate_relay(b, PROFILES["intl_rdp_congested"], seed=20261128),
        {
            "candidate_id": "sample-typing-relayed-b",
            "notes": "Typist b's real key-down timing (indutny/gradtype, MIT) passed through "
            "interview_guard.synth.relay_sim profile intl_rdp_congested (seed 20261128): "
            "what a log looks like when the typist is abroad and types "
            "over a congested remote-desktop link. Label: relayed.",
        },
    )
    a = read_keystroke_log(SAMPLES / "typing_genuine_a" / "keystrokes.jsonl")
    write(
        "typing_slow_path_a",
        simulate_transport(a, lag_ms=120.0, jitter_ms=30.0, seed=20261128),
        {
            "candidate_id": "sample-typing-slow-path-a",
            "notes": "Typist a's real key-down timing (indutny/gradtype, MIT) with server receive times recv_t drawn "
            "120 +- 30 ms after each key (interview_guard.synth.relay_sim.simulate_transport, seed 20261128). Label: "
            "long transport path.",
        },
    )


if __name__ == "__main__":
    main()
