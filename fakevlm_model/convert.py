"""``fakevlm-convert``: an original-LLaVA-repository checkpoint to transformers' LLaVA format.

The original repository (``liuhaotian/llava-v1.5-7b`` and fine-tunes of it) saves a
``LlavaLlamaForCausalLM``: Llama weights under ``model.*`` / ``lm_head``, the projector
under ``model.mm_projector.{0,2}``, the CLIP tower (only when it was trained) under
``model.vision_tower.vision_tower.vision_model.*``, and a Llama config extended with
``mm_vision_tower``, ``mm_hidden_size``, ``mm_projector_type``, ``mm_vision_select_layer``,
``mm_vision_select_feature`` and ``image_aspect_ratio``. Its tokenizer has no ``<image>``
token (the code splices the image in at a sentinel id).

The output is what ``llava-hf/llava-1.5-7b-hf`` and ``lingcco/fakeVLM`` are: weights
named ``language_model.model.*``, ``language_model.lm_head``, ``vision_tower.vision_model.*``,
``multi_modal_projector.linear_{1,2}``; an ``<image>`` token (and ``<pad>`` when the
tokenizer has none) with the embedding matrices grown to match; a ``LlavaProcessor``
whose chat template is FakeVLM's training template. The result is loaded back once to
check that every weight found its place (``--no-check`` skips that).

    fakevlm-convert path/to/original-checkpoint path/to/output \\
        [--vision-tower openai/clip-vit-large-patch14-336] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

IMAGE_TOKEN = "<image>"
PAD_TOKEN = "<pad>"
EMBED_KEY = "language_model.model.embed_tokens.weight"
LM_HEAD_KEY = "language_model.lm_head.weight"

# Original config keys that are Llama settings (everything else is LLaVA's or bookkeeping).
_TEXT_KEYS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps",
    "rope_theta", "rope_scaling", "attention_bias", "mlp_bias", "pretraining_tp",
    "bos_token_id", "eos_token_id", "pad_token_id", "tie_word_embeddings",
)  # fmt: skip
_FEATURE_STRATEGY = {"patch": "default", "cls_patch": "full"}


class ConversionError(Exception):
    """The source is not an original-LLaVA checkpoint this converter can handle; the message says why."""


def rename_key(key: str) -> str | None:
    """The transformers LLaVA name of an original-LLaVA weight; ``None`` for buffers that are not weights."""
    if key.endswith("rotary_emb.inv_freq") or key.endswith("position_ids") or key == "model.image_newline":
        return None
    if key.startswith("model.mm_projector."):
        index, _, param = key[len("model.mm_projector.") :].partition(".")
        linear = {"0": "linear_1", "2": "linear_2"}.get(index)
        if linear is None:
            raise ConversionError(f"unexpected projector weight {key}: only the 2-layer MLP projector (mlp2x_gelu) maps to transformers' LLaVA")
        return f"multi_modal_projector.{linear}.{param}"
    if key.startswith("model.vision_tower.vision_tower."):
        return "vision_tower." + key[len("model.vision_tower.vision_tower.") :]
    if key.startswith("model."):
        return "language_model." + key
    if key.startswith("lm_head."):
        return "language_model." + key
    raise ConversionError(f"unexpected weight {key} in an original-LLaVA checkpoint")


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder: ``*.safetensors`` if any, else ``pytorch_model*.bin``."""
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if files:
        return {k: v for f in files for k, v in load_file(str(f)).items()}
    files = sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise ConversionError(f"no *.safetensors or pytorch_model*.bin weights in {folder}")
    return {k: v for f in files for k, v in torch.load(f, map_location="cpu", weights_only=True).items()}


def _local_folder(name_or_path: str) -> Path:
    """A local folder for a path or a hub id (from the local cache when offline)."""
    if Path(name_or_path).is_dir():
        return Path(name_or_path)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name_or_path, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt", "*.model"]))
    except Exception as exc:  # offline cache miss, unknown repo, bad id: all mean "cannot find it"
        raise ConversionError(f"{name_or_path} is not a folder and could not be fetched from the hub ({type(exc).__name__})") from exc


