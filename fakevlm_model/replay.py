"""The ``replay`` lmms-eval model: answers produced elsewhere, read from a prediction file and scored by the same tasks.

``--model replay --model_args predictions=FILE[,name=LABEL][,sha256=HEX]`` answers each
request from FILE instead of running a model, so a task's docs, parser, metrics,
per-sample record, statistics, leaderboard and site apply unchanged. ``name`` labels the
run on the leaderboard [the file's name]; ``sha256``, when given, must be the file's (a
guard against scoring a file that changed since). The formats, told apart by content:

* plain JSONL: one object a line, ``id`` or ``image`` (a path), then ``answer``; optional
  ``p_real`` and ``p_fake``, or ``log_odds``, for AUC; optional ``task`` to answer one task only;
* an OpenAI Batch API output file (JSONL with ``custom_id`` and ``response``), as
  ``fakevlm-batch export`` requests it: ``custom_id`` is the doc id;
* FakeVLM's own outputs: ``scripts/eval.py``'s JSON list of ``{"image_path", "output"}``,
  ``scripts/eval_vllm.py``'s list of ``{"id", "caption"}``;
* VLMEvalKit's prediction table (``.xlsx``, ``.tsv``, ``.csv``): ``prediction`` is the
  answer (its ``answer`` column is the ground truth), ``index`` or ``id``, ``image_path``
  and/or ``image`` (base64, or the ``index`` of a row with the same image).

Each doc is matched by its id, then by its image path relative to the dataset root (the
prediction's path may carry any prefix before it), then by a hash of the image's pixels
(a prediction's image as a local file or base64). An image several docs ask about (a
DD-VQA image, LOKI's two judgment questions) is matched by id only. What matched how is
logged per task; a doc with no prediction is a failed sample (counted by ``failed_rate``),
never a guess; a prediction that matches no doc is listed; two predictions for one doc
stop the run with an error naming both.

lmms-eval's own ``from_log`` model replays only its own logs, by doc index and without
verdict scores, hence this model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms

from fakevlm_tasks.glue.sample import Answer, VerdictScore
from fakevlm_tasks.scoring.metrics import p_real_from_log_odds

TABLE_SUFFIXES = (".xlsx", ".xls", ".tsv", ".csv")
#: How a prediction found its doc, in the order tried.
BY_ID, BY_PATH, BY_CONTENT = "id", "image path", "image content"
#: Unmatched predictions named one by one in the log; the rest are counted.
LISTED = 20


class ReplayError(ValueError):
    """A prediction file that cannot be replayed; the message names the file and the record."""


@dataclass
class Prediction:
    """One answer read from the file: where it is (``FILE line 3``), how it names its doc, its text and score.

    ``failure`` is set instead of an answer when the file says the request failed (a batch error).
    """

    where: str
    answer: str
    id: str | None = None
    image: str | None = None
    image_bytes: bytes | None = None
    task: str | None = None
    score: VerdictScore | None = None
    failure: str | None = None

    def names(self) -> str:
        return f"{self.where} ({'id ' + repr(self.id) if self.id is not None else 'image ' + repr(self.image)})"


# ------------------------------------------------------------------ reading the file


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _absent(value) -> bool:
    """Missing, null or a table's empty cell (NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _number(obj: dict, key: str, where: str) -> float | None:
    value = obj.get(key)
    if _absent(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReplayError(f"{where}: {key}={value!r} is not a number") from None
    if math.isnan(number):
        raise ReplayError(f"{where}: {key} is NaN")
    return number


def verdict_score(obj: dict, where: str) -> VerdictScore | None:
    """The verdict score a record gives: ``p_real`` and ``p_fake``, or ``log_odds`` (kept exactly); None without."""
    p_real, p_fake, log_odds = (_number(obj, key, where) for key in ("p_real", "p_fake", "log_odds"))
    if (p_real is None) != (p_fake is None):
        raise ReplayError(f"{where}: give both p_real and p_fake (or log_odds), not one of them")
    if p_real is not None:
        if log_odds is not None:
            raise ReplayError(f"{where}: give p_real and p_fake, or log_odds, not both")
        if p_real < 0 or p_fake < 0:
            raise ReplayError(f"{where}: p_real and p_fake must not be negative")
        return VerdictScore(p_real=p_real, p_fake=p_fake)
    if log_odds is None:
        return None
    p = p_real_from_log_odds(log_odds)
    return VerdictScore(p_real=p, p_fake=1.0 - p, recorded_log_odds=log_odds)


def _text(value) -> str | None:
    return None if _absent(value) else str(value)


def _plain(obj: dict, where: str) -> Prediction:
    if not isinstance(obj.get("answer"), str):
        raise ReplayError(f"{where}: no 'answer' text (a plain prediction is {{\"id\" or \"image\", \"answer\"}})")
    return _named(obj, where, obj["answer"], image=obj.get("image") or obj.get("image_path"))


def _named(obj: dict, where: str, answer: str, *, image=None, id_key: str = "id") -> Prediction:
    pred = Prediction(where, answer, id=_text(obj.get(id_key)), image=_text(image), task=_text(obj.get("task")),
                      score=verdict_score(obj, where))
    if pred.id is None and pred.image is None:
        raise ReplayError(f"{where}: names no doc (give 'id' or 'image')")
    return pred


def _batch_output(obj: dict, where: str) -> Prediction:
    """One line of an OpenAI Batch API output file: the answer, or the failure the batch reports."""
    doc_id = _text(obj.get("custom_id"))
    if doc_id is None:
        raise ReplayError(f"{where}: a batch output line without custom_id")
    response, error = obj.get("response") or {}, obj.get("error")
    status = response.get("status_code")
    if error or status != 200:
        detail = (error or {}).get("message") if isinstance(error, dict) else error
        return Prediction(where, "", id=doc_id, failure=f"the batch request failed (status {status}): {detail or response.get('body')}")
    try:
        content = response["body"]["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ReplayError(f"{where}: response.body holds no choices[0].message.content") from None
    if not isinstance(content, str):
        return Prediction(where, "", id=doc_id, failure="the batch response has no text")
    return Prediction(where, content, id=doc_id)


def _read_jsonl(path: Path) -> list[Prediction]:
    out = []
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReplayError(f"{where}: not JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise ReplayError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            out.append(_batch_output(obj, where) if "custom_id" in obj else _plain(obj, where))
    return out


def _read_json(path: Path) -> list[Prediction]:
    """FakeVLM's ``scripts/eval.py`` (``image_path``/``output``) or ``eval_vllm.py`` (``id``/``caption``) list, or plain records."""
    try:
        items = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise ReplayError(f"{path}: expected a JSON list of predictions, got {type(items).__name__}")
    out = []
    for i, obj in enumerate(items):
        where = f"{path.name} item {i}"
        if not isinstance(obj, dict):
            raise ReplayError(f"{where}: expected an object, got {type(obj).__name__}")
        if isinstance(obj.get("output"), str):
            out.append(_named(obj, where, obj["output"], image=obj.get("image_path")))
        elif isinstance(obj.get("caption"), str):
            out.append(_named(obj, where, obj["caption"], image=obj.get("image_path")))
        else:
            out.append(_plain(obj, where))
    return out


def _decoded(value: str) -> bytes | None:
    """The bytes of a base64 image (VLMEvalKit's ``image`` column, or a data URL); None if it is not base64."""
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _read_table(path: Path) -> list[Prediction]:
    """VLMEvalKit's prediction table: ``prediction`` is the answer; ``answer`` is its ground truth and is ignored."""
    import pandas as pd

    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            table = pd.read_excel(path, dtype=object)
        else:
            table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=object, keep_default_na=False)
    except Exception as exc:  # pandas and openpyxl raise many types for a broken file
        raise ReplayError(f"{path}: cannot be read as a table ({type(exc).__name__}: {exc})") from None
    if "prediction" not in table.columns:
        raise ReplayError(f"{path}: no 'prediction' column (VLMEvalKit's prediction tables have one); columns: {list(table.columns)}")
    rows = table.to_dict("records")
    id_key = "id" if "id" in table.columns else "index"
    images_by_index = {str(r.get("index")): r.get("image") for r in rows if "index" in r}
    out = []
    for i, row in enumerate(rows):
        where = f"{path.name} row {i + 2}"  # row 1 is the header
        image = _text(row.get("image"))
        if image is not None and image.isdigit() and image in images_by_index:  # VLMEvalKit stores a repeated image once
            image = _text(images_by_index[image])
        pred = Prediction(where, "" if _absent(row["prediction"]) else str(row["prediction"]), id=_text(row.get(id_key)),
                          image=_text(row.get("image_path")), task=_text(row.get("task")), score=verdict_score(row, where))
        if image is not None:
            pred.image_bytes = _decoded(image)
            if pred.image_bytes is None and pred.image is None:
                pred.image = image  # a path in the image column
        if pred.id is None and pred.image is None and pred.image_bytes is None:
            raise ReplayError(f"{where}: names no doc (no {id_key}, image_path or image)")
        out.append(pred)
    return out


def read_predictions(path: str | Path) -> list[Prediction]:
    """Every prediction in the file, in file order; :class:`ReplayError` names the file and record for anything unreadable."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ReplayError(f"replay: no prediction file at {path}")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return _read_table(path)
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    raise ReplayError(f"replay: {path}: unknown format {suffix!r}; expected .jsonl, .json or a table ({', '.join(TABLE_SUFFIXES)})")


# ------------------------------------------------------------------ matching docs


def _norm(path: str) -> str:
    return path.replace("\\", "/").removeprefix("./")


def pixel_hash(image) -> str:
    """A hash of an image's decoded RGB pixels: the same for a re-encoded copy in a lossless format."""
    rgb = image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def _hash_of(source) -> str | None:
    """The pixel hash of a file path or image bytes; None if it is not a readable image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            return pixel_hash(im)
    except (OSError, ValueError):
        return None


@dataclass
class Matching:
    """One task's docs matched to predictions: ``answers[doc index]`` and how each was found."""

    answers: dict[int, Prediction]
    how: Counter
    ambiguous: list[str]


class DocIndex:
    """A task's docs by id, by image path relative to the dataset root, and (lazily) by pixel hash."""

    def __init__(self, docs):
        self.docs = docs
        self.by_id: dict[str, int] = {}
        self.by_path: dict[str, list[int]] = defaultdict(list)
        paths = {i: doc.get("image") for i, doc in enumerate(docs) if isinstance(doc.get("image"), str)}
        root = os.path.commonpath([os.path.dirname(p) for p in paths.values()]) if paths else ""
        for i, doc in enumerate(docs):
            self.by_id[str(doc.get("id", i))] = i
            if i in paths:
                # FakeClue keeps its annotation's own relative path; elsewhere it is relative to the images' common folder.
                relative = doc.get("source_image") or os.path.relpath(paths[i], root)
                self.by_path[_norm(str(relative))].append(i)
                if _norm(paths[i]) != _norm(str(relative)):
                    self.by_path[_norm(paths[i])].append(i)
        self._by_hash: dict[str, list[int]] | None = None
        self._paths = paths

    def _hashes(self) -> dict[str, list[int]]:
        if self._by_hash is None:
            self._by_hash = defaultdict(list)
            for i, path in self._paths.items():
                digest = _hash_of(path)
                if digest is not None:
                    self._by_hash[digest].append(i)
        return self._by_hash

    def find(self, pred: Prediction) -> tuple[int | None, str | None, str | None]:
        """(doc index, how, why not found) for one prediction."""
        if pred.id is not None and pred.id in self.by_id:
            return self.by_id[pred.id], BY_ID, None
        if pred.image is not None:
            parts = _norm(pred.image).split("/")
            for start in range(len(parts)):  # the longest tail of the path that is a doc's relative path
                found = self.by_path.get("/".join(parts[start:]))
                if found:
                    if len(found) > 1:
                        return None, None, f"its image is asked about in {len(found)} docs; name the doc by id"
                    return found[0], BY_PATH, None
        content = pred.image_bytes if pred.image_bytes is not None else pred.image if pred.image and os.path.isfile(pred.image) else None
        if content is not None:
            digest = _hash_of(content)
            found = self._hashes().get(digest) if digest else None
            if found:
                if len(found) > 1:
                    return None, None, f"its image is asked about in {len(found)} docs; name the doc by id"
                return found[0], BY_CONTENT, None
        return None, None, None


def match(task: str, docs, predictions: list[Prediction]) -> Matching:
    """Each doc's prediction; two predictions for one doc raise :class:`ReplayError` naming both."""
    index = DocIndex(docs)
    answers: dict[int, Prediction] = {}
    how: Counter = Counter()
    ambiguous = []
    for pred in predictions:
        if pred.task is not None and pred.task != task:
            continue
        doc, found_by, why_not = index.find(pred)
        if why_not:
            ambiguous.append(f"{pred.names()}: {why_not}")
        if doc is None:
            continue
        if doc in answers:
            raise ReplayError(
                f"replay: task {task!r}, doc {docs[doc].get('id', doc)!r} has two predictions: "
                f"{answers[doc].names()} and {pred.names()}; keep one"
            )
        answers[doc] = pred
        how[found_by] += 1
    return Matching(answers, how, ambiguous)


# ---------------------------------------------------------------------- the model


class Replay(lmms):
    """Answers from a prediction file: ``generate_until`` only (a file holds generated answers, no loglikelihoods)."""

    def __init__(
        self,
        predictions: str | None = None,
        name: str | None = None,
        sha256: str | None = None,
        batch_size: int | str | None = None,  # passed by lmms-eval's CLI; nothing is batched here
        max_batch_size: int | None = None,
        device: str | None = None,
        **unknown,
    ) -> None:
        super().__init__()
        if unknown:
            raise TypeError(f"replay: unknown model args {sorted(unknown)}; it takes predictions=FILE[,name=LABEL][,sha256=HEX]")
        if not predictions:
            raise ReplayError("replay: give the prediction file: --model_args predictions=FILE[,name=LABEL]")
        self.path = Path(predictions).expanduser().resolve()
        self.predictions = read_predictions(self.path)
        self.sha256 = file_sha256(self.path)
        if sha256 and sha256.lower() != self.sha256:
            raise ReplayError(f"replay: {self.path} has sha256 {self.sha256}, not the {sha256} given; the file changed")
        self.name = name or self.path.name
        #: Per task: how many docs were matched how, and how many had no prediction.
        self.report: dict[str, dict[str, int]] = {}
        logger.info(f"replay: {len(self.predictions)} predictions from {self.path} (sha256 {self.sha256}) as {self.name!r}")

    def generate_until(self, requests) -> list[GenerationResult]:
        matchings: dict[tuple[str, str], Matching] = {}
        for request in requests:
            *_, task, split = request.args
            if (task, split) not in matchings:
                matchings[(task, split)] = match(task, self.task_dict[task][split], self.predictions)
        results = []
        for request in requests:
            _, _, _, doc_id, task, split = request.args
            pred = matchings[(task, split)].answers.get(doc_id)
            if pred is None:
                answer = Answer.failed(f"no prediction for this doc in {self.path.name}")
            elif pred.failure is not None:
                answer = Answer.failed(pred.failure)
            else:
                answer = Answer(pred.answer, verdict=pred.score)
            results.append(GenerationResult(answer, TokenCounts()))
        self._log(matchings)
        return results

    def _log(self, matchings: dict[tuple[str, str], Matching]) -> None:
        """What matched how per task, the docs left without a prediction, and the predictions no doc took."""
        used = set()
        for (task, split), m in matchings.items():
            missing = len(self.task_dict[task][split]) - len(m.answers)
            self.report[task] = {**m.how, "no prediction": missing}
            used.update(id(p) for p in m.answers.values())
            found = ", ".join(f"{n} by {how}" for how, n in m.how.most_common()) or "none"
            logger.info(f"replay: {task}: {len(m.answers)} docs answered from {self.path.name} ({found}); {missing} without a prediction")
            if missing:
                logger.warning(f"replay: {task}: {missing} docs have no prediction in {self.path.name}; each is a failed sample")
            for line in m.ambiguous[:LISTED]:
                logger.warning(f"replay: {task}: {line}")
        self.unmatched = [p for p in self.predictions if id(p) not in used]
        if self.unmatched:
            listed = "\n".join(f"  {p.names()}" for p in self.unmatched[:LISTED])
            more = f"\n  ... and {len(self.unmatched) - LISTED} more" if len(self.unmatched) > LISTED else ""
            logger.warning(f"replay: {len(self.unmatched)} predictions in {self.path.name} match no doc of this run:\n{listed}{more}")

    def loglikelihood(self, requests):
        raise ReplayError("replay: a prediction file holds generated answers, not loglikelihoods; "
                          "multiple-choice (loglikelihood) tasks cannot be replayed")

    def generate_until_multi_round(self, requests):
        raise ReplayError("replay: multi-round requests cannot be replayed from a prediction file")
