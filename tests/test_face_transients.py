"""Flash (dropout) and warp measures of the face zone on synthetic crossings."""

from __future__ import annotations

import numpy as np
import pytest

from interview_guard.signals.crossing_verdicts import NEVER_COVERED_CAP, pixel_verdicts
from interview_guard.signals.face_transients import block_flow_incoherence, layout_agreement, transient_measures
from interview_guard.signals.hand_crossing import ZoneFrames, forearm_quad, hand_mask, oval_mask

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


def _layout() -> np.ndarray:
    """A face's layout: dark brows, eyes, nostrils and mouth as smooth blobs where a face has them."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    out = np.zeros((SIDE, SIDE))
    for cy, cx, sy, sx, depth in ((19, 22, 1.5, 5, 35), (19, 42, 1.5, 5, 35), (25, 22, 2.5, 4, 60),
                                  (25, 42, 2.5, 4, 60), (36, 29, 1.5, 2, 40), (36, 35, 1.5, 2, 40),
                                  (46, 32, 2.5, 7, 50)):  # fmt: skip
        out -= depth * np.exp(-0.5 * (((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2))
    return out


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    out: np.ndarray = gaussian_filter(x, sigma)
    return out


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


def _frames(mode: str, seed: int = 0, *, tracked: bool = True) -> ZoneFrames:
    """A textured face in its oval with a bright textured hand block sweeping across it during the crossing.

    ``mode``: ``genuine``, ``warp``, ``flash`` (another texture in ``FLASH``), ``flash_layout`` (another face's
    detail on this face's layout in ``FLASH``), ``fast_hand`` (genuine, and a second hand over most of the face in
    ``FLASH`` only), ``forearm`` (genuine, the hand higher and its forearm across the lower face);
    ``tracked=False``: the hand landmarker loses the hands in the crossing's frames.
    """
    rng = np.random.default_rng(seed)
    oval = _oval_pts()
    face = oval_mask(oval=oval, side=SIDE)
    bg = 90.0 + 8.0 * _texture(rng, 8)
    face_tex = 120.0 + 28.0 * _texture(rng, 1.5) + _layout()
    other_tex = 120.0 + 28.0 * _texture(rng, 1.5) + _layout()
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
        if mode == "flash_layout" and FLASH[0] <= r < FLASH[1]:
            # the same eyes, nose and mouth where the landmarks put them, another person's detail
            ftex = _smooth(face_tex, 3.0) + other_tex - _smooth(other_tex, 3.0)
        img = np.where(face, ftex, bg)
        if mode == "fast_hand" and FLASH[0] <= r < FLASH[1]:
            img = np.where((xx >= 14) & (xx < 50) & (yy >= 10) & (yy < 50), hand_tex, img)
        if START - 2 <= r <= END + 2:
            # hand: a 22x26 block moving left to right across the lower-left of the face (``forearm``: across the
            # eyes, its forearm, 12 px wide, from the wrist down out of the zone, over the mouth and chin)
            frac = (r - (START - 2)) / (END - START + 4)
            x0 = int(-10 + frac * 60)
            y0 = 6 if mode == "forearm" else 30
            hx = (xx >= x0) & (xx < x0 + 22) & (yy >= y0) & (yy < y0 + 26)
            if mode == "forearm":
                hx |= (xx >= x0 + 5) & (xx < x0 + 17) & (yy >= y0 + 26)
            img = np.where(hx, hand_tex, img)
            # landmarks: 21 points spread over the block, in frame coordinates; the wrist (0) at the bottom of the
            # palm, the knuckles (5, 9, 17) at its top, as a hand raised with its fingers up
            px = rng.uniform(x0 + 1, x0 + 21, 21) / SIDE
            py = rng.uniform(y0 + 1, y0 + 25, 21) / SIDE
            px[:4] = np.array([x0 + 1, x0 + 21, x0 + 1, x0 + 21]) / SIDE
            py[:4] = np.array([y0 + 1, y0 + 1, y0 + 25, y0 + 25]) / SIDE
            px[[0, 5, 9, 17]] = np.array([x0 + 11, x0 + 3, x0 + 11, x0 + 19]) / SIDE
            py[[0, 5, 9, 17]] = np.array([y0 + 25, y0 + 8, y0 + 8, y0 + 8]) / SIDE
            fx = BOX[0] + px * (BOX[2] - BOX[0])
            fy = BOX[1] + py * (BOX[3] - BOX[1])
            if tracked or not START <= r <= END:
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


def _measure(mode: str, seed: int = 0, *, tracked: bool = True, **kw: float) -> dict:
    return transient_measures(frames=_frames(mode, seed, tracked=tracked), start_s=START / FPS, end_s=END / FPS, **kw)


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
    assert not m["flash_hand_lost"] and "flash_layout" not in m
    g = _measure("genuine")
    assert m["flash_z"] > 3 * max(g["flash_z"], 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_flash_is_found_while_the_hand_landmarker_has_lost_the_hand(seed: int) -> None:
    # another face on the same layout shows around a hand the landmarker lost: a dropout comes with lost hands
    m = _measure("flash_layout", seed, tracked=False)
    assert m["ok"], m
    assert m["flash_z"] is not None and m["flash_z"] > 10.0, m
    assert m["flash_hand_lost"] and m["flash_layout"] >= 0.8, m  # the report says how it was judged
    assert abs(m["flash_at_s"] - FLASH[0] / FPS) <= 2.5 / FPS
    g = _measure("genuine", seed, tracked=False)
    assert g["flash_z"] is None or g["flash_z"] < 6.0, g


def _lose_hand(frames: ZoneFrames, rows: list[int]) -> ZoneFrames:
    """``frames`` with the hand landmarker's hand taken out of ``rows`` (it lost the hand there)."""
    for r in rows:
        frames.hand_landmarks[r] = np.nan
        frames.hand_count[r] = 0
    return frames


