"""Scanning one session: extract, run the analyzers, fuse, report.

:func:`scan_session` is the single entry point used by the CLI, batch mode and
tests. Progress goes to an optional hook ``progress(stage, completed=, total=, **info)``
(:mod:`interview_guard.progress`), so the algorithm never draws anything itself.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from interview_guard import analyzers as _analyzers
from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Status
from interview_guard.errors import InterviewGuardError
from interview_guard.extract.session import extract_tracks
from interview_guard.fusion.model import FusionModel
from interview_guard.io.model_files import manifest_hashes
from interview_guard.io.runtime import runtime_versions
from interview_guard.io.session import Session
from interview_guard.pipeline.matching import SessionDescriptors, session_descriptors
from interview_guard.progress import ProgressHook, Stage
from interview_guard.report.keyframes import evidence_key_frame_times, key_frame_filename, record_key_frame_files
from interview_guard.report.model import FusionInfo, Report, Risk, SessionInfo
from interview_guard.tracks import VIDEO_SCAN_STREAMS, Stream, Tracks

__all__ = [
    "scan_session",
    "scan_tracks",
    "scale_by_coverage",
    "stream_coverage",
    "fused_risk",
    "fuse_again",
    "failed_report",
    "write_key_frames",
    "key_frame_filename",
]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def scan_tracks(
    tracks: Tracks,
    *,
    analyzers: Sequence[Analyzer] | None = None,
    fusion: FusionModel | None = None,
    progress: ProgressHook | None = None,
) -> tuple[dict[str, AnalyzerResult], Risk, dict[str, float]]:
    """Run ``analyzers`` on already extracted ``tracks`` and fuse the results.

    Returns ``(results by name, fused risk, per-analyzer seconds)``.
    """
    analyzers = list(analyzers) if analyzers is not None else _analyzers.default_analyzers()
    fusion = fusion or FusionModel.load()
    results: dict[str, AnalyzerResult] = {}
    timings: dict[str, float] = {}
    for i, an in enumerate(analyzers):
        t0 = time.perf_counter()
        tracks.release_pages()  # what the scan or the last analyzer touched of the mapped rows leaves memory
        results[an.name] = scale_by_coverage(an, an.analyze(tracks), tracks)
        timings[an.name] = round(time.perf_counter() - t0, 4)
        if progress:
            progress(Stage.ANALYZER, completed=i + 1, total=len(analyzers), detail=an.name)
    tracks.release_pages()
    modalities = tracks.modalities()
    risk = fused_risk(fusion, results.values(), sorted(m for m, present in modalities.items() if not present))
    return results, risk, timings


def stream_coverage(tracks: Tracks, stream: Stream) -> float:
    """Share of ``stream``'s recording that decodes, in [0, 1]: the video's (``tracks.video.coverage``) for the
    video scan's streams, the audio's (``tracks.audio.coverage``) for ``Stream.AUDIO``; 1.0 for whole files and
    for the other streams."""
    if stream in VIDEO_SCAN_STREAMS:
        return 1.0 if tracks.video is None else tracks.video.coverage
    if stream is Stream.AUDIO:
        return float(getattr(tracks.audio, "coverage", 1.0))  # (a waveform built by hand has no declared end)
    return 1.0


def scale_by_coverage(analyzer: Analyzer, result: AnalyzerResult, tracks: Tracks) -> AnalyzerResult:
    """``result`` with its confidence scaled by the share of its recording that decodes, when ``analyzer``
    requires the video scan's streams or the audio and the file was cut short (:func:`stream_coverage`; 1.0
    for a whole file). An analyzer requiring both (lip sync) gets the smaller share: what it judged is where
    the two overlap, and both usually stop where the file does (the shares are not multiplied). Streams the
    analyzer counts itself (``counts_own_coverage``: the key presses after the audio stops) are left to it.

    What the lost part of the recording held is unknown: the analyzer judged part of the session, so its result
    weighs less in the fusion; its score stays as it is (absence of a signal lowers confidence, never raises the
    score). Weighing less works both ways: a result above its analyzer's fusion centre raises the risk less, and one
    below it (a reassuring verdict on the part that decodes) lowers it less, so the risk moves towards what the
    other analyzers say, as it would were the analyzer skipped; a cut recording cannot buy full weight for a clean
    stretch of it.
    """
    if result.status is not Status.OK:
        return result
    streams = set(analyzer.requires) - set(getattr(analyzer, "counts_own_coverage", ()))  # a duck-typed analyzer
    coverage = min((stream_coverage(tracks, s) for s in streams), default=1.0)
    if coverage >= 1.0:
        return result
    return dataclasses.replace(result, confidence=result.confidence * coverage)


def fused_risk(fusion: FusionModel, results: Iterable[AnalyzerResult], absent_modalities: list[str]) -> Risk:
    """The report's ``risk`` of these analyzer results under ``fusion``."""
    fused = fusion.fuse(results)
    risk = Risk(
        score=None if fused.score is None else round(fused.score, 4),
        band=fused.band,
        contributions={k: round(v, 4) for k, v in fused.contributions.items()},
        checked=list(fused.checked),
        not_checked=list(fused.not_checked),
        absent_modalities=absent_modalities,
        fusion=FusionInfo(
            version=fusion.version,
            path=fusion.path,
            sha256=fusion.sha256,
            bands={"medium": float(fusion.medium), "high": float(fusion.high)},
        ),
    )
    if fused.decisive and fused.fused_score is not None:
        risk.fused_score = round(fused.fused_score, 4)
        risk.decisive = [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in hit.to_dict().items()} for hit in fused.decisive
        ]
    return risk


