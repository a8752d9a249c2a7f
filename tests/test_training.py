"""The training recipe (training/, installed as fakevlm_training) on the tiny LLaVA and FakeClue-format data."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fakevlm_training import data as fdata
from fakevlm_training.config import ConfigError, load_config
from fakevlm_training.recipe import FakeVLMTrainingRecipe
from PIL import Image
from safetensors import safe_open

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"
PAPER_CONFIG = CONFIGS / "fakevlm_7b.yaml"
QUESTION = "<image>Does the image looks real/fake?"
REAL_ANSWER = "This is a real image. The texture, lighting and geometry look natural."
FAKE_ANSWER = "This is a fake image. The image shows artifacts: blurry edges and unnatural shadows."


def fakeclue_record(image: str, label: int, answer: str | None = None, **extra) -> dict:
    answer = answer or (REAL_ANSWER if label == 1 else FAKE_ANSWER)
    return {
        "image": image, "label": label, "cate": "object", "width": 40, "height": 40,
        "conversations": [{"from": "human", "value": QUESTION}, {"from": "gpt", "value": answer}],
        **extra,
    }


def write_fakeclue(root: Path, n: int = 16, extra: list[dict] = ()) -> Path:
    """n FakeClue records (alternating real/fake, bright/dark images) + extra records -> root/train.json."""
    folder = root / "object"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        label = i % 2
        Image.new("RGB", (40, 40), (220, 210, 200) if label else (20, 30, 40)).save(folder / f"{i}.png")
        records.append(fakeclue_record(f"object/{i}.png", label))
    records += list(extra)
    path = root / "train.json"
    path.write_text(json.dumps(records))
    return path


def cpu_overrides(model: Path, train_json: Path, out: Path, *more: str) -> list[str]:
    """The shipped paper config, shrunk to the tiny model on CPU."""
    return [
        f"model.name_or_path={model}", "model.attn_implementation=null",
        f"data.train_json={train_json}", f"data.image_roots=[{train_json.parent}]",
        f"training.output_dir={out}", "training.deepspeed=null", "training.bf16=false", "training.tf32=null",
        "training.use_cpu=true", "training.per_device_train_batch_size=4", "training.learning_rate=2e-3",
        "training.dataloader_num_workers=0", "training.report_to=none", "training.save_strategy=epoch",
        *more,
    ]


def run_in_process(model: Path, train_json: Path, out: Path, *more: str, config: Path = PAPER_CONFIG) -> dict:
    cfg = load_config(config, cpu_overrides(model, train_json, out, *more))
    return FakeVLMTrainingRecipe(cfg).run()


def cli_command(model: Path, train_json: Path, out: Path, *more: str, nproc: int = 1) -> list[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}"] if nproc > 1 else [sys.executable]
    return [*launcher, "-m", "fakevlm_training.cli", "--config", str(PAPER_CONFIG), *cpu_overrides(model, train_json, out, *more)]


def cli_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def safetensors_layout(folder: Path) -> dict[str, tuple]:
    with safe_open(folder / "model.safetensors", "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # safe_open is not a Mapping


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny model trains ~10x faster on one thread when the machine's two cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def processor(tiny_llava):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_llava)


@pytest.fixture(scope="module")
def paper_data(tmp_path_factory) -> Path:
    return write_fakeclue(tmp_path_factory.mktemp("fakeclue"))


@pytest.fixture(scope="module")
def trained(tiny_llava, paper_data, tmp_path_factory) -> tuple[Path, dict]:
    """The paper config on the tiny model: 16 records, batch 4, 4 epochs = 16 steps on one process."""
    out = tmp_path_factory.mktemp("run") / "out"
    return out, run_in_process(tiny_llava, paper_data, out, "training.num_train_epochs=4", "training.learning_rate=5e-3")


# -- the label mask ------------------------------------------------------------------------------

def paper_config(*more: str):
    """The paper config with placeholder data paths (for what needs no data on disk)."""
    return load_config(PAPER_CONFIG, ["data.train_json=x", "data.image_roots=[x]", *more])


def encoder_for(processor) -> fdata.Encoder:
    return fdata.Encoder(processor, paper_config().data)


def test_label_mask_puts_loss_on_answer_tokens_and_final_eos_only(processor):
    enc = encoder_for(processor).encode_text(fakeclue_record("a.png", 0))
    tok = processor.tokenizer
    ids, labels = enc["input_ids"], enc["labels"]
    # Independently: everything the prompt tokenizes to (up to "ASSISTANT: ") is masked, the rest is not.
    prompt_ids = tok("USER: <image>\nDoes the image looks real/fake? ASSISTANT: ")["input_ids"]
    image_id = tok.convert_tokens_to_ids("<image>")
    n_image = 16
    at = prompt_ids.index(image_id)
    prompt_ids = prompt_ids[:at] + [image_id] * n_image + prompt_ids[at + 1:]
    assert ids[: len(prompt_ids)] == prompt_ids
    for position, (token, label) in enumerate(zip(ids, labels)):
        piece = tok.convert_ids_to_tokens(token)
        if position < len(prompt_ids):
            assert label == fdata.IGNORE_INDEX, f"prompt token {position} {piece!r} carries loss"
        else:
            assert label == token, f"answer token {position} {piece!r} carries no loss"
    assert ids[0] == tok.bos_token_id and labels[0] == fdata.IGNORE_INDEX
    assert ids[-1] == tok.eos_token_id and labels[-1] == tok.eos_token_id
    assert ids.count(image_id) == n_image
    assert tok.decode([t for t, lab in zip(ids, labels) if lab != fdata.IGNORE_INDEX]) == FAKE_ANSWER + " </s>"


def test_label_mask_covers_every_answer_of_a_multi_turn_record_and_never_the_system_prompt(processor):
    record = fakeclue_record("a.png", 1, system_prompt="Answer real or fake.")
    record["conversations"] += [{"from": "human", "value": "Why?"}, {"from": "gpt", "value": "The lighting looks natural."}]
    enc = encoder_for(processor).encode_text(record)
    tok = processor.tokenizer
    kept = tok.decode([t if lab != fdata.IGNORE_INDEX else tok.pad_token_id for t, lab in zip(enc["input_ids"], enc["labels"])],
                      skip_special_tokens=False)
    pieces = [p for p in kept.split("<pad>") if p]
    assert pieces == [REAL_ANSWER + " </s>", "The lighting looks natural. </s>"]
    assert tok.decode(enc["input_ids"]).startswith("<s>Answer real or fake. USER: <image>")


def test_images_are_looked_up_in_each_root_in_turn(tmp_path):
    (tmp_path / "second" / "object").mkdir(parents=True)
    (tmp_path / "first").mkdir()
    (tmp_path / "second" / "object" / "x.png").write_bytes(b"")
    roots = [str(tmp_path / "first"), str(tmp_path / "second")]
    assert fdata.find_image({"image": "object/x.png"}, roots) == tmp_path / "second" / "object" / "x.png"
    with pytest.raises(fdata.BadRecord, match="image missing: object/y.png"):
        fdata.find_image({"image": "object/y.png"}, roots)


def test_encoding_matches_what_the_processor_itself_produces(processor):
    record = fakeclue_record("a.png", 0)
    rendered = fdata.render(record, paper_config().data.template, image_token="<image>", eos="</s>")
    assert rendered.text == "USER: <image>\nDoes the image looks real/fake? ASSISTANT: " + FAKE_ANSWER + " </s>"
    image = Image.new("RGB", (40, 40), (10, 20, 30))
    expected = processor(images=[image], text=[rendered.text], return_tensors="pt")
    encoder = encoder_for(processor)
    assert encoder.encode_text(record)["input_ids"] == expected["input_ids"][0].tolist()
    assert torch.equal(encoder.pixels(image), expected["pixel_values"][0])


def test_verdict_mode_trains_on_the_first_sentence_only(processor):
    enc = fdata.Encoder(processor, paper_config().data, answer_mode="verdict").encode_text(fakeclue_record("a.png", 0))
    tok = processor.tokenizer
    assert tok.decode([t for t, lab in zip(enc["input_ids"], enc["labels"]) if lab != fdata.IGNORE_INDEX]) == "This is a fake image. </s>"


# -- bad records -----------------------------------------------------------------------------------

def test_missing_corrupt_and_overlong_records_are_counted_logged_by_id_and_skipped(tiny_llava, tmp_path, caplog):
    (tmp_path / "object").mkdir()
    (tmp_path / "object" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    bad = [
        fakeclue_record("object/absent.png", 0),
        fakeclue_record("object/broken.png", 1),
        fakeclue_record("object/0.png", 0, answer="This is a fake image. " + "The image shows blurry edges. " * 30),
        {"image": "object/1.png", "label": 1},
    ]
    train_json = write_fakeclue(tmp_path, n=4, extra=bad)
    cfg = load_config(PAPER_CONFIG, cpu_overrides(tiny_llava, train_json, tmp_path / "out", "data.max_length=120",
                                                  "data.check_images=open"))
    recipe = FakeVLMTrainingRecipe(cfg)
    with caplog.at_level("INFO", logger="fakevlm_training"):
        recipe.setup()
    assert len(recipe.dataset) == 4
    skipped = [json.loads(line) for line in (tmp_path / "out" / "skipped_records.jsonl").read_text().splitlines()]
    by_id = {s["record"]: s["reason"] for s in skipped}
    assert by_id["train.json#4 (object/absent.png)"].startswith("image missing")
    assert by_id["train.json#5 (object/broken.png)"].startswith("image corrupt")
    assert by_id["train.json#6 (object/0.png)"].startswith("too long")
    assert by_id["train.json#7 (object/1.png)"].startswith("malformed")
    assert "4 of 8 records kept, 4 skipped" in caplog.text
    for record in by_id:
        assert f"skipped {record}" in caplog.text


def test_bad_records_stop_the_run_before_training_under_the_error_policy(tiny_llava, tmp_path):
    train_json = write_fakeclue(tmp_path, n=2, extra=[fakeclue_record("object/absent.png", 0)])
    cfg = load_config(PAPER_CONFIG, cpu_overrides(tiny_llava, train_json, tmp_path / "out", "data.on_bad_record=error"))
    with pytest.raises(ConfigError, match=r"1 bad record.*train.json#2 \(object/absent.png\): image missing"):
        FakeVLMTrainingRecipe(cfg).setup()


def test_an_image_that_breaks_during_training_is_logged_and_replaced_not_fatal(processor, tmp_path, caplog):
    train_json = write_fakeclue(tmp_path, n=3)
    cfg = load_config(PAPER_CONFIG, ["data.train_json=x", f"data.image_roots=[{tmp_path}]"])
    encoder = fdata.Encoder(processor, cfg.data)
    kept, _ = fdata.check_records(fdata.read_records([str(train_json)]), encoder, cfg.data)
    dataset = fdata.FakeClueDataset(kept, encoder)
    (tmp_path / "object" / "1.png").write_bytes(b"truncated")
    with caplog.at_level("WARNING", logger="fakevlm_training"):
        item = dataset[1]
    assert item["labels"] == encoder.encode_text(kept[2].record)["labels"]
    assert [s.record_id for s in dataset.runtime_skips] == ["train.json#1 (object/1.png)"]
    assert "train.json#1 (object/1.png)" in caplog.text


# -- training, checkpoints, processes, resume ----------------------------------------------------------

@pytest.mark.slow
def test_loss_falls_on_a_tiny_fakeclue_set(trained):
    _, summary = trained
    losses = [h["loss"] for h in summary["losses"]]
    assert summary["global_step"] == 16 and len(losses) == 16
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.6 * first, losses


def test_final_checkpoint_is_a_plain_llava_folder_that_transformers_loads(trained):
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    out, _ = trained
    assert json.loads((out / "config.json").read_text())["architectures"] == ["LlavaForConditionalGeneration"]
    assert {"model.safetensors", "generation_config.json", "processor_config.json", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    model = LlavaForConditionalGeneration.from_pretrained(out)
    proc = AutoProcessor.from_pretrained(out)
    inputs = proc(images=[Image.new("RGB", (40, 40))], text=["USER: <image>\nDoes the image looks real/fake? ASSISTANT:"],
                  return_tensors="pt")
    generated = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert generated.shape[1] > inputs["input_ids"].shape[1]
    # One checkpoint per epoch, each loadable the same way.
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-16", "checkpoint-4", "checkpoint-8"]


@pytest.mark.slow
def test_the_trained_checkpoint_is_evaluated_on_fakeclue_by_the_fakevlm_adapter_through_lmms_eval(trained, paper_data, tmp_path):
    """Training's output folder goes straight into `lmms-eval --model fakevlm --tasks fakeclue`."""
    from fakevlm_tasks.scoring.parsing import parse_verdict
    from lmms_runs import prepare, results_of, run_fakevlm, samples_of

    out, _ = trained
    data_root = tmp_path / "prepared"
    prepare(data_root, "fakeclue", "--annotations", str(paper_data), "--images", str(paper_data.parent))
    # The recipe trained on the training template, so the adapter is asked to render it.
    proc = run_fakevlm(out, "fakeclue", tmp_path / "eval", data_root, model_args="prompt_format=train,max_new_tokens=24")
    results = results_of(tmp_path / "eval", proc)["results"]["fakeclue"]
    samples = samples_of(tmp_path / "eval", "fakeclue")
    assert len(samples) == 16
    verdicts = [parse_verdict(s["filtered_resps"]) for s in samples]
    recomputed = 100 * sum(v == s["target"] for v, s in zip(verdicts, samples)) / len(samples)
    assert results["acc,none"] == pytest.approx(recomputed)
    # The checkpoint generated text for every image (16 steps teach it little more than that).
    assert all(s["filtered_resps"].strip() for s in samples)
    assert results["unknown_rate,none"] == pytest.approx(100 * sum(v == "unknown" for v in verdicts) / len(samples))


