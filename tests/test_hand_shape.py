"""Fingers read shorter over the face than beside it (a face painted over the hand), or the same (a real hand)."""

import numpy as np
import pytest

from interview_guard.signals.face_geometry import FACE_OVAL
from interview_guard.signals.hand_shape import FINGERS, MIN_OVER, MIN_REFERENCE, finger_readings, hand_shape

N = 40
T = np.arange(N) / 20.0  # the crossing: 0.5-1.5 s, padded 0.6 s each way by default


def _face() -> np.ndarray:
    lm = np.full((N, 478, 3), 0.5)
    ang = np.linspace(0, 2 * np.pi, FACE_OVAL.size, endpoint=False)
    lm[:, FACE_OVAL, 0] = 0.5 + 0.1 * np.cos(ang)  # a face 0.2 wide and 0.3 high, centred at (0.5, 0.5)
    lm[:, FACE_OVAL, 1] = 0.5 + 0.15 * np.sin(ang)
    return lm


def _hand(x: float, y: float, *, finger: float = 0.06, cut_over=None, aspect: float = 1.0, tilt: float = 0.0):
    """A hand with its wrist at (x, y) and five straight fingers pointing up (``tilt`` radians to the right);
    ``cut_over(tip) -> factor`` shortens a finger whose tip is at ``tip``."""
    h = np.zeros((21, 3))
    h[0, :2] = x, y
    for f, chain in enumerate(FINGERS):
        base = np.array([x + (f - 2) * 0.012, y - 0.05])
        d = np.array([np.sin(tilt) / aspect, -np.cos(tilt)])  # the same length in pixels whatever the direction
        length = finger * (0.8 if f == 0 else 1.0)
        tip = base + d * length
        if cut_over is not None:
            length *= cut_over(tip)
        for k, j in enumerate(chain):
            h[j, :2] = base + d * length * (k / 3.0)
    return h


def _track(xs, ys, **kw):
    hl = np.full((N, 2, 21, 3), np.nan)
    for i in range(N):
        hl[i, 0] = _hand(xs[i], ys[i], **kw)
    return hl


def _shape(hl, **kw):
    return hand_shape(
        t=T, face_present=np.ones(N, bool), face_landmarks=_face(), hand_landmarks=hl,
        hand_count=np.isfinite(hl[:, :, 0, 0]).sum(axis=1), start_s=0.5, end_s=1.5, **kw,
    )  # fmt: skip


def _inside_face(p) -> bool:
    return ((p[0] - 0.5) / 0.1) ** 2 + ((p[1] - 0.5) / 0.15) ** 2 < 1.0


ACROSS = np.linspace(0.25, 0.75, N)  # the wrist passes from beside the face on the left to beside it on the right
LEVEL = np.full(N, 0.62)  # the fingers reach up over the eyes


def test_a_real_hand_keeps_its_fingers_over_the_face():
    got = _shape(_track(ACROSS, LEVEL))
    assert got["over"] >= 20 and got["beside"] >= 20
    assert got["ratio_p10"] == pytest.approx(1.0, abs=1e-6) and got["ratio_median"] == pytest.approx(1.0, abs=1e-6)


def test_fingers_cut_short_over_the_face_are_read_short():
    got = _shape(_track(ACROSS, LEVEL, cut_over=lambda tip: 0.6 if _inside_face(tip) else 1.0))
    assert got["ratio_p10"] == pytest.approx(0.6, abs=0.01)
    assert 0.5 <= got["shortest_at_s"] <= 1.5  # a frame with the hand over the face


def test_a_hand_never_beside_the_face_has_no_reference():
    # held over the face the whole time (raised from outside the frame, first found over the face)
    got = _shape(_track(np.full(N, 0.5), LEVEL, cut_over=lambda tip: 0.5 if _inside_face(tip) else 1.0))
    assert got["ratio_p10"] is None and got["shortest_at_s"] is None


def test_no_hand_no_measure():
    got = _shape(np.full((N, 2, 21, 3), np.nan))
    assert got == {"ratio_p10": None, "ratio_median": None, "shortest_at_s": None, "over": 0, "beside": 0}


def test_a_hand_elsewhere_in_the_frame_is_not_read():
    # the other hand on the desk, far below the face, with its fingers short in some frames: not the crossing hand
    hl = _track(np.full(N, 0.5), np.full(N, 1.1), cut_over=lambda tip: 0.5)
    assert finger_readings(
        t=T, face_present=np.ones(N, bool), face_landmarks=_face(), hand_landmarks=hl,
        hand_count=np.ones(N, int), start_s=0.5, end_s=1.5,
    ).shape == (0, 7)  # fmt: skip


