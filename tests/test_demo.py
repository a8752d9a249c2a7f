"""``fakevlm-demo``: its image set (fast) and one full run of the demo as a subprocess (slow), where the
trained tiny LLaVA must beat the untrained one clearly on the held-out images."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lmms_runs import prepare, results_of
from PIL import Image

from fakevlm_model import demo
from fakevlm_model.demo_data import (
    TEST_PHOTOS,
    ImageSetSpec,
    checkerboard_fake,
    write_image_set,
)

SMALL = ImageSetSpec(train_crops_per_photo=2, test_crops_per_photo=1)


def photo_of(record: dict) -> str:
    return Path(record["image"]).stem.rsplit("_", 1)[0]


# -- the image set -------------------------------------------------------------------------------

def test_checkerboard_fake_of_a_flat_image_is_a_period_two_checkerboard():
    flat = np.full((4, 6, 3), 100, dtype=np.uint8)
    fake = checkerboard_fake(flat, 0.25)[:, :, 0]
    assert fake[0, 0] == 125 and fake[0, 1] == 75 and fake[1, 0] == 75 and fake[1, 1] == 125
    assert (fake[:, 2:] == fake[:, :-2]).all() and (fake[2:] == fake[:-2]).all()


def block_means(image: np.ndarray) -> np.ndarray:
    h, w, c = image.shape
    return image.astype(float).reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))


def test_checkerboard_fake_keeps_each_two_by_two_blocks_mean_and_nothing_finer():
    image = np.random.default_rng(0).integers(60, 200, (8, 8, 3)).astype(np.uint8)
    fake = checkerboard_fake(image, 0.25).astype(float)
    assert np.abs(block_means(fake) - block_means(image)).max() <= 0.5
    # Within a block the two diagonals differ by the kernel's taps only: 2s times the block's mean.
    assert np.allclose(fake[0::2, 0::2] - fake[0::2, 1::2], 0.5 * block_means(image), atol=1)


def test_image_set_is_balanced_in_fakeclue_format_and_tests_only_unseen_photographs(tmp_path):
    splits = write_image_set(tmp_path, SMALL)
    train, test = (json.loads(splits[s][0].read_text()) for s in ("train", "test"))
    for records, (_, images) in ((train, splits["train"]), (test, splits["test"])):
        assert sum(r["label"] for r in records) * 2 == len(records)
        for r in records:
            assert r["conversations"][0]["value"] == "<image>Does the image looks real/fake?"
            verdict = "This is a real image." if r["label"] == 1 else "This is a fake image."
            assert r["conversations"][1]["value"].startswith(verdict)
            assert r["image"].split("/")[1] == ("real" if r["label"] == 1 else "fake")
            assert Image.open(images / r["image"]).size == (SMALL.size, SMALL.size)
    assert {photo_of(r) for r in test} == set(TEST_PHOTOS)
    assert not {photo_of(r) for r in train} & set(TEST_PHOTOS)
    assert all("checkerboard" in r["conversations"][1]["value"] for r in test if r["label"] == 0)


def test_image_set_is_the_same_for_a_seed_and_differs_across_seeds(tmp_path):
    def pixels(root, seed):
        annotations, images = write_image_set(root, ImageSetSpec(train_crops_per_photo=1, test_crops_per_photo=1, seed=seed))["test"]
        return [np.asarray(Image.open(images / r["image"])) for r in json.loads(annotations.read_text())]

    first, again, other = pixels(tmp_path / "a", 0), pixels(tmp_path / "b", 0), pixels(tmp_path / "c", 1)
    assert all((x == y).all() for x, y in zip(first, again))
    assert any((x != y).any() for x, y in zip(first, other))


def test_fakevlm_data_prepares_the_test_split_without_skipping_a_record(tmp_path):
    annotations, images = write_image_set(tmp_path / "set", SMALL)["test"]
    prepare(tmp_path / "prepared", "fakeclue", "--annotations", str(annotations), "--images", str(images))
    manifest = json.loads((tmp_path / "prepared" / "fakeclue" / "manifest.json").read_text())
    assert manifest["records"] == len(json.loads(annotations.read_text()))
    assert manifest["skipped"] == 0


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--work-dir", "--batch-size", "--seed", "--steps", "checkerboard", "toy detection problem"):
        assert option in text


# -- the whole demo ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """``fakevlm-demo --work-dir W`` run once, as a newcomer runs it (its own process, offline)."""
    work = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([sys.executable, "-m", "fakevlm_model.demo", "--work-dir", str(work)],
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    before = results_of(work / "results" / "untrained")["results"]["fakeclue"]
    after = results_of(work / "results" / "trained")["results"]["fakeclue"]
    return proc.stdout, work, before, after


@pytest.mark.slow
def test_trained_model_is_at_least_25_points_more_accurate_on_the_held_out_images(demo_run):
    _, _, before, after = demo_run
    assert after["acc,none"] >= before["acc,none"] + 25
    # More than any constant answer scores on this balanced set: the verdict follows the image.
    assert after["acc,none"] > 50


@pytest.mark.slow
def test_trained_model_explains_closer_to_the_references(demo_run):
    _, _, before, after = demo_run
    assert after["rouge_l,none"] > before["rouge_l,none"]
    assert after["unknown_rate,none"] < before["unknown_rate,none"]


@pytest.mark.slow
def test_printed_table_holds_the_numbers_lmms_eval_wrote(demo_run):
    stdout, _, before, after = demo_run
    for name, r in (("untrained tiny LLaVA", before), ("after fakevlm-train", after)):
        row = next(line for line in stdout.splitlines() if line.startswith(name)).split()[-3:]
        assert [float(x) for x in row] == pytest.approx([r["acc,none"], r["rouge_l,none"], r["unknown_rate,none"]], abs=0.05)


@pytest.mark.slow
def test_leaderboard_of_both_runs_is_written_where_the_demo_says(demo_run):
    stdout, work, _, _ = demo_run
    (printed,) = re.findall(r"^leaderboard: (\S+)", stdout, flags=re.MULTILINE)
    board = Path(printed)
    assert board.is_file() and board.parent == work / "leaderboard"
    text = board.read_text()
    assert "untrained-tiny-llava (fakevlm)" in text and "trained-tiny-llava (fakevlm)" in text


@pytest.mark.slow
def test_site_of_both_runs_is_written_where_the_demo_says(demo_run):
    stdout, work, _, _ = demo_run
    (printed,) = re.findall(r"^site: (\S+)", stdout, flags=re.MULTILINE)
    index = Path(printed)
    assert index.is_file() and index == work / "site" / "index.html"
    assert (work / "site" / "samples_fakeclue.html").is_file()
    script = (work / "site" / "data" / "fakeclue.js").read_text()
    data = json.loads(script.removeprefix("window.FAKEVLM_SAMPLES=").rstrip().removesuffix(";"))
    assert sorted(m.rsplit("/", 1)[-1] for m in data["models"]) == ["trained-tiny-llava (fakevlm)", "untrained-tiny-llava (fakevlm)"]
    thumbs = {data["s"][i] for i in data["docs"]["thumb"]}  # one thumbnail per held-out image
    assert len(thumbs) == len(data["docs"]["key"]) and all((work / "site" / "thumbs" / t).is_file() for t in thumbs)


@pytest.mark.slow
def test_demo_prints_its_wall_time_and_says_it_is_a_toy_problem(demo_run):
    stdout, _, _, _ = demo_run
    assert re.search(r"^wall time: \d+ s", stdout, flags=re.MULTILINE)
    assert "toy detection problem" in stdout and "nothing about FakeVLM's accuracy" in stdout
