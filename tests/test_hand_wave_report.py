"""Hand-wave requests in the text and HTML reports, and key frames by role (before / middle / after)."""

import dataclasses
import json
import re

import pytest

from interview_guard.analyzers.base import AnalyzerResult, Evidence, Status
from interview_guard.pipeline.keyframes import load_key_frames
from interview_guard.pipeline.scan import write_key_frames
from interview_guard.report.handwaves import hand_wave_requests
from interview_guard.report.html import render_report
from interview_guard.report.keyframes import (
    KeyFrames,
    evidence_key_frame_roles,
    evidence_key_frame_times,
    forget_key_frame_files,
    key_frame_filename,
    record_key_frame_files,
    wanted_key_frame_times,
)
from interview_guard.report.model import Report
from interview_guard.report.text import format_text
from test_html_report import embedded_frames, jpeg, make_report, parse

ROLES = [{"role": "before", "t_s": 40.5}, {"role": "middle", "t_s": 41.0}, {"role": "after", "t_s": 41.9}]


def occ_event(start, end, score, summary, **details):
    return Evidence("face_occlusion", "occlusion_event", start, end, score, summary, details)


def challenges():
    """One request of each outcome, as the face-occlusion analyzer writes them."""
    return (
        occ_event(
            40.8,
            41.5,
            0.97,
            "hand over the face 40.8-41.5 s (up to 80% covered): the face stayed sharp over the hand",
            covered_share=0.8,
            key_frame_times=[40.5, 41.0, 41.9],
            key_frames=[dict(k) for k in ROLES],
        ),
        Evidence(
            "face_occlusion",
            "challenge_answered",
            38.0,
            41.5,
            0.97,
            "hand wave requested at 38.0 s: a hand crossed the face at 40.8-41.5 s",
            {"challenge_t_s": 38.0, "event_start_s": 40.8, "event_score": 0.97, "key_frames": [dict(k) for k in ROLES]},
        ),
        Evidence(
            "face_occlusion",
            "challenge_not_performed",
            60.0,
            70.0,
            0.6,
            "hand wave requested at 60.0 s, but no hand crossed the face within 10 s",
            {"challenge_t_s": 60.0, "window_s": 10.0, "face_region": None},
        ),
        Evidence(
            "face_occlusion",
            "challenge_unverified",
            20.0,
            30.0,
            0.15,
            "hand wave requested at 20.0 s: no hand was tracked, but something covered the face region",
            {"challenge_t_s": 20.0, "window_s": 10.0, "covered_share": 0.35},
        ),
        Evidence(
            "face_occlusion",
            "challenge_not_recorded",
            85.0,
            90.0,
            0.3,
            "hand wave requested at 85.0 s, but the video covers only 0.0-88.0 s",
            {"challenge_t_s": 85.0, "video_start_s": 0.0, "video_end_s": 88.0},
        ),
    )


def report_with(evidence):
    rep = make_report()
    occ = rep.analyzers["face_occlusion"]
    rep.analyzers["face_occlusion"] = dataclasses.replace(occ, evidence=tuple(evidence))
    return rep


def test_requests_in_time_order_with_outcome_cover_and_verdict():
    reqs = hand_wave_requests(challenges())
    assert [(r.t_s, r.outcome) for r in reqs] == [
        (20.0, "seen in the pixels but not tracked"),
        (38.0, "answered"),
        (60.0, "not performed"),
        (85.0, "not in the recording"),
    ]
    unverified, answered, missed, unrecorded = reqs
    # the answered wave: the crossing's time, its covered share and its verdict (the occlusion event's summary)
    assert answered.crossing == (40.8, 41.5) and answered.covered_words == "80%"
    assert answered.outcome_words == "answered (a hand crossed the face at 40.8–41.5 s)"
    assert answered.score == 0.97 and "stayed sharp over the hand" in answered.summary
    assert unverified.covered_words == "35%"
    assert missed.covered_share is None and missed.covered_words == "unknown" and missed.score == 0.6
    assert unrecorded.covered_words == "unknown" and unrecorded.summary == "the video covers only 0.0-88.0 s"
    assert missed.summary == "no hand crossed the face within 10 s"  # the row already says when it was requested
    assert hand_wave_requests([challenges()[0]]) == []  # an occlusion alone is no request


