"""The security team's batch journey: sessions that go away, two runs on one output, killed runs, the summary's
candidate id, workers that die, and a run on part of an earlier batch's input."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from conftest import SAMPLES, typing_events, write_jsonl
from interview_guard.cli import main
from interview_guard.errors import InterviewGuardError
from interview_guard.io.identity_index import IdentityIndex
from interview_guard.pipeline.batch import run_batch
from interview_guard.report.model import read_report

PAIR = ("typing_genuine_a", "typing_slow_path_a")  # one typist's log under two candidate ids: they match


def _root(tmp_path, names=PAIR, name="root"):
    root = tmp_path / name
    for n in names:
        shutil.copytree(SAMPLES / n, root / n)
    return root


def _matches(out_or_index) -> list[dict]:
    r = CliRunner().invoke(main, ["matches", str(out_or_index)])
    assert r.exit_code == 0, r.output
    return list(csv.DictReader(r.stdout.splitlines()))


def _summary(out) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ------------------------------------------------------------------ 1. sessions that are gone


def test_a_deleted_session_no_longer_matches(tmp_path):
    """A session directory deleted after its batch kept its descriptors: the next batch (a new session added)
    still listed it in matches.csv, in ``matches`` and in the other session's "also seen as"."""
    root = _root(tmp_path)
    out = tmp_path / "out"
    assert run_batch(root, out).matches == 1
    shutil.rmtree(root / "typing_slow_path_a")
    shutil.copytree(SAMPLES / "typing_genuine_b", root / "typing_genuine_b")  # a new session
    res = run_batch(root, out)
    assert res.pruned == 1 and res.matches == 0
    assert _matches(out) == []
    assert not read_report(out / "sessions" / "typing_genuine_a.json").also_seen_as
    with IdentityIndex(out / "identity.sqlite") as ix:
        assert set(ix.indexed_sessions()) == {"typing_genuine_a", "typing_genuine_b"}
    assert (out / "sessions" / "typing_slow_path_a.json").is_file()  # the report of what was scanned stays


def test_a_long_lived_index_prunes_a_deleted_session_of_an_earlier_batch(tmp_path):
    """With one ``--index`` for many batches, a new batch's sessions matched a session deleted from an earlier
    batch's input; a root whose sessions are all missing (unmounted?) is kept, with a warning."""
    ix = tmp_path / "all.sqlite"
    first = _root(tmp_path, (*PAIR, "typing_genuine_b"), "first")
    run_batch(first, tmp_path / "out1", index_path=str(ix))
    shutil.rmtree(first / "typing_slow_path_a")
    second = tmp_path / "second"
    shutil.copytree(SAMPLES / "typing_slow_path_a", second / "new_application")
    notes: list[str] = []
    res = run_batch(second, tmp_path / "out2", index_path=str(ix), notify=notes.append)
    assert res.pruned == 1
    pairs = {(m["session_a"], m["session_b"]) for m in _matches(ix)}
    assert pairs == {("new_application", "typing_genuine_a")}  # not the deleted typing_slow_path_a
    shutil.rmtree(first)  # every session of a root gone: unmounted or deleted, which cannot be told apart
    notes.clear()
    res = run_batch(second, tmp_path / "out2", index_path=str(ix), notify=notes.append)
    assert res.pruned == 0 and len(_matches(ix)) == 1
    assert any(f"2 sessions indexed from {first} are all missing" in n for n in notes), notes


def test_an_index_of_an_older_version_gets_its_sources_recorded(tmp_path):
    """An index made before ``source``/``root`` existed: the batch adds the columns, records what it finds,
    and prunes from then on."""
    import sqlite3

    from interview_guard.io import identity_index

    ix = tmp_path / "old.sqlite"
    old_schema = identity_index._SCHEMA.replace(",\n    source TEXT,\n    root TEXT\n", "\n")
    assert "source" not in old_schema
    with sqlite3.connect(ix) as db:
        db.executescript(old_schema)
        db.execute("INSERT INTO meta VALUES ('format', ?)", (identity_index.INDEX_FORMAT,))
    root = _root(tmp_path)
    out = tmp_path / "out"
    assert run_batch(root, out, index_path=str(ix)).matches == 1
    with IdentityIndex(ix) as index:
        assert set(index.sources()) == set(PAIR)
    shutil.rmtree(root / "typing_slow_path_a")
    assert run_batch(root, out, index_path=str(ix)).pruned == 1 and _matches(ix) == []


