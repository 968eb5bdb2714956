import numpy as np
import pytest

from interview_guard.errors import ParameterError
from interview_guard.signals.metrics import (
    auc_difference_interval,
    auc_interval,
    equal_error_rate,
    rates_at_threshold,
    roc_auc,
    roc_curve,
    threshold_at_fpr,
)


def test_auc_perfect_random_and_ties(rng):
    y = np.r_[np.zeros(50), np.ones(50)]
    assert roc_auc(labels=y, scores=y) == 1.0
    assert roc_auc(labels=y, scores=-y) == 0.0
    assert roc_auc(labels=y, scores=np.ones(100)) == 0.5
    s = rng.normal(size=4000)
    yy = rng.integers(0, 2, 4000)
    assert abs(roc_auc(labels=yy, scores=s) - 0.5) < 0.03


def test_auc_matches_trapezoid_of_curve(rng):
    y = rng.integers(0, 2, 300)
    s = rng.normal(size=300) + y
    fpr, tpr, _ = roc_curve(labels=y, scores=s)
    assert roc_auc(labels=y, scores=s) == pytest.approx(np.trapezoid(tpr, fpr))


def test_eer_of_separated_gaussians(rng):
    y = np.r_[np.zeros(20000), np.ones(20000)]
    s = rng.normal(size=40000) + 2.0 * y  # EER = Phi(-1) = 0.1587
    eer, thr = equal_error_rate(labels=y, scores=s)
    assert eer == pytest.approx(0.1587, abs=0.01) and thr == pytest.approx(1.0, abs=0.05)


def test_threshold_at_fpr_and_rates():
    y = np.array([0, 0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95])
    t = threshold_at_fpr(labels=y, scores=s, fpr=0.25)
    r = rates_at_threshold(labels=y, scores=s, threshold=t)
    assert r["fpr"] <= 0.25 and r["tpr"] == 1.0


def test_bad_inputs():
    with pytest.raises(ParameterError):
        roc_auc(labels=[0, 0], scores=[1, 2])
    with pytest.raises(ParameterError):
        roc_auc(labels=[0, 1], scores=[1, np.nan])


def test_auc_interval_of_a_perfect_ranking_is_a_point():
    y = np.r_[np.zeros(10), np.ones(10)]
    assert auc_interval(labels=y, scores=y, n_boot=200) == (1.0, 1.0, 1.0)


def test_auc_interval_covers_the_true_auc(rng):
    """Two unit Gaussians a distance 1 apart: AUC = Phi(1 / sqrt 2) = 0.7602; the 90 % interval of samples of
    25 + 25 holds it in about 90 % of draws (a point estimate, or a spread too narrow, would not)."""
    true_auc, hits, widths = 0.7602, 0, []
    for k in range(80):
        y = np.r_[np.zeros(25), np.ones(25)]
        s = rng.normal(size=50) + y
        a, lo, hi = auc_interval(labels=y, scores=s, level=0.9, n_boot=300, seed=k)
        assert lo <= a <= hi
        hits += lo <= true_auc <= hi
        widths.append(hi - lo)
    assert 0.78 <= hits / 80 <= 0.98
    assert 0.12 < np.median(widths) < 0.35


def test_auc_interval_resamples_whole_groups(rng):
    """Scores that share a source move together: resampling the sources gives a wider interval than
    counting every score as independent evidence."""
    y, s, g = [], [], []
    for src in range(6):
        shift = rng.normal(scale=1.5)  # how hard this source's fakes are to see
        y += [0] * 15 + [1] * 15
        s += list(rng.normal(size=15)) + list(rng.normal(size=15) + 1.0 + shift)
        g += [src] * 30
    _, lo1, hi1 = auc_interval(labels=y, scores=s, n_boot=500)
    _, lo2, hi2 = auc_interval(labels=y, scores=s, groups=g, n_boot=500)
    assert hi2 - lo2 > 1.5 * (hi1 - lo1)
    assert auc_interval(labels=y, scores=s, groups=g, n_boot=500) == (roc_auc(labels=y, scores=s), lo2, hi2)
    with pytest.raises(ParameterError):
        auc_interval(labels=y, scores=s, groups=g[:-1])


def test_auc_difference_interval_is_paired(rng):
    y = np.r_[np.zeros(40), np.ones(40)]
    base = rng.normal(size=80) + 0.8 * y
    assert auc_difference_interval(labels=y, scores_a=base, scores_b=base, n_boot=200) == (0.0, 0.0, 0.0)
    better = base + 1.5 * y  # the same sessions, the fakes pushed further up
    d, lo, hi = auc_difference_interval(labels=y, scores_a=better, scores_b=base, n_boot=500)
    assert d > 0 and 0 < lo <= d <= hi
    # two unrelated detectors of the same quality: the interval holds 0
    other = rng.normal(size=80) + 0.8 * y
    _, lo, hi = auc_difference_interval(labels=y, scores_a=other, scores_b=base, n_boot=500)
    assert lo < 0 < hi
    with pytest.raises(ParameterError):
        auc_difference_interval(labels=y, scores_a=base, scores_b=base[:-1])
    with pytest.raises(ParameterError):
        auc_interval(labels=y, scores=base, level=1.5)


def test_fusion_fit_metrics_round_and_handle_one_class(rng):
    """fusion.fit_metrics: the report's rounded view of the metrics above."""
    from interview_guard.fusion.fit_metrics import detection_metrics, reliability_curve, round_or_none

    assert round_or_none(None) is None and round_or_none(float("nan")) is None and round_or_none(np.inf) is None
    assert round_or_none(np.float64(0.123456)) == 0.1235 and round_or_none(0.123456, 2) == 0.12
    y = rng.integers(0, 2, 200)
    s = rng.normal(size=200) + y
    d = detection_metrics(y, s, 0.05)
    assert d["n"] == 200 and d["n_genuine"] + d["n_manipulated"] == 200
    assert d["auc"] == round_or_none(roc_auc(labels=y, scores=s))
    assert d["threshold_at_fpr"] == round_or_none(threshold_at_fpr(labels=y, scores=s, fpr=0.05))
    one = detection_metrics(np.zeros(5, int), np.arange(5.0), 0.05)
    assert one["auc"] is None and one["eer"] is None and "needs both" in one["note"]
    bins = reliability_curve(np.array([0, 1, 1]), np.array([0.05, 0.95, 1.0]), bins=4)
    assert [b["n"] for b in bins] == [1, 0, 0, 2] and bins[3]["observed_rate"] == 1.0 and bins[1]["mean_risk"] is None
