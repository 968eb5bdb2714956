"""``interview-guard matches``: the cross-session identity matches of an index; ``--forget`` a candidate."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import click

from interview_guard.cli.common import _emit, _err, _handle_errors, check_output_path

if TYPE_CHECKING:
    from interview_guard.io.identity_index import IdentityIndex


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
    help="Delete every descriptor of this candidate from the index (and rewrite OUT/matches.csv; "
    "refused while a batch writes OUT or uses the index).",
)
@click.option(
    "--unforget",
    "unforget",
    metavar="CANDIDATE_ID",
    default=None,
    help="Undo --forget for this candidate: the next batch on their input scans and indexes them again.",
)
@click.option(
    "--prune-unknown",
    is_flag=True,
    help="Drop the sessions whose input is unknown (indexed by an older version and not found by a batch "
    "since: no batch can tell whether their input is gone); a batch that finds their input indexes it again.",
)
@click.option("-q", "--quiet", is_flag=True, help="No message on stderr.")
@_handle_errors
def matches(
    out: str,
    min_score: float | None,
    fmt: str,
    output: str | None,
    forget: str | None,
    unforget: str | None,
    prune_unknown: bool,
    quiet: bool,
) -> None:
    """Pairs of sessions under different candidate ids whose face or typing match, from the identity index.

    OUT is a batch output directory (its identity.sqlite) or an index file (batch --index PATH).
    """
    if forget is not None and unforget is not None:
        raise click.UsageError("give --forget and --unforget one at a time")
    if prune_unknown and (forget is not None or unforget is not None):
        raise click.UsageError("give --prune-unknown alone, not with --forget or --unforget")
    from interview_guard.errors import InputError
    from interview_guard.io.identity_index import IdentityIndex
    from interview_guard.pipeline.matching import find_matches, matches_csv, matches_json

    path = _index_file(out)
    check_output_path(output, what="matches table")
    try:
        with IdentityIndex(path, create=False) as ix:
            if forget is not None:
                with _batch_lock(out):  # it rewrites OUT's files: not while a batch writes them
                    _forget(ix, out, path, forget)
                return
            if unforget is not None:
                with _batch_lock(out):
                    _unforget(ix, path, unforget)
                return
            if prune_unknown:
                with _batch_lock(out):
                    _prune_unknown(ix, out, path)
                return
            found = find_matches(ix, min_score=min_score)
            unknown = set(ix.unknown_inputs())
    except sqlite3.DatabaseError as exc:  # a damaged index: its header and tables opened, a page read later did not
        raise InputError(f"not a readable identity index ({exc})", path=path) from None
    text = matches_json(found) if fmt == "json" else matches_csv(found)
    _emit(text, output, quiet=quiet, what="matches table")
    if unknown and not quiet:
        listed = sum(1 for m in found if m.session_a in unknown or m.session_b in unknown)
        _err(
            f"interview-guard: note: {path}: {len(unknown)} session(s) with no recorded input (input unknown: "
            f"indexed by an older version, not found by a batch since); {listed} of the {len(found)} pair(s) listed "
            "involve them; --prune-unknown drops them"
        )


def _batch_lock(out: str) -> contextlib.AbstractContextManager[object]:
    """OUT's batch lock when OUT is a batch directory (the one ``batch`` holds: one writer of OUT at a time)."""
    if not Path(out).is_dir():
        return contextlib.nullcontext()
    from interview_guard.pipeline.batch_output import BatchLock

    return BatchLock(out)


def _index_lock(path: Path) -> contextlib.AbstractContextManager[object]:
    """The index's own lock, exclusively: every batch using this index holds it shared for its run (whatever its
    OUT, e.g. ``batch --index PATH``), so a change to the index is refused while one runs instead of being
    undone by a session it scanned before the change and stores after it."""
    from interview_guard.pipeline.batch_output import IndexLock

    return IndexLock(path, exclusive=True)


def _forget(ix: IdentityIndex, out: str, path: Path, candidate: str) -> None:
    """Delete a candidate's descriptors; rewrite OUT/matches.csv when OUT is a batch directory."""
    with _index_lock(path):
        n, sessions = ix.forget(candidate)
    if n == 0 and sessions == 0:
        _nothing_forgotten(candidate, set(ix.candidates().values()), path)
        return
    _err(
        f"interview-guard: candidate {candidate!r}: {n} descriptor(s) of {sessions} session(s) deleted "
        f"from {path}" + _rewrite_table(ix, out)
    )


def _rewrite_table(ix: IdentityIndex, out: str) -> str:
    """Rewrite OUT/matches.csv from the index when OUT is a batch directory with one; what to add to the message."""
    from interview_guard.pipeline.matching import MATCHES_NAME, rematch_batch

    table = Path(out) / MATCHES_NAME
    if not (Path(out).is_dir() and table.is_file()):
        return ""
    rematch_batch(out, ix.path)  # as the batch writes it: its own sessions, under its own ids
    return f"; {table} rewritten"


def _prune_unknown(ix: IdentityIndex, out: str, path: Path) -> None:
    """Drop the sessions whose input is not recorded; rewrite OUT/matches.csv when OUT is a batch directory."""
    with _index_lock(path):
        dropped = ix.drop_unknown_inputs()
    if not dropped:
        _err(f"interview-guard: no session with no recorded input in {path}: nothing dropped")
        return
    _err(
        f"interview-guard: {len(dropped)} session(s) with no recorded input dropped from {path}"
        + _rewrite_table(ix, out)
        + " (a batch that finds their input indexes it again)"
    )


def _unforget(ix: IdentityIndex, path: Path, candidate: str) -> None:
    """Lift a candidate's forgotten marks: their sessions are indexed again by the next batch on their input."""
    with _index_lock(path):
        n = ix.unforget(candidate)
    if n:
        _err(
            f"interview-guard: candidate {candidate!r}: {n} forgotten session(s) put back in {path}: the next "
            "batch on their input scans and indexes them again"
        )
        return
    known = set(ix.candidates().values())
    if candidate in known:
        _err(f"interview-guard: candidate {candidate!r} is not forgotten in {path}: nothing to put back")
        return
    _unknown_candidate(candidate, known, path, "nothing put back")


def _nothing_forgotten(candidate: str, known: set[str | None], path: Path) -> None:
    """``--forget`` deleted nothing: an id forgotten before is said so; an id the index never held is an error
    (a typo must not read as a deletion done), with the nearest stored ids."""
    if candidate in known:
        _err(f"interview-guard: candidate {candidate!r} was already forgotten in {path}: nothing left to delete")
        return
    _unknown_candidate(candidate, known, path, "nothing deleted")


def _unknown_candidate(candidate: str, known: set[str | None], path: Path, nothing: str) -> None:
    """An id the index never held: an error naming the index and the nearest stored ids."""
    import difflib

    from interview_guard.errors import InputError

    ids = sorted(c for c in known if c)
    near = difflib.get_close_matches(candidate, ids, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in near)}?" if near else f" ({len(ids)} candidate ids stored)"
    raise InputError(f"no session of candidate {candidate!r} in the index: {nothing}{hint}", path=path)
