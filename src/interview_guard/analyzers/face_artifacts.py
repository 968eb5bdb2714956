"""``face_artifacts``: passive traces of a real-time face swap, without a hand wave.

Real-time swaps (DeepFaceLive, FaceFusion, Deep-Live-Cam) render the face at 128-256 px and paste it back
inside a blended mask. Three measures (maths in :mod:`interview_guard.signals.face_artifacts`, per-frame values in
the :class:`~interview_guard.tracks.blending.BlendTrack`):

``face_softness``
    the face core has less fine detail than the hair, ears and neck around it (upscaled generator output);
``face_tone_step``
    the colour of the face core differs from the skin just inside its outline (colour transfer missed). Reported,
    not scored: on genuine clips it varies as much as on real swaps (a beard or make-up at the jaw, light from one
    side), see the docs;
``seam_flicker``
    the band across the face outline changes more from frame to frame than the face inside it, once the frames
    are aligned on the landmarks (a mask re-estimated every frame), either all the time (the median) or in bursts
    (the share of frame pairs far above the clip's own median, e.g. boundary lag in fast motion).

Each is a ratio or difference within the clip's own frames, so compression, light and sensor noise cancel; the
session's median is compared with a threshold set on genuine recordings (``docs/face-artifacts.md`` has the
numbers and the real swaps these measures do and do not catch). Frames with a hand at the face are left out (a
hand changes all three); too few measured frames lower the confidence, never raise the score.
"""

from __future__ import annotations

import math

import numpy as np

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Evidence, Param, Status, WindowScore
from interview_guard.signals.face_artifacts import (
    ArtifactSeries,
    MeasureSummary,
    artifact_series,
    session_measures,
    spike_share,
)
from interview_guard.signals.occlusion import hand_near_face
from interview_guard.signals.stats import logistic_safe
from interview_guard.signals.windows import event_windows
from interview_guard.tracks import Stream, Tracks

__all__ = ["FaceArtifacts"]

_KIND = {"softness": "face_softness", "tone": "face_tone_step", "flicker": "seam_flicker"}
#: A hand nearer the face centre than this (in face sizes: outer eye-corner distances, as
#: :func:`~interview_guard.signals.occlusion.hand_near_face` measures) leaves the frame out: about 0.8 face widths.
HAND_AT_FACE = 1.8
#: The measures that make the score (tone is evidence only: see the module docstring).
_SCORED = ("softness", "flicker")


