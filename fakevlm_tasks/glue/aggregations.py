"""Aggregations: what lmms-eval calls on the list of one metric's per-doc records. Every metric is reported x100.

A metric that needs verdict scores is computed only when every doc it covers has one; otherwise it is None and
the log says why. The maths lives in :mod:`fakevlm_tasks.scoring.metrics`.
"""

from __future__ import annotations

import math
import re

from loguru import logger

from fakevlm_tasks.glue.records import evidence_of
from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.scoring.parsing import FAKE, REAL

def pct(value):
    """x100; None and nan stay None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return 100.0 * float(value)


def _detected(records):
    return [r for r in records if r["detection"]]


def _detection(records, verdict_key="verdict"):
    rs = _detected(records)
    if not rs:
        return None
    return metrics.detection_metrics([r["label"] for r in rs], [r[verdict_key] for r in rs])


def _detection_metric(key, verdict_key="verdict"):
    def aggregate(records):
        m = _detection(records, verdict_key)
        return None if m is None else pct(m[key])

    aggregate.__name__ = f"agg_{key}"
    return aggregate


agg_acc = _detection_metric("accuracy")
agg_f1 = _detection_metric("f1")
agg_f1_fake = _detection_metric("f1_fake")
agg_f1_macro = _detection_metric("f1_macro")
agg_balanced_acc = _detection_metric("balanced_accuracy")
agg_unknown_rate = _detection_metric("unknown_rate")
agg_acc_official_parser = _detection_metric("accuracy", "verdict_official")


def agg_failed_rate(records):
    """Share of docs with no answer at all (adapter error, API failure after retries), x100.

    These also count in ``unknown_rate`` (they are scored wrong); this metric tells a
    broken run from a model whose answers cannot be read.
    """
    return pct(sum(r["failed"] for r in records) / len(records)) if records else None


def agg_judged_rate(records):
    """Share of docs whose verdict the judge gave (``FAKEVLM_PARSE_MODE=judge``), x100; 0 with the judge off."""
    rs = _detected(records)
    return pct(sum(r.get("verdict_source") == "judge" for r in rs) / len(rs)) if rs else None


def agg_judge_model(records):
    """The judge of this run, as :func:`fakevlm_tasks.services.judge.summary` names it; None with the judge off."""
    return ", ".join(sorted({r["judge_model"] for r in records if r.get("judge_model")})) or None


def agg_official_fallback_rate(records):
    """Share of answers the official rule could only score by its coin flip, x100."""
    rs = _detected(records)
    return pct(sum(r["official_fallback"] for r in rs) / len(rs)) if rs else None


def agg_score_coverage(records):
    """Share of docs that have a verdict score (what AUC and calibration need), x100."""
    return pct(sum(r.get("log_odds") is not None for r in records) / len(records)) if records else None


def _explained(records):
    return [r for r in records if r and r.get("reference")]


def agg_rouge_l(records):
    """Mean per-doc ROUGE-L F over the docs that have a reference explanation, x100."""
    rs = _explained(records)
    return pct(sum(r["rouge_l"] for r in rs) / len(rs)) if rs else None


def agg_rouge_l_evidence(records):
    """:func:`agg_rouge_l` with the opening verdict sentence removed from answer and reference."""
    rs = _explained(records)
    return pct(sum(r["rouge_l_evidence"] for r in rs) / len(rs)) if rs else None


def agg_contradiction_rate(records):
    """Share of answers with a verdict whose evidence argues for the opposite verdict, x100.

    The evidence (the answer after its verdict sentence) is read by the robust parser; an
    explanation that argues for neither side does not count as a contradiction.
    """
    rs = [r for r in _detected(records) if r["verdict"] in (REAL, FAKE)]
    if not rs:
        return None
    opposite = {REAL: FAKE, FAKE: REAL}
    return pct(sum(r.get("evidence_verdict") == opposite[r["verdict"]] for r in rs) / len(rs))


def _css(records, metric: str, texts) -> float | None:
    """Mean CSS x100 through :func:`fakevlm_tasks.services.embeddings.css_scores` (its settings, its reference cache)."""
    from fakevlm_tasks.services import embeddings

    rs = _explained(records)
    if not rs:
        return None
    predictions, references = texts(rs)
    try:
        scores, encoder = embeddings.css_scores(predictions, references)
    except Exception as exc:
        logger.error(
            f"{metric} not computed: the embedding model could not be loaded ({type(exc).__name__}: {exc}). "
            f"Set ${embeddings.CSS_MODEL_ENV} to a local sentence-transformers model folder or allow hub access."
        )
        return None
    logger.info(f"{metric}: encoder {encoder}")
    return pct(sum(scores) / len(scores))


def _whole(rs):
    return [r["prediction"] for r in rs], [r["reference"] for r in rs]


def _evidence(rs):
    refs = [[r["reference"]] if isinstance(r["reference"], str) else r["reference"] for r in rs]
    return [evidence_of(r["prediction"]) for r in rs], [[evidence_of(x) for x in ref] for ref in refs]


def agg_css(records):
    """Mean cosine similarity of sentence embeddings (prediction vs reference), x100.

    If the embedding model cannot be loaded (offline, wrong path) the other metrics must
    survive: CSS is reported as None and the reason is logged as an error.
    """
    return _css(records, "css", _whole)


def agg_css_evidence(records):
    """:func:`agg_css` on the evidence alone (verdict sentences removed from both sides)."""
    return _css(records, "css_evidence", _evidence)


def agg_css_encoder(records):
    """Which encoder, precision and backend the ``css`` of this run used, as a short name; None without references.

    A local folder is named by its last meaningful path part; the log has the full
    description (path, file hash or hub revision) when ``css`` is computed.
    """
    import os
    from pathlib import PurePath

    from fakevlm_tasks.services import embeddings

    if not _explained(records):
        return None
    name = os.environ.get(embeddings.CSS_MODEL_ENV) or embeddings.DEFAULT_CSS_MODEL
    parts = [p for p in PurePath(name).parts if p not in ("/", "model", "models", "snapshots")]
    short = parts[-1] if parts else name
    precision = os.environ.get(embeddings.CSS_PRECISION_ENV) or embeddings.DEFAULT_PRECISION
    backend = os.environ.get(embeddings.CSS_BACKEND_ENV) or embeddings.DEFAULT_BACKEND
    return f"{short} ({precision}, {backend})"



# ------------------------------------------------------------ verdict-score metrics


def _scored_or_reason(records, metric: str) -> str | None:
    """None when every record has a verdict score; else why ``metric`` is withheld (logged)."""
    missing = [r for r in records if r.get("log_odds") is None]
    if not missing:
        return None
    failed = sum(1 for r in missing if r.get("failed"))
    if len(missing) == len(records):
        why = (f"{metric} not computed: none of the {len(records)} docs has a verdict score. The model gives none "
               "(only adapters that read the verdict's token probabilities do: fakevlm, detector), or its answers came "
               "from lmms-eval's --use_cache without the fakevlm plugin loaded: rerun without --use_cache, or use a "
               "task that asks for loglikelihoods (ffpp)")
    else:
        why = (f"{metric} not computed: {len(missing)} of {len(records)} docs have no verdict score "
               f"({failed} of them failed; see the samples' 'failure' field): fix those docs or rerun them")
    logger.warning(why)
    return why


def auc(records, metric: str = "auc") -> float | None:
    """ROC AUC of the log-odds with REAL positive, x100, or None (logged) when any doc lacks a score or a class is absent."""
    if not records or _scored_or_reason(records, metric):
        return None
    labels = [r["label"] for r in records]
    if len(set(labels)) < 2:
        logger.warning(f"{metric} not computed: only {labels[0]} docs")
        return None
    # Log-odds are continuous even when a handful happen to be 0 or 1: not verdicts.
    return pct(metrics.roc_auc(labels, [r["log_odds"] for r in records], positive=REAL, allow_binary=True))


def per_video(records) -> list[dict]:
    """One record per cluster (video): its label and the mean of its frames' log-odds (all frames must be scored)."""
    labels, means = metrics.per_cluster_mean([r["label"] for r in records], [r["cluster"] or r["id"] for r in records],
                                             [r["log_odds"] for r in records])
    return [{"label": lab, "log_odds": m} for lab, m in zip(labels, means)]


