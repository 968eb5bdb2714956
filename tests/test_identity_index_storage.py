"""The identity index when its storage fails (read-only, I/O errors) and when another batch writes it meanwhile."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from interview_guard.cli import main
from interview_guard.errors import InterviewGuardError
from interview_guard.io import identity_index
from interview_guard.io.identity_index import IdentityIndex

_connect = sqlite3.connect


class _FailingDb:
    """A connection whose statement starting with ``fail_on`` raises ``disk I/O error``; ``rolled_back``: SQLite
    rolled the transaction back itself first (as it may on a full disk or an I/O error at COMMIT)."""

    def __init__(self, db: sqlite3.Connection, fail_on: str | tuple[str, ...], rolled_back: bool) -> None:
        self._db, self._fail_on, self._rolled_back = db, fail_on, rolled_back

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith(self._fail_on):
            if self._rolled_back and self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, *args)

    def executemany(self, sql: str, rows: object) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith(self._fail_on):
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.executemany(sql, rows)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)


def _failing(monkeypatch, fail_on: str | tuple[str, ...] | None, *, rolled_back: bool = False) -> None:
    """Every index opened from now on fails at ``fail_on``; None: opened read-only (a read-only file or disk)."""

    def connect(path, *args, **kwargs):
        if fail_on is None:
            return _connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)
        return _FailingDb(_connect(path, *args, **kwargs), fail_on, rolled_back)

    monkeypatch.setattr(identity_index.sqlite3, "connect", connect)


def _state(path: Path) -> tuple[list[tuple], list[tuple]]:
    with _connect(path) as db:
        return (
            sorted(db.execute("SELECT session_id, modality, candidate_id FROM descriptors")),
            sorted(db.execute("SELECT session_id, candidate_id, forgotten FROM sessions")),
        )


@pytest.fixture
def index_file(tmp_path) -> Path:
    path = tmp_path / "ix.sqlite"
    vec = [("typing", np.zeros(4), 0.5), ("face", np.zeros(128), 0.5)]
    with IdentityIndex(path) as ix:
        ix.upsert_session("s1", candidate_id="CAND-1", fingerprint="fp-1", descriptors=vec)
        ix.upsert_session("s2", candidate_id="CAND-1", fingerprint="fp-2", descriptors=vec[:1])
        ix.upsert_session("s3", candidate_id="CAND-2", fingerprint="fp-3", descriptors=vec[:1])
        ix.upsert_session("s4", candidate_id="CAND-2", fingerprint="fp-4", descriptors=vec[:1])
        assert ix.forget("CAND-2") == (2, 2)
    return path


@pytest.mark.parametrize(
    "verb, candidate, fail_on, rolled_back",
    [
        ("--forget", "CAND-1", "UPDATE SESSIONS", False),  # after the descriptors' DELETE ran
        ("--forget", "CAND-1", "COMMIT", False),
        ("--forget", "CAND-1", "COMMIT", True),  # SQLite rolled back itself: was "cannot rollback ..."
        ("--forget", "CAND-1", "BEGIN", False),
        ("--forget", "CAND-1", ("UPDATE SESSIONS", "ROLLBACK"), False),  # the ROLLBACK fails too: close rolls back
        ("--forget", "CAND-1", None, False),  # a read-only index
        ("--unforget", "CAND-2", "DELETE FROM SESSIONS", False),
        ("--unforget", "CAND-2", "COMMIT", True),
        ("--unforget", "CAND-2", None, False),
    ],
)
def test_forget_and_unforget_on_a_failing_index_are_one_line_naming_it_and_change_nothing(
    index_file, monkeypatch, verb, candidate, fail_on, rolled_back
):
    # they ran their own BEGIN/COMMIT: "interview-guard: internal error: OperationalError: disk I/O error (run
    # with --debug ...)", naming no file, or "cannot rollback - no transaction is active" hiding the error
    before = _state(index_file)
    _failing(monkeypatch, fail_on, rolled_back=rolled_back)
    r = CliRunner().invoke(main, ["matches", str(index_file), verb, candidate])
    monkeypatch.undo()
    assert r.exit_code == 1, r.output
    assert r.stderr.count("\n") == 1 and "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"interview-guard: error: {index_file}: cannot {verb[2:]} candidate '{candidate}'")
    assert ("readonly" if fail_on is None else "disk I/O error") in r.stderr
    assert r.stdout == ""
    assert _state(index_file) == before  # rolled back: nothing half-done


@pytest.mark.parametrize("fail_on, rolled_back", [("INSERT OR IGNORE", False), ("COMMIT", True), (None, False)])
def test_insert_many_on_a_failing_index_is_one_error_naming_it_and_rolled_back(
    index_file, monkeypatch, fail_on, rolled_back
):
    before = _state(index_file)
    _failing(monkeypatch, fail_on, rolled_back=rolled_back)
    with IdentityIndex(index_file) as ix:
        with pytest.raises(InterviewGuardError) as err:
            ix.insert_many([(f"n{i}", "CAND-9", "typing", np.ones(4), 1.0) for i in range(3)])
        assert not ix._db.in_transaction
    msg = str(err.value)
    assert msg.startswith(f"{index_file}: cannot insert descriptors into the identity index (") and "\n" not in msg
    monkeypatch.undo()
    assert _state(index_file) == before


# ------------------------------------------------------------------ another batch writing meanwhile


def _rename_as_an_outer_batch(index: Path, root: Path, session_ids: list[str]) -> None:
    """What a batch of ``root``'s parent sharing the index does to the sessions it finds done: their entries take
    its ids (``root%2Fs1``), on its own connection."""
    with IdentityIndex(index) as other:
        paths = {f"{root.name}%2F{sid}": str(root / sid) for sid in session_ids}
        other.record_sources(paths, root=str(root.parent))
        assert set(other.sources()) == set(paths)


def test_a_batch_matches_its_sessions_in_one_snapshot_of_the_index(tmp_path, monkeypatch):
    # the batch read the entries of its sessions, then their descriptors, in two reads: another batch renaming
    # (or dropping) those entries in between left the sessions unmatched for that run, matches.csv empty and
    # their reports' "also seen as" cleared
    import shutil

    from conftest import SAMPLES
    from interview_guard.pipeline import matching
    from interview_guard.pipeline.batch import run_batch
    from interview_guard.report.model import read_report

    names = ["typing_genuine_a", "typing_slow_path_a"]  # one typist's log under two candidate ids
    root = tmp_path / "data" / "team"
    for n in names:
        shutil.copytree(SAMPLES / n, root / n)
    out, index = tmp_path / "out", tmp_path / "ix.sqlite"
    assert run_batch(root, out, index_path=str(index)).matches == 1
    entries_of = matching.entries_of

    def then_another_batch_renames(ix, paths):
        got = entries_of(ix, paths)
        _rename_as_an_outer_batch(index, root, names)
        return got

    monkeypatch.setattr(matching, "entries_of", then_another_batch_renames)
    res = run_batch(root, out, index_path=str(index))
    assert res.scanned == 0 and res.matches == 1
    rows = (out / "matches.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and rows[1].startswith("typing_genuine_a,typing_slow_path_a,")  # this batch's ids
    assert read_report(out / "sessions" / "typing_genuine_a.json").also_seen_as


def test_find_matches_reads_its_queries_and_the_rows_searched_in_one_snapshot(tmp_path, monkeypatch):
    # the queries were read, then the rows searched, in two reads: an entry renamed in between by another batch
    # (sessions without a candidate id) was found as a strong match of itself under its other id
    from interview_guard.io.identity_search import ExactSearch
    from interview_guard.pipeline.matching import find_matches

    index, root = tmp_path / "ix.sqlite", tmp_path / "data" / "team"
    vec = [("typing", np.zeros(100), 0.5)]
    with IdentityIndex(index) as ix:
        ix.upsert_session(
            "s1", candidate_id=None, fingerprint="fp-1", descriptors=vec, source=str(root / "s1"), root=str(root)
        )
        neighbours = ExactSearch.neighbours

        def after_a_rename(self, *args, **kwargs):
            _rename_as_an_outer_batch(index, root, ["s1"])
            return neighbours(self, *args, **kwargs)

        monkeypatch.setattr(ExactSearch, "neighbours", after_a_rename)
        assert find_matches(ix, min_score=0) == []


# ------------------------------------------------------------------ what matches OUT is given


def _damaged_index(path: Path) -> Path:
    """An index whose header and tables open, and whose descriptors table's first page is garbage (a disk error,
    a copy cut short): found only when the descriptors are read."""
    with IdentityIndex(path) as ix:
        ix.insert_many([(f"s{i}", f"c{i}", "face", np.full(128, i, dtype=np.float32), 1.0) for i in range(50)])
    with _connect(path) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'descriptors'").fetchone()[0]
    db.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xab" * page)
    return path


def test_matches_given_what_is_not_a_usable_index_is_one_line_naming_it(tmp_path):
    # a damaged index (its descriptors unreadable) was "internal error: DatabaseError: database disk image is
    # malformed (run with --debug ...)", naming no file; the other cases were already one line naming the path
    text = tmp_path / "notes.txt"
    text.write_text("not an index\n", encoding="utf-8")
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    no_index = tmp_path / "out"
    (no_index / "sessions").mkdir(parents=True)
    damaged_out = tmp_path / "damaged_out"
    damaged_out.mkdir()
    _damaged_index(damaged_out / "identity.sqlite")
    damaged = _damaged_index(tmp_path / "damaged.sqlite")
    cases = [
        ([str(text)], "not a readable identity index (file is not a database)"),
        ([str(empty)], "not an interview-guard identity index"),
        ([str(no_index)], "identity index not found"),
        ([str(tmp_path / "absent")], "identity index not found"),
        ([str(damaged)], "not a readable identity index (database disk image is malformed)"),
        ([str(damaged), "--min-score", "0", "--format", "json"], "not a readable identity index (database disk"),
        ([str(damaged_out)], "not a readable identity index (database disk image is malformed)"),
    ]
    for args, words in cases:
        r = CliRunner().invoke(main, ["matches", *args])
        assert r.exit_code == 1, (args, r.output)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"interview-guard: error: {args[0]}"), (args, r.stderr)
        assert words in r.stderr, (args, r.stderr)
        assert r.stdout == ""
    assert empty.stat().st_size == 0 and not (no_index / "identity.sqlite").exists()  # nothing made


def test_a_batch_on_a_damaged_index_is_one_line_naming_it(tmp_path):
    # `matches` said so since 10c952d; a batch on the same index still ended in "internal error: DatabaseError:
    # database disk image is malformed (run with --debug ...)", naming no file, once it read the descriptors
    import shutil

    from conftest import SAMPLES

    root = tmp_path / "root"
    shutil.copytree(SAMPLES / "typing_genuine_a", root / "a")
    damaged = _damaged_index(tmp_path / "damaged.sqlite")
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(tmp_path / "out"), "--index", str(damaged)])
    assert r.exit_code == 1, r.output
    last = r.stderr.splitlines()[-1]
    words = "not a readable identity index (database disk image is malformed)"
    assert last == f"interview-guard: error: {damaged}: {words}"
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "out" / "summary.csv").is_file()  # what was scanned is listed
