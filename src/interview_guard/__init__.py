"""interview-guard: checks recorded remote job-interview sessions for signs of fraud.

Importing the package is cheap: it loads numpy-level code only. Video, audio
and landmark libraries (PyAV, OpenCV, MediaPipe, librosa) are imported when a
scan first needs them.

Main entry points::

    from interview_guard import scan_session
    report = scan_session("path/to/session")
    print(report.risk_score, report.band)
"""

from interview_guard._version import __version__
from interview_guard.errors import (
    InputError,
    InterviewGuardError,
    KeystrokeLogError,
    MediaError,
    ModelError,
    ParameterError,
)

__all__ = [
    "__version__",
    "InterviewGuardError",
    "InputError",
    "KeystrokeLogError",
    "MediaError",
    "ModelError",
    "ParameterError",
    "scan_session",
    "Report",
    "Session",
]


def __getattr__(name):  # lazy: keep `import interview_guard` light
    if name == "scan_session":
        from interview_guard.pipeline.scan import scan_session

        return scan_session
    if name == "Report":
        from interview_guard.report.model import Report

        return Report
    if name == "Session":
        from interview_guard.io.session import Session

        return Session
    raise AttributeError(f"module 'interview_guard' has no attribute {name!r}")
