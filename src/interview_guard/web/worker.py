"""One scan job, in a process of its own: ``python -m interview_guard.web.worker DATA_DIR JOB_ID ATTEMPT``.

(With ``serve --scheduler`` the job runs instead as :func:`scan_job` on a Dask worker, which writes nothing and
returns the report and its key frames; the server's runner writes them with :func:`commit_scan`.)

Started by :class:`interview_guard.web.jobs.Runner` (which also enforces the
time and memory limits). Scans ``jobs/<id>/input`` with key frames into
``jobs/<id>/frames``, writes ``jobs/<id>/report.json`` atomically (a report
over ``--max-report-mb`` is not written: the job fails with that reason),
records the job done, and only then renders the report page (so a shutdown
while rendering loses nothing: the page is rendered on demand). Progress and
the outcome go into the jobs table (every write guarded by the attempt number,
see :mod:`interview_guard.web.jobs`).
Ctrl-C in the server's terminal is left to the server (which terminates this
process and marks the job interrupted); if the server dies, the next progress
update notices and the scan stops without writing anything.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interview_guard.io.session import as_input_error
from interview_guard.progress import ProgressHook, Stage, scan_fraction
from interview_guard.web.jobs import Job, JobStore, Runner


class _ServerGone(BaseException):
    """The server that started this worker is gone: stop without recording anything."""


def _progress_hook(
    store: JobStore, job_id: str, attempt: int, parent_pid: int, min_interval_s: float = 0.3
) -> ProgressHook:
    last_t = 0.0
    last_stage: str | None = None
    best = 0.0

    def hook(stage: Stage, *, completed: int, total: int, **info: str) -> None:
        nonlocal last_t, last_stage, best
        if os.getppid() != parent_pid:
            raise _ServerGone()
        p = max(best, scan_fraction(stage, completed, total))
        now = time.monotonic()
        label = " ".join(x for x in (Stage(stage).value, info.get("detail", "")) if x)
        if label != last_stage or now - last_t >= min_interval_s:
            if not store.set_progress(job_id, attempt, label, min(p, 0.99)):
                raise _ServerGone()  # the job was marked interrupted or re-run meanwhile
            last_t, last_stage = now, label
        best = p

    return hook


def job_session_id(job: Job) -> str:
    """The session id a job's report carries: the uploaded video's (else audio's, else keystroke log's) name without
    extension."""
    name = job.filenames.get("video") or job.filenames.get("audio") or job.filenames.get("keystrokes") or job.id
    return os.path.splitext(name)[0] or job.id


def render_job_page(job: Job) -> str:
    """The report page of a finished job: ``render_report`` with the job's key frames (or its video)."""
    from dataclasses import replace

    from interview_guard.pipeline.keyframes import load_key_frames
    from interview_guard.report.html import render_report
    from interview_guard.report.model import read_report

    report = read_report(job.report_path or job.job_dir / "report.json")
    video = next(iter(sorted(job.session_dir.glob("video.*"))), None) if job.session_dir.is_dir() else None
    order = ("video", "audio", "keystrokes", "metadata", "enrolment_photo")
    names = ", ".join(job.filenames[r] for r in order if r in job.filenames)
    if names:
        # The page names the uploaded files, not the server's copy of them (report.json keeps the real path).
        report.session = replace(report.session, path=f"uploaded: {names}")
    key_frames = load_key_frames(report, frames_dir=job.frames_dir, video_path=video)
    return render_report(report, key_frames=key_frames, title=f"interview-guard: {names or report.session_id}")


def _write_page(store: JobStore, job_id: str, report_path: Path) -> None:
    """Render report.html once, beside report.json (the server renders it on demand if this fails)."""
    from dataclasses import replace

    from interview_guard.atomic import atomic_write_text

    job = store.get(job_id)
    if job is None:
        return
    try:
        atomic_write_text(job.job_dir / "report.html", render_job_page(replace(job, report_path=report_path)))
    except Exception as exc:  # the report itself is fine; the page is rendered again when it is asked for
        print(
            f"interview-guard worker: warning: the report page could not be rendered: {exc.__class__.__name__}: {exc}",
            file=sys.stderr,
        )


