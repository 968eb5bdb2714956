"""Synthetic face and hand tracks for analyzer tests (no video, no MediaPipe).

The face is a fixed, slightly noisy set of 478 points with an elliptic outline
at the MediaPipe face-oval indices; a square "hand" of 21 points sweeps across
it. ``swap_failure=True`` hides the hand whenever it is over the face (what
the hand landmarker sees when a swap paints its face over the hand) and
keeps the face crop unchanged there; otherwise the crop darkens where the
hand covers the face.

The returned PixelTrack also has the anchored face zone (64x64) rendered: a
textured face in its outline on a smooth background, and the hand as a
bright, differently textured block moving across it. ``mode`` says how the
face zone shows the hand over the face: ``"genuine"`` (opaque hand),
``"pasted"`` (the face drawn over the hand inside the outline),
``"translucent"`` (the hand at ``alpha`` over the face inside the outline) or
``"flash"`` (opaque hand, and another face inside the outline for 4 frames
while the hand is over it). ``swap_failure=True`` means ``"pasted"``. An
opaque hand over the face also bends the face mesh (as the face landmarker's
does on real faces); a pasted or translucent one leaves it whole.
"""

from __future__ import annotations

import numpy as np

from interview_guard.signals.face_geometry import FACE_OVAL
from interview_guard.signals.hand_crossing import oval_mask
from interview_guard.tracks.video import FaceTrack, HandTrack, PixelTrack

ZONE_BOX = np.array([0.5 - 0.192, 0.45 - 0.256, 0.5 + 0.192, 0.45 + 0.256], np.float32)


def _texture(rng, side, smooth):
    from scipy.ndimage import gaussian_filter

    x = gaussian_filter(rng.normal(0, 1, (side, side)), smooth)
    return x / (x.std() + 1e-9)


def _zone_frames(t, oval_frame, hand_x, over, *, mode, alpha, rng):
    """Zone crops (n, 64, 64) of the rendered scene; hand_x: hand centre (frame x) per row, NaN where none."""
    z = PixelTrack.ZONE
    bx0, by0, bx1, by1 = ZONE_BOX
    oval = (oval_frame - (bx0, by0)) / (bx1 - bx0, by1 - by0)
    face = oval_mask(oval=oval, side=z)
    yy, xx = np.mgrid[0:z, 0:z]
    background = 120 + 20 * (xx / z) + 3 * _texture(rng, z, 3)
    face_tex = 150 + 28 * _texture(rng, z, 1.2)
    other_face = 110 + 28 * _texture(rng, z, 1.2)
    hand_tex = 200 + 12 * _texture(rng, z, 1.0)
    base = np.where(face, face_tex, background)
    crops = np.empty((t.size, z, z), np.float64)
    flash_rows = set(np.flatnonzero(over)[1:5].tolist()) if mode == "flash" else set()
    for i in range(t.size):
        img = base.copy()
        if i in flash_rows:
            img = np.where(face, other_face, img)
        if np.isfinite(hand_x[i]):
            hx = (hand_x[i] - bx0) / (bx1 - bx0) * z
            hy0, hy1 = (0.35 - by0) / (by1 - by0) * z, (0.55 - by0) / (by1 - by0) * z
            hand = (np.abs(xx + 0.5 - hx) <= 0.06 / (bx1 - bx0) * z) & (yy >= hy0) & (yy <= hy1)
            if mode == "pasted":
                img[hand & ~face] = hand_tex[hand & ~face]
            elif mode == "translucent":
                img[hand & ~face] = hand_tex[hand & ~face]
                inside = hand & face
                img[inside] = alpha * hand_tex[inside] + (1 - alpha) * img[inside]
            else:
                img[hand] = hand_tex[hand]
        crops[i] = img + rng.normal(0, 1.5, (z, z))
    return np.clip(crops, 0, 255).astype(np.uint8), oval


def face_template(rng) -> np.ndarray:
    lm = np.empty((478, 3), np.float32)
    lm[:, 0] = 0.5 + rng.uniform(-0.09, 0.09, 478)
    lm[:, 1] = 0.45 + rng.uniform(-0.12, 0.12, 478)
    lm[:, 2] = 0.0
    ang = np.linspace(-np.pi / 2, 1.5 * np.pi, FACE_OVAL.size, endpoint=False)
    lm[FACE_OVAL, 0] = 0.5 + 0.12 * np.cos(ang)
    lm[FACE_OVAL, 1] = 0.45 + 0.16 * np.sin(ang)
    lm[33, :2], lm[263, :2] = (0.45, 0.40), (0.55, 0.40)
    return lm


