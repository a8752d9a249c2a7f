"""lmms-eval glue shared by every task: load prepared docs, build prompts, score answers.

Tasks name these functions with ``!function fakevlm_tasks.hooks.<name>``. The scoring
itself lives in :mod:`fakevlm_tasks.parsing` and :mod:`fakevlm_tasks.metrics`; this
module only adapts lmms-eval's calling conventions to them. Every detection metric is
reported x100, as in the paper.
"""

from __future__ import annotations

import math

from loguru import logger

from fakevlm_tasks import metrics
from fakevlm_tasks.data.common import read_prepared
from fakevlm_tasks.parsing import FAKE, REAL, parse_verdict_detail

# ---------------------------------------------------------------------------- docs


def _prepared_docs(name: str):
    """A ``process_docs`` hook that replaces the YAML's stub dataset with the prepared one.

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


fakeclue_process_docs = _prepared_docs("fakeclue")
loki_process_docs = _prepared_docs("loki")
loki_judgment_process_docs = _prepared_docs("loki_judgment")


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


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    """``pre_prompt + question + post_prompt``; the per-model parts come from the task YAML."""
    kw = lmms_eval_specific_kwargs or {}
    return f"{kw.get('pre_prompt', '')}{doc['question']}{kw.get('post_prompt', '')}"


# ------------------------------------------------------------------ per-doc scoring


def _answer(results) -> str:
    if not results:
        return ""
    text = results[0]
    return text if isinstance(text, str) else ""


#: How lmms-eval's API adapters (openai, ...) answer a request that failed after its retries.
REQUEST_FAILED_MARKER = "[LMMS_EVAL_REQUEST_FAILED"


def is_failed_answer(text: str) -> bool:
    """An answer that is no answer: empty (the fakevlm adapter's failed samples) or an adapter's failure marker."""
    return not text.strip() or text.lstrip().startswith(REQUEST_FAILED_MARKER)


def detection_record(doc, results) -> dict:
    """Everything the detection and explanation metrics need to know about one answer."""
    text = _answer(results)
    robust = parse_verdict_detail(text, mode="robust", question=doc.get("question"))
    official = parse_verdict_detail(text, mode="fakevlm")
    return {
        "id": doc["id"],
        "label": doc["label"],
        "category": doc.get("category") or "unknown",
        "verdict": robust.label,
        "verdict_official": official.label,
        "official_fallback": official.fallback,
        "detection": bool(doc.get("detection", True)),
        "failed": is_failed_answer(text),
        "prediction": text,
        "reference": doc.get("reference"),
    }


#: Metrics that compare texts; every other metric only needs the verdict fields.
EXPLANATION_METRICS = frozenset({"rouge_l", "css"})
_TEXT_FIELDS = ("prediction", "reference")


def fan_out(record: dict, metric_names) -> dict:
    """Hand ``record`` to each metric, the answer text only to the text metrics.

    lmms-eval logs every metric's per-doc value; without this split each 256-token answer
    would be written once per metric into the samples file.
    """
    verdict = {k: v for k, v in record.items() if k not in _TEXT_FIELDS}
    texts = {"id": record["id"], **{k: record.get(k) for k in _TEXT_FIELDS}}
    return {name: texts if name in EXPLANATION_METRICS else verdict for name in metric_names}


def detection_process_results(doc, results):
    """One record per doc, handed to every metric's aggregation (they need the whole set)."""
    return fan_out(detection_record(doc, results), DETECTION_METRICS)


# --------------------------------------------------------------------- aggregations


def _detected(records):
    return [r for r in records if r["detection"]]


def _detection(records, verdict_key="verdict"):
    rs = _detected(records)
    if not rs:
        return None
    return metrics.detection_metrics([r["label"] for r in rs], [r[verdict_key] for r in rs])


def _pct(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return 100.0 * float(value)


def _detection_metric(key, verdict_key="verdict"):
    def aggregate(records):
        m = _detection(records, verdict_key)
        return None if m is None else _pct(m[key])

    aggregate.__name__ = f"aggregate_{key}"
    return aggregate


agg_acc = _detection_metric("accuracy")
agg_f1 = _detection_metric("f1")
agg_f1_fake = _detection_metric("f1_fake")
agg_f1_macro = _detection_metric("f1_macro")
agg_unknown_rate = _detection_metric("unknown_rate")
agg_acc_official_parser = _detection_metric("accuracy", "verdict_official")


def agg_failed_rate(records):
    """Share of docs with no answer at all (adapter error, API failure after retries), x100.

    These also count in ``unknown_rate`` (they are scored wrong); this metric tells a
    broken run from a model whose answers cannot be read.
    """
    return _pct(sum(r["failed"] for r in records) / len(records)) if records else None


def agg_official_fallback_rate(records):
    """Share of answers the official rule could only score by its coin flip, x100."""
    rs = _detected(records)
    return _pct(sum(r["official_fallback"] for r in rs) / len(rs)) if rs else None


def _explained(records):
    return [r for r in records if r.get("reference")]


def agg_rouge_l(records):
    """Mean ROUGE-L F over the docs that have a reference explanation, x100."""
    rs = _explained(records)
    if not rs:
        return None
    scores = metrics.rouge_l([r["prediction"] for r in rs], [r["reference"] for r in rs])
    return _pct(sum(scores) / len(scores))


def agg_css(records):
    """Mean cosine similarity of sentence embeddings (prediction vs reference), x100.

    If the embedding model cannot be loaded (offline, wrong path) the other metrics must
    survive: CSS is reported as N/A and the reason is logged as an error.
    """
    rs = _explained(records)
    if not rs:
        return None
    try:
        model = metrics.get_embedding_model()
    except Exception as exc:
        logger.error(
            f"CSS not computed: the embedding model could not be loaded ({type(exc).__name__}: {exc}). "
            f"Set ${metrics.CSS_MODEL_ENV} to a local sentence-transformers model folder or allow hub access."
        )
        return None
    scores = metrics.css([r["prediction"] for r in rs], [r["reference"] for r in rs], model=model)
    return _pct(sum(scores) / len(scores))


def agg_per_category(records):
    """{category: {acc, f1, f1_fake, n}} (x100) over the detection docs."""
    rs = _detected(records)
    if not rs:
        return None
    by_cat = metrics.grouped_detection_metrics([r["label"] for r in rs], [r["verdict"] for r in rs], [r["category"] for r in rs])
    return {
        cat: {"acc": _pct(m["accuracy"]), "f1": _pct(m["f1"]), "f1_fake": _pct(m["f1_fake"]), "n": int(m["n"])}
        for cat, m in sorted(by_cat.items())
    }


#: Every metric the detection tasks may list, so process_results feeds each one.
DETECTION_METRICS = (
    "acc",
    "f1",
    "f1_fake",
    "f1_macro",
    "unknown_rate",
    "failed_rate",
    "acc_official_parser",
    "official_fallback_rate",
    "rouge_l",
    "css",
    "per_category",
)


# ------------------------------------------------------------- LOKI's own protocol


def loki_yes_no(text: str) -> str:
    """LOKI's reading of a judgment answer: 'yes'/'no' within the first 4 characters, else 'unknown'."""
    head = (text or "").strip().lower()[:4]
    if "yes" in head:
        return "yes"
    if "no" in head:
        return "no"
    return "unknown"


def _yes_no_from_verdict(verdict: str, asks: str) -> str:
    if verdict not in (REAL, FAKE):
        return "unknown"
    return "yes" if verdict == asks else "no"


def loki_judgment_process_results(doc, results):
    text = _answer(results)
    robust = parse_verdict_detail(text, mode="robust", question=doc["question"])
    record = {
        "id": doc["id"],
        "label": doc["label"],
        "category": doc["category"],
        "answer": doc["answer"],
        "failed": is_failed_answer(text),
        "loki": loki_yes_no(text),
        "robust": _yes_no_from_verdict(robust.label, doc["asks"]),
    }
    return {name: record for name in LOKI_JUDGMENT_METRICS}


def _balanced(records, key):
    """LOKI's score: (accuracy on real images + accuracy on fake images) / 2, over questions."""
    accs = []
    for label in (REAL, FAKE):
        rs = [r for r in records if r["label"] == label]
        if rs:
            accs.append(sum(r[key] == r["answer"] for r in rs) / len(rs))
    return sum(accs) / len(accs) if accs else None


def agg_loki_acc(records):
    return _pct(sum(r["loki"] == r["answer"] for r in records) / len(records)) if records else None


def agg_loki_score(records):
    return _pct(_balanced(records, "loki"))


def agg_loki_score_robust(records):
    return _pct(_balanced(records, "robust"))


def agg_loki_unknown_rate(records):
    return _pct(sum(r["loki"] == "unknown" for r in records) / len(records)) if records else None


def agg_loki_per_category(records):
    cats = sorted({r["category"] for r in records})
    return {c: _pct(_balanced([r for r in records if r["category"] == c], "loki")) for c in cats}


LOKI_JUDGMENT_METRICS = ("acc", "loki_score", "loki_score_robust_parser", "unknown_rate", "failed_rate", "per_category")
