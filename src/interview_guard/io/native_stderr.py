"""Keep the native log lines of MediaPipe / TensorFlow Lite off the terminal.

MediaPipe's C++ graph (absl logging: ``W0000 00:00:... file.cc:123] ...``) and
TensorFlow Lite / LiteRT (``INFO: Created TensorFlow Lite XNNPACK delegate for
CPU.``, ``INFO: [accelerator_registry.cc:43] DestroyAccelerator ...``) write
to file descriptor 2 directly, when a task is created, on its first
inference and when it is closed. Redirecting ``sys.stderr`` does not reach
them, so :func:`quiet_native_stderr` points file descriptor 2 itself at a
temporary file for the duration of a ``with`` block and then restores it.

- **Process-wide, reference counted.** File descriptors belong to the
  process, not to a thread: the first block to enter redirects, the last to
  leave restores; blocks in several threads (the video scan landmarks hands
  in a worker thread beside the face) nest freely.
- **Nothing else is lost.** Anything written to file descriptor 2 during a
  block that is not a native log line -- a Python warning or traceback from
  another thread, say -- is copied to the real stderr when the redirect ends
  (late, but complete).
- **Errors keep their context.** :meth:`NativeCapture.tail` gives the native
  lines captured since the block began, for an error message (a model that
  does not load, see :func:`interview_guard.io.mediapipe_tasks.create_task`).
- **Debugging.** With the environment variable ``INTERVIEW_GUARD_NATIVE_LOGS``
  set to ``1`` nothing is redirected (``interview-guard --debug`` sets it;
  worker processes inherit it).

A native crash (abort) inside a block loses its last words with the
temporary file: set ``INTERVIEW_GUARD_NATIVE_LOGS=1`` to see them.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

__all__ = ["NATIVE_LOGS_ENV", "NativeCapture", "native_logs_shown", "quiet_native_stderr", "is_native_log_line"]

#: Set to ``1`` to let native log lines through to the terminal.
NATIVE_LOGS_ENV = "INTERVIEW_GUARD_NATIVE_LOGS"

_NATIVE_LINE = re.compile(
    rb"[IWEF]\d{4} [\d:.]+ +\d+ [^\]\n]*\] "  # absl / glog: W0000 00:00:1795906439.266431   14187 file.cc:181]
    rb"|(?:INFO|WARNING|ERROR|VERBOSE): "  # TensorFlow Lite / LiteRT minimal logging, glog's start-up warning
)


def native_logs_shown() -> bool:
    """Whether ``INTERVIEW_GUARD_NATIVE_LOGS`` asks for the native log lines (any value but empty/0/false/no/off)."""
    return os.environ.get(NATIVE_LOGS_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def is_native_log_line(line: bytes) -> bool:
    """Whether one line of stderr output has the shape of a MediaPipe / TensorFlow Lite log line."""
    return _NATIVE_LINE.match(line) is not None


class NativeCapture:
    """What went to file descriptor 2 since one :func:`quiet_native_stderr` block began.

    Concurrent blocks share the temporary file, so the text may include lines
    written for another thread's block.
    """

    def __init__(self, fd: int | None, start: int) -> None:
        self._fd = fd
        self._start = start

    @property
    def active(self) -> bool:
        """False when nothing is being redirected (debugging, or no usable file descriptor 2)."""
        return self._fd is not None

    def text(self) -> str:
        """Everything captured since the block began (empty when not active)."""
        if self._fd is None:
            return ""
        try:
            size = os.fstat(self._fd).st_size
            data = os.pread(self._fd, max(size - self._start, 0), self._start)
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def tail(self, lines: int = 5, *, max_chars: int = 800) -> str:
        """The last ``lines`` non-empty captured lines, joined with `` | `` (for a one-line error message)."""
        kept = [ln.strip() for ln in self.text().splitlines() if ln.strip()][-lines:]
        out = " | ".join(kept)
        return out if len(out) <= max_chars else "..." + out[-max_chars:]


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved: int | None = None  # a duplicate of the real file descriptor 2 while redirected
        self.capture: IO[bytes] | None = None  # the temporary file (kept for the life of the process)


_state = _State()


def _flush_python_stderr() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # a closed or replaced stream: nothing to flush
            pass


def _enter() -> NativeCapture:
    if native_logs_shown():
        return NativeCapture(None, 0)
    with _state.lock:
        if _state.depth == 0:
            saved = None
            try:
                if _state.capture is None:
                    _state.capture = tempfile.TemporaryFile(prefix="interview-guard-native-")
                _flush_python_stderr()
                saved = os.dup(2)
                os.dup2(_state.capture.fileno(), 2)
            except OSError:  # no file descriptor 2, or no temporary space: leave stderr alone
                if saved is not None:
                    os.close(saved)
                return NativeCapture(None, 0)
            _state.saved = saved
        assert _state.capture is not None
        _state.depth += 1
        fd = _state.capture.fileno()
        return NativeCapture(fd, os.fstat(fd).st_size)


def _leave(capture: NativeCapture) -> None:
    if not capture.active:
        return
    with _state.lock:
        _state.depth -= 1
        if _state.depth > 0 or _state.saved is None or _state.capture is None:
            return
        _flush_python_stderr()
        saved, _state.saved = _state.saved, None
        fd = _state.capture.fileno()
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
        except OSError:
            data = b""
        os.dup2(saved, 2)
        os.close(saved)
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        except OSError:
            pass
        other = b"".join(ln for ln in data.splitlines(keepends=True) if not is_native_log_line(ln))
        while other:
            try:
                other = other[os.write(2, other) :]
            except OSError:
                break


@contextmanager
def quiet_native_stderr() -> Iterator[NativeCapture]:
    """Send file descriptor 2 to a temporary file for the duration of the block (see the module notes).

    Yields
    ------
    NativeCapture
        For :meth:`~NativeCapture.tail` in an error message.

    Examples
    --------
    >>> with quiet_native_stderr() as native:          # doctest: +SKIP
    ...     task = FaceLandmarker.create_from_options(options)
    """
    capture = _enter()
    try:
        yield capture
    finally:
        _leave(capture)


def _after_fork_in_child() -> None:
    # A child forked while another thread was inside a block: that thread does not exist here, so undo the
    # redirect now, and give the child its own lock and temporary file.
    _state.lock = threading.Lock()
    if _state.saved is not None:
        try:
            os.dup2(_state.saved, 2)
            os.close(_state.saved)
        except OSError:
            pass
    _state.saved = None
    _state.depth = 0
    _state.capture = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
