"""Extraction: from a session's files to :class:`~interview_guard.tracks.Tracks`.

This is the only layer that opens session files. Keystroke logs are parsed in
pure Python; media is probed (and later decoded) through the lazily imported
:mod:`interview_guard.io.media`. Only the streams some analyzer needs are
extracted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.io.keystroke_log import read_keystroke_log
from interview_guard.io.session import Session
from interview_guard.progress import ProgressHook, Stage, notify
from interview_guard.tracks import VIDEO_SCAN_STREAMS, Stream, Tracks
from interview_guard.tracks.audio import AudioTrack
from interview_guard.tracks.metadata import SessionMetadata

__all__ = ["LOW_FRAME_RATE", "extract_tracks", "frame_rate", "keystroke_origin_ms", "low_frame_rate_warning"]


# Epoch milliseconds are above this (1973-03-03); relative clocks are far below.
_EPOCH_MS_MIN = 1e11

#: Keystroke events this long (s) after the end of the video / audio get a warning (clocks misaligned?).
KEYS_PAST_END_S = 60.0

#: Videos up to this long are landmarked at every frame (cheap in absolute
#: terms); longer ones go through the adaptive sampler.
FULL_RATE_BELOW_S = 60.0
#: Below this frame rate (:func:`frame_rate`: over half the recording's time) the scan warns that the hand-wave test is
#: weaker: a swap that drops or lags for 2-6 frames of a 30 fps call leaves 1-3 frames at 15 fps, and the test's
#: dropouts fell from AUC 0.96 to 0.73 and 0.83 to 0.66 on the two held-out splits (docs/capture-conditions.md,
#: round 21, `call15`).
LOW_FRAME_RATE = 20.0

#: The streams one video scan produces (asking for any of them runs it).
_VIDEO_SCAN_STREAMS = VIDEO_SCAN_STREAMS


def frame_rate(t_s: np.ndarray) -> float | None:
    """Frames a second of a video from its decoded frames' times: the interval between frames over half of the
    recording's time (a median weighted by time: a variable-rate recording's usual rate; an occasional dropped frame
    does not move it, and a call that fell to 15 fps for most of its time reads 15, though more of its frames came
    at 30). None with fewer than 10 frames."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 10:
        return None
    dt = np.diff(t)
    dt = np.sort(dt[dt > 0])
    if not dt.size:
        return None
    cum = np.cumsum(dt)
    return float(1.0 / dt[min(int(np.searchsorted(cum, 0.5 * cum[-1])), dt.size - 1)])


def low_frame_rate_warning(name: str, rate: float | None) -> str | None:
    """The scan's warning for a video of a face at under :data:`LOW_FRAME_RATE` frames a second (None otherwise);
    the rate in whole frames, or to a tenth where a whole number would read as the limit itself (19.6 -> "19.6")."""
    if rate is None or rate >= LOW_FRAME_RATE:
        return None
    said = f"{rate:.0f}" if round(rate) < LOW_FRAME_RATE else f"{math.floor(rate * 10) / 10:.1f}"
    return (
        f"{name}: about {said} frames a second: the hand-wave test misses swap failures that last only a few frames "
        "at this rate (docs/capture-conditions.md); record the call at the rate the candidate sends"
    )


def _decode_audio(session: Session, tracks: Tracks, cache_dir: str | Path | None) -> AudioTrack | None:
    """The session's audio, spilled: its samples are a read-only mapping of a file, not process memory.

    An hour at 16 kHz is 230 MB of float32; mapped, the analyzers read it a block at a time and release what
    they have read (``AudioTrack.release_samples``), so it costs the scan a block whatever the length. The spill
    directory goes as soon as the file is mapped (:mod:`interview_guard.io.spill`).
    """
    from interview_guard.extract.cache import cache_dir as resolve_cache_dir
    from interview_guard.io.audio_decode import session_audio
    from interview_guard.io.spill import SpillDir, default_spill_root

    has_file = tracks.audio_file is not None
    # where the video scan spills: beside the cache when there is one, else the temporary directory
    with SpillDir(default_spill_root(resolve_cache_dir(cache_dir))) as spill:
        return session_audio(
            audio_path=session.audio if has_file else None,
            video_path=None if has_file else session.video,
            spill=spill,
        )


def _speech_probes(
    session: Session, tracks: Tracks, warn: list[str], cache_dir: str | Path | None
) -> list[tuple[float, float]]:
    """Stretches of speech where the video scan landmarks every frame for the lip-sync check."""
    from interview_guard.errors import MediaError
    from interview_guard.signals.speech import speech_activity, speech_envelope, speech_probe_windows

    try:
        audio = _decode_audio(session, tracks, cache_dir)
    except MediaError as exc:
        warn.append(f"audio not decodable ({exc}): lip sync not checked")
        return []
    if audio is None:
        return []
    tracks.audio = audio  # decoded once, reused below
    hop = 0.02
    env, t0 = speech_envelope(y=audio.samples, sr=audio.sr, hop_s=hop, release=audio.release_samples)
    return speech_probe_windows(speech=speech_activity(env_db=env, hop_s=hop), hop_s=hop, t0_s=audio.start_s + t0)


