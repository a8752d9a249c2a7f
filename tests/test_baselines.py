"""Other LMMs through lmms-eval's own adapters, on the same tasks, prompts, parser and metrics.

* Each adapter's prompt comes from the template's ``lmms_eval_specific_kwargs``, checked
  through lmms-eval's own task loading for every task (InternVL2's adapter needs remote
  code, so its prompt is all that can be tested here).
* ``qwen2_vl``: a tiny Qwen2-VL built locally, rigged to give one answer to the prompt
  its adapter renders, runs fakeclue through the lmms-eval CLI; ``llava_hf`` runs the
  tiny random LLaVA the same way.
* ``openai``: lmms-eval's adapter against an OpenAI-compatible server started here on
  127.0.0.1, which answers, fails with HTTP 500 or hangs past the client's timeout,
  per image; transient failures must be retried, persistent ones counted as unreadable.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from chat_server import FakeChatServer
from lmms_runs import (
    first_prompt,
    offline_env,
    results_of,
    run_cli,
    samples_of,
)
from official_formats import prepare_coloured_fakeclue

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue.prepared import FAKECLUE_QUESTION

TEMPLATE = TASKS_DIR / "_fakevlm_template_yaml"
GENERAL_MODELS = ("qwen2_vl", "internvl2", "llava_hf", "openai", "a_model_not_listed")

# One image per behaviour of the fake API server, told apart by colour.
RED, GREEN, BLUE, YELLOW, MAGENTA = (200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 30), (200, 30, 200)
FAKECLUE = [  # (image, label, category, reference, colour)
    ("animal/fake/0.png", 0, "animal", "This is a fake image. Smeared fur.", RED),
    ("animal/real/1.png", 1, "animal", "This is a real image. Natural fur.", GREEN),
    ("doc/fake/2.png", 0, "doc", "This is a fake image. Garbled text.", BLUE),
    ("human/real/3.png", 1, "human", "This is a real image. Consistent pores.", YELLOW),
    ("scene/fake/4.png", 0, "scene", "This is a fake image. Floating chairs.", MAGENTA),
]
N_REAL = sum(r[1] for r in FAKECLUE)


class _YamlLoader(yaml.SafeLoader):
    """Reads ``!function a.b.c`` as the string ``"a.b.c"`` (without touching yaml's global loaders)."""


_YamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def _template_kwargs() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_YamlLoader)["lmms_eval_specific_kwargs"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """FakeClue in its official format, prepared by fakevlm-data; the images are solid colours."""
    return prepare_coloured_fakeclue(tmp_path_factory.mktemp("baselines"), FAKECLUE)


_prompt = first_prompt


# ------------------------------------------------------------------------ prompts


def test_fakevlm_is_asked_exactly_the_question_it_was_trained_on(data_root):
    assert _prompt("fakevlm", "fakeclue", data_root) == FAKECLUE_QUESTION


@pytest.mark.parametrize("model", GENERAL_MODELS)
def test_general_models_are_asked_for_the_verdict_sentence_then_evidence(model, data_root):
    prompt = _prompt(model, "fakeclue", data_root)
    assert prompt.startswith(FAKECLUE_QUESTION + " ")
    assert '"This is a real image."' in prompt and '"This is a fake image."' in prompt
    assert "explain" in prompt


def test_listed_open_models_get_the_default_prompt(data_root):
    default = _prompt("a_model_not_listed", "fakeclue", data_root)
    assert {m: _prompt(m, "fakeclue", data_root) for m in ("qwen2_vl", "internvl2", "llava_hf")} == dict.fromkeys(("qwen2_vl", "internvl2", "llava_hf"), default)


def test_api_models_are_told_to_commit_to_a_verdict(data_root):
    assert "best guess" in _prompt("openai", "fakeclue", data_root)
    assert "best guess" not in _prompt("qwen2_vl", "fakeclue", data_root)


def test_template_lists_a_prompt_for_every_adapter_the_readme_names():
    assert {"default", "fakevlm", "qwen2_vl", "internvl2", "llava_hf", "openai"} <= set(_template_kwargs())


def test_no_prompt_carries_an_image_placeholder():
    # InternVL2's adapter prepends "<image>\n" itself (a second one would not match its
    # pixel tiles), qwen2_vl strips it, and openai would send it as literal text.
    from fakevlm_tasks.glue import benchmarks, prompts

    families = {entry["family"] for entry in _template_kwargs().values()}
    assert families <= set(prompts.DETECTION_PROMPTS)
    doc = {"question": "Does the image looks real/fake?"}
    for name in benchmarks.discover():
        module = benchmarks.module(name)
        hooks = [getattr(module, h) for h in dir(module) if h.endswith("doc_to_text")]
        for hook in hooks:
            for family in families:
                assert "<image>" not in hook(doc, {"family": family}), (name, family)


def test_internvl2_adapter_needs_remote_code_so_it_cannot_run_offline():
    source = Path(__import__("lmms_eval").__file__).parent / "models" / "simple" / "internvl2.py"
    assert "trust_remote_code=True" in source.read_text()


# ------------------------------------------------------- qwen2_vl, for real


def _answer(sample: dict) -> str:
    """The answer in a samples-file line: ``filtered_resps`` is a list, or the text itself."""
    resp = sample["filtered_resps"]
    return resp[0] if isinstance(resp, list) else resp


@pytest.fixture(scope="module")
def qwen_run(tmp_path_factory, data_root):
    """A tiny Qwen2-VL rigged to answer "real", evaluated on fakeclue by lmms-eval's ``qwen2_vl``."""
    from fakevlm_toys.tiny_qwen2vl import build_tiny_qwen2vl, rig_answer

    tmp = tmp_path_factory.mktemp("qwen")
    model = build_tiny_qwen2vl(tmp / "model")
    question = _prompt("qwen2_vl", "fakeclue", data_root)
    rig_answer(model, "This is a real image. The lighting is natural.", question=question)
    out = tmp / "out"
    proc = run_cli(["--model", "qwen2_vl", "--model_args", f"pretrained={model},device=cpu,device_map=cpu",
                    "--tasks", "fakeclue", "--batch_size", "2", "--output_path", str(out), "--log_samples"], offline_env(data_root))
    return results_of(out, proc), samples_of(out, "fakeclue"), question


@pytest.mark.slow
def test_qwen2_vl_adapter_answers_every_fakeclue_image(qwen_run):
    results, samples, _ = qwen_run
    assert results["config"]["model"] == "qwen2_vl"
    assert [_answer(s) for s in samples] == ["This is a real image. The lighting is natural."] * len(FAKECLUE)


@pytest.mark.slow
def test_qwen2_vl_adapter_got_the_qwen2_vl_prompt(qwen_run):
    _, samples, question = qwen_run
    assert {s["input"] for s in samples} == {question}


@pytest.mark.slow
def test_qwen2_vl_run_is_scored_like_any_other_model(qwen_run):
    r = qwen_run[0]["results"]["fakeclue"]
    assert r["acc,none"] == pytest.approx(100 * N_REAL / len(FAKECLUE))
    assert r["f1,none"] == pytest.approx(100 * 2 * N_REAL / (2 * N_REAL + len(FAKECLUE) - N_REAL))
    assert r["unknown_rate,none"] == 0.0
    assert r["acc_human,none"] == pytest.approx(100.0)


# ------------------------------------------------------- llava_hf, for real


@pytest.fixture(scope="module")
def llava_hf_run(tmp_path_factory, data_root, tiny_llava):
    """The tiny random LLaVA through lmms-eval's ``llava_hf`` (its chat adapter) on fakeclue."""
    out = tmp_path_factory.mktemp("llava_hf") / "out"
    proc = run_cli(["--model", "llava_hf", "--model_args", f"pretrained={tiny_llava},device=cpu,device_map=cpu",
                    "--tasks", "fakeclue", "--batch_size", "1", "--output_path", str(out), "--log_samples",
                    "--gen_kwargs", "max_new_tokens=12"], offline_env(data_root))
    return results_of(out, proc), samples_of(out, "fakeclue")


@pytest.mark.slow
def test_llava_hf_adapter_gets_the_default_prompt_and_answers_every_image(llava_hf_run, data_root):
    _, samples = llava_hf_run
    assert len(samples) == len(FAKECLUE)
    assert {s["input"] for s in samples} == {_prompt("llava_hf", "fakeclue", data_root)}
    assert all(isinstance(_answer(s), str) for s in samples)


@pytest.mark.slow
def test_llava_hf_answers_are_scored_by_the_same_parser(llava_hf_run):
    from fakevlm_tasks.scoring.parsing import UNKNOWN, parse_verdict_detail

    results, samples = llava_hf_run
    unreadable = sum(parse_verdict_detail(_answer(s), mode="robust", question=FAKECLUE_QUESTION).label == UNKNOWN for s in samples)
    assert results["results"]["fakeclue"]["unknown_rate,none"] == pytest.approx(100 * unreadable / len(samples))


# -------------------------------------------- openai, against a local server


FAKE_ANSWER, REAL_ANSWER = "This is a fake image. The edges are smeared.", "This is a real image. The noise is natural."
PLAN = {
    RED: [FAKE_ANSWER],              # answers at once
    GREEN: ["500", REAL_ANSWER],     # a server error, then an answer: must be retried
    BLUE: ["hang", FAKE_ANSWER],     # a timeout, then an answer: must be retried
    YELLOW: ["500"],                 # fails every time: must be counted, not crash the run
    MAGENTA: ["hang"],               # times out every time: likewise
}
MAX_RETRIES = 3
CLIENT_TIMEOUT_S = 2.0

# lmms-eval's own ``openai`` adapter, resolved by name as ``--model openai`` does. Its
# ``timeout`` arg is never passed to the OpenAI client (lmms-eval 0.7.3), so the client
# would wait 600 s and retry twice on its own; the script sets the client's timeout
# and leaves retrying to the adapter, whose attempts the server then counts exactly.
OPENAI_RUN = """
import json, sys
from lmms_eval.evaluator import simple_evaluate
from lmms_eval.models import get_model
from lmms_eval.tasks import TaskManager
base_url, tasks_dir, out, retries, timeout = sys.argv[1:6]
adapter = get_model("openai").create_from_arg_string(
    f"model_version=gpt-4o-2024-08-06,base_url={base_url},api_key=sk-local-test,max_retries={retries},retry_backoff_s=0", {})
adapter.client = adapter.client.with_options(timeout=float(timeout), max_retries=0)
res = simple_evaluate(model=adapter, tasks=["fakeclue"], bootstrap_iters=0, log_samples=True,
                      task_manager=TaskManager("WARNING", include_path=tasks_dir, model_name="openai"))
answers = {s["doc"]["id"]: s["filtered_resps"] for s in res["samples"]["fakeclue"]}
answers = {k: v[0] if isinstance(v, list) else v for k, v in answers.items()}
json.dump({"results": res["results"], "answers": answers}, open(out, "w"))
"""


@pytest.fixture(scope="module")
def openai_run(tmp_path_factory, data_root):
    server = FakeChatServer(PLAN, hang_s=3 * CLIENT_TIMEOUT_S)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out = tmp_path_factory.mktemp("openai") / "run.json"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", OPENAI_RUN, server.base_url, str(TASKS_DIR), str(out), str(MAX_RETRIES), str(CLIENT_TIMEOUT_S)],
            env=offline_env(data_root), capture_output=True, text=True, timeout=300,
        )
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
    assert out.is_file(), proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(out.read_text()), server


