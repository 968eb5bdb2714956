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
writer leaves the session either wholly in or wholly out. One input (its
``source`` path, same fingerprint) is one entry: a batch of another root that
holds it too (a root inside the one that indexed it, or around it) finds it
indexed instead of adding it again; the entry carries the id of the outermost
root (:meth:`IdentityIndex.upsert_session`, :meth:`IdentityIndex.record_sources`); so does an inner root's input
whose id there is another input's (``/data/s1`` and ``/data/teamA/s1``, both ``s1`` to their batches): batches of
the two roots running at once never replace each other's entries. ``forget`` deletes a
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
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from interview_guard.errors import InputError, InterviewGuardError
from interview_guard.io.session import session_id_for
from interview_guard.io.sqlite_wal import to_wal

__all__ = ["INDEX_FORMAT", "IdentityIndex", "DescriptorChunk"]

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


def _now(at: float | None = None) -> str:
    """A time as the index stores it (``added_at``): UTC to the second, cut (not rounded); ``at``: a
    ``time.time()`` instead of now."""
    return (datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)).isoformat(timespec="seconds")


def _contains(outer: str | None, inner: str | None) -> bool:
    """Whether root ``outer`` strictly contains root ``inner`` (False when either is unknown)."""
    if outer is None or inner is None:
        return False
    try:
        return inner != outer and os.path.commonpath([outer, inner]) == outer
    except ValueError:  # one relative, one absolute: not comparable
        return False


def _outer(root: str | None, holder_root: str | None) -> bool:
    """Whether a batch of ``root`` takes over an entry of ``holder_root`` for the same input: ``root`` strictly
    contains it, or the entry has no root (an older version's, or a row written without one)."""
    return root is not None and (holder_root is None or _contains(root, holder_root))


