"""Crossings placed by the face zone's pixels (signals/crossing_window.py), their merge with the hand-track
events (signals/crossing_events.py) and the face_never_covered verdict, on synthetic tracks."""

from __future__ import annotations

import numpy as np
import pytest

from interview_guard.signals import occlusion as occ
from interview_guard.signals.crossing_events import with_pixel_windows
from interview_guard.signals.crossing_verdicts import MIN_OUTLINE_FRAMES, NEVER_COVERED_CAP, pixel_verdicts
from interview_guard.signals.crossing_window import CrossingWindow, crossing_windows, hand_at_face
from interview_guard.signals.hand_crossing import ZoneFrames
from synth_tracks import make_tracks


def _zone(face, hands, pixels) -> ZoneFrames:
    return ZoneFrames(
        face.t_s, pixels.zone_crop, pixels.zone_box, pixels.zone_oval, pixels.zone_held, hands.landmarks, hands.count
    )


def _seeds(face, hands, near_faces=1.2):
    ov = occ.frame_overlap(face.landmarks, hands.landmarks, face.present, hands.count)
    near = occ.hand_near_face(face.landmarks, hands.landmarks, face.present, hands.count, aspect=640 / 480)
    return hand_at_face(near=near, overlap=ov, hand_count=hands.count, near_faces=near_faces, min_overlap=0.1), ov


def test_hand_at_face_needs_a_tracked_hand_near_or_over_the_face():
    near = np.array([0.5, 0.5, 2.0, 2.0, np.inf])
    overlap = np.array([0.0, 0.0, 0.0, 0.3, 0.0])
    count = np.array([1, 0, 1, 1, 0])
    got = hand_at_face(near=near, overlap=overlap, hand_count=count, near_faces=1.2, min_overlap=0.1)
    assert got.tolist() == [True, False, False, True, False]


def test_a_hand_seen_for_one_frame_is_followed_in_the_pixels_across_the_face():
    face, hands, pixels = make_tracks(mode="genuine", sweep=(4.0, 5.2))
    seeds, _ = _seeds(face, hands)
    # the landmarker saw the hand at the face for one frame only, as it came in
    first = int(np.flatnonzero(seeds)[0])
    one = np.zeros_like(seeds)
    one[first] = True
    wins = crossing_windows(frames=_zone(face, hands, pixels), seeds=one)
    assert len(wins) == 1
    w = wins[0]
    assert w.confirmed and w.active_frames >= 5, w
    # the pixels carry the crossing on past the single sighting, across the face
    assert w.seed_start_s == w.seed_end_s == pytest.approx(face.t_s[first])
    assert w.end_s >= w.seed_end_s + 0.3, w
    assert 3.8 <= w.start_s <= 4.6 and w.end_s <= 5.2 + 0.2, w


def test_a_hand_the_pixels_do_not_see_is_an_unconfirmed_window():
    face, hands, pixels = make_tracks(mode="genuine", sweep=(4.0, 5.2))
    zone = _zone(face, hands, pixels)
    # an imagined hand at the face for one frame, 2 s before the real one, where the zone did not change
    seeds = np.zeros(len(face), bool)
    seeds[np.searchsorted(face.t_s, 2.0)] = True
    (w,) = crossing_windows(frames=zone, seeds=seeds)
    assert not w.confirmed and w.reason == "the face zone hardly changed around the hand"
    assert w.start_s == w.end_s == pytest.approx(face.t_s[np.searchsorted(face.t_s, 2.0)])
    assert w.level is not None  # the pixels were looked at, and saw nothing


def test_no_seed_no_window_and_no_reference_no_placement():
    face, hands, pixels = make_tracks(mode="genuine")
    zone = _zone(face, hands, pixels)
    assert crossing_windows(frames=zone, seeds=np.zeros(len(face), bool)) == []
    seeds = np.zeros(len(face), bool)
    seeds[0] = True  # nothing before the first frame to compare with
    (w,) = crossing_windows(frames=zone, seeds=seeds)
    assert not w.confirmed and w.level is None and "before the crossing" in w.reason


