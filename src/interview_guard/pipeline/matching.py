"""Cross-session identity matching: session descriptors from tracks, the index, matches, "also seen as".

* :func:`session_descriptors`: a scanned session's face and typing descriptors
  (with quality), from its tracks (``scan_session(..., descriptors=sink)``
  hands them out).
* :func:`find_matches`: pairs of sessions whose descriptors are near, scored
  (P(same person)) and banded per modality
  (:mod:`interview_guard.signals.identity_match`), from an
  :class:`~interview_guard.io.identity_index.IdentityIndex` by exact search.
* :func:`write_matches_csv`, :func:`matches_json`, :func:`also_seen_as`: the outputs.

Details and the numbers behind the scores: ``docs/identity-matching.md``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from interview_guard.atomic import atomic_write_text
from interview_guard.io.csv_cells import text_cell
from interview_guard.io.identity_index import IdentityIndex
from interview_guard.io.identity_search import DistanceFn, ExactSearch, VectorSearch
from interview_guard.io.session import session_id_for
from interview_guard.signals import identity_match as im
from interview_guard.signals.typing_profile import typing_profile
from interview_guard.tracks import Tracks

__all__ = [
    "MATCH_COLUMNS",
    "Match",
    "SessionDescriptors",
    "session_descriptors",
    "index_session",
    "unindex_session",
    "prune_gone",
    "entries_of",
    "renamed",
    "find_matches",
    "batch_matches",
    "rematch_batch",
    "write_matches_csv",
    "matches_csv",
    "matches_json",
    "also_seen_as",
    "INDEX_NAME",
    "MATCHES_NAME",
    "MAX_PER_SESSION",
]

INDEX_NAME = "identity.sqlite"  # OUT/identity.sqlite: the batch's own index (unless batch --index PATH)
MATCHES_NAME = "matches.csv"
#: Default bound on the matches listed per session and modality: in a large index, typing's ``possible`` band
#: (0.8 % of different-typist pairs measured) would otherwise list thousands of pairs per session.
MAX_PER_SESSION = 50
MATCH_COLUMNS = ("session_a", "session_b", "candidate_a", "candidate_b", "modality", "score", "band", "distance")


@dataclass
class SessionDescriptors:
    """One scanned session's identity descriptors: ``(modality, vector, quality)`` each."""

    session_id: str
    candidate_id: str | None
    descriptors: list[tuple[str, np.ndarray, float]] = field(default_factory=list)
    faces: int = 0  # good faces the face descriptor rests on


def session_descriptors(tracks: Tracks, session_id: str = "") -> SessionDescriptors:
    """Face descriptor (the candidate's robust centroid) and typing profile of a scanned session's tracks.

    A modality with too little data (no identity track or fewer than 3 good
    faces of the candidate; fewer than 40 key presses) is left out.
    """
    out = SessionDescriptors(session_id, tracks.metadata.candidate_id)
    idt = tracks.identity
    if idt is not None and len(idt):
        main = idt.select(idt.face == 0)
        vec, q, n = im.face_session_descriptor(
            t_s=main.t_s, descriptors=main.descriptor, quality=main.quality, enrolment=idt.enrolment
        )
        out.faces = n
        if vec is not None and q > 0:
            out.descriptors.append((im.FACE, vec, q))
    if tracks.keystrokes is not None:
        pr = tracks.keystrokes.presses()
        prof, q = typing_profile(press_ms=pr.press_ms, release_ms=pr.release_ms, code=pr.code)
        if q > 0:
            out.descriptors.append((im.TYPING, prof.astype(np.float32), float(q)))
    return out


