"""``av_sync``: does the voice follow the lips?

A face swap or a lip-sync model adds processing delay to the video, a
dubbed or replayed voice does not belong to the face at all, and an audio
path that drifts shows a growing offset. This analyzer correlates the
mouth's motion (inner-lip opening from the face landmarks, combined with the
``jawOpen`` blendshape) with the speech envelope of the audio (log energy of
the 300-3400 Hz band) over sliding windows and measures:

``av_offset``
    the session's audio-video offset (positive: audio late), the peak of the
    window-averaged correlation curve over lags of +-500 ms with sub-step
    (parabolic) precision, its bootstrap uncertainty, and the robust median
    of the confident windows' own peaks. Offsets outside the tolerance
    (45 ms audio early, 125 ms audio late; people notice beyond about that)
    are evidence.
``lips_do_not_follow``
    how strongly the mouth follows the voice at all: the session's peak
    correlation against the peaks the same signals reach when the audio is
    moved seconds away (surrogate shifts), as a z-score; and the share of
    speech time whose windows do not follow at the session offset.
``offset_drift``
    a change of the offset over the session (Theil-Sen slope of the
    confident windows' offsets).

Only windows with speech (energy above the running noise floor) and a face
are scored, so silence and absence are not evidence. Maths in
:mod:`interview_guard.signals.audio_features`; measured numbers in
``docs/audio-analyzers.md``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
from interview_guard.signals import speech as af
from interview_guard.signals.band_power import strided_max_abs
from interview_guard.signals.stats import logistic_safe, robust_spread
from interview_guard.signals.windows import event_windows
from interview_guard.tracks import Stream, Tracks

if TYPE_CHECKING:
    from interview_guard.extract.video_tracks import FaceTrack

__all__ = ["AVSync", "mouth_signal"]


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _robust_z(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if ok.sum() < 3:
        return np.full(x.shape, np.nan)
    med = np.median(x[ok])
    q75, q25 = np.percentile(x[ok], [75, 25])
    scale = (q75 - q25) / 1.349
    if not scale > 1e-9:
        scale = float(np.std(x[ok]))
    if not scale > 1e-9:
        return np.full(x.shape, np.nan)
    z: np.ndarray = (x - med) / scale
    return z


def mouth_signal(
    face: FaceTrack, *, aspect: float = 1.0, by_rows: Callable[[Callable[[slice], Any], int], Any] | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-frame mouth motion signal from a face track.

    The robust z-score of the inner-lip opening (landmarks 13-14 over the
    face height) plus, when the track has blendshapes, the robust z-score of
    ``jawOpen`` (the two measure the same opening in different ways; their
    sum is less noisy than either).

    Parameters
    ----------
    face : FaceTrack-like
        ``t_s``, ``present``, ``landmarks`` and optionally ``blendshapes``
        with ``blendshape_names``.
    aspect : float
        Frame width / height.
    by_rows : callable, optional
        ``Tracks.by_rows``: the landmarks are read a chunk of rows at a time, releasing each, so a track mapped
        from a file keeps one chunk resident, not the session's landmarks (the same values).

    Returns
    -------
    t_s : np.ndarray [shape=(n,)]
    signal : np.ndarray [shape=(n,)]
        NaN where no face.
    kind : str
        ``"lips+jaw"`` or ``"lips"``.
    """
    t = np.asarray(face.t_s, dtype=np.float64)
    present = np.asarray(face.present, dtype=bool)
    lm = np.asarray(face.landmarks)
    if by_rows is None:
        lips = af.mouth_opening(landmarks=lm, aspect=aspect)
    else:
        lips = np.asarray(by_rows(lambda s: af.mouth_opening(landmarks=lm[s], aspect=aspect), lm.shape[0]))
    lips[~present] = np.nan
    z = _robust_z(lips)
    kind = "lips"
    names = tuple(getattr(face, "blendshape_names", ()) or ())
    bs = getattr(face, "blendshapes", None)
    if bs is not None and "jawOpen" in names:
        jaw = np.asarray(bs)[:, names.index("jawOpen")].astype(np.float64)
        jaw[~present] = np.nan
        zj = _robust_z(jaw)
        if np.isfinite(zj).sum() >= max(3, 0.5 * np.isfinite(z).sum()):
            z = np.where(np.isfinite(z) & np.isfinite(zj), z + zj, np.where(np.isfinite(z), z, zj))
            kind = "lips+jaw"
    return t, z, kind


