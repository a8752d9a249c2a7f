"""lmms-eval's ``--log_samples`` files as per-doc arrays (:class:`fakevlm_tasks.scoring.stats.PerDoc`), and two runs matched doc by doc.

lmms-eval writes ``<ts>_samples_<task>.jsonl`` beside ``<ts>_results.json``: one line per
doc with ``doc_id``, ``doc``, ``doc_hash`` and, per metric, what the task's
``process_results`` returned for it; here the verdict record (under ``acc``, ``f1``,
...) and the text record (under ``rouge_l``, ``css``), and lmms-eval's ``score``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fakevlm_tasks.scoring import stats

#: Metric keys that hold the per-doc record, in order of preference; then any dict with a label and an answer.
RECORD_KEYS = ("acc", "f1")
TEXT_KEYS = ("rouge_l", "css")
#: What lmms-eval 0.7.3 logs as every doc's ``doc_hash``: the hash of "null" (it hashes a doc it no longer holds).
NULL_DOC_HASH = hashlib.sha256(b"null").hexdigest()


class RunMismatch(ValueError):
    """Two runs cannot be compared doc by doc (different docs, or different versions of them)."""


@dataclass
class LoggedRun:
    """One model's logged samples on one task, sorted by ``doc_id``.

    ``doc_hash``: lmms-eval's hash of each doc (None in files without it, and in files
    where it is one value for every doc, which fingerprints nothing); ``doc_key``: the
    doc's own ``id``; ``doc_image``: the image the model was shown (see :func:`image_keys`).
    ``notes`` say what the file lacked and how that was handled.
    """

    path: Path
    doc_ids: list[int]
    doc_hash: list[str | None]
    doc_key: list[str | None]
    docs: stats.PerDoc
    notes: list[str] = field(default_factory=list)
    doc_image: list[str | None] = field(default_factory=list)


def samples_path(results_path: str | Path, task: str) -> Path | None:
    """Where lmms-eval writes a task's samples beside ``<ts>_results.json``: ``<ts>_samples_<task>.jsonl``. None
    where ``task`` (read from a results file, so untrusted) cannot be part of a file name in that folder: a path
    separator or a NUL in it would point elsewhere or at nothing."""
    if not isinstance(task, str) or any(c in task for c in ("/", "\\", "\x00")):
        return None
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
    """Whether the doc's answer is right: lmms-eval's ``score``, else the verdict against the label, or the
    benchmark's own reading of a yes/no or multiple-choice answer (``read``) against the answer."""
    if line.get("score") is not None:
        return bool(line["score"])
    if "verdict" in record:
        return record["verdict"] == record["label"]
    return record.get("read") == record["answer"]


def _text_record(line: dict) -> dict | None:
    return next((line[k] for k in TEXT_KEYS if isinstance(line.get(k), dict) and "prediction" in line[k]), None)


def _read_lines(path: Path) -> list[dict]:
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if text.strip():
                try:
                    lines.append(json.loads(text))
                except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested past Python's stack
                    raise ValueError(f"{path}:{number}: not a JSON line ({exc})") from exc
    if not lines:
        raise ValueError(f"{path} holds no samples")
    if not all(isinstance(line, dict) for line in lines):
        raise ValueError(f"{path}: every line must be a JSON object (is this an lmms-eval samples file?)")
    ids = [line.get("doc_id") for line in lines]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"{path}: every line needs a distinct doc_id, an integer (is this an lmms-eval samples file?)")
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
        doc_hash=_doc_hashes(lines, notes),
        doc_key=[_doc_key(line, r, t) for line, r, t in zip(lines, records, texts)],
        docs=docs,
        notes=notes,
        doc_image=image_keys([_media(line) for line in lines]),
    )


def _doc_hashes(lines: list[dict], notes: list[str]) -> list[str | None]:
    """Each line's ``doc_hash``; all None (with a note) when the file gives every doc the same one."""
    hashes = [h if isinstance(h, str) else None for h in (line.get("doc_hash") for line in lines)]
    constant = None not in hashes and len(set(hashes)) == 1 and (len(hashes) > 1 or hashes[0] == NULL_DOC_HASH)
    if constant:
        notes.append("doc_hash is the same for every doc (lmms-eval 0.7.3 hashes no doc): ignored; docs are "
                     "matched by their id and their image")
        return [None] * len(lines)
    return hashes


