"""The ``fakevlm`` lmms-eval model: FakeVLM (or any LLaVA-format checkpoint) with batched, scored generation.

Model args (``--model_args key=value,...``), defaults in brackets:

* ``pretrained`` [``lingcco/fakeVLM``]: hub id or local folder in transformers' LLaVA
  format (convert original-LLaVA checkpoints with ``fakevlm-convert``).
* ``processor`` [the checkpoint's own, else ``llava-hf/llava-1.5-7b-hf`` with a warning].
* ``prompt_format`` [``raw``]: ``raw`` | ``train`` | ``chat`` (:mod:`fakevlm_model.prompts`).
* ``device`` [``cuda`` if available, else ``cpu``; the local GPU under ``accelerate launch``].
* ``dtype`` [``auto``: bfloat16 on CUDA, float32 on CPU].
* ``batch_size`` [1], ``max_new_tokens`` [256; wins over a task's ``max_new_tokens``].
* ``attn_implementation`` [FlashAttention-2 when installed on CUDA, else ``sdpa``].
* ``backend`` [``hf``]: ``vllm`` runs generation through vLLM (untested here).
* ``prefetch`` [on with CUDA]: prepare the next batch's images in a background thread.
* ``revision`` [none]: hub revision of ``pretrained``.

A checkpoint written by the training recipe's class-head or linear-probe variants (its
config has ``fakevlm_head``) is evaluated in head mode: the head's own prompt, the answer
"This is a real image." or "This is a fake image." by P(real) >= 0.5, P(real) published
as the verdict score, and loglikelihood of a "real"/"fake" continuation = log P(class).

Every sample that cannot be answered (missing or corrupt image, empty prompt, CUDA out
of memory even alone, no text generated) is logged, answered with ``""`` and recorded
in :mod:`fakevlm_tasks.scores`, which also receives each answer's verdict score.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
from loguru import logger
from transformers import LogitsProcessorList
from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms

from fakevlm_model import loading
from fakevlm_model.batching import plan_batches, settings_key
from fakevlm_model.prompts import PROMPT_FORMATS, Prompt, render_head_prompt, render_prompt
from fakevlm_model.verdict import VerdictRecorder, verdict_token_ids
from fakevlm_tasks import scores

DEFAULT_PRETRAINED = "lingcco/fakeVLM"
DEFAULT_MAX_NEW_TOKENS = 256
BACKENDS = ("hf", "vllm")


class SampleError(Exception):
    """A problem with one sample's input: it is answered empty, the run goes on."""


@dataclass
class _Request:
    """One lmms-eval request, unpacked (``payload``: gen kwargs or the continuation)."""

    index: int
    context: str
    payload: object
    doc_to_visual: object
    doc_id: int | None
    task: str | None
    split: str | None
    key: object = None
    images: list = field(default_factory=list)
    prompt: Prompt | None = None


