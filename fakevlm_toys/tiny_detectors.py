"""Tiny random-weight image classifiers for the ``detector`` model: this project's own format, a CLIP
encoder to probe, and a plain Hugging Face classifier. Their outputs are meaningless; only the plumbing is real."""

from __future__ import annotations

from pathlib import Path


def build_tiny_detector(out_dir: str | Path, *, backbone: str = "torchvision:resnet18", residual: str | None = None,
                        image_size: int = 16, seed: int = 0) -> Path:
    """A :class:`~fakevlm_model.classifiers.FakeImageDetector` checkpoint (``backbone="torchvision:resnet50"``,
    ``image_size=224``: ResNet-50-shaped, for the benchmark)."""
    import torch

    from fakevlm_model.classifiers import FakeDetectorConfig, FakeImageDetector

    torch.manual_seed(seed)
    model = FakeImageDetector(FakeDetectorConfig(backbone=backbone, residual=residual, image_size=image_size))
    model.save_pretrained(out_dir)
    return Path(out_dir)


def build_tiny_clip(out_dir: str | Path, *, image_size: int = 32, seed: int = 0) -> Path:
    """A CLIP vision encoder with its projection (32-d) and image processor: what UnivFD probes, in miniature."""
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=image_size, patch_size=8, projection_dim=32)
    CLIPVisionModelWithProjection(config).save_pretrained(out_dir)
    CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}).save_pretrained(out_dir)
    return Path(out_dir)


def build_tiny_hf_classifier(out_dir: str | Path, *, labels=("real", "fake"), image_size: int = 16, seed: int = 0) -> Path:
    """A ViT ``AutoModelForImageClassification`` with its own image processor and the given class names."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(seed)
    config = ViTConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=image_size,
                       patch_size=8, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    ViTForImageClassification(config).save_pretrained(out_dir)
    ViTImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(out_dir)
    return Path(out_dir)
