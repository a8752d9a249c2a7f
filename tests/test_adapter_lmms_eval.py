"""The adapter inside lmms-eval's own evaluator (in-process): requests, docs, and the scores and failures a task reads off the answers."""

from __future__ import annotations

import json
import textwrap

import pytest

TASK = "fakevlm_adapter_probe"

TASK_YAML = f"""\
task: {TASK}
dataset_path: json
dataset_kwargs:
  data_files:
    test: DOCS
test_split: test
output_type: generate_until
doc_to_visual: !function probe_utils.doc_to_visual
doc_to_text: !function probe_utils.doc_to_text
doc_to_target: label
generation_kwargs:
  max_new_tokens: 12
  until: []
process_results: !function probe_utils.process_results
metric_list:
  - metric: said_fake
    aggregation: mean
    higher_is_better: true
  - metric: failed
    aggregation: mean
    higher_is_better: false
  - metric: verdict_found
    aggregation: mean
    higher_is_better: true
"""

# A task that reads what each answer carries, as the project's tasks do.
TASK_UTILS = """\
from PIL import Image

from fakevlm_tasks.glue import sample


def doc_to_visual(doc):
    return [Image.open(doc["image"])]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return "Does the image looks real/fake?"


def process_results(doc, results):
    failure = sample.failure_of(results)
    score = sample.verdict_score_of(results)
    return {
        "said_fake": float(results[0] == "This is a fake image."),
        "failed": float(failure is not None and failure.reason.startswith("could not load the image")),
        "verdict_found": float(score is not None and score.found and score.p_fake > score.p_real),
    }
"""


@pytest.fixture
def probe_task(tmp_path):
    from PIL import Image

    folder = tmp_path / "task"
    folder.mkdir()
    docs = []
    for i in range(4):
        image = tmp_path / f"{i}.png"
        if i != 2:  # image 2 is missing on disk
            Image.new("RGB", (20 + i, 30), (40 * i, 90, 200)).save(image)
        docs.append({"id": f"img-{i}", "image": str(image), "label": 0})
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / f"{TASK}.yaml").write_text(TASK_YAML.replace("DOCS", str(tmp_path / "docs.jsonl")))
    (folder / "probe_utils.py").write_text(textwrap.dedent(TASK_UTILS))
    return folder


@pytest.mark.slow
def test_lmms_eval_runs_the_adapter_and_the_task_sees_answers_scores_and_failures(fake_answering_llava, probe_task):
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    results = simple_evaluate(
        model="fakevlm",
        model_args=f"pretrained={fake_answering_llava},device=cpu",
        tasks=[TASK],
        batch_size=4,
        task_manager=TaskManager("WARNING", include_path=str(probe_task), model_name="fakevlm"),
        bootstrap_iters=0,
    )
    metrics = results["results"][TASK]
    assert metrics["said_fake,none"] == pytest.approx(0.75)
    assert metrics["failed,none"] == pytest.approx(0.25)
    assert metrics["verdict_found,none"] == pytest.approx(0.75)
