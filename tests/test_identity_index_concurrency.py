"""Batches of nested roots sharing one identity index at the same time (``batch /data --index I`` and
``batch /data/teamA --index I``): both hold the index lock shared, so their index writes interleave. Whatever the
order, no registered entry is lost, and each input keeps its own descriptors.

The batches are driven through the functions ``run_batch`` calls (``index_session`` per scanned session,
``prune_gone`` after the scans), each on its own connection (two processes), in every order two processes could
run them; ``test_two_batches_of_nested_roots_running_at_once_keep_every_entry`` runs two real batches."""

from __future__ import annotations

import itertools
import shutil
import threading
from collections.abc import Callable

import numpy as np

from conftest import SAMPLES
from interview_guard.io.identity_index import IdentityIndex
from interview_guard.pipeline.matching import SessionDescriptors, index_session, prune_gone

VEC = {"out": np.full(4, 1.0), "in": np.full(4, 2.0)}  # each input's own descriptor, to tell them apart


def _interleavings(a: list, b: list):
    """Every merge of ``a`` and ``b`` keeping each one's own order (what two processes can do)."""
    n = len(a) + len(b)
    for slots in itertools.combinations(range(n), len(a)):
        ia, ib = iter(a), iter(b)
        yield [next(ia) if i in slots else next(ib) for i in range(n)]


def _layout(tmp_path):
    data = tmp_path / "data"
    (data / "s1").mkdir(parents=True)  # /data/s1: 's1' to a batch of /data
    (data / "teamA" / "s1").mkdir(parents=True)  # /data/teamA/s1: 'teamA%2Fs1' to it, 's1' to a batch of /data/teamA
    return data, data / "teamA"


#: The index writes of a batch of /data (A) and of one of /data/teamA (B), each scanning what it holds.
A_OPS = ["A s1", "A teamA%2Fs1", "A prune"]
B_OPS = ["B s1", "B prune"]


def _ops(index: str, data, team) -> dict[str, Callable[[], object]]:
    """``A_OPS`` and ``B_OPS`` on ``index``: name -> the call, as ``run_batch`` makes it."""
    outer, inner = str(data / "s1"), str(team / "s1")

    def scan(sid: str, which: str, root):
        found = SessionDescriptors(sid, f"cand-{which}", [("typing", VEC[which], 0.5)])
        src = outer if which == "out" else inner
        return lambda: index_session(index, found, f"fp-{which}", source=src, root=str(root))

    def prune(root, found: dict[str, str]):
        return lambda: prune_gone(index, root=str(root), scanned=str(root), found=found)

    return {
        "A s1": scan("s1", "out", data),
        "A teamA%2Fs1": scan("teamA%2Fs1", "in", data),
        "A prune": prune(data, {"s1": outer, "teamA%2Fs1": inner}),
        "B s1": scan("s1", "in", team),
        "B prune": prune(team, {"s1": inner}),
    }


def _entries(index) -> dict[str, tuple[str, str | None, list[float]]]:
    """``source -> (entry id, fingerprint, its descriptor)``, one per input (asserted)."""
    with IdentityIndex(index) as ix:
        held = ix.held()
        assert len(held) == len(ix.sources()), ix.sources()  # no input held twice
        vectors = {sid: vec for ch in ix.chunks("typing") for sid, vec in zip(ch.session_id, ch.vectors.tolist())}
    return {src: (sid, fp, vectors.get(sid, [])) for src, (sid, fp) in held.items()}


def test_nested_batches_at_once_lose_no_entry_whatever_the_order(tmp_path):
    # A scanned /data/s1 as 's1'; B, a batch of /data/teamA, then stored /data/teamA/s1 under its own id 's1' (A's
    # had not been stored yet under A's id 'teamA%2Fs1'), replacing A's entry of another input: /data/s1 was no
    # longer in the index (its report said ok; matches.csv lacked its pairs), or B's pruning then recorded A's
    # row, with /data/s1's descriptors, as /data/teamA/s1
    data, team = _layout(tmp_path)
    failures = []
    for n, order in enumerate(_interleavings(A_OPS, B_OPS)):
        index = tmp_path / f"ix{n}.sqlite"
        ops = _ops(str(index), data, team)
        for name in order:
            ops[name]()
        got = _entries(index)
        want = {
            str(data / "s1"): ("s1", "fp-out", VEC["out"].tolist()),
            str(team / "s1"): ("teamA%2Fs1", "fp-in", VEC["in"].tolist()),  # under the outermost root's id
        }
        if got != want:
            failures.append((", ".join(order), got))
    assert not failures, "\n".join(f"{order}: {got}" for order, got in failures)


