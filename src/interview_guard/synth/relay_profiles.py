"""Relay profiles: the parameters of a simulated relay, and the named presets with their sources.

A :class:`RelayProfile` describes one remote-desktop or KVM-over-IP relay;
:func:`~interview_guard.synth.relay_sim.simulate_relay` applies it to a
keystroke log (the relay model, stage by stage, is described there).
:data:`PROFILES` holds the named presets and :func:`relay_description` says
what a profile does in one line.

Jitter distributions
--------------------
``jitter_ms`` is the **standard deviation** of the extra delay J >= 0. Each
distribution has a fixed shape, so its mean follows from the standard
deviation s (:attr:`RelayProfile.jitter_mean_ms`):

* ``"lognormal"``: ``rng.lognormal(mu, sigma)`` with sigma = sqrt(ln 2) =
  0.8326 and mu = ln(s) - ln(2)/2, i.e. coefficient of variation 1:
  mean s, median s/sqrt 2; heavy (lognormal) tail.
* ``"gamma"``: ``rng.gamma(k, theta)`` with shape k = 0.5 and scale
  theta = s * sqrt 2 (coefficient of variation sqrt 2): mean s/sqrt 2 =
  0.707 s, most mass near 0, exponential tail.
* ``"pareto"``: Lomax (Pareto II, starting at 0), ``lam * rng.pareto(3)``
  with shape alpha = 3 and scale lam = 2 s/sqrt 3 (coefficient of variation
  sqrt 3): mean s/sqrt 3 = 0.577 s; power-law tail, P(J > x) = (1 + x/lam)^-3.

Jitter is drawn independently per message. Real queueing delay is
correlated over tens to hundreds of milliseconds, so independent draws
overstate how often consecutive messages would overtake each other (and so
how often in-order delivery binds) at large jitter; the presets keep the
jitter scale below typical inter-key gaps.

The presets (:data:`PROFILES`)
------------------------------
What is measured and what is estimated, honestly: no public source gives
per-keystroke delay distributions for RDP/AnyDesk/KVM relays over an
Asia-to-US path. The **base delays** rest on published backbone figures; the
**jitter, stall and loss** numbers are engineering estimates chosen inside
the ranges the sources allow; real links vary by a factor of two or more
either way, from hour to hour. Use the presets as representative cases, not
as a calibration of any particular tool.

* Verizon Enterprise SLA (verizon.com/business/terms, network latency
  guarantees): average round trip <= 160 ms Los Angeles-Tokyo,
  <= 260 ms Singapore-United States, <= 45 ms within North America, <= 30 ms
  within Europe; packet delivery >= 99.5 % (loss <= 0.5 %) on its backbone.
  Half a round trip is the one-way figure (80-130 ms Asia-US backbone).
* The reported Amazon case: a relayed worker was noticed because keystrokes
  took more than 110 ms to arrive where tens of milliseconds were normal.
* Kuzminykh, Ghita & Silonosov, "Impact of Network and Host Characteristics
  on the Keystroke Pattern in Remote Desktop Sessions" (arXiv 2012.03577):
  keystroke timing over RDP is not changed by constant latency but is changed
  significantly by jitter, packet loss and competing traffic (RDP packets are
  not prioritised). This is why the presets carry jitter, stalls and loss.
* Linux TCP: ``TCP_RTO_MIN = HZ/5`` (200 ms) and ``TCP_RTO_MAX = 120*HZ``
  (include/net/tcp.h); the RTO is about SRTT + max(4 RTTVAR, 200 ms), so
  about RTT + 200 ms. Keystroke traffic is sparse, so a lost segment is
  rarely followed by three duplicate ACKs: recovery waits for the timer.
* USB HID: the mainline Linux HID gadget (drivers/usb/gadget/function/f_hid.c)
  declares ``bInterval = 10`` for full speed (the host polls every 10 ms) and
  1 ms at high speed. PiKVM's kvmd writes one report per key event as soon as
  it is dequeued (kvmd/plugins/hid/otg/device.py), i.e. no application tick.
* Browser event timestamps are coarsened (to 1 ms in some browsers, 0.1 ms in
  others); 1 ms is the conservative choice for ``inject_quantum_ms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from interview_guard.errors import ParameterError

__all__ = [
    "JITTER_DISTS",
    "TCP_RTO_MAX_MS",
    "MAX_DELAY_MS",
    "RelayProfile",
    "PROFILES",
    "relay_description",
    "jitter_mean_factor",
    "draw_jitter",
    "check_number",
]

#: Allowed values of :attr:`RelayProfile.jitter_dist`.
JITTER_DISTS = ("lognormal", "gamma", "pareto")

_LOGNORMAL_SIGMA = math.sqrt(math.log(2.0))  # coefficient of variation 1
_GAMMA_SHAPE = 0.5  # coefficient of variation sqrt(2)
_PARETO_ALPHA = 3.0  # Lomax shape; coefficient of variation sqrt(3)

#: Linux ``TCP_RTO_MAX`` (120 s): the retransmission back-off stops doubling here.
TCP_RTO_MAX_MS = 120_000.0
#: Largest accepted delay-like parameter (one minute).
MAX_DELAY_MS = 60_000.0


# ---------------------------------------------------------------- the profile
@dataclass(frozen=True)
class RelayProfile:
    """Timing characteristics of one relay (remote desktop or KVM-over-IP).

    All times are milliseconds. Parameters are checked by :meth:`validate`
    (called by :func:`~interview_guard.synth.relay_sim.simulate_relay` and
    :func:`relay_description`), not at
    construction.

    Attributes
    ----------
    name : str
        Identifier used in reports.
    base_delay_ms : float
        Fixed one-way delay from the typist's key event to the injected event
        on the local machine (network propagation, capture, encoding and
        injection together).
    jitter_ms : float
        Standard deviation of the random, non-negative extra delay of each
        message; the mean depends on ``jitter_dist`` (see the module docstring
        and :attr:`jitter_mean_ms`).
    jitter_dist : {"lognormal", "gamma", "pareto"}
        Shape of the extra delay (all right-skewed, all starting at 0).
    stall_rate_per_min : float
        Poisson rate of head-of-line stalls, per minute of session.
    stall_ms : float
        Mean stall duration (exponentially distributed). Events departing in a
        stall are held and released together when it ends.
    send_tick_ms : float
        0 sends every event at once; otherwise events depart at the next
        multiple of the tick (random phase), one message per tick.
    loss_rate : float
        Probability, in [0, 1), that one transmission of a message is lost.
    rto_ms : float
        Retransmission timeout of the first retransmission; later ones double
        it (up to 120 s). In-order delivery makes everything behind a lost
        message wait for it.
    inject_quantum_ms : float
        Resolution of the local clock that stamps injected events (0 = exact).
        Times are rounded down to a multiple of it.
    key_up_coalesce : bool
        Only matters with a send tick. True: a key-up that reaches the sender
        before the tick in which its key-down leaves travels in the same
        message, so the injected hold is ~0. False: at most one transition per
        key per message (USB HID report semantics), so that key-up is deferred
        to the next tick and the hold is at least one tick.
    """

    name: str
    base_delay_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter_dist: str = "lognormal"
    stall_rate_per_min: float = 0.0
    stall_ms: float = 0.0
    send_tick_ms: float = 0.0
    loss_rate: float = 0.0
    rto_ms: float = 200.0
    inject_quantum_ms: float = 0.0
    key_up_coalesce: bool = True

    def validate(self) -> None:
        """Check every parameter; raise :class:`ParameterError` naming the first bad one.

        Raises
        ------
        ParameterError
            When a time or rate is negative, not finite or implausibly large
            (over 60 s; rates over 600 per minute), ``loss_rate`` is outside
            [0, 1), ``jitter_dist`` is unknown, ``rto_ms`` is 0 while
            ``loss_rate`` > 0, or ``name`` / ``key_up_coalesce`` have the
            wrong type.
        """
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"RelayProfile.name must be a non-empty string, got {self.name!r}")
        for field_name in ("base_delay_ms", "jitter_ms", "stall_ms", "send_tick_ms", "inject_quantum_ms"):
            check_number(getattr(self, field_name), f"RelayProfile.{field_name}", lo=0.0, hi=MAX_DELAY_MS)
        check_number(self.rto_ms, "RelayProfile.rto_ms", lo=0.0, hi=TCP_RTO_MAX_MS)
        check_number(self.stall_rate_per_min, "RelayProfile.stall_rate_per_min", lo=0.0, hi=600.0)
        check_number(self.loss_rate, "RelayProfile.loss_rate", lo=0.0, hi=1.0, hi_open=True)
        if self.jitter_dist not in JITTER_DISTS:
            raise ParameterError(
                f"RelayProfile.jitter_dist must be one of {', '.join(JITTER_DISTS)}, got {self.jitter_dist!r}"
            )
        if self.loss_rate > 0 and self.rto_ms <= 0:
            raise ParameterError("RelayProfile.rto_ms must be > 0 when loss_rate > 0")
        if not isinstance(self.key_up_coalesce, (bool, np.bool_)):
            raise ParameterError(f"RelayProfile.key_up_coalesce must be a bool, got {self.key_up_coalesce!r}")

    @property
    def jitter_mean_ms(self) -> float:
        """Mean of the extra delay J (ms): ``jitter_ms`` times 1, 1/sqrt 2 or 1/sqrt 3."""
        return float(self.jitter_ms) * _JITTER_MEAN_FACTOR[self.jitter_dist]

    @property
    def expected_delay_ms(self) -> float:
        """``base_delay_ms + jitter_mean_ms``: the mean one-way delay of a message
        that is neither lost, stalled, waiting for a tick nor held back by an earlier one."""
        return float(self.base_delay_ms) + self.jitter_mean_ms

    @property
    def is_identity(self) -> bool:
        """True when the profile changes nothing (no delay, jitter, stalls, tick, loss or quantum)."""
        return (
            self.base_delay_ms == 0
            and self.jitter_ms == 0
            and (self.stall_rate_per_min == 0 or self.stall_ms == 0)
            and self.send_tick_ms == 0
            and self.loss_rate == 0
            and self.inject_quantum_ms == 0
        )


_JITTER_MEAN_FACTOR = {
    "lognormal": 1.0,
    "gamma": math.sqrt(_GAMMA_SHAPE),
    "pareto": math.sqrt((_PARETO_ALPHA - 2.0) / _PARETO_ALPHA),
}


def check_number(value: object, what: str, *, lo: float, hi: float, hi_open: bool = False) -> float:
    """``value`` as a float when it is a finite real number in ``[lo, hi]`` (``[lo, hi)`` with ``hi_open``).

    Raises
    ------
    ParameterError
        Naming ``what``, otherwise (booleans are not numbers here).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{what} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ParameterError(f"{what} must be finite, got {value!r}")
    if x < lo or x > hi or (hi_open and x >= hi):
        bracket = ")" if hi_open else "]"
        raise ParameterError(f"{what} must be in [{lo:g}, {hi:g}{bracket}, got {value!r}")
    return x