def test_a_moved_root_gets_its_new_paths_recorded_and_a_session_deleted_there_is_dropped(tmp_path):
    """The sessions' directory moved (or its share mounted elsewhere), one OUT: the sessions are found done (same
    files), and their rows kept the old paths (recorded only for a row with no path or the same one, since one
    input became one entry), so a session deleted later was "all missing (not mounted here?)" and matched for
    ever. A row's path moves with its input when no other entry holds the new one."""
    first = _root(tmp_path, names=(*PAIR, "typing_genuine_b"))
    out = tmp_path / "out"
    assert run_batch(first, out).matches == 1
    moved = tmp_path / "moved" / "root"
    moved.parent.mkdir()
    first.rename(moved)
    assert run_batch(moved, out).scanned == 0
    with IdentityIndex(out / "identity.sqlite") as index:
        assert {sid: src for sid, (src, _) in index.sources().items()} == {
            n: str(moved / n) for n in (*PAIR, "typing_genuine_b")
        }
    shutil.rmtree(moved / "typing_slow_path_a")
    notes: list[str] = []
    assert run_batch(moved, out, notify=notes.append).pruned == 1, notes
    assert _matches(out) == []


def test_sessions_indexed_without_their_input_are_reported_and_pruned_on_request(tmp_path):
    """Rows an older version wrote carry no input path; one whose input was deleted before the upgrade is never
    found again, so no batch records its path or drops it, and it matched for ever. Now every batch and
    ``matches`` say how many such sessions the index holds (input unknown), and ``matches OUT --prune-unknown``
    drops them (a batch that finds their input again indexes it again)."""
    import sqlite3

    root = _root(tmp_path)
    out = tmp_path / "out"
    ix = out / "identity.sqlite"
    run_batch(root, out)
    with sqlite3.connect(ix) as db:  # as an older version left them: no path recorded
        db.execute("UPDATE sessions SET source = NULL, root = NULL")
    shutil.rmtree(root / "typing_slow_path_a")  # deleted before the upgrade
    notes: list[str] = []
    res = run_batch(root, out, notify=notes.append)
    assert res.pruned == 0  # nobody can tell that it is gone ...
    assert any(f"{ix}: 1 session(s) with no recorded input" in n and "--prune-unknown" in n for n in notes), notes
    r = CliRunner().invoke(main, ["matches", str(out)])  # ... it still matches, and says so
    assert r.exit_code == 0 and len(list(csv.DictReader(r.stdout.splitlines()))) == 1
    assert r.stderr.count("\n") == 1 and "1 session(s) with no recorded input (input unknown:" in r.stderr, r.stderr
    assert "1 of the 1 pair(s) listed" in r.stderr
    r = CliRunner().invoke(main, ["matches", str(out), "--prune-unknown"])
    assert r.exit_code == 0 and r.stderr.count("\n") == 1, r.output
    assert f"1 session(s) with no recorded input dropped from {ix}; {out / 'matches.csv'} rewritten" in r.stderr
    assert _matches(out) == [] and list(csv.DictReader((out / "matches.csv").open(encoding="utf-8"))) == []
    r = CliRunner().invoke(main, ["matches", str(out)])
    assert r.exit_code == 0 and r.stderr == ""
    r = CliRunner().invoke(main, ["matches", str(out), "--prune-unknown"])  # again: nothing left, not an error
    assert r.exit_code == 0 and "no session with no recorded input" in r.stderr, r.output
    r = CliRunner().invoke(main, ["matches", str(out), "--prune-unknown", "--forget", "x"])
    assert r.exit_code == 2 and "--prune-unknown" in r.output
    assert run_batch(root, out).scanned == 0  # the session still there kept its entry (its path is recorded)


# ------------------------------------------------------------------ 2. one batch at a time per output


