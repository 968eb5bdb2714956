"""Adaptive video scan: cheap motion on every frame, landmarks where it matters.

Landmarking every frame of a 720p recording runs at about real time on two
cores; decoding alone runs at 15-25x. :func:`scan_video` therefore decodes
every frame once but runs the MediaPipe face and hand landmarkers only

* at a low *base* rate (``base_fps``, default 1 per second), which keeps the
  face position (the *face zone*: the face box scaled 1.6x) up to date, and
* densely (``dense_fps``, default 15) in *active intervals*: around moments
  where the pixels inside the face zone move much more than usual, where a
  hand was seen in the face zone, or where the face was lost.

Everything runs in one streaming pass with bounded memory.

Per decoded frame (~0.3 ms)
    A small luma thumbnail (longer side :data:`~interview_guard.extract.pixels.THUMB_SIDE`) is cut straight
    from the decoded picture's Y plane with OpenCV (libswscale's scaled gray
    conversion measured 3-10x slower) and compared with the previous
    frame's: one :class:`~interview_guard.tracks.video.MotionTrack` row (mean absolute difference inside
    the face zone and over the whole picture).

Trigger (see :class:`~interview_guard.extract.schedule.ScanTrigger`)
    Zone motion above ``median + k_mad * 1.4826 * MAD`` of the last
    ``window_s`` of zone motion (and above ``floor`` and ``ratio`` times the
    median; no motion trigger before the first face is landmarked); or a
    landmarked frame with a hand landmark inside the face zone; or a
    landmarked frame without a face (for at most ``face_lost_s``). A
    motion trigger at ``t`` makes ``[t - lookback_s, t + hold_s]`` active,
    a landmark trigger ``[t, t + hold_s]``; overlapping intervals merge. The two kinds
    complement each other: a quick sweep moves a lot (motion), a slow one
    is still over the face at the next base-rate frame (hand), and once
    dense, a hand kept near the face keeps the interval open.

Look-back buffer and frame order
    Decoded frames do not go to the landmarkers at once: they wait in a
    delay line until the newest decoded frame is ``lookback_s`` later. A
    frame leaving it is landmarked when it is on the base-rate grid or,
    inside an active interval, on the dense grid (one frame per
    ``1 / rate``, from the last landmarked one). So a motion trigger can
    still make the ``lookback_s`` before it dense, and *every* frame,
    base-rate ones included, reaches the VIDEO-mode landmarkers in
    presentation order: timestamps stay strictly increasing with one
    landmarker instance each, and no tracking state is reset. The price:
    the face zone the motion trigger uses lags (by ``lookback_s`` plus the
    head's lead, below; harmless, the zone is 1.6x the face), and a
    trigger that comes from landmarks cannot look back.

    The delay line holds the decoded PyAV frames themselves (YUV at the
    source size, ~1.4 MB each at 720p), not RGB copies at the landmark
    size: converting every frame would cost about as much as decoding it,
    and only the landmarked frames (about one in ten) are converted. Its
    length is at most ``lookback_s`` of frames plus the head's lead plus
    two, and never more than :data:`~interview_guard.extract.scanner.MAX_BUFFER_FRAMES`
    (``VideoScan.stats["buffer_max_frames"]``).

Threads (``parallel=True``)
    Decoding runs on its own thread (``ig-decode``, one FFmpeg decoding
    thread), which hands decoded frames to the head through a bounded queue
    (:class:`~interview_guard.io.frame_queue.BackgroundFrames`, at most
    :data:`~interview_guard.extract.scanner.PREFETCH_BYTES` of pictures), so
    it keeps decoding while the head waits for the tail. The head
    (thumbnails, motion trigger) runs on a second helper thread and may run
    up to 0.5 s of frames ahead of the look-back window while the calling
    thread landmarks; the hand landmarker runs on a third beside the face
    landmarker (it takes about twice the face's time: what needs only the
    face, the pixel measures, blending row and identity chip, is done on the
    calling thread meanwhile), and identity descriptors (when asked for) are
    computed on a fourth. OpenCV's own thread pool is off during the scan.
    The result is the same as with ``parallel=False``: the tail
    decides a frame only once the head has seen ``lookback_s`` past it
    (later head triggers cannot reach back that far), and the head takes
    the face zone from landmarks at or before ``lookback_s`` before the
    frame decoded 0.5 s of frames earlier, waiting for the tail to get there.

Per landmarked frame (< 1 ms on top of the landmarkers)
    One :class:`~interview_guard.tracks.video.PixelTrack` row from the luma
    at :data:`~interview_guard.extract.pixels.WORK_SIDE` px: motion in a band
    around the face outline, inside it and in the background, texture and
    brightness of the face, and how the pixels under in-face hand landmarks
    differ from the face.

Keyframes
    Small JPEGs (longer side :data:`~interview_guard.extract.keyframes.KEYFRAME_SIDE`) of landmarked frames
    inside active intervals, at most :data:`~interview_guard.extract.keyframes.KEYFRAMES_PER_INTERVAL` per
    interval spread over it (the spacing doubles whenever the interval
    outgrows it), and at most :data:`~interview_guard.extract.keyframes.MAX_KEYFRAMES` in all.

``mode="full"`` landmarks every decoded frame (the reference the adaptive
sampler is measured against) and reports one active interval covering the
whole video.

"Gray" here is the decoded luma (Y') where the picture is 8-bit YUV (nearly
every recording), else libswscale's gray conversion: levels 0-255, usually
limited range (16-235). Motion values are mean absolute differences in
those levels.

Where the parts live: :mod:`~interview_guard.extract.schedule` (trigger,
baseline, active intervals), :mod:`~interview_guard.extract.pixels` (pixel
maths), :mod:`~interview_guard.extract.keyframes`,
:mod:`~interview_guard.extract.scanner` (the head/tail loop and its threads),
:mod:`~interview_guard.extract.scan_results` (:class:`VideoScan`, its npz
file); the per-frame data types are in :mod:`interview_guard.tracks.video`.
"""

