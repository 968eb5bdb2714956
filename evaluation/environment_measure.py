"""Measure the ``environment`` analyzer on real typing and real speech (docs/environment.md).

Usage::

    PYTHONPATH=src python evaluation/environment_measure.py [--data ../shared/data] [--out build/environment.json]

* **Keyboard**: every Aalto typist in ``keystrokes/aalto136m`` (real typing), judged as is under claims of
  US, DE, FR, KR, JP and RU (false positives), then with layout and IME events injected into the real log
  (5 keys of Hangul after a Lang1 toggle, IME composition, Cyrillic, kana, Greek, AZERTY and QWERTZ typing,
  an ISO key) under a US claim (detections), and the same injections under the claims they fit.
* **Mains hum**: every real speech file (``speech/*.wav`` and the videos with sound), as is (false
  positives) and with a 50 or 60 Hz hum (fundamental and four harmonics, +-0.02 Hz wander) added at -30,
  -40 and -50 dB relative to the speech RMS; detection rate per level.
* **Fusion**: the analyzer's result alone through the shipped ``models/fusion.json``: band of consistent
  sessions and of each kind of contradiction.

The helpers (:func:`inject`, :func:`add_hum`) are imported by ``tests/test_environment*.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: Russian JCUKEN, Korean 2-set, Japanese kana (JIS) and Greek letters on the US key positions.
LAYOUT_KEYS = {
    "cyrillic": dict(zip("qwertyuiopasdfghjklzxcvbnm", "йцукенгшщзфывапролдячсмить")),
    "hangul": dict(zip("qwertyuiopasdfghjklzxcvbnm", "ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔㅁㄴㅇㄹㅎㅗㅓㅏㅣㅋㅌㅊㅍㅠㅜㅡ")),
    "kana": dict(zip("qwertyuiopasdfghjklzxcvbnm", "たていすかんなにらせちとしはきくまのりつさそひこみも")),
    "greek": dict(zip("qwertyuiopasdfghjklzxcvbnm", ";ςερτυθιοπασδφγηξκλζχψωβνμ")),
}
#: Physical key of each letter on AZERTY and QWERTZ (letters not listed sit where QWERTY has them).
AZERTY_CODE = {"a": "KeyQ", "q": "KeyA", "z": "KeyW", "w": "KeyZ", "m": "Semicolon"}
QWERTZ_CODE = {"z": "KeyY", "y": "KeyZ"}

INJECTIONS = ("hangul_lang1", "ime_process", "cyrillic", "kana", "greek", "azerty", "qwertz", "iso_key")
#: A claim each injection fits (consistent) and one it contradicts.
FITS = {
    "hangul_lang1": "KR",
    "ime_process": "JP",
    "cyrillic": "RU",
    "kana": "JP",
    "greek": "GR",
    "azerty": "FR",
    "qwertz": "DE",
    "iso_key": "GB",
}


def _letter_downs(log: Any) -> np.ndarray:
    from interview_guard.tracks.keystrokes import DOWN

    keys = np.array([len(k) == 1 and k.isalpha() and k.isascii() for k in log.key.tolist()])
    return np.flatnonzero((log.kind == DOWN) & keys)


def inject(log: Any, what: str, *, n: int = 5, at: float = 0.5) -> Any:
    """The real ``log`` with ``n`` letter presses from ``at`` (share of the log) turned into ``what``.

    The timing stays the typist's own; only ``key``/``code``/``keyCode`` change (and a mode key or
    composition events are inserted), as the browser would log the same fingers on another layout or IME.
    ``azerty``/``qwertz`` rewrite the *whole* log (a typist on that layout all session).
    """
    from interview_guard.tracks.keystrokes import COMPOSITION, DOWN, UP, KeystrokeLog

    key = log.key.copy()
    code = log.code.copy()
    keycode = log.keycode.copy()
    t, kind = log.t_ms.copy(), log.kind.copy()
    if what in ("azerty", "qwertz"):
        table = AZERTY_CODE if what == "azerty" else QWERTZ_CODE
        for i, k in enumerate(key.tolist()):
            if isinstance(k, str) and k.lower() in table:
                code[i] = table[k.lower()]
        return KeystrokeLog.from_arrays(t_ms=t, kind=kind, key=key, code=code, keycode=keycode, source=log.source)
    downs = _letter_downs(log)
    if downs.size < n + 1:
        raise ValueError("log too short to inject into")
    start = int(at * (downs.size - n))
    chosen = downs[start : start + n]
    chosen_codes = {code[i] for i in chosen}
    # the key-ups of the chosen presses change with them
    ups = [
        j
        for i in chosen
        for j in range(i + 1, min(i + 40, len(log)))
        if kind[j] == UP and code[j] == code[i] and code[i] in chosen_codes
    ][:n]
    extra_t, extra_kind, extra_key, extra_code = [], [], [], []
    if what in LAYOUT_KEYS or what == "hangul_lang1":
        table = LAYOUT_KEYS["hangul" if what == "hangul_lang1" else what]
        for j in list(chosen) + ups:
            letter = str(key[j]).lower()
            key[j] = table.get(letter, key[j])
        if what == "hangul_lang1":
            t0 = float(t[chosen[0]]) - 400.0
            extra_t += [t0, t0 + 90.0]
            extra_kind += [DOWN, UP]
            extra_key += ["HangulMode", "HangulMode"]
            extra_code += ["Lang1", "Lang1"]
    elif what == "ime_process":
        for j in chosen:
            key[j] = "Process"
            keycode[j] = 229
        for j in chosen:
            extra_t.append(float(t[j]) + 1.0)
            extra_kind.append(COMPOSITION)
            extra_key.append("かな"[int(j) % 2])
            extra_code.append("")
    elif what == "iso_key":
        for j in list(chosen[:2]):
            code[j] = "IntlBackslash"
            key[j] = "<"
    else:
        raise ValueError(what)
    if extra_t:
        t = np.concatenate([t, extra_t])
        kind = np.concatenate([kind, np.asarray(extra_kind, np.int8)])
        key = np.concatenate([key, np.asarray(extra_key, dtype=object)])
        code = np.concatenate([code, np.asarray(extra_code, dtype=object)])
        keycode = np.concatenate([keycode, np.full(len(extra_t), -1, np.int32)])
        order = np.argsort(t, kind="stable")
        t, kind, key, code, keycode = t[order], kind[order], key[order], code[order], keycode[order]
    return KeystrokeLog.from_arrays(t_ms=t, kind=kind, key=key, code=code, keycode=keycode, source=log.source)


def add_hum(y: np.ndarray, sr: int, f0: float, level_db: float, seed: int = 0) -> np.ndarray:
    """``y`` with a mains hum (``f0`` and four harmonics, slow +-0.02 Hz wander) ``level_db`` below its RMS."""
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    tt = np.arange(n) / sr
    freq = f0 + 0.02 * np.sin(2 * np.pi * tt / 20.0 + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(freq) / sr
    h = np.zeros(n)
    for k, a in ((1, 1.0), (2, 0.5), (3, 0.35), (4, 0.2), (5, 0.15)):
        h += a * np.sin(k * phase + rng.uniform(0, 6))
    h /= np.sqrt(np.mean(h**2))
    rms = float(np.sqrt(np.mean(np.asarray(y, np.float64) ** 2)))
    return (np.asarray(y, np.float64) + h * rms * 10 ** (level_db / 20.0)).astype(np.float32)


def real_logs(data: Path) -> list[tuple[str, Any]]:
    """Every Aalto typist's log, on a clock starting at 0."""
    from interview_guard.io.keystroke_log import read_keystroke_log

    out = []
    for p in sorted((data / "keystrokes" / "aalto136m").glob("*_keystrokes.txt")):
        log = read_keystroke_log(p)
        if len(log):
            out.append((p.name, log.shifted(-float(log.t_ms[0]))))
    return out


