"""Batch scanning: every session under a root, in parallel, resumable.

Layout of the output directory::

    OUT/
      sessions/<session_id>.json   one report per session (failed ones too)
      summary.csv                  rank, session, path, risk_score, band, status, error, duration_s,
                                   modalities, report, candidate_id (pipeline/batch_summary.py);
                                   ranked by risk, rewritten as results arrive
      sessions/<session_id>.html   with html=True: one self-contained page per session
      index.html                   with html=True: the sessions ranked, linking their pages
      identity.sqlite              the identity index: each session's face and typing descriptors
                                   (``index_path`` puts it elsewhere, e.g. one index for many batches)
      matches.csv                  pairs of sessions under different candidate ids that match
      batch.json                   the root the session ids are relative to (a run on a directory
                                   inside it keeps those ids: pipeline/batch_output.py)
      .batch.lock                  held while a batch runs: a second batch on OUT refuses
      .identity.sqlite.lock        beside the index, held shared while a batch uses it: matches --forget
                                   and --unforget (which hold it exclusively) refuse meanwhile

Workers scan; the driver (the process that called :func:`run_batch`) writes.
A worker returns its session's report as JSON, its page (``html=True``, key
frames embedded) and its identity descriptors; the driver stores the
descriptors in the index (one transaction, an idempotent upsert), then writes
the report atomically, then the page. So a killed run leaves only whole files,
a session with a report is in the index, and the workers need not see the
output directory: they run in this process (``jobs=1``), in a local process
pool (``jobs=N``) or on a Dask cluster (``scheduler="tcp://HOST:PORT"``, see
:mod:`interview_guard.pipeline.executors` and ``docs/cluster.md``), with the
same outputs. A re-run skips every session whose report is present, readable,
``ok``, indexed and made from the same input files (same fingerprint), and
scans the rest; a finished session the index lacks (a batch run before the
index existed, another index) is scanned again. At the end any page missing
or older than its report is rendered from the report, and ``index.html`` is
rewritten. A session that fails (bad file) gets a ``failed`` report and the
rest carries on; a local worker process that dies (segfault, out of memory)
takes only its own session, which is run once more at the end, alone, and
fails if its worker dies again (the others run on); on a cluster, the sessions
the worker held fail after the scheduler's retries on other workers; each such
error starts with the session's path ("PATH: worker process died ...").
At the end, the batch's sessions are matched against the whole index:
``matches.csv``, and each report whose "also seen as" changed is rewritten (:mod:`interview_guard.pipeline.matching`).

The session id is :func:`interview_guard.io.session.session_id_for` of the
session's path relative to the root: unique by construction (``grp/x`` is
``grp%2Fx``, ``grp__x`` stays ``grp__x``) and the same on every run, so a
re-run finds its reports. The relative path is in the summary's ``path``
column and in the report (``session.relative_path``). Whatever discovery
cannot read (a directory without permission, a broken link) gets a failed
report naming the path and a summary row, like a session that fails.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InputError, InterviewGuardError
from interview_guard.io.session import (
    FoundSession,
    Session,
    as_input_error,
    find_sessions,
    input_error_from_os_error,
)
from interview_guard.pipeline.batch_html import html_path as _html_path
from interview_guard.pipeline.batch_html import render_page as _render_page
from interview_guard.pipeline.batch_html import write_batch_html
from interview_guard.pipeline.batch_output import TMP_DIR, BatchLock, IndexLock, ids_base, remove_stale_files
from interview_guard.pipeline.batch_summary import SUMMARY_COLUMNS, row_of, summary_rows, write_summary
from interview_guard.pipeline.executors import Executor, TaskLost, make_executor, one_blas_thread, worker_scratch_dir
from interview_guard.pipeline.matching import INDEX_NAME, MATCHES_NAME, index_session, prune_gone, unindex_session
from interview_guard.progress import ProgressHook, Stage
from interview_guard.report.keyframes import forget_key_frame_files
from interview_guard.report.model import Report, read_report

if TYPE_CHECKING:
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.matching import SessionDescriptors

__all__ = ["BatchResult", "run_batch", "summary_rows", "write_batch_html", "SUMMARY_COLUMNS"]


@dataclass
class BatchResult:
    total: int
    scanned: int
    skipped: int
    failed: int
    summary_path: Path
    index_path: Path | None = None
    unreadable: int = 0  # entries discovery could not read (counted in ``failed`` too)
    identity_index: Path | None = None  # the identity index the sessions went into
    matches_path: Path | None = None  # OUT/matches.csv
    matches: int = 0  # pairs in it
    pruned: int = 0  # sessions dropped from the identity index: their input is gone (matching.prune_gone)


def _report_path(out_dir: Path, session_id: str) -> Path:
    return out_dir / "sessions" / f"{session_id}.json"


def _write_report(report: Report, report_path) -> None:
    report.write(report_path)  # UTF-8 safe: a file name that is not UTF-8 is written as JSON escapes


def _frames_tmp(scratch_dir: str | None) -> tempfile.TemporaryDirectory[str]:
    """A scratch directory for one session's key frames: in the output's own ``.tmp`` (never in /tmp) for
    local workers, in the Dask worker's local directory on a cluster (the output is not there)."""
    if scratch_dir is not None:
        Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"frames-{os.getpid()}-", dir=scratch_dir)


