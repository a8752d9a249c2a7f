"""Where and how the ``fakevlm`` adapter loads a LLaVA checkpoint: device, dtype, attention, processor."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch
from loguru import logger

# The official evaluation loads its processor from here, whatever the checkpoint ships.
FALLBACK_PROCESSOR = "llava-hf/llava-1.5-7b-hf"

_DTYPES = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
}


@dataclass(frozen=True)
class Placement:
    """This process's device and its place among data-parallel processes."""

    device: torch.device
    rank: int
    world_size: int


def plan_placement(state, requested_device: str | None, cuda_available: bool) -> Placement:
    """Pick the device for this process from an accelerate state (``num_processes``,
    ``process_index``, ``local_process_index``).

    Under a multi-process launch every process takes the GPU of its local index, whatever
    ``device`` says: lmms-eval shards the documents by global rank, so each process must
    hold a full model copy on its own GPU. A single process uses ``device`` (default:
    ``cuda`` when available, else ``cpu``).
    """
    if state.num_processes > 1:
        device = torch.device(f"cuda:{state.local_process_index}") if cuda_available else torch.device("cpu")
        return Placement(device, state.process_index, state.num_processes)
    device = torch.device(requested_device or ("cuda" if cuda_available else "cpu"))
    if device.type == "cuda" and not cuda_available:
        raise ValueError(f"device={requested_device} but CUDA is not available here; use device=cpu")
    return Placement(device, 0, 1)


def resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on CUDA (what FakeVLM was trained and evaluated in), float32 elsewhere."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(f"dtype={dtype!r} is not one of auto, {', '.join(_DTYPES)}") from None


def resolve_attention(attn_implementation: str | None, device: torch.device, dtype: torch.dtype) -> str:
    """FlashAttention-2 when installed and usable (CUDA, half precision), else PyTorch SDPA."""
    if attn_implementation:
        return attn_implementation
    if device.type == "cuda" and dtype in (torch.float16, torch.bfloat16) and importlib.util.find_spec("flash_attn"):
        return "flash_attention_2"
    return "sdpa"


def load_model(pretrained: str, *, device: torch.device, dtype: torch.dtype, attn_implementation: str, revision: str | None = None):
    """A generative LLaVA, or, for a checkpoint whose config has ``fakevlm_head`` (the recipe's
    class-head and linear-probe variants), LLaVA with its real/fake head."""
    from transformers import AutoConfig, LlavaForConditionalGeneration

    config = AutoConfig.from_pretrained(pretrained, revision=revision)
    cls = LlavaForConditionalGeneration
    if getattr(config, "fakevlm_head", None):
        from fakevlm_training.modeling import LlavaWithVerdictHead

        cls = LlavaWithVerdictHead
    model = cls.from_pretrained(pretrained, revision=revision, dtype=dtype, attn_implementation=attn_implementation)
    return model.to(device).eval()


def _usable(processor) -> bool:
    return all(getattr(processor, name, None) is not None for name in ("tokenizer", "image_processor"))


def load_processor(pretrained: str, processor: str | None = None, revision: str | None = None):
    """The processor named by ``processor``, else the checkpoint's own, else :data:`FALLBACK_PROCESSOR`'s (with a warning).

    Its tokenizer pads on the left, as batched generation with a decoder needs.
    """
    from transformers import AutoProcessor

    if processor:
        loaded = AutoProcessor.from_pretrained(processor)
    else:
        try:
            loaded = AutoProcessor.from_pretrained(pretrained, revision=revision)
            problem = None if _usable(loaded) else f"got a {type(loaded).__name__} without an image processor"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problem = str(exc).splitlines()[0]
        if problem:
            logger.warning(f"fakevlm: {pretrained} has no usable processor ({problem}); using {FALLBACK_PROCESSOR}'s, as the official evaluation does")
            loaded = AutoProcessor.from_pretrained(FALLBACK_PROCESSOR)
    if not _usable(loaded):
        raise ValueError(f"the processor loaded for {pretrained} has no tokenizer or no image processor")
    loaded.tokenizer.padding_side = "left"
    return loaded