def test_a_second_batch_on_the_same_output_is_refused(tmp_path):
    from interview_guard.pipeline.batch_output import BatchLock

    root = _root(tmp_path, PAIR[:1])
    out = tmp_path / "out"
    out.mkdir()
    with BatchLock(out):  # another batch holds the output
        with pytest.raises(InterviewGuardError) as exc:
            run_batch(root, out)
        msg = str(exc.value)
        assert msg.startswith(f"{out}: another batch is writing here") and f"pid {os.getpid()}" in msg, msg
        assert "\n" not in msg
        r = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "-q"])
        assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "another batch is writing here" in r.stderr
    assert not (out / "sessions").exists() or not list((out / "sessions").iterdir())
    assert run_batch(root, out).scanned == 1  # released: the next run goes ahead
    assert not (out / ".batch.lock").exists()


def test_a_stale_lock_of_a_dead_batch_is_taken_over_with_a_warning(tmp_path):
    root = _root(tmp_path, PAIR[:1])
    out = tmp_path / "out"
    out.mkdir()
    pid = _dead_pid()
    (out / ".batch.lock").write_text(json.dumps({"pid": pid, "host": "somewhere", "started_at": "then"}))
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    (warning,) = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert f"{out}: took over the lock of a batch that is gone (pid {pid} on somewhere" in warning


def test_forget_refuses_while_a_batch_writes_the_output(tmp_path):
    """``matches OUT --forget`` rewrote OUT/matches.csv and the index without the batch lock: a batch running
    on OUT could write its own matches.csv (naming the forgotten candidate) over it, or the two rewrites
    interleave. Now it takes the lock, and refuses with the batch's one line while a batch holds it."""
    from interview_guard.pipeline.batch_output import BatchLock

    root = _root(tmp_path)
    out = tmp_path / "out"
    run_batch(root, out)
    before = (out / "matches.csv").read_bytes()
    with IdentityIndex(out / "identity.sqlite") as ix:
        count = ix.count()
    with BatchLock(out):  # a batch is running on OUT
        r = CliRunner().invoke(main, ["matches", str(out), "--forget", "sample-typing-a"])
        assert r.exit_code == 1, r.output
        assert r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith(f"interview-guard: error: {out}: another batch is writing here (pid {os.getpid()}")
    assert (out / "matches.csv").read_bytes() == before  # nothing was done
    with IdentityIndex(out / "identity.sqlite") as ix:
        assert ix.count() == count
    r = CliRunner().invoke(main, ["matches", str(out), "--forget", "sample-typing-a"])  # the batch is over
    assert r.exit_code == 0 and "1 descriptor(s) of 1 session(s) deleted" in r.stderr, r.output
    assert _matches(out) == [] and not (out / ".batch.lock").exists()


def test_forget_on_the_index_file_refuses_while_a_batch_uses_the_index(tmp_path):
    """``matches INDEX --forget`` (the index file given, not a batch directory) took no lock: a batch using that
    index (``--index INDEX``, any OUT) that had already scanned a session of the candidate stored it after the
    forget, and the candidate's descriptors were back in the index. Now a batch holds the index's lock (shared:
    batches on one index still run side by side) and ``--forget``/``--unforget`` take it exclusively, refusing
    in one line naming the index while a batch uses it."""
    root = tmp_path / "root"
    for name in ("a1", "a2"):  # two recordings of one candidate (a2's log is another file: another input)
        shutil.copytree(SAMPLES / PAIR[0], root / name)
    os.utime(root / "a2" / "keystrokes.jsonl", ns=(10**18, 10**18))
    index = tmp_path / "shared" / "all.sqlite"
    said: list[tuple[int, str]] = []

    def forget_midway(stage, *, detail="", **kwargs):
        if detail == "a1":  # a1 is indexed, a2 is still to be scanned
            r = CliRunner().invoke(main, ["matches", str(index), "--forget", "sample-typing-a"])
            said.append((r.exit_code, r.stderr))

    run_batch(root, tmp_path / "out", index_path=str(index), progress=forget_midway)
    ((code, err),) = said
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"interview-guard: error: {index}: a batch is using this identity index"), err
    with IdentityIndex(index) as ix:  # refused, not lost: both sessions are there, as the batch left them
        assert ix.count() == 2
    r = CliRunner().invoke(main, ["matches", str(index), "--forget", "sample-typing-a"])  # the batch is over
    assert r.exit_code == 0 and "2 descriptor(s) of 2 session(s) deleted" in r.stderr, r.output
    with IdentityIndex(index) as ix:
        assert ix.count() == 0
    r = CliRunner().invoke(main, ["matches", str(index), "--unforget", "sample-typing-a"])
    assert r.exit_code == 0 and "2 forgotten session(s) put back" in r.stderr, r.output
    # a batch directory whose own index another batch uses (its OUT is elsewhere): the same refusal
    own = tmp_path / "own"
    run_batch(root, own)
    index, said[:] = own / "identity.sqlite", []
    run_batch(root, tmp_path / "elsewhere", index_path=str(index), progress=forget_midway)
    ((code, err),) = said
    assert code == 1 and err.startswith(f"interview-guard: error: {index}: a batch is using this identity index")
    assert (own / ".identity.sqlite.lock").is_file() and not (own / ".batch.lock").exists()


