"""The media of a session being made: the real clip read into a draft, and the finished video written.

:func:`open_draft` picks a face clip and reads its first seconds (frames at
an even size, and its own audio, mono at :data:`AUDIO_SR`) into a
:class:`SessionDraft`, which the manipulations then change and annotate;
:func:`write_mp4` writes the frames and audio as H.264 + AAC, single-threaded
so that the same frames give the same file.

PyAV is imported inside the functions that use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interview_guard.errors import InputError
from interview_guard.synth.inputs import SynthInputs, has_audio

__all__ = ["AUDIO_SR", "SessionDraft", "pick", "open_draft", "decode_mono", "fit_length", "write_mp4"]

AUDIO_SR = 16000

_T = TypeVar("_T")


@dataclass
class SessionDraft:
    """A session being made: its frames and audio, and what its label and ``session.json`` will say.

    Attributes
    ----------
    clip : Path
        The face clip the session is made from.
    frames : list of np.ndarray
        RGB frames (even width and height); manipulations replace them.
    times : np.ndarray
        Frame times, seconds from 0.
    rate : Fraction
        Frame rate.
    audio : np.ndarray or None
        Mono samples at :data:`AUDIO_SR`, ``dur`` long; None when the clip has no audio.
    used : dict
        The input files used, by role (``face_clip``, ``speech``, ``keystrokes``,
        ``hand_image``, ``hand_mask``, ``identity_source``); None when unused.
    manipulations, events, challenges : list of dict
        Entries of ``label.json`` (``manipulations``, ``events``) and of
        ``session.json`` (``challenges``).
    """

    clip: Path
    frames: list[np.ndarray]
    times: np.ndarray
    rate: Fraction
    audio: np.ndarray | None
    used: dict[str, str | None]
    manipulations: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    challenges: list[dict[str, Any]] = field(default_factory=list)
    dur: float = field(init=False)  # seconds; fixed at the start (manipulations keep the frame count)
    dt: float = field(init=False)  # one frame, seconds
    n_audio: int = field(init=False)  # samples of audio

    def __post_init__(self) -> None:
        self.dur = float(len(self.frames) / self.rate)
        self.dt = float(1 / self.rate)
        self.n_audio = int(round(self.dur * AUDIO_SR))


def pick(rng: np.random.Generator, items: Sequence[_T]) -> _T:
    """One of ``items`` (not empty), drawn with ``rng``."""
    pool = list(items)
    return pool[int(rng.integers(len(pool)))]


def open_draft(kind: str, inputs: SynthInputs, rng: np.random.Generator, max_seconds: float) -> SessionDraft:
    """Pick the face clip for a session of ``kind`` and read its first ``max_seconds`` (frames and own audio)."""
    needs_own_audio = kind in ("genuine", "avoffset", "relay", "faceswap", "handwave_genuine", "handwave_faceswap")
    pool = inputs.clips_with_audio if (needs_own_audio and inputs.clips_with_audio) else inputs.clips
    if kind == "avoffset":
        if not inputs.clips_with_audio:
            raise InputError("avoffset needs a face clip with audio")
        pool = inputs.clips_with_audio
    clip = pick(rng, pool)
    frames, times, rate = read_frames(clip, max_seconds)
    used: dict[str, str | None] = {
        "face_clip": str(clip),
        "speech": None,
        "keystrokes": None,
        "hand_image": None,
        "hand_mask": None,
        "identity_source": None,
    }
    draft = SessionDraft(clip=clip, frames=frames, times=times, rate=rate, audio=None, used=used)
    if has_audio(clip):
        draft.audio = fit_length(decode_mono(clip, draft.dur), draft.n_audio)
        used["speech"] = str(clip) + "#audio"
    return draft


def decode_mono(path: str | os.PathLike[str], seconds: float) -> np.ndarray:
    """Mono samples at :data:`AUDIO_SR` of the first ``seconds`` (+ 1 s), silence before a late start."""
    from interview_guard.io.audio_decode import decode_audio  # noqa: PLC0415

    tr = decode_audio(path, sr=AUDIO_SR, max_seconds=seconds + 1.0)
    x = np.asarray(tr.samples, np.float32)
    lead = int(round(max(tr.start_s, 0.0) * AUDIO_SR))
    if lead:
        x = np.concatenate([np.zeros(lead, np.float32), x])
    return x


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or padded with silence to ``n`` samples (a new array)."""
    if x.size >= n:
        return x[:n].copy()
    return np.concatenate([x, np.zeros(n - x.size, np.float32)])


def read_frames(path: Path, max_seconds: float) -> tuple[list[np.ndarray], np.ndarray, Fraction]:
    """Frames (RGB, even size) and times (s, from 0) of the first ``max_seconds``, and the frame rate."""
    import av  # noqa: PLC0415

    from interview_guard.io.video_decode import iter_frames  # noqa: PLC0415

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        rate = st.average_rate or st.guessed_rate or Fraction(25)
    frames: list[np.ndarray] = []
    times: list[float] = []
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


def write_mp4(
    path: Path, frames: Sequence[np.ndarray], rate: Fraction, audio: np.ndarray | None, *, crf: int = 20
) -> None:
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
            if as_ is not None and audio is not None:  # (as_ is made only when there is audio)
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
