"""Expert baselines on the recipe's machinery: NPR (a ResNet on the neighbouring-pixel residual) and UnivFD
(a linear probe on a frozen CLIP ViT-L/14), trained on FakeClue records with the same loader and bad-record policy.

A detector config (``configs/npr_resnet50.yaml``, ``configs/univfd_clip_vitl14.yaml``) has the recipe's
sections with its own ``model`` and ``method``; ``fakevlm-train`` tells it by ``method.kind``. The output
folder is an ``AutoModelForImageClassification`` (:class:`fakevlm_model.classifiers.FakeImageDetector`)
that ``lmms-eval --model detector --model_args pretrained=<output_dir>`` evaluates.
``python -m fakevlm_training.detectors`` prints the compute cost of both configs.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from transformers import PrinterCallback, Trainer

from fakevlm_model import classifiers

from . import data as fdata
from .config import (
    BAD_RECORD_POLICIES,
    IMAGE_CHECKS,
    RECIPE_OWNED_TRAINING_KEYS,
    ConfigError,
    _apply_override,
    _choice,
    _make,
    _read_with_includes,
    dump,
)
from .modeling import count_parameters
from .progress import ProgressLogger, SaveRecipeConfig
from .recipe import FakeVLMTrainingRecipe, _CountingTrainer

log = logging.getLogger("fakevlm_training")

#: ``method.kind`` of a detector config: a CNN on the image, NPR (the CNN on the residual), a probe on a frozen encoder.
DETECTOR_KINDS = ("cnn", "npr", "univfd")
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass
class DetectorModelConfig:
    backbone: str | None = "torchvision:resnet50"  # cnn, npr: torchvision:<name> | timm:<name>
    encoder: str | None = None  # univfd: a CLIP or SigLIP checkpoint (hub id or folder)
    image_size: int | None = 224  # cnn, npr: centre/random crop side; univfd: the encoder's own
    resize: int | None = None  # cnn, npr: shorter side before cropping (None keeps the pixels)


@dataclass
class DetectorMethodConfig:
    kind: str = "npr"


@dataclass
class DetectorDataConfig:
    train_json: list[str] = field(default_factory=list)
    image_roots: list[str] = field(default_factory=list)
    on_bad_record: str = "skip"
    check_images: str = "exists"
    augment: bool = True  # random crop + horizontal flip, instead of the evaluation's centre crop


@dataclass
class DetectorRecipeConfig:
    model: DetectorModelConfig
    method: DetectorMethodConfig
    data: DetectorDataConfig
    training: dict[str, Any]
    resume: str | None = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def is_detector_config(path: str | Path) -> bool:
    """Whether a recipe YAML (after its includes) trains one of the expert detectors."""
    method = _read_with_includes(Path(path), seen=()).get("method") or {}
    return isinstance(method, dict) and method.get("kind") in DETECTOR_KINDS


def load_detector_config(path: str | Path, overrides=(), *, require_data: bool = True) -> DetectorRecipeConfig:
    """A detector config with ``section.key=value`` overrides, checked (see :func:`validate`)."""
    raw = _read_with_includes(Path(path), seen=())
    for item in overrides:
        _apply_override(raw, item)
    unknown = sorted(set(raw) - {"model", "method", "data", "training", "resume"})
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {unknown}; the sections are model, method, data, training, resume")
    data = dict(raw.get("data") or {})
    for key in ("train_json", "image_roots"):
        if isinstance(data.get(key), str):
            data[key] = [data[key]]
    cfg = DetectorRecipeConfig(
        model=_make(DetectorModelConfig, raw.get("model") or {}, "model"),
        method=_make(DetectorMethodConfig, raw.get("method") or {}, "method"),
        data=_make(DetectorDataConfig, data, "data"),
        training=dict(raw.get("training") or {}),
        resume=raw.get("resume", "auto"),
    )
    validate(cfg, require_data=require_data)
    return cfg


def validate(cfg: DetectorRecipeConfig, *, require_data: bool = True) -> None:
    """Reject combinations that cannot work, before anything is loaded, naming the key to change."""
    m, d, t = cfg.model, cfg.data, cfg.training
    _choice(cfg.method.kind, DETECTOR_KINDS, "method.kind")
    _choice(d.on_bad_record, BAD_RECORD_POLICIES, "data.on_bad_record")
    _choice(d.check_images, IMAGE_CHECKS, "data.check_images")
    if require_data and not d.train_json:
        raise ConfigError("data.train_json is empty: give FakeClue's data_json/train.json (data.train_json=PATH)")
    if require_data and not d.image_roots:
        raise ConfigError("data.image_roots is empty: give the folder(s) the records' image paths are relative to")
    if cfg.method.kind == "univfd":
        if not m.encoder:
            raise ConfigError("method.kind=univfd needs model.encoder (e.g. openai/clip-vit-large-patch14)")
        if m.backbone or m.image_size or m.resize:
            raise ConfigError("method.kind=univfd preprocesses as its encoder does: set model.backbone, model.image_size and model.resize to null")
    else:
        if m.encoder:
            raise ConfigError(f"model.encoder is for method.kind=univfd; method.kind={cfg.method.kind} trains model.backbone")
        if not isinstance(m.image_size, int) or m.image_size < 1:
            raise ConfigError(f"model.image_size must be a positive number of pixels, got {m.image_size!r}")
        try:
            classifiers.check_spec(_network_config(cfg))
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from exc
    owned = sorted(set(t) & set(RECIPE_OWNED_TRAINING_KEYS))
    if owned:
        raise ConfigError(f"training.{owned[0]} is set by the recipe; use the top-level 'resume' key to resume")
    if not t.get("output_dir"):
        raise ConfigError("training.output_dir is required")
    if cfg.resume not in (None, "auto") and not isinstance(cfg.resume, str):
        raise ConfigError("resume must be 'auto', null or a checkpoint folder")


def _network_config(cfg: DetectorRecipeConfig) -> classifiers.FakeDetectorConfig:
    m = cfg.model
    return classifiers.FakeDetectorConfig(
        backbone=m.backbone, residual="npr" if cfg.method.kind == "npr" else None, image_size=m.image_size, resize=m.resize
    )


def build_model(cfg: DetectorRecipeConfig) -> classifiers.FakeImageDetector:
    """A freshly initialised CNN (cnn, npr), or a new linear head on the pretrained, frozen encoder (univfd)."""
    if cfg.method.kind == "univfd":
        return classifiers.probe_with_encoder(*classifiers.load_encoder(cfg.model.encoder), train_encoder=False)
    return classifiers.FakeImageDetector(_network_config(cfg))


class ImageEncoder:
    """A record's training inputs for a detector: its FakeClue label and its pixels.

    Duck-types :class:`fakevlm_training.data.Encoder`, so the recipe's record checks and
    :class:`~fakevlm_training.data.FakeClueDataset` (runtime skips included) apply unchanged.
    """

    def __init__(self, network: classifiers.FakeDetectorConfig, augment: bool):
        self.transform = classifiers.image_transform(network, augment=augment)

    def encode_text(self, record: dict) -> dict[str, int]:
        """The non-image inputs (the name the checks and the dataset call): the class label, or BadRecord."""
        return {"class_labels": fdata.class_label(record)}

    def pixels(self, image) -> torch.Tensor:
        return self.transform(image)


def collate(items: list[dict]) -> dict[str, torch.Tensor]:
    return {
        "pixel_values": torch.stack([it["pixel_values"] for it in items]),
        "class_labels": torch.tensor([it["class_labels"] for it in items], dtype=torch.long),
    }


class _ImageTrainer(_CountingTrainer):
    """Counts images (the recipe's counter reads token ids) and resumes weights as the recipe's does."""

    def compute_loss(self, model, inputs, *args, **kwargs):
        self.rank_counts["micro_batches"] += 1
        self.rank_counts["samples"] += int(inputs["pixel_values"].shape[0])
        return Trainer.compute_loss(self, model, inputs, *args, **kwargs)


class DetectorTrainingRecipe(FakeVLMTrainingRecipe):
    """The recipe's run (record checks, skips, resume, progress, run summary) for an expert detector."""

    def setup(self) -> None:
        self.args = self._training_arguments()
        self.state = PartialState()
        if self.state.is_main_process:
            log.info("resolved config:\n%s", dump(self.cfg))
        self.model = build_model(self.cfg)
        self.encoder = ImageEncoder(self.model.config, augment=self.cfg.data.augment)
        self.dataset = self._checked_dataset()
        trainable, total = count_parameters(self.model)
        self.resume_from = self._resume_checkpoint()
        self.samples_per_step = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        if self.state.is_main_process:
            log.info("model: %s, %s trainable of %s parameters | %d samples/step",
                     self.cfg.method.kind, f"{trainable:,}", f"{total:,}", self.samples_per_step)
        self.trainer = _ImageTrainer(
            model=self.model,
            args=self.args,
            train_dataset=self.dataset,
            data_collator=collate,
            callbacks=[ProgressLogger(self.samples_per_step), SaveRecipeConfig(dump(self.cfg))],
        )
        self.trainer.remove_callback(PrinterCallback)

    def save_checkpoint(self) -> Path:
        """The final model in output_dir: an AutoModelForImageClassification folder."""
        self.trainer.save_model(str(self.output_dir))
        return self.output_dir


# ------------------------------------------------------------------------- compute cost

GIB = 2**30
FAKECLUE_TRAIN_RECORDS = 104_343
#: A100 dense bf16 peak and the utilisation assumed, as in fakevlm_training.budget.
A100_PEAK_FLOPS = 312e12
UTILISATION = 0.40
CLIP_VIT_L14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                    image_size=224, patch_size=14, projection_dim=768)