# ------------------------------------------------------------------ 3. temp files of a killed run


def test_temp_files_of_a_killed_run_are_removed_and_counted(tmp_path):
    root = _root(tmp_path, PAIR[:1])
    out = tmp_path / "out"
    run_batch(root, out)
    dead = _dead_pid()
    left = [
        out / "sessions" / f".typing_genuine_a.json.{dead}.ab12cd34.tmp",  # the atomic writer's, of a dead pid
        out / f".summary.csv.{dead}.x_9y8z7w.tmp",
        out / ".matches.csv.k3j4h5g6.tmp",  # an older version's name (no pid)
    ]
    mine = out / "sessions" / f".other.json.{os.getpid()}.zzzzzzzz.tmp"  # a live writer's: not touched
    theirs = [out / "notes.tmp", out / "sessions" / ".hidden.json", root / f".x.json.{dead}.ab12cd34.tmp"]
    for p in [*left, mine, *theirs]:
        p.write_text("half")
    notes: list[str] = []
    run_batch(root, out, notify=notes.append)
    assert not any(p.exists() for p in left)
    assert mine.exists() and all(p.exists() for p in theirs)
    assert notes == [f"{out}: removed 3 temporary file(s) left by a killed run"], notes
    r = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "-q"])  # nothing left: nothing said
    assert r.exit_code == 0 and "temporary" not in r.stderr


def test_the_atomic_writer_names_its_temp_files_with_its_pid(tmp_path, monkeypatch):
    from interview_guard import atomic

    seen = []
    real = atomic.os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    atomic.atomic_write_text(tmp_path / "r.json", "x")
    (name,) = seen
    assert name.startswith(f".r.json.{os.getpid()}.") and name.endswith(".tmp")
    assert atomic.is_stale_temp_file(name, alive=lambda pid: False)
    assert not atomic.is_stale_temp_file(name, alive=lambda pid: True)


# ------------------------------------------------------------------ 4. the candidate id in the summary


def test_summary_has_the_candidate_id_as_its_last_column(tmp_path):
    root = _root(tmp_path, PAIR)
    write_jsonl(root / "no_meta" / "keystrokes.jsonl", typing_events(50))
    write_jsonl(root / "formula" / "keystrokes.jsonl", typing_events(50, seed=3))
    (root / "formula" / "session.json").write_text(json.dumps({"candidate_id": "=HYPERLINK(1)"}))
    out = tmp_path / "out"
    run_batch(root, out)
    rows = {r["session"]: r for r in _summary(out)}
    header = next(csv.reader(open(out / "summary.csv", encoding="utf-8")))
    # appended after the ten columns of the first release (spelled out in test_batch): readers by position still work
    assert header[-1] == "candidate_id" and len(header) == 11 and header[:2] == ["rank", "session"]
    assert rows["typing_genuine_a"]["candidate_id"] == "sample-typing-a"
    assert rows["typing_slow_path_a"]["candidate_id"] == "sample-typing-slow-path-a"
    assert rows["no_meta"]["candidate_id"] == "" and rows["formula"]["candidate_id"] == "'=HYPERLINK(1)"
    res = run_batch(root, out)  # the rows of sessions found done carry it too
    assert res.skipped == 4 and {r["session"]: r["candidate_id"] for r in _summary(out)} == {
        s: r["candidate_id"] for s, r in rows.items()
    }


