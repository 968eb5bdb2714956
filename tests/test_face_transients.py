"""Flash (dropout) and warp measures of the face zone on synthetic crossings."""

from __future__ import annotations

import numpy as np
import pytest

from interview_guard.signals.face_transients import block_flow_incoherence, transient_measures
from interview_guard.signals.hand_crossing import ZoneFrames, oval_mask

SIDE = 64
N = 60
FPS = 15.0
START, END = 20, 36  # rows of the crossing
FLASH = (26, 30)  # rows where another face shows through
BOX = np.array([0.3, 0.2, 0.7, 0.7], np.float32)


def _texture(rng: np.random.Generator, smooth: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    x = gaussian_filter(rng.normal(0.0, 1.0, (SIDE, SIDE)), smooth)
    return x / (x.std() + 1e-9)


def _oval_pts(k: int = 36) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, k, endpoint=False)
    return np.stack([0.5 + 0.3 * np.cos(a), 0.5 + 0.36 * np.sin(a)], axis=1)


def _warp(img: np.ndarray, rng: np.random.Generator, amp_px: float) -> np.ndarray:
    """``img`` resampled through a smooth random displacement field of about ``amp_px`` pixels."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    dy = gaussian_filter(rng.normal(0.0, 1.0, (SIDE, SIDE)), 6)
    dx = gaussian_filter(rng.normal(0.0, 1.0, (SIDE, SIDE)), 6)
    dy *= amp_px / (np.abs(dy).max() + 1e-9)
    dx *= amp_px / (np.abs(dx).max() + 1e-9)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    out: np.ndarray = map_coordinates(img, [yy + dy, xx + dx], order=1, mode="nearest")
    return out


def _frames(mode: str, seed: int = 0) -> ZoneFrames:
    """A textured face in its oval with a bright textured hand block sweeping across it during the crossing."""
    rng = np.random.default_rng(seed)
    oval = _oval_pts()
    face = oval_mask(oval=oval, side=SIDE)
    bg = 90.0 + 8.0 * _texture(rng, 8)
    face_tex = 120.0 + 28.0 * _texture(rng, 1.5)
    other_tex = 120.0 + 28.0 * _texture(rng, 1.5)
    hand_tex = 200.0 + 12.0 * _texture(rng, 2.0)
    t = np.arange(N) / FPS
    crop = np.zeros((N, SIDE, SIDE), np.uint8)
    hand_lm = np.full((N, 2, 21, 3), np.nan)
    count = np.zeros(N, np.int64)
    held = np.zeros(N, bool)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    for r in range(N):
        # speech: the mouth region changes a little every frame
        ftex = face_tex.copy()
        mouth = (np.abs(yy - 46) < 4) & (np.abs(xx - 32) < 8)
        ftex[mouth] += 10.0 * np.sin(r * 1.3)
        if mode == "warp" and START - 3 <= r <= END + 3:
            ftex = _warp(ftex, rng, 1.5)
        if mode == "flash" and FLASH[0] <= r < FLASH[1]:
            ftex = other_tex
        img = np.where(face, ftex, bg)
        if START - 2 <= r <= END + 2:
            # hand: a 22x26 block moving left to right across the lower-left of the face
            frac = (r - (START - 2)) / (END - START + 4)
            x0 = int(-10 + frac * 60)
            y0 = 30
            hx = (xx >= x0) & (xx < x0 + 22) & (yy >= y0) & (yy < y0 + 26)
            img = np.where(hx, hand_tex, img)
            # landmarks: 21 points spread over the block, in frame coordinates
            px = rng.uniform(x0 + 1, x0 + 21, 21) / SIDE
            py = rng.uniform(y0 + 1, y0 + 25, 21) / SIDE
            px[:4] = np.array([x0 + 1, x0 + 21, x0 + 1, x0 + 21]) / SIDE
            py[:4] = np.array([y0 + 1, y0 + 1, y0 + 25, y0 + 25]) / SIDE
            fx = BOX[0] + px * (BOX[2] - BOX[0])
            fy = BOX[1] + py * (BOX[3] - BOX[1])
            hand_lm[r, 0, :, 0], hand_lm[r, 0, :, 1], hand_lm[r, 0, :, 2] = fx, fy, 0.0
            count[r] = 1
            held[r] = True
        img = img + rng.normal(0.0, 1.5, img.shape)
        crop[r] = np.clip(img, 0, 255).astype(np.uint8)
    return ZoneFrames(
        t_s=t,
        crop=crop,
        box=np.tile(BOX, (N, 1)),
        oval=np.tile(oval.astype(np.float32), (N, 1, 1)),
        held=held,
        hand_landmarks=hand_lm,
        hand_count=count,
    )


def _measure(mode: str, seed: int = 0) -> dict:
    return transient_measures(frames=_frames(mode, seed), start_s=START / FPS, end_s=END / FPS)


@pytest.mark.parametrize("seed", [0, 1])
def test_genuine_crossing_fires_neither(seed: int) -> None:
    m = _measure("genuine", seed)
    assert m["ok"], m
    assert m["flash_z"] is not None and m["warp_z"] is not None
    assert m["flash_z"] < 6.0
    assert m["warp_z"] < 2.0


def test_flash_fires_on_a_face_flash_only() -> None:
    m = _measure("flash")
    assert m["ok"], m
    assert m["flash_z"] is not None and m["flash_z"] > 10.0
    # located at the flash (a run of 2-6 frames starting at or next to it)
    assert abs(m["flash_at_s"] - FLASH[0] / FPS) <= 2.5 / FPS
    g = _measure("genuine")
    assert m["flash_z"] > 3 * max(g["flash_z"], 1.0)


def test_warp_fires_on_a_warped_face() -> None:
    m = _measure("warp")
    assert m["ok"], m
    assert m["warp_z"] is not None and m["warp_z"] > 3.0
    g = _measure("genuine")
    assert m["warp_z"] > g["warp_z"] + 2.0


def test_block_flow_incoherence_rigid_vs_warped() -> None:
    rng = np.random.default_rng(3)
    from scipy.ndimage import gaussian_filter, shift

    img = gaussian_filter(120.0 + 30.0 * _texture(rng, 1.5), 1.0)
    mask = np.zeros((SIDE, SIDE), bool)
    mask[8:56, 8:56] = True
    rigid = block_flow_incoherence(prev=img, cur=shift(img, (0.6, -0.8), order=1, mode="nearest"), mask=mask)
    warped = block_flow_incoherence(prev=img, cur=_warp(img, rng, 1.5), mask=mask)
    assert rigid < 0.15
    assert warped > 2 * rigid + 0.1
    assert np.isnan(block_flow_incoherence(prev=img, cur=img, mask=np.zeros((SIDE, SIDE), bool)))


def test_not_enough_null_frames() -> None:
    f = _frames("genuine")
    f.hand_count[:] = 1
    m = transient_measures(frames=f, start_s=START / FPS, end_s=END / FPS)
    assert not m["ok"] and m["flash_z"] is None and m["warp_z"] is None
