"""The real inputs of the synthetic sessions, and their licences.

:func:`default_inputs` names the input directories under ``../shared/data``;
:class:`SynthInputs` lists the usable files in them (face clips with enough
size and length, stills, speech, colour hand photos, keystroke logs), each
with the licence column of its line in the ``SOURCES.md`` of the data
directory (:func:`read_licences`). ``permissive_only`` keeps only the files
whose licence :func:`is_permissive` accepts (Apache-2.0, MIT, CC BY; not
CC BY-NC).

PyAV and OpenCV are imported inside the functions that use them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.synth.hands import hand_sources

__all__ = ["default_inputs", "read_licences", "is_permissive", "SynthInputs", "has_audio"]

VIDEO_EXT = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi")
STILL_EXT = (".jpg", ".jpeg", ".png")
#: An input directory, or None for none.
Dir = str | os.PathLike[str] | None
_PERMISSIVE = re.compile(r"apache-2\.0|\bmit\b|cc[ -]by(?![ -]?-?nc)", re.IGNORECASE)


def default_inputs(shared: str | os.PathLike[str] | None = None) -> dict[str, Path]:
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


def read_licences(*dirs: Dir) -> dict[str, str]:
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


def _sources_root(*dirs: Dir) -> Path | None:
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
    return licence is not None and bool(_PERMISSIVE.search(licence))


class SynthInputs:
    """The input files found in the directories, with their licences."""

    def __init__(
        self, *, faces_dir: Dir, speech_dir: Dir, hands_dir: Dir, keystrokes_dir: Dir, permissive_only: bool = False
    ) -> None:
        self.licences = read_licences(faces_dir, speech_dir, hands_dir, keystrokes_dir)
        self.data_root = _sources_root(faces_dir, speech_dir, hands_dir, keystrokes_dir)
        self.permissive_only = permissive_only

        def ok(p: Path) -> bool:
            return not permissive_only or is_permissive(self.licences.get(p.name))

        faces = [p for p in _files(faces_dir, VIDEO_EXT) if ok(p)]
        self.clips = [p for p in faces if _usable_clip(p)]
        self.clips_with_audio = [p for p in self.clips if has_audio(p)]
        stills_dir = None if faces_dir is None else Path(faces_dir) / "stills"
        self.stills = [
            p for p in _files(stills_dir, STILL_EXT) if ok(p) and "two_people" not in p.name and "partial" not in p.name
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

    def licence(self, p: str | os.PathLike[str] | None) -> str | None:
        """The licence line of an input file (by file name), None when it has none."""
        return None if p is None else self.licences.get(Path(p).name)


def _files(d: Dir, exts: tuple[str, ...]) -> list[Path]:
    if d is None or not Path(d).is_dir():
        return []
    return sorted(
        p for p in Path(d).iterdir() if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
    )


def _probe(p: Path) -> dict[str, Any]:
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
    return bool(min(info["w"], info["h"]) >= 200 and info["dur"] >= 2.0)


def has_audio(p: Path) -> bool:
    """True when the file has an audio stream PyAV can open."""
    return bool(_probe(p)["audio"])