class FaceArtifacts(Analyzer):
    name = "face_artifacts"
    description = "passive traces of a pasted face: soft inner face, colour step at its outline, seam flicker"
    requires = frozenset({Stream.BLENDING})
    uses = frozenset({Stream.HANDS, Stream.FACE})

    softness_floor = Param(-1.22, -3.0, 1.0, "a session median of log(inner / outer detail) below this is soft")
    tone_ceiling = Param(8.63, 1.0, 60.0, "a median chroma step (core vs outline skin) above this is reported")
    flicker_ceiling = Param(0.46, 0.0, 3.0, "a session median log(seam / core change) above this is flicker")
    spike_z = Param(6.0, 2.0, 20.0, "a frame pair this many robust deviations above the clip's flicker is a spike")
    spike_share_ceiling = Param(0.12, 0.01, 1.0, "a share of spike pairs above this is bursty seam flicker")
    width = Param(0.25, 0.01, 5.0, "softness of the score around each threshold, as a share of its distance scale")
    min_frames = Param(8, 2, 1000, "measured frames for full confidence in a measure start to count from here")
    window_s = Param(30.0, 5.0, 600.0, "length of the per-window scores (s)")

    def _run(self, tracks: Tracks) -> AnalyzerResult:
        b = tracks.blending
        assert b is not None  # required
        series = artifact_series(
            detail_inner=b.detail_inner,
            detail_outer=b.detail_outer,
            tone_step=b.tone_step,
            seam_change=b.seam_change,
            core_change=b.core_change,
        )
        usable = self._usable(tracks, len(b))
        summary = session_measures(series, usable=usable)
        measured = max(s.n for s in summary.values())
        if measured == 0:
            return AnalyzerResult.skipped(self.name, "no face large enough to measure in any analysed frame")
        scores = {name: self._score(name, s.value) for name, s in summary.items() if s.n > 0 and name in _SCORED}
        spikes, n_spikes = spike_share(series.flicker[usable], z=float(self.spike_z), min_mad=0.05)
        n_pairs = int(np.isfinite(series.flicker[usable]).sum())
        if n_pairs >= self.min_frames:
            scores["flicker_bursts"] = self._logistic(spikes - float(self.spike_share_ceiling), 0.1)
        conf = {name: s.n / (s.n + float(self.min_frames)) for name, s in summary.items() if name in _SCORED}
        conf["flicker_bursts"] = n_pairs / (n_pairs + float(self.min_frames))
        # a measure counts as far as its frames carry it; the session score is the strongest one
        weighted = {k: v * min(1.0, 2.0 * conf[k]) for k, v in scores.items()}
        score = max(weighted.values()) if weighted else 0.0
        confidence = max(conf.values()) if conf else 0.0
        evidence = self._evidence(tracks, b.t_s, summary, scores, weighted, (spikes, n_spikes, n_pairs))
        windows = self._windows(tracks, b.t_s, series, usable)
        metrics = {
            "frames_measured": int(measured),
            "frames_usable": int(usable.sum()),
            "frames_total": len(b),
            "measures": {k: s.to_dict() for k, s in summary.items()},
            "flicker_spike_share": round(spikes, 4),
            "scores": {k: round(v, 4) for k, v in scores.items()},
        }
        return AnalyzerResult(
            self.name, Status.OK, float(score), float(confidence), evidence=evidence, windows=windows, metrics=metrics
        )

    # -- pieces ------------------------------------------------------------------------

    def _usable(self, tracks: Tracks, n: int) -> np.ndarray:
        """Rows with the candidate's face and no hand at it (a hand changes detail, tone and the seam)."""
        ok = np.ones(n, bool)
        face, hands = tracks.face, tracks.hands
        if face is not None and len(face) == n:
            ok &= face.present
            if hands is not None and len(hands) == n:
                w, h = face.frame_size
                aspect = w / h if w and h else 1.0
                flm, hlm, fpr, hct = face.landmarks, hands.landmarks, face.present, hands.count
                # a chunk of rows at a time: the mapped landmarks read leave memory after each (Tracks.by_rows)
                near = tracks.by_rows(lambda s: hand_near_face(flm[s], hlm[s], fpr[s], hct[s], aspect=aspect), n)
                ok &= near > HAND_AT_FACE
        return ok

    def _logistic(self, excess: float, scale: float) -> float:
        return logistic_safe(excess / (float(self.width) * scale))

    def _score(self, name: str, value: float) -> float:
        if not math.isfinite(value):
            return 0.0
        if name == "softness":
            return self._logistic(float(self.softness_floor) - value, 0.5)
        if name == "tone":  # evidence only: how far past the reporting ceiling
            return self._logistic(value - float(self.tone_ceiling), 8.0)
        return self._logistic(value - float(self.flicker_ceiling), 0.4)

    def _threshold(self, name: str) -> float:
        return float(
            {"softness": self.softness_floor, "tone": self.tone_ceiling, "flicker": self.flicker_ceiling}[name]
        )

    def _evidence(
        self,
        tracks: Tracks,
        t_s: np.ndarray,
        summary: dict[str, MeasureSummary],
        scores: dict[str, float],
        weighted: dict[str, float],
        spikes: tuple[float, int, int],
    ) -> tuple[Evidence, ...]:
        """One item per measure; a scored item's score is what it adds to the session score (weighted by its frames)."""
        dur = float(tracks.duration_s)
        out = []
        words = {
            "softness": ("fine detail of the face core against its surroundings", "log ratio", "below"),
            "tone": ("colour step between the face core and the skin at its outline", "chroma units", "above"),
            "flicker": ("frame-to-frame change across the face outline against inside the face", "log ratio", "above"),
        }
        for name, s in summary.items():
            if s.n == 0:
                continue
            t = float(min(max(t_s[s.extreme], 0.0), dur)) if s.extreme >= 0 else 0.0
            what, unit, side = words[name]
            thr = self._threshold(name)
            flagged = (s.value < thr) if side == "below" else (s.value > thr)
            scored = name in _SCORED
            raw = scores.get(name, 0.0) if scored else 0.0
            ev_score = weighted.get(name, 0.0) if scored else 0.0
            few = (
                f"; only {s.n} frame{'' if s.n == 1 else 's'} measured, so it counts {ev_score:.2f} of {raw:.2f}"
                if scored and raw - ev_score >= 0.005
                else ""
            )
            out.append(
                Evidence(
                    self.name,
                    _KIND[name],
                    t,
                    t,
                    float(ev_score),
                    f"{what}: median {s.value:.2f} {unit} over {s.n} frame{'' if s.n == 1 else 's'} "
                    f"({'beyond' if flagged else 'within'} the genuine range: {side} {thr:g} is a swap's trace"
                    f"{'' if scored else '; reported, not scored'}{few}); the frame at {t:.2f} s shows it most",
                    {
                        **s.to_dict(),
                        "threshold": thr,
                        "frame_s": round(t, 3),
                        "flagged": bool(flagged),
                        "scored": scored,
                        "unweighted_score": round(raw, 4),
                        # a trace past the genuine range: the frame that shows it most, to look at
                        **({"key_frame_times": [round(t, 3)]} if flagged else {}),
                    },
                )
            )
        share, hits, pairs = spikes
        if "flicker_bursts" in scores and hits:
            fl = summary["flicker"]
            t = float(min(max(t_s[fl.extreme], 0.0), dur)) if fl.extreme >= 0 else 0.0
            out.append(
                Evidence(
                    self.name,
                    "seam_flicker_bursts",
                    t,
                    t,
                    float(weighted["flicker_bursts"]),
                    f"{hits} of {pairs} frame pairs ({100 * share:.0f} %) change across the face outline far more "
                    f"than the clip's own median (more than {float(self.spike_z):g} robust deviations)",
                    {
                        "pairs": pairs,
                        "spikes": hits,
                        "share": round(share, 4),
                        "ceiling": float(self.spike_share_ceiling),
                    },
                )
            )
        return tuple(sorted(out, key=lambda e: -e.score))

    def _windows(
        self, tracks: Tracks, t_s: np.ndarray, series: ArtifactSeries, usable: np.ndarray
    ) -> tuple[WindowScore, ...]:
        measured = usable & np.isfinite(series.softness)
        edges, _ = event_windows(
            duration_s=float(tracks.duration_s), window_s=float(self.window_s), event_s=t_s[measured]
        )
        out = []
        for a, z in zip(edges[:-1], edges[1:]):
            sel = usable & (t_s >= a) & ((t_s < z) | (z == edges[-1]))
            parts = [
                self._score(name, float(np.nanmedian(series.get(name)[sel])))
                for name in _SCORED
                if np.isfinite(series.get(name)[sel]).any()
            ]
            n = int((sel & measured).sum())
            out.append(WindowScore(float(a), float(z), max(parts) if parts else None, n))
        return tuple(out)
