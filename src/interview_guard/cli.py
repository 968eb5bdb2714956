"""The ``interview-guard`` command line.

Reports (JSON or text) go to stdout or to ``-o FILE``; progress, warnings and
errors go to stderr only. Exit codes: 0 ok, 1 error (bad input, unreadable
file, missing model), 2 usage error, 3 batch finished but some sessions failed.
"""

from __future__ import annotations

import functools
import os
import sys
import textwrap
import traceback
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from interview_guard._version import __version__
from interview_guard.errors import InterviewGuardError
from interview_guard.progress import ProgressHook, Stage

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BATCH_FAILURES = 0, 1, 2, 3

P = ParamSpec("P")
R = TypeVar("R")


def _err(msg: str) -> None:
    click.echo(msg, err=True)


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
        except InterviewGuardError as exc:
            if debug:
                traceback.print_exc()
            _err(f"interview-guard: error: {exc}")
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            _err("interview-guard: interrupted")
            ctx.exit(130)
        except Exception as exc:  # a bug: say so, briefly, unless debugging
            if debug:
                traceback.print_exc()
            else:
                _err(
                    f"interview-guard: internal error: {exc.__class__.__name__}: {exc}"
                    " (run with --debug for the traceback)"
                )
            ctx.exit(EXIT_ERROR)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="interview-guard")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Check recorded remote job-interview sessions for signs of fraud.

    \b
    Exit codes: 0 ok, 1 error, 2 usage error, 3 batch finished with failed sessions.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:  # keep MediaPipe/TFLite's native log lines (io.native_stderr); worker processes inherit it
        os.environ["INTERVIEW_GUARD_NATIVE_LOGS"] = "1"


class _SessionBar:
    """A progress bar on stderr fed by batch's ``progress(Stage.SESSION, completed=, total=, detail=, status=)``."""

    def __init__(self, quiet: bool, *, report_failures: bool = False) -> None:
        self.quiet, self.report_failures = quiet, report_failures
        self.bar: Any = None  # click's progress bar, made on the first update
        self.last = 0

    def update(self, stage: Stage, *, completed: int, total: int, **info: str) -> None:
        if self.quiet:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="scanning", file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        self.bar.update(completed - self.last)
        self.last = completed
        if self.report_failures and info.get("status") == "failed":
            _err(f"\ninterview-guard: session {info.get('detail', '')} failed (see its report)")

    def __enter__(self) -> _SessionBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _emit(text: str, output: str | None, *, quiet: bool, what: str) -> None:
    """``text`` to ``output`` (atomically, with a note on stderr) or to stdout."""
    from interview_guard.atomic import atomic_write_text

    if output:
        atomic_write_text(output, text)
        if not quiet:
            _err(f"interview-guard: {what} written to {output}")
    else:
        click.echo(text, nl=False)


def _stage_printer(label: str) -> ProgressHook:
    def hook(stage: Stage, *, completed: int, total: int, **info: str) -> None:
        what = " ".join(x for x in (Stage(stage).value, info.get("detail", "")) if x)
        _err(f"[{label}] {what} {completed}/{total}")

    return hook


