"""Analyzers and their registry.

``registry()`` maps each analyzer's name to its class. Importing this package
imports only numpy-level code; heavy extraction libraries are never needed to
list or construct analyzers.
"""

from __future__ import annotations

from typing import Any

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Evidence, Param, Status, WindowScore

__all__ = [
    "Analyzer",
    "AnalyzerResult",
    "Evidence",
    "Param",
    "Status",
    "WindowScore",
    "registry",
    "create",
    "default_analyzers",
]


def registry() -> dict[str, type[Analyzer]]:
    """Every registered analyzer class, by name, in report order."""
    from interview_guard.analyzers.acoustic_keystroke import AcousticKeystroke
    from interview_guard.analyzers.av_sync import AVSync
    from interview_guard.analyzers.environment import Environment
    from interview_guard.analyzers.face_artifacts import FaceArtifacts
    from interview_guard.analyzers.face_identity import FaceIdentity
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.analyzers.keystroke_relay import KeystrokeRelay

    classes = [FaceOcclusion, FaceIdentity, FaceArtifacts, AVSync, KeystrokeRelay, AcousticKeystroke, Environment]
    return {cls.name: cls for cls in classes}


def create(name: str, **params: Any) -> Analyzer:
    """An analyzer instance by name."""
    from interview_guard.errors import ParameterError

    reg = registry()
    if name not in reg:
        raise ParameterError(f"unknown analyzer {name!r}; known: {', '.join(reg)}")
    return reg[name](**params)


def default_analyzers() -> list[Analyzer]:
    """One instance of every registered analyzer with default parameters."""
    return [cls() for cls in registry().values()]