class AVSync(Analyzer):
    name = "av_sync"
    requires = frozenset({Stream.AUDIO, Stream.FACE})
    description = (
        "Lip sync: correlates mouth opening with the speech envelope over sliding windows; audio-video "
        "offset outside -45..+125 ms, lips that do not follow the voice, and offset drift."
    )
    window_s = Param(5.0, 2.0, 30.0, "analysis window length (s)")
    hop_s = Param(1.0, 0.25, 10.0, "analysis window hop (s)")
    max_lag_ms = Param(600.0, 100.0, 1500.0, "largest offset searched either way (ms)")
    grid_ms = Param(10.0, 2.0, 40.0, "common time grid of the two signals (ms)")
    min_speech_s = Param(3.0, 0.5, 600.0, "less speech with a visible face than this: skipped")
    full_confidence_speech_s = Param(60.0, 5.0, 3600.0, "speech with a face for full confidence (s)")
    evidence_speech_s = Param(
        20.0, 1.0, 3600.0, "with less speech than this the scores shrink towards prior_score (sqrt of the share)"
    )
    prior_score = Param(0.15, 0.0, 0.5, "score a session with almost no usable speech gets")
    min_window_speech = Param(0.3, 0.05, 1.0, "share of a window that must be speech to score it")
    min_window_face = Param(0.7, 0.1, 1.0, "share of a window that must have a face to score it")
    speech_margin_db = Param(12.0, 3.0, 40.0, "speech: this far above the running noise floor (dB)")
    audio_early_ms = Param(45.0, 0.0, 500.0, "tolerated audio lead (ms; offset below minus this is flagged)")
    audio_late_ms = Param(125.0, 0.0, 1000.0, "tolerated audio lag (ms)")
    reference_lag_ms = Param(40.0, -200.0, 200.0, "lag by which the lips lead the voice on in-sync video (subtracted)")
    confident_peak = Param(0.15, 0.0, 1.0, "window confidence (peak minus median correlation) to trust its offset")
    surrogates = Param(16, 4, 64, "audio shifted this many times far away for the chance level")
    sync_z_per_window = Param(1.5, 0.5, 5.0, "z over the surrogates genuine speech reaches per window of speech")
    sync_z_max = Param(6.0, 2.0, 20.0, "cap of the expected z (a z this high is sync whatever the length)")
    offset_sd_ms = Param(100.0, 10.0, 500.0, "spread of one window's offset on genuine video (uncertainty floor)")
    follow_corr = Param(
        0.1, -1.0, 1.0, "a window whose correlation at the session offset is below this does not follow"
    )
    drift_at_half_ms = Param(100.0, 10.0, 2000.0, "offset change over the session scoring 0.5")
    report_window_s = Param(30.0, 5.0, 3600.0, "length of the per-window scores (s)")

    # ------------------------------------------------------------------ core
    def _run(self, tracks: Tracks) -> AnalyzerResult:
        audio = tracks.audio
        face = tracks.face
        assert face is not None  # a required stream: analyze() skipped when it is absent
        y = np.asarray(getattr(audio, "samples", np.zeros(0)))
        sr = int(getattr(audio, "sr", 16000) or 16000)
        a0 = float(getattr(audio, "start_s", 0.0) or 0.0)
        if y.size < sr * 0.5:
            return AnalyzerResult.skipped(self.name, "the audio is shorter than half a second")
        if len(np.asarray(face.t_s)) < 3 or not np.asarray(face.present, bool).any():
            return AnalyzerResult.skipped(self.name, "no face found in the video")
        release = getattr(audio, "release_samples", None)  # a mapped waveform: read pages leave memory
        if strided_max_abs(y, max(1, y.size // 2_000_000), release=release) < 1e-4:
            return AnalyzerResult.skipped(self.name, "the audio is silent (muted or empty track)")

        step = self.grid_ms / 1000.0
        env, t0 = af.speech_envelope(y=y, sr=sr, hop_s=step, release=release)
        env_t0 = a0 + t0
        speech_env = af.speech_activity(env_db=env, hop_s=step, margin_db=self.speech_margin_db)
        aspect = self._aspect(tracks, face)
        ft, mouth, mouth_kind = mouth_signal(face, aspect=aspect, by_rows=tracks.by_rows)

        # common grid over the overlap of audio and face track
        g0 = max(env_t0, float(ft[0]))
        g1 = min(env_t0 + (env.size - 1) * step, float(ft[-1]))
        if g1 - g0 < 1.0:
            return AnalyzerResult.skipped(self.name, "the audio and the face track overlap for less than a second")
        n = int(math.floor((g1 - g0) / step)) + 1
        grid = g0 + np.arange(n) * step
        k0 = int(round((g0 - env_t0) / step))
        A = env[k0 : k0 + n].astype(np.float64)
        sp = speech_env[k0 : k0 + n]
        n = min(n, A.size)
        grid, A, sp = grid[:n], A[:n], sp[:n]
        floor = np.percentile(A, 10) if A.size else -120.0
        A = np.maximum(A, floor + 3.0)  # silence at one level: its noise does not correlate
        M = af.to_grid(t=ft, x=mouth, grid=grid, max_gap_s=0.25)
        face_ok = np.isfinite(M)
        speech_face_s = float(np.count_nonzero(sp & face_ok)) * step
        speech_s = float(np.count_nonzero(sp)) * step
        if speech_s < self.min_speech_s:
            return AnalyzerResult.skipped(
                self.name, f"too little speech for a judgement ({speech_s:.1f} s < {self.min_speech_s:g} s)"
            )
        if speech_face_s < self.min_speech_s:
            return AnalyzerResult.skipped(
                self.name,
                f"the face is visible during only {speech_face_s:.1f} s of {speech_s:.1f} s of speech",
            )

        # sliding windows
        wlen = max(2, int(round(self.window_s / step)))
        whop = max(1, int(round(self.hop_s / step)))
        L = max(1, int(round(self.max_lag_ms / self.grid_ms)))
        if n >= wlen:
            starts = np.arange(0, n - wlen + 1, whop)
        else:
            starts, wlen = np.array([0]), n
        csp = np.r_[0, np.cumsum(sp)]
        cfa = np.r_[0, np.cumsum(face_ok)]
        w_speech = (csp[starts + wlen] - csp[starts]) / wlen
        w_face = (cfa[starts + wlen] - cfa[starts]) / wlen
        usable = (w_speech >= self.min_window_speech) & (w_face >= self.min_window_face)
        if not usable.any():
            return AnalyzerResult.skipped(
                self.name, "no window has enough speech with a visible face to measure lip sync"
            )
        st = starts[usable]
        corr, _ = af.lagged_correlation(video=M, audio=A, starts=st, length=wlen, max_lag=L)
        good = np.isfinite(corr).sum(axis=1) > L  # at least half the lags computable
        if not good.any():
            return AnalyzerResult.skipped(self.name, "the mouth does not move or the audio is flat in every window")
        st, corr = st[good], corr[good]
        wts = w_speech[usable][good]
        lags_ms = np.arange(-L, L + 1) * self.grid_ms

        # session curve, offset and its uncertainty
        curve = self._mean_curve(corr, wts)
        pos, peak = af.parabolic_peak(y=curve)
        offset_raw = (pos - L) * self.grid_ms
        offset = offset_raw - self.reference_lag_ms
        rng = np.random.default_rng(0)
        boot = []
        nw = corr.shape[0]
        for _ in range(100):
            pick = rng.integers(0, nw, nw)
            c = self._mean_curve(corr[pick], wts[pick])
            if np.isfinite(c).any():
                boot.append((af.parabolic_peak(y=c)[0] - L) * self.grid_ms)
        # overlapping windows are not independent: inflate by sqrt(window / hop); and never claim
        # more precision than independent windows of speech give (offset_sd_ms per window)
        overlap = math.sqrt(max(1.0, wlen / whop)) if nw > 1 else 1.0
        n_indep = max(1.0, speech_face_s / self.window_s)
        se_boot = float(np.std(boot)) * overlap if len(boot) > 1 else self.max_lag_ms
        se = max(se_boot, self.offset_sd_ms / math.sqrt(n_indep), self.grid_ms / 2)

        # per-window offsets and confidences
        w_pos = np.array([af.parabolic_peak(y=c)[0] if np.isfinite(c).any() else np.nan for c in corr])
        w_off = (w_pos - L) * self.grid_ms - self.reference_lag_ms
        w_peak = np.nanmax(corr, axis=1)
        w_conf = w_peak - np.nanmedian(corr, axis=1)
        confident = w_conf >= self.confident_peak
        med_conf = float(np.median(w_off[confident])) if confident.any() else math.nan
        spread = robust_spread(w_off[confident]) if confident.sum() >= 3 else math.nan
        # correlation of each window at the session offset
        i_off = int(round(pos))
        at_off = corr[:, i_off]

        # chance level: the same mouth against the audio moved far away
        null_peaks = self._surrogates(M, A, wlen, L, n)
        if null_peaks.size >= 2:
            mu0 = float(np.mean(null_peaks))
            sd0 = max(float(np.std(null_peaks, ddof=1)), 0.02)
            sync_z = (peak - mu0) / sd0
        else:
            mu0, sd0, sync_z = math.nan, math.nan, math.nan

        # speech time whose windows do not follow (at the session offset)
        follow = at_off >= self.follow_corr
        not_follow_share = float(np.sum(wts[~follow]) / max(np.sum(wts), 1e-9))

        # drift: Theil-Sen slope of confident window offsets near the session offset
        drift = self._drift(grid[st] + wlen * step / 2, w_off, confident, offset)

        # ---------------------------------------------------------- scores
        # P(no sync | z): chance z ~ N(0, 1) against the z genuine speech reaches with this much data
        z_exp = min(self.sync_z_per_window * math.sqrt(n_indep), self.sync_z_max)
        if math.isfinite(sync_z):
            l_none = _norm_pdf(sync_z)
            sd_sync = 1.0 + 0.15 * z_exp
            l_sync = (
                _norm_pdf((sync_z - z_exp) / sd_sync) / sd_sync
                if sync_z < z_exp
                else 1.0 / sd_sync / math.sqrt(2 * math.pi)
            )
            s_sync = l_none / (l_none + l_sync)
        else:
            s_sync = 0.5
        p_sync = 1.0 - s_sync
        # P(offset outside the tolerance | sync): the nearer edge, with the uncertainty se
        lo, hi = -self.audio_early_ms, self.audio_late_ms
        dist = (lo - offset) if offset < 0.5 * (lo + hi) else (offset - hi)
        p_out = _norm_cdf(dist / se)
        p_drift = 0.0
        if drift is not None:
            p_drift = logistic_safe((abs(drift["change_ms"]) - self.drift_at_half_ms) / (0.2 * self.drift_at_half_ms))
            p_drift *= min(1.0, drift["n"] / 20.0)
        s_offset = p_sync * p_out
        s_drift = p_sync * p_drift
        scores = {"offset": s_offset, "no_sync": s_sync, "drift": s_drift}
        # disjoint cases: no sync at all, or sync with a bad or drifting offset
        score = s_sync + p_sync * (1.0 - (1.0 - p_out) * (1.0 - p_drift))
        confidence = float(min(1.0, speech_face_s / self.full_confidence_speech_s))

        t_first = float(max(grid[0], 0.0))
        t_last = float(min(grid[-1], tracks.duration_s if tracks.duration_s > 0 else grid[-1]))
        t_first = min(t_first, t_last)
        evidence: list[Evidence] = []
        side = "late" if offset > 0 else "early"
        evidence.append(
            Evidence(
                analyzer=self.name,
                kind="av_offset",
                start_s=t_first,
                end_s=t_last,
                score=s_offset,
                summary=(
                    f"the audio is {abs(offset):.0f} ms {side} against the lips (+-{se:.0f} ms; {int(confident.sum())} "
                    f"of {nw} windows confident, their median {med_conf:+.0f} ms); tolerated: "
                    f"{self.audio_early_ms:g} ms early to {self.audio_late_ms:g} ms late"
                    if math.isfinite(med_conf)
                    else f"the audio is {abs(offset):.0f} ms {side} against the lips (+-{se:.0f} ms; no window "
                    f"confident on its own); tolerated: {self.audio_early_ms:g} ms early "
                    f"to {self.audio_late_ms:g} ms late"
                ),
                details={
                    "offset_ms": round(offset, 1),
                    "offset_se_ms": round(se, 1),
                    "raw_peak_lag_ms": round(offset_raw, 1),
                    "median_confident_window_ms": None if not math.isfinite(med_conf) else round(med_conf, 1),
                    "window_spread_ms": None if not math.isfinite(spread) else round(spread, 1),
                    "confident_windows": int(confident.sum()),
                    "windows": int(nw),
                    "tolerance_ms": [lo, hi],
                    "p_outside": round(p_out, 4),
                    "independent_windows": round(n_indep, 1),
                },
            )
        )
        off_windows = [round(float(grid[s] + wlen * step / 2), 2) for s in st[~follow][:12]]
        where = moments_words(off_windows, int(np.sum(~follow)))
        where = f" ({where})" if where else ""
        evidence.append(
            Evidence(
                analyzer=self.name,
                kind="lips_do_not_follow",
                start_s=t_first,
                end_s=t_last,
                score=s_sync,
                summary=(
                    f"mouth motion and speech envelope correlate at {peak:.2f} at the best offset, against "
                    f"{mu0:.2f} +- {sd0:.2f} with the audio moved seconds away (z = {sync_z:.1f}); "
                    f"{100 * not_follow_share:.0f} % of the speech windows do not follow the lips{where}"
                    if math.isfinite(sync_z)
                    else f"mouth motion and speech envelope correlate at {peak:.2f} at the best offset; "
                    f"{100 * not_follow_share:.0f} % of the speech windows do not follow the lips{where}"
                ),
                details={
                    "peak_corr": round(float(peak), 4),
                    "null_mean": None if not math.isfinite(mu0) else round(mu0, 4),
                    "null_sd": None if not math.isfinite(sd0) else round(sd0, 4),
                    "sync_z": None if not math.isfinite(sync_z) else round(float(sync_z), 2),
                    "expected_z_if_in_sync": round(z_exp, 2),
                    "not_following_share": round(not_follow_share, 4),
                    "follow_corr": self.follow_corr,
                    "examples_not_following_s": off_windows,
                },
            )
        )
        if drift is not None:
            evidence.append(
                Evidence(
                    analyzer=self.name,
                    kind="offset_drift",
                    start_s=max(0.0, min(drift["t0"], t_last)),
                    end_s=max(0.0, min(drift["t1"], t_last)),
                    score=s_drift,
                    summary=(
                        f"the offset moved by {drift['change_ms']:+.0f} ms over {drift['t1'] - drift['t0']:.0f} s "
                        f"({drift['slope_ms_per_min']:+.1f} ms/min, {drift['n']} confident windows)"
                    ),
                    details={k: (round(v, 3) if isinstance(v, float) else v) for k, v in drift.items()},
                )
            )
        windows = self._report_windows(tracks.duration_s, grid, st, wlen, step, w_off, at_off, wts, se, lo, hi, p_sync)
        metrics = {
            "offset_ms": round(offset, 1),
            "offset_se_ms": round(se, 1),
            "median_confident_window_ms": None if not math.isfinite(med_conf) else round(med_conf, 1),
            "window_spread_ms": None if not math.isfinite(spread) else round(spread, 1),
            "peak_corr": round(float(peak), 4),
            "sync_z": None if not math.isfinite(sync_z) else round(float(sync_z), 2),
            "not_following_share": round(not_follow_share, 4),
            "speech_s": round(speech_s, 2),
            "speech_with_face_s": round(speech_face_s, 2),
            "windows": int(nw),
            "confident_windows": int(confident.sum()),
            "mouth_signal": mouth_kind,
            "drift_ms": None if drift is None else round(drift["change_ms"], 1),
            "feature_scores": {k: round(v, 4) for k, v in scores.items()},
            "curve_ms": [int(x) for x in lags_ms[:: max(1, L // 10)]],
            "curve": [None if not np.isfinite(c) else round(float(c), 3) for c in curve[:: max(1, L // 10)]],
        }
        reason = ""
        if confidence < 1.0:
            reason = f"{speech_face_s:.0f} s of speech with a visible face: low confidence"
        # A few seconds of speech cannot carry a confident verdict (side lobes a
        # syllable apart): below evidence_speech_s every score is pulled towards
        # the prior, so a short genuine clip is not flagged on noise.
        w = min(1.0, math.sqrt(speech_face_s / self.evidence_speech_s))
        metrics["unshrunk_score"] = round(float(score), 4)
        metrics["evidence_weight"] = round(w, 3)

        def shrink(x: float) -> float:
            return float(min(max(self.prior_score + (x - self.prior_score) * w, 0.0), 1.0))

        score = shrink(score)
        evidence = [dataclasses.replace(e, score=shrink(e.score)) for e in evidence]
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

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _aspect(tracks: Tracks, face: FaceTrack) -> float:
        size = getattr(face, "frame_size", None)
        if size and size[0] and size[1]:
            return float(size[0]) / float(size[1])
        v = tracks.video
        if v is not None and v.width and v.height:
            return (v.height / v.width) if v.rotation in (90, 270) else (v.width / v.height)
        return 1.0

    @staticmethod
    def _mean_curve(corr: np.ndarray, wts: np.ndarray) -> np.ndarray:
        ok = np.isfinite(corr)
        w = np.where(ok, wts[:, None], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w.sum(0) > 0, (np.where(ok, corr, 0.0) * w).sum(0) / w.sum(0), np.nan)

    def _surrogates(self, M: np.ndarray, A: np.ndarray, wlen: int, L: int, n: int) -> np.ndarray:
        """Peak of the session curve with the audio rolled by far-away shifts (chance level)."""
        K = int(self.surrogates)
        min_shift = max(int(round(1.0 / (self.grid_ms / 1000.0))), 2 * L + 1)
        if n < 2 * min_shift:
            return np.zeros(0)
        shifts = np.linspace(min_shift, n - min_shift, K).round().astype(int)
        starts = np.arange(0, max(1, n - wlen + 1), max(1, wlen // 2))
        peaks = []
        for s in np.unique(shifts):
            Ar = np.roll(A, s)
            c, _ = af.lagged_correlation(video=M, audio=Ar, starts=starts, length=min(wlen, n), max_lag=L)
            ok = np.isfinite(c).sum(axis=1) > L
            if not ok.any():
                continue
            curve = self._mean_curve(c[ok], np.ones(int(ok.sum())))
            if np.isfinite(curve).any():
                peaks.append(float(np.nanmax(curve)))
        return np.asarray(peaks)

    def _drift(
        self, t_mid: np.ndarray, w_off: np.ndarray, confident: np.ndarray, offset: float
    ) -> dict[str, Any] | None:
        """Theil-Sen slope of confident window offsets within 200 ms of the session offset."""
        near = confident & (np.abs(w_off - offset) <= 200.0)
        if near.sum() < 8:
            return None
        t = t_mid[near]
        o = w_off[near]
        if t[-1] - t[0] < 60.0:
            return None
        from scipy.stats import theilslopes  # noqa: PLC0415

        # medians over at most 60 time bins keep Theil-Sen (quadratic in its points) cheap for hours
        if t.size > 120:
            edges = np.linspace(t[0], t[-1] + 1e-9, 61)
            b = np.digitize(t, edges) - 1
            keep = [i for i in range(60) if np.any(b == i)]
            t_fit = np.array([np.median(t[b == i]) for i in keep])
            o_fit = np.array([np.median(o[b == i]) for i in keep])
        else:
            t_fit, o_fit = t, o
        slope, intercept, lo_s, hi_s = theilslopes(o_fit, t_fit)
        span = float(t[-1] - t[0])
        change = float(slope * span)
        if lo_s <= 0.0 <= hi_s:  # not significant: report, do not score much
            change *= 0.5
        return {
            "t0": float(t[0]),
            "t1": float(t[-1]),
            "change_ms": change,
            "slope_ms_per_min": float(slope * 60.0),
            "slope_ci_ms_per_min": [round(float(lo_s * 60.0), 3), round(float(hi_s * 60.0), 3)],
            "n": int(near.sum()),
        }

    def _report_windows(
        self,
        duration_s: float,
        grid: np.ndarray,
        st: np.ndarray,
        wlen: int,
        step: float,
        w_off: np.ndarray,
        at_off: np.ndarray,
        wts: np.ndarray,
        se: float,
        lo: float,
        hi: float,
        p_sync: float,
    ) -> tuple[WindowScore, ...]:
        dur = duration_s if duration_s > 0 else float(grid[-1])
        mid = grid[st] + wlen * step / 2
        edges, _ = event_windows(duration_s=dur, window_s=self.report_window_s, event_s=mid)
        out = []
        for i in range(edges.size - 1):
            sel = (mid >= edges[i]) & (mid < edges[i + 1])
            k = int(sel.sum())
            if k == 0:
                out.append(WindowScore(float(edges[i]), float(edges[i + 1]), None, 0))
                continue
            follow = float(np.average(at_off[sel] >= self.follow_corr, weights=wts[sel]))
            off = float(np.median(w_off[sel]))
            # a stretch has fewer independent windows than the session: its own, larger uncertainty
            se_loc = max(se, self.offset_sd_ms / math.sqrt(max(1.0, k * self.hop_s / self.window_s)))
            dist = (lo - off) if off < 0.5 * (lo + hi) else (off - hi)
            s = max(_norm_cdf(dist / se_loc) * p_sync, (1.0 - follow) * 0.8)
            out.append(WindowScore(float(edges[i]), float(edges[i + 1]), float(min(max(s, 0.0), 1.0)), k))
        return tuple(out)