def pooled(records, group: str) -> list[dict]:
    """All real records plus the fake records of one group (a manipulation, a generator family)."""
    mask = metrics.pooled_mask([r["label"] for r in records], [r["category"] for r in records], group)
    return [r for r, keep in zip(records, mask) if keep]


def fake_groups(records, order=()) -> list[str]:
    return metrics.fake_groups([r["label"] for r in records], [r["category"] for r in records], order)


def mean_or_none(values) -> float | None:
    """The mean, or None if any value is None (an average over groups is withheld if one group's value is)."""
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def auc_avg(records, order=()) -> float | None:
    """Mean over fake groups of the AUC of each group pooled with all reals (Table 5's "Average")."""
    return mean_or_none(auc(pooled(records, g), f"auc of {g}") for g in fake_groups(records, order))


def auc_video_avg(records, order=()) -> float | None:
    """:func:`auc_avg` with each video scored by the mean log-odds of its frames."""
    if _scored_or_reason(records, "auc_video_avg"):
        return None
    return mean_or_none(auc(per_video(pooled(records, g)), f"video auc of {g}") for g in fake_groups(records, order))


def balanced_acc_avg(records) -> float | None:
    """Corvi et al.'s AVR: mean over fake groups of the balanced accuracy, each group pooled with all reals."""
    values = []
    for g in fake_groups(records):
        group = pooled(records, g)
        values.append(pct(metrics.balanced_accuracy([r["label"] for r in group], [r["verdict"] for r in group])))
    return mean_or_none(values)



