"""The graphics face swap (interview_guard.synth.face_swap): the optimised render against a plain reference."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared

FACES = SHARED_DATA / "faces_video"
TARGET = FACES / "retalking_face1.mp4"
IDENTITY = FACES / "liveportrait_d9.mp4"

pytestmark = [pytest.mark.video, pytest.mark.shared, needs_shared(TARGET)]


# ----------------------------------------------------------------- reference
def _reference_delaunay(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles mapped back to points by a brute-force nearest-point search."""
    import cv2

    p = np.asarray(points, np.float64)
    x0, y0 = np.floor(p.min(0)) - 2
    x1, y1 = np.ceil(p.max(0)) + 2
    sub = cv2.Subdiv2D((int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1))
    for q in p:
        sub.insert((float(q[0]), float(q[1])))
    tris = sub.getTriangleList().reshape(-1, 3, 2)
    flat = tris.reshape(-1, 2).astype(np.float64)
    d2 = ((flat[:, None, :] - p[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    ok = d2[np.arange(flat.shape[0]), nearest] < 1e-2
    idx = nearest.reshape(-1, 3)
    keep = ok.reshape(-1, 3).all(1) & (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return idx[keep]


def _reference_render(src_img, src, frame, dst):
    """The straightforward swap: per-triangle warpAffine + mask on the full box, Lab match, full-frame seamlessClone."""
    import cv2

    H, W = frame.shape[:2]
    tris = _reference_delaunay(dst)
    x0 = max(int(np.floor(dst[:, 0].min())) - 2, 0)
    y0 = max(int(np.floor(dst[:, 1].min())) - 2, 0)
    x1 = min(int(np.ceil(dst[:, 0].max())) + 3, W)
    y1 = min(int(np.ceil(dst[:, 1].max())) + 3, H)
    bw, bh = x1 - x0, y1 - y0
    warped = np.zeros((bh, bw, 3), np.uint8)
    covered = np.zeros((bh, bw), bool)
    sH, sW = src_img.shape[:2]
    for tri in tris:
        ps = src[tri].astype(np.float32)
        pd = (dst[tri] - [x0, y0]).astype(np.float32)
        rs, rd = cv2.boundingRect(ps), cv2.boundingRect(pd)
        sx0, sy0 = max(rs[0], 0), max(rs[1], 0)
        sx1, sy1 = min(rs[0] + rs[2], sW), min(rs[1] + rs[3], sH)
        dx0, dy0 = max(rd[0], 0), max(rd[1], 0)
        dx1, dy1 = min(rd[0] + rd[2], bw), min(rd[1] + rd[3], bh)
        if sx1 <= sx0 or sy1 <= sy0 or dx1 <= dx0 or dy1 <= dy0:
            continue
        M = cv2.getAffineTransform((ps - [sx0, sy0]).astype(np.float32), (pd - [rd[0], rd[1]]).astype(np.float32))
        w_patch = cv2.warpAffine(
            src_img[sy0:sy1, sx0:sx1], M, (rd[2], rd[3]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        tmask = np.zeros((rd[3], rd[2]), np.uint8)
        cv2.fillConvexPoly(tmask, np.round(pd - [rd[0], rd[1]]).astype(np.int32), 1)
        sel = tmask[dy0 - rd[1] : dy1 - rd[1], dx0 - rd[0] : dx1 - rd[0]].astype(bool)
        warped[dy0:dy1, dx0:dx1][sel] = w_patch[dy0 - rd[1] : dy1 - rd[1], dx0 - rd[0] : dx1 - rd[0]][sel]
        covered[dy0:dy1, dx0:dx1][sel] = True
    mask = np.zeros((bh, bw), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(dst - [x0, y0]).astype(np.int32)), 255)
    mask[~covered] = 0
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    # Lab mean/std match inside the mask
    a = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB).astype(np.float32)
    m = mask > 0
    for c in range(3):
        ma, sa, mb, sb = a[..., c][m].mean(), a[..., c][m].std(), b[..., c][m].mean(), b[..., c][m].std()
        a[..., c] = (a[..., c] - ma) * (sb / max(sa, 1e-3)) + mb
    warped = cv2.cvtColor(np.clip(a, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    # Poisson blend into the whole frame (BGR, as OpenCV documents it)
    canvas = np.zeros_like(frame)
    canvas[y0:y1, x0:x1] = warped
    full_mask = np.zeros((H, W), np.uint8)
    full_mask[y0:y1, x0:x1] = mask
    bx, by, bwid, bhei = cv2.boundingRect(full_mask)
    out = cv2.seamlessClone(
        cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR),
        cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
        full_mask,
        (bx + bwid // 2, by + bhei // 2),
        cv2.NORMAL_CLONE,
    )
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB), (x0, y0, x1, y1), mask


# ----------------------------------------------------------------- fixtures
def _frames(path, n, start=0):
    from interview_guard.io.video_decode import iter_frames

    out = []
    for k, f in enumerate(iter_frames(path)):
        if k >= start:
            out.append(np.ascontiguousarray(f.image))
        if len(out) >= n:
            break
    return out


@pytest.fixture(scope="module")
def material():
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions

    frames = _frames(TARGET, 12)
    ident = _frames(IDENTITY, 1, start=25)[0]
    pts = []
    with FaceLandmarkerRunner(FaceRunnerOptions(blendshapes=False)) as r:
        for k, f in enumerate(frames):
            ob = r.process(f, k / 25.0)
            assert ob.present
            pts.append(ob.landmarks[:, :2].astype(np.float64) * [f.shape[1], f.shape[0]])
    return frames, ident, pts


@pytest.fixture(scope="module")
def swapper(material):
    from interview_guard.synth.face_swap import FaceSwapper

    with FaceSwapper(material[1]) as fs:
        yield fs


# -------------------------------------------------------------------- tests
def test_delaunay_matches_nearest_point_mapping(material):
    from interview_guard.synth.face_swap import _MESH, delaunay_triangles

    for p in material[2][:4]:
        fast = delaunay_triangles(p[_MESH], (700, 700))
        ref = _reference_delaunay(p[_MESH])
        assert fast.shape[0] > 800
        assert np.array_equal(fast, ref)


def test_render_matches_reference(material, swapper):
    from interview_guard.synth.face_swap import _MESH

    frames, _, pts = material
    for k in range(0, len(frames), 3):
        frame = frames[k]
        before = frame.copy()
        dst = swapper.destination_points(pts[k])[_MESH]
        out = swapper.render(frame, pts[k])
        assert out is not None
        assert np.array_equal(frame, before)  # the input is not modified
        ref, (x0, y0, x1, y1), mask = _reference_render(swapper._src_img, swapper._src_pts[_MESH], frame, dst)
        # same picture: mean difference on the face box well under two grey levels, no large local errors
        d = np.abs(out[y0:y1, x0:x1].astype(np.int16) - ref[y0:y1, x0:x1]).max(-1)
        assert d.mean() < 2.0, (k, d.mean())
        assert d[mask > 0].mean() < 2.0, (k, d[mask > 0].mean())
        assert np.percentile(d, 99.5) <= 12, (k, np.percentile(d, 99.5))
        # the swap replaced the face: far more different from the input than from the reference
        changed = np.abs(out[y0:y1, x0:x1].astype(np.int16) - frame[y0:y1, x0:x1]).max(-1)[mask > 0].mean()
        assert changed > 8.0 * max(d[mask > 0].mean(), 0.5), (k, changed)
        # outside the face box the output is the input, bit for bit
        outside = np.ones(frame.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(out[outside], frame[outside])


def test_render_is_deterministic(material, swapper):
    frames, _, pts = material
    a = swapper.render(frames[5], pts[5])
    b = swapper.render(frames[5].copy(), pts[5].copy())
    assert np.array_equal(a, b)


def test_swap_drops_out_without_a_face(material):
    from interview_guard.synth.face_swap import FaceSwapper

    frames, ident, _ = material
    with FaceSwapper(ident) as fs:
        out, ok = fs.swap(frames[0], 0.0)
        assert ok and not np.array_equal(out, frames[0])
        blank = np.full_like(frames[0], 128)
        out, ok = fs.swap(blank, 0.04)
        assert not ok and np.array_equal(out, blank) and out is not blank
        assert (fs.frames, fs.swapped_frames) == (2, 1)
