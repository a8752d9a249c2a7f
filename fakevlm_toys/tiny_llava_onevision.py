"""Build a tiny, randomly initialised LLaVA-OneVision checkpoint in transformers' format (no download).

A stand-in for ``llava-hf/llava-onevision-qwen2-7b-ov-hf``: a SigLIP encoder, the 2-layer
projector and a Qwen2 decoder, with any-resolution tiling (a grid of crops plus the whole
image, unpadded, with a newline embedding per row) as in the real model, only tiny. lmms-eval
evaluates such checkpoints with its ``llava_hf`` adapter (its ``llava_onevision`` adapter needs
the original LLaVA-NeXT code instead). Its answers are meaningless.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_toys.tiny_llava import train_byte_bpe
from fakevlm_toys.tiny_qwen2vl import _CORPUS

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
CROP, PATCH = 28, 14  # a crop of 2 x 2 patches: 4 image tokens
GRID_PINPOINTS = [[CROP * h, CROP * w] for h in (1, 2) for w in (1, 2)]

# ChatML as the OneVision checkpoints write it, an image part as "<image>\n".
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n"
    "{% elif part['type'] == 'video' %}<video>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_llava_onevision(out_dir: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny ``LlavaOnevisionForConditionalGeneration`` with its processor to ``out_dir``."""
    import torch
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        PreTrainedTokenizerFast,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_byte_bpe(_CORPUS, SPECIAL_TOKENS, vocab_size),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
        chat_template=CHAT_TEMPLATE,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = LlavaOnevisionConfig(
        vision_config={
            "model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "image_size": CROP, "patch_size": PATCH,
        },
        text_config={
            "model_type": "qwen2", "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
        },
        image_token_index=ids["<image>"],
        video_token_index=ids["<video>"],
        image_grid_pinpoints=GRID_PINPOINTS,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaOnevisionForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    side = {"height": CROP, "width": CROP}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=side, image_grid_pinpoints=GRID_PINPOINTS),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size=side),
        num_image_tokens=(CROP // PATCH) ** 2,
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
