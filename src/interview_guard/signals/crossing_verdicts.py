"""The swap verdicts of a hand crossing from its pixel measures (pure numpy).

Each verdict is a logistic of one measure of :mod:`.hand_crossing` or
:mod:`.face_transients` around a threshold set on the development sources only
(docs/face-occlusion.md: the split, the numbers per held-out source). A
verdict is given only when its measure could be taken: what a detector did
not see is never a verdict.
"""

from __future__ import annotations

from typing import Any

from interview_guard.signals.stats import logistic_safe

__all__ = [
    "PIXEL_VERDICTS",
    "MESH_VERDICTS",
    "MESH_STILL",
    "MESH_HAND_SEEN",
    "MESH_CAP",
    "MESH_ALONE",
    "OUTLINE_CAP",
    "MESH_COVERED",
    "MESH_BENT",
    "mesh_verdicts",
    "with_mesh_verdicts",
    "INTACT_VERDICTS",
    "INTACT_MIN_TRACKED",
    "INTACT_MIN_OUTSIDE",
    "INTACT_UNSEEN_CAP",
    "HAND_SEEN_VERDICTS",
    "with_hand_from_outside",
    "hand_seen_beside_face",
    "FLASH_CONFIRMED",
    "with_identity_verdicts",
    "VERDICT_INSTRUMENTS",
    "AGREE",
    "with_agreement",
    "agreeing",
    "FEATURES_REACHED",
    "REACH_VERDICTS",
    "REACH_MIN_ROWS",
    "SIDES_AT_FEATURES",
    "REACH_LOOK_VERDICTS",
    "REACH_LOOK_CAP",
    "hand_reached_features",
    "FACE_LOST_FRAMES",
    "UNCOVERED_VERDICTS",
    "ENTRY",
    "ENTRY_CUT",
    "GHOST",
    "FLASH_Z",
    "FLASH_REACH_Z",
    "FLASH_REACH_CAP",
    "FLASH_FACE_PRESENT",
    "WARP_Z",
    "WARP_RATIO",
    "NEVER_COVERED",
    "NEVER_COVERED_CAP",
    "DECISIVE",
    "DECIDING_FRAMES",
    "BEHIND",
    "pixel_verdicts",
    "crossing_verdicts",
    "flash_seen_at",
    "flash_run",
    "IDENTITY_JUMP_WIDTH",
    "identity_verdict",
    "FINGERS_CUT",
    "fingers_cut_verdict",
]

