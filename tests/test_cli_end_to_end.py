"""The headline command, for real: `lmms-eval --model fakevlm --tasks fakeclue,loki` in a subprocess.

No --include_path: the tasks must be found through the plugin's registration. lmms-eval
exits 0 even when an evaluation fails, so every check reads the files it wrote.
"""

from __future__ import annotations

import pytest

from lmms_runs import prepare, results_of, run_fakevlm, samples_of
from official_formats import fakeclue_record, loki_open_ended, loki_tf_pair, write_fakeclue, write_loki

pytestmark = pytest.mark.slow

FAKECLUE = [
    ("animal/real/0.png", 1, "animal", "This is a real image. Natural fur."),
    ("animal/fake/1.png", 0, "animal", "This is a fake image. Smeared fur."),
    ("doc/fake/2.png", 0, "doc", "This is a fake image. Garbled text."),
    ("doc/fake/3.png", 0, "doc", "This is a fake image. Broken stamp."),
    ("human/real/4.png", 1, "human", "This is a real image. Consistent pores."),
]


@pytest.fixture(scope="module")
def rigged_run(tmp_path_factory, fake_answering_llava):
    """Data in the official formats, prepared by fakevlm-data, evaluated once by the always-'fake' model."""
    tmp = tmp_path_factory.mktemp("e2e")
    data_root = tmp / "prepared"
    ann, images = write_fakeclue(tmp / "fakeclue", [fakeclue_record(*r) for r in FAKECLUE])
    prepare(data_root, "fakeclue", "--annotations", str(ann), "--images", str(images))
    tf = loki_tf_pair("r1", "real", "sence") + loki_tf_pair("f1", "fake", "animals") + loki_tf_pair("f2", "fake", "doc")
    ann, media = write_loki(tmp / "loki", tf, [loki_open_ended("o1", "The chairs float.", ["Window merges with wood."])])
    prepare(data_root, "loki", "--annotations", str(ann), "--images", str(media))
    out = tmp / "out"
    proc = run_fakevlm(fake_answering_llava, "fakeclue,loki,loki_judgment", out, data_root)
    return results_of(out, proc)["results"], out


def test_tasks_are_found_without_include_path(rigged_run):
    results, _ = rigged_run
    assert {"fakeclue", "loki", "loki_judgment"} <= set(results)


def test_always_fake_model_scores_the_accuracy_the_labels_imply_on_fakeclue(rigged_run):
    results, out = rigged_run
    r = results["fakeclue"]
    n_fake = sum(1 for rec in FAKECLUE if rec[1] == 0)
    assert r["acc,none"] == pytest.approx(100 * n_fake / len(FAKECLUE))
    assert r["f1,none"] == pytest.approx(0.0)  # real is the positive class and is never predicted
    assert r["f1_fake,none"] == pytest.approx(100 * 2 * n_fake / (2 * n_fake + (len(FAKECLUE) - n_fake)))
    assert r["unknown_rate,none"] == 0.0
    assert r["acc_official_parser,none"] == pytest.approx(r["acc,none"])
    assert r["acc_doc,none"] == pytest.approx(100.0)
    assert r["acc_human,none"] == pytest.approx(0.0)
    assert [s["filtered_resps"].strip() for s in samples_of(out, "fakeclue")] == ["This is a fake image."] * len(FAKECLUE)


def test_loki_detection_counts_true_or_false_images_only(rigged_run):
    results, out = rigged_run
    # 3 detection images (1 real, 2 fake) + 1 open-ended-only image used for explanations.
    assert results["loki"]["acc,none"] == pytest.approx(100 * 2 / 3)
    assert len(samples_of(out, "loki")) == 4
    assert 0.0 <= results["loki"]["rouge_l,none"] <= 100.0


def test_loki_judgment_applies_lokis_first_four_characters_rule(rigged_run):
    results, _ = rigged_run
    r = results["loki_judgment"]
    # "This is a fake image." has no yes/no in its first 4 characters: LOKI's rule cannot read it.
    assert r["unknown_rate,none"] == pytest.approx(100.0)
    assert r["acc,none"] == pytest.approx(0.0)
    # The robust parser reads it as a fake verdict: right on both questions of fake images,
    # wrong on both of the real one. LOKI scores each fake category against the real questions
    # (all in one category here): (1 + 0) / 2 for animals and for doc, weighted 2 and 2.
    assert r["loki_score_robust_parser,none"] == pytest.approx(50.0)


def test_running_a_task_whose_data_is_not_prepared_says_which_command_to_run(tmp_path, tiny_llava):
    out = tmp_path / "out"
    proc = run_fakevlm(tiny_llava, "fakeclue", out, tmp_path / "empty-root", "--verbosity", "DEBUG")
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "fakevlm-data prepare fakeclue --annotations" in log
    assert not list(out.rglob("*_results.json"))