def _with_enrolment(
    identity: Any, session: Session, meta: SessionMetadata, warn: list[str], models_dir: str | Path | None
) -> Any:
    """The scan's identity track with the enrolment photo of ``session.json`` described and attached."""
    if meta.enrolment_photo is None:
        return identity
    from interview_guard.io.enrolment import describe_enrolment_photo

    root = session.path if session.path.is_dir() else session.path.parent
    enr = describe_enrolment_photo(root, meta.enrolment_photo, models_dir=models_dir)
    if enr.status != "ok":
        warn.append(enr.note)
    return dataclasses.replace(identity, enrolment=enr.descriptor, enrolment_status=enr.status, enrolment_note=enr.note)


def _page_releaser(tracks: Tracks) -> Any:
    """``Tracks.release`` for the video scan's tracks: drops the pages of the files they are mapped from.

    The per-frame rows of a scan (spill files, or the scan cache) are read-only mappings; every page an analyzer
    touches counts in the process's resident memory (and its peak) until the mapping goes, so over an hour's
    analyzers they add up to the size of the files. Released between analyzers and between a reader's chunks,
    they cost about what one reads at a time. None when nothing is mapped (tracks in memory).
    """
    from interview_guard.io.spill import mapping_of, release_mapped

    objs: list[Any] = []
    for track in (tracks.face, tracks.hands, tracks.pixels, tracks.motion, tracks.blending, tracks.identity):
        if track is not None and dataclasses.is_dataclass(track):
            objs += [v for f in dataclasses.fields(track) if isinstance(v := getattr(track, f.name), np.ndarray)]
    if tracks.key_frames is not None:
        objs.append(tracks.key_frames)
    maps = {id(mm): mm for o in objs if (mm := mapping_of(o)) is not None}
    if not maps:
        return None
    held = list(maps.values())  # the mappings, not the arrays: they live as long as the tracks do anyway

    def release() -> None:
        release_mapped(held)

    return release


