"""Where batch tasks run: in this process, a local process pool, or a Dask distributed cluster.

One small interface, :class:`Executor`, with one method that matters::

    with make_executor(jobs=4) as ex:                        # or make_executor(scheduler="tcp://host:8786")
        for key, outcome in ex.run(fn, [(key, args), ...]):
            if isinstance(outcome, TaskLost): ...            # the worker died (after the backend's retries)
            else: ...                                        # fn(*args)'s return value

:meth:`Executor.run` yields every key exactly once, in the order tasks finish.
``fn`` must be a module-level function of ``interview_guard`` (workers import it
by name) that catches its own errors: a task's exception is a bug and comes out
as a :class:`TaskLost` naming it. Results travel back to the caller, which
writes every file (the workers write nothing), so the local pool and a cluster
whose machines share only the input path give the same outputs.

* :class:`InProcessExecutor` (``jobs=1``): runs each task here, in order.
* :class:`LocalPoolExecutor` (``jobs=N``): N worker processes, each a pool of its
  own; a worker that dies (segfault, out of memory) loses nothing but its own task,
  which runs once more at the end, alone, and is lost only if its worker dies again.
* :class:`~interview_guard.pipeline.dask_executor.DaskExecutor`
  (``scheduler="tcp://HOST:PORT"``): a Dask distributed cluster the user started
  (``docs/cluster.md``). Dask is imported only here, only when asked for. A worker
  that dies has its tasks rescheduled by the scheduler on other workers, up to
  the scheduler's ``distributed.scheduler.allowed-failures`` (default 3) times;
  then the task is lost.

``batch`` and ``calibrate`` (through :func:`~interview_guard.pipeline.batch.run_batch`) and the web server's
job runner (``serve --scheduler``, :class:`~interview_guard.web.jobs.Runner`) take an executor: the choice is
made once, by :func:`make_executor`. The runner submits one long task at a time per slot with
:meth:`Executor.submit`, which returns a :class:`TaskHandle`: whether the task is done, its outcome, the last
progress it reported (a task calls :func:`task_progress` from inside), and a way to stop it
(:func:`task_cancelled` tells the task). Without a scheduler the web runner keeps its own worker processes,
one per scan (they write the job's progress and the runner enforces their time and memory limits).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from interview_guard.errors import InterviewGuardError

__all__ = [
    "BLAS_VARS",
    "ClusterError",
    "Executor",
    "TaskHandle",
    "task_cancelled",
    "task_progress",
    "InProcessExecutor",
    "LocalPoolExecutor",
    "TaskLost",
    "Terminated",
    "make_executor",
    "one_blas_thread",
    "worker_scratch_dir",
]

#: The thread-count variables of the BLAS and OpenMP runtimes numpy, scipy and OpenCV may load.
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

LOCAL_WORKER_DIED = "worker process died while scanning this session (crash or out of memory)"

Task = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class TaskLost:
    """A task that produced no result: its worker died (after the backend's retries), or the task raised."""

    reason: str


class ClusterError(InterviewGuardError):
    """The executor itself is unusable (scheduler unreachable or gone, no workers): stop, nothing is lost.

    A deliberate error (one line on the CLI, exit 1); the batch keeps what finished and leaves the rest for a
    re-run.
    """


class TaskHandle:
    """One task submitted with :meth:`Executor.submit`."""

    def done(self) -> bool:
        """Whether the outcome is there (a value or a :class:`TaskLost`)."""
        raise NotImplementedError

    def outcome(self) -> Any:
        """``fn(*args)``'s value, or :class:`TaskLost` (the task raised, its worker died, or it was cancelled)."""
        raise NotImplementedError

    def progress(self) -> Any:
        """The last value the task passed to :func:`task_progress`, or None."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop the task: it is told through :func:`task_cancelled`; its outcome is dropped. Idempotent."""
        raise NotImplementedError


# What the task running in this thread reports to and asks: (progress sink, cancelled check), set by an executor.
_TASK = threading.local()


def task_progress(value: Any) -> None:
    """Inside a task: report progress (any small picklable value) to the caller's :meth:`TaskHandle.progress`.

    A no-op outside a task submitted with :meth:`Executor.submit`.
    """
    sink = getattr(_TASK, "progress", None)
    if sink is not None:
        sink(value)


def task_cancelled() -> bool:
    """Inside a task: whether the caller cancelled it (the task should stop soon). False outside one."""
    check = getattr(_TASK, "cancelled", None)
    return bool(check is not None and check())


class _ThreadTask(TaskHandle):
    """A task run on a thread of this process (:meth:`InProcessExecutor.submit`)."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._cancel = threading.Event()
        self._progress: Any = None
        self._outcome: Any = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="ig-task", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        _TASK.progress = self._set_progress
        _TASK.cancelled = self._cancel.is_set
        try:
            self._outcome = fn(*args)
        except BaseException as exc:  # fn catches its own errors: a bug, or stopped on cancel
            self._outcome = TaskLost(f"internal error: {exc.__class__.__name__}: {exc}")
        finally:
            self._done.set()

    def _set_progress(self, value: Any) -> None:
        self._progress = value

    def done(self) -> bool:
        return self._done.is_set()

    def outcome(self) -> Any:
        self._done.wait()
        return TaskLost("cancelled") if self._cancel.is_set() else self._outcome

    def progress(self) -> Any:
        return self._progress

    def cancel(self) -> None:
        self._cancel.set()


class Executor:
    """Runs ``fn(*args)`` for many tasks; see the module docstring."""

    #: How tasks run, for messages ("this process", "4 local processes", "Dask scheduler tcp://...").
    description = "this process"
    #: Workers on this machine: they see every path the caller sees (a cluster's see only the shared input).
    local = True
    #: Warnings about the workers, one line each (e.g. a Dask worker with several threads); the CLI prints them.
    notes: list[str] = []

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        """Yield ``(key, fn(*args))`` or ``(key, TaskLost)`` for every task, once each, as they finish."""
        raise NotImplementedError

    def submit(self, fn: Callable[..., Any], *args: Any) -> TaskHandle:
        """Start one task ``fn(*args)`` and return its handle (here: on a thread of this process)."""
        return _ThreadTask(fn, args)

    def close(self) -> None:
        """Release the workers (a pool) or the connection (a cluster). Idempotent."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Every task in this process, one after the other (``jobs=1``: nothing to start, easy to debug)."""

    description = "this process"

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        for key, args in tasks:
            try:
                value = fn(*args)
            except Exception as exc:  # fn catches its own errors: this is a bug, but it must not stop the rest
                value = TaskLost(f"internal error: {exc.__class__.__name__}: {exc}")
            yield key, value


class LocalPoolExecutor(Executor):
    """``jobs`` worker processes on this machine (forked: they inherit one BLAS thread from the CLI).

    Each worker is a pool of its own (one process, one task at a time), so a worker that dies (segfault in a
    native library, out of memory) breaks nothing but its own task: the others keep running. The task whose
    worker died is run once more at the end, alone (nothing else running: the memory of the others cannot
    have killed it this time); if its worker dies again it is lost (:data:`LOCAL_WORKER_DIED`). So every task
    runs at most twice and a dead worker fails only the task that kills its worker by itself.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, int(jobs))
        self.description = f"{self.jobs} local process(es)"

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        with _sigterm_interrupts():
            yield from self._run(fn, tasks)

    def _run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        pending = list(tasks)
        pending.reverse()  # popped from the end: in the order given
        died: list[Task] = []  # their worker died while they ran beside others: once more, alone, at the end
        slots: list[ProcessPoolExecutor | None] = [None] * min(self.jobs, len(pending))
        running: dict[Future[Any], tuple[int, Task]] = {}
        try:
            while pending or running:
                for i, slot in enumerate(slots):
                    if not pending or any(s == i for s, _ in running.values()):
                        continue
                    if slot is None:
                        slots[i] = slot = _one_worker()
                    task = pending.pop()
                    try:
                        fut = slot.submit(fn, *task[1])
                    except BrokenProcessPool:  # its worker died idle, after its last task: nothing lost, a new one
                        _shutdown(slot, stopping=False)
                        slots[i] = slot = _one_worker()
                        fut = slot.submit(fn, *task[1])
                    running[fut] = (i, task)
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    i, task = running.pop(fut)
                    value = _outcome(fut)
                    if value is _DIED:
                        _shutdown(slots[i], stopping=False)
                        slots[i] = None  # a new worker for the next task of this slot
                        died.append(task)
                        continue
                    yield task[0], value
            for i, slot in enumerate(slots):  # alone means alone: no idle worker holding memory either
                _shutdown(slot, stopping=False)
                slots[i] = None
            for task in died:
                alone = _one_worker()
                slots = [alone]  # (stopped with the others on Ctrl-C)
                value = _outcome(alone.submit(fn, *task[1]))
                _shutdown(alone, stopping=False)
                slots = []
                yield task[0], TaskLost(LOCAL_WORKER_DIED) if value is _DIED else value
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) or the caller stopped: the workers go too
            for slot in slots:
                if slot is not None:
                    _stop_workers(slot)
                    _shutdown(slot, stopping=True)
            raise


#: :func:`_outcome` of a task whose worker process died.
_DIED = object()


def _one_worker() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=1, initializer=_pool_worker_start, initargs=(os.getpid(),))


def _outcome(fut: Future[Any]) -> Any:
    """The task's value, :data:`_DIED` when its worker died, or :class:`TaskLost` when it raised (a bug)."""
    try:
        return fut.result()
    except BrokenProcessPool:
        return _DIED
    except Exception as exc:  # e.g. a result that cannot be pickled: a bug
        return TaskLost(f"internal error: {exc.__class__.__name__}: {exc}")


def _shutdown(pool: ProcessPoolExecutor | None, *, stopping: bool) -> None:
    if pool is not None:
        pool.shutdown(wait=not stopping, cancel_futures=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the process running a local pool (the CLI reports it like Ctrl-C, exit 143)."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While a local pool runs, SIGTERM to this process raises :class:`Terminated` in the main thread.

    Without it SIGTERM (``kill PID``, a job scheduler stopping the run) ended the driver at once and left its
    workers blocked for ever, holding their memory; Ctrl-C reaches the whole process group, a SIGTERM only the
    driver. Raised, it unwinds like Ctrl-C: the pool's workers are stopped (each removes its spill files) and
    every report already written stays (``batch`` resumes from them). Only in the main thread, where Python
    delivers signals; the previous handler is put back after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """SIGTERM to each worker process of ``pool``: it removes its spill files and dies."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


def _pool_worker_start(parent: int | None = None) -> None:
    """In each local pool worker: a SIGTERM removes the worker's scan spill files before it dies.

    ``parent`` (the driver's pid): when the driver dies without stopping its pool (``kill -9``, the out-of-memory
    killer) the worker gets that SIGTERM too. Without it the workers finished their session and then waited for
    work for ever, each holding its memory.
    """
    from interview_guard.io.spill import remove_spill_on_sigterm
    from interview_guard.io.worker_process import die_with_parent
    from interview_guard.pipeline.batch_output import close_inherited_locks

    close_inherited_locks()  # a forked worker must not keep the driver's output locked after the driver dies
    remove_spill_on_sigterm()
    if parent is not None:
        die_with_parent(parent)


def make_executor(*, jobs: int = 1, scheduler: str | None = None, tasks: int | None = None) -> Executor:
    """The executor for ``jobs`` local processes, or the Dask cluster at ``scheduler`` (``tcp://HOST:PORT``).

    ``tasks``: how many tasks will run (a pool is not started for one). Raises
    :class:`~interview_guard.errors.InterviewGuardError` naming the address when the
    scheduler cannot be reached or Dask is not installed.
    """
    if scheduler is not None:
        from interview_guard.pipeline.dask_executor import DaskExecutor

        return DaskExecutor(scheduler)
    if jobs <= 1 or (tasks is not None and tasks <= 1):
        return InProcessExecutor()
    return LocalPoolExecutor(jobs)


_BLAS_LIMITED = False


def one_blas_thread() -> None:
    """One BLAS/OpenMP thread in this worker process, as the CLI sets for its local pool.

    The CLI sets ``OPENBLAS_NUM_THREADS`` (and the others) to 1 before numpy loads, and forked pool workers
    inherit it. A Dask worker is a process of its own, with numpy possibly loaded already: set the variables
    (for anything loaded or started later) and limit the loaded runtimes with threadpoolctl when it is
    installed. An explicit setting in the worker's environment wins, as it does for the CLI. Idempotent.
    """
    global _BLAS_LIMITED
    if _BLAS_LIMITED:
        return
    for var in BLAS_VARS:
        os.environ.setdefault(var, "1")
    wanted = os.environ["OPENBLAS_NUM_THREADS"]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (librosa's dependency)
        pass
    else:
        threadpool_limits(limits=int(wanted) if wanted.isdigit() and int(wanted) > 0 else 1)
    _BLAS_LIMITED = True


def worker_scratch_dir() -> str | None:
    """This Dask worker's own scratch directory (``dask worker --local-directory``), or None elsewhere."""
    if "distributed" not in sys.modules:  # never import Dask for this question
        return None
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except (ImportError, ValueError, AttributeError):  # not inside a Dask task
        return None