@dataclass
class _Prepared:
    """A batch ready for the model: the requests that survived preparation and their tensors."""

    rows: list[_Request]
    inputs: object = None
    failed: list[tuple[_Request, str]] = field(default_factory=list)


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

        from accelerate import Accelerator

        self.accelerator = Accelerator()
        placement = loading.plan_placement(self.accelerator.state, device, torch.cuda.is_available())
        self._device, self._rank, self._world_size = placement.device, placement.rank, placement.world_size
        self.dtype = loading.resolve_dtype(dtype, self._device)
        self.pretrained = pretrained
        self.prompt_format = prompt_format
        self.backend = backend
        self.max_new_tokens = int(max_new_tokens) if max_new_tokens is not None else None
        self.prefetch = self._device.type == "cuda" if prefetch is None else bool(prefetch)
        self.failures: list[scores.SampleFailure] = []
        self._batch_cap = self.batch_size_per_gpu  # lowered after a CUDA out-of-memory error

        self.processor = loading.load_processor(pretrained, processor, revision)
        self._tokenizer = self.processor.tokenizer
        # The prefetch thread encodes while this one decodes; a fast tokenizer is not safe to share unguarded.
        self._tokenizer_lock = threading.Lock()
        self._real_ids, self._fake_ids = verdict_token_ids(self._tokenizer)
        if not (self._real_ids and self._fake_ids):
            logger.warning("fakevlm: the tokenizer has no single token for 'real' or 'fake'; no verdict scores will be published")

        if backend == "vllm":
            from fakevlm_model.vllm_backend import VllmGenerator

            self._model = None
            self._vllm = VllmGenerator(pretrained, dtype=self.dtype, revision=revision)
        else:
            attn = loading.resolve_attention(attn_implementation, self._device, self.dtype)
            self._model = loading.load_model(pretrained, device=self._device, dtype=self.dtype, attn_implementation=attn, revision=revision)
            self._vllm = None
        #: The recipe's head variants: {"feature", "classes", "prompt"} from the checkpoint's config, else None.
        self._head = getattr(self._model.config, "fakevlm_head", None) if self._model is not None else None
        if self._head:
            logger.info(f"fakevlm: class-head checkpoint ({self._head['feature']}); answers come from its real/fake head, prompt {self._head['prompt']!r}")
        if self._world_size > 1 and self.accelerator.is_local_main_process:
            logger.info(f"fakevlm: data parallel over {self._world_size} processes, one model copy each")
        logger.info(
            f"fakevlm: {pretrained} on {self._device} ({self.dtype}), prompt_format={prompt_format}, "
            f"batch_size={self.batch_size_per_gpu}, backend={backend}"
        )

    # lmms-eval reads these.
    @property
    def model(self):
        return self._model

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

    def _unpack(self, index: int, args: tuple) -> _Request:
        if len(args) == 2:  # lmms-eval's unconditional multiple-choice request: text only
            return _Request(index, args[0], args[1], None, None, None, None, key=index)
        context, payload, doc_to_visual, doc_id, task, split = args
        return _Request(index, context, payload, doc_to_visual, doc_id, task, split)

    def _doc(self, req: _Request):
        if req.task is None:
            return None
        return self.task_dict[req.task][req.split][req.doc_id]

    def _fail(self, req: _Request, reason: str, stage: str) -> None:
        failure = scores.record_failure(req.task or "", req.key if req.key is not None else req.doc_id, reason, stage)
        self.failures.append(failure)
        outcome = "answered with an empty string" if stage == "generate" else "scored -inf"
        logger.error(f"fakevlm: {req.task} doc {failure.key}: {reason}; {outcome}")

    def _collect(self, reqs: list[_Request], allow_empty: bool = False) -> _Prepared:
        """Load each request's doc and images and render its prompt; set aside the ones that fail."""
        prepared = _Prepared(rows=[])
        for req in reqs:
            try:
                doc = self._doc(req)
                if req.key is None:
                    req.key = doc.get("id", req.doc_id) if isinstance(doc, Mapping) else req.doc_id
                req.images = self._load_images(req, doc)
                if allow_empty and not req.context:
                    req.prompt = Prompt("")
                elif self._head:
                    req.prompt = render_head_prompt(req.context, self._head["prompt"])
                else:
                    req.prompt = render_prompt(req.context, len(req.images), self.prompt_format, self.processor)
            except Exception as exc:  # one bad sample must not stop the run
                prepared.failed.append((req, _describe(exc)))
                continue
            prepared.rows.append(req)
        return prepared

    @staticmethod
    def _load_images(req: _Request, doc) -> list:
        if req.doc_to_visual is None:
            return []
        try:
            visuals = req.doc_to_visual(doc) or []
        except Exception as exc:
            raise SampleError(f"could not load the image: {_describe(exc)}") from exc
        images = []
        for visual in visuals:
            if not hasattr(visual, "convert"):
                raise SampleError(f"unsupported visual of type {type(visual).__name__} (images only)")
            try:
                images.append(visual.convert("RGB"))  # decodes now: a truncated file fails here, not in the batch
            except Exception as exc:
                raise SampleError(f"corrupt image: {_describe(exc)}") from exc
        return images

    def _encode(self, rows: list[_Request], texts: list[str]):
        images = [image for row in rows for image in row.images]
        with self._tokenizer_lock:
            return self.processor(
                images=images or None,
                text=texts,
                return_tensors="pt",
                padding=True,
                add_special_tokens=rows[0].prompt.add_special_tokens,
            )

    def _encode_isolating_failures(self, prepared: _Prepared, texts: list[str]) -> None:
        """Run the processor on the batch; if it fails, find the samples that make it fail and drop them."""
        try:
            prepared.inputs = self._encode(prepared.rows, texts) if prepared.rows else None
            return
        except Exception as exc:
            if len(prepared.rows) == 1:
                prepared.failed.append((prepared.rows[0], f"preprocessing failed: {_describe(exc)}"))
                prepared.rows, prepared.inputs = [], None
                return
        keep, keep_texts = [], []
        for row, text in zip(prepared.rows, texts):
            try:
                self._encode([row], [text])
                keep.append(row)
                keep_texts.append(text)
            except Exception as exc:
                prepared.failed.append((row, f"preprocessing failed: {_describe(exc)}"))
        prepared.rows = keep
        prepared.inputs = self._encode(keep, keep_texts) if keep else None

    def _run_in_chunks(self, reqs: list[_Request], run, on_oom, prepared: _Prepared | None = None) -> None:
        """``run(chunk, prepared)`` over chunks of at most the current batch cap.

        On CUDA out-of-memory the cap is halved for the rest of the run and the chunk is
        run again in smaller pieces; a single request that still does not fit goes to
        ``on_oom``. ``prepared`` (the whole of ``reqs`` already preprocessed) is used only
        when ``reqs`` runs as one chunk.
        """
        start = 0
        while start < len(reqs):
            chunk = reqs[start : start + self._batch_cap]
            start += len(chunk)
            try:
                run(chunk, prepared if len(chunk) == len(reqs) else None)
            except torch.cuda.OutOfMemoryError as exc:
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                if len(chunk) == 1:
                    on_oom(chunk[0], f"CUDA out of memory even at batch size 1 ({_describe(exc)})")
                    continue
                self._batch_cap = min(self._batch_cap, (len(chunk) + 1) // 2)
                logger.warning(f"fakevlm: CUDA out of memory on a batch of {len(chunk)}; retrying it and the rest of the run in batches of {self._batch_cap}")
                self._run_in_chunks(chunk, run, on_oom)

    def _batches(self, reqs: list[_Request], groups: list[str]) -> list[list[_Request]]:
        lengths = [len(self._tokenizer.encode(r.context, add_special_tokens=False)) for r in reqs]
        return [[reqs[i] for i in batch] for batch in plan_batches(lengths, groups, self.batch_size_per_gpu)]

    def _report(self, stage: str, before: int, total: int) -> None:
        new = self.failures[before:]
        if new:
            reasons = Counter(f.reason.split(":")[0] for f in new)
            summary = ", ".join(f"{n} x {reason}" for reason, n in reasons.most_common())
            logger.warning(f"fakevlm: {len(new)} of {total} {stage} requests failed ({summary}); fakevlm_tasks.scores.failures() lists them")

    # -------------------------------------------------------------- generation

    def generate_until(self, requests) -> list[GenerationResult]:
        reqs = [self._unpack(i, r.args) for i, r in enumerate(requests)]
        results: list[GenerationResult | None] = [None] * len(reqs)
        before = len(self.failures)

        def fail(req: _Request, reason: str) -> None:
            self._fail(req, reason, "generate")
            results[req.index] = GenerationResult("", TokenCounts(output_tokens=0))

        def prepare(batch: list[_Request]) -> _Prepared:
            prepared = self._collect(batch)
            if self._vllm is None:
                self._encode_isolating_failures(prepared, [row.prompt.text for row in prepared.rows])
            return prepared

        def run(batch: list[_Request], prepared: _Prepared | None) -> None:
            prepared = prepared or prepare(batch)
            # Generate before recording the failed samples: after an out-of-memory error the halves are prepared again.
            outputs = self._generate(prepared) if prepared.rows else []
            for req, reason in prepared.failed:
                fail(req, reason)
            for req, (text, counts, score) in zip(prepared.rows, outputs):
                text = _truncate(text, _stop_strings(req.payload, self._tokenizer.eos_token))
                if not text.strip():
                    fail(req, "generation yielded no text")
                    continue
                scores.publish_score(req.task or "", req.key, score)
                results[req.index] = GenerationResult(text, counts)

        batches = self._batches(reqs, [settings_key(r.payload) for r in reqs])
        for batch, prepared in self._prefetched(batches, prepare):
            self._run_in_chunks(batch, run, fail, prepared)
        self._report("generate_until", before, len(reqs))
        return results

    def _prefetched(self, batches: list[list[_Request]], prepare):
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

    def _generation_settings(self, gen_kwargs: dict) -> dict:
        gen_kwargs = dict(gen_kwargs or {})
        max_new = self.max_new_tokens or gen_kwargs.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS
        temperature = float(gen_kwargs.get("temperature") or 0.0)
        do_sample = bool(gen_kwargs.get("do_sample", False)) or temperature > 0
        settings = {"max_new_tokens": int(max_new), "do_sample": do_sample, "num_beams": int(gen_kwargs.get("num_beams") or 1)}
        if do_sample:
            settings["temperature"] = temperature or 1.0
            if gen_kwargs.get("top_p") is not None:
                settings["top_p"] = float(gen_kwargs["top_p"])
        else:  # plain greedy, whatever the checkpoint's generation_config suggests
            settings.update(temperature=None, top_p=None, top_k=None)
        return settings

    def _generate(self, prepared: _Prepared) -> list[tuple[str, TokenCounts, scores.VerdictScore | None]]:
        settings = self._generation_settings(prepared.rows[0].payload)
        if self._vllm is not None:
            texts = self._vllm.generate([r.prompt.text for r in prepared.rows], [r.images for r in prepared.rows], settings)
            return [(t, TokenCounts(), None) for t in texts]
        inputs = prepared.inputs.to(self._device, dtype=self.dtype)  # casts the pixels only
        if self._head:
            return [
                (f"This is a {'real' if p >= 0.5 else 'fake'} image.", TokenCounts(input_tokens=int(mask.sum()), output_tokens=0),
                 scores.VerdictScore(p_real=p, p_fake=1.0 - p, step=None))
                for p, mask in zip(self._head_p_real(inputs), inputs["attention_mask"])
            ]
        recorder = None
        if settings["num_beams"] == 1 and self._real_ids and self._fake_ids:
            recorder = VerdictRecorder(self._real_ids, self._fake_ids)
        with torch.inference_mode():
            sequences = self._model.generate(**inputs, **settings, logits_processor=LogitsProcessorList([recorder] if recorder else []))
        prompt_len = inputs["input_ids"].shape[1]
        new_tokens = sequences[:, prompt_len:].cpu()
        verdicts = recorder.scores_for(new_tokens) if recorder else [None] * len(prepared.rows)
        with self._tokenizer_lock:
            texts = self._tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        stop_ids = _stop_ids(self._model.generation_config)
        out = []
        for row, (text, verdict, tokens) in enumerate(zip(texts, verdicts, new_tokens)):
            counts = TokenCounts(input_tokens=int(inputs["attention_mask"][row].sum()), output_tokens=_generated_length(tokens, stop_ids))
            out.append((text.strip(), counts, verdict))
        return out

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("fakevlm answers single-turn questions only")

    # ----------------------------------------------------------- loglikelihood

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        if self._vllm is not None:
            raise NotImplementedError("fakevlm: loglikelihood needs backend=hf")
        reqs = [self._unpack(i, r.args) for i, r in enumerate(requests)]
        results: list[tuple[float, bool] | None] = [None] * len(reqs)
        before = len(self.failures)

        def fail(req: _Request, reason: str) -> None:
            self._fail(req, reason, "loglikelihood")
            results[req.index] = (float("-inf"), False)

        def run(batch: list[_Request], _: _Prepared | None) -> None:
            prepared = self._collect(batch, allow_empty=True)
            if self._head:
                return self._head_loglikelihood(prepared, fail, results)
            spans = {}
            texts = []
            for req in prepared.rows:
                req.payload = _continuation(req.payload, self._doc(req))
                context, continuation = _move_trailing_space(req.prompt.text, req.payload)
                whole = self._tokenizer.encode(context + continuation, add_special_tokens=req.prompt.add_special_tokens)
                head = self._tokenizer.encode(context, add_special_tokens=req.prompt.add_special_tokens)
                spans[req.index] = whole[len(head) :]
                texts.append(context + continuation)
            self._encode_isolating_failures(prepared, texts)
            values = self._score_continuations(prepared, [spans[r.index] for r in prepared.rows]) if prepared.rows else []
            for req, reason in prepared.failed:
                fail(req, reason)
            for req, value in zip(prepared.rows, values):
                results[req.index] = value

        for batch in self._batches(reqs, [""] * len(reqs)):
            self._run_in_chunks(batch, run, fail)
        self._report("loglikelihood", before, len(reqs))
        return results

    def _head_p_real(self, inputs) -> list[float]:
        with torch.inference_mode():
            p = self._model.p_real(inputs["input_ids"], inputs["attention_mask"], inputs.get("pixel_values"))
        return [float(x) for x in p.float().cpu()]

    def _head_loglikelihood(self, prepared: _Prepared, fail, results) -> None:
        """Head mode: log P(real) or log P(fake) from the head, for a continuation naming exactly one of them."""
        classes = {}
        for req in list(prepared.rows):
            words = set(_continuation(req.payload, self._doc(req)).lower().replace(".", " ").split())
            named = [c for c in ("real", "fake") if c in words]
            if len(named) != 1:
                prepared.rows.remove(req)
                prepared.failed.append((req, f"head mode scores only continuations naming 'real' or 'fake', got {req.payload!r}"))
            else:
                classes[req.index] = named[0]
        self._encode_isolating_failures(prepared, [row.prompt.text for row in prepared.rows])
        p_real = self._head_p_real(prepared.inputs.to(self._device, dtype=self.dtype)) if prepared.rows else []
        for req, reason in prepared.failed:
            fail(req, reason)
        for req, p in zip(prepared.rows, p_real):
            p_class = p if classes[req.index] == "real" else 1.0 - p
            results[req.index] = (math.log(max(p_class, 1e-45)), p_class >= 0.5)

    def _score_continuations(self, prepared: _Prepared, continuations: list[list[int]]) -> list[tuple[float, bool]]:
        """Sum of log-probabilities of each row's continuation (the last tokens of the row: padding is on the left)."""
        inputs = prepared.inputs.to(self._device, dtype=self.dtype)
        with torch.inference_mode():
            logits = self._model(**inputs).logits
        out = []
        for row, cont in enumerate(continuations):
            n = len(cont)
            if n == 0:
                out.append((0.0, True))
                continue
            target = inputs["input_ids"][row, -n:]
            if target.tolist() != cont:
                raise RuntimeError(f"fakevlm: continuation tokens {cont} do not end the encoded input {target.tolist()}")
            logprobs = torch.log_softmax(logits[row, -n - 1 : -1].float(), dim=-1)
            picked = logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            out.append((float(picked.sum()), bool((logprobs.argmax(-1) == target).all())))
        return out


def _describe(exc: BaseException) -> str:
    """One line for the log: our own messages as they are, anything else with its type."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exc, (SampleError, ValueError)) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _stop_strings(gen_kwargs, eos_token: str | None) -> list[str]:
    until = (gen_kwargs or {}).get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    return [s for s in until if s and s != eos_token]


def _truncate(text: str, stops: list[str]) -> str:
    """Cut at the first stop string, as lmms-eval's ``until`` asks (the answer's EOS is handled by generate)."""
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text


def _stop_ids(generation_config) -> set[int]:
    ids = generation_config.eos_token_id
    return set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])


def _generated_length(tokens: torch.Tensor, stop_ids: set[int]) -> int:
    """Tokens generated up to and including the first EOS (the rest is batch padding)."""
    for i, token in enumerate(tokens.tolist()):
        if token in stop_ids:
            return i + 1
    return len(tokens)


def _continuation(target, doc) -> str:
    value = target(doc) if callable(target) else target
    return value if isinstance(value, str) else str(value)


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Give the context's trailing spaces to the continuation, so "is a" + " real" tokenises like the answer."""
    stripped = context.rstrip(" ")
    return stripped, context[len(stripped) :] + continuation
