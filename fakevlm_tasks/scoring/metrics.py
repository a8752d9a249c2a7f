"""Scores over plain lists: detection metrics on real/fake verdicts, ROUGE-L and CSS on explanations.

No I/O and no lmms-eval import; every value is a fraction (the lmms-eval glue reports x100).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from fakevlm_tasks.scoring.parsing import FAKE, REAL, UNKNOWN

LABELS = (REAL, FAKE)

# --------------------------------------------------------------------------- validation


def _as_list(values, name: str) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise ValueError(f"{name} must be a sequence (list, tuple, array), got {type(values).__name__}")
    return list(values)


def _check_lengths(**named) -> int:
    lengths = {name: len(values) for name, values in named.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"lengths differ: {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"no samples: {', '.join(named)} are empty")
    return n


def _check_classes(values, name: str, allowed: tuple[str, ...]) -> np.ndarray:
    for i, value in enumerate(values):
        if not isinstance(value, str) or value not in allowed:
            hint = " (FakeClue's label 1 = real, 0 = fake: convert it first)" if not isinstance(value, str) else ""
            raise ValueError(f"{name}[{i}] = {value!r}: expected one of {allowed}{hint}")
    return np.asarray(values, dtype=object)


def _check_positive(positive) -> str:
    if positive not in LABELS:
        raise ValueError(f"positive must be {REAL!r} or {FAKE!r}, got {positive!r}")
    return positive


# --------------------------------------------------------------------------- weighted kernels
# The one implementation of each detection metric. ``W`` is (n, B): a column of doc weights
# per bootstrap resample (scoring.stats), or a single column of ones for the value itself;
# the boolean masks are per doc. Each kernel returns B values, nan where undefined.


def unit_weights(n: int) -> np.ndarray:
    """The docs as they are: one column, every doc weighing 1."""
    return np.ones((n, 1))


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den element-wise, nan where den is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def weighted_count(W: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per column, the total weight of the docs in ``mask``."""
    return mask.astype(W.dtype) @ W


