"""A local pool worker that dies while idle (between two tasks) costs nothing: the next task gets a new worker."""

from __future__ import annotations

import os
import threading
import time


def _echo_then_die_idle(x: str) -> str:
    if x == "die-after":  # the task is done; the worker dies a moment later, idle (out-of-memory killer, a crash)
        threading.Timer(0.05, os._exit, (1,)).start()
    return x.upper()


def test_a_worker_that_dies_idle_does_not_break_the_run():
    from interview_guard.pipeline.executors import LocalPoolExecutor

    keys = ["die-after", "b", "c", "d"]
    got = {}
    with LocalPoolExecutor(1) as ex:
        for key, value in ex.run(_echo_then_die_idle, [(k, (k,)) for k in keys]):
            got[key] = value
            time.sleep(0.5)  # the driver writes the report: the idle worker dies meanwhile
    assert got == {k: k.upper() for k in keys}
