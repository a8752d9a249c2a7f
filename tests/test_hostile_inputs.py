"""Broken and hostile inputs to `fakevlm-data prepare` and to evaluation: truncated images, malformed
records, paths out of the image root. Each is a counted skip with its reason, or an error naming the file."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from fakevlm_tasks.data import cli
from fakevlm_tasks.glue.docs import read_prepared
from fakevlm_tasks.glue.images import doc_to_visual
from official_formats import fakeclue_record, ffpp_frames, png, write_dmimage, write_fakeclue, write_ffpp_split

pytestmark = pytest.mark.usefixtures("data_root")


def jpeg_bytes(size=(64, 64)) -> bytes:
    noise = Image.effect_noise(size, 60).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def truncated_jpeg(path: Path) -> Path:
    """A JPEG cut at half its bytes: PIL with LOAD_TRUNCATED_IMAGES pads the rest with grey."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = jpeg_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def lenient_pil(monkeypatch):
    """PIL as lmms-eval leaves it once imported: truncated files load (lmms_eval/api/task.py)."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)


def prepare_fakeclue(ann, images, *extra) -> int:
    return cli.main(["prepare", "fakeclue", "--annotations", str(ann), "--images", str(images), *extra])


def skipped(data_root: Path, dataset: str) -> dict[str, str]:
    manifest = json.loads((data_root / dataset / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["skipped"] == len(manifest["skipped_records"])
    return {s["record"]: s["reason"] for s in manifest["skipped_records"]}


# ------------------------------------------------------------------ images that do not fully decode


def test_a_truncated_jpeg_is_skipped_at_prepare_whatever_pils_setting(tmp_path, data_root, lenient_pil):
    ann, images = write_fakeclue(tmp_path, [fakeclue_record("ok.png", 1, "scene", "This is a real image."),
                                            fakeclue_record("cut.jpg", 0, "scene", "This is a fake image.")])
    truncated_jpeg(images / "cut.jpg")
    assert prepare_fakeclue(ann, images) == 0
    (reason,) = [r for k, r in skipped(data_root, "fakeclue").items() if "cut.jpg" in k]
    assert reason.startswith("unreadable image") and "truncated" in reason
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the host's setting is given back


def test_a_truncated_jpeg_fails_at_evaluation_whatever_pils_setting(tmp_path, lenient_pil):
    path = truncated_jpeg(tmp_path / "cut.jpg")
    with Image.open(path) as lenient:  # what a stock loader sees: a whole, half-grey image
        lenient.load()
    with pytest.raises(OSError, match=r"doc 'd1'.*cut\.jpg.*truncated"):
        doc_to_visual({"id": "d1", "image": str(path)})
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_the_fakevlm_adapter_makes_a_truncated_image_a_failed_sample(tmp_path, lenient_pil):
    from fakevlm_model.rows import SampleError, load_images

    path = truncated_jpeg(tmp_path / "cut.jpg")
    with pytest.raises(SampleError, match="could not load the image"):
        load_images(doc_to_visual, {"id": "d1", "image": str(path)})


def test_a_decompression_bomb_is_an_error_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    png(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # 8x8 = 64 pixels, past twice the limit
    with pytest.raises(OSError, match=r"big\.png.*DecompressionBombError"):
        doc_to_visual({"id": "d1", "image": str(path)})


# ------------------------------------------------------------------ malformed records


def good_record() -> dict:
    return fakeclue_record("ok.png", 1, "scene", "This is a real image.")


@pytest.mark.parametrize("change", [
    {"label": [1]}, {"label": {"v": 1}}, {"label": "1"}, {"label": True}, {"label": float("nan")},
    {"image": None}, {"image": 7}, {"image": ["a.png"]}, {"image": ""}, {"image": "a\x00b.png"},
    {"cate": ["scene"]}, {"id": {"x": 1}}, {"conversations": "hi"}, {"conversations": [{"from": "gpt", "value": 3}]},
], ids=lambda c: repr(c)[:40])
def test_a_malformed_fakeclue_record_is_a_counted_skip_with_its_reason(tmp_path, data_root, change):
    bad = {**good_record(), **change}
    ann, images = write_fakeclue(tmp_path, [good_record()])
    ann.write_text(json.dumps([good_record(), bad], allow_nan=True), encoding="utf-8")
    assert prepare_fakeclue(ann, images) == 0
    (reason,) = skipped(data_root, "fakeclue").values()
    assert reason.startswith("malformed record: record 1")
    assert [d["id"] for d in read_prepared("fakeclue")] == ["ok.png"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_annotations_not_in_utf8_are_an_error_naming_the_file(tmp_path, capsys, encoding):
    ann, images = write_fakeclue(tmp_path, [fakeclue_record("ok.png", 1, "scène", "This is a real image. Café.")])
    ann.write_bytes(json.dumps(json.loads(ann.read_text(encoding="utf-8")), ensure_ascii=False).encode(encoding))
    assert prepare_fakeclue(ann, images) == 2
    err = capsys.readouterr().err
    assert f"{ann} is not UTF-8" in err and "Traceback" not in err


def test_a_lone_surrogate_in_an_annotation_is_a_counted_skip(tmp_path, data_root):
    ann, images = write_fakeclue(tmp_path, [good_record(), fakeclue_record("two.png", 0, "scene", "x")])
    ann.write_text(ann.read_text().replace('"x"', '"This is a fake image. \\ud800"'), encoding="utf-8")
    assert prepare_fakeclue(ann, images) == 0
    (reason,) = skipped(data_root, "fakeclue").values()
    assert reason.startswith("not UTF-8 text")
    assert [d["id"] for d in read_prepared("fakeclue")] == ["ok.png"]


# ------------------------------------------------------------------ paths out of the image root


@pytest.fixture
def outside_image(tmp_path) -> Path:
    path = tmp_path / "elsewhere" / "secret.png"
    png(path)
    return path


def fakeclue_with_image_named(tmp_path, name) -> tuple[Path, Path]:
    ann, images = write_fakeclue(tmp_path / "set", [good_record()])
    ann.write_text(json.dumps([good_record(), {**good_record(), "image": name}]), encoding="utf-8")
    return ann, images


@pytest.mark.parametrize("how", ["absolute", "dot-dot", "symlink"])
def test_an_image_outside_the_root_is_skipped_unless_allowed(tmp_path, data_root, outside_image, how):
    name = {"absolute": str(outside_image), "dot-dot": "../../elsewhere/secret.png", "symlink": "link.png"}[how]
    ann, images = fakeclue_with_image_named(tmp_path, name)
    if how == "symlink":
        (images / "link.png").symlink_to(outside_image)
    assert prepare_fakeclue(ann, images) == 0
    (reason,) = skipped(data_root, "fakeclue").values()
    assert reason.startswith("outside the image root") and "--allow-outside-root" in reason
    assert all(not d["image"].endswith("secret.png") for d in read_prepared("fakeclue"))

    assert prepare_fakeclue(ann, images, "--allow-outside-root") == 0
    assert [Path(d["image"]) for d in read_prepared("fakeclue")][1] == outside_image.resolve()


def test_a_dmimage_folder_linked_to_the_filesystem_root_is_not_walked(tmp_path, data_root):
    src = write_dmimage(tmp_path / "dm", {"real_ucid": [(128, 128, 128)], "biggan_256": [(9, 9, 9)]})
    (src / "my_generator").symlink_to("/")
    (src / "progan_lsun").symlink_to("/")
    assert cli.main(["prepare", "dmimage", "--source", str(src)]) == 0
    reasons = skipped(data_root, "dmimage")
    assert reasons["my_generator/"].startswith("unknown source folder")
    assert reasons["progan_lsun/"].startswith("outside the image root")
    assert {d["folder"] for d in read_prepared("dmimage")} == {"real_ucid", "biggan_256"}


def test_a_dmimage_image_linked_out_of_the_root_is_skipped(tmp_path, data_root, outside_image):
    src = write_dmimage(tmp_path / "dm", {"real_ucid": [(128, 128, 128)], "biggan_256": [(9, 9, 9)]})
    (src / "biggan_256" / "1.png").symlink_to(outside_image)
    assert cli.main(["prepare", "dmimage", "--source", str(src)]) == 0
    assert skipped(data_root, "dmimage")["biggan_256/1.png"].startswith("outside the image root")
    assert cli.main(["prepare", "dmimage", "--source", str(src), "--allow-outside-root"]) == 0
    assert len(read_prepared("dmimage")) == 3


def test_ffpp_frames_linked_out_of_the_root_are_skipped(tmp_path, data_root):
    src, elsewhere = tmp_path / "ffpp", tmp_path / "elsewhere"
    for video in ("001", "002"):
        ffpp_frames(src, None, video, 1)
    frames = ffpp_frames(elsewhere, "Deepfakes", "001_002", 1)
    (src / "manipulated_sequences" / "Deepfakes" / "c23" / "images").mkdir(parents=True)
    (src / "manipulated_sequences" / "Deepfakes" / "c23" / "images" / "001_002").symlink_to(frames)
    split = write_ffpp_split(tmp_path / "split.json", [("001", "002")])
    assert cli.main(["prepare", "ffpp", "--source", str(src), "--split", str(split), "--methods", "Deepfakes"]) == 0
    reasons = skipped(data_root, "ffpp")
    assert reasons["Deepfakes/001_002/0000.png"].startswith("outside the image root")
    assert {d["category"] for d in read_prepared("ffpp")} == {"original"}


def test_an_unreadable_folder_is_a_counted_skip(tmp_path, data_root, monkeypatch):
    src = write_dmimage(tmp_path / "dm", {"real_ucid": [(128, 128, 128)], "biggan_256": [(9, 9, 9)]})
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self.name == "biggan_256":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    assert cli.main(["prepare", "dmimage", "--source", str(src)]) == 0
    assert skipped(data_root, "dmimage")["biggan_256/"].startswith("unreadable folder")
    assert os.path.isdir(src / "biggan_256")


# ------------------------------------------------------------------ model args


@pytest.mark.parametrize("value", [0, -3, "0", 1.5, "many", True])
def test_a_token_budget_that_is_not_a_whole_number_of_at_least_one_stops_the_adapter(value):
    from fakevlm_model.fakevlm import FakeVLM

    with pytest.raises(ValueError, match=r"fakevlm: max_new_tokens=.*at least 1"):
        FakeVLM(pretrained="/nowhere/no-such-model", device="cpu", max_new_tokens=value)


def test_the_token_budget_is_the_model_arg_else_the_tasks_else_the_default():
    from fakevlm_model.generation import DEFAULT_MAX_NEW_TOKENS, generation_settings

    assert generation_settings({"max_new_tokens": 64}, 12)["max_new_tokens"] == 12
    assert generation_settings({"max_new_tokens": 64}, None)["max_new_tokens"] == 64
    assert generation_settings({}, None)["max_new_tokens"] == DEFAULT_MAX_NEW_TOKENS
    with pytest.raises(ValueError, match="the task's generation_kwargs: max_new_tokens=0"):
        generation_settings({"max_new_tokens": 0}, None)


def test_a_loki_image_linked_out_of_the_root_is_skipped_in_every_set(tmp_path, data_root, outside_image):
    from fakevlm_tasks.glue import benchmarks

    argv = benchmarks.module("loki").write_miniature(tmp_path / "loki")
    (fake,) = (tmp_path / "loki" / "media_data" / "doc").glob("*.png")
    fake.unlink()
    fake.symlink_to(outside_image)
    # loki_mc's every question shows the fake image: that set has nothing left, which is an error naming its skips.
    assert cli.main(["prepare", "loki", *argv]) == 2
    for dataset in ("loki", "loki_judgment"):
        reasons = list(skipped(data_root, dataset).values())
        assert reasons and all(r.startswith("outside the image root") for r in reasons), dataset
    assert all("secret" not in d["image"] for d in read_prepared("loki") + read_prepared("loki_judgment"))
    assert not (data_root / "loki_mc").exists()


@pytest.mark.slow
def test_a_truncated_image_left_in_by_no_image_check_is_a_failed_sample_in_the_results(tmp_path, data_root, tiny_llava):
    """Through the lmms-eval CLI, which sets LOAD_TRUNCATED_IMAGES: the half-grey image is not scored as whole."""
    from lmms_runs import results_of, run_fakevlm, samples_of

    ann, images = write_fakeclue(tmp_path, [fakeclue_record("ok.png", 1, "scene", "This is a real image."),
                                            fakeclue_record("cut.jpg", 0, "scene", "This is a fake image.")])
    truncated_jpeg(images / "cut.jpg")
    assert prepare_fakeclue(ann, images, "--no-image-check") == 0
    proc = run_fakevlm(tiny_llava, "fakeclue", tmp_path / "out", data_root)
    assert results_of(tmp_path / "out", proc)["results"]["fakeclue"]["failed_rate,none"] == 50.0
    (failed,) = [s["acc"] for s in samples_of(tmp_path / "out", "fakeclue") if s["acc"]["failed"]]
    assert failed["id"] == "cut.jpg" and "truncated" in failed["failure"]
