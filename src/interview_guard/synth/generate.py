"""Labelled synthetic interview sessions made from real recordings (issue 6, the generator).

:func:`generate` writes session directories (``video.mp4``,
``keystrokes.jsonl``, ``session.json``) each with a ``label.json`` that says
what was done to it. Every input is real: face clips, speech, keystroke
timing and hand photos from the directories given (by default those under
``../shared/data``, see :func:`default_inputs`). Each manipulation is made by
its real mechanism, never by writing the answer a detector should find:

``genuine``
    A face clip with its own audio and a slice of a real typist's keystrokes.
``faceswap``
    Every frame goes through :class:`~interview_guard.synth.face_swap.FaceSwapper`
    with a second identity (a frame of another clip, or a still photo).
``relay``
    The keystroke slice goes through
    :func:`~interview_guard.synth.relay_sim.simulate_relay` with a preset relay.
``avoffset``
    The clip's own audio shifted by 150-400 ms, either way (positive: audio
    late, as ``av_sync`` reports it).
``mismatched_audio``
    The clip's audio replaced by another speaker's speech.
``handwave_genuine``
    A real hand photo (segmented by its mask) composited in front of the face
    along a wave (:mod:`~interview_guard.synth.hand_composite`), and a
    ``hand_wave`` challenge marker in ``session.json``.
``handwave_faceswap``
    The hand composited first, then the face swap on the frame as the camera
    sees it (the swap paints its face over the hand where it still finds the
    face, and drops out where it loses it).

Determinism: session ``i`` of a run draws everything from
``numpy.random.default_rng([seed, i])``; x264 runs single-threaded, so the
same seed gives byte-identical ``keystrokes.jsonl``, ``session.json`` and
``label.json`` and identical decoded video frames.

Licences
--------
``label.json`` records, for each input file, the licence column of its line in
the ``SOURCES.md`` of the data directory (when one is found).
``permissive_only=True`` restricts face clips, stills, speech and keystroke
files to inputs whose licence line names Apache-2.0, MIT or CC BY. **The
HandOverFace hand photos and masks have no stated licence** (and the
HandOverFace data set has research-only terms), so sessions of the
``handwave_*`` kinds are for internal testing only and must not be
redistributed, whatever ``permissive_only`` says. Note also that the Aalto
136M keystroke files are non-commercial: with ``permissive_only=True`` no
Aalto file is used, so a ``keystrokes_dir`` holding JSONL logs under a
permissive licence is then needed for keystrokes (otherwise the sessions have
no keystroke log).

OpenCV, PyAV and MediaPipe are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InputError, ParameterError
from interview_guard.tracks.keystrokes import DOWN, UP

__all__ = ["KINDS", "generate", "default_inputs", "read_licences", "is_permissive", "SynthInputs"]

KINDS: tuple[str, ...] = (
    "genuine",
    "faceswap",
    "relay",
    "avoffset",
    "mismatched_audio",
    "handwave_genuine",
    "handwave_faceswap",
)
RELAY_PRESETS: tuple[str, ...] = ("intl_rdp", "intl_rdp_congested", "kvm_ip")
AUDIO_SR = 16000
_VIDEO_EXT = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi")
_STILL_EXT = (".jpg", ".jpeg", ".png")
_PERMISSIVE = re.compile(r"apache-2\.0|\bmit\b|cc[ -]by(?![ -]?-?nc)", re.IGNORECASE)
LABEL_VERSION = 1


# ------------------------------------------------------------------- inputs
def default_inputs(shared=None) -> dict[str, Path]:
    """The input directories under ``shared/data`` (default: ``../shared`` beside the repository or the cwd).

    Returns ``{"faces_dir", "speech_dir", "hands_dir", "keystrokes_dir"}``.
    """
    if shared is None:
        candidates = [
            Path(__file__).resolve().parents[4] / "shared",
            Path.cwd().parent / "shared",
            Path.cwd() / "shared",
        ]
        shared = next((c for c in candidates if (c / "data").is_dir()), candidates[0])
    data = Path(shared) / "data"
    return {
        "faces_dir": data / "faces_video",
        "speech_dir": data / "speech",
        "hands_dir": data / "hands",
        "keystrokes_dir": data / "keystrokes",
    }


def read_licences(*dirs) -> dict[str, str]:
    """Licence text per file name, from the ``| licence |`` column of ``SOURCES.md`` lines.

    Looks for ``SOURCES.md`` in each directory and its parents (up to two
    levels). Keys are file names (the last path component of the line's first
    column).
    """
    out: dict[str, str] = {}
    seen = set()
    for d in dirs:
        if d is None:
            continue
        p = Path(d).resolve()
        for q in (p, p.parent, p.parent.parent):
            f = q / "SOURCES.md"
            if f in seen or not f.is_file():
                continue
            seen.add(f)
            for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.startswith("- ") or line.count("|") < 3:
                    continue
                cols = [c.strip() for c in line[2:].split("|")]
                name = cols[0].split("/")[-1].strip()
                if name and name not in out:
                    out[name] = cols[2]
    return out


def _sources_root(*dirs) -> Path | None:
    for d in dirs:
        if d is None:
            continue
        p = Path(d).resolve()
        for q in (p, p.parent, p.parent.parent):
            if (q / "SOURCES.md").is_file():
                return q
    return None


def is_permissive(licence: str | None) -> bool:
    """True for licence lines naming Apache-2.0, MIT or CC BY (not CC BY-NC)."""
    return bool(licence) and bool(_PERMISSIVE.search(licence))


class SynthInputs:
    """The input files found in the directories, with their licences."""

    def __init__(self, *, faces_dir, speech_dir, hands_dir, keystrokes_dir, permissive_only: bool = False) -> None:
        from interview_guard.synth.hands import hand_sources  # noqa: PLC0415

        self.licences = read_licences(faces_dir, speech_dir, hands_dir, keystrokes_dir)
        self.data_root = _sources_root(faces_dir, speech_dir, hands_dir, keystrokes_dir)
        self.permissive_only = permissive_only

        def ok(p: Path) -> bool:
            return not permissive_only or is_permissive(self.licences.get(p.name))

        faces = [p for p in _files(faces_dir, _VIDEO_EXT) if ok(p)]
        self.clips = [p for p in faces if _usable_clip(p)]
        self.clips_with_audio = [p for p in self.clips if _has_audio(p)]
        stills_dir = None if faces_dir is None else Path(faces_dir) / "stills"
        self.stills = [
            p
            for p in _files(stills_dir, _STILL_EXT)
            if ok(p) and "two_people" not in p.name and "partial" not in p.name
        ]
        self.speech = [p for p in _files(speech_dir, (".wav", ".flac", ".mp3", ".ogg", ".m4a")) if ok(p)]
        self.hands_dir = None if hands_dir is None else Path(hands_dir)
        hands = hand_sources(hands_dir) if hands_dir is not None and Path(hands_dir).is_dir() else []
        # (photo, mask or None): photos without a mask are segmented (hand_segment) when first used
        self.hands = [h for h in hands if _is_colour(h[0]) and ok(h[0])]
        ks = []
        if keystrokes_dir is not None and Path(keystrokes_dir).is_dir():
            kd = Path(keystrokes_dir)
            ks = sorted(set(kd.rglob("*_keystrokes.txt")) | set(kd.rglob("*.jsonl")))
        self.keystrokes = [p for p in ks if ok(p)]

    def licence(self, p) -> str | None:
        return None if p is None else self.licences.get(Path(p).name)


def _files(d, exts) -> list[Path]:
    if d is None or not Path(d).is_dir():
        return []
    return sorted(
        p for p in Path(d).iterdir() if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
    )


def _probe(p: Path) -> dict:
    import av  # noqa: PLC0415

    try:
        with av.open(str(p)) as c:
            v = c.streams.video[0] if c.streams.video else None
            a = c.streams.audio[0] if c.streams.audio else None
            dur = float(c.duration / 1e6) if c.duration else 0.0
            return {
                "w": v.codec_context.width if v else 0,
                "h": v.codec_context.height if v else 0,
                "audio": a is not None,
                "dur": dur,
            }
    except Exception:  # noqa: BLE001 - unreadable file: not usable
        return {"w": 0, "h": 0, "audio": False, "dur": 0.0}


def _is_colour(p: Path) -> bool:
    """False for black-and-white photos (a grey hand in a colour video is an artefact of its own)."""
    import cv2  # noqa: PLC0415

    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        return False
    x = img.astype(np.int16)
    return float(np.abs(x[..., 2] - x[..., 1]).mean() + np.abs(x[..., 1] - x[..., 0]).mean()) > 4.0


def _usable_clip(p: Path) -> bool:
    info = _probe(p)
    return min(info["w"], info["h"]) >= 200 and info["dur"] >= 2.0


def _has_audio(p: Path) -> bool:
    return _probe(p)["audio"]


# -------------------------------------------------------------------- keystrokes
def _keystroke_slice(path: Path, span_ms: float, rng: np.random.Generator):
    """A slice of real typing about ``span_ms`` long, starting at a press; times rebased to 0 at its first press."""
    from interview_guard.io.keystroke_log import keystroke_log_from_presses, read_keystroke_log  # noqa: PLC0415

    log = read_keystroke_log(path)
    pr = log.presses()
    if len(pr) < 5:
        raise InputError("keystroke log has too few presses", path=path)
    press = pr.press_ms
    best = None
    # start where a whole span of the trace is left (the whole trace when it is shorter than the span)
    room = int(np.searchsorted(press, press[-1] - span_ms, side="right"))
    n_start = max(1, min(len(press) - 5, room))
    for _ in range(8):  # a few tries for a window with typing in it (the Aalto files pause between sentences)
        i0 = int(rng.integers(0, n_start))
        t0 = press[i0]
        sel = (press >= t0) & (press <= t0 + span_ms)
        if best is None or sel.sum() > best[1].sum():
            best = (t0, sel)
        if sel.sum() >= 12:
            break
    t0, sel = best
    rel = pr.release_ms[sel] - t0
    sliced = keystroke_log_from_presses(
        press_ms=press[sel] - t0, release_ms=rel, key=list(pr.key[sel]), code=list(pr.code[sel]), source=str(path)
    )
    return sliced, float(t0)


# -------------------------------------------------------------------------- audio
def _decode_mono(path, seconds: float) -> np.ndarray:
    from interview_guard.io.audio_decode import decode_audio  # noqa: PLC0415

    tr = decode_audio(path, sr=AUDIO_SR, max_seconds=seconds + 1.0)
    x = np.asarray(tr.samples, np.float32)
    lead = int(round(max(tr.start_s, 0.0) * AUDIO_SR))
    if lead:
        x = np.concatenate([np.zeros(lead, np.float32), x])
    return x


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    if x.size >= n:
        return x[:n].copy()
    return np.concatenate([x, np.zeros(n - x.size, np.float32)])


def shift_audio(x: np.ndarray, offset_ms: float, sr: int = AUDIO_SR) -> np.ndarray:
    """Delay (``offset_ms`` > 0: audio late) or advance the samples, keeping the length (silence fills the gap)."""
    d = int(round(offset_ms * sr / 1000.0))
    out = np.zeros_like(x)
    if d > 0:
        out[d:] = x[: x.size - d]
    elif d < 0:
        out[: x.size + d] = x[-d:]
    else:
        out[:] = x
    return out


# -------------------------------------------------------------------------- video
def _read_frames(path: Path, max_seconds: float):
    """Frames (RGB, even size) and times (s, from 0) of the first ``max_seconds``, and the frame rate."""
    import av  # noqa: PLC0415

    from interview_guard.io.video_decode import iter_frames  # noqa: PLC0415

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        rate = st.average_rate or st.guessed_rate or Fraction(25)
    frames, times = [], []
    for f in iter_frames(path, end_s=None):
        if times and f.t_s - times[0] >= max_seconds - 1e-6:
            break
        img = f.image
        h, w = img.shape[:2]
        frames.append(np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2]))
        times.append(f.t_s)
    if not frames:
        raise InputError("no video frames", path=path)
    t = np.asarray(times) - times[0]
    return frames, t, Fraction(rate).limit_denominator(1001)


def _still_or_frame(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    """An RGB identity image: a still photo, or a frame of a clip (at a random time in its first 2 s)."""
    import cv2  # noqa: PLC0415

    if path.suffix.lower() in _STILL_EXT:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError("cannot read image", path=path)
        h, w = img.shape[:2]
        s = min(1.0, 1024.0 / max(h, w))
        if s < 1.0:
            img = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), None
    from interview_guard.io.video_decode import iter_frames  # noqa: PLC0415

    want = float(rng.uniform(0.2, 2.0))
    for f in iter_frames(path):
        if f.t_s >= want:
            return f.image, float(f.t_s)
    raise InputError("clip too short for an identity frame", path=path)


def _write_mp4(path: Path, frames, rate: Fraction, audio: np.ndarray | None, *, crf: int = 20) -> None:
    """H.264 (single-threaded, deterministic) + AAC mono at 16 kHz."""
    import av  # noqa: PLC0415

    tmp = path.with_name("." + path.name + ".tmp.mp4")
    H, W = frames[0].shape[:2]
    try:
        with av.open(str(tmp), "w", format="mp4") as c:
            vs = c.add_stream("libx264", rate=rate)
            vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
            vs.options = {
                "crf": str(crf),
                "preset": "veryfast",
                "threads": "1",
                "x264-params": "threads=1:sliced-threads=0",
            }
            vs.codec_context.thread_count = 1
            as_ = None
            if audio is not None:
                as_ = c.add_stream("aac", rate=AUDIO_SR)
                as_.layout = "mono"
                as_.codec_context.thread_count = 1
            for k, img in enumerate(frames):
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = k
                fr.time_base = Fraction(1) / rate
                for pkt in vs.encode(fr):
                    c.mux(pkt)
            for pkt in vs.encode():
                c.mux(pkt)
            if as_ is not None:
                x = np.clip(audio, -1.0, 1.0).astype(np.float32)
                for s in range(0, x.size, 1024):
                    af = av.AudioFrame.from_ndarray(x[None, s : s + 1024], format="fltp", layout="mono")
                    af.sample_rate = AUDIO_SR
                    af.pts = s
                    af.time_base = Fraction(1, AUDIO_SR)
                    for pkt in as_.encode(af):
                        c.mux(pkt)
                for pkt in as_.encode():
                    c.mux(pkt)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _face_track(frames, times, models_dir):
    """Face outline centres and widths per frame (NaN where no face) from MediaPipe on the clean frames."""
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions  # noqa: PLC0415
    from interview_guard.signals.face_geometry import FACE_OVAL  # noqa: PLC0415

    cs = np.full((len(frames), 2), np.nan)
    ws = np.full(len(frames), np.nan)
    with FaceLandmarkerRunner(FaceRunnerOptions(blendshapes=False, image_mode=True), models_dir=models_dir) as r:
        for k, (img, t) in enumerate(zip(frames, times)):
            ob = r.process(img, float(t))
            if ob.present:
                H, W = img.shape[:2]
                p = ob.landmarks[FACE_OVAL, :2] * [W, H]
                cs[k] = p.mean(0)
                ws[k] = p[:, 0].max() - p[:, 0].min()
    return cs, ws


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """First index and length of the longest run of True."""
    best, start = (0, 0), None
    for k, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = k
        elif not f and start is not None:
            if k - start > best[1]:
                best = (start, k - start)
            start = None
    return best


def _intervals(times: np.ndarray, flags: np.ndarray, dt: float) -> list[list[float]]:
    """Runs of True in ``flags`` as [start_s, end_s] (end = last frame + one frame)."""
    out = []
    start = None
    for t, f in zip(times, flags):
        if f and start is None:
            start = t
        elif not f and start is not None:
            out.append([round(float(start), 3), round(float(t), 3)])
            start = None
    if start is not None:
        out.append([round(float(start), 3), round(float(times[-1] + dt), 3)])
    return out


# ------------------------------------------------------------------------- generate
def generate(
    out_dir,
    *,
    n: int,
    seed: int = 0,
    kinds: Sequence[str] = KINDS,
    faces_dir=None,
    speech_dir=None,
    hands_dir=None,
    keystrokes_dir=None,
    max_seconds: float = 20.0,
    typing_seconds: float | None = 240.0,
    keyboard_audio: bool = True,
    permissive_only: bool = False,
    models_dir=None,
    jobs: int = 1,
    progress: Callable[..., None] | None = None,
) -> list[Path]:
    """Write ``n`` labelled sessions under ``out_dir`` (``synth-<seed>-<i>-<kind>/``); return their directories.

    Parameters
    ----------
    out_dir : path
    n : int
        Number of sessions; kinds are assigned in turn (session ``i`` gets
        ``kinds[i % len(kinds)]``), so every kind appears once n >= len(kinds).
    seed : int
        Same seed, same inputs: same sessions.
    kinds : sequence of str
        Out of :data:`KINDS`.
    faces_dir, speech_dir, hands_dir, keystrokes_dir : path, optional
        Input directories; each one left out comes from :func:`default_inputs`.
        ``faces_dir`` holds real face clips (mp4 with audio preferred) and an
        optional ``stills/`` of face photos; ``hands_dir`` hand photos, with a
        ``*_mask.png`` or without (then segmented, see
        :func:`~interview_guard.synth.hand_composite.load_hand_cutouts`);
        ``keystrokes_dir`` Aalto ``*_keystrokes.txt`` or ``*.jsonl`` logs
        (searched recursively).
    max_seconds : float
        Longest video (the clip is cut there; shorter clips keep their length).
    typing_seconds : float or None
        Length of the typing in each keystroke log, from its start inside
        the video (a slice of a real trace; it may run on past the end of the
        short video, as the log of a longer interview would). ``None``: only
        as long as the video.
    keyboard_audio : bool
        Render a click into the audio for each key event the video's time
        covers (:mod:`~interview_guard.synth.keyboard_sound`), at the typist's own
        key times (for ``relay`` the times before the relay), a few ms before
        each is logged, at -12 to +6 dB against the speech; in 30 % of the
        sessions (any kind) noise suppression removes them. ``mismatched_audio``
        sessions get none (the sound comes from another room). The label
        records what was rendered.
    permissive_only : bool
        Use only face, still, speech, hand and keystroke files whose
        ``SOURCES.md`` licence names Apache-2.0, MIT or CC BY. In the shared
        data that leaves, for the hand waves, the CC BY-SA HaGRID collages,
        segmented by :mod:`~interview_guard.synth.hand_segment` (the HandOverFace
        photos and masks have **no stated licence**). ``label.json`` says
        whether every input of a session is permissive and, if not, which.
    models_dir : path, optional
        MediaPipe model directory.
    jobs : int
        Worker processes (sessions are independent: each has its own random
        stream from ``(seed, index)``, so the output does not depend on it).
    progress : callable, optional
        Called as ``progress("synth", completed=i, total=n)``.

    Raises
    ------
    ParameterError
        For an unknown kind, ``n < 1`` or ``max_seconds`` under 1 s.
    InputError
        When the inputs a kind needs are missing.
    """
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ParameterError(f"unknown kind(s) {bad}; choose from {', '.join(KINDS)}")
    if int(n) < 1:
        raise ParameterError("n must be at least 1")
    if not (max_seconds >= 1.0):
        raise ParameterError("max_seconds must be at least 1")
    if typing_seconds is not None and not (typing_seconds >= 1.0):
        raise ParameterError("typing_seconds must be at least 1 (or None)")
    if int(jobs) < 1:
        raise ParameterError("jobs must be at least 1")
    d = default_inputs()
    inputs = SynthInputs(
        faces_dir=faces_dir if faces_dir is not None else d["faces_dir"],
        speech_dir=speech_dir if speech_dir is not None else d["speech_dir"],
        hands_dir=hands_dir if hands_dir is not None else d["hands_dir"],
        keystrokes_dir=keystrokes_dir if keystrokes_dir is not None else d["keystrokes_dir"],
        permissive_only=permissive_only,
    )
    if not inputs.clips:
        raise InputError("no usable face clips (video at least 200 px and 2 s long)", path=faces_dir)
    out_root = Path(out_dir)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file, or a link to nowhere, in the way; no permission
        raise InputError(f"cannot create the output directory: {e.strerror or e}", path=out_root) from e
    if progress:
        progress("synth", completed=0, total=int(n))
    tasks = []
    for i in range(int(n)):
        kind = kinds[i % len(kinds)]
        sdir = out_root / f"synth-{int(seed)}-{i:04d}-{kind}"
        tasks.append(
            dict(
                sdir=sdir,
                kind=kind,
                inputs=inputs,
                seed=int(seed),
                index=i,
                max_seconds=float(max_seconds),
                typing_seconds=None if typing_seconds is None else float(typing_seconds),
                keyboard_audio=bool(keyboard_audio),
                models_dir=models_dir,
            )
        )
    if int(jobs) == 1 or len(tasks) == 1:
        for k, t in enumerate(tasks):
            _make_session(**t)
            if progress:
                progress("synth", completed=k + 1, total=int(n))
    else:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # noqa: PLC0415

        with ProcessPoolExecutor(max_workers=min(int(jobs), len(tasks))) as pool:
            pending = {pool.submit(_make_session, **t) for t in tasks}
            done_n = 0
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()  # re-raises the worker's error (InputError names the file)
                    done_n += 1
                    if progress:
                        progress("synth", completed=done_n, total=int(n))
    return [t["sdir"] for t in tasks]


def _render_keyboard(audio, typed, *, offset_ms: float, kind: str, rng) -> dict:
    """Add the typist's key clicks to ``audio`` in place (see :func:`generate`); return what was done."""
    from interview_guard.synth import keyboard_sound as kbs  # noqa: PLC0415

    suppressed = bool(rng.random() < 0.3)
    snr_db = round(float(rng.uniform(-12.0, 6.0)), 1)
    if audio is None:
        return {"rendered": False, "reason": "no audio track"}
    if kind == "mismatched_audio":
        return {"rendered": False, "reason": "the audio comes from another room"}
    if suppressed:
        return {"rendered": False, "reason": "noise suppression (30 % of sessions)"}
    speech = kbs.active_rms(audio, sr=AUDIO_SR)
    level = max(speech, 3e-3) * 10 ** (snr_db / 20.0)
    t_s = (typed.t_ms + offset_ms) / 1000.0
    lat = kbs.key_latency_ms(len(typed), rng) / 1000.0  # the sound comes a few ms before the log
    downs = kbs.render_clicks(audio, times_s=(t_s - lat)[typed.kind == DOWN], level=level, rng=rng, sr=AUDIO_SR)
    ups = kbs.render_clicks(
        audio, times_s=(t_s - lat)[typed.kind == UP], level=level * 10 ** (kbs.UP_LEVEL_DB / 20), rng=rng, sr=AUDIO_SR
    )
    return {
        "rendered": True,
        "model": "synthetic clicks (keyboard_sound) at the real key times",
        "snr_db": snr_db,
        "key_down_clicks": downs,
        "key_up_clicks": ups,
        "latency_ms": "8 + U(0, 8) + Exp(0.5)",
    }