#: Pixel-measure thresholds (centre, width of the logistic), set on the development sources only
#: (docs/face-occlusion.md lists them): an entry ratio below ``ENTRY``, or a share of frames
#: with the hand cut at the outline above ``ENTRY_CUT``: the hand stops at the face outline;
#: below ``GHOST`` the face's own texture shows through the hand; a ``flash_z`` above
#: ``FLASH_Z`` is another face for a few frames; ``warp_z`` above ``WARP_Z`` and a
#: ``warp_ratio`` above ``WARP_RATIO``: the uncovered face warps (see :mod:`.face_transients`).
#: ``ENTRY``, ``ENTRY_CUT``, ``WARP_Z`` and the width of ``MESH_STILL`` were set again in round 12 on the
#: 13 development faces together (they were (0.5, 0.07), (0.3, 0.06), (1.5, 0.2) and 0.007, set on 4): stricter,
#: they keep the genuine waves whose hand was cut at the outline in a third of the entry frames, or whose
#: uncovered face moved unevenly, below the fakes.
ENTRY = (0.3, 0.05)
#: The verdicts the pixels of a crossing give (a crossing without one was not judged).
PIXEL_VERDICTS = (
    "painted_over", "ghosted_hand", "face_flash", "face_warp", "face_never_covered", "hand_behind_face",
)  # fmt: skip
ENTRY_CUT = (0.5, 0.04)
GHOST = (0.55, 0.05)
FLASH_Z = (9.0, 1.0)
#: ``flash_reach_z`` above this is another face too (the flash with each pixel bracketed by the nearest frames in
#: which the hand did not cover it; round 13, set on the 13 development faces and 104 more genuine waves on them):
#: stricter than ``FLASH_Z``, since brackets up to 0.4 s away differ more with the head's own motion and a hand the
#: landmarks' hull leaves out reaches z 14 on a genuine sweep.
FLASH_REACH_Z = (15.0, 1.0)
#: Share of a flash's frames the face landmarker must have found a face in.
FLASH_FACE_PRESENT = 0.5
#: ``flash_z`` from which ``face_flash`` may decide on its own; below it the verdict is capped at
#: ``NEVER_COVERED_CAP`` (it asks for a look). A part of a real hand its landmarks' hull leaves out (the fingertips'
#: edge and shadow over the brows, a fast hand's blurred fingers over an eye) changes the few face pixels a hand
#: over most of the face leaves, for as long as it passes: on 312 more genuine waves of the development faces
#: (round 16) such passes read as a flash at z 9-24 (five in the high band); on the test faces' 240, none above 9.
FLASH_DECIDES_Z = 30.0
WARP_Z = (2.5, 0.4)
WARP_RATIO = (2.4, 0.15)
#: Frames with the hand at the outline needed before the entry measure counts.
MIN_ENTRY_FRAMES = 4
#: ``pixel_cover_peak`` below ``NEVER_COVERED``: a hand stood at the face outline and the face inside it never
#: changed. A face painted over the hand does that; so does a hand held beside the face without passing in
#: front of it, so the verdict is capped below the decisive level: it asks for a look, it does not decide.
NEVER_COVERED = (0.08, 0.012)
NEVER_COVERED_CAP = 0.85
#: The score from which ``face_occlusion`` decides on its own: the decisive rule of ``models/fusion.json``
#: (with confidence 0.5). Every cap here lies below it.
DECISIVE = 0.9
#: The highest verdict ``flash_reach_z`` gives: it asks for a look, it does not decide. Its brackets lie up to 0.4 s
#: away, where a part of the hand the landmarks' hull leaves out may have been elsewhere: on 104 more genuine waves
#: of the development faces (round 13) it read two of them as a flash at z 18 and 33.
FLASH_REACH_CAP = NEVER_COVERED_CAP
#: Frames (entry frames for ``painted_over``, frame pairs for ``face_warp``) a verdict needs before it may reach
#: the decisive level: fewer keep it at ``NEVER_COVERED_CAP`` at most. On real footage a hand seen entering the
#: face in 4 frames flipped between 0.00 and 0.9994 (painted over) from one scan to the next (the landmarker in
#: video mode differs slightly under load), and 6 frame pairs of a genuine generated wave gave face_warp 0.996.
DECIDING_FRAMES = 8
#: Frames with the hand at the outline (2 sectors or more) the never-covered verdict needs (a hand the
#: landmarker imagines on a face for a frame, while the head moves, gives up to 3 on real footage).
MIN_OUTLINE_FRAMES = 5
#: ``inside_share_p90`` below ``BEHIND``: the hand reached the face outline at places at least
#: ``BEHIND_SPAN`` sectors (of 16) apart, in ``BEHIND_FRAMES`` or more frames with a hand-sized change in the
#: zone, and never put much of its change inside the outline: it went behind the face, i.e. the face was drawn
#: over it (``hand_seen_both_sides``, the hand landmarker's sightings on both sides of the face, also say it
#: went across), with the hand at the outline in ``MIN_OUTLINE_FRAMES`` frames as for ``face_never_covered``
#: (liveportrait_d9, a real clip without any hand, has a phantom hand on the mouth and a moving head).
#: Capped like ``face_never_covered`` (a hand moving around the face, not in front of it, does that too).
BEHIND = (0.24, 0.03)
#: ... and ``inside_net_p90`` (the change inside the outline beyond the face's own 90th percentile without a hand,
#: as a share of the zone's change) below ``BEHIND_NET``.
BEHIND_NET = (0.30, 0.03)
BEHIND_SPAN = 6
BEHIND_FRAMES = 5
BEHIND_FRAMES_SEEN_ACROSS = 3


