"""``interview-guard matches``: the cross-session identity matches of an index; ``--forget`` a candidate."""

from __future__ import annotations

from pathlib import Path

import click

from interview_guard.cli.common import _emit, _err, _handle_errors, check_output_path


def _index_file(out: str) -> Path:
    """``OUT`` is a batch output directory (its ``identity.sqlite``) or an index file itself."""
    from interview_guard.pipeline.matching import INDEX_NAME

    p = Path(out)
    return p / INDEX_NAME if p.is_dir() else p


@click.command("matches")
@click.argument("out", type=click.Path(path_type=str, readable=False))
@click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="List pairs scoring at least S (P(same person); 0: every scored pair). "
    "Default: the pairs banded strong or possible.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="The table as CSV (the columns of matches.csv) or JSON.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, readable=False),
    default=None,
    help="Write the table to FILE (atomically) instead of stdout.",
)
@click.option(
    "--forget",
    "forget",
    metavar="CANDIDATE_ID",
    default=None,
    help="Delete every descriptor of this candidate from the index (and rewrite OUT/matches.csv).",
)
@click.option("-q", "--quiet", is_flag=True, help="No message on stderr.")
@_handle_errors
def matches(out: str, min_score: float | None, fmt: str, output: str | None, forget: str | None, quiet: bool) -> None:
    """Pairs of sessions under different candidate ids whose face or typing match, from the identity index.

    OUT is a batch output directory (its identity.sqlite) or an index file (batch --index PATH).
    """
    from interview_guard.io.identity_index import IdentityIndex
    from interview_guard.pipeline.matching import MATCHES_NAME, find_matches, matches_csv, matches_json

    path = _index_file(out)
    check_output_path(output, what="matches table")
    with IdentityIndex(path, create=False) as ix:
        if forget is not None:
            n, sessions = ix.forget(forget)
            if n == 0 and sessions == 0:
                _nothing_forgotten(forget, set(ix.candidates().values()), path)
                return
            table = Path(out) / MATCHES_NAME
            rewritten = Path(out).is_dir() and table.is_file()
            if rewritten:
                from interview_guard.pipeline.matching import write_matches_csv

                write_matches_csv(table, find_matches(ix))
            _err(
                f"interview-guard: candidate {forget!r}: {n} descriptor(s) of {sessions} session(s) deleted "
                f"from {path}" + (f"; {table} rewritten" if rewritten else "")
            )
            return
        found = find_matches(ix, min_score=min_score)
    text = matches_json(found) if fmt == "json" else matches_csv(found)
    _emit(text, output, quiet=quiet, what="matches table")


def _nothing_forgotten(candidate: str, known: set[str | None], path: Path) -> None:
    """``--forget`` deleted nothing: an id forgotten before is said so; an id the index never held is an error
    (a typo must not read as a deletion done), with the nearest stored ids."""
    import difflib

    from interview_guard.errors import InputError

    if candidate in known:
        _err(f"interview-guard: candidate {candidate!r} was already forgotten in {path}: nothing left to delete")
        return
    ids = sorted(c for c in known if c)
    near = difflib.get_close_matches(candidate, ids, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in near)}?" if near else f" ({len(ids)} candidate ids stored)"
    raise InputError(f"no session of candidate {candidate!r} in the index: nothing deleted{hint}", path=path)
