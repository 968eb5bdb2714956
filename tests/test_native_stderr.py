"""Native log lines of MediaPipe / TensorFlow Lite stay off stderr (interview_guard.io.native_stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from conftest import SAMPLES
from interview_guard.errors import ModelError
from interview_guard.io import native_stderr
from interview_guard.io.mediapipe_tasks import QuietTask, create_task
from interview_guard.io.native_stderr import NATIVE_LOGS_ENV, is_native_log_line, quiet_native_stderr

ABSL = b"W0000 00:00:1795906439.266431   14187 face_landmarker_graph.cc:181] Sets FaceBlendshapesGraph acceleration\n"
TFLITE = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
DESTROY = b"INFO: [accelerator_registry.cc:43] DestroyAccelerator: ptr=0x7f0448033f30, name=CpuAccelerator\n"
NATIVE_MARKERS = ("W0000", "INFO: Created TensorFlow", "DestroyAccelerator")


@pytest.fixture(autouse=True)
def _no_debug_env(monkeypatch):
    monkeypatch.delenv(NATIVE_LOGS_ENV, raising=False)


def _fd2_identity() -> tuple[int, int]:
    st = os.fstat(2)
    return st.st_dev, st.st_ino


def test_native_lines_are_recognised():
    for line in (ABSL, TFLITE, DESTROY, b"WARNING: Logging before InitGoogle() is written to STDERR\n",
                 b"E0000 00:00:1.5 12 calculator_graph.cc:887] INTERNAL: ...\n"):  # fmt: skip
        assert is_native_log_line(line), line
    for line in (b"WARNING:root:a Python logging line\n", b"Traceback (most recent call last):\n",
                 b"/x/y.py:3: UserWarning: careful\n", b"interview-guard: error: no such file\n", b"\n"):  # fmt: skip
        assert not is_native_log_line(line), line


def test_native_lines_are_captured_not_shown(capfd):
    before = _fd2_identity()
    with quiet_native_stderr() as native:
        assert native.active
        os.write(2, ABSL + TFLITE)
        assert "face_landmarker_graph.cc:181" in native.text()
        assert native.tail(1) == TFLITE.decode().strip()
    os.write(2, b"after the block\n")
    err = capfd.readouterr().err
    assert err == "after the block\n"
    assert _fd2_identity() == before


def test_other_output_is_passed_on(capfd):
    with quiet_native_stderr():
        os.write(2, ABSL + b"a Python traceback line\n" + DESTROY)
        print("printed to sys.stderr", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a Python traceback line\n" in err and "printed to sys.stderr\n" in err
    assert not any(m in err for m in NATIVE_MARKERS)


def test_environment_variable_shows_native_lines(capfd, monkeypatch):
    monkeypatch.setenv(NATIVE_LOGS_ENV, "1")
    with quiet_native_stderr() as native:
        assert not native.active
        os.write(2, TFLITE)
        assert native.text() == "" and native.tail() == ""
    assert capfd.readouterr().err == TFLITE.decode()


def test_blocks_nest_across_threads(capfd):
    """The redirect is process-wide and reference counted: it ends when the last block ends."""
    before = _fd2_identity()
    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        with quiet_native_stderr():
            os.write(2, TFLITE)
            inside.set()
            release.wait(10)
            os.write(2, DESTROY)

    t = threading.Thread(target=worker)
    with quiet_native_stderr():
        t.start()
        assert inside.wait(10)
    os.write(2, ABSL)  # the worker's block is still open: captured too
    assert native_stderr._state.depth == 1
    release.set()
    t.join(10)
    assert native_stderr._state.depth == 0
    assert _fd2_identity() == before
    assert capfd.readouterr().err == ""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_its_stderr_back(capfd):
    with quiet_native_stderr():
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0 if native_stderr._state.depth == 0 else 1
            os.write(2, b"child stderr\n")
            os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "child stderr\n" in capfd.readouterr().err


class _FailingTask:
    @staticmethod
    def create_from_options(options):
        os.write(2, b"E0000 00:00:1.5 12 model_resources.cc:99] INVALID_ARGUMENT: flatbuffer is damaged\n")
        raise RuntimeError("Unable to open the model\nmore detail")


def test_model_error_carries_the_native_log(capfd, tmp_path):
    with pytest.raises(ModelError, match=r"cannot load the model \(Unable to open the model\); native log: .*damaged"):
        create_task(_FailingTask, None, tmp_path / "x.task")
    assert capfd.readouterr().err == ""


def test_inference_error_gets_a_note(capfd):
    class Task:
        def detect(self, image):
            os.write(2, b"E0000 00:00:1.5 12 graph.cc:1] something broke\n")
            raise RuntimeError("detect failed")

    with pytest.raises(RuntimeError, match="detect failed") as info:
        QuietTask(Task()).detect(None)
    assert any("something broke" in n for n in info.value.__notes__)
    assert capfd.readouterr().err == ""


def _scan_stderr(env_extra: dict[str, str]) -> str:
    code = "import sys\nfrom interview_guard.extract.video_scan import scan_video\nscan_video(sys.argv[1])\n"
    video = SAMPLES / "video_genuine" / "video.mp4"
    env = {k: v for k, v in os.environ.items() if k != NATIVE_LOGS_ENV} | env_extra
    out = subprocess.run([sys.executable, "-c", code, str(video)], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stderr


@pytest.mark.video
def test_video_scan_keeps_stderr_clean():
    err = _scan_stderr({})
    assert not [ln for ln in err.splitlines() if any(m in ln for m in NATIVE_MARKERS)], err
    shown = _scan_stderr({NATIVE_LOGS_ENV: "1"})
    for marker in NATIVE_MARKERS:
        assert marker in shown, marker