def real_speech(data: Path) -> list[tuple[str, Any]]:
    """Every real speech recording: ``speech/*.wav`` and the real videos with sound, decoded as a scan does."""
    from interview_guard.errors import InterviewGuardError
    from interview_guard.io.audio_decode import session_audio

    out = []
    for p in sorted((data / "speech").glob("*.wav")):
        out.append((p.name, session_audio(audio_path=p, video_path=None)))
    for p in sorted((data / "faces_video").glob("*.mp4")) + sorted((data / "deepfakes").glob("*real*.mp4")):
        try:
            a = session_audio(audio_path=None, video_path=p)
        except InterviewGuardError:
            continue
        if a is not None and a.duration_s >= 3.0:
            out.append((p.name, a))
    return out


def run_env(*, log: Any = None, audio: Any = None, meta: dict[str, Any] | None = None) -> Any:
    from interview_guard.analyzers.environment import Environment
    from interview_guard.io.session import with_zone_offsets
    from interview_guard.tracks import Tracks
    from interview_guard.tracks.metadata import SessionMetadata

    md = with_zone_offsets(SessionMetadata.from_dict(meta or {}))
    dur = 0.0
    if log is not None and len(log):
        dur = float(log.t_ms[-1]) / 1000.0
    if audio is not None:
        dur = max(dur, audio.end_s)
    return Environment().analyze(Tracks(duration_s=dur, keystrokes=log, audio=audio, metadata=md))


