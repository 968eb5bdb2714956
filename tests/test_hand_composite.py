import numpy as np
import pytest

from conftest import SHARED_DATA, needs_shared
from interview_guard.errors import InputError
from interview_guard.synth.hand_composite import composite_hand, make_occlusion_clips, paint_face_over, wave_positions
from interview_guard.synth.hands import HandCutout, hand_files, load_hand_cutout

HANDS = SHARED_DATA / "hands"


def test_wave_positions_cross_the_centre():
    t = np.linspace(0, 4, 81)
    p = wave_positions(t, start_s=1.0, end_s=3.0, centre=(100.0, 50.0), amplitude=40.0, passes=2)
    inside = np.isfinite(p[:, 0])
    assert inside.sum() == 41 and np.isnan(p[~inside]).all()
    assert p[inside, 0].min() == pytest.approx(60.0) and p[inside, 0].max() == pytest.approx(140.0, abs=0.5)


def test_composite_and_paint_over_are_inverse_inside_the_face():
    frame = np.full((100, 100, 3), 120, np.uint8)
    hand = HandCutout(rgb=np.full((20, 10, 3), 30, np.uint8), alpha=np.ones((20, 10), np.float32))
    occ = composite_hand(frame, hand, centre_xy=(50, 50), height_px=20)
    assert occ[50, 50, 0] == 30 and occ[5, 5, 0] == 120
    face = np.array([[30, 30], [70, 30], [70, 70], [30, 70]], float)
    painted = paint_face_over(occ, frame, face, feather_px=0, shrink=1.0)
    assert painted[50, 50, 0] == 120  # hand gone inside the face
    assert np.array_equal(composite_hand(frame, hand, centre_xy=(np.nan, np.nan), height_px=20), frame)


def test_bad_hand_files(tmp_path):
    with pytest.raises(InputError, match="cannot read hand image"):
        load_hand_cutout(tmp_path / "none.jpg", tmp_path / "none.png")


@needs_shared(HANDS)
def test_real_hand_cutouts():
    pairs = hand_files(HANDS)
    assert len(pairs) >= 5
    cut = load_hand_cutout(*pairs[0])
    assert cut.rgb.shape[:2] == cut.alpha.shape and cut.alpha.max() > 0.99 and cut.alpha.min() < 0.01


@pytest.mark.video
@needs_shared(HANDS)
def test_make_occlusion_clips(tmp_path):
    from interview_guard.io.media import probe

    src = SHARED_DATA / "faces_video" / "retalking_face5.mp4"
    img, mask = HANDS / "handoverface_24.jpg", HANDS / "handoverface_24_mask.png"
    info = make_occlusion_clips(
        src, hand_image=img, hand_mask=mask, out_genuine=tmp_path / "g.mp4", out_swap=tmp_path / "s.mp4", wave_s=1.2
    )
    a, b = info["wave"]
    assert 0 < a < b and info["face_frames"] > 0.9 * info["frames"]
    for name in ("g.mp4", "s.mp4"):
        assert probe(tmp_path / name).duration_s == pytest.approx(probe(src).duration_s, abs=0.3)
