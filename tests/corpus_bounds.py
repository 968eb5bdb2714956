"""Bad-input corpus, issue #12 item 4: work bounded by the data, absurd spans and offsets, CSV ``length``.

Each case generates its input at test time: ``make(tmp_path)`` returns ``{"path": session to scan,
"names": the file a message must name (errors only)}``. ``expect`` says what a CLI scan
(``interview-guard scan PATH --format json -o REPORT -q``) must do:

* ``exit``: the exit code (0: scanned; 1: a one-line input error naming the file);
* ``words``: words the error message (or, for a scan, one of the report's warnings) contains;
* ``max_report_bytes``: the report JSON is at most this large;
* ``max_windows``: no analyzer reports more timeline windows than this;
* ``mem_mb``, ``cpu_s``: the RLIMIT_AS and RLIMIT_CPU the scan runs under (it must finish within them).

Before the fix a 24 KB log with a 1e11 ms gap took 62 s and 4.8 GB and wrote a 422 MB report (1e12:
killed at 5.6 GB); ``recording_start`` in year 1 or 9999 with epoch keys asked for 264 GiB; a CSV or
JSON ``length`` of 1e30 was an ``internal error: OverflowError``.
"""

from __future__ import annotations

import json
import math
import random
import struct
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CASES", "typing_bursts", "write_wav"]

EPOCH_MS = 1_767_225_600_000.0  # 2026-01-01T00:00:00Z


def typing_bursts(gaps_ms: list[float], *, keys: int = 150, start_ms: float = 1000.0, seed: int = 0) -> list[dict]:
    """Bursts of ``keys`` key presses (down + up), the bursts ``gaps_ms`` apart; events in time order."""
    r = random.Random(seed)
    events: list[dict] = []
    t = start_ms
    for gap in [0.0, *gaps_ms]:
        t += gap
        for _ in range(keys):
            t += r.uniform(120.0, 250.0)
            code = f"Key{'ETAOINSHRD'[r.randrange(10)]}"
            events.append({"t": round(t), "type": "down", "key": code[-1].lower(), "code": code})
            events.append({"t": round(t) + 50, "type": "up", "key": code[-1].lower(), "code": code})
    return events


