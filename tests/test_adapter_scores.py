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
