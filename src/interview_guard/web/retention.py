"""Retention of uploads (``serve --retain-days N``) and the disk use shown on the jobs page.

:func:`purge_uploads` deletes ``jobs/<id>/input/`` (the uploaded recording,
keystroke log, session.json, enrolment photo) of every scan uploaded more than ``days`` days
ago that is no longer queued or running, and records when in the job's
``uploads_deleted``. The report, its key frames, the rendered page, the verdicts
and their audit trail stay. A scan whose uploads are gone cannot be re-run.
:class:`RetentionThread` runs it at start-up and then every hour.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from interview_guard.web.jobs import JobStore, _now

__all__ = ["DiskUse", "RetentionThread", "disk_use", "purge_uploads"]


def purge_uploads(store: JobStore, days: float, *, now: datetime | None = None) -> int:
    """Delete the uploads of finished scans uploaded more than ``days`` days before ``now``; how many scans."""
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=float(days))).isoformat(timespec="microseconds")
    with store._connect() as db:
        rows = db.execute(
            "SELECT id, session_dir FROM jobs WHERE created < ? AND uploads_deleted IS NULL "
            "AND status NOT IN ('queued', 'running')",
            (cutoff,),
        ).fetchall()
    purged = 0
    for row in rows:
        with store._connect() as db:
            # Marked first, and only while the scan is still finished: a re-run queued meanwhile keeps its input,
            # and a marked scan is never queued again (JobStore.requeue).
            cur = db.execute(
                "UPDATE jobs SET uploads_deleted=? WHERE id=? AND uploads_deleted IS NULL "
                "AND status NOT IN ('queued', 'running')",
                (_now(), row["id"]),
            )
        if cur.rowcount != 1:
            continue
        input_dir = store.data_dir / row["session_dir"]
        if input_dir.is_dir() and not input_dir.is_symlink():
            shutil.rmtree(input_dir)
        purged += 1
    return purged


@dataclass(frozen=True)
class DiskUse:
    """Bytes in the data directory: uploads (``jobs/*/input``), reports (the rest of ``jobs/``), database."""

    uploads: int
    reports: int
    database: int

    @property
    def total(self) -> int:
        return self.uploads + self.reports + self.database


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def disk_use(store: JobStore) -> DiskUse:
    """What the data directory holds now (walks ``jobs/``)."""
    uploads = reports = 0
    if store.jobs_dir.is_dir():
        for job_dir in store.jobs_dir.iterdir():
            if not job_dir.is_dir():
                continue
            for entry in job_dir.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    size = _tree_bytes(entry)
                else:
                    size = entry.lstat().st_size
                if entry.name == "input":
                    uploads += size
                else:
                    reports += size
    database = 0
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(store.db_path) + suffix)
        if p.is_file():
            database += p.stat().st_size
    return DiskUse(uploads, reports, database)


class RetentionThread:
    """Runs :func:`purge_uploads` at start and then every ``interval_s`` seconds, until ``stop()``."""

    def __init__(self, store: JobStore, days: float, *, interval_s: float = 3600.0) -> None:
        self.store = store
        self.days = float(days)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        try:
            n = purge_uploads(self.store, self.days)
        except Exception as exc:  # a locked database or a file that will not go: try again next time
            print(f"interview-guard: retention: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            return 0
        if n:
            print(
                f"interview-guard: retention: deleted the uploads of {n} scan(s) older than {self.days:g} days",
                file=sys.stderr,
            )
        return n

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="interview-guard-retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
