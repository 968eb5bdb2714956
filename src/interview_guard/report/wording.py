"""The words of the report pages: analyzer names, finding kinds, numbers, one clause per analyzer result.

Plain Python (no I/O, no heavy library): :mod:`interview_guard.report.html`
puts these strings into its templates, which escape them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from interview_guard.analyzers.base import Evidence

__all__ = [
    "BAND_WORDS",
    "MODALITY_WORDS",
    "analyzer_label",
    "contribution_words",
    "decisive_words",
    "explain_result",
    "flatten_metrics",
    "kind_label",
    "num",
    "score_class",
    "status_of",
    "time_span",
]

_LABELS = {
    "keystroke_relay": "Keystroke relay",
    "face_occlusion": "Hand over face",
    "face_identity": "Face identity",
    "face_artifacts": "Pasted-face traces",
    "av_sync": "Lip sync",
    "acoustic_keystroke": "Key clicks vs key log",
    "environment": "Where it was made",
}
MODALITY_WORDS = {"keystrokes": "keystroke log", "audio": "audio", "video": "video"}
BAND_WORDS = {
    "high": "high risk",
    "medium": "medium risk",
    "low": "low risk",
    "unassessed": "not assessed: nothing could be checked",
}


def analyzer_label(name: str) -> str:
    """Human name of an analyzer (``keystroke_relay`` -> ``Keystroke relay``)."""
    return _LABELS.get(name) or name.replace("_", " ").strip().capitalize() or "?"


_KIND_LABELS = {
    "av_offset": "Audio/video offset",
    "lips_do_not_follow": "Lips do not follow the speech",
    "offset_drift": "Audio/video offset drifts",
    "occlusion_event": "Hand over the face",
    "catch_up_bursts": "Catch-up bursts",
    "collapsed_keydowns": "Collapsed key-downs",
    "challenge_answered": "Hand-wave request answered",
    "challenge_not_performed": "Hand-wave request not performed",
    "challenge_unverified": "Hand-wave request: covered in the pixels, not tracked",
    "challenge_not_recorded": "Hand-wave request not in the recording",
    "identity_change": "The person on camera changed",
    "identity_flash": "Another face flashed through",
    "enrolment_match": "Matches the enrolment photo",
    "enrolment_mismatch": "Does not match the enrolment photo",
    "enrolment_unusable": "Enrolment photo not usable",
    "other_persons": "Other people on screen",
    "face_softness": "Inner face softer than its surroundings",
    "face_tone_step": "Colour step at the face outline",
    "seam_flicker": "Face outline flickers",
    "seam_flicker_bursts": "Face outline jumps in bursts",
    "keyboard_layout": "Keyboard or input method of another country",
    "timezone_mismatch": "Browser time zone differs from the claim",
    "file_timezone_mismatch": "File's local time zone differs from the claim",
    "recording_software": "Recording software or camera named in the file",
    "mains_hum_mismatch": "Mains hum of another grid",
}


def kind_label(kind: str) -> str:
    """Human name of a finding type (``catch_up_bursts`` -> ``Catch-up bursts``)."""
    return _KIND_LABELS.get(kind) or kind.replace("_", " ").strip().capitalize() or "Finding"


def status_of(r: Any) -> str:
    """An analyzer result's status as a string (``ok``, ``skipped``, ``failed``)."""
    return str(getattr(r.status, "value", r.status))