@dataclass(frozen=True)
class DescriptorChunk:
    """Consecutive stored descriptors of one modality."""

    session_id: list[str]
    candidate_id: list[str | None]
    vectors: np.ndarray  # (n, d) float32
    quality: np.ndarray  # (n,) float64

    def __len__(self) -> int:
        return len(self.session_id)


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
            self._check_or_init(create, timeout_s)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"not a readable identity index ({exc})", path=self.path) from None
        except InputError:
            self._db.close()
            raise

    def _check_or_init(self, create: bool, timeout_s: float) -> None:
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
        to_wal(db, timeout_s)
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
        source: str | None = None,
        root: str | None = None,
    ) -> bool:
        """Store one session's descriptors ``(modality, vector, quality)``, replacing whatever it had, atomically.

        Returns False when they are withheld: the input (``fingerprint``) is that of a forgotten session (under
        this id or another: a batch on a parent folder, a report deleted and scanned again). The session is then
        listed forgotten with no descriptor, so a re-run does not scan it again; :meth:`unforget` lifts the mark.

        With ``source`` (the session's absolute path) and ``root`` (the batch root it was found under) the input
        is one entry: rows of an earlier input at that path (another fingerprint) are dropped; when another id
        holds the same input (same path or, for a row without one, same fingerprint) the descriptors stay there
        and this id gets no row (True is returned: the input is indexed), unless ``root`` strictly contains that
        entry's root (a batch on the parent of the root that indexed it): then the entry is replaced by this id.
        When ``session_id`` is the id of another input's entry recorded by a batch of a root nested with ``root``
        (``/data/s1``, ``s1`` to a batch of /data, and ``/data/teamA/s1``, ``s1`` to a batch of /data/teamA), the
        inner root's input goes under its id relative to the outer root (``teamA%2Fs1``), as a batch of the outer
        root stores it: neither input replaces the other, whichever batch writes first (:meth:`_make_room`).
        """
        now = _now()
        rows = []
        for modality, vec, quality in descriptors:
            v = np.ascontiguousarray(np.asarray(vec, dtype="<f4").reshape(-1))
            rows.append((modality, candidate_id, int(v.size), v.tobytes(), float(quality), now))
        with self._transaction(f"store session {session_id!r} in the identity index") as db:
            forgotten = fingerprint is not None and (
                db.execute(
                    "SELECT 1 FROM sessions WHERE forgotten = 1 AND fingerprint = ? LIMIT 1", (fingerprint,)
                ).fetchone()
                is not None
            )
            if source is not None:
                self._source_columns(add=True)
                if not forgotten and self._held_elsewhere(session_id, fingerprint, source, root):
                    return True
                session_id, root = self._make_room(session_id, source, root)
            db.execute("DELETE FROM descriptors WHERE session_id = ?", (session_id,))
            if not forgotten:
                db.executemany("INSERT INTO descriptors VALUES (?, ?, ?, ?, ?, ?, ?)", ((session_id, *r) for r in rows))
            located = (source, root) if source is not None else ()  # an older index may lack the columns
            db.execute(
                "INSERT OR REPLACE INTO sessions (session_id, candidate_id, fingerprint, added_at, forgotten"
                + (", source, root) VALUES (?, ?, ?, ?, ?, ?, ?)" if located else ") VALUES (?, ?, ?, ?, ?)"),
                (session_id, candidate_id, fingerprint, now, int(forgotten), *located),
            )
        return not forgotten

    def _held_elsewhere(self, session_id: str, fingerprint: str | None, source: str, root: str | None) -> bool:
        """In :meth:`upsert_session`'s transaction: drop the rows of an earlier input at ``source`` (another
        fingerprint), and tell whether another id holds this input (at ``source``, or with no source and this
        fingerprint: an older version's row), which then keeps it (this id's row of that path goes); when this
        root contains that entry's root, the entry goes instead and False is returned (this id takes it over)."""
        rows = self._db.execute(
            "SELECT session_id, fingerprint, root, source FROM sessions WHERE forgotten = 0 AND session_id != ? "
            "AND (source = ? OR (source IS NULL AND fingerprint = ?))",
            (session_id, source, fingerprint),
        ).fetchall()
        found = [r for r in rows if fingerprint is not None and r[1] == fingerprint]
        self._drop([r[0] for r in rows if r not in found])
        if not found:
            return False
        found.sort(key=lambda r: (r[3] != source, r[0]))  # the one at this path first
        same = [(r[0], r[2]) for r in found]
        own = self._db.execute(
            "SELECT source FROM sessions WHERE session_id = ? AND forgotten = 0", (session_id,)
        ).fetchone()
        mine = own is None or own[0] in (None, source)  # not a row of another input that has this id
        if mine and _outer(root, same[0][1]):
            self._drop([sid for sid, _ in same])
            return False
        self._drop([sid for sid, _ in same[1:]] + ([session_id] if own is not None and mine else []))
        return True

    def _other_input(self, session_id: str, source: str, root: str | None) -> tuple[str, str] | None:
        """In the caller's transaction: ``(its source, its root)`` when the row of ``session_id`` (forgotten or not)
        is another input's, recorded at another path than ``source`` by a batch of a root nested with ``root`` (one
        strictly inside the other: the same relative path under each); else None."""
        if root is None or not self._source_columns(add=False):
            return None
        row = self._db.execute("SELECT source, root FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None or row[0] in (None, source) or not (_contains(row[1], root) or _contains(root, row[1])):
            return None
        return str(row[0]), str(row[1])

    def _make_room(self, session_id: str, source: str, root: str | None) -> tuple[str, str | None]:
        """In the caller's transaction: the id and root to store the input at ``source`` under (``session_id`` to
        a batch of ``root``). Those two, unless that id holds another input of a nested root (:meth:`_other_input`):
        then the inner root's input goes under its id relative to the outer root: this input, when that entry's
        root is the outer one; else that entry, renamed now (descriptors and all). When the id there is taken too
        (by another input: a third one), nothing moves and ``session_id`` is used (the other input is replaced)."""
        other = self._other_input(session_id, source, root)
        if other is None:
            return session_id, root
        taken = "SELECT 1 FROM sessions WHERE session_id = ? AND source IS NOT NULL AND source != ?"
        if _contains(other[1], root):  # that entry's root holds this one: this input under its id there
            alt = session_id_for(os.path.relpath(source, other[1]))
            if self._db.execute(taken, (alt, source)).fetchone() is None:  # free, or an earlier row of the path
                return alt, other[1]
        else:  # this root holds that entry's: the entry under its id here
            alt = session_id_for(os.path.relpath(other[0], root))
            if self._db.execute("SELECT 1 FROM sessions WHERE session_id = ?", (alt,)).fetchone() is None:
                self._rename(session_id, alt, str(root))
        return session_id, root

    def drop_session(
        self,
        session_id: str,
        *,
        source: str | None = None,
        fingerprint: str | None = None,
        root: str | None = None,
        others: bool = True,
    ) -> None:
        """Delete a session's descriptors and its row (a forgotten one stays marked): it failed, so what the
        index holds is of an earlier input. With ``source``, also the entries of that path under other ids whose
        fingerprint is not ``fingerprint`` (an earlier input there), unless ``others`` is False (its worker died:
        its input may be fine). With ``source`` and ``root`` (the batch root of ``session_id``), the row of
        ``session_id`` stays when it is another input's, of a root nested with ``root`` (:meth:`_other_input`:
        ``/data/s1`` as ``s1``, this being /data/teamA's ``s1``). Atomic; a storage error is one line naming
        the file."""
        with self._transaction(f"drop session {session_id!r} from the identity index") as db:
            if source is None or self._other_input(session_id, source, root) is None:
                db.execute("DELETE FROM descriptors WHERE session_id = ?", (session_id,))
                db.execute("DELETE FROM sessions WHERE session_id = ? AND forgotten = 0", (session_id,))
            if source is not None and others and self._source_columns(add=False):
                q = "SELECT session_id FROM sessions WHERE forgotten = 0 AND source = ? AND fingerprint IS NOT ?"
                self._drop([r[0] for r in db.execute(q, (source, fingerprint)).fetchall()])

    def insert_many(self, rows: Sequence[tuple[str, str | None, str, np.ndarray, float]]) -> None:
        """Bulk insert ``(session_id, candidate_id, modality, vector, quality)`` in one transaction (benchmarks,
        imports); replaces existing (session, modality) rows. A storage error is one line naming the file, and
        nothing is inserted."""
        now = _now()
        with self._transaction("insert descriptors into the identity index") as db:
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
        InterviewGuardError
            The index cannot be written (read-only, a full disk, an I/O error): one line naming the file; the
            transaction is rolled back, nothing is deleted.
        """
        self._check_text(candidate_id, "forget")
        with self._transaction(f"forget candidate {candidate_id!r}") as db:
            n = db.execute("DELETE FROM descriptors WHERE candidate_id = ?", (candidate_id,)).rowcount
            s = db.execute(
                "UPDATE sessions SET forgotten = 1 WHERE candidate_id = ? AND forgotten = 0", (candidate_id,)
            ).rowcount
        return int(n), int(s)

    def unforget(self, candidate_id: str) -> int:
        """Lift :meth:`forget`'s mark from ``candidate_id``'s sessions; returns how many were marked.

        Their rows go: the next batch on their input finds them not indexed, scans them again and indexes
        them. Raises :class:`InputError` and :class:`InterviewGuardError` as :meth:`forget` does.
        """
        self._check_text(candidate_id, "unforget")
        with self._transaction(f"unforget candidate {candidate_id!r}") as db:
            n = db.execute("DELETE FROM sessions WHERE candidate_id = ? AND forgotten = 1", (candidate_id,)).rowcount
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
        transaction, keeping one entry per input; returns the ids dropped as another entry of the same input.

        A session with its own row: its path and root are recorded, and the other rows of that path (an earlier
        input, or this one under another id) or without a path and with its fingerprint (an older version's row
        of the same input) are dropped. A row recorded at another path takes the new one when no other id holds it
        (the session was found done, so its files are the row's: its root moved, or a share is mounted
        elsewhere); when another id holds it, the row is another input's under the same id and stays as it is; so
        does a row recorded by a batch of a root around ``root`` (``/data/s1`` as ``s1``, seen from a batch of
        /data/teamA), while one of a root inside ``root`` moves to the id its input has under ``root``
        (:meth:`_make_room`). A session whose input another id holds (a batch of a root inside, or
        around, the one that indexed it): nothing is added; when ``root`` strictly contains that entry's root,
        the entry takes this session's id and root (the outermost root's id), without a scan.
        """
        dropped: list[str] = []
        with self._transaction("record the sessions' sources") as db:
            self._source_columns(add=True)
            for sid, source in sources.items():
                if self._make_room(sid, source, root)[0] != sid or self._other_input(sid, source, root):
                    continue  # the id is another input's entry, of a root nested with this one: it stays as it is
                own = db.execute(
                    "SELECT source, fingerprint, forgotten FROM sessions WHERE session_id = ?", (sid,)
                ).fetchone()
                if own is not None and not own[2] and (own[0] in (None, source) or not self._holder(source, sid)):
                    db.execute("UPDATE sessions SET source = ?, root = ? WHERE session_id = ?", (source, root, sid))
                    others = db.execute(
                        "SELECT session_id FROM sessions WHERE forgotten = 0 AND session_id != ? "
                        "AND (source = ? OR (source IS NULL AND fingerprint = ?))",
                        (sid, source, own[1]),
                    ).fetchall()
                    dropped += [o[0] for o in others]
                    self._drop([o[0] for o in others])
                elif own is None:
                    held = db.execute(
                        "SELECT session_id, root FROM sessions WHERE forgotten = 0 AND source = ?", (source,)
                    ).fetchall()
                    if len(held) == 1 and _outer(root, held[0][1]):
                        self._rename(held[0][0], sid, root)
        return dropped

    def _holder(self, source: str, session_id: str) -> str | None:
        """In the caller's transaction: another id's entry (not forgotten) recorded at ``source``, or None."""
        row = self._db.execute(
            "SELECT session_id FROM sessions WHERE forgotten = 0 AND source = ? AND session_id != ? LIMIT 1",
            (source, session_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def _rename(self, old: str, new: str, root: str) -> None:
        """In the caller's transaction: the entry ``old`` becomes ``new`` (of ``root``), descriptors and all."""
        db = self._db
        db.execute("DELETE FROM descriptors WHERE session_id = ?", (new,))  # none (``new`` has no row): orphans
        db.execute("UPDATE descriptors SET session_id = ? WHERE session_id = ?", (new, old))
        db.execute("UPDATE sessions SET session_id = ?, root = ? WHERE session_id = ?", (new, root, old))

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
                with contextlib.suppress(sqlite3.Error):  # it failed too: closing the connection rolls back
                    db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise InterviewGuardError(f"{self.path}: cannot {what} ({exc})") from None
            raise

    def _drop(self, session_ids: Sequence[str]) -> None:
        for sid in session_ids:
            self._db.execute("DELETE FROM descriptors WHERE session_id = ?", (sid,))
            self._db.execute("DELETE FROM sessions WHERE session_id = ? AND forgotten = 0", (sid,))

    def drop_sessions(
        self, session_ids: Sequence[str], *, sources: dict[str, str] | None = None, before: float | None = None
    ) -> list[str]:
        """:meth:`drop_session` for many, in one transaction; the ids dropped. ``sources`` (id -> the path its
        entry was recorded at when it was judged, e.g. gone): an entry no longer recorded there stays (another batch
        sharing the index gave its id to another input meanwhile: :meth:`_make_room`). ``before`` (a
        ``time.time()``): an entry stored since (in that second too) stays."""
        with self._transaction("drop sessions from the identity index") as db:
            if sources is not None or before is not None:
                since = None if before is None else _now(before)
                q = f"SELECT added_at{'' if sources is None else ', source'} FROM sessions WHERE session_id = ?"
                rows = {sid: db.execute(q + " AND forgotten = 0", (sid,)).fetchone() for sid in session_ids}
                session_ids = [
                    sid
                    for sid, row in rows.items()
                    if row is not None
                    and (sources is None or row[1] == sources.get(sid))
                    and (since is None or row[0] < since)
                ]
            self._drop(session_ids)
        return list(session_ids)

    # -- reading -------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[IdentityIndex]:
        """The reads in the block see one state of the index (a deferred ``BEGIN`` .. ``COMMIT``: one read
        transaction), whatever other connections commit meanwhile; in WAL mode they go on writing. Inside a
        transaction already (a nested snapshot), the block simply runs in it. Keep the block short: the WAL file
        cannot be checkpointed past an open snapshot."""
        db = self._db
        if db.in_transaction:
            yield self
            return
        db.execute("BEGIN")
        try:
            yield self
        finally:
            try:
                db.execute("COMMIT")
            except sqlite3.Error:  # a read only: ending it any way loses nothing
                if db.in_transaction:
                    db.execute("ROLLBACK")

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

    def held(self) -> dict[str, tuple[str, str | None]]:
        """``source -> (session_id, fingerprint)``: the entry holding each recorded input (not forgotten)."""
        if not self._source_columns(add=False):
            return {}
        q = "SELECT source, session_id, fingerprint FROM sessions WHERE forgotten = 0 AND source IS NOT NULL"
        return {r[0]: (r[1], r[2]) for r in self._db.execute(q)}

    def unknown_inputs(self) -> list[str]:
        """The sessions holding descriptors whose input is not recorded (``source`` NULL: written by an older
        version and not found by a batch since, or from a path that is not UTF-8): no batch can tell whether
        their input is gone. Forgotten ones hold nothing and are not listed."""
        q = "SELECT session_id FROM sessions WHERE forgotten = 0 AND session_id IN (SELECT session_id FROM descriptors)"
        q += " AND source IS NULL" if self._source_columns(add=False) else ""
        return sorted(r[0] for r in self._db.execute(q))

    def drop_unknown_inputs(self) -> list[str]:
        """Drop every session of :meth:`unknown_inputs` in one transaction; their ids."""
        with self._transaction("drop the sessions whose input is unknown"):
            ids = self.unknown_inputs()
            self._drop(ids)
        return ids

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
