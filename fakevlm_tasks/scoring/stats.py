"""Uncertainty and significance over per-doc scores: bootstrap intervals, paired tests, calibration.

Pure numpy / scipy / statsmodels over arrays (no I/O, no lmms-eval); values are fractions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from scipy import sparse, special

from fakevlm_tasks.scoring.metrics import (
    nanmean_rows,
    ratio,
    weighted_balanced_accuracy,
    weighted_count,
    weighted_f1,
    weighted_mean,
)


#: Conventions shared by every interval and test here.
CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
#: Equal-width bins of P(real) over [0, 1] for ECE and the reliability diagram.
ECE_BINS = 10
#: False-positive rates (reals flagged as fake) at which TPR is quoted.
FPR_POINTS = {"tpr_at_fpr_1": 0.01, "tpr_at_fpr_5": 0.05}
#: Resampled weights are built this many matrix cells at a time (bounds memory).
_CHUNK_CELLS = 2_000_000
#: Up to this many docs (clusters) a paired comparison's p comes from the exact permutation test over all 2^n
#: swaps: the bootstrap and DeLong's normal approximation need more, and 2^12 swaps are still quick.
EXACT_PERMUTATION_MAX = 12
#: Metrics that are a share of docs answered right: at 0% or 100% their interval is Clopper-Pearson's.
PROPORTIONS = ("acc", "real_acc", "fake_acc")

REAL, FAKE, UNKNOWN = "real", "fake", "unknown"


# ------------------------------------------------------------------------ per-doc data


@dataclass(frozen=True)
class PerDoc:
    """One model's per-doc results on one task; index i is the same doc in every array.

    ``verdict``: 1 real, 0 fake, -1 unknown (scored wrong); ``has_verdict`` False when the
    docs carry none (yes/no judgments, multiple choice). ``hit``: the doc's answer is right (by
    default, its verdict equals its label). ``detection``: the doc counts in the
    detection metrics. ``log_odds``: log P(real) - log P(fake), nan where the model gave
    no score. ``rouge_l`` / ``css``: per-doc scores in [0, 1] / [-1, 1], nan where the doc
    has no reference (or CSS was not computed). ``cluster``: integer codes 0..k-1; docs
    sharing a code are resampled together. Build it with :func:`per_doc`.
    """

    label_real: np.ndarray
    verdict: np.ndarray
    has_verdict: bool
    hit: np.ndarray
    detection: np.ndarray
    category: np.ndarray
    log_odds: np.ndarray
    rouge_l: np.ndarray
    css: np.ndarray
    cluster: np.ndarray
    clustered: bool

    @property
    def n(self) -> int:
        return len(self.label_real)

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1 if self.n else 0


def _floats(values, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    out = np.array([np.nan if v is None else v for v in values], dtype=float)
    if out.shape != (n,):
        raise ValueError(f"{name} has {out.size} values for {n} docs")
    return out


def cluster_codes(clusters, n: int) -> tuple[np.ndarray, bool]:
    """Codes 0..k-1 of ``clusters`` (any hashable ids); a None id is a cluster of its own doc.

    Returns ``(codes, clustered)``, ``clustered`` False when every doc is its own cluster.
    """
    if clusters is None:
        return np.arange(n), False
    clusters = list(clusters)
    if len(clusters) != n:
        raise ValueError(f"clusters has {len(clusters)} ids for {n} docs")
    keys = [("doc", i) if c is None else ("id", str(c)) for i, c in enumerate(clusters)]
    _, codes = np.unique(np.array([f"{k}\x00{v}" for k, v in keys]), return_inverse=True)
    return codes.astype(np.int64), int(codes.max()) + 1 < n if n else False


def per_doc(labels, verdicts=None, *, hits=None, detection=None, categories=None, log_odds=None,
            rouge_l=None, css=None, clusters=None) -> PerDoc:
    """A :class:`PerDoc` from plain lists: labels/verdicts as "real"/"fake"(/"unknown").

    ``verdicts`` None means the docs carry no verdict: then ``hits`` (one bool per doc,
    the answer is right) is all that accuracy-like metrics read, and without it no doc
    counts as detected. Any other argument left None is absent (verdict == label / nan
    / all docs detected / one category / independent docs).
    """
    labels = list(labels)
    n = len(labels)
    if n == 0:
        raise ValueError("no docs")
    if bad := [x for x in labels if x not in (REAL, FAKE)]:
        raise ValueError(f"labels must be 'real' or 'fake', got {bad[0]!r}")
    code = {REAL: 1, FAKE: 0, UNKNOWN: -1}
    label_real = np.array([x == REAL for x in labels])
    if verdicts is None:
        verdict = np.full(n, -1, dtype=np.int8)
        detection = detection if hits is not None else [False] * n
    else:
        verdicts = list(verdicts)
        if len(verdicts) != n:
            raise ValueError(f"verdicts has {len(verdicts)} values for {n} docs")
        if bad := [v for v in verdicts if v not in code]:
            raise ValueError(f"verdicts must be one of {tuple(code)}, got {bad[0]!r}")
        verdict = np.array([code[v] for v in verdicts], dtype=np.int8)
    codes, clustered = cluster_codes(clusters, n)
    hit = verdict == label_real.astype(np.int8) if hits is None else np.array([bool(h) for h in hits])
    if hit.shape != (n,):
        raise ValueError(f"hits has {hit.size} values for {n} docs")
    return PerDoc(
        label_real=label_real,
        verdict=verdict,
        has_verdict=verdicts is not None,
        hit=hit,
        detection=np.ones(n, bool) if detection is None else np.array(list(detection), dtype=bool),
        category=np.array(["all"] * n if categories is None else [str(c) for c in categories], dtype=object),
        log_odds=_floats(log_odds, n, "log_odds"),
        rouge_l=_floats(rouge_l, n, "rouge_l"),
        css=_floats(css, n, "css"),
        cluster=codes,
        clustered=clustered,
    )


# --------------------------------------------------------------------------- resampling


def resample_counts(n_clusters: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                    chunk: int | None = None) -> Iterator[np.ndarray]:
    """Bootstrap resamples as counts: blocks of shape (n_clusters, b), column r = how often each cluster is drawn.

    Each resample draws ``n_clusters`` clusters with replacement, uniformly, from
    ``numpy.random.default_rng(seed)``; blocks of ``chunk`` resamples (default: sized so
    a block stays near 16 MB of float64) follow one another in a fixed order, so the same
    arguments always give the same resamples.
    """
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, min(n_resamples, _CHUNK_CELLS // max(1, n_clusters)))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters), dtype=np.int64)
        draws += (np.arange(b) * n_clusters)[:, None]  # row r counts into its own stretch: a cache-friendly scatter
        yield np.bincount(draws.ravel(), minlength=b * n_clusters).reshape(b, n_clusters).T


class Weights:
    """Doc weights of a block of resamples, ``W[i, r]`` = copies of doc i in resample r, with a per-block memo.

    ``Weights.ones(n)`` is the docs as they are (the point estimate).
    """

    def __init__(self, W: np.ndarray):
        self.W = W
        self._memo: dict = {}

    @classmethod
    def ones(cls, n: int) -> "Weights":
        return cls(np.ones((n, 1)))

    @classmethod
    def of_clusters(cls, counts: np.ndarray, cluster: np.ndarray, clustered: bool) -> "Weights":
        """Every doc weighs as often as its cluster was drawn."""
        return cls(np.ascontiguousarray(counts[cluster] if clustered else counts, dtype=np.float64))

    def memo(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


# ------------------------------------------------------------------ weighted kernels
# As in fakevlm_tasks.scoring.metrics (whose kernels serve the accuracy and F1 family): W
# is (n, B), one column of doc weights per resample (a column of ones for the point
# estimate), and each kernel returns B values, nan where undefined.


def _sums_by(W: np.ndarray, codes: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """(k, B): per resample, the weighted sum of ``values`` over the docs of each code."""
    S = sparse.csr_matrix((np.asarray(values, W.dtype), (codes, np.arange(len(codes)))), shape=(k, len(codes)))
    return np.asarray(S @ W)


def _levels(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of the distinct score values in ascending order (ties share a code)."""
    uniq, codes = np.unique(scores, return_inverse=True)
    return codes, len(uniq)