def _event(a, b, t):
    rows = np.flatnonzero((t >= a) & (t <= b))
    return occ.OcclusionEvent(start_s=a, end_s=b, rows=rows, peak_overlap=0.2)


def test_pixel_windows_move_the_events_they_confirm_and_add_the_ones_the_hand_tracks_missed():
    t = np.arange(0, 10, 0.1)
    overlap = np.zeros(t.size)
    events = [_event(4.5, 5.0, t), _event(8.0, 8.3, t)]
    wins = [
        CrossingWindow(3.9, 5.2, 4.0, 4.2, True, 10, 0.1),  # confirmed, overlaps the first event: joins it
        CrossingWindow(6.0, 6.5, 6.0, 6.1, True, 5, 0.1),  # no event there: a crossing of its own
        CrossingWindow(8.1, 8.1, 8.1, 8.1, False, 0, None),  # no reference: never moves an event
    ]
    out = with_pixel_windows(events, wins, t_s=t, overlap=overlap)
    spans = [(e.start_s, e.end_s, e.found_by) for e in out]
    assert spans == [(3.9, 5.2, "both"), (6.0, 6.5, "pixels"), (8.0, 8.3, "hand")]
    assert out[0].hand_span == (4.5, 5.0) and out[1].hand_span is None
    assert out[0].window["confirmed"] and out[0].window["hand_at_face_s"] == [4.0, 4.2]


def test_the_analyzer_judges_a_crossing_the_hand_landmarker_only_saw_coming():
    """A face painted over the hand, the hand seen only beside the face: the pixels judge the crossing."""
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.tracks import Tracks
    from interview_guard.tracks.metadata import SessionMetadata

    face, hands, pixels = make_tracks(mode="pasted", sweep=(4.0, 5.2))
    tr = Tracks(face=face, hands=hands, pixels=pixels, metadata=SessionMetadata(), duration_s=10.0)
    res = FaceOcclusion().analyze(tr)
    ev = [e for e in res.evidence if e.kind == "occlusion_event"]
    assert ev and ev[0].details["found_by"] in ("both", "pixels")
    assert "pixel_window" in ev[0].details
    assert res.score >= 0.5, [e.details["scores"] for e in ev]


def test_face_never_covered_needs_a_hand_at_the_outline_and_is_capped():
    px = {"pixel_cover_peak": 0.02, "frames_hand_at_outline": MIN_OUTLINE_FRAMES}
    v = pixel_verdicts(px)["face_never_covered"]
    assert 0.8 < v <= NEVER_COVERED_CAP < 0.9  # asks for a look; never decisive on its own
    assert "face_never_covered" not in pixel_verdicts({**px, "frames_hand_at_outline": MIN_OUTLINE_FRAMES - 1})
    assert pixel_verdicts({**px, "pixel_cover_peak": 0.3})["face_never_covered"] < 0.01


def test_hand_behind_face_needs_a_hand_across_the_outline_and_is_capped():
    from interview_guard.signals.crossing_verdicts import BEHIND_FRAMES, BEHIND_SPAN

    px = {
        "inside_share_p90": 0.1,
        "inside_net_p90": 0.1,
        "hand_frames_in_zone": BEHIND_FRAMES,
        "outline_span": BEHIND_SPAN,
        "frames_hand_at_outline": MIN_OUTLINE_FRAMES,
    }
    v = pixel_verdicts(px)["hand_behind_face"]
    assert 0.8 < v <= NEVER_COVERED_CAP < 0.9  # asks for a look; never decisive on its own
    # a hand at one side of the face only, or seen in too few frames: no verdict
    assert "hand_behind_face" not in pixel_verdicts({**px, "outline_span": BEHIND_SPAN - 1})
    assert "hand_behind_face" not in pixel_verdicts({**px, "hand_frames_in_zone": BEHIND_FRAMES - 1})
    # a head moving in a held zone around a phantom hand: the hand never stood at the outline
    assert "hand_behind_face" not in pixel_verdicts({**px, "frames_hand_at_outline": MIN_OUTLINE_FRAMES - 1})
    # most of the hand's change inside the outline at some point: it passed in front
    assert pixel_verdicts({**px, "inside_share_p90": 0.7})["hand_behind_face"] < 0.01
    # little of it joined to the outside, but much more change inside than the face makes on its own
    assert pixel_verdicts({**px, "inside_net_p90": 0.7})["hand_behind_face"] < 0.01


