"""Aggregations: what lmms-eval calls on the list of one metric's per-doc values. Every metric is reported x100.

Each aggregation declares what it reads (:func:`reads`), so that ``process_results`` logs under each metric only
those fields of the doc's record (the whole record is logged once: :func:`fakevlm_tasks.glue.records.fan_out`).
A metric that needs verdict scores is computed only when every doc it covers has one; otherwise it is None and
the log says why. The maths lives in :mod:`fakevlm_tasks.scoring.metrics`.
"""

from __future__ import annotations

import functools
import math

from loguru import logger

from fakevlm_tasks.glue.records import evidence_of
from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.scoring.parsing import FAKE, REAL


def reads(*fields: str, record: str = "verdict", pooled: bool = False):
    """Declares the fields of the doc's ``verdict`` (or ``text``) record that an aggregation reads.

    ``process_results`` logs only those under the metric, and None for the docs a per-group metric leaves out;
    the aggregation skips the Nones. ``pooled``: as a per-group metric (:func:`fakevlm_tasks.glue.metric_lists.per_group`)
    it covers the group's fakes and every real (FF++, DMimage), not the group's own docs.
    """

    def declare(aggregate):
        @functools.wraps(aggregate)
        def without_the_docs_left_out(values):
            return aggregate([v for v in values if v is not None])

        without_the_docs_left_out.reads = fields
        without_the_docs_left_out.record = record
        without_the_docs_left_out.pooled = pooled
        return without_the_docs_left_out

    return declare