def _class_runs(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes grouping the docs of ``positive | negative`` into runs of one class, in ascending score.

    AUC and the ROC points depend on nothing finer: no pair inside a one-class run counts,
    and the best threshold never falls inside one. A tie across the classes stays a group
    of its own. Separable models give few runs, so the per-resample arrays shrink with them.
    Docs outside both sets get code 0 (their weight is zero in every sum).
    """
    inside = positive | negative
    codes, k = _levels(scores[inside])
    if k == 0:
        return np.zeros(len(scores), np.int64), 1
    has_pos = np.bincount(codes, positive[inside], k) > 0
    has_neg = np.bincount(codes, negative[inside], k) > 0
    kind = np.where(has_pos & has_neg, 2, has_pos.astype(np.int64))  # 0 negatives only, 1 positives only, 2 both
    new_run = np.r_[True, (kind[1:] != kind[:-1]) | (kind[1:] == 2)]
    run_of_level = np.cumsum(new_run) - 1
    out = np.zeros(len(scores), np.int64)
    out[inside] = run_of_level[codes]
    return out, int(run_of_level[-1]) + 1


class _Levelled:
    """Weights of one set of docs per score level (ascending), and their running totals: (k, B) each."""

    def __init__(self, W: np.ndarray, codes: np.ndarray, k: int, mask: np.ndarray):
        self.per_level = _sums_by(W, codes, mask, k)
        self.total = self.per_level.sum(axis=0)

    @functools.cached_property
    def running(self) -> np.ndarray:
        return np.cumsum(self.per_level, axis=0)  # the costly step: once per block and set, and only if needed


def _auc_from(pos: _Levelled, neg: _Levelled) -> np.ndarray:
    """Mann-Whitney AUC, levels ascending in score: pairs with the positive higher, ties one half.

    The tasks' AUC is scikit-learn's (:func:`fakevlm_tasks.scoring.metrics.roc_auc`), which
    takes one weighting per call; the bootstrap needs thousands at once, so this kernel
    computes them in one pass (tests/test_stats.py checks it against scikit-learn per resample).
    """
    wins = np.einsum("kb,kb->b", pos.per_level, neg.running) - 0.5 * np.einsum("kb,kb->b", pos.per_level, neg.per_level)
    return ratio(wins, pos.total * neg.total)


def _tpr_from(pos: _Levelled, neg: _Levelled, fpr: float) -> np.ndarray:
    """Highest TPR among thresholds with FPR <= ``fpr``, levels ordered from the most positive-looking down."""
    # fp / total <= fpr without dividing a (k, B) array; the 1e-9 absorbs the rounding of fpr * total
    allowed = neg.running <= neg.total * (fpr * (1 + 1e-9))
    best = np.where(allowed, pos.running, 0.0).max(axis=0)
    return np.where((pos.total > 0) & (neg.total > 0), ratio(best, pos.total), np.nan)


def weighted_auc(W: np.ndarray, positive: np.ndarray, negative: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` (higher = positive) over the docs in ``positive`` | ``negative``.

    The Mann-Whitney statistic with ties counting one half; a doc of weight w counts w
    times. Undefined (nan) when either class has no weight.
    """
    codes, k = _class_runs(scores, positive, negative)
    return _auc_from(_Levelled(W, codes, k, positive), _Levelled(W, codes, k, negative))


def weighted_tpr_at_fpr(W: np.ndarray, positive: np.ndarray, negative: np.ndarray, scores: np.ndarray,
                        fpr: float) -> np.ndarray:
    """The highest TPR among ROC points with FPR <= ``fpr`` (flag when score >= threshold; no interpolation)."""
    codes, k = _class_runs(-scores, positive, negative)
    return _tpr_from(_Levelled(W, codes, k, positive), _Levelled(W, codes, k, negative), fpr)


def calibration_bins(p: np.ndarray, n_bins: int = ECE_BINS) -> np.ndarray:
    """Bin of each probability: equal-width bins over [0, 1], 1.0 in the last bin."""
    return np.minimum((np.asarray(p) * n_bins).astype(np.int64), n_bins - 1)


def weighted_ece(W: np.ndarray, p: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None,
                 n_bins: int = ECE_BINS) -> np.ndarray:
    """Expected calibration error over the docs in ``mask``: sum over bins of (weight share) x |share of y - mean p|."""
    mask = np.ones(len(p), bool) if mask is None else mask
    gap = _sums_by(W, calibration_bins(p, n_bins), np.where(mask, y - p, 0.0), n_bins)
    return ratio(np.abs(gap).sum(axis=0), weighted_count(W, mask))


# ------------------------------------------------------------------ metric definitions


class Unavailable(Exception):
    """A metric cannot be computed from these docs; the message says why."""


def _detection_docs(d: PerDoc) -> np.ndarray:
    if not d.detection.any():
        raise Unavailable("no doc counts in the detection metrics")
    return d.detection


def _verdict_docs(d: PerDoc) -> np.ndarray:
    """The detection docs, for metrics that read the real/fake verdict itself (not just right or wrong)."""
    if not d.has_verdict:
        raise Unavailable("the docs carry no real/fake verdict (yes/no answers)")
    return _detection_docs(d)


def _scores(d: PerDoc) -> np.ndarray:
    """Log-odds of the detection docs, for AUC, TPR at FPR and calibration.

    As the tasks do, a score-based metric is computed only when every detection doc has
    a score: leaving unscored docs out would score a model on the docs it chose to score.
    """
    det = _verdict_docs(d)
    missing = int(np.isnan(d.log_odds[det]).sum())
    if missing == det.sum():
        raise Unavailable("no verdict scores (log_odds) in these samples: the model gives none")
    if missing:
        raise Unavailable(f"{missing} of {int(det.sum())} detection docs have no verdict score (log_odds)")
    return d.log_odds


def _roc(d: PerDoc, w: Weights, docs: np.ndarray) -> tuple[_Levelled, _Levelled]:
    """(reals, fakes) among ``docs`` per class run of ascending log-odds; memoised per block (AUC and TPR share them)."""
    scores = _scores(d)
    real, fake = docs & d.label_real, docs & ~d.label_real

    def compute():
        codes, k = _class_runs(scores, real, fake)
        return _Levelled(w.W, codes, k, real), _Levelled(w.W, codes, k, fake)

    return w.memo((id(d), "roc", docs.tobytes()), compute)


def _auc(d: PerDoc, w: Weights, docs: np.ndarray | None = None) -> np.ndarray:
    return _auc_from(*_roc(d, w, _verdict_docs(d) if docs is None else docs))


def _tpr(fpr: float):
    def metric(d: PerDoc, w: Weights) -> np.ndarray:
        real, fake = _roc(d, w, _verdict_docs(d))
        return _tpr_from(fake, real, fpr)  # fake positive; ascending log-odds = most fake-looking first
    return metric


def _class_acc(d: PerDoc, w: Weights, real: bool) -> np.ndarray:
    return weighted_mean(w.W, d.hit, _verdict_docs(d) & (d.label_real == real))


def _bacc(d: PerDoc, w: Weights, docs: np.ndarray | None = None) -> np.ndarray:
    return weighted_balanced_accuracy(w.W, d.hit, d.label_real, _verdict_docs(d) if docs is None else docs)


def _f1(d: PerDoc, w: Weights, real: bool) -> np.ndarray:
    """Binary F1 with ``real`` (or fake) positive; an unknown verdict is a miss or a false alarm."""
    return weighted_f1(w.W, d.hit, d.label_real == real, _verdict_docs(d))


def _one_class_f1(real: bool):
    """F1 on the docs of one class with that class positive (DMimage, Table 3): 2r / (1 + r), r its accuracy."""
    def metric(d: PerDoc, w: Weights) -> np.ndarray:
        docs = _verdict_docs(d) & (d.label_real == real)
        return weighted_f1(w.W, d.hit, d.label_real == real, docs)
    return metric


def _per_group_mean(score):
    """Mean over fake groups (categories) of ``score(d, w, docs)``, each group's fakes pooled with all reals.

    A group a resample happens to lack is left out of that resample's mean, as the
    tasks leave out a group absent from their docs.
    """
    def metric(d: PerDoc, w: Weights) -> np.ndarray:
        det = _verdict_docs(d)
        groups = sorted(set(d.category[det & ~d.label_real]))
        if not groups:
            raise Unavailable("no fake detection docs")
        return nanmean_rows([score(d, w, det & (d.label_real | (d.category == g))) for g in groups])
    return metric


def _calibrated(d: PerDoc) -> tuple[np.ndarray, np.ndarray]:
    """(detection docs, P(real) from their log-odds)."""
    scores = _scores(d)
    return d.detection, special.expit(np.nan_to_num(scores))


def _ece(d: PerDoc, w: Weights) -> np.ndarray:
    docs, p = _calibrated(d)
    return weighted_ece(w.W, p, d.label_real.astype(float), docs)


def _brier(d: PerDoc, w: Weights) -> np.ndarray:
    docs, p = _calibrated(d)
    return weighted_mean(w.W, (p - d.label_real) ** 2, docs)


def _text_mean(field: str):
    def metric(d: PerDoc, w: Weights) -> np.ndarray:
        values = getattr(d, field)
        if np.isnan(values).all():
            raise Unavailable(f"no per-doc {field} scores (no doc has a reference, or they were not computed)")
        return weighted_mean(w.W, values, ~np.isnan(values))
    return metric


#: Every generic metric with an interval, by the name the tasks report it under (a benchmark brings the kernels of
#: its own metrics: ``kernels`` below, from its declaration's ``statistics``). Each maps
#: (PerDoc, Weights) to one value per resample; conventions are those of
#: fakevlm_tasks.scoring.metrics (an unknown verdict is wrong, F1 has real positive unless
#: named fake; AUC has real positive, TPR at FPR fake positive).
METRICS = {
    "acc": lambda d, w: weighted_mean(w.W, d.hit, _detection_docs(d)),
    "f1": lambda d, w: _f1(d, w, real=True),
    "f1_fake": lambda d, w: _f1(d, w, real=False),
    "f1_macro": lambda d, w: nanmean_rows([_f1(d, w, True), _f1(d, w, False)]),
    "balanced_acc": _bacc,
    "real_acc": lambda d, w: _class_acc(d, w, real=True),
    "fake_acc": lambda d, w: _class_acc(d, w, real=False),
    "real_f1": _one_class_f1(real=True),
    "fake_f1": _one_class_f1(real=False),
    "auc": _auc,
    "auc_avg": _per_group_mean(_auc),
    "balanced_acc_avg": _per_group_mean(_bacc),
    **{name: _tpr(fpr) for name, fpr in FPR_POINTS.items()},
    "ece": _ece,
    "brier": _brier,
    "rouge_l": _text_mean("rouge_l"),
    "css": _text_mean("css"),
}


def _covered(d: PerDoc, metric: str) -> np.ndarray:
    """The docs a metric is computed over."""
    if metric in ("rouge_l", "css"):
        return ~np.isnan(getattr(d, metric))
    if metric in ("real_acc", "real_f1"):
        return d.detection & d.label_real
    if metric in ("fake_acc", "fake_f1"):
        return d.detection & ~d.label_real
    return d.detection


def coverage(d: PerDoc, metric: str) -> int:
    """How many docs a metric is computed over (its n)."""
    return int(_covered(d, metric).sum())


def _kernels(extra: Mapping[str, Callable] | None) -> Mapping[str, Callable]:
    """The generic kernels and a benchmark's own (``extra``, which win on a shared name)."""
    return {**METRICS, **extra} if extra else METRICS


def point(d: PerDoc, metric: str, kernels: Mapping[str, Callable] | None = None) -> float:
    """The metric on the docs as they are (raises :class:`Unavailable` with the reason); ``kernels``: a
    benchmark's own, beside :data:`METRICS`."""
    value = float(_kernels(kernels)[metric](d, Weights.ones(d.n))[0])
    if math.isnan(value):
        raise Unavailable(f"{metric} is undefined on these docs (a class it needs is absent)")
    return value


# --------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class Interval:
    """A metric with its percentile bootstrap interval (fractions)."""

    metric: str
    value: float
    low: float
    high: float
    n: int
    n_clusters: int
    clustered: bool
    n_resamples: int
    undefined: int  # resamples where the metric was undefined (dropped from the percentiles)
    note: str | None = None  # what a reader must know: an exact interval, no spread, a point outside its interval
    exact: bool = False  # low and high are the exact Clopper-Pearson interval, not the bootstrap's

    @property
    def method(self) -> str:
        unit = "clusters" if self.clustered else "docs"
        if self.exact:
            return f"exact Clopper-Pearson (binomial) interval over {unit}"
        return f"percentile bootstrap over {unit}, {self.n_resamples} resamples"

    @property
    def degenerate(self) -> bool:
        """A bootstrap interval of zero width: every resample gave the value, which says nothing of its precision."""
        return not self.exact and self.low == self.high

    @property
    def outside(self) -> bool:
        """The value lies outside its own interval (the metric is biased at this n: ECE, say)."""
        return not self.low - 1e-12 <= self.value <= self.high + 1e-12


def _points(docs: Sequence[PerDoc], metrics: Sequence[str], kernels) -> tuple[dict[str, list[float]], dict[str, str]]:
    """({metric: its value on each of ``docs``} for the metrics all of them allow, {metric: why not} for the rest)."""
    values, reasons = {}, {}
    for m in metrics:
        try:
            values[m] = [point(d, m, kernels) for d in docs]
        except Unavailable as exc:
            reasons[m] = str(exc)
    return values, reasons


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _replicates(docs: Sequence[PerDoc], metrics: Sequence[str], n_resamples: int, seed: int,
                kernels) -> dict[str, list[np.ndarray]]:
    """Per metric, its value on every resample for each of ``docs`` (same resamples for all: paired)."""
    from threadpoolctl import threadpool_limits

    table = _kernels(kernels)
    out = {m: [np.empty(n_resamples) for _ in docs] for m in metrics}
    start = 0
    # The products here are small and many: BLAS threads only add contention (2-3x slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        for counts in resample_counts(docs[0].n_clusters, n_resamples, seed):
            w = Weights.of_clusters(counts, docs[0].cluster, docs[0].clustered)
            for m in metrics:
                for k, d in enumerate(docs):
                    out[m][k][start:start + counts.shape[1]] = table[m](d, w)
            start += counts.shape[1]
    return out


def intervals(d: PerDoc, metrics: Sequence[str], *, confidence: float = CONFIDENCE,
              n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
              kernels: Mapping[str, Callable] | None = None) -> dict[str, Interval | str]:
    """Percentile bootstrap intervals for ``metrics``, all from the same resamples.

    Conventions: 95% two-sided percentile intervals from ``n_resamples`` resamples of the
    docs, or of whole clusters when ``d`` has clusters (frames of one video, questions
    on one image move together), drawn by :func:`resample_counts` from ``seed``. Each
    resample redraws the whole task and each metric is computed on the docs it covers
    in that resample; a resample where it is undefined (say, no real doc drawn for F1)
    is dropped and counted in ``undefined``. Where the bootstrap cannot vary, a proportion
    at 0% or 100% gets the exact Clopper-Pearson interval and any other zero-width interval
    is marked ``degenerate``; a value outside its own interval is flagged (``outside``);
    each with a ``note`` (:func:`_qualified`). ``kernels``: a benchmark's own, beside :data:`METRICS`. Returns
    {metric: Interval, or the reason it is unavailable}.
    """
    values, out = _points([d], metrics, kernels)
    reps = _replicates([d], list(values), n_resamples, seed, kernels)
    for m, (value,) in values.items():
        resampled = reps[m][0]
        undefined = int(np.isnan(resampled).sum())
        if undefined == n_resamples:
            out[m] = f"{m} is undefined on every resample"
            continue
        low, high = _percentiles(resampled, confidence)
        out[m] = _qualified(Interval(m, value, low, high, coverage(d, m), d.n_clusters, d.clustered, n_resamples,
                                     undefined), d, confidence)
    return {m: out[m] for m in metrics}


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact binomial interval of k successes in n trials (scipy)."""
    # scipy.stats is imported where it is used (as statsmodels is): it takes most of a second, and the command-line
    # tools that import the benchmarks (fakevlm-data, fakevlm-batch) never compute an interval.
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def _qualified(iv: Interval, d: PerDoc, confidence: float) -> Interval:
    """``iv`` where the bootstrap says too little: a proportion at 0% or 100% gets Clopper-Pearson's exact interval
    (over clusters when docs are clustered: each then counts as one trial, which errs wide); any other interval of
    zero width, and a value outside its own interval, get a note saying so."""
    if iv.metric in PROPORTIONS and iv.value in (0.0, 1.0):
        trials = iv.n if not d.clustered else len(np.unique(d.cluster[_covered(d, iv.metric)]))
        unit = "clusters" if d.clustered else "docs"
        low, high = clopper_pearson(int(iv.value) * trials, trials, confidence)
        return replace(iv, low=low, high=high, exact=True,
                       note=f"{iv.metric} is {100 * iv.value:.0f}% of {trials} {unit}: every resample gives the "
                            "same value, so the interval is the exact binomial (Clopper-Pearson) one")
    if iv.degenerate:
        return replace(iv, note=f"every resample gives {iv.metric} = {iv.value:.6g} ({iv.n} docs): a zero-width "
                                "interval that says nothing of its precision, and no exact interval exists for it")
    if iv.outside:
        return replace(iv, note=f"the value lies outside its own bootstrap interval [{iv.low:.6g}, {iv.high:.6g}]: "
                                f"{iv.metric} is biased at n = {iv.n}, so read the interval with care")
    return iv


# ---------------------------------------------------------------------- paired tests


@dataclass(frozen=True)
class Comparison:
    """Model A minus model B on one metric over the same docs (fractions)."""

    metric: str
    a: float
    b: float
    low: float
    high: float
    p_value: float
    test: str
    ci_method: str
    n: int
    note: str | None = None  # why the usual test was replaced, or that the interval has no width

    @property
    def diff(self) -> float:
        return self.a - self.b


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided p of McNemar's exact (binomial) test on paired right/wrong outcomes (statsmodels)."""
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    return float(mcnemar(table, exact=True).pvalue)


def delong(positive: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> tuple[float, float, float]:
    """DeLong's test for two correlated AUCs on the same docs: ``(auc_a, auc_b, var of auc_a - auc_b)``.

    ``positive``: bool per doc; scores higher = positive. Placement values from
    mid-ranks (Sun & Xu's fast algorithm); written here because scipy, statsmodels and
    scikit-learn have no DeLong test. Independent docs are assumed.
    """
    positive = np.asarray(positive, bool)
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        raise Unavailable("DeLong needs at least two docs of each class")
    from scipy.stats import rankdata

    v10, v01 = [], []
    for s in (np.asarray(scores_a, float), np.asarray(scores_b, float)):
        x, y = s[positive], s[~positive]
        all_ranks = rankdata(np.r_[x, y])
        v10.append((all_ranks[:m] - rankdata(x)) / n)
        v01.append(1.0 - (all_ranks[m:] - rankdata(y)) / m)
    aucs = [float(v.mean()) for v in v10]
    cov = np.cov(np.stack(v10)) / m + np.cov(np.stack(v01)) / n
    return aucs[0], aucs[1], float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


def _bootstrap_p(diffs: np.ndarray) -> float:
    """Two-sided p of "no difference" from paired bootstrap differences: twice the smaller tail at 0.

    With the +1 correction, so a p of 0 is never reported; it is below 0.05 exactly when
    the percentile interval of the same level excludes 0 (up to that correction).
    """
    d = diffs[~np.isnan(diffs)]
    below, above = (int((d <= 0).sum()) + 1) / (len(d) + 1), (int((d >= 0).sum()) + 1) / (len(d) + 1)
    return min(1.0, 2 * min(below, above))


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two cluster codings group the same docs together."""
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def compare(a: PerDoc, b: PerDoc, metrics: Sequence[str], *, confidence: float = CONFIDENCE,
            n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            kernels: Mapping[str, Callable] | None = None) -> dict[str, Comparison | str]:
    """Paired comparison of model A and model B on the same docs (doc i of ``a`` is doc i of ``b``).

    Tests (two-sided), chosen per metric:
      - ``acc`` on independent docs: McNemar's exact test (statsmodels) on the discordant
        pairs; its interval is the paired bootstrap's.
      - ``auc`` on independent docs: DeLong's test, with the normal interval
        diff +- z * sd from DeLong's variance.
      - everything else, and every metric on clustered docs (where McNemar and DeLong
        would take correlated docs for independent ones): the paired bootstrap, both
        models on the same resamples of docs or clusters; the percentile interval of the
        difference, and p = twice the smaller share of differences on either side of 0
        (+1 correction: never 0).
      - where those have too little to go on, p from the paired permutation test
        (:func:`permutation_p`): exact with up to :data:`EXACT_PERMUTATION_MAX` docs or
        clusters (every metric but ``acc``, whose McNemar test is exact), random swaps
        when DeLong's variance is zero or every resample gives the same difference; the
        Comparison's ``note`` says so, and that a zero-width interval has no width.
    ``kernels``: a benchmark's own, beside :data:`METRICS`. Returns {metric: Comparison, or the reason it is
    unavailable}.
    """
    if a.n != b.n or not (np.array_equal(a.label_real, b.label_real) and np.array_equal(a.detection, b.detection)):
        raise ValueError("a paired comparison needs the same docs, in the same order, in both runs")
    if a.clustered and b.clustered and not same_partition(a.cluster, b.cluster):
        raise ValueError("the two runs group the docs into different clusters")
    if b.clustered and not a.clustered:  # one run logged clusters, the other did not: the docs are the same
        a = replace(a, cluster=b.cluster, clustered=True)
    b = replace(b, cluster=a.cluster, clustered=a.clustered)
    values, out = _points([a, b], metrics, kernels)
    reps = _replicates([a, b], list(values), n_resamples, seed, kernels)
    boot = f"paired bootstrap over {'clusters' if a.clustered else 'docs'}, {n_resamples} resamples"
    for m, (va, vb) in values.items():
        diffs = reps[m][0] - reps[m][1]
        if np.isnan(diffs).all():
            out[m] = f"{m} is undefined on every resample"
            continue
        low, high = _percentiles(diffs, confidence)
        result = Comparison(m, va, vb, low, high, _bootstrap_p(diffs), boot, f"percentile, {boot}", coverage(a, m))
        why = None
        if not a.clustered and m in _EXACT_TESTS:
            try:
                result = _EXACT_TESTS[m](a, b, result, confidence)
            except Unavailable as exc:
                why = str(exc)  # the bootstrap's answer stands, unless it is degenerate too (below)
        out[m] = _guarded(result, why, a, b, _kernels(kernels)[m], n_resamples, seed)
    return {m: out[m] for m in metrics}


def _guarded(c: Comparison, why: str | None, a: PerDoc, b: PerDoc, kernel, n_resamples: int, seed: int) -> Comparison:
    """``c``, unless its p would be decisive for want of data: with few docs (clusters), or a difference that is the
    same on every resample, p comes from the paired permutation test; a zero-width interval says so."""
    notes = [why] if why else []
    flat = c.low == c.high
    small = a.n_clusters <= EXACT_PERMUTATION_MAX
    if not c.test.startswith("McNemar") and (small or (flat and c.diff != 0)):
        unit = ("cluster" if a.clustered else "doc") + ("s" if a.n_clusters != 1 else "")
        method = "DeLong's test" if c.test == "DeLong" else "the paired bootstrap"
        if small:
            notes.append(f"{a.n_clusters} {unit}: too few for {method}, p is the exact permutation test's")
        else:
            notes.append(f"{method} gives the same difference on every resample: p is the permutation test's")
        try:
            p, swaps, exact = permutation_p(a, b, kernel, n_resamples, seed)
        except Unavailable as exc:
            notes.append(f"nor can the permutation test be run ({exc}): read p with care")
        else:
            c = replace(c, p_value=p, test=f"paired permutation test ({'all ' if exact else ''}{swaps} swaps of "
                                           f"{'clusters' if a.clustered else 'docs'})")
    if flat:
        notes.append("the interval has zero width: every resample gives the same difference, which says "
                     "nothing of its precision")
    return replace(c, note="; ".join(notes) or None)


def _side_by_side(a: PerDoc, b: PerDoc) -> PerDoc:
    """A's docs then B's (2n docs), so that weights over them can give each doc A's answer or B's."""
    def both(x, y):
        return np.concatenate([x, y]) if isinstance(x, np.ndarray) else x
    joined = {f.name: both(getattr(a, f.name), getattr(b, f.name)) for f in fields(PerDoc)}
    return PerDoc(**{**joined, "has_verdict": a.has_verdict and b.has_verdict})


def permutation_p(a: PerDoc, b: PerDoc, kernel, n_resamples: int = DEFAULT_RESAMPLES,
                  seed: int = DEFAULT_SEED) -> tuple[float, int, bool]:
    """Two-sided p of the paired permutation test of ``kernel``(A) - ``kernel``(B): ``(p, swaps, exact)``.

    Under "no difference" the two answers on each doc (each cluster) are exchangeable, so
    each swap of A's and B's answers on a subset of docs is as likely as the observed runs;
    p is the share of swaps whose difference is at least as far from 0 as the observed one.
    Up to :data:`EXACT_PERMUTATION_MAX` clusters all 2^n swaps are enumerated (exact);
    beyond, ``n_resamples`` random swaps from ``seed``, with the +1 correction. The kernel
    runs on A's and B's docs side by side, weights choosing whose answer each doc has.
    """
    k = a.n_clusters
    joined = _side_by_side(a, b)
    exact = k <= EXACT_PERMUTATION_MAX
    if exact:
        swaps = (np.arange(2 ** k)[None, :] >> np.arange(k)[:, None]) & 1  # column r: the bits of r; 0: as observed
    else:
        swaps = np.random.default_rng(seed).integers(0, 2, size=(k, n_resamples + 1), dtype=np.int8)
        swaps[:, 0] = 0  # the observed runs, then the random swaps
    diffs = []
    chunk = max(1, _CHUNK_CELLS // (2 * a.n))
    for start in range(0, swaps.shape[1], chunk):
        swapped = swaps[a.cluster, start:start + chunk].astype(float)  # per doc: 1 where B's answer goes to A
        with_a = Weights(np.vstack([1 - swapped, swapped]))
        with_b = Weights(np.vstack([swapped, 1 - swapped]))
        diffs.append(kernel(joined, with_a) - kernel(joined, with_b))
    diffs = np.concatenate(diffs)
    observed, diffs = diffs[0], (diffs if exact else diffs[1:])
    diffs = diffs[~np.isnan(diffs)]
    as_far = int((np.abs(diffs) >= abs(observed) - 1e-12).sum())
    p = as_far / len(diffs) if exact else (as_far + 1) / (len(diffs) + 1)
    return min(1.0, float(p)), int(swaps.shape[1] if exact else n_resamples), exact


def _mcnemar_comparison(a: PerDoc, b: PerDoc, boot: Comparison, confidence: float) -> Comparison:
    det = a.detection
    p = mcnemar_exact(a.hit[det], b.hit[det])
    return replace(boot, p_value=p, test="McNemar exact (statsmodels)")


def _delong_comparison(a: PerDoc, b: PerDoc, boot: Comparison, confidence: float) -> Comparison:
    det = a.detection
    _, _, var = delong(a.label_real[det], _scores(a)[det], _scores(b)[det])
    if var <= 1e-15:  # both models rank every pair the same way on every doc: no normal approximation to use
        raise Unavailable("DeLong's variance is zero (each model ranks all its pairs of docs alike)")
    from scipy.stats import norm

    sd = math.sqrt(var)
    half = float(norm.ppf(0.5 + confidence / 2)) * sd
    p = float(2 * norm.sf(abs(boot.diff) / sd))
    return replace(boot, low=boot.diff - half, high=boot.diff + half, p_value=p, test="DeLong",
                   ci_method="normal, DeLong variance")


#: Tests that replace the paired bootstrap's p on independent docs.
_EXACT_TESTS = {"acc": _mcnemar_comparison, "auc": _delong_comparison}


# ------------------------------------------------------------------------ calibration


def calibration_data(d: PerDoc) -> tuple[np.ndarray, np.ndarray]:
    """(P(real), is real) of the detection docs, what ECE, Brier and the reliability diagram read.

    Raises :class:`Unavailable` unless every detection doc has a verdict score.
    """
    docs, p = _calibrated(d)
    return p[docs], d.label_real[docs]


def reliability(p, y, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per bin of P(real): ``count``, ``mean_p`` and observed share of reals ``frac_real`` (nan in empty bins)."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    bins = calibration_bins(p, n_bins)
    count = np.bincount(bins, minlength=n_bins).astype(float)
    return {
        "count": count,
        "mean_p": ratio(np.bincount(bins, p, n_bins), count),
        "frac_real": ratio(np.bincount(bins, y, n_bins), count),
    }


def reliability_diagram(curves: dict[str, tuple], path, title: str = "Reliability") -> None:
    """A PNG: per model (``curves[label] = (p_real, is_real)``), observed share of reals against mean P(real) per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for i, (label, (p, y)) in enumerate(curves.items()):
        r = reliability(p, y)
        keep = r["count"] > 0
        ece = float(weighted_ece(np.ones((len(p), 1)), np.asarray(p, float), np.asarray(y, float))[0])
        ax.plot(r["mean_p"][keep], r["frac_real"][keep], marker="o", color=plt.cm.tab10.colors[i % 10],
                label=f"{label} (ECE {100 * ece:.1f}, n={len(p)})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean P(real) in bin ({ECE_BINS} equal-width bins)")
    ax.set_ylabel("share of real images")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
