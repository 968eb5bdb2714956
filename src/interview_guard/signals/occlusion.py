"""Hand-over-face occlusion events and what a face swap gets wrong in them (pure numpy).

Works on the face and hand tracks (one row per analysed frame, same rows for
both) and, where available, the per-frame pixel measurements of the video
scan. The rationale of every measurement is in ``docs/face-occlusion.md``:

``painted_over``, ``hand_behind_face``, ``ghosted_hand`` (from :mod:`.hand_crossing`)
    What the pixels of the anchored face zone show while the hand crosses: the
    hand cut at the face outline or kept outside it (a face painted over it,
    an occlusion mask lagging behind it), or the face showing through it.
``face_flash``, ``face_warp`` (from :mod:`.face_transients`)
    The face away from the hand turns into another face for a few frames and
    back (the swap dropped), or moves incoherently, block against block (the
    swapped face warping near the hand).
``face_mesh_unmoved`` (from :mod:`.face_mesh`)
    The face landmarker's mesh kept its hand-free shape while the hand
    crossed: it was fitted to an intact face where a hand should have been.
``unseen_crossings`` (context for ``hand_behind_face``, never a verdict)
    The hand was seen on one side of the face, next on the other, never over it. The hand landmarker loses
    real hands in front of faces too: a lost hand is never a verdict on its own; the pixels say in front or behind.
``covered_motion_ratio``, ``shape_jump``, ``contour_flicker_z`` (measured, not scored)
    Landmarks under the hand against the uncovered ones; the face's shape
    after the hand against other stretches of the clip; the outline's
    shimmer. Real hands move all three as much as swaps do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interview_guard.signals.crossing_verdicts import MESH_VERDICTS, PIXEL_VERDICTS, crossing_verdicts
from interview_guard.signals.face_geometry import FACE_OVAL, face_size, hand_face_overlap, shape_descriptor
from interview_guard.signals.face_mesh import covered_motion_ratio, mesh_disturbance
from interview_guard.signals.face_transients import transient_measures
from interview_guard.signals.hand_crossing import ZoneFrames, crossing_measures
from interview_guard.signals.hand_path import seen_at_centre, unseen_crossings
from interview_guard.signals.stats import MAD_TO_SD, mad, robust_spread
from interview_guard.signals.timebase import run_rows

__all__ = [
    "OcclusionEvent",
    "frame_overlap",
    "find_occlusion_events",
    "measure_event",
    "hand_near_face",
    "face_region_disturbance",
    "PIXEL_VERDICTS",
    "MESH_VERDICTS",
]


@dataclass
class OcclusionEvent:
    """One stretch of frames where a hand (or an occluder the hand led in) covers the face."""

    start_s: float
    end_s: float
    rows: np.ndarray  # track rows inside the event
    peak_overlap: float
    measurements: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)  # per-frame pixel cover, for the report
    found_by: str = "hand"  # "hand" (the hand tracks), "pixels" (a hand seen at the face, followed in the zone), "both"
    window: dict[str, Any] = field(default_factory=dict)  # how the pixels placed it (CrossingWindow fields)
    hand_span: tuple[float, float] | None = None  # the hand-track events it joined, before the pixels moved it

    @property
    def score(self) -> float:
        return max(self.scores.values()) if self.scores else 0.0


def frame_overlap(
    face_landmarks: np.ndarray, hand_landmarks: np.ndarray, face_present: np.ndarray, hand_count: np.ndarray
) -> np.ndarray:
    """Share of the face covered by hands, per row (0 where either is absent).

    Parameters
    ----------
    face_landmarks : np.ndarray [shape=(n, 478, 3)]
    hand_landmarks : np.ndarray [shape=(n, 2, 21, 3)]
    face_present : np.ndarray [shape=(n,), dtype=bool]
    hand_count : np.ndarray [shape=(n,), dtype=int]
    """
    n = face_landmarks.shape[0]
    out = np.zeros(n, np.float64)
    for i in np.flatnonzero(face_present & (hand_count > 0)):
        out[i] = hand_face_overlap(face_landmarks[i], hand_landmarks[i])
    return out


def hand_near_face(
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    face_present: np.ndarray,
    hand_count: np.ndarray,
    *,
    aspect: float = 1.0,
) -> np.ndarray:
    """Distance from the nearest hand landmark to the face outline's centre, in face sizes (inf when absent).

    Parameters
    ----------
    aspect : float
        Frame width / height, so x and y distances share units.
    """
    n = face_landmarks.shape[0]
    out = np.full(n, np.inf)
    rows = np.flatnonzero(face_present & (hand_count > 0))
    if rows.size == 0:
        return out
    scale = np.array([aspect, 1.0])
    # the rows' outline and eye corners only, not every landmark of every row
    centre = np.nanmean(face_landmarks[rows[:, None], FACE_OVAL[None, :], :2], axis=1) * scale
    size = face_size(face_landmarks, rows) * aspect
    hands = hand_landmarks[rows][..., :2] * scale  # (m, 2, 21, 2)
    d = np.linalg.norm(hands - centre[:, None, None, :], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[rows] = np.nanmin(d.reshape(rows.size, -1), axis=1) / np.maximum(size, 1e-6)
    return out


def find_occlusion_events(
    *,
    t_s: np.ndarray,
    overlap: np.ndarray,
    near: np.ndarray,
    hand_count: np.ndarray,
    min_overlap: float = 0.1,
    near_faces: float = 1.2,
    lost_window_s: float = 0.6,
    merge_gap_s: float = 0.3,
    touch_overlap: float = 0.02,
) -> list[OcclusionEvent]:
    """Stretches of rows where a hand covers the face, or vanished right after covering or nearing it.

    A row is *occluded* when ``overlap >= min_overlap``. A row without any
    hand that comes within ``lost_window_s`` after a row where a hand was on
    or near the face (``near < near_faces`` face sizes from the face centre)
    and before the hand is seen again counts too: an occluder the hand led in
    (a swap that painted over the hand hides it from the hand landmarker),
    provided the hand touched the face (``overlap >= touch_overlap``) before it
    vanished. Rows closer than ``merge_gap_s`` join one event.
    """
    t = np.asarray(t_s, dtype=np.float64)
    n = t.size
    if n == 0:
        return []
    occ = overlap >= min_overlap
    close = near < near_faces
    lost = np.zeros(n, bool)
    last_close_t = -np.inf
    for i in range(n):
        if hand_count[i] > 0:
            if close[i] or occ[i]:
                last_close_t = t[i]
            else:
                last_close_t = -np.inf
        elif t[i] - last_close_t <= lost_window_s:
            lost[i] = True
    # a "lost" stretch only counts when something covered or touched the face right before it
    flagged = occ | lost
    rows = np.flatnonzero(flagged)
    if rows.size == 0:
        return []
    events = []
    start = rows[0]
    prev = rows[0]
    for r in rows[1:]:
        if t[r] - t[prev] > merge_gap_s:
            events.append((start, prev))
            start = r
        prev = r
    events.append((start, prev))
    out = []
    for a, b in events:
        idx = np.arange(a, b + 1)
        idx = idx[flagged[idx]]
        around = (t >= t[a] - lost_window_s) & (t <= t[b])
        if not occ[idx].any() and overlap[around].max(initial=0.0) < touch_overlap:
            continue  # the hand never touched the face: it was near and left the frame
        out.append(
            OcclusionEvent(
                start_s=float(t[a]), end_s=float(t[b]), rows=idx, peak_overlap=float(overlap[around].max(initial=0.0))
            )
        )
    return out


def measure_event(
    ev: OcclusionEvent,
    *,
    t_s: np.ndarray,
    face_present: np.ndarray,
    face_landmarks: np.ndarray,
    hand_landmarks: np.ndarray,
    hand_count: np.ndarray,
    overlap: np.ndarray,
    aspect: float = 1.0,
    pixels: dict[str, np.ndarray] | None = None,
    zone: ZoneFrames | None = None,
    crossing_pad_s: float = 0.1,
    context_s: float = 1.0,
    rng_seed: int = 0,
    shape: np.ndarray | None = None,
    hand_at: np.ndarray | None = None,
) -> OcclusionEvent:
    """Fill ``ev.measurements`` and ``ev.scores`` (each in [0, 1], 0.5 = suspicious).

    ``shape``: ``shape_descriptor(face_landmarks)`` when the caller computed it once for all its events.
    ``hand_at``: rows with a tracked hand at the face (:func:`~interview_guard.signals.hand_path.hands_at_face`);
    default: every row with a tracked hand (a hand elsewhere in the frame then counts as seen).

    ``zone`` (the anchored face zone of the scan) gives the pixel measures of
    :func:`~interview_guard.signals.hand_crossing.crossing_measures`; the
    swap verdicts ``painted_over``, ``ghosted_hand`` and ``face_flash`` come
    from them. A hand the hand landmarker lost is context, never a verdict on
    its own: only what the pixels show is scored.
    """
    t = np.asarray(t_s, dtype=np.float64)
    rows = ev.rows
    m: dict[str, Any] = {
        "found_by": ev.found_by,
        **({"pixel_window": ev.window} if ev.window else {}),
        "frames": int(rows.size),
        "duration_s": round(ev.end_s - ev.start_s, 3),
        "peak_overlap": round(ev.peak_overlap, 3),
    }

    span = (t >= ev.start_s) & (t <= ev.end_s)
    span_rows = np.flatnonzero(span)
    seen = np.asarray(hand_count) > 0 if hand_at is None else np.asarray(hand_at, dtype=bool)
    no_hand = ~seen[span_rows]
    # a face with no hand near it: none in the frame, or none in the scan's face zone (a hand elsewhere is fine)
    away = zone.has_zone & ~np.asarray(zone.held, bool) if zone is not None else False
    clean = face_present & (overlap < 0.02) & (~seen | away)

    # 1. how much the face region changed while covered, against the clip's own
    #    frame-to-frame variation: a hand in front of a face changes it a lot; a
    #    swap that paints its face over the hand leaves a face there
    dev_z = None
    if pixels is not None and "face_crop" in pixels:
        dev_z = _appearance_change(pixels["face_crop"], t, face_present, clean, span_rows, seen, ev, context_s)
        if dev_z is not None:
            m["face_change_z"] = round(dev_z[0], 2)
            m["face_change_z_where_hand_missing"] = None if dev_z[1] is None else round(dev_z[1], 2)

    # 2. the hand crossed the face unseen: detected on one side of the face,
    #    next detected on the other side, never in between, while the face
    #    region kept looking like an unoccluded face
    sightings: dict[str, Any] = {
        "t": t, "face_present": face_present, "face_landmarks": face_landmarks, "hand_landmarks": hand_landmarks,
        "hand_count": hand_count, "start_s": ev.start_s, "end_s": ev.end_s,
    }  # fmt: skip
    crossings = unseen_crossings(**sightings)
    if span_rows.size >= 3:
        step = np.median(np.diff(t[span_rows]))
        dt = np.diff(np.r_[t[span_rows], t[span_rows[-1]] + step])
        m["hand_missing_s"] = round(float(dt[no_hand].sum()), 3)
        m["hand_missing_share"] = round(float(dt[no_hand].sum()) / max(float(dt.sum()), 1e-6), 3)
    m["unseen_crossings"] = len(crossings)
    m["hand_seen_at_face_centre"] = seen_at_centre(**sightings)
    if crossings:
        m["crossings"] = [{"from_t_s": round(a, 3), "to_t_s": round(b, 3)} for a, b in crossings[:5]]

    # 2b. the pixels of the face zone while the hand crosses (the verdicts of a swap failure)
    if zone is not None:
        # the whole crossing: where the hand passed unseen between two sightings, those frames too
        lo = min([ev.start_s] + [a for a, _ in crossings]) - crossing_pad_s
        hi = max([ev.end_s] + [b for _, b in crossings]) + crossing_pad_s
        px = crossing_measures(frames=zone, start_s=lo, end_s=hi, hand_seen=seen)
        if not px.get("ok") and ev.hand_span is not None:  # not judgeable where the pixels put it: the hand's span
            lo = min([ev.hand_span[0]] + [a for a, _ in crossings]) - crossing_pad_s
            hi = max([ev.hand_span[1]] + [b for _, b in crossings]) + crossing_pad_s
            px = {**crossing_measures(frames=zone, start_s=lo, end_s=hi, hand_seen=seen), "judged_on": "hand"}
        tr = transient_measures(frames=zone, start_s=lo, end_s=hi)
        # the transients' own counts under their own names: ``null_frames`` stays the zone measures' (the sample
        # ``null_moving_share`` is a share of, and the one the outline's guard counts)
        px.update({k: v for k, v in tr.items() if k not in ("ok", "reason", "frames", "null_frames")})
        px.update({"transient_null_frames": tr["null_frames"]} if "null_frames" in tr else {})
        if "flash_at_s" in px:  # another face flashing through needs a face: a hand hiding it is no flash
            fl = run_rows(t, float(px["flash_at_s"]), int(px["flash_frames"]))  # flash_at_s is rounded to 1 ms
            px["flash_face_present"] = round(float(np.mean(face_present[fl])), 2) if fl.size else 0.0
        # why the transients were not measured; a crossing the outline's pixels started (its verdicts are capped)
        px.update({"transients_reason": tr.get("reason")} if not tr.get("ok") else {})
        px.update({"seeded_by": "outline"} if (ev.window or {}).get("seeded_by") == "outline" else {})
        series = px.pop("series", None)
        m["pixels"] = px
        if series is not None:
            ev.series = series
        if px.get("ok"):
            px["hand_seen_both_sides"] = bool(crossings)  # it went across: in front or behind, the pixels say

    # 3. the face mesh under the hand: bent by a real hand, kept whole by a face painted over it
    lo_m = min([ev.start_s] + [a for a, _ in crossings]) - crossing_pad_s
    hi_m = max([ev.end_s] + [b for _, b in crossings]) + crossing_pad_s
    mesh = mesh_disturbance(
        t_s=t, face_present=face_present, face_landmarks=face_landmarks, clean=clean, start_s=lo_m, end_s=hi_m,
        aspect=aspect,
    )  # fmt: skip
    m["mesh"] = mesh
    # the verdicts are a function of these two measure records alone (evaluation/verdict_search.py re-scores them)
    scores = crossing_verdicts(m.get("pixels"), mesh)
    m.update(
        covered_motion_ratio(
            t_s=t,
            span_rows=span_rows,
            face_present=face_present,
            face_landmarks=face_landmarks,
            hand_landmarks=hand_landmarks,
            hand_count=hand_count,
            overlap=overlap,
            aspect=aspect,
        )  # fmt: skip
    )

    # 4. shape jump across the event against jumps across other stretches of the clip
    desc = shape_descriptor(face_landmarks, aspect=aspect) if shape is None else shape
    ok = face_present & np.all(np.isfinite(desc), axis=1) & (overlap < 0.02) & (hand_count == 0)
    before = ok & (t < ev.start_s) & (t >= ev.start_s - context_s)
    after = ok & (t > ev.end_s) & (t <= ev.end_s + context_s)
    if before.sum() >= 2 and after.sum() >= 2:
        jump = float(np.linalg.norm(np.median(desc[before], axis=0) - np.median(desc[after], axis=0)))
        gap = max(ev.end_s - ev.start_s, 0.2)
        ref = _reference_jumps(
            t, desc, ok, gap=gap, width=context_s, exclude=(ev.start_s - context_s, ev.end_s + context_s), seed=rng_seed
        )
        m["shape_jump"] = round(jump, 4)
        if ref.size >= 5:
            pct = float(np.mean(ref < jump))
            scale = float(np.median(ref)) + 1e-6
            m["shape_jump_vs_clip"] = round(jump / scale, 3)
            m["shape_jump_percentile"] = round(pct, 3)
            # Measured, not scored: on real faces the face landmarker settles on a different fit after a
            # real hand passed as often as a swap re-acquires another face (docs/face-occlusion.md); a
            # flash of another face is judged on the pixels (face_flash).
            m["shape_jump_suspicious"] = bool(jump / scale > 3.0 and pct >= 0.95)

    # 5. contour flicker during the event against the rest of the clip
    if pixels is not None and "ring_motion" in pixels:
        ring = np.asarray(pixels["ring_motion"], dtype=np.float64)
        inner = np.asarray(pixels["inner_motion"], dtype=np.float64)
        bg = np.asarray(pixels["bg_motion"], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = ring / (0.5 * (inner + bg) + 1.0)
        ev_rel = rel[span_rows]
        base = rel[ok & ~span]
        ev_rel, base = ev_rel[np.isfinite(ev_rel)], base[np.isfinite(base)]
        if ev_rel.size >= 3 and base.size >= 10:
            med, spread = float(np.median(base)), MAD_TO_SD * (mad(base) + 1e-3)
            z_flicker = (float(np.median(ev_rel)) - med) / spread
            # Measured, not scored: a real hand crossing the outline moves the
            # same band, so on real footage this rises for genuine waves too.
            m["contour_flicker_z"] = round(z_flicker, 2)
    ev.measurements = m
    ev.scores = {k: float(round(v, 4)) for k, v in scores.items()}
    return ev


def _crop_norm(c: np.ndarray) -> np.ndarray:
    x = c.astype(np.float32)
    x -= x.mean(axis=(-2, -1), keepdims=True)
    x /= x.std(axis=(-2, -1), keepdims=True) + 1.0
    return x


def _appearance_change(
    crops: np.ndarray,
    t: np.ndarray,
    face_present: np.ndarray,
    clean: np.ndarray,
    span_rows: np.ndarray,
    hand_count: np.ndarray,
    ev: OcclusionEvent,
    context_s: float,
) -> tuple[float, float | None] | None:
    """Robust z of the face-region change during the event: (all event rows, event rows without a hand).

    Reference: the median normalised face crop of clean rows (face, no hand)
    within ``3 * context_s`` before (else after) the event. Null: the change of
    the clean rows around the event (both sides) against the same reference,
    which holds the ordinary variation of this face (speech, small head turns).
    """
    crops = np.asarray(crops)
    near = clean & (
        ((t < ev.start_s) & (t >= ev.start_s - 3 * context_s)) | ((t > ev.end_s) & (t <= ev.end_s + 3 * context_s))
    )
    ref_rows = np.flatnonzero(near & (t < ev.start_s))
    if ref_rows.size < 2:
        ref_rows = np.flatnonzero(near & (t > ev.end_s))
    null_rows = np.flatnonzero(near)
    if ref_rows.size < 2 or null_rows.size < 4 or span_rows.size == 0:
        return None
    ref = np.median(_crop_norm(crops[ref_rows]), axis=0)

    def change(rows: np.ndarray) -> np.ndarray:
        c: np.ndarray = np.mean(np.abs(_crop_norm(crops[rows]) - ref), axis=(-2, -1))
        return c

    null = change(null_rows)
    med = float(np.median(null))
    spread = robust_spread(null, center=med) + 0.02
    rows_face = span_rows[face_present[span_rows]]
    if rows_face.size == 0:
        return None
    z_all = (float(np.median(change(rows_face))) - med) / spread
    missing = rows_face[hand_count[rows_face] == 0]
    z_missing = (float(np.median(change(missing))) - med) / spread if missing.size else None
    return z_all, z_missing


def _reference_jumps(
    t: np.ndarray,
    desc: np.ndarray,
    ok: np.ndarray,
    *,
    gap: float,
    width: float,
    exclude: tuple[float, float],
    seed: int,
    n: int = 40,
) -> np.ndarray:
    """Shape differences across stretches of length ``gap`` elsewhere in the clip (deterministic sample)."""
    lo, hi = float(t[0]) + width, float(t[-1]) - width - gap
    if hi <= lo:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    out = []
    for s in rng.uniform(lo, hi, size=n * 3):
        e = s + gap
        if s < exclude[1] and e > exclude[0]:
            continue
        b = ok & (t < s) & (t >= s - width)
        a = ok & (t > e) & (t <= e + width)
        if b.sum() >= 2 and a.sum() >= 2:
            out.append(float(np.linalg.norm(np.median(desc[b], axis=0) - np.median(desc[a], axis=0))))
        if len(out) >= n:
            break
    return np.asarray(out)


def face_region_disturbance(
    crops: np.ndarray,
    t_s: np.ndarray,
    face_present: np.ndarray,
    *,
    t_from: float,
    t_to: float,
    min_z: float = 6.0,
    min_ratio: float = 2.5,
    min_frames: int = 2,
    max_gap_s: float = 0.25,
    settle_s: float = 1.0,
) -> dict[str, Any]:
    """Whether something crossed the face region in ``[t_from, t_to]``, from the face crops alone.

    For a hand-wave request whose hand the hand landmarker never saw: a hand
    passing in front of the face makes the face region (the 32x32 face crop,
    brightness- and contrast-normalised) change from one analysed frame to
    the next far more than this face ever does otherwise, for a moment, and
    the face looks as before afterwards. Thresholds are relative to the
    clip's own variation: a frame is *disturbed* when its change to the
    previous analysed frame (pairs at most ``max_gap_s`` apart) is above
    the median of the clip's changes outside the window by ``min_z`` robust
    standard deviations (1.4826 MAD) and ``min_ratio`` times that median.
    Frames inside the window where the face is lost between frames that
    have it (the landmarker drops a face behind a hand) count as disturbed.

    Returns the measurements, with ``disturbed`` (bool): at least
    ``min_frames`` disturbed frames, and the face region after the last of
    them (up to ``settle_s`` later, or the window's end) back closer to the
    face before the window than the peak change was (a transient, not a
    cut or a new scene).
    """
    t = np.asarray(t_s, dtype=np.float64)
    present = np.asarray(face_present, bool)
    out: dict[str, Any] = {"disturbed": False}
    rows = np.flatnonzero(present)
    if rows.size < 8:
        out["reason"] = "too few frames with a face"
        return out
    x = _crop_norm(np.asarray(crops)[rows])
    tr = t[rows]
    gap = np.diff(tr)
    d = np.mean(np.abs(np.diff(x, axis=0)), axis=(-2, -1))
    pair_ok = gap <= max_gap_s
    t_pair = tr[1:]
    inside = (t_pair >= t_from) & (t_pair <= t_to)
    null = d[pair_ok & ~inside]
    if null.size < 10:
        null = d[pair_ok]  # a short clip: the whole clip (median and MAD ignore a short wave)
    if null.size < 10:
        out["reason"] = "too few consecutive analysed frames to know the face's own variation"
        return out
    med = float(np.median(null))
    spread = robust_spread(null, center=med) + 1e-3
    z = (d - med) / spread
    hit = pair_ok & inside & (z > min_z) & (d > min_ratio * med)
    # face lost inside the window between frames that have it
    win = np.flatnonzero((t >= t_from) & (t <= t_to))
    lost = 0
    if win.size:
        first, last = rows[0], rows[-1]
        lost = int(np.sum(~present[win] & (win > first) & (win < last)))
    out.update(
        {
            "baseline_change": round(med, 4),
            "baseline_spread": round(spread, 4),
            "peak_change_z": round(float(z[pair_ok & inside].max(initial=0.0)), 2)
            if (pair_ok & inside).any()
            else None,
            "disturbed_frames": int(hit.sum()),
            "face_lost_frames": lost,
        }
    )
    n_hit = int(hit.sum()) + lost
    if n_hit < min_frames or not hit.any():
        return out
    # transient: before the window versus after the last disturbed frame
    t_last = float(t_pair[hit].max())
    t_first = float(t_pair[hit].min())
    out["first_s"], out["last_s"] = round(t_first, 3), round(t_last, 3)
    before = (tr < t_first) & (tr >= t_first - 2.0)
    after = (tr > t_last + 0.1) & (tr <= t_last + settle_s + 0.1)
    if before.sum() < 2 or after.sum() < 2:
        out["returned"] = None
        out["disturbed"] = True  # the window ends with the clip: a crossing seen, its end not
        return out
    ref = np.median(x[before], axis=0)
    peak = float(np.max(np.mean(np.abs(x[1:][hit] - ref), axis=(-2, -1))))
    back = float(np.median(np.mean(np.abs(x[after] - ref), axis=(-2, -1))))
    out["peak_vs_before"] = round(peak, 4)
    out["after_vs_before"] = round(back, 4)
    out["returned"] = bool(back < 0.6 * peak)
    out["disturbed"] = bool(out["returned"])
    return out
