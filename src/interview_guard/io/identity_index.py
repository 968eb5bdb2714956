"""The identity index: one SQLite file of per-session identity descriptors, and exact search over them.

What is stored (no face image, no keystroke, no frame): per session its id,
candidate id (``session.json`` ``candidate_id``), the input fingerprint, when
it was added, and where its input was (``source``: the session's absolute
path; ``root``: the batch root it was found under; both added after the first
release, NULL in rows of older versions until a batch records them); per
session and modality (``face``, ``typing``) one vector (float32 blob), its
length, a quality figure (0..1) and when it was added.

Writes are idempotent upserts keyed by session id (+ modality), each session
in one transaction: a session written twice is stored once, and a killed
writer leaves the session either wholly in or wholly out. ``forget`` deletes a
candidate's descriptors and keeps a marker that the session was indexed; the
mark holds for that input (its fingerprint) under any session id, so no later
scan of it puts them back, until ``unforget``.

Search (:class:`ExactSearch`) streams the stored vectors of a modality in
chunks (``chunk_rows`` at a time, 65536 x 128 float32 = 32 MB) and compares
every query with every row with a distance function the caller gives (the
maths lives in ``signals/``): exact, linear in the index size, memory bounded
by the chunk. :class:`VectorSearch` is the interface an approximate
nearest-neighbour library could implement instead (faiss and usearch are not
installed here; nothing depends on them).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from interview_guard.errors import InputError, InterviewGuardError

__all__ = [
    "INDEX_FORMAT",
    "IdentityIndex",
    "DescriptorChunk",
    "Neighbour",
    "VectorSearch",
    "ExactSearch",
    "DistanceFn",
]

INDEX_FORMAT = "interview-guard identity index 1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    candidate_id TEXT,
    fingerprint TEXT,
    added_at TEXT NOT NULL,
    forgotten INTEGER NOT NULL DEFAULT 0,
    source TEXT,
    root TEXT
);
CREATE TABLE IF NOT EXISTS descriptors (
    session_id TEXT NOT NULL,
    modality TEXT NOT NULL,
    candidate_id TEXT,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    quality REAL NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (session_id, modality)
);
CREATE INDEX IF NOT EXISTS descriptors_candidate ON descriptors (candidate_id);
CREATE INDEX IF NOT EXISTS descriptors_modality ON descriptors (modality);
"""

#: ``distance(queries (q, d), rows (n, d)) -> (q, n)``; NaN for pairs it cannot compare.
DistanceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DescriptorChunk:
    """Consecutive stored descriptors of one modality."""

    session_id: list[str]
    candidate_id: list[str | None]
    vectors: np.ndarray  # (n, d) float32
    quality: np.ndarray  # (n,) float64

    def __len__(self) -> int:
        return len(self.session_id)


@dataclass(frozen=True)
class Neighbour:
    """A stored descriptor near a query: which query, which session, how far."""

    query: int
    session_id: str
    candidate_id: str | None
    distance: float
    quality: float


