"""The scoring glue of ffpp, ffpp_gen and dmimage on hand-made per-doc results (no model, no lmms-eval run)."""

from __future__ import annotations

import math

import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from fakevlm_tasks import hooks_paper as hp
from fakevlm_tasks import scores


def ffpp_doc(i, category, video=None):
    return {"id": f"{category}/{video or i}/{i}.png", "label": "real" if category == "original" else "fake",
            "category": category, "video": video or str(i), "question": "Does the image looks real/fake?"}


def ll_results(p_real_value):
    """What a summed-log-likelihood adapter (fakevlm) returns for the two continuations."""
    return [(math.log(p_real_value), False), (math.log(1 - p_real_value), False)]


def record(doc, results):
    return hp.ffpp_process_results(doc, results)["auc_avg"]


# ------------------------------------------------------------------- verdict log-odds


def test_summed_loglikelihoods_give_the_log_odds_of_real_over_fake():
    assert hp.log_odds_from_loglikelihoods([(math.log(0.8), True), (math.log(0.2), False)]) == pytest.approx(math.log(4))


def test_mean_losses_as_lmms_evals_own_adapters_return_them_are_read_with_the_opposite_sign():
    # llava_hf: mean loss over the continuation; lower is likelier.
    assert hp.log_odds_from_loglikelihoods([(0.1, True), (0.9, False)]) == pytest.approx(0.8)
    assert hp.log_odds_from_loglikelihoods([(0.9, False), (0.1, True)]) == pytest.approx(-0.8)


def test_results_as_lmms_eval_0_7_passes_them_as_text_are_read():
    assert hp.log_odds_from_loglikelihoods(["(-28.5, False)", "(-16.5, True)"]) == pytest.approx(-12.0)
    assert hp.log_odds_from_loglikelihoods(["(-1.0, False)", "(-inf, False)"]) == hp._MAX_LOG_ODDS


@pytest.mark.parametrize("results", [[(float("-inf"), False)] * 2, [(-1.0, False), (2.0, False)], [(float("nan"), False), (-1.0, False)], []])
def test_failed_or_inconsistent_loglikelihoods_are_unscored(results):
    assert hp.log_odds_from_loglikelihoods(results) is None


def test_a_probability_that_underflowed_gives_a_bounded_score():
    assert hp.log_odds_from_loglikelihoods([(-1.0, False), (float("-inf"), False)]) == hp._MAX_LOG_ODDS


def test_p_real_is_the_normalised_probability_and_stays_exact_for_confident_scores():
    assert hp.p_real(math.log(4)) == pytest.approx(0.8)
    assert hp.p_real(-800.0) == pytest.approx(0.0) and hp.p_real(-800.0) >= 0.0
    assert hp.p_real(None) is None


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
    assert hp.agg_auc_deepfakes(recs) == pytest.approx(sklearn_auc(REAL_P, FAKE_P["Deepfakes"]))
    assert hp.agg_auc_face2face(recs) == pytest.approx(sklearn_auc(REAL_P, FAKE_P["Face2Face"]))
    assert hp.agg_auc_faceswap(recs) == pytest.approx(sklearn_auc(REAL_P, FAKE_P["FaceSwap"]))
    assert hp.agg_auc_neuraltextures(recs) == pytest.approx(sklearn_auc(REAL_P, FAKE_P["NeuralTextures"]))


def test_the_average_is_the_mean_of_the_four_manipulation_aucs():
    expected = sum(sklearn_auc(REAL_P, ps) for ps in FAKE_P.values()) / 4
    assert hp.agg_auc_avg(ffpp_records()) == pytest.approx(expected)


def test_a_manipulation_absent_from_the_data_has_no_auc_and_is_left_out_of_the_average():
    recs = [r for r in ffpp_records() if r["category"] != "FaceSwap"]
    assert hp.agg_auc_faceswap(recs) is None
    assert set(hp.agg_per_manipulation(recs)) == {"Deepfakes", "Face2Face", "NeuralTextures"}
    expected = sum(sklearn_auc(REAL_P, FAKE_P[m]) for m in ("Deepfakes", "Face2Face", "NeuralTextures")) / 3
    assert hp.agg_auc_avg(recs) == pytest.approx(expected)


def test_video_level_auc_scores_each_video_by_its_frames_mean_log_odds():
    recs = [record(ffpp_doc(i, "original", video=v), ll_results(p)) for i, (v, p) in enumerate([("001", 0.9), ("001", 0.2), ("002", 0.6)])]
    recs += [record(ffpp_doc(i, "Deepfakes", video=v), ll_results(p)) for i, (v, p) in enumerate([("001_002", 0.7), ("001_002", 0.7), ("002_001", 0.1)])]
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    real = [(logit(0.9) + logit(0.2)) / 2, logit(0.6)]
    fake = [logit(0.7), logit(0.1)]
    assert hp.agg_auc_video_avg(recs) == pytest.approx(sklearn_auc(real, fake))


