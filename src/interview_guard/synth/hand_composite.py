"""Compositing a real hand in front of a face, and a face swap's failure under it.

Used to make labelled test material from real footage (the evaluation of
``face_occlusion``, the tests, and the synthetic-session generator):

* :func:`composite_hand` puts a segmented real hand photo in front of a
  frame — the genuine case: a hand waved in front of a real face;
* :func:`paint_face_over` repaints the face region of the clean frame over
  the composited one — what a real-time face swap trained on unoccluded faces
  does when a hand crosses the face (it draws its face layer on top of the
  hand, so the hand vanishes inside the face outline).

:func:`load_hand_cutouts` gives the cut-outs of a directory of hand photos
(masked ones through :mod:`~interview_guard.synth.hands`, unmasked ones
segmented by :mod:`~interview_guard.synth.hand_segment`);
:func:`make_occlusion_clips` writes both cases as labelled clips.

OpenCV, PyAV and MediaPipe are imported lazily.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from interview_guard.errors import InputError
from interview_guard.synth.hand_segment import hand_cutouts_from_photo
from interview_guard.synth.hands import HandCutout, hand_sources, load_hand_cutout

__all__ = [
    "load_hand_cutouts",
    "wave_positions",
    "composite_hand",
    "paint_face_over",
    "make_occlusion_clips",
]


def _cv2() -> Any:
    import cv2  # noqa: PLC0415 - heavy, imported on use

    return cv2


def wave_positions(
    t_s: np.ndarray,
    *,
    start_s: float,
    end_s: float,
    centre: tuple[float, float],
    amplitude: float,
    passes: float = 2.0,
    lift: float = 0.0,
) -> np.ndarray:
    """Hand centre per time for a wave across a face: side to side ``passes`` times.

    Returns an (n, 2) array of pixel positions, NaN outside ``[start_s, end_s]``.
    The hand enters from one side, crosses ``centre`` and leaves on the other,
    following a smooth (cosine) path; ``lift`` bends the path upwards mid-way.
    """
    t = np.asarray(t_s, dtype=np.float64)
    out = np.full((t.size, 2), np.nan)
    inside = (t >= start_s) & (t <= end_s)
    u = (t[inside] - start_s) / max(end_s - start_s, 1e-6)  # 0..1
    phase = -np.cos(np.pi * passes * u)  # -1 .. 1 .. -1 ...
    out[inside, 0] = centre[0] + amplitude * phase
    out[inside, 1] = centre[1] - lift * np.sin(np.pi * u)
    return out


def composite_hand(
    frame: np.ndarray,
    hand: HandCutout,
    *,
    centre_xy: Sequence[float] | np.ndarray,
    height_px: float,
    angle_deg: float = 0.0,
) -> np.ndarray:
    """Alpha-blend ``hand`` (scaled to ``height_px`` tall, rotated) centred at ``centre_xy``; returns a new frame."""
    cv2 = _cv2()
    out = frame.copy()
    if not np.all(np.isfinite(centre_xy)):
        return out
    scale = height_px / hand.rgb.shape[0]
    h0, w0 = hand.rgb.shape[:2]
    M = cv2.getRotationMatrix2D((w0 / 2.0, h0 / 2.0), angle_deg, scale)
    diag = int(math.ceil(math.hypot(h0, w0) * scale)) + 2
    M[0, 2] += diag / 2.0 - w0 / 2.0
    M[1, 2] += diag / 2.0 - h0 / 2.0
    rgb = cv2.warpAffine(hand.rgb, M, (diag, diag), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = cv2.warpAffine(hand.alpha, M, (diag, diag), flags=cv2.INTER_LINEAR, borderValue=0)
    x0 = int(round(centre_xy[0] - diag / 2.0))
    y0 = int(round(centre_xy[1] - diag / 2.0))
    H, W = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + diag, W), min(y0 + diag, H)
    if fx1 <= fx0 or fy1 <= fy0:
        return out
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    src = rgb[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].astype(np.float32)
    dst = out[fy0:fy1, fx0:fx1].astype(np.float32)
    out[fy0:fy1, fx0:fx1] = np.clip(a * src + (1 - a) * dst, 0, 255).astype(np.uint8)
    return out


def paint_face_over(
    occluded: np.ndarray,
    clean: np.ndarray,
    face_polygon_px: np.ndarray,
    *,
    feather_px: float = 3.0,
    shrink: float = 0.97,
) -> np.ndarray:
    """Repaint the face region of ``clean`` over ``occluded`` (a swap drawing its face on top of the hand).

    Parameters
    ----------
    occluded : np.ndarray [shape=(h, w, 3)]
        The frame with the hand in front of the face.
    clean : np.ndarray [shape=(h, w, 3)]
        The same frame without the hand (the face the swap renders).
    face_polygon_px : np.ndarray [shape=(k, 2)]
        The face outline in pixels (NaN: nothing is painted).
    feather_px : float
        Softness of the mask edge (a swap blends its boundary).
    shrink : float
        Scale of the polygon about its centre (swaps paint slightly inside the outline).
    """
    cv2 = _cv2()
    poly = np.asarray(face_polygon_px, dtype=np.float64)
    if poly.shape[0] < 3 or not np.all(np.isfinite(poly)):
        return occluded.copy()
    c = poly.mean(axis=0)
    poly = c + (poly - c) * shrink
    mask = np.zeros(occluded.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1.0)
    if feather_px > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), feather_px)
    m = mask[..., None]
    return cast(
        np.ndarray,
        np.clip(m * clean.astype(np.float32) + (1 - m) * occluded.astype(np.float32), 0, 255).astype(np.uint8),
    )


# per-process cache of cut-outs per file: (path, size, mtime_ns, mask or None, models_dir, options) -> cut-outs
_CUTOUT_CACHE: dict[tuple[object, ...], tuple[HandCutout, ...]] = {}


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def load_hand_cutouts(
    hands_dir: str | os.PathLike[str],
    *,
    models_dir: str | os.PathLike[str] | None = None,
    include: Callable[[Path], bool] | None = None,
    segment_unmasked: bool = True,
    **photo_options: Any,
) -> list[HandCutout]:
    """Hand cut-outs from every photo of a directory, masked or not.

    A photo with a mask (``x.jpg`` + ``x_mask.png``) gives one cut-out through
    :func:`load_hand_cutout`; a photo without one is segmented by
    :func:`interview_guard.synth.hand_segment.hand_cutouts_from_photo` (MediaPipe
    hand landmarks + GrabCut; collages are split into their cells) and gives
    zero or more good, open-palm-like cut-outs.

    Parameters
    ----------
    hands_dir : path
        The directory (e.g. ``../shared/data/hands``).
    models_dir : path, optional
        Where ``hand_landmarker.task`` is (only needed for unmasked photos).
    include : callable, optional
        ``include(path) -> bool`` on each photo's path; photos it rejects are
        not read at all (e.g. keep only permissively licensed files).
    segment_unmasked : bool
        ``False``: masked photos only (the behaviour of :func:`hand_files`).
    **photo_options
        Passed to ``hand_cutouts_from_photo`` (``min_hand_px``, ``min_fingers``, ...).

    Returns
    -------
    list of HandCutout
        In file-name order. ``source`` is the photo's path for masked photos
        and ``"<path>#box=x,y,w,h"`` (the cut-out's box in the photo) for
        segmented ones. Results are cached in memory per process (keyed by
        file path, size, modification time and options); the cut-out arrays
        are shared between calls, treat them as read-only.

    Raises
    ------
    InputError
        When a photo or mask cannot be read.
    ModelError
        When an unmasked photo needs the hand model and it is missing or altered.
    """
    out: list[HandCutout] = []
    opt_key = tuple(sorted((k, repr(v)) for k, v in photo_options.items()))
    for img, mask in hand_sources(hands_dir):
        if include is not None and not include(img):
            continue
        if mask is None and not segment_unmasked:
            continue
        key = (
            _file_key(img),
            None if mask is None else _file_key(mask),
            None if models_dir is None else str(models_dir),
            opt_key if mask is None else (),
        )
        cached = _CUTOUT_CACHE.get(key)
        if cached is None:
            if mask is not None:
                cached = (load_hand_cutout(img, mask),)
            else:
                found = hand_cutouts_from_photo(img, models_dir=models_dir, **photo_options)
                cached = tuple(cast("list[HandCutout]", found))
            _CUTOUT_CACHE[key] = cached
        out.extend(cached)
    return out


def make_occlusion_clips(
    source: str | os.PathLike[str],
    *,
    hand_image: str | os.PathLike[str],
    hand_mask: str | os.PathLike[str],
    out_genuine: str | os.PathLike[str] | None = None,
    out_swap: str | os.PathLike[str] | None = None,
    start_s: float | None = None,
    wave_s: float = 1.6,
    passes: float = 2.0,
    hand_height: float = 1.3,
    amplitude: float = 0.9,
    crf: int = 20,
    models_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Write labelled copies of a real face clip with a hand waved across the face.

    ``out_genuine`` gets the hand composited in front of the face (a real
    person waving); ``out_swap`` gets the same frames with the face region of
    the clean frame painted back over the hand (a face swap's failure). The
    face outline comes from MediaPipe on the clean frames. Frames stream
    through; the clip's frame rate and size are kept (even width and height).

    Returns
    -------
    dict
        ``wave``: (start_s, end_s) of the wave, ``frames``, ``face_frames``.
    """
    import av  # noqa: PLC0415

    from interview_guard.io.landmarks import FaceLandmarkerRunner
    from interview_guard.io.video_decode import iter_frames
    from interview_guard.signals.face_geometry import FACE_OVAL

    hand = load_hand_cutout(hand_image, hand_mask)
    # pass 1: face outline per frame (cheap enough for short clips; positions need the median face)
    polys, times = [], []
    with FaceLandmarkerRunner(models_dir=models_dir) as runner:
        for f in iter_frames(source):
            H, W = f.image.shape[:2]
            ob = runner.process(f.image, f.t_s)
            polys.append(
                ob.landmarks[FACE_OVAL, :2] * [W, H]
                if ob.present and ob.landmarks is not None
                else np.full((FACE_OVAL.size, 2), np.nan)
            )
            times.append(f.t_s)
    t = np.asarray(times)
    good = [p for p in polys if np.all(np.isfinite(p))]
    if not good:
        raise InputError("no face found in the clip", path=source)
    centre = np.median(np.array([p.mean(axis=0) for p in good]), axis=0)
    width = float(np.median([p[:, 0].max() - p[:, 0].min() for p in good]))
    t0 = float(t[0])
    dur = float(t[-1] - t0)
    if start_s is None:
        start_s = t0 + max(0.5, 0.35 * dur - 0.5 * wave_s)
    end_s = min(start_s + wave_s, float(t[-1]))
    pos = wave_positions(
        t, start_s=start_s, end_s=end_s, centre=(centre[0], centre[1]), amplitude=amplitude * width, passes=passes
    )
    rate = max(1, int(round((len(t) - 1) / max(dur, 1e-3))))
    outs = {}
    for key, path in (("genuine", out_genuine), ("swap", out_swap)):
        if path is None:
            continue
        c = av.open(str(path), "w")
        s = c.add_stream("libx264", rate=rate)
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf)}
        outs[key] = (c, s)
    try:
        for k, f in enumerate(iter_frames(source)):
            if k >= len(pos):
                break
            img = f.image
            H, W = img.shape[:2]
            occluded = composite_hand(img, hand, centre_xy=pos[k], height_px=hand_height * width)
            frames = {"genuine": occluded}
            if "swap" in outs:
                frames["swap"] = paint_face_over(occluded, img, polys[k]) if np.all(np.isfinite(pos[k])) else occluded
            for key, (c, s) in outs.items():
                if not s.width:
                    s.width, s.height = W // 2 * 2, H // 2 * 2
                frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frames[key][: s.height, : s.width]), format="rgb24"
                )
                for pkt in s.encode(frame):
                    c.mux(pkt)
        for c, s in outs.values():
            for pkt in s.encode():
                c.mux(pkt)
    finally:
        for c, _ in outs.values():
            c.close()
    return {"wave": (float(start_s), float(end_s)), "frames": int(len(t)), "face_frames": len(good)}
