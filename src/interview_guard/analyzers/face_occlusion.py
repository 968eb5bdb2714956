"""``face_occlusion``: does the face behave like a real face when a hand passes in front?

A real-time face swap is trained on unoccluded faces. When the candidate
waves a hand in front of the face (the FBI's advice to interviewers), a real
face disappears behind the hand; a swap paints its face over the hand, drops
out or jumps. This analyzer finds the occlusion events in the face and hand
tracks (:mod:`interview_guard.signals.occlusion`) and scores each by what a swap gets
wrong; rationale and per-clip numbers in ``docs/face-occlusion.md``.

Where ``session.json`` logs hand-wave challenges, each is checked: an
occlusion near it, or none (a requested test that never happened is evidence
too). Before calling a request not performed, the face crops after it are
checked: a transient covering of the face region far above the clip's own
frame-to-frame change is a wave whose hand was not tracked
(``challenge_unverified``, low score), not a refusal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Evidence, Param, Status, WindowScore
from interview_guard.analyzers.occlusion_wording import WHAT, when
from interview_guard.signals import occlusion as occ
from interview_guard.signals.crossing_events import with_pixel_windows
from interview_guard.signals.crossing_verdicts import (
    DECISIVE,
    HAND_SEEN_VERDICTS,
    MIN_OUTLINE_FRAMES,
    REACH_LOOK_VERDICTS,
    REACH_VERDICTS,
    fingers_cut_verdict,
    flash_run,
    hand_reached_features,
    hand_seen_beside_face,
    with_agreement,
    with_hand_from_outside,
    with_identity_verdicts,
)
from interview_guard.signals.crossing_window import crossing_windows, hand_at_face, surround_seeds
from interview_guard.signals.face_geometry import shape_descriptor
from interview_guard.signals.hand_crossing import ZoneFrames
from interview_guard.signals.hand_path import hand_path, hands_at_face
from interview_guard.signals.hand_shape import hand_shape
from interview_guard.signals.identity_jump import flash_same_face, identity_jump
from interview_guard.signals.timebase import nearest_rows, run_rows
from interview_guard.signals.windows import event_windows
from interview_guard.tracks import Stream, Tracks
from interview_guard.tracks.metadata import ChallengeMarker
from interview_guard.tracks.video import FaceTrack, HandTrack

__all__ = ["FaceOcclusion", "NOT_JUDGED_SCORE", "combined_score"]


#: The verdicts that judge a crossing (the pixels' and the face mesh's).
_JUDGING = frozenset(occ.PIXEL_VERDICTS) | frozenset(occ.MESH_VERDICTS)
#: The score with nothing judged (no crossing, or only crossings too little of which was seen): no information
#: either way. A crossing the pixels could not judge is not evidence of a real face: it scores this, as a
#: recording without a crossing does, and only lowers the confidence.
NOT_JUDGED_SCORE = 0.05


def _judged(ev: occ.OcclusionEvent) -> bool:
    """The pixels or the mesh judged the crossing, or an identity jump or cut fingers were found (not found: no say)."""
    return bool(set(ev.scores) & _JUDGING) or "face_identity_jump" in ev.scores or "fingers_cut" in ev.scores


def _outline_without_hand(ev: occ.OcclusionEvent) -> bool:
    """A crossing started by :func:`surround_seeds` in which the pixels saw no hand at the outline from outside."""
    if not _outline(ev):
        return False
    px = ev.measurements.get("pixels") or {}
    return (
        not px.get("ok")
        or int(px.get("frames_hand_at_outline", 0)) < MIN_OUTLINE_FRAMES
        # a face still around it: a head in motion changes the band around the outline in every frame
        or int(px.get("reference_frames", 0)) < 5
        or int(px.get("null_frames", 0)) < 10
        or float(px.get("null_moving_share", 1.0)) >= 0.2
    )


def _outline(ev: occ.OcclusionEvent) -> bool:
    """The crossing was started by the outline's pixels (:func:`surround_seeds`) at a request, no hand tracked."""
    return (ev.window or {}).get("seeded_by") == "outline"


def _what_crossed(ev: occ.OcclusionEvent) -> str:
    """How a crossing's summary names it: a hand, or (started by the outline's pixels at a request) something."""
    outline = "no hand tracked, but something came up to the face outline at the hand-wave request,"
    return outline if _outline(ev) else "hand over the face"


