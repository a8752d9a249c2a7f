"""Backend for the training recipe's class-head and linear-probe checkpoints: every answer comes from the real/fake head.

The head's own prompt (the checkpoint's ``fakevlm_head.prompt``); the answer "This is a real
image." or "This is a fake image." by P(real) >= 0.5, with P(real) as its verdict score; the
loglikelihood of a continuation that names "real" or "fake" is log P(that class).
"""

from __future__ import annotations

import math

import torch
from loguru import logger
from lmms_eval.api.instance import TokenCounts

from fakevlm_model.backends.hf import HfBackend
from fakevlm_model.prompts import Prompt, render_head_prompt
from fakevlm_model.rows import Batch, Generated, Likelihood, continuation_text
from fakevlm_tasks.glue.sample import VerdictScore

CLASSES = ("real", "fake")


class HeadBackend(HfBackend):
    """A ``LlavaWithVerdictHead``: inputs are encoded as for :class:`HfBackend`, nothing is generated."""

    def __init__(self, model, processor, prompt_format: str, *, device: torch.device, dtype: torch.dtype):
        super().__init__(model, processor, prompt_format, device=device, dtype=dtype)
        #: {"feature", "classes", "prompt"} from the checkpoint's config.
        self.head = model.config.fakevlm_head
        logger.info(f"fakevlm: class-head checkpoint ({self.head['feature']}); answers come from its real/fake head, prompt {self.head['prompt']!r}")

    def render(self, context: str, n_images: int) -> Prompt:
        return render_head_prompt(context, self.head["prompt"])

    def prepare_loglikelihood(self, batch: Batch) -> None:
        """``targets``: the class each continuation names; one that names neither or both is set aside."""
        for row in list(batch.rows):
            words = set(continuation_text(row.payload, row.doc).lower().replace(".", " ").split())
            named = [c for c in CLASSES if c in words]
            if len(named) == 1:
                batch.targets[row.index] = named[0]
            else:
                batch.drop(row, f"head mode scores only continuations naming 'real' or 'fake', got {row.payload!r}")
        self.encode(batch, [row.prompt.text for row in batch.rows])

    def generate(self, batch: Batch, settings: dict) -> list[Generated]:
        inputs = self._inputs(batch)
        return [
            Generated(
                f"This is a {'real' if p >= 0.5 else 'fake'} image.",
                TokenCounts(input_tokens=int(mask.sum()), output_tokens=0),
                VerdictScore(p_real=p, p_fake=1.0 - p, step=None),
            )
            for p, mask in zip(self._p_real(inputs), inputs["attention_mask"])
        ]

    def loglikelihood(self, batch: Batch) -> list[Likelihood]:
        out = []
        for row, p in zip(batch.rows, self._p_real(self._inputs(batch))):
            p_class = p if batch.targets[row.index] == "real" else 1.0 - p
            out.append(Likelihood(math.log(max(p_class, 1e-45)), p_class >= 0.5))
        return out

    def _p_real(self, inputs) -> list[float]:
        with torch.inference_mode():
            p = self.model.p_real(inputs["input_ids"], inputs["attention_mask"], inputs.get("pixel_values"))
        return [float(x) for x in p.float().cpu()]