@pytest.mark.parametrize("mode", ["genuine", "pasted"])
def test_inside_share_tells_a_hand_in_front_from_a_face_drawn_over_it(mode):
    """A hand sweeping across the face: in front, most of its change lands inside the outline; behind a face
    drawn over it, none does (the hand landmarker is not asked)."""
    from interview_guard.signals.hand_crossing import crossing_measures

    face, hands, pixels = make_tracks(mode=mode, sweep=(4.0, 5.2))
    zone = _zone(face, hands, pixels)
    px = crossing_measures(frames=zone, start_s=4.0, end_s=5.2, hand_seen=np.zeros(len(face), bool))
    assert px["ok"], px
    assert px["hand_frames_in_zone"] >= 5 and px["outline_span"] >= 6, px
    if mode == "genuine":
        assert px["inside_share_p90"] >= 0.55, px
        assert pixel_verdicts(px).get("hand_behind_face", 0.0) < 0.05
    else:
        assert px["inside_share_p90"] <= 0.3, px
        assert pixel_verdicts(px)["hand_behind_face"] >= 0.8


def test_face_flash_needs_a_face_in_the_flash_frames():
    from interview_guard.signals.crossing_verdicts import FLASH_DECIDES_Z, FLASH_FACE_PRESENT

    px = {"flash_z": FLASH_DECIDES_Z + 5, "flash_face_present": 1.0}
    assert pixel_verdicts(px)["face_flash"] > 0.99
    # the face landmarker found no face in the flash's frames: a hand hiding the face, not another face
    assert "face_flash" not in pixel_verdicts({**px, "flash_face_present": FLASH_FACE_PRESENT / 2})
    assert pixel_verdicts({k: v for k, v in px.items() if k != "flash_face_present"})["face_flash"] > 0.99


def test_face_flash_takes_the_reach_flash_too():
    from interview_guard.signals.crossing_verdicts import (
        FLASH_DECIDES_Z,
        FLASH_FACE_PRESENT,
        FLASH_REACH_CAP,
        FLASH_REACH_Z,
        FLASH_Z,
    )  # fmt: skip

    weak = {"flash_z": FLASH_Z[0] - 5 * FLASH_Z[1], "flash_face_present": 1.0}
    assert pixel_verdicts(weak)["face_flash"] < 0.01
    strong = FLASH_REACH_Z[0] + 5 * FLASH_REACH_Z[1]
    # the reach flash asks for a look, it does not decide: capped below the fusion's decisive 0.9
    assert FLASH_REACH_CAP < 0.9
    assert pixel_verdicts({**weak, "flash_reach_z": strong})["face_flash"] == pytest.approx(FLASH_REACH_CAP)
    assert pixel_verdicts({"flash_reach_z": strong})["face_flash"] == pytest.approx(FLASH_REACH_CAP)
    # the bracket flash still decides on its own (when strong enough: below)
    both = {"flash_z": FLASH_DECIDES_Z + 5, "flash_face_present": 1.0, "flash_reach_z": strong}
    assert pixel_verdicts(both)["face_flash"] > 0.99
    # its frames are those whose hand was tracked (and left out): the face-present rule is the bracket flash's
    absent = {"flash_z": FLASH_Z[0] + 5 * FLASH_Z[1], "flash_face_present": FLASH_FACE_PRESENT / 2}
    assert "face_flash" not in pixel_verdicts(absent)
    assert pixel_verdicts({**absent, "flash_reach_z": FLASH_REACH_Z[0] - 5 * FLASH_REACH_Z[1]})["face_flash"] < 0.01
    # the stricter centre: a reach z at the bracket flash's centre is no verdict
    assert pixel_verdicts({"flash_reach_z": FLASH_Z[0]})["face_flash"] < 0.05