def run(
    data_dir: str | os.PathLike[str],
    job_id: str,
    attempt: int,
    *,
    max_report_mb: float | None = None,
    params_path: str | None = None,
) -> int:
    from interview_guard.atomic import atomic_write_text
    from interview_guard.errors import InterviewGuardError
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.scan import scan_session

    store = JobStore(data_dir)
    job = store.get(job_id)
    if job is None or job.status != "running" or job.attempt != attempt:
        print(f"interview-guard worker: job {job_id} attempt {attempt} is not running; nothing to do", file=sys.stderr)
        return 0
    report_path = job.job_dir / "report.json"
    hook = _progress_hook(store, job_id, attempt, os.getppid())
    session_id = job_session_id(job)
    try:
        hook(Stage.PROBE, completed=0, total=1)
        fusion = FusionModel.load(params_path)  # the server's --params (checked when it started)
        report = scan_session(
            job.session_dir, session_id=session_id, progress=hook, frames_dir=job.frames_dir, fusion=fusion
        )
        report.warnings = [client_file_names(w, job) for w in report.warnings]  # the names the reviewer uploaded
        text = report.to_json()
        size = len(text.encode("utf-8"))
        if max_report_mb and size > max_report_mb * (1 << 20):
            msg = (
                f"the report would be {size / (1 << 20):.0f} MB, over the limit of {max_report_mb:g} MB; "
                "it was not written (is a time span in the input absurd?)"
            )
            store.finish_failed(job_id, attempt, msg)
            print(f"interview-guard worker: scan failed: {msg}", file=sys.stderr)
            return 0
        atomic_write_text(report_path, text)
    except _ServerGone:
        print("interview-guard worker: the server is gone or the job was reset; stopping", file=sys.stderr)
        return 0
    except (InterviewGuardError, OSError) as exc:  # the input's fault (io.session.as_input_error: one mapping)
        # Messages name the server's copy of the file; show the client's name instead.
        msg = client_file_names(str(as_input_error(exc)).replace(str(job.session_dir) + os.sep, ""), job)
        store.finish_failed(job_id, attempt, msg)
        print(f"interview-guard worker: scan failed: {msg}", file=sys.stderr)
        return 0
    except MemoryError:
        msg = "the scan ran out of memory (does the input claim an absurd time span?)"
        store.finish_failed(job_id, attempt, msg)
        print(f"interview-guard worker: scan failed: {msg}", file=sys.stderr)
        return 0
    except Exception as exc:  # a bug in an analyzer or a decoder: record it, the server keeps going
        import traceback

        traceback.print_exc()
        store.finish_failed(job_id, attempt, f"internal error: {exc.__class__.__name__}: {exc}")
        return 1
    for w in report.warnings:
        print(f"interview-guard worker: warning: {w}", file=sys.stderr)
    # Done as soon as report.json is there: the page is a convenience (the server renders it on demand).
    if store.finish_done(job_id, attempt, report_path, report.risk_score, report.band):
        _write_page(store, job_id, report_path)
    return 0


# ----------------------------------------------------------------------------- on an executor (serve --scheduler)


#: The names the server stores an upload under (``web.uploads``): ``video.mp4``, ``audio.wav``, ``keystrokes.jsonl``,
#: ``enrolment.jpg``, ...
_STORED_NAME = re.compile(r"(?<![\w.-])(video|audio|keystrokes|session|enrolment)(\.[A-Za-z0-9]{1,5})(?![\w.-])")


def client_file_names(msg: str, job: Job) -> str:
    """``msg`` with the server's names of the uploaded files (``video.mp4``, ``audio.wav``, ``keystrokes.jsonl``,
    ``session.json``, ``enrolment.jpg``) replaced by the names the client uploaded them under: a scan that fails on
    "t.mp4" says "t.mp4: cannot open ...", not "video.mp4: ...", a name the interviewer never saw."""
    return _client_names(msg, job.session_dir, job.filenames or {})


def _client_names(msg: str, session_dir: str | os.PathLike[str], filenames: dict[str, str]) -> str:
    def client(m: re.Match[str]) -> str:
        role = {"session": "metadata", "enrolment": "enrolment_photo"}.get(m.group(1), m.group(1))
        stored = m.group(0)
        if not (Path(session_dir) / stored).exists():
            return stored
        return filenames.get(role) or stored

    return _STORED_NAME.sub(client, msg)


