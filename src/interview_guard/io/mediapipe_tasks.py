"""MediaPipe Tasks glue shared by the landmark runners and the synthetic-session tools.

MediaPipe is imported lazily (:func:`load_vision`). Every task created with
:func:`create_task` comes wrapped in a :class:`QuietTask`: its creation,
inference calls and ``close()`` run inside
:func:`~interview_guard.io.native_stderr.quiet_native_stderr`, so the native
log lines of MediaPipe and TensorFlow Lite stay off the terminal (unless
``INTERVIEW_GUARD_NATIVE_LOGS=1``), while a model that fails to load names
what the native code said.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Self, TypeVar

import numpy as np

from interview_guard.errors import ModelError, ParameterError
from interview_guard.io.native_stderr import quiet_native_stderr

__all__ = ["load_vision", "as_mp_image", "create_task", "QuietTask", "TaskCloser", "landmark_array", "landmark_box"]

_T = TypeVar("_T")


def load_vision() -> tuple[ModuleType, ModuleType, Any]:
    """``(mediapipe, mediapipe.tasks.python.vision, BaseOptions)``, imported on first use.

    Raises
    ------
    ModelError
        MediaPipe is not installed.
    """
    try:
        import mediapipe as mp  # noqa: PLC0415 - heavy, imported only when landmarks are needed
        from mediapipe.tasks.python import vision  # noqa: PLC0415
        from mediapipe.tasks.python.core.base_options import BaseOptions  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - mediapipe is a hard dependency
        raise ModelError(f"MediaPipe is not installed ({exc}); pip install mediapipe") from None
    return mp, vision, BaseOptions


def as_mp_image(mp: ModuleType, image: np.ndarray) -> Any:
    """An upright RGB uint8 array as a contiguous ``mp.Image``.

    Raises
    ------
    ParameterError
        Not an (h, w, 3) uint8 array.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ParameterError(f"expected an RGB uint8 image of shape (h, w, 3), got {image.dtype} {image.shape}")
    # mp.Image ignores numpy strides: a padded or sliced array must be copied first.
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))


def _quietly(call: Callable[..., _T], *args: Any) -> _T:
    """``call(*args)`` with native stderr captured; an exception gets the captured lines as a note."""
    with quiet_native_stderr() as native:
        try:
            return call(*args)
        except Exception as exc:
            said = native.tail()
            if said:
                exc.add_note(f"native log: {said}")
            raise


class QuietTask:
    """A MediaPipe vision task whose calls keep native log lines off the terminal.

    Offers what the callers use: ``detect``, ``detect_for_video`` and ``close``.
    """

    def __init__(self, task: Any) -> None:
        self.task = task

    def detect(self, image: Any) -> Any:
        return _quietly(self.task.detect, image)

    def detect_for_video(self, image: Any, timestamp_ms: int) -> Any:
        return _quietly(self.task.detect_for_video, image, timestamp_ms)

    def close(self) -> None:
        _quietly(self.task.close)


def create_task(task_cls: Any, options: Any, model_path: Path) -> QuietTask:
    """``task_cls.create_from_options(options)``, quietly.

    Raises
    ------
    ModelError
        The task cannot be created; the message ends with the last native log
        lines when there are any.
    """
    with quiet_native_stderr() as native:
        try:
            return QuietTask(task_cls.create_from_options(options))
        except Exception as exc:  # MediaPipe raises RuntimeError / ValueError with a long message
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            said = native.tail()
            detail = f"; native log: {said}" if said else ""
            raise ModelError(f"{model_path}: cannot load the model ({msg}){detail}") from None


def landmark_array(points: Any, n: int) -> np.ndarray:
    """MediaPipe landmarks as a float32 (n, 3) array of x, y, z.

    Raises
    ------
    ModelError
        Not ``n`` points.
    """
    arr = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
    if arr.shape != (n, 3):
        raise ModelError(f"landmarker returned {arr.shape[0]} points, expected {n}")
    return arr


def landmark_box(lm: np.ndarray) -> np.ndarray:
    """x0, y0, x1, y1 of normalised landmarks, clipped to [0, 1] (float32)."""
    x0, y0 = np.nanmin(lm[:, 0]), np.nanmin(lm[:, 1])
    x1, y1 = np.nanmax(lm[:, 0]), np.nanmax(lm[:, 1])
    return np.clip(np.array([x0, y0, x1, y1], dtype=np.float32), 0.0, 1.0)


class TaskCloser:
    """Context-manager plumbing for an object that owns MediaPipe tasks (in ``self._tasks``)."""

    _tasks: list[QuietTask]

    def close(self) -> None:
        """Close every MediaPipe task this object opened (safe to call twice)."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            try:
                t.close()
            except Exception:  # pragma: no cover - closing must not mask the real error
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort when the caller forgot
        try:
            self.close()
        except Exception:
            pass