def measure(data: Path) -> dict[str, Any]:
    from interview_guard.fusion.model import FusionModel

    fusion = FusionModel.load(REPO / "models" / "fusion.json")
    out: dict[str, Any] = {"fusion_model": fusion.version}
    logs = real_logs(data)
    claims = ("US", "DE", "FR", "KR", "JP", "RU")
    fp = {c: [] for c in claims}
    for name, log in logs:
        for c in claims:
            r = run_env(log=log, meta={"claimed_country": c})
            if r.evidence:
                fp[c].append(name)
    out["keyboard_false_positives"] = {c: {"typists": len(logs), "flagged": v} for c, v in fp.items()}
    det: dict[str, Any] = {}
    bands: dict[str, list[str]] = {}
    for what in INJECTIONS:
        hits, fits_clean, scores, risk_bands = 0, 0, [], []
        for _, log in logs:
            lg = inject(log, what)
            r = run_env(log=lg, meta={"claimed_location": "Chicago, IL"})
            hits += bool(r.evidence)
            scores.append(float(r.score or 0.0))
            risk_bands.append(fusion.fuse([r]).band)
            ok = run_env(log=lg, meta={"claimed_country": FITS[what]})
            fits_clean += not ok.evidence
        det[what] = {
            "typists": len(logs),
            "detected_under_US_claim": hits,
            "median_score": round(float(np.median(scores)), 3),
            "bands_alone": {b: risk_bands.count(b) for b in sorted(set(risk_bands))},
            f"clean_under_{FITS[what]}_claim": fits_clean,
        }
        bands[what] = risk_bands
    out["keyboard_injected"] = det
    # time zones
    tz_cases = {
        "consistent_us": {
            "claimed_location": "Chicago, IL",
            "claimed_timezone": "America/Chicago",
            "client": {"timezone": "America/Chicago"},
        },
        "neighbour_zone_1h": {
            "claimed_location": "Chicago, IL",
            "claimed_timezone": "America/Chicago",
            "client": {"timezone": "America/New_York"},
        },
        "seoul_vs_chicago": {
            "claimed_location": "Chicago, IL",
            "claimed_timezone": "America/Chicago",
            "client": {"timezone": "Asia/Seoul"},
        },
        "offset_only_+180": {
            "claimed_location": "Berlin, Germany",
            "claimed_timezone": "Europe/Berlin",
            "client": {"utc_offset_min": 180},
        },
    }
    out["timezone"] = {}
    for k, m in tz_cases.items():
        r = run_env(log=logs[0][1], meta={**m, "recording_start": "2026-11-28T15:00:00Z"})
        out["timezone"][k] = {"score": r.score, "confidence": r.confidence, "band_alone": fusion.fuse([r]).band}
    # mains hum
    speech = real_speech(data)
    levels = (-30.0, -40.0, -50.0)
    native = {}
    rate: dict[str, Any] = {}
    for name, a in speech:
        r = run_env(audio=a, meta={"claimed_country": "US"})
        native[name] = (r.metrics.get("mains_hum") or {}).get("detected_hz")
    for lvl in levels:
        for f0 in (50.0, 60.0):
            got, wrong = 0, 0
            for i, (_, a) in enumerate(speech):
                from interview_guard.tracks.audio import AudioTrack

                y = add_hum(a.samples, a.sr, f0, lvl, seed=i)
                r = run_env(audio=AudioTrack(y, a.sr), meta={"claimed_country": "US"})
                d = (r.metrics.get("mains_hum") or {}).get("detected_hz")
                got += d == int(f0)
                wrong += d is not None and d != int(f0)
            rate[f"{lvl:g} dB / {f0:g} Hz"] = {"files": len(speech), "detected": got, "other_grid": wrong}
    out["hum_native"] = native
    out["hum_detection"] = rate
    # one long recording: every real speech file, resampled to a common rate, one after the other
    from interview_guard.signals.environment_hum import mains_hum

    sr0 = speech[0][1].sr
    longest = np.concatenate([a.samples for _, a in speech if a.sr == sr0])
    no_radio = np.concatenate([a.samples for n, a in speech if a.sr == sr0 and not n.startswith("sadtalker_RD_Radio")])
    long_rows: dict[str, Any] = {}
    for label, y0 in (("all", longest), ("without_radio_clips", no_radio)):
        row: dict[str, Any] = {"seconds": round(y0.size / sr0, 1)}
        r0 = mains_hum(y=y0, sr=sr0)
        row["no_hum"] = {"detected_hz": r0["detected_hz"], "confidence": r0["confidence"]}
        for lvl in levels:
            for f0 in (50.0, 60.0):
                r1 = mains_hum(y=add_hum(y0, sr0, f0, lvl, seed=7), sr=sr0)
                row[f"{lvl:g} dB / {f0:g} Hz"] = {"detected_hz": r1["detected_hz"], "confidence": r1["confidence"]}
        long_rows[label] = row
    out["hum_long_recording"] = long_rows
    # fusion bands: consistent sessions against contradictions
    from interview_guard.tracks.audio import AudioTrack

    # the hum cases on the long recording without the radio clips (an interview lasts minutes, not seconds)
    a0 = AudioTrack(no_radio, sr0)
    consistent = {
        "US keyboard, 60 Hz hum, US claim": run_env(
            log=logs[0][1],
            audio=AudioTrack(add_hum(a0.samples, a0.sr, 60, -30), a0.sr),
            meta={
                "claimed_location": "Chicago, IL",
                "claimed_timezone": "America/Chicago",
                "client": {"timezone": "America/Chicago"},
            },
        ),
        "QWERTZ keyboard, 50 Hz hum, German claim": run_env(
            log=inject(logs[0][1], "qwertz"),
            audio=AudioTrack(add_hum(a0.samples, a0.sr, 50, -30), a0.sr),
            meta={
                "claimed_location": "Berlin, Germany",
                "claimed_timezone": "Europe/Berlin",
                "client": {"timezone": "Europe/Berlin"},
            },
        ),
        "Hangul keys, 60 Hz hum, Korean claim": run_env(
            log=inject(logs[0][1], "hangul_lang1"),
            audio=AudioTrack(add_hum(a0.samples, a0.sr, 60, -30), a0.sr),
            meta={
                "claimed_location": "Seoul, KR",
                "claimed_timezone": "Asia/Seoul",
                "client": {"timezone": "Asia/Seoul"},
            },
        ),
    }
    contra = {
        "Hangul keys, US claim": run_env(log=inject(logs[0][1], "hangul_lang1"), meta={"claimed_country": "US"}),
        "browser Asia/Seoul, Chicago claim": run_env(
            log=logs[0][1],
            meta={
                "claimed_location": "Chicago, IL",
                "claimed_timezone": "America/Chicago",
                "client": {"timezone": "Asia/Seoul"},
            },
        ),
        "50 Hz hum at -30 dB, US claim": run_env(
            audio=AudioTrack(add_hum(a0.samples, a0.sr, 50, -30), a0.sr), meta={"claimed_country": "US"}
        ),
        "AZERTY keyboard, US claim": run_env(log=inject(logs[0][1], "azerty"), meta={"claimed_country": "US"}),
    }
    out["fusion_alone"] = {
        group: {
            k: {
                "score": round(float(r.score or 0.0), 3),
                "confidence": round(r.confidence, 3),
                "risk": round(float(fusion.fuse([r]).score or 0.0), 3),
                "band": fusion.fuse([r]).band,
            }
            for k, r in d.items()
        }
        for group, d in (("consistent", consistent), ("contradiction", contra))
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    res = measure(args.data)
    text = json.dumps(res, indent=1, ensure_ascii=False, default=str)
    if args.out:
        from interview_guard.atomic import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
