"""Simulated remote-desktop and KVM-over-IP relays for keystroke logs.

Fraud scheme modelled here: a worker abroad types on their own keyboard, and a
remote-desktop tool (RDP, AnyDesk, Chrome Remote Desktop) or an IP-KVM
(PiKVM, TinyPilot) replays the keystrokes on a laptop in the hiring country.
The interview platform records the laptop's keystroke log, so the log carries
the relay's fingerprints instead of the typist's own timing. This module makes
such logs from genuine ones, to test and calibrate the detectors:
:func:`simulate_relay` turns a log recorded at the typist's keyboard into the
log the laptop would record, and :func:`simulate_transport` only changes the
server receive times (``recv_ms``) for sessions whose client-to-server path
is itself long or jittery.

The relay's parameters, the named presets and the sources behind them are in
:mod:`~interview_guard.synth.relay_profiles` (:class:`RelayProfile`,
:data:`PROFILES`, :func:`relay_description`; also importable from here).

The relay model
---------------
Events happen at ``log.t_ms`` at the remote keyboard and go through these
stages, in this order (all vectorised; every stage keeps the event order):

1. **Send tick** (``send_tick_ms`` > 0). The tool sends on a clock of its own:
   an event departs at the next tick ``phase + k * tick`` (``phase`` drawn
   uniformly in ``[0, tick)``); the events of one tick travel as one message.
   When a key's down and up fall in the same tick they normally share the
   message, so the hold time injected on the laptop is squeezed to ~0 (the
   two events are injected back to back). That is ``key_up_coalesce=True``.
   With ``key_up_coalesce=False`` the tool sends at most one transition per
   key per message, as a USB HID keyboard must (an input report is a snapshot
   of which keys are down: a press and its release cannot share one), so the
   key-up is deferred to the next tick and the hold becomes at least one tick.
   With no send tick the flag changes nothing.
2. **Head-of-line stalls**. Stall starts form a Poisson process of rate
   ``stall_rate_per_min`` over the session; durations are exponential with
   mean ``stall_ms``; overlapping stalls merge. An event that departs during a
   stall is held until the stall ends (the next tick, with a send tick); all
   held events then leave as one message.
3. **Network**. Every message gets its own one-way delay
   ``base_delay_ms + J`` with J drawn from ``jitter_dist`` (the distributions are
   described in :mod:`~interview_guard.synth.relay_profiles`). With
   probability ``loss_rate`` per attempt it is lost and retransmitted after a
   retransmission timeout, doubling it each further time as TCP does
   (``rto_ms``, ``2 * rto_ms``, ... capped at Linux's ``TCP_RTO_MAX`` of
   120 s). RDP (over TCP, or its reliable UDP transport), AnyDesk (TCP),
   Chrome Remote Desktop (a reliable, ordered WebRTC data channel, as far as
   we know) and the websockets of PiKVM/TinyPilot all deliver in order, so a
   message is never delivered before the previous one:
   ``arrival = np.maximum.accumulate(departure + delay)``. A message that was
   held back this way is released right behind the one that blocked it.
4. **Injection**. The laptop injects the events of one message, and any
   events released together behind a late message, back to back:
   consecutive gaps are drawn uniformly in [0.05, 0.5] ms (a burst of three
   or four events spans about a millisecond). It then stamps each event with
   its own clock, rounded down to ``inject_quantum_ms`` (0 = exact).
5. **Clean-up**. Output times are non-decreasing; if two identical events
   (same kind, key and code) land on the same time, the later one is moved
   one quantum later (0.01 ms when ``inject_quantum_ms`` is 0), as the
   :class:`~interview_guard.io.keystroke_log.KeystrokeLog` contract requires.

Output times are on the same clock and origin as the input, so
``out.t_ms - log.t_ms`` is the one-way delay each event suffered.

Not modelled: clock offset and drift between the two machines; correlated
queueing delay; tools that synthesise the key release themselves (some
TinyPilot versions send a press report and an all-keys-up report together
for every non-modifier key, so holds collapse to one poll interval whatever
the typist did); a HID device that sends exactly one report per poll (here
events of one tick share a message).

``server_clock=True``: what the interview server sees
-----------------------------------------------------
Under a relay the laptop in the hiring country *is* the client, so an
interview platform that logs server receive times sees a short, clean
laptop-to-server path: ``recv_ms`` = the laptop's injection time + a
same-country network delay (10 ms +- 1.5 ms, normal, in order). The relay's
delay lies *before* ``t_ms`` and is invisible in ``recv_ms - t_ms``; it only
shows in the timing of ``t_ms`` itself (quantised gaps, bursts after stalls,
flattened holds, inflated inter-key variance). A long ``recv_ms - t_ms`` lag
means the browser itself is far from the server; use
:func:`simulate_transport` to make such sessions.
"""