@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="JSON report or a human summary.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to FILE (atomically) instead of stdout.",
)
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Fusion parameter file (default: models/fusion.json).",
)
@click.option(
    "--frames",
    "frames_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the key frames of video evidence as JPEG files into DIR.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="INTERVIEW_GUARD_CACHE",
    help="Keep extracted video tracks here so a re-scan is instant [env: INTERVIEW_GUARD_CACHE].",
)
@click.option("--full-rate", is_flag=True, help="Landmark every video frame instead of the adaptive sampler (slow).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write a self-contained HTML report (key frames embedded) to FILE.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@_handle_errors
def scan(
    path: str,
    fmt: str,
    output: str | None,
    params_path: str | None,
    frames_dir: str | None,
    cache_dir: str | None,
    full_rate: bool,
    html_path: str | None,
    quiet: bool,
) -> None:
    """Scan one session: a directory (video.*, audio.*, keystrokes.jsonl, session.json) or a single file."""
    import tempfile

    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.scan import scan_session

    fusion = FusionModel.load(params_path)
    with tempfile.TemporaryDirectory(prefix="ig-frames-") as tmp_frames:
        # --html without --frames: the key frames go to a temporary directory, are embedded in
        # the page, and their (soon deleted) paths are kept out of the JSON report
        frames_tmp = html_path is not None and frames_dir is None
        report = scan_session(
            path,
            fusion=fusion,
            progress=None if quiet else _stage_printer("scan"),
            cache_dir=cache_dir,
            frames_dir=tmp_frames if frames_tmp else frames_dir,
            video_options={"mode": "full"} if full_rate else None,
        )
        if html_path:
            from interview_guard.pipeline.keyframes import load_key_frames
            from interview_guard.report.html import write_report_html

            write_report_html(html_path, report, key_frames=load_key_frames(report))
            if frames_tmp:
                for result in report.analyzers.values():
                    for ev in result.evidence:
                        ev.details.pop("key_frames", None)
            if not quiet:
                _err(f"interview-guard: HTML report written to {html_path}")
    for w in report.warnings:
        _err(f"interview-guard: warning: {w}")
    if fmt == "json":
        text = report.to_json()
    else:
        from interview_guard.report.text import format_text

        text = format_text(report)
    _emit(text, output, quiet=quiet, what="report")


@main.command("report")
@click.argument("result", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text"]),
    default="html",
    show_default=True,
    help="A self-contained HTML page, or the human summary scan --format text prints.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the page (or text) to FILE (atomically) instead of stdout.",
)
@click.option(
    "--frames",
    "frames_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory holding the key frames written by scan --frames (when their recorded paths moved).",
)
@click.option(
    "--video",
    "video_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The session's video, to decode key frames that were not saved "
    "(default: the video recorded in the report, if still there).",
)
@click.option("--title", default=None, help="Page title (default: interview-guard: <session id>).")
@click.option("-q", "--quiet", is_flag=True, help="No message on stderr.")
@_handle_errors
def report_cmd(
    result: str,
    fmt: str,
    output: str | None,
    frames_dir: str | None,
    video_path: str | None,
    title: str | None,
    quiet: bool,
) -> None:
    """Render a saved JSON report (from scan or batch) as a self-contained HTML page, or as text."""
    from interview_guard.report.model import read_report

    rep = read_report(result)
    if fmt == "text":
        from interview_guard.report.text import format_text

        _emit(format_text(rep), output, quiet=quiet, what="report")
        return
    from interview_guard.pipeline.keyframes import load_key_frames
    from interview_guard.report.html import render_report

    key_frames = load_key_frames(rep, frames_dir=frames_dir, video_path=video_path)
    page = render_report(rep, key_frames=key_frames, title=title)
    _emit(page, output, quiet=quiet, what="HTML report")


@main.command()
@click.argument("root", type=click.Path(path_type=str))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Fusion parameter file (default: models/fusion.json).",
)
@click.option(
    "--retry-failed/--no-retry-failed",
    default=True,
    show_default=True,
    help="Re-scan sessions whose earlier report says failed.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="INTERVIEW_GUARD_CACHE",
    help="Keep extracted video tracks here [env: INTERVIEW_GUARD_CACHE].",
)
@click.option(
    "--html",
    is_flag=True,
    help="Also write an HTML page per session (beside its JSON) and OUT/index.html ranking them.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
@_handle_errors
def batch(
    ctx: click.Context,
    root: str,
    out_dir: str,
    jobs: int,
    params_path: str | None,
    retry_failed: bool,
    cache_dir: str | None,
    html: bool,
    quiet: bool,
) -> None:
    """Scan every session under ROOT in parallel; resumable (finished sessions are skipped)."""
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.batch import run_batch
    from interview_guard.report.text import format_summary

    FusionModel.load(params_path)  # fail early on a bad parameter file
    with _SessionBar(quiet, report_failures=True) as bar:
        result = run_batch(
            root,
            out_dir,
            jobs=jobs,
            fusion_path=params_path,
            retry_failed=retry_failed,
            progress=bar.update,
            cache_dir=cache_dir,
            html=html,
        )
    click.echo(format_summary(result.summary_path), nl=False)
    _err(
        f"interview-guard: {result.total} sessions: {result.scanned} scanned, {result.skipped} already done, "
        f"{result.failed} failed; summary: {result.summary_path}"
        + (f"; HTML index: {result.index_path}" if result.index_path else "")
    )
    if result.failed:
        ctx.exit(EXIT_BATCH_FAILURES)


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=str))
@click.option("--n", "n", type=click.IntRange(1), required=True, help="Number of sessions.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same sessions.")
@click.option(
    "--kinds",
    default=None,
    help="Comma-separated kinds (default: all). "
    "genuine,faceswap,relay,avoffset,mismatched_audio,handwave_genuine,handwave_faceswap",
)
@click.option(
    "--faces",
    "faces_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Real face clips (+ stills/).",
)
@click.option(
    "--speech", "speech_dir", type=click.Path(exists=True, file_okay=False), default=None, help="Speech files (wav)."
)
@click.option(
    "--hands",
    "hands_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Hand photos with *_mask.png.",
)
@click.option(
    "--keystrokes",
    "keystrokes_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Aalto *_keystrokes.txt or *.jsonl logs (searched recursively).",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(1.0),
    default=20.0,
    show_default=True,
    help="Longest video (shorter clips keep their length).",
)
@click.option(
    "--typing-seconds",
    type=click.FloatRange(1.0),
    default=240.0,
    show_default=True,
    help="Length of each keystroke log's typing (may run past the video).",
)
@click.option(
    "--keyboard-audio/--no-keyboard-audio",
    default=True,
    show_default=True,
    help="Render key clicks into the audio (30 %% of sessions get noise suppression).",
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--permissive-only",
    is_flag=True,
    help="Only face/speech/keystroke inputs licensed Apache-2.0, MIT or CC BY (hand masks stay internal-only).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@_handle_errors
def synth(
    out: str,
    n: int,
    seed: int,
    kinds: str | None,
    faces_dir: str | None,
    speech_dir: str | None,
    hands_dir: str | None,
    keystrokes_dir: str | None,
    max_seconds: float,
    typing_seconds: float,
    keyboard_audio: bool,
    jobs: int,
    permissive_only: bool,
    quiet: bool,
) -> None:
    """Write N labelled synthetic sessions (real inputs, real manipulations) under OUT."""
    from interview_guard.synth.generate import KINDS, generate

    chosen = KINDS if not kinds else tuple(k.strip() for k in kinds.split(",") if k.strip())
    bad = [k for k in chosen if k not in KINDS]
    if bad:
        raise click.UsageError(f"unknown kind(s): {', '.join(bad)} (choose from {', '.join(KINDS)})")
    paths = generate(
        out,
        n=n,
        seed=seed,
        kinds=chosen,
        faces_dir=faces_dir,
        speech_dir=speech_dir,
        hands_dir=hands_dir,
        keystrokes_dir=keystrokes_dir,
        max_seconds=max_seconds,
        typing_seconds=typing_seconds,
        keyboard_audio=keyboard_audio,
        jobs=jobs,
        permissive_only=permissive_only,
        progress=None if quiet else _stage_printer("synth"),
    )
    for p in paths:
        click.echo(str(p))


@main.command()
@click.argument("root", type=click.Path(exists=True, path_type=str))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Fusion parameter file to write (also FILE.report.json and FILE.reliability.png).",
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--fpr",
    type=click.FloatRange(0.0, 0.5, min_open=True),
    default=0.05,
    show_default=True,
    help="False-positive rate of the medium band (the high band uses FPR/5).",
)
@click.option(
    "--folds",
    type=click.IntRange(2, 100),
    default=5,
    show_default=True,
    help="Stratified cross-validation folds for the out-of-fold numbers.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fold assignment.")