def _vision_weights(tower: Path) -> dict[str, torch.Tensor]:
    """The CLIP vision tower's weights from its own checkpoint, for sources that did not train (or save) it."""
    weights = {k: v for k, v in read_weights(tower).items() if k.startswith("vision_model.") and not k.endswith("position_ids")}
    if not weights:
        raise ConversionError(f"{tower} holds no vision_model.* weights")
    return {"vision_tower." + k: v for k, v in weights.items()}


def _grow(matrix: torch.Tensor, rows: int) -> torch.Tensor:
    """Append rows equal to the mean row: new tokens start neutral and deterministic."""
    if rows <= matrix.shape[0]:
        return matrix
    mean = matrix.float().mean(0, keepdim=True).to(matrix.dtype)
    return torch.cat([matrix, mean.expand(rows - matrix.shape[0], -1)], 0)


def _prepare_tokenizer(source: Path):
    """The source tokenizer with ``<image>`` (and ``<pad>`` if it has no pad token) added when missing."""
    from transformers import AddedToken, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if len(tokenizer.encode(IMAGE_TOKEN, add_special_tokens=False)) != 1:
        tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)], special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    tokenizer.padding_side = "left"
    return tokenizer


def _image_processor(tower: Path, aspect_ratio: str | None):
    from transformers import CLIPImageProcessor, LlavaImageProcessor

    clip = CLIPImageProcessor.from_pretrained(tower)
    if aspect_ratio != "pad":
        return clip
    # LLaVA's "pad" recipe: pad to a square filled with the mean colour, then resize and crop.
    settings = {k: v for k, v in clip.to_dict().items() if k in ("size", "crop_size", "image_mean", "image_std", "do_resize", "do_center_crop", "do_normalize", "rescale_factor", "do_rescale", "do_convert_rgb")}
    return LlavaImageProcessor(**settings, do_pad=True)