# ------------------------------------------------------------------ 5. a worker that dies names its session


def _gone_or_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _wait_for(cond, limit_s: float = 60.0) -> None:
    """Poll ``cond`` (bounded: a hang would fail the test, not block it); no assertion on the time."""
    import time

    end = time.monotonic() + limit_s
    while not cond() and time.monotonic() < end:
        time.sleep(0.02)


def test_a_dead_worker_fails_only_its_own_session_the_others_end_done(tmp_path, monkeypatch):
    """A worker killed (SIGKILL, a segfault in a native library) broke the whole local pool: every session not
    yet finished was failed as "worker process died", the one scanning beside it and those never started too.
    Now only the session that kills its worker (again, when it runs alone) is failed, naming its path."""
    from interview_guard.pipeline import scan

    root = tmp_path / "root"
    for name in ("a_good", "b_dies", "c_good", "d_good"):
        shutil.copytree(SAMPLES / "typing_genuine_a", root / name)
    marks = tmp_path / "marks"
    marks.mkdir()
    real = scan.scan_session

    def dies_on_b(session, **kw):  # the pool's workers are forked from this process: they run this
        sid = session.session_id
        if sid == "b_dies":  # dies while a_good is being scanned beside it (on the retry alone: at once)
            _wait_for(lambda: (marks / "a_good").exists())
            (marks / "dying").write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        (marks / sid).touch()
        if sid == "a_good":  # still scanning when the other worker is dead
            _wait_for(lambda: (marks / "dying").exists())
            _wait_for(lambda: _gone_or_zombie(int((marks / "dying").read_text())))
            time.sleep(0.5)
        return real(session, **kw)

    monkeypatch.setattr(scan, "scan_session", dies_on_b)
    out = tmp_path / "out"
    lines: list[str] = []
    res = run_batch(root, out, jobs=2, progress=lambda *a, **k: lines.append(k.get("error", "")))
    rows = {r["session"]: r for r in _summary(out)}
    assert {s: r["status"] for s, r in rows.items()} == {
        "a_good": "ok",
        "b_dies": "failed",
        "c_good": "ok",
        "d_good": "ok",
    }
    assert res.failed == 1 and res.scanned == 4
    err = rows["b_dies"]["error"]
    assert err == f"{root / 'b_dies'}: worker process died while scanning this session (crash or out of memory)"
    assert read_report(out / "sessions" / "b_dies.json").error == err
    assert err in lines  # the progress hook's error: the CLI's one stderr line
    monkeypatch.setattr(scan, "scan_session", real)  # (one session left: a re-run scans it in this process)
    res = run_batch(root, out, jobs=2)
    assert (res.skipped, res.scanned, res.failed) == (3, 1, 0)  # the good ones are done; the dead one is retried


def test_a_lost_task_names_its_session_path_once(tmp_path):
    from interview_guard.pipeline import batch
    from interview_guard.pipeline.executors import TaskLost

    d = tmp_path / "s"
    job = batch.ScanJob("s", str(d), "s", None)  # type: ignore[arg-type]
    rp = tmp_path / "out" / "sessions" / "s.json"
    rp.parent.mkdir(parents=True)
    row = batch._lost_row(job, TaskLost(f"{d}: already named"), rp)
    assert row["error"] == f"{d}: already named"
    row = batch._lost_row(job, TaskLost("task lost on the cluster after 3 worker deaths"), rp)
    assert row["error"] == f"{d}: task lost on the cluster after 3 worker deaths"


# ------------------------------------------------------------------ 6. a run on part of an earlier input


