"""signals.identity_jump: the face's identity from one frame to the next across a crossing (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from interview_guard.signals.crossing_verdicts import NEVER_COVERED_CAP, identity_verdict
from interview_guard.signals.identity_jump import STEP_ALLOWED, identity_jump


def _walk(n: int, step: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit-ish descriptors, each ``step`` from the one before (a face under a hand moving a little)."""
    x = np.zeros((n, 128))
    for i in range(1, n):
        d = rng.normal(size=128)
        x[i] = x[i - 1] + step * d / np.linalg.norm(d)
    return x


def _rows(n: int, fps: float = 30.0, every: int = 1):
    fr = np.arange(n) * every
    return fr / fps, fr, np.full(n, 0.9)


def test_a_face_moving_a_little_at_a_time_shows_no_jump():
    rng = np.random.default_rng(0)
    t, fr, q = _rows(40)
    rec = identity_jump(t_s=t, frame_index=fr, descriptors=_walk(40, 0.3, rng), quality=q, start_s=0.2, end_s=1.0)
    assert rec["jump"] == pytest.approx(0.3 - STEP_ALLOWED[1], abs=1e-6)
    assert rec["step_frames"] == 1 and rec["pairs"] == len(np.flatnonzero((t >= 0.0) & (t <= 1.2))) - 1
    assert identity_verdict(rec) < 0.01


def test_another_face_for_two_frames_is_a_jump_where_it_starts_or_ends():
    rng = np.random.default_rng(1)
    t, fr, q = _rows(40)
    x = _walk(40, 0.2, rng)
    other = rng.normal(size=128)
    x[20:22] = x[20] + 0.9 * other / np.linalg.norm(other)  # 0.9 away from the face: another person
    rec = identity_jump(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.3, end_s=1.0)
    assert rec["frames"] in ([19, 20], [21, 22]) and rec["step"] > 0.8
    assert rec["at_s"] == pytest.approx(t[rec["frames"][1]], abs=1e-3)
    assert rec["other_at_s"] in (pytest.approx(t[20], abs=1e-3), pytest.approx(t[21], abs=1e-3))  # the other face
    assert identity_verdict(rec) == pytest.approx(NEVER_COVERED_CAP)  # a look, never decisive alone


def test_the_allowance_follows_the_spacing_and_wider_gaps_are_not_measured():
    t, fr, q = _rows(3, every=2)  # every other frame: the adaptive scan's 15 a second of a 30 fps video
    x = np.zeros((3, 128))
    x[1, 0] = 0.75  # beyond the 1-frame allowance, within the 2-frame one
    x[2, 0] = 0.0
    rec = identity_jump(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.0, end_s=1.0)
    assert rec["step_frames"] == 2 and rec["jump"] == pytest.approx(0.75 - STEP_ALLOWED[2], abs=1e-4)
    t3, fr3, q3 = _rows(3, every=3)
    assert identity_jump(t_s=t3, frame_index=fr3, descriptors=x, quality=q3, start_s=0.0, end_s=1.0) == {}


def test_small_or_turned_faces_and_rows_outside_the_crossing_are_left_out():
    t, fr, q = _rows(10)
    x = np.zeros((10, 128))
    x[5, 0] = 1.5  # a far-off descriptor of a low-quality face
    q[5] = 0.1
    rec = identity_jump(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.0, end_s=0.3, pad_s=0.0)
    assert rec["jump"] < 0 and rec["step_frames"] in (1, 2)
    x[9, 0] = 1.5  # outside [start - pad, end + pad]
    assert identity_jump(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.0, end_s=0.1, pad_s=0.0)["jump"] < 0
    x[3] = np.nan  # an undescribed face
    assert identity_jump(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.1, end_s=0.1, pad_s=0.0) == {}


def test_nothing_to_compare_is_no_record_and_bad_shapes_are_refused():
    t, fr, q = _rows(1)
    assert identity_jump(t_s=t, frame_index=fr, descriptors=np.zeros((1, 128)), quality=q, start_s=0, end_s=1) == {}
    t, fr, q = _rows(4)
    with pytest.raises(ValueError, match="same rows"):
        identity_jump(t_s=t, frame_index=fr, descriptors=np.zeros((3, 128)), quality=q, start_s=0, end_s=1)


def test_gradual_change_needs_every_frame_of_the_span():
    from interview_guard.signals.identity_jump import gradual_change

    rng = np.random.default_rng(3)
    t, fr, q = _rows(30)
    x = _walk(30, 0.2, rng)
    rec = gradual_change(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.2, end_s=0.8)
    assert rec is not None and rec["gradual"] and rec["step"] == pytest.approx(0.2, abs=1e-6)
    x[15] += 0.9 * np.eye(128)[0]  # one frame of another face: not gradual
    assert not gradual_change(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.2, end_s=0.8)["gradual"]
    keep = np.ones(30, bool)
    keep[12:16] = False  # four frames not described: the span is not covered, nothing said
    args = {"t_s": t[keep], "frame_index": fr[keep], "descriptors": x[keep], "quality": q[keep]}
    assert gradual_change(**args, start_s=0.2, end_s=0.8) is None
    assert (
        gradual_change(t_s=t, frame_index=fr, descriptors=x, quality=q, start_s=0.5, end_s=1.5) is None
    )  # past the end


def test_a_flash_run_read_by_the_descriptor_with_a_row_either_side():
    from interview_guard.signals.identity_jump import flash_same_face

    rng = np.random.default_rng(4)
    t, fr, q = _rows(30)
    x = _walk(30, 0.2, rng)
    run = (float(t[12]), 3)  # the pixels' flash: rows 12-14
    rec = flash_same_face(t_s=t, frame_index=fr, descriptors=x, quality=q, rows_t=t, run=run)
    # a head turning, a mouth opening: the same person a little at a time, from the row before to the row after
    assert rec is not None and rec["gradual"] and rec["pairs"] == 4
    other = x.copy()
    other[12:15] = x[12] + 0.9 * np.eye(128)[0]  # another person for the run's three frames
    rec = flash_same_face(t_s=t, frame_index=fr, descriptors=other, quality=q, rows_t=t, run=run)
    assert rec is not None and not rec["gradual"] and rec["frames"] in ([11, 12], [14, 15])
    # the run's frames not described (too small, turned, under the hand): nothing said either way
    q2 = q.copy()
    q2[13] = 0.1
    q2[14] = 0.1
    assert flash_same_face(t_s=t, frame_index=fr, descriptors=other, quality=q2, rows_t=t, run=run) is None
    assert flash_same_face(t_s=t, frame_index=fr, descriptors=x, quality=q, rows_t=t[:0], run=run) is None
