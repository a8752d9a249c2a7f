"""fakevlm_tasks.scoring.stats checked against scipy, statsmodels, scikit-learn, brute-force resampling and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from fakevlm_tasks.scoring import metrics, stats

REAL, FAKE = "real", "fake"


def synthetic(n=400, seed=0, skill=1.0, clusters=None, groups=("a", "b", "c")):
    """Labels, verdicts from noisy log-odds, per-doc ROUGE-L, categories: a PerDoc and its raw arrays."""
    rng = np.random.default_rng(seed)
    is_real = rng.random(n) < 0.45
    log_odds = rng.normal(size=n) + skill * np.where(is_real, 1.0, -1.0)
    verdicts = np.where(log_odds > 0.3, REAL, np.where(log_odds < -0.3, FAKE, "unknown"))
    labels = np.where(is_real, REAL, FAKE)
    rouge = rng.beta(2, 3, size=n)
    cats = rng.choice(groups, size=n)
    d = stats.per_doc(labels, verdicts, log_odds=log_odds, rouge_l=rouge, categories=cats, clusters=clusters)
    return d, labels, verdicts, log_odds, rouge, cats


def scipy_percentile(data, statistic, n_resamples=10000, **kw):
    res = scipy_stats.bootstrap(data, statistic, n_resamples=n_resamples, method="percentile", vectorized=True,
                                rng=np.random.default_rng(123), **kw)
    return res.confidence_interval.low, res.confidence_interval.high


# ------------------------------------------------------------- point estimates


def test_point_estimates_equal_the_tasks_metrics():
    d, labels, verdicts, log_odds, rouge, _ = synthetic()
    ref = metrics.detection_metrics(list(labels), list(verdicts))
    assert stats.point(d, "acc") == pytest.approx(ref["accuracy"])
    assert stats.point(d, "f1") == pytest.approx(ref["f1_real"])
    assert stats.point(d, "f1_fake") == pytest.approx(ref["f1_fake"])
    assert stats.point(d, "f1_macro") == pytest.approx(ref["f1_macro"])
    assert stats.point(d, "balanced_acc") == pytest.approx(ref["balanced_accuracy"])
    assert stats.point(d, "auc") == pytest.approx(metrics.roc_auc(list(labels), list(log_odds)))
    assert stats.point(d, "rouge_l") == pytest.approx(rouge.mean())


def test_per_group_auc_average_pools_each_group_with_all_reals():
    d, labels, _, log_odds, _, cats = synthetic()
    expected = np.mean([skm.roc_auc_score(labels[m] == REAL, log_odds[m])
                        for g in ("a", "b", "c") for m in [(labels == REAL) | (cats == g)]])
    assert stats.point(d, "auc_avg") == pytest.approx(expected)


def test_metrics_that_read_verdicts_refuse_docs_without_them():
    d = stats.per_doc([REAL, FAKE, FAKE], hits=[True, False, True])
    out = stats.intervals(d, ["acc", "f1", "balanced_acc"], n_resamples=50)
    assert isinstance(out["acc"], stats.Interval)
    assert "no real/fake verdict" in out["f1"] and "no real/fake verdict" in out["balanced_acc"]


def test_score_metrics_need_every_detection_doc_scored():
    labels, verdicts = [REAL, FAKE, REAL, FAKE], [REAL, FAKE, FAKE, FAKE]
    none = stats.intervals(stats.per_doc(labels, verdicts), ["auc", "ece"], n_resamples=50)
    assert "no verdict scores" in none["auc"] and "no verdict scores" in none["ece"]
    partial = stats.intervals(stats.per_doc(labels, verdicts, log_odds=[1.0, None, 0.5, -2.0]), ["auc"], n_resamples=50)
    assert partial["auc"] == "1 of 4 detection docs have no verdict score (log_odds)"


# ----------------------------------------------------- intervals against scipy


def test_accuracy_interval_matches_scipy_percentile_bootstrap():
    d, labels, verdicts, *_ = synthetic(n=400)
    hits = (labels == verdicts).astype(float)
    ours = stats.intervals(d, ["acc"], n_resamples=10000)["acc"]
    low, high = scipy_percentile((hits,), lambda x, axis: x.mean(axis=axis))
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=0.006)
    assert ours.low < ours.value < ours.high


def _f1_vectorised(positive):
    def f1(y, v, axis):
        tp = ((y == positive) & (v == y)).sum(axis=axis)
        wrong = (v != y).sum(axis=axis)
        return 2 * tp / (2 * tp + wrong)
    return f1


@pytest.mark.parametrize("metric, positive", [("f1", 1), ("f1_fake", 0)])
def test_f1_intervals_match_scipy_paired_bootstrap(metric, positive):
    d, labels, verdicts, *_ = synthetic(n=400, seed=1)
    y = (labels == REAL).astype(int)
    v = np.select([verdicts == REAL, verdicts == FAKE], [1, 0], -1)
    ours = stats.intervals(d, [metric], n_resamples=10000)[metric]
    low, high = scipy_percentile((y, v), _f1_vectorised(positive), paired=True)
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=0.008)


def test_mean_rouge_l_interval_matches_scipy_and_skips_docs_without_reference():
    d, *_, rouge, _ = synthetic(n=300, seed=2)
    rouge_with_gaps = rouge.copy()
    rouge_with_gaps[::5] = np.nan  # docs without a reference
    d = stats.per_doc(np.where(np.arange(300) % 2, REAL, FAKE), rouge_l=rouge_with_gaps)
    ours = stats.intervals(d, ["rouge_l"], n_resamples=10000)["rouge_l"]
    assert ours.n == 240
    # Resampling all docs and averaging those with a reference is the ratio estimator over the referenced ones.
    present = ~np.isnan(rouge_with_gaps)
    low, high = scipy_percentile((np.nan_to_num(rouge_with_gaps), present.astype(float)),
                                 lambda v, m, axis: v.sum(axis=axis) / m.sum(axis=axis), paired=True)
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=0.005)


def test_cluster_interval_matches_scipy_resampling_the_cluster_ids():
    n_clusters, size = 120, 4
    clusters = np.repeat(np.arange(n_clusters), size)
    rng = np.random.default_rng(3)
    hit_rate = rng.random(n_clusters)  # docs of one cluster tend to be right or wrong together
    hits = rng.random(n_clusters * size) < hit_rate[clusters]
    labels = np.where(clusters % 2, REAL, FAKE)
    d = stats.per_doc(labels, hits=hits, clusters=[f"video{c}" for c in clusters])
    ours = stats.intervals(d, ["acc"], n_resamples=10000)["acc"]
    per_cluster = np.bincount(clusters, hits).astype(float)

    def acc_of_clusters(ids, axis):
        return per_cluster[ids].sum(axis=axis) / (size * ids.shape[axis])

    low, high = scipy_percentile((np.arange(n_clusters),), acc_of_clusters)
    assert ours.clustered and ours.n_clusters == n_clusters and ours.n == n_clusters * size
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=0.01)


def test_cluster_bootstrap_is_wider_than_the_naive_one_on_duplicated_docs():
    d, labels, verdicts, log_odds, *_ = synthetic(n=200, seed=4)
    copies = 5
    dup = {k: np.repeat(v, copies) for k, v in (("labels", labels), ("verdicts", verdicts), ("log_odds", log_odds))}
    clusters = np.repeat(np.arange(200), copies)
    naive = stats.intervals(stats.per_doc(dup["labels"], dup["verdicts"], log_odds=dup["log_odds"]), ["acc", "auc"])
    clustered = stats.intervals(stats.per_doc(dup["labels"], dup["verdicts"], log_odds=dup["log_odds"], clusters=clusters), ["acc", "auc"])
    original = stats.intervals(d, ["acc", "auc"])
    for m in ("acc", "auc"):
        width = {name: iv[m].high - iv[m].low for name, iv in (("naive", naive), ("clustered", clustered), ("original", original))}
        # Five copies of each doc carry no more information than one: the naive interval is ~sqrt(5) too narrow.
        assert width["clustered"] > 1.8 * width["naive"], (m, width)
        assert width["clustered"] == pytest.approx(width["original"], rel=0.15), (m, width)


def test_intervals_are_reproducible_and_depend_on_the_seed():
    d, *_ = synthetic()
    first = stats.intervals(d, ["acc", "auc", "f1"], seed=7)
    assert stats.intervals(d, ["acc", "auc", "f1"], seed=7) == first
    assert stats.intervals(d, ["acc", "auc", "f1"], seed=8)["auc"] != first["auc"]


def test_resample_counts_draw_every_cluster_count_and_do_not_depend_on_the_block_size():
    blocks = list(stats.resample_counts(50, n_resamples=30, seed=1, chunk=7))
    assert [b.shape for b in blocks] == [(50, 7)] * 4 + [(50, 2)]
    assert all((b.sum(axis=0) == 50).all() for b in blocks)
    whole = np.hstack(blocks)
    assert not np.array_equal(whole[:, 0], whole[:, 1])
    assert np.array_equal(np.hstack(list(stats.resample_counts(50, n_resamples=30, seed=1, chunk=7))), whole)


# ----------------------------------------------- kernels against brute force


def _expanded(counts_column, *arrays):
    idx = np.repeat(np.arange(len(counts_column)), counts_column)
    return [a[idx] for a in arrays]


def test_every_resampled_metric_equals_scikit_learn_on_the_expanded_resample():
    n = 40
    d, labels, verdicts, log_odds, rouge, _ = synthetic(n=n, seed=6)
    log_odds = np.round(log_odds, 1)  # ties, which AUC counts one half
    d = stats.per_doc(labels, verdicts, log_odds=log_odds, rouge_l=rouge)
    counts = next(stats.resample_counts(n, n_resamples=25, seed=3))
    w = stats.Weights(counts.astype(float))
    got = {m: stats.METRICS[m](d, w) for m in ("acc", "f1", "f1_fake", "balanced_acc", "auc", "tpr_at_fpr_5", "brier", "rouge_l")}
    for r in range(counts.shape[1]):
        y, v, s, rl = _expanded(counts[:, r], labels, verdicts, log_odds, rouge)
        real = y == REAL
        # An unknown verdict is wrong for either class: predict the other class for sklearn.
        pred = np.where(v == "unknown", np.where(real, FAKE, REAL), v)
        fpr, tpr, _ = skm.roc_curve(~real, -s)  # fake positive
        expected = {
            "acc": float((v == y).mean()),
            "f1": skm.f1_score(y, pred, pos_label=REAL),
            "f1_fake": skm.f1_score(y, pred, pos_label=FAKE),
            "balanced_acc": skm.balanced_accuracy_score(y, pred),
            "auc": skm.roc_auc_score(real, s),
            "tpr_at_fpr_5": tpr[fpr <= 0.05].max(),
            "brier": skm.brier_score_loss(real, special.expit(s)),
            "rouge_l": rl.mean(),
        }
        for m, value in expected.items():
            assert got[m][r] == pytest.approx(value, abs=1e-12), (m, r)


def test_ece_and_brier_equal_hand_computed_values():
    p = np.array([0.12, 0.18, 0.55, 0.91, 0.97])
    y = np.array([0, 1, 1, 1, 0])
    # 10 equal-width bins: {0.12, 0.18} in bin 1, 0.55 in bin 5, {0.91, 0.97} in bin 9.
    # ECE = 2/5 |0.5 - 0.15| + 1/5 |1 - 0.55| + 2/5 |0.5 - 0.94| = 0.14 + 0.09 + 0.176
    # Brier = (0.0144 + 0.6724 + 0.2025 + 0.0081 + 0.9409) / 5
    d = stats.per_doc(np.where(y == 1, REAL, FAKE), [REAL] * 5, log_odds=special.logit(p))
    assert stats.point(d, "ece") == pytest.approx(0.406)
    assert stats.point(d, "brier") == pytest.approx(1.8383 / 5)
    bins = stats.reliability(p, y)
    assert bins["count"].tolist() == [0, 2, 0, 0, 0, 1, 0, 0, 0, 2]
    assert bins["frac_real"][9] == 0.5 and bins["mean_p"][9] == pytest.approx(0.94)


def test_tpr_at_fpr_takes_the_best_threshold_within_the_false_positive_budget():
    # 10 fakes, 20 reals; a doc is flagged fake when its log-odds are <= the threshold.
    # <= -3: 4 fakes, no real (TPR 0.4, FPR 0); <= -2: 6 fakes, 1 real (0.6, exactly 5%); <= -1: 9 fakes, 3 reals (0.9, 15%).
    log_odds = np.r_[[-3.0] * 4, [-2.0] * 2, [-1.0] * 3, [2.0], [-2.0], [-1.0] * 2, [1.0] * 17]
    labels = [FAKE] * 10 + [REAL] * 20
    d = stats.per_doc(labels, [REAL] * 30, log_odds=log_odds)
    assert stats.point(d, "tpr_at_fpr_5") == pytest.approx(0.6)
    assert stats.point(d, "tpr_at_fpr_1") == pytest.approx(0.4)


# --------------------------------------------------------------- paired tests


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_docs():
    rng = np.random.default_rng(8)
    a, b = rng.random(300) < 0.8, rng.random(300) < 0.7
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    expected = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert stats.mcnemar_exact(a, b) == pytest.approx(expected)
    assert stats.mcnemar_exact(a, a) == 1.0


def test_compare_uses_mcnemar_and_delong_on_independent_docs_and_the_bootstrap_on_clusters():
    d1, labels, *_ = synthetic(n=400, seed=9, skill=1.5)
    d2, *_ = synthetic(n=400, seed=9, skill=0.8)
    out = stats.compare(d1, d2, ["acc", "auc", "f1", "rouge_l"])
    assert out["acc"].test.startswith("McNemar") and out["auc"].test == "DeLong"
    assert out["f1"].test.startswith("paired bootstrap over docs")
    assert out["acc"].p_value == pytest.approx(stats.mcnemar_exact(d1.hit[d1.detection], d2.hit[d2.detection]))
    assert out["auc"].diff > 0 and out["auc"].p_value < 0.001 and out["auc"].low > 0
    clusters = np.arange(400) // 4
    c1, c2 = (stats.per_doc(labels, np.select([d.verdict == 1, d.verdict == 0], [REAL, FAKE], "unknown"),
                            log_odds=d.log_odds, clusters=clusters) for d in (d1, d2))
    clustered = stats.compare(c1, c2, ["acc", "auc"])
    assert all(c.test.startswith("paired bootstrap over clusters") for c in clustered.values())
    assert clustered["acc"].diff == pytest.approx(out["acc"].diff)


def test_a_model_compared_with_itself_differs_by_nothing():
    d, *_ = synthetic()
    out = stats.compare(d, d, ["acc", "f1", "auc", "rouge_l"])
    for c in out.values():
        assert (c.diff, c.low, c.high, c.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_paired_bootstrap_detects_a_real_difference_and_covers_it():
    d1, labels, verdicts, log_odds, rouge, _ = synthetic(n=500, seed=10)
    better = stats.per_doc(labels, verdicts, log_odds=log_odds, rouge_l=np.clip(rouge + 0.05, 0, 1))
    out = stats.compare(better, d1, ["rouge_l"])["rouge_l"]
    assert out.diff == pytest.approx(np.clip(rouge + 0.05, 0, 1).mean() - rouge.mean())
    assert out.low <= out.diff <= out.high and out.low > 0 and out.p_value < 0.01


def _delong_by_definition(pos, s_a, s_b):
    """DeLong's variance of AUC_a - AUC_b from its double-sum definition (no ranks)."""
    v10, v01 = [], []
    for s in (s_a, s_b):
        x, y = s[pos], s[~pos]
        psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    s10, s01 = np.cov(v10), np.cov(v01)
    S = s10 / pos.sum() + s01 / (~pos).sum()
    return S[0, 0] + S[1, 1] - 2 * S[0, 1]


