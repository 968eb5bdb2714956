"""Hand segmentation from unmasked photos: synthetic ground truth, the HaGRID collage, HandOverFace masks."""

import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared
from interview_guard.errors import ParameterError
from interview_guard.synth.hand_composite import load_hand_cutouts
from interview_guard.synth.hand_detect import collage_cells, extended_fingers, find_hands
from interview_guard.synth.hand_segment import segment_hand, segment_hand_mask
from interview_guard.synth.hands import hand_files, hand_sources

cv2 = pytest.importorskip("cv2")

HANDS = SHARED_DATA / "hands"

# measured on the shared data (see docs/hand-segmentation.md); bars set a little below
HOF_MEAN_IOU_BAR = 0.70  # measured 0.735 over the 10 HandOverFace photos
SAMPLES_COLLAGE_MIN_CUTOUTS = 2  # measured 2 (min_hand_px=40, >= 3 of 4 fingers extended)


def _synthetic_hand(seed: int = 3):
    """A skin-coloured hand (palm ellipse, five fingers, a forearm) on a textured background.

    Returns the image, hand-made landmarks (pixels) and the true hand mask (the
    forearm is not hand: the truth stops at the wrist line, 0.3 palm below the wrist point).
    """
    rng = np.random.default_rng(seed)
    H, W = 420, 400
    # textured, non-skin background: coloured blocks plus noise
    bg = np.zeros((H, W, 3), np.float32)
    for _ in range(40):
        x, y = rng.integers(0, W), rng.integers(0, H)
        w, h = rng.integers(20, 120, size=2)
        colour = rng.choice([(40, 70, 160), (60, 140, 70), (90, 90, 100), (30, 40, 60), (150, 160, 190)])
        bg[y : y + h, x : x + w] = colour
    bg += rng.normal(0, 12, bg.shape)
    img = np.clip(bg, 0, 255).astype(np.uint8)
    skin = (224, 172, 140)
    hand = np.zeros((H, W), np.uint8)
    wrist = np.array([200.0, 330.0])
    cv2.ellipse(hand, (200, 268), (56, 66), 0, 0, 360, 1, -1)
    knuckles = {5: (160, 222), 9: (190, 215), 13: (220, 218), 17: (246, 228)}
    tips = {5: (156, 112), 9: (190, 95), 13: (224, 108), 17: (258, 148)}
    lm = np.zeros((21, 2))
    lm[0] = wrist
    for base, tip in tips.items():
        k, t = np.array(knuckles[base], float), np.array(tip, float)
        cv2.line(hand, tuple(map(int, k)), tuple(map(int, t)), 1, 24)
        cv2.circle(hand, tuple(map(int, t)), 12, 1, -1)
        for j, f in enumerate((0.0, 0.45, 0.75, 1.0)):
            lm[base + j] = k + f * (t - k)
        lm[base + 3] = t + (t - k) / np.linalg.norm(t - k) * 10  # the tip landmark sits at the finger's end
    thumb = np.array([(158, 300), (128, 276), (106, 250), (92, 228)], float)
    for p0, p1 in zip(thumb[:-1], thumb[1:]):
        cv2.line(hand, tuple(map(int, p0)), tuple(map(int, p1)), 1, 26)
    cv2.circle(hand, tuple(map(int, thumb[-1])), 13, 1, -1)
    lm[1:5] = thumb
    arm = np.zeros_like(hand)
    cv2.rectangle(arm, (160, 300), (240, H), 1, -1)  # forearm, also skin
    shade = np.linspace(0.9, 1.05, H)[:, None, None]
    body = ((hand | arm) > 0)[..., None]
    skin_img = np.clip(np.array(skin, np.float32)[None, None] * shade + rng.normal(0, 5, img.shape), 0, 255)
    img = np.where(body, skin_img, img).astype(np.uint8)
    L = np.linalg.norm(lm[9] - lm[0])
    truth = ((hand | arm) > 0) & (np.arange(H)[:, None] < wrist[1] + 0.3 * L)
    return img, lm, truth


def test_segment_hand_matches_a_synthetic_hand():
    img, lm, truth = _synthetic_hand()
    assert extended_fingers(lm).all()
    alpha = segment_hand_mask(img, lm)
    pred = alpha > 0.5
    iou = (pred & truth).sum() / (pred | truth).sum()
    assert iou > 0.8, iou  # measured 0.94
    rgb, a = segment_hand(img, lm)
    assert rgb.shape[:2] == a.shape and rgb.dtype == np.uint8 and a.dtype == np.float32
    assert a.max() > 0.99 and a.min() < 0.01
    # nothing of the forearm far below the wrist
    assert alpha[int(lm[0, 1] + 60) :].max() < 0.05


