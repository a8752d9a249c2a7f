"""`fakevlm-data prepare dmimage`: one folder per source, label and family from the folder name."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.data import cli

dmimage = benchmarks.module("dmimage")
from fakevlm_tasks.glue.docs import read_prepared
from official_formats import png, write_dmimage

GREY = (128, 128, 128)


# Every test here prepares into its own empty data root (conftest's data_root).
pytestmark = pytest.mark.usefixtures("data_root")


def prepare(src, *extra) -> int:
    return cli.main(["prepare", "dmimage", "--source", str(src), *extra])


def test_label_and_family_come_from_the_folder(tmp_path):
    src = write_dmimage(tmp_path / "dm", {"real_ucid": [GREY] * 2, "biggan_256": [GREY], "biggan_512": [GREY], "dalle_2": [GREY]})
    assert prepare(src) == 0
    docs = {d["id"]: d for d in read_prepared("dmimage")}
    assert docs["real_ucid/0.png"]["label"] == "real" and docs["real_ucid/0.png"]["category"] == "real"
    assert docs["biggan_512/0.png"]["label"] == "fake" and docs["biggan_512/0.png"]["category"] == "BigGAN"
    assert docs["dalle_2/0.png"]["category"] == "DALL-E 2"
    assert docs["dalle_2/0.png"]["question"] == "Does the image looks real/fake?"


def test_the_readmes_real_imagenet_valid_spelling_is_accepted(tmp_path):
    src = write_dmimage(tmp_path / "dm", {"real_imagenet_valid": [GREY], "eg3d": [GREY]})
    assert prepare(src) == 0
    assert Counter(d["label"] for d in read_prepared("dmimage")) == {"real": 1, "fake": 1}


def test_the_folder_table_has_3_real_and_30_fake_folders_in_12_families():
    """As the authors' metrics_evaluation.py lists them (the "33 folders" sometimes quoted count the real ones too)."""
    assert len(dmimage.REAL_FOLDERS) == 3
    assert sum(len(f) for f in dmimage.FAMILIES.values()) == 30
    assert len(dmimage.FAMILIES) == 12


def test_unknown_folders_stray_files_and_broken_images_are_skipped_and_named(tmp_path, data_root, capsys):
    src = write_dmimage(tmp_path / "dm", {"real_coco_valid": [GREY] * 2, "progan_lsun": [GREY], "my_generator": [GREY] * 3})
    (src / "progan_lsun" / "notes.txt").write_text("x")
    (src / "progan_lsun" / "broken.png").write_bytes(b"nope")
    png(src / "progan_lsun" / "nested" / "x.png")
    png(src / "loose.png")
    (src / "operations.csv").write_text("src,size,x,y,qf\n")  # the official CSV may sit at the root
    assert prepare(src) == 0
    out = capsys.readouterr().out
    assert "3 records prepared, 5 skipped" in out
    assert "31 of DMimage's 33 folders are absent" in out
    manifest = json.loads((data_root / "dmimage" / "manifest.json").read_text())
    reasons = {s["record"]: s["reason"] for s in manifest["skipped_records"]}
    assert reasons["my_generator/"].startswith("unknown source folder") and "its 3 files" in reasons["my_generator/"]
    assert reasons["progan_lsun/notes.txt"].startswith("not an image file")
    assert reasons["progan_lsun/broken.png"].startswith("unreadable image")
    assert reasons["progan_lsun/nested/"].startswith("nested folder")
    assert reasons["loose.png"].startswith("image outside a source folder")
    assert manifest["sources"]["images_per_folder"] == {"progan_lsun": 1, "real_coco_valid": 2}


def test_a_root_without_dmimage_folders_is_an_error(tmp_path, capsys, data_root):
    src = write_dmimage(tmp_path / "dm", {"cats": [GREY]})
    assert prepare(src) == 2
    assert "no usable record" in capsys.readouterr().err
    assert not (data_root / "dmimage").exists()
