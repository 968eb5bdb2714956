"""A 128-d face identity descriptor: dlib's face recognition ResNet, run in numpy.

The network is dlib's ``dlib_face_recognition_resnet_model_v1`` (public
domain, davisking/dlib-models) in the TensorFlow.js export that
``@vladmandic/face-api`` 1.7.15 ships (MIT): ``face_recognition_model.bin``
holds 117 tensors, mostly uint8-quantised, listed in file order by
``face_recognition_model-weights_manifest.json``. Both files are checked
against ``models/manifest.json`` (sha256) before use.

The forward pass reproduces face-api.js's ``FaceRecognitionNet``: input
``(rgb - mean) / 256``; a 7x7 stride-2 'valid' conv and a 3x3 stride-2 max
pool; residual blocks of two 3x3 convs; four down-sampling blocks whose
first conv has stride 2 ('valid') and whose shortcut is a 2x2 average pool
with zero channels appended (and, where the conv branch comes out one pixel
short, a zero row and column appended to it); a global average and the
256x128 ``fc``. Every conv is followed by its bias, a per-channel affine
"scale" layer and (except the second conv of a block) a ReLU; bias and scale
are folded into the filters at load. Two faces of one person lie within
Euclidean distance 0.6 of each other (dlib's threshold).

The network expects a 150x150 chip aligned by five landmarks to dlib's
template with padding 0.25: :func:`align_chip` makes one from MediaPipe's
478-point face mesh. Docs: ``docs/face-descriptor.md``.

Speed assumes one BLAS thread per process (a few tens of ms per face);
with more, the small matrix products get slower, not faster.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import ModelError, ParameterError
from interview_guard.io.model_files import verified_model_path

__all__ = [
    "FaceDescriber",
    "align_chip",
    "chip_transform",
    "MODEL_FILE",
    "MODEL_MANIFEST",
    "CHIP_SIZE",
    "CHIP_PADDING",
    "DESCRIPTOR_DIM",
    "SAME_PERSON_DISTANCE",
    "LANDMARKS_5",
    "TEMPLATE_5",
]

MODEL_FILE = "face_recognition_model.bin"
MODEL_MANIFEST = "face_recognition_model-weights_manifest.json"

CHIP_SIZE = 150
CHIP_PADDING = 0.25
DESCRIPTOR_DIM = 128
#: dlib's decision threshold: two descriptors closer than this are one person.
SAME_PERSON_DISTANCE = 0.6

#: dlib's 5-point template on the unit square (``get_face_chip_details``): the
#: subject's left eye outer and inner corner, right eye outer and inner corner,
#: base of the nose (image x grows to the subject's left).
TEMPLATE_5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
#: The MediaPipe face-mesh points that match :data:`TEMPLATE_5`, in its order.
LANDMARKS_5 = (263, 362, 33, 133, 2)
_N_MESH = 478

_MEAN_RGB = np.array([122.782, 117.001, 104.298], dtype=np.float32)
_BATCH = 16  # chips per forward pass: bounds the im2col buffers (~40 MB)

# (block name, down-sampling?) in network order, after the stem ``conv32_down``.
_BLOCKS = (
    ("conv32_1", False),
    ("conv32_2", False),
    ("conv32_3", False),
    ("conv64_down", True),
    ("conv64_1", False),
    ("conv64_2", False),
    ("conv64_3", False),
    ("conv128_down", True),
    ("conv128_1", False),
    ("conv128_2", False),
    ("conv256_down", True),
    ("conv256_1", False),
    ("conv256_2", False),
    ("conv256_down_out", True),
)


# -- weights ---------------------------------------------------------------------------


def _read_tensors(bin_path: Path, manifest_path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the .bin, dequantised to float32, by name."""
    try:
        spec = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = spec[0]["weights"]
        names = [str(e["name"]) for e in entries]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelError(f"{manifest_path}: cannot read the tensor list ({exc.__class__.__name__})") from None
    try:
        raw = bin_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{bin_path}: cannot read the weights ({exc.__class__.__name__})") from None
    out: dict[str, np.ndarray] = {}
    pos = 0
    for e, name in zip(entries, names, strict=True):
        try:
            shape = tuple(int(s) for s in e["shape"])
            q = e.get("quantization")
            count = int(np.prod(shape, dtype=np.int64))
            if q is None:
                if e["dtype"] != "float32":
                    raise ValueError(f"dtype {e['dtype']}")
                nbytes = 4 * count
                chunk = raw[pos : pos + nbytes]
                if len(chunk) != nbytes:
                    raise EOFError
                arr = np.frombuffer(chunk, dtype="<f4").astype(np.float32)
            else:
                if q["dtype"] != "uint8":
                    raise ValueError(f"quantization {q['dtype']}")
                nbytes = count
                chunk = raw[pos : pos + nbytes]
                if len(chunk) != nbytes:
                    raise EOFError
                arr = (np.frombuffer(chunk, dtype=np.uint8) * float(q["scale"]) + float(q["min"])).astype(np.float32)
            out[name] = arr.reshape(shape)
        except EOFError:
            raise ModelError(f"{bin_path}: truncated: ends inside tensor {name!r} (at byte {len(raw)})") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{manifest_path}: bad entry for tensor {name!r} ({exc})") from None
        pos += nbytes
    if pos != len(raw):
        raise ModelError(f"{bin_path}: {len(raw) - pos} bytes left over after the {len(names)} listed tensors")
    return out


