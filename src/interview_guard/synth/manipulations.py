"""The audio and video manipulations of the synthetic sessions, each by its real mechanism.

Each function changes a :class:`~interview_guard.synth.session_media.SessionDraft`
in place and records what it did in the draft's ``manipulations``,
``events``, ``challenges`` and ``used`` (the input files):

* :func:`offset_audio` (``avoffset``): the clip's own audio shifted by
  150-400 ms, either way;
* :func:`replace_audio` (``mismatched_audio``): another speaker's speech;
* :func:`wave_hand` (``handwave_*``): a real hand cut-out waved in front of
  the face (:mod:`~interview_guard.synth.hand_composite`), with a
  ``hand_wave`` challenge;
* :func:`swap_face` (``faceswap``, ``handwave_faceswap``): every frame
  through :class:`~interview_guard.synth.face_swap.FaceSwapper` with a second
  identity (a frame of another clip, or a still photo).

Every random draw comes from the session's generator, in a fixed order, so a
seed gives the same session. OpenCV and MediaPipe are imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from interview_guard.errors import InputError
from interview_guard.synth.face_swap import FaceSwapper
from interview_guard.synth.hand_composite import composite_hand, load_hand_cutouts, wave_positions
from interview_guard.synth.inputs import STILL_EXT, SynthInputs, has_audio
from interview_guard.synth.session_media import AUDIO_SR, SessionDraft, decode_mono, fit_length, pick

__all__ = ["shift_audio", "offset_audio", "replace_audio", "wave_hand", "swap_face"]


# -------------------------------------------------------------------------- audio
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


def offset_audio(draft: SessionDraft, rng: np.random.Generator) -> None:
    """``avoffset``: shift the clip's own audio by 150-400 ms, either way (positive: audio late)."""
    mag = float(rng.uniform(150.0, 400.0))
    off = mag if rng.random() < 0.5 else -mag
    off = round(off, 1)
    if draft.audio is None:  # open_draft picks a clip with audio for avoffset
        raise InputError("avoffset needs a face clip with audio", path=draft.clip)
    draft.audio = shift_audio(draft.audio, off)
    draft.manipulations.append(
        {
            "kind": "avoffset",
            "start_s": 0.0,
            "end_s": round(draft.dur, 3),
            "details": {"offset_ms": off, "convention": "positive: audio late (after the lips)"},
        }
    )


def replace_audio(draft: SessionDraft, inputs: SynthInputs, rng: np.random.Generator) -> None:
    """``mismatched_audio``: replace the audio by a stretch of another speaker's speech."""
    if not inputs.speech:
        raise InputError("mismatched_audio needs speech files")
    sp = pick(rng, inputs.speech)
    x = decode_mono(sp, 60.0)
    start = 0
    if x.size > draft.n_audio:
        start = int(rng.integers(0, x.size - draft.n_audio + 1))
    draft.audio = fit_length(x[start:], draft.n_audio)
    draft.used["speech"] = str(sp)
    draft.manipulations.append(
        {
            "kind": "mismatched_audio",
            "start_s": 0.0,
            "end_s": round(draft.dur, 3),
            "details": {
                "speech_file": sp.name,
                "speech_start_s": round(start / AUDIO_SR, 3),
                "replaced_own_audio": has_audio(draft.clip),
            },
        }
    )


# -------------------------------------------------------------------------- video
def wave_hand(
    draft: SessionDraft, inputs: SynthInputs, rng: np.random.Generator, models_dir: str | os.PathLike[str] | None
) -> None:
    """``handwave_*``: composite a real hand waved across the face into every frame; mark the challenge."""
    frames, times, dt, dur, clip = draft.frames, draft.times, draft.dt, draft.dur, draft.clip
    used, challenges, events = draft.used, draft.challenges, draft.events
    allowed = {h[0].resolve() for h in inputs.hands}
    cutouts = []
    if allowed and inputs.hands_dir is not None:  # (there are hands only when there is a hands_dir)
        cutouts = load_hand_cutouts(inputs.hands_dir, models_dir=models_dir, include=lambda q: q.resolve() in allowed)
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
    follow = np.stack([np.convolve(np.pad(follow[:, j], 2, mode="edge"), kern, mode="valid") for j in (0, 1)], axis=1)
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
    draft.frames = frames


def swap_face(
    draft: SessionDraft, inputs: SynthInputs, rng: np.random.Generator, models_dir: str | os.PathLike[str] | None
) -> None:
    """``faceswap``, ``handwave_faceswap``: swap the face in every frame for a second identity's."""
    frames, times, dt, dur, clip = draft.frames, draft.times, draft.dt, draft.dur, draft.clip
    used, events, manipulations = draft.used, draft.events, draft.manipulations
    candidates = [p for p in inputs.clips if p != clip] + list(inputs.stills)
    order = rng.permutation(len(candidates))
    swapper = None
    identity = ""
    for j in order:
        cand = candidates[int(j)]
        try:
            ident, t_ident = _still_or_frame(cand, rng)
            swapper = FaceSwapper(ident, models_dir=models_dir)
            identity = str(cand) + ("" if t_ident is None else f"#t={t_ident:.3f}")
            used["identity_source"] = identity
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
    draft.frames = frames
    details = {
        "identity_source": Path(identity.split("#")[0]).name,
        "identity_frame_s": None if "#t=" not in identity else float(identity.split("#t=")[1]),
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


def _still_or_frame(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    """An RGB identity image: a still photo, or a frame of a clip (at a random time in its first 2 s)."""
    import cv2  # noqa: PLC0415

    if path.suffix.lower() in STILL_EXT:
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


def _face_track(
    frames: list[np.ndarray], times: np.ndarray, models_dir: str | os.PathLike[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Face outline centres and widths per frame (NaN where no face) from MediaPipe on the clean frames."""
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions  # noqa: PLC0415
    from interview_guard.signals.face_geometry import FACE_OVAL  # noqa: PLC0415

    cs = np.full((len(frames), 2), np.nan)
    ws = np.full(len(frames), np.nan)
    with FaceLandmarkerRunner(FaceRunnerOptions(blendshapes=False, image_mode=True), models_dir=models_dir) as r:
        for k, (img, t) in enumerate(zip(frames, times)):
            ob = r.process(img, float(t))
            if ob.present and ob.landmarks is not None:
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
