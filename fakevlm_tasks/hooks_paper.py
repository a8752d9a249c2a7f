"""lmms-eval glue for DD-VQA, FF++ and DMimage: their docs and the metrics that pool each group of fakes with all reals.

FF++ (Table 5) and DMimage (Corvi et al.) both score each group of fakes (a
manipulation, a generator family) against *all* real images (:func:`hooks.pooled`).
Their AUCs use verdict log-odds, either from lmms-eval's loglikelihood requests
(``ffpp``) or from the verdict scores an adapter carries with its answers (``ffpp_gen``,
``dmimage``); a score-based metric is None, with the reason logged, unless every doc it
covers has a score. Every metric is reported x100.
"""

from __future__ import annotations

import re

from fakevlm_tasks import hooks, metrics
from fakevlm_tasks.data.dmimage import FAMILIES
from fakevlm_tasks.data.ffpp import METHODS
from fakevlm_tasks.parsing import FAKE, REAL

ddvqa_process_docs = hooks.prepared_docs("ddvqa")
ffpp_process_docs = hooks.prepared_docs("ffpp")
dmimage_process_docs = hooks.prepared_docs("dmimage")

#: The two continuations of the ``ffpp`` task, scored after the question (target delimiter " ").
VERDICT_CHOICES = ("This is a real", "This is a fake")


def ffpp_doc_to_choice(doc):
    return list(VERDICT_CHOICES)


_AUC_PER_METHOD = tuple(f"auc_{m.lower()}" for m in METHODS)
FFPP_METRICS = ("auc_avg", "auc_video_avg", "acc", "f1", "failed_rate", "score_coverage") + _AUC_PER_METHOD
FFPP_GEN_METRICS = hooks.DETECTION_METRICS[:8] + ("auc_avg", "auc_video_avg", "score_coverage") + _AUC_PER_METHOD
DDVQA_METRICS = hooks.DETECTION_METRICS + tuple(f"acc_{m.lower()}" for m in (*METHODS, "FaceShifter", "original"))
#: DMimage's 12 generator families (as prepared), and their metric-name slugs.
DMIMAGE_FAMILIES = tuple(FAMILIES)
_SLUGS = tuple(re.sub(r"[^a-z0-9]", "", f.lower()) for f in DMIMAGE_FAMILIES)
DMIMAGE_METRICS = (("real_acc", "real_f1", "fake_acc", "fake_f1") + hooks.DETECTION_METRICS[:8]
                   + ("balanced_acc_avg", "auc_avg", "score_coverage")
                   + tuple(f"bacc_{s}" for s in _SLUGS) + tuple(f"auc_{s}" for s in _SLUGS))

ffpp_process_results = hooks.loglikelihood_results(FFPP_METRICS)
ffpp_gen_process_results = hooks.detection_results(FFPP_GEN_METRICS)
ddvqa_process_results = hooks.detection_results(DDVQA_METRICS)
dmimage_process_results = hooks.detection_results(DMIMAGE_METRICS)


def agg_auc_avg(records):
    """Table 5's "Average": the mean of the per-manipulation AUCs (frame level)."""
    return hooks.auc_avg(records, METHODS)


def agg_auc_video_avg(records):
    """The same average with each video scored by the mean log-odds of its frames."""
    return hooks.auc_video_avg(records, METHODS)


# ------------------------------------------------------------------------ DMimage


def _one_class(records, label: str, key: str):
    """Acc or F1 on the images of one class; F1 takes that class as positive (Table 3: F1 = 2r / (1 + r))."""
    subset = [r for r in records if r["label"] == label]
    if not subset:
        return None
    m = metrics.detection_metrics([r["label"] for r in subset], [r["verdict"] for r in subset])
    if key == "acc":
        return hooks.pct(m["accuracy"])
    return hooks.pct(m["f1_real"] if label == REAL else m["f1_fake"])


def agg_real_acc(records):
    return _one_class(records, REAL, "acc")


def agg_real_f1(records):
    return _one_class(records, REAL, "f1")


def agg_fake_acc(records):
    return _one_class(records, FAKE, "acc")


def agg_fake_f1(records):
    return _one_class(records, FAKE, "f1")


def agg_balanced_acc_avg(records):
    """Corvi et al.'s AVR of balanced accuracy over generator families, each pooled with all reals."""
    return hooks.balanced_acc_avg(records)


def agg_auc_family_avg(records):
    """Corvi et al.'s AVR of AUC over families; None (logged) unless every doc has a verdict score."""
    return hooks.auc_avg(records)
