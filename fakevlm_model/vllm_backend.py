"""Optional vLLM generation for the ``fakevlm`` adapter (``backend=vllm``).

UNTESTED in this project: vLLM needs a GPU and is not installed where the tests run.
Kept deliberately thin: the adapter renders the prompts and loads the images exactly as
for the HF backend; vLLM only generates. No verdict scores, no loglikelihood. The
official vLLM path used float16 and ``max_model_len=800`` (PROTOCOL.md).
"""

from __future__ import annotations

import torch

_VLLM_DTYPES = {torch.bfloat16: "bfloat16", torch.float16: "float16", torch.float32: "float32"}


class VllmGenerator:
    def __init__(self, pretrained: str, *, dtype: torch.dtype, revision: str | None = None, max_model_len: int = 800):
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ImportError("backend=vllm needs vLLM installed (pip install 'fakevlm-eval[vllm]'); or use backend=hf") from exc
        self._llm = LLM(model=pretrained, revision=revision, dtype=_VLLM_DTYPES[dtype], max_model_len=max_model_len, limit_mm_per_prompt={"image": 1})

    def generate(self, prompts: list[str], images: list[list], settings: dict) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=settings.get("temperature") or 0.0,
            top_p=settings.get("top_p") or 1.0,
            max_tokens=settings["max_new_tokens"],
        )
        requests = [{"prompt": p, "multi_modal_data": {"image": imgs[0]}} if imgs else {"prompt": p} for p, imgs in zip(prompts, images)]
        return [out.outputs[0].text.strip() for out in self._llm.generate(requests, params, use_tqdm=False)]
