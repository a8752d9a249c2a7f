"""lmms-eval glue shared by every task: prepared docs, prompts, one per-sample record, aggregations.

Tasks name these functions with ``!function fakevlm_tasks.hooks.<name>``. The maths lives
in :mod:`fakevlm_tasks.metrics` and :mod:`fakevlm_tasks.parsing`; this module only adapts
lmms-eval's calling conventions to them. Every metric is reported x100, as in the paper.

The per-sample record (docs/protocol.md, "The per-sample record"): ``process_results``
builds one verdict record per doc and hands it to every verdict metric, plus a text
record (answer, reference, per-doc ROUGE-L) to the explanation metrics. It also returns
lmms-eval's own ``score`` (0/1: the verdict is right), top level and inside the ``acc``
record together with ``cluster``, so the host's CLT and clustered standard errors
(``acc_stderr_clt``, ``acc_stderr_clustered``) and its paired test against
``--baseline`` work on these tasks. A metric that needs verdict scores is computed only
when every doc it covers has one; otherwise it is None and the log says why.
"""

from __future__ import annotations

import math
import os
import re

from loguru import logger

from fakevlm_tasks import judge, metrics, sample
from fakevlm_tasks.benchmarks import DETECTION_PROMPTS, prompted
from fakevlm_tasks.data.common import read_prepared
from fakevlm_tasks.parsing import FAKE, REAL, UNKNOWN, evidence_verdict, parse_verdict_detail, split_verdict_sentence

# ---------------------------------------------------------------------------- docs


def prepared_docs(name: str):
    """A ``process_docs`` hook that replaces the YAML's stub dataset with the prepared set ``name``.

    lmms-eval must load *some* dataset from the YAML before ``process_docs`` runs; the
    template points it at a one-line stub, and this hook swaps in the records prepared
    under ``$FAKEVLM_DATA_DIR`` (read now, not at import), or raises the error that says
    which ``fakevlm-data prepare`` command to run.
    """

    def process_docs(_stub):
        import datasets

        return datasets.Dataset.from_list(read_prepared(name))

    process_docs.__name__ = f"{name}_process_docs"
    return process_docs



def doc_to_visual(doc):
    """The doc's image as RGB. A missing or broken file raises an error naming the file."""
    from PIL import Image

    path = doc["image"]
    try:
        with Image.open(path) as im:
            return [im.convert("RGB")]
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"image of doc {doc.get('id')!r} is missing: {path}") from exc
    except OSError as exc:
        raise OSError(f"image of doc {doc.get('id')!r} cannot be decoded: {path} ({exc})") from exc


#: The detection question with the prompt of the model's family (the template names the family per model).
doc_to_text = prompted(DETECTION_PROMPTS)


# ------------------------------------------------------------------ per-doc records


def answer_text(results) -> str:
    """The text of a doc's first response; "" for none or for a non-text result."""
    text = results[0] if isinstance(results, (list, tuple)) and results else results
    return text if isinstance(text, str) else ""


#: How lmms-eval's API adapters (openai, ...) answer a request that failed after its retries.
REQUEST_FAILED_MARKER = "[LMMS_EVAL_REQUEST_FAILED"


def is_failed_answer(text: str) -> bool:
    """An answer that is no answer: empty (an adapter's failed sample) or an API adapter's failure marker."""
    return not text.strip() or text.lstrip().startswith(REQUEST_FAILED_MARKER)


def cluster_of(doc) -> str | None:
    """Which docs are not independent of this one: the frames of one video; None for a doc on its own."""
    if doc.get("cluster") is not None:
        return str(doc["cluster"])
    if doc.get("video") is not None:
        return f"{doc.get('category') or 'unknown'}/{doc['video']}"
    return None


def _base(doc) -> dict:
    return {
        "id": doc["id"],
        "label": doc["label"],
        "category": doc.get("category") or "unknown",
        "cluster": cluster_of(doc),
        "detection": bool(doc.get("detection", True)),
    }


def _with_verdict_score(record: dict, log_odds: float | None) -> dict:
    record.update(log_odds=log_odds, p_real=metrics.p_real_from_log_odds(log_odds))
    return record


#: ``robust`` (default): the rules read every answer; ``judge``: the LLM judge
#: (:mod:`fakevlm_tasks.judge`, configured by its ``FAKEVLM_JUDGE_*`` variables) reads those they leave unknown.
PARSE_MODE_ENV = "FAKEVLM_PARSE_MODE"
PARSE_MODES = ("robust", "judge")