def _refuse_case_collisions(sessions: list[FoundSession], reports_dir: Path) -> None:
    """Ids are unique, but two that differ only in case name one file where names ignore case
    (macOS, Windows shares): refuse such an output directory rather than overwrite a report."""
    seen: dict[str, str] = {}
    for f in sessions:
        other = seen.setdefault(f.session_id.casefold(), f.session_id)
        if other == f.session_id:
            continue
        fd, probe = tempfile.mkstemp(prefix=".case-probe-", suffix="-aB", dir=reports_dir)
        os.close(fd)
        try:
            insensitive = os.path.exists(os.path.join(reports_dir, os.path.basename(probe).swapcase()))
        finally:
            os.unlink(probe)
        if insensitive:
            raise InterviewGuardError(
                f"{reports_dir}: sessions {other!r} and {f.session_id!r} differ only in case and this file system "
                "ignores case in names; write the batch to a directory on a case-sensitive file system"
            )
        return


@dataclass(frozen=True)
class ScanJob:
    """One session to scan, as sent to a worker (a local process or a Dask worker on another machine)."""

    session_id: str
    path: str  # the same path on every machine (docs/cluster.md)
    relative_path: str
    fusion: FusionModel  # loaded once by the driver: workers need not see the parameter file
    cache_dir: str | None = None
    html: bool = False
    scratch_dir: str | None = None  # key frames while the page is rendered (None: the worker's own)


@dataclass
class ScanOutcome:
    """What a worker sends back: the driver writes every file (reports, pages, the index)."""

    report_json: str
    page: str | None = None
    descriptors: SessionDescriptors | None = None  # for the identity index (scans that succeeded)
    fingerprint: str | None = None
    source: str | None = None  # set by the driver: the session's absolute path, and the batch's root
    root: str | None = None


def scan_task(job: ScanJob) -> ScanOutcome:
    """Worker: scan one session into a report (and its page); writes nothing but scratch; never raises for bad input."""
    from interview_guard.pipeline.scan import failed_report, scan_session

    worker_dir = worker_scratch_dir()  # None unless this runs as a Dask task
    if worker_dir is not None:  # a Dask worker is not the CLI's child: it gets one BLAS thread here
        one_blas_thread()
    fingerprint = None
    page = None
    found: list[SessionDescriptors] = []
    with _frames_tmp(job.scratch_dir or worker_dir) if job.html else contextlib.nullcontext() as frames_dir:
        try:
            session = Session.open(job.path, session_id=job.session_id)
            fingerprint = session.fingerprint()
            report = scan_session(
                session, fusion=job.fusion, cache_dir=job.cache_dir, frames_dir=frames_dir, descriptors=found.append
            )
        except Exception as exc:  # a bad input fails its session; so does a bug, but it must not stop the batch
            known = as_input_error(exc)  # the same mapping as the CLI's
            error = known if known is not None else f"internal error: {exc.__class__.__name__}: {exc}"
            report = failed_report(job.session_id, job.path, error, fingerprint=fingerprint)
            found = []
        report.session.extra["relative_path"] = job.relative_path
        if job.html:
            page = _render_page(report)  # while the key frames are in frames_dir
            for result in report.analyzers.values():  # their paths die with frames_dir: keep them out of the JSON
                for ev in result.evidence:
                    forget_key_frame_files(ev.details)  # the roles stay, the paths go
    return ScanOutcome(report.to_json(), page, found[0] if found else None, fingerprint)


