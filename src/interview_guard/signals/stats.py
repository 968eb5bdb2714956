"""Small shared statistics: the logistic function and the robust spread (pure numpy).

Every analyzer maps a measured number to a score in [0, 1] with a logistic
curve, and most measure "how far from normal" against a robust spread
(1.4826 x the median absolute deviation, the standard deviation of a normal
distribution with that MAD). These are the one implementation of each.

Logistic, in two numerically distinct forms
    :func:`logistic` evaluates ``1 / (1 + e^-x)`` directly (and
    :func:`logistic_array` does the same element-wise); :func:`logistic_safe`
    evaluates ``e^x / (1 + e^x)`` for ``x < 0`` so that no argument
    overflows. For ``x < 0`` the two differ in the last bit about half of the
    time, so each call site keeps the form it was written with and every
    score stays bit-identical. (``fusion.fit`` solves its regression with the
    ``tanh`` form on arrays, a third rounding, kept there.)

Robust spread
    :func:`mad` (median absolute deviation about the median or a given
    centre) and :func:`robust_spread` (``MAD_TO_SD * mad``). A site that adds
    a floor adds it itself, after (``robust_spread(x) + 1e-3``) or to the MAD
    before scaling (``MAD_TO_SD * (mad(x) + 1e-3)``): the two are different
    numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MAD_TO_SD", "logistic", "logistic_safe", "logistic_array", "mad", "robust_spread"]

MAD_TO_SD = 1.4826
"""Standard deviation of a normal distribution over its median absolute deviation (1 / 0.6745)."""


def logistic(x: float) -> float:
    """``1 / (1 + e^-x)`` evaluated directly.

    Raises ``OverflowError`` for ``x`` below about -709 (``e^-x`` overflows);
    use :func:`logistic_safe` where such arguments can occur.
    """
    return 1.0 / (1.0 + math.exp(-x))


def logistic_safe(x: float) -> float:
    """``1 / (1 + e^-x)`` for any finite ``x``: as ``e^x / (1 + e^x)`` when ``x < 0``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def logistic_array(x: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
    """Element-wise ``1 / (1 + e^-x)`` in the dtype of ``x`` (very negative values give 0 with an overflow warning)."""
    a = np.asarray(x)
    return np.asarray(1.0 / (1.0 + np.exp(-a)))


def mad(x: npt.ArrayLike, *, center: float | None = None) -> float:
    """Median absolute deviation of ``x`` about ``center`` (default: the median of ``x``).

    Computed in the dtype of ``x`` (a float32 array stays float32 until the
    final median is converted to a Python float). NaN values propagate as in
    :func:`numpy.median`; an empty ``x`` gives NaN with a numpy warning
    (callers check the size first).
    """
    a = np.asarray(x)
    c = np.median(a) if center is None else center
    return float(np.median(np.abs(a - c)))


def robust_spread(x: npt.ArrayLike, *, center: float | None = None) -> float:
    """``MAD_TO_SD * mad(x, center=center)``: a standard deviation that outliers do not inflate."""
    return MAD_TO_SD * mad(x, center=center)
