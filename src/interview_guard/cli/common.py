"""What every command shares: exit codes, the one-line error handling, progress on stderr, writing output."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from interview_guard.progress import ProgressHook, Stage

if TYPE_CHECKING:
    from interview_guard.pipeline.executors import Executor

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BATCH_FAILURES = 0, 1, 2, 3

P = ParamSpec("P")
R = TypeVar("R")


def _err(msg: str) -> None:
    click.echo(msg, err=True)


def _one_line(exc: BaseException) -> str:
    """An error's message on one line (a file name may hold a newline)."""
    return " ".join(str(exc).splitlines())


def _handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn deliberate errors into one line on stderr and exit 1 (a traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        debug = bool(ctx.obj and ctx.obj.get("debug"))
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            from interview_guard.pipeline.executors import Terminated

            terminated = isinstance(exc, Terminated)  # SIGTERM while a local pool ran
            _err("interview-guard: terminated" if terminated else "interview-guard: interrupted")
            ctx.exit(143 if terminated else 130)
        except Exception as exc:
            from interview_guard.io.session import as_input_error

            known = as_input_error(exc)  # deliberate errors, and files that cannot be read or written
            if debug:
                traceback.print_exc()
            if known is not None:
                _err(f"interview-guard: error: {_one_line(known)}")
            elif not debug:  # a bug: say so, briefly
                _err(
                    f"interview-guard: internal error: {exc.__class__.__name__}: {_one_line(exc)}"
                    " (run with --debug for the traceback)"
                )
            ctx.exit(EXIT_ERROR)

    return wrapper


class _SessionBar:
    """Progress on stderr fed by batch's ``progress(Stage.SESSION, completed=, total=, detail=, status=, error=)``.

    On a terminal a progress bar; otherwise (a log file, a pipe, cron) one line per session, since a bar there
    printed its label once and nothing after. A failed session is one line naming it and its error.
    """

    def __init__(self, quiet: bool, *, report_failures: bool = False) -> None:
        self.quiet, self.report_failures = quiet, report_failures
        self.bar: Any = None  # click's progress bar, made on the first update
        self.last = 0
        self.lines = not sys.stderr.isatty()

    def update(self, stage: Stage, *, completed: int, total: int, **info: str) -> None:
        if self.quiet:
            return
        detail = _one_line(Exception(info.get("detail", "")))
        failed = self.report_failures and info.get("status") == "failed"
        error = _one_line(Exception(info.get("error") or "see its report")) if failed else ""
        if self.lines:  # "session X failed: ERROR" as on a terminal (scripts grep for it)
            status = info.get("status", "")
            what = detail if status == "skipped" else f"session {detail} " + (f"failed: {error}" if failed else status)
            _err(f"interview-guard: scanning {completed}/{total}: {what}")
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="scanning", file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        self.bar.update(completed - self.last)
        self.last = completed
        if failed:
            _err(f"\ninterview-guard: session {detail} failed: {error}")

    def __enter__(self) -> _SessionBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def check_output_path(output: str | None, *, what: str = "output") -> None:
    """Make sure ``output`` can be written *before* any work, so a finished report is not lost.

    A scratch file is created and removed in its directory (or, when that is missing, in the nearest
    existing directory above it, where the writer will make the rest). Raises an :class:`InputError`
    naming the path.
    """
    import os
    import tempfile
    from pathlib import Path

    from interview_guard.errors import InputError
    from interview_guard.io.session import input_error_from_os_error

    if not output:
        return
    p = Path(output)
    if p.is_dir():
        raise InputError(f"the {what} is a directory", path=p)
    # the nearest existing directory: the file goes there, or the missing directories are made there
    d = p.absolute().parent
    while not d.exists() and d != d.parent:
        d = d.parent
    if not d.is_dir():
        raise InputError(f"cannot write the {what} here ({d} is not a directory)", path=p)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise input_error_from_os_error(exc, f"cannot write the {what} here", path=p) from None


def _write_text(path: str, text: str) -> None:
    from interview_guard.atomic import atomic_write_text

    atomic_write_text(path, text)


def _emit(text: str, output: str | None, *, quiet: bool, what: str) -> None:
    """``text`` to ``output`` (atomically, with a note on stderr) or to stdout.

    When ``output`` cannot be written after all (the disk filled, the directory went away),
    the text is saved in the temporary directory instead and the error says where: a finished
    report is never lost.
    """
    from interview_guard.errors import InputError
    from interview_guard.pipeline.batch_html import text_safe

    text = text_safe(text)  # a file name that is not UTF-8 must not stop the output
    if output:
        try:
            _write_text(output, text)
        except OSError as exc:
            import tempfile

            fd, saved = tempfile.mkstemp(prefix="interview-guard-", suffix=".out")
            with open(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            reason = exc.strerror or exc.__class__.__name__
            raise InputError(f"cannot write the {what} ({reason}); it was saved to {saved}", path=output) from None
        if not quiet:
            _err(f"interview-guard: {what} written to {output}")
    else:
        click.echo(text, nl=False)


def _stage_printer(label: str) -> ProgressHook:
    def hook(stage: Stage, *, completed: int, total: int, **info: str) -> None:
        what = " ".join(x for x in (Stage(stage).value, info.get("detail", "")) if x)
        _err(f"[{label}] {what} {completed}/{total}")

    return hook


# ------------------------------------------------------------------ options several commands share
def jobs_option() -> Any:
    """``-j/--jobs``: worker processes."""
    return click.option(
        "-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes."
    )


def params_option(help: str = "Fusion parameter file (default: models/fusion.json).") -> Any:
    """``--params FILE``: the fusion parameters (checked by the command itself, not by click)."""
    return click.option(
        "--params", "params_path", type=click.Path(dir_okay=False, readable=False), default=None, help=help
    )


def scheduler_option(help: str) -> Any:
    """``--scheduler tcp://HOST:PORT``: run on a Dask cluster (see :func:`connect_scheduler`); ``help`` says how."""
    return click.option("--scheduler", metavar="tcp://HOST:PORT", default=None, help=help)


def cache_dir_option(help: str = "Keep extracted video tracks here [env: INTERVIEW_GUARD_CACHE].") -> Any:
    """``--cache-dir DIR`` (or ``$INTERVIEW_GUARD_CACHE``): the video-track cache."""
    return click.option(
        "--cache-dir", type=click.Path(file_okay=False), default=None, envvar="INTERVIEW_GUARD_CACHE", help=help
    )


def connect_scheduler(scheduler: str | None, *, quiet: bool) -> Executor | None:
    """The executor of ``--scheduler`` (connected and its workers checked before any work), or None without one.

    An address that cannot be reached is one line naming it (the executor's error); its notes (a worker with
    several threads) are warnings on stderr.
    """
    if scheduler is None:
        return None
    from interview_guard.pipeline.executors import make_executor

    executor = make_executor(scheduler=scheduler)
    for note in executor.notes:
        _err(f"interview-guard: warning: {note}")
    if not quiet:
        _err(f"interview-guard: scanning on {executor.description}")
    return executor
