"""The streaming scan behind :func:`~interview_guard.extract.video_scan.scan_video`.

:class:`Scanner` holds the state of one scan: the *head* (decoding, motion
thumbnails, the motion trigger) and the *tail* (frames leaving the look-back
delay line: landmarks, pixel rows, landmark triggers, key frames), driven
serially or with the head on a helper thread. The algorithm, and why both
drivers give the same result, is described in :mod:`interview_guard.extract.video_scan`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import numpy as np

from interview_guard.errors import MediaError
from interview_guard.extract.blending import BlendState, add_blend_row
from interview_guard.extract.keyframes import KeyFrameCollector
from interview_guard.extract.pixels import (
    FACE_ZONE_SCALE,
    THUMB_SIDE,
    WORK_SIDE,
    ZONE_HOLD_S,
    FacePixels,
    ZoneAnchor,
    face_crop,
    import_cv2,
    luma,
    rgb_for_landmarks,
    zone_crop,
)
from interview_guard.extract.scan_results import VideoScan, blend_rows, face_rows, hand_rows, motion_rows, pixel_rows
from interview_guard.extract.schedule import Intervals, LandmarkTriggers, MotionBaseline, ScanTrigger
from interview_guard.io.frame_queue import BackgroundFrames
from interview_guard.io.video_decode import DecodeStats, rotate_upright, scaled_size
from interview_guard.progress import ProgressHook, Stage
from interview_guard.tracks.blending import BlendTrack
from interview_guard.tracks.video import FACE_SOURCES, FaceTrack, HandTrack, MotionTrack, PixelTrack

__all__ = ["MAX_BUFFER_FRAMES", "ZONE_HOLD_S", "Scanner"]

#: Hard cap on the look-back delay line (frames), whatever the frame rate.
MAX_BUFFER_FRAMES = 64
#: Threaded scan: decoded frames (bytes of 8-bit 4:2:0 pictures) the decoding thread may hold ahead of the head,
#: at most MAX_PREFETCH_FRAMES. The decoder's threading (PyAV ``thread_type``), in both drivers.
PREFETCH_BYTES = 32 << 20
MAX_PREFETCH_FRAMES = 120
DECODE_THREAD_TYPE = "NONE"
# How far (in time, as frames) the decoding head may run ahead of the look-back window.
_HEAD_SLACK_S = 0.5
#: A face is described on every landmarked frame until this long after the last frame with a hand at it (s).
NEAR_HAND_S = 0.5


class _Entry:
    __slots__ = ("idx", "t", "vf", "gray")

    def __init__(self, idx: int, t: float, vf: Any) -> None:
        self.idx, self.t, self.vf = idx, t, vf
        self.gray: np.ndarray | None = None


class Scanner:
    """State of one scan: the head (decode, motion, trigger) and the tail (landmarks)."""

    def __init__(self, *, mode: str, base_fps: float, dense_fps: float, lookback_s: float, hold_s: float,
                 trigger: ScanTrigger, max_side: int | None, face_runner: Any, hand_runner: Any,
                 stats: DecodeStats, progress: ProgressHook | None, total: int, pool: Any = None,
                 dense_windows: Any = (), identity: Any = None, spill: Any = None) -> None:  # fmt: skip
        self.mode = mode
        self.sync_windows = deque(sorted((float(a), float(b)) for a, b in dense_windows if b > a))
        self.base_fps, self.dense_fps = base_fps, dense_fps
        self.lookback_s, self.hold_s = lookback_s, hold_s
        self.trig: ScanTrigger = trigger
        self.max_side = max_side
        self.face_runner, self.hand_runner = face_runner, hand_runner
        self.identity = identity  # an extract.identity.IdentityCollector when identity is asked for
        self.pool = pool
        self.st = stats
        self.progress, self.total = progress, total
        self.cv2 = import_cv2()
        # Shared between the head and the tail (a re-entrant lock; uncontended in serial mode).
        self.cond = threading.Condition()
        self.buffer: deque[_Entry] = deque()
        self.intervals = Intervals()
        self.zone_history: deque[tuple[float, tuple[float, float, float, float]]] = deque()
        self.inflight: float | None = None  # time of the frame the tail is working on
        self.head_t = -math.inf
        self.head_done = False
        self.stop = False
        self.threaded = False
        self.error: BaseException | None = None
        self.prefetch: BackgroundFrames[_Entry] | None = None
        # Geometry (set from the first frame).
        self.rotation = 0
        self.lm_src_size = self.thumb_src_size = self.work_src_size = (0, 0)
        self.lm_resize: tuple[int, int] | None = None
        self.tol = 0.0
        self.slack = 0
        self.buffer_cap = MAX_BUFFER_FRAMES
        self.buffer_max = 0
        # Head state.
        self.prev_thumb: np.ndarray | None = None
        self.head_times: deque[float] = deque()
        self.head_zone: tuple[float, float, float, float] | None = None
        self.baseline: MotionBaseline | None = None  # set from the first frame (needs its rate)
        self.motion = motion_rows(spill)  # spill: an io.spill.SpillDir (per-frame rows on disk) or None
        # Tail state.
        self.prev_entry: _Entry | None = None
        self.last_lm_t = -math.inf
        self.done = 0
        self.face_rows, self.hand_rows, self.pixel_rows = face_rows(spill), hand_rows(spill), pixel_rows(spill)
        self.blend_rows = blend_rows(spill)
        self.blend_state: BlendState | None = None
        self.zone: tuple[float, float, float, float] | None = None
        self.zone_anchor = ZoneAnchor()
        self.hand_at_face_t = -math.inf  # the last landmarked frame with a hand in the face zone
        self.active: list[list[float]] = []
        self.in_active = False
        self.lm_triggers = LandmarkTriggers(trigger, hold_s)
        self.key_frames = KeyFrameCollector(store=None if spill is None else spill.blobs("keyframes"))
        self.counts = {"dense_landmarked": 0, "base_landmarked": 0, "triggers_motion": 0}
        self.timing = dict.fromkeys(
            ("decode", "motion", "convert", "face", "hands", "pixels", "blending", "identity", "keyframes"), 0.0
        )
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()

    # -- geometry ------------------------------------------------------------------------

    def _setup(self, vf: Any, legacy_rot: int) -> None:
        st = self.st
        rot = int(vf.rotation or 0)
        rotation = (rot if rot else legacy_rot) % 360
        self.rotation = int(round(rotation / 90.0)) * 90 % 360
        st.rotation = self.rotation
        w, h = int(vf.width), int(vf.height)
        swap = self.rotation in (90, 270)

        def src_size_for(max_side: int | None) -> tuple[int, int]:
            uw, uh = (h, w) if swap else (w, h)
            sw, sh = scaled_size(uw, uh, max_side)
            return (sh, sw) if swap else (sw, sh)

        self.lm_src_size = src_size_for(self.max_side)
        self.lm_resize = self.lm_src_size if self.lm_src_size != (w, h) else None
        self.thumb_src_size = src_size_for(THUMB_SIDE)
        self.work_src_size = src_size_for(WORK_SIDE)
        lw, lh = self.lm_src_size
        st.out_width, st.out_height = (lh, lw) if swap else (lw, lh)
        fps = st.nominal_fps if st.nominal_fps > 0 else 30.0
        self.tol = 0.5 / fps
        self.key_frames.tol = self.tol
        self.baseline = MotionBaseline(self.trig, fps)
        lookback_frames = int(math.ceil(self.lookback_s * fps))
        self.slack = min(int(round(_HEAD_SLACK_S * fps)), max(MAX_BUFFER_FRAMES - lookback_frames - 2, 0))
        # The frames within lookback_s of the newest one, the head's lead, the one leaving.
        self.buffer_cap = int(min(MAX_BUFFER_FRAMES, lookback_frames + self.slack + 2))

    def _upright(self, img: np.ndarray) -> np.ndarray:
        return rotate_upright(img, self.rotation)

    # -- decoding -----------------------------------------------------------------------

    def frames(self, av: Any, container: Any, stream: Any, p: Any) -> Iterator[_Entry]:
        """Decoded frames as entries, in presentation order (fills the DecodeStats)."""
        from interview_guard.io.video_decode import prepare_stream  # noqa: PLC0415

        # One decoding thread, no FFmpeg threads, in both drivers: beside the landmarkers frame threads only add
        # CPU (45.5 against 41.5 CPU s for the 5-minute benchmark scan) and conceal a damaged frame differently;
        # slice threads gave run-to-run different pictures after a damaged packet.
        legacy_rot = prepare_stream(container, stream, self.st, thread_type=DECODE_THREAD_TYPE)
        return self._decoded(av, container, stream, p, legacy_rot)

    def _decoded(self, av: Any, container: Any, stream: Any, p: Any, legacy_rot: int) -> Iterator[_Entry]:
        from interview_guard.io.video_decode import demux_video_frames  # noqa: PLC0415

        st = self.st
        last_t = -math.inf
        n = 0
        perf = time.perf_counter
        t_mark = perf()
        for t, vf in demux_video_frames(av, container, stream, st):
            if self.stop:
                break
            if t <= last_t:
                st.dropped_non_increasing += 1
                continue
            last_t = t
            if n == 0:
                self._setup(vf, legacy_rot)
            if getattr(vf, "is_corrupt", False):
                st.corrupt_frames += 1
            st.frames_decoded = st.frames_yielded = n + 1
            if st.first_t is None:
                st.first_t = t
            st.last_t = t
            self.timing["decode"] += perf() - t_mark
            yield _Entry(n, t, vf)
            n += 1
            t_mark = perf()
        self.timing["decode"] += perf() - t_mark
        if n == 0 and not self.stop:
            if st.decode_errors or st.stopped_early:
                raise MediaError(f"video does not decode ({st.errors[0] if st.errors else 'no frame'})", path=p)
            raise MediaError("no decodable video frame", path=p)
        if not self.stop:
            st.finished = True

    # -- drivers --------------------------------------------------------------------------

    def _leaves(self, head_t: float) -> bool:
        """Whether the oldest buffered frame may go to the tail (the head has seen lookback_s past it)."""
        b = self.buffer
        return bool(b) and (b[0].t <= head_t - self.lookback_s + 1e-9 or len(b) >= self.buffer_cap or self.head_done)

    def run_serial(self, frames: Iterator[_Entry]) -> None:
        for e in frames:
            self._head(e)
            self.buffer.append(e)
            self.head_t = e.t
            self.buffer_max = max(self.buffer_max, len(self.buffer))
            while self._leaves(e.t):
                self._tail(self.buffer.popleft())
        self.head_done = True
        while self.buffer:
            self._tail(self.buffer.popleft())
        self._finish_tail()

    def run_threaded(self, frames: Iterator[_Entry]) -> None:
        cond = self.cond
        self.threaded = True
        # Decoding runs on its own thread, ahead of the head by up to PREFETCH_BYTES of decoded frames.
        # (a size the stream does not declare before decoding counts as 4 MB: 8 frames)
        frame_bytes = self.st.width * self.st.height * 3 // 2 or 4 << 20
        cap = min(max(PREFETCH_BYTES // frame_bytes, 4), MAX_PREFETCH_FRAMES)
        prefetch = BackgroundFrames(frames, cap)
        self.prefetch = prefetch

        def produce() -> None:
            try:
                for e in prefetch:
                    self._head(e)  # waits for the tail where the zone rule needs it
                    with cond:
                        while not self.stop and len(self.buffer) >= self.buffer_cap:
                            cond.wait()
                        if self.stop:
                            break
                        self.buffer.append(e)
                        self.head_t = e.t
                        self.buffer_max = max(self.buffer_max, len(self.buffer))
                        cond.notify_all()
            except BaseException as exc:  # handed to the calling thread
                self.error = exc
            finally:
                with cond:
                    self.head_done = True
                    cond.notify_all()

        worker = threading.Thread(target=produce, name="ig-head", daemon=True)
        worker.start()
        try:
            while True:
                with cond:
                    while self.error is None and not self._leaves(self.head_t):
                        if self.head_done and not self.buffer:
                            break
                        cond.wait()
                    if self.error is not None:
                        raise self.error
                    if not self.buffer:
                        break
                    e = self.buffer.popleft()
                    self.inflight = e.t
                    cond.notify_all()
                self._tail(e)
                with cond:
                    self.inflight = None
                    cond.notify_all()
            self._finish_tail()
        finally:
            with cond:
                self.stop = not self.head_done
                cond.notify_all()
            prefetch.close()  # before the head: it may be waiting for a frame
            worker.join()
        if self.error is not None:
            raise self.error

    # -- head: every decoded frame ------------------------------------------------------------

    def _tail_behind(self, cut: float) -> bool:
        """Whether a frame at or before ``cut`` is still waiting for, or in, the tail."""
        if self.buffer and self.buffer[0].t <= cut + 1e-9:
            return True
        return self.inflight is not None and self.inflight <= cut + 1e-9

    def _zone_for_head(self, e: _Entry) -> tuple[float, float, float, float] | None:
        """The face zone the head uses for frame ``e``: from landmarks at or before a fixed cut.

        The cut is ``lookback_s`` before the decoded frame ``slack`` frames back: the tail has always
        got that far in serial mode, and in threaded mode the head waits for it, so both modes
        measure the same zone motion while the head may run ``slack`` frames ahead.
        """
        times = self.head_times
        cut = times[0] - self.lookback_s if len(times) > self.slack else -math.inf
        times.append(e.t)
        if len(times) > self.slack + 1:
            times.popleft()
        cond = self.cond
        with cond:
            while not self.stop and self._tail_behind(cut):
                if not self.threaded:  # pragma: no cover - the serial driver always gets the tail this far
                    raise RuntimeError("video scan: the tail is behind the head's zone cut")
                cond.wait()
            hist = self.zone_history
            while len(hist) >= 2 and hist[1][0] <= cut + 1e-9:
                hist.popleft()
            if hist and hist[0][0] <= cut + 1e-9:
                self.head_zone = hist[0][1]
        return self.head_zone

    def _head(self, e: _Entry) -> None:
        t0 = time.perf_counter()
        cv2 = self.cv2
        thumb = self._upright(luma(e.vf, self.thumb_src_size))
        diff = None
        if self.prev_thumb is not None and self.prev_thumb.shape == thumb.shape:
            diff = cv2.absdiff(thumb, self.prev_thumb)
        self.prev_thumb = thumb
        t1 = time.perf_counter()
        zone = self._zone_for_head(e)
        t2 = time.perf_counter()
        zone_m = glob_m = 0.0
        if diff is not None:
            glob_m = cv2.mean(diff)[0]
            if zone is None:
                zone_m = glob_m
            else:
                th, tw = thumb.shape
                x0, y0, x1, y1 = zone
                xa, ya = int(math.floor(x0 * tw)), int(math.floor(y0 * th))
                xb, yb = max(int(math.ceil(x1 * tw)), xa + 1), max(int(math.ceil(y1 * th)), ya + 1)
                zone_m = cv2.mean(diff[ya:yb, xa:xb])[0]
        if zone is None:
            thr = math.inf  # no face yet: nothing to occlude, no baseline
        else:
            assert self.baseline is not None  # set with the first frame
            thr = self.baseline.threshold()
            if e.idx > 0:
                if zone_m > thr and self.mode == "adaptive":
                    with self.cond:
                        self.counts["triggers_motion"] += 1
                        self.intervals.add(e.t - self.lookback_s, e.t + self.hold_s)
                self.baseline.push(zone_m)
        a, i = self.motion.add()
        a["t_s"][i], a["zone_motion"][i], a["global_motion"][i], a["threshold"][i] = e.t, zone_m, glob_m, thr
        self.timing["motion"] += time.perf_counter() - t0 - (t2 - t1)

    # -- tail: frames leaving the delay line, in time order ---------------------------------

    def _tail(self, e: _Entry) -> None:
        full = self.mode == "full"
        with self.cond:
            dense = full or self.intervals.covers(e.t)
        if dense:
            if self.in_active:
                self.active[-1][1] = e.t
            else:
                self.active.append([e.t, e.t])
                self.in_active = True
        elif self.in_active:
            self._close_active()
        while self.sync_windows and self.sync_windows[0][1] < e.t:
            self.sync_windows.popleft()
        sync = bool(self.sync_windows) and self.sync_windows[0][0] <= e.t
        period = 0.0 if (full or sync) else (1.0 / self.dense_fps if dense else 1.0 / self.base_fps)
        if full or sync or e.t - self.last_lm_t >= period - self.tol:
            self.last_lm_t = e.t
            self._landmark(e, dense)
        if self.prev_entry is not None:
            self.prev_entry.vf = None
        self.prev_entry = e
        self.done += 1
        if self.progress is not None and self.done % 30 == 0:
            self.progress(Stage.VIDEO, completed=self.done, total=max(self.total, self.done))

    def _finish_tail(self) -> None:
        self._close_active()
        if self.progress is not None:
            self.progress(Stage.VIDEO, completed=self.done, total=self.done)

    def _gray(self, e: _Entry) -> np.ndarray:
        if e.gray is None:
            e.gray = self._upright(luma(e.vf, self.work_src_size))
        return e.gray

    def _landmark(self, e: _Entry, dense: bool) -> None:
        perf = time.perf_counter
        t0 = perf()
        rgb = self._upright(rgb_for_landmarks(e.vf, self.lm_resize))
        t1 = perf()
        if self.pool is not None:
            # The two landmarkers are independent and single-threaded: run the hand one beside the face one. The
            # hand landmarker takes about twice the face's time: what needs only the face is done meanwhile.
            fut = self.pool.submit(self.hand_runner.process, rgb, e.t)
            try:
                fobs = self.face_runner.process(rgb, e.t)
                t2 = perf()
                face_px = self._face_work(e, rgb, fobs, dense)
            finally:
                t3 = perf()
                hobs = fut.result()
        else:
            fobs = self.face_runner.process(rgb, e.t)
            t2 = perf()
            face_px = self._face_work(e, rgb, fobs, dense)
            t3 = perf()
            hobs = self.hand_runner.process(rgb, e.t)
        t4 = perf()
        self.timing["convert"] += t1 - t0
        self.timing["face"] += t2 - t1
        self.timing["hands"] += t4 - t3  # in parallel mode: only the wait beyond the face and _face_work
        self.counts["dense_landmarked" if dense else "base_landmarked"] += 1

        a, i = self.face_rows.add()
        a["t_s"][i], a["frame_index"][i] = e.t, e.idx
        if fobs.present:
            a["present"][i], a["landmarks"][i], a["box"][i] = True, fobs.landmarks, fobs.box
            a["n_faces"][i], a["source"][i] = fobs.n_faces, FACE_SOURCES.index(fobs.source)
            if fobs.blendshapes is not None:
                a["blendshapes"][i] = fobs.blendshapes
        b, j = self.hand_rows.add()
        b["t_s"][j], b["frame_index"][j], b["count"][j] = e.t, e.idx, hobs.count
        if hobs.count:
            b["landmarks"][j], b["handedness"][j], b["score"][j] = hobs.landmarks, hobs.handedness, hobs.score

        # Pixels around the face (the face's part measured in _face_work).
        c, k = self.pixel_rows.add()
        c["t_s"][k] = e.t
        if face_px is not None:
            px, crop = face_px
            for name, v in zip(PixelTrack.COLUMNS, px.row(hobs.landmarks)):
                c[name][k] = v
            if crop is not None:
                c["face_crop"][k] = crop
        self._zone_pixels(e, c, k, fobs, hobs)
        t5 = perf()
        self.timing["pixels"] += t5 - t4
        t4 = t5

        # The face zone (for this tail and, through the history, the head), and the landmark triggers.
        if fobs.present:
            x0, y0, x1, y1 = (float(v) for v in fobs.box)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            hw, hh = (x1 - x0) * FACE_ZONE_SCALE / 2, (y1 - y0) * FACE_ZONE_SCALE / 2
            self.zone = (max(cx - hw, 0.0), max(cy - hh, 0.0), min(cx + hw, 1.0), min(cy + hh, 1.0))
            with self.cond:
                self.zone_history.append((e.t, self.zone))
        if self.mode == "adaptive":
            add = self.lm_triggers.update(e.t, fobs.present, self.zone, hobs.count, hobs.landmarks)
            if add:
                with self.cond:
                    for a0, a1 in add:
                        self.intervals.add(a0, a1)
        if dense:
            self.key_frames.offer(e.t, rgb, hand=self.zone_anchor.hand_in_zone)
            self.timing["keyframes"] += perf() - t4

    def _face_work(self, e: _Entry, rgb: np.ndarray, fobs: Any, dense: bool) -> tuple[FacePixels, Any] | None:
        """What a landmarked frame needs from the face alone (run while the hand landmarker works on it): the
        face's pixel measures and crop, the blending row, the identity chip. Returns the pixel part (None
        without a face)."""
        perf = time.perf_counter
        t0 = perf()
        out = None
        if fobs.present:
            prev = None
            if self.prev_entry is not None and (self.prev_entry.gray is not None or self.prev_entry.vf is not None):
                prev = self._gray(self.prev_entry)
            gray = self._gray(e)
            out = FacePixels(gray, prev, fobs.landmarks), face_crop(gray, fobs.box)
        t1 = perf()
        self.blend_state = add_blend_row(self.blend_rows, rgb, fobs.landmarks if fobs.present else None, e.t,
                                         self.blend_state)  # fmt: skip
        t2 = perf()
        if self.identity is not None:
            # every frame while a hand is at the face (or was, a moment ago: the landmarker loses hands in front of
            # faces); the hand of this frame is being landmarked meanwhile, so the frames before it decide
            near = e.t - self.hand_at_face_t <= NEAR_HAND_S
            self.identity.offer(e.t, e.idx, rgb, fobs, dense, hand_near=near)
        self.timing["pixels"] += t1 - t0
        self.timing["blending"] += t2 - t1
        self.timing["identity"] += perf() - t2
        return out

    def _zone_pixels(self, e: _Entry, c: dict[str, np.ndarray], k: int, fobs: Any, hobs: Any) -> None:
        """The anchored face zone of this frame (PixelTrack ``zone_*`` columns; see :class:`ZoneAnchor`)."""
        z = self.zone_anchor.update(e.t, fobs.landmarks if fobs.present else None, hobs.landmarks, hobs.count)
        if self.zone_anchor.hand_in_zone:
            self.hand_at_face_t = e.t
        crop = None if z is None else zone_crop(self._gray(e), z[0])
        if z is not None and crop is not None:
            c["zone_crop"][k], c["zone_box"][k], c["zone_oval"][k], c["zone_held"][k] = crop, *z

    def _close_active(self) -> None:
        self.in_active = False
        self.key_frames.close_interval()

    # -- result ---------------------------------------------------------------------------

    def release(self) -> None:
        """Drop the decoded frames still referenced."""
        self.buffer.clear()
        self.prev_entry = None

    def result(self) -> VideoScan:
        st, pf = self.st, self.prefetch
        size = (st.out_width, st.out_height)
        common = {"fps": None, "sampling": self.mode, "max_side": self.max_side, "start_s": 0.0, "end_s": None,
                  "source_fps": st.nominal_fps, "rotation": st.rotation}  # fmt: skip
        face = FaceTrack(
            **self.face_rows.finish(),
            frame_size=size,
            meta={**common, "counts": dict(self.face_runner.counts), "options": asdict(self.face_runner.options)},
        )
        hand_meta = {**common, "options": asdict(self.hand_runner.options)}
        hands = HandTrack(**self.hand_rows.finish(), frame_size=size, meta=hand_meta)
        swap = self.rotation in (90, 270)
        ww, wh = self.work_src_size
        pixels = PixelTrack(**self.pixel_rows.finish(), work_size=(wh, ww) if swap else (ww, wh))
        tw, th = self.thumb_src_size
        motion = MotionTrack(**self.motion.finish(), thumb_size=(th, tw) if swap else (tw, th))
        identity = None if self.identity is None else self.identity.finish()
        wall = time.perf_counter() - self.wall0
        cpu = time.process_time() - self.cpu0
        n_dec = len(motion)
        fps = st.nominal_fps if st.nominal_fps > 0 else 30.0
        video_s = ((st.last_t or 0.0) - (st.first_t or 0.0) + 1.0 / fps) if n_dec else 0.0
        active = [(float(a), float(b)) for a, b in self.active]
        stats = {
            "mode": self.mode,
            "parameters": {
                "base_fps": self.base_fps,
                "dense_fps": self.dense_fps,
                "lookback_s": self.lookback_s,
                "hold_s": self.hold_s,
                "max_side": self.max_side,
                "parallel": self.pool is not None,
                "trigger": asdict(self.trig),
                "thumb_side": THUMB_SIDE,
                "work_side": WORK_SIDE,
                "head_slack_frames": self.slack,
            },
            "frames_decoded": n_dec,
            "frames_landmarked": len(face),
            "landmarked_share": round(len(face) / n_dec, 4) if n_dec else 0.0,
            **self.counts,
            "triggers_hand": self.lm_triggers.counts["hand"],
            "triggers_face_lost": self.lm_triggers.counts["face_lost"],
            "active_intervals": len(active),
            "active_s": round(sum(b - a + 1.0 / fps for a, b in active), 3),
            "video_s": round(video_s, 3),
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "x_realtime": round(video_s / wall, 2) if wall > 0 else 0.0,
            "seconds": {k: round(v, 3) for k, v in self.timing.items()},
            "buffer_max_frames": self.buffer_max,
            "prefetch": pf
            and {
                "cap_frames": pf.cap,
                "max_frames": pf.max_len,
                "decoder_wait_s": round(pf.producer_wait_s, 3),
                "head_wait_s": round(pf.consumer_wait_s, 3),
            },  # fmt: skip
            "buffer_cap_frames": self.buffer_cap,
            "keyframes": len(self.key_frames.frames),
            "keyframes_dropped": self.key_frames.dropped,
            "decode": st.to_dict(),
            **({} if identity is None else {"identity": identity.meta}),
        }
        blending = BlendTrack(**self.blend_rows.finish(), frame_size=size)
        return VideoScan(face, hands, pixels, motion, active, self.key_frames.finish(), stats, identity=identity,
                         blending=blending)  # fmt: skip
