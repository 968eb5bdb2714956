"""The ``interview-guard`` command line.

Reports (JSON or text) go to stdout or to ``-o FILE``; progress, warnings and
errors go to stderr only. Exit codes: 0 ok, 1 error (bad input, unreadable
file, missing model), 2 usage error, 3 batch finished but some sessions failed.

The commands live in :mod:`interview_guard.cli.scanning` (scan, report, batch,
analyzers, serve), :mod:`interview_guard.cli.matching` (matches) and
:mod:`interview_guard.cli.research` (synth, calibrate).
"""

from __future__ import annotations

import os

# One BLAS thread per process, set before numpy loads: the face descriptor's small matrix products get slower,
# not faster, with more (docs/face-descriptor.md), and batch workers (forked from here) and the web server's scan
# processes inherit it. An explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import click  # noqa: E402

from interview_guard._version import __version__  # noqa: E402
from interview_guard.cli import matching, research, scanning  # noqa: E402

__all__ = ["main"]


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the version, then the runtime a report made here would record (``runtime``)."""
    if not value or ctx.resilient_parsing:
        return
    from interview_guard.io.runtime import runtime_versions

    click.echo(f"interview-guard, version {__version__}")
    click.echo("runtime: " + ", ".join(f"{k} {v}" for k, v in runtime_versions().items()))
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and the library versions a report made here records, and exit.",
)
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


for _command in (
    scanning.scan,
    scanning.report_cmd,
    scanning.batch,
    matching.matches,
    research.synth,
    research.calibrate,
    scanning.list_analyzers,
    scanning.serve,
):
    main.add_command(_command)
