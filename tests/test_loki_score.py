"""LOKI's scoring rules (fakevlm_tasks/tasks/loki/score.py): its yes/no reading, its per-category score by hand,
and the one weighted kernel serving both the tasks' aggregation and the leaderboard's bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.report import uncertainty
from fakevlm_tasks.scoring import stats
from fakevlm_tasks.scoring.parsing import FAKE, REAL
from fakevlm_tasks.tasks.loki.score import loki_score, weighted_score, yes_no


@pytest.mark.parametrize("text, expected", [
    ("Yes, it is.", "yes"), ("no", "no"), ("  NO.", "no"), ("This is a fake image.", "other"), ("", "other"),
    ("Y", "yes"), ("n.", "no"), ("x", "other"), ("N.o.", "no"), ("y.e.s.", "yes"), ("nope", "no"), ("Yes and no", "yes"),
])
def test_loki_reads_answers_as_lokis_own_scoring_does(text, expected):
    assert yes_no(text) == expected


def test_loki_score_weights_each_category_by_its_fake_questions_by_hand():
    # cat A: 2 fake questions (1 right), 2 real (2 right) -> bal 0.75, weight 2
    # cat B: 4 fake questions (4 right), no real question -> bal = fake acc 1.0, weight 4
    # cat C: real questions only -> not counted
    labels = [FAKE, FAKE, REAL, REAL] + [FAKE] * 4 + [REAL, REAL]
    correct = [True, False, True, True] + [True] * 4 + [False, False]
    cats = ["A"] * 4 + ["B"] * 4 + ["C"] * 2
    assert loki_score(labels, correct, cats) == pytest.approx((2 * 0.75 + 4 * 1.0) / 6)
    # The global (real acc + fake acc) / 2 would say (5/6 + 2/4) / 2 = 0.667: a different number.
    assert loki_score(labels, correct, cats) != pytest.approx((5 / 6 + 2 / 4) / 2)


def test_loki_score_uses_the_one_real_category_for_every_category_as_lokis_code_does():
    # cat A: 2 fake questions (1 right), 2 real (2 right); cat B: 4 fake (2 right), no real.
    # Real questions in one category only: its real accuracy (1.0) stands for B's too.
    labels = [FAKE, FAKE, REAL, REAL] + [FAKE] * 4
    correct = [True, False, True, True] + [True, True, False, False]
    cats = ["A"] * 4 + ["B"] * 4
    assert loki_score(labels, correct, cats) == pytest.approx((2 * (0.5 + 1.0) / 2 + 4 * (0.5 + 1.0) / 2) / 6)
    # With a second category of real questions, B again stands on its fake accuracy alone.
    labels2, correct2, cats2 = labels + [REAL], correct + [False], cats + ["C"]
    assert loki_score(labels2, correct2, cats2) == pytest.approx((2 * 0.75 + 4 * 0.5) / 6)


def test_loki_score_of_single_letter_and_full_stop_answers_by_hand():
    # (image label, category, LOKI's answer, the model's reply)
    questions = [
        (FAKE, "doc", "yes", "Y"),         # one letter: yes -> right
        (FAKE, "doc", "no", "N."),         # full stop removed, then one letter: no -> right
        (FAKE, "doc", "yes", ". y"),       # stripped before the dots go: " y" is two characters -> other, wrong
        (REAL, "doc", "no", "No."),        # right
        (REAL, "doc", "yes", "y.e.s"),     # "yes" -> right
        (FAKE, "animals", "yes", "Eyes"),  # "yes" within the first four characters -> right
        (FAKE, "animals", "no", "None"),   # "no" within the first four -> right
        (REAL, "animals", "yes", "I think yes"),  # neither in "i th" -> other, wrong
    ]
    readings = [yes_no(reply) for *_, reply in questions]
    assert readings == ["yes", "no", "other", "no", "yes", "yes", "no", "other"]
    correct = [r == answer for r, (_, _, answer, _) in zip(readings, questions)]
    # doc: fake 2/3, real 2/2 -> (2/3 + 1) / 2, weight 3; animals: fake 2/2, real 0/1 -> 1/2, weight 2.
    expected = (3 * (2 / 3 + 1) / 2 + 2 * (1 + 0) / 2) / 5
    assert loki_score([q[0] for q in questions], correct, [q[1] for q in questions]) == pytest.approx(expected)


def test_loki_score_without_a_question_on_a_fake_image_is_nan_and_bad_labels_are_refused():
    assert np.isnan(loki_score([REAL, REAL], [True, False], ["doc", "doc"]))
    with pytest.raises(ValueError, match="labels must be"):
        loki_score(["unknown"], [True], ["doc"])
    with pytest.raises(ValueError, match="differ in length"):
        loki_score([FAKE], [True, False], ["doc"])


def test_a_weight_counts_as_that_many_copies_of_the_question():
    labels = [FAKE, FAKE, REAL, FAKE, REAL]
    correct = [True, False, True, True, False]
    cats = ["doc", "doc", "doc", "person", "person"]
    weights = np.array([[2.0], [0.0], [1.0], [3.0], [1.0]])
    copies = [i for i, w in enumerate(weights[:, 0]) for _ in range(int(w))]
    by_copies = loki_score([labels[i] for i in copies], [correct[i] for i in copies], [cats[i] for i in copies])
    fake, hit = np.array([x == FAKE for x in labels]), np.array(correct)
    assert weighted_score(weights, fake, hit, cats)[0] == pytest.approx(by_copies)


def _questions(n=200, seed=5):
    rng = np.random.default_rng(seed)
    labels = rng.choice([REAL, FAKE], n)
    cats = rng.choice(["doc", "person", "satellite"], n)
    cats[(labels == REAL) & (cats == "satellite")] = "doc"  # a category with no real question
    return labels, cats, rng.random(n) < 0.7


def test_the_benchmarks_statistics_kernel_gives_the_tasks_score_as_its_point():
    labels, cats, hits = _questions()
    d = stats.per_doc(labels, hits=hits, categories=cats, clusters=np.arange(200) // 2)
    kernels = benchmarks.get("loki").statistics
    assert stats.point(d, "loki_score", kernels) == pytest.approx(loki_score(list(labels), list(hits), list(cats)))
    assert stats.point(d, "acc", kernels) == pytest.approx(hits.mean())  # the generic kernels stay beside it


def test_the_kernel_takes_the_one_real_category_branch_on_a_subset_as_the_score_does():
    labels, cats, hits = _questions()
    one_real = (labels == FAKE) | (cats == "person")  # the real questions of a --limit run may share a category
    labels, cats, hits = labels[one_real], cats[one_real], hits[one_real]
    d = stats.per_doc(labels, hits=hits, categories=cats)
    kernels = benchmarks.get("loki").statistics
    assert stats.point(d, "loki_score", kernels) == pytest.approx(loki_score(list(labels), list(hits), list(cats)))


def test_loki_score_gets_an_interval_on_loki_tasks_only_by_their_declaration():
    assert "loki_score" not in stats.METRICS
    assert "loki_score" in uncertainty.kernels("loki_judgment") and "loki_score" in uncertainty.kernels("loki_mc")
    assert "loki_score" not in uncertainty.kernels("fakeclue") and "loki_score" not in uncertainty.kernels(None)
    labels, cats, hits = _questions()
    d = stats.per_doc(labels, hits=hits, categories=cats, clusters=np.arange(200) // 2)
    iv = stats.intervals(d, ["loki_score"], n_resamples=200, seed=0, kernels=uncertainty.kernels("loki_judgment"))
    assert iv["loki_score"].low < iv["loki_score"].value < iv["loki_score"].high and iv["loki_score"].n_clusters == 100


def test_two_models_are_compared_on_loki_score_with_the_declared_kernel():
    labels, cats, hits = _questions()
    other = np.random.default_rng(9).random(200) < 0.5
    a = stats.per_doc(labels, hits=hits, categories=cats, clusters=np.arange(200) // 2)
    b = stats.per_doc(labels, hits=other, categories=cats, clusters=np.arange(200) // 2)
    (c,) = stats.compare(a, b, ["loki_score"], n_resamples=200, seed=0, kernels=uncertainty.kernels("loki_judgment")).values()
    assert c.a == pytest.approx(loki_score(list(labels), list(hits), list(cats)))
    assert c.b == pytest.approx(loki_score(list(labels), list(other), list(cats)))
    assert c.low < c.diff < c.high and "paired bootstrap over clusters" in c.test
