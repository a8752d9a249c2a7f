"""Deterministic image perturbations for the robustness variants of the tasks (FakeVLM Appendix C).

Each perturbation is a pure function of the image (and, for noise, of the doc id), so a
variant task such as ``fakeclue_jpeg50`` shows every model exactly the same pixels on
every run. The controls (``grey``, ``lowpass``, ``highpass``) ask how much of a score
comes from the image at all and from which part of its spectrum. The variant YAMLs that
:mod:`fakevlm_tasks.glue.variants` generates into each benchmark's ``variants/`` name the
``doc_to_visual`` hooks
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


def to_grey(image: Image.Image) -> Image.Image:
    """A uniform mid-grey image (128, 128, 128) of the same size: nothing of the original is left.

    A model that still scores well on these reads priors (the question, the category),
    not pixels.
    """
    return Image.new("RGB", image.size, (128, 128, 128))


def _frequency_filter(image: Image.Image, cutoff: float, keep: str):
    """The image's low (``keep="low"``) or high frequencies, per channel, through a Gaussian transfer function.

    ``cutoff`` is the frequency (cycles per pixel, 0 to 0.5) where the low-pass gain falls
    to exp(-1/2); high-pass is one minus that gain, so low + high = the image exactly.
    """
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    h, w = pixels.shape[:2]
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    gain = np.exp(-0.5 * (fx**2 + fy**2) / cutoff**2)
    if keep == "high":
        gain = 1.0 - gain
    spectrum = np.fft.fft2(pixels, axes=(0, 1)) * gain[:, :, None]
    return np.real(np.fft.ifft2(spectrum, axes=(0, 1)))


def low_pass(image: Image.Image, cutoff: float) -> Image.Image:
    """Only the frequencies below about ``cutoff`` cycles per pixel (Gaussian low-pass), rounded and clipped."""
    import numpy as np

    return Image.fromarray(np.clip(np.rint(_frequency_filter(image, cutoff, "low")), 0, 255).astype(np.uint8))


def high_pass(image: Image.Image, cutoff: float) -> Image.Image:
    """Only the frequencies above about ``cutoff`` cycles per pixel, shifted to mid-grey (+128), rounded and clipped.

    The mean of the image (frequency 0) is removed exactly, so what is left is the fine
    texture where up-sampling and generator traces live, on a grey background.
    """
    import numpy as np

    return Image.fromarray(np.clip(np.rint(_frequency_filter(image, cutoff, "high") + 128.0), 0, 255).astype(np.uint8))


def doc_seed(doc_id: str) -> int:
    """A 64-bit seed from the doc id: stable across runs, processes and Python versions."""
    return int.from_bytes(hashlib.sha256(str(doc_id).encode("utf-8")).digest()[:8], "big")


#: Perturbations that are controls (how much of a score comes from the pixels), not degradations.
CONTROL_KINDS = ("grey", "lowpass", "highpass")


@dataclass(frozen=True)
class Perturbation:
    """One perturbation at one strength; ``name`` is the suffix of its variant tasks."""

    name: str
    kind: str  # "jpeg" | "resize" | "blur" | "noise" | "grey" | "lowpass" | "highpass"
    strength: float
    description: str

    @property
    def tag(self) -> str:
        """The lmms-eval tag that runs its variants: ``fakevlm_controls`` for the controls, else ``fakevlm_robustness``."""
        return "fakevlm_controls" if self.kind in CONTROL_KINDS else "fakevlm_robustness"

    def apply(self, image: Image.Image, doc_id: str) -> Image.Image:
        if self.kind == "jpeg":
            return jpeg(image, int(self.strength))
        if self.kind == "resize":
            return resize(image, self.strength)
        if self.kind == "blur":
            return blur(image, self.strength)
        if self.kind == "noise":
            return gaussian_noise(image, self.strength, doc_seed(doc_id))
        if self.kind == "grey":
            return to_grey(image)
        if self.kind == "lowpass":
            return low_pass(image, self.strength)
        if self.kind == "highpass":
            return high_pass(image, self.strength)
        raise ValueError(f"unknown perturbation kind {self.kind!r}")

    def doc_to_visual(self, doc) -> list[Image.Image]:
        """The task's image, perturbed; noise is seeded by the doc's id (its image path if it has none)."""
        from fakevlm_tasks.glue.images import doc_to_visual

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
        # Controls: what is a score worth without the image, or with half of its spectrum?
        Perturbation("grey", "grey", 0.0, "the image replaced by uniform grey (control: priors, not pixels)"),
        Perturbation("lowpass", "lowpass", 0.05, "Gaussian low-pass, cutoff 0.05 cycles/px"),
        Perturbation("highpass", "highpass", 0.05, "Gaussian high-pass, cutoff 0.05 cycles/px, on mid-grey"),
    )
}

# The hooks the variant YAMLs name (``!function fakevlm_tasks.glue.perturb.<name>``).
jpeg50 = PERTURBATIONS["jpeg50"].doc_to_visual
resize50 = PERTURBATIONS["resize50"].doc_to_visual
blur2 = PERTURBATIONS["blur2"].doc_to_visual
noise10 = PERTURBATIONS["noise10"].doc_to_visual
grey = PERTURBATIONS["grey"].doc_to_visual
lowpass = PERTURBATIONS["lowpass"].doc_to_visual
highpass = PERTURBATIONS["highpass"].doc_to_visual


def split_task_name(task: str) -> tuple[str, Perturbation | None]:
    """``"fakeclue_jpeg50"`` -> ``("fakeclue", <jpeg50>)``; a task without a perturbation suffix -> ``(task, None)``."""
    base, _, suffix = task.rpartition("_")
    if base and suffix in PERTURBATIONS:
        return base, PERTURBATIONS[suffix]
    return task, None
