"""A graphics-based face swap (the "FaceSwap" method of FaceForensics++), for test material.

:class:`FaceSwapper` pastes the face of a source identity (a photo or a video
frame) onto every frame of a target video, as a cheap real-time swap does:

1. MediaPipe face landmarks (478 points, via
   :class:`~interview_guard.io.landmarks.FaceLandmarkerRunner`) on the source
   image once and on each target frame;
2. the destination mesh carries the **source's face shape** in the target's
   pose and expression: ``D = T + (S' - R')`` where ``T`` are the target
   landmarks, ``S'`` the source landmarks and ``R'`` the target's first
   swapped frame, both similarity-aligned to ``T`` (the FF++ FaceSwap fits
   the source's 3-d shape with the target's expression; this is its 2-d
   analogue);
3. Delaunay triangulation (``cv2.Subdiv2D``) of the destination points, a
   per-triangle affine warp of the source pixels onto it;
4. colour correction: the warped face's mean and standard deviation in Lab
   are matched to the target's inside the face mask;
5. blending with ``cv2.seamlessClone`` (Poisson), or a feathered alpha when
   the face touches the frame border or the clone fails.

The swap works on the frame as the camera delivers it. When a hand is in
front of the face and the landmarker still finds the face, the source face is
painted over the hand (the hand vanishes inside the face outline); when the
landmarker loses the face, the frame is returned unchanged and the real face
shows through for that frame. Both are what real-time swaps do.

Speed: everything after the landmarks works on the face's bounding box
only. The triangle warp is one ``cv2.remap`` through a piecewise-affine map
(a triangle-index raster drawn with ``cv2.fillConvexPoly``, later triangles
over earlier ones, as a per-triangle paste would leave it) instead of one
``warpAffine`` per triangle; Delaunay vertices are mapped back to landmarks
by exact float32 lookup instead of a nearest-point search; and
``cv2.seamlessClone`` gets the box instead of the whole frame (bit-identical:
it solves over the mask's bounding rectangle either way). Outside the box the
output is the input, bit for bit. On a 700x700 clip (retalking_face1, 135
frames, 2 cores; ``benchmarks/bench_face_swap.py``) this took a frame from
~92 ms to ~30 ms of CPU (landmarks ~9, warp 67 -> ~6, colour ~2, Poisson
blend 16 -> ~13 ms); what is left is mostly MediaPipe and the Poisson solve.
Against the per-triangle reference (``tests/test_face_swap.py``) the face
differs by 0.1-0.5 grey levels on average (isolated pixels at stretched
triangles, e.g. an open mouth, where the old warp sampled reflected patch
borders).

OpenCV and MediaPipe are imported lazily.
"""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np

from interview_guard.errors import InputError

__all__ = ["FaceSwapper", "similarity_align", "delaunay_triangles"]

#: Landmarks used for the mesh: the 468 face-mesh points (the 10 iris points are left out).
_MESH = np.arange(468)
#: Points used to align shapes (eye corners, nose, mouth corners, chin, forehead, cheeks).
_ALIGN = np.array([33, 133, 362, 263, 1, 4, 168, 61, 291, 152, 10, 234, 454, 199, 6], dtype=np.int64)


def _cv2() -> Any:
    import cv2  # noqa: PLC0415 - heavy, imported on use

    return cv2


def similarity_align(src: np.ndarray, dst: np.ndarray, *, idx: np.ndarray = _ALIGN) -> np.ndarray:
    """Map all of ``src`` (k, 2) by the similarity transform that best fits ``src[idx]`` to ``dst[idx]`` (Umeyama)."""
    a = np.asarray(src, np.float64)
    b = np.asarray(dst, np.float64)
    pa, pb = a[idx], b[idx]
    ma, mb = pa.mean(0), pb.mean(0)
    xa, xb = pa - ma, pb - mb
    cov = xb.T @ xa / len(idx)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    D = np.diag([1.0, d])
    R = u @ D @ vt
    var = (xa**2).sum() / len(idx)
    scale = float((s * np.diag(D)).sum() / max(var, 1e-12))
    return cast(np.ndarray, (a - ma) @ R.T * scale + mb)


