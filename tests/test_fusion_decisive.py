"""The fusion's decisive rules: evidence that puts a session in the high band on its own."""

import json

import numpy as np
import pytest

from interview_guard.analyzers import AnalyzerResult, Status
from interview_guard.errors import ModelError
from interview_guard.fusion.fit import fit_fusion
from interview_guard.fusion.model import DecisiveRule, FusionModel
from interview_guard.fusion.score_table import ScoreTable
from interview_guard.pipeline.scan import scan_tracks
from interview_guard.report.model import SCHEMA_VERSION, Report, Risk, SessionInfo
from interview_guard.report.text import format_text

RULE = {"analyzer": "face_occlusion", "min_score": 0.9, "min_confidence": 0.5}


def ok(name, score, conf=1.0):
    return AnalyzerResult(name=name, status=Status.OK, score=score, confidence=conf)


def model(**kw):
    """The shipped calibrated parameters, with the rule (the file has it too)."""
    base = FusionModel.load().to_dict()
    base["decisive"] = [RULE]
    base.update(kw)
    return FusionModel.from_dict(base, path="test.json")


def test_shipped_models_declare_the_face_occlusion_rule():
    m = FusionModel.load()
    prior = FusionModel.load(m.path.replace("fusion.json", "fusion-prior.json"))
    for mm in (m, prior):
        assert DecisiveRule("face_occlusion", 0.9, 0.5) in mm.decisive


def test_caught_swap_failure_is_high_whatever_the_others_say():
    m = model()
    # the case behind the rule: a caught swap failure at 1.00 with confidence 0.58, everything else genuine
    others = [ok("keystroke_relay", 0.0), ok("av_sync", 0.1), ok("acoustic_keystroke", 0.0)]
    fused = m.fuse([ok("face_occlusion", 1.0, 0.58), *others])
    assert fused.band == "high" and fused.score == pytest.approx(m.high)
    assert fused.fused_score is not None and fused.fused_score < m.high  # the fusion alone would not say high
    assert [h.rule.analyzer for h in fused.decisive] == ["face_occlusion"]
    assert fused.decisive[0].score == 1.0 and fused.decisive[0].confidence == 0.58
    # and the other analyzers skipped: still high
    skipped = [AnalyzerResult.skipped(n, "absent") for n in ("keystroke_relay", "av_sync", "acoustic_keystroke")]
    alone = m.fuse([ok("face_occlusion", 0.9, 0.5), *skipped])
    assert alone.band == "high" and alone.score >= m.high and alone.decisive


def test_fires_at_the_thresholds_not_below_either():
    m = model()
    assert m.fuse([ok("face_occlusion", 0.9, 0.5)]).decisive
    for score, conf in ((0.8999, 1.0), (1.0, 0.4999)):
        fused = m.fuse([ok("face_occlusion", score, conf), ok("keystroke_relay", 0.0)])
        assert not fused.decisive and fused.fused_score == fused.score
        assert fused.band == m.band(fused.score)


def test_a_high_fused_risk_is_not_lowered():
    m = model()
    fused = m.fuse([ok("face_occlusion", 1.0, 1.0), ok("keystroke_relay", 1.0), ok("av_sync", 1.0)])
    assert fused.decisive and fused.score == fused.fused_score > m.high


def test_a_rule_for_an_unknown_analyzer_is_kept_and_never_fires(tmp_path):
    d = FusionModel.load().to_dict()
    d["decisive"] = [{"analyzer": "future_analyzer", "min_score": 0.5, "min_confidence": 0.1}]
    p = tmp_path / "f.json"
    p.write_text(json.dumps(d))
    m = FusionModel.load(p)
    assert m.decisive == (DecisiveRule("future_analyzer", 0.5, 0.1),)
    assert not m.fuse([ok("face_occlusion", 1.0), ok("keystroke_relay", 1.0)]).decisive
    assert FusionModel.from_dict(m.to_dict()).decisive == m.decisive  # round trip


@pytest.mark.parametrize(
    "decisive, words",
    [
        ({"analyzer": "face_occlusion"}, "must be a list"),
        (["face_occlusion"], r"decisive\[0\] must be an object"),
        ([{**RULE, "min_score": 1.5}], r"decisive\[0\]\.min_score must be a number in \[0, 1\]"),
        ([{**RULE, "min_confidence": "0.5"}], r"decisive\[0\]\.min_confidence must be a number"),
        ([{**RULE, "min_confidence": True}], r"min_confidence must be a number"),
        ([RULE, {**RULE, "analyzer": ""}], r"decisive\[1\]\.analyzer must be a non-empty"),
        ([{**RULE, "min_scor": 0.9}], "unknown field"),
        ([{**RULE, "band": "low"}], r"decisive\[0\]\.band must be one of medium, high, got 'low'"),
    ],
)
def test_bad_decisive_rules_name_the_file(tmp_path, decisive, words):
    d = FusionModel.load().to_dict()
    d["decisive"] = decisive
    p = tmp_path / "fusion.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ModelError, match=words) as ei:
        FusionModel.load(p)
    assert str(p) in str(ei.value)


