"""The one exception family of interview-guard.

Every error the toolkit raises on purpose derives from :class:`InterviewGuardError`,
so a caller (and the CLI) can tell "the input or the set-up is wrong" from a bug.
Messages are one line and name the file and the problem.
"""

from __future__ import annotations

__all__ = [
    "InterviewGuardError",
    "InputError",
    "KeystrokeLogError",
    "MediaError",
    "ModelError",
    "ParameterError",
]


class InterviewGuardError(Exception):
    """Base class of every error interview-guard raises deliberately."""


class ParameterError(InterviewGuardError, ValueError):
    """A function or analyzer parameter has a value outside its allowed range."""


class InputError(InterviewGuardError):
    """A session or one of its files cannot be used (missing, empty, malformed)."""

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{self.path}: {where}{message}" if self.path else where + message)


class KeystrokeLogError(InputError):
    """A keystroke log line is malformed or cannot be used."""


class MediaError(InputError):
    """A video or audio file cannot be decoded (empty, truncated, no usable stream)."""


class ModelError(InterviewGuardError):
    """A model file is missing, altered (hash mismatch) or cannot be loaded."""
