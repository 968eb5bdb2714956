"""``keystroke_relay``: typing that reached the recorded machine through a relay.

A worker abroad who types into a laptop in the hiring country over remote
desktop or KVM-over-IP leaves timing fingerprints in the keystroke log. This
analyzer measures them (maths in :mod:`interview_guard.signals.keystroke_timing`,
rationale and measured error rates in ``docs/keystroke-relay.md``):

``catch_up_bursts``
    three or more key events within ``collapse_ms`` of each other (a stall
    released, or jitter with in-order delivery); genuine keyboards put at most
    a release and the next press on one instant.
``collapsed_keydowns``
    two key-downs within ``collapse_ms``: fingers do not do that, in-order
    delivery after jitter does.
``zero_hold_times``
    a key's down and up delivered together (hold <= ``zero_hold_ms``).
``send_tick``
    event times on a periodic grid other than the clock's and USB polling's.
``transport_lag``
    with server receive times: the lag ``recv_t - t`` and its jitter.

Each count is judged against the rate a genuine typist produces (binomial
surprise, ``-log10 p``), so evidence grows with the amount of typing and a
short log cannot produce a confident score. A coarse browser clock (Firefox
resist-fingerprinting, frame-rounded timestamps) widens the tolerances to the
clock grid and lowers the confidence instead of raising the score.
"""

from __future__ import annotations

import math

import numpy as np

from interview_guard.analyzers.base import (
    Analyzer,
    AnalyzerResult,
    Evidence,
    Param,
    Status,
    WindowScore,
    moments_words,
)
from interview_guard.signals import keystroke_timing as kt
from interview_guard.signals.stats import logistic_array, logistic_safe
from interview_guard.signals.windows import event_windows
from interview_guard.tracks import Stream, Tracks
from interview_guard.tracks.keystrokes import DOWN, UP, KeyPresses

__all__ = ["KeystrokeRelay"]


def _moments(times: object, total: int, before: str, after: str = "") -> str:
    """``before + "the first at 1.9, 5.5 and 13.3 s" + after`` for a finding's sentence, "" without times."""
    words = moments_words(times, int(total))
    return f"{before}{words}{after}" if words else ""


def _fmt_duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s"


