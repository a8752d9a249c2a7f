"""Build a tiny, randomly initialised Qwen2.5-VL checkpoint locally (no download).

A stand-in for ``Qwen/Qwen2.5-VL-7B-Instruct`` with its file layout and special tokens (the
same as Qwen2-VL's), so lmms-eval's own ``qwen2_5_vl`` adapter loads it with ``AutoProcessor``
and ``Qwen2_5_VLForConditionalGeneration`` and runs a task on a CPU. Its answers are meaningless.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_toys.tiny_qwen2vl import CHAT_TEMPLATE, SPECIAL_TOKENS, _tokenizer


def build_tiny_qwen25vl(out_dir: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny ``Qwen2_5_VLForConditionalGeneration`` with its processor to ``out_dir``.

    Vision as in the real model, only small: 14-pixel patches merged 2x2, windowed attention
    (112-pixel windows) in every block but the last, SwiGLU MLPs.
    """
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    hidden, heads = 64, 4
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": heads,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        # M-RoPE: each head's rotary half split into temporal/height/width sections.
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    assert sum(text["rope_parameters"]["mrope_section"]) * 2 == hidden // heads
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": hidden,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
    }
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = text["eos_token_id"]
    model.generation_config.pad_token_id = text["pad_token_id"]
    model.save_pretrained(out)

    pixels = {"shortest_edge": 56 * 56, "longest_edge": 224 * 224}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=pixels, patch_size=14, merge_size=2, temporal_patch_size=2),
        video_processor=Qwen2VLVideoProcessor(size=pixels, patch_size=14, merge_size=2, temporal_patch_size=2),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
