"""loki_mc: LOKI's multiple-choice questions on image pairs, read by LOKI's (MMMU's) option rules
with a seeded fallback, scored as LOKI scores them; prepared from LOKI's format and run through
the lmms-eval CLI with the dummy model and the tiny LLaVA."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from fakevlm_tasks.glue.docs import read_prepared
from fakevlm_tasks.tasks.loki import choice, judgment, prepare as loki_prepare
from fakevlm_tasks.tasks.loki.options import OptionChoice, format_options, parse_option, seeded_letter
from lmms_runs import data_dir, prepare
from loki_runs import DUMMY_ANSWER, REAL_LIMIT, loki_run

OPTIONS = ["The first one.", "The second one."]


# ------------------------------------------------------------------ LOKI's option rules


@pytest.mark.parametrize("answer, pick, rule", [
    ("B", "B", "letter"),                                   # " B " after padding
    ("A.", "A", "letter"),                                  # the full stop is stripped first
    ("(A) The first one", "A", "bracket"),
    ("**B**", "B", "bold"),
    ("The answer is (A), not (B).", "B", "bracket"),        # several: the last one in the answer
    ("(B) is what I pick, **A** is not", "B", "bracket"),   # brackets decide where both marks appear
    ("I pick B. Not A.", "A", "letter"),                    # the padding puts a space after the last "A"
    ("B.A.x", "A", "letter_dot"),                           # both end in "."; no " X " to compare: the first listed
    ("A photo like this second one is real", "A", "letter"),  # LOKI's rules read the article "A" as option A
    ("I think it is The second one. It looks natural", "The second one.", "option_text"),  # LOKI returns the text
    ("After careful inspection I believe the second one. is fake", "B", "content"),
    ("b", None, "fallback"),                                # letters are case-sensitive: the seeded letter
    ("The first one", None, "fallback"),                    # the option's text lost its full stop to the strip
])
def test_loki_reads_the_option_as_its_rules_do(answer, pick, rule):
    choice = parse_option(answer, OPTIONS, seed="q1")
    assert choice == OptionChoice(pick or seeded_letter(["A", "B"], "q1"), rule)
    assert choice.fallback == (rule == "fallback")


def test_the_fallback_letter_is_seeded_by_the_question_id():
    picks = {seed: parse_option("Neither, honestly", OPTIONS, seed) for seed in (f"q{i}" for i in range(40))}
    assert all(c.fallback for c in picks.values())
    assert {c.pick for c in picks.values()} == {"A", "B"}  # both letters occur over 40 ids
    assert all(parse_option("Neither, honestly", OPTIONS, seed) == c for seed, c in picks.items())  # reproducible
    assert picks["q3"].pick == seeded_letter(["A", "B"], "q3")


def test_an_empty_or_missing_answer_falls_back():
    assert parse_option("", OPTIONS, "q").fallback and parse_option(None, OPTIONS, "q").fallback


def test_options_are_listed_as_loki_lists_them():
    assert format_options(OPTIONS) == "A. The first one.\nB. The second one."
    assert format_options(["A. red", "B. blue", "C) green"]) == "A. red\nB. blue\nC. C) green"


# ------------------------------------------------------------------ preparation


def write_mc(tmp_path, records):
    """The loki miniature with its multi_choice.json replaced by ``records``."""
    argv = loki_prepare.write_miniature(tmp_path / "download")
    (tmp_path / "download" / "data_json" / "multi_choice.json").write_text(json.dumps(records))
    return argv


def mc(qid, kind="fake_from_real", answer="B", **change):
    record = {"image_path": ["media_data/sence/0.png", "media_data/doc/1.png"], "question": "<image>\n<image>\nWhich?",
              "choices": OPTIONS, "answer": answer, "question_type": f"image_mc_{kind}_doc", "id": qid}
    return {**record, **change}


def test_a_question_becomes_a_record_with_both_images_and_the_options_in_its_question(tmp_path):
    argv = write_mc(tmp_path, [mc("q1"), mc("q2", "real_from_fake", "A")])
    prepare(tmp_path / "prepared", "loki", *argv, "--strict")
    with data_dir(tmp_path / "prepared"):
        fake, real = read_prepared("loki_mc")
    assert fake["label"] == "fake" and real["label"] == "real"  # what each question asks to pick
    assert fake["category"] == "doc" and fake["answer"] == "B" and fake["options"] == OPTIONS
    assert fake["question"] == "Which?\nA. The first one.\nB. The second one."
    assert [p.rsplit("/", 2)[-2:] for p in fake["images"]] == [["sence", "0.png"], ["doc", "1.png"]]
    assert fake["cluster"] == real["cluster"]  # one pair, two questions


@pytest.mark.parametrize("bad, reason", [
    ({"answer": "C"}, "answer 'C'"),
    ({"question_type": "image_mc_odd_doc"}, "question_type 'image_mc_odd_doc'"),
    ({"image_path": ["media_data/doc/1.png"]}, "two or more images"),
    ({"choices": ["only one"]}, "one option per image"),
])
def test_a_malformed_question_is_skipped_and_named(tmp_path, bad, reason):
    argv = write_mc(tmp_path, [mc("q1"), mc("bad", **bad)])
    prepare(tmp_path / "prepared", "loki", *argv)
    manifest = json.loads((tmp_path / "prepared" / "loki_mc" / "manifest.json").read_text())
    (skip,) = manifest["skipped_records"]
    assert skip["record"] == "multi_choice.json#1" and reason in skip["reason"]


def test_a_question_with_a_missing_image_is_skipped_with_the_image_named(tmp_path):
    argv = write_mc(tmp_path, [mc("q1"), mc("q2", image_path=["media_data/sence/0.png", "media_data/doc/gone.png"])])
    prepare(tmp_path / "prepared", "loki", *argv)
    manifest = json.loads((tmp_path / "prepared" / "loki_mc" / "manifest.json").read_text())
    (skip,) = manifest["skipped_records"]
    assert skip["record"] == "multi_choice.json#1 (q2)" and "gone.png" in skip["reason"]


def test_without_multi_choice_json_the_other_sets_are_prepared_and_loki_mc_is_named(tmp_path, capsys):
    argv = loki_prepare.write_miniature(tmp_path / "download")
    (tmp_path / "download" / "data_json" / "multi_choice.json").unlink()
    prepare(tmp_path / "prepared", "loki", *argv, "--strict")
    assert "loki_mc: no multi_choice.json" in capsys.readouterr().err
    assert (tmp_path / "prepared" / "loki_judgment").is_dir() and not (tmp_path / "prepared" / "loki_mc").exists()


def test_the_real_multi_choice_file_gives_the_published_counts(shared_data, tmp_path):
    report = loki_prepare.prepare_mc(shared_data / "loki", tmp_path, check_images=False)
    assert len(report.records) == 2634 and not report.skipped
    assert Counter(r["label"] for r in report.records) == {"fake": 1317, "real": 1317}
    assert {r["category"] for r in report.records} == set(loki_prepare.CATEGORIES)
    assert all(len(r["images"]) == 2 and r["answer"] in "AB" for r in report.records)
    assert len({r["cluster"] for r in report.records}) == 1317  # each pair is asked both ways


def test_every_model_family_gets_lokis_question_options_and_instruction():
    doc = {"id": "q", "question": "Which?\nA. The first one.\nB. The second one.", "images": []}
    for family in ("fakevlm", "general", "api"):
        assert choice.doc_to_text(doc, {"family": family}) == doc["question"] + "\nAnswer with the option letter."


def test_doc_to_visual_gives_both_images_in_order(tmp_path):
    from PIL import Image

    paths = []
    for i, colour in enumerate(((255, 0, 0), (0, 0, 255))):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", (4, 4), colour).save(paths[-1])
    first, second = choice.doc_to_visual({"id": "q", "images": paths})
    assert first.getpixel((0, 0)) == (255, 0, 0) and second.getpixel((0, 0)) == (0, 0, 255)
    with pytest.raises(FileNotFoundError, match="'q'.*gone.png"):
        choice.doc_to_visual({"id": "q", "images": [paths[0], str(tmp_path / "gone.png")]})


# ------------------------------------------------------------------ scoring


def record(qid, label, category, answer, reply):
    doc = {"id": qid, "label": label, "category": category, "answer": answer, "options": OPTIONS, "cluster": None}
    return choice.record(doc, [reply])


def test_loki_score_on_multiple_choice_by_hand():
    records = [
        record("1", "fake", "doc", "B", "B"), record("2", "fake", "doc", "A", "B"),        # fake side of doc: 1/2
        record("3", "real", "doc", "A", "(A)"),                                             # real side of doc: 1/1
        record("4", "fake", "person", "A", "**A**"), record("5", "real", "person", "B", "A"),  # person: 1/1, 0/1
    ]
    # doc: (1/2 + 1) / 2 weighted by 2 fake questions; person: (1 + 0) / 2 by 1.
    assert judgment.agg_loki_score(records) == pytest.approx(100 * (2 * 0.75 + 1 * 0.5) / 3)
    assert judgment.agg_acc(records) == pytest.approx(100 * 3 / 5)
    assert choice.agg_acc_fake_from_real(records) == pytest.approx(100 * 2 / 3)
    assert choice.agg_acc_real_from_fake(records) == pytest.approx(100 * 1 / 2)
    per_category = {m.group: m for m in judgment.SCORE_PER_CATEGORY}  # loki_score_person, ...
    assert per_category["person"].compute(records) == pytest.approx(50.0)
    assert choice.agg_fallback_rate(records) == 0.0


def test_the_record_says_which_rule_read_the_answer_and_a_failed_answer_falls_back():
    read = record("q", "fake", "doc", "B", "I think it is The second one. It looks natural")
    assert (read["read"], read["rule"], read["fallback"]) == ("The second one.", "option_text", False)
    failed = record("q", "fake", "doc", "B", "")
    assert failed["failed"] and failed["fallback"] and failed["read"] == seeded_letter(["A", "B"], "q")
    assert choice.agg_fallback_rate([read, failed]) == 50.0


# ------------------------------------------------------------------ through the lmms-eval CLI


def dummy_expectations(questions: list[dict]) -> dict:
    """What an always-"B" answer scores on ``questions`` (LOKI's records), counted from their fields alone."""
    right = [q["answer"] == DUMMY_ANSWER for q in questions]
    kinds = ["fake" if "fake_from_real" in q["question_type"] else "real" for q in questions]
    categories = [q["question_type"].rsplit("_", 1)[1] for q in questions]
    per_category, weight = 0.0, 0
    for c in set(categories):
        on = {k: [ok for ok, kind, cat in zip(right, kinds, categories) if cat == c and kind == k] for k in ("fake", "real")}
        fake_acc = sum(on["fake"]) / len(on["fake"])
        real_acc = sum(on["real"]) / len(on["real"]) if on["real"] else fake_acc
        per_category += len(on["fake"]) * (fake_acc + real_acc) / 2
        weight += len(on["fake"])
    def share(k):
        return 100 * sum(ok for ok, kind in zip(right, kinds) if kind == k) / kinds.count(k)
    return {"acc": 100 * sum(right) / len(right), "loki_score": 100 * per_category / weight,
            "acc_fake_from_real": share("fake"), "acc_real_from_fake": share("real")}


def answer_of(sample) -> str:
    """The logged answer text (lmms-eval nests it in lists)."""
    answer = sample["filtered_resps"]
    while isinstance(answer, list):
        answer = answer[0]
    return answer


def assert_reads_are_lokis(run):
    """Every logged answer's reading is what parse_option gives it, and the metrics follow from the records."""
    samples = run.samples("loki_mc")
    for s in samples:
        choice = parse_option(answer_of(s), s["doc"]["options"], seed=s["doc"]["id"])
        assert (s["acc"]["read"], s["acc"]["fallback"]) == (choice.pick, choice.fallback)
    r = run.results["loki_mc"]
    assert r["acc,none"] == pytest.approx(100 * sum(s["score"] for s in samples) / len(samples))
    assert r["fallback_rate,none"] == pytest.approx(100 * sum(s["acc"]["fallback"] for s in samples) / len(samples))
    assert r["failed_rate,none"] == 0.0  # both images of every question reached the model
    return samples


@pytest.mark.slow
def test_dummy_on_the_miniature_through_the_cli(tmp_path_factory):
    run = loki_run(tmp_path_factory, "dummy", "miniature")
    r = run.results["loki_mc"]
    # The miniature's two questions: "not generated by AI?" (answer A) and "generated by AI?" (answer B).
    assert (r["acc,none"], r["acc_fake_from_real,none"], r["acc_real_from_fake,none"]) == (50.0, 100.0, 0.0)
    assert r["loki_score,none"] == pytest.approx(50.0) and r["loki_score_doc,none"] == pytest.approx(50.0)
    assert r["loki_score_animals,none"] is None
    assert len(assert_reads_are_lokis(run)) == 2


@pytest.mark.slow
def test_tiny_llava_on_the_miniature_through_the_cli(tmp_path_factory, tiny_llava):
    run = loki_run(tmp_path_factory, "tiny", "miniature", tiny_llava=tiny_llava)
    assert len(assert_reads_are_lokis(run)) == 2


@pytest.mark.slow
def test_dummy_on_the_real_annotation_files_through_the_cli(tmp_path_factory, shared_data):
    run = loki_run(tmp_path_factory, "dummy", "real", shared=shared_data)
    questions = json.loads((shared_data / "loki" / "multi_choice.json").read_text())
    r = run.results["loki_mc"]
    for metric, value in dummy_expectations(questions).items():
        assert r[f"{metric},none"] == pytest.approx(value), metric
    assert len(assert_reads_are_lokis(run)) == 2634 and r["fallback_rate,none"] == 0.0


@pytest.mark.slow
def test_tiny_llava_on_the_real_annotation_files_through_the_cli(tmp_path_factory, shared_data, tiny_llava):
    run = loki_run(tmp_path_factory, "tiny", "real", tiny_llava=tiny_llava, shared=shared_data)
    assert len(assert_reads_are_lokis(run)) == REAL_LIMIT