@pytest.mark.slow  # trains through torchrun / the CLI: 10-25 s
def test_two_torchrun_processes_with_gloo_share_the_data_and_write_the_same_checkpoint_format(
    tiny_llava, paper_data, trained, tmp_path
):
    out = tmp_path / "out"
    cmd = cli_command(tiny_llava, paper_data, out, "training.ddp_backend=gloo", "training.num_train_epochs=2", nproc=2)
    proc = subprocess.run(cmd, check=False, env=cli_env(), capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["world_size"] == 2
    assert [r["rank"] for r in summary["ranks"]] == [0, 1]
    # 16 records x 2 epochs over 2 ranks: 16 samples each, 4 per micro-batch, so 2 steps per epoch.
    assert [r["samples"] for r in summary["ranks"]] == [16, 16]
    assert summary["global_step"] == 4
    assert "rank 1/2 trained on 16 samples" in proc.stderr
    single, _ = trained
    assert safetensors_layout(out) == safetensors_layout(single)
    files = lambda folder: {p.name for p in folder.iterdir() if p.is_file()} - {"run_summary.json"}
    assert files(out) == files(single)
    # Checkpoints differ only in keeping one RNG state per rank (so each rank resumes its own stream).
    assert files(out / "checkpoint-4") - {"rng_state_0.pth", "rng_state_1.pth"} == files(single / "checkpoint-4") - {"rng_state.pth"}


@pytest.mark.slow  # trains through torchrun / the CLI: 10-25 s
def test_a_killed_run_resumes_with_the_same_steps_learning_rates_and_losses(tiny_llava, paper_data, tmp_path):
    # Long enough that the kill, sent as soon as checkpoint-3 is complete, lands well before the end.
    schedule = ["training.max_steps=24", "training.save_strategy=steps", "training.save_steps=3", "training.seed=7"]
    out = tmp_path / "killed"
    child = subprocess.Popen(cli_command(tiny_llava, paper_data, out, *schedule), env=cli_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint-3" / "trainer_state.json").exists():
            assert child.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (out / "run_summary.json").exists(), "the run finished before it was killed"

    resumed = subprocess.run(cli_command(tiny_llava, paper_data, out, *schedule), check=False, env=cli_env(),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((out / "run_summary.json").read_text())
    start = int(summary["resumed_from"].rsplit("-", 1)[1])
    assert start >= 3 and start % 3 == 0
    assert summary["global_step"] == 24
    assert summary["ranks"][0]["micro_batches"] == 24 - start, "the resumed run redid or skipped steps"

    reference = run_in_process(tiny_llava, paper_data, tmp_path / "reference", *schedule)
    got = {h["step"]: h for h in summary["losses"]}
    for h in reference["losses"]:
        assert got[h["step"]]["learning_rate"] == pytest.approx(h["learning_rate"], rel=1e-9), h["step"]
        assert got[h["step"]]["loss"] == pytest.approx(h["loss"], rel=1e-4), h["step"]


# -- variants -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "config, more",
    [
        ("fakevlm_7b_class_head.yaml", []),
        ("fakevlm_7b_linear_probe.yaml", ["method.feature=image_mean"]),
    ],
)
@pytest.mark.slow
def test_head_variants_write_a_llava_folder_with_the_documented_head(tiny_llava, paper_data, tmp_path, config, more):
    from fakevlm_training.modeling import LlavaWithVerdictHead
    from transformers import LlavaForConditionalGeneration

    out = tmp_path / "out"
    summary = run_in_process(tiny_llava, paper_data, out, "training.max_steps=4", "training.activation_checkpointing=false",
                             *more, config=CONFIGS / config)
    assert summary["global_step"] == 4
    head_cfg = json.loads((out / "config.json").read_text())["fakevlm_head"]
    assert head_cfg["classes"] == ["fake", "real"]
    assert head_cfg["prompt"] == "USER: <image>\n{question} ASSISTANT:"
    layout = safetensors_layout(out)
    assert layout["verdict_head.weight"] == (2, 64) and layout["verdict_head.bias"] == (2,)
    # Otherwise the same keys as a plain LLaVA checkpoint.
    assert set(layout) - set(safetensors_layout(tiny_llava)) == {"verdict_head.weight", "verdict_head.bias"}
    LlavaForConditionalGeneration.from_pretrained(out)  # the backbone alone loads (head keys ignored)
    model = LlavaWithVerdictHead.from_pretrained(out)
    batch = fdata.Collator(0)([model_input(tiny_llava, label) for label in (0, 1)])
    p_real = model.p_real(batch["input_ids"], batch["attention_mask"], batch["pixel_values"])
    assert p_real.shape == (2,) and bool(((p_real >= 0) & (p_real <= 1)).all())
    if "linear_probe" in config:
        base = LlavaForConditionalGeneration.from_pretrained(tiny_llava).state_dict()
        trained_sd = model.state_dict()
        assert all(torch.equal(base[k], trained_sd[k]) for k in base), "the probe changed the frozen backbone"


@pytest.mark.slow
@pytest.mark.parametrize("config, feature", [("fakevlm_7b_class_head.yaml", "llm_last_token"), ("fakevlm_7b_linear_probe.yaml", "image_mean")])
def test_the_fakevlm_adapter_evaluates_a_head_checkpoint_through_its_head(tiny_llava, paper_data, tmp_path, config, feature):
    """Head mode: the head's prompt, a verdict sentence from P(real), P(real) as score, log P(class) as loglikelihood."""
    from lmms_eval.api.instance import Instance

    from fakevlm_model.fakevlm import FakeVLM
    from fakevlm_tasks.glue import sample
    from fakevlm_training.modeling import LlavaWithVerdictHead
    from transformers import AutoProcessor

    out = tmp_path / "head"
    run_in_process(tiny_llava, paper_data, out, "training.max_steps=4", "training.activation_checkpointing=false",
                   f"method.feature={feature}", config=CONFIGS / config)
    images = [Image.new("RGB", (40, 40), c) for c in ((220, 210, 200), (20, 30, 40), (120, 10, 200))]
    docs = [{"id": f"d{i}"} for i in range(len(images))]
    adapter = FakeVLM(pretrained=str(out), device="cpu", batch_size=2)
    adapter.task_dict = {"t": {"test": docs}}

    def request(kind, i, payload):
        return Instance(kind, ("Does the image looks real/fake?", payload, lambda doc, i=i: [images[i]], i, "t", "test"),
                        idx=0, metadata={"task": "t", "doc_id": i, "repeats": 1})

    answers = [r.text for r in adapter.generate_until([request("generate_until", i, {"until": []}) for i in range(3)])]

    model = LlavaWithVerdictHead.from_pretrained(out).eval()
    proc = AutoProcessor.from_pretrained(out)
    batch = proc(images=images, text=["USER: <image>\nDoes the image looks real/fake? ASSISTANT:"] * 3, return_tensors="pt", padding=True)
    expected = model.p_real(batch["input_ids"], batch["attention_mask"], batch["pixel_values"]).tolist()
    assert answers == [f"This is a {'real' if p >= 0.5 else 'fake'} image." for p in expected]
    for answer, p in zip(answers, expected):
        assert sample.verdict_score_of([answer]).real_score == pytest.approx(p, abs=1e-5)
    lls = adapter.loglikelihood([request("loglikelihood", 0, " This is a real"), request("loglikelihood", 0, " This is a fake")])
    assert lls[0][0] == pytest.approx(math.log(expected[0]), abs=1e-4)
    assert lls[1][0] == pytest.approx(math.log(1 - expected[0]), abs=1e-4)


def model_input(model_dir: Path, label: int) -> dict:
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(model_dir)
    encoder = fdata.Encoder(proc, paper_config().data, kind="class_head")
    item = encoder.encode_text(fakeclue_record("a.png", label))
    item["pixel_values"] = encoder.pixels(Image.new("RGB", (40, 40)))
    return item


@pytest.mark.slow
def test_lora_variant_writes_a_merged_plain_llava_folder(tiny_llava, paper_data, tmp_path):
    from transformers import LlavaForConditionalGeneration

    out = tmp_path / "out"
    run_in_process(tiny_llava, paper_data, out, "training.max_steps=3", "model.dtype=float32", "method.lora.r=4",
                   "method.lora.alpha=8", "training.per_device_train_batch_size=4", "training.gradient_accumulation_steps=1",
                   config=CONFIGS / "fakevlm_7b_lora.yaml")
    assert (out / "lora_adapter" / "adapter_config.json").is_file()
    assert safetensors_layout(out) == safetensors_layout(tiny_llava)
    merged = LlavaForConditionalGeneration.from_pretrained(out).state_dict()
    base = LlavaForConditionalGeneration.from_pretrained(tiny_llava).state_dict()
    q = "model.language_model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged[q], base[q]), "the adapter was not merged"
    vision = [k for k in base if "vision_tower" in k]
    assert all(torch.equal(merged[k], base[k]) for k in vision), "LoRA must leave the vision tower frozen"


# -- configs ------------------------------------------------------------------------------------------

def test_the_paper_config_carries_the_papers_settings():
    cfg = paper_config()
    t = cfg.training
    assert cfg.model.name_or_path == "llava-hf/llava-1.5-7b-hf"
    assert (cfg.model.train_vision_tower, cfg.model.train_projector, cfg.model.train_language_model) == (True, True, True)
    assert (t["num_train_epochs"], t["per_device_train_batch_size"], t["gradient_accumulation_steps"]) == (2, 32, 1)
    assert (t["learning_rate"], t["weight_decay"], t["warmup_steps"], t["lr_scheduler_type"]) == (2e-5, 0.0, 0.03, "cosine")
    assert t["bf16"] and t["tf32"] and t["activation_checkpointing"] and t["save_strategy"] == "epoch"
    assert cfg.data.max_length == 1024 and Path(t["deepspeed"]) == CONFIGS / "zero2.json"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_loads_and_builds_its_training_arguments(name, tmp_path):
    from transformers import TrainingArguments

    from fakevlm_training.detectors import is_detector_config, load_detector_config

    load = load_detector_config if is_detector_config(CONFIGS / name) else load_config  # as fakevlm-train chooses
    cfg = load(CONFIGS / name, ["data.train_json=x", "data.image_roots=[x]"])
    values = {**cfg.training, "output_dir": str(tmp_path), "use_cpu": True, "tf32": None, "deepspeed": None}
    TrainingArguments(**values)


@pytest.mark.parametrize("name, stage", [("zero2.json", 2), ("zero3.json", 3)])
def test_shipped_deepspeed_configs_pass_transformers_and_deepspeed_validation(name, stage, tiny_llava, tmp_path):
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import LlavaForConditionalGeneration, TrainingArguments
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    # Loaded first: with a ZeRO-3 config alive, from_pretrained would start partitioning.
    model = LlavaForConditionalGeneration.from_pretrained(tiny_llava)
    try:
        args = TrainingArguments(output_dir=str(tmp_path), deepspeed=str(CONFIGS / name), bf16=True, use_cpu=True,
                                 per_device_train_batch_size=32, learning_rate=2e-5, warmup_steps=0.03)
        hf_ds = args.hf_deepspeed_config
        # Fills every "auto" (bucket sizes from the LLaVA text config) and checks it against the arguments.
        hf_ds.trainer_config_finalize(args, model, 816)
        ds = DeepSpeedConfig(hf_ds.config)
    finally:
        unset_hf_deepspeed_config()
    assert ds.zero_optimization_stage == stage
    assert ds.train_batch_size == 32 and ds.bfloat16_config.enabled
    assert ds.zero_config.gather_16bit_weights_on_model_save == (stage == 3)


def test_deepspeed_validation_rejects_an_unknown_zero_key():
    from deepspeed.runtime.config import DeepSpeedConfig

    with pytest.raises(Exception, match="bogus"):
        DeepSpeedConfig({"train_batch_size": 32, "zero_optimization": {"stage": 2, "bogus": 1}})


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["method.kind=linear_probe"], "linear_probe freezes the backbone"),
        (["method.kind=class_head", "method.answer=verdict"], "method.answer applies to generative"),
        (["model.train_vision_tower=false", "model.train_projector=false", "model.train_language_model=false"], "nothing to train"),
        (["method.lora={r: 8}"], "set model.train_vision_tower=false"),
        (["training.deepspeed=null", "model.dtype=bfloat16"], "no fp32 master copy"),
        (["data.train_jsn=x"], "unknown key"),
        (["training.resume_from_checkpoint=x"], "top-level 'resume'"),
    ],
)
def test_invalid_combinations_are_refused_at_start_up_saying_what_to_change(overrides, message):
    with pytest.raises(ConfigError, match=message):
        paper_config(*overrides)


def test_cli_reports_an_invalid_config_without_a_traceback(capsys):
    from fakevlm_training.cli import main

    assert main(["--config", str(PAPER_CONFIG), "method.kind=nonsense"]) == 2
    assert "method.kind='nonsense' is not one of" in capsys.readouterr().err


def test_readme_figures_are_the_budget_modules_output():
    from fakevlm_training.budget import report

    readme = (CONFIGS.parent / "README.md").read_text()
    for line in report().splitlines():
        assert line in readme, f"training/README.md is out of date with budget.py: {line!r}"


def test_cli_prints_a_shipped_config_without_data_paths(capsys):
    from fakevlm_training.cli import main

    assert main(["--config", str(CONFIGS / "fakevlm_7b_lora.yaml"), "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "r: 128" in printed and "per_device_train_batch_size: 8" in printed
