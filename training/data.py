"""FakeClue conversation records -> token ids, loss labels and pixels, with bad records counted and skipped.

A record (docs/protocol.md) is ``{"image": relative path, "label": 1 real / 0 fake, "conversations":
[{"from": "human", "value": "<image>Does the image looks real/fake?"}, {"from": "gpt", "value": answer}],
"system_prompt": optional}``. It is rendered with the training template, by default
``fakevlm_model.prompts.TRAIN_TEMPLATE`` (``<s>USER: <image>\\n{question} ASSISTANT: {answer} </s>``):
the image goes to the front of the first human turn (as LLaVA-1.5 did), and only the answer
through the final EOS carries loss.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from .config import ConfigError, DataConfig, TemplateConfig

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
DATA_IMAGE_MARKER = "<image>"
HUMAN_ROLES = ("human", "user")
ASSISTANT_ROLES = ("gpt", "assistant")


class BadRecord(ValueError):
    """A record that cannot be trained on; the message is the reason logged with its id."""


@dataclass(frozen=True)
class Rendered:
    """A conversation as one string, with the character spans that carry loss."""

    text: str
    loss_spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Example:
    """A record that passed the checks: where it came from and its image file."""

    record_id: str
    record: dict
    image_path: Path


@dataclass(frozen=True)
class Skip:
    record_id: str
    reason: str


def record_id(record: Any, source: str, index: int) -> str:
    """How a record is named in logs: its file and position, plus its id or image path when it has one."""
    name = ""
    if isinstance(record, dict):
        name = str(record.get("id") or record.get("image") or "")
    return f"{Path(source).name}#{index}" + (f" ({name})" if name else "")


def verdict_only(answer: str) -> str:
    """The first sentence of a FakeClue answer ("This is a fake image."): the Real/Fake-only ablation."""
    first = answer.strip().split(".")[0].strip()
    if not first:
        raise BadRecord("empty answer")
    return first + "."


def _split_turns(record: dict) -> list[tuple[str, str]]:
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise BadRecord("malformed: no 'conversations' list")
    out = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise BadRecord(f"malformed: turn {i} has no text 'value'")
        role = turn.get("from")
        expected = HUMAN_ROLES if i % 2 == 0 else ASSISTANT_ROLES
        if role not in expected:
            raise BadRecord(f"malformed: turn {i} is from {role!r}, expected one of {list(expected)}")
        out.append((role, turn["value"]))
    if len(out) % 2:
        raise BadRecord("malformed: the conversation does not end with an answer")
    return out


def render(record: dict, template: TemplateConfig, *, image_token: str, eos: str, answer_mode: str = "explanation") -> Rendered:
    """The training text of a conversation and the spans of its answers (each through its EOS)."""
    turns = _split_turns(record)
    markers = sum(value.count(DATA_IMAGE_MARKER) for _, value in turns)
    if markers > 1 or any(DATA_IMAGE_MARKER in value for _, value in turns[1:]):
        raise BadRecord(f"malformed: {markers} image markers; one image, in the first question, is supported")
    system = record.get("system_prompt")
    text = template.system.replace("{system}", system) if system else ""
    before_answer, _, after_answer = template.assistant.partition("{text}")
    eos_offset = after_answer.index("{eos}") + len(eos)
    after_answer = after_answer.replace("{eos}", eos)
    spans = []
    for i, (_, value) in enumerate(turns):
        if i % 2 == 0:
            question = value.replace(DATA_IMAGE_MARKER, "").strip()
            if i == 0:
                question = template.image.replace("{image}", image_token) + question
            text += template.user.replace("{text}", question)
            continue
        answer = verdict_only(value) if answer_mode == "verdict" else value.strip()
        if not answer:
            raise BadRecord(f"empty answer in turn {i}")
        text += before_answer
        start = len(text)
        text += answer + after_answer
        spans.append((start, start + len(answer) + eos_offset))
    return Rendered(text, tuple(spans))


def prompt_template(template: TemplateConfig, *, image_token: str, system: str | None = None) -> str:
    """The first question as a generation prompt, "USER: <image>\\n{question} ASSISTANT:" by default,
    with ``{question}`` left to fill: what the head variants read, and what their checkpoints record."""
    return template.generation_prompt("{question}", image_token, system)


def render_prompt(record: dict, template: TemplateConfig, *, image_token: str) -> str:
    (_, question), _ = _split_turns(record)[:2]
    prompt = prompt_template(template, image_token=image_token, system=record.get("system_prompt"))
    return prompt.replace("{question}", question.replace(DATA_IMAGE_MARKER, "").strip())


def class_label(record: dict) -> int:
    """FakeClue's label (1 real, 0 fake) is the head variants' class index."""
    label = record.get("label")
    if label not in (0, 1) or isinstance(label, bool):
        raise BadRecord(f"no usable label (need 0 fake / 1 real, got {label!r})")
    return int(label)


class Encoder:
    """Turns a record into model inputs the way the model's processor would, plus loss labels.

    The text is tokenized once with offsets (so labels are assigned per token from the answer
    spans), then the single image token is expanded to the processor's number of image tokens.
    """

    def __init__(self, processor, data: DataConfig, *, kind: str = "generative", answer_mode: str = "explanation"):
        self.tokenizer = processor.tokenizer
        self.image_processor = processor.image_processor
        self.image_token = processor.image_token
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(self.image_token)
        self.eos = self.tokenizer.eos_token
        self.template = data.template
        self.max_length = data.max_length
        self.kind = kind
        self.answer_mode = answer_mode
        self.image_seq_length = _image_seq_length(processor)

    def encode_text(self, record: dict) -> dict[str, list[int]]:
        """input_ids, labels (generative) or class_labels (head variants); raises BadRecord."""
        if self.kind == "generative":
            rendered = render(record, self.template, image_token=self.image_token, eos=self.eos, answer_mode=self.answer_mode)
            text, spans = rendered.text, rendered.loss_spans
        else:
            text, spans = render_prompt(record, self.template, image_token=self.image_token), ()
        enc = self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
        ids = enc["input_ids"]
        labels = [
            tok if any(end > lo and start < hi and end > start for lo, hi in spans) else IGNORE_INDEX
            for tok, (start, end) in zip(ids, enc["offset_mapping"])
        ]
        if ids.count(self.image_token_id) != 1:
            raise BadRecord(f"malformed: {ids.count(self.image_token_id)} image tokens after tokenization, expected 1")
        at = ids.index(self.image_token_id)
        n = self.image_seq_length
        ids = ids[:at] + [self.image_token_id] * n + ids[at + 1 :]
        labels = labels[:at] + [IGNORE_INDEX] * n + labels[at + 1 :]
        if len(ids) > self.max_length:
            raise BadRecord(f"too long: {len(ids)} tokens > data.max_length {self.max_length}")
        if self.kind == "generative":
            if all(label == IGNORE_INDEX for label in labels):
                raise BadRecord("no answer token carries loss")
            return {"input_ids": ids, "labels": labels}
        return {"input_ids": ids, "class_labels": class_label(record)}

    def pixels(self, image: Image.Image) -> torch.Tensor:
        return self.image_processor(images=[image], return_tensors="pt")["pixel_values"][0]


def _image_seq_length(processor) -> int:
    """How many tokens the processor expands one image into (576 for LLaVA-1.5 at 336 px)."""
    crop = processor.image_processor.crop_size
    dummy = Image.new("RGB", (crop["width"], crop["height"]))
    ids = processor(images=[dummy], text=[processor.image_token])["input_ids"][0]
    token_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    return int(list(ids).count(token_id))


def load_image(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def read_records(paths: list[str]) -> list[tuple[str, dict]]:
    """(id, record) for every record of every train JSON file, in file order."""
    out = []
    for path in paths:
        try:
            records = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"data.train_json: cannot read {path}: {exc}") from exc
        if not isinstance(records, list):
            raise ConfigError(f"data.train_json: {path} is not a JSON list of FakeClue records")
        out += [(record_id(r, path, i), r) for i, r in enumerate(records)]
    return out


def find_image(record: dict, roots: list[str]) -> Path:
    rel = record.get("image") if isinstance(record, dict) else None
    if not isinstance(rel, str) or not rel:
        raise BadRecord("no image path")
    for root in roots:
        candidate = Path(root) / rel
        if candidate.is_file():
            return candidate
    raise BadRecord(f"image missing: {rel} under none of {roots}")


def check_record(rid: str, record: Any, encoder: Encoder, data: DataConfig) -> Example:
    """Apply every check that can be made before training (raises BadRecord)."""
    if not isinstance(record, dict):
        raise BadRecord(f"malformed: a record is a JSON object, got {type(record).__name__}")
    path = find_image(record, data.image_roots)
    encoder.encode_text(record)
    if data.check_images == "open":
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception as exc:
            raise BadRecord(f"image corrupt: {path}: {exc}") from exc
    return Example(rid, record, path)


def check_records(items: list[tuple[str, Any]], encoder: Encoder, data: DataConfig) -> tuple[list[Example], list[Skip]]:
    kept, skipped = [], []
    for rid, record in items:
        try:
            kept.append(check_record(rid, record, encoder, data))
        except BadRecord as exc:
            skipped.append(Skip(rid, str(exc)))
    return kept, skipped


def summarise_skips(skipped: list[Skip], total: int) -> str:
    counts: dict[str, int] = {}
    for s in skipped:
        key = s.reason.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    return f"{total - len(skipped)} of {total} records kept, {len(skipped)} skipped" + (f" ({parts})" if parts else "")


class FakeClueDataset(torch.utils.data.Dataset):
    """Checked examples -> model inputs. An image that fails to load at training time is logged with
    the record's id and replaced by the next example that loads, so batch shapes (and every rank's
    step count) stay as planned and no epoch stops half-way."""

    def __init__(self, examples: list[Example], encoder: Encoder):
        if not examples:
            raise ValueError("no trainable record left after the checks (see the skipped-record log)")
        self.examples = examples
        self.encoder = encoder
        self.runtime_skips: list[Skip] = []

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        for offset in range(len(self.examples)):
            example = self.examples[(index + offset) % len(self.examples)]
            try:
                image = load_image(example.image_path)
            except Exception as exc:  # noqa: BLE001 - PIL raises many types for a broken file
                skip = Skip(example.record_id, f"image unreadable at training time: {exc}")
                self.runtime_skips.append(skip)
                log.warning("skipping %s: %s (replaced by the next record)", skip.record_id, skip.reason)
                continue
            item = self.encoder.encode_text(example.record)
            item["pixel_values"] = self.encoder.pixels(image)
            return item
        raise RuntimeError("no image of the training set can be loaded any more")


@dataclass
class Collator:
    """Right-pads a batch: pad id in input_ids, 0 in attention_mask, IGNORE_INDEX in labels."""

    pad_token_id: int

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(it["input_ids"]) for it in items)
        batch = {
            "input_ids": torch.full((len(items), width), self.pad_token_id, dtype=torch.long),
            "attention_mask": torch.zeros((len(items), width), dtype=torch.long),
            "pixel_values": torch.stack([it["pixel_values"] for it in items]),
        }
        if "labels" in items[0]:
            batch["labels"] = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
        else:
            batch["class_labels"] = torch.tensor([it["class_labels"] for it in items], dtype=torch.long)
        for row, it in enumerate(items):
            n = len(it["input_ids"])
            batch["input_ids"][row, :n] = torch.tensor(it["input_ids"])
            batch["attention_mask"][row, :n] = 1
            if "labels" in batch:
                batch["labels"][row, :n] = torch.tensor(it["labels"])
        return batch