# ------------------------------------------------------------ per-group metrics

_GROUP_METRIC = re.compile(r"^agg_(?P<metric>[a-z0-9_]+?)__(?P<group>.+)$")

#: What a per-group aggregation computes on the docs of that group.
_ON_GROUP = {
    "acc": lambda rs: pct(metrics.detection_metrics([r["label"] for r in rs], [r["verdict"] for r in rs])["accuracy"]),
}
#: What a per-group aggregation computes on the group's fakes pooled with all reals.
_ON_POOLED = {
    "auc": lambda rs, g: auc(rs, f"auc of {g}"),
    "video_auc": lambda rs, g: None if _scored_or_reason(rs, f"video auc of {g}") else auc(per_video(rs), f"video auc of {g}"),
    "balanced_acc": lambda rs, g: pct(metrics.balanced_accuracy([r["label"] for r in rs], [r["verdict"] for r in rs])),
    "fake_acc": lambda rs, g: _class_acc(rs, FAKE),
}


def _class_acc(records, label: str) -> float | None:
    """Accuracy on the docs of one class, x100; None without such docs."""
    rs = [r for r in records if r["label"] == label]
    return pct(sum(r["verdict"] == label for r in rs) / len(rs)) if rs else None


def group_aggregation(metric: str, group: str):
    """The aggregation of ``metric`` for one group: ``acc`` on the group's own docs; ``auc``, ``video_auc``,
    ``balanced_acc``, ``fake_acc`` on the group's fakes pooled with all reals. None when the group is absent."""
    if metric in _ON_GROUP:
        def aggregate(records):
            rs = [r for r in _detected(records) if r["category"] == group]
            return _ON_GROUP[metric](rs) if rs else None
    elif metric in _ON_POOLED:
        def aggregate(records):
            if group not in fake_groups(records):
                return None
            return _ON_POOLED[metric](pooled(records, group), group)
    else:
        raise AttributeError(f"no per-group metric {metric!r}; known: {sorted(_ON_GROUP) + sorted(_ON_POOLED)}")
    aggregate.__name__ = f"agg_{metric}__{group}"
    return aggregate


def __getattr__(name: str):
    """``agg_<metric>__<group>`` for any group: a YAML names ``!function fakevlm_tasks.hooks.agg_acc__animal``."""
    match = _GROUP_METRIC.match(name)
    if not match:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return group_aggregation(match["metric"], match["group"])