@click.option(
    "--l2",
    type=click.FloatRange(0.0, min_open=True),
    default=0.1,
    show_default=True,
    help="L2 penalty on the weights (0.1: prior weight sd about 3).",
)
@click.option(
    "--prior",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="Share of manipulated sessions the risk is stated for (classes are weighted equally in the fit).",
)
@click.option(
    "--shrink",
    type=click.Choice(["zero", "base"]),
    default="zero",
    show_default=True,
    help="Pull the weights towards 0, or towards the base parameters' weights (--params) as a prior.",
)
@click.option(
    "--keep-base",
    "keep_base",
    multiple=True,
    metavar="ANALYZER",
    help="Do not fit this analyzer: keep its base weight and centre (repeatable).",
)
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the per-session reports here; a re-run reuses them (default: a temporary directory).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="INTERVIEW_GUARD_CACHE",
    help="Keep extracted video tracks here [env: INTERVIEW_GUARD_CACHE].",
)
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Base parameters: defaults and never-run analyzers (default: models/fusion.json).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_handle_errors
def calibrate(
    root: str,
    output: str,
    jobs: int,
    fpr: float,
    folds: int,
    seed: int,
    l2: float,
    prior: float,
    shrink: str,
    keep_base: tuple[str, ...],
    reports_dir: str | None,
    cache_dir: str | None,
    params_path: str | None,
    quiet: bool,
) -> None:
    """Fit the fusion parameters on the labelled sessions under ROOT (session dirs with label.json)."""
    from interview_guard.fusion.fit import fit_fusion
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.calibrate import collect_scores

    base = FusionModel.load(params_path)  # fail early on a bad parameter file
    with _SessionBar(quiet) as bar:
        table = collect_scores(
            root, jobs=jobs, cache_dir=cache_dir, reports_dir=reports_dir, progress=bar.update, fusion_path=params_path
        )
    result = fit_fusion(
        table, folds=folds, seed=seed, l2=l2, fpr=fpr, prior=prior, shrink=shrink, keep_base=keep_base, base=base
    )
    paths = result.write(output)
    click.echo(result.format_text(), nl=False)
    if not quiet:
        _err(
            f"interview-guard: fusion parameters written to {paths['fusion']} "
            f"(metrics: {paths['report']}, reliability plot: {paths['reliability']})"
        )