def test_answered_without_its_event_uses_its_own_words():
    ch = challenges()[1]
    [req] = hand_wave_requests([ch])
    assert req.crossing == (40.8, 41.5) and req.covered_words == "unknown"
    assert req.summary == "a hand crossed the face at 40.8-41.5 s"
    odd = dataclasses.replace(ch, details={"covered_share": "much", "challenge_t_s": None})
    [req] = hand_wave_requests([odd])
    assert req.t_s == ch.start_s and req.covered_share is None and req.crossing is None


def test_text_report_lists_the_requests():
    text = format_text(report_with(challenges()))
    section = text.split("  Hand-wave requests:\n", 1)[1]
    lines = [ln for ln in section.splitlines() if ln.startswith("    - ")]
    assert len(lines) == 4
    assert lines[0].startswith("    - requested at 20.0 s: seen in the pixels but not tracked; face covered: 35%")
    assert "requested at 38.0 s: answered (a hand crossed the face at 40.8-41.5 s); face covered: 80%" in section
    assert "verdict 0.97: hand over the face" in section
    assert "requested at 60.0 s: not performed; face covered: unknown; verdict 0.60: no hand crossed" in section
    assert "requested at 85.0 s: not in the recording" in section
    assert "Hand-wave requests" not in format_text(make_report())  # none logged: no section


def test_html_section_lists_the_requests():
    page = render_report(report_with(challenges()))
    p = parse(page)
    assert "Hand-wave requests" in p.text_by_id["hand-waves"]
    rows = re.findall(
        r'<tr class="hw-(\w+)">\s*<td class="num">([^<]+)</td>\s*<td>([^<]+)</td>\s*'
        r'<td class="num">([^<]+)</td>',
        page,
    )
    assert rows == [
        ("challenge_unverified", "20.0 s", "seen in the pixels but not tracked", "35%"),
        ("challenge_answered", "38.0 s", "answered (a hand crossed the face at 40.8–41.5 s)", "80%"),
        ("challenge_not_performed", "60.0 s", "not performed", "unknown"),
        ("challenge_not_recorded", "85.0 s", "not in the recording", "unknown"),
    ]
    assert 'id="hand-waves"' not in render_report(make_report())


def test_role_times_are_wanted_and_ordered():
    d = {"key_frame_times": [40.5, 41.9], "key_frames": [ROLES[2], ROLES[1], {"role": "odd", "t_s": 1.0}]}
    assert evidence_key_frame_roles(d) == [("middle", 41.0), ("after", 41.9)]
    assert evidence_key_frame_times(d) == [40.5, 41.9, 41.0]
    assert wanted_key_frame_times([d, {"key_frames": [{"role": "before", "t_s": 3.0}]}]) == [3.0, 40.5, 41.0, 41.9]
    # old reports: key_frames are paths, no roles
    assert evidence_key_frame_roles({"key_frames": ["/x/a.jpg"], "key_frame_times": [1.0]}) == []