from __future__ import annotations

import contextlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from interview_guard.errors import ParameterError
from interview_guard.extract.pixels import one_cv2_thread
from interview_guard.extract.scan_results import SCAN_FORMAT_VERSION, VideoScan
from interview_guard.extract.scanner import Scanner
from interview_guard.extract.schedule import ScanTrigger
from interview_guard.io.video_decode import DecodeStats
from interview_guard.progress import ProgressHook

__all__ = ["SCAN_MODES", "scan_video", "scan_parameters"]

SCAN_MODES = ("adaptive", "full")


def _check_rate(name: str, v: Any) -> float:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ParameterError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def scan_video(
    path: str | Path,
    *,
    mode: str = "adaptive",
    base_fps: float = 1.0,
    dense_fps: float = 15.0,
    lookback_s: float = 0.6,
    hold_s: float = 1.0,
    trigger: ScanTrigger | None = None,
    max_side: int | None = 640,
    progress: ProgressHook | None = None,
    models_dir: str | Path | None = None,
    face_options: Any = None,
    hand_options: Any = None,
    parallel: bool = True,
    dense_windows: Any = (),
    identity: bool = False,
    identity_dense_fps: float = 5.0,
    identity_near_hand: bool = True,
    spill_dir: str | Path | None = None,
) -> VideoScan:
    """Scan a video: motion on every frame, face and hand landmarks where needed.

    Parameters
    ----------
    path : str or Path
    mode : {"adaptive", "full"}
        ``"full"`` landmarks every decoded frame (the reference).
    base_fps : float
        Landmarking rate outside active intervals.
    dense_fps : float
        Landmarking rate inside active intervals (at most the source rate).
    dense_windows : sequence of (float, float)
        Time windows landmarked at every frame whatever the trigger says (the
        lip-sync check asks for a few stretches of speech); sorted or not.
    lookback_s : float
        How far before a motion trigger dense landmarking starts: the length
        of the delay line (0 to 5 s).
    hold_s : float
        How long after the last trigger dense landmarking continues (0 to 5 s).
    trigger : ScanTrigger, optional
        Trigger settings (see :class:`~interview_guard.extract.schedule.ScanTrigger` for the defaults).
    max_side : int, optional
        Longer side of the frames given to the landmarkers. 640 (default)
        finds the same faces, hands and occlusion events as 960 on 720p
        recordings (see ``benchmarks/bench_video_scan.py``) at the same
        MediaPipe cost (its models see fixed-size inputs) and a cheaper
        colour conversion; ``None`` keeps the decoded size.
    progress : callable, optional
        ``progress(Stage.VIDEO, completed=i, total=n)`` every 30 frames, ``i``
        the frames done, ``n`` the estimated frame count. Always called from
        the calling thread.
    models_dir : path, optional
    face_options : FaceRunnerOptions, optional
    hand_options : HandRunnerOptions, optional
    parallel : bool
        Decode on a helper thread and measure motion on another while the
        calling thread landmarks, run the hand landmarker on a third beside
        the face landmarker and describe identities on a fourth. The result is identical either
        way (see "Threads" in the module notes); only the speed differs.
    identity : bool
        Also describe the face's identity (:class:`~interview_guard.tracks.identity.IdentityTrack`
        in ``VideoScan.identity``): at every base-rate frame with a face and,
        inside active intervals, at most ``identity_dense_fps`` times a second.
    identity_dense_fps : float
        Cap on the descriptor rate inside active intervals (default 5: see
        ``docs/face-identity.md`` for the speed measurement behind it).
    identity_near_hand : bool
        Describe every landmarked frame while a hand is at the face, and for half a second after, whatever
        ``identity_dense_fps`` (``face_occlusion`` compares the identity frame to frame across a crossing).
    spill_dir : path, optional
        Where the per-frame rows and key frames go while the scan runs (a fresh
        ``ig-spill-<pid>-*`` directory under it, removed before this returns: the
        returned arrays are mapped from its unlinked files; :mod:`interview_guard.io.spill`).
        Default: the system temporary directory.

    Returns
    -------
    VideoScan

    Raises
    ------
    ParameterError
        A parameter is out of range.
    MediaError
        The video cannot be decoded at all.
    ModelError
        A model file is missing, altered or does not load.
    """
    if mode not in SCAN_MODES:
        raise ParameterError(f"mode must be one of {SCAN_MODES}, got {mode!r}")
    base_fps = _check_rate("base_fps", base_fps)
    dense_fps = _check_rate("dense_fps", dense_fps)
    if dense_fps < base_fps:
        raise ParameterError(f"dense_fps ({dense_fps}) must be at least base_fps ({base_fps})")
    for name, v in (("lookback_s", lookback_s), ("hold_s", hold_s)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 5):
            raise ParameterError(f"{name} must be in [0, 5] seconds, got {v!r}")
    if max_side is not None and int(max_side) < 64:
        raise ParameterError(f"max_side must be at least 64, got {max_side!r}")
    trigger = trigger or ScanTrigger()
    trigger.validate()
    identity_dense_fps = _check_rate("identity_dense_fps", identity_dense_fps)

    from interview_guard.io import landmarks as lm  # noqa: PLC0415 - resolved at call time (tests may patch the runners)
    from interview_guard.io import video_decode  # noqa: PLC0415

    decode: Any = video_decode  # its private helpers hand out untyped PyAV objects
    total = video_decode.estimate_frame_count(path)  # MediaError here, before the models load
    av = decode._import_av()
    stats = DecodeStats()
    from interview_guard.io.spill import SpillDir  # noqa: PLC0415

    spill = SpillDir(spill_dir)  # its directory is made with the first row spilled and removed by the with below
    collector = None
    if identity:
        from interview_guard.extract.identity import IdentityCollector  # noqa: PLC0415
        from interview_guard.io.face_descriptor import FaceDescriber  # noqa: PLC0415

        collector = IdentityCollector(FaceDescriber(models_dir), dense_fps=identity_dense_fps, tol=1.0 / 120.0,
                                      spill=spill, near_hand=identity_near_hand)  # fmt: skip
    with spill, one_cv2_thread(), lm.FaceLandmarkerRunner(face_options, models_dir=models_dir) as face_runner:
        with lm.HandLandmarkerRunner(hand_options, models_dir=models_dir) as hand_runner:
            container, stream, p = decode._open_video(path)
            stats.path = str(p)
            with container, contextlib.ExitStack() as stack:
                pool = None
                if parallel:
                    pool = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="ig-hands"))
                    if collector is not None:  # descriptors beside the landmarkers (waited for in finish())
                        collector.executor = stack.enter_context(
                            ThreadPoolExecutor(1, thread_name_prefix="ig-describe")
                        )
                scanner = Scanner(
                    mode=mode, base_fps=base_fps, dense_fps=dense_fps, lookback_s=float(lookback_s),
                    hold_s=float(hold_s), trigger=trigger, max_side=max_side, face_runner=face_runner,
                    hand_runner=hand_runner, stats=stats, progress=progress, total=total, pool=pool,
                    dense_windows=dense_windows, identity=collector, spill=spill,
                )  # fmt: skip
                try:
                    frames = scanner.frames(av, container, stream, p)
                    if parallel:
                        scanner.run_threaded(frames)
                    else:
                        scanner.run_serial(frames)
                    return scanner.result()
                finally:
                    scanner.release()