def _pick(rng, items, exclude=()):
    pool = [p for p in items if p not in exclude]
    if not pool:
        return None
    return pool[int(rng.integers(len(pool)))]


def _make_session(
    sdir: Path,
    *,
    kind: str,
    inputs: SynthInputs,
    seed: int,
    index: int,
    max_seconds: float,
    typing_seconds: float | None,
    keyboard_audio: bool,
    models_dir,
) -> None:
    import cv2  # noqa: PLC0415

    from interview_guard.io.keystroke_log import dumps_jsonl  # noqa: PLC0415

    # OpenCV's parallel loops (seamlessClone, remap) can sum in another order from run to run under load:
    # generation runs them on one thread so a seed gives the same pixels (parallelism is per session, --jobs)
    cv2.setNumThreads(1)
    rng = np.random.default_rng([int(seed), int(index)])

    needs_own_audio = kind in ("genuine", "avoffset", "relay", "faceswap", "handwave_genuine", "handwave_faceswap")
    pool = inputs.clips_with_audio if (needs_own_audio and inputs.clips_with_audio) else inputs.clips
    if kind == "avoffset":
        if not inputs.clips_with_audio:
            raise InputError("avoffset needs a face clip with audio")
        pool = inputs.clips_with_audio
    clip = _pick(rng, pool)
    frames, times, rate = _read_frames(clip, max_seconds)
    dur = float(len(frames) / rate)
    dt = float(1 / rate)
    n_audio = int(round(dur * AUDIO_SR))
    manipulations: list[dict] = []
    events: list[dict] = []
    used: dict[str, str | None] = {
        "face_clip": str(clip),
        "speech": None,
        "keystrokes": None,
        "hand_image": None,
        "hand_mask": None,
        "identity_source": None,
    }
    challenges: list[dict] = []

    # ---------------------------------------------------------------- audio
    audio = None
    if _has_audio(clip):
        audio = _fit(_decode_mono(clip, dur), n_audio)
        used["speech"] = str(clip) + "#audio"
    # ------------------------------------------------------------ keystrokes
    # before the audio manipulations: the keyboard is heard in the room's sound, which they then shift or replace
    sdir.mkdir(parents=True, exist_ok=True)
    lead_ms = float(rng.uniform(200.0, 600.0))
    client_origin = float(np.round(rng.uniform(5_000.0, 900_000.0), 1))
    offset_ms = None
    typing_event = None
    if inputs.keystrokes:
        kf = _pick(rng, inputs.keystrokes)
        used["keystrokes"] = str(kf)
        if typing_seconds is None:
            span = max(500.0, dur * 1000.0 - lead_ms - 300.0)
        else:
            span = float(typing_seconds) * 1000.0
        ks, t0_src = _keystroke_slice(kf, span, rng)
        ks = ks.shifted(client_origin)
        typed = ks  # what the typist's fingers did (heard by the microphone)
        if kind == "relay":
            from interview_guard.synth.relay_sim import PROFILES, relay_description, simulate_relay  # noqa: PLC0415

            preset = RELAY_PRESETS[int(rng.integers(len(RELAY_PRESETS)))]
            rel = simulate_relay(ks, PROFILES[preset], seed=int(rng.integers(2**31)))
            delay = rel.t_ms - ks.t_ms
            manipulations.append(
                {
                    "kind": "relay",
                    "start_s": round(lead_ms / 1000.0, 3),
                    "end_s": round((float(rel.t_ms[-1]) - client_origin + lead_ms) / 1000.0, 3),
                    "details": {
                        "preset": preset,
                        "description": relay_description(PROFILES[preset]),
                        "events": len(rel),
                        "delay_ms_mean": round(float(delay.mean()), 2),
                        "delay_ms_max": round(float(delay.max()), 2),
                    },
                }
            )
            ks = rel
        offset_ms = round(lead_ms - client_origin, 3)
        atomic_write_text(sdir / "keystrokes.jsonl", dumps_jsonl(ks))
        sound = {"rendered": False, "reason": "keyboard_audio off"}
        if keyboard_audio:
            sound = _render_keyboard(audio, typed, offset_ms=offset_ms, kind=kind, rng=rng)
        typing_event = {
            "kind": "typing",
            "start_s": round(lead_ms / 1000.0, 3),
            "end_s": round((float(ks.t_ms[-1]) - client_origin + lead_ms) / 1000.0, 3),
            "details": {
                "source_file": kf.name,
                "source_start_ms": t0_src,
                "events": len(ks),
                "presses": int((ks.kind == DOWN).sum()),
                "keyboard_audio": sound,
            },
        }

    if kind == "avoffset":
        mag = float(rng.uniform(150.0, 400.0))
        off = mag if rng.random() < 0.5 else -mag
        off = round(off, 1)
        audio = shift_audio(audio, off)
        manipulations.append(
            {
                "kind": "avoffset",
                "start_s": 0.0,
                "end_s": round(dur, 3),
                "details": {"offset_ms": off, "convention": "positive: audio late (after the lips)"},
            }
        )
    elif kind == "mismatched_audio":
        if not inputs.speech:
            raise InputError("mismatched_audio needs speech files")
        sp = _pick(rng, inputs.speech)
        x = _decode_mono(sp, 60.0)
        start = 0
        if x.size > n_audio:
            start = int(rng.integers(0, x.size - n_audio + 1))
        audio = _fit(x[start:], n_audio)
        used["speech"] = str(sp)
        manipulations.append(
            {
                "kind": "mismatched_audio",
                "start_s": 0.0,
                "end_s": round(dur, 3),
                "details": {
                    "speech_file": sp.name,
                    "speech_start_s": round(start / AUDIO_SR, 3),
                    "replaced_own_audio": _has_audio(clip),
                },
            }
        )

    # ---------------------------------------------------------------- video
    if kind in ("handwave_genuine", "handwave_faceswap"):
        from interview_guard.synth.hand_composite import composite_hand, load_hand_cutouts, wave_positions  # noqa: PLC0415

        allowed = {h[0].resolve() for h in inputs.hands}
        cutouts = []
        if allowed:
            cutouts = load_hand_cutouts(
                inputs.hands_dir, models_dir=models_dir, include=lambda q: q.resolve() in allowed
            )
        if not cutouts:
            raise InputError(
                "handwave kinds need hand photos (with *_mask.png, or photos where hand_segment finds an "
                "open hand)" + (" with a permissive licence" if inputs.permissive_only else ""),
                path=inputs.hands_dir,
            )
        hand = cutouts[int(rng.integers(len(cutouts)))]
        hsrc, _, hbox = hand.source.partition("#")
        himg = Path(hsrc)
        hmask = himg.with_name(himg.stem + "_mask.png")
        used["hand_image"] = hand.source
        used["hand_mask"] = str(hmask) if not hbox and hmask.is_file() else None
        cs, ws = _face_track(frames, times, models_dir)
        # the wave happens while the face is on screen (clips can cut away from the face)
        i0, run = _longest_run(np.isfinite(ws))
        if run * dt < 0.8:
            raise InputError("no face visible for 0.8 s in a row, needed for a hand wave", path=clip)
        r0, r1 = float(times[i0]), float(times[i0 + run - 1]) + dt
        centre = np.median(cs[i0 : i0 + run], axis=0)  # reported in the label
        width = float(np.median(ws[i0 : i0 + run]))
        wave_s = float(min(1.6, 0.5 * dur, r1 - r0))
        lo = max(r0, min(r1 - wave_s, r0 + 0.25 * (r1 - r0)))
        hi = max(lo, r1 - wave_s - 0.1 * (r1 - r0))
        start_s = float(rng.uniform(lo, hi))
        end_s = start_s + wave_s
        passes = float(rng.choice([1.0, 2.0, 3.0]))
        hand_h = float(rng.uniform(0.9, 1.3)) * width
        amp = 0.9 * width
        angle = float(rng.uniform(-20, 20))
        # the wave is centred on the face in each frame (people move): the face track, gaps held, lightly smoothed
        idx = np.arange(len(frames))
        ok_rows = np.isfinite(ws)
        follow = np.stack([np.interp(idx, idx[ok_rows], cs[ok_rows, j]) for j in (0, 1)], axis=1)
        kern = np.ones(5) / 5.0
        follow = np.stack(
            [np.convolve(np.pad(follow[:, j], 2, mode="edge"), kern, mode="valid") for j in (0, 1)], axis=1
        )
        pos = wave_positions(times, start_s=start_s, end_s=end_s, centre=(0.0, 0.0), amplitude=amp, passes=passes)
        pos = pos + follow
        frames = [
            composite_hand(f, hand, centre_xy=pos[k], height_px=hand_h, angle_deg=angle) for k, f in enumerate(frames)
        ]
        challenges.append(
            {
                "kind": "hand_wave",
                "t_s": round(max(0.0, start_s - 0.3), 3),
                "note": "asked to wave a hand in front of the face",
            }
        )
        events.append(
            {
                "kind": "hand_wave",
                "start_s": round(start_s, 3),
                "end_s": round(end_s, 3),
                "details": {
                    "hand": himg.name + (f"#{hbox}" if hbox else ""),
                    "segmentation": "mask file" if used["hand_mask"] else "hand_segment (landmarks + GrabCut)",
                    "passes": passes,
                    "hand_height_px": round(hand_h, 1),
                    "amplitude_px": round(amp, 1),
                    "angle_deg": round(angle, 1),
                    "face_centre_px": [round(float(centre[0]), 1), round(float(centre[1]), 1)],
                    "face_width_px": round(width, 1),
                },
            }
        )

    if kind in ("faceswap", "handwave_faceswap"):
        from interview_guard.synth.face_swap import FaceSwapper  # noqa: PLC0415

        candidates = [p for p in inputs.clips if p != clip] + list(inputs.stills)
        order = rng.permutation(len(candidates))
        swapper = None
        for j in order:
            cand = candidates[int(j)]
            try:
                ident, t_ident = _still_or_frame(cand, rng)
                swapper = FaceSwapper(ident, models_dir=models_dir)
                used["identity_source"] = str(cand) + ("" if t_ident is None else f"#t={t_ident:.3f}")
                break
            except InputError:
                continue
        if swapper is None:
            raise InputError("no second identity with a findable face")
        flags = np.zeros(len(frames), bool)
        with swapper:
            out = []
            for k, f in enumerate(frames):
                g, ok = swapper.swap(f, float(times[k]))
                out.append(g)
                flags[k] = ok
        frames = out
        details = {
            "identity_source": Path(used["identity_source"].split("#")[0]).name,
            "identity_frame_s": None
            if "#t=" not in used["identity_source"]
            else float(used["identity_source"].split("#t=")[1]),
            "method": "landmark Delaunay warp + Lab colour match + seamlessClone (FF++ FaceSwap-like)",
            "frames": len(frames),
            "swapped_frames": int(flags.sum()),
            "swapped_intervals_s": _intervals(times, flags, dt),
            "dropout_intervals_s": _intervals(times, ~flags, dt),
        }
        if events:
            w0, w1 = events[0]["start_s"], events[0]["end_s"]
            inwave = (times >= w0) & (times <= w1)
            details["wave_frames"] = int(inwave.sum())
            details["wave_frames_swapped"] = int((flags & inwave).sum())
        manipulations.append({"kind": "faceswap", "start_s": 0.0, "end_s": round(dur, 3), "details": details})

    _write_mp4(sdir / "video.mp4", frames, rate, audio)
    if typing_event is not None:
        events.append(typing_event)

    meta = {"candidate_id": f"synth-{seed}-{index:04d}"}
    if offset_ms is not None:
        meta["keystroke_clock_offset_ms"] = offset_ms
    if challenges:
        meta["challenges"] = challenges
    atomic_write_text(sdir / "session.json", json.dumps(meta, indent=2) + "\n")

    licences = {k: inputs.licence(v.split("#")[0]) if v else None for k, v in used.items()}
    if used["speech"] and used["speech"].endswith("#audio"):
        licences["speech"] = licences["face_clip"]
    files = {k: (None if v is None else _rel_name(v, inputs.data_root)) for k, v in used.items()}
    permissive = all(is_permissive(v) for k, v in licences.items() if files[k] is not None)
    label = {
        "version": LABEL_VERSION,
        "label": "manipulated" if manipulations else "genuine",
        "kinds": [kind],
        "manipulations": manipulations,
        "events": events,
        "seed": seed,
        "index": index,
        "duration_s": round(dur, 3),
        "fps": float(round(float(rate), 4)),
        "inputs": files,
        "licences": licences,
        "permissive": permissive,
        "internal_only_reason": (
            None
            if permissive
            else "inputs without a permissive licence: "
            + ", ".join(
                f"{k} ({licences[k] or 'not stated'})"
                for k in files
                if files[k] is not None and not is_permissive(licences[k])
            )
        ),
    }
    atomic_write_text(sdir / "label.json", json.dumps(label, indent=2, sort_keys=False) + "\n")


def _rel_name(v: str, root: Path | None) -> str:
    """Path relative to the data root (where SOURCES.md is), else folder/name: labels never hold absolute paths."""
    base, _, frag = v.partition("#")
    p = Path(base).resolve()
    try:
        name = p.relative_to(root).as_posix() if root is not None else None
    except ValueError:
        name = None
    if name is None:
        name = f"{p.parent.name}/{p.name}" if p.parent.name else p.name
    return name + (f"#{frag}" if frag else "")