def test_triptych_labels_before_middle_after():
    blobs = {40.5: jpeg((200, 0, 0)), 41.0: jpeg((0, 200, 0)), 41.9: jpeg((0, 0, 200))}
    rep = report_with(challenges()[:1])
    page = render_report(rep, key_frames=KeyFrames(images=dict(blobs)))
    assert embedded_frames(page) == list(blobs.values())
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", page)
    assert captions == ["before · 40.50 s", "middle of the crossing · 41.00 s", "after · 41.90 s"]
    assert 'class="frames triptych"' in page and 'class="frame role-middle"' in page
    assert 'alt="middle of the crossing, at 41.00 s"' in page
    # a role missing: the others still shown, by role
    ev = challenges()[0]
    two = dataclasses.replace(ev, details={**ev.details, "key_frames": [ROLES[0], ROLES[1]]})
    page = render_report(report_with([two]), key_frames=KeyFrames(images=dict(blobs)))
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", page) == [
        "before · 40.50 s",
        "middle of the crossing · 41.00 s",
    ]
    # none of them saved: one line with the roles
    page = render_report(rep)
    assert "Key frames (before 40.50 s, middle of the crossing 41.00 s, after 41.90 s) were not saved" in page


def test_a_flash_frame_is_shown_between_the_middle_and_after():
    ev = challenges()[0]
    flash = {"role": "flash", "t_s": 41.2}
    with_flash = dataclasses.replace(ev, details={**ev.details, "key_frames": [ROLES[0], ROLES[1], ROLES[2], flash]})
    assert evidence_key_frame_roles(with_flash.details) == [
        ("before", 40.5), ("middle", 41.0), ("flash", 41.2), ("after", 41.9),
    ]  # fmt: skip
    blobs = {40.5: jpeg((200, 0, 0)), 41.0: jpeg((0, 200, 0)), 41.2: jpeg((90, 90, 90)), 41.9: jpeg((0, 0, 200))}
    page = render_report(report_with([with_flash]), key_frames=KeyFrames(images=dict(blobs)))
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", page) == [
        "before · 40.50 s",
        "middle of the crossing · 41.00 s",
        "another face showed · 41.20 s",
        "after · 41.90 s",
    ]
    assert 'class="frame role-flash"' in page and 'alt="another face showed, at 41.20 s"' in page


def test_face_occlusion_puts_the_flash_frame_inside_the_run():
    import numpy as np

    from interview_guard.analyzers.face_occlusion import _key_frame_roles
    from interview_guard.signals import occlusion as occ

    t = np.arange(0, 60) / 30.0  # analysed frames at 30 fps
    ev = occ.OcclusionEvent(start_s=0.8, end_s=1.4, rows=np.arange(24, 43), peak_overlap=0.5)
    ev.scores = {"face_flash": 0.99}
    ev.measurements = {"pixels": {"flash_reach_z": 40.0, "flash_reach_at_s": 1.0, "flash_reach_frames": 4}}
    kept = [0.4, 0.55, 0.7, 0.85, 1.0 + 2 / 30, 1.15, 1.3, 1.45, 1.6, 1.75, 1.9]  # every 0.15 s, one in the run
    roles = {r["role"]: r["t_s"] for r in _key_frame_roles(kept, ev, t)}
    assert roles["flash"] == pytest.approx(1.0 + 2 / 30)  # the kept frame inside frames 30-33
    assert [r["role"] for r in _key_frame_roles(kept, ev, t)] == ["before", "middle", "flash", "after"]
    # no kept frame in the run: its first frame (the report decodes it from the video)
    roles = {r["role"]: r["t_s"] for r in _key_frame_roles([0.4, 0.7, 1.3, 1.9], ev, t)}
    assert roles["flash"] == pytest.approx(1.0)
    # no flash verdict, no flash frame
    ev.scores = {"face_flash": 0.2, "painted_over": 0.95}
    assert "flash" not in {r["role"] for r in _key_frame_roles(kept, ev, t)}
    # an identity jump (round 18): the frame of the other face of the pair
    ev.scores["face_identity_jump"] = 0.85
    ev.measurements["identity"] = {"at_s": 1.2, "frames": [35, 36], "step": 0.84, "other_at_s": round(35 / 30, 3)}
    roles = {r["role"]: r["t_s"] for r in _key_frame_roles([0.4, 0.7, 1.3, 1.9], ev, t)}
    assert roles["flash"] == pytest.approx(35 / 30, abs=1e-3)


