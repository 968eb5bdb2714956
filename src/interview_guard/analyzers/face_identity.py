"""``face_identity``: is the person on camera one person all along, and the person on the enrolment photo?

A real-time face swap keeps one synthetic identity while it works; when it
drops for a few frames (a hand near the face, a fast turn), the operator's
own face flashes through. A person who hands over to someone else mid-session
changes identity for good. Both show in the 128-d face descriptors the scan
samples (:class:`~interview_guard.tracks.identity.IdentityTrack`): at every
base-rate frame and, capped, inside active intervals.

* *Identity change*: the session's descriptors split in time into two (or
  more) groups whose robust centroids lie beyond the same-person distance,
  each long and consistent enough (:func:`~interview_guard.signals.face_identity.find_changes`).
* *Flashes*: short runs far from the main identity with the main identity
  before and after (:func:`~interview_guard.signals.face_identity.find_flashes`);
  one low-quality (small, turned) outlier never fires.
* Faces a tracked hand covers (``max_hand_cover`` of the face or more) are left
  out like low-quality ones: the descriptor sees the hand, and a real hand over
  half the face reads as another person for a sample or two.
* *Enrolment*: the distance of the main identity to the enrolment photo's
  descriptor, mapped to a probability of two different people with the
  threshold calibrated in ``docs/face-identity.md``. A photo with no face or
  several faces lowers the confidence; it never raises the score.

Thresholds and the measurements behind them: ``docs/face-identity.md``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Evidence, Param, Status, WindowScore
from interview_guard.signals import face_identity as fi
from interview_guard.signals.identity_jump import PAD_S, gradual_change
from interview_guard.signals.occlusion import frame_overlap
from interview_guard.signals.timebase import nearest_rows
from interview_guard.signals.windows import event_windows
from interview_guard.tracks import Stream, Tracks
from interview_guard.tracks.identity import IdentityTrack

__all__ = ["FaceIdentity"]

_BASE_SCORE = 0.05


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def _hand_cover(tracks: Tracks, t_s: np.ndarray) -> np.ndarray:
    """Share of the face a tracked hand covers at each time of ``t_s`` (0 without face or hand tracks).

    Reads only the face and hand rows nearest those times (within 20 ms: the described faces are landmarked
    frames), so a mapped hour of landmarks is not read whole.
    """
    out = np.zeros(len(t_s), np.float64)
    face, hands = tracks.face, tracks.hands
    if face is None or hands is None or not len(t_s) or not len(face) or not len(hands):
        return out

    fk, f_dt = nearest_rows(face.t_s, t_s)
    hk, h_dt = nearest_rows(hands.t_s, t_s)
    sel = np.flatnonzero((f_dt <= 0.02) & (h_dt <= 0.02))
    if sel.size:
        out[sel] = frame_overlap(
            np.asarray(face.landmarks[fk[sel]]),
            np.asarray(hands.landmarks[hk[sel]]),
            np.asarray(face.present[fk[sel]], dtype=bool),
            np.asarray(hands.count[hk[sel]]),
        )
    return out


class FaceIdentity(Analyzer):
    name = "face_identity"
    requires = frozenset({Stream.IDENTITY})
    uses = frozenset({Stream.METADATA, Stream.FACE, Stream.HANDS})
    description = (
        "Face identity over the session: a change of person, short flashes of another face (a face swap "
        "dropping), and the match to the enrolment photo, from 128-d face descriptors."
    )
    min_quality = Param(0.3, 0.0, 1.0, "faces of lower quality (small, turned away) are left out")
    change_distance = Param(
        0.5,
        0.3,
        1.5,
        "robust centroids of two stretches this far apart are two people (genuine clips: at most 0.30; "
        "different people: from 0.47)",
    )
    min_segment_s = Param(3.0, 0.0, 600.0, "each side of an identity change lasts at least this long (s)")
    min_segment_rows = Param(5, 2, 1000, "each side of an identity change has at least this many good faces")
    flash_distance = Param(0.6, 0.3, 1.5, "a face this far from the main identity is another person's")
    flash_strong_distance = Param(0.8, 0.4, 2.0, "a single face this far (good quality) is a flash on its own")
    flash_good_quality = Param(0.6, 0.0, 1.0, "quality a single-face flash needs")
    max_hand_cover = Param(
        0.4,
        0.0,
        1.0,
        "faces a tracked hand covers this share of or more are left out (the descriptor sees the hand; "
        "docs/face-identity.md)",
    )
    max_flash_s = Param(2.0, 0.1, 30.0, "longest flash (s); longer stretches are identity changes")
    flash_gap_s = Param(1.5, 0.1, 30.0, "the main identity must be seen within this long before and after a flash")
    enrolment_distance = Param(
        0.55, 0.3, 1.0, "distance to the enrolment photo at which a mismatch is as likely as a match"
    )
    enrolment_width = Param(0.04, 0.01, 0.3, "softness of the enrolment decision (distance units)")
    full_confidence_faces = Param(30, 1, 10000, "good faces at which the confidence stops growing")
    window_s = Param(30.0, 1.0, 3600.0, "length of the per-window scores (s)")

    def _run(self, tracks: Tracks) -> AnalyzerResult:
        idt = tracks.identity
        assert idt is not None  # required stream: analyze() skipped when absent
        dur = tracks.duration_s
        every = idt.select(idt.face == 0)  # every row the scan described (how each flash came and went, below)
        # at the descriptor rate the thresholds were set at: not every frame the scan described near a hand
        main = every.select(fi.capped_rate(t_s=every.t_s, dense=every.dense, fps=float(idt.meta.get("dense_fps", 5.0))))
        cover = _hand_cover(tracks, main.t_s)
        under_hand = cover >= self.max_hand_cover
        if under_hand.any():  # left out like a small or turned face
            main = dataclasses.replace(main, quality=np.where(under_hand, 0.0, main.quality).astype(main.quality.dtype))
        good = (main.quality >= self.min_quality) & np.isfinite(main.descriptor).all(axis=1)
        n_good = int(good.sum())
        metrics: dict[str, Any] = {
            "faces_described": len(idt),
            "main_faces": len(main),
            "faces_under_hand": int(under_hand.sum()),
            "good_faces": n_good,
            "dense_faces": int(main.dense.sum()),
            "median_quality": _r(float(np.median(main.quality)) if len(main) else 0.0),
            "enrolment_status": idt.enrolment_status,
        }
        if n_good == 0:
            return AnalyzerResult(
                self.name,
                Status.OK,
                _BASE_SCORE,
                0.05,
                reason=f"{len(main)} faces were described, none of them large and frontal enough to tell who it is",
                metrics=metrics,
            )
        g = main.select(good)
        changes, labels, centres, main_k = fi.identity_stretches(
            t_s=g.t_s,
            descriptors=g.descriptor,
            quality=g.quality,
            min_quality=self.min_quality,
            distance=self.change_distance,
            min_segment_rows=int(self.min_segment_rows),
            min_segment_s=self.min_segment_s,
            enrolment=idt.enrolment,
            enrolment_distance=self.enrolment_distance,
        )
        own = fi.distances_to(descriptors=g.descriptor, centres=np.asarray(centres), labels=labels)
        metrics.update(
            persons_over_time=len(changes) + 1,
            spread_median=_r(float(np.median(own)), 4),
            spread_p90=_r(float(np.quantile(own, 0.9)), 4),
        )

        evidence: list[Evidence] = []
        for c in changes:
            evidence.append(self._change_evidence(c, g, dur))
        # flashes: far from the identity of the stretch they sit in (all rows of the main face, quality-gated inside)
        seg_all = _segments_of(main.t_s, [c["t_s"] for c in changes])
        d_all = fi.distances_to(descriptors=main.descriptor, centres=np.asarray(centres), labels=seg_all)
        flashes = fi.find_flashes(
            t_s=main.t_s,
            distance=d_all,
            quality=main.quality,
            far=self.flash_distance,
            strong=self.flash_strong_distance,
            min_quality=self.min_quality,
            good_quality=self.flash_good_quality,
            max_flash_s=self.max_flash_s,
            max_gap_s=self.flash_gap_s,
        )
        persons = self._persons(idt, main_centre=centres[main_k])
        for f in flashes:
            steps = gradual_change(t_s=every.t_s, frame_index=every.frame_index, descriptors=every.descriptor,
                                   quality=every.quality, start_s=f["start_s"] - PAD_S, end_s=f["end_s"] + PAD_S,
                                   min_quality=self.min_quality)  # fmt: skip
            evidence.append(self._flash_evidence(f, main, dur, persons, steps))
        metrics["flashes"] = len(flashes)
        if persons is not None and len(persons["others"]):
            evidence.append(self._persons_evidence(persons, dur))
            metrics["other_persons"] = len(persons["others"])

        conf = 0.2 + 0.7 * min(1.0, n_good / float(self.full_confidence_faces))
        reason = ""
        if n_good < self.full_confidence_faces:
            reason = f"only {n_good} good faces described: the identity checks have little to go on"
        enr = self._enrolment(idt, centres[main_k], dur, tracks)
        if enr is not None:
            evidence.append(enr)
            if idt.enrolment is not None:
                conf = min(1.0, conf + 0.1)
                metrics["enrolment_distance"] = enr.details["distance"]
            else:
                conf *= 0.8
        informative = ("enrolment_unusable", "other_persons")
        scores = sorted((e.score for e in evidence if e.kind not in informative), reverse=True)
        score = 1.0 - float(np.prod([1.0 - s for s in scores[:3]])) if scores else _BASE_SCORE
        score = float(np.clip(max(score, _BASE_SCORE), 0.0, 1.0))
        windows = _windows(dur, self.window_s, main.t_s, evidence)
        return AnalyzerResult(
            name=self.name,
            status=Status.OK,
            score=score,
            confidence=float(np.clip(conf, 0.0, 1.0)),
            reason=reason,
            evidence=tuple(sorted(evidence, key=lambda e: (-e.score, e.start_s))),
            windows=windows,
            metrics=metrics,
        )

    # -- evidence ---------------------------------------------------------------------------

    def _change_evidence(self, c: dict[str, Any], g: IdentityTrack, dur: float) -> Evidence:
        s = fi.logistic(x=c["distance"], centre=self.change_distance + 0.05, width=0.05)
        s = float(np.clip(s, 0.35, 0.97))
        k = int(c["row"])
        frames = {
            "before": {"t_s": _r(g.t_s[k - 1]), "frame_index": int(g.frame_index[k - 1])},
            "after": {"t_s": _r(g.t_s[k]), "frame_index": int(g.frame_index[k])},
        }
        summary = (
            f"the person on camera changed at about {c['t_s']:.1f} s: the faces before it ({c['rows_before']} "
            f"described, up to {c['before_s']:.1f} s) and after it ({c['rows_after']} described, from "
            f"{c['after_s']:.1f} s) are {c['distance']:.2f} apart (one person's stretches: under "
            f"{self.change_distance:.2f})"
        )
        return Evidence(
            self.name,
            "identity_change",
            min(c["before_s"], dur),
            min(c["after_s"], dur),
            s,
            summary,
            {**c, "frames": frames, "key_frame_times": [frames["before"]["t_s"], frames["after"]["t_s"]]},
        )

    def _persons(self, idt: IdentityTrack, *, main_centre: np.ndarray) -> dict[str, Any] | None:
        """Everyone described (other faces too) clustered into persons; None when only the main face was."""
        if not np.any(idt.face != 0):
            return None
        labels, centres = fi.cluster_persons(
            descriptors=idt.descriptor, quality=idt.quality, min_quality=self.min_quality, distance=self.change_distance
        )
        if len(centres) == 0:
            return None
        cand = int(np.argmin(np.linalg.norm(centres - main_centre, axis=1)))
        others: list[dict[str, Any]] = []
        for k in range(len(centres)):
            rows = labels == k
            if k == cand or not rows.any():
                continue
            t = idt.t_s[rows]
            others.append(
                {
                    "person": len(others) + 1,
                    "faces": int(rows.sum()),
                    "seconds_on_screen": int(np.unique(np.floor(t)).size),  # distinct seconds it was seen in
                    "first_s": _r(t.min()),
                    "last_s": _r(t.max()),
                    "as_tracked_face": int((rows & (idt.face == 0)).sum()),
                    "distance_to_candidate": _r(float(np.linalg.norm(centres[k] - centres[cand])), 4),
                }
            )
        rest = np.delete(centres, cand, axis=0)
        return {"others": others, "other_centres": rest}

    def _persons_evidence(self, persons: dict[str, Any], dur: float) -> Evidence:
        others = persons["others"]
        first = min(p["first_s"] for p in others)
        last = max(p["last_s"] for p in others)
        seen = ", ".join(f"{p['seconds_on_screen']} s ({p['first_s']:.0f}-{p['last_s']:.0f} s)" for p in others[:5])
        summary = (
            f"{len(others)} other person{'s' if len(others) > 1 else ''} on screen besides the candidate "
            f"(an interviewer's tile, someone nearby), seen for {seen}; left out of the identity checks"
        )
        return Evidence(self.name, "other_persons", min(first, dur), min(last, dur), 0.0, summary, {"persons": others})

    def _flash_evidence(
        self,
        f: dict[str, Any],
        main: IdentityTrack,
        dur: float,
        persons: dict[str, Any] | None,
        steps: dict[str, Any] | None = None,
    ) -> Evidence:
        s = fi.logistic(x=f["distance"], centre=self.flash_distance + 0.1, width=0.06)
        if len(f["rows"]) == 1:
            s *= 0.8  # one face alone: a strong, good-quality one, but still one
        s = float(np.clip(s, 0.3, 0.9))
        gradual = bool(steps and steps["gradual"])
        if gradual:  # described at every frame, it came and went a little at a time: a hand or a turn, not a swap
            s = 0.1
        rows = f["rows"]
        onscreen = False
        if persons is not None and len(persons["other_centres"]):
            d_other = np.linalg.norm(main.descriptor[rows][:, None, :] - persons["other_centres"][None], axis=2)
            onscreen = bool(np.median(d_other.min(axis=1)) < self.change_distance)
        if onscreen:  # the tracked face jumped to someone else on screen, not a face under a swap
            s = 0.1
        details = {
            **{k: v for k, v in f.items() if k != "rows"},
            "faces": len(rows),
            "frame_indices": [int(main.frame_index[r]) for r in rows],
            "dense": bool(main.dense[rows].all()),
            "another_person_on_screen": onscreen,
            "frame_steps": steps,
            "key_frame_times": [f["before_s"], f["start_s"], f["after_s"]],
        }
        n = len(rows)
        summary = (
            f"another face flashed through at {f['start_s']:.2f}"
            + (f"-{f['end_s']:.2f}" if n > 1 else "")
            + f" s ({n} described face{'s' if n > 1 else ''}, {f['distance']:.2f} from the person seen at "
            f"{f['before_s']:.1f} s and {f['after_s']:.1f} s; one person: under {self.flash_distance:.2f}): "
            + (
                "it is another person seen on screen, so the face tracking jumped to them for a moment"
                if onscreen
                else f"but described at every frame it changed a little at a time (at most {steps['step']:.2f} between "
                "two frames), as a hand passing over the face or a turn does, not as another face would come and go"
                if gradual and steps
                else "a face swap dropping for a moment shows the face under it"
            )
        )
        return Evidence(self.name, "identity_flash", min(f["start_s"], dur), min(f["end_s"], dur), s, summary, details)

    def _enrolment(self, idt: IdentityTrack, centre: np.ndarray, dur: float, tracks: Tracks) -> Evidence | None:
        photo = tracks.metadata.enrolment_photo
        if idt.enrolment_status == "none":
            return None
        if idt.enrolment is None:
            what = {
                "no_face": "no face was found on it",
                "several_faces": "it shows several faces, so which one is the candidate is unknown",
                "unreadable": "it could not be read",
            }.get(idt.enrolment_status, idt.enrolment_status)
            return Evidence(
                self.name,
                "enrolment_unusable",
                0.0,
                0.0,
                0.0,
                f"enrolment photo {photo or ''} not compared: {what} ({idt.enrolment_note})".replace("  ", " "),
                {"status": idt.enrolment_status, "note": idt.enrolment_note},
            )
        d = float(np.linalg.norm(centre - idt.enrolment))
        p = fi.logistic(x=d, centre=self.enrolment_distance, width=self.enrolment_width)
        same = d < self.enrolment_distance
        summary = (
            f"the face on camera is {d:.2f} from the enrolment photo: "
            + ("the same person" if same else "a different person")
            + f" (decision at {self.enrolment_distance:.2f}; probability of a different person {p:.2f})"
        )
        return Evidence(
            self.name,
            "enrolment_match" if same else "enrolment_mismatch",
            0.0,
            max(0.0, dur),
            float(np.clip(p, 0.0, 1.0)),
            summary,
            {"distance": _r(d, 4), "threshold": self.enrolment_distance, "note": idt.enrolment_note},
        )


def _segments_of(t: np.ndarray, change_times: list[float]) -> np.ndarray:
    """Segment number of each time, the segments split at ``change_times``."""
    return np.searchsorted(np.asarray(sorted(change_times), dtype=np.float64), t, side="right").astype(np.int64)


def _windows(duration_s: float, window_s: float, t: np.ndarray, evidence: list[Evidence]) -> tuple[WindowScore, ...]:
    edges, _ = event_windows(duration_s=duration_s, window_s=window_s, event_s=t)
    n = edges.size - 1
    out = []
    timed = [e for e in evidence if e.kind in ("identity_change", "identity_flash")]
    for i in range(n):
        a, b = float(edges[i]), float(edges[i + 1])
        in_win = (t >= a) & (t < b) if i < n - 1 else (t >= a) & (t <= b)
        if not in_win.any():
            out.append(WindowScore(a, b, None, 0))
            continue
        s = max((e.score for e in timed if e.start_s <= b and e.end_s >= a), default=_BASE_SCORE)
        out.append(WindowScore(a, b, float(s), int(in_win.sum())))
    return tuple(out)
