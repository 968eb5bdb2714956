"""Checking an upload's keystroke log in a process of its own: ``python -m interview_guard.web.validate PATH NAME``.

A keystroke log is parsed with the project's own parser before its job is
queued, so a bad log is a ``400`` at upload time. Parsing builds the whole log
in memory (a 1e6-line log takes about 200 MB), so it is not done in the
server's process: :func:`check_keystroke_log` runs this module as a child
process with an address-space limit (``RLIMIT_AS``) and a time limit. The child
prints one JSON line: ``{"ok": true, "events": N}`` or ``{"status": 400,
"message": "..."}``; a child that runs out of memory or time is a ``413``.

Every way the parser can fail maps to ``400`` with one line naming the client's
file name (never the server's path): the parser's own errors, and anything else
(an overflow, a recursion limit) as "cannot be used".
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = [
    "DEFAULT_CHECK_MEMORY_MB",
    "DEFAULT_CHECK_TIMEOUT_S",
    "check_keystroke_log",
    "check_keystroke_log_here",
    "one_line",
]

#: Address space the checking process may use: enough for a log of a few million events.
DEFAULT_CHECK_MEMORY_MB = 2048
#: Time the checking process may take.
DEFAULT_CHECK_TIMEOUT_S = 300.0


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def check_keystroke_log_here(path: str | os.PathLike[str], name: str) -> tuple[int, str] | None:
    """Parse the log in this process: None when it is usable, else ``(status, one-line message)``."""
    from interview_guard.errors import InputError
    from interview_guard.io.keystroke_log import parse_keystroke_lines

    p = Path(path)
    fmt = {".jsonl": "jsonl", ".csv": "csv"}.get(p.suffix.lower(), "auto")
    try:
        with open(p, encoding="utf-8", newline="") as fh:
            log = parse_keystroke_lines(fh, path=name, fmt=fmt)
    except UnicodeDecodeError:
        return 400, f"{name}: not UTF-8 text (is this really a keystroke log?)"
    except InputError as exc:
        return 400, one_line(f"bad keystroke log: {exc}")
    except MemoryError:
        return 413, f"{name}: too large to check within the server's memory limit"
    except (ValueError, OverflowError, RecursionError, TypeError, OSError, csv.Error) as exc:
        # The parser let something through that the arrays cannot hold (a length of 1e30, ...).
        return 400, one_line(f"bad keystroke log: {name}: cannot be used ({type(exc).__name__}: {exc})")
    if len(log) == 0:
        return 400, f"{name}: the keystroke log holds no events"
    return None


def check_keystroke_log(
    path: str | os.PathLike[str],
    name: str,
    *,
    memory_mb: int | None = DEFAULT_CHECK_MEMORY_MB,
    timeout_s: float | None = DEFAULT_CHECK_TIMEOUT_S,
    python: str = sys.executable,
) -> tuple[int, str] | None:
    """Parse the log in a child process (bounded memory and time): None when usable, else ``(status, message)``."""
    cmd = [python, "-m", "interview_guard.web.validate", str(path), name]
    if memory_mb:
        cmd += ["--memory-mb", str(int(memory_mb))]
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # no thread pools reserving address space for a parse
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return 413, f"{name}: the keystroke log could not be checked within {timeout_s:.0f} s; send a shorter log"
    lines = done.stdout.decode("utf-8", errors="replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        answer = None
    if isinstance(answer, dict) and answer.get("ok") is True:
        return None
    if isinstance(answer, dict) and isinstance(answer.get("status"), int) and isinstance(answer.get("message"), str):
        return int(answer["status"]), one_line(answer["message"])
    if done.returncode < 0 or b"MemoryError" in done.stderr:
        return 413, f"{name}: too large to check within the server's memory limit"
    tail = one_line(done.stderr[-300:].decode("utf-8", errors="replace"))
    raise RuntimeError(f"the keystroke-log check exited with code {done.returncode}: {tail}")


def _limit_memory(memory_mb: int) -> None:
    """Limit this process's address space to ``memory_mb`` MiB (the parser is imported first)."""
    try:
        import resource
    except ImportError:  # not on this platform: the time limit still holds
        return
    limit = int(memory_mb) << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    memory_mb = None
    if len(args) == 4 and args[2] == "--memory-mb":
        memory_mb = int(args[3])
        args = args[:2]
    if len(args) != 2:
        print("usage: python -m interview_guard.web.validate PATH NAME [--memory-mb N]", file=sys.stderr)
        return 2
    if memory_mb:
        import interview_guard.io.keystroke_log  # noqa: F401  (the parser's own code is loaded before the limit)

        _limit_memory(memory_mb)
    problem = check_keystroke_log_here(args[0], args[1])
    answer = {"ok": True} if problem is None else {"status": problem[0], "message": problem[1]}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
