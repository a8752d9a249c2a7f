"""`fakevlm-data` for FakeClue and LOKI: official formats in, prepared records out, every bad input named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakevlm_tasks.data import cli
from fakevlm_tasks.glue.prepared import DataNotPreparedError
from fakevlm_tasks.glue.docs import read_prepared
from official_formats import fakeclue_record, loki_open_ended, loki_tf_pair, write_fakeclue, write_loki


# Every test here prepares into its own empty data root (conftest's data_root).
pytestmark = pytest.mark.usefixtures("data_root")


def prepare_fakeclue(ann, images, *extra) -> int:
    return cli.main(["prepare", "fakeclue", "--annotations", str(ann), "--images", str(images), *extra])


# ------------------------------------------------------------------------ FakeClue


def testfakeclue_records_carry_label_category_question_and_reference(tmp_path):
    ann, images = write_fakeclue(
        tmp_path,
        [
            fakeclue_record("ff++/fake/Deepfakes/c23/frames/071_054/160.png", 0, "deepfake", "This is a fake image. Seams."),
            fakeclue_record("chameleon/real/1.png", 1, "human", "This is a real image. Pores."),
        ],
    )
    assert prepare_fakeclue(ann, images) == 0
    docs = read_prepared("fakeclue")
    assert [d["label"] for d in docs] == ["fake", "real"]  # FakeClue: 1 = real, 0 = fake
    assert [d["category"] for d in docs] == ["deepfake", "human"]
    assert docs[0]["question"] == "Does the image looks real/fake?"
    assert docs[0]["reference"] == "This is a fake image. Seams."
    assert Path(docs[0]["image"]).is_absolute() and Path(docs[0]["image"]).is_file()


def test_fakeclue_missing_and_corrupt_images_are_skipped_counted_and_named(tmp_path, capsys, data_root):
    recs = [
        fakeclue_record("a/real/ok.png", 1, "scene", "This is a real image."),
        fakeclue_record("a/fake/missing.png", 0, "scene", "This is a fake image."),
        fakeclue_record("a/fake/broken.png", 0, "scene", "This is a fake image."),
    ]
    ann, images = write_fakeclue(tmp_path, recs)
    (images / "a/fake/missing.png").unlink()
    (images / "a/fake/broken.png").write_bytes(b"\x89PNG not really")
    assert prepare_fakeclue(ann, images) == 0
    out = capsys.readouterr().out
    assert "1 records prepared, 2 skipped" in out
    manifest = json.loads((data_root / "fakeclue" / "manifest.json").read_text())
    reasons = {s["record"]: s["reason"] for s in manifest["skipped_records"]}
    assert any("missing.png" in k and v.startswith("missing image") for k, v in reasons.items())
    assert any("broken.png" in k and v.startswith("unreadable image") for k, v in reasons.items())
    assert [d["id"] for d in read_prepared("fakeclue")] == ["a/real/ok.png"]


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"label": 1, "conversations": []}, "missing field(s) image"),
        ({"image": "x.png", "label": 7, "conversations": []}, "label 7 is not 0 (fake) or 1 (real)"),
        ({"image": "x.png", "label": 1, "conversations": [{"from": "human", "value": "q"}]}, "conversations must hold"),
        ("just a string", "expected an object"),
    ],
)
def test_fakeclue_malformed_record_is_named_with_its_index(tmp_path, bad, reason, data_root):
    good = fakeclue_record("ok.png", 1, "scene", "This is a real image.")
    ann, images = write_fakeclue(tmp_path, [good, bad])
    assert prepare_fakeclue(ann, images) == 0
    skipped = json.loads((data_root / "fakeclue" / "manifest.json").read_text())["skipped_records"]
    assert len(skipped) == 1
    assert skipped[0]["record"].startswith("test.json#1")
    assert reason in skipped[0]["reason"]


def test_fakeclue_strict_refuses_to_skip(tmp_path, capsys):
    ann, images = write_fakeclue(tmp_path, [fakeclue_record("ok.png", 1, "s", "r"), fakeclue_record("gone.png", 0, "s", "f")])
    (images / "gone.png").unlink()
    assert prepare_fakeclue(ann, images, "--strict") == 2
    assert "--strict" in capsys.readouterr().err


def test_fakeclue_wrong_image_folder_is_an_error_not_an_empty_dataset(tmp_path, capsys, data_root):
    ann, _ = write_fakeclue(tmp_path, [fakeclue_record("a.png", 1, "s", "r")])
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    assert prepare_fakeclue(ann, empty) == 2
    err = capsys.readouterr().err
    assert "no usable record" in err and "a.png" in err
    assert not (data_root / "fakeclue").exists()


def test_fakeclue_unreadable_annotation_file_names_the_file(tmp_path, capsys):
    ann = tmp_path / "test.json"
    ann.write_text("{not json", encoding="utf-8")
    (tmp_path / "img").mkdir()
    assert prepare_fakeclue(ann, tmp_path / "img") == 2
    assert str(ann) in capsys.readouterr().err


def test_fakeclue_images_argument_must_be_a_folder(tmp_path, capsys):
    ann, _ = write_fakeclue(tmp_path, [fakeclue_record("a.png", 1, "s", "r")])
    assert prepare_fakeclue(ann, tmp_path / "nope") == 2
    assert "is not a folder" in capsys.readouterr().err


def test_reading_unprepared_data_names_the_command_to_run(data_root):
    with pytest.raises(DataNotPreparedError) as err:
        read_prepared("loki")
    assert "fakevlm-data prepare loki --annotations" in str(err.value)
    assert str(data_root) in str(err.value)


def test_loki_judgment_unprepared_points_to_the_loki_preparation(data_root):
    with pytest.raises(DataNotPreparedError, match="fakevlm-data prepare loki --annotations"):
        read_prepared("loki_judgment")


def test_status_lists_prepared_and_missing_datasets(tmp_path, capsys):
    ann, images = write_fakeclue(tmp_path, [fakeclue_record("a.png", 1, "s", "r")])
    prepare_fakeclue(ann, images)
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "1 records, 0 skipped" in lines["fakeclue"]
    assert "not prepared" in lines["loki"]


# ---------------------------------------------------------------------------- LOKI

def prepare_loki(ann, media, *extra) -> int:
    return cli.main(["prepare", "loki", "--annotations", str(ann), "--images", str(media), *extra])


def test_loki_gives_one_detection_doc_per_image_and_one_judgment_doc_per_question(tmp_path):
    tf = loki_tf_pair("u1", "real", "sence") + loki_tf_pair("u2", "fake", "animals")
    ann, media = write_loki(tmp_path, tf, [loki_open_ended("o1", "Global oddity.", ["Floating chairs.", ""])])
    assert prepare_loki(ann, media) == 0
    docs = {d["id"]: d for d in read_prepared("loki")}
    assert {k: (d["label"], d["category"], d["detection"]) for k, d in docs.items()} == {
        "media_data/image/u1.jpg": ("real", "sence", True),
        "media_data/image/u2.jpg": ("fake", "animals", True),
        "media_data/image/o1.png": ("fake", "open_ended", False),
    }
    assert docs["media_data/image/o1.png"]["reference"] == "Global oddity. Floating chairs."
    assert docs["media_data/image/u1.jpg"]["question"] == "Does the image looks real/fake?"
    judged = read_prepared("loki_judgment")
    assert len(judged) == 4
    assert {(j["asks"], j["answer"]) for j in judged if j["label"] == "fake"} == {("fake", "yes"), ("real", "no")}
    assert all(not j["question"].startswith("<image>") for j in judged)


def test_loki_explanation_attaches_to_a_true_or_false_image(tmp_path):
    tf = loki_tf_pair("u2", "fake", "doc")
    oe = [dict(loki_open_ended("u2", "", ["Garbled letters."]), image_path="media_data/image/u2.jpg")]
    ann, media = write_loki(tmp_path, tf, oe)
    assert prepare_loki(ann, media) == 0
    (doc,) = read_prepared("loki")
    assert doc["detection"] is True and doc["reference"] == "Garbled letters."


def test_loki_missing_image_skips_the_image_and_both_its_questions(tmp_path, data_root):
    tf = loki_tf_pair("u1", "real", "doc") + loki_tf_pair("u2", "fake", "doc")
    ann, media = write_loki(tmp_path, tf, [])
    (media / "media_data/image/u2.jpg").unlink()
    assert prepare_loki(ann, media) == 0
    assert len(read_prepared("loki")) == 1 and len(read_prepared("loki_judgment")) == 2
    judged_skips = json.loads((data_root / "loki_judgment" / "manifest.json").read_text())["skipped_records"]
    assert len(judged_skips) == 2 and all("u2.jpg" in s["reason"] for s in judged_skips)


def test_loki_malformed_question_type_is_named(tmp_path, data_root):
    tf = loki_tf_pair("u1", "real", "doc")
    tf[1]["question_type"] = "image_tf_something_else"
    ann, media = write_loki(tmp_path, tf, [])
    assert prepare_loki(ann, media) == 0
    (skip,) = json.loads((data_root / "loki_judgment" / "manifest.json").read_text())["skipped_records"]
    assert skip["record"].startswith("true_or_false.json#1") and "question_type" in skip["reason"]


def test_loki_annotations_must_be_the_folder_with_both_files(tmp_path, capsys):
    ann, media = write_loki(tmp_path, loki_tf_pair("u1", "real", "doc"), [])
    (ann / "open_ended_vqa.json").unlink()
    assert prepare_loki(ann, media) == 2
    assert "open_ended_vqa.json" in capsys.readouterr().err


def test_loki_real_annotation_files_give_the_published_counts(shared_data, tmp_path):
    """The real LOKI files (no images): 2,217 images (1,317 fake, 900 real), 4,434 questions, 229 explained fakes."""
    from fakevlm_tasks.tasks.loki import prepare as loki

    detection, judgment = loki.prepare(shared_data / "loki", tmp_path, check_images=False)
    det = [d for d in detection.records if d["detection"]]
    assert len(det) == 2217
    assert sum(d["label"] == "fake" for d in det) == 1317 and sum(d["label"] == "real" for d in det) == 900
    assert {d["category"] for d in det} == {"animals", "doc", "medicine", "object", "person", "satellite", "sence"}
    assert len(judgment.records) == 4434 and not judgment.skipped
    explained = [d for d in detection.records if d["reference"]]
    assert len(explained) + len(detection.skipped) == 229
    assert sum(d["detection"] for d in explained) == 94  # open-ended images that are also in true_or_false