def test_a_run_on_a_subtree_keeps_the_earlier_ids(tmp_path):
    """``batch ROOT/grp --out OUT`` after ``batch ROOT --out OUT`` gave the same sessions new ids (``a`` for
    ``grp%2Fa``): they were scanned again, indexed twice, and a session without a candidate id matched itself."""
    root = tmp_path / "root"
    for sub, name in (("grp/a", "typing_genuine_a"), ("grp/b", "typing_genuine_b"), ("top", "typing_relayed_b")):
        shutil.copytree(SAMPLES / name, root / sub)
    (root / "grp" / "a" / "session.json").unlink()  # no candidate id
    out = tmp_path / "out"
    run_batch(root, out)
    before = {p.name for p in (out / "sessions").iterdir()}
    res = run_batch(root / "grp", out)
    assert (res.total, res.scanned, res.skipped) == (2, 0, 2)  # found done under their ids
    assert {p.name for p in (out / "sessions").iterdir()} == before
    rows = _summary(out)
    assert {r["session"]: r["path"] for r in rows} == {"grp%2Fa": "grp/a", "grp%2Fb": "grp/b"}  # this run's
    assert _matches(out) == []
    with IdentityIndex(out / "identity.sqlite") as ix:
        assert set(ix.indexed_sessions()) == {"grp%2Fa", "grp%2Fb", "top"}
    res = run_batch(root / "grp" / "a", out)  # one session given as the root
    assert (res.total, res.skipped) == (1, 1) and [r["session"] for r in _summary(out)] == ["grp%2Fa"]
    assert json.loads((out / "batch.json").read_text())["root"] == str(root)


def test_a_run_on_a_parent_of_the_earlier_root_does_not_index_a_session_twice(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(SAMPLES / "typing_genuine_a", root / "grp" / "a")
    (root / "grp" / "a" / "session.json").unlink()  # no candidate id: it would match itself
    out = tmp_path / "out"
    run_batch(root / "grp", out)
    notes: list[str] = []
    res = run_batch(root, out, notify=notes.append)
    assert res.scanned == 1  # new ids (relative to the new root): scanned again
    with IdentityIndex(out / "identity.sqlite") as ix:
        assert set(ix.indexed_sessions()) == {"grp%2Fa"}
    assert _matches(out) == []
    assert any("was last run on" in n and str(root / "grp") in n for n in notes), notes


def _index_state(index) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(index) as db:
        sessions = db.execute("SELECT session_id, fingerprint, source, added_at FROM sessions ORDER BY 1").fetchall()
        descriptors = db.execute("SELECT session_id, modality, added_at FROM descriptors ORDER BY 1, 2").fetchall()
    return sessions + descriptors


def _nested_roots(tmp_path):
    data = tmp_path / "data"
    team = data / "teamA"
    for sub, name in (("teamA/s1", PAIR[0]), ("teamA/s2", PAIR[1]), ("other", "typing_genuine_b")):
        shutil.copytree(SAMPLES / name, data / sub)
    (team / "s3").mkdir()  # no session.json: no candidate id, so it would match itself under another id
    shutil.copy2(SAMPLES / "typing_genuine_b" / "keystrokes.jsonl", team / "s3" / "keystrokes.jsonl")
    return data, team


@pytest.mark.parametrize("first", ["outer", "inner"])
def test_nested_roots_sharing_an_index_keep_one_entry_per_input(tmp_path, first):
    """``batch /data --index I`` and ``batch /data/teamA --index I``: each run re-scanned the sessions of teamA
    (its ids, ``s1`` / ``teamA%2Fs1``, were not the ones the index held), re-registered them under its own ids and
    dropped the other run's rows (same path), so the next run of the other root did the same, for ever; while a
    run was between its scans and its pruning (or was killed there) the index held each input twice and a session
    without a candidate id matched itself. Now an input (its path, same fingerprint) is one entry, held under the
    id of the outermost root that indexed it; a run of a root inside it finds it done and matches it there."""
    data, team = _nested_roots(tmp_path)
    ix = tmp_path / "ix.sqlite"
    runs = [(data, tmp_path / "r_all"), (team, tmp_path / "r_team")]
    if first == "inner":
        runs.reverse()
    for root, out in runs:
        run_batch(root, out, index_path=str(ix))
    state = _index_state(ix)
    for _ in range(2):  # stable: nothing scanned again, nothing re-added, replaced or dropped
        for root, out in runs:
            res = run_batch(root, out, index_path=str(ix))
            assert res.scanned == 0 and res.skipped == res.total, (root, res)
            assert _index_state(ix) == state
    with IdentityIndex(ix) as index:  # one entry per input, under the outer root's ids
        assert sorted(index.sources()) == ["other", "teamA%2Fs1", "teamA%2Fs2", "teamA%2Fs3"]
        assert len({src for src, _ in index.sources().values()}) == 4
    pairs = {(m["session_a"], m["session_b"]) for m in _matches(ix)}
    assert pairs == {("other", "teamA%2Fs3"), ("teamA%2Fs1", "teamA%2Fs2")}  # no session paired with itself
    for out, ids in (
        (tmp_path / "r_all", ("other", "teamA%2Fs1", "teamA%2Fs2", "teamA%2Fs3")),
        (tmp_path / "r_team", ("other", "s1", "s2", "s3")),
    ):
        with open(out / "matches.csv", newline="", encoding="utf-8") as fh:
            rows = {(r["session_a"], r["session_b"]) for r in csv.DictReader(fh)}
        assert rows == {(ids[0], ids[3]), (ids[1], ids[2])}, out  # each batch's table in its own ids
    seen = read_report(tmp_path / "r_team" / "sessions" / "s1.json").also_seen_as
    assert [s["session"] for s in seen] == ["s2"]


def test_a_run_of_a_nested_root_never_holds_an_input_twice(tmp_path, monkeypatch):
    """Killed after its scans (before its pruning), a run of a root inside an indexed one left each of its
    inputs in the index twice: ``matches`` paired the session without a candidate id with itself."""
    from interview_guard.pipeline import batch

    data, team = _nested_roots(tmp_path)
    ix = tmp_path / "ix.sqlite"
    run_batch(data, tmp_path / "r_all", index_path=str(ix))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "prune_gone", killed)
    with pytest.raises(KeyboardInterrupt):
        run_batch(team, tmp_path / "r_team", index_path=str(ix))
    pairs = {(m["session_a"], m["session_b"]) for m in _matches(ix)}
    assert pairs == {("other", "teamA%2Fs3"), ("teamA%2Fs1", "teamA%2Fs2")}