def keystroke_origin_ms(t_first_ms: float, metadata: SessionMetadata) -> tuple[float, bool, str | None]:
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
    cache_dir: str | Path | None = None,
    video_options: dict[str, Any] | None = None,
    models_dir: str | Path | None = None,
) -> Tracks:
    """Read the parts of ``session`` that ``streams`` need.

    Face and hand tracks, with the pixel, motion and key-frame streams, come
    from one streaming pass of the adaptive video scan
    (:func:`interview_guard.extract.video_scan.scan_video`, options in
    ``video_options``), cached in ``cache_dir`` (default
    ``$INTERVIEW_GUARD_CACHE``; none when unset) so a re-scan is instant.

    Raises
    ------
    InputError
        (or a subclass) for unreadable files; the message names the file.
    """
    wanted = set(streams)
    warn = warnings if warnings is not None else []
    meta = session.metadata()
    tracks = Tracks(metadata=meta)
    created = None
    duration = 0.0
    if session.video is not None:
        from interview_guard.io.media import probe

        info = probe(session.video, allow_truncated=True)  # a recording cut short: scan what decodes
        if not info.has_video:
            warn.append(f"{session.video.name} has no video stream (audio only): video checks not possible")
        tracks.video = info
        if meta.recording_start is None:  # the session's date for the time zones: the file's creation time
            from interview_guard.io.media import creation_time

            created = creation_time(info.tags)
        duration = max(duration, info.duration_s)
        if progress:
            notify(progress, Stage.PROBE, completed=1, total=1)
    # the time zones at the session's date, and those of a country read off claimed_location (no claimed zone)
    country = None
    if meta.claimed_timezone is None and meta.claimed_country is None and meta.claimed_location:
        from interview_guard.signals.environment_data import country_from_location

        country = country_from_location(meta.claimed_location)
    if created is not None or country is not None:
        from interview_guard.io.session import with_zone_offsets

        tracks.metadata = with_zone_offsets(meta, created, country=country)
    if session.audio is not None:
        from interview_guard.io.media import probe

        ainfo = probe(session.audio, check_end=False)
        if not ainfo.has_audio:
            warn.append(f"{session.audio.name} has no audio stream")
        else:
            tracks.audio_file = ainfo
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
                last_s = float(log.t_ms[-1]) / 1000.0
                if duration > 0 and last_s > duration + KEYS_PAST_END_S:
                    late = int(np.count_nonzero(log.t_ms > (duration + KEYS_PAST_END_S) * 1000.0))
                    warn.append(
                        f"{late} keystroke events fall more than {KEYS_PAST_END_S:g} s after the end of the "
                        f"recording ({duration:.1f} s), the last at {last_s:.6g} s: check keystroke_clock_offset_ms "
                        "or recording_start in session.json"
                    )
                duration = max(duration, last_s)
        tracks.keystrokes = log
        if progress:
            notify(progress, Stage.KEYSTROKES, completed=1, total=1)
    if (
        session.video is not None
        and tracks.video is not None
        and tracks.video.has_video
        and wanted & _VIDEO_SCAN_STREAMS
    ):
        from interview_guard.extract.cache import load_or_scan

        opts = dict(video_options or {})
        # short recordings are landmarked whole; the adaptive sampler pays off on long ones
        opts.setdefault("mode", "full" if tracks.video.duration_s <= FULL_RATE_BELOW_S else "adaptive")
        if Stream.AUDIO in wanted and opts["mode"] != "full":
            opts.setdefault("dense_windows", _speech_probes(session, tracks, warn, cache_dir))
        if Stream.IDENTITY in wanted:
            # the descriptors cost time: only when an analyzer reads them. Other faces are described too when the
            # face landmarker looks for several (video_options face_options=FaceRunnerOptions(num_faces=2)); not by
            # default: MediaPipe then re-detects on every frame, which moves the landmarks the other face analyzers
            # read (docs/face-identity.md)
            opts.setdefault("identity", True)
        scan = load_or_scan(session.video, cache_dir=cache_dir, progress=progress, models_dir=models_dir, **opts)
        tracks.face, tracks.hands = scan.face, scan.hands
        if Stream.IDENTITY in wanted and scan.identity is not None:
            tracks.identity = _with_enrolment(scan.identity, session, meta, warn, models_dir)
        tracks.pixels, tracks.motion, tracks.key_frames = scan.pixels, scan.motion, scan.keyframes
        tracks.blending = scan.blending
        name = session.video.name
        dec = scan.decode_stats
        # where decoding stopped, exact from the scan (the probe's is an estimate)
        truncated = dec.truncated and dec.last_t is not None
        tracks.video = dataclasses.replace(
            tracks.video, truncated=truncated, decoded_end_s=dec.last_t if truncated else None
        )
        if truncated:
            warn.append(
                f"{name}: decoding stopped at {dec.last_t or 0:.1f} s of {dec.declared_end_s:.1f} s declared "
                f"(cut short or damaged): analysed what decodes, {100 * tracks.video.coverage:.0f} % of the video; "
                "the video analyzers' confidence is scaled by that share"
            )
        elif dec.decode_errors:
            warn.append(f"{name}: {dec.decode_errors} damaged video packet(s) skipped")
        if len(scan.face) and scan.face.presence_rate < 0.5:
            warn.append(f"{name}: a face was found in only {100 * scan.face.presence_rate:.0f} % of analysed frames")
        rate = frame_rate(scan.motion.t_s) if len(scan.face) and scan.face.presence_rate > 0 else None
        if (low := low_frame_rate_warning(name, rate)) is not None:
            warn.append(low)
        if len(scan.motion):
            duration = max(duration, float(scan.motion.t_s[-1]))
    elif session.video is not None and tracks.video is not None and tracks.video.truncated:
        warn.append(
            f"{session.video.name}: cut short or damaged: frames stop at about {tracks.video.decoded_end_s or 0:.1f} s "
            f"of {tracks.video.duration_s:.1f} s declared"
        )
    if Stream.AUDIO in wanted:
        if tracks.audio is None:  # not decoded yet for the lip-sync probes
            has_file = tracks.audio_file is not None
            if has_file or (tracks.video is not None and tracks.video.has_audio):
                tracks.audio = _decode_audio(session, tracks, cache_dir)
        if tracks.audio is not None:
            m, name = tracks.audio.meta, Path(tracks.audio.source).name
            if m.get("gaps_filled"):
                warn.append(
                    f"{name}: {m['gaps_filled']} gap(s) in the audio ({m['gap_seconds']:.1f} s) filled with silence"
                )
            if m.get("decode_errors"):
                warn.append(f"{name}: {m['decode_errors']} damaged audio packet(s) skipped")
            if tracks.audio.truncated:
                a = tracks.audio
                warn.append(
                    f"{name}: the audio stops at {a.end_s:.1f} s of {a.declared_end_s:.1f} s declared (cut short or "
                    f"damaged): analysed what decodes, {100 * a.coverage:.0f} % of the audio; the audio analyzers' "
                    "confidence is scaled by that share (key presses after it count as not checked)"
                )
            duration = max(duration, tracks.audio.end_s)
            if progress:
                notify(progress, Stage.AUDIO, completed=1, total=1)
    if not math.isfinite(duration) or duration < 0:
        duration = 0.0
    tracks.duration_s = float(np.round(duration, 6))
    tracks.requested = frozenset(wanted)
    tracks.release = _page_releaser(tracks)
    return tracks