class IdentityIndex:
    """An open identity index file (see the module docstring). Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True, timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError("identity index not found", path=self.path)
        if self.path.is_dir():
            raise InputError("the identity index is a directory", path=self.path)
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise InputError(f"cannot open the identity index ({exc})", path=self.path) from None
        try:
            self._check_or_init(create)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"not a readable identity index ({exc})", path=self.path) from None
        except InputError:
            self._db.close()
            raise

    def _check_or_init(self, create: bool) -> None:
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None or row[0] != INDEX_FORMAT:
                found = "no format" if row is None else repr(row[0])
                raise InputError(f"not an interview-guard identity index ({found})", path=self.path)
            if not {"sessions", "descriptors"} <= tables:
                raise InputError("identity index is missing its tables", path=self.path)
            return
        if tables or not create:
            raise InputError("not an interview-guard identity index (no meta table)", path=self.path)
        db.execute("PRAGMA journal_mode = WAL")
        try:  # one transaction: another process creating the same index waits, then finds it made
            db.executescript(
                "BEGIN IMMEDIATE;"
                + _SCHEMA
                + f"INSERT OR REPLACE INTO meta (key, value) VALUES ('format', '{INDEX_FORMAT}'); COMMIT;"
            )
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # -- writing -------------------------------------------------------------------------

    def upsert_session(
        self,
        session_id: str,
        *,
        candidate_id: str | None,
        fingerprint: str | None,
        descriptors: Sequence[tuple[str, np.ndarray, float]],
    ) -> bool:
        """Store one session's descriptors ``(modality, vector, quality)``, replacing whatever it had, atomically.

        Returns False when they are withheld: the input (``fingerprint``) is that of a forgotten session (under
        this id or another: a batch on a parent folder, a report deleted and scanned again). The session is then
        listed forgotten with no descriptor, so a re-run does not scan it again; :meth:`unforget` lifts the mark.
        """
        now = _now()
        rows = []
        for modality, vec, quality in descriptors:
            v = np.ascontiguousarray(np.asarray(vec, dtype="<f4").reshape(-1))
            rows.append((session_id, modality, candidate_id, int(v.size), v.tobytes(), float(quality), now))
        with self._transaction(f"store session {session_id!r} in the identity index") as db:
            forgotten = fingerprint is not None and (
                db.execute(
                    "SELECT 1 FROM sessions WHERE forgotten = 1 AND fingerprint = ? LIMIT 1", (fingerprint,)
                ).fetchone()
                is not None
            )
            db.execute("DELETE FROM descriptors WHERE session_id = ?", (session_id,))
            if not forgotten:
                db.executemany("INSERT INTO descriptors VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute(
                "INSERT OR REPLACE INTO sessions (session_id, candidate_id, fingerprint, added_at, forgotten) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, candidate_id, fingerprint, now, int(forgotten)),
            )
        return not forgotten

    def drop_session(self, session_id: str) -> None:
        """Delete a session's descriptors and its row (a forgotten one stays marked): it failed, so what the
        index holds is of an earlier input. Atomic; a storage error is one line naming the file."""
        with self._transaction(f"drop session {session_id!r} from the identity index") as db:
            db.execute("DELETE FROM descriptors WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE session_id = ? AND forgotten = 0", (session_id,))

    def insert_many(self, rows: Sequence[tuple[str, str | None, str, np.ndarray, float]]) -> None:
        """Bulk insert ``(session_id, candidate_id, modality, vector, quality)`` in one transaction (benchmarks,
        imports); replaces existing (session, modality) rows."""
        now = _now()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO descriptors VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (s, m, c, int(np.asarray(v).size), np.asarray(v, dtype="<f4").tobytes(), float(q), now)
                    for s, c, m, v, q in rows
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO sessions (session_id, candidate_id, fingerprint, added_at) VALUES (?, ?, ?, ?)",
                ((s, c, None, now) for s, c, _, _, _ in rows),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def forget(self, candidate_id: str) -> tuple[int, int]:
        """Delete every descriptor of ``candidate_id``; returns ``(descriptors deleted, sessions affected)``.

        The sessions stay listed (marked forgotten, with no descriptor), so a re-run batch does not add
        them again, and the mark holds for their input: a later scan of the same files (same fingerprint),
        under this id or another, is not indexed either (:meth:`upsert_session`) until :meth:`unforget`.

        Raises
        ------
        InputError
            ``candidate_id`` is not Unicode text (bytes that are not UTF-8 given on the command line, as
            ``os.fsdecode`` surrogates): no stored id can hold it (``session.json`` is UTF-8).
        """
        self._check_text(candidate_id, "forget")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("DELETE FROM descriptors WHERE candidate_id = ?", (candidate_id,)).rowcount
            s = db.execute(
                "UPDATE sessions SET forgotten = 1 WHERE candidate_id = ? AND forgotten = 0", (candidate_id,)
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(n), int(s)

    def unforget(self, candidate_id: str) -> int:
        """Lift :meth:`forget`'s mark from ``candidate_id``'s sessions; returns how many were marked.

        Their rows go: the next batch on their input finds them not indexed, scans them again and indexes
        them. Raises :class:`InputError` as :meth:`forget` does.
        """
        self._check_text(candidate_id, "unforget")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("DELETE FROM sessions WHERE candidate_id = ? AND forgotten = 1", (candidate_id,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(n)

    def _check_text(self, candidate_id: str, verb: str) -> None:
        """A candidate id given on the command line that is not UTF-8 can match no stored id: one clear error."""
        try:
            candidate_id.encode("utf-8")
        except UnicodeEncodeError:
            try:  # the bytes given, as os.fsdecode made them into surrogates
                shown = repr(candidate_id.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError:
                shown = ascii(candidate_id)
            raise InputError(
                f"cannot {verb} candidate {shown}: it is not UTF-8 text, and every stored candidate id is "
                "(session.json is UTF-8)",
                path=self.path,
            ) from None

    def _source_columns(self, *, add: bool) -> bool:
        """Whether ``sessions`` has the ``source`` and ``root`` columns (an index of an older version has not);
        ``add``: add them (in the caller's transaction)."""
        cols = {r[1] for r in self._db.execute("PRAGMA table_info(sessions)")}
        if {"source", "root"} <= cols:
            return True
        if add:
            for col in ("source", "root"):
                if col not in cols:
                    self._db.execute(f"ALTER TABLE sessions ADD COLUMN {col} TEXT")
        return add

    def record_sources(self, sources: dict[str, str], *, root: str) -> list[str]:
        """Record where each session's input is (``session_id -> absolute path``, found under ``root``), in one
        transaction; the other sessions recorded with one of these paths (the same input under another id, e.g.
        an earlier batch on another root) are dropped, their ids returned: one input is indexed once."""
        dropped: list[str] = []
        with self._transaction("record the sessions' sources") as db:
            self._source_columns(add=True)
            for sid, source in sources.items():
                db.execute("UPDATE sessions SET source = ?, root = ? WHERE session_id = ?", (source, root, sid))
                others = db.execute(
                    "SELECT session_id FROM sessions WHERE source = ? AND session_id != ? AND forgotten = 0",
                    (source, sid),
                ).fetchall()
                dropped += [o[0] for o in others]
            self._drop(dropped)
        return dropped

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT`` around the block, rolled back on any exception; an SQLite error (a
        full disk, a lock held too long) becomes one line naming the file and what could not be done."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:  # SQLite may have rolled back itself (a full disk at COMMIT)
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise InterviewGuardError(f"{self.path}: cannot {what} ({exc})") from None
            raise

    def _drop(self, session_ids: Sequence[str]) -> None:
        for sid in session_ids:
            self._db.execute("DELETE FROM descriptors WHERE session_id = ?", (sid,))
            self._db.execute("DELETE FROM sessions WHERE session_id = ? AND forgotten = 0", (sid,))

    def drop_sessions(self, session_ids: Sequence[str]) -> None:
        """:meth:`drop_session` for many, in one transaction."""
        with self._transaction("drop sessions from the identity index"):
            self._drop(session_ids)

    # -- reading -------------------------------------------------------------------------

    def indexed_sessions(self) -> dict[str, tuple[str | None, bool]]:
        """Every session the index has seen: ``session_id -> (fingerprint, forgotten)``."""
        return {
            r[0]: (r[1], bool(r[2]))
            for r in self._db.execute("SELECT session_id, fingerprint, forgotten FROM sessions")
        }

    def sources(self) -> dict[str, tuple[str, str | None]]:
        """``session_id -> (source, root)`` of the sessions not forgotten whose source is recorded."""
        if not self._source_columns(add=False):
            return {}
        q = "SELECT session_id, source, root FROM sessions WHERE forgotten = 0 AND source IS NOT NULL"
        return {r[0]: (r[1], r[2]) for r in self._db.execute(q)}

    def candidates(self, session_ids: Sequence[str] | None = None) -> dict[str, str | None]:
        """``session_id -> candidate_id`` of the sessions listed (all when None)."""
        rows = self._db.execute("SELECT session_id, candidate_id FROM sessions").fetchall()
        want = None if session_ids is None else set(session_ids)
        return {s: c for s, c in rows if want is None or s in want}

    def count(self, modality: str | None = None) -> int:
        """Stored descriptors (of ``modality``)."""
        if modality is None:
            return int(self._db.execute("SELECT COUNT(*) FROM descriptors").fetchone()[0])
        q = "SELECT COUNT(*) FROM descriptors WHERE modality = ?"
        return int(self._db.execute(q, (modality,)).fetchone()[0])

    def modalities(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT modality FROM descriptors ORDER BY modality")]

    def chunks(
        self, modality: str, *, chunk_rows: int = 65536, session_ids: Sequence[str] | None = None
    ) -> Iterator[DescriptorChunk]:
        """The stored descriptors of ``modality`` (of ``session_ids`` only, when given), ``chunk_rows`` at a time.

        Rows whose length differs from the first row's are skipped.
        """
        want = None if session_ids is None else set(session_ids)
        cur = self._db.execute(
            "SELECT session_id, candidate_id, dim, vector, quality FROM descriptors WHERE modality = ?",
            (modality,),
        )
        dim: int | None = None
        while True:
            rows = cur.fetchmany(max(1, int(chunk_rows)))
            if not rows:
                return
            if want is not None:
                rows = [r for r in rows if r[0] in want]
            if dim is None and rows:
                dim = int(rows[0][2])
            rows = [r for r in rows if r[2] == dim and len(r[3]) == 4 * r[2]]
            if not rows:
                continue
            vec = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), int(dim or 0))
            yield DescriptorChunk(
                session_id=[r[0] for r in rows],
                candidate_id=[r[1] for r in rows],
                vectors=vec,
                quality=np.fromiter((r[4] for r in rows), dtype=np.float64, count=len(rows)),
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IdentityIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
