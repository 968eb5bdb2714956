"""The independent hand-over-face compositor (evaluation/occlusion_fakes.py) does what each kind claims."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from conftest import REPO, SHARED_DATA, needs_shared

sys.path.insert(0, str(REPO / "evaluation"))

import occlusion_fakes as of  # noqa: E402

FACE = SHARED_DATA / "faces_video" / "retalking_face5.mp4"
HOF = SHARED_DATA / "hands" / "handoverface_24_mask.png"
CLIP = {"motion": "fast", "seed": 3, "start_s": 0.6, "crossing_s": 0.8, "max_s": 2.0}

pytestmark = [needs_shared(FACE), needs_shared(HOF), pytest.mark.shared]


@pytest.fixture(scope="module")
def hand() -> of.Hand:
    return next(h for h in of.load_hands("handoverface") if h.id == "hof_24")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, hand):
    """The same hand path composited seven ways, the decoded clips, the clean frames and the landmarks."""
    d = tmp_path_factory.mktemp("occ")
    out = {}
    for kind in ("genuine", "pasted", "translucent", "mask_lag", "dropout", "warp", "pasted_jitter"):
        p = d / f"{kind}.mp4"
        meta = of.make_wave_clip(FACE, hand, p, kind=kind, alpha=0.5, cache_dir=d, **CLIP)
        frames, _ = of.read_frames(p, 10.0)
        out[kind] = (meta, np.stack(frames).astype(np.float32), p)
    clean, rate = of.read_frames(FACE, CLIP["max_s"])
    lms = of._cached_landmarks(FACE, clean, float(rate), d)
    return out, np.stack(clean).astype(np.float32), lms, d


def _inner_oval(lm: np.ndarray, shape: tuple[int, int], shrink_faces: float = 0.2) -> np.ndarray:
    """The face oval shrunk by ``shrink_faces`` face widths: clear of any mask growth and feathering."""
    oval = lm[of.FACE_OVAL]
    fw = np.ptp(oval[:, 0])
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(oval).astype(np.int32)], 1)
    r = int(shrink_faces * fw)
    return cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool)


def _hand_over_face(clips, frame: int, min_diff: float = 40.0) -> np.ndarray:
    """Pixels of the inner face where the genuine clip shows the hand (differs clearly from the clean frame)."""
    out, clean, lms, _ = clips
    g = out["genuine"][1][frame]
    diff = np.abs(g - clean[frame]).mean(axis=-1)
    return (diff > min_diff) & _inner_oval(lms[frame], diff.shape)


_BUSIEST: dict[int, int] = {}


def _busiest(clips) -> int:
    """The frame with the most hand over the inner face."""
    if id(clips) not in _BUSIEST:
        n = len(clips[0]["genuine"][1])
        _BUSIEST[id(clips)] = int(np.argmax([_hand_over_face(clips, i).sum() for i in range(n)]))
    return _BUSIEST[id(clips)]


def test_hand_sources_and_ids():
    assert of.HAND_SOURCES == ("handoverface", "hagrid")
    hands = of.load_hands("handoverface")
    assert [h.id for h in hands] == [f"hof_{i}" for i in range(21, 31)]
    for h in hands:
        assert h.rgba.dtype == np.uint8 and h.rgba.ndim == 3 and h.rgba.shape[2] == 4
        a = h.rgba[..., 3]
        # cropped to the hand: every border touches the hand or its 2 px margin, and the corners are empty
        assert a.max() == 255 and (a > 0).mean() > 0.2
    with pytest.raises(ValueError):
        of.load_hands("nope")


@pytest.mark.video
def test_genuine_covers_the_face_during_the_crossing(clips):
    out, clean, _, _ = clips
    meta, frames, _ = out["genuine"]
    cov = np.asarray(meta["coverage"])
    assert len(cov) == meta["n_frames"] == len(frames) == len(clean)
    t = np.arange(len(cov)) / meta["fps"]
    during = (t >= meta["crossing_start_s"]) & (t <= meta["crossing_end_s"])
    assert during.any() and cov[during].max() > 0.2
    assert meta["motion_start_s"] <= meta["crossing_start_s"] < meta["crossing_end_s"] <= meta["motion_end_s"]
    # before the hand comes and after it leaves, the clip is the source (up to the codec)
    assert np.abs(frames[0] - clean[0]).mean() < 3.0
    assert np.abs(frames[-1] - clean[-1]).mean() < 3.0
    assert _hand_over_face(clips, _busiest(clips)).sum() > 200


@pytest.mark.video
def test_pasted_leaves_the_face_as_it_was(clips):
    out, clean, _, _ = clips
    i = _busiest(clips)
    hand_px = _hand_over_face(clips, i)
    pasted = out["pasted"][1][i]
    genuine = out["genuine"][1][i]
    assert np.abs(pasted - clean[i])[hand_px].mean() < 4.0  # the face drawn back over the hand
    assert np.abs(genuine - clean[i])[hand_px].mean() > 40.0
    # outside the face the hand is there in both
    assert out["pasted"][0]["coverage"] == out["genuine"][0]["coverage"]


@pytest.mark.video
def test_translucent_is_between_hand_and_face(clips):
    out, clean, _, _ = clips
    assert out["translucent"][0]["alpha"] == 0.5
    i = _busiest(clips)
    hand_px = _hand_over_face(clips, i, min_diff=60.0)
    g = out["genuine"][1][i][hand_px]
    tr = out["translucent"][1][i][hand_px]
    c = clean[i][hand_px]
    share = np.abs(tr - c).sum(axis=-1) / np.maximum(np.abs(g - c).sum(axis=-1), 1e-6)
    assert 0.35 < float(np.median(share)) < 0.65


@pytest.mark.video
def test_mask_lag_cuts_the_leading_edge(clips):
    out, clean, lms, _ = clips
    meta = out["mask_lag"][0]
    assert 3 <= meta["lag_frames"] <= 6
    n = len(clean)
    shown_lag, shown_gen = 0, 0
    for i in range(n):
        hand_px = _hand_over_face(clips, i)
        if hand_px.sum() < 50:
            continue
        ml = out["mask_lag"][1][i]
        shown_gen += int(hand_px.sum())
        shown_lag += int((np.abs(ml - clean[i]).mean(axis=-1) > 20.0)[hand_px].sum())
    # a fast sweep moves more than the hand's width in a few frames: much of the hand over the face is cut
    assert shown_gen > 0 and shown_lag < 0.8 * shown_gen


@pytest.mark.video
def test_clip_is_written_atomically_and_decodes(clips, hand):
    out, _, _, d = clips
    meta, frames, p = out["genuine"]
    assert p.is_file() and not list(d.glob(".*tmp*"))
    import av

    with av.open(str(p)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert abs(float(s.average_rate) - meta["fps"]) < 0.05
    assert meta["duration_s"] <= CLIP["max_s"] + 1e-6
    # a second write replaces the file in one step, with the same content for the same seed
    again = of.make_wave_clip(FACE, hand, p, kind="genuine", alpha=0.5, cache_dir=d, **CLIP)
    assert again["coverage"] == meta["coverage"] and not list(d.glob(".*tmp*"))
    with pytest.raises(ValueError):
        of.make_wave_clip(FACE, hand, d / "x.mp4", kind="nope")
    assert not (d / "x.mp4").exists()


@pytest.mark.video
def test_artifact_is_what_differs_from_the_genuine_twin(clips, hand):
    out, _, lms, d = clips
    gen = out["genuine"][0]
    assert gen["artifact_peak"] == 0.0 and gen["artifact_frames"] == 0 and not any(gen["artifact"])
    for kind in ("pasted", "translucent", "mask_lag", "dropout", "warp"):
        meta = out[kind][0]
        assert meta["artifact_peak"] > 0.02 and meta["artifact_frames"] >= 1, kind
        assert meta["artifact_sum"] == pytest.approx(sum(meta["artifact"]), abs=0.01)
    # the record's share against the decoded clips: where pasted and genuine differ by 20+ grey levels over the face
    i = _busiest(clips)
    oval = np.zeros(out["genuine"][1][i].shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(lms[i][of.FACE_OVAL]).astype(np.int32)], 1)
    seen = (np.abs(out["pasted"][1][i] - out["genuine"][1][i]).max(axis=-1) >= 20.0)[oval.astype(bool)].mean()
    assert out["pasted"][0]["artifact"][i] == pytest.approx(float(seen), abs=0.08)
    assert out["pasted"][0]["artifact"][i] > out["translucent"][0]["artifact"][i] > 0.05  # alpha 0.5 shows half
    # write=False: the same record, no file
    again = of.make_wave_clip(
        FACE, hand, d / "unwritten.mp4", kind="pasted", alpha=0.5, cache_dir=d, write=False, **CLIP
    )
    assert again == out["pasted"][0] and not (d / "unwritten.mp4").exists()


def _face_change(clips, kind: str, i: int) -> float:
    """Mean change from the clean frame over the inner face where the hand is not."""
    out, clean, lms, _ = clips
    g = out["genuine"][1][i]
    free = _inner_oval(lms[i], g.shape[:2]) & (np.abs(g - clean[i]).mean(axis=-1) < 8.0)
    if free.sum() < 100:
        return float("nan")
    return float(np.abs(out[kind][1][i] - clean[i]).mean(axis=-1)[free].mean())


@pytest.mark.video
def test_dropout_shows_another_face_for_a_few_frames(clips):
    meta = clips[0]["dropout"][0]
    drop = meta["dropout_frames"]
    assert 2 <= len(drop) <= 6 and drop == list(range(drop[0], drop[0] + len(drop)))
    assert meta["donor"] != FACE.stem
    changed = [_face_change(clips, "dropout", i) for i in drop]
    others = [_face_change(clips, "dropout", i) for i in range(len(clips[1])) if i not in drop]
    assert np.nanmin(changed) > 8.0 and np.nanmax(others) < 4.0


@pytest.mark.video
def test_warp_moves_the_face_only_while_the_hand_is_near(clips):
    meta = clips[0]["warp"][0]
    cov = np.asarray(meta["coverage"])
    near = [_face_change(clips, "warp", i) for i in np.flatnonzero(cov > 0.05)]
    far = [_face_change(clips, "warp", i) for i in range(len(cov)) if i in (0, 1, len(cov) - 1)]
    assert np.nanmax(near) > 3.0 and np.nanmax(far) < 3.0


@pytest.mark.video
def test_pasted_jitter_shakes_the_redrawn_face_only_while_the_hand_is_near(clips):
    out, clean, _, _ = clips
    meta = out["pasted_jitter"][0]
    assert 0.02 <= meta["shake_shift"] <= 0.06 and 0.5 <= meta["shake_turn_deg"] <= 3.0
    cov = np.asarray(meta["coverage"])
    assert meta["coverage"] == out["pasted"][0]["coverage"]  # the same hand on the same path
    # the face is drawn over the hand as in pasted, but moved: it differs from the clean face where pasted does not
    near = [
        _face_change(clips, "pasted_jitter", i) - _face_change(clips, "pasted", i) for i in np.flatnonzero(cov > 0.05)
    ]
    far = [_face_change(clips, "pasted_jitter", i) for i in range(len(cov)) if i in (0, 1, len(cov) - 1)]
    assert np.nanmax(near) > 3.0 and np.nanmax(far) < 3.0


@pytest.mark.video
def test_hagrid_cut_outs():
    hands = of.load_hands("hagrid")
    assert len(hands) >= 6
    assert [h.id for h in hands] == [f"hagrid_{i}" for i in range(len(hands))]
    for h in hands:
        a = h.rgba[..., 3] > 0
        assert min(h.rgba.shape[:2]) >= 24 and 0.25 < a.mean() < 0.95


@pytest.mark.parametrize("motion", of.EVERYDAY_MOTIONS)
def test_everyday_motions_hold_the_hand_at_the_lower_face_and_are_genuine_only(motion, hand, tmp_path):
    # round 22: a chin rested on the hand, a touch of the cheek: up from below, held, down; never above the eyes
    fps, n = 25.0, 125
    t = np.arange(n) / fps
    face_c = np.tile([320.0, 240.0], (n, 1))
    fw = 160.0
    path = of._hand_path(motion, t, face_c, fw, (150.0, 170.0), (640, 480), np.random.default_rng(5), 1.0, 1.2)
    seen = np.isfinite(path.centre[:, 0])
    assert seen.any() and not seen[t < 1.0].any()
    held = path.t1 - path.t0 - (1.0 if motion == "rest" else 0.8)  # the rise and the fall
    assert held >= (1.6 if motion == "rest" else 0.5)
    top = path.centre[seen, 1] - 0.5 * 170.0  # the hand's top edge, image rows
    assert top.min() >= 240.0 - 0.1 * fw - 1e-6  # at the cheekbone at the highest, never over the eyes
    assert np.abs(path.centre[seen, 0] - 320.0).max() <= 0.6 * fw  # at the face, not across it
    with pytest.raises(ValueError, match="genuine clips only"):
        of.make_wave_clip(FACE, hand, tmp_path / "x.mp4", kind="pasted", motion=motion)
