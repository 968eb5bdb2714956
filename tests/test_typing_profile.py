"""typing_profile: the profile, the distance and P(same typist), on arrays and on the real Aalto typists."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from conftest import AALTO, REPO, needs_shared
from interview_guard.errors import ParameterError
from interview_guard.signals import typing_profile as tp
from interview_guard.signals.metrics import roc_auc

WORDS = (
    "the of and to in is it that was he for on are as with his they at be this have from or one had by word "
    "but not what all were we when your can said there use an each which she do how their if will up other "
    "about out many then them these so some her would make like him into time has look two more write go see"
).split()


def synthetic_typist(
    *, seed: int, n_words: int = 120, hold_ms: float, dd_ms: float, key_shift: dict[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Press, release and code arrays of a typist with known hold and latency distributions.

    Holds are lognormal around ``hold_ms`` (times a per-key factor), down-down
    latencies lognormal around ``dd_ms`` with a pause of about a second every
    eight words.
    """
    r = np.random.default_rng(seed)
    shift = key_shift or {}
    text = " ".join(WORDS[int(i)] for i in r.integers(len(WORDS), size=n_words))
    codes = ["Space" if ch == " " else f"Key{ch.upper()}" for ch in text]
    n = len(codes)
    dd = dd_ms * np.exp(r.normal(0.0, 0.25, n))
    dd[r.random(n) < 1 / 40] += 1000.0
    press = 1000.0 + np.cumsum(dd)
    hold = np.array([hold_ms * shift.get(c, 1.0) for c in codes]) * np.exp(r.normal(0.0, 0.15, n))
    return press, press + hold, np.array(codes, dtype=object)


def profile(press, release, code):
    return tp.typing_profile(press_ms=press, release_ms=release, code=code)


def test_layout_and_constants():
    assert tp.N_FEATURES == len(tp.FEATURE_NAMES) == tp.FEATURE_SCALES.shape[0] == tp.FEATURE_GROUPS.shape[0]
    assert len(set(tp.FEATURE_NAMES)) == tp.N_FEATURES
    assert np.all(tp.FEATURE_SCALES > 0)
    assert tp.SAME_PERSON_LOGIT[1] < 0  # larger distance, lower probability


def test_synthetic_typist_is_closer_to_itself_than_to_another():
    a = {"hold_ms": 90.0, "dd_ms": 160.0}
    b = {"hold_ms": 125.0, "dd_ms": 210.0, "key_shift": {"KeyE": 1.4, "Space": 0.8}}
    a1, q1 = profile(*synthetic_typist(seed=1, **a))
    a2, q2 = profile(*synthetic_typist(seed=2, **a))
    b1, _ = profile(*synthetic_typist(seed=3, **b))
    assert q1 == q2 == 1.0
    same = tp.profile_distance(a1, a2)
    diff = tp.profile_distance(a1, b1)
    assert same < 0.6 * diff
    assert tp.same_person_probability(same) > 0.5 > tp.same_person_probability(diff)
    # the known medians come back: log of the hold and latency medians
    names = list(tp.FEATURE_NAMES)
    assert np.exp(a1[names.index("hold_med")]) == pytest.approx(90.0, rel=0.05)
    assert np.exp(a1[names.index("dd_med")]) == pytest.approx(160.0, rel=0.05)
    assert np.exp(b1[names.index("hold:KeyE")]) == pytest.approx(125.0 * 1.4, rel=0.1)