def _media(line: dict) -> list[str] | None:
    """The images a doc showed the model: lmms-eval's ``input_media`` (paths or data URLs), else the logged doc's ``image``."""
    media = line.get("input_media")
    if isinstance(media, list) and media and all(isinstance(m, str) for m in media):
        return media
    image = (line.get("doc") or {}).get("image") if isinstance(line.get("doc"), dict) else None
    return [image] if isinstance(image, str) and image else None


def image_keys(media: list[list[str] | None]) -> list[str | None]:
    """One identity per doc for its images: each path relative to the folder that holds all of the run's images
    (so the same prepared data moved elsewhere keeps its keys), a data URL by its sha256; None where none is logged."""
    paths = [m for ms in media if ms for m in ms if not m.startswith("data:")]
    try:
        root = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    except ValueError:  # absolute and relative paths mixed: no common folder, compare them whole
        root = ""

    def key(m: str) -> str:
        if m.startswith("data:"):
            return "sha256:" + hashlib.sha256(m.encode("utf-8")).hexdigest()
        return os.path.relpath(m, root) if root else m

    return [None if not ms else "\n".join(key(m) for m in ms) for ms in media]


def _doc_key(line: dict, record: dict | None, text: dict | None) -> str | None:
    """The doc's own ``id``, from its record (lmms-eval 0.7.3 logs no ``doc``) or the logged doc."""
    for source in (record, text, line.get("doc")):
        if isinstance(source, dict) and source.get("id") is not None:
            return str(source["id"])
    return None


def _examples(items, k: int = 3) -> str:
    items = sorted(items, key=str)
    return ", ".join(map(str, items[:k])) + (", ..." if len(items) > k else "")


def check_same_docs(a: LoggedRun, b: LoggedRun) -> list[str]:
    """Refuse (:class:`RunMismatch`) unless both runs scored the same docs, position by position; returns what was compared.

    Docs are paired by ``doc_id``. At each position the doc's own ``id`` and its image
    (:func:`image_keys`) must agree wherever both files log them, and so must lmms-eval's
    ``doc_hash`` where it is informative (it covers every field of the doc, its image path
    included). Agreeing ids alone are not enough: a re-prepared set can keep the ids and
    move the images, and then doc i would be another image in each run.
    """
    if a.doc_ids != b.doc_ids:
        only_a, only_b = set(a.doc_ids) - set(b.doc_ids), set(b.doc_ids) - set(a.doc_ids)
        raise RunMismatch(
            f"the runs cover different docs: {a.path.name} has {len(a.doc_ids)}, {b.path.name} has {len(b.doc_ids)}; "
            f"{len(only_a)} doc ids only in the first ({_examples(only_a)}), {len(only_b)} only in the second "
            f"({_examples(only_b)}). Compare runs over the same docs (same data, no --limit difference)."
        )
    compared = []
    for kind, fa, fb in (("doc_hash", a.doc_hash, b.doc_hash), ("doc id", a.doc_key, b.doc_key),
                         ("image", a.doc_image or [None] * len(a.doc_ids), b.doc_image or [None] * len(b.doc_ids))):
        if None in fa or None in fb:
            continue
        differ = [i for i, x, y in zip(a.doc_ids, fa, fb) if x != y]
        if differ:
            first = a.doc_ids.index(differ[0])
            raise RunMismatch(
                f"the runs scored different docs at the same positions: {len(differ)} of {len(a.doc_ids)} docs differ "
                f"by {kind} (doc_id {_examples(differ)}): doc_id {differ[0]} is {fa[first]!r} in {a.path.name} and "
                f"{fb[first]!r} in {b.path.name}. They were evaluated on different data, data versions or orders"
                + (" (doc_hash also changes when the prepared data sits under another path)" if kind == "doc_hash" else "")
                + "; evaluate both models on the same prepared data."
            )
        compared.append(kind)
    if not compared:
        raise RunMismatch("the samples carry no informative doc_hash, doc ids or images: the docs cannot be matched")
    return compared
