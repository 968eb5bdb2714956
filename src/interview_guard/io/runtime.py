"""The software a scan ran on: Python and the versions of the libraries that decide its numbers.

The same recording and the same model files can give different measurements under another MediaPipe, OpenCV,
PyAV or numpy (docs/face-occlusion.md, round 11: a fresh machine moved single fake kinds of the held-out
evaluation by up to 0.07 AUC), so every report records them. Read from the installed packages' metadata: nothing
here imports them.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata

__all__ = ["RUNTIME_PACKAGES", "runtime_versions"]

#: Distribution name -> the key it gets in the report.
RUNTIME_PACKAGES = {
    "mediapipe": "mediapipe",
    "opencv-contrib-python": "opencv",
    "av": "av",
    "numpy": "numpy",
    "scipy": "scipy",
    "librosa": "librosa",
}


@lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version()), ("machine", platform.machine())]
    for dist, key in RUNTIME_PACKAGES.items():
        try:
            out.append((key, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            continue  # not installed (opencv-contrib-python only comes with mediapipe): left out, not guessed
    return tuple(out)


def runtime_versions() -> dict[str, str]:
    """``{"python": ..., "machine": ..., "mediapipe": ..., "opencv": ..., "av": ..., ...}`` (installed ones only)."""
    return dict(_versions())