def make_tracks(
    *, seconds=10.0, fps=15.0, sweep=(4.0, 5.2), swap_failure=False, seed=0, mode=None, alpha=0.5, lose_hand=None
):
    """Face, hand and pixel tracks of a hand sweeping across a face (see the module docstring).

    ``lose_hand``: the hand landmarker loses the hand over the face (default: when the face is painted over it).
    """
    mode = mode or ("pasted" if swap_failure else "genuine")
    lose_hand = (mode == "pasted") if lose_hand is None else lose_hand
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, seconds, 1.0 / fps)
    n = t.size
    base = face_template(rng)
    face_lm = base[None] + rng.normal(0, 0.0008, (n, 478, 3)).astype(np.float32)
    hand_lm = np.full((n, 2, 21, 3), np.nan, np.float32)
    count = np.zeros(n, np.int8)
    crops = np.tile(rng.integers(90, 170, (1, 32, 32)).astype(np.float32), (n, 1, 1))
    crops += rng.normal(0, 3, crops.shape)
    a, b = sweep
    hand_x = np.full(n, np.nan)
    over = np.zeros(n, bool)
    layout = np.random.default_rng(seed + 7).uniform((-0.06, -0.1), (0.06, 0.1), (21, 2))
    for i, ti in enumerate(t):
        if not (a <= ti <= b):
            continue
        u = (ti - a) / (b - a)
        cx = 0.25 + 0.5 * u  # left to right across the face (centre 0.5)
        over_face = abs(cx - 0.5) < 0.12
        hand_x[i], over[i] = cx, over_face
        if over_face and mode in ("genuine", "flash"):
            # a real hand in front bends the face landmarker's mesh (docs/face-occlusion.md, round 6): points
            # near the hand are pushed away from it and the face is fitted taller, as measured on real faces
            dx = face_lm[i, :, 0] - cx
            face_lm[i, :, 0] += 0.02 * np.sign(dx) * np.exp(-((dx / 0.06) ** 2))
            face_lm[i, :, 1] = 0.45 + 1.08 * (face_lm[i, :, 1] - 0.45)
        if lose_hand and over_face:
            continue  # the hand is painted over: not detected, face crop unchanged
        # one hand's layout, jittered a little frame to frame as a landmarker's points are (the draws as before,
        # so the rest of the scene is the same; round 25's finger lengths need a hand that keeps its shape)
        jitter = np.stack([rng.uniform(-0.06, 0.06, 21), rng.uniform(-0.1, 0.1, 21)], axis=1)
        xy = layout + 0.05 * jitter
        pts = np.stack([cx + xy[:, 0], 0.45 + xy[:, 1], np.zeros(21)], axis=1)
        hand_lm[i, 0] = pts
        count[i] = 1
        if over_face and mode != "pasted":
            col = int(np.clip((cx - 0.38) / 0.24 * 32, 0, 31))
            crops[i, :, max(col - 10, 0) : col + 10] = 40.0  # a hand in front changes the face region
    box = np.tile(np.array([0.38, 0.29, 0.62, 0.61], np.float32), (n, 1))
    face = FaceTrack(
        t_s=t,
        frame_index=np.arange(n),
        present=np.ones(n, bool),
        landmarks=face_lm,
        blendshapes=np.zeros((n, 52), np.float32),
        box=box,
        n_faces=np.ones(n, np.int8),
        source=np.ones(n, np.int8),
        frame_size=(640, 480),
    )
    hands = HandTrack(
        t_s=t,
        frame_index=np.arange(n),
        count=count,
        landmarks=hand_lm,
        handedness=np.zeros((n, 2), np.int8),
        score=np.where(np.isfinite(hand_lm[:, :, 0, 0]), 0.9, 0.0).astype(np.float32),
        frame_size=(640, 480),
    )
    zone, oval = _zone_frames(t, base[FACE_OVAL, :2], hand_x, over, mode=mode, alpha=alpha, rng=rng)
    nan = np.full(n, np.nan, np.float32)
    pixels = PixelTrack(
        t_s=t,
        ring_motion=nan,
        inner_motion=nan,
        bg_motion=nan,
        face_texture=nan,
        face_luma=nan,
        hand_inside_luma_delta=nan,
        work_size=(640, 480),
        face_crop=np.clip(crops, 0, 255).astype(np.uint8),
        zone_crop=zone,
        zone_box=np.tile(ZONE_BOX, (n, 1)),
        zone_oval=np.tile(oval.astype(np.float32), (n, 1, 1)),
        zone_held=np.isfinite(hand_x),
    )
    return face, hands, pixels


def make_identity(*, seconds=8.0, fps=2.0, switch_at=None, flash_at=None, seed=0, spread=0.03):
    """An IdentityTrack of one person (or two, switching at ``switch_at`` s; or a one-frame-pair flash).

    Descriptors are a random unit-ish 128-d identity plus per-coordinate noise ``spread`` (distance to the
    person's centre about ``spread * sqrt(128)``, 0.34 at the default: like real frames of one clip); two
    random identities lie about 1.0 apart (different people: 0.84 on real faces).
    """
    from interview_guard.tracks.identity import IdentityTrack

    rng = np.random.default_rng(seed)
    t = np.arange(0.0, seconds, 1.0 / fps)
    n = t.size
    a = rng.normal(0, 1, 128) * 0.0625
    b = rng.normal(0, 1, 128) * 0.0625
    centre = np.tile(a, (n, 1))
    if switch_at is not None:
        centre[t >= switch_at] = b
    if flash_at is not None:
        k = int(np.searchsorted(t, flash_at))
        centre[k : k + 2] = b
    desc = centre + rng.normal(0, spread, (n, 128))
    return IdentityTrack(
        t_s=t,
        frame_index=np.round(t * 30).astype(np.int64),
        face=np.zeros(n, np.int8),
        box=np.tile(np.array([0.4, 0.3, 0.6, 0.6], np.float32), (n, 1)),
        descriptor=desc.astype(np.float32),
        quality=np.full(n, 0.9, np.float32),
        dense=np.zeros(n, bool),
    )
