"""The ``fakevlm`` adapter's backends: what runs one prepared batch and returns one typed answer per row.

:mod:`~fakevlm_model.backends.hf` (transformers ``generate`` and loglikelihood),
:mod:`~fakevlm_model.backends.head` (the training recipe's class-head and linear-probe
checkpoints) and :mod:`~fakevlm_model.backends.vllm` (vLLM generation).
"""

from __future__ import annotations

import torch

from fakevlm_model import loading
from fakevlm_model.backends.base import Backend
from fakevlm_model.backends.head import HeadBackend
from fakevlm_model.backends.hf import HfBackend
from fakevlm_model.backends.vllm import VllmBackend

BACKENDS = ("hf", "vllm")


def load_backend(
    name: str,
    pretrained: str,
    processor,
    *,
    prompt_format: str,
    device: torch.device,
    dtype: torch.dtype,
    attn_implementation: str | None,
    revision: str | None,
) -> Backend:
    """The backend ``name`` with ``pretrained`` loaded; a checkpoint with a class head (config key
    ``fakevlm_head``) gets the head backend."""
    if name == "vllm":
        return VllmBackend(pretrained, processor, prompt_format, dtype=dtype, revision=revision)
    attn = loading.resolve_attention(attn_implementation, device, dtype)
    model = loading.load_model(pretrained, device=device, dtype=dtype, attn_implementation=attn, revision=revision)
    if getattr(model.config, "fakevlm_head", None):
        return HeadBackend(model, processor, prompt_format, device=device, dtype=dtype)
    return HfBackend(model, processor, prompt_format, device=device, dtype=dtype)
