"""lmms-eval glue for DD-VQA, FF++ and DMimage: their docs, verdict scores, and metrics per group of fakes.

FF++ (Table 5) and DMimage (Corvi et al.) both score each group of fakes (a
manipulation, a generator family) pooled against *all* real images; :func:`pooled`
does that once for both. Scores for AUC are log-odds of "real" over "fake" at the
verdict position, either from lmms-eval's loglikelihood requests (``ffpp``) or from the
verdict scores the ``fakevlm`` adapter publishes while generating
(:mod:`fakevlm_tasks.scores`; ``ffpp_gen``, ``dmimage``). Log-odds rank exactly like
P(real) / (P(real) + P(fake)) but do not saturate at 0 or 1 in floating point, so a
confident model's scores stay distinct. Every metric is reported x100.
"""

from __future__ import annotations

import math

from fakevlm_tasks import hooks, metrics, scores
from fakevlm_tasks.data.ffpp import METHODS
from fakevlm_tasks.parsing import FAKE, REAL, UNKNOWN

ddvqa_process_docs = hooks._prepared_docs("ddvqa")
ffpp_process_docs = hooks._prepared_docs("ffpp")
dmimage_process_docs = hooks._prepared_docs("dmimage")

#: The two continuations of the ``ffpp`` task, scored after the question (target delimiter " ").
VERDICT_CHOICES = ("This is a real", "This is a fake")
#: Bound for infinite log-odds (a probability that underflowed to 0), so AUC stays computable.
_MAX_LOG_ODDS = 1e6


# ----------------------------------------------------------------- verdict scores


def log_odds_from_loglikelihoods(results) -> float | None:
    """log P(real) - log P(fake) at the verdict position, from the two choices' loglikelihood results.

    ``results`` holds one ``(value, is_greedy)`` per choice, real first. Adapters follow
    one of two conventions and the sign tells which: lmms-eval's own (``llava_hf``,
    ``llava``, ...) return the *mean loss* of the continuation (>= 0, lower is likelier);
    others (``fakevlm``) return its *summed log-likelihood* (<= 0, higher is likelier).
    With summed log-likelihoods the shared "This is a" cancels and the difference is
    exactly the verdict token's log-odds; with mean losses it is that difference divided
    by the continuation's token count (the same for every doc, so AUC is unchanged),
    plus whatever the adapter's chat template appends after the continuation. Returns
    None when there is nothing to read (missing, NaN, mixed signs, or both -inf: a
    sample the adapter could not score).
    """
    try:
        real, fake = _loglikelihood_value(results[0]), _loglikelihood_value(results[1])
    except (TypeError, ValueError, IndexError):
        return None
    if math.isnan(real) or math.isnan(fake):
        return None
    if real <= 0 and fake <= 0:
        if real == fake == float("-inf"):
            return None
        return _bounded(real - fake)
    if real >= 0 and fake >= 0:
        return _bounded(fake - real)
    return None


def _loglikelihood_value(result) -> float:
    """The value of one ``(value, is_greedy)`` result.

    lmms-eval 0.7.3 hands loglikelihood results to ``process_results`` as their ``str()``,
    ``"(-28.13, False)"`` (``unwrap_generation_output`` stringifies any non-text output);
    a tuple is accepted too, in case a later version passes it through.
    """
    if isinstance(result, str):
        return float(result.strip().strip("()[]").split(",")[0])
    return float(result[0])


def log_odds_from_verdict_score(score: scores.VerdictScore | None) -> float | None:
    """log P(real) - log P(fake) of a score the adapter published; None when it has no mass on either word."""
    if score is None or not (score.p_real > 0 or score.p_fake > 0):
        return None
    if score.p_fake <= 0:
        return _MAX_LOG_ODDS
    if score.p_real <= 0:
        return -_MAX_LOG_ODDS
    return _bounded(math.log(score.p_real) - math.log(score.p_fake))


def _bounded(x: float) -> float:
    return max(-_MAX_LOG_ODDS, min(_MAX_LOG_ODDS, x))