#: The verdicts the face landmarker's mesh gives (:mod:`.face_mesh`).
MESH_VERDICTS = ("face_mesh_unmoved",)
#: ``mesh_dev_max`` (units of the face's RMS radius) at which ``face_mesh_unmoved`` is 0.5, and its width.
MESH_STILL = (0.05, 0.004)
#: Share of the face zone outside the outline a hand must have changed in some frame for the mesh to be judged.
MESH_HAND_SEEN = 0.04
#: The most ``face_mesh_unmoved`` gives when no pixel verdict of the crossing reaches ``MESH_ALONE`` (round 14):
#: the face landmarker holds its mesh under many partial covers of a real hand (liveportrait_d9 and _s18: hands
#: over the eyes tracked, the mesh within 0.02-0.04 of its hand-free shape), which gave 3 of the 5 decisive false
#: alarms on the 104 more genuine waves of the development faces; the mesh alone asks for a look, with a pixel
#: verdict beside it it decides.
MESH_CAP = NEVER_COVERED_CAP
MESH_ALONE = 0.5


def mesh_verdicts(mesh: dict[str, Any], px: dict[str, Any] | None = None) -> dict[str, float]:
    """``face_mesh_unmoved``: the face mesh kept its hand-free shape while the hand crossed the face.

    Not given when the face landmarker lost the face during the crossing (that is what a hand in front
    does), or when the pixels saw no hand in the face zone (:data:`MESH_HAND_SEEN`). Below
    :data:`DECIDING_FRAMES` measured face frames it is capped below the decisive level.
    """
    dev = mesh.get("mesh_dev_max")
    if dev is None or int(mesh.get("mesh_face_lost", 0)) > 0:
        return {}
    # a hand the pixels saw: a phantom hand (the hand landmarker on a moving head) leaves the zone unchanged
    if px is None or not px.get("ok") or float(px.get("hand_outside_peak") or 0.0) < MESH_HAND_SEEN:
        return {}
    v = logistic_safe((MESH_STILL[0] - float(dev)) / MESH_STILL[1])
    if int(mesh.get("mesh_frames", 0)) < DECIDING_FRAMES:
        v = min(v, NEVER_COVERED_CAP)
    return {"face_mesh_unmoved": v}


#: The cap of every verdict of a crossing the hand landmarker never saw at the face (started by the zone's pixels
#: alone: :func:`~interview_guard.signals.crossing_window.surround_seeds`; ``seeded_by`` "outline").
OUTLINE_CAP = 0.85
#: The verdicts such a crossing does not give.
OUTLINE_UNJUDGED = ("face_flash", "face_warp")

#: Crossing frames without a face (the landmarker lost it) that rule out the verdicts saying the hand never covered it.
FACE_LOST_FRAMES = 3
#: The verdicts that say the hand did not cover the face: a face the landmarker lost under the hand says it did.
UNCOVERED_VERDICTS = ("face_never_covered", "hand_behind_face")
#: ``mesh_dev_max`` from which those are not given either: a mesh bent that far says the hand was over the face
#: (and ``painted_over``, the hand cut at the outline, asks for a look: round 21).
MESH_COVERED = 0.15


#: ``mesh_dev_max`` from which the mesh clearly bent (``face_mesh_unmoved`` below 0.05: three widths above
#: :data:`MESH_STILL`'s centre): the hand took the face's features away from the landmarker.
MESH_BENT = MESH_STILL[0] + 3 * MESH_STILL[1]


def with_mesh_verdicts(scores: dict[str, float], mesh: dict[str, Any], px: dict[str, Any] | None) -> dict[str, float]:
    """``scores`` with the mesh's verdict added; without :data:`UNCOVERED_VERDICTS` when the face landmarker
    lost the face in :data:`FACE_LOST_FRAMES` or more frames of the crossing (a hand hid it); and
    ``ghosted_hand`` capped at :data:`NEVER_COVERED_CAP` when the mesh contradicts it, ``painted_over`` when the mesh
    bent by :data:`MESH_COVERED` or more.

    A ghosted hand lets the face's eyes, nose and mouth through, so the landmarker keeps fitting the face: a
    mesh that clearly bent (:data:`MESH_BENT`) or a face lost in any crossing frame says an opaque hand hid
    the features, whatever the texture measure read (a compressed face's block pattern can survive under a
    real hand). The verdict then asks for a look; it does not decide. Likewise a hand whose pixels the entry
    measure saw stop at the outline while the mesh bent as far as only a hand over the features bends it (round 21:
    a dark hand over a dark face in a dim room changes too few grey levels inside the outline to be seen there; no
    ``painted_over`` of the evaluation's fakes came with a mesh bent beyond 0.09): a look, not a decision.
    """
    out = dict(scores)
    lost = int(mesh.get("mesh_face_lost", 0))
    dev = float(mesh.get("mesh_dev_max", 0.0)) if mesh.get("ok") else 0.0
    if lost >= FACE_LOST_FRAMES or dev >= MESH_COVERED:
        for k in UNCOVERED_VERDICTS:
            out.pop(k, None)
    bent = dev >= MESH_BENT
    if "ghosted_hand" in out and (bent or lost > 0):
        out["ghosted_hand"] = min(out["ghosted_hand"], NEVER_COVERED_CAP)
    if "painted_over" in out and dev >= MESH_COVERED:
        out["painted_over"] = min(out["painted_over"], NEVER_COVERED_CAP)
    if mesh.get("ok"):
        mv = mesh_verdicts(mesh, px)
        if mv and max(out.values(), default=0.0) < MESH_ALONE:
            mv = {k: min(v, MESH_CAP) for k, v in mv.items()}
        out.update(mv)
    return out


