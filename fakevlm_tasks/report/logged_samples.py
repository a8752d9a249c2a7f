"""lmms-eval's ``--log_samples`` files as per-doc arrays (:class:`fakevlm_tasks.scoring.stats.PerDoc`), and two runs matched doc by doc.

lmms-eval writes ``<ts>_samples_<task>.jsonl`` beside ``<ts>_results.json``: one line per
doc with ``doc_id``, ``doc``, ``doc_hash`` and, per metric, what the task's
``process_results`` returned for it; here the verdict record (under ``acc``, ``f1``,
...) and the text record (under ``rouge_l``, ``css``), and lmms-eval's ``score``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fakevlm_tasks.scoring import stats

#: Metric keys that hold the per-doc record, in order of preference; then any dict with a label and an answer.
RECORD_KEYS = ("acc", "f1")
TEXT_KEYS = ("rouge_l", "css")


class RunMismatch(ValueError):
    """Two runs cannot be compared doc by doc (different docs, or different versions of them)."""


@dataclass
class LoggedRun:
    """One model's logged samples on one task, sorted by ``doc_id``.

    ``doc_hash``: lmms-eval's hash of each doc (None in files without it); ``doc_key``:
    the doc's own ``id``. ``notes`` say what the file lacked and how that was handled.
    """

    path: Path
    doc_ids: list[int]
    doc_hash: list[str | None]
    doc_key: list[str | None]
    docs: stats.PerDoc
    notes: list[str] = field(default_factory=list)


def samples_path(results_path: str | Path, task: str) -> Path:
    """Where lmms-eval writes a task's samples beside ``<ts>_results.json``: ``<ts>_samples_<task>.jsonl``."""
    results_path = Path(results_path)
    stem = results_path.name.removesuffix("_results.json")
    return results_path.with_name(f"{stem}_samples_{task}.jsonl")


def _is_record(value) -> bool:
    """A verdict record (``verdict``) or a yes/no judgment record (``answer``), with the doc's ``label``."""
    return isinstance(value, dict) and "label" in value and ("verdict" in value or "answer" in value)


def _record(line: dict) -> dict | None:
    for key in RECORD_KEYS:
        if _is_record(line.get(key)):
            return line[key]
    return next((v for v in line.values() if _is_record(v)), None)


def _hit(line: dict, record: dict) -> bool:
    """Whether the doc's answer is right: lmms-eval's ``score``, else the verdict (or LOKI's yes/no) against the truth."""
    if line.get("score") is not None:
        return bool(line["score"])
    if "verdict" in record:
        return record["verdict"] == record["label"]
    return record.get("loki") == record["answer"]


def _text_record(line: dict) -> dict | None:
    return next((line[k] for k in TEXT_KEYS if isinstance(line.get(k), dict) and "prediction" in line[k]), None)


def _read_lines(path: Path) -> list[dict]:
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if text.strip():
                try:
                    lines.append(json.loads(text))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not a JSON line ({exc})") from exc
    if not lines:
        raise ValueError(f"{path} holds no samples")
    ids = [line.get("doc_id") for line in lines]
    if any(i is None for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"{path}: every line needs a distinct doc_id (is this an lmms-eval samples file?)")
    return sorted(lines, key=lambda line: line["doc_id"])


def _per_doc_rouge_l(texts: list[dict | None], notes: list[str]) -> list[float | None]:
    """The logged per-doc ROUGE-L; recomputed from the logged texts (same function as the task) where a file predates it."""
    if all(t is None or "rouge_l" in t for t in texts):
        return [None if t is None else t["rouge_l"] for t in texts]
    from fakevlm_tasks.scoring import metrics

    explained = [i for i, t in enumerate(texts) if t is not None and t.get("reference")]
    notes.append("per-doc ROUGE-L is not in these samples (an older file): recomputed from the logged texts")
    out: list[float | None] = [None] * len(texts)
    if explained:
        scores = metrics.rouge_l([texts[i]["prediction"] for i in explained], [texts[i]["reference"] for i in explained])
        for i, s in zip(explained, scores):
            out[i] = s
    return out


def _per_doc_css(texts: list[dict | None], model) -> list[float | None]:
    """CSS of every doc with a reference, recomputed from the logged texts with ``model`` (the task's own function)."""
    from fakevlm_tasks.scoring import metrics

    explained = [i for i, t in enumerate(texts) if t is not None and t.get("reference")]
    out: list[float | None] = [None] * len(texts)
    if explained:
        scores = metrics.css([texts[i]["prediction"] for i in explained], [texts[i]["reference"] for i in explained], model=model)
        for i, s in zip(explained, scores):
            out[i] = s
    return out


