"""The robustness perturbations: deterministic, and each changes the pixels as its name says."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from PIL import Image, ImageFilter

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue.perturb import PERTURBATIONS, blur, doc_seed, gaussian_noise, high_pass, jpeg, low_pass, resize, split_task_name, to_grey



def textured(w: int = 64, h: int = 48) -> Image.Image:
    """Gradients plus a checkerboard: every perturbation has edges and flat areas to act on."""
    y, x = np.mgrid[0:h, 0:w]
    checker = ((x // 4 + y // 4) % 2) * 80
    rgb = np.stack([x * 255 // w, y * 255 // h, checker + 60], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb)


def pixels(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_each_perturbation_gives_identical_pixels_on_every_call(name):
    p = PERTURBATIONS[name]
    first, second = p.apply(textured(), "doc-7"), p.apply(textured(), "doc-7")
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_each_perturbation_changes_the_pixels(name):
    original = textured()
    out = PERTURBATIONS[name].apply(original, "doc-7")
    assert out.mode == "RGB"
    if out.size == original.size:
        assert np.abs(pixels(out) - pixels(original)).mean() > 0.5
    else:
        assert out.size != original.size


def test_jpeg_is_a_round_trip_through_pils_encoder_at_that_quality():
    low, high = jpeg(textured(), 10), jpeg(textured(), 95)
    assert low.size == textured().size
    err_low = np.abs(pixels(low) - pixels(textured())).mean()
    err_high = np.abs(pixels(high) - pixels(textured())).mean()
    assert err_low > err_high > 0


def test_resize_scales_each_side_and_keeps_at_least_one_pixel():
    assert resize(textured(64, 48), 0.5).size == (32, 24)
    assert resize(textured(5, 3), 0.1).size == (1, 1)


def test_blur_is_a_gaussian_of_that_sigma_and_smooths_the_edges():
    out = blur(textured(), 2.0)
    assert out.tobytes() == textured().filter(ImageFilter.GaussianBlur(radius=2.0)).tobytes()
    edges = lambda im: np.abs(np.diff(pixels(im)[..., 2], axis=1)).sum()  # the checkerboard channel
    assert edges(out) < 0.5 * edges(textured())


def test_noise_has_the_stated_sigma_and_no_bias_away_from_clipping():
    gray = Image.new("RGB", (128, 128), (128, 128, 128))
    diff = pixels(gaussian_noise(gray, 10.0, seed=3)) - 128
    assert diff.std() == pytest.approx(10.0, rel=0.05)
    assert abs(diff.mean()) < 0.3


def test_noise_is_seeded_by_the_doc_id():
    p = PERTURBATIONS["noise10"]
    a, b, a_again = p.apply(textured(), "a.png"), p.apply(textured(), "b.png"), p.apply(textured(), "a.png")
    assert a.tobytes() == a_again.tobytes()
    assert a.tobytes() != b.tobytes()


def test_doc_seed_does_not_depend_on_the_process():
    # The first 8 bytes of sha256("fakeclue/0.png"), big-endian: not Python's per-process hash().
    assert doc_seed("fakeclue/0.png") == 0xAC9AF706808FC49A
    assert doc_seed("a") != doc_seed("b")


def test_doc_to_visual_hook_perturbs_the_tasks_image(tmp_path):
    path = tmp_path / "im.png"
    textured().save(path)
    doc = {"id": "doc-1", "image": str(path)}
    for name, p in PERTURBATIONS.items():
        (out,) = p.doc_to_visual(doc)
        assert out.tobytes() == p.apply(textured(), "doc-1").tobytes(), name


def test_split_task_name_recognises_only_known_suffixes():
    assert split_task_name("fakeclue_jpeg50") == ("fakeclue", PERTURBATIONS["jpeg50"])
    assert split_task_name("loki_judgment") == ("loki_judgment", None)
    assert split_task_name("fakeclue") == ("fakeclue", None)


class _YamlLoader(yaml.SafeLoader):
    """Reads ``!function a.b.c`` as the string ``"a.b.c"`` (without touching yaml's global loaders)."""


_YamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def _variants() -> dict[str, dict]:
    return {p.stem: yaml.load(p.read_text(), Loader=_YamlLoader) for p in sorted(TASKS_DIR.glob("*/variants/*.yaml"))}


def test_every_perturbation_has_a_variant_of_fakeclue_and_loki_and_nothing_else():
    variants = _variants()
    expected = {f"{base}_{name}" for base in ("fakeclue", "loki") for name in PERTURBATIONS}
    assert set(variants) == expected


@pytest.mark.parametrize("stem", sorted(f"{b}_{n}" for b in ("fakeclue", "loki") for n in PERTURBATIONS))
def test_variant_yaml_names_its_task_its_base_and_its_hook(stem):
    cfg = _variants()[stem]
    base, perturbation = split_task_name(stem)
    assert cfg["task"] == stem
    assert cfg["include"] == f"../{base}.yaml"
    assert cfg["doc_to_visual"] == f"fakevlm_tasks.glue.perturb.{perturbation.name}"
    assert cfg["tag"] == perturbation.tag


def test_the_committed_variant_files_are_what_the_declarations_generate():
    from fakevlm_tasks.glue import benchmarks, variants

    stale = [p for bench in benchmarks.discover().values() for p in variants.stale(bench)]
    assert not stale, f"run `python -m fakevlm_tasks.glue.variants`: {stale}"


def test_the_generator_writes_a_declared_variant_and_removes_an_undeclared_one(tmp_path):
    from dataclasses import replace

    from fakevlm_tasks.glue import benchmarks, variants

    bench = replace(benchmarks.get("fakeclue"), folder=tmp_path, variants={"fakeclue": ("jpeg50",)})
    (tmp_path / "variants").mkdir()
    (tmp_path / "variants" / "fakeclue_old.yaml").write_text("task: fakeclue_old\n")
    changed = variants.write(bench)
    assert {p.name for p in changed} == {"fakeclue_jpeg50.yaml", "README.md", "fakeclue_old.yaml"}
    assert sorted(p.name for p in (tmp_path / "variants").iterdir()) == ["README.md", "fakeclue_jpeg50.yaml"]
    assert variants.stale(bench) == []
