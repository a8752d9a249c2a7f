"""Build a tiny, randomly initialised InternVL3 checkpoint in transformers' own format (no download).

A stand-in for ``OpenGVLab/InternVL3-8B-hf`` / ``InternVL3_5-8B-HF``: an InternViT encoder, the
pixel-shuffle projector (downsample ratio 0.5) and a Qwen2 decoder, with the ``<img>``,
``<IMG_CONTEXT>``, ``</img>`` tokens and dynamic tiling of the real processor, so lmms-eval's
``internvl_hf`` adapter loads it with ``InternVLForConditionalGeneration`` and ``AutoProcessor``
and runs a task on a CPU. Its answers are meaningless.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_toys.tiny_llava import train_byte_bpe
from fakevlm_toys.tiny_qwen2vl import _CORPUS

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
IMAGE_SIDE, PATCH = 56, 14  # a tile of 4 x 4 patches, pixel-shuffled to 2 x 2 = 4 image tokens

# ChatML, with an image part written as the one <IMG_CONTEXT> the processor expands into a tile's tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif part['type'] == 'video' %}<video>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer(vocab_size: int):
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_byte_bpe(_CORPUS, SPECIAL_TOKENS, vocab_size),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.padding_side = "left"
    return tokenizer


def build_tiny_internvl(out_dir: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny ``InternVLForConditionalGeneration`` with its processor to ``out_dir``."""
    import torch
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    image_tokens = (IMAGE_SIDE // PATCH) ** 2 // 4
    config = InternVLConfig(
        vision_config={
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "image_size": [IMAGE_SIDE, IMAGE_SIDE], "patch_size": [PATCH, PATCH],
        },
        text_config={
            "model_type": "qwen2", "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
        },
        image_token_id=ids["<IMG_CONTEXT>"],
        image_seq_length=image_tokens,
        downsample_ratio=0.5,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    side = {"height": IMAGE_SIDE, "width": IMAGE_SIDE}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size=side, crop_to_patches=True, min_patches=1, max_patches=12),
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size=side),
        image_seq_length=image_tokens,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