def test_unscored_frames_count_as_no_preference_and_their_rate_is_reported():
    recs = ffpp_records()
    recs[0] = record(ffpp_doc(0, "original"), [(float("-inf"), False)] * 2)
    assert hp.agg_unscored_rate(recs) == pytest.approx(100 / len(recs))
    expected = sklearn_auc([0.5] + REAL_P[1:], FAKE_P["Deepfakes"])  # log-odds 0 == P(real) 0.5
    assert hp.agg_auc_deepfakes(recs) == pytest.approx(expected)


def test_per_manipulation_acc_and_f1_pool_the_manipulation_with_all_reals():
    out = hp.agg_per_manipulation(ffpp_records())["Deepfakes"]
    # reals 0.9 0.6 0.4 0.8 -> real real fake real; Deepfakes 0.1 0.7 0.3 -> fake real fake
    assert out["acc"] == pytest.approx(100 * 5 / 7)
    assert out["f1"] == pytest.approx(100 * 2 * 3 / (2 * 3 + 1 + 1))
    assert out["n_fake"] == 3


# ------------------------------------------------------------ scores from generation


def test_generation_tasks_read_the_verdict_score_the_adapter_published():
    doc = ffpp_doc(0, "Deepfakes")
    scores.publish_score("ffpp_gen", doc["id"], scores.VerdictScore(p_real=0.02, p_fake=0.18, step=3))
    try:
        rec = hp.ffpp_gen_process_results(doc, ["This is a fake image."])["auc_avg"]
    finally:
        scores.clear("ffpp_gen")
    assert rec["verdict"] == "fake"
    assert rec["log_odds"] == pytest.approx(math.log(0.02 / 0.18))
    assert rec["p_real"] == pytest.approx(0.1)


def test_without_published_scores_generation_tasks_report_no_auc():
    recs = [hp.ffpp_gen_process_results(ffpp_doc(i, c), ["This is a fake image."])["auc_avg"] for i, c in enumerate(["original", "Deepfakes"])]
    assert hp.agg_auc_avg(recs) is None
    assert hp.agg_per_manipulation(recs)["Deepfakes"]["auc"] is None
    assert hp.agg_per_manipulation(recs)["Deepfakes"]["acc"] == pytest.approx(50.0)


# ---------------------------------------------------------------------- DMimage


def dm_records(verdicts_by_folder):
    """{(family, label): [verdict, ...]} -> dmimage records through the real process_results."""
    recs = []
    for (family, label), verdicts in verdicts_by_folder.items():
        for i, v in enumerate(verdicts):
            doc = {"id": f"{family}/{i}.png", "label": label, "category": family, "question": "Does the image looks real/fake?"}
            recs.append(hp.dmimage_process_results(doc, [f"This is a {v} image." if v != "unknown" else "I cannot tell."])["acc"])
    return recs


def test_table3_one_class_f1_takes_the_subsets_own_class_as_positive():
    # 1000 reals at 98.2% and 1000 fakes at 89.7%: Table 3's FakeVLM row gives F1 99.1 and 94.6.
    recs = dm_records({("real", "real"): ["real"] * 982 + ["fake"] * 18, ("ADM", "fake"): ["fake"] * 897 + ["real"] * 103})
    assert hp.agg_real_acc(recs) == pytest.approx(98.2)
    assert round(hp.agg_real_f1(recs), 1) == 99.1
    assert hp.agg_fake_acc(recs) == pytest.approx(89.7)
    assert round(hp.agg_fake_f1(recs), 1) == 94.6


def test_an_unknown_answer_is_wrong_in_the_one_class_scores():
    recs = dm_records({("real", "real"): ["real", "unknown"], ("ADM", "fake"): ["fake", "unknown"]})
    assert hp.agg_real_acc(recs) == pytest.approx(50.0)
    assert hp.agg_real_f1(recs) == pytest.approx(100 * 2 / 3)
    assert hp.agg_fake_f1(recs) == pytest.approx(100 * 2 / 3)


def test_corvi_balanced_accuracy_pools_each_family_with_all_reals_and_averages_families():
    spec = {("real", "real"): ["real", "real", "fake", "real"], ("ADM", "fake"): ["fake", "real"], ("GLIDE", "fake"): ["fake", "fake", "fake"]}
    recs = dm_records(spec)
    per = hp.agg_per_family(recs)
    reals = spec[("real", "real")]
    for family in ("ADM", "GLIDE"):
        fakes = spec[(family, "fake")]
        expected = 100 * balanced_accuracy_score([1] * len(reals) + [0] * len(fakes), [v == "real" for v in reals + fakes])
        assert per[family]["bacc"] == pytest.approx(expected)
    assert hp.agg_bacc_avg(recs) == pytest.approx((per["ADM"]["bacc"] + per["GLIDE"]["bacc"]) / 2)
    assert per["GLIDE"]["fake_acc"] == pytest.approx(100.0) and per["GLIDE"]["n_fake"] == 3
    assert hp.agg_auc_family_avg(recs) is None  # no verdict scores were published