class KeystrokeRelay(Analyzer):
    name = "keystroke_relay"
    requires = frozenset({Stream.KEYSTROKES})
    description = (
        "Relayed typing (remote desktop, KVM-over-IP, laptop farm): catch-up bursts, collapsed key-downs, "
        "zero hold times, send ticks and transport lag in the keystroke log."
    )
    min_keys = Param(30, 5, 1e6, "fewer key presses than this: skipped")
    full_confidence_keys = Param(300, 10, 1e7, "key presses for full confidence")
    window_s = Param(30.0, 5.0, 3600.0, "length of the per-window scores (s)")
    pause_ms = Param(300.0, 50.0, 10000.0, "a gap this long before a burst marks a catch-up after a stall")
    collapse_ms = Param(2.0, 0.1, 20.0, "events closer than this count as one instant (fine clocks)")
    coarse_clock_ms = Param(4.0, 1.0, 50.0, "a clock grid coarser than this is a coarse clock")
    p0_incident = Param(2e-4, 1e-7, 0.1, "genuine rate (per key event) of relay incidents on a fine clock")
    p0_group = Param(1e-4, 1e-7, 0.1, "genuine rate (per key event) of 3+ events on one instant")
    p0_pause_burst = Param(2e-3, 1e-7, 0.5, "genuine rate (per pause) of 2+ events on one instant right after it")
    p0_keydown_collapse = Param(5e-4, 1e-7, 0.1, "genuine rate (per key-down pair) of two downs on one instant")
    zero_hold_ms = Param(3.0, 0.0, 20.0, "hold times up to this count as zero")
    p0_zero_hold = Param(2e-3, 1e-7, 0.2, "genuine rate (per press) of zero hold times")
    surprise_at_half = Param(4.0, 1.0, 20.0, "-log10 p at which a count feature scores 0.5")
    lag_at_half_ms = Param(80.0, 10.0, 1000.0, "median transport lag scoring 0.5")
    jitter_at_half_ms = Param(25.0, 2.0, 500.0, "transport-lag jitter (robust sd) scoring 0.5")
    tick_r_at_half = Param(0.35, 0.05, 0.95, "send-tick phase concentration R scoring 0.5")

    # ------------------------------------------------------------------ core
    def _run(self, tracks: Tracks) -> AnalyzerResult:
        log = tracks.keystrokes
        assert log is not None  # a required stream: analyze() skipped when it is absent
        keys = log.select((log.kind == DOWN) | (log.kind == UP))
        presses = keys.presses()
        n_down = len(presses)
        if n_down < self.min_keys:
            return AnalyzerResult.skipped(
                self.name, f"too few key presses for a judgement ({n_down} < {int(self.min_keys)})"
            )
        t = keys.t_ms
        res = kt.clock_resolution(t_ms=t)
        coarse = res > self.coarse_clock_ms
        tol = self.collapse_ms if not coarse else 0.5 * res
        lam = kt.active_event_rate(t_ms=t)
        lam_down = kt.active_event_rate(t_ms=presses.press_ms)
        has_up = bool((keys.kind == UP).any())

        # Null rates: on a coarse grid unrelated events share a tick by chance
        # (Poisson with the typist's own event rate); on a fine clock the
        # genuine rates of the parameters apply.
        if coarse:
            mu = lam * res
            k_min = 3
            while k_min < 40 and kt.poisson_tail(k=k_min - 1, mu=mu) > 1e-3:
                k_min += 1
            p_group = max(self.p0_group, kt.poisson_tail(k=k_min - 1, mu=mu))
            p_dd = max(self.p0_keydown_collapse, 1.0 - math.exp(-lam_down * res))
        else:
            k_min = 3
            p_group = self.p0_group
            p_dd = self.p0_keydown_collapse
        hold_enabled = has_up and res <= 20.0
        hold_tol = max(self.zero_hold_ms, 0.5 * res)

        starts, sizes = kt.collapse_groups(t_ms=t, tol_ms=tol)
        big = sizes >= k_min
        g_start, g_size = starts[big], sizes[big]
        gap_before = np.where(g_start > 0, t[g_start] - t[np.maximum(g_start - 1, 0)], np.inf)
        dd = np.diff(presses.press_ms)
        dd_collapsed = np.flatnonzero(dd <= tol)
        holds = presses.hold_ms
        hold_known = np.isfinite(holds)
        zero_hold = np.flatnonzero(hold_known & (holds <= hold_tol)) if hold_enabled else np.zeros(0, np.int64)

        n_ev = int(t.size)
        # catch-up after a stall: a pause in arrivals, then 2+ events at one instant
        gaps = np.diff(t)
        pauses = np.flatnonzero(gaps >= self.pause_ms)  # gap i precedes event i + 1
        n_pauses = int(pauses.size)
        pair_after = pauses[(pauses + 2 < t.size) & (gaps[np.minimum(pauses + 1, gaps.size - 1)] <= tol)]
        p_pause = self.p0_pause_burst if not coarse else max(self.p0_pause_burst, 1.0 - math.exp(-lam * res))
        s_pause = kt.binomial_surprise(k=int(pair_after.size), n=n_pauses, p0=p_pause)
        s_groups = kt.binomial_surprise(k=int(big.sum()), n=n_ev, p0=p_group)
        # one feature: the stronger of the two views of the same mechanism
        s_groups = max(s_groups, s_pause)
        s_dd = kt.binomial_surprise(k=int(dd_collapsed.size), n=int(dd.size), p0=p_dd)
        s_hold = (
            kt.binomial_surprise(k=int(zero_hold.size), n=int(hold_known.sum()), p0=self.p0_zero_hold)
            if hold_enabled
            else 0.0
        )

        def sc(s: float) -> float:
            return kt.surprise_score(s, at_half=self.surprise_at_half)

        # The score counts every relay incident once (a stall's burst often
        # shows several of the signs at once); the evidence items below keep
        # each sign's own count for the reader.
        inc_idx, inc_reasons = kt.relay_incidents(
            t_ms=t,
            is_down=keys.kind == DOWN,
            key_id=keys.key_ids,
            tol_ms=tol,
            k_min=k_min,
            pause_ms=self.pause_ms,
            hold_tol_ms=hold_tol if hold_enabled else None,
        )
        p_inc = self.p0_incident
        if coarse:  # chance coincidences on the clock grid, per event
            p_inc += (
                kt.poisson_tail(k=k_min - 1, mu=lam * res)
                + 0.5 * (1.0 - math.exp(-lam_down * res))
                + (n_pauses / max(n_ev, 1)) * (1.0 - math.exp(-lam * res))
            )
        s_inc = kt.binomial_surprise(k=int(inc_idx.size), n=n_ev, p0=min(p_inc, 0.5))
        scores = {"relay_incidents": sc(s_inc)}
        feature_view = {"catch_up_bursts": sc(s_groups), "collapsed_keydowns": sc(s_dd)}
        if hold_enabled:
            feature_view["zero_hold_times"] = sc(s_hold)
        tick_T, tick_R = kt.send_tick(t_ms=t, resolution_ms=res)
        if n_ev >= 100 and tick_T > 0:
            # Uniform phases give P(R > r) ~ exp(-n r^2) per period; over ~1000
            # candidate periods, R below sqrt((ln 1000 + 7) / n) is chance.
            n_t = min(n_ev, 20000)
            r_half = max(self.tick_r_at_half, math.sqrt((math.log(1000.0) + 7.0) / n_t))
            scores["send_tick"] = logistic_safe((tick_R - r_half) / 0.05)
        lag = kt.transport_lag(t_ms=presses.press_ms, recv_ms=presses.recv_press_ms) if keys.has_recv else None
        if lag is not None:
            s_jit = logistic_safe((lag["jitter_ms"] - self.jitter_at_half_ms) / (0.2 * self.jitter_at_half_ms))
            s_med = (
                logistic_safe((lag["median_ms"] - self.lag_at_half_ms) / (0.12 * self.lag_at_half_ms))
                if lag["synced"]
                else 0.0
            )
            scores["transport_lag"] = max(s_med, s_jit)

        score = 1.0 - float(np.prod([1.0 - s for s in scores.values()]))
        confidence = min(1.0, n_down / self.full_confidence_keys)
        if coarse:
            confidence *= 0.6
        if lag is not None:
            confidence = max(confidence, min(1.0, lag["n"] / 100.0))

        t_s = t / 1000.0
        typing_s = float(np.sum(np.diff(t)[np.diff(t) <= 2000.0])) / 1000.0 if n_ev > 1 else 0.0
        evidence: list[Evidence] = []

        if g_start.size or pair_after.size:
            first_ev = [g_start[0]] if g_start.size else []
            last_ev = [g_start[-1] + g_size[-1] - 1] if g_start.size else []
            if pair_after.size:
                first_ev.append(pair_after[0] + 1)
                last_ev.append(pair_after[-1] + 2)
            first, last = min(first_ev), max(last_ev)
            n_pause = int(pair_after.size)
            examples = [
                {
                    "t_s": round(float(t_s[s]), 3),
                    "events": int(n),
                    "gap_before_ms": None if not np.isfinite(gb) else round(float(gb), 1),
                }
                for s, n, gb in list(zip(g_start, g_size, gap_before))[:12]
            ]
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="catch_up_bursts",
                    start_s=float(t_s[first]),
                    end_s=float(t_s[last]),
                    score=feature_view["catch_up_bursts"],
                    summary=(
                        f"{n_pause} of {n_pauses} pauses > {self.pause_ms:g} ms ended in a burst of key events within "
                        f"{tol:g} ms of each other (about {p_pause * n_pauses:.2g} expected from a local keyboard), "
                        f"and {g_start.size} bursts of >= {k_min} events (about {p_group * n_ev:.2g} expected"
                        f"{_moments([e['t_s'] for e in examples], int(g_start.size), '; ')}), "
                        f"in {_fmt_duration(typing_s)} of typing"
                    ),
                    details={
                        "bursts": int(g_start.size),
                        "after_pause": n_pause,
                        "pauses": n_pauses,
                        "expected_after_pause_genuine": round(p_pause * n_pauses, 4),
                        "min_events": int(k_min),
                        "tolerance_ms": round(tol, 3),
                        "largest": int(g_size.max()) if g_size.size else 0,
                        "expected_genuine": round(p_group * n_ev, 4),
                        "surprise_log10": round(s_groups, 2),
                        "examples": examples,
                    },
                )
            )
        if dd_collapsed.size:
            dd_first_s = presses.press_ms[dd_collapsed[:12]] / 1000.0
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="collapsed_keydowns",
                    start_s=float(presses.press_ms[dd_collapsed[0]] / 1000.0),
                    end_s=float(presses.press_ms[dd_collapsed[-1] + 1] / 1000.0),
                    score=feature_view["collapsed_keydowns"],
                    summary=(
                        f"{dd_collapsed.size} of {dd.size} consecutive key-downs arrived within {tol:g} ms "
                        f"of each other{_moments(dd_first_s, dd_collapsed.size, ' (', ')')}; "
                        f"about {p_dd * dd.size:.2g} expected from fingers on a local keyboard"
                    ),
                    details={
                        "pairs": int(dd_collapsed.size),
                        "of": int(dd.size),
                        "expected_genuine": round(p_dd * dd.size, 4),
                        "surprise_log10": round(s_dd, 2),
                        "examples_t_s": [round(float(presses.press_ms[i] / 1000.0), 3) for i in dd_collapsed[:12]],
                    },
                )
            )
        if zero_hold.size:
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="zero_hold_times",
                    start_s=float(presses.press_ms[zero_hold[0]] / 1000.0),
                    end_s=float(presses.release_ms[zero_hold[-1]] / 1000.0),
                    score=feature_view["zero_hold_times"],
                    summary=(
                        f"{zero_hold.size} of {int(hold_known.sum())} keys were released within {hold_tol:g} ms "
                        "of being "
                        f"pressed (down and up delivered together); genuine holds are 50-200 ms"
                    ),
                    details={
                        "zero_holds": int(zero_hold.size),
                        "of": int(hold_known.sum()),
                        "tolerance_ms": round(hold_tol, 3),
                        "expected_genuine": round(self.p0_zero_hold * hold_known.sum(), 4),
                        "surprise_log10": round(s_hold, 2),
                    },
                )
            )
        if "send_tick" in scores and scores["send_tick"] >= 0.2:
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="send_tick",
                    start_s=float(t_s[0]),
                    end_s=float(t_s[-1]),
                    score=scores["send_tick"],
                    summary=(
                        f"key events sit on a {tick_T:.2f} ms grid (phase concentration R={tick_R:.2f}; "
                        f"clock resolution {res:g} ms): input batched to a send tick"
                    ),
                    details={"period_ms": round(tick_T, 3), "R": round(tick_R, 4), "clock_resolution_ms": res},
                )
            )
        if lag is not None:
            s_lag = scores["transport_lag"]
            if lag["synced"]:
                what = (
                    "far above the tens of ms of a local keyboard: "
                    "consistent with typing relayed over a long network path"
                    if s_lag >= 0.5
                    else "consistent with a keyboard at the client"
                )
                summary = (
                    f"keystrokes reached the server {lag['median_ms']:.0f} ms after they were typed "
                    f"(median; 5-95 %: {lag['p05_ms']:.0f}-{lag['p95_ms']:.0f} ms, "
                    f"jitter {lag['jitter_ms']:.1f} ms): {what}"
                )
            else:
                summary = (
                    f"client and server clocks are not synchronised (offset {lag['median_ms']:.0f} ms); "
                    "transport jitter "
                    f"{lag['jitter_ms']:.1f} ms ({'high' if s_lag >= 0.5 else 'normal'})"
                )
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="transport_lag",
                    start_s=float(presses.press_ms[0] / 1000.0),
                    end_s=float(presses.press_ms[-1] / 1000.0),
                    score=s_lag,
                    summary=summary,
                    details={k: (round(v, 2) if isinstance(v, float) else v) for k, v in lag.items()},
                )
            )

        windows = self._windows(
            tracks.duration_s,
            t,
            presses=presses,
            incident_idx=inc_idx,
            p_inc=min(p_inc, 0.5),
            lag_enabled=lag is not None and lag["synced"],
        )
        digraph = kt.digraph_spread(press_ms=presses.press_ms, key_id=presses.key_id)
        corr = kt.correction_latency(press_ms=presses.press_ms, code=presses.code)
        holds_ok = holds[hold_known]
        metrics = {
            "key_presses": n_down,
            "key_events": n_ev,
            "typing_time_s": round(typing_s, 2),
            "keys_per_minute": round(lam_down * 60000.0, 1),
            "clock_resolution_ms": res,
            "coarse_clock": coarse,
            "hold_median_ms": None if holds_ok.size == 0 else round(float(np.median(holds_ok)), 1),
            "keydown_interval_median_ms": round(float(np.median(dd)), 1) if dd.size else None,
            "feature_scores": {k: round(v, 4) for k, v in {**scores, **feature_view}.items()},
            "relay_incidents": {
                "count": int(inc_idx.size),
                "expected_genuine": round(p_inc * n_ev, 4),
                "surprise_log10": round(s_inc, 2),
                "by_rule": inc_reasons,
            },
            "send_tick": {"period_ms": round(tick_T, 3), "R": round(tick_R, 4)},
            "transport_lag": None
            if lag is None
            else {k: (round(v, 2) if isinstance(v, float) else v) for k, v in lag.items()},
            "digraph_spread": digraph,
            "correction_latency_median_ms": None if corr.size == 0 else round(float(np.median(corr)), 1),
            "corrections": int(corr.size),
        }
        reason = ""
        if coarse:
            reason = f"coarse clock ({res:g} ms grid): tolerances widened to the grid, lower confidence"
        elif n_down < self.full_confidence_keys:
            reason = f"{n_down} key presses: low confidence"
        return AnalyzerResult(
            name=self.name,
            status=Status.OK,
            score=float(min(max(score, 0.0), 1.0)),
            confidence=float(confidence),
            reason=reason,
            evidence=tuple(sorted(evidence, key=lambda e: -e.score)),
            windows=windows,
            metrics=metrics,
        )

    def _windows(
        self,
        duration_s: float,
        t: np.ndarray,
        *,
        presses: KeyPresses,
        incident_idx: np.ndarray,
        p_inc: float,
        lag_enabled: bool,
    ) -> tuple[WindowScore, ...]:
        """Per-window scores: relay incidents (and transport lag) within each window."""
        t_s = t / 1000.0
        edges, _ = event_windows(duration_s=duration_s, window_s=self.window_s, event_s=t_s)
        p_s = presses.press_ms / 1000.0
        n_ev = np.histogram(t_s, bins=edges)[0]
        n_dn = np.histogram(p_s, bins=edges)[0]
        k_inc = np.histogram(t_s[incident_idx], bins=edges)[0]
        lag = presses.recv_press_ms - presses.press_ms
        s_inc = kt.binomial_surprise_many(k=k_inc, n=n_ev, p0=p_inc)
        inc_score = logistic_array((s_inc - self.surprise_at_half) / 0.8)
        lag_score = np.zeros(edges.size - 1)
        if lag_enabled:
            ok = np.isfinite(lag)
            lag_ok = lag[ok]
            bounds = np.searchsorted(p_s[ok], edges)  # presses are in time order
            bounds[-1] = lag_ok.size
            for i in range(edges.size - 1):
                vals = lag_ok[bounds[i] : bounds[i + 1]]
                if vals.size >= 5:
                    lag_score[i] = logistic_safe(
                        (float(np.median(vals)) - self.lag_at_half_ms) / (0.12 * self.lag_at_half_ms)
                    )
        score = 1.0 - (1.0 - inc_score) * (1.0 - lag_score)
        out = [
            WindowScore(float(edges[i]), float(edges[i + 1]), None if n_dn[i] < 10 else float(score[i]), int(n_dn[i]))
            for i in range(edges.size - 1)
        ]
        return tuple(out)
