"""The model each method trains: LLaVA with chosen parts frozen, a LoRA-adapted LLaVA, or LLaVA with a
linear real/fake head (full fine-tune or frozen-backbone probe).

Head checkpoints are ordinary LLaVA folders whose ``model.safetensors`` also holds ``verdict_head.weight``
[2, hidden] and ``verdict_head.bias`` [2], and whose ``config.json`` has a ``fakevlm_head`` entry
(``feature``, ``classes``, ``prompt``); class index = FakeClue label (0 fake, 1 real).
"""

from __future__ import annotations

import logging

import torch
from torch import nn
from transformers import AutoProcessor, LlavaConfig, LlavaForConditionalGeneration
from transformers.conversion_mapping import (
    get_checkpoint_conversion_mapping,
    register_checkpoint_conversion_mapping,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from .config import ModelConfig, RecipeConfig

log = logging.getLogger(__name__)

HEAD_CLASSES = ["fake", "real"]


class LlavaWithVerdictHead(LlavaForConditionalGeneration):
    """LLaVA plus a linear layer mapping one feature vector to real/fake logits.

    ``feature="llm_last_token"``: the language model's last hidden state at the prompt's last token;
    ``feature="image_mean"``: the projected image tokens averaged (the language model is not run).
    """

    # The loss is a per-batch mean, not a per-token sum: the Trainer must scale it for accumulation.
    accepts_loss_kwargs = False

    def __init__(self, config: LlavaConfig):
        super().__init__(config)
        self.verdict_head = nn.Linear(config.text_config.hidden_size, len(HEAD_CLASSES))
        self.post_init()

    @property
    def head_feature(self) -> str:
        return self.config.fakevlm_head["feature"]

    def verdict_features(self, input_ids=None, attention_mask=None, pixel_values=None) -> torch.Tensor:
        if self.head_feature == "image_mean":
            feats = self.model.get_image_features(
                pixel_values=pixel_values,
                vision_feature_layer=self.config.vision_feature_layer,
                vision_feature_select_strategy=self.config.vision_feature_select_strategy,
            ).pooler_output
            return torch.stack(list(feats)).mean(dim=1)
        hidden = self.model(
            input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, use_cache=False
        ).last_hidden_state
        # The last attended position, whichever side the batch was padded on.
        positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
        last = (attention_mask * positions).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, class_labels=None, **kwargs):
        features = self.verdict_features(input_ids, attention_mask, pixel_values)
        logits = self.verdict_head(features.to(self.verdict_head.weight.dtype))
        loss = None
        if class_labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), class_labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def p_real(self, input_ids, attention_mask, pixel_values) -> torch.Tensor:
        """P(real) per row: the score an adapter reports (argmax 1 = "real", 0 = "fake")."""
        logits = self.forward(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values).logits
        return logits.float().softmax(dim=-1)[:, HEAD_CLASSES.index("real")]


# transformers applies its LLaVA key renaming (original checkpoint layout <-> module layout) only to its own
# classes; a subclass defined elsewhere must register it, or lm_head would load as random weights.
register_checkpoint_conversion_mapping(
    LlavaWithVerdictHead.__name__, get_checkpoint_conversion_mapping("llava"), overwrite=True
)


def load_processor(m: ModelConfig):
    return AutoProcessor.from_pretrained(m.processor or m.name_or_path)


def model_dtype(cfg: RecipeConfig) -> torch.dtype:
    """``auto``: 16-bit weights only under DeepSpeed (which keeps fp32 master weights), else fp32 + autocast."""
    if cfg.model.dtype != "auto":
        return getattr(torch, cfg.model.dtype)
    if cfg.training.get("deepspeed"):
        if cfg.training.get("bf16"):
            return torch.bfloat16
        if cfg.training.get("fp16"):
            return torch.float16
    return torch.float32


def load_model(cfg: RecipeConfig, prompt: str | None = None) -> nn.Module:
    """The model for ``cfg.method``, with ``requires_grad`` set for exactly the parts that train."""
    m, method = cfg.model, cfg.method
    kwargs = {"dtype": model_dtype(cfg)}
    if m.attn_implementation:
        kwargs["attn_implementation"] = m.attn_implementation
    if method.kind == "generative":
        model = LlavaForConditionalGeneration.from_pretrained(m.name_or_path, **kwargs)
    else:
        config = LlavaConfig.from_pretrained(m.name_or_path)
        config.fakevlm_head = {"feature": method.feature, "classes": HEAD_CLASSES, "prompt": prompt}
        model = LlavaWithVerdictHead.from_pretrained(m.name_or_path, config=config, **kwargs)
    set_trainable(model, cfg)
    if method.lora is not None:
        model = add_lora(model, cfg)
    return model


def _parts(model: LlavaForConditionalGeneration) -> dict[str, list[nn.Module]]:
    inner = model.model
    return {
        "vision_tower": [inner.vision_tower],
        "projector": [inner.multi_modal_projector],
        "language_model": [inner.language_model, model.lm_head],
    }


def set_trainable(model: LlavaForConditionalGeneration, cfg: RecipeConfig) -> None:
    m, method = cfg.model, cfg.method
    wanted = {
        "vision_tower": m.train_vision_tower,
        "projector": m.train_projector,
        "language_model": m.train_language_model,
    }
    for name, modules in _parts(model).items():
        for module in modules:
            module.requires_grad_(wanted[name])
    # Parameters that never receive a gradient would stall DDP and waste optimizer memory.
    for name, param in unused_parameters(model, cfg):
        param.requires_grad_(False)
    if method.kind != "generative":
        model.verdict_head.requires_grad_(True)


def unused_parameters(model: LlavaForConditionalGeneration, cfg: RecipeConfig):
    """Parameters the forward pass never uses: CLIP layers after ``vision_feature_layer`` and its
    post-layernorm (LLaVA reads a hidden state, not the pooled output), and ``lm_head`` for the heads."""
    vision = model.model.vision_tower
    # transformers 5 flattened CLIPVisionModel; 4.x nests it under .vision_model.
    vision = getattr(vision, "vision_model", vision)
    encoder_layers = vision.encoder.layers
    n = len(encoder_layers)
    layers = model.config.vision_feature_layer
    layers = layers if isinstance(layers, list) else [layers]
    used = max(k if k >= 0 else n + 1 + k for k in layers)
    for index in range(used, n):
        yield from ((f"vision layer {index}", p) for p in encoder_layers[index].parameters())
    yield from (("vision post_layernorm", p) for p in vision.post_layernorm.parameters())
    if cfg.method.kind != "generative":
        yield from (("lm_head", p) for p in model.lm_head.parameters())


def add_lora(model: LlavaForConditionalGeneration, cfg: RecipeConfig):
    """LoRA adapters on the language model's linear layers; the projector, if trained, is trained fully."""
    from peft import LoraConfig, get_peft_model

    lora = cfg.method.lora
    targets = "|".join(lora.target_modules)
    peft_config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=rf".*language_model.*\.({targets})$",
        modules_to_save=["multi_modal_projector"] if cfg.model.train_projector else None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, peft_config)


def merge_lora(cfg: RecipeConfig, adapter_dir: str, out_dir: str) -> None:
    """Reload the base on CPU, merge the saved adapter and write a plain LLaVA folder (any ZeRO stage)."""
    from peft import PeftModel

    base = LlavaForConditionalGeneration.from_pretrained(cfg.model.name_or_path, dtype=model_dtype(cfg))
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.save_pretrained(out_dir)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
