"""Scan jobs: the SQLite store and the background runner.

Layout of the data directory::

    DATA/
      jobs.sqlite3                 the jobs table (WAL mode)
      jobs/<id>/input/             the uploaded session: video, audio, keystrokes, enrolment photo, session.json
      jobs/<id>/frames/            key frames of the evidence (JPEG), embedded in the report page
      jobs/<id>/report.json        the report, written atomically when the scan is done
      jobs/<id>/scan.log           the scan process's stderr (warnings, a crash's traceback)
      tmp/                         uploads in progress; emptied at start-up

Schema 2 adds the reviewer's verdict to each job (``verdict``, ``verdict_note``,
``verdict_by``, ``verdict_at``), ``uploads_deleted`` (when ``--retain-days``
removed ``input/``) and the ``verdict_log`` table (every change: who, when,
before and after; :mod:`.reviews`). A schema-1 database is migrated in place
at start-up (:meth:`JobStore.initialise`).

A job is ``queued`` -> ``running`` -> ``done`` / ``failed``. A job that was
``running`` when the server stopped (Ctrl-C, crash, power loss) is marked
``interrupted`` at the next start-up, with a message; it can be re-run from its
page. ``queued`` jobs never started, and their input is complete (a job row is
only written after its upload has been checked), so they are simply scanned
after a restart.

Each scan runs in its own process (``python -m interview_guard.web.worker``),
at most ``workers`` at a time: a crash, a hang (``timeout_s``) or a memory
blow-up (``memory_mb``: the runner polls the worker's resident memory and stops
it past the limit) costs one job, never the server; the job is recorded as
failed with the reason and the queue goes on. The worker writes progress and the
result into the database itself; every write is guarded by the job's
``attempt`` number and ``running`` status, so a stale worker (one left over
from a server that was killed) cannot overwrite a newer state.

With an executor (``serve --scheduler``, a Dask cluster) each claimed job is a
task on it instead (:func:`~interview_guard.web.worker.run_on_executor`; the
runner writes, the task reads ``jobs/<id>/input`` on a path every worker sees);
``memory_mb`` is then the Dask workers' own ``--memory-limit``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from interview_guard.io.sqlite_wal import to_wal

__all__ = [
    "DEFAULT_MAX_REPORT_MB",
    "DEFAULT_SCAN_MEMORY_MB",
    "DEFAULT_SCAN_TIMEOUT_S",
    "Job",
    "JobStore",
    "Runner",
    "STATUSES",
    "valid_job_id",
    "new_job_id",
]

#: A scan running longer than this (seconds) is stopped and recorded as failed.
DEFAULT_SCAN_TIMEOUT_S = 3600.0
#: A scan whose process holds more memory than this (MiB, resident) is stopped and recorded as failed.
DEFAULT_SCAN_MEMORY_MB = 4096
#: A report larger than this (MiB) is not written; the scan is recorded as failed.
DEFAULT_MAX_REPORT_MB = 64

STATUSES = ("queued", "running", "done", "failed", "interrupted")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_SCHEMA_VERSION = 2
_BUSY_S = 30.0  # how long a connection waits for another process's write

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    created     TEXT NOT NULL,
    updated     TEXT NOT NULL,
    filenames   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted')),
    stage       TEXT,
    progress    REAL NOT NULL DEFAULT 0,
    error       TEXT,
    risk        REAL,
    band        TEXT,
    session_dir TEXT NOT NULL,
    frames_dir  TEXT NOT NULL,
    report_path TEXT,
    attempt     INTEGER NOT NULL DEFAULT 0,
    started     TEXT,
    finished    TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""

# Schema 2: the columns added to a schema-1 jobs table, and the audit trail of verdicts.
_V2_COLUMNS = (
    ("verdict", "TEXT CHECK (verdict IN ('genuine', 'fraud', 'unsure'))"),
    ("verdict_note", "TEXT"),
    ("verdict_by", "TEXT"),
    ("verdict_at", "TEXT"),
    ("uploads_deleted", "TEXT"),
)
_V2_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdict_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    at              TEXT NOT NULL,
    who             TEXT NOT NULL,
    verdict_before  TEXT,
    note_before     TEXT,
    verdict_after   TEXT,
    note_after      TEXT
);
CREATE INDEX IF NOT EXISTS verdict_log_job ON verdict_log (job_id, seq);
CREATE INDEX IF NOT EXISTS jobs_verdict ON jobs (verdict);
CREATE INDEX IF NOT EXISTS jobs_risk ON jobs (risk);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_job_id() -> str:
    return uuid.uuid4().hex


def valid_job_id(job_id: str) -> bool:
    return bool(_ID_RE.match(job_id or ""))


@dataclass(frozen=True)
class Job:
    id: str
    created: str
    updated: str
    filenames: dict[str, str]
    status: str
    stage: str | None
    progress: float
    error: str | None
    risk: float | None
    band: str | None
    session_dir: Path
    frames_dir: Path
    report_path: Path | None
    attempt: int
    started: str | None
    finished: str | None
    verdict: str | None = None
    verdict_note: str | None = None
    verdict_by: str | None = None
    verdict_at: str | None = None
    uploads_deleted: str | None = None

    @property
    def job_dir(self) -> Path:
        return self.session_dir.parent

    @property
    def finished_state(self) -> bool:
        return self.status in ("done", "failed", "interrupted")

    def to_dict(self) -> dict[str, Any]:
        """The public status JSON (no server paths)."""
        return {
            "id": self.id,
            "created": self.created,
            "updated": self.updated,
            "filenames": self.filenames,
            "status": self.status,
            "stage": self.stage,
            "progress": round(self.progress, 4),
            "error": self.error,
            "risk_score": self.risk,
            "band": self.band,
            "attempt": self.attempt,
            "started": self.started,
            "finished": self.finished,
            "verdict": self.verdict,
            "verdict_note": self.verdict_note,
            "verdict_by": self.verdict_by,
            "verdict_at": self.verdict_at,
            "uploads_deleted": self.uploads_deleted,
        }


class JobStore:
    """The jobs table in ``DATA/jobs.sqlite3``; safe to use from several threads and processes. Every call opens its
    own short-lived connection (SQLite serialises the writers; WAL lets readers run beside them)."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.db_path = self.data_dir / "jobs.sqlite3"
        self.jobs_dir = self.data_dir / "jobs"
        self.tmp_dir = self.data_dir / "tmp"

    # -- set-up ---------------------------------------------------------------
    def initialise(self) -> None:
        """Create the directories and the table (idempotent)."""
        for d in (self.data_dir, self.jobs_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            to_wal(db, _BUSY_S)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise RuntimeError(f"{self.db_path} was written by a newer interview-guard (schema {version})")
            db.execute("BEGIN IMMEDIATE")  # one process migrates; another waits and finds it done
            try:
                for stmt in _SCHEMA.split(";"):  # not executescript: it would commit the transaction
                    if stmt.strip():
                        db.execute(stmt)
                _migrate_v2(db)
                db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def recover(self) -> dict[str, int]:
        """At start-up: mark jobs a previous process left ``running`` as interrupted; clear ``tmp/``.

        ``queued`` jobs stay queued (their upload was complete) and run again.
        Returns how many jobs were interrupted and how many are still queued.
        """
        if self.tmp_dir.is_dir():
            for entry in self.tmp_dir.iterdir():
                with contextlib.suppress(OSError):
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        now = _now()
        with self._connect() as db:
            cur = db.execute(
                "UPDATE jobs SET status='interrupted', updated=?, finished=?, error=? || "
                "COALESCE(' (at stage ' || stage || ', ' || CAST(ROUND(progress * 100) AS INTEGER) || '%)', '') "
                "|| '. Re-run it to scan again.' WHERE status='running'",
                (now, now, "The server stopped while this scan was running"),
            )
            interrupted = cur.rowcount
            queued = db.execute("SELECT COUNT(*) FROM jobs WHERE status='queued'").fetchone()[0]
        return {"interrupted": interrupted, "queued": queued}

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=_BUSY_S, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={int(_BUSY_S * 1000)}")
        return contextlib.closing(db)  # type: ignore[return-value]

    # -- reading --------------------------------------------------------------
    def _job(self, row: sqlite3.Row) -> Job:
        d = self.data_dir
        return Job(
            id=row["id"],
            created=row["created"],
            updated=row["updated"],
            filenames=json.loads(row["filenames"]),
            status=row["status"],
            stage=row["stage"],
            progress=float(row["progress"] or 0.0),
            error=row["error"],
            risk=row["risk"],
            band=row["band"],
            session_dir=d / row["session_dir"],
            frames_dir=d / row["frames_dir"],
            report_path=None if row["report_path"] is None else d / row["report_path"],
            attempt=int(row["attempt"]),
            started=row["started"],
            finished=row["finished"],
            verdict=row["verdict"],
            verdict_note=row["verdict_note"],
            verdict_by=row["verdict_by"],
            verdict_at=row["verdict_at"],
            uploads_deleted=row["uploads_deleted"],
        )

    def get(self, job_id: str) -> Job | None:
        if not valid_job_id(job_id):
            return None
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return None if row is None else self._job(row)

    def list(self, limit: int = 200, offset: int = 0) -> list[Job]:
        """Jobs, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?", (int(limit), int(offset))
            ).fetchall()
        return [self._job(r) for r in rows]

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    # -- writing --------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        if not valid_job_id(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.jobs_dir / job_id

    def add(self, job_id: str, filenames: dict[str, str]) -> Job:
        """Record a new queued job whose input is already in ``jobs/<id>/input``."""
        jd = self.job_dir(job_id)
        now = _now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, created, updated, filenames, status, stage, progress, session_dir, frames_dir) "
                "VALUES (?, ?, ?, ?, 'queued', 'queued', 0, ?, ?)",
                (
                    job_id,
                    now,
                    now,
                    json.dumps(filenames, ensure_ascii=False),
                    str((jd / "input").relative_to(self.data_dir)),
                    str((jd / "frames").relative_to(self.data_dir)),
                ),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def claim_next(self) -> tuple[str, int] | None:
        """Take the oldest queued job: mark it running, bump its attempt. Returns ``(id, attempt)``."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT id, attempt FROM jobs WHERE status='queued' ORDER BY created, rowid LIMIT 1"
                ).fetchone()
                if row is None:
                    db.execute("COMMIT")
                    return None
                now = _now()
                db.execute(
                    "UPDATE jobs SET status='running', attempt=attempt+1, stage='starting', progress=0, error=NULL, "
                    "risk=NULL, band=NULL, report_path=NULL, started=?, finished=NULL, updated=? WHERE id=?",
                    (now, now, row["id"]),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return row["id"], int(row["attempt"]) + 1

    def _update_running(self, job_id: str, attempt: int, sql: str, params: tuple[Any, ...]) -> bool:
        with self._connect() as db:
            cur = db.execute(
                f"UPDATE jobs SET {sql}, updated=? WHERE id=? AND attempt=? AND status='running'",
                (*params, _now(), job_id, attempt),
            )
            return cur.rowcount == 1

    def set_progress(self, job_id: str, attempt: int, stage: str, progress: float) -> bool:
        return self._update_running(job_id, attempt, "stage=?, progress=?", (stage, float(progress)))

    def finish_done(self, job_id: str, attempt: int, report_path: Path, risk: float | None, band: str) -> bool:
        rel = str(Path(report_path).resolve().relative_to(self.data_dir))
        return self._update_running(
            job_id,
            attempt,
            "status='done', stage='done', progress=1, report_path=?, risk=?, band=?, finished=?",
            (rel, risk, band, _now()),
        )

    def finish_failed(self, job_id: str, attempt: int, error: str, *, status: str = "failed") -> bool:
        assert status in ("failed", "interrupted")
        error = " ".join(error.split())[:4000]  # one line: a worker's traceback would break the job list and jobs.csv
        return self._update_running(job_id, attempt, "status=?, error=?, finished=?", (status, error, _now()))

    def requeue(self, job_id: str) -> bool:
        """Queue a failed or interrupted job again (its input is still there)."""
        job = self.get(job_id)
        if job is None or job.status not in ("failed", "interrupted") or not job.session_dir.is_dir():
            return False
        shutil.rmtree(job.frames_dir, ignore_errors=True)
        with self._connect() as db:
            cur = db.execute(
                "UPDATE jobs SET status='queued', stage='queued', progress=0, error=NULL, risk=NULL, band=NULL, "
                "report_path=NULL, finished=NULL, updated=? WHERE id=? AND status IN ('failed', 'interrupted') "
                "AND uploads_deleted IS NULL",
                (_now(), job_id),
            )
            return cur.rowcount == 1


def _migrate_v2(db: sqlite3.Connection) -> None:
    """Bring a schema-1 jobs table to schema 2 (idempotent: only the missing columns are added)."""
    have = {r[1] for r in db.execute("PRAGMA table_info(jobs)").fetchall()}
    for name, decl in _V2_COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
    for stmt in _V2_SCHEMA.split(";"):
        if stmt.strip():
            db.execute(stmt)


class Runner:
    """Runs queued jobs, each in a ``python -m interview_guard.web.worker`` process, ``workers`` at a time.

    ``start()`` starts the dispatcher threads; ``notify()`` wakes them when a
    job was queued; ``stop()`` terminates running scans and marks their jobs
    interrupted.
    """

    def __init__(
        self,
        store: JobStore,
        *,
        workers: int = 1,
        timeout_s: float | None = None,
        memory_mb: float | None = None,
        max_report_mb: float | None = None,
        params_path: str | None = None,
        python: str = sys.executable,
        poll_s: float = 1.0,
        executor: Any = None,
    ) -> None:
        self.store = store
        self.executor = executor  # a pipeline.executors.Executor (a Dask cluster), or None: local worker processes
        self._tasks: dict[str, Any] = {}
        self.workers = max(1, int(workers))
        self.timeout_s = timeout_s or None  # None or 0: no limit
        self.memory_mb = memory_mb or None
        self.max_report_mb = max_report_mb or None
        self.params_path = params_path
        self.python = python
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"interview-guard-runner-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def stop(self, *, grace_s: float = 5.0) -> None:
        self._stop.set()
        self.notify()
        with self._lock:
            procs = list(self._procs.values())
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for t in self._threads:
            t.join(timeout=grace_s + 5.0)
        self._threads.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.store.claim_next()
            except sqlite3.Error as exc:  # a locked or broken database must not kill the thread
                print(f"interview-guard: job store error: {exc}", file=sys.stderr)
                claimed = None
            if claimed is None:
                with self._wake:
                    self._wake.wait(timeout=self.poll_s)
                continue
            job_id, attempt = claimed
            try:
                self._run(job_id, attempt)
            except Exception as exc:  # the runner itself failed: record it, keep serving
                msg = f"internal error starting the scan: {exc.__class__.__name__}: {exc}"
                self.store.finish_failed(job_id, attempt, msg)

    def _run(self, job_id: str, attempt: int) -> None:
        if self.executor is not None:
            from interview_guard.web.worker import run_on_executor

            run_on_executor(self, job_id, attempt)
            return
        job_dir = self.store.job_dir(job_id)
        log_path = job_dir / "scan.log"
        cmd = [self.python, "-m", "interview_guard.web.worker", str(self.store.data_dir), job_id, str(attempt)]
        if self.max_report_mb:
            cmd += ["--max-report-mb", f"{self.max_report_mb:g}"]
        if self.params_path:
            cmd += ["--params", str(self.params_path)]
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=str(job_dir))
            with self._lock:
                self._procs[job_id] = proc
            t0 = time.monotonic()
            reason = None
            kill_at = None
            try:
                while proc.poll() is None:
                    try:
                        proc.wait(timeout=0.25)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    now = time.monotonic()
                    if reason is None:
                        if self._stop.is_set():
                            reason = "The server was stopped while this scan was running. Re-run it to scan again."
                        elif self.timeout_s is not None and now - t0 > self.timeout_s:
                            reason = f"the scan took longer than the limit of {self.timeout_s:g} s and was stopped"
                        elif self.memory_mb is not None and (rss := _tree_rss_mb(proc.pid)) > self.memory_mb:
                            reason = (
                                f"the scan used more memory than the limit of {self.memory_mb:g} MB "
                                f"({rss:.0f} MB) and was stopped"
                            )
                        if reason is not None:
                            proc.terminate()
                            kill_at = now + 5.0
                    elif kill_at is not None and now > kill_at:
                        proc.kill()
                        kill_at = None
            finally:
                with self._lock:
                    self._procs.pop(job_id, None)
        rc = proc.returncode
        if reason is None and self._stop.is_set() and rc != 0:
            # stop() signalled the worker directly; the server is shutting down.
            reason = "The server was stopped while this scan was running. Re-run it to scan again."
        job = self.store.get(job_id)
        if job is None or job.status != "running" or job.attempt != attempt:
            return  # the worker recorded its result
        if reason is not None:
            status = "interrupted" if self._stop.is_set() else "failed"
            self.store.finish_failed(job_id, attempt, reason, status=status)
            return
        tail = _last_line(log_path)
        how = f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
        self.store.finish_failed(
            job_id,
            attempt,
            f"the scan process {how}" + (f": {tail}" if tail else "") + " (details in scan.log in the job's directory)",
        )


def _tree_rss_mb(pid: int) -> float:
    """Resident memory (MiB) of a process and its children, from ``/proc`` (0 where there is no ``/proc``)."""
    total_kb = 0
    todo, seen = [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        total_kb += int(line.split()[1])
                        break
            with open(f"/proc/{p}/task/{p}/children", "rb") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total_kb / 1024.0


_ERROR_LINE = re.compile(r"^(interview-guard worker: |[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b)")


def _last_line(path: Path, limit: int = 16384) -> str:
    """The last error-looking line of a scan log (a Python exception or the worker's own message), if any."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            lines = [ln.strip() for ln in fh.read().decode("utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if _ERROR_LINE.match(ln)]
    return errors[-1][:500] if errors else ""
