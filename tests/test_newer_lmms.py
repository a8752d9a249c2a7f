"""Newer LMMs through lmms-eval's own adapters: Qwen2.5-VL, InternVL3 and LLaVA-OneVision.

Each family gets its prompt from the template (an alias of the general prompt, per adapter
name), and a tiny random checkpoint built locally in transformers' format runs fakeclue
through the lmms-eval CLI: ``qwen2_5_vl``, ``internvl_hf`` (InternVL3 and 3.5 ``-hf``
checkpoints) and ``llava_hf`` (LLaVA-OneVision ``-hf`` checkpoints). The adapters that load
remote code or the LLaVA-NeXT package cannot run offline; their prompts are checked. A model
lmms-eval knows but the template does not name gets the default prompt.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lmms_runs import (
    first_prompt,
    offline_env,
    prepare,
    results_of,
    run_cli,
    samples_of,
)
from official_formats import fakeclue_record, png, write_fakeclue

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue.prepared import FAKECLUE_QUESTION
from fakevlm_tasks.scoring.parsing import UNKNOWN, parse_verdict_detail

LMMS_EVAL_MODELS = Path(__import__("lmms_eval").__file__).parent / "models"
#: The adapter names this project gives a prompt for these families, and whether they run offline here.
NEW_ADAPTERS = ("qwen2_5_vl", "internvl_hf", "internvl3", "internvl3_5", "llava_onevision", "llava_onevision1_5", "llava_onevision2")
REMOTE_CODE = {  # adapter -> (its source file, what it needs that is not here)
    "internvl3": ("simple/internvl3.py", "trust_remote_code=True"),
    "llava_onevision1_5": ("simple/llava_onevision1_5.py", "trust_remote_code"),
    "llava_onevision2": ("chat/llava_onevision2.py", "trust_remote_code=True"),
    "llava_onevision": ("simple/llava_onevision.py", "from llava.model.builder import load_pretrained_model"),
}
FAKECLUE = [(f"{cat}/{'real' if label else 'fake'}/{i}.png", label, cat) for i, (label, cat) in
            enumerate([(0, "animal"), (1, "animal"), (0, "doc"), (1, "human")])]


class _YamlLoader(yaml.SafeLoader):
    """Reads ``!function a.b.c`` as a string, without touching yaml's global loaders."""


_YamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def _template_kwargs() -> dict:
    return yaml.load((TASKS_DIR / "_fakevlm_template_yaml").read_text(), Loader=_YamlLoader)["lmms_eval_specific_kwargs"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("newer_lmms")
    records = [fakeclue_record(image, label, cat, f"This is a {'real' if label else 'fake'} image.") for image, label, cat in FAKECLUE]
    ann, images = write_fakeclue(tmp / "fakeclue", records, make_images=False)
    for n, (image, *_) in enumerate(FAKECLUE):
        png(images / image, (40 * n, 200 - 30 * n, 90))
    root = tmp / "prepared"
    prepare(root, "fakeclue", "--annotations", str(ann), "--images", str(images))
    return root


def _prompt(model: str, data_root: Path) -> str:
    """The first fakeclue doc's prompt as lmms-eval's own task loading gives it to ``model``."""
    return first_prompt(model, "fakeclue", data_root)


# ------------------------------------------------------------------------ prompts


def test_every_new_adapter_is_one_lmms_eval_knows():
    from lmms_eval.models import MODEL_REGISTRY_V2

    assert set(NEW_ADAPTERS) <= set(MODEL_REGISTRY_V2.list_model_names())


def test_the_template_names_each_new_adapter():
    assert set(NEW_ADAPTERS) <= set(_template_kwargs())


@pytest.mark.parametrize("model", NEW_ADAPTERS)
def test_each_new_adapter_is_asked_for_the_verdict_sentence_then_evidence(model, data_root):
    prompt = _prompt(model, data_root)
    assert prompt.startswith(FAKECLUE_QUESTION + " ")
    assert '"This is a real image."' in prompt and '"This is a fake image."' in prompt and "explain" in prompt
    assert prompt == _prompt("default", data_root)


@pytest.mark.parametrize("model", ["qwen3_vl", "gemma3", "idefics2"])
def test_a_model_lmms_eval_knows_but_the_template_does_not_list_gets_the_default_prompt(model, data_root):
    from lmms_eval.models import MODEL_REGISTRY_V2

    assert model in MODEL_REGISTRY_V2.list_model_names() and model not in _template_kwargs()
    assert _prompt(model, data_root) == _prompt("default", data_root)


@pytest.mark.parametrize("model", sorted(REMOTE_CODE))
def test_adapters_that_need_remote_code_or_llava_next_cannot_run_offline(model):
    source, needs = REMOTE_CODE[model]
    assert needs in (LMMS_EVAL_MODELS / source).read_text()


# ----------------------------------------------------------------- for real


def _run(model: str, model_args: str, data_root: Path, out: Path, batch_size: int = 1):
    proc = run_cli(["--model", model, "--model_args", model_args, "--tasks", "fakeclue", "--batch_size", str(batch_size),
                    "--output_path", str(out), "--log_samples", "--gen_kwargs", "max_new_tokens=8"], offline_env(data_root))
    return results_of(out, proc), samples_of(out, "fakeclue")


@pytest.fixture(scope="module")
def qwen25_run(tmp_path_factory, data_root):
    from fakevlm_toys.tiny_qwen25vl import build_tiny_qwen25vl

    tmp = tmp_path_factory.mktemp("qwen25")
    model = build_tiny_qwen25vl(tmp / "model")
    return _run("qwen2_5_vl", f"pretrained={model},device=cpu,device_map=cpu,min_pixels=3136,max_pixels=12544", data_root, tmp / "out", 2)


@pytest.fixture(scope="module")
def internvl_run(tmp_path_factory, data_root):
    from fakevlm_toys.tiny_internvl import build_tiny_internvl

    tmp = tmp_path_factory.mktemp("internvl")
    model = build_tiny_internvl(tmp / "model")
    return _run("internvl_hf", f"pretrained={model},device=cpu,device_map=cpu,max_patches=4", data_root, tmp / "out")


@pytest.fixture(scope="module")
def onevision_run(tmp_path_factory, data_root):
    from fakevlm_toys.tiny_llava_onevision import build_tiny_llava_onevision

    tmp = tmp_path_factory.mktemp("onevision")
    model = build_tiny_llava_onevision(tmp / "model")
    return _run("llava_hf", f"pretrained={model},device=cpu,device_map=cpu", data_root, tmp / "out")


RUNS = {"qwen2_5_vl": "qwen25_run", "internvl_hf": "internvl_run", "llava_hf": "onevision_run"}


def _answer(sample: dict) -> str:
    resp = sample["filtered_resps"]
    return resp[0] if isinstance(resp, list) else resp


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(RUNS))
def test_each_newer_lmm_answers_every_fakeclue_image_under_its_adapter(model, request, data_root):
    results, samples = request.getfixturevalue(RUNS[model])
    assert results["config"]["model"] == model
    assert sorted(s["doc_id"] for s in samples) == list(range(len(FAKECLUE)))
    assert {s["input"] for s in samples} == {_prompt(model, data_root)}
    assert all(isinstance(_answer(s), str) for s in samples)


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(RUNS))
def test_each_newer_lmm_is_scored_by_the_same_parser(model, request):
    results, samples = request.getfixturevalue(RUNS[model])
    r = results["results"]["fakeclue"]
    unreadable = sum(parse_verdict_detail(_answer(s), mode="robust", question=FAKECLUE_QUESTION).label == UNKNOWN for s in samples)
    assert r["unknown_rate,none"] == pytest.approx(100 * unreadable / len(samples))
    empty = sum(not _answer(s).strip() for s in samples)
    assert r["failed_rate,none"] == pytest.approx(100 * empty / len(samples))
