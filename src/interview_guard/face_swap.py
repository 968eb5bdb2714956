"""A graphics-based face swap (the "FaceSwap" method of FaceForensics++), for test material.

:class:`FaceSwapper` pastes the face of a source identity (a photo or a video
frame) onto every frame of a target video, as a cheap real-time swap does:

1. MediaPipe face landmarks (478 points, via
   :class:`~interview_guard.landmarks.FaceLandmarkerRunner`) on the source
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

OpenCV and MediaPipe are imported lazily.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["FaceSwapper", "similarity_align", "delaunay_triangles"]

#: Landmarks used for the mesh: the 468 face-mesh points (the 10 iris points are left out).
_MESH = np.arange(468)
#: Points used to align shapes (eye corners, nose, mouth corners, chin, forehead, cheeks).
_ALIGN = np.array([33, 133, 362, 263, 1, 4, 168, 61, 291, 152, 10, 234, 454, 199, 6], dtype=np.int64)


def _cv2():
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
    return (a - ma) @ R.T * scale + mb


def delaunay_triangles(points: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Delaunay triangles of ``points`` (k, 2) as (m, 3) point indices (cv2.Subdiv2D)."""
    cv2 = _cv2()
    p = np.asarray(points, np.float64)
    x0, y0 = np.floor(p.min(0)) - 2
    x1, y1 = np.ceil(p.max(0)) + 2
    sub = cv2.Subdiv2D((int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1))
    # Subdiv2D merges coincident points; insert in a fixed order and map vertices back by position
    for q in p:
        sub.insert((float(q[0]), float(q[1])))
    tris = sub.getTriangleList().reshape(-1, 3, 2)
    if tris.size == 0:
        return np.zeros((0, 3), np.int64)
    # nearest landmark for each vertex (exact up to float32 rounding)
    flat = tris.reshape(-1, 2).astype(np.float64)
    d2 = ((flat[:, None, :] - p[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    ok = d2[np.arange(flat.shape[0]), nearest] < 1e-2
    idx = nearest.reshape(-1, 3)
    keep = ok.reshape(-1, 3).all(1) & (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return idx[keep].astype(np.int64)


class FaceSwapper:
    """Paste the face of ``source_image_rgb`` onto target frames (a context manager).

    Parameters
    ----------
    source_image_rgb : np.ndarray [shape=(h, w, 3), uint8]
        The identity to paste (a photo or a video frame), RGB.
    models_dir : path, optional
        Where ``face_landmarker.task`` is (see :mod:`interview_guard.model_files`).
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

    def __init__(self, source_image_rgb: np.ndarray, *, models_dir=None, shape_transfer: float = 1.0) -> None:
        from .landmarks import FaceLandmarkerRunner, FaceRunnerOptions  # noqa: PLC0415

        src = np.ascontiguousarray(np.asarray(source_image_rgb, dtype=np.uint8))
        if src.ndim != 3 or src.shape[2] != 3:
            raise InputError("source image must be an (h, w, 3) RGB array")
        self.shape_transfer = float(shape_transfer)
        opts = FaceRunnerOptions(blendshapes=False)
        with FaceLandmarkerRunner(opts, models_dir=models_dir) as r:
            ob = r.process(src, 0.0)
        if not ob.present:
            raise InputError("no face found in the source image")
        H, W = src.shape[:2]
        self._src_img = src
        self._src_pts = ob.landmarks[:, :2].astype(np.float64) * [W, H]
        self._runner = FaceLandmarkerRunner(opts, models_dir=models_dir)
        self._ref: np.ndarray | None = None  # target landmarks of the first swapped frame
        self.frames = 0
        self.swapped_frames = 0

    # ------------------------------------------------------------------ context
    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self) -> "FaceSwapper":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def source_landmarks_px(self) -> np.ndarray:
        return self._src_pts.copy()

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
        return t + self.shape_transfer * (s_al - r_al)

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
        H, W = frame.shape[:2]
        tgt = ob.landmarks[:, :2].astype(np.float64) * [W, H]
        out = self.render(frame, tgt)
        if out is None:
            return frame.copy(), False
        self.swapped_frames += 1
        return out, True

    def render(self, frame: np.ndarray, target_px: np.ndarray) -> np.ndarray | None:
        """Paste the source face onto ``frame`` whose face has landmarks ``target_px``; None when degenerate."""
        cv2 = _cv2()
        H, W = frame.shape[:2]
        dst = self.destination_points(target_px)[_MESH]
        src = self._src_pts[_MESH]
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
        warped = np.zeros((bh, bw, 3), np.uint8)
        covered = np.zeros((bh, bw), np.uint8)
        sH, sW = self._src_img.shape[:2]
        for tri in tris:
            ps = src[tri].astype(np.float32)
            pd = (dst[tri] - [x0, y0]).astype(np.float32)
            rs = cv2.boundingRect(ps)
            rd = cv2.boundingRect(pd)
            if rd[2] <= 0 or rd[3] <= 0 or rs[2] <= 0 or rs[3] <= 0:
                continue
            sx0, sy0 = max(rs[0], 0), max(rs[1], 0)
            sx1, sy1 = min(rs[0] + rs[2], sW), min(rs[1] + rs[3], sH)
            if sx1 <= sx0 or sy1 <= sy0:
                continue
            patch = self._src_img[sy0:sy1, sx0:sx1]
            M = cv2.getAffineTransform((ps - [sx0, sy0]).astype(np.float32), (pd - [rd[0], rd[1]]).astype(np.float32))
            # destination rectangle inside the box
            dx0, dy0 = max(rd[0], 0), max(rd[1], 0)
            dx1, dy1 = min(rd[0] + rd[2], bw), min(rd[1] + rd[3], bh)
            if dx1 <= dx0 or dy1 <= dy0:
                continue
            w_patch = cv2.warpAffine(patch, M, (rd[2], rd[3]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            tmask = np.zeros((rd[3], rd[2]), np.uint8)
            cv2.fillConvexPoly(tmask, np.round(pd - [rd[0], rd[1]]).astype(np.int32), 1, lineType=cv2.LINE_8)
            sub_mask = tmask[dy0 - rd[1] : dy1 - rd[1], dx0 - rd[0] : dx1 - rd[0]].astype(bool)
            sub_patch = w_patch[dy0 - rd[1] : dy1 - rd[1], dx0 - rd[0] : dx1 - rd[0]]
            region = warped[dy0:dy1, dx0:dx1]
            region[sub_mask] = sub_patch[sub_mask]
            covered[dy0:dy1, dx0:dx1][sub_mask] = 1
        hull = cv2.convexHull(np.round(dst - [x0, y0]).astype(np.int32))
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillConvexPoly(mask, hull, 255)
        mask[covered == 0] = 0
        mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
        if int(mask.sum()) < 255 * 50:
            return None
        target_box = frame[y0:y1, x0:x1]
        warped = _match_colour(warped, target_box, mask > 0)
        return _blend(frame, warped, mask, (x0, y0))


def _match_colour(src_rgb: np.ndarray, dst_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match mean and standard deviation per Lab channel of ``src`` to ``dst`` inside ``mask``."""
    cv2 = _cv2()
    a = cv2.cvtColor(src_rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = cv2.cvtColor(np.ascontiguousarray(dst_rgb), cv2.COLOR_RGB2LAB).astype(np.float32)
    m = mask.astype(bool)
    if m.sum() < 10:
        return src_rgb
    out = a.copy()
    for c in range(3):
        ma, sa = float(a[..., c][m].mean()), float(a[..., c][m].std())
        mb, sb = float(b[..., c][m].mean()), float(b[..., c][m].std())
        out[..., c] = (a[..., c] - ma) * (sb / max(sa, 1e-3)) + mb
    out = np.clip(out, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)


def _blend(frame: np.ndarray, warped: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Poisson-blend ``warped`` (the face box) into ``frame`` at ``origin``; feathered alpha as the fallback."""
    cv2 = _cv2()
    H, W = frame.shape[:2]
    x0, y0 = origin
    bh, bw = mask.shape
    ys, xs = np.nonzero(mask)
    border = xs.min() + x0 <= 1 or ys.min() + y0 <= 1 or xs.max() + x0 >= W - 2 or ys.max() + y0 >= H - 2
    if not border:
        try:
            # seamlessClone wants the source the size of the destination's region: put the box in a full canvas
            canvas = np.zeros_like(frame)
            canvas[y0 : y0 + bh, x0 : x0 + bw] = warped
            full_mask = np.zeros((H, W), np.uint8)
            full_mask[y0 : y0 + bh, x0 : x0 + bw] = mask
            bx, by, bwid, bhei = cv2.boundingRect(full_mask)
            centre = (bx + bwid // 2, by + bhei // 2)
            out = cv2.seamlessClone(
                cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), full_mask, centre,
                cv2.NORMAL_CLONE,
            )
            return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
        except cv2.error:
            pass
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 3.0)
    alpha = alpha[..., None]
    out = frame.copy()
    box = out[y0 : y0 + bh, x0 : x0 + bw].astype(np.float32)
    out[y0 : y0 + bh, x0 : x0 + bw] = np.clip(alpha * warped.astype(np.float32) + (1 - alpha) * box, 0, 255).astype(np.uint8)
    return out
