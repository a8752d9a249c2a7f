"""transformers backend: batched ``generate`` with each answer's verdict score read from its own logits,
and loglikelihood of a continuation from one forward pass."""

from __future__ import annotations

import threading
from functools import cached_property

import torch
from loguru import logger
from lmms_eval.api.instance import TokenCounts
from transformers import LogitsProcessorList

from fakevlm_model.backends.base import Backend
from fakevlm_model.rows import Batch, Generated, Likelihood, continuation_text, describe
from fakevlm_model.verdict import VerdictRecorder, answer_token_start, verdict_token_ids


class HfBackend(Backend):
    """A LLaVA-format ``transformers`` model; the processor pads on the left."""

    def __init__(self, model, processor, prompt_format: str, *, device: torch.device, dtype: torch.dtype):
        super().__init__(processor, prompt_format)
        self.model = model
        self.device = device
        self.dtype = dtype
        self.tokenizer = processor.tokenizer
        # The prefetch thread encodes while this one decodes; a fast tokenizer is not safe to share unguarded.
        self._tokenizer_lock = threading.Lock()

    # ------------------------------------------------------------ preparation (may run in the prefetch thread)

    def prepare_generation(self, batch: Batch) -> None:
        self.encode(batch, [row.prompt.text for row in batch.rows])

    def prepare_loglikelihood(self, batch: Batch) -> None:
        """Prompt + continuation as one text per row; ``targets``: the continuation's token ids."""
        texts = []
        for row in batch.rows:
            context, continuation = _move_trailing_space(row.prompt.text, continuation_text(row.payload, row.doc))
            special = row.prompt.add_special_tokens
            with self._tokenizer_lock:
                whole = self.tokenizer.encode(context + continuation, add_special_tokens=special)
                head = self.tokenizer.encode(context, add_special_tokens=special)
            batch.targets[row.index] = whole[len(head) :]
            texts.append(context + continuation)
        self.encode(batch, texts)

    def encode(self, batch: Batch, texts: list[str]) -> None:
        """Run the processor on the batch; if it fails, find the rows that make it fail and set them aside."""
        try:
            batch.inputs = self._encode(batch.rows, texts) if batch.rows else None
            return
        except Exception as exc:
            if len(batch.rows) == 1:
                batch.drop(batch.rows[0], f"preprocessing failed: {describe(exc)}")
                batch.inputs = None
                return
        kept = []
        for row, text in zip(list(batch.rows), texts):
            try:
                self._encode([row], [text])
                kept.append(text)
            except Exception as exc:
                batch.drop(row, f"preprocessing failed: {describe(exc)}")
        batch.inputs = self._encode(batch.rows, kept) if batch.rows else None

    def _encode(self, rows, texts: list[str]):
        images = [image for row in rows for image in row.images]
        with self._tokenizer_lock:
            return self.processor(
                images=images or None,
                text=texts,
                return_tensors="pt",
                padding=True,
                add_special_tokens=rows[0].prompt.add_special_tokens,
            )

    def _inputs(self, batch: Batch):
        return batch.inputs.to(self.device, dtype=self.dtype)  # casts the pixels only

    # ---------------------------------------------------------------- inference

    @cached_property
    def _verdict_ids(self) -> tuple[list[int], list[int]]:
        real, fake = verdict_token_ids(self.tokenizer)
        if not (real and fake):
            logger.warning("fakevlm: the tokenizer has no single token for 'real' or 'fake'; answers will carry no verdict scores")
        return real, fake

    def generate(self, batch: Batch, settings: dict) -> list[Generated]:
        inputs = self._inputs(batch)
        real, fake = self._verdict_ids
        recorder = VerdictRecorder(real, fake) if settings["num_beams"] == 1 and real and fake else None
        with torch.inference_mode():
            sequences = self.model.generate(**inputs, **settings, logits_processor=LogitsProcessorList([recorder] if recorder else []))
        new_tokens = sequences[:, inputs["input_ids"].shape[1] :].cpu()
        with self._tokenizer_lock:
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            # A reasoning model's verdict is the one after its </think>: the score is read there.
            starts = [answer_token_start(self.tokenizer, tokens, text) for tokens, text in zip(new_tokens, texts)] if recorder else None
        verdicts = recorder.scores_for(new_tokens, starts) if recorder else [None] * len(batch.rows)
        stop_ids = _stop_ids(self.model.generation_config)
        return [
            Generated(text.strip(), TokenCounts(input_tokens=int(mask.sum()), output_tokens=_generated_length(tokens, stop_ids)), verdict)
            for text, verdict, tokens, mask in zip(texts, verdicts, new_tokens, inputs["attention_mask"])
        ]

    def loglikelihood(self, batch: Batch) -> list[Likelihood]:
        """Sum of log-probabilities of each row's continuation (the last tokens of the row: padding is on the left)."""
        inputs = self._inputs(batch)
        with torch.inference_mode():
            logits = self.model(**inputs).logits
        out = []
        for position, row in enumerate(batch.rows):
            continuation = batch.targets[row.index]
            n = len(continuation)
            if n == 0:
                out.append(Likelihood(0.0, True))
                continue
            target = inputs["input_ids"][position, -n:]
            if target.tolist() != continuation:
                raise RuntimeError(f"fakevlm: continuation tokens {continuation} do not end the encoded input {target.tolist()}")
            logprobs = torch.log_softmax(logits[position, -n - 1 : -1].float(), dim=-1)
            picked = logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            out.append(Likelihood(float(picked.sum()), bool((logprobs.argmax(-1) == target).all())))
        return out


def _stop_ids(generation_config) -> set[int]:
    ids = generation_config.eos_token_id
    return set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])


def _generated_length(tokens: torch.Tensor, stop_ids: set[int]) -> int:
    """Tokens generated up to and including the first EOS (the rest is batch padding)."""
    for i, token in enumerate(tokens.tolist()):
        if token in stop_ids:
            return i + 1
    return len(tokens)


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Give the context's trailing spaces to the continuation, so "is a" + " real" tokenises like the answer."""
    stripped = context.rstrip(" ")
    return stripped, context[len(stripped) :] + continuation
