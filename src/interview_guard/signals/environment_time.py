"""Time zones and recording-software strings against the claim (pure: offsets and strings in).

* :func:`offset_mismatch`: the smallest distance (minutes) between the UTC offsets the browser or the file
  reported and the offsets of the claimed zone at the session's date (resolved with zoneinfo in ``io/``).
* :func:`tag_offsets`: local-time offsets written into container tags (``com.apple.quicktime.creationdate``
  ``2026-11-28T21:03:11+0900``; ``creation_time`` is UTC by convention and carries none).
* :func:`recording_software`: encoder, handler and device names in the tags that name virtual cameras,
  face-swap tools, screen recorders or transcoders, each with what it means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["offset_mismatch", "tag_offsets", "recording_software", "SOFTWARE", "fmt_offset"]

_TZ_SUFFIX = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*([+-])(\d{2}):?(\d{2})$")


def fmt_offset(minutes: int) -> str:
    """``UTC+09:00`` style."""
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(int(minutes)), 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


def offset_mismatch(observed: Iterable[int], claimed: Iterable[int]) -> int | None:
    """Smallest ``|observed - claimed|`` over the offsets given (minutes); None when either side is empty."""
    obs, cl = list(observed), list(claimed)
    if not obs or not cl:
        return None
    return int(min(abs(int(a) - int(b)) for a in obs for b in cl))


def tag_offsets(tags: Mapping[str, str]) -> list[tuple[str, int]]:
    """``(tag, offset minutes east)`` for every tag holding a local time with an explicit UTC offset.

    A trailing ``Z`` (UTC) is no local time and is left out.
    """
    out = []
    for k, v in tags.items():
        if "date" not in k and "time" not in k:
            continue
        m = _TZ_SUFFIX.search(v.strip())
        if m is None:
            continue
        sign = 1 if m.group(1) == "+" else -1
        minutes = sign * (int(m.group(2)) * 60 + int(m.group(3)))
        if abs(minutes) <= 14 * 60:
            out.append((k, minutes))
    return out


#: Recording software and devices by a pattern in a tag value: (regular expression, category, name, meaning,
#: score). ``virtual_camera`` and ``face_swap`` are the signals (a camera that is not a camera); a screen
#: recorder or a transcoder is ordinary for whoever made the file and scores next to nothing.
SOFTWARE: tuple[tuple[str, str, str, str, float], ...] = (
    (
        r"deep[\s_-]?face[\s_-]?live|deep[\s_-]?live[\s_-]?cam|facefusion|\broop\b|faceswap|swapface|avatarify",
        "face_swap",
        "a real-time face-swap tool",
        "the picture was produced by face-swap software, not straight from a camera",
        0.9,
    ),
    (
        r"obs[\s_-]?virtual[\s_-]?cam|manycam|xsplit[\s_-]?vcam|snap[\s_-]?camera|e2esoft|vcam\b|splitcam|"
        r"camtwist|mmhmm|virtual[\s_-]?camera|v4l2loopback|dummy video device|akvirtualcamera|webcamoid",
        "virtual_camera",
        "a virtual camera",
        "the camera source was a virtual camera: software can put any picture there (a face swap, a replay)",
        0.7,
    ),
    (
        r"obs[\s_-]?studio|^obs\b|bandicam|camtasia|screenflow|sharex|\bloom\b|fraps|nvidia share|shadowplay|"
        r"screencast|screen[\s_-]?recorder|ev[\s_-]?capture|ieway|apowersoft|movavi|icecream|kazam|"
        r"simplescreenrecorder|game bar|quicktime player",
        "screen_recorder",
        "a screen or stream recorder",
        "the file was made by recording software (common for whoever recorded the call; not a sign by itself)",
        0.05,
    ),
    (
        r"handbrake|ffmpeg|lavf|adobe premiere|davinci|final cut|imovie|kdenlive|shotcut|capcut",
        "transcoder",
        "a transcoder or editor",
        "the file was re-encoded or edited after recording (the original's own tags are gone)",
        0.05,
    ),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), cat, name, meaning, s) for p, cat, name, meaning, s in SOFTWARE)

#: Tags that are names of software or devices (the rest, e.g. dates and brands, are not searched).
_NAME_TAGS = ("encoder", "handler_name", "comment", "title", "software", "make", "model", "device", "vendor")


def recording_software(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """Software and device names found in the tags, one entry per (category, tag)."""
    out = []
    seen = set()
    for k, v in tags.items():
        field = k.split(":", 1)[-1]
        if not any(t in field for t in _NAME_TAGS):
            continue
        for rx, cat, name, meaning, score in _COMPILED:
            m = rx.search(v)
            if m is None or (cat, k) in seen:
                continue
            if cat == "transcoder" and field == "encoder" and v.lower().startswith("lavf"):
                # libavformat writes itself into nearly every file: not worth a finding
                break
            seen.add((cat, k))
            out.append({"category": cat, "tag": k, "value": v, "name": name, "meaning": meaning, "score": score})
            break
    return out
