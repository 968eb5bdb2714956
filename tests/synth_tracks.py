"""Synthetic face and hand tracks for analyzer tests (no video, no MediaPipe).

The face is a fixed, slightly noisy set of 478 points with an elliptic outline
at the MediaPipe face-oval indices; a square "hand" of 21 points sweeps across
it. ``swap_failure=True`` hides the hand whenever it is over the face (what
the hand landmarker sees when a swap paints its face over the hand) and
keeps the face crop unchanged there; otherwise the crop darkens where the
hand covers the face.
"""

from __future__ import annotations

import numpy as np

from interview_guard.signals.face_geometry import FACE_OVAL
from interview_guard.tracks.video import FaceTrack, HandTrack


class Pixels:
    def __init__(self, t_s, face_crop):
        self.t_s = t_s
        self.face_crop = face_crop


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


def make_tracks(*, seconds=10.0, fps=15.0, sweep=(4.0, 5.2), swap_failure=False, seed=0):
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
    for i, ti in enumerate(t):
        if not (a <= ti <= b):
            continue
        u = (ti - a) / (b - a)
        cx = 0.25 + 0.5 * u  # left to right across the face (centre 0.5)
        over_face = abs(cx - 0.5) < 0.12
        if swap_failure and over_face:
            continue  # the hand is painted over: not detected, face crop unchanged
        pts = np.stack([cx + rng.uniform(-0.06, 0.06, 21), 0.45 + rng.uniform(-0.1, 0.1, 21), np.zeros(21)], axis=1)
        hand_lm[i, 0] = pts
        count[i] = 1
        if over_face:
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
    return face, hands, Pixels(t, np.clip(crops, 0, 255).astype(np.uint8))
