"""Identity descriptors during the video scan: one 128-d descriptor per sampled face.

:class:`IdentityCollector` is handed to the :class:`~interview_guard.extract.scanner.Scanner`
when an analyzer asks for :attr:`~interview_guard.tracks.Stream.IDENTITY`. For
every landmarked frame with a face it cuts the aligned chip from the
landmark RGB frame (:func:`~interview_guard.io.face_descriptor.align_chip`)
at every base-rate frame, and inside active intervals at most
``dense_fps`` times a second, except while a hand is at the face: then every landmarked frame (with
``near_hand``), so that ``face_occlusion`` can compare the face's identity frame to frame while a hand crosses
it (a swap dropping for two frames shows another person between two of the same); the other faces of the
frame (a landmarker run with ``num_faces > 1``) at base-rate frames only. Chips are described in small batches
(:class:`~interview_guard.io.face_descriptor.FaceDescriber`, about 14 ms per
face on one BLAS thread), on a helper thread when the scan gives the collector an executor (the descriptors
then overlap with the landmarkers; the rows are the same). The rows become an
:class:`~interview_guard.tracks.identity.IdentityTrack`; the speed budget and
the chosen rate are in ``docs/face-identity.md``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from interview_guard.errors import ParameterError
from interview_guard.extract.scan_results import Rows
from interview_guard.signals.face_identity import face_quality
from interview_guard.tracks.identity import DESCRIPTOR_DIM, IdentityTrack

__all__ = ["IdentityCollector", "identity_rows", "DESCRIBE_BATCH"]

#: Chips described per call (the network's im2col buffers stay small; ~5 % faster than one by one).
DESCRIBE_BATCH = 8


def identity_rows(spill: Any = None) -> Rows:
    nan = np.float32(np.nan)
    return Rows(
        {
            "t_s": ((), np.float64, 0.0),
            "frame_index": ((), np.int64, 0),
            "face": ((), np.int8, 0),
            "box": ((4,), np.float32, nan),
            "descriptor": ((DESCRIPTOR_DIM,), np.float32, nan),
            "quality": ((), np.float32, 0.0),
            "dense": ((), np.bool_, False),
        },
        spill=spill,  # an io.spill.SpillDir: the rows on disk (a row stays writable for Rows.CHUNK more rows)
        name="identity",
    )


class IdentityCollector:
    """Describes the faces of the landmarked frames the scan hands it (see the module notes).

    Parameters
    ----------
    describer : FaceDescriber
        Anything with ``describe(chips (n, 150, 150, 3) uint8) -> (n, 128)``.
    dense_fps : float
        Most descriptors per second inside active intervals (base-rate frames are all described).
    tol : float
        Slack (s) on the dense period (half a source frame).
    executor : concurrent.futures.Executor, optional
        Describe the batches there (one worker: batches are described in order); None: on the calling thread.
    spill : io.spill.SpillDir, optional
        Keep the rows on disk as they come (see :class:`~interview_guard.extract.scan_results.Rows`).
    near_hand : bool
        Describe every landmarked frame offered with ``hand_near`` (a hand at the face), whatever ``dense_fps``.
    """

    def __init__(
        self, describer: Any, *, dense_fps: float, tol: float = 0.0, executor: Any = None, spill: Any = None,
        near_hand: bool = True,
    ) -> None:  # fmt: skip
        if not (isinstance(dense_fps, (int, float)) and math.isfinite(dense_fps) and dense_fps > 0):
            raise ParameterError(f"identity_dense_fps must be a positive number, got {dense_fps!r}")
        self.describer = describer
        self.dense_fps = float(dense_fps)
        self.tol = tol
        self.near_hand = bool(near_hand)
        # on disk with a spill (io.spill.SpillDir); the descriptors (512 bytes a face) are kept apart, in memory
        self.rows = identity_rows(spill)
        self.executor = executor
        self._pending: list[np.ndarray] = []
        # The descriptors of the rows so far, in row order: arrays, or futures of them; with a spill, those done
        # are appended to a file of their own as the scan goes (an hour's faces: 7 MB, and a copy at the end)
        self._described: list[Any] = []
        self._spilled = None if spill is None else spill.npy("identity.described", (DESCRIPTOR_DIM,), np.float32)
        self._last_dense_t = -math.inf
        self.counts = {"described": 0, "dense_skipped": 0, "unalignable": 0, "near_hand": 0}
        self.seconds = {"align": 0.0, "describe": 0.0}

    def offer(
        self, t: float, frame_index: int, rgb: np.ndarray, fobs: Any, dense: bool, hand_near: bool = False
    ) -> None:
        """One landmarked frame (upright RGB at the landmark size, its face observation); ``hand_near``: the
        landmarked frames just before it had a hand at the face."""
        if not fobs.present:
            return
        if dense and self.near_hand and hand_near:
            self.counts["near_hand"] += 1
            self._last_dense_t = t
        elif dense:
            if t - self._last_dense_t < 1.0 / self.dense_fps - self.tol:
                self.counts["dense_skipped"] += 1
                return
            self._last_dense_t = t
        from interview_guard.io.face_descriptor import align_chip  # noqa: PLC0415 - imports cv2

        t0 = time.perf_counter()
        try:
            chip = align_chip(rgb, fobs.landmarks)
        except ParameterError:  # landmarks off the frame or collapsed: nothing to describe
            self.counts["unalignable"] += 1
            return
        self._add(t, frame_index, rgb, 0, fobs.landmarks, fobs.box, chip, dense)
        if not dense and fobs.others is not None:
            for k, (lm, box) in enumerate(zip(fobs.others, fobs.other_boxes), start=1):
                try:
                    other = align_chip(rgb, lm)
                except ParameterError:
                    self.counts["unalignable"] += 1
                    continue
                self._add(t, frame_index, rgb, k, lm, box, other, dense)
        self.seconds["align"] += time.perf_counter() - t0
        if len(self._pending) >= DESCRIBE_BATCH:
            self.flush()

    def _add(self, t: float, frame_index: int, rgb: np.ndarray, face: int, lm: np.ndarray, box: np.ndarray,
             chip: np.ndarray, dense: bool) -> None:  # fmt: skip
        h, w = rgb.shape[:2]
        a, i = self.rows.add()
        a["t_s"][i], a["frame_index"][i], a["dense"][i], a["face"][i] = t, frame_index, dense, min(face, 127)
        a["box"][i] = box
        a["quality"][i] = face_quality(landmarks=lm[None], frame_size=(w, h))[0]
        self._pending.append(chip)

    def _describe(self, chips: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        desc = np.asarray(self.describer.describe(chips), dtype=np.float32)
        self.seconds["describe"] += time.perf_counter() - t0
        return desc

    def flush(self) -> None:
        """Describe the chips waiting for a batch (or hand them to the executor)."""
        if not self._pending:
            return
        chips = np.stack(self._pending)
        self.counts["described"] += len(self._pending)
        self._pending = []
        self._described.append(self._describe(chips) if self.executor is None else self.executor.submit(
            self._describe, chips))  # fmt: skip
        self._drain(wait=False)

    def _drain(self, *, wait: bool) -> None:
        """Append the descriptors described so far, in row order, to the spill file (all of them if ``wait``)."""
        if self._spilled is None:
            return
        while self._described:
            d = self._described[0]
            if not isinstance(d, np.ndarray):
                if not (wait or d.done()):
                    return
                d = d.result()
            self._spilled.append(np.asarray(d, dtype=np.float32).reshape(-1, DESCRIPTOR_DIM))
            self._described.pop(0)

    def stats(self) -> dict[str, Any]:
        return {
            "dense_fps": self.dense_fps,
            **self.counts,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def finish(self) -> IdentityTrack:
        """The track of every face described (flushes the last batch)."""
        self.flush()
        rows = self.rows.finish()
        if self._spilled is not None:
            self._drain(wait=True)
            if self._spilled.n:
                rows["descriptor"] = self._spilled.finish()  # mapped read-only from the file
            self._spilled.abort()
            return IdentityTrack(**rows, meta=self.stats())
        done = [d if isinstance(d, np.ndarray) else d.result() for d in self._described]
        self._described = []
        if done:
            rows["descriptor"] = np.concatenate(done).reshape(-1, DESCRIPTOR_DIM)
        return IdentityTrack(**rows, meta=self.stats())
