"""`fakevlm-data prepare ddvqa`: DD-VQA's per-video questions on FF++ frames, the k-th question on the k-th frame."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.data import cli

ddvqa, ffpp = benchmarks.module("ddvqa"), benchmarks.module("ffpp")
from fakevlm_tasks.glue.docs import read_prepared
from fakevlm_tasks.scoring.parsing import parse_verdict
from official_formats import ddvqa_questions, ffpp_frames, write_ddvqa

IMAGE_Q = "Does the image looks real/fake?"
SKIN_Q = "Does the person's skin look real/fake?"
EYES_Q = "Do the person's eyes look real/fake?"


# Every test here prepares into its own empty data root (conftest's data_root).
pytestmark = pytest.mark.usefixtures("data_root")


def prepare(ann, images, *extra) -> int:
    return cli.main(["prepare", "ddvqa", "--annotations", str(ann), "--images", str(images), *extra])


def small_set(tmp_path) -> tuple[Path, Path]:
    files = {
        "Deepfakes": {"0_001_002": ddvqa_questions((IMAGE_Q, ["The image looks fake. Blurry jaw.", "The image looks fake. Seams."]), (SKIN_Q, ["The person's skin looks fake."]))},
        "Neuraltexture": {"6_002_001": ddvqa_questions((EYES_Q, ["The person's eyes look fake.", "The person's eyes look fake."]))},
        "Original": {"5_001": ddvqa_questions((IMAGE_Q, ["The image looks real."]), (SKIN_Q, ["The person's skin looks real."]), (EYES_Q, ["The person's eyes look real."]))},
    }
    ann = write_ddvqa(tmp_path, files)
    frames = tmp_path / "frames"
    ffpp_frames(frames, "Deepfakes", "001_002", 3)
    ffpp_frames(frames, "NeuralTextures", "002_001", 3)
    ffpp_frames(frames, None, "001", 3)
    return ann, frames


def test_each_question_becomes_a_doc_on_the_frame_with_its_index(tmp_path):
    ann, frames = small_set(tmp_path)
    assert prepare(ann, frames) == 0
    docs = {d["id"]: d for d in read_prepared("ddvqa")}
    assert set(docs) == {"0_001_002/0", "0_001_002/1", "6_002_001/0", "5_001/0", "5_001/1", "5_001/2"}
    assert Path(docs["0_001_002/1"]["image"]).name == "0001.png"
    assert Path(docs["5_001/2"]["image"]).name == "0002.png"
    assert "NeuralTextures/c23/images/002_001" in docs["6_002_001/0"]["image"]  # DD-VQA's "Neuraltexture" is FF++'s NeuralTextures
    assert docs["5_001/1"]["question"] == SKIN_Q and docs["5_001/1"]["part"] == "skin"


def test_label_comes_from_the_video_and_category_names_the_manipulation(tmp_path):
    ann, frames = small_set(tmp_path)
    assert prepare(ann, frames) == 0
    docs = read_prepared("ddvqa")
    assert {(d["category"], d["label"]) for d in docs} == {("Deepfakes", "fake"), ("NeuralTextures", "fake"), ("original", "real")}


def test_every_annotator_answer_is_kept_as_a_reference_and_repeats_are_dropped(tmp_path):
    ann, frames = small_set(tmp_path)
    assert prepare(ann, frames) == 0
    docs = {d["id"]: d for d in read_prepared("ddvqa")}
    assert docs["0_001_002/0"]["reference"] == ["The image looks fake. Blurry jaw.", "The image looks fake. Seams."]
    assert docs["6_002_001/0"]["reference"] == ["The person's eyes look fake."]


def test_too_few_frames_missing_video_and_bad_key_are_skipped_and_named(tmp_path, data_root, capsys):
    ann, frames = small_set(tmp_path)
    data = json.loads((ann / "test_set/Original/Original.json").read_text())
    data["5_002"] = ddvqa_questions((IMAGE_Q, ["The image looks real."]))  # no frames extracted for 002
    data["4_12345"] = ddvqa_questions((IMAGE_Q, ["The image looks fake."]))  # id 4 is undocumented
    (ann / "test_set/Original/Original.json").write_text(json.dumps(data))
    for frame in sorted((frames / "original_sequences/youtube/c23/images/001").iterdir())[2:]:
        frame.unlink()
    assert prepare(ann, frames) == 0
    assert "5 records prepared, 3 skipped" in capsys.readouterr().out
    reasons = {s["record"]: s["reason"] for s in json.loads((data_root / "ddvqa" / "manifest.json").read_text())["skipped_records"]}
    assert reasons["Original.json 5_001/2"].startswith("too few frames: question 2 (0-based) needs frame 2")
    assert reasons["Original.json 5_002/0"].startswith("missing video frames")
    assert "unknown manipulation id '4'" in reasons["Original.json 4_12345"]


def test_a_question_without_answers_is_a_named_malformed_record(tmp_path, data_root):
    ann, frames = small_set(tmp_path)
    data = json.loads((ann / "test_set/Deepfakes/Deepfakes.json").read_text())
    data["0_001_002"]["1"]["answer"] = []
    (ann / "test_set/Deepfakes/Deepfakes.json").write_text(json.dumps(data))
    assert prepare(ann, frames) == 0
    skipped = json.loads((data_root / "ddvqa" / "manifest.json").read_text())["skipped_records"]
    assert skipped == [{"record": "Deepfakes.json 0_001_002/1", "reason": "malformed record: 'answer' holds no non-empty answer"}]


def test_annotations_must_be_the_dq_ffpp_folder(tmp_path, capsys):
    _, frames = small_set(tmp_path)
    assert prepare(tmp_path / "frames", frames) == 2
    err = capsys.readouterr().err
    assert "DQ_FF++" in err and "Neuraltexture.json" in err


def test_an_annotation_file_that_is_not_json_is_named(tmp_path, capsys):
    ann, frames = small_set(tmp_path)
    (ann / "test_set/FaceSwap/FaceSwap.json").write_text("{not json")
    assert prepare(ann, frames) == 2
    assert "FaceSwap.json is not valid JSON" in capsys.readouterr().err


# ------------------------------------------------------------ the real annotation files


def frames_for_every_video(dq: Path, root: Path, split: str, n: int = 6) -> None:
    for name in ddvqa.FILES:
        for key in json.loads((dq / ddvqa.SPLITS[split] / name / f"{name}.json").read_text()):
            method, video = ddvqa.parse_video_key(key)
            folder = ffpp.video_folder_candidates(root, method, video)[0]
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                (folder / f"{i:04d}.png").touch()  # never opened: --no-image-check


def test_real_test_set_gives_262_videos_and_1323_questions_843_on_fakes(shared_data, tmp_path):
    dq = shared_data / "ddvqa" / "DQ_FF++"
    frames_for_every_video(dq, tmp_path / "frames", "test")
    assert prepare(dq, tmp_path / "frames", "--no-image-check", "--strict") == 0
    docs = read_prepared("ddvqa")
    assert len(docs) == 1323
    assert len({(d["category"], d["video"]) for d in docs}) == 262
    assert Counter(d["label"] for d in docs) == {"fake": 843, "real": 480}
    assert Counter(d["part"] for d in docs)["image"] == 262  # question "0" is always the whole image
    assert "other" not in {d["part"] for d in docs}


def test_real_test_set_videos_all_belong_to_the_official_ffpp_test_split(shared_data):
    real, fake = ffpp.split_videos(ffpp.load_split("test"))
    folder = shared_data / "ddvqa" / "DQ_FF++" / "test_set"
    for name in ddvqa.FILES:
        for key in json.loads((folder / name / f"{name}.json").read_text()):
            method, video = ddvqa.parse_video_key(key)
            assert video in (fake if method else real), key


def test_every_real_reference_answer_parses_to_its_videos_label(shared_data, tmp_path):
    """The scoring reads DD-VQA's phrasing ("The person's eyes look fake.") under both parse modes."""
    dq = shared_data / "ddvqa" / "DQ_FF++"
    frames_for_every_video(dq, tmp_path / "frames", "test")
    assert prepare(dq, tmp_path / "frames", "--no-image-check") == 0
    for doc in read_prepared("ddvqa"):
        for answer in doc["reference"]:
            assert parse_verdict(answer, "robust", doc["question"]) == doc["label"], answer
            assert parse_verdict(answer, "fakevlm") == doc["label"], answer


def test_real_train_set_gives_1430_videos_and_7312_questions(shared_data, tmp_path):
    dq = shared_data / "ddvqa" / "DQ_FF++"
    frames_for_every_video(dq, tmp_path / "frames", "train")
    assert prepare(dq, tmp_path / "frames", "--split", "train", "--no-image-check", "--strict") == 0
    docs = read_prepared("ddvqa")
    assert len(docs) == 7312 and len({(d["category"], d["video"]) for d in docs}) == 1430