def test_a_fingers_frame_is_shown_before_after():
    """Round 25: a crossing whose fingers the hand landmarker read short over the face shows that frame."""
    import numpy as np

    from interview_guard.analyzers.face_occlusion import _key_frame_roles
    from interview_guard.signals import occlusion as occ

    t = np.arange(0, 60) / 30.0
    ev = occ.OcclusionEvent(start_s=0.8, end_s=1.4, rows=np.arange(24, 43), peak_overlap=0.5)
    ev.scores = {"fingers_cut": 0.85}
    ev.measurements = {"hand_shape": {"ratio_p10": 0.6, "ratio_median": 0.75, "shortest_at_s": 1.1}}
    got = _key_frame_roles([0.4, 0.7, 1.3, 1.9], ev, t)
    assert [(r["role"], r["t_s"]) for r in got][-2:] == [("fingers", 1.1), ("after", 1.9)]
    ev.scores = {"painted_over": 0.95}  # measured, but no verdict: no frame
    assert "fingers" not in {r["role"] for r in _key_frame_roles([0.4, 0.7, 1.3, 1.9], ev, t)}
    base = challenges()[0]
    shown = dataclasses.replace(
        base, details={**base.details, "key_frames": [*ROLES, {"role": "fingers", "t_s": 41.3}]}
    )
    blobs = {40.5: jpeg((200, 0, 0)), 41.0: jpeg((0, 200, 0)), 41.3: jpeg((90, 90, 90)), 41.9: jpeg((0, 0, 200))}
    page = render_report(report_with([shown]), key_frames=KeyFrames(images=dict(blobs)))
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", page) == [
        "before · 40.50 s",
        "middle of the crossing · 41.00 s",
        "fingers read short · 41.30 s",
        "after · 41.90 s",
    ]
    assert 'class="frame role-fingers"' in page and 'alt="fingers read short, at 41.30 s"' in page


def test_without_roles_the_times_are_shown_as_before():
    ev = challenges()[0]
    plain = dataclasses.replace(ev, details={k: v for k, v in ev.details.items() if k != "key_frames"})
    blobs = {40.5: jpeg((200, 0, 0)), 41.0: jpeg((0, 200, 0)), 41.9: jpeg((0, 0, 200))}
    page = render_report(report_with([plain]), key_frames=KeyFrames(images=blobs))
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", page) == [
        "before · 40.50 s",
        "during · 41.00 s",
        "after · 41.90 s",
    ]
    assert 'class="frames triptych"' not in page and "role-" not in page.split("</style>", 1)[1]


class _Tracks:
    def __init__(self, frames):
        self.key_frames = frames


def test_scan_writes_role_frames_and_records_them_in_the_roles(tmp_path):
    frames = {40.5: jpeg((1, 2, 3)), 41.0: jpeg((4, 5, 6)), 41.9: jpeg((7, 8, 9)), 43.0: jpeg((9, 9, 9))}
    ev = occ_event(40.8, 41.5, 0.9, "x", key_frame_times=[40.5, 41.9, 43.0], key_frames=[dict(k) for k in ROLES])
    old = occ_event(50.0, 51.0, 0.2, "y", key_frame_times=[40.5, 41.0])
    result = AnalyzerResult("face_occlusion", Status.OK, 0.9, 1.0, evidence=(ev, old))
    written = write_key_frames({"face_occlusion": result}, _Tracks(frames), tmp_path, "s")
    assert sorted(p.name for p in written) == sorted(key_frame_filename("s", t) for t in frames)
    kf = ev.details["key_frames"]
    assert [k.get("role") for k in kf] == ["before", "middle", "after", None]  # the middle frame is saved too
    assert kf[1]["path"] == str(tmp_path / key_frame_filename("s", 41.0)) and kf[3]["t_s"] == 43.0
    assert old.details["key_frames"] == [str(tmp_path / key_frame_filename("s", t)) for t in (40.5, 41.0)]
    rep = report_with([ev, old])
    rep2 = Report.from_json(rep.to_json())
    loaded = load_key_frames(rep2)
    assert set(loaded.images) == set(frames)
    # temporary frames: the paths go, the roles stay
    forget_key_frame_files(ev.details)
    forget_key_frame_files(old.details)
    assert ev.details["key_frames"] == ROLES and "key_frames" not in old.details
    assert json.loads(rep.to_json())["analyzers"]["face_occlusion"]["evidence"][0]["details"]["key_frames"] == ROLES