def fuse_again(report: Report, fusion: FusionModel) -> bool:
    """Re-fuse a finished ``ok`` report made with other fusion parameters (another ``--params``): the analyzers'
    results stay, the risk is computed anew. True when the report changed (the caller rewrites it)."""
    done = report.risk.fusion
    if report.status != "ok" or (done is not None and done.sha256 is not None and done.sha256 == fusion.sha256):
        return False
    extra = report.risk.extra
    report.risk = fused_risk(fusion, report.analyzers.values(), list(report.risk.absent_modalities or []))
    report.risk.extra = extra
    return True


def scan_session(
    path,
    *,
    analyzers: Sequence[Analyzer] | None = None,
    fusion: FusionModel | None = None,
    progress: ProgressHook | None = None,
    session_id: str | None = None,
    cache_dir=None,
    video_options: dict | None = None,
    frames_dir=None,
    descriptors: Callable[[SessionDescriptors], None] | None = None,
) -> Report:
    """Scan one session (directory or file) and return its report.

    ``cache_dir`` keeps extracted video tracks for instant re-scans;
    ``video_options`` go to the video scan (e.g. ``{"mode": "full"}``);
    ``frames_dir``, when given, receives the key frames of the evidence as
    JPEG files, and each evidence item records them in ``details.key_frames``.
    ``descriptors``, when given, is called once with the session's identity
    descriptors (:func:`~interview_guard.pipeline.matching.session_descriptors`:
    the candidate's face centroid, the typing profile, each with a quality),
    computed from the tracks of this scan.

    Raises
    ------
    InputError
        When the session cannot be read (missing path, empty directory,
        unreadable video, malformed keystroke log ...). An analyzer that
        fails on readable data does not raise: its result says ``failed``.
    """
    t_start = time.perf_counter()
    session = path if isinstance(path, Session) else Session.open(path, session_id=session_id)
    analyzers = list(analyzers) if analyzers is not None else _analyzers.default_analyzers()
    fusion = fusion or FusionModel.load()
    needed: set[Stream] = set()
    for an in analyzers:
        needed |= set(an.requires) | set(an.uses)
    warnings: list[str] = []
    t0 = time.perf_counter()
    tracks = extract_tracks(
        session, needed, progress=progress, warnings=warnings, cache_dir=cache_dir, video_options=video_options
    )
    t_extract = time.perf_counter() - t0
    if descriptors is not None:
        descriptors(session_descriptors(tracks, session.session_id))
    results, risk, an_timings = scan_tracks(tracks, analyzers=analyzers, fusion=fusion, progress=progress)
    if frames_dir is not None:
        write_key_frames(results, tracks, frames_dir, session.session_id, video_path=session.files.get("video"))
    modalities = tracks.modalities()
    session_info = SessionInfo(
        id=session.session_id,
        path=str(session.path),
        duration_s=round(tracks.duration_s, 3),
        modalities=modalities,
        files={role: str(p) for role, p in session.files.items()},
        fingerprint=session.fingerprint(),
        keystrokes_aligned=tracks.keystrokes_aligned,
        video=None if tracks.video is None else tracks.video.to_dict(),
        metadata=tracks.metadata.to_dict(),
    )
    return Report(
        session=session_info,
        risk=risk,
        analyzers=results,
        models=manifest_hashes(),
        runtime=runtime_versions(),
        timings={
            "extract_s": round(t_extract, 4),
            "analyzers_s": an_timings,
            "total_s": round(time.perf_counter() - t_start, 4),
        },
        warnings=warnings,
        status="ok",
        created_at=_now(),
    )


