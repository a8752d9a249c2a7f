"""`fakevlm-data prepare ffpp`: the official split's videos in, sampled frames out, every missing video named."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.data import cli

ffpp = benchmarks.module("ffpp")
from fakevlm_tasks.glue.docs import read_prepared
from official_formats import ffpp_frames, png, write_ffpp_split


# Every test here prepares into its own empty data root (conftest's data_root).
pytestmark = pytest.mark.usefixtures("data_root")


def one_pair_source(tmp_path, n_frames=4, methods=ffpp.METHODS) -> tuple[Path, Path]:
    src = tmp_path / "ffpp"
    for video in ("001", "002"):
        ffpp_frames(src, None, video, n_frames)
    for method in methods:
        for video in ("001_002", "002_001"):
            ffpp_frames(src, method, video, n_frames)
    return src, write_ffpp_split(tmp_path / "split.json", [("001", "002")])


def prepare(src, *extra) -> int:
    return cli.main(["prepare", "ffpp", "--source", str(src), *extra])


def test_a_split_pair_gives_two_originals_and_both_orders_of_each_manipulation(tmp_path):
    src, split = one_pair_source(tmp_path)
    assert prepare(src, "--split", str(split), "--frames-per-video", "1") == 0
    docs = read_prepared("ffpp")
    assert Counter(d["category"] for d in docs) == {"original": 2, "Deepfakes": 2, "Face2Face": 2, "FaceSwap": 2, "NeuralTextures": 2}
    assert {d["video"] for d in docs if d["category"] == "Deepfakes"} == {"001_002", "002_001"}
    assert {d["label"] for d in docs if d["category"] == "original"} == {"real"}
    assert {d["label"] for d in docs if d["category"] != "original"} == {"fake"}
    assert docs[0]["question"] == "Does the image looks real/fake?"


def test_frames_are_evenly_spaced_from_the_first_in_numeric_order(tmp_path):
    src = tmp_path / "ffpp"
    video = ffpp_frames(src, None, "001", 0)
    for n in (0, 5, 10, 40, 160, 200, 1000):  # "1000.png" sorts before "160.png" as text
        png(video / f"{n}.png")
    assert [p.name for p in ffpp.video_frames(src, None, "001")[0]] == ["0.png", "5.png", "10.png", "40.png", "160.png", "200.png", "1000.png"]
    assert ffpp.evenly_spaced(list(range(10)), 4) == [0, 2, 5, 7]
    assert ffpp.evenly_spaced(list(range(3)), 32) == [0, 1, 2]
    assert ffpp.evenly_spaced(list(range(3)), 0) == [0, 1, 2]


def test_default_is_32_frames_per_video_and_short_videos_keep_all_their_frames(tmp_path, data_root, capsys):
    src, split = one_pair_source(tmp_path, n_frames=40)
    for frame in sorted((src / "original_sequences/youtube/c23/images/001").iterdir())[10:]:
        frame.unlink()
    assert prepare(src, "--split", str(split)) == 0
    per_video = Counter((d["category"], d["video"]) for d in read_prepared("ffpp"))
    assert per_video[("original", "001")] == 10
    assert per_video[("original", "002")] == ffpp.DEFAULT_FRAMES_PER_VIDEO == 32
    manifest = json.loads((data_root / "ffpp" / "manifest.json").read_text())
    assert manifest["sources"]["videos_with_fewer_frames"] == {"original/001": 10}
    assert "fewer than 32 frames" in capsys.readouterr().out


def test_missing_video_and_corrupt_frame_are_skipped_counted_and_named(tmp_path, data_root, capsys):
    src, split = one_pair_source(tmp_path, n_frames=2)
    for frame in (src / "manipulated_sequences/FaceSwap/c23/images/002_001").iterdir():
        frame.unlink()
    (src / "manipulated_sequences/FaceSwap/c23/images/002_001").rmdir()
    (src / "original_sequences/youtube/c23/images/001/0001.png").write_bytes(b"not a png")
    assert prepare(src, "--split", str(split)) == 0
    assert "17 records prepared, 2 skipped" in capsys.readouterr().out
    reasons = {s["record"]: s["reason"] for s in json.loads((data_root / "ffpp" / "manifest.json").read_text())["skipped_records"]}
    assert reasons["FaceSwap/002_001"].startswith("missing video frames: no folder at ")
    assert "FaceSwap/c23/images/002_001" in reasons["FaceSwap/002_001"]
    assert reasons["original/001/0001.png"].startswith("unreadable image")


def test_frames_folder_and_faceshifter_are_accepted(tmp_path):
    src = tmp_path / "ffpp"
    for video in ("001", "002"):
        ffpp_frames(src, None, video, 1, folder="frames")
    for video in ("001_002", "002_001"):
        ffpp_frames(src, "FaceShifter", video, 1, folder="frames")
    split = write_ffpp_split(tmp_path / "split.json", [("001", "002")])
    assert prepare(src, "--split", str(split), "--methods", "FaceShifter") == 0
    assert Counter(d["category"] for d in read_prepared("ffpp")) == {"original": 2, "FaceShifter": 2}


def test_an_unknown_method_is_an_error_that_lists_the_known_ones(tmp_path, capsys):
    src, split = one_pair_source(tmp_path)
    assert prepare(src, "--split", str(split), "--methods", "Deepfakes,DeepFakeDetection") == 2
    err = capsys.readouterr().err
    assert "DeepFakeDetection" in err and "NeuralTextures" in err


def test_a_malformed_split_entry_is_named_with_file_and_index(tmp_path, capsys):
    src, _ = one_pair_source(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([["001", "002"], ["003"]]))
    assert prepare(src, "--split", str(bad)) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "entry 1" in err


def test_a_root_without_any_video_is_an_error_not_an_empty_dataset(tmp_path, capsys, data_root):
    (tmp_path / "empty").mkdir()
    assert prepare(tmp_path / "empty") == 2
    assert "no usable record" in capsys.readouterr().err
    assert not (data_root / "ffpp").exists()


def test_the_shipped_official_splits_are_the_ffpp_repositorys(shared_data):
    for name in ("train", "val", "test"):
        shipped = ffpp.split_file(name)
        assert shipped.read_bytes() == (shared_data / "ffpp" / "splits" / f"{name}.json").read_bytes()


def test_the_shipped_splits_cover_every_video_once_with_70_test_pairs():
    pairs = {name: ffpp.load_split(name) for name in ("train", "val", "test")}
    assert [len(pairs[n]) for n in ("train", "val", "test")] == [360, 70, 70]
    ids = [v for ps in pairs.values() for p in ps for v in p]
    assert sorted(ids) == [f"{i:03d}" for i in range(1000)]
    real, fake = ffpp.split_videos(pairs["test"])
    assert len(real) == len(fake) == 140
    assert pairs["test"][0] == ("953", "974") and "953_974" in fake and "974_953" in fake
