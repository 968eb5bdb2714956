"""The ``environment`` analyzer: contract, each kind of finding, absence, fusion bands, session.json fields."""

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from conftest import typing_events
from interview_guard.analyzers import registry
from interview_guard.analyzers.checks import parametrize_with_checks
from interview_guard.analyzers.environment import Environment
from interview_guard.errors import InputError, KeystrokeLogError
from interview_guard.fusion.model import FusionModel
from interview_guard.io.keystroke_log import dumps_jsonl, parse_keystroke_lines
from interview_guard.io.media import media_tags
from interview_guard.io.session import read_session_metadata, with_zone_offsets, zone_offsets
from interview_guard.report.wording import explain_result, kind_label
from interview_guard.signals.environment_time import recording_software, tag_offsets
from interview_guard.tracks import MediaInfo, Stream, Tracks
from interview_guard.tracks.audio import AudioTrack
from interview_guard.tracks.metadata import SessionMetadata

SR = 16000


def _log(n=150, seed=0):
    log = parse_keystroke_lines([json.dumps(e) for e in typing_events(n, seed=seed)])
    return log.shifted(-log.t_ms[0])


def _meta(**kw):
    return with_zone_offsets(SessionMetadata.from_dict({"recording_start": "2026-11-28T15:00:00Z", **kw}))


