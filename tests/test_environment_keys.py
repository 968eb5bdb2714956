"""Keyboard layout and IME evidence (signals/environment_keys) on arrays and on real Aalto typing."""

import sys

import numpy as np
import pytest

from conftest import AALTO, REPO, needs_shared
from interview_guard.signals.environment_data import country_from_location, grid_hz, plausible_scripts
from interview_guard.signals.environment_keys import char_script, judge_keyboard, keyboard_observations
from interview_guard.tracks.keystrokes import COMPOSITION, DOWN, UP

sys.path.insert(0, str(REPO / "evaluation"))
from environment_measure import FITS, INJECTIONS, inject, real_logs, run_env  # noqa: E402


def _obs(events):
    """events: (t_ms, kind, key, code, keycode)."""
    t, kind, key, code, kc = zip(*events)
    obj = lambda v: np.array(list(v), dtype=object)  # noqa: E731
    return keyboard_observations(
        t_ms=np.array(t, float), kind=np.array(kind, np.int8), key=obj(key), code=obj(code), keycode=np.array(kc)
    )


def _typed(pairs, t0=1000.0, kc=-1):
    out = []
    for i, (code, key) in enumerate(pairs):
        out += [(t0 + 200 * i, DOWN, key, code, kc), (t0 + 200 * i + 90, UP, key, code, kc)]
    return out


def test_plain_us_typing_is_no_observation():
    assert _obs(_typed([("KeyH", "h"), ("KeyI", "i"), ("Space", " "), ("KeyQ", "Q"), ("KeyZ", "z")])) == []
    e = np.zeros(0)
    empty = keyboard_observations(
        t_ms=e, kind=e.astype(np.int8), key=e.astype(object), code=e.astype(object), keycode=e
    )
    assert empty == []


def test_scripts_are_told_apart():
    assert [char_script(c) for c in "aéдαאاกㅎかア中"] == [
        None,
        None,
        "cyrillic",
        "greek",
        "hebrew",
        "arabic",
        "thai",
        "hangul",
        "kana",
        "kana",
        "han",
    ]
    assert char_script("ab") is None


def test_hangul_after_lang1_is_seen_and_judged_by_the_claim():
    ev = [(900.0, DOWN, "HangulMode", "Lang1", -1), (990.0, UP, "HangulMode", "Lang1", -1)]
    ev += _typed([("KeyG", "ㅎ"), ("KeyK", "ㅏ"), ("KeyS", "ㄴ"), ("KeyR", "ㄱ"), ("KeyM", "ㅡ")])
    obs = _obs(ev)
    kinds = {o["what"] for o in obs}
    assert kinds == {"mode_keys", "script"}
    script = next(o for o in obs if o["what"] == "script")
    assert script["script"] == "hangul" and script["count"] == 5
    us = judge_keyboard(obs, "US")
    assert {o["what"] for o in us} == {"mode_keys", "script"}
    assert max(o["score"] for o in us) > 0.7
    assert judge_keyboard(obs, "KR") == []  # a Korean keyboard in Korea is no evidence


def test_ime_process_and_composed_text():
    ev = _typed([("KeyK", "Process"), ("KeyA", "Process")], kc=229)
    ev += [(1500.0, COMPOSITION, "か", "", -1)]
    ev.sort(key=lambda e: e[0])
    obs = _obs(ev)
    assert {o["what"] for o in obs} == {"ime_process", "script"}
    assert next(o for o in obs if o["what"] == "script").get("composed")
    assert judge_keyboard(obs, "JP") == []
    assert {o["what"] for o in judge_keyboard(obs, "DE")} == {"ime_process", "script"}
    # keyCode 229 from a phone's virtual keyboard has no physical code: not an IME observation
    assert _obs([(1.0, DOWN, "Unidentified", "", 229)]) == []


def test_azerty_and_qwertz_swaps_need_the_pattern():
    azerty = _typed([("KeyQ", "a"), ("KeyW", "z"), ("Semicolon", "m"), ("KeyE", "e")])
    obs = _obs(azerty)
    assert [o["layout"] for o in obs if o["what"] == "layout"] == ["azerty"]
    assert judge_keyboard(obs, "FR") == [] and judge_keyboard(obs, "US")
    qwertz = _typed([("KeyY", "z"), ("KeyZ", "y"), ("KeyY", "z")])
    assert [o["layout"] for o in _obs(qwertz) if o["what"] == "layout"] == ["qwertz"]
    assert judge_keyboard(_obs(qwertz), "DE") == []
    # one odd pair among many QWERTY presses of the same keys is no layout (a remap, a typo in a log)
    mixed = _typed([("KeyY", "z")] + [("KeyY", "y"), ("KeyZ", "z")] * 3)
    assert [o for o in _obs(mixed) if o["what"] == "layout"] == []


def test_iso_and_jis_keys():
    obs = _obs(_typed([("IntlBackslash", "<"), ("IntlYen", "¥")]))
    assert {o["what"] for o in obs} == {"iso_key", "jis_key"}
    us = judge_keyboard(obs, "US")
    assert {o["what"] for o in us} == {"iso_key", "jis_key"}
    assert max(o["score"] for o in us if o["what"] == "iso_key") < 0.35  # weak: keyboards travel
    assert {o["what"] for o in judge_keyboard(obs, "JP")} == set()  # ISO is not judged outside ANSI countries


def test_country_tables():
    assert country_from_location("Chicago, IL") == "US"
    assert country_from_location("Berlin, Germany") == "DE"
    assert country_from_location("Seoul, KR") == "KR"
    assert country_from_location("Seoul") == "KR"
    assert country_from_location("Montreal, QC") == "CA"
    assert country_from_location("somewhere nice") is None
    assert grid_hz("US") == (60,) and grid_hz("DE") == (50,) and grid_hz("KR") == (60,)
    assert grid_hz("JP") == (50, 60) and grid_hz("ZZ") == () and grid_hz(None) == ()
    assert "hangul" in plausible_scripts("KR") and plausible_scripts("US") == {"latin"}


@needs_shared(AALTO)
@pytest.mark.parametrize("claim", ["US", "DE", "FR", "KR", "JP", "RU"])
def test_no_real_typist_is_flagged(claim):
    logs = real_logs(AALTO.parents[1])
    assert len(logs) >= 10
    flagged = [name for name, log in logs if run_env(log=log, meta={"claimed_country": claim}).evidence]
    assert flagged == []


@needs_shared(AALTO)
@pytest.mark.parametrize("what", INJECTIONS)
def test_injected_layouts_and_ime_are_caught_on_real_typing(what):
    logs = real_logs(AALTO.parents[1])[:5]
    for name, log in logs:
        lg = inject(log, what)
        r = run_env(log=lg, meta={"claimed_location": "Chicago, IL"})
        assert r.evidence and r.evidence[0].kind == "keyboard_layout", (name, what)
        assert "Chicago, IL" in r.evidence[0].summary
        floor = 0.1 if what == "iso_key" else 0.6
        assert r.score >= floor, (name, what, r.score)
        assert not run_env(log=lg, meta={"claimed_country": FITS[what]}).evidence, (name, what)


@needs_shared(AALTO)
def test_hangul_sentence_names_the_moment_and_the_toggle():
    name, log = real_logs(AALTO.parents[1])[0]
    r = run_env(log=inject(log, "hangul_lang1"), meta={"claimed_location": "Chicago, IL"})
    text = " ".join(e.summary for e in r.evidence)
    assert "5 characters in Hangul" in text and "after a Lang1 toggle" in text and "claimed location Chicago" in text
