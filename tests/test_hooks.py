"""The lmms-eval glue: what one doc's answer becomes, and how the records aggregate."""

from __future__ import annotations

import pytest

from fakevlm_tasks import hooks

process_results = hooks.detection_results(hooks.DETECTION_METRICS)


def doc(i, label, reference=None, **extra):
    return {"id": f"d{i}", "label": label, "category": "scene", "question": "Does the image looks real/fake?", "reference": reference, **extra}


def records(answers_and_docs):
    return [process_results(d, [a]) for a, d in answers_and_docs]


def aggregate(per_doc, metric):
    """The metric as lmms-eval aggregates it: its declared aggregation on the values process_results logged."""
    (declared,) = [m for m in hooks.DETECTION_METRICS + ACC_BY_CATEGORY if m.name == metric]
    return declared.aggregation([r[metric] for r in per_doc])


def test_each_record_is_logged_whole_once_under_acc_and_css():
    out = process_results(doc(0, "fake", "This is a fake image. Seams."), ["This is a fake image. Blur."])
    assert out["acc"] == {**hooks.detection_record(doc(0, "fake"), ["This is a fake image. Blur."]), "score": 1.0}
    assert out["css"] == hooks.text_record(doc(0, "fake", "This is a fake image. Seams."), ["This is a fake image. Blur."])


def test_every_other_metric_logs_only_the_fields_its_aggregation_reads():
    out = process_results(doc(0, "fake", "This is a fake image. Seams."), ["This is a fake image. Blur."])
    for m in hooks.DETECTION_METRICS:
        if m.name not in ("acc", "css"):
            assert set(out[m.name]) == set(m.aggregation.reads), m.name


def test_the_answer_is_logged_only_under_the_metrics_that_embed_it():
    out = process_results(doc(0, "fake", "This is a fake image. Seams."), ["This is a fake image. Blur."])
    assert sorted(k for k, v in out.items() if isinstance(v, dict) and "prediction" in v) == ["css", "css_evidence"]


def test_a_task_without_acc_logs_the_whole_record_under_its_first_metric_and_no_score_inside():
    f1, failed_rate = (m for m in hooks.VERDICT_METRICS if m.name in ("f1", "failed_rate"))
    out = hooks.detection_results((f1, failed_rate))(doc(0, "real"), ["This is a real image."])
    assert out["f1"] == hooks.detection_record(doc(0, "real"), ["This is a real image."])
    assert out["failed_rate"] == {"failed": False} and out["score"] == 1.0


# ------------------------------------------------------------------ per-group metrics

ACC_BY_CATEGORY = hooks.per_group("acc", hooks.agg_acc, ("scene", "animal"))


def test_a_per_group_metric_logs_its_groups_docs_and_none_for_the_others():
    scene, animal = ACC_BY_CATEGORY
    record = hooks.detection_record(doc(0, "fake"), ["This is a fake image."])  # a scene doc
    assert scene.value(record) == {"label": "fake", "verdict": "fake", "detection": True, "group": "scene"}
    assert animal.value(record) is None


def test_a_per_group_metric_is_the_tasks_aggregation_on_the_groups_docs():
    per_doc = [hooks.detection_results(hooks.VERDICT_METRICS + ACC_BY_CATEGORY)(d, [a]) for d, a in [
        (doc(0, "fake"), "This is a fake image."), (doc(1, "real"), "This is a fake image."),
        ({**doc(2, "real"), "category": "animal"}, "This is a real image."),
        ({**doc(3, "real"), "category": "animal", "detection": False}, "This is a fake image."),  # outside every metric
    ]]
    assert aggregate(per_doc, "acc_scene") == pytest.approx(50.0)
    assert aggregate(per_doc, "acc_animal") == pytest.approx(100.0)


def test_a_pooled_group_metric_covers_every_real_and_the_groups_own_fakes():
    (auc_deepfakes,) = hooks.per_group("auc", hooks.agg_pooled_auc, ("Deepfakes",))
    real, ours, theirs = ({"label": label, "category": c} for label, c in
                          (("real", "original"), ("fake", "Deepfakes"), ("fake", "FaceSwap")))
    assert auc_deepfakes.name == "auc_deepfakes"
    assert [auc_deepfakes.covers(r) for r in (real, ours, theirs)] == [True, True, False]


