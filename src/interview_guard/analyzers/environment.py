"""``environment``: where is the candidate really? Keyboard, time zone, recording software and mains hum.

Fraud rings claim a home in one country and work from another. A recorded session carries traces of the
place it was made in; this analyzer compares them with the claim in ``session.json`` (``claimed_country``,
else the country read off ``claimed_location``; ``claimed_timezone``). Maths in
:mod:`interview_guard.signals.environment_keys`, :mod:`~interview_guard.signals.environment_hum` and
:mod:`~interview_guard.signals.environment_time`; tables with their sources in
:mod:`~interview_guard.signals.environment_data`; method and measured rates in ``docs/environment.md``.

``keyboard_layout``
    keys that the claimed country's keyboards do not make: Hangul/kana/Cyrillic/... characters, CJK mode
    keys (``Lang1``, ``KanaMode``, ...), IME composition (``Process`` / keyCode 229), AZERTY or QWERTZ letter
    swaps, ISO/JIS-only physical keys.
``timezone_mismatch``
    the browser's time zone or UTC offset (``client`` in ``session.json``) against the claimed zone's offset
    at the session's date.
``file_timezone_mismatch``
    a local time with its UTC offset written into the file's tags (``com.apple.quicktime.creationdate``).
``recording_software``
    virtual cameras and face-swap tools named in the file's tags (the signal); screen recorders and
    transcoders are reported with a near-zero score (ordinary for whoever made the file).
``mains_hum_mismatch``
    a steady 50 or 60 Hz hum (with harmonics) in the audio that is not the claimed country's grid.

Absence is never evidence: no foreign key, no hum, no tags mean "nothing found", score 0 and a low
confidence; traces consistent with the claim are listed in the metrics, never scored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interview_guard.analyzers.base import Analyzer, AnalyzerResult, Evidence, Param, Status
from interview_guard.signals.environment_data import country_from_location, grid_hz
from interview_guard.signals.environment_hum import mains_hum
from interview_guard.signals.environment_keys import judge_keyboard, keyboard_observations, script_words
from interview_guard.signals.environment_time import fmt_offset, offset_mismatch, recording_software, tag_offsets
from interview_guard.tracks import Stream, Tracks
from interview_guard.tracks.metadata import COUNTRY_ZONES

__all__ = ["Environment"]


def _clock(seconds: float) -> str:
    """``3:08`` (minutes:seconds) for a moment of the session."""
    m, s = divmod(int(round(max(seconds, 0.0))), 60)
    return f"{m}:{s:02d}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


_LAYOUT_WORDS = {"azerty": "AZERTY", "qwertz": "QWERTZ", "jis": "Japanese JIS", "abnt": "Brazilian ABNT"}


class Environment(Analyzer):
    name = "environment"
    requires = frozenset({Stream.METADATA})
    uses = frozenset({Stream.KEYSTROKES, Stream.AUDIO, Stream.VIDEO})
    description = (
        "Where the session was really made, against the claimed country and time zone: keyboard layout and "
        "input method, browser and file time zones, recording software, 50/60 Hz mains hum"
    )

    tz_tolerance_min = Param(30.0, 0.0, 180.0, "time-zone differences up to this many minutes are not evidence")
    tz_scale_min = Param(150.0, 30.0, 1440.0, "minutes of time-zone difference for 63 % of the largest score")
    tz_max_score = Param(0.8, 0.0, 1.0, "score of a time-zone difference of many hours")
    hum_score = Param(0.75, 0.0, 1.0, "score of a steady hum of the other grid's frequency")
    hum_min_ratio_db = Param(10.0, 3.0, 40.0, "a hum line must stand this far (dB) above its neighbours")
    hum_frame_s = Param(2.0, 0.5, 8.0, "frame length of the hum spectrum (s)")
    keyboard_confidence_keys = Param(10.0, 1.0, 1000.0, "foreign keys for full confidence in a keyboard finding")

    def _run(self, tracks: Tracks) -> AnalyzerResult:
        meta = tracks.metadata
        country = meta.claimed_country
        country_from = "claimed_country"
        if country is None:
            country = country_from_location(meta.claimed_location)
            country_from = "claimed_location" if country else ""
        claimed_tz = meta.claimed_timezone
        claim_words = self._claim_words(meta.claimed_location, country, claimed_tz)
        video = tracks.video  # container facts, with or without a video stream (an audio-only file has tags)
        tags: dict[str, str] = dict(video.tags) if video is not None else {}
        audio_file = tracks.audio_file
        if audio_file is not None:
            tags.update({f"audio_file.{k}": v for k, v in audio_file.tags.items()})
        keys = tracks.keystrokes if tracks.has(Stream.KEYSTROKES) else None
        audio = tracks.audio if tracks.has(Stream.AUDIO) else None
        client = meta.client
        has_claim = country is not None or claimed_tz is not None
        software = recording_software(tags)
        if not has_claim and not any(f["score"] >= 0.2 for f in software):
            # without a claim only a virtual camera or face-swap tool in the tags is a finding; an ordinary
            # recorder or nothing at all is "not checked", never a reassuring score
            return AnalyzerResult.skipped(
                self.name,
                "no claimed country, location or time zone in session.json (and no virtual camera or face-swap "
                "tool named in the file): nothing to compare",
            )
        if has_claim and not tags and keys is None and audio is None and (client is None or client.empty):
            return AnalyzerResult.skipped(
                self.name, "nothing to compare the claim with (no keystrokes, audio, container tags or browser data)"
            )
        dur = float(tracks.duration_s)
        evidence: list[tuple[Evidence, float]] = []  # (finding, its confidence)
        checked: list[str] = []
        consistent: list[str] = []
        metrics: dict[str, Any] = {
            "claimed_country": country,
            "country_from": country_from,
            "claimed_timezone": claimed_tz,
        }

        # ---------------------------------------------------------------- keyboard
        if keys is not None and len(keys):
            obs = keyboard_observations(
                t_ms=keys.t_ms, kind=keys.kind, key=keys.key, code=keys.code, keycode=keys.keycode
            )
            metrics["keyboard"] = [{k: v for k, v in o.items() if k not in ("t0_ms", "t1_ms", "examples")} for o in obs]
            if country is not None:
                checked.append("keyboard")
                bad = judge_keyboard(obs, country)
                if len(bad) < len(obs):
                    consistent.append("keyboard")
                modes = [o for o in obs if o["what"] == "mode_keys"]
                for b in bad:
                    ev = self._keyboard_evidence(b, modes, claim_words, dur)
                    conf = min(1.0, 0.5 + 0.5 * int(b["count"]) / self.keyboard_confidence_keys)
                    evidence.append((ev, conf))

        # ---------------------------------------------------------------- time zones
        claimed_off = tuple(meta.zone_offsets.get(claimed_tz, ())) if claimed_tz else ()
        tz_words = claimed_tz or ""
        if not claimed_off and claimed_tz is None and country is not None:  # no claimed zone: the country's
            claimed_off = tuple(meta.zone_offsets.get(COUNTRY_ZONES + country.upper(), ()))
            tz_words = f"every time zone of {country.upper()}"
        metrics["claimed_utc_offsets_min"] = list(claimed_off)
        unknown_tz = bool(claimed_tz and not claimed_off)  # a name zoneinfo does not know: not compared, said so
        if client is not None:
            metrics["client"] = client.to_dict()
            observed: list[tuple[str, int]] = []
            if client.timezone:
                observed += [
                    (f"browser time zone {client.timezone}", o) for o in meta.zone_offsets.get(client.timezone, ())
                ]
            if client.utc_offset_min is not None:
                observed.append(("browser clock", int(client.utc_offset_min)))
            if observed and claimed_off:
                checked.append("browser time zone")
                ev_tz = self._tz_evidence(observed, claimed_off, tz_words, claim_words, dur, "timezone_mismatch")
                if ev_tz is None:
                    consistent.append("browser time zone")
                else:
                    evidence.append((ev_tz, 0.9))
        file_offsets = tag_offsets(tags)
        if file_offsets:
            metrics["file_utc_offsets_min"] = {k: v for k, v in file_offsets}
            if claimed_off:
                checked.append("file time zone")
                ev_f = self._tz_evidence(
                    [(f"the file's tag {k}", v) for k, v in file_offsets],
                    claimed_off,
                    tz_words,
                    claim_words,
                    dur,
                    "file_timezone_mismatch",
                )
                if ev_f is None:
                    consistent.append("file time zone")
                else:
                    evidence.append((ev_f, 0.8))

        # ---------------------------------------------------------------- recording software
        if tags:
            checked.append("container tags")
            metrics["recording_software"] = [{k: f[k] for k in ("category", "tag", "value")} for f in software]
            for f in software:
                evidence.append(
                    (
                        Evidence(
                            analyzer=self.name,
                            kind="recording_software",
                            start_s=0.0,
                            end_s=dur,
                            score=float(f["score"]),
                            summary=(
                                f"the file's {f['tag']} tag names {f['name']} ({f['value'][:60]!r}): {f['meaning']}"
                            ),
                            details={k: f[k] for k in ("category", "tag", "value", "meaning")},
                        ),
                        0.8 if f["category"] in ("virtual_camera", "face_swap") else 0.3,
                    )
                )

        # ---------------------------------------------------------------- mains hum
        if audio is not None and len(audio):
            hum = mains_hum(
                y=audio.samples,
                sr=audio.sr,
                frame_s=self.hum_frame_s,
                min_ratio_db=self.hum_min_ratio_db,
                release=getattr(audio, "release_samples", None),  # a mapped waveform: read pages leave memory
            )
            metrics["mains_hum"] = {
                "detected_hz": hum["detected_hz"],
                "confidence": hum["confidence"],
                "frames": hum["frames"],
                **{
                    f"{f}_hz": {k: hum[f][k] for k in ("ratio_db", "harmonic_hz", "frame_share", "freq_std_hz")}
                    for f in ("50", "60")
                    if f in hum
                },
            }
            grids = grid_hz(country)
            metrics["claimed_grid_hz"] = list(grids)
            if grids and hum["frames"] >= 2:
                checked.append("mains hum")
                det = hum["detected_hz"]
                if det is not None and det in grids:
                    consistent.append("mains hum")
                elif det is not None:
                    h = hum[str(det)]
                    evidence.append(
                        (
                            Evidence(
                                analyzer=self.name,
                                kind="mains_hum_mismatch",
                                start_s=min(max(audio.start_s, 0.0), dur),
                                end_s=min(max(audio.end_s, 0.0), dur),
                                score=float(self.hum_score),
                                summary=(
                                    f"a steady {det} Hz mains hum is in the audio (line at {h['harmonic_hz']:g} Hz, "
                                    f"{h['ratio_db']:.0f} dB above its neighbours, in {h['frame_share']:.0%} of "
                                    f"{hum['frames']} frames); the grid of {claim_words} runs at "
                                    f"{' / '.join(str(g) for g in grids)} Hz"
                                ),
                                details={
                                    "detected_hz": det,
                                    "claimed_grid_hz": list(grids),
                                    "harmonic_hz": h["harmonic_hz"],
                                    "ratio_db": h["ratio_db"],
                                    "frame_share": h["frame_share"],
                                    "freq_std_hz": h["freq_std_hz"],
                                    "frames": hum["frames"],
                                },
                            ),
                            float(hum["confidence"]),
                        )
                    )

        # ---------------------------------------------------------------- score
        # every contradiction of the claim, and a virtual camera or face-swap tool (an ordinary recorder or
        # transcoder is reported, not counted)
        scored = [(e, c) for e, c in evidence if e.kind != "recording_software" or e.score >= 0.2]
        score = 1.0 - float(np.prod([1.0 - e.score for e, _ in evidence])) if evidence else 0.0
        if scored:
            confidence = max(c for _, c in scored)
            reason = ""
        else:
            # nothing contradicts the claim: a low score with a low confidence (absence is not evidence)
            confidence = min(0.3, 0.075 * len(checked))
            if checked:
                reason = "nothing found that contradicts the claim"
            elif has_claim:
                seen_tz = bool(file_offsets) or (
                    client is not None and (bool(client.timezone) or client.utc_offset_min is not None)
                )
                why = self._unchecked_words(keys, audio, country, seen_tz, bool(claimed_off))
                reason = f"nothing could be held against the claim ({why})"
            else:
                reason = "no claim to compare with: only the recording software was looked at"
        if unknown_tz:
            metrics["claimed_timezone_unknown"] = True
            note = f"claimed time zone {claimed_tz!r} is not a known IANA time zone name: nothing was compared with it"
            reason = f"{reason}; {note}" if reason else note
        metrics["checked"] = checked
        metrics["consistent"] = consistent
        metrics["contradictions"] = len(scored)
        ordered = sorted(evidence, key=lambda ec: (-ec[0].score, ec[0].start_s))
        return AnalyzerResult(
            name=self.name,
            status=Status.OK,
            score=float(min(max(score, 0.0), 1.0)),
            confidence=float(min(max(confidence, 0.0), 1.0)),
            reason=reason,
            evidence=tuple(e for e, _ in ordered),
            windows=(),
            metrics=metrics,
        )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _claim_words(location: str | None, country: str | None, tz: str | None) -> str:
        if location and country and country.upper() not in location.upper().replace(".", ""):
            return f"claimed location {location} ({country})"
        if location:
            return f"claimed location {location}"
        if country:
            return f"claimed country {country}"
        return f"claimed time zone {tz}"

    def _keyboard_evidence(
        self, b: dict[str, Any], modes: list[dict[str, Any]], claim_words: str, dur: float
    ) -> Evidence:
        n = int(b["count"])
        t0, t1 = float(b["t0_ms"]) / 1000.0, float(b["t1_ms"]) / 1000.0
        t0, t1 = min(max(t0, 0.0), dur), min(max(t1, 0.0), dur)
        what = b["what"]
        at = f"at {_clock(t0)}" if t1 - t0 < 1.0 else f"from {_clock(t0)} to {_clock(t1)}"
        if what == "script":
            before = [m for m in modes if float(m["t0_ms"]) <= float(b["t0_ms"])]
            after = f" after a {before[0]['key']} toggle" if before else ""
            verb = "composed" if b.get("composed") else "typed"
            text = f"{verb} {_plural(n, 'character')} in {script_words(b['script'])} {at}{after}"
        elif what == "mode_keys":
            scripts = " or ".join(script_words(s) for s in b["implies"])
            text = f"pressed the {b['key']} key ({_plural(n, 'time')}) {at}: a {scripts} keyboard"
        elif what == "ime_process":
            text = f"{_plural(n, 'key')} went through an input method editor (key 'Process' / keyCode 229) {at}"
        elif what == "layout":
            text = (
                f"{_plural(n, 'key')} {at} came from an {_LAYOUT_WORDS.get(b['layout'], b['layout'])} layout "
                f"({', '.join(b.get('examples', [])[:4])})"
            )
        else:
            kind_words = "ISO" if what == "iso_key" else _LAYOUT_WORDS.get(b["implies"][0], "JIS")
            text = f"pressed the {b['key']} key ({_plural(n, 'time')}) {at}, found only on {kind_words} keyboards"
        return Evidence(
            analyzer=self.name,
            kind="keyboard_layout",
            start_s=t0,
            end_s=t1,
            score=float(b["score"]),
            summary=f"{text}; {claim_words}",
            details={k: v for k, v in b.items() if k not in ("t0_ms", "t1_ms")},
        )

    @staticmethod
    def _unchecked_words(keys: Any, audio: Any, country: str | None, seen_tz: bool, claimed_tz: bool) -> str:
        """Why the keyboard, the time zones and the mains hum were not compared, in a few words."""
        has_keys = keys is not None and len(keys) > 0
        has_audio = audio is not None and len(audio) > 0
        if country is None:
            what = ["the typed keys' layout" if has_keys else "a keyboard layout"] + (
                ["the mains hum"] if has_audio else []
            )
            missing = [f"no claimed country to compare {' or '.join(what)} with"]
        else:
            missing = [] if has_keys else ["no typed keys"]
            missing += ["no steady mains hum in the audio" if has_audio else "no audio for the mains hum"]
        if not seen_tz:
            missing.append("no browser or file time zone to compare with the claim")
        elif not claimed_tz:
            missing.append("no claimed time zone to compare the browser's or file's with")
        return "; ".join(missing)

    def _tz_evidence(
        self,
        observed: list[tuple[str, int]],
        claimed_off: tuple[int, ...],
        claimed_tz: str,
        claim_words: str,
        dur: float,
        kind: str,
    ) -> Evidence | None:
        miss = offset_mismatch([o for _, o in observed], claimed_off)
        if miss is None or miss <= self.tz_tolerance_min:
            return None
        score = float(self.tz_max_score) * (1.0 - math.exp(-miss / self.tz_scale_min))
        what, off = min(observed, key=lambda wo: min(abs(wo[1] - c) for c in claimed_off))
        claimed = (
            " or ".join(fmt_offset(c) for c in claimed_off)
            if len(claimed_off) <= 3
            else f"{fmt_offset(claimed_off[0])} to {fmt_offset(claimed_off[-1])}"
        )
        hours = miss / 60.0
        return Evidence(
            analyzer=self.name,
            kind=kind,
            start_s=0.0,
            end_s=dur,
            score=score,
            summary=(
                f"{what} is {fmt_offset(off)}, {hours:g} h from {claimed_tz} ({claimed}) at the session's date; "
                f"{claim_words}"
            ),
            details={
                "observed": [{"source": w, "utc_offset_min": o} for w, o in observed],
                "claimed_timezone": claimed_tz,
                "claimed_utc_offsets_min": list(claimed_off),
                "difference_min": miss,
            },
        )
