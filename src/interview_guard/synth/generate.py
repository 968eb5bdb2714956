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

Modules
-------
This module runs the sessions and writes ``session.json`` and
``label.json``; the inputs and their licences are in
:mod:`~interview_guard.synth.inputs`, reading the clip and writing the video
in :mod:`~interview_guard.synth.session_media`, the typing (and the
``relay``) in :mod:`~interview_guard.synth.keystrokes`, and the audio and
video manipulations in :mod:`~interview_guard.synth.manipulations`.

OpenCV, PyAV and MediaPipe are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.atomic import atomic_write_text
from interview_guard.errors import InputError, ParameterError
from interview_guard.synth.inputs import Dir, SynthInputs, default_inputs, is_permissive
from interview_guard.synth.keystrokes import draw_typing, render_keyboard
from interview_guard.synth.manipulations import offset_audio, replace_audio, swap_face, wave_hand
from interview_guard.synth.session_media import SessionDraft, open_draft, write_mp4

__all__ = ["KINDS", "generate"]

KINDS: tuple[str, ...] = (
    "genuine",
    "faceswap",
    "relay",
    "avoffset",
    "mismatched_audio",
    "handwave_genuine",
    "handwave_faceswap",
)
LABEL_VERSION = 1


def generate(
    out_dir: str | os.PathLike[str],
    *,
    n: int,
    seed: int = 0,
    kinds: Sequence[str] = KINDS,
    faces_dir: Dir = None,
    speech_dir: Dir = None,
    hands_dir: Dir = None,
    keystrokes_dir: Dir = None,
    max_seconds: float = 20.0,
    typing_seconds: float | None = 240.0,
    keyboard_audio: bool = True,
    permissive_only: bool = False,
    models_dir: str | os.PathLike[str] | None = None,
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
    tasks: list[dict[str, Any]] = []
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

        from interview_guard.io.worker_process import die_with_parent  # noqa: PLC0415

        # the workers end with this process: killed (SIGTERM, kill -9), it left them waiting for work for ever
        workers = min(int(jobs), len(tasks))
        with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
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
    models_dir: str | os.PathLike[str] | None,
) -> None:
    import cv2  # noqa: PLC0415

    from interview_guard.io.keystroke_log import dumps_jsonl  # noqa: PLC0415

    # OpenCV's parallel loops (seamlessClone, remap) can sum in another order from run to run under load:
    # generation runs them on one thread so a seed gives the same pixels (parallelism is per session, --jobs)
    cv2.setNumThreads(1)
    # every draw comes from this generator in this order: clip, typing (and relay), key clicks, audio, hand, swap
    rng = np.random.default_rng([int(seed), int(index)])
    draft = open_draft(kind, inputs, rng, max_seconds)

    # made in a hidden directory beside it, renamed when whole: a killed run leaves no half session that batch or
    # calibrate would take for a real one (discovery skips hidden directories)
    final, sdir = sdir, sdir.with_name(f".{sdir.name}.tmp")
    shutil.rmtree(sdir, ignore_errors=True)  # a killed run's
    # keystrokes before the audio manipulations: the keyboard is heard in the room's sound, which they then shift
    # or replace
    sdir.mkdir(parents=True, exist_ok=True)
    typing = draw_typing(draft, kind, inputs, rng, typing_seconds=typing_seconds)
    typing_event = None
    if typing is not None:
        atomic_write_text(sdir / "keystrokes.jsonl", dumps_jsonl(typing.log))
        sound = {"rendered": False, "reason": "keyboard_audio off"}
        if keyboard_audio:
            sound = render_keyboard(draft.audio, typing.typed, offset_ms=typing.offset_ms, kind=kind, rng=rng)
        typing_event = typing.event(sound)

    if kind == "avoffset":
        offset_audio(draft, rng)
    elif kind == "mismatched_audio":
        replace_audio(draft, inputs, rng)
    if kind in ("handwave_genuine", "handwave_faceswap"):
        wave_hand(draft, inputs, rng, models_dir)
    if kind in ("faceswap", "handwave_faceswap"):
        swap_face(draft, inputs, rng, models_dir)

    write_mp4(sdir / "video.mp4", draft.frames, draft.rate, draft.audio)
    if typing_event is not None:
        draft.events.append(typing_event)

    meta: dict[str, Any] = {"candidate_id": f"synth-{seed}-{index:04d}"}
    if typing is not None:
        meta["keystroke_clock_offset_ms"] = typing.offset_ms
    if draft.challenges:
        meta["challenges"] = draft.challenges
    atomic_write_text(sdir / "session.json", json.dumps(meta, indent=2) + "\n")
    _write_label(sdir, draft, inputs, kind=kind, seed=seed, index=index)
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)  # an earlier run's session of this name
    os.replace(sdir, final)


def _write_label(sdir: Path, draft: SessionDraft, inputs: SynthInputs, *, kind: str, seed: int, index: int) -> None:
    """``label.json``: what was done, when, from which inputs under which licences."""
    used, manipulations, events, dur, rate = draft.used, draft.manipulations, draft.events, draft.dur, draft.rate
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