from __future__ import annotations

import math

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.synth.relay_profiles import (
    JITTER_DISTS,
    MAX_DELAY_MS,
    PROFILES,
    TCP_RTO_MAX_MS,
    RelayProfile,
    check_number,
    draw_jitter,
    jitter_mean_factor,
    relay_description,
)
from interview_guard.tracks.keystrokes import DOWN, UP, KeystrokeLog

__all__ = [
    "JITTER_DISTS",
    "RelayProfile",
    "PROFILES",
    "simulate_relay",
    "simulate_transport",
    "relay_description",
]

#: Gap between events injected back to back (uniform, ms).
_INJECT_GAP_MS = (0.05, 0.5)
#: How far an identical colliding event is moved when there is no quantum.
_EXACT_NUDGE_MS = 0.01
#: Laptop-to-interview-server path used by ``server_clock=True`` (ms).
SERVER_LAG_MS = 10.0
SERVER_JITTER_MS = 1.5
#: Vectorised fix-up rounds before falling back to a sequential pass.
_MAX_ROUNDS = 64


# -------------------------------------------------------------------- helpers
def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    if seed < 0:
        raise ParameterError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def _check_log(log: KeystrokeLog) -> np.ndarray:
    if not isinstance(log, KeystrokeLog):
        raise ParameterError(f"log must be a KeystrokeLog, got {type(log).__name__}")
    t = np.asarray(log.t_ms, dtype=np.float64)
    if t.size:
        if not np.isfinite(t).all():
            raise ParameterError("log.t_ms must be finite")
        if (np.diff(t) < 0).any():
            raise ParameterError("log.t_ms must be sorted (non-decreasing)")
    return t


def _retransmission_delay(rng: np.random.Generator, loss: float, rto: float, size: int) -> np.ndarray:
    """Extra delay from lost transmissions: rto, 2 rto, 4 rto, ... each capped at TCP_RTO_MAX."""
    if loss == 0 or size == 0:
        return np.zeros(size)
    r = rng.geometric(1.0 - loss, size) - 1  # lost attempts before the one that arrives
    m = max(0, math.ceil(math.log2(TCP_RTO_MAX_MS / rto))) if rto < TCP_RTO_MAX_MS else 0
    doubled = np.minimum(r, m)
    return rto * (np.exp2(doubled) - 1.0) + np.maximum(r - m, 0) * TCP_RTO_MAX_MS


def _factorize(values: np.ndarray) -> np.ndarray:
    """Integer ids for an object array (equal values, equal ids)."""
    lut: dict[object, int] = {}
    return np.fromiter((lut.setdefault(v, len(lut)) for v in values), dtype=np.int64, count=len(values))