def num(v: Any, nd: int = 2) -> str:
    """A metric value for a person: integers as is, floats to ``nd`` decimals (or 3 significant digits)."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and abs(v) < 10 ** (-nd):
            return f"{v:.2g}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{nd}f}".rstrip("0").rstrip(".")
    return str(v)


def time_span(a: float, b: float) -> str:
    """``12.0 s`` or ``12.0–80.0 s``."""
    return f"{a:.1f} s" if abs(b - a) < 0.05 else f"{a:.1f}–{b:.1f} s"


def score_class(score: float | None) -> str:
    """CSS class of a score: ``s-high`` (>= 0.5), ``s-mid`` (>= 0.2), ``s-low``, ``s-none``."""
    if score is None:
        return "s-none"
    if score >= 0.5:
        return "s-high"
    if score >= 0.2:
        return "s-mid"
    return "s-low"


# --------------------------------------------------------------------------- what drove it


def _ratio(count: int, expected: float | None) -> str:
    if not expected or expected <= 0:
        return ""
    ratio = count / expected
    return (
        f", {ratio:.0f}x the {num(float(expected))} expected from a genuine typist"
        if ratio >= 10
        else (f", {ratio:.1f}x the {num(float(expected))} expected from a genuine typist")
    )


def _explain_keystroke_relay(m: Mapping[str, Any]) -> str:
    inc = m.get("relay_incidents") or {}
    count = int(inc["count"])
    presses = int(m["key_presses"])
    exp = inc.get("expected_genuine")
    if count:
        s = f"{count} relay incident{'s' if count != 1 else ''} in {presses:,} key presses{_ratio(count, exp)}"
    else:
        s = f"no relay incident in {presses:,} key presses"
        if exp:
            s += f" (about {num(float(exp))} expected by chance)"
    rules = {k: v for k, v in (inc.get("by_rule") or {}).items() if v}
    if rules:
        listed = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in rules.items())
        # the rules' counts add up to more than the incidents when an incident meets several: say so
        several = sum(int(v) for v in rules.values() if isinstance(v, (int, float))) > count
        s += f" (incidents per rule, one may meet several: {listed})" if several else f" ({listed})"
    lag = m.get("transport_lag")
    if isinstance(lag, dict) and lag.get("median_ms") is not None:
        if lag.get("synced"):
            s += f"; keys reached the server a median {lag['median_ms']:.0f} ms after they were typed"
        if lag.get("jitter_ms") is not None:
            s += f" (transport jitter {lag['jitter_ms']:.1f} ms)"
    if m.get("coarse_clock"):
        s += f"; the browser clock is coarse ({num(m.get('clock_resolution_ms'))} ms grid)"
    return s


def _explain_face_occlusion(m: Mapping[str, Any], evidence: Iterable[Evidence]) -> str:
    n = int(m["occlusion_events"])
    frames = int(m["analysed_frames"])
    presence = m.get("face_presence")
    seen = f" (face visible in {presence:.0%} of them)" if isinstance(presence, (int, float)) else ""
    if n == 0:
        s = (
            f"no hand crossed the face in {frames:,} analysed frames{seen}, so the hand-over-face test did not happen"
            f" (largest overlap {float(m.get('max_overlap') or 0.0):.0%})"
        )
    else:
        s = f"{n} hand-over-face event{'s' if n != 1 else ''} in {frames:,} analysed frames{seen}"
        occ = [e for e in evidence if e.kind == "occlusion_event"]
        if occ:
            worst = max(occ, key=lambda e: e.score)
            s += f"; the worst, at {time_span(worst.start_s, worst.end_s)}, scored {worst.score:.2f}"
    missed = [e for e in evidence if e.kind == "challenge_not_performed"]
    if missed:
        s += f"; {len(missed)} requested hand wave{'s' if len(missed) != 1 else ''} not performed"
    return s


def _explain_face_identity(m: Mapping[str, Any]) -> str:
    good = int(m["good_faces"])
    persons = int(m.get("persons_over_time") or 1)
    s = f"{good:,} clear faces described" + (
        ", one person throughout" if persons == 1 else f", {persons} different people one after another"
    )
    if m.get("flashes"):
        s += f", {int(m['flashes'])} flash{'es' if int(m['flashes']) != 1 else ''} of another face"
    if m.get("enrolment_distance") is not None:
        s += f"; {float(m['enrolment_distance']):.2f} from the enrolment photo"
    elif m.get("enrolment_status") not in (None, "none", "ok"):
        s += f"; enrolment photo not usable ({str(m['enrolment_status']).replace('_', ' ')})"
    if m.get("other_persons"):
        s += f"; {int(m['other_persons'])} other person(s) on screen left out"
    return s


def _explain_face_artifacts(m: Mapping[str, Any]) -> str:
    meas = m["measures"]
    s = f"{int(m['frames_measured']):,} face frames measured ({int(m['frames_usable']):,} without a hand at the face)"
    soft, flick = meas.get("softness") or {}, meas.get("flicker") or {}
    if soft.get("frames"):
        s += f"; inner/outer detail {math.exp(float(soft['median'])):.2f}x"
    if flick.get("frames"):
        s += f", outline/inner frame change {math.exp(float(flick['median'])):.2f}x"
    return s


def _explain_av_sync(m: Mapping[str, Any]) -> str:
    off = float(m["offset_ms"])
    side = "late" if off > 0 else "early"
    s = f"audio {abs(off):.0f} ms {side} against the lips"
    if m.get("offset_se_ms") is not None:
        s += f" (±{float(m['offset_se_ms']):.0f} ms)"
    if m.get("sync_z") is not None:
        s += f", lip–speech correlation z = {float(m['sync_z']):.1f}"
    if m.get("not_following_share") is not None:
        s += f", {float(m['not_following_share']):.0%} of speech windows not following the lips"
    if m.get("speech_with_face_s") is not None:
        s += f", over {float(m['speech_with_face_s']):.0f} s of speech with a visible face"
    return s


def _explain_acoustic_keystroke(m: Mapping[str, Any]) -> str:
    presses = int(m["key_presses"])
    if m.get("offset_found"):
        s = f"{int(m['matched']):,} of {presses:,} key presses have a click in the audio ({float(m['match_rate']):.0%})"
        if m.get("spread_ms") is not None:
            s += f", click-to-key lag spread {float(m['spread_ms']):.1f} ms"
        if m.get("idle_train_clicks"):
            s += f", {int(m['idle_train_clicks'])} clicks heard while the key log was idle"
        return s
    return (
        f"{presses:,} key presses logged but no train of clicks in the audio lines up with them "
        f"({int(m.get('clicks') or 0):,} click-like sounds)"
    )


def _explain_environment(m: Mapping[str, Any]) -> str:
    checked = list(m.get("checked") or [])
    n = int(m.get("contradictions") or 0)
    country = m.get("claimed_country") or m.get("claimed_timezone") or "no country"
    if not checked:
        s = "no claimed country or time zone: only the recording software was looked at"
    elif n:
        s = f"{n} trace{'s' if n != 1 else ''} contradicting the claim ({country}) among: {', '.join(checked)}"
    else:
        s = f"nothing contradicts the claim ({country}); looked at: {', '.join(checked)}"
    consistent = list(m.get("consistent") or [])
    if consistent:
        s += f"; consistent with it: {', '.join(consistent)}"
    hum = m.get("mains_hum") or {}
    if isinstance(hum, Mapping) and hum.get("detected_hz"):
        s += f"; {hum['detected_hz']} Hz mains hum heard"
    return s


def _explain_generic(m: Mapping[str, Any]) -> str:
    parts = []
    for k, v in m.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        parts.append(f"{k.replace('_', ' ')} {num(v)}")
        if len(parts) == 4:
            break
    return ", ".join(parts)


def explain_result(result: Any) -> str:
    """One clause with the numbers behind an ``ok`` analyzer result (empty when there are none).

    Known analyzers get their own wording from their ``metrics``; unknown ones
    (or metrics missing a field) get the first few numeric metrics.
    """
    m = result.metrics or {}
    try:
        if result.name == "keystroke_relay":
            return _explain_keystroke_relay(m)
        if result.name == "face_occlusion":
            return _explain_face_occlusion(m, result.evidence)
        if result.name == "face_identity":
            return _explain_face_identity(m)
        if result.name == "face_artifacts":
            return _explain_face_artifacts(m)
        if result.name == "av_sync":
            return _explain_av_sync(m)
        if result.name == "acoustic_keystroke":
            return _explain_acoustic_keystroke(m)
        if result.name == "environment":
            return _explain_environment(m)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return _explain_generic(m)


def contribution_words(dz: float | None) -> str:
    """What an analyzer's log-odds contribution did to the risk, in words."""
    if dz is None:
        return ""
    if dz > 0.005:
        return f"raised the risk by {dz:+.2f} log-odds"
    if dz < -0.005:
        return f"lowered the risk by {abs(dz):.2f} log-odds"
    return "left the risk unchanged"