# -------------------------------------------------------------------- presets
PROFILES: dict[str, RelayProfile] = {
    # No relay at all: simulate_relay returns the input times unchanged.
    "none": RelayProfile(name="none"),
    # Same-country RDP (e.g. a helper in the same city). Base 5 ms: metro round
    # trips are ~10 ms (Verizon's SLA allows 45 ms RTT across all of North
    # America), halved, plus ~1 ms capture/injection -- estimate. Jitter sd 2 ms,
    # 0.1 stalls/min of 60 ms (Wi-Fi hiccups) and 0.1 % loss: estimates for a
    # good home line. RTO 210 ms: Linux RTO ~ RTT + TCP_RTO_MIN (200 ms).
    # RDP fast-path input sends each event at once: no send tick.
    "lan_rdp": RelayProfile(
        name="lan_rdp",
        base_delay_ms=5.0,
        jitter_ms=2.0,
        jitter_dist="lognormal",
        stall_rate_per_min=0.1,
        stall_ms=60.0,
        send_tick_ms=0.0,
        loss_rate=0.001,
        rto_ms=210.0,
        inject_quantum_ms=1.0,
        key_up_coalesce=True,
    ),
    # Asia -> US RDP/AnyDesk through a VPN. Base 150 ms: Verizon's SLA round trips
    # (<= 160 ms LA-Tokyo, <= 260 ms Singapore-US) give 80-130 ms one way on the
    # backbone; access networks at both ends, the VPN detour and the tool's own
    # processing bring it to ~150 ms (the reported Amazon case: > 110 ms).
    # Jitter sd 15 ms (estimate in the 10-20 ms range of residential long-haul
    # paths), 0.5 stalls/min of 250 ms (estimate: Wi-Fi retries, VPN re-keys,
    # cross traffic -- Kuzminykh et al. find RDP is not prioritised), 0.2 % loss
    # (estimate, below Verizon's 0.5 % ceiling). RTO 500 ms: RTT ~300 ms + 200 ms.
    "intl_rdp": RelayProfile(
        name="intl_rdp",
        base_delay_ms=150.0,
        jitter_ms=15.0,
        jitter_dist="lognormal",
        stall_rate_per_min=0.5,
        stall_ms=250.0,
        send_tick_ms=0.0,
        loss_rate=0.002,
        rto_ms=500.0,
        inject_quantum_ms=1.0,
        key_up_coalesce=True,
    ),
    # The same path shared with competing traffic (video call, downloads). Jitter
    # sd 35 ms with a power-law tail (bufferbloat spikes), 2 stalls/min of 400 ms
    # and 1 % loss: estimates for a loaded consumer uplink, twice Verizon's
    # backbone loss ceiling. RTO 600 ms: RTT ~340 ms plus a variance term
    # above the 200 ms floor.
    "intl_rdp_congested": RelayProfile(
        name="intl_rdp_congested",
        base_delay_ms=150.0,
        jitter_ms=35.0,
        jitter_dist="pareto",
        stall_rate_per_min=2.0,
        stall_ms=400.0,
        send_tick_ms=0.0,
        loss_rate=0.01,
        rto_ms=600.0,
        inject_quantum_ms=1.0,
        key_up_coalesce=True,
    ),
    # PiKVM/TinyPilot-style web KVM in the hiring country, driven from Asia: same
    # network numbers as intl_rdp (the browser's websocket is TCP, in order).
    # Send tick 10 ms: the full-speed USB HID poll interval (Linux f_hid declares
    # bInterval = 10 at full speed; high-speed gadgets poll every 1 ms, and kvmd
    # itself writes each report at once) -- an estimate of the report cadence,
    # not a measurement. key_up_coalesce=False: a HID report is a key-state
    # snapshot, so a press and its release go out in successive reports.
    "kvm_ip": RelayProfile(
        name="kvm_ip",
        base_delay_ms=150.0,
        jitter_ms=15.0,
        jitter_dist="lognormal",
        stall_rate_per_min=0.5,
        stall_ms=250.0,
        send_tick_ms=10.0,
        loss_rate=0.002,
        rto_ms=500.0,
        inject_quantum_ms=1.0,
        key_up_coalesce=False,
    ),
}