def _commit(outcome: ScanOutcome, report_path, relative_path: str, index_path: str | None) -> dict:
    """Driver: the session's descriptors into the index, then its report (atomically), then its page."""
    report = Report.from_json(outcome.report_json)
    fp, source, root = outcome.fingerprint, outcome.source, outcome.root  # one entry per input in the index
    if index_path is not None and outcome.descriptors is not None:  # before the report: reported means indexed
        index_session(index_path, outcome.descriptors, fp, source=source, root=root)
    elif index_path is not None and report.status != "ok":
        unindex_session(index_path, report.session_id, source=source, fingerprint=fp, root=root)
    atomic_write_text(report_path, outcome.report_json)
    if outcome.page is not None:  # after the report: a page at least as new as its report is up to date
        atomic_write_text(_html_path(report_path), outcome.page)
    return row_of(report, report_path, relative_path)


def _lost_row(
    job: ScanJob,
    lost: TaskLost,
    report_path,
    index_path: str | None = None,
    *,
    from_worker: bool = True,
    root: str | None = None,
) -> dict:
    """Driver: the failed report of a session whose worker died (or whose task raised, or whose results could
    not be stored: ``from_worker=False``, the error names what failed).

    The executor's reason ("worker process died ...") names no session: the error starts with the session's
    path, as every other failure's does, so the summary cell and the stderr line say which file or directory.
    """
    from interview_guard.pipeline.scan import failed_report

    if index_path is not None:  # its id's row, unless another input's (root: the batch's)
        with contextlib.suppress(InterviewGuardError):  # the index may be what failed: the report still goes
            unindex_session(index_path, job.session_id, source=os.path.abspath(job.path), root=root, others=False)
    reason = lost.reason
    if from_worker and not reason.startswith(f"{job.path}: "):
        reason = f"{job.path}: {reason}"
    rep = failed_report(job.session_id, job.path, reason)
    rep.session.extra["relative_path"] = job.relative_path
    _write_report(rep, report_path)
    return row_of(rep, report_path, job.relative_path)


def _scan_one(
    session_id: str,
    path: str,
    report_path: str,
    fusion_path: str | None,
    cache_dir: str | None = None,
    html: bool = False,
    relative_path: str = "",
    index_path: str | None = None,
) -> dict:
    """Scan one session here and write its report: :func:`scan_task` and the driver's commit in one call."""
    from interview_guard.fusion.model import FusionModel

    scratch = str(Path(report_path).parent.parent / TMP_DIR)
    job = ScanJob(session_id, path, relative_path, FusionModel.load(fusion_path), cache_dir, html, scratch)
    return _commit(scan_task(job), report_path, relative_path, index_path)


@contextlib.contextmanager
def _index_read(index_path: Path) -> Iterator[None]:
    """The index's reads in the block: a damaged file (its header and tables open, a page read later does not: a disk
    error, a copy cut short) is one line naming it, as for ``matches``, not an internal error naming no file."""
    import sqlite3

    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise InputError(f"not a readable identity index ({exc})", path=index_path) from None


