"""Batch scanning: every session under a root, in parallel, resumable.

Layout of the output directory::

    OUT/
      sessions/<session_id>.json   one report per session (failed ones too)
      summary.csv                  session, path, risk_score, band, status, error, ...
                                   ranked by risk, rewritten as results arrive
      sessions/<session_id>.html   with html=True: one self-contained page per session
      index.html                   with html=True: the sessions ranked, linking their pages
      identity.sqlite              the identity index: each session's face and typing descriptors
                                   (``index_path`` puts it elsewhere, e.g. one index for many batches)
      matches.csv                  pairs of sessions under different candidate ids that match

Each report is written atomically by the worker that produced it, so a
killed run leaves only whole files; a re-run skips every session whose report
is present, readable, ``ok`` and made from the same input files (same
fingerprint), and scans the rest. With ``html=True`` each worker renders its
session's page (key frames embedded) right after the report; at the end any
page missing or older than its report is rendered from the report, and
``index.html`` is rewritten. A session that fails (bad file) gets a
``failed`` report and the rest carries on; a worker process that dies
(segfault, out of memory) fails only the session it held.

Each worker stores its session's identity descriptors in the index (one
transaction, an idempotent upsert) *before* writing the report, so a session
with a report is in the index; a finished session the index lacks (a batch
run before the index existed, another index) is scanned again. At the end,
the batch's sessions are matched against the whole index: ``matches.csv``, and
each report whose "also seen as" changed is rewritten
(:mod:`interview_guard.pipeline.matching`).

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
import csv
import io
import os
import shutil
import tempfile
import time
import urllib.parse
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InterviewGuardError
from interview_guard.io.session import (
    FoundSession,
    Session,
    as_input_error,
    find_sessions,
    input_error_from_os_error,
)
from interview_guard.progress import ProgressHook, Stage
from interview_guard.report.keyframes import forget_key_frame_files
from interview_guard.report.model import Report, read_report

__all__ = ["BatchResult", "run_batch", "summary_rows", "write_batch_html", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = (
    "rank",
    "session",
    "path",
    "risk_score",
    "band",
    "status",
    "error",
    "duration_s",
    "modalities",
    "report",
)


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


def _report_path(out_dir: Path, session_id: str) -> Path:
    return out_dir / "sessions" / f"{session_id}.json"


def text_safe(text: str) -> str:
    """``text`` writable as UTF-8: a byte of a file name that is not UTF-8 shows as U+FFFD (pages, text)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _write_report(report: Report, report_path) -> None:
    report.write(report_path)  # UTF-8 safe: a file name that is not UTF-8 is written as JSON escapes


def _html_path(report_path) -> Path:
    return Path(report_path).with_suffix(".html")


_TMP_DIR = ".tmp"  # OUT/.tmp: the batch's scratch space (key frames while a page is rendered)


def _frames_tmp(report_path: str) -> tempfile.TemporaryDirectory[str]:
    """A scratch directory for one session's key frames, in the output's own ``.tmp`` (never in /tmp)."""
    tmp = Path(report_path).parent.parent / _TMP_DIR
    tmp.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"frames-{os.getpid()}-", dir=tmp)


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


def _clean_stale_tmp(out: Path) -> None:
    """Remove scratch directories left by killed runs (their process is gone)."""
    tmp = out / _TMP_DIR
    if not tmp.is_dir():
        return
    for d in tmp.iterdir():
        pid = d.name.split("-")[1] if d.name.startswith("frames-") and d.name.count("-") >= 2 else ""
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


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
    """Worker: scan one session, index its descriptors, write its report (and page); never raises for bad input."""
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.matching import SessionDescriptors
    from interview_guard.pipeline.scan import failed_report, scan_session

    fingerprint = None
    page = None
    found: list[SessionDescriptors] = []
    with _frames_tmp(report_path) if html else contextlib.nullcontext() as frames_dir:
        try:
            session = Session.open(path, session_id=session_id)
            fingerprint = session.fingerprint()
            report = scan_session(
                session,
                fusion=FusionModel.load(fusion_path),
                cache_dir=cache_dir,
                frames_dir=frames_dir,
                descriptors=found.append,
            )
            if index_path is not None and found:  # before the report: a session with a report is indexed
                _index_session(index_path, found[0], fingerprint)
        except Exception as exc:  # a bad input fails its session; so does a bug, but it must not stop the batch
            known = as_input_error(exc)  # the same mapping as the CLI's
            error = known if known is not None else f"internal error: {exc.__class__.__name__}: {exc}"
            report = failed_report(session_id, path, error, fingerprint=fingerprint)
        report.session.extra["relative_path"] = relative_path
        if html:
            page = _render_page(report)  # while the key frames are in frames_dir
            for result in report.analyzers.values():  # their paths die with frames_dir: keep them out of the JSON
                for ev in result.evidence:
                    forget_key_frame_files(ev.details)  # the roles stay, the paths go
    _write_report(report, report_path)
    if page is not None:  # after the report: a page at least as new as its report is up to date
        atomic_write_text(_html_path(report_path), page)
    return _row(report, report_path, relative_path)


