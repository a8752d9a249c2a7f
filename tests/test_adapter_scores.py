"""The verdict score: how the recorder reads it from the generation logits, and its arithmetic."""

from __future__ import annotations

import pytest
import torch

from fakevlm_model.verdict import VerdictRecorder
from fakevlm_tasks.glue.sample import VerdictScore


def test_real_score_normalises_the_two_words_and_is_half_when_both_are_zero():
    assert VerdictScore(p_real=0.3, p_fake=0.1, step=0).real_score == pytest.approx(0.75)
    assert VerdictScore(p_real=0.3, p_fake=0.1, step=0).fake_score == pytest.approx(0.25)
    assert VerdictScore(p_real=0.0, p_fake=0.0, step=None, found=False).real_score == 0.5


def test_recorder_scores_the_first_verdict_token_of_each_row():
    real, fake = [5], [6]
    recorder = VerdictRecorder(real, fake)
    steps = [torch.tensor([[0.0] * 5 + [1.0, 2.0], [0.0] * 7]), torch.tensor([[0.0] * 7, [0.0] * 5 + [3.0, 0.0]])]
    for logits in steps:
        recorder(torch.zeros(2, 1, dtype=torch.long), logits)
    generated = torch.tensor([[6, 1], [1, 5]])
    first, second = recorder.scores_for(generated)
    assert isinstance(first, VerdictScore)  # the type the tasks read off the answer
    assert (first.step, second.step) == (0, 1)
    expected = torch.softmax(steps[0][0], -1)
    assert first.p_real == pytest.approx(float(expected[5]))
    assert first.p_fake == pytest.approx(float(expected[6]))


def test_recorder_falls_back_to_the_step_with_most_verdict_mass_when_no_verdict_was_generated():
    recorder = VerdictRecorder([5], [6])
    for logits in (torch.zeros(1, 7), torch.tensor([[0.0] * 5 + [4.0, 4.0]])):
        recorder(torch.zeros(1, 1, dtype=torch.long), logits)
    (score,) = recorder.scores_for(torch.tensor([[1, 2]]))
    assert not score.found and score.step is None
    assert score.p_real == pytest.approx(score.p_fake) and score.p_real > 0.4


def test_recorder_gives_no_score_when_nothing_was_generated():
    assert VerdictRecorder([5], [6]).scores_for(torch.zeros(2, 0, dtype=torch.long)) == [None, None]


def test_recorder_scores_the_first_verdict_token_at_or_after_each_rows_start():
    recorder = VerdictRecorder([5], [6])
    for _ in range(4):
        recorder(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 7))
    generated = torch.tensor([[5, 1, 6, 2]])  # "real" in the reasoning, "fake" in the answer
    assert recorder.scores_for(generated)[0].step == 0
    assert recorder.scores_for(generated, [2])[0].step == 2
    assert not recorder.scores_for(generated, [3])[0].found


@pytest.mark.parametrize("text, verdict_word", [
    ("<think>The fur looks real to me. Hmm.</think> This is a fake image.", "fake"),
    ("The fur looks fake.</think>This is a real image.", "real"),  # the chat template opened the block
    ("This is a real image. The fur is even.", "real"),  # no reasoning: the first verdict word
    ("<think>It might be real, or fake", "real"),  # cut off mid-thought: it is all there is
])
def test_the_score_is_read_at_the_verdict_after_the_reasoning_block(tiny_llava, text, verdict_word):
    from transformers import AutoTokenizer

    from fakevlm_model.verdict import answer_token_start, verdict_token_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_llava)
    real, fake = verdict_token_ids(tokenizer)
    tokens = tokenizer.encode(text, add_special_tokens=False)
    decoded = tokenizer.decode(tokens, skip_special_tokens=True)
    start = answer_token_start(tokenizer, tokens, decoded)
    first = next(i for i, t in enumerate(tokens) if i >= start and t in real + fake)
    assert tokenizer.decode([tokens[first]]).strip().lower() == verdict_word
    assert (start > 0) == ("</think>" in text)  # the reasoning is skipped only where it was closed