@pytest.mark.parametrize("seed", [1, 2])
def test_reach_flash_bridges_the_frames_whose_hand_was_lost(seed: int) -> None:
    # another face for four frames while the hand is tracked, but lost in the frame just before and just after:
    # the bracket-based flash must measure those frames on the whole face and the layout check turns the run
    # down; bracketing each pixel by the nearest frames in which it was seen (and the hand tracked) finds it
    lost = [FLASH[0] - 1, FLASH[1]]
    m = transient_measures(frames=_lose_hand(_frames("flash", seed), lost), start_s=START / FPS, end_s=END / FPS)
    assert m["ok"], m
    assert m["flash_z"] is not None and m["flash_z"] < 6.0, m  # what round 12 measured
    assert m["flash_reach_z"] is not None and m["flash_reach_z"] > 20.0, m
    assert abs(m["flash_reach_at_s"] - FLASH[0] / FPS) <= 2.5 / FPS
    g = transient_measures(frames=_lose_hand(_frames("genuine", seed), lost), start_s=START / FPS, end_s=END / FPS)
    assert g["flash_reach_z"] is not None and g["flash_reach_z"] < 6.0, g
    # with every frame tracked both measures find it
    both = _measure("flash", seed)
    assert both["flash_z"] > 20.0 and both["flash_reach_z"] > 20.0


@pytest.mark.parametrize("seed", [0, 1])
def test_an_untracked_hand_over_the_face_is_no_flash(seed: int) -> None:
    # a second hand over most of the face for four frames only, the hands lost: it breaks the face's layout
    m = _measure("fast_hand", seed, tracked=False)
    assert m["flash_z"] is None or m["flash_z"] < 6.0, m
    # the reach flash measures no frame whose hand was lost
    assert m["flash_reach_z"] is None or m["flash_reach_z"] < 6.0, m
    # without the layout check the same run reads as a flash (what the check is there for)
    loose = _measure("fast_hand", seed, tracked=False, layout_min=-1.0)
    assert loose["flash_z"] is not None and loose["flash_z"] > 10.0, loose


@pytest.mark.parametrize("seed", [0, 1])
def test_the_forearm_behind_a_tracked_hand_is_no_flash(seed: int) -> None:
    # the hand landmarker puts points on the hand only; its forearm sweeps over the mouth and chin for a few
    # frames each and must not read as another face (a genuine fast sweep did, round 10)
    m = _measure("forearm", seed)
    assert m["ok"], m
    assert m["flash_z"] is not None and m["flash_z"] < 6.0, m
    g = _measure("genuine", seed)
    assert g["flash_z"] < 6.0


def test_hand_mask_takes_the_forearm_behind_the_wrist() -> None:
    fr = _frames("forearm")
    r = (START + END) // 2
    with_arm = hand_mask(hand_landmarks=fr.hand_landmarks[r], box=fr.box[r], side=SIDE)
    hand_only = hand_mask(hand_landmarks=fr.hand_landmarks[r], box=fr.box[r], side=SIDE, forearm=False)
    assert (hand_only & ~with_arm).sum() == 0
    # the forearm: below the wrist (row 31 of the zone), across the face's lower half, to the zone's edge
    extra = with_arm & ~hand_only
    ys, xs = np.nonzero(extra)
    assert ys.min() >= 30 and ys.max() == SIDE - 1, (ys.min(), ys.max())
    wrist_x = fr.hand_landmarks[r, 0, 0, 0]
    assert abs(float(np.median(xs)) / SIDE - (wrist_x - BOX[0]) / (BOX[2] - BOX[0])) < 0.05
    assert forearm_quad(np.full((21, 3), np.nan)) is None