def _hum(f0, seconds=20.0, level=0.02, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = rng.normal(0, 0.05, t.size) + level * np.sin(2 * np.pi * f0 * t) + 0.5 * level * np.sin(4 * np.pi * f0 * t)
    return AudioTrack(y.astype(np.float32), SR)


def _video(**tags):
    return MediaInfo(path="video.mp4", duration_s=20.0, has_video=True, has_audio=True, tags=dict(tags))


def example_tracks() -> Tracks:
    log = _log()
    return Tracks(
        duration_s=max(20.0, float(log.t_ms[-1]) / 1000.0),
        keystrokes=log,
        audio=_hum(60),
        video=_video(**{"format:encoder": "OBS Studio 30.1"}),
        metadata=_meta(claimed_location="Chicago, IL", claimed_timezone="America/Chicago"),
    )


@parametrize_with_checks([Environment], tracks=example_tracks)
def test_contract(analyzer, check):
    check(analyzer)


def test_registered_under_its_name():
    assert registry()["environment"] is Environment


def _run(**kw):
    kw.setdefault("duration_s", 20.0)
    return Environment().analyze(Tracks(**kw))


def test_consistent_session_is_ok_low_and_unsure():
    r = Environment().analyze(example_tracks())
    assert r.status.value == "ok"
    assert r.score < 0.1 and r.confidence <= 0.3
    assert "mains hum" in r.metrics["consistent"] and "keyboard" in r.metrics["checked"]
    assert [e.details["category"] for e in r.evidence] == ["screen_recorder"]  # reported, near zero


def test_absence_is_not_evidence():
    meta = _meta(claimed_country="US")
    quiet = AudioTrack(np.random.default_rng(0).normal(0, 0.05, 20 * SR).astype(np.float32), SR)
    r = _run(keystrokes=_log(), audio=quiet, metadata=meta)
    assert r.status.value == "ok" and r.score == 0.0 and r.confidence <= 0.3 and not r.evidence
    # no claim, no notable software: not checked at all
    assert _run(keystrokes=_log(), audio=quiet).status.value == "skipped"
    # a claim but nothing to hold it against
    assert _run(metadata=meta).status.value == "skipped"


def test_nothing_compared_says_what_was_missing_not_no_typed_keys():
    """A claimed time zone and 150 typed keys, no country: the keys are there, it is the country that is missing
    (the reason said "no typed keys")."""
    r = _run(keystrokes=_log(), metadata=_meta(claimed_timezone="Europe/Berlin"))
    assert r.status.value == "ok" and not r.metrics["checked"]
    assert "no typed keys" not in r.reason, r.reason
    assert r.reason == (
        "nothing could be held against the claim (no claimed country to compare the typed keys' layout with; "
        "no browser or file time zone to compare with the claim)"
    )
    r = _run(metadata=_meta(claimed_country="DE", client={"languages": ["de-DE"]}))
    assert r.reason == (
        "nothing could be held against the claim (no typed keys; no audio for the mains hum; "
        "no browser or file time zone to compare with the claim)"
    )


def test_a_claimed_time_zone_nobody_knows_is_said_not_compared():
    meta = _meta(claimed_timezone="Mars/Olympus_Mons", client={"timezone": "Asia/Seoul"})
    r = _run(metadata=meta)
    assert not r.evidence and r.score == 0.0 and r.confidence <= 0.3  # nothing held against it, nothing raised
    assert r.metrics["claimed_timezone_unknown"] is True
    assert "'Mars/Olympus_Mons' is not a known IANA time zone name" in r.reason and "\n" not in r.reason
    known = _run(metadata=_meta(claimed_timezone="Asia/Seoul", client={"timezone": "Asia/Seoul"}))
    assert "claimed_timezone_unknown" not in known.metrics and "IANA" not in known.reason


def test_browser_time_zone_against_the_claim():
    meta = _meta(claimed_location="Chicago, IL", claimed_timezone="America/Chicago", client={"timezone": "Asia/Seoul"})
    r = _run(metadata=meta)
    ev = r.evidence[0]
    assert ev.kind == "timezone_mismatch" and ev.details["difference_min"] == 900
    assert "UTC+09:00" in ev.summary and "UTC-06:00" in ev.summary and "Chicago" in ev.summary
    assert r.score > 0.7 and r.confidence >= 0.9
    same = _meta(claimed_timezone="America/Chicago", client={"timezone": "America/Mexico_City", "utc_offset_min": -360})
    assert not _run(metadata=same).evidence  # another zone name with the same offset is no evidence
    # the offset alone, east positive; in summer Berlin is UTC+2
    summer = with_zone_offsets(
        SessionMetadata.from_dict(
            {
                "recording_start": "2026-07-01T12:00:00Z",
                "claimed_timezone": "Europe/Berlin",
                "client": {"utc_offset_min": 120},
            }
        )
    )
    assert not _run(metadata=summer).evidence
    winter = _meta(claimed_timezone="Europe/Berlin", client={"utc_offset_min": 120})
    assert _run(metadata=winter).evidence[0].details["difference_min"] == 60


def test_browser_time_zone_against_the_claimed_country_without_a_claimed_zone(tmp_path):
    """No claimed_timezone: every zone of the claimed country (tzdata's zone.tab) at the session's date."""
    from interview_guard.extract.session import extract_tracks
    from interview_guard.io.session import COUNTRY_ZONES, Session, country_zone_offsets

    assert country_zone_offsets("KR") == (540,) and country_zone_offsets("XX") == ()
    us = country_zone_offsets("US", datetime(2026, 11, 28, 15, tzinfo=UTC))
    assert us[0] <= -600 and us[-1] == -300 and -360 in us  # Hawaii .. the east coast, in November
    seoul = _meta(claimed_country="US", client={"timezone": "Asia/Seoul"})
    assert seoul.zone_offsets[COUNTRY_ZONES + "US"] == us
    ev = _run(metadata=seoul).evidence[0]
    assert ev.kind == "timezone_mismatch" and ev.details["difference_min"] == 840  # 9 h east of UTC-5
    assert "every time zone of US" in ev.summary and "to UTC-05:00" in ev.summary
    denver = _meta(claimed_country="US", client={"timezone": "America/Denver"})
    assert not _run(metadata=denver).evidence  # another US zone: no evidence
    # the country read off claimed_location (no claimed_country): filled when the session's tracks are made
    (tmp_path / "session.json").write_text(
        json.dumps(
            {
                "claimed_location": "Berlin, Germany",
                "client": {"timezone": "America/New_York"},
                "recording_start": "2026-11-28T15:00:00Z",
            }
        )
    )
    (tmp_path / "keystrokes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in typing_events(60, seed=1)))
    tracks = extract_tracks(Session.open(tmp_path), {Stream.KEYSTROKES, Stream.METADATA})
    assert tracks.metadata.zone_offsets[COUNTRY_ZONES + "DE"] == (60,)
    ev = _run(metadata=tracks.metadata).evidence[0]
    assert ev.kind == "timezone_mismatch" and ev.details["difference_min"] == 360


def test_file_time_zone_tag():
    video = _video(**{"format:com.apple.quicktime.creationdate": "2026-11-28T21:03:11+0900"})
    r = _run(video=video, metadata=_meta(claimed_timezone="America/Chicago"))
    assert [e.kind for e in r.evidence] == ["file_timezone_mismatch"]
    assert tag_offsets({"format:creation_time": "2026-11-28T12:03:11.000000Z"}) == []  # UTC: no local zone


def test_virtual_camera_and_face_swap_strings():
    found = recording_software({"video:handler_name": "OBS Virtual Camera", "format:encoder": "Lavf60.3.100"})
    assert [f["category"] for f in found] == ["virtual_camera"]
    assert recording_software({"format:encoder": "DeepFaceLive output"})[0]["category"] == "face_swap"
    assert recording_software({"format:title": "Bloomberg interview"}) == []
    # without a claim a virtual camera is still a finding
    r = _run(video=_video(**{"video:handler_name": "ManyCam Virtual Webcam"}))
    assert r.status.value == "ok" and r.evidence[0].kind == "recording_software" and r.score >= 0.6
    # an ordinary recorder without a claim is nothing to report
    assert _run(video=_video(**{"format:encoder": "OBS Studio"})).status.value == "skipped"


def test_mains_hum_of_the_other_grid():
    r = _run(audio=_hum(50, seconds=60.0), metadata=_meta(claimed_location="Chicago, IL"))
    ev = [e for e in r.evidence if e.kind == "mains_hum_mismatch"]
    assert ev and ev[0].details["detected_hz"] == 50 and "60 Hz" in ev[0].summary
    assert not _run(audio=_hum(50, seconds=60.0), metadata=_meta(claimed_country="DE")).evidence


def _keys_in(script_pairs, n_before=80):
    log = _log(n_before)
    t_end = float(log.t_ms[-1])
    events = json.loads("[" + ",".join(dumps_jsonl(log).splitlines()) + "]")
    for i, (code, key) in enumerate(script_pairs):
        t = t_end + 200.0 * (i + 1)
        events += [
            {"t": t, "type": "down", "key": key, "code": code},
            {"t": t + 80, "type": "up", "key": key, "code": code},
        ]
    return parse_keystroke_lines([json.dumps(e) for e in events])


def test_fusion_bands_consistent_low_contradictions_above():
    fusion = FusionModel.load()
    hangul = _keys_in([("KeyG", "ㅎ"), ("KeyK", "ㅏ"), ("KeyS", "ㄴ"), ("KeyR", "ㄱ"), ("KeyM", "ㅡ"), ("KeyD", "ㅇ")])
    dur = float(hangul.t_ms[-1]) / 1000.0 + 1.0
    consistent = [
        Environment().analyze(Tracks(duration_s=dur, keystrokes=hangul, metadata=_meta(claimed_country="KR"))),
        Environment().analyze(Tracks(duration_s=dur, keystrokes=_log(), metadata=_meta(claimed_location="Austin, TX"))),
        Environment().analyze(Tracks(duration_s=60.0, audio=_hum(50, 60.0), metadata=_meta(claimed_country="DE"))),
    ]
    contradictions = [
        Environment().analyze(Tracks(duration_s=dur, keystrokes=hangul, metadata=_meta(claimed_country="US"))),
        Environment().analyze(
            Tracks(
                duration_s=dur,
                metadata=_meta(claimed_timezone="America/Chicago", client={"timezone": "Asia/Seoul"}),
            )
        ),
        Environment().analyze(Tracks(duration_s=60.0, audio=_hum(50, 60.0), metadata=_meta(claimed_country="US"))),
        Environment().analyze(Tracks(duration_s=20.0, video=_video(**{"video:handler_name": "OBS Virtual Camera"}))),
    ]
    low = [fusion.fuse([r]) for r in consistent]
    assert all(f.band == "low" for f in low)
    top = max(f.score for f in low)
    for r in contradictions:
        f = fusion.fuse([r])
        assert f.score > top, (r.evidence[0].kind, f.score)
    clear = [fusion.fuse([r]).band for r in contradictions[:2]]
    assert clear == ["medium", "medium"]
    assert explain_result(contradictions[0]).startswith("1 trace contradicting the claim (US)")
    assert kind_label("keyboard_layout") != "Keyboard layout"  # a worded label, not the generic one


def test_session_json_fields_are_validated(tmp_path):
    p = tmp_path / "session.json"
    good = {
        "claimed_country": "kr",
        "claimed_timezone": "Asia/Seoul",
        "client": {"timezone": "Asia/Seoul", "utc_offset_min": 540, "languages": ["ko-KR", "en"]},
        "recording_start": "2026-11-28T03:00:00Z",
    }
    p.write_text(json.dumps(good))
    m = read_session_metadata(p)
    assert m.claimed_country == "KR" and m.client.languages == ("ko-KR", "en")
    assert m.zone_offsets == {"Asia/Seoul": (540,)}
    assert m.to_dict()["client"]["utc_offset_min"] == 540 and "zone_offsets" not in m.to_dict()
    for bad, field in (
        ({"claimed_country": "USA"}, "claimed_country"),
        ({"claimed_country": 1}, "claimed_country"),
        ({"client": "Asia/Seoul"}, "client"),
        ({"client": {"timezone": 9}}, "client.timezone"),
        ({"client": {"utc_offset_min": "540"}}, "client.utc_offset_min"),
        ({"client": {"utc_offset_min": 5000}}, "client.utc_offset_min"),
        ({"client": {"languages": [1]}}, "client.languages"),
    ):
        p.write_text(json.dumps(bad))
        with pytest.raises(InputError) as exc:
            read_session_metadata(p)
        msg = str(exc.value)
        assert "session.json" in msg and field in msg and "\n" not in msg


def test_zone_offsets():
    assert zone_offsets("Europe/Berlin", datetime(2026, 1, 15, tzinfo=UTC)) == (60,)
    assert zone_offsets("Europe/Berlin", datetime(2026, 7, 15, tzinfo=UTC)) == (120,)
    assert zone_offsets("Europe/Berlin") == (60, 120)  # date unknown: both
    assert zone_offsets("Not/AZone") == () and zone_offsets("../../etc/passwd") == ()


def test_keycode_survives_parsing_and_writing():
    lines = [
        json.dumps({"t": 1, "type": "down", "key": "Process", "code": "KeyA", "keyCode": 229}),
        json.dumps({"t": 2, "type": "up", "key": "a", "code": "KeyA"}),
    ]
    log = parse_keystroke_lines(lines)
    assert log.keycode.tolist() == [229, -1]
    assert parse_keystroke_lines(dumps_jsonl(log).splitlines()).keycode.tolist() == [229, -1]
    assert log.select(np.array([False, True])).keycode.tolist() == [-1]
    csv = parse_keystroke_lines(["t,type,key,code,keyCode", "1,down,Process,KeyA,229"])
    assert csv.keycode.tolist() == [229]
    with pytest.raises(KeystrokeLogError, match="keyCode"):
        parse_keystroke_lines([json.dumps({"t": 1, "type": "down", "keyCode": "x"})])


def test_media_tags_are_bounded_and_prefixed():
    class S:
        def __init__(self, type_, metadata):
            self.type, self.metadata = type_, metadata

    class C:
        metadata = {"ENCODER": "OBS Studio", **{f"k{i}": "v" * 500 for i in range(100)}}
        streams = [S("video", {"handler_name": "OBS Virtual Camera"})]

    tags = media_tags(C())
    assert tags["format:encoder"] == "OBS Studio"
    assert len(tags) <= 64 and all(len(v) <= 200 for v in tags.values())


def test_creation_time_tag_dates_the_session(tmp_path):
    from interview_guard.io.media import creation_time

    assert creation_time({"format:creation_time": "2026-07-01T12:00:00.000000Z"}).month == 7
    assert creation_time({"format:creation_time": "1970-01-01T00:00:00Z"}) is None
    assert creation_time({"video:creation_time": "not a date"}) is None
    m = SessionMetadata.from_dict({"claimed_timezone": "Europe/Berlin"})
    assert with_zone_offsets(m, creation_time({"format:creation_time": "2026-07-01T12:00:00Z"})).zone_offsets == {
        "Europe/Berlin": (120,)
    }


def test_an_empty_key_log_with_a_claim_says_nothing_was_compared():
    from interview_guard.tracks.keystrokes import KeystrokeLog

    r = _run(keystrokes=KeystrokeLog.empty(), metadata=_meta(claimed_country="US"))
    assert r.status.value == "ok" and r.score == 0.0 and r.confidence == 0.0
    assert r.reason.startswith("nothing could be held against the claim")
