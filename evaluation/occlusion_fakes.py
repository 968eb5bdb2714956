"""An independent hand-over-face compositor for held-out evaluation of ``face_occlusion``.

Written without :mod:`interview_guard.synth` (nothing is imported from it and
its approach is not reused), so a detector tuned on the project's own
generator can be checked against compositing it has never seen: other hand
cut-outs (HandOverFace masks, HaGRID hands segmented here by GrabCut seeded
from MediaPipe hand landmarks and a YCrCb skin model), other masks (convex
hull of all face landmarks, randomly grown or shrunk, Gaussian-feathered),
other motion (eased sweeps from off-frame, waves, a cover from below, fast
sweeps, with motion blur) and other failure modes of real-time swaps:

* ``genuine``: the hand opaque in front of the real face (negative class);
* ``pasted``: the swap redraws the face over the hand inside its face mask;
* ``translucent``: the occlusion mask half-works: the hand is ghosted (alpha
  0.25-0.75) over the face, opaque elsewhere;
* ``dropout``: for 2-6 frames while the hand is on the face, another person's
  face (warped onto this face's landmarks) shows around the hand;
* ``warp``: the face region jitters under a smooth random displacement field
  while the hand is near;
* ``mask_lag``: the occlusion mask lags the hand by 3-6 frames, so inside the
  face mask the leading edge of the hand is painted over;
* ``pasted_jitter``: the face redrawn over the hand as in ``pasted``, and the redrawn face (with its mask) shaken
  while the hand is near, as a swap whose face alignment the hand disturbs: a rigid shift, turn and scale per
  frame (a smoothed random walk, 0.02-0.06 face widths, up to 3 degrees and 3 %), not a displacement field as in
  ``warp`` (round 20).

API: :data:`HAND_SOURCES`, :data:`ARTIFACT_LEVEL`, :func:`load_hands`, :func:`make_wave_clip`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
HANDS_DIR = SHARED / "hands"
MODELS = REPO / "models"

#: Where hand cut-outs come from: ``load_hands(source)`` for each of these.
HAND_SOURCES: tuple[str, ...] = ("handoverface", "hagrid")
KINDS: tuple[str, ...] = ("genuine", "pasted", "translucent", "dropout", "warp", "mask_lag", "pasted_jitter")
MOTIONS: tuple[str, ...] = ("sweep", "wave", "cover", "fast")
#: What an honest candidate's hand does at the face during an interview without being asked: the chin rested on
#: the hand for a couple of seconds (``rest``: the fingers over the jaw, the hand partly outside the face), and a
#: brief touch of the cheek (``touch``: up from below to the side of the face, a small rub, down). Genuine waves
#: only (round 22 of docs/face-occlusion.md): the fake kinds keep :data:`MOTIONS`, so no earlier clip changes.
EVERYDAY_MOTIONS: tuple[str, ...] = ("rest", "touch")

# MediaPipe FaceMesh face-oval indices, in order around the face
FACE_OVAL = np.array(
    [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149]
    + [150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
)
# alignment points for the dropout face: eye corners, nose tip, mouth corners
_ALIGN = np.array([33, 133, 362, 263, 1, 61, 291, 199])

#: A pixel of a fake differs visibly from its genuine twin at this change (0-1, any channel: about 20 grey levels).
ARTIFACT_LEVEL = 0.08

HOF_IDS = tuple(range(21, 31))
HAGRID_FILES = ("hagrid_samples_collage.jpg", "hagrid_example_collage.jpeg")


@dataclass
class Hand:
    """One hand cut-out.

    Attributes
    ----------
    id : str
        ``hof_24``, ``hagrid_3`` ...
    source : str
        One of :data:`HAND_SOURCES`.
    rgba : ndarray of uint8, shape (h, w, 4)
        The hand only (alpha 0 elsewhere), RGB, cropped to the hand's box.
    """

    id: str
    source: str
    rgba: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.rgba.shape[1]), int(self.rgba.shape[0])


# --------------------------------------------------------------------------------------
# hands


def _crop_rgba(rgb: np.ndarray, mask: np.ndarray, pad: int = 2) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + pad + 1)
    a = mask[y0:y1, x0:x1].astype(np.uint8) * 255
    return np.dstack([rgb[y0:y1, x0:x1], a]).astype(np.uint8)


def _largest_components(mask: np.ndarray) -> np.ndarray:
    """The largest component and those touching it within a tenth of its size (both hands of a clasp)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    size = max(stats[big, cv2.CC_STAT_WIDTH], stats[big, cv2.CC_STAT_HEIGHT])
    r = max(1, int(0.1 * size))
    near = cv2.dilate((lab == big).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    keep = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= 20 and near[lab == k].any()]
    return np.isin(lab, keep)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    h, w = m.shape
    flood = np.pad(m, 1).copy()
    ff = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(flood, ff, (0, 0), 1)
    return mask.astype(bool) | (flood[1:-1, 1:-1] == 0)


def _load_hof() -> list[Hand]:
    out = []
    for i in HOF_IDS:
        img_p, mask_p = HANDS_DIR / f"handoverface_{i}.jpg", HANDS_DIR / f"handoverface_{i}_mask.png"
        if not (img_p.is_file() and mask_p.is_file()):
            continue
        bgr = cv2.imread(str(img_p), cv2.IMREAD_COLOR)
        m = cv2.imread(str(mask_p), cv2.IMREAD_GRAYSCALE)
        if bgr is None or m is None:
            continue
        if m.shape != bgr.shape[:2]:
            m = cv2.resize(m, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_NEAREST)
        mask = m > 127
        # one pixel in from the mask edge: the ground-truth masks carry a face/background fringe
        mask = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        mask = _fill_holes(_largest_components(mask))
        if mask.sum() < 200:
            continue
        out.append(Hand(f"hof_{i}", "handoverface", _crop_rgba(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), mask)))
    return out