def test_a_bracket_flash_decides_only_far_above_its_threshold():
    from interview_guard.signals.crossing_verdicts import DECISIVE, FLASH_DECIDES_Z, FLASH_Z, NEVER_COVERED_CAP

    # between the verdict's centre and FLASH_DECIDES_Z a flash asks for a look: a real hand's edge, fingers or
    # shadow beyond its landmarks' hull, passing over the few face pixels a hand over most of the face leaves,
    # reached z 9-24 on 312 more genuine waves of the development faces (round 16)
    assert FLASH_Z[0] + 3 * FLASH_Z[1] < FLASH_DECIDES_Z
    look = pixel_verdicts({"flash_z": FLASH_DECIDES_Z - 0.01, "flash_face_present": 1.0})["face_flash"]
    assert look == pytest.approx(NEVER_COVERED_CAP) and look < DECISIVE
    assert pixel_verdicts({"flash_z": FLASH_DECIDES_Z, "flash_face_present": 1.0})["face_flash"] > 0.99
    # below the centre nothing changes
    weak = pixel_verdicts({"flash_z": FLASH_Z[0], "flash_face_present": 1.0})["face_flash"]
    assert weak == pytest.approx(0.5)


def test_flash_seen_at_names_the_run_that_gave_the_verdict():
    from interview_guard.signals.crossing_verdicts import FLASH_FACE_PRESENT, FLASH_REACH_Z, FLASH_Z, flash_seen_at

    bracket = {"flash_z": FLASH_Z[0] + 5, "flash_at_s": 1.2, "flash_face_present": 1.0}
    reach = {"flash_reach_z": FLASH_REACH_Z[0] + 5, "flash_reach_at_s": 2.4}
    assert flash_seen_at(bracket) == 1.2 and flash_seen_at(reach) == 2.4
    assert flash_seen_at({**bracket, "flash_reach_z": 0.0, "flash_reach_at_s": 2.4}) == 1.2
    assert flash_seen_at({**reach, "flash_z": 0.0, "flash_at_s": 1.2}) == 2.4
    # a bracket flash the face-present rule set aside does not place it
    assert flash_seen_at({**bracket, "flash_face_present": FLASH_FACE_PRESENT / 2, **reach}) == 2.4
    assert flash_seen_at({}) is None and flash_seen_at(None) is None


def test_extreme_measures_give_a_verdict_not_an_overflow():
    # warp_z is a robust z against the no-hand frame pairs with a floor of 0.02 px: a crossing much steadier than
    # a jittery null lands hundreds below 0. The verdict is then 0; it raised an OverflowError (failing the
    # analyzer) before the verdicts' logistic was the safe one.
    v = pixel_verdicts({"warp_z": -400.0, "warp_ratio": 0.1, "warp_pairs": 10, "flash_z": -800.0})
    assert 0.0 <= v["face_warp"] < 1e-12 and 0.0 <= v["face_flash"] < 1e-12


def _unseen(mode):
    """A sweep whose hand the hand landmarker never saw (no hand rows, the zone never held)."""
    import dataclasses

    face, hands, pixels = make_tracks(mode=mode, sweep=(4.0, 5.2))
    n = len(face)
    hands = dataclasses.replace(
        hands,
        count=np.zeros(n, np.int8),
        landmarks=np.full_like(hands.landmarks, np.nan),
        score=np.zeros_like(hands.score),
    )
    pixels = dataclasses.replace(pixels, zone_held=np.zeros(n, bool))
    return face, hands, pixels


@pytest.mark.parametrize("mode", ["genuine", "pasted"])
def test_surround_seeds_find_a_hand_nobody_tracked_only_where_asked(mode):
    from interview_guard.signals.crossing_window import surround_seeds

    face, hands, pixels = _unseen(mode)
    zone = _zone(face, hands, pixels)
    t = face.t_s
    everywhere = surround_seeds(frames=zone, within=np.ones(len(face), bool))
    assert everywhere.any() and np.all((t[everywhere] >= 4.0) & (t[everywhere] <= 5.4)), t[everywhere]
    assert not surround_seeds(frames=zone, within=t < 3.5).any()
    # a head moving its zone by more than `still` between the compared frames: no seed
    moved = pixels.zone_box.copy()
    moved[:, [0, 2]] += 0.02 * np.arange(len(face))[:, None] * (moved[:, 2:3] - moved[:, 0:1])  # 0.02 a row
    shaken = ZoneFrames(zone.t_s, zone.crop, moved, zone.oval, zone.held, zone.hand_landmarks, zone.hand_count)
    assert not surround_seeds(frames=shaken, within=np.ones(len(face), bool)).any()