def _jsonl(path: Path, events: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def write_wav(path: Path, seconds: float = 3.0, sr: int = 16000) -> Path:
    """A quiet noise-like WAV (no clicks), made with the standard library."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    frames = b"".join(struct.pack("<h", int(200 * math.sin(i * 0.37) * math.sin(i * 0.011))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(frames)
    return path


def _gap_session(gap_ms: float) -> Callable[[Path], dict[str, Any]]:
    def make(tmp_path: Path) -> dict[str, Any]:
        d = tmp_path / f"gap_{gap_ms:g}"
        _jsonl(d / "keystrokes.jsonl", typing_bursts([gap_ms]))
        return {"path": str(d)}

    return make


def _stall_released(tmp_path: Path) -> dict[str, Any]:
    """A relay releasing a stall on one tick: one key's up, down and up share a time (was "duplicate event")."""
    d = tmp_path / "stall"
    events = typing_bursts([2000.0])
    t = events[len(events) // 2]["t"] + 1000
    tick = [{"t": t, "type": typ, "key": "Backspace", "code": "Backspace"} for typ in ("down", "up", "down", "up")]
    tick[0]["t"] = t - 400
    later = [{**e, "t": e["t"] + 2000} for e in events if e["t"] >= tick[0]["t"]]
    _jsonl(d / "keystrokes.jsonl", [e for e in events if e["t"] < tick[0]["t"]] + tick + later)
    return {"path": str(d)}


def _no_clicks_heard(tmp_path: Path) -> dict[str, Any]:
    """Keys logged, audio without a single key click (a headset, noise suppression): not evidence."""
    d = tmp_path / "quiet"
    _jsonl(d / "keystrokes.jsonl", typing_bursts([], keys=60))
    write_wav(d / "audio.wav", seconds=15.0)
    (d / "session.json").write_text(json.dumps({"keystroke_clock_offset_ms": 0}), encoding="utf-8")
    return {"path": str(d)}


def _sparse_session(tmp_path: Path) -> dict[str, Any]:
    """3000 short bursts an hour apart: every burst in its own window (the report bound merges them)."""
    d = tmp_path / "sparse"
    events = typing_bursts([3_600_000.0] * 2999, keys=2)
    _jsonl(d / "keystrokes.jsonl", events)
    return {"path": str(d)}


def _epoch_keys_with_start(start: str) -> Callable[[Path], dict[str, Any]]:
    def make(tmp_path: Path) -> dict[str, Any]:
        d = tmp_path / f"start_{start[:4]}"
        _jsonl(d / "keystrokes.jsonl", typing_bursts([], start_ms=EPOCH_MS))
        (d / "session.json").write_text(json.dumps({"recording_start": start}), encoding="utf-8")
        return {"path": str(d), "names": str(d / "session.json")}

    return make


def _session_json(doc: str, *, audio: bool = False) -> Callable[[Path], dict[str, Any]]:
    def make(tmp_path: Path) -> dict[str, Any]:
        d = tmp_path / "meta"
        _jsonl(d / "keystrokes.jsonl", typing_bursts([]))
        if audio:
            write_wav(d / "audio.wav")
        (d / "session.json").write_text(doc, encoding="utf-8")
        return {"path": str(d), "names": str(d / "session.json")}

    return make


def _keys_after_audio(aligned: bool) -> Callable[[Path], dict[str, Any]]:
    """Audio of 3 s; key bursts 1e12 ms apart, aligned by an offset (or not aligned at all)."""

    def make(tmp_path: Path) -> dict[str, Any]:
        d = tmp_path / ("aligned" if aligned else "unaligned")
        _jsonl(d / "keystrokes.jsonl", typing_bursts([1e12]))
        write_wav(d / "audio.wav")
        if aligned:
            (d / "session.json").write_text(json.dumps({"keystroke_clock_offset_ms": 0}), encoding="utf-8")
        return {"path": str(d)}

    return make


def _text_file(name: str, text: str) -> Callable[[Path], dict[str, Any]]:
    def make(tmp_path: Path) -> dict[str, Any]:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return {"path": str(p), "names": str(p)}

    return make


_SCAN_OK = {"exit": 0, "max_report_bytes": 60_000, "max_windows": 12, "mem_mb": 1500, "cpu_s": 60}
_INPUT_ERROR = {"exit": 1, "mem_mb": 1500, "cpu_s": 60}

CASES: list[dict[str, Any]] = [
    {
        "id": "relayed-stall-released-on-one-tick",
        "cls": "relayed-log",
        "make": _stall_released,
        "expect": dict(_SCAN_OK),
    },
    {
        "id": "keys-logged-no-clicks-heard",
        "cls": "absence",
        "make": _no_clicks_heard,
        "expect": {**_SCAN_OK, "analyzers": {"acoustic_keystroke": "skipped"}},
    },
    {"id": "keys-gap-1e9-ms", "cls": "bounded-work", "make": _gap_session(1e9), "expect": dict(_SCAN_OK)},
    {"id": "keys-gap-1e11-ms", "cls": "bounded-work", "make": _gap_session(1e11), "expect": dict(_SCAN_OK)},
    {"id": "keys-gap-1e12-ms", "cls": "bounded-work", "make": _gap_session(1e12), "expect": dict(_SCAN_OK)},
    {
        "id": "keys-3000-bursts-an-hour-apart",
        "cls": "bounded-work",
        "make": _sparse_session,
        "expect": {**_SCAN_OK, "max_report_bytes": 1_500_000, "max_windows": 2000, "words": ["size bound"]},
    },
    {
        "id": "keys-1e12-ms-after-the-audio-aligned",
        "cls": "bounded-work",
        "make": _keys_after_audio(True),
        "expect": {**_SCAN_OK, "words": ["after the end of the recording"]},
    },
    {
        "id": "keys-1e12-ms-gap-with-audio-unaligned",
        "cls": "bounded-work",
        "make": _keys_after_audio(False),
        "expect": {**_SCAN_OK, "mem_mb": 2500},
    },
    {
        "id": "recording-start-year-1-epoch-keys",
        "cls": "bounded-work",
        "make": _epoch_keys_with_start("0001-01-01T00:00:00Z"),
        "expect": {**_INPUT_ERROR, "words": ["'recording_start'", "out of range"]},
    },
    {
        "id": "recording-start-year-9999-epoch-keys",
        "cls": "bounded-work",
        "make": _epoch_keys_with_start("9999-12-31T23:59:59Z"),
        "expect": {**_INPUT_ERROR, "words": ["'recording_start'", "out of range"]},
    },
    {
        "id": "keystroke-clock-offset-1e300",
        "cls": "bounded-work",
        "make": _session_json('{"keystroke_clock_offset_ms": 1e300}'),
        "expect": {**_INPUT_ERROR, "words": ["'keystroke_clock_offset_ms'", "out of range"]},
    },
    {
        "id": "keystroke-clock-offset-1e13-with-audio",
        "cls": "bounded-work",
        "make": _session_json('{"keystroke_clock_offset_ms": 1e13}', audio=True),
        "expect": {**_SCAN_OK, "words": ["after the end of the recording"]},
    },
    {
        "id": "challenge-t-s-1e300",
        "cls": "bounded-work",
        "make": _session_json('{"challenges": [{"kind": "hand_wave", "t_s": 1e300}]}'),
        "expect": {**_INPUT_ERROR, "words": ["challenges[0].t_s"]},
    },
    {
        "id": "key-time-1e300",
        "cls": "bounded-work",
        "make": _text_file("keystrokes.jsonl", '{"t": 1, "type": "down"}\n{"t": 1e300, "type": "up"}\n'),
        "expect": {**_INPUT_ERROR, "words": ["line 2", "'t'", "out of range"]},
    },
    {
        "id": "csv-length-1e30",
        "cls": "input-error",
        "make": _text_file("keystrokes.csv", "t,type,key,code,length\n1,down,a,KeyA,\n2,paste,,,1e30\n"),
        "expect": {**_INPUT_ERROR, "words": ["line 3", "'length'", "out of range"]},
    },
    {
        "id": "jsonl-length-1e30",
        "cls": "input-error",
        "make": _text_file("keystrokes.jsonl", '{"t": 1, "type": "paste", "length": 1e30}\n'),
        "expect": {**_INPUT_ERROR, "words": ["line 1", "'length'", "out of range"]},
    },
]
