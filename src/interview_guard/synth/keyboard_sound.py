"""Key clicks rendered into audio: the sound a keyboard makes near a microphone.

Used by the synthetic-session generator (:mod:`interview_guard.synth.generate`) and
the evaluation of ``acoustic_keystroke``. A key-down is one or two damped,
band-limited noise bursts of 8-25 ms (centre 1.5-6.5 kHz, decay 0.8-4 ms),
the key-up a quieter copy; levels vary by a few dB from key to key. This is
a model of the sound, not a recording: the timing it is rendered at is real
(the keystroke traces), the waveform is synthetic.

Pure numpy/scipy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from interview_guard.errors import ParameterError

__all__ = ["click_wave", "render_clicks", "key_latency_ms", "active_rms"]

UP_LEVEL_DB = -8.0


def click_wave(rng: np.random.Generator, level: float, *, sr: int = 16000) -> np.ndarray:
    """One key click whose first 3 ms have RMS ``level``.

    Parameters
    ----------
    rng : numpy.random.Generator
    level : float
        Linear RMS of the click's first 3 ms.
    sr : int
        Sample rate (Hz), at least 8000.

    Returns
    -------
    numpy.ndarray
        float32 samples, 8-25 ms long.
    """
    from scipy import signal  # noqa: PLC0415

    if sr < 8000:
        raise ParameterError(f"sr must be at least 8000 Hz, got {sr}")
    n = int(sr * rng.uniform(0.008, 0.025))
    t = np.arange(n) / sr
    out = np.zeros(n)
    for b in range(int(rng.integers(1, 3))):
        t0 = 0.0 if b == 0 else rng.uniform(0.002, 0.006)
        tau = rng.uniform(0.0008, 0.004)
        fc = rng.uniform(1500.0, 6500.0)
        bw = rng.uniform(0.3, 1.2) * fc
        hi = min(0.95 * sr / 2, fc + bw / 2)
        lo = min(max(200.0, fc - bw / 2), 0.9 * hi)
        sos = signal.butter(2, [lo, hi], btype="band", fs=sr, output="sos")
        x = signal.sosfilt(sos, rng.standard_normal(n))
        env = np.where(t >= t0, np.exp(-(t - t0) / tau), 0.0)
        out += (1.0 if b == 0 else rng.uniform(0.3, 1.0)) * x * env / (np.std(x) + 1e-12)
    k = max(1, int(0.003 * sr))
    out *= level / (np.sqrt(np.mean(out[:k] ** 2)) + 1e-12)
    return out.astype(np.float32)


def render_clicks(
    y: np.ndarray,
    *,
    times_s: npt.ArrayLike,
    level: float,
    rng: np.random.Generator,
    sr: int = 16000,
    level_sd_db: float = 4.0,
) -> int:
    """Add a click at each time to ``y`` (in place); return how many fell inside it.

    Parameters
    ----------
    y : numpy.ndarray
        Mono float samples, modified in place.
    times_s : array_like
        Click onsets in seconds from the first sample.
    level : float
        Linear RMS of a click's onset (see :func:`click_wave`).
    rng : numpy.random.Generator
    sr : int
    level_sd_db : float
        Key-to-key level spread (dB, normal).
    """
    n = 0
    for tt in np.asarray(times_s, dtype=np.float64).ravel():
        w = click_wave(rng, level * 10 ** (rng.normal(0.0, level_sd_db) / 20), sr=sr)
        i = int(round(tt * sr))
        if 0 <= i < y.size:
            m = min(w.size, y.size - i)
            y[i : i + m] += w[:m]
            n += 1
    return n


def key_latency_ms(n: int, rng: np.random.Generator, *, wireless: bool = False) -> np.ndarray:
    """How long after its sound a key event is logged: switch + USB polling + event loop.

    Wired: 8 ms + uniform 0-8 ms + exponential (mean 0.5 ms). Wireless
    (Bluetooth): 8 ms + uniform 0-15 ms + abs(normal(0, 2 ms)), and 2 % of the
    keys a further 10-30 ms late.
    """
    if wireless:
        lat = 8.0 + rng.uniform(0.0, 15.0, n) + np.abs(rng.normal(0.0, 2.0, n))
        return lat + np.where(rng.random(n) < 0.02, rng.uniform(10.0, 30.0, n), 0.0)
    return 8.0 + rng.uniform(0.0, 8.0, n) + rng.exponential(0.5, n)


def active_rms(y: np.ndarray, *, sr: int = 16000, frame_s: float = 0.02, top: float = 0.5) -> float:
    """RMS of the loudest ``top`` share of ``frame_s`` frames (the level of speech where there is speech)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    k = max(1, int(frame_s * sr))
    m = y.size // k
    if m == 0:
        return float(np.sqrt(np.mean(y**2))) if y.size else 0.0
    e = np.sqrt(np.mean(y[: m * k].reshape(m, k) ** 2, axis=1))
    e = np.sort(e)[::-1][: max(1, int(round(top * m)))]
    return float(np.sqrt(np.mean(e**2)))
