"""The scoring glue of ffpp, ffpp_gen and dmimage on hand-made per-doc results (no model, no lmms-eval run)."""

from __future__ import annotations

import math

import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks import hooks
from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.glue.sample import Answer, VerdictScore

ffpp, dmimage = benchmarks.module("ffpp"), benchmarks.module("dmimage")
AUC = {m.group: m for m in ffpp.AUC_PER_METHOD}  # auc_deepfakes, ...: one manipulation's fakes with every real


def ffpp_doc(i, category, video=None):
    return {"id": f"{category}/{video or i}/{i}.png", "label": "real" if category == "original" else "fake",
            "category": category, "video": video or str(i), "question": "Does the image looks real/fake?"}


def ll_results(p_real_value):
    """What a summed-log-likelihood adapter (fakevlm) returns for the two continuations."""
    return [(math.log(p_real_value), False), (math.log(1 - p_real_value), False)]


def record(doc, results):
    return ffpp.process_results(doc, results)["acc"]  # the whole record, as logged


# ------------------------------------------------------------------- verdict log-odds


def log_odds(results):
    return hooks.loglikelihood_record({"id": "x", "label": "real"}, results)["log_odds"]


def test_summed_loglikelihoods_give_the_log_odds_of_real_over_fake():
    assert log_odds([(math.log(0.8), True), (math.log(0.2), False)]) == pytest.approx(math.log(4))


def test_mean_losses_as_lmms_evals_own_adapters_return_them_are_read_with_the_opposite_sign():
    # llava_hf: mean loss over the continuation; lower is likelier.
    assert log_odds([(0.1, True), (0.9, False)]) == pytest.approx(0.8)
    assert log_odds([(0.9, False), (0.1, True)]) == pytest.approx(-0.8)


def test_results_as_lmms_eval_0_7_passes_them_as_text_are_read():
    assert log_odds(["(-28.5, False)", "(-16.5, True)"]) == pytest.approx(-12.0)
    assert log_odds(["(-1.0, False)", "(-inf, False)"]) == metrics.MAX_LOG_ODDS


@pytest.mark.parametrize("results", [[(float("-inf"), False)] * 2, [(-1.0, False), (2.0, False)], [(float("nan"), False), (-1.0, False)], []])
def test_failed_or_inconsistent_loglikelihoods_are_unscored_and_counted_as_failed(results):
    rec = hooks.loglikelihood_record({"id": "x", "label": "real"}, results)
    assert rec["log_odds"] is None and rec["failed"] and rec["verdict"] == "unknown"


def test_p_real_is_the_normalised_probability_and_stays_exact_for_confident_scores():
    assert metrics.p_real_from_log_odds(math.log(4)) == pytest.approx(0.8)
    assert metrics.p_real_from_log_odds(-800.0) == pytest.approx(0.0) and metrics.p_real_from_log_odds(-800.0) >= 0.0
    assert metrics.p_real_from_log_odds(None) is None


def test_ffpp_record_carries_the_verdict_the_likelier_continuation_states():
    assert record(ffpp_doc(0, "original"), ll_results(0.7))["verdict"] == "real"
    assert record(ffpp_doc(0, "original"), ll_results(0.3))["verdict"] == "fake"
    assert record(ffpp_doc(0, "original"), [(float("-inf"), False)] * 2)["verdict"] == "unknown"


# --------------------------------------------------------------- FF++ pooled AUC


REAL_P = [0.9, 0.6, 0.4, 0.8]
FAKE_P = {"Deepfakes": [0.1, 0.7, 0.3], "Face2Face": [0.95, 0.5, 0.2], "FaceSwap": [0.05, 0.2, 0.3], "NeuralTextures": [0.6, 0.85, 0.1]}


def ffpp_records():
    recs = [record(ffpp_doc(i, "original"), ll_results(p)) for i, p in enumerate(REAL_P)]
    for method, ps in FAKE_P.items():
        recs += [record(ffpp_doc(i, method), ll_results(p)) for i, p in enumerate(ps)]
    return recs


def sklearn_auc(real, fake):
    return 100 * roc_auc_score([1] * len(real) + [0] * len(fake), real + fake)


def test_each_manipulation_auc_pools_its_fakes_with_all_reals_as_sklearn_does():
    recs = ffpp_records()
    for method, fakes in FAKE_P.items():
        assert AUC[method].compute(recs) == pytest.approx(sklearn_auc(REAL_P, fakes))


def test_the_average_is_the_mean_of_the_four_manipulation_aucs():
    expected = sum(sklearn_auc(REAL_P, ps) for ps in FAKE_P.values()) / 4
    assert ffpp.agg_auc_avg(ffpp_records()) == pytest.approx(expected)


def test_a_manipulation_absent_from_the_data_has_no_auc_and_is_left_out_of_the_average():
    recs = [r for r in ffpp_records() if r["category"] != "FaceSwap"]
    assert AUC["FaceSwap"].compute(recs) is None
    expected = sum(sklearn_auc(REAL_P, FAKE_P[m]) for m in ("Deepfakes", "Face2Face", "NeuralTextures")) / 3
    assert ffpp.agg_auc_avg(recs) == pytest.approx(expected)


