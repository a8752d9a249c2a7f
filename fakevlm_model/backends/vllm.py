"""Generation through vLLM (``backend=vllm``): text only, no verdict scores, no loglikelihood.

UNTESTED in this project: vLLM needs a GPU and is not installed where the tests run. The
request loop renders the prompts and loads the images exactly as for the HF backend; vLLM
only generates. ``max_model_len=800`` is the official vLLM evaluation's (which ran in float16:
``dtype=float16`` matches it).
"""

from __future__ import annotations

import torch
from lmms_eval.api.instance import TokenCounts

from fakevlm_model.backends.base import Backend
from fakevlm_model.rows import Batch, Generated

_VLLM_DTYPES = {torch.bfloat16: "bfloat16", torch.float16: "float16", torch.float32: "float32"}


class VllmBackend(Backend):
    no_loglikelihood = "fakevlm: loglikelihood needs backend=hf"

    def __init__(self, pretrained: str, processor, prompt_format: str, *, dtype: torch.dtype, revision: str | None = None, max_model_len: int = 800):
        super().__init__(processor, prompt_format)
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ImportError("backend=vllm needs vLLM installed (pip install 'fakevlm-eval[vllm]'); or use backend=hf") from exc
        self._llm = LLM(model=pretrained, revision=revision, dtype=_VLLM_DTYPES[dtype], max_model_len=max_model_len, limit_mm_per_prompt={"image": 1})

    def generate(self, batch: Batch, settings: dict) -> list[Generated]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=settings.get("temperature") or 0.0,
            top_p=settings.get("top_p") or 1.0,
            max_tokens=settings["max_new_tokens"],
        )
        requests = [
            {"prompt": row.prompt.text, "multi_modal_data": {"image": row.images[0]}} if row.images else {"prompt": row.prompt.text}
            for row in batch.rows
        ]
        return [Generated(out.outputs[0].text.strip(), TokenCounts()) for out in self._llm.generate(requests, params, use_tqdm=False)]