class _Conv:
    """One conv layer with its bias and scale folded in: filters as an im2col matrix."""

    __slots__ = ("k", "cin", "cout", "w", "b", "window_view")

    def __init__(self, t: dict[str, np.ndarray], prefix: str, bin_path: Path) -> None:
        try:
            f = t[f"{prefix}/conv/filters"]
            bias = t[f"{prefix}/conv/bias"]
            sw = t[f"{prefix}/scale/weights"]
            sb = t[f"{prefix}/scale/biases"]
        except KeyError as exc:
            raise ModelError(f"{bin_path}: tensor {exc.args[0]!r} missing") from None
        kh, kw, cin, cout = f.shape
        if kh != kw or bias.shape != (cout,) or sw.shape != (cout,) or sb.shape != (cout,):
            raise ModelError(f"{bin_path}: layer {prefix!r} has inconsistent shapes")
        self.k, self.cin, self.cout = int(kh), int(cin), int(cout)
        # rows in the patch order of __call__: (c, kh, kw) for the RGB stem, (kh, kw, c) otherwise
        self.window_view = cin < 16
        w = (np.transpose(f, (2, 0, 1, 3)) if self.window_view else f).reshape(kh * kw * cin, cout) * sw
        self.w = np.ascontiguousarray(w, dtype=np.float32)
        self.b = (bias * sw + sb).astype(np.float32)

    def __call__(self, x: np.ndarray, *, stride: int = 1, same: bool = True, relu: bool = True) -> np.ndarray:
        """NHWC float32 in and out; 'same' (stride 1) or 'valid' padding."""
        k = self.k
        if same and k > 1:
            p = k // 2
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        n, h, w, c = x.shape
        oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
        if self.window_view:  # few channels: one copy of a sliding-window view is the faster im2col
            view = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
            cols = view.reshape(n * oh * ow, c * k * k)
        else:  # many channels: k*k strided slice copies, each with long contiguous rows
            patches = np.empty((n, oh, ow, k, k, c), dtype=np.float32)
            for i in range(k):
                for j in range(k):
                    patches[:, :, :, i, j] = x[
                        :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride
                    ]
            cols = patches.reshape(n * oh * ow, k * k * c)
        y = cols @ self.w
        y += self.b
        if relu:
            np.maximum(y, 0.0, out=y)
        return y.reshape(n, oh, ow, self.cout)