def write_key_frames(results: dict, tracks: Tracks, frames_dir, session_id: str, *, video_path=None) -> list[Path]:
    """Write the key frames evidence items point at as JPEG files.

    The times are those of ``details.key_frame_times`` and of the role objects in ``details.key_frames``
    (:func:`~interview_guard.report.keyframes.evidence_key_frame_times`). Each file is
    ``<frames_dir>/<session_id>_<seconds>s.jpg``; the paths are recorded in ``details.key_frames``
    (:func:`~interview_guard.report.keyframes.record_key_frame_files`). The images are the scan's own key
    frames (``tracks.key_frames``); a time the scan kept no image of (the frame a finding names that was
    not among the densely analysed moments) is decoded from ``video_path`` when given (at most
    ``MAX_KEY_FRAMES`` of them; one that cannot be decoded is left out, as the page does).
    """
    from interview_guard.atomic import atomic_write_bytes
    from interview_guard.report.keyframes import MAX_KEY_FRAMES, wanted_key_frame_times

    frames = dict(tracks.key_frames or {})
    if video_path is not None:
        wanted = wanted_key_frame_times(ev.details for r in results.values() for ev in r.evidence)
        missing = [t for t in wanted if t not in frames][:MAX_KEY_FRAMES]
        if missing:
            from interview_guard.pipeline.keyframes import decode_frames

            try:
                frames.update(decode_frames(video_path, missing))
            except Exception:  # a frame that cannot be decoded is left out: never fail the report over it
                pass
    written: dict[float, Path] = {}
    for r in results.values():
        for ev in r.evidence:
            files = {}
            for t in evidence_key_frame_times(ev.details):
                if t not in frames:
                    continue
                if t not in written:
                    written[t] = atomic_write_bytes(Path(frames_dir) / key_frame_filename(session_id, t), frames[t])
                files[t] = str(written[t])
            record_key_frame_files(ev.details, files)
    return list(written.values())


def failed_report(session_id: str, path, error: BaseException | str, *, fingerprint: str | None = None) -> Report:
    """A report recording that a session could not be scanned (batch mode); its error on one line.

    An exception's message may span lines (OpenCV's assertions do): its lines are joined with a space, so the
    error stays one cell of ``summary.csv`` and one line of a log.
    """
    msg = str(error) if isinstance(error, (InterviewGuardError, str)) else f"{error.__class__.__name__}: {error}"
    msg = " ".join(part.strip() for part in msg.splitlines() if part.strip())
    return Report(
        session=SessionInfo(id=session_id, path=str(Path(path)), fingerprint=fingerprint),
        risk=Risk(score=None, band="unassessed"),
        status="failed",
        error=msg,
        runtime=runtime_versions(),
        created_at=_now(),
    )