def build_config(original: dict, vision_config, tokenizer, dtype: torch.dtype):
    from transformers import LlamaConfig, LlavaConfig

    projector = original.get("mm_projector_type", "linear")
    if projector != "mlp2x_gelu":
        raise ConversionError(f"mm_projector_type={projector!r}: transformers' LLaVA has the 2-layer GELU projector (mlp2x_gelu) only")
    if original.get("mm_use_im_start_end"):
        raise ConversionError("mm_use_im_start_end=true (image start/end tokens) has no equivalent in transformers' LLaVA")
    select = original.get("mm_vision_select_feature", "patch")
    if select not in _FEATURE_STRATEGY:
        raise ConversionError(f"mm_vision_select_feature={select!r} is not one of {', '.join(_FEATURE_STRATEGY)}")
    if original.get("mm_hidden_size", vision_config.hidden_size) != vision_config.hidden_size:
        raise ConversionError(f"mm_hidden_size={original['mm_hidden_size']} but the vision tower's hidden size is {vision_config.hidden_size}")

    text = LlamaConfig(**{k: original[k] for k in _TEXT_KEYS if k in original})
    text.vocab_size = max(text.vocab_size, len(tokenizer))
    text.pad_token_id = tokenizer.pad_token_id
    patches = (vision_config.image_size // vision_config.patch_size) ** 2
    config = LlavaConfig(
        vision_config=vision_config.to_dict(),
        text_config=text.to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        projector_hidden_act="gelu",
        vision_feature_layer=original.get("mm_vision_select_layer", -2),
        vision_feature_select_strategy=_FEATURE_STRATEGY[select],
        image_seq_length=patches + (select == "cls_patch"),
        multimodal_projector_bias=True,
        tie_word_embeddings=bool(original.get("tie_word_embeddings", False)),
    )
    config.dtype = dtype
    return config


def convert(source: str | Path, output: str | Path, *, vision_tower: str | None = None, dtype: str | None = None, check: bool = True) -> Path:
    """Convert ``source`` (original-LLaVA layout) into ``output`` (transformers' LLaVA format); returns ``output``."""
    from huggingface_hub import split_torch_state_dict_into_shards
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, GenerationConfig, LlavaProcessor

    from fakevlm_model.prompts import TRAIN_CHAT_TEMPLATE

    source, output = _local_folder(str(source)), Path(output)
    config_file = source / "config.json"
    if not config_file.is_file():
        raise ConversionError(f"{source} has no config.json")
    original = json.loads(config_file.read_text())
    if "mm_vision_tower" not in original and "mm_hidden_size" not in original:
        raise ConversionError(f"{config_file} has no mm_* settings: not an original-LLaVA checkpoint (a transformers LLaVA folder loads as it is)")
    tower_name = vision_tower or original.get("mm_vision_tower")
    if not tower_name:
        raise ConversionError("the config names no mm_vision_tower; pass --vision-tower")
    tower = _local_folder(tower_name)

    weights = {}
    for key, tensor in read_weights(source).items():
        new = rename_key(key)
        if new is not None:
            weights[new] = tensor
    if not any(k.startswith("vision_tower.") for k in weights):
        weights.update(_vision_weights(tower))
    if LM_HEAD_KEY not in weights:  # tied embeddings are saved once
        weights[LM_HEAD_KEY] = weights[EMBED_KEY].clone()
    if dtype:
        target = getattr(torch, dtype)
        weights = {k: v.to(target) if v.is_floating_point() else v for k, v in weights.items()}

    tokenizer = _prepare_tokenizer(source)
    vision_config = CLIPVisionConfig.from_pretrained(tower)
    config = build_config(original, vision_config, tokenizer, weights[EMBED_KEY].dtype)
    if len(tokenizer) > weights[EMBED_KEY].shape[0]:
        rows = -(-len(tokenizer) // 64) * 64  # grown to a multiple of 64, as llava-hf's checkpoints are
        weights[EMBED_KEY], weights[LM_HEAD_KEY] = _grow(weights[EMBED_KEY], rows), _grow(weights[LM_HEAD_KEY], rows)
        config.text_config.vocab_size = rows

    output.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(output)
    GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id).save_pretrained(output)
    shards = split_torch_state_dict_into_shards(weights, max_shard_size="5GB")
    for filename, keys in shards.filename_to_tensors.items():
        save_file({k: weights[k].contiguous() for k in keys}, str(output / filename), metadata={"format": "pt"})
    if shards.is_sharded:
        index = {"metadata": {}, "weight_map": shards.tensor_to_filename}
        (output / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))

    processor = LlavaProcessor(
        image_processor=_image_processor(tower, original.get("image_aspect_ratio")),
        tokenizer=tokenizer,
        patch_size=vision_config.patch_size,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
        num_additional_image_tokens=1,  # CLIP's CLS token
        chat_template=TRAIN_CHAT_TEMPLATE,
    )
    processor.save_pretrained(output)
    if check:
        _check_loads(output)
    return output


def _check_loads(folder: Path) -> None:
    from transformers import LlavaForConditionalGeneration

    _, info = LlavaForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    problems = {k: sorted(v) for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if problems:
        raise ConversionError(f"the converted checkpoint in {folder} does not load cleanly: {problems}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fakevlm-convert",
        description="Convert an original-LLaVA-repository checkpoint (mm_projector layout) to transformers' LLaVA format.",
    )
    parser.add_argument("source", help="folder or hub id of the original-LLaVA checkpoint (config.json with mm_* keys, weights, tokenizer)")
    parser.add_argument("output", help="folder to write the transformers LLaVA checkpoint to")
    parser.add_argument("--vision-tower", help="CLIP folder or hub id; default: the config's mm_vision_tower")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], help="cast the weights (default: keep the source's)")
    parser.add_argument("--no-check", action="store_true", help="do not load the result back to check it")
    args = parser.parse_args(argv)
    try:
        out = convert(args.source, args.output, vision_tower=args.vision_tower, dtype=args.dtype, check=not args.no_check)
    except ConversionError as exc:
        print(f"fakevlm-convert: {exc}", file=sys.stderr)
        return 2
    print(f"fakevlm-convert: wrote {out}; evaluate it with --model fakevlm --model_args pretrained={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