def test_video_level_auc_scores_each_video_by_its_frames_mean_log_odds():
    recs = [record(ffpp_doc(i, "original", video=v), ll_results(p)) for i, (v, p) in enumerate([("001", 0.9), ("001", 0.2), ("002", 0.6)])]
    recs += [record(ffpp_doc(i, "Deepfakes", video=v), ll_results(p)) for i, (v, p) in enumerate([("001_002", 0.7), ("001_002", 0.7), ("002_001", 0.1)])]
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    real = [(logit(0.9) + logit(0.2)) / 2, logit(0.6)]
    fake = [logit(0.7), logit(0.1)]
    assert ffpp.agg_auc_video_avg(recs) == pytest.approx(sklearn_auc(real, fake))


def test_one_unscored_frame_withholds_every_auc_it_would_enter_and_says_why(caplog_loguru):
    recs = ffpp_records()
    recs[0] = record(ffpp_doc(0, "original"), [(float("-inf"), False)] * 2)
    assert hooks.agg_score_coverage(recs) == pytest.approx(100 * (len(recs) - 1) / len(recs))
    assert AUC["Deepfakes"].compute(recs) is None and ffpp.agg_auc_avg(recs) is None
    assert any("1 of" in m and "no verdict score" in m for m in caplog_loguru)


def test_generation_tasks_read_the_verdict_score_carried_by_the_answer():
    doc = ffpp_doc(0, "Deepfakes")
    answer = Answer("This is a fake image.", verdict=VerdictScore(p_real=0.02, p_fake=0.18, step=3))
    rec = ffpp.gen_process_results(doc, [answer])["acc"]
    assert rec["verdict"] == "fake"
    assert rec["log_odds"] == pytest.approx(math.log(0.02 / 0.18))
    assert rec["p_real"] == pytest.approx(0.1)


def test_a_plain_text_answer_has_no_score_and_no_auc_and_coverage_says_so():
    recs = [ffpp.gen_process_results(ffpp_doc(i, c), ["This is a fake image."])["acc"] for i, c in enumerate(["original", "Deepfakes"])]
    assert ffpp.agg_auc_avg(recs) is None and AUC["Deepfakes"].compute(recs) is None
    assert hooks.agg_score_coverage(recs) == 0.0
    assert hooks.agg_acc(recs) == pytest.approx(50.0)


# ---------------------------------------------------------------------- DMimage


def dm_records(verdicts_by_folder):
    """{(family, label): [verdict, ...]} -> dmimage records through the real process_results."""
    recs = []
    for (family, label), verdicts in verdicts_by_folder.items():
        for i, v in enumerate(verdicts):
            doc = {"id": f"{family}/{i}.png", "label": label, "category": family, "question": "Does the image looks real/fake?"}
            recs.append(dmimage.process_results(doc, [f"This is a {v} image." if v != "unknown" else "I cannot tell."])["acc"])
    return recs


def test_table3_one_class_f1_takes_the_subsets_own_class_as_positive():
    # 1000 reals at 98.2% and 1000 fakes at 89.7%: Table 3's FakeVLM row gives F1 99.1 and 94.6.
    recs = dm_records({("real", "real"): ["real"] * 982 + ["fake"] * 18, ("ADM", "fake"): ["fake"] * 897 + ["real"] * 103})
    assert dmimage.agg_real_acc(recs) == pytest.approx(98.2)
    assert round(dmimage.agg_real_f1(recs), 1) == 99.1
    assert dmimage.agg_fake_acc(recs) == pytest.approx(89.7)
    assert round(dmimage.agg_fake_f1(recs), 1) == 94.6


def test_an_unknown_answer_is_wrong_in_the_one_class_scores():
    recs = dm_records({("real", "real"): ["real", "unknown"], ("ADM", "fake"): ["fake", "unknown"]})
    assert dmimage.agg_real_acc(recs) == pytest.approx(50.0)
    assert dmimage.agg_real_f1(recs) == pytest.approx(100 * 2 / 3)
    assert dmimage.agg_fake_f1(recs) == pytest.approx(100 * 2 / 3)


def test_corvi_balanced_accuracy_pools_each_family_with_all_reals_and_averages_families():
    spec = {("real", "real"): ["real", "real", "fake", "real"], ("ADM", "fake"): ["fake", "real"], ("GLIDE", "fake"): ["fake", "fake", "fake"]}
    recs = dm_records(spec)
    per = {m.group: m.compute(recs) for m in hooks.per_group("bacc", hooks.agg_pooled_balanced_acc, ("ADM", "GLIDE"))}
    reals = spec[("real", "real")]
    for family in ("ADM", "GLIDE"):
        fakes = spec[(family, "fake")]
        expected = 100 * balanced_accuracy_score([1] * len(reals) + [0] * len(fakes), [v == "real" for v in reals + fakes])
        assert per[family] == pytest.approx(expected)
    assert dmimage.agg_balanced_acc_avg(recs) == pytest.approx((per["ADM"] + per["GLIDE"]) / 2)
    (glide_fake_acc,) = hooks.per_group("fake_acc", hooks.agg_pooled_fake_acc, ("GLIDE",))
    assert glide_fake_acc.compute(recs) == pytest.approx(100.0)
    assert dmimage.agg_auc_family_avg(recs) is None  # no verdict scores were published