@pytest.mark.slow
def test_openai_adapter_sends_the_image_and_the_openai_prompt(openai_run, data_root):
    _, server = openai_run
    assert set(server.texts) == {_prompt("openai", "fakeclue", data_root)}


@pytest.mark.slow
def test_transient_errors_and_timeouts_are_retried_until_answered(openai_run):
    run, server = openai_run
    assert server.calls[RED] == 1
    assert server.calls[GREEN] == 2 and run["answers"][FAKECLUE[1][0]] == REAL_ANSWER
    assert server.calls[BLUE] == 2 and run["answers"][FAKECLUE[2][0]] == FAKE_ANSWER


@pytest.mark.slow
def test_persistent_failures_are_retried_then_answered_with_lmms_evals_failure_marker(openai_run):
    run, server = openai_run
    assert server.calls[YELLOW] == MAX_RETRIES and server.calls[MAGENTA] == MAX_RETRIES
    for image, *_ in FAKECLUE[3:]:
        assert run["answers"][image].startswith(f"[LMMS_EVAL_REQUEST_FAILED after {MAX_RETRIES} retries]")


@pytest.mark.slow
def test_failed_requests_count_as_unreadable_and_wrong(openai_run):
    r = openai_run[0]["results"]["fakeclue"]
    assert r["unknown_rate,none"] == pytest.approx(100 * 2 / 5)
    assert r["failed_rate,none"] == pytest.approx(100 * 2 / 5)  # and they are told apart as failures
    assert r["acc,none"] == pytest.approx(100 * 3 / 5)  # the three answered images are right
    # The official rule cannot read the marker either; it falls back to its coin flip.
    assert r["official_fallback_rate,none"] == pytest.approx(100 * 2 / 5)


def test_openai_adapter_does_not_give_its_timeout_arg_to_the_client():
    """Why the run above sets the client's timeout itself (lmms-eval 0.7.3); flips when fixed upstream."""
    from lmms_eval.models import get_model

    adapter = get_model("openai").create_from_arg_string("model_version=m,base_url=http://127.0.0.1:9/v1,api_key=k,timeout=1", {})
    assert adapter.timeout == 1
    assert adapter.client.timeout != 1
    assert adapter.client.max_retries == 2  # the client's own retries, under each of the adapter's attempts
