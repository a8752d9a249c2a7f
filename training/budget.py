"""What the paper's run costs, computed: parameters (counted on a meta-device LLaVA-1.5-7B), memory per
GPU under ZeRO-2 with gradient checkpointing, training FLOPs and A100-hours.

``python -m fakevlm_training.budget`` prints the tables of training/README.md; ``--train-json`` with
``--tokenizer`` measures the text tokens per sample instead of assuming them.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30

#: FakeClue train.json (docs/protocol.md) and the paper's schedule (§4.3).
FAKECLUE_TRAIN_RECORDS = 104_343
EPOCHS = 2
GPUS = 8
PER_DEVICE_BATCH = 32
#: A100 dense bf16 peak (NVIDIA data sheet) and the utilisation assumed for the hours.
A100_PEAK_FLOPS = 312e12
UTILISATION = 0.40
#: Text tokens per sample apart from the answer: BOS + "USER: <image>\n" + question + " ASSISTANT: " (the image
#: token excluded), about 20 with Llama's tokenizer; the answer's length is the real unknown (see --train-json).
PROMPT_TOKENS = 20
ANSWER_TOKENS = 250


def llava_1_5_7b_config():
    """llava-hf/llava-1.5-7b-hf's architecture (its config.json), built without downloading anything."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    return LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
            image_size=336, patch_size=14, projection_dim=768,
        ),
        text_config=LlamaConfig(
            vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
            num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
        ),
        image_token_index=32000, vision_feature_layer=-2, vision_feature_select_strategy="default",
        image_seq_length=576,
    )


@dataclass(frozen=True)
class ParameterCounts:
    vision_tower: int
    vision_unused: int  # layers after vision_feature_layer + post-layernorm: never trained
    projector: int
    embeddings: int  # a lookup, no matmul FLOPs
    decoder: int
    lm_head: int

    @property
    def total(self) -> int:
        return self.vision_tower + self.projector + self.embeddings + self.decoder + self.lm_head

    @property
    def trainable(self) -> int:
        return self.total - self.vision_unused


def count_parameters(config=None) -> ParameterCounts:
    import torch
    from transformers import LlavaForConditionalGeneration

    config = config or llava_1_5_7b_config()
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(config)
    inner = model.model
    vision = getattr(inner.vision_tower, "vision_model", inner.vision_tower)
    n_layers = len(vision.encoder.layers)
    used = n_layers + 1 + config.vision_feature_layer if config.vision_feature_layer < 0 else config.vision_feature_layer
    numel = lambda module: sum(p.numel() for p in module.parameters())
    unused = sum(numel(vision.encoder.layers[i]) for i in range(used, n_layers)) + numel(vision.post_layernorm)
    lm = inner.language_model
    return ParameterCounts(
        vision_tower=numel(inner.vision_tower),
        vision_unused=unused,
        projector=numel(inner.multi_modal_projector),
        embeddings=numel(lm.embed_tokens),
        decoder=numel(lm) - numel(lm.embed_tokens),
        lm_head=numel(model.lm_head),
    )


@dataclass(frozen=True)
class Budget:
    params: ParameterCounts
    image_tokens: int
    text_tokens: int
    samples: int = FAKECLUE_TRAIN_RECORDS
    epochs: int = EPOCHS
    gpus: int = GPUS
    per_device_batch: int = PER_DEVICE_BATCH
    utilisation: float = UTILISATION
    hidden: int = 4096
    intermediate: int = 11008
    layers: int = 32
    vocab: int = 32064
    vision_hidden: int = 1024
    vision_layers_used: int = 23

    @property
    def seq(self) -> int:
        return self.image_tokens + self.text_tokens

    @property
    def steps(self) -> int:
        per_rank = math.ceil(self.samples / self.gpus)
        return math.ceil(per_rank / self.per_device_batch) * self.epochs

    # -- compute ------------------------------------------------------------------------------
    def flops_per_sample(self, recompute: bool = True) -> float:
        """Forward 2 FLOPs per weight per token, backward 4, gradient checkpointing one more forward."""
        passes = 8 if recompute else 6
        p = self.params
        vision_dense = (p.vision_tower - p.vision_unused) * (self.image_tokens + 1)
        llm_dense = (p.decoder + p.lm_head) * self.seq
        # Attention scores and mixing: 2 matmuls of 2*s*s*h FLOPs per layer in the forward pass.
        attention = self.layers * 4 * self.seq**2 * self.hidden
        return passes / 2 * (2 * (vision_dense + p.projector * self.image_tokens + llm_dense) + attention)

    def total_flops(self) -> float:
        return self.flops_per_sample() * self.samples * self.epochs

    def gpu_hours(self) -> float:
        return self.total_flops() / (A100_PEAK_FLOPS * self.utilisation) / 3600

    def wall_hours(self) -> float:
        return self.gpu_hours() / self.gpus

    # -- memory per GPU, ZeRO-2, bf16 weights, fp32 Adam states ------------------------------------
    def model_state_bytes(self) -> dict[str, float]:
        psi, phi = self.params.trainable, self.params.total
        return {
            "bf16 weights (replicated)": 2 * phi,
            "bf16 gradients (ZeRO-2: 1/N)": 2 * psi / self.gpus,
            "fp32 master + Adam m + v (ZeRO-2: 1/N)": 12 * psi / self.gpus,
        }

    def activation_bytes(self) -> dict[str, float]:
        tokens = self.per_device_batch * self.seq
        return {
            # Checkpointing keeps each decoder layer's bf16 input ...
            "LLM layer inputs kept (L*b*s*h*2)": self.layers * tokens * self.hidden * 2,
            # ... and rebuilds one layer at a time: ~14 h-wide and 4 intermediate-wide bf16 tensors per token
            # (norms, q/k/v, rotary, attention out, residuals; gate, up, act, product), flash/SDPA attention.
            "one recomputed layer (b*s*(14h+4i)*2)": tokens * (14 * self.hidden + 4 * self.intermediate) * 2,
            # Logits for every position: bf16, their fp32 copy for the loss, and its fp32 gradient.
            "logits (b*s*V*(2+4+4))": tokens * self.vocab * 10,
            "vision layer inputs kept (L_v*b*577*h_v*2)": self.vision_layers_used * self.per_device_batch
            * (self.image_tokens + 1) * self.vision_hidden * 2,
        }

    def memory_gib(self) -> float:
        return (sum(self.model_state_bytes().values()) + sum(self.activation_bytes().values())) / GIB