def _match_batch(
    index_path: Path, out: Path, rows: dict[str, dict], paths: dict[str, str], root: str | None = None
) -> int:
    """``matches.csv`` of the batch's sessions against the whole index; "also seen as" into changed reports.

    A session whose input the index holds under another root's id (``paths``: id -> absolute path) is matched
    there, and named by this batch's id in its outputs. An entry of another input whose index id is one of this
    batch's ids (``/data/s1`` as ``s1``, seen from a batch of ``/data/teamA`` with a session ``s1`` of its own) is
    named by its path from ``root`` (``..%2Fs1``), so it is not read as that session."""
    from interview_guard.pipeline.matching import also_seen_as, batch_matches, write_matches_csv

    ok = sorted(sid for sid, r in rows.items() if r["status"] == "ok")
    matches = batch_matches(index_path, ok, set(rows), paths, root)
    write_matches_csv(out / MATCHES_NAME, matches)
    for sid in ok:
        rp = Path(rows[sid]["report"])
        try:
            report = read_report(rp)
        except InterviewGuardError:
            continue
        seen = also_seen_as(matches, sid)
        if (report.also_seen_as or []) != seen:
            report.also_seen_as = seen
            _write_report(report, rp)
    return len(matches)


def _unreadable_row(found: FoundSession, report_path: Path, index_path: Path, root: str) -> dict:
    """Write the failed report of something discovery could not read (its descriptors dropped, unless its id's
    entry is another input's: ``root`` is the batch's), and its row."""
    from interview_guard.pipeline.scan import failed_report

    unindex_session(str(index_path), found.session_id, source=os.path.abspath(found.path), root=root, others=False)
    report = failed_report(found.session_id, found.path, f"{found.path}: {found.problem}")
    report.session.extra["relative_path"] = found.relative_path
    _write_report(report, report_path)
    return row_of(report, report_path, found.relative_path)


def _done_row(
    session_id: str,
    path: Path,
    report_path: Path,
    retry_failed: bool,
    relative_path: str,
    indexed: dict,
    fusion,
    held: dict | None = None,
) -> dict | None:
    """The summary row of a finished session, or None when it must be (re)scanned (also: ok but not indexed,
    neither under its id nor, ``held``: source -> (id, fingerprint), under another root's id for its path)."""
    from interview_guard.pipeline.scan import fuse_again

    if not report_path.is_file():
        return None
    try:
        report = read_report(report_path)
    except InterviewGuardError:
        return None
    if report.status != "ok" and retry_failed:
        return None
    try:
        fp = Session.open(path, session_id=session_id).fingerprint()
    except InterviewGuardError:
        fp = None
    if report.session.fingerprint != fp or report.session_id != session_id:
        return None
    entry = (held or {}).get(os.path.abspath(path), (None, None))
    if report.status == "ok" and indexed.get(session_id, (None, False))[0] != fp and (fp is None or entry[1] != fp):
        return None
    if fuse_again(report, fusion):  # the risk of the scan it has, under the parameters asked for now
        _write_report(report, report_path)
    return row_of(report, report_path, relative_path)