#: The verdicts that read "the face stayed intact while the hand crossed it" (a face drawn over the hand).
INTACT_VERDICTS = ("hand_behind_face", "face_mesh_unmoved")
#: Frames the hand landmarker must have tracked the hand in, and the share of the hand's landmarks it must have seen
#: outside the box of the face's outline in one of them, for those verdicts to decide (round 20). A real hand comes
#: to the face from outside it, and a face drawn over a hand leaves only the hand's outside part to be seen; but under
#: other capture conditions the hand landmarker finds a "hand" on the face itself (a mouth and chin, for a frame or
#: for eight: docs/capture-conditions.md), and the head's own motion changes the zone around the outline as a hand
#: behind the face would. On the development waves such crossings are all or nothing: 0.0 or 0.9-1.0 outside.
INTACT_MIN_TRACKED = 2
INTACT_MIN_OUTSIDE = 0.1
#: What such a crossing's intact-face verdicts give at most: not a finding, and little weight in the fusion (a hand
#: that probably was not one). Set on the development faces: 0.2 gave the best all-kinds AUC there (0.8464 against
#: 0.8462 at 0.3 and 0.8457 at 0.45) and the fewest genuine waves at 0.5+ (29 against 33 at 0.45); the held-out
#: splits are the same at every cap from 0 to 0.45.
INTACT_UNSEEN_CAP = 0.2
#: The verdicts capped so, the intact-face ones and, since round 21, the two that read the hand's own pixels at the
#: face: ``painted_over`` (the hand cut at the outline) and ``face_flash`` (the face away from the hand changing).
#: Two more capture conditions (a call at 15 frames a second, a 640-px webcam recording;
#: docs/capture-conditions.md) put liveportrait_d9, a clip without any hand, at 0.71 and 0.85 through them, each on
#: a "hand" the landmarker found only on the face (in 12 frames, in 1): the head's own motion read as a hand's edge.
#: Chosen on the development faces (all kinds 0.855 -> 0.858, genuine waves at 0.5+ 29 -> 27, no fake lost at 0.5+;
#: with ``face_warp``, ``ghosted_hand`` and ``face_never_covered`` too, 3 fakes fall below 0.5); the test splits
#: are unchanged (no phantom hand there).
HAND_SEEN_VERDICTS = (*INTACT_VERDICTS, "painted_over", "face_flash")


def hand_seen_beside_face(measurements: dict[str, Any]) -> bool:
    """Whether the crossing's hand was tracked in :data:`INTACT_MIN_TRACKED` or more frames and seen with
    :data:`INTACT_MIN_OUTSIDE` of it outside the face (``hand_path``'s ``outside_peak``) in one of them; True for a
    crossing the zone's pixels alone found at a request (``seeded_by`` "outline": no hand landmarker to be fooled,
    its verdicts capped at :data:`OUTLINE_CAP`)."""
    px = measurements.get("pixels") or {}
    outside = (measurements.get("hand_path") or {}).get("outside_peak")
    tracked = int(px.get("hand_tracked_frames") or 0)
    return px.get("seeded_by") == "outline" or (
        tracked >= INTACT_MIN_TRACKED and outside is not None and float(outside) >= INTACT_MIN_OUTSIDE
    )