def _event_score(ev: occ.OcclusionEvent) -> float:
    """The crossing's score; :data:`NOT_JUDGED_SCORE` for a crossing no verdict judged."""
    return ev.score if _judged(ev) else NOT_JUDGED_SCORE


#: The most two findings below the decisive level give together (round 14): each asks for a look, and two looks
#: rank above one, but only a decisive finding decides (two capped crossings of a genuine sweep, 0.97 and 0.50,
#: combined to 0.98 before).
BELOW_DECISIVE = 0.89


#: Evidence kinds that are not findings of their own: an answered request repeats its crossing's score (counted
#: once, from the crossing), and a request the recording does not cover saw nothing (absence never raises risk).
_NOT_FINDINGS = ("challenge_answered", "occlusion_event", "challenge_not_recorded")


def combined_score(findings: Iterable[float]) -> float:
    """The analyzer's score from its findings' scores (judged crossings, unanswered requests): the two most
    suspicious combined, ``1 - (1 - a)(1 - b)``, at most :data:`BELOW_DECISIVE` unless one of them is decisive
    on its own (:data:`~interview_guard.signals.crossing_verdicts.DECISIVE`); :data:`NOT_JUDGED_SCORE` with none."""
    top = sorted(findings, reverse=True)[:2]
    if not top:
        return NOT_JUDGED_SCORE
    both = 1.0 - float(np.prod([1.0 - s for s in top]))
    return both if top[0] >= DECISIVE else min(both, max(BELOW_DECISIVE, top[0]))