def _index_session(index_path: str, found, fingerprint: str | None) -> None:
    from interview_guard.io.identity_index import IdentityIndex

    with IdentityIndex(index_path) as ix:
        ix.upsert_session(
            found.session_id, candidate_id=found.candidate_id, fingerprint=fingerprint, descriptors=found.descriptors
        )


def _match_batch(index_path: Path, out: Path, rows: dict[str, dict]) -> int:
    """``matches.csv`` of the batch's sessions against the whole index; "also seen as" into changed reports."""
    from interview_guard.io.identity_index import IdentityIndex
    from interview_guard.pipeline.matching import MATCHES_NAME, also_seen_as, find_matches, write_matches_csv

    ok = sorted(sid for sid, r in rows.items() if r["status"] == "ok")
    with IdentityIndex(index_path) as ix:
        matches = find_matches(ix, session_ids=ok)
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


def _unreadable_row(found: FoundSession, report_path: Path) -> dict:
    """Write the failed report of something discovery could not read, and return its row."""
    from interview_guard.pipeline.scan import failed_report

    report = failed_report(found.session_id, found.path, f"{found.path}: {found.problem}")
    report.session.extra["relative_path"] = found.relative_path
    _write_report(report, report_path)
    return _row(report, report_path, found.relative_path)


def _render_page(report) -> str | None:
    """The report's HTML page, or None when rendering fails (the final pass retries from the JSON)."""
    from interview_guard.pipeline.keyframes import load_key_frames
    from interview_guard.report.html import render_report

    try:
        return text_safe(render_report(report, key_frames=load_key_frames(report)))
    except Exception:  # a page is a view of the report: never fail the session over it
        return None


def write_batch_html(out_dir, rows: list[dict]) -> Path:
    """Render each finished session's page where missing or older than its report, then ``index.html``.

    ``rows`` are summary rows (their ``report`` column locates each JSON
    report; the page goes beside it). Key frames of pages rendered here are
    decoded from the session's video when it is still where the report says.
    """
    from interview_guard.report.html import IndexEntry, write_index_html

    out = Path(out_dir)
    entries = []
    for row in rows:
        rp = Path(row["report"])
        try:
            report = read_report(rp)
        except InterviewGuardError:
            continue
        hp = _html_path(rp)
        try:
            fresh = hp.is_file() and hp.stat().st_mtime_ns >= rp.stat().st_mtime_ns
        except OSError:
            fresh = False
        if not fresh:
            page = _render_page(report)
            if page is not None:
                atomic_write_text(hp, page)
            fresh = page is not None
        href = None
        if fresh:
            try:
                rel = hp.resolve().relative_to(out.resolve())
                href = "/".join(urllib.parse.quote(part) for part in rel.parts)
            except ValueError:
                href = hp.resolve().as_uri()
        entries.append(IndexEntry(report, href))
    return write_index_html(out / "index.html", entries)


def _row(report: Report, report_path, relative_path: str | None = None) -> dict:
    mods = report.session.modalities or {}
    if relative_path is None:
        relative_path = str(report.session.extra.get("relative_path") or "")
    return {
        "session": report.session_id,
        "path": relative_path,
        "risk_score": "" if report.risk_score is None else f"{report.risk_score:.4f}",
        "band": report.band,
        "status": report.status,
        "error": report.error or "",
        "duration_s": "" if report.session.duration_s is None else report.session.duration_s,
        "modalities": "+".join(m for m, present in sorted(mods.items()) if present),
        "report": str(report_path),
    }


def summary_rows(rows: list[dict]) -> list[dict]:
    """Rows ranked: highest risk first, then unassessed, then failed."""

    def key(r):
        if r["status"] != "ok":
            return (2, 0.0, r["session"])
        if r["risk_score"] == "":
            return (1, 0.0, r["session"])
        return (0, -float(r["risk_score"]), r["session"])

    ranked = sorted(rows, key=key)
    return [{"rank": i + 1, **r} for i, r in enumerate(ranked)]