@dataclass(frozen=True)
class ScanJobSpec:
    """One upload to scan on an executor's worker (a Dask worker that sees the data directory's path)."""

    session_dir: str
    session_id: str
    frames_dir: str  # the server's frames directory: the report records the key frames there
    fusion: Any  # the server's FusionModel (loaded once; workers need not see the parameter file)
    filenames: dict[str, str] = field(default_factory=dict)  # role -> the client's file name (Job.filenames)


@dataclass
class ScanJobOutcome:
    """What :func:`scan_job` returns: the report (JSON) and its key frames, or the one-line failure."""

    report_json: str | None = None
    frames: dict[str, bytes] = field(default_factory=dict)  # file name -> JPEG
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


class _Cancelled(BaseException):
    """The runner cancelled the task (timeout, server stopping, job withdrawn)."""


def _task_hook(min_interval_s: float = 1.0) -> ProgressHook:
    from interview_guard.pipeline.executors import task_cancelled, task_progress

    last_t, last_label, last_p, best = 0.0, "", 0.0, 0.0

    def hook(stage: Stage, *, completed: int, total: int, **info: str) -> None:
        nonlocal last_t, last_label, last_p, best
        if task_cancelled():
            raise _Cancelled()
        p = max(best, scan_fraction(stage, completed, total))
        label = " ".join(x for x in (Stage(stage).value, info.get("detail", "")) if x)
        now = time.monotonic()
        # a new stage, or 1 % more at most once a second: a scan sends ~100 messages (Dask keeps them)
        if label != last_label or (now - last_t >= min_interval_s and p - last_p >= 0.01):
            task_progress([label, min(p, 0.99)])
            last_t, last_label, last_p = now, label, p
        best = p

    return hook


def scan_job(spec: ScanJobSpec) -> ScanJobOutcome:
    """Executor task: scan one upload into its report and key frames; writes nothing but its scratch files.

    Bad input is an outcome with ``error`` (as :func:`run` records it); so is running out of memory. A bug is
    ``error`` too, prefixed "internal error". Cancelled (:func:`~interview_guard.pipeline.executors.task_cancelled`):
    ``error`` says so and nothing else is returned.
    """
    import shutil
    import tempfile

    from interview_guard.errors import InterviewGuardError
    from interview_guard.pipeline.executors import one_blas_thread, worker_scratch_dir
    from interview_guard.pipeline.scan import scan_session
    from interview_guard.report.keyframes import (
        evidence_key_frame_times,
        forget_key_frame_files,
        key_frame_filename,
        record_key_frame_files,
    )

    scratch = worker_scratch_dir()
    if scratch is not None:  # a Dask worker is not the server's child: one BLAS thread here
        one_blas_thread()
    tmp = tempfile.mkdtemp(prefix=f"frames-{os.getpid()}-", dir=scratch)
    try:
        try:
            report = scan_session(
                Path(spec.session_dir),
                session_id=spec.session_id,
                progress=_task_hook(),
                frames_dir=tmp,
                fusion=spec.fusion,
            )
        except _Cancelled:
            return ScanJobOutcome(error="cancelled")
        except (InterviewGuardError, OSError) as exc:
            msg = str(as_input_error(exc)).replace(spec.session_dir.rstrip(os.sep) + os.sep, "")
            return ScanJobOutcome(error=_client_names(msg, spec.session_dir, spec.filenames))
        except MemoryError:
            return ScanJobOutcome(error="the scan ran out of memory (does the input claim an absurd time span?)")
        except Exception as exc:  # a bug: the outcome says so, the server keeps going
            return ScanJobOutcome(error=f"internal error: {exc.__class__.__name__}: {exc}")
        report.warnings = [_client_names(w, spec.session_dir, spec.filenames) for w in report.warnings]
        frames: dict[str, bytes] = {}
        for result in report.analyzers.values():  # the frames were written here; the report names the server's
            for ev in result.evidence:
                forget_key_frame_files(ev.details)
                files = {}
                for t in evidence_key_frame_times(ev.details):
                    name = key_frame_filename(spec.session_id, t)
                    if (Path(tmp) / name).is_file():
                        frames[name] = (Path(tmp) / name).read_bytes()
                        files[t] = str(Path(spec.frames_dir) / name)
                record_key_frame_files(ev.details, files)
        return ScanJobOutcome(report_json=report.to_json(), frames=frames, warnings=list(report.warnings))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit_scan(store: JobStore, job: Job, attempt: int, outcome: Any, *, max_report_mb: float | None) -> None:
    """The runner's part for a job scanned on an executor: key frames, then report.json (atomically), then done.

    ``outcome`` is :func:`scan_job`'s, or a :class:`~interview_guard.pipeline.executors.TaskLost` (its worker
    died); either failure is recorded as the job's error. Every write is guarded by the attempt number.
    """
    from interview_guard.atomic import atomic_write_bytes, atomic_write_text
    from interview_guard.report.model import Report

    if not isinstance(outcome, ScanJobOutcome):
        store.finish_failed(job.id, attempt, f"the scan was lost: {getattr(outcome, 'reason', outcome)}")
        return
    if outcome.report_json is None:
        store.finish_failed(job.id, attempt, client_file_names(outcome.error or "the scan failed", job))
        return
    size = len(outcome.report_json.encode("utf-8"))
    if max_report_mb and size > max_report_mb * (1 << 20):
        store.finish_failed(
            job.id,
            attempt,
            f"the report would be {size / (1 << 20):.0f} MB, over the limit of {max_report_mb:g} MB; "
            "it was not written (is a time span in the input absurd?)",
        )
        return
    current = store.get(job.id)
    if current is None or current.status != "running" or current.attempt != attempt:
        return  # withdrawn meanwhile
    for name, data in outcome.frames.items():
        atomic_write_bytes(job.frames_dir / Path(name).name, data)
    report_path = job.job_dir / "report.json"
    atomic_write_text(report_path, outcome.report_json)
    report = Report.from_json(outcome.report_json)
    if store.finish_done(job.id, attempt, report_path, report.risk_score, report.band):
        _write_page(store, job.id, report_path)