@pytest.mark.parametrize("first", ["outer", "inner"])
def test_a_nested_roots_session_is_not_confused_with_an_outer_session_of_its_id(tmp_path, first):
    """``/data/s1`` (id ``s1`` in a batch of /data) and ``/data/teamA/s1`` (id ``s1`` in a batch of /data/teamA,
    its entry ``teamA%2Fs1``): the inner batch named the entry by its own id ``s1`` and left the outer entry ``s1``
    as it was, so a match of /data/s1 read as a match of its own, unrelated s1: its report said "also seen as" a
    candidate it never matched, and matches.csv paired ``s1`` with the other candidate's session. Now an entry of
    another input under one of the batch's ids is named by its path from the batch's root (``..%2Fs1``)."""
    data = tmp_path / "data"
    for sub, name in (("s1", PAIR[1]), ("teamA/s1", "typing_genuine_b"), ("teamA/s2", PAIR[0])):
        shutil.copytree(SAMPLES / name, data / sub)
    ix = tmp_path / "ix.sqlite"
    runs = [(data, tmp_path / "r_all"), (data / "teamA", tmp_path / "r_team")]
    if first == "inner":
        runs.reverse()
    for _ in range(2):
        for root, out in runs:
            run_batch(root, out, index_path=str(ix))
    team = tmp_path / "r_team"
    assert not read_report(team / "sessions" / "s1.json").also_seen_as  # typing_genuine_b matches nobody
    seen = read_report(team / "sessions" / "s2.json").also_seen_as
    assert [(s["session"], s["candidate_id"]) for s in seen] == [("..%2Fs1", "sample-typing-slow-path-a")]
    with open(team / "matches.csv", newline="", encoding="utf-8") as fh:
        rows = [(r["session_a"], r["session_b"], r["candidate_a"]) for r in csv.DictReader(fh)]
    assert rows == [("..%2Fs1", "s2", "sample-typing-slow-path-a")], rows
    with open(tmp_path / "r_all" / "matches.csv", newline="", encoding="utf-8") as fh:  # the outer batch: unchanged
        assert [(r["session_a"], r["session_b"]) for r in csv.DictReader(fh)] == [("s1", "teamA%2Fs2")]


