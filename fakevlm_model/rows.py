"""What the ``fakevlm`` request loop and its backends pass each other: rows, batches, one typed answer per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmms_eval.api.instance import TokenCounts

from fakevlm_model.prompts import Prompt
from fakevlm_tasks.glue.images import strict_decoding
from fakevlm_tasks.glue.sample import VerdictScore


class SampleError(Exception):
    """A problem with one sample's input: it is answered empty, the run goes on."""


@dataclass
class Row:
    """One lmms-eval request, unpacked (``payload``: gen kwargs or the continuation); the loop fills in the rest."""

    index: int
    context: str
    payload: Any
    doc_to_visual: Any
    doc_id: int | None
    task: str | None
    split: str | None
    key: Any = None  # how the log names the doc: its ``id`` field, else the doc index
    doc: Any = None
    images: list = field(default_factory=list)
    prompt: Prompt | None = None


@dataclass
class Batch:
    """Rows ready for a backend: ``inputs`` / ``targets`` (per row index) are the backend's own;
    ``failed`` holds the index of each row set aside and why."""

    rows: list[Row]
    failed: dict[int, str] = field(default_factory=dict)
    inputs: Any = None
    targets: dict[int, Any] = field(default_factory=dict)

    def drop(self, row: Row, reason: str) -> None:
        self.rows.remove(row)
        self.failed[row.index] = reason


@dataclass(frozen=True)
class Generated:
    """One row's generated answer with its token counts and verdict score, or why it has none (``failure``)."""

    text: str
    counts: TokenCounts
    verdict: VerdictScore | None = None
    failure: str | None = None

    @classmethod
    def failed(cls, reason: str) -> "Generated":
        return cls("", TokenCounts(output_tokens=0), failure=reason)


@dataclass(frozen=True)
class Likelihood:
    """One row's loglikelihood: the sum of log P(continuation tokens) and whether greedy decoding gives
    them, or why it has none (``failure``: scored -inf)."""

    logprob: float
    greedy: bool
    failure: str | None = None

    @classmethod
    def failed(cls, reason: str) -> "Likelihood":
        return cls(float("-inf"), False, failure=reason)


def describe(exc: BaseException) -> str:
    """One line for the log: our own messages as they are, anything else with its type."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exc, (SampleError, ValueError)) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def load_images(doc_to_visual, doc) -> list:
    """The doc's images, decoded to RGB now, so that a truncated file fails here and not in the batch."""
    if doc_to_visual is None:
        return []
    try:
        visuals = doc_to_visual(doc) or []
    except Exception as exc:
        raise SampleError(f"could not load the image: {describe(exc)}") from exc
    images = []
    for visual in visuals:
        if not hasattr(visual, "convert"):
            raise SampleError(f"unsupported visual of type {type(visual).__name__} (images only)")
        try:
            # A lazily opened image decodes here: strictly, since lmms-eval has set PIL to pad truncated files.
            with strict_decoding():
                images.append(visual.convert("RGB"))
        except Exception as exc:
            raise SampleError(f"corrupt image: {describe(exc)}") from exc
    return images


def continuation_text(target, doc) -> str:
    """A loglikelihood request's continuation: a string, or a function of the doc."""
    value = target(doc) if callable(target) else target
    return value if isinstance(value, str) else str(value)