class FaceOcclusion(Analyzer):
    name = "face_occlusion"
    requires = frozenset({Stream.FACE, Stream.HANDS})
    uses = frozenset({Stream.METADATA, Stream.PIXELS, Stream.KEY_FRAMES, Stream.IDENTITY})
    description = (
        "Hand-over-face test for real-time face swaps: finds moments a hand crosses the face and checks "
        "whether the hand stays visible, the face region changes, and the face keeps its shape and outline."
    )
    min_overlap = Param(0.1, 0.01, 0.9, "share of the face a hand must cover to make an occlusion")
    near_faces = Param(
        1.2, 0.2, 5.0, "a hand this close to the face centre (face widths) is at the face (and starts a crossing)"
    )
    lost_window_s = Param(0.6, 0.0, 5.0, "after a hand at the face vanishes, this long counts as occluded")
    merge_gap_s = Param(0.3, 0.0, 5.0, "occluded stretches closer than this are one event")
    challenge_window_s = Param(10.0, 1.0, 120.0, "an occlusion this close to a logged hand-wave request answers it")
    missed_challenge_score = Param(0.6, 0.0, 1.0, "score of a requested hand wave that never happened")
    unverified_challenge_score = Param(
        0.15, 0.0, 1.0, "score of a requested hand wave seen in the face pixels but with no tracked hand"
    )
    disturbance_z = Param(
        6.0,
        1.0,
        100.0,
        "face-crop change (robust z against the clip's own frame-to-frame change) that counts as covered",
    )
    min_face_frames = Param(5, 1, 1e6, "fewer analysed frames with a face: skipped")
    window_s = Param(30.0, 1.0, 3600.0, "length of the per-window scores (s)")

    def _unanswered(
        self, challenges: Iterable[ChallengeMarker], taken: list[tuple[float, float]], t: np.ndarray
    ) -> np.ndarray:
        """Rows within ``challenge_window_s`` of a hand-wave request that no crossing in ``taken`` answers (the
        rule the requests are matched by below)."""
        out = np.zeros(t.size, bool)
        w = self.challenge_window_s
        for ch in challenges:
            if ch.kind in _REQUEST_KINDS and not any(_answers(a, b, ch.t_s, w) for a, b in taken):
                out |= (t >= ch.t_s - w) & (t <= ch.t_s + w)
        return out

    def _run(self, tracks: Tracks) -> AnalyzerResult:
        face, hands = tracks.face, tracks.hands
        assert face is not None and hands is not None  # required streams: analyze() skipped when absent
        if len(face) != len(hands) or not np.allclose(face.t_s, hands.t_s):
            hands = _align(face, hands)
        n_face = int(face.present.sum())
        if n_face < self.min_face_frames:
            return AnalyzerResult.skipped(
                self.name, f"no face found in the video ({n_face} of {len(face)} analysed frames had one)"
            )
        w, h = face.frame_size if face.frame_size and face.frame_size[1] else (1, 1)
        aspect = float(w) / float(h)
        pixels = tracks.pixels
        keys = ("face_crop", "ring_motion", "inner_motion", "bg_motion")
        pix = None if pixels is None else {k: getattr(pixels, k) for k in keys if hasattr(pixels, k)}
        # a chunk of rows at a time: the mapped landmarks read leave memory after each (Tracks.by_rows)
        flm, hlm, fpr, hct = face.landmarks, hands.landmarks, face.present, hands.count
        # the rows with a hand at the face: a hand elsewhere in the frame (the other hand on the desk) is not the
        # hand that crossed, nor a sighting of it (the zone's measures count only these rows' hands as tracked).
        # The events below still take any tracked hand away from the face as the crossing hand gone (most often it
        # is: a hand leaving the face is seen beyond AT_FACE at once), so with a hand on the desk a hand lost over
        # the face does not stretch its event; the pixels' window does
        at_face = tracks.by_rows(
            lambda s: hands_at_face(
                face_present=fpr[s], face_landmarks=flm[s], hand_landmarks=hlm[s], hand_count=hct[s]
            ),
            len(face),
        )
        zone = None
        if (
            pixels is not None
            and len(pixels) == len(face)
            and pixels.zone_box is not None
            and np.isfinite(pixels.zone_box).any()
        ):
            assert pixels.zone_crop is not None and pixels.zone_oval is not None and pixels.zone_held is not None
            zone = ZoneFrames(
                face.t_s, pixels.zone_crop, pixels.zone_box, pixels.zone_oval, pixels.zone_held,
                hands.landmarks, at_face.astype(np.int8),
            )  # fmt: skip
        t = face.t_s
        overlap = tracks.by_rows(lambda s: occ.frame_overlap(flm[s], hlm[s], fpr[s], hct[s]), len(face))
        near = tracks.by_rows(lambda s: occ.hand_near_face(flm[s], hlm[s], fpr[s], hct[s], aspect=aspect), len(face))
        events = occ.find_occlusion_events(
            t_s=t,
            overlap=overlap,
            near=near,
            hand_count=hands.count,
            min_overlap=self.min_overlap,
            near_faces=self.near_faces,
            lost_window_s=self.lost_window_s,
            merge_gap_s=self.merge_gap_s,
        )
        if zone is not None:
            # where the pixels put each hand seen at the face (the landmarker loses hands in front of faces,
            # and a swap painting over the hand hides it): the crossings are placed and found by the pixels
            seeds = hand_at_face(
                near=near, overlap=overlap, hand_count=hands.count, near_faces=self.near_faces,
                min_overlap=self.min_overlap,
            )  # fmt: skip
            found = crossing_windows(frames=zone, seeds=seeds, release=tracks.release_pages)
            # a hand-wave request no tracked hand answered: where something came up to the outline all the same
            # (a swap can hide the whole hand from the landmarker); only windows the pixels confirm
            taken = [(w.start_s, w.end_s) for w in found] + [(ev.start_s, ev.end_s) for ev in events]
            within = self._unanswered(tracks.metadata.challenges, taken, t)
            if within.any():
                # a hand tracked elsewhere in the frame (the other hand on the desk) leaves the outline to the pixels
                unseen = surround_seeds(frames=zone, within=within & ~at_face, release=tracks.release_pages)
                found += [
                    dataclasses.replace(w, seeded_by="outline")
                    for w in crossing_windows(frames=zone, seeds=unseen, release=tracks.release_pages)
                    if w.confirmed and not any(a <= w.end_s + 0.1 and b >= w.start_s - 0.1 for a, b in taken)
                ]
            events = with_pixel_windows(events, found, t_s=t, overlap=overlap)
            tracks.release_pages()
        # the face's shape per row, read once for every event, a chunk of rows at a time
        shape = tracks.by_rows(lambda s: shape_descriptor(flm[s], aspect=aspect), len(face)) if events else None
        for k, ev in enumerate(events):
            occ.measure_event(
                ev,
                t_s=t,
                face_present=face.present,
                face_landmarks=face.landmarks,
                hand_landmarks=hands.landmarks,
                hand_count=hands.count,
                overlap=overlap,
                aspect=aspect,
                pixels=pix,
                zone=zone,
                rng_seed=k,
                shape=shape,
                hand_at=at_face,
            )
            # which way the hand went (told to the interviewer), and whether it came from outside the face (a phantom)
            ev.measurements["hand_path"] = hand_path(t=t, face_present=face.present, face_landmarks=face.landmarks,
                hand_landmarks=hands.landmarks, hand_count=hands.count, start_s=ev.start_s, end_s=ev.end_s)  # fmt: skip
            # the fingers' lengths over the face against beside it (a face painted over the hand cuts them short)
            ev.measurements["hand_shape"] = hand_shape(t=t, face_present=face.present, face_landmarks=face.landmarks,
                hand_landmarks=hands.landmarks, hand_count=hands.count, start_s=ev.start_s, end_s=ev.end_s,
                aspect=aspect)  # fmt: skip
            # found, over the features (fingers bent over the cheek or under the chin read short too); fingers of
            # the same length say nothing either way
            cut = fingers_cut_verdict(ev.measurements["hand_shape"])
            if cut is not None and cut >= 0.5 and hand_reached_features(ev.measurements):
                ev.scores["fingers_cut"] = round(cut, 4)
            ev.scores = with_hand_from_outside(ev.scores, ev.measurements)
            tracks.release_pages()  # the rows this event read
        if tracks.identity is not None:  # the face's identity frame to frame across each crossing, and at its flash
            ids = tracks.identity.select(tracks.identity.face == 0)
            for ev in events:
                rec = identity_jump(t_s=ids.t_s, frame_index=ids.frame_index, descriptors=ids.descriptor,
                                    quality=ids.quality, start_s=ev.start_s, end_s=ev.end_s)  # fmt: skip
                run = flash_run(ev.measurements.get("pixels")) if ev.scores.get("face_flash", 0.0) >= 0.5 else None
                same = run and flash_same_face(t_s=ids.t_s, frame_index=ids.frame_index, descriptors=ids.descriptor,
                                               quality=ids.quality, rows_t=t, run=run)  # fmt: skip
                ev.measurements.update({"identity": rec} if rec else {})
                ev.measurements.update({"flash_identity": same} if same else {})
                ev.scores = with_identity_verdicts(ev.scores, ev.measurements)  # records, not found: nothing said
        # a crossing the zone's pixels alone started is one only where they saw a hand at the outline (a head
        # turning or a shoulder moving in the zone changes the band around the face too)
        events = [ev for ev in events if not _outline_without_hand(ev)]
        key_times = sorted(tracks.key_frames or {})
        # per crossing, for its evidence and for the request it answers: how much of the face, which frames
        covered = {id(ev): _covered_share(ev) for ev in events}
        roles = {id(ev): _key_frame_roles(key_times, ev, t) for ev in events}
        evidence = []
        dur = tracks.duration_s
        for ev in events:
            ev.scores = with_agreement(ev.scores, ev.measurements)  # two instruments' looks decide (round 28)
            s = _event_score(ev)
            flagged = sorted((k for k in ev.scores if ev.scores[k] >= 0.5), key=lambda k: -ev.scores[k])
            head = f"{_what_crossed(ev)} {ev.start_s:.1f}-{ev.end_s:.1f} s (up to {covered[id(ev)]:.0%} covered): "
            if flagged:
                # the strongest verdict, and the next one when two measures say it (an interviewer checks both)
                summary = head + "; and ".join(
                    f"{WHAT[k]}{when(k, ev)} (score {ev.scores[k]:.2f})" for k in flagged[:2]
                )
                if set(flagged[:1]) & set(REACH_LOOK_VERDICTS) and not hand_reached_features(ev.measurements):
                    summary += (
                        "; the hand never went over the eyes, nose or mouth (a chin rested on it, a touch?), so this "
                        "asks for a look and does not decide"
                    )
            elif not hand_seen_beside_face(ev.measurements) and set(ev.scores) & set(HAND_SEEN_VERDICTS):
                summary = head + "the hand landmarker never saw this hand beside the face (only on it, or in 1 frame: "
                summary += "a mouth or chin read as a hand?): whether a swap failed under it is not judged"
            elif not hand_reached_features(ev.measurements) and set(ev.scores) & set(REACH_VERDICTS):
                summary = head + "the hand stayed at the jaw or cheek, never over the eyes, nose or mouth (a chin "
                summary += "rested on it, a touch?): a face left intact there is no swap failing"
            elif _judged(ev):
                summary = head + "the face behaved as a real face does (the hand covered it, shape kept)"
            else:
                summary = head + "too little of the crossing was seen in the pixels to judge it"
            details = {
                **ev.measurements,
                "scores": ev.scores,
                "covered_share": covered[id(ev)],
                "key_frames": roles[id(ev)],
                "key_frame_times": [r["t_s"] for r in roles[id(ev)]],
            }
            evidence.append(
                Evidence(self.name, "occlusion_event", min(ev.start_s, dur), min(ev.end_s, dur), s, summary, details)
            )

        # logged hand-wave requests
        for ch in tracks.metadata.challenges:
            if ch.kind not in _REQUEST_KINDS:
                continue
            near_ev = [ev for ev in events if _answers(ev.start_s, ev.end_s, ch.t_s, self.challenge_window_s)]
            t0 = min(max(ch.t_s, 0.0), dur)
            if near_ev:
                ev = max(near_ev, key=_event_score)
                evidence.append(
                    Evidence(
                        self.name,
                        "challenge_answered",
                        t0,
                        min(max(ev.end_s, t0), dur),
                        _event_score(ev),
                        f"hand wave requested at {ch.t_s:.1f} s: "
                        + ("something came up to the face outline" if _outline(ev) else "a hand crossed the face")
                        + f" at {ev.start_s:.1f}-{ev.end_s:.1f} s",
                        {
                            "challenge_t_s": ch.t_s,
                            "event_start_s": ev.start_s,
                            "event_score": round(_event_score(ev), 4),
                            "covered_share": covered[id(ev)],
                            "hand_path": (ev.measurements.get("hand_path") or {}).get("path"),
                            "key_frames": roles[id(ev)],
                            "key_frame_times": [r["t_s"] for r in roles[id(ev)]],
                        },
                    )
                )
            elif not _response_recorded(t, ch.t_s, self.challenge_window_s):
                # the request is outside the analysed video, or the video ends before a hand could answer it
                evidence.append(
                    Evidence(
                        self.name,
                        "challenge_not_recorded",
                        t0,
                        min(t0 + self.challenge_window_s, dur),
                        0.0,  # nothing was seen: it lowers nothing and raises nothing (not a finding)
                        f"hand wave requested at {ch.t_s:.1f} s, but the video covers only "
                        f"{t[0]:.1f}-{t[-1]:.1f} s, too little of the {self.challenge_window_s:.0f} s "
                        "after the request "
                        "to check the test",
                        {"challenge_t_s": ch.t_s, "video_start_s": float(t[0]), "video_end_s": float(t[-1])},
                    )
                )
            else:
                # no tracked hand answered: did something cross the face region all the same (a hand the
                # hand landmarker missed: blur, a partial hand, an odd pose)?
                crops, t_to = (pix or {}).get("face_crop"), ch.t_s + self.challenge_window_s
                dist = None
                if crops is not None:
                    dist = occ.face_region_disturbance(
                        crops, t, face.present, t_from=ch.t_s, t_to=t_to, min_z=self.disturbance_z
                    )
                details = {"challenge_t_s": ch.t_s, "window_s": self.challenge_window_s, "face_region": dist}
                t1 = min(t0 + self.challenge_window_s, dur)
                # changed and not back (round 27: the head moved, a cut) is not "undisturbed": the test cannot be told
                lasting = dist is not None and dist.get("returned") is False
                if dist is not None and (dist["disturbed"] or lasting):
                    a, b = dist.get("first_s", ch.t_s), dist.get("last_s", ch.t_s)
                    ratio = (dist["baseline_change"] + dist["baseline_spread"] * (dist["peak_change_z"] or 0.0)) / max(
                        dist["baseline_change"], 1e-6
                    )
                    how = (
                        f"the face region changed at {a:.1f}-{b:.1f} s (up to {ratio:.0f}x its own frame-to-frame "
                        "change) and did not come back to how it looked before (the head or the camera moved, a cut?)"
                        if lasting
                        else f"something covered the face region for a moment at {a:.1f}-{b:.1f} s (up to "
                        f"{ratio:.0f}x the face's own frame-to-frame change, then back to the face): a hand-like "
                        "occlusion seen in the pixels but not tracked"
                    )
                    evidence.append(
                        Evidence(
                            self.name,
                            "challenge_unverified",
                            t0,
                            t1,
                            self.unverified_challenge_score,
                            f"hand wave requested at {ch.t_s:.1f} s: no hand was tracked, but {how}, so the swap test "
                            "could not be judged",
                            details,
                        )
                    )
                else:
                    why = (
                        "the face region stayed undisturbed: either the request was ignored, or a face swap "
                        "painted its face over the hand (the failure this test looks for)"
                        if dist is not None and "baseline_change" in dist
                        else "no pixel check of the face region was possible"
                    )
                    evidence.append(
                        Evidence(
                            self.name,
                            "challenge_not_performed",
                            t0,
                            t1,
                            self.missed_challenge_score,
                            f"hand wave requested at {ch.t_s:.1f} s, but no hand crossed the face within "
                            f"{self.challenge_window_s:.0f} s; {why}",
                            details,
                        )
                    )

        # an answered request repeats its crossing's score: each crossing counts once; a crossing nothing judged
        # counts as none (NOT_JUDGED_SCORE, and the confidence below says so)
        score = combined_score(
            [
                *(e.score for e in evidence if e.kind not in _NOT_FINDINGS),
                *(ev.score for ev in events if _judged(ev)),
            ]
        )
        # confidence: how much of the test the pixels let us judge
        judged = [ev for ev in events if _judged(ev)]
        if judged:
            dense = sum(int(ev.rows.size) for ev in judged)
            confidence = float(min(1.0, 0.4 + 0.6 * min(1.0, dense / 20.0)))
            reason = ""
        elif events:
            confidence = 0.25
            reason = (
                "a hand came to the face, but too little of the crossing was seen in the pixels to judge it: "
                "the hand-over-face test could not be judged"
            )
        else:
            confidence = 0.1
            reason = "no hand crossed the face: the hand-over-face test did not happen in this recording"
        if any(e.kind == "challenge_not_performed" for e in evidence):
            confidence = max(confidence, 0.5)
        elif not events and any(e.kind == "challenge_unverified" for e in evidence):
            confidence = 0.2
            reason = (
                "after a hand-wave request the face region changed (something covered it, or it moved for good) "
                "and the hand landmarker tracked no hand: the hand-over-face test could not be judged"
            )
        windows = _windows(dur, self.window_s, t, face.present, events)
        metrics = {
            "analysed_frames": int(len(face)),
            "face_frames": n_face,
            "face_presence": round(n_face / max(len(face), 1), 3),
            "hand_frames": int((hands.count > 0).sum()),
            "occlusion_events": len(events),
            "max_overlap": round(float(overlap.max()) if overlap.size else 0.0, 3),
            "pixel_checks": pix is not None and "face_crop" in (pix or {}),
        }
        return AnalyzerResult(
            name=self.name,
            status=Status.OK,
            score=float(np.clip(score, 0.0, 1.0)),
            confidence=confidence,
            reason=reason,
            evidence=tuple(sorted(evidence, key=lambda e: (-e.score, e.start_s))),
            windows=windows,
            metrics=metrics,
        )