#: The share of the face's features (eyes, nose, mouth: ``hand_path.FEATURES``) the hull of the tracked hand's
#: landmarks must have covered in one frame (``hand_path``'s ``features_peak``) for :data:`REACH_VERDICTS` to count,
#: unless the hand was seen on both sides of the face (it went across them). A hand resting the chin on it or touching
#: the cheek (round 22) leaves a real face's mesh and the zone inside the outline as they were: the face "stayed
#: intact" because nothing covered it.
FEATURES_REACHED = 0.2
#: The verdicts that need the hand at the features (capped at :data:`INTACT_UNSEEN_CAP` otherwise).
REACH_VERDICTS = INTACT_VERDICTS
#: Frames the hand landmarker must have seen the hand at the face in (``hand_path``'s ``rows``) for where it went to
#: count: a hand lost after a few sightings may have gone over the features unseen (a face drawn over it is what
#: makes the landmarker lose it), and a miss is no evidence either way. On the development faces the chin rests and
#: touches were seen in 13-77 frames, the fakes this would have taken below 0.5 in 2-13.
REACH_MIN_ROWS = 10
#: Whether a hand seen on both sides of the face counts as gone across the features only when it was seen at their
#: height on both sides (``hand_path``'s ``sides_at_features``, round 23): a hand the chin rests on sways from one
#: side of the face to the other under the mouth.
SIDES_AT_FEATURES = True
#: The verdicts that, under a hand that never reached the features, ask for a look but do not decide (capped at
#: :data:`REACH_LOOK_CAP`, round 23): every other one. A hand that stayed at the jaw or the cheek made no
#: hand-over-face test: ``painted_over`` reads a hand cut at the outline, which a hand at the jaw (a chin rested on it)
#: is as much as a face drawn over a hand; the others may see a swap fail there, but not decisively.
REACH_LOOK_VERDICTS: tuple[str, ...] = tuple(
    v for v in (*PIXEL_VERDICTS, *MESH_VERDICTS) if v not in REACH_VERDICTS
)  # fmt: skip
REACH_LOOK_CAP = NEVER_COVERED_CAP


def hand_reached_features(measurements: dict[str, Any]) -> bool:
    """Whether the crossing's tracked hand covered :data:`FEATURES_REACHED` of the face's features in one frame, or
    was seen on both sides of the face (``pixels``' ``hand_seen_both_sides``, a ``side to side`` path) at the
    features' height (``sides_at_features``, when measured: :data:`SIDES_AT_FEATURES`), or was seen
    in fewer than :data:`REACH_MIN_ROWS` frames (where it went is not known); True when
    ``features_peak`` was not measured (records from before round 22) or the crossing was found by the zone's
    pixels alone (``seeded_by`` "outline")."""
    px = measurements.get("pixels") or {}
    path = measurements.get("hand_path") or {}
    if px.get("seeded_by") == "outline" or "features_peak" not in path:
        return True
    if bool(px.get("hand_seen_both_sides")) or path.get("path") == "side to side":
        # seen on both sides, but under the mouth (or over the eyes) each time: it did not go across the features
        if not (SIDES_AT_FEATURES and path.get("sides_at_features") is False):
            return True
    if int(path.get("rows") or 0) < REACH_MIN_ROWS:  # not followed enough to say it stayed away
        return True
    peak = path.get("features_peak")
    return peak is not None and float(peak) >= FEATURES_REACHED


def with_hand_from_outside(scores: dict[str, float], measurements: dict[str, Any]) -> dict[str, float]:
    """``scores`` with :data:`HAND_SEEN_VERDICTS` capped at :data:`INTACT_UNSEEN_CAP` unless
    :func:`hand_seen_beside_face`, and :data:`REACH_VERDICTS` so unless :func:`hand_reached_features` (when it is
    not, :data:`REACH_LOOK_VERDICTS` are capped at :data:`REACH_LOOK_CAP`: a look, not a decision)."""
    caps: dict[str, float] = {}
    if not hand_reached_features(measurements):
        caps |= dict.fromkeys(REACH_LOOK_VERDICTS, REACH_LOOK_CAP) | dict.fromkeys(REACH_VERDICTS, INTACT_UNSEEN_CAP)
    if not hand_seen_beside_face(measurements):  # the stricter cap: HAND_SEEN_VERDICTS overlap REACH_LOOK_VERDICTS
        caps |= dict.fromkeys(HAND_SEEN_VERDICTS, INTACT_UNSEEN_CAP)
    return {k: min(v, caps.get(k, v)) for k, v in scores.items()}