def run_batch(
    root,
    out_dir,
    *,
    jobs: int = 1,
    fusion_path: str | None = None,
    retry_failed: bool = True,
    progress: ProgressHook | None = None,
    summary_every_s: float = 5.0,
    cache_dir: str | None = None,
    html: bool = False,
    index_path: str | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    notify: Callable[[str], None] | None = None,
) -> BatchResult:
    """Scan every session under ``root`` into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    root : path
        A directory of sessions (or a single session).
    out_dir : path
    jobs : int
        Worker processes (1 = in this process, no pool); ignored with ``scheduler`` or ``executor``.
    fusion_path : str, optional
        Fusion parameter file (default ``models/fusion.json``).
    retry_failed : bool
        Re-scan sessions whose earlier report says ``failed``.
    cache_dir : str, optional
        Video-track cache shared by the workers (default ``$INTERVIEW_GUARD_CACHE``).
    progress : callable, optional
        ``progress(Stage.SESSION, completed=, total=, detail=session_id, status=, error=)`` after each session
        (``error``: a failed session's one-line error naming the file, else empty).
    html : bool
        Also write ``sessions/<id>.html`` per session and ``index.html`` (see
        :func:`write_batch_html`).
    index_path : path, optional
        The identity index (default ``OUT/identity.sqlite``); a long-lived
        index shared by many batches matches each new batch against all.
    scheduler : str, optional
        A Dask scheduler (``tcp://HOST:PORT``): scan on that cluster instead of local processes
        (``docs/cluster.md``). Connected to only when some session needs scanning.
    executor : Executor, optional
        Run the scans on this executor (:mod:`interview_guard.pipeline.executors`), which the caller made
        and closes (e.g. one cluster connection for several batches).
    notify : callable, optional
        ``notify(line)`` for what the caller should say (the CLI prints it on stderr): a lock of a batch that
        is gone taken over, temporary files of a killed run removed.

    Raises
    ------
    InterviewGuardError
        No sessions, an output directory that cannot be written or that another batch is writing to
        (``OUT/.batch.lock``: :class:`~interview_guard.pipeline.batch_output.BatchLock`), a bad index (or one whose
        lock cannot be taken: :class:`~interview_guard.pipeline.batch_output.IndexLock`); the
        scheduler cannot be reached or is lost mid-run (the summary then lists what finished; a re-run does the rest).
    """
    out = Path(out_dir)
    listed_at = time.time()  # a session stored (by another batch) since is not judged gone by this listing
    sessions = find_sessions(root, exclude=[out])  # an output directory under root is not input
    if not sessions:
        raise InterviewGuardError(
            f"{root}: no sessions found (directories with video.*, audio.* or keystrokes.*, or media files)"
        )
    try:
        (out / "sessions").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise input_error_from_os_error(exc, "cannot create the output directory", path=out) from None
    idx = Path(index_path) if index_path is not None else out / INDEX_NAME
    with BatchLock(out, notify=notify), IndexLock(idx):  # one batch at a time writes OUT; no --forget meanwhile
        try:  # before any scan: reports that cannot be written would be lost work
            for d in (out, out / "sessions"):
                fd, probe = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=d)
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise input_error_from_os_error(exc, "cannot write in the output directory", path=d) from None
        base, sessions = ids_base(out, root, sessions, notify)  # a subtree of an earlier root keeps its ids
        _refuse_case_collisions(sessions, out / "sessions")
        stale = remove_stale_files(out)  # under the lock: no other batch writes here
        if stale and notify is not None:
            notify(f"{out}: removed {stale} temporary file(s) left by a killed run")
        from interview_guard.fusion.model import FusionModel
        from interview_guard.io.identity_index import IdentityIndex

        fusion = FusionModel.load(fusion_path)  # once, here: the workers get the parameters, not the file
        with IdentityIndex(idx) as ix, _index_read(idx):  # made (or checked) before any scan: one error up front
            indexed, held = ix.indexed_sessions(), ix.held()
        summary_path = out / "summary.csv"
        rows: dict[str, dict] = {}
        todo = []
        unreadable: list[dict] = []  # their progress lines come with the scans' (each a failure naming the path)
        for found in sessions:
            sid, path = found.session_id, found.path
            rp = _report_path(out, sid)
            if found.problem is not None:  # recorded now, and again on every run until it can be read
                unreadable.append(_unreadable_row(found, rp, idx, base))
                continue
            row = _done_row(sid, path, rp, retry_failed, found.relative_path, indexed, fusion, held)
            if row is None:
                todo.append((sid, path, rp, found.relative_path))
            else:
                rows[sid] = row
        skipped = len(rows)
        total = len(sessions)
        completed = skipped
        if progress and skipped:
            progress(Stage.SESSION, completed=completed, total=total, detail="(already done)", status="skipped")
        last_summary = time.monotonic()

        def record(row: dict) -> None:
            nonlocal completed, last_summary
            rows[row["session"]] = row
            completed += 1
            if progress:
                info = {"detail": row["session"], "status": row["status"], "error": row["error"]}
                progress(Stage.SESSION, completed=completed, total=total, **info)
            if time.monotonic() - last_summary >= summary_every_s:
                write_summary(summary_path, list(rows.values()))
                last_summary = time.monotonic()

        try:
            for row in unreadable:
                record(row)
            if todo:
                scans = {
                    sid: (ScanJob(sid, str(p), rel, fusion, cache_dir, html, str(out / TMP_DIR)), rp)
                    for sid, p, rp, rel in todo
                }
                _run_jobs(scans, executor, jobs, scheduler, record, str(idx), base)
        finally:
            # whatever happened (Ctrl-C, the cluster gone), the summary lists what is done
            write_summary(summary_path, list(rows.values()))
        paths = {f.session_id: os.path.abspath(f.path) for f in sessions if f.problem is None}
        with _index_read(idx):  # a damaged index (a page that does not read): one line naming it
            pruned, notes = prune_gone(  # before matching: a session whose input is gone matches no more
                idx,
                root=base,
                scanned=os.path.abspath(root),
                found=paths,
                unreadable=[os.path.abspath(f.path) for f in sessions if f.problem is not None],
                listed_at=listed_at,
            )
            with IdentityIndex(idx) as ix:  # scanned now, withheld from the index: a forgotten input (ix.forget)
                now_indexed = ix.indexed_sessions()
            kept_out = sum(
                1 for sid, *_ in todo if now_indexed.get(sid, (None, False))[1] and rows[sid]["status"] == "ok"
            )
            if kept_out:
                notes.append(
                    f"{idx}: {kept_out} session(s) of this batch not indexed: their input was forgotten "
                    "(matches --forget); matches OUT --unforget CANDIDATE_ID puts a candidate back"
                )
            for note in notes:
                if notify is not None:
                    notify(note)
            n_matches = _match_batch(idx, out, rows, paths, base)
        html_index = write_batch_html(out, summary_rows(list(rows.values()))) if html else None
        failed = sum(1 for r in rows.values() if r["status"] != "ok")
        tmp = out / TMP_DIR
        if tmp.is_dir() and not any(tmp.iterdir()):
            tmp.rmdir()
        return BatchResult(
            total=total,
            scanned=len(todo),
            skipped=skipped,
            failed=failed,
            summary_path=summary_path,
            index_path=html_index,
            identity_index=idx,
            matches_path=out / MATCHES_NAME,
            matches=n_matches,
            unreadable=len(unreadable),
            pruned=len(pruned),
        )