# ------------------------------------------------------------------ 7. a forgotten input stays forgotten


def _indexed_candidates(index) -> set[str]:
    with IdentityIndex(index) as ix:
        return {c for ch in (ix.chunks(m) for m in ix.modalities()) for c in (x for k in ch for x in k.candidate_id)}


def test_a_forgotten_input_is_not_indexed_again_under_another_id_until_unforgotten(tmp_path):
    """``matches --forget`` promised the candidate's sessions would not be put back, but the same input scanned
    again under another session id (a batch on the parent folder) or after its report was deleted was indexed
    again, and matched again. Now the forgotten mark holds for that input (same files: same fingerprint) under
    any id, until ``--unforget``."""
    root = _root(tmp_path, PAIR, name="root/grp")
    top = tmp_path / "root"
    out = tmp_path / "out"
    assert run_batch(root, out).matches == 1
    r = CliRunner().invoke(main, ["matches", str(out), "--forget", "sample-typing-a"])
    assert r.exit_code == 0, r.output
    notes: list[str] = []
    res = run_batch(top, out, notify=notes.append)  # new ids: grp%2F...
    assert res.scanned == 2 and res.failed == 0 and res.matches == 0
    assert _indexed_candidates(out / "identity.sqlite") == {"sample-typing-slow-path-a"}
    assert _matches(out) == []
    new_id = "grp%2Ftyping_genuine_a"
    assert read_report(out / "sessions" / f"{new_id}.json").status == "ok"  # scanned and reported, not indexed
    assert not read_report(out / "sessions" / "grp%2Ftyping_slow_path_a.json").also_seen_as
    with IdentityIndex(out / "identity.sqlite") as ix:
        assert ix.indexed_sessions()[new_id][1] is True  # listed forgotten: a re-run does not scan it again
    assert any("1 session(s) of this batch not indexed" in n and "--unforget" in n for n in notes), notes
    assert run_batch(top, out).skipped == 2
    (out / "sessions" / f"{new_id}.json").unlink()  # its report deleted: scanned again, still not indexed
    assert run_batch(top, out).scanned == 1
    assert _indexed_candidates(out / "identity.sqlite") == {"sample-typing-slow-path-a"}
    r = CliRunner().invoke(main, ["matches", str(out), "--unforget", "sample-typing-a"])
    assert r.exit_code == 0 and r.stderr.count("\n") == 1, r.output
    assert "candidate 'sample-typing-a': 2 forgotten session(s) put back" in r.stderr
    res = run_batch(top, out)  # the user's explicit choice: scanned and indexed again
    assert res.scanned == 1 and res.matches == 1
    assert _indexed_candidates(out / "identity.sqlite") == {"sample-typing-a", "sample-typing-slow-path-a"}


def test_unforget_of_an_id_never_forgotten_or_never_held(tmp_path):
    root = _root(tmp_path, PAIR[:1])
    out = tmp_path / "out"
    run_batch(root, out)
    r = CliRunner().invoke(main, ["matches", str(out), "--unforget", "sample-typing-a"])
    assert r.exit_code == 0 and "candidate 'sample-typing-a' is not forgotten" in r.stderr, r.output
    r = CliRunner().invoke(main, ["matches", str(out), "--unforget", "sample-typing-b"])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1, r.output
    assert "no session of candidate 'sample-typing-b' in the index: nothing put back" in r.stderr
    r = CliRunner().invoke(main, ["matches", str(out), "--forget", "x", "--unforget", "y"])
    assert r.exit_code != 0 and "--forget and --unforget" in r.output
