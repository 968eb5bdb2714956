"""The typing of a synthetic session: a slice of a real typist's log, relayed or not, and heard in the room.

:func:`draw_typing` takes a slice of a real keystroke trace (it starts
inside the video and runs about ``typing_seconds``), moves it onto a client
clock of its own and, for the ``relay`` kind, passes it through
:func:`~interview_guard.synth.relay_sim.simulate_relay` with one of
:data:`RELAY_PRESETS`. :func:`render_keyboard` adds the typist's key clicks
(:mod:`~interview_guard.synth.keyboard_sound`) to the clip's audio at the
typist's own key times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import InputError
from interview_guard.synth import keyboard_sound as kbs
from interview_guard.synth.inputs import SynthInputs
from interview_guard.synth.relay_profiles import PROFILES, relay_description
from interview_guard.synth.relay_sim import simulate_relay
from interview_guard.synth.session_media import AUDIO_SR, SessionDraft, pick
from interview_guard.tracks.keystrokes import DOWN, UP, KeystrokeLog

__all__ = ["RELAY_PRESETS", "Typing", "draw_typing", "render_keyboard", "keystroke_slice"]

RELAY_PRESETS: tuple[str, ...] = ("intl_rdp", "intl_rdp_congested", "kvm_ip")


@dataclass(frozen=True)
class Typing:
    """The keystrokes of a session.

    Attributes
    ----------
    log : KeystrokeLog
        What ``keystrokes.jsonl`` holds (on the client clock; relayed for the ``relay`` kind).
    typed : KeystrokeLog
        What the typist's fingers did (the microphone hears these times).
    source : Path
        The real keystroke file the slice comes from.
    source_start_ms : float
        Where the slice starts in it.
    lead_ms : float
        Video time of the first key, ms.
    client_origin : float
        Client clock time of the first key, ms.
    """

    log: KeystrokeLog
    typed: KeystrokeLog
    source: Path
    source_start_ms: float
    lead_ms: float
    client_origin: float

    @property
    def offset_ms(self) -> float:
        """``session.json``'s ``keystroke_clock_offset_ms``: client clock + offset = video time."""
        return round(self.lead_ms - self.client_origin, 3)

    def event(self, keyboard_audio: dict[str, Any]) -> dict[str, Any]:
        """The ``typing`` event of ``label.json`` (``keyboard_audio``: what :func:`render_keyboard` did)."""
        return {
            "kind": "typing",
            "start_s": round(self.lead_ms / 1000.0, 3),
            "end_s": round((float(self.log.t_ms[-1]) - self.client_origin + self.lead_ms) / 1000.0, 3),
            "details": {
                "source_file": self.source.name,
                "source_start_ms": self.source_start_ms,
                "events": len(self.log),
                "presses": int((self.log.kind == DOWN).sum()),
                "keyboard_audio": keyboard_audio,
            },
        }


def draw_typing(
    draft: SessionDraft, kind: str, inputs: SynthInputs, rng: np.random.Generator, *, typing_seconds: float | None
) -> Typing | None:
    """The session's typing (None without keystroke files); a ``relay`` manipulation is added to ``draft``."""
    lead_ms = float(rng.uniform(200.0, 600.0))
    client_origin = float(np.round(rng.uniform(5_000.0, 900_000.0), 1))
    if not inputs.keystrokes:
        return None
    kf = pick(rng, inputs.keystrokes)
    draft.used["keystrokes"] = str(kf)
    if typing_seconds is None:
        span = max(500.0, draft.dur * 1000.0 - lead_ms - 300.0)
    else:
        span = float(typing_seconds) * 1000.0
    ks, t0_src = keystroke_slice(kf, span, rng)
    ks = ks.shifted(client_origin)
    typed = ks  # what the typist's fingers did (heard by the microphone)
    if kind == "relay":
        preset = RELAY_PRESETS[int(rng.integers(len(RELAY_PRESETS)))]
        rel = simulate_relay(ks, PROFILES[preset], seed=int(rng.integers(2**31)))
        delay = rel.t_ms - ks.t_ms
        draft.manipulations.append(
            {
                "kind": "relay",
                "start_s": round(lead_ms / 1000.0, 3),
                "end_s": round((float(rel.t_ms[-1]) - client_origin + lead_ms) / 1000.0, 3),
                "details": {
                    "preset": preset,
                    "description": relay_description(PROFILES[preset]),
                    "events": len(rel),
                    "delay_ms_mean": round(float(delay.mean()), 2),
                    "delay_ms_max": round(float(delay.max()), 2),
                },
            }
        )
        ks = rel
    return Typing(log=ks, typed=typed, source=kf, source_start_ms=t0_src, lead_ms=lead_ms, client_origin=client_origin)


