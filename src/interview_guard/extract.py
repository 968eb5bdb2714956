"""Extraction: from a session's files to :class:`~interview_guard.tracks.Tracks`.

This is the only layer that opens session files. Keystroke logs are parsed in
pure Python; media is probed (and later decoded) through the lazily imported
:mod:`interview_guard.media`. Only the streams some analyzer needs are
extracted.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from .keystroke_log import read_keystroke_log
from .session import Session
from .tracks import Stream, Tracks

__all__ = ["extract_tracks", "keystroke_origin_ms"]

ProgressHook = Callable[..., None]

# Epoch milliseconds are above this (1973-03-03); relative clocks are far below.
_EPOCH_MS_MIN = 1e11


def keystroke_origin_ms(t_first_ms: float, metadata) -> tuple[float, bool, str | None]:
    """How to move keystroke times onto the session clock.

    Returns ``(shift_ms, aligned, note)``: add ``shift_ms`` to a keystroke
    ``t`` to get milliseconds since the start of the recording. ``aligned``
    says whether that is known (from ``keystroke_clock_offset_ms``, or epoch
    times against ``recording_start``) or assumed (first key = time zero).
    """
    if metadata.keystroke_clock_offset_ms is not None:
        return metadata.keystroke_clock_offset_ms, True, None
    if metadata.recording_start is not None and t_first_ms > _EPOCH_MS_MIN:
        start = metadata.recording_start
        if start.tzinfo is None:
            return -t_first_ms, False, "recording_start has no time zone: keystroke clock not aligned to it"
        return -start.timestamp() * 1000.0, True, None
    return -t_first_ms, False, None


def extract_tracks(
    session: Session,
    streams: Iterable[Stream],
    *,
    progress: ProgressHook | None = None,
    warnings: list[str] | None = None,
) -> Tracks:
    """Read the parts of ``session`` that ``streams`` need.

    Raises
    ------
    InputError
        (or a subclass) for unreadable files; the message names the file.
    """
    wanted = set(streams)
    warn = warnings if warnings is not None else []
    meta = session.metadata()
    tracks = Tracks(metadata=meta)
    duration = 0.0
    if session.video is not None:
        from .media import probe

        info = probe(session.video)
        if not info.has_video:
            warn.append(f"{session.video.name} has no video stream (audio only): video checks not possible")
        tracks.video = info
        duration = max(duration, info.duration_s)
        if progress:
            progress("probe", completed=1, total=1)
    if session.audio is not None:
        from .media import probe

        ainfo = probe(session.audio, check_end=False)
        if not ainfo.has_audio:
            warn.append(f"{session.audio.name} has no audio stream")
        else:
            tracks.extra["audio_info"] = ainfo
            duration = max(duration, ainfo.duration_s)
    if session.keystrokes is not None:
        log = read_keystroke_log(session.keystrokes)
        warn.extend(f"{session.keystrokes.name}: {w}" for w in log.warnings)
        if len(log):
            shift, aligned, note = keystroke_origin_ms(float(log.t_ms[0]), meta)
            if note:
                warn.append(note)
            if not aligned and (session.video is not None or session.audio is not None):
                warn.append(
                    "keystroke clock not aligned to the recording (no keystroke_clock_offset_ms or "
                    "recording_start in session.json): keystroke times count from the first key event"
                )
            log = log.shifted(shift)
            before = log.t_ms < 0
            if before.any():
                warn.append(f"{int(before.sum())} keystroke events before the recording start were left out")
                log = log.select(~before)
            tracks.keystrokes_aligned = aligned
            if len(log):
                duration = max(duration, float(log.t_ms[-1]) / 1000.0)
        tracks.keystrokes = log
        if progress:
            progress("keystrokes", completed=1, total=1)
    if not math.isfinite(duration) or duration < 0:
        duration = 0.0
    tracks.duration_s = float(np.round(duration, 6))
    # Face, hand and audio tracks are filled by the video and audio extraction
    # layers when an analyzer asks for them (wanted & {FACE, HANDS, AUDIO}).
    tracks.extra["requested_streams"] = sorted(s.value for s in wanted)
    return tracks
