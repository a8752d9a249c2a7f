"""A reasoning model's verdict score survives lmms-eval's removal of ``<think>...</think>`` (issue 22)."""

from __future__ import annotations

import pytest
from lmms_runs import prepare, results_of, run_fakevlm, samples_of

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.sample import Answer, SampleFailure, VerdictScore, install_reasoning_tag_persistence

TAGS = [["<think>", "</think>"], ["<analysis>", "</analysis>"]]  # lmms-eval's CLI default
SCORE = VerdictScore(p_real=0.2, p_fake=0.8, step=14)


@pytest.fixture
def strip():
    from lmms_eval.api import reasoning

    install_reasoning_tag_persistence()
    return reasoning.strip_reasoning_tags


def test_the_hosts_own_stripping_drops_the_payload(strip):
    original = strip.__wrapped__  # the function lmms-eval ships, which the patch wraps
    stripped = original(Answer("<think>Even light.</think> This is a fake image.", SCORE), TAGS)
    assert stripped == "This is a fake image." and not isinstance(stripped, Answer)


@pytest.mark.parametrize("text", [
    "<think>Even light.</think> This is a fake image.",
    "Even light.</think> This is a fake image.",  # the chat template prefilled the opening tag
    "<analysis>Even light.</analysis>This is a fake image.",
])
def test_stripped_answer_keeps_its_verdict_score(strip, text):
    stripped = strip(Answer(text, SCORE), TAGS)
    assert stripped == "This is a fake image."
    assert isinstance(stripped, Answer) and stripped.verdict == SCORE


def test_stripped_answer_keeps_its_failure(strip):
    failure = SampleFailure("CUDA out of memory")
    assert strip(Answer("<think></think>", failure=failure), TAGS).failure == failure


def test_plain_text_stays_plain_text(strip):
    stripped = strip("<think>x</think> Real.", TAGS)
    assert stripped == "Real." and type(stripped) is str


def test_the_evaluator_and_the_strip_thinking_filter_call_the_wrapped_function(strip):
    import lmms_eval.evaluator as evaluator
    from lmms_eval.filters.transformation import StripThinkingFilter

    assert evaluator.strip_reasoning_tags is strip
    filtered = StripThinkingFilter().apply([[Answer("<think>a</think> Fake.", SCORE)]], None)[0][0]
    assert filtered == "Fake." and filtered.verdict == SCORE


def test_installing_twice_wraps_once(strip):
    install_reasoning_tag_persistence()
    from lmms_eval.api import reasoning

    assert reasoning.strip_reasoning_tags is strip


@pytest.mark.slow
def test_a_reasoning_model_through_the_cli_keeps_its_verdict_scores(tmp_path):
    """The tiny model answers "<think> ... </think> This is a fake image."; lmms-eval strips the block by default."""
    from fakevlm_toys.tiny_reasoning import VERDICT, build_tiny_reasoning_llava

    model = build_tiny_reasoning_llava(tmp_path / "model")
    data_root = tmp_path / "prepared"
    prepare(data_root, "dmimage", *benchmarks.module("dmimage").write_miniature(tmp_path / "dmimage"))
    out = tmp_path / "out"
    proc = run_fakevlm(model, "dmimage", out, data_root, model_args="max_new_tokens=48")
    r = results_of(out, proc)["results"]["dmimage"]
    samples = samples_of(out, "dmimage")
    assert [s["filtered_resps"].strip() for s in samples] == [VERDICT] * len(samples)  # the block was removed
    assert r["score_coverage,none"] == 100.0
    assert r["auc_avg,none"] is not None