def index_session(
    index_path: str | Path,
    found: SessionDescriptors,
    fingerprint: str | None,
    *,
    source: str | None = None,
    root: str | None = None,
) -> None:
    """Store one scanned session's descriptors in the index at ``index_path`` (replacing what it had).

    ``source`` (its absolute path) and ``root`` (the batch root): the input is one entry, which another id may
    already hold (:meth:`~interview_guard.io.identity_index.IdentityIndex.upsert_session`)."""
    if source is None or root is None or not (_text(source) and _text(root)):
        source = root = None  # a path that is not UTF-8 cannot be stored as text: recorded nowhere
    with IdentityIndex(index_path) as ix:
        ix.upsert_session(
            found.session_id,
            candidate_id=found.candidate_id,
            fingerprint=fingerprint,
            descriptors=found.descriptors,
            source=source,
            root=root,
        )


def unindex_session(
    index_path: str | Path,
    session_id: str,
    *,
    source: str | None = None,
    fingerprint: str | None = None,
    root: str | None = None,
    others: bool = True,
) -> None:
    """A session that now fails (or cannot be read) keeps no descriptor of an earlier input of the same id:
    they went on matching, in ``matches.csv`` and other reports' "also seen as", under its name. With
    ``source``: nor under another id holding that path (another root's batch) with another fingerprint (unless
    ``others`` is False). With ``root`` (the batch root): an entry of another input under its id, by a batch of a
    root around or inside this one, stays (:meth:`~interview_guard.io.identity_index.IdentityIndex.drop_session`)."""
    source, root = (p if p is not None and _text(p) else None for p in (source, root))  # SQLite keeps text
    with IdentityIndex(index_path) as ix:
        ix.drop_session(session_id, source=source, fingerprint=fingerprint, root=root, others=others)


def entries_of(index: IdentityIndex, paths: dict[str, str]) -> dict[str, str]:
    """``session id -> the id of the index entry holding its input`` for a batch's sessions (``id -> absolute
    path``): the entry recorded at that path (another root's id, when a batch of a root around or inside this
    one indexed it), else the session's own id."""
    held = index.held()
    out: dict[str, str] = {}
    taken: set[str] = set()
    for sid, path in paths.items():
        entry = held.get(path)
        if entry is not None:
            out[sid] = entry[0]
            taken.add(entry[0])
    for sid in paths:
        if sid not in out and sid not in taken:
            out[sid] = sid
    return out


def _text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _under(path: str, directory: str) -> bool:
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:
        return False


