"""The ``fakevlm`` lmms-eval model: FakeVLM (or any LLaVA-format checkpoint) with batched, scored generation.

Model args (``--model_args key=value,...``), defaults in brackets:

* ``pretrained`` [``lingcco/fakeVLM``]: hub id or local folder in transformers' LLaVA
  format (convert original-LLaVA checkpoints with ``fakevlm-convert``).
* ``processor`` [the checkpoint's own, else ``llava-hf/llava-1.5-7b-hf`` with a warning].
* ``prompt_format`` [``raw``]: ``raw`` | ``train`` | ``chat`` (:mod:`fakevlm_model.prompts`).
* ``device`` [``cuda`` if available, else ``cpu``; the local GPU under ``accelerate launch``].
* ``dtype`` [``auto``: bfloat16 on CUDA, float32 on CPU].
* ``batch_size`` [1], ``max_new_tokens`` [256; wins over a task's ``max_new_tokens``; 0 or less is refused].
* ``attn_implementation`` [FlashAttention-2 when installed on CUDA, else ``sdpa``].
* ``backend`` [``hf``]: ``vllm`` runs generation through vLLM (untested here).
* ``prefetch`` [on with CUDA]: prepare the next batch's images in a background thread.
* ``revision`` [none]: hub revision of ``pretrained``.

This module is the request loop; the model runs in a backend (:mod:`fakevlm_model.backends`).
A checkpoint written by the training recipe's class-head or linear-probe variants (its config
has ``fakevlm_head``) is evaluated through its head (:mod:`fakevlm_model.backends.head`).

Each answer is a :class:`fakevlm_tasks.glue.sample.Answer` carrying its verdict score. A sample that
cannot be answered (missing or corrupt image, empty prompt, CUDA out of memory even alone, no
text generated) is logged with its doc id and answered ``""`` with the reason on the answer
(loglikelihood: -inf); ``FakeVLM.failures`` lists them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import torch
from loguru import logger
from lmms_eval.api.instance import GenerationResult
from lmms_eval.api.model import lmms

from fakevlm_model import loading
from fakevlm_model.backends import BACKENDS, load_backend
from fakevlm_model.batching import plan_batches, settings_key
from fakevlm_model.generation import generation_settings, stop_strings, token_budget, truncate
from fakevlm_model.prompts import PROMPT_FORMATS, Prompt
from fakevlm_model.rows import Batch, Generated, Likelihood, Row, describe, load_images
from fakevlm_tasks.glue import sample

DEFAULT_PRETRAINED = "lingcco/fakeVLM"


@dataclass(frozen=True)
class FailedSample:
    """A sample the adapter could not answer: its task and doc key (for the log) and why."""

    task: str
    key: str
    failure: sample.SampleFailure


@dataclass(frozen=True)
class _Stage:
    """One kind of request: what the backend prepares and runs, and the answer of a failed row."""

    name: str  # the failure's stage: "generate" | "loglikelihood"
    request_type: str  # lmms-eval's name for the requests, in the log
    prepare: Callable[[Batch], None]
    infer: Callable[[Batch], list]
    answer: type  # Generated | Likelihood
    empty_context_ok: bool  # lmms-eval's unconditional loglikelihood requests have no context


class FakeVLM(lmms):
    """LLaVA-format detector for lmms-eval: ``generate_until`` and ``loglikelihood``."""

    def __init__(
        self,
        pretrained: str = DEFAULT_PRETRAINED,
        processor: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int | str = 1,
        max_new_tokens: int | None = None,
        attn_implementation: str | None = None,
        prompt_format: str = "raw",
        backend: str = "hf",
        prefetch: bool | None = None,
        revision: str | None = None,
        max_batch_size: int | None = None,  # passed by lmms-eval's CLI; batches are fixed-size here
        **unknown,
    ) -> None:
        super().__init__()
        if unknown:
            raise TypeError(f"fakevlm: unknown model args {sorted(unknown)}; see fakevlm_model.fakevlm for the list")
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"fakevlm: prompt_format={prompt_format!r}; choose one of {', '.join(PROMPT_FORMATS)}")
        if backend not in BACKENDS:
            raise ValueError(f"fakevlm: backend={backend!r}; choose one of {', '.join(BACKENDS)}")
        try:
            self.batch_size_per_gpu = int(batch_size)
        except (TypeError, ValueError):
            raise ValueError(f"fakevlm: batch_size={batch_size!r} must be a whole number (no 'auto')") from None
        if self.batch_size_per_gpu < 1:
            raise ValueError(f"fakevlm: batch_size must be at least 1, got {batch_size}")
        max_new_tokens = token_budget(max_new_tokens, "fakevlm:")

        from accelerate import Accelerator

        self.accelerator = Accelerator()
        placement = loading.plan_placement(self.accelerator.state, device, torch.cuda.is_available())
        self._device, self._rank, self._world_size = placement.device, placement.rank, placement.world_size
        self.dtype = loading.resolve_dtype(dtype, self._device)
        self.pretrained = pretrained
        self.prompt_format = prompt_format
        self.max_new_tokens = max_new_tokens
        self.prefetch = self._device.type == "cuda" if prefetch is None else bool(prefetch)
        self.failures: list[FailedSample] = []
        self._batch_cap = self.batch_size_per_gpu  # lowered after a CUDA out-of-memory error

        self.processor = loading.load_processor(pretrained, processor, revision)
        self._tokenizer = self.processor.tokenizer
        self._backend = load_backend(
            backend, pretrained, self.processor, prompt_format=prompt_format, device=self._device, dtype=self.dtype,
            attn_implementation=attn_implementation, revision=revision,
        )  # fmt: skip
        if self._world_size > 1 and self.accelerator.is_local_main_process:
            logger.info(f"fakevlm: data parallel over {self._world_size} processes, one model copy each")
        logger.info(
            f"fakevlm: {pretrained} on {self._device} ({self.dtype}), prompt_format={prompt_format}, "
            f"batch_size={self.batch_size_per_gpu}, backend={backend}"
        )

    # lmms-eval reads these.
    @property
    def model(self):
        return self._backend.model

    @property
    def tokenizer(self):
        return self._tokenizer

    @property
    def device(self):
        return self._device

    @property
    def batch_size(self):
        return self.batch_size_per_gpu

    @property
    def failure_count(self) -> int:
        return len(self.failures)

    # ---------------------------------------------------------------- requests

    def generate_until(self, requests) -> list[GenerationResult]:
        def infer(batch: Batch) -> list[Generated]:
            return self._backend.generate(batch, generation_settings(batch.rows[0].payload, self.max_new_tokens))

        stage = _Stage("generate", "generate_until", self._backend.prepare_generation, infer, Generated, empty_context_ok=False)
        rows = self._unpack(requests)
        answers = self._answer(rows, [settings_key(r.payload) for r in rows], stage)
        return self._hand_back(stage, rows, [self._finish(row, answers[row.index]) for row in rows])

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        if self._backend.no_loglikelihood:
            raise NotImplementedError(self._backend.no_loglikelihood)
        backend = self._backend
        stage = _Stage("loglikelihood", "loglikelihood", backend.prepare_loglikelihood, backend.loglikelihood, Likelihood, empty_context_ok=True)
        rows = self._unpack(requests)
        answers = self._answer(rows, [""] * len(rows), stage)
        return self._hand_back(stage, rows, [answers[row.index] for row in rows])

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("fakevlm answers single-turn questions only")

    def _unpack(self, requests) -> list[Row]:
        rows = []
        for index, request in enumerate(requests):
            if len(request.args) == 2:  # lmms-eval's unconditional multiple-choice request: text only
                rows.append(Row(index, request.args[0], request.args[1], None, None, None, None, key=index))
            else:
                rows.append(Row(index, *request.args))
        return rows

    def _answer(self, rows: list[Row], groups: list[str], stage: _Stage) -> dict[int, Generated | Likelihood]:
        """Every row's answer by row index: batched by ``groups`` and length, each batch prepared
        while the one before runs (with prefetch on), CUDA out-of-memory met by smaller batches."""
        lengths = [len(self._tokenizer.encode(row.context, add_special_tokens=False)) for row in rows]
        batches = [[rows[i] for i in batch] for batch in plan_batches(lengths, groups, self.batch_size_per_gpu)]
        answers: dict[int, Generated | Likelihood] = {}
        for batch, prepared in self._prefetched(batches, partial(self._prepare, stage=stage)):
            self._run_in_chunks(batch, prepared, stage, answers)
        return answers

    def _prepare(self, rows: list[Row], stage: _Stage) -> Batch:
        """Each row's doc, images and prompt, then the backend's inputs; a row that fails is set aside with why."""
        batch = Batch(rows=[])
        for row in rows:
            try:
                row.doc = self.task_dict[row.task][row.split][row.doc_id] if row.task is not None else None
                if row.key is None:
                    row.key = row.doc.get("id", row.doc_id) if isinstance(row.doc, Mapping) else row.doc_id
                row.images = load_images(row.doc_to_visual, row.doc)
                empty = stage.empty_context_ok and not row.context
                row.prompt = Prompt("") if empty else self._backend.render(row.context, len(row.images))
            except Exception as exc:  # one bad sample must not stop the run
                batch.failed[row.index] = describe(exc)
                continue
            batch.rows.append(row)
        stage.prepare(batch)
        return batch

    def _prefetched(self, batches: list[list[Row]], prepare):
        """Yield ``(batch, prepared)``; with prefetch on, the next batch is prepared while this one runs."""
        if not self.prefetch or len(batches) < 2:
            for batch in batches:
                yield batch, None
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fakevlm-prefetch") as pool:
            pending = pool.submit(prepare, batches[0])
            for i, batch in enumerate(batches):
                prepared = pending.result()
                if i + 1 < len(batches):
                    pending = pool.submit(prepare, batches[i + 1])
                yield batch, prepared

    def _run_in_chunks(self, rows: list[Row], prepared: Batch | None, stage: _Stage, answers: dict) -> None:
        """Run ``rows`` in chunks of at most the current batch cap, into ``answers``.

        On CUDA out-of-memory the cap is halved for the rest of the run and the chunk is run
        again in smaller pieces, prepared again; a single row that still does not fit fails.
        ``prepared`` (all of ``rows``, already prepared) is used only when ``rows`` is one chunk.
        """
        start = 0
        while start < len(rows):
            chunk = rows[start : start + self._batch_cap]
            start += len(chunk)
            try:
                batch = prepared if prepared is not None and len(chunk) == len(rows) else self._prepare(chunk, stage)
                outputs = stage.infer(batch) if batch.rows else []
            except torch.cuda.OutOfMemoryError as exc:
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                if len(chunk) == 1:
                    answers[chunk[0].index] = stage.answer.failed(f"CUDA out of memory even at batch size 1 ({describe(exc)})")
                    continue
                self._batch_cap = min(self._batch_cap, (len(chunk) + 1) // 2)
                logger.warning(f"fakevlm: CUDA out of memory on a batch of {len(chunk)}; retrying it and the rest of the run in batches of {self._batch_cap}")
                self._run_in_chunks(chunk, None, stage, answers)
                continue
            answers.update({index: stage.answer.failed(reason) for index, reason in batch.failed.items()})
            answers.update({row.index: output for row, output in zip(batch.rows, outputs)})

    def _finish(self, row: Row, answer: Generated) -> Generated:
        """The answer cut at the task's stop strings (its EOS ended generation); one left without text fails."""
        if answer.failure is not None:
            return answer
        text = truncate(answer.text, stop_strings(row.payload, self._tokenizer.eos_token))
        return replace(answer, text=text) if text.strip() else Generated.failed("generation yielded no text")

    def _hand_back(self, stage: _Stage, rows: list[Row], answers: list) -> list:
        """The one place answers leave the adapter, in request order: failures logged and listed in ``self.failures``."""
        new = [
            FailedSample(row.task or "", str(row.key if row.key is not None else row.doc_id), sample.SampleFailure(answer.failure, stage.name))
            for row, answer in zip(rows, answers)
            if answer.failure is not None
        ]
        outcome = "answered with an empty string" if stage.answer is Generated else "scored -inf"
        for failed in new:
            logger.error(f"fakevlm: {failed.task} doc {failed.key}: {failed.failure.reason}; {outcome}")
        self.failures.extend(new)
        if new:
            reasons = Counter(f.failure.reason.split(":")[0] for f in new)
            summary = ", ".join(f"{n} x {reason}" for reason, n in reasons.most_common())
            logger.warning(f"fakevlm: {len(new)} of {len(rows)} {stage.request_type} requests failed ({summary}); each is logged above with its doc")
        return [_result(answer, stage.name) for answer in answers]


def _result(answer: Generated | Likelihood, stage: str):
    """lmms-eval's result for one answer; a generated one carries its verdict score or its failure."""
    if isinstance(answer, Likelihood):
        return answer.logprob, answer.greedy
    if answer.failure is not None:
        return GenerationResult(sample.Answer.failed(answer.failure, stage), answer.counts)
    return GenerationResult(sample.Answer(answer.text, verdict=answer.verdict), answer.counts)