def p_real(log_odds: float | None) -> float | None:
    """P(real) / (P(real) + P(fake)) for display; None when unscored."""
    if log_odds is None:
        return None
    return 1.0 / (1.0 + math.exp(-log_odds)) if log_odds >= 0 else math.exp(log_odds) / (1.0 + math.exp(log_odds))


def _verdict_from_log_odds(log_odds: float | None) -> str:
    if log_odds is None or log_odds == 0:
        return UNKNOWN
    return REAL if log_odds > 0 else FAKE


# ---------------------------------------------------------------- per-doc scoring


def _base_record(doc) -> dict:
    return {
        "id": doc["id"],
        "label": doc["label"],
        "category": doc.get("category") or "unknown",
        "video": doc.get("video"),
        "detection": True,
    }


def ffpp_doc_to_choice(doc):
    return list(VERDICT_CHOICES)


def ffpp_process_results(doc, results):
    """One record per frame: the verdict log-odds from the two continuations, and the verdict they imply."""
    log_odds = log_odds_from_loglikelihoods(results)
    record = _base_record(doc)
    record.update(
        log_odds=log_odds,
        p_real=p_real(log_odds),
        verdict=_verdict_from_log_odds(log_odds),
    )
    return {name: record for name in FFPP_METRICS}


def _generation_process_results(task: str, metric_names: tuple[str, ...]):
    """``detection_process_results`` plus the verdict score the adapter published for this doc, if any."""

    def process_results(doc, results):
        record = hooks.detection_record(doc, results)
        log_odds = log_odds_from_verdict_score(scores.get_score(task, doc["id"]))
        record.update(video=doc.get("video"), log_odds=log_odds, p_real=p_real(log_odds))
        return hooks.fan_out(record, metric_names)

    process_results.__name__ = f"{task}_process_results"
    return process_results


# ------------------------------------------------------------ pooled group metrics


def _fake_groups(records, order=()) -> list[str]:
    present = {r["category"] for r in records if r["label"] == FAKE}
    return [g for g in order if g in present] + sorted(present - set(order))


def pooled(records, group: str) -> list[dict]:
    """All real records plus the fake records of one group (a manipulation or a generator family)."""
    return [r for r in records if r["label"] == REAL or r["category"] == group]


def _auc(records) -> float | None:
    """ROC AUC of the log-odds with REAL positive, x100; unscored records count as 0 (no preference).

    None when no record has a score or one class is absent.
    """
    if not any(r.get("log_odds") is not None for r in records):
        return None
    labels = [r["label"] for r in records]
    if len(set(labels)) < 2:
        return None
    values = [r["log_odds"] if r.get("log_odds") is not None else 0.0 for r in records]
    # Log-odds are continuous even when a handful happen to be 0 or 1: not verdicts.
    return hooks._pct(metrics.roc_auc(labels, values, positive=REAL, allow_binary=True))


def _per_video(records) -> list[dict]:
    """One record per (category, video): the mean of its frames' log-odds."""
    videos: dict[tuple, list[dict]] = {}
    for r in records:
        videos.setdefault((r["category"], r["video"]), []).append(r)
    out = []
    for frames in videos.values():
        scored = [f["log_odds"] for f in frames if f.get("log_odds") is not None]
        out.append({"label": frames[0]["label"], "log_odds": sum(scored) / len(scored) if scored else None})
    return out


def _acc_f1(records) -> dict:
    m = hooks._detection(records)
    return {"acc": hooks._pct(m["accuracy"]), "f1": hooks._pct(m["f1"]), "f1_fake": hooks._pct(m["f1_fake"])}


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _agg_auc_of(method: str):
    def aggregate(records):
        return _auc(pooled(records, method)) if method in _fake_groups(records) else None

    aggregate.__name__ = f"agg_auc_{method.lower()}"
    return aggregate


agg_auc_deepfakes, agg_auc_face2face, agg_auc_faceswap, agg_auc_neuraltextures = (_agg_auc_of(m) for m in METHODS)


def agg_auc_avg(records):
    """Table 5's "Average": the mean of the per-manipulation AUCs (frame level)."""
    return _mean(_auc(pooled(records, m)) for m in _fake_groups(records, METHODS))


