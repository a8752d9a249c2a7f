"""The expert baselines: NPR's residual, both shipped configs trained by ``fakevlm-train`` on a tiny
FakeClue-format set on CPU, and their checkpoints evaluated by lmms-eval's ``detector`` model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakevlm_model.classifiers import FakeDetectorConfig, FakeImageDetector, npr_residual
from fakevlm_tasks.glue.docs import read_prepared
from fakevlm_training import cli
from fakevlm_training.config import ConfigError
from fakevlm_training.detectors import cost_report, is_detector_config, load_detector_config
from fakevlm_toys.tiny_detectors import build_tiny_clip
from lmms_runs import data_dir, offline_env, prepare, results_of, run_cli, samples_of
from official_formats import fakeclue_record, write_fakeclue
from detector_probe import direct_p_fake

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"
NPR_CONFIG, UNIVFD_CONFIG = CONFIGS / "npr_resnet50.yaml", CONFIGS / "univfd_clip_vitl14.yaml"
README = Path(__file__).resolve().parents[1] / "training" / "README.md"


# ------------------------------------------------------------------- the residual


def test_npr_residual_is_each_pixel_minus_the_top_left_pixel_of_its_2x2_block():
    x = torch.randn(2, 3, 6, 8, generator=torch.Generator().manual_seed(0))
    direct = torch.empty_like(x)
    for i in range(6):
        for j in range(8):
            direct[..., i, j] = x[..., i, j] - x[..., 2 * (i // 2), 2 * (j // 2)]
    assert torch.equal(npr_residual(x), direct)


def test_npr_residual_vanishes_on_an_image_made_by_nearest_up_sampling():
    small = torch.rand(1, 3, 5, 7)
    assert torch.count_nonzero(npr_residual(small.repeat_interleave(2, -2).repeat_interleave(2, -1))) == 0


def test_npr_residual_refuses_odd_sides():
    with pytest.raises(ValueError, match="even"):
        npr_residual(torch.zeros(1, 3, 5, 6))


def test_npr_detector_sees_every_nearest_up_sampled_image_alike():
    torch.manual_seed(0)
    model = FakeImageDetector(FakeDetectorConfig(backbone="torchvision:resnet18", residual="npr", image_size=16)).eval()
    a, b = (torch.rand(1, 3, 8, 8).repeat_interleave(2, -2).repeat_interleave(2, -1) for _ in range(2))
    with torch.no_grad():
        assert torch.equal(model(pixel_values=a).logits, model(pixel_values=b).logits)
        assert not torch.equal(model(pixel_values=a).logits, model(pixel_values=torch.rand(1, 3, 16, 16)).logits)


# ------------------------------------------------------------------------ configs


def test_fakevlm_train_tells_detector_configs_from_the_llava_recipe():
    assert is_detector_config(NPR_CONFIG) and is_detector_config(UNIVFD_CONFIG)
    assert not is_detector_config(CONFIGS / "fakevlm_7b.yaml")


@pytest.mark.parametrize("config", [NPR_CONFIG, UNIVFD_CONFIG])
def test_fakevlm_train_prints_a_detector_config(config, capsys):
    assert cli.main(["--config", str(config), "--print-config"]) == 0
    assert f"kind: {load_detector_config(config, require_data=False).method.kind}" in capsys.readouterr().out


@pytest.mark.parametrize("override, message", [
    ("model.encoder=null", "needs model.encoder"),
    ("model.image_size=224", "preprocesses as its encoder does"),
])
def test_univfd_config_checks(override, message):
    with pytest.raises(ConfigError, match=message):
        load_detector_config(UNIVFD_CONFIG, [override], require_data=False)


@pytest.mark.parametrize("override, message", [
    ("model.image_size=223", "even size"),
    ("model.encoder=openai/clip-vit-large-patch14", "model.encoder is for method.kind=univfd"),
    ("model.backbone=keras:resnet50", "torchvision:<name>"),
    ("method.kind=gan", "method.kind"),
    ("data.unknown=1", "unknown key"),
])
def test_npr_config_checks(override, message):
    with pytest.raises(ConfigError, match=message):
        load_detector_config(NPR_CONFIG, [override], require_data=False)


def test_a_detector_config_without_data_says_which_key_to_set(capsys):
    assert cli.main(["--config", str(NPR_CONFIG)]) == 2
    assert "data.train_json" in capsys.readouterr().err


def test_readme_cost_section_is_what_the_cost_report_computes():
    assert cost_report() in README.read_text()


# ------------------------------------------------------- training, then lmms-eval


def _image(label: int, rng) -> np.ndarray:
    """Real: fine noise. Fake: noise up-sampled x2 by nearest neighbour (what NPR's residual exposes)."""
    if label == 1:
        return rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return rng.integers(0, 256, (16, 16, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1)


@pytest.fixture(scope="module")
def fakeclue_set(tmp_path_factory):
    """16 FakeClue records (alternating real/fake) plus one whose image is missing, and the same set prepared for the tasks."""
    tmp = tmp_path_factory.mktemp("expert_data")
    rng = np.random.default_rng(0)
    records = [fakeclue_record(f"object/{i}.png", i % 2, "object", "This is a real image." if i % 2 else "This is a fake image.") for i in range(16)]
    ann, images = write_fakeclue(tmp / "fakeclue", records + [fakeclue_record("object/missing.png", 1, "object", "x")], make_images=False)
    for i, r in enumerate(records):
        (images / r["image"]).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(i % 2, rng)).save(images / r["image"])
    prepared = tmp / "prepared"
    prepare(prepared, "fakeclue", "--annotations", str(ann), "--images", str(images))
    return ann, images, prepared


def _cpu(train_json: Path, images: Path, out: Path) -> list[str]:
    return [f"data.train_json={train_json}", f"data.image_roots=[{images}]", f"training.output_dir={out}",
            "training.use_cpu=true", "training.bf16=false", "training.tf32=null", "training.per_device_train_batch_size=4",
            "training.num_train_epochs=2", "training.dataloader_num_workers=0", "training.report_to=none", "training.logging_steps=1"]


@pytest.fixture(scope="module")
def npr_run(fakeclue_set, tmp_path_factory):
    ann, images, _ = fakeclue_set
    out = tmp_path_factory.mktemp("npr") / "out"
    # The shipped ResNet-50 at 32 px: a few CPU steps.
    assert cli.main(["--config", str(NPR_CONFIG), "model.image_size=32", "training.learning_rate=1e-3", *_cpu(ann, images, out)]) == 0
    return out


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "clip", image_size=32)