def test_an_unanswered_request_is_looked_at_in_the_pixels_and_judged_capped():
    """A face painted over a hand the hand landmarker never saw: without a request nothing is a crossing (no
    hand was seen); with one, the pixels find the hand at the outline, and their verdict asks for a look
    (capped at OUTLINE_CAP), never decides; the same sweep in front of the face is judged real."""
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.signals.crossing_verdicts import OUTLINE_CAP
    from interview_guard.tracks import Tracks
    from interview_guard.tracks.metadata import ChallengeMarker, SessionMetadata

    def run(mode, challenges):
        face, hands, pixels = _unseen(mode)
        md = SessionMetadata(challenges=challenges)
        return FaceOcclusion().analyze(Tracks(face=face, hands=hands, pixels=pixels, metadata=md, duration_s=10.0))

    assert not [e for e in run("pasted", []).evidence if e.kind == "occlusion_event"]
    ask = [ChallengeMarker(kind="hand_wave", t_s=3.9)]
    res = run("pasted", ask)
    (ev,) = [e for e in res.evidence if e.kind == "occlusion_event"]
    assert ev.details["pixel_window"]["seeded_by"] == "outline" and ev.details["pixels"]["seeded_by"] == "outline"
    assert 0.5 <= ev.score <= OUTLINE_CAP < 0.9, ev.details["scores"]
    assert not {"face_flash", "face_warp"} & set(ev.details["scores"])
    (ans,) = [e for e in res.evidence if e.kind.startswith("challenge")]
    assert ans.kind == "challenge_answered" and "something came up to the face outline at" in ans.summary
    from interview_guard.report.handwaves import hand_wave_line, hand_wave_requests

    (req,) = hand_wave_requests(res.evidence)
    assert "(no hand tracked; something came up to the face outline at " in hand_wave_line(req)
    real = run("genuine", ask)
    assert [e.kind for e in real.evidence if e.kind.startswith("challenge")] == ["challenge_answered"]
    assert real.score < 0.1, [e.details.get("scores") for e in real.evidence]


def _with_desk_hand(hands):
    """The other hand resting on the desk, below and beside the face (its centre about 2 face sizes from the face's
    centre), tracked in every frame in the slot the crossing hand does not use."""
    import dataclasses

    n = len(hands)
    lm = hands.landmarks.copy()
    rng = np.random.default_rng(3)
    lm[:, 1, :, 0] = 0.9 + rng.uniform(-0.06, 0.06, (n, 21))
    lm[:, 1, :, 1] = 0.95 + rng.uniform(-0.02, 0.02, (n, 21))
    lm[:, 1, :, 2] = 0.0
    score = np.where(hands.count[:, None] > 0, hands.score, 0.0)
    score[:, 1] = 0.9
    return dataclasses.replace(hands, count=(hands.count + 1).astype(np.int8), landmarks=lm, score=score)


@pytest.mark.parametrize("mode", ["pasted", "genuine"])
def test_the_other_hand_on_the_desk_changes_no_verdict(mode):
    """Round 24: a face drawn over a hand that came in from one side and was lost over the face scored 1.00; with
    the other hand tracked on the desk it scored 0.20 ("the hand stayed at the jaw or cheek"): the desk hand counted
    as the crossing hand, seen in every frame and never over the features. Now the hand's path is the same with the
    desk hand as without it, and the face drawn over the hand asks for a look (0.85). What is left (a limit): a
    tracked hand away from the face still reads as the crossing hand gone, so the crossing hand lost over the face
    does not stretch the event while the desk hand is tracked, and the shorter crossing does not decide."""
    import dataclasses

    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.tracks import Tracks

    face, hands, pixels = make_tracks(mode=mode)
    x = np.nanmean(np.where(hands.count[:, None] > 0, hands.landmarks[:, 0, :, 0], 0.0), axis=1)
    right = (hands.count > 0) & (x > 0.5)  # seen coming in from the left only, then lost
    lm = hands.landmarks.copy()
    lm[right, 0] = np.nan
    one_side = dataclasses.replace(hands, landmarks=lm, count=np.where(right, 0, hands.count).astype(np.int8))

    def run(h):
        res = FaceOcclusion().analyze(Tracks(face=face, hands=h, pixels=pixels, duration_s=10.0))
        (ev,) = [e for e in res.evidence if e.kind == "occlusion_event"]
        return res.score, ev.details["scores"], ev.details["hand_path"]

    alone, desk = run(one_side), run(_with_desk_hand(one_side))
    assert desk[2] == alone[2], (desk[2], alone[2])
    if mode == "pasted":
        assert alone[0] > 0.9 and 0.5 <= desk[0] < 0.9, (alone, desk)
    else:
        assert alone[0] < 0.1 and desk[0] < 0.1, (alone, desk)


