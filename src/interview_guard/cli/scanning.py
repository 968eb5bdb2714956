"""Commands that scan and report: ``scan``, ``report``, ``batch``, ``analyzers``, ``serve``."""

from __future__ import annotations

import contextlib
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import click

from interview_guard.cli.common import (
    EXIT_BATCH_FAILURES,
    _emit,
    _err,
    _handle_errors,
    _SessionBar,
    _stage_printer,
    cache_dir_option,
    check_output_path,
    connect_scheduler,
    jobs_option,
    params_option,
    scheduler_option,
)
from interview_guard.errors import InterviewGuardError


def _scratch_dir(beside: str) -> tempfile.TemporaryDirectory[str]:
    """A hidden scratch directory beside the file ``beside`` (not in /tmp), removed on exit."""
    parent = Path(beside).absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".ig-frames-", dir=parent)


@click.command()
@click.argument("path", type=click.Path(path_type=str, readable=False))
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
    type=click.Path(dir_okay=False, readable=False),
    default=None,
    help="Write the report to FILE (atomically) instead of stdout.",
)
@params_option()
@click.option(
    "--frames",
    "frames_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the key frames of video evidence as JPEG files into DIR.",
)
@cache_dir_option("Keep extracted video tracks here so a re-scan is instant [env: INTERVIEW_GUARD_CACHE].")
@click.option("--full-rate", is_flag=True, help="Landmark every video frame instead of the adaptive sampler (slow).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, readable=False),
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
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.scan import scan_session

    check_output_path(output, what="report")  # before the scan: a finished report must not be lost
    check_output_path(html_path, what="HTML report")
    fusion = FusionModel.load(params_path)
    # --html without --frames: the key frames go to a scratch directory beside the page, are
    # embedded in it, and their (soon deleted) paths are kept out of the JSON report
    frames_tmp = html_path is not None and frames_dir is None
    with _scratch_dir(html_path) if html_path and frames_tmp else contextlib.nullcontext(frames_dir) as frames:
        report = scan_session(
            path,
            fusion=fusion,
            progress=None if quiet else _stage_printer("scan"),
            cache_dir=cache_dir,
            frames_dir=frames,
            video_options={"mode": "full"} if full_rate else None,
        )
        page: str | None = None
        if html_path:
            from interview_guard.pipeline.keyframes import load_key_frames
            from interview_guard.report.html import render_report

            page = render_report(report, key_frames=load_key_frames(report))  # while the key frames exist
            if frames_tmp:
                from interview_guard.report.keyframes import forget_key_frame_files

                for result in report.analyzers.values():
                    for ev in result.evidence:
                        forget_key_frame_files(ev.details)  # the roles stay, the paths go
    # the report is serialised before anything is written: a scan whose report cannot be (a bug) writes no page
    checked = report.to_json()  # a path that is not UTF-8 as JSON escapes
    if fmt == "json":
        text = checked
    else:
        from interview_guard.report.text import format_text

        text = format_text(report)
    page_error: InterviewGuardError | None = None
    if page is not None and html_path:
        try:  # a page that cannot be written is reported after the JSON report is out, not instead
            _emit(page, html_path, quiet=quiet, what="HTML report")
        except InterviewGuardError as exc:
            page_error = exc
    for w in report.warnings:
        _err(f"interview-guard: warning: {w}")
    _emit(text, output, quiet=quiet, what="report")
    if page_error is not None:
        raise page_error


@click.command("report")
@click.argument("result", type=click.Path(dir_okay=False, path_type=str, readable=False))
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
    type=click.Path(dir_okay=False, readable=False),
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

    check_output_path(output, what="report" if fmt == "text" else "HTML report")
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
    if not quiet:
        _warn_missing_frames(result, rep, key_frames)


def _warn_missing_frames(result: str, rep: Any, key_frames: Any) -> None:
    """One warning line when key frames the report names are not in the page (the page says which)."""
    from interview_guard.pipeline.batch_html import text_safe
    from interview_guard.report.keyframes import MAX_KEY_FRAMES, wanted_key_frame_times

    wanted = wanted_key_frame_times(ev.details for r in rep.analyzers.values() for ev in r.evidence)[:MAX_KEY_FRAMES]
    missing = [t for t in wanted if key_frames.get(t) is None]
    if not missing:
        return
    why = (
        f"decoding them from the video failed ({key_frames.video_error})"
        if key_frames.video_error
        else "not saved where the report says, nor in --frames, nor decodable from the video"
    )
    _err(
        f"interview-guard: warning: {text_safe(result)}: {len(missing)} of {len(wanted)} key frames are missing "
        f"from the page: {why}"
    )


@click.command()
@click.argument("root", type=click.Path(path_type=str, readable=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@jobs_option()
@params_option()
@click.option(
    "--retry-failed/--no-retry-failed",
    default=True,
    show_default=True,
    help="Re-scan sessions whose earlier report says failed.",
)
@cache_dir_option()
@click.option(
    "--html",
    is_flag=True,
    help="Also write an HTML page per session (beside its JSON) and OUT/index.html ranking them.",
)
@click.option(
    "--index",
    "index_path",
    type=click.Path(dir_okay=False, readable=False),
    default=None,
    help="Identity index to add the sessions to and match them against (default: OUT/identity.sqlite); "
    "one long-lived index matches every new batch against all earlier ones.",
)
@scheduler_option(
    "Scan on the Dask cluster whose scheduler listens here (dask scheduler / dask worker, started by you; "
    "inputs on a path every worker sees) instead of local processes; -j is then ignored. Reports are written "
    "here. Needs pip install 'interview-guard[cluster]'; see docs/cluster.md."
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
    index_path: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Scan every session under ROOT in parallel; resumable (finished sessions are skipped).

    Each session's face and typing descriptors go into an identity index; OUT/matches.csv lists the pairs of
    sessions under different candidate ids that match (see the matches command).
    """
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.batch import run_batch
    from interview_guard.report.text import format_summary

    FusionModel.load(params_path)  # fail early on a bad parameter file
    executor = connect_scheduler(scheduler, quiet=quiet)  # connect and check the workers before any work
    with (
        executor if executor is not None else contextlib.nullcontext(),
        _SessionBar(quiet, report_failures=True) as bar,
    ):
        result = run_batch(
            root,
            out_dir,
            jobs=jobs,
            fusion_path=params_path,
            retry_failed=retry_failed,
            progress=bar.update,
            cache_dir=cache_dir,
            html=html,
            index_path=index_path,
            executor=executor,
            notify=lambda line: _err(f"interview-guard: warning: {line}"),
        )
    click.echo(format_summary(result.summary_path), nl=False)
    _err(
        f"interview-guard: {result.total} sessions: {result.scanned} scanned, {result.skipped} already done, "
        f"{result.failed} failed; summary: {result.summary_path}"
        + (f"; HTML index: {result.index_path}" if result.index_path else "")
        + f"; {result.matches} identity match(es): {result.matches_path}"
        + (f"; {result.pruned} session(s) whose input is gone dropped from the index" if result.pruned else "")
    )
    if result.failed:
        ctx.exit(EXIT_BATCH_FAILURES)


@click.command("analyzers")
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


@click.command()
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
    "--token-file",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Named reviewer tokens, one 'name:token' per line; verdicts are recorded under the name.",
)
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Parameter file every scan uses: band thresholds and fusion parameters (models/fusion.json's format; "
    "default: $INTERVIEW_GUARD_FUSION or models/fusion.json). Shown on every report page.",
)
@click.option(
    "--retain-days",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    help="Delete uploaded files (not reports or verdicts) of scans older than N days [default: keep].",
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
    "--workers",
    "jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Scans running at the same time (one local process each, or tasks on the --scheduler cluster).",
)
@scheduler_option(
    "Run the scans on the Dask cluster whose scheduler listens here, as batch --scheduler does (the data "
    "directory on a path every worker sees; --scan-memory-mb is then the workers' own --memory-limit). Needs "
    "pip install 'interview-guard[cluster]'; see docs/cluster.md."
)
@click.option(
    "--scan-timeout",
    type=click.FloatRange(0.0),
    default=None,
    help="Stop a scan after this many seconds and record it as failed [default: 3600; 0: no limit].",
)
@click.option(
    "--scan-memory-mb",
    type=click.FloatRange(0.0),
    default=None,
    help="Stop a scan whose worker uses more memory than this (MB) [default: 4096; 0: no limit].",
)
@click.option(
    "--max-report-mb",
    type=click.FloatRange(0.0),
    default=None,
    help="Refuse a report larger than this (MB) [default: 64; 0: no limit].",
)
@_handle_errors
def serve(
    host: str,
    port: int,
    data_dir: str,
    token: str | None,
    token_file: str | None,
    params_path: str | None,
    retain_days: float | None,
    max_upload_mb: int,
    jobs: int,
    scheduler: str | None,
    scan_timeout: float | None,
    scan_memory_mb: float | None,
    max_report_mb: float | None,
) -> None:
    """Serve the upload page: drop a recording in a browser, follow the scan, read the report, record a verdict."""
    try:
        from interview_guard.web.app import run_server  # FastAPI and uvicorn load only here
        from interview_guard.web.security import load_token_file
    except ImportError as exc:  # pragma: no cover - a broken install
        raise click.ClickException(f"the web server needs fastapi, uvicorn and python-multipart ({exc})") from None
    tokens = load_token_file(token_file) if token_file else None
    executor = connect_scheduler(scheduler, quiet=False)  # an unreachable scheduler: one line, before serving
    with executor if executor is not None else contextlib.nullcontext():
        run_server(
            host=host,
            port=port,
            data_dir=data_dir,
            token=token or None,
            tokens=tokens,
            params_path=params_path,
            retain_days=retain_days,
            max_upload_bytes=max_upload_mb << 20,
            workers=jobs,
            executor=executor,
            job_timeout_s=scan_timeout,
            scan_memory_mb=scan_memory_mb,
            max_report_mb=max_report_mb,
        )