@pytest.fixture(scope="module")
def univfd_run(fakeclue_set, tiny_clip, tmp_path_factory):
    ann, images, _ = fakeclue_set
    out = tmp_path_factory.mktemp("univfd") / "out"
    assert cli.main(["--config", str(UNIVFD_CONFIG), f"model.encoder={tiny_clip}", "training.learning_rate=1e-2", *_cpu(ann, images, out)]) == 0
    return out


def _summary(out: Path) -> dict:
    return json.loads((out / "run_summary.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("run", ["npr_run", "univfd_run"])
def test_each_baseline_config_trains_its_steps_and_skips_the_bad_record(run, request):
    out = request.getfixturevalue(run)
    summary = _summary(out)
    assert summary["global_step"] == summary["max_steps"] == 2 * 16 // 4
    assert summary["records"] == 17 and summary["skipped"] == 1
    assert "image missing" in (out / "skipped_records.jsonl").read_text()
    assert all(np.isfinite(h["loss"]) for h in summary["losses"])
    assert summary["ranks"][0]["samples"] == 2 * 16


@pytest.mark.slow
def test_npr_learns_the_residual_of_up_sampled_fakes(npr_run):
    losses = [h["loss"] for h in _summary(npr_run)["losses"]]
    assert min(losses[len(losses) // 2 :]) < losses[0]


@pytest.mark.slow
def test_univfd_trains_only_its_head_and_keeps_the_encoder_frozen(univfd_run, tiny_clip):
    from transformers import AutoModelForImageClassification, CLIPVisionModelWithProjection

    trained = AutoModelForImageClassification.from_pretrained(univfd_run)
    original = CLIPVisionModelWithProjection.from_pretrained(tiny_clip)
    for name, tensor in original.state_dict().items():
        assert torch.equal(trained.encoder.state_dict()[name], tensor), name
    fresh = FakeImageDetector(trained.config)  # a newly initialised head of the same shape
    assert trained.head.weight.shape == (1, 32) and not torch.equal(trained.head.weight, fresh.head.weight)


def _evaluate(checkpoint: Path, prepared: Path, out: Path):
    proc = run_cli(["--model", "detector", "--model_args", f"pretrained={checkpoint},device=cpu", "--tasks", "fakeclue",
                    "--batch_size", "8", "--output_path", str(out), "--log_samples"], offline_env(prepared))
    return results_of(out, proc)["results"]["fakeclue"], samples_of(out, "fakeclue")


@pytest.mark.slow
@pytest.mark.parametrize("run", ["npr_run", "univfd_run"])
def test_each_baseline_checkpoint_is_evaluated_by_lmms_eval(run, request, fakeclue_set, tmp_path):
    checkpoint = request.getfixturevalue(run)
    _, _, prepared = fakeclue_set
    result, samples = _evaluate(checkpoint, prepared, tmp_path / "out")
    with data_dir(prepared):
        docs = read_prepared("fakeclue")
    p_fake = direct_p_fake(checkpoint, [d["image"] for d in docs])
    verdicts = ["fake" if p >= 0.5 else "real" for p in p_fake]
    assert {s["doc_id"]: s["acc"]["p_real"] for s in samples} == pytest.approx({i: 1 - p for i, p in enumerate(p_fake)}, abs=1e-5)
    assert result["acc,none"] == pytest.approx(100 * np.mean([v == d["label"] for v, d in zip(verdicts, docs)]))
    assert result["failed_rate,none"] == 0.0 and result["unknown_rate,none"] == 0.0
