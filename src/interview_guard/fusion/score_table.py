"""The labelled score table a fusion calibration is fitted on (pure numpy).

One row per labelled session, one column per analyzer: the analyzer's score
and confidence (NaN where it did not run), the label (1 manipulated, 0
genuine) and the manipulation kinds. Built from scan reports by
:func:`interview_guard.pipeline.calibrate.collect_scores`, consumed by
:func:`interview_guard.fusion.fit.fit_fusion`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from interview_guard.errors import ParameterError

__all__ = ["ScoreTable"]


@dataclass
class ScoreTable:
    """Analyzer scores of labelled sessions.

    Attributes
    ----------
    session_ids : list of str
    y : np.ndarray of int, shape (n,)
        1 manipulated, 0 genuine.
    analyzers : tuple of str
        Column names (k analyzers).
    scores, confidences : np.ndarray, shape (n, k)
        NaN where the analyzer did not run (status ``skipped`` or ``failed``).
    kinds : list of tuple of str
        Manipulation kinds per session (empty for genuine ones).
    excluded : list of (session_id, reason)
        Sessions found but not used: report failed, label missing.
    root : str
        Where the sessions came from (for the model's ``source``).
    """

    session_ids: list[str]
    y: npt.NDArray[Any]
    analyzers: tuple[str, ...]
    scores: npt.NDArray[np.float64]
    confidences: npt.NDArray[np.float64]
    kinds: list[tuple[str, ...]] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    root: str = ""

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=int)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(len(self.y), len(self.analyzers))
        self.confidences = np.asarray(self.confidences, dtype=np.float64).reshape(self.scores.shape)
        self.analyzers = tuple(self.analyzers)
        self.session_ids = list(self.session_ids)
        if len(self.session_ids) != len(self.y):
            raise ParameterError("session_ids and y must have the same length")
        if not self.kinds:
            self.kinds = [() for _ in self.session_ids]
        self.kinds = [tuple(k) for k in self.kinds]
        if not set(np.unique(self.y)) <= {0, 1}:
            raise ParameterError("labels must be 0 (genuine) or 1 (manipulated)")

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def ran(self) -> npt.NDArray[np.bool_]:
        """(n, k) bool: the analyzer produced a score."""
        return np.isfinite(self.scores)

    def subset(self, mask: npt.ArrayLike) -> ScoreTable:
        idx = np.flatnonzero(np.asarray(mask))
        return ScoreTable(
            session_ids=[self.session_ids[i] for i in idx],
            y=self.y[idx],
            analyzers=self.analyzers,
            scores=self.scores[idx],
            confidences=self.confidences[idx],
            kinds=[self.kinds[i] for i in idx],
            excluded=list(self.excluded),
            root=self.root,
        )

    def data_hash(self) -> str:
        """sha256 of the labelled scores (ids, labels, scores, confidences, rounded)."""
        h = hashlib.sha256()
        h.update(("\0".join(self.analyzers) + "\n").encode())
        for i, sid in enumerate(self.session_ids):
            vals = ",".join(
                "nan" if not np.isfinite(v) else f"{v:.6g}" for v in np.r_[self.scores[i], self.confidences[i]]
            )
            h.update(f"{sid}\0{int(self.y[i])}\0{vals}\n".encode())
        return h.hexdigest()
