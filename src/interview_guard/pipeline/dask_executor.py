"""The Dask executor: batch tasks on a Dask distributed cluster (``batch --scheduler tcp://HOST:PORT``).

Imported only when a scheduler address is given; Dask comes with the optional
``cluster`` extra (``pip install 'interview-guard[cluster]'``). The user starts
``dask scheduler`` and ``dask worker``s on the machines (``docs/cluster.md``);
every worker needs the same interview-guard version and sees the inputs at the
path the driver sees them.

* Tasks go to the scheduler with unique keys (two batches on one cluster never
  share a result); a result is released as soon as it is back.
* A worker that dies while holding a task: the scheduler reschedules the task
  on another worker, up to its ``distributed.scheduler.allowed-failures``
  (default 3); then the task comes back as ``KilledWorker``, which is
  :class:`~interview_guard.pipeline.executors.TaskLost` here.
* The scheduler unreachable, or gone mid-run, or no worker for
  ``no_workers_timeout_s``: :class:`~interview_guard.pipeline.executors.ClusterError`
  naming the address; what finished is kept, the rest is left for a re-run.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any

from interview_guard.errors import InterviewGuardError
from interview_guard.pipeline.executors import ClusterError, Executor, Task, TaskHandle, TaskLost

__all__ = ["DaskExecutor", "runtime_note", "worker_facts"]

#: How long to wait for a first worker when the scheduler has none, and how long a cluster may have no worker
#: at all in the middle of a batch before the batch stops (seconds).
NO_WORKERS_TIMEOUT_S = 120.0
_POLL_S = 1.0


def worker_facts() -> dict[str, Any]:
    """Run on each worker at connect: its interview-guard version (the driver refuses another) and its runtime
    (Python and library versions, :func:`~interview_guard.io.runtime.runtime_versions`: the driver warns when they
    differ from its own)."""
    from interview_guard._version import __version__
    from interview_guard.io.runtime import runtime_versions

    return {"version": __version__, "runtime": runtime_versions()}


def runtime_note(mine: dict[str, str], facts: dict[str, dict[str, Any]]) -> str | None:
    """A warning when some workers' runtimes (``facts[worker]["runtime"]``) differ from ``mine``, else None.

    Not an error: the same interview-guard under another MediaPipe, OpenCV, PyAV or numpy still scans, but its
    measurements can differ (docs/face-occlusion.md, round 11), and every report records the runtime it ran on.
    """
    differ: dict[str, list[str]] = {}
    for worker, f in facts.items():
        theirs = f.get("runtime") or {}
        keys = sorted(k for k in set(mine) | set(theirs) if theirs.get(k) != mine.get(k))
        if keys:
            differ[worker] = keys
    if not differ:
        return None
    worker = sorted(differ)[0]
    theirs = facts[worker].get("runtime") or {}
    what = ", ".join(f"{k} {theirs.get(k, 'missing')} (here {mine.get(k, 'missing')})" for k in differ[worker])
    return (
        f"{len(differ)} of {len(facts)} Dask worker(s) run other library versions than this machine (e.g. {worker}: "
        f"{what}): their scores can differ a little from this machine's; each report records its runtime"
    )


class DaskExecutor(Executor):
    """Tasks on the Dask cluster whose scheduler listens at ``address`` (``tcp://HOST:PORT``)."""

    def __init__(
        self,
        address: str,
        *,
        connect_timeout_s: float | None = None,
        no_workers_timeout_s: float = NO_WORKERS_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.description = f"Dask scheduler {address}"
        self.no_workers_timeout_s = no_workers_timeout_s
        self.local = False
        self.notes = []
        try:
            from distributed import Client
        except ImportError:
            raise InterviewGuardError(
                f"{address}: a Dask scheduler needs the cluster extra: pip install 'interview-guard[cluster]'"
            ) from None
        _quiet_dask_logs()
        _check_address(address)
        kwargs: dict[str, Any] = {} if connect_timeout_s is None else {"timeout": connect_timeout_s}
        try:
            self.client: Any = Client(address, set_as_default=False, **kwargs)
        except (OSError, ValueError, TypeError) as exc:  # unreachable, timed out, not a scheduler, bad address
            raise InterviewGuardError(f"{address}: cannot connect to the Dask scheduler ({_one_line(exc)})") from None
        try:
            self._check_workers()
        except BaseException:
            self.close()
            raise

    def _check_workers(self) -> None:
        from interview_guard._version import __version__

        try:
            self.client.wait_for_workers(1, timeout=self.no_workers_timeout_s)
        except TimeoutError:
            raise InterviewGuardError(
                f"{self.address}: no Dask worker connected to the scheduler within {self.no_workers_timeout_s:.0f} s"
                " (start them with: dask worker " + self.address + ")"
            ) from None
        try:
            facts = self.client.run(worker_facts)
        except Exception as exc:  # a worker without interview-guard cannot even unpickle the function
            raise InterviewGuardError(
                f"{self.address}: the Dask workers cannot run interview-guard ({exc.__class__.__name__}: "
                f"{_one_line(exc)}); install 'interview-guard[cluster]' {__version__} on every worker machine"
            ) from None
        other = {w: f["version"] for w, f in facts.items() if f.get("version") != __version__}
        if other:
            w, v = sorted(other.items())[0]
            raise InterviewGuardError(
                f"{self.address}: worker {w} runs interview-guard {v}, this machine {__version__}: "
                "install the same version on every machine (scores would differ)"
            )
        from interview_guard.io.runtime import runtime_versions

        note = runtime_note(runtime_versions(), facts)
        if note:
            self.notes.append(note)
        nthreads = self.client.nthreads()
        self.description = f"Dask scheduler {self.address} ({len(nthreads)} workers, {sum(nthreads.values())} threads)"
        threads = {w: n for w, n in nthreads.items() if n > 1}
        if threads:
            self.notes.append(
                f"{len(threads)} Dask worker(s) run more than one thread (e.g. {sorted(threads)[0]}): start workers "
                "with --nthreads 1 and use --nworkers for more processes (docs/cluster.md)"
            )

    def _alive(self) -> bool:
        return self.client.status == "running"

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        from distributed import wait as dask_wait
        from distributed.scheduler import KilledWorker

        token = uuid.uuid4().hex[:12]
        futures: dict[Any, str] = {}
        for i, (key, args) in enumerate(tasks):
            fut = self.client.submit(fn, *args, key=f"interview-guard-{token}-{i}", pure=False)
            futures[fut] = key
        no_workers_since: float | None = None
        try:
            while futures:
                try:
                    with self.client.as_current():  # not the process's default client: another may be
                        dask_wait(list(futures), timeout=_POLL_S, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    pass
                except CancelledError:  # the scheduler went away (FuturesCancelledError): said below, in one line
                    pass
                for fut in [f for f in futures if f.done() and f.status != "cancelled"]:
                    value = self._outcome(fut, KilledWorker)
                    if value is None:  # the result could not be fetched: the cluster is going
                        break
                    key = futures.pop(fut)
                    fut.release()
                    yield key, value
                if any(f.status == "cancelled" for f in futures) or not self._alive():
                    raise ClusterError(
                        f"{self.address}: lost the connection to the Dask scheduler; {len(futures)} session(s) not "
                        "finished (they are scanned by a re-run)"
                    )
                if futures:
                    no_workers_since = self._watch_workers(no_workers_since, len(futures))
        finally:
            if futures and self._alive():
                try:
                    self.client.cancel(list(futures))
                except Exception:  # the cluster is going away anyway
                    pass

    def _outcome(self, fut: Any, killed: type[BaseException]) -> Any:
        """A finished future's value or :class:`TaskLost`; None when its result cannot be fetched any more."""
        if fut.status == "error":
            exc = fut.exception()
            if isinstance(exc, killed):
                return TaskLost(_killed_message(exc))
            # the task function catches its own errors: this is a set-up problem or a bug
            return TaskLost(f"internal error on a Dask worker: {exc.__class__.__name__}: {_one_line(exc)}")
        try:
            return fut.result()
        except Exception as exc:
            if not self._alive():
                return None
            return TaskLost(f"the result was lost on its way from the worker ({_one_line(exc)})")

    def _watch_workers(self, since: float | None, pending: int) -> float | None:
        """The time the cluster has had no worker since (None: it has some); raises past the timeout."""
        try:
            n = len(self.client.nthreads())
        except Exception:  # the scheduler is going: the next round sees the client's status
            return since
        if n:
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since > self.no_workers_timeout_s:
            raise ClusterError(
                f"{self.address}: no Dask worker for {self.no_workers_timeout_s:.0f} s; {pending} session(s) not "
                "finished (start workers and re-run: finished sessions are kept)"
            )
        return since

    def submit(self, fn: Callable[..., Any], *args: Any) -> TaskHandle:
        """One task on the cluster (the web runner's scans): progress through the worker's event log under the
        task's key, cancellation through a Dask ``Event`` the task checks at most once a second."""
        key = f"interview-guard-{uuid.uuid4().hex}"
        fut = self.client.submit(_run_reporting, fn, args, key, key=key, pure=False)
        return _DaskTask(self, fut, key)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            self.client = None
            try:
                client.close(timeout=10)
            except Exception:  # closing a client whose scheduler is gone
                pass


def _run_reporting(fn: Callable[..., Any], args: tuple[Any, ...], topic: str) -> Any:
    """On a Dask worker: ``fn(*args)`` with :func:`~interview_guard.pipeline.executors.task_progress` and
    :func:`~interview_guard.pipeline.executors.task_cancelled` wired to the submitting client."""
    from distributed import Event, get_worker

    from interview_guard.pipeline import executors

    worker = get_worker()
    checked = [0.0, False]

    def progress(value: Any) -> None:
        worker.log_event(topic, value)

    def cancelled() -> bool:
        now = time.monotonic()
        if now - checked[0] >= 1.0:  # a round trip to the scheduler: at most once a second
            checked[0] = now
            try:
                checked[1] = checked[1] or bool(Event(f"{topic}-cancel").is_set())
            except Exception:  # the scheduler is going: the task's result will be dropped anyway
                pass
        return bool(checked[1])

    executors._TASK.progress, executors._TASK.cancelled = progress, cancelled
    try:
        return fn(*args)
    finally:
        executors._TASK.progress = executors._TASK.cancelled = None


class _DaskTask(TaskHandle):
    def __init__(self, executor: DaskExecutor, fut: Any, topic: str) -> None:
        self._ex, self._fut, self._topic = executor, fut, topic
        self._cancelled = False

    def done(self) -> bool:
        return self._cancelled or bool(self._fut.done()) or not self._ex._alive()

    def outcome(self) -> Any:
        from distributed.scheduler import KilledWorker

        if self._cancelled:
            return TaskLost("cancelled")
        if not self._ex._alive():
            return TaskLost(f"{self._ex.address}: lost the connection to the Dask scheduler")
        value = self._ex._outcome(self._fut, KilledWorker)
        self._fut.release()
        return TaskLost(f"{self._ex.address}: lost the connection to the Dask scheduler") if value is None else value

    def progress(self) -> Any:
        try:
            events = self._ex.client.get_events(self._topic)
        except Exception:  # the scheduler is going: done() says so
            return None
        return events[-1][1] if events else None

    def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        from distributed import Event

        try:
            Event(f"{self._topic}-cancel", client=self._ex.client).set()
            self._fut.cancel()
        except Exception:  # the scheduler is gone: nothing runs there any more
            pass


def _check_address(address: str) -> None:
    """Refuse what cannot be a scheduler's address before a client is made (one that fails to start prints
    a traceback when it is collected)."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address)
        if scheme == "inproc" or scheme not in backends:
            known = ", ".join(sorted(b for b in backends if b != "inproc"))
            raise ValueError(f"unknown address scheme {scheme!r}; known: {known}")
        host, port = parse_host_port(location) if scheme != "ucx" else ("", 0)
    except ValueError as exc:
        raise InterviewGuardError(
            f"{address}: not a Dask scheduler address ({_one_line(exc)}); expected tcp://HOST:PORT"
        ) from None
    if scheme == "tcp":
        _probe_tcp(address, host, port)


def _probe_tcp(address: str, host: str, port: int) -> None:
    """A Dask server greets first: a TCP peer silent for the connect timeout is something else (the client
    itself would wait for ever on, e.g., a web server)."""
    import socket

    import dask
    from dask.utils import parse_timedelta

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="seconds") or 30.0
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            greeting = sock.recv(1)
    except TimeoutError:
        greeting = None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise InterviewGuardError(f"{address}: cannot connect to the Dask scheduler ({reason})") from None
    if not greeting:
        raise InterviewGuardError(
            f"{address}: cannot connect to the Dask scheduler (nothing there answers as one within {timeout:g} s)"
        )


def _quiet_dask_logs() -> None:
    """The client logs reconnection attempts, lost workers and shutdowns; the batch says in one line what matters
    (``--debug`` keeps Dask's own lines)."""
    if os.environ.get("INTERVIEW_GUARD_NATIVE_LOGS"):
        return
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _killed_message(exc: BaseException) -> str:
    tries = getattr(exc, "allowed_failures", None)
    try:
        last = exc.last_worker.address  # type: ignore[attr-defined]
    except Exception:
        last = None
    times = "repeatedly" if not isinstance(tries, int) else "once" if tries == 0 else f"{tries + 1} times"
    where = f", last on {last}" if last else ""
    return f"the Dask worker scanning this session died {times} (crash, out of memory or a machine gone{where})"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).splitlines()) or exc.__class__.__name__