def measure_text_tokens(train_json: str, tokenizer_name: str, limit: int = 2000) -> float:
    """Mean text tokens per record (image token excluded) under the training template."""
    from transformers import AutoTokenizer

    from .config import TemplateConfig
    from .data import render

    tok = AutoTokenizer.from_pretrained(tokenizer_name)
    records = json.loads(Path(train_json).read_text())[:limit]
    lengths = [
        len(tok(render(r, TemplateConfig(), image_token="<image>", eos=tok.eos_token).text)["input_ids"]) - 1
        for r in records
    ]
    return sum(lengths) / len(lengths)


def report(text_tokens: float | None = None, utilisation: float = UTILISATION) -> str:
    params = count_parameters()
    text = text_tokens if text_tokens is not None else PROMPT_TOKENS + ANSWER_TOKENS
    b = Budget(params, image_tokens=576, text_tokens=round(text), utilisation=utilisation)
    g = lambda x: f"{x / GIB:.1f} GiB"
    lines = [
        "| parameters | count |", "|---|---:|",
        f"| vision tower (CLIP ViT-L/14-336) | {params.vision_tower:,} |",
        f"| of which never used (layer 24, post-layernorm) | {params.vision_unused:,} |",
        f"| projector | {params.projector:,} |",
        f"| LLM embeddings | {params.embeddings:,} |",
        f"| LLM decoder layers + norm | {params.decoder:,} |",
        f"| lm_head | {params.lm_head:,} |",
        f"| total / trained | {params.total:,} / {params.trainable:,} |",
        "",
        (
            f"Tokens per sample: 576 image + {b.text_tokens} text = {b.seq}. "
            f"Steps: ceil(ceil({b.samples:,} / {b.gpus}) / {b.per_device_batch}) x {b.epochs} = {b.steps}."
        ),
        "",
        "| memory per GPU (ZeRO-2 over 8, micro-batch 32, checkpointing) | size |", "|---|---:|",
        *[f"| {k} | {g(v)} |" for k, v in {**b.model_state_bytes(), **b.activation_bytes()}.items()],
        f"| total (before DeepSpeed buckets, CUDA context, fragmentation) | {b.memory_gib():.1f} GiB |",
        "",
        (
            "FLOPs per sample (8 passes of 2 FLOPs/weight/token incl. recompute, + attention): "
            f"{b.flops_per_sample():.3e}"
        ),
        f"Total: {b.flops_per_sample():.3e} x {b.samples:,} x {b.epochs} = {b.total_flops():.3e} FLOPs",
        (
            f"A100-hours at {b.utilisation:.0%} of {A100_PEAK_FLOPS / 1e12:.0f} TFLOPS: {b.gpu_hours():.1f} "
            f"({b.wall_hours():.1f} h on {b.gpus} GPUs)"
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakevlm_training.budget", description=__doc__)
    parser.add_argument("--train-json", help="measure text tokens on these records (needs --tokenizer)")
    parser.add_argument("--tokenizer", default="llava-hf/llava-1.5-7b-hf")
    parser.add_argument("--text-tokens", type=float, help="text tokens per sample (default: prompt ~20 + answer 250)")
    parser.add_argument("--utilisation", type=float, default=UTILISATION)
    args = parser.parse_args(argv)
    text = args.text_tokens
    if args.train_json:
        text = measure_text_tokens(args.train_json, args.tokenizer)
    print(report(text, args.utilisation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