def _skin_ycrcb(rgb: np.ndarray) -> np.ndarray:
    """Broad skin-colour box in YCrCb (Chai & Ngan style bounds, widened)."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycc[..., 0], ycc[..., 1].astype(int), ycc[..., 2].astype(int)
    return (y > 40) & (cr >= 133) & (cr <= 180) & (cb >= 70) & (cb <= 130)


def _hand_landmarker() -> Any:
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    opts = vision.HandLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(MODELS / "hand_landmarker.task")),
        running_mode=vision.RunningMode.IMAGE,
        num_hands=4,
        min_hand_detection_confidence=0.5,
        min_hand_presence_confidence=0.5,
    )
    return mp, vision.HandLandmarker.create_from_options(opts)


def _windows(w: int, h: int, name: str) -> list[tuple[int, int, int, int]]:
    """Windows to look for hands in a collage: the 5x10 grid of the example, sliding squares otherwise."""
    if "example" in name:
        tw, th = w // 10, h // 5
        return [(c * tw, r * th, tw, th) for r in range(5) for c in range(10)]
    out = []
    for side in (h // 4, h // 2):
        step = side // 2
        for y in range(0, max(1, h - side + 1), step):
            for x in range(0, max(1, w - side + 1), step):
                out.append((x, y, side, side))
    return out


def _open_hand(lm: np.ndarray) -> bool:
    """At least three of index..pinky extended: tip farther from the wrist than the PIP joint by 15 %."""
    wrist = lm[0]
    ext = 0
    for pip, tip in ((6, 8), (10, 12), (14, 16), (18, 20)):
        if np.linalg.norm(lm[tip] - wrist) > 1.15 * np.linalg.norm(lm[pip] - wrist):
            ext += 1
    return ext >= 3


def _segment_hand(rgb: np.ndarray, lm_px: np.ndarray) -> np.ndarray | None:
    """GrabCut mask of the hand whose 21 landmarks (pixels) are ``lm_px``, or None when unusable."""
    x0, y0 = lm_px.min(axis=0)
    x1, y1 = lm_px.max(axis=0)
    size = max(x1 - x0, y1 - y0)
    pad = 0.35 * size
    H, W = rgb.shape[:2]
    cx0, cy0 = int(max(0, x0 - pad)), int(max(0, y0 - pad))
    cx1, cy1 = int(min(W, x1 + pad + 1)), int(min(H, y1 + pad + 1))
    crop = rgb[cy0:cy1, cx0:cx1]
    up = max(1.0, 200.0 / max(crop.shape[:2]))
    if up > 1.0:
        crop = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    pts = (lm_px - [cx0, cy0]) * up
    s = size * up
    gc = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
    hull = cv2.convexHull(pts.astype(np.float32)).astype(np.int32)
    region = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(region, hull, 1)
    region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.3 * s) | 1,) * 2))
    skin = _skin_ycrcb(crop)
    gc[region > 0] = cv2.GC_PR_BGD
    gc[(region > 0) & skin] = cv2.GC_PR_FGD
    sure = np.zeros(crop.shape[:2], np.uint8)
    palm = pts[[0, 1, 5, 9, 13, 17]].astype(np.int32)
    cv2.fillConvexPoly(sure, cv2.convexHull(palm), 1)
    sure = cv2.erode(sure, np.ones((3, 3), np.uint8), iterations=max(1, int(0.04 * s)))
    for a, b in ((5, 6), (6, 7), (9, 10), (10, 11), (13, 14), (14, 15), (17, 18), (18, 19), (2, 3)):
        cv2.line(sure, tuple(pts[a].astype(int)), tuple(pts[b].astype(int)), 1, max(1, int(0.03 * s)))
    gc[sure > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 6, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None
    mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    # GrabCut keeps sleeves, props and shadows of hand-like colour statistics: drop what is far from skin
    near_skin = cv2.dilate(skin.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    mask &= near_skin | (sure > 0)
    # a hand cut-out ends at the wrist: nothing beyond it (forearm, sleeve, table edge)
    axis = pts[9] - pts[0]
    length = float(np.hypot(*axis)) + 1e-6
    yy, xx = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]]
    along = ((xx - pts[0][0]) * axis[0] + (yy - pts[0][1]) * axis[1]) / length
    mask &= along > -0.12 * length
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    n, lab, _, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    c = tuple(np.clip(pts[9].astype(int), 0, [crop.shape[1] - 1, crop.shape[0] - 1]))
    if n <= 1 or lab[c[1], c[0]] == 0:
        return None
    mask = _fill_holes(lab == lab[c[1], c[0]])
    # quality rules: not a blob much bigger than the landmark hull, mostly skin-coloured, not a sliver
    hull_area = float(cv2.contourArea(hull))
    area = float(mask.sum())
    if not (0.45 * hull_area <= area <= 1.9 * hull_area) or skin[mask].mean() < 0.6:
        return None
    # one object, not a hand plus a dark or bright prop: few pixels far from the hand's median lightness
    light = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 0].astype(float)[mask]
    if np.mean(np.abs(light - np.median(light)) > 70) > 0.1:
        return None
    full = np.zeros(rgb.shape[:2], bool)
    small = cv2.resize(mask.astype(np.uint8), (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_LINEAR) > 0
    full[cy0:cy1, cx0:cx1] = small
    return full


def _load_hagrid(min_side: int = 48) -> list[Hand]:
    mp, det = _hand_landmarker()
    found: list[tuple[np.ndarray, np.ndarray]] = []  # (landmarks px, image)
    try:
        for name in HAGRID_FILES:
            p = HANDS_DIR / name
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR) if p.is_file() else None
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            H, W = rgb.shape[:2]
            hands: list[np.ndarray] = []
            for x, y, w, h in _windows(W, H, name):
                tile = rgb[y : y + h, x : x + w]
                scale = max(1.0, 384.0 / max(w, h))
                if scale > 1:
                    tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                img = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(tile))
                res = det.detect(img)
                for hl in res.hand_landmarks or []:
                    lm = np.array([[q.x, q.y] for q in hl]) * [tile.shape[1], tile.shape[0]] / scale + [x, y]
                    hands.append(lm)
            # one entry per physical hand: windows overlap, keep the largest view of each
            hands.sort(key=lambda lm: -np.ptp(lm, axis=0).max())
            kept: list[np.ndarray] = []
            for lm in hands:
                s = np.ptp(lm, axis=0).max()
                if all(np.linalg.norm(lm[9] - k[9]) > 0.5 * s for k in kept):
                    kept.append(lm)
            found += [(lm, rgb) for lm in kept]
    finally:
        det.close()
    # reading order (file, then top-left first) so ids are stable
    out: list[Hand] = []
    for lm, rgb in found:
        if np.ptp(lm, axis=0).max() < min_side or not _open_hand(lm):
            continue
        m = _segment_hand(rgb, lm)
        if m is None:
            continue
        out.append(Hand(f"hagrid_{len(out)}", "hagrid", _crop_rgba(rgb, m)))
    return out


@lru_cache(maxsize=4)
def _load_hands_cached(source: str) -> tuple[Hand, ...]:
    if source == "handoverface":
        return tuple(_load_hof())
    if source == "hagrid":
        return tuple(_load_hagrid())
    raise ValueError(f"unknown hand source {source!r}; one of {HAND_SOURCES}")


def load_hands(source: str, *, cache_dir: Path | None = None) -> list[Hand]:
    """Hand cut-outs of ``source`` (``"handoverface"`` or ``"hagrid"``), in a stable order.

    ``cache_dir`` keeps them as PNG files (``<id>.png``, RGBA) with an index, so
    the HaGRID segmentation runs once per machine.
    """
    if source not in HAND_SOURCES:
        raise ValueError(f"unknown hand source {source!r}; one of {HAND_SOURCES}")
    if cache_dir is not None:
        d = Path(cache_dir) / f"hands_{source}"
        idx = d / "index.json"
        if idx.is_file():
            ids = json.loads(idx.read_text())
            hands = []
            for i in ids:
                bgra = cv2.imread(str(d / f"{i}.png"), cv2.IMREAD_UNCHANGED)
                hands.append(Hand(i, source, cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)))
            return hands
    hands = list(_load_hands_cached(source))
    if cache_dir is not None:
        d.mkdir(parents=True, exist_ok=True)
        for h in hands:
            cv2.imwrite(str(d / f"{h.id}.png"), cv2.cvtColor(h.rgba, cv2.COLOR_RGBA2BGRA))
        tmp = d / f".index.{os.getpid()}.json"
        tmp.write_text(json.dumps([h.id for h in hands]))
        os.replace(tmp, idx)
    return hands


# --------------------------------------------------------------------------------------
# faces


def read_frames(path: Path, max_s: float) -> tuple[list[np.ndarray], Fraction]:
    """RGB frames of the first ``max_s`` seconds (even width and height) and the frame rate."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        rate = s.average_rate or s.guessed_rate or Fraction(30)
        n_max = int(math.floor(float(max_s) * float(rate) + 1e-6))
        for fr in c.decode(s):
            img = fr.to_ndarray(format="rgb24")
            h, w = img.shape[:2]
            frames.append(np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2]))
            if len(frames) >= n_max:
                break
    if not frames:
        raise ValueError(f"{path}: no video frames")
    return frames, Fraction(rate)


