"""How ``face_occlusion``'s evidence puts each verdict into words for the interviewer (kept apart from the analyzer).

``WHAT``: one sentence per verdict, what it saw and what that means; :func:`when`: where in the crossing the
verdict's frames are, or why a verdict that asks for a look only asks (said after the sentence).
"""

from __future__ import annotations

from interview_guard.signals import occlusion as occ
from interview_guard.signals.crossing_verdicts import DECISIVE, MESH_COVERED, agreeing, flash_seen_at

__all__ = ["WHAT", "when"]

WHAT = {
    "painted_over": (
        "the hand's pixels stop at the face outline: the face was painted over the hand "
        "(a swap drawing its face on top of the hand, or its occlusion mask lagging behind the hand)"
    ),
    "ghosted_hand": "the face's own texture shows through the hand: a translucent, ghosted hand (a half-working mask)",
    "face_flash": (
        "for a few frames the face away from the hand turned into another face and back "
        "(the swap dropped and the face under it flashed through)"
    ),
    "face_warp": (
        "the face away from the hand warped, its parts moving against each other, while the hand was near "
        "(a swapped face jittering)"
    ),
    "face_never_covered": (
        "a hand stood at the face outline but the face inside it never changed: a face drawn over the hand, "
        "or a hand held beside the face instead of passing in front of it (look at the frames)"
    ),
    "hand_behind_face": (
        "the hand passed across the face but its pixels stayed outside the face outline, as if it went behind "
        "the face: a face drawn over the hand (look at the frames)"
    ),
    "face_mesh_unmoved": (
        "the hand crossed the face but the face landmarker's mesh kept the shape it had before the hand came, "
        "as it does when the face it fits is intact: a face drawn over the hand, or a hand let through as a ghost "
        "(a real hand in front of the face bends the mesh; look at the middle frame)"
    ),
    "fingers_cut": (
        "the hand landmarker read the fingers shorter over the face than the same fingers beside it: the face was "
        "painted over the fingertips (a swap drawing its face on top of the hand), or the hand tipped towards the "
        "camera or went behind the head (look at that frame)"
    ),
    "shape_jump": "the face's shape changed across the occlusion more than anywhere else in the clip",
    "measures_agree": (
        "two instruments each found a sign of a swap failing at this crossing, where each alone asks for a look"
    ),
    "face_identity_jump": (
        "the face's identity jumped between two frames as far as two people differ: another face for a moment "
        "(the swap dropping), or a hand's edge across an eye (look at both frames)"
    ),
}


#: A few words per verdict, for ``measures_agree`` to name the two it read.
SHORT: dict[str, str] = {
    "painted_over": "the hand cut at the face outline",
    "ghosted_hand": "the face showing through the hand",
    "face_flash": "another face flashing through",
    "face_warp": "the face warping",
    "face_never_covered": "the face inside the outline never covered",
    "hand_behind_face": "the hand kept outside the outline",
    "face_mesh_unmoved": "the face mesh unmoved under the hand",
    "face_identity_jump": "the face's identity jumping",
    "fingers_cut": "the fingers cut short over the face",
}


def when(verdict: str, ev: occ.OcclusionEvent) -> str:
    """Said after a verdict's sentence: where in the crossing its frames are (another face flashing through, an
    identity jump), or why the verdict only asks for a look (a hand cut at the outline under a bent mesh)."""
    if verdict == "face_identity_jump" and (rec := ev.measurements.get("identity")):
        return f", at {rec['at_s']:.2f} s (frames {rec['frames'][0]} and {rec['frames'][1]}, {rec['step']:.2f} apart)"
    if verdict == "measures_agree":
        return f" ({' and '.join(SHORT.get(k, k) for k in agreeing(ev.scores))})"
    mesh = ev.measurements.get("mesh") or {}
    if verdict == "painted_over" and mesh.get("ok") and float(mesh.get("mesh_dev_max", 0.0)) >= MESH_COVERED:
        return ", but the face mesh bent as under a real hand (a dark hand on a dark face? look at the middle frame)"
    if verdict == "fingers_cut" and (rec := ev.measurements.get("hand_shape")) and rec.get("shortest_at_s") is not None:
        return (
            f" (over the face {rec['ratio_median']:.0%} of their length beside it, the shortest at "
            f"{rec['shortest_at_s']:.2f} s: {rec['ratio_p10']:.0%})"
        )
    if verdict != "face_flash":
        return ""
    at = flash_seen_at(ev.measurements.get("pixels"))
    said = "" if at is None else f", at {at:.2f} s"
    if (rec := ev.measurements.get("flash_identity")) and not rec["gradual"]:  # the descriptor saw it too
        said += f"; the face's identity stepped {rec['step']:.2f} there (frames {rec['frames'][0]}, {rec['frames'][1]})"
    if ev.scores.get(verdict, 0.0) < DECISIVE:  # a look: a hand's edge beyond its landmarks does this too
        said += " (look at that frame: a hand's edge or shadow passing close by changes the same pixels)"
    return said
