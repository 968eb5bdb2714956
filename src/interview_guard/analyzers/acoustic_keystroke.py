"""``acoustic_keystroke``: do the key clicks in the microphone match the keystroke log?

A candidate typing at the recorded machine is heard: every logged key-down
has a click in the audio a near-constant time away (the microphone and the
keyboard share the room; USB polling, the event loop and the key's travel
spread that time by a few milliseconds). A relay breaks this in two ways:

* the typist is in the room with the microphone but the keys reach the
  logged machine over a network (remote desktop, KVM-over-IP): each key is
  logged after its click by the one-way delay *plus jitter*, so the
  click-to-key lag spreads over tens of milliseconds, with a heavy tail and
  bursts after stalls;
* the microphone is at the logged machine and the typist is elsewhere
  (laptop farm), or someone else types: where this keyboard is heard at all,
  stretches of logged keys go unheard, or clicks are heard while the log is
  idle (typing elsewhere). A keyboard never heard is *not* evidence: a
  headset or a call app's noise suppression does the same, so the check is
  skipped (absence of a signal never raises the risk).

The analyzer detects click onsets (short broadband transients above 2 kHz:
:func:`~interview_guard.signals.clicks.click_onsets`), finds the lag at
which clicks and logged key-downs coincide (the keystroke clock's offset
against the recording: searched over the whole session when the clocks are
not known to be aligned, over +-1 s when they are), follows a slowly
drifting offset, matches each key to its click and measures:

``click_lag_jitter``
    the spread of the click-to-key lag (a Gaussian core fitted beside a
    uniform background of chance matches): a few ms at the machine, tens of
    ms through a relay.
``transport_lag``
    (aligned clocks only) keys logged long after their click.
``keys_without_sound``
    stretches of logged keys with no click, in a session whose keyboard is heard.
``clicks_without_keys``
    trains of keyboard-like clicks while the log is idle.

Maths in :mod:`interview_guard.signals.clicks` and :mod:`interview_guard.signals.click_offset`; rationale and measured
numbers in ``docs/audio-analyzers.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Evidence, Param, Status, WindowScore
from interview_guard.signals import clicks as af
from interview_guard.signals import keystroke_timing as kt
from interview_guard.signals.band_power import strided_max_abs
from interview_guard.signals.click_offset import follow_click_offset
from interview_guard.signals.stats import logistic_safe, robust_spread
from interview_guard.signals.windows import event_windows
from interview_guard.tracks import Stream, Tracks
from interview_guard.tracks.keystrokes import UP

__all__ = ["AcousticKeystroke"]

# Key presses per stretch when the whole log does not line up (clock drift): about a minute of typing.
_CHUNK_KEYS = 200


def _clip_t(t: float, duration: float) -> float:
    return float(min(max(t, 0.0), max(duration, 0.0)))


class AcousticKeystroke(Analyzer):
    name = "acoustic_keystroke"
    requires = frozenset({Stream.KEYSTROKES, Stream.AUDIO})
    # audio cut short: the key presses after it stops are counted as not checked (confidence), not by time
    counts_own_coverage = frozenset({Stream.AUDIO})
    description = (
        "Key clicks in the audio against the keystroke log: click-to-key lag jitter (relayed typing heard "
        "in the room), stretches of keys without sound and clicks while the log is idle. A keyboard that is "
        "never heard (headset, noise suppression) is not evidence: the check is skipped."
    )
    min_keys = Param(30, 5, 1e6, "fewer key presses over the audio than this: skipped")
    full_confidence_keys = Param(300, 20, 1e7, "matched key presses for full confidence")
    click_low_hz = Param(2000.0, 500.0, 7000.0, "high-pass edge of the click band (Hz)")
    click_rise_db = Param(10.0, 3.0, 40.0, "least rise of a click over the preceding 3-15 ms (dB)")
    aligned_search_ms = Param(1000.0, 50.0, 10000.0, "offset searched either way when the clocks are aligned (ms)")
    max_search_s = Param(7200.0, 1.0, 86400.0, "largest offset searched when the clocks are not aligned (s)")
    min_peak_ratio = Param(2.5, 1.1, 50.0, "coincidence peak over the best chance alignment to accept an offset")
    match_ms = Param(60.0, 10.0, 300.0, "a click within this of a key's expected time is its match (ms)")
    track_window_s = Param(30.0, 5.0, 600.0, "half-window of the running offset that follows clock drift (s)")
    spread_at_half_ms = Param(6.0, 1.0, 100.0, "click-to-key lag spread (sd of the core) scoring 0.5")
    lag_at_half_ms = Param(60.0, 10.0, 2000.0, "aligned clocks: keys logged this long after their click score 0.5")
    idle_gap_s = Param(1.5, 0.2, 10.0, "no logged key event within this of a click: the log is idle there")
    idle_train_clicks = Param(8, 3, 1000, "least clicks in a train (gaps <= 1 s) heard while the log is idle")
    idle_clicks_at_half = Param(40, 5, 1e6, "clicks in idle-log trains scoring 0.5")
    surprise_at_half = Param(4.0, 1.0, 20.0, "-log10 p of a stretch's missing clicks scoring 0.5")
    window_s = Param(30.0, 5.0, 3600.0, "length of the per-window scores (s)")

    # ------------------------------------------------------------------ core
    def _run(self, tracks: Tracks) -> AnalyzerResult:
        log = tracks.keystrokes
        audio = tracks.audio
        assert log is not None and audio is not None  # required streams: analyze() skipped when absent
        y = np.asarray(getattr(audio, "samples", np.zeros(0)))
        sr = int(getattr(audio, "sr", 16000) or 16000)
        a0 = float(getattr(audio, "start_s", 0.0) or 0.0)
        a1 = a0 + y.size / sr
        # where the audio should have gone on to when it was cut short (a crash, a damaged file): keys up to there
        # were recorded but cannot be heard
        d1 = float(getattr(audio, "declared_end_s", a1)) if getattr(audio, "truncated", False) else a1
        presses = log.presses()
        if len(presses) < self.min_keys:
            return AnalyzerResult.skipped(
                self.name, f"too few key presses for a judgement ({len(presses)} < {int(self.min_keys)})"
            )
        if y.size < sr:
            return AnalyzerResult.skipped(self.name, "the audio is shorter than a second")
        release = getattr(audio, "release_samples", None)  # a mapped waveform: read pages leave memory
        if strided_max_abs(y, max(1, y.size // 4_000_000), release=release) < 1e-4:
            return AnalyzerResult.skipped(self.name, "the audio is silent (muted microphone or empty track)")
        aligned = bool(tracks.keystrokes_aligned)
        key_ms = all_ms = np.asarray(presses.press_ms, dtype=np.float64)
        up_ms = np.sort(log.t_ms[log.kind == UP].astype(np.float64))
        if aligned:
            inside = (key_ms >= a0 * 1000.0) & (key_ms <= a1 * 1000.0)
            if inside.sum() < self.min_keys:
                return AnalyzerResult.skipped(
                    self.name,
                    f"only {int(inside.sum())} key presses fall inside the audio ({a0:.1f}-{a1:.1f} s)",
                )
            key_ms = key_ms[inside]

        clicks = af.click_onsets(y=y, sr=sr, low_hz=self.click_low_hz, rise_db=self.click_rise_db, release=release)
        c_ms = (a0 + clicks["t_s"]) * 1000.0
        c_rise = clicks["rise_db"]
        audio_min = (a1 - a0) / 60.0
        n_clicks = int(c_ms.size)

        # ---------------------------------------------------------- the offset
        found = self._search(key_ms, c_ms, aligned)
        note = ""
        if aligned and (found is None or not found["accepted"]):
            wide = self._search(key_ms, c_ms, False)
            if wide is not None and wide["accepted"]:
                # the metadata says aligned, the sound says otherwise: trust the sound, judge no lag
                note = (
                    f"the keystroke clock is {wide['offset_ms'] / 1000.0:+.2f} s off the recording although the "
                    f"session metadata says it is aligned; the lag is not judged"
                )
                found, aligned = wide, False
        if found is None or not found["accepted"]:
            return self._no_offset(key_ms, n_clicks, audio_min, aligned, found)
        result = self._with_offset(
            tracks, key_ms, up_ms, c_ms, c_rise, n_clicks, audio_min, aligned, found, a0, a1, all_ms, d1
        )
        if note:
            result = AnalyzerResult(
                name=result.name,
                status=result.status,
                score=result.score,
                confidence=result.confidence,
                reason="; ".join(x for x in (note, result.reason) if x),
                evidence=result.evidence,
                windows=result.windows,
                metrics=dict(result.metrics, clock_note=note),
            )
        return result

    def _search(self, key_ms: np.ndarray, c_ms: np.ndarray, aligned: bool) -> dict[str, Any] | None:
        """The coincidence peak of clicks and keys over the lag range (None when there is nothing to search)."""
        n_keys, n_clicks = key_ms.size, c_ms.size
        if n_clicks < 3:
            return None
        span = self.max_search_s * 1000.0
        if aligned:
            lo, hi = -self.aligned_search_ms, self.aligned_search_ms
        else:
            lo = max(-span, c_ms.min() - key_ms.max() - 1000.0)
            hi = min(span, c_ms.max() - key_ms.min() + 1000.0)
        if not lo < hi:
            return None
        found = self._peak(key_ms, c_ms, lo, hi)
        if not found["accepted"] and n_keys >= 2 * _CHUNK_KEYS:
            # a drifting clock smears the whole-log peak: look for it with stretches of the log
            starts = np.linspace(0, n_keys - _CHUNK_KEYS, min(8, n_keys // _CHUNK_KEYS)).astype(int)
            for s0 in starts:
                part = key_ms[s0 : s0 + _CHUNK_KEYS]
                if not aligned:
                    lo = max(-span, c_ms.min() - part.max() - 1000.0)
                    hi = min(span, c_ms.max() - part.min() + 1000.0)
                f = self._peak(part, c_ms, lo, hi)
                if f["accepted"] and f["ratio"] > found.get("chunk_ratio", 0.0):
                    found = dict(f, chunk_ratio=f["ratio"])
        return found

    def _peak(self, key_ms: np.ndarray, c_ms: np.ndarray, lo: float, hi: float) -> dict[str, Any]:
        """:func:`~interview_guard.signals.audio_features.find_event_offset`, and whether its peak is accepted."""
        found = af.find_event_offset(a_ms=key_ms, b_ms=c_ms, lo_ms=lo, hi_ms=hi)
        enough = (found["peak"] - found["median"]) >= max(8.0, 0.1 * key_ms.size)
        found["accepted"] = bool(found["ratio"] >= self.min_peak_ratio and enough)
        return found

    # ------------------------------------------------------------ no offset
    def _no_offset(
        self,
        key_ms: np.ndarray,
        n_clicks: int,
        audio_min: float,
        aligned: bool,
        found: dict[str, Any] | None,
    ) -> AnalyzerResult:
        """No click train lines up with the log: not judged (absence of a signal is not evidence).

        A headset or a call app's noise suppression removes key clicks; speech makes click-like sounds that
        line up with nothing. Keys logged with nothing heard cannot be told from either, so the check is
        skipped with the numbers, and the fusion leaves it out.
        """
        ratio = 0.0 if found is None else float(found["ratio"])
        rate = n_clicks / max(audio_min, 1e-9)
        return AnalyzerResult(
            name=self.name,
            status=Status.SKIPPED,
            reason=(
                f"the keyboard is not heard: none of the {n_clicks} click-like sounds ({rate:.0f}/min) lines up "
                f"with the {int(key_ms.size)} logged key presses (best alignment {ratio:.1f}x chance, "
                f"{self.min_peak_ratio:g}x needed); a headset or noise suppression does this, so it is not judged"
            ),
            metrics={
                "key_presses": int(key_ms.size),
                "clicks": n_clicks,
                "clicks_per_min": round(rate, 1),
                "clocks_aligned": aligned,
                "offset_found": False,
                "peak_ratio": round(ratio, 2),
            },
        )

    # ------------------------------------------------------------ with offset
    def _with_offset(
        self,
        tracks: Tracks,
        key_ms: np.ndarray,
        up_ms: np.ndarray,
        c_ms: np.ndarray,
        c_rise: np.ndarray,
        n_clicks: int,
        audio_min: float,
        aligned: bool,
        found: dict[str, Any],
        a0: float,
        a1: float,
        all_ms: np.ndarray,
        d1: float,
    ) -> AnalyzerResult:
        dur = tracks.duration_s
        scale = found["scale_ms"]
        d0, _ = af.refine_offset(
            a_ms=key_ms,
            b_ms=c_ms,
            guess_ms=found["offset_ms"],
            half_width_ms=max(10.0, 2.0 * scale),
            bandwidth_ms=max(1.5, scale / 2.0),
        )
        # only keys whose click would fall inside the audio can be heard
        heard = (key_ms + d0 >= a0 * 1000.0 + 20.0) & (key_ms + d0 <= a1 * 1000.0 - 20.0)
        # keys pressed after the audio stops short of its declared end: not checked (never evidence of anything)
        after = all_ms + d0
        n_after = int(np.count_nonzero((after > a1 * 1000.0 - 20.0) & (after <= d1 * 1000.0))) if d1 > a1 else 0
        key_ms = key_ms[heard]
        n_keys = int(key_ms.size)
        tol = float(self.match_ms)
        # follow a drifting clock (the two clocks' rates differ by up to ~100 ppm: 0.36 s an hour)
        idx, res, local = follow_click_offset(
            key_ms=key_ms, click_ms=c_ms, start_offset_ms=d0, tolerance_ms=tol, window_s=self.track_window_s
        )
        ok = idx >= 0
        core = af.core_spread(residuals=res[ok], half_width=tol)
        sd = core["sd"] if math.isfinite(core["sd"]) else 0.0
        n_core = core["n_core"]
        # each key's probability that its nearest click is its own (not a chance sound in the window)
        heard_p = np.zeros(key_ms.size)
        if core["n"] and math.isfinite(core["mean"]):
            g = (
                core["weight"]
                * np.exp(-0.5 * ((res[ok] - core["mean"]) / max(sd, 0.5)) ** 2)
                / (max(sd, 0.5) * math.sqrt(2 * math.pi))
            )
            heard_p[ok] = g / (g + (1.0 - core["weight"]) / (2.0 * tol))
        n_match = int(round(float(heard_p.sum())))
        sure = heard_p >= 0.5
        # lower 95 % bound of the sd (chi-square, approximately): few matches cannot make a large spread
        sd_low = sd * max(0.0, 1.0 - 1.645 / math.sqrt(max(2.0 * n_core, 1.0)))
        s_jitter = (
            logistic_safe((sd_low - self.spread_at_half_ms) / (0.15 * self.spread_at_half_ms)) if n_core >= 10 else 0.0
        )
        # heavy tail: matches beyond 3x the genuine spread, above what chance sounds put there
        far = 3.0 * self.spread_at_half_ms
        if core["n"] and far < tol:
            seen = float(np.sum(np.abs(res[ok] - core["mean"]) > far))
            expected = (1.0 - core["weight"]) * core["n"] * (tol - far) / tol
            tail = float(max(0.0, seen - expected) / max(n_core, 1.0))
        else:
            tail = 0.0
        offset = float(np.median(local))
        drift = float(local.max() - local.min())
        # when each key was pressed on the recording's clock (evidence is timed there): the log's own times when the
        # clocks are aligned, else moved by the followed offset (the log's clock may start anywhere)
        rec_s = (key_ms if aligned else key_ms + local) / 1000.0

        scores: dict[str, float] = {"click_lag_jitter": s_jitter}
        evidence: list[Evidence] = []
        t_first = _clip_t(float(rec_s.min()), dur)
        t_last = _clip_t(float(rec_s.max()), dur)
        evidence.append(
            Evidence(
                analyzer=self.name,
                kind="click_lag_jitter",
                start_s=t_first,
                end_s=max(t_first, t_last),
                score=s_jitter,
                summary=(
                    f"{n_match} of {n_keys} logged key presses have a click in the audio; the click-to-key lag "
                    f"spreads by {sd:.1f} ms (sd of the core; {100 * tail:.0f} % of matches more than "
                    f"{3 * self.spread_at_half_ms:.0f} ms off): "
                    + (
                        "far wider than a keyboard at the machine gives (a few ms): the keys reached the logged "
                        "machine through a jittery network"
                        if s_jitter >= 0.5
                        else "consistent with typing at the logged machine"
                    )
                ),
                details={
                    "matched": n_match,
                    "key_presses": n_keys,
                    "spread_ms": round(sd, 2),
                    "spread_low95_ms": round(sd_low, 2),
                    "core_share": round(core["weight"], 3),
                    "mad_sd_ms": None if not math.isfinite(core["mad_sd"]) else round(core["mad_sd"], 2),
                    "tail_share": round(tail, 3),
                    "match_window_ms": tol,
                    "examples": [
                        {"t_s": round(float(rec_s[i]), 3), "lag_ms": round(float(res[i] + local[i]), 1)}
                        for i in np.flatnonzero(sure)[:: max(1, int(sure.sum()) // 12)][:12]
                    ],
                },
            )
        )
        if aligned:
            # lag = click - key; keys logged after their click -> negative lag
            late = -offset
            s_lag = logistic_safe((late - self.lag_at_half_ms) / (0.15 * self.lag_at_half_ms))
            scores["transport_lag"] = s_lag
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="transport_lag",
                    start_s=t_first,
                    end_s=max(t_first, t_last),
                    score=s_lag,
                    summary=(
                        f"keys are logged {late:.0f} ms after their click is heard (median; the clocks are aligned): "
                        + (
                            "the key events reached the machine long after the keys were pressed"
                            if s_lag >= 0.5
                            else "consistent with a keyboard at the logged machine"
                        )
                    ),
                    details={"key_after_click_ms": round(late, 1), "offset_drift_ms": round(drift, 1)},
                )
            )

        # stretches of the log with no clicks (keys injected, someone else typing)
        t_keys = rec_s
        edges, _ = event_windows(duration_s=dur, window_s=self.window_s, event_s=t_keys)
        n_w = np.histogram(t_keys, bins=edges)[0]
        m_w = np.round(np.histogram(t_keys, bins=edges, weights=heard_p)[0]).astype(np.int64)
        rate = n_match / max(n_keys, 1)
        miss_sur = kt.binomial_surprise_many(k=n_w - m_w, n=n_w, p0=min(max(1.0 - rate, 1e-6), 1 - 1e-6))
        n_tests = max(1, int(np.count_nonzero(n_w >= 10)))
        miss_sur = np.where((n_w >= 10) & (m_w < 0.5 * rate * n_w), miss_sur - math.log10(n_tests), 0.0)
        bad = np.flatnonzero(miss_sur >= 2.0)
        s_miss = kt.surprise_score(float(miss_sur.max(initial=0.0)), at_half=self.surprise_at_half)
        scores["keys_without_sound"] = s_miss
        if bad.size:
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="keys_without_sound",
                    start_s=float(edges[bad[0]]),
                    end_s=float(edges[bad[-1] + 1]),
                    score=s_miss,
                    summary=(
                        f"in {bad.size} stretch(es) of {self.window_s:g} s, {int((n_w - m_w)[bad].sum())} of "
                        f"{int(n_w[bad].sum())} logged key presses have no click, where the rest of the session "
                        f"has clicks for {100 * rate:.0f} % of its keys: keys not typed at the microphone's keyboard"
                    ),
                    details={
                        "stretches": [
                            {
                                "start_s": round(float(edges[i]), 1),
                                "end_s": round(float(edges[i + 1]), 1),
                                "keys": int(n_w[i]),
                                "matched": int(m_w[i]),
                                "surprise_log10": round(float(miss_sur[i]), 2),
                            }
                            for i in bad[:12]
                        ],
                        "session_match_rate": round(rate, 3),
                    },
                )
            )

        # clicks while the log is idle
        ev_ms = np.sort(np.r_[key_ms, up_ms]) if up_ms.size else key_ms
        loc_c = np.interp(c_ms, key_ms, local)  # clicks mapped onto the log clock
        c_log = c_ms - loc_c
        j = np.searchsorted(ev_ms, c_log)
        near = np.minimum(
            np.abs(c_log - ev_ms[np.clip(j - 1, 0, ev_ms.size - 1)]),
            np.abs(ev_ms[np.clip(j, 0, ev_ms.size - 1)] - c_log),
        )
        matched_rise = c_rise[idx[sure]] if sure.any() else np.zeros(0)
        rise_thr = float(np.percentile(matched_rise, 20)) if matched_rise.size >= 10 else self.click_rise_db
        in_span = (c_log >= ev_ms[0]) & (c_log <= ev_ms[-1])  # typing before or after the log: not judged
        idle = (near > self.idle_gap_s * 1000.0) & (c_rise >= rise_thr) & in_span
        trains = self._trains(c_ms[idle])
        n_idle = int(sum(b - a for a, b in trains))
        s_idle = (
            logistic_safe((n_idle - self.idle_clicks_at_half) / (0.25 * self.idle_clicks_at_half)) if n_idle else 0.0
        )
        scores["clicks_without_keys"] = s_idle
        ci = c_ms[idle]
        if trains:
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="clicks_without_keys",
                    start_s=_clip_t(ci[trains[0][0]] / 1000.0, dur),
                    end_s=_clip_t(ci[trains[-1][1] - 1] / 1000.0, dur),
                    score=s_idle,
                    summary=(
                        f"{n_idle} keyboard-like clicks in {len(trains)} train(s) of >= {int(self.idle_train_clicks)} "
                        f"were heard while the keystroke log was idle (no key event within {self.idle_gap_s:g} s): "
                        f"typing that the log does not show"
                    ),
                    details={
                        "clicks": n_idle,
                        "trains": [
                            {
                                "start_s": round(float(ci[a] / 1000.0), 2),
                                "end_s": round(float(ci[b - 1] / 1000.0), 2),
                                "clicks": int(b - a),
                            }
                            for a, b in trains[:12]
                        ],
                        "rise_threshold_db": round(rise_thr, 1),
                    },
                )
            )

        score = 1.0 - float(np.prod([1.0 - s for s in scores.values()]))
        checked_share = n_keys / max(n_keys + n_after, 1)
        confidence = float(min(1.0, n_match / self.full_confidence_keys)) * checked_share
        windows = self._windows(edges, n_w, m_w, t_keys, sure, res, core["mean"], miss_sur)
        metrics = {
            "key_presses": n_keys,
            "clicks": n_clicks,
            "clicks_per_min": round(n_clicks / max(audio_min, 1e-9), 1),
            "clocks_aligned": aligned,
            "offset_found": True,
            "offset_ms": round(offset, 2),
            "offset_drift_ms": round(drift, 2),
            "peak_ratio": round(found["ratio"], 2),
            "peak_scale_ms": found["scale_ms"],
            "matched": n_match,
            "match_rate": round(rate, 4),
            "spread_ms": round(sd, 2),
            "core_share": round(core["weight"], 3),
            "tail_share": round(tail, 3),
            "idle_train_clicks": n_idle,
            "feature_scores": {k: round(v, 4) for k, v in scores.items()},
        }
        reasons = []
        if n_match < self.full_confidence_keys:
            reasons.append(f"{n_match} key presses matched to clicks: low confidence")
        if d1 > a1:
            metrics.update(keys_after_audio_end=n_after, checked_key_share=round(checked_share, 4))
            reasons.append(
                f"the audio stops at {a1:.1f} s of {d1:.1f} s declared (cut short): {n_after} key presses after it "
                f"are not checked, the confidence is scaled by the {100 * checked_share:.0f} % checked"
            )
        reason = "; ".join(reasons)
        return AnalyzerResult(
            name=self.name,
            status=Status.OK,
            score=float(min(max(score, 0.0), 1.0)),
            confidence=confidence,
            reason=reason,
            evidence=tuple(sorted(evidence, key=lambda e: -e.score)),
            windows=windows,
            metrics=metrics,
        )

    def _trains(self, t_ms: np.ndarray) -> list[tuple[int, int]]:
        """Runs of clicks with gaps <= 1 s and at least ``idle_train_clicks`` clicks (start, end) indices."""
        if t_ms.size < self.idle_train_clicks:
            return []
        brk = np.flatnonzero(np.diff(t_ms) > 1000.0) + 1
        starts = np.r_[0, brk]
        ends = np.r_[brk, t_ms.size]
        return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= self.idle_train_clicks]

    def _windows(
        self,
        edges: np.ndarray,
        n_w: np.ndarray,
        m_w: np.ndarray,
        t_keys: np.ndarray,
        ok: np.ndarray,
        res: np.ndarray,
        mu: float,
        miss_sur: np.ndarray,
    ) -> tuple[WindowScore, ...]:
        out = []
        for i in range(edges.size - 1):
            if n_w[i] < 10:
                out.append(WindowScore(float(edges[i]), float(edges[i + 1]), None, int(n_w[i])))
                continue
            sel = ok & (t_keys >= edges[i]) & (t_keys < edges[i + 1])
            r = res[sel]
            s_j = 0.0
            if r.size >= 10:
                sd_w = robust_spread(r, center=mu)
                s_j = logistic_safe((sd_w - self.spread_at_half_ms) / (0.25 * self.spread_at_half_ms))
            s_m = kt.surprise_score(float(miss_sur[i]), at_half=self.surprise_at_half)
            out.append(WindowScore(float(edges[i]), float(edges[i + 1]), float(max(s_j, s_m)), int(n_w[i])))
        return tuple(out)