def prune_gone(
    index_path: str | Path,
    *,
    root: str,
    scanned: str,
    found: dict[str, str],
    unreadable: Sequence[str] = (),
    listed_at: float | None = None,
) -> tuple[list[str], list[str]]:
    """After a batch: record where its sessions are, and drop the indexed sessions whose input is gone.

    ``found`` maps this batch's session ids to their absolute paths (ids relative to ``root``); ``scanned`` is
    the directory this run listed, ``unreadable`` what it could not read under it. Dropped: a session
    recorded under another id with one of these paths (one input, indexed once); a session whose path lies
    under ``scanned`` but was not found (its directory deleted, or no longer a session; not when it lies
    under something unreadable; not when its path is still there and its entry was stored at or after
    ``listed_at``, the ``time.time()`` this run listed ``scanned``: a session that arrived since, indexed by
    another batch sharing the index, is not judged by this listing); a session elsewhere whose path is gone
    while another session of its root is still there. When every session of a root is gone (deleted, or a
    share not mounted: the two look alike), they are kept and a note says so. An entry is dropped only if it is
    still recorded at the path it was judged by (another batch may have given its id to another input since).

    Sessions holding descriptors with no recorded path (an older version's rows not found since) cannot be
    judged: a note counts them (``matches --prune-unknown`` drops them).

    Returns ``(ids dropped because their input is gone, notes)``; a note per kept root, one for the
    duplicates dropped and one for the sessions whose input is unknown.
    """
    notes: list[str] = []
    with IdentityIndex(index_path) as ix:
        # a path that is not UTF-8 (os.fsdecode surrogates) cannot be stored as text: its session stays unrecorded
        duplicates = ix.record_sources({s: p for s, p in found.items() if _text(p)}, root=root) if _text(root) else []
        by_root: dict[str | None, list[tuple[str, str]]] = {}
        here = set(found.values())  # an entry of another root's id holding one of these inputs is not gone
        for sid, (source, src_root) in ix.sources().items():
            if sid not in found and source not in here:
                by_root.setdefault(src_root, []).append((sid, source))
        gone: dict[str, str] = {}  # id -> the path it is gone from
        unlisted: dict[str, str] = {}  # the same, its path still there: gone unless stored since the listing
        for src_root, entries in sorted(by_root.items(), key=lambda kv: str(kv[0])):
            rest = []
            for sid, src in entries:  # under what this run listed, and not found there: gone
                if _under(src, scanned) and not any(_under(src, u) for u in unreadable):
                    (unlisted if listed_at is not None and os.path.lexists(src) else gone)[sid] = src
                else:
                    rest.append((sid, src))
            missing = {sid: src for sid, src in rest if not os.path.lexists(src)}
            visible = len(missing) < len(rest) or (
                src_root is not None and any(_under(p, src_root) for p in found.values())
            )
            if missing and not visible:
                notes.append(
                    f"{index_path}: {len(missing)} sessions indexed from {src_root} are all missing (deleted, or "
                    "not mounted here?): kept in the index; a batch on a directory holding them drops those gone"
                )
                continue
            gone.update(missing)
        dropped = ix.drop_sessions(list(gone), sources=gone)  # not an id another batch gave another input since
        dropped += ix.drop_sessions(list(unlisted), sources=unlisted, before=listed_at)
        unknown = ix.unknown_inputs()
    if unknown:
        notes.append(
            f"{index_path}: {len(unknown)} session(s) with no recorded input (indexed by an older version, not found "
            f"since): a batch cannot tell whether it is gone; matches {index_path} --prune-unknown drops them"
        )
    if duplicates:
        notes.append(
            f"{index_path}: {len(duplicates)} session(s) indexed under an earlier id of the same input dropped"
        )
    return dropped, notes


@dataclass(frozen=True)
class Match:
    """Two sessions whose descriptors of one modality are near."""

    session_a: str
    session_b: str
    candidate_a: str | None
    candidate_b: str | None
    modality: str
    score: float
    band: str
    distance: float

    def row(self) -> dict[str, object]:
        d = asdict(self)
        d["candidate_a"] = d["candidate_a"] or ""
        d["candidate_b"] = d["candidate_b"] or ""
        d["score"] = f"{self.score:.4f}"
        d["distance"] = f"{self.distance:.4f}"
        return d


def _distance(modality: str) -> DistanceFn:
    return lambda queries, rows: im.distance_matrix(modality, queries, rows)


def _radius(modality: str, min_score: float | None) -> float | None:
    """Search radius: every pair that can reach ``min_score`` (default: every banded pair)."""
    if min_score is None:
        r = im.max_distance_for_score(modality, im.POSSIBLE_FLOOR.get(modality, 1.0))
        return max(r or 0.0, im.FACE_STRONG_DISTANCE) if modality == im.FACE else r
    return im.max_distance_for_score(modality, min_score)