_REQUEST_KINDS = ("hand_wave", "hand_over_face", "occlusion")


def _answers(start_s: float, end_s: float, t_request: float, window_s: float) -> bool:
    """A crossing over ``start_s``-``end_s`` answers a request at ``t_request``: within ``window_s`` of it."""
    return start_s - window_s <= t_request <= end_s + window_s


def _align(face: FaceTrack, hands: HandTrack) -> HandTrack:
    """Hands resampled onto the face rows (nearest analysed frame within half a frame)."""

    if len(hands) == 0:
        return HandTrack.empty(frame_size=face.frame_size, n=len(face))
    pick, dt = nearest_rows(hands.t_s, face.t_s)
    sel = hands.select(pick)
    far = dt > 0.05
    count = sel.count.copy()
    count[far] = 0
    lm = sel.landmarks.copy()
    lm[far] = np.nan
    return dataclasses.replace(sel, t_s=face.t_s, count=count, landmarks=lm)


def _response_recorded(t: np.ndarray, t_request: float, window_s: float) -> bool:
    """Whether the video shows the time a hand wave answering a request at ``t_request`` would take.

    The request must fall inside the analysed span (0.5 s of slack before it)
    and the span must go on for most of the answer time after it: the
    window, or 3 s when the window is longer (a wave is answered within
    seconds; a short clip that ends 3 s after the request has shown that no
    hand came).
    """
    if t.size == 0:
        return False
    need = min(window_s, 3.0)
    if not (float(t[0]) - 0.5 <= t_request <= float(t[-1])):
        return False
    return _covered(t, t_request, t_request + need) >= 0.8


