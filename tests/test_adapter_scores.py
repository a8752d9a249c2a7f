"""The adapter's side-result registry (fakevlm_tasks.scores) and the verdict-score arithmetic."""

from __future__ import annotations

import threading

import pytest
import torch

from fakevlm_tasks import scores
from fakevlm_model.verdict import VerdictRecorder


@pytest.fixture(autouse=True)
def _empty_registry():
    scores.clear()
    yield
    scores.clear()


def test_a_published_score_is_found_by_task_and_key_compared_as_strings():
    scores.publish_score("fakeclue", 7, scores.VerdictScore(p_real=0.2, p_fake=0.6, step=4))
    assert scores.get_score("fakeclue", "7").p_fake == 0.6
    assert scores.get_score("loki", 7) is None


def test_reading_a_score_does_not_remove_it():
    scores.publish_score("t", "a", scores.VerdictScore(0.1, 0.3, 2))
    assert scores.get_score("t", "a") == scores.get_score("t", "a")


def test_real_score_normalises_the_two_words_and_is_half_when_both_are_zero():
    assert scores.VerdictScore(p_real=0.3, p_fake=0.1, step=0).real_score == pytest.approx(0.75)
    assert scores.VerdictScore(p_real=0.3, p_fake=0.1, step=0).fake_score == pytest.approx(0.25)
    assert scores.VerdictScore(p_real=0.0, p_fake=0.0, step=None, found=False).real_score == 0.5


def test_failures_are_counted_per_task_and_in_total():
    scores.record_failure("t1", "a", "corrupt image: x")
    scores.record_failure("t1", "b", "empty prompt")
    scores.record_failure("t2", "a", "generation yielded no text")
    assert scores.failure_count("t1") == 2
    assert scores.failure_count() == 3
    assert scores.get_failure("t2", "a").reason == "generation yielded no text"


def test_the_latest_outcome_of_a_sample_wins():
    scores.record_failure("t", "a", "CUDA out of memory")
    scores.publish_score("t", "a", scores.VerdictScore(0.5, 0.5, 1))
    assert scores.get_failure("t", "a") is None
    scores.record_failure("t", "a", "empty prompt")
    assert scores.get_score("t", "a") is None


def test_clear_forgets_one_task_only():
    scores.record_failure("t1", "a", "x")
    scores.record_failure("t2", "a", "x")
    scores.clear("t1")
    assert scores.failure_count() == 1


def test_concurrent_writers_lose_nothing():
    def write(worker):
        for i in range(200):
            scores.publish_score("t", f"{worker}-{i}", scores.VerdictScore(0.5, 0.5, 0))
            scores.record_failure("u", f"{worker}-{i}", "x")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert scores.failure_count("u") == 1600
    assert all(scores.get_score("t", f"{w}-{i}") for w in range(8) for i in range(200))


def test_recorder_scores_the_first_verdict_token_of_each_row():
    real, fake = [5], [6]
    recorder = VerdictRecorder(real, fake)
    steps = [torch.tensor([[0.0] * 5 + [1.0, 2.0], [0.0] * 7]), torch.tensor([[0.0] * 7, [0.0] * 5 + [3.0, 0.0]])]
    for logits in steps:
        recorder(torch.zeros(2, 1, dtype=torch.long), logits)
    generated = torch.tensor([[6, 1], [1, 5]])
    first, second = recorder.scores_for(generated)
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
