"""Switching a SQLite file to write-ahead logging when other processes may be opening it at the same time."""

from __future__ import annotations

import sqlite3
import time


def to_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Switch ``db``'s file to write-ahead logging (a no-op where it is already).

    While another connection writes the file (a second process creating the same new index or jobs table), SQLite
    answers the switch "database is locked" at once, without waiting out the connection's busy timeout. Retried,
    with growing pauses, until ``timeout_s``; any other error, or the lock still held then, is raised."""
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