def test_distance_uses_only_shared_features():
    v, _ = profile(*synthetic_typist(seed=4, hold_ms=100.0, dd_ms=180.0))
    w = v.copy()
    missing = np.flatnonzero(np.isfinite(v))[-10:]
    w[missing] = np.nan
    assert tp.profile_distance(v, w) == 0.0  # NaN entries are left out, not counted as differences
    w2 = w.copy()
    w2[np.isfinite(w2)] += 0.1
    scaled = 0.1 / tp.FEATURE_SCALES[np.isfinite(w2)]
    assert tp.profile_distance(v, w2) == pytest.approx(float(np.mean(scaled)))
    assert tp.profile_distance(v, w2) == tp.profile_distance(w2, v)
    empty = np.full(tp.N_FEATURES, np.nan)
    assert np.isnan(tp.profile_distance(v, empty))
    assert np.isnan(tp.profile_distance(v, v[:-1]))  # wrong length: not comparable
    assert np.isnan(tp.same_person_probability(float("nan")))


def test_too_little_typing_gives_quality_zero():
    for n in (0, 1, 5, 39):
        p, r, c = synthetic_typist(seed=5, hold_ms=100.0, dd_ms=180.0)
        vec, q = profile(p[:n], r[:n], c[:n])
        assert q == 0.0
        assert vec.shape == (tp.N_FEATURES,) and np.all(np.isnan(vec))
    vec, q = profile([], [], [])
    assert q == 0.0
    # enough presses but spread far apart: no digraphs, no profile
    vec, q = profile(np.arange(100) * 10_000.0, np.arange(100) * 10_000.0 + 90.0, ["KeyE"] * 100)
    assert q == 0.0


def test_quality_grows_with_typing():
    p, r, c = synthetic_typist(seed=6, hold_ms=100.0, dd_ms=180.0, n_words=200)
    qs = [profile(p[:n], r[:n], c[:n])[1] for n in (60, 150, 250, 600)]
    assert 0.0 < qs[0] < qs[1] < qs[2] <= qs[3] == 1.0


def test_relay_damage_is_never_an_error(rng):
    """Duplicated, reordered and lost events, missing key-ups, zero holds, NaN: a profile, no exception."""
    p, r, c = synthetic_typist(seed=7, hold_ms=100.0, dd_ms=180.0)
    clean, q0 = profile(p, r, c)
    n = p.size
    dup = rng.choice(n, 30, replace=False)
    p2, r2, c2 = np.r_[p, p[dup]], np.r_[r, r[dup]], np.r_[c, c[dup]]
    order = rng.permutation(p2.size)
    p2, r2, c2 = p2[order], r2[order], c2[order]
    r2[rng.random(p2.size) < 0.1] = np.nan  # lost key-ups
    r2[:5] = p2[:5]  # zero holds (down and up in one message)
    r2[5:8] = p2[5:8] - 50.0  # release before press
    p2[8] = np.nan
    c2[9] = None
    vec, q = profile(p2, r2, c2)
    assert vec.shape == (tp.N_FEATURES,) and q > 0
    assert tp.profile_distance(vec, clean) < 0.3
    # a relay that collapsed groups of events onto one instant
    p3 = np.round(p / 300.0) * 300.0
    vec3, q3 = profile(p3, p3 + 1.0, c)
    assert vec3.shape == (tp.N_FEATURES,)
    assert np.isfinite(tp.profile_distance(vec3, clean)) or q3 == 0.0
    # mismatched lengths are cut to the shortest, not an error
    vec4, _ = profile(p, r[:-3], c)
    assert vec4.shape == (tp.N_FEATURES,)


def test_logistic_fit_recovers_the_ordering():
    r = np.random.default_rng(0)
    same = r.normal(0.7, 0.1, 50)
    diff = r.normal(1.5, 0.4, 400)
    a, b = tp.fit_same_person_logistic(same=same, different=diff)
    assert b < 0
    mid = -a / b  # P = 0.5 (class-balanced) between the two groups
    assert 0.8 < mid < 1.2
    assert tp.same_person_probability(0.6, params=(a, b)) > 0.9
    assert tp.same_person_probability(2.0, params=(a, b)) < 0.1
    # a prior shifts the log-odds
    p_half = tp.same_person_probability(mid, params=(a, b))
    assert p_half == pytest.approx(0.5, abs=1e-6)
    assert tp.same_person_probability(mid, params=(a, b), prior=0.01) == pytest.approx(0.01, rel=1e-3)
    # separable sets stay finite
    a2, b2 = tp.fit_same_person_logistic(same=[0.1, 0.2], different=[2.0, 3.0])
    assert np.isfinite(a2) and np.isfinite(b2) and b2 < 0
    assert tp.fit_same_person_logistic(same=[], different=[1.0]) == (0.0, 0.0)


