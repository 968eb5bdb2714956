"""Shared fixtures: paths to ../shared, a seeded rng, small generated media and sessions."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
AALTO = SHARED_DATA / "keystrokes" / "aalto136m"
SAMPLES = REPO / "sample_sessions"


def needs_shared(path: Path = SHARED_DATA):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not available")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def write_jsonl(path: Path, events) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def typing_events(n_keys: int = 200, *, seed: int = 0, start_ms: float = 1000.0, hold_ms: float = 95.0):
    """Plausible local typing: gamma inter-key intervals, variable holds, 1 ms clock."""
    r = np.random.default_rng(seed)
    letters = "etaoinshrdlucmfwypvbgkjqxz "
    t = start_ms
    events = []
    for _ in range(n_keys):
        t += float(r.gamma(4.0, 45.0)) + (600.0 if r.random() < 0.05 else 0.0)
        ch = letters[int(r.integers(len(letters)))]
        code = "Space" if ch == " " else f"Key{ch.upper()}"
        down = round(t)
        up = round(t + max(30.0, r.normal(hold_ms, 20.0)))
        events.append({"t": down, "type": "down", "key": ch, "code": code})
        events.append({"t": up, "type": "up", "key": ch, "code": code})
    events.sort(key=lambda e: (e["t"], e["type"] == "up"))
    return events


def make_video(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: int = 10,
    size=(96, 64),
    audio: bool = False,
    codec: str = "libx264",
    faststart: bool = False,
) -> Path:
    """Encode a small synthetic clip (moving gradient) with PyAV.

    ``faststart``: an MP4's index (``moov``) before the frames, as streaming recorders write it (else after them).
    """
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * fps))
    w, h = size
    with av.open(str(path), mode="w", options={"movflags": "+faststart"} if faststart else {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = w, h
        vs.pix_fmt = "yuv420p"
        if audio:
            a = out.add_stream("aac", rate=16000)
            a.layout = "mono"
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(n):
            img = np.stack([(xx * 3 + i * 5) % 256, (yy * 3) % 256, np.full_like(xx, (i * 7) % 256)], axis=-1).astype(
                np.uint8
            )
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for pkt in vs.encode(frame):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if audio:
            sr = 16000
            total = int(seconds * sr)
            tt = np.arange(total) / sr
            wave = (0.2 * np.sin(2 * np.pi * 220 * tt)).astype(np.float32)
            for s in range(0, total, 1024):
                chunk = wave[s : s + 1024][None, :]
                fr = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                fr.sample_rate = sr
                fr.pts = s
                fr.time_base = Fraction(1, sr)
                for pkt in a.encode(fr):
                    out.mux(pkt)
            for pkt in a.encode():
                out.mux(pkt)
    return path


def make_audio(path: Path, *, seconds: float = 2.0, sr: int = 16000) -> Path:
    import av

    with av.open(str(path), mode="w") as out:
        a = out.add_stream("pcm_s16le" if path.suffix == ".wav" else "aac", rate=sr)
        a.layout = "mono"
        total = int(seconds * sr)
        wave = (3000 * np.sin(2 * np.pi * 300 * np.arange(total) / sr)).astype(np.int16)
        for s in range(0, total, 1024):
            fr = av.AudioFrame.from_ndarray(wave[s : s + 1024][None, :], format="s16", layout="mono")
            fr.sample_rate = sr
            fr.pts = s
            fr.time_base = Fraction(1, sr)
            for pkt in a.encode(fr):
                out.mux(pkt)
        for pkt in a.encode():
            out.mux(pkt)
    return path


@pytest.fixture
def keystroke_session(tmp_path):
    """A keystroke-only session directory with 200 plausible local key presses."""
    d = tmp_path / "sess"
    write_jsonl(d / "keystrokes.jsonl", typing_events(200))
    (d / "session.json").write_text(json.dumps({"candidate_id": "c-1"}), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium and ChromeDriver for a browser test: skipped without them, failed under CI."""
    import os

    from browser_support import browser_missing

    why = browser_missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run under CI: {why}")
        pytest.skip(why)
