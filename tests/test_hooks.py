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
    return getattr(hooks, f"agg_{metric}")([r[metric] for r in per_doc])


def test_text_reaches_only_the_explanation_metrics():
    out = process_results(doc(0, "fake", "This is a fake image. Seams."), ["This is a fake image. Blur."])
    assert out["rouge_l"]["prediction"] == "This is a fake image. Blur." and out["css"]["reference"] == "This is a fake image. Seams."
    assert all("prediction" not in out[m] for m in hooks.DETECTION_METRICS if m not in hooks.EXPLANATION_METRICS)
    assert out["acc"]["verdict"] == "fake"


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