def pixel_verdicts(px: dict[str, Any]) -> dict[str, float]:
    """The swap verdicts of one crossing from its pixel measures (see :mod:`.hand_crossing`)."""
    out: dict[str, float] = {}
    entry, cut = px.get("entry_ratio_mean"), px.get("entry_cut_share")
    if entry is not None and cut is not None and int(px.get("entry_frames", 0)) >= MIN_ENTRY_FRAMES:
        out["painted_over"] = max(
            logistic_safe((ENTRY[0] - float(entry)) / ENTRY[1]),
            logistic_safe((float(cut) - ENTRY_CUT[0]) / ENTRY_CUT[1]),
        )
        if int(px.get("entry_frames", 0)) < DECIDING_FRAMES:
            out["painted_over"] = min(out["painted_over"], NEVER_COVERED_CAP)
    flash = _flash_parts(px)
    if flash:
        out["face_flash"] = max(v for v, _, _ in flash)
    wz, wr = px.get("warp_z"), px.get("warp_ratio")
    if wz is not None and wr is not None:
        out["face_warp"] = min(
            logistic_safe((float(wz) - WARP_Z[0]) / WARP_Z[1]),
            logistic_safe((float(wr) - WARP_RATIO[0]) / WARP_RATIO[1]),
        )
        # and the pairs whose hand was tracked (or away) must be enough on their own: where the hand landmarker lost
        # the hand, the block matcher may have read the hand as the face (round 16: a real hand covering a face from
        # below, tracked in 7 of its 23 frames, read as a warp at z 5.5 over 19 pairs)
        seen = int(px.get("warp_pairs", 0)) - int(px.get("warp_pairs_hand_lost", 0))
        if seen < DECIDING_FRAMES:
            out["face_warp"] = min(out["face_warp"], NEVER_COVERED_CAP)
    cover = px.get("pixel_cover_peak")
    if cover is not None and int(px.get("frames_hand_at_outline", 0)) >= MIN_OUTLINE_FRAMES:
        out["face_never_covered"] = NEVER_COVERED_CAP * logistic_safe(
            (NEVER_COVERED[0] - float(cover)) / NEVER_COVERED[1]
        )
    inside = px.get("inside_share_p90")
    frames = int(px.get("hand_frames_in_zone", 0))
    # across the face: the hand reached the outline on far sides of it, or the hand landmarker saw it on one side
    # and then on the other (two sightings, not a miss); fewer frames do when the sightings say it went across
    across = int(px.get("outline_span", 0)) >= BEHIND_SPAN or bool(px.get("hand_seen_both_sides"))
    need = BEHIND_FRAMES_SEEN_ACROSS if px.get("hand_seen_both_sides") else BEHIND_FRAMES
    net = px.get("inside_net_p90")
    at_outline = int(px.get("frames_hand_at_outline", 0)) >= MIN_OUTLINE_FRAMES  # a hand, not a phantom one
    if inside is not None and net is not None and across and at_outline and frames >= need:
        # both: little of the hand's change joined to it inside the outline, and little change inside the outline
        # beyond the face's own (a small hand wholly inside the outline is not joined to anything outside)
        out["hand_behind_face"] = NEVER_COVERED_CAP * min(
            logistic_safe((BEHIND[0] - float(inside)) / BEHIND[1]),
            logistic_safe((BEHIND_NET[0] - float(net)) / BEHIND_NET[1]),
        )
    ghost = px.get("ghost_alpha")
    if ghost is not None and int(px.get("ghost_frames", 0)) >= 3 and px.get("null_moving_share", 1.0) < 0.2:
        out["ghosted_hand"] = logistic_safe((GHOST[0] - float(ghost)) / GHOST[1])
    return out


#: ``face_flash`` at least this (decisive) where the pixels saw another face flash through (``face_flash`` 0.5 or
#: more, a look at most below :data:`FLASH_DECIDES_Z`) and the face's descriptor, described at every frame of that run
#: and on either side of it, stepped beyond its allowance there (:func:`.identity_jump.flash_same_face`): one measure
#: of the pixels and one of who the face is see another person at the same frames. Each alone asks for a look (a
#: hand's edge passing close by moves either); on the development faces (both seeds, 104 genuine waves) no genuine
#: wave's flash run was read so, against 13 of their 52 dropouts' (docs/face-occlusion.md, round 28).
FLASH_CONFIRMED = 0.95