def _write_summary(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in summary_rows(rows):
        w.writerow(r)
    # the bytes of a file name that is not UTF-8 as \xNN text: the summary stays UTF-8
    atomic_write_text(path, buf.getvalue().encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def _done_row(
    session_id: str, path: Path, report_path: Path, retry_failed: bool, relative_path: str, indexed: dict
) -> dict | None:
    """The summary row of a finished session, or None when it must be (re)scanned (also: ok but not indexed)."""
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
    if report.status == "ok" and indexed.get(session_id, (None, False))[0] != fp:
        return None
    return _row(report, report_path, relative_path)


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
) -> BatchResult:
    """Scan every session under ``root`` into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    root : path
        A directory of sessions (or a single session).
    out_dir : path
    jobs : int
        Worker processes (1 = in this process, no pool).
    fusion_path : str, optional
        Fusion parameter file (default ``models/fusion.json``).
    retry_failed : bool
        Re-scan sessions whose earlier report says ``failed``.
    cache_dir : str, optional
        Video-track cache shared by the workers (default ``$INTERVIEW_GUARD_CACHE``).
    progress : callable, optional
        ``progress(Stage.SESSION, completed=, total=, detail=session_id, status=)`` after each session.
    html : bool
        Also write ``sessions/<id>.html`` per session and ``index.html`` (see
        :func:`write_batch_html`).
    index_path : path, optional
        The identity index (default ``OUT/identity.sqlite``); a long-lived
        index shared by many batches matches each new batch against all.
    """
    out = Path(out_dir)
    sessions = find_sessions(root, exclude=[out])  # an output directory under root is not input
    if not sessions:
        raise InterviewGuardError(
            f"{root}: no sessions found (directories with video.*, audio.* or keystrokes.*, or media files)"
        )
    try:
        (out / "sessions").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise input_error_from_os_error(exc, "cannot create the output directory", path=out) from None
    try:  # before any scan: reports that cannot be written would be lost work
        for d in (out, out / "sessions"):
            fd, probe = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=d)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise input_error_from_os_error(exc, "cannot write in the output directory", path=d) from None
    _refuse_case_collisions(sessions, out / "sessions")
    _clean_stale_tmp(out)
    from interview_guard.io.identity_index import IdentityIndex
    from interview_guard.pipeline.matching import INDEX_NAME, MATCHES_NAME

    idx = Path(index_path) if index_path is not None else out / INDEX_NAME
    with IdentityIndex(idx) as ix:  # made (or checked) before any scan: a bad file is one error up front
        indexed = ix.indexed_sessions()
    summary_path = out / "summary.csv"
    rows: dict[str, dict] = {}
    todo = []
    unreadable = 0
    for found in sessions:
        sid, path = found.session_id, found.path
        rp = _report_path(out, sid)
        if found.problem is not None:  # recorded now, and again on every run until it can be read
            rows[sid] = _unreadable_row(found, rp)
            unreadable += 1
            continue
        row = _done_row(sid, path, rp, retry_failed, found.relative_path, indexed)
        if row is None:
            todo.append((sid, path, rp, found.relative_path))
        else:
            rows[sid] = row
    skipped = len(rows) - unreadable
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
            progress(Stage.SESSION, completed=completed, total=total, detail=row["session"], status=row["status"])
        if time.monotonic() - last_summary >= summary_every_s:
            _write_summary(summary_path, list(rows.values()))
            last_summary = time.monotonic()

    try:
        if jobs <= 1 or len(todo) <= 1:
            for sid, path, rp, rel in todo:
                record(_scan_one(sid, str(path), str(rp), fusion_path, cache_dir, html, rel, str(idx)))
        else:
            _run_pool(todo, jobs, fusion_path, record, cache_dir, html, str(idx))
    finally:
        # whatever happened (Ctrl-C included), the summary lists what is done
        _write_summary(summary_path, list(rows.values()))
    n_matches = _match_batch(idx, out, rows)
    html_index = write_batch_html(out, summary_rows(list(rows.values()))) if html else None
    failed = sum(1 for r in rows.values() if r["status"] != "ok")
    tmp = out / _TMP_DIR
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
        unreadable=unreadable,
    )


def _run_pool(todo, jobs: int, fusion_path, record, cache_dir=None, html: bool = False, index_path=None) -> None:
    from interview_guard.pipeline.scan import failed_report

    pending = list(todo)
    recorded: set[str] = set()

    def rec(row: dict) -> None:
        recorded.add(row["session"])
        record(row)

    while pending:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(pending)))
        futures = {}
        broken = False
        try:
            for sid, path, rp, rel in pending:
                fut = pool.submit(_scan_one, sid, str(path), str(rp), fusion_path, cache_dir, html, rel, index_path)
                futures[fut] = (sid, path, rp, rel)
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        rec(fut.result())
                    except BrokenProcessPool:
                        broken = True
            pending = []
        except BrokenProcessPool:
            broken = True
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            # A worker died. Sessions without a report: the ones that were
            # running are failed (a session that kills its worker would kill
            # the next one too); the ones never started are retried.
            retry = []
            for fut, (sid, path, rp, rel) in futures.items():
                if sid in recorded:
                    continue
                if Path(rp).is_file():  # finished, but its result was lost with the pool
                    try:
                        rec(_row(read_report(rp), rp, rel))
                        continue
                    except InterviewGuardError:
                        pass
                if fut.done() and not fut.cancelled():
                    rep = failed_report(
                        sid, path, "worker process died while scanning this session (crash or out of memory)"
                    )
                    rep.session.extra["relative_path"] = rel
                    _write_report(rep, rp)
                    rec(_row(rep, rp, rel))
                else:
                    retry.append((sid, path, rp, rel))
            pending = retry