def test_a_hand_tracked_far_from_the_face_leaves_the_outline_to_the_pixels():
    """Round 24: the other hand on the desk, tracked in every frame far below the face, kept the outline's pixels
    from being looked at (any tracked hand did), so a wave the hand landmarker missed at a request read as "no hand
    crossed the face" (0.6, not performed) on a genuine wave and its face painted over the hand alike."""
    from interview_guard.analyzers.face_occlusion import FaceOcclusion
    from interview_guard.tracks import Tracks
    from interview_guard.tracks.metadata import ChallengeMarker, SessionMetadata

    def run(mode):
        face, hands, pixels = _unseen(mode)
        md = SessionMetadata(challenges=[ChallengeMarker(kind="hand_wave", t_s=3.9)])
        return FaceOcclusion().analyze(
            Tracks(face=face, hands=_with_desk_hand(hands), pixels=pixels, metadata=md, duration_s=10.0)
        )

    pasted, real = run("pasted"), run("genuine")
    for res in (pasted, real):
        assert [e.kind for e in res.evidence if e.kind.startswith("challenge")] == ["challenge_answered"]
        (ev,) = [e for e in res.evidence if e.kind == "occlusion_event"]
        assert ev.details["pixel_window"]["seeded_by"] == "outline"
    assert pasted.score >= 0.5 and real.score < 0.1, (pasted.score, real.score)


def test_an_intact_face_decides_only_under_a_hand_seen_coming_from_outside_it():
    from interview_guard.signals.crossing_verdicts import (
        INTACT_MIN_OUTSIDE,
        INTACT_MIN_TRACKED,
        INTACT_UNSEEN_CAP,
        with_hand_from_outside,
    )

    scores = {"hand_behind_face": 0.85, "face_mesh_unmoved": 0.84, "painted_over": 0.9, "face_flash": 0.2}
    m = {"pixels": {"hand_tracked_frames": 12}, "hand_path": {"outside_peak": 0.9}}
    assert with_hand_from_outside(scores, m) == scores  # a hand seen beside the face: the verdicts stand
    # round 21: the hand cut at the outline and the flash beside it read the same head motion as a hand's pixels
    capped = {**scores, "hand_behind_face": INTACT_UNSEEN_CAP, "face_mesh_unmoved": INTACT_UNSEEN_CAP,
              "painted_over": INTACT_UNSEEN_CAP}  # fmt: skip
    # a "hand" the landmarker found in one frame (a compressed face's chin, round 20)
    one = {**m, "pixels": {"hand_tracked_frames": INTACT_MIN_TRACKED - 1}}
    assert with_hand_from_outside(scores, one) == capped
    # a "hand" found only on the face (a warm-lit face's mouth, round 20), or never seen beside a face
    inside = {**m, "hand_path": {"outside_peak": INTACT_MIN_OUTSIDE - 0.01}}
    assert with_hand_from_outside(scores, inside) == capped
    assert with_hand_from_outside(scores, {**m, "hand_path": {"outside_peak": None}}) == capped
    assert with_hand_from_outside(scores, {}) == capped
    assert INTACT_UNSEEN_CAP < 0.5  # not a finding: the other verdicts still decide
    assert with_hand_from_outside({"face_flash": 0.64, "face_warp": 0.7}, one) == {
        "face_flash": INTACT_UNSEEN_CAP,
        "face_warp": 0.7,  # its own rule: 8 frame pairs whose hand was tracked
    }


