"""The zone-grid helpers of signals.hand_crossing equal the per-pixel definitions they replace."""

from __future__ import annotations

import numpy as np
import pytest

from interview_guard.signals.face_geometry import points_in_polygon
from interview_guard.signals.hand_crossing import aligned_rows, oval_mask, zones_aligned


def _per_pixel(poly: np.ndarray, side: int) -> np.ndarray:
    g = (np.arange(side) + 0.5) / side
    xx, yy = np.meshgrid(g, g)
    return points_in_polygon(np.stack([xx.ravel(), yy.ravel()], axis=1), poly).reshape(side, side)


@pytest.mark.parametrize("seed", range(6))
def test_oval_mask_is_the_even_odd_rule_at_every_pixel_centre(seed):
    rng = np.random.default_rng(seed)
    for side in (16, 64):
        a = np.sort(rng.uniform(0, 2 * np.pi, 36))
        shapes = [
            np.c_[0.5 + 0.4 * np.cos(a), 0.5 + 0.45 * np.sin(a)],  # a face outline
            rng.uniform(-0.3, 1.3, (int(rng.integers(3, 25)), 2)),  # self-crossing, partly off the zone
        ]
        # vertices and horizontal edges exactly on pixel centres (ties of the crossing test)
        shapes.append(np.round(shapes[0] * side - 0.5) / side + 0.5 / side)
        for poly in shapes:
            got = oval_mask(oval=poly, side=side)
            assert got.shape == (side, side) and got.dtype == bool
            assert np.array_equal(got, _per_pixel(poly, side))
    assert not oval_mask(oval=np.array([[0.1, 0.1], [0.9, 0.1]]), side=8).any()  # two points: no area
    bad = np.array([[0.1, 0.1], [0.9, np.nan], [0.5, 0.9]])
    assert not oval_mask(oval=bad, side=8).any()


def test_aligned_rows_is_zones_aligned_row_by_row():
    rng = np.random.default_rng(3)
    boxes = rng.uniform(0, 1, (300, 4))
    boxes[:, 2:] += boxes[:, :2]
    boxes[1::5] = boxes[0] + rng.uniform(-0.05, 0.05, 4)  # near the anchor: some within the tolerance
    boxes[2::7] = np.nan
    for anchor in (boxes[0], boxes[3]):
        want = np.array([zones_aligned(b, anchor) for b in boxes])
        assert want.any() and not want.all()
        assert np.array_equal(aligned_rows(boxes, anchor), want)
