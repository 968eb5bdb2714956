"""evaluation/outline_colour.py: the hand's opacity at the face outline in colour, on crossings built in arrays."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import REPO
from interview_guard.signals.hand_crossing import oval_mask

sys.path.insert(0, str(REPO / "evaluation"))

from outline_colour import outline_opacity, to_ycrcb  # noqa: E402

SIDE = 96


def _oval() -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    return np.stack([0.5 + 0.3 * np.cos(a), 0.45 + 0.36 * np.sin(a)], axis=1)


FACE = oval_mask(oval=_oval(), side=SIDE)


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A skin-coloured face with texture inside the outline on a blue-grey wall."""
    from scipy.ndimage import gaussian_filter

    tex = gaussian_filter(rng.normal(0, 1, (SIDE, SIDE)), 1.5)
    img = np.empty((SIDE, SIDE, 3))
    img[:] = (70, 85, 105)
    img[FACE] = (205, 155, 125)
    img += 12 * tex[..., None] / (tex.std() + 1e-9)
    return img


def _hand_layer(rng: np.random.Generator, top: int, colour=(150, 95, 75)) -> tuple[np.ndarray, np.ndarray]:
    """A hand (a textured block with two finger gaps) from the bottom of the zone up to row ``top``."""
    from scipy.ndimage import gaussian_filter

    a = np.zeros((SIDE, SIDE))
    a[top:, 20:76] = 1.0
    a[top : top + 10, 38:40] = 0.0  # finger gaps
    a[top : top + 10, 56:58] = 0.0
    tex = gaussian_filter(rng.normal(0, 1, (SIDE, SIDE)), 1.0)
    rgb = np.empty((SIDE, SIDE, 3))
    rgb[:] = colour
    rgb += 8 * tex[..., None] / (tex.std() + 1e-9)
    return rgb, a


def _crossing(kind: str, *, colour=(150, 95, 75), alpha_in: float = 0.5, reach: bool = True, seed: int = 3):
    rng = np.random.default_rng(seed)
    scene = _scene(rng)
    noisy = lambda img: np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.uint8)  # noqa: E731
    ref = np.stack([noisy(scene) for _ in range(8)])
    null = np.stack([noisy(scene) for _ in range(12)])
    frames = []
    for top in (70, 62, 55, 50, 46, 50, 56):  # up over the chin and back down
        rgb, a = _hand_layer(rng, top if reach else 90, colour)
        a3 = a[..., None]
        if kind == "genuine":
            a_eff = a3
        elif kind == "translucent":
            a_eff = a3 * np.where(FACE, alpha_in, 1.0)[..., None]
        elif kind == "pasted":
            a_eff = a3 * (~FACE)[..., None]
        else:
            raise AssertionError(kind)
        frames.append(noisy(scene * (1 - a_eff) + rgb * a_eff))
    return dict(frames=np.stack(frames), reference=ref, null=null, face=FACE)


def test_a_hand_in_front_is_opaque_on_both_sides_of_the_outline():
    m = outline_opacity(**_crossing("genuine"))
    assert m["opacity_frames"] >= 4
    assert m["opaque_share_median"] >= 0.6
    assert m["opacity_median"] > 0.8


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.7])
def test_a_translucent_hand_inside_the_outline_reads_at_its_opacity(alpha):
    m = outline_opacity(**_crossing("translucent", alpha_in=alpha))
    assert m["opacity_frames"] >= 4
    assert m["opacity_median"] == pytest.approx(alpha, abs=0.15)
    assert m["opaque_share_median"] <= 0.3


def test_a_face_pasted_over_the_hand_leaves_no_hand_inside():
    m = outline_opacity(**_crossing("pasted"))
    assert m["opacity_frames"] >= 4
    assert m["opaque_share_median"] <= 0.1
    assert abs(m["opacity_median"]) < 0.15


def test_a_hand_the_colour_of_the_face_is_not_measured():
    m = outline_opacity(**_crossing("pasted", colour=(205, 155, 125)))
    assert m["opaque_share_median"] is None  # nothing to read: not evidence either way


def test_a_hand_that_never_reaches_the_outline_is_not_measured():
    m = outline_opacity(**_crossing("genuine", reach=False))
    assert m["frames_at_outline"] == 0
    assert m["opaque_share_median"] is None


def test_bad_shapes_are_refused():
    c = _crossing("genuine")
    with pytest.raises(ValueError, match="reference"):
        outline_opacity(**{**c, "reference": c["reference"][:, :50]})
    with pytest.raises(ValueError, match="face"):
        outline_opacity(**{**c, "face": FACE[:50]})


def test_ycrcb_matches_the_bt601_full_range_definition():
    px = np.array([[255, 0, 0], [0, 0, 255], [128, 128, 128]], np.uint8)
    y = to_ycrcb(px)
    assert y[2] == pytest.approx([128.0, 0.0, 0.0], abs=1e-3)  # grey: no chroma
    assert y[0, 0] == pytest.approx(0.299 * 255, abs=1e-3)
    assert y[0, 1] > 0 > y[0, 2]  # red: Cr up, Cb down
    assert y[1, 2] > 0  # blue: Cb up
