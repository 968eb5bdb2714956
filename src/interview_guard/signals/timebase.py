"""Matching rows of two tracks by time (pure numpy)."""

from __future__ import annotations

import numpy as np

__all__ = ["nearest_rows"]


def nearest_rows(ref_t: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each time of ``t``, the row of the sorted, non-empty ``ref_t`` nearest to it and how far it is (s).

    Ties go to the later row.
    """
    ref = np.asarray(ref_t, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    k = np.clip(np.searchsorted(ref, tt), 0, len(ref) - 1)
    prev = np.clip(k - 1, 0, None)
    k = np.where(np.abs(ref[prev] - tt) < np.abs(ref[k] - tt), prev, k)
    return k, np.abs(ref[k] - tt)


def run_rows(ref_t: np.ndarray, start_s: float, frames: int) -> np.ndarray:
    """The rows of a run of ``frames`` frames of the sorted ``ref_t`` that starts at ``start_s``.

    The run starts at the row nearest to ``start_s`` (a reported time is rounded, so "the first row at or after
    it" can miss the run's first frame by a rounding error); empty when ``ref_t`` is.
    """
    ref = np.asarray(ref_t, dtype=np.float64)
    if ref.size == 0 or frames <= 0:
        return np.zeros(0, dtype=np.int64)
    k, _ = nearest_rows(ref, np.array([start_s]))
    return np.arange(int(k[0]), min(int(k[0]) + int(frames), ref.size))
