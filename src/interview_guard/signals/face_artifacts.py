"""Passive traces of a pasted face: softness, a tone step, seam flicker (pure numpy).

The per-frame inputs are the :class:`~interview_guard.tracks.blending.BlendTrack` columns. Each measure is a
ratio or a difference within one frame (or one aligned pair of frames), so what hits the whole picture alike
(compression, light level, sensor noise, white balance) cancels:

``softness``
    ``log(detail_inner / detail_outer)``: fine detail of the face core against the hair, ears and neck around it.
    A face rendered at 128-256 px and scaled up into a sharper frame is *low*.
``tone``
    The chroma distance between the face core and the skin just inside the outline (below the eyes). A pasted
    face whose colour transfer missed is *high*.
``flicker``
    ``log((seam_change + c) / (core_change + c))``: frame-to-frame change across the outline against change
    inside the face, both frames aligned on the landmarks (``c`` = ``CHANGE_FLOOR`` grey levels keeps still
    frames from dividing noise by noise). A blending mask re-estimated every frame is *high*.

A session is judged on robust statistics of its own frames (:func:`session_measures`): the median over the
measured frames (a swap is there all the time) and, for flicker, the share of frame pairs far above the clip's own
median (a seam that jumps in fast motion). The thresholds those statistics are compared with are set on genuine
recordings (see ``docs/face-artifacts.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CHANGE_FLOOR", "MEASURES", "ArtifactSeries", "MeasureSummary", "artifact_series", "session_measures"]

#: Grey levels added to both sides of the flicker ratio.
CHANGE_FLOOR = 1.0
#: The measures, and whether a swap moves them up (+1) or down (-1).
MEASURES: dict[str, int] = {"softness": -1, "tone": +1, "flicker": +1}


@dataclass(frozen=True)
class ArtifactSeries:
    """Per-frame values of the three measures (NaN where not measured), shape (n,) each."""

    softness: np.ndarray
    tone: np.ndarray
    flicker: np.ndarray

    def get(self, name: str) -> np.ndarray:
        out: np.ndarray = getattr(self, name)
        return out


@dataclass(frozen=True)
class MeasureSummary:
    """One measure over a session.

    ``value`` is the median over the ``n`` measured frames; ``spread`` the median absolute deviation; ``extreme``
    the row index of the frame farthest in the swap's direction (the frame to show), ``-1`` when none.
    """

    name: str
    n: int
    value: float
    spread: float
    extreme: int

    def to_dict(self) -> dict[str, float | int | str | None]:
        """For a report: ``median`` and ``mad`` are None where no frame was measured (JSON has no NaN)."""
        r = 4
        return {
            "measure": self.name,
            "frames": self.n,
            "median": round(self.value, r) if math.isfinite(self.value) else None,
            "mad": round(self.spread, r) if math.isfinite(self.spread) else None,
        }


def _f(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def artifact_series(
    *,
    detail_inner: np.ndarray,
    detail_outer: np.ndarray,
    tone_step: np.ndarray,
    seam_change: np.ndarray,
    core_change: np.ndarray,
) -> ArtifactSeries:
    """The per-frame measures from the BlendTrack columns (all shape (n,)); NaN where an input is missing."""
    di, do = _f(detail_inner), _f(detail_outer)
    with np.errstate(divide="ignore", invalid="ignore"):
        soft = np.where((di > 0) & (do > 0), np.log(di / do), np.nan)
        sc, cc = _f(seam_change), _f(core_change)
        flick = np.log((sc + CHANGE_FLOOR) / (cc + CHANGE_FLOOR))
    tone = _f(tone_step).copy()
    for a in (soft, tone, flick):
        a[~np.isfinite(a)] = np.nan
    return ArtifactSeries(softness=soft, tone=tone, flicker=flick)


def session_measures(series: ArtifactSeries, *, usable: np.ndarray | None = None) -> dict[str, MeasureSummary]:
    """Median, spread and the most extreme frame of each measure over the usable rows.

    Parameters
    ----------
    series : ArtifactSeries
    usable : ndarray of bool, shape (n,), optional
        Rows to judge (e.g. the candidate's face, no hand over it); default all.

    Returns
    -------
    dict of str to MeasureSummary
        One entry per name in ``MEASURES``; ``n`` = 0 and NaN values where no row was measured.
    """
    out: dict[str, MeasureSummary] = {}
    for name, sign in MEASURES.items():
        v = series.get(name)
        ok = np.isfinite(v)
        if usable is not None:
            ok &= np.asarray(usable, dtype=bool)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            out[name] = MeasureSummary(name, 0, math.nan, math.nan, -1)
            continue
        x = v[idx]
        med = float(np.median(x))
        mad = float(np.median(np.abs(x - med)))
        # the frame to show: the one nearest the swap side's 90th percentile (an extreme, not a one-frame glitch)
        q = float(np.percentile(x, 90 if sign > 0 else 10))
        extreme = int(idx[int(np.argmin(np.abs(x - q)))])
        out[name] = MeasureSummary(name, int(idx.size), med, mad, extreme)
    return out


def spike_share(values: np.ndarray, *, z: float, min_mad: float) -> tuple[float, int]:
    """Share of finite values more than ``z`` robust deviations above their median, and how many there are.

    The deviation is the median absolute deviation, at least ``min_mad`` (a clip with nearly constant values
    would otherwise call any wobble a spike).
    """
    x = _f(values)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0, 0
    med = float(np.median(x))
    mad = max(float(np.median(np.abs(x - med))), float(min_mad))
    hits = int(np.count_nonzero(x > med + z * 1.4826 * mad))
    return hits / x.size, hits