def test_scan_report_records_the_rule_and_round_trips(monkeypatch):
    from interview_guard.tracks import Tracks

    class Fixed:
        def __init__(self, name, score, conf):
            self.name, self.score, self.conf = name, score, conf
            self.requires = self.uses = frozenset()

        def analyze(self, tracks):
            return ok(self.name, self.score, self.conf)

    analyzers = [Fixed("face_occlusion", 0.97, 0.62), Fixed("keystroke_relay", 0.01, 1.0)]
    results, risk, _ = scan_tracks(Tracks(duration_s=60.0), analyzers=analyzers, fusion=model())
    assert risk.band == "high" and risk.score >= model().high
    assert risk.fused_score is not None and risk.fused_score < risk.score
    assert risk.decisive == [{**RULE, "score": 0.97, "confidence": 0.62}]
    rep = Report(session=SessionInfo(id="s", path="/s", duration_s=60.0, modalities={}), risk=risk, analyzers=results)
    again = Report.from_json(rep.to_json())
    assert again.risk == rep.risk and again.to_dict() == rep.to_dict()
    assert rep.schema_version == SCHEMA_VERSION
    text = format_text(rep)
    assert "face_occlusion 0.97 (confidence 0.62) is decisive on its own" in text
    assert f"gave {risk.fused_score:.2f}" in text
    # no rule fired: no new keys, the risk object is what 1.0 wrote
    _, quiet, _ = scan_tracks(Tracks(duration_s=60.0), analyzers=analyzers[1:], fusion=model())
    assert "fused_score" not in quiet.to_dict() and "decisive" not in quiet.to_dict()


def test_old_reports_read_without_the_new_fields():
    d = Risk(score=0.3, band="low", checked=[]).to_dict()
    r = Risk.from_dict(d)
    assert r.fused_score is None and r.decisive is None and r.to_dict() == d
    assert "decisive" not in format_text(
        Report(session=SessionInfo(id="s", path="/s", duration_s=1.0, modalities={}), risk=r, schema_version="1.0")
    )