def delaunay_triangles(points: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Delaunay triangles of ``points`` (k, 2) as (m, 3) point indices (cv2.Subdiv2D)."""
    cv2 = _cv2()
    p = np.asarray(points, np.float64)
    x0, y0 = np.floor(p.min(0)) - 2
    x1, y1 = np.ceil(p.max(0)) + 2
    sub = cv2.Subdiv2D((int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1))
    # Subdiv2D merges coincident points; insert in a fixed order and map vertices back by position
    sub.insert([(float(q[0]), float(q[1])) for q in p])
    tris = sub.getTriangleList().reshape(-1, 3, 2)
    if tris.size == 0:
        return np.zeros((0, 3), np.int64)
    # Subdiv2D keeps the inserted points as float32, so a vertex is exactly one of them: look the
    # float32 coordinates up (the first of equal points, as a nearest-point search would pick)
    p32 = np.ascontiguousarray(p.astype(np.float32))
    keys = p32.view(np.uint64).ravel()
    uniq, first = np.unique(keys, return_index=True)
    vkeys = np.ascontiguousarray(tris.reshape(-1, 2).astype(np.float32)).view(np.uint64).ravel()
    pos = np.minimum(np.searchsorted(uniq, vkeys), uniq.size - 1)
    ok = uniq[pos] == vkeys
    nearest = first[pos]
    if not ok.all():  # not expected; fall back to the nearest point within 0.1 px
        flat = tris.reshape(-1, 2).astype(np.float64)[~ok]
        d2 = ((flat[:, None, :] - p[None, :, :]) ** 2).sum(-1)
        j = d2.argmin(1)
        nearest[~ok] = j
        ok[~ok] = d2[np.arange(flat.shape[0]), j] < 1e-2
    idx = nearest.reshape(-1, 3)
    keep = ok.reshape(-1, 3).all(1) & (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return cast(np.ndarray, idx[keep].astype(np.int64))


class FaceSwapper:
    """Paste the face of ``source_image_rgb`` onto target frames (a context manager).

    Parameters
    ----------
    source_image_rgb : np.ndarray [shape=(h, w, 3), uint8]
        The identity to paste (a photo or a video frame), RGB.
    models_dir : path, optional
        Where ``face_landmarker.task`` is (see :mod:`interview_guard.io.model_files`).
    shape_transfer : float
        1.0 moves the destination mesh to the source's face shape (identity
        geometry), 0.0 keeps the target's shape (texture-only swap).

    Raises
    ------
    InputError
        When no face is found in the source image.

    Examples
    --------
    >>> with FaceSwapper(photo) as fs:                        # doctest: +SKIP
    ...     out, swapped = fs.swap(frame, t_s)
    """

    def __init__(
        self,
        source_image_rgb: np.ndarray,
        *,
        models_dir: str | os.PathLike[str] | None = None,
        shape_transfer: float = 1.0,
    ) -> None:
        from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions  # noqa: PLC0415

        src = np.ascontiguousarray(np.asarray(source_image_rgb, dtype=np.uint8))
        if src.ndim != 3 or src.shape[2] != 3:
            raise InputError("source image must be an (h, w, 3) RGB array")
        self.shape_transfer = float(shape_transfer)
        # IMAGE mode: every frame landmarked on its own, so a seed gives the same swap however loaded the machine is
        opts = FaceRunnerOptions(blendshapes=False, image_mode=True)
        with FaceLandmarkerRunner(opts, models_dir=models_dir) as r:
            ob = r.process(src, 0.0)
        if not ob.present or ob.landmarks is None:
            raise InputError("no face found in the source image")
        H, W = src.shape[:2]
        self._src_img = src
        self._src_pts = ob.landmarks[:, :2].astype(np.float64) * [W, H]
        self._runner: FaceLandmarkerRunner | None = FaceLandmarkerRunner(opts, models_dir=models_dir)
        self._ref: np.ndarray | None = None  # target landmarks of the first swapped frame
        self.frames = 0
        self.swapped_frames = 0

    # ------------------------------------------------------------------ context
    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self) -> FaceSwapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def source_landmarks_px(self) -> np.ndarray:
        return cast(np.ndarray, self._src_pts.copy())

    # --------------------------------------------------------------------- swap
    def destination_points(self, target_px: np.ndarray) -> np.ndarray:
        """The mesh the source face is warped onto, for target landmarks in pixels (478, 2)."""
        t = np.asarray(target_px, np.float64)
        if self._ref is None:
            self._ref = t.copy()
        if self.shape_transfer == 0.0:
            return t
        s_al = similarity_align(self._src_pts, t)
        r_al = similarity_align(self._ref, t)
        return cast(np.ndarray, t + self.shape_transfer * (s_al - r_al))

    def swap(self, frame_rgb: np.ndarray, t_s: float) -> tuple[np.ndarray, bool]:
        """Swap the face in one frame (frames in time order).

        Returns
        -------
        (np.ndarray, bool)
            The output frame (a new array) and whether a face was swapped in.
        """
        if self._runner is None:
            raise InputError("FaceSwapper is closed")
        frame = np.ascontiguousarray(np.asarray(frame_rgb, dtype=np.uint8))
        self.frames += 1
        ob = self._runner.process(frame, float(t_s))
        if not ob.present:
            return frame.copy(), False
        assert ob.landmarks is not None  # present
        H, W = frame.shape[:2]
        tgt = ob.landmarks[:, :2].astype(np.float64) * [W, H]
        out = self.render(frame, tgt)
        if out is None:
            return frame.copy(), False
        self.swapped_frames += 1
        return out, True

    def render(self, frame: np.ndarray, target_px: np.ndarray) -> np.ndarray | None:
        """Paste the source face onto ``frame`` whose face has landmarks ``target_px``; None when degenerate.

        Only the face's bounding box (plus a small margin) is touched: the
        triangle warp, the masks, the colour match and the Poisson blend all
        work on that crop, and the output outside it is the input, bit for bit.
        """
        cv2 = _cv2()
        H, W = frame.shape[:2]
        dst = self.destination_points(target_px)[_MESH]
        if not np.all(np.isfinite(dst)):
            return None
        tris = delaunay_triangles(dst, (W, H))
        if tris.shape[0] < 10:
            return None
        # bounding box of the face in the frame (clipped)
        x0 = max(int(np.floor(dst[:, 0].min())) - 2, 0)
        y0 = max(int(np.floor(dst[:, 1].min())) - 2, 0)
        x1 = min(int(np.ceil(dst[:, 0].max())) + 3, W)
        y1 = min(int(np.ceil(dst[:, 1].max())) + 3, H)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        bw, bh = x1 - x0, y1 - y0
        warped, covered = self._warp(dst, tris, (x0, y0, bw, bh))
        hull = cv2.convexHull(np.round(dst - [x0, y0]).astype(np.int32))
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillConvexPoly(mask, hull, 255)
        mask[~covered] = 0
        mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
        if cv2.countNonZero(mask) < 50:
            return None
        target_box = frame[y0:y1, x0:x1]
        warped = _match_colour(warped, target_box, mask)
        return _blend(frame, warped, mask, (x0, y0))

    def _warp(self, dst: np.ndarray, tris: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Piecewise-affine warp of the source image onto the triangles ``tris`` of ``dst``, inside ``box``.

        Each box pixel takes the triangle drawn last over it (the triangles'
        integer outlines, ``cv2.fillConvexPoly``, in order, each clipped to its
        own bounding rectangle); one ``cv2.remap`` then samples the source
        through that triangle's inverse affine map (bilinear). Returns the
        warped box (zero where no triangle covers it) and the coverage mask.
        """
        cv2 = _cv2()
        x0, y0, bw, bh = box
        src = self._src_pts[_MESH]
        sH, sW = self._src_img.shape[:2]
        ps = src[tris].astype(np.float32)  # (m, 3, 2) source triangles
        pd = (dst[tris] - [x0, y0]).astype(np.float32)  # destination triangles in box coordinates
        # cv2.boundingRect of float points: floor of the minimum to floor of the maximum, inclusive
        s_lo, s_hi = np.floor(ps.min(1)).astype(np.int64), np.floor(ps.max(1)).astype(np.int64) + 1
        d_lo, d_hi = np.floor(pd.min(1)).astype(np.int64), np.floor(pd.max(1)).astype(np.int64) + 1
        # triangles whose source rectangle misses the source image, or whose box rectangle misses the box
        use = (np.minimum(s_hi[:, 0], sW) > np.maximum(s_lo[:, 0], 0)) & (
            np.minimum(s_hi[:, 1], sH) > np.maximum(s_lo[:, 1], 0)
        )
        use &= (np.minimum(d_hi[:, 0], bw) > np.maximum(d_lo[:, 0], 0)) & (
            np.minimum(d_hi[:, 1], bh) > np.maximum(d_lo[:, 1], 0)
        )
        # inverse affine maps (box pixel -> source pixel): [xs, ys] = A @ [x, y, 1], from the float32 corners
        P = np.concatenate([pd.astype(np.float64), np.ones((pd.shape[0], 3, 1))], axis=2)
        det = np.linalg.det(P)
        use &= np.abs(det) > 1e-9
        A = np.zeros((pd.shape[0], 2, 3), np.float64)
        if use.any():
            A[use] = np.linalg.solve(P[use], ps[use].astype(np.float64)).transpose(0, 2, 1)
        # triangle-index raster: later triangles overwrite earlier ones, as the per-triangle paste did
        raster = np.full((bh, bw), -1, np.int32)
        lo = np.maximum(d_lo, 0)
        hi = np.minimum(d_hi, [bw, bh])
        outline = list((np.round(pd).astype(np.int64) - lo[:, None, :]).astype(np.int32))
        rects = np.concatenate([lo, hi], axis=1).tolist()
        fill = cv2.fillConvexPoly
        for k in np.flatnonzero(use).tolist():
            ax, ay, bx, by = rects[k]
            fill(raster[ay:by, ax:bx], outline[k], k)  # lineType LINE_8
        covered = raster >= 0
        coef = A.reshape(-1, 6).astype(np.float32)[np.maximum(raster, 0)]  # (bh, bw, 6)
        xs = np.arange(bw, dtype=np.float32)[None, :]
        ys = np.arange(bh, dtype=np.float32)[:, None]
        map_x = coef[..., 0] * xs + coef[..., 1] * ys + coef[..., 2]
        map_y = coef[..., 3] * xs + coef[..., 4] * ys + coef[..., 5]
        warped = cv2.remap(self._src_img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        warped[~covered] = 0
        return warped, covered


def _match_colour(src_rgb: np.ndarray, dst_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match mean and standard deviation per Lab channel of ``src`` to ``dst`` inside ``mask`` (uint8, non-zero in)."""
    cv2 = _cv2()
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if cv2.countNonZero(m) < 10:
        return src_rgb
    a = cv2.cvtColor(src_rgb, cv2.COLOR_RGB2LAB)
    b = cv2.cvtColor(np.ascontiguousarray(dst_rgb), cv2.COLOR_RGB2LAB)
    ma, sa = (v.ravel() for v in cv2.meanStdDev(a, mask=m))
    mb, sb = (v.ravel() for v in cv2.meanStdDev(b, mask=m))
    gain = (sb / np.maximum(sa, 1e-3)).astype(np.float32)
    out = (a.astype(np.float32) - ma.astype(np.float32)) * gain + mb.astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    return cast(np.ndarray, cv2.cvtColor(out, cv2.COLOR_LAB2RGB))


def _blend(frame: np.ndarray, warped: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Poisson-blend ``warped`` (the face box) into ``frame`` at ``origin``; feathered alpha as the fallback.

    ``cv2.seamlessClone`` solves over the bounding rectangle of the mask
    only, so it is given the box (source, destination and mask cropped
    alike) rather than the whole frame: the result is the same, bit for bit,
    as cloning into the full frame. (It is also colour-order agnostic, so
    there is no RGB/BGR round trip. It modifies the mask it is given, so it
    gets a copy.)
    """
    cv2 = _cv2()
    H, W = frame.shape[:2]
    x0, y0 = origin
    bh, bw = mask.shape
    bx, by, bwid, bhei = cv2.boundingRect(mask)
    border = bx + x0 <= 1 or by + y0 <= 1 or bx + bwid - 1 + x0 >= W - 2 or by + bhei - 1 + y0 >= H - 2
    out = frame.copy()
    box = out[y0 : y0 + bh, x0 : x0 + bw]
    if not border:
        try:
            centre = (bx + bwid // 2, by + bhei // 2)
            box[...] = cv2.seamlessClone(warped, np.ascontiguousarray(box), mask.copy(), centre, cv2.NORMAL_CLONE)
            return out
        except cv2.error:
            pass
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 3.0)
    alpha = alpha[..., None]
    box[...] = np.clip(alpha * warped.astype(np.float32) + (1 - alpha) * box.astype(np.float32), 0, 255).astype(
        np.uint8
    )
    return out