def test_layout_agreement_same_layout_vs_hand() -> None:
    rng = np.random.default_rng(5)
    face = 120.0 + 28.0 * _texture(rng, 1.5)
    other = 120.0 + 28.0 * _texture(rng, 1.5)
    same_layout = _smooth(face, 3.0) + other - _smooth(other, 3.0)
    hand = face.copy()
    hand[10:50, 14:50] = 200.0 + 12.0 * _texture(rng, 2.0)[10:50, 14:50]
    mask = oval_mask(oval=_oval_pts(), side=SIDE)
    assert layout_agreement(run_face=same_layout, brackets=face, mask=mask, sigma_px=3.0) > 0.8
    assert layout_agreement(run_face=other, brackets=face, mask=mask, sigma_px=3.0) < 0.5
    assert layout_agreement(run_face=hand, brackets=face, mask=mask, sigma_px=3.0) < 0.5
    assert np.isnan(layout_agreement(run_face=np.full((SIDE, SIDE), 9.0), brackets=face, mask=mask, sigma_px=3.0))


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
    # a hand in the face zone in every frame (the scan holds the zone): no frame of the face without a hand
    f = _frames("genuine")
    f.hand_count[:] = 1
    f.held[:] = True
    m = transient_measures(frames=f, start_s=START / FPS, end_s=END / FPS)
    assert not m["ok"] and m["flash_z"] is None and m["warp_z"] is None


@pytest.mark.parametrize("mode", ["genuine", "flash"])
def test_a_hand_elsewhere_in_the_frame_leaves_the_null_in_place(mode: str) -> None:
    # a second hand far from the face in every frame (at the chest, on a keyboard): the zone is not held there, so
    # the frames around the crossing still say how the face changes without a hand over it (they did not until
    # round 13: a hand anywhere in the frame took a frame out of the null, and the crossing went unjudged)
    f = _frames(mode)
    far = np.zeros((21, 3))
    far[:, 0], far[:, 1] = np.linspace(0.02, 0.1, 21), np.linspace(0.9, 0.98, 21)
    f.hand_landmarks[:, 1] = far
    f.hand_count[:] = f.hand_count + 1
    m = transient_measures(frames=f, start_s=START / FPS, end_s=END / FPS)
    assert m["ok"] and m["null_frames"] >= 20, m  # all but the crossing's frames and the 0.5 s around it
    assert m["warp_z"] is not None and m["warp_z"] < 2.0, m
    if mode == "flash":
        assert m["flash_z"] > 10.0 and m["flash_reach_z"] > 10.0, m
    else:
        assert m["flash_z"] < 6.0 and m["flash_reach_z"] < 6.0, m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_run_median_is_numpys_median(dtype: type) -> None:
    from interview_guard.signals.face_transients import _run_median

    rng = np.random.default_rng(7)
    for k in range(1, 7):
        for rounded in (False, True):  # ties too
            x = (rng.random((k, SIDE, SIDE)) * 255).astype(dtype)
            x = np.round(x) if rounded else x
            want = np.median(x, axis=0) if k > 2 else x.mean(axis=0)
            got = _run_median(x)
            assert got.dtype == want.dtype and np.array_equal(got, want), (k, rounded)


@pytest.mark.parametrize("seed", [0, 1])
def test_warp_counts_the_pairs_whose_hand_was_lost(seed: int) -> None:
    # with the hand lost in the crossing's frames nothing tells its pixels from the face's, and the block matcher
    # may read the hand as the face (a real hand covering from below warped "the face" at z 5.5, round 16): the
    # measure counts those pairs, and the verdict does not decide on them
    m = _measure("warp", seed, tracked=False)
    assert m["ok"], m
    assert m["warp_pairs"] >= 8 and m["warp_pairs"] - m["warp_pairs_hand_lost"] < 8, m
    assert pixel_verdicts(m)["face_warp"] == pytest.approx(NEVER_COVERED_CAP), m
    # a warped face beside a hand the landmarker keeps decides
    tracked = _measure("warp", seed)
    assert tracked["warp_pairs_hand_lost"] == 0 and tracked["warp_pairs"] >= 8 and tracked["warp_z"] > 3.0, tracked
    assert pixel_verdicts(tracked)["face_warp"] > 0.9, tracked