def run_on_executor(runner: Runner, job_id: str, attempt: int) -> None:
    """The runner's job on its executor: submit :func:`scan_job`, relay progress, stop it on timeout or shutdown
    (the local workers' messages), then :func:`commit_scan`."""
    from interview_guard.fusion.model import FusionModel

    job = runner.store.get(job_id)
    if job is None:
        return
    fusion = FusionModel.load(runner.params_path)  # the server's --params, checked when it started
    spec = ScanJobSpec(
        str(job.session_dir), job_session_id(job), str(job.frames_dir), fusion, dict(job.filenames or {})
    )
    task = runner.executor.submit(scan_job, spec)
    with runner._lock:
        runner._tasks[job_id] = task
    t0 = time.monotonic()
    reason = None
    shown = None
    try:
        while not task.done():
            runner._stop.wait(min(runner.poll_s, 0.5))
            progress = task.progress()
            if progress is not None and progress != shown:
                shown = progress
                stage, fraction = progress
                if not runner.store.set_progress(job_id, attempt, str(stage), float(fraction)):
                    task.cancel()  # the job was withdrawn (re-run, marked interrupted) meanwhile
                    return
            if runner._stop.is_set():
                reason = "The server was stopped while this scan was running. Re-run it to scan again."
            elif runner.timeout_s is not None and time.monotonic() - t0 > runner.timeout_s:
                reason = f"the scan took longer than the limit of {runner.timeout_s:g} s and was stopped"
            if reason is not None:
                task.cancel()
                break
    finally:
        with runner._lock:
            runner._tasks.pop(job_id, None)
    if reason is not None:
        runner.store.finish_failed(job_id, attempt, reason, status="interrupted" if runner._stop.is_set() else "failed")
        return
    commit_scan(runner.store, job, attempt, task.outcome(), max_report_mb=runner.max_report_mb)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options: dict[str, str] = {}
    while len(argv) >= 5 and argv[-2] in ("--max-report-mb", "--params") and argv[-2] not in options:
        options[argv[-2]] = argv[-1]
        argv = argv[:-2]
    if len(argv) != 3:
        print(
            "usage: python -m interview_guard.web.worker DATA_DIR JOB_ID ATTEMPT [--max-report-mb N] [--params FILE]",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides; it sends SIGTERM
    from interview_guard.io.spill import remove_spill_on_sigterm

    remove_spill_on_sigterm()  # a stopped scan leaves no spill files behind
    mb = options.get("--max-report-mb")
    return run(
        argv[0],
        argv[1],
        int(argv[2]),
        max_report_mb=None if mb is None else float(mb),
        params_path=options.get("--params"),
    )


if __name__ == "__main__":
    sys.exit(main())