def agg_auc_video_avg(records):
    """The same average with each video scored by the mean log-odds of its frames."""
    return _mean(_auc(_per_video(pooled(records, m))) for m in _fake_groups(records, METHODS))


def agg_unscored_rate(records):
    """Share of docs without a verdict score (the adapter failed or published none), x100."""
    return hooks._pct(sum(r.get("log_odds") is None for r in records) / len(records)) if records else None


def agg_per_manipulation(records):
    """{manipulation: {auc, auc_video, acc, f1, f1_fake, n_fake_frames}}, each manipulation pooled with all reals."""
    out = {}
    for m in _fake_groups(records, METHODS):
        group = pooled(records, m)
        out[m] = {"auc": _auc(group), "auc_video": _auc(_per_video(group)), **_acc_f1(group), "n_fake": sum(r["label"] == FAKE for r in group)}
    return out


FFPP_METRICS = (
    "auc_deepfakes",
    "auc_face2face",
    "auc_faceswap",
    "auc_neuraltextures",
    "auc_avg",
    "auc_video_avg",
    "acc",
    "f1",
    "unscored_rate",
    "per_manipulation",
)
FFPP_GEN_METRICS = ("acc", "f1", "f1_fake", "f1_macro", "unknown_rate", "failed_rate", "acc_official_parser", "auc_avg", "per_manipulation")
ffpp_gen_process_results = _generation_process_results("ffpp_gen", FFPP_GEN_METRICS)


# ------------------------------------------------------------------------ DMimage


def _one_class(records, label: str, key: str):
    """Acc or F1 on the images of one class; F1 takes that class as positive (Table 3: F1 = 2r / (1 + r))."""
    subset = [r for r in records if r["label"] == label]
    if not subset:
        return None
    m = metrics.detection_metrics([r["label"] for r in subset], [r["verdict"] for r in subset])
    if key == "acc":
        return hooks._pct(m["accuracy"])
    return hooks._pct(m["f1_real"] if label == REAL else m["f1_fake"])


def agg_real_acc(records):
    return _one_class(records, REAL, "acc")


def agg_real_f1(records):
    return _one_class(records, REAL, "f1")


def agg_fake_acc(records):
    return _one_class(records, FAKE, "acc")


def agg_fake_f1(records):
    return _one_class(records, FAKE, "f1")


def _balanced_accuracy(records) -> float | None:
    """(accuracy on reals + accuracy on fakes) / 2, x100; unknown verdicts are wrong."""
    accs = []
    for label in (REAL, FAKE):
        subset = [r for r in records if r["label"] == label]
        if not subset:
            return None
        accs.append(sum(r["verdict"] == label for r in subset) / len(subset))
    return hooks._pct(sum(accs) / 2)


def agg_bacc_avg(records):
    """Corvi et al.'s AVR: mean over generator families of the balanced accuracy, each family pooled with all reals."""
    return _mean(_balanced_accuracy(pooled(records, f)) for f in _fake_groups(records))


def agg_auc_family_avg(records):
    """Corvi et al.'s AVR of AUC over families; None when the adapter published no scores."""
    return _mean(_auc(pooled(records, f)) for f in _fake_groups(records))


def agg_per_family(records):
    """{family: {bacc, auc, fake_acc, n_fake}}, each family pooled with all real images."""
    out = {}
    for f in _fake_groups(records):
        group = pooled(records, f)
        fakes = [r for r in group if r["label"] == FAKE]
        out[f] = {
            "bacc": _balanced_accuracy(group),
            "auc": _auc(group),
            "fake_acc": hooks._pct(sum(r["verdict"] == FAKE for r in fakes) / len(fakes)),
            "n_fake": len(fakes),
        }
    return out


DMIMAGE_METRICS = (
    "real_acc",
    "real_f1",
    "fake_acc",
    "fake_f1",
    "acc",
    "f1",
    "f1_fake",
    "f1_macro",
    "unknown_rate",
    "failed_rate",
    "acc_official_parser",
    "bacc_avg",
    "auc_avg",
    "per_family",
)
dmimage_process_results = _generation_process_results("dmimage", DMIMAGE_METRICS)