def test_delong_matches_its_definition_and_the_bootstrap_variance():
    rng = np.random.default_rng(11)
    pos = rng.random(120) < 0.5
    s_a = np.round(rng.normal(size=120) + pos, 1)
    s_b = np.round(s_a + rng.normal(scale=0.8, size=120), 1)
    auc_a, auc_b, var = stats.delong(pos, s_a, s_b)
    assert (auc_a, auc_b) == pytest.approx((skm.roc_auc_score(pos, s_a), skm.roc_auc_score(pos, s_b)))
    assert var == pytest.approx(_delong_by_definition(pos, s_a, s_b))
    labels = np.where(pos, REAL, FAKE)
    a, b = (stats.per_doc(labels, [REAL] * 120, log_odds=s) for s in (s_a, s_b))
    diffs = []
    for counts in stats.resample_counts(120, n_resamples=4000, seed=2):
        w = stats.Weights(counts.astype(float))
        diffs.append(stats.METRICS["auc"](a, w) - stats.METRICS["auc"](b, w))
    assert var == pytest.approx(np.var(np.concatenate(diffs)), rel=0.2)


def test_compare_refuses_docs_that_differ():
    d, labels, verdicts, *_ = synthetic(n=50)
    with pytest.raises(ValueError, match="same docs"):
        stats.compare(d, stats.per_doc(labels[::-1], verdicts), ["acc"])
    with pytest.raises(ValueError, match="different clusters"):
        stats.compare(stats.per_doc(labels, verdicts, clusters=np.arange(50) // 2),
                      stats.per_doc(labels, verdicts, clusters=np.arange(50) % 25), ["acc"])


def test_reliability_diagram_is_a_png(tmp_path):
    from PIL import Image

    _, labels, _, log_odds, *_ = synthetic()
    path = tmp_path / "rel.png"
    stats.reliability_diagram({"model": (special.expit(log_odds), labels == REAL)}, path)
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) > 300