def judge_config() -> judge.JudgeConfig | None:
    """The judge that reads unknown answers, from the environment now; None in ``robust`` mode.

    Raises ValueError for an unknown mode, and :class:`fakevlm_tasks.judge.JudgeNotConfigured`
    in ``judge`` mode without ``FAKEVLM_JUDGE_MODEL``: the judge was asked for, so the run stops.
    """
    mode = (os.environ.get(PARSE_MODE_ENV) or "robust").strip().lower()
    if mode not in PARSE_MODES:
        raise ValueError(f"{PARSE_MODE_ENV}={mode!r}: expected one of {', '.join(PARSE_MODES)}")
    return judge.JudgeConfig.from_env() if mode == "judge" else None


def _judged(doc, label: str, text: str, failed: bool) -> tuple[str, dict]:
    """The verdict once the judge (if on) has read an answer the rules left unknown, and the record's judge fields.

    A failed answer is never sent. The judge's real or fake replaces unknown
    (``verdict_source: judge``); its unknown or its failure leaves the rules' unknown.
    """
    config = judge_config()
    fields = {"verdict_source": "rules", "judge_verdict": None, "judge_failure": None,
              "judge_model": judge.summary(config.describe()) if config else None}
    if config is None or label != UNKNOWN or failed:
        return label, fields
    (verdict,) = judge.judge_verdicts([(text, doc.get("question"))], config)
    fields.update(judge_verdict=verdict.label, judge_failure=verdict.failure)
    if verdict.failure:
        logger.warning(f"doc {doc['id']!r}: the judge gave no verdict ({verdict.failure}); it stays unknown")
    if verdict.label in (REAL, FAKE):
        return verdict.label, {**fields, "verdict_source": "judge"}
    return label, fields


def detection_record(doc, results) -> dict:
    """The verdict record of a generated answer: both parsers' verdicts (the robust one completed by the judge
    in ``judge`` mode), failure, verdict score if any."""
    text = answer_text(results)
    robust = parse_verdict_detail(text, mode="robust", question=doc.get("question"))
    official = parse_verdict_detail(text, mode="fakevlm")
    failure = sample.failure_of(results)
    failed = failure is not None or is_failed_answer(text)
    verdict, judged = _judged(doc, robust.label, text, failed)
    verdict_score = sample.verdict_score_of(results)
    record = _base(doc)
    record.update(
        verdict=verdict,
        evidence_verdict=evidence_verdict(text),
        verdict_official=official.label,
        official_fallback=official.fallback,
        failed=failed,
        failure=failure.reason if failure is not None else None,
        **judged,
    )
    return _with_verdict_score(record, verdict_score.log_odds if verdict_score is not None else None)


def loglikelihood_value(result) -> float:
    """The value of one ``(value, is_greedy)`` loglikelihood result.

    lmms-eval 0.7.3 hands loglikelihood results to ``process_results`` as their ``str()``,
    ``"(-28.13, False)"`` (``unwrap_generation_output`` stringifies any non-text output);
    a tuple is accepted too, in case a later version passes it through.
    """
    if isinstance(result, str):
        return float(result.strip().strip("()[]").split(",")[0])
    return float(result[0])


def loglikelihood_record(doc, results) -> dict:
    """The verdict record of a two-choice loglikelihood request (real first): log-odds and the verdict they imply."""
    try:
        log_odds = metrics.log_odds_from_loglikelihoods(loglikelihood_value(results[0]), loglikelihood_value(results[1]))
    except (TypeError, ValueError, IndexError):
        log_odds = None
    record = _base(doc)
    record.update(verdict=metrics.verdict_from_log_odds(log_odds), failed=log_odds is None,
                  failure=None if log_odds is not None else "no loglikelihood to read")
    return _with_verdict_score(record, log_odds)


def evidence_of(text) -> str:
    """The explanation without its opening verdict sentence ("This is a fake image." and the like)."""
    return split_verdict_sentence(text)[1]


def text_record(doc, results) -> dict:
    """The explanation record: answer, reference, and the doc's ROUGE-L F on the whole text and on the evidence alone.

    Almost every answer and reference opens with the verdict sentence, which alone earns
    a sizeable ROUGE-L; the evidence-only score compares what the explanations say.
    Both are None without a reference.
    """
    text = answer_text(results)
    reference = doc.get("reference")
    if not reference:
        return {"id": doc["id"], "prediction": text, "reference": reference, "rouge_l": None, "rouge_l_evidence": None}
    references = [reference] if isinstance(reference, str) else list(reference)
    return {
        "id": doc["id"],
        "prediction": text,
        "reference": reference,
        "rouge_l": metrics.rouge_l([text], [references])[0],
        "rouge_l_evidence": metrics.rouge_l([evidence_of(text)], [[evidence_of(r) for r in references]])[0],
    }


#: Metrics that read the text record; every other metric reads the verdict record.
EXPLANATION_METRICS = frozenset({"rouge_l", "rouge_l_evidence", "css", "css_evidence", "css_encoder"})