def test_population_scales_shape_check():
    with pytest.raises(ParameterError):
        tp.population_scales(np.zeros((3, 4)))
    rows = np.array([profile(*synthetic_typist(seed=s, hold_ms=80.0 + 10 * s, dd_ms=170.0))[0] for s in range(6)])
    sc = tp.population_scales(rows)
    assert sc.shape == (tp.N_FEATURES,) and np.all(sc > 0)
    assert len(set(sc[tp.FEATURE_GROUPS == 2].tolist())) == 1  # one scale for the digraph group


def _eval_module():
    path = REPO / "evaluation" / "typing_profile_eval.py"
    spec = importlib.util.spec_from_file_location("typing_profile_eval", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("typing_profile_eval", mod)
    spec.loader.exec_module(mod)
    return mod


@needs_shared(AALTO)
def test_real_aalto_typists_same_halves_closer():
    """Measured (docs/typing-profile.md): 14/14 typists nearer their own other half, AUC 0.995, rank-1 1.00."""
    ev = _eval_module()
    logs = ev.load_aalto(2)
    ids = list(logs)
    assert len(ids) >= 10
    prof = {u: [ev.profile_of(x)[0] for x in logs[u]] for u in ids}
    nearer = 0
    for u in ids:
        own = tp.profile_distance(prof[u][0], prof[u][1])
        others = min(tp.profile_distance(prof[u][0], prof[v][1]) for v in ids if v != u)
        nearer += own < others
    assert nearer >= len(ids) - 2  # measured: all of them
    r = ev.evaluate(prof, ids, scales=tp.FEATURE_SCALES, weights=tp.GROUP_WEIGHTS)
    labels = np.r_[np.ones(r["same"].size), np.zeros(r["diff"].size)]
    assert roc_auc(labels=labels, scores=-np.r_[r["same"], r["diff"]]) >= 0.95  # measured 0.995
    assert r["rank1"] >= 0.85  # measured 1.00
    # the module's population scales are the ones the tuning protocol gives
    tune_logs = ev.load_aalto(ev.TUNE_PARTS)
    tune = list(tune_logs)[0::2]
    pop = np.array([ev.profile_of(x)[0] for u in tune for x in tune_logs[u]])
    assert np.allclose(tp.population_scales(pop), tp.FEATURE_SCALES, rtol=0.01)


def test_relay_robust_leaves_out_the_spread_features_jitter_changes(rng):
    p, r, c = synthetic_typist(seed=8, hold_ms=100.0, dd_ms=180.0, n_words=200)
    clean, _ = profile(p, r, c)
    # independent jitter on every event (a relay with 15 ms lognormal jitter, in order per key)
    jp = p + rng.lognormal(np.log(15.0), 0.8, p.size)
    jr = r + rng.lognormal(np.log(15.0), 0.8, r.size)
    jittered, _ = profile(jp, jr, c)
    names = list(tp.FEATURE_NAMES)
    i = names.index("hold_iqr")
    assert jittered[i] > clean[i]  # jitter widens the hold spread
    plain = tp.profile_distance(clean, jittered)
    robust = tp.profile_distance(clean, jittered, relay_robust=True)
    assert robust < plain
    w = jittered.copy()
    w[[names.index(n) for n in tp.RELAY_SENSITIVE]] += 5.0
    assert tp.profile_distance(clean, w, relay_robust=True) == pytest.approx(robust)