@pytest.mark.parametrize("tilt", [0.0, 0.8])
def test_lengths_are_in_pixels_whatever_the_frame_shape(tilt):
    # a 16:9 frame: normalised x is squeezed; a finger turning from upright to slanted keeps its length in pixels
    aspect = 16 / 9
    hl = _track(ACROSS, LEVEL, aspect=aspect)
    for i in range(N // 2, N):  # tilted once past the face's centre: the reference is upright, over the face slanted
        hl[i, 0] = _hand(ACROSS[i], LEVEL[i], aspect=aspect, tilt=tilt)
    got = _shape(hl, aspect=aspect)
    assert got["ratio_p10"] == pytest.approx(1.0, abs=1e-6)


def test_a_reference_needs_enough_readings_beside_the_face():
    # beside the face in only MIN_REFERENCE - 1 frames of the padded window: no reference, no measure
    xs = np.full(N, 0.5)
    xs[: MIN_REFERENCE - 1] = 0.33
    hl = _track(xs, LEVEL, cut_over=lambda tip: 0.5 if _inside_face(tip) else 1.0)
    got = hand_shape(
        t=T, face_present=np.ones(N, bool), face_landmarks=_face(), hand_landmarks=hl,
        hand_count=np.ones(N, int), start_s=0.0, end_s=2.0, pad_s=0.0,
    )  # fmt: skip
    assert got["ratio_p10"] is None and got["beside"] == 5 * (MIN_REFERENCE - 1)


def test_fingers_under_the_chin_are_no_reference():
    # raised from below: long under the chin (fingers up, flat to the camera), over the face tipped towards it
    ys = np.r_[np.linspace(1.0, 0.62, N // 2), np.full(N - N // 2, 0.62)]
    hl = _track(np.full(N, 0.5), ys, cut_over=lambda tip: 0.7 if _inside_face(tip) else 1.0)
    readings = finger_readings(
        t=T, face_present=np.ones(N, bool), face_landmarks=_face(), hand_landmarks=hl,
        hand_count=np.ones(N, int), start_s=0.5, end_s=1.5,
    )  # fmt: skip
    assert (readings[:, 4] == 0).sum() >= 3 * 5  # seen wholly outside the face, under the chin
    got = _shape(hl)
    assert got["ratio_p10"] is None and got["beside"] == 0


def test_fingers_read_at_many_lengths_beside_the_face_give_no_reference():
    # a hand turning as it comes (or a landmarker unsure of it): half the frames beside the face at 0.6 of the length
    hl = _track(ACROSS, LEVEL, cut_over=lambda tip: 0.6 if _inside_face(tip) else 1.0)
    short = _track(ACROSS, LEVEL, finger=0.036)
    hl[::2] = short[::2]
    assert _shape(hl)["ratio_p10"] is None
    assert _shape(_track(ACROSS, LEVEL, cut_over=lambda tip: 0.6 if _inside_face(tip) else 1.0))["ratio_p10"] < 0.7


def test_fingers_cut_is_given_on_the_median_reading_and_only_when_measured():
    from interview_guard.signals.crossing_verdicts import FINGERS_CUT, NEVER_COVERED_CAP, fingers_cut_verdict

    assert fingers_cut_verdict(None) is None
    assert fingers_cut_verdict({"ratio_p10": None, "ratio_median": None}) is None  # nothing beside the face: no verdict
    assert fingers_cut_verdict({"ratio_p10": 0.95, "ratio_median": 1.0}) < 0.1
    # a real hand read short in a tenth of its frames (a tuning face's genuine wave): not cut
    assert fingers_cut_verdict({"ratio_p10": 0.73, "ratio_median": 0.97}) < 0.2
    assert fingers_cut_verdict({"ratio_p10": 0.6, "ratio_median": 0.7}) == NEVER_COVERED_CAP  # a look, never decisive
    assert fingers_cut_verdict({"ratio_p10": 0.8, "ratio_median": FINGERS_CUT[0]}) == 0.5


def test_one_frame_over_the_face_is_no_measure():
    # the fingers cut short, but over the face in one frame only (then lost): too few readings to say anything
    hl = _track(ACROSS, LEVEL, cut_over=lambda tip: 0.6 if _inside_face(tip) else 1.0)
    over = [i for i in range(N) if any(_inside_face(hl[i, 0, j, :2]) for j in FINGERS[:, -1])]
    hl[over[1:]] = np.nan
    got = _shape(hl)
    assert got["over"] < MIN_OVER and got["ratio_median"] is None
