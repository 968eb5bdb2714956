"""The enrolment photo: the candidate's face from their application or ID, as an identity descriptor.

``session.json`` may name a photo (``enrolment_photo``, a path relative to the
session directory; :class:`~interview_guard.tracks.metadata.SessionMetadata`
refuses absolute paths and ``..``). :func:`describe_enrolment_photo` reads it
(refusing a symbolic link that leads out of the directory), finds its faces
with MediaPipe's face landmarker in IMAGE mode, and describes the face when
there is exactly one (:mod:`interview_guard.io.face_descriptor`). No face,
several faces or an unreadable file is a status, not an error: the identity
analyzer says so and trusts its verdict less.

The size the image declares is read from its header before it is decoded
(:mod:`interview_guard.io.image_header`): a photo in another format, or of
more than :data:`MAX_PHOTO_PIXELS`, is unreadable (a small file can declare a
decompression bomb of billions of pixels). A photo whose longer side is over
:data:`MAX_PHOTO_SIDE` is scaled down before MediaPipe sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from interview_guard.errors import InputError
from interview_guard.io.image_header import ImageHeaderError, image_size

__all__ = ["Enrolment", "describe_enrolment_photo", "MAX_PHOTO_BYTES", "MAX_PHOTO_PIXELS", "MAX_PHOTO_SIDE"]

#: Largest photo read (an ID photo or a portrait is far smaller).
MAX_PHOTO_BYTES = 40 * 1024 * 1024
#: Most pixels a photo may declare (40 megapixels: 120 MB decoded; a phone's photo has 12-50).
MAX_PHOTO_PIXELS = 40_000_000
#: Longer side of the image MediaPipe and the descriptor see; a larger photo is scaled down to it.
MAX_PHOTO_SIDE = 2048


@dataclass(frozen=True)
class Enrolment:
    """What became of the enrolment photo.

    Attributes
    ----------
    descriptor : ndarray of float32, shape (128,), or None
        Set when ``status`` is ``"ok"``.
    status : str
        ``ok``, ``no_face``, ``several_faces`` or ``unreadable``
        (:data:`~interview_guard.tracks.identity.ENROLMENT_STATUSES`).
    note : str
        One line for a human: the file and what was found.
    """

    descriptor: np.ndarray | None
    status: str
    note: str


def describe_enrolment_photo(
    session_dir: str | PathLike[str],
    relative: str,
    *,
    models_dir: str | PathLike[str] | None = None,
    describer: object | None = None,
) -> Enrolment:
    """Read, landmark and describe the enrolment photo ``relative`` of the session in ``session_dir``.

    Parameters
    ----------
    session_dir : path
        The session directory.
    relative : str
        ``SessionMetadata.enrolment_photo`` (already checked to stay inside, by its text).
    models_dir : path, optional
    describer : FaceDescriber, optional
        Reused when given (the scan has one loaded).

    Returns
    -------
    Enrolment

    Raises
    ------
    InputError
        The path leads out of the session directory (through a symbolic link); the message names the file.
    ModelError
        A model file is missing or altered.
    """
    root = Path(session_dir)
    p = root / relative
    try:
        inside = p.resolve().is_relative_to(root.resolve())
    except OSError as exc:  # a link loop
        return Enrolment(None, "unreadable", f"enrolment photo {relative}: cannot be resolved ({exc.strerror})")
    if not inside:
        raise InputError("enrolment photo leads out of the session directory (symbolic link)", path=p)
    try:
        size = p.stat().st_size
        if not p.is_file():
            return Enrolment(None, "unreadable", f"enrolment photo {relative}: not a regular file")
        if size > MAX_PHOTO_BYTES:
            return Enrolment(None, "unreadable", f"enrolment photo {relative}: larger than {MAX_PHOTO_BYTES >> 20} MiB")
        raw = p.read_bytes()
    except FileNotFoundError:
        return Enrolment(None, "unreadable", f"enrolment photo {relative}: file not found")
    except OSError as exc:
        return Enrolment(None, "unreadable", f"enrolment photo {relative}: cannot be read ({exc.strerror})")
    try:
        fmt, w, h = image_size(raw)  # before decoding: a small file can declare billions of pixels
    except ImageHeaderError as exc:
        return Enrolment(None, "unreadable", f"enrolment photo {relative}: not a readable image ({exc})")
    if w * h > MAX_PHOTO_PIXELS:
        limit = f"more than {MAX_PHOTO_PIXELS // 1_000_000} megapixels"
        return Enrolment(None, "unreadable", f"enrolment photo {relative}: {fmt} of {w}x{h} pixels, {limit}")
    import cv2  # noqa: PLC0415 - heavy

    try:
        bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)  # applies the EXIF orientation
    except cv2.error:  # OpenCV's message is several lines of its source; the note says what matters
        bgr = None
    if bgr is None or bgr.ndim != 3 or min(bgr.shape[:2]) < 16:
        return Enrolment(None, "unreadable", f"enrolment photo {relative}: not a readable image")
    h, w = bgr.shape[:2]  # after the EXIF orientation
    if max(h, w) > MAX_PHOTO_SIDE:
        f = MAX_PHOTO_SIDE / max(h, w)
        small = (max(1, round(w * f)), max(1, round(h * f)))
        bgr = cv2.resize(bgr, small, interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    del bgr
    from interview_guard.io.face_descriptor import FaceDescriber, align_chip  # noqa: PLC0415
    from interview_guard.io.landmarks import FaceLandmarkerRunner, FaceRunnerOptions  # noqa: PLC0415

    opts = FaceRunnerOptions(num_faces=5, blendshapes=False, image_mode=True)
    with FaceLandmarkerRunner(opts, models_dir=models_dir) as runner:
        obs = runner.process(rgb, 0.0)
    if not obs.present:
        return Enrolment(None, "no_face", f"enrolment photo {relative} ({w}x{h}): no face found")
    if obs.n_faces > 1:
        return Enrolment(
            None, "several_faces", f"enrolment photo {relative} ({w}x{h}): {obs.n_faces} faces, which is the candidate?"
        )
    assert obs.landmarks is not None  # a present face has its landmarks
    d: Any = describer if describer is not None else FaceDescriber(models_dir)
    desc = d.describe(align_chip(rgb, obs.landmarks)[None])[0]
    return Enrolment(np.asarray(desc, np.float32), "ok", f"enrolment photo {relative} ({w}x{h}): one face")
