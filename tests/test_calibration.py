"""Calibration: labelled keystroke sessions (genuine typing, relayed typing) -> fitted fusion.json."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import AALTO, needs_shared, typing_events, write_jsonl
from interview_guard.analyzers import AnalyzerResult, Status
from interview_guard.cli import main
from interview_guard.errors import InputError, ParameterError
from interview_guard.fusion.fit import fit_fusion, fit_logistic_nonneg, stratified_folds
from interview_guard.fusion.fit_metrics import reliability_curve
from interview_guard.fusion.model import FusionModel
from interview_guard.fusion.score_table import ScoreTable
from interview_guard.io.keystroke_log import dumps_jsonl, read_keystroke_log
from interview_guard.pipeline.calibrate import collect_scores, read_label
from interview_guard.synth.relay_sim import PROFILES, simulate_relay

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BASE = FusionModel(
    intercept=-2.0,
    weights={"keystroke_relay": 6.0, "face_occlusion": 6.0},
    centres={"keystroke_relay": 0.15, "face_occlusion": 0.15},
    default_weight=5.0,
    default_centre=0.1,
)


def write_label(d, label, *, kinds=(), seed=0):
    man = [{"kind": k, "start_s": 0.0, "end_s": 60.0, "details": {}} for k in kinds]
    (d / "label.json").write_text(json.dumps({"label": label, "manipulations": man, "seed": seed}))


def make_labelled_root(root, n_genuine=12, n_relay=12, n_keys=220):
    """Genuine local typing and the same kind of typing relayed over a congested international RDP link."""
    for i in range(n_genuine):
        d = root / f"g{i:02d}"
        write_jsonl(d / "keystrokes.jsonl", typing_events(n_keys, seed=500 + i))
        write_label(d, "genuine", seed=i)
    for i in range(n_relay):
        d = root / f"m{i:02d}"
        p = write_jsonl(d / "keystrokes.jsonl", typing_events(n_keys, seed=900 + i))
        relayed = simulate_relay(read_keystroke_log(p), PROFILES["intl_rdp_congested"], seed=i)
        p.write_text(dumps_jsonl(relayed))
        write_label(d, "manipulated", kinds=("relay",), seed=i)
    return root


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    base = tmp_path_factory.mktemp("cal")
    root = make_labelled_root(base / "root")
    # an unlabelled session and a labelled one whose scan fails: both listed, neither used
    write_jsonl(root / "unlabelled" / "keystrokes.jsonl", typing_events(80, seed=3))
    bad = root / "broken"
    bad.mkdir()
    (bad / "keystrokes.jsonl").write_text('{"t": 5, "type": "down"}\n{"t": 6, "type": "press"}\n')
    write_label(bad, "genuine")
    calls = []
    table = collect_scores(root, reports_dir=base / "reports", progress=lambda *a, **k: calls.append(k))
    return {"root": root, "reports": base / "reports", "table": table, "calls": calls, "dir": base}


@pytest.fixture(scope="module")
def fitted(labelled):
    return fit_fusion(labelled["table"], base=BASE)


def test_collect_scores_table(labelled):
    t = labelled["table"]
    assert t.n == 24 and int(t.y.sum()) == 12
    assert "keystroke_relay" in t.analyzers and t.scores.shape == (24, len(t.analyzers))
    j = t.analyzers.index("keystroke_relay")
    assert t.ran[:, j].all()
    fo = t.analyzers.index("face_occlusion")
    assert np.isnan(t.scores[:, fo]).all() and np.isnan(t.confidences[:, fo]).all()  # skipped: no video
    assert dict(t.excluded).keys() == {"broken", "unlabelled"}
    assert "scan failed" in dict(t.excluded)["broken"] and "label" in dict(t.excluded)["unlabelled"]
    assert all(k == ("relay",) for k, y in zip(t.kinds, t.y) if y == 1)
    assert all(k == () for k, y in zip(t.kinds, t.y) if y == 0)


def test_collect_scores_reuses_finished_reports(labelled):
    calls = []
    t2 = collect_scores(labelled["root"], reports_dir=labelled["reports"], progress=lambda *a, **k: calls.append(k))
    # everything already done except the failed session, which batch retries
    assert calls[0]["status"] == "skipped" and calls[0]["completed"] == calls[0]["total"] - 1
    np.testing.assert_array_equal(t2.scores, labelled["table"].scores)


def test_separable_sessions_fit(fitted):
    m = fitted.metrics
    assert m["fused"]["auc"] >= 0.95 and m["analyzers"]["keystroke_relay"]["auc"] >= 0.95
    assert fitted.weights["keystroke_relay"] > 0
    assert m["per_kind"]["relay"]["auc"] >= 0.95 and m["per_kind"]["relay"]["n_manipulated"] == 12
    # never-ran analyzers keep the base prior, and say so
    assert fitted.weights["face_occlusion"] == 6.0 and not m["analyzers"]["face_occlusion"]["fitted"]
    assert 0.2 <= fitted.medium <= 0.6 and fitted.medium < fitted.high <= 0.95
    # centre = median genuine score
    t = fitted.table
    j = t.analyzers.index("keystroke_relay")
    assert fitted.centres["keystroke_relay"] == pytest.approx(np.median(t.scores[t.y == 0, j]))
    text = fitted.format_text()
    for words in (
        "keystroke_relay",
        "FUSED",
        "bands: medium",
        "reliability",
        "12 genuine, 12 manipulated",
        "2 excluded",
    ):
        assert words in text


def test_fitted_model_is_the_fusion_formula(fitted):
    """The fusion.json gives, through FusionModel.fuse, exactly the risks the fit computed."""
    model = fitted.fusion_model()
    t = fitted.table
    from interview_guard.fusion.fit import _risk

    w = np.array([fitted.weights[a] for a in t.analyzers])
    c = np.array([fitted.centres[a] for a in t.analyzers])
    ours = _risk(t, fitted.intercept, w, c)
    for i in range(t.n):
        results = [
            AnalyzerResult(name=a, status=Status.OK, score=float(t.scores[i, j]), confidence=float(t.confidences[i, j]))
            if t.ran[i, j]
            else AnalyzerResult.skipped(a, "absent")
            for j, a in enumerate(t.analyzers)
        ]
        assert model.fuse(results).score == pytest.approx(ours[i], abs=1e-5)


def test_write_files_and_load(fitted, labelled, tmp_path):
    out = tmp_path / "fit" / "fusion.json"
    paths = fitted.write(out)
    assert paths["fusion"] == out and out.is_file()
    m = FusionModel.load(out)
    assert m.version.startswith("calibrated-") and len(m.version.split("-")[-1]) == 8
    assert m.weights["keystroke_relay"] == pytest.approx(fitted.weights["keystroke_relay"], abs=1e-6)
    assert "calibrate" in m.source
    d = json.loads(out.read_text())
    assert set(d) == {
        "model",
        "version",
        "source",
        "intercept",
        "default_weight",
        "default_centre",
        "analyzers",
        "bands",
    }
    assert FusionModel.from_dict(m.to_dict()).to_dict() == m.to_dict()  # what scan --params reads
    rep = json.loads(paths["report"].read_text())
    assert rep["fusion"] == d and rep["data"]["n"] == 24 and len(rep["sessions"]) == 24
    assert {e["session"] for e in rep["data"]["excluded"]} == {"broken", "unlabelled"}
    assert paths["reliability"].read_bytes()[:8] == PNG_MAGIC
    assert not list(out.parent.glob("*.tmp"))
    # scan with the calibrated parameters: relayed typing rates higher and lands above the medium band
    from interview_guard.pipeline.scan import scan_session

    g = scan_session(labelled["root"] / "g00", fusion=m)
    r = scan_session(labelled["root"] / "m00", fusion=m)
    assert r.risk_score > g.risk_score and r.band in ("medium", "high") and g.band == "low"
    assert g.risk.fusion.version == m.version


def test_reliability_bins_sum_to_n(fitted):
    bins = fitted.metrics["reliability"]["bins"]
    assert len(bins) == 10 and sum(b["n"] for b in bins) == fitted.table.n
    assert sum(b["n_manipulated"] for b in bins) == int(fitted.table.y.sum())
    for b in bins:
        if b["n"]:
            assert b["lo"] <= b["mean_risk"] <= b["hi"]
    edge = reliability_curve([0, 1, 1], [0.0, 1.0, 0.95], bins=10)
    assert edge[0]["n"] == 1 and edge[-1]["n"] == 2


def test_deterministic_for_a_seed(labelled):
    a = fit_fusion(labelled["table"], base=BASE, seed=3, created="2026-11-28T00:00:00+00:00")
    b = fit_fusion(labelled["table"], base=BASE, seed=3, created="2026-11-28T00:00:00+00:00")
    assert a.fusion_dict() == b.fusion_dict()
    np.testing.assert_array_equal(a.oof_risk, b.oof_risk)
    assert a.report_dict() == b.report_dict()
    assert a.version == "calibrated-2026-11-28-" + labelled["table"].data_hash()[:8]


def synthetic(n0=30, n1=30, seed=0, sep=0.4):
    r = np.random.default_rng(seed)
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    good = np.clip(0.1 + sep * y + r.normal(0, 0.12, y.size), 0, 1)  # informative
    anti = np.clip(0.6 - 0.3 * y + r.normal(0, 0.1, y.size), 0, 1)  # higher for genuine
    noise = r.uniform(0, 1, y.size)
    partly = np.where(r.random(y.size) < 0.5, np.clip(0.2 + 0.5 * y + r.normal(0, 0.1, y.size), 0, 1), np.nan)
    scores = np.column_stack([good, anti, noise, partly])
    conf = np.where(np.isfinite(scores), r.uniform(0.5, 1, scores.shape), np.nan)
    return ScoreTable(
        session_ids=[f"s{i}" for i in range(y.size)],
        y=y,
        analyzers=("good", "anti", "noise", "partly"),
        scores=scores,
        confidences=conf,
        kinds=[("k",) if v else () for v in y],
    )


def test_weights_never_negative():
    for seed in range(5):
        res = fit_fusion(synthetic(seed=seed), base=BASE, seed=seed)
        assert all(w >= 0 for w in res.weights.values())
        assert res.weights["anti"] == 0.0 and res.weights["good"] > 0 and res.weights["partly"] > 0
    r = np.random.default_rng(1)
    X = r.normal(size=(80, 5))
    y = (X[:, 0] - X[:, 1] + r.normal(0, 0.5, 80) > 0).astype(int)
    b, w = fit_logistic_nonneg(X, y, l2=0.5)
    assert (w >= 0).all() and w[1] == 0 and w[0] > 0
    # KKT: a weight held at 0 would not lower the objective by growing
    p = 1 / (1 + np.exp(-(b + X @ w)))
    g = X.T @ (p - y) + 0.5 * w
    assert np.all(g[w == 0] >= -1e-6) and np.allclose(g[w > 0], 0, atol=1e-5)


def test_separable_data_keeps_weights_finite():
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    s = np.r_[np.full(10, 0.05), np.full(10, 0.95)][:, None]
    t = ScoreTable(
        session_ids=[str(i) for i in range(20)], y=y, analyzers=("a",), scores=s, confidences=np.ones_like(s)
    )
    for l2 in (1.0, 0.01):
        res = fit_fusion(t, base=BASE, l2=l2)
        assert math.isfinite(res.weights["a"]) and math.isfinite(res.intercept) and res.weights["a"] > 0
        assert res.metrics["fused"]["auc"] == 1.0
    assert fit_fusion(t, base=BASE, l2=0.01).weights["a"] > fit_fusion(t, base=BASE, l2=1.0).weights["a"]


def test_class_mix_does_not_set_the_risk_and_prior_moves_it():
    # the same genuine and manipulated score distributions, once 1:1 and once 1:4: equal class weights
    # make the fitted model (nearly) the same; --prior moves the intercept by exactly logit(prior)
    rng = np.random.default_rng(5)

    def table(n0, n1):
        s = np.r_[rng.normal(0.2, 0.1, n0), rng.normal(0.6, 0.15, n1)].clip(0, 1)[:, None]
        y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
        return ScoreTable(
            session_ids=[str(i) for i in range(y.size)], y=y, analyzers=("a",), scores=s, confidences=np.ones_like(s)
        )

    even, skewed = fit_fusion(table(200, 200), base=BASE), fit_fusion(table(100, 400), base=BASE)
    assert abs(even.intercept - skewed.intercept) < 0.5, (even.intercept, skewed.intercept)
    assert abs(even.weights["a"] - skewed.weights["a"]) < 0.25 * even.weights["a"]
    unweighted_intercept = math.log(400 / 100)  # what an unweighted fit would lean towards at the centre
    assert skewed.intercept < unweighted_intercept - 0.5
    t = table(60, 60)
    a, b = fit_fusion(t, base=BASE, prior=0.5), fit_fusion(t, base=BASE, prior=0.05)
    assert b.intercept == pytest.approx(a.intercept + math.log(0.05 / 0.95), abs=1e-9)
    assert b.weights == a.weights and b.settings["prior"] == 0.05
    with pytest.raises(ParameterError, match="prior"):
        fit_fusion(t, base=BASE, prior=1.0)


def test_degenerate_inputs_raise_clear_errors(tmp_path):
    t = synthetic()
    with pytest.raises(ParameterError, match="all 30 usable labelled sessions are genuine"):
        fit_fusion(t.subset(t.y == 0), base=BASE)
    with pytest.raises(ParameterError, match="at least 2 genuine and 2 manipulated"):
        fit_fusion(t.subset(np.r_[np.ones(30, bool), np.zeros(29, bool), True]), base=BASE)
    nothing = ScoreTable(
        session_ids=["a", "b"],
        y=[0, 1],
        analyzers=("x",),
        scores=[[np.nan], [np.nan]],
        confidences=[[np.nan], [np.nan]],
    )
    with pytest.raises(InputError, match="no labelled session where any analyzer produced a score"):
        fit_fusion(nothing, base=BASE)
    for kw, words in (({"folds": 1}, "folds"), ({"fpr": 0.0}, "fpr"), ({"l2": 0.0}, "l2")):
        with pytest.raises(ParameterError, match=words):
            fit_fusion(t, base=BASE, **kw)
    # folds are lowered to the smaller class, with a warning
    small = t.subset(np.r_[np.ones(30, bool), np.zeros(27, bool), np.ones(3, bool)])
    res = fit_fusion(small, base=BASE, folds=5)
    assert res.settings["folds"] == 3 and any("folds lowered" in w for w in res.metrics["warnings"])
    # no labelled session at all / a bad label
    write_jsonl(tmp_path / "r" / "s" / "keystrokes.jsonl", typing_events(40))
    with pytest.raises(InputError, match="no labelled sessions"):
        collect_scores(tmp_path / "r")
    (tmp_path / "r" / "s" / "label.json").write_text('{"label": "fake"}')
    with pytest.raises(InputError, match="'label' must be 'genuine' or 'manipulated'"):
        read_label(tmp_path / "r" / "s" / "label.json")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\xff\xfe", "label file is not UTF-8 text (byte 0)"),
        (b"[" * 100_000 + b"]" * 100_000, "label file is not acceptable JSON (RecursionError)"),
        (b'{"label": "manipulated", "manipulations": 5}', "'manipulations' must be a list of objects with a 'kind'"),
        (b"\xef\xbb\xbf" + b'{"label": "genuine"}', None),  # a BOM is fine
        # a kind that is not text was counted as a kind named "5"; an entry that is not an object was dropped
        (b'{"label": "manipulated", "manipulations": [{"kind": 5}]}', "'manipulations[0].kind' must be text, got 5"),
        (
            b'{"label": "manipulated", "manipulations": [{"kind": "relay"}, "x"]}',
            "'manipulations[1]' must be an object with a 'kind', got 'x'",
        ),
        (b'{"label": "manipulated", "manipulations": [{"start_s": 1}]}', None),  # no kind: no per-kind row
    ],
)
def test_read_label_bad_files_are_one_line_input_errors(tmp_path, content, words):
    p = tmp_path / "label.json"
    p.write_bytes(content)
    if words is None:
        assert read_label(p)[1] == ()
        return
    with pytest.raises(InputError) as ei:
        read_label(p)
    assert str(ei.value) == f"{p}: {words}"


def test_a_bad_label_json_excludes_its_session_and_the_run_goes_on(tmp_path):
    root = make_labelled_root(tmp_path / "root", n_genuine=3, n_relay=3, n_keys=160)
    for name, content in (("h2", b"\xff\xfe"), ("g1bad", b"{bad")):
        write_jsonl(root / name / "keystrokes.jsonl", typing_events(160, seed=77))
        (root / name / "label.json").write_bytes(content)
    table = collect_scores(root)
    assert table.n == 6 and "h2" not in table.session_ids
    why = dict(table.excluded)
    assert why["h2"] == f"bad label.json: {root / 'h2' / 'label.json'}: label file is not UTF-8 text (byte 0)"
    assert why["g1bad"].startswith(f"bad label.json: {root / 'g1bad' / 'label.json'}: label file is not valid JSON")
    out = tmp_path / "fusion.json"
    res = CliRunner().invoke(main, ["calibrate", str(root), "-o", str(out), "-q", "--folds", "3"])
    assert res.exit_code == 0, res.output
    assert "internal error" not in res.stderr and out.is_file()
    warned = [line for line in res.stderr.splitlines() if "label.json" in line]
    assert warned == [
        f"interview-guard: warning: {root / 'g1bad' / 'label.json'}: label file is not valid JSON "
        "(Expecting property name enclosed in double quotes, line 1) (session g1bad excluded)",
        f"interview-guard: warning: {root / 'h2' / 'label.json'}: label file is not UTF-8 text (byte 0) "
        "(session h2 excluded)",
    ]
    assert "excluded h2: bad label.json:" in res.stdout
    report = json.loads(out.with_name("fusion.json.report.json").read_text())
    assert {e["session"] for e in report["data"]["excluded"]} == {"h2", "g1bad"}
    # a label.json that is a directory is a bad label (it was "no label.json", without a warning)
    (root / "h2" / "label.json").unlink()
    (root / "h2" / "label.json").mkdir()
    why = dict(collect_scores(root).excluded)
    assert why["h2"] == f"bad label.json: {root / 'h2' / 'label.json'}: label file unreadable (Is a directory)"
    # every label bad: one line that says so, not "no labelled sessions"
    for d in ("g00", "g01", "g02", "m00", "m01", "m02"):
        (root / d / "label.json").write_bytes(b"\xff")
    (root / "h2" / "label.json").rmdir()
    (root / "h2" / "label.json").write_bytes(b"\xff")
    with pytest.raises(InputError, match=r"no usable labelled sessions: 8 bad label.json \(first: bad label.json: "):
        collect_scores(root)


def test_stratified_folds_balance():
    y = np.r_[np.zeros(13, int), np.ones(7, int)]
    f = stratified_folds(y, 5, seed=0)
    for k in range(5):
        assert 2 <= (f[y == 0] == k).sum() <= 3 and 1 <= (f[y == 1] == k).sum() <= 2
    np.testing.assert_array_equal(f, stratified_folds(y, 5, seed=0))


@needs_shared(AALTO)
def test_real_aalto_typing_relayed(tmp_path):
    """Real human typing (Aalto 136M keystrokes) as genuine, the same traces relayed as manipulated."""
    files = sorted(AALTO.glob("*_keystrokes.txt"))[:8]
    root = tmp_path / "aalto"
    for i, f in enumerate(files):
        log = read_keystroke_log(f)
        g = root / f"g{i}"
        g.mkdir(parents=True)
        (g / "keystrokes.jsonl").write_text(dumps_jsonl(log))
        write_label(g, "genuine")
        m = root / f"m{i}"
        m.mkdir()
        (m / "keystrokes.jsonl").write_text(dumps_jsonl(simulate_relay(log, PROFILES["intl_rdp_congested"], seed=i)))
        write_label(m, "manipulated", kinds=("relay",))
    res = fit_fusion(collect_scores(root, jobs=2), base=BASE, folds=4)
    assert res.table.n == 16 and res.metrics["fused"]["auc"] >= 0.9 and res.weights["keystroke_relay"] > 0


# The command proposed for cli.py, as a local command calling the API (cli.py is wired separately).
def test_cli_calibrate(labelled, tmp_path):
    runner = CliRunner()
    out = tmp_path / "m" / "fusion.json"
    res = runner.invoke(
        main,
        [
            "calibrate",
            str(labelled["root"]),
            "-o",
            str(out),
            "--reports",
            str(labelled["reports"]),
            "--folds",
            "4",
            "--fpr",
            "0.1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "FUSED (out-of-fold)" in res.stdout and "fusion parameters written" in res.stderr
    assert FusionModel.load(out).version.startswith("calibrated-")
    assert (tmp_path / "m" / "fusion.json.reliability.png").read_bytes()[:8] == PNG_MAGIC
    # one class only: one line on stderr, exit 1
    only = tmp_path / "only"
    for i in range(3):
        write_jsonl(only / f"s{i}" / "keystrokes.jsonl", typing_events(60, seed=i))
        write_label(only / f"s{i}", "genuine")
    res = runner.invoke(main, ["calibrate", str(only), "-o", str(tmp_path / "x.json")])
    assert res.exit_code == 1 and "needs both genuine and manipulated" in res.stderr
    assert not (tmp_path / "x.json").exists()


def test_each_analyzers_auc_per_kind():
    rng = np.random.default_rng(1)
    n = 40
    y = np.r_[np.zeros(15, int), np.ones(25, int)]
    kinds = [()] * 15 + [("relay",)] * 12 + [("faceswap",)] * 13
    is_relay = np.array([k == ("relay",) for k in kinds])
    s = np.c_[np.where(is_relay, 0.8, 0.1) + rng.normal(0, 0.05, n), rng.random(n)]
    t = ScoreTable(
        session_ids=[str(i) for i in range(n)],
        y=y,
        analyzers=("keystroke_relay", "face_occlusion"),
        scores=s,
        confidences=np.ones_like(s),
        kinds=kinds,
    )
    res = fit_fusion(t, base=BASE)
    per = res.metrics["per_kind"]
    assert per["relay"]["analyzer_auc"]["keystroke_relay"] == {"n": 27, "auc": 1.0}
    assert per["faceswap"]["analyzer_auc"]["keystroke_relay"]["auc"] < 0.8
    assert "each analyzer's own AUC per manipulation kind" in res.format_text()


def test_shrink_towards_the_base_weights():
    from interview_guard.fusion.fit import fit_logistic_nonneg

    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(30), np.ones(30)]
    informative = np.where(y == 1, 0.5, 0.0) + rng.normal(0, 0.2, 60)
    X = np.c_[informative, np.zeros(60)]  # the second analyzer never ran
    b0, w0 = fit_logistic_nonneg(X, y, l2=1.0)
    b1, w1 = fit_logistic_nonneg(X, y, l2=1.0, anchor=[20.0, 4.0])
    assert w0[1] == 0.0 and w1[1] == 4.0  # no data: the weight stays where the penalty pulls it
    assert w0[0] < w1[0] < 20.0  # data and anchor meet in between
    with pytest.raises(ParameterError, match="anchor"):
        fit_logistic_nonneg(X, y, anchor=[1.0, -1.0])
    t = ScoreTable(
        session_ids=[str(i) for i in range(60)],
        y=y.astype(int),
        analyzers=("a", "b"),
        scores=np.c_[informative.clip(0, 1), np.full(60, np.nan)],
        confidences=np.ones((60, 2)),
    )
    res = fit_fusion(t, base=BASE, shrink="base")
    assert res.settings["shrink"] == "base" and "--shrink base" in res.source()
    with pytest.raises(ParameterError, match="shrink"):
        fit_fusion(t, base=BASE, shrink="nope")


def test_calibrate_refuses_an_unknown_keep_base_before_scanning(tmp_path):
    """``--keep-base`` with a typo was an error only after every session had been scanned."""
    root = make_labelled_root(tmp_path / "root", n_genuine=2, n_relay=2, n_keys=60)
    argv = ["calibrate", str(root), "-o", str(tmp_path / "f.json"), "--reports", str(tmp_path / "rep")]
    res = CliRunner().invoke(main, [*argv, "--keep-base", "keystroke_rleay"])
    assert res.exit_code == 2 and "--keep-base" in res.output and "keystroke_rleay" in res.output, res.output
    assert "known: " in res.output and "keystroke_relay" in res.output
    assert not (tmp_path / "rep").exists()  # nothing was scanned


def test_calibrate_with_too_few_labels_of_a_class_says_so_before_scanning(tmp_path):
    """1 genuine and 3 manipulated labels: every session was scanned, then the fit said it needs 2 of each."""
    root = make_labelled_root(tmp_path / "root", n_genuine=1, n_relay=3, n_keys=60)
    argv = ["calibrate", str(root), "-o", str(tmp_path / "f.json"), "--reports", str(tmp_path / "rep")]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1, res.output
    assert res.stderr.startswith(f"interview-guard: error: {root}: need at least 2 genuine and 2 manipulated")
    assert "(have 1 genuine, 3 manipulated); nothing was scanned" in res.stderr
    assert not (tmp_path / "rep").exists()


def test_keep_base_holds_an_analyzers_weight_and_centre():
    rng = np.random.default_rng(4)
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    a = (np.where(y == 1, 0.6, 0.1) + rng.normal(0, 0.1, 60)).clip(0, 1)
    b = rng.random(60)  # useless on this data: a free fit would give it weight ~0
    t = ScoreTable(
        session_ids=[str(i) for i in range(60)],
        y=y,
        analyzers=("keystroke_relay", "face_occlusion"),
        scores=np.c_[a, b],
        confidences=np.ones((60, 2)),
    )
    free = fit_fusion(t, base=BASE)
    kept = fit_fusion(t, base=BASE, keep_base=["face_occlusion"])
    assert kept.weights["face_occlusion"] == BASE.weights["face_occlusion"]
    assert kept.centres["face_occlusion"] == BASE.centres.get("face_occlusion", BASE.default_centre)
    assert free.weights["face_occlusion"] < 1.0
    assert kept.metrics["analyzers"]["face_occlusion"]["fitted"] is False
    assert "--keep-base face_occlusion" in kept.source() and "(kept at base)" in kept.format_text()
    # the kept analyzer's fixed contribution is part of the model the fit saw: the fused risks are the runtime's
    m = kept.fusion_model()
    assert m.weights["face_occlusion"] == BASE.weights["face_occlusion"]
    with pytest.raises(ParameterError, match="keep_base"):
        fit_fusion(t, base=BASE, keep_base=["nope"])