def fan_out(verdict: dict, correct: bool, metric_names, text: dict | None = None) -> dict:
    """``process_results``' return value: lmms-eval's ``score``, and each metric's record.

    The verdict record goes to every verdict metric (they need the whole set), the text
    record only to the explanation metrics (else each answer would be written once per
    metric into the samples file). ``acc`` gets ``score`` inside its record, so that the
    host's CLT and clustered standard errors are computed for accuracy alone.
    """
    score = 1.0 if correct else 0.0
    out: dict = {"score": score}
    for name in metric_names:
        if name in EXPLANATION_METRICS:
            out[name] = text
        elif name == "acc":
            out[name] = {**verdict, "score": score}
        else:
            out[name] = verdict
    return out


def detection_results(metric_names: tuple[str, ...]):
    """A ``process_results`` for generated real/fake answers feeding ``metric_names``."""

    def process_results(doc, results):
        verdict = detection_record(doc, results)
        text = text_record(doc, results) if EXPLANATION_METRICS & set(metric_names) else None
        return fan_out(verdict, verdict["verdict"] == verdict["label"], metric_names, text)

    return process_results


def loglikelihood_results(metric_names: tuple[str, ...]):
    """A ``process_results`` for the two-choice loglikelihood form of the detection question."""

    def process_results(doc, results):
        verdict = loglikelihood_record(doc, results)
        return fan_out(verdict, verdict["verdict"] == verdict["label"], metric_names)

    return process_results


#: The verdict metrics of every generated-answer task (``dmimage`` and ``ffpp_gen`` add their own to these).
VERDICT_METRICS = (
    "acc", "f1", "f1_fake", "f1_macro", "balanced_acc", "unknown_rate", "failed_rate", "judged_rate", "judge_model",
    "acc_official_parser",
)
#: The metrics of the detection + explanation template (_fakevlm_template_yaml).
DETECTION_METRICS = VERDICT_METRICS + (
    "official_fallback_rate", "contradiction_rate", "rouge_l", "rouge_l_evidence", "css", "css_evidence", "css_encoder",
)
# --------------------------------------------------------------------- aggregations


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
    """The judge of this run, as :func:`fakevlm_tasks.judge.summary` names it; None with the judge off."""
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
    """Mean CSS x100 through :func:`fakevlm_tasks.embeddings.css_scores` (its settings, its reference cache)."""
    from fakevlm_tasks import embeddings

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

    from fakevlm_tasks import embeddings

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
    "loki_score": lambda rs: _loki(rs, "loki"),
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


# ------------------------------------------------------------- LOKI's own protocol


def _yes_no_from_verdict(verdict: str, asks: str) -> str:
    if verdict not in (REAL, FAKE):
        return metrics.OTHER
    return metrics.YES if verdict == asks else metrics.NO


def judgment_record(doc, results) -> dict:
    """A LOKI yes/no question: LOKI's reading of the answer, and the robust parser's (completed by the judge in
    ``judge`` mode; LOKI's own reading never is)."""
    text = answer_text(results)
    robust = parse_verdict_detail(text, mode="robust", question=doc["question"])
    failure = sample.failure_of(results)
    failed = failure is not None or is_failed_answer(text)
    verdict, judged = _judged(doc, robust.label, text, failed)
    record = _base(doc)
    record.update(
        cluster=str(doc.get("cluster") or doc["image"]),  # the two questions about one image are not independent
        answer=doc["answer"],
        failed=failed,
        failure=failure.reason if failure is not None else None,
        loki=metrics.loki_yes_no(text),
        robust=_yes_no_from_verdict(verdict, doc["asks"]),
        **judged,
    )
    return record


#: The metrics of a LOKI-style yes/no judgment task (per-category scores are added by its benchmark).
LOKI_JUDGMENT_METRICS = ("acc", "loki_score", "loki_score_robust_parser", "unknown_rate", "failed_rate",
                         "judged_rate", "judge_model")


def judgment_results(metric_names: tuple[str, ...]):
    """A ``process_results`` for LOKI-style yes/no judgment questions feeding ``metric_names``."""

    def process_results(doc, results):
        record = judgment_record(doc, results)
        return fan_out(record, record["loki"] == record["answer"], metric_names)

    return process_results


def _loki(records, key) -> float | None:
    if not records:
        return None
    return pct(metrics.loki_score([r["label"] for r in records], [r[key] == r["answer"] for r in records],
                                  [r["category"] for r in records]))


def agg_loki_acc(records):
    return pct(sum(r["loki"] == r["answer"] for r in records) / len(records)) if records else None


def agg_loki_score(records):
    """LOKI's score (:func:`fakevlm_tasks.metrics.loki_score`) with LOKI's reading of the answers."""
    return _loki(records, "loki")


def agg_loki_score_robust(records):
    """The same score with this project's robust parser reading the answers."""
    return _loki(records, "robust")


def agg_loki_unknown_rate(records):
    return pct(sum(r["loki"] == metrics.OTHER for r in records) / len(records)) if records else None
