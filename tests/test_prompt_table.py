"""The README's table of every prompt (per task and model family) is what the tasks send."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.perturb import split_task_name
from lmms_runs import data_dir, prepare

README = Path(__file__).resolve().parents[1] / "README.md"
FAMILIES = ("fakevlm", "general", "api")
CODE = re.compile(r"`([^`]*)`")


def table_rows() -> list[dict]:
    """The rows of the README table whose header starts ``| task | `{question}` |``."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| task | `{question}` |"))
    header = [c.strip() for c in lines[start].strip("|").split(" | ")]
    assert header == ["task", "`{question}`", *(f"`{f}`" for f in FAMILIES), "new tokens"]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        tasks = CODE.findall(cells[0].split("(")[0])
        prompts = {}
        for family, cell in zip(FAMILIES, cells[2:5]):
            (prompt,) = CODE.fullmatch(cell).groups()
            prompts[family] = prompt.replace("\\n", "\n")
        rows.append({"tasks": tasks, "question": cells[1], "prompts": prompts, "tokens": cells[5]})
    return rows


def task_configs() -> dict[str, dict]:
    from lmms_eval.utils import load_yaml_config

    configs = {}
    for path in sorted(TASKS_DIR.rglob("*.yaml")):
        config = load_yaml_config(yaml_path=str(path), mode="full")
        if isinstance(config.get("task"), str):
            configs[config["task"]] = config
    return configs


CONFIGS = task_configs()
ROWS = table_rows()
LISTED = {task: row for row in ROWS for task in row["tasks"]}


def rendered(config: dict, family: str) -> str:
    return config["doc_to_text"]({"question": "{question}"}, {"family": family})


def test_every_task_is_in_the_table_or_a_variant_of_one_that_is():
    for task in CONFIGS:
        assert task in LISTED or split_task_name(task)[0] in LISTED, f"{task} is not in the README's prompt table"
    assert set(LISTED) <= set(CONFIGS)


@pytest.mark.parametrize("task", sorted(CONFIGS))
def test_each_family_gets_the_prompt_the_table_gives(task):
    row = LISTED.get(task) or LISTED[split_task_name(task)[0]]
    for family in FAMILIES:
        assert rendered(CONFIGS[task], family) == row["prompts"][family], (task, family)


@pytest.mark.parametrize("task", sorted(LISTED))
def test_the_token_budget_is_the_tables(task):
    config, tokens = CONFIGS[task], LISTED[task]["tokens"]
    if config["output_type"] == "multiple_choice":
        assert tokens == "none (loglikelihood)"
    else:
        assert int(tokens.replace(",", "")) == config["generation_kwargs"]["max_new_tokens"]


def test_the_families_named_are_the_templates():
    template = CONFIGS["fakeclue"]["lmms_eval_specific_kwargs"]  # fakeclue keeps the template's block as it is
    family_of = {model: kwargs["family"] for model, kwargs in template.items()}
    assert {m for m, f in family_of.items() if f == "fakevlm"} == {"fakevlm", "detector"}
    assert {m for m, f in family_of.items() if f == "api"} == {"openai"}
    assert family_of["default"] == "general"
    assert set(family_of.values()) == set(FAMILIES)


def test_a_question_the_table_quotes_is_the_prepared_question(tmp_path):
    quoted = {task: CODE.fullmatch(row["question"]).group(1) for task, row in LISTED.items() if CODE.fullmatch(row["question"])}
    assert quoted, "the table quotes no question"
    for bench in benchmarks.discover().values():
        prepare(tmp_path / "prepared", bench.name, *bench.write_miniature(tmp_path / bench.name))
    with data_dir(tmp_path / "prepared"):
        for task, question in quoted.items():
            docs = CONFIGS[task]["process_docs"](None)
            assert {doc["question"] for doc in docs} == {question}, task
