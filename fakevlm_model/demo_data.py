"""The demo's image set: crops of scikit-image's sample photographs as "real" images, the same
crops with a synthetic up-sampling checkerboard as "fake" ones, written in FakeClue's layout.

The fakes are made by :func:`checkerboard_fake`: the real crop is averaged down to half its
size, then doubled again by a stride-2 transposed convolution whose 2x2 kernel has unequal
taps (``1 + s`` on one diagonal, ``1 - s`` on the other). That leaves the period-2 checkerboard
that such up-sampling layers are known to print on generated images (Odena, Dumoulin and Olah,
"Deconvolution and Checkerboard Artifacts", Distill 2016), plus the loss of fine detail.
Everything is deterministic given the seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Photographs shipped inside the scikit-image wheel, each under a free licence stated in its
#: ``skimage.data`` docstring: (function name, FakeClue-style category, what it shows).
PHOTOS = (
    ("astronaut", "human", "an astronaut"),                # NASA, public domain
    ("camera", "human", "a photographer"),                 # CC0, Lav Varshney
    ("chelsea", "animal", "a cat"),                        # CC0, Stefan van der Walt
    ("coffee", "object", "a coffee cup"),                  # CC0, Rachel Michetti
    ("coins", "object", "ancient coins"),                  # Brooklyn Museum, no known restrictions
    ("rocket", "object", "a rocket launch"),               # SpaceX, public domain
    ("clock", "object", "a clock"),                        # public domain, Stefan van der Walt
    ("cell", "object", "a cell"),                          # CC0, Paul Mueller et al.
    ("hubble_deep_field", "scene", "a deep-space field"),  # NASA, public domain
    ("grass", "scene", "grass"),                           # CC0
    ("gravel", "scene", "gravel"),                         # CC0
    ("brick", "scene", "a brick wall"),                    # CC0
)

#: Photographs whose crops form the held-out test set (one per category); no crop of them is trained on.
TEST_PHOTOS = ("camera", "chelsea", "coins", "gravel")

QUESTION = "<image>Does the image looks real/fake?"
REAL_ANSWER = "This is a real image. The fine detail of {subject} is natural and smooth, with no repeating pattern."
FAKE_ANSWER = (
    "This is a fake image. A checkerboard pattern repeats every two pixels over {subject}, "
    "the trace of up-sampling in a generator."
)


@dataclass(frozen=True)
class ImageSetSpec:
    """How many images to make and how: ``size`` px squares, crops of ``crop_min``-``crop_max`` px
    of the photograph, ``strength`` the checkerboard's relative amplitude."""

    train_crops_per_photo: int = 12
    test_crops_per_photo: int = 6
    size: int = 32
    crop_min: int = 48
    crop_max: int = 160
    strength: float = 0.25
    seed: int = 0


def load_photo(name: str) -> np.ndarray:
    """A sample photograph as an H x W x 3 uint8 array (grey ones repeated over three channels)."""
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def random_crops(photo: np.ndarray, n: int, spec: ImageSetSpec, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` square crops at random places and sizes, each reduced to ``spec.size`` px with antialiasing."""
    from PIL import Image

    height, width = photo.shape[:2]
    crops = []
    for _ in range(n):
        side = int(rng.integers(spec.crop_min, min(spec.crop_max, height, width) + 1))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        tile = Image.fromarray(photo[top : top + side, left : left + side])
        crops.append(np.asarray(tile.resize((spec.size, spec.size), Image.Resampling.BOX)))
    return crops


def checkerboard_fake(image: np.ndarray, strength: float) -> np.ndarray:
    """The image averaged to half size, then up-sampled by a stride-2 transposed convolution with the
    uneven kernel ``[[1+s, 1-s], [1-s, 1+s]]``: a period-2 checkerboard over blurred content.
    ``image`` is H x W x C uint8 with even H and W."""
    h, w, c = image.shape
    low = image.astype(np.float64).reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))
    kernel = np.array([[1 + strength, 1 - strength], [1 - strength, 1 + strength]])
    up = np.einsum("ijc,ab->iajbc", low, kernel).reshape(h, w, c)
    return np.clip(np.rint(up), 0, 255).astype(np.uint8)


def record(image: str, label: int, category: str, subject: str, size: int) -> dict:
    """One FakeClue record (label 1 real, 0 fake) whose reference explanation names the evidence."""
    answer = (REAL_ANSWER if label == 1 else FAKE_ANSWER).format(subject=subject)
    return {
        "image": image,
        "label": label,
        "cate": category,
        "width": size,
        "height": size,
        "conversations": [{"from": "human", "value": QUESTION}, {"from": "gpt", "value": answer}],
    }


def write_split(images: Path, split: str, spec: ImageSetSpec) -> list[dict]:
    """Write a real and a fake version of every crop of the split's photographs under ``images``
    (``<category>/<real|fake>/<photo>_<k>.png``, FakeClue's layout) and return their records."""
    from PIL import Image

    held_out = split == "test"
    n = spec.test_crops_per_photo if held_out else spec.train_crops_per_photo
    # One stream per split, so the test images do not change with the number of training crops.
    rng = np.random.default_rng([spec.seed, int(held_out)])
    records = []
    for name, category, subject in PHOTOS:
        if (name in TEST_PHOTOS) != held_out:
            continue
        for k, crop in enumerate(random_crops(load_photo(name), n, spec, rng)):
            for label, pixels in ((1, crop), (0, checkerboard_fake(crop, spec.strength))):
                rel = f"{category}/{'real' if label else 'fake'}/{name}_{k:02d}.png"
                (images / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(images / rel)
                records.append(record(rel, label, category, subject, spec.size))
    return records


def write_image_set(root: Path, spec: ImageSetSpec = ImageSetSpec()) -> dict[str, tuple[Path, Path]]:
    """Write the train and test splits as FakeClue ships them (``data_json/<split>.json`` and an image
    folder per split) under ``root``; return ``{split: (annotations, image root)}``."""
    out = {}
    for split in ("train", "test"):
        images = root / split
        records = write_split(images, split, spec)
        annotations = root / "data_json" / f"{split}.json"
        annotations.parent.mkdir(parents=True, exist_ok=True)
        annotations.write_text(json.dumps(records, indent=1), encoding="utf-8")
        out[split] = (annotations, images)
    return out


def answer_corpus() -> list[str]:
    """Every reference answer the image set can hold, after ``ASSISTANT:`` as the training template
    renders it: text for the tiny model's tokenizer to learn. (Without the space before "This" in
    the corpus, the tokenizer would split it off as a token of its own, which the template gives
    in training but the generation prompt leaves for the model to produce.)"""
    return [f"ASSISTANT: {t.format(subject=subject)}" for t in (REAL_ANSWER, FAKE_ANSWER) for _, _, subject in PHOTOS]
