"""Which way the hand went over the face: side to side, from below, from one side, or not tracked."""

import numpy as np
import pytest

from interview_guard.signals.face_geometry import FACE_OVAL
from interview_guard.signals.hand_path import FEATURES, MIN_ROWS, hand_path

N = 40
T = np.arange(N) / 20.0


def _face() -> np.ndarray:
    lm = np.full((N, 478, 3), 0.5)
    ang = np.linspace(0, 2 * np.pi, FACE_OVAL.size, endpoint=False)
    lm[:, FACE_OVAL, 0] = 0.5 + 0.1 * np.cos(ang)  # a face 0.2 wide and 0.3 high, centred at (0.5, 0.5)
    lm[:, FACE_OVAL, 1] = 0.5 + 0.15 * np.sin(ang)
    return lm


def _hands(xs, ys, seen=None):
    hl = np.full((N, 2, 21, 3), np.nan)
    seen = np.ones(N, bool) if seen is None else seen
    for i in range(N):
        if seen[i]:
            hl[i, 0, :, 0] = xs[i] + np.linspace(-0.02, 0.02, 21)
            hl[i, 0, :, 1] = ys[i] + np.linspace(-0.03, 0.03, 21)
            hl[i, 0, :, 2] = 0.0
    return hl, seen.astype(int)


def _path(xs, ys, seen=None, **kw):
    hl, count = _hands(xs, ys, seen)
    return hand_path(
        t=T, face_present=np.ones(N, bool), face_landmarks=_face(), hand_landmarks=hl, hand_count=count,
        start_s=0.5, end_s=1.5, **kw,
    )  # fmt: skip


def test_a_pass_across_the_face_is_side_to_side():
    got = _path(np.linspace(0.3, 0.7, N), np.full(N, 0.5))
    assert got["path"] == "side to side" and got["x_span_faces"] > 1.0