def test_a_pooled_group_metric_without_fakes_in_the_run_is_none():
    (bacc_glide,) = hooks.per_group("bacc", hooks.agg_pooled_balanced_acc, ("GLIDE",))
    reals = [hooks.detection_record({**doc(i, "real"), "category": "original"}, ["This is a real image."]) for i in range(3)]
    assert bacc_glide.compute(reals) is None


def test_per_group_names_a_group_by_its_lower_case_letters_and_digits():
    names = [m.name for m in hooks.per_group("bacc", hooks.agg_pooled_balanced_acc, ("Taming Transformers", "DALL-E 2"))]
    assert names == ["bacc_tamingtransformers", "bacc_dalle2"]


def test_per_group_refuses_an_aggregation_that_does_not_say_what_it_reads():
    with pytest.raises(ValueError, match="@reads"):
        hooks.per_group("rubric", lambda records: None, ("doc",))


def test_the_facade_names_every_aggregation_of_the_glue_and_makes_none_on_demand():
    from fakevlm_tasks.glue import aggregations

    assert all(getattr(hooks, name, None) is fn for name, fn in vars(aggregations).items() if name.startswith("agg_"))
    assert not hasattr(hooks, "__getattr__") and not hasattr(aggregations, "__getattr__")


def test_empty_answers_and_api_failure_markers_count_as_failed_and_unknown():
    per_doc = records([
        ("This is a real image.", doc(0, "real")),
        ("", doc(1, "fake")),
        ("[LMMS_EVAL_REQUEST_FAILED after 5 retries] HTTP 500", doc(2, "fake")),
        ("I am not sure what this shows.", doc(3, "fake")),
    ])
    assert aggregate(per_doc, "failed_rate") == pytest.approx(50.0)
    assert aggregate(per_doc, "unknown_rate") == pytest.approx(75.0)  # failed + unreadable
    assert aggregate(per_doc, "acc") == pytest.approx(25.0)


def test_docs_outside_the_detection_set_feed_explanations_only():
    per_doc = records([
        ("This is a fake image.", doc(0, "fake")),
        ("This is a real image. Natural.", doc(1, "fake", "Floating chairs.", detection=False)),
    ])
    assert aggregate(per_doc, "acc") == pytest.approx(100.0)
    assert 0.0 <= aggregate(per_doc, "rouge_l") < 100.0


def test_explanation_metrics_are_not_applicable_without_references():
    per_doc = records([("This is a fake image.", doc(0, "fake"))])
    assert aggregate(per_doc, "rouge_l") is None and aggregate(per_doc, "css") is None


def test_css_reports_na_and_logs_when_its_model_cannot_load(monkeypatch):
    from loguru import logger

    monkeypatch.setenv("FAKEVLM_CSS_MODEL", "/nonexistent/embedding-model")
    per_doc = records([("This is a fake image.", doc(0, "fake", "This is a fake image."))])
    messages = []
    sink = logger.add(messages.append, level="ERROR")
    try:
        assert aggregate(per_doc, "css") is None
    finally:
        logger.remove(sink)
    assert any("FAKEVLM_CSS_MODEL" in str(m) for m in messages)


def test_doc_to_visual_names_the_doc_and_file_of_a_missing_image(tmp_path):
    with pytest.raises(FileNotFoundError, match="d7.*nothing.png"):
        hooks.doc_to_visual({"id": "d7", "image": str(tmp_path / "nothing.png")})


def test_evidence_only_rouge_leaves_the_shared_verdict_sentence_out():
    per_doc = records([("This is a fake image. The sky is purple.", doc(0, "fake", "This is a fake image. Hands have six fingers."))])
    whole, evidence = aggregate(per_doc, "rouge_l"), aggregate(per_doc, "rouge_l_evidence")
    assert whole > 40.0  # the five shared words of "This is a fake image."
    assert evidence < whole and evidence == pytest.approx(0.0)


def test_contradiction_rate_counts_evidence_that_argues_for_the_other_verdict():
    per_doc = records([
        ("This is a fake image. The lighting is natural and the photo looks authentic.", doc(0, "fake")),
        ("This is a fake image. The edges are warped and the text is garbled.", doc(1, "fake")),
        ("This is a real image.", doc(2, "real")),
        ("I cannot tell.", doc(3, "real")),  # no verdict: not counted
    ])
    assert aggregate(per_doc, "contradiction_rate") == pytest.approx(100 / 3)
