"""``loki_explain``, LOKI's own explanation protocol: LOKI's question about each explained fake image, the answer
graded by a judge model on LOKI's rubric (:mod:`fakevlm_tasks.tasks.loki.rubric`).

The record (a ``rubric`` record, :data:`fakevlm_tasks.glue.benchmarks.QUESTION_KINDS`): ``rubric`` maps each
criterion to its grade (0-5), None when the judge is off or gave none (``judge_failure`` says why).
"""

from __future__ import annotations

from collections import Counter

from loguru import logger

from fakevlm_tasks import hooks
from fakevlm_tasks.services import judge
from fakevlm_tasks.tasks.loki import rubric
from fakevlm_tasks.tasks.loki.choice import answered, share
from fakevlm_tasks.tasks.loki.judgment import same_for_every_family


process_docs = hooks.prepared_docs("loki_explain")
#: LOKI's question already says the image is fake and what to explain.
doc_to_text = hooks.prompted(same_for_every_family(""))


def rubric_judge() -> judge.JudgeConfig | None:
    """The judge configured by ``FAKEVLM_JUDGE_*`` (read now), or None: without one nothing is graded."""
    try:
        return judge.JudgeConfig.from_env()
    except judge.JudgeNotConfigured:
        return None


def rubric_item(doc, answer: str) -> rubric.RubricItem:
    """What the judge grades: ``answer`` to the doc and the doc's annotations."""
    return rubric.RubricItem(answer, doc["image"], tuple(doc["overall_notes"]),
                             tuple(rubric.Region(tuple(r["box"]), r["note"]) for r in doc["regions"]))


def record(doc, results) -> dict:
    """The judge's grades of the answer (``rubric``: criterion -> 0-5), or why there are none.

    No answer at all earns 0 on every criterion without a request (LOKI's rubric gives 0 to
    a refusal); the judge off leaves ``rubric`` None. The answer itself is in the samples'
    ``resps``, not repeated here.
    """
    text, failed, failure = answered(results)
    out = {"id": doc["id"], "failed": failed, "failure": failure, "rubric": None, "judge_failure": None,
           "judge_model": None}
    config = rubric_judge()
    if config is None:
        return out
    out["judge_model"] = rubric.summary(config)
    if failed:
        return {**out, "rubric": dict.fromkeys(rubric.CRITERIA, 0.0)}
    (graded,) = rubric.grade([rubric_item(doc, text)], config)
    if graded.failure:
        logger.warning(f"doc {doc['id']!r}: the judge gave no grade ({graded.failure})")
    return {**out, "rubric": graded.scores, "judge_failure": graded.failure}


def process_results(doc, results):
    out = record(doc, results)
    return {m.name: out for m in METRICS}  # each aggregation reads the grades, a record without the answer


def _ungraded(records, metric: str) -> str | None:
    """None when every doc is graded; else why ``metric`` is withheld (logged)."""
    if not any(r["judge_model"] for r in records):
        why = (f"{metric} not computed: no judge is configured. Set FAKEVLM_JUDGE_MODEL (and FAKEVLM_JUDGE_BASE_URL "
               "for a server other than OpenAI's) to grade the explanations; the answers are in the samples")
    else:
        missing = [r for r in records if r["rubric"] is None]
        if not missing:
            return None
        reasons = Counter(r["judge_failure"] or "no grade" for r in missing).most_common(3)
        why = (f"{metric} not computed: {len(missing)} of {len(records)} explanations have no grade "
               f"({'; '.join(f'{n}x {reason}' for reason, n in reasons)}); rerun: the graded ones come from the cache")
    logger.warning(why)
    return why


def _rubric_mean(records, metric: str, value) -> float | None:
    if not records or _ungraded(records, metric):
        return None
    return sum(value(r["rubric"]) for r in records) / len(records)


def _criterion_mean(criterion: str):
    def aggregate(records):
        return _rubric_mean(records, f"rubric_{criterion}", lambda scores: scores[criterion])

    aggregate.__name__ = f"agg_rubric_{criterion}"
    aggregate.__doc__ = f"Mean {criterion} grade (0-5, LOKI's scale) over every explanation; None unless all are graded."
    return aggregate


agg_rubric_overall, agg_rubric_completeness, agg_rubric_correctness, agg_rubric_plausibility = (
    _criterion_mean(c) for c in rubric.CRITERIA)


def agg_rubric_total(records):
    """Mean of the four grades' sum (0-20, LOKI's total) over every explanation; None unless all are graded."""
    return _rubric_mean(records, "rubric_total", lambda scores: sum(scores.values()))


def agg_rubric_coverage(records):
    """Share of explanations the judge graded, x100; None with no judge."""
    if not any(r["judge_model"] for r in records):
        return None
    return share(records, lambda r: r["rubric"] is not None)


METRICS = (
    hooks.Metric("rubric_overall", agg_rubric_overall, note="0-5: the problems of the whole image"),
    hooks.Metric("rubric_completeness", agg_rubric_completeness, note="0-5: the annotated regions found"),
    hooks.Metric("rubric_correctness", agg_rubric_correctness, note="0-5: the reasons given for them"),
    hooks.Metric("rubric_plausibility", agg_rubric_plausibility, note="0-5: no false claims; extra findings well argued"),
    hooks.Metric("rubric_total", agg_rubric_total, note="0-20: the four criteria summed (LOKI's total)"),
    hooks.Metric("rubric_coverage", agg_rubric_coverage, note="explanations the judge graded; the grades need 100"),
    hooks.Metric("failed_rate", hooks.agg_failed_rate, False, "docs with no answer at all (graded 0 without a request)"),
    hooks.Metric("judge_model", hooks.agg_judge_model, note="the judge model and rubric prompt; null with no judge"),
)
