"""Key frames of video evidence, as the report pages use them: names, times, images.

An evidence item names its key frames in two ways:

* ``details.key_frame_times``: times (s), shown labelled by where they fall
  (before, during, after the item's span);
* ``details.key_frames``: the frames by role, ``[{"role": "before", "t_s":
  ...}, {"role": "middle", "t_s": ...}, {"role": "after", "t_s": ...}]`` (any
  role may be missing), which the face-occlusion analyzer gives its events and
  answered hand-wave requests: the page shows the middle of the crossing
  between the frames before and after.

The scan writes the key frames of video evidence as JPEG files
(``<session_id>_<seconds>s.jpg``, :func:`key_frame_filename`) and records
each file in ``details.key_frames``: as a ``"path"`` in the role object of
its time, as ``{"t_s": ..., "path": ...}`` for a time without a role, or,
for an item without role objects, as the plain list of paths reports have
always had (:func:`record_key_frame_files`). The page renderer never reads a
video: it embeds the images it is given as :class:`KeyFrames` (found by
:func:`interview_guard.pipeline.keyframes.load_key_frames` from the recorded
files, a frames directory or the video). Plain Python: no file access.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_KEY_FRAMES",
    "ROLE_LABELS",
    "KeyFrames",
    "key_frame_filename",
    "evidence_key_frame_roles",
    "evidence_key_frame_times",
    "key_frame_files",
    "key_frame_words",
    "record_key_frame_files",
    "forget_key_frame_files",
    "wanted_key_frame_times",
]

#: At most this many key frames are embedded in one page (about 20 kB each).
MAX_KEY_FRAMES = 60

#: The roles of ``details.key_frames`` objects, in page order, with their captions.
ROLE_LABELS = {
    "before": "before",
    "middle": "middle of the crossing",
    "flash": "another face showed",
    "fingers": "fingers read short",
    "after": "after",
}


def key_frame_filename(session_id: str, t: float) -> str:
    """File name of the key frame at ``t`` seconds of a session (``<session_id>_<seconds>s.jpg``)."""
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)
    return f"{safe_id}_{t:09.3f}s.jpg"


def _time(v: Any) -> float | None:
    """``v`` as a time in seconds, None when it is not a finite number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _frame_objects(details: dict[str, Any]) -> list[dict[str, Any]]:
    return [k for k in (details.get("key_frames") or []) if isinstance(k, dict)]


def evidence_key_frame_roles(details: dict[str, Any]) -> list[tuple[str, float]]:
    """``(role, t)`` of an evidence item's ``details.key_frames`` objects, in :data:`ROLE_LABELS`' order.

    Unknown roles, times that are not numbers and repeated roles (the first kept) are left out; empty when
    the item has no role objects (then :func:`evidence_key_frame_times` labels its frames by time).
    """
    found: dict[str, float] = {}
    for k in _frame_objects(details):
        role, t = k.get("role"), _time(k.get("t_s"))
        if isinstance(role, str) and role in ROLE_LABELS and role not in found and t is not None:
            found[role] = t
    return [(role, found[role]) for role in ROLE_LABELS if role in found]


def evidence_key_frame_times(details: dict[str, Any]) -> list[float]:
    """Every key-frame time of one evidence item: ``details.key_frame_times``, then role times not among them.

    Non-numbers are left out, each time once.
    """
    times = [t for t in map(_time, details.get("key_frame_times") or []) if t is not None]
    for _, t in evidence_key_frame_roles(details):
        times.append(t)
    return list(dict.fromkeys(times))


def wanted_key_frame_times(evidence_details: Iterable[dict[str, Any]]) -> list[float]:
    """Every key-frame time of the given evidence items' ``details`` (times and roles), sorted, each once."""
    return sorted({t for d in evidence_details for t in evidence_key_frame_times(d)})


def key_frame_files(details: dict[str, Any]) -> tuple[dict[float, str], list[str]]:
    """The files the scan recorded for an item: ``({t: path}`` from the frame objects``, [plain paths])``."""
    by_time: dict[float, str] = {}
    for k in _frame_objects(details):
        t, path = _time(k.get("t_s")), k.get("path")
        if t is not None and isinstance(path, str):
            by_time[t] = path
    plain = [p for p in (details.get("key_frames") or []) if isinstance(p, str)]
    return by_time, plain


def key_frame_words(details: dict[str, Any], start_s: float, end_s: float) -> str:
    """An item's key frames in words for the text report, "" when it has none.

    By role when it has them ("before 1.72 s, middle of the crossing 2.40 s, after 3.92 s"), else labelled by
    where each time falls against the item's span (before, during, after); each with the file the scan wrote
    for it, when it wrote one ("before 1.72 s (frames/s_00001.720s.jpg)").
    """
    by_time, plain = key_frame_files(details)
    roles = evidence_key_frame_roles(details)
    if roles:
        labelled = [(ROLE_LABELS[role], t) for role, t in roles]
        labelled += [("", t) for t in evidence_key_frame_times(details) if t not in {u for _, u in roles}]
    else:
        times = evidence_key_frame_times(details)
        labelled = [("before" if t < start_s - 1e-6 else "after" if t > end_s + 1e-6 else "during", t) for t in times]
        if not by_time and plain and len(plain) == len(times):  # the plain list is in time order (one per time)
            by_time = dict(zip(times, plain))
    parts = []
    for label, t in labelled:
        path = by_time.get(t)
        parts.append(f"{label} {t:.2f} s".lstrip() + (f" ({path})" if path else ""))
    return ", ".join(parts)


def record_key_frame_files(details: dict[str, Any], files: dict[float, str]) -> None:
    """Record the files written for an item's key frames (``files``: time -> path) in ``details.key_frames``.

    An item with role objects gets ``"path"`` in the object of each time, and ``{"t_s", "path"}`` for a
    time without a role; an item without them the plain list of paths (in time order).
    """
    if not files:
        return
    objects = _frame_objects(details)
    if not objects:
        details["key_frames"] = [files[t] for t in evidence_key_frame_times(details) if t in files]
        return
    covered = set()
    for k in objects:
        t = _time(k.get("t_s"))
        if t is not None and t in files:
            k["path"] = files[t]
            covered.add(t)
    for t in evidence_key_frame_times(details):
        if t in files and t not in covered:
            details["key_frames"].append({"t_s": t, "path": files[t]})


def forget_key_frame_files(details: dict[str, Any]) -> None:
    """Undo :func:`record_key_frame_files` (the files were temporary): the roles stay, the paths go."""
    frames = details.get("key_frames")
    if not isinstance(frames, list):
        return
    kept = []
    for k in frames:
        if isinstance(k, dict) and "role" in k:
            kept.append({key: v for key, v in k.items() if key != "path"})
    if kept:
        details["key_frames"] = kept
    else:
        details.pop("key_frames", None)


@dataclass
class KeyFrames:
    """The images of a report's key frames, by time, for the page.

    Attributes
    ----------
    images : dict of float to bytes
        JPEG (or PNG) bytes of the frame at each time found.
    video_error : str or None
        Why decoding the missing frames from the video failed, shown on the
        page where an evidence item has none of its frames.
    """

    images: dict[float, bytes] = field(default_factory=dict)
    video_error: str | None = None

    def get(self, t: float) -> bytes | None:
        return self.images.get(t)
