"""An image classifier's P(fake), computed without the ``detector`` adapter: what its tests compare the adapter with."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from fakevlm_model import classifiers


def direct_p_fake(model_dir: Path, image_paths) -> list[float]:
    """P(fake) of each image, computed here without the adapter: the checkpoint, its own transform, a sigmoid."""
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(model_dir).eval()
    transform = classifiers.image_transform(model.config)
    with torch.no_grad():
        pixels = torch.stack([transform(Image.open(p).convert("RGB")) for p in image_paths])
        return torch.sigmoid(model(pixel_values=pixels).logits[:, 0]).tolist()
