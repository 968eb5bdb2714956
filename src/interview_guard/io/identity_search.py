"""Search of the identity index's stored descriptors (:mod:`interview_guard.io.identity_index`): the
:class:`VectorSearch` protocol, and :class:`ExactSearch`, every query against every stored row of one modality,
streamed from the index in chunks (docs/identity-matching.md, "Scale")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from interview_guard.io.identity_index import IdentityIndex

__all__ = ["DistanceFn", "ExactSearch", "Neighbour", "VectorSearch"]

#: ``distance(queries (q, d), rows (n, d)) -> (q, n)``; NaN for pairs it cannot compare.
DistanceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Neighbour:
    """A stored descriptor near a query: which query, which session, how far."""

    query: int
    session_id: str
    candidate_id: str | None
    distance: float
    quality: float


class VectorSearch(Protocol):
    """Neighbours of many queries among the stored descriptors of one modality.

    ``neighbours(modality, queries, max_distance=, k=)`` returns the stored
    descriptors within ``max_distance`` (all comparable ones when None) of each
    query, at most the ``k`` nearest per query when ``k`` is given.
    :class:`ExactSearch` is the exact implementation; an ANN index (faiss,
    usearch) would implement the same call (approximately, with ``k`` set).
    """

    def neighbours(
        self, modality: str, queries: np.ndarray, *, max_distance: float | None = None, k: int | None = None
    ) -> list[Neighbour]: ...


class ExactSearch:
    """Exact search: every query against every stored row, streamed from the index in chunks."""

    def __init__(
        self,
        index: IdentityIndex,
        distance: Callable[[str], DistanceFn],
        *,
        chunk_rows: int = 65536,
        query_block: int = 128,
    ) -> None:
        self.index = index
        self.distance = distance  # modality -> distance function
        self.chunk_rows = chunk_rows
        self.query_block = max(1, int(query_block))

    def neighbours(
        self, modality: str, queries: np.ndarray, *, max_distance: float | None = None, k: int | None = None
    ) -> list[Neighbour]:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None]
        fn = self.distance(modality)
        found: list[list[Neighbour]] = [[] for _ in range(q.shape[0])]
        for chunk in self.index.chunks(modality, chunk_rows=self.chunk_rows):
            if chunk.vectors.shape[1] != q.shape[1]:
                continue
            for lo in range(0, q.shape[0], self.query_block):  # (block, chunk) distances: 128 x 65536 x 8 B = 64 MB
                d = fn(q[lo : lo + self.query_block], chunk.vectors)
                ok = np.isfinite(d)
                if max_distance is not None:
                    ok &= d <= max_distance
                for i in range(d.shape[0]):
                    cols = np.flatnonzero(ok[i])
                    if k is not None and cols.size > k:  # the k nearest of this chunk
                        cols = cols[np.argpartition(d[i, cols], k - 1)[:k]]
                    hits = found[lo + i]
                    sid, cid, qual = chunk.session_id, chunk.candidate_id, chunk.quality
                    hits += (Neighbour(lo + i, sid[j], cid[j], float(d[i, j]), float(qual[j])) for j in cols.tolist())
                    if k is not None and len(hits) > 4 * k:  # bound the memory across chunks
                        hits.sort(key=lambda n: n.distance)
                        del hits[k:]
        out: list[Neighbour] = []
        for hits in found:
            if k is not None and len(hits) > k:
                hits.sort(key=lambda n: n.distance)
                del hits[k:]
            out += hits
        return out
