"""Keyboard layout and input-method evidence from ``KeyboardEvent`` key/code pairs (pure, arrays in).

``code`` names the physical key (``KeyQ`` is the key right of Tab on every keyboard); ``key`` is what the
layout made of it. Their pairs reveal the layout and the input method:

* **mode keys** of CJK keyboards: ``Lang1``/``Lang2`` (Hangul/Hanja on Korean keyboards, Kana/Eisu on
  Japanese Mac keyboards), ``HangulMode``, ``KanaMode``, ``Convert``, ``NonConvert``, ...;
* **IME composition**: key-downs with ``key == "Process"`` or ``keyCode == 229`` on a physical key;
* **other scripts**: characters of Hangul, kana, Han, Cyrillic, Greek, Arabic, Hebrew, Thai, ... produced by
  character keys (or composed by an IME);
* **letter swaps**: AZERTY (``KeyQ`` -> ``a``, ``KeyW`` -> ``z``, ``Semicolon`` -> ``m``, ``Digit2`` -> ``é``)
  and QWERTZ (``KeyY`` -> ``z``, ``KeyZ`` -> ``y``, ``Minus`` -> ``ß``);
* **ISO / JIS physical keys**: ``IntlBackslash`` (ISO keyboards, absent from US ANSI ones), ``IntlYen``
  (Japanese JIS) and ``IntlRo`` (JIS and Brazilian ABNT).

:func:`keyboard_observations` lists what the log shows; :func:`judge_keyboard` weighs each observation
against the layouts and scripts plausible for a country (``environment_data``). Nothing found is no finding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interview_guard.signals.environment_data import IME_COUNTRIES, plausible_layouts, plausible_scripts

__all__ = ["char_script", "keyboard_observations", "judge_keyboard", "MODE_KEYS"]

_DOWN, _COMPOSITION = 0, 3

#: Mode keys (by ``code`` or ``key``) and the scripts whose keyboards carry them.
MODE_KEYS: dict[str, frozenset[str]] = {
    "Lang1": frozenset({"hangul", "kana"}),
    "Lang2": frozenset({"hangul", "kana"}),
    "HangulMode": frozenset({"hangul"}),
    "HanjaMode": frozenset({"hangul"}),
    "JunjaMode": frozenset({"hangul"}),
    "KanaMode": frozenset({"kana"}),
    "KanjiMode": frozenset({"kana"}),
    "Convert": frozenset({"kana"}),
    "NonConvert": frozenset({"kana"}),
    "Hiragana": frozenset({"kana"}),
    "Katakana": frozenset({"kana"}),
    "HiraganaKatakana": frozenset({"kana"}),
    "Zenkaku": frozenset({"kana"}),
    "Hankaku": frozenset({"kana"}),
    "ZenkakuHankaku": frozenset({"kana"}),
    "Eisu": frozenset({"kana"}),
    "Romaji": frozenset({"kana"}),
    "Lang3": frozenset({"kana"}),
    "Lang4": frozenset({"kana"}),
    "Lang5": frozenset({"kana"}),
}

# Unicode blocks of the scripts told apart (start, end inclusive, script)
_BLOCKS = (
    (0x0370, 0x03FF, "greek"),
    (0x1F00, 0x1FFF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0E00, 0x0E7F, "thai"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x3130, 0x318F, "hangul"),
    (0xAC00, 0xD7AF, "hangul"),
    (0x3040, 0x30FF, "kana"),
    (0x31F0, 0x31FF, "kana"),
    (0xFF66, 0xFF9F, "kana"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xF900, 0xFAFF, "han"),
)

_SCRIPT_WORDS = {
    "hangul": "Hangul",
    "kana": "Japanese kana",
    "han": "Chinese characters",
    "cyrillic": "Cyrillic",
    "greek": "Greek",
    "arabic": "Arabic",
    "hebrew": "Hebrew",
    "thai": "Thai",
    "devanagari": "Devanagari",
    "bengali": "Bengali",
    "georgian": "Georgian",
    "armenian": "Armenian",
}

#: (code, key) pairs only a layout family produces (unshifted keys; ``key`` lower-cased).
_SIGNATURES: dict[str, frozenset[tuple[str, str]]] = {
    "azerty": frozenset(
        {
            ("KeyQ", "a"),
            ("KeyA", "q"),
            ("KeyW", "z"),
            ("KeyZ", "w"),
            ("Semicolon", "m"),
            ("KeyM", ","),
            ("Digit1", "&"),
            ("Digit2", "é"),
            ("Digit7", "è"),
            ("Digit9", "ç"),
            ("Digit0", "à"),
        }
    ),
    "qwertz": frozenset({("KeyY", "z"), ("KeyZ", "y"), ("Minus", "ß"), ("BracketLeft", "ü")}),
}
#: The same keys as a QWERTY layout gives them: counted against the family.
_ANTI: dict[str, frozenset[tuple[str, str]]] = {
    "azerty": frozenset({("KeyQ", "q"), ("KeyA", "a"), ("KeyW", "w"), ("KeyZ", "z"), ("KeyM", "m")}),
    "qwertz": frozenset({("KeyY", "y"), ("KeyZ", "z")}),
}

_CHAR_KEY_PREFIXES = ("Key", "Digit")
_CHAR_KEYS = frozenset(
    {
        "Minus",
        "Equal",
        "BracketLeft",
        "BracketRight",
        "Backslash",
        "Semicolon",
        "Quote",
        "Backquote",
        "Comma",
        "Period",
        "Slash",
        "IntlBackslash",
        "IntlRo",
        "IntlYen",
        "Space",
    }
)


def char_script(ch: str) -> str | None:
    """The script of one character among the ones told apart (None for Latin, digits, punctuation)."""
    if len(ch) != 1:
        return None
    cp = ord(ch)
    if cp < 0x0370:
        return None
    for lo, hi, script in _BLOCKS:
        if lo <= cp <= hi:
            return script
    return None


def _is_char_code(code: str) -> bool:
    return code.startswith(_CHAR_KEY_PREFIXES) or code in _CHAR_KEYS


def _span(t: list[float]) -> dict[str, float]:
    return {"t0_ms": float(min(t)), "t1_ms": float(max(t))}


def keyboard_observations(
    *, t_ms: np.ndarray, kind: np.ndarray, key: np.ndarray, code: np.ndarray, keycode: np.ndarray
) -> list[dict[str, Any]]:
    """What the keystroke log shows about the keyboard layout and input method.

    Returns a list of observations, each a dict with ``what`` (``mode_keys``, ``ime_process``,
    ``script``, ``layout``, ``iso_key``, ``jis_key``), ``count``, ``t0_ms``/``t1_ms`` (first and last
    event), ``implies`` (scripts or layout families it points to) and ``examples``. Empty when the log
    shows a plain QWERTY Latin keyboard (or nothing).
    """
    n = int(t_ms.shape[0])
    if n == 0:
        return []
    keys = key.tolist()
    codes = code.tolist()
    kcs = keycode.tolist() if keycode.shape == (n,) else [-1] * n
    kinds = kind.tolist()
    times = t_ms.tolist()
    mode_t: dict[str, list[float]] = {}
    process_t: list[float] = []
    script_t: dict[str, list[float]] = {}
    script_ex: dict[str, list[str]] = {}
    composed_t: dict[str, list[float]] = {}
    composed_ex: dict[str, list[str]] = {}
    sig_t: dict[str, list[float]] = {fam: [] for fam in _SIGNATURES}
    sig_ex: dict[str, list[str]] = {fam: [] for fam in _SIGNATURES}
    anti = dict.fromkeys(_SIGNATURES, 0)
    intl_t: dict[str, list[float]] = {}
    for i in range(n):
        k, c, t = keys[i] or "", codes[i] or "", times[i]
        if kinds[i] == _COMPOSITION:
            for ch in k[:64]:
                s = char_script(ch)
                if s is not None:
                    composed_t.setdefault(s, []).append(t)
                    if len(composed_ex.setdefault(s, [])) < 8:
                        composed_ex[s].append(ch)
            continue
        if kinds[i] != _DOWN:
            continue
        mode = c if c in MODE_KEYS else (k if k in MODE_KEYS else None)
        if mode is not None:
            mode_t.setdefault(mode, []).append(t)
            continue
        if not _is_char_code(c):
            continue
        if k == "Process" or kcs[i] == 229:
            process_t.append(t)
            continue
        if c in ("IntlBackslash", "IntlRo", "IntlYen"):
            intl_t.setdefault(c, []).append(t)
        if len(k) != 1:
            continue
        s = char_script(k)
        if s is not None:
            script_t.setdefault(s, []).append(t)
            if len(script_ex.setdefault(s, [])) < 8 and f"{c}->{k}" not in script_ex[s]:
                script_ex[s].append(f"{c}->{k}")
            continue
        pair = (c, k.lower())
        for fam, sig in _SIGNATURES.items():
            if pair in sig:
                sig_t[fam].append(t)
                if len(sig_ex[fam]) < 8 and f"{c}->{k}" not in sig_ex[fam]:
                    sig_ex[fam].append(f"{c}->{k}")
            elif pair in _ANTI[fam]:
                anti[fam] += 1
    out: list[dict[str, Any]] = []
    for mode, ts in sorted(mode_t.items()):
        out.append(
            {
                "what": "mode_keys",
                "key": mode,
                "count": len(ts),
                **_span(ts),
                "implies": sorted(MODE_KEYS[mode]),
                "examples": [mode],
            }
        )
    if process_t:
        out.append({"what": "ime_process", "count": len(process_t), **_span(process_t), "implies": ["ime"]})
    for s, ts in sorted(script_t.items()):
        out.append(
            {"what": "script", "script": s, "count": len(ts), **_span(ts), "implies": [s], "examples": script_ex[s]}
        )
    for s, ts in sorted(composed_t.items()):
        out.append(
            {
                "what": "script",
                "script": s,
                "composed": True,
                "count": len(ts),
                **_span(ts),
                "implies": [s],
                "examples": composed_ex[s],
            }
        )
    for fam, ts in sig_t.items():
        # a family is shown by its swaps outnumbering the same keys typed the QWERTY way
        if len(ts) >= 2 and len(ts) >= 4 * anti[fam]:
            out.append(
                {
                    "what": "layout",
                    "layout": fam,
                    "count": len(ts),
                    "against": anti[fam],
                    **_span(ts),
                    "implies": [fam],
                    "examples": sig_ex[fam],
                }
            )
    for c, ts in sorted(intl_t.items()):
        implies = ["iso"] if c == "IntlBackslash" else (["jis"] if c == "IntlYen" else ["jis", "abnt"])
        out.append(
            {
                "what": "iso_key" if c == "IntlBackslash" else "jis_key",
                "key": c,
                "count": len(ts),
                **_span(ts),
                "implies": implies,
                "examples": [c],
            }
        )
    return out


#: Countries whose keyboards are ANSI (no ``IntlBackslash`` key): an ISO key is a (weak) contradiction.
_ANSI_COUNTRIES = frozenset({"US"})

# (largest score, keys for 1 - 1/e of it) per kind of observation
_STRENGTH = {
    "script": (0.9, 2.5),
    "mode_keys": (0.7, 1.0),
    "layout": (0.7, 4.0),
    "ime_process": (0.45, 10.0),
    "jis_key": (0.5, 2.0),
    "iso_key": (0.3, 3.0),
}


def _saturating(count: int, what: str) -> float:
    top, n0 = _STRENGTH[what]
    return float(top * (1.0 - math.exp(-count / n0)))


def judge_keyboard(observations: list[dict[str, Any]], country: str) -> list[dict[str, Any]]:
    """The observations that contradict ``country`` (ISO alpha-2), each with a ``score`` in [0, 1].

    An observation is a contradiction when none of the scripts or layouts it implies is plausible for the
    country. Scores grow with the number of keys (saturating): a handful of Hangul keys is clear, one ISO key
    on a US claim is weak (keyboards travel).
    """
    c = country.upper()
    scripts = plausible_scripts(c)
    layouts = plausible_layouts(c)
    out = []
    for ob in observations:
        what = ob["what"]
        implies = set(ob["implies"])
        if what in ("script", "mode_keys"):
            contradicts = not (implies & scripts)
        elif what == "ime_process":
            contradicts = c not in IME_COUNTRIES
        elif what == "layout":
            contradicts = not (implies & layouts)
        elif what == "iso_key":
            contradicts = c in _ANSI_COUNTRIES
        elif what == "jis_key":
            contradicts = not (implies & layouts)
        else:  # pragma: no cover - every kind is listed above
            contradicts = False
        if contradicts:
            out.append({**ob, "score": _saturating(int(ob["count"]), what)})
    return out


def script_words(script: str) -> str:
    """A script's name for a sentence (``hangul`` -> ``Hangul``)."""
    return _SCRIPT_WORDS.get(script, script)