# The real scan_video, whose signature scan_parameters reads (tests may patch the module attribute).
_SCAN_VIDEO = scan_video

#: Arguments of :func:`scan_video` that do not change its result.
_RESULT_NEUTRAL = ("path", "progress", "models_dir", "parallel", "spill_dir")


def scan_parameters(**params: Any) -> dict[str, Any]:
    """Everything that determines the result of ``scan_video(path, **params)``, defaults filled in.

    For cache keys: JSON-serialisable, option dataclasses as dicts, plus
    :data:`~interview_guard.extract.scan_results.SCAN_FORMAT_VERSION`; ``progress``, ``models_dir`` (the model
    files are keyed by their hashes instead) and ``parallel`` (same result
    either way) are left out.

    Raises
    ------
    TypeError
        An argument :func:`scan_video` does not take.
    """
    import inspect  # noqa: PLC0415

    from interview_guard.io.landmarks import FaceRunnerOptions, HandRunnerOptions  # noqa: PLC0415

    bound = inspect.signature(_SCAN_VIDEO).bind(None, **params)
    bound.apply_defaults()
    out = {k: v for k, v in bound.arguments.items() if k not in _RESULT_NEUTRAL}
    out["trigger"] = asdict(out["trigger"] or ScanTrigger())
    out["face_options"] = asdict(out["face_options"] or FaceRunnerOptions())
    out["hand_options"] = asdict(out["hand_options"] or HandRunnerOptions())
    for k in ("base_fps", "dense_fps", "lookback_s", "hold_s", "identity_dense_fps"):
        out[k] = float(out[k])
    out["identity"] = bool(out["identity"])
    out["identity_near_hand"] = bool(out["identity_near_hand"])
    if not out["identity"]:
        del out["identity_dense_fps"], out["identity_near_hand"]  # no effect without identity
    out["max_side"] = None if out["max_side"] is None else int(out["max_side"])
    out["dense_windows"] = [[float(a), float(b)] for a, b in sorted(out["dense_windows"] or ())]
    out["format"] = SCAN_FORMAT_VERSION
    return out