def test_an_intact_face_decides_only_under_a_hand_that_reached_its_features():
    from interview_guard.signals.crossing_verdicts import (
        DECISIVE,
        FEATURES_REACHED,
        INTACT_UNSEEN_CAP,
        REACH_LOOK_CAP,
        REACH_MIN_ROWS,
        with_hand_from_outside,
    )

    scores = {"hand_behind_face": 0.85, "face_mesh_unmoved": 0.97, "painted_over": 0.9, "face_flash": 0.95}
    seen = {"pixels": {"hand_tracked_frames": 30}, "hand_path": {"outside_peak": 1.0, "path": "from below", "rows": 40}}
    # round 22: a hand resting the chin on it, seen beside the face in every frame, never over the eyes, nose or mouth
    resting = {**seen, "hand_path": {**seen["hand_path"], "features_peak": 0.0}}
    capped = {
        **scores, "hand_behind_face": INTACT_UNSEEN_CAP, "face_mesh_unmoved": INTACT_UNSEEN_CAP,
        "painted_over": REACH_LOOK_CAP, "face_flash": REACH_LOOK_CAP,
    }  # fmt: skip
    # the hand cut at the outline, another face flashing, still ask for a look, but do not decide (round 23: a hand
    # at the jaw made no hand-over-face test, and is cut at the outline as a face drawn over a hand is)
    assert with_hand_from_outside(scores, resting) == capped and REACH_LOOK_CAP < DECISIVE
    over = {**seen, "hand_path": {**seen["hand_path"], "features_peak": FEATURES_REACHED}}
    assert with_hand_from_outside(scores, over) == scores
    # a hand seen on both sides of the face went across its features, tracked there or not
    across = {**resting, "hand_path": {**resting["hand_path"], "path": "side to side"}}
    assert with_hand_from_outside(scores, across) == scores
    both = {**resting, "pixels": {**resting["pixels"], "hand_seen_both_sides": True}}
    assert with_hand_from_outside(scores, both) == scores
    # round 23: seen on both sides, but never at the features' height (a hand the chin rests on, swaying under the
    # mouth): it did not go across them
    for sways in (across, both):
        under = {**sways, "hand_path": {**sways["hand_path"], "sides_at_features": False}}
        assert with_hand_from_outside(scores, under) == capped
        at = {**sways, "hand_path": {**sways["hand_path"], "sides_at_features": True}}
        assert with_hand_from_outside(scores, at) == scores
    # a hand seen in a few frames and lost (as a face drawn over it makes the landmarker lose it): where it went is
    # not known, so it does not say it stayed away
    few = {**resting, "hand_path": {**resting["hand_path"], "rows": REACH_MIN_ROWS - 1}}
    assert with_hand_from_outside(scores, few) == scores
    enough = {**resting, "hand_path": {**resting["hand_path"], "rows": REACH_MIN_ROWS}}
    assert with_hand_from_outside(scores, enough) == capped
    # records from before the measure, and a crossing the zone's pixels found alone at a request: unchanged
    assert with_hand_from_outside(scores, seen) == scores
    outline = {**resting, "pixels": {"seeded_by": "outline"}}
    assert with_hand_from_outside(scores, outline) == scores