def keystroke_slice(path: Path, span_ms: float, rng: np.random.Generator) -> tuple[KeystrokeLog, float]:
    """A slice of real typing about ``span_ms`` long, starting at a press; times rebased to 0 at its first press."""
    from interview_guard.io.keystroke_log import keystroke_log_from_presses, read_keystroke_log  # noqa: PLC0415

    log = read_keystroke_log(path)
    pr = log.presses()
    if len(pr) < 5:
        raise InputError("keystroke log has too few presses", path=path)
    press = pr.press_ms
    best: tuple[float, np.ndarray] | None = None
    # start where a whole span of the trace is left (the whole trace when it is shorter than the span)
    room = int(np.searchsorted(press, press[-1] - span_ms, side="right"))
    n_start = max(1, min(len(press) - 5, room))
    for _ in range(8):  # a few tries for a window with typing in it (the Aalto files pause between sentences)
        i0 = int(rng.integers(0, n_start))
        t0 = press[i0]
        sel = (press >= t0) & (press <= t0 + span_ms)
        if best is None or sel.sum() > best[1].sum():
            best = (t0, sel)
        if sel.sum() >= 12:
            break
    assert best is not None  # the loop runs at least once
    t0, sel = best
    rel = pr.release_ms[sel] - t0
    sliced = keystroke_log_from_presses(
        press_ms=press[sel] - t0, release_ms=rel, key=list(pr.key[sel]), code=list(pr.code[sel]), source=str(path)
    )
    return sliced, float(t0)


def render_keyboard(
    audio: np.ndarray | None, typed: KeystrokeLog, *, offset_ms: float, kind: str, rng: np.random.Generator
) -> dict[str, Any]:
    """Add the typist's key clicks to ``audio`` in place; return what was done (for the label).

    At -12 to +6 dB against the speech, a few ms before each key is logged;
    in 30 % of the sessions (any kind) noise suppression removes them, and
    ``mismatched_audio`` sessions get none (the sound comes from another room).
    See :func:`~interview_guard.synth.generate.generate` (``keyboard_audio``).
    """
    suppressed = bool(rng.random() < 0.3)
    snr_db = round(float(rng.uniform(-12.0, 6.0)), 1)
    if audio is None:
        return {"rendered": False, "reason": "no audio track"}
    if kind == "mismatched_audio":
        return {"rendered": False, "reason": "the audio comes from another room"}
    if suppressed:
        return {"rendered": False, "reason": "noise suppression (30 % of sessions)"}
    speech = kbs.active_rms(audio, sr=AUDIO_SR)
    level = max(speech, 3e-3) * 10 ** (snr_db / 20.0)
    t_s = (typed.t_ms + offset_ms) / 1000.0
    lat = kbs.key_latency_ms(len(typed), rng) / 1000.0  # the sound comes a few ms before the log
    downs = kbs.render_clicks(audio, times_s=(t_s - lat)[typed.kind == DOWN], level=level, rng=rng, sr=AUDIO_SR)
    ups = kbs.render_clicks(
        audio, times_s=(t_s - lat)[typed.kind == UP], level=level * 10 ** (kbs.UP_LEVEL_DB / 20), rng=rng, sr=AUDIO_SR
    )
    return {
        "rendered": True,
        "model": "synthetic clicks (keyboard_sound) at the real key times",
        "snr_db": snr_db,
        "key_down_clicks": downs,
        "key_up_clicks": ups,
        "latency_ms": "8 + U(0, 8) + Exp(0.5)",
    }