def _differ(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a != b


def find_matches(
    index: IdentityIndex,
    *,
    session_ids: Sequence[str] | None = None,
    min_score: float | None = None,
    search: VectorSearch | None = None,
    prior: float = 0.5,
    per_session: int | None = None,
) -> list[Match]:
    """Pairs of sessions with different candidate ids whose descriptors match, most likely first.

    Parameters
    ----------
    session_ids : sequence of str, optional
        Only pairs with at least one of these sessions (a batch against the
        whole index); all pairs in the index when None.
    min_score : float, optional
        Pairs scoring at least this (0: every scored pair). Default: the pairs
        with a band (``strong`` or ``possible``).
    search : VectorSearch, optional
        Default :class:`~interview_guard.io.identity_search.ExactSearch`.
    prior : float
        Base rate of same-person pairs for the scores (0.5: the likelihood ratio alone).
    per_session : int, optional
        At most this many nearest matches per queried session and modality
        (default: :data:`MAX_PER_SESSION` unless ``min_score`` is given, then no bound).
    """
    if per_session is None and min_score is None:
        per_session = MAX_PER_SESSION
    with index.snapshot():  # the queries and the rows searched are one state of the index
        seen = _find(index, session_ids, min_score, search or ExactSearch(index, _distance), prior, per_session)
    order = {b: i for i, b in enumerate(im.BANDS)}
    return sorted(seen.values(), key=lambda m: (order[m.band], -m.score, m.modality, m.session_a, m.session_b))


def _find(
    index: IdentityIndex,
    session_ids: Sequence[str] | None,
    min_score: float | None,
    search: VectorSearch,
    prior: float,
    per_session: int | None,
) -> dict[tuple[str, str, str], Match]:
    """:func:`find_matches` inside its snapshot: ``(session_a, session_b, modality) -> Match``."""
    seen: dict[tuple[str, str, str], Match] = {}
    for modality in index.modalities():
        q_ids: list[str] = []
        q_cand: list[str | None] = []
        q_vec: list[np.ndarray] = []
        for chunk in index.chunks(modality, session_ids=session_ids):
            q_ids += chunk.session_id
            q_cand += chunk.candidate_id
            q_vec.append(chunk.vectors)
        if not q_ids:
            continue
        queries = np.concatenate(q_vec)
        radius = _radius(modality, min_score)
        k = None if per_session is None else per_session + 1  # the session itself is among its neighbours
        for nb in search.neighbours(modality, queries, max_distance=radius, k=k):
            a, ca = q_ids[nb.query], q_cand[nb.query]
            b, cb = nb.session_id, nb.candidate_id
            if a == b or not _differ(ca, cb):
                continue
            if b < a:
                a, b, ca, cb = b, a, cb, ca
            key = (a, b, modality)
            if key in seen:
                continue
            score = im.same_person_score(modality, nb.distance, prior=prior)
            band = im.match_band(modality, nb.distance, score)
            if min_score is None and band == "none":
                continue
            if min_score is not None and not score >= min_score:
                continue
            seen[key] = Match(a, b, ca, cb, modality, round(score, 4), band, round(nb.distance, 4))
    return seen


def renamed(matches: Iterable[Match], names: dict[str, str]) -> list[Match]:
    """The matches with the index ids in ``names`` replaced (a batch's table in its own ids), ``session_a``
    first in order as :func:`find_matches` puts it."""
    out = []
    for m in matches:
        a, b = names.get(m.session_a, m.session_a), names.get(m.session_b, m.session_b)
        ca, cb = m.candidate_a, m.candidate_b
        if b < a:
            a, b, ca, cb = b, a, cb, ca
        out.append(Match(a, b, ca, cb, m.modality, m.score, m.band, m.distance))
    return out


def batch_matches(
    index_path: str | Path, ok: Sequence[str], ids: Collection[str], paths: dict[str, str], root: str | None
) -> list[Match]:
    """A batch's ``matches.csv``: its sessions scanned ``ok`` against the whole index, in the batch's own ids.

    A session whose input the index holds under another root's id (``paths``: id -> absolute path) is matched
    there, and named by this batch's id. An entry of another input whose index id is one of this batch's ``ids``
    (``/data/s1`` as ``s1``, seen from a batch of ``/data/teamA`` with a session ``s1`` of its own) is named by its
    path from ``root`` (``..%2Fs1``), so it is not read as that session."""
    with IdentityIndex(index_path) as ix, ix.snapshot():  # the entries and their matches: one state of the index
        entry = entries_of(ix, {sid: paths.get(sid, sid) for sid in ok})
        found = find_matches(ix, session_ids=sorted(set(entry.values())))
        where = ix.sources()
    names = {e: sid for sid, e in entry.items() if e != sid}
    mine = set(entry.values())
    for m in found:
        for other in (m.session_a, m.session_b):
            if root is not None and other in ids and other not in mine and other in where:
                names[other] = session_id_for(os.path.relpath(where[other][0], root))
    return renamed(found, names)


def rematch_batch(out: str | Path, index_path: str | Path) -> int:
    """Rewrite ``OUT/matches.csv`` as the batch writes it (:func:`batch_matches`: its sessions, its ids) from the
    index as it is now, e.g. after ``matches --forget``; the pairs in it. The batch's sessions are the reports
    ``OUT/sessions/ID.json`` of the ids in ``OUT/summary.csv`` (every report there when it cannot be read), their
    inputs at their ``relative_path`` under the root in ``OUT/batch.json``. The reports are left as they are."""
    from interview_guard.errors import InterviewGuardError
    from interview_guard.pipeline.batch_output import recorded_root
    from interview_guard.report.model import read_report

    out = Path(out)
    listed: set[str] | None
    try:  # its cells are text_cell(id): an id a spreadsheet would run as a formula has a leading '
        with (out / "summary.csv").open(newline="", encoding="utf-8") as fh:
            listed = {r.get("session") or "" for r in csv.DictReader(fh)}
    except (OSError, ValueError, csv.Error):
        listed = None
    root = recorded_root(out)
    status: dict[str, str] = {}
    paths: dict[str, str] = {}
    for rp in sorted((out / "sessions").glob("*.json")):
        try:
            report = read_report(rp)
        except InterviewGuardError:
            continue
        sid = report.session_id
        if rp.name != f"{sid}.json" or (listed is not None and text_cell(sid) not in listed):
            continue  # not a report of this batch's sessions (an earlier root's ids stay in OUT/sessions)
        status[sid] = report.status
        rel = report.session.extra.get("relative_path")
        if root is not None and isinstance(rel, str) and rel:
            paths[sid] = os.path.normpath(os.path.join(root, rel))
    ok = sorted(sid for sid, st in status.items() if st == "ok")
    matches = batch_matches(index_path, ok, set(status), paths, root)
    write_matches_csv(out / MATCHES_NAME, matches)
    return len(matches)


#: The columns of user-controlled text (session ids, candidate ids): written with :func:`text_cell`.
_TEXT_COLUMNS = ("session_a", "session_b", "candidate_a", "candidate_b")


def matches_csv(matches: Iterable[Match]) -> str:
    """The table as CSV; ids that a spreadsheet would run as a formula get a leading ``'``, control
    characters are written ``\\xNN`` (:mod:`interview_guard.io.csv_cells`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MATCH_COLUMNS, lineterminator="\n")
    w.writeheader()
    for m in matches:
        row = m.row()
        w.writerow({k: text_cell(v) if k in _TEXT_COLUMNS else v for k, v in row.items()})
    return buf.getvalue()


def write_matches_csv(path: str | Path, matches: Iterable[Match]) -> Path:
    """Write the matches table atomically (a killed run leaves the old table or the new one)."""
    text = matches_csv(matches).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return atomic_write_text(path, text)


def matches_json(matches: Iterable[Match]) -> str:
    return json.dumps([asdict(m) for m in matches], indent=2, ensure_ascii=False) + "\n"


def also_seen_as(matches: Iterable[Match], session_id: str) -> list[dict[str, object]]:
    """The other candidate ids a session matches: ``candidate_id``, ``session``, ``modality``, ``score``, ``band``."""
    out = []
    for m in matches:
        if m.band == "none" or session_id not in (m.session_a, m.session_b):
            continue
        other, cand = (m.session_b, m.candidate_b) if m.session_a == session_id else (m.session_a, m.candidate_a)
        out.append({"candidate_id": cand, "session": other, "modality": m.modality, "score": m.score, "band": m.band})
    order = {b: i for i, b in enumerate(im.BANDS)}
    return sorted(out, key=lambda d: (order[str(d["band"])], -float(d["score"]), str(d["session"])))  # type: ignore[arg-type]