def test_segment_hand_is_deterministic_and_checks_input():
    img, lm, _ = _synthetic_hand()
    a1 = segment_hand_mask(img, lm)
    a2 = segment_hand_mask(img, lm)
    assert np.array_equal(a1, a2)
    with pytest.raises(ParameterError):
        segment_hand(img, lm[:5])
    with pytest.raises(ParameterError):
        segment_hand(img.astype(np.float32), lm)
    with pytest.raises(ParameterError):
        segment_hand(img, lm, no_such_option=1)


def test_extended_fingers_fist():
    _, lm, _ = _synthetic_hand()
    fist = lm.copy()
    for base in (5, 9, 13, 17):  # fold the fingers back towards the palm
        k = lm[base]
        fist[base + 1] = k + (0, -20)
        fist[base + 2] = k + (0, 5)
        fist[base + 3] = k + (0, 25)
    assert extended_fingers(fist)[1:].sum() == 0


def test_collage_cells_on_a_grid():
    img = np.zeros((200, 300, 3), np.uint8)
    rng = np.random.default_rng(0)
    for r in range(2):
        for c in range(3):
            img[r * 100 : (r + 1) * 100, c * 100 : (c + 1) * 100] = rng.integers(0, 255, 3)
    img[:, :, :] = np.clip(img.astype(int) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)
    cells = collage_cells(img)
    assert len(cells) == 6 and (0, 0, 100, 100) in cells
    assert collage_cells(img[:100, :100]) == [(0, 0, 100, 100)]  # one photo stays whole


def test_hand_sources_lists_masked_and_unmasked(tmp_path):
    for name in ("a.jpg", "a_mask.png", "b.jpeg", "c.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    src = hand_sources(tmp_path)
    assert [(p.name, m.name if m else None) for p, m in src] == [
        ("a.jpg", "a_mask.png"),
        ("b.jpeg", None),
        ("c.png", None),
    ]
    assert hand_files(tmp_path) == [(tmp_path / "a.jpg", tmp_path / "a_mask.png")]
    assert load_hand_cutouts(tmp_path, include=lambda p: False) == []


@pytest.mark.shared
@needs_shared(HANDS)
def test_hagrid_collage_gives_hand_cutouts():
    cuts = load_hand_cutouts(HANDS, include=lambda p: p.name == "hagrid_samples_collage.jpg")
    assert len(cuts) >= SAMPLES_COLLAGE_MIN_CUTOUTS
    for c in cuts:
        assert c.source.startswith(str(HANDS / "hagrid_samples_collage.jpg") + "#box=")
        x, y, w, h = map(int, c.source.split("#box=")[1].split(","))
        assert 30 <= max(w, h) <= 300 and 0.3 < w / h < 3.0  # a hand's size and shape in the 2447x1634 collage
        assert c.rgb.shape[:2] == c.alpha.shape
        solid = (c.alpha > 0.5).mean()
        assert 0.25 < solid < 0.95 and c.alpha.max() > 0.99
    # cached: the same objects the second time
    again = load_hand_cutouts(HANDS, include=lambda p: p.name == "hagrid_samples_collage.jpg")
    assert [a.source for a in again] == [c.source for c in cuts] and again[0].rgb is cuts[0].rgb


@pytest.mark.shared
@needs_shared(HANDS)
def test_segmentation_against_handoverface_masks():
    """The honest check: detected landmarks + our segmentation vs the HandOverFace ground-truth masks."""
    pairs = [(img, mask) for img, mask in hand_files(HANDS) if img.name.startswith("handoverface_")]
    assert len(pairs) >= 8
    ious = []
    for img_path, mask_path in pairs:
        img = cv2.cvtColor(cv2.imread(str(img_path)), cv2.COLOR_BGR2RGB)
        truth = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
        pred = np.zeros(truth.shape, np.float32)
        for det in find_hands(img, min_hand_px=20):
            pred = np.maximum(pred, segment_hand_mask(img, det.landmarks_px))
        p = pred > 0.5
        ious.append((p & truth).sum() / max((p | truth).sum(), 1))  # a missed hand counts as 0
    assert np.mean(ious) >= HOF_MEAN_IOU_BAR, np.round(ious, 3)