def _key_up_pairs(kind: np.ndarray, key: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(down index, up index) for every key-up whose previous same-key event is a key-down."""
    idx = np.flatnonzero((kind == DOWN) | (kind == UP))
    if idx.size < 2:
        e = np.zeros(0, np.int64)
        return e, e
    c = code[idx]
    ident = np.where(c != "", c, key[idx])
    gid = _factorize(ident)
    order = np.lexsort((idx, gid))
    ev, g = idx[order], gid[order]
    same = g[1:] == g[:-1]
    prev, cur = ev[:-1][same], ev[1:][same]
    pair = (kind[prev] == DOWN) & (kind[cur] == UP)
    return prev[pair], cur[pair]


def _defer_key_ups(k: np.ndarray, downs: np.ndarray, ups: np.ndarray) -> np.ndarray:
    """Move key-ups sharing their key-down's tick to the next tick, keeping order."""
    if ups.size == 0:
        return k
    for _ in range(_MAX_ROUNDS):
        viol = k[ups] <= k[downs]
        if not viol.any():
            return k
        k[ups[viol]] = k[downs[viol]] + 1
        k = np.maximum.accumulate(k)
    # long chains (huge ticks, dense typing): one sequential pass settles them
    after = np.full(k.size, -1, np.int64)
    after[ups] = downs
    kk = k.tolist()
    aa = after.tolist()
    for i in range(1, len(kk)):
        v = kk[i] if kk[i] > kk[i - 1] else kk[i - 1]
        p = aa[i]
        if p >= 0 and v <= kk[p]:
            v = kk[p] + 1
        kk[i] = v
    return np.asarray(kk, dtype=np.int64)


def _stall_release(
    d: np.ndarray, t0: float, t1: float, rate_per_min: float, mean_ms: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(held mask, release time) for departures ``d`` under Poisson stalls on [t0, t1]."""
    n_stalls = int(rng.poisson(rate_per_min * max(t1 - t0, 0.0) / 60_000.0))
    held = np.zeros(d.size, bool)
    release = d
    if n_stalls == 0:
        return held, release
    starts = np.sort(rng.uniform(t0, t1, n_stalls))
    ends = starts + rng.exponential(mean_ms, n_stalls)
    run_end = np.maximum.accumulate(ends)
    new = np.r_[True, starts[1:] > run_end[:-1]]
    first = np.flatnonzero(new)
    s_start = starts[first]
    s_end = np.maximum.reduceat(ends, first)
    j = np.searchsorted(s_start, d, side="right") - 1
    ok = j >= 0
    held[ok] = d[ok] < s_end[j[ok]]
    release = d.copy()
    release[held] = s_end[j[held]]
    return held, release


def _resolve_collisions(t: np.ndarray, kind: np.ndarray, key: np.ndarray, code: np.ndarray, step: float) -> np.ndarray:
    """Move identical events (kind, key, code) that share a time apart by ``step``; keep order."""
    for _ in range(_MAX_ROUNDS):
        eq = t[1:] == t[:-1]
        if not eq.any():
            return t
        in_run = np.r_[eq, False] | np.r_[False, eq]
        rid = np.cumsum(np.r_[True, ~eq]) - 1
        idx = np.flatnonzero(in_run)
        cols = (idx, _factorize(code[idx]), _factorize(key[idx]), kind[idx].astype(np.int64), rid[idx])
        order = np.lexsort(cols)
        srt = idx[order]
        same_prev = np.zeros(srt.size, bool)
        same_prev[1:] = True
        for col in cols[1:]:
            c = col[order]
            same_prev[1:] &= c[1:] == c[:-1]
        pos = np.arange(srt.size)
        rank = pos - np.maximum.accumulate(np.where(same_prev, 0, pos))
        if not rank.any():
            return t
        t = t.copy()
        t[srt] += rank * step
        t = np.maximum.accumulate(t)
    # pathological logs: settle sequentially
    out = t.tolist()
    kinds, keys, codes = kind.tolist(), key.tolist(), code.tolist()
    prev = -math.inf
    seen: set[tuple[object, object, object]] = set()
    for i in range(len(out)):
        ti = out[i] if out[i] > prev else prev
        ident = (kinds[i], keys[i], codes[i])
        if ti == prev and ident in seen:
            ti = prev + step
        if ti != prev:
            seen = set()
            prev = ti
        seen.add(ident)
        out[i] = ti
    return np.asarray(out, dtype=np.float64)


def _transport_lag(rng: np.random.Generator, n: int, lag_ms: float, jitter_ms: float, dist: str) -> np.ndarray:
    """Per-event lag with mean ``lag_ms`` and standard deviation ``jitter_ms`` (before in-order delivery)."""
    if dist == "normal":
        if jitter_ms == 0:
            return np.full(n, lag_ms)
        return np.maximum(rng.normal(lag_ms, jitter_ms, n), 0.0)
    floor = lag_ms - jitter_ms * jitter_mean_factor(dist)
    return floor + draw_jitter(rng, dist, jitter_ms, n)


def _with_times(log: KeystrokeLog, t: np.ndarray, recv: np.ndarray) -> KeystrokeLog:
    return KeystrokeLog(
        t_ms=t,
        kind=log.kind.copy(),
        key=log.key.copy(),
        code=log.code.copy(),
        recv_ms=recv,
        repeat=log.repeat.copy(),
        length=log.length.copy(),
        source=log.source,
        warnings=log.warnings,
    )


# ----------------------------------------------------------------- public API
def simulate_relay(
    log: KeystrokeLog,
    profile: RelayProfile,
    *,
    seed: int | np.random.Generator | None = None,
    server_clock: bool = False,
    server_lag_ms: float = SERVER_LAG_MS,
    server_jitter_ms: float = SERVER_JITTER_MS,
) -> KeystrokeLog:
    """The keystroke log a relayed session leaves on the local machine.

    Parameters
    ----------
    log : KeystrokeLog
        Events as they happen at the typist's (remote) keyboard: ``t_ms`` is
        when each key went down or up there. Must be sorted.
    profile : RelayProfile
        The relay; see :data:`PROFILES` for presets.
    seed : int, numpy.random.Generator or None, keyword-only
        Randomness. The same int gives bit-identical output; a Generator is
        used (and advanced) as given; None draws fresh entropy.
    server_clock : bool, keyword-only
        False: ``recv_ms`` of the output is all NaN (the input's receive times
        describe a path that no longer exists). True: fill ``recv_ms`` as the
        interview server would log it, i.e. the local injection time plus the
        short local laptop-to-server delay -- see the module docstring: the
        relay delay does *not* appear in ``recv_ms - t_ms``.
    server_lag_ms, server_jitter_ms : float, keyword-only
        Mean and standard deviation (normal, in order) of that local delay;
        defaults 10 ms and 1.5 ms.

    Returns
    -------
    KeystrokeLog
        Same events in the same order with the same ``kind``, ``key``,
        ``code``, ``repeat`` and ``length``; ``t_ms`` = injection times on the
        local clock (same origin as the input), non-decreasing, with no
        identical (kind, key, code) event twice at one time. The ``"none"``
        profile returns the input times exactly.

    Raises
    ------
    ParameterError
        Invalid profile, seed or server delay; unsorted or non-finite times.

    Notes
    -----
    The stages (send tick, stalls, per-message delay and loss, in-order
    delivery, back-to-back injection, clock quantisation) are described in
    the module docstring. The work is vectorised; 1,000,000 events take well
    under a second or two.
    """
    if not isinstance(profile, RelayProfile):
        raise ParameterError(f"profile must be a RelayProfile, got {type(profile).__name__}")
    profile.validate()
    s = _check_log(log)
    if server_clock:
        check_number(server_lag_ms, "server_lag_ms", lo=0.0, hi=MAX_DELAY_MS)
        check_number(server_jitter_ms, "server_jitter_ms", lo=0.0, hi=MAX_DELAY_MS)
    rng = _rng(seed)
    n = s.size
    if n == 0:
        return _with_times(log, s.copy(), np.full(0, np.nan))

    tick = float(profile.send_tick_ms)
    # 1. departure: at once, or on the sender's tick grid (integer tick numbers keep
    #    equal departures exactly equal)
    if tick > 0:
        phase = float(rng.uniform(0.0, tick))
        k = np.ceil((s - phase) / tick).astype(np.int64)
        d = phase + k * tick
    else:
        d = s.copy()
    # 2. head-of-line stalls at the sender: held events leave together at the end
    held = np.zeros(n, bool)
    if profile.stall_rate_per_min > 0 and profile.stall_ms > 0:
        held, release = _stall_release(d, s[0], s[-1], profile.stall_rate_per_min, profile.stall_ms, rng)
        if held.any():
            if tick > 0:
                k_rel = np.ceil((release[held] - phase) / tick).astype(np.int64)
                k[held] = np.maximum(k[held], k_rel)
            else:
                d = np.maximum.accumulate(release)
    if tick > 0:
        k = np.maximum.accumulate(k)
        if not profile.key_up_coalesce:
            downs, ups = _key_up_pairs(log.kind, log.key, log.code)
            k = _defer_key_ups(k, downs, ups)
        d = phase + k * tick
        new_msg = np.r_[True, k[1:] != k[:-1]]
    else:
        new_msg = np.r_[True, ~(held[1:] & held[:-1] & (d[1:] == d[:-1]))]
    # 3. network: one delay per message, retransmissions, in-order delivery
    first = np.flatnonzero(new_msg)
    n_msg = first.size
    msg = np.cumsum(new_msg) - 1
    delay = np.full(n_msg, float(profile.base_delay_ms))
    delay += draw_jitter(rng, profile.jitter_dist, float(profile.jitter_ms), n_msg)
    delay += _retransmission_delay(rng, float(profile.loss_rate), float(profile.rto_ms), n_msg)
    raw = d[first] + delay
    arrive = np.maximum.accumulate(raw)
    held_back = arrive > raw
    # 4. injection: back to back within a message and behind a late message
    a = arrive[msg]
    queued = ~new_msg | (new_msg & held_back[msg])
    n_q = int(np.count_nonzero(queued))
    if n_q:
        # t_i = max(a_i, t_{i-1} + gap_i)  ==  G_i + max_{j<=i}(a_j - G_j), G = cumsum(gap);
        # computed relative to a[0] so epoch-sized times lose no precision
        gaps = np.zeros(n)
        gaps[queued] = rng.uniform(_INJECT_GAP_MS[0], _INJECT_GAP_MS[1], n_q)
        g = np.cumsum(gaps)
        origin = a[0]
        t = origin + (g + np.maximum.accumulate((a - origin) - g))
    else:
        t = np.maximum.accumulate(a)
    q = float(profile.inject_quantum_ms)
    if q > 0:
        x = t / q
        t = np.floor(x + 4.0 * np.spacing(np.abs(x)) + 1e-9) * q  # guard against x = k - 1 ulp
    # 5. contract: identical events never share a time
    t = _resolve_collisions(t, log.kind, log.key, log.code, q if q > 0 else _EXACT_NUDGE_MS)

    if server_clock:
        recv = np.maximum.accumulate(
            t + _transport_lag(rng, n, float(server_lag_ms), float(server_jitter_ms), "normal")
        )
    else:
        recv = np.full(n, np.nan)
    return _with_times(log, t, recv)


def simulate_transport(
    log: KeystrokeLog,
    *,
    lag_ms: float,
    jitter_ms: float,
    seed: int | np.random.Generator | None = None,
    jitter_dist: str = "normal",
    clock_offset_ms: float = 0.0,
) -> KeystrokeLog:
    """Give a log server receive times for a long or jittery client-to-server path.

    ``t_ms`` is kept; ``recv_ms = t_ms + lag + clock_offset_ms`` with one lag
    per event of mean ``lag_ms`` and standard deviation ``jitter_ms``, then
    in-order delivery (``recv`` never decreases, as over one websocket).

    Parameters
    ----------
    log : KeystrokeLog
        Sorted log; its own ``recv_ms`` is replaced.
    lag_ms : float, keyword-only
        Mean one-way lag, ms (e.g. 120 for a far-away client, 8 for a near one).
    jitter_ms : float, keyword-only
        Standard deviation of the lag, ms.
    seed : int, numpy.random.Generator or None, keyword-only
        As in :func:`simulate_relay`.
    jitter_dist : {"normal", "lognormal", "gamma", "pareto"}, keyword-only
        "normal": lag ~ N(lag_ms, jitter_ms) clipped at 0. The others:
        ``lag_ms - mean(J) + J`` with J as in :mod:`~interview_guard.synth.relay_profiles` (standard
        deviation ``jitter_ms``), which needs ``lag_ms >= mean(J)``.
    clock_offset_ms : float, keyword-only
        Constant offset of the server clock relative to the client clock.

    Returns
    -------
    KeystrokeLog

    Raises
    ------
    ParameterError
        Negative or non-finite lag/jitter, unknown distribution, or a skewed
        distribution whose mean exceeds ``lag_ms``.

    Notes
    -----
    In-order delivery only ever delays, so when ``jitter_ms`` is comparable
    to the gaps between events the realised lag is a little larger and less
    variable than requested (per-event jitter is drawn independently; real
    queueing delay is correlated and would overtake less).
    """
    check_number(lag_ms, "lag_ms", lo=0.0, hi=MAX_DELAY_MS)
    check_number(jitter_ms, "jitter_ms", lo=0.0, hi=MAX_DELAY_MS)
    check_number(clock_offset_ms, "clock_offset_ms", lo=-1e15, hi=1e15)
    if jitter_dist != "normal" and jitter_dist not in JITTER_DISTS:
        raise ParameterError(f"jitter_dist must be one of normal, {', '.join(JITTER_DISTS)}, got {jitter_dist!r}")
    if jitter_dist != "normal" and jitter_ms * jitter_mean_factor(jitter_dist) > lag_ms:
        raise ParameterError(
            f"with jitter_dist={jitter_dist!r} the jitter mean ({jitter_ms * jitter_mean_factor(jitter_dist):g} ms)"
            f" must not exceed lag_ms ({lag_ms:g} ms)"
        )
    t = _check_log(log)
    rng = _rng(seed)
    lag = _transport_lag(rng, t.size, float(lag_ms), float(jitter_ms), jitter_dist)
    recv = np.maximum.accumulate(t + lag) + float(clock_offset_ms) if t.size else np.zeros(0)
    return _with_times(log, t.copy(), recv)