def test_frames_dir_finds_role_frames_when_paths_moved(tmp_path):
    blobs = {t: jpeg((30 * i, 0, 0)) for i, t in enumerate([40.5, 41.0, 41.9])}
    for t, b in blobs.items():
        (tmp_path / key_frame_filename("sess-1", t)).write_bytes(b)
    ev = challenges()[0]
    details = {**ev.details, "key_frame_times": [], "key_frames": [dict(k) for k in ROLES]}
    record_key_frame_files(details, {t: f"/gone/{key_frame_filename('sess-1', t)}" for t in blobs})
    rep = report_with([dataclasses.replace(ev, details=details)])
    page = render_report(rep, key_frames=load_key_frames(rep, frames_dir=tmp_path))
    assert embedded_frames(page) == list(blobs.values())


def test_a_wave_the_test_judges_poorly_asks_for_a_side_to_side_pass():
    from interview_guard.report.handwaves import ASK_AGAIN

    def answered(score, path):
        ev = occ_event(40.8, 41.5, score, "hand over the face 40.8-41.5 s (up to 60% covered): as a real face does")
        ch = Evidence(
            "face_occlusion",
            "challenge_answered",
            38.0,
            41.5,
            score,
            "hand wave requested at 38.0 s: a hand crossed the face at 40.8-41.5 s",
            {"challenge_t_s": 38.0, "event_start_s": 40.8, "event_score": score, "hand_path": path},
        )
        return [ev, ch]

    [below] = hand_wave_requests(answered(0.02, "from below"))
    assert below.path == "from below" and "came up from below" in below.advice and ASK_AGAIN in below.advice
    [across] = hand_wave_requests(answered(0.02, "side to side"))
    assert across.advice == ""  # the way of waving the test judges best
    [flagged] = hand_wave_requests(answered(0.97, "from below"))
    assert flagged.advice == ""  # it already shows something to look at
    [untracked] = hand_wave_requests(answered(0.02, None))
    assert untracked.path is None and untracked.advice == ""  # a tracked hand crossed; its path is unknown
    unverified = next(r for r in hand_wave_requests(challenges()) if r.kind == "challenge_unverified")
    assert "no hand was tracked" in unverified.advice
    # both reports say it
    text = " ".join(format_text(report_with(answered(0.02, "from below"))).split())  # the text report wraps lines
    assert f"came up from below, the way of waving this test judges least well: {ASK_AGAIN}" in text
    page = render_report(report_with(answered(0.02, "from below")))
    assert '<em class="advice">The hand came up from below' in page


def test_text_report_names_the_key_frames_of_each_finding_and_request(tmp_path):
    """The "which frame" question holds in the text report too: each listed finding and each hand-wave request
    names its key frames by role and time, and the files `scan --frames` wrote for them."""
    evidence = [dataclasses.replace(e, details=json.loads(json.dumps(e.details))) for e in challenges()]
    frames = {40.5: jpeg((1, 2, 3)), 41.0: jpeg((4, 5, 6)), 41.9: jpeg((7, 8, 9))}
    result = AnalyzerResult("face_occlusion", Status.OK, 0.97, 1.0, evidence=tuple(evidence))
    write_key_frames({"face_occlusion": result}, _Tracks(frames), tmp_path, "s")
    text = " ".join(format_text(report_with(evidence)).split())  # the text report wraps lines
    before, middle, after = (str(tmp_path / key_frame_filename("s", t)) for t in (40.5, 41.0, 41.9))
    words = f"frames: before 40.50 s ({before}), middle of the crossing 41.00 s ({middle}), after 41.90 s ({after})"
    finding, requests = text.split("Hand-wave requests:", 1)
    assert words in finding  # under the occlusion event
    assert "requested at 38.0 s: answered" in requests and words in requests
    # without saved files: the times alone; an item without roles: labelled by where the time falls
    plain = occ_event(40.8, 41.5, 0.9, "x", key_frame_times=[40.5, 41.0, 41.9])
    text = " ".join(format_text(report_with([plain])).split())
    assert "frames: before 40.50 s, during 41.00 s, after 41.90 s" in text


