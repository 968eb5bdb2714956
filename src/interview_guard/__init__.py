"""interview-guard: checks recorded remote job-interview sessions for signs of fraud.

Importing the package is cheap: it loads numpy-level code only. Video, audio
and landmark libraries (PyAV, OpenCV, MediaPipe, librosa) are imported when a
scan first needs them.

Main entry points::

    from interview_guard import scan_session
    report = scan_session("path/to/session")
    print(report.risk_score, report.band)
"""

from ._version import __version__
from .errors import InputError, InterviewGuardError, KeystrokeLogError, MediaError, ModelError, ParameterError

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
        from .scan import scan_session

        return scan_session
    if name == "Report":
        from .report import Report

        return Report
    if name == "Session":
        from .session import Session

        return Session
    raise AttributeError(f"module 'interview_guard' has no attribute {name!r}")