def weighted_mean(W: np.ndarray, values: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Per column, the weighted mean of ``values`` over ``docs`` (a share when ``values`` is boolean)."""
    return ratio(np.where(docs, values, 0.0).astype(W.dtype) @ W, weighted_count(W, docs))


def weighted_f1(W: np.ndarray, hit: np.ndarray, positive: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Binary F1 over ``docs`` with ``positive`` docs the positive class; every miss is a FN or a FP.

    A wrong doc (``~hit``, an unknown verdict included) is a false negative if positive and a
    false positive otherwise, so 2TP + FP + FN = 2TP + wrong.
    """
    tp = weighted_count(W, docs & hit & positive)
    return ratio(2 * tp, 2 * tp + weighted_count(W, docs & ~hit))


def weighted_precision(W: np.ndarray, hit: np.ndarray, positive: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """TP / (TP + FP): a FP is a wrong doc of the negative class."""
    tp = weighted_count(W, docs & hit & positive)
    return ratio(tp, tp + weighted_count(W, docs & ~hit & ~positive))


def weighted_balanced_accuracy(W: np.ndarray, hit: np.ndarray, real: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """(accuracy on the real docs + accuracy on the fake docs) / 2; nan when a class has no weight."""
    return (weighted_mean(W, hit, docs & real) + weighted_mean(W, hit, docs & ~real)) / 2


def nanmean_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Mean of the arrays ignoring nan; nan where none has a value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan is nan, as intended
        return np.nanmean(np.stack(rows), axis=0)


# --------------------------------------------------------------------------- detection


def detection_metrics(labels, verdicts, scores=None, *, positive: str = REAL) -> dict:
    """Accuracy, F1 and friends for real/fake verdicts against real/fake labels.

    Conventions:
      - ``labels`` hold "real"/"fake"; ``verdicts`` also "unknown". An unknown verdict
        is scored as the wrong answer for its sample in every metric: it lowers accuracy,
        and counts as a false negative (label = positive class) or a false positive
        (label = negative class) in F1, so each score is a lower bound.
      - ``f1``, ``precision`` and ``recall`` take ``positive`` as the positive class:
        REAL by default, the paper's convention (sklearn's pos_label=1 on FakeClue's
        1 = real). ``f1_real``/``f1_fake`` fix it; ``f1_macro`` is their mean.
      - ``scores`` (optional) are continuous P(positive) per sample; they add ``auc``
        (see :func:`roc_auc`).
      - A one-class subset: ``acc_<absent class>`` is nan; ``balanced_accuracy`` is nan
        (:func:`balanced_accuracy`: it needs both classes); an F1 whose
        positive class is absent is 0.0 if that class was ever predicted (every such
        prediction is a false positive) and nan if never (0/0); ``f1_macro`` averages
        the F1s that are defined; ``auc`` is nan. The paper's per-subset F1 (Table 3) is
        the F1 with the subset's own class positive: ``f1_real`` on reals, ``f1_fake``
        on fakes.

    Returns a dict of fractions in [0, 1] (or nan) plus the counts ``n``, ``n_real``,
    ``n_fake``, ``n_unknown`` and ``positive_class``. Empty or mismatched inputs and
    unexpected label strings raise ValueError. The values are the weighted kernels above
    at unit weight, the same code the bootstrap runs.
    """
    positive = _check_positive(positive)
    labels, verdicts = _as_list(labels, "labels"), _as_list(verdicts, "verdicts")
    if scores is not None:
        scores = _as_list(scores, "scores")
        n = _check_lengths(labels=labels, verdicts=verdicts, scores=scores)
    else:
        n = _check_lengths(labels=labels, verdicts=verdicts)
    y = _check_classes(labels, "labels", LABELS)
    v = _check_classes(verdicts, "verdicts", (REAL, FAKE, UNKNOWN))

    W, docs, hit, real = unit_weights(n), np.ones(n, bool), v == y, y == REAL
    is_positive = real if positive == REAL else ~real
    f1 = {REAL: weighted_f1(W, hit, real, docs), FAKE: weighted_f1(W, hit, ~real, docs)}
    fractions = {
        "accuracy": weighted_mean(W, hit, docs),
        "precision": weighted_precision(W, hit, is_positive, docs),
        "recall": weighted_mean(W, hit, docs & is_positive),
        "f1": f1[positive],
        "f1_real": f1[REAL],
        "f1_fake": f1[FAKE],
        "f1_macro": nanmean_rows([f1[REAL], f1[FAKE]]),
        "acc_real": weighted_mean(W, hit, docs & real),
        "acc_fake": weighted_mean(W, hit, docs & ~real),
        "balanced_accuracy": weighted_balanced_accuracy(W, hit, real, docs),
        "unknown_rate": weighted_mean(W, v == UNKNOWN, docs),
    }
    result = {
        "n": n,
        "n_real": int(real.sum()),
        "n_fake": int((~real).sum()),
        "n_unknown": int((v == UNKNOWN).sum()),
        "positive_class": positive,
        **{name: float(column[0]) for name, column in fractions.items()},
    }
    if scores is not None:
        result["auc"] = roc_auc(labels, scores, positive=positive)
    return result


def roc_auc(labels, scores, *, positive: str = REAL, allow_binary: bool = False) -> float:
    """Area under the ROC curve of continuous ``scores``, higher = more likely ``positive`` (scikit-learn's).

    A score is P(positive) or anything monotone in it (a logit, the log-odds of the
    "real" and "fake" tokens): the AUC depends on the ranking only.

    Hard verdicts are not scores: strings, booleans, and any input whose values are all
    0 or 1 are refused with ValueError (an AUC from 0/1 predictions is a rescaled
    balanced accuracy, not what the paper's Table 5 reports). ``allow_binary=True``
    accepts the 0/1 case for genuinely saturated probabilities. Scores must be finite.
    Ties count one half (the Mann-Whitney statistic). With one class only, the AUC is
    undefined and nan is returned.
    """
    from sklearn.metrics import roc_auc_score

    positive = _check_positive(positive)
    labels, scores = _as_list(labels, "labels"), _as_list(scores, "scores")
    _check_lengths(labels=labels, scores=scores)
    y = _check_classes(labels, "labels", LABELS)
    for i, score in enumerate(scores):
        if isinstance(score, (str, bool, np.bool_)) or not isinstance(score, (int, float, np.number)):
            raise ValueError(  # noqa: TRY004 - one exception type for every bad input here
                f"scores[{i}] = {score!r}: AUC needs continuous scores (P({positive})), "
                "not verdicts; read them from the model's token probabilities"
            )
    s = np.asarray(scores, dtype=float)
    if not np.isfinite(s).all():
        raise ValueError(f"scores must be finite; scores[{int(np.argmin(np.isfinite(s)))}] is not")
    if not allow_binary and set(np.unique(s)) <= {0.0, 1.0}:
        raise ValueError(
            "scores are all 0 or 1: these look like hard verdicts, and an AUC from verdicts is "
            "not an AUC. Pass continuous P(positive); if these really are saturated "
            "probabilities, pass allow_binary=True"
        )
    is_positive = y == positive
    if is_positive.all() or not is_positive.any():
        return math.nan
    return float(roc_auc_score(is_positive, s))


def grouped_detection_metrics(labels, verdicts, groups, scores=None, **kw) -> dict[str, dict]:
    """:func:`detection_metrics` per group (category, generator, manipulation ...).

    ``groups`` holds one key per sample; keys become strings. Returns {group: metrics},
    sorted by group. Inputs are validated as a whole first, so an error names the
    sample's index in the full list. A group with one class follows the one-class
    conventions of :func:`detection_metrics`.
    """
    labels, verdicts, groups = (_as_list(x, name) for x, name in
                                ((labels, "labels"), (verdicts, "verdicts"), (groups, "groups")))
    named = {"labels": labels, "verdicts": verdicts, "groups": groups}
    if scores is not None:
        named["scores"] = scores = _as_list(scores, "scores")
    _check_lengths(**named)
    _check_classes(labels, "labels", LABELS)
    _check_classes(verdicts, "verdicts", (REAL, FAKE, UNKNOWN))

    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(str(group), []).append(i)
    return {
        group: detection_metrics(
            [labels[i] for i in idx], [verdicts[i] for i in idx],
            None if scores is None else [scores[i] for i in idx], **kw,
        )
        for group, idx in sorted(members.items())
    }


# --------------------------------------------------------------------------- groups and clusters


def balanced_accuracy(labels, verdicts) -> float:
    """(accuracy on real samples + accuracy on fake samples) / 2; an unknown verdict is wrong.

    The one definition this project uses (DMimage's per-family score, Corvi et al.; the
    ``balanced_accuracy`` of :func:`detection_metrics`). Undefined, nan, when either class
    is absent: a one-class subset has no balanced accuracy. (LOKI's own score has its own
    one-class rule: ``fakevlm_tasks/tasks/loki/score.py``.)
    """
    labels, verdicts = _as_list(labels, "labels"), _as_list(verdicts, "verdicts")
    _check_lengths(labels=labels, verdicts=verdicts)
    y = _check_classes(labels, "labels", LABELS)
    v = _check_classes(verdicts, "verdicts", (REAL, FAKE, UNKNOWN))
    return float(weighted_balanced_accuracy(unit_weights(len(y)), v == y, y == REAL, np.ones(len(y), bool))[0])


def pooled_mask(labels, groups, group) -> np.ndarray:
    """Which samples form ``group`` pooled with every real sample: all reals plus the fakes of ``group``.

    How FF++ (Table 5: each manipulation against all originals) and DMimage (Corvi et
    al.: each generator family against all real images) score a group of fakes; the real
    samples' own group is ignored.
    """
    y = np.asarray(_as_list(labels, "labels"), dtype=object)
    g = np.asarray([str(x) for x in _as_list(groups, "groups")], dtype=object)
    _check_lengths(labels=y, groups=g)
    return (y == REAL) | ((y == FAKE) & (g == str(group)))


def fake_groups(labels, groups, order=()) -> list[str]:
    """The groups that have fake samples: those named in ``order`` first (in that order), then the rest sorted."""
    present = {str(g) for lab, g in zip(labels, groups) if lab == FAKE}
    return [g for g in order if g in present] + sorted(present - set(order))


def per_cluster_mean(labels, clusters, scores) -> tuple[list[str], list[float]]:
    """One (label, mean score) per cluster (the frames of one video, say), in first-seen order.

    A cluster must have one label (ValueError otherwise). Every score must be a number:
    the caller decides what to do about unscored samples before averaging.
    """
    labels, clusters, scores = _as_list(labels, "labels"), _as_list(clusters, "clusters"), _as_list(scores, "scores")
    _check_lengths(labels=labels, clusters=clusters, scores=scores)
    members: dict[object, list[int]] = {}
    for i, c in enumerate(clusters):
        members.setdefault(c, []).append(i)
    out_labels, out_scores = [], []
    for c, idx in members.items():
        cluster_labels = {labels[i] for i in idx}
        if len(cluster_labels) != 1:
            raise ValueError(f"cluster {c!r} mixes labels {sorted(cluster_labels)}")
        out_labels.append(labels[idx[0]])
        out_scores.append(float(np.mean([float(scores[i]) for i in idx])))
    return out_labels, out_scores


# --------------------------------------------------------------------------- verdict scores

#: Bound for infinite log-odds (a probability that underflowed to 0), so AUC stays computable.
MAX_LOG_ODDS = 1e6


def bounded(x: float) -> float:
    return max(-MAX_LOG_ODDS, min(MAX_LOG_ODDS, x))


def log_odds_from_loglikelihoods(real: float, fake: float) -> float | None:
    """log P(real) - log P(fake) at the verdict position, from the two continuations' values.

    Adapters follow one of two conventions and the sign tells which: lmms-eval's own
    (``llava_hf``, ...) return the *mean loss* of the continuation (>= 0, lower is
    likelier); others (``fakevlm``) its *summed log-likelihood* (<= 0, higher is likelier).
    With summed log-likelihoods a shared prefix ("This is a") cancels and the difference
    is the verdict token's log-odds; with mean losses it is that difference divided by the
    continuation's token count, the same for every doc, so rankings and AUC are unchanged.
    None when there is nothing to read: NaN, mixed signs, or both -inf (a sample the adapter
    could not score).
    """
    if math.isnan(real) or math.isnan(fake):
        return None
    if real <= 0 and fake <= 0:
        if real == fake == float("-inf"):
            return None
        return bounded(real - fake)
    if real >= 0 and fake >= 0:
        if real == fake == float("inf"):
            return None
        return bounded(fake - real)
    return None


def p_real_from_log_odds(log_odds: float | None) -> float | None:
    """P(real) / (P(real) + P(fake)) from log-odds, without overflow; None stays None."""
    if log_odds is None:
        return None
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    return math.exp(log_odds) / (1.0 + math.exp(log_odds))


def verdict_from_log_odds(log_odds: float | None) -> str:
    """The likelier verdict; unknown when unscored or exactly even."""
    if log_odds is None or log_odds == 0:
        return UNKNOWN
    return REAL if log_odds > 0 else FAKE


# --------------------------------------------------------------------------- explanations

#: ROUGE-L as this project computes it, in one place. rouge-score's "rougeL" (the LCS of
#: the whole text, no sentence splitting; not "rougeLsum"), F-measure, its default
#: tokeniser (lower-case, every run of characters outside [a-z0-9] is a separator, so
#: non-Latin text has no tokens) and the Porter stemmer on words longer than 3 letters.
#: Override per call: ``rouge_l(p, r, use_stemmer=False)``, or pass ``tokenizer=`` (an
#: object with ``tokenize(text) -> list[str]``, as rouge-score accepts).
ROUGE_L_OPTIONS = {"use_stemmer": True, "tokenizer": None}



def _check_texts(predictions, references) -> tuple[list[str], list[list[str]]]:
    """Predictions: str, or None for a missing answer (scores 0). References: a str or a
    non-empty list of str per sample (several annotators)."""
    predictions, references = _as_list(predictions, "predictions"), _as_list(references, "references")
    _check_lengths(predictions=predictions, references=references)
    preds = []
    for i, p in enumerate(predictions):
        if p is not None and not isinstance(p, str):
            raise ValueError(f"predictions[{i}] = {p!r}: expected a string (or None for no answer)")
        preds.append(p or "")
    refs = []
    for i, r in enumerate(references):
        options = [r] if isinstance(r, str) else r
        if (not isinstance(options, (list, tuple)) or not options
                or not all(isinstance(o, str) for o in options)):
            raise ValueError(
                f"references[{i}] = {r!r}: expected a string or a non-empty list of strings; "
                "leave samples without a reference explanation out"
            )
        refs.append(list(options))
    return preds, refs


def rouge_l(predictions, references, **options) -> list[float]:
    """Per-sample ROUGE-L F-measure in [0, 1], with :data:`ROUGE_L_OPTIONS` (overridable).

    A reference may be a list of strings (several annotators): the sample scores its
    best match, the max over references. An empty or None prediction, or an empty
    reference, scores 0.0. Empty or mismatched inputs raise ValueError.
    """
    unknown = set(options) - set(ROUGE_L_OPTIONS)
    if unknown:
        raise ValueError(f"unknown ROUGE-L options {sorted(unknown)}; known: {sorted(ROUGE_L_OPTIONS)}")
    settings = {**ROUGE_L_OPTIONS, **options}
    preds, refs = _check_texts(predictions, references)
    scorer = _rouge_scorer(bool(settings["use_stemmer"]), settings["tokenizer"])
    return [max(float(scorer.score(ref, pred)["rougeL"].fmeasure) for ref in options)
            for pred, options in zip(preds, refs)]


def _rouge_scorer(use_stemmer: bool, tokenizer):
    from rouge_score import rouge_scorer

    if tokenizer is None and use_stemmer:
        tokenizer = _cached_stem_tokenizer()
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer, tokenizer=tokenizer)


@functools.cache
def _cached_stem_tokenizer():
    """rouge-score's own tokenisation and Porter stemmer, with each word's stem memoised:
    identical tokens, several times faster on thousands of similar explanations."""
    from nltk.stem import porter
    from rouge_score import tokenize, tokenizers

    stem = functools.lru_cache(maxsize=1 << 16)(porter.PorterStemmer().stem)

    class _Stemmer:
        @staticmethod
        def stem(word):
            return stem(word)

    class CachedStemTokenizer(tokenizers.Tokenizer):
        def tokenize(self, text):
            return tokenize.tokenize(text, _Stemmer)

    return CachedStemTokenizer()


def css(predictions, references, *, model, reference_model=None) -> list[float]:
    """Per-sample cosine similarity of prediction and reference embeddings, in [-1, 1].

    ``model`` encodes the predictions, and the references too unless ``reference_model`` is
    given: an object with ``encode(texts) -> (n, d) array`` (a sentence-transformers model,
    :class:`fakevlm_tasks.services.embeddings.Encoder`) or a callable ``texts -> (n, d) array``, one row
    per text in order. Each distinct non-empty text is encoded once. Embeddings are
    L2-normalised here, so it does not matter whether the encoder normalises.

    A list of references (several annotators) scores the best match (max cosine). An
    empty or None prediction, or an empty reference, scores 0.0 rather than whatever
    the embedding of "" happens to be. Empty or mismatched inputs raise ValueError.
    """
    preds, refs = _check_texts(predictions, references)
    pred_texts = sorted({t for t in preds if t})
    ref_texts = sorted({t for options in refs for t in options if t})
    pred_vectors = _embed(model, pred_texts)
    ref_vectors = _embed(reference_model or model, ref_texts)
    pred_row = {t: i for i, t in enumerate(pred_texts)}
    ref_row = {t: i for i, t in enumerate(ref_texts)}

    scores = []
    for pred, options in zip(preds, refs):
        rows = [ref_row[o] for o in options if o]
        if not pred or not rows:
            scores.append(0.0)
            continue
        cosines = ref_vectors[rows] @ pred_vectors[pred_row[pred]]
        scores.append(float(np.clip(cosines.max(), -1.0, 1.0)))
    return scores


def _embed(encoder, texts: list[str]) -> np.ndarray:
    """Unit-length rows (a zero vector stays zero) for ``texts``; nothing is encoded for none."""
    from sklearn.preprocessing import normalize

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    encode = encoder.encode if hasattr(encoder, "encode") else encoder
    vectors = np.asarray(encode(texts), dtype=np.float32)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"the CSS encoder returned {vectors.shape[0]} embeddings for {len(texts)} texts")
    return normalize(vectors)
