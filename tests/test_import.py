"""`import interview_guard` stays light: no video, audio or landmark libraries."""

import subprocess
import sys


def test_import_does_not_load_heavy_libraries():
    code = (
        "import sys, interview_guard, interview_guard.analyzers, interview_guard.cli, interview_guard.fusion.model, "
        "interview_guard.report.model, interview_guard.signals.keystroke_timing; "
        "interview_guard.analyzers.registry(); "
        "heavy = [m for m in ('cv2', 'mediapipe', 'librosa', 'av', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_is_exposed():
    import interview_guard

    assert interview_guard.__version__.count(".") == 2