def jitter_mean_factor(dist: str) -> float:
    """Mean of the extra delay J over its standard deviation, for a distribution of :data:`JITTER_DISTS`."""
    return _JITTER_MEAN_FACTOR[dist]


def draw_jitter(rng: np.random.Generator, dist: str, sd: float, size: int) -> np.ndarray:
    """Non-negative extra delays with standard deviation ``sd`` (see module docstring)."""
    if sd == 0 or size == 0:
        return np.zeros(size)
    if dist == "lognormal":
        mu = math.log(sd) - _LOGNORMAL_SIGMA**2 / 2.0
        return rng.lognormal(mu, _LOGNORMAL_SIGMA, size)
    if dist == "gamma":
        return rng.gamma(_GAMMA_SHAPE, sd / math.sqrt(_GAMMA_SHAPE), size)
    if dist == "pareto":
        mean = sd * _JITTER_MEAN_FACTOR["pareto"]
        return (mean * (_PARETO_ALPHA - 1.0)) * rng.pareto(_PARETO_ALPHA, size)
    raise ParameterError(f"unknown jitter distribution {dist!r}")  # pragma: no cover


def relay_description(profile: RelayProfile) -> str:
    """One line describing a profile, for reports and docs.

    Examples
    --------
    >>> relay_description(PROFILES["lan_rdp"])  # doctest: +ELLIPSIS
    'lan_rdp: one-way 5 ms + lognormal jitter (sd 2 ms, mean 2 ms), ...'
    """
    if not isinstance(profile, RelayProfile):
        raise ParameterError(f"profile must be a RelayProfile, got {type(profile).__name__}")
    profile.validate()
    p = profile
    if p.is_identity:
        return f"{p.name}: no relay (times unchanged)"
    parts = [f"one-way {p.base_delay_ms:g} ms"]
    if p.jitter_ms > 0:
        parts[0] += f" + {p.jitter_dist} jitter (sd {p.jitter_ms:g} ms, mean {p.jitter_mean_ms:.3g} ms)"
    if p.stall_rate_per_min > 0 and p.stall_ms > 0:
        parts.append(f"{p.stall_rate_per_min:g} stalls/min of ~{p.stall_ms:g} ms")
    else:
        parts.append("no stalls")
    if p.send_tick_ms > 0:
        how = "down+up may share a tick" if p.key_up_coalesce else "key-up deferred to next tick"
        parts.append(f"{p.send_tick_ms:g} ms send tick ({how})")
    else:
        parts.append("no send tick")
    if p.loss_rate > 0:
        parts.append(f"loss {100 * p.loss_rate:g}% (RTO {p.rto_ms:g} ms)")
    else:
        parts.append("no loss")
    parts.append(f"{p.inject_quantum_ms:g} ms clock" if p.inject_quantum_ms > 0 else "exact clock")
    return f"{p.name}: " + ", ".join(parts)
