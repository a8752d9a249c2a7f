"""``fakevlm-convert``: original-LLaVA checkpoints written by the test, converted back to transformers' LLaVA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from fakevlm_model.convert import ConversionError, convert, main, rename_key

QUESTION = "<image>Does the image looks real/fake?"
_LLAMA_KEYS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "hidden_act", "max_position_embeddings", "rms_norm_eps",
    "bos_token_id", "eos_token_id", "pad_token_id", "tie_word_embeddings",
)  # fmt: skip


def original_name(key: str) -> str:
    """The original LLaVA repository's name for a weight of transformers' in-memory LLaVA."""
    if key.startswith("model.language_model."):
        return "model." + key[len("model.language_model.") :]
    if key.startswith("model.multi_modal_projector."):
        return key.replace("model.multi_modal_projector.linear_1.", "model.mm_projector.0.").replace("model.multi_modal_projector.linear_2.", "model.mm_projector.2.")
    if key.startswith("model.vision_tower."):
        rest = key[len("model.vision_tower.") :].removeprefix("vision_model.")
        return "model.vision_tower.vision_tower.vision_model." + rest
    assert key == "lm_head.weight", key
    return key


def write_original_layout(hf_dir: Path, out: Path, *, save_tower: bool = True, tokenizer=None, aspect_ratio: str | None = None) -> Path:
    """Write the tiny HF LLaVA in ``hf_dir`` as the original repository would have saved it.

    The CLIP tower goes to its own folder (the stand-in for openai/clip-vit-large-patch14-336),
    named by ``mm_vision_tower``; ``save_tower=False`` leaves its weights out of the LLaVA
    checkpoint, as a run with a frozen tower does.
    """
    from safetensors.torch import save_file
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(hf_dir)
    processor = AutoProcessor.from_pretrained(hf_dir)
    tokenizer = tokenizer or processor.tokenizer
    tower = out.parent / (out.name + "-clip")
    tower.mkdir(parents=True)
    model.config.vision_config.save_pretrained(tower)
    processor.image_processor.save_pretrained(tower)

    weights = {original_name(k): v.clone() for k, v in model.state_dict().items()}
    vocab = len(tokenizer)
    weights["model.embed_tokens.weight"] = weights["model.embed_tokens.weight"][:vocab]
    weights["lm_head.weight"] = weights["lm_head.weight"][:vocab]
    prefix = "model.vision_tower.vision_tower."
    tower_weights = {k[len(prefix) :]: weights.pop(k) for k in list(weights) if k.startswith(prefix)}
    save_file(tower_weights, str(tower / "model.safetensors"), metadata={"format": "pt"})
    if save_tower:
        weights.update({prefix + k: v for k, v in tower_weights.items()})
    out.mkdir(parents=True)
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})

    text = model.config.text_config.to_dict()
    config = {k: text[k] for k in _LLAMA_KEYS}
    config.update(
        architectures=["LlavaLlamaForCausalLM"],
        model_type="llava_llama",
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        rope_theta=model.config.text_config.rope_parameters["rope_theta"],
        mm_vision_tower=str(tower),
        mm_hidden_size=model.config.vision_config.hidden_size,
        mm_projector_type="mlp2x_gelu",
        mm_vision_select_layer=model.config.vision_feature_layer,
        mm_vision_select_feature="patch",
        mm_use_im_start_end=False,
        mm_use_im_patch_token=False,
        image_aspect_ratio=aspect_ratio,
        tune_mm_mlp_adapter=False,
    )
    (out / "config.json").write_text(json.dumps(config, indent=2))
    tokenizer.save_pretrained(out)
    return out


def images(n: int) -> list[Image.Image]:
    gen = torch.Generator().manual_seed(3)
    return [Image.fromarray((torch.rand(30 + 4 * i, 36, 3, generator=gen) * 255).to(torch.uint8).numpy()) for i in range(n)]


def run(folder: Path, pictures) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of the official prompt and a greedy continuation, from a transformers LLaVA folder."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    processor = AutoProcessor.from_pretrained(folder)
    processor.tokenizer.padding_side = "left"
    model = LlavaForConditionalGeneration.from_pretrained(folder).eval()
    inputs = processor(images=pictures, text=[QUESTION] * len(pictures), return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**inputs).logits, model.generate(**inputs, max_new_tokens=16, do_sample=False)


@pytest.mark.parametrize("save_tower", [True, False], ids=["trained-tower", "frozen-tower"])
def test_round_trip_through_the_original_layout_gives_identical_outputs(tiny_llava, tmp_path, save_tower):
    original = write_original_layout(tiny_llava, tmp_path / "original", save_tower=save_tower)
    converted = convert(original, tmp_path / "converted")
    pictures = images(3)
    (logits, tokens), (logits_back, tokens_back) = run(tiny_llava, pictures), run(converted, pictures)
    assert torch.equal(logits, logits_back)
    assert torch.equal(tokens, tokens_back)


def test_the_converted_checkpoint_runs_in_the_adapter(tiny_llava, tmp_path):
    from fakevlm_model.fakevlm import FakeVLM
    from lmms_eval.api.instance import Instance

    converted = convert(write_original_layout(tiny_llava, tmp_path / "original"), tmp_path / "converted")
    model = FakeVLM(pretrained=str(converted), device="cpu", max_new_tokens=8)
    model.task_dict = {"t": {"test": [{"id": "a", "image": images(1)[0]}]}}
    request = Instance("generate_until", ("Does the image looks real/fake?", {}, lambda d: [d["image"]], 0, "t", "test"), idx=0, metadata={"task": "t", "doc_id": 0, "repeats": 1})
    assert model.generate_until([request])[0].text


def small_tokenizer_without_image_token():
    """A Llama-like tokenizer as original LLaVA checkpoints ship it: BOS/EOS/UNK, no <image>, no pad."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=290, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["Does the image looks real/fake?", "This is a real image. This is a fake image."], trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