def read_samples(path: str | Path, *, css_model=None) -> LoggedRun:
    """A samples file as a :class:`LoggedRun`.

    Files written before a field was logged still read: without ``cluster`` the docs are
    independent, without per-doc ``rouge_l`` it is recomputed from the texts, without
    ``log_odds`` the score-based metrics are unavailable; each such case adds a note.
    CSS is computed only when ``css_model`` (an encoder, as
    :func:`fakevlm_tasks.scoring.metrics.css` takes it) is given, since it needs the encoder.
    """
    path = Path(path)
    lines = _read_lines(path)
    notes: list[str] = []
    records = [_record(line) for line in lines]
    texts = [_text_record(line) for line in lines]
    if all(r is None for r in records) and all(t is None for t in texts):
        raise ValueError(f"{path}: no verdict or text records in the samples (not a fakevlm task, or an unknown format)")
    if all(r is None for r in records):
        notes.append("no verdict records in these samples: the detection metrics have no intervals")
    elif all("cluster" not in r for r in records if r is not None):
        notes.append("no cluster ids in these samples (an older file): docs are resampled as independent")
    has_verdict = all(r is not None and "verdict" in r for r in records)

    def label(line, r):
        value = (r or {}).get("label") or (line.get("doc") or {}).get("label") or line.get("target")
        if value not in (stats.REAL, stats.FAKE):
            raise ValueError(f"{path}: doc_id {line['doc_id']} has no real/fake label")
        return value

    docs = stats.per_doc(
        [label(line, r) for line, r in zip(lines, records)],
        [r["verdict"] for r in records] if has_verdict else None,
        hits=[r is not None and _hit(line, r) for line, r in zip(lines, records)],
        detection=[r is not None and bool(r.get("detection", True)) for r in records],
        categories=[(r or {}).get("category") or "unknown" for r in records],
        log_odds=[(r or {}).get("log_odds") for r in records],
        rouge_l=_per_doc_rouge_l(texts, notes),
        css=None if css_model is None else _per_doc_css(texts, css_model),
        clusters=[(r or {}).get("cluster") for r in records],
    )
    return LoggedRun(
        path=path,
        doc_ids=[line["doc_id"] for line in lines],
        doc_hash=[line.get("doc_hash") for line in lines],
        doc_key=[_doc_key(line, r, t) for line, r, t in zip(lines, records, texts)],
        docs=docs,
        notes=notes,
    )


def _doc_key(line: dict, record: dict | None, text: dict | None) -> str | None:
    """The doc's own ``id``, from its record (lmms-eval 0.7.3 logs no ``doc``) or the logged doc."""
    for source in (record, text, line.get("doc")):
        if isinstance(source, dict) and source.get("id") is not None:
            return str(source["id"])
    return None


def _examples(items, k: int = 3) -> str:
    items = sorted(items, key=str)
    return ", ".join(map(str, items[:k])) + (", ..." if len(items) > k else "")


def check_same_docs(a: LoggedRun, b: LoggedRun) -> str:
    """Refuse (:class:`RunMismatch`) unless both runs scored the same docs; returns the fingerprint used.

    Docs are matched by ``doc_id`` and a fingerprint: lmms-eval's ``doc_hash`` where both
    files have it (it covers every field of the doc, its image path included), else the
    doc's own ``id``.
    """
    if a.doc_ids != b.doc_ids:
        only_a, only_b = set(a.doc_ids) - set(b.doc_ids), set(b.doc_ids) - set(a.doc_ids)
        raise RunMismatch(
            f"the runs cover different docs: {a.path.name} has {len(a.doc_ids)}, {b.path.name} has {len(b.doc_ids)}; "
            f"{len(only_a)} doc ids only in the first ({_examples(only_a)}), {len(only_b)} only in the second "
            f"({_examples(only_b)}). Compare runs over the same docs (same data, no --limit difference)."
        )
    for kind, fa, fb in (("doc_hash", a.doc_hash, b.doc_hash), ("doc id", a.doc_key, b.doc_key)):
        if None in fa or None in fb:
            continue
        differ = [i for i, x, y in zip(a.doc_ids, fa, fb) if x != y]
        if differ:
            raise RunMismatch(
                f"the runs scored different versions of the docs: {len(differ)} of {len(a.doc_ids)} docs differ "
                f"by {kind} (doc_id {_examples(differ)}). They were evaluated on different data or data versions"
                + (" (doc_hash also changes when the prepared data sits under another path)" if kind == "doc_hash" else "")
                + "; evaluate both models on the same prepared data."
            )
        return kind
    raise RunMismatch("the samples carry neither doc_hash nor doc ids: the docs cannot be matched")