def test_a_hand_raised_from_below_and_held_is_from_below():
    ys = np.r_[np.linspace(0.85, 0.5, N // 2), np.full(N - N // 2, 0.5)]
    assert _path(np.full(N, 0.52), ys)["path"] == "from below"
    assert _path(np.full(N, 0.52), 1.0 - ys)["path"] == "from above"


def test_a_hand_that_comes_in_from_one_side_and_goes_back_is_from_one_side():
    xs = np.r_[np.linspace(0.3, 0.5, N // 2), np.linspace(0.5, 0.3, N - N // 2)]
    assert _path(xs, np.full(N, 0.5))["path"] == "from one side"


def test_a_hand_seen_in_too_few_frames_has_no_path():
    seen = np.zeros(N, bool)
    seen[20 : 20 + MIN_ROWS - 1] = True
    got = _path(np.linspace(0.3, 0.7, N), np.full(N, 0.5), seen=seen)
    rest = {k: v for k, v in got.items() if k not in ("outside_peak", "features_peak", "sides_at_features")}
    assert rest == {"path": None, "x_span_faces": None, "rows": MIN_ROWS - 1}
    assert got["outside_peak"] is not None  # measured in the frames it was seen in all the same


@pytest.mark.parametrize("pad", [0.0, 0.6])
def test_only_the_crossing_and_its_pad_count(pad):
    # across the face only before the crossing's window: with no pad the hand is seen on one side only
    xs = np.r_[np.linspace(0.3, 0.7, 10), np.full(N - 10, 0.7)]
    got = _path(xs, np.full(N, 0.5), pad_s=pad)
    assert got["path"] == ("side to side" if pad else "from one side")


def test_hand_path_measures_how_much_of_the_hand_was_seen_outside_the_face():
    n = 6
    t = np.arange(n) / 30.0
    face = np.full((n, 478, 3), 0.5)
    face[:, FACE_OVAL, 0] = np.linspace(0.3, 0.7, len(FACE_OVAL))  # the face's box: 0.3-0.7 both ways
    face[:, FACE_OVAL, 1] = np.linspace(0.7, 0.3, len(FACE_OVAL))
    hand = np.full((n, 2, 21, 3), np.nan)
    hand[:, 0] = 0.5  # on the face's centre in every frame
    hand[:, 0, :, 0] = np.linspace(0.45, 0.55, 21)
    count = np.ones(n, dtype=int)

    def peak(h):
        return hand_path(t=t, face_present=np.ones(n, bool), face_landmarks=face, hand_landmarks=h,
                         hand_count=count, start_s=0.0, end_s=t[-1])["outside_peak"]  # fmt: skip

    assert peak(hand) == 0.0  # only ever on the face
    came = hand.copy()
    came[0, 0, :, 0] = np.linspace(0.1, 0.4, 21)  # first seen beside it: 14 of its 21 landmarks outside
    assert peak(came) == round(14 / 21, 3)
    assert hand_path(t=t, face_present=np.zeros(n, bool), face_landmarks=face, hand_landmarks=hand,
                     hand_count=count, start_s=0.0, end_s=t[-1])["outside_peak"] is None  # fmt: skip


def _palm(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    """21 hand landmarks spread over a w x h box centred at (cx, cy) (a 7 x 3 grid: a hull with area)."""
    gx, gy = np.meshgrid(np.linspace(-w / 2, w / 2, 7), np.linspace(-h / 2, h / 2, 3))
    return np.c_[cx + gx.ravel(), cy + gy.ravel(), np.zeros(21)]


def _at_features(centres, w: float = 0.12, h: float = 0.1) -> dict:
    """``hand_path`` of a w x h palm at ``centres`` (one per frame, 30 a second) over a face with its features where
    a face has them: eyes 0.05 above the centre, nose at it, mouth 0.06 below."""
    n = len(centres)
    t = np.arange(n) / 30.0
    face = np.concatenate([_face()] * (1 + n // N))[:n]
    eyes, nose, mouth = FEATURES[:4], FEATURES[4:5], FEATURES[5:]
    face[:, eyes, 0], face[:, eyes, 1] = np.linspace(0.44, 0.56, 4), 0.45
    face[:, nose, 0], face[:, nose, 1] = 0.5, 0.5
    face[:, mouth, 0], face[:, mouth, 1] = np.linspace(0.47, 0.53, mouth.size), 0.56
    hand = np.full((n, 2, 21, 3), np.nan)
    for i, c in enumerate(centres):
        if c is not None:
            hand[i, 0] = _palm(c[0], c[1], w, h)
    count = np.array([int(c is not None) for c in centres])
    return hand_path(t=t, face_present=np.ones(n, bool), face_landmarks=face, hand_landmarks=hand,
                     hand_count=count, start_s=0.0, end_s=t[-1])  # fmt: skip


def test_features_peak_tells_a_hand_over_the_features_from_one_resting_at_the_jaw():
    n = 8
    # raised from below to the chin and held there (its top edge under the mouth): no feature under it
    assert _at_features([(0.52, y) for y in np.linspace(0.9, 0.68, n)])["features_peak"] == 0.0
    # raised on over the mouth: the mouth's points (4 of 9) under it at most
    peak = _at_features([(0.5, y) for y in np.linspace(0.9, 0.6, n)])["features_peak"]
    assert peak == round(FEATURES[5:].size / FEATURES.size, 3)
    # a palm over the whole face, passed across it: every feature under it when it is at the centre
    xs = np.r_[np.linspace(0.2, 0.5, n // 2), np.linspace(0.5, 0.8, n - n // 2)]
    assert _at_features([(x, 0.5) for x in xs], w=0.2, h=0.2)["features_peak"] == 1.0
    assert _at_features([None] * n)["features_peak"] is None


def test_sides_at_features_tells_a_pass_across_the_features_from_a_sway_under_the_mouth():
    n = 12
    xs = np.linspace(0.4, 0.6, n)  # from 0.5 face widths left of the face's centre to 0.5 right of it

    def got(ys):
        return _at_features(list(zip(xs, ys)))

    # a hand the chin rests on, swaying from one side to the other with its top edge under the mouth (0.56)
    chin = got(np.full(n, 0.64))
    assert chin["path"] == "side to side" and chin["sides_at_features"] is False
    # the same pass at the nose's height, or with its top edge over the mouth: across the features
    assert got(np.full(n, 0.5))["sides_at_features"] is True
    assert got(np.full(n, 0.6))["sides_at_features"] is True
    # at the features' height on one side only: not across them
    assert got(np.r_[np.full(n // 2, 0.5), np.full(n - n // 2, 0.64)])["sides_at_features"] is False
    # over the eyes (its bottom edge above them, 0.45) the whole way: not across the features either
    assert got(np.full(n, 0.36))["sides_at_features"] is False
    assert _at_features([None] * n)["sides_at_features"] is None


def test_a_hand_on_the_desk_is_no_sighting_of_the_hand_at_the_face():
    """Round 24: the other hand resting on the desk below the face (a newsreader's clasped hands), tracked in every
    frame, stood in for the crossing hand wherever the landmarker lost it: seen in every frame, wholly outside the
    face, never over the features."""
    from interview_guard.signals.hand_path import AT_FACE, hands_at_face

    seen = np.zeros(N, bool)
    seen[8:12] = True  # the crossing hand, seen beside the face as it comes in, then lost over it
    hl, _ = _hands(np.full(N, 0.35), np.full(N, 0.5), seen)
    desk_y = 0.5 + (AT_FACE + 0.5) * 0.3  # face heights under the face's centre, beyond AT_FACE
    hl[:, 1, :, 0] = 0.5 + np.linspace(-0.03, 0.03, 21)
    hl[:, 1, :, 1] = desk_y + np.linspace(-0.02, 0.02, 21)
    hl[:, 1, :, 2] = 0.0
    count = seen.astype(int) + 1
    kw = dict(face_present=np.ones(N, bool), face_landmarks=_face(), hand_landmarks=hl, hand_count=count)
    got = hand_path(t=T, **kw, start_s=0.5, end_s=1.5)
    alone = _path(np.full(N, 0.35), np.full(N, 0.5), seen=seen)
    assert got == alone and got["rows"] == 4, (got, alone)
    at = hands_at_face(**kw)
    assert np.array_equal(at, seen)
    # a frame without a face (a hand over it hides it from the face landmarker): a tracked hand there is at the face
    kw["face_present"] = np.r_[np.zeros(1, bool), np.ones(N - 1, bool)]
    assert hands_at_face(**kw)[0] and not hands_at_face(**kw)[1]
    # just inside AT_FACE it is a hand at the face
    hl[:, 1, :, 1] = 0.5 + (AT_FACE - 0.1) * 0.3 + np.linspace(-0.02, 0.02, 21)
    assert hands_at_face(**kw).all()