def test_a_tokenizer_without_image_token_gets_one_and_the_embeddings_grow(tiny_llava, tmp_path):
    from transformers import AutoConfig, AutoProcessor

    tokenizer = small_tokenizer_without_image_token()
    original = write_original_layout(tiny_llava, tmp_path / "original", tokenizer=tokenizer, aspect_ratio="pad")
    converted = convert(original, tmp_path / "converted")
    processor = AutoProcessor.from_pretrained(converted)
    config = AutoConfig.from_pretrained(converted)
    assert config.image_token_index == processor.tokenizer.convert_tokens_to_ids("<image>") == len(tokenizer)
    assert processor.tokenizer.pad_token == "<pad>"
    assert config.text_config.vocab_size % 64 == 0 and config.text_config.vocab_size >= len(tokenizer) + 2
    assert processor.image_processor.do_pad  # image_aspect_ratio "pad" is LLaVA's pad-to-square recipe
    logits, tokens = run(converted, images(2))
    assert torch.isfinite(logits).all() and tokens.shape[0] == 2


def test_a_checkpoint_already_in_transformers_format_is_refused_with_a_reason(tiny_llava, tmp_path, capsys):
    with pytest.raises(ConversionError, match="not an original-LLaVA checkpoint"):
        convert(tiny_llava, tmp_path / "out")
    assert main([str(tiny_llava), str(tmp_path / "out")]) == 2
    assert "not an original-LLaVA checkpoint" in capsys.readouterr().err


def test_a_source_that_does_not_exist_is_refused_with_a_reason(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_linear_projector_checkpoint_is_refused(tiny_llava, tmp_path):
    original = write_original_layout(tiny_llava, tmp_path / "original")
    config = json.loads((original / "config.json").read_text())
    (original / "config.json").write_text(json.dumps({**config, "mm_projector_type": "linear"}))
    with pytest.raises(ConversionError, match="mlp2x_gelu"):
        convert(original, tmp_path / "out")


@pytest.mark.parametrize(
    "key, expected",
    [
        ("model.layers.3.self_attn.q_proj.weight", "language_model.model.layers.3.self_attn.q_proj.weight"),
        ("lm_head.weight", "language_model.lm_head.weight"),
        ("model.mm_projector.0.bias", "multi_modal_projector.linear_1.bias"),
        ("model.mm_projector.2.weight", "multi_modal_projector.linear_2.weight"),
        ("model.vision_tower.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight"),
        ("model.layers.0.self_attn.rotary_emb.inv_freq", None),
    ],
)
def test_original_weight_names_map_to_transformers_names(key, expected):
    assert rename_key(key) == expected
