"""Two runs' logged samples are paired doc by doc only when each position holds the same doc: id and image."""

from __future__ import annotations

import json

import pytest

from fakevlm_tasks.report import logged_samples
from fakevlm_tasks.report.logged_samples import NULL_DOC_HASH, RunMismatch, check_same_docs, read_samples

LABELS = ["real", "fake"] * 6


def write_samples(path, images, *, ids=None, hashes=None):
    """A samples file as lmms-eval 0.7.3 writes it for a fakevlm task: one line per doc, the record under ``acc``."""
    with open(path, "w", encoding="utf-8") as f:
        for i, (label, image) in enumerate(zip(LABELS, images)):
            record = {"id": (ids or [f"doc{k}" for k in range(len(LABELS))])[i], "label": label, "verdict": label,
                      "category": "all", "cluster": None, "detection": True, "log_odds": None}
            line = {"doc_id": i, "doc_hash": NULL_DOC_HASH if hashes is None else hashes[i], "acc": record,
                    "score": 1.0}
            if image is not None:
                line["input_media"] = [image]
            f.write(json.dumps(line) + "\n")
    return read_samples(path)


def images_under(root):
    return [f"{root}/images/{label}/{i:03d}.jpg" for i, label in enumerate(LABELS)]


def permuted_within_class(images):
    """The same images, rotated among the docs of each class: every label stays where it was, no doc keeps its image."""
    out = list(images)
    for label in ("real", "fake"):
        slots = [i for i, lab in enumerate(LABELS) if lab == label]
        for i, j in zip(slots, slots[1:] + slots[:1]):
            out[i] = images[j]
    return out


def test_runs_whose_images_are_permuted_within_each_class_are_refused(tmp_path):
    a = write_samples(tmp_path / "a.jsonl", images_under("/data/fakeclue"))
    b = write_samples(tmp_path / "b.jsonl", permuted_within_class(images_under("/data/fakeclue")))
    with pytest.raises(RunMismatch, match=r"12 of 12 docs differ by image .*doc_id 0 is .real/000.jpg. in a.jsonl and .real/002.jpg. in b.jsonl"):
        check_same_docs(a, b)


def test_a_doc_hash_equal_for_every_doc_is_ignored_with_a_note(tmp_path):
    run = write_samples(tmp_path / "a.jsonl", images_under("/data/fakeclue"))
    assert run.doc_hash == [None] * len(LABELS)
    assert any("doc_hash is the same for every doc" in note for note in run.notes)


def test_doc_ids_are_compared_although_the_doc_hashes_agree(tmp_path):
    ids = [f"doc{k}" for k in range(len(LABELS))]
    a = write_samples(tmp_path / "a.jsonl", [None] * len(LABELS), ids=ids)
    b = write_samples(tmp_path / "b.jsonl", [None] * len(LABELS), ids=ids[:3] + ["doc99"] + ids[4:])
    with pytest.raises(RunMismatch, match=r"1 of 12 docs differ by doc id \(doc_id 3\): doc_id 3 is 'doc3'"):
        check_same_docs(a, b)


def test_the_same_data_in_another_folder_still_pairs(tmp_path):
    a = write_samples(tmp_path / "a.jsonl", images_under("/data/fakeclue"))
    b = write_samples(tmp_path / "b.jsonl", images_under("/mnt/elsewhere/prepared/fakeclue"))
    assert check_same_docs(a, b) == ["doc id", "image"]


def test_a_doc_hash_that_varies_between_docs_is_compared(tmp_path):
    hashes = [f"h{i}" for i in range(len(LABELS))]
    a = write_samples(tmp_path / "a.jsonl", images_under("/data"), hashes=hashes)
    b = write_samples(tmp_path / "b.jsonl", images_under("/data"), hashes=hashes[:-1] + ["other"])
    with pytest.raises(RunMismatch, match=r"1 of 12 docs differ by doc_hash \(doc_id 11\)"):
        check_same_docs(a, b)


def test_runs_with_nothing_to_match_by_are_refused(tmp_path):
    a = write_samples(tmp_path / "a.jsonl", [None] * len(LABELS), ids=[None] * len(LABELS))
    with pytest.raises(RunMismatch, match="cannot be matched"):
        check_same_docs(a, a)


def test_an_inline_image_is_keyed_by_its_content():
    keys = logged_samples.image_keys([["data:image/png;base64,AAAA"], ["data:image/png;base64,AAAB"], None])
    assert keys[0].startswith("sha256:") and keys[0] != keys[1] and keys[2] is None


def test_compare_refuses_two_runs_whose_images_moved_instead_of_testing_them(tmp_path):
    from fakevlm_tasks.report import uncertainty

    runs = [uncertainty.Run(name, "fakeclue", tmp_path / f"{name}_results.json", {"acc": 100.0},
                            write_samples(tmp_path / f"{name}.jsonl", images))
            for name, images in (("a", images_under("/data")), ("b", permuted_within_class(images_under("/data"))))]
    with pytest.raises(RunMismatch, match="differ by image"):
        uncertainty.compare_runs(*runs, ["acc"], uncertainty.Settings(n_resamples=100))