@main.command("analyzers")
@_handle_errors
def list_analyzers() -> None:
    """List the registered analyzers, what each needs, and its parameters."""
    from interview_guard.analyzers import registry

    for name, cls in registry().items():
        needs = ", ".join(sorted(s.value for s in cls.requires))
        click.echo(f"{name}")
        click.echo(f"  needs: {needs}")
        click.echo(textwrap.fill(cls.description, width=88, initial_indent="  ", subsequent_indent="  "))
        params = ", ".join(f"{p}={spec.default!r}" for p, spec in cls.parameters.items())
        click.echo(textwrap.fill(f"parameters: {params}", width=88, initial_indent="  ", subsequent_indent="    "))


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; on anything but loopback set a token (docs/web.md).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default="interview-guard-data",
    show_default=True,
    envvar="INTERVIEW_GUARD_DATA",
    help="Uploads, reports and the jobs database [env: INTERVIEW_GUARD_DATA].",
)
@click.option(
    "--token",
    default=None,
    envvar="INTERVIEW_GUARD_TOKEN",
    help="Access token: 'Authorization: Bearer TOKEN', or open the page once with ?token=TOKEN "
    "[env: INTERVIEW_GUARD_TOKEN].",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 1 << 20),
    default=1024,
    show_default=True,
    help="Largest upload (video + keystroke log + session.json) in MB.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Scans running at the same time (one process each).",
)
@click.option("--scan-timeout", type=click.FloatRange(1.0), default=None, help="Stop a scan after this many seconds.")
@_handle_errors
def serve(
    host: str, port: int, data_dir: str, token: str | None, max_upload_mb: int, jobs: int, scan_timeout: float | None
) -> None:
    """Serve the upload page: drop a recording in a browser, follow the scan, read the report."""
    try:
        from interview_guard.web.app import run_server  # FastAPI and uvicorn load only here
    except ImportError as exc:  # pragma: no cover - a broken install
        raise click.ClickException(f"the web server needs fastapi, uvicorn and python-multipart ({exc})") from None
    run_server(
        host=host,
        port=port,
        data_dir=data_dir,
        token=token or None,
        max_upload_bytes=max_upload_mb << 20,
        workers=jobs,
        job_timeout_s=scan_timeout,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
