"""Tests of interview_guard.synth.relay_sim (synthetic arrays plus the Aalto traces)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from interview_guard.errors import ParameterError
from interview_guard.io.keystroke_log import (
    dumps_jsonl,
    keystroke_log_from_presses,
    parse_keystroke_lines,
    read_keystroke_log,
)
from interview_guard.synth.relay_profiles import JITTER_DISTS, PROFILES, RelayProfile, relay_description
from interview_guard.synth.relay_sim import simulate_relay, simulate_transport
from interview_guard.tracks.keystrokes import DOWN, KeystrokeLog

AALTO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "keystrokes" / "aalto136m"

LETTERS = np.array([f"Key{chr(65 + i)}" for i in range(26)], dtype=object)


# ------------------------------------------------------------------ helpers
def typing_log(
    n_presses: int = 2000,
    *,
    gap_ms: float = 180.0,
    hold_ms: float = 90.0,
    seed: int = 0,
    start_ms: float = 1_000.0,
    regular: bool = False,
) -> KeystrokeLog:
    """Synthetic typing: lognormal press gaps and holds (or exactly regular ones)."""
    rng = np.random.default_rng(seed)
    if regular:
        gaps = np.full(n_presses, gap_ms)
        holds = np.full(n_presses, hold_ms)
    else:
        gaps = rng.lognormal(np.log(gap_ms), 0.5, n_presses)
        holds = rng.lognormal(np.log(hold_ms), 0.3, n_presses)
    press = start_ms + np.cumsum(gaps)
    codes = LETTERS[rng.integers(0, 26, n_presses)]
    keys = np.array([c[-1].lower() for c in codes], dtype=object)
    return keystroke_log_from_presses(press_ms=press, release_ms=press + holds, key=keys, code=codes)


def sparse_log(n: int, *, gap_ms: float = 1000.0) -> KeystrokeLog:
    """Key-downs only, far apart, so in-order delivery never binds."""
    t = 500.0 + gap_ms * np.arange(n)
    codes = LETTERS[np.arange(n) % 26]
    return KeystrokeLog.from_arrays(t_ms=t, kind=np.full(n, DOWN, np.int8), key=codes, code=codes)


def profile(**kw) -> RelayProfile:
    kw.setdefault("name", "test")
    return RelayProfile(**kw)


def assert_contract(out: KeystrokeLog, src: KeystrokeLog) -> None:
    """Same events in the same order, sorted times, no identical event twice at one time."""
    assert len(out) == len(src)
    assert np.array_equal(out.kind, src.kind)
    assert np.array_equal(out.code, src.code)
    assert np.array_equal(out.key, src.key)
    assert np.array_equal(out.repeat, src.repeat)
    assert np.array_equal(out.length, src.length)
    assert np.isfinite(out.t_ms).all()
    assert (np.diff(out.t_ms) >= 0).all()
    idents = set(zip(out.t_ms.tolist(), out.kind.tolist(), out.key.tolist(), out.code.tolist()))
    assert len(idents) == len(out)


def burst_starts(t: np.ndarray, *, min_events: int = 3, within_ms: float = 3.0, gap_before_ms: float = 100.0) -> int:
    """Number of places where >= min_events events arrive within `within_ms` after a silence."""
    n = t.size
    k = min_events - 1
    if n <= k:
        return 0
    span = t[k:] - t[:-k]  # span of events i..i+k
    gap_before = np.r_[np.inf, np.diff(t)][: n - k]
    return int(np.count_nonzero((span <= within_ms) & (gap_before >= gap_before_ms)))


@pytest.fixture(scope="module")
def aalto_logs():
    if not AALTO_DIR.is_dir():
        pytest.skip(f"{AALTO_DIR} is missing")
    files = sorted(AALTO_DIR.glob("*_keystrokes.txt"))
    if not files:
        pytest.skip(f"no *_keystrokes.txt in {AALTO_DIR}")
    return [read_keystroke_log(f) for f in files]


# ------------------------------------------------------------------ presets and profiles
def test_presets_are_valid_and_named():
    assert {"none", "lan_rdp", "intl_rdp", "intl_rdp_congested", "kvm_ip"} <= set(PROFILES)
    for name, p in PROFILES.items():
        p.validate()
        assert p.name == name
    assert PROFILES["none"].is_identity
    assert not any(p.is_identity for n, p in PROFILES.items() if n != "none")
    lan, intl, cong, kvm = (PROFILES[n] for n in ("lan_rdp", "intl_rdp", "intl_rdp_congested", "kvm_ip"))
    assert lan.base_delay_ms < 20 and lan.jitter_ms <= 3
    assert intl.base_delay_ms >= 110  # the Amazon case: > 110 ms where tens of ms are normal
    assert cong.jitter_ms > intl.jitter_ms and cong.loss_rate > intl.loss_rate
    assert cong.stall_rate_per_min > intl.stall_rate_per_min
    assert kvm.send_tick_ms > 0


def test_jitter_mean_per_distribution():
    sd = 12.0
    means = {d: profile(jitter_ms=sd, jitter_dist=d).jitter_mean_ms for d in JITTER_DISTS}
    assert means["lognormal"] == pytest.approx(sd)
    assert means["gamma"] == pytest.approx(sd / np.sqrt(2))
    assert means["pareto"] == pytest.approx(sd / np.sqrt(3))
    assert profile(base_delay_ms=100, jitter_ms=sd).expected_delay_ms == pytest.approx(100 + sd)


def test_relay_description_is_one_line():
    for p in PROFILES.values():
        text = relay_description(p)
        assert "\n" not in text and text.startswith(p.name + ":")
    assert "no relay" in relay_description(PROFILES["none"])
    assert "10 ms send tick" in relay_description(PROFILES["kvm_ip"])


@pytest.mark.parametrize(
    "bad",
    [
        dict(base_delay_ms=-1.0),
        dict(base_delay_ms=float("nan")),
        dict(jitter_ms=float("inf")),
        dict(jitter_ms=-0.1),
        dict(jitter_dist="normal"),
        dict(stall_rate_per_min=-1.0),
        dict(stall_ms=-5.0),
        dict(send_tick_ms=-10.0),
        dict(loss_rate=1.0),
        dict(loss_rate=-0.01),
        dict(loss_rate=0.1, rto_ms=0.0),
        dict(rto_ms=-200.0),
        dict(inject_quantum_ms=-1.0),
        dict(base_delay_ms="150"),
        dict(base_delay_ms=True),
        dict(key_up_coalesce="yes"),
        dict(name=""),
    ],
)
def test_invalid_profile_raises(bad):
    p = profile(**bad)
    with pytest.raises(ParameterError):
        p.validate()
    with pytest.raises(ParameterError):
        simulate_relay(sparse_log(5), p, seed=0)
    with pytest.raises(ParameterError):
        relay_description(p)


def test_invalid_inputs_raise():
    log = sparse_log(5)
    with pytest.raises(ParameterError):
        simulate_relay(log, "intl_rdp", seed=0)
    with pytest.raises(ParameterError):
        simulate_relay(log, PROFILES["intl_rdp"], seed=1.5)
    with pytest.raises(ParameterError):
        simulate_relay(log, PROFILES["intl_rdp"], seed=-1)
    unsorted = KeystrokeLog.from_arrays(t_ms=[3.0, 1.0], kind=[DOWN, DOWN])
    with pytest.raises(ParameterError):
        simulate_relay(unsorted, PROFILES["intl_rdp"], seed=0)
    with pytest.raises(ParameterError):
        simulate_relay(log, PROFILES["intl_rdp"], seed=0, server_clock=True, server_lag_ms=-1)
    with pytest.raises(ParameterError):
        simulate_transport(log, lag_ms=-5, jitter_ms=1, seed=0)
    with pytest.raises(ParameterError):
        simulate_transport(log, lag_ms=100, jitter_ms=float("nan"), seed=0)
    with pytest.raises(ParameterError):
        simulate_transport(log, lag_ms=100, jitter_ms=10, seed=0, jitter_dist="cauchy")
    with pytest.raises(ParameterError):  # lognormal jitter mean 30 > lag 10
        simulate_transport(log, lag_ms=10, jitter_ms=30, seed=0, jitter_dist="lognormal")


# ------------------------------------------------------------------ basic behaviour
def test_identity_profile_returns_identical_times():
    log = typing_log(3000, seed=1)
    out = simulate_relay(log, PROFILES["none"], seed=0)
    assert np.array_equal(out.t_ms, log.t_ms)
    assert_contract(out, log)
    assert np.isnan(out.recv_ms).all()


def test_empty_log():
    out = simulate_relay(KeystrokeLog.empty(), PROFILES["kvm_ip"], seed=0, server_clock=True)
    assert len(out) == 0
    assert len(simulate_transport(KeystrokeLog.empty(), lag_ms=10, jitter_ms=1, seed=0)) == 0


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_output_sorted_same_events_and_order(name):
    log = typing_log(3000, gap_ms=120, seed=2)
    out = simulate_relay(log, PROFILES[name], seed=7)
    assert_contract(out, log)
    # relays only delay: nothing arrives before it was typed (minus one clock quantum)
    assert (out.t_ms - log.t_ms >= -PROFILES[name].inject_quantum_ms - 1e-9).all()
    # key-ups still pair with their key-downs
    assert len(out.presses()) == len(log.presses())
    assert (np.nan_to_num(out.presses().hold_ms) >= 0).all()


@pytest.mark.parametrize("dist", JITTER_DISTS)
def test_mean_added_delay_is_base_plus_jitter_mean(dist):
    p = profile(base_delay_ms=100.0, jitter_ms=10.0, jitter_dist=dist)
    log = sparse_log(20_000)
    delay = simulate_relay(log, p, seed=11).t_ms - log.t_ms
    assert (delay >= 100.0 - 1e-6).all()
    assert delay.mean() == pytest.approx(p.expected_delay_ms, abs=0.5)
    if dist != "pareto":  # the Lomax sample sd converges slowly (infinite 4th moment)
        assert delay.std() == pytest.approx(10.0, rel=0.1)


def test_constant_delay_leaves_intervals_unchanged():
    """Kuzminykh et al.: constant latency alone does not change keystroke timing."""
    log = typing_log(3000, seed=3)
    out = simulate_relay(log, profile(base_delay_ms=150.0), seed=0)
    assert np.allclose(out.t_ms - log.t_ms, 150.0, atol=1e-9)
    assert np.allclose(np.diff(out.t_ms), np.diff(log.t_ms), atol=1e-9)


def test_jitter_inflates_interval_variance():
    log = typing_log(3000, seed=4)
    base_var = np.var(np.diff(log.t_ms))
    out = simulate_relay(log, profile(base_delay_ms=150.0, jitter_ms=20.0), seed=0)
    assert np.var(np.diff(out.t_ms)) > base_var * 1.05
    # and more jitter inflates it more
    out2 = simulate_relay(log, profile(base_delay_ms=150.0, jitter_ms=40.0), seed=0)
    assert np.var(np.diff(out2.t_ms)) > np.var(np.diff(out.t_ms))


def test_stalls_create_bursts():
    log = typing_log(5000, gap_ms=120, hold_ms=60, regular=True, seed=5)  # 10 min, events 60 ms apart
    assert burst_starts(log.t_ms) == 0
    p = profile(base_delay_ms=50.0, stall_rate_per_min=6.0, stall_ms=300.0)
    out = simulate_relay(log, p, seed=3)
    n_bursts = burst_starts(out.t_ms)
    assert n_bursts >= 20  # ~60 stalls, most longer than two event gaps
    # released events follow each other within ~1 ms
    d = np.diff(out.t_ms)
    assert np.count_nonzero(d < 1.0) >= 3 * n_bursts
    # everything was delayed by at least the base delay, some by a whole stall
    extra = out.t_ms - log.t_ms - 50.0
    assert extra.min() >= -1e-9 and extra.max() > 200.0


def test_send_tick_quantises_arrivals_to_grid():
    tick = 16.0
    log = typing_log(3000, seed=6)
    p = profile(base_delay_ms=40.0, send_tick_ms=tick)
    out = simulate_relay(log, p, seed=8)
    resid = np.mod(out.t_ms - out.t_ms[0], tick)
    on_grid = np.mean((resid < 2.0) | (resid > tick - 1e-6))
    assert on_grid > 0.9
    # without the tick the residues are spread over the whole tick
    free = simulate_relay(log, profile(base_delay_ms=40.0), seed=8)
    resid_free = np.mod(free.t_ms - free.t_ms[0], tick)
    assert np.mean((resid_free < 2.0) | (resid_free > tick - 1e-6)) < 0.3
    # every event waited less than one tick
    wait = out.t_ms - log.t_ms - 40.0
    assert wait.min() >= -1e-6 and wait.max() < tick + 2.0


def test_key_up_coalesce_squeezes_or_defers_holds():
    tick = 50.0
    log = typing_log(2000, gap_ms=300, hold_ms=40, seed=9)
    hold_in = log.presses().hold_ms
    coalesced = simulate_relay(log, profile(base_delay_ms=20.0, send_tick_ms=tick, key_up_coalesce=True), seed=1)
    deferred = simulate_relay(log, profile(base_delay_ms=20.0, send_tick_ms=tick, key_up_coalesce=False), seed=1)
    h_co = coalesced.presses().hold_ms
    h_de = deferred.presses().hold_ms
    assert np.nanmedian(hold_in) > 30
    # a down at a uniform phase within the tick shares it with its up with probability 1 - hold / tick
    expected_shared = np.mean(np.clip(1.0 - hold_in / tick, 0.0, 1.0))
    assert expected_shared > 0.1
    assert np.mean(h_co < 1.0) == pytest.approx(expected_shared, abs=0.04)  # injected back to back
    # otherwise whole ticks (give or take the injection gaps of other keys sharing a message)
    assert np.all((h_co < 1.0) | (np.abs(np.mod(h_co + 1.0, tick) - 1.0) < 1.0))
    assert np.nanmin(h_de) >= tick - 1.0  # the up waits for the next report (less injection gaps)
    assert_contract(coalesced, log)
    assert_contract(deferred, log)


def test_loss_adds_rto_sized_holds():
    rto = 200.0
    log = sparse_log(5000)
    p = profile(base_delay_ms=50.0, loss_rate=0.05, rto_ms=rto)
    extra = simulate_relay(log, p, seed=12).t_ms - log.t_ms - 50.0
    allowed = np.array([0.0, rto, 3 * rto, 7 * rto, 15 * rto])
    assert np.min(np.abs(extra[:, None] - allowed[None, :]), axis=1).max() < 1e-6
    lost = np.mean(extra > 1.0)
    assert 0.03 < lost < 0.07
    # dense typing: the events behind a lost one are held and released right behind it
    dense = typing_log(3000, gap_ms=60, hold_ms=40, regular=True, seed=13)
    out = simulate_relay(dense, p, seed=12)
    extra = out.t_ms - dense.t_ms - 50.0
    held_behind = (extra > 1.0) & (extra < rto - 1.0)
    assert held_behind.any()
    idx = np.flatnonzero(held_behind)
    assert np.all(out.t_ms[idx] - out.t_ms[idx - 1] < 1.0)


def test_identical_events_never_share_a_time():
    # auto-repeat burst of one key 0.3 ms apart: the 1 ms clock and the tick fold them together
    n = 60
    t = 1000.0 + 0.3 * np.arange(n)
    log = KeystrokeLog.from_arrays(
        t_ms=t,
        kind=np.full(n, DOWN, np.int8),
        key=["a"] * n,
        code=["KeyA"] * n,
        repeat=np.r_[False, np.ones(n - 1, bool)],
    )
    for p in (
        profile(inject_quantum_ms=1.0),
        profile(send_tick_ms=20.0, inject_quantum_ms=1.0),
        profile(stall_rate_per_min=600.0, stall_ms=5000.0),
    ):
        out = simulate_relay(log, p, seed=0)
        assert_contract(out, log)


# ------------------------------------------------------------------ determinism and size
@pytest.mark.parametrize("name", ["intl_rdp_congested", "kvm_ip"])
def test_same_seed_same_output_different_seed_different(name):
    log = typing_log(3000, seed=14)
    a = simulate_relay(log, PROFILES[name], seed=123, server_clock=True)
    b = simulate_relay(log, PROFILES[name], seed=123, server_clock=True)
    c = simulate_relay(log, PROFILES[name], seed=124, server_clock=True)
    g = simulate_relay(log, PROFILES[name], seed=np.random.default_rng(123), server_clock=True)
    assert a.t_ms.tobytes() == b.t_ms.tobytes() == g.t_ms.tobytes()
    assert a.recv_ms.tobytes() == b.recv_ms.tobytes()
    assert not np.array_equal(a.t_ms, c.t_ms)
    ta = simulate_transport(log, lag_ms=120, jitter_ms=30, seed=5)
    tb = simulate_transport(log, lag_ms=120, jitter_ms=30, seed=5)
    tc = simulate_transport(log, lag_ms=120, jitter_ms=30, seed=6)
    assert ta.recv_ms.tobytes() == tb.recv_ms.tobytes()
    assert not np.array_equal(ta.recv_ms, tc.recv_ms)


def test_large_log_runs():
    log = typing_log(100_000, gap_ms=150, seed=15)  # 200,000 events
    for name in ("intl_rdp_congested", "kvm_ip"):
        out = simulate_relay(log, PROFILES[name], seed=0)
        assert len(out) == 200_000
        assert (np.diff(out.t_ms) >= 0).all()


# ------------------------------------------------------------------ server clock and transport
def test_server_clock_recv_stays_close_to_local_times():
    log = typing_log(2000, seed=16)
    out = simulate_relay(log, PROFILES["intl_rdp"], seed=2, server_clock=True)
    lag = out.recv_ms - out.t_ms
    assert np.isfinite(lag).all()
    assert 5.0 <= np.median(lag) <= 15.0  # the relay hides behind t_ms, not in recv - t
    assert np.median(out.t_ms - log.t_ms) > 140.0
    assert (np.diff(out.recv_ms) >= 0).all()


@pytest.mark.parametrize("lag,jit", [(120.0, 30.0), (8.0, 2.0)])
def test_transport_lag_mean_and_spread(lag, jit):
    log = sparse_log(10_000, gap_ms=500)
    out = simulate_transport(log, lag_ms=lag, jitter_ms=jit, seed=3)
    assert np.array_equal(out.t_ms, log.t_ms)
    d = out.recv_ms - out.t_ms
    assert d.min() >= 0
    assert d.mean() == pytest.approx(lag, abs=0.05 * lag + 0.2)
    assert d.std() == pytest.approx(jit, rel=0.1)
    assert (np.diff(out.recv_ms) >= 0).all()


@pytest.mark.parametrize("dist", JITTER_DISTS)
def test_transport_skewed_jitter_keeps_mean(dist):
    log = sparse_log(20_000, gap_ms=500)
    out = simulate_transport(log, lag_ms=120, jitter_ms=30, seed=4, jitter_dist=dist, clock_offset_ms=1000.0)
    d = out.recv_ms - out.t_ms - 1000.0
    assert d.mean() == pytest.approx(120.0, abs=2.0)
    assert d.min() >= 120.0 - 30.0 * profile(jitter_ms=1.0, jitter_dist=dist).jitter_mean_ms - 1e-6


# ------------------------------------------------------------------ real traces (Aalto 136M)
@pytest.mark.shared
def test_aalto_identity_and_constant_delay(aalto_logs):
    for log in aalto_logs:
        same = simulate_relay(log, PROFILES["none"], seed=0)
        assert np.array_equal(same.t_ms, log.t_ms)
        shifted = simulate_relay(log, profile(base_delay_ms=150.0, inject_quantum_ms=1.0), seed=0)
        # Aalto times are whole milliseconds, so a whole-ms delay keeps every interval exactly
        assert np.array_equal(np.diff(shifted.t_ms), np.diff(log.t_ms))


@pytest.mark.shared
def test_aalto_presets_keep_contract_and_inflate_variance(aalto_logs):
    for i, log in enumerate(aalto_logs):
        for name in ("intl_rdp", "intl_rdp_congested", "kvm_ip"):
            out = simulate_relay(log, PROFILES[name], seed=i, server_clock=True)
            assert_contract(out, log)
            delay = out.t_ms - log.t_ms
            assert np.median(delay) >= 140.0
            assert len(out.presses()) == len(log.presses())
            # the output is a valid keystroke log file (sorted, no duplicates)
            again = parse_keystroke_lines(dumps_jsonl(out).splitlines(), fmt="jsonl")
            assert len(again) == len(out)
    # jitter inflates the spread of short inter-key intervals, pooled over people
    base, jittered = [], []
    for i, log in enumerate(aalto_logs):
        out = simulate_relay(log, profile(base_delay_ms=150.0, jitter_ms=20.0), seed=i)
        d0, d1 = np.diff(log.t_ms), np.diff(out.t_ms)
        short = d0 < 300  # within-word intervals (pauses would swamp the variance)
        base.append(d0[short])
        jittered.append(d1[short])
    assert np.var(np.concatenate(jittered)) > 1.2 * np.var(np.concatenate(base))


@pytest.mark.shared
def test_aalto_transport_lag(aalto_logs):
    log = aalto_logs[0]
    out = simulate_transport(log, lag_ms=120.0, jitter_ms=30.0, seed=1)
    lag = out.recv_ms - out.t_ms
    assert 110.0 <= np.median(lag) <= 135.0
    near = simulate_transport(log, lag_ms=8.0, jitter_ms=2.0, seed=1)
    assert 6.0 <= np.median(near.recv_ms - near.t_ms) <= 10.0


def test_sequential_fallbacks_match_vectorised(monkeypatch):
    from interview_guard.synth import relay_sim

    # dense, overlapping typing on a coarse tick: long chains of deferred key-ups
    log = typing_log(3000, gap_ms=40, hold_ms=80, seed=17)
    p = profile(base_delay_ms=30.0, send_tick_ms=50.0, key_up_coalesce=False, inject_quantum_ms=1.0)
    n = 60
    repeats = KeystrokeLog.from_arrays(
        t_ms=1000.0 + 0.3 * np.arange(n), kind=np.full(n, DOWN, np.int8), key=["a"] * n, code=["KeyA"] * n
    )
    q = profile(send_tick_ms=20.0, inject_quantum_ms=1.0)
    fast = simulate_relay(log, p, seed=4)
    fast_rep = simulate_relay(repeats, q, seed=4)
    monkeypatch.setattr(relay_sim, "_MAX_ROUNDS", 0)
    slow = simulate_relay(log, p, seed=4)
    slow_rep = simulate_relay(repeats, q, seed=4)
    assert_contract(slow, log)
    assert_contract(slow_rep, repeats)
    assert np.array_equal(fast.t_ms, slow.t_ms)
    assert np.array_equal(fast_rep.t_ms, slow_rep.t_ms)