def _run_at_once(batches: dict[str, tuple], before: dict[tuple[str, str], tuple[str, str]], monkeypatch) -> dict:
    """Run the batches ``name -> (root, out, index)`` in threads at once; ``before``: ``(name, session id) ->
    (name, session id)``: that batch stores that session in the index only after the other stored its own."""
    from interview_guard.pipeline import batch
    from interview_guard.pipeline.batch import run_batch

    stored = {key: threading.Event() for key in set(before.values())}
    real = batch.index_session

    def in_order(index_path, found, *args, **kwargs):
        me = (threading.current_thread().name, found.session_id)
        if me in before:
            assert stored[before[me]].wait(60), f"{me} waited for {before[me]} in vain"
        real(index_path, found, *args, **kwargs)
        if me in stored:
            stored[me].set()

    monkeypatch.setattr(batch, "index_session", in_order)
    results: dict = {}

    def run(name: str, root, out, index) -> None:
        try:
            results[name] = run_batch(root, out, index_path=str(index))
        except BaseException as exc:  # pragma: no cover - the assertion below says what
            results[name] = exc
            for ev in stored.values():
                ev.set()

    threads = [threading.Thread(target=run, args=(n, *b), name=n) for n, b in batches.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(isinstance(r, BaseException) for r in results.values()), results
    return results


def test_two_batches_of_nested_roots_running_at_once_keep_every_entry(tmp_path, monkeypatch):
    # the interleaving of the first test, by two real batches: A (/data) stores /data/s1 as 's1', B (/data/teamA)
    # then stores its 's1' (/data/teamA/s1); A's entry of /data/s1 was replaced and A's own matches.csv lacked
    # its pair
    import csv

    from interview_guard.pipeline.batch import run_batch
    from interview_guard.report.model import read_report

    data = tmp_path / "data"
    for sub, name in (("s1", "typing_slow_path_a"), ("teamA/s1", "typing_genuine_b"), ("teamA/s2", "typing_genuine_a")):
        shutil.copytree(SAMPLES / name, data / sub)
    index = tmp_path / "ix.sqlite"
    batches = {"A": (data, tmp_path / "r_all", index), "B": (data / "teamA", tmp_path / "r_team", index)}
    _run_at_once(batches, {("B", "s1"): ("A", "s1"), ("A", "teamA%2Fs1"): ("B", "s1")}, monkeypatch)
    with IdentityIndex(index) as ix:  # every input once, under the outer root's id
        assert {src: sid for src, (sid, _) in ix.held().items()} == {
            str(data / "s1"): "s1",
            str(data / "teamA" / "s1"): "teamA%2Fs1",
            str(data / "teamA" / "s2"): "teamA%2Fs2",
        }
        assert ix.count() == 3 and len(ix.indexed_sessions()) == 3
    with open(tmp_path / "r_all" / "matches.csv", newline="", encoding="utf-8") as fh:
        assert [(r["session_a"], r["session_b"]) for r in csv.DictReader(fh)] == [("s1", "teamA%2Fs2")]
    seen = read_report(tmp_path / "r_all" / "sessions" / "s1.json").also_seen_as
    assert [s["session"] for s in seen] == ["teamA%2Fs2"]
    for root, out, _ in batches.values():  # and each batch's next run finds everything done
        res = run_batch(root, out, index_path=str(index))
        assert res.scanned == 0 and res.pruned == 0, (root, res)


def test_a_new_index_another_connection_is_writing_opens_once_it_is_done(tmp_path):
    # two batches started together both create the index; SQLite answered the second's switch to write-ahead
    # logging "database is locked" at once, without waiting (CI: one batch failed "not a readable identity index")
    import sqlite3
    import time

    path = tmp_path / "ix.sqlite"
    other = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE scratch (a)")
    done = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
    done.start()
    started = time.monotonic()
    try:
        with IdentityIndex(path, timeout_s=20) as ix:
            assert ix.count() == 0
    finally:
        done.join()
        other.close()
    assert time.monotonic() - started >= 0.25  # it waited for the other writer, not around it


def test_a_failing_session_of_a_nested_root_drops_no_entry_of_the_outer_input_of_its_id(tmp_path, monkeypatch):
    # a batch of /data/teamA whose s1 failed (its log is bad), s2 could not be read (a broken link) and s3's worker
    # died dropped the index rows 's1', 's2' and 's3' whatever they held: the entries of /data/s1, /data/s2 and
    # /data/s3, another batch's inputs (a batch of /data, before or at the same time), which lost their matches
    from interview_guard.pipeline import batch
    from interview_guard.pipeline.batch import run_batch

    data = tmp_path / "data"
    for sub, name in (("s1", "typing_genuine_a"), ("s2", "typing_genuine_b"), ("s3", "typing_relayed_b")):
        shutil.copytree(SAMPLES / name, data / sub)
    team = data / "teamA"
    for sub in ("s1", "s3"):
        shutil.copytree(SAMPLES / "typing_slow_path_a", team / sub)
    log = team / "s1" / "keystrokes.jsonl"
    log.write_text(log.read_text() + "not json\n")
    (team / "s2").symlink_to(tmp_path / "nowhere")
    index = tmp_path / "ix.sqlite"
    assert run_batch(data, tmp_path / "r_all", index_path=str(index)).matches == 1  # /data/s1 and teamA/s3
    table = (tmp_path / "r_all" / "matches.csv").read_text(encoding="utf-8")
    with IdentityIndex(index) as ix:
        before = ix.held()
    assert sorted(sid for sid, _ in before.values()) == ["s1", "s2", "s3", "teamA%2Fs3"]
    real = batch.scan_task

    def dies(job):
        if job.session_id == "s3":
            raise RuntimeError("worker gone")
        return real(job)

    monkeypatch.setattr(batch, "scan_task", dies)
    res = run_batch(team, tmp_path / "r_team", index_path=str(index))
    assert (res.total, res.failed, res.unreadable) == (3, 3, 1)
    with IdentityIndex(index) as ix:
        assert ix.held() == before and ix.count() == 4
    monkeypatch.undo()
    res = run_batch(data, tmp_path / "r_all", index_path=str(index))
    assert (res.scanned, res.pruned) == (1, 0)  # teamA/s1, failed, scanned again; the others found done
    assert (tmp_path / "r_all" / "matches.csv").read_text(encoding="utf-8") == table


def test_a_pruning_batch_drops_no_entry_another_batch_stored_since_it_read_them(tmp_path, monkeypatch):
    # a batch of /data/teamA read the index's entries, judged 's9' gone (/data/teamA/s9 deleted), and dropped
    # 's9' in another transaction: a batch of /data that stored /data/s9 as 's9' in between (the inner entry
    # moved to 'teamA%2Fs9') lost its fresh entry
    data, team = tmp_path / "data", tmp_path / "data" / "teamA"
    for d in (data / "s9", team / "s1"):
        d.mkdir(parents=True)
    index = str(tmp_path / "ix.sqlite")

    def store(sid: str, root, which: str) -> None:  # the session at root/sid
        found = SessionDescriptors(sid, f"cand-{which}", [("typing", VEC[which], 0.5)])
        index_session(index, found, f"fp-{which}", source=str(root / sid), root=str(root))

    store("s9", team, "in")  # an earlier run of /data/teamA; /data/teamA/s9 is gone since
    real = IdentityIndex.sources

    def then_another_batch_stores(self):
        got = real(self)
        if not stored:
            stored.append(True)
            store("s9", data, "out")
        return got

    stored: list[bool] = []
    monkeypatch.setattr(IdentityIndex, "sources", then_another_batch_stores)
    prune_gone(index, root=str(team), scanned=str(team), found={"s1": str(team / "s1")})
    monkeypatch.undo()
    assert stored and _entries(index)[str(data / "s9")] == ("s9", "fp-out", VEC["out"].tolist())
    # the entry judged gone moved meanwhile: the next pruning drops it
    gone, _ = prune_gone(index, root=str(team), scanned=str(team), found={"s1": str(team / "s1")})
    assert gone == ["teamA%2Fs9"] and set(_entries(index)) == {str(data / "s9")}


def test_a_session_stored_by_another_batch_after_this_one_listed_its_root_is_not_pruned(tmp_path, monkeypatch):
    # a batch of /data/teamA listed its sessions (s1); a new session, s2, arrived, and a batch of /data, sharing
    # the --index, scanned and stored it; the first batch's pruning then took /data/teamA/s2 (under its root, not
    # found by its listing) for gone and dropped it: the batch of /data lost it until its next run
    from interview_guard.pipeline import batch
    from interview_guard.pipeline.batch import run_batch

    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "typing_genuine_a", data / "teamA" / "s1")
    shutil.copytree(SAMPLES / "typing_genuine_b", data / "other")
    index = tmp_path / "ix.sqlite"
    real = batch.find_sessions
    arrived: list[bool] = []

    def then_a_session_arrives(root, **kwargs):
        listed = real(root, **kwargs)
        if not arrived:  # the batch of /data/teamA has listed its root
            arrived.append(True)
            shutil.copytree(SAMPLES / "typing_slow_path_a", data / "teamA" / "s2")
            assert run_batch(data, tmp_path / "r_all", index_path=str(index)).matches == 1  # teamA/s1 and s2
        return listed

    monkeypatch.setattr(batch, "find_sessions", then_a_session_arrives)
    res = run_batch(data / "teamA", tmp_path / "r_team", index_path=str(index))
    assert (res.total, res.pruned) == (1, 0)
    with IdentityIndex(index) as ix:
        assert sorted(sid for sid, _ in ix.held().values()) == ["other", "teamA%2Fs1", "teamA%2Fs2"]
    monkeypatch.undo()
    assert run_batch(data, tmp_path / "r_all", index_path=str(index)).scanned == 0
    res = run_batch(data / "teamA", tmp_path / "r_team", index_path=str(index))  # its next listing has s2
    assert (res.total, res.scanned, res.pruned, res.matches) == (2, 1, 0, 1)