@dataclass(frozen=True)
class DetectorCost:
    """Counted on a meta-device copy of the network (no weights, no download)."""

    name: str
    parameters: int
    trainable: int
    forward_flops: float  # one image
    passes: int  # forward-equivalents per trained image: 3 with a backward through the network, 1 without
    activation_bytes: float  # kept for the backward at the config's per-device batch
    batch: int
    epochs: int

    @property
    def total_flops(self) -> float:
        return self.forward_flops * self.passes * FAKECLUE_TRAIN_RECORDS * self.epochs

    @property
    def a100_hours(self) -> float:
        return self.total_flops / (A100_PEAK_FLOPS * UTILISATION) / 3600

    @property
    def state_bytes(self) -> float:
        """fp32 weights, plus gradient and Adam's two moments for what trains."""
        return 4 * self.parameters + 12 * self.trainable


def _count(model: torch.nn.Module, batch: int, side: int, trains_network: bool) -> tuple[float, float]:
    """(forward FLOPs of one image, bytes kept for the backward at ``batch``), both on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        one = torch.empty(1, 3, side, side)
        many = torch.empty(batch, 3, side, side)
    with FlopCounterMode(display=False) as counter:
        model(pixel_values=one)
    if not trains_network:
        return counter.get_total_flops(), 0.0
    params = {id(p) for p in model.parameters()}
    kept = [0]

    def pack(t):
        if id(t) not in params:
            kept[0] += t.numel() * t.element_size()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(pixel_values=many)
    return counter.get_total_flops(), float(kept[0])


def detector_cost(config_path: str | Path) -> DetectorCost:
    """The cost of a shipped detector config at full scale (FakeClue's 104,343 training images)."""
    from transformers import CLIPVisionConfig

    cfg = load_detector_config(config_path, require_data=False)
    batch, epochs = int(cfg.training["per_device_train_batch_size"]), int(cfg.training["num_train_epochs"])
    if cfg.method.kind == "univfd":
        encoder = CLIPVisionConfig(**CLIP_VIT_L14)
        network = classifiers.FakeDetectorConfig(backbone=classifiers.PROBE, encoder=encoder.to_dict(), image_size=224)
    else:
        network = _network_config(cfg)
    with torch.device("meta"):
        model = classifiers.FakeImageDetector(network)
    trains_network = cfg.method.kind != "univfd"
    flops, kept = _count(model, batch, network.image_size, trains_network)
    trainable, total = count_parameters(model)
    return DetectorCost(Path(config_path).stem, total, trainable, flops, 3 if trains_network else 1, kept, batch, epochs)


def cost_report(paths=(CONFIG_DIR / "npr_resnet50.yaml", CONFIG_DIR / "univfd_clip_vitl14.yaml")) -> str:
    costs = [detector_cost(p) for p in paths]
    lines = [
        "| | " + " | ".join(f"`{c.name}`" for c in costs) + " |",
        "|---|" + "---:|" * len(costs),
        "| parameters / trained | " + " | ".join(f"{c.parameters:,} / {c.trainable:,}" for c in costs) + " |",
        "| forward GFLOPs per image (224 px) | " + " | ".join(f"{c.forward_flops / 1e9:.2f}" for c in costs) + " |",
        "| forward-equivalents per trained image | " + " | ".join(str(c.passes) for c in costs) + " |",
        "| epochs x images | " + " | ".join(f"{c.epochs} x {FAKECLUE_TRAIN_RECORDS:,}" for c in costs) + " |",
        "| training FLOPs | " + " | ".join(f"{c.total_flops:.3e}" for c in costs) + " |",
        f"| A100-hours at {UTILISATION:.0%} of {A100_PEAK_FLOPS / 1e12:.0f} TFLOPS | " + " | ".join(f"{c.a100_hours:.2f}" for c in costs) + " |",
        "| fp32 weights + gradients + Adam | " + " | ".join(f"{c.state_bytes / GIB:.2f} GiB" for c in costs) + " |",
        "| activations kept for the backward (fp32, per-device batch) | "
        + " | ".join(f"{c.activation_bytes / GIB:.2f} GiB (batch {c.batch})" for c in costs) + " |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakevlm_training.detectors", description="Compute cost of the expert-detector configs.")
    parser.add_argument("configs", nargs="*", help="detector configs (default: the two shipped ones)")
    args = parser.parse_args(argv)
    print(cost_report(args.configs) if args.configs else cost_report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