def test_scan_frames_decodes_a_named_frame_the_scan_kept_no_image_of(tmp_path):
    """A finding may name a frame the video scan kept no JPEG of (face_artifacts: "the frame at 1.20 s shows it
    most"): `scan --frames` decodes it from the video rather than leave the finding without its frame."""
    from conftest import make_video

    video = make_video(tmp_path / "video.mp4", seconds=3.0, fps=10)
    kept = {0.5: jpeg((1, 2, 3))}
    ev = Evidence("face_artifacts", "seam_flicker", 1.2, 1.2, 0.8, "x", {"frame_s": 1.2, "key_frame_times": [1.2]})
    old = occ_event(0.4, 0.6, 0.2, "y", key_frame_times=[0.5])
    results = {"face_artifacts": AnalyzerResult("face_artifacts", Status.OK, 0.8, 1.0, evidence=(ev,))}
    results["face_occlusion"] = AnalyzerResult("face_occlusion", Status.OK, 0.2, 1.0, evidence=(old,))
    written = write_key_frames(results, _Tracks(kept), tmp_path / "frames", "s", video_path=video)
    assert sorted(p.name for p in written) == [key_frame_filename("s", 0.5), key_frame_filename("s", 1.2)]
    assert ev.details["key_frames"] == [str(tmp_path / "frames" / key_frame_filename("s", 1.2))]
    assert (tmp_path / "frames" / key_frame_filename("s", 1.2)).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    # no video (or one that cannot be read): the frame is left out, the report is not failed
    ev2 = Evidence("face_artifacts", "seam_flicker", 1.2, 1.2, 0.8, "x", {"key_frame_times": [1.3]})
    results = {"face_artifacts": AnalyzerResult("face_artifacts", Status.OK, 0.8, 1.0, evidence=(ev2,))}
    assert write_key_frames(results, _Tracks({}), tmp_path / "f2", "s", video_path=tmp_path / "gone.mp4") == []
    assert "key_frames" not in ev2.details


def test_a_logged_wave_the_test_could_not_judge_is_listed_as_not_checked():
    """session.json logged a wave, but face_occlusion was skipped (no video): the request is listed as not
    checked, with why, in the text and the HTML report; it used to vanish from both."""
    rep = make_report()
    rep.session.metadata = {"challenges": [{"kind": "hand_wave", "t_s": 5.0}, {"kind": "look_left", "t_s": 9.0}]}
    rep.analyzers["face_occlusion"] = AnalyzerResult.skipped("face_occlusion", "no video in this session")
    text = " ".join(format_text(rep).split())
    words = "requested at 5.0 s: not checked: the hand-over-face test was skipped (no video in this session)"
    assert f"Hand-wave requests: - {words}" in text and "9.0 s" not in text.split("Hand-wave requests:")[1]
    section = parse(render_report(rep)).text_by_id["hand-waves"]
    assert "5.0 s" in section and "not checked" in section and "(no video in this session)" in section
    # when the test ran, its evidence lists the requests: nothing is added
    ran = report_with(challenges())
    ran.session.metadata = {"challenges": [{"kind": "hand_wave", "t_s": 38.0}]}
    assert "not checked" not in format_text(ran)