def test_calibration_carries_the_rule_over_and_counts_where_it_fires(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    fo = np.where(y == 1, 0.95, 0.1) + rng.normal(0, 0.02, 40)
    ks = (np.where(y == 1, 0.5, 0.1) + rng.normal(0, 0.1, 40)).clip(0, 1)
    t = ScoreTable(
        session_ids=[str(i) for i in range(40)],
        y=y,
        analyzers=("face_occlusion", "keystroke_relay"),
        scores=np.c_[fo.clip(0, 1), ks],
        confidences=np.c_[np.where(np.arange(40) % 2, 0.6, 0.3), np.ones(40)],
    )
    base = FusionModel(weights={"face_occlusion": 6.0}, decisive=(DecisiveRule("face_occlusion", 0.9, 0.5),))
    res = fit_fusion(t, base=base)
    assert res.fusion_dict()["decisive"] == [RULE]
    assert res.fusion_model().decisive == base.decisive
    [hit] = res.metrics["decisive"]
    assert hit["fires_genuine"] == 0 and 0 < hit["fires_manipulated"] <= 10
    assert "decisive rule(s) carried over from the base" in res.source()
    paths = res.write(tmp_path / "fusion.json")
    assert FusionModel.load(paths["fusion"]).decisive == base.decisive
    # a base without rules writes none
    assert "decisive" not in fit_fusion(t, base=FusionModel()).fusion_dict()


def test_html_says_why_the_session_is_high():
    from interview_guard.report.html import render_report
    from test_html_report import make_report, parse

    rep = make_report()
    rep.risk.fused_score = 0.6234
    rep.risk.decisive = [{**RULE, "score": 0.97, "confidence": 0.62}]
    page = render_report(Report.from_json(rep.to_json()))
    drivers = " ".join(parse(page).text_by_id["drivers"].split())
    assert (
        "Why high: face_occlusion 0.97 (confidence 0.62) is decisive on its own: a score of at least 0.90 with a "
        "confidence of at least 0.50 puts the session in the high band whatever the other analyzers say "
        "(all analyzers fused together gave 0.62)." in drivers
    )
    # an entry this version cannot read is left out, never an error
    rep.risk.decisive = [{"analyzer": "x"}, "nonsense"]
    assert "Why high" not in render_report(rep)
    assert "Why high" not in render_report(make_report())


LOOK = {"analyzer": "face_occlusion", "min_score": 0.85, "min_confidence": 0.5, "band": "medium"}


def test_shipped_models_put_a_look_at_least_in_the_medium_band():
    m = FusionModel.load()
    prior = FusionModel.load(m.path.replace("fusion.json", "fusion-prior.json"))
    for mm in (m, prior):
        assert DecisiveRule("face_occlusion", 0.85, 0.5, "medium") in mm.decisive


def test_a_look_is_never_reported_low():
    m = model(decisive=[RULE, LOOK])
    # a capped verdict (0.85: "look at this crossing") at confidence 0.55 beside clean face analyzers fuses low
    clean = [ok("face_identity", 0.05), ok("face_artifacts", 0.05), ok("av_sync", 0.1)]
    fused = m.fuse([ok("face_occlusion", 0.85, 0.55), *clean])
    assert fused.fused_score is not None and fused.fused_score < m.medium  # the logistic alone says low
    assert fused.band == "medium" and fused.score == pytest.approx(m.medium)
    assert [(h.rule.band, h.score, h.confidence) for h in fused.decisive] == [("medium", 0.85, 0.55)]
    # below either threshold nothing is raised
    for score, conf in ((0.8499, 1.0), (0.85, 0.4999)):
        quiet = m.fuse([ok("face_occlusion", score, conf), *clean])
        assert not quiet.decisive and quiet.score == quiet.fused_score and quiet.band == m.band(quiet.score)
    # a risk already above the medium band is not lowered, and agreeing evidence can still make it high
    strong = m.fuse([ok("face_occlusion", 0.85, 1.0), ok("face_identity", 0.9), ok("face_artifacts", 0.9)])
    assert strong.score == strong.fused_score > m.high and strong.band == "high"
    # both rules fire: the high one decides
    both = m.fuse([ok("face_occlusion", 0.95, 0.6), *clean])
    assert both.band == "high" and both.score == pytest.approx(m.high)
    assert sorted(h.rule.band for h in both.decisive) == ["high", "medium"]


def test_a_look_rule_round_trips_and_a_high_rule_is_written_as_before(tmp_path):
    d = FusionModel.load().to_dict()
    d["decisive"] = [RULE, LOOK]
    p = tmp_path / "f.json"
    p.write_text(json.dumps(d))
    m = FusionModel.load(p)
    assert m.decisive == (DecisiveRule("face_occlusion", 0.9, 0.5), DecisiveRule("face_occlusion", 0.85, 0.5, "medium"))
    assert m.to_dict()["decisive"] == [RULE, LOOK]  # no "band" on the high rule: older readers read it as before
    assert FusionModel.from_dict(m.to_dict()).decisive == m.decisive


def test_reports_say_why_a_session_is_medium():
    from interview_guard.report.html import render_report
    from interview_guard.tracks import Tracks
    from test_html_report import make_report, parse

    class Fixed:
        name, requires, uses = "face_occlusion", frozenset(), frozenset()

        def analyze(self, tracks):
            return ok("face_occlusion", 0.85, 0.55)

    m = model(decisive=[RULE, LOOK])
    results, risk, _ = scan_tracks(Tracks(duration_s=60.0), analyzers=[Fixed()], fusion=m)
    assert risk.decisive == [{**LOOK, "score": 0.85, "confidence": 0.55}] and risk.band == "medium"
    rep = Report(session=SessionInfo(id="s", path="/s", duration_s=60.0, modalities={}), risk=risk, analyzers=results)
    words = (
        "face_occlusion 0.85 (confidence 0.55) asks for a look on its own: a score of at least 0.85 with a confidence "
        "of at least 0.50 puts the session at least in the medium band, whatever the other analyzers say"
    )
    text = " ".join(format_text(rep).split())
    assert f"Why medium: {words}" in text and "Why high" not in text
    page = make_report()
    page.risk.fused_score = 0.4712
    page.risk.decisive = [{**LOOK, "score": 0.85, "confidence": 0.55}]
    drivers = " ".join(parse(render_report(Report.from_json(page.to_json()))).text_by_id["drivers"].split())
    assert f"Why medium: {words} (all analyzers fused together gave 0.47)." in drivers
    # a band this version does not know is left out, never an error
    page.risk.decisive = [{**LOOK, "band": "severe", "score": 0.85, "confidence": 0.55}]
    assert "Why" not in " ".join(parse(render_report(page)).text_by_id["drivers"].split())