def pct(value):
    """x100; None and nan stay None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return 100.0 * float(value)


def _detected(records):
    return [r for r in records if r["detection"]]


def _share(records, keep) -> float | None:
    return pct(sum(map(keep, records)) / len(records)) if records else None


def _detection_metric(name: str, key: str, verdict_key: str = "verdict", doc: str = ""):
    def aggregate(records):
        rs = _detected(records)
        if not rs:
            return None
        return pct(metrics.detection_metrics([r["label"] for r in rs], [r[verdict_key] for r in rs])[key])

    aggregate.__name__ = aggregate.__qualname__ = name  # the name hooks and the YAMLs know it by
    aggregate.__doc__ = doc
    return reads("label", verdict_key, "detection")(aggregate)


agg_acc = _detection_metric("agg_acc", "accuracy", doc="Accuracy on the detection docs, x100 (an unknown verdict is wrong).")
agg_f1 = _detection_metric("agg_f1", "f1", doc="Binary F1 with real as the positive class (the paper's convention), x100.")
agg_f1_fake = _detection_metric("agg_f1_fake", "f1_fake", doc="Binary F1 with fake as the positive class, x100.")
agg_f1_macro = _detection_metric("agg_f1_macro", "f1_macro", doc="Mean of the two classes' F1, x100.")
agg_balanced_acc = _detection_metric("agg_balanced_acc", "balanced_accuracy", doc="(real acc + fake acc) / 2, x100; None with one class.")
agg_unknown_rate = _detection_metric("agg_unknown_rate", "unknown_rate", doc="Share of answers the robust parser cannot read, x100.")
agg_acc_official_parser = _detection_metric("agg_acc_official_parser", "accuracy", "verdict_official",
                                            doc="Accuracy with the official rule reading the answers (its coin flip seeded), x100.")


@reads("failed")
def agg_failed_rate(records):
    """Share of docs with no answer at all (adapter error, API failure after retries), x100.

    These also count in ``unknown_rate`` (they are scored wrong); this metric tells a
    broken run from a model whose answers cannot be read.
    """
    return _share(records, lambda r: r["failed"])


@reads("detection", "verdict_source")
def agg_judged_rate(records):
    """Share of docs whose verdict the judge gave (``FAKEVLM_PARSE_MODE=judge``), x100; 0 with the judge off."""
    return _share(_detected(records), lambda r: r.get("verdict_source") == "judge")


@reads("rules_judge_agree")
def agg_rules_judge_agreement(records):
    """Of the audited answers the judge read (``FAKEVLM_JUDGE_AUDIT``), the share whose verdict it read as the rules
    did, x100; None (logged) when none was audited. Its n is ``rules_judge_audited``."""
    agree = [r["rules_judge_agree"] for r in records if r.get("rules_judge_agree") is not None]
    if not agree:
        logger.info("rules_judge_agreement: no answer audited (set FAKEVLM_PARSE_MODE=judge and FAKEVLM_JUDGE_AUDIT)")
        return None
    return 100 * sum(agree) / len(agree)


@reads("rules_judge_agree")
def agg_rules_judge_audited(records):
    """How many audited answers the judge read: the n of ``rules_judge_agreement`` (0 with no audit)."""
    return sum(1 for r in records if r.get("rules_judge_agree") is not None)


@reads("judge_model")
def agg_judge_model(records):
    """The judge of this run, as :func:`fakevlm_tasks.services.judge.summary` names it; None with the judge off."""
    return ", ".join(sorted({r["judge_model"] for r in records if r.get("judge_model")})) or None


@reads("detection", "official_fallback")
def agg_official_fallback_rate(records):
    """Share of answers the official rule could only score by its coin flip, x100."""
    return _share(_detected(records), lambda r: r["official_fallback"])


@reads("log_odds")
def agg_score_coverage(records):
    """Share of docs that have a verdict score (what AUC and calibration need), x100."""
    return _share(records, lambda r: r.get("log_odds") is not None)


def _rouge(records, key: str) -> float | None:
    """Mean of the per-doc ``key`` over the docs that have a reference (the text record's scores are None without), x100."""
    values = [r[key] for r in records if r[key] is not None]
    return pct(sum(values) / len(values)) if values else None


@reads("rouge_l", record="text")
def agg_rouge_l(records):
    """Mean per-doc ROUGE-L F over the docs that have a reference explanation, x100."""
    return _rouge(records, "rouge_l")


@reads("rouge_l_evidence", record="text")
def agg_rouge_l_evidence(records):
    """:func:`agg_rouge_l` with the opening verdict sentence removed from answer and reference."""
    return _rouge(records, "rouge_l_evidence")


@reads("detection", "verdict", "evidence_verdict")
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

    rs = [r for r in records if r.get("reference")]
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


@reads("prediction", "reference", record="text")
def agg_css(records):
    """Mean cosine similarity of sentence embeddings (prediction vs reference), x100.

    If the embedding model cannot be loaded (offline, wrong path) the other metrics must
    survive: CSS is reported as None and the reason is logged as an error.
    """
    return _css(records, "css", _whole)


@reads("prediction", "reference", record="text")
def agg_css_evidence(records):
    """:func:`agg_css` on the evidence alone (verdict sentences removed from both sides)."""
    return _css(records, "css_evidence", _evidence)


@reads("rouge_l", record="text")
def agg_css_encoder(records):
    """Which encoder, precision and backend the ``css`` of this run used, as a short name; None without references.

    A local folder is named by its last meaningful path part; the log has the full
    description (path, file hash or hub revision) when ``css`` is computed.
    """
    import os
    from pathlib import PurePath

    from fakevlm_tasks.services import embeddings

    if all(r["rouge_l"] is None for r in records):  # no doc has a reference
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
    return mean_or_none(agg_pooled_balanced_acc(pooled(records, g)) for g in fake_groups(records))


# ------------------------------------------------------------ per-group metrics, pooled
# A per-group metric (fakevlm_tasks.glue.metric_lists.per_group) logs a value for the docs it covers only, with the
# group's name (``group``). On the group's own docs it is aggregated by the task's function (agg_acc); on the
# group's fakes pooled with every real, by one of these, which give None when the pool holds no fake.


def _pool(records) -> tuple[list, str]:
    """The records of one group's pool, or none when it holds no fake; and the group's name, for messages."""
    group = next((r["group"] for r in records if r.get("group")), "the group")
    return (records if any(r["label"] == FAKE for r in records) else []), group


@reads("label", "log_odds", "failed", pooled=True)
def agg_pooled_auc(records):
    """AUC of one group's fakes against every real (Table 5's per-manipulation column), x100."""
    rs, group = _pool(records)
    return auc(rs, f"auc of {group}") if rs else None


@reads("id", "cluster", "label", "log_odds", "failed", pooled=True)
def agg_pooled_video_auc(records):
    """:func:`agg_pooled_auc` with each video scored by the mean log-odds of its frames."""
    rs, group = _pool(records)
    if not rs or _scored_or_reason(rs, f"video auc of {group}"):
        return None
    return auc(per_video(rs), f"video auc of {group}")


@reads("label", "verdict", pooled=True)
def agg_pooled_balanced_acc(records):
    """Balanced accuracy of one group's fakes against every real (Corvi et al.'s per-family score), x100."""
    rs, _ = _pool(records)
    return pct(metrics.balanced_accuracy([r["label"] for r in rs], [r["verdict"] for r in rs])) if rs else None


@reads("label", "verdict", pooled=True)
def agg_pooled_fake_acc(records):
    """Accuracy on one group's fakes (the scoring kernel's ``acc_fake`` over the pool), x100."""
    rs, _ = _pool(records)
    if not rs:
        return None
    return pct(metrics.detection_metrics([r["label"] for r in rs], [r["verdict"] for r in rs])["acc_fake"])
