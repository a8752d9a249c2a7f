"""The per-doc records (docs/protocol.md, "The per-sample record") and the ``process_results`` built from them.

``process_results`` builds one verdict record per doc and, for the explanation metrics, a text record (answer,
reference, per-doc ROUGE-L); it logs each whole once and gives every other metric only what it reads. It also
returns lmms-eval's own ``score`` (0/1: the verdict is right), top level and inside the ``acc`` record together
with ``cluster``, so the host's CLT and clustered standard errors and its paired test against ``--baseline``
work on these tasks.
"""

from __future__ import annotations

import os

from loguru import logger

from fakevlm_tasks.glue import sample
from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.scoring.parsing import FAKE, REAL, UNKNOWN, evidence_verdict, parse_verdict_detail, split_verdict_sentence
from fakevlm_tasks.services import judge

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


def base_record(doc) -> dict:
    """The fields every per-doc record starts with: the doc's id, label, category, cluster, whether it is detected."""
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
#: (:mod:`fakevlm_tasks.services.judge`, configured by its ``FAKEVLM_JUDGE_*`` variables) reads those they leave unknown.
PARSE_MODE_ENV = "FAKEVLM_PARSE_MODE"
PARSE_MODES = ("robust", "judge")


def judge_config() -> judge.JudgeConfig | None:
    """The judge that reads unknown answers, from the environment now; None in ``robust`` mode.

    Raises ValueError for an unknown mode, and :class:`fakevlm_tasks.services.judge.JudgeNotConfigured`
    in ``judge`` mode without ``FAKEVLM_JUDGE_MODEL``: the judge was asked for, so the run stops.
    """
    mode = (os.environ.get(PARSE_MODE_ENV) or "robust").strip().lower()
    if mode not in PARSE_MODES:
        raise ValueError(f"{PARSE_MODE_ENV}={mode!r}: expected one of {', '.join(PARSE_MODES)}")
    return judge.JudgeConfig.from_env() if mode == "judge" else None


def judged_verdict(doc, label: str, text: str, failed: bool) -> tuple[str, dict]:
    """The verdict once the judge (if on) has read an answer the rules left unknown, and the record's judge fields.

    A failed answer is never sent. The judge's real or fake replaces unknown
    (``verdict_source: judge``); its unknown or its failure leaves the rules' unknown. An answer
    the rules decided is sent only in the audited share (``FAKEVLM_JUDGE_AUDIT``): the rules'
    verdict stands, and ``rules_judge_agree`` records whether the judge read the same (None
    unless audited and answered).
    """
    config = judge_config()
    fields = {"verdict_source": "rules", "judge_verdict": None, "judge_failure": None,
              "judge_model": judge.summary(config.describe()) if config else None,
              "judge_audit": False, "rules_judge_agree": None}
    if config is not None and label != UNKNOWN and not failed and judge.audited(doc["id"], judge.audit_share()):
        (verdict,) = judge.judge_verdicts([(text, doc.get("question"))], config)
        fields.update(judge_audit=True, judge_verdict=verdict.label, judge_failure=verdict.failure,
                      rules_judge_agree=None if verdict.failure else verdict.label == label)
        if fields["rules_judge_agree"] is False:
            logger.info(f"doc {doc['id']!r}: audit: the rules read {label}, the judge {verdict.label}")
        return label, fields
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
    verdict, judged = judged_verdict(doc, robust.label, text, failed)
    verdict_score = sample.verdict_score_of(results)
    record = base_record(doc)
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
    record = base_record(doc)
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
    Both are None without a reference, and only then: the explanation aggregations read them so.
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


#: Where a doc's whole records are logged, once each (the report layer reads them there,
#: :mod:`fakevlm_tasks.report.logged_samples`): the verdict record under ``acc``, the text record under ``css``.
#: A task that lists no such metric logs the record under its first metric that reads it.
WHOLE_RECORDS = {"verdict": "acc", "text": "css"}


def _homes(declared) -> dict[str, str]:
    """{record kind: the metric that logs the whole record} for a task's metrics."""
    names = {m.name for m in declared}
    homes: dict[str, str] = {}
    for m in declared:
        if m.group is None:
            homes.setdefault(m.record, m.name)
    return {**homes, **{kind: name for kind, name in WHOLE_RECORDS.items() if name in names}}


def fan_out(verdict: dict, correct: bool, declared, text: dict | None = None) -> dict:
    """``process_results``' return value: lmms-eval's ``score``, and each metric's per-doc value.

    Each record is logged whole once (:data:`WHOLE_RECORDS`); every other metric gets only the fields its
    aggregation reads (:meth:`fakevlm_tasks.glue.metric_lists.Metric.value`), since lmms-eval writes every
    metric's value of a doc into the samples file. ``acc`` gets ``score`` inside its record, so that the host's
    CLT and clustered standard errors are computed for accuracy alone (the other values hold no ``score``).
    """
    score = 1.0 if correct else 0.0
    records = {"verdict": verdict, "text": text}
    homes = _homes(declared)
    out: dict = {"score": score}
    for m in declared:
        if homes.get(m.record) != m.name:
            out[m.name] = m.value(records[m.record])
        elif m.name == "acc":
            out[m.name] = {**verdict, "score": score}
        else:
            out[m.name] = records[m.record]
    return out


def detection_results(declared):
    """A ``process_results`` for generated real/fake answers feeding the metrics ``declared`` (Metrics)."""
    reads_text = any(m.record == "text" for m in declared)

    def process_results(doc, results):
        verdict = detection_record(doc, results)
        text = text_record(doc, results) if reads_text else None
        return fan_out(verdict, verdict["verdict"] == verdict["label"], declared, text)

    return process_results


def loglikelihood_results(declared):
    """A ``process_results`` for the two-choice loglikelihood form of the detection question."""

    def process_results(doc, results):
        verdict = loglikelihood_record(doc, results)
        return fan_out(verdict, verdict["verdict"] == verdict["label"], declared)

    return process_results