def decisive_words(risk: Any) -> list[tuple[str, str]]:
    """``(band, sentence)`` per decisive rule that fired (``risk.decisive``): why the session is in that band.

    E.g. ``("high", "face_occlusion 0.97 (confidence 0.62) is decisive on its own: ...")``; a rule of the medium
    band (``"band": "medium"``) asks for a look. Entries this version cannot read are left out, never an error.
    """
    fused = getattr(risk, "fused_score", None)
    out = []
    for hit in getattr(risk, "decisive", None) or []:
        try:
            name = str(hit["analyzer"])
            band = str(hit.get("band", "high"))
            said = f"{name} {float(hit['score']):.2f} (confidence {float(hit['confidence']):.2f})"
            rule = (
                f"a score of at least {float(hit['min_score']):.2f} with a confidence of at least "
                f"{float(hit['min_confidence']):.2f}"
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        if band == "high":
            s = (
                f"{said} is decisive on its own: {rule} puts the session in the high band "
                "whatever the other analyzers say"
            )
        elif band == "medium":
            s = (
                f"{said} asks for a look on its own: {rule} puts the session at least in the medium band, "
                "whatever the other analyzers say"
            )
        else:
            continue
        if isinstance(fused, (int, float)) and not isinstance(fused, bool):
            s += f" (all analyzers fused together gave {float(fused):.2f})"
        out.append((band, s))
    return out


def flatten_metrics(d: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """``(dotted key, value for a person)`` for every metric, nested mappings flattened two levels deep."""
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and depth < 2:
            yield from flatten_metrics(v, f"{key}.", depth + 1)
        elif isinstance(v, (list, tuple)):
            shown = ", ".join(num(x) if not isinstance(x, (dict, list)) else "…" for x in list(v)[:8])
            yield key, shown + (", …" if len(v) > 8 else "")
        else:
            yield key, num(v, 3)
