"""Commands for calibrating detectors: ``synth`` (labelled sessions) and ``calibrate`` (fit the fusion)."""

from __future__ import annotations

import contextlib

import click

from interview_guard.cli.common import (
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


@click.command()
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
    help="Render key clicks into the audio (30 % of sessions get noise suppression).",
)
@jobs_option()
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


@click.command()
@click.argument("root", required=False, type=click.Path(exists=True, path_type=str, readable=False))
@click.option(
    "--from-reviews",
    "reviews_dir",
    type=click.Path(exists=True, file_okay=False, path_type=str),
    default=None,
    metavar="DATA_DIR",
    help="Fit on the verdicts of 'serve' reviewers in DATA_DIR instead of labelled sessions under ROOT "
    "(fraud = manipulated, genuine = genuine, unsure left out).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, readable=False),
    help="Fusion parameter file to write (also FILE.report.json and FILE.reliability.png).",
)
@jobs_option()
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
@cache_dir_option()
@params_option("Base parameters: defaults and never-run analyzers (default: models/fusion.json).")
@scheduler_option(
    "Scan the sessions on this Dask cluster instead of local processes, as batch --scheduler does "
    "(docs/cluster.md); -j is then ignored."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_handle_errors
def calibrate(
    root: str | None,
    reviews_dir: str | None,
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
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Fit the fusion parameters on the labelled sessions under ROOT (session dirs with label.json).

    With --from-reviews DATA_DIR instead of ROOT: on the scans reviewers gave a verdict in 'serve'.
    """
    from interview_guard.fusion.fit import fit_fusion
    from interview_guard.fusion.model import FusionModel
    from interview_guard.pipeline.calibrate import BAD_LABEL, collect_review_scores, collect_scores

    if (root is None) == (reviews_dir is None):
        raise click.UsageError("give either ROOT (labelled sessions) or --from-reviews DATA_DIR, not both")
    if reviews_dir is not None and (reports_dir is not None or cache_dir is not None or scheduler is not None):
        raise click.UsageError(
            "--reports, --cache-dir and --scheduler are for ROOT: --from-reviews reads the server's reports"
        )
    check_output_path(output, what="fusion parameter file")  # before the scans, not after
    base = FusionModel.load(params_path)  # fail early on a bad parameter file
    from interview_guard.analyzers import registry

    unknown = [a for a in dict.fromkeys(keep_base) if a not in registry() and a not in base.weights]
    if unknown:  # before the scans: a typo was reported only after all of them
        known = ", ".join(sorted(set(registry()) | set(base.weights)))
        raise click.BadParameter(f"unknown analyzer(s) {', '.join(unknown)} (known: {known})", param_hint="--keep-base")
    if reviews_dir is not None:
        table = collect_review_scores(reviews_dir)  # the server's reports: nothing to scan
    else:
        assert root is not None
        executor = connect_scheduler(scheduler, quiet=quiet)  # before any work, as batch does
        with executor if executor is not None else contextlib.nullcontext(), _SessionBar(quiet) as bar:
            table = collect_scores(
                root,
                jobs=jobs,
                cache_dir=cache_dir,
                reports_dir=reports_dir,
                progress=bar.update,
                fusion_path=params_path,
                executor=executor,
                min_per_class=2,  # what the cross-validated fit needs: known from the labels, before the scans
            )
        for sid, why in table.excluded:  # a labelled session left out of the fit is news, not only a report line
            if why.startswith(BAD_LABEL):
                _err(f"interview-guard: warning: {why.removeprefix(BAD_LABEL)} (session {sid} excluded)")
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