def test_an_interval_whose_metric_is_sometimes_undefined_counts_those_resamples():
    # One real doc among 12: many resamples draw no real, where AUC is undefined.
    labels = [REAL] + [FAKE] * 11
    d = stats.per_doc(labels, [REAL] + [FAKE] * 11, log_odds=np.linspace(1, -1, 12))
    iv = stats.intervals(d, ["auc"], n_resamples=500)["auc"]
    assert 0 < iv.undefined < 500
    assert iv.undefined / 500 == pytest.approx((11 / 12) ** 12, abs=0.08)
    assert math.isclose(iv.value, 1.0)


# ------------------------------------------------------------ degenerate cases


def _perfect_and_constant(n):
    """Model A ranks every real above every fake; model B gives every doc the same score."""
    labels = [REAL] * (n // 2) + [FAKE] * (n - n // 2)
    a = stats.per_doc(labels, labels, log_odds=np.linspace(3, -3, n))
    b = stats.per_doc(labels, [REAL] * n, log_odds=[0.5] * n)
    return a, b


def test_delong_with_zero_variance_gives_the_exact_permutation_p_not_zero():
    a, b = _perfect_and_constant(6)
    c = stats.compare(a, b, ["auc"])["auc"]
    # Of the 2^6 swaps of A's and B's scores, only "none" and "all" keep |AUC_a - AUC_b| = 0.5.
    assert c.diff == 0.5 and c.p_value == pytest.approx(2 / 64)
    assert c.test == "paired permutation test (all 64 swaps of docs)"
    assert "DeLong's variance is zero" in c.note and "zero width" in c.note


def test_a_difference_equal_on_every_resample_gets_a_permutation_p_with_the_plus_one_correction():
    a, b = _perfect_and_constant(30)
    c = stats.compare(a, b, ["auc"], n_resamples=500)["auc"]
    assert c.test == "paired permutation test (500 swaps of docs)"
    assert c.p_value == pytest.approx(1 / 501)  # no random swap is as extreme, and p is never 0
    assert "same difference on every resample" in c.note


@pytest.mark.parametrize("metric", ["f1", "ece", "brier", "rouge_l"])
def test_one_doc_gives_no_decisive_p(metric):
    a = stats.per_doc([REAL], [REAL], log_odds=[2.0], rouge_l=[0.9])
    b = stats.per_doc([REAL], [FAKE], log_odds=[-1.0], rouge_l=[0.1])
    c = stats.compare(a, b, [metric])[metric]
    assert c.p_value == 1.0 and c.test == "paired permutation test (all 2 swaps of docs)"
    assert c.low == c.high and "zero width" in c.note


def _swapped_runs(a_labels, a_verdicts, a_scores, b_verdicts, b_scores, mask):
    take = np.asarray(mask, bool)
    return (np.where(take, b_verdicts, a_verdicts), np.where(take, b_scores, a_scores),
            np.where(take, a_verdicts, b_verdicts), np.where(take, a_scores, b_scores))


@pytest.mark.parametrize("metric", ["f1", "auc", "brier"])
def test_the_exact_permutation_p_is_that_of_swapping_the_answers_by_hand(metric):
    rng = np.random.default_rng(12)
    n = 9
    labels = np.array([REAL, FAKE] * 4 + [REAL])
    va, vb = rng.choice([REAL, FAKE], n), rng.choice([REAL, FAKE], n)
    sa, sb = np.round(rng.normal(size=n), 1), np.round(rng.normal(size=n), 1)

    def value(verdicts, scores):
        return stats.point(stats.per_doc(labels, verdicts, log_odds=scores), metric)

    observed = value(va, sa) - value(vb, sb)
    as_far = 0
    for r in range(2 ** n):
        mask = [(r >> i) & 1 for i in range(n)]
        a_v, a_s, b_v, b_s = _swapped_runs(labels, va, sa, vb, sb, mask)
        as_far += abs(value(a_v, a_s) - value(b_v, b_s)) >= abs(observed) - 1e-12
    a, b = stats.per_doc(labels, va, log_odds=sa), stats.per_doc(labels, vb, log_odds=sb)
    p, swaps, exact = stats.permutation_p(a, b, stats.METRICS[metric])
    assert (p, swaps, exact) == (pytest.approx(as_far / 2 ** n), 2 ** n, True)


@pytest.mark.parametrize("right", [True, False])
def test_accuracy_at_the_boundary_gets_the_exact_clopper_pearson_interval(right):
    labels = [REAL] * 12 + [FAKE] * 12
    verdicts = labels if right else [FAKE] * 12 + [REAL] * 12
    iv = stats.intervals(stats.per_doc(labels, verdicts), ["acc"])["acc"]
    # All n right: the lower bound solves p^n = 0.025; all wrong, by symmetry.
    bound = 0.025 ** (1 / 24)
    assert (iv.low, iv.high) == (pytest.approx(bound), 1.0) if right else (0.0, pytest.approx(1 - bound))
    assert round(100 * bound, 1) == 85.8
    assert iv.exact and "Clopper-Pearson" in iv.method and "Clopper-Pearson" in iv.note


def test_clustered_accuracy_at_the_boundary_counts_each_cluster_as_one_trial():
    labels = [REAL, REAL, FAKE, FAKE] * 6
    iv = stats.intervals(stats.per_doc(labels, labels, clusters=np.arange(24) // 4), ["acc"])["acc"]
    assert iv.low == pytest.approx(0.025 ** (1 / 6)) and "of 6 clusters" in iv.note


def test_a_zero_width_interval_without_an_exact_method_is_marked_degenerate():
    labels = [REAL] * 12 + [FAKE] * 12
    iv = stats.intervals(stats.per_doc(labels, labels), ["f1"])["f1"]
    assert (iv.value, iv.low, iv.high) == (1.0, 1.0, 1.0)
    assert iv.degenerate and "zero-width" in iv.note


def test_a_value_outside_its_own_bootstrap_interval_is_flagged():
    # Perfectly calibrated: 3 of the 10 docs at P(real) = 0.3 are real, 7 of the 10 at 0.7. ECE is 0, and
    # almost every resample puts some gap in a bin, so the bootstrap interval lies above the value.
    p = np.r_[[0.3] * 10, [0.7] * 10]
    real = np.r_[[1] * 3, [0] * 7, [1] * 7, [0] * 3].astype(bool)
    d = stats.per_doc(np.where(real, REAL, FAKE), [REAL] * 20, log_odds=special.logit(p))
    iv = stats.intervals(d, ["ece", "brier"])
    assert iv["ece"].value == pytest.approx(0.0, abs=1e-12) and iv["ece"].low > 0
    assert iv["ece"].outside and "outside its own bootstrap interval" in iv["ece"].note
    assert not iv["brier"].outside and iv["brier"].note is None