def test_a_flash_the_descriptor_sees_too_decides_and_one_it_does_not_see_stays_a_look():
    from interview_guard.signals.crossing_verdicts import (
        DECISIVE,
        FLASH_CONFIRMED,
        INTACT_UNSEEN_CAP,
        NEVER_COVERED_CAP,
        identity_verdict,
        with_identity_verdicts,
    )

    seen = {"pixels": {"hand_tracked_frames": 12}, "hand_path": {"outside_peak": 0.9}}
    look = {"face_flash": NEVER_COVERED_CAP, "painted_over": 0.1}
    stepped = {"gradual": False, "step": 0.8, "jump": 0.1, "frames": [40, 41], "pairs": 4}
    # round 28: the pixels saw another face (a look) and the descriptor stepped into another person at that run
    out = with_identity_verdicts(look, {**seen, "flash_identity": stepped})
    assert out == {**look, "face_flash": FLASH_CONFIRMED} and FLASH_CONFIRMED >= DECISIVE
    # the same person a little at a time there (a head turning), or frames not described: the look stands
    gradual = {**stepped, "gradual": True, "step": 0.4, "jump": -0.3}
    assert with_identity_verdicts(look, {**seen, "flash_identity": gradual}) == look
    assert with_identity_verdicts(look, seen) == look
    # no flash the pixels saw: a step alone does not make one
    faint = {"face_flash": 0.3}
    assert with_identity_verdicts(faint, {**seen, "flash_identity": stepped}) == faint
    # a "hand" never seen beside the face (a mouth read as a hand): its flash is not judged, confirmed or not
    phantom = {"pixels": {"hand_tracked_frames": 1}, "hand_path": {"outside_peak": 0.9}, "flash_identity": stepped}
    assert with_identity_verdicts(look, phantom)["face_flash"] == INTACT_UNSEEN_CAP
    # the identity jump over the whole crossing: a look where found, nothing where not
    jump = {"jump": 0.1, "step": 0.8}
    assert with_identity_verdicts({}, {**seen, "identity": jump}) == {
        "face_identity_jump": round(identity_verdict(jump), 4)
    }
    assert with_identity_verdicts({}, {**seen, "identity": {**jump, "jump": -0.2}}) == {}


def test_two_instruments_that_each_ask_for_a_look_decide_and_one_instrument_twice_does_not():
    from interview_guard.analyzers.occlusion_wording import SHORT
    from interview_guard.signals.crossing_verdicts import (
        AGREE,
        DECISIVE,
        FEATURES_REACHED,
        NEVER_COVERED_CAP,
        REACH_MIN_ROWS,
        VERDICT_INSTRUMENTS,
        agreeing,
        with_agreement,
    )

    seen = {
        "pixels": {"hand_tracked_frames": 12},
        "hand_path": {"outside_peak": 0.9, "rows": REACH_MIN_ROWS, "features_peak": FEATURES_REACHED + 0.1},
    }
    # round 28: the pixels see a flash and the mesh kept its shape under the hand: two instruments, each a look
    two = {"face_flash": NEVER_COVERED_CAP, "face_mesh_unmoved": 0.6, "painted_over": 0.1}
    out = with_agreement(two, seen)
    assert out == {**two, "measures_agree": AGREE} and AGREE >= DECISIVE
    assert agreeing(out) == ["face_flash", "face_mesh_unmoved"]  # what the summary names, strongest first
    assert set(VERDICT_INSTRUMENTS) <= set(SHORT)  # each has its few words in the summary
    assert with_agreement({"face_identity_jump": 0.8, "fingers_cut": 0.7}, seen)["measures_agree"] == AGREE
    # a crossing one verdict decides already: nothing to add (its summary keeps that verdict's words)
    assert with_agreement({**two, "face_mesh_unmoved": 0.99}, seen) == {**two, "face_mesh_unmoved": 0.99}
    # two pixel measures are one instrument (a hand's edge beyond its landmarks moves both); one look is one look
    assert with_agreement({"face_flash": 0.85, "painted_over": 0.85, "face_warp": 0.7}, seen) == {
        "face_flash": 0.85, "painted_over": 0.85, "face_warp": 0.7}  # fmt: skip
    assert with_agreement({"face_flash": 0.85, "face_mesh_unmoved": 0.4}, seen) == {
        "face_flash": 0.85, "face_mesh_unmoved": 0.4}  # fmt: skip
    # a hand never seen beside the face, one that stayed at the jaw (a chin rested on it), or a crossing the
    # outline's pixels alone found at a request: looks, never a decision
    phantom = {**seen, "pixels": {"hand_tracked_frames": 1}}
    jaw = {**seen, "hand_path": {**seen["hand_path"], "features_peak": 0.0}}
    outline = {**seen, "pixels": {"hand_tracked_frames": 0, "seeded_by": "outline"}}
    for m in (phantom, jaw, outline):
        assert "measures_agree" not in with_agreement(two, m), m