def _flash_parts(px: dict[str, Any]) -> list[tuple[float, float | None, int]]:
    """``face_flash``'s two parts where measured, as (verdict, start of the run, its frames): the bracket flash and
    the reach flash."""
    parts: list[tuple[float, float | None, int]] = []
    flash = px.get("flash_z")
    # the face landmarker found a face in the flash's frames: a run of frames without one is the hand hiding the
    # face (a real hand over most of it), not another face showing through
    if flash is not None and float(px.get("flash_face_present", 1.0)) >= FLASH_FACE_PRESENT:
        v = logistic_safe((float(flash) - FLASH_Z[0]) / FLASH_Z[1])
        if float(flash) < FLASH_DECIDES_Z:
            v = min(v, NEVER_COVERED_CAP)
        parts.append((v, px.get("flash_at_s"), int(px.get("flash_frames") or 1)))
    # measured only on frames whose hand was tracked (its pixels left out) or without a hand: no lost hand in it
    reach = px.get("flash_reach_z")
    if reach is not None:
        v = min(logistic_safe((float(reach) - FLASH_REACH_Z[0]) / FLASH_REACH_Z[1]), FLASH_REACH_CAP)
        parts.append((v, px.get("flash_reach_at_s"), int(px.get("flash_reach_frames") or 1)))
    return parts


def flash_run(px: dict[str, Any] | None) -> tuple[float, int] | None:
    """``(start s, frames)`` of the run of frames that gave ``face_flash`` its verdict (the larger of its two
    measures), or None when neither was measured: where in the crossing an interviewer looks for the other face."""
    parts = [(v, float(at), frames) for v, at, frames in _flash_parts(px or {}) if at is not None]
    if not parts:
        return None
    _, at, frames = max(parts)
    return at, frames


def flash_seen_at(px: dict[str, Any] | None) -> float | None:
    """The start (s) of :func:`flash_run`, or None."""
    run = flash_run(px)
    return None if run is None else run[0]


def crossing_verdicts(px: dict[str, Any] | None, mesh: dict[str, Any] | None) -> dict[str, float]:
    """Every verdict of one crossing from its two measure records: the pixels' (:func:`pixel_verdicts`, when the
    pixels could be measured) and the face mesh's (:func:`with_mesh_verdicts`).

    This is all a crossing's verdicts depend on, so a run's cached records can be judged again with other
    thresholds without scanning (``evaluation/verdict_search.py``).
    """
    scores = pixel_verdicts(px) if px is not None and px.get("ok") else {}
    out = with_mesh_verdicts(scores, mesh or {}, px)
    # a crossing the hand landmarker never saw at the face (started by the outline's pixels at a request): the
    # pixels alone say something crossed the outline, and anything passing behind the head changes the same
    # pixels: the verdicts ask for a look; the flash and the warp, which leave the tracked hand's pixels out, are
    # not given (nothing tells the hand's pixels from the face's)
    if px is not None and px.get("ok") and px.get("seeded_by") == "outline":
        out = {k: min(v, OUTLINE_CAP) for k, v in out.items() if k not in OUTLINE_UNJUDGED}
    return out


#: Softness of ``face_identity_jump`` (descriptor distance beyond :data:`.identity_jump.STEP_ALLOWED`): 0.5 at the
#: allowance, the cap 0.05 beyond it.
IDENTITY_JUMP_WIDTH = 0.03


def identity_verdict(rec: dict[str, Any]) -> float:
    """``face_identity_jump`` from :func:`.identity_jump.identity_jump`'s record: at most
    :data:`NEVER_COVERED_CAP` (a look: a hand's edge sweeping across an eye in one frame moves the descriptor too;
    round 18 found one development genuine wave of 156 at 0.84 against the 0.70 allowed)."""
    return min(logistic_safe(float(rec["jump"]) / IDENTITY_JUMP_WIDTH), NEVER_COVERED_CAP)


