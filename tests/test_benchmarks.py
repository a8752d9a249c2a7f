"""Benchmarks as folders: discovery, every declaration's contract, the scaffold, and the central tools that read them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from fakevlm_tasks.glue import benchmarks, metric_lists, prompts
from fakevlm_tasks.data import cli
from fakevlm_tasks.glue.prepared import DataNotPreparedError
from fakevlm_tasks.glue.docs import read_prepared
from lmms_runs import data_dir

BUILT_IN = sorted(benchmarks.discover())


def test_the_built_in_benchmarks_are_discovered_from_their_folders():
    assert {"ddvqa", "dmimage", "fakeclue", "ffpp", "loki"} <= set(BUILT_IN)
    for name, bench in benchmarks.discover().items():
        assert bench.folder.name == name and (bench.folder / "README.md").is_file()


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_declared_task_has_a_yaml_in_its_folder_and_headline_metrics_it_reports(name):
    from lmms_eval.utils import load_yaml_config

    bench = benchmarks.get(name)
    configs = {}
    for path in bench.folder.glob("*.yaml"):
        cfg = load_yaml_config(yaml_path=str(path), mode="simple")
        configs[cfg["task"]] = cfg
    assert set(bench.tasks) <= set(configs), f"{name}: tasks without a YAML"
    for task, headline in bench.headline.items():
        listed = {m["metric"] for m in configs[task]["metric_list"]}
        assert set(headline) <= listed, f"{task}: headline metrics it does not report: {set(headline) - listed}"
    for paper in bench.paper:
        assert (paper.task or bench.tasks[0]) in bench.tasks


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_task_asks_the_question_its_own_folder_defines(name):
    """A folder's prompt hook is the one its tasks use (not the template's default), and every
    prompt hook a benchmark.py defines is used: editing a folder's prompt changes its tasks."""
    from lmms_eval.utils import load_yaml_config

    bench, module = benchmarks.get(name), benchmarks.module(name)
    used = set()
    for path in bench.folder.glob("*.yaml"):
        node = load_yaml_config(yaml_path=str(path), mode="simple")["doc_to_text"]
        owner, attr = node.value.rsplit(".", 1)
        # benchmark.<hook>, or a module of the folder's own package (LOKI's: fakevlm_tasks.tasks.loki.judgment.<hook>)
        owner = module if owner == "benchmark" else importlib.import_module(owner)
        assert Path(owner.__file__).parent == bench.folder, f"{path.name}: doc_to_text is {node.value}, not its folder's"
        used.add((Path(owner.__file__).name, attr))
    package = [importlib.import_module(f"fakevlm_tasks.tasks.{bench.folder.name}.{p.stem}") for p in bench.folder.glob("*.py")
               if (bench.folder / "__init__.py").is_file() and p.stem not in ("__init__", "benchmark")]
    defined = {(Path(m.__file__).name, attr) for m in [module, *package] for attr, value in vars(m).items()
               if callable(value) and getattr(value, "__qualname__", "") == "prompted.<locals>.doc_to_text"}
    assert defined == used, f"{name}: prompt hooks defined but unused {defined - used}, used but undefined {used - defined}"


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_benchmark_prepares_its_own_miniature_through_fakevlm_data(name, tmp_path):
    bench = benchmarks.get(name)
    argv = bench.write_miniature(tmp_path / "download")
    with data_dir(tmp_path / "prepared"):
        assert cli.main(["prepare", name, *argv, "--strict"]) == 0
        for dataset in bench.prepared_sets:
            assert read_prepared(dataset), dataset


def test_an_unprepared_set_names_the_command_its_benchmark_declares(tmp_path):
    with data_dir(tmp_path), pytest.raises(DataNotPreparedError, match="fakevlm-data prepare loki --annotations"):
        read_prepared("loki_judgment")


@pytest.mark.slow
def test_fakevlm_data_new_scaffolds_a_benchmark_that_prepares_and_evaluates_as_it_is(tmp_path, monkeypatch, capsys):
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    assert cli.main(["new", "mybench", "--dir", str(tmp_path / "benches")]) == 0
    folder = tmp_path / "benches" / "mybench"
    assert {p.name for p in folder.iterdir()} == {"benchmark.py", "mybench.yaml", "README.md"}
    assert "- [ ] Has the task been checked against the reference" in (folder / "README.md").read_text()
    assert cli.main(["new", "mybench", "--dir", str(tmp_path / "benches")]) == 2  # never overwrites
    assert cli.main(["new", "My-Bench", "--dir", str(tmp_path / "benches")]) == 2

    monkeypatch.setenv(benchmarks.BENCHMARKS_ENV, str(tmp_path / "benches"))
    bench = benchmarks.get("mybench")
    assert not metric_lists.stale(metric_lists.expected_files(bench, benchmarks.module("mybench").__name__))
    argv = bench.write_miniature(tmp_path / "download")
    with data_dir(tmp_path / "prepared"):
        assert cli.main(["prepare", "mybench", *argv]) == 0
        assert cli.main(["status"]) == 0
        assert "mybench" in capsys.readouterr().out
        out = simple_evaluate(model="dummy", model_args="response=This is a fake image.", tasks=["mybench"],
                              task_manager=TaskManager("WARNING", model_name="dummy"), bootstrap_iters=0)
    assert out["results"]["mybench"]["acc,none"] == pytest.approx(50.0)


def test_two_folders_with_one_name_are_refused(tmp_path, monkeypatch):
    for where in ("a", "b"):
        cli.main(["new", "twin", "--dir", str(tmp_path / where)])
    monkeypatch.setenv(benchmarks.BENCHMARKS_ENV, f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    with pytest.raises(benchmarks.BenchmarkError, match="two benchmark folders are named 'twin'"):
        benchmarks.discover()


def test_a_missing_folder_on_the_variable_is_an_error_that_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv(benchmarks.BENCHMARKS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(benchmarks.BenchmarkError, match="nowhere"):
        benchmarks.discover()


def test_prompts_come_from_the_models_family(tmp_path):
    doc = {"question": "Q?"}
    text = prompts.prompted(prompts.DETECTION_PROMPTS)
    assert text(doc, {"family": "fakevlm"}) == "Q?"
    assert text(doc, {"family": "api"}).endswith("give your best guess.")
    assert text(doc, {}) == "Q?" + prompts.DETECTION_PROMPTS["general"]  # a model the template does not list
    assert json.dumps(text(doc, {"family": "general", "pre_prompt": "[", "post_prompt": "]"})).startswith('"[Q?')


def test_a_declaration_says_what_each_task_asks_and_refuses_an_unknown_kind():
    loki = benchmarks.get("loki")
    assert [loki.question(t) for t in ("loki", "loki_jpeg50", "loki_judgment", "loki_mc", "loki_explain")] == [
        "detection", "detection", "judgment", "choice", "rubric"]
    assert benchmarks.question_kind("fakeclue_blur2") == "detection" and benchmarks.question_kind("mmmu") is None
    with pytest.raises(benchmarks.BenchmarkError, match="kind of question"):
        benchmarks.Benchmark(name="x", title="X", prepare=None, add_arguments=None, prepare_hint="", tasks=("x",),
                             asks={"x": "essay"})
