"""Deterministic image perturbations for the robustness variants of the tasks (FakeVLM Appendix C).

Each perturbation is a pure function of the image (and, for noise, of the doc id), so a
variant task such as ``fakeclue_jpeg50`` shows every model exactly the same pixels on
every run. The variant YAMLs in ``tasks/robustness/`` name the ``doc_to_visual`` hooks
defined at the bottom of this module; :data:`PERTURBATIONS` lists them by task suffix.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageFilter


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """Re-encode as JPEG at ``quality`` (PIL's encoder, default 4:2:0 subsampling) and decode."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return im.convert("RGB")


def resize(image: Image.Image, scale: float) -> Image.Image:
    """Downscale both sides by ``scale`` (bicubic, at least 1 pixel); the model sees the smaller image."""
    w, h = image.size
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def blur(image: Image.Image, sigma: float) -> Image.Image:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    return image.filter(ImageFilter.GaussianBlur(radius=sigma))


def gaussian_noise(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` (0-255 scale), rounded and clipped."""
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, sigma, size=pixels.shape)
    return Image.fromarray(np.clip(np.rint(pixels + noise), 0, 255).astype(np.uint8))


def doc_seed(doc_id: str) -> int:
    """A 64-bit seed from the doc id: stable across runs, processes and Python versions."""
    return int.from_bytes(hashlib.sha256(str(doc_id).encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class Perturbation:
    """One perturbation at one strength; ``name`` is the suffix of its variant tasks."""

    name: str
    kind: str  # "jpeg" | "resize" | "blur" | "noise"
    strength: float
    description: str

    def apply(self, image: Image.Image, doc_id: str) -> Image.Image:
        if self.kind == "jpeg":
            return jpeg(image, int(self.strength))
        if self.kind == "resize":
            return resize(image, self.strength)
        if self.kind == "blur":
            return blur(image, self.strength)
        if self.kind == "noise":
            return gaussian_noise(image, self.strength, doc_seed(doc_id))
        raise ValueError(f"unknown perturbation kind {self.kind!r}")

    def doc_to_visual(self, doc) -> list[Image.Image]:
        """The task's image, perturbed; noise is seeded by the doc's id (its image path if it has none)."""
        from fakevlm_tasks.hooks import doc_to_visual  # the lmms-eval glue; not needed to list perturbations

        (image,) = doc_to_visual(doc)
        return [self.apply(image, doc.get("id") or doc["image"])]


#: Every perturbation a variant task uses, keyed by the task-name suffix (``fakeclue_<name>``).
PERTURBATIONS = {
    p.name: p
    for p in (
        Perturbation("jpeg50", "jpeg", 50, "JPEG re-encoding, quality 50"),
        Perturbation("resize50", "resize", 0.5, "downscaled to 50% per side (bicubic)"),
        Perturbation("blur2", "blur", 2.0, "Gaussian blur, sigma 2 px"),
        Perturbation("noise10", "noise", 10.0, "Gaussian noise, sigma 10/255, seeded per doc id"),
    )
}

# The hooks the variant YAMLs name (``!function fakevlm_tasks.perturb.<name>``).
jpeg50 = PERTURBATIONS["jpeg50"].doc_to_visual
resize50 = PERTURBATIONS["resize50"].doc_to_visual
blur2 = PERTURBATIONS["blur2"].doc_to_visual
noise10 = PERTURBATIONS["noise10"].doc_to_visual


def split_task_name(task: str) -> tuple[str, Perturbation | None]:
    """``"fakeclue_jpeg50"`` -> ``("fakeclue", <jpeg50>)``; a task without a perturbation suffix -> ``(task, None)``."""
    base, _, suffix = task.rpartition("_")
    if base and suffix in PERTURBATIONS:
        return base, PERTURBATIONS[suffix]
    return task, None