def _max_pool_3s2(x: np.ndarray) -> np.ndarray:
    """3x3 max pool, stride 2, 'valid'."""
    n, h, w, c = x.shape
    oh, ow = (h - 3) // 2 + 1, (w - 3) // 2 + 1
    out = x[:, 0 : 2 * oh - 1 : 2, 0 : 2 * ow - 1 : 2]
    for dy in range(3):
        for dx in range(3):
            if dy or dx:
                out = np.maximum(out, x[:, dy : dy + 2 * oh - 1 : 2, dx : dx + 2 * ow - 1 : 2])
    return out


def _avg_pool_2s2(x: np.ndarray) -> np.ndarray:
    """2x2 average pool, stride 2, 'valid'."""
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    x = x[:, : 2 * oh, : 2 * ow]
    return (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) * np.float32(0.25)


class FaceDescriber:
    """128-d identity descriptors of aligned face chips.

    Parameters
    ----------
    models_dir : path, optional
        Where the weights are (see :mod:`interview_guard.io.model_files`).

    Raises
    ------
    ModelError
        A weights file is missing, altered, truncated or malformed (the message names it).

    Examples
    --------
    >>> d = FaceDescriber()                                    # doctest: +SKIP
    >>> chips = np.stack([align_chip(frame, landmarks)])       # doctest: +SKIP
    >>> d.describe(chips).shape                                # doctest: +SKIP
    (1, 128)
    """

    def __init__(self, models_dir: str | os.PathLike[str] | None = None) -> None:
        d = None if models_dir is None else Path(models_dir)
        bin_path = verified_model_path(MODEL_FILE, d)
        manifest_path = verified_model_path(MODEL_MANIFEST, d)
        self.model_path = bin_path
        t = _read_tensors(bin_path, manifest_path)
        self._stem = _Conv(t, "conv32_down", bin_path)
        self._blocks = [
            (_Conv(t, f"{name}/conv1", bin_path), _Conv(t, f"{name}/conv2", bin_path), down) for name, down in _BLOCKS
        ]
        fc = t.get("fc")
        if fc is None or fc.shape != (self._blocks[-1][1].cout, DESCRIPTOR_DIM):
            raise ModelError(f"{bin_path}: tensor 'fc' missing or of the wrong shape")
        self._fc = np.ascontiguousarray(fc, dtype=np.float32)
        if self._stem.k != 7 or self._stem.cin != 3:
            raise ModelError(f"{bin_path}: the first layer is not a 7x7 conv on RGB")

    def describe(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors of aligned chips.

        Parameters
        ----------
        chips : ndarray of uint8, shape (n, 150, 150, 3)
            RGB chips from :func:`align_chip`.

        Returns
        -------
        ndarray of float32, shape (n, 128)

        Raises
        ------
        ParameterError
            (a ``ValueError``) Not a uint8 array of that shape.
        """
        if not isinstance(chips, np.ndarray) or chips.dtype != np.uint8 or chips.ndim != 4:
            what = f"{chips.dtype} {chips.shape}" if isinstance(chips, np.ndarray) else type(chips).__name__
            raise ParameterError(f"expected uint8 chips of shape (n, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {what}")
        if chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ParameterError(
                f"expected uint8 chips of shape (n, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {chips.dtype} {chips.shape}"
            )
        out = np.empty((chips.shape[0], DESCRIPTOR_DIM), dtype=np.float32)
        for i in range(0, chips.shape[0], _BATCH):
            out[i : i + _BATCH] = self._forward(chips[i : i + _BATCH])
        return out

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - _MEAN_RGB) * np.float32(1.0 / 256.0)
        x = self._stem(x, stride=2, same=False)
        x = _max_pool_3s2(x)
        for conv1, conv2, down in self._blocks:
            if down:
                y = conv2(conv1(x, stride=2, same=False), relu=False)
                short = _avg_pool_2s2(x)
                if y.shape[1:3] != short.shape[1:3]:  # the 'valid' conv came out a pixel short
                    y = np.pad(y, ((0, 0), (0, short.shape[1] - y.shape[1]), (0, short.shape[2] - y.shape[2]), (0, 0)))
                y[..., : short.shape[3]] += short  # the shortcut's extra channels are zeros
            else:
                y = conv2(conv1(x), relu=False)
                y += x
            x = np.maximum(y, 0.0, out=y)
        return x.mean(axis=(1, 2), dtype=np.float32) @ self._fc


# -- alignment -------------------------------------------------------------------------


def chip_transform(
    points: np.ndarray, *, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> tuple[np.ndarray, float]:
    """The similarity transform from chip pixels to image pixels, by least squares.

    Parameters
    ----------
    points : ndarray, shape (5, 2)
        Image pixel coordinates of the five points of :data:`TEMPLATE_5`, in its order.
    size, padding
        Chip side (px) and border around the template (fraction of its size), as dlib.

    Returns
    -------
    m : ndarray of float64, shape (2, 3)
        ``image = m[:, :2] @ chip + m[:, 2]`` (what dlib's ``find_similarity_transform`` fits).
    scale : float
        Image pixels per chip pixel.
    """
    src = (padding + TEMPLATE_5) / (2 * padding + 1) * size  # chip coordinates
    dst = np.asarray(points, dtype=np.float64)
    # image_x = a*x - b*y + tx ; image_y = b*x + a*y + ty
    a_mat = np.zeros((10, 4))
    a_mat[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(5), np.zeros(5)])
    a_mat[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(5), np.ones(5)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(a_mat, dst.reshape(-1), rcond=None)
    m = np.array([[a, -b, tx], [b, a, ty]])
    return m, float(np.hypot(a, b))


def align_chip(
    rgb: np.ndarray, landmarks: np.ndarray, *, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> np.ndarray:
    """The face chip the descriptor network expects, cut out of one frame.

    Five points of MediaPipe's face mesh (:data:`LANDMARKS_5`: outer and inner
    eye corners, base of the nose) are mapped by a similarity transform onto
    dlib's 5-point template, as dlib's ``get_face_chip_details`` and
    ``extract_image_chip`` do: bilinear sampling, black outside the frame,
    and a 2x image pyramid first when the face is more than twice the chip.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (h, w, 3)
    landmarks : ndarray, shape (478, 2) or (478, 3)
        Normalised face-mesh coordinates (x / width, y / height), as the landmarker returns.

    Returns
    -------
    ndarray of uint8, shape (size, size, 3)

    Raises
    ------
    ParameterError
        (a ``ValueError``) Wrong shapes, or the five points are not finite or coincide.
    """
    import cv2  # noqa: PLC0415 - heavy, imported only when chips are cut

    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        what = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ParameterError(f"expected an RGB uint8 image of shape (h, w, 3), got {what}")
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] != _N_MESH or lm.shape[1] not in (2, 3):
        raise ParameterError(f"expected face-mesh landmarks of shape ({_N_MESH}, 2 or 3), got {lm.shape}")
    if size < 8 or not 0.0 <= padding <= 2.0:
        raise ParameterError(f"chip size {size} or padding {padding} out of range (size >= 8, 0 <= padding <= 2)")
    h, w = rgb.shape[:2]
    pts = lm[list(LANDMARKS_5), :2] * (w, h)
    if not np.isfinite(pts).all():
        raise ParameterError("the five alignment landmarks are not all finite")
    if np.ptp(pts, axis=0).max() < 1.0:
        raise ParameterError("the five alignment landmarks coincide (face under one pixel)")
    m, scale = chip_transform(pts, size=size, padding=padding)
    img = rgb
    while scale > 2.0 and min(img.shape[:2]) >= 4:  # dlib's pyramid_down<2>: avoid aliasing on big faces
        img = cv2.pyrDown(img)
        m /= 2.0
        scale /= 2.0
    chip: Any = cv2.warpAffine(
        np.ascontiguousarray(img),
        m,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(chip, dtype=np.uint8)