def _face_runner() -> Any:
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions

    return FaceLandmarkerRunner(FaceRunnerOptions(image_mode=True, blendshapes=False), models_dir=MODELS)


def face_landmarks(frames: list[np.ndarray], fps: float) -> np.ndarray:
    """(n, 478, 2) face landmarks in pixels per frame; frames without a face take the nearest found one.

    Raises ValueError when no frame has a face.
    """
    n = len(frames)
    out = np.full((n, 478, 2), np.nan)
    with _face_runner() as runner:
        for i, img in enumerate(frames):
            ob = runner.process(img, i / fps)
            if ob.present and ob.landmarks is not None:
                out[i] = ob.landmarks[:, :2] * [img.shape[1], img.shape[0]]
    ok = np.flatnonzero(~np.isnan(out[:, 0, 0]))
    if ok.size == 0:
        raise ValueError("no face found")
    for i in np.flatnonzero(np.isnan(out[:, 0, 0])):
        out[i] = out[ok[np.argmin(np.abs(ok - i))]]
    return out


def _cached_landmarks(path: Path, frames: list[np.ndarray], fps: float, cache_dir: Path | None) -> np.ndarray:
    if cache_dir is None:
        return face_landmarks(frames, fps)
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{len(frames)}".encode()).hexdigest()[:20]
    p = Path(cache_dir) / "landmarks" / f"{path.stem}_{key}.npy"
    if p.is_file():
        return np.load(p)
    lm = face_landmarks(frames, fps)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.{os.getpid()}.npy")
    np.save(tmp, lm)
    os.replace(tmp, p)
    return lm