def _run_jobs(
    jobs_by_id: dict[str, tuple[ScanJob, Path]],
    executor: Executor | None,
    jobs: int,
    scheduler: str | None,
    record,
    index_path: str,
    root: str | None = None,
) -> None:
    """Run the scans on the executor; commit each outcome here, in the driver, as it arrives."""
    own = executor is None
    ex = executor if executor is not None else make_executor(jobs=jobs, scheduler=scheduler, tasks=len(jobs_by_id))
    try:
        # a cluster's workers need not see OUT: their key frames go to their own scratch directories
        tasks = [(sid, (job if ex.local else replace(job, scratch_dir=None),)) for sid, (job, _) in jobs_by_id.items()]
        for sid, outcome in ex.run(scan_task, tasks):
            job, rp = jobs_by_id[sid]
            if not isinstance(outcome, TaskLost):
                try:  # a session whose results cannot be stored fails alone, like a scan that raises
                    outcome = replace(outcome, source=os.path.abspath(job.path), root=root)
                    record(_commit(outcome, rp, job.relative_path, index_path))
                    continue
                except Exception as exc:
                    known = as_input_error(exc)
                    why = str(known) if known else f"internal error: {exc.__class__.__name__}: {exc}"
                    record(_lost_row(job, TaskLost(why), rp, index_path, from_worker=False, root=root))
                    continue
            record(_lost_row(job, outcome, rp, index_path, root=root))
    finally:
        if own:
            ex.close()