def _covered(t: np.ndarray, a: float, b: float) -> float:
    """Share of [a, b] inside the analysed video span."""
    if t.size == 0 or b <= a:
        return 0.0
    lo, hi = max(a, float(t[0])), min(b, float(t[-1]))
    return max(0.0, hi - lo) / (b - a)


def _covered_share(ev: occ.OcclusionEvent) -> float:
    """How much of the face the hand covered at most: the tracked hand's outline or the changed pixels."""
    px = ev.measurements.get("pixels") or {}
    cover = px.get("pixel_cover_peak") if px.get("ok") else None
    return round(max(ev.peak_overlap, float(cover) if cover is not None else 0.0), 3)


def _key_frame_roles(
    times: list[float], ev: occ.OcclusionEvent, t_s: np.ndarray | None = None
) -> list[dict[str, object]]:
    """Up to five key frames with their role: before, the middle of the crossing, the flash, the fingers, after.

    The middle is the frame where the most of the face was covered (from the
    per-frame pixel cover, else the event's midpoint). ``flash`` (when the
    crossing's ``face_flash`` verdict is 0.5 or more, and ``t_s``, the
    analysed frames' times, is given): a frame of the run in which another face
    showed, a kept key frame inside the run when there is one, else the run's
    first frame (the report decodes it from the video); without one, the other face of an identity jump.
    ``fingers`` (when the crossing's ``fingers_cut`` verdict was given): the frame whose fingers read shortest
    against their length beside the face (``hand_shape.shortest_at_s``).
    """
    if not times:
        return []
    arr = np.asarray(times)
    mid = 0.5 * (ev.start_s + ev.end_s)
    series = ev.series or {}
    if series.get("t_s") and series.get("cover"):
        mid = float(series["t_s"][int(np.argmax(series["cover"]))])
    out: list[dict[str, object]] = []
    used: set[float] = set()
    for role, w in (("before", ev.start_s - 0.4), ("middle", mid), ("after", ev.end_s + 0.4)):
        j = int(np.argmin(np.abs(arr - w)))
        tj = float(arr[j])
        if abs(tj - w) <= 1.0 and tj not in used:
            used.add(tj)
            out.append({"role": role, "t_s": tj})
    run = flash_run(ev.measurements.get("pixels")) if ev.scores.get("face_flash", 0.0) >= 0.5 else None
    if run is None and "face_identity_jump" in ev.scores:  # the other face of an identity jump
        run = (float(ev.measurements["identity"]["other_at_s"]), 1)
    if run is not None and t_s is not None:
        rows = run_rows(t_s, run[0], run[1])
        if rows.size:
            a, b = float(t_s[rows[0]]), float(t_s[rows[-1]])
            inside = arr[(arr >= a - 1e-6) & (arr <= b + 1e-6)]
            tf = float(inside[0]) if inside.size else a
            at = len(out) - 1 if out and out[-1]["role"] == "after" else len(out)  # page order: before "after"
            out.insert(at, {"role": "flash", "t_s": tf})
    shape = ev.measurements.get("hand_shape") or {}
    if "fingers_cut" in ev.scores and shape.get("shortest_at_s") is not None:  # the frame with the shortest fingers
        at = len(out) - 1 if out and out[-1]["role"] == "after" else len(out)
        out.insert(at, {"role": "fingers", "t_s": float(shape["shortest_at_s"])})
    return out


def _windows(
    duration_s: float, window_s: float, t: np.ndarray, present: np.ndarray, events: list[occ.OcclusionEvent]
) -> tuple[WindowScore, ...]:
    edges, _ = event_windows(duration_s=duration_s, window_s=window_s, event_s=t)
    n = edges.size - 1
    out = []
    for i in range(n):
        a, b = float(edges[i]), float(edges[i + 1])
        in_win = (t >= a) & (t < b) if i < n - 1 else (t >= a) & (t <= b)
        if not present[in_win].any():
            out.append(WindowScore(a, b, None, 0))
            continue
        s = max((_event_score(ev) for ev in events if ev.start_s < b and ev.end_s >= a), default=NOT_JUDGED_SCORE)
        out.append(WindowScore(a, b, float(s), int(in_win.sum())))
    return tuple(out)