def with_identity_verdicts(scores: dict[str, float], measurements: dict[str, Any]) -> dict[str, float]:
    """``scores`` with the face descriptor's verdicts from a crossing's records: ``face_identity_jump`` where its
    ``identity`` record found a jump (:func:`identity_verdict`, a look), and ``face_flash`` raised to
    :data:`FLASH_CONFIRMED` where its ``flash_identity`` record (:func:`.identity_jump.flash_same_face`) stepped beyond
    its allowance at a flash the pixels saw; then the caps of :func:`with_hand_from_outside` (a phantom hand's flash
    decides nothing either way). A record that found nothing, or none, says nothing."""
    out = dict(scores)
    rec = measurements.get("identity")
    if rec and (v := identity_verdict(rec)) >= 0.5:
        out["face_identity_jump"] = round(v, 4)
    same = measurements.get("flash_identity")
    if same and not same.get("gradual", True) and out.get("face_flash", 0.0) >= 0.5:
        out["face_flash"] = max(out["face_flash"], FLASH_CONFIRMED)
    return with_hand_from_outside(out, measurements)


#: Which instrument each verdict reads: the face zone's pixels, the face landmarker's mesh, the face descriptor, the
#: hand landmarker's fingers. Verdicts of one instrument share its failures (a hand's edge beyond its landmarks moves
#: every pixel measure); two instruments fail apart.
VERDICT_INSTRUMENTS: dict[str, str] = {
    **dict.fromkeys(PIXEL_VERDICTS, "pixels"),
    **dict.fromkeys(MESH_VERDICTS, "mesh"),
    "face_identity_jump": "descriptor",
    "fingers_cut": "fingers",
}
#: ``measures_agree``: verdicts of two or more instruments each 0.5 or more at one crossing decide (round 28). Each
#: alone asks for a look at most; on the development faces (both seeds) no genuine wave's crossing had two
#: instruments at 0.5 or more, against 24 fakes whose verdicts were each a look (docs/face-occlusion.md, round 28).
AGREE = 0.95


def with_agreement(scores: dict[str, float], measurements: dict[str, Any]) -> dict[str, float]:
    """``scores`` with ``measures_agree`` (:data:`AGREE`) where verdicts of two or more :data:`VERDICT_INSTRUMENTS`
    are 0.5 or more, the hand seen beside the face (:func:`hand_seen_beside_face`) and at its features
    (:func:`hand_reached_features`), and the crossing started by a tracked hand (a crossing the outline's pixels
    alone found asks for a look at most), where no verdict decides already. Apply it last: to the verdicts as
    capped."""
    px = measurements.get("pixels") or {}
    if len(agreeing(scores)) < 2 or px.get("seeded_by") == "outline" or max(scores.values()) >= DECISIVE:
        return scores
    if not (hand_seen_beside_face(measurements) and hand_reached_features(measurements)):
        return scores
    return {**scores, "measures_agree": AGREE}


def agreeing(scores: dict[str, float]) -> list[str]:
    """The verdicts at 0.5 or more of each instrument (its strongest), strongest first: what ``measures_agree`` read."""
    best: dict[str, tuple[float, str]] = {}
    for k, v in scores.items():
        if v >= 0.5 and (inst := VERDICT_INSTRUMENTS.get(k)) and v > best.get(inst, (0.0, ""))[0]:
            best[inst] = (v, k)
    return [k for _, k in sorted(best.values(), reverse=True)]


#: ``fingers_cut``: the fingers' median length over the face (:func:`.hand_shape.hand_shape`'s ``ratio_median``, each
#: reading over the same finger's length beside the face) below this reads as a face painted over the hand (centre,
#: width of the logistic); set on the development sources only (docs/face-occlusion.md, round 25). The median, not
#: the shortest readings: a real hand's fingers read short in a tenth of the frames over the face now and then (a
#: tuning face's genuine wave: 10th percentile 0.73, median 0.97).
FINGERS_CUT = (0.92, 0.03)


def fingers_cut_verdict(shape: dict[str, Any] | None) -> float | None:
    """``fingers_cut`` from :func:`.hand_shape.hand_shape`'s record, at most :data:`NEVER_COVERED_CAP` (a look: it
    reads the hand landmarker, which also shortens the fingers of a real hand tipped towards the camera or passing
    behind the head); None when nothing was measured (no fingers beside the face to compare: no evidence)."""
    r = (shape or {}).get("ratio_median")
    if r is None:
        return None
    centre, width = FINGERS_CUT
    return min(logistic_safe((centre - float(r)) / width), NEVER_COVERED_CAP)