def _poly_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(bool)


def _nearness(hand_centre: np.ndarray, face_centre: np.ndarray, fw: float) -> float:
    """How near the hand is for the swap to fail (``warp``, ``pasted_jitter``): 1 within half a face width of the
    face's centre, falling to 0 at 1.5 face widths."""
    d = float(np.hypot(*(hand_centre - face_centre))) / fw
    return float(np.clip(1.0 - (d - 0.5), 0.0, 1.0))


def _soft_face_mask(shape: tuple[int, int], lm: np.ndarray, grow: float, feather: float, fw: float) -> np.ndarray:
    """Convex hull of all landmarks, grown (or shrunk, ``grow`` < 0) by ``grow`` face widths, Gaussian-feathered."""
    m = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(m, cv2.convexHull(lm.astype(np.float32)).astype(np.int32), 255)
    r = int(round(abs(grow) * fw))
    if r >= 1:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m = cv2.dilate(m, k) if grow > 0 else cv2.erode(m, k)
    sig = max(0.8, feather * fw)
    return cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), sig)


# --------------------------------------------------------------------------------------
# motion


def _ease(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _rise_hold_fall(u: np.ndarray, rise: float, hold: float, bottom: float, target: float) -> np.ndarray:
    """Height (relative to the face's centre) of a hand raised from ``bottom`` to ``target`` over ``rise`` s, held
    ``hold`` s and lowered again, at times ``u`` from the start of the rise."""
    up = _ease(u / rise)
    down = _ease((u - rise - hold) / rise)
    return np.where(u < rise + hold, bottom + up * (target - bottom), target + down * (bottom - target))


@dataclass
class _Path:
    centre: np.ndarray  # (n, 2) px, NaN where the hand is not in view
    angle: np.ndarray  # (n,) degrees
    t0: float
    t1: float


def _hand_path(
    motion: str,
    t: np.ndarray,
    face_c: np.ndarray,
    fw: float,
    hand_wh: tuple[float, float],
    frame_wh: tuple[int, int],
    rng: np.random.Generator,
    start_s: float,
    crossing_s: float,
) -> _Path:
    """Hand centre and angle per frame: off-frame -> across the face -> off-frame."""
    W, H = frame_wh
    hw, hh = hand_wh
    side = 1.0 if rng.random() < 0.5 else -1.0
    cx, cy = face_c[:, 0], face_c[:, 1]
    # distance from the face centre to beyond the frame edge on each side
    out_r = float(np.median(np.where(side > 0, W - cx, cx))) + 0.6 * max(hw, hh) + 4
    out_l = float(np.median(np.where(side > 0, cx, W - cx))) + 0.6 * max(hw, hh) + 4
    y_off = rng.uniform(-0.1, 0.3) * fw  # hand a little below the eyes on average
    angle0 = rng.uniform(-18, 18)
    n = len(t)
    centre = np.full((n, 2), np.nan)
    # R: hand centre this far from the face centre = hand just clear of the face
    R = 0.5 * fw + 0.5 * hw + 0.15 * fw
    if motion in ("sweep", "fast"):
        # constant speed (with a slight surge), from off-frame to off-frame; the hand reaches the
        # face's edge at start_s and has cleared the other side dur later
        dur = 0.5 if motion == "fast" else crossing_s
        v = 2 * R / dur
        u = (t - start_s) / dur
        xs = R - v * (t - start_s) - 0.04 * R * np.sin(2 * np.pi * np.clip(u, 0, 1))
        x = cx + side * xs
        y = cy + y_off - 0.1 * fw * np.sin(np.pi * np.clip(u, 0, 1))
        inside = (xs < out_r) & (xs > -out_l)
        ang = angle0 + 6 * np.sin(2 * np.pi * np.clip(u, 0, 1))
        t0, t1 = start_s - (out_r - R) / v, start_s + (R + out_l) / v
    elif motion == "wave":
        # in from off-frame (decelerating), two passes (across and back), out the way it came
        dur = 2 * crossing_s
        t_in = 0.35
        u = (t - start_s) / dur
        e_in = _ease((t - (start_s - t_in)) / t_in)
        e_out = _ease((t - start_s - dur) / t_in)
        xs = np.where(
            t < start_s,
            out_r + e_in * (R - out_r),
            np.where(t <= start_s + dur, R * np.cos(2 * np.pi * np.clip(u, 0, 1)), R + e_out * (out_r - R)),
        )
        x = cx + side * xs
        y = cy + y_off + 0.08 * fw * np.sin(4 * np.pi * np.clip(u, 0, 1))
        t0, t1 = start_s - t_in, start_s + dur + t_in
        inside = (t > t0) & (t < t1)
        ang = angle0 + 10 * np.sin(2 * np.pi * np.clip(u, 0, 1))
    elif motion == "cover":
        rise, hold = 0.4, 0.5
        dur = 2 * rise + hold
        u = t - start_s
        bottom = H - cy + 0.6 * hh + 4
        target = rng.uniform(-0.05, 0.15) * fw
        yrel = _rise_hold_fall(u, rise, hold, bottom, target)
        x = cx + rng.uniform(-0.1, 0.1) * fw + 0.03 * fw * np.sin(2 * np.pi * 3 * np.clip(u, 0, dur))
        y = cy + yrel
        inside = (u > 0) & (u < dur)
        ang = angle0 + 4 * np.sin(2 * np.pi * 2 * np.clip(u, 0, dur))
        t0, t1 = start_s, start_s + dur
    elif motion in EVERYDAY_MOTIONS:
        # up from below the frame to beside the jaw (rest) or the cheek (touch), held with a little motion, down
        rise, hold = (0.5, rng.uniform(1.6, 2.2)) if motion == "rest" else (0.4, rng.uniform(0.5, 0.8))
        dur = 2 * rise + hold
        u = t - start_s
        bottom = H - cy + 0.6 * hh + 4
        if motion == "rest":
            # the hand's top edge between the mouth and the chin, its centre to one side of the chin
            top = rng.uniform(0.3, 0.6) * fw
            dx = side * rng.uniform(0.05, 0.4) * fw
            sway, hz = 0.02 * fw, 0.7
        else:
            # the hand's top edge at the cheekbone or lower, its centre at the side of the face
            top = rng.uniform(-0.1, 0.3) * fw
            dx = side * rng.uniform(0.3, 0.55) * fw
            sway, hz = 0.04 * fw, 2.5
        yrel = _rise_hold_fall(u, rise, hold, bottom, top + 0.5 * hh)
        x = cx + dx + sway * np.sin(2 * np.pi * hz * np.clip(u, 0, dur))
        y = cy + yrel + 0.5 * sway * np.sin(2 * np.pi * 0.5 * hz * np.clip(u, 0, dur))
        inside = (u > 0) & (u < dur)
        ang = angle0 + 3 * np.sin(2 * np.pi * 0.5 * np.clip(u, 0, dur))
        t0, t1 = start_s, start_s + dur
    else:
        raise ValueError(f"unknown motion {motion!r}; one of {MOTIONS + EVERYDAY_MOTIONS}")
    centre[inside, 0] = x[inside]
    centre[inside, 1] = y[inside]
    return _Path(centre, np.asarray(ang, float), float(max(0.0, t0)), float(t1))


@dataclass
class _Layer:
    """The hand in one frame: its region of interest (x0, y0, x1, y1), premultiplied RGB and alpha there."""

    roi: tuple[int, int, int, int]
    rgb: np.ndarray
    a: np.ndarray


def _in_roi(layer: _Layer | None, roi: tuple[int, int, int, int]) -> np.ndarray:
    """The alpha of ``layer`` in the coordinates of ``roi`` (zero where it does not reach)."""
    x0, y0, x1, y1 = roi
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    if layer is None:
        return out
    lx0, ly0, lx1, ly1 = layer.roi
    ix0, iy0, ix1, iy1 = max(x0, lx0), max(y0, ly0), min(x1, lx1), min(y1, ly1)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = layer.a[iy0 - ly0 : iy1 - ly0, ix0 - lx0 : ix1 - lx0]
    return out


def _motion_blur(rgb: np.ndarray, a: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    speed = float(np.hypot(*v))
    length = int(min(31, round(0.5 * speed)))
    if length < 3:
        return rgb, a
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2.0
    d = v / speed
    cv2.line(
        k,
        (int(round(c - d[0] * c)), int(round(c - d[1] * c))),
        (int(round(c + d[0] * c)), int(round(c + d[1] * c))),
        1.0,
        1,
    )
    k /= k.sum()
    return cv2.filter2D(rgb, -1, k), cv2.filter2D(a, -1, k)


# --------------------------------------------------------------------------------------
# donor faces for "dropout"


def _donor_candidates(face_video: Path) -> list[Path]:
    d = SHARED / "faces_video"
    out = sorted((d / "stills").glob("*.jpg")) if (d / "stills").is_dir() else []
    out = [p for p in out if "two_people" not in p.name and "partial" not in p.name]
    out += [p for p in sorted(d.glob("*.mp4")) if p.stem != face_video.stem]
    return out


def _donor(face_video: Path, rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray]:
    """(name, RGB image, landmarks px) of another person's face."""
    cands = _donor_candidates(face_video)
    order = rng.permutation(len(cands))
    with _face_runner() as runner:
        for i in order:
            p = cands[int(i)]
            if p.suffix.lower() == ".jpg":
                bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if bgr is None:
                    continue
                img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                s = min(1.0, 800.0 / max(img.shape[:2]))
                img = np.ascontiguousarray(cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
            else:
                try:
                    img = read_frames(p, 1.0)[0][-1]
                except Exception:
                    continue
            ob = runner.process(img, 0.0)
            if ob.present and ob.landmarks is not None:
                return p.stem, img, ob.landmarks[:, :2] * [img.shape[1], img.shape[0]]
    raise ValueError("no donor face found")


def _colour_match(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel mean/std transfer in Lab from ``ref`` to ``src`` over ``mask``."""
    a = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)
    m = mask > 0.5
    if m.sum() < 20:
        return src
    for ch in range(3):
        ma, sa = a[..., ch][m].mean(), a[..., ch][m].std() + 1e-3
        mb, sb = b[..., ch][m].mean(), b[..., ch][m].std() + 1e-3
        a[..., ch] = (a[..., ch] - ma) * min(2.0, sb / sa) + mb
    return cv2.cvtColor(np.clip(a, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


# --------------------------------------------------------------------------------------
# the clip


def _write_clip(frames: list[np.ndarray], rate: Fraction, out_path: Path) -> None:
    import av

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.tmp.mp4")
    try:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            s = out.add_stream("libx264", rate=rate)
            s.width, s.height = frames[0].shape[1], frames[0].shape[0]
            s.pix_fmt = "yuv420p"
            s.options = {"crf": "20", "preset": "veryfast"}
            for img in frames:
                for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(pkt)
            for pkt in s.encode():
                out.mux(pkt)
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()


def make_wave_clip(
    face_video: Path,
    hand: Hand,
    out_path: Path,
    *,
    kind: str,
    motion: str = "sweep",
    seed: int = 0,
    start_s: float = 1.0,
    crossing_s: float = 1.2,
    alpha: float | None = None,
    max_s: float = 5.0,
    cache_dir: Path | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Write a clip of ``face_video`` with ``hand`` crossing the face, composited as ``kind``.

    Parameters
    ----------
    face_video : path
        A real face video; its first ``max_s`` seconds are used.
    hand : Hand
    out_path : path
        H.264 mp4 (yuv420p, crf 20, the source's frame rate), written under a
        temporary name and renamed.
    kind : str
        One of :data:`KINDS`.
    motion : str
        One of :data:`MOTIONS`, or for ``genuine`` one of :data:`EVERYDAY_MOTIONS` too.
    seed : int
        Start side, hand scale (0.8-1.3 face widths), rotation, mask growth,
        alpha, lag, dropout frames ... all follow from it.
    start_s, crossing_s : float
        When the hand enters, and how long one pass takes (``fast``: 0.5 s).
    alpha : float, optional
        Hand opacity inside the face for ``translucent`` (default: seeded in [0.25, 0.75]).
    cache_dir : path, optional
        Keeps the face landmarks of ``face_video`` between calls.
    write : bool
        Write the clip (False: only the returned record, e.g. to add the
        artifact measures to the record of a clip made before them; the
        compositing is deterministic, the encoder is not asked).

    Returns
    -------
    dict
        ``kind, motion, face_id, hand_id, seed, fps, n_frames, duration_s,
        motion_start_s, motion_end_s, crossing_start_s, crossing_end_s``
        (first and last frame with the hand over at least 5 % of the face
        oval), ``coverage`` (per frame share of the face oval under the hand),
        ``artifact`` (per frame share of the face oval where the clip differs
        from its genuine twin, the same hand on the same path in front of the
        face, by :data:`ARTIFACT_LEVEL` or more in any channel: how much of
        the swap's failure there is to see; 0 for ``genuine``),
        ``artifact_peak``, ``artifact_frames`` (frames with 2 % or more),
        ``artifact_sum`` (the shares summed: face-frames),
        ``alpha`` and the kind's own parameters.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
    if motion not in MOTIONS + EVERYDAY_MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; one of {MOTIONS + EVERYDAY_MOTIONS}")
    if motion in EVERYDAY_MOTIONS and kind != "genuine":
        raise ValueError(f"motion {motion!r} is for genuine clips only (an honest candidate's hand at the face)")
    face_video, out_path = Path(face_video), Path(out_path)
    # one stream of random numbers per clip, independent of the kind, so the kinds of one
    # (face, hand, motion, seed) share the hand's path and differ only in the compositing
    key = f"{face_video.stem}|{hand.id}|{motion}|{seed}"
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
    krng = np.random.default_rng(int.from_bytes(hashlib.sha256((key + "|" + kind).encode()).digest()[:8], "little"))

    frames, rate = read_frames(face_video, max_s)
    fps = float(rate)
    n = len(frames)
    H, W = frames[0].shape[:2]
    lms = _cached_landmarks(face_video, frames, fps, cache_dir)
    ovals = lms[:, FACE_OVAL]
    fws = ovals[:, :, 0].max(axis=1) - ovals[:, :, 0].min(axis=1)
    fw = float(np.median(fws))
    # the face centre, lightly smoothed: a hand follows the face, not its landmark jitter
    centres = ovals.mean(axis=1)
    kernel = np.ones(5) / 5
    pad = np.pad(centres, ((2, 2), (0, 0)), mode="edge")
    centres = np.stack([np.convolve(pad[:, j], kernel, mode="valid") for j in range(2)], axis=1)
    t = np.arange(n) / fps

    # hand: premultiplied float RGB and a soft alpha; scale to 0.8-1.3 face widths
    rgba = hand.rgba.astype(np.float32) / 255.0
    ha = cv2.GaussianBlur(rgba[..., 3], (0, 0), 0.8)
    hrgb = rgba[..., :3]
    width_faces = rng.uniform(0.8, 1.3)
    scale = width_faces * fw / hand.rgba.shape[1]
    # very tall cut-outs are limited to 1.6 face widths high
    scale = min(scale, 1.6 * fw / hand.rgba.shape[0])
    hand_wh = (hand.rgba.shape[1] * scale, hand.rgba.shape[0] * scale)
    path = _hand_path(motion, t, centres, fw, hand_wh, (W, H), rng, start_s, crossing_s)
    # mild colour match of the hand to the scene's light (strength seeded), optional shadow
    scene = np.mean([f.reshape(-1, 3).mean(axis=0) for f in frames[:: max(1, n // 10)]], axis=0) / 255.0
    hand_mean = (hrgb * ha[..., None]).reshape(-1, 3).sum(axis=0) / max(1e-6, ha.sum())
    cm = rng.uniform(0.0, 0.35)
    gains = (np.clip(scene / np.maximum(hand_mean, 1e-3), 0.6, 1.6)) ** cm
    hrgb = np.clip(hrgb * gains, 0, 1)
    hand_prem = (hrgb * ha[..., None]).astype(np.float32)
    shadow = bool(rng.random() < 0.5)
    shadow_shift = np.array([rng.uniform(-0.04, 0.04), rng.uniform(0.03, 0.07)]) * fw

    # per-kind parameters
    grow = krng.uniform(-0.04, 0.06)
    feather = krng.uniform(0.015, 0.035)
    meta_kind: dict[str, Any] = {"mask_grow": round(grow, 4), "mask_feather": round(feather, 4)}
    a_in = None
    if kind == "translucent":
        a_in = float(alpha) if alpha is not None else float(krng.uniform(0.25, 0.75))
        meta_kind["alpha"] = round(a_in, 4)
    lag = int(krng.integers(3, 7)) if kind == "mask_lag" else 0
    if lag:
        meta_kind["lag_frames"] = lag
    warp_amp = krng.uniform(0.02, 0.05) if kind == "warp" else 0.0
    if kind == "warp":
        meta_kind["warp_amplitude"] = round(warp_amp, 4)
    shake = (
        (krng.uniform(0.02, 0.06), krng.uniform(0.5, 3.0), krng.uniform(0.005, 0.03))
        if kind == "pasted_jitter"
        else None
    )
    if shake is not None:
        meta_kind.update(
            shake_shift=round(shake[0], 4), shake_turn_deg=round(shake[1], 3), shake_scale=round(shake[2], 4)
        )

    # geometry pass: hand layers and coverage for every frame (needed ahead for dropout and lag).
    # Everything is computed in a region of interest (face and hand, padded), not the whole frame.
    hh_px, hw_px = ha.shape
    corners = np.array([[0, 0], [hw_px, 0], [0, hh_px], [hw_px, hh_px]], np.float64)
    layers: list[_Layer | None] = []
    coverage = np.zeros(n)
    prev_c = None
    for i in range(n):
        c = path.centre[i]
        if np.isnan(c[0]):
            layers.append(None)
            prev_c = None
            continue
        M = cv2.getRotationMatrix2D((hw_px / 2.0, hh_px / 2.0), float(path.angle[i]), scale)
        M[:, 2] += c - [hw_px / 2.0, hh_px / 2.0]
        hc = corners @ M[:, :2].T + M[:, 2]
        pad_h = 20 + float(np.abs(shadow_shift).max()) + 0.15 * fws[i]
        pad_f = (0.15 + abs(grow) + 3 * feather) * fws[i] + 4
        fx0, fy0 = lms[i].min(axis=0) - pad_f
        fx1, fy1 = lms[i].max(axis=0) + pad_f
        x0 = int(max(0, min(hc[:, 0].min() - pad_h, fx0)))
        y0 = int(max(0, min(hc[:, 1].min() - pad_h, fy0)))
        x1 = int(min(W, max(hc[:, 0].max() + pad_h, fx1) + 1))
        y1 = int(min(H, max(hc[:, 1].max() + pad_h, fy1) + 1))
        if x1 - x0 < 2 or y1 - y0 < 2:
            layers.append(None)
            prev_c = None
            continue
        M[:, 2] -= [x0, y0]
        rw, rh = x1 - x0, y1 - y0
        rgb_i = cv2.warpAffine(hand_prem, M, (rw, rh), flags=cv2.INTER_LINEAR, borderValue=0)
        a_i = cv2.warpAffine(ha, M, (rw, rh), flags=cv2.INTER_LINEAR, borderValue=0)
        if prev_c is not None:
            rgb_i, a_i = _motion_blur(rgb_i, a_i, c - prev_c)
        prev_c = c
        if float(a_i.max()) <= 0.0:  # the hand's footprint lies outside the frame
            layers.append(None)
            continue
        layers.append(_Layer((x0, y0, x1, y1), rgb_i, a_i))
        oval = _poly_mask((rh, rw), ovals[i] - [x0, y0])
        if oval.any():
            coverage[i] = float((a_i[oval] > 0.5).mean())
    over = np.flatnonzero(coverage >= 0.05)
    cross0 = float(t[over[0]]) if over.size else path.t0
    cross1 = float(t[over[-1]]) if over.size else path.t1

    drop_frames: list[int] = []
    donor_name = None
    if kind == "dropout":
        cand = np.flatnonzero(coverage >= 0.1)
        if cand.size == 0:
            cand = np.flatnonzero(coverage > 0)
        if cand.size:
            k = int(krng.integers(2, 7))
            s0 = int(cand[int(krng.integers(0, cand.size))])
            drop_frames = [i for i in range(s0, min(n, s0 + k)) if layers[i] is not None]
            donor_name, donor_img, donor_lm = _donor(face_video, krng)
            meta_kind["donor"] = donor_name
        meta_kind["dropout_frames"] = drop_frames

    out_frames: list[np.ndarray] = []
    field_prev = None
    walk = np.zeros(4)  # the redrawn face's shake: shift x, y (face widths), turn (deg), scale (share)
    artifact = np.zeros(n)
    for i in range(n):
        lay = layers[i]
        if lay is None:
            out_frames.append(frames[i])
            field_prev = None
            continue
        x0, y0, x1, y1 = lay.roi
        rh, rw = y1 - y0, x1 - x0
        origin = np.array([x0, y0], np.float64)
        clean_u8 = frames[i][y0:y1, x0:x1]
        clean = clean_u8.astype(np.float32) / 255.0
        lm = lms[i] - origin
        fw_i = float(fws[i])
        m = _soft_face_mask((rh, rw), lm, grow, feather, fw_i)[..., None]
        rgb_i, a_i = lay.rgb, lay.a
        # the scene behind the hand (with the hand's shadow, for a real hand)
        scene_i = clean
        if shadow:
            sh = cv2.GaussianBlur(a_i, (0, 0), max(1.0, 0.04 * fw_i))
            Ms = np.float32([[1, 0, shadow_shift[0]], [0, 1, shadow_shift[1]]])
            sh = cv2.warpAffine(sh, Ms, (rw, rh), borderValue=0)
            scene_i = clean * (1.0 - 0.18 * sh[..., None])
        a3 = a_i[..., None]
        if kind == "genuine":
            res = scene_i * (1 - a3) + rgb_i
        elif kind == "pasted":
            comp = scene_i * (1 - a3) + rgb_i
            res = comp * (1 - m) + clean * m
        elif kind == "translucent":
            assert a_in is not None
            a_eff = a3 * (1 - m * (1 - a_in))
            base = scene_i * (1 - m) + clean * m
            res = base * (1 - a_eff) + rgb_i * (a_eff / np.maximum(a3, 1e-6))
        elif kind == "mask_lag":
            j = i - lag
            old = layers[j] if j >= 0 else None
            a_old = _in_roi(old, lay.roi)
            a_vis = a3 * (1 - m) + np.minimum(a3, a_old[..., None]) * m
            base = scene_i * (1 - m) + clean * m
            res = base * (1 - a_vis) + rgb_i * (a_vis / np.maximum(a3, 1e-6))
        elif kind == "dropout":
            face = clean
            if i in drop_frames:
                src = donor_lm[_ALIGN].astype(np.float32)
                dst = lm[_ALIGN].astype(np.float32)
                A, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
                if A is not None:
                    warped = cv2.warpAffine(
                        donor_img, A, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
                    )
                    md = _soft_face_mask((rh, rw), lm, -0.03, 0.03, fw_i)
                    warped = _colour_match(warped, clean_u8, md)
                    face = clean * (1 - md[..., None]) + (warped.astype(np.float32) / 255.0) * md[..., None]
            base = scene_i * (1 - m) + face * m
            res = base * (1 - a3) + rgb_i
        elif kind == "warp":
            face = clean
            prox = _nearness(path.centre[i], centres[i], fw_i)
            if prox > 0:
                bx0, by0 = np.floor(lm.min(axis=0) - 0.15 * fw_i).astype(int)
                bx1, by1 = np.ceil(lm.max(axis=0) + 0.15 * fw_i).astype(int)
                bx0, by0, bx1, by1 = max(0, bx0), max(0, by0), min(rw, bx1), min(rh, by1)
                g = krng.normal(0.0, 1.0, (2, 5, 5)).astype(np.float32)
                field_prev = g if field_prev is None else 0.5 * field_prev + 0.5 * g
                amp = warp_amp * fw_i * prox
                if bx1 - bx0 > 4 and by1 - by0 > 4:
                    dx = cv2.resize(field_prev[0], (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_CUBIC) * amp
                    dy = cv2.resize(field_prev[1], (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_CUBIC) * amp
                    gy, gx = np.mgrid[by0:by1, bx0:bx1].astype(np.float32)
                    face = clean.copy()
                    face[by0:by1, bx0:bx1] = cv2.remap(
                        clean, gx + dx, gy + dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
                    )
            else:
                field_prev = None
            base = scene_i * (1 - m) + face * m
            res = base * (1 - a3) + rgb_i
        elif kind == "pasted_jitter":
            assert shake is not None
            comp = scene_i * (1 - a3) + rgb_i
            prox = _nearness(path.centre[i], centres[i], fw_i)
            walk = 0.6 * walk + 0.4 * krng.normal(0.0, 1.0, 4)
            amp = prox * np.array([shake[0] * fw_i, shake[0] * fw_i, shake[1], shake[2]])
            sx, sy, turn, sc = walk * amp
            c = (centres[i] - origin).astype(np.float64)
            A = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), float(turn), 1.0 + float(sc))
            A[:, 2] += [sx, sy]
            face_j = cv2.warpAffine(clean, A, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            m_j = cv2.warpAffine(m[..., 0], A, (rw, rh), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
            res = comp * (1 - m_j) + face_j * m_j
        else:  # pragma: no cover - checked above
            raise AssertionError(kind)
        if kind != "genuine":  # how far this frame is from its genuine twin over the face
            twin = scene_i * (1 - a3) + rgb_i
            oval = _poly_mask((rh, rw), ovals[i] - [x0, y0])
            if oval.any():
                artifact[i] = float((np.abs(res - twin).max(axis=2)[oval] >= ARTIFACT_LEVEL).mean())
        out = frames[i].copy()
        out[y0:y1, x0:x1] = np.clip(res * 255.0 + 0.5, 0, 255).astype(np.uint8)
        out_frames.append(out)

    if write:
        _write_clip(out_frames, rate, out_path)
    meta: dict[str, Any] = {
        "kind": kind,
        "motion": motion,
        "face_id": face_video.stem,
        "hand_id": hand.id,
        "hand_source": hand.source,
        "seed": seed,
        "fps": fps,
        "n_frames": n,
        "duration_s": round(n / fps, 4),
        "frame_size": [W, H],
        "face_width_px": round(fw, 2),
        "hand_width_faces": round(float(width_faces), 3),
        "shadow": shadow,
        "motion_start_s": round(path.t0, 4),
        "motion_end_s": round(min(path.t1, n / fps), 4),
        "crossing_start_s": round(cross0, 4),
        "crossing_end_s": round(cross1, 4),
        "coverage": [round(float(c), 4) for c in coverage],
        "artifact": [round(float(c), 4) for c in artifact],
        "artifact_peak": round(float(artifact.max()), 4),
        "artifact_frames": int(np.count_nonzero(artifact >= 0.02)),
        "artifact_sum": round(float(artifact.sum()), 3),
        "alpha": meta_kind.get("alpha"),
        **meta_kind,
    }
    return meta
